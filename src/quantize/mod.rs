//! Post-training quantization of a float [`Model`].
//!
//! Modes:
//! - [`Mode::Float16`]: float constants stored as float16, each followed by a
//!   `DEQUANTIZE` to float32 (half the size; the same float kernels run);
//! - [`Mode::DynamicRange`]: int8 weights for CONV_2D, DEPTHWISE_CONV_2D,
//!   FULLY_CONNECTED and BATCH_MATMUL, float activations; the runtime runs
//!   the hybrid kernels, which quantize inputs on the fly. No dataset is
//!   needed (about a quarter of the weight bytes, float inputs and outputs);
//! - [`Mode::Int8`]: full integer quantization from a representative
//!   dataset. Activations are int8 (asymmetric, ranges from calibration with
//!   the reference evaluator), weights int8 symmetric per output channel,
//!   biases int32 with `scale = input_scale × weight_scale`. The model's
//!   inputs and outputs are float, int8 or uint8 ([`IoType`]);
//! - [`Mode::Int16x8`]: full integer with int16 activations (symmetric,
//!   zero point 0), int8 weights and int64 biases, from a representative
//!   dataset: more accurate than int8 where activations have a wide range,
//!   on the ops that have 16x8 kernels. Inputs and outputs are float or
//!   int16.
//!
//! The work is recipe → parameters → rewrite: [`calibrate`] records each
//! tensor's float range, the parameters follow the kernels' conventions
//! (fixed parameters for SOFTMAX, LOGISTIC and TANH; one scale shared by the
//! inputs and outputs of CONCATENATION, MAX_POOL_2D, RESHAPE and the other
//! ops that move values without computing), and the model is rewritten with
//! the same tensor indices plus the boundary `QUANTIZE`/`DEQUANTIZE` ops.
//! With a dataset, [`quantize`] also returns a per-layer error report
//! ([`QuantReport`]) from running the float and the quantized model side by
//! side in the reference evaluator.
//!
//! ```
//! use tflite_forge::eval::Value;
//! use tflite_forge::quantize::{quantize, IoType, QuantizeOptions};
//! use tflite_forge::{DType, FullyConnectedOptions, ModelBuilder};
//!
//! let mut b = ModelBuilder::new();
//! let mut g = b.subgraph("main");
//! let x = g.input("x", DType::F32, [1, 4]);
//! let w = g.constant_f32("w", [3, 4], &[0.5, -1.0, 0.25, 2.0, 1.0, 1.0, -0.5, 0.0, -2.0, 0.75, 1.5, -1.0]);
//! let y = g.fully_connected(x, w, None, FullyConnectedOptions::default())?;
//! let y = g.softmax(y, 1.0)?;
//! g.output("y", y);
//! b.finish_subgraph(g)?;
//! let model = b.finish()?;
//!
//! let data: Vec<Vec<Value>> = (0..8)
//!     .map(|i| vec![Value::from_f32(vec![1, 4], vec![i as f32 / 8.0, -0.5, 1.0, 0.25])])
//!     .collect();
//! let q = quantize(&model, &QuantizeOptions::int8(IoType::Uint8), &data)?;
//! let input = &q.model.subgraphs[0].tensors[q.model.subgraphs[0].inputs[0].index()];
//! assert_eq!(input.dtype, DType::U8);
//! let report = q.report.unwrap();
//! assert!(report.output_cosine > 0.99, "{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blockwise;
mod calibrate;
mod dynamic;
mod fallback;
mod float16;
mod full;
mod int16x8;
mod int4;
mod keep;
mod lstm;
mod methods;
mod parallel;
mod params;
mod prepare;
mod report;
mod samples;
mod scheme;
mod weight_only;

use thiserror::Error;

use crate::error::ValidationError;
use crate::eval::{EvalError, Value};
use crate::model::Model;

pub use blockwise::{BlockwiseFallback, BlockwiseFallbackReason, MAX_INT4_BLOCK_SIZE, MIN_INT4_BLOCK_SIZE};
pub use calibrate::{calibrate, calibrate_with, calibrate_with_threads, Ranges};
pub use fallback::{FloatOp, FloatReason};
pub(crate) use int4::unpack_int4;
pub use keep::KeepFloat;
pub use methods::{CalibrationMethod, BINS, DEFAULT_PERCENTILE};
pub use prepare::fold_constant_dequantize;
pub use report::{quantize_input, report, report_with_threads, LayerError, QuantReport};
pub use samples::{InputSpec, SampleAdapter, SampleLayout, IO_LAYOUT_METADATA};

