//! The whole builtin op set: every code the schema knows is a typed op that
//! writes and reads back as itself, with its facts in `OPS`, a version rule
//! the interpreter accepts (≥ 1) and a builder method.

use tflite_forge::model::*;
use tflite_forge::read::{read_with, ReadOptions};
use tflite_forge::version::op_version;
use tflite_forge::write::{write_unvalidated, WriteOptions};
use tflite_forge::{builtin_name, op_info, ModelBuilder, Op, OPS};

#[path = "common/mod.rs"]
mod common;

/// A one-op model with `n_in` float inputs and `n_out` outputs, written
/// without validation (the tensors only carry the op), read back.
fn round_trip(op: Op, n_in: usize, n_out: usize) -> (Op, i32) {
    let mut sg = Subgraph::default();
    for i in 0..n_in + n_out {
        sg.tensors.push(Tensor::new(format!("t{i}"), DType::F32, Shape::from_dims(vec![Dim::Fixed(1)])));
    }
    let ins: Vec<TensorId> = (0..n_in as u32).map(TensorId).collect();
    let outs: Vec<TensorId> = (n_in as u32..(n_in + n_out) as u32).map(TensorId).collect();
    sg.inputs = ins.clone();
    sg.outputs = outs.clone();
    sg.operators.push(Operator::new(op, &ins, &outs));
    let version = op_version(&sg, &sg.operators[0]);
    let mut model = Model::default();
    model.subgraphs.push(sg);
    // Empty subgraphs for the control-flow ops to name.
    for _ in 0..3 {
        model.subgraphs.push(Subgraph::default());
    }
    let bytes = write_unvalidated(&model, &WriteOptions::default()).expect("write");
    let opts = no_validate();
    let back = read_with(&bytes, &opts).expect("read back");
    (back.subgraphs[0].operators[0].op.clone(), version)
}

fn no_validate() -> ReadOptions {
    let mut o = ReadOptions::default();
    o.validate = false;
    o
}

#[test]
fn every_known_code_is_a_typed_op_that_round_trips() {
    assert_eq!(OPS.len(), 208, "codes 0..=209 less CUSTOM and the placeholder");
    let mut typed = 0;
    for info in OPS {
        assert_eq!(builtin_name(info.code), Some(info.name));
        assert_eq!(op_info(info.code).map(|i| i.variant), Some(info.variant));
        let op = Op::from_code(info.code).unwrap_or_else(|| panic!("{} has no default typed op", info.name));
        assert!(!matches!(op, Op::Builtin(_)), "{} is opaque", info.name);
        assert_eq!(op.builtin_code(), info.code, "{}", info.name);
        assert_eq!(op.name(), info.name);
        let n_in = info.inputs.min as usize;
        let n_out = (info.outputs.min as usize).max(usize::from(info.outputs.max != Some(0)));
        let (back, version) = round_trip(op.clone(), n_in, n_out);
        assert_eq!(back, op, "{} reads back as itself", info.name);
        assert!(version >= 1, "{} version {version}", info.name);
        typed += 1;
    }
    assert_eq!(typed, 208);
}

