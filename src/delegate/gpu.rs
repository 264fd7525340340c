//! The GPU delegate's rules, after `CheckGpuDelegateCompatibility` in
//! `tflite/tools/versioning/gpu_compatibility.cc` (the offline check, with
//! enhanced broadcasting as that entry point assumes).
//!
//! Input counts follow the file's convention: a "runtime" input is present
//! and not a constant.

use super::context::{activation, option, Check, Node};
use super::{Reason, TensorRef};
use crate::model::{Activation, DType, MirrorPadMode, Op, Tensor};
use crate::schema::tflite::BuiltinOperator as B;

use TensorRef::{Input as In, Output as Out};

type Rule = fn(&Node) -> Check;

/// The table: (op, the `case` or helper of gpu_compatibility.cc, rule).
const RULES: &[(B, &str, Rule)] = &[
    (B::ADD, "case kTfLiteBuiltinAdd", add),
    (B::ADD_N, "case kTfLiteBuiltinAddN", add_n),
    (B::AVERAGE_POOL_2D, "CheckPooling2DGpuDelegateCompatibility", pool),
    (B::MAX_POOL_2D, "CheckPooling2DGpuDelegateCompatibility", pool),
    (B::BATCH_MATMUL, "case kTfLiteBuiltinBatchMatmul", batch_matmul),
    (B::CAST, "case kTfLiteBuiltinCast", cast),
    (B::CONCATENATION, "case kTfLiteBuiltinConcatenation", ok),
    (B::CONV_2D, "case kTfLiteBuiltinConv2d", conv2d),
    (B::CUMSUM, "CheckCumsumGpuDelegateCompatibility", cumsum),
    (B::DENSIFY, "case kTfLiteBuiltinDensify", densify),
    (B::DEPTHWISE_CONV_2D, "CheckDepthwiseConvGpuDelegateCompatibility", depthwise),
    (B::DEPTH_TO_SPACE, "case kTfLiteBuiltinDepthToSpace", depth_to_space),
    (B::DEQUANTIZE, "case kTfLiteBuiltinDequantize", dequantize),
    (B::FULLY_CONNECTED, "case kTfLiteBuiltinFullyConnected", fully_connected),
    (B::GATHER, "case kTfLiteBuiltinGather", gather),
    (B::HARD_SWISH, "case kTfLiteBuiltinHardSwish", one_runtime_input),
    (B::MEAN, "case kTfLiteBuiltinMean", reduce),
    (B::MUL, "case kTfLiteBuiltinMul", mul),
    (B::PACK, "case kTfLiteBuiltinPack", ok),
    (B::QUANTIZE, "case kTfLiteBuiltinQuantize", one_runtime_input),
    (B::RELU_N1_TO_1, "case kTfLiteBuiltinReluN1To1", ok),
    (B::PRELU, "case kTfLiteBuiltinPrelu", ok),
    (B::RESHAPE, "case kTfLiteBuiltinReshape", one_runtime_input),
    (B::SELECT, "CheckSelectV2GpuDelegateCompatibility", select_v2),
    (B::SELECT_V2, "CheckSelectV2GpuDelegateCompatibility", select_v2),
    (B::SLICE, "case kTfLiteBuiltinSlice", slice),
    (B::SOFTMAX, "case kTfLiteBuiltinSoftmax", softmax),
    (B::SPACE_TO_DEPTH, "case kTfLiteBuiltinSpaceToDepth", space_to_depth),
    (B::SPLIT, "case kTfLiteBuiltinSplit", ok),
    (B::SPLIT_V, "case kTfLiteBuiltinSplitV", ok),
    (B::STRIDED_SLICE, "case kTfLiteBuiltinStridedSlice", strided_slice),
    (B::TILE, "case kTfLiteBuiltinTile", one_runtime_input),
    (B::TOPK_V2, "case kTfLiteBuiltinTopkV2", topk),
    (B::TRANSPOSE, "case kTfLiteBuiltinTranspose", one_runtime_input),
    (B::TRANSPOSE_CONV, "case kTfLiteBuiltinTransposeConv", transpose_conv),
    (B::RESIZE_BILINEAR, "case kTfLiteBuiltinResizeBilinear", resize_bilinear),
    (B::RESIZE_NEAREST_NEIGHBOR, "case kTfLiteBuiltinResizeNearestNeighbor", one_runtime_input),
    (B::RELU, "case kTfLiteBuiltinRelu", ok),
    (B::RELU6, "case kTfLiteBuiltinRelu6", ok),
    (B::LEAKY_RELU, "case kTfLiteBuiltinLeakyRelu", ok),
    (B::REDUCE_ALL, "case kTfLiteBuiltinReduceAll", reduce),
    (B::REDUCE_ANY, "case kTfLiteBuiltinReduceAny", reduce),
    (B::REDUCE_MAX, "case kTfLiteBuiltinReduceMax", reduce),
    (B::REDUCE_MIN, "case kTfLiteBuiltinReduceMin", reduce),
    (B::REDUCE_PROD, "case kTfLiteBuiltinReduceProd", reduce),
    (B::SUM, "case kTfLiteBuiltinSum", reduce),
    (B::PAD, "case kTfLiteBuiltinPad", pad),
    (B::PADV2, "case kTfLiteBuiltinPadv2", pad),
    (B::MIRROR_PAD, "case kTfLiteBuiltinMirrorPad", pad),
    (B::REVERSE_V2, "case kTfLiteBuiltinReverseV2", reduce),
    (B::ABS, "one-argument elementwise", unary),
    (B::CEIL, "one-argument elementwise", unary),
    (B::COS, "one-argument elementwise", unary),
    (B::ELU, "one-argument elementwise", unary),
    (B::EXP, "one-argument elementwise", unary),
    (B::FLOOR, "one-argument elementwise", unary),
    (B::GELU, "one-argument elementwise", unary),
    (B::LOG, "one-argument elementwise", unary),
    (B::LOGICAL_NOT, "one-argument elementwise", unary),
    (B::LOGISTIC, "one-argument elementwise", unary),
    (B::NEG, "one-argument elementwise", unary),
    (B::ROUND, "one-argument elementwise", unary),
    (B::RSQRT, "one-argument elementwise", unary),
    (B::SIGN, "one-argument elementwise", unary),
    (B::SIN, "one-argument elementwise", unary),
    (B::SQRT, "one-argument elementwise", unary),
    (B::SQUARE, "one-argument elementwise", unary),
    (B::TANH, "one-argument elementwise", unary),
    (B::ATAN2, "two-argument elementwise", binary),
    (B::DIV, "two-argument elementwise", binary),
    (B::EQUAL, "two-argument elementwise", binary),
    (B::FLOOR_DIV, "two-argument elementwise", binary),
    (B::FLOOR_MOD, "two-argument elementwise", binary),
    (B::GREATER, "two-argument elementwise", binary),
    (B::GREATER_EQUAL, "two-argument elementwise", binary),
    (B::LOGICAL_AND, "two-argument elementwise", binary),
    (B::LOGICAL_OR, "two-argument elementwise", binary),
    (B::LESS, "two-argument elementwise", binary),
    (B::LESS_EQUAL, "two-argument elementwise", binary),
    (B::MAXIMUM, "two-argument elementwise", binary),
    (B::MINIMUM, "two-argument elementwise", binary),
    (B::NOT_EQUAL, "two-argument elementwise", binary),
    (B::POW, "two-argument elementwise", binary),
    (B::RIGHT_SHIFT, "two-argument elementwise", binary),
    (B::STABLEHLO_REMAINDER, "two-argument elementwise", binary),
    (B::STABLEHLO_SHIFT_LEFT, "two-argument elementwise", binary),
    (B::SQUARED_DIFFERENCE, "two-argument elementwise", binary),
    (B::SUB, "two-argument elementwise", binary),
    (B::STABLEHLO_CBRT, "case kTfLiteBuiltinStablehloCbrt", cbrt),
];

