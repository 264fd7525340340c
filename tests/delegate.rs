//! Unit tests of the delegate-compatibility rules (`tflite_forge::delegate`).
//!
//! XNNPACK's rules are judged by LiteRT itself in the conformance tier
//! (tests/conformance/delegate_tier.rs); the GPU delegate and Core ML cannot
//! run here, so each of their rules that says "no" has a test below, on a
//! small model built raw (bypassing the builders' validation where a rule
//! is about a file the builders would refuse).

use tflite_forge::delegate::{self, Delegate, Reason, ReportOptions, TensorRef, XnnpackProfile};
use tflite_forge::{
    Activation, AddSubOptions, BatchMatMulOptions, CastOptions, ConcatenationOptions, ConstData, Conv2dOptions, DType, DepthToSpaceOptions,
    DepthwiseConv2dOptions, FullyConnectedOptions, MirrorPadMode, Model, Op, Operator, Padding, Pool2dOptions, Quantization, ResizeOptions,
    SpaceToDepthOptions, StridedSliceOptions, Subgraph, Tensor, TensorId, TransposeConvOptions, WeightsFormat,
};

use Delegate::{CoreMl, Gpu, Xnnpack};

/// A subgraph under construction; the op under test is the first one.
#[derive(Default)]
struct G {
    sg: Subgraph,
}

impl G {
    fn push(&mut self, t: Tensor) -> TensorId {
        self.sg.tensors.push(t);
        TensorId(self.sg.tensors.len() as u32 - 1)
    }
    /// A runtime tensor.
    fn t(&mut self, dtype: DType, shape: &[u32]) -> TensorId {
        self.push(Tensor::new("t", dtype, shape))
    }
    /// A zero-filled constant.
    fn c(&mut self, dtype: DType, shape: &[u32]) -> TensorId {
        let t = Tensor::new("c", dtype, shape);
        let bytes = t.expected_bytes().unwrap_or(0) as usize;
        self.push(t.with_data(ConstData::from_bytes(vec![0u8; bytes])))
    }
    fn ci(&mut self, shape: &[u32], v: &[i32]) -> TensorId {
        self.push(Tensor::new("c", DType::I32, shape).with_data(ConstData::from_slice(v)))
    }
    fn q(&mut self, dtype: DType, shape: &[u32], scale: f32) -> TensorId {
        self.push(Tensor::new("q", dtype, shape).with_quantization(Quantization::per_tensor(scale, 0)))
    }
    fn op(&mut self, op: Op, ins: &[Option<TensorId>], outs: &[TensorId]) {
        let mut o = Operator::new(op, &[], outs);
        o.inputs = ins.to_vec();
        self.sg.operators.push(o);
    }
    fn model(self) -> Model {
        let mut m = Model::default();
        m.subgraphs.push(self.sg);
        m
    }
}

/// The reason `d` gives for the first op (None: taken).
fn why(m: &Model, d: Delegate) -> Option<Reason> {
    why_with(m, d, &ReportOptions::default())
}

fn why_with(m: &Model, d: Delegate, o: &ReportOptions) -> Option<Reason> {
    delegate::report_with(m, o).ops[0].verdict(d).reason.clone()
}

/// One op `op` with inputs `ins` (None: omitted) and one output of `out`.
fn one(op: Op, ins: &[(DType, &[u32], bool)], out: (DType, &[u32])) -> Model {
    let mut g = G::default();
    let ids: Vec<Option<TensorId>> = ins.iter().map(|(d, s, c)| Some(if *c { g.c(*d, s) } else { g.t(*d, s) })).collect();
    let y = g.t(out.0, out.1);
    g.op(op, &ids, &[y]);
    g.model()
}

const F: DType = DType::F32;

fn is_arity(r: Option<Reason>) -> bool {
    matches!(r, Some(Reason::Arity { .. }))
}

fn is_option(r: Option<Reason>, name: &str) -> bool {
    matches!(r, Some(Reason::Option { name: n, .. }) if n == name)
}

fn is_dtype(r: Option<Reason>, tensor: TensorRef) -> bool {
    matches!(r, Some(Reason::Dtype { tensor: t, .. }) if t == tensor)
}

fn is_rank(r: Option<Reason>, tensor: TensorRef) -> bool {
    matches!(r, Some(Reason::Rank { tensor: t, .. }) if t == tensor)
}

fn is_shape(r: Option<Reason>, tensor: TensorRef) -> bool {
    matches!(r, Some(Reason::Shape { tensor: t, .. }) if t == tensor)
}

fn not_const(r: Option<Reason>, i: usize, must: bool) -> bool {
    r == Some(Reason::NotConstant { tensor: TensorRef::Input(i), must_be_constant: must })
}

