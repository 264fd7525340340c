//! Lowering: one ONNX node at a time into TFLite ops.
//!
//! Values keep ONNX semantics (NCHW); layout-bound ops are wrapped in
//! explicit TRANSPOSEs, which the passes later sink and cancel. Constant
//! and shape computations are folded here (`fold`) instead of being
//! emitted.
//!
//! One file per op family, named like the ops it lowers:
//!
//! | file | ONNX ops |
//! |---|---|
//! | `activation.rs` | Relu, Sigmoid, Tanh, HardSwish, HardSigmoid, Clip, LeakyRelu, PRelu, Gelu |
//! | `activation_composite.rs` | Elu, Selu, Celu, Softplus, Softsign, ThresholdedRelu, Swish, SwiGLU, Mish, Shrink |
//! | `attention.rs` | Attention |
//! | `batchnorm.rs` | BatchNormalization (and its folding into Conv / Gemm) |
//! | `bitshift.rs` | BitShift |
//! | `bitwise.rs` | BitwiseXor, BitwiseNot, BitwiseAnd, BitwiseOr |
//! | `cast.rs` | Cast, CastLike |
//! | `causal_conv.rs` | CausalConvWithState |
//! | `control.rs` | If, Loop, Scan (inlined, unrolled, or TFLite IF / WHILE) |
//! | `col2im.rs` | Col2Im (as a ConvTranspose with one-hot weights) |
//! | `conv.rs` | Conv (1-D and 2-D, grouped and depthwise) |
//! | `conv3d.rs` | Conv and ConvTranspose on 3-D inputs |
//! | `conv_transpose.rs` | ConvTranspose (1-D and 2-D) |
//! | `crop_pad.rs` | CenterCropPad |
//! | `cumulative.rs` | CumSum, CumProd |
//! | `depth_space.rs` | DepthToSpace, SpaceToDepth |
//! | `detection.rs` | NonMaxSuppression |
//! | `einsum.rs` | Einsum |
//! | `elementwise.rs` | Add, Sub, Mul, Div, Pow, Mod, Max, Min, Sum |
//! | `eye.rs` | EyeLike |
//! | `grid_sample.rs` | GridSample |
//! | `gather_scatter.rs` | GatherElements, GatherND, ScatterND, ScatterElements, Scatter |
//! | `generate.rs` | ConstantOfShape, Range (sizes known at run time) |
//! | `hardmax.rs` | Hardmax |
//! | `linear_attention.rs` | LinearAttention (unrolled over a static length) |
//! | `instance_norm.rs` | InstanceNormalization, GroupNormalization, MeanVarianceNormalization, LRN |
//! | `logic.rs` | Equal, Less, LessOrEqual, Greater, GreaterOrEqual, And, Or, Xor, Not, Where |
//! | `loss.rs` | NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss |
//! | `lp_norm.rs` | LpNormalization |
//! | `matmul.rs` | Gemm, MatMul |
//! | `norm.rs` | LayerNormalization, RMSNormalization |
//! | `one_hot.rs` | OneHot |
//! | `optional.rs` | Optional, OptionalHasElement, OptionalGetElement (optionals holding a tensor) |
//! | `pad.rs` | Pad |
//! | `quantize_linear.rs` | QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear |
//! | `qlinear.rs` | QOp (QDQ groups, see `onnx/qdq.rs`) and QLinearConv / QLinearMatMul as int8 ops |
//! | `integer_ops.rs` | MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv computed exactly |
//! | `recurrent.rs` | LSTM, GRU, RNN (unrolled, or a WHILE over the sequence) |
//! | `pool.rs` | MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool |
//! | `reduce.rs` | ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd, ArgMax, ArgMin |
//! | `reduce_composite.rs` | ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp |
//! | `resize.rs` | Resize, Upsample (RESIZE_* where exact; else `resize_gather.rs`: per-axis GATHERs) |
//! | `reverse_sequence.rs` | ReverseSequence |
//! | `rotary.rs` | RotaryEmbedding |
//! | `select.rs` | NonZero, Compress |
//! | `shape_ops.rs` | Reshape, Flatten, Transpose, Concat, Squeeze, Unsqueeze, Expand, Identity, Dropout |
//! | `signal.rs` | DFT, STFT, HannWindow, HammingWindow, BlackmanWindow, MelWeightMatrix |
//! | `slicing.rs` | Split, Slice, Gather |
//! | `softmax.rs` | Softmax, LogSoftmax |
//! | `tensor_scatter.rs` | TensorScatter |
//! | `tile.rs` | Tile |
//! | `topk.rs` | TopK |
//! | `triangular.rs` | Trilu |
//! | `unique.rs` | Unique |
//! | `unary.rs` | Exp, Log, Sqrt, Reciprocal, Sin, Cos, Neg, Abs, Floor, Ceil |
//! | `unary_math.rs` | Erf, Sign, Round, IsNaN, IsInf, Tan, Atan, Asin, Acos, Sinh, Cosh, Asinh, Acosh, Atanh |
//! | `variadic_mean.rs` | Mean |
//!
//! `flex.rs` is the opt-in select-TF fallback. `graph.rs` lowers a graph's nodes in order and makes subgraph outputs,
//! `nested.rs` lowers nested graphs (inlined, or as subgraphs of their own)
//! for `control.rs` and the recurrent ops. `operand.rs` holds what they share (operands, typed constants, errors);
//! `widen.rs` computes element types a kernel lacks exactly in a wider type;
//! `fold/` folds constant and shape computations, and `symbolic.rs` carries
//! the sizes known only at run time and emits the ops that compute them. Graph rewrites that run
//! before lowering are in `onnx/patterns.rs` (and, for batchnorm
//! folding, `batchnorm.rs`).

