//! Quantized nodes as TFLite int8 ops: the `QOp` nodes the QDQ rewrite
//! makes ([`crate::onnx::qdq`]), and QLinearConv / QLinearMatMul where they
//! can be int8 ops.
//!
//! A `QOp` becomes TFLite int8 ops carrying the ONNX scales and zero
//! points. TFLite's int8 kernels take int8 activations: a uint8 value with
//! `(scale, zp)` is the int8 value with `(scale, zp − 128)`, and a QUANTIZE
//! converts between the two (exact: same scale). Weights must be int8 with
//! zero point 0 (per tensor, or per output channel); biases are int32 at
//! `input_scale × weight_scale` (an ONNX bias at another scale is
//! requantized from its real value). Where this is not possible (uint8 or
//! asymmetric weights, an op whose int8 lowering fails), the `QOp` is
//! lowered exactly as its ONNX definition: DequantizeLinear → the float op
//! → QuantizeLinear, and a warning names it.
//!
//! QLinearConv and QLinearMatMul with constant per-tensor activation
//! parameters and constant symmetric int8 weights (onnxruntime's QOperator
//! format) become int8 ops the same way ([`qlinear_int8`]); otherwise they
//! are computed exactly in `integer_ops.rs`.

use super::conv::{ints_or, pad_nhwc, window_pads};
use super::fold::transpose_data;
use super::operand::{dtype_err, shape_err};
use super::quantize_linear::{check_scales, lower_dequantize_linear, lower_quantize_linear};
use super::{LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::{Attr, ONode, TensorData};
use crate::onnx::table::LowerFn;

/// A quantized operand slot of a `QOp`: input indices of the raw integer
/// value, its scale and zero point.
#[derive(Debug, Clone, Copy)]
struct QSlot {
    q: usize,
    s: usize,
    z: usize,
}

/// What each original input slot of a `QOp` became.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Quant(QSlot),
    Plain(usize),
    /// An int32 bias already at `input_scale × weight_scale` (QLinearConv's B).
    Implied(usize),
}

/// The float lowering of an op type a `QOp` may wrap.
fn float_lowering(op: &str) -> Option<LowerFn> {
    use super::*;
    Some(match op {
        "Conv" => lower_conv,
        "MatMul" => lower_matmul_any,
        "Gemm" => lower_gemm,
        "Add" => lower_add,
        "Mul" => lower_mul,
        "Concat" => lower_concat,
        "Relu" => lower_relu,
        "MaxPool" => lower_maxpool,
        "AveragePool" => lower_avgpool,
        "GlobalAveragePool" => lower_global_avgpool,
        "Reshape" => lower_reshape,
        "Flatten" => lower_flatten,
        "Transpose" => lower_transpose,
        "Squeeze" => lower_squeeze,
        "Unsqueeze" => lower_unsqueeze,
        "Sigmoid" => lower_sigmoid,
        "Softmax" => lower_softmax,
        "Resize" => lower_resize,
        _ => return None,
    })
}

/// Ops whose int8 kernels need their inputs at the output's parameters.
fn tied(op: &str) -> bool {
    matches!(op, "MaxPool" | "AveragePool" | "Reshape" | "Flatten" | "Transpose" | "Squeeze" | "Unsqueeze" | "Concat" | "Resize")
}

/// Runs lowering `f` on a node made here, with `inputs` (value names) and
/// `attrs`; returns the name of its output.
pub(super) fn synth(ctx: &mut LowerCtx<'_>, base: &str, op: &str, inputs: Vec<String>, attrs: Vec<(String, Attr)>, f: LowerFn) -> Result<String, LowerError> {
    let out = format!("{base}/{}", op.to_lowercase());
    let n = ONode { name: base.to_string(), op_type: op.to_string(), domain: String::new(), inputs, outputs: vec![out.clone()], attrs, implicit: vec![] };
    let node = Node { inner: &n, opset: ctx.graph.opset("") };
    f(ctx, &node)?;
    if !ctx.env.contains_key(&out) {
        return Err(LowerError::invalid(format!("{op} produced no output")));
    }
    Ok(out)
}