use TensorRef::{Input as In, Output as Out};

fn pool(filter: i32, stride: i32, a: Activation) -> Op {
    Op::MaxPool2d(Pool2dOptions::new(Padding::Valid, filter, filter, stride, stride).with_activation(a))
}

fn conv(stride: i32, dilation: i32, a: Activation) -> Op {
    Op::Conv2d(Conv2dOptions::new(Padding::Same, stride, stride).with_dilation(dilation, dilation).with_activation(a))
}

fn conv_model(op: Op, weights_const: bool, bias_const: bool) -> Model {
    one(op, &[(F, &[1, 4, 4, 2], false), (F, &[3, 1, 1, 2], weights_const), (F, &[3], bias_const)], (F, &[1, 4, 4, 3]))
}

// ---- GPU (gpu_compatibility.cc) ----

#[test]
fn gpu_takes_a_plain_conv_and_rejects_unknown_ops() {
    assert_eq!(why(&conv_model(conv(1, 1, Activation::Relu), true, true), Gpu), None);
    assert_eq!(why(&one(Op::GatherNd, &[(F, &[2, 2], false), (DType::I32, &[1, 1], false)], (F, &[1, 2])), Gpu), Some(Reason::OpNotSupported));
    let custom = Op::Custom(tflite_forge::CustomOp::new("MyOp", vec![]));
    assert_eq!(why(&one(custom, &[(F, &[1], false)], (F, &[1])), Gpu), Some(Reason::OpNotSupported));
}

#[test]
fn gpu_add_mul_arity_broadcast_activation() {
    let add = Op::Add(AddSubOptions::default());
    assert!(is_arity(why(&one(add.clone(), &[(F, &[2], false), (F, &[2], false), (F, &[2], false)], (F, &[2])), Gpu)));
    assert!(is_shape(why(&one(add.clone(), &[(F, &[1, 2, 3], false), (F, &[4, 5], false)], (F, &[1, 2, 3])), Gpu), In(1)));
    assert_eq!(why(&one(add, &[(F, &[1, 2, 3], false), (F, &[2, 1], false)], (F, &[1, 2, 3])), Gpu), None);
    assert!(is_option(why(&one(Op::Mul(Activation::SignBit), &[(F, &[2], false), (F, &[2], false)], (F, &[2])), Gpu), "fused_activation_function"));
    assert!(is_arity(why(&one(Op::AddN, &[(F, &[2u32][..], false); 3], (F, &[2])), Gpu)));
}

#[test]
fn gpu_pooling_rules() {
    let x = (F, &[1u32, 4, 4, 1][..], false);
    let out = (F, &[1u32, 2, 2, 1][..]);
    assert_eq!(why(&one(pool(2, 2, Activation::None), &[x], out), Gpu), None);
    assert!(is_arity(why(&one(pool(2, 2, Activation::None), &[(F, &[1, 4, 4, 1], true)], out), Gpu)));
    assert!(is_option(why(&one(pool(0, 2, Activation::None), &[x], out), Gpu), "filter"));
    assert!(is_option(why(&one(pool(2, 0, Activation::None), &[x], out), Gpu), "stride"));
    assert!(is_option(why(&one(pool(2, 2, Activation::SignBit), &[x], out), Gpu), "fused_activation_function"));
}

#[test]
fn gpu_conv_rules() {
    assert!(is_arity(why(&one(conv(1, 1, Activation::None), &[(F, &[1, 4, 4, 2], true), (F, &[3, 1, 1, 2], true)], (F, &[1, 4, 4, 3])), Gpu)));
    assert!(is_option(why(&conv_model(conv(0, 1, Activation::None), true, true), Gpu), "stride"));
    assert!(is_option(why(&conv_model(conv(1, 0, Activation::None), true, true), Gpu), "dilation"));
    assert!(is_option(why(&conv_model(conv(1, 1, Activation::SignBit), true, true), Gpu), "fused_activation_function"));
    let tconv = |s| Op::TransposeConv(TransposeConvOptions::new(Padding::Same, s, s));
    let tc = |s| one(tconv(s), &[(DType::I32, &[4], true), (F, &[2, 1, 1, 2], true), (F, &[1, 2, 2, 2], false)], (F, &[1, 2, 2, 2]));
    assert_eq!(why(&tc(1), Gpu), None);
    assert!(is_option(why(&tc(0), Gpu), "stride"));
}

