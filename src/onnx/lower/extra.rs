//! Lowerings beyond the CNN set: Min/Max, general Clip, LeakyRelu, PRelu,
//! Gelu, Exp, Sqrt, Neg, Abs, Reciprocal, Cast, Split, Slice, Gather,
//! ConvTranspose, Resize, Upsample, MatMul with a non-constant right
//! operand, ReduceMax, ReduceSum and Pad with a value or reflection.
//!
//! Values keep ONNX semantics (NCHW); layout-bound ops (ConvTranspose,
//! Resize) run channels-last between transposes. Every case that TFLite
//! cannot compute exactly as ONNX defines it is rejected with a reason.

use super::elementwise::lower_clip;
use super::matmul::lower_matmul;
use super::shape_ops::lower_pad;
use super::{norm_axis, LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::import::onnx_dtype;
use crate::onnx::ir::TensorData;
use crate::onnx::lower::fold::transpose_data;

pub(crate) fn dtype_err(detail: impl Into<String>) -> LowerError {
    LowerError::new(ReasonCode::UnsupportedDtype, detail)
}

pub(crate) fn shape_err(detail: impl Into<String>) -> LowerError {
    LowerError::new(ReasonCode::UnsupportedShape, detail)
}

/// The element type of input `i` when it is a tensor (not a constant).
pub(crate) fn tensor_type(ctx: &LowerCtx<'_>, node: &Node<'_>, i: usize) -> Option<DType> {
    match ctx.env.get(node.inner.input(i)?)? {
        Val::Tensor(t) => Some(ctx.g.tensor(*t).dtype),
        _ => None,
    }
}

/// Adds a constant of `dtype` (without narrowing int64 to int32).
pub(crate) fn typed_const(ctx: &mut LowerCtx<'_>, name: &str, dtype: DType, dims: &[usize], v: &[f64]) -> Result<TensorId, LowerError> {
    let d = TensorData::from_f64(dtype, dims.to_vec(), v).ok_or_else(|| dtype_err(format!("constant of type {dtype}")))?;
    let shape = Shape::new(dims.iter().map(|x| *x as u32));
    Ok(ctx.g.constant(name, dtype, shape, ConstData::from_bytes(d.bytes)))
}

/// The tensor of input `i`; a constant is materialized in `like`'s type.
pub(crate) fn operand_as(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, like: DType) -> Result<TensorId, LowerError> {
    if let Some(d) = ctx.const_input(node, i) {
        let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric constant"))?;
        let name = format!("{}/const{i}", node.name());
        return typed_const(ctx, &name, like, &d.dims, &v);
    }
    ctx.input(node, i)
}

/// The tensor of input 0, which must have one of `types`.
pub(crate) fn typed_input(ctx: &mut LowerCtx<'_>, node: &Node<'_>, types: &[DType]) -> Result<TensorId, LowerError> {
    let x = ctx.input(node, 0)?;
    let d = ctx.dtype(x);
    if !types.contains(&d) {
        return Err(dtype_err(format!("{} on {d}", node.op_type())));
    }
    Ok(x)
}

pub(crate) fn unary_op(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op, types: &[DType]) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, types)?;
    let y = ctx.g.apply(op, &[Some(x)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Types MINIMUM and MAXIMUM take.
const MINMAX_TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64];

fn variadic(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op) -> Result<(), LowerError> {
    variadic_typed(ctx, node, op, MINMAX_TYPES)
}

/// Chains a broadcasting binary `op` over all present inputs, whose type
/// (that of the first tensor input) must be one of `types`.
pub(crate) fn variadic_typed(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op, types: &[DType]) -> Result<(), LowerError> {
    let present: Vec<usize> = (0..node.num_inputs()).filter(|i| node.has_input(*i)).collect();
    let like = present
        .iter()
        .find_map(|i| tensor_type(ctx, node, *i))
        .ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "no tensor input (all-constant inputs fold)"))?;
    if !types.contains(&like) {
        return Err(dtype_err(format!("{} on {like}", node.op_type())));
    }
    let mut acc: Option<TensorId> = None;
    for i in present {
        let t = operand_as(ctx, node, i, like)?;
        acc = Some(match acc {
            None => t,
            Some(a) => ctx.g.apply(op.clone(), &[Some(a), Some(t)])?,
        });
    }
    let y = acc.ok_or_else(|| LowerError::invalid(format!("{} without inputs", node.op_type())))?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Max` (variadic, broadcasting) to a chain of MAXIMUM.
pub fn lower_max(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    variadic(ctx, node, Op::Maximum)
}

/// Lowers `Min` (variadic, broadcasting) to a chain of MINIMUM.
pub fn lower_min(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    variadic(ctx, node, Op::Minimum)
}

/// Lowers `Clip` with any constant bounds: the RELU forms through
/// [`lower_clip`], others to MAXIMUM and MINIMUM (`min(max(x, lo), hi)`,
/// which is `hi` everywhere when `lo > hi`, as ONNX defines).
pub fn lower_clip_any(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let dtype = ctx.dtype(x);
    let bound = |i: usize, attr: &str| -> Result<Option<f64>, LowerError> {
        if node.opset() < 11 {
            return Ok(node.attr_float(attr)?.map(f64::from));
        }
        if !node.has_input(i) {
            return Ok(None);
        }
        let d = ctx.const_input(node, i).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, format!("{attr} (input {i}) must be constant")))?;
        let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric bound"))?;
        v.first().copied().map(Some).ok_or_else(|| LowerError::invalid(format!("empty {attr}")))
    };
    let lo = bound(1, "min")?;
    let hi = bound(2, "max")?;
    // RELU and RELU6 (exact); other bounds, [-1, 1] included, go to
    // MAXIMUM / MINIMUM, which are exact too.
    let relu_form = dtype == DType::F32 && lo == Some(0.0) && hi.is_none_or(|h| h == 6.0 || h == f64::INFINITY);
    if relu_form {
        return lower_clip(ctx, node);
    }
    if !MINMAX_TYPES.contains(&dtype) {
        return Err(dtype_err(format!("Clip on {dtype}")));
    }
    let name = node.name();
    let mut y = x;
    if let Some(l) = lo.filter(|l| *l != f64::NEG_INFINITY) {
        let c = typed_const(ctx, &format!("{name}/min"), dtype, &[], &[l])?;
        y = ctx.g.maximum(y, c)?;
    }
    if let Some(h) = hi.filter(|h| *h != f64::INFINITY) {
        let c = typed_const(ctx, &format!("{name}/max"), dtype, &[], &[h])?;
        y = ctx.g.minimum(y, c)?;
    }
    if y == x {
        // No bounds: the output is the input.
        let v = ctx.env.get(node.inner.input(0).unwrap_or_default()).cloned().ok_or_else(|| LowerError::invalid("input not available"))?;
        ctx.set_val(node, 0, v);
        return Ok(());
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `LeakyRelu` to LEAKY_RELU.
pub fn lower_leaky_relu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let alpha = node.float_or("alpha", 0.01)?;
    unary_op(ctx, node, Op::LeakyRelu { alpha }, &[DType::F32])
}

/// Lowers `PRelu` to PRELU. A constant slope is given the input's rank
/// (leading 1s), which is how it broadcasts in NCHW.
pub fn lower_prelu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if r > 4 {
        return Err(shape_err(format!("PRelu on rank {r} (TFLite's PRELU handles at most 4 dimensions)")));
    }
    let slope = match ctx.const_input(node, 1) {
        Some(d) => {
            if d.dims.len() > r {
                return Err(LowerError::invalid(format!("slope of shape {:?} for input {xs}", d.dims)));
            }
            let mut dims = vec![1usize; r - d.dims.len()];
            dims.extend(&d.dims);
            let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric slope"))?;
            typed_const(ctx, &format!("{}/slope", node.name()), DType::F32, &dims, &v)?
        }
        None => ctx.input(node, 1)?,
    };
    if ctx.dtype(slope) != DType::F32 {
        return Err(dtype_err(format!("PRelu slope of type {}", ctx.dtype(slope))));
    }
    // ONNX broadcasts the slope to the input only (the output has its shape).
    let ss = ctx.shape(slope).clone();
    let fits = ss.rank() <= r
        && ss.dims().iter().rev().zip(xs.dims().iter().rev()).all(|(s, d)| *s == Dim::Fixed(1) || (s == d && *s != Dim::Dynamic));
    if !fits {
        return Err(shape_err(format!("slope of shape {ss} does not broadcast to {xs}")));
    }
    let y = ctx.g.prelu(x, slope)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Gelu` (opset 20) to GELU.