/// The attributes of the wrapped op (without the rewrite's own).
fn inner_attrs(node: &Node<'_>) -> Vec<(String, Attr)> {
    node.inner.attrs.iter().filter(|(k, _)| !k.starts_with("qdq_")).cloned().collect()
}

fn input_name(node: &Node<'_>, i: usize) -> String {
    node.inner.input(i).unwrap_or("").to_string()
}

/// Parses a `QOp`'s inputs into slots and the output's parameter inputs.
fn parse_slots(node: &Node<'_>) -> Result<(Vec<Slot>, usize, usize), LowerError> {
    let qslots = node.attr_ints("qdq_slots")?.unwrap_or_default();
    let n = node.int_or("qdq_inputs", 0)?;
    if n < 0 || n as usize > node.num_inputs() {
        return Err(LowerError::invalid(format!("QOp with qdq_inputs {n} and {} inputs", node.num_inputs())));
    }
    let mut pos = 0;
    let mut slots = Vec::new();
    for k in 0..n {
        if qslots.contains(&k) {
            slots.push(Slot::Quant(QSlot { q: pos, s: pos + 1, z: pos + 2 }));
            pos += 3;
        } else {
            slots.push(Slot::Plain(pos));
            pos += 1;
        }
    }
    if pos + 2 != node.num_inputs() {
        return Err(LowerError::invalid(format!("QOp with {} inputs for {n} slots", node.num_inputs())));
    }
    Ok((slots, pos, pos + 1))
}

/// Constant per-tensor parameters of a quantized slot (zero point 0 when
/// absent) and the type of the raw value.
fn slot_params(ctx: &LowerCtx<'_>, node: &Node<'_>, s: QSlot) -> Option<(f32, i64)> {
    super::quantize_linear::const_per_tensor(ctx, node, s.s, s.z)
}

/// The int8 tensor for a raw int8 / uint8 value with parameters `(s, z)`:
/// the tensor itself (int8), or a QUANTIZE to int8 with `z − 128` (uint8).
fn int8_view(ctx: &mut LowerCtx<'_>, name: &str, s: f32, z: i64) -> Result<TensorId, LowerError> {
    let t = ctx.tensor_of(name)?;
    let dtype = ctx.dtype(t);
    let want = Quantization::per_tensor(s, z);
    if let Some(&v) = ctx.int8_views.get(&t) {
        let q = ctx.g.tensor(v).quantization.clone();
        if q.as_ref().is_some_and(|q| q.scale == [s] && q.zero_point == [z - 128]) {
            return Ok(v);
        }
    }
    let have = ctx.g.tensor(t).quantization.clone();
    match &have {
        None if super::quantize_linear::only_quantized_readers(ctx, name) => {
            ctx.g.set_quantization(t, want);
        }
        Some(q) if q.scale == want.scale && q.zero_point == want.zero_point => {}
        _ => return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("{name:?} is read with other quantization parameters, or as plain integers"))),
    }
    match dtype {
        DType::I8 => Ok(t),
        DType::U8 => {
            let v = ctx.g.quantize(t, DType::I8, Quantization::per_tensor(s, z - 128))?;
            ctx.int8_views.insert(t, v);
            Ok(v)
        }
        other => Err(dtype_err(format!("quantized value of type {other}"))),
    }
}

/// Requantizes an int8 tensor to `(s, z)` when its parameters differ.
fn requantize(ctx: &mut LowerCtx<'_>, t: TensorId, s: f32, z: i64) -> Result<TensorId, LowerError> {
    let q = ctx.g.tensor(t).quantization.clone();
    if q.as_ref().is_some_and(|q| q.scale == [s] && q.zero_point == [z]) {
        return Ok(t);
    }
    Ok(ctx.g.quantize(t, DType::I8, Quantization::per_tensor(s, z))?)
}

/// The DequantizeLinear `axis` recorded for quantized slot `k` of a `QOp`.
fn qdq_axis(node: &Node<'_>, k: usize) -> Result<i64, LowerError> {
    Ok(node.attr_ints("qdq_axes")?.unwrap_or_default().get(k).copied().unwrap_or(1))
}