#[test]
fn gpu_depthwise_rules() {
    let dw = |m| Op::DepthwiseConv2d(DepthwiseConv2dOptions::new(Padding::Same, 1, 1, m));
    let ok = one(dw(1), &[(F, &[1, 4, 4, 2], false), (F, &[1, 1, 1, 2], true), (F, &[2], true)], (F, &[1, 4, 4, 2]));
    assert_eq!(why(&ok, Gpu), None);
    assert!(is_rank(why(&one(dw(1), &[(F, &[4, 4, 2], false), (F, &[1, 1, 1, 2], true)], (F, &[1, 4, 4, 2])), Gpu), In(0)));
    assert!(is_option(why(&one(dw(2), &[(F, &[1, 4, 4, 2], false), (F, &[1, 1, 1, 2], true)], (F, &[1, 4, 4, 2])), Gpu), "depth_multiplier"));
    assert!(is_shape(why(&one(dw(1), &[(F, &[1, 4, 4, 2], false), (F, &[1, 1, 1, 2], true), (F, &[3], true)], (F, &[1, 4, 4, 2])), Gpu), In(2)));
    assert!(is_shape(why(&one(dw(1), &[(F, &[1, 4, 4, 2], false), (F, &[1, 1, 1, 2], true)], (F, &[2, 4, 4, 2])), Gpu), Out(0)));
    assert!(is_shape(why(&one(dw(1), &[(F, &[1, 4, 4, 2], false), (F, &[1, 1, 1, 3], true)], (F, &[1, 4, 4, 2])), Gpu), In(1)));
}

#[test]
fn gpu_fully_connected_rules() {
    let fc = |o: FullyConnectedOptions| Op::FullyConnected(o);
    let x = (F, &[2u32, 3][..], false);
    let w = (F, &[4u32, 3][..], true);
    assert_eq!(why(&one(fc(Default::default()), &[x, w], (F, &[2, 4])), Gpu), None);
    let mut shuffled = FullyConnectedOptions::default();
    shuffled.weights_format = WeightsFormat::Shuffled4x16Int8;
    assert!(is_option(why(&one(fc(shuffled), &[x, w], (F, &[2, 4])), Gpu), "weights_format"));
    assert!(is_arity(why(&one(fc(Default::default()), &[x, (F, &[4, 3], false), (F, &[4], false)], (F, &[2, 4])), Gpu)));
    assert!(not_const(why(&one(fc(Default::default()), &[(F, &[2, 3], true), w], (F, &[2, 4])), Gpu), 0, false));
    let keep = FullyConnectedOptions::default().with_keep_num_dims(true);
    assert!(is_option(why(&one(fc(keep), &[(F, &[1, 2, 3], false), w], (F, &[2, 4])), Gpu), "keep_num_dims"));
}

#[test]
fn gpu_type_rules() {
    let cast = Op::Cast(CastOptions::default());
    assert_eq!(why(&one(cast.clone(), &[(DType::I32, &[2], false)], (F, &[2])), Gpu), None);
    assert!(is_dtype(why(&one(cast, &[(DType::I32, &[2], false)], (DType::Bool, &[2])), Gpu), Out(0)));
    assert!(is_dtype(why(&one(Op::Dequantize, &[(DType::I16, &[2], true)], (F, &[2])), Gpu), In(0)));
    let cumsum = Op::Cumsum(Default::default());
    assert!(is_dtype(why(&one(cumsum.clone(), &[(DType::I32, &[2], false), (DType::I32, &[], true)], (DType::I32, &[2])), Gpu), In(0)));
    assert!(not_const(why(&one(cumsum, &[(F, &[2], false), (DType::I32, &[], false)], (F, &[2])), Gpu), 1, true));
    assert!(is_dtype(why(&one(Op::StablehloCbrt, &[(DType::I32, &[2], false)], (DType::I32, &[2])), Gpu), In(0)));
    assert!(is_dtype(why(&one(Op::StablehloCbrt, &[(F, &[2], false)], (DType::F16, &[2])), Gpu), Out(0)));
}

#[test]
fn gpu_runtime_and_constant_input_counts() {
    assert!(is_arity(why(&one(Op::Densify, &[(F, &[2], false)], (F, &[2])), Gpu)));
    assert!(is_arity(why(&one(Op::Reshape { new_shape: None }, &[(F, &[2, 3], false), (DType::I32, &[1], false)], (F, &[6])), Gpu)));
    assert!(is_arity(why(&one(Op::TopkV2, &[(F, &[5], false), (DType::I32, &[], true)], (F, &[2])), Gpu)));
    assert!(is_arity(why(&one(Op::Exp, &[(F, &[2], true)], (F, &[2])), Gpu)));
    assert!(is_arity(why(&one(Op::Maximum, &[(F, &[2], true), (F, &[2], true)], (F, &[2])), Gpu)));
    let sub = Op::Sub(AddSubOptions::default().with_activation(Activation::SignBit));
    assert!(is_option(why(&one(sub, &[(F, &[2], false), (F, &[2], false)], (F, &[2])), Gpu), "fused_activation_function"));
    assert!(is_arity(why(&one(Op::BatchMatMul(BatchMatMulOptions::default()), &[(F, &[2u32, 2][..], false); 3], (F, &[2, 2])), Gpu)));
}