/// What to quantize to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Float constants as float16, dequantized at run time.
    Float16,
    /// Weights only ("dynamic range"): int8 weights for the ops with hybrid
    /// kernels, float activations and biases.
    DynamicRange,
    /// Full integer: int8 activations and weights, int32 biases.
    Int8,
    /// Full integer 16x8: int16 activations, int8 weights, int64 biases.
    Int16x8,
    /// Weight-only int8: int8 weights (of the ops [`Mode::DynamicRange`]
    /// quantizes, and TRANSPOSE_CONV), each dequantized to float32 at run
    /// time; every op computes in float. No dataset is needed.
    WeightOnlyInt8,
}

/// The default of [`QuantizeOptions::min_weight_elements`]: 1024, as in
/// TensorFlow's converter.
pub const DEFAULT_MIN_WEIGHT_ELEMENTS: usize = 1024;

/// The default of [`QuantizeOptions::report_samples`]: the error report
/// compares the float and quantized models on the first 16 samples.
pub const DEFAULT_REPORT_SAMPLES: usize = 16;

/// Element type of the quantized model's inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IoType {
    /// Float32, with `QUANTIZE` after each input and `DEQUANTIZE` before each
    /// output.
    #[default]
    Float,
    /// Int8, with the parameters of the tensors they feed and come from
    /// ([`Mode::Int8`]).
    Int8,
    /// Uint8: the int8 parameters with the zero point moved by 128, and a
    /// requantizing `QUANTIZE` at each input and output ([`Mode::Int8`]).
    Uint8,
    /// Int16, with the parameters of the tensors they feed and come from
    /// ([`Mode::Int16x8`]).
    Int16,
}

/// Options for [`quantize`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QuantizeOptions {
    /// The mode.
    pub mode: Mode,
    /// Input and output type: [`IoType::Float`], or for [`Mode::Int8`]
    /// int8 or uint8, for [`Mode::Int16x8`] int16.
    pub io: IoType,
    /// Per-output-channel weight scales for CONV_2D, DEPTHWISE_CONV_2D and
    /// TRANSPOSE_CONV, and for FULLY_CONNECTED in [`Mode::DynamicRange`]
    /// and [`Mode::Int16x8`] (as TensorFlow's converter does; in
    /// [`Mode::Int8`] FULLY_CONNECTED weights are per tensor). Without it,
    /// one scale per tensor, except for the hybrid DEPTHWISE_CONV_2D kernel
    /// of [`Mode::DynamicRange`], which needs one per channel.
    pub per_channel: bool,
    /// The float range of the model's inputs, instead of the calibrated
    /// one: `Some((0.0, 255.0))` for an image model that takes raw pixels
    /// (after [`crate::passes::normalize::prepend_normalization`]), so that
    /// a uint8 input gets scale 1 and zero point 0 and apps feed image bytes
    /// as they are.
    pub input_range: Option<(f32, f32)>,
    /// [`Mode::DynamicRange`]: weights with fewer elements stay float
    /// (default [`DEFAULT_MIN_WEIGHT_ELEMENTS`]); on small layers the
    /// hybrid kernels' on-the-fly input quantization costs more than the
    /// smaller weights save.
    pub min_weight_elements: usize,
    /// Int4 weights (symmetric in `[-7, 7]`, packed two per byte): in
    /// [`Mode::Int8`] for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED
    /// (LiteRT's reference kernels unpack them to int8; XNNPACK takes the
    /// FULLY_CONNECTED ones), in [`Mode::DynamicRange`] for
    /// FULLY_CONNECTED (the hybrid kernel, as for transformer-style
    /// models). About half the weight bytes of int8, at 16× the rounding
    /// step: check the report. Scales are per output channel; see
    /// [`QuantizeOptions::int4_block_size`] for blockwise ones.
    pub int4_weights: bool,
    /// Blockwise int4 weights for FULLY_CONNECTED in [`Mode::DynamicRange`]:
    /// one float16 scale per block of this many inputs of each output row,
    /// instead of one per output row, as ai-edge-quantizer's blockwise
    /// recipes write them. A multiple of 32 in `32..=256` (XNNPACK takes
    /// multiples of 32), or [`QuantizeError::BlockSize`]. Finer scales
    /// follow the weights more closely, for one float16 per block (about
    /// 0.5 bit per weight at 32, 0.06 at 256).
    ///
    /// LiteRT runs such weights with float inputs only (its hybrid kernel
    /// and XNNPACK), on its default kernels, not the reference ones
    /// (`BUILTIN_REF`). Its blockwise kernel ignores fused activations: a
    /// FULLY_CONNECTED with blockwise weights gets its RELU, RELU6,
    /// RELU_N1_TO_1 or TANH as a separate op after it. Weights that do not
    /// fit (the block size does not divide the input dimension, fewer than
    /// 4 output units, a fused SIGN_BIT) keep per-channel int4 and are
    /// listed in [`Quantized::blockwise_fallbacks`].
    pub int4_block_size: Option<u32>,
    /// How calibration turns the values seen into ranges
    /// ([`Mode::Int8`], [`Mode::Int16x8`]).
    pub calibration: CalibrationMethod,
    /// Fail with [`QuantizeError::Unsupported`] for an op without a kernel
    /// in the mode, instead of leaving it in float (full-integer modes).
    pub integer_only: bool,
    /// Ops to leave in float (full-integer modes).
    pub keep_float: KeepFloat,
    /// Threads for calibration and the error report (samples run in
    /// parallel); 0, the default, means one per core. The result is the
    /// same for any thread count.
    pub threads: usize,
    /// How many samples of the dataset (the first ones) the error report
    /// compares, default [`DEFAULT_REPORT_SAMPLES`]; calibration always uses
    /// all of them. 0 skips the report. The report says how many it used
    /// ([`QuantReport::samples`] of [`QuantReport::dataset_samples`]).
    pub report_samples: usize,
}

