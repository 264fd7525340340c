//! A float reference evaluator of the typed [`Model`](crate::Model).
//!
//! It computes what a graph means, following TFLite's definitions of the
//! ops, in `f64`: for constant folding, for checking that a graph rewrite
//! does not change what the graph computes, and for quantization
//! calibration and per-layer error reports
//! ([`Evaluator::run_observed`]).
//!
//! - Float tensors are computed in `f64` and each op's result is rounded to
//!   the output's type (a float32 result is stored as `v as f32 as f64`).
//! - Quantized tensors (int8, uint8, int16 with a scale) are dequantized,
//!   per tensor or per axis; the op is computed in `f64`; the result is
//!   quantized with the output tensor's parameters (round half away from
//!   zero, clamped to the type's range). Integer biases are dequantized
//!   with their own scales. Fused activations clamp before quantizing.
//! - Output shapes come from the actual inputs, so dynamic dimensions (a
//!   dynamic batch) take the size of the values given.
//! - No value may exceed an element limit ([`DEFAULT_MAX_ELEMENTS`] unless
//!   set with [`Evaluator::with_max_elements`]), and the values alive at
//!   once in a subgraph run (each is dropped after its last reader) may not
//!   exceed [`DEFAULT_MAX_LIVE_ELEMENTS`] together
//!   ([`Evaluator::with_max_live_elements`]); kernels' scratch buffers are
//!   bounded by their operands. Evaluating a model from an untrusted file
//!   gives values or an [`EvalError`], never a panic or an unbounded
//!   allocation.
//! - Products (`CONV_2D`, `DEPTHWISE_CONV_2D`, `FULLY_CONNECTED`,
//!   `BATCH_MATMUL`) run as blocked matrix products: float32 operands in
//!   `f32` (rounded to float32 as the other ops' results are), quantized
//!   operands as exact integer sums scaled once per output channel. The
//!   matrix kernel is chosen at run time for the CPU (AVX, FMA), so float
//!   results may differ in the last bit between machines; on one machine
//!   they are the same for any thread count.
//!
//! Supported ops: `ADD`, `SUB`, `MUL`, `DIV`, `CONV_2D` (grouped, dilated),
//! `DEPTHWISE_CONV_2D`, `FULLY_CONNECTED`, `AVERAGE_POOL_2D`, `MAX_POOL_2D`,
//! `MEAN`, `RESHAPE`, `TRANSPOSE`, `CONCATENATION`, `PAD`, `SOFTMAX`,
//! `LOGISTIC`, `RELU`, `RELU6`, `HARD_SWISH`, `TANH`, `QUANTIZE`,
//! `DEQUANTIZE`, `MINIMUM`, `MAXIMUM`, `LEAKY_RELU`, `PRELU`, `GELU`, `EXP`,
//! `SQRT`, `RSQRT`, `NEG`, `ABS`, `CAST`, `SPLIT_V`, `STRIDED_SLICE` (without
//! ellipsis and new-axis masks), `SLICE`, `GATHER`, `SQUEEZE`,
//! `RESIZE_BILINEAR`, `RESIZE_NEAREST_NEIGHBOR`, `TRANSPOSE_CONV`,
//! `BATCH_MATMUL`, `REDUCE_MAX`, `SUM`, `PADV2`, `MIRROR_PAD`, on complex
//! values (see [`Value`]) `RFFT2D`, `REAL`, `IMAG`, `COMPLEX_ABS`, `MUL`,
//! `CAST` and the layout ops `RESHAPE`, `SQUEEZE`, `EXPAND_DIMS`,
//! `TRANSPOSE`, `STRIDED_SLICE`, `TILE`, and through
//! [`Evaluator`] the control flow `IF`, `WHILE` and `CALL_ONCE`. Others fail
//! with [`EvalError::Unsupported`].
//!
//! Control flow runs the subgraphs the ops name, passing values as the
//! runtime copies them (each takes the quantization of the tensor it lands
//! in); the values must fit the called subgraph's inputs as for
//! [`Evaluator::run`] (dynamic dimensions take any size). `IF` runs one branch; `WHILE` alternates its cond and body
//! subgraphs, at most [`DEFAULT_MAX_WHILE_ITERATIONS`] times unless set with
//! [`Evaluator::with_max_while_iterations`] ([`EvalError::LoopLimit`]
//! beyond); calls nest at most
//! [`DEFAULT_MAX_SUBGRAPH_DEPTH`](crate::validate::DEFAULT_MAX_SUBGRAPH_DEPTH)
//! deep ([`EvalError::Limit`] beyond). `CALL_ONCE` is a no-op: its init
//! subgraph only sets resource variables, which the evaluator does not
//! model.
//!
//! Ops that move, select or compare elements (slices, gathers, splits,
//! squeeze, the pads, nearest-neighbor and bilinear resizes, `MINIMUM`,
//! `MAXIMUM`, `REDUCE_MAX`, `CAST`) work on the stored numbers, as the
//! runtime does: quantized values keep their integers.
//!
//! ```
//! use tflite_forge::eval::{Evaluator, Value};
//! use tflite_forge::{DType, ModelBuilder};
//!
//! let mut b = ModelBuilder::new();
//! let mut g = b.subgraph("main");
//! let x = g.input("x", DType::F32, [1, 3]);
//! let y = g.relu6(x)?;
//! g.output("y", y);
//! b.finish_subgraph(g)?;
//! let model = b.finish()?;
//!
//! let out = Evaluator::new(&model).run(0, &[Value::from_f32(vec![1, 3], vec![-1.0, 2.5, 9.0])])?;
//! assert_eq!(out[0].to_f32(), [0.0, 2.5, 6.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blockwise;
mod convert;
mod error;
mod graph;
mod kernels;
mod sparse;
mod value;

