//! One-hot encoding: OneHot on ONE_HOT.

use super::operand::{dtype_err, typed_const};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `OneHot` to ONE_HOT. Indices and depth are cast to int32 (ONNX
/// casts non-integer ones too); negative indices in `[-depth, -1]` are
/// wrapped with LESS / ADD / SELECT_V2, others out of range give all
/// `off_value` in both. `values` is `[off, on]`.
pub fn lower_one_hot(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let name = node.name();
    let as_i32 = |ctx: &mut LowerCtx<'_>, i: usize, what: &str| -> Result<TensorId, LowerError> {
        let t = ctx.input(node, i)?;
        match ctx.dtype(t) {
            DType::I32 => Ok(t),
            DType::I64 | DType::F32 | DType::I8 | DType::U8 | DType::I16 => Ok(ctx.g.cast(t, DType::I32)?),
            d => Err(dtype_err(format!("OneHot {what} of type {d}"))),
        }
    };
    let idx = as_i32(ctx, 0, "indices")?;
    let depth = match ctx.const_input(node, 1) {
        Some(d) => {
            let v = d.to_f64().and_then(|v| v.first().copied()).ok_or_else(|| LowerError::invalid("empty or non-numeric depth"))?;
            let n = i32::try_from(v.trunc() as i64).ok().filter(|n| *n >= 0).ok_or_else(|| LowerError::invalid(format!("depth {v}")))?;
            ctx.g.constant_i32(&format!("{name}/depth"), Shape::scalar(), &[n])
        }
        None => {
            let d = as_i32(ctx, 1, "depth")?;
            ctx.g.reshape(d, &[])?
        }
    };
    let (off, on) = match ctx.const_input(node, 2) {
        Some(d) => {
            let v = d.to_f64().ok_or_else(|| dtype_err(format!("OneHot values of type {}", d.dtype)))?;
            let [off, on] = v[..] else { return Err(LowerError::invalid(format!("values of {} elements (2 expected)", v.len()))) };
            let dt = d.dtype;
            (typed_const(ctx, &format!("{name}/off"), dt, &[], &[off])?, typed_const(ctx, &format!("{name}/on"), dt, &[], &[on])?)
        }
        None => {
            let v = ctx.input(node, 2)?;
            let dt = ctx.dtype(v);
            if !matches!(dt, DType::F32 | DType::I16 | DType::I32 | DType::I64 | DType::I8 | DType::U8 | DType::Bool) {
                return Err(dtype_err(format!("OneHot values of type {dt}")));
            }
            let i0 = ctx.g.constant_i32(&format!("{name}/off_index"), Shape::scalar(), &[0]);
            let i1 = ctx.g.constant_i32(&format!("{name}/on_index"), Shape::scalar(), &[1]);
            (ctx.g.gather(v, i0, GatherOptions::default())?, ctx.g.gather(v, i1, GatherOptions::default())?)
        }
    };
    let zero = ctx.g.constant_i32(&format!("{name}/zero"), Shape::scalar(), &[0]);
    let neg = ctx.g.apply(Op::Less, &[Some(idx), Some(zero)])?;
    let wrapped = ctx.g.add(idx, depth)?;
    let idx = ctx.g.apply(Op::SelectV2, &[Some(neg), Some(wrapped), Some(idx)])?;
    let r = ctx.shape(idx).rank() as i64;
    let axis = node.int_or("axis", -1)?;
    let axis = if axis < 0 { axis + r + 1 } else { axis };
    if axis < 0 || axis > r {
        return Err(LowerError::invalid(format!("axis {axis} for indices of rank {r}")));
    }
    let y = ctx.g.one_hot(&[Some(idx), Some(depth), Some(on), Some(off)], OneHotOptions { axis: axis as i32 })?;
    ctx.set_output(node, 0, y);
    Ok(())
}
