//! Selection by a condition, with run-time output sizes: NonZero (WHERE,
//! TRANSPOSE) and Compress (WHERE or constant positions, GATHER).

use super::operand::{dtype_err, shape_err};
use super::widen::{widened_operands, Kind};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// Types WHERE takes as its condition here.
const WHERE_TYPES: &[DType] = &[DType::Bool, DType::F32, DType::I32, DType::I64];

/// Lowers `NonZero`: WHERE gives the int64 coordinates of the non-zero
/// elements as `[n, rank]` (row-major order, as ONNX); ONNX wants
/// `[rank, n]`, a TRANSPOSE. Other integer types and float16 are tested in
/// a wider type (zero stays zero).
pub fn lower_non_zero(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = widened_operands(ctx, node, &[0], Kind::Compare, WHERE_TYPES)?.ts[0];
    if ctx.shape(x).rank() == 0 {
        return Err(shape_err("NonZero of a scalar"));
    }
    let coords = ctx.g.where_true(x)?;
    let y = ctx.g.transpose(coords, &[1, 0])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Compress`: the slices of the input (flattened without `axis`)
/// along `axis` where the 1-D bool condition is true. A constant condition
/// gives constant positions; a run-time one WHERE's, reshaped to a vector.
/// Then GATHER. A condition shorter than the axis selects among its first
/// entries only, as ONNX.
pub fn lower_compress(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mut x = ctx.input(node, 0)?;
    let axis = match node.attr_int("axis")? {
        Some(a) => norm_axis(a, ctx.shape(x).rank())?,
        None => {
            x = ctx.g.reshape(x, &[-1])?;
            0
        }
    };
    let positions = match ctx.const_input(node, 1) {
        Some(c) => {
            let v = c.to_i64().ok_or_else(|| dtype_err(format!("Compress condition of type {}", c.dtype)))?;
            if c.dims.len() != 1 {
                return Err(LowerError::invalid(format!("Compress condition of shape {:?} (must be 1-D)", c.dims)));
            }
            let p: Vec<i32> = v.iter().enumerate().filter(|(_, b)| **b != 0).map(|(i, _)| i as i32).collect();
            if p.is_empty() {
                return Err(shape_err("Compress with an all-false condition (an empty result)"));
            }
            if let Some(n) = ctx.shape(x).dim(axis).and_then(|d| d.fixed())
                && p.iter().any(|i| *i as u32 >= n)
            {
                return Err(LowerError::invalid(format!("Compress condition selects beyond the axis size {n}")));
            }
            ctx.g.constant_i32(&format!("{}/positions", node.name()), [p.len() as u32], &p)
        }
        None => {
            let c = ctx.input(node, 1)?;
            if ctx.dtype(c) != DType::Bool {
                return Err(dtype_err(format!("Compress condition of type {}", ctx.dtype(c))));
            }
            if ctx.shape(c).rank() != 1 {
                return Err(LowerError::invalid(format!("Compress condition of shape {} (must be 1-D)", ctx.shape(c))));
            }
            let w = ctx.g.where_true(c)?;
            ctx.g.reshape(w, &[-1])?
        }
    };
    let y = ctx.g.gather(x, positions, GatherOptions::new(axis as i32))?;
    ctx.set_output(node, 0, y);
    Ok(())
}
