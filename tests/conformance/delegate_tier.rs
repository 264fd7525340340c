//! The delegate tier: our delegate-compatibility report
//! (`tflite_forge::delegate`) against what LiteRT's default XNNPACK
//! delegate actually claims.
//!
//! Models: the model tier's torchvision CNNs converted in both layouts,
//! every builder case as built, quantized to int8 (int8 I/O), to 16x8
//! (which XNNPACK rejects) and to float16 weights (which XNNPACK unpacks),
//! the TensorFlow converter's files of tests/fixtures/tf (float32, int8,
//! uint8), and small models made here around ops XNNPACK rejects. For each, the
//! set of primary-subgraph operators the report says XNNPACK takes must
//! equal the set the interpreter's XNNPACK delegate claims
//! (`py/delegate_check.py` explains how that is observed), and the
//! report's partition count must equal the number of DELEGATE nodes.
//! A disagreement fails the case unless it is listed in [`KNOWN_GAPS`]
//! with its explanation; the tier prints how many cases each gap covered.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;
use tflite_forge::delegate::{self, Delegate};
use tflite_forge::eval::Value;
use tflite_forge::onnx::{convert_file, ConvertOptions, IoLayout};
use tflite_forge::quantize::{quantize, IoType, QuantizeOptions};
use tflite_forge::{Activation, Conv2dOptions, DType, Dim, Model, ModelBuilder, Padding, Pool2dOptions, StridedSliceOptions};

use crate::common::{Case, Rng};
use crate::Outcome;

/// Disagreements we explain instead of fixing: (case-name substring, op
/// name, explanation). A case whose every differing op matches an entry
/// passes, and the entry's use is counted.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[];

