//! Shapes computed at run time: ONNX graphs whose shape computations depend
//! on a symbolic size convert to TFLite ops that compute the sizes when the
//! model runs, and the file gives the right answer at several sizes (here
//! in the reference evaluator; the conformance harness runs them in LiteRT).

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions, IoLayout};
use tflite_forge::{DType, Model, Op};

fn opts() -> ConvertOptions {
    let mut o = ConvertOptions::default();
    o.layout = IoLayout::KeepNchw;
    o
}

fn to_model(b: OnnxBuilder) -> Model {
    match convert(&b.build(), &opts()) {
        Ok(c) => c.model,
        Err(e) => panic!("conversion failed: {e}"),
    }
}

fn run(m: &Model, inputs: Vec<Value>) -> Vec<Value> {
    Evaluator::new(m).run(0, &inputs).expect("evaluation succeeds")
}

fn seq(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.5 - 3.0).collect()
}

fn count(m: &Model, pred: impl Fn(&Op) -> bool) -> usize {
    m.subgraphs[0].operators.iter().filter(|o| pred(&o.op)).count()
}

fn out_signature(m: &Model, k: usize) -> Vec<i32> {
    let sg = &m.subgraphs[0];
    let t = &sg.tensors[sg.outputs[k].index()];
    t.shape.dims().iter().map(|d| d.fixed().map_or(-1, |n| n as i32)).collect()
}

/// `Shape(x)[0]` as a 1-vector: the symbolic batch.
fn batch_of(b: &mut OnnxBuilder, x: &str) -> String {
    let s = b.node("Shape", &[x], vec![]);
    let i0 = b.init_i64("i0", &[], &[0]);
    let n = b.node("Gather", &[&s, &i0], vec![attr_int("axis", 0)]);
    let ax = b.init_i64("ax0", &[1], &[0]);
    b.node("Unsqueeze", &[&n, &ax], vec![])
}

#[test]
fn reshape_by_a_shape_computed_from_two_symbolic_sizes() {
    // x: [batch, d1, 4] -> Reshape(x, [batch, d1 * 4 / 2, 2]) (legacy
    // exporter style: every entry computed from Shape).
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, None, Some(4)]);
    let s = b.node("Shape", &[&x], vec![]);
    let i0 = b.init_i64("i0", &[], &[0]);
    let i1 = b.init_i64("i1", &[], &[1]);
    let n = b.node("Gather", &[&s, &i0], vec![attr_int("axis", 0)]);
    let d1 = b.node("Gather", &[&s, &i1], vec![attr_int("axis", 0)]);
    let four = b.init_i64("four", &[], &[4]);
    let two = b.init_i64("two", &[], &[2]);
    let m1 = b.node("Mul", &[&d1, &four], vec![]);
    let m2 = b.node("Div", &[&m1, &two], vec![]);
    let ax = b.init_i64("ax", &[1], &[0]);
    let un = b.node("Unsqueeze", &[&n, &ax], vec![]);
    let um = b.node("Unsqueeze", &[&m2, &ax], vec![]);
    let c2 = b.init_i64("c2", &[1], &[2]);
    let target = b.node("Concat", &[&un, &um, &c2], vec![attr_int("axis", 0)]);
    b.node_named("Reshape", &[&x, &target], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, Some(2)]);
    let m = to_model(b);
    assert!(count(&m, |o| matches!(o, Op::Shape(_))) >= 1, "the target is computed at run time");
    assert_eq!(out_signature(&m, 0), vec![-1, -1, 2]);
    for (n, d1) in [(1usize, 1usize), (2, 3), (5, 2)] {
        let data = seq(n * d1 * 4);
        let got = run(&m, vec![Value::from_f32(vec![n, d1, 4], data.clone())]).remove(0);
        assert_eq!(got.shape, vec![n, d1 * 2, 2]);
        assert_eq!(got.data, data.iter().map(|v| f64::from(*v)).collect::<Vec<_>>());
    }
}

