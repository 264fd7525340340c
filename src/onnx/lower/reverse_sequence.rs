//! ReverseSequence on REVERSE_SEQUENCE.

use super::operand::dtype_err;
use super::widen::{widened_operands, Kind};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `ReverseSequence` to REVERSE_SEQUENCE (seq_dim = time_axis,
/// batch_dim = batch_axis): float32, int32, int64, 8/16-bit integers in
/// int32; lengths int32 or int64.
pub fn lower_reverse_sequence(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let w = widened_operands(ctx, node, &[0], Kind::Select, &[DType::F32, DType::I32, DType::I64])?;
    let x = w.ts[0];
    let rank = ctx.shape(x).rank();
    let time = node.int_or("time_axis", 0)?;
    let batch = node.int_or("batch_axis", 1)?;
    if rank < 2 || !matches!((time, batch), (0, 1) | (1, 0)) {
        return Err(LowerError::invalid(format!("ReverseSequence with time_axis {time} and batch_axis {batch} on rank {rank} (axes 0 and 1 of a rank ≥ 2 input)")));
    }
    let lens = ctx.input(node, 1)?;
    if !matches!(ctx.dtype(lens), DType::I32 | DType::I64) {
        return Err(dtype_err(format!("ReverseSequence lengths of type {}", ctx.dtype(lens))));
    }
    let y = ctx.g.reverse_sequence(x, lens, ReverseSequenceOptions { seq_dim: time as i32, batch_dim: batch as i32 })?;
    let y = w.narrow(ctx, y)?;
    ctx.set_output(node, 0, y);
    Ok(())
}
