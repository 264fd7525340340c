//! Cast and CastLike: CAST between TFLite's numeric and boolean types.

use super::operand::dtype_err;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::import::onnx_dtype;

/// Types CAST converts between here.
const CAST_TYPES: &[DType] = &[DType::F32, DType::F16, DType::F64, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool];

/// Lowers `Cast` between TFLite's numeric and boolean types.
pub fn lower_cast(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let to = node.attr_int("to")?.ok_or_else(|| LowerError::invalid("Cast needs 'to'"))?;
    let to = i32::try_from(to).ok().and_then(onnx_dtype).ok_or_else(|| dtype_err(format!("Cast to ONNX type {to}")))?;
    cast_to(ctx, node, to)
}

/// Lowers `CastLike` to CAST, to the type of input 1.
pub fn lower_cast_like(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let to = match ctx.const_ref(node, 1) {
        Some(d) => d.dtype,
        None => {
            let t = ctx.input(node, 1)?;
            ctx.dtype(t)
        }
    };
    cast_to(ctx, node, to)
}

/// CAST of input 0 to `to` (nothing when the types agree).
fn cast_to(ctx: &mut LowerCtx<'_>, node: &Node<'_>, to: DType) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let from = ctx.dtype(x);
    if !CAST_TYPES.contains(&from) || !CAST_TYPES.contains(&to) {
        return Err(dtype_err(format!("Cast from {from} to {to}")));
    }
    if from.is_float() && matches!(to, DType::U8) {
        // C++ leaves float → unsigned conversions of negatives undefined.
        return Err(dtype_err(format!("Cast from {from} to {to} (negative values are undefined in TFLite)")));
    }
    let y = if from == to { x } else { ctx.g.cast(x, to)? };
    ctx.set_output(node, 0, y);
    Ok(())
}
