//! Softmax and LogSoftmax over any axis: the last axis directly, another
//! one moved last with TRANSPOSE (opset ≥ 13) or, before opset 13, coerced
//! to 2-D at the axis with RESHAPE.

use super::operand::{shape_err, typed_input};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

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
        let inner = inner.ok_or_else(|| shape_err("softmax over dynamic trailing dims"))?;
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

/// Lowers `LogSoftmax` to LOG_SOFTMAX over the last axis; another axis is
/// moved last with TRANSPOSE (opset ≥ 13) or, before opset 13, coerced to
/// 2-D at the axis with RESHAPE (static trailing sizes).
pub fn lower_log_softmax(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let r = ctx.shape(x).rank() as i64;
    if r == 0 {
        return Err(shape_err("LogSoftmax of a scalar"));
    }
    let default_axis = if node.opset() < 13 { 1 } else { -1 };
    let mut axis = node.int_or("axis", default_axis)?;
    if axis < 0 {
        axis += r;
    }
    if axis < 0 || axis >= r {
        return Err(LowerError::attr(format!("axis {axis} for rank {r}")));
    }
    let y = if axis == r - 1 {
        ctx.g.apply(Op::LogSoftmax, &[Some(x)])?
    } else if node.opset() < 13 {
        let dims = ctx.shape(x).clone();
        let inner: Option<u32> = dims.dims()[axis as usize..].iter().map(|d| d.fixed()).product::<Option<u32>>();
        let inner = inner.ok_or_else(|| shape_err("LogSoftmax over dynamic trailing dims"))?;
        let inner = i32::try_from(inner).map_err(|_| shape_err("LogSoftmax row too long"))?;
        let back: Vec<i32> = dims.file_signature().unwrap_or_else(|| dims.file_shape());
        if back.iter().filter(|d| **d < 0).count() > 1 {
            return Err(shape_err(format!("LogSoftmax on {dims} with more than one dynamic dimension")));
        }
        let flat = ctx.g.reshape(x, &[-1, inner])?;
        let s = ctx.g.apply(Op::LogSoftmax, &[Some(flat)])?;
        ctx.g.reshape(s, &back)?
    } else {
        let mut perm: Vec<i32> = (0..r as i32).collect();
        perm.swap(axis as usize, (r - 1) as usize);
        let t = ctx.g.transpose(x, &perm)?;
        let s = ctx.g.apply(Op::LogSoftmax, &[Some(t)])?;
        ctx.g.transpose(s, &perm)?
    };
    ctx.set_output(node, 0, y);
    Ok(())
}
