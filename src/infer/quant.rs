//! Inference for QUANTIZE and DEQUANTIZE.

use super::{check_type, count, need, out, Inferred, R};
use crate::model::{DType, Op, Tensor};

/// Infers QUANTIZE or DEQUANTIZE; `None` for the ops of other families.
pub(super) fn infer(op: &Op, inputs: &[Option<&Tensor>]) -> Option<Result<Option<Vec<Inferred>>, String>> {
    let r = match op {
        Op::Quantize => quantize(inputs),
        Op::Dequantize => dequantize(inputs),
        _ => return None,
    };
    Some(r.map(Some))
}

/// QUANTIZE. The input does not decide the output type, so it is left open.
fn quantize(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 1, 1)?;
    let x = need(inputs, 0, "input")?;
    check_type(x.dtype, &[DType::F32, DType::F16, DType::I8, DType::U8, DType::I16], "input")?;
    Ok(vec![Inferred { dtype: None, shape: x.shape.clone() }])
}

fn dequantize(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 1, 1)?;
    let x = need(inputs, 0, "input")?;
    check_type(x.dtype, &[DType::I8, DType::U8, DType::I16, DType::F16, DType::I4], "input")?;
    Ok(out(DType::F32, x.shape.clone()))
}
