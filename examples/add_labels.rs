//! Adds labels and image-classifier metadata (TFLite Support) to an
//! existing `.tflite`, made by any tool, and checks that nothing else in
//! the model changed.
//!
//! ```text
//! cargo run --example add_labels -- MODEL.tflite LABELS.txt OUT.tflite [--mean 127.5 --std 127.5]
//! ```
//!
//! Without arguments it first writes a small image classifier of its own
//! (NHWC float input, 3 scores) and labels it `red`, `green`, `blue`, with
//! mean and std 127.5.

use tflite_forge::metadata::ImageClassifierInfo;
use tflite_forge::{Activation, Conv2dOptions, DType, FullyConnectedOptions, Model, ModelBuilder, Padding};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (bytes, labels, out) = match args.as_slice() {
        [model, labels, out, ..] => (std::fs::read(model)?, std::fs::read_to_string(labels)?, out.clone()),
        _ => (tflite_forge::write(&toy_classifier()?)?, "red\ngreen\nblue\n".to_string(), "labelled.tflite".to_string()),
    };
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(|v| v.parse::<f32>());
    let original = tflite_forge::read(&bytes)?;

    let mut info = ImageClassifierInfo::new(
        original.description.clone(),
        labels.lines().map(str::trim).filter(|l| !l.is_empty()),
    );
    match (flag("--mean"), flag("--std")) {
        (Some(mean), Some(std)) => (info.mean, info.std) = (vec![mean?], vec![std?]),
        // The built-in toy model takes float pixels scaled to [-1, 1].
        _ if args.is_empty() => (info.mean, info.std) = (vec![127.5], vec![127.5]),
        _ => {}
    }
    let mut labelled = original.clone();
    info.apply(&mut labelled)?;
    let written = tflite_forge::write(&labelled)?;
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, &written)?;
    std::fs::rename(&tmp, &out)?;

    // Read back: the labels are there, and apart from the metadata the
    // model is the one we started from.
    let back = tflite_forge::read(&written)?;
    let packed = back.associated_file("labels.txt").ok_or("labels.txt is not packed")?;
    let md = back.support_metadata()?.ok_or("no TFLite Support metadata")?;
    let mut stripped = back.clone();
    stripped.metadata.retain(|m| m.name != "TFLITE_METADATA");
    stripped.associated_files.clear();
    assert_eq!(stripped.subgraphs, original.subgraphs, "the graph is unchanged");
    println!(
        "{out}: {} labels packed ({} bytes), metadata for {:?}, graph unchanged",
        String::from_utf8_lossy(packed).lines().count(),
        written.len(),
        md.name.unwrap_or_default()
    );
    Ok(())
}

/// A 4×4×3 image → 3 scores classifier, standing in for a file from
/// another tool.
fn toy_classifier() -> Result<Model, Box<dyn std::error::Error>> {
    let mut b = ModelBuilder::new();
    b.description("toy image classifier");
    let mut g = b.subgraph("main");
    let x = g.input("image", DType::F32, [1, 4, 4, 3]);
    let w = g.constant_f32("conv", [2, 3, 3, 3], &(0..54).map(|i| (i % 5) as f32 / 10.0 - 0.2).collect::<Vec<_>>());
    let c = g.conv2d(x, w, None, Conv2dOptions::new(Padding::Valid, 1, 1).with_activation(Activation::Relu))?;
    let flat = g.reshape(c, &[1, 8])?;
    let fc = g.constant_f32("fc", [3, 8], &(0..24).map(|i| (i % 3) as f32 - 1.0).collect::<Vec<_>>());
    let y = g.fully_connected(flat, fc, None, FullyConnectedOptions::default())?;
    let p = g.softmax(y, 1.0)?;
    g.output("scores", p);
    b.finish_subgraph(g)?;
    b.signature("serving_default", 0);
    Ok(b.finish()?)
}