pub fn lower_gelu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let approximate = match node.attr_str("approximate")?.as_deref().unwrap_or("none") {
        "none" => false,
        "tanh" => true,
        other => return Err(LowerError::attr(format!("approximate {other:?}"))),
    };
    unary_op(ctx, node, Op::Gelu { approximate }, &[DType::F32])
}

/// Lowers `Exp`.
pub fn lower_exp(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Exp, &[DType::F32])
}

/// Lowers `Sqrt`.
pub fn lower_sqrt(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Sqrt, &[DType::F32])
}

/// Lowers `Neg`.
pub fn lower_neg(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Neg, &[DType::F32, DType::I32, DType::I64])
}

/// Lowers `Abs`.
pub fn lower_abs(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Abs, &[DType::F32, DType::I32])
}

/// Lowers `Reciprocal` to DIV(1, x).
pub fn lower_reciprocal(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let one = ctx.g.constant_f32(&format!("{}/one", node.name()), Shape::scalar(), &[1.0]);
    let y = ctx.g.div(one, x)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Types CAST converts between here.
const CAST_TYPES: &[DType] = &[DType::F32, DType::F16, DType::F64, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool];

/// Lowers `Cast` between TFLite's numeric and boolean types.
pub fn lower_cast(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let to = node.attr_int("to")?.ok_or_else(|| LowerError::invalid("Cast needs 'to'"))?;
    let to = i32::try_from(to).ok().and_then(onnx_dtype).ok_or_else(|| dtype_err(format!("Cast to ONNX type {to}")))?;
    cast_to(ctx, node, to)
}

/// Lowers `CastLike` to CAST, to the type of input 1.
pub fn lower_cast_like(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let to = match ctx.const_ref(node, 1) {
        Some(d) => d.dtype,
        None => {
            let t = ctx.input(node, 1)?;
            ctx.dtype(t)
        }
    };
    cast_to(ctx, node, to)
}

/// CAST of input 0 to `to` (nothing when the types agree).
fn cast_to(ctx: &mut LowerCtx<'_>, node: &Node<'_>, to: DType) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let from = ctx.dtype(x);
    if !CAST_TYPES.contains(&from) || !CAST_TYPES.contains(&to) {
        return Err(dtype_err(format!("Cast from {from} to {to}")));
    }
    if from.is_float() && matches!(to, DType::U8) {
        // C++ leaves float → unsigned conversions of negatives undefined.
        return Err(dtype_err(format!("Cast from {from} to {to} (negative values are undefined in TFLite)")));
    }
    let y = if from == to { x } else { ctx.g.cast(x, to)? };
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Split` to SPLIT_V (sizes from the attribute before opset 13,
/// the input from 13 on, or `num_outputs` from 18 on).
pub fn lower_split(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axis = norm_axis(node.int_or("axis", 0)?, r)?;
    let dim = xs.dims()[axis].fixed().map(i64::from);
    let sizes: Option<Vec<i64>> = if node.opset() < 13 {
        node.attr_ints("split")?
    } else if node.has_input(1) {
        Some(ctx.const_ints(node, 1, "split")?)
    } else {
        None
    };
    let n_out = node.num_outputs();
    let sizes = match sizes {
        Some(s) => {
            if s.len() != n_out {
                return Err(LowerError::invalid(format!("{} split sizes for {n_out} outputs", s.len())));
            }
            if let Some(d) = dim
                && s.iter().sum::<i64>() != d {
                    return Err(LowerError::invalid(format!("split {s:?} does not add up to {d}")));
                }
            s
        }
        None => {
            let n = if node.opset() >= 18 { node.attr_int("num_outputs")?.unwrap_or(n_out as i64) } else { n_out as i64 };
            if n != n_out as i64 || n <= 0 {
                return Err(LowerError::invalid(format!("num_outputs {n} for {n_out} outputs")));
            }
            let d = dim.ok_or_else(|| shape_err("an even split of a dynamic dimension"))?;
            if node.opset() < 18 {
                if d % n != 0 {
                    return Err(LowerError::invalid(format!("{d} does not split evenly into {n}")));
                }
                vec![d / n; n as usize]
            } else {
                // Opset 18: ceil(d / n) each, the last one smaller.
                let c = (d + n - 1) / n;
                let last = d - c * (n - 1);
                if last < 0 {
                    return Err(shape_err(format!("{d} cannot split into {n} parts of {c}")));
                }
                let mut v = vec![c; n as usize - 1];
                v.push(last);
                v
            }
        }
    };
    if sizes.iter().any(|s| *s <= 0) {
        return Err(shape_err(format!("split sizes {sizes:?} (empty outputs are not supported)")));
    }
    if sizes.len() == 1 {
        ctx.set_output(node, 0, x);
        return Ok(());
    }
    let s32: Vec<i32> = sizes.iter().map(|s| i32::try_from(*s).map_err(|_| shape_err("split size overflows int32"))).collect::<Result<_, _>>()?;
    let outs = ctx.g.split_v(x, &s32, axis as i32)?;
    for (i, t) in outs.into_iter().enumerate() {
        ctx.set_output(node, i, t);
    }
    Ok(())
}

fn sat32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Lowers `Slice` with constant starts, ends, axes and steps to
/// STRIDED_SLICE. Static dimensions get exact, non-negative bounds; on
/// dynamic ones only the cases where TFLite's clamping equals ONNX's pass.
pub fn lower_slice(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if r > 5 {
        return Err(shape_err(format!("Slice of rank {r} (TFLite slices at most 5 dimensions)")));
    }
    let (starts, ends, axes, steps) = if node.opset() < 10 {
        let s = node.attr_ints("starts")?.ok_or_else(|| LowerError::invalid("Slice needs starts"))?;
        let e = node.attr_ints("ends")?.ok_or_else(|| LowerError::invalid("Slice needs ends"))?;
        (s, e, node.attr_ints("axes")?, None)
    } else {
        let s = ctx.const_ints(node, 1, "starts")?;
        let e = ctx.const_ints(node, 2, "ends")?;
        let a = if node.has_input(3) { Some(ctx.const_ints(node, 3, "axes")?) } else { None };
        let st = if node.has_input(4) { Some(ctx.const_ints(node, 4, "steps")?) } else { None };
        (s, e, a, st)
    };
    let k = starts.len();
    let axes: Vec<usize> = match axes {
        Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..k).collect(),
    };
    let steps = steps.unwrap_or_else(|| vec![1; k]);
    if ends.len() != k || axes.len() != k || steps.len() != k {
        return Err(LowerError::invalid("starts, ends, axes and steps differ in length"));
    }
    let mut begin = vec![0i32; r];
    let mut end = vec![0i32; r];
    let mut stride = vec![1i32; r];
    let mut begin_mask = 0i32;
    let mut end_mask = 0i32;
    let mut seen = vec![false; r];
    for d in 0..r {
        begin_mask |= 1 << d;
        end_mask |= 1 << d;
    }
    for i in 0..k {
        let a = axes[i];
        if std::mem::replace(&mut seen[a], true) {
            return Err(LowerError::invalid(format!("axis {a} repeats")));
        }
        let (s, e, st) = (starts[i], ends[i], steps[i]);
        if st == 0 {
            return Err(LowerError::invalid("slice step 0"));
        }
        stride[a] = sat32(st);
        begin_mask &= !(1 << a);
        end_mask &= !(1 << a);
        match xs.dims()[a].fixed().map(i64::from) {
            Some(0) => return Err(shape_err("slicing an empty dimension")),
            Some(n) => {
                let norm = |v: i64| if v < 0 { v.saturating_add(n) } else { v };
                if st > 0 {
                    begin[a] = norm(s).clamp(0, n) as i32;
                    end[a] = norm(e).clamp(0, n) as i32;
                } else {
                    begin[a] = norm(s).clamp(0, n - 1) as i32;
                    let stop = norm(e).clamp(-1, n - 1);
                    if stop < 0 {
                        end_mask |= 1 << a;
                    } else {
                        end[a] = stop as i32;
                    }
                }
            }
            None => {
                if st < 0 && s < -1 {
                    return Err(shape_err("a negative-step Slice starting before -1 on a dynamic dimension"));
                }
                let (b, e) = (sat32(s), sat32(e));
                // Slices empty for every size (LiteRT's delegate does not
                // produce empty slices faithfully).
                let same_sign = (b < 0) == (e < 0);
                let empty = if st > 0 { e == 0 || e == i32::MIN || (same_sign && b >= e) } else { e == i32::MAX || (same_sign && b <= e) };
                if empty {
                    return Err(shape_err(format!("Slice [{s}:{e}:{st}] is empty")));
                }
                begin[a] = b;
                end[a] = e;
            }
        }
    }
    let o = StridedSliceOptions::default().with_begin_mask(begin_mask).with_end_mask(end_mask);
    let y = ctx.g.strided_slice(x, &begin, &end, &stride, o)?;
    if ctx.shape(y).dims().contains(&Dim::Fixed(0)) {
        // LiteRT's delegate does not produce empty slices faithfully.
        return Err(shape_err(format!("Slice with an empty result {}", ctx.shape(y))));
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Gather` with constant indices to GATHER (negative indices are
/// resolved against the static axis size).
pub fn lower_gather(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let idx = ctx.const_input(node, 1).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "Gather indices must be constant"))?;
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axis = norm_axis(node.int_or("axis", 0)?, r)?;
    let v = idx.to_i64().ok_or_else(|| dtype_err("non-integer indices"))?;
    let n = xs.dims()[axis].fixed().map(i64::from);
    let mut fixed = Vec::with_capacity(v.len());
    for i in v {
        let j = match (i < 0, n) {
            (true, Some(n)) => i + n,
            (true, None) => return Err(shape_err("negative Gather indices on a dynamic axis")),
            (false, _) => i,
        };
        if j < 0 || n.is_some_and(|n| j >= n) {
            return Err(LowerError::invalid(format!("index {i} out of range for axis size {n:?}")));
        }
        fixed.push(i32::try_from(j).map_err(|_| LowerError::invalid("index overflows int32"))?);
    }
    if fixed.is_empty() {
        return Err(shape_err("Gather with no indices"));
    }
    let shape = Shape::new(idx.dims.iter().map(|d| *d as u32));
    let it = ctx.g.constant(&format!("{}/indices", node.name()), DType::I32, shape, ConstData::from_slice(&fixed));
    let y = ctx.g.gather(x, it, GatherOptions::new(axis as i32))?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// A static spatial size.
fn static_dim(s: &Shape, i: usize, what: &str) -> Result<i64, LowerError> {
    s.dim(i).and_then(|d| d.fixed()).map(i64::from).ok_or_else(|| shape_err(format!("{what} must be static")))
}

/// Lowers 2-D `ConvTranspose` (group 1, dilation 1, constant weights) to
/// TRANSPOSE_CONV between transposes. TFLite derives its padding from the
/// output size; when that is not ONNX's leading padding, the full VALID
/// result is computed and the ONNX window sliced out of it.
pub fn lower_conv_transpose(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let xs = ctx.shape(x).clone();
    if xs.rank() != 4 {
        return Err(shape_err(format!("ConvTranspose on rank {} (only 2-D)", xs.rank())));
    }
    let w = ctx.const_input(node, 1).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "ConvTranspose weights must be constant"))?;
    if w.dims.len() != 4 {
        return Err(LowerError::invalid(format!("weights of shape {:?}", w.dims)));
    }
    let w = TensorData::from_f32(w.dims.clone(), &w.to_f32().ok_or_else(|| dtype_err("non-numeric weights"))?);
    if node.int_or("group", 1)? != 1 {
        return Err(LowerError::attr("group other than 1"));
    }
    let (cin, cout, kh, kw) = (w.dims[0], w.dims[1], w.dims[2] as i64, w.dims[3] as i64);
    if xs.dim(1).and_then(|d| d.fixed()).is_some_and(|c| c as usize != cin) {
        return Err(LowerError::invalid(format!("input {xs} does not match weights {:?}", w.dims)));
    }
    if let Some(ks) = node.attr_ints("kernel_shape")?
        && ks != [kh, kw] {
            return Err(LowerError::attr(format!("kernel_shape {ks:?} differs from weights {:?}", w.dims)));
        }
    let strides = node.attr_ints("strides")?.unwrap_or_else(|| vec![1, 1]);
    if strides.len() != 2 || strides.iter().any(|s| *s <= 0 || *s > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("strides {strides:?}")));
    }
    if node.attr_ints("dilations")?.is_some_and(|d| d.iter().any(|v| *v != 1)) {
        return Err(LowerError::attr("dilations other than 1 (TRANSPOSE_CONV has none)"));
    }
    let out_pad = node.attr_ints("output_padding")?.unwrap_or_else(|| vec![0, 0]);
    if out_pad.len() != 2 || out_pad.iter().zip(&strides).any(|(p, s)| *p < 0 || p >= s) {
        return Err(LowerError::attr(format!("output_padding {out_pad:?} for strides {strides:?}")));
    }
    let batch = static_dim(&xs, 0, "the batch size")?;
    let inp = [static_dim(&xs, 2, "the input height")?, static_dim(&xs, 3, "the input width")?];
    let k = [kh, kw];
    let full: Vec<i64> = (0..2).map(|i| strides[i] * (inp[i] - 1) + out_pad[i] + k[i]).collect();
    let auto_pad = node.attr_str("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
    // (begin, end) pads per spatial dimension. Where the ONNX spec, its
    // reference implementation and onnxruntime distribute padding
    // differently (odd SAME totals, an output_shape smaller than the full
    // output), the node is rejected rather than converted one way.
    let pads: Vec<(i64, i64)> = if let Some(os) = node.attr_ints("output_shape")? {
        let os = match os.len() {
            2 => os,
            4 => os[2..].to_vec(),
            _ => return Err(LowerError::attr(format!("output_shape {os:?}"))),
        };
        if !matches!(auto_pad.as_str(), "NOTSET" | "") || node.has_attr("pads") {
            return Err(LowerError::attr("output_shape together with auto_pad or pads"));
        }
        (0..2)
            .map(|i| {
                let total = full[i] - os[i];
                if total > 0 {
                    return Err(LowerError::attr(format!(
                        "output_shape {os:?} smaller than the full output {full:?} (ONNX implementations disagree on where it is cropped)"
                    )));
                }
                // A larger output gets bias-only rows at the end.
                Ok((0, total))
            })
            .collect::<Result<_, LowerError>>()?
    } else {
        match auto_pad.as_str() {
            "NOTSET" | "" => {
                let p = node.attr_ints("pads")?.unwrap_or_else(|| vec![0; 4]);
                if p.len() != 4 || p.iter().any(|v| *v < 0) {
                    return Err(LowerError::attr(format!("pads {p:?}")));
                }
                vec![(p[0], p[2]), (p[1], p[3])]
            }
            "VALID" => vec![(0, 0), (0, 0)],
            "SAME_UPPER" | "SAME_LOWER" => (0..2)
                .map(|i| {
                    let total = full[i] - inp[i] * strides[i];
                    if total < 0 || total % 2 != 0 {
                        return Err(LowerError::attr(format!(
                            "auto_pad {auto_pad} with a total padding of {total} (ONNX implementations split odd or negative totals differently)"
                        )));
                    }
                    Ok((total / 2, total / 2))
                })
                .collect::<Result<_, LowerError>>()?,
            other => return Err(LowerError::attr(format!("auto_pad {other}"))),
        }
    };
    if pads.iter().any(|p| p.0 < 0) {
        return Err(LowerError::attr(format!("pads {pads:?}: a negative leading pad")));
    }
    let out: Vec<i64> = (0..2).map(|i| full[i] - pads[i].0 - pads[i].1).collect();
    if out.iter().any(|o| *o <= 0) {
        return Err(LowerError::invalid(format!("empty output {out:?}")));
    }
    // TFLite SAME: the padding of a convolution from an output of size o.
    let tfl_same_pad = |o: i64, k: i64, s: i64| ((((o + s - 1) / s - 1) * s + k - o).max(0)) / 2;
    // The runtime also requires the input size to be the convolution's
    // output size: ceil(o / s) for SAME, (o - k) / s + 1 for VALID.
    let same = (0..2).all(|i| tfl_same_pad(out[i], k[i], strides[i]) == pads[i].0 && (out[i] + strides[i] - 1) / strides[i] == inp[i]);
    let (padding, size, crop) = if same {
        (Padding::Same, [out[0], out[1]], false)
    } else {
        let t: Vec<i64> = (0..2).map(|i| (out[i] + pads[i].0).max(strides[i] * (inp[i] - 1) + k[i])).collect();
        if (0..2).any(|i| (t[i] - k[i]) / strides[i] + 1 != inp[i]) {
            return Err(LowerError::attr(format!("output size {out:?} reaches beyond the input's last window (more than stride - 1 bias-only rows)")));
        }
        (Padding::Valid, [t[0], t[1]], pads.iter().any(|p| p.0 != 0) || t[0] != out[0] || t[1] != out[1])
    };
    let to32 = |v: i64| i32::try_from(v).map_err(|_| shape_err("output size overflows int32"));
    let name = node.name();
    // [C_in, C_out, kH, kW] → [C_out, kH, kW, C_in]
    let f = transpose_data(&w, &[1, 2, 3, 0])?;
    let ft = ctx.g.constant(&format!("{name}/weights"), DType::F32, [cout as u32, kh as u32, kw as u32, cin as u32], ConstData::from_bytes(f.bytes));
    let bias = if node.has_input(2) {
        let b = ctx.const_floats(node, 2, "ConvTranspose bias")?;
        if b.len() != cout {
            return Err(LowerError::invalid(format!("bias of {} values for {cout} output channels", b.len())));
        }
        Some(ctx.g.constant_f32(&format!("{name}/bias"), [cout as u32], &b))
    } else {
        None
    };
    let h = ctx.to_channels_last(x)?;
    let shape = [to32(batch)?, to32(size[0])?, to32(size[1])?, to32(cout as i64)?];
    let o = TransposeConvOptions::new(padding, strides[0] as i32, strides[1] as i32);
    let mut y = ctx.g.transpose_conv(h, ft, bias, shape, o)?;
    if crop {
        y = ctx.g.slice(y, &[0, to32(pads[0].0)?, to32(pads[1].0)?, 0], &[-1, to32(out[0])?, to32(out[1])?, -1])?;
    }
    let out = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, out);
    Ok(())
}