mod activation;
mod attention;
pub(crate) mod batchnorm;
mod cast;
mod causal_conv;
mod col2im;
mod conv;
mod conv3d;
mod conv_transpose;
mod detection;
mod elementwise;
pub(crate) mod fold;
mod generate;
mod einsum;
mod gather_scatter;
mod graph;
mod flex;
mod control;
mod nested;
mod recurrent;
mod linear_attention;
mod instance_norm;
mod logic;
mod loss;
mod matmul;
pub(crate) mod norm;
mod operand;
mod optional;
mod pad;
mod pool;
mod integer_ops;
mod qlinear;
mod quantize_linear;
mod reduce;
mod reduce_composite;
mod resize;
mod resize_antialias;
mod resize_gather;
mod rotary;
mod shape_ops;
mod signal;
mod slicing;
mod softmax;
pub(crate) mod symbolic;
mod cumulative;
mod depth_space;
mod one_hot;
mod tile;
mod topk;
mod triangular;
mod activation_composite;
mod bitshift;
mod bitwise;
mod hardmax;
mod lp_norm;
mod variadic_mean;
mod unary;
mod unary_math;
mod widen;
mod crop_pad;
mod eye;
mod grid_sample;
mod reverse_sequence;
mod select;
mod tensor_scatter;
mod unique;

use std::collections::HashMap;

use super::error::{OnnxError, ReasonCode};
use super::ir::{Attr, ODim, OGraph, ONode, TensorData};
use symbolic::SDim;
use graph::count_uses;
use super::table::Registry;
use super::{ConvertOptions, Report};
use crate::build::{ModelBuilder, SubgraphBuilder};
use crate::model::*;
use crate::ValidationError;