pub fn delegate_tier(root: &Path, python: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, outcomes: &mut Vec<Outcome>) {
    if !selected("delegate/") {
        return;
    }
    let mut models: Vec<(String, Model)> = Vec::new();
    // The model tier's exports.
    if selected("delegate/model/") {
        match crate::onnx_tiers::exports(root) {
            Ok(dir) => {
                let index: Vec<Json> = std::fs::read(dir.join("index.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
                for entry in index {
                    if entry["error"].is_string() {
                        continue;
                    }
                    let onnx = dir.join(entry["onnx"].as_str().unwrap_or(""));
                    for (layout, tag) in [(IoLayout::Nhwc, "nhwc"), (IoLayout::KeepNchw, "nchw")] {
                        let name = format!("delegate/model/{}/{tag}", entry["name"].as_str().unwrap_or("?"));
                        if !selected(&name) {
                            continue;
                        }
                        let mut opts = ConvertOptions::default();
                        opts.layout = layout;
                        match convert_file(&onnx, &opts) {
                            Ok(c) => models.push((name, c.model)),
                            Err(e) => outcomes.push(Outcome { name, status: "failed", detail: format!("convert: {e}") }),
                        }
                    }
                }
            }
            Err(e) => outcomes.push(Outcome { name: "delegate/model/exports".into(), status: "failed", detail: e }),
        }
    }
    // The builder cases, as built and quantized.
    let cases = crate::common::builder_cases();
    for (k, case) in cases.iter().enumerate() {
        let name = format!("delegate/builder/{}", case.name);
        if selected(&name) {
            models.push((name, case.model.clone()));
        }
        for (mode, opts) in [
            ("int8", QuantizeOptions::int8(IoType::Int8)),
            ("int16", QuantizeOptions::int16x8(IoType::Int16)),
            ("float16", QuantizeOptions::float16()),
        ] {
            let name = format!("delegate/{mode}/{}", case.name);
            if !selected(&name) || !quantizable(case) {
                continue;
            }
            if let Ok(q) = quantize(&case.model, &opts, &samples(case, k)) {
                models.push((name, q.model));
            }
        }
    }
    // Files from TensorFlow's converter (float32, int8, uint8).
    let fixtures = root.join("tests/fixtures/tf");
    let mut files: Vec<_> = std::fs::read_dir(&fixtures).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "tflite")).collect();
    files.sort();
    for p in files {
        let name = format!("delegate/tf/{}", p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        if !selected(&name) {
            continue;
        }
        match std::fs::read(&p).map_err(|e| e.to_string()).and_then(|b| tflite_forge::read(&b).map_err(|e| e.to_string())) {
            Ok(m) => models.push((name, m)),
            Err(e) => outcomes.push(Outcome { name, status: "failed", detail: format!("read: {e}") }),
        }
    }
    for (name, m) in rejected_ops() {
        let name = format!("delegate/rejects/{name}");
        if selected(&name) {
            models.push((name, m));
        }
    }
    if models.is_empty() {
        return;
    }

    // Write, observe, compare.
    let mut paths = Vec::new();
    let mut written: Vec<(String, Model, String)> = Vec::new();
    for (name, m) in models {
        let path = out.join(format!("{}.tflite", name.replace('/', "__")));
        match tflite_forge::write(&m) {
            Ok(b) => {
                std::fs::write(&path, b).expect("write delegate case");
                let p = path.to_string_lossy().into_owned();
                paths.push(p.clone());
                written.push((name, m, p));
            }
            Err(e) => outcomes.push(Outcome { name, status: "failed", detail: format!("write: {e}") }),
        }
    }
    let list = out.join("delegate_models.json");
    let result = out.join("delegate_observed.json");
    std::fs::write(&list, serde_json::to_vec(&paths).unwrap_or_default()).expect("write model list");
    let run = Command::new(python).arg(root.join("tests/conformance/py/delegate_check.py")).arg(&list).arg(&result).output();
    let observed: Json = match run {
        Ok(o) if o.status.success() => std::fs::read(&result).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Json::Null),
        Ok(o) => {
            outcomes.push(Outcome { name: "delegate/observe".into(), status: "failed", detail: String::from_utf8_lossy(&o.stderr).chars().take(2000).collect() });
            return;
        }
        Err(e) => {
            outcomes.push(Outcome { name: "delegate/observe".into(), status: "failed", detail: e.to_string() });
            return;
        }
    };

    let mut gap_uses = vec![0usize; KNOWN_GAPS.len()];
    let (mut agree, mut ops_compared) = (0usize, 0usize);
    for (name, m, path) in &written {
        let obs = &observed[path.as_str()];
        if let Some(e) = obs["error"].as_str() {
            outcomes.push(Outcome { name: name.clone(), status: "failed", detail: format!("interpreter: {e}") });
            continue;
        }
        let report = delegate::report(m);
        let n = m.subgraphs.first().map_or(0, |s| s.operators.len());
        if obs["nodes"].as_u64() != Some(n as u64) {
            outcomes.push(Outcome { name: name.clone(), status: "failed", detail: format!("the interpreter has {} nodes, the model {n}", obs["nodes"]) });
            continue;
        }
        let ours: BTreeSet<usize> = report.taken(Delegate::Xnnpack).into_iter().filter(|(s, _)| *s == 0).map(|(_, i)| i).collect();
        let theirs: BTreeSet<usize> = obs["claimed"].as_array().into_iter().flatten().filter_map(|v| v.as_u64()).map(|v| v as usize).collect();
        ops_compared += n;
        let sg = &m.subgraphs[0];
        let op_name = |i: usize| sg.operators[i].op.name().to_string();
        let mut diffs: Vec<String> = Vec::new();
        let mut unexplained = false;
        for i in ours.symmetric_difference(&theirs) {
            let o = &report.ops[*i];
            let what = if ours.contains(i) {
                format!("{}#{i} (we say yes, XNNPACK no)", op_name(*i))
            } else {
                format!("{}#{i} (we say no: {}; XNNPACK yes)", op_name(*i), o.verdict(Delegate::Xnnpack).reason.as_ref().map(|r| r.to_string()).unwrap_or_default())
            };
            match KNOWN_GAPS.iter().position(|(c, op, _)| name.contains(c) && *op == op_name(*i)) {
                Some(g) => gap_uses[g] += 1,
                None => unexplained = true,
            }
            diffs.push(what);
        }
        let parts = report.summary(Delegate::Xnnpack).partitions_per_subgraph.first().copied().unwrap_or(0);
        let their_parts = obs["delegate_nodes"].as_u64().unwrap_or(0) as usize;
        if diffs.is_empty() && parts != their_parts {
            unexplained = true;
            diffs.push(format!("{parts} partitions, XNNPACK formed {their_parts}"));
        }
        if diffs.is_empty() {
            agree += 1;
            outcomes.push(Outcome { name: name.clone(), status: "passed", detail: format!("{}/{n} ops, {parts} partitions", theirs.len()) });
        } else {
            outcomes.push(Outcome { name: name.clone(), status: if unexplained { "failed" } else { "passed" }, detail: diffs.join(", ") });
        }
    }
    println!(
        "delegate: {agree}/{} models agree exactly with XNNPACK over {ops_compared} ops; known gaps used: {}",
        written.len(),
        KNOWN_GAPS.iter().zip(&gap_uses).map(|((c, op, _), u)| format!("{c}/{op}: {u}")).collect::<Vec<_>>().join(", ")
    );
}