/// How one output coordinate maps to the input, in TFLite's terms.
fn resize_options(linear: bool, transform: &str, nearest_mode: &str, input: [i64; 2], out: [i64; 2]) -> Result<ResizeOptions, LowerError> {
    let o = ResizeOptions::default();
    let bad = || LowerError::attr(format!("{} with coordinate_transformation_mode {transform}{}", if linear { "linear" } else { "nearest" }, if linear { String::new() } else { format!(" and nearest_mode {nearest_mode}") }));
    let pytorch_ok = out.iter().all(|o| *o > 1);
    if linear {
        return match transform {
            "asymmetric" => Ok(o),
            "align_corners" => Ok(o.with_align_corners(true)),
            "half_pixel" => Ok(o.with_half_pixel_centers(true)),
            "pytorch_half_pixel" if pytorch_ok => Ok(o.with_half_pixel_centers(true)),
            _ => Err(bad()),
        };
    }
    // Upsampling by whole factors, half-pixel sampling with either rounding
    // picks input pixel floor(x / s), as asymmetric + floor does: the
    // source coordinate q + (r + 0.5) / s - 0.5 is never a half.
    let whole_upscale = (0..2).all(|i| input[i] > 0 && out[i] % input[i] == 0);
    let half_pixel = transform == "half_pixel" || (transform == "pytorch_half_pixel" && pytorch_ok);
    if whole_upscale && half_pixel && matches!(nearest_mode, "round_prefer_floor" | "round_prefer_ceil") {
        return Ok(o);
    }
    match (transform, nearest_mode) {
        ("asymmetric", "floor") => Ok(o),
        ("align_corners", "round_prefer_ceil") => Ok(o.with_align_corners(true)),
        ("half_pixel", "round_prefer_ceil") | ("tf_half_pixel_for_nn", "floor") => Ok(o.with_half_pixel_centers(true)),
        ("pytorch_half_pixel", "round_prefer_ceil") if pytorch_ok => Ok(o.with_half_pixel_centers(true)),
        _ => Err(bad()),
    }
}