/// The source file the table follows.
pub(crate) const SOURCE: &str = "tflite/tools/versioning/gpu_compatibility.cc";

/// The rule of a builtin code, with the part of the source it follows.
pub(crate) fn rule(code: i32) -> Option<(&'static str, Rule)> {
    RULES.iter().find(|(b, _, _)| b.0 == code).map(|(_, s, r)| (*s, *r))
}

/// One node's verdict.
pub(crate) fn judge(n: &Node) -> Check {
    if matches!(n.op.op, Op::Custom(_)) {
        // CheckCustomOpsGpuDelegateCompatibility knows MediaPipe's
        // Convolution2DTransposeBias, MaxPoolingWithArgmax2D and
        // TransformLandmarks / TransformTensorBilinear.
        return custom(n);
    }
    match rule(n.op.op.builtin_code()) {
        Some((_, r)) => r(n),
        None => Err(Reason::OpNotSupported),
    }
}

// ---- shared predicates ----

fn runtime_inputs(n: &Node) -> usize {
    (0..n.num_inputs()).filter(|&i| n.input(i).is_some_and(|t| !t.is_constant())).count()
}

fn const_inputs(n: &Node) -> usize {
    (0..n.num_inputs()).filter(|&i| n.is_const(i)).count()
}

/// `CheckInputsOutputs`.
fn inputs_outputs(n: &Node, runtime: usize, outputs: usize) -> Check {
    let r = runtime_inputs(n);
    if r != runtime {
        return Err(Reason::Arity { detail: format!("{r} runtime (non-constant) inputs, takes {runtime}") });
    }
    if n.num_outputs() != outputs {
        return Err(Reason::Arity { detail: format!("{} outputs, takes {outputs}", n.num_outputs()) });
    }
    Ok(())
}

