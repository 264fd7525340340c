//! The in-memory model: a typed mirror of a TFLite file.
//!
//! Builders, the reader, the passes and the writer all speak [`Model`].

mod dtype;
mod node_def;
mod op;
mod op_generated;
mod shape;
mod sparsity;
mod tensor;

pub use dtype::DType;
pub use node_def::{tf_data_type, AttrValue, NodeDef};
pub use op::{
    builtin_name, Activation, AddSubOptions, BatchMatMulOptions, CastOptions, ConcatenationOptions,
    Conv2dOptions, CustomOp, CustomOptionsFormat, DepthwiseConv2dOptions, FullyConnectedOptions,
    GatherOptions, MirrorPadMode, Op, OpaqueBuiltin, Operator, Padding, Pool2dOptions,
    ResizeOptions, StridedSliceOptions, TensorId, TransposeConvOptions, WeightsFormat, op_info,
};
pub(crate) use op_generated::{read_typed as read_typed_op, write_typed as write_typed_op};
pub use op::{Arity, OpInfo, OptionsKind};
// BEGIN GENERATED EXPORTS
pub use op_generated::{
    BidirectionalSequenceLstmOptions, BidirectionalSequenceRnnOptions, BucketizeOptions,
    CallOptions, CombinerType, ConcatEmbeddingsOptions, Conv3dOptions, CumsumOptions,
    DepthToSpaceOptions, EmbeddingLookupSparseOptions, FakeQuantOptions, HashtableOptions,
    L2NormOptions, LocalResponseNormalizationOptions, LshProjectionOptions, LshProjectionType,
    LstmKernelType, LstmOptions, OneHotOptions, PackOptions, RandomOptions,
    ReduceWindowFunction, ReduceWindowOptions, ReducerOptions, ReverseSequenceOptions,
    RngAlgorithm, RnnOptions, SequenceRnnOptions, ShapeOptions, SkipGramOptions,
    SpaceToDepthOptions, SparseToDenseOptions, SplitOptions, StablehloBroadcastInDimOptions,
    StablehloCaseOptions, StablehloCompareOptions, StablehloComparisonDirection,
    StablehloComparisonType, StablehloCompositeOptions, StablehloConcatenateOptions,
    StablehloConvolutionOptions, StablehloCustomCallOptions, StablehloDotGeneralOptions,
    StablehloDynamicSliceOptions, StablehloGatherOptions, StablehloIotaOptions,
    StablehloPadOptions, StablehloPrecisionConfig, StablehloReduceOptions,
    StablehloReduceWindowOptions, StablehloRngBitGeneratorOptions, StablehloScatterOptions,
    StablehloSliceOptions, StablehloSortOptions, StablehloTransposeOptions,
    StablehloWhileOptions, SvdfOptions, UnidirectionalSequenceLstmOptions, UniqueOptions,
    UnpackOptions, VarHandleOptions, OpFamily, OPS,
};
// END GENERATED EXPORTS
pub use shape::{Dim, Shape};
pub use sparsity::SparseDim;
pub use tensor::{BlockwiseQuant, ConstData, OpaqueQuantDetails, QuantDetails, Quantization, Sparsity, Tensor, VariantTypes};

/// A subgraph: tensors, operators in execution order, and its inputs and outputs.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Subgraph {
    /// The subgraph's name.
    pub name: String,
    /// All tensors; [`TensorId`]s index into this list.
    pub tensors: Vec<Tensor>,
    /// Input tensors, in order.
    pub inputs: Vec<TensorId>,
    /// Output tensors, in order.
    pub outputs: Vec<TensorId>,
    /// Operators, in execution order.
    pub operators: Vec<Operator>,
}

impl Subgraph {
    /// The tensor with this id, if in range.
    pub fn tensor(&self, id: TensorId) -> Option<&Tensor> {
        self.tensors.get(id.index())
    }
}

/// A named entry point: inputs and outputs by name, as Swift and Kotlin code
/// finds them (`get_signature_runner("serving_default")`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SignatureDef {
    /// The key, usually `serving_default`.
    pub key: String,
    /// The subgraph it runs.
    pub subgraph: u32,
    /// Input names and the tensors they map to.
    pub inputs: Vec<(String, TensorId)>,
    /// Output names and the tensors they map to.
    pub outputs: Vec<(String, TensorId)>,
}

impl SignatureDef {
    /// A signature over subgraph `subgraph`.
    pub fn new(key: impl Into<String>, subgraph: u32) -> SignatureDef {
        SignatureDef { key: key.into(), subgraph, inputs: Vec::new(), outputs: Vec::new() }
    }
}

/// A named metadata entry, stored in a buffer of the file.
///
/// The writer adds `min_runtime_version` (and `buffer_location` for large
/// models) itself; the reader does not return them here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The entry's name (e.g. `TFLITE_METADATA`).
    pub name: String,
    /// Its contents.
    pub data: ConstData,
}

/// Metadata names the writer manages itself.
pub(crate) const MIN_RUNTIME_VERSION: &str = "min_runtime_version";
/// Metadata name marking the large-model buffer layout.
pub(crate) const BUFFER_LOCATION: &str = "buffer_location";

/// A TFLite model: subgraphs (the first is the main one), signatures and
/// metadata.
///
/// ```
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [1, 4]);
/// let y = g.relu(x).unwrap();
/// g.output("y", y);
/// b.finish_subgraph(g).unwrap();
/// let model = b.finish().unwrap();
/// let bytes = tflite_forge::write(&model).unwrap();
/// assert_eq!(tflite_forge::read(&bytes).unwrap(), model);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Model {
    /// Free text (`description` in the file).
    pub description: String,
    /// Subgraphs; index 0 is the entry point.
    pub subgraphs: Vec<Subgraph>,
    /// Signatures.
    pub signatures: Vec<SignatureDef>,
    /// Metadata entries other than the ones the writer manages.
    pub metadata: Vec<Metadata>,
    /// Files packed in the zip archive appended to the model (the
    /// associated files of TFLite Support metadata, such as `labels.txt`);
    /// see [`crate::metadata`].
    pub associated_files: Vec<PackedFile>,
}

/// A file packed in the uncompressed zip archive after the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedFile {
    /// Entry name in the archive.
    pub name: String,
    /// Contents.
    pub data: ConstData,
}
