//! The frameworks tier: ONNX files made by exporters other than torch's
//! (py/export_framework_models.py). Keras 3 / TensorFlow models through
//! tf2onnx (venv of requirements-frameworks.txt): Keras applications
//! (MobileNetV2, EfficientNetV2-B0, DenseNet-121), a Conv1D text CNN, LSTM
//! and (bidirectional) GRU, a MultiHeadAttention block, UpSampling2D and
//! Resizing, separable and transposed convolutions, dynamic batch and
//! dynamic H/W nets, BatchNorm as Mul/Add, tf.image.resize modes, int64
//! shape arithmetic and NMS/TopK post-processing. PaddlePaddle models
//! through paddle2onnx (venv of requirements-paddle.txt). Each export is
//! cached by the hash of its requirements and the script.
//!
//! Each model converts with the default (NHWC) options and matches
//! onnxruntime in LiteRT at every size it is run at, with cosine ≥ 0.9999
//! and max|diff| ≤ 1e-3 · max|ref|. The TRANSPOSE count and the
//! conversion time are reported; an NHWC convolution net (tf2onnx's NHWC
//! input with a Transpose to NCHW, or paddle's NCHW image input given the
//! NHWC interface) must end with no TRANSPOSE.

use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};
use tflite_forge::onnx::{convert_file, ConvertOptions};

use crate::onnx_tiers::{cached_export_in, count_transposes, total_ops};
use crate::Outcome;

/// The two exports: `[requirements, venv prefix]`, script arguments, cache
/// prefix, what.
const EXPORTS: [([&str; 2], &[&str], &str, &str); 2] = [
    (["requirements-frameworks.txt", "frameworks-venv"], &[], "frameworks-exports", "Keras/TensorFlow models through tf2onnx"),
    (["requirements-paddle.txt", "paddle-venv"], &["--paddle"], "paddle-exports", "PaddlePaddle models through paddle2onnx"),
];

pub fn frameworks_tier(root: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    if !selected("frameworks/") {
        return;
    }
    for (venv, args, prefix, what) in EXPORTS {
        let fail = |detail: String| Outcome { name: format!("frameworks/{prefix}"), status: "failed", detail };
        let dir = match cached_export_in(root, venv, "export_framework_models.py", args, prefix, what) {
            Ok(d) => d,
            Err(e) => {
                outcomes.push(fail(e));
                continue;
            }
        };
        let index: Vec<Value> = std::fs::read(dir.join("index.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        if index.is_empty() {
            outcomes.push(fail("no index.json".into()));
            continue;
        }
        for entry in index {
            let name = format!("frameworks/{}", entry["name"].as_str().unwrap_or("?"));
            if !selected(&name) {
                continue;
            }
            if let Some(e) = entry["error"].as_str() {
                outcomes.push(Outcome { name, status: "failed", detail: format!("export failed: {e}") });
                continue;
            }
            one_model(&dir, &name, &entry, out, jobs, outcomes);
        }
    }
}

fn one_model(dir: &Path, name: &str, entry: &Value, out: &Path, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    let started = Instant::now();
    let conv = match convert_file(dir.join(entry["onnx"].as_str().unwrap_or("")), &ConvertOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            outcomes.push(Outcome { name: format!("{name}/converts"), status: "failed", detail: e.to_string() });
            return;
        }
    };
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let t = count_transposes(&conv.model);
    let cnn = entry["nhwc_cnn"].as_bool() == Some(true);
    let forms: Vec<String> = conv.report.node_forms.iter().map(|(n, f)| format!("{n}: {f}")).collect();
    let detail = format!(
        "{}: {} ops, {t} TRANSPOSE{}, converted in {ms:.0} ms; dynamic: [{}]{}",
        entry["framework"].as_str().unwrap_or("?"),
        total_ops(&conv.model),
        if cnn { " (limit 0)" } else { "" },
        conv.report.dynamic_dims.join(", "),
        if forms.is_empty() { String::new() } else { format!("; forms: {}", forms.join("; ")) }
    );
    let ok = !cnn || t == 0;
    outcomes.push(Outcome { name: format!("{name}/converts"), status: if ok { "passed" } else { "failed" }, detail });
    let path = out.join(format!("{}.tflite", name.replace('/', "__")));
    match tflite_forge::write(&conv.model) {
        Ok(b) => std::fs::write(&path, b).expect("write model"),
        Err(e) => {
            outcomes.push(Outcome { name: format!("{name}/writes"), status: "failed", detail: e.to_string() });
            return;
        }
    }
    let layouts: Vec<&str> = entry["image"].as_array().into_iter().flatten().map(|v| if v.as_bool() == Some(true) { "nhwc" } else { "same" }).collect();
    for r in entry["runs"].as_array().into_iter().flatten() {
        let files = |key: &str| -> Vec<std::path::PathBuf> { r[key].as_array().into_iter().flatten().filter_map(|v| v.as_str()).map(|f| dir.join(f)).collect() };
        let shape: Vec<String> = r["shapes"][0].as_array().into_iter().flatten().map(|v| v.to_string()).collect();
        jobs.push(json!({
            "name": format!("{name}/at_{}_matches_onnxruntime", shape.join("x")),
            "kind": "expected", "model": path,
            "inputs": files("inputs"),
            "outputs": files("outputs"),
            "input_layout": layouts,
            "rtol": 0.0, "atol": 1.0, "max_abs_rel_tol": 1e-3, "min_cosine": 0.9999,
            "resize": true, "delegate": "default",
        }));
    }
}
