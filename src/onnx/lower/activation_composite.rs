//! Activations without a TFLite builtin of their own, composed from
//! elementwise ops: Elu, Selu, Celu, Softplus, Softsign, ThresholdedRelu,
//! Swish, SwiGLU, Mish and Shrink (float32). Each follows the ONNX reference
//! formula; Softplus uses the overflow-free `max(x, 0) + log1p(exp(-|x|))`
//! with an accurate `log1p` (a series for small arguments).

use super::operand::typed_input;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

fn scalar(ctx: &mut LowerCtx<'_>, node: &Node<'_>, what: &str, v: f32) -> TensorId {
    ctx.g.constant_f32(&format!("{}/{what}", node.name()), Shape::scalar(), &[v])
}

/// `x > 0 ? pos : neg`.
fn positive_or(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, pos: TensorId, neg: TensorId) -> Result<TensorId, LowerError> {
    let zero = scalar(ctx, node, "zero", 0.0);
    let c = ctx.g.apply(Op::Greater, &[Some(x), Some(zero)])?;
    Ok(ctx.g.apply(Op::SelectV2, &[Some(c), Some(pos), Some(neg)])?)
}

/// `exp(x) - 1`.
fn exp_m1(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<TensorId, LowerError> {
    let e = ctx.g.exp(x)?;
    let one = scalar(ctx, node, "one", 1.0);
    Ok(ctx.g.sub(e, one)?)
}

/// `log(1 + t)` for `t` in [0, 1], accurate relative to its value: the
/// alternating series (to t¹¹) below 1/8, LOG(1 + t) above. (Kahan's
/// `log(u)·t/(u − 1)` would need a LOG accurate relative to its result
/// near 1, which XNNPACK's is not.)
pub(crate) fn log1p_unit(ctx: &mut LowerCtx<'_>, name: &str, t: TensorId) -> Result<TensorId, LowerError> {
    let coeffs: Vec<f64> = (1..=11).rev().map(|k| if k % 2 == 1 { 1.0 / f64::from(k) } else { -1.0 / f64::from(k) }).collect();
    let p = super::unary_math::horner(ctx, &format!("{name}/log1p_series"), t, &coeffs)?;
    let small = ctx.g.mul(p, t)?;
    let one = ctx.g.constant_f32(&format!("{name}/log1p_one"), Shape::scalar(), &[1.0]);
    let u = ctx.g.add(t, one)?;
    let big = ctx.g.apply(Op::Log, &[Some(u)])?;
    let eighth = ctx.g.constant_f32(&format!("{name}/log1p_eighth"), Shape::scalar(), &[0.125]);
    let c = ctx.g.apply(Op::Less, &[Some(t), Some(eighth)])?;
    Ok(ctx.g.apply(Op::SelectV2, &[Some(c), Some(small), Some(big)])?)
}

/// `log(1 + exp(x))`, computed as `max(x, 0) + log1p(exp(-|x|))`.
fn softplus(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<TensorId, LowerError> {
    let a = ctx.g.abs(x)?;
    let n = ctx.g.neg(a)?;
    let e = ctx.g.exp(n)?;
    let l = log1p_unit(ctx, &node.name(), e)?;
    let r = ctx.g.relu(x)?;
    Ok(ctx.g.add(r, l)?)
}

fn finish(ctx: &mut LowerCtx<'_>, node: &Node<'_>, y: TensorId) -> Result<(), LowerError> {
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Elu`: `x > 0 ? x : alpha·(exp(x) - 1)`.
pub fn lower_elu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let alpha = node.float_or("alpha", 1.0)?;
    let em1 = exp_m1(ctx, node, x)?;
    let a = scalar(ctx, node, "alpha", alpha);
    let neg = ctx.g.mul(em1, a)?;
    let y = positive_or(ctx, node, x, x, neg)?;
    finish(ctx, node, y)
}

/// Lowers `Selu`: `x > 0 ? γ·x : γ·α·(exp(x) - 1)`.
pub fn lower_selu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let alpha = node.float_or("alpha", 1.673_263_2)?;
    let gamma = node.float_or("gamma", 1.050_701)?;
    let g = scalar(ctx, node, "gamma", gamma);
    let pos = ctx.g.mul(x, g)?;
    let em1 = exp_m1(ctx, node, x)?;
    let ag = scalar(ctx, node, "alpha_gamma", alpha * gamma);
    let neg = ctx.g.mul(em1, ag)?;
    let y = positive_or(ctx, node, x, pos, neg)?;
    finish(ctx, node, y)
}

/// Lowers `Celu`: `max(0, x) + min(0, α·(exp(x/α) - 1))`.
pub fn lower_celu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let alpha = node.float_or("alpha", 1.0)?;
    if alpha == 0.0 {
        return Err(LowerError::invalid("Celu with alpha 0"));
    }
    let a = scalar(ctx, node, "alpha", alpha);
    let d = ctx.g.div(x, a)?;
    let em1 = exp_m1(ctx, node, d)?;
    let m = ctx.g.mul(em1, a)?;
    let zero = scalar(ctx, node, "zero_min", 0.0);
    let neg = ctx.g.minimum(m, zero)?;
    let pos = ctx.g.relu(x)?;
    let y = ctx.g.add(pos, neg)?;
    finish(ctx, node, y)
}

/// Lowers `Softplus`.
pub fn lower_softplus(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let y = softplus(ctx, node, x)?;
    finish(ctx, node, y)
}

/// Lowers `Softsign`: `x / (1 + |x|)`.
pub fn lower_softsign(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let a = ctx.g.abs(x)?;
    let one = scalar(ctx, node, "one", 1.0);
    let d = ctx.g.add(a, one)?;
    let y = ctx.g.div(x, d)?;
    finish(ctx, node, y)
}

/// Lowers `ThresholdedRelu`: `x > alpha ? x : 0`.
pub fn lower_thresholded_relu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let alpha = node.float_or("alpha", 1.0)?;
    let a = scalar(ctx, node, "alpha", alpha);
    let zero = scalar(ctx, node, "zero", 0.0);
    let c = ctx.g.apply(Op::Greater, &[Some(x), Some(a)])?;
    let y = ctx.g.apply(Op::SelectV2, &[Some(c), Some(x), Some(zero)])?;
    finish(ctx, node, y)
}

/// Lowers `Swish`: `x · sigmoid(alpha·x)`.
pub fn lower_swish(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let alpha = node.float_or("alpha", 1.0)?;
    let ax = if alpha == 1.0 {
        x
    } else {
        let a = scalar(ctx, node, "alpha", alpha);
        ctx.g.mul(x, a)?
    };
    let s = ctx.g.logistic(ax)?;
    let y = ctx.g.mul(x, s)?;
    finish(ctx, node, y)
}

/// Lowers `SwiGLU`: `a · sigmoid(alpha · a) · b` (MUL, LOGISTIC, MUL, MUL;
/// `a` and `b` broadcast).
pub fn lower_swiglu(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let a = typed_input(ctx, node, &[DType::F32])?;
    let b = ctx.input(node, 1)?;
    if ctx.dtype(b) != DType::F32 {
        return Err(super::operand::dtype_err(format!("SwiGLU second input of type {}", ctx.dtype(b))));
    }
    let alpha = node.float_or("alpha", 1.0)?;
    let aa = if alpha == 1.0 {
        a
    } else {
        let k = scalar(ctx, node, "alpha", alpha);
        ctx.g.mul(a, k)?
    };
    let s = ctx.g.logistic(aa)?;
    let sw = ctx.g.mul(a, s)?;
    let y = ctx.g.mul(sw, b)?;
    finish(ctx, node, y)
}

/// Lowers `Mish`: `x · tanh(softplus(x))`.
pub fn lower_mish(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let sp = softplus(ctx, node, x)?;
    let t = ctx.g.tanh(sp)?;
    let y = ctx.g.mul(x, t)?;
    finish(ctx, node, y)
}

/// Lowers `Shrink`: `x < -λ ? x + bias : x > λ ? x - bias : 0`.
pub fn lower_shrink(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let bias = node.float_or("bias", 0.0)?;
    let lambd = node.float_or("lambd", 0.5)?;
    let b = scalar(ctx, node, "bias", bias);
    let hi = scalar(ctx, node, "lambd", lambd);
    let lo = scalar(ctx, node, "neg_lambd", -lambd);
    let zero = scalar(ctx, node, "zero", 0.0);
    let above = ctx.g.apply(Op::Greater, &[Some(x), Some(hi)])?;
    let below = ctx.g.apply(Op::Less, &[Some(x), Some(lo)])?;
    let minus = ctx.g.sub(x, b)?;
    let plus = ctx.g.add(x, b)?;
    let inner = ctx.g.apply(Op::SelectV2, &[Some(above), Some(minus), Some(zero)])?;
    let y = ctx.g.apply(Op::SelectV2, &[Some(below), Some(plus), Some(inner)])?;
    finish(ctx, node, y)
}
