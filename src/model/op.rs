//! Operators and their typed options.

use super::op_generated::*;
use crate::schema::tflite as fb;

/// A fused activation applied to an op's output (`fused_activation_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Activation {
    /// No activation.
    #[default]
    None,
    /// `max(x, 0)`.
    Relu,
    /// `clamp(x, -1, 1)`.
    ReluN1To1,
    /// `clamp(x, 0, 6)`.
    Relu6,
    /// `tanh(x)`.
    Tanh,
    /// Sign bit.
    SignBit,
}

/// Spatial padding of convolutions and pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Padding {
    /// Output size `ceil(in / stride)`, padding split with the extra at the end.
    #[default]
    Same,
    /// No padding: output size `ceil((in - effective_filter + 1) / stride)`.
    Valid,
}

/// Options of `CONV_2D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Conv2dOptions {
    /// Padding mode.
    pub padding: Padding,
    /// Stride along width.
    pub stride_w: i32,
    /// Stride along height.
    pub stride_h: i32,
    /// Dilation along width.
    pub dilation_w: i32,
    /// Dilation along height.
    pub dilation_h: i32,
    /// Fused activation.
    pub activation: Activation,
    /// Element type of a quantized bias when it differs from the default.
    pub quantized_bias_type: Option<super::DType>,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            padding: Padding::Same,
            stride_w: 1,
            stride_h: 1,
            dilation_w: 1,
            dilation_h: 1,
            activation: Activation::None,
            quantized_bias_type: None,
        }
    }
}

impl Conv2dOptions {
    /// Options with the given padding and strides (height, width).
    pub fn new(padding: Padding, stride_h: i32, stride_w: i32) -> Self {
        Conv2dOptions { padding, stride_h, stride_w, ..Default::default() }
    }
    /// Sets the fused activation.
    pub fn with_activation(mut self, a: Activation) -> Self {
        self.activation = a;
        self
    }
    /// Sets the dilation (height, width).
    pub fn with_dilation(mut self, h: i32, w: i32) -> Self {
        self.dilation_h = h;
        self.dilation_w = w;
        self
    }
}

/// Options of `DEPTHWISE_CONV_2D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DepthwiseConv2dOptions {
    /// Padding mode.
    pub padding: Padding,
    /// Stride along width.
    pub stride_w: i32,
    /// Stride along height.
    pub stride_h: i32,
    /// Output channels per input channel.
    pub depth_multiplier: i32,
    /// Dilation along width.
    pub dilation_w: i32,
    /// Dilation along height.
    pub dilation_h: i32,
    /// Fused activation.
    pub activation: Activation,
}

impl Default for DepthwiseConv2dOptions {
    fn default() -> Self {
        DepthwiseConv2dOptions {
            padding: Padding::Same,
            stride_w: 1,
            stride_h: 1,
            depth_multiplier: 1,
            dilation_w: 1,
            dilation_h: 1,
            activation: Activation::None,
        }
    }
}

impl DepthwiseConv2dOptions {
    /// Options with the given padding, strides (height, width) and depth multiplier.
    pub fn new(padding: Padding, stride_h: i32, stride_w: i32, depth_multiplier: i32) -> Self {
        DepthwiseConv2dOptions { padding, stride_h, stride_w, depth_multiplier, ..Default::default() }
    }
    /// Sets the fused activation.
    pub fn with_activation(mut self, a: Activation) -> Self {
        self.activation = a;
        self
    }
    /// Sets the dilation (height, width).
    pub fn with_dilation(mut self, h: i32, w: i32) -> Self {
        self.dilation_h = h;
        self.dilation_w = w;
        self
    }
}

/// Weight layout of `FULLY_CONNECTED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WeightsFormat {
    /// `[out, in]`.
    #[default]
    Default,
    /// The shuffled int8 layout for some ARM kernels.
    Shuffled4x16Int8,
}

/// Options of `FULLY_CONNECTED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct FullyConnectedOptions {
    /// Fused activation.
    pub activation: Activation,
    /// Weight layout.
    pub weights_format: WeightsFormat,
    /// Keep the input's leading dimensions instead of flattening to 2-D.
    pub keep_num_dims: bool,
    /// For hybrid kernels: quantize inputs asymmetrically.
    pub asymmetric_quantize_inputs: bool,
    /// Element type of a quantized bias when it differs from the default.
    pub quantized_bias_type: Option<super::DType>,
}

impl FullyConnectedOptions {
    /// Options with a fused activation.
    pub fn with_activation(mut self, a: Activation) -> Self {
        self.activation = a;
        self
    }
    /// Sets `keep_num_dims`.
    pub fn with_keep_num_dims(mut self, keep: bool) -> Self {
        self.keep_num_dims = keep;
        self
    }
}

/// Options of `ADD` and `SUB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct AddSubOptions {
    /// Fused activation.
    pub activation: Activation,
    /// For int16: whether scales are powers of two (the file's `pot_scale_int16`).
    pub pot_scale_int16: bool,
}

impl Default for AddSubOptions {
    fn default() -> Self {
        AddSubOptions { activation: Activation::None, pot_scale_int16: true }
    }
}

impl AddSubOptions {
    /// Options with a fused activation.
    pub fn with_activation(mut self, a: Activation) -> Self {
        self.activation = a;
        self
    }
}

/// Options of `AVERAGE_POOL_2D` and `MAX_POOL_2D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Pool2dOptions {
    /// Padding mode.
    pub padding: Padding,
    /// Stride along width.
    pub stride_w: i32,
    /// Stride along height.
    pub stride_h: i32,
    /// Window width.
    pub filter_w: i32,
    /// Window height.
    pub filter_h: i32,
    /// Fused activation.
    pub activation: Activation,
}

impl Pool2dOptions {
    /// A window of `filter_h × filter_w` with strides (height, width).
    pub fn new(padding: Padding, filter_h: i32, filter_w: i32, stride_h: i32, stride_w: i32) -> Self {
        Pool2dOptions { padding, filter_h, filter_w, stride_h, stride_w, activation: Activation::None }
    }
    /// Sets the fused activation.
    pub fn with_activation(mut self, a: Activation) -> Self {
        self.activation = a;
        self
    }
}

/// Options of `CONCATENATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct ConcatenationOptions {
    /// The axis (negative counts from the end).
    pub axis: i32,
    /// Fused activation.
    pub activation: Activation,
}

impl ConcatenationOptions {
    /// Concatenation along `axis`.
    pub fn new(axis: i32) -> Self {
        ConcatenationOptions { axis, activation: Activation::None }
    }
}

/// Options of `CAST`: the element types the file records (the runtime
/// reads the tensors' own types). `None` in both writes no options table,
/// as older converters do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct CastOptions {
    /// `in_data_type`.
    pub in_data_type: Option<super::DType>,
    /// `out_data_type`.
    pub out_data_type: Option<super::DType>,
}

