//! Gemm and MatMul: FULLY_CONNECTED for a constant right operand,
//! BATCH_MATMUL otherwise.

use super::operand::{dtype_err, first_tensor_type, operand_as, operand_narrowed, shape_err};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::TensorData;

/// Lowers `Gemm` with a non-constant B (or transA): BATCH_MATMUL, then
/// `alpha` and `beta·C` as MUL and ADD.
fn lower_gemm_dynamic(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let alpha = node.float_or("alpha", 1.0)?;
    let beta = node.float_or("beta", 1.0)?;
    let a = ctx.input(node, 0)?;
    let b = ctx.input(node, 1)?;
    for t in [a, b] {
        if ctx.shape(t).rank() != 2 || ctx.dtype(t) != DType::F32 {
            return Err(LowerError::new(ReasonCode::UnsupportedShape, "Gemm needs 2-D float operands"));
        }
    }
    let o = BatchMatMulOptions::default().with_adj_x(node.int_or("transA", 0)? != 0).with_adj_y(node.int_or("transB", 0)? != 0);
    let mut y = ctx.g.batch_matmul(a, b, o)?;
    let name = node.name();
    if alpha != 1.0 {
        let k = ctx.g.constant_f32(&format!("{name}/alpha"), Shape::scalar(), &[alpha]);
        y = ctx.g.mul(y, k)?;
    }
    if node.has_input(2) && beta != 0.0 {
        let mut c = operand_narrowed(ctx, node, 2, Some(DType::F32))?;
        if beta != 1.0 {
            let k = ctx.g.constant_f32(&format!("{name}/beta"), Shape::scalar(), &[beta]);
            c = ctx.g.mul(c, k)?;
        }
        y = ctx.g.add(y, c)?;
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Gemm`: `alpha·A·B' + beta·C`; FULLY_CONNECTED for a constant B.
pub fn lower_gemm(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if node.int_or("transA", 0)? != 0 || ctx.const_ref(node, 1).is_none() {
        return lower_gemm_dynamic(ctx, node);
    }
    let alpha = node.float_or("alpha", 1.0)?;
    let beta = node.float_or("beta", 1.0)?;
    let trans_b = node.int_or("transB", 0)? != 0;
    let a = ctx.input(node, 0)?;
    if ctx.shape(a).rank() != 2 || ctx.dtype(a) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, "Gemm needs a 2-D float A"));
    }
    let b_rank = ctx.const_ref(node, 1).map(|b| b.dims.len());
    if b_rank != Some(2) {
        return Err(LowerError::invalid(format!("Gemm B must be a constant matrix, has rank {b_rank:?}")));
    }
    // FULLY_CONNECTED wants [N, K].
    let perm: &[usize] = if trans_b { &[0, 1] } else { &[1, 0] };
    let mut w = ctx.const_weights(node, 1, perm)?.ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "Gemm B must be constant"))?;
    let (n, k) = (w.dims[0], w.dims[1]);
    if alpha != 1.0 {
        let v: Vec<f32> = w.to_f32().unwrap_or_default().iter().map(|x| x * alpha).collect();
        w = TensorData::from_f32(w.dims.clone(), &v);
    }
    let name = node.name();
    let wt = ctx.g.constant(&format!("{name}/weights"), DType::F32, [n as u32, k as u32], ConstData::from_bytes(w.bytes));
    // A bias of N values (or one) folds in; a full [M, N] C is added after.
    let c = if node.has_input(2) { Some(ctx.const_input(node, 2).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "Gemm C must be constant"))?) } else { None };
    let (bias, late_c) = match &c {
        None => (vec![0.0; n], None),
        Some(c) => {
            let v: Vec<f32> = c.to_f32().unwrap_or_default().iter().map(|x| x * beta).collect();
            let elems: usize = c.dims.iter().product();
            if elems == n && c.dims.last().copied().unwrap_or(n) == n {
                (v, None)
            } else if elems == 1 {
                (vec![v[0]; n], None)
            } else {
                (vec![0.0; n], Some(TensorData::from_f32(c.dims.clone(), &v)))
            }
        }
    };
    let bt = ctx.g.constant_f32(&format!("{name}/bias"), [n as u32], &bias);
    let mut y = ctx.g.fully_connected(a, wt, Some(bt), FullyConnectedOptions::default())?;
    if let Some(cd) = late_c {
        let ct = ctx.const_tensor(&format!("{name}/C"), &cd)?;
        y = ctx.g.add(y, ct)?;
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `MatMul` with a constant 2-D right operand.
pub fn lower_matmul(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let a = ctx.input(node, 0)?;
    let b_dims = ctx.const_ref(node, 1).map(|b| b.dims.clone()).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "MatMul with a non-constant right operand"))?;
    if b_dims.len() != 2 || ctx.shape(a).rank() < 2 || ctx.dtype(a) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("MatMul of rank {} by {b_dims:?}", ctx.shape(a).rank())));
    }
    let w = ctx.const_weights(node, 1, &[1, 0])?.ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "MatMul with a non-constant right operand"))?;
    let (n, k) = (w.dims[0], w.dims[1]);
    let name = node.name();
    let wt = ctx.g.constant(&format!("{name}/weights"), DType::F32, [n as u32, k as u32], ConstData::from_bytes(w.bytes));
    let keep = ctx.shape(a).rank() > 2;
    let y = ctx.g.fully_connected(a, wt, None, FullyConnectedOptions::default().with_keep_num_dims(keep))?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `MatMul`: a constant 2-D right operand goes to FULLY_CONNECTED
/// ([`lower_matmul`]), anything else to BATCH_MATMUL (1-D operands are
/// made 2-D and the added dimension removed again).
pub fn lower_matmul_any(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let a_const = ctx.const_input(node, 0);
    let b_const = ctx.const_input(node, 1);
    if a_const.is_none() {
        let a = ctx.input(node, 0)?;
        if b_const.as_ref().is_some_and(|b| b.dims.len() == 2) && ctx.shape(a).rank() >= 2 && ctx.dtype(a) == DType::F32 {
            return lower_matmul(ctx, node);
        }
    }
    let like = first_tensor_type(ctx, node, [0, 1]).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "no tensor input"))?;
    if like != DType::F32 {
        return Err(dtype_err(format!("MatMul on {like}")));
    }
    let mut a = operand_as(ctx, node, 0, DType::F32)?;
    let mut b = operand_as(ctx, node, 1, DType::F32)?;
    let (ra, rb) = (ctx.shape(a).rank(), ctx.shape(b).rank());
    if ra == 0 || rb == 0 || ra > 5 || rb > 5 {
        return Err(shape_err(format!("MatMul of ranks {ra} and {rb}")));
    }
    let one_d = |ctx: &mut LowerCtx<'_>, t: TensorId, row: bool| -> Result<TensorId, LowerError> {
        let n = ctx.shape(t).dims()[0].fixed().map_or(-1, |v| v as i32);
        Ok(ctx.g.reshape(t, &if row { [1, n] } else { [n, 1] })?)
    };
    if ra == 1 {
        a = one_d(ctx, a, true)?;
    }
    if rb == 1 {
        b = one_d(ctx, b, false)?;
    }
    let mut y = ctx.g.batch_matmul(a, b, BatchMatMulOptions::default())?;
    if ra == 1 || rb == 1 {
        let r = ctx.shape(y).rank() as i32;
        let mut dims = Vec::new();
        if ra == 1 {
            dims.push(r - 2);
        }
        if rb == 1 {
            dims.push(r - 1);
        }
        y = ctx.g.squeeze(y, &dims)?;
    }
    ctx.set_output(node, 0, y);
    Ok(())
}
