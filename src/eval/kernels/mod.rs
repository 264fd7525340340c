//! Op kernels.
//!
//! Each kernel reads its operands as real numbers (see [`super::convert`]),
//! computes in `f64` and encodes the result into the output tensor's type;
//! the matrix products (see `gemm`) multiply float32 operands in `f32` and
//! quantized ones as exact integers.
//! Output shapes come from the operand values, never from the declared
//! tensor shapes.

mod activation;
mod complex;
mod conv;
mod data;
mod detection;
mod elementwise;
mod farmhash;
mod fully_connected;
mod gemm;
mod logic;
mod math;
mod matmul;
mod pool;
mod quant;
mod rare;
mod recurrent;
mod reduce;
mod resize;
mod shape_ops;
mod slicing;

use std::borrow::Cow;
use std::ops::Range;

use super::value::num_elements;
use super::{convert, EvalError, Value};
use crate::model::{Activation, Op, Padding, Tensor};

use elementwise::Arith;

type Result<T, E = EvalError> = std::result::Result<T, E>;

/// Evaluates `op` on `inputs`, producing one value per tensor of `outputs`.
pub(crate) fn eval(op: &Op, inputs: &[Option<&Value>], outputs: &[&Tensor], max_elements: usize) -> Result<Vec<Value>> {
    eval_with(op, inputs, &[], outputs, max_elements)
}

