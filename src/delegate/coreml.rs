//! The Core ML delegate's rules, after `IsNodeSupportedByDelegate` in
//! `tflite/delegates/coreml/coreml_delegate.mm` and the `Is*OpSupported`
//! validators of `tflite/delegates/coreml/builders/`.

use super::context::{activation, option, Check, Node};
use super::{Reason, TensorRef};
use crate::model::{Activation, DType, MirrorPadMode, Op, Tensor};
use crate::schema::tflite as fb;
use fb::BuiltinOperator as B;

use TensorRef::{Input as In, Output as Out};

type Rule = fn(&Node) -> Check;

/// The table: (op, highest version taken, validator, rule).
const RULES: &[(B, i32, &str, Rule)] = &[
    (B::ADD, 1, "util.cc IsBinaryOpSupported", binary),
    (B::AVERAGE_POOL_2D, 1, "coreml_delegate.mm", pool),
    (B::CONCATENATION, 1, "concatenation_op_builder.cc IsConcatenationOpSupported", concatenation),
    (B::CONV_2D, 1, "convolution_op_builder.cc IsConvolutionOpSupported", convolution),
    (B::DEPTHWISE_CONV_2D, 2, "convolution_op_builder.cc IsDepthwiseConvolutionOpSupported", convolution),
    (B::FULLY_CONNECTED, 6, "fully_connected_op_builder.cc IsFullyConnectedOpSupported", fully_connected),
    (B::HARD_SWISH, 1, "coreml_delegate.mm", ok),
    (B::LOGISTIC, 1, "coreml_delegate.mm", ok),
    (B::MAX_POOL_2D, 1, "coreml_delegate.mm", pool),
    (B::MIRROR_PAD, 1, "pad_op_builder.cc IsMirrorPadOpSupported", pad),
    (B::MEAN, 1, "pooling_layer_builder.cc IsMeanOpSupported", mean),
    (B::MUL, 1, "util.cc IsBinaryOpSupported", binary),
    (B::PAD, 1, "pad_op_builder.cc IsPadOpSupported", pad),
    (B::PADV2, 1, "pad_op_builder.cc IsPadOpSupported", pad),
    (B::RELU, 1, "coreml_delegate.mm", ok),
    (B::RELU_N1_TO_1, 1, "coreml_delegate.mm", ok),
    (B::RELU6, 1, "coreml_delegate.mm", ok),
    (B::RESHAPE, 1, "reshape_op_builder.cc IsReshapeOpSupported", reshape),
    (B::RESIZE_BILINEAR, 1, "resize_bilinear_op_builder.cc IsResizeBilinearOpSupported", resize_bilinear),
    (B::SOFTMAX, 1, "coreml_delegate.mm", softmax),
    (B::TANH, 1, "coreml_delegate.mm", ok),
    (B::TRANSPOSE_CONV, 1, "convolution_op_builder.cc IsTransposeConvolutionOpSupported", convolution),
];

/// The source file the table follows.
pub(crate) const SOURCE: &str = "tflite/delegates/coreml/coreml_delegate.mm";

/// The rule of a builtin code: highest version, validator, check.
pub(crate) fn rule(code: i32) -> Option<(i32, &'static str, Rule)> {
    RULES.iter().find(|(b, _, _, _)| b.0 == code).map(|(_, v, s, r)| (*v, *s, *r))
}

/// One node's verdict.
pub(crate) fn judge(n: &Node) -> Check {
    let code = n.op.op.builtin_code();
    let Some((max, _, r)) = rule(code) else { return Err(Reason::OpNotSupported) };
    // "For most ops, only version 1 is supported."
    if n.version > max {
        return Err(Reason::VersionTooHigh { version: n.version, max });
    }
    // "The model should not be full-integer quantized": the first input
    // (TRANSPOSE_CONV: the third) must be float32.
    let first = if code == B::TRANSPOSE_CONV.0 { 2 } else { 0 };
    n.dtype(In(first), "float32", |t| t.dtype == DType::F32)?;
    r(n)
}

