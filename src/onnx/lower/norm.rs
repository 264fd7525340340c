//! LayerNormalization (opset 17) and RMSNormalization (opset 23),
//! decomposed into MEAN, SUB, MUL, ADD and RSQRT on the ONNX layout:
//!
//! - layer norm: `mean = MEAN(x, axes)`, `d = x - mean`,
//!   `inv = RSQRT(MEAN(d·d, axes) + eps)`, `y = d · inv · scale (+ bias)`;
//! - RMS norm: `y = x · RSQRT(MEAN(x·x, axes) + eps) · scale`,
//!
//! where `axes = axis..rank` (kept dimensions, so every step broadcasts).

use super::operand::{dtype_err, shape_err, typed_input};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// The normalized axes `axis..rank`, after the float32 and stash_type checks.
fn norm_axes(ctx: &LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<Vec<i32>, LowerError> {
    let stash = node.int_or("stash_type", 1)?;
    if stash != 1 {
        return Err(LowerError::attr(format!("stash_type = {stash} (only 1, float32, is supported)")));
    }
    let r = ctx.shape(x).rank();
    if r == 0 {
        return Err(shape_err(format!("{} of a scalar", node.op_type())));
    }
    let a = norm_axis(node.int_or("axis", -1)?, r)?;
    Ok((a as i32..r as i32).collect())
}

/// Input `i` (scale or bias) as a float32 tensor.
fn f32_param(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, what: &str) -> Result<TensorId, LowerError> {
    let t = ctx.input(node, i)?;
    let d = ctx.dtype(t);
    if d != DType::F32 {
        return Err(dtype_err(format!("{} {what} on {d}", node.op_type())));
    }
    Ok(t)
}

/// `RSQRT(MEAN(sq, axes) + eps)`.
fn inv_rms(ctx: &mut LowerCtx<'_>, node: &Node<'_>, sq: TensorId, axes: &[i32]) -> Result<TensorId, LowerError> {
    let eps = node.float_or("epsilon", 1e-5)?;
    let ms = ctx.g.mean(sq, axes, true)?;
    let e = ctx.g.constant_f32(&format!("{}/epsilon", node.name()), Shape::new(Vec::<u32>::new()), &[eps]);
    let v = ctx.g.add(ms, e)?;
    Ok(ctx.g.rsqrt(v)?)
}

/// Lowers `LayerNormalization` (all three outputs: Y, Mean, InvStdDev).
pub fn lower_layer_norm(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let axes = norm_axes(ctx, node, x)?;
    let scale = f32_param(ctx, node, 1, "scale")?;
    let bias = if node.has_input(2) { Some(f32_param(ctx, node, 2, "bias")?) } else { None };
    let mean = ctx.g.mean(x, &axes, true)?;
    let d = ctx.g.sub(x, mean)?;
    let sq = ctx.g.mul(d, d)?;
    let inv = inv_rms(ctx, node, sq, &axes)?;
    let n = ctx.g.mul(d, inv)?;
    let mut y = ctx.g.mul(n, scale)?;
    if let Some(b) = bias {
        y = ctx.g.add(y, b)?;
    }
    ctx.set_output(node, 0, y);
    // Mean and InvStdDev (float32 with stash_type 1, shaped like the kept
    // reduction) are intermediate values of the decomposition.
    ctx.set_output(node, 1, mean);
    ctx.set_output(node, 2, inv);
    Ok(())
}

/// Lowers `RMSNormalization` (opset 23).
pub fn lower_rms_norm(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let axes = norm_axes(ctx, node, x)?;
    let scale = f32_param(ctx, node, 1, "scale")?;
    let sq = ctx.g.mul(x, x)?;
    let inv = inv_rms(ctx, node, sq, &axes)?;
    let n = ctx.g.mul(x, inv)?;
    let y = ctx.g.mul(n, scale)?;
    ctx.set_output(node, 0, y);
    Ok(())
}