/// [`eval`] with `f32_copies`: for each input, its elements as `f32` when
/// the caller already holds them (a float32 constant the evaluator decoded
/// once), so products need not convert them again.
pub(crate) fn eval_with(
    op: &Op,
    inputs: &[Option<&Value>],
    f32_copies: &[Option<&[f32]>],
    outputs: &[&Tensor],
    max_elements: usize,
) -> Result<Vec<Value>> {
    let cx = Cx { op, inputs, f32_copies, outputs, max_elements };
    // Complex values have their own module; real ones never go there.
    if complex::involved(op, inputs, outputs) {
        return complex::eval(&cx);
    }
    for v in inputs.iter().flatten() {
        cx.check_operand(v)?;
    }
    match op {
        Op::Add(o) => elementwise::binary(&cx, Arith::Add, o.activation),
        Op::Sub(o) => elementwise::binary(&cx, Arith::Sub, o.activation),
        Op::Mul(a) => elementwise::binary(&cx, Arith::Mul, *a),
        Op::Div(a) => elementwise::binary(&cx, Arith::Div, *a),
        Op::Conv2d(o) => conv::conv2d(&cx, o),
        Op::DepthwiseConv2d(o) => conv::depthwise_conv2d(&cx, o),
        Op::FullyConnected(o) => fully_connected::fully_connected(&cx, o),
        Op::AveragePool2d(o) => pool::pool2d(&cx, o, pool::Kind::Average),
        Op::MaxPool2d(o) => pool::pool2d(&cx, o, pool::Kind::Max),
        Op::L2Pool2d(o) => pool::pool2d(&cx, o, pool::Kind::L2),
        Op::Mean { keep_dims } => reduce::reduce(&cx, *keep_dims, reduce::Kind::Mean),
        Op::Sum { keep_dims } => reduce::reduce(&cx, *keep_dims, reduce::Kind::Sum),
        Op::ReduceMax { keep_dims } => reduce::reduce(&cx, *keep_dims, reduce::Kind::Max),
        Op::Reshape { new_shape } => shape_ops::reshape(&cx, new_shape.as_deref()),
        Op::Transpose => shape_ops::transpose(&cx),
        Op::Concatenation(o) => shape_ops::concatenation(&cx, o),
        Op::Pad => shape_ops::pad(&cx),
        Op::Softmax { beta } => activation::softmax(&cx, *beta),
        Op::Logistic => activation::unary(&cx, activation::logistic),
        Op::Relu => activation::unary(&cx, activation::relu),
        Op::Relu6 => activation::unary(&cx, activation::relu6),
        Op::HardSwish => activation::unary(&cx, activation::hard_swish),
        Op::Tanh => activation::unary(&cx, f64::tanh),
        Op::Minimum => elementwise::min_max(&cx, false),
        Op::Maximum => elementwise::min_max(&cx, true),
        Op::LeakyRelu { alpha } => {
            let a = f64::from(*alpha);
            activation::unary_with(&cx, |x| if x >= 0.0 { x } else { a * x })
        }
        Op::Prelu => activation::prelu(&cx),
        Op::Gelu { approximate } => activation::unary(&cx, if *approximate { activation::gelu_tanh } else { activation::gelu }),
        Op::Exp => activation::unary(&cx, f64::exp),
        Op::Sqrt => activation::unary(&cx, f64::sqrt),
        Op::Rsqrt => activation::unary(&cx, |x| 1.0 / x.sqrt()),
        Op::Neg => activation::unary(&cx, |x| -x),
        Op::Abs => activation::unary(&cx, f64::abs),
        Op::Cast(_) => slicing::cast(&cx),
        Op::SplitV { .. } => slicing::split_v(&cx),
        Op::StridedSlice(o) => slicing::strided_slice(&cx, o),
        Op::Slice => slicing::slice(&cx),
        Op::Gather(o) => slicing::gather(&cx, o),
        Op::Squeeze { squeeze_dims } => slicing::squeeze(&cx, squeeze_dims),
        Op::ResizeBilinear(o) => resize::resize(&cx, o, resize::Kind::Bilinear),
        Op::ResizeNearestNeighbor(o) => resize::resize(&cx, o, resize::Kind::Nearest),
        Op::TransposeConv(o) => conv::transpose_conv(&cx, o),
        Op::Conv3d(o) => conv::conv3d(&cx, o),
        Op::Conv3dTranspose(o) => conv::conv3d_transpose(&cx, o),
        Op::BatchMatMul(o) => matmul::batch_matmul(&cx, o),
        Op::PadV2 => slicing::pad_v2(&cx),
        Op::MirrorPad { mode } => slicing::mirror_pad(&cx, *mode),
        Op::Equal => logic::compare(&cx, logic::Cmp::Eq),
        Op::NotEqual => logic::compare(&cx, logic::Cmp::Ne),
        Op::Less => logic::compare(&cx, logic::Cmp::Lt),
        Op::LessEqual => logic::compare(&cx, logic::Cmp::Le),
        Op::Greater => logic::compare(&cx, logic::Cmp::Gt),
        Op::GreaterEqual => logic::compare(&cx, logic::Cmp::Ge),
        Op::LogicalAnd => logic::logical(&cx, true),
        Op::LogicalOr => logic::logical(&cx, false),
        Op::LogicalNot => logic::logical_not(&cx),
        Op::SelectV2 => logic::select_v2(&cx),
        Op::BroadcastTo => logic::broadcast_to(&cx),
        Op::Pow => logic::pow_or_mod(&cx, true),
        Op::FloorMod => logic::pow_or_mod(&cx, false),
        Op::LogSoftmax => logic::log_softmax(&cx),
        Op::ArgMax { .. } => logic::arg_extreme(&cx, true),
        Op::ArgMin { .. } => logic::arg_extreme(&cx, false),
        Op::Log => activation::unary(&cx, f64::ln),
        Op::Sin => activation::unary(&cx, f64::sin),
        Op::Cos => activation::unary(&cx, f64::cos),
        Op::ReduceMin { keep_dims } => reduce::reduce(&cx, *keep_dims, reduce::Kind::Min),
        Op::ReduceProd { keep_dims } => reduce::reduce(&cx, *keep_dims, reduce::Kind::Prod),
        Op::Quantize => quant::quantize(&cx),
        Op::Dequantize => quant::dequantize(&cx),
        Op::Custom(c) => Err(EvalError::Unsupported { op: c.name.clone(), detail: "custom ops have no reference kernel".into() }),
        Op::If { .. } | Op::While { .. } | Op::CallOnce { .. } => {
            Err(cx.unsupported("control flow runs other subgraphs of the model; evaluate it with Evaluator"))
        }
        Op::UnidirectionalSequenceLstm(o) => recurrent::unidirectional_sequence_lstm(&cx, o),
        Op::UnidirectionalSequenceRnn(o) => recurrent::unidirectional_sequence_rnn(&cx, o),
        Op::Rnn(o) => recurrent::rnn(&cx, o),
        Op::Svdf(o) => recurrent::svdf(&cx, o),
        Op::Lstm(o) => recurrent::lstm(&cx, o),
        Op::BidirectionalSequenceLstm(o) => recurrent::bidirectional_sequence_lstm(&cx, o),
        Op::BidirectionalSequenceRnn(o) => recurrent::bidirectional_sequence_rnn(&cx, o),
        Op::NonMaxSuppressionV4 => detection::non_max_suppression(&cx, false),
        Op::NonMaxSuppressionV5 => detection::non_max_suppression(&cx, true),
        // The generated ops' kernels: numeric ops in math.rs, data movement
        // (layout, gathers, scatters, segments) in data.rs.
        other if math::handles(other) => math::eval(&cx),
        other if data::handles(other) => data::eval(&cx),
        other if rare::handles(other) => rare::eval(&cx),
        // Opaque builtins, and any op added to `Op` without a kernel here.
        other => Err(EvalError::Unsupported { op: other.name().to_string(), detail: "no reference kernel".into() }),
    }
}