#[test]
fn gpu_gather_and_reduce_rules() {
    let gather = Op::Gather(Default::default());
    assert_eq!(why(&one(gather.clone(), &[(F, &[5, 3], false), (DType::I32, &[2], true)], (F, &[2, 3])), Gpu), None);
    assert!(is_rank(why(&one(gather.clone(), &[(F, &[5, 3], false), (DType::I32, &[1, 2], true)], (F, &[1, 2, 3])), Gpu), In(1)));
    assert!(is_dtype(why(&one(gather.clone(), &[(F, &[5, 3], false), (DType::I64, &[2], true)], (F, &[2, 3])), Gpu), In(1)));
    assert!(is_arity(why(&one(gather, &[(F, &[5, 3], true), (DType::I32, &[2], true)], (F, &[2, 3])), Gpu)));
    let mean = Op::Mean { keep_dims: true };
    assert!(is_arity(why(&one(mean.clone(), &[(F, &[2, 3], false), (DType::I32, &[1], false)], (F, &[2, 1])), Gpu)));
    assert!(is_dtype(why(&one(mean, &[(F, &[2, 3], false), (DType::I64, &[1], true)], (F, &[2, 1])), Gpu), In(1)));
}

#[test]
fn gpu_select_rules() {
    let s = |c: (DType, &'static [u32], bool), x: (DType, &'static [u32], bool)| one(Op::SelectV2, &[c, x, (F, &[2, 3], true)], (F, &[2, 3]));
    assert_eq!(why(&s((DType::Bool, &[2, 3], false), (F, &[2, 3], true)), Gpu), None);
    assert!(is_dtype(why(&s((DType::I32, &[2, 3], false), (F, &[2, 3], true)), Gpu), In(0)));
    assert!(is_shape(why(&s((DType::Bool, &[4], false), (F, &[2, 3], true)), Gpu), In(0)));
    assert!(is_shape(why(&s((DType::Bool, &[2, 3], false), (F, &[3, 3], true)), Gpu), In(1)));
    assert!(not_const(why(&s((DType::Bool, &[2, 3], false), (F, &[2, 3], false)), Gpu), 1, true));
}

#[test]
fn gpu_layout_rules() {
    assert!(is_rank(why(&one(Op::Slice, &[(F, &[2, 3], false), (DType::I32, &[2], true), (DType::I32, &[2], true)], (F, &[1, 1])), Gpu), In(0)));
    assert!(is_option(why(&one(Op::Softmax { beta: 0.5 }, &[(F, &[2], false)], (F, &[2])), Gpu), "beta"));
    let mut d2s = DepthToSpaceOptions::default();
    d2s.block_size = 1;
    assert!(is_option(why(&one(Op::DepthToSpace(d2s), &[(F, &[1, 2, 2, 4], false)], (F, &[1, 2, 2, 4])), Gpu), "block_size"));
    let mut s2d = SpaceToDepthOptions::default();
    s2d.block_size = 0;
    assert!(is_option(why(&one(Op::SpaceToDepth(s2d), &[(F, &[1, 2, 2, 4], false)], (F, &[1, 2, 2, 4])), Gpu), "block_size"));
    let ss = |o: StridedSliceOptions, shape: &'static [u32]| {
        one(Op::StridedSlice(o), &[(F, shape, false), (DType::I32, &[4], true), (DType::I32, &[4], true), (DType::I32, &[4], true)], (F, &[1, 1, 1, 1]))
    };
    assert_eq!(why(&ss(Default::default(), &[1, 2, 2, 2]), Gpu), None);
    assert!(is_option(why(&ss(StridedSliceOptions::default().with_ellipsis_mask(1), &[1, 2, 2, 2]), Gpu), "ellipsis_mask"));
    assert!(is_option(why(&ss(StridedSliceOptions::default().with_new_axis_mask(1), &[1, 2, 2, 2]), Gpu), "new_axis_mask"));
    assert!(is_option(why(&ss(StridedSliceOptions::default().with_shrink_axis_mask(1), &[1, 2, 2, 2]), Gpu), "shrink_axis_mask"));
    assert!(is_rank(why(&ss(Default::default(), &[2, 2]), Gpu), In(0)));
    let rb = Op::ResizeBilinear(ResizeOptions::default().with_align_corners(true).with_half_pixel_centers(true));
    assert!(is_option(why(&one(rb, &[(F, &[1, 2, 2, 1], false), (DType::I32, &[2], true)], (F, &[1, 4, 4, 1])), Gpu), "half_pixel_centers"));
    let pad = |op: Op, p: &'static [u32]| one(op, &[(F, &[1, 2, 2, 1], false), (DType::I32, p, true)], (F, &[1, 4, 4, 1]));
    assert_eq!(why(&pad(Op::Pad, &[4, 2]), Gpu), None);
    assert!(is_option(why(&pad(Op::MirrorPad { mode: MirrorPadMode::Symmetric }, &[4, 2]), Gpu), "mode"));
    assert!(is_shape(why(&pad(Op::Pad, &[2, 2]), Gpu), In(1)));
    assert!(is_rank(why(&pad(Op::Pad, &[8]), Gpu), In(1)));
}