impl CastOptions {
    /// Options recording a cast from `from` to `to`.
    pub fn new(from: super::DType, to: super::DType) -> Self {
        CastOptions { in_data_type: Some(from), out_data_type: Some(to) }
    }
}

/// Options of `STRIDED_SLICE`: bit masks over the sliced dimensions and
/// the `offset` flag (ends are relative to the begins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct StridedSliceOptions {
    /// Dimensions whose begin is ignored (the fullest range is used).
    pub begin_mask: i32,
    /// Dimensions whose end is ignored (the fullest range is used).
    pub end_mask: i32,
    /// The dimension standing for all unspecified ones.
    pub ellipsis_mask: i32,
    /// Dimensions inserted with size 1.
    pub new_axis_mask: i32,
    /// Dimensions taken at their begin index and removed.
    pub shrink_axis_mask: i32,
    /// Ends are offsets from the begins.
    pub offset: bool,
}

impl StridedSliceOptions {
    /// Sets `begin_mask`.
    pub fn with_begin_mask(mut self, m: i32) -> Self {
        self.begin_mask = m;
        self
    }
    /// Sets `end_mask`.
    pub fn with_end_mask(mut self, m: i32) -> Self {
        self.end_mask = m;
        self
    }
    /// Sets `shrink_axis_mask`.
    pub fn with_shrink_axis_mask(mut self, m: i32) -> Self {
        self.shrink_axis_mask = m;
        self
    }
    /// Sets `ellipsis_mask`.
    pub fn with_ellipsis_mask(mut self, m: i32) -> Self {
        self.ellipsis_mask = m;
        self
    }
    /// Sets `new_axis_mask`.
    pub fn with_new_axis_mask(mut self, m: i32) -> Self {
        self.new_axis_mask = m;
        self
    }
    /// Sets `offset`.
    pub fn with_offset(mut self, offset: bool) -> Self {
        self.offset = offset;
        self
    }
}

/// Options of `GATHER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct GatherOptions {
    /// The axis of the params gathered along (negative counts from the end).
    pub axis: i32,
    /// Leading dimensions shared by params and indices.
    pub batch_dims: i32,
}

impl GatherOptions {
    /// Gathering along `axis`.
    pub fn new(axis: i32) -> Self {
        GatherOptions { axis, batch_dims: 0 }
    }
    /// Sets `batch_dims`.
    pub fn with_batch_dims(mut self, batch_dims: i32) -> Self {
        self.batch_dims = batch_dims;
        self
    }
}

/// Options of `RESIZE_BILINEAR` and `RESIZE_NEAREST_NEIGHBOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct ResizeOptions {
    /// Map the corner pixels of input and output onto each other.
    pub align_corners: bool,
    /// Sample at pixel centers (`(x + 0.5) * scale`).
    pub half_pixel_centers: bool,
}

impl ResizeOptions {
    /// Sets `align_corners`.
    pub fn with_align_corners(mut self, v: bool) -> Self {
        self.align_corners = v;
        self
    }
    /// Sets `half_pixel_centers`.
    pub fn with_half_pixel_centers(mut self, v: bool) -> Self {
        self.half_pixel_centers = v;
        self
    }
}

/// Options of `TRANSPOSE_CONV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TransposeConvOptions {
    /// Padding mode (the padding is derived from the output shape).
    pub padding: Padding,
    /// Stride along width.
    pub stride_w: i32,
    /// Stride along height.
    pub stride_h: i32,
    /// Fused activation.
    pub activation: Activation,
    /// Element type of a quantized bias when it differs from the default.
    pub quantized_bias_type: Option<super::DType>,
}

impl Default for TransposeConvOptions {
    fn default() -> Self {
        TransposeConvOptions { padding: Padding::Same, stride_w: 1, stride_h: 1, activation: Activation::None, quantized_bias_type: None }
    }
}

impl TransposeConvOptions {
    /// Options with the given padding and strides (height, width).
    pub fn new(padding: Padding, stride_h: i32, stride_w: i32) -> Self {
        TransposeConvOptions { padding, stride_h, stride_w, ..Default::default() }
    }
    /// Sets the fused activation.
    pub fn with_activation(mut self, a: Activation) -> Self {
        self.activation = a;
        self
    }
}

/// Options of `BATCH_MATMUL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct BatchMatMulOptions {
    /// Transpose (adjoint) the last two dimensions of the left operand.
    pub adj_x: bool,
    /// Transpose (adjoint) the last two dimensions of the right operand.
    pub adj_y: bool,
    /// For hybrid kernels: quantize inputs asymmetrically.
    pub asymmetric_quantize_inputs: bool,
}

impl BatchMatMulOptions {
    /// Sets `adj_x`.
    pub fn with_adj_x(mut self, v: bool) -> Self {
        self.adj_x = v;
        self
    }
    /// Sets `adj_y`.
    pub fn with_adj_y(mut self, v: bool) -> Self {
        self.adj_y = v;
        self
    }
}

/// How `MIRROR_PAD` mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MirrorPadMode {
    /// Without the edge element (`[1 2 3]` padded by 2 before: `3 2 1 2 3`).
    #[default]
    Reflect,
    /// With the edge element (`[1 2 3]` padded by 2 before: `2 1 1 2 3`).
    Symmetric,
}

