//! Post-training quantization of a float [`Model`].
//!
//! Modes:
//! - [`Mode::Float16`]: float constants stored as float16, each followed by a
//!   `DEQUANTIZE` to float32 (half the size; the same float kernels run);
//! - [`Mode::Int8`]: full integer quantization from a representative
//!   dataset. Activations are int8 (asymmetric, ranges from calibration with
//!   the reference evaluator), weights int8 symmetric per output channel,
//!   biases int32 with `scale = input_scale × weight_scale`. The model's
//!   inputs and outputs are float, int8 or uint8 ([`IoType`]).
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

mod calibrate;
mod float16;
mod full;
mod params;
mod report;

use thiserror::Error;

use crate::error::ValidationError;
use crate::eval::{EvalError, Value};
use crate::model::Model;

pub use calibrate::{calibrate, Ranges};
pub use report::{report, LayerError, QuantReport};

/// What to quantize to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Float constants as float16, dequantized at run time.
    Float16,
    /// Full integer: int8 activations and weights, int32 biases.
    Int8,
}

/// Element type of the quantized model's inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IoType {
    /// Float32, with `QUANTIZE` after each input and `DEQUANTIZE` before each
    /// output.
    #[default]
    Float,
    /// Int8, with the parameters of the tensors they feed and come from.
    Int8,
    /// Uint8: the int8 parameters with the zero point moved by 128, and a
    /// requantizing `QUANTIZE` at each input and output.
    Uint8,
}

/// Options for [`quantize`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QuantizeOptions {
    /// The mode.
    pub mode: Mode,
    /// Input and output type (integer modes).
    pub io: IoType,
    /// Per-output-channel weight scales for CONV_2D, DEPTHWISE_CONV_2D and
    /// TRANSPOSE_CONV (FULLY_CONNECTED weights are always per tensor, as
    /// the default TFLite kernels expect).
    pub per_channel: bool,
    /// The float range of the model's inputs, instead of the calibrated
    /// one: `Some((0.0, 255.0))` for an image model that takes raw pixels
    /// (after [`crate::passes::normalize::prepend_normalization`]), so that
    /// a uint8 input gets scale 1 and zero point 0 and apps feed image bytes
    /// as they are.
    pub input_range: Option<(f32, f32)>,
}

impl QuantizeOptions {
    /// Float16 constants.
    pub fn float16() -> QuantizeOptions {
        QuantizeOptions { mode: Mode::Float16, io: IoType::Float, per_channel: true, input_range: None }
    }

    /// Full int8 with the given input/output type.
    pub fn int8(io: IoType) -> QuantizeOptions {
        QuantizeOptions { mode: Mode::Int8, io, per_channel: true, input_range: None }
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
}

/// Quantizes `model` (subgraph 0, the entry point).
///
/// `dataset` holds representative samples, each one value per input of
/// subgraph 0 in order, in float. [`Mode::Int8`] needs at least one sample;
/// with any samples the result has a [`QuantReport`].
pub fn quantize(model: &Model, options: &QuantizeOptions, dataset: &[Vec<Value>]) -> Result<Quantized, QuantizeError> {
    if model.subgraphs.len() != 1 {
        return Err(QuantizeError::Model(format!(
            "{} subgraphs; quantization handles single-subgraph models (no control flow)",
            model.subgraphs.len()
        )));
    }
    let quantized = match options.mode {
        Mode::Float16 => float16::rewrite(model)?,
        Mode::Int8 => {
            if dataset.is_empty() {
                return Err(QuantizeError::Calibration("int8 quantization needs at least one representative sample".into()));
            }
            let ranges = calibrate(model, dataset)?;
            full::rewrite(model, &ranges, options)?
        }
    };
    crate::validate::validate(&quantized)?;
    let report = if dataset.is_empty() { None } else { Some(report::report(model, &quantized, dataset)?) };
    Ok(Quantized { model: quantized, report })
}