impl QuantizeOptions {
    fn new(mode: Mode, io: IoType) -> QuantizeOptions {
        QuantizeOptions {
            mode,
            io,
            per_channel: true,
            input_range: None,
            min_weight_elements: DEFAULT_MIN_WEIGHT_ELEMENTS,
            int4_weights: false,
            int4_block_size: None,
            calibration: CalibrationMethod::MinMax,
            integer_only: false,
            keep_float: KeepFloat::default(),
            threads: 0,
            report_samples: DEFAULT_REPORT_SAMPLES,
        }
    }

    /// Float16 constants.
    pub fn float16() -> QuantizeOptions {
        QuantizeOptions::new(Mode::Float16, IoType::Float)
    }

    /// Dynamic range (weights-only int8) quantization; needs no dataset.
    ///
    /// ```
    /// use tflite_forge::quantize::{quantize, QuantizeOptions};
    /// use tflite_forge::{DType, FullyConnectedOptions, ModelBuilder, Op};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut g = b.subgraph("main");
    /// let x = g.input("x", DType::F32, [1, 64]);
    /// let w: Vec<f32> = (0..32 * 64).map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5).collect();
    /// let w = g.constant_f32("w", [32, 64], &w);
    /// let y = g.fully_connected(x, w, None, FullyConnectedOptions::default())?;
    /// g.output("y", y);
    /// b.finish_subgraph(g)?;
    /// let model = b.finish()?;
    ///
    /// let q = quantize(&model, &QuantizeOptions::dynamic_range(), &[])?;
    /// let sg = &q.model.subgraphs[0];
    /// let fc = &sg.operators[0];
    /// assert_eq!(sg.tensors[fc.inputs[1].unwrap().index()].dtype, DType::I8);
    /// assert!(matches!(fc.op, Op::FullyConnected(o) if o.asymmetric_quantize_inputs));
    /// assert_eq!(sg.tensors[fc.outputs[0].index()].dtype, DType::F32);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dynamic_range() -> QuantizeOptions {
        QuantizeOptions::new(Mode::DynamicRange, IoType::Float)
    }

    /// Weight-only int8 ([`Mode::WeightOnlyInt8`]); needs no dataset.
    ///
    /// ```
    /// use tflite_forge::quantize::{quantize, QuantizeOptions};
    /// use tflite_forge::{DType, FullyConnectedOptions, ModelBuilder, Op};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut g = b.subgraph("main");
    /// let x = g.input("x", DType::F32, [1, 64]);
    /// let w: Vec<f32> = (0..32 * 64).map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5).collect();
    /// let w = g.constant_f32("w", [32, 64], &w);
    /// let y = g.fully_connected(x, w, None, FullyConnectedOptions::default())?;
    /// g.output("y", y);
    /// b.finish_subgraph(g)?;
    /// let model = b.finish()?;
    ///
    /// let q = quantize(&model, &QuantizeOptions::weight_only_int8(), &[])?;
    /// let sg = &q.model.subgraphs[0];
    /// assert!(matches!(sg.operators[0].op, Op::Dequantize));
    /// assert_eq!(sg.tensors[sg.operators[0].inputs[0].unwrap().index()].dtype, DType::I8);
    /// // The FULLY_CONNECTED computes in float on the dequantized weights.
    /// assert_eq!(sg.tensors[sg.operators[1].inputs[1].unwrap().index()].dtype, DType::F32);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn weight_only_int8() -> QuantizeOptions {
        QuantizeOptions::new(Mode::WeightOnlyInt8, IoType::Float)
    }

    /// Full int8 with the given input/output type.
    pub fn int8(io: IoType) -> QuantizeOptions {
        QuantizeOptions::new(Mode::Int8, io)
    }

    /// Full integer 16x8 with the given input/output type
    /// ([`IoType::Float`] or [`IoType::Int16`]).
    ///
    /// ```
    /// use tflite_forge::eval::Value;
    /// use tflite_forge::quantize::{quantize, IoType, QuantizeOptions};
    /// use tflite_forge::{DType, FullyConnectedOptions, ModelBuilder};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut g = b.subgraph("main");
    /// let x = g.input("x", DType::F32, [1, 4]);
    /// let w = g.constant_f32("w", [3, 4], &[0.5, -1.0, 0.25, 2.0, 1.0, 1.0, -0.5, 0.0, -2.0, 0.75, 1.5, -1.0]);
    /// let bias = g.constant_f32("b", [3], &[0.1, -0.2, 0.3]);
    /// let y = g.fully_connected(x, w, Some(bias), FullyConnectedOptions::default())?;
    /// let y = g.softmax(y, 1.0)?;
    /// g.output("y", y);
    /// b.finish_subgraph(g)?;
    /// let model = b.finish()?;
    ///
    /// let data: Vec<Vec<Value>> = (0..8)
    ///     .map(|i| vec![Value::from_f32(vec![1, 4], vec![i as f32 / 8.0, -0.5, 1.0, 0.25])])
    ///     .collect();
    /// let q = quantize(&model, &QuantizeOptions::int16x8(IoType::Int16), &data)?;
    /// let sg = &q.model.subgraphs[0];
    /// let output = &sg.tensors[sg.outputs[0].index()];
    /// assert_eq!(output.dtype, DType::I16);
    /// assert_eq!(output.quantization.as_ref().unwrap().scale, [1.0 / 32768.0]);
    /// assert_eq!(sg.tensors[sg.operators[0].inputs[2].unwrap().index()].dtype, DType::I64);
    /// assert!(q.report.unwrap().output_cosine > 0.9999);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn int16x8(io: IoType) -> QuantizeOptions {
        QuantizeOptions::new(Mode::Int16x8, io)
    }

    /// Sets [`QuantizeOptions::per_channel`].
    pub fn with_per_channel(mut self, per_channel: bool) -> QuantizeOptions {
        self.per_channel = per_channel;
        self
    }

    /// Sets [`QuantizeOptions::int4_weights`].
    ///
    /// ```
    /// use tflite_forge::quantize::{quantize, QuantizeOptions};
    /// use tflite_forge::{DType, FullyConnectedOptions, ModelBuilder};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut g = b.subgraph("main");
    /// let x = g.input("x", DType::F32, [1, 64]);
    /// let w: Vec<f32> = (0..32 * 64).map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5).collect();
    /// let w = g.constant_f32("w", [32, 64], &w);
    /// let y = g.fully_connected(x, w, None, FullyConnectedOptions::default())?;
    /// g.output("y", y);
    /// b.finish_subgraph(g)?;
    /// let model = b.finish()?;
    ///
    /// let q = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_weights(true), &[])?;
    /// let sg = &q.model.subgraphs[0];
    /// let w = &sg.tensors[sg.operators[0].inputs[1].unwrap().index()];
    /// assert_eq!((w.dtype, w.data.as_ref().unwrap().len()), (DType::I4, 32 * 64 / 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_int4_weights(mut self, int4: bool) -> QuantizeOptions {
        self.int4_weights = int4;
        self
    }

    /// Sets [`QuantizeOptions::int4_block_size`]; `Some` also turns on
    /// [`QuantizeOptions::int4_weights`].
    ///
    /// ```
    /// use tflite_forge::quantize::{quantize, QuantizeOptions};
    /// use tflite_forge::{DType, FullyConnectedOptions, ModelBuilder};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut g = b.subgraph("main");
    /// let x = g.input("x", DType::F32, [1, 256]);
    /// let w: Vec<f32> = (0..32 * 256).map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5).collect();
    /// let w = g.constant_f32("w", [32, 256], &w);
    /// let y = g.fully_connected(x, w, None, FullyConnectedOptions::default())?;
    /// g.output("y", y);
    /// b.finish_subgraph(g)?;
    /// let model = b.finish()?;
    ///
    /// let q = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_block_size(Some(128)), &[])?;
    /// let sg = &q.model.subgraphs[0];
    /// let w = &sg.tensors[sg.operators[0].inputs[1].unwrap().index()];
    /// let details = w.quantization.as_ref().unwrap().details.as_ref().unwrap();
    /// let block = details.blockwise().unwrap();
    /// assert_eq!((w.dtype, block.block_size), (DType::I4, 128));
    /// // One float16 scale per 128 inputs of each of the 32 rows.
    /// let scales = &sg.tensors[block.scales.index()];
    /// assert_eq!((scales.dtype, scales.shape.as_fixed()), (DType::F16, Some(vec![32, 2])));
    /// assert!(q.blockwise_fallbacks.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_int4_block_size(mut self, block_size: Option<u32>) -> QuantizeOptions {
        self.int4_block_size = block_size;
        if block_size.is_some() {
            self.int4_weights = true;
        }
        self
    }

    /// Sets [`QuantizeOptions::calibration`].
    pub fn with_calibration(mut self, method: CalibrationMethod) -> QuantizeOptions {
        self.calibration = method;
        self
    }

    /// Sets [`QuantizeOptions::integer_only`].
    pub fn with_integer_only(mut self, integer_only: bool) -> QuantizeOptions {
        self.integer_only = integer_only;
        self
    }

    /// Sets [`QuantizeOptions::keep_float`].
    pub fn with_keep_float(mut self, keep: KeepFloat) -> QuantizeOptions {
        self.keep_float = keep;
        self
    }

    /// Sets [`QuantizeOptions::threads`] (0: one per core).
    pub fn with_threads(mut self, threads: usize) -> QuantizeOptions {
        self.threads = threads;
        self
    }

    /// Sets [`QuantizeOptions::report_samples`] (0: no report).
    pub fn with_report_samples(mut self, samples: usize) -> QuantizeOptions {
        self.report_samples = samples;
        self
    }

    /// Sets [`QuantizeOptions::min_weight_elements`].
    pub fn with_min_weight_elements(mut self, n: usize) -> QuantizeOptions {
        self.min_weight_elements = n;
        self
    }
}