/// A typed operator: the builtin code together with its options.
///
/// Builtin ops without typed support yet are carried as [`Op::Builtin`]
/// with their options exactly as read; custom and select-TF ops as
/// [`Op::Custom`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Op {
    /// `ADD`: elementwise sum with broadcasting.
    Add(AddSubOptions),
    /// `SUB`: elementwise difference with broadcasting.
    Sub(AddSubOptions),
    /// `MUL`: elementwise product with broadcasting.
    Mul(Activation),
    /// `DIV`: elementwise quotient with broadcasting.
    Div(Activation),
    /// `CONV_2D`: inputs `[input NHWC, filter OHWI, bias? O]`.
    Conv2d(Conv2dOptions),
    /// `DEPTHWISE_CONV_2D`: inputs `[input NHWC, filter 1HWO, bias? O]`.
    DepthwiseConv2d(DepthwiseConv2dOptions),
    /// `FULLY_CONNECTED`: inputs `[input, weights [O, I], bias? O]`.
    FullyConnected(FullyConnectedOptions),
    /// `AVERAGE_POOL_2D` on NHWC.
    AveragePool2d(Pool2dOptions),
    /// `MAX_POOL_2D` on NHWC.
    MaxPool2d(Pool2dOptions),
    /// `MEAN`: inputs `[input, axes (int32)]`.
    Mean {
        /// Keep reduced dimensions as size 1.
        keep_dims: bool,
    },
    /// `RESHAPE`: inputs `[input, new_shape? (int32)]`.
    Reshape {
        /// The `new_shape` option, if written.
        new_shape: Option<Vec<i32>>,
    },
    /// `TRANSPOSE`: inputs `[input, perm (int32)]`.
    Transpose,
    /// `CONCATENATION` of all inputs.
    Concatenation(ConcatenationOptions),
    /// `PAD`: inputs `[input, paddings [rank, 2] (int32)]`, padding with zero
    /// (the zero point when quantized).
    Pad,
    /// `SOFTMAX` over the last axis: `softmax(beta * x)`.
    Softmax {
        /// Input multiplier.
        beta: f32,
    },
    /// `LOGISTIC`: the sigmoid.
    Logistic,
    /// `RELU`.
    Relu,
    /// `RELU6`.
    Relu6,
    /// `HARD_SWISH`: `x * relu6(x + 3) / 6`.
    HardSwish,
    /// `TANH`.
    Tanh,
    /// `QUANTIZE`: float to integer, or requantize.
    Quantize,
    /// `DEQUANTIZE`: integer or float16 to float32.
    Dequantize,
    /// `MINIMUM`: elementwise minimum with broadcasting.
    Minimum,
    /// `MAXIMUM`: elementwise maximum with broadcasting.
    Maximum,
    /// `LEAKY_RELU`: `x` for `x ≥ 0`, else `alpha * x`.
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f32,
    },
    /// `PRELU`: inputs `[input, alpha]`; `alpha` broadcasts to the input.
    Prelu,
    /// `GELU`: `x * Φ(x)`, or its tanh approximation.
    Gelu {
        /// Use the tanh approximation.
        approximate: bool,
    },
    /// `EXP`.
    Exp,
    /// `SQRT`.
    Sqrt,
    /// `RSQRT`: `1 / sqrt(x)`.
    Rsqrt,
    /// `NEG`.
    Neg,
    /// `ABS`.
    Abs,
    /// `CAST` to the output tensor's type.
    Cast(CastOptions),
    /// `SPLIT_V`: inputs `[input, size_splits (1-D), axis (scalar)]`, one
    /// output per split.
    SplitV {
        /// The number of outputs.
        num_splits: i32,
    },
    /// `STRIDED_SLICE`: inputs `[input, begin, end, strides]` (1-D int32).
    StridedSlice(StridedSliceOptions),
    /// `SLICE`: inputs `[input, begin, size]` (1-D int32 or int64; a size of
    /// -1 takes the rest).
    Slice,
    /// `GATHER`: inputs `[params, indices]`.
    Gather(GatherOptions),
    /// `SQUEEZE`: removes size-1 dimensions (all of them when `squeeze_dims`
    /// is empty).
    Squeeze {
        /// The dimensions to remove (negative counts from the end).
        squeeze_dims: Vec<i32>,
    },
    /// `RESIZE_BILINEAR`: inputs `[input NHWC, size [2] (int32)]`.
    ResizeBilinear(ResizeOptions),
    /// `RESIZE_NEAREST_NEIGHBOR`: inputs `[input NHWC, size [2] (int32)]`.
    ResizeNearestNeighbor(ResizeOptions),
    /// `TRANSPOSE_CONV`: inputs `[output_shape [4] (int32), weights OHWI,
    /// input NHWC, bias? O]`.
    TransposeConv(TransposeConvOptions),
    /// `BATCH_MATMUL`: `[..., M, K] × [..., K, N]` with broadcast batch
    /// dimensions.
    BatchMatMul(BatchMatMulOptions),
    /// `REDUCE_MAX`: inputs `[input, axes (int32)]`.
    ReduceMax {
        /// Keep reduced dimensions as size 1.
        keep_dims: bool,
    },
    /// `SUM`: inputs `[input, axes (int32)]`.
    Sum {
        /// Keep reduced dimensions as size 1.
        keep_dims: bool,
    },
    /// `PADV2`: inputs `[input, paddings [rank, 2], constant_values [1]]`.
    PadV2,
    /// `MIRROR_PAD`: inputs `[input, paddings [rank, 2]]`.
    MirrorPad {
        /// Reflect or symmetric.
        mode: MirrorPadMode,
    },
    /// `IF`: inputs `[cond (one bool), args...]`. Runs subgraph
    /// `then_subgraph` when `cond` is true, else `else_subgraph`, on `args`;
    /// its outputs are the branch's outputs. Both branches take the args'
    /// types and give the outputs' types.
    If {
        /// The subgraph run when `cond` is true.
        then_subgraph: u32,
        /// The subgraph run when `cond` is false.
        else_subgraph: u32,
    },
    /// `WHILE`: inputs are the loop variables, outputs their final values
    /// (same count and types). While subgraph `cond_subgraph` (the
    /// variables in, one bool out) gives true, subgraph `body_subgraph`
    /// (the variables in, their next values out) runs.
    While {
        /// The subgraph computing the loop condition.
        cond_subgraph: u32,
        /// The subgraph computing the next loop variables.
        body_subgraph: u32,
    },
    /// `CALL_ONCE`: no inputs or outputs; runs subgraph `init_subgraph`
    /// (no inputs or outputs either) on the first invocation of the
    /// model, to initialize resource variables.
    CallOnce {
        /// The initialization subgraph.
        init_subgraph: u32,
    },
    /// `EQUAL`: elementwise `a == b` with broadcasting; bool output.
    Equal,
    /// `NOT_EQUAL`: elementwise `a != b` with broadcasting; bool output.
    NotEqual,
    /// `LESS`: elementwise `a < b` with broadcasting; bool output.
    Less,
    /// `LESS_EQUAL`: elementwise `a <= b` with broadcasting; bool output.
    LessEqual,
    /// `GREATER`: elementwise `a > b` with broadcasting; bool output.
    Greater,
    /// `GREATER_EQUAL`: elementwise `a >= b` with broadcasting; bool output.
    GreaterEqual,
    /// `LOGICAL_AND` of two bool tensors with broadcasting.
    LogicalAnd,
    /// `LOGICAL_OR` of two bool tensors with broadcasting.
    LogicalOr,
    /// `LOGICAL_NOT` of a bool tensor.
    LogicalNot,
    /// `SELECT_V2`: inputs `[condition (bool), x, y]`, all three broadcast;
    /// `x` where the condition holds, else `y`.
    SelectV2,
    /// `LOG`: the natural logarithm.
    Log,
    /// `SIN`.
    Sin,
    /// `COS`.
    Cos,
    /// `POW`: elementwise `a ** b` with broadcasting.
    Pow,
    /// `LOG_SOFTMAX` over the last axis.
    LogSoftmax,
    /// `REDUCE_MIN`: inputs `[input, axes (int32)]`.
    ReduceMin {
        /// Keep reduced dimensions as size 1.
        keep_dims: bool,
    },
    /// `REDUCE_PROD`: inputs `[input, axes (int32)]`.
    ReduceProd {
        /// Keep reduced dimensions as size 1.
        keep_dims: bool,
    },
    /// `ARG_MAX`: inputs `[input, axis (one int32 or int64)]`; the index of
    /// the first largest element along the axis, which is removed.
    ArgMax {
        /// The index type of the output (int32 or int64).
        output_type: super::DType,
    },
    /// `ARG_MIN`: like [`Op::ArgMax`], for the first smallest element.
    ArgMin {
        /// The index type of the output (int32 or int64).
        output_type: super::DType,
    },
    /// `BROADCAST_TO`: inputs `[input, shape (1-D int32 or int64)]`.
    BroadcastTo,
    /// `FLOOR_MOD`: elementwise remainder with the sign of the divisor, with
    /// broadcasting.
    FloorMod,
    /// `L2_POOL_2D` on NHWC: `sqrt(mean(x²))` over each window.
    L2Pool2d(Pool2dOptions),
    // The variants below are generated from schema/ops.spec by tests/opgen.rs.
    // BEGIN GENERATED VARIANTS
    /// `DEPTH_TO_SPACE`: Moves depth blocks of `block_size²` channels into spatial blocks (NHWC).
    DepthToSpace(DepthToSpaceOptions),
    /// `EMBEDDING_LOOKUP`: Rows of a table (input 1) selected by int32 ids (input 0).
    EmbeddingLookup,
    /// `FLOOR`: Elementwise floor.
    Floor,
    /// `HASHTABLE_LOOKUP`: Looks up keys (input 0) in a static key (input 1) / value (input 2) table; outputs the values and a hit mask.
    HashtableLookup,
    /// `L2_NORMALIZATION`: `x / sqrt(max(sum(x²), ε))` over the last axis.
    L2Normalization(L2NormOptions),
    /// `LOCAL_RESPONSE_NORMALIZATION`: Local response normalization across the last axis.
    LocalResponseNormalization(LocalResponseNormalizationOptions),
    /// `LSH_PROJECTION`: Locality-sensitive hashing of the input with hash seeds (input 0) and optional weights.
    LshProjection(LshProjectionOptions),
    /// `LSTM`: One step of an LSTM cell (full kernel: 20 to 24 inputs; basic kernel: 5).
    Lstm(LstmOptions),
    /// `RELU_N1_TO_1`: `clamp(x, -1, 1)`.
    ReluN1To1,
    /// `RNN`: One step of a fully connected RNN cell: inputs `[input, weights, recurrent_weights, bias, hidden_state]`.
    Rnn(RnnOptions),
    /// `SPACE_TO_DEPTH`: Moves spatial blocks into depth (NHWC).
    SpaceToDepth(SpaceToDepthOptions),
    /// `SVDF`: Singular value decomposition filter: `[input, weights_feature, weights_time, bias?, state]`.
    Svdf(SvdfOptions),
    /// `CONCAT_EMBEDDINGS`: Concatenated embedding lookups (never had a builtin kernel).
    ConcatEmbeddings(ConcatEmbeddingsOptions),
    /// `SKIP_GRAM`: Skip-gram n-grams of a string tensor.
    SkipGram(SkipGramOptions),
    /// `CALL`: Calls a subgraph (superseded by CALL_ONCE, IF and WHILE; no builtin kernel).
    Call(CallOptions),
    /// `EMBEDDING_LOOKUP_SPARSE`: Sparse embedding lookup with a combiner: `[ids, indices, dense_shape, weights, params]`.
    EmbeddingLookupSparse(EmbeddingLookupSparseOptions),
    /// `UNIDIRECTIONAL_SEQUENCE_RNN`: An RNN over a sequence: `[input, weights, recurrent_weights, bias, hidden_state]`.
    UnidirectionalSequenceRnn(SequenceRnnOptions),
    /// `BATCH_TO_SPACE_ND`: Moves batch blocks into spatial dimensions and crops: `[input, block_shape, crops]`.
    BatchToSpaceNd,
    /// `SPACE_TO_BATCH_ND`: Pads and moves spatial blocks into the batch: `[input, block_shape, paddings]`.
    SpaceToBatchNd,
    /// `UNIDIRECTIONAL_SEQUENCE_LSTM`: An LSTM over a sequence, gates ordered i, f, c, o.
    UnidirectionalSequenceLstm(UnidirectionalSequenceLstmOptions),
    /// `BIDIRECTIONAL_SEQUENCE_RNN`: A bidirectional RNN over a sequence.
    BidirectionalSequenceRnn(BidirectionalSequenceRnnOptions),
    /// `TOPK_V2`: The k largest values along the last axis and their indices: `[input, k]`.
    TopkV2,
    /// `SPLIT`: Splits input 1 into `num_splits` equal parts along the axis given as input 0.
    Split(SplitOptions),
    /// `DELEGATE`: A node taken by a delegate (runtime-internal; never in files made for interpreters).
    Delegate,
    /// `BIDIRECTIONAL_SEQUENCE_LSTM`: A bidirectional LSTM over a sequence.
    BidirectionalSequenceLstm(BidirectionalSequenceLstmOptions),
    /// `SELECT`: `x` where the bool condition holds, else `y`: `[condition, x, y]` (condition of the same shape, or 1-D over the first axis).
    Select,
    /// `SPARSE_TO_DENSE`: A dense tensor from sparse values: `[indices, output_shape, values, default_value]`.
    SparseToDense(SparseToDenseOptions),
    /// `TILE`: Repeats the input `multiples[i]` times along each axis.
    Tile,
    /// `EXPAND_DIMS`: Inserts a size-1 dimension at the axis given as input 1.
    ExpandDims,
    /// `SHAPE`: The input's shape as a 1-D int32 or int64 tensor.
    Shape(ShapeOptions),
    /// `FAKE_QUANT`: Quantizes and dequantizes to `num_bits` over `[min, max]`.
    FakeQuant(FakeQuantOptions),
    /// `PACK`: Stacks `values_count` tensors of one shape along a new axis.
    Pack(PackOptions),
    /// `ONE_HOT`: One-hot encoding: `[indices, depth, on_value, off_value]`.
    OneHot(OneHotOptions),
    /// `UNPACK`: Splits along an axis into `num` tensors without that axis.
    Unpack(UnpackOptions),
    /// `FLOOR_DIV`: `floor(a / b)` with broadcasting.
    FloorDiv,
    /// `REDUCE_ANY`: Logical or over axes of a bool tensor.
    ReduceAny(ReducerOptions),
    /// `SQUARE`: `x²`.
    Square,
    /// `ZEROS_LIKE`: Zeros of the input's type and shape.
    ZerosLike,
    /// `FILL`: A tensor of the shape given as input 0 filled with the scalar input 1.
    Fill,
    /// `RANGE`: `start, start + delta, …` below `limit`: `[start, limit, delta]` scalars.
    Range,
    /// `SQUARED_DIFFERENCE`: `(a - b)²` with broadcasting.
    SquaredDifference,
    /// `UNIQUE`: The distinct values of a 1-D tensor in order of appearance, and each element's index into them.
    Unique(UniqueOptions),
    /// `CEIL`: Elementwise ceiling.
    Ceil,
    /// `REVERSE_V2`: Reverses the axes given as input 1.
    ReverseV2,
    /// `ADD_N`: Sum of all inputs (one shape).
    AddN,
    /// `GATHER_ND`: Slices of input 0 addressed by the last axis of the indices (input 1).
    GatherNd,
    /// `WHERE`: Coordinates of the true (non-zero) elements, `[count, rank]` int64.
    Where,
    /// `RANK`: The input's rank as an int32 scalar.
    Rank,
    /// `ELU`: `x` for `x > 0`, else `e^x - 1`.
    Elu,
    /// `REVERSE_SEQUENCE`: Reverses the first `seq_lengths[b]` elements along `seq_dim` for each batch `b`.
    ReverseSequence(ReverseSequenceOptions),
    /// `MATRIX_DIAG`: Batched diagonal matrices from their diagonals (last axis).
    MatrixDiag,
    /// `MATRIX_SET_DIAG`: Replaces the diagonals of batched matrices with input 1.
    MatrixSetDiag,
    /// `ROUND`: Rounds half to even.
    Round,
    /// `NON_MAX_SUPPRESSION_V4`: Greedy box selection: `[boxes, scores, max_output_size, iou_threshold, score_threshold]` → `[selected_indices, valid_outputs]`.
    NonMaxSuppressionV4,
    /// `NON_MAX_SUPPRESSION_V5`: Soft-NMS box selection: V4's inputs and `soft_nms_sigma` → `[selected_indices, selected_scores, valid_outputs]`.
    NonMaxSuppressionV5,
    /// `SCATTER_ND`: Scatters updates (input 1) at indices (input 0) into zeros of the shape given as input 2, summing duplicates.
    ScatterNd,
    /// `DENSIFY`: A dense tensor from a sparse constant.
    Densify,
    /// `SEGMENT_SUM`: Sums of rows over sorted segment ids (input 1).
    SegmentSum,
    /// `CUMSUM`: Cumulative sum along the axis given as input 1.
    Cumsum(CumsumOptions),
    /// `RFFT2D`: 2-D real FFT over the two innermost axes with an FFT length (input 1), complex64 output.
    Rfft2d,
    /// `CONV_3D`: 3-D convolution, NDHWC input and DHWIO filter.
    Conv3d(Conv3dOptions),
    /// `IMAG`: The imaginary part of a complex tensor.
    Imag,
    /// `REAL`: The real part of a complex tensor.
    Real,
    /// `COMPLEX_ABS`: The magnitude of a complex tensor.
    ComplexAbs,
    /// `HASHTABLE`: Creates a hash table resource.
    Hashtable(HashtableOptions),
    /// `HASHTABLE_FIND`: Looks keys up in a hash table resource, with a default value.
    HashtableFind,
    /// `HASHTABLE_IMPORT`: Fills a hash table resource with keys and values.
    HashtableImport,
    /// `HASHTABLE_SIZE`: The number of entries of a hash table resource.
    HashtableSize,
    /// `REDUCE_ALL`: Logical and over axes of a bool tensor.
    ReduceAll(ReducerOptions),
    /// `CONV_3D_TRANSPOSE`: Transposed 3-D convolution: `[output_shape, filter DHWOI, input NDHWC, bias?]`.
    Conv3dTranspose(Conv3dOptions),
    /// `VAR_HANDLE`: A handle to a resource variable.
    VarHandle(VarHandleOptions),
    /// `READ_VARIABLE`: Reads a resource variable.
    ReadVariable,
    /// `ASSIGN_VARIABLE`: Assigns a value to a resource variable.
    AssignVariable,
    /// `BROADCAST_ARGS`: The broadcast shape of two shape vectors.
    BroadcastArgs,
    /// `RANDOM_STANDARD_NORMAL`: Normal random numbers of the shape given as input 0.
    RandomStandardNormal(RandomOptions),
    /// `BUCKETIZE`: The index of the bucket of each element, given sorted boundaries.
    Bucketize(BucketizeOptions),
    /// `RANDOM_UNIFORM`: Uniform random numbers in `[0, 1)` of the shape given as input 0.
    RandomUniform(RandomOptions),
    /// `MULTINOMIAL`: Samples from categorical distributions given as logits: `[logits, num_samples]`.
    Multinomial(RandomOptions),
    /// `DYNAMIC_UPDATE_SLICE`: Writes an update (input 1) into the input at start indices (input 2).
    DynamicUpdateSlice,
    /// `RELU_0_TO_1`: `clamp(x, 0, 1)`.
    Relu0To1,
    /// `UNSORTED_SEGMENT_PROD`: Products over segment ids: `[data, segment_ids, num_segments]`.
    UnsortedSegmentProd,
    /// `UNSORTED_SEGMENT_MAX`: Maxima over segment ids: `[data, segment_ids, num_segments]`.
    UnsortedSegmentMax,
    /// `UNSORTED_SEGMENT_SUM`: Sums over segment ids: `[data, segment_ids, num_segments]`.
    UnsortedSegmentSum,
    /// `ATAN2`: `atan2(y, x)` with broadcasting.
    Atan2,
    /// `UNSORTED_SEGMENT_MIN`: Minima over segment ids: `[data, segment_ids, num_segments]`.
    UnsortedSegmentMin,
    /// `SIGN`: −1, 0 or 1 by the sign of each element.
    Sign,
    /// `BITCAST`: Reinterprets the bytes as the output tensor's type.
    Bitcast,
    /// `BITWISE_XOR`: Bitwise exclusive or of integers with broadcasting.
    BitwiseXor,
    /// `RIGHT_SHIFT`: Arithmetic right shift of integers with broadcasting.
    RightShift,
    /// `STABLEHLO_LOGISTIC`: StableHLO `logistic`.
    StablehloLogistic,
    /// `STABLEHLO_ADD`: StableHLO `add`.
    StablehloAdd,
    /// `STABLEHLO_DIVIDE`: StableHLO `divide`.
    StablehloDivide,
    /// `STABLEHLO_MULTIPLY`: StableHLO `multiply`.
    StablehloMultiply,
    /// `STABLEHLO_MAXIMUM`: StableHLO `maximum`.
    StablehloMaximum,
    /// `STABLEHLO_RESHAPE`: StableHLO `reshape` (to the output tensor's shape).
    StablehloReshape,
    /// `STABLEHLO_CLAMP`: StableHLO `clamp`: `[min, operand, max]`.
    StablehloClamp,
    /// `STABLEHLO_CONCATENATE`: StableHLO `concatenate`.
    StablehloConcatenate(StablehloConcatenateOptions),
    /// `STABLEHLO_BROADCAST_IN_DIM`: StableHLO `broadcast_in_dim`.
    StablehloBroadcastInDim(StablehloBroadcastInDimOptions),
    /// `STABLEHLO_CONVOLUTION`: StableHLO `convolution`.
    StablehloConvolution(StablehloConvolutionOptions),
    /// `STABLEHLO_SLICE`: StableHLO `slice`.
    StablehloSlice(StablehloSliceOptions),
    /// `STABLEHLO_CUSTOM_CALL`: StableHLO `custom_call`.
    StablehloCustomCall(StablehloCustomCallOptions),
    /// `STABLEHLO_REDUCE`: StableHLO `reduce` with a body subgraph.
    StablehloReduce(StablehloReduceOptions),
    /// `STABLEHLO_ABS`: StableHLO `abs`.
    StablehloAbs,
    /// `STABLEHLO_AND`: StableHLO `and`.
    StablehloAnd,
    /// `STABLEHLO_COSINE`: StableHLO `cosine`.
    StablehloCosine,
    /// `STABLEHLO_EXPONENTIAL`: StableHLO `exponential`.
    StablehloExponential,
    /// `STABLEHLO_FLOOR`: StableHLO `floor`.
    StablehloFloor,
    /// `STABLEHLO_LOG`: StableHLO `log`.
    StablehloLog,
    /// `STABLEHLO_MINIMUM`: StableHLO `minimum`.
    StablehloMinimum,
    /// `STABLEHLO_NEGATE`: StableHLO `negate`.
    StablehloNegate,
    /// `STABLEHLO_OR`: StableHLO `or`.
    StablehloOr,
    /// `STABLEHLO_POWER`: StableHLO `power`.
    StablehloPower,
    /// `STABLEHLO_REMAINDER`: StableHLO `remainder`.
    StablehloRemainder,
    /// `STABLEHLO_RSQRT`: StableHLO `rsqrt`.
    StablehloRsqrt,
    /// `STABLEHLO_SELECT`: StableHLO `select`: `[pred, on_true, on_false]`.
    StablehloSelect,
    /// `STABLEHLO_SUBTRACT`: StableHLO `subtract`.
    StablehloSubtract,
    /// `STABLEHLO_TANH`: StableHLO `tanh`.
    StablehloTanh,
    /// `STABLEHLO_SCATTER`: StableHLO `scatter` with an update subgraph.
    StablehloScatter(StablehloScatterOptions),
    /// `STABLEHLO_COMPARE`: StableHLO `compare`.
    StablehloCompare(StablehloCompareOptions),
    /// `STABLEHLO_CONVERT`: StableHLO `convert` (to the output tensor's type).
    StablehloConvert,
    /// `STABLEHLO_DYNAMIC_SLICE`: StableHLO `dynamic_slice`: `[operand, start_indices...]`.
    StablehloDynamicSlice(StablehloDynamicSliceOptions),
    /// `STABLEHLO_DYNAMIC_UPDATE_SLICE`: StableHLO `dynamic_update_slice`: `[operand, update, start_indices...]`.
    StablehloDynamicUpdateSlice,
    /// `STABLEHLO_PAD`: StableHLO `pad`: `[operand, padding_value]`.
    StablehloPad(StablehloPadOptions),
    /// `STABLEHLO_IOTA`: StableHLO `iota`.
    StablehloIota(StablehloIotaOptions),
    /// `STABLEHLO_DOT_GENERAL`: StableHLO `dot_general`.
    StablehloDotGeneral(StablehloDotGeneralOptions),
    /// `STABLEHLO_REDUCE_WINDOW`: StableHLO `reduce_window` with a body subgraph.
    StablehloReduceWindow(StablehloReduceWindowOptions),
    /// `STABLEHLO_SORT`: StableHLO `sort` with a comparator subgraph.
    StablehloSort(StablehloSortOptions),
    /// `STABLEHLO_WHILE`: StableHLO `while` with condition and body subgraphs.
    StablehloWhile(StablehloWhileOptions),
    /// `STABLEHLO_GATHER`: StableHLO `gather`.
    StablehloGather(StablehloGatherOptions),
    /// `STABLEHLO_TRANSPOSE`: StableHLO `transpose`.
    StablehloTranspose(StablehloTransposeOptions),
    /// `DILATE`: Inserts `dilations[i] - 1` padding values between elements: `[input, dilations, padding_value]`.
    Dilate,
    /// `STABLEHLO_RNG_BIT_GENERATOR`: StableHLO `rng_bit_generator`: `[initial_state]` → `[output_state, output]`.
    StablehloRngBitGenerator(StablehloRngBitGeneratorOptions),
    /// `REDUCE_WINDOW`: A windowed reduction: `[input, init_value, window_shape, window_strides, window_dilations]`.
    ReduceWindow(ReduceWindowOptions),
    /// `STABLEHLO_COMPOSITE`: StableHLO `composite`, with a decomposition subgraph.
    StablehloComposite(StablehloCompositeOptions),
    /// `STABLEHLO_SHIFT_LEFT`: StableHLO `shift_left`.
    StablehloShiftLeft,
    /// `STABLEHLO_CBRT`: StableHLO `cbrt`.
    StablehloCbrt,
    /// `STABLEHLO_CASE`: StableHLO `case` over branch subgraphs.
    StablehloCase(StablehloCaseOptions),
    // END GENERATED VARIANTS
    /// A custom op (including select-TF `Flex*` ops).
    Custom(CustomOp),
    /// Any other builtin op, options carried unchanged.
    Builtin(OpaqueBuiltin),
}