/// `CheckInputsConstsOutputs`.
fn inputs_consts_outputs(n: &Node, runtime: usize, consts: usize, outputs: usize) -> Check {
    let c = const_inputs(n);
    if c != consts {
        return Err(Reason::Arity { detail: format!("{c} constant inputs, takes {consts}") });
    }
    inputs_outputs(n, runtime, outputs)
}

/// `IsActivationSupported`: everything but the sign bit.
fn act(a: Activation) -> Check {
    activation(a, &[Activation::None, Activation::Relu, Activation::ReluN1To1, Activation::Relu6, Activation::Tanh])
}

fn strides(h: i32, w: i32) -> Check {
    if h <= 0 || w <= 0 {
        return Err(option("stride", format!("{h}x{w} is not positive")));
    }
    Ok(())
}

fn dilation(h: i32, w: i32) -> Check {
    if h <= 0 || w <= 0 {
        return Err(option("dilation", format!("{h}x{w} is not positive")));
    }
    Ok(())
}

/// `CheckConvolutionInputOutput`: one or two runtime inputs, one output.
fn conv_io(n: &Node) -> Check {
    let r = runtime_inputs(n);
    if !(1..=2).contains(&r) {
        return Err(Reason::Arity { detail: format!("{r} runtime inputs, takes 1 or 2") });
    }
    if n.num_outputs() != 1 {
        return Err(Reason::Arity { detail: format!("{} outputs, takes 1", n.num_outputs()) });
    }
    if r == 1 {
        n.need_input(1)?;
    }
    Ok(())
}

fn dims(t: &Tensor) -> Vec<i64> {
    t.shape.dims().iter().map(|d| i64::from(d.fixed().unwrap_or(1))).collect()
}

/// `CheckIsBroadcastable` under enhanced broadcasting.
fn broadcastable(a: &[i64], b: &[i64]) -> bool {
    a.iter().rev().zip(b.iter().rev()).all(|(x, y)| x == y || *x == 1 || *y == 1)
}

/// `CheckAddMulBroadcastCompatibility`.
fn add_mul_broadcast(n: &Node) -> Check {
    let (a, b) = (dims(n.need_input(0)?), dims(n.need_input(1)?));
    if a.len() > 1 && b.len() > 1 && a.len() != b.len() && !broadcastable(&a, &b) {
        return Err(Reason::Shape { tensor: In(1), detail: format!("{a:?} and {b:?} do not broadcast") });
    }
    Ok(())
}

