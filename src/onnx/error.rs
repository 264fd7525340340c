//! Errors of the ONNX front end.

use thiserror::Error;

/// Why a node could not be lowered, as a machine-readable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ReasonCode {
    /// No lowering exists for this op type and domain.
    UnsupportedOp,
    /// The op exists, but not at this opset.
    UnsupportedOpset,
    /// An attribute has a value the lowering does not handle.
    UnsupportedAttribute,
    /// An input must be a constant (initializer or folded) but is not.
    InputMustBeConstant,
    /// An element type that TFLite (or this lowering) does not support.
    UnsupportedDtype,
    /// The shape or rank is not supported (e.g. unknown rank).
    UnsupportedShape,
    /// The node is malformed (missing inputs, bad attribute types).
    InvalidNode,
}

impl ReasonCode {
    /// A stable snake_case name, as used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::UnsupportedOp => "unsupported_op",
            ReasonCode::UnsupportedOpset => "unsupported_opset",
            ReasonCode::UnsupportedAttribute => "unsupported_attribute",
            ReasonCode::InputMustBeConstant => "input_must_be_constant",
            ReasonCode::UnsupportedDtype => "unsupported_dtype",
            ReasonCode::UnsupportedShape => "unsupported_shape",
            ReasonCode::InvalidNode => "invalid_node",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of the ONNX front end. Node errors name the node, op, opset and
/// reason.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// The bytes are not a valid ONNX protobuf.
    #[error("invalid ONNX protobuf: {0}")]
    Parse(String),
    /// The model's structure is wrong (missing graph, duplicate outputs, ...).
    #[error("invalid ONNX model: {0}")]
    Invalid(String),
    /// A node cannot be lowered.
    #[error("cannot convert node {node:?} ({op_type}, opset {opset}): {reason_code}: {detail}")]
    UnsupportedOnnxOp {
        /// The node's name (or its first output when unnamed).
        node: String,
        /// The op type, with its domain when not the default one.
        op_type: String,
        /// The opset of the node's domain.
        opset: i64,
        /// Why.
        reason_code: ReasonCode,
        /// Details.
        detail: String,
    },
    /// External data could not be loaded.
    #[error("external data for {tensor:?}: {detail}")]
    ExternalData {
        /// The tensor.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
    /// A configured limit was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The produced TFLite model failed validation (a converter bug).
    #[error("the converted model is invalid: {0}")]
    Model(#[from] crate::ValidationError),
    /// I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl OnnxError {
    /// The same error, its message prefixed with where it happened (for
    /// errors inside a nested graph); node errors already name their node.
    pub(crate) fn within(self, place: &str) -> OnnxError {
        match self {
            OnnxError::Invalid(m) => OnnxError::Invalid(format!("{place}: {m}")),
            OnnxError::Limit(m) => OnnxError::Limit(format!("{place}: {m}")),
            OnnxError::Parse(m) => OnnxError::Parse(format!("{place}: {m}")),
            other => other,
        }
    }
}