/// The format of a custom op's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CustomOptionsFormat {
    /// FlexBuffers (the only format TFLite defines).
    #[default]
    FlexBuffers,
}

/// A custom op: its name, its opaque options and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CustomOp {
    /// The registered name (`"Flex" + TfOpName` for select-TF ops).
    pub name: String,
    /// The options bytes.
    pub options: Vec<u8>,
    /// The options format.
    pub format: CustomOptionsFormat,
    /// The op version.
    pub version: i32,
}

impl CustomOp {
    /// A custom op with FlexBuffers options at version 1.
    pub fn new(name: impl Into<String>, options: Vec<u8>) -> CustomOp {
        CustomOp { name: name.into(), options, format: CustomOptionsFormat::FlexBuffers, version: 1 }
    }

    /// A custom op whose options are the FlexBuffers encoding of `options`
    /// (typically a map, as TFLite's custom kernels read them).
    ///
    /// ```
    /// use tflite_forge::flexbuffers::Value;
    /// use tflite_forge::CustomOp;
    /// let op = CustomOp::with_options("MyNms", &Value::Map(vec![("max_boxes".into(), Value::Int(10))]));
    /// let back = op.options_value().unwrap().unwrap();
    /// assert_eq!(back.get("max_boxes").and_then(|v| v.as_i64()), Some(10));
    /// ```
    pub fn with_options(name: impl Into<String>, options: &crate::flexbuffers::Value) -> CustomOp {
        CustomOp::new(name, crate::flexbuffers::to_bytes(options))
    }