/// `CheckAxesAreInt32Const`.
fn axes_int32_const(n: &Node, i: usize) -> Check {
    n.need_const(i)?;
    n.dtype(In(i), "int32", |t| t.dtype == DType::I32)
}

fn wrong_options() -> Reason {
    option("options", "options of another op")
}

// ---- the rules ----

fn ok(_: &Node) -> Check {
    Ok(())
}

fn add(n: &Node) -> Check {
    if n.num_inputs() != 2 {
        return Err(Reason::Arity { detail: "takes two inputs".into() });
    }
    add_mul_broadcast(n)
}

fn add_n(n: &Node) -> Check {
    if n.num_inputs() != 2 {
        return Err(Reason::Arity { detail: format!("{} inputs, takes 2", n.num_inputs()) });
    }
    Ok(())
}

fn mul(n: &Node) -> Check {
    if n.num_inputs() != 2 {
        return Err(Reason::Arity { detail: "takes two inputs".into() });
    }
    if n.need_input(0)?.shape.rank() != n.need_input(1)?.shape.rank() {
        add_mul_broadcast(n)?;
    }
    let Op::Mul(a) = n.op.op else { return Err(wrong_options()) };
    act(a)
}

fn pool(n: &Node) -> Check {
    inputs_outputs(n, 1, 1)?;
    let (Op::AveragePool2d(o) | Op::MaxPool2d(o)) = &n.op.op else { return Err(wrong_options()) };
    if o.filter_h <= 0 || o.filter_w <= 0 {
        return Err(option("filter", "not positive"));
    }
    strides(o.stride_h, o.stride_w)?;
    act(o.activation)
}

fn batch_matmul(n: &Node) -> Check {
    n.arity(2, 2, 1, 1)
}

fn cast(n: &Node) -> Check {
    inputs_outputs(n, 1, 1)?;
    let (i, o) = (n.need_input(0)?.dtype, n.need_output(0)?.dtype);
    use DType::*;
    let okay = (i == Bool && matches!(o, F16 | F32)) || (matches!(i, F16 | F32) && o == Bool) || (matches!(i, F32 | I32) && matches!(o, F32 | I32));
    if okay {
        Ok(())
    } else {
        Err(Reason::Dtype { tensor: Out(0), dtype: o, expected: "bool <-> float, or float32 <-> int32" })
    }
}

fn conv2d(n: &Node) -> Check {
    conv_io(n)?;
    let Op::Conv2d(o) = &n.op.op else { return Err(wrong_options()) };
    strides(o.stride_h, o.stride_w)?;
    dilation(o.dilation_h, o.dilation_w)?;
    act(o.activation)
}

fn cumsum(n: &Node) -> Check {
    n.arity(2, 2, 1, 1)?;
    // The rest of CheckCumsumGpuDelegateCompatibility: float input, int32
    // constant axis.
    n.dtype(In(0), "float32 or float16", |t| matches!(t.dtype, DType::F32 | DType::F16))?;
    n.need_const(1)?;
    n.dtype(In(1), "int32", |t| t.dtype == DType::I32)
}

fn densify(n: &Node) -> Check {
    inputs_outputs(n, 0, 1)
}

fn depthwise(n: &Node) -> Check {
    conv_io(n)?;
    let Op::DepthwiseConv2d(o) = &n.op.op else { return Err(wrong_options()) };
    strides(o.stride_h, o.stride_w)?;
    dilation(o.dilation_h, o.dilation_w)?;
    act(o.activation)?;
    n.rank(In(0), 4, 4, "4")?;
    n.rank(In(1), 4, 4, "4")?;
    n.rank(Out(0), 4, 4, "4")?;
    let (i, f, out) = (dims(n.need_input(0)?), dims(n.need_input(1)?), dims(n.need_output(0)?));
    if i[0] != out[0] {
        return Err(Reason::Shape { tensor: Out(0), detail: "batch differs from the input's".into() });
    }
    if f[3] != out[3] {
        return Err(Reason::Shape { tensor: In(1), detail: "filter channels differ from the output's".into() });
    }
    if out[3] != i[3] * i64::from(o.depth_multiplier) {
        return Err(option("depth_multiplier", "output channels are not input channels times the multiplier"));
    }
    if let Some(b) = n.input(2) {
        if b.shape.num_elements() != Some(out[3] as u64) {
            return Err(Reason::Shape { tensor: In(2), detail: "not one bias per output channel".into() });
        }
    }
    Ok(())
}

