//! Inference for the reductions (MEAN, SUM, REDUCE_MAX, REDUCE_MIN,
//! REDUCE_PROD), ARG_MAX, ARG_MIN, SOFTMAX and LOG_SOFTMAX.
//!
//! The `[input, axes]` reduction rule itself (`reduce`) is in `infer.rs`,
//! as the generated ops use it too.

use super::{check_type, const_ints, count, elementwise, need, norm_axis, out, reduce, Inferred, R};
use crate::model::{DType, Dim, Op, Shape, Tensor};

/// Infers a reduction or softmax; `None` for the ops of other families.
pub(super) fn infer(op: &Op, inputs: &[Option<&Tensor>]) -> Option<Result<Option<Vec<Inferred>>, String>> {
    let r = match op {
        Op::Mean { keep_dims } | Op::Sum { keep_dims } | Op::ReduceMax { keep_dims } | Op::ReduceMin { keep_dims } => {
            return Some(reduce(inputs, *keep_dims, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64]));
        }
        // REDUCE_PROD: also int8 and int16, quantized or plain (reduce.cc,
        // EvalQuantizedProd).
        Op::ReduceProd { keep_dims } => return Some(reduce(inputs, *keep_dims, &[DType::F32, DType::I8, DType::I16, DType::I32, DType::I64])),
        Op::ArgMax { output_type } | Op::ArgMin { output_type } => arg_min_max(inputs, *output_type),
        // The same checks as the activations in elementwise.rs.
        Op::Softmax { .. } => elementwise(inputs, &[DType::F32, DType::I8, DType::U8, DType::I16]),
        Op::LogSoftmax => elementwise(inputs, &[DType::F32, DType::I8, DType::U8]),
        _ => return None,
    };
    Some(r.map(Some))
}

/// ARG_MAX and ARG_MIN.
fn arg_min_max(inputs: &[Option<&Tensor>], output_type: DType) -> R {
    count(inputs, 2, 2)?;
    let x = need(inputs, 0, "input")?;
    let axis = need(inputs, 1, "axis")?;
    check_type(x.dtype, &[DType::F32, DType::U8, DType::I8, DType::I32, DType::I64, DType::Bool], "input")?;
    check_type(axis.dtype, &[DType::I32, DType::I64], "axis")?;
    check_type(output_type, &[DType::I32, DType::I64], "output_type")?;
    if axis.shape.num_elements().is_some_and(|n| n != 1) {
        return Err(format!("axis must hold one value, has shape {}", axis.shape));
    }
    let r = x.shape.rank();
    if r == 0 {
        return Err("input must have rank ≥ 1".into());
    }
    match const_ints(axis) {
        Some(a) => {
            let i = norm_axis(a.first().copied().ok_or("empty axis")?, r)?;
            let mut dims = x.shape.dims().to_vec();
            dims.remove(i);
            Ok(out(output_type, Shape::from_dims(dims)))
        }
        None => Ok(out(output_type, Shape::from_dims(vec![Dim::Dynamic; r - 1]))),
    }
}
