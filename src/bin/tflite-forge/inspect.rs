//! `tflite-forge inspect`: what a .tflite file holds, as text or as the
//! JSON object of docs/inspect-json.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tflite_forge::metadata::{ContentProperties, ProcessUnit};
use tflite_forge::stats::model_stats;
use tflite_forge::{Dim, Model, Tensor};

use crate::output::{print_io, quant_text, read_model, CliResult, EXIT_OK};

/// Arguments of `inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The .tflite file.
    model: PathBuf,
    /// Print one JSON object (schema: docs/inspect-json.md) instead of text.
    #[arg(long)]
    json: bool,
    /// In the text output, list every tensor and every op (the default
    /// lists op counts, the I/O and the 10 largest buffers).
    #[arg(long)]
    full: bool,
}

/// Runs `inspect`.
pub fn run(a: Args) -> CliResult {
    let (bytes, model) = read_model(&a.model)?;
    let support = model.support_metadata().map_err(|e| {
        crate::output::CliError::input(format!("{}: TFLite Support metadata: {e}", a.model.display()))
            .hint("the TFLITE_METADATA entry is not a valid M001 flatbuffer; `metadata` can replace it")
    })?;
    if a.json {
        let j = crate::json::inspect(&model, &a.model, bytes.len(), support.as_ref());
        println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        return Ok(EXIT_OK);
    }
    text(&model, &a, bytes.len(), support.as_ref());
    Ok(EXIT_OK)
}

/// The `min_runtime_version` metadata entry, if any.
pub fn recorded_min_runtime(model: &Model) -> Option<String> {
    model
        .metadata
        .iter()
        .find(|m| m.name == "min_runtime_version")
        .map(|m| String::from_utf8_lossy(m.data.as_bytes()).trim_end_matches('\0').to_string())
}

/// A shape as the file's `shape_signature` has it (`-1` for dynamic).
pub fn signature_dims(t: &Tensor) -> Vec<i64> {
    t.shape.dims().iter().map(|d| d.fixed().map_or(-1, i64::from)).collect()
}

/// A shape as the file's `shape` has it (`1` for dynamic).
pub fn file_dims(t: &Tensor) -> Vec<i64> {
    t.shape.dims().iter().map(|d| match d {
        Dim::Fixed(n) => i64::from(*n),
        _ => 1,
    }).collect()
}

/// Every constant tensor as `(bytes, subgraph, tensor index, name)`,
/// largest first.
pub fn buffers(model: &Model) -> Vec<(usize, usize, usize, &str)> {
    let mut v: Vec<_> = model
        .subgraphs
        .iter()
        .enumerate()
        .flat_map(|(si, sg)| {
            sg.tensors.iter().enumerate().filter_map(move |(i, t)| t.data.as_ref().map(|d| (d.len(), si, i, t.name.as_str())))
        })
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    v
}

