//! Control flow: typed IF, WHILE and CALL_ONCE through the builders, the
//! writer, the reader and the evaluator, and the checks on the subgraph
//! indices they name (range, cycles, nesting depth, arity).

mod common;

use common::{call_once_model, if_model, while_loop_model};
use tflite_forge::eval::{EvalError, Evaluator, Value};
use tflite_forge::read::{read_with, ReadOptions};
use tflite_forge::validate::{validate, validate_with, ValidateOptions};
use tflite_forge::write::{write_unvalidated, WriteOptions};
use tflite_forge::*;

fn round_trip(m: &Model) -> Model {
    let bytes = write(m).expect("write");
    let back = read(&bytes).expect("read");
    assert_eq!(&back, m, "read(write(m)) != m");
    assert_eq!(write(&back).expect("rewrite"), bytes, "rewrite differs");
    back
}

/// `n` subgraphs with no tensors; subgraph `a` calls `b` with CALL_ONCE
/// for each `(a, b)`.
fn calls(n: usize, edges: impl IntoIterator<Item = (usize, u32)>) -> Model {
    let mut m = Model::default();
    m.subgraphs = (0..n).map(|_| Subgraph::default()).collect();
    for (a, b) in edges {
        m.subgraphs[a].operators.push(Operator::new(Op::CallOnce { init_subgraph: b }, &[], &[]));
    }
    m
}

fn chain(n: usize) -> Model {
    calls(n, (0..n - 1).map(|i| (i, i as u32 + 1)))
}

/// The op of subgraph 0's first operator, to tamper with.
fn first_op(m: &mut Model) -> &mut Op {
    &mut m.subgraphs[0].operators[0].op
}

#[test]
fn while_round_trips_typed() {
    let m = while_loop_model(10, &[2, 3]);
    let back = round_trip(&m);
    assert_eq!(back.subgraphs[0].operators[0].op, Op::While { cond_subgraph: 1, body_subgraph: 2 });
    assert_eq!(back.subgraphs[0].operators[0].op.name(), "WHILE");
}

#[test]
fn if_round_trips_typed() {
    for flag in [true, false] {
        let back = round_trip(&if_model(flag, &[4]));
        assert_eq!(back.subgraphs[0].operators[0].op, Op::If { then_subgraph: 1, else_subgraph: 2 });
    }
}

#[test]
fn call_once_round_trips_typed() {
    let back = round_trip(&call_once_model());
    assert_eq!(back.subgraphs[0].operators[0].op, Op::CallOnce { init_subgraph: 1 });
}

#[test]
fn control_flow_ops_are_version_1_and_set_the_runtime() {
    let bytes = write(&while_loop_model(3, &[1])).unwrap();
    let layout = read::inspect(&bytes).unwrap();
    let w = layout.op_codes.iter().find(|c| c.builtin_code == 119).expect("WHILE op code");
    assert_eq!(w.version, 1);
    assert_eq!(version::min_runtime_for(118, 1), Some("1.15.0"));
    assert_eq!(version::min_runtime_for(119, 1), Some("1.15.0"));
    assert_eq!(version::min_runtime_for(129, 1), Some("2.5.0"));
    assert_eq!(version::min_runtime_for(129, 2), None);
    assert_eq!(version::min_runtime_version(&call_once_model()), Some("2.5.0"));
}

#[test]
fn evaluator_runs_a_while_loop() {
    let m = while_loop_model(10, &[2, 3]);
    let x = Value::from_f32(vec![2, 3], vec![1.0, -2.0, 0.5, 3.0, 0.0, -0.25]);
    let out = Evaluator::new(&m).run(0, std::slice::from_ref(&x)).unwrap();
    assert_eq!(out[0].dtype, DType::I32);
    assert_eq!(out[0].data, [10.0]);
    assert_eq!(out[1].shape, [2, 3]);
    let expect: Vec<f32> = x.to_f32().iter().map(|v| v * 1024.0).collect();
    assert_eq!(out[1].to_f32(), expect);
    // A loop whose condition is false at once leaves the variables alone.
    let out = Evaluator::new(&while_loop_model(0, &[2, 3])).run(0, std::slice::from_ref(&x)).unwrap();
    assert_eq!(out[0].data, [0.0]);
    assert_eq!(out[1].to_f32(), x.to_f32());
}

