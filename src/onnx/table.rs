//! The lowering table: one entry per ONNX op, with its opset range, the
//! TFLite ops it emits and its constraints. SUPPORTED_OPS.md is generated
//! from it ([`Registry::markdown`]); embedders can register their own
//! lowerings or override ours.

use super::error::ReasonCode;
use super::lower::{self, LowerCtx, LowerError, Node};

/// A lowering function.
pub type LowerFn = fn(&mut LowerCtx<'_>, &Node<'_>) -> Result<(), LowerError>;

/// One entry of the table.
#[derive(Clone)]
#[non_exhaustive]
pub struct Lowering {
    /// The ONNX domain ("" for the default domain).
    pub domain: &'static str,
    /// The ONNX op type.
    pub op_type: &'static str,
    /// First opset handled.
    pub since: i64,
    /// Last opset handled, if bounded.
    pub until: Option<i64>,
    /// TFLite ops emitted.
    pub emits: &'static [&'static str],
    /// Constraints, in words.
    pub constraints: &'static str,
    /// The function.
    pub lower: LowerFn,
}

impl Lowering {
    /// A new entry for the default domain.
    pub const fn new(op_type: &'static str, since: i64, emits: &'static [&'static str], constraints: &'static str, lower: LowerFn) -> Lowering {
        Lowering { domain: "", op_type, since, until: None, emits, constraints, lower }
    }

    /// The same entry in another domain.
    pub const fn in_domain(mut self, domain: &'static str) -> Lowering {
        self.domain = domain;
        self
    }

    fn covers(&self, opset: i64) -> bool {
        opset >= self.since && self.until.is_none_or(|u| opset <= u)
    }
}

impl std::fmt::Debug for Lowering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lowering")
            .field("domain", &self.domain)
            .field("op_type", &self.op_type)
            .field("since", &self.since)
            .field("until", &self.until)
            .field("emits", &self.emits)
            .finish()
    }
}

/// The set of lowerings a conversion uses.
///
/// ```
/// use tflite_forge::onnx::Registry;
/// let r = Registry::default();
/// assert!(r.entries().iter().any(|e| e.op_type == "Conv"));
/// ```
#[derive(Clone, Debug)]
pub struct Registry {
    entries: Vec<Lowering>,
}

/// Ops folded into constants when all their inputs are constant; they need
/// no table entry to appear in a model that only computes shapes with them.
pub const FOLDABLE: &[&str] = lower::fold::FOLDABLE;

impl Default for Registry {
    fn default() -> Self {
        Registry { entries: builtin() }
    }
}

impl Registry {
    /// An empty registry.
    pub fn empty() -> Registry {
        Registry { entries: Vec::new() }
    }

    /// All entries.
    pub fn entries(&self) -> &[Lowering] {
        &self.entries
    }

    /// Adds an entry; it takes precedence over earlier entries for the same
    /// domain, op type and opset.
    pub fn register(&mut self, entry: Lowering) -> &mut Self {
        self.entries.push(entry);
        self
    }

    /// The entry for a node, or why there is none.
    pub fn find(&self, domain: &str, op_type: &str, opset: i64) -> Result<&Lowering, ReasonCode> {
        let domain = if domain == "ai.onnx" { "" } else { domain };
        let mut any = false;
        for e in self.entries.iter().rev() {
            if e.domain == domain && e.op_type == op_type {
                any = true;
                if e.covers(opset) {
                    return Ok(e);
                }
            }
        }
        Err(if any { ReasonCode::UnsupportedOpset } else { ReasonCode::UnsupportedOp })
    }

    /// The table as Markdown (SUPPORTED_OPS.md).
    pub fn markdown(&self) -> String {
        // Later registrations win: list only the entry that takes effect
        // for each domain, op type and first opset.
        let mut rows: Vec<&Lowering> = Vec::new();
        for e in self.entries.iter().rev() {
            if !rows.iter().any(|r| r.domain == e.domain && r.op_type == e.op_type && r.since == e.since) {
                rows.push(e);
            }
        }
        rows.sort_by_key(|e| (e.domain, e.op_type, e.since));
        let mut s = String::from(
            "# Supported ONNX ops\n\nGenerated from the lowering table (`tflite_forge::onnx::Registry::default().markdown()`); \
             a test keeps this file current.\n\n| ONNX op | opsets | TFLite ops | constraints |\n|---|---|---|---|\n",
        );
        for e in rows {
            let name = if e.domain.is_empty() { e.op_type.to_string() } else { format!("{}::{}", e.domain, e.op_type) };
            let opsets = match e.until {
                Some(u) => format!("{}–{u}", e.since),
                None => format!("{}+", e.since),
            };
            let emits = if e.emits.is_empty() { "(none)".to_string() } else { e.emits.join(", ") };
            s.push_str(&format!("| {name} | {opsets} | {emits} | {} |\n", e.constraints));
        }
        s.push_str("\nFolded into constants when every input is constant (shape computations): ");
        s.push_str(&FOLDABLE.join(", "));
        s.push_str(".\n\nReason codes for what cannot be lowered: `unsupported_op`, `unsupported_opset`, `unsupported_attribute`, \
                    `input_must_be_constant`, `unsupported_dtype`, `unsupported_shape`, `invalid_node`.\n");
        s
    }
}

