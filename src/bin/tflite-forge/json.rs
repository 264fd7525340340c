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