/// The ONNX value of an int8 result `y8` with output parameters
/// `(s_out, z_out)` of type `out_dtype`: itself (int8), or a QUANTIZE to
/// uint8 (remembered as the int8 view of the result).
fn finish_int8(ctx: &mut LowerCtx<'_>, y8: TensorId, out_dtype: DType, s_out: f32, z_out: i64) -> Result<TensorId, LowerError> {
    if out_dtype != DType::U8 {
        return Ok(y8);
    }
    let y = ctx.g.quantize(y8, DType::U8, Quantization::per_tensor(s_out, z_out))?;
    ctx.int8_views.insert(y, y8);
    Ok(y)
}

/// QLinearConv / QLinearMatMul with constant per-tensor activation
/// parameters and constant symmetric int8 weights as one int8 CONV_2D /
/// DEPTHWISE_CONV_2D / FULLY_CONNECTED (`None` when they are not).
pub(super) fn qlinear_int8(ctx: &mut LowerCtx<'_>, node: &Node<'_>, conv: bool) -> Result<Option<TensorId>, LowerError> {
    let (Some((sx, _)), Some((s_out, z_out))) = (slot_params(ctx, node, QSlot { q: 0, s: 1, z: 2 }), super::quantize_linear::const_per_tensor(ctx, node, 6, 7)) else {
        return Ok(None);
    };
    if !node.has_input(7) || check_scales(&[sx, s_out], "scale").is_err() {
        return Ok(None);
    }
    let out_dtype = ctx.const_ref(node, 7).map(|d| d.dtype).unwrap_or(DType::F32);
    let z8 = match out_dtype {
        DType::I8 => z_out,
        DType::U8 => z_out - 128,
        _ => return Ok(None),
    };
    let mut slots = vec![Slot::Quant(QSlot { q: 0, s: 1, z: 2 }), Slot::Quant(QSlot { q: 3, s: 4, z: 5 })];
    if conv && node.has_input(8) {
        slots.push(Slot::Implied(8));
    }
    let r = if conv { int8_conv(ctx, node, &slots, 0, s_out, z8) } else { int8_fc(ctx, node, "MatMul", &slots, 1, s_out, z8) };
    match r {
        Ok(y8) => Ok(Some(finish_int8(ctx, y8, out_dtype, s_out, z_out)?)),
        // The exact float form follows; what the attempt emitted is dead.
        Err(_) => Ok(None),
    }
}

/// Lowers a `QOp` made by the QDQ rewrite.
pub fn lower_qop(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let op = node.attr_str("qdq_op")?.ok_or_else(|| LowerError::invalid("QOp without qdq_op"))?;
    let f = float_lowering(&op).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedOp, format!("QOp of {op}")))?;
    let (slots, ys, yz) = parse_slots(node)?;
    let (s_out, z_out) = super::quantize_linear::const_per_tensor(ctx, node, ys, yz).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "output parameters must be constant"))?;
    check_scales(&[s_out], "output scale")?;
    let out_dtype = ctx.const_ref(node, yz).map(|d| d.dtype).ok_or_else(|| LowerError::invalid("output zero point"))?;
    let z8 = match out_dtype {
        DType::I8 => z_out,
        DType::U8 => z_out - 128,
        other => return Err(dtype_err(format!("QOp output of type {other}"))),
    };
    let attempt = match op.as_str() {
        "Conv" => int8_conv(ctx, node, &slots, qdq_axis(node, 1)?, s_out, z8),
        "MatMul" | "Gemm" => int8_fc(ctx, node, &op, &slots, qdq_axis(node, 1)?, s_out, z8),
        _ => int8_generic(ctx, node, &op, f, &slots, s_out, z8),
    };
    let y8 = match attempt {
        Ok(t) => Some(t),
        Err(e) => {
            // What the attempt emitted is left unread (the dead-code pass
            // removes it); the exact float form follows.
            ctx.qdq_fallbacks.push(format!("{} ({op}): {}", node.name(), e.detail));
            None
        }
    };
    match y8 {
        Some(y8) => {
            let y = finish_int8(ctx, y8, out_dtype, s_out, z_out)?;
            ctx.set_output(node, 0, y);
        }
        None => float_form(ctx, node, &op, f, &slots, ys, yz)?,
    }
    Ok(())
}