fn ok(_: &Node) -> Check {
    Ok(())
}

fn wrong_options() -> Reason {
    option("options", "options of another op")
}

fn dims(t: &Tensor) -> Vec<i64> {
    t.shape.dims().iter().map(|d| i64::from(d.fixed().unwrap_or(1))).collect()
}

/// `IsBinaryOpSupportedType`: float32, or a float16 constant; and
/// `IsBroadcastable`.
fn binary(n: &Node) -> Check {
    for i in [0, 1] {
        n.dtype(In(i), "float32 or a float16 constant", |t| t.dtype == DType::F32 || (t.dtype == DType::F16 && t.is_constant()))?;
    }
    let (a, b) = (n.need_input(0)?, n.need_input(1)?);
    if let Some(detail) = not_broadcastable(a, b) {
        return Err(Reason::Shape { tensor: In(1), detail });
    }
    Ok(())
}

/// `IsBroadcastable` (builders/util.cc), on shapes padded to `[B, H, W, C]`:
/// batches differ only with a one-element constant, `(H, W)` differ only
/// when one is `(1, 1)`, channels differ only when one is 1.
fn not_broadcastable(a: &Tensor, b: &Tensor) -> Option<String> {
    if a.shape.rank() > 4 || b.shape.rank() > 4 {
        return Some("rank above 4".into());
    }
    let four = |t: &Tensor| {
        let d = dims(t);
        let mut s = vec![1i64; 4 - d.len()];
        s.extend(d);
        s
    };
    let (s0, s1) = (four(a), four(b));
    let scalar_const = |t: &Tensor| t.is_constant() && t.shape.num_elements() == Some(1);
    if s0[0] != s1[0] && !(scalar_const(a) || scalar_const(b)) {
        return Some("batches differ".into());
    }
    if (s0[1] != s1[1] || s0[2] != s1[2]) && !((s0[1] == 1 && s0[2] == 1) || (s1[1] == 1 && s1[2] == 1)) {
        return Some("heights and widths differ and neither is 1x1".into());
    }
    if s0[3] != s1[3] && s0[3] != 1 && s1[3] != 1 {
        return Some("channels differ and neither is 1".into());
    }
    None
}

fn pool(n: &Node) -> Check {
    let (Op::AveragePool2d(o) | Op::MaxPool2d(o)) = &n.op.op else { return Err(wrong_options()) };
    activation(o.activation, &[Activation::None])
}

fn concatenation(n: &Node) -> Check {
    let Op::Concatenation(o) = &n.op.op else { return Err(wrong_options()) };
    activation(o.activation, &[Activation::None])?;
    if n.num_inputs() < 2 {
        return Err(Reason::Arity { detail: "fewer than 2 inputs".into() });
    }
    let rank = n.need_input(0)?.shape.rank();
    let ok = match rank {
        3 => o.axis == 2 || o.axis == -1,
        4 => o.axis == 3 || o.axis == -1,
        _ => return Err(Reason::Rank { tensor: In(0), rank, expected: "3 or 4" }),
    };
    if !ok {
        return Err(option("axis", format!("{} is not the channel axis", o.axis)));
    }
    Ok(())
}

fn convolution(n: &Node) -> Check {
    let a = match &n.op.op {
        Op::Conv2d(o) => o.activation,
        Op::DepthwiseConv2d(o) => o.activation,
        Op::TransposeConv(_) => Activation::None,
        _ => return Err(wrong_options()),
    };
    if a == Activation::SignBit {
        return Err(option("fused_activation_function", "SignBit is not supported"));
    }
    n.need_const(1)?;
    let w = dims(n.need_input(1)?);
    if w.get(1).is_some_and(|d| *d > 16384) || w.get(2).is_some_and(|d| *d > 16384) {
        return Err(Reason::Shape { tensor: In(1), detail: "a kernel dimension above 16384".into() });
    }
    if matches!(n.op.op, Op::TransposeConv(_)) {
        n.need_const(0)?;
    } else if n.num_inputs() >= 2 && n.op.input(2).is_some() {
        // The validator reads input 2 whenever there are at least 2 inputs.
        n.need_const(2)?;
    }
    Ok(())
}

