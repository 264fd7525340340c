//! Error types. Each says what was wrong and where.

use thiserror::Error;

/// Where in a model something is: subgraph, and optionally operator or tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// Subgraph index.
    pub subgraph: usize,
    /// Operator index within the subgraph.
    pub operator: Option<usize>,
    /// Tensor index within the subgraph.
    pub tensor: Option<usize>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "subgraph {}", self.subgraph)?;
        if let Some(o) = self.operator {
            write!(f, ", operator {o}")?;
        }
        if let Some(t) = self.tensor {
            write!(f, ", tensor {t}")?;
        }
        Ok(())
    }
}

/// Why a `.tflite` file could not be read.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The bytes are too short to hold a flatbuffer header.
    #[error("file is {len} bytes, too short for a TFLite model")]
    TooShort {
        /// The length.
        len: usize,
    },
    /// The file identifier is not `TFL3`.
    #[error("file identifier is {found:?}, expected \"TFL3\"")]
    WrongIdentifier {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// The flatbuffer failed verification.
    #[error("flatbuffer verification failed: {0}")]
    Verification(String),
    /// The schema version is not 3.
    #[error("schema version {0} is not supported (expected 3)")]
    UnsupportedVersion(u32),
    /// An index in the file points outside its list.
    #[error("{what} index {index} out of range (len {len}) at {at}")]
    IndexOutOfRange {
        /// What the index refers to.
        what: &'static str,
        /// The index found.
        index: i64,
        /// The list length.
        len: usize,
        /// Where.
        at: Location,
    },
    /// A field holds a value the format does not define.
    #[error("invalid {what} at {at}: {detail}")]
    InvalidField {
        /// Which field.
        what: &'static str,
        /// Details.
        detail: String,
        /// Where.
        at: Location,
    },
    /// A buffer's offset and size point outside the file.
    #[error("buffer {buffer}: bytes {offset}..{offset}+{size} lie outside the file of {file_len} bytes")]
    BufferOutOfBounds {
        /// Buffer index.
        buffer: usize,
        /// Offset.
        offset: u64,
        /// Size.
        size: u64,
        /// File length.
        file_len: usize,
    },
    /// The file exceeds a configured limit.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The zip archive of associated files after the model is broken.
    #[error("associated files archive: {0}")]
    Archive(crate::zip::ZipError),
}

