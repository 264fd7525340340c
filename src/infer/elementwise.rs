//! Inference for the elementwise ops: binary arithmetic (ADD, SUB, MUL,
//! DIV, MINIMUM, MAXIMUM, POW, FLOOR_MOD), activations (RELU, RELU6,
//! LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, PRELU, GELU), unary math (EXP,
//! SQRT, RSQRT, NEG, ABS, LOG, SIN, COS), comparisons (EQUAL, NOT_EQUAL,
//! LESS, LESS_EQUAL, GREATER, GREATER_EQUAL), logic (LOGICAL_AND,
//! LOGICAL_OR, LOGICAL_NOT) and SELECT_V2.

use super::{broadcast, check_activation, check_type, count, elementwise, need, out, same_type_check, Inferred, R};
use crate::model::{Activation, DType, Op, Tensor};

const ELEMENTWISE_TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64];

/// Types EQUAL and NOT_EQUAL compare.
const COMPARE_EQ_TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool, DType::String];

/// Infers an elementwise op; `None` for the ops of other families.
pub(super) fn infer(op: &Op, inputs: &[Option<&Tensor>]) -> Option<Result<Option<Vec<Inferred>>, String>> {
    let r = match op {
        Op::Add(_) | Op::Sub(_) | Op::Mul(_) | Op::Div(_) => arithmetic(inputs, op),
        Op::Minimum | Op::Maximum => min_max(inputs, op),
        Op::Pow | Op::FloorMod => pow_floor_mod(inputs, op),
        Op::Logistic | Op::Relu | Op::Relu6 | Op::HardSwish | Op::Tanh => elementwise(inputs, &[DType::F32, DType::I8, DType::U8, DType::I16]),
        Op::LeakyRelu { .. } => elementwise(inputs, &[DType::F32, DType::I8, DType::U8, DType::I16]),
        Op::Gelu { .. } => elementwise(inputs, &[DType::F32, DType::I8, DType::U8]),
        Op::Prelu => prelu(inputs),
        Op::Exp | Op::Sqrt | Op::Rsqrt => elementwise(inputs, &[DType::F32, DType::I8, DType::I16]),
        Op::Neg => elementwise(inputs, &[DType::F32, DType::I32, DType::I64]),
        Op::Abs => elementwise(inputs, &[DType::F32, DType::I8, DType::I16, DType::I32]),
        Op::Log | Op::Sin | Op::Cos => elementwise(inputs, &[DType::F32]),
        Op::Equal | Op::NotEqual | Op::Less | Op::LessEqual | Op::Greater | Op::GreaterEqual => comparison(inputs, op),
        Op::LogicalAnd | Op::LogicalOr => logical_and_or(inputs),
        Op::LogicalNot => elementwise(inputs, &[DType::Bool]),
        Op::SelectV2 => select_v2(inputs, op),
        _ => return None,
    };
    Some(r.map(Some))
}

/// ADD, SUB, MUL and DIV.
fn arithmetic(inputs: &[Option<&Tensor>], op: &Op) -> R {
    count(inputs, 2, 2)?;
    check_activation(match op {
        Op::Add(o) | Op::Sub(o) => o.activation,
        Op::Mul(a) | Op::Div(a) => *a,
        _ => Activation::None,
    })?;
    let a = need(inputs, 0, "lhs")?;
    let b = need(inputs, 1, "rhs")?;
    let d = same_type_check(&[a, b], op.name())?;
    let allowed: &[DType] = if matches!(op, Op::Div(_)) { &[DType::F32, DType::I32, DType::U8] } else { ELEMENTWISE_TYPES };
    check_type(d, allowed, "input")?;
    Ok(out(d, broadcast(&a.shape, &b.shape)?))
}

/// MINIMUM and MAXIMUM.
fn min_max(inputs: &[Option<&Tensor>], op: &Op) -> R {
    count(inputs, 2, 2)?;
    let a = need(inputs, 0, "lhs")?;
    let b = need(inputs, 1, "rhs")?;
    let d = same_type_check(&[a, b], op.name())?;
    check_type(d, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64], "input")?;
    Ok(out(d, broadcast(&a.shape, &b.shape)?))
}

/// POW and FLOOR_MOD.
fn pow_floor_mod(inputs: &[Option<&Tensor>], op: &Op) -> R {
    count(inputs, 2, 2)?;
    let a = need(inputs, 0, "lhs")?;
    let b = need(inputs, 1, "rhs")?;
    let d = same_type_check(&[a, b], op.name())?;
    let types: &[DType] = if matches!(op, Op::Pow) { &[DType::F32, DType::I32] } else { &[DType::F32, DType::I8, DType::I16, DType::I32, DType::I64] };
    check_type(d, types, "input")?;
    Ok(out(d, broadcast(&a.shape, &b.shape)?))
}

fn prelu(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 2, 2)?;
    let x = need(inputs, 0, "input")?;
    let alpha = need(inputs, 1, "alpha")?;
    check_type(x.dtype, &[DType::F32, DType::I8, DType::U8], "input")?;
    if alpha.dtype != x.dtype {
        return Err(format!("alpha type {} differs from input type {}", alpha.dtype, x.dtype));
    }
    let shape = broadcast(&x.shape, &alpha.shape)?;
    if shape.rank() > 4 {
        return Err(format!("the runtime's PRELU handles at most 4 dimensions, the output has shape {shape}"));
    }
    Ok(out(x.dtype, shape))
}

/// EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER and GREATER_EQUAL.
fn comparison(inputs: &[Option<&Tensor>], op: &Op) -> R {
    count(inputs, 2, 2)?;
    let a = need(inputs, 0, "lhs")?;
    let b = need(inputs, 1, "rhs")?;
    let d = same_type_check(&[a, b], op.name())?;
    let types: &[DType] = if matches!(op, Op::Equal | Op::NotEqual) { COMPARE_EQ_TYPES } else { ELEMENTWISE_TYPES };
    check_type(d, types, "input")?;
    Ok(out(DType::Bool, broadcast(&a.shape, &b.shape)?))
}

/// LOGICAL_AND and LOGICAL_OR.
fn logical_and_or(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 2, 2)?;
    let a = need(inputs, 0, "lhs")?;
    let b = need(inputs, 1, "rhs")?;
    check_type(a.dtype, &[DType::Bool], "lhs")?;
    check_type(b.dtype, &[DType::Bool], "rhs")?;
    Ok(out(DType::Bool, broadcast(&a.shape, &b.shape)?))
}

fn select_v2(inputs: &[Option<&Tensor>], op: &Op) -> R {
    count(inputs, 3, 3)?;
    let c = need(inputs, 0, "condition")?;
    let x = need(inputs, 1, "x")?;
    let y = need(inputs, 2, "y")?;
    check_type(c.dtype, &[DType::Bool], "condition")?;
    let d = same_type_check(&[x, y], op.name())?;
    check_type(d, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::U32, DType::I64, DType::Bool], "x")?;
    let shape = broadcast(&broadcast(&c.shape, &x.shape)?, &y.shape)?;
    Ok(out(d, shape))
}