    /// A select-TF (Flex) op: named `"Flex" + tf_op`, with the options
    /// vector `[tf_op, node_def]` that the Flex delegate reads, where
    /// `node_def` is a serialized `tensorflow.NodeDef`. Such ops run only
    /// with the Flex delegate (TensorFlow's `tf.lite.Interpreter`, or apps
    /// that link the select-TF-ops library).
    ///
    /// ```
    /// use tflite_forge::CustomOp;
    /// let op = CustomOp::flex("Erf", b"\n\x03erf\x12\x03Erf");
    /// assert_eq!(op.name, "FlexErf");
    /// assert_eq!(op.flex_op().unwrap().unwrap().0, "Erf");
    /// ```
    pub fn flex(tf_op: &str, node_def: &[u8]) -> CustomOp {
        CustomOp::new(format!("Flex{tf_op}"), crate::flexbuffers::flex_op_options(tf_op, node_def))
    }

    /// A select-TF (Flex) op running the TensorFlow node `node`: named
    /// `"Flex" + node.op`, with the serialized `NodeDef` in its options.
    /// See [`super::NodeDef`].
    pub fn flex_node(node: &super::NodeDef) -> CustomOp {
        CustomOp::flex(&node.op, &node.to_bytes())
    }

    /// The options decoded as a FlexBuffers value, when their format is
    /// FlexBuffers and they are not empty.
    pub fn options_value(&self) -> Option<Result<crate::flexbuffers::Value, crate::flexbuffers::FlexError>> {
        (self.format == CustomOptionsFormat::FlexBuffers && !self.options.is_empty())
            .then(|| crate::flexbuffers::parse(&self.options))
    }