#[test]
fn zero_state_of_the_batch_size_becomes_fill() {
    // The preamble of an exported LSTM: zeros [1, batch, 16].
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(3)]);
    let n = batch_of(&mut b, &x);
    let one = b.init_i64("one", &[1], &[1]);
    let hid = b.init_i64("hid", &[1], &[16]);
    let shape = b.node("Concat", &[&one, &n, &hid], vec![attr_int("axis", 0)]);
    b.node_named("ConstantOfShape", &[&shape], &["h0"], vec![]);
    b.output("h0", FLOAT, &[Some(1), None, Some(16)]);
    let m = to_model(b);
    assert_eq!(count(&m, |o| matches!(o, Op::Fill)), 1);
    assert_eq!(out_signature(&m, 0), vec![1, -1, 16]);
    for n in [1usize, 4] {
        let got = run(&m, vec![Value::from_f32(vec![n, 3], seq(n * 3))]).remove(0);
        assert_eq!(got.shape, vec![1, n, 16]);
        assert!(got.data.iter().all(|v| *v == 0.0));
    }
}

#[test]
fn expand_to_the_batch_and_range_over_a_length() {
    // Expand(bias[1, 4], [batch, 4]) + Range(0, d1) cast to float.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(4)]);
    let bias = b.init_f32("bias", &[1, 4], &[1.0, 2.0, 3.0, 4.0]);
    let n = batch_of(&mut b, &x);
    let four = b.init_i64("c4", &[1], &[4]);
    let shape = b.node("Concat", &[&n, &four], vec![attr_int("axis", 0)]);
    let e = b.node("Expand", &[&bias, &shape], vec![]);
    b.node_named("Add", &[&x, &e], &["y"], vec![]);
    b.output("y", FLOAT, &[None, Some(4)]);
    // Range(0, batch, 1) as a second output.
    let s = b.node("Shape", &[&x], vec![]);
    let i0 = b.init_i64("j0", &[], &[0]);
    let len = b.node("Gather", &[&s, &i0], vec![attr_int("axis", 0)]);
    let start = b.init_i64("start", &[], &[0]);
    let step = b.init_i64("step", &[], &[1]);
    b.node_named("Range", &[&start, &len, &step], &["r"], vec![]);
    b.output("r", INT64, &[None]);
    let m = to_model(b);
    assert_eq!(count(&m, |o| matches!(o, Op::BroadcastTo)), 1);
    assert_eq!(count(&m, |o| matches!(o, Op::Range)), 1);
    for n in [1usize, 3] {
        let outs = run(&m, vec![Value::from_f32(vec![n, 4], seq(n * 4))]);
        let want: Vec<f64> = seq(n * 4).iter().enumerate().map(|(i, v)| f64::from(*v) + (i % 4 + 1) as f64).collect();
        assert_eq!(outs[0].shape, vec![n, 4]);
        assert_eq!(outs[0].data, want);
        assert_eq!(outs[1].dtype, DType::I64, "an int64 ONNX output stays int64");
        assert_eq!(outs[1].data, (0..n).map(|i| i as f64).collect::<Vec<_>>());
    }
}

#[test]
fn where_equal_minus_one_on_sizes_folds_and_shape_outputs_are_int64() {
    // Dynamo's Expand preamble: Where(Equal(shape, -1), ones, shape).
    let mut b = OnnxBuilder::new(17);
    let x = b.input("x", FLOAT, &[None, Some(2)]);
    let s = b.node("Shape", &[&x], vec![]);
    let m1 = b.init_i64("m1", &[2], &[-1, -1]);
    let eq = b.node("Equal", &[&s, &m1], vec![]);
    let ones = b.init_i64("ones", &[2], &[1, 1]);
    b.node_named("Where", &[&eq, &ones, &s], &["shape"], vec![]);
    b.output("shape", INT64, &[Some(2)]);
    let m = to_model(b);
    assert_eq!(count(&m, |o| matches!(o, Op::Equal | Op::SelectV2)), 0, "decided when converting");
    for n in [2usize, 7] {
        let got = run(&m, vec![Value::from_f32(vec![n, 2], seq(n * 2))]).remove(0);
        assert_eq!(got.dtype, DType::I64);
        assert_eq!(got.data, vec![n as f64, 2.0]);
    }
}

#[test]
fn reshape_by_a_run_time_tensor_copies_zero_entries() {
    // The target is a graph input: 0 copies the input's size at run time.
    let mut b = OnnxBuilder::new(14);
    let x = b.input("x", FLOAT, &[Some(2), Some(3), Some(4)]);
    let s = b.input("s", INT64, &[Some(3)]);
    b.node_named("Reshape", &[&x, &s], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None]);
    let m = to_model(b);
    let data = seq(24);
    for (target, want) in [([0i64, 4, 3], vec![2usize, 4, 3]), ([0, 0, -1], vec![2, 3, 4]), ([4, 0, 2], vec![4, 3, 2])] {
        let got = run(&m, vec![Value::from_f32(vec![2, 3, 4], data.clone()), Value::new(DType::I64, vec![3], target.iter().map(|v| *v as f64).collect())]).remove(0);
        assert_eq!(got.shape, want, "target {target:?}");
    }
}

