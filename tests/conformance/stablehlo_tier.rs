//! The StableHLO tier: each StableHLO op we can build alone (elementwise,
//! data movement, compare, iota, dot_general, dynamic slices) is written,
//! read back equal, and offered to LiteRT's builtin resolver. Where LiteRT
//! runs it, its outputs must equal NumPy's StableHLO semantics
//! (stablehlo_check.py); where LiteRT has no kernel, the case is reported as
//! skipped with LiteRT's own error. The closing line of the tier lists the
//! StableHLO ops LiteRT accepts.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value as Json};
use tflite_forge::read::{read_with, ReadOptions};
use tflite_forge::*;

use crate::Outcome;

struct Case {
    name: &'static str,
    model: Model,
}

/// A one-op model: inputs `ins` (dtype, shape), output `out`.
fn one_op(op: Op, ins: &[(DType, &[u32])], out: &[(DType, &[u32])]) -> Model {
    let mut sg = Subgraph::default();
    for (k, (d, s)) in ins.iter().enumerate() {
        sg.tensors.push(Tensor::new(format!("in{k}"), *d, Shape::from(*s)));
        sg.inputs.push(TensorId(k as u32));
    }
    for (k, (d, s)) in out.iter().enumerate() {
        sg.tensors.push(Tensor::new(format!("out{k}"), *d, Shape::from(*s)));
        sg.outputs.push(TensorId((ins.len() + k) as u32));
    }
    sg.operators.push(Operator::new(op, &sg.inputs.clone(), &sg.outputs.clone()));
    let mut m = Model::default();
    m.subgraphs.push(sg);
    m
}

fn cases() -> Vec<Case> {
    use DType::*;
    let s: &[u32] = &[2, 3];
    let mut v = Vec::new();
    let mut unary = |name, op| v.push(Case { name, model: one_op(op, &[(F32, s)], &[(F32, s)]) });
    unary("abs", Op::StablehloAbs);
    unary("cosine", Op::StablehloCosine);
    unary("exponential", Op::StablehloExponential);
    unary("floor", Op::StablehloFloor);
    unary("log", Op::StablehloLog);
    unary("negate", Op::StablehloNegate);
    unary("rsqrt", Op::StablehloRsqrt);
    unary("tanh", Op::StablehloTanh);
    unary("logistic", Op::StablehloLogistic);
    unary("cbrt", Op::StablehloCbrt);
    let mut binary = |name, op, d: DType| v.push(Case { name, model: one_op(op, &[(d, s), (d, s)], &[(d, s)]) });
    binary("add", Op::StablehloAdd, F32);
    binary("subtract", Op::StablehloSubtract, F32);
    binary("multiply", Op::StablehloMultiply, F32);
    binary("divide", Op::StablehloDivide, F32);
    binary("maximum", Op::StablehloMaximum, F32);
    binary("minimum", Op::StablehloMinimum, F32);
    binary("power", Op::StablehloPower, F32);
    binary("remainder", Op::StablehloRemainder, F32);
    binary("and", Op::StablehloAnd, I32);
    binary("or", Op::StablehloOr, I32);
    binary("shift_left", Op::StablehloShiftLeft, I32);
    v.push(Case { name: "clamp", model: one_op(Op::StablehloClamp, &[(F32, s), (F32, s), (F32, s)], &[(F32, s)]) });
    v.push(Case { name: "select", model: one_op(Op::StablehloSelect, &[(Bool, s), (F32, s), (F32, s)], &[(F32, s)]) });
    v.push(Case { name: "convert", model: one_op(Op::StablehloConvert, &[(F32, s)], &[(I32, s)]) });
    v.push(Case { name: "reshape", model: one_op(Op::StablehloReshape, &[(F32, s)], &[(F32, &[3, 2])]) });
    let mut cmp = StablehloCompareOptions::default();
    cmp.comparison_direction = StablehloComparisonDirection::Lt;
    cmp.compare_type = StablehloComparisonType::Float;
    v.push(Case { name: "compare", model: one_op(Op::StablehloCompare(cmp), &[(F32, s), (F32, s)], &[(Bool, s)]) });
    let mut cat = StablehloConcatenateOptions::default();
    cat.dimension = 1;
    v.push(Case { name: "concatenate", model: one_op(Op::StablehloConcatenate(cat), &[(F32, s), (F32, s)], &[(F32, &[2, 6])]) });
    let mut bid = StablehloBroadcastInDimOptions::default();
    bid.broadcast_dimensions = vec![0, 2];
    v.push(Case { name: "broadcast_in_dim", model: one_op(Op::StablehloBroadcastInDim(bid), &[(F32, s)], &[(F32, &[2, 4, 3])]) });
    let mut sl = StablehloSliceOptions::default();
    sl.start_indices = vec![0, 1];
    sl.limit_indices = vec![2, 3];
    sl.strides = vec![1, 1];
    v.push(Case { name: "slice", model: one_op(Op::StablehloSlice(sl), &[(F32, s)], &[(F32, &[2, 2])]) });
    let mut tr = StablehloTransposeOptions::default();
    tr.permutation = vec![1, 0];
    v.push(Case { name: "transpose", model: one_op(Op::StablehloTranspose(tr), &[(F32, s)], &[(F32, &[3, 2])]) });
    let mut pad = StablehloPadOptions::default();
    pad.edge_padding_low = vec![1, 0];
    pad.edge_padding_high = vec![0, 2];
    pad.interior_padding = vec![0, 1];
    v.push(Case { name: "pad", model: one_op(Op::StablehloPad(pad), &[(F32, s), (F32, &[])], &[(F32, &[3, 7])]) });
    let mut iota = StablehloIotaOptions::default();
    iota.iota_dimension = 1;
    v.push(Case { name: "iota", model: one_op(Op::StablehloIota(iota), &[], &[(F32, &[2, 4])]) });
    let mut dot = StablehloDotGeneralOptions::default();
    dot.lhs_contracting_dimensions = vec![1];
    dot.rhs_contracting_dimensions = vec![0];
    v.push(Case { name: "dot_general", model: one_op(Op::StablehloDotGeneral(dot), &[(F32, &[2, 3]), (F32, &[3, 4])], &[(F32, &[2, 4])]) });
    let mut ds = StablehloDynamicSliceOptions::default();
    ds.slice_sizes = vec![1, 2];
    v.push(Case { name: "dynamic_slice", model: one_op(Op::StablehloDynamicSlice(ds), &[(F32, s), (I32, &[]), (I32, &[])], &[(F32, &[1, 2])]) });
    v.push(Case {
        name: "dynamic_update_slice",
        model: one_op(Op::StablehloDynamicUpdateSlice, &[(F32, s), (F32, &[1, 2]), (I32, &[]), (I32, &[])], &[(F32, s)]),
    });
    v
}