#[test]
fn non_default_options_round_trip() {
    let mut conv3d = Conv3dOptions::default();
    conv3d.padding = Padding::Valid;
    conv3d.stride_d = 2;
    conv3d.stride_h = 3;
    conv3d.stride_w = 4;
    conv3d.dilation_d_factor = 2;
    conv3d.fused_activation_function = Activation::Relu6;
    let mut lstm = LstmOptions::default();
    lstm.kernel_type = LstmKernelType::Basic;
    lstm.cell_clip = 3.5;
    let mut conv = StablehloConvolutionOptions::default();
    conv.window_strides = vec![1, 2];
    conv.window_reversal = vec![true, false];
    conv.precision_config = vec![StablehloPrecisionConfig::High, StablehloPrecisionConfig::Highest];
    conv.feature_group_count = 3;
    let mut call = StablehloCustomCallOptions::default();
    call.call_target_name = "my_target".into();
    call.custom_attributes = vec![1, 2, 3];
    call.called_computations = vec![4];
    let mut cmp = StablehloCompareOptions::default();
    cmp.comparison_direction = StablehloComparisonDirection::Lt;
    cmp.compare_type = StablehloComparisonType::FloatTotalOrder;
    let mut shape = ShapeOptions::default();
    shape.out_type = DType::I64;
    let mut bucket = BucketizeOptions::default();
    bucket.boundaries = vec![0.0, 1.5, 3.0];
    let mut var = VarHandleOptions::default();
    var.shared_name = "v".into();
    let ops = vec![
        (Op::Conv3d(conv3d), 3, 1),
        (Op::Conv3dTranspose(conv3d), 4, 1),
        (Op::Lstm(lstm), 5, 1),
        (Op::StablehloConvolution(conv), 2, 1),
        (Op::StablehloCustomCall(call), 1, 1),
        (Op::StablehloCompare(cmp), 2, 1),
        (Op::Shape(shape), 1, 1),
        (Op::Bucketize(bucket), 1, 1),
        (Op::VarHandle(var), 0, 1),
    ];
    for (op, i, o) in ops {
        let (back, _) = round_trip(op.clone(), i, o);
        assert_eq!(back, op);
    }
}

#[test]
fn default_options_equal_the_schema_defaults() {
    // Schema defaults that are not zero.
    let c = Conv3dOptions::default();
    assert_eq!((c.dilation_d_factor, c.dilation_h_factor, c.dilation_w_factor), (1, 1, 1));
    assert_eq!(UniqueOptions::default().idx_out_type, DType::I32);
    assert!(BidirectionalSequenceLstmOptions::default().time_major);
    // No default in the schema: FLOAT32, the zero of TensorType.
    assert_eq!(ShapeOptions::default().out_type, DType::F32);
}

#[test]
fn generated_builders_infer_outputs() {
    let b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [2, 4, 4, 8]);
    let f = g.floor(x).expect("floor");
    assert_eq!(g.tensor(f).shape, Shape::from([2, 4, 4, 8]));
    let mut d2s = DepthToSpaceOptions::default();
    d2s.block_size = 2;
    let y = g.depth_to_space(x, d2s).expect("depth_to_space");
    assert_eq!(g.tensor(y).shape, Shape::from([2, 8, 8, 2]));
    let sq = g.squared_difference(x, f).expect("squared_difference");
    assert_eq!(g.tensor(sq).shape, Shape::from([2, 4, 4, 8]));
    let mut sh = ShapeOptions::default();
    sh.out_type = DType::I32;
    let s = g.shape(x, sh).expect("shape");
    assert_eq!(g.tensor(s).dtype, DType::I32);
    assert_eq!(g.tensor(s).shape, Shape::from([4]));
    let k = g.constant_i32("k", [], &[3]);
    let top = g.topk_v2(x, k).expect("topk");
    assert_eq!(top.len(), 2);
    assert_eq!(g.tensor(top[0]).shape, Shape::from([2, 4, 4, 3]));
    assert_eq!(g.tensor(top[1]).dtype, DType::I32);
    // A mistake is an error naming the op.
    let mut bad = DepthToSpaceOptions::default();
    bad.block_size = 3;
    let e = g.depth_to_space(x, bad).expect_err("8 channels are not a multiple of 9");
    assert!(e.to_string().contains("DEPTH_TO_SPACE"), "{e}");
    // Resources: a handle is a resource scalar; reading a variable has the
    // variable's type, which only explicit outputs can say.
    let h = g.var_handle(&[], VarHandleOptions::default()).expect("var_handle");
    assert_eq!(g.tensor(h).dtype, DType::Resource);
    let e = g.read_variable(h).expect_err("no inference for a variable's value");
    assert!(e.to_string().contains("infer"), "{e}");
    // NMS: selected indices sized by the constant max_output_size.
    let boxes = g.input("boxes", DType::F32, [10, 4]);
    let scores = g.input("scores", DType::F32, [10]);
    let max = g.constant_i32("max", [], &[5]);
    let iou = g.constant_f32("iou", [], &[0.5]);
    let thr = g.constant_f32("thr", [], &[0.1]);
    let nms = g.non_max_suppression_v4(&[Some(boxes), Some(scores), Some(max), Some(iou), Some(thr)]).expect("nms");
    assert_eq!(g.tensor(nms[0]).shape, Shape::from([5]));
    assert_eq!(g.tensor(nms[1]).shape, Shape::from_dims(vec![]));
}

