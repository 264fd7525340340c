//! XNNPACK's rules, after `tflite/delegates/xnnpack/xnnpack_delegate.cc`.
//!
//! One table entry per builtin op: the op code, the `Visit*Node` function
//! (or check) it follows, and the check. Ops without an entry are not
//! supported. `judge_subgraph` adds what `PrepareOpsToDelegate` does
//! around the table: `DEQUANTIZE` (and `DENSIFY`) of constant weights are
//! "static unpack" nodes that go with their consumers.

use std::collections::HashSet;

use super::context::{activation, affine_quant, option, per_tensor_quant, Check, Node};
use super::{Reason, TensorRef, XnnpackProfile};
use crate::model::{Activation, DType, Op, Padding, Pool2dOptions, Tensor, TensorId};
use crate::schema::tflite::BuiltinOperator as B;

use TensorRef::{Input as In, Output as Out};

/// `XNN_MAX_TENSOR_DIMS`.
const MAX_DIMS: usize = 6;

/// What a rule sees: the node, the delegate build, and the quasi-static
/// tensors (outputs of static unpack nodes, which count as constant).
pub(crate) struct X<'a, 'b> {
    pub n: &'b Node<'a>,
    pub p: XnnpackProfile,
    pub quasi: &'b HashSet<TensorId>,
}

type Rule = fn(&X) -> Check;

/// The table: (op, source function in xnnpack_delegate.cc, rule).
const RULES: &[(B, &str, Rule)] = &[
    (B::ABS, "VisitUnaryNode", unary_float),
    (B::CEIL, "VisitUnaryNode", unary_float),
    (B::COS, "VisitUnaryNode", unary_float),
    (B::EXP, "VisitUnaryNode", unary_float),
    (B::FLOOR, "VisitUnaryNode", unary_float),
    (B::GELU, "VisitUnaryNode", unary_float),
    (B::HARD_SWISH, "VisitUnaryNode", unary_float),
    (B::LOG, "VisitUnaryNode", unary_float),
    (B::NEG, "VisitUnaryNode", unary_float),
    (B::RELU_N1_TO_1, "VisitUnaryNode", unary_float),
    (B::RELU, "VisitUnaryNode", unary_float),
    (B::RELU6, "VisitUnaryNode", unary_float),
    (B::ROUND, "VisitUnaryNode", unary_float),
    (B::RSQRT, "VisitUnaryNode", unary_float),
    (B::SIN, "VisitUnaryNode", unary_float),
    (B::SQRT, "VisitUnaryNode", unary_float),
    (B::SQUARE, "VisitUnaryNode", unary_float),
    (B::DEQUANTIZE, "VisitUnaryNode", dequantize),
    (B::ELU, "VisitUnaryNode", elu),
    (B::LOGISTIC, "VisitUnaryNode", unary_float_or_q8),
    (B::TANH, "VisitUnaryNode", unary_float_or_q8),
    (B::LEAKY_RELU, "VisitUnaryNode", leaky_relu),
    (B::QUANTIZE, "VisitUnaryNode", quantize),
    (B::ADD, "VisitBinaryNode", add_sub_mul),
    (B::SUB, "VisitBinaryNode", add_sub_mul),
    (B::MUL, "VisitBinaryNode", add_sub_mul),
    (B::DIV, "VisitBinaryNode", binary_float),
    (B::MAXIMUM, "VisitBinaryNode", binary_float),
    (B::MINIMUM, "VisitBinaryNode", binary_float),
    (B::PRELU, "VisitBinaryNode", binary_float),
    (B::SQUARED_DIFFERENCE, "VisitBinaryNode", binary_float),
    (B::AVERAGE_POOL_2D, "VisitAveragePool2DNode", average_pool),
    (B::MAX_POOL_2D, "VisitMaxPool2DNode", max_pool),
    (B::BATCH_MATMUL, "VisitBatchMatMulNode", batch_matmul),
    (B::CONCATENATION, "VisitConcatenationNode", concatenation),
    (B::CONV_2D, "VisitConv2DNode", conv2d),
    (B::DEPTHWISE_CONV_2D, "VisitDepthwiseConv2DNode", depthwise_conv2d),
    (B::DEPTH_TO_SPACE, "VisitDepthToSpaceNode", depth_to_space),
    (B::EXPAND_DIMS, "VisitExpandDimsNode (returns an error before its checks)", expand_dims),
    (B::FULLY_CONNECTED, "VisitFullyConnectedNode", fully_connected),
    (B::MEAN, "VisitReduceNode", reduce),
    (B::REDUCE_MAX, "VisitReduceNode", reduce),
    (B::REDUCE_MIN, "VisitReduceNode", reduce),
    (B::SUM, "VisitReduceNode", reduce),
    (B::PAD, "VisitPadNode", pad),
    (B::RESHAPE, "VisitReshapeNode", reshape),
    (B::RESIZE_BILINEAR, "VisitResizeBilinearNode", resize_bilinear),
    (B::SLICE, "VisitSliceNode", slice),
    (B::SOFTMAX, "VisitSoftmaxNode", softmax),
    (B::SPACE_TO_DEPTH, "VisitSpaceToDepthNode", space_to_depth),
    (B::SPLIT, "VisitSplitNode", split),
    (B::STRIDED_SLICE, "VisitStridedSliceNode", strided_slice),
    (B::TRANSPOSE, "VisitTransposeNode", transpose),
    (B::TRANSPOSE_CONV, "VisitTransposeConvNode", transpose_conv),
    (B::VAR_HANDLE, "VisitVarHandleNode", variable_op),
    (B::READ_VARIABLE, "VisitReadVariableNode", variable_op),
    (B::ASSIGN_VARIABLE, "VisitAssignVariableNode", variable_op),
];

