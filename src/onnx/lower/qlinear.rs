//! Quantized nodes: the `QOp` nodes the QDQ rewrite makes
//! ([`crate::onnx::qdq`]), QLinearConv, QLinearMatMul, MatMulInteger and
//! ConvInteger.
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
//! The integer ops (MatMulInteger, ConvInteger) and the QLinear ops are
//! computed exactly as the ONNX reference defines them: the integer
//! products in float32 on integers whose sums stay below 2^24 (checked from
//! the shapes and constant operands, a typed error otherwise), cast to
//! int32, or rescaled, rounded half to even and saturated. QLinearConv and
//! QLinearMatMul with constant per-tensor activation parameters and
//! constant symmetric int8 weights (onnxruntime's QOperator format) become
//! int8 ops as `QOp`s do instead (within one step of the exact result).

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
fn synth(ctx: &mut LowerCtx<'_>, base: &str, op: &str, inputs: Vec<String>, attrs: Vec<(String, Attr)>, f: LowerFn) -> Result<String, LowerError> {
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
fn qlinear_int8(ctx: &mut LowerCtx<'_>, node: &Node<'_>, conv: bool) -> Result<Option<TensorId>, LowerError> {
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

/// Below this, every integer and every partial sum is exact in float32.
const EXACT_F32: f64 = 16_777_216.0;

/// An integer operand `x − zero_point` as float32 (exact: 8- and 16-bit
/// values), and the largest magnitude it can have.
fn centered(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: usize, z: Option<usize>, per_row_axis: Option<usize>) -> Result<(TensorId, f64), LowerError> {
    let xt = match ctx.const_ref(node, x) {
        Some(d) => d.dtype,
        None => {
            let t = ctx.input(node, x)?;
            ctx.dtype(t)
        }
    };
    let (lo, hi) = match xt {
        DType::I8 => (-128.0, 127.0),
        DType::U8 => (0.0, 255.0),
        other => return Err(dtype_err(format!("integer operand of type {other} (int8 or uint8)"))),
    };
    let z = z.filter(|z| node.has_input(*z));
    if let Some(z) = z {
        let zt = match ctx.const_ref(node, z) {
            Some(d) => d.dtype,
            None => {
                let t = ctx.input(node, z)?;
                ctx.dtype(t)
            }
        };
        if zt != xt {
            return Err(LowerError::invalid(format!("zero point of type {zt} for an operand of type {xt}")));
        }
    }
    // A constant operand: exact values, its exact largest magnitude.
    if let Some(d) = ctx.const_ref(node, x).cloned() {
        let v = d.to_i64().ok_or_else(|| dtype_err("operand"))?;
        let zs = match z {
            Some(z) => ctx.const_ints(node, z, "zero point")?,
            None => vec![0],
        };
        let axis_len = per_row_axis.map(|a| d.dims.get(a).copied().unwrap_or(1)).unwrap_or(1);
        if zs.len() != 1 && zs.len() != axis_len {
            return Err(LowerError::invalid(format!("{} zero points for {axis_len} slices", zs.len())));
        }
        let inner: usize = per_row_axis.and_then(|a| d.dims.get(a + 1..)).map(|v| v.iter().product()).unwrap_or(1);
        let f: Vec<f32> = v.iter().enumerate().map(|(k, q)| (q - zs[if zs.len() == 1 { 0 } else { (k / inner.max(1)) % zs.len() }]) as f32).collect();
        let m = f.iter().fold(0f64, |m, x| m.max(f64::from(x.abs())));
        let t = ctx.g.constant_f32(&format!("{}/centered{x}", node.name()), Shape::new(d.dims.iter().map(|x| *x as u32)), &f);
        return Ok((t, m));
    }
    let t = ctx.input(node, x)?;
    if per_row_axis.is_some_and(|a| a >= ctx.shape(t).rank()) {
        return Err(shape_err(format!("integer operand of rank {}", ctx.shape(t).rank())));
    }
    let mut f = ctx.g.cast(t, DType::F32)?;
    let mut bound = hi - lo;
    if let Some(z) = z {
        let zc = ctx.const_ints(node, z, "zero point").ok();
        let mut zf = match ctx.const_input(node, z) {
            Some(d) => {
                let v = d.to_f32().ok_or_else(|| dtype_err("zero point"))?;
                ctx.g.constant_f32(&format!("{}/zp{z}", node.name()), Shape::new(d.dims.iter().map(|x| *x as u32)), &v)
            }
            None => {
                let zt = ctx.input(node, z)?;
                ctx.g.cast(zt, DType::F32)?
            }
        };
        if let Some(zc) = zc {
            bound = zc.iter().fold(0f64, |m, z| m.max((lo - *z as f64).abs()).max((hi - *z as f64).abs()));
        }
        // A per-row zero point (1-D along `per_row_axis`) broadcasts as a column.
        let zr = ctx.shape(zf).rank();
        let r = ctx.shape(f).rank();
        if let Some(a) = per_row_axis
            && zr == 1
            && ctx.shape(zf).dim(0).and_then(|d| d.fixed()) != Some(1)
        {
            let mut shape = vec![-1i32];
            shape.extend(std::iter::repeat_n(1, r - a - 1));
            zf = ctx.g.reshape(zf, &shape)?;
        }
        f = ctx.g.sub(f, zf)?;
    } else {
        bound = lo.abs().max(hi.abs());
    }
    Ok((f, bound))
}

/// The exact integer product `a' @ b'` as float32 (ranks as ONNX MatMul),
/// or an error when a sum could reach 2^24.
fn exact_matmul(ctx: &mut LowerCtx<'_>, node: &Node<'_>, a: (usize, Option<usize>), b: (usize, Option<usize>)) -> Result<TensorId, LowerError> {
    let a_rows = ctx_rank_minus(ctx, node, a.0, 2)?;
    let b_cols = ctx_rank_minus(ctx, node, b.0, 1)?;
    let (at, amax) = centered(ctx, node, a.0, a.1, Some(a_rows))?;
    let (bt, bmax) = centered(ctx, node, b.0, b.1, Some(b_cols))?;
    let k = ctx.shape(at).dims().last().and_then(|d| d.fixed()).ok_or_else(|| shape_err("the inner dimension must be static"))? as f64;
    // The largest sum: per output column for a constant right operand.
    let worst = match ctx.g.tensor(bt).data.as_ref() {
        Some(d) if ctx.shape(bt).rank() == 2 => {
            let v: Vec<f32> = d.to_vec::<f32>();
            let n = ctx.shape(bt).dims()[1].fixed().unwrap_or(1) as usize;
            (0..n).map(|c| v.iter().skip(c).step_by(n.max(1)).map(|x| f64::from(x.abs())).sum::<f64>()).fold(0f64, f64::max) * amax
        }
        _ => k * amax * bmax,
    };
    if worst >= EXACT_F32 {
        return Err(shape_err(format!("integer sums up to {worst} are not exact in float32 (inner dimension {k})")));
    }
    let (ra, rb) = (ctx.shape(at).rank(), ctx.shape(bt).rank());
    if ra < 2 || rb < 2 || ra > 5 || rb > 5 {
        return Err(shape_err(format!("integer MatMul of ranks {ra} and {rb}")));
    }
    Ok(ctx.g.batch_matmul(at, bt, BatchMatMulOptions::default())?)
}

/// The rank of input `i` minus `k` (the row axis of a matrix operand).
fn ctx_rank_minus(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, k: usize) -> Result<usize, LowerError> {
    let r = match ctx.const_ref(node, i) {
        Some(d) => d.dims.len(),
        None => {
            let t = ctx.input(node, i)?;
            ctx.shape(t).rank()
        }
    };
    r.checked_sub(k).ok_or_else(|| shape_err(format!("operand of rank {r}")))
}

/// Lowers `MatMulInteger`: `(A − a_zero_point) @ (B − b_zero_point)` in
/// int32, computed exactly in float32 (checked) and cast.
pub fn lower_matmul_integer(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let y = exact_matmul(ctx, node, (0, Some(2)), (1, Some(3)))?;
    let y = ctx.g.cast(y, DType::I32)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// `clamp(round_half_even(acc · (s_a · s_b / s_y)) + z_y)` cast to the type
/// of `z_y` (or `like`), as the ONNX reference computes it, in float32.
/// `params` are the input indices of `[s_a, s_b, s_y, z_y]`.
fn requantize_float(ctx: &mut LowerCtx<'_>, node: &Node<'_>, acc: TensorId, params: [usize; 4], like: DType, per_channel_axis: Option<usize>) -> Result<TensorId, LowerError> {
    let [sa, sb, sy, zy] = params;
    for i in [sa, sb, sy] {
        let t = match ctx.const_ref(node, i) {
            Some(d) => {
                check_scales(&d.to_f32().unwrap_or_default(), "scale")?;
                d.dtype
            }
            None => {
                let t = ctx.input(node, i)?;
                ctx.dtype(t)
            }
        };
        if t != DType::F32 {
            return Err(dtype_err(format!("scale of type {t} (only float32)")));
        }
    }
    let a = ctx.input(node, sa)?;
    let mut b = ctx.input(node, sb)?;
    let y = ctx.input(node, sy)?;
    let r = ctx.shape(acc).rank();
    if let Some(axis) = per_channel_axis
        && ctx.shape(b).rank() == 1
        && ctx.shape(b).dim(0).and_then(|d| d.fixed()) != Some(1)
    {
        let mut shape = vec![-1i32];
        shape.extend(std::iter::repeat_n(1, r - axis - 1));
        b = ctx.g.reshape(b, &shape)?;
    }
    let m = ctx.g.mul(a, b)?;
    let m = ctx.g.div(m, y)?;
    let mut d = ctx.g.mul(acc, m)?;
    let out = if node.has_input(zy) {
        let zt = match ctx.const_ref(node, zy) {
            Some(z) => z.dtype,
            None => {
                let t = ctx.input(node, zy)?;
                ctx.dtype(t)
            }
        };
        let z = match ctx.const_input(node, zy) {
            Some(zd) => {
                let v = zd.to_f32().ok_or_else(|| dtype_err("zero point"))?;
                ctx.g.constant_f32(&format!("{}/yzp", node.name()), Shape::new(zd.dims.iter().map(|x| *x as u32)), &v)
            }
            None => {
                let t = ctx.input(node, zy)?;
                ctx.g.cast(t, DType::F32)?
            }
        };
        d = ctx.g.add(d, z)?;
        zt
    } else {
        like
    };
    let (lo, hi) = match out {
        DType::I8 => (-128.0f32, 127.0f32),
        DType::U8 => (0.0, 255.0),
        other => return Err(dtype_err(format!("output of type {other}"))),
    };
    let name = node.name();
    let lo_t = ctx.g.constant_f32(&format!("{name}/lo"), Shape::scalar(), &[lo]);
    let hi_t = ctx.g.constant_f32(&format!("{name}/hi"), Shape::scalar(), &[hi]);
    let d = ctx.g.round(d)?;
    let d = ctx.g.maximum(d, lo_t)?;
    let d = ctx.g.minimum(d, hi_t)?;
    Ok(ctx.g.cast(d, out)?)
}

/// Lowers `QLinearMatMul`: one int8 FULLY_CONNECTED when the activation
/// parameters are constant per tensor and `b` is constant symmetric int8
/// (2-D); otherwise exactly as ONNX defines it: the integer product (exact
/// in float32, checked), rescaled by `a_scale · b_scale / y_scale`, rounded
/// half to even, saturated (per-column `b` parameters broadcast along the
/// last axis).
pub fn lower_qlinear_matmul(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if let Some(y) = qlinear_int8(ctx, node, false)? {
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    let acc = exact_matmul(ctx, node, (0, Some(2)), (3, Some(5)))?;
    let like = match ctx.const_ref(node, 0) {
        Some(d) => d.dtype,
        None => {
            let t = ctx.input(node, 0)?;
            ctx.dtype(t)
        }
    };
    let y = requantize_float(ctx, node, acc, [1, 4, 6, 7], like, None)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The exact integer convolution of inputs `x` and `w` (with zero points)
/// as float32 in NCHW, through the float Conv lowering, and an error when
/// a sum could reach 2^24. `bias` is an int32 input added exactly.
fn exact_conv(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: (usize, Option<usize>), w: (usize, Option<usize>), bias: Option<usize>) -> Result<TensorId, LowerError> {
    let (xt, xmax) = centered(ctx, node, x.0, x.1, None)?;
    let (wt, wmax) = centered(ctx, node, w.0, w.1, Some(0))?;
    let wd: Vec<usize> = ctx.shape(wt).as_fixed().map(|d| d.iter().map(|v| *v as usize).collect()).ok_or_else(|| shape_err("weights of dynamic shape"))?;
    if wd.len() != 4 {
        return Err(shape_err(format!("integer Conv with weights of shape {wd:?} (2-D only)")));
    }
    let k: usize = wd[1..].iter().product();
    let worst = match ctx.g.tensor(wt).data.as_ref() {
        Some(d) => {
            let v: Vec<f32> = d.to_vec::<f32>();
            v.chunks(k.max(1)).map(|c| c.iter().map(|x| f64::from(x.abs())).sum::<f64>()).fold(0f64, f64::max) * xmax
        }
        None => k as f64 * xmax * wmax,
    };
    let mut bias_name = String::new();
    if let Some(b) = bias.filter(|b| node.has_input(*b)) {
        let bd = ctx.const_input(node, b).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "the bias must be constant"))?;
        let v = bd.to_i64().ok_or_else(|| dtype_err("bias"))?;
        let bmax = v.iter().fold(0f64, |m, x| m.max((*x as f64).abs()));
        if worst + bmax >= EXACT_F32 {
            return Err(shape_err("integer sums with the bias are not exact in float32"));
        }
        bias_name = format!("{}/bias_f32", node.name());
        let f: Vec<f32> = v.iter().map(|x| *x as f32).collect();
        ctx.env.insert(bias_name.clone(), Val::Const(TensorData::from_f32(bd.dims.clone(), &f)));
    }
    if worst >= EXACT_F32 {
        return Err(shape_err(format!("integer sums up to {worst} are not exact in float32")));
    }
    let base = node.name();
    let xn = format!("{base}/x_centered");
    let wn = format!("{base}/w_centered");
    ctx.env.insert(xn.clone(), Val::Tensor(xt));
    // Constant weights stay constants, so that the Conv lowering can lay
    // them out once.
    match ctx.g.tensor(wt).data.as_ref() {
        Some(d) => {
            let v: Vec<f32> = d.to_vec::<f32>();
            ctx.env.insert(wn.clone(), Val::Const(TensorData::from_f32(wd.clone(), &v)));
        }
        None => {
            ctx.env.insert(wn.clone(), Val::Tensor(wt));
        }
    }
    let attrs: Vec<(String, Attr)> = node.inner.attrs.clone();
    let mut inputs = vec![xn, wn];
    if !bias_name.is_empty() {
        inputs.push(bias_name);
    }
    let out = synth(ctx, &base, "Conv", inputs, attrs, super::lower_conv)?;
    ctx.tensor_of(&out)
}

/// Lowers `ConvInteger`: the int32 convolution of `x − x_zero_point` by
/// `w − w_zero_point`, computed exactly in float32 (checked) and cast.
pub fn lower_conv_integer(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let y = exact_conv(ctx, node, (0, Some(2)), (1, Some(3)), None)?;
    let y = ctx.g.cast(y, DType::I32)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `QLinearConv`: one int8 CONV_2D / DEPTHWISE_CONV_2D when the
/// activation parameters are constant per tensor and the weights constant
/// symmetric int8; otherwise exactly as ONNX defines it: the integer
/// convolution plus the int32 bias (exact in float32, checked), rescaled by
/// `x_scale · w_scale / y_scale` (per output channel for a 1-D `w_scale`),
/// rounded half to even and saturated.
pub fn lower_qlinear_conv(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if let Some(y) = qlinear_int8(ctx, node, true)? {
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    let acc = exact_conv(ctx, node, (0, Some(2)), (3, Some(5)), Some(8))?;
    let like = match ctx.const_ref(node, 0) {
        Some(d) => d.dtype,
        None => {
            let t = ctx.input(node, 0)?;
            ctx.dtype(t)
        }
    };
    let y = requantize_float(ctx, node, acc, [1, 4, 6, 7], like, Some(1))?;
    ctx.set_output(node, 0, y);
    Ok(())
}
