//! Versions of the elementwise ops: binary arithmetic, activations, unary
//! math, comparisons, logic and SELECT_V2.

use super::{in_type, is, out_type, tensor};
use crate::model::{DType, Op, Operator, Subgraph, Tensor};

/// The version of an elementwise op; `None` for the ops of other families.
pub(super) fn version(sg: &Subgraph, node: &Operator) -> Option<i32> {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let o0 = out_type(sg, node, 0);
    let v = match &node.op {
        Op::Add(o) => {
            let quantized = tensor(sg, node, 0).is_some_and(|t| t.quantization.is_some());
            if is(i0, F16) {
                6
            } else if is(i0, I16) && !quantized {
                5
            } else if is(i0, I64) {
                4
            } else if is(i0, I16) && is(o0, I16) && !o.pot_scale_int16 {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Sub(o) => {
            if is(i0, I16) && is(o0, I16) && !o.pot_scale_int16 {
                5
            } else if is(i0, I64) {
                4
            } else if broadcast_rank5(sg, node) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Mul(_) => {
            let a = tensor(sg, node, 0);
            let b = tensor(sg, node, 1);
            let c = node.outputs.first().and_then(|t| sg.tensor(*t));
            let quantized = a.is_some_and(|t| t.quantization.is_some()) || b.is_some_and(|t| t.quantization.is_some());
            let s = |t: Option<&Tensor>| t.and_then(|t| t.quantization.as_ref()).and_then(|q| q.scale.first().copied());
            let scales = match (s(a), s(b), s(c)) {
                (Some(x), Some(y), Some(z)) if x != 0.0 && y != 0.0 && z != 0.0 => Some(x * y / z),
                _ => None,
            };
            if is(i0, F16) {
                8
            } else if (is(i0, I16) && !quantized) || is(i0, U32) {
                7
            } else if is(i0, Complex64) {
                6
            } else if is(i0, I64) {
                5
            } else if is(i0, I16) {
                4
            } else if scales.is_some_and(|r| r >= 1.0) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Div(_) => {
            if broadcast_rank5(sg, node) {
                2
            } else {
                1
            }
        }
        Op::Minimum | Op::Maximum => {
            if is(i0, I16) && is(o0, I16) {
                4
            } else if broadcast_rank5(sg, node) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Pow => 1,
        Op::FloorMod => {
            if is(i0, I16) || is(i0, I8) { 2 } else { 1 }
        }
        Op::Relu => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) || is(i0, U8) {
                2
            } else {
                1
            }
        }
        Op::Relu6 => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Logistic | Op::Tanh => {
            if is(i0, I16) && is(o0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::HardSwish => 1,
        Op::LeakyRelu { .. } => {
            if is(i0, I16) { 2 } else { 1 }
        }
        Op::Prelu => 1,
        Op::Gelu { .. } => {
            if is(i0, I8) || is(i0, U8) { 2 } else { 1 }
        }
        Op::Exp | Op::Sqrt => {
            if is(i0, I8) || is(i0, I16) { 2 } else { 1 }
        }
        Op::Rsqrt => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Neg => 1,
        Op::Abs => {
            let quantized = tensor(sg, node, 0).is_some_and(|t| t.quantization.as_ref().is_some_and(|q| !q.scale.is_empty()));
            if is(i0, I32) {
                5
            } else if is(i0, I16) {
                if quantized { 3 } else { 4 }
            } else if is(i0, I8) || is(i0, U8) {
                2
            } else {
                1
            }
        }
        Op::Log => {
            if is(i0, I8) || is(i0, I16) { 2 } else { 1 }
        }
        Op::Sin | Op::Cos => 1,
        Op::Equal => {
            if is(i0, I16) {
                4
            } else if is(i0, String) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::NotEqual => {
            if is(i0, String) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Less | Op::GreaterEqual => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Greater | Op::LessEqual => {
            if is(i0, I8) { 2 } else { 1 }
        }
        Op::LogicalAnd | Op::LogicalOr | Op::LogicalNot => 1,
        Op::SelectV2 => {
            if is(i0, U32) { 2 } else { 1 }
        }
        _ => return None,
    };
    Some(v)
}

/// The lowest runtimes of the versions of an elementwise op (version 1 first);
/// `None` for the ops of other families.
pub(super) fn min_runtime_table(code: i32) -> Option<&'static [&'static str]> {
    use crate::schema::tflite::BuiltinOperator as B;
    let table: &'static [&'static str] = match B(code) {
        B::ADD => &["1.5.0", "1.14.0", "2.4.0", "2.6.0", "2.13.0", "2.23.0"],
        B::SUB => &["1.6.0", "1.14.0", "2.3.0", "2.4.0", "2.4.0"],
        B::MUL => &["1.5.0", "1.14.0", "1.15.0", "2.3.0", "2.6.0", "2.11.0", "2.13.0", "2.23.0"],
        B::DIV => &["1.6.0", "2.3.0"],
        B::MAXIMUM | B::MINIMUM => &["1.14.0", "1.14.0", "2.3.0", "2.3.0"],
        B::POW => &["1.10.0"],
        B::FLOOR_MOD => &["1.13.0"],
        B::RELU => &["1.5.0", "2.1.0", "2.5.0"],
        B::RELU6 => &["1.5.0", "1.14.0", "2.5.0"],
        B::LOGISTIC | B::TANH => &["1.14.0", "1.14.0", "2.3.0"],
        B::HARD_SWISH => &["1.15.0"],
        B::LEAKY_RELU => &["1.13.1", "2.3.0"],
        B::PRELU => &["1.8.0"],
        B::GELU => &["2.9.0", "2.9.0"],
        B::EXP => &["1.7.0", "2.12.0"],
        B::SQRT => &["1.10.0", "2.21.0"],
        B::RSQRT => &["1.10.0", "2.5.0", "2.15.0"],
        B::NEG => &["1.9.0"],
        B::ABS => &["1.13.0", "2.4.0", "2.5.0", "2.6.0", "2.12.0"],
        B::LOG => &["1.14.0"],
        B::SIN => &["1.9.0"],
        B::COS => &["1.14.0"],
        B::EQUAL => &["1.14.0", "1.14.0", "2.3.0"],
        B::NOT_EQUAL => &["1.14.0", "1.14.0", "2.3.0"],
        B::LESS | B::GREATER_EQUAL => &["1.14.0", "1.14.0"],
        B::GREATER | B::LESS_EQUAL => &["1.14.0", "1.14.0"],
        B::LOGICAL_AND | B::LOGICAL_OR | B::LOGICAL_NOT => &["1.11.0"],
        B::SELECT_V2 => &["2.2.0"],
        _ => return None,
    };
    Some(table)
}

/// Whether a binary op's two inputs have different shapes and any has rank > 4.
fn broadcast_rank5(sg: &Subgraph, op: &Operator) -> bool {
    let (Some(a), Some(b)) = (tensor(sg, op, 0), tensor(sg, op, 1)) else { return false };
    a.shape.file_shape() != b.shape.file_shape() && a.shape.rank().max(b.shape.rank()) > 4
}