/// The exact ONNX meaning of a `QOp`: DequantizeLinear of each quantized
/// input, the float op, QuantizeLinear of its output.
fn float_form(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: &str, f: LowerFn, slots: &[Slot], ys: usize, yz: usize) -> Result<(), LowerError> {
    let base = node.name();
    let axes = node.attr_ints("qdq_axes")?.unwrap_or_default();
    let mut inputs = Vec::new();
    let mut qi = 0;
    for (k, slot) in slots.iter().enumerate() {
        match slot {
            Slot::Plain(i) | Slot::Implied(i) => inputs.push(input_name(node, *i)),
            Slot::Quant(s) => {
                let mut attrs = Vec::new();
                if let Some(a) = axes.get(qi) {
                    attrs.push(("axis".to_string(), Attr::Int(*a)));
                }
                qi += 1;
                let ins = vec![input_name(node, s.q), input_name(node, s.s), input_name(node, s.z)];
                inputs.push(synth(ctx, &format!("{base}/dq{k}"), "DequantizeLinear", ins, attrs, lower_dequantize_linear)?);
            }
        }
    }
    let y = synth(ctx, &base, op, inputs, inner_attrs(node), f)?;
    let q = synth(ctx, &format!("{base}/q"), "QuantizeLinear", vec![y, input_name(node, ys), input_name(node, yz)], vec![], lower_quantize_linear)?;
    let t = ctx.tensor_of(&q)?;
    ctx.set_output(node, 0, t);
    Ok(())
}

/// Layout ops whose output keeps the input's parameters.
fn is_layout(op: &Op) -> bool {
    matches!(op, Op::Transpose | Op::Reshape { .. } | Op::Squeeze { .. } | Op::ExpandDims)
}

/// Int8 lowering of an op whose float lowering also runs on int8 tensors.
fn int8_generic(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: &str, f: LowerFn, slots: &[Slot], s_out: f32, z8: i64) -> Result<TensorId, LowerError> {
    let base = node.name();
    let mut inputs = Vec::new();
    for (k, slot) in slots.iter().enumerate() {
        match slot {
            Slot::Plain(i) | Slot::Implied(i) => inputs.push(input_name(node, *i)),
            Slot::Quant(s) => {
                let (sc, z) = slot_params(ctx, node, *s).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "input parameters must be constant and per tensor"))?;
                let mut t = int8_view(ctx, &input_name(node, s.q), sc, z)?;
                if tied(op) {
                    t = requantize(ctx, t, s_out, z8)?;
                }
                let name = format!("{base}/int8_in{k}");
                ctx.env.insert(name.clone(), Val::Tensor(t));
                inputs.push(name);
            }
        }
    }
    let start = ctx.g.subgraph().operators.len();
    // Activations whose float lowerings take float32 only.
    let direct = match op {
        "Relu" => Some(Op::Relu),
        "Sigmoid" => Some(Op::Logistic),
        _ => None,
    };
    let y = match direct {
        Some(o) => {
            let x = ctx.tensor_of(inputs.first().ok_or_else(|| LowerError::invalid(format!("{op} without input")))?)?;
            ctx.g.apply(o, &[Some(x)])?
        }
        None => {
            let out = synth(ctx, &base, op, inputs, inner_attrs(node), f)?;
            ctx.tensor_of(&out)?
        }
    };
    let sg = ctx.g.subgraph();
    // Everything emitted must be integer: no float op sneaked in.
    for o in &sg.operators[start..] {
        for t in &o.outputs {
            let tt = &sg.tensors[t.index()];
            if tt.dtype == DType::F32 {
                return Err(dtype_err(format!("{op}'s lowering emits float {} ops", o.op.name())));
            }
        }
    }
    if ctx.dtype(y) != DType::I8 {
        return Err(dtype_err(format!("{op} gives {}", ctx.dtype(y))));
    }
    // The op that computes the output, behind layout ops.
    let mut chain = vec![y];
    let mut cur = y;
    let producer = |sg: &Subgraph, t: TensorId| sg.operators[start..].iter().find(|o| o.outputs.contains(&t)).cloned();
    let mut compute = None;
    while let Some(p) = producer(ctx.g.subgraph(), cur) {
        if is_layout(&p.op) {
            match p.input(0) {
                Some(i) => {
                    cur = i;
                    chain.push(i);
                }
                None => break,
            }
        } else {
            compute = Some(p.op.clone());
            break;
        }
    }
    let free = matches!(compute, Some(Op::Add(_) | Op::Mul(_) | Op::Sub(_) | Op::Relu | Op::Mean { .. }));
    if free {
        for t in chain {
            ctx.g.set_quantization(t, Quantization::per_tensor(s_out, z8));
        }
        return Ok(y);
    }
    requantize(ctx, y, s_out, z8)
}

