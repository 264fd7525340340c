//! Comparisons, logic and selection: Equal, Less, LessOrEqual, Greater,
//! GreaterOrEqual, And, Or, Xor, Not and Where.
//!
//! Every case that TFLite cannot compute exactly as ONNX defines it is
//! rejected with a reason code.

use super::operand::{common_operands, dtype_err, operand_as, unary_op};
use super::widen::{widened_binary, Kind};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Types EQUAL and NOT_EQUAL compare here (int8 and int16 tensors are
/// quantized in TFLite, and ONNX's carry no parameters).
const EQ_TYPES: &[DType] = &[DType::F32, DType::I32, DType::I64, DType::Bool];
/// Types LESS, LESS_EQUAL, GREATER and GREATER_EQUAL compare here.
const ORDER_TYPES: &[DType] = &[DType::F32, DType::I32, DType::I64];

/// A comparison or logic op on inputs 0 and 1 whose kernel takes `types`;
/// other integer types and float16 are compared exactly in a wider type
/// ([`widen`](super::widen)).
fn binary_typed(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op, types: &[DType]) -> Result<(), LowerError> {
    if node.opset() < 7 && node.has_attr("broadcast") {
        return Err(LowerError::attr("legacy broadcast attribute (opset < 7)"));
    }
    widened_binary(ctx, node, op, Kind::Compare, types)
}

/// Lowers `Equal` to EQUAL.
pub fn lower_equal(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::Equal, EQ_TYPES)
}
/// Lowers `Less` to LESS.
pub fn lower_less(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::Less, ORDER_TYPES)
}
/// Lowers `LessOrEqual` to LESS_EQUAL.
pub fn lower_less_equal(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::LessEqual, ORDER_TYPES)
}
/// Lowers `Greater` to GREATER.
pub fn lower_greater(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::Greater, ORDER_TYPES)
}
/// Lowers `GreaterOrEqual` to GREATER_EQUAL.
pub fn lower_greater_equal(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::GreaterEqual, ORDER_TYPES)
}
/// Lowers `And` to LOGICAL_AND.
pub fn lower_and(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::LogicalAnd, &[DType::Bool])
}
/// Lowers `Or` to LOGICAL_OR.
pub fn lower_or(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::LogicalOr, &[DType::Bool])
}
/// Lowers `Xor` to NOT_EQUAL on bools.
pub fn lower_xor(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::NotEqual, &[DType::Bool])
}
/// Lowers `Not` to LOGICAL_NOT.
pub fn lower_not(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::LogicalNot, &[DType::Bool])
}

/// Lowers `Where` to SELECT_V2 (all three inputs broadcast).
pub fn lower_where(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let c = operand_as(ctx, node, 0, DType::Bool)?;
    if ctx.dtype(c) != DType::Bool {
        return Err(dtype_err(format!("Where condition of type {}", ctx.dtype(c))));
    }
    let (ts, d) = common_operands(ctx, node, &[1, 2])?;
    const TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool];
    if !TYPES.contains(&d) {
        return Err(dtype_err(format!("Where on {d}")));
    }
    let y = ctx.g.apply(Op::SelectV2, &[Some(c), Some(ts[0]), Some(ts[1])])?;
    ctx.set_output(node, 0, y);
    Ok(())
}
