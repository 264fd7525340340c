//! The accuracy tier: int8 quality on trained models, measured as top-1
//! accuracy on a whole held-out test split in LiteRT.
//!
//! train_digits_models.py (run once in the model tier's venv, cached)
//! trains two classifiers on scikit-learn's digits with torch on the CPU,
//! seeded: a plain CNN (conv-relu-conv-relu-linear on the 8x8 images) and a
//! MobileNetV2/V3-style network (inverted residual blocks with depthwise
//! convolutions, hardswish, squeeze-excitation, BN) on the images
//! upsampled to 32x32. Each ONNX export is converted by us (NHWC input,
//! batch 1), written as float, and quantized to full int8 with uint8 I/O
//! (integer only: an op left in float would fail the case),
//! calibrated on 256 training images given in the ONNX layout (NCHW,
//! stacked in one array) through [`SampleAdapter`], as the CLI's
//! `--calibration` reads them. LiteRT then classifies all 450 test images
//! with both files (runner.py's "accuracy" job).
//!
//! Judged: the float file within half a point of onnxruntime's accuracy;
//! the MobileNet-style float at least 97 %; the int8 drop at most 1.0 point
//! (MobileNet-style) and 0.5 point (CNN). Measured (LiteRT 2.3.0, x86-64,
//! torch 2.15.0 on the CPU), top-1 on the 450 test images:
//! - CNN (9.9k parameters): torch, onnxruntime, our float file 99.33 %;
//!   int8 99.33 % (drop 0.00 points, the same 3 images wrong, 100 % top-1
//!   agreement); 40.9 KB float, 13.9 KB int8;
//! - MobileNet-style (29k parameters): torch, onnxruntime, our float file
//!   99.56 %; int8 99.56 % (drop 0.00, the same 2 images wrong, 100 %
//!   agreement); 124.0 KB float, 72.4 KB int8 (the per-channel parameters
//!   of weights and biases, 2,068 float scales and int64 zero points at 12
//!   bytes each, weigh about as much as the 28k weights themselves).
//!
//! One rescue case: a calibration set with a hot pixel (one input value of
//! 1000 in one of the 256 images). Min-max spends the uint8 input's 256
//! levels on it and the int8 MobileNet-style net must lose at least 50
//! points (measured: 10.22 %, chance); percentile:99.9 calibration clips it
//! and must lose at most 1.0 point (measured: 99.56 %, no loss).

use std::path::Path;

use serde_json::{json, Value as Json};
use tflite_forge::eval::Value;
use tflite_forge::onnx::{convert, ConvertOptions};
use tflite_forge::quantize::{quantize, CalibrationMethod, IoType, QuantizeOptions, SampleAdapter, SampleLayout};
use tflite_forge::Model;

use crate::Outcome;

/// Thresholds of one trained model: the least float accuracy (fraction),
/// the most int8 drop (points).
struct Judge {
    min_float: f64,
    max_drop: f64,
}

/// The MobileNet-style network (the acceptance).
const MBNET: Judge = Judge { min_float: 0.97, max_drop: 1.0 };
/// The plain CNN: a drop of at most 0.5 point (two of the 450 images).
const CNN: Judge = Judge { min_float: 0.97, max_drop: 0.5 };
/// How far the float file's accuracy may be from onnxruntime's and torch's
/// (points): our float conversion matches onnxruntime's logits to about
/// 1e-5, so only an image on a near tie could flip.
const MAX_REFERENCE_GAP: f64 = 0.5;

/// One quantized file of a model: its label (the file name and the job's
/// label), options, calibration samples, and the allowed drop in points
/// (at most, at least).
struct QCase {
    label: &'static str,
    options: QuantizeOptions,
    samples: Vec<Vec<Value>>,
    max_drop: Option<f64>,
    min_drop: Option<f64>,
}

fn write(path: &Path, model: &Model) -> Result<u64, String> {
    let bytes = tflite_forge::write(model).map_err(|e| e.to_string())?;
    std::fs::write(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes.len() as u64)
}

/// The calibration images of `file` (stacked NCHW) as samples of `model`,
/// through the adapter the CLI uses for `--calibration-layout onnx`.
fn calibration(dir: &Path, file: &str, model: &Model) -> Result<Vec<Vec<Value>>, String> {
    let bytes = std::fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
    let stacked = tflite_forge::npy::read_npy(&bytes).map_err(|e| format!("{file}: {e}"))?;
    let adapter = SampleAdapter::new(model, SampleLayout::Onnx).map_err(|e| e.to_string())?;
    let samples = adapter.unstack(vec![stacked]).map_err(|e| e.to_string())?;
    adapter.adapt_all(samples).map_err(|e| e.to_string())
}

