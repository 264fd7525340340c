//! TensorScatter (a key/value cache update): each cache position along the
//! axis reads the update row it receives, by a batched GATHER, or keeps
//! the cache (SELECT_V2).

use super::operand::{shape_err, static_dim};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `TensorScatter`: for batch `b` and cache position `p` along
/// `axis` (≥ 1, static sizes `L` of the cache and `S` of the update), the
/// update row `j = p − w[b]` (linear) or `(p − w[b]) mod L` (circular) is
/// written where `0 ≤ j < S`. `j` is computed as int32 `[B, L]`, clamped
/// for a GATHER of the update with one batch dimension, and the result
/// selected against the cache. Without write indices, `w = 0`.
pub fn lower_tensor_scatter(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let circular = match node.attr_str("mode")?.as_deref().unwrap_or("linear") {
        "linear" => false,
        "circular" => true,
        other => return Err(LowerError::attr(format!("TensorScatter mode {other}"))),
    };
    let cache = ctx.input(node, 0)?;
    let update = ctx.input(node, 1)?;
    if ctx.dtype(cache) != ctx.dtype(update) {
        return Err(super::operand::dtype_err(format!("TensorScatter of {} into {}", ctx.dtype(update), ctx.dtype(cache))));
    }
    let cs = ctx.shape(cache).clone();
    let r = cs.rank();
    if r < 2 || ctx.shape(update).rank() != r {
        return Err(shape_err(format!("TensorScatter of an update {} into a cache {cs} (same rank ≥ 2)", ctx.shape(update))));
    }
    let axis = norm_axis(node.int_or("axis", -2)?, r)?;
    if axis == 0 {
        return Err(LowerError::invalid("TensorScatter along axis 0 (the batch)"));
    }
    let b = static_dim(&cs, 0, "TensorScatter: the batch")?;
    let l = static_dim(&cs, axis, "TensorScatter: the cache length")?;
    let s = static_dim(ctx.shape(update), axis, "TensorScatter: the update length")?;
    if b > 1 << 24 || l > 1 << 24 {
        return Err(shape_err(format!("TensorScatter with a batch of {b} and a cache of {l} (constants of that size)")));
    }
    if s > l || l == 0 || s == 0 {
        return Err(shape_err(format!("TensorScatter of {s} rows into a cache of {l}")));
    }
    let name = node.name();
    let (b32, l32) = (b as i32, l as i32);
    let w = if node.has_input(2) {
        let w = ctx.input(node, 2)?;
        let w = match ctx.dtype(w) {
            DType::I32 => w,
            DType::I64 => ctx.g.cast(w, DType::I32)?,
            t => return Err(super::operand::dtype_err(format!("TensorScatter write indices of type {t}"))),
        };
        ctx.g.reshape(w, &[b32, 1])?
    } else {
        ctx.g.constant_i32(&format!("{name}/w"), [b as u32, 1], &vec![0; b as usize])
    };
    let positions: Vec<i32> = (0..l32).collect();
    let p = ctx.g.constant_i32(&format!("{name}/positions"), [1u32, l as u32], &positions);
    let mut j = ctx.g.sub(p, w)?;
    if circular {
        let len = ctx.g.constant_i32(&format!("{name}/len"), Shape::scalar(), &[l32]);
        j = ctx.g.apply(Op::FloorMod, &[Some(j), Some(len)])?;
    }
    let zero = ctx.g.constant_i32(&format!("{name}/zero"), Shape::scalar(), &[0]);
    let last = ctx.g.constant_i32(&format!("{name}/last"), Shape::scalar(), &[(s - 1) as i32]);
    let ge = ctx.g.apply(Op::GreaterEqual, &[Some(j), Some(zero)])?;
    let le = ctx.g.apply(Op::LessEqual, &[Some(j), Some(last)])?;
    let hit = ctx.g.apply(Op::LogicalAnd, &[Some(ge), Some(le)])?;
    let jc = ctx.g.maximum(j, zero)?;
    let jc = ctx.g.minimum(jc, last)?;
    let rows = ctx.g.gather(update, jc, GatherOptions { axis: axis as i32, batch_dims: 1 })?;
    // The hit mask [B, L] placed on axes 0 and `axis`.
    let mut mdims = vec![1i32; r];
    mdims[0] = b32;
    mdims[axis] = l32;
    let hit = ctx.g.reshape(hit, &mdims)?;
    let y = ctx.g.apply(Op::SelectV2, &[Some(hit), Some(rows), Some(cache)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}