/// Why a model could not be quantized.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum QuantizeError {
    /// An op (or its use of a tensor) has no quantized kernel in this mode.
    #[error("operator {operator} ({op}): {detail}")]
    Unsupported {
        /// Operator index in subgraph 0.
        operator: usize,
        /// The op name.
        op: String,
        /// What is not supported.
        detail: String,
    },
    /// The model's structure is outside what quantization handles.
    #[error("cannot quantize this model: {0}")]
    Model(String),
    /// The options do not go together (an input/output type the mode does
    /// not have).
    #[error("invalid quantization options: {0}")]
    Options(String),
    /// [`QuantizeOptions::int4_block_size`] is not a multiple of 32 in
    /// `32..=256`.
    #[error("int4 block size {0} is not a multiple of 32 in 32..=256 (XNNPACK takes multiples of 32)")]
    BlockSize(u32),
    /// The representative dataset does not fit the model, or left a tensor
    /// without a range.
    #[error("calibration: {0}")]
    Calibration(String),
    /// The reference evaluator failed on a sample.
    #[error("evaluating a sample: {0}")]
    Eval(#[from] EvalError),
    /// The quantized model failed validation (a bug: please report it).
    #[error("the quantized model is invalid: {0}")]
    Invalid(#[from] ValidationError),
}

/// A quantized model and, when a dataset was given, its error report.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Quantized {
    /// The quantized model.
    pub model: Model,
    /// Per-layer errors against the float model on the dataset.
    pub report: Option<QuantReport>,
    /// Ops left in float (no kernel in the mode, or kept on request), in
    /// op order.
    pub float_ops: Vec<FloatOp>,
    /// The calibrated ranges (full-integer modes), per tensor index of the
    /// float model's subgraph 0.
    pub ranges: Option<Ranges>,
    /// FULLY_CONNECTED weights that kept per-channel int4 although
    /// [`QuantizeOptions::int4_block_size`] asked for blockwise ones, and
    /// why.
    pub blockwise_fallbacks: Vec<BlockwiseFallback>,
}

