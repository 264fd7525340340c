//! What tells the full-integer schemes apart: the activation and bias
//! types, the ops with kernels, the fixed output parameters, and the option
//! changes the kernels need. [`super::full`] does the rest for all of them.

use super::params::asymmetric_i8;
use crate::model::{DType, Op};

/// A full-integer quantization scheme (int8, or 16x8).
#[derive(Debug, Clone, Copy)]
pub(super) struct Scheme {
    /// The name used in messages ("int8", "int16x8").
    pub(super) name: &'static str,
    /// The element type of activations.
    pub(super) activation: DType,
    /// The element type of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and
    /// FULLY_CONNECTED biases.
    pub(super) bias: DType,
    /// Whether FULLY_CONNECTED weights get one scale per output unit (when
    /// per-channel weights are asked for).
    pub(super) fc_per_channel: bool,
    /// Whether the op has a kernel in this scheme (on top of the ops
    /// [`super::full`] knows how to quantize).
    pub(super) has_kernel: fn(&Op) -> bool,
    /// Output parameters a kernel requires.
    pub(super) fixed_output: fn(&Op) -> Option<(f32, i64)>,
    /// Activation parameters `(scale, zero_point)` covering a float range.
    pub(super) activation_params: fn(f32, f32) -> (f32, i64),
    /// Changes to the options of a quantized op.
    pub(super) adjust: fn(&mut Op),
}

/// Full int8: asymmetric int8 activations, int32 biases, per-channel
/// FULLY_CONNECTED weights (along axis 0, the output units), which
/// LiteRT's int8 kernel takes (`tflite/kernels/fully_connected.cc`, Prepare:
/// "per-channel quantization is applied along the output dimension") as
/// does XNNPACK (`VisitFullyConnectedNode`, quantized dimension 0), at the
/// same version 4 (`op_version.cc` has no per-channel rule for int8).
pub(super) const INT8: Scheme = Scheme {
    name: "int8",
    activation: DType::I8,
    bias: DType::I32,
    fc_per_channel: true,
    has_kernel: |_| true,
    fixed_output: |op| match op {
        Op::Softmax { .. } | Op::Logistic => Some((1.0 / 256.0, -128)),
        Op::Tanh => Some((1.0 / 128.0, 0)),
        // activations.cc, LogSoftmaxPrepare: output scale 16/256, zero
        // point 127 (the range [-16, 0)).
        Op::LogSoftmax => Some((16.0 / 256.0, 127)),
        _ => None,
    },
    activation_params: asymmetric_i8,
    adjust: |_| {},
};
