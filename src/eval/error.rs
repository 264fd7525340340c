//! Why an evaluation failed.

use thiserror::Error;

use crate::error::Location;

/// Why an evaluation failed.
///
/// Errors raised while running an operator of a subgraph come wrapped in
/// [`EvalError::At`], which says where; [`EvalError::root`] unwraps them.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The op, one of its options, or an element type has no reference
    /// implementation (custom ops, opaque builtins, a fused `TANH`, ...).
    #[error("{op}: not supported: {detail}")]
    Unsupported {
        /// The op name (or `constant` / `input` for values).
        op: String,
        /// What is not supported.
        detail: String,
    },
    /// The operands do not fit the op: wrong count, shapes, or values
    /// (axes, permutation, paddings, target shape, division by zero).
    #[error("{op}: {detail}")]
    Shape {
        /// The op name.
        op: String,
        /// What is wrong.
        detail: String,
    },
    /// Quantization parameters are missing or invalid.
    #[error("{op}: quantization: {detail}")]
    Quantization {
        /// The op name (or `value` for [`Value::dequantized`](super::Value::dequantized)).
        op: String,
        /// What is wrong.
        detail: String,
    },
    /// The values given to [`Evaluator::run`](super::Evaluator::run) do not
    /// fit the subgraph (count, type, shape or contents), or there is no such
    /// subgraph.
    #[error("invalid input: {detail}")]
    Input {
        /// What is wrong.
        detail: String,
    },
    /// The model's structure is broken: a tensor index out of range, a tensor
    /// read before anything writes it, constant bytes that do not match the
    /// tensor's shape and type.
    #[error("invalid graph: {detail}")]
    Graph {
        /// What is wrong.
        detail: String,
    },
    /// A value would have more elements than the evaluator's limit (see
    /// [`Evaluator::with_max_elements`](super::Evaluator::with_max_elements)).
    #[error("limit exceeded: {detail}")]
    Limit {
        /// What exceeded the limit.
        detail: String,
    },
    /// A `WHILE` ran its body as often as the evaluator's limit allows (see
    /// [`Evaluator::with_max_while_iterations`](super::Evaluator::with_max_while_iterations))
    /// and its condition was still true.
    #[error("WHILE still looping after {limit} iterations, the evaluator's limit")]
    LoopLimit {
        /// The iteration limit.
        limit: usize,
    },
    /// An error raised while running one operator of a subgraph.
    #[error("{location} ({op}): {error}")]
    At {
        /// The subgraph and operator index.
        location: Location,
        /// The operator's op name.
        op: String,
        /// What went wrong.
        error: Box<EvalError>,
    },
}

impl EvalError {
    /// The error without the [`EvalError::At`] location wrappers.
    ///
    /// ```
    /// use tflite_forge::eval::EvalError;
    /// use tflite_forge::Location;
    /// let e = EvalError::At {
    ///     location: Location { subgraph: 0, operator: Some(3), tensor: None },
    ///     op: "PAD".into(),
    ///     error: Box::new(EvalError::Limit { detail: "too big".into() }),
    /// };
    /// assert!(matches!(e.root(), EvalError::Limit { .. }));
    /// assert_eq!(e.to_string(), "subgraph 0, operator 3 (PAD): limit exceeded: too big");
    /// ```
    pub fn root(&self) -> &EvalError {
        match self {
            EvalError::At { error, .. } => error.root(),
            other => other,
        }
    }
}
