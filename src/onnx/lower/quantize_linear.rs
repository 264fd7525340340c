//! QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear.
//!
//! QuantizeLinear is computed in float32 exactly as ONNX defines it:
//! `clamp(round_half_even(x / scale) + zero_point)` with DIV, ROUND (TFLite's
//! ROUND rounds halves to even), ADD, MAXIMUM, MINIMUM and a CAST to the
//! integer type. TFLite's QUANTIZE op rounds halves away from zero, so it
//! is not used here. DequantizeLinear of int8 / uint8 with a constant
//! per-tensor scale and zero point is one DEQUANTIZE (which computes
//! `scale × (q − zero_point)` in float32, as ONNX does); otherwise CAST,
//! SUB and MUL. A constant input is folded.
//!
//! Scales and zero points may be per tensor, per axis (1-D along `axis`) or
//! blocked (`block_size`, expanded with a GATHER along `axis`). Float8,
//! int4, int2 and float4 types are unsupported (typed errors).

use super::operand::{dtype_err, shape_err};
use super::{norm_axis, LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::import::onnx_dtype;
use crate::onnx::ir::TensorData;

/// The integer range of a quantized type these lowerings handle.
pub(crate) fn quant_range(dtype: DType) -> Option<(i64, i64)> {
    Some(match dtype {
        DType::I8 => (-128, 127),
        DType::U8 => (0, 255),
        DType::I16 => (-32768, 32767),
        DType::U16 => (0, 65535),
        _ => return None,
    })
}

/// A constant scale must be positive and finite.
pub(crate) fn check_scales(v: &[f32], what: &str) -> Result<(), LowerError> {
    match v.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        Some(s) => Err(LowerError::invalid(format!("{what} {s} (scales must be positive and finite)"))),
        None => Ok(()),
    }
}

/// How a scale (or zero point) maps onto the quantized tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    PerTensor,
    PerAxis(usize),
    Blocked(usize, usize),
}

/// The layout of input `i` (a scale or zero point) for `x` of `x_shape`.
fn layout(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, x_shape: &Shape) -> Result<Layout, LowerError> {
    let dims: Vec<Option<usize>> = match ctx.const_ref(node, i) {
        Some(d) => d.dims.iter().map(|v| Some(*v)).collect(),
        None => {
            let t = ctx.input(node, i)?;
            ctx.shape(t).dims().iter().map(|d| d.fixed().map(|v| v as usize)).collect()
        }
    };
    let r = x_shape.rank();
    let block = node.int_or("block_size", 0)?;
    let n: Option<usize> = dims.iter().copied().product();
    if block < 0 {
        return Err(LowerError::attr(format!("block_size {block}")));
    }
    if block == 0 && (dims.is_empty() || (dims.len() == 1 && n == Some(1))) {
        return Ok(Layout::PerTensor);
    }
    if r == 0 {
        return Err(shape_err("per-axis parameters on a scalar"));
    }
    let axis = norm_axis(node.int_or("axis", 1)?, r)?;
    let d_axis = x_shape.dim(axis).and_then(|d| d.fixed()).map(|v| v as usize);
    if block == 0 {
        if dims.len() != 1 {
            return Err(LowerError::invalid(format!("per-axis parameters of rank {} (must be 1-D)", dims.len())));
        }
        if let (Some(a), Some(b)) = (dims[0], d_axis)
            && a != b {
                return Err(LowerError::invalid(format!("{a} parameters for axis {axis} of size {b}")));
            }
        return Ok(Layout::PerAxis(axis));
    }
    let d = d_axis.ok_or_else(|| shape_err("blocked quantization along a dynamic axis"))?;
    let b = block as usize;
    if dims.len() != r || dims[axis] != Some(d.div_ceil(b)) {
        return Err(LowerError::invalid(format!("blocked parameters of shape {dims:?} for axis {axis} of size {d} and block {b}")));
    }
    for (k, v) in dims.iter().enumerate() {
        if k != axis && v.is_some() && x_shape.dim(k).and_then(|d| d.fixed()).is_some_and(|x| Some(x as usize) != *v) {
            return Err(LowerError::invalid(format!("blocked parameters of shape {dims:?} for input {x_shape}")));
        }
    }
    Ok(Layout::Blocked(axis, b))
}