/// Why a model is not valid.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A tensor index is outside the subgraph's tensor list.
    #[error("{at}: tensor index {index} out of range ({len} tensors)")]
    TensorOutOfRange {
        /// Where.
        at: Location,
        /// The index.
        index: u32,
        /// Number of tensors.
        len: usize,
    },
    /// A tensor is read but nothing produces it.
    #[error("{at}: tensor {tensor} ({name:?}) is read before anything produces it")]
    Dangling {
        /// Where.
        at: Location,
        /// The tensor.
        tensor: u32,
        /// Its name.
        name: String,
    },
    /// A tensor is produced more than once.
    #[error("{at}: tensor {tensor} ({name:?}) is produced more than once")]
    ProducedTwice {
        /// Where.
        at: Location,
        /// The tensor.
        tensor: u32,
        /// Its name.
        name: String,
    },
    /// Constant data does not match the tensor's shape and type.
    #[error("{at}: constant {name:?} has {actual} bytes, but {dtype} {shape} needs {expected}")]
    DataSize {
        /// Where.
        at: Location,
        /// Tensor name.
        name: String,
        /// Element type.
        dtype: crate::DType,
        /// Shape, printed.
        shape: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes present.
        actual: usize,
    },
    /// A shape's element or byte count overflows.
    #[error("{at}: tensor {name:?} has shape {shape}, whose size overflows")]
    ShapeOverflow {
        /// Where.
        at: Location,
        /// Tensor name.
        name: String,
        /// Shape, printed.
        shape: String,
    },
    /// An operator's inputs or outputs have the wrong type, shape or count.
    #[error("{at}: {op}: {detail}")]
    Op {
        /// Where.
        at: Location,
        /// The op name.
        op: String,
        /// What is wrong.
        detail: String,
    },
    /// A signature refers to something that does not exist.
    #[error("signature {key:?}: {detail}")]
    Signature {
        /// The signature key.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// The model has no subgraph.
    #[error("model has no subgraph")]
    NoSubgraph,
    /// An op names a subgraph that does not exist, or a builder was asked
    /// to call a subgraph it has not finished.
    #[error("{at}: {detail}")]
    Subgraph {
        /// Where (the op naming the subgraph).
        at: Location,
        /// What is wrong.
        detail: String,
    },
    /// Subgraphs call each other in a cycle (IF, WHILE, CALL_ONCE or a
    /// StableHLO op naming a subgraph that calls back): unbounded recursion.
    #[error("{at}: subgraphs call each other in a cycle ({}), which recurses without bound", fmt_chain(.cycle))]
    SubgraphCycle {
        /// The op that closes the cycle.
        at: Location,
        /// The subgraphs on the cycle, in call order, the first repeated
        /// at the end (`[1, 2, 1]`; `[3, 3]` for a subgraph calling itself).
        cycle: Vec<usize>,
    },
    /// Subgraph calls nest deeper than the limit
    /// ([`ValidateOptions::max_subgraph_depth`](crate::validate::ValidateOptions::max_subgraph_depth),
    /// [`ReadOptions::max_subgraph_depth`](crate::read::ReadOptions::max_subgraph_depth)).
    #[error("subgraph calls nest {depth} deep ({}), over the limit of {limit}", fmt_chain(.chain))]
    SubgraphDepth {
        /// The number of calls on the chain found. The search stops at the
        /// first chain over the limit, so this is `limit + 1`, not the
        /// length of the longest chain.
        depth: usize,
        /// The limit.
        limit: usize,
        /// The subgraphs on the chain, from its start.
        chain: Vec<usize>,
    },
    /// The TFLite Support metadata is malformed or does not fit the model.
    #[error(transparent)]
    Metadata(#[from] crate::metadata::MetadataError),
}

/// Prints a chain of subgraph indices as `0 → 1 → 2`, eliding the middle
/// of long ones.
fn fmt_chain(v: &[usize]) -> String {
    const HEAD: usize = 8;
    const TAIL: usize = 2;
    let join = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(" → ");
    if v.len() <= HEAD + TAIL + 1 {
        return format!("subgraph {}", join(v));
    }
    format!("subgraph {} → … ({} more) … → {}", join(&v[..HEAD]), v.len() - HEAD - TAIL, join(&v[v.len() - TAIL..]))
}

/// Why a model could not be written.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The model is invalid.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Some count or size does not fit the format.
    #[error("model too large for the format: {0}")]
    TooLarge(String),
}

/// Any error of this crate: every error type a public function returns
/// converts into it with `?`.
///
/// It covers [`ReadError`], [`ValidationError`], [`WriteError`], ONNX
/// conversion ([`OnnxError`](crate::onnx::OnnxError)), quantization
/// ([`QuantizeError`](crate::quantize::QuantizeError)), the reference
/// evaluator ([`EvalError`](crate::eval::EvalError)), TFLite Support
/// metadata ([`MetadataError`](crate::metadata::MetadataError)),
/// FlexBuffers ([`FlexError`](crate::flexbuffers::FlexError)), the archive
/// of associated files (`ZipError`) and I/O. (A custom lowering's
/// [`LowerError`](crate::onnx::LowerError) is a reason, not an error: the
/// converter reports it inside an [`OnnxError`](crate::onnx::OnnxError).)
///
/// ```
/// fn load(bytes: &[u8]) -> tflite_forge::Result<usize> {
///     let model = tflite_forge::read(bytes)?; // ReadError -> Error
///     let _ = tflite_forge::write(&model)?; // WriteError -> Error
///     Ok(model.subgraphs.len())
/// }
/// assert!(matches!(load(b"not a model"), Err(tflite_forge::Error::Read(_))));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a `.tflite` failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The model is invalid.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Converting an ONNX model failed.
    #[error(transparent)]
    Onnx(#[from] crate::onnx::OnnxError),
    /// Quantizing failed.
    #[error(transparent)]
    Quantize(#[from] crate::quantize::QuantizeError),
    /// The reference evaluator failed.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
    /// TFLite Support metadata is invalid.
    #[error(transparent)]
    Metadata(#[from] crate::metadata::MetadataError),
    /// FlexBuffers data (custom-op options) is invalid.
    #[error(transparent)]
    Flex(#[from] crate::flexbuffers::FlexError),
    /// The archive of associated files is invalid.
    #[error(transparent)]
    Zip(#[from] crate::zip::ZipError),
    /// I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;
