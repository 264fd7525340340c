//! Bitwise ops with a TFLite form: BitwiseXor (BITWISE_XOR) and BitwiseNot
//! (BITWISE_XOR with all ones); BitwiseAnd and BitwiseOr on 8/16-bit
//! integers from XOR and int32 arithmetic (TFLite has no bitwise and / or).

use super::operand::{common_operands, dtype_err, typed_const};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

const TYPES: &[DType] = &[DType::I8, DType::U8, DType::I16, DType::U16, DType::I32, DType::U32];

/// Lowers `BitwiseXor`.
pub fn lower_bitwise_xor(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let (ts, dt) = common_operands(ctx, node, &[0, 1])?;
    if !TYPES.contains(&dt) {
        return Err(dtype_err(format!("BitwiseXor on {dt}")));
    }
    let y = ctx.g.bitwise_xor(ts[0], ts[1])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `BitwiseNot` to BITWISE_XOR with all bits set.
pub fn lower_bitwise_not(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let dt = ctx.dtype(x);
    let ones = match dt {
        DType::I8 | DType::I16 | DType::I32 => -1.0,
        DType::U8 => f64::from(u8::MAX),
        DType::U16 => f64::from(u16::MAX),
        DType::U32 => f64::from(u32::MAX),
        _ => return Err(dtype_err(format!("BitwiseNot on {dt}"))),
    };
    let m = typed_const(ctx, &format!("{}/ones", node.name()), dt, &[], &[ones])?;
    let y = ctx.g.bitwise_xor(x, m)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `BitwiseAnd` on 8/16-bit integers: `a + b = (a ^ b) + 2·(a & b)`
/// holds for all two's complement integers, so `a & b = (a + b − (a ^ b)) / 2`,
/// computed in int32 (no overflow, an even numerator: the division is
/// exact) after BITWISE_XOR on the narrow type, then cast back. 32-bit
/// types would need int64 halving, which TFLite lacks (no int64 DIV or
/// RIGHT_SHIFT): refused.
pub fn lower_bitwise_and(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    and_or(ctx, node, false)
}

/// Lowers `BitwiseOr` as `BitwiseAnd`, with `a | b = (a + b + (a ^ b)) / 2`.
pub fn lower_bitwise_or(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    and_or(ctx, node, true)
}

fn and_or(ctx: &mut LowerCtx<'_>, node: &Node<'_>, or: bool) -> Result<(), LowerError> {
    let (ts, dt) = common_operands(ctx, node, &[0, 1])?;
    if !matches!(dt, DType::I8 | DType::U8 | DType::I16 | DType::U16) {
        return Err(dtype_err(format!("{} on {dt} (8/16-bit integers only: no exact int64 halving in TFLite)", node.op_type())));
    }
    let x = ctx.g.bitwise_xor(ts[0], ts[1])?;
    let a = ctx.g.cast(ts[0], DType::I32)?;
    let b = ctx.g.cast(ts[1], DType::I32)?;
    let x = ctx.g.cast(x, DType::I32)?;
    let s = ctx.g.add(a, b)?;
    let t = if or { ctx.g.add(s, x)? } else { ctx.g.sub(s, x)? };
    let two = ctx.g.constant_i32(&format!("{}/two", node.name()), Shape::scalar(), &[2]);
    let h = ctx.g.div(t, two)?;
    let y = ctx.g.cast(h, dt)?;
    ctx.set_output(node, 0, y);
    Ok(())
}
