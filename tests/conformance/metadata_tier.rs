//! The metadata tier: TFLite Support metadata and associated files, judged
//! by the official `tflite-support` toolkit in a venv of its own
//! (tests/conformance/requirements-support.txt).
//!
//! - `metadata/schema`: our metadata_schema.fbs has the enums, unions and
//!   field slots of the schema generated into the wheel.
//! - `metadata/variant/*`: metadata built with the official object API, one
//!   buffer per schema feature, decoded and re-encoded by us, decodes
//!   (officially) to the same values; our `min_parser_version` equals the
//!   toolkit's C++ rules.
//! - `metadata/file/*`: an image classifier with our metadata and labels is
//!   read by the MetadataDisplayer and classified by the Task Library's
//!   `ImageClassifier` (normalisation and labels from our metadata), matching
//!   our reference evaluator; a file populated by the official metadata
//!   writer is read by us, and our rewrite shows the same metadata JSON and
//!   classifies the same.
//! - `metadata/file/cli_labels_on_mediapipe`: `tflite-forge metadata` (the
//!   library route when the test is built without feature `cli`) adds labels
//!   to MediaPipe's hand_recrop.tflite: the official reader reads them back,
//!   and LiteRT gives bit-identical outputs for the original and the edit
//!   (a `same` job of the runner).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tflite_forge::eval::{Evaluator, Value as Tensor};
use tflite_forge::metadata::{AssociatedFileType, ImageClassifierInfo, ProcessUnit};
use tflite_forge::{DType, FullyConnectedOptions, Model, ModelBuilder};

use crate::{venv, Outcome};

fn pass(name: &str) -> Outcome {
    Outcome { name: name.into(), status: "passed", detail: String::new() }
}

fn fail(name: &str, detail: impl Into<String>) -> Outcome {
    Outcome { name: name.into(), status: "failed", detail: detail.into() }
}