pub fn stablehlo_tier(root: &Path, python: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, outcomes: &mut Vec<Outcome>) {
    if !selected("stablehlo/") {
        return;
    }
    let dir = out.join("stablehlo");
    let _ = std::fs::create_dir_all(&dir);
    let mut jobs = Vec::new();
    let mut no_validate = ReadOptions::default();
    no_validate.validate = false;
    for c in cases() {
        let name = format!("stablehlo/{}", c.name);
        if !selected(&name) {
            continue;
        }
        // Built, written, read back equal.
        let bytes = match write::write_unvalidated(&c.model, &WriteOptions::default()) {
            Ok(b) => b,
            Err(e) => {
                outcomes.push(Outcome { name, status: "failed", detail: format!("write: {e}") });
                continue;
            }
        };
        match read_with(&bytes, &no_validate) {
            Ok(back) if back == c.model => {}
            Ok(_) => {
                outcomes.push(Outcome { name: format!("{name}/round_trip"), status: "failed", detail: "read(write(m)) != m".into() });
                continue;
            }
            Err(e) => {
                outcomes.push(Outcome { name: format!("{name}/round_trip"), status: "failed", detail: e.to_string() });
                continue;
            }
        }
        let path = dir.join(format!("{}.tflite", c.name));
        std::fs::write(&path, &bytes).expect("write stablehlo case");
        jobs.push(json!({"name": name, "op": c.name, "model": path}));
    }
    if jobs.is_empty() {
        return;
    }
    let jobs_path = dir.join("jobs.json");
    std::fs::write(&jobs_path, serde_json::to_vec(&jobs).expect("json")).expect("write jobs");
    let o = Command::new(python).arg(root.join("tests/conformance/py/stablehlo_check.py")).arg(&jobs_path).output();
    let text = match o {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => return outcomes.push(Outcome { name: "stablehlo/check".into(), status: "failed", detail: String::from_utf8_lossy(&o.stderr).lines().rev().take(5).collect::<Vec<_>>().join(" | ") }),
        Err(e) => return outcomes.push(Outcome { name: "stablehlo/check".into(), status: "failed", detail: e.to_string() }),
    };
    let last = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or("{}");
    let results: Json = serde_json::from_str(last).unwrap_or(Json::Null);
    let mut accepted = Vec::new();
    for j in &jobs {
        let name = j["name"].as_str().unwrap_or("stablehlo/?");
        let r = &results[name];
        let status = match r["status"].as_str() {
            Some("passed") => {
                accepted.push(j["op"].as_str().unwrap_or("?").to_string());
                "passed"
            }
            Some("rejected") => "skipped",
            _ => "failed",
        };
        outcomes.push(Outcome { name: name.into(), status, detail: r["detail"].as_str().unwrap_or("no result").into() });
    }
    println!("stablehlo: LiteRT runs {} of {} built StableHLO ops: {}", accepted.len(), jobs.len(), accepted.join(", "));
}
