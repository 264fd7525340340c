//! Elementwise arithmetic, activations and softmax.

use super::{LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::TensorData;

/// The tensor of input `i`, with constants materialized in `like`'s type.
pub(crate) fn operand(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, like: Option<DType>) -> Result<TensorId, LowerError> {
    if let (Some(d), Some(like)) = (ctx.const_input(node, i), like)
        && d.dtype != like {
            let v = d.to_f64().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "non-numeric constant"))?;
            let c = TensorData::from_f64(like, d.dims.clone(), &v).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, format!("constant as {like}")))?;
            let name = format!("{}/const{i}", node.name());
            return ctx.const_tensor(&name, &c);
        }
    ctx.input(node, i)
}

fn tensor_type_of(ctx: &LowerCtx<'_>, node: &Node<'_>, i: usize) -> Option<DType> {
    match ctx.env.get(node.inner.input(i)?)? {
        Val::Tensor(t) => Some(ctx.g.tensor(*t).dtype),
        _ => None,
    }
}

fn binary(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op) -> Result<(), LowerError> {
    let like = tensor_type_of(ctx, node, 0).or_else(|| tensor_type_of(ctx, node, 1));
    let a = operand(ctx, node, 0, like)?;
    let b = operand(ctx, node, 1, like)?;
    let y = ctx.g.apply(op, &[Some(a), Some(b)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Add`.
pub fn lower_add(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary(ctx, node, Op::Add(AddSubOptions::default()))
}
/// Lowers `Sub`.
pub fn lower_sub(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary(ctx, node, Op::Sub(AddSubOptions::default()))
}
/// Lowers `Mul`.
pub fn lower_mul(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary(ctx, node, Op::Mul(Activation::None))
}
/// Lowers `Div`.
pub fn lower_div(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary(ctx, node, Op::Div(Activation::None))
}

fn unary(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    if ctx.dtype(x) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("{} on {}", node.op_type(), ctx.dtype(x))));
    }
    let y = ctx.g.apply(op, &[Some(x)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Relu`.
pub fn lower_relu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary(ctx, node, Op::Relu)
}
/// Lowers `Sigmoid`.
pub fn lower_sigmoid(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary(ctx, node, Op::Logistic)
}
/// Lowers `Tanh`.
pub fn lower_tanh(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary(ctx, node, Op::Tanh)
}
/// Lowers `HardSwish`.
pub fn lower_hardswish(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary(ctx, node, Op::HardSwish)
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
        (l, h) if l == 0.0 && h == 6.0 => unary(ctx, node, Op::Relu6),
        (l, h) if l == 0.0 && h == f32::INFINITY => unary(ctx, node, Op::Relu),
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

/// Lowers `Softmax` (both axis semantics).
pub fn lower_softmax(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let r = ctx.shape(x).rank() as i64;
    let default_axis = if node.opset() < 13 { 1 } else { -1 };
    let mut axis = node.int_or("axis", default_axis)?;
    if axis < 0 {
        axis += r;
    }
    if axis < 0 || axis >= r.max(1) {
        return Err(LowerError::attr(format!("axis {axis} for rank {r}")));
    }
    let y = if axis == r - 1 {
        ctx.g.softmax(x, 1.0)?
    } else if node.opset() < 13 {
        // Coerce to 2-D at `axis`: softmax over all trailing dims together.
        let dims = ctx.shape(x).clone();
        let inner: Option<u32> = dims.dims()[axis as usize..].iter().map(|d| d.fixed()).product::<Option<u32>>();
        let inner = inner.ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "softmax over dynamic trailing dims"))?;
        let flat = ctx.g.reshape(x, &[-1, inner as i32])?;
        let s = ctx.g.softmax(flat, 1.0)?;
        let back: Vec<i32> = dims.file_signature().unwrap_or_else(|| dims.file_shape());
        ctx.g.reshape(s, &back)?
    } else {
        let mut perm: Vec<i32> = (0..r as i32).collect();
        perm.swap(axis as usize, (r - 1) as usize);
        let t = ctx.g.transpose(x, &perm)?;
        let s = ctx.g.softmax(t, 1.0)?;
        ctx.g.transpose(s, &perm)?
    };
    ctx.set_output(node, 0, y);
    Ok(())
}
