//! Operators and their typed options.

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
    /// A custom op (including select-TF `Flex*` ops).
    Custom(CustomOp),
    /// Any other builtin op, options carried unchanged.
    Builtin(OpaqueBuiltin),
}

/// The format of a custom op's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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

/// A builtin op without typed support yet, with its options as read.
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
        let c = match self {
            Op::Add(_) => fb::BuiltinOperator::ADD,
            Op::Sub(_) => fb::BuiltinOperator::SUB,
            Op::Mul(_) => fb::BuiltinOperator::MUL,
            Op::Div(_) => fb::BuiltinOperator::DIV,
            Op::Conv2d(_) => fb::BuiltinOperator::CONV_2D,
            Op::DepthwiseConv2d(_) => fb::BuiltinOperator::DEPTHWISE_CONV_2D,
            Op::FullyConnected(_) => fb::BuiltinOperator::FULLY_CONNECTED,
            Op::AveragePool2d(_) => fb::BuiltinOperator::AVERAGE_POOL_2D,
            Op::MaxPool2d(_) => fb::BuiltinOperator::MAX_POOL_2D,
            Op::Mean { .. } => fb::BuiltinOperator::MEAN,
            Op::Reshape { .. } => fb::BuiltinOperator::RESHAPE,
            Op::Transpose => fb::BuiltinOperator::TRANSPOSE,
            Op::Concatenation(_) => fb::BuiltinOperator::CONCATENATION,
            Op::Pad => fb::BuiltinOperator::PAD,
            Op::Softmax { .. } => fb::BuiltinOperator::SOFTMAX,
            Op::Logistic => fb::BuiltinOperator::LOGISTIC,
            Op::Relu => fb::BuiltinOperator::RELU,
            Op::Relu6 => fb::BuiltinOperator::RELU6,
            Op::HardSwish => fb::BuiltinOperator::HARD_SWISH,
            Op::Tanh => fb::BuiltinOperator::TANH,
            Op::Quantize => fb::BuiltinOperator::QUANTIZE,
            Op::Dequantize => fb::BuiltinOperator::DEQUANTIZE,
            Op::Minimum => fb::BuiltinOperator::MINIMUM,
            Op::Maximum => fb::BuiltinOperator::MAXIMUM,
            Op::LeakyRelu { .. } => fb::BuiltinOperator::LEAKY_RELU,
            Op::Prelu => fb::BuiltinOperator::PRELU,
            Op::Gelu { .. } => fb::BuiltinOperator::GELU,
            Op::Exp => fb::BuiltinOperator::EXP,
            Op::Sqrt => fb::BuiltinOperator::SQRT,
            Op::Rsqrt => fb::BuiltinOperator::RSQRT,
            Op::Neg => fb::BuiltinOperator::NEG,
            Op::Abs => fb::BuiltinOperator::ABS,
            Op::Cast(_) => fb::BuiltinOperator::CAST,
            Op::SplitV { .. } => fb::BuiltinOperator::SPLIT_V,
            Op::StridedSlice(_) => fb::BuiltinOperator::STRIDED_SLICE,
            Op::Slice => fb::BuiltinOperator::SLICE,
            Op::Gather(_) => fb::BuiltinOperator::GATHER,
            Op::Squeeze { .. } => fb::BuiltinOperator::SQUEEZE,
            Op::ResizeBilinear(_) => fb::BuiltinOperator::RESIZE_BILINEAR,
            Op::ResizeNearestNeighbor(_) => fb::BuiltinOperator::RESIZE_NEAREST_NEIGHBOR,
            Op::TransposeConv(_) => fb::BuiltinOperator::TRANSPOSE_CONV,
            Op::BatchMatMul(_) => fb::BuiltinOperator::BATCH_MATMUL,
            Op::ReduceMax { .. } => fb::BuiltinOperator::REDUCE_MAX,
            Op::Sum { .. } => fb::BuiltinOperator::SUM,
            Op::PadV2 => fb::BuiltinOperator::PADV2,
            Op::MirrorPad { .. } => fb::BuiltinOperator::MIRROR_PAD,
            Op::If { .. } => fb::BuiltinOperator::IF,
            Op::While { .. } => fb::BuiltinOperator::WHILE,
            Op::CallOnce { .. } => fb::BuiltinOperator::CALL_ONCE,
            Op::Equal => fb::BuiltinOperator::EQUAL,
            Op::NotEqual => fb::BuiltinOperator::NOT_EQUAL,
            Op::Less => fb::BuiltinOperator::LESS,
            Op::LessEqual => fb::BuiltinOperator::LESS_EQUAL,
            Op::Greater => fb::BuiltinOperator::GREATER,
            Op::GreaterEqual => fb::BuiltinOperator::GREATER_EQUAL,
            Op::LogicalAnd => fb::BuiltinOperator::LOGICAL_AND,
            Op::LogicalOr => fb::BuiltinOperator::LOGICAL_OR,
            Op::LogicalNot => fb::BuiltinOperator::LOGICAL_NOT,
            Op::SelectV2 => fb::BuiltinOperator::SELECT_V2,
            Op::Log => fb::BuiltinOperator::LOG,
            Op::Sin => fb::BuiltinOperator::SIN,
            Op::Cos => fb::BuiltinOperator::COS,
            Op::Pow => fb::BuiltinOperator::POW,
            Op::LogSoftmax => fb::BuiltinOperator::LOG_SOFTMAX,
            Op::ReduceMin { .. } => fb::BuiltinOperator::REDUCE_MIN,
            Op::ReduceProd { .. } => fb::BuiltinOperator::REDUCE_PROD,
            Op::ArgMax { .. } => fb::BuiltinOperator::ARG_MAX,
            Op::ArgMin { .. } => fb::BuiltinOperator::ARG_MIN,
            Op::BroadcastTo => fb::BuiltinOperator::BROADCAST_TO,
            Op::FloorMod => fb::BuiltinOperator::FLOOR_MOD,
            Op::Custom(_) => fb::BuiltinOperator::CUSTOM,
            Op::Builtin(o) => return o.code,
        };
        c.0
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