#[test]
fn nms_keeps_the_best_of_overlapping_boxes() {
    use tflite_forge::eval::{Evaluator, Value};
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let boxes = g.input("boxes", DType::F32, [4, 4]);
    let scores = g.input("scores", DType::F32, [4]);
    let max = g.constant_i32("max", [], &[3]);
    let iou = g.constant_f32("iou", [], &[0.5]);
    let thr = g.constant_f32("thr", [], &[0.0]);
    let outs = g.non_max_suppression_v4(&[Some(boxes), Some(scores), Some(max), Some(iou), Some(thr)]).unwrap();
    g.output("indices", outs[0]);
    g.output("count", outs[1]);
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    // Box 1 overlaps box 0 (IoU 0.81) and scores lower; box 3 scores below
    // the threshold; box 2 stands apart.
    let bx = vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.9, 0.9, 2.0, 2.0, 3.0, 3.0, 5.0, 5.0, 6.0, 6.0];
    let sc = vec![0.9, 0.8, 0.7, -0.1];
    let out = Evaluator::new(&model).run(0, &[Value::from_f32(vec![4, 4], bx), Value::from_f32(vec![4], sc)]).unwrap();
    assert_eq!(out[0].data, vec![0.0, 2.0, 0.0]);
    assert_eq!(out[1].data, vec![2.0]);
}

#[test]
fn dilate_and_reduce_window_infer_their_shapes() {
    let b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [3, 4]);
    let d = g.constant_i32("d", [2], &[2, 3]);
    let pad = g.constant_f32("pad", [], &[0.0]);
    let y = g.dilate(&[Some(x), Some(d), Some(pad)]).expect("dilate");
    assert_eq!(g.tensor(y).shape, Shape::from([5, 10]));
    let init = g.constant_f32("init", [], &[0.0]);
    let c64 = |g: &mut tflite_forge::SubgraphBuilder, name: &str, v: [i64; 2]| {
        g.constant(name, DType::I64, [2], tflite_forge::ConstData::from_slice(&v))
    };
    let win = c64(&mut g, "win", [2, 2]);
    let st = c64(&mut g, "st", [1, 2]);
    let dl = c64(&mut g, "dl", [1, 1]);
    let mut o = ReduceWindowOptions::default();
    o.reduce_function = ReduceWindowFunction::Add;
    let r = g.reduce_window(&[Some(x), Some(init), Some(win), Some(st), Some(dl)], o).expect("reduce_window");
    assert_eq!(g.tensor(r).shape, Shape::from([2, 2]));
    let bad = g.constant_i32("bad", [2], &[0, 1]);
    assert!(g.dilate(&[Some(x), Some(bad), Some(pad)]).is_err(), "a dilation of 0 is an error");
}

