//! Op versions and minimum runtimes of the generated builtin ops (the `Op`
//! variants between the `GENERATED VARIANTS` markers in `src/model/op.rs`).
//!
//! The version rules transcribe TFLite's `GetBuiltinOperatorVersion` in
//! `tflite/converter/tools/versioning/op_version.cc` of the LiteRT
//! repository, and the runtime table its `FindMinimumRuntimeVersionForOp`
//! map in `tflite/converter/tools/versioning/runtime_version.cc`. Each rule
//! that is not "always version 1" carries an `op_version.cc:` comment quoting
//! the condition it follows. Conditions are tested in op_version.cc's order,
//! which decides the version when several hold.
//!
//! op_version.cc reads tensors with `inputs.at(i)` / `outputs.at(i)`; an
//! omitted optional input has no type there. Here a missing tensor simply
//! makes a condition false.

use crate::model::{DType, LstmKernelType, Op, Operator, Subgraph, Tensor};

fn tensor<'a>(sg: &'a Subgraph, op: &Operator, i: usize) -> Option<&'a Tensor> {
    op.input(i).and_then(|t| sg.tensor(t))
}

fn in_type(sg: &Subgraph, op: &Operator, i: usize) -> Option<DType> {
    tensor(sg, op, i).map(|t| t.dtype)
}

fn out_type(sg: &Subgraph, op: &Operator, i: usize) -> Option<DType> {
    op.outputs
        .get(i)
        .and_then(|t| sg.tensor(*t))
        .map(|t| t.dtype)
}

/// Input `i`'s rank (the length of its `shape` field), if the input exists.
fn in_rank(sg: &Subgraph, op: &Operator, i: usize) -> Option<usize> {
    tensor(sg, op, i).map(|t| t.shape.rank())
}

/// op_version.cc's `IsFloat8Type`.
fn is_f8(t: Option<DType>) -> bool {
    matches!(t, Some(DType::F8E4M3FN | DType::F8E5M2))
}

/// Dimension `i` as written to the file's `shape` (dynamic dimensions as 1).
fn file_dim(t: &Tensor, i: usize) -> Option<u64> {
    t.shape.dim(i).map(|d| u64::from(d.fixed().unwrap_or(1)))
}

/// op_signature.cc's `embedding_lookup.is_per_channel_quantized`: the table
/// has more than one scale, as many as its first dimension.
fn per_channel_table(t: &Tensor) -> bool {
    let n = t.quantization.as_ref().map_or(0, |q| q.scale.len());
    n > 1 && t.shape.rank() > 0 && file_dim(t, 0) == Some(n as u64)
}