fn text(model: &Model, a: &Args, size: usize, support: Option<&tflite_forge::metadata::ModelMetadata>) {
    let stats = model_stats(model);
    println!("{}: {} bytes, {} subgraph(s)", a.model.display(), size, model.subgraphs.len());
    if !model.description.is_empty() {
        println!("description: {}", model.description);
    }
    println!(
        "min_runtime_version: recorded {}, required by the ops {}",
        recorded_min_runtime(model).as_deref().unwrap_or("(none)"),
        tflite_forge::version::min_runtime_version(model).unwrap_or("(unknown)")
    );
    print_io(model);
    let mut k = 0;
    for (i, sg) in model.subgraphs.iter().enumerate() {
        let mut ops: BTreeMap<(&str, i32), usize> = BTreeMap::new();
        for o in &sg.operators {
            *ops.entry((o.op.name(), tflite_forge::version::op_version(sg, o))).or_default() += 1;
        }
        println!("subgraph {i} {:?}: {} tensors, {} ops", sg.name, sg.tensors.len(), sg.operators.len());
        for ((name, v), n) in ops {
            println!("  {:<27} {n}", format!("{name} v{v}"));
        }
        if a.full {
            for (ti, t) in sg.tensors.iter().enumerate() {
                let data = t.data.as_ref().map(|d| format!(" const {} bytes", d.len())).unwrap_or_default();
                println!("  tensor {ti} {:?} {} {}{}{}", t.name, t.dtype, t.shape, quant_text(t), data);
            }
        }
        for (oi, o) in sg.operators.iter().enumerate() {
            let s = &stats.ops[k];
            k += 1;
            if a.full {
                let ins: Vec<String> = o.inputs.iter().map(|t| t.map_or("-".into(), |t| t.to_string())).collect();
                let outs: Vec<String> = o.outputs.iter().map(|t| t.to_string()).collect();
                println!(
                    "  op {oi} {} v{} in [{}] out [{}] params {} macs {}",
                    o.op.name(),
                    tflite_forge::version::op_version(sg, o),
                    ins.join(", "),
                    outs.join(", "),
                    s.params,
                    s.macs
                );
            }
        }
        custom_ops(sg);
    }
    println!("params {} ({} bytes of constants), MACs {}", stats.total_params, stats.constant_bytes, stats.total_macs);
    let mut by_op: BTreeMap<&str, (usize, u64, u64)> = BTreeMap::new();
    for s in &stats.ops {
        let e = by_op.entry(s.op.as_str()).or_default();
        e.0 += 1;
        e.1 += s.params;
        e.2 += s.macs;
    }
    for (op, (n, p, m)) in by_op.iter().filter(|(_, v)| v.1 > 0 || v.2 > 0) {
        println!("  {op:<24}{n:>6} ops  params {p:>12}  MACs {m:>14}");
    }
    let bufs = buffers(model);
    if !bufs.is_empty() {
        println!("largest buffers ({} constant tensors):", bufs.len());
        for (bytes, si, ti, name) in bufs.iter().take(if a.full { usize::MAX } else { 10 }) {
            println!("  {bytes:>12} bytes  subgraph {si} tensor {ti} {name:?}");
        }
    }
    // Delegate compatibility: a summary per delegate, then the operators
    // some delegate refuses (every operator with --full).
    let report = tflite_forge::delegate::report(model);
    println!("delegates:");
    for s in &report.summaries {
        println!("  {s}");
    }
    let refused: Vec<_> = report.ops.iter().filter(|o| a.full || o.verdicts.iter().any(|v| v.reason.is_some())).collect();
    let shown = if a.full { refused.len() } else { refused.len().min(20) };
    for o in &refused[..shown] {
        println!("  {o}");
    }
    if shown < refused.len() {
        println!("  ... {} more operators refused by some delegate (--full lists them)", refused.len() - shown);
    }
    for m in &model.metadata {
        println!("metadata {:?}: {} bytes", m.name, m.data.len());
    }
    if let Some(md) = support {
        print_support_metadata(md);
    }
    for f in &model.associated_files {
        println!("packed file {:?}: {} bytes", f.name, f.data.len());
    }
}

fn custom_ops(sg: &tflite_forge::Subgraph) {
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

/// One line per tensor metadata entry: content, normalisation, files.
pub fn support_tensor_parts(t: &tflite_forge::metadata::TensorMetadata) -> Vec<String> {
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
    parts
}

fn print_support_metadata(md: &tflite_forge::metadata::ModelMetadata) {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    println!(
        "TFLite Support metadata: name {:?}, version {:?}, author {:?}, license {:?}, min parser {}",
        text(&md.name),
        text(&md.version),
        text(&md.author),
        text(&md.license),
        text(&md.min_parser_version)
    );
    for (i, sub) in md.subgraph_metadata.iter().enumerate() {
        for (dir, tensors) in [("input", &sub.input_tensor_metadata), ("output", &sub.output_tensor_metadata)] {
            for t in tensors {
                println!("  subgraph {i} {dir} {:?}: {}", text(&t.name), support_tensor_parts(t).join(", "));
            }
        }
    }
}