/// The source file the table follows.
pub(crate) const SOURCE: &str = "tflite/delegates/xnnpack/xnnpack_delegate.cc";

/// The rule of a builtin code, with its source function.
pub(crate) fn rule(code: i32) -> Option<(&'static str, Rule)> {
    RULES.iter().find(|(b, _, _)| b.0 == code).map(|(_, s, r)| (*s, *r))
}

/// The verdicts for a subgraph's nodes, in order.
pub(crate) fn judge_subgraph(nodes: &[Node]) -> Vec<Option<Reason>> {
    let Some(first) = nodes.first() else { return Vec::new() };
    let p = first.options.xnnpack;
    let mut quasi: HashSet<TensorId> = HashSet::new();
    // Static unpack nodes and the tensors they produce.
    let mut unpack: Vec<usize> = Vec::new();
    let mut out: Vec<Option<Reason>> = vec![None; nodes.len()];
    let mut vars = Variables::default();
    for (i, n) in nodes.iter().enumerate() {
        if is_static_unpack(n, &quasi) {
            quasi.extend(n.op.outputs.iter().copied());
            unpack.push(i);
            continue;
        }
        out[i] = judge(&X { n, p, quasi: &quasi }).err();
        if out[i].is_none() {
            out[i] = vars.visit(i, n).err();
        }
    }
    // A VAR_HANDLE goes with the delegated reads and assigns of its
    // variable (`Record which resource variables can be delegated`).
    for (i, delegated) in vars.handles() {
        if !delegated {
            out[i] = Some(Reason::ConsumerNotDelegated);
        }
    }
    // A static unpack node is dropped when a node that is not delegated
    // reads its output (`static_unpack_nodes_.erase`).
    for &u in &unpack {
        let produced = &nodes[u].op.outputs;
        let blocked = nodes.iter().enumerate().any(|(j, m)| {
            !unpack.contains(&j) && out[j].is_some() && m.op.inputs.iter().flatten().any(|t| produced.contains(t))
        });
        if blocked {
            out[u] = Some(Reason::ConsumerNotDelegated);
        }
    }
    out
}

/// The resource variables of a subgraph as `ResourceInfo` tracks them
/// while the delegate visits its nodes in order: the `VAR_HANDLE` writing
/// each resource tensor, and the type and shape of the first delegated
/// `READ_VARIABLE` / `ASSIGN_VARIABLE` value of it (the proxy value),
/// which every later one must repeat (`AddProxyValue`).
#[derive(Default)]
struct Variables<'a> {
    /// Resource tensor → (VAR_HANDLE node, proxy value).
    by_tensor: Vec<(TensorId, usize, Option<&'a Tensor>)>,
}

