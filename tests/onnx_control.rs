//! Control flow (If, Loop, Scan) and its forms: inlined, unrolled, or TFLite
//! IF / WHILE over subgraphs. Each model is converted and run in the
//! reference evaluator against values computed here.

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, Conversion, ConvertOptions, IoLayout};
use tflite_forge::{DType, Op};

const BOOL: i32 = 9;

fn convert_ok(b: OnnxBuilder) -> Conversion {
    let mut o = ConvertOptions::default();
    o.layout = IoLayout::KeepNchw;
    match convert(&b.build(), &o) {
        Ok(c) => c,
        Err(e) => panic!("conversion failed: {e}"),
    }
}

fn count(c: &Conversion, f: impl Fn(&Op) -> bool) -> usize {
    c.model.subgraphs.iter().flat_map(|s| &s.operators).filter(|o| f(&o.op)).count()
}

fn boolean(v: bool) -> Value {
    Value::new(DType::Bool, vec![], vec![f64::from(u8::from(v))])
}

/// then: x + 1, else: x * 2; `x` is read from the outer graph.
fn branches(b: &mut OnnxBuilder) -> Vec<onnx_protobuf::AttributeProto> {
    let mut t = OnnxBuilder::new(13);
    let one = t.init_f32("one", &[], &[1.0]);
    t.node_named("Add", &["x", &one], &["then_y"], vec![]);
    t.output("then_y", FLOAT, &[Some(3)]);
    let mut e = OnnxBuilder::new(13);
    let two = e.init_f32("two", &[], &[2.0]);
    e.node_named("Mul", &["x", &two], &["else_y"], vec![]);
    e.output("else_y", FLOAT, &[Some(3)]);
    let _ = b;
    vec![attr_graph("then_branch", t.into_graph("then")), attr_graph("else_branch", e.into_graph("else"))]
}

#[test]
fn if_with_a_run_time_condition_becomes_tflite_if_over_two_subgraphs() {
    let mut b = OnnxBuilder::new(13);
    b.input("c", BOOL, &[]);
    b.input("x", FLOAT, &[Some(3)]);
    let attrs = branches(&mut b);
    b.node_named("If", &["c"], &["y"], attrs);
    b.output("y", FLOAT, &[Some(3)]);
    let c = convert_ok(b);
    assert_eq!(count(&c, |o| matches!(o, Op::If { .. })), 1);
    assert_eq!(c.model.subgraphs.len(), 3);
    assert!(c.report.node_forms.iter().any(|(_, f)| f.starts_with("IF")), "{:?}", c.report.node_forms);
    let x = Value::from_f32(vec![3], vec![1.0, -2.0, 0.5]);
    let e = Evaluator::new(&c.model);
    assert_eq!(e.run(0, &[boolean(true), x.clone()]).unwrap()[0].to_f32(), [2.0, -1.0, 1.5]);
    assert_eq!(e.run(0, &[boolean(false), x]).unwrap()[0].to_f32(), [2.0, -4.0, 1.0]);
}

#[test]
fn if_with_a_constant_condition_inlines_the_branch_it_takes() {
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(3)]);
    let c = b.init_bool("c", &[], &[false]);
    let attrs = branches(&mut b);
    b.node_named("If", &[&c], &["y"], attrs);
    b.output("y", FLOAT, &[Some(3)]);
    let c = convert_ok(b);
    assert_eq!(count(&c, |o| matches!(o, Op::If { .. })), 0);
    assert_eq!(c.model.subgraphs.len(), 1);
    let y = Evaluator::new(&c.model).run(0, &[Value::from_f32(vec![3], vec![1.0, -2.0, 0.5])]).unwrap();
    assert_eq!(y[0].to_f32(), [2.0, -4.0, 1.0]);
}

/// A Loop body: acc_out = acc_in + x * (i + 1) (x from the outer graph),
/// scan output acc_out.
fn loop_body() -> onnx_protobuf::GraphProto {
    let mut g = OnnxBuilder::new(13);
    g.input("i", INT64, &[]);
    g.input("cond_in", BOOL, &[]);
    g.input("acc_in", FLOAT, &[Some(2)]);
    let one = g.init_i64("one_i", &[], &[1]);
    let i1 = g.node("Add", &["i", &one], vec![]);
    let f = g.node("Cast", &[&i1], vec![attr_int("to", 1)]);
    let xi = g.node("Mul", &["x", &f], vec![]);
    g.node_named("Add", &["acc_in", &xi], &["acc_out"], vec![]);
    g.node_named("Identity", &["cond_in"], &["cond_out"], vec![]);
    g.node_named("Identity", &["acc_out"], &["scan_out"], vec![]);
    g.output("cond_out", BOOL, &[]);
    g.output("acc_out", FLOAT, &[Some(2)]);
    g.output("scan_out", FLOAT, &[Some(2)]);
    g.into_graph("body")
}

