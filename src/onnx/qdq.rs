//! QDQ graphs (QuantizeLinear / DequantizeLinear around float ops, as
//! onnxruntime's `quantize_static` writes them in QDQ format) become
//! quantized nodes before lowering, so that they lower to TFLite int8 ops
//! instead of DEQUANTIZE → float op → QUANTIZE chains.
//!
//! A node `op` whose data inputs all come from DequantizeLinear nodes with
//! constant per-tensor parameters (per-axis ones for the weights of Conv,
//! MatMul and Gemm), and whose only output is read only by QuantizeLinear
//! nodes with the same constant per-tensor int8 / uint8 parameters, is
//! replaced by one node `tflite_forge::QOp` that carries the op type
//! (`qdq_op`), which input slots are quantized (`qdq_slots`), the original
//! attributes, and as inputs: per original slot either `(q, scale,
//! zero_point)` (quantized) or the original input, then the output's
//! `(scale, zero_point)`. Its output is the QuantizeLinear's. The
//! DequantizeLinear nodes left without readers are removed. The lowering
//! (`lower/qlinear.rs`) emits int8 ops, or, where it cannot, the exact
//! float form (DEQUANTIZE → float op → quantize).

use crate::model::DType;
use crate::onnx::ir::{Attr, OGraph, ONode, TensorData};
use crate::onnx::patterns::FUSED_DOMAIN;

/// The op type of the fused nodes.
pub const QOP: &str = "QOp";

/// Ops rewritten, and which of their input slots carry quantized data
/// (`None`: every input).
fn data_slots(op: &str, n_inputs: usize) -> Option<Vec<usize>> {
    Some(match op {
        "Conv" | "Gemm" => (0..n_inputs.min(3)).collect(),
        "MatMul" | "Add" | "Mul" => vec![0, 1],
        "Concat" => (0..n_inputs).collect(),
        "Relu" | "MaxPool" | "AveragePool" | "GlobalAveragePool" | "Reshape" | "Flatten" | "Transpose" | "Squeeze" | "Unsqueeze" | "Sigmoid"
        | "Softmax" | "Resize" => vec![0],
        _ => return None,
    })
}

/// Whether slot `k` of `op` holds weights or a bias, which must be
/// constant (and may be per-axis or int32).
fn weight_slot(op: &str, k: usize) -> bool {
    matches!(op, "Conv" | "Gemm") && k >= 1 || op == "MatMul" && k == 1
}

fn producer(g: &OGraph, value: &str) -> Option<usize> {
    g.nodes.iter().position(|n| n.outputs.iter().any(|o| o == value))
}

fn consumers(g: &OGraph, value: &str) -> Vec<usize> {
    g.nodes.iter().enumerate().filter(|(_, n)| n.inputs.iter().any(|i| i == value)).map(|(i, _)| i).collect()
}

/// A constant one-element float32 scale, positive and finite.
fn const_scale(g: &OGraph, name: &str) -> Option<f32> {
    let d = g.constant(name)?;
    if d.dtype != DType::F32 || d.len() != 1 || d.dims.len() > 1 {
        return None;
    }
    let s = *d.to_f32()?.first()?;
    (s.is_finite() && s > 0.0).then_some(s)
}

/// A constant per-tensor zero point and its type (uint8 0 when absent).
fn const_zp(g: &OGraph, name: Option<&str>) -> Option<(i64, DType)> {
    let Some(name) = name.filter(|n| !n.is_empty()) else { return Some((0, DType::U8)) };
    let d: &TensorData = g.constant(name)?;
    if d.len() != 1 || d.dims.len() > 1 {
        return None;
    }
    Some((*d.to_i64()?.first()?, d.dtype))
}

fn is_default(n: &ONode, op: &str) -> bool {
    n.op_type == op && (n.domain.is_empty() || n.domain == "ai.onnx")
}

/// Whether a DequantizeLinear node is usable for slot `k` of `op`.
fn dq_ok(g: &OGraph, dq: &ONode, op: &str, k: usize) -> bool {
    if dq.attr("block_size").is_some_and(|a| !matches!(a, Attr::Int(0))) {
        return false;
    }
    let (Some(x), Some(s)) = (dq.input(0), dq.input(1)) else { return false };
    if weight_slot(op, k) {
        // Weights and biases: constant, with constant parameters (checked
        // in the lowering, which may also take per-axis ones).
        return g.constant(x).is_some() && g.constant(s).is_some() && dq.input(2).is_none_or(|z| g.constant(z).is_some());
    }
    let Some(_) = const_scale(g, s) else { return false };
    // ONNX gives the value and its zero point one type; without a zero
    // point, the value's declared or constant type decides.
    match dq.input(2).filter(|z| !z.is_empty()) {
        Some(z) => matches!(const_zp(g, Some(z)), Some((_, DType::I8 | DType::U8))),
        None => {
            let xt = g.constant(x).map(|d| d.dtype).or_else(|| g.value(x).and_then(|v| v.dtype));
            matches!(xt, Some(DType::I8 | DType::U8))
        }
    }
}

