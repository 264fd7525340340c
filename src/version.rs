//! Op versions and the model's minimum runtime version.
//!
//! The rules follow TFLite's op versioning (`GetBuiltinOperatorVersion`):
//! the version of an op code is chosen from its tensor types, options and
//! quantization, and each (op, version) pair has a minimum runtime. A version
//! that is too high makes delegates and older runtimes reject the op, so the
//! writer always uses the lowest version that describes the op.

mod generated;

use crate::model::{DType, Op, Operator, Subgraph, Tensor, WeightsFormat};

fn tensor<'a>(sg: &'a Subgraph, op: &Operator, i: usize) -> Option<&'a Tensor> {
    op.input(i).and_then(|t| sg.tensor(t))
}

fn in_type(sg: &Subgraph, op: &Operator, i: usize) -> Option<DType> {
    tensor(sg, op, i).map(|t| t.dtype)
}

fn out_type(sg: &Subgraph, op: &Operator, i: usize) -> Option<DType> {
    op.outputs.get(i).and_then(|t| sg.tensor(*t)).map(|t| t.dtype)
}

fn scales_len(t: &Tensor) -> usize {
    t.quantization.as_ref().map_or(0, |q| q.scale.len())
}

fn dim0(t: &Tensor, i: usize) -> Option<u64> {
    t.shape.dim(i).map(|d| u64::from(d.fixed().unwrap_or(1)))
}

fn rank0(sg: &Subgraph, op: &Operator) -> usize {
    tensor(sg, op, 0).map_or(0, |t| t.shape.rank())
}

/// Whether a binary op's two inputs have different shapes and any has rank > 4.
fn broadcast_rank5(sg: &Subgraph, op: &Operator) -> bool {
    let (Some(a), Some(b)) = (tensor(sg, op, 0), tensor(sg, op, 1)) else { return false };
    a.shape.file_shape() != b.shape.file_shape() && a.shape.rank().max(b.shape.rank()) > 4
}