/// Runs `metadata_check.py` with the support venv and parses its JSON.
fn check_py(root: &Path, python: &Path, args: &[&std::ffi::OsStr]) -> Result<Value, String> {
    let out = Command::new(python)
        .arg(root.join("tests/conformance/py/metadata_check.py"))
        .args(args)
        .output()
        .map_err(|e| format!("cannot start metadata_check.py: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "metadata_check.py {:?} exited with {}: {}",
            args.first(),
            out.status,
            String::from_utf8_lossy(&out.stderr).lines().rev().take(6).collect::<Vec<_>>().join(" | ")
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or("");
    serde_json::from_str(last).map_err(|e| format!("metadata_check.py printed no JSON ({e}): {text}"))
}

pub fn metadata_tier(root: &Path, python: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    if !selected("metadata/") {
        return;
    }
    let support = match venv::ensure_from(root, "requirements-support.txt", "support-venv") {
        Ok(p) => p,
        Err(e) => {
            outcomes.push(fail("metadata/venv", e));
            return;
        }
    };
    let dir = out.join("metadata");
    let _ = std::fs::create_dir_all(&dir);
    if selected("metadata/schema") {
        outcomes.push(schema(root, python, &support));
    }
    if selected("metadata/variant") {
        variants(root, &support, &dir, outcomes);
    }
    if selected("metadata/file") {
        files(root, &support, &dir, jobs, outcomes);
    }
}

fn schema(root: &Path, python: &Path, support: &Path) -> Outcome {
    let name = "metadata/schema/enums_unions_field_slots_match_tflite_support";
    let lib = support.parent().and_then(Path::parent).map(|v| v.join("lib"));
    let theirs = lib
        .and_then(|lib| std::fs::read_dir(lib).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages/tensorflow_lite_support/metadata/metadata_schema_py_generated.py"))
        .find(|p| p.exists());
    let Some(theirs) = theirs else { return fail(name, "the wheel's metadata_schema_py_generated.py was not found") };
    crate::command_outcome(
        name,
        Command::new(python)
            .arg(root.join("tests/conformance/py/schema_check.py"))
            .arg("--fbs")
            .arg(root.join("schema/metadata_schema.fbs"))
            .arg("--flatc")
            .arg(python.with_file_name("flatc"))
            .arg("--theirs")
            .arg(theirs),
    )
}

fn variants(root: &Path, support: &Path, dir: &Path, outcomes: &mut Vec<Outcome>) {
    let vdir = dir.join("variants");
    let versions = match check_py(root, support, &["gen-variants".as_ref(), vdir.as_os_str()]) {
        Ok(v) => v,
        Err(e) => return outcomes.push(fail("metadata/variant", e)),
    };
    let Some(names) = versions["variants"].as_object() else {
        return outcomes.push(fail("metadata/variant", "no variants listed"));
    };
    for name in names.keys() {
        let theirs = vdir.join(format!("{name}.m001"));
        let result = std::fs::read(&theirs)
            .map_err(|e| e.to_string())
            .and_then(|b| tflite_forge::metadata::ModelMetadata::from_bytes(&b).map_err(|e| e.to_string()))
            .and_then(|md| std::fs::write(vdir.join(format!("{name}.rust.m001")), md.to_bytes()).map_err(|e| e.to_string()));
        if let Err(e) = result {
            outcomes.push(fail(&format!("metadata/variant/{name}"), format!("our decode failed: {e}")));
        }
    }
    let checked = match check_py(root, support, &["check-variants".as_ref(), vdir.as_os_str()]) {
        Ok(v) => v,
        Err(e) => return outcomes.push(fail("metadata/variant", e)),
    };
    for (name, problems) in checked["variants"].as_object().into_iter().flatten() {
        let case = format!("metadata/variant/{name}");
        if outcomes.iter().any(|o| o.name == case) {
            continue;
        }
        let problems: Vec<&str> = problems.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        outcomes.push(if problems.is_empty() { pass(&case) } else { fail(&case, problems.join("; ")) });
    }
}

const LABELS: [&str; 5] = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead"];

/// image (1x16x16x3 float) -> MEAN over H, W -> FULLY_CONNECTED(5) -> SOFTMAX.
fn classifier() -> Model {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("image", DType::F32, [1, 16, 16, 3]);
    let m = g.mean(x, &[1, 2], false).expect("mean");
    let w: Vec<f32> = (0..15).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.9).collect();
    let w = g.constant_f32("fc/weights", [5, 3], &w);
    let bias = g.constant_f32("fc/bias", [5], &[0.1, -0.2, 0.3, 0.0, -0.1]);
    let logits = g.fully_connected(m, w, Some(bias), FullyConnectedOptions::default()).expect("fc");
    let y = g.softmax(logits, 1.0).expect("softmax");
    g.output("probabilities", y);
    b.finish_subgraph(g).expect("subgraph");
    b.finish().expect("model")
}

/// A deterministic 16x16 RGB test image.
fn image() -> Vec<u8> {
    (0..16 * 16 * 3).map(|i| ((i * 37 + (i / 48) * 11) % 256) as u8).collect()
}

/// Our reference evaluator's (label, score) list, best first, after the
/// metadata's normalisation.
fn expected(model: &Model, mean: &[f32], std: &[f32]) -> Result<Vec<(String, f64)>, String> {
    let px = image();
    let x: Vec<f32> = px
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let c = if mean.len() == 1 { 0 } else { i % 3 };
            (f32::from(*p) - mean[c]) / std[c]
        })
        .collect();
    let outs = Evaluator::new(model).run(0, &[Tensor::from_f32(vec![1, 16, 16, 3], x)]).map_err(|e| e.to_string())?;
    let scores = outs.first().map(|v| v.data.clone()).ok_or("no output")?;
    let mut pairs: Vec<(String, f64)> = LABELS.iter().map(|l| l.to_string()).zip(scores).collect();
    pairs.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(pairs)
}

fn image_json() -> Value {
    let px = image();
    json!(px.chunks(48).map(|row| row.chunks(3).map(|c| c.to_vec()).collect::<Vec<_>>()).collect::<Vec<_>>())
}

fn labels_text() -> String {
    LABELS.iter().map(|l| format!("{l}\n")).collect()
}

