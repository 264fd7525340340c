//! EyeLike: folded into a constant (the input's shape must be static).

use super::operand::{dtype_err, shape_err};
use super::{LowerCtx, LowerError, Node, Val};
use crate::onnx::import::onnx_dtype;
use crate::onnx::ir::TensorData;

/// Lowers `EyeLike` to a constant: ones where `column − row = k`, zeros
/// elsewhere, of the input's static 2-D shape and of the `dtype` attribute's
/// type (the input's by default).
pub fn lower_eye_like(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let name = node.inner.input(0).ok_or_else(|| LowerError::invalid("EyeLike needs an input"))?;
    let (dims, input_type) = match ctx.env.get(name) {
        Some(Val::Const(d)) => (d.dims.clone(), d.dtype),
        Some(Val::Tensor(t)) => {
            let t = ctx.g.tensor(*t);
            let dims: Option<Vec<usize>> = t.shape.dims().iter().map(|d| d.fixed().map(|v| v as usize)).collect();
            let dims = dims.ok_or_else(|| shape_err(format!("EyeLike of an input of dynamic shape {}", t.shape)))?;
            // The declared ONNX type (int64 values may be carried as int32).
            (dims, ctx.graph.value(name).and_then(|v| v.dtype).unwrap_or(t.dtype))
        }
        Some(Val::Shape { dims, scalar }) => (if *scalar { vec![] } else { vec![dims.len()] }, crate::model::DType::I64),
        None => return Err(LowerError::invalid(format!("value {name:?} is not available"))),
    };
    let [rows, cols] = dims[..] else {
        return Err(LowerError::invalid(format!("EyeLike of rank {} (must be 2)", dims.len())));
    };
    let dtype = match node.attr_int("dtype")? {
        Some(t) => i32::try_from(t).ok().and_then(onnx_dtype).ok_or_else(|| dtype_err(format!("EyeLike to ONNX type {t}")))?,
        None => input_type,
    };
    let k = node.int_or("k", 0)?;
    let n = rows.checked_mul(cols).filter(|n| *n <= 1 << 26).ok_or_else(|| shape_err(format!("EyeLike of shape [{rows}, {cols}] is too large to fold")))?;
    let mut v = vec![0.0; n];
    for (r, row) in v.chunks_mut(cols.max(1)).enumerate().take(rows) {
        let c = (r as i64).checked_add(k);
        if let Some(c) = c.and_then(|c| usize::try_from(c).ok()).filter(|c| *c < cols) {
            row[c] = 1.0;
        }
    }
    let d = TensorData::from_f64(dtype, dims, &v).ok_or_else(|| dtype_err(format!("EyeLike of type {dtype}")))?;
    ctx.set_val(node, 0, Val::Const(d));
    Ok(())
}
