//! Ops that generate tensors from sizes: ConstantOfShape and Range.
//!
//! Both fold when their inputs are constant (see `fold/`); these lowerings
//! are for sizes known only at run time, such as the zero initial state of
//! a recurrent net sized by the batch.

use super::operand::{dtype_err, shape_err};
use super::symbolic::SDim;
use super::{LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::ir::{Attr, TensorData};

/// Lowers `ConstantOfShape` with a shape computed at run time to FILL.
pub fn lower_constant_of_shape(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let value = match node.inner.attr("value") {
        Some(Attr::Tensor(d)) => d.clone(),
        None => TensorData::from_f32(vec![1], &[0.0]),
        Some(other) => return Err(LowerError::invalid(format!("value should be a tensor, is {other:?}"))),
    };
    if value.len() != 1 {
        return Err(LowerError::invalid(format!("value has {} elements, needs 1", value.len())));
    }
    if value.dtype == DType::F64 || !matches!(value.dtype.bits(), Some(8 | 16 | 32 | 64)) {
        return Err(dtype_err(format!("ConstantOfShape of {}", value.dtype)));
    }
    let name = node.inner.input(0).ok_or_else(|| LowerError::invalid("ConstantOfShape needs a shape input"))?;
    let known: Option<Vec<SDim>> = match ctx.env.get(name) {
        Some(Val::Shape { dims, scalar: false }) => Some(dims.clone()),
        _ => None,
    };
    let dims = ctx.input(node, 0)?;
    let (dd, ds) = (ctx.dtype(dims), ctx.shape(dims).clone());
    if !matches!(dd, DType::I32 | DType::I64) {
        return Err(dtype_err(format!("ConstantOfShape shape of type {dd}")));
    }
    if ds.rank() != 1 || ds.dims()[0] == Dim::Dynamic {
        return Err(shape_err(format!("ConstantOfShape shape tensor of shape {ds} (needs a static length)")));
    }
    // A 0-D value tensor: FILL broadcasts a scalar.
    let v = ctx.g.constant(&format!("{}/value", node.name()), value.dtype, Shape::scalar(), ConstData::from_bytes(value.bytes));
    let y = ctx.g.apply(Op::Fill, &[Some(dims), Some(v)])?;
    if let Some(known) = known {
        refine(ctx, y, &known);
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Range` with run-time bounds to RANGE. The three inputs share one
/// type: float32, int32, or int64 (carried as int32 when a bound is a size
/// computed here, which always fits).
pub fn lower_range(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    // The type: that of a run-time tensor input, else int32 (sizes).
    let tensor_type = (0..3).find_map(|i| match ctx.env.get(node.inner.input(i)?)? {
        Val::Tensor(t) => Some(ctx.dtype(*t)),
        _ => None,
    });
    let like = tensor_type.unwrap_or(DType::I32);
    if !matches!(like, DType::F32 | DType::I32 | DType::I64) {
        return Err(dtype_err(format!("Range of {like}")));
    }
    let mut ins = Vec::with_capacity(3);
    for i in 0..3 {
        let t = super::operand::operand_as(ctx, node, i, like)?;
        let t = if ctx.dtype(t) == like {
            t
        } else if matches!((ctx.dtype(t), like), (DType::I32 | DType::I64, DType::I32 | DType::I64)) {
            ctx.g.cast(t, like)?
        } else {
            return Err(dtype_err(format!("Range inputs of types {} and {like}", ctx.dtype(t))));
        };
        let s = ctx.shape(t).clone();
        if s.num_elements() != Some(1) {
            return Err(shape_err(format!("Range input {i} of shape {s} (needs a scalar)")));
        }
        let t = if s.rank() == 0 { t } else { ctx.g.reshape(t, &[])? };
        ins.push(Some(t));
    }
    let y = ctx.g.apply(Op::Range, &ins)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Gives `y` the sizes known here where inference left them dynamic.
pub(crate) fn refine(ctx: &mut LowerCtx<'_>, y: TensorId, known: &[SDim]) {
    if ctx.shape(y).rank() != known.len() {
        return;
    }
    let dims: Vec<Dim> = ctx.shape(y).dims().iter().zip(known).map(|(a, k)| if *a == Dim::Dynamic { k.as_dim() } else { *a }).collect();
    ctx.g.tensor_mut(y).shape = Shape::from_dims(dims);
}
