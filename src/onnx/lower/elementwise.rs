//! Elementwise arithmetic: Add, Sub, Mul, Div, Pow, Mod and the variadic
//! Max, Min and Sum (NumPy broadcasting throughout).

use super::operand::{common_operands, dtype_err, first_tensor_type, operand_as, operand_narrowed, typed_input, variadic_typed};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Types MINIMUM and MAXIMUM take.
pub(crate) const MINMAX_TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64];

/// A broadcasting binary op on inputs 0 and 1, constants in the type of the
/// tensor operand ([`operand_narrowed`]); no type check of its own.
fn binary(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op) -> Result<(), LowerError> {
    let like = first_tensor_type(ctx, node, [0, 1]);
    // An int64 tensor needs its constants in int64: narrowing them to int32
    // (as materialized constants are) would mix the types.
    let operand = |ctx: &mut LowerCtx<'_>, i: usize| match like {
        Some(DType::I64) => operand_as(ctx, node, i, DType::I64),
        _ => operand_narrowed(ctx, node, i, like),
    };
    let a = operand(ctx, 0)?;
    let b = operand(ctx, 1)?;
    let y = ctx.g.apply(op, &[Some(a), Some(b)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Add`.
pub fn lower_add(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary(ctx, node, Op::Add(AddSubOptions::default()))
}
/// Lowers `Sub`.
pub fn lower_sub(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary(ctx, node, Op::Sub(AddSubOptions::default()))
}
/// Lowers `Mul`.
pub fn lower_mul(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary(ctx, node, Op::Mul(Activation::None))
}
/// Lowers `Div`.
pub fn lower_div(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary(ctx, node, Op::Div(Activation::None))
}

/// Lowers `Max` (variadic, broadcasting) to a chain of MAXIMUM.
pub fn lower_max(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    variadic_typed(ctx, node, Op::Maximum, MINMAX_TYPES)
}

/// Lowers `Min` (variadic, broadcasting) to a chain of MINIMUM.
pub fn lower_min(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    variadic_typed(ctx, node, Op::Minimum, MINMAX_TYPES)
}

/// Lowers `Sum` (variadic, broadcasting) to a chain of ADD.
pub fn lower_sum(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    variadic_typed(ctx, node, Op::Add(AddSubOptions::default()), &[DType::F32, DType::I32, DType::I64])
}

/// Lowers `Pow`: float32 bases to POW (a constant exponent 2 to MUL, an
/// integer exponent tensor cast to float32 first); int32 bases with int32
/// exponents to POW.
pub fn lower_pow(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32, DType::I32])?;
    let xd = ctx.dtype(x);
    let c = ctx.const_input(node, 1);
    if xd == DType::F32 {
        if let Some(d) = &c {
            let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric exponent"))?;
            if v.len() == 1 && v[0] == 2.0 && ctx.shape(x).rank() >= d.dims.len() {
                let y = ctx.g.mul(x, x)?;
                ctx.set_output(node, 0, y);
                return Ok(());
            }
        }
        let mut e = operand_as(ctx, node, 1, DType::F32)?;
        let ed = ctx.dtype(e);
        if ed != DType::F32 {
            if !matches!(ed, DType::I32 | DType::I64 | DType::F16 | DType::F64 | DType::I8 | DType::I16 | DType::U8) {
                return Err(dtype_err(format!("Pow exponent of type {ed}")));
            }
            e = ctx.g.cast(e, DType::F32)?;
        }
        let y = ctx.g.apply(Op::Pow, &[Some(x), Some(e)])?;
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    // int32 base: the exponent must be int32 too, and non-negative.
    if let Some(d) = &c {
        let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric exponent"))?;
        if d.dtype.is_float() || v.iter().any(|e| *e < 0.0) {
            return Err(dtype_err(format!("Pow of int32 by {} exponents (TFLite takes non-negative int32)", d.dtype)));
        }
    }
    let e = operand_as(ctx, node, 1, DType::I32)?;
    if ctx.dtype(e) != DType::I32 {
        return Err(dtype_err(format!("Pow of int32 by {}", ctx.dtype(e))));
    }
    let y = ctx.g.apply(Op::Pow, &[Some(x), Some(e)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Mod` with `fmod=0` on integers to FLOOR_MOD (the remainder takes
/// the divisor's sign, as in both). `fmod=1` (truncated remainder) has no
/// exact TFLite lowering here.
pub fn lower_mod(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if node.int_or("fmod", 0)? != 0 {
        return Err(LowerError::attr("fmod=1 (truncated remainder; TFLite's FLOOR_MOD follows the divisor's sign)"));
    }
    let (ts, d) = common_operands(ctx, node, &[0, 1])?;
    if !matches!(d, DType::I32 | DType::I64) {
        return Err(dtype_err(format!("Mod (fmod=0) on {d}")));
    }
    let y = ctx.g.apply(Op::FloorMod, &[Some(ts[0]), Some(ts[1])])?;
    ctx.set_output(node, 0, y);
    Ok(())
}
