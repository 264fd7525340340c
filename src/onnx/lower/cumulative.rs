//! Cumulative sums: CumSum on CUMSUM.

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