// ---- Core ML (coreml_delegate.mm and builders/) ----

#[test]
fn coreml_op_version_and_float_input() {
    assert_eq!(why(&conv_model(conv(1, 1, Activation::Relu), true, true), CoreMl), None);
    assert_eq!(why(&one(Op::Exp, &[(F, &[2], false)], (F, &[2])), CoreMl), Some(Reason::OpNotSupported));
    // An int8 convolution is version 3: above Core ML's 1.
    let mut g = G::default();
    let x = g.q(DType::I8, &[1, 4, 4, 2], 0.1);
    let w = g.push(Tensor::new("w", DType::I8, [3u32, 1, 1, 2]).with_data(ConstData::from_bytes(vec![0u8; 6])).with_quantization(Quantization::per_tensor(0.1, 0)));
    let b = g.push(Tensor::new("b", DType::I32, [3u32]).with_data(ConstData::from_bytes(vec![0u8; 12])).with_quantization(Quantization::per_tensor(0.01, 0)));
    let y = g.q(DType::I8, &[1, 4, 4, 3], 0.1);
    g.op(conv(1, 1, Activation::None), &[Some(x), Some(w), Some(b)], &[y]);
    assert!(matches!(why(&g.model(), CoreMl), Some(Reason::VersionTooHigh { max: 1, .. })));
    // A version-1 op on a non-float input.
    assert!(is_dtype(why(&one(Op::Relu, &[(DType::F16, &[2], false)], (DType::F16, &[2])), CoreMl), In(0)));
}

#[test]
fn coreml_binary_rules() {
    let add = || Op::Add(AddSubOptions::default());
    let m = |a: (DType, &'static [u32], bool), b: (DType, &'static [u32], bool)| one(add(), &[a, b], (F, &[1, 2, 2, 3]));
    assert_eq!(why(&m((F, &[1, 2, 2, 3], false), (F, &[3], true)), CoreMl), None);
    assert!(is_dtype(why(&m((F, &[1, 2, 2, 3], false), (DType::F16, &[3], false)), CoreMl), In(1)));
    assert!(is_shape(why(&m((F, &[1, 2, 2, 3], false), (F, &[2, 2, 2, 3], false)), CoreMl), In(1)));
    assert!(is_shape(why(&m((F, &[1, 2, 2, 3], false), (F, &[1, 2, 1, 3], false)), CoreMl), In(1)));
    assert!(is_shape(why(&m((F, &[1, 2, 2, 3], false), (F, &[1, 2, 2, 2], false)), CoreMl), In(1)));
}

#[test]
fn coreml_pool_concat_rules() {
    assert!(is_option(why(&one(pool(2, 2, Activation::Relu), &[(F, &[1, 4, 4, 1], false)], (F, &[1, 2, 2, 1])), CoreMl), "fused_activation_function"));
    let cat = |axis: i32, a: Activation| {
        let mut o = ConcatenationOptions::new(axis);
        o.activation = a;
        Op::Concatenation(o)
    };
    let x = (F, &[1u32, 2, 2, 3][..], false);
    assert_eq!(why(&one(cat(3, Activation::None), &[x, x], (F, &[1, 2, 2, 6])), CoreMl), None);
    assert!(is_option(why(&one(cat(3, Activation::Relu), &[x, x], (F, &[1, 2, 2, 6])), CoreMl), "fused_activation_function"));
    assert!(is_arity(why(&one(cat(3, Activation::None), &[x], (F, &[1, 2, 2, 3])), CoreMl)));
    assert!(is_rank(why(&one(cat(1, Activation::None), &[(F, &[2, 3], false), (F, &[2, 3], false)], (F, &[2, 6])), CoreMl), In(0)));
    assert!(is_option(why(&one(cat(1, Activation::None), &[x, x], (F, &[1, 4, 2, 3])), CoreMl), "axis"));
}

