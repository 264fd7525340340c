//! Lp normalization along an axis: LpNormalization, as `x / ‖x‖₁` (SUM of
//! ABS) or `x / ‖x‖₂` (SQRT of SUM of squares); zero where the norm is zero.

use super::operand::typed_input;
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `LpNormalization` (p = 1 or 2).
pub fn lower_lp_normalization(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let r = ctx.shape(x).rank();
    let axis = norm_axis(node.int_or("axis", -1)?, r)? as i32;
    let norm = match node.int_or("p", 2)? {
        1 => {
            let a = ctx.g.abs(x)?;
            ctx.g.sum(a, &[axis], true)?
        }
        2 => {
            let sq = ctx.g.mul(x, x)?;
            let s = ctx.g.sum(sq, &[axis], true)?;
            ctx.g.sqrt(s)?
        }
        p => return Err(LowerError::attr(format!("p = {p} (1 or 2)"))),
    };
    let q = ctx.g.div(x, norm)?;
    // A zero norm gives zero (not 0/0), as the reference implementation does.
    let zero = ctx.g.constant_f32(&format!("{}/zero", node.name()), Shape::scalar(), &[0.0]);
    let z = ctx.g.apply(Op::Equal, &[Some(norm), Some(zero)])?;
    let y = ctx.g.apply(Op::SelectV2, &[Some(z), Some(zero), Some(q)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}
