//! The TF tier, in a venv of its own with TensorFlow (requirements-tf.txt):
//! - **converter files**: small models converted by TensorFlow's
//!   TFLiteConverter in float32, full int8 and 16x8 (tf_check.py gen, cached
//!   by the script's hash; among them a fused UNIDIRECTIONAL_SEQUENCE_LSTM,
//!   whose int8 form is the full-integer kernel's with its 5 intermediates)
//!   get the reader checks: every operator typed, a
//!   lossless round trip, our op versions equal to the converter's, and
//!   bit-identical outputs in LiteRT;
//! - **MediaPipe**: the `.tflite` models shipped in the `mediapipe` wheel
//!   (downloaded with pip, not installed) get the same checks; those with
//!   MediaPipe's own custom ops are not run in LiteRT, which lacks them;
//! - **flex**: models with select-TF ops built with our `NodeDef` encoding
//!   run in TensorFlow's `tf.lite.Interpreter` (Flex delegate linked; a venv
//!   of its own, requirements-flex.txt, since TensorFlow 2.21 no longer
//!   links it) and match TensorFlow running the same ops; TensorFlow's
//!   protobuf decodes each NodeDef.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value as Json};
use tflite_forge::{AttrValue, CustomOp, DType, ModelBuilder, NodeDef, Op};

use crate::common::Rng;
use crate::npy::npy_f32;
use crate::{venv, Outcome};

const MEDIAPIPE: &str = "mediapipe==0.10.21";

fn fail(name: &str, detail: impl Into<String>) -> Outcome {
    Outcome { name: name.into(), status: "failed", detail: detail.into() }
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let o = cmd.output().map_err(|e| format!("{what}: cannot start: {e}"))?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        return Err(format!("{what} failed ({}): {}", o.status, err.lines().rev().take(8).collect::<Vec<_>>().join(" | ")));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

pub fn tf_tier(root: &Path, python: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) {
    let want_conv = selected("tf/converter/");
    let want_mp = selected("tf/mediapipe/");
    let want_flex = selected("tf/flex/");
    if !(want_conv || want_mp || want_flex) {
        return;
    }
    if want_mp {
        mediapipe(python, out, selected, jobs, outcomes);
    }
    if !(want_conv || want_flex) {
        return;
    }
    let tf_py = match venv::ensure_from(root, "requirements-tf.txt", "tf-venv") {
        Ok(p) => p,
        Err(e) => return outcomes.push(fail("tf/venv", e)),
    };
    if want_conv {
        converter_files(root, &tf_py, out, selected, jobs, outcomes);
    }
    if want_flex {
        match venv::ensure_from(root, "requirements-flex.txt", "flex-venv") {
            Ok(flex_py) => flex(root, &flex_py, python, out, selected, outcomes),
            Err(e) => outcomes.push(fail("tf/flex/venv", e)),
        }
    }
}

fn converter_files(root: &Path, tf_py: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) {
    let script = root.join("tests/conformance/py/tf_check.py");
    let key = venv::key(&[
        &std::fs::read(&script).unwrap_or_default(),
        &std::fs::read(root.join("tests/conformance/requirements-tf.txt")).unwrap_or_default(),
    ]);
    let dir = venv::cache_dir().join(format!("tf-converter-{key:016x}"));
    if !dir.join("manifest.json").exists() {
        eprintln!("conformance: converting models with TensorFlow into {} (cached for later runs)", dir.display());
        let tmp = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&tmp);
        if let Err(e) = run(Command::new(tf_py).arg(&script).arg("gen").arg(&tmp), "tf_check.py gen") {
            return outcomes.push(fail("tf/converter", e));
        }
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::rename(&tmp, &dir) {
            return outcomes.push(fail("tf/converter", format!("{}: {e}", dir.display())));
        }
    }
    let manifest: Json = match std::fs::read_to_string(dir.join("manifest.json")).map_err(|e| e.to_string()).and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string())) {
        Ok(m) => m,
        Err(e) => return outcomes.push(fail("tf/converter", format!("manifest: {e}"))),
    };
    let Some(files) = manifest["files"].as_object() else { return outcomes.push(fail("tf/converter", "manifest has no files")) };
    if files.len() < 60 {
        outcomes.push(fail("tf/converter", format!("only {} files converted", files.len())));
    }
    for (k, f) in files {
        let name = format!("tf/converter/{k}");
        if !selected(&name) {
            continue;
        }
        let Some(f) = f.as_str() else { continue };
        // The 16x8 quantizer writes the versions of its operator property
        // table, not op_version.cc's (see foreign_file).
        let strict = !k.ends_with("_int16x8");
        crate::foreign_file(&name, &dir.join(f), out, true, strict, jobs, outcomes);
    }
}