/// Input `i` as float32, shaped to broadcast against `x` (rank `r`).
fn param_f32(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, lay: Layout, r: usize, d_axis: usize) -> Result<TensorId, LowerError> {
    let name = format!("{}/param{i}", node.name());
    let mut t = match ctx.const_input(node, i) {
        Some(d) => {
            let v = d.to_f32().ok_or_else(|| dtype_err(format!("parameter of type {}", d.dtype)))?;
            ctx.g.constant_f32(&name, Shape::new(d.dims.iter().map(|x| *x as u32)), &v)
        }
        None => {
            let t = ctx.input(node, i)?;
            if ctx.dtype(t) == DType::F32 { t } else { ctx.g.cast(t, DType::F32)? }
        }
    };
    match lay {
        Layout::PerTensor => {}
        Layout::PerAxis(axis) => {
            let mut shape = vec![-1i32];
            shape.extend(std::iter::repeat_n(1, r - axis - 1));
            t = ctx.g.reshape(t, &shape)?;
        }
        Layout::Blocked(axis, b) => {
            let idx: Vec<i32> = (0..d_axis).map(|k| (k / b) as i32).collect();
            let it = ctx.g.constant_i32(&format!("{name}/blocks"), [d_axis as u32], &idx);
            t = ctx.g.gather(t, it, GatherOptions { axis: axis as i32, batch_dims: 0 })?;
        }
    }
    Ok(t)
}

/// The element type of input `i`.
fn input_dtype(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize) -> Result<DType, LowerError> {
    if let Some(d) = ctx.const_ref(node, i) {
        return Ok(d.dtype);
    }
    let t = ctx.input(node, i)?;
    Ok(ctx.dtype(t))
}

fn has(node: &Node<'_>, i: usize) -> bool {
    node.has_input(i)
}

fn check_precision(node: &Node<'_>) -> Result<(), LowerError> {
    match node.attr_int("precision")? {
        None | Some(0) | Some(1) => Ok(()),
        Some(p) => Err(LowerError::attr(format!("precision {p} (only float32)"))),
    }
}

/// Checks a constant scale input.
fn check_const_scale(ctx: &LowerCtx<'_>, node: &Node<'_>, i: usize) -> Result<(), LowerError> {
    if let Some(d) = ctx.const_ref(node, i) {
        if d.dtype != DType::F32 {
            return Err(dtype_err(format!("scale of type {} (only float32)", d.dtype)));
        }
        check_scales(&d.to_f32().unwrap_or_default(), "scale")?;
    }
    Ok(())
}

/// Whether every reader of ONNX value `name` reads it as quantized data
/// (DequantizeLinear, the quantized nodes), so that quantization parameters
/// may be set on its tensor without changing what another op computes with
/// it.
pub(crate) fn only_quantized_readers(ctx: &LowerCtx<'_>, name: &str) -> bool {
    ctx.graph.nodes.iter().filter(|n| n.inputs.iter().any(|i| i == name)).all(|n| {
        matches!(n.op_type.as_str(), "DequantizeLinear" | "QLinearConv" | "QLinearMatMul") && (n.domain.is_empty() || n.domain == "ai.onnx")
            || n.domain == crate::onnx::patterns::FUSED_DOMAIN && n.op_type == crate::onnx::qdq::QOP
    })
}

