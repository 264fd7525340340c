//! Activations: Relu, Sigmoid, Tanh, HardSwish, HardSigmoid, Clip,
//! LeakyRelu, PRelu and Gelu.

use super::elementwise::MINMAX_TYPES;
use super::widen::{compute_type, Kind};
use super::operand::{dtype_err, pass_through, shape_err, typed_const, typed_input, unary_op};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `Relu`.
pub fn lower_relu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Relu, &[DType::F32])
}
/// Lowers `Sigmoid`.
pub fn lower_sigmoid(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Logistic, &[DType::F32])
}
/// Lowers `Tanh`.
pub fn lower_tanh(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Tanh, &[DType::F32])
}
/// Lowers `HardSwish`.
pub fn lower_hardswish(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::HardSwish, &[DType::F32])
}

/// Lowers `Clip` with constant bounds to RELU, RELU6 or RELU_N1_TO_1.
pub fn lower_clip(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let bound = |i: usize, attr: &str, default: f32| -> Result<f32, LowerError> {
        if node.opset() < 11 {
            return node.float_or(attr, default);
        }
        if !node.has_input(i) {
            return Ok(default);
        }
        let v = ctx.const_floats(node, i, attr)?;
        v.first().copied().ok_or_else(|| LowerError::invalid(format!("empty {attr}")))
    };
    let lo = bound(1, "min", f32::NEG_INFINITY)?;
    let hi = bound(2, "max", f32::INFINITY)?;
    match (lo, hi) {
        (l, h) if l == 0.0 && h == 6.0 => unary_op(ctx, node, Op::Relu6, &[DType::F32]),
        (l, h) if l == 0.0 && h == f32::INFINITY => unary_op(ctx, node, Op::Relu, &[DType::F32]),
        (l, h) if l == -1.0 && h == 1.0 => lower_relu_n1(ctx, node),
        (l, h) => Err(LowerError::attr(format!("Clip to [{l}, {h}] (supported: [0, inf), [0, 6], [-1, 1])"))),
    }
}