/// The non-StableHLO builtin ops LiteRT's builtin resolver registers
/// (`BuiltinOpResolver`, tflite/core/kernels/register.cc of the LiteRT
/// snapshot f67457790c9c, the source of ai-edge-litert 2.3.0). The 13
/// STABLEHLO_* ops it also registers are judged by the stablehlo tier.
const RUNNABLE: &[&str] = &[
    "ABS", "ADD", "ADD_N", "ARG_MAX", "ARG_MIN", "ASSIGN_VARIABLE", "ATAN2", "AVERAGE_POOL_2D",
    "BATCH_MATMUL", "BATCH_TO_SPACE_ND", "BIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_RNN",
    "BITCAST", "BITWISE_XOR", "BROADCAST_ARGS", "BROADCAST_TO", "BUCKETIZE", "CALL_ONCE", "CAST", "CEIL",
    "COMPLEX_ABS", "CONCATENATION", "CONV_2D", "CONV_3D", "CONV_3D_TRANSPOSE", "COS", "CUMSUM", "DENSIFY",
    "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE", "DILATE", "DIV", "DYNAMIC_UPDATE_SLICE", "ELU",
    "EMBEDDING_LOOKUP", "EMBEDDING_LOOKUP_SPARSE", "EQUAL", "EXP", "EXPAND_DIMS", "FAKE_QUANT", "FILL",
    "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "FULLY_CONNECTED", "GATHER", "GATHER_ND", "GELU", "GREATER",
    "GREATER_EQUAL", "HARD_SWISH", "HASHTABLE", "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_LOOKUP",
    "HASHTABLE_SIZE", "IF", "IMAG", "L2_NORMALIZATION", "L2_POOL_2D", "LEAKY_RELU", "LESS", "LESS_EQUAL",
    "LOCAL_RESPONSE_NORMALIZATION", "LOG", "LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR", "LOGISTIC",
    "LOG_SOFTMAX", "LSH_PROJECTION", "LSTM", "MATRIX_DIAG", "MATRIX_SET_DIAG", "MAXIMUM", "MAX_POOL_2D",
    "MEAN", "MINIMUM", "MIRROR_PAD", "MUL", "MULTINOMIAL", "NEG", "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5", "NOT_EQUAL", "ONE_HOT", "PACK", "PAD", "PADV2", "POW", "PRELU", "QUANTIZE",
    "RANDOM_STANDARD_NORMAL", "RANDOM_UNIFORM", "RANGE", "RANK", "READ_VARIABLE", "REAL", "REDUCE_ALL",
    "REDUCE_ANY", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_WINDOW", "RELU", "RELU6", "RELU_0_TO_1",
    "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "REVERSE_SEQUENCE", "REVERSE_V2",
    "RFFT2D", "RIGHT_SHIFT", "RNN", "ROUND", "RSQRT", "SCATTER_ND", "SEGMENT_SUM", "SELECT", "SELECT_V2",
    "SHAPE", "SIGN", "SIN", "SKIP_GRAM", "SLICE", "SOFTMAX", "SPACE_TO_BATCH_ND", "SPACE_TO_DEPTH",
    "SPARSE_TO_DENSE", "SPLIT", "SPLIT_V", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE",
    "SUB", "SUM", "SVDF", "TANH", "TILE", "TOPK_V2", "TRANSPOSE", "TRANSPOSE_CONV",
    "UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN", "UNIQUE", "UNPACK", "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_MIN", "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_SUM", "VAR_HANDLE", "WHERE", "WHILE",
    "ZEROS_LIKE",
];

/// Runnable ops without a builder case, each with the reason. The builder
/// tier runs one invocation of a fresh interpreter against a NumPy
/// reference that models resource variables within that run but no hash
/// tables, so the hash-table resource ops are left out.
const EXCLUDED: &[(&str, &str)] = &[
    // Resource hash tables: HASHTABLE creates a table resource that lives in
    // the interpreter and HASHTABLE_IMPORT fills it; FIND and SIZE read it.
    // Their result is the state of a resource, not a function of the op's
    // input tensors (and the tables hold strings or int64 keys with string
    // values, which the harness has no random inputs for).
    ("HASHTABLE", "external state: creates a hash-table resource"),
    ("HASHTABLE_IMPORT", "external state: fills a hash-table resource"),
    ("HASHTABLE_FIND", "external state: reads a hash-table resource"),
    ("HASHTABLE_SIZE", "external state: reads a hash-table resource"),
    // Resource variables (VAR_HANDLE, ASSIGN_VARIABLE, READ_VARIABLE) have
    // cases: a CALL_ONCE init subgraph assigns, the main subgraph reads, in
    // one run of a fresh interpreter (the reference models the variables).
];

/// The builtin ops the builder cases use, in any subgraph.
fn ops_with_a_case() -> std::collections::BTreeSet<String> {
    let mut ops = std::collections::BTreeSet::new();
    for case in common::builder_cases() {
        for sg in &case.model.subgraphs {
            for node in &sg.operators {
                if !matches!(node.op, Op::Custom(_) | Op::Builtin(_)) {
                    ops.insert(node.op.name().to_string());
                }
            }
        }
    }
    ops
}