/// What a kernel sees: the op, its operands and output tensors, the limit.
pub(super) struct Cx<'a> {
    op: &'a Op,
    inputs: &'a [Option<&'a Value>],
    /// Per input, its elements as `f32` if the caller has them.
    f32_copies: &'a [Option<&'a [f32]>],
    outputs: &'a [&'a Tensor],
    max_elements: usize,
}

impl<'a> Cx<'a> {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn shape_err(&self, detail: impl Into<String>) -> EvalError {
        EvalError::Shape { op: self.name().to_string(), detail: detail.into() }
    }

    fn unsupported(&self, detail: impl Into<String>) -> EvalError {
        EvalError::Unsupported { op: self.name().to_string(), detail: detail.into() }
    }

    fn quant_err(&self, detail: impl Into<String>) -> EvalError {
        EvalError::Quantization { op: self.name().to_string(), detail: detail.into() }
    }

    /// An index that the shape checks should have ruled out.
    fn internal(&self) -> EvalError {
        self.shape_err("internal error: index out of range")
    }

    /// Checks an operand's element type, size and element count.
    fn check_operand(&self, v: &Value) -> Result<()> {
        if !convert::is_supported(v.dtype) {
            return Err(self.unsupported(format!("operand type {}", v.dtype)));
        }
        let n = num_elements(&v.shape, self.max_elements, format_args!("{} operand", self.name()))?;
        if v.data.len() != n {
            return Err(self.shape_err(format!("operand holds {} elements, but its shape {:?} needs {n}", v.data.len(), v.shape)));
        }
        Ok(())
    }

    /// Checks the number of operands.
    fn arity(&self, min: usize, max: usize) -> Result<()> {
        let n = self.inputs.len();
        if n < min || n > max {
            return Err(self.shape_err(if min == max {
                format!("takes {min} inputs, has {n}")
            } else {
                format!("takes {min} to {max} inputs, has {n}")
            }));
        }
        Ok(())
    }

