//! JSON output (`--json`): the documented objects of docs/inspect-json.md
//! and the conversion report of `convert --json`.

use std::path::Path;

use serde_json::{json, Value as Json};
use tflite_forge::onnx::Report;

/// Version of the `convert --json` object.
pub const CONVERT_SCHEMA_VERSION: u32 = 1;

/// The conversion report as JSON.
#[allow(clippy::too_many_arguments)]
pub fn convert_report(
    r: &Report,
    input: &Path,
    input_bytes: u64,
    output: &Path,
    output_bytes: usize,
    notes: &[String],
    convert_ms: f64,
    write_ms: f64,
) -> Json {
    let pairs = |v: &[(String, String)], a: &str, b: &str| -> Json {
        v.iter().map(|(x, y)| json!({ a: x, b: y })).collect()
    };
    json!({
        "schema_version": CONVERT_SCHEMA_VERSION,
        "input": input.display().to_string(),
        "input_bytes": input_bytes,
        "output": output.display().to_string(),
        "output_bytes": output_bytes,
        "opset": r.opset,
        "ops": r.op_histogram,
        "op_count": r.op_histogram.values().sum::<usize>(),
        "folded_nodes": r.folded_nodes,
        "folded_batchnorms": r.folded_batchnorms,
        "fused_activations": r.fused_activations,
        "fused_patterns": r.fused_patterns,
        "transposes_removed": r.transposes_removed,
        "io_layouts": r.io_layouts.iter().map(|(n, l)| json!({ "name": n, "layout": l })).collect::<Json>(),
        "dynamic_dims": r.dynamic_dims,
        "node_forms": pairs(&r.node_forms, "node", "form"),
        "flex_ops": pairs(&r.flex_ops, "node", "op"),
        "warnings": r.warnings,
        "notes": notes,
        "timings_ms": r.timings.iter().map(|(k, d)| json!({ "phase": k, "ms": d.as_secs_f64() * 1e3 })).collect::<Json>(),
        "convert_ms": convert_ms,
        "write_ms": write_ms,
    })
}

/// Version of the `inspect --json` object (docs/inspect-json.md). Bump it
/// when a field changes meaning or goes away; adding fields keeps it.
pub const INSPECT_SCHEMA_VERSION: u32 = 1;