fn mediapipe(python: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) {
    let dir = venv::cache_dir().join(format!("mediapipe-models-{}", MEDIAPIPE.replace("==", "-")));
    if !dir.join(".complete").exists() {
        eprintln!("conformance: extracting the .tflite models of the {MEDIAPIPE} wheel into {} (cached)", dir.display());
        let wheels = venv::cache_dir().join("wheels");
        let _ = std::fs::remove_dir_all(&dir);
        let script = r#"
import glob, os, sys, zipfile
wheels, dest, spec = sys.argv[1], sys.argv[2], sys.argv[3]
name, version = spec.split("==")
found = [w for w in glob.glob(os.path.join(wheels, name + "-" + version + "-*.whl"))]
if not found:
    raise SystemExit("no wheel for " + spec)
os.makedirs(dest, exist_ok=True)
z = zipfile.ZipFile(found[0])
n = 0
for i in z.infolist():
    if i.filename.endswith(".tflite"):
        open(os.path.join(dest, os.path.basename(i.filename)), "wb").write(z.read(i))
        n += 1
print(n)
"#;
        let dl = run(
            Command::new(python)
                .args(["-m", "pip", "download", "--disable-pip-version-check", "--quiet", "--no-deps", "-d"])
                .arg(&wheels)
                .arg(MEDIAPIPE)
                .env("PIP_CACHE_DIR", venv::cache_dir().join("pip")),
            "pip download mediapipe",
        );
        if let Err(e) = dl {
            return outcomes.push(fail("tf/mediapipe", e));
        }
        if let Err(e) = run(Command::new(python).arg("-c").arg(script).arg(&wheels).arg(&dir).arg(MEDIAPIPE), "extract .tflite") {
            return outcomes.push(fail("tf/mediapipe", e));
        }
        let _ = std::fs::write(dir.join(".complete"), b"ok");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "tflite")).collect())
        .unwrap_or_default();
    files.sort();
    if files.len() < 10 {
        outcomes.push(fail("tf/mediapipe", format!("only {} models in {}", files.len(), dir.display())));
    }
    for f in files {
        let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let name = format!("tf/mediapipe/{stem}");
        if !selected(&name) {
            continue;
        }
        // MediaPipe's own custom ops are not in LiteRT's resolver.
        let custom = std::fs::read(&f)
            .ok()
            .and_then(|b| tflite_forge::read(&b).ok())
            .is_some_and(|m| m.subgraphs.iter().any(|sg| sg.operators.iter().any(|o| matches!(o.op, Op::Custom(_)))));
        // Files made by older converters carry the versions of their time.
        crate::foreign_file(&name, &f, out, !custom, false, jobs, outcomes);
    }
}

struct FlexCase {
    name: &'static str,
    op: &'static str,
    /// The TensorFlow computation it must equal (tf_check.py's references).
    reference: &'static str,
    model: tflite_forge::Model,
    inputs: Vec<(Vec<usize>, Vec<f32>)>,
}