/// A hot pixel: one input value of 1000 in the first calibration image.
fn hot_pixel(mut samples: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    if let Some(x) = samples.get_mut(0).and_then(|s| s.get_mut(0)).and_then(|v| v.data.get_mut(100)) {
        *x = 1000.0;
    }
    samples
}

pub fn accuracy_tier(root: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) {
    let Some((dir, entries)) =
        crate::onnx_tiers::exported_entries(root, "accuracy", ["train_digits_models.py", "digits-models", "trained digits classifiers"], selected, outcomes)
    else {
        return;
    };
    let work = out.join("accuracy");
    let _ = std::fs::create_dir_all(&work);
    for (name, entry) in entries {
        let model_name = entry["name"].as_str().unwrap_or("?");
        let judge = if model_name == "mbnet" { MBNET } else { CNN };
        let fail = |what: &str, detail: String| Outcome { name: format!("{name}/{what}"), status: "failed", detail };
        let file = |key: &str| entry[key].as_str().unwrap_or("").to_string();
        let mut opts = ConvertOptions::default();
        opts.batch = Some(1);
        let model = match std::fs::read(dir.join(file("onnx"))).map_err(|e| e.to_string()).and_then(|b| convert(&b, &opts).map_err(|e| e.to_string())) {
            Ok(c) => c.model,
            Err(e) => {
                outcomes.push(fail("converts", e));
                continue;
            }
        };
        let stem = name.replace('/', "__");
        let float_path = work.join(format!("{stem}.float.tflite"));
        if let Err(e) = write(&float_path, &model) {
            outcomes.push(fail("writes", e));
            continue;
        }
        let data = match calibration(&dir, &file("calibration"), &model) {
            Ok(d) => d,
            Err(e) => {
                outcomes.push(fail("calibration", e));
                continue;
            }
        };
        let mut cases = Vec::new();
        if selected(&format!("{name}/int8_uint8_io")) {
            cases.push(QCase { label: "int8_uint8_io", options: QuantizeOptions::int8(IoType::Uint8), samples: data.clone(), max_drop: Some(judge.max_drop), min_drop: None });
        }
        let rescue = model_name == "mbnet" && selected(&format!("{name}/percentile_rescues_hot_pixel"));
        if rescue {
            let hot = hot_pixel(data.clone());
            let pct = QuantizeOptions::int8(IoType::Uint8).with_calibration(CalibrationMethod::Percentile(99.9));
            cases.push(QCase { label: "int8_minmax_hot_pixel", options: QuantizeOptions::int8(IoType::Uint8), samples: hot.clone(), max_drop: None, min_drop: Some(50.0) });
            cases.push(QCase { label: "int8_percentile_hot_pixel", options: pct, samples: hot, max_drop: Some(judge.max_drop), min_drop: None });
        }
        let mut models = Vec::new();
        let mut ok = true;
        for QCase { label, options, samples, max_drop, min_drop } in cases {
            // Full integer: an op without an int8 kernel is an error, not
            // a float island.
            let q = match quantize(&model, &options.with_integer_only(true).with_report_samples(0), &samples) {
                Ok(q) => q,
                Err(e) => {
                    outcomes.push(fail(label, format!("quantize failed: {e}")));
                    ok = false;
                    break;
                }
            };
            let path = work.join(format!("{stem}.{label}.tflite"));
            if let Err(e) = write(&path, &q.model) {
                outcomes.push(fail(label, e));
                ok = false;
                break;
            }
            models.push(json!({"label": label, "model": path, "max_drop": max_drop, "min_drop": min_drop}));
        }
        if !ok {
            continue;
        }
        let reference = json!({"torch": entry["torch_accuracy"], "onnxruntime": entry["onnxruntime_accuracy"]});
        let job = |job_name: String, models: Vec<Json>| {
            json!({
                "name": job_name, "kind": "accuracy", "float": float_path, "models": models,
                "inputs": dir.join(file("test")), "labels": dir.join(file("labels")), "input_layout": "nhwc",
                "min_float_accuracy": judge.min_float, "reference": reference, "max_reference_gap": MAX_REFERENCE_GAP,
                "delegate": "default",
            })
        };
        let (plain, hot): (Vec<Json>, Vec<Json>) = models.into_iter().partition(|m| m["label"] == "int8_uint8_io");
        if !plain.is_empty() {
            jobs.push(job(format!("{name}/int8_uint8_io"), plain));
        }
        if !hot.is_empty() {
            jobs.push(job(format!("{name}/percentile_rescues_hot_pixel"), hot));
        }
    }
}