fn depth_to_space(n: &Node) -> Check {
    inputs_outputs(n, 1, 1)?;
    let Op::DepthToSpace(o) = &n.op.op else { return Err(wrong_options()) };
    if o.block_size <= 1 {
        return Err(option("block_size", format!("{} is not above 1", o.block_size)));
    }
    Ok(())
}

fn space_to_depth(n: &Node) -> Check {
    inputs_outputs(n, 1, 1)?;
    let Op::SpaceToDepth(o) = &n.op.op else { return Err(wrong_options()) };
    if o.block_size <= 1 {
        return Err(option("block_size", format!("{} is not above 1", o.block_size)));
    }
    Ok(())
}

fn dequantize(n: &Node) -> Check {
    n.arity(1, 1, 1, 1)?;
    n.dtype(In(0), "int8, uint8 or float16", |t| t.dtype != DType::I16)
}

fn fully_connected(n: &Node) -> Check {
    if n.num_inputs() == 0 {
        return Err(Reason::Arity { detail: "no input".into() });
    }
    let Op::FullyConnected(o) = &n.op.op else { return Err(wrong_options()) };
    if o.weights_format != crate::model::WeightsFormat::Default {
        return Err(option("weights_format", "not the default layout"));
    }
    if runtime_inputs(n) > 2 {
        return Err(Reason::Arity { detail: "more than 2 runtime inputs".into() });
    }
    if n.is_const(0) {
        return Err(Reason::NotConstant { tensor: In(0), must_be_constant: false });
    }
    if o.keep_num_dims && n.need_input(0)?.shape.rank() != n.need_output(0)?.shape.rank() {
        return Err(option("keep_num_dims", "input and output ranks differ"));
    }
    Ok(())
}

fn gather(n: &Node) -> Check {
    if inputs_consts_outputs(n, 2, 0, 1).is_err() && inputs_consts_outputs(n, 1, 1, 1).is_err() {
        return Err(Reason::Arity { detail: "takes one or two operands and one output".into() });
    }
    n.rank(In(1), 1, 1, "1")?;
    n.dtype(In(1), "int32", |t| t.dtype == DType::I32)
}

fn one_runtime_input(n: &Node) -> Check {
    inputs_outputs(n, 1, 1)
}

fn reduce(n: &Node) -> Check {
    inputs_consts_outputs(n, 1, 1, 1)?;
    axes_int32_const(n, 1)
}

fn select_v2(n: &Node) -> Check {
    n.arity(3, 3, 1, 1)?;
    n.dtype(In(0), "bool, float32 or float16", |t| matches!(t.dtype, DType::Bool | DType::F16 | DType::F32))?;
    let out = dims(n.need_output(0)?);
    let cond = dims(n.need_input(0)?);
    let bad = || Reason::Shape { tensor: In(0), detail: "the condition does not broadcast to the output".into() };
    if !cond.is_empty() {
        let off = out.len() as i64 - cond.len() as i64;
        if off < 0 {
            return Err(bad());
        }
        for (i, c) in cond.iter().enumerate() {
            if *c != out[off as usize + i] && *c != 1 {
                return Err(bad());
            }
        }
    }
    for i in [1, 2] {
        let t = n.need_input(i)?;
        let d = dims(t);
        if !d.is_empty() && d != out && (d.len() > 1 || d[0] > 1) {
            return Err(Reason::Shape { tensor: In(i), detail: "neither the output's shape nor a scalar".into() });
        }
        if !t.is_constant() && d.len() == 2 {
            return Err(Reason::NotConstant { tensor: In(i), must_be_constant: true });
        }
    }
    Ok(())
}