#[test]
fn coreml_convolution_rules() {
    assert!(is_option(why(&conv_model(conv(1, 1, Activation::SignBit), true, true), CoreMl), "fused_activation_function"));
    assert!(not_const(why(&conv_model(conv(1, 1, Activation::None), false, true), CoreMl), 1, true));
    assert!(not_const(why(&conv_model(conv(1, 1, Activation::None), true, false), CoreMl), 2, true));
    let big = one(conv(1, 1, Activation::None), &[(F, &[1, 4, 4, 1], false), (F, &[1, 16385, 1, 1], true), (F, &[1], true)], (F, &[1, 4, 4, 1]));
    assert!(is_shape(why(&big, CoreMl), In(1)));
    let tc = one(
        Op::TransposeConv(TransposeConvOptions::new(Padding::Same, 1, 1)),
        &[(DType::I32, &[4], false), (F, &[2, 1, 1, 2], true), (F, &[1, 2, 2, 2], false)],
        (F, &[1, 2, 2, 2]),
    );
    assert!(not_const(why(&tc, CoreMl), 0, true));
}

#[test]
fn coreml_fully_connected_rules() {
    let fc = |o: FullyConnectedOptions| Op::FullyConnected(o);
    let x = (F, &[1u32, 3][..], false);
    let w = (F, &[4u32, 3][..], true);
    assert_eq!(why(&one(fc(Default::default()), &[x, w], (F, &[1, 4])), CoreMl), None);
    let mut shuffled = FullyConnectedOptions::default();
    shuffled.weights_format = WeightsFormat::Shuffled4x16Int8;
    assert!(is_option(why(&one(fc(shuffled), &[x, w], (F, &[1, 4])), CoreMl), "weights_format"));
    assert!(not_const(why(&one(fc(Default::default()), &[x, (F, &[4, 3], false)], (F, &[1, 4])), CoreMl), 1, true));
    assert!(is_shape(why(&one(fc(Default::default()), &[(F, &[2, 3], false), w], (F, &[2, 4])), CoreMl), In(0)));
    assert!(not_const(why(&one(fc(Default::default()), &[x, w, (F, &[4], false)], (F, &[1, 4])), CoreMl), 2, true));
    assert!(is_option(why(&one(fc(FullyConnectedOptions::default().with_activation(Activation::SignBit)), &[x, w], (F, &[1, 4])), CoreMl), "fused_activation_function"));
}

#[test]
fn coreml_pad_mean_reshape_resize_softmax_rules() {
    let pad = |op: Op, shape: &[u32], v: &[i32], constant: bool| {
        let mut g = G::default();
        let x = g.t(F, &[1, 2, 2, 1]);
        let p = if constant { g.ci(shape, v) } else { g.t(DType::I32, shape) };
        let y = g.t(F, &[1, 4, 4, 1]);
        g.op(op, &[Some(x), Some(p)], &[y]);
        g.model()
    };
    let hw = [0, 0, 1, 1, 1, 1, 0, 0];
    assert_eq!(why(&pad(Op::Pad, &[4, 2], &hw, true), CoreMl), None);
    assert!(not_const(why(&pad(Op::Pad, &[4, 2], &hw, false), CoreMl), 1, true));
    assert!(is_shape(why(&pad(Op::Pad, &[3, 2], &hw[..6], true), CoreMl), In(1)));
    assert!(is_option(why(&pad(Op::Pad, &[4, 2], &[1, 0, 1, 1, 1, 1, 0, 0], true), CoreMl), "paddings"));
    assert!(is_option(why(&pad(Op::Pad, &[4, 2], &[0, 0, 1, 1, 1, 1, 0, 1], true), CoreMl), "paddings"));
    assert!(is_option(why(&pad(Op::MirrorPad { mode: MirrorPadMode::Symmetric }, &[4, 2], &hw, true), CoreMl), "mode"));

    let mean = |keep: bool, shape: &[u32], axes: &[i32]| {
        let mut g = G::default();
        let x = g.t(F, shape);
        let a = g.ci(&[axes.len() as u32], axes);
        let y = g.t(F, &[1, 1, 1, 1]);
        g.op(Op::Mean { keep_dims: keep }, &[Some(x), Some(a)], &[y]);
        g.model()
    };
    assert_eq!(why(&mean(true, &[1, 4, 4, 2], &[1, 2]), CoreMl), None);
    assert!(is_option(why(&mean(false, &[1, 4, 4, 2], &[1, 2]), CoreMl), "keep_dims"));
    assert!(is_rank(why(&mean(true, &[4, 4, 2], &[1]), CoreMl), In(0)));
    assert!(is_option(why(&mean(true, &[1, 4, 4, 2], &[3]), CoreMl), "axes"));

    let reshape = |shape_const: bool, n: u32| {
        let mut g = G::default();
        let x = g.t(F, &[1, 2, 3, 4]);
        let s = if shape_const { g.ci(&[n], &vec![1; n as usize]) } else { g.t(DType::I32, &[n]) };
        let y = g.t(F, &[24]);
        g.op(Op::Reshape { new_shape: None }, &[Some(x), Some(s)], &[y]);
        g.model()
    };
    let v2 = {
        let mut o = ReportOptions::default();
        o.coreml_version = 2;
        o
    };
    assert!(is_option(why(&reshape(true, 4), CoreMl), "coreml_version"));
    assert_eq!(why_with(&reshape(true, 4), CoreMl, &v2), None);
    assert!(not_const(why_with(&reshape(false, 4), CoreMl, &v2), 1, true));
    assert!(is_rank(why_with(&reshape(true, 2), CoreMl, &v2), Out(0)));

    let rb = one(Op::ResizeBilinear(ResizeOptions::default()), &[(F, &[1, 2, 2, 1], false), (DType::I32, &[2], false)], (F, &[1, 4, 4, 1]));
    assert!(not_const(why(&rb, CoreMl), 1, true));
    assert!(is_option(why(&one(Op::Softmax { beta: 2.0 }, &[(F, &[2], false)], (F, &[2])), CoreMl), "beta"));
}