#[test]
fn evaluator_takes_the_branch_the_condition_names() {
    let a = Value::from_f32(vec![3], vec![1.0, -2.0, 3.0]);
    let b = Value::from_f32(vec![3], vec![4.0, 5.0, -6.0]);
    let then = Evaluator::new(&if_model(true, &[3])).run(0, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(then[0].to_f32(), [5.0, 3.0, -3.0]);
    assert_eq!(then[1].to_f32(), [4.0, -10.0, -18.0]);
    let otherwise = Evaluator::new(&if_model(false, &[3])).run(0, &[a, b]).unwrap();
    assert_eq!(otherwise[0].to_f32(), [-3.0, -7.0, 9.0]);
    assert_eq!(otherwise[1].to_f32(), [4.0, 5.0, 3.0]);
}

#[test]
fn evaluator_bounds_while_iterations() {
    // `i < 1000` needs 1000 iterations.
    let m = while_loop_model(1000, &[1]);
    let x = Value::from_f32(vec![1], vec![0.0]);
    let err = Evaluator::new(&m).with_max_while_iterations(100).run(0, std::slice::from_ref(&x)).unwrap_err();
    assert!(matches!(err.root(), EvalError::LoopLimit { limit: 100 }), "{err}");
    assert!(err.to_string().contains("WHILE"), "{err}");
    // A condition that never turns false: `i < -1` as written (`-1 - i`
    // is never 0 counting up from 0) loops until the limit.
    let m = while_loop_model(-1, &[1]);
    let err = Evaluator::new(&m).with_max_while_iterations(10_000).run(0, std::slice::from_ref(&x)).unwrap_err();
    assert!(matches!(err.root(), EvalError::LoopLimit { limit: 10_000 }), "{err}");
    assert!(Evaluator::new(&while_loop_model(1000, &[1])).with_max_while_iterations(1000).run(0, &[x]).is_ok());
}

#[test]
fn evaluator_bounds_call_depth_of_unvalidated_models() {
    // A WHILE whose body is its own subgraph: validation rejects it, the
    // evaluator must still end.
    let mut m = while_loop_model(10, &[1]);
    *first_op(&mut m) = Op::While { cond_subgraph: 1, body_subgraph: 0 };
    assert!(validate(&m).is_err());
    let x = Value::from_f32(vec![1], vec![1.0]);
    // The body (subgraph 0) takes one input but gets two: an error, not a hang.
    assert!(Evaluator::new(&m).run(0, std::slice::from_ref(&x)).is_err());
    // An IF whose then branch is its own subgraph recurses until the limit.
    let mut m = if_model(true, &[1]);
    *first_op(&mut m) = Op::If { then_subgraph: 0, else_subgraph: 2 };
    let err = Evaluator::new(&m).with_max_subgraph_depth(20).run(0, &[x.clone(), x.clone()]).unwrap_err();
    assert!(matches!(err.root(), EvalError::Limit { .. }), "{err}");
    // With the default limit too, within a test thread's stack.
    let err = Evaluator::new(&m).run(0, &[x.clone(), x]).unwrap_err();
    assert!(matches!(err.root(), EvalError::Limit { .. }), "{err}");
}

#[test]
fn call_once_is_a_no_op_in_the_evaluator() {
    let out = Evaluator::new(&call_once_model()).run(0, &[Value::from_f32(vec![2], vec![-1.0, 2.0])]).unwrap();
    assert_eq!(out[0].to_f32(), [0.0, 2.0]);
}

#[test]
fn eval_op_refuses_control_flow() {
    let err = eval::eval_op(&Op::CallOnce { init_subgraph: 1 }, &[], &[]).unwrap_err();
    assert!(matches!(err, EvalError::Unsupported { .. }), "{err}");
}

#[test]
fn dead_code_removal_keeps_call_once() {
    let mut m = call_once_model();
    passes::optimize(&mut m);
    assert_eq!(m.subgraphs[0].operators[0].op, Op::CallOnce { init_subgraph: 1 });
}

#[test]
fn out_of_range_subgraph_index_is_rejected() {
    let mut m = while_loop_model(10, &[1]);
    *first_op(&mut m) = Op::While { cond_subgraph: 1, body_subgraph: 1_000_000_000 };
    let err = validate(&m).unwrap_err();
    assert!(matches!(err, ValidationError::Subgraph { at: Location { subgraph: 0, operator: Some(0), .. }, .. }), "{err}");
    assert!(err.to_string().contains("1000000000"), "{err}");
    // The same from a file.
    let bytes = write_unvalidated(&m, &WriteOptions::default()).unwrap();
    let err = read(&bytes).unwrap_err();
    assert!(matches!(err, Error::Invalid(ValidationError::Subgraph { .. })), "{err}");
    // Also when the reader is told not to validate.
    let mut o = ReadOptions::default();
    o.validate = false;
    assert!(matches!(read_with(&bytes, &o), Err(Error::Invalid(ValidationError::Subgraph { .. }))));
}

#[test]
fn self_referencing_while_is_a_cycle() {
    let mut m = while_loop_model(10, &[1]);
    *first_op(&mut m) = Op::While { cond_subgraph: 1, body_subgraph: 0 };
    match validate(&m) {
        Err(ValidationError::SubgraphCycle { cycle, at }) => {
            assert_eq!(cycle, [0, 0]);
            assert_eq!(at.subgraph, 0);
        }
        other => panic!("{other:?}"),
    }
    let bytes = write_unvalidated(&m, &WriteOptions::default()).unwrap();
    assert!(matches!(read(&bytes), Err(Error::Invalid(ValidationError::SubgraphCycle { .. }))));
}

#[test]
fn two_cycle_is_rejected_and_named() {
    // 0 → 1 → 2 → 1
    let m = calls(3, [(0, 1), (1, 2), (2, 1)]);
    let err = validate(&m).unwrap_err();
    match &err {
        ValidationError::SubgraphCycle { cycle, .. } => assert_eq!(cycle, &[1, 2, 1]),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("1 → 2 → 1"), "{err}");
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected() {
    // 66 subgraphs in a chain: 65 nested calls.
    let m = chain(66);
    match validate(&m) {
        Err(ValidationError::SubgraphDepth { depth: 65, limit: 64, chain }) => {
            assert_eq!(chain.len(), 66);
            assert_eq!(chain[0], 0);
        }
        other => panic!("{other:?}"),
    }
    assert!(validate(&chain(65)).is_ok());
    let mut o = ValidateOptions::default();
    o.max_subgraph_depth = 65;
    assert!(validate_with(&m, &o).is_ok());
    o.max_subgraph_depth = 3;
    assert!(matches!(validate_with(&chain(5), &o), Err(ValidationError::SubgraphDepth { depth: 4, limit: 3, .. })));

    // The reader applies its own limit.
    let bytes = write_unvalidated(&m, &WriteOptions::default()).unwrap();
    assert!(matches!(read(&bytes), Err(Error::Invalid(ValidationError::SubgraphDepth { depth: 65, .. }))));
    let mut r = ReadOptions::default();
    r.max_subgraph_depth = 65;
    assert_eq!(read_with(&bytes, &r).unwrap(), m);
    r.max_subgraph_depth = 10;
    r.validate = false;
    assert!(matches!(read_with(&bytes, &r), Err(Error::Invalid(ValidationError::SubgraphDepth { limit: 10, .. }))));
}

#[test]
fn hostile_chain_of_20000_subgraphs_gives_a_typed_error() {
    let m = chain(20_000);
    let bytes = write_unvalidated(&m, &WriteOptions::default()).unwrap();
    let err = read(&bytes).unwrap_err();
    match &err {
        // The search stops at the first chain over the limit.
        Error::Invalid(ValidationError::SubgraphDepth { depth, limit, chain }) => {
            assert_eq!((*depth, *limit), (65, 64));
            assert_eq!(chain.len(), 66);
            assert!(chain.windows(2).all(|w| w[1] == w[0] + 1), "{chain:?}");
        }
        other => panic!("{other:?}"),
    }
    // The message stays short.
    assert!(err.to_string().len() < 300, "{err}");
    // Accepted with a limit that allows it, still without deep recursion.
    let mut r = ReadOptions::default();
    r.max_subgraph_depth = usize::MAX;
    assert_eq!(read_with(&bytes, &r).unwrap().subgraphs.len(), 20_000);
    // And as a ring: a cycle through all of them.
    let ring = calls(20_000, (0..20_000).map(|i| (i, ((i + 1) % 20_000) as u32)));
    let bytes = write_unvalidated(&ring, &WriteOptions::default()).unwrap();
    match read(&bytes) {
        Err(Error::Invalid(ValidationError::SubgraphCycle { cycle, .. })) => assert_eq!(cycle.len(), 20_001),
        other => panic!("{other:?}"),
    }
}

#[test]
fn if_arity_mismatches_are_rejected() {
    // Fewer args than the branches take.
    let mut m = if_model(true, &[2]);
    m.subgraphs[0].operators[0].inputs.pop();
    let err = validate(&m).unwrap_err();
    assert!(matches!(err, ValidationError::Op { ref op, .. } if op == "IF"), "{err}");
    assert!(err.to_string().contains("has 1 args, but then subgraph 1 has 2 inputs"), "{err}");
    // Fewer outputs than the branches give.
    let mut m = if_model(true, &[2]);
    m.subgraphs[0].operators[0].outputs.pop();
    m.subgraphs[0].outputs.pop();
    m.signatures[0].outputs.pop();
    let err = validate(&m).unwrap_err();
    assert!(err.to_string().contains("has 1 outputs, but then subgraph 1 has 2 outputs"), "{err}");
    // An arg of another type than the branches take.
    let mut m = if_model(true, &[2]);
    let t = m.subgraphs[0].inputs[0];
    m.subgraphs[0].tensors[t.index()].dtype = DType::I32;
    let err = validate(&m).unwrap_err();
    assert!(err.to_string().contains("args 0 is INT32, but inputs 0 of then subgraph 1 is FLOAT32"), "{err}");
    // A condition that is not one bool.
    let mut m = if_model(true, &[2]);
    let c = m.subgraphs[0].operators[0].inputs[0].unwrap();
    m.subgraphs[0].tensors[c.index()].dtype = DType::U8;
    assert!(validate(&m).unwrap_err().to_string().contains("cond must be one bool"));
}

#[test]
fn while_arity_mismatches_are_rejected() {
    // A body that gives one value for two loop variables.
    let mut m = while_loop_model(10, &[2]);
    m.subgraphs[2].outputs.pop();
    let err = validate(&m).unwrap_err();
    assert!(err.to_string().contains("has 2 inputs, but body subgraph 2 has 1 outputs"), "{err}");
    // A cond that takes one variable.
    let mut m = while_loop_model(10, &[2]);
    m.subgraphs[1].inputs.pop();
    let err = validate(&m).unwrap_err();
    assert!(err.to_string().contains("has 2 inputs, but cond subgraph 1 has 1 inputs"), "{err}");
    // Outputs that do not match the inputs.
    let mut m = while_loop_model(10, &[2]);
    m.subgraphs[0].operators[0].outputs.pop();
    m.subgraphs[0].outputs.remove(1);
    m.signatures[0].outputs.remove(1);
    let err = validate(&m).unwrap_err();
    assert!(err.to_string().contains("has 2 inputs but 1 outputs"), "{err}");
    // A cond that gives a float.
    let mut m = while_loop_model(10, &[2]);
    let go = m.subgraphs[1].outputs[0];
    m.subgraphs[1].outputs[0] = m.subgraphs[1].inputs[1];
    let _ = go;
    let err = validate(&m).unwrap_err();
    assert!(err.to_string().contains("expected one bool"), "{err}");
}

#[test]
fn call_once_with_an_init_subgraph_that_has_inputs_is_rejected() {
    let mut m = call_once_model();
    *first_op(&mut m) = Op::CallOnce { init_subgraph: 0 };
    assert!(matches!(validate(&m), Err(ValidationError::SubgraphCycle { .. })));
    let mut m = calls(3, [(0, 1)]);
    m.subgraphs[1].tensors.push(Tensor::new("x", DType::F32, [1]));
    m.subgraphs[1].inputs.push(TensorId(0));
    m.subgraphs[1].outputs.push(TensorId(0));
    let err = validate(&m).unwrap_err();
    assert!(err.to_string().contains("init subgraph 1 has 1 inputs and 1 outputs, expected none"), "{err}");
}

#[test]
fn builders_require_finished_callees() {
    let mut b = ModelBuilder::new();
    let mut main = b.reserve_subgraph("main");
    let x = main.input("x", DType::F32, [1]);
    // Nothing finished: subgraph 1 does not exist; 0 is only reserved.
    for sg in [0, 1] {
        let err = main.while_loop(&b, sg, sg, &[x]).unwrap_err();
        assert!(matches!(err, ValidationError::Subgraph { .. }), "{err}");
        assert!(err.to_string().contains("not finished"), "{err}");
    }
    assert!(main.call_once(&b, 0).is_err());
    assert!(main.subgraph().operators.is_empty());
    assert_eq!(main.subgraph().tensors.len(), 1);
    main.output("x", x);
    // A reserved subgraph must be finished before the model.
    let b2 = {
        let mut b2 = ModelBuilder::new();
        let _unfinished = b2.reserve_subgraph("main");
        b2
    };
    let err = b2.finish().unwrap_err();
    assert!(err.to_string().contains("reserved but never finished"), "{err}");
    b.finish_subgraph(main).unwrap();
    assert!(b.finish().is_ok());
}

#[test]
fn builder_rejects_mismatched_branches_and_leaves_the_subgraph_unchanged() {
    let mut b = ModelBuilder::new();
    let mut main = b.reserve_subgraph("main");
    let mut one = b.subgraph("one");
    let x = one.input("x", DType::F32, [2]);
    one.output("x", x);
    let one = b.finish_subgraph(one).unwrap();
    let mut two = b.subgraph("two");
    let x = two.input("x", DType::F32, [2]);
    let y = two.input("y", DType::F32, [2]);
    two.output("x", x);
    two.output("y", y);
    let two = b.finish_subgraph(two).unwrap();
    let flag = main.input("flag", DType::Bool, Shape::scalar());
    let x = main.input("x", DType::F32, [2]);
    let before = main.subgraph().clone();
    // Branches with different arity.
    assert!(main.if_then_else(&b, flag, one, two, &[x]).is_err());
    // A condition that is not a bool.
    assert!(main.if_then_else(&b, x, one, one, &[x]).is_err());
    // A body that does not fit the loop variables.
    assert!(main.while_loop(&b, one, two, &[x]).is_err());
    assert_eq!(main.subgraph(), &before);
    // A good one: the outputs copy the branch's type and shape.
    let y = main.if_then_else(&b, flag, one, one, &[x]).unwrap();
    assert_eq!(main.tensor(y[0]).shape, Shape::new([2]));
}

#[test]
fn if_output_shapes_join_the_branches() {
    let mut b = ModelBuilder::new();
    let mut main = b.reserve_subgraph("main");
    let mut branch = |n: u32| {
        let mut g = b.subgraph("branch");
        let x = g.input("x", DType::F32, [n, 3]);
        g.output("x", x);
        b.finish_subgraph(g).unwrap()
    };
    let (p, q) = (branch(2), branch(5));
    let flag = main.input("flag", DType::Bool, [1]);
    let a = main.input("a", DType::F32, Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(3)]));
    let y = main.if_then_else(&b, flag, p, q, &[a]).unwrap();
    assert_eq!(main.tensor(y[0]).shape, Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(3)]));
    main.output("y", y[0]);
    b.finish_subgraph(main).unwrap();
    round_trip(&b.finish().unwrap());
}