fn is_float(t: &Tensor) -> bool {
    matches!(t.dtype, DType::F32 | DType::F16)
}

fn fully_connected(n: &Node) -> Check {
    let Op::FullyConnected(o) = &n.op.op else { return Err(wrong_options()) };
    if o.weights_format != crate::model::WeightsFormat::Default {
        return Err(option("weights_format", "not the default layout"));
    }
    n.dtype(In(0), "float", is_float)?;
    n.dtype(In(1), "float", is_float)?;
    n.need_const(1)?;
    let i = n.need_input(0)?;
    let last = i.shape.dims().last().and_then(|d| d.fixed()).map(u64::from);
    if last != i.shape.num_elements() {
        return Err(Reason::Shape { tensor: In(0), detail: "more than one batch row (Core ML 2 takes a single row)".into() });
    }
    if n.num_inputs() > 2 && n.op.input(2).is_some() {
        n.dtype(In(2), "float", is_float)?;
        n.need_const(2)?;
    }
    if o.activation == Activation::SignBit {
        return Err(option("fused_activation_function", "SignBit is not supported"));
    }
    Ok(())
}

fn pad(n: &Node) -> Check {
    if let Op::MirrorPad { mode } = &n.op.op {
        if *mode != MirrorPadMode::Reflect {
            return Err(option("mode", "only REFLECT"));
        }
    }
    n.need_const(1)?;
    let p = n.need_input(1)?;
    if p.shape.as_fixed() != Some(vec![4, 2]) {
        return Err(Reason::Shape { tensor: In(1), detail: "not [4, 2] (only 4-D inputs)".into() });
    }
    let v = n.const_ints(1).unwrap_or_default();
    if v.len() == 8 && (v[0] != 0 || v[1] != 0) {
        return Err(option("paddings", "padding of the batch dimension"));
    }
    if v.len() == 8 && (v[6] != 0 || v[7] != 0) {
        return Err(option("paddings", "padding of the channel dimension"));
    }
    Ok(())
}

fn mean(n: &Node) -> Check {
    let Op::Mean { keep_dims } = n.op.op else { return Err(wrong_options()) };
    if !keep_dims {
        return Err(option("keep_dims", "must be true"));
    }
    n.rank(In(0), 4, 4, "4")?;
    let axes = n.const_ints(1).ok_or(Reason::NotConstant { tensor: In(1), must_be_constant: true })?;
    if axes.iter().any(|a| !matches!((a + 4).rem_euclid(4), 1 | 2)) {
        return Err(option("axes", "reduces other than the height and width axes"));
    }
    Ok(())
}

fn reshape(n: &Node) -> Check {
    if n.options.coreml_version >= 3 {
        return Err(option("coreml_version", "RESHAPE is only delegated for Core ML 2"));
    }
    if n.num_inputs() == 1 {
        let Op::Reshape { new_shape } = &n.op.op else { return Err(wrong_options()) };
        let k = new_shape.as_ref().map_or(0, Vec::len);
        return if k == 3 || k == 4 { Ok(()) } else { Err(Reason::Rank { tensor: Out(0), rank: k, expected: "3 or 4" }) };
    }
    n.need_const(1)?;
    n.dtype(In(1), "int32", |t| t.dtype == DType::I32)?;
    n.rank(In(1), 1, 1, "1")?;
    let k = n.need_input(1)?.shape.num_elements().unwrap_or(0);
    if k != 3 && k != 4 {
        return Err(Reason::Rank { tensor: Out(0), rank: k as usize, expected: "3 or 4" });
    }
    Ok(())
}

fn resize_bilinear(n: &Node) -> Check {
    n.need_const(1)
}

fn softmax(n: &Node) -> Check {
    let Op::Softmax { beta } = n.op.op else { return Err(wrong_options()) };
    if beta != 1.0 {
        return Err(option("beta", format!("{beta} is not 1")));
    }
    Ok(())
}