// ---- XNNPACK: what the conformance tier cannot vary ----

#[test]
fn xnnpack_profile_switches_quantized_and_variable_ops() {
    let mut g = G::default();
    let x = g.q(DType::I8, &[1, 4], 0.1);
    let y = g.q(DType::I8, &[1, 4], 0.1);
    g.op(Op::Tanh, &[Some(x)], &[y]);
    let m = g.model();
    assert_eq!(why(&m, Xnnpack), None);
    let mut o = ReportOptions::default();
    let mut p = XnnpackProfile::default();
    p.qs8 = false;
    o.xnnpack = p;
    assert!(is_dtype(why_with(&m, Xnnpack, &o), In(0)));

    // Variable ops are on by default (as in the wheel); off, they are not
    // supported at all.
    let read = one(Op::ReadVariable, &[(DType::Resource, &[], false)], (F, &[2]));
    let mut p = XnnpackProfile::default();
    assert!(p.variable_ops);
    p.variable_ops = false;
    o.xnnpack = p;
    assert_eq!(why_with(&read, Xnnpack, &o), Some(Reason::OpNotSupported));
    // On, a READ_VARIABLE needs a VAR_HANDLE of its resource earlier in
    // the subgraph.
    assert!(matches!(why(&read, Xnnpack), Some(Reason::Option { name: "resource", .. })), "{:?}", why(&read, Xnnpack));
}

/// VAR_HANDLE goes with the delegated reads and assigns of its variable
/// (`ResourceInfo` in xnnpack_delegate.cc): an int8 or float variable is
/// taken, an int16 one is not (its READ_VARIABLE has no XNNPACK type), and
/// then neither is its VAR_HANDLE.
#[test]
fn xnnpack_variables_go_with_their_reads_and_assigns() {
    use tflite_forge::VarHandleOptions;
    for (dtype, taken) in [(DType::I8, true), (F, true), (DType::I16, false)] {
        let mut sg = Subgraph::default();
        let t = |sg: &mut Subgraph, dtype: DType, shape: &[u32]| {
            let mut x = Tensor::new(format!("t{}", sg.tensors.len()), dtype, shape);
            if matches!(dtype, DType::I8 | DType::I16) {
                x.quantization = Some(Quantization::per_tensor(0.1, 0));
            }
            sg.tensors.push(x);
            TensorId(sg.tensors.len() as u32 - 1)
        };
        let h = t(&mut sg, DType::Resource, &[]);
        let v = t(&mut sg, dtype, &[2, 3]);
        let mut o = VarHandleOptions::default();
        o.shared_name = "v".into();
        sg.operators.push(Operator::new(Op::VarHandle(o), &[], &[h]));
        sg.operators.push(Operator::new(Op::ReadVariable, &[h], &[v]));
        sg.outputs = vec![v];
        let mut m = Model::default();
        m.subgraphs.push(sg);
        let r = delegate::report(&m);
        let reasons: Vec<Option<Reason>> = r.ops.iter().map(|o| o.verdict(Xnnpack).reason.clone()).collect();
        if taken {
            assert_eq!(reasons, [None, None], "{dtype}");
        } else {
            assert_eq!(reasons[0], Some(Reason::ConsumerNotDelegated), "{dtype}");
            assert!(matches!(reasons[1], Some(Reason::Dtype { .. })), "{dtype}: {reasons:?}");
        }
    }
}