/// Quantizes `model` (subgraph 0, the entry point).
///
/// `dataset` holds representative samples, each one value per input of
/// subgraph 0 in order, in float, in the model's layout (see
/// [`SampleAdapter`] for samples in the ONNX layout or keyed by name).
/// [`Mode::Int8`] and [`Mode::Int16x8`] need at least one sample; with any
/// samples the result has a [`QuantReport`] on the first
/// [`QuantizeOptions::report_samples`] of them. Calibration and the report
/// run samples on [`QuantizeOptions::threads`] threads; the quantized model
/// and the report do not depend on the thread count.
///
/// In the full-integer modes an op without a kernel in the mode stays in
/// float, between `DEQUANTIZE` and `QUANTIZE`, and is listed in
/// [`Quantized::float_ops`] (unless [`QuantizeOptions::integer_only`]);
/// so are the ops named by [`QuantizeOptions::keep_float`].
///
/// # Errors
/// [`QuantizeError::Options`] for an input/output type the mode does not
/// have; [`QuantizeError::Unsupported`] for an op without a kernel in the
/// mode with [`QuantizeOptions::integer_only`] (naming the op), or that
/// dynamic range cannot handle; [`QuantizeError::Calibration`] and
/// [`QuantizeError::Eval`] when the dataset does not fit the model.
pub fn quantize(model: &Model, options: &QuantizeOptions, dataset: &[Vec<Value>]) -> Result<Quantized, QuantizeError> {
    quantize_with_progress(model, options, dataset, &mut |_, _| {})
}

