//! `passes::batch::make_batch_dynamic`: the batch becomes `-1` in the
//! written file, the model computes each batch row as it did alone, and a
//! graph whose shapes cannot follow is refused and left as it was.

mod common;

use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::passes::batch::{make_batch_dynamic, BatchError};
use tflite_forge::*;

fn classifier() -> Model {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [1, 6]);
    let w: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let w = g.constant_f32("w", [4, 6], &w);
    let bias = g.constant_f32("b", [4], &[0.1, -0.2, 0.3, 0.0]);
    let h = g.fully_connected(x, w, Some(bias), FullyConnectedOptions::default()).unwrap();
    let r = g.relu(h).unwrap();
    let y = g.softmax(r, 1.0).unwrap();
    g.output("y", y);
    let total = g.sum(x, &[0], false).unwrap();
    g.output("total", total);
    b.finish_subgraph(g).unwrap();
    b.finish().unwrap()
}

#[test]
fn every_row_of_a_dynamic_batch_computes_what_it_did_alone() {
    let original = classifier();
    let mut m = original.clone();
    let report = make_batch_dynamic(&mut m).expect("rewrites");
    assert_eq!(report.inputs, ["x"]);
    assert_eq!(report.dynamic_outputs, ["y"]);
    // A sum over the batch has no batch left.
    assert_eq!(report.fixed_outputs, ["total"]);
    assert!(!report.all_outputs_dynamic());
    // The file carries the -1 and reads back as it was written.
    let back = read(&write(&m).unwrap()).unwrap();
    assert_eq!(back, m);
    let sg = &back.subgraphs[0];
    let y = sg.outputs[0];
    assert_eq!(sg.tensors[y.0 as usize].shape.dims(), [Dim::Dynamic, Dim::Fixed(4)]);
    // Three rows at once against each row alone in the original.
    let rows: Vec<Vec<f32>> = (0..3).map(|r| (0..6).map(|i| ((r * 6 + i) as f32 * 0.37).sin()).collect()).collect();
    let batch = Value::from_f32(vec![3, 6], rows.concat());
    let out = Evaluator::new(&back).run(0, &[batch]).expect("runs at batch 3");
    assert_eq!(out[0].shape, [3, 4]);
    let got = out[0].to_f32();
    for (r, row) in rows.iter().enumerate() {
        let alone = Evaluator::new(&original).run(0, &[Value::from_f32(vec![1, 6], row.clone())]).expect("runs alone");
        assert_eq!(&got[r * 4..r * 4 + 4], alone[0].to_f32().as_slice(), "row {r}");
    }
}

#[test]
fn a_graph_whose_shapes_cannot_follow_is_refused_and_left_alone() {
    // A custom op has no shape inference.
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [2, 3]);
    let r = g.relu(x).unwrap();
    let y = g.add_tensor(Tensor::new("y", DType::F32, [2u32, 3]));
    g.add_operator(Operator::new(Op::Custom(CustomOp::new("MyOp", Vec::new())), &[r], &[y])).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let mut m = model.clone();
    let e = make_batch_dynamic(&mut m).expect_err("a custom op");
    assert!(matches!(&e, BatchError::Operator { operator: 1, op, .. } if op == "MyOp"), "{e}");
    assert!(e.to_string().contains("operator 1 (MyOp)"), "{e}");
    assert_eq!(m, model, "a refused model is unchanged");
    // Nothing of rank 2 or more to batch.
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [5]);
    let y = g.relu(x).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    let mut m = b.finish().unwrap();
    assert_eq!(make_batch_dynamic(&mut m), Err(BatchError::NoBatchedInput));
}

#[test]
fn a_recurrent_state_of_fixed_batch_is_refused() {
    // LiteRT resizes inputs, not variable tensors: an RNN whose hidden
    // state is a variable of batch 2 cannot take another batch.
    let cases = common::builder_cases();
    let case = cases.iter().find(|c| c.name == "rnn/f32_relu").expect("the RNN case");
    let mut m = case.model.clone();
    let e = make_batch_dynamic(&mut m).expect_err("a fixed state");
    assert!(matches!(&e, BatchError::Operator { op, .. } if op == "RNN"), "{e}");
    assert!(e.to_string().contains("variable tensor of batch 2"), "{e}");
    assert_eq!(m, case.model);
}