#[test]
fn xnnpack_float16_weights_go_with_their_consumer() {
    // DEQUANTIZE(f16 constant) -> FULLY_CONNECTED: both delegated; with a
    // GATHER reading the dequantized weights too, the DEQUANTIZE stays.
    let build = |with_gather: bool| {
        let mut g = G::default();
        let x = g.t(F, &[2, 3]);
        let w16 = g.c(DType::F16, &[4, 3]);
        let w = g.t(F, &[4, 3]);
        let y = g.t(F, &[2, 4]);
        g.op(Op::Dequantize, &[Some(w16)], &[w]);
        g.op(Op::FullyConnected(Default::default()), &[Some(x), Some(w), None], &[y]);
        if with_gather {
            let i = g.ci(&[1], &[0]);
            let z = g.t(F, &[1, 3]);
            g.op(Op::Gather(Default::default()), &[Some(w), Some(i)], &[z]);
        }
        g.model()
    };
    let r = delegate::report(&build(false));
    assert_eq!(r.taken(Xnnpack), vec![(0, 0), (0, 1)]);
    let r = delegate::report(&build(true));
    assert_eq!(r.ops[0].verdict(Xnnpack).reason, Some(Reason::ConsumerNotDelegated));
    assert!(r.ops[1].verdict(Xnnpack).is_supported());
}

// ---- report plumbing ----

#[test]
fn summaries_count_ops_macs_and_partitions_over_all_subgraphs() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tf/misc_ops_fp32.tflite")).unwrap();
    let m = tflite_forge::read(&bytes).unwrap();
    let r = delegate::report(&m);
    let x = r.summary(Xnnpack);
    assert_eq!((x.ops_taken, x.ops_total, x.partitions), (10, 11, 2));
    assert!(x.macs_total > 0 && x.macs_taken == x.macs_total, "{x}");
    let text = r.to_string();
    assert!(text.contains("STRIDED_SLICE") && text.contains("xnnpack: no"), "{text}");
    assert!(text.lines().last().unwrap().starts_with("coreml: "), "{text}");
    assert_eq!(r.ops.len(), 11);
    for o in &r.ops {
        for v in &o.verdicts {
            if let Some(reason) = &v.reason {
                assert!(!reason.kind().is_empty() && !reason.to_string().is_empty());
            }
        }
    }
    assert_eq!(delegate::rule_source(Gpu, 3), Some(("tflite/tools/versioning/gpu_compatibility.cc", "case kTfLiteBuiltinConv2d")));
}

#[test]
fn xnnpack_takes_blockwise_int4_fully_connected_with_blocks_of_32s() {
    use tflite_forge::quantize::{quantize, QuantizeOptions};
    let mut b = tflite_forge::ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [2, 128]);
    let w: Vec<f32> = (0..16 * 128).map(|k| ((k * 7) % 13) as f32 / 13.0 - 0.5).collect();
    let w = g.constant_f32("w", [16, 128], &w);
    let y = g.fully_connected(x, w, None, tflite_forge::FullyConnectedOptions::default()).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let mut q = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_block_size(Some(32)), &[]).unwrap().model;
    // Measured in LiteRT: XNNPACK claims the node (conformance quantize
    // tier, fc_stack/dynamic_int4_block32).
    assert_eq!(why(&q, Xnnpack), None);
    // Blocks of 16 it refuses ("Blocksize must be multiple of 32"); the
    // builtin kernel runs them.
    let sg = &mut q.subgraphs[0];
    let wi = sg.operators[0].inputs[1].unwrap().index();
    let scales = sg.tensors[wi].quantization.as_ref().unwrap().details.as_ref().unwrap().blockwise().unwrap().scales;
    if let Some(tflite_forge::QuantDetails::Blockwise(b)) = sg.tensors[wi].quantization.as_mut().unwrap().details.as_mut() {
        b.block_size = 16;
    }
    let s = &mut sg.tensors[scales.index()];
    s.shape = tflite_forge::Shape::new([16, 8]);
    s.data = Some(tflite_forge::ConstData::from_slice(&[half::f16::ONE; 128]));
    tflite_forge::validate::validate(&q).unwrap();
    assert!(is_dtype(why(&q, Xnnpack), TensorRef::Input(1)));
}
