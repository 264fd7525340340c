//! BitShift, with ONNX's out-of-range rule (a shift below 0 or of the bit
//! width or more gives 0, or -1 for a negative signed value shifted
//! right).
//!
//! RIGHT uses RIGHT_SHIFT (which clamps the shift to `[0, width − 1]`):
//! a signed value is shifted by `width − 1` when out of range, an unsigned
//! result is zeroed. LEFT multiplies in int64 by `2^y` gathered from a
//! table and casts back (keeping the low bits, as a shift does). int64 and
//! uint64 are unsupported (no wider type).

use super::operand::dtype_err;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

fn width(dt: DType) -> Option<(i32, bool)> {
    Some(match dt {
        DType::I8 => (8, true),
        DType::U8 => (8, false),
        DType::I16 => (16, true),
        DType::U16 => (16, false),
        DType::I32 => (32, true),
        DType::U32 => (32, false),
        _ => return None,
    })
}

/// Lowers `BitShift`.
pub fn lower_bitshift(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let y = ctx.input(node, 1)?;
    let dt = ctx.dtype(x);
    if ctx.dtype(y) != dt {
        return Err(dtype_err(format!("BitShift on {dt} and {}", ctx.dtype(y))));
    }
    let (w, signed) = width(dt).ok_or_else(|| dtype_err(format!("BitShift on {dt}")))?;
    let left = match node.attr_str("direction")?.as_deref() {
        Some("LEFT") => true,
        Some("RIGHT") => false,
        d => return Err(LowerError::invalid(format!("direction {d:?}"))),
    };
    let name = node.name();
    let c = |ctx: &mut LowerCtx<'_>, what: &str, v: i32| ctx.g.constant_i32(&format!("{name}/{what}"), Shape::scalar(), &[v]);
    let y32 = if dt == DType::I32 { y } else { ctx.g.cast(y, DType::I32)? };
    let zero = c(ctx, "zero", 0);
    let wc = c(ctx, "width", w);
    let neg = ctx.g.apply(Op::Less, &[Some(y32), Some(zero)])?;
    let big = ctx.g.apply(Op::GreaterEqual, &[Some(y32), Some(wc)])?;
    let oor = ctx.g.apply(Op::LogicalOr, &[Some(neg), Some(big)])?;
    let zero64 = ctx.g.constant(&format!("{name}/zero64"), DType::I64, Shape::scalar(), ConstData::from_slice(&[0i64]));
    let out = if left {
        let lo = ctx.g.maximum(y32, zero)?;
        let top = c(ctx, "top", w - 1);
        let k = ctx.g.minimum(lo, top)?;
        let pows: Vec<i64> = (0..w).map(|i| 1i64 << i).collect();
        let table = ctx.g.constant(&format!("{name}/powers"), DType::I64, Shape::new([w as u32]), ConstData::from_slice(&pows));
        let p = ctx.g.gather(table, k, GatherOptions::default())?;
        let x64 = ctx.g.cast(x, DType::I64)?;
        let m = ctx.g.mul(x64, p)?;
        let s = ctx.g.apply(Op::SelectV2, &[Some(oor), Some(zero64), Some(m)])?;
        ctx.g.cast(s, dt)?
    } else if signed {
        let top = c(ctx, "top", w - 1);
        let k = ctx.g.apply(Op::SelectV2, &[Some(oor), Some(top), Some(y32)])?;
        let k = if dt == DType::I32 { k } else { ctx.g.cast(k, dt)? };
        ctx.g.right_shift(x, k)?
    } else {
        let r = ctx.g.right_shift(x, y)?;
        let r64 = ctx.g.cast(r, DType::I64)?;
        let s = ctx.g.apply(Op::SelectV2, &[Some(oor), Some(zero64), Some(r64)])?;
        ctx.g.cast(s, dt)?
    };
    ctx.set_output(node, 0, out);
    Ok(())
}