/// acc after n iterations and the scan rows, computed directly.
fn loop_reference(x: [f32; 2], n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut acc = [0.0f32; 2];
    let mut rows = Vec::new();
    for i in 0..n {
        for k in 0..2 {
            acc[k] += x[k] * (i + 1) as f32;
        }
        rows.extend_from_slice(&acc);
    }
    (acc.to_vec(), rows)
}

#[test]
fn loop_with_a_constant_trip_count_is_unrolled() {
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(2)]);
    let m = b.init_i64("m", &[], &[3]);
    let zero = b.init_f32("zero", &[2], &[0.0, 0.0]);
    b.node_named("Loop", &[&m, "", &zero], &["acc", "rows"], vec![attr_graph("body", loop_body())]);
    b.output("acc", FLOAT, &[Some(2)]);
    b.output("rows", FLOAT, &[Some(3), Some(2)]);
    let c = convert_ok(b);
    assert_eq!(count(&c, |o| matches!(o, Op::While { .. })), 0);
    assert!(c.report.node_forms.iter().any(|(_, f)| f == "unrolled over 3 iterations"), "{:?}", c.report.node_forms);
    let y = Evaluator::new(&c.model).run(0, &[Value::from_f32(vec![2], vec![1.0, -0.5])]).unwrap();
    let (acc, rows) = loop_reference([1.0, -0.5], 3);
    assert_eq!(y[0].to_f32(), acc);
    assert_eq!(y[1].to_f32(), rows);
    assert_eq!(y[1].shape, [3, 2]);
}

#[test]
fn loop_with_a_run_time_trip_count_becomes_while() {
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(2)]);
    b.input("m", INT64, &[]);
    let zero = b.init_f32("zero", &[2], &[0.0, 0.0]);
    b.node_named("Loop", &["m", "", &zero], &["acc", "rows"], vec![attr_graph("body", loop_body())]);
    b.output("acc", FLOAT, &[Some(2)]);
    b.output("rows", FLOAT, &[None, Some(2)]);
    let c = convert_ok(b);
    assert_eq!(count(&c, |o| matches!(o, Op::While { .. })), 1);
    let e = Evaluator::new(&c.model);
    for n in [0usize, 1, 5] {
        let m = Value::new(DType::I64, vec![], vec![n as f64]);
        let y = e.run(0, &[Value::from_f32(vec![2], vec![2.0, 0.25]), m]).unwrap();
        let (acc, rows) = loop_reference([2.0, 0.25], n);
        assert_eq!(y[0].to_f32(), acc, "n = {n}");
        assert_eq!(y[1].to_f32(), rows, "n = {n}");
        assert_eq!(y[1].shape, [n, 2]);
    }
}

#[test]
fn scan_is_unrolled_with_directions_and_axes() {
    // Running sum over the rows of x [3, 2], in reverse, output on axis 1.
    let mut g = OnnxBuilder::new(13);
    g.input("s_in", FLOAT, &[Some(2)]);
    g.input("row", FLOAT, &[Some(2)]);
    g.node_named("Add", &["s_in", "row"], &["s_out"], vec![]);
    g.node_named("Identity", &["s_out"], &["y_row"], vec![]);
    g.output("s_out", FLOAT, &[Some(2)]);
    g.output("y_row", FLOAT, &[Some(2)]);
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(3), Some(2)]);
    let s0 = b.init_f32("s0", &[2], &[10.0, 20.0]);
    b.node_named(
        "Scan",
        &[&s0, "x"],
        &["s", "y"],
        vec![attr_graph("body", g.into_graph("body")), attr_int("num_scan_inputs", 1), attr_ints("scan_input_directions", &[1]), attr_ints("scan_output_axes", &[1])],
    );
    b.output("s", FLOAT, &[Some(2)]);
    b.output("y", FLOAT, &[Some(2), Some(3)]);
    let c = convert_ok(b);
    let y = Evaluator::new(&c.model).run(0, &[Value::from_f32(vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])]).unwrap();
    assert_eq!(y[0].to_f32(), [19.0, 32.0]);
    // Rows visited 2, 1, 0: sums [15, 26], [18, 30], [19, 32]; stacked on axis 1.
    assert_eq!(y[1].shape, [2, 3]);
    assert_eq!(y[1].to_f32(), [15.0, 18.0, 19.0, 26.0, 30.0, 32.0]);
}

