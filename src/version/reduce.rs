//! Versions of the reductions (MEAN, SUM, REDUCE_MAX, REDUCE_MIN,
//! REDUCE_PROD), ARG_MAX, ARG_MIN, SOFTMAX and LOG_SOFTMAX.

use super::{in_type, is};
use crate::model::{DType, Op, Operator, Subgraph};

/// The version of a reduction or softmax; `None` for the ops of other families.
pub(super) fn version(sg: &Subgraph, node: &Operator) -> Option<i32> {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let v = match &node.op {
        Op::Mean { .. } | Op::Softmax { .. } => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Sum { .. } => {
            if is(i0, I8) { 2 } else { 1 }
        }
        Op::ReduceMax { .. } => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::ReduceMin { .. } => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::ReduceProd { .. } => {
            if is(i0, I8) || is(i0, I16) { 2 } else { 1 }
        }
        Op::ArgMax { .. } | Op::ArgMin { .. } => {
            if is(i0, Bool) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::LogSoftmax => {
            if is(i0, I8) { 2 } else { 1 }
        }
        _ => return None,
    };
    Some(v)
}

/// The lowest runtimes of the versions of a reduction or softmax (version 1 first);
/// `None` for the ops of other families.
pub(super) fn min_runtime_table(code: i32) -> Option<&'static [&'static str]> {
    use crate::schema::tflite::BuiltinOperator as B;
    let table: &'static [&'static str] = match B(code) {
        B::MEAN => &["1.6.0", "1.14.0", "2.4.0"],
        B::SUM => &["1.10.0", "1.15.0"],
        B::REDUCE_MAX => &["1.11.0", "1.14.0", "2.5.0"],
        B::REDUCE_MIN => &["1.11.0", "1.14.0", "2.5.0"],
        B::REDUCE_PROD => &["1.11.0", "2.6.0"],
        B::ARG_MAX | B::ARG_MIN => &["1.9.0", "1.14.0", "2.9.0"],
        B::SOFTMAX => &["1.5.0", "1.14.0", "2.3.0"],
        B::LOG_SOFTMAX => &["1.14.0", "1.14.0"],
        _ => return None,
    };
    Some(table)
}