    /// Operand `i`, which must be present.
    fn input(&self, i: usize, what: &str) -> Result<&'a Value> {
        self.optional(i).ok_or_else(|| self.shape_err(format!("input {i} ({what}) is missing")))
    }

    /// Operand `i`, if present.
    fn optional(&self, i: usize) -> Option<&'a Value> {
        self.inputs.get(i).copied().flatten()
    }

    /// Operand `i`'s elements as `f32`, if the caller holds them (float32
    /// constants decoded once by the evaluator).
    fn f32_copy(&self, i: usize) -> Option<&'a [f32]> {
        self.f32_copies.get(i).copied().flatten()
    }

    /// The single output tensor.
    fn output(&self) -> Result<&'a Tensor> {
        match self.outputs {
            [t] => Ok(t),
            ts => Err(self.shape_err(format!("has 1 output, {} given", ts.len()))),
        }
    }

    /// The broadcast shape of two operands and its element count, within
    /// the limit.
    fn broadcast(&self, a: &Value, b: &Value) -> Result<(Vec<usize>, usize)> {
        let shape = elementwise::broadcast_shape(&a.shape, &b.shape)
            .ok_or_else(|| self.shape_err(format!("shapes {:?} and {:?} do not broadcast", a.shape, b.shape)))?;
        let n = self.numel(&shape)?;
        Ok((shape, n))
    }

    /// The element count of an output shape, within the limit.
    fn numel(&self, shape: &[usize]) -> Result<usize> {
        num_elements(shape, self.max_elements, format_args!("{} output", self.name()))
    }

    /// The real values of an operand.
    fn real(&self, v: &'a Value) -> Result<Cow<'a, [f64]>> {
        convert::real(v, self.name())
    }

    /// The real values of an optional bias of `n` elements (zeros without one).
    fn bias(&self, v: Option<&'a Value>, n: usize) -> Result<Vec<f64>> {
        let Some(v) = v else {
            return Ok(vec![0.0; n]);
        };
        let b = convert::bias_real(v, self.name())?;
        if b.len() != n {
            return Err(self.shape_err(format!("bias of shape {:?} does not match {n} output channels", v.shape)));
        }
        Ok(b.into_owned())
    }

    /// The raw integers of an integer operand (axes, shapes, paddings).
    fn ints(&self, v: &Value, what: &str) -> Result<Vec<i64>> {
        if !convert::is_raw_integer(v) || v.dtype == crate::model::DType::Bool {
            return Err(self.shape_err(format!("{what} must be an integer tensor, is {}", v.dtype)));
        }
        // Raw integers are whole numbers (`as` saturates should a caller pass
        // anything else).
        Ok(v.data.iter().map(|x| *x as i64).collect())
    }

    /// The `(low, high)` clamp bounds of a fused activation.
    fn activation(&self, a: Activation) -> Result<(f64, f64)> {
        match a {
            Activation::None => Ok((f64::NEG_INFINITY, f64::INFINITY)),
            Activation::Relu => Ok((0.0, f64::INFINITY)),
            Activation::ReluN1To1 => Ok((-1.0, 1.0)),
            Activation::Relu6 => Ok((0.0, 6.0)),
            other => Err(self.unsupported(format!("fused activation {other:?} (the runtime ignores it)"))),
        }
    }

    /// Encodes real results as the single output.
    fn finish(&self, shape: Vec<usize>, data: Vec<f64>) -> Result<Vec<Value>> {
        let out = self.output()?;
        Ok(vec![convert::encode(data, shape, out, self.name())?])
    }

    /// Encodes results computed on stored numbers (raw integers for
    /// quantized types), as the runtime does for ops that move, select or
    /// compare elements: integer outputs are rounded half away from zero
    /// and clamped, with the output's quantization parameters kept as they
    /// are; float outputs are rounded to their type.
    fn finish_raw(&self, shape: Vec<usize>, data: Vec<f64>) -> Result<Vec<Value>> {
        let out = self.output()?;
        Ok(vec![self.encode_raw(out, shape, data)?])
    }

    fn encode_raw(&self, out: &Tensor, shape: Vec<usize>, mut data: Vec<f64>) -> Result<Value> {
        if out.dtype.is_float() {
            return convert::encode(data, shape, out, self.name());
        }
        let (lo, hi) = convert::int_range(out.dtype).ok_or_else(|| self.unsupported(format!("output type {}", out.dtype)))?;
        data.iter_mut().for_each(|v| *v = if v.is_nan() { 0.0 } else { v.round().clamp(lo, hi) });
        Ok(Value { dtype: out.dtype, shape, data, quantization: out.quantization.clone() })
    }

    /// Checks that an op that copies stored numbers reads and writes one
    /// element type.
    fn same_type(&self, v: &Value) -> Result<()> {
        let out = self.outputs.first().ok_or_else(|| self.shape_err("has no output"))?;
        if out.dtype != v.dtype {
            return Err(self.unsupported(format!("input type {} with output type {} (the op copies elements)", v.dtype, out.dtype)));
        }
        Ok(())
    }

    /// `data[start..start + len]`.
    fn slice<'d>(&self, data: &'d [f64], start: usize, len: usize) -> Result<&'d [f64]> {
        start
            .checked_add(len)
            .and_then(|end| data.get(start..end))
            .ok_or_else(|| self.internal())
    }

    /// The four dimensions of a rank-4 operand.
    fn dims4(&self, v: &Value, what: &str) -> Result<[usize; 4]> {
        <[usize; 4]>::try_from(v.shape.as_slice())
            .map_err(|_| self.shape_err(format!("{what} must have rank 4, has shape {:?}", v.shape)))
    }

    /// A positive stride, dilation or window size from the options.
    fn positive(&self, v: i32, what: &str) -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| self.shape_err(format!("{what} must be positive, is {v}")))
    }

    /// Resolves a possibly negative axis against `rank`.
    fn axis(&self, axis: i64, rank: usize) -> Result<usize> {
        let r = rank as i64;
        let a = if axis < 0 { axis + r } else { axis };
        usize::try_from(a)
            .ok()
            .filter(|a| *a < rank)
            .ok_or_else(|| self.shape_err(format!("axis {axis} is out of range for rank {rank}")))
    }
}

/// Clamps to a fused activation's bounds, keeping NaN.
fn clamp(v: f64, (lo, hi): (f64, f64)) -> f64 {
    if v < lo {
        lo
    } else if v > hi {
        hi
    } else {
        v
    }
}