/// The output size of a resize by `scale`, when ONNX's coordinate mapping
/// (through `scale`) equals TFLite's (through `in / out`).
fn scaled_size(input: i64, scale: f32) -> Result<i64, LowerError> {
    let exact = input as f64 * f64::from(scale);
    let out = exact.floor();
    if !(scale > 0.0) || out != exact || out < 1.0 || out > f64::from(i32::MAX) {
        return Err(LowerError::attr(format!("scale {scale} on size {input} (only scales giving a whole output size)")));
    }
    Ok(out as i64)
}

/// Emits RESIZE_BILINEAR or RESIZE_NEAREST_NEIGHBOR on the spatial dims
/// of an NCHW tensor.
fn emit_resize(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, out: [i64; 2], linear: bool, o: ResizeOptions) -> Result<(), LowerError> {
    let size = [i32::try_from(out[0]).map_err(|_| shape_err("size overflows"))?, i32::try_from(out[1]).map_err(|_| shape_err("size overflows"))?];
    let h = ctx.to_channels_last(x)?;
    let y = if linear { ctx.g.resize_bilinear(h, size, o)? } else { ctx.g.resize_nearest_neighbor(h, size, o)? };
    let y = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The 4-D float input of a resize and its static height and width.
fn resize_input(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(TensorId, Shape, [i64; 2]), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let xs = ctx.shape(x).clone();
    if xs.rank() != 4 {
        return Err(shape_err(format!("{} on rank {} (only 4-D NCHW)", node.op_type(), xs.rank())));
    }
    let hw = [static_dim(&xs, 2, "the input height")?, static_dim(&xs, 3, "the input width")?];
    Ok((x, xs, hw))
}

/// Checks that a 4-entry scale vector leaves N and C alone.
fn spatial_scales(scales: &[f32], what: &str) -> Result<[f32; 2], LowerError> {
    match scales {
        [n, c, h, w] if *n == 1.0 && *c == 1.0 => Ok([*h, *w]),
        [_, _, _, _] => Err(shape_err(format!("{what} {scales:?} resize the batch or channels"))),
        _ => Err(LowerError::invalid(format!("{what} {scales:?} for a 4-D input"))),
    }
}

/// Lowers `Resize` (opsets 10–19) on 4-D NCHW inputs, resizing H and W,
/// with constant scales or sizes: `nearest` and `linear` in the coordinate
/// modes TFLite's resizes compute exactly.
pub fn lower_resize(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "nearest".into());
    let linear = match mode.as_str() {
        "nearest" => false,
        "linear" => true,
        other => return Err(LowerError::attr(format!("mode {other}"))),
    };
    let default_transform = if node.opset() < 11 { "asymmetric" } else { "half_pixel" };
    let transform = node.attr_str("coordinate_transformation_mode")?.unwrap_or_else(|| default_transform.into());
    let nearest_mode = if node.opset() < 11 { "floor".to_string() } else { node.attr_str("nearest_mode")?.unwrap_or_else(|| "round_prefer_floor".into()) };
    let (x, xs, hw) = resize_input(ctx, node)?;
    let axes: Option<Vec<usize>> = match node.attr_ints("axes")? {
        Some(a) => Some(a.iter().map(|a| norm_axis(*a, 4)).collect::<Result<_, _>>()?),
        None => None,
    };
    let widen = |v: Vec<f64>, fill: f64| -> Result<Vec<f64>, LowerError> {
        match &axes {
            None => Ok(v),
            Some(a) if a.len() == v.len() => {
                let mut full = vec![fill; 4];
                for (ax, val) in a.iter().zip(v) {
                    full[*ax] = val;
                }
                Ok(full)
            }
            Some(a) => Err(LowerError::invalid(format!("{} values for axes {a:?}", v.len()))),
        }
    };
    let (scales_i, sizes_i) = if node.opset() < 11 { (1, usize::MAX) } else { (2, 3) };
    let scales = if node.has_input(scales_i) {
        let d = ctx.const_input(node, scales_i).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "scales must be constant"))?;
        let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric scales"))?;
        if v.is_empty() { None } else { Some(v) }
    } else {
        None
    };
    let sizes = if sizes_i != usize::MAX && node.has_input(sizes_i) {
        let d = ctx.const_input(node, sizes_i).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "sizes must be constant"))?;
        let v = d.to_i64().ok_or_else(|| dtype_err("non-integer sizes"))?;
        if v.is_empty() { None } else { Some(v) }
    } else {
        None
    };
    let out: [i64; 2] = match (scales, sizes) {
        (Some(s), None) => {
            let s: Vec<f32> = widen(s, 1.0)?.into_iter().map(|v| v as f32).collect();
            let [sh, sw] = spatial_scales(&s, "scales")?;
            if linear && node.int_or("antialias", 0)? != 0 && (sh < 1.0 || sw < 1.0) {
                return Err(LowerError::attr("antialias when downsampling"));
            }
            [scaled_size(hw[0], sh)?, scaled_size(hw[1], sw)?]
        }
        (None, Some(sz)) => {
            let policy = node.attr_str("keep_aspect_ratio_policy")?.unwrap_or_else(|| "stretch".into());
            if policy != "stretch" {
                return Err(LowerError::attr(format!("keep_aspect_ratio_policy {policy}")));
            }
            let fill: Vec<f64> = xs.dims().iter().map(|d| d.fixed().map_or(-1.0, f64::from)).collect();
            let full = match &axes {
                None => sz.iter().map(|v| *v as f64).collect::<Vec<_>>(),
                Some(a) => {
                    let mut f = fill.clone();
                    if a.len() != sz.len() {
                        return Err(LowerError::invalid("sizes and axes differ in length"));
                    }
                    for (ax, v) in a.iter().zip(&sz) {
                        f[*ax] = *v as f64;
                    }
                    f
                }
            };
            if full.len() != 4 {
                return Err(LowerError::invalid(format!("sizes {sz:?} for a 4-D input")));
            }
            if full[0] != fill[0] || full[1] != fill[1] {
                return Err(shape_err(format!("sizes {sz:?} resize the batch or channels (or they are dynamic)")));
            }
            if linear && node.int_or("antialias", 0)? != 0 && (full[2] < hw[0] as f64 || full[3] < hw[1] as f64) {
                return Err(LowerError::attr("antialias when downsampling"));
            }
            if full[2] < 1.0 || full[3] < 1.0 {
                return Err(LowerError::invalid(format!("sizes {sz:?}")));
            }
            [full[2] as i64, full[3] as i64]
        }
        (Some(_), Some(_)) => return Err(LowerError::invalid("both scales and sizes given")),
        (None, None) => return Err(LowerError::invalid("neither scales nor sizes given")),
    };
    let o = resize_options(linear, &transform, &nearest_mode, hw, out)?;
    emit_resize(ctx, node, x, out, linear, o)
}

