//! Bitwise ops with a TFLite form: BitwiseXor (BITWISE_XOR) and BitwiseNot
//! (BITWISE_XOR with all ones). TFLite has no bitwise and / or.

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
