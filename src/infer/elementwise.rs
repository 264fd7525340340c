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
        // GELU: int16 through a lookup table (activations.cc, GeluPrepare).
        Op::Gelu { .. } => elementwise(inputs, &[DType::F32, DType::I8, DType::U8, DType::I16]),
        Op::Prelu => prelu(inputs),
        Op::Exp | Op::Sqrt | Op::Rsqrt => elementwise(inputs, &[DType::F32, DType::I8, DType::I16]),
        Op::Neg => neg(inputs),
        Op::Abs => elementwise(inputs, &[DType::F32, DType::I8, DType::I16, DType::I32]),
        // LOG: quantized int8 and int16 (elementwise.cc, IsLogSupportedType).
        Op::Log => elementwise(inputs, &[DType::F32, DType::I8, DType::I16]),
        Op::Sin | Op::Cos => elementwise(inputs, &[DType::F32]),
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
    // DIV: float32, int32, and quantized uint8, int8 and int16 (div.cc).
    let allowed: &[DType] = if matches!(op, Op::Div(_)) { &[DType::F32, DType::I32, DType::U8, DType::I8, DType::I16] } else { ELEMENTWISE_TYPES };
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

/// NEG. LiteRT negates the stored integers (neg.cc), and the output takes
/// the input's parameters, so a quantized input must have zero point 0:
/// `-(q - z)` is `(-q) - z` only then. (The int8 value −128 and the int16
/// value −32768 wrap to themselves, as in two's complement.)
fn neg(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 1, 1)?;
    let x = need(inputs, 0, "input")?;
    check_type(x.dtype, &[DType::F32, DType::I8, DType::I16, DType::I32, DType::I64], "input")?;
    if let Some(q) = x.quantization.as_ref().filter(|_| matches!(x.dtype, DType::I8 | DType::I16)) {
        if q.scale.len() > 1 {
            return Err("a quantized input must be quantized per tensor".into());
        }
        if q.zero_point.iter().any(|z| *z != 0) {
            return Err(format!("a quantized input must have zero point 0 (LiteRT negates the stored integers), has {:?}", q.zero_point));
        }
    }
    Ok(out(x.dtype, x.shape.clone()))
}

fn prelu(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 2, 2)?;
    let x = need(inputs, 0, "input")?;
    let alpha = need(inputs, 1, "alpha")?;
    check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16], "input")?;
    // int16 inputs take int8 alphas (activations.cc, PreluEval).
    let want = if x.dtype == DType::I16 { DType::I8 } else { x.dtype };
    if alpha.dtype != want {
        return Err(format!("alpha type {} is not {want} (input type {})", alpha.dtype, x.dtype));
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