#[path = "common/onnx_transformer.rs"]
mod onnx_transformer;

#[test]
fn a_transformer_encoder_with_symbolic_batch_and_sequence_runs_at_several_sizes() {
    let conv = convert(&onnx_transformer::transformer_onnx(2, 16, 2), &opts()).expect("converts");
    let m = &conv.model;
    assert_eq!(count(m, |o| matches!(o, Op::Gelu { .. })), 2, "the Erf form of GELU is fused in each layer");
    assert_eq!(out_signature(m, 0), vec![-1, -1, 16]);
    assert!(conv.report.dynamic_dims.iter().any(|d| d.contains("batch")), "{:?}", conv.report.dynamic_dims);
    // Each sample is computed on its own: sample 0 gives the same output
    // alone and in a batch of two; other lengths run too.
    let a = seq(2 * 3 * 16);
    let one = run(m, vec![Value::from_f32(vec![1, 3, 16], a[..48].to_vec())]).remove(0);
    let two = run(m, vec![Value::from_f32(vec![2, 3, 16], a.clone())]).remove(0);
    assert_eq!(one.shape, vec![1, 3, 16]);
    assert_eq!(two.shape, vec![2, 3, 16]);
    for (x, y) in one.data.iter().zip(&two.data[..48]) {
        assert!((x - y).abs() <= 1e-5 * y.abs().max(1.0), "sample 0 changed with the batch: {x} vs {y}");
    }
    assert!(one.data.iter().all(|v| v.is_finite()));
    let longer = run(m, vec![Value::from_f32(vec![1, 7, 16], seq(7 * 16))]).remove(0);
    assert_eq!(longer.shape, vec![1, 7, 16]);
}

#[test]
fn edge_wrap_and_reflect_padding_on_a_run_time_width() {
    // Pads beyond the size too: NumPy's reflect repeats, wrap cycles.
    // Each on a run-time width, and on static widths (constant positions).
    let cases = [("edge", (2i64, 3i64)), ("wrap", (3, 4)), ("reflect", (2, 5))];
    for ((mode, pads), width) in cases.iter().flat_map(|c| [None, Some(1usize), Some(3), Some(4)].map(move |w| (*c, w))) {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &[Some(2), width.map(|w| w as i64)]);
        let p = b.init_i64("pads", &[4], &[0, pads.0, 0, pads.1]);
        b.node_named("Pad", &[&x, &p], &["y"], vec![attr_str("mode", mode)]);
        b.output("y", FLOAT, &[Some(2), None]);
        let m = to_model(b);
        assert_eq!(count(&m, |o| matches!(o, Op::MirrorPad { .. })), 0, "{mode}: MIRROR_PAD cannot pad past the size");
        let widths: Vec<usize> = width.map_or(vec![1, 3, 4], |w| vec![w]);
        for w in widths {
            let xv = seq(2 * w);
            let got = run(&m, vec![Value::from_f32(vec![2, w], xv.clone())]).remove(0);
            let width = w + (pads.0 + pads.1) as usize;
            assert_eq!(got.shape, vec![2, width], "{mode} at width {w}");
            for r in 0..2 {
                for j in 0..width {
                    let k = j as i64 - pads.0;
                    let n = w as i64;
                    let src = match mode {
                        "edge" => k.clamp(0, n - 1),
                        "wrap" => ((k % n) + n) % n,
                        // NumPy reflect, written as a walk that bounces.
                        _ => {
                            let (mut pos, mut dir, mut steps) = (0i64, 1i64, k);
                            if n == 1 {
                                0
                            } else {
                                if steps < 0 {
                                    dir = -1;
                                    steps = -steps;
                                }
                                for _ in 0..steps {
                                    if pos + dir < 0 || pos + dir >= n {
                                        dir = -dir;
                                    }
                                    pos += dir;
                                }
                                pos
                            }
                        }
                    };
                    assert_eq!(got.data[r * width + j], f64::from(xv[r * w + src as usize]), "{mode} width {w} row {r} position {j}");
                }
            }
        }
    }
}