/// The `inspect --json` object.
pub fn inspect(model: &tflite_forge::Model, path: &Path, size: usize, support: Option<&tflite_forge::metadata::ModelMetadata>) -> Json {
    use crate::inspect::{buffers, file_dims, recorded_min_runtime, signature_dims};
    use tflite_forge::diff::content_hash;
    let stats = tflite_forge::stats::model_stats(model);
    let mut k = 0;
    let mut op_counts = std::collections::BTreeMap::<String, usize>::new();
    let subgraphs: Vec<Json> = model
        .subgraphs
        .iter()
        .enumerate()
        .map(|(si, sg)| {
            let tensors: Vec<Json> = sg
                .tensors
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    json!({
                        "index": i,
                        "name": t.name,
                        "dtype": t.dtype.to_string(),
                        "shape": file_dims(t),
                        "shape_signature": signature_dims(t),
                        "constant": t.data.is_some(),
                        "buffer_bytes": t.data.as_ref().map_or(0, |d| d.len()),
                        "buffer_hash": t.data.as_ref().map(|d| content_hash(d.as_bytes())),
                        "is_variable": t.is_variable,
                        "quantization": t.quantization.as_ref().map(|q| json!({
                            "scale": q.scale,
                            "zero_point": q.zero_point,
                            "axis": q.axis,
                            "min": q.min,
                            "max": q.max,
                        })),
                    })
                })
                .collect();
            let ops: Vec<Json> = sg
                .operators
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let s = &stats.ops[k];
                    k += 1;
                    *op_counts.entry(o.op.name().to_string()).or_default() += 1;
                    json!({
                        "index": i,
                        "op": o.op.name(),
                        "builtin_code": o.op.builtin_code(),
                        "version": tflite_forge::version::op_version(sg, o),
                        "inputs": o.inputs.iter().map(|t| t.map_or(-1, |t| i64::from(t.0))).collect::<Vec<_>>(),
                        "outputs": o.outputs.iter().map(|t| t.0).collect::<Vec<_>>(),
                        "params": s.params,
                        "macs": s.macs,
                    })
                })
                .collect();
            json!({
                "index": si,
                "name": sg.name,
                "inputs": sg.inputs.iter().map(|t| t.0).collect::<Vec<_>>(),
                "outputs": sg.outputs.iter().map(|t| t.0).collect::<Vec<_>>(),
                "tensors": tensors,
                "ops": ops,
            })
        })
        .collect();
    let io = |v: &[(String, tflite_forge::TensorId)]| -> Json { v.iter().map(|(n, t)| json!({ "name": n, "tensor": t.0 })).collect() };
    let signatures: Vec<Json> = model
        .signatures
        .iter()
        .map(|s| json!({ "key": s.key, "subgraph": s.subgraph, "inputs": io(&s.inputs), "outputs": io(&s.outputs) }))
        .collect();
    let support = support.map(|md| {
        let mut tensors = Vec::new();
        for (i, sub) in md.subgraph_metadata.iter().enumerate() {
            for (dir, list) in [("input", &sub.input_tensor_metadata), ("output", &sub.output_tensor_metadata)] {
                for t in list {
                    let norm = t.process_units.iter().find_map(|u| match u {
                        tflite_forge::metadata::ProcessUnit::Normalization { mean, std } => Some(json!({ "mean": mean, "std": std })),
                        _ => None,
                    });
                    tensors.push(json!({
                        "subgraph": i,
                        "direction": dir,
                        "name": t.name,
                        "description": crate::inspect::support_tensor_parts(t).join(", "),
                        "normalization": norm,
                        "associated_files": t.associated_files.iter().map(|f| json!({ "name": f.name, "type": format!("{:?}", f.file_type) })).collect::<Vec<_>>(),
                    }));
                }
            }
        }
        json!({
            "name": md.name,
            "description": md.description,
            "version": md.version,
            "author": md.author,
            "license": md.license,
            "min_parser_version": md.min_parser_version,
            "tensors": tensors,
        })
    });
    let report = tflite_forge::delegate::report(model);
    let delegates = json!({
        "summaries": report.summaries.iter().map(|s| json!({
            "delegate": s.delegate.name(),
            "ops_taken": s.ops_taken,
            "ops_total": s.ops_total,
            "macs_taken": s.macs_taken,
            "macs_total": s.macs_total,
            "partitions": s.partitions,
        })).collect::<Vec<_>>(),
        "ops": report.ops.iter().map(|o| json!({
            "subgraph": o.subgraph,
            "index": o.index,
            "op": o.name,
            "verdicts": o.verdicts.iter().map(|v| json!({
                "delegate": v.delegate.name(),
                "taken": v.reason.is_none(),
                "reason_kind": v.reason.as_ref().map(|r| r.kind()),
                "reason": v.reason.as_ref().map(|r| r.to_string()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    json!({
        "schema_version": INSPECT_SCHEMA_VERSION,
        "file": path.display().to_string(),
        "size_bytes": size,
        "description": model.description,
        "min_runtime_version": {
            "recorded": recorded_min_runtime(model),
            "required": tflite_forge::version::min_runtime_version(model),
        },
        "subgraphs": subgraphs,
        "signatures": signatures,
        "op_counts": op_counts,
        "totals": {
            "ops": stats.ops.len(),
            "tensors": model.subgraphs.iter().map(|s| s.tensors.len()).sum::<usize>(),
            "params": stats.total_params,
            "macs": stats.total_macs,
            "constant_bytes": stats.constant_bytes,
        },
        "buffers": buffers(model).iter().map(|(b, si, ti, n)| json!({ "subgraph": si, "tensor": ti, "name": n, "bytes": b })).collect::<Vec<_>>(),
        "metadata": model.metadata.iter().map(|m| json!({ "name": m.name, "bytes": m.data.len() })).collect::<Vec<_>>(),
        "support_metadata": support,
        "associated_files": model.associated_files.iter().map(|f| json!({ "name": f.name, "bytes": f.data.len(), "hash": content_hash(f.data.as_bytes()) })).collect::<Vec<_>>(),
        "delegates": delegates,
    })
}
