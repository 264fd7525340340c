//! The 16x8 scheme: int16 activations, int8 weights, int64 biases.
//!
//! What the TFLite kernels require:
//! - activations are symmetric (zero point 0) with `scale = max|x| / 32767`
//!   (the 16x8 CONV_2D, FULLY_CONNECTED, BATCH_MATMUL, SOFTMAX, LOGISTIC and
//!   TANH kernels check the zero points);
//! - CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and FULLY_CONNECTED take an
//!   int64 bias at `input_scale × weight_scale` (CONV_2D and
//!   FULLY_CONNECTED also accept int32, but int64 cannot overflow the
//!   accumulator; `quantized_bias_type` records the choice, as TensorFlow's
//!   converter does);
//! - SOFTMAX, LOGISTIC and TANH write `scale = 1/32768`, zero point 0;
//! - ADD and SUB use the general int16 kernel (`pot_scale_int16 = false`),
//!   as the calibrated scales are not powers of two.
//!
//! Ops without an int16 kernel (HARD_SWISH, ELU, PRELU, DEPTH_TO_SPACE, ...)
//! stay in float (or, with `integer_only`, make [`super::quantize`] fail
//! with [`super::QuantizeError::Unsupported`]).

use super::params::symmetric_i16;
use super::scheme::Scheme;
use crate::model::{DType, Op};

/// Whether TFLite has a 16x8 kernel for the op. Only ops that
/// [`super::full`] can quantize get here, so this names the exceptions,
/// from the kernels' type checks in LiteRT (`tflite/kernels/`):
/// HARD_SWISH and ELU evaluate float32, uint8 and int8 only
/// (activations.cc, `HardSwishEval`, `EluEval`); LOG_SOFTMAX quantizes
/// uint8 and int8 only (`LogSoftmaxPrepare`); DEPTH_TO_SPACE and
/// SPACE_TO_DEPTH accept no int16 (`Prepare`'s type list); PRELU's int16
/// kernel takes int8 alphas, which the scheme's activation type cannot
/// give a value operand; UNIDIRECTIONAL_SEQUENCE_LSTM's integer kernel
/// takes int8 input only (`unidirectional_sequence_lstm.cc`, `is_integer`);
/// ONE_HOT's Eval and SPARSE_TO_DENSE's Prepare take no int16 (one_hot.cc,
/// sparse_to_dense.cc).
fn has_kernel(op: &Op) -> bool {
    !matches!(
        op,
        Op::HardSwish | Op::Elu | Op::LogSoftmax | Op::Prelu | Op::DepthToSpace(_) | Op::SpaceToDepth(_) | Op::UnidirectionalSequenceLstm(_) | Op::OneHot(_) | Op::SparseToDense(_)
    )
}

fn fixed_output(op: &Op) -> Option<(f32, i64)> {
    match op {
        Op::Softmax { .. } | Op::Logistic | Op::Tanh => Some((1.0 / 32768.0, 0)),
        _ => None,
    }
}

fn adjust(op: &mut Op) {
    match op {
        Op::Add(o) | Op::Sub(o) => o.pot_scale_int16 = false,
        Op::Conv2d(o) => o.quantized_bias_type = Some(DType::I64),
        Op::FullyConnected(o) => o.quantized_bias_type = Some(DType::I64),
        Op::TransposeConv(o) => o.quantized_bias_type = Some(DType::I64),
        _ => {}
    }
}

/// The 16x8 scheme.
pub(super) const INT16X8: Scheme = Scheme {
    name: "int16x8",
    activation: DType::I16,
    bias: DType::I64,
    fc_per_channel: true,
    has_kernel,
    fixed_output,
    activation_params: symmetric_i16,
    adjust,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AddSubOptions;

    #[test]
    fn kernels_and_options() {
        assert!(has_kernel(&Op::Softmax { beta: 1.0 }));
        assert!(!has_kernel(&Op::HardSwish));
        assert!(!has_kernel(&Op::Prelu));
        assert!(!has_kernel(&Op::Elu));
        assert!(!has_kernel(&Op::OneHot(Default::default())) && !has_kernel(&Op::SparseToDense(Default::default())));
        assert!(has_kernel(&Op::SelectV2));
        assert!(has_kernel(&Op::TopkV2) && has_kernel(&Op::Exp) && has_kernel(&Op::Gelu { approximate: false }));
        assert_eq!(fixed_output(&Op::Tanh), Some((1.0 / 32768.0, 0)));
        let mut add = Op::Add(AddSubOptions::default());
        adjust(&mut add);
        assert!(matches!(add, Op::Add(o) if !o.pot_scale_int16));
    }
}