fn flex_cases() -> Vec<FlexCase> {
    let mut v = Vec::new();
    let mut r = Rng::new(77);
    // FlexErf: TFLite has no ERF builtin.
    {
        let mut b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let x = g.input("x", DType::F32, [2, 5]);
        let y = g.add_tensor(tflite_forge::Tensor::new("y", DType::F32, [2, 5]));
        let node = NodeDef::new("erf", "Erf").input("x").attr("T", AttrValue::Type(DType::F32));
        g.add_operator(tflite_forge::Operator::new(Op::Custom(CustomOp::flex_node(&node)), &[x], &[y])).expect("erf node");
        g.output("y", y);
        b.finish_subgraph(g).expect("erf subgraph");
        v.push(FlexCase { name: "erf", op: "Erf", reference: "erf", model: b.finish().expect("erf model"), inputs: vec![(vec![2, 5], r.vec(10, 2.0))] });
    }
    // FlexAtanh: no builtin either.
    {
        let mut b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let x = g.input("x", DType::F32, [3, 4]);
        let y = g.add_tensor(tflite_forge::Tensor::new("y", DType::F32, [3, 4]));
        let node = NodeDef::new("atanh", "Atanh").input("x").attr("T", AttrValue::Type(DType::F32));
        g.add_operator(tflite_forge::Operator::new(Op::Custom(CustomOp::flex_node(&node)), &[x], &[y])).expect("atanh node");
        g.output("y", y);
        b.finish_subgraph(g).expect("atanh subgraph");
        v.push(FlexCase { name: "atanh", op: "Atanh", reference: "atanh", model: b.finish().expect("atanh model"), inputs: vec![(vec![3, 4], r.vec(12, 0.9))] });
    }
    // FlexRoll with constant shift and axis, between builtin ops.
    {
        let mut b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let x = g.input("x", DType::F32, [2, 6]);
        let h = g.relu(x).expect("relu");
        let shift = g.constant_i32("shift", [1], &[2]);
        let axis = g.constant_i32("axis", [1], &[1]);
        let y = g.add_tensor(tflite_forge::Tensor::new("rolled", DType::F32, [2, 6]));
        let node = NodeDef::new("roll", "Roll")
            .input("x")
            .input("shift")
            .input("axis")
            .attr("T", AttrValue::Type(DType::F32))
            .attr("Tshift", AttrValue::Type(DType::I32))
            .attr("Taxis", AttrValue::Type(DType::I32));
        g.add_operator(tflite_forge::Operator::new(Op::Custom(CustomOp::flex_node(&node)), &[h, shift, axis], &[y])).expect("roll node");
        g.output("y", y);
        b.finish_subgraph(g).expect("roll subgraph");
        v.push(FlexCase { name: "roll_after_relu", op: "Roll", reference: "relu_roll_2_1", model: b.finish().expect("roll model"), inputs: vec![(vec![2, 6], r.vec(12, 2.0))] });
    }
    v
}

/// ONNX backend node tests whose op the Flex fallback covers: converted
/// with `allow_flex` and a table without that op's builtin lowering (so the
/// Flex path is the one tested), then run with the Flex delegate against
/// ONNX's expected outputs.
const ONNX_FLEX_CASES: &[(&str, &str)] = &[
    ("test_det_2d", "Det"),
    ("test_det_nd", "Det"),
    ("test_bitwise_and_i32_2d", "BitwiseAnd"),
    ("test_bitwise_or_i32_2d", "BitwiseOr"),
    ("test_cumsum_2d_axis_1", "CumSum"),
    ("test_cumsum_1d_reverse_exclusive", "CumSum"),
    ("test_einsum_transpose", "Einsum"),
];

