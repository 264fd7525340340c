//! Why a delegate does not take an operator.

use std::fmt;

use crate::model::DType;

/// Which tensor of an operator a [`Reason`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TensorRef {
    /// Input `i` of the operator.
    Input(usize),
    /// Output `i` of the operator.
    Output(usize),
}

impl fmt::Display for TensorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorRef::Input(i) => write!(f, "input {i}"),
            TensorRef::Output(i) => write!(f, "output {i}"),
        }
    }
}

/// Why a delegate does not take an operator.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// The delegate has no kernel for this op at all.
    OpNotSupported,
    /// The op's version is above the highest the delegate takes.
    VersionTooHigh {
        /// The op's version.
        version: i32,
        /// The highest version taken.
        max: i32,
    },
    /// A tensor's element type (or its quantization) is not taken.
    Dtype {
        /// The tensor.
        tensor: TensorRef,
        /// Its element type.
        dtype: DType,
        /// What the delegate takes there.
        expected: &'static str,
    },
    /// A tensor's rank is not taken.
    Rank {
        /// The tensor.
        tensor: TensorRef,
        /// Its rank.
        rank: usize,
        /// What the delegate takes there.
        expected: &'static str,
    },
    /// An input that must be a constant (weights, axes, shape) is computed
    /// at run time, or an input that must be computed is a constant.
    NotConstant {
        /// The input.
        tensor: TensorRef,
        /// Whether the delegate wants it constant (`true`) or computed.
        must_be_constant: bool,
    },
    /// An input is missing (an omitted optional input the delegate
    /// requires, such as a convolution's bias for XNNPACK), or the number
    /// of inputs or outputs is not taken.
    Arity {
        /// What is wrong.
        detail: String,
    },
    /// An option (fused activation, stride, dilation, `keep_dims`, a mask,
    /// `beta`, ...) or a constant's value is out of the delegate's range.
    Option {
        /// The option's name.
        name: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A tensor's shape (a zero-size dimension, a non-broadcastable pair, a
    /// size the delegate limits) is not taken.
    Shape {
        /// The tensor.
        tensor: TensorRef,
        /// What is wrong.
        detail: String,
    },
    /// The op only prepares constant data (a `DEQUANTIZE` of constant
    /// weights) and goes with its consumers, one of which is not taken.
    ConsumerNotDelegated,
}

impl Reason {
    /// A stable short name of the kind of reason, for machine-readable
    /// output: `op`, `version`, `dtype`, `rank`, `constant`, `arity`,
    /// `option`, `shape` or `consumer`.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::OpNotSupported => "op",
            Reason::VersionTooHigh { .. } => "version",
            Reason::Dtype { .. } => "dtype",
            Reason::Rank { .. } => "rank",
            Reason::NotConstant { .. } => "constant",
            Reason::Arity { .. } => "arity",
            Reason::Option { .. } => "option",
            Reason::Shape { .. } => "shape",
            Reason::ConsumerNotDelegated => "consumer",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::OpNotSupported => f.write_str("op not supported"),
            Reason::VersionTooHigh { version, max } => write!(f, "op version {version} above {max}"),
            Reason::Dtype { tensor, dtype, expected } => write!(f, "{tensor} is {dtype}, takes {expected}"),
            Reason::Rank { tensor, rank, expected } => write!(f, "{tensor} has rank {rank}, takes {expected}"),
            Reason::NotConstant { tensor, must_be_constant: true } => write!(f, "{tensor} must be a constant"),
            Reason::NotConstant { tensor, must_be_constant: false } => write!(f, "{tensor} must not be a constant"),
            Reason::Arity { detail } => f.write_str(detail),
            Reason::Option { name, detail } => write!(f, "{name}: {detail}"),
            Reason::Shape { tensor, detail } => write!(f, "{tensor}: {detail}"),
            Reason::ConsumerNotDelegated => f.write_str("unpacks constant weights for an op that is not delegated"),
        }
    }
}