/// The version of a generated (non-hand-written) builtin op. Returns None
/// for ops this file does not cover.
pub(crate) fn version(sg: &Subgraph, node: &Operator) -> Option<i32> {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let i1 = in_type(sg, node, 1);
    let i2 = in_type(sg, node, 2);
    let o0 = out_type(sg, node, 0);
    let is = |a: Option<DType>, t: DType| a == Some(t);
    let rnn_hybrid = |asymmetric: bool| match (is(i1, I8) && is(o0, F32), asymmetric) {
        (true, true) => 3,
        (true, false) => 2,
        (false, _) => 1,
    };
    let v = match &node.op {
        Op::EmbeddingLookup => {
            let per_channel = tensor(sg, node, 1).is_some_and(per_channel_table);
            // op_version.cc: inputs[1] int4 || embedding_lookup.is_per_channel_quantized -> 4,
            // else inputs[1] int2 -> 5.
            if is(i1, I4) || per_channel {
                4
            } else if is(i1, I2) {
                5
            } else {
                1
            }
        }
        // op_version.cc: fake_quant_params->narrow_range -> 2.
        Op::FakeQuant(o) => {
            if o.narrow_range {
                2
            } else {
                1
            }
        }
        Op::Svdf(o) => {
            // op_version.cc: inputs[0] int8 -> 3; float32/int8/float32 hybrid ->
            // asymmetric_quantize_inputs ? 4 : 2.
            if is(i0, I8) {
                3
            } else if is(i0, F32) && is(i1, I8) && is(o0, F32) {
                if o.asymmetric_quantize_inputs { 4 } else { 2 }
            } else {
                1
            }
        }
        // op_version.cc: SIGN inputs[0] int32 -> 2.
        Op::Sign => {
            if is(i0, I32) {
                2
            } else {
                1
            }
        }
        Op::Lstm(o) => {
            let full = o.kernel_type == LstmKernelType::Full;
            // op_version.cc: full kernel && inputs[0] int16 && inputs[2] int8 &&
            // outputs[0] int16 -> 5; full kernel && float32/int8/float32 ->
            // asymmetric_quantize_inputs ? 4 : 3; basic kernel -> 2.
            if full && is(i0, I16) && is(i2, I8) && is(o0, I16) {
                5
            } else if full && is(i0, F32) && is(i2, I8) && is(o0, F32) {
                if o.asymmetric_quantize_inputs { 4 } else { 3 }
            } else if o.kernel_type == LstmKernelType::Basic {
                2
            } else {
                1
            }
        }
        Op::Split(_) => {
            // op_version.cc: the data is inputs[1] (inputs[0] is the axis):
            // float8 -> 5, int16 -> 4, int32 -> 3, int8 -> 2.
            if is_f8(i1) {
                5
            } else if is(i1, I16) {
                4
            } else if is(i1, I32) {
                3
            } else if is(i1, I8) {
                2
            } else {
                1
            }
        }
        Op::SparseToDense(_) => {
            // op_version.cc: inputs[2] (values) int8 or uint8 -> 3, int64 -> 2.
            if is(i2, I8) || is(i2, U8) {
                3
            } else if is(i2, I64) {
                2
            } else {
                1
            }
        }
        Op::Unpack(_) => {
            // op_version.cc: float8 -> 6; int8 or uint8 -> 2; bool -> 3;
            // int16 in and out -> 4; float16 or bfloat16 -> 5.
            if is_f8(i0) {
                6
            } else if is(i0, I8) || is(i0, U8) {
                2
            } else if is(i0, Bool) {
                3
            } else if is(i0, I16) && is(o0, I16) {
                4
            } else if is(i0, F16) || is(i0, BF16) {
                5
            } else {
                1
            }
        }
        Op::FloorDiv => {
            // op_version.cc: inputs[0] int16 or int8 -> 3, float32 -> 2.
            if is(i0, I16) || is(i0, I8) {
                3
            } else if is(i0, F32) {
                2
            } else {
                1
            }
        }
        // op_version.cc: L2_NORMALIZATION outputs[0] int8 -> 2.
        Op::L2Normalization(_) => {
            if is(o0, I8) {
                2
            } else {
                1
            }
        }
        Op::ReverseV2 => {
            // op_version.cc: float8 -> 4, int8 -> 3, bool -> 2.
            if is_f8(i0) {
                4
            } else if is(i0, I8) {
                3
            } else if is(i0, Bool) {
                2
            } else {
                1
            }
        }
        Op::Pack(_) => {
            // op_version.cc: float8 -> 5; int8 -> 2; int16 in and out -> 3;
            // uint32 -> 4.
            if is_f8(i0) {
                5
            } else if is(i0, I8) {
                2
            } else if is(i0, I16) && is(o0, I16) {
                3
            } else if is(i0, U32) {
                4
            } else {
                1
            }
        }
        Op::Tile => {
            // op_version.cc: inputs[0] int8 -> 3, string -> 2.
            if is(i0, I8) {
                3
            } else if is(i0, String) {
                2
            } else {
                1
            }
        }
        Op::SpaceToBatchNd | Op::BatchToSpaceNd => {
            // op_version.cc: inputs[0] int16 -> 4; inputs[0] rank != 4 -> 3;
            // int8 -> 2.
            if is(i0, I16) {
                4
            } else if in_rank(sg, node, 0).is_some_and(|r| r != 4) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::GatherNd => {
            // op_version.cc: inputs[0] float8 -> 6, bool -> 5; inputs[1]
            // (indices) int16 -> 4; inputs[0] int16 -> 3, string -> 2.
            if is_f8(i0) {
                6
            } else if is(i0, Bool) {
                5
            } else if is(i1, I16) {
                4
            } else if is(i0, I16) {
                3
            } else if is(i0, String) {
                2
            } else {
                1
            }
        }
        Op::Fill => {
            // op_version.cc: the value is inputs[1]: float8 -> 5, float16 -> 4,
            // int8 or int16 -> 3, bool or string -> 2.
            if is_f8(i1) {
                5
            } else if is(i1, F16) {
                4
            } else if is(i1, I8) || is(i1, I16) {
                3
            } else if is(i1, Bool) || is(i1, String) {
                2
            } else {
                1
            }
        }
        // op_version.cc: RANGE inputs[0] int64 -> 2.
        Op::Range => {
            if is(i0, I64) {
                2
            } else {
                1
            }
        }
        // op_version.cc: RNN, UNIDIRECTIONAL_SEQUENCE_RNN, BIDIRECTIONAL_SEQUENCE_RNN
        // and BIDIRECTIONAL_SEQUENCE_LSTM: inputs[1] int8 && outputs[0] float32
        // -> asymmetric_quantize_inputs ? 3 : 2.
        Op::Rnn(o) => rnn_hybrid(o.asymmetric_quantize_inputs),
        Op::UnidirectionalSequenceRnn(o) => rnn_hybrid(o.asymmetric_quantize_inputs),
        Op::BidirectionalSequenceRnn(o) => rnn_hybrid(o.asymmetric_quantize_inputs),
        Op::BidirectionalSequenceLstm(o) => rnn_hybrid(o.asymmetric_quantize_inputs),
        Op::UnidirectionalSequenceLstm(o) => {
            // op_version.cc: inputs[0] int16 && inputs[2] int8 && outputs[0]
            // int16 -> 5; diagonal_recurrent_tensors -> 4; float32/int8/float32
            // hybrid -> asymmetric_quantize_inputs ? 3 : 2.
            if is(i0, I16) && is(i2, I8) && is(o0, I16) {
                5
            } else if o.diagonal_recurrent_tensors {
                4
            } else if is(i0, F32) && is(i2, I8) && is(o0, F32) {
                if o.asymmetric_quantize_inputs { 3 } else { 2 }
            } else {
                1
            }
        }
        Op::Select => {
            // op_version.cc: inputs[0] uint32 -> 4; any of inputs[0..3] of
            // rank 5 -> 3; inputs[0] int8 -> 2. (TFLite tests the type of
            // inputs[0], the bool condition, so 4 and 2 apply only as written.)
            let rank5 = (0..3).any(|i| in_rank(sg, node, i) == Some(5));
            if is(i0, U32) {
                4
            } else if rank5 {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        // op_version.cc: SPACE_TO_DEPTH, SQUARED_DIFFERENCE, DEPTH_TO_SPACE
        // inputs[0] int8 -> 2.
        Op::SpaceToDepth(_) | Op::SquaredDifference | Op::DepthToSpace(_) => {
            if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::TopkV2 => {
            // op_version.cc: inputs[0] or inputs[1] or outputs[1] int16 -> 3;
            // inputs[0] int8 -> 2.
            if is(i0, I16) || is(i1, I16) || is(out_type(sg, node, 1), I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::DynamicUpdateSlice => {
            // op_version.cc: inputs[0] bfloat16 -> 6, int4 -> 5, int16 -> 4,
            // float16 -> 3; inputs[2] (start indices) int64 -> 2.
            if is(i0, BF16) {
                6
            } else if is(i0, I4) {
                5
            } else if is(i0, I16) {
                4
            } else if is(i0, F16) {
                3
            } else if is(i2, I64) {
                2
            } else {
                1
            }
        }
        // op_version.cc: WHERE inputs[0] bool -> 1, any other type -> 2.
        Op::Where => {
            if is(i0, Bool) {
                1
            } else {
                2
            }
        }
        // op_version.cc has no case for these ops: the default, version 1.
        Op::Floor
        | Op::HashtableLookup
        | Op::LocalResponseNormalization(_)
        | Op::LshProjection(_)
        | Op::ReluN1To1
        | Op::ConcatEmbeddings(_)
        | Op::SkipGram(_)
        | Op::Call(_)
        | Op::EmbeddingLookupSparse(_)
        | Op::Delegate
        | Op::ExpandDims
        | Op::Shape(_)
        | Op::OneHot(_)
        | Op::ReduceAny(_)
        | Op::Square
        | Op::ZerosLike
        | Op::Unique(_)
        | Op::Ceil
        | Op::AddN
        | Op::Rank
        | Op::Elu
        | Op::ReverseSequence(_)
        | Op::MatrixDiag
        | Op::MatrixSetDiag
        | Op::Round
        | Op::NonMaxSuppressionV4
        | Op::NonMaxSuppressionV5
        | Op::ScatterNd
        | Op::Densify
        | Op::SegmentSum
        | Op::Cumsum(_)
        | Op::Rfft2d
        | Op::Conv3d(_)
        | Op::Imag
        | Op::Real
        | Op::ComplexAbs
        | Op::Hashtable(_)
        | Op::HashtableFind
        | Op::HashtableImport
        | Op::HashtableSize
        | Op::ReduceAll(_)
        | Op::Conv3dTranspose(_)
        | Op::VarHandle(_)
        | Op::ReadVariable
        | Op::AssignVariable
        | Op::BroadcastArgs
        | Op::RandomStandardNormal(_)
        | Op::Bucketize(_)
        | Op::RandomUniform(_)
        | Op::Multinomial(_)
        | Op::Relu0To1
        | Op::UnsortedSegmentProd
        | Op::UnsortedSegmentMax
        | Op::UnsortedSegmentSum
        | Op::Atan2
        | Op::UnsortedSegmentMin
        | Op::Bitcast
        | Op::BitwiseXor
        | Op::RightShift
        | Op::StablehloLogistic
        | Op::StablehloAdd
        | Op::StablehloDivide
        | Op::StablehloMultiply
        | Op::StablehloMaximum
        | Op::StablehloReshape
        | Op::StablehloClamp
        | Op::StablehloConcatenate(_)
        | Op::StablehloBroadcastInDim(_)
        | Op::StablehloConvolution(_)
        | Op::StablehloSlice(_)
        | Op::StablehloCustomCall(_)
        | Op::StablehloReduce(_)
        | Op::StablehloAbs
        | Op::StablehloAnd
        | Op::StablehloCosine
        | Op::StablehloExponential
        | Op::StablehloFloor
        | Op::StablehloLog
        | Op::StablehloMinimum
        | Op::StablehloNegate
        | Op::StablehloOr
        | Op::StablehloPower
        | Op::StablehloRemainder
        | Op::StablehloRsqrt
        | Op::StablehloSelect
        | Op::StablehloSubtract
        | Op::StablehloTanh
        | Op::StablehloScatter(_)
        | Op::StablehloCompare(_)
        | Op::StablehloConvert
        | Op::StablehloDynamicSlice(_)
        | Op::StablehloDynamicUpdateSlice
        | Op::StablehloPad(_)
        | Op::StablehloIota(_)
        | Op::StablehloDotGeneral(_)
        | Op::StablehloReduceWindow(_)
        | Op::StablehloSort(_)
        | Op::StablehloWhile(_)
        | Op::StablehloGather(_)
        | Op::StablehloTranspose(_)
        | Op::Dilate
        | Op::StablehloRngBitGenerator(_)
        | Op::ReduceWindow(_)
        | Op::StablehloComposite(_)
        | Op::StablehloShiftLeft
        | Op::StablehloCbrt
        | Op::StablehloCase(_) => 1,
        _ => return None,
    };
    Some(v)
}

/// The lowest runtime version for (code, version) of these ops, like the
/// existing table: returns the list indexed by version-1.
///
/// Transcribed from runtime_version.cc for the generated ops' codes; ops it
/// does not list (CALL, CONCAT_EMBEDDINGS, DELEGATE and most StableHLO ops)
/// give None, and so do versions past the end of a list (runtime_version.cc
/// has no entry for LSTM 5 or UNIDIRECTIONAL_SEQUENCE_LSTM 5).
pub(crate) fn min_runtime_table(code: i32) -> Option<&'static [&'static str]> {
    use crate::schema::tflite::BuiltinOperator as B;
    let table: &'static [&'static str] = match B(code) {
        B::DEPTH_TO_SPACE => &["2.1.0", "2.5.0"],
        B::EMBEDDING_LOOKUP => &["1.13.0", "1.14.0", "1.14.0", "2.18.0", "2.21.0"],
        B::FLOOR => &["1.9.0"],
        B::HASHTABLE_LOOKUP
        | B::LOCAL_RESPONSE_NORMALIZATION
        | B::LSH_PROJECTION
        | B::RELU_N1_TO_1
        | B::SKIP_GRAM
        | B::EMBEDDING_LOOKUP_SPARSE => &["1.5.0"],
        B::L2_NORMALIZATION | B::SPACE_TO_DEPTH => &["1.5.0", "1.14.0"],
        B::LSTM => &["1.7.0", "1.10.0", "1.14.0", "2.3.0"],
        B::RNN => &["1.5.0", "1.14.0", "2.3.0"],
        B::SVDF => &["1.5.0", "1.14.0", "2.2.0", "2.3.0"],
        B::UNIDIRECTIONAL_SEQUENCE_RNN | B::BIDIRECTIONAL_SEQUENCE_RNN => {
            &["1.14.0", "1.14.0", "2.3.0"]
        }
        B::BATCH_TO_SPACE_ND | B::SPACE_TO_BATCH_ND => &["1.6.0", "1.14.0", "2.3.0", "2.12.0"],
        B::UNIDIRECTIONAL_SEQUENCE_LSTM => &["1.13.1", "1.14.0", "2.3.0", "2.12.0"],
        B::TOPK_V2 => &["1.7.0", "1.14.0", "2.13.0"],
        B::SPLIT => &["1.5.0", "1.14.0", "1.14.0", "2.3.0", "2.23.0"],
        B::BIDIRECTIONAL_SEQUENCE_LSTM => &["1.14.0", "1.14.0", "1.14.0"],
        B::SELECT => &["1.14.0", "1.14.0", "2.12.0", "2.12.0"],
        B::SPARSE_TO_DENSE => &["1.9.0", "1.14.0", "1.15.0"],
        B::TILE => &["1.10.1", "2.2.0", "2.8.0"],
        B::EXPAND_DIMS | B::SHAPE => &["1.10.0"],
        B::FAKE_QUANT => &["1.5.0", "1.10.0"],
        B::PACK => &["1.11.0", "1.14.0", "2.3.0", "2.13.0", "2.23.0"],
        B::ONE_HOT | B::REDUCE_ANY => &["1.11.0"],
        B::UNPACK => &["1.11.0", "1.14.0", "2.2.0", "2.3.0", "2.22.0", "2.23.0"],
        B::FLOOR_DIV => &["1.14.0", "1.14.0", "2.13.0"],
        B::SQUARE | B::ZEROS_LIKE => &["1.12.0"],
        B::FILL => &["1.13.0", "2.3.0", "2.5.0", "2.12.0", "2.23.0"],
        B::RANGE => &["1.13.0", "2.14.0"],
        B::SQUARED_DIFFERENCE => &["1.13.1", "2.5.0"],
        B::UNIQUE
        | B::CEIL
        | B::ADD_N
        | B::RANK
        | B::ELU
        | B::REVERSE_SEQUENCE
        | B::MATRIX_DIAG
        | B::MATRIX_SET_DIAG
        | B::ROUND => &["1.14.0"],
        B::REVERSE_V2 => &["1.14.0", "2.2.0", "2.5.0", "2.23.0"],
        B::GATHER_ND => &["1.14.0", "2.3.0", "2.5.0", "2.13.0", "2.16.0", "2.23.0"],
        B::WHERE => &["1.14.0", "2.8.0"],
        B::NON_MAX_SUPPRESSION_V4 | B::NON_MAX_SUPPRESSION_V5 | B::SCATTER_ND => &["2.1.0"],
        B::DENSIFY | B::SEGMENT_SUM => &["2.2.0"],
        B::CUMSUM => &["2.4.0"],
        B::RFFT2D
        | B::CONV_3D
        | B::IMAG
        | B::REAL
        | B::COMPLEX_ABS
        | B::HASHTABLE
        | B::HASHTABLE_FIND
        | B::HASHTABLE_IMPORT
        | B::HASHTABLE_SIZE => &["2.5.0"],
        B::REDUCE_ALL
        | B::CONV_3D_TRANSPOSE
        | B::VAR_HANDLE
        | B::READ_VARIABLE
        | B::ASSIGN_VARIABLE
        | B::BROADCAST_ARGS => &["2.6.0"],
        B::RANDOM_STANDARD_NORMAL | B::BUCKETIZE | B::RANDOM_UNIFORM | B::MULTINOMIAL => &["2.8.0"],
        B::DYNAMIC_UPDATE_SLICE => &["2.9.0", "2.17.0", "2.19.0", "2.20.0", "2.21.0", "2.22.0"],
        B::RELU_0_TO_1
        | B::UNSORTED_SEGMENT_PROD
        | B::UNSORTED_SEGMENT_MAX
        | B::UNSORTED_SEGMENT_SUM
        | B::ATAN2 => &["2.10.0"],
        B::UNSORTED_SEGMENT_MIN => &["2.11.0"],
        B::SIGN => &["2.11.0", "2.12.0"],
        B::BITCAST | B::BITWISE_XOR | B::RIGHT_SHIFT => &["2.13.0"],
        B::STABLEHLO_ADD
        | B::STABLEHLO_MULTIPLY
        | B::STABLEHLO_MAXIMUM
        | B::STABLEHLO_MINIMUM
        | B::STABLEHLO_PAD
        | B::STABLEHLO_REDUCE_WINDOW
        | B::STABLEHLO_GATHER => &["2.16.0"],
        B::STABLEHLO_AND
        | B::STABLEHLO_COMPOSITE
        | B::STABLEHLO_SHIFT_LEFT
        | B::STABLEHLO_CBRT
        | B::STABLEHLO_CASE => &["2.17.0"],
        B::STABLEHLO_SCATTER | B::DILATE | B::STABLEHLO_RNG_BIT_GENERATOR | B::REDUCE_WINDOW => {
            &["2.15.0"]
        }
        _ => return None,
    };
    Some(table)
}