/// Constant int8 weights with zero point 0 and their scales (one, or one
/// per slice along `axis` of length `n`).
fn const_weights(ctx: &LowerCtx<'_>, node: &Node<'_>, s: QSlot, axis: usize, n: usize, dq_axis: i64) -> Result<(TensorData, Vec<f32>), LowerError> {
    let w = ctx.const_ref(node, s.q).cloned().ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "weights must be constant"))?;
    if w.dtype != DType::I8 {
        return Err(dtype_err(format!("{} weights (TFLite's int8 kernels take symmetric int8 weights)", w.dtype)));
    }
    let scales = ctx.const_floats(node, s.s, "weight scale")?;
    check_scales(&scales, "weight scale")?;
    if scales.is_empty() {
        return Err(LowerError::invalid("no weight scale"));
    }
    if node.has_input(s.z) {
        let z = ctx.const_ints(node, s.z, "weight zero point")?;
        if z.iter().any(|v| *v != 0) {
            return Err(dtype_err("asymmetric weights (TFLite's int8 kernels need zero point 0)"));
        }
    }
    if scales.len() != 1 {
        let r = w.dims.len() as i64;
        let a = if dq_axis < 0 { dq_axis + r } else { dq_axis };
        if scales.len() != n || a != axis as i64 {
            return Err(shape_err(format!("{} weight scales along axis {dq_axis} (want one or {n} along axis {axis})", scales.len())));
        }
    }
    Ok((w, scales))
}

/// The int32 bias at `x_scale × w_scale[c]`: the ONNX int32 values when
/// their scale is that, otherwise requantized from their real values.
fn bias_i32(ctx: &LowerCtx<'_>, node: &Node<'_>, slot: Option<Slot>, n: usize, x_scale: f32, w_scales: &[f32]) -> Result<Vec<i32>, LowerError> {
    let want: Vec<f32> = (0..n).map(|c| x_scale * w_scales.get(c).copied().unwrap_or(w_scales[0])).collect();
    let Some(slot) = slot else { return Ok(vec![0; n]) };
    let (values, scales): (Vec<f64>, Vec<f32>) = match slot {
        Slot::Quant(s) => {
            let b = ctx.const_ref(node, s.q).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "bias must be constant"))?;
            let bs = ctx.const_floats(node, s.s, "bias scale")?;
            check_scales(&bs, "bias scale")?;
            let bz = if node.has_input(s.z) { ctx.const_ints(node, s.z, "bias zero point")? } else { vec![0] };
            if bs.is_empty() || bz.is_empty() {
                return Err(LowerError::invalid("empty bias scale or zero point"));
            }
            let v = b.to_i64().ok_or_else(|| dtype_err("bias"))?;
            let vz: Vec<f64> = v.iter().enumerate().map(|(c, x)| (*x - bz.get(c).copied().unwrap_or(bz[0])) as f64).collect();
            if bs.len() != 1 && bs.len() != v.len() {
                return Err(shape_err("bias scales"));
            }
            let scales = (0..v.len()).map(|c| bs.get(c).copied().unwrap_or(bs[0])).collect();
            (vz, scales)
        }
        Slot::Plain(i) => {
            let b = ctx.const_floats(node, i, "bias")?;
            (b.iter().map(|x| f64::from(*x)).collect(), vec![1.0; b.len()])
        }
        Slot::Implied(i) => {
            let b = ctx.const_ints(node, i, "bias")?;
            (b.iter().map(|x| *x as f64).collect(), want.clone())
        }
    };
    if values.len() != n {
        return Err(shape_err(format!("{} bias values for {n} channels", values.len())));
    }
    let mut out = Vec::with_capacity(n);
    for c in 0..n {
        let q = if scales[c] == want[c] { values[c] } else { (values[c] * f64::from(scales[c]) / f64::from(want[c])).round_ties_even() };
        out.push(i32::try_from(q as i64).map_err(|_| shape_err("bias out of the int32 range"))?);
    }
    Ok(out)
}