#[test]
fn nested_control_flow_an_if_inside_a_while_loop_reads_the_outer_graph() {
    // Loop body: acc += x on even iterations, acc -= x on odd ones, by an If
    // whose branches read `x` from the outermost graph.
    let mut t = OnnxBuilder::new(13);
    t.node_named("Add", &["acc_in", "x"], &["t_acc"], vec![]);
    t.output("t_acc", FLOAT, &[Some(2)]);
    let mut e = OnnxBuilder::new(13);
    e.node_named("Sub", &["acc_in", "x"], &["e_acc"], vec![]);
    e.output("e_acc", FLOAT, &[Some(2)]);
    let mut g = OnnxBuilder::new(13);
    g.input("i", INT64, &[]);
    g.input("cond_in", BOOL, &[]);
    g.input("acc_in", FLOAT, &[Some(2)]);
    let two = g.init_i64("two", &[], &[2]);
    let zero = g.init_i64("zero_i", &[], &[0]);
    let m = g.node("Mod", &["i", &two], vec![]);
    let even = g.node("Equal", &[&m, &zero], vec![]);
    g.node_named("If", &[&even], &["acc_out"], vec![attr_graph("then_branch", t.into_graph("then")), attr_graph("else_branch", e.into_graph("else"))]);
    g.node_named("Identity", &["cond_in"], &["cond_out"], vec![]);
    g.output("cond_out", BOOL, &[]);
    g.output("acc_out", FLOAT, &[Some(2)]);
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(2)]);
    b.input("m", INT64, &[]);
    let z = b.init_f32("z", &[2], &[0.0, 0.0]);
    b.node_named("Loop", &["m", "", &z], &["acc"], vec![attr_graph("body", g.into_graph("body"))]);
    b.output("acc", FLOAT, &[Some(2)]);
    let c = convert_ok(b);
    assert_eq!(count(&c, |o| matches!(o, Op::While { .. })), 1);
    assert_eq!(count(&c, |o| matches!(o, Op::If { .. })), 1);
    let ev = Evaluator::new(&c.model);
    for n in [0usize, 1, 2, 5] {
        let y = ev.run(0, &[Value::from_f32(vec![2], vec![1.5, -2.0]), Value::new(DType::I64, vec![], vec![n as f64])]).unwrap();
        let s: f32 = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).sum();
        assert_eq!(y[0].to_f32(), [1.5 * s, -2.0 * s], "n = {n}");
    }
}

#[test]
fn scan_over_a_dynamic_length_becomes_while() {
    // The same running sum as the unrolled test, over a length known only
    // at run time: reverse input direction, output on axis 1.
    let mut g = OnnxBuilder::new(13);
    g.input("s_in", FLOAT, &[Some(2)]);
    g.input("row", FLOAT, &[Some(2)]);
    g.node_named("Add", &["s_in", "row"], &["s_out"], vec![]);
    g.node_named("Identity", &["s_out"], &["y_row"], vec![]);
    g.output("s_out", FLOAT, &[Some(2)]);
    g.output("y_row", FLOAT, &[Some(2)]);
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[None, Some(2)]);
    let s0 = b.init_f32("s0", &[2], &[10.0, 20.0]);
    b.node_named(
        "Scan",
        &[&s0, "x"],
        &["s", "y"],
        vec![attr_graph("body", g.into_graph("body")), attr_int("num_scan_inputs", 1), attr_ints("scan_input_directions", &[1]), attr_ints("scan_output_axes", &[1])],
    );
    b.output("s", FLOAT, &[Some(2)]);
    b.output("y", FLOAT, &[Some(2), None]);
    let c = convert_ok(b);
    assert_eq!(count(&c, |o| matches!(o, Op::While { .. })), 1);
    let ev = Evaluator::new(&c.model);
    let y = ev.run(0, &[Value::from_f32(vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])]).unwrap();
    assert_eq!(y[0].to_f32(), [19.0, 32.0]);
    assert_eq!(y[1].shape, [2, 3]);
    assert_eq!(y[1].to_f32(), [15.0, 18.0, 19.0, 26.0, 30.0, 32.0]);
    let y = ev.run(0, &[Value::from_f32(vec![1, 2], vec![-1.0, 1.0])]).unwrap();
    assert_eq!(y[0].to_f32(), [9.0, 21.0]);
    assert_eq!(y[1].shape, [2, 1]);
}