pub(crate) use activation::*;
pub(crate) use attention::*;
pub(crate) use cast::*;
pub(crate) use causal_conv::*;
pub(crate) use conv::*;
pub(crate) use control::*;
pub(crate) use recurrent::*;
pub(crate) use col2im::*;
pub(crate) use conv_transpose::*;
pub(crate) use detection::*;
pub(crate) use elementwise::*;
pub(crate) use generate::*;
pub(crate) use einsum::*;
pub(crate) use gather_scatter::*;
pub(crate) use linear_attention::*;
pub(crate) use instance_norm::*;
pub(crate) use logic::*;
pub(crate) use loss::*;
pub(crate) use matmul::*;
pub(crate) use optional::*;
pub(crate) use pad::*;
pub(crate) use pool::*;
pub(crate) use integer_ops::*;
pub(crate) use qlinear::*;
pub(crate) use quantize_linear::*;
pub(crate) use reduce::*;
pub(crate) use reduce_composite::*;
pub(crate) use resize::*;
pub(crate) use rotary::*;
pub(crate) use shape_ops::*;
pub(crate) use signal::*;
pub(crate) use slicing::*;
pub(crate) use softmax::*;
pub(crate) use cumulative::*;
pub(crate) use depth_space::*;
pub(crate) use one_hot::*;
pub(crate) use tile::*;
pub(crate) use topk::*;
pub(crate) use triangular::*;
pub(crate) use activation_composite::*;
pub(crate) use bitshift::*;
pub(crate) use bitwise::*;
pub(crate) use hardmax::*;
pub(crate) use lp_norm::*;
pub(crate) use variadic_mean::*;
pub(crate) use unary::*;
pub(crate) use unary_math::*;
pub(crate) use crop_pad::*;
pub(crate) use eye::*;
pub(crate) use grid_sample::*;
pub(crate) use reverse_sequence::*;
pub(crate) use select::*;
pub(crate) use tensor_scatter::*;
pub(crate) use unique::*;

/// Why a lowering failed; the driver adds the node, op and opset.
#[derive(Debug, Clone, PartialEq)]
pub struct LowerError {
    /// Machine-readable reason.
    pub code: ReasonCode,
    /// Details.
    pub detail: String,
}

impl LowerError {
    /// A new error.
    pub fn new(code: ReasonCode, detail: impl Into<String>) -> LowerError {
        LowerError { code, detail: detail.into() }
    }
    pub(crate) fn attr(detail: impl Into<String>) -> LowerError {
        LowerError::new(ReasonCode::UnsupportedAttribute, detail)
    }
    pub(crate) fn invalid(detail: impl Into<String>) -> LowerError {
        LowerError::new(ReasonCode::InvalidNode, detail)
    }
}

impl From<ValidationError> for LowerError {
    /// A builder's refusal of an op: `unsupported_dtype` when the element
    /// type is what the kernel does not take, `unsupported_shape` otherwise.
    fn from(e: ValidationError) -> Self {
        let code = match &e {
            ValidationError::Op { detail, .. } if crate::infer::is_type_error(detail) => ReasonCode::UnsupportedDtype,
            _ => ReasonCode::UnsupportedShape,
        };
        LowerError::new(code, e.to_string())
    }
}

/// A read-only view of an ONNX node for lowering functions.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub(crate) inner: &'a ONode,
    pub(crate) opset: i64,
}