/// Issue 8: every op LiteRT's builtin resolver can run has a builder case
/// (run in LiteRT against NumPy, and by the eval and qbuilder tiers), except
/// the explicit exclusions above.
#[test]
fn every_runnable_builtin_op_has_a_builder_case() {
    let covered = ops_with_a_case();
    for name in RUNNABLE {
        assert!(OPS.iter().any(|i| i.name == *name), "{name} is not a builtin op name");
    }
    for (name, why) in EXCLUDED {
        assert!(RUNNABLE.contains(name), "excluded {name} is not in RUNNABLE");
        assert!(!why.is_empty());
        assert!(!covered.contains(*name), "{name} has a builder case now; drop its exclusion");
    }
    let missing: Vec<&str> = RUNNABLE
        .iter()
        .copied()
        .filter(|n| !covered.contains(*n) && !EXCLUDED.iter().any(|(e, _)| e == n))
        .collect();
    assert!(missing.is_empty(), "{} runnable builtin ops have no builder case: {missing:?}", missing.len());
    // Every builtin the cases use is one LiteRT runs (a case of an op the
    // resolver lacks would fail in the builder tier, not here).
    let extra: Vec<&String> = covered.iter().filter(|n| !RUNNABLE.contains(&n.as_str()) && !n.starts_with("STABLEHLO_")).collect();
    assert!(extra.is_empty(), "cases use ops LiteRT does not register: {extra:?}");
}

#[test]
fn multinomial_writes_int64_or_int32_indices_only() {
    for (out, ok) in [(DType::I64, true), (DType::I32, true), (DType::F32, false)] {
        let b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let l = g.input("logits", DType::F32, [2, 5]);
        let n = g.constant_i32("n", [], &[3]);
        let r = g.apply_with(Op::Multinomial(RandomOptions::default()), &[Some(l), Some(n)], Some(out), None);
        assert_eq!(r.is_ok(), ok, "{out}: {r:?}");
    }
}

/// What LiteRT's reference kernel of an op does with int8 (or int16)
/// data, in the snapshot the wheel is built from: read from each
/// kernel's Prepare and Eval type checks (`tflite/kernels/*.cc`) and
/// probed with one-op models in the wheel.
#[derive(Debug, Clone, Copy, PartialEq)]
enum K {
    /// A kernel, which the builder or qbuilder tier runs (checked below).
    Yes,
    /// The kernel refuses the type.
    No,
    /// The op has no data operand or output of any element type.
    NoData,
}
use K::{No, NoData, Yes};