#[test]
fn while_loop_scan_outputs_without_declared_types_are_probed_from_the_body() {
    // tf2onnx-style bodies often declare no type or shape for their
    // outputs: the scan output's element type and shape come from the body.
    let mut body = loop_body();
    body.output[2].type_ = None.into();
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(2)]);
    b.input("m", INT64, &[]);
    let zero = b.init_f32("zero", &[2], &[0.0, 0.0]);
    b.node_named("Loop", &["m", "", &zero], &["acc", "rows"], vec![attr_graph("body", body)]);
    b.output("acc", FLOAT, &[Some(2)]);
    b.output("rows", FLOAT, &[None, Some(2)]);
    let c = convert_ok(b);
    assert_eq!(count(&c, |o| matches!(o, Op::While { .. })), 1);
    let e = Evaluator::new(&c.model);
    for n in [0usize, 3] {
        let y = e.run(0, &[Value::from_f32(vec![2], vec![1.0, 2.0]), Value::new(DType::I64, vec![], vec![n as f64])]).unwrap();
        let (acc, rows) = loop_reference([1.0, 2.0], n);
        assert_eq!(y[0].to_f32(), acc);
        assert_eq!(y[1].to_f32(), rows);
        assert_eq!(y[1].shape, [n, 2]);
    }
}

#[test]
fn while_loop_scan_outputs_with_a_dynamic_batch_are_gathered_flat_and_shaped_after() {
    // A Keras GRU through tf2onnx: a Loop whose carried state is [batch,
    // hidden] with a dynamic batch, and whose scan output (the state per
    // step) declares no shape. The rows are gathered flat and reshaped to
    // [iterations, batch, hidden] after the loop.
    let mut g = OnnxBuilder::new(13);
    g.input("i", INT64, &[]);
    g.input("cond_in", BOOL, &[]);
    g.input("acc_in", FLOAT, &[None, Some(2)]);
    let one = g.init_i64("one_i", &[], &[1]);
    let i1 = g.node("Add", &["i", &one], vec![]);
    let f = g.node("Cast", &[&i1], vec![attr_int("to", 1)]);
    let xi = g.node("Mul", &["x", &f], vec![]);
    g.node_named("Add", &["acc_in", &xi], &["acc_out"], vec![]);
    g.node_named("Identity", &["cond_in"], &["cond_out"], vec![]);
    g.node_named("Identity", &["acc_out"], &["scan_out"], vec![]);
    g.output("cond_out", BOOL, &[]);
    g.output("acc_out", FLOAT, &[None, Some(2)]);
    g.output("scan_out", FLOAT, &[None, Some(2)]);
    let mut body = g.into_graph("body");
    body.output[2].type_ = None.into();
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[None, Some(2)]);
    b.input("m", INT64, &[]);
    b.node_named("Loop", &["m", "", "x"], &["acc", "rows"], vec![attr_graph("body", body)]);
    b.output("acc", FLOAT, &[None, Some(2)]);
    b.output("rows", FLOAT, &[None, None, Some(2)]);
    let c = convert_ok(b);
    assert_eq!(count(&c, |o| matches!(o, Op::While { .. })), 1);
    let e = Evaluator::new(&c.model);
    for (batch, n) in [(1usize, 1usize), (3, 4)] {
        let x: Vec<f32> = (0..batch * 2).map(|k| k as f32 * 0.5 - 1.0).collect();
        let y = e.run(0, &[Value::from_f32(vec![batch, 2], x.clone()), Value::new(DType::I64, vec![], vec![n as f64])]).unwrap();
        // acc_0 = x; acc_{i+1} = acc_i + x * (i + 1).
        let mut acc = x.clone();
        let mut rows = Vec::new();
        for i in 0..n {
            for k in 0..acc.len() {
                acc[k] += x[k] * (i + 1) as f32;
            }
            rows.extend_from_slice(&acc);
        }
        assert_eq!(y[0].to_f32(), acc);
        assert_eq!(y[1].shape, [n, batch, 2]);
        assert_eq!(y[1].to_f32(), rows);
    }
}