impl<'a> Variables<'a> {
    /// Records a node the rules took: a VAR_HANDLE names its resource; a
    /// READ_VARIABLE or ASSIGN_VARIABLE needs an earlier VAR_HANDLE of its
    /// resource and a value of the proxy's type and shape.
    fn visit(&mut self, i: usize, n: &Node<'a>) -> Check {
        let value = match n.op.op {
            Op::VarHandle(_) => {
                if let Some(&t) = n.op.outputs.first() {
                    match self.by_tensor.iter_mut().find(|(r, _, _)| *r == t) {
                        Some(e) => e.1 = i,
                        None => self.by_tensor.push((t, i, None)),
                    }
                }
                return Ok(());
            }
            Op::ReadVariable => (Out(0), n.output(0)),
            Op::AssignVariable => (In(1), n.input(1)),
            _ => return Ok(()),
        };
        let (r, Some(v)) = value else { return Ok(()) };
        let Some(e) = n.op.input(0).and_then(|h| self.by_tensor.iter_mut().find(|(t, _, _)| *t == h)) else {
            return Err(option("resource", "not written by a VAR_HANDLE earlier in the subgraph"));
        };
        match e.2 {
            None => e.2 = Some(v),
            Some(p) if p.dtype != v.dtype || p.shape != v.shape => {
                return Err(Reason::Shape { tensor: r, detail: format!("{} {} differs from the variable's {} {}", v.dtype, v.shape, p.dtype, p.shape) });
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Each VAR_HANDLE node, and whether its variable has a proxy value.
    fn handles(&self) -> impl Iterator<Item = (usize, bool)> + '_ {
        self.by_tensor.iter().map(|(_, i, v)| (*i, v.is_some()))
    }
}

/// `PrepareOpsToDelegate`: a one-in one-out `DEQUANTIZE` of a dense
/// constant (or quasi-static) float16 or quantized int8 tensor to float32,
/// or a `DENSIFY` of a sparse constant.
fn is_static_unpack(n: &Node, quasi: &HashSet<TensorId>) -> bool {
    if n.num_inputs() != 1 || n.num_outputs() != 1 {
        return false;
    }
    let (Some(i), Some(o)) = (n.input(0), n.output(0)) else { return false };
    let static_in = i.is_constant() || n.op.input(0).is_some_and(|t| quasi.contains(&t));
    match &n.op.op {
        Op::Dequantize => {
            let int8_ok = i.dtype == DType::I8 && i.quantization.is_some();
            i.sparsity.is_none() && static_in && (i.dtype == DType::F16 || int8_ok) && o.dtype == DType::F32
        }
        Op::Densify => {
            i.is_constant() && i.sparsity.is_some() && matches!(i.dtype, DType::F16 | DType::I8 | DType::F32) && o.dtype == i.dtype
        }
        _ => false,
    }
}

/// One node's verdict (static unpack nodes aside).
pub(crate) fn judge(x: &X) -> Check {
    let code = x.n.op.op.builtin_code();
    if let Op::Custom(c) = &x.n.op.op {
        return custom(x, &c.name);
    }
    match rule(code) {
        Some((_, r)) => r(x),
        None => Err(Reason::OpNotSupported),
    }
}

// ---- shared predicates (the Check* helpers of xnnpack_delegate.cc) ----

fn is_float(t: &Tensor) -> bool {
    matches!(t.dtype, DType::F32 | DType::F16)
}

/// `CheckTensorQInt8OrQUInt8Type`.
fn is_q8(t: &Tensor, p: XnnpackProfile) -> bool {
    let axis0 = t.quantization.as_ref().is_some_and(|q| q.axis == 0);
    match t.dtype {
        DType::I8 => p.qs8 && per_tensor_quant(t) && axis0,
        DType::U8 => p.qu8 && per_tensor_quant(t) && axis0 && t.quantization.as_ref().is_some_and(|q| q.zero_point.len() == 1),
        _ => false,
    }
}

/// `CheckTensorFloatOrQUInt8Type`.
fn float_or_q8(x: &X, r: TensorRef) -> Check {
    let p = x.p;
    x.n.dtype(r, q8_name(p, "float32, float16"), |t| is_float(t) || is_q8(t, p))
}

/// `CheckTensorFloat32OrQUInt8Type`.
fn f32_or_q8(x: &X, r: TensorRef) -> Check {
    let p = x.p;
    x.n.dtype(r, q8_name(p, "float32"), |t| t.dtype == DType::F32 || is_q8(t, p))
}

/// `CheckTensorFloatType`.
fn float(x: &X, r: TensorRef) -> Check {
    x.n.dtype(r, "float32, float16", is_float)
}

fn q8_name(p: XnnpackProfile, float: &'static str) -> &'static str {
    match (p.qs8, p.qu8, float) {
        (true, true, "float32") => "float32, quantized int8 or uint8",
        (true, true, _) => "float32, float16, quantized int8 or uint8",
        (true, false, "float32") => "float32, quantized int8",
        (true, false, _) => "float32, float16, quantized int8",
        (false, true, "float32") => "float32, quantized uint8",
        (false, true, _) => "float32, float16, quantized uint8",
        (false, false, f) => f,
    }
}

/// `CheckTensorFloat32OrQCInt8Type` / `CheckTensorFilterType`: float, or
/// int8 quantized per tensor or per channel along `axis`, or uint8 per
/// tensor.
fn filter_type(x: &X, r: TensorRef, axis: Option<i32>) -> Check {
    let p = x.p;
    x.n.dtype(r, "float32, float16, quantized int8 (per channel) or uint8", |t| match t.dtype {
        DType::F32 | DType::F16 => true,
        DType::I8 | DType::I4 => {
            p.qs8
                && affine_quant(t)
                && t.quantization.as_ref().is_some_and(|q| q.scale.len() <= 1 || axis.is_none_or(|a| q.axis == a))
        }
        DType::U8 => is_q8(t, p),
        _ => false,
    })
}

/// `CheckTensorFloat32OrFloat16OrQCInt32Type`.
fn bias_type(x: &X, r: TensorRef) -> Check {
    let p = x.p;
    x.n.dtype(r, "float32, float16 or quantized int32", |t| match t.dtype {
        DType::F32 | DType::F16 => true,
        DType::I32 => (p.qs8 || p.qu8) && affine_quant(t),
        _ => false,
    })
}

/// `CheckTensorStaticAllocation` (or a quasi-static tensor).
fn static_input(x: &X, i: usize) -> Check {
    if x.n.is_const(i) || x.n.op.input(i).is_some_and(|t| x.quasi.contains(&t)) {
        Ok(())
    } else {
        Err(Reason::NotConstant { tensor: In(i), must_be_constant: true })
    }
}

/// `CheckTensorStaticAllocation` alone (quasi-static tensors do not count).
fn const_input(x: &X, i: usize) -> Check {
    x.n.need_const(i)
}

/// `CheckTensorShape(min, max)`: the rank, and every dimension positive.
fn shape(x: &X, r: TensorRef, min: usize, max: usize, expected: &'static str) -> Check {
    x.n.rank(r, min, max, expected)?;
    positive_dims(x, r)
}

fn positive_dims(x: &X, r: TensorRef) -> Check {
    if let Some(t) = x.n.tensor(r) {
        if t.shape.dims().iter().any(|d| d.fixed() == Some(0)) {
            return Err(Reason::Shape { tensor: r, detail: "a dimension of size 0".into() });
        }
    }
    Ok(())
}

fn int32(x: &X, r: TensorRef) -> Check {
    x.n.dtype(r, "int32", |t| t.dtype == DType::I32)
}

/// `ConvertActivationToOutputRange`: no tanh, sign bit or sigmoid.
fn act(a: Activation) -> Check {
    activation(a, &[Activation::None, Activation::Relu, Activation::ReluN1To1, Activation::Relu6])
}

fn scale(t: &Tensor) -> Option<f32> {
    t.quantization.as_ref().and_then(|q| q.scale.first().copied())
}

fn is_quantized_int(t: &Tensor) -> bool {
    matches!(t.dtype, DType::I8 | DType::U8)
}

/// The scale ratio `num / out` of quantized tensors must be in `[min, max)`.
fn scale_ratio(name: &'static str, num: Option<f32>, out: Option<f32>, min: f32, max: f32) -> Check {
    if let (Some(a), Some(b)) = (num, out) {
        let r = a / b;
        if !(min..max).contains(&r) {
            return Err(option(name, format!("input-to-output scale ratio {r} outside [{min}, {max})")));
        }
    }
    Ok(())
}

fn wrong_options() -> Reason {
    option("options", "options of another op")
}

// ---- the rules ----

fn unary_common(x: &X) -> Check {
    x.n.arity(1, 1, 1, 1)?;
    shape(x, In(0), 0, MAX_DIMS, "at most 6")
}

fn unary_float(x: &X) -> Check {
    unary_common(x)?;
    float(x, In(0))?;
    float(x, Out(0))
}

fn unary_float_or_q8(x: &X) -> Check {
    unary_common(x)?;
    float_or_q8(x, In(0))?;
    float_or_q8(x, Out(0))
}

fn dequantize(x: &X) -> Check {
    unary_common(x)?;
    let p = x.p;
    x.n.dtype(In(0), q8_name(p, ""), |t| is_q8(t, p))?;
    float(x, Out(0))
}

fn elu(x: &X) -> Check {
    unary_common(x)?;
    let p = x.p;
    let ok = |t: &Tensor| is_float(t) || (t.dtype == DType::I8 && is_q8(t, p));
    x.n.dtype(In(0), "float32, float16 or quantized int8", ok)?;
    x.n.dtype(Out(0), "float32, float16 or quantized int8", ok)
}

fn leaky_relu(x: &X) -> Check {
    unary_float_or_q8(x)?;
    let Op::LeakyRelu { alpha } = x.n.op.op else { return Err(wrong_options()) };
    if !alpha.is_normal() {
        return Err(option("alpha", format!("{alpha} is zero or not a normal number")));
    }
    let (i, o) = (x.n.need_input(0)?, x.n.need_output(0)?);
    if let (Some(si), Some(so)) = (scale(i).filter(|_| is_quantized_int(i)), scale(o).filter(|_| is_quantized_int(o))) {
        let pos = si / so;
        if !(1.0 / 256.0..=128.0).contains(&pos) {
            return Err(option("alpha", format!("positive input-to-output scale {pos} outside [1/256, 128]")));
        }
        let neg = pos * alpha;
        if !(-127.996_09..=128.0).contains(&neg) || neg.abs() < 1.0 / 256.0 {
            return Err(option("alpha", format!("negative input-to-output scale {neg} out of range")));
        }
    }
    Ok(())
}

fn quantize(x: &X) -> Check {
    unary_float_or_q8(x)?;
    let (i, o) = (x.n.need_input(0)?, x.n.need_output(0)?);
    if is_float(i) {
        return Ok(());
    }
    if i.dtype != o.dtype {
        return Err(Reason::Dtype { tensor: Out(0), dtype: o.dtype, expected: "the input's type (requantization only)" });
    }
    scale_ratio("quantization", scale(i), scale(o), 1.0 / 256.0, 128.0 + f32::EPSILON * 128.0)
}

fn binary_common(x: &X) -> Check {
    x.n.arity(2, 2, 1, 1)?;
    shape(x, In(0), 0, MAX_DIMS, "at most 6")?;
    shape(x, In(1), 0, MAX_DIMS, "at most 6")
}

fn add_sub_mul(x: &X) -> Check {
    binary_common(x)?;
    float_or_q8(x, In(0))?;
    float_or_q8(x, In(1))?;
    float_or_q8(x, Out(0))?;
    let (a, b, o) = (x.n.need_input(0)?, x.n.need_input(1)?, x.n.need_output(0)?);
    if a.dtype != b.dtype || a.dtype != o.dtype {
        return Err(Reason::Dtype { tensor: In(1), dtype: b.dtype, expected: "the same type as input 0 and the output" });
    }
    let q = is_quantized_int(o);
    let (sa, sb, so) = (scale(a).filter(|_| q), scale(b).filter(|_| q), scale(o).filter(|_| q));
    let a_act = match &x.n.op.op {
        Op::Add(opts) | Op::Sub(opts) => {
            scale_ratio("quantization", sa, so, 1.0 / 1024.0, 256.0)?;
            scale_ratio("quantization", sb, so, 1.0 / 1024.0, 256.0)?;
            opts.activation
        }
        Op::Mul(a) => {
            scale_ratio("quantization", sa.zip(sb).map(|(a, b)| a * b), so, 1.0 / 65536.0, 256.0)?;
            *a
        }
        _ => return Err(wrong_options()),
    };
    act(a_act)
}

fn binary_float(x: &X) -> Check {
    binary_common(x)?;
    float(x, In(0))?;
    float(x, In(1))?;
    float(x, Out(0))?;
    match &x.n.op.op {
        Op::Div(a) => act(*a),
        Op::Prelu => static_input(x, 1),
        _ => Ok(()),
    }
}

/// `CheckPoolingParams`.
fn pool_params(o: &Pool2dOptions) -> Check {
    if o.stride_w <= 0 || o.stride_h <= 0 {
        return Err(option("stride", format!("{}x{} is not positive", o.stride_h, o.stride_w)));
    }
    if o.filter_w <= 0 || o.filter_h <= 0 {
        return Err(option("filter", format!("{}x{} is not positive", o.filter_h, o.filter_w)));
    }
    if o.stride_w > o.filter_w || o.stride_h > o.filter_h {
        return Err(option("stride", format!("stride {}x{} exceeds the filter {}x{}", o.stride_h, o.stride_w, o.filter_h, o.filter_w)));
    }
    if o.filter_w == 1 && o.filter_h == 1 && o.stride_w.max(o.stride_h) > 1 {
        return Err(option("stride", "a 1x1 filter with a stride above 1"));
    }
    act(o.activation)
}

fn average_pool(x: &X) -> Check {
    x.n.arity(1, 1, 1, 1)?;
    float(x, In(0))?;
    float(x, Out(0))?;
    let Op::AveragePool2d(o) = &x.n.op.op else { return Err(wrong_options()) };
    pool_params(o)
}

fn max_pool(x: &X) -> Check {
    x.n.arity(1, 1, 1, 1)?;
    f32_or_q8(x, In(0))?;
    float_or_q8(x, Out(0))?;
    let Op::MaxPool2d(o) = &x.n.op.op else { return Err(wrong_options()) };
    pool_params(o)
}

fn batch_matmul(x: &X) -> Check {
    let Op::BatchMatMul(o) = &x.n.op.op else { return Err(wrong_options()) };
    float_or_q8(x, In(0))?;
    let b = x.n.need_input(1)?;
    let axis = b.shape.rank() as i32 - if o.adj_y { 2 } else { 1 };
    filter_type(x, In(1), Some(axis))?;
    let a = x.n.need_input(0)?;
    let dynamic = a.dtype == DType::F32 && b.dtype == DType::I8;
    if b.dtype == DType::I8 && !dynamic && b.quantization.as_ref().and_then(|q| q.zero_point.first()).is_some_and(|z| *z != 0) {
        return Err(Reason::Dtype { tensor: In(1), dtype: b.dtype, expected: "a zero point of 0" });
    }
    float_or_q8(x, Out(0))?;
    if a.dtype != b.dtype && !dynamic {
        return Err(Reason::Dtype { tensor: In(1), dtype: b.dtype, expected: "the type of input 0" });
    }
    x.n.rank(In(0), 2, usize::MAX, "at least 2")?;
    x.n.rank(In(1), 2, usize::MAX, "at least 2")
}

fn concatenation(x: &X) -> Check {
    let Op::Concatenation(o) = &x.n.op.op else { return Err(wrong_options()) };
    x.n.arity(2, 5, 1, 1)?;
    float_or_q8(x, Out(0))?;
    for i in 0..x.n.num_inputs() {
        let t = x.n.need_input(i)?;
        if o.axis >= t.shape.rank() as i32 {
            return Err(option("axis", format!("{} is not below input {i}'s rank {}", o.axis, t.shape.rank())));
        }
    }
    let out = x.n.need_output(0)?;
    if out.dtype == DType::U8 {
        for i in 0..x.n.num_inputs() {
            let t = x.n.need_input(i)?;
            let same = t.quantization.as_ref().map(|q| (q.scale.first().copied(), q.zero_point.first().copied()))
                == out.quantization.as_ref().map(|q| (q.scale.first().copied(), q.zero_point.first().copied()));
            if !same {
                return Err(option("quantization", format!("input {i}'s scale or zero point differs from the output's")));
            }
        }
    }
    for i in 0..x.n.num_inputs() {
        float_or_q8(x, In(i))?;
    }
    Ok(())
}

/// `CheckConvolutionParams` and the shared part of CONV_2D and
/// DEPTHWISE_CONV_2D: input, filter, bias and output.
fn conv_common(x: &X, filter_axis: i32) -> Check {
    x.n.arity(3, 3, 1, 1)?;
    float_or_q8(x, In(0))?;
    shape(x, In(0), 4, 4, "4")?;
    filter_type(x, In(1), Some(filter_axis))?;
    shape(x, In(1), 4, 4, "4")?;
    static_input(x, 1)?;
    if x.n.input(2).is_none() {
        return Err(Reason::Arity { detail: "no bias (input 2)".into() });
    }
    bias_type(x, In(2))?;
    shape(x, In(2), 1, 1, "1")?;
    static_input(x, 2)?;
    float_or_q8(x, Out(0))?;
    shape(x, Out(0), 4, 4, "4")
}

fn conv2d(x: &X) -> Check {
    let Op::Conv2d(o) = &x.n.op.op else { return Err(wrong_options()) };
    if o.stride_w <= 0 || o.stride_h <= 0 {
        return Err(option("stride", "not positive"));
    }
    if o.dilation_w <= 0 || o.dilation_h <= 0 {
        return Err(option("dilation", "not positive"));
    }
    conv_common(x, 0)?;
    let (i, f, out) = (x.n.need_input(0)?, x.n.need_input(1)?, x.n.need_output(0)?);
    let dynamic = i.dtype == DType::F32 && f.dtype == DType::I8;
    if i.dtype != out.dtype || (i.dtype != f.dtype && !dynamic) {
        return Err(Reason::Dtype { tensor: In(1), dtype: f.dtype, expected: "the input's type" });
    }
    act(o.activation)
}

fn depthwise_conv2d(x: &X) -> Check {
    let Op::DepthwiseConv2d(o) = &x.n.op.op else { return Err(wrong_options()) };
    conv_common(x, 3)?;
    let (i, f, out) = (x.n.need_input(0)?, x.n.need_input(1)?, x.n.need_output(0)?);
    if i.dtype != out.dtype || i.dtype != f.dtype {
        return Err(Reason::Dtype { tensor: In(1), dtype: f.dtype, expected: "the input's type" });
    }
    if o.stride_w <= 0 || o.stride_h <= 0 {
        return Err(option("stride", "not positive"));
    }
    if o.depth_multiplier <= 0 {
        return Err(option("depth_multiplier", "not positive"));
    }
    let channels = f.shape.dim(3).and_then(|d| d.fixed()).unwrap_or(1) as i32;
    if channels % o.depth_multiplier != 0 {
        return Err(option("depth_multiplier", format!("{} does not divide the {channels} output channels", o.depth_multiplier)));
    }
    if o.dilation_w <= 0 || o.dilation_h <= 0 {
        return Err(option("dilation", "not positive"));
    }
    act(o.activation)
}

fn depth_to_space(x: &X) -> Check {
    x.n.arity(1, 1, 1, 1)?;
    float_or_q8(x, In(0))?;
    float_or_q8(x, Out(0))?;
    let Op::DepthToSpace(o) = &x.n.op.op else { return Err(wrong_options()) };
    if o.block_size <= 1 {
        return Err(option("block_size", format!("{} is not above 1", o.block_size)));
    }
    Ok(())
}

fn space_to_depth(x: &X) -> Check {
    x.n.arity(1, 1, 1, 1)?;
    f32_or_q8(x, In(0))?;
    float_or_q8(x, Out(0))?;
    let Op::SpaceToDepth(o) = &x.n.op.op else { return Err(wrong_options()) };
    if o.block_size <= 1 {
        return Err(option("block_size", format!("{} is not above 1", o.block_size)));
    }
    Ok(())
}

/// `VisitExpandDimsNode` starts with `return kTfLiteError;`: its checks
/// (float or quantized input, one constant axis) are dead code, and the
/// op is never delegated.
fn expand_dims(_: &X) -> Check {
    Err(Reason::OpNotSupported)
}

fn fully_connected(x: &X) -> Check {
    if x.n.version == 8 {
        return Err(Reason::VersionTooHigh { version: 8, max: 7 });
    }
    let Op::FullyConnected(o) = &x.n.op.op else { return Err(wrong_options()) };
    if o.weights_format != crate::model::WeightsFormat::Default {
        return Err(option("weights_format", "not the default layout"));
    }
    x.n.arity(2, 3, 1, 1)?;
    float_or_q8(x, In(0))?;
    shape(x, In(1), 2, 2, "2")?;
    let f = x.n.need_input(1)?;
    if let Some(b) = f.quantization.as_ref().and_then(|q| q.details.as_ref()).and_then(|d| d.blockwise()) {
        // `GetXNNPackDatatype`: blockwise weights must be INT4 with block
        // sizes that are multiples of 32 (`CheckTensorFilterType`), and
        // float16 scales that are normal and positive (`CheckFp16Scale`,
        // not checked here: the quantizer writes only such scales).
        if f.dtype != DType::I4 || b.block_size % 32 != 0 {
            return Err(Reason::Dtype { tensor: In(1), dtype: f.dtype, expected: "blockwise INT4 with blocks of a multiple of 32" });
        }
        static_input(x, 1)?;
    } else if !(x.p.dynamic_fully_connected && f.dtype == DType::F32) {
        filter_type(x, In(1), Some(0))?;
        static_input(x, 1)?;
    }
    if let Some(b) = x.n.input(2) {
        if !(x.p.dynamic_fully_connected && b.dtype == DType::F32) {
            let out_ch = f.shape.dim(0).and_then(|d| d.fixed()).unwrap_or(1) as u64;
            if b.shape.num_elements().is_some_and(|e| e != out_ch) {
                return Err(Reason::Shape { tensor: In(2), detail: format!("not {out_ch} elements") });
            }
            bias_type(x, In(2))?;
            static_input(x, 2)?;
        }
    }
    float_or_q8(x, Out(0))?;
    let (i, out) = (x.n.need_input(0)?, x.n.need_output(0)?);
    let int_filter = matches!(f.dtype, DType::I8 | DType::I4 | DType::I2);
    let dynamic = is_float(i) && int_filter;
    let srq = i.dtype == DType::I8 && int_filter;
    if i.dtype != out.dtype || (i.dtype != f.dtype && !(dynamic || srq)) {
        return Err(Reason::Dtype { tensor: In(1), dtype: f.dtype, expected: "the input's type" });
    }
    if !dynamic && f.dtype == DType::I8 && f.quantization.as_ref().and_then(|q| q.zero_point.first()).is_some_and(|z| *z != 0) {
        return Err(Reason::Dtype { tensor: In(1), dtype: f.dtype, expected: "a zero point of 0" });
    }
    act(o.activation)
}

fn reduce(x: &X) -> Check {
    x.n.arity(2, 2, 1, 1)?;
    float_or_q8(x, In(0))?;
    int32(x, In(1))?;
    x.n.rank(In(1), 0, 1, "at most 1")?;
    const_input(x, 1)?;
    let axes = x.n.const_ints(1).unwrap_or_default();
    let in_rank = x.n.need_input(0)?.shape.rank();
    if axes.is_empty() || (axes.len() == 1 && axes[0] == 0 && in_rank == 0) {
        return Err(option("axes", "no axis to reduce"));
    }
    if axes.len() > MAX_DIMS {
        return Err(option("axes", format!("{} axes, at most 6", axes.len())));
    }
    float_or_q8(x, Out(0))
}

fn pad(x: &X) -> Check {
    x.n.arity(2, 2, 1, 1)?;
    float_or_q8(x, In(0))?;
    shape(x, In(0), 1, MAX_DIMS, "1 to 6")?;
    int32(x, In(1))?;
    let rank = x.n.need_input(0)?.shape.rank();
    let pads = x.n.need_input(1)?;
    if pads.shape.as_fixed() != Some(vec![rank as u32, 2]) {
        return Err(Reason::Shape { tensor: In(1), detail: format!("not [{rank}, 2]") });
    }
    const_input(x, 1)?;
    float_or_q8(x, Out(0))?;
    shape(x, Out(0), 1, MAX_DIMS, "1 to 6")?;
    if x.n.const_ints(1).unwrap_or_default().iter().any(|p| *p < 0) {
        return Err(option("paddings", "a negative padding"));
    }
    Ok(())
}

fn same_quantization(x: &X) -> Check {
    let (i, o) = (x.n.need_input(0)?, x.n.need_output(0)?);
    if is_quantized_int(o) {
        let q = |t: &Tensor| t.quantization.as_ref().map(|q| (q.scale.first().copied(), q.zero_point.first().copied()));
        if q(i) != q(o) {
            return Err(option("quantization", "input and output scales or zero points differ"));
        }
    }
    Ok(())
}

fn reshape(x: &X) -> Check {
    x.n.arity(1, 2, 1, 1)?;
    float_or_q8(x, In(0))?;
    shape(x, In(0), 0, MAX_DIMS, "at most 6")?;
    float_or_q8(x, Out(0))?;
    shape(x, Out(0), 0, MAX_DIMS, "at most 6")?;
    same_quantization(x)?;
    let new_shape: Vec<i64> = if x.n.num_inputs() == 2 {
        int32(x, In(1))?;
        squeezable_vector(x, 1)?;
        const_input(x, 1)?;
        x.n.const_ints(1).unwrap_or_default()
    } else {
        match &x.n.op.op {
            Op::Reshape { new_shape } => new_shape.iter().flatten().map(|d| i64::from(*d)).collect(),
            _ => return Err(wrong_options()),
        }
    };
    // -1 becomes 0 for XNNPACK; a single 0 is "the legacy scalar RESHAPE",
    // which it does not handle.
    if new_shape.len() == 1 && (new_shape[0] == -1 || new_shape[0] == 0) {
        return Err(option("new_shape", "[-1] (read as the legacy scalar reshape)"));
    }
    Ok(())
}

/// `CheckShapeTensorShape(squeeze_dims = true)`: 1-D, or every dimension
/// but the last of size 1.
fn squeezable_vector(x: &X, i: usize) -> Check {
    let t = x.n.need_input(i)?;
    let d = t.shape.dims();
    if d.len() != 1 && d[..d.len().saturating_sub(1)].iter().any(|d| d.fixed() != Some(1)) {
        return Err(Reason::Rank { tensor: In(i), rank: d.len(), expected: "1 (or leading dimensions of size 1)" });
    }
    Ok(())
}

fn resize_bilinear(x: &X) -> Check {
    x.n.arity(2, 2, 1, 1)?;
    f32_or_q8(x, In(0))?;
    shape(x, In(0), 4, 4, "4")?;
    int32(x, In(1))?;
    x.n.rank(In(1), 1, 1, "1")?;
    if x.n.need_input(1)?.shape.num_elements() != Some(2) {
        return Err(Reason::Shape { tensor: In(1), detail: "not 2 elements".into() });
    }
    const_input(x, 1)?;
    float_or_q8(x, Out(0))?;
    shape(x, Out(0), 4, 4, "4")?;
    if x.n.const_ints(1).unwrap_or_default().iter().any(|d| *d <= 0) {
        return Err(option("size", "not positive"));
    }
    Ok(())
}

fn slice(x: &X) -> Check {
    x.n.arity(3, 3, 1, 1)?;
    for i in [1, 2] {
        x.n.rank(In(i), 1, 1, "1")?;
        const_input(x, i)?;
        x.n.dtype(In(i), "int32 or int64", |t| matches!(t.dtype, DType::I32 | DType::I64))?;
    }
    let n = x.n.need_input(1)?.shape.num_elements();
    if n != x.n.need_input(2)?.shape.num_elements() {
        return Err(Reason::Shape { tensor: In(2), detail: "not as long as the begins".into() });
    }
    if n.is_some_and(|n| n > MAX_DIMS as u64) {
        return Err(Reason::Shape { tensor: In(1), detail: "more than 6 dimensions".into() });
    }
    float_or_q8(x, In(0))?;
    float_or_q8(x, Out(0))?;
    if x.n.const_ints(2).unwrap_or_default().iter().any(|s| *s <= 0) {
        return Err(option("size", "not positive (-1 for \"the rest\" is not taken)"));
    }
    Ok(())
}

fn softmax(x: &X) -> Check {
    let Op::Softmax { beta } = x.n.op.op else { return Err(wrong_options()) };
    if beta != 1.0 {
        return Err(option("beta", format!("{beta} is not 1")));
    }
    x.n.arity(1, 1, 1, 1)?;
    float(x, In(0))?;
    float(x, Out(0))
}

fn split(x: &X) -> Check {
    x.n.arity(2, 2, 2, 4)?;
    int32(x, In(0))?;
    const_input(x, 0)?;
    float_or_q8(x, In(1))?;
    for o in 0..x.n.num_outputs() {
        float_or_q8(x, Out(o))?;
    }
    Ok(())
}

fn strided_slice(x: &X) -> Check {
    let Op::StridedSlice(o) = &x.n.op.op else { return Err(wrong_options()) };
    if o.ellipsis_mask != 0 || o.new_axis_mask != 0 || o.shrink_axis_mask != 0 {
        let name = if o.ellipsis_mask != 0 {
            "ellipsis_mask"
        } else if o.new_axis_mask != 0 {
            "new_axis_mask"
        } else {
            "shrink_axis_mask"
        };
        return Err(option(name, "not 0"));
    }
    x.n.arity(4, 4, 1, 1)?;
    for i in [3, 1, 2] {
        x.n.rank(In(i), 1, 1, "1")?;
        const_input(x, i)?;
        int32(x, In(i))?;
    }
    let n = x.n.need_input(3)?.shape.num_elements().unwrap_or(0);
    if n > MAX_DIMS as u64 {
        return Err(Reason::Shape { tensor: In(3), detail: "more than 6 dimensions".into() });
    }
    if x.n.const_ints(3).unwrap_or_default().iter().any(|s| *s != 1) {
        return Err(option("strides", "a stride other than 1"));
    }
    let lens = [1, 2, 3].map(|i| x.n.input(i).and_then(|t| t.shape.num_elements()));
    if lens[0] != lens[1] || lens[1] != lens[2] {
        return Err(Reason::Shape { tensor: In(2), detail: "begin, end and strides differ in length".into() });
    }
    float_or_q8(x, In(0))?;
    float_or_q8(x, Out(0))
}

fn transpose(x: &X) -> Check {
    x.n.arity(2, 2, 1, 1)?;
    float_or_q8(x, In(0))?;
    x.n.rank(In(1), 1, 1, "1")?;
    const_input(x, 1)?;
    let perm = x.n.const_ints(1).unwrap_or_default();
    if perm.len() > MAX_DIMS {
        return Err(Reason::Shape { tensor: In(1), detail: "more than 6 dimensions".into() });
    }
    if perm.iter().any(|p| *p < 0) {
        return Err(option("perm", "a negative axis"));
    }
    float_or_q8(x, Out(0))
}

fn transpose_conv(x: &X) -> Check {
    let Op::TransposeConv(o) = &x.n.op.op else { return Err(wrong_options()) };
    x.n.arity(3, 4, 1, 1)?;
    int32(x, In(0))?;
    x.n.rank(In(0), 1, 1, "1")?;
    const_input(x, 0)?;
    if x.n.need_input(0)?.shape.num_elements() != Some(4) {
        return Err(Reason::Shape { tensor: In(0), detail: "not 4 elements".into() });
    }
    shape(x, In(1), 4, 4, "4")?;
    static_input(x, 1)?;
    f32_or_q8(x, In(2))?;
    shape(x, In(2), 4, 4, "4")?;
    filter_type(x, In(1), Some(0))?;
    if x.n.input(3).is_some() {
        bias_type(x, In(3))?;
        shape(x, In(3), 1, 1, "1")?;
        static_input(x, 3)?;
    }
    f32_or_q8(x, Out(0))?;
    shape(x, Out(0), 4, 4, "4")?;
    if o.stride_w <= 0 || o.stride_h <= 0 {
        return Err(option("stride", "not positive"));
    }
    if !matches!(o.padding, Padding::Same | Padding::Valid) {
        return Err(option("padding", "unknown"));
    }
    act(o.activation)
}

/// `VisitVarHandleNode`, `VisitReadVariableNode`,
/// `VisitAssignVariableNode`: values of float or 8-bit quantized type, a
/// read's of rank ≥ 1 (the resource bookkeeping is [`Variables`]).
fn variable_op(x: &X) -> Check {
    if !x.p.variable_ops {
        return Err(Reason::OpNotSupported);
    }
    match &x.n.op.op {
        Op::AssignVariable => float_or_q8(x, In(1)),
        Op::ReadVariable => {
            if x.n.output(0).is_some_and(|t| t.shape.rank() == 0) {
                return Err(Reason::Rank { tensor: Out(0), rank: 0, expected: "at least 1" });
            }
            float_or_q8(x, Out(0))
        }
        _ => Ok(()),
    }
}

/// MediaPipe custom ops (`VisitMediaPipe*Node`): float32 NHWC only.
fn custom(x: &X, name: &str) -> Check {
    let (ins, outs) = match name {
        "Convolution2DTransposeBias" => (3, 1),
        "MaxPoolingWithArgmax2D" => (1, 2),
        "MaxUnpooling2D" => (2, 1),
        _ => return Err(Reason::OpNotSupported),
    };
    x.n.arity(ins, ins, outs, outs)?;
    let f32 = |t: &Tensor| t.dtype == DType::F32;
    x.n.dtype(In(0), "float32", f32)?;
    shape(x, In(0), 4, 4, "4")?;
    if name == "Convolution2DTransposeBias" {
        x.n.dtype(In(1), "float32", f32)?;
        shape(x, In(1), 4, 4, "4")?;
        static_input(x, 1)?;
        x.n.dtype(In(2), "float32", f32)?;
        static_input(x, 2)?;
    }
    x.n.dtype(Out(0), "float32", f32)?;
    shape(x, Out(0), 4, 4, "4")
}