fn quantizable(c: &Case) -> bool {
    let m = &c.model;
    let Some(sg) = m.subgraphs.first() else { return false };
    m.subgraphs.len() == 1
        && !sg.inputs.is_empty()
        && sg.inputs.iter().chain(&sg.outputs).all(|t| sg.tensor(*t).is_some_and(|t| t.dtype == DType::F32 && t.quantization.is_none()))
}

/// Calibration samples for a case (random, as the qbuilder tier makes them).
fn samples(case: &Case, k: usize) -> Vec<Vec<Value>> {
    let sg = &case.model.subgraphs[0];
    let mut rng = Rng::new(900 + k as u64);
    (0..2)
        .map(|_| {
            sg.inputs
                .iter()
                .filter_map(|t| sg.tensor(*t))
                .map(|t| {
                    let shape: Vec<usize> = match case.resize.iter().find(|(n, _)| *n == t.name) {
                        Some((_, s)) => s.iter().map(|d| *d as usize).collect(),
                        None => t.shape.dims().iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { 1 }).collect(),
                    };
                    let n = shape.iter().product();
                    Value::from_f32(shape, rng.vec(n, 2.0))
                })
                .collect()
        })
        .collect()
}

/// Small models around ops XNNPACK rejects, each next to a taken op so
/// the partitions are exercised too.
fn rejected_ops() -> Vec<(&'static str, Model)> {
    let mut v = Vec::new();
    let build = |f: &dyn Fn(&mut tflite_forge::SubgraphBuilder)| {
        let mut b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        f(&mut g);
        b.finish_subgraph(g).expect("subgraph");
        b.finish().expect("model")
    };
    v.push((
        "conv_then_resize_nearest",
        build(&|g| {
            let x = g.input("x", DType::F32, [1, 6, 6, 2]);
            let w = g.constant_f32("w", [3, 3, 3, 2], &[0.1; 54]);
            let y = g.conv2d(x, w, None, Conv2dOptions::new(Padding::Same, 1, 1).with_activation(Activation::Relu)).unwrap();
            let z = g.resize_nearest_neighbor(y, [12, 12], Default::default()).unwrap();
            let r = g.relu(z).unwrap();
            g.output("r", r);
        }),
    ));
    v.push((
        "softmax_beta2",
        build(&|g| {
            let x = g.input("x", DType::F32, [2, 5]);
            let r = g.relu(x).unwrap();
            let y = g.softmax(r, 2.0).unwrap();
            let z = g.relu(y).unwrap();
            g.output("z", z);
        }),
    ));
    v.push((
        "strided_slice_shrink",
        build(&|g| {
            let x = g.input("x", DType::F32, [4, 6]);
            let r = g.relu(x).unwrap();
            let y = g.strided_slice(r, &[1, 0], &[2, 6], &[1, 1], StridedSliceOptions::default().with_shrink_axis_mask(1)).unwrap();
            let z = g.relu(y).unwrap();
            g.output("z", z);
        }),
    ));
    v.push((
        "strided_slice_stride2",
        build(&|g| {
            let x = g.input("x", DType::F32, [4, 6]);
            let y = g.strided_slice(x, &[0, 0], &[4, 6], &[1, 2], StridedSliceOptions::default()).unwrap();
            let z = g.relu(y).unwrap();
            g.output("z", z);
        }),
    ));
    v.push((
        "fc_runtime_weights",
        build(&|g| {
            let x = g.input("x", DType::F32, [2, 3]);
            let w = g.input("w", DType::F32, [4, 3]);
            let y = g.fully_connected(x, w, None, Default::default()).unwrap();
            let z = g.relu(y).unwrap();
            g.output("z", z);
        }),
    ));
    v.push((
        "avg_pool_stride_over_filter",
        build(&|g| {
            let x = g.input("x", DType::F32, [1, 8, 8, 2]);
            let y = g.average_pool2d(x, Pool2dOptions::new(Padding::Valid, 2, 2, 3, 3)).unwrap();
            let z = g.relu(y).unwrap();
            g.output("z", z);
        }),
    ));
    v.push((
        "cast_and_gather_between_relus",
        build(&|g| {
            let x = g.input("x", DType::F32, [5, 3]);
            let r = g.relu(x).unwrap();
            let idx = g.constant_i32("idx", [2], &[4, 0]);
            let y = g.gather(r, idx, tflite_forge::GatherOptions::new(0)).unwrap();
            let z = g.relu(y).unwrap();
            let c = g.cast(z, DType::I32).unwrap();
            g.output("c", c);
        }),
    ));
    v.push((
        "mean_keep_dims",
        build(&|g| {
            let x = g.input("x", DType::F32, [2, 4]);
            let r = g.relu(x).unwrap();
            let m = g.mean(r, &[1], true).unwrap();
            g.output("m", m);
        }),
    ));
    v
}
