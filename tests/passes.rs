//! The passes never change what a graph computes: random graphs full of
//! transposes, checked with the reference evaluator before and after.

mod common;

use common::Rng;
use proptest::prelude::*;
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::*;

/// A random NCHW graph in the style of the ONNX lowering: layout-bound ops
/// wrapped in NCHW↔NHWC transposes, elementwise ops and reductions between.
fn random_graph(seed: u64, steps: usize) -> Model {
    let mut r = Rng::new(seed);
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("g");
    let c = 1 + r.below(4) as u32;
    let h = 3 + r.below(4) as u32;
    let mut x = g.input("x", DType::F32, [1, c, h, h + 1]);
    for i in 0..steps {
        let shape = g.tensor(x).shape.as_fixed().unwrap_or_default();
        let rank = shape.len();
        let res = match r.below(16) {
            11 if rank == 4 && shape[1].is_multiple_of(2) => {
                // ShuffleNet's channel shuffle in NCHW.
                let (n, c, h, w) = (shape[0] as i32, shape[1] as i32, shape[2] as i32, shape[3] as i32);
                g.reshape(x, &[n, 2, c / 2, h, w])
                    .and_then(|a| g.transpose(a, &[0, 2, 1, 3, 4]))
                    .and_then(|b| g.reshape(b, &[n, c, h, w]))
            }
            12 if rank == 4 && shape[1] >= 2 => {
                // A channel slice and a split, then joined again.
                let c = shape[1] as i32;
                let half = c / 2;
                let parts = g.split_v(x, &[half, c - half], 1);
                parts.and_then(|p| {
                    let sl = g.strided_slice(p[1], &[0, 0, 0, 0], &[1, c - half, shape[2] as i32, shape[3] as i32], &[1, 1, 1, 1], StridedSliceOptions::default())?;
                    g.concatenation(&[sl, p[0]], 1)
                })
            }
            13 if rank == 4 => {
                let c = shape[1] as i32;
                let idx: Vec<i32> = (0..c).rev().collect();
                let it = g.constant_i32(&format!("idx{i}"), [c as u32], &idx);
                g.gather(x, it, GatherOptions::new(1))
            }
            0 if rank == 4 => {
                // conv in NHWC between transposes
                let t = g.transpose(x, &[0, 2, 3, 1]).unwrap();
                let cin = shape[1];
                let cout = 1 + r.below(3) as u32;
                let w = g.constant_f32(&format!("w{i}"), [cout, 3, 3, cin], &r.vec((cout * 9 * cin) as usize, 0.5));
                let y = g.conv2d(t, w, None, Conv2dOptions::new(Padding::Same, 1, 1));
                y.and_then(|y| g.transpose(y, &[0, 3, 1, 2]))
            }
            1 if rank == 4 => {
                let t = g.transpose(x, &[0, 2, 3, 1]).unwrap();
                g.max_pool2d(t, Pool2dOptions::new(Padding::Same, 2, 2, 1, 1)).and_then(|y| g.transpose(y, &[0, 3, 1, 2]))
            }
            2 => g.relu(x),
            3 => g.logistic(x).and_then(|s| g.mul(x, s)),
            4 => {
                // add a constant broadcast over some trailing dims
                let k = 1 + r.below(rank as u64) as usize;
                let dims: Vec<u32> = shape[rank - k..].iter().map(|d| if r.below(2) == 0 { 1 } else { *d }).collect();
                let n = dims.iter().product::<u32>() as usize;
                let cst = g.constant_f32(&format!("k{i}"), dims.as_slice(), &r.vec(n, 1.0));
                g.add(x, cst)
            }
            5 => g.concatenation(&[x, x], 1.min(rank as i32 - 1)),
            6 if rank == 4 => g.mean(x, &[2, 3], r.below(2) == 0),
            7 if rank == 4 => g.pad(x, &[(0, 0), (0, 1), (1, 0), (0, 0)]),
            8 if rank >= 2 => {
                let mut perm: Vec<i32> = (0..rank as i32).collect();
                let a = r.below(rank as u64) as usize;
                let bb = r.below(rank as u64) as usize;
                perm.swap(a, bb);
                g.transpose(x, &perm)
            }
            14 => {
                // A position-wise linear layer and its bias as an ADD of a
                // constant vector (or [1, .., out]), as MatMul + Add lower.
                let cin = shape[rank - 1];
                let cout = 1 + r.below(4) as u32;
                let w = g.constant_f32(&format!("fc{i}"), [cout, cin], &r.vec((cout * cin) as usize, 0.5));
                let mut o = FullyConnectedOptions::default();
                o.keep_num_dims = true;
                let bias_dims: Vec<u32> = if r.below(2) == 0 { vec![cout] } else { vec![1; rank - 1].into_iter().chain([cout]).collect() };
                let bias = g.constant_f32(&format!("bias{i}"), bias_dims.as_slice(), &r.vec(cout as usize, 1.0));
                g.fully_connected(x, w, None, o).and_then(|y| if r.below(2) == 0 { g.add(y, bias) } else { g.add(bias, y) })
            }
            9 => g.softmax(x, 1.0),
            _ => g.tanh(x),
        };
        if let Ok(y) = res {
            x = y;
        }
    }
    g.output("y", x);
    b.finish_subgraph(g).unwrap();
    b.signature("serving_default", 0);
    b.finish().unwrap()
}