fn onnx_flex_jobs(python: &Path, root: &Path, dir: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) {
    if !ONNX_FLEX_CASES.iter().any(|(c, _)| selected(&format!("tf/flex/onnx_{c}"))) {
        return;
    }
    let cases = dir.join("node_cases");
    if let Err(e) = run(Command::new(python).arg(root.join("tests/conformance/py/onnx_node_cases.py")).arg(&cases), "onnx_node_cases.py") {
        return outcomes.push(fail("tf/flex/onnx", e));
    }
    for (case, op) in ONNX_FLEX_CASES {
        let name = format!("tf/flex/onnx_{case}");
        if !selected(&name) {
            continue;
        }
        let cdir = cases.join(case);
        let mut opts = tflite_forge::onnx::ConvertOptions::default();
        opts.layout = tflite_forge::onnx::IoLayout::KeepNchw;
        opts.allow_flex = true;
        let mut reg = tflite_forge::onnx::Registry::empty();
        for e in tflite_forge::onnx::Registry::default().entries().iter().filter(|e| e.op_type != *op) {
            reg.register(e.clone());
        }
        opts.registry = Some(reg);
        let conv = match tflite_forge::onnx::convert_file(cdir.join("model.onnx"), &opts) {
            Ok(c) => c,
            Err(e) => {
                outcomes.push(fail(&name, format!("convert: {e}")));
                continue;
            }
        };
        if conv.report.flex_ops.is_empty() {
            outcomes.push(fail(&name, "no Flex op in the conversion"));
            continue;
        }
        let model = dir.join(format!("onnx_{case}.tflite"));
        match tflite_forge::write(&conv.model) {
            Ok(b) => std::fs::write(&model, b).expect("write flex model"),
            Err(e) => {
                outcomes.push(fail(&name, format!("write: {e}")));
                continue;
            }
        }
        let files = |prefix: &str| -> Vec<PathBuf> { (0..8).map(|k| cdir.join(format!("{prefix}_{k}.npy"))).take_while(|p| p.exists()).collect() };
        jobs.push(json!({"name": name, "model": model, "inputs": files("input"), "outputs": files("output")}));
    }
}

fn flex(root: &Path, tf_py: &Path, python: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, outcomes: &mut Vec<Outcome>) {
    let dir = out.join("flex");
    let _ = std::fs::create_dir_all(&dir);
    let mut jobs = Vec::new();
    onnx_flex_jobs(python, root, &dir, selected, &mut jobs, outcomes);
    for c in flex_cases() {
        let name = format!("tf/flex/{}", c.name);
        if !selected(&name) {
            continue;
        }
        let model = dir.join(format!("{}.tflite", c.name));
        match tflite_forge::write(&c.model) {
            Ok(b) => std::fs::write(&model, b).expect("write flex model"),
            Err(e) => {
                outcomes.push(fail(&name, format!("write: {e}")));
                continue;
            }
        }
        let mut inputs = Vec::new();
        for (k, (shape, data)) in c.inputs.iter().enumerate() {
            let p = dir.join(format!("{}__in{k}.npy", c.name));
            std::fs::write(&p, npy_f32(shape, data)).expect("write npy");
            inputs.push(p);
        }
        // The op's inputs beyond the graph inputs are constants in the file.
        jobs.push(json!({"name": name, "model": model, "op": c.op, "ref": c.reference, "inputs": inputs}));
        // Our model must not need the flex delegate anywhere but this op.
        let custom: Vec<String> = c.model.subgraphs[0].operators.iter().filter_map(|o| if let Op::Custom(x) = &o.op { Some(x.name.clone()) } else { None }).collect();
        if custom != [format!("Flex{}", c.op)] {
            outcomes.push(fail(&name, format!("custom ops {custom:?}")));
        }
    }
    if jobs.is_empty() {
        return;
    }
    let jobs_path = dir.join("jobs.json");
    std::fs::write(&jobs_path, serde_json::to_vec(&jobs).expect("jobs json")).expect("write jobs");
    let text = match run(Command::new(tf_py).arg(root.join("tests/conformance/py/tf_check.py")).arg("flex").arg(&jobs_path), "tf_check.py flex") {
        Ok(t) => t,
        Err(e) => return outcomes.push(fail("tf/flex", e)),
    };
    let last = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or("{}");
    let results: Json = serde_json::from_str(last).unwrap_or(Json::Null);
    for j in &jobs {
        let name = j["name"].as_str().unwrap_or("tf/flex/?");
        let r = &results[name];
        let ok = r["ok"].as_bool() == Some(true);
        outcomes.push(Outcome { name: name.into(), status: if ok { "passed" } else { "failed" }, detail: r["detail"].as_str().unwrap_or("no result").into() });
    }
}