/// The per-tensor constant (scale, zero point) of a node's inputs `s`, `z`,
/// if both are constant one-element values (zero point 0 when absent).
pub(crate) fn const_per_tensor(ctx: &LowerCtx<'_>, node: &Node<'_>, s: usize, z: usize) -> Option<(f32, i64)> {
    let sd = ctx.const_ref(node, s)?;
    if sd.len() != 1 || sd.dims.len() > 1 || sd.dtype != DType::F32 {
        return None;
    }
    let scale = *sd.to_f32()?.first()?;
    let zp = if node.has_input(z) {
        let zd = ctx.const_ref(node, z)?;
        if zd.len() != 1 || zd.dims.len() > 1 {
            return None;
        }
        *zd.to_i64()?.first()?
    } else {
        0
    };
    Some((scale, zp))
}

/// Lowers `QuantizeLinear`.
pub fn lower_quantize_linear(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    check_precision(node)?;
    let x = ctx.input(node, 0)?;
    if ctx.dtype(x) != DType::F32 {
        return Err(dtype_err(format!("QuantizeLinear of {} (only float32)", ctx.dtype(x))));
    }
    let out = if has(node, 2) {
        let z = input_dtype(ctx, node, 2)?;
        if let Some(o) = node.attr_int("output_dtype")?.filter(|o| *o != 0)
            && onnx_dtype(o as i32) != Some(z) {
                return Err(LowerError::invalid(format!("output_dtype {o} differs from the zero point's type {z}")));
            }
        z
    } else {
        match node.attr_int("output_dtype")?.filter(|o| *o != 0) {
            Some(o) => onnx_dtype(o as i32).ok_or_else(|| dtype_err(format!("output_dtype {o}")))?,
            None => DType::U8,
        }
    };
    let (lo, hi) = quant_range(out).ok_or_else(|| dtype_err(format!("QuantizeLinear to {out} (int8, uint8, int16, uint16 only)")))?;
    let st = input_dtype(ctx, node, 1)?;
    if st != DType::F32 {
        return Err(dtype_err(format!("scale of type {st} (only float32)")));
    }
    check_const_scale(ctx, node, 1)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let lay = layout(ctx, node, 1, &xs)?;
    let d_axis = match lay {
        Layout::Blocked(a, _) => xs.dim(a).and_then(|d| d.fixed()).unwrap_or(0) as usize,
        _ => 0,
    };
    if has(node, 2) && layout(ctx, node, 2, &xs)? != lay {
        return Err(LowerError::invalid("scale and zero point of different shapes"));
    }
    let per_tensor = const_per_tensor(ctx, node, 1, 2);
    let s = param_f32(ctx, node, 1, lay, r, d_axis)?;
    let mut q = ctx.g.div(x, s)?;
    q = ctx.g.round(q)?;
    if has(node, 2) {
        let z = param_f32(ctx, node, 2, lay, r, d_axis)?;
        q = ctx.g.add(q, z)?;
    }
    let name = node.name();
    let lo_t = ctx.g.constant_f32(&format!("{name}/lo"), Shape::scalar(), &[lo as f32]);
    let hi_t = ctx.g.constant_f32(&format!("{name}/hi"), Shape::scalar(), &[hi as f32]);
    q = ctx.g.maximum(q, lo_t)?;
    q = ctx.g.minimum(q, hi_t)?;
    let y = ctx.g.cast(q, out)?;
    if let Some((sc, zp)) = per_tensor
        && matches!(out, DType::I8 | DType::U8) {
            ctx.g.set_quantization(y, Quantization::per_tensor(sc, zp));
        }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Folds a DequantizeLinear whose inputs are all constant.
fn fold_dequantize(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: &TensorData) -> Result<Option<TensorData>, LowerError> {
    let (Some(s), z) = (ctx.const_input(node, 1), if has(node, 2) { ctx.const_input(node, 2).map(Some) } else { Some(None) }) else {
        return Ok(None);
    };
    let Some(z) = z else { return Ok(None) };
    let xv = x.to_i64().ok_or_else(|| dtype_err(format!("DequantizeLinear of {}", x.dtype)))?;
    let sv = s.to_f32().ok_or_else(|| dtype_err("scale"))?;
    let zv = match &z {
        Some(z) => z.to_i64().ok_or_else(|| dtype_err("zero point"))?,
        None => vec![0; sv.len()],
    };
    if zv.len() != sv.len() {
        return Err(LowerError::invalid("scale and zero point of different sizes"));
    }
    let dims = &x.dims;
    let r = dims.len();
    let block = node.int_or("block_size", 0)?;
    let index: Box<dyn Fn(usize) -> Option<usize>> = if block == 0 && s.len() == 1 && s.dims.len() <= 1 {
        Box::new(|_| Some(0))
    } else if r == 0 {
        return Err(shape_err("per-axis parameters on a scalar"));
    } else {
        let axis = norm_axis(node.int_or("axis", 1)?, r)?;
        let inner: usize = dims[axis + 1..].iter().product();
        let d = dims[axis];
        if block == 0 {
            if s.dims.len() != 1 || s.len() != d {
                return Err(LowerError::invalid(format!("{} parameters for axis {axis} of size {d}", s.len())));
            }
            Box::new(move |k| Some((k / inner.max(1)) % d.max(1)))
        } else {
            if block < 0 {
                return Err(LowerError::attr(format!("block_size {block}")));
            }
            let b = block as usize;
            let mut sdims = dims.clone();
            sdims[axis] = d.div_ceil(b);
            if s.dims != sdims {
                return Err(LowerError::invalid(format!("blocked parameters of shape {:?} for input {dims:?}", s.dims)));
            }
            let sdims2 = sdims.clone();
            let dims2 = dims.clone();
            Box::new(move |k| {
                // Unravel k in x, map the axis coordinate to its block.
                let mut rem = k;
                let mut idx = vec![0usize; dims2.len()];
                for j in (0..dims2.len()).rev() {
                    idx[j] = rem % dims2[j].max(1);
                    rem /= dims2[j].max(1);
                }
                idx[axis] /= b;
                let mut flat = 0;
                for j in 0..sdims2.len() {
                    flat = flat * sdims2[j] + idx[j];
                }
                Some(flat)
            })
        }
    };
    let mut out = Vec::with_capacity(xv.len());
    for (k, q) in xv.iter().enumerate() {
        let p = index(k).filter(|p| *p < sv.len()).ok_or_else(|| LowerError::invalid("parameter index out of range"))?;
        out.push((*q as f32 - zv[p] as f32) * sv[p]);
    }
    Ok(Some(TensorData::from_f32(dims.clone(), &out)))
}

/// Lowers `DequantizeLinear`.
pub fn lower_dequantize_linear(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    check_precision(node)?;
    if let Some(o) = node.attr_int("output_dtype")?.filter(|o| *o != 0 && *o != 1) {
        return Err(dtype_err(format!("output_dtype {o} (only float32)")));
    }
    let xt = input_dtype(ctx, node, 0)?;
    if !matches!(xt, DType::I8 | DType::U8 | DType::I16 | DType::U16 | DType::I32) {
        return Err(dtype_err(format!("DequantizeLinear of {xt} (int8, uint8, int16, uint16, int32 only)")));
    }
    let st = input_dtype(ctx, node, 1)?;
    if st != DType::F32 {
        return Err(dtype_err(format!("scale of type {st} (only float32)")));
    }
    check_const_scale(ctx, node, 1)?;
    if has(node, 2) {
        let zt = input_dtype(ctx, node, 2)?;
        if zt != xt {
            return Err(LowerError::invalid(format!("zero point of type {zt} for input of type {xt}")));
        }
    }
    if let Some(xd) = ctx.const_input(node, 0)
        && let Some(y) = fold_dequantize(ctx, node, &xd)? {
            ctx.set_val(node, 0, Val::Const(y));
            return Ok(());
        }
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let lay = layout(ctx, node, 1, &xs)?;
    if has(node, 2) && layout(ctx, node, 2, &xs)? != lay {
        return Err(LowerError::invalid("scale and zero point of different shapes"));
    }
    // One DEQUANTIZE when the parameters are constant and per tensor, and
    // the tensor carries no other parameters.
    if let Some((s, z)) = const_per_tensor(ctx, node, 1, 2)
        && matches!(xt, DType::I8 | DType::U8) {
            let want = Quantization::per_tensor(s, z);
            let q = ctx.g.tensor(x).quantization.clone();
            let ok = match &q {
                None => !ctx.g.tensor(x).is_constant() && node.inner.input(0).is_some_and(|n| only_quantized_readers(ctx, n)),
                Some(q) => q.scale == want.scale && q.zero_point == want.zero_point,
            };
            if ok {
                ctx.g.set_quantization(x, want);
                let y = ctx.g.dequantize(x)?;
                ctx.set_output(node, 0, y);
                return Ok(());
            }
        }
    let r = xs.rank();
    let d_axis = match lay {
        Layout::Blocked(a, _) => xs.dim(a).and_then(|d| d.fixed()).unwrap_or(0) as usize,
        _ => 0,
    };
    let xf = ctx.g.cast(x, DType::F32)?;
    let mut y = xf;
    if has(node, 2) {
        let z = param_f32(ctx, node, 2, lay, r, d_axis)?;
        y = ctx.g.sub(y, z)?;
    }
    let s = param_f32(ctx, node, 1, lay, r, d_axis)?;
    y = ctx.g.mul(y, s)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `DynamicQuantizeLinear`: uint8 with scale
/// `(max(x, 0) − min(x, 0)) / 255` and zero point
/// `saturate(round_half_even(−min(x, 0) / scale))`, as ONNX defines them,
/// computed with REDUCE_MIN / REDUCE_MAX and float32 arithmetic.
pub fn lower_dynamic_quantize_linear(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    if ctx.dtype(x) != DType::F32 {
        return Err(dtype_err(format!("DynamicQuantizeLinear of {}", ctx.dtype(x))));
    }
    let r = ctx.shape(x).rank();
    if ctx.shape(x).dims().iter().any(|d| d.fixed() == Some(0)) {
        return Err(shape_err("DynamicQuantizeLinear of an empty tensor"));
    }
    let name = node.name();
    let axes: Vec<i32> = (0..r as i32).collect();
    let ax = ctx.g.constant_i32(&format!("{name}/axes"), [r as u32], &axes);
    let mn = ctx.g.apply(Op::ReduceMin { keep_dims: false }, &[Some(x), Some(ax)])?;
    let mx = ctx.g.reduce_max(x, &axes, false)?;
    let zero = ctx.g.constant_f32(&format!("{name}/zero"), Shape::scalar(), &[0.0]);
    let mn = ctx.g.minimum(mn, zero)?;
    let mx = ctx.g.maximum(mx, zero)?;
    let c255 = ctx.g.constant_f32(&format!("{name}/255"), Shape::scalar(), &[255.0]);
    let span = ctx.g.sub(mx, mn)?;
    let scale = ctx.g.div(span, c255)?;
    // The zero point: (0 − min) / scale, clipped to [0, 255], rounded.
    let neg = ctx.g.sub(zero, mn)?;
    let zpf = ctx.g.div(neg, scale)?;
    let zpf = ctx.g.maximum(zpf, zero)?;
    let zpf = ctx.g.minimum(zpf, c255)?;
    let zpf = ctx.g.round(zpf)?;
    let q = ctx.g.div(x, scale)?;
    let q = ctx.g.round(q)?;
    let q = ctx.g.add(q, zpf)?;
    let q = ctx.g.maximum(q, zero)?;
    let q = ctx.g.minimum(q, c255)?;
    let y = ctx.g.cast(q, DType::U8)?;
    let zp = ctx.g.cast(zpf, DType::U8)?;
    ctx.set_output(node, 0, y);
    ctx.set_output(node, 1, scale);
    ctx.set_output(node, 2, zp);
    Ok(())
}
