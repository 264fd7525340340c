//! Cumulative sums and products: CumSum on CUMSUM, CumProd by log-step
//! doubling on MUL.

use super::operand::dtype_err;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `CumSum` to CUMSUM with its exclusive and reverse options; the
/// axis may be a run-time scalar.
pub fn lower_cumsum(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let dt = ctx.dtype(x);
    if !matches!(dt, DType::F32 | DType::I32 | DType::I64) {
        return Err(dtype_err(format!("CumSum on {dt} (float32, int32, int64)")));
    }
    if ctx.shape(x).rank() == 0 {
        return Err(LowerError::invalid("CumSum of a scalar"));
    }
    let axis = match ctx.const_input(node, 1) {
        Some(_) => {
            let a = *ctx.const_ints(node, 1, "axis")?.first().ok_or_else(|| LowerError::invalid("empty axis"))?;
            let a = super::norm_axis(a, ctx.shape(x).rank())? as i32;
            ctx.g.constant_i32(&format!("{}/axis", node.name()), Shape::scalar(), &[a])
        }
        None => {
            let a = ctx.input(node, 1)?;
            match ctx.dtype(a) {
                DType::I64 => ctx.g.cast(a, DType::I32)?,
                DType::I32 => a,
                t => return Err(dtype_err(format!("CumSum axis of type {t}"))),
            }
        }
    };
    let o = CumsumOptions { exclusive: node.int_or("exclusive", 0)? != 0, reverse: node.int_or("reverse", 0)? != 0 };
    let y = ctx.g.cumsum(x, axis, o)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `CumProd` by log-step doubling on a static axis of size `n`:
/// `y ← y · shift(y, s)` for `s = 1, 2, 4, … < n`, where `shift` slices the
/// first `n − s` entries (SLICE) and pads `s` ones in front (PADV2). Exact
/// for integers (wrapping as ONNX); for floats the products are associated
/// pairwise instead of left to right, which rounds differently (within a
/// few ulps). `exclusive` shifts the result by one more; `reverse` runs on
/// the input reversed along the axis (REVERSE_V2) and reverses back. A
/// run-time axis computes the product along every axis and selects the
/// one named (SELECT_V2 on EQUAL of the normalized axis).
pub fn lower_cumprod(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let dt = ctx.dtype(x);
    if !matches!(dt, DType::F32 | DType::I32 | DType::I64) {
        return Err(dtype_err(format!("CumProd on {dt} (float32, int32, int64)")));
    }
    let r = ctx.shape(x).rank();
    if r == 0 {
        return Err(LowerError::invalid("CumProd of a scalar"));
    }
    let exclusive = node.int_or("exclusive", 0)? != 0;
    let reverse = node.int_or("reverse", 0)? != 0;
    if ctx.const_input(node, 1).is_some() {
        let a = *ctx.const_ints(node, 1, "axis")?.first().ok_or_else(|| LowerError::invalid("empty axis"))?;
        let axis = super::norm_axis(a, r)?;
        let y = cumprod_along(ctx, node, x, axis, exclusive, reverse)?;
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    // A run-time scalar axis: every candidate, then the one named.
    let a = ctx.input(node, 1)?;
    if ctx.shape(a).num_elements() != Some(1) {
        return Err(LowerError::invalid(format!("CumProd axis of shape {} (must be a scalar)", ctx.shape(a))));
    }
    let a = match ctx.dtype(a) {
        DType::I32 => a,
        DType::I64 => ctx.g.cast(a, DType::I32)?,
        t => return Err(dtype_err(format!("CumProd axis of type {t}"))),
    };
    let a = ctx.g.reshape(a, &[])?;
    let name = node.name();
    let zero = ctx.g.constant_i32(&format!("{name}/axis_zero"), Shape::scalar(), &[0]);
    let rank = ctx.g.constant_i32(&format!("{name}/rank"), Shape::scalar(), &[r as i32]);
    let negative = ctx.g.apply(Op::Less, &[Some(a), Some(zero)])?;
    let wrapped = ctx.g.add(a, rank)?;
    let a = ctx.g.apply(Op::SelectV2, &[Some(negative), Some(wrapped), Some(a)])?;
    // An axis out of range selects the last candidate; ONNX leaves it invalid.
    let mut y = cumprod_along(ctx, node, x, r - 1, exclusive, reverse)?;
    for axis in (0..r - 1).rev() {
        let c = cumprod_along(ctx, node, x, axis, exclusive, reverse)?;
        let k = ctx.g.constant_i32(&format!("{name}/axis_{axis}"), Shape::scalar(), &[axis as i32]);
        let hit = ctx.g.apply(Op::Equal, &[Some(a), Some(k)])?;
        y = ctx.g.apply(Op::SelectV2, &[Some(hit), Some(c), Some(y)])?;
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The cumulative product of `x` along a static `axis` (see [`lower_cumprod`]).
fn cumprod_along(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, axis: usize, exclusive: bool, reverse: bool) -> Result<TensorId, LowerError> {
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let dt = ctx.dtype(x);
    let n = super::operand::static_dim(&xs, axis, "CumProd: the size of the axis")?;
    if n == 0 {
        return Err(super::operand::shape_err("CumProd over an empty axis"));
    }
    let name = format!("{}/axis{axis}", node.name());
    let one = super::operand::typed_const(ctx, &format!("{name}/one"), dt, &[], &[1.0])?;
    let ax = ctx.g.constant_i32(&format!("{name}/axis"), [1u32], &[axis as i32]);
    let mut y = if reverse { ctx.g.reverse_v2(x, ax)? } else { x };
    // The first n − s entries along the axis, s ones in front.
    let shift = |ctx: &mut LowerCtx<'_>, y: TensorId, s: i64| -> Result<TensorId, LowerError> {
        let mut size = vec![-1i32; r];
        size[axis] = (n - s) as i32;
        let head = ctx.g.slice(y, &vec![0; r], &size)?;
        let mut pads = vec![(0i32, 0i32); r];
        pads[axis] = (s as i32, 0);
        Ok(ctx.g.pad_v2(head, &pads, one)?)
    };
    let mut s = 1;
    while s < n {
        let shifted = shift(ctx, y, s)?;
        y = ctx.g.mul(y, shifted)?;
        s *= 2;
    }
    if exclusive {
        y = if n == 1 {
            let z = ctx.g.zeros_like(y)?;
            ctx.g.add(z, one)?
        } else {
            shift(ctx, y, 1)?
        };
    }
    if reverse {
        y = ctx.g.reverse_v2(y, ax)?;
    }
    Ok(y)
}
