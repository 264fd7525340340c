//! Versions of the weighted and windowed ops: CONV_2D, DEPTHWISE_CONV_2D,
//! TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL and the 2-D pools.

use super::{dim0, in_type, is, out_type, tensor};
use crate::model::{DType, DepthwiseConv2dOptions, FullyConnectedOptions, Op, Operator, Subgraph, Tensor, WeightsFormat};

/// The version of a conv-family op; `None` for the ops of other families.
pub(super) fn version(sg: &Subgraph, node: &Operator) -> Option<i32> {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let i1 = in_type(sg, node, 1);
    let o0 = out_type(sg, node, 0);
    let v = match &node.op {
        Op::Conv2d(_) => conv_2d(sg, node),
        Op::DepthwiseConv2d(o) => depthwise_conv_2d(sg, node, o),
        Op::FullyConnected(o) => fully_connected(sg, node, o),
        Op::TransposeConv(o) => {
            // TFLite's rule reads input 0, which is the int32 output shape,
            // so its int16 case (version 5) never applies.
            if is(i0, I16) && is(i1, I8) && is(o0, I16) {
                5
            } else if o.activation != crate::model::Activation::None {
                4
            } else if node.input(3).is_some() {
                3
            } else if is(i1, I8) {
                2
            } else {
                1
            }
        }
        Op::BatchMatMul(o) => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else if is(i0, F32) && is(i1, I8) && is(o0, F32) && o.asymmetric_quantize_inputs {
                4
            } else {
                1
            }
        }
        Op::AveragePool2d(_) | Op::MaxPool2d(_) => {
            if is(i0, I16) && is(o0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        // op_version.cc: L2_POOL_2D has one version.
        Op::L2Pool2d(_) => 1,
        _ => return None,
    };
    Some(v)
}

/// The lowest runtimes of the versions of a conv-family op (version 1 first);
/// `None` for the ops of other families.
pub(super) fn min_runtime_table(code: i32) -> Option<&'static [&'static str]> {
    use crate::schema::tflite::BuiltinOperator as B;
    let table: &'static [&'static str] = match B(code) {
        B::CONV_2D => &["1.5.0", "1.14.0", "1.14.0", "2.3.0", "2.4.0", "2.9.0", "2.11.0", "2.15.0"],
        B::DEPTHWISE_CONV_2D => &["1.5.0", "1.12.0", "1.14.0", "2.2.0", "2.3.0", "2.3.0", "2.11.0"],
        B::FULLY_CONNECTED => &[
            "1.5.0", "1.10.0", "1.14.0", "1.14.0", "2.0.0", "2.1.0", "2.3.0", "2.3.0", "2.3.0", "2.11.0", "2.15.0",
            "2.17.0", "2.18.0", "2.21.0",
        ],
        B::TRANSPOSE_CONV => &["1.9.0", "2.2.0", "2.3.0", "2.13.0", "2.15.0"],
        B::BATCH_MATMUL => &["2.3.0", "2.3.0", "2.4.0", "2.5.0"],
        B::AVERAGE_POOL_2D | B::MAX_POOL_2D => &["1.5.0", "1.14.0", "2.3.0"],
        B::L2_POOL_2D => &["1.5.0"],
        _ => return None,
    };
    Some(table)
}

/// CONV_2D.
fn conv_2d(sg: &Subgraph, node: &Operator) -> i32 {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let i1 = in_type(sg, node, 1);
    let o0 = out_type(sg, node, 0);
    // Options are always written, and their default bias type
    // (FLOAT32) makes an int16x8 conv version 8.
    if is(i0, I16) && is(i1, I8) && is(o0, I16) {
        return 8;
    }
    let grouped = match (tensor(sg, node, 0), tensor(sg, node, 1)) {
        (Some(x), Some(w)) if x.shape.rank() > 0 => dim0(x, 3) != dim0(w, 3),
        _ => false,
    };
    if grouped {
        return 6;
    }
    if is(i0, I8) && is(i1, I8) && is(o0, I8) {
        return 3;
    }
    if is(i0, I8) && is(i1, I4) && is(o0, I8) {
        return 7;
    }
    if is(i0, F32) && is(i1, I8) && is(o0, F32) {
        let per_channel = tensor(sg, node, 1)
            .is_some_and(|w| scales_len(w) > 0 && Some(scales_len(w) as u64) == dim0(w, 0));
        return if per_channel { 5 } else { 2 };
    }
    1
}

/// DEPTHWISE_CONV_2D.
fn depthwise_conv_2d(sg: &Subgraph, node: &Operator, o: &DepthwiseConv2dOptions) -> i32 {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let i1 = in_type(sg, node, 1);
    let o0 = out_type(sg, node, 0);
    if is(i0, F32) && is(i1, I8) && is(o0, F32) {
        let per_channel = tensor(sg, node, 1)
            .is_some_and(|w| scales_len(w) > 0 && Some(scales_len(w) as u64) == dim0(w, 3));
        return if per_channel { 6 } else { 4 };
    }
    if is(i0, I8) && is(i1, I8) && is(o0, I8) {
        return 3;
    }
    if is(i0, I8) && is(i1, I4) && is(o0, I8) {
        return 7;
    }
    if o.dilation_w != 1 || o.dilation_h != 1 {
        return 2;
    }
    1
}

/// FULLY_CONNECTED. Blockwise int4 weights (float input and output) take
/// the same version as per-channel int4 hybrid weights: LiteRT's
/// `op_version.cc` has no rule for them (they fall through to 1, or 6
/// without bias, 5 with `keep_num_dims`).
fn fully_connected(sg: &Subgraph, node: &Operator, o: &FullyConnectedOptions) -> i32 {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let i1 = in_type(sg, node, 1);
    let o0 = out_type(sg, node, 0);
    let w = tensor(sg, node, 1);
    if is(i1, I2) {
        return 14;
    }
    if is(i0, I16) && is(i1, I4) && is(o0, I16) {
        return 13;
    }
    // TFLite counts per-channel weights only with more than one scale.
    let per_channel = w.is_some_and(|w| {
        scales_len(w) > 1 && w.shape.rank() > 0 && Some(scales_len(w) as u64) == dim0(w, 0)
    });
    if is(i0, F32) && is(i1, I8) && is(o0, F32) && per_channel {
        return 12;
    }
    if is(i0, I16) && is(i1, I8) && is(o0, I16) {
        // Options are always written; the default bias type counts.
        return 11;
    }
    if w.is_some_and(|w| w.sparsity.is_some()) {
        return 8;
    }
    if is(i0, I16) && is(i1, I16) && is(o0, I16) {
        return 7;
    }
    if node.inputs.len() == 2 {
        return 6;
    }
    if o.keep_num_dims {
        return 5;
    }
    if is(i0, I8) && is(i1, I8) && is(o0, I8) {
        return 4;
    }
    if is(i0, I8) && is(i1, I4) && is(o0, I8) {
        return 10;
    }
    if is(i0, F32) && is(i1, I8) && is(o0, F32) {
        return if o.asymmetric_quantize_inputs { 9 } else { 3 };
    }
    if o.weights_format == WeightsFormat::Shuffled4x16Int8 {
        return 2;
    }
    1
}

fn scales_len(t: &Tensor) -> usize {
    t.quantization.as_ref().map_or(0, |q| q.scale.len())
}