/// Rewrites QDQ groups into `QOp` nodes; returns how many.
pub(crate) fn fuse_qdq(g: &mut OGraph) -> usize {
    let mut fused = 0;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Some(done) = try_fuse(g, i) {
            fused += 1;
            i = done;
        } else {
            i += 1;
        }
    }
    if fused > 0 {
        remove_unread_dq(g);
    }
    fused
}

/// Fuses node `i` if it qualifies; returns the index to continue from.
fn try_fuse(g: &mut OGraph, i: usize) -> Option<usize> {
    let n = &g.nodes[i];
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return None;
    }
    let op = n.op_type.clone();
    let slots = data_slots(&op, n.inputs.len())?;
    if n.outputs.iter().skip(1).any(|o| !o.is_empty()) {
        return None;
    }
    let y = n.outputs.first()?.clone();
    if g.outputs.contains(&y) {
        return None;
    }
    // Inputs.
    let mut new_inputs = Vec::new();
    let mut qslots = Vec::new();
    let mut axes = Vec::new();
    for (k, name) in n.inputs.iter().enumerate() {
        if !slots.contains(&k) || name.is_empty() {
            new_inputs.push(name.clone());
            continue;
        }
        let p = producer(g, name)?;
        let dq = &g.nodes[p];
        if !is_default(dq, "DequantizeLinear") || !dq_ok(g, dq, &op, k) {
            return None;
        }
        new_inputs.push(dq.inputs[0].clone());
        new_inputs.push(dq.inputs[1].clone());
        new_inputs.push(dq.input(2).unwrap_or("").to_string());
        qslots.push(k as i64);
        axes.push(match dq.attr("axis") {
            Some(Attr::Int(a)) => *a,
            _ => 1,
        });
    }
    // The float op's data inputs must all be quantized (a float operand
    // would need its own parameters).
    let required: Vec<usize> = slots.iter().copied().filter(|k| n.input(*k).is_some()).collect();
    if required.len() != qslots.len() {
        return None;
    }
    // Conv, MatMul and Gemm need quantized weights; a bias may stay float.
    // Output: read only by QuantizeLinear nodes with equal parameters.
    let readers = consumers(g, &y);
    if readers.is_empty() {
        return None;
    }
    let mut params: Option<(f32, i64, DType)> = None;
    for &r in &readers {
        let q = &g.nodes[r];
        if !is_default(q, "QuantizeLinear") || q.input(0) != Some(y.as_str()) {
            return None;
        }
        if q.attr("block_size").is_some_and(|a| !matches!(a, Attr::Int(0))) {
            return None;
        }
        let s = const_scale(g, q.input(1)?)?;
        let (z, zt) = const_zp(g, q.input(2))?;
        if !matches!(zt, DType::I8 | DType::U8) || q.input(2).is_none() {
            return None;
        }
        match params {
            None => params = Some((s, z, zt)),
            Some(p) if p == (s, z, zt) => {}
            Some(_) => return None,
        }
    }
    let first_q = &g.nodes[readers[0]];
    let out = first_q.outputs.first()?.clone();
    let ys = first_q.inputs[1].clone();
    let yz = first_q.inputs[2].clone();
    new_inputs.push(ys);
    new_inputs.push(yz);
    let mut attrs = n.attrs.clone();
    attrs.push(("qdq_op".into(), Attr::Str(op.clone())));
    attrs.push(("qdq_slots".into(), Attr::Ints(qslots)));
    attrs.push(("qdq_axes".into(), Attr::Ints(axes)));
    attrs.push(("qdq_inputs".into(), Attr::Int(n.inputs.len() as i64)));
    let fused = ONode { name: format!("{}/qdq", n.label()), op_type: QOP.into(), domain: FUSED_DOMAIN.into(), inputs: new_inputs, outputs: vec![out.clone()], attrs, implicit: vec![] };
    // Other QuantizeLinear readers become Identity nodes of the first.
    for &r in readers.iter().skip(1) {
        let q = &mut g.nodes[r];
        q.op_type = "Identity".into();
        q.inputs = vec![out.clone()];
        q.attrs.clear();
    }
    let first = readers[0];
    g.nodes[i] = fused;
    g.nodes.remove(first);
    Some(if first < i { i } else { i + 1 })
}

/// Removes DequantizeLinear nodes whose output nobody reads.
fn remove_unread_dq(g: &mut OGraph) {
    let read: std::collections::HashSet<String> = g.nodes.iter().flat_map(|n| n.inputs.iter().cloned()).chain(g.outputs.iter().cloned()).collect();
    g.nodes.retain(|n| !is_default(n, "DequantizeLinear") || n.outputs.iter().any(|o| read.contains(o)));
}
