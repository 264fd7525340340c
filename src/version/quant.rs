//! Versions of QUANTIZE and DEQUANTIZE.

use super::{dim0, in_type, is, out_type, tensor};
use crate::model::{DType, Op, Operator, Subgraph, Tensor};

/// The version of QUANTIZE or DEQUANTIZE; `None` for the ops of other families.
pub(super) fn version(sg: &Subgraph, node: &Operator) -> Option<i32> {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let o0 = out_type(sg, node, 0);
    let v = match &node.op {
        Op::Quantize => {
            let out = node.outputs.first().and_then(|t| sg.tensor(*t));
            if is(i0, U4) || is(o0, U4) {
                5
            } else if is(i0, I4) || is(o0, I4) {
                4
            } else if out.is_some_and(per_axis_on_dim) {
                3
            } else if is(o0, I16) {
                2
            } else {
                1
            }
        }
        Op::Dequantize => {
            if is(i0, U4) {
                8
            } else if is(i0, I2) {
                7
            } else if is(i0, I4) {
                6
            } else if is(i0, I16) || is(i0, F16) {
                3
            } else if is(i0, I8) {
                if tensor(sg, node, 0).is_some_and(per_axis_on_dim) { 5 } else { 2 }
            } else {
                1
            }
        }
        _ => return None,
    };
    Some(v)
}

/// The lowest runtimes of the versions of QUANTIZE or DEQUANTIZE (version 1 first);
/// `None` for the ops of other families.
pub(super) fn min_runtime_table(code: i32) -> Option<&'static [&'static str]> {
    use crate::schema::tflite::BuiltinOperator as B;
    let table: &'static [&'static str] = match B(code) {
        B::QUANTIZE => &["1.14.0", "1.15.0", "2.7.0", "2.21.0", "2.21.0", "2.21.0"],
        B::DEQUANTIZE => &["1.13.1", "1.14.0", "1.15.0", "2.2.0", "2.7.0", "2.18.0", "2.21.0", "2.22.0"],
        _ => return None,
    };
    Some(table)
}

/// Per-axis quantization whose scale count equals the quantized dimension.
fn per_axis_on_dim(t: &Tensor) -> bool {
    let Some(q) = &t.quantization else { return false };
    let axis = usize::try_from(q.axis).ok();
    q.scale.len() > 1 && axis.and_then(|a| dim0(t, a)) == Some(q.scale.len() as u64)
}