    /// For a select-TF op (name starting with `Flex`): the TensorFlow op name
    /// and the serialized NodeDef from its options.
    pub fn flex_op(&self) -> Option<Result<(String, Vec<u8>), crate::flexbuffers::FlexError>> {
        self.name.strip_prefix("Flex").map(|_| crate::flexbuffers::parse_flex_op_options(&self.options))
    }
}

/// A builtin op whose code is newer than our schema, with its options as
/// read, so that files from newer converters still round-trip. Every code
/// the schema knows reads as its typed variant.
#[derive(Debug, Clone, PartialEq)]
pub struct OpaqueBuiltin {
    pub(crate) code: i32,
    pub(crate) version: i32,
    pub(crate) options: fb::BuiltinOptionsT,
    pub(crate) options2: fb::BuiltinOptions2T,
}

impl OpaqueBuiltin {
    /// The builtin operator code.
    pub fn code(&self) -> i32 {
        self.code
    }
    /// The op version as read.
    pub fn version(&self) -> i32 {
        self.version
    }
}

impl Op {
    /// The builtin operator code (`CUSTOM` is 32).
    pub fn builtin_code(&self) -> i32 {
        super::op_generated::code_of(self)
    }

    /// The typed op of a builtin code with default options, as a file
    /// without an options table reads; `None` for `CUSTOM`, the placeholder
    /// code 127 and codes the schema does not know.
    ///
    /// ```
    /// use tflite_forge::Op;
    /// assert_eq!(Op::from_code(8), Some(Op::Floor));
    /// assert_eq!(Op::from_code(132).map(|o| o.builtin_code()), Some(132));
    /// assert_eq!(Op::from_code(32), None);
    /// ```
    pub fn from_code(code: i32) -> Option<Op> {
        use fb::BuiltinOperator as B;
        // Ops whose options LiteRT cannot do without: sensible defaults
        // (a file without the table is an error when read).
        let pool = Pool2dOptions::new(Padding::Valid, 1, 1, 1, 1);
        let needs_options = match B(code) {
            B::CONV_2D => Op::Conv2d(Conv2dOptions::default()),
            B::DEPTHWISE_CONV_2D => Op::DepthwiseConv2d(DepthwiseConv2dOptions::default()),
            B::AVERAGE_POOL_2D => Op::AveragePool2d(pool),
            B::MAX_POOL_2D => Op::MaxPool2d(pool),
            B::L2_POOL_2D => Op::L2Pool2d(pool),
            B::TRANSPOSE_CONV => Op::TransposeConv(TransposeConvOptions::default()),
            B::IF => Op::If { then_subgraph: 1, else_subgraph: 2 },
            B::WHILE => Op::While { cond_subgraph: 1, body_subgraph: 2 },
            B::CALL_ONCE => Op::CallOnce { init_subgraph: 1 },
            _ => return read_typed(code, &fb::BuiltinOptionsT::NONE, &fb::BuiltinOptions2T::NONE).and_then(Result::ok),
        };
        Some(needs_options)
    }