impl<'a> Node<'a> {
    /// The node's name, or its first output when unnamed.
    pub fn name(&self) -> String {
        self.inner.label()
    }
    /// The op type.
    pub fn op_type(&self) -> &'a str {
        &self.inner.op_type
    }
    /// The domain ("" for the default domain).
    pub fn domain(&self) -> &'a str {
        &self.inner.domain
    }
    /// The opset of the node's domain.
    pub fn opset(&self) -> i64 {
        self.opset
    }
    /// The number of input slots (including omitted optional ones).
    pub fn num_inputs(&self) -> usize {
        self.inner.inputs.len()
    }
    /// Whether input `i` is present.
    pub fn has_input(&self, i: usize) -> bool {
        self.inner.input(i).is_some()
    }
    /// The number of outputs.
    pub fn num_outputs(&self) -> usize {
        self.inner.outputs.len()
    }
    /// Whether an attribute is present.
    pub fn has_attr(&self, name: &str) -> bool {
        self.inner.attr(name).is_some()
    }
    /// An integer attribute.
    pub fn attr_int(&self, name: &str) -> Result<Option<i64>, LowerError> {
        match self.inner.attr(name) {
            None => Ok(None),
            Some(Attr::Int(i)) => Ok(Some(*i)),
            Some(other) => Err(LowerError::invalid(format!("attribute {name} should be an int, is {other:?}"))),
        }
    }
    /// An integer attribute with a default.
    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, LowerError> {
        Ok(self.attr_int(name)?.unwrap_or(default))
    }
    /// A float attribute.
    pub fn attr_float(&self, name: &str) -> Result<Option<f32>, LowerError> {
        match self.inner.attr(name) {
            None => Ok(None),
            Some(Attr::Float(f)) => Ok(Some(*f)),
            Some(Attr::Int(i)) => Ok(Some(*i as f32)),
            Some(other) => Err(LowerError::invalid(format!("attribute {name} should be a float, is {other:?}"))),
        }
    }
    /// A float attribute with a default.
    pub fn float_or(&self, name: &str, default: f32) -> Result<f32, LowerError> {
        Ok(self.attr_float(name)?.unwrap_or(default))
    }
    /// An integer-list attribute.
    pub fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>, LowerError> {
        match self.inner.attr(name) {
            None => Ok(None),
            Some(Attr::Ints(v)) => Ok(Some(v.clone())),
            Some(Attr::Int(i)) => Ok(Some(vec![*i])),
            Some(other) => Err(LowerError::invalid(format!("attribute {name} should be ints, is {other:?}"))),
        }
    }
    /// A float-list attribute.
    pub fn attr_floats(&self, name: &str) -> Result<Option<Vec<f32>>, LowerError> {
        match self.inner.attr(name) {
            None => Ok(None),
            Some(Attr::Floats(v)) => Ok(Some(v.clone())),
            Some(other) => Err(LowerError::invalid(format!("attribute {name} should be floats, is {other:?}"))),
        }
    }
    /// A string attribute.
    pub fn attr_str(&self, name: &str) -> Result<Option<String>, LowerError> {
        match self.inner.attr(name) {
            None => Ok(None),
            Some(Attr::Str(s)) => Ok(Some(s.clone())),
            Some(other) => Err(LowerError::invalid(format!("attribute {name} should be a string, is {other:?}"))),
        }
    }
}

/// What an ONNX value is during lowering.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// A TFLite tensor with the value in ONNX layout.
    Tensor(TensorId),
    /// A constant, not yet materialized.
    Const(TensorData),
    /// A 1-D int64 vector of possibly symbolic sizes (from `Shape`), or a
    /// scalar when `scalar`; see [`symbolic`].
    Shape { dims: Vec<SDim>, scalar: bool },
}

/// The state of a lowering: the subgraph being built and what each ONNX
/// value has become.
pub struct LowerCtx<'a> {
    pub(crate) g: SubgraphBuilder,
    pub(crate) env: HashMap<String, Val>,
    #[allow(dead_code)] // value infos, for lowerings that need declared types
    pub(crate) graph: &'a OGraph,
    materialized: HashMap<String, TensorId>,
    /// The SHAPE op emitted for a tensor, so that each is read once.
    pub(crate) shape_ops: HashMap<TensorId, TensorId>,
    /// Names of dynamic dimensions (the ONNX `dim_param`s of the inputs),
    /// by tensor and axis.
    pub(crate) dim_names: HashMap<(TensorId, usize), String>,
    /// The model being built: control-flow and recurrent lowerings add
    /// subgraphs to it.
    pub(crate) mb: ModelBuilder,
    /// The lowering table, for the nodes of nested graphs.
    pub(crate) registry: Option<&'a Registry>,
    /// An error of a nested graph's node, passed up unchanged.
    pub(crate) nested_error: Option<OnnxError>,
    /// Nodes folded into constants.
    pub(crate) folded: usize,
    /// What form each control-flow or recurrent node took, for the report.
    pub(crate) forms: Vec<(String, String)>,
    /// Whether ops without a builtin lowering may become Flex ops.
    pub(crate) allow_flex: bool,
    /// The Flex ops emitted, as `(node, op)`.
    pub(crate) flex_ops: Vec<(String, String)>,
    /// ONNX nodes inlined by unrolling so far (bounded, so that nested
    /// loops cannot multiply a hostile graph without end).
    pub(crate) unrolled: usize,
    /// The int8 tensor standing for a uint8 quantized tensor (same scale,
    /// zero point − 128), where one was made.
    pub(crate) int8_views: HashMap<TensorId, TensorId>,
    /// Quantized (QDQ) nodes lowered in their float form, and why.
    pub(crate) qdq_fallbacks: Vec<String>,
    /// Buffers of constants whose last reader has been lowered, kept for
    /// the next transposed weights of the same size: a model's weights
    /// come in a few sizes, so most transposes reuse memory the process has
    /// already touched instead of faulting in fresh pages.
    pub(crate) recycled: Recycled,
}