fn lower_relu_n1(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    // clip(x, -1, 1) = relu6(3x + 3) / 3 - 1, exact in float for |x| small;
    // TFLite's RELU_N1_TO_1 has no typed form yet, so compose it.
    let x = ctx.input(node, 0)?;
    let name = node.name();
    let three = ctx.g.constant_f32(&format!("{name}/three"), Shape::scalar(), &[3.0]);
    let third = ctx.g.constant_f32(&format!("{name}/third"), Shape::scalar(), &[1.0 / 3.0]);
    let one = ctx.g.constant_f32(&format!("{name}/one"), Shape::scalar(), &[1.0]);
    let a = ctx.g.mul(x, three)?;
    let b = ctx.g.add(a, three)?;
    let c = ctx.g.relu6(b)?;
    let d = ctx.g.mul(c, third)?;
    let y = ctx.g.sub(d, one)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// A bound of `Clip`.
enum Bound {
    /// Absent (or an attribute left out).
    None,
    /// Known at conversion time.
    Const(f64),
    /// A run-time one-element tensor of the input's type.
    Tensor(TensorId),
}

/// Bound `i` (`attr` before opset 11) of a `Clip` on `x`.
fn clip_bound(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, i: usize, attr: &str) -> Result<Bound, LowerError> {
    if node.opset() < 11 {
        return Ok(node.attr_float(attr)?.map_or(Bound::None, |v| Bound::Const(f64::from(v))));
    }
    if !node.has_input(i) {
        return Ok(Bound::None);
    }
    if let Some(d) = ctx.const_input(node, i) {
        let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric bound"))?;
        return v.first().copied().map(Bound::Const).ok_or_else(|| LowerError::invalid(format!("empty {attr}")));
    }
    let t = ctx.input(node, i)?;
    let (ts, xs) = (ctx.shape(t).clone(), ctx.shape(x).clone());
    // One element, of no higher rank than the input: broadcasting it leaves
    // the output shape as the input's.
    if ts.num_elements() != Some(1) || ts.rank() > xs.rank() {
        return Err(shape_err(format!("{attr} (input {i}) of shape {ts} (must be a scalar) for an input of shape {xs}")));
    }
    if ctx.dtype(t) != ctx.dtype(x) {
        return Err(dtype_err(format!("{attr} of type {} for an input of type {}", ctx.dtype(t), ctx.dtype(x))));
    }
    Ok(Bound::Tensor(t))
}

/// Lowers `Clip` with any bounds: constant [0, ∞) and [0, 6] through
/// [`lower_clip`] as RELU / RELU6, others (constant or run-time tensors)
/// to MAXIMUM and MINIMUM (`min(max(x, lo), hi)`, which is `hi`
/// everywhere when `lo > hi`, as ONNX defines).
pub fn lower_clip_any(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let dtype = ctx.dtype(x);
    let lo = clip_bound(ctx, node, x, 1, "min")?;
    let hi = clip_bound(ctx, node, x, 2, "max")?;
    // RELU and RELU6 (exact); other bounds, [-1, 1] included, go to
    // MAXIMUM / MINIMUM, which are exact too.
    let relu_form = dtype == DType::F32
        && matches!(lo, Bound::Const(l) if l == 0.0)
        && match hi {
            Bound::None => true,
            Bound::Const(h) => h == 6.0 || h == f64::INFINITY,
            Bound::Tensor(_) => false,
        };
    if relu_form {
        return lower_clip(ctx, node);
    }
    // Types MAXIMUM / MINIMUM lack are clipped exactly in a wider one.
    let compute = compute_type(dtype, Kind::Select, MINMAX_TYPES).ok_or_else(|| dtype_err(format!("Clip on {dtype}")))?;
    let name = node.name();
    let wide = |ctx: &mut LowerCtx<'_>, t: TensorId| -> Result<TensorId, LowerError> { if compute == dtype { Ok(t) } else { Ok(ctx.g.cast(t, compute)?) } };
    let active = |b: &Bound, unbounded: f64| match b {
        Bound::None => false,
        Bound::Const(v) => *v != unbounded,
        Bound::Tensor(_) => true,
    };
    if !active(&lo, f64::NEG_INFINITY) && !active(&hi, f64::INFINITY) {
        // No bounds: the output is the input.
        return pass_through(ctx, node);
    }
    let mut y = wide(ctx, x)?;
    match lo {
        Bound::Const(l) if l != f64::NEG_INFINITY => {
            let c = typed_const(ctx, &format!("{name}/min"), compute, &[], &[l])?;
            y = ctx.g.maximum(y, c)?;
        }
        Bound::Tensor(t) => {
            let t = wide(ctx, t)?;
            y = ctx.g.maximum(y, t)?
        }
        _ => {}
    }
    match hi {
        Bound::Const(h) if h != f64::INFINITY => {
            let c = typed_const(ctx, &format!("{name}/max"), compute, &[], &[h])?;
            y = ctx.g.minimum(y, c)?;
        }
        Bound::Tensor(t) => {
            let t = wide(ctx, t)?;
            y = ctx.g.minimum(y, t)?
        }
        _ => {}
    }
    if compute != dtype {
        y = ctx.g.cast(y, dtype)?;
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `HardSigmoid`: `clip(alpha·x + beta, 0, 1)` = `relu6(6α·x + 6β) / 6`.
pub fn lower_hardsigmoid(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let alpha = node.float_or("alpha", 0.2)?;
    let beta = node.float_or("beta", 0.5)?;
    let x = ctx.input(node, 0)?;
    let name = node.name();
    let y = if (beta / alpha - 3.0).abs() < 1e-6 {
        // The MobileNetV3 form: relu6(x + 3) / 6 · (6α).
        let three = ctx.g.constant_f32(&format!("{name}/three"), Shape::scalar(), &[3.0]);
        let a = ctx.g.add(x, three)?;
        let r = ctx.g.relu6(a)?;
        let k = ctx.g.constant_f32(&format!("{name}/scale"), Shape::scalar(), &[alpha]);
        ctx.g.mul(r, k)?
    } else {
        let s = ctx.g.constant_f32(&format!("{name}/alpha6"), Shape::scalar(), &[6.0 * alpha]);
        let b = ctx.g.constant_f32(&format!("{name}/beta6"), Shape::scalar(), &[6.0 * beta]);
        let sixth = ctx.g.constant_f32(&format!("{name}/sixth"), Shape::scalar(), &[1.0 / 6.0]);
        let m = ctx.g.mul(x, s)?;
        let a = ctx.g.add(m, b)?;
        let r = ctx.g.relu6(a)?;
        ctx.g.mul(r, sixth)?
    };
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

/// Lowers `Gelu` (opset 20, and the fused Erf form) to GELU.
pub fn lower_gelu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let approximate = match node.attr_str("approximate")?.as_deref().unwrap_or("none") {
        "none" => false,
        "tanh" => true,
        other => return Err(LowerError::attr(format!("approximate {other:?}"))),
    };
    unary_op(ctx, node, Op::Gelu { approximate }, &[DType::F32])
}