/// Issue 8: int8 and int16 kernels of every op with a builder case, as
/// (op, int8, int16). "int8 data" is the op's data operand
/// (`common::int_coverage::data_slot`), quantized or plain.
const INT_KERNELS: &[(&str, K, K)] = &[
    ("ABS", Yes, Yes),
    ("ADD", Yes, Yes),
    ("ADD_N", No, No),
    ("ARG_MAX", Yes, No),
    ("ARG_MIN", Yes, No),
    // assign_variable.cc copies a value of any type into the variable.
    ("ASSIGN_VARIABLE", Yes, Yes),
    ("ATAN2", No, No),
    ("AVERAGE_POOL_2D", Yes, Yes),
    ("BATCH_MATMUL", Yes, Yes),
    ("BATCH_TO_SPACE_ND", Yes, Yes),
    // Recurrent ops: int8 weights only in the hybrid kernels, whose input
    // is float32.
    ("BIDIRECTIONAL_SEQUENCE_LSTM", No, No),
    ("BIDIRECTIONAL_SEQUENCE_RNN", No, No),
    ("BITCAST", Yes, Yes),
    ("BITWISE_XOR", Yes, Yes),
    ("BROADCAST_ARGS", No, No),
    ("BROADCAST_TO", Yes, Yes),
    ("BUCKETIZE", No, No),
    // CALL_ONCE has no operands: its data are the values its init subgraph
    // assigns to resource variables (int_coverage::op_types).
    ("CALL_ONCE", Yes, Yes),
    ("CAST", Yes, Yes),
    ("CEIL", No, No),
    ("COMPLEX_ABS", No, No),
    ("CONCATENATION", Yes, Yes),
    ("CONV_2D", Yes, Yes),
    ("CONV_3D", No, No),
    ("CONV_3D_TRANSPOSE", No, No),
    ("COS", No, No),
    ("CUMSUM", No, No),
    // densify.cc, Eval: float32, float16 and int8 only.
    ("DENSIFY", Yes, No),
    ("DEPTHWISE_CONV_2D", Yes, Yes),
    ("DEPTH_TO_SPACE", Yes, No),
    ("DEQUANTIZE", Yes, Yes),
    ("DILATE", Yes, Yes),
    ("DIV", Yes, Yes),
    ("DYNAMIC_UPDATE_SLICE", Yes, Yes),
    ("ELU", Yes, No),
    ("EMBEDDING_LOOKUP", Yes, Yes),
    ("EMBEDDING_LOOKUP_SPARSE", No, No),
    ("EQUAL", Yes, Yes),
    ("EXP", Yes, Yes),
    ("EXPAND_DIMS", Yes, Yes),
    // FAKE_QUANT reads float32 whatever the tensor type (fake_quant.cc has
    // no type check): not a kernel for integers.
    ("FAKE_QUANT", No, No),
    ("FILL", Yes, Yes),
    ("FLOOR", No, No),
    ("FLOOR_DIV", Yes, Yes),
    ("FLOOR_MOD", Yes, Yes),
    ("FULLY_CONNECTED", Yes, Yes),
    ("GATHER", Yes, Yes),
    ("GATHER_ND", Yes, Yes),
    ("GELU", Yes, Yes),
    ("GREATER", Yes, Yes),
    ("GREATER_EQUAL", Yes, Yes),
    ("HARD_SWISH", Yes, No),
    ("HASHTABLE_LOOKUP", Yes, Yes),
    ("IF", Yes, Yes),
    ("IMAG", No, No),
    ("L2_NORMALIZATION", Yes, No),
    ("L2_POOL_2D", No, No),
    ("LEAKY_RELU", Yes, Yes),
    ("LESS", Yes, Yes),
    ("LESS_EQUAL", Yes, Yes),
    ("LOCAL_RESPONSE_NORMALIZATION", No, No),
    ("LOG", Yes, Yes),
    ("LOGICAL_AND", No, No),
    ("LOGICAL_NOT", No, No),
    ("LOGICAL_OR", No, No),
    ("LOGISTIC", Yes, Yes),
    ("LOG_SOFTMAX", Yes, No),
    ("LSH_PROJECTION", Yes, Yes),
    // Full-integer LSTM (int8 input, int16 cell, 5 intermediates; the
    // builder tier's cases_int_recurrent.rs). int16 activations: LSTM has
    // no 16x8 kernel in lstm.cc (the version-5 signature is the converter's).
    ("LSTM", Yes, No),
    ("MATRIX_DIAG", Yes, Yes),
    ("MATRIX_SET_DIAG", Yes, Yes),
    ("MAXIMUM", Yes, Yes),
    ("MAX_POOL_2D", Yes, Yes),
    ("MEAN", Yes, Yes),
    ("MINIMUM", Yes, Yes),
    ("MIRROR_PAD", Yes, Yes),
    ("MUL", Yes, Yes),
    ("MULTINOMIAL", No, No),
    ("NEG", Yes, Yes),
    ("NON_MAX_SUPPRESSION_V4", No, No),
    ("NON_MAX_SUPPRESSION_V5", No, No),
    ("NOT_EQUAL", Yes, Yes),
    ("ONE_HOT", Yes, No),
    ("PACK", Yes, Yes),
    ("PAD", Yes, Yes),
    ("PADV2", Yes, Yes),
    ("POW", No, No),
    ("PRELU", Yes, Yes),
    ("QUANTIZE", Yes, Yes),
    ("RANDOM_STANDARD_NORMAL", No, No),
    ("RANDOM_UNIFORM", No, No),
    ("RANGE", No, No),
    ("RANK", Yes, Yes),
    // read_variable.cc copies the variable out, whatever its type.
    ("READ_VARIABLE", Yes, Yes),
    ("REAL", No, No),
    ("REDUCE_ALL", No, No),
    ("REDUCE_ANY", No, No),
    ("REDUCE_MAX", Yes, Yes),
    ("REDUCE_MIN", Yes, Yes),
    ("REDUCE_PROD", Yes, Yes),
    // The StableHLO kernel folds the stored integers
    // (stablehlo_reduce_window.cc, DispatchReduceWindowType): plain int8
    // and int16 cases (a quantized ADD would ignore the zero point).
    ("REDUCE_WINDOW", Yes, Yes),
    ("RELU", Yes, Yes),
    ("RELU6", Yes, Yes),
    ("RELU_0_TO_1", Yes, No),
    ("RELU_N1_TO_1", Yes, No),
    ("RESHAPE", Yes, Yes),
    ("RESIZE_BILINEAR", Yes, Yes),
    ("RESIZE_NEAREST_NEIGHBOR", Yes, Yes),
    ("REVERSE_SEQUENCE", No, Yes),
    ("REVERSE_V2", Yes, Yes),
    ("RFFT2D", No, No),
    ("RIGHT_SHIFT", Yes, Yes),
    ("RNN", No, No),
    ("ROUND", No, No),
    ("RSQRT", Yes, Yes),
    ("SCATTER_ND", Yes, No),
    ("SEGMENT_SUM", No, No),
    ("SELECT", Yes, Yes),
    ("SELECT_V2", Yes, Yes),
    ("SHAPE", Yes, Yes),
    ("SIGN", No, No),
    ("SIN", No, No),
    ("SKIP_GRAM", No, No),
    ("SLICE", Yes, Yes),
    ("SOFTMAX", Yes, Yes),
    ("SPACE_TO_BATCH_ND", Yes, Yes),
    ("SPACE_TO_DEPTH", Yes, No),
    ("SPARSE_TO_DENSE", Yes, No),
    ("SPLIT", Yes, Yes),
    ("SPLIT_V", Yes, Yes),
    ("SQRT", Yes, Yes),
    ("SQUARE", No, No),
    ("SQUARED_DIFFERENCE", Yes, No),
    ("SQUEEZE", Yes, Yes),
    ("STRIDED_SLICE", Yes, Yes),
    ("SUB", Yes, Yes),
    ("SUM", Yes, Yes),
    ("SVDF", Yes, No),
    ("TANH", Yes, Yes),
    ("TILE", Yes, Yes),
    ("TOPK_V2", Yes, Yes),
    ("TRANSPOSE", Yes, Yes),
    ("TRANSPOSE_CONV", Yes, Yes),
    ("UNIDIRECTIONAL_SEQUENCE_LSTM", Yes, No),
    ("UNIDIRECTIONAL_SEQUENCE_RNN", No, No),
    ("UNIQUE", Yes, Yes),
    ("UNPACK", Yes, Yes),
    ("UNSORTED_SEGMENT_MAX", No, No),
    ("UNSORTED_SEGMENT_MIN", No, No),
    ("UNSORTED_SEGMENT_PROD", No, No),
    ("UNSORTED_SEGMENT_SUM", No, No),
    // VAR_HANDLE has no data: it writes a resource handle.
    ("VAR_HANDLE", NoData, NoData),
    ("WHERE", Yes, No),
    ("WHILE", Yes, Yes),
    ("ZEROS_LIKE", No, No),
];

