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

/// Lowers `BitwiseAnd`: `a + b = (a ^ b) + 2·(a & b)` holds for all two's
/// complement integers, so `a & b = (a + b − (a ^ b)) / 2`. 8/16-bit
/// integers: computed in int32 (no overflow, an even numerator: the
/// division is exact) after BITWISE_XOR on the narrow type, then cast
/// back. int32: the same on the 16-bit halves (RIGHT_SHIFT, MUL, SUB), then
/// joined. uint32 and 64-bit types would need int64 halving, which TFLite
/// lacks (no int64 DIV or RIGHT_SHIFT): refused.
pub fn lower_bitwise_and(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    and_or(ctx, node, false)
}

/// Lowers `BitwiseOr` as `BitwiseAnd`, with `a | b = (a + b + (a ^ b)) / 2`.
pub fn lower_bitwise_or(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    and_or(ctx, node, true)
}

fn and_or(ctx: &mut LowerCtx<'_>, node: &Node<'_>, or: bool) -> Result<(), LowerError> {
    let (ts, dt) = common_operands(ctx, node, &[0, 1])?;
    let name = node.name();
    let y = match dt {
        DType::I8 | DType::U8 | DType::I16 | DType::U16 => {
            let x = ctx.g.bitwise_xor(ts[0], ts[1])?;
            let a = ctx.g.cast(ts[0], DType::I32)?;
            let b = ctx.g.cast(ts[1], DType::I32)?;
            let x = ctx.g.cast(x, DType::I32)?;
            let h = halve_sum(ctx, &name, "", a, b, x, or)?;
            ctx.g.cast(h, dt)?
        }
        DType::I32 => {
            // Split into a signed high and an unsigned low 16-bit half
            // (a = hi·2¹⁶ + lo), combine each half in int32, and join.
            let sixteen = ctx.g.constant_i32(&format!("{name}/sixteen"), Shape::scalar(), &[16]);
            let base = ctx.g.constant_i32(&format!("{name}/base"), Shape::scalar(), &[1 << 16]);
            let mut halves = Vec::with_capacity(2);
            for t in [ts[0], ts[1]] {
                let hi = ctx.g.apply(Op::RightShift, &[Some(t), Some(sixteen)])?;
                let top = ctx.g.mul(hi, base)?;
                let lo = ctx.g.sub(t, top)?;
                halves.push((hi, lo));
            }
            let (ah, al) = halves[0];
            let (bh, bl) = halves[1];
            let xh = ctx.g.bitwise_xor(ah, bh)?;
            let xl = ctx.g.bitwise_xor(al, bl)?;
            let hi = halve_sum(ctx, &name, "hi", ah, bh, xh, or)?;
            let lo = halve_sum(ctx, &name, "lo", al, bl, xl, or)?;
            let top = ctx.g.mul(hi, base)?;
            ctx.g.add(top, lo)?
        }
        _ => return Err(dtype_err(format!("{} on {dt} (8/16/32-bit signed, 8/16-bit unsigned integers: no exact int64 halving in TFLite)", node.op_type()))),
    };
    ctx.set_output(node, 0, y);
    Ok(())
}

/// `(a + b − x) / 2` (and) or `(a + b + x) / 2` (or) in int32, `x = a ^ b`:
/// the numerator is even, so the division is exact.
fn halve_sum(ctx: &mut LowerCtx<'_>, name: &str, part: &str, a: TensorId, b: TensorId, x: TensorId, or: bool) -> Result<TensorId, LowerError> {
    let s = ctx.g.add(a, b)?;
    let t = if or { ctx.g.add(s, x)? } else { ctx.g.sub(s, x)? };
    let two = ctx.g.constant_i32(&format!("{name}/two{part}"), Shape::scalar(), &[2]);
    Ok(ctx.g.div(t, two)?)
}