    /// The schema name of the op (`"CONV_2D"`), or the custom name.
    pub fn name(&self) -> &str {
        match self {
            Op::Custom(c) => &c.name,
            _ => builtin_name(self.builtin_code()).unwrap_or("UNKNOWN_BUILTIN"),
        }
    }
}

/// The schema name of a builtin operator code, if known.
///
/// ```
/// assert_eq!(tflite_forge::builtin_name(3), Some("CONV_2D"));
/// assert_eq!(tflite_forge::builtin_name(100_000), None);
/// ```
pub fn builtin_name(code: i32) -> Option<&'static str> {
    fb::BuiltinOperator(code).variant_name()
}

/// Index of a tensor within its subgraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(pub u32);

impl TensorId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for TensorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// An operator node: the op and the tensors it reads and writes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Operator {
    /// What the node computes.
    pub op: Op,
    /// Inputs; `None` marks an omitted optional input (written as `-1`).
    pub inputs: Vec<Option<TensorId>>,
    /// Outputs.
    pub outputs: Vec<TensorId>,
    /// Intermediate tensors (used by some quantized LSTM kernels).
    pub intermediates: Vec<TensorId>,
}

impl Operator {
    /// A node with all inputs present.
    pub fn new(op: Op, inputs: &[TensorId], outputs: &[TensorId]) -> Operator {
        Operator {
            op,
            inputs: inputs.iter().copied().map(Some).collect(),
            outputs: outputs.to_vec(),
            intermediates: Vec::new(),
        }
    }

    /// Input `i`, if present.
    pub fn input(&self, i: usize) -> Option<TensorId> {
        self.inputs.get(i).copied().flatten()
    }
}

/// How many inputs or outputs an operator takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Arity {
    /// The least number (omitted optional inputs count).
    pub min: u32,
    /// The greatest number, `None` when unbounded.
    pub max: Option<u32>,
}

impl Arity {
    /// Whether `n` is within the bounds.
    pub fn allows(self, n: usize) -> bool {
        n >= self.min as usize && self.max.is_none_or(|m| n <= m as usize)
    }
}

/// Where an operator's typed options come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OptionsKind {
    /// The op has no options table.
    None,
    /// Options generated from this schema table.
    Table(&'static str),
    /// Options written by hand in the model (ops the converter uses).
    Hand,
}

/// The facts of one builtin operator, from `schema/ops.spec`.
///
/// ```
/// let conv3d = tflite_forge::OPS.iter().find(|o| o.name == "CONV_3D").unwrap();
/// assert_eq!(conv3d.code, 132);
/// assert!(conv3d.inputs.allows(2) && conv3d.inputs.allows(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OpInfo {
    /// The builtin code.
    pub code: i32,
    /// The schema name (`CONV_3D`).
    pub name: &'static str,
    /// The name of its [`Op`] variant.
    pub variant: &'static str,
    /// Its options.
    pub options: OptionsKind,
    /// Its input count.
    pub inputs: Arity,
    /// Its output count.
    pub outputs: Arity,
    /// Its family.
    pub family: super::OpFamily,
    /// A legacy op, kept so that old files read and write.
    pub deprecated: bool,
    /// What it computes.
    pub doc: &'static str,
}