/// A few freed constant buffers, for reuse by exact size.
#[derive(Default)]
pub(crate) struct Recycled {
    buffers: Vec<Vec<u8>>,
}

impl Recycled {
    /// Buffers kept at most: enough for the distinct weight sizes of a
    /// layer, few enough that holding them costs little.
    const MAX: usize = 8;

    /// Keeps `bytes` for reuse, dropping the oldest kept buffer if full.
    fn keep(&mut self, bytes: Vec<u8>) {
        if bytes.capacity() < 1 << 16 {
            return;
        }
        if self.buffers.len() == Self::MAX {
            self.buffers.remove(0);
        }
        self.buffers.push(bytes);
    }

    /// A buffer of exactly `len` bytes of capacity, if one is kept.
    fn take(&mut self, len: usize) -> Option<Vec<u8>> {
        let i = self.buffers.iter().position(|b| b.capacity() == len)?;
        Some(self.buffers.swap_remove(i))
    }
}

impl<'a> LowerCtx<'a> {
    /// The subgraph builder, for emitting ops.
    pub fn builder(&mut self) -> &mut SubgraphBuilder {
        &mut self.g
    }

    /// The tensor of input `i`, materializing a constant if needed.
    pub fn input(&mut self, node: &Node<'_>, i: usize) -> Result<TensorId, LowerError> {
        let name = node.inner.input(i).ok_or_else(|| LowerError::invalid(format!("input {i} is missing")))?;
        self.tensor_of(name)
    }

    pub(crate) fn tensor_of(&mut self, name: &str) -> Result<TensorId, LowerError> {
        if let Some(t) = self.materialized.get(name) {
            return Ok(*t);
        }
        let val = self.env.get(name).cloned().ok_or_else(|| LowerError::invalid(format!("value {name:?} is not available")))?;
        let t = match val {
            Val::Tensor(t) => return Ok(t),
            Val::Const(d) => self.const_tensor(name, &d)?,
            Val::Shape { dims, scalar } => {
                let v: Option<Vec<i64>> = dims.iter().map(SDim::known).collect();
                match v {
                    Some(v) => {
                        let dims = if scalar { vec![] } else { vec![v.len()] };
                        self.const_tensor(name, &TensorData::from_i64(dims, &v))?
                    }
                    // Computed at run time, as int32.
                    None => self.shape_tensor(name, &dims, scalar)?,
                }
            }
        };
        self.materialized.insert(name.to_string(), t);
        Ok(t)
    }

    /// Adds a constant tensor for ONNX data. int64 and float64 constants are
    /// narrowed to int32 and float32 (TFLite's usual types) when exact.
    pub(crate) fn const_tensor(&mut self, name: &str, d: &TensorData) -> Result<TensorId, LowerError> {
        let d = narrow(d)?;
        let shape = Shape::new(d.dims.iter().map(|x| *x as u32));
        Ok(self.g.constant(name, d.dtype, shape, ConstData::from_bytes(d.bytes)))
    }

    /// The constant value of input `i`, if it is constant.
    pub(crate) fn const_input(&self, node: &Node<'_>, i: usize) -> Option<TensorData> {
        let name = node.inner.input(i)?;
        match self.env.get(name)? {
            Val::Const(d) => Some(d.clone()),
            Val::Shape { dims, scalar } => {
                let v: Option<Vec<i64>> = dims.iter().map(SDim::known).collect();
                v.map(|v| TensorData::from_i64(if *scalar { vec![] } else { vec![v.len()] }, &v))
            }
            Val::Tensor(_) => None,
        }
    }

