//! Builds a model from scratch with the typed builders: two subgraphs, each
//! with its own signature (`classify` and `embed`), a custom metadata entry
//! and TFLite Support metadata (labels packed in the file), then writes it,
//! reads it back and runs both signatures in the reference evaluator.
//!
//! ```text
//! cargo run --example build_from_scratch -- [OUT.tflite]
//! ```

use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::metadata::{AssociatedFile, AssociatedFileType, ModelMetadata, SubGraphMetadata, TensorMetadata};
use tflite_forge::{Activation, ConstData, DType, FullyConnectedOptions, ModelBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "from_scratch.tflite".into());
    let mut b = ModelBuilder::new();
    b.description("a 4-feature, 3-class toy classifier built with tflite-forge");

    // Subgraph 0, signature "classify": features [batch, 4] -> probabilities [batch, 3].
    let mut g = b.subgraph("classify");
    let x = g.input("features", DType::F32, [1, 4]);
    let w1 = g.constant_f32("w1", [8, 4], &(0..32).map(|i| ((i * 7 % 11) as f32 - 5.0) / 10.0).collect::<Vec<_>>());
    let b1 = g.constant_f32("b1", [8], &[0.1; 8]);
    let h = g.fully_connected(x, w1, Some(b1), FullyConnectedOptions::default().with_activation(Activation::Relu))?;
    let w2 = g.constant_f32("w2", [3, 8], &(0..24).map(|i| ((i * 5 % 7) as f32 - 3.0) / 5.0).collect::<Vec<_>>());
    let logits = g.fully_connected(h, w2, None, FullyConnectedOptions::default())?;
    let probs = g.softmax(logits, 1.0)?;
    g.output("probabilities", probs);
    let classify = b.finish_subgraph(g)?;

    // Subgraph 1, signature "embed": the same features -> an L2-normalised embedding.
    let mut e = b.subgraph("embed");
    let x = e.input("features", DType::F32, [1, 4]);
    let w = e.constant_f32("proj", [2, 4], &[1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
    let y = e.fully_connected(x, w, None, FullyConnectedOptions::default())?;
    let n = e.l2_normalization(y, Default::default())?;
    e.output("embedding", n);
    let embed = b.finish_subgraph(e)?;

    b.signature("classify", classify).signature("embed", embed);
    b.metadata("example:author", ConstData::from_slice(b"tflite-forge examples".as_slice()));
    let mut model = b.finish()?;

    // TFLite Support metadata: names for the inputs and outputs and the
    // class labels, packed into the file as labels.txt and linked from the
    // output, where the Task Library and the mobile helpers look for them.
    let mut md = ModelMetadata::named("toy classifier");
    md.author = Some("tflite-forge examples".into());
    let mut classify_md = SubGraphMetadata::default();
    classify_md.input_tensor_metadata.push(TensorMetadata::named("features"));
    let mut out_md = TensorMetadata::named("probabilities");
    out_md.associated_files.push(AssociatedFile::new("labels.txt", AssociatedFileType::TensorAxisLabels));
    classify_md.output_tensor_metadata.push(out_md);
    md.subgraph_metadata.push(classify_md);
    model.set_support_metadata(&md)?;
    model.attach_file("labels.txt", b"red\ngreen\nblue\n".to_vec());

    let bytes = tflite_forge::write(&model)?;
    std::fs::write(&out, &bytes)?;
    let back = tflite_forge::read(&bytes)?;
    assert_eq!(back, model, "a written model reads back equal");

    let features = Value::from_f32(vec![1, 4], vec![0.5, -1.0, 2.0, 0.25]);
    let eval = Evaluator::new(&back);
    for s in &back.signatures {
        let outputs = eval.run(s.subgraph as usize, std::slice::from_ref(&features))?;
        println!("signature {:?}: {:?} = {:?}", s.key, s.outputs[0].0, outputs[0].to_f32());
    }
    let md = back.support_metadata()?.ok_or("no support metadata")?;
    println!("metadata: name {:?}, files {:?}", md.name, md.referenced_files().iter().map(|f| &f.name).collect::<Vec<_>>());
    println!("wrote {out} ({} bytes)", bytes.len());
    Ok(())
}