/// The facts of a builtin code, if the schema knows it.
///
/// ```
/// assert_eq!(tflite_forge::op_info(8).map(|o| o.name), Some("FLOOR"));
/// ```
pub fn op_info(code: i32) -> Option<&'static OpInfo> {
    super::OPS.binary_search_by_key(&code, |o| o.code).ok().map(|i| &super::OPS[i])
}

// Conversions between the schema's enums and ours, shared by the reader,
// the writer and the generated options.

pub(crate) fn activation_from_fb(a: fb::ActivationFunctionType) -> Result<Activation, String> {
    Ok(match a {
        fb::ActivationFunctionType::NONE => Activation::None,
        fb::ActivationFunctionType::RELU => Activation::Relu,
        fb::ActivationFunctionType::RELU_N1_TO_1 => Activation::ReluN1To1,
        fb::ActivationFunctionType::RELU6 => Activation::Relu6,
        fb::ActivationFunctionType::TANH => Activation::Tanh,
        fb::ActivationFunctionType::SIGN_BIT => Activation::SignBit,
        other => return Err(format!("unknown fused activation {}", other.0)),
    })
}

pub(crate) fn activation_to_fb(a: Activation) -> fb::ActivationFunctionType {
    match a {
        Activation::None => fb::ActivationFunctionType::NONE,
        Activation::Relu => fb::ActivationFunctionType::RELU,
        Activation::ReluN1To1 => fb::ActivationFunctionType::RELU_N1_TO_1,
        Activation::Relu6 => fb::ActivationFunctionType::RELU6,
        Activation::Tanh => fb::ActivationFunctionType::TANH,
        Activation::SignBit => fb::ActivationFunctionType::SIGN_BIT,
    }
}

pub(crate) fn padding_from_fb(p: fb::Padding) -> Result<Padding, String> {
    match p {
        fb::Padding::SAME => Ok(Padding::Same),
        fb::Padding::VALID => Ok(Padding::Valid),
        other => Err(format!("unknown padding {}", other.0)),
    }
}

pub(crate) fn padding_to_fb(p: Padding) -> fb::Padding {
    match p {
        Padding::Same => fb::Padding::SAME,
        Padding::Valid => fb::Padding::VALID,
    }
}

pub(crate) fn dtype_from_fb(t: fb::TensorType) -> Result<super::DType, String> {
    super::DType::from_code(t.0).ok_or_else(|| format!("unknown tensor type {}", t.0))
}

pub(crate) fn dtype_to_fb(d: super::DType) -> fb::TensorType {
    fb::TensorType(d.code())
}

pub(crate) fn custom_options_format_from_fb(f: fb::CustomOptionsFormat) -> Result<CustomOptionsFormat, String> {
    match f {
        fb::CustomOptionsFormat::FLEXBUFFERS => Ok(CustomOptionsFormat::FlexBuffers),
        other => Err(format!("unknown custom options format {}", other.0)),
    }
}

pub(crate) fn custom_options_format_to_fb(f: CustomOptionsFormat) -> fb::CustomOptionsFormat {
    match f {
        CustomOptionsFormat::FlexBuffers => fb::CustomOptionsFormat::FLEXBUFFERS,
    }
}

pub(crate) fn mirror_pad_mode_from_fb(m: fb::MirrorPadMode) -> Result<MirrorPadMode, String> {
    match m {
        fb::MirrorPadMode::REFLECT => Ok(MirrorPadMode::Reflect),
        fb::MirrorPadMode::SYMMETRIC => Ok(MirrorPadMode::Symmetric),
        other => Err(format!("unknown mirror pad mode {}", other.0)),
    }
}

pub(crate) fn mirror_pad_mode_to_fb(m: MirrorPadMode) -> fb::MirrorPadMode {
    match m {
        MirrorPadMode::Reflect => fb::MirrorPadMode::REFLECT,
        MirrorPadMode::Symmetric => fb::MirrorPadMode::SYMMETRIC,
    }
}

pub(crate) fn weights_format_from_fb(w: fb::FullyConnectedOptionsWeightsFormat) -> Result<WeightsFormat, String> {
    match w {
        fb::FullyConnectedOptionsWeightsFormat::DEFAULT => Ok(WeightsFormat::Default),
        fb::FullyConnectedOptionsWeightsFormat::SHUFFLED4x16INT8 => Ok(WeightsFormat::Shuffled4x16Int8),
        other => Err(format!("unknown weights format {}", other.0)),
    }
}

pub(crate) fn weights_format_to_fb(w: WeightsFormat) -> fb::FullyConnectedOptionsWeightsFormat {
    match w {
        WeightsFormat::Default => fb::FullyConnectedOptionsWeightsFormat::DEFAULT,
        WeightsFormat::Shuffled4x16Int8 => fb::FullyConnectedOptionsWeightsFormat::SHUFFLED4x16INT8,
    }
}

/// A tensor type where 0 (`FLOAT32`, the field's default) means "not
/// given": the quantized bias type and CAST's informational types.
pub(crate) fn opt_dtype_from_fb(t: fb::TensorType) -> Result<Option<super::DType>, String> {
    if t.0 == 0 { Ok(None) } else { dtype_from_fb(t).map(Some) }
}

pub(crate) fn opt_dtype_to_fb(d: Option<super::DType>) -> fb::TensorType {
    fb::TensorType(d.map_or(0, |d| d.code()))
}

/// A tensor type that a table, when present, always gives (`FLOAT32` is
/// its zero); `None` stands for "no table".
pub(crate) fn some_dtype_from_fb(t: fb::TensorType) -> Result<Option<super::DType>, String> {
    dtype_from_fb(t).map(Some)
}

pub(crate) fn some_dtype_to_fb(d: Option<super::DType>) -> fb::TensorType {
    opt_dtype_to_fb(d)
}

/// A subgraph index: the file's int32, ours u32.
pub(crate) fn subgraph_from_fb(i: i32) -> Result<u32, String> {
    u32::try_from(i).map_err(|_| format!("negative subgraph index {i}"))
}

/// A subgraph index as the file stores it (int32). Validation rejects
/// indices past the subgraph count long before `i32::MAX`; only
/// `write_unvalidated` can meet a larger one, which saturates.
pub(crate) fn subgraph_to_fb(i: u32) -> i32 {
    i32::try_from(i).unwrap_or(i32::MAX)
}

/// A list the file may leave out when empty.
pub(crate) fn list_from_fb<T: Clone>(v: &Option<Vec<T>>) -> Result<Vec<T>, String> {
    Ok(v.clone().unwrap_or_default())
}

pub(crate) fn list_to_fb<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}