    /// A reference to the constant value of input `i`, if it is a constant
    /// (no copy; for weights).
    pub(crate) fn const_ref(&self, node: &Node<'_>, i: usize) -> Option<&TensorData> {
        match self.env.get(node.inner.input(i)?)? {
            Val::Const(d) => Some(d),
            _ => None,
        }
    }

    /// Constant input `i` as float32 weights transposed by `perm`, or `None`
    /// when the input is not constant. Float32 data is transposed straight
    /// from the constant: one copy, the result.
    pub(crate) fn const_weights(&mut self, node: &Node<'_>, i: usize, perm: &[usize]) -> Result<Option<TensorData>, LowerError> {
        let Some(w) = self.const_ref(node, i) else { return Ok(None) };
        if w.dtype == DType::F32 {
            let len = w.bytes.len();
            let out = self.recycled.take(len).unwrap_or_default();
            let Some(w) = self.const_ref(node, i) else { return Ok(None) };
            return fold::transpose_data_into(w, perm, out).map(Some);
        }
        let v = w.to_f32().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, format!("weights of type {}", w.dtype)))?;
        fold::transpose_data(&TensorData::from_f32(w.dims.clone(), &v), perm).map(Some)
    }

    /// Constant input `i` as i64 values, or an error naming it.
    pub(crate) fn const_ints(&self, node: &Node<'_>, i: usize, what: &str) -> Result<Vec<i64>, LowerError> {
        self.const_input(node, i)
            .and_then(|d| d.to_i64())
            .ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, format!("{what} (input {i}) must be constant")))
    }

    /// Constant input `i` as f32 values.
    pub(crate) fn const_floats(&self, node: &Node<'_>, i: usize, what: &str) -> Result<Vec<f32>, LowerError> {
        self.const_input(node, i)
            .and_then(|d| d.to_f32())
            .ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, format!("{what} (input {i}) must be constant")))
    }

    /// Records output `i` of `node`.
    pub fn set_output(&mut self, node: &Node<'_>, i: usize, t: TensorId) {
        if let Some(name) = node.inner.outputs.get(i).filter(|s| !s.is_empty()) {
            self.env.insert(name.clone(), Val::Tensor(t));
        }
    }

    pub(crate) fn set_val(&mut self, node: &Node<'_>, i: usize, v: Val) {
        if let Some(name) = node.inner.outputs.get(i).filter(|s| !s.is_empty()) {
            self.env.insert(name.clone(), v);
        }
    }

    /// Drops the constant data of values whose last reader was `n`.
    fn release(&mut self, n: &ONode, uses: &mut HashMap<String, usize>) {
        for i in n.inputs.iter().chain(&n.implicit).filter(|i| !i.is_empty()) {
            if let Some(c) = uses.get_mut(i) {
                *c = c.saturating_sub(1);
                if *c == 0 && matches!(self.env.get(i), Some(Val::Const(_))) {
                    if let Some(Val::Const(d)) = self.env.remove(i) {
                        self.recycled.keep(d.bytes);
                    }
                }
            }
        }
    }

    /// The shape of a tensor.
    pub fn shape(&self, t: TensorId) -> &Shape {
        &self.g.tensor(t).shape
    }

    /// The element type of a tensor.
    pub fn dtype(&self, t: TensorId) -> DType {
        self.g.tensor(t).dtype
    }

    /// Transposes `t` by `perm`.
    pub fn transpose(&mut self, t: TensorId, perm: &[i32]) -> Result<TensorId, LowerError> {
        Ok(self.g.transpose(t, perm)?)
    }

    /// Whether every value of `t` is known to be ≥ 0 (it comes from a
    /// RELU-like op, possibly through layout ops), so that zero padding
    /// cannot change a maximum.
    pub fn is_nonnegative(&self, t: TensorId) -> bool {
        let sg = self.g.subgraph();
        let mut cur = t;
        for _ in 0..64 {
            let Some(op) = sg.operators.iter().find(|o| o.outputs.contains(&cur)) else { return false };
            match &op.op {
                Op::Relu | Op::Relu6 | Op::Logistic => return true,
                Op::Conv2d(o) if matches!(o.activation, Activation::Relu | Activation::Relu6) => return true,
                Op::Transpose | Op::Reshape { .. } | Op::MaxPool2d(_) | Op::Pad => match op.input(0) {
                    Some(i) => cur = i,
                    None => return false,
                },
                _ => return false,
            }
        }
        false
    }

    /// NCHW (or NCW / NCDHW) to channels-last.
    pub(crate) fn to_channels_last(&mut self, t: TensorId) -> Result<TensorId, LowerError> {
        let r = self.shape(t).rank() as i32;
        let mut perm = vec![0];
        perm.extend(2..r);
        perm.push(1);
        self.transpose(t, &perm)
    }

    /// Channels-last back to NCHW.
    pub(crate) fn to_channels_first(&mut self, t: TensorId) -> Result<TensorId, LowerError> {
        let r = self.shape(t).rank() as i32;
        let mut perm = vec![0, r - 1];
        perm.extend(1..r - 1);
        self.transpose(t, &perm)
    }
}

