//! Which builtin ops the builder and qbuilder tiers run on int8 and int16
//! data (issue 8): the qbuilder tier's quantization of the float builder
//! cases, shared with `tests/op_set.rs` so the kernel table there is
//! checked against exactly what the conformance harness runs.

use std::collections::BTreeSet;

use tflite_forge::eval::Value;
use tflite_forge::quantize::{quantize, IoType, QuantizeError, QuantizeOptions, Quantized};
use tflite_forge::*;

use super::{Case, Rng};

/// Cases whose op is defined on non-negative inputs only. In int8 they
/// calibrate on non-negative samples, so the input's zero point is −128
/// and every quantized input the runner draws is non-negative; a negative
/// one would give NaN in float, and NaN has no defined quantized value.
/// int16 inputs are symmetric, so the qbuilder tier skips their int16 form.
pub const NON_NEGATIVE_DOMAIN: &[&str] = &["sqrt", "rsqrt"];

/// The qbuilder tier's modes: name, options, tolerance in integer steps.
/// int16: 0.2 % of the range (64 steps), as LiteRT evaluates int16
/// transcendentals through lookup tables.
pub fn qbuilder_modes() -> [(&'static str, QuantizeOptions, i64); 2] {
    [("int8", QuantizeOptions::int8(IoType::Int8), 2), ("int16", QuantizeOptions::int16x8(IoType::Int16), 64)]
}

/// Whether the qbuilder tier quantizes the case: one subgraph with float
/// inputs and outputs.
pub fn qbuilder_fits(c: &Case) -> bool {
    let m = &c.model;
    let Some(sg) = m.subgraphs.first() else { return false };
    m.subgraphs.len() == 1
        && !sg.inputs.is_empty()
        && sg.inputs.iter().chain(&sg.outputs).all(|t| sg.tensor(*t).is_some_and(|t| t.dtype == DType::F32 && t.quantization.is_none()))
}

/// The calibration samples of case number `k` (4 random batches, uniform
/// in ±2, at the case's resized shapes; non-negative for
/// [`NON_NEGATIVE_DOMAIN`]).
pub fn qbuilder_samples(case: &Case, k: usize) -> Vec<Vec<Value>> {
    let sg = &case.model.subgraphs[0];
    let mut rng = Rng::new(500 + k as u64);
    (0..4)
        .map(|_| {
            sg.inputs
                .iter()
                .filter_map(|t| sg.tensor(*t))
                .map(|t| {
                    let resized = case.resize.iter().find(|(n, _)| *n == t.name).map(|(_, s)| s.clone());
                    let shape: Vec<usize> = match resized {
                        Some(s) => s.iter().map(|d| *d as usize).collect(),
                        None => t.shape.dims().iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { 1 }).collect(),
                    };
                    let n = shape.iter().product();
                    let mut v = rng.vec(n, 2.0);
                    if NON_NEGATIVE_DOMAIN.contains(&case.name.as_str()) {
                        v.iter_mut().for_each(|x| *x = x.abs());
                    }
                    Value::from_f32(shape, v)
                })
                .collect()
        })
        .collect()
}

/// Case number `k` quantized as the qbuilder tier does it in `mode`.
pub fn qbuilder_quantize(case: &Case, k: usize, opts: &QuantizeOptions) -> Result<Quantized, QuantizeError> {
    quantize(&case.model, opts, &qbuilder_samples(case, k))
}

/// Whether the qbuilder tier skips the case in `mode` (int16 inputs are
/// symmetric; negative ones leave the op's domain).
pub fn qbuilder_skips(case: &Case, mode: &str) -> bool {
    mode == "int16" && NON_NEGATIVE_DOMAIN.contains(&case.name.as_str())
}

/// The operand whose type selects an op's kernel: the data, not an axis,
/// shape, index or condition operand.
pub fn data_slot(op: &Op) -> usize {
    match op.name() {
        "SPLIT" | "EMBEDDING_LOOKUP" | "SCATTER_ND" | "FILL" | "SELECT" | "SELECT_V2" | "LSH_PROJECTION" | "ASSIGN_VARIABLE" => 1,
        "TRANSPOSE_CONV" | "CONV_3D_TRANSPOSE" | "HASHTABLE_LOOKUP" | "SPARSE_TO_DENSE" | "ONE_HOT" => 2,
        "EMBEDDING_LOOKUP_SPARSE" => 4,
        _ => 0,
    }
}

/// Each builtin op of `m` with the type of its data operand
/// ([`data_slot`]; every operand `IF` and `WHILE` pass to their
/// subgraphs; the values a `CALL_ONCE` init subgraph assigns; a
/// `READ_VARIABLE`'s output); "none" for ops without one.
pub fn op_types(m: &Model, set: &mut BTreeSet<(String, String)>) {
    for sg in &m.subgraphs {
        for node in &sg.operators {
            if matches!(node.op, Op::Custom(_)) {
                continue;
            }
            // IF and WHILE pass every operand (less IF's condition) into
            // their subgraphs: each one's type is data of the op.
            let passed = match node.op {
                Op::If { .. } => 1..node.inputs.len(),
                Op::While { .. } => 0..node.inputs.len(),
                _ => 0..0,
            };
            if !passed.is_empty() {
                for t in passed.filter_map(|k| node.input(k)).filter_map(|t| sg.tensor(t)) {
                    set.insert((node.op.name().to_string(), t.dtype.to_string()));
                }
                continue;
            }
            // CALL_ONCE has no operands: its data are the values its init
            // subgraph assigns to variables. READ_VARIABLE's data is its
            // output (its operand is the handle).
            if let Op::CallOnce { init_subgraph } = node.op {
                let init = m.subgraphs.get(init_subgraph as usize);
                for a in init.iter().flat_map(|g| g.operators.iter().map(move |n| (g, n))).filter(|(_, n)| n.op == Op::AssignVariable) {
                    if let Some(t) = a.1.input(1).and_then(|t| a.0.tensor(t)) {
                        set.insert((node.op.name().to_string(), t.dtype.to_string()));
                    }
                }
                continue;
            }
            if node.op == Op::ReadVariable {
                if let Some(t) = node.outputs.first().and_then(|t| sg.tensor(*t)) {
                    set.insert((node.op.name().to_string(), t.dtype.to_string()));
                }
                continue;
            }
            let slot = data_slot(&node.op);
            let t = node.input(slot).or_else(|| node.input(0)).and_then(|t| sg.tensor(t)).map_or("none".to_string(), |t| t.dtype.to_string());
            set.insert((node.op.name().to_string(), t));
        }
    }
}

/// The (op, data type) pairs the builder tier (its cases as written) and
/// the qbuilder tier (the float cases quantized to int8 and 16x8) run.
pub fn tier_op_types() -> BTreeSet<(String, String)> {
    let mut set = BTreeSet::new();
    let cases = super::builder_cases();
    for case in &cases {
        op_types(&case.model, &mut set);
    }
    for (k, case) in cases.iter().enumerate() {
        if !qbuilder_fits(case) {
            continue;
        }
        for (mode, opts, _) in qbuilder_modes() {
            if qbuilder_skips(case, mode) {
                continue;
            }
            if let Ok(q) = qbuilder_quantize(case, k, &opts) {
                op_types(&q.model, &mut set);
            }
        }
    }
    set
}