fn builtin() -> Vec<Lowering> {
    use lower::*;
    vec![
        Lowering::new("Conv", 1, &["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_3D", "PAD", "TRANSPOSE", "RESHAPE", "EXPAND_DIMS", "SQUEEZE", "SPLIT_V", "CONCATENATION"], "float32; 1-D (as 2-D with a unit height) and 2-D: weights constant or run-time of static shape, depthwise, or other groups split into one CONV_2D per group; 3-D: CONV_3D, groups split; auto_pad, dilations, asymmetric pads", lower_conv),
        Lowering::new("BatchNormalization", 1, &["MUL", "ADD", "SUB", "RSQRT", "RESHAPE", "MEAN", "SQRT", "DIV"], "inference mode: constant parameters (folded into a preceding Conv/Gemm when possible) or float32 run-time ones of static length (computed at run time); training mode (opset 14+, float32, static channels): batch statistics, and the running mean and variance outputs", batchnorm::lower_batchnorm),
        Lowering::new("Relu", 1, &["RELU"], "", lower_relu),
        Lowering::new("Sigmoid", 1, &["LOGISTIC"], "", lower_sigmoid),
        Lowering::new("Tanh", 1, &["TANH"], "", lower_tanh),
        Lowering::new("HardSwish", 14, &["HARD_SWISH"], "", lower_hardswish),
        Lowering::new("HardSigmoid", 1, &["MUL", "ADD", "RELU6"], "alpha and beta with beta/alpha = 3 map to relu6(x+3)/6; otherwise MUL+ADD+clip", lower_hardsigmoid),
        Lowering::new("Add", 1, &["ADD", "CAST"], "numpy broadcasting; float32, int32, int64; 8/16-bit integers in int32, uint32 in int64, float16 in float32, cast back (wrapping as ONNX); no float64 / uint64", lower_add),
        Lowering::new("Sub", 1, &["SUB", "CAST"], "as Add", lower_sub),
        Lowering::new("Mul", 1, &["MUL", "CAST"], "as Add, but uint16 in int64 and no uint32 (products need twice the bits)", lower_mul),
        Lowering::new("Div", 1, &["DIV", "CAST"], "numpy broadcasting; float32, int32 (truncating toward zero); 8/16-bit integers in int32, float16 in float32; no int64 / uint32 / uint64 / float64", lower_div),
        Lowering::new("MaxPool", 1, &["MAX_POOL_2D", "PAD", "PADV2", "TRANSPOSE", "RESHAPE", "EXPAND_DIMS", "SQUEEZE", "STRIDED_SLICE", "MAXIMUM", "GREATER", "SELECT_V2", "ADD", "CAST"], "1-D and 2-D without dilation: MAX_POOL_2D (1-D with a unit height), ceil_mode via extra end padding, padding that is not SAME pads with zeros after a ReLU, else with the lowest float; otherwise (dilations, 3-D, uint8, int8, int32) with static spatial sizes, from the window's taps (at most 1024; 8-bit integers in int32); the Indices output (static batch and channels, storage_order 0 or 1) from the taps too", lower_maxpool),
        Lowering::new("AveragePool", 1, &["AVERAGE_POOL_2D", "PAD", "TRANSPOSE", "RESHAPE", "EXPAND_DIMS", "SQUEEZE", "STRIDED_SLICE", "ADD", "DIV"], "1-D and 2-D: AVERAGE_POOL_2D where TFLite's SAME / VALID or an explicit zero PAD gives ONNX's count; otherwise (dilations, 3-D, other pads with count_include_pad=0, ceil_mode) float32 with static spatial sizes, from the window's taps (at most 1024) divided by constant counts", lower_avgpool),
        Lowering::new("LpPool", 1, &["MUL", "ABS", "POW", "PAD", "STRIDED_SLICE", "ADD", "SQRT"], "float32; static spatial sizes; integer p in 1..=64; from the window's taps (at most 1024); pads, auto_pad, strides, dilations, ceil_mode", lower_lppool),
        Lowering::new("GlobalAveragePool", 1, &["MEAN"], "", lower_global_avgpool),
        Lowering::new("GlobalMaxPool", 1, &["MAX_POOL_2D", "TRANSPOSE"], "4-D with static spatial size", lower_global_maxpool),
        Lowering::new("Flatten", 1, &["RESHAPE"], "", lower_flatten),
        Lowering::new("Reshape", 5, &["RESHAPE"], "constant (or folded) shape; 0 copies a dimension, one -1", lower_reshape),
        Lowering::new("Transpose", 1, &["TRANSPOSE"], "", lower_transpose),
        Lowering::new("Concat", 1, &["CONCATENATION"], "", lower_concat),
        Lowering::new("Softmax", 1, &["SOFTMAX", "TRANSPOSE", "RESHAPE"], "opset < 13 coerces to 2-D at axis; opset ≥ 13 any axis", lower_softmax),
        Lowering::new("Gemm", 1, &["FULLY_CONNECTED", "BATCH_MATMUL", "MUL", "ADD"], "2-D; FULLY_CONNECTED for a constant B without transA, BATCH_MATMUL otherwise", lower_gemm),
        Lowering::new("ReduceMean", 1, &["MEAN", "CAST", "RESHAPE", "SHAPE", "SCATTER_ND", "CUMSUM"], "axes attribute (opset < 18), constant axes input, or run-time axes of static length (keepdims=0 over several run-time axes: kept, then dropped by a RESHAPE to a run-time shape)", lower_reduce_mean),
        Lowering::new("Identity", 1, &[], "", lower_identity),
        Lowering::new("CausalConvWithState", 1, &["PAD", "CONCATENATION", "TRANSPOSE", "EXPAND_DIMS", "DEPTHWISE_CONV_2D", "SQUEEZE", "LOGISTIC", "MUL", "STRIDED_SLICE"], "float32; a static channel count", lower_causal_conv_with_state),
        Lowering::new("LinearAttention", 1, &["RESHAPE", "TRANSPOSE", "UNPACK", "EXP", "MUL", "ADD", "SUB", "BATCH_MATMUL", "GATHER", "CONCATENATION"], "float32; a static sequence length up to 64 (unrolled); update rules linear, gated, delta, gated_delta; GQA and MQA", lower_linear_attention),
        Lowering::new("Optional", 15, &[], "holding a tensor (an empty optional has no TFLite form)", lower_optional),
        Lowering::new("OptionalHasElement", 15, &[], "folds: an optional is empty only when its input is omitted", lower_optional_has_element),
        Lowering::new("OptionalGetElement", 15, &[], "of a tensor or a non-empty optional tensor", lower_optional_get_element),
        Lowering::new("If", 1, &["IF"], "a constant condition inlines its branch; otherwise IF with both branches as subgraphs (branch outputs of one type)", lower_if),
        Lowering::new("Loop", 1, &["WHILE", "LESS", "LOGICAL_AND", "ADD", "CONCATENATION", "PACK"], "unrolled when the trip count is constant (up to 64) and the condition stays constant; otherwise WHILE (scan outputs of a loop that may run no iteration need a static declared shape)", lower_loop),
        Lowering::new("LSTM", 7, &["FULLY_CONNECTED", "SPLIT", "LOGISTIC", "TANH", "MUL", "ADD", "PACK", "WHILE", "DYNAMIC_UPDATE_SLICE", "REVERSE_V2", "REVERSE_SEQUENCE"], "exact decomposition: unrolled up to 64 steps, WHILE beyond or for a dynamic length (then R, B and P constant); activations Sigmoid, Tanh, Relu, LeakyRelu, HardSigmoid, ScaledTanh, Affine, Softsign; clip on gate inputs; sequence_lens, peepholes, input_forget, layout 0 and 1", lower_lstm),
        Lowering::new("GRU", 7, &["FULLY_CONNECTED", "SPLIT", "LOGISTIC", "TANH", "MUL", "ADD", "SUB", "PACK", "WHILE", "DYNAMIC_UPDATE_SLICE"], "as LSTM; linear_before_reset 0 and 1", lower_gru),
        Lowering::new("RNN", 7, &["FULLY_CONNECTED", "TANH", "ADD", "PACK", "WHILE", "DYNAMIC_UPDATE_SLICE"], "as LSTM", lower_rnn),
        Lowering::new("Scan", 9, &["GATHER", "PACK", "WHILE", "CONCATENATION", "REVERSE_V2", "TRANSPOSE"], "unrolled over a sequence of static length up to 64; otherwise WHILE (scan outputs need a static declared element shape)", lower_scan),
        Lowering::new("Dropout", 1, &[], "inference: identity; the mask output a constant all-true tensor (static input shape)", lower_identity),
        Lowering::new("Squeeze", 1, &["RESHAPE", "SHAPE", "CAST", "LESS", "ADD", "SELECT_V2", "EQUAL", "SUM", "MINIMUM", "SUB", "MUL", "CUMSUM", "SCATTER_ND", "SLICE"], "axes attribute, constant input, or a run-time input of static length (the output shape is then computed at run time)", lower_squeeze),
        Lowering::new("Unsqueeze", 1, &["RESHAPE", "SHAPE", "CAST", "LESS", "ADD", "SELECT_V2", "EQUAL", "SUM", "MINIMUM", "SUB", "MUL", "CUMSUM", "GATHER", "MAXIMUM"], "axes attribute, constant input, or a run-time input of static length (the output shape is then computed at run time)", lower_unsqueeze),
        Lowering::new("Max", 1, &["MAXIMUM", "CAST"], "variadic (chained), numpy broadcasting; float32, int32, int64; 8/16-bit integers in int32, uint32 in int64, float16 in float32 (exact)", lower_max),
        Lowering::new("Min", 1, &["MINIMUM", "CAST"], "as Max", lower_min),
        Lowering::new("Clip", 1, &["RELU", "RELU6", "MAXIMUM", "MINIMUM", "CAST"], "bounds as attributes (before opset 11), constant inputs or run-time scalar tensors; constant [0, ∞) and [0, 6] as RELU / RELU6, others as MAXIMUM then MINIMUM (8/16-bit integers in int32, uint32 in int64, float16 in float32)", lower_clip_any),
        Lowering::new("LeakyRelu", 1, &["LEAKY_RELU"], "float32", lower_leaky_relu),
        Lowering::new("PRelu", 1, &["PRELU"], "float32; rank ≤ 4; slope broadcast to the input (a constant slope gets the input's rank)", lower_prelu),
        Lowering::new("Gelu", 20, &["GELU"], "approximate none or tanh; float32", lower_gelu),
        Lowering::new("Gelu", 0, &["GELU"], "fused by the converter from x·0.5·(1+erf(x/√2)), the form torch's legacy exporter writes", lower_gelu)
            .in_domain(super::patterns::FUSED_DOMAIN),
        Lowering::new("Exp", 1, &["EXP"], "float32", lower_exp),
        Lowering::new("Sqrt", 1, &["SQRT"], "float32", lower_sqrt),
        Lowering::new("Neg", 1, &["NEG", "CAST"], "float32, int32, int64; 8/16-bit integers in int32, wrapped back", lower_neg),
        Lowering::new("Abs", 1, &["ABS", "CAST"], "float32, int32; 8/16-bit integers and uint32 in int32 / int64, wrapped back", lower_abs),
        Lowering::new("Floor", 1, &["FLOOR"], "float32 (float16 via float32)", lower_floor),
        Lowering::new("Ceil", 1, &["CEIL"], "float32 (float16 via float32)", lower_ceil),
        Lowering::new("Reciprocal", 1, &["DIV"], "float32; 1 / x", lower_reciprocal),
        Lowering::new("Cast", 1, &["CAST"], "between float32/16/64, int8/16/32/64, uint8 and bool; float to uint8 is rejected; float to integer is exact in range (out-of-range values are undefined in ONNX and saturate in TFLite)", lower_cast),
        Lowering::new("Split", 2, &["SPLIT_V", "LESS", "SELECT_V2"], "split attribute (opset < 13), constant or run-time split input (13+) or num_outputs (18+); no empty outputs", lower_split),
        Lowering::new("Slice", 1, &["STRIDED_SLICE", "CAST", "MAXIMUM", "MINIMUM", "NEG", "CONCATENATION", "GATHER", "SHAPE", "LESS", "ADD", "SELECT_V2", "EQUAL", "RESHAPE", "MUL", "SUM", "SUB"], "starts/ends/axes/steps constant or run-time vectors of static length (attributes before opset 10); rank ≤ 5", lower_slice),
        Lowering::new("Gather", 1, &["GATHER", "LESS", "ADD", "SELECT_V2"], "constant indices (negative ones need a static axis), or run-time int32/int64 indices on a static axis", lower_gather),
        Lowering::new("ConvTranspose", 1, &["TRANSPOSE_CONV", "CONV_3D_TRANSPOSE", "SLICE", "TRANSPOSE", "SPLIT_V", "CONCATENATION", "RESHAPE", "PAD"], "1-D (as 2-D with a unit height) and 2-D: weights and bias constant or float32 run-time tensors of static shape, groups (one TRANSPOSE_CONV each), dilations (zeros between the kernel taps), pads, output_padding, output_shape, auto_pad; 3-D: CONV_3D_TRANSPOSE with group 1, no dilation, pads and output_padding; static batch and spatial size", lower_conv_transpose),
        Lowering::new("Col2Im", 18, &["RESHAPE", "TRANSPOSE_CONV", "CONV_3D_TRANSPOSE", "SLICE", "TRANSPOSE"], "float32 of static shape; image_shape and block_shape constant; 1 to 3 spatial dims as ConvTranspose takes them (a transposed convolution with one-hot weights, at most 2^22 entries)", lower_col2im),
        Lowering::new("Resize", 10, &["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE", "GATHER", "RANGE", "FLOOR", "CEIL", "SELECT_V2", "FULLY_CONNECTED", "BATCH_MATMUL"], "float32 (int8 from QDQ on the RESIZE_* form). RESIZE_* between transposes where TFLite computes ONNX's result exactly: 4-D NCHW resizing H and W with constant scales giving whole sizes or sizes, nearest with asymmetric+floor, half_pixel/pytorch_half_pixel/align_corners+round_prefer_ceil, tf_half_pixel_for_nn+floor, half_pixel with either rounding for whole upscale factors, linear with asymmetric, align_corners, half_pixel, pytorch_half_pixel (output > 1). Everything else by GATHERs per axis: any rank and axes, scales, sizes and roi given at run time, fractional sizes, nearest with every rounding, linear, cubic (cubic_coeff_a, exclude_outside), every coordinate transform incl. half_pixel_symmetric and tf_crop_and_resize, keep_aspect_ratio_policy. Antialias (linear, cubic) when downsampling on static lengths of the resized axes: a constant [out, in] matrix per axis as FULLY_CONNECTED (static scales or sizes, at most 2^22 entries), or one computed in the graph and applied with BATCH_MATMUL (scales or sizes given at run time, lengths up to 2048); not with tf_crop_and_resize", lower_resize),
        Lowering::new("Upsample", 7, &["RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE", "GATHER", "RANGE", "FLOOR"], "nearest (floor) or linear, asymmetric; RESIZE_* for 4-D NCHW with whole sizes, GATHERs per axis otherwise (any rank, run-time or fractional scales)", lower_upsample),
        Lowering::new("MatMul", 1, &["FULLY_CONNECTED", "BATCH_MATMUL", "RESHAPE", "SQUEEZE"], "constant 2-D right operand as FULLY_CONNECTED, otherwise BATCH_MATMUL (float32, ranks 1–5)", lower_matmul_any),
        Lowering::new("ReduceMax", 1, &["REDUCE_MAX", "CAST", "RESHAPE", "SHAPE", "SCATTER_ND", "CUMSUM"], "float32 (bool and 8/16-bit integers through float32, exact); axes attribute (opset < 18), constant input, or run-time axes of static length (keepdims=0 over several run-time axes: kept, then dropped by a RESHAPE to a run-time shape); no empty reduced dimension (with run-time axes: no empty dimension)", lower_reduce_max),
        Lowering::new("ReduceSum", 1, &["SUM", "CAST", "RESHAPE", "SHAPE", "SCATTER_ND", "CUMSUM"], "float32; axes attribute (opset < 13), constant input, or run-time axes of static length (keepdims=0 over several run-time axes: kept, then dropped by a RESHAPE to a run-time shape)", lower_reduce_sum),
        Lowering::new("Pad", 1, &["PAD", "PADV2", "MIRROR_PAD", "CAST", "MAXIMUM", "MINIMUM", "RESHAPE", "CONCATENATION", "GATHER", "TRANSPOSE", "NEG", "SHAPE", "ADD", "STRIDED_SLICE", "LESS", "SELECT_V2", "EQUAL", "MUL", "SUM", "SUB", "RANGE", "FLOOR_MOD", "ABS"], "constant mode (value constant or a run-time scalar; pads constant and ≥ 0, or a run-time vector of static length, negative ones cropping; axes constant or a run-time vector) reflect, edge and wrap with constant pads ≥ 0 (MIRROR_PAD for reflect when the size is static and the pads below it, otherwise GATHER at computed positions, on static or run-time sizes)", lower_pad_any),
        Lowering::new("Equal", 7, &["EQUAL", "CAST"], "numpy broadcasting; float32, int32, int64, bool; 8/16-bit integers, uint32 and float16 compared in int32 / int64 / float32 (exact); no float64 / uint64", lower_equal),
        Lowering::new("Less", 7, &["LESS", "CAST"], "numpy broadcasting; float32, int32, int64; other types as Equal", lower_less),
        Lowering::new("LessOrEqual", 12, &["LESS_EQUAL", "CAST"], "as Less", lower_less_equal),
        Lowering::new("Greater", 7, &["GREATER", "CAST"], "as Less", lower_greater),
        Lowering::new("GreaterOrEqual", 12, &["GREATER_EQUAL", "CAST"], "as Less", lower_greater_equal),
        Lowering::new("And", 7, &["LOGICAL_AND"], "numpy broadcasting; bool", lower_and),
        Lowering::new("Or", 7, &["LOGICAL_OR"], "numpy broadcasting; bool", lower_or),
        Lowering::new("Xor", 7, &["NOT_EQUAL"], "numpy broadcasting; bool", lower_xor),
        Lowering::new("Not", 1, &["LOGICAL_NOT"], "bool", lower_not),
        Lowering::new("Where", 9, &["SELECT_V2"], "numpy broadcasting of all three inputs; float32, int8/16/32/64, uint8, bool", lower_where),
        Lowering::new("Log", 1, &["LOG"], "float32", lower_log),
        Lowering::new("Sin", 7, &["SIN"], "float32", lower_sin),
        Lowering::new("Cos", 7, &["COS"], "float32", lower_cos),
        Lowering::new("Pow", 7, &["POW", "MUL", "CAST"], "float32 base (a constant exponent 2 as MUL, integer exponents cast to float32); int32 base with non-negative int32 exponent", lower_pow),
        Lowering::new("LogSoftmax", 1, &["LOG_SOFTMAX", "TRANSPOSE", "RESHAPE"], "float32; opset < 13 coerces to 2-D at axis (static trailing dims); opset ≥ 13 any axis (TRANSPOSE to last)", lower_log_softmax),
        Lowering::new("ReduceMin", 1, &["REDUCE_MIN", "CAST", "RESHAPE", "SHAPE", "SCATTER_ND", "CUMSUM"], "float32, int32, int64 (bool and 8/16-bit integers through float32, exact); axes attribute (opset < 18), constant input, or run-time axes of static length (keepdims=0 over several run-time axes: kept, then dropped by a RESHAPE to a run-time shape); no empty reduced dimension (with run-time axes: no empty dimension)", lower_reduce_min),
        Lowering::new("ReduceProd", 1, &["REDUCE_PROD", "CAST", "RESHAPE", "SHAPE", "SCATTER_ND", "CUMSUM"], "float32, int32, int64; axes attribute (opset < 18), constant input, or run-time axes of static length (keepdims=0 over several run-time axes: kept, then dropped by a RESHAPE to a run-time shape)", lower_reduce_prod),
        Lowering::new("ArgMax", 1, &["ARG_MAX", "RESHAPE", "REVERSE_V2", "SUB", "CAST"], "float32, int32 (8/16-bit integers, uint32, float16 compared in a wider type); int64 output; keepdims via RESHAPE; select_last_index=1 via REVERSE_V2 on a static axis", lower_argmax),
        Lowering::new("ArgMin", 1, &["ARG_MIN", "RESHAPE", "REVERSE_V2", "SUB", "CAST"], "as ArgMax", lower_argmin),
        Lowering::new("Expand", 8, &["BROADCAST_TO", "SELECT_V2"], "constant shape with a static input shape: BROADCAST_TO; a shape tensor (static length ≤ 8): BROADCAST_TO of true, then SELECT_V2; folded when the input is constant", lower_expand),
        Lowering::new("CastLike", 15, &["CAST"], "as Cast, to the type of the second input", lower_cast_like),
        Lowering::new("Sum", 1, &["ADD", "CAST"], "variadic (chained), numpy broadcasting; types as Add", lower_sum),
        Lowering::new("LayerNormalization", 17, &["MEAN", "SUB", "MUL", "ADD", "RSQRT"], "float32; stash_type 1; any axis (normalizes axis..rank); scale and bias constant or tensors (broadcast); Mean and InvStdDev outputs supported", norm::lower_layer_norm),
        Lowering::new("RMSNormalization", 23, &["MEAN", "MUL", "ADD", "RSQRT"], "float32; stash_type 1; any axis (normalizes axis..rank); scale constant or a tensor (broadcast)", norm::lower_rms_norm),
        Lowering::new("InstanceNormalization", 1, &["MEAN", "SUB", "MUL", "ADD", "RSQRT", "RESHAPE"], "float32; rank >= 3 with a static channel count; scale and bias constant or float32 run-time [C]", lower_instance_norm),
        Lowering::new("GroupNormalization", 18, &["RESHAPE", "MEAN", "SUB", "MUL", "ADD", "RSQRT", "GATHER"], "float32; static shape; stash_type 1; scale and bias per group (opset 18) or per channel (21), constant or float32 run-time", lower_group_norm),
        Lowering::new("MeanVarianceNormalization", 9, &["MEAN", "SUB", "MUL", "SQRT", "ADD", "DIV"], "float32; (x - mean) / (std + 1e-9) over axes, as the ONNX function body", lower_mean_variance_norm),
        Lowering::new("LRN", 1, &["LOCAL_RESPONSE_NORMALIZATION", "TRANSPOSE"], "float32; 4-D; odd size (TFLite's window is centred)", lower_lrn),
        Lowering::new("DFT", 17, &["TRANSPOSE", "RESHAPE", "FULLY_CONNECTED"], "float32 of static shape; any length (a constant f64-computed DFT matrix, at most 2^22 entries); real or complex input; onesided, dft_length; inverse only one-sided (real output: a complex inverse's near-zero parts miss 1e-7 absolute in float32); axis (opset 20: input) constant", lower_dft),
        Lowering::new("STFT", 17, &["GATHER", "TRANSPOSE", "RESHAPE", "FULLY_CONNECTED"], "float32 of static shape; frame_step, frame_length and window constant; onesided; frames by GATHER, then the windowed DFT matrix", lower_stft),
        Lowering::new("HannWindow", 17, &[], "size constant (folded)", lower_window),
        Lowering::new("HammingWindow", 17, &[], "size constant (folded)", lower_window),
        Lowering::new("BlackmanWindow", 17, &[], "size constant (folded)", lower_window),
        Lowering::new("MelWeightMatrix", 17, &[], "all inputs constant (folded as the ONNX reference computes it)", lower_mel_weight_matrix),
        Lowering::new("ConstantOfShape", 9, &["FILL", "SHAPE", "STRIDED_SLICE", "CONCATENATION"], "folded when the shape is constant; otherwise FILL with the shape computed at run time (static length); value of 8/16/32/64-bit type, not float64", lower_constant_of_shape),
        Lowering::new("Range", 11, &["RANGE", "CAST"], "folded when constant; otherwise RANGE on float32, int32 or int64 scalars", lower_range),
        Lowering::new("NonMaxSuppression", 10, &["NON_MAX_SUPPRESSION_V4", "GATHER", "SLICE", "PACK", "CONCATENATION", "CAST", "BITCAST"], "float32; static numbers of batches and classes (one NMS per batch and class, at most 256); corner or center boxes; the IoU threshold made strict as ONNX's; ties between equal scores may be ordered differently", lower_non_max_suppression),
        Lowering::new("Mod", 10, &["FLOOR_MOD", "CAST", "ABS", "NEG", "LESS", "NOT_EQUAL", "LOGICAL_AND", "SUB", "SELECT_V2"], "float32, int32, int64 (8/16-bit integers and uint32 in int32 / int64, float16 in float32); fmod=0 as FLOOR_MOD; fmod=1 as FLOOR_MOD corrected by the divisor where the signs differ (integers) or of the absolute values with the dividend's sign (floats); no float64 / uint64", lower_mod),
        Lowering::new("Attention", 23, &["BATCH_MATMUL", "MUL", "DIV", "TANH", "ADD", "SOFTMAX", "SELECT_V2", "PADV2", "CONCATENATION", "REDUCE_MAX", "EQUAL", "LESS", "LESS_EQUAL", "LOGICAL_AND", "CAST", "RESHAPE", "TRANSPOSE"], "float32; static shapes; 3-D (q_num_heads / kv_num_heads) or 4-D; grouped-query heads; bool or float attn_mask (broadcast, padded with -inf to the key length); is_causal, left/right windows, nonpad_kv_seqlen and past_key / past_value with present outputs; softcap; qk_matmul_output_mode 0–3 (mode 0 with softcap is refused: the spec and the reference disagree); softmax_precision float or double only", lower_attention),
        Lowering::new("Erf", 9, &["MINIMUM", "MAXIMUM", "MUL", "ADD", "DIV", "NOT_EQUAL", "SELECT_V2"], "float32; rational approximation on [-4, 4] (Eigen's / XLA's float erf), within 5e-7 absolute; NaN stays NaN", lower_erf),
        Lowering::new("GatherElements", 11, &["GATHER_ND", "CONCATENATION", "RESHAPE", "CAST", "LESS", "ADD", "SELECT_V2"], "static shapes; negative indices (constant ones normalized, run-time ones with LESS/ADD/SELECT_V2)", lower_gather_elements),
        Lowering::new("GatherND", 11, &["GATHER_ND", "CONCATENATION", "CAST", "LESS", "ADD", "SELECT_V2"], "static data shape and index shape; batch_dims via prepended batch positions; negative indices", lower_gather_nd),
        Lowering::new("ScatterND", 11, &["SCATTER_ND", "ADD", "GREATER", "SELECT_V2", "CAST", "LESS", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN", "MUL", "SUM", "RESHAPE", "MAXIMUM", "MINIMUM"], "static shapes; reduction none (indices must be unique, as ONNX requires) or add (float32, int8/32/64, uint8, bool), mul, max or min (float32, int32, as unsorted segment reductions)", lower_scatter_nd),
        Lowering::new("ScatterElements", 11, &["SCATTER_ND", "ADD", "GREATER", "SELECT_V2", "CONCATENATION", "RESHAPE", "CAST", "LESS", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_MIN", "MUL", "SUM", "MAXIMUM", "MINIMUM"], "static shapes; reduction none (unique indices), add, or mul / max / min (float32, int32)", lower_scatter_elements),
        Lowering { until: Some(10), ..Lowering::new("Scatter", 9, &["SCATTER_ND", "GREATER", "SELECT_V2", "CONCATENATION", "RESHAPE", "CAST", "LESS"], "as ScatterElements without reduction (deprecated in opset 11)", lower_scatter_elements) },
        Lowering::new("Trilu", 14, &["SELECT_V2", "GREATER_EQUAL", "LESS_EQUAL"], "static matrix dimensions; constant or run-time k; float32, int8/16/32/64, uint8, bool", lower_trilu),
        Lowering::new("CumSum", 11, &["CUMSUM", "CAST"], "float32, int32, int64; exclusive and reverse; constant or run-time axis", lower_cumsum),
        Lowering::new("TopK", 10, &["TOPK_V2", "CAST", "TRANSPOSE", "NEG"], "float32, int8/16/32/64, uint8; any axis (TRANSPOSE); largest=0 on float32 only (NEG); constant or run-time k; sorted=0 gives sorted output", lower_topk),
        Lowering::new("OneHot", 9, &["ONE_HOT", "CAST", "GATHER", "LESS", "ADD", "SELECT_V2", "RESHAPE"], "indices and depth cast to int32 (as ONNX casts them); negative indices wrapped; values float32, int8/16/32/64, uint8, bool", lower_one_hot),
        Lowering::new("Tile", 6, &["TILE"], "constant or run-time repeats; float32, int8/16/32/64, uint8, bool", lower_tile),
        Lowering::new("DepthToSpace", 1, &["DEPTH_TO_SPACE", "TRANSPOSE", "RESHAPE"], "static 4-D NCHW; DCR as DEPTH_TO_SPACE in NHWC, CRD as RESHAPE/TRANSPOSE", lower_depth_to_space),
        Lowering::new("SpaceToDepth", 1, &["SPACE_TO_DEPTH", "TRANSPOSE", "RESHAPE"], "static 4-D NCHW; DCR (the default) as SPACE_TO_DEPTH in NHWC, CRD as RESHAPE/TRANSPOSE", lower_space_to_depth),
        Lowering::new("Elu", 6, &["EXP", "SUB", "MUL", "GREATER", "SELECT_V2"], "float32; x > 0 ? x : alpha·(exp(x) − 1)", lower_elu),
        Lowering::new("Selu", 6, &["EXP", "SUB", "MUL", "GREATER", "SELECT_V2"], "float32", lower_selu),
        Lowering::new("Celu", 12, &["DIV", "EXP", "SUB", "MUL", "MINIMUM", "RELU", "ADD"], "float32", lower_celu),
        Lowering::new("Softplus", 1, &["ABS", "NEG", "EXP", "ADD", "LOG", "MUL", "LESS", "SELECT_V2", "RELU"], "float32; max(x, 0) + log1p(exp(−|x|)), log1p as a series below 1/8", lower_softplus),
        Lowering::new("Softsign", 1, &["ABS", "ADD", "DIV"], "float32", lower_softsign),
        Lowering::new("ThresholdedRelu", 10, &["GREATER", "SELECT_V2"], "float32", lower_thresholded_relu),
        Lowering::new("Swish", 24, &["MUL", "LOGISTIC"], "float32", lower_swish),
        Lowering::new("Mish", 18, &["ABS", "NEG", "EXP", "ADD", "LOG", "MUL", "LESS", "SELECT_V2", "RELU", "TANH"], "float32; x·tanh(softplus(x))", lower_mish),
        Lowering::new("Shrink", 9, &["GREATER", "LESS", "ADD", "SUB", "SELECT_V2"], "float32", lower_shrink),
        Lowering::new("Sign", 9, &["SIGN"], "float32, int32", lower_sign),
        Lowering::new("Round", 11, &["ROUND"], "float32; halves to even", lower_round),
        Lowering::new("IsNaN", 9, &["NOT_EQUAL"], "float32; x ≠ x", lower_isnan),
        Lowering::new("IsInf", 10, &["ABS", "EQUAL", "NOT_EQUAL", "LOGICAL_AND"], "float32; detect_positive / detect_negative", lower_isinf),
        Lowering::new("Tan", 7, &["SIN", "COS", "DIV"], "float32; sin(x) / cos(x)", lower_tan),
        Lowering::new("Atan", 7, &["ATAN2", "ZEROS_LIKE", "ADD"], "float32; atan2(x, 1)", lower_atan),
        Lowering::new("Asin", 7, &["ATAN2", "SQRT", "SUB", "ADD", "MUL"], "float32; atan2(x, √((1−x)(1+x)))", lower_asin),
        Lowering::new("Acos", 7, &["ATAN2", "SQRT", "SUB", "ADD", "MUL"], "float32; atan2(√((1−x)(1+x)), x)", lower_acos),
        Lowering::new("Sinh", 9, &["ABS", "MUL", "ADD", "EXP", "DIV", "SUB", "SIGN", "LESS", "SELECT_V2"], "float32; Taylor polynomial below |x| = 1, exponentials above; within 5e-7 relative", lower_sinh),
        Lowering::new("Cosh", 9, &["ABS", "MUL", "EXP", "DIV", "ADD"], "float32; (e^|x| + e^−|x|)/2 without early overflow", lower_cosh),
        Lowering::new("Hardmax", 1, &["ARG_MAX", "ONE_HOT", "RESHAPE"], "float32; static shape; first maximum; opset < 13 coerces to 2-D at axis", lower_hardmax),
        Lowering::new("Mean", 1, &["ADD", "DIV"], "variadic, numpy broadcasting; float32", lower_mean),
        Lowering::new("LpNormalization", 1, &["ABS", "MUL", "SUM", "SQRT", "DIV", "EQUAL", "SELECT_V2"], "float32; p = 1 (sum of |x|, as the specification defines; the reference implementation sums x) or 2; zero where the norm is zero", lower_lp_normalization),
        Lowering::new("BitwiseXor", 18, &["BITWISE_XOR"], "int8/16/32, uint8/16/32; numpy broadcasting", lower_bitwise_xor),
        Lowering::new("BitwiseNot", 18, &["BITWISE_XOR"], "int8/16/32, uint8/16/32; XOR with all ones", lower_bitwise_not),
        Lowering::new("NegativeLogLikelihoodLoss", 12, &["GATHER_ND", "GATHER", "NEG", "MUL", "SELECT_V2", "NOT_EQUAL", "SUM", "DIV", "CAST", "RESHAPE", "CONCATENATION"], "float32 input with a static shape; reduction none, sum or mean (divided by the weights of the targets not ignored); weight; ignore_index (-1 with mean and no weights is refused: the specification and the reference implementation disagree)", lower_nll_loss),
        Lowering::new("SoftmaxCrossEntropyLoss", 12, &["LOG_SOFTMAX", "TRANSPOSE", "GATHER_ND", "GATHER", "NEG", "MUL", "SELECT_V2", "NOT_EQUAL", "SUM", "DIV", "CAST", "RESHAPE", "CONCATENATION"], "as NegativeLogLikelihoodLoss on LOG_SOFTMAX over the classes; the log-probability output", lower_softmax_cross_entropy_loss),
        Lowering::new("ReduceL1", 1, &["ABS", "SUM"], "float32; axes attribute (opset < 18), constant input, or a run-time input as for ReduceSum; noop_with_empty_axes", lower_reduce_l1),
        Lowering::new("ReduceL2", 1, &["MUL", "SUM", "SQRT"], "float32; axes attribute (opset < 18), constant input, or a run-time input as for ReduceSum; noop_with_empty_axes", lower_reduce_l2),
        Lowering::new("ReduceSumSquare", 1, &["MUL", "SUM"], "float32; axes attribute (opset < 18), constant input, or a run-time input as for ReduceSum; noop_with_empty_axes", lower_reduce_sum_square),
        Lowering::new("ReduceLogSum", 1, &["SUM", "LOG"], "float32; axes attribute (opset < 18), constant input, or a run-time input as for ReduceSum; noop_with_empty_axes", lower_reduce_log_sum),
        Lowering::new("ReduceLogSumExp", 1, &["REDUCE_MAX", "MINIMUM", "SUB", "EXP", "SUM", "LOG", "ADD", "RESHAPE"], "float32; axes attribute (opset < 18), constant input, or a run-time input as for ReduceSum; noop_with_empty_axes; log(Σ exp(x − max)) + max", lower_reduce_log_sum_exp),
        Lowering::new("Einsum", 12, &["TRANSPOSE", "RESHAPE", "SUM", "BATCH_MATMUL"], "float32, static shapes; any number of operands contracted pairwise; ellipsis; implicit output; repeated labels in one operand (diagonals) and broadcast batch dimensions are unsupported", lower_einsum),
        Lowering::new("BitShift", 11, &["RIGHT_SHIFT", "CAST", "LESS", "GREATER_EQUAL", "LOGICAL_OR", "SELECT_V2", "MAXIMUM", "MINIMUM", "GATHER", "MUL"], "int8/16/32, uint8/16/32 (no int64 / uint64); shifts below 0 or of the bit width or more as ONNX defines them; LEFT as an int64 product by 2^y cast back", lower_bitshift),
        Lowering::new("RotaryEmbedding", 23, &["GATHER", "CAST", "RESHAPE", "TRANSPOSE", "SLICE", "MUL", "SUB", "ADD", "CONCATENATION"], "float32, static shapes; 3-D (num_heads) or 4-D input; interleaved; rotary_embedding_dim; position_ids or per-position caches", lower_rotary_embedding),
        Lowering::new("Asinh", 9, &["ABS", "MUL", "ADD", "SQRT", "LOG", "GREATER", "LESS", "SELECT_V2", "SIGN"], "float32; series below 1/2, log(a + √(a² + 1)) above", lower_asinh),
        Lowering::new("Acosh", 9, &["SUB", "MUL", "ADD", "SQRT", "LOG", "GREATER", "LESS", "SELECT_V2"], "float32; log1p(t + √(2t + t²)), t = x − 1, below 2", lower_acosh),
        Lowering::new("QuantizeLinear", 10, &["DIV", "ROUND", "ADD", "MAXIMUM", "MINIMUM", "CAST", "RESHAPE", "GATHER"], "float32 input and scale; int8, uint8, int16, uint16 output; per tensor, per axis or blocked; scale and zero point constant or run-time; computed as clamp(round_half_even(x / scale) + zero_point); float8, int4, int2, float4 unsupported", lower_quantize_linear),
        Lowering::new("DequantizeLinear", 10, &["DEQUANTIZE", "CAST", "SUB", "MUL", "RESHAPE", "GATHER"], "int8, uint8, int16, uint16, int32 input; float32 scale; per tensor, per axis or blocked; DEQUANTIZE for int8/uint8 with constant per-tensor parameters, otherwise (x − zero_point) · scale; constant inputs folded; float8, int4, int2, float4 unsupported", lower_dequantize_linear),
        Lowering::new("DynamicQuantizeLinear", 11, &["REDUCE_MIN", "REDUCE_MAX", "MINIMUM", "MAXIMUM", "SUB", "DIV", "ROUND", "ADD", "CAST"], "float32; uint8 output with the scale and zero point ONNX defines (halves rounded to even)", lower_dynamic_quantize_linear),
        Lowering::new("QOp", 0, &["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "RELU", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "CONCATENATION", "RESHAPE", "TRANSPOSE", "LOGISTIC", "SOFTMAX", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "PAD", "QUANTIZE"], "made by the converter from QDQ groups (DequantizeLinear → op → QuantizeLinear with constant per-tensor activation parameters): int8 ops with the ONNX scales and zero points (uint8 as int8 with zero point − 128); weights int8 with zero point 0, per tensor or per output channel; int32 bias at input scale × weight scale (requantized from its real value when ONNX's bias scale differs); otherwise the exact float form, with a warning", lower_qop)
            .in_domain(super::patterns::FUSED_DOMAIN),
        Lowering::new("MatMulInteger", 10, &["CAST", "SUB", "BATCH_MATMUL", "RESHAPE"], "int8/uint8 operands and zero points (scalar, per row of A, per column of B; constant or run-time); int32 result computed exactly in float32: refused when a sum could reach 2^24 (bounded from the constant operand's values or the types and the inner dimension)", lower_matmul_integer),
        Lowering::new("ConvInteger", 10, &["CAST", "SUB", "CONV_2D", "DEPTHWISE_CONV_2D", "PAD", "TRANSPOSE", "RESHAPE"], "2-D; as Conv, on int8/uint8 input and weights with zero points (per output channel for the weights); int32 result computed exactly in float32, refused when a sum could reach 2^24", lower_conv_integer),
        Lowering::new("QLinearMatMul", 10, &["FULLY_CONNECTED", "QUANTIZE", "CAST", "SUB", "BATCH_MATMUL", "MUL", "DIV", "ADD", "ROUND", "MAXIMUM", "MINIMUM", "RESHAPE"], "int8/uint8; float32 scales (float16 unsupported); constant per-tensor activation parameters with a constant symmetric int8 2-D b: int8 FULLY_CONNECTED (within one step); otherwise the integer product exact in float32 (checked), rescaled by a_scale·b_scale/y_scale in float32, rounded half to even, saturated, as the ONNX reference computes it", lower_qlinear_matmul),
        Lowering::new("QLinearConv", 10, &["QUANTIZE", "CAST", "SUB", "CONV_2D", "DEPTHWISE_CONV_2D", "PAD", "TRANSPOSE", "MUL", "DIV", "ADD", "ROUND", "MAXIMUM", "MINIMUM", "RESHAPE"], "2-D; int8/uint8; float32 scales (w_scale per tensor or per output channel); constant int32 bias; constant per-tensor activation parameters with constant symmetric int8 weights: int8 CONV_2D / DEPTHWISE_CONV_2D (within one step); otherwise the integer convolution exact in float32 (checked), rescaled, rounded half to even, saturated, as the ONNX reference computes it", lower_qlinear_conv),
        Lowering::new("CumProd", 26, &["MUL", "SLICE", "PADV2", "REVERSE_V2", "ZEROS_LIKE", "ADD", "CAST", "RESHAPE", "LESS", "EQUAL", "SELECT_V2"], "float32, int32, int64; static axis sizes; log-step doubling (float products associated pairwise); exclusive, reverse; a run-time axis computes every axis and selects (SELECT_V2)", lower_cumprod),
        Lowering::new("BitwiseAnd", 18, &["BITWISE_XOR", "CAST", "ADD", "SUB", "DIV", "RIGHT_SHIFT", "MUL"], "int8/16/32, uint8/16 (no uint32 / 64-bit: exact halving needs int64 DIV); (a + b − (a ^ b)) / 2 in int32, on 16-bit halves for int32", lower_bitwise_and),
        Lowering::new("BitwiseOr", 18, &["BITWISE_XOR", "CAST", "ADD", "SUB", "DIV", "RIGHT_SHIFT", "MUL"], "as BitwiseAnd, (a + b + (a ^ b)) / 2", lower_bitwise_or),
        Lowering::new("EyeLike", 9, &[], "static 2-D input shape; folded into a constant of the dtype attribute's type (the input's by default)", lower_eye_like),
        Lowering::new("ReverseSequence", 10, &["REVERSE_SEQUENCE", "CAST"], "float32, int32, int64 (8/16-bit integers in int32); lengths int32/int64", lower_reverse_sequence),
        Lowering::new("NonZero", 9, &["WHERE", "TRANSPOSE", "CAST"], "bool, float32, int32, int64 (other integers and float16 tested in a wider type); run-time output size; not a scalar", lower_non_zero),
        Lowering::new("Compress", 9, &["WHERE", "RESHAPE", "GATHER"], "1-D bool condition, constant (not all false) or run-time; axis or flattened input", lower_compress),
        Lowering::new("CenterCropPad", 18, &["SLICE", "PAD", "CAST", "MAXIMUM", "MINIMUM", "SUB", "DIV", "CONCATENATION", "GATHER", "RESHAPE"], "static sizes on the axes named; crops centered (SLICE) and pads zeros (PAD), the extra element of an odd difference after; a run-time shape gives run-time begin, size and paddings", lower_center_crop_pad),
        Lowering::new("GridSample", 16, &["SLICE", "RESHAPE", "ADD", "MUL", "SUB", "ROUND", "LESS", "GREATER", "LOGICAL_OR", "MAXIMUM", "MINIMUM", "SELECT_V2", "DIV", "FLOOR", "FLOOR_MOD", "EQUAL", "CAST", "GREATER_EQUAL", "LESS_EQUAL", "LOGICAL_AND", "TRANSPOSE", "CONCATENATION", "GATHER_ND"], "float32, static shapes; 4-D or 5-D (volumetric) input and grid; nearest (halves to even), bilinear / linear, bicubic / cubic (4-D); padding zeros, border or reflection; align_corners", lower_grid_sample),
        Lowering::new("SwiGLU", 28, &["MUL", "LOGISTIC"], "float32; a·sigmoid(alpha·a)·b, broadcasting", lower_swiglu),
        Lowering::new("TensorScatter", 24, &["CAST", "RESHAPE", "SUB", "FLOOR_MOD", "GREATER_EQUAL", "LESS_EQUAL", "LOGICAL_AND", "MAXIMUM", "MINIMUM", "GATHER", "SELECT_V2"], "static batch, cache and update lengths; axis ≥ 1; linear or circular; the update rows gathered per batch and selected into the cache", lower_tensor_scatter),
        Lowering::new("Unique", 11, &["RESHAPE", "UNIQUE", "SHAPE", "UNSORTED_SEGMENT_MIN", "UNSORTED_SEGMENT_SUM", "TOPK_V2", "REVERSE_V2", "GATHER", "CAST"], "float32, int32, int64; static input size; no axis (the input flattened); sorted (TOPK_V2 of the distinct values) or in order of first occurrence; all four outputs", lower_unique),
        Lowering::new("Atanh", 9, &["ABS", "SUB", "ADD", "DIV", "MUL", "LOG", "LESS", "SELECT_V2", "SIGN"], "float32; ½·log1p(2a/(1 − a))", lower_atanh),
    ]
}
