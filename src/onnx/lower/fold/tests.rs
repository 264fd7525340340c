use std::collections::HashMap;

use super::*;
use crate::build::ModelBuilder;
use crate::onnx::ir::{Attr, OGraph, ONode};

/// Folds one default-domain node whose inputs are the given constants and
/// returns its output value.
fn fold_node(op: &str, attrs: Vec<(String, Attr)>, inputs: Vec<TensorData>) -> Val {
    let graph = OGraph::default();
    let mb = ModelBuilder::new();
    let mut ctx = LowerCtx { g: mb.subgraph("main"), env: HashMap::new(), graph: &graph, materialized: HashMap::new(), shape_ops: HashMap::new(), dim_names: HashMap::new(), int8_views: HashMap::new(), qdq_fallbacks: Vec::new() };
    let mut names = Vec::new();
    for (i, d) in inputs.into_iter().enumerate() {
        let name = format!("in{i}");
        ctx.env.insert(name.clone(), Val::Const(d));
        names.push(name);
    }
    let onode = ONode { name: "n".into(), op_type: op.into(), domain: String::new(), inputs: names, outputs: vec!["y".into()], attrs };
    let node = Node { inner: &onode, opset: 17 };
    assert!(try_fold(&mut ctx, &node).expect("fold"), "{op} did not fold");
    ctx.env.remove("y").expect("output")
}

fn ints(v: &Val) -> (DType, Vec<i64>) {
    match v {
        Val::Const(d) => (d.dtype, d.to_i64().expect("integers")),
        other => panic!("not a constant: {other:?}"),
    }
}

const BIG: i64 = (1 << 53) + 1; // not representable in f64

#[test]
fn int64_add_above_2_pow_53_is_exact() {
    let a = TensorData::from_i64(vec![2], &[BIG, i64::MAX - 2]);
    let b = TensorData::from_i64(vec![], &[2]);
    let (dtype, v) = ints(&fold_node("Add", vec![], vec![a, b]));
    assert_eq!(dtype, DType::I64);
    assert_eq!(v, vec![BIG + 2, i64::MAX]);
}

#[test]
fn int64_arithmetic_and_comparisons_are_exact() {
    let a = || TensorData::from_i64(vec![], &[BIG]);
    let b = || TensorData::from_i64(vec![], &[BIG - 1]);
    assert_eq!(ints(&fold_node("Sub", vec![], vec![a(), b()])).1, vec![1]);
    assert_eq!(ints(&fold_node("Mul", vec![], vec![a(), TensorData::from_i64(vec![], &[3])])).1, vec![3 * BIG]);
    assert_eq!(ints(&fold_node("Div", vec![], vec![a(), TensorData::from_i64(vec![], &[-2])])).1, vec![-(BIG / 2)]);
    assert_eq!(ints(&fold_node("Max", vec![], vec![a(), b()])).1, vec![BIG]);
    assert_eq!(ints(&fold_node("Pow", vec![], vec![TensorData::from_i64(vec![], &[3]), TensorData::from_i64(vec![], &[39])])).1, vec![3i64.pow(39)]);
    // f64 would round both to 2^53 and call them equal.
    assert_eq!(ints(&fold_node("Equal", vec![], vec![a(), b()])), (DType::Bool, vec![0]));
    assert_eq!(ints(&fold_node("Greater", vec![], vec![a(), b()])), (DType::Bool, vec![1]));
    let m = ints(&fold_node("Mod", vec![], vec![TensorData::from_i64(vec![2], &[BIG, -BIG]), TensorData::from_i64(vec![], &[10])]));
    assert_eq!(m.1, vec![BIG.rem_euclid(10), (-BIG).rem_euclid(10)]);
}

#[test]
fn int64_moves_casts_and_ranges_are_exact() {
    let x = || TensorData::from_i64(vec![1], &[BIG]);
    let e = fold_node("Expand", vec![], vec![x(), TensorData::from_i64(vec![1], &[3])]);
    assert_eq!(ints(&e).1, vec![BIG; 3]);
    let cond = TensorData { dtype: DType::Bool, dims: vec![2], bytes: vec![1, 0] };
    let w = fold_node("Where", vec![], vec![cond, x(), TensorData::from_i64(vec![1], &[-BIG])]);
    assert_eq!(ints(&w).1, vec![BIG, -BIG]);
    let c = fold_node("Cast", vec![("to".into(), Attr::Int(7))], vec![TensorData::from_i32(vec![1], &[-5])]);
    assert_eq!(ints(&c), (DType::I64, vec![-5]));
    let c = fold_node("Cast", vec![("to".into(), Attr::Int(7))], vec![x()]);
    assert_eq!(ints(&c).1, vec![BIG]);
    let r = fold_node("Range", vec![], vec![TensorData::from_i64(vec![], &[BIG]), TensorData::from_i64(vec![], &[BIG + 5]), TensorData::from_i64(vec![], &[2])]);
    assert_eq!(ints(&r).1, vec![BIG, BIG + 2, BIG + 4]);
    let r = fold_node("Range", vec![], vec![TensorData::from_i64(vec![], &[5]), TensorData::from_i64(vec![], &[-2]), TensorData::from_i64(vec![], &[-3])]);
    assert_eq!(ints(&r).1, vec![5, 2, -1]);
    let k = fold_node("ConstantOfShape", vec![("value".into(), Attr::Tensor(x()))], vec![TensorData::from_i64(vec![1], &[2])]);
    assert_eq!(ints(&k).1, vec![BIG; 2]);
}

#[test]
fn floats_still_fold_in_f64() {
    let a = TensorData::from_f32(vec![2], &[1.5, -2.5]);
    let b = TensorData::from_f32(vec![], &[2.0]);
    let Val::Const(d) = fold_node("Div", vec![], vec![a, b]) else { panic!() };
    assert_eq!(d.to_f32(), Some(vec![0.75, -1.25]));
    // An integer Div truncates toward zero.
    assert_eq!(ints(&fold_node("Div", vec![], vec![TensorData::from_i32(vec![], &[-7]), TensorData::from_i32(vec![], &[2])])), (DType::I32, vec![-3]));
}

#[test]
fn the_table_names_each_op_once() {
    assert_eq!(FOLDABLE.len(), FOLDS.len());
    for (i, f) in FOLDS.iter().enumerate() {
        assert_eq!(FOLDABLE[i], f.op);
        assert!(f.shape.is_some() || f.dense.is_some(), "{} folds nothing", f.op);
        assert!(FOLDS.iter().filter(|g| g.op == f.op).count() == 1, "{} is listed twice", f.op);
    }
}