pub use error::EvalError;
pub use graph::Evaluator;
pub use value::Value;

use crate::model::{Op, Tensor};

/// The default limit on the number of elements of any single value: 2^28
/// (2 GiB of `f64`).
pub const DEFAULT_MAX_ELEMENTS: usize = 1 << 28;

/// The default limit on the elements the values of one subgraph run hold at
/// once ([`Evaluator::with_max_live_elements`]): 2^29 (4 GiB of `f64`).
pub const DEFAULT_MAX_LIVE_ELEMENTS: usize = 1 << 29;

/// The default limit on the iterations of one `WHILE`: 2^20.
pub const DEFAULT_MAX_WHILE_ITERATIONS: usize = 1 << 20;

/// Evaluates one operator on values (used by constant folding): returns its
/// outputs, one per tensor of `outputs`, in their types and quantization.
///
/// `inputs` holds one entry per operator input, `None` for an omitted
/// optional one. Quantized inputs carry their parameters in
/// [`Value::quantization`] ([`Value::from_const`] fills them in). Values are
/// limited to [`DEFAULT_MAX_ELEMENTS`] elements.
///
/// ```
/// use tflite_forge::eval::{eval_op, Value};
/// use tflite_forge::{AddSubOptions, DType, Op, Shape, Tensor};
///
/// let a = Value::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]);
/// let b = Value::from_f32(vec![2], vec![10.0, 20.0]);
/// let out = Tensor::new("sum", DType::F32, Shape::new([2, 2]));
/// let folded = eval_op(&Op::Add(AddSubOptions::default()), &[Some(&a), Some(&b)], &[&out])?;
/// assert_eq!(folded[0].shape, [2, 2]);
/// assert_eq!(folded[0].to_f32(), [11.0, 22.0, 13.0, 24.0]);
/// # Ok::<(), tflite_forge::eval::EvalError>(())
/// ```
///
/// # Errors
/// [`EvalError::Unsupported`] for ops without a kernel (custom ops, opaque
/// builtins, and the control flow, which needs the model: use
/// [`Evaluator`]) or unsupported options and types; [`EvalError::Shape`] and
/// [`EvalError::Quantization`] when the operands do not fit the op;
/// [`EvalError::Limit`] when a value would be too large.
pub fn eval_op(op: &Op, inputs: &[Option<&Value>], outputs: &[&Tensor]) -> Result<Vec<Value>, EvalError> {
    kernels::eval(op, inputs, outputs, DEFAULT_MAX_ELEMENTS)
}
