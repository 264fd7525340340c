//! `tflite-forge inspect`: what a .tflite file holds.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tflite_forge::metadata::{ContentProperties, ProcessUnit};

use crate::output::{print_io, read_model, CliResult, EXIT_OK};

/// Arguments of `inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The .tflite file.
    model: PathBuf,
}

/// Runs `inspect`.
pub fn run(a: Args) -> CliResult {
    let path = a.model;
    let (bytes, model) = read_model(&path)?;
    println!("{}: {} bytes, {} subgraph(s)", path.display(), bytes.len(), model.subgraphs.len());
    if !model.description.is_empty() {
        println!("description: {}", model.description);
    }
    print_io(&model);
    for (i, sg) in model.subgraphs.iter().enumerate() {
        let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
        for o in &sg.operators {
            *ops.entry(o.op.name()).or_default() += 1;
        }
        println!("subgraph {i} {:?}: {} tensors, {} ops", sg.name, sg.tensors.len(), sg.operators.len());
        for (k, v) in ops {
            println!("  {k:<24}{v}");
        }
        let mut seen = std::collections::BTreeSet::new();
        for o in &sg.operators {
            let tflite_forge::Op::Custom(c) = &o.op else { continue };
            if !seen.insert(c.name.clone()) {
                continue;
            }
            match (c.flex_op(), c.options_value()) {
                (Some(Ok((tf_op, node_def))), _) => {
                    println!("  custom {}: select-TF op {tf_op} (NodeDef {} bytes; needs the Flex delegate)", c.name, node_def.len())
                }
                (_, Some(Ok(v))) => {
                    let text = format!("{v:?}");
                    println!("  custom {}: options {}", c.name, text.chars().take(200).collect::<String>());
                }
                (_, Some(Err(e))) => println!("  custom {}: options not FlexBuffers ({e})", c.name),
                _ => println!("  custom {}: {} option bytes", c.name, c.options.len()),
            }
        }
    }
    for m in &model.metadata {
        println!("metadata {:?}: {} bytes", m.name, m.data.len());
    }
    if let Some(md) = model.support_metadata()? {
        print_support_metadata(&md);
    }
    for f in &model.associated_files {
        println!("packed file {:?}: {} bytes", f.name, f.data.len());
    }
    Ok(EXIT_OK)
}

fn print_support_metadata(md: &tflite_forge::metadata::ModelMetadata) {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    println!(
        "TFLite Support metadata: name {:?}, version {:?}, min parser {}",
        text(&md.name),
        text(&md.version),
        text(&md.min_parser_version)
    );
    for (i, sub) in md.subgraph_metadata.iter().enumerate() {
        for (dir, tensors) in [("input", &sub.input_tensor_metadata), ("output", &sub.output_tensor_metadata)] {
            for t in tensors {
                let mut parts = Vec::new();
                match t.content.as_ref().map(|c| &c.properties) {
                    Some(ContentProperties::Image { color_space, .. }) => parts.push(format!("image {color_space:?}")),
                    Some(ContentProperties::Feature) => parts.push("feature".into()),
                    Some(other) => parts.push(format!("{other:?}")),
                    None => {}
                }
                for u in &t.process_units {
                    if let ProcessUnit::Normalization { mean, std } = u {
                        parts.push(format!("normalize mean {mean:?} std {std:?}"));
                    }
                }
                for f in &t.associated_files {
                    parts.push(format!("{:?} ({:?})", f.name, f.file_type));
                }
                println!("  subgraph {i} {dir} {:?}: {}", text(&t.name), parts.join(", "));
            }
        }
    }
}
