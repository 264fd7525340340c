//! LSTM, GRU and RNN in both forms: a sequence of static length is unrolled
//! and a dynamic one runs in a WHILE loop. The unrolled form matches the
//! ONNX backend node tests in LiteRT (conformance); here the WHILE form must
//! give the same numbers as the unrolled one on the same weights and inputs,
//! with and without `sequence_lens`, in each direction.

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, Conversion, ConvertOptions, IoLayout};
use tflite_forge::Op;

const INT32: i32 = 6;

fn convert_ok(bytes: Vec<u8>) -> Conversion {
    let mut o = ConvertOptions::default();
    o.layout = IoLayout::KeepNchw;
    match convert(&bytes, &o) {
        Ok(c) => c,
        Err(e) => panic!("conversion failed: {e}"),
    }
}

/// Deterministic weights in [-0.5, 0.5).
fn weights(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 1000) as f32 / 1000.0 - 0.5
        })
        .collect()
}

/// An `op` model over X `[T, B, I]` (T static or dynamic) with constant
/// weights and biases, optional sequence_lens input.
fn model(op: &str, gates: usize, t: Option<i64>, direction: &str, with_lens: bool, extra: Vec<onnx_protobuf::AttributeProto>) -> Vec<u8> {
    let (b, i, h) = (2i64, 3i64, 4i64);
    let dirs = if direction == "bidirectional" { 2 } else { 1 };
    let g = gates as i64 * h;
    let mut m = OnnxBuilder::new(14);
    m.input("x", FLOAT, &[t, Some(b), Some(i)]);
    let w = m.init_f32("w", &[dirs, g, i], &weights((dirs * g * i) as usize, 1));
    let r = m.init_f32("r", &[dirs, g, h], &weights((dirs * g * h) as usize, 2));
    let bias = m.init_f32("b", &[dirs, 2 * g], &weights((dirs * 2 * g) as usize, 3));
    let lens = if with_lens {
        m.input("lens", INT32, &[Some(b)]);
        "lens".to_string()
    } else {
        String::new()
    };
    let mut attrs = vec![attr_int("hidden_size", h), attr_str("direction", direction)];
    attrs.extend(extra);
    m.node_named(op, &["x", &w, &r, &bias, &lens], &["y", "y_h"], attrs);
    m.output("y", FLOAT, &[t, Some(dirs), Some(b), Some(h)]);
    m.output("y_h", FLOAT, &[Some(dirs), Some(b), Some(h)]);
    m.build()
}

fn run(c: &Conversion, x: &[f32], t: usize, lens: Option<&[i32]>) -> Vec<Vec<f32>> {
    let mut inputs = vec![Value::from_f32(vec![t, 2, 3], x.to_vec())];
    if let Some(l) = lens {
        inputs.push(Value::from_i32(vec![2], l.to_vec()));
    }
    Evaluator::new(&c.model).run(0, &inputs).expect("evaluation succeeds").iter().map(|v| v.to_f32()).collect()
}

fn check(op: &str, gates: usize, direction: &str, lens: Option<&[i32]>, extra: Vec<onnx_protobuf::AttributeProto>) {
    let t = 5usize;
    let x = weights(t * 2 * 3, 9).iter().map(|v| v * 4.0).collect::<Vec<_>>();
    let unrolled = convert_ok(model(op, gates, Some(t as i64), direction, lens.is_some(), extra.clone()));
    let looped = convert_ok(model(op, gates, None, direction, lens.is_some(), extra));
    let whiles = |c: &Conversion| c.model.subgraphs.iter().flat_map(|s| &s.operators).filter(|o| matches!(o.op, Op::While { .. })).count();
    assert_eq!(whiles(&unrolled), 0);
    assert!(whiles(&looped) >= 1, "{op}: a dynamic sequence runs in a WHILE loop");
    let a = run(&unrolled, &x, t, lens);
    let b = run(&looped, &x, t, lens);
    for (k, (ya, yb)) in a.iter().zip(&b).enumerate() {
        assert_eq!(ya.len(), yb.len());
        for (p, q) in ya.iter().zip(yb) {
            assert!((p - q).abs() <= 1e-5, "{op} {direction} output {k}: unrolled {p} vs WHILE {q}");
        }
        assert!(ya.iter().any(|v| v.abs() > 1e-3), "{op} output {k} is not trivially zero");
    }
    if let Some(l) = lens {
        // Past each batch entry's length, Y is 0.
        let y = &b[0];
        let dirs = if direction == "bidirectional" { 2 } else { 1 };
        for step in 0..t {
            for d in 0..dirs {
                for batch in 0..2 {
                    let row = &y[((step * dirs + d) * 2 + batch) * 4..][..4];
                    if step as i32 >= l[batch] {
                        assert!(row.iter().all(|v| *v == 0.0), "step {step} batch {batch}: {row:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn lstm_while_matches_unrolled() {
    check("LSTM", 4, "forward", None, vec![]);
    check("LSTM", 4, "bidirectional", Some(&[5, 3]), vec![]);
    check("LSTM", 4, "reverse", None, vec![attr_float("clip", 0.5)]);
}

#[test]
fn gru_while_matches_unrolled() {
    check("GRU", 3, "forward", None, vec![]);
    check("GRU", 3, "bidirectional", None, vec![attr_int("linear_before_reset", 1)]);
    check("GRU", 3, "reverse", Some(&[2, 4]), vec![]);
}

#[test]
fn rnn_while_matches_unrolled() {
    check("RNN", 1, "forward", Some(&[1, 5]), vec![]);
    check("RNN", 1, "bidirectional", None, vec![]);
}

#[test]
fn the_report_names_the_form() {
    let c = convert_ok(model("LSTM", 4, None, "forward", false, vec![]));
    assert!(c.report.node_forms.iter().any(|(_, f)| f == "WHILE over the sequence"), "{:?}", c.report.node_forms);
    let c = convert_ok(model("LSTM", 4, Some(3), "forward", false, vec![]));
    assert!(c.report.node_forms.iter().any(|(_, f)| f == "unrolled over 3 steps"), "{:?}", c.report.node_forms);
    // No persistent (variable) state: each run starts from the ONNX initial state.
    assert!(c.model.subgraphs.iter().flat_map(|s| &s.tensors).all(|t| !t.is_variable));
}
