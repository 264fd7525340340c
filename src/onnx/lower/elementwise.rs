//! Elementwise arithmetic: Add, Sub, Mul, Div, Pow, Mod and the variadic
//! Max, Min and Sum (NumPy broadcasting throughout).

use super::operand::{dtype_err, operand_as, typed_const, typed_input};
use super::widen::{widened_binary, widened_operands, widened_variadic, Kind};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Types MINIMUM and MAXIMUM take on raw (not quantized) values.
pub(crate) const MINMAX_TYPES: &[DType] = &[DType::F32, DType::I32, DType::I64];

/// Types ADD, SUB and MUL take on raw (not quantized) values.
const ARITH_TYPES: &[DType] = &[DType::F32, DType::I32, DType::I64];
/// Types DIV takes on raw values (int32 truncates toward zero, as ONNX).
const DIV_TYPES: &[DType] = &[DType::F32, DType::I32];

/// Lowers `Add`: float32, int32, int64; other types computed exactly in a
/// wider one ([`widen`](super::widen)).
pub fn lower_add(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    widened_binary(ctx, node, Op::Add(AddSubOptions::default()), Kind::Sum, ARITH_TYPES)
}
/// Lowers `Sub`, as `Add`.
pub fn lower_sub(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    widened_binary(ctx, node, Op::Sub(AddSubOptions::default()), Kind::Sum, ARITH_TYPES)
}
/// Lowers `Mul`, as `Add` (products of uint16 in int64; uint32 is refused).
pub fn lower_mul(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    widened_binary(ctx, node, Op::Mul(Activation::None), Kind::Product, ARITH_TYPES)
}
/// Lowers `Div`: float32 and int32 (truncating toward zero, as ONNX);
/// 8/16-bit integers and float16 computed in int32 / float32.
pub fn lower_div(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    widened_binary(ctx, node, Op::Div(Activation::None), Kind::Quotient, DIV_TYPES)
}

/// Lowers `Max` (variadic, broadcasting) to a chain of MAXIMUM.
pub fn lower_max(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    widened_variadic(ctx, node, Op::Maximum, Kind::Select, MINMAX_TYPES)
}

/// Lowers `Min` (variadic, broadcasting) to a chain of MINIMUM.
pub fn lower_min(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    widened_variadic(ctx, node, Op::Minimum, Kind::Select, MINMAX_TYPES)
}

/// Lowers `Sum` (variadic, broadcasting) to a chain of ADD.
pub fn lower_sum(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    widened_variadic(ctx, node, Op::Add(AddSubOptions::default()), Kind::Sum, ARITH_TYPES)
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

/// Types FLOOR_MOD takes here.
const MOD_TYPES: &[DType] = &[DType::F32, DType::I32, DType::I64];

/// Lowers `Mod`. `fmod=0` (the remainder takes the divisor's sign, NumPy's
/// `mod`) is FLOOR_MOD, which computes exactly that for integers and floats
/// (`fmod`, then the divisor added once when the signs differ). `fmod=1`
/// (the remainder takes the dividend's sign, C's `fmod`): for integers
/// FLOOR_MOD minus the divisor where the signs of dividend and divisor
/// differ and the remainder is not zero (exact for every value, INT_MIN
/// included); for floats `fmod(|x|, |y|)` as FLOOR_MOD of the absolute
/// values, negated where `x < 0` (exact). 8/16-bit integers, uint32 and
/// float16 are computed in a wider type ([`widen`](super::widen)).
pub fn lower_mod(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let w = widened_operands(ctx, node, &[0, 1], Kind::Quotient, MOD_TYPES)?;
    let (a, b) = (w.ts[0], w.ts[1]);
    let y = if node.int_or("fmod", 0)? == 0 {
        ctx.g.apply(Op::FloorMod, &[Some(a), Some(b)])?
    } else if w.compute.is_float() {
        truncated_float_rem(ctx, node, a, b)?
    } else {
        truncated_int_rem(ctx, node, a, b, w.compute)?
    };
    let y = w.narrow(ctx, y)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// `fmod(a, b)` on floats: FLOOR_MOD of `|a|` and `|b|` (no adjustment
/// fires: both are ≥ 0), negated where `a < 0`.
fn truncated_float_rem(ctx: &mut LowerCtx<'_>, node: &Node<'_>, a: TensorId, b: TensorId) -> Result<TensorId, LowerError> {
    let aa = ctx.g.apply(Op::Abs, &[Some(a)])?;
    let ab = ctx.g.apply(Op::Abs, &[Some(b)])?;
    let m = ctx.g.apply(Op::FloorMod, &[Some(aa), Some(ab)])?;
    let neg = ctx.g.apply(Op::Neg, &[Some(m)])?;
    let zero = typed_const(ctx, &format!("{}/zero", node.name()), ctx.dtype(a), &[], &[0.0])?;
    let below = ctx.g.apply(Op::Less, &[Some(a), Some(zero)])?;
    Ok(ctx.g.apply(Op::SelectV2, &[Some(below), Some(neg), Some(m)])?)
}

/// `fmod(a, b)` on integers: `r = floor_mod(a, b)`, then `r − b` where
/// `r ≠ 0` and `a`, `b` differ in sign (`r` then has `b`'s sign and
/// `|r| < |b|`, so `r − b` does not overflow).
fn truncated_int_rem(ctx: &mut LowerCtx<'_>, node: &Node<'_>, a: TensorId, b: TensorId, d: DType) -> Result<TensorId, LowerError> {
    let r = ctx.g.apply(Op::FloorMod, &[Some(a), Some(b)])?;
    let zero = typed_const(ctx, &format!("{}/zero", node.name()), d, &[], &[0.0])?;
    let an = ctx.g.apply(Op::Less, &[Some(a), Some(zero)])?;
    let bn = ctx.g.apply(Op::Less, &[Some(b), Some(zero)])?;
    let differ = ctx.g.apply(Op::NotEqual, &[Some(an), Some(bn)])?;
    let nonzero = ctx.g.apply(Op::NotEqual, &[Some(r), Some(zero)])?;
    let fix = ctx.g.apply(Op::LogicalAnd, &[Some(differ), Some(nonzero)])?;
    let rb = ctx.g.sub(r, b)?;
    Ok(ctx.g.apply(Op::SelectV2, &[Some(fix), Some(rb), Some(r)])?)
}
