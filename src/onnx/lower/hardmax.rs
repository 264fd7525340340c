//! Hardmax: the one-hot of the first maximum along an axis, as ARG_MAX and
//! ONE_HOT (before opset 13, over the input coerced to 2-D at the axis).

use super::operand::{shape_err, typed_input};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `Hardmax`.
pub fn lower_hardmax(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let dims = ctx.shape(x).as_fixed().ok_or_else(|| shape_err(format!("Hardmax needs a static shape, has {}", ctx.shape(x))))?;
    let r = dims.len();
    if r == 0 {
        return Err(LowerError::invalid("Hardmax of a scalar"));
    }
    let legacy = node.opset() < 13;
    let axis = norm_axis(node.int_or("axis", if legacy { 1 } else { -1 })?, r)?;
    let name = node.name();
    let (input, axis_now) = if legacy {
        let outer: u32 = dims[..axis].iter().product();
        let inner: u32 = dims[axis..].iter().product();
        (ctx.g.reshape(x, &[outer as i32, inner as i32])?, 1usize)
    } else {
        (x, axis)
    };
    let depth = ctx.shape(input).dim(axis_now).and_then(|d| d.fixed()).ok_or_else(|| shape_err("Hardmax axis size"))?;
    let a = ctx.g.constant_i32(&format!("{name}/axis"), Shape::scalar(), &[axis_now as i32]);
    let idx = ctx.g.apply(Op::ArgMax { output_type: DType::I32 }, &[Some(input), Some(a)])?;
    let d = ctx.g.constant_i32(&format!("{name}/depth"), Shape::scalar(), &[depth as i32]);
    let on = ctx.g.constant_f32(&format!("{name}/on"), Shape::scalar(), &[1.0]);
    let off = ctx.g.constant_f32(&format!("{name}/off"), Shape::scalar(), &[0.0]);
    let mut y = ctx.g.one_hot(&[Some(idx), Some(d), Some(on), Some(off)], OneHotOptions { axis: axis_now as i32 })?;
    if legacy {
        let back: Vec<i32> = dims.iter().map(|d| *d as i32).collect();
        y = ctx.g.reshape(y, &back)?;
    }
    ctx.set_output(node, 0, y);
    Ok(())
}
