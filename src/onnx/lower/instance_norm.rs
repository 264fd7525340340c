//! InstanceNormalization, GroupNormalization and
//! MeanVarianceNormalization, decomposed on the ONNX layout into MEAN,
//! SUB, MUL, ADD and RSQRT (the statistics with kept dimensions, so every
//! step broadcasts):
//!
//! - instance norm: over the spatial axes `2..rank`, then per-channel
//!   scale and bias;
//! - group norm: RESHAPE to `[N, G, C/G · spatial]`, normalize over the
//!   last axis, RESHAPE back, then per-channel scale and bias (opset 18's
//!   per-group ones repeated per channel);
//! - mean-variance normalization: `(x - mean) / (sqrt(var) + 1e-9)` over
//!   `axes`, as the ONNX function body defines it;
//!
//! and LRN, the one of them TFLite has as a builtin.

use super::operand::{dtype_err, shape_err, typed_input};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// `(x - mean) · RSQRT(mean((x - mean)²) + eps)` over `axes`.
fn standardize(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, axes: &[i32], eps: f32) -> Result<TensorId, LowerError> {
    let mean = ctx.g.mean(x, axes, true)?;
    let d = ctx.g.sub(x, mean)?;
    let sq = ctx.g.mul(d, d)?;
    let var = ctx.g.mean(sq, axes, true)?;
    let e = ctx.g.constant_f32(&format!("{}/epsilon", node.name()), Shape::scalar(), &[eps]);
    let v = ctx.g.add(var, e)?;
    let inv = ctx.g.rsqrt(v)?;
    Ok(ctx.g.mul(d, inv)?)
}

/// Input `i` (a per-channel vector of `c` values) shaped `[C, 1, …]` to
/// broadcast against a rank-`rank` NC… tensor; `per` > 1 repeats each of
/// `c / per` per-group values `per` times (GroupNormalization before
/// opset 21).
fn channel_param(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, c: usize, per: usize, rank: usize, what: &str) -> Result<TensorId, LowerError> {
    let mut shape = vec![c as u32];
    shape.extend(std::iter::repeat_n(1u32, rank - 2));
    let n = c / per;
    let name = format!("{}/{what}", node.name());
    if let Some(d) = ctx.const_input(node, i) {
        let v = d.to_f32().ok_or_else(|| dtype_err(format!("{what} of type {}", d.dtype)))?;
        if v.len() != n {
            return Err(LowerError::invalid(format!("{what} of {} values for {n} channels or groups", v.len())));
        }
        let full: Vec<f32> = (0..c).map(|k| v[k / per]).collect();
        return Ok(ctx.g.constant_f32(&name, Shape::new(shape), &full));
    }
    let t = ctx.input(node, i)?;
    if ctx.dtype(t) != DType::F32 || ctx.shape(t).as_fixed().is_none_or(|d| d != [n as u32]) {
        return Err(LowerError::invalid(format!("{what} of type {} and shape {} for {n} channels or groups", ctx.dtype(t), ctx.shape(t))));
    }
    let t = if per > 1 {
        let idx: Vec<i32> = (0..c).map(|k| (k / per) as i32).collect();
        let it = ctx.g.constant_i32(&format!("{name}/repeat"), [c as u32], &idx);
        ctx.g.gather(t, it, GatherOptions::new(0))?
    } else {
        t
    };
    let s: Vec<i32> = shape.iter().map(|v| *v as i32).collect();
    Ok(ctx.g.reshape(t, &s)?)
}

