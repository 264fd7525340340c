//! Selection of the largest or smallest elements: TopK on TOPK_V2.

use super::operand::dtype_err;
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `TopK` to TOPK_V2 over the last axis (another axis is swapped
/// last with TRANSPOSE). `largest=0` negates a float input around it; the
/// int32 indices are cast to int64. Ties keep the lower index first in
/// both. Unsorted output (`sorted=0`) may be in any order, so sorted is
/// valid.
pub fn lower_topk(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if node.opset() < 10 {
        return Err(LowerError::new(crate::onnx::error::ReasonCode::UnsupportedOpset, "TopK before opset 10 (k attribute)"));
    }
    let mut x = ctx.input(node, 0)?;
    let dt = ctx.dtype(x);
    if !matches!(dt, DType::F32 | DType::I8 | DType::U8 | DType::I16 | DType::I32 | DType::I64) {
        return Err(dtype_err(format!("TopK on {dt}")));
    }
    let largest = node.int_or("largest", 1)? != 0;
    if !largest && dt != DType::F32 {
        return Err(LowerError::attr(format!("largest=0 on {dt} (float32 only: negation of integers can overflow)")));
    }
    let r = ctx.shape(x).rank();
    if r == 0 {
        return Err(LowerError::invalid("TopK of a scalar"));
    }
    let axis = norm_axis(node.int_or("axis", -1)?, r)?;
    let name = node.name();
    let k = match ctx.const_input(node, 1) {
        Some(_) => {
            let k = *ctx.const_ints(node, 1, "k")?.first().ok_or_else(|| LowerError::invalid("empty k"))?;
            let k = i32::try_from(k).map_err(|_| LowerError::invalid(format!("k = {k}")))?;
            ctx.g.constant_i32(&format!("{name}/k"), Shape::scalar(), &[k])
        }
        None => {
            let k = ctx.input(node, 1)?;
            match ctx.dtype(k) {
                DType::I64 => ctx.g.cast(k, DType::I32)?,
                DType::I32 => k,
                t => return Err(dtype_err(format!("TopK k of type {t}"))),
            }
        }
    };
    let mut perm: Vec<i32> = (0..r as i32).collect();
    perm.swap(axis, r - 1);
    if axis != r - 1 {
        x = ctx.transpose(x, &perm)?;
    }
    if !largest {
        x = ctx.g.neg(x)?;
    }
    let outs = ctx.g.topk_v2(x, k)?;
    let (mut values, mut idx) = match outs.as_slice() {
        [v, i] => (*v, *i),
        _ => return Err(LowerError::invalid("TOPK_V2 without two outputs")),
    };
    if !largest {
        values = ctx.g.neg(values)?;
    }
    idx = ctx.g.cast(idx, DType::I64)?;
    if axis != r - 1 {
        values = ctx.transpose(values, &perm)?;
        idx = ctx.transpose(idx, &perm)?;
    }
    ctx.set_output(node, 0, values);
    ctx.set_output(node, 1, idx);
    Ok(())
}