/// Issue 8: every int8 and int16 kernel of an op with a builder case is
/// run by the builder or qbuilder tier (exceptions named in the table),
/// and no op the table says has no kernel runs on that type there.
#[test]
fn int8_and_int16_kernels_have_cases() {
    let covered = common::int_coverage::tier_op_types();
    let with_case = ops_with_a_case();
    let mut problems = Vec::new();
    for name in &with_case {
        if !INT_KERNELS.iter().any(|(n, _, _)| n == name) {
            problems.push(format!("{name}: no row in INT_KERNELS"));
        }
    }
    let (mut yes8, mut yes16) = (0, 0);
    for (name, k8, k16) in INT_KERNELS {
        assert!(RUNNABLE.contains(name), "{name} is not runnable");
        for (dtype, k) in [("INT8", k8), ("INT16", k16)] {
            let runs = covered.contains(&(name.to_string(), dtype.to_string()));
            match k {
                Yes if !runs => problems.push(format!("{name} {dtype}: a kernel, but no case runs it")),
                No | NoData if runs => problems.push(format!("{name} {dtype}: a case runs it; the table says {k:?}")),
                Yes => {}
                _ => {}
            }
            match (k, dtype) {
                (Yes, "INT8") => yes8 += 1,
                (Yes, _) => yes16 += 1,
                _ => {}
            }
        }
    }
    // Every kernel LiteRT has for int8 or int16 data runs in a tier: the
    // table has no "exists but untested" entry left.
    println!("int kernels: {} ops; int8 run {yes8}, int16 run {yes16}", INT_KERNELS.len());
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// Issue 8: the full-integer recurrent forms of the builder tier have
/// op_version.cc's versions (UNIDIRECTIONAL_SEQUENCE_LSTM and LSTM 1, which
/// TensorFlow's converter writes too: tf/converter/
/// unidirectional_sequence_lstm_int8; SVDF 3), and validation refuses
/// variants LiteRT's kernels would misread, with a typed error.
#[test]
fn full_integer_recurrent_forms() {
    use tflite_forge::validate::validate;
    use tflite_forge::ValidationError;
    let cases = common::cases_int_recurrent::cases();
    assert_eq!(cases.len(), 3);
    for c in &cases {
        let sg = &c.model.subgraphs[0];
        let node = sg.operators.iter().find(|o| matches!(o.op, Op::Lstm(_) | Op::UnidirectionalSequenceLstm(_) | Op::Svdf(_))).expect("a recurrent op");
        let want = if matches!(node.op, Op::Svdf(_)) { 3 } else { 1 };
        assert_eq!(op_version(sg, node), want, "{}", c.name);
        validate(&c.model).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    }
    let refused = |model: &Model, want: &str| match validate(model) {
        Err(ValidationError::Op { detail, .. }) => assert!(detail.contains(want), "{detail:?} does not say {want:?}"),
        other => panic!("expected a refusal saying {want:?}, got {other:?}"),
    };
    let lstm = &cases.iter().find(|c| c.name == "int8/unidirectional_sequence_lstm").expect("case").model;
    let edit = |f: &dyn Fn(&mut Subgraph)| {
        let mut m = lstm.clone();
        f(&mut m.subgraphs[0]);
        m
    };
    let op_of = |sg: &Subgraph| sg.operators.iter().position(|o| matches!(o.op, Op::UnidirectionalSequenceLstm(_))).expect("the LSTM");
    let input = |sg: &Subgraph, i: usize| sg.operators[op_of(sg)].inputs[i].expect("present").index();
    refused(&edit(&|sg| { let k = op_of(sg); sg.operators[k].intermediates.pop(); }), "needs 5 intermediate tensors");
    refused(&edit(&|sg| { let c = input(sg, 19); sg.tensors[c].quantization = Some(Quantization::per_tensor(3e-4, 0)); }), "not a power of two");
    refused(&edit(&|sg| {
        let w = input(sg, 2);
        sg.tensors[w].quantization = Some(Quantization::per_axis(vec![0.01; 5], vec![0; 5], 0));
    }), "needs one scale");
    refused(&edit(&|sg| { let b = input(sg, 13); sg.tensors[b].dtype = DType::F32; }), "is FLOAT32, must be INT32");
    refused(&edit(&|sg| {
        let k = op_of(sg);
        let h = sg.operators[k].intermediates[4].index();
        sg.tensors[h].quantization = Some(Quantization::per_tensor(0.01, 0));
    }), "intermediate 4");
    refused(&edit(&|sg| {
        let k = op_of(sg);
        if let Op::UnidirectionalSequenceLstm(o) = &mut sg.operators[k].op {
            o.fused_activation_function = Activation::Relu;
        }
    }), "tanh");
    let svdf = &cases.iter().find(|c| c.name == "int8/svdf").expect("case").model;
    let mut m = svdf.clone();
    let sg = &mut m.subgraphs[0];
    let y = sg.outputs[0].index();
    sg.tensors[y].quantization = Some(Quantization::per_tensor(0.01, 0));
    refused(&m, "zero point must be -128");
}