/// The static channel count of an NC… input of rank ≥ 3.
fn channels(ctx: &LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<usize, LowerError> {
    let s = ctx.shape(x);
    if s.rank() < 3 {
        return Err(shape_err(format!("{} on rank {} (needs N, C and spatial dims)", node.op_type(), s.rank())));
    }
    s.dim(1).and_then(|d| d.fixed()).map(|c| c as usize).ok_or_else(|| shape_err(format!("{} with a dynamic channel count", node.op_type())))
}

/// Lowers `InstanceNormalization`.
pub fn lower_instance_norm(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let c = channels(ctx, node, x)?;
    let r = ctx.shape(x).rank();
    let eps = node.float_or("epsilon", 1e-5)?;
    let axes: Vec<i32> = (2..r as i32).collect();
    let n = standardize(ctx, node, x, &axes, eps)?;
    let scale = channel_param(ctx, node, 1, c, 1, r, "scale")?;
    let bias = channel_param(ctx, node, 2, c, 1, r, "bias")?;
    let y = ctx.g.mul(n, scale)?;
    let y = ctx.g.add(y, bias)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `GroupNormalization` (opset 18: per-group scale and bias; 21:
/// per-channel).
pub fn lower_group_norm(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let c = channels(ctx, node, x)?;
    let stash = node.int_or("stash_type", 1)?;
    if stash != 1 {
        return Err(LowerError::attr(format!("stash_type = {stash} (only 1, float32, is supported)")));
    }
    let groups = node.attr_int("num_groups")?.ok_or_else(|| LowerError::invalid("num_groups is required"))?;
    if groups <= 0 || c % groups as usize != 0 {
        return Err(LowerError::invalid(format!("num_groups {groups} for {c} channels")));
    }
    let g = groups as usize;
    let s = ctx.shape(x).clone();
    let r = s.rank();
    let dims: Option<Vec<u32>> = s.as_fixed();
    let Some(dims) = dims else {
        return Err(shape_err(format!("GroupNormalization on {s} (needs a static shape)")));
    };
    let inner: u64 = dims[1..].iter().map(|d| u64::from(*d)).product::<u64>() / g as u64;
    let inner = i32::try_from(inner).map_err(|_| shape_err("group too large"))?;
    let eps = node.float_or("epsilon", 1e-5)?;
    let grouped = ctx.g.reshape(x, &[dims[0] as i32, g as i32, inner])?;
    let n = standardize(ctx, node, grouped, &[2], eps)?;
    let back: Vec<i32> = dims.iter().map(|d| *d as i32).collect();
    let n = ctx.g.reshape(n, &back)?;
    let per = if node.opset() < 21 { c / g } else { 1 };
    let scale = channel_param(ctx, node, 1, c, per, r, "scale")?;
    let bias = channel_param(ctx, node, 2, c, per, r, "bias")?;
    let y = ctx.g.mul(n, scale)?;
    let y = ctx.g.add(y, bias)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `MeanVarianceNormalization`.
pub fn lower_mean_variance_norm(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let r = ctx.shape(x).rank();
    let axes = node.attr_ints("axes")?.unwrap_or_else(|| vec![0, 2, 3]);
    let mut ax: Vec<i32> = axes.iter().map(|a| norm_axis(*a, r).map(|a| a as i32)).collect::<Result<_, _>>()?;
    ax.sort_unstable();
    ax.dedup();
    let mean = ctx.g.mean(x, &ax, true)?;
    let d = ctx.g.sub(x, mean)?;
    let sq = ctx.g.mul(d, d)?;
    let var = ctx.g.mean(sq, &ax, true)?;
    let std = ctx.g.sqrt(var)?;
    let e = ctx.g.constant_f32(&format!("{}/epsilon", node.name()), Shape::scalar(), &[1e-9]);
    let den = ctx.g.add(std, e)?;
    let y = ctx.g.div(d, den)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `LRN` to LOCAL_RESPONSE_NORMALIZATION on NHWC (4-D input, odd
/// `size`: ONNX's window of `size` channels centred on each one is
/// TFLite's radius `(size - 1) / 2`, and ONNX divides alpha by `size`).
pub fn lower_lrn(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    if ctx.shape(x).rank() != 4 {
        return Err(shape_err(format!("LRN on rank {} (4-D only)", ctx.shape(x).rank())));
    }
    let size = node.attr_int("size")?.ok_or_else(|| LowerError::invalid("size is required"))?;
    if size <= 0 || size % 2 == 0 || size > i64::from(i32::MAX) {
        return Err(LowerError::attr(format!("size {size} (odd sizes only: an even window is not centred)")));
    }
    let o = LocalResponseNormalizationOptions {
        radius: ((size - 1) / 2) as i32,
        bias: node.float_or("bias", 1.0)?,
        alpha: node.float_or("alpha", 1e-4)? / size as f32,
        beta: node.float_or("beta", 0.75)?,
    };
    let h = ctx.to_channels_last(x)?;
    let y = ctx.g.local_response_normalization(h, o)?;
    let out = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, out);
    Ok(())
}
