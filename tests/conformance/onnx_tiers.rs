//! The ONNX tiers: real torchvision exports (model tier) and the ONNX
//! backend node tests (node tier), converted by us and judged by LiteRT
//! against onnxruntime's or the test's expected outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tflite_forge::onnx::{convert_file, ConvertOptions, IoLayout, OnnxError};
use tflite_forge::Op;

use crate::{venv, Outcome};

pub(crate) fn count_transposes(m: &tflite_forge::Model) -> usize {
    m.subgraphs.iter().flat_map(|s| &s.operators).filter(|o| o.op == Op::Transpose).count()
}

pub(crate) fn total_ops(m: &tflite_forge::Model) -> usize {
    m.subgraphs.iter().map(|s| s.operators.len()).sum()
}

/// Exports the torchvision models once per (requirements, script) version
/// into the cache.
pub(crate) fn exports(root: &Path) -> Result<PathBuf, String> {
    cached_export(root, "export_models.py", "exports", "torchvision models")
}

/// Runs an export script of the model tier's venv into a cache directory
/// keyed by the requirements and the script, once; later runs reuse it.
fn cached_export(root: &Path, script: &str, prefix: &str, what: &str) -> Result<PathBuf, String> {
    cached_export_in(root, ["requirements-models.txt", "models-venv"], script, &[], prefix, what)
}

/// [`cached_export`] in the venv of `[requirements file, venv prefix]`,
/// with extra script arguments (part of the cache key).
pub(crate) fn cached_export_in(root: &Path, [requirements, venv_prefix]: [&str; 2], script: &str, args: &[&str], prefix: &str, what: &str) -> Result<PathBuf, String> {
    let py = venv::ensure_from(root, requirements, venv_prefix)?;
    let path = root.join("tests/conformance/py").join(script);
    let req = std::fs::read(root.join("tests/conformance").join(requirements)).map_err(|e| e.to_string())?;
    let code = std::fs::read(&path).map_err(|e| e.to_string())?;
    // Without arguments the key is the one the model tiers always had
    // (their caches stay valid).
    let joined = args.join(" ");
    let key = if args.is_empty() { venv::key(&[&req, &code]) } else { venv::key(&[&req, &code, joined.as_bytes()]) };
    let dir = venv::cache_dir().join(format!("{prefix}-{key:016x}"));
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("conformance: exporting {what} to {} (cached for later runs)", dir.display());
    let started = std::time::Instant::now();
    let out = Command::new(&py).arg(&path).arg(&dir).args(args).output().map_err(|e| format!("{script}: {e}"))?;
    eprintln!("conformance: exported {what} in {:.1} s", started.elapsed().as_secs_f64());
    if !out.status.success() {
        return Err(format!("{script} failed: {}", String::from_utf8_lossy(&out.stderr).lines().rev().take(5).collect::<Vec<_>>().join(" | ")));
    }
    std::fs::write(dir.join(".complete"), b"ok").map_err(|e| e.to_string())?;
    Ok(dir)
}