/// An ONNX axis (negative counts from the end) as an index below `rank`.
pub(crate) fn norm_axis(a: i64, rank: usize) -> Result<usize, LowerError> {
    let n = if a < 0 { a + rank as i64 } else { a };
    usize::try_from(n).ok().filter(|n| *n < rank).ok_or_else(|| LowerError::invalid(format!("axis {a} out of range for rank {rank}")))
}

/// Narrows int64 / float64 constants to int32 / float32 when exact.
fn narrow(d: &TensorData) -> Result<TensorData, LowerError> {
    match d.dtype {
        DType::I64 => {
            let v = d.to_i64().unwrap_or_default();
            if v.iter().all(|x| i32::try_from(*x).is_ok()) {
                let v32: Vec<i32> = v.iter().map(|x| *x as i32).collect();
                Ok(TensorData::from_i32(d.dims.clone(), &v32))
            } else {
                Ok(d.clone())
            }
        }
        DType::F64 => Ok(TensorData::from_f32(d.dims.clone(), &d.to_f32().unwrap_or_default())),
        _ => Ok(d.clone()),
    }
}

fn node_error(node: &ONode, opset: i64, e: LowerError) -> OnnxError {
    let op_type = if node.domain.is_empty() { node.op_type.clone() } else { format!("{}::{}", node.domain, node.op_type) };
    OnnxError::UnsupportedOnnxOp { node: node.label(), op_type, opset, reason_code: e.code, detail: e.detail }
}

fn onnx_to_tflite_dims(dims: &[ODim], name: &str, options: &ConvertOptions) -> Result<Vec<Dim>, OnnxError> {
    dims.iter()
        .enumerate()
        .map(|(i, d)| {
            Ok(match d {
                ODim::Known(n) => Dim::Fixed(
                    u32::try_from(*n)
                        .ok()
                        .filter(|n| i32::try_from(*n).is_ok())
                        .ok_or_else(|| OnnxError::Limit(format!("input {name:?} dimension {i} is {n}, beyond what TFLite stores")))?,
                ),
                ODim::Sym(s) => match (options.fixed_dims.get(s), options.batch) {
                    (Some(n), _) => Dim::Fixed(*n),
                    (None, Some(b)) if i == 0 => Dim::Fixed(b),
                    _ => Dim::Dynamic,
                },
                ODim::Unknown => match options.batch {
                    Some(b) if i == 0 => Dim::Fixed(b),
                    _ => Dim::Dynamic,
                },
            })
        })
        .collect()
}