fn run(m: &Model, input: &Value) -> Vec<Value> {
    Evaluator::new(m).run(0, std::slice::from_ref(input)).expect("evaluation")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn optimize_preserves_results(seed in any::<u64>(), steps in 1usize..10) {
        let m = random_graph(seed, steps);
        let shape: Vec<usize> = m.subgraphs[0].tensors[m.subgraphs[0].inputs[0].index()].shape.as_fixed().unwrap().iter().map(|d| *d as usize).collect();
        let n: usize = shape.iter().product();
        let mut r = Rng::new(seed ^ 0xabc);
        let input = Value::from_f32(shape, r.vec(n, 2.0));
        let before = run(&m, &input);
        let mut opt = m.clone();
        tflite_forge::passes::optimize(&mut opt);
        tflite_forge::validate::validate(&opt).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let after = run(&opt, &input);
        prop_assert_eq!(before.len(), after.len());
        for (a, b) in before.iter().zip(&after) {
            prop_assert_eq!(&a.shape, &b.shape);
            for (x, y) in a.data.iter().zip(&b.data) {
                prop_assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()), "{} vs {}", x, y);
            }
        }
        // The result still writes and reads back.
        let bytes = write(&opt).unwrap();
        prop_assert_eq!(read(&bytes).unwrap(), opt);
    }
}

#[test]
fn wrapped_conv_chain_loses_every_transpose() {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("g");
    let x = g.input("x", DType::F32, [1, 4, 4, 3]);
    let nchw = g.transpose(x, &[0, 3, 1, 2]).unwrap();
    let mut h = nchw;
    for i in 0..3 {
        let t = g.transpose(h, &[0, 2, 3, 1]).unwrap();
        let w = g.constant_f32(&format!("w{i}"), [3, 3, 3, 3], &[0.1; 81]);
        let y = g.conv2d(t, w, None, Conv2dOptions::default()).unwrap();
        let back = g.transpose(y, &[0, 3, 1, 2]).unwrap();
        h = g.relu(back).unwrap();
    }
    let out = g.transpose(h, &[0, 2, 3, 1]).unwrap();
    g.output("y", out);
    b.finish_subgraph(g).unwrap();
    let mut m = b.finish().unwrap();
    let stats = tflite_forge::passes::optimize(&mut m);
    let ops: Vec<&str> = m.subgraphs[0].operators.iter().map(|o| o.op.name()).collect();
    assert_eq!(ops, ["CONV_2D", "CONV_2D", "CONV_2D"], "{stats:?}");
    assert_eq!(stats.fused_activations, 3);
}

#[test]
fn random_graphs_exercise_sinking() {
    // Guards the property test above against testing nothing.
    let (mut removed, mut fused, mut gathers, mut splits) = (0, 0, 0, 0);
    for seed in 0..100 {
        let mut m = random_graph(seed, 8);
        let s = tflite_forge::passes::optimize(&mut m);
        removed += s.transposes_removed;
        fused += s.fused_activations;
        gathers += m.subgraphs[0].operators.iter().filter(|o| matches!(o.op, Op::Gather(_))).count();
        splits += m.subgraphs[0].operators.iter().filter(|o| matches!(o.op, Op::SplitV { .. })).count();
    }
    assert!(gathers > 10 && splits > 5, "{gathers} gathers, {splits} splits");
    assert!(removed > 100, "only {removed} transposes removed over 100 graphs");
    assert!(fused > 5, "only {fused} activations fused");
}

#[test]
fn a_constant_bias_add_folds_into_fully_connected() {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("g");
    let x = g.input("x", DType::F32, [2, 3, 4]);
    let w = g.constant_f32("w", [5, 4], &(0..20).map(|i| i as f32 * 0.1 - 1.0).collect::<Vec<_>>());
    let mut o = FullyConnectedOptions::default();
    o.keep_num_dims = true;
    let y = g.fully_connected(x, w, None, o).unwrap();
    let bias = g.constant_f32("bias", [1, 1, 5], &[0.5, -1.0, 2.0, 0.0, 3.0]);
    let z = g.add(bias, y).unwrap();
    let z = g.relu(z).unwrap();
    g.output("z", z);
    b.finish_subgraph(g).unwrap();
    b.signature("serving_default", 0);
    let m = b.finish().unwrap();
    let input = Value::from_f32(vec![2, 3, 4], (0..24).map(|i| (i as f32 * 0.37).sin()).collect());
    let before = run(&m, &input);
    let mut opt = m.clone();
    let stats = tflite_forge::passes::optimize(&mut opt);
    assert_eq!(stats.folded_biases, 1);
    let ops = &opt.subgraphs[0].operators;
    assert_eq!(ops.len(), 1, "{:?}", ops.iter().map(|o| o.op.name()).collect::<Vec<_>>());
    match &ops[0].op {
        Op::FullyConnected(o) => assert_eq!(o.activation, Activation::Relu),
        other => panic!("{other:?}"),
    }
    assert!(ops[0].input(2).is_some(), "the bias is the FULLY_CONNECTED's third input");
    // The bias joins the sum in another order: equal up to float rounding.
    for (a, b) in run(&opt, &input)[0].data.iter().zip(&before[0].data) {
        assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{a} vs {b}");
    }
}