/// The version of one operator, given its subgraph. Custom and opaque
/// builtin ops keep the version they carry.
pub fn op_version(sg: &Subgraph, node: &Operator) -> i32 {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let i1 = in_type(sg, node, 1);
    let o0 = out_type(sg, node, 0);
    let is = |a: Option<DType>, t: DType| a == Some(t);
    match &node.op {
        Op::Conv2d(_) => {
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
        Op::DepthwiseConv2d(o) => {
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
        Op::FullyConnected(o) => {
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
        Op::AveragePool2d(_) | Op::MaxPool2d(_) => {
            if is(i0, I16) && is(o0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Mean { .. } | Op::Softmax { .. } | Op::Relu6 => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Reshape { .. } | Op::HardSwish => 1,
        Op::Transpose => {
            let r = rank0(sg, node);
            if r > 6 || is(i0, BF16) {
                8
            } else if is(i0, I4) {
                7
            } else if r > 5 {
                6
            } else if is(i0, I16) {
                5
            } else if r > 4 {
                4
            } else if is(i0, Bool) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Concatenation(_) => {
            if is(i0, I4) {
                5
            } else if is(i0, U32) {
                4
            } else if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Pad => {
            if is(i0, Bool) {
                5
            } else if rank0(sg, node) > 4 {
                4
            } else if is(i0, I16) {
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
        Op::Relu => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) || is(i0, U8) {
                2
            } else {
                1
            }
        }
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
        Op::LeakyRelu { .. } => {
            if is(i0, I16) { 2 } else { 1 }
        }
        Op::Prelu | Op::Neg => 1,
        Op::Gelu { .. } => {
            if is(i0, I8) || is(i0, U8) { 2 } else { 1 }
        }
        Op::Exp | Op::Sqrt => {
            if is(i0, I8) || is(i0, I16) { 2 } else { 1 }
        }
        Op::Rsqrt | Op::ReduceMax { .. } | Op::MirrorPad { .. } => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
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
        Op::Cast(_) => {
            let either = |t: DType| is(i0, t) || is(o0, t);
            if either(I2) || either(U4) {
                8
            } else if either(BF16) {
                7
            } else if is(i0, I4) && is(o0, F32) {
                6
            } else if either(F64) || either(F16) {
                5
            } else if either(U16) {
                4
            } else if either(I8) {
                3
            } else if either(U32) {
                2
            } else {
                1
            }
        }
        Op::SplitV { .. } | Op::Sum { .. } => {
            if is(i0, I8) { 2 } else { 1 }
        }
        Op::StridedSlice(o) => {
            if o.offset {
                8
            } else if is(i0, U32) {
                7
            } else if o.ellipsis_mask != 0 || o.new_axis_mask != 0 {
                6
            } else if is(i0, String) {
                5
            } else if rank0(sg, node) > 4 {
                4
            } else if is(i0, Bool) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Slice => {
            if is(i0, I4) {
                7
            } else if is(i0, U32) {
                6
            } else if rank0(sg, node) > 4 {
                5
            } else if is(i0, I16) {
                4
            } else if is(i0, String) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Gather(o) => {
            if is(i0, I4) {
                7
            } else if is(i1, I16) {
                6
            } else if o.batch_dims != 0 {
                5
            } else if is(i0, I16) {
                4
            } else if is(i0, Bool) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Squeeze { .. } => {
            if is(i0, String) { 2 } else { 1 }
        }
        Op::ResizeBilinear(o) => {
            if is(i0, I16) {
                4
            } else if o.half_pixel_centers {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::ResizeNearestNeighbor(o) => {
            if is(i0, I16) {
                4
            } else if o.half_pixel_centers || o.align_corners {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
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
        Op::PadV2 => {
            if is(i0, Bool) {
                5
            } else if rank0(sg, node) > 4 {
                4
            } else if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
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
        Op::Greater | Op::LessEqual | Op::LogSoftmax => {
            if is(i0, I8) { 2 } else { 1 }
        }
        Op::Log | Op::ReduceProd { .. } => {
            if is(i0, I8) || is(i0, I16) { 2 } else { 1 }
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
        Op::ArgMax { .. } | Op::ArgMin { .. } => {
            if is(i0, Bool) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::SelectV2 => {
            if is(i0, U32) { 2 } else { 1 }
        }
        Op::FloorMod => {
            if is(i0, I16) || is(i0, I8) { 2 } else { 1 }
        }
        // Version 1 of BROADCAST_TO is reserved (it clashed with a custom
        // op); the builtin starts at 2, with 3 for int8 and int16.
        Op::BroadcastTo => {
            if is(i0, I16) || is(i0, I8) { 3 } else { 2 }
        }
        Op::LogicalAnd | Op::LogicalOr | Op::LogicalNot | Op::Sin | Op::Cos | Op::Pow => 1,
        // TFLite has one version of each control-flow op.
        Op::If { .. } | Op::While { .. } | Op::CallOnce { .. } => 1,
        // op_version.cc: L2_POOL_2D has one version.
        Op::L2Pool2d(_) => 1,
        Op::Custom(c) => c.version,
        Op::Builtin(o) => o.version,
        // The generated ops' rules are in version/generated.rs.
        _ => generated::version(sg, node).unwrap_or(1),
    }
}

/// Per-axis quantization whose scale count equals the quantized dimension.
fn per_axis_on_dim(t: &Tensor) -> bool {
    let Some(q) = &t.quantization else { return false };
    let axis = usize::try_from(q.axis).ok();
    q.scale.len() > 1 && axis.and_then(|a| dim0(t, a)) == Some(q.scale.len() as u64)
}

/// The lowest runtime that has this version of this builtin op, if known.
pub fn min_runtime_for(code: i32, version: i32) -> Option<&'static str> {
    use crate::schema::tflite::BuiltinOperator as B;
    let table: &[&str] = match B(code) {
        B::CONV_2D => &["1.5.0", "1.14.0", "1.14.0", "2.3.0", "2.4.0", "2.9.0", "2.11.0", "2.15.0"],
        B::DEPTHWISE_CONV_2D => &["1.5.0", "1.12.0", "1.14.0", "2.2.0", "2.3.0", "2.3.0", "2.11.0"],
        B::FULLY_CONNECTED => &[
            "1.5.0", "1.10.0", "1.14.0", "1.14.0", "2.0.0", "2.1.0", "2.3.0", "2.3.0", "2.3.0", "2.11.0", "2.15.0",
            "2.17.0", "2.18.0", "2.21.0",
        ],
        B::ADD => &["1.5.0", "1.14.0", "2.4.0", "2.6.0", "2.13.0", "2.23.0"],
        B::SUB => &["1.6.0", "1.14.0", "2.3.0", "2.4.0", "2.4.0"],
        B::MUL => &["1.5.0", "1.14.0", "1.15.0", "2.3.0", "2.6.0", "2.11.0", "2.13.0", "2.23.0"],
        B::DIV => &["1.6.0", "2.3.0"],
        B::AVERAGE_POOL_2D | B::MAX_POOL_2D | B::SOFTMAX => &["1.5.0", "1.14.0", "2.3.0"],
        B::MEAN => &["1.6.0", "1.14.0", "2.4.0"],
        B::RESHAPE => &["1.5.0"],
        B::TRANSPOSE => &["1.6.0", "1.14.0", "1.15.0", "2.3.0", "2.4.0", "2.12.0", "2.14.4", "2.22.0"],
        B::CONCATENATION => &["1.5.0", "1.14.0", "2.3.0", "2.14.0", "2.21.0"],
        B::PAD => &["1.5.0", "1.14.0", "2.4.0", "2.6.0", "2.20.0"],
        B::LOGISTIC | B::TANH => &["1.14.0", "1.14.0", "2.3.0"],
        B::RELU => &["1.5.0", "2.1.0", "2.5.0"],
        B::RELU6 => &["1.5.0", "1.14.0", "2.5.0"],
        B::HARD_SWISH => &["1.15.0"],
        B::QUANTIZE => &["1.14.0", "1.15.0", "2.7.0", "2.21.0", "2.21.0", "2.21.0"],
        B::DEQUANTIZE => &["1.13.1", "1.14.0", "1.15.0", "2.2.0", "2.7.0", "2.18.0", "2.21.0", "2.22.0"],
        B::MAXIMUM | B::MINIMUM => &["1.14.0", "1.14.0", "2.3.0", "2.3.0"],
        B::LEAKY_RELU => &["1.13.1", "2.3.0"],
        B::PRELU => &["1.8.0"],
        B::GELU => &["2.9.0", "2.9.0"],
        B::EXP => &["1.7.0", "2.12.0"],
        B::SQRT => &["1.10.0", "2.21.0"],
        B::RSQRT => &["1.10.0", "2.5.0", "2.15.0"],
        B::NEG => &["1.9.0"],
        B::ABS => &["1.13.0", "2.4.0", "2.5.0", "2.6.0", "2.12.0"],
        B::CAST => &["1.5.0", "2.7.0", "2.8.0", "2.9.0", "2.12.0", "2.15.0", "2.17.0", "2.21.0"],
        B::SPLIT_V => &["1.13.1", "2.3.0"],
        B::STRIDED_SLICE => &["1.6.0", "1.14.0", "2.1.0", "2.2.0", "2.5.0", "2.6.0", "2.14.0", "2.14.0"],
        B::SLICE => &["1.14.0", "1.14.0", "1.14.0", "2.4.0", "2.5.0", "2.14.0", "2.21.0"],
        B::GATHER => &["1.6.0", "1.14.0", "1.15.0", "2.4.0", "2.5.0", "2.13.0", "2.15.0"],
        B::SQUEEZE => &["1.6.0", "2.5.0"],
        B::RESIZE_BILINEAR => &["1.7.0", "1.14.0", "2.2.0", "2.5.0"],
        B::RESIZE_NEAREST_NEIGHBOR => &["1.13.1", "1.14.0", "2.3.0", "2.4.0"],
        B::TRANSPOSE_CONV => &["1.9.0", "2.2.0", "2.3.0", "2.13.0", "2.15.0"],
        B::BATCH_MATMUL => &["2.3.0", "2.3.0", "2.4.0", "2.5.0"],
        B::REDUCE_MAX => &["1.11.0", "1.14.0", "2.5.0"],
        B::SUM => &["1.10.0", "1.15.0"],
        B::PADV2 => &["1.9.0", "1.14.0", "2.4.0", "2.6.0", "2.20.0"],
        B::MIRROR_PAD => &["1.13.1", "2.3.0", "2.12.0"],
        B::EQUAL => &["1.14.0", "1.14.0", "2.3.0"],
        B::NOT_EQUAL => &["1.14.0", "1.14.0", "2.3.0"],
        B::LESS | B::GREATER_EQUAL => &["1.14.0", "1.14.0"],
        B::GREATER | B::LESS_EQUAL => &["1.14.0", "1.14.0"],
        B::LOGICAL_AND | B::LOGICAL_OR | B::LOGICAL_NOT => &["1.11.0"],
        B::SELECT_V2 => &["2.2.0"],
        B::LOG => &["1.14.0"],
        B::SIN => &["1.9.0"],
        B::COS => &["1.14.0"],
        B::POW => &["1.10.0"],
        B::LOG_SOFTMAX => &["1.14.0", "1.14.0"],
        B::REDUCE_MIN => &["1.11.0", "1.14.0", "2.5.0"],
        B::REDUCE_PROD => &["1.11.0", "2.6.0"],
        B::ARG_MAX | B::ARG_MIN => &["1.9.0", "1.14.0", "2.9.0"],
        B::BROADCAST_TO => &["2.5.0", "2.5.0", "2.5.0"],
        B::FLOOR_MOD => &["1.13.0"],
        B::IF | B::WHILE => &["1.15.0"],
        B::CALL_ONCE => &["2.5.0"],
        B::L2_POOL_2D => &["1.5.0"],
        _ => generated::min_runtime_table(code)?,
    };
    usize::try_from(version).ok().and_then(|v| v.checked_sub(1)).and_then(|i| table.get(i)).copied()
}

/// Compares dotted version strings numerically (`"1.14.0" < "2.3.0"`).
pub fn compare_runtime(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |s: &str| s.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parse(a).cmp(&parse(b))
}

/// The lowest runtime version that runs every op in the model, as written
/// to the `min_runtime_version` metadata. Ops without a known entry are
/// skipped; a model without any gives `None`.
pub fn min_runtime_version(model: &crate::Model) -> Option<&'static str> {
    let mut best: Option<&'static str> = None;
    for sg in &model.subgraphs {
        for node in &sg.operators {
            let v = op_version(sg, node);
            if let Some(r) = min_runtime_for(node.op.builtin_code(), v)
                && best.is_none_or(|b| compare_runtime(b, r).is_lt()) {
                    best = Some(r);
                }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_table_lookup() {
        assert_eq!(min_runtime_for(3, 1), Some("1.5.0"));
        assert_eq!(min_runtime_for(3, 3), Some("1.14.0"));
        assert_eq!(min_runtime_for(3, 0), None);
        assert_eq!(min_runtime_for(3, 99), None);
        assert!(compare_runtime("1.14.0", "2.3.0").is_lt());
        assert!(compare_runtime("1.9.0", "1.14.0").is_lt());
    }

    use crate::model::{
        AddSubOptions, BatchMatMulOptions, Conv2dOptions, DepthwiseConv2dOptions, FullyConnectedOptions, Quantization, Shape, TensorId,
    };

    /// One op reading tensors of the given (type, shape, scale count, axis)
    /// and writing one of the given type.
    fn version_of(op: Op, inputs: &[(DType, &[u32], usize, i32)], out: DType) -> i32 {
        let mut sg = Subgraph::default();
        for (i, (dtype, shape, scales, axis)) in inputs.iter().enumerate() {
            let mut t = Tensor::new(format!("t{i}"), *dtype, Shape::new(shape.iter().copied()));
            if *scales > 0 {
                t.quantization = Some(Quantization::per_axis(vec![0.5; *scales], vec![0; *scales], *axis));
            }
            sg.tensors.push(t);
        }
        sg.tensors.push(Tensor::new("out", out, Shape::new([1])));
        let ids: Vec<TensorId> = (0..inputs.len() as u32).map(TensorId).collect();
        let node = Operator::new(op, &ids, &[TensorId(inputs.len() as u32)]);
        op_version(&sg, &node)
    }

    #[test]
    fn hybrid_versions() {
        use DType::*;
        let conv = || Op::Conv2d(Conv2dOptions::default());
        let x: &[u32] = &[1, 8, 8, 4];
        // CONV_2D: hybrid per channel 5, per tensor 2.
        assert_eq!(version_of(conv(), &[(F32, x, 0, 0), (I8, &[6, 3, 3, 4], 6, 0), (F32, &[6], 0, 0)], F32), 5);
        assert_eq!(version_of(conv(), &[(F32, x, 0, 0), (I8, &[6, 3, 3, 4], 1, 0), (F32, &[6], 0, 0)], F32), 2);
        // DEPTHWISE_CONV_2D: per channel (axis 3) 6, per tensor 4.
        let dw = || Op::DepthwiseConv2d(DepthwiseConv2dOptions::default());
        assert_eq!(version_of(dw(), &[(F32, x, 0, 0), (I8, &[1, 3, 3, 4], 4, 3), (F32, &[4], 0, 0)], F32), 6);
        assert_eq!(version_of(dw(), &[(F32, x, 0, 0), (I8, &[1, 3, 3, 4], 1, 0), (F32, &[4], 0, 0)], F32), 4);
        // FULLY_CONNECTED: per channel 12; per tensor 9 with asymmetric
        // inputs, else 3 (one unit with one scale is per tensor).
        let asym = FullyConnectedOptions { asymmetric_quantize_inputs: true, ..Default::default() };
        let fc = |o| Op::FullyConnected(o);
        let b: (DType, &[u32], usize, i32) = (F32, &[5], 0, 0);
        assert_eq!(version_of(fc(asym), &[(F32, &[1, 8], 0, 0), (I8, &[5, 8], 5, 0), b], F32), 12);
        assert_eq!(version_of(fc(asym), &[(F32, &[1, 8], 0, 0), (I8, &[5, 8], 1, 0), b], F32), 9);
        assert_eq!(version_of(fc(asym), &[(F32, &[1, 8], 0, 0), (I8, &[1, 8], 1, 0), (F32, &[1], 0, 0)], F32), 9);
        assert_eq!(version_of(fc(FullyConnectedOptions::default()), &[(F32, &[1, 8], 0, 0), (I8, &[5, 8], 1, 0), b], F32), 3);
        // BATCH_MATMUL: hybrid with asymmetric inputs 4, without 1.
        let mut bmm = BatchMatMulOptions::default();
        assert_eq!(version_of(Op::BatchMatMul(bmm), &[(F32, &[2, 8], 0, 0), (I8, &[8, 4], 1, 0)], F32), 1);
        bmm.asymmetric_quantize_inputs = true;
        assert_eq!(version_of(Op::BatchMatMul(bmm), &[(F32, &[2, 8], 0, 0), (I8, &[8, 4], 1, 0)], F32), 4);
        assert_eq!(min_runtime_for(crate::schema::tflite::BuiltinOperator::FULLY_CONNECTED.0, 12), Some("2.17.0"));
    }

    #[test]
    fn int16x8_versions() {
        use DType::*;
        let x: &[u32] = &[1, 8, 8, 4];
        // CONV_2D and FULLY_CONNECTED always write their options, whose
        // quantized_bias_type counts (8 and 11); TFLite's depthwise int16
        // rule never matches (it compares the weights with int16), so 1.
        let conv = Op::Conv2d(Conv2dOptions::default());
        assert_eq!(version_of(conv, &[(I16, x, 1, 0), (I8, &[6, 3, 3, 4], 6, 0), (I64, &[6], 6, 0)], I16), 8);
        let fc = Op::FullyConnected(FullyConnectedOptions::default());
        assert_eq!(version_of(fc, &[(I16, &[1, 8], 1, 0), (I8, &[5, 8], 5, 0), (I64, &[5], 5, 0)], I16), 11);
        let dw = Op::DepthwiseConv2d(DepthwiseConv2dOptions::default());
        assert_eq!(version_of(dw, &[(I16, x, 1, 0), (I8, &[1, 3, 3, 4], 4, 3), (I64, &[4], 4, 0)], I16), 1);
        // ADD with general int16 scales 3 (power-of-two scales 1).
        let mut add = AddSubOptions::default();
        assert_eq!(version_of(Op::Add(add), &[(I16, x, 1, 0), (I16, x, 1, 0)], I16), 1);
        add.pot_scale_int16 = false;
        assert_eq!(version_of(Op::Add(add), &[(I16, x, 1, 0), (I16, x, 1, 0)], I16), 3);
        assert_eq!(version_of(Op::Sub(add), &[(I16, x, 1, 0), (I16, x, 1, 0)], I16), 5);
        assert_eq!(version_of(Op::Softmax { beta: 1.0 }, &[(I16, &[1, 4], 1, 0)], I16), 3);
        assert_eq!(version_of(Op::Logistic, &[(I16, &[1, 4], 1, 0)], I16), 3);
        assert_eq!(version_of(Op::Quantize, &[(F32, &[1, 4], 0, 0)], I16), 2);
        assert_eq!(version_of(Op::Dequantize, &[(I16, &[1, 4], 1, 0)], F32), 3);
    }

    #[test]
    fn comparison_logic_and_broadcast_versions() {
        use DType::*;
        let x: &[u32] = &[2, 3];
        let v = |op: Op, t: DType| version_of(op, &[(t, x, 0, 0), (t, x, 0, 0)], Bool);
        assert_eq!(v(Op::Equal, F32), 1);
        assert_eq!(v(Op::Equal, I8), 2);
        assert_eq!(v(Op::Equal, String), 3);
        assert_eq!(v(Op::Equal, I16), 4);
        assert_eq!(v(Op::NotEqual, Bool), 1);
        assert_eq!(v(Op::Less, I16), 3);
        assert_eq!(v(Op::Greater, I8), 2);
        assert_eq!(v(Op::Greater, I16), 1);
        assert_eq!(v(Op::LogicalAnd, Bool), 1);
        assert_eq!(version_of(Op::ArgMax { output_type: I64 }, &[(Bool, x, 0, 0), (I32, &[1], 0, 0)], I64), 3);
        assert_eq!(version_of(Op::ReduceProd { keep_dims: false }, &[(I16, x, 1, 0), (I32, &[1], 0, 0)], I16), 2);
        // BROADCAST_TO starts at version 2 (version 1 was withdrawn).
        assert_eq!(version_of(Op::BroadcastTo, &[(F32, x, 0, 0), (I32, &[2], 0, 0)], F32), 2);
        assert_eq!(version_of(Op::BroadcastTo, &[(I8, x, 1, 0), (I32, &[2], 0, 0)], I8), 3);
        assert_eq!(min_runtime_for(crate::schema::tflite::BuiltinOperator::BROADCAST_TO.0, 2), Some("2.5.0"));
        assert_eq!(min_runtime_for(crate::schema::tflite::BuiltinOperator::SELECT_V2.0, 1), Some("2.2.0"));
    }
}