/// Int8 CONV_2D / DEPTHWISE_CONV_2D for a QDQ Conv.
fn int8_conv(ctx: &mut LowerCtx<'_>, node: &Node<'_>, slots: &[Slot], w_axis: i64, s_out: f32, z8: i64) -> Result<TensorId, LowerError> {
    let (Some(Slot::Quant(xs)), Some(Slot::Quant(ws))) = (slots.first().copied(), slots.get(1).copied()) else {
        return Err(LowerError::invalid("Conv without quantized input and weights"));
    };
    let (sx, zx) = slot_params(ctx, node, xs).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "input parameters must be constant and per tensor"))?;
    let x = int8_view(ctx, &input_name(node, xs.q), sx, zx)?;
    if ctx.shape(x).rank() != 4 {
        return Err(shape_err("only 2-D convolutions"));
    }
    let wd = ctx.const_ref(node, ws.q).map(|w| w.dims.clone()).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "weights"))?;
    if wd.len() != 4 {
        return Err(LowerError::invalid(format!("weights of shape {wd:?}")));
    }
    let (m, cg, kh, kw) = (wd[0], wd[1], wd[2], wd[3]);
    let (w, wscales) = const_weights(ctx, node, ws, 0, m, w_axis)?;
    let group = node.int_or("group", 1)?;
    let c = ctx.shape(x).dim(1).and_then(|d| d.fixed()).ok_or_else(|| shape_err("input channels must be static"))? as usize;
    if group <= 0 || c != cg * group as usize || m % group as usize != 0 {
        return Err(LowerError::invalid(format!("group {group} with input channels {c} and weights {wd:?}")));
    }
    let depthwise = group > 1 && group as usize == c && cg == 1;
    if group > 1 && !depthwise {
        return Err(LowerError::attr("grouped convolution"));
    }
    let strides = ints_or(node, "strides", 2, 1)?;
    let dil = ints_or(node, "dilations", 2, 1)?;
    let spatial = [ctx.shape(x).dims()[2], ctx.shape(x).dims()[3]];
    let pads = window_pads(node, node.attr_ints("pads")?, &spatial, &[kh as i64, kw as i64], &strides, &dil, &[0, 0])?;
    let bias = bias_i32(ctx, node, slots.get(2).copied(), m, sx, &wscales)?;
    let name = node.name();
    let perm: [usize; 4] = if depthwise { [1, 2, 3, 0] } else { [0, 2, 3, 1] };
    let f = transpose_data(&w, &perm)?;
    let shape = Shape::new(f.dims.iter().map(|d| *d as u32));
    let ft = ctx.g.constant(&format!("{name}/filter"), DType::I8, shape, ConstData::from_bytes(f.bytes));
    let qaxis = if depthwise { 3 } else { 0 };
    let wq = if wscales.len() == 1 { Quantization::per_tensor(wscales[0], 0) } else { Quantization::per_axis(wscales.clone(), vec![0; m], qaxis) };
    ctx.g.set_quantization(ft, wq);
    let bt = ctx.g.constant(&format!("{name}/bias"), DType::I32, [m as u32], ConstData::from_slice(&bias));
    let bscales: Vec<f32> = (0..m).map(|k| sx * wscales.get(k).copied().unwrap_or(wscales[0])).collect();
    let bq = if wscales.len() == 1 { Quantization::per_tensor(bscales[0], 0) } else { Quantization::per_axis(bscales, vec![0; m], 0) };
    ctx.g.set_quantization(bt, bq);
    let mut h = ctx.to_channels_last(x)?;
    if let Some(p) = &pads.explicit {
        h = pad_nhwc(ctx, h, p)?;
    }
    let y = if depthwise {
        let o = DepthwiseConv2dOptions::new(pads.padding, strides[0] as i32, strides[1] as i32, (m / c) as i32).with_dilation(dil[0] as i32, dil[1] as i32);
        ctx.g.depthwise_conv2d(h, ft, Some(bt), o)?
    } else {
        let o = Conv2dOptions::new(pads.padding, strides[0] as i32, strides[1] as i32).with_dilation(dil[0] as i32, dil[1] as i32);
        ctx.g.conv2d(h, ft, Some(bt), o)?
    };
    ctx.g.set_quantization(y, Quantization::per_tensor(s_out, z8));
    ctx.to_channels_first(y)
}

