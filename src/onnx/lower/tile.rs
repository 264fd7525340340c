//! Repetition: Tile on TILE.

use super::operand::dtype_err;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `Tile` to TILE; the repeats may be a run-time tensor.
pub fn lower_tile(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let dt = ctx.dtype(x);
    if !matches!(dt, DType::F32 | DType::I8 | DType::U8 | DType::I16 | DType::I32 | DType::I64 | DType::Bool) {
        return Err(dtype_err(format!("Tile on {dt}")));
    }
    let reps = match ctx.const_input(node, 1) {
        Some(_) => {
            let v = ctx.const_ints(node, 1, "repeats")?;
            let v: Vec<i32> = v.iter().map(|r| i32::try_from(*r).ok().filter(|r| *r >= 0).ok_or_else(|| LowerError::invalid(format!("repeat {r}")))).collect::<Result<_, _>>()?;
            ctx.g.constant_i32(&format!("{}/repeats", node.name()), Shape::new([v.len() as u32]), &v)
        }
        None => {
            let t = ctx.input(node, 1)?;
            if !matches!(ctx.dtype(t), DType::I32 | DType::I64) {
                return Err(dtype_err(format!("Tile repeats of type {}", ctx.dtype(t))));
            }
            t
        }
    };
    let y = ctx.g.tile(x, reps)?;
    ctx.set_output(node, 0, y);
    Ok(())
}