/// One spatial axis of a convolution or pooling window, with TensorFlow's
/// SAME / VALID arithmetic.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Input size.
    input: usize,
    /// Output size.
    out: usize,
    stride: usize,
    dilation: usize,
    /// Span of the dilated window: `(k - 1) * dilation + 1`.
    extent: usize,
    /// Padding before the first input element.
    pad_before: usize,
}

impl Window {
    /// SAME: `out = ceil(in / stride)`, total padding
    /// `max((out - 1) * stride + extent - in, 0)`, half of it (rounded down)
    /// before. VALID: `out = (in - extent) / stride + 1`, no padding.
    fn new(cx: &Cx<'_>, input: usize, k: usize, stride: i32, dilation: i32, padding: Padding, what: &str) -> Result<Window> {
        let stride = cx.positive(stride, &format!("{what} stride"))?;
        let dilation = cx.positive(dilation, &format!("{what} dilation"))?;
        if k == 0 {
            return Err(cx.shape_err(format!("window {what} is zero")));
        }
        let extent = (k - 1)
            .checked_mul(dilation)
            .and_then(|e| e.checked_add(1))
            .ok_or_else(|| cx.shape_err(format!("dilated window {what} overflows")))?;
        let (out, pad_before) = match padding {
            Padding::Same => {
                let out = input.div_ceil(stride);
                let covered = out.saturating_sub(1).saturating_mul(stride).saturating_add(extent);
                let total = if out == 0 { 0 } else { covered.saturating_sub(input) };
                (out, total / 2)
            }
            Padding::Valid => {
                if input < extent {
                    return Err(cx.shape_err(format!(
                        "window {what} of extent {extent} does not fit input {what} {input} with VALID padding"
                    )));
                }
                ((input - extent) / stride + 1, 0)
            }
        };
        Ok(Window { input, out, stride, dilation, extent, pad_before })
    }

    /// The input index read by output `o` at filter tap `k`, unless it falls
    /// in the padding.
    fn tap(&self, o: usize, k: usize) -> Option<usize> {
        o.saturating_mul(self.stride)
            .saturating_add(k.saturating_mul(self.dilation))
            .checked_sub(self.pad_before)
            .filter(|i| *i < self.input)
    }

    /// The input indices covered by output `o`'s window, padding excluded
    /// (undilated windows only).
    fn span(&self, o: usize) -> Range<usize> {
        let start = o.saturating_mul(self.stride);
        let lo = start.saturating_sub(self.pad_before).min(self.input);
        let hi = start.saturating_add(self.extent).saturating_sub(self.pad_before).min(self.input);
        lo..hi.max(lo)
    }
}

/// The dot product, with four partial sums so it pipelines.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let (a4, a_rest) = a.as_chunks::<4>();
    let (b4, b_rest) = b.as_chunks::<4>();
    let mut s = [0.0f64; 4];
    for (x, y) in a4.iter().zip(b4) {
        for ((s, x), y) in s.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let rest: f64 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    let [s0, s1, s2, s3] = s;
    (s0 + s1) + (s2 + s3) + rest
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    let mut acc = 1usize;
    for (st, d) in s.iter_mut().zip(shape).rev() {
        *st = acc;
        acc = acc.saturating_mul(*d);
    }
    s
}

/// Calls `f` with `K` linear offsets for every index of `shape`, in
/// row-major order: offset `k` is `Σ index[d] * strides[k][d]`.
fn walk<const K: usize>(shape: &[usize], strides: [&[usize]; K], mut f: impl FnMut([usize; K]) -> Result<()>) -> Result<()> {
    if shape.contains(&0) {
        return Ok(());
    }
    let dims: Vec<(usize, [usize; K])> = shape
        .iter()
        .enumerate()
        .map(|(d, n)| (*n, strides.map(|s| s.get(d).copied().unwrap_or(0))))
        .collect();
    let mut index = vec![0usize; dims.len()];
    let mut offsets = [0usize; K];
    loop {
        f(offsets)?;
        let mut done = true;
        for (i, (n, steps)) in index.iter_mut().zip(&dims).rev() {
            *i += 1;
            offsets.iter_mut().zip(steps).for_each(|(o, s)| *o += s);
            if *i < *n {
                done = false;
                break;
            }
            offsets.iter_mut().zip(steps).for_each(|(o, s)| *o -= s * n);
            *i = 0;
        }
        if done {
            return Ok(());
        }
    }
}