/// Int8 FULLY_CONNECTED for a QDQ MatMul (constant 2-D right operand) or
/// Gemm (alpha = beta = 1, no transA).
fn int8_fc(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: &str, slots: &[Slot], w_axis: i64, s_out: f32, z8: i64) -> Result<TensorId, LowerError> {
    let (Some(Slot::Quant(xs)), Some(Slot::Quant(ws))) = (slots.first().copied(), slots.get(1).copied()) else {
        return Err(LowerError::invalid(format!("{op} without quantized operands")));
    };
    let trans_b = op == "Gemm" && node.int_or("transB", 0)? != 0;
    if op == "Gemm" && (node.int_or("transA", 0)? != 0 || node.float_or("alpha", 1.0)? != 1.0 || node.float_or("beta", 1.0)? != 1.0) {
        return Err(LowerError::attr("Gemm with transA, alpha or beta"));
    }
    let (sx, zx) = slot_params(ctx, node, xs).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "input parameters must be constant and per tensor"))?;
    let x = int8_view(ctx, &input_name(node, xs.q), sx, zx)?;
    let wd = ctx.const_ref(node, ws.q).map(|w| w.dims.clone()).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "weights"))?;
    if wd.len() != 2 || ctx.shape(x).rank() < 2 {
        return Err(shape_err(format!("{op} of rank {} by {wd:?}", ctx.shape(x).rank())));
    }
    if op == "Gemm" && ctx.shape(x).rank() != 2 {
        return Err(shape_err("Gemm of rank other than 2"));
    }
    let (n, axis) = if trans_b { (wd[0], 0) } else { (wd[1], 1) };
    let (w, wscales) = const_weights(ctx, node, ws, axis, n, w_axis)?;
    let f = if trans_b { w } else { transpose_data(&w, &[1, 0])? };
    let k = f.dims[1];
    let name = node.name();
    let wt = ctx.g.constant(&format!("{name}/weights"), DType::I8, [n as u32, k as u32], ConstData::from_bytes(f.bytes));
    let wq = if wscales.len() == 1 { Quantization::per_tensor(wscales[0], 0) } else { Quantization::per_axis(wscales.clone(), vec![0; n], 0) };
    ctx.g.set_quantization(wt, wq);
    let bias = if op == "Gemm" && slots.len() > 2 {
        let b = bias_i32(ctx, node, slots.get(2).copied(), n, sx, &wscales)?;
        let bt = ctx.g.constant(&format!("{name}/bias"), DType::I32, [n as u32], ConstData::from_slice(&b));
        let bscales: Vec<f32> = (0..n).map(|c| sx * wscales.get(c).copied().unwrap_or(wscales[0])).collect();
        let bq = if wscales.len() == 1 { Quantization::per_tensor(bscales[0], 0) } else { Quantization::per_axis(bscales, vec![0; n], 0) };
        ctx.g.set_quantization(bt, bq);
        Some(bt)
    } else {
        None
    };
    let keep = ctx.shape(x).rank() > 2;
    let y = ctx.g.fully_connected(x, wt, bias, FullyConnectedOptions::default().with_keep_num_dims(keep))?;
    ctx.g.set_quantization(y, Quantization::per_tensor(s_out, z8));
    Ok(y)
}