/// Lowers `Upsample` (opsets 7–9): nearest (floor) or linear, asymmetric.
pub fn lower_upsample(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "nearest".into());
    let linear = match mode.as_str() {
        "nearest" => false,
        "linear" | "bilinear" => true,
        other => return Err(LowerError::attr(format!("mode {other}"))),
    };
    let (x, _, hw) = resize_input(ctx, node)?;
    let scales: Vec<f32> = if node.opset() < 9 {
        node.attr_floats("scales")?.ok_or_else(|| LowerError::invalid("Upsample needs scales"))?
    } else {
        ctx.const_floats(node, 1, "scales")?
    };
    let [sh, sw] = spatial_scales(&scales, "scales")?;
    let out = [scaled_size(hw[0], sh)?, scaled_size(hw[1], sw)?];
    emit_resize(ctx, node, x, out, linear, ResizeOptions::default())
}

/// Lowers `MatMul`: a constant 2-D right operand goes to FULLY_CONNECTED
/// ([`lower_matmul`]), anything else to BATCH_MATMUL (1-D operands are
/// made 2-D and the added dimension removed again).
pub fn lower_matmul_any(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let a_const = ctx.const_input(node, 0);
    let b_const = ctx.const_input(node, 1);
    if a_const.is_none() {
        let a = ctx.input(node, 0)?;
        if b_const.as_ref().is_some_and(|b| b.dims.len() == 2) && ctx.shape(a).rank() >= 2 && ctx.dtype(a) == DType::F32 {
            return lower_matmul(ctx, node);
        }
    }
    let like = tensor_type(ctx, node, 0).or_else(|| tensor_type(ctx, node, 1)).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "no tensor input"))?;
    if like != DType::F32 {
        return Err(dtype_err(format!("MatMul on {like}")));
    }
    let mut a = operand_as(ctx, node, 0, DType::F32)?;
    let mut b = operand_as(ctx, node, 1, DType::F32)?;
    let (ra, rb) = (ctx.shape(a).rank(), ctx.shape(b).rank());
    if ra == 0 || rb == 0 || ra > 5 || rb > 5 {
        return Err(shape_err(format!("MatMul of ranks {ra} and {rb}")));
    }
    let one_d = |ctx: &mut LowerCtx<'_>, t: TensorId, row: bool| -> Result<TensorId, LowerError> {
        let n = ctx.shape(t).dims()[0].fixed().map_or(-1, |v| v as i32);
        Ok(ctx.g.reshape(t, &if row { [1, n] } else { [n, 1] })?)
    };
    if ra == 1 {
        a = one_d(ctx, a, true)?;
    }
    if rb == 1 {
        b = one_d(ctx, b, false)?;
    }
    let mut y = ctx.g.batch_matmul(a, b, BatchMatMulOptions::default())?;
    if ra == 1 || rb == 1 {
        let r = ctx.shape(y).rank() as i32;
        let mut dims = Vec::new();
        if ra == 1 {
            dims.push(r - 2);
        }
        if rb == 1 {
            dims.push(r - 1);
        }
        y = ctx.g.squeeze(y, &dims)?;
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The reductions lowered by [`reduce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reduction {
    Max,
    Min,
    Sum,
    Prod,
}

pub(crate) fn reduce(ctx: &mut LowerCtx<'_>, node: &Node<'_>, axes_input_since: i64, kind: Reduction) -> Result<(), LowerError> {
    let types: &[DType] = match kind {
        Reduction::Max | Reduction::Sum => &[DType::F32],
        Reduction::Min | Reduction::Prod => &[DType::F32, DType::I32, DType::I64],
    };
    let x = typed_input(ctx, node, types)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axes = if node.opset() < axes_input_since {
        node.attr_ints("axes")?
    } else if node.has_input(1) {
        Some(ctx.const_ints(node, 1, "axes")?)
    } else {
        None
    };
    let keep = node.int_or("keepdims", 1)? != 0;
    let axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        _ => {
            if node.int_or("noop_with_empty_axes", 0)? != 0 {
                ctx.set_output(node, 0, x);
                return Ok(());
            }
            (0..r).collect()
        }
    };
    if matches!(kind, Reduction::Max | Reduction::Min) && axes.iter().any(|a| xs.dims()[*a] == Dim::Fixed(0)) {
        return Err(shape_err(format!("{} over an empty dimension (ONNX gives ±inf, TFLite the extreme finite value)", node.op_type())));
    }
    if r == 0 {
        return Err(shape_err("reduction of a scalar"));
    }
    let ax: Vec<i32> = axes.iter().map(|a| *a as i32).collect();
    let y = match kind {
        Reduction::Max => ctx.g.reduce_max(x, &ax, keep)?,
        Reduction::Sum => ctx.g.sum(x, &ax, keep)?,
        Reduction::Min | Reduction::Prod => {
            let name = format!("{}/axes", node.name());
            let a = ctx.g.constant_i32(&name, [ax.len() as u32], &ax);
            let op = if kind == Reduction::Min { Op::ReduceMin { keep_dims: keep } } else { Op::ReduceProd { keep_dims: keep } };
            ctx.g.apply(op, &[Some(x), Some(a)])?
        }
    };
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `ReduceMax` to REDUCE_MAX (axes attribute before opset 18, input
/// from 18 on).
pub fn lower_reduce_max(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    reduce(ctx, node, 18, Reduction::Max)
}

/// Lowers `ReduceSum` to SUM (axes attribute before opset 13, input from 13
/// on).
pub fn lower_reduce_sum(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    reduce(ctx, node, 13, Reduction::Sum)
}

/// Lowers `Pad` in all modes TFLite has: constant zero ([`lower_pad`]),
/// another constant (PADV2) and reflect (MIRROR_PAD REFLECT). `edge` and
/// `wrap` have no TFLite op.
pub fn lower_pad_any(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "constant".into());
    let (pads, value) = if node.opset() < 11 {
        let p = node.attr_ints("pads")?.or(node.attr_ints("paddings")?).unwrap_or_default();
        (p, f64::from(node.float_or("value", 0.0)?))
    } else {
        let p = ctx.const_ints(node, 1, "pads")?;
        let v = if node.has_input(2) {
            let d = ctx.const_input(node, 2).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "constant_value (input 2) must be constant"))?;
            d.to_f64().ok_or_else(|| dtype_err("non-numeric constant_value"))?.first().copied().unwrap_or(0.0)
        } else {
            0.0
        };
        (p, v)
    };
    if mode == "constant" && value == 0.0 {
        return lower_pad(ctx, node);
    }
    let x = typed_input(ctx, node, &[DType::F32, DType::I32, DType::I64])?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axes: Vec<usize> = if node.opset() >= 18 && node.has_input(3) {
        ctx.const_ints(node, 3, "axes")?.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?
    } else {
        (0..r).collect()
    };
    if pads.len() != 2 * axes.len() || pads.iter().any(|p| *p < 0 || *p > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("pads {pads:?} (negative pads are not supported)")));
    }
    let mut pp = vec![(0i32, 0i32); r];
    for (k, a) in axes.iter().enumerate() {
        pp[*a] = (pads[k] as i32, pads[k + axes.len()] as i32);
    }
    let dtype = ctx.dtype(x);
    let y = match mode.as_str() {
        "constant" => {
            let c = typed_const(ctx, &format!("{}/value", node.name()), dtype, &[1], &[value])?;
            ctx.g.pad_v2(x, &pp, c)?
        }
        "reflect" => {
            for (i, (a, b)) in pp.iter().enumerate() {
                if *a == 0 && *b == 0 {
                    continue;
                }
                let n = static_dim(&xs, i, "a reflected dimension")?;
                if i64::from(*a.max(b)) > n - 1 {
                    return Err(LowerError::attr(format!("reflect padding ({a}, {b}) of size {n} (at most {})", n - 1)));
                }
            }
            ctx.g.mirror_pad(x, &pp, MirrorPadMode::Reflect)?
        }
        other => return Err(LowerError::attr(format!("Pad mode {other} (TFLite has constant and reflect)"))),
    };
    ctx.set_output(node, 0, y);
    Ok(())
}