fn slice(n: &Node) -> Check {
    if n.num_inputs() < 3 {
        return Err(Reason::Arity { detail: "takes 3 inputs".into() });
    }
    n.rank(In(0), 3, 4, "3 or 4")
}

fn softmax(n: &Node) -> Check {
    let Op::Softmax { beta } = n.op.op else { return Err(wrong_options()) };
    if beta != 1.0 {
        return Err(option("beta", format!("{beta} is not 1")));
    }
    Ok(())
}

fn strided_slice(n: &Node) -> Check {
    let Op::StridedSlice(o) = &n.op.op else { return Err(wrong_options()) };
    if o.ellipsis_mask != 0 {
        return Err(option("ellipsis_mask", "not 0"));
    }
    if o.new_axis_mask != 0 {
        return Err(option("new_axis_mask", "not 0"));
    }
    if o.shrink_axis_mask != 0 {
        return Err(option("shrink_axis_mask", "not 0"));
    }
    if n.num_inputs() < 4 {
        return Err(Reason::Arity { detail: "takes 4 inputs".into() });
    }
    n.rank(In(0), 3, 4, "3 or 4")
}

fn topk(n: &Node) -> Check {
    inputs_outputs(n, 1, 2)
}

fn transpose_conv(n: &Node) -> Check {
    conv_io(n)?;
    let Op::TransposeConv(o) = &n.op.op else { return Err(wrong_options()) };
    strides(o.stride_h, o.stride_w)
}

fn resize_bilinear(n: &Node) -> Check {
    inputs_outputs(n, 1, 1)?;
    let Op::ResizeBilinear(o) = &n.op.op else { return Err(wrong_options()) };
    if o.align_corners && o.half_pixel_centers {
        return Err(option("half_pixel_centers", "set together with align_corners"));
    }
    Ok(())
}

fn pad(n: &Node) -> Check {
    if let Op::MirrorPad { mode } = &n.op.op {
        if *mode != MirrorPadMode::Reflect {
            return Err(option("mode", "only REFLECT"));
        }
    }
    inputs_outputs(n, 1, 1)?;
    let p = dims(n.need_input(1)?);
    if p.len() != 2 {
        return Err(Reason::Rank { tensor: In(1), rank: p.len(), expected: "2" });
    }
    if !(p[0] == 3 || p[0] == 4) || p[1] != 2 {
        return Err(Reason::Shape { tensor: In(1), detail: format!("{p:?}, takes [4, 2] or [3, 2]") });
    }
    Ok(())
}

fn unary(n: &Node) -> Check {
    inputs_consts_outputs(n, 1, 0, 1)
}

fn binary(n: &Node) -> Check {
    if inputs_consts_outputs(n, 2, 0, 1).is_err() && inputs_consts_outputs(n, 1, 1, 1).is_err() {
        return Err(Reason::Arity { detail: "takes one or two operands and one output".into() });
    }
    match &n.op.op {
        Op::Div(a) => act(*a),
        Op::Sub(o) => act(o.activation),
        _ => Ok(()),
    }
}

fn cbrt(n: &Node) -> Check {
    inputs_consts_outputs(n, 1, 0, 1)?;
    n.dtype(In(0), "float32, float16 or bfloat16", |t| matches!(t.dtype, DType::F16 | DType::F32 | DType::BF16))?;
    if n.need_input(0)?.dtype != n.need_output(0)?.dtype {
        return Err(Reason::Dtype { tensor: Out(0), dtype: n.need_output(0)?.dtype, expected: "the input's type" });
    }
    Ok(())
}

fn custom(n: &Node) -> Check {
    let Op::Custom(c) = &n.op.op else { return Err(Reason::OpNotSupported) };
    match c.name.as_str() {
        "Convolution2DTransposeBias" => n.need_input(1).map(|_| ()),
        "MaxPoolingWithArgmax2D" => inputs_outputs(n, 1, 2),
        "TransformLandmarks" | "TransformTensorBilinear" => {
            inputs_outputs(n, 2, 1)?;
            n.rank(In(0), 4, 4, "4")?;
            n.rank(In(1), 4, 4, "4")
        }
        _ => Err(Reason::OpNotSupported),
    }
}