/// The model tier: each export converts, runs at batch 1 and 2, matches
/// onnxruntime, and has no TRANSPOSE (NHWC I/O) or at most one (NCHW I/O).
pub fn model_tier(root: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    if !selected("model/") {
        return;
    }
    let dir = match exports(root) {
        Ok(d) => d,
        Err(e) => {
            outcomes.push(Outcome { name: "model/exports".into(), status: "failed", detail: e });
            return;
        }
    };
    let index: Vec<Value> = match std::fs::read(dir.join("index.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
        Some(v) => v,
        None => {
            outcomes.push(Outcome { name: "model/exports".into(), status: "failed", detail: "no index.json".into() });
            return;
        }
    };
    for entry in index {
        let name = format!("model/{}", entry["name"].as_str().unwrap_or("?"));
        if !selected(&name) {
            continue;
        }
        if let Some(e) = entry["error"].as_str() {
            outcomes.push(Outcome { name, status: "failed", detail: format!("export failed: {e}") });
            continue;
        }
        let onnx = dir.join(entry["onnx"].as_str().unwrap_or(""));
        for (layout, tag) in [(IoLayout::Nhwc, "nhwc"), (IoLayout::KeepNchw, "nchw")] {
            let mut opts = ConvertOptions::default();
            opts.layout = layout;
            let conv = match convert_file(&onnx, &opts) {
                Ok(c) => c,
                Err(e) => {
                    outcomes.push(Outcome { name: format!("{name}/{tag}/converts"), status: "failed", detail: e.to_string() });
                    continue;
                }
            };
            let t = count_transposes(&conv.model);
            let model = entry["model"].as_str().unwrap_or("");
            // A ViT's own permutes (attention heads) stay: reported, not limited.
            let transformer = model.starts_with("vit_");
            let limit = if layout == IoLayout::Nhwc { 0 } else { 1 };
            let n_ops = total_ops(&conv.model);
            let mut detail = if transformer { format!("{n_ops} ops, {t} TRANSPOSE (the model's own permutes)") } else { format!("{n_ops} ops, {t} TRANSPOSE (limit {limit})") };
            let mut ok = transformer || t <= limit;
            if entry["model"].as_str() == Some("resnet18") && layout == IoLayout::Nhwc {
                detail.push_str(", ResNet-18 limit 38 ops");
                ok &= n_ops <= 38;
            }
            outcomes.push(Outcome { name: format!("{name}/{tag}/converts_without_transposes"), status: if ok { "passed" } else { "failed" }, detail });
            let path = out.join(format!("{}.{tag}.tflite", name.replace('/', "__")));
            match tflite_forge::write(&conv.model) {
                Ok(b) => std::fs::write(&path, b).expect("write model"),
                Err(e) => {
                    outcomes.push(Outcome { name: format!("{name}/{tag}/writes"), status: "failed", detail: e.to_string() });
                    continue;
                }
            }
            for b in entry["batches"].as_array().into_iter().flatten() {
                let batch = b["batch"].as_u64().unwrap_or(0);
                if layout == IoLayout::KeepNchw && batch != 1 {
                    continue;
                }
                let latency = (layout == IoLayout::Nhwc && batch == 1 && matches!(model, "resnet18" | "mobilenet_v2")).then(|| json!({"runs": 20, "threads": 1}));
                jobs.push(json!({
                    "name": format!("{name}/{tag}/batch{batch}_matches_onnxruntime"),
                    "kind": "expected", "model": path,
                    "inputs": [dir.join(b["input"].as_str().unwrap_or(""))],
                    "outputs": [dir.join(b["output"].as_str().unwrap_or(""))],
                    "input_layout": [if layout == IoLayout::Nhwc { "nhwc" } else { "same" }],
                    "rtol": 0.0, "atol": 1.0,
                    // Twelve transformer layers accumulate more float
                    // rounding than a CNN: the bound for them.
                    "max_abs_rel_tol": if transformer { 1e-3 } else { 1e-4 },
                    "min_cosine": if transformer { 0.9999 } else { 0.99999 },
                    "resize": true, "delegate": "default",
                    "latency": latency,
                }));
            }
        }
    }
}

/// The entries of an export script's index (`[script, cache prefix,
/// what]`, cached by [`cached_export`]) that `selected` picks, named
/// `tier/<entry>`; an export that failed becomes a failed outcome. `None`
/// when the tier is not selected or the export as a whole failed.
pub(crate) fn exported_entries(root: &Path, tier: &str, [script, prefix, what]: [&str; 3], selected: &dyn Fn(&str) -> bool, outcomes: &mut Vec<Outcome>) -> Option<(PathBuf, Vec<(String, Value)>)> {
    if !selected(&format!("{tier}/")) {
        return None;
    }
    let fail = |detail: String| Outcome { name: format!("{tier}/exports"), status: "failed", detail };
    let dir = match cached_export(root, script, prefix, what) {
        Ok(d) => d,
        Err(e) => {
            outcomes.push(fail(e));
            return None;
        }
    };
    let index: Vec<Value> = std::fs::read(dir.join("index.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    if index.is_empty() {
        outcomes.push(fail("no index.json".into()));
        return None;
    }
    let mut entries = Vec::new();
    for entry in index {
        let name = format!("{tier}/{}", entry["name"].as_str().unwrap_or("?"));
        if !selected(&name) {
            continue;
        }
        match entry["error"].as_str() {
            Some(e) => outcomes.push(Outcome { name, status: "failed", detail: format!("export failed: {e}") }),
            None => entries.push((name, entry)),
        }
    }
    Some((dir, entries))
}

/// The run-time-shape tier: small transformers, a detector, a text
/// recogniser and a recurrent preamble, exported with symbolic sizes by
/// both torch exporters. Each converts once, keeps its symbolic sizes
/// dynamic, and matches onnxruntime in LiteRT at every size it is run at
/// (after `resize_tensor_input`), with cosine ≥ 0.9999 and max|diff| ≤
/// 1e-3 · max|ref|. The TRANSPOSE count is reported.
pub fn dynamic_tier(root: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    let Some((dir, entries)) = exported_entries(root, "dynamic", ["export_dynamic_models.py", "dynamic-exports", "run-time-shape models"], selected, outcomes) else { return };
    for (name, entry) in entries {
        let image = entry["image"].as_bool() == Some(true);
        let conv = match convert_file(dir.join(entry["onnx"].as_str().unwrap_or("")), &ConvertOptions::default()) {
            Ok(c) => c,
            Err(e) => {
                outcomes.push(Outcome { name: format!("{name}/converts"), status: "failed", detail: e.to_string() });
                continue;
            }
        };
        let sg = &conv.model.subgraphs[0];
        let dynamic = sg.inputs.iter().flat_map(|t| sg.tensors[t.index()].shape.dims().to_vec()).filter(|d| *d == tflite_forge::Dim::Dynamic).count();
        let detail = format!(
            "{} ops, {} TRANSPOSE, {} SHAPE; dynamic input dims: {} ({})",
            total_ops(&conv.model),
            count_transposes(&conv.model),
            sg.operators.iter().filter(|o| matches!(o.op, Op::Shape(_))).count(),
            dynamic,
            conv.report.dynamic_dims.join(", ")
        );
        outcomes.push(Outcome { name: format!("{name}/converts_with_dynamic_dims"), status: if dynamic > 0 { "passed" } else { "failed" }, detail });
        let path = out.join(format!("{}.tflite", name.replace('/', "__")));
        match tflite_forge::write(&conv.model) {
            Ok(b) => std::fs::write(&path, b).expect("write model"),
            Err(e) => {
                outcomes.push(Outcome { name: format!("{name}/writes"), status: "failed", detail: e.to_string() });
                continue;
            }
        }
        for r in entry["runs"].as_array().into_iter().flatten() {
            let shape: Vec<String> = r["input_shape"].as_array().into_iter().flatten().map(|v| v.to_string()).collect();
            let rank4 = shape.len() == 4;
            jobs.push(json!({
                "name": format!("{name}/at_{}_matches_onnxruntime", shape.join("x")),
                "kind": "expected", "model": path,
                "inputs": [dir.join(r["input"].as_str().unwrap_or(""))],
                "outputs": [dir.join(r["output"].as_str().unwrap_or(""))],
                "input_layout": [if image && rank4 { "nhwc" } else { "same" }],
                "rtol": 0.0, "atol": 1.0, "max_abs_rel_tol": 1e-3, "min_cosine": 0.9999,
                "resize": true, "delegate": "default",
            }));
        }
    }
}

/// Runs onnxruntime's latency script for the latency-reported models.
pub fn ort_latencies(root: &Path) -> Vec<String> {
    let Ok(py) = venv::ensure(root) else { return vec![] };
    let Ok(dir) = exports(root) else { return vec![] };
    let mut lines = Vec::new();
    for m in ["resnet18", "mobilenet_v2"] {
        let out = Command::new(&py)
            .arg(root.join("tests/conformance/py/ort_latency.py"))
            .arg(dir.join(format!("{m}.legacy.onnx")))
            .arg(dir.join(format!("{m}.legacy.b1.input.npy")))
            .args(["--runs", "20"])
            .output();
        if let Ok(o) = out {
            lines.push(format!("onnxruntime {m}: {}", String::from_utf8_lossy(&o.stdout).trim()));
        }
    }
    lines
}

/// The node tier: every ONNX backend node test whose ops are all in the
/// lowering table (or folded) is converted with the NCHW interface and run;
/// what cannot be converted is reported by reason code.
pub fn node_tier(root: &Path, python: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) -> BTreeMap<String, usize> {
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    if !selected("node/") {
        return unsupported;
    }
    let dir = out.join("node_cases");
    let st = Command::new(python).arg(root.join("tests/conformance/py/onnx_node_cases.py")).arg(&dir).output();
    if !st.as_ref().is_ok_and(|o| o.status.success()) {
        outcomes.push(Outcome { name: "node/dump".into(), status: "failed", detail: "onnx_node_cases.py failed".into() });
        return unsupported;
    }
    let index: Vec<Value> = std::fs::read(dir.join("index.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let registry = tflite_forge::onnx::Registry::default();
    let known: Vec<&str> = registry.entries().iter().map(|e| e.op_type).chain(tflite_forge::onnx::table::FOLDABLE.iter().copied()).collect();
    let mut out_of_scope = 0;
    for case in index {
        let cname = case["name"].as_str().unwrap_or("?").to_string();
        let name = format!("node/{cname}");
        if !selected(&name) {
            continue;
        }
        let ops: Vec<&str> = case["op_types"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
        if ops.is_empty() || !ops.iter().all(|o| known.contains(o)) || case["dumpable"].as_bool() == Some(false) {
            out_of_scope += 1;
            continue;
        }
        let cdir = dir.join(case["dir"].as_str().unwrap_or(&cname));
        let mut opts = ConvertOptions::default();
        opts.layout = IoLayout::KeepNchw;
        match convert_file(cdir.join("model.onnx"), &opts) {
            Err(OnnxError::UnsupportedOnnxOp { reason_code, op_type, detail, .. }) => {
                *unsupported.entry(reason_code.as_str().to_string()).or_default() += 1;
                if std::env::var_os("CONFORMANCE_VERBOSE").is_some() {
                    eprintln!("{name}: unsupported {op_type}: {reason_code}: {detail}");
                }
            }
            Err(e) => {
                let kind = match &e {
                    OnnxError::Model(_) => "invalid_result",
                    OnnxError::Invalid(_) => "invalid_model",
                    OnnxError::Limit(_) => "limit",
                    _ => "other",
                };
                *unsupported.entry(kind.to_string()).or_default() += 1;
                if std::env::var_os("CONFORMANCE_VERBOSE").is_some() {
                    eprintln!("{name}: {e}");
                }
            }
            Ok(conv) => {
                let path = out.join(format!("node__{cname}.tflite"));
                match tflite_forge::write(&conv.model) {
                    Ok(b) => std::fs::write(&path, b).expect("write node case"),
                    Err(e) => {
                        outcomes.push(Outcome { name, status: "failed", detail: format!("write: {e}") });
                        continue;
                    }
                }
                let n_in = case["n_inputs"].as_u64().unwrap_or(0);
                let n_out = case["n_outputs"].as_u64().unwrap_or(0);
                jobs.push(json!({
                    "name": name, "kind": "expected", "model": path,
                    "inputs": (0..n_in).map(|i| cdir.join(format!("input_{i}.npy"))).collect::<Vec<_>>(),
                    "outputs": (0..n_out).map(|i| cdir.join(format!("output_{i}.npy"))).collect::<Vec<_>>(),
                    // The tolerances of ONNX's own backend test runner.
                    "rtol": 1e-3, "atol": 1e-7, "resize": true, "delegate": "default",
                }));
            }
        }
    }
    unsupported.insert("(op not in the table)".into(), out_of_scope);
    unsupported
}

/// The recurrent and control-flow tier (export_recurrent_models.py): an LSTM
/// classifier and a bidirectional GRU with dynamic batch and sequence, a
/// speech model (STFT as a Conv1d, reflect padding, an If on the sample
/// rate, a 2-layer LSTM with state inputs and outputs) and a CNN+LSTM CTC
/// recogniser, from both torch exporters. Each converts once, with its
/// symbolic sizes dynamic, and matches onnxruntime in LiteRT at every size
/// it is run at with cosine ≥ 0.9999; the form each recurrent and If node
/// took is reported.
pub fn recurrent_tier(root: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    let Some((dir, entries)) = exported_entries(root, "recurrent", ["export_recurrent_models.py", "recurrent-exports", "recurrent and control-flow models"], selected, outcomes) else { return };
    for (name, entry) in entries {
        let conv = match convert_file(dir.join(entry["onnx"].as_str().unwrap_or("")), &ConvertOptions::default()) {
            Ok(c) => c,
            Err(e) => {
                outcomes.push(Outcome { name: format!("{name}/converts"), status: "failed", detail: e.to_string() });
                continue;
            }
        };
        let forms: Vec<String> = conv.report.node_forms.iter().map(|(n, f)| format!("{n}: {f}")).collect();
        let detail = format!("{} ops in {} subgraph(s), {} TRANSPOSE; dynamic: {}; forms: {}", total_ops(&conv.model), conv.model.subgraphs.len(), count_transposes(&conv.model), conv.report.dynamic_dims.join(", "), forms.join("; "));
        let dynamic = !conv.report.dynamic_dims.is_empty();
        outcomes.push(Outcome { name: format!("{name}/converts_with_dynamic_dims"), status: if dynamic { "passed" } else { "failed" }, detail });
        let path = out.join(format!("{}.tflite", name.replace('/', "__")));
        match tflite_forge::write(&conv.model) {
            Ok(b) => std::fs::write(&path, b).expect("write model"),
            Err(e) => {
                outcomes.push(Outcome { name: format!("{name}/writes"), status: "failed", detail: e.to_string() });
                continue;
            }
        }
        let images: Vec<bool> = entry["image"].as_array().into_iter().flatten().map(|v| v.as_bool() == Some(true)).collect();
        let fed: Vec<&str> = entry["fed"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
        let all: Vec<&str> = entry["inputs"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
        for (k, r) in entry["runs"].as_array().into_iter().flatten().enumerate() {
            let files = |key: &str| -> Vec<PathBuf> { r[key].as_array().into_iter().flatten().filter_map(|v| v.as_str()).map(|f| dir.join(f)).collect() };
            let layouts: Vec<&str> = all.iter().zip(&images).filter(|(n, _)| fed.contains(n)).map(|(_, img)| if *img { "nhwc" } else { "same" }).collect();
            jobs.push(json!({
                "name": format!("{name}/run{k}_matches_onnxruntime"),
                "kind": "expected", "model": path,
                "inputs": files("inputs"),
                "outputs": files("outputs"),
                "input_layout": layouts,
                "rtol": 0.0, "atol": 1.0, "max_abs_rel_tol": 1e-3, "min_cosine": 0.9999,
                "resize": true, "delegate": "default",
            }));
        }
    }
}

/// The quantized-ONNX tier. A ResNet-style model quantized by
/// onnxruntime's `quantize_static` (QDQ; uint8 activations with per-tensor
/// weights, and int8 activations with per-channel weights) must convert to
/// int8 CONV_2D ops (int8 input, filter and output, no DEQUANTIZE feeding a
/// CONV_2D, no float CONV_2D) and agree with onnxruntime within one
/// quantization step of the output on ≥ 99 % of the output elements. A
/// model quantized by `quantize_dynamic` (DynamicQuantizeLinear,
/// MatMulInteger) must match onnxruntime within max|diff| ≤ 1e-4·max|ref|:
/// the integer products are exact here and in onnxruntime, and the
/// dynamic activation quantization is computed by the same formula, so
/// only float rounding of the rescaling differs.
pub fn quant_tier(root: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    let Some((dir, entries)) = exported_entries(root, "quant", ["export_quant_models.py", "quant-exports", "onnxruntime-quantized models"], selected, outcomes) else { return };
    for (name, entry) in entries {
        let conv = match convert_file(dir.join(entry["onnx"].as_str().unwrap_or("")), &ConvertOptions::default()) {
            Ok(c) => c,
            Err(e) => {
                outcomes.push(Outcome { name: format!("{name}/converts"), status: "failed", detail: e.to_string() });
                continue;
            }
        };
        let hist: Vec<String> = conv.report.op_histogram.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        let static_q = entry["kind"].as_str() == Some("static");
        if static_q {
            let sg = &conv.model.subgraphs[0];
            let dtype = |t: Option<tflite_forge::TensorId>| t.map(|t| sg.tensors[t.index()].dtype);
            let convs: Vec<_> = sg.operators.iter().filter(|o| matches!(o.op, Op::Conv2d(_) | Op::DepthwiseConv2d(_) | Op::FullyConnected(_))).collect();
            let int8 = convs.iter().all(|o| {
                dtype(o.input(0)) == Some(tflite_forge::DType::I8) && dtype(o.input(1)) == Some(tflite_forge::DType::I8) && dtype(o.outputs.first().copied()) == Some(tflite_forge::DType::I8)
            });
            let dq_fed = convs.iter().any(|o| sg.operators.iter().any(|p| p.op == Op::Dequantize && o.input(0).is_some_and(|i| p.outputs.contains(&i))));
            let n_conv = convs.iter().filter(|o| matches!(o.op, Op::Conv2d(_))).count();
            let ok = int8 && !dq_fed && n_conv > 0 && conv.report.warnings.iter().all(|w| !w.contains("quantized node"));
            outcomes.push(Outcome {
                name: format!("{name}/int8_ops"),
                status: if ok { "passed" } else { "failed" },
                detail: format!("{} ({n_conv} CONV_2D, all int8: {int8}, fed by DEQUANTIZE: {dq_fed}); warnings: {:?}", hist.join(" "), conv.report.warnings),
            });
        } else {
            outcomes.push(Outcome { name: format!("{name}/converts"), status: "passed", detail: hist.join(" ") });
        }
        let path = out.join(format!("{}.tflite", name.replace('/', "__")));
        match tflite_forge::write(&conv.model) {
            Ok(b) => std::fs::write(&path, b).expect("write model"),
            Err(e) => {
                outcomes.push(Outcome { name: format!("{name}/writes"), status: "failed", detail: e.to_string() });
                continue;
            }
        }
        let image = entry["image"].as_bool() == Some(true);
        for (k, r) in entry["runs"].as_array().into_iter().flatten().enumerate() {
            let mut job = json!({
                "name": format!("{name}/run{k}_matches_onnxruntime"),
                "kind": "expected", "model": path,
                "inputs": [dir.join(r["input"].as_str().unwrap_or(""))],
                "outputs": [dir.join(r["output"].as_str().unwrap_or(""))],
                "input_layout": [if image { "nhwc" } else { "same" }],
                "delegate": "default",
            });
            if static_q {
                let step = entry["output_scale"].as_f64().unwrap_or(0.0);
                job["rtol"] = json!(0.0);
                job["atol"] = json!(8.0 * step);
                job["step"] = json!(step);
                job["max_steps"] = json!(1);
                job["min_fraction"] = json!(0.99);
            } else {
                job["rtol"] = json!(0.0);
                job["atol"] = json!(1.0);
                job["max_abs_rel_tol"] = json!(1e-4);
            }
            jobs.push(job);
        }
    }
}