fn files(root: &Path, support: &Path, dir: &Path, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    let labels = labels_text();
    let mut cases: Vec<Value> = Vec::new();

    // 1. Our metadata, per-channel normalisation.
    let (mean, std) = ([120.0f32, 128.0, 136.0], [60.0f32, 64.0, 70.0]);
    let mut ours = classifier();
    let mut info = ImageClassifierInfo::new("forge classifier", LABELS);
    info.mean = mean.to_vec();
    info.std = std.to_vec();
    info.description = Some("A toy classifier written by tflite-forge".into());
    let ours_path = dir.join("ours_with_metadata.tflite");
    let step = info
        .apply(&mut ours)
        .map_err(|e| e.to_string())
        .and_then(|_| tflite_forge::write(&ours).map_err(|e| e.to_string()))
        .and_then(|b| std::fs::write(&ours_path, b).map_err(|e| e.to_string()))
        .and_then(|_| expected(&ours, &mean, &std));
    match step {
        Ok(want) => cases.push(json!({
            "name": "metadata/file/ours_displayed_and_classified",
            "model": ours_path, "files": {"labels.txt": labels},
            "classify": {"image": image_json(), "expected": want, "atol": 1e-4},
        })),
        Err(e) => outcomes.push(fail("metadata/file/ours_displayed_and_classified", e)),
    }

    // 1b. Full int8 with uint8 I/O taking raw pixels (the normalisation moved
    // into the graph), labels without normalisation: the Task Library feeds
    // the image bytes as they are.
    let name = "metadata/file/uint8_raw_pixels_classified";
    match uint8_classifier(&mean, &std, dir) {
        Ok((path, want)) => cases.push(json!({
            "name": name, "model": path, "files": {"labels.txt": labels},
            "classify": {"image": image_json(), "expected": want, "atol": 1.5 / 256.0, "unordered": true},
        })),
        Err(e) => outcomes.push(fail(name, e)),
    }

    // 2. The official writer populates our plain model; we read and rewrite it.
    let plain = dir.join("plain.tflite");
    let populated = dir.join("populated_by_tflite_support.tflite");
    let rewritten = dir.join("rewritten_by_us.tflite");
    let labels_path = dir.join("labels.txt");
    let model = classifier();
    let prepared = tflite_forge::write(&model)
        .map_err(|e| e.to_string())
        .and_then(|b| std::fs::write(&plain, b).map_err(|e| e.to_string()))
        .and_then(|_| std::fs::write(&labels_path, &labels).map_err(|e| e.to_string()))
        .and_then(|_| {
            check_py(
                root,
                support,
                &["populate".as_ref(), plain.as_os_str(), populated.as_os_str(), labels_path.as_os_str(), "127.5".as_ref(), "127.5".as_ref()],
            )
        });
    let name = "metadata/file/read_official_metadata";
    match prepared.and_then(|_| read_official(&populated, &rewritten, &labels)) {
        Ok(()) => {
            outcomes.push(pass(name));
            match expected(&model, &[127.5], &[127.5]) {
                Ok(want) => {
                    for (case, path, same) in [
                        ("metadata/file/official_reference_classified", &populated, None),
                        ("metadata/file/rewrite_of_official_same_json_and_scores", &rewritten, Some(&populated)),
                    ] {
                        cases.push(json!({
                            "name": case, "model": path, "files": {"labels.txt": labels}, "same_json_as": same,
                            "classify": {"image": image_json(), "expected": want, "atol": 1e-4},
                        }));
                    }
                }
                Err(e) => outcomes.push(fail("metadata/file/official_reference_classified", e)),
            }
        }
        Err(e) => outcomes.push(fail(name, e)),
    }

    // 3. `tflite-forge metadata` on a file made by another tool (MediaPipe).
    let name = "metadata/file/cli_labels_on_mediapipe";
    let mp = crate::venv::cache_dir().join("mediapipe-models-mediapipe-0.10.21").join("hand_recrop.tflite");
    if !mp.exists() {
        outcomes.push(Outcome {
            name: name.into(),
            status: "skipped",
            detail: format!("{} not cached yet (the tf/mediapipe tier downloads it)", mp.display()),
        });
    } else {
        let edited = dir.join("hand_recrop_labelled.tflite");
        match label_existing(&mp, &edited, &dir.join("recrop_labels.txt")) {
            Ok(()) => {
                cases.push(json!({"name": name, "model": edited, "files": {"labels.txt": RECROP_LABELS}}));
                jobs.push(json!({
                    "name": format!("{name}/identical_outputs"), "kind": "same", "model": mp, "other": edited,
                    "seed": 11, "delegate": "default",
                }));
            }
            Err(e) => outcomes.push(fail(name, e)),
        }
    }

    let jobs_file = dir.join("file_jobs.json");
    if let Err(e) = std::fs::write(&jobs_file, json!({"cases": cases}).to_string()) {
        return outcomes.push(fail("metadata/file", e.to_string()));
    }
    match check_py(root, support, &["check-files".as_ref(), jobs_file.as_os_str()]) {
        Ok(v) => {
            for case in &cases {
                let n = case["name"].as_str().unwrap_or("?");
                let problems: Vec<&str> =
                    v["files"][n]["problems"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                if v["files"][n].is_null() {
                    outcomes.push(fail(n, "no result"));
                } else if problems.is_empty() {
                    outcomes.push(Outcome { name: n.into(), status: "passed", detail: format!("{}", v["files"][n]["classified"]) });
                } else {
                    outcomes.push(fail(n, problems.join("; ")));
                }
            }
        }
        Err(e) => outcomes.push(fail("metadata/file", e)),
    }
}

/// Labels of hand_recrop.tflite's 4 outputs, as packed.
const RECROP_LABELS: &str = "center_x\ncenter_y\nscale\nrotation\n";

/// Adds image-classifier metadata to an existing file: with the
/// `tflite-forge metadata` command when the test is built with feature
/// `cli`, else with the library calls that command makes.
fn label_existing(model: &Path, out: &Path, labels: &Path) -> Result<(), String> {
    std::fs::write(labels, RECROP_LABELS).map_err(|e| e.to_string())?;
    // Cargo names the binary even when its required feature `cli` is off
    // and it was not built: use it only if it is there.
    if let Some(bin) = option_env!("CARGO_BIN_EXE_tflite-forge").filter(|b| Path::new(b).exists()) {
        let o = Command::new(bin)
            .arg("metadata")
            .arg(model)
            .arg("-o")
            .arg(out)
            .arg("--labels")
            .arg(labels)
            .args(["--mean", "0", "--std", "255", "--name", "hand recrop", "--license", "Apache-2.0"])
            .output()
            .map_err(|e| e.to_string())?;
        return if o.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&o.stderr).trim().to_string()) };
    }
    let mut m = tflite_forge::read(&std::fs::read(model).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let mut info = ImageClassifierInfo::new("hand recrop", RECROP_LABELS.lines());
    info.mean = vec![0.0];
    info.std = vec![255.0];
    info.license = Some("Apache-2.0".into());
    info.apply(&mut m).map_err(|e| e.to_string())?;
    std::fs::write(out, tflite_forge::write(&m).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

/// The classifier quantized to int8 with uint8 raw-pixel input, with labels;
/// returns its path and our evaluator's (label, score) list.
fn uint8_classifier(mean: &[f32], std: &[f32], dir: &Path) -> Result<(PathBuf, Vec<(String, f64)>), String> {
    use tflite_forge::quantize::{quantize, IoType, QuantizeOptions};
    let mut model = classifier();
    tflite_forge::passes::normalize::prepend_normalization(&mut model, 0, 0, mean, std).map_err(|e| e.to_string())?;
    let mut r = crate::common::Rng::new(77);
    let calibration: Vec<Vec<Tensor>> = (0..8)
        .map(|_| vec![Tensor::from_f32(vec![1, 16, 16, 3], (0..768).map(|_| r.below(256) as f32).collect())])
        .collect();
    let mut options = QuantizeOptions::int8(IoType::Uint8);
    options.input_range = Some((0.0, 255.0));
    let q = quantize(&model, &options, &calibration).map_err(|e| e.to_string())?;
    let mut model = q.model;
    ImageClassifierInfo::new("forge uint8 classifier", LABELS).apply(&mut model).map_err(|e| e.to_string())?;
    let path = dir.join("ours_uint8.tflite");
    std::fs::write(&path, tflite_forge::write(&model).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let sg = &model.subgraphs[0];
    let xq = sg.tensors[sg.inputs[0].index()].quantization.clone().ok_or("input not quantized")?;
    let px: Vec<f64> = image().iter().map(|p| f64::from(*p)).collect();
    let input = Tensor::new(DType::U8, vec![1, 16, 16, 3], px).with_quantization(xq);
    let outs = Evaluator::new(&model).run(0, &[input]).map_err(|e| e.to_string())?;
    let scores = outs.first().ok_or("no output")?.dequantized().map_err(|e| e.to_string())?;
    Ok((path, LABELS.iter().map(|l| l.to_string()).zip(scores).collect()))
}

/// Reads a file populated by the official writer, checks what we see, and
/// writes our rewrite.
fn read_official(populated: &PathBuf, rewritten: &PathBuf, labels: &str) -> Result<(), String> {
    let bytes = std::fs::read(populated).map_err(|e| e.to_string())?;
    let model = tflite_forge::read(&bytes).map_err(|e| format!("read: {e}"))?;
    let md = model.support_metadata().map_err(|e| e.to_string())?.ok_or("no metadata found")?;
    let sub = md.subgraph_metadata.first().ok_or("no subgraph metadata")?;
    let input = sub.input_tensor_metadata.first().ok_or("no input tensor metadata")?;
    if !input.process_units.iter().any(|u| matches!(u, ProcessUnit::Normalization { mean, std } if mean == &[127.5] && std == &[127.5])) {
        return Err(format!("normalisation 127.5/127.5 not found in {:?}", input.process_units));
    }
    let output = sub.output_tensor_metadata.first().ok_or("no output tensor metadata")?;
    let label_ref = output.associated_files.first().ok_or("no associated file on the output")?;
    if label_ref.name != "labels.txt" || label_ref.file_type != AssociatedFileType::TensorAxisLabels {
        return Err(format!("output file reference {label_ref:?}"));
    }
    if model.associated_file("labels.txt") != Some(labels.as_bytes()) {
        return Err("labels.txt missing or different in the packed files".into());
    }
    let out = tflite_forge::write(&model).map_err(|e| format!("write: {e}"))?;
    let back = tflite_forge::read(&out).map_err(|e| format!("read back: {e}"))?;
    if back != model {
        return Err("read(write(model)) != model".into());
    }
    std::fs::write(rewritten, out).map_err(|e| e.to_string())
}