/// Lowers a whole graph into a one-subgraph model with a `serving_default`
/// signature that uses the ONNX input and output names.
pub(crate) fn lower_graph(graph: &mut OGraph, registry: &Registry, options: &ConvertOptions, report: &mut Report) -> Result<Model, OnnxError> {
    let mut mb = ModelBuilder::new();
    let producer = graph.producer.trim();
    mb.description(if producer.is_empty() { "Converted from ONNX by tflite-forge".to_string() } else { format!("Converted from ONNX ({producer}) by tflite-forge") });
    for (k, v) in &graph.metadata {
        mb.metadata(format!("onnx:{k}"), ConstData::from_bytes(v.as_bytes().to_vec()));
    }
    // Constants move into the lowering's environment (no copy) and each
    // value is dropped after its last reader, so weights are held once.
    let mut env = HashMap::new();
    for (name, v) in graph.values.iter_mut() {
        if let Some(c) = v.constant.take() {
            env.insert(name.clone(), Val::Const(c));
        }
    }
    let mut uses = count_uses(graph);
    let graph: &OGraph = graph;
    let images = super::interface::image_io(graph, options.layout);
    let main = mb.reserve_subgraph("main");
    let mut ctx = LowerCtx::new(main, mb, env, graph, Some(registry));
    ctx.allow_flex = options.allow_flex;
    for name in &graph.inputs {
        let v = graph.value(name).cloned().unwrap_or_default();
        let dtype = v.dtype.ok_or_else(|| OnnxError::Invalid(format!("input {name:?} has no tensor type, or an element type TFLite does not support")))?;
        let dims = v.shape.ok_or_else(|| OnnxError::Invalid(format!("input {name:?} has no shape (unknown rank)")))?;
        let odims = dims;
        let dims = onnx_to_tflite_dims(&odims, name, options)?;
        // The name of each dynamic dimension, for messages and the report.
        let dim_name = |i: usize| match &odims[i] {
            ODim::Sym(s) => format!("{name}.{s}"),
            _ => format!("{name}.dim{i}"),
        };
        let image = dims.len() == 4 && images.inputs.contains(name);
        report.io_layouts.push((name.clone(), if image { "NHWC" } else { "ONNX" }));
        let t = if image {
            let nhwc = vec![dims[0], dims[2], dims[3], dims[1]];
            let x = ctx.g.input(name, dtype, Shape::from_dims(nhwc));
            for (axis, onnx_axis) in [0, 2, 3, 1].into_iter().enumerate() {
                if dims[onnx_axis] == Dim::Dynamic {
                    ctx.dim_names.insert((x, axis), dim_name(onnx_axis));
                }
            }
            ctx.g.transpose(x, &[0, 3, 1, 2]).map_err(OnnxError::Model)?
        } else {
            let x = ctx.g.input(name, dtype, Shape::from_dims(dims.clone()));
            for (axis, d) in dims.iter().enumerate() {
                if *d == Dim::Dynamic {
                    ctx.dim_names.insert((x, axis), dim_name(axis));
                }
            }
            x
        };
        for (axis, d) in dims.iter().enumerate() {
            if *d == Dim::Dynamic {
                report.dynamic_dims.push(dim_name(axis));
            }
        }
        ctx.env.insert(name.clone(), Val::Tensor(t));
    }
    ctx.lower_nodes(&graph.nodes, &mut uses)?;
    report.folded_nodes += ctx.folded;
    report.node_forms.append(&mut ctx.forms);
    report.flex_ops.append(&mut ctx.flex_ops);
    let mut used_outputs: Vec<TensorId> = Vec::new();
    for name in &graph.outputs {
        let mut t = ctx.output_value(name)?;
        let image = ctx.g.tensor(t).shape.rank() == 4 && images.outputs.contains(name);
        if image {
            t = ctx.g.transpose(t, &[0, 2, 3, 1]).map_err(OnnxError::Model)?;
        }
        report.io_layouts.push((name.clone(), if image { "NHWC" } else { "ONNX" }));
        t = ctx.own_output(t, &used_outputs)?;
        used_outputs.push(t);
        ctx.g.output(name, t);
    }
    for f in &ctx.qdq_fallbacks {
        report.warnings.push(format!("quantized node lowered as dequantize → float op → quantize: {f}"));
    }
    let LowerCtx { g, mut mb, .. } = ctx;
    // The interface layout, for tools and apps: `name=NHWC` or `name=ONNX`
    // per input and output.
    let layouts: Vec<String> = report.io_layouts.iter().map(|(n, l)| format!("{n}={l}")).collect();
    mb.metadata("tflite_forge:io_layout", ConstData::from_bytes(layouts.join("\n").into_bytes()));
    let index = mb.finish_subgraph(g).map_err(OnnxError::Model)?;
    mb.signature("serving_default", index);
    Ok(mb.finish()?)
}