/// [`quantize`], calling `progress(samples_done, total)` during
/// calibration.
///
/// ```
/// use tflite_forge::eval::Value;
/// use tflite_forge::quantize::{quantize_with_progress, IoType, QuantizeOptions};
/// use tflite_forge::{DType, ModelBuilder};
///
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [1, 4]);
/// let y = g.hard_swish(x)?;
/// g.output("y", y);
/// b.finish_subgraph(g)?;
/// let model = b.finish()?;
/// let data: Vec<Vec<Value>> = (0..4).map(|i| vec![Value::from_f32(vec![1, 4], vec![i as f32, -1.0, 0.5, 3.0])]).collect();
/// let mut seen = Vec::new();
/// // No int16 HARD_SWISH kernel: the op stays in float.
/// let q = quantize_with_progress(&model, &QuantizeOptions::int16x8(IoType::Float), &data, &mut |done, total| seen.push((done, total)))?;
/// assert_eq!(seen.last(), Some(&(4, 4)));
/// assert_eq!(q.float_ops[0].op, "HARD_SWISH");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`quantize`].
pub fn quantize_with_progress(
    model: &Model,
    options: &QuantizeOptions,
    dataset: &[Vec<Value>],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Quantized, QuantizeError> {
    if model.subgraphs.len() != 1 {
        return Err(QuantizeError::Model(format!(
            "{} subgraphs; quantization handles single-subgraph models (no control flow)",
            model.subgraphs.len()
        )));
    }
    let io_ok = match options.mode {
        Mode::Float16 | Mode::DynamicRange | Mode::WeightOnlyInt8 => options.io == IoType::Float,
        Mode::Int8 => matches!(options.io, IoType::Float | IoType::Int8 | IoType::Uint8),
        Mode::Int16x8 => matches!(options.io, IoType::Float | IoType::Int16),
    };
    if options.int4_weights && !matches!(options.mode, Mode::Int8 | Mode::DynamicRange) {
        return Err(QuantizeError::Options(format!("int4 weights in mode {:?} (int8 and dynamic range have them)", options.mode)));
    }
    if let Some(n) = options.int4_block_size {
        if !blockwise::valid_block_size(n) {
            return Err(QuantizeError::BlockSize(n));
        }
        if options.mode != Mode::DynamicRange || !options.int4_weights {
            return Err(QuantizeError::Options(format!(
                "blockwise int4 weights in mode {:?}: LiteRT runs them with float activations only (dynamic range with int4 weights)",
                options.mode
            )));
        }
    }
    if !io_ok {
        return Err(QuantizeError::Options(format!("{:?} inputs and outputs in mode {:?}", options.io, options.mode)));
    }
    // Files from TensorFlow's converter and MediaPipe store float16 weights
    // behind DEQUANTIZE ops: quantize their float32 values.
    let mut prepared = model.clone();
    fold_constant_dequantize(&mut prepared);
    let model = &prepared;
    let compared = &dataset[..dataset.len().min(options.report_samples)];
    // The report compares with the float passes calibration kept, if any.
    let report_of = |q: &Model, passes: &[Option<calibrate::FloatPass>]| -> Result<Option<QuantReport>, QuantizeError> {
        if compared.is_empty() {
            return Ok(None);
        }
        let mut r = report::report_with_passes(model, q, compared, options.threads, passes)?;
        r.dataset_samples = dataset.len();
        Ok(Some(r))
    };
    let scheme = match options.mode {
        Mode::Float16 | Mode::DynamicRange | Mode::WeightOnlyInt8 => {
            let (quantized, blockwise_fallbacks) = match options.mode {
                Mode::Float16 => (float16::rewrite(model)?, Vec::new()),
                Mode::DynamicRange => dynamic::rewrite(model, options)?,
                _ => (weight_only::rewrite(model, options)?, Vec::new()),
            };
            crate::validate::validate(&quantized)?;
            let report = report_of(&quantized, &[])?;
            return Ok(Quantized { model: quantized, report, float_ops: Vec::new(), ranges: None, blockwise_fallbacks });
        }
        Mode::Int8 => &scheme::INT8,
        Mode::Int16x8 => &int16x8::INT16X8,
    };
    if dataset.is_empty() {
        return Err(QuantizeError::Calibration(format!("{} quantization needs at least one representative sample", scheme.name)));
    }
    let levels = if scheme.activation == crate::model::DType::I16 { 65535.0 } else { 255.0 };
    let (ranges, passes) =
        calibrate::calibrate_threads(model, dataset, options.calibration, levels, options.threads, compared.len(), progress)?;
    let sg = &model.subgraphs[0];
    let mut keep = options.keep_float.named(sg)?;
    let (mut quantized, mut float_ops) = full::rewrite(model, &ranges, options, scheme, &keep)?;
    crate::validate::validate(&quantized)?;
    let mut report = report_of(&quantized, &passes)?;
    if let Some(r) = &report
        && options.keep_float.by_error(sg, r, if levels > 255.0 { 16.0 } else { 8.0 }, &mut keep)
    {
        (quantized, float_ops) = full::rewrite(model, &ranges, options, scheme, &keep)?;
        crate::validate::validate(&quantized)?;
        report = report_of(&quantized, &passes)?;
    }
    Ok(Quantized { model: quantized, report, float_ops, ranges: Some(ranges), blockwise_fallbacks: Vec::new() })
}
