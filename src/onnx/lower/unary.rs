//! Unary math: Exp, Log, Sqrt, Reciprocal, Sin, Cos, Neg, Abs, Floor and Ceil.

use super::operand::{typed_input, unary_op};
use super::widen::{widened_unary, Kind};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `Exp`.
pub fn lower_exp(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Exp, &[DType::F32])
}

/// Lowers `Log` to LOG.
pub fn lower_log(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Log, &[DType::F32])
}

/// Lowers `Sqrt`.
pub fn lower_sqrt(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Sqrt, &[DType::F32])
}

/// Lowers `Reciprocal` to DIV(1, x).
pub fn lower_reciprocal(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let one = ctx.g.constant_f32(&format!("{}/one", node.name()), Shape::scalar(), &[1.0]);
    let y = ctx.g.div(one, x)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Sin` to SIN.
pub fn lower_sin(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Sin, &[DType::F32])
}

/// Lowers `Cos` to COS.
pub fn lower_cos(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Cos, &[DType::F32])
}

/// Lowers `Neg`: float32, int32, int64; 8/16-bit integers negated in
/// int32 and wrapped back (−(−128) is −128 in int8, as in NumPy).
pub fn lower_neg(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    widened_unary(ctx, node, Op::Neg, Kind::Sum, &[DType::F32, DType::I32, DType::I64])
}

/// Lowers `Abs`: float32, int32; 8/16-bit integers and uint32 in a wider
/// type, wrapped back.
pub fn lower_abs(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    widened_unary(ctx, node, Op::Abs, Kind::Sum, &[DType::F32, DType::I32])
}

/// Lowers `Floor` to FLOOR.
pub fn lower_floor(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Floor, &[DType::F32])
}

/// Lowers `Ceil` to CEIL.
pub fn lower_ceil(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Ceil, &[DType::F32])
}
