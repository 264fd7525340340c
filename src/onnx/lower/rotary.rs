//! RotaryEmbedding (opset 23): rotation of (pairs of) features by cached
//! cosines and sines, on `[batch, sequence, heads, head_size]` values with
//! SLICE, MUL, SUB, ADD and CONCATENATION; the caches are gathered by
//! `position_ids` with GATHER.

use super::operand::{dtype_err, shape_err};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

fn i32s(v: &[i64]) -> Result<Vec<i32>, LowerError> {
    v.iter().map(|x| i32::try_from(*x).map_err(|_| shape_err(format!("dimension {x} is too large")))).collect()
}

/// The cache `i` as `[B, S, 1, half]`.
fn cache(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, b: i64, s: i64, half: i64) -> Result<TensorId, LowerError> {
    let c = ctx.input(node, i)?;
    if ctx.dtype(c) != DType::F32 {
        return Err(dtype_err(format!("RotaryEmbedding cache of type {}", ctx.dtype(c))));
    }
    let c = if node.has_input(3) {
        let mut p = ctx.input(node, 3)?;
        match ctx.dtype(p) {
            DType::I64 => p = ctx.g.cast(p, DType::I32)?,
            DType::I32 => {}
            t => return Err(dtype_err(format!("position_ids of type {t}"))),
        }
        ctx.g.gather(c, p, GatherOptions::default())?
    } else {
        c
    };
    let last = ctx.shape(c).dims().last().and_then(|d| d.fixed()).map(i64::from);
    if last != Some(half) {
        return Err(LowerError::invalid(format!("cache of shape {} for rotary_embedding_dim / 2 = {half}", ctx.shape(c))));
    }
    Ok(ctx.g.reshape(c, &i32s(&[b, s, 1, half])?)?)
}

/// Lowers `RotaryEmbedding`.
pub fn lower_rotary_embedding(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    if ctx.dtype(x) != DType::F32 {
        return Err(dtype_err(format!("RotaryEmbedding on {}", ctx.dtype(x))));
    }
    let xd: Vec<i64> = ctx.shape(x).as_fixed().ok_or_else(|| shape_err("RotaryEmbedding needs a static input shape"))?.into_iter().map(i64::from).collect();
    let interleaved = node.int_or("interleaved", 0)? != 0;
    let (b, s, h, d, x4) = match xd.len() {
        4 => (xd[0], xd[2], xd[1], xd[3], ctx.transpose(x, &[0, 2, 1, 3])?),
        3 => {
            let h = node.int_or("num_heads", 0)?;
            if h <= 0 || xd[2] % h != 0 {
                return Err(LowerError::invalid(format!("3-D RotaryEmbedding with num_heads {h} for hidden size {}", xd[2])));
            }
            let r = ctx.g.reshape(x, &i32s(&[xd[0], xd[1], h, xd[2] / h])?)?;
            (xd[0], xd[1], h, xd[2] / h, r)
        }
        r => return Err(shape_err(format!("RotaryEmbedding on rank {r}"))),
    };
    let rd = match node.int_or("rotary_embedding_dim", 0)? {
        0 => d,
        r => r,
    };
    if rd <= 0 || rd > d || rd % 2 != 0 {
        return Err(LowerError::invalid(format!("rotary_embedding_dim {rd} for head size {d}")));
    }
    let half = rd / 2;
    let cos = cache(ctx, node, 1, b, s, half)?;
    let sin = cache(ctx, node, 2, b, s, half)?;
    let slice = |ctx: &mut LowerCtx<'_>, t: TensorId, begin: &[i64], size: &[i64]| -> Result<TensorId, LowerError> { Ok(ctx.g.slice(t, &i32s(begin)?, &i32s(size)?)?) };
    let (x1, x2) = if interleaved {
        let xr = slice(ctx, x4, &[0, 0, 0, 0], &[b, s, h, rd])?;
        let pairs = ctx.g.reshape(xr, &i32s(&[b, s, h, half, 2])?)?;
        let a = slice(ctx, pairs, &[0, 0, 0, 0, 0], &[b, s, h, half, 1])?;
        let c = slice(ctx, pairs, &[0, 0, 0, 0, 1], &[b, s, h, half, 1])?;
        (ctx.g.reshape(a, &i32s(&[b, s, h, half])?)?, ctx.g.reshape(c, &i32s(&[b, s, h, half])?)?)
    } else {
        (slice(ctx, x4, &[0, 0, 0, 0], &[b, s, h, half])?, slice(ctx, x4, &[0, 0, 0, half], &[b, s, h, half])?)
    };
    let a = ctx.g.mul(cos, x1)?;
    let c = ctx.g.mul(sin, x2)?;
    let real = ctx.g.sub(a, c)?;
    let e = ctx.g.mul(sin, x1)?;
    let f = ctx.g.mul(cos, x2)?;
    let imag = ctx.g.add(e, f)?;
    let rotated = if interleaved {
        let r = ctx.g.reshape(real, &i32s(&[b, s, h, half, 1])?)?;
        let i = ctx.g.reshape(imag, &i32s(&[b, s, h, half, 1])?)?;
        let p = ctx.g.concatenation(&[r, i], 4)?;
        ctx.g.reshape(p, &i32s(&[b, s, h, rd])?)?
    } else {
        ctx.g.concatenation(&[real, imag], 3)?
    };
    let y = if rd < d {
        let rest = slice(ctx, x4, &[0, 0, 0, rd], &[b, s, h, d - rd])?;
        ctx.g.concatenation(&[rotated, rest], 3)?
    } else {
        rotated
    };
    let y = if xd.len() == 4 { ctx.transpose(y, &[0, 2, 1, 3])? } else { ctx.g.reshape(y, &i32s(&xd)?)? };
    ctx.set_output(node, 0, y);
    Ok(())
}
