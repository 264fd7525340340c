//! ONNX lowerings beyond the CNN set: small models built in memory,
//! converted, and run in the reference evaluator against hand-computed or
//! independently computed values; and the cases that must be rejected, by
//! reason code.

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions, IoLayout, ReasonCode};
use tflite_forge::{Model, Op};

const INT32: i32 = 6;
const BOOL: i32 = 9;
const BFLOAT16: i32 = 16;
const UINT8: i32 = 2;

fn dims(d: &[i64]) -> Vec<Option<i64>> {
    d.iter().map(|v| Some(*v)).collect()
}

fn input(shape: &[usize], data: Vec<f32>) -> Value {
    Value::from_f32(shape.to_vec(), data)
}

fn seq(n: usize, scale: f32, offset: f32) -> Vec<f32> {
    (0..n).map(|i| i as f32 * scale + offset).collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "element {i}: got {g}, want {w} (all: {got:?})");
    }
}

fn has_op(m: &Model, f: impl Fn(&Op) -> bool) -> bool {
    m.subgraphs[0].operators.iter().any(|o| f(&o.op))
}

/// A one-node float model: input `x` of `shape`, output `y`.
fn unary(opset: i64, op: &str, shape: &[i64], attrs: Vec<onnx_protobuf::AttributeProto>) -> OnnxBuilder {
    let mut b = OnnxBuilder::new(opset);
    let x = b.input("x", FLOAT, &dims(shape));
    b.node_named(op, &[&x], &["y"], attrs);
    b.output("y", FLOAT, &dims(shape));
    b
}

fn run_unary(opset: i64, op: &str, shape: &[usize], data: Vec<f32>, attrs: Vec<onnx_protobuf::AttributeProto>) -> Vec<f64> {
    let s: Vec<i64> = shape.iter().map(|d| *d as i64).collect();
    let m = to_model(unary(opset, op, &s, attrs));
    run(&m, vec![input(shape, data)]).remove(0).data
}

// ---------------------------------------------------------------------------
// Elementwise
// ---------------------------------------------------------------------------

#[test]
fn max_and_min_chain_their_inputs_with_broadcasting() {
    for (op, f) in [("Max", f32::max as fn(f32, f32) -> f32), ("Min", f32::min)] {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[2, 3]));
        let c1 = b.init_f32("c1", &[3], &[0.5, -1.0, 2.0]);
        let c2 = b.init_f32("c2", &[2, 1], &[-0.25, 1.0]);
        b.node_named(op, &[&x, &c1, &c2], &["y"], vec![]);
        b.output("y", FLOAT, &dims(&[2, 3]));
        let m = to_model(b);
        let xs = vec![1.0, -2.0, 0.0, -3.0, 4.0, 1.5];
        let got = run(&m, vec![input(&[2, 3], xs.clone())]).remove(0);
        let (c1, c2) = ([0.5, -1.0, 2.0], [-0.25, 1.0]);
        let want: Vec<f64> = (0..6).map(|i| f64::from(f(f(xs[i], c1[i % 3]), c2[i / 3]))).collect();
        assert_eq!(got.data, want, "{op}");
        assert_eq!(m.subgraphs[0].operators.len(), 2, "{op}: two chained ops");
    }
}

#[test]
fn clip_with_general_bounds_uses_maximum_and_minimum() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[5]));
    let lo = b.init_f32("lo", &[], &[-0.5]);
    let hi = b.init_f32("hi", &[], &[0.7]);
    b.node_named("Clip", &[&x, &lo, &hi], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[5]));
    let m = to_model(b);
    assert!(has_op(&m, |o| *o == Op::Maximum) && has_op(&m, |o| *o == Op::Minimum));
    let got = run(&m, vec![input(&[5], vec![-2.0, -0.5, 0.1, 0.7, 3.0])]).remove(0);
    assert_eq!(got.to_f32(), [-0.5, -0.5, 0.1, 0.7, 0.7]);

    // Only an upper bound: one MINIMUM.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3]));
    let hi = b.init_f32("hi", &[], &[0.25]);
    b.node_named("Clip", &[&x, "", &hi], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[3]));
    let m = to_model(b);
    assert_eq!(m.subgraphs[0].operators.len(), 1);
    assert_eq!(run(&m, vec![input(&[3], vec![-9.0, 0.2, 0.3])]).remove(0).to_f32(), [-9.0, 0.2, 0.25]);

    // min > max gives max everywhere, as ONNX defines.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3]));
    let lo = b.init_f32("lo", &[], &[1.0]);
    let hi = b.init_f32("hi", &[], &[-1.0]);
    b.node_named("Clip", &[&x, &lo, &hi], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[3]));
    assert_eq!(run(&to_model(b), vec![input(&[3], vec![-5.0, 0.0, 5.0])]).remove(0).to_f32(), [-1.0, -1.0, -1.0]);

    // Attributes before opset 11; [0, 6] stays RELU6.
    let m = to_model(unary(6, "Clip", &[4], vec![attr_float("min", -1.0), attr_float("max", 1.0)]));
    assert_eq!(run(&m, vec![input(&[4], vec![-3.0, -0.3, 0.1, 2.0])]).remove(0).to_f32(), [-1.0, -0.3, 0.1, 1.0]);
    let m = to_model(unary(6, "Clip", &[2], vec![attr_float("min", 0.0), attr_float("max", 6.0)]));
    assert!(has_op(&m, |o| *o == Op::Relu6));
}

#[test]
fn leaky_relu_prelu_and_gelu() {
    let got = run_unary(13, "LeakyRelu", &[4], vec![-2.0, -0.5, 0.0, 3.0], vec![attr_float("alpha", 0.1)]);
    assert_close(&got, &[-0.2, -0.05, 0.0, 3.0], 1e-7);
    let got = run_unary(13, "LeakyRelu", &[2], vec![-1.0, 1.0], vec![]);
    assert_close(&got, &[-0.01, 1.0], 1e-7);

    // PRelu with a [C, 1, 1] slope on NCHW.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, 2, 2, 2]));
    let s = b.init_f32("slope", &[2, 1, 1], &[0.5, -2.0]);
    b.node_named("PRelu", &[&x, &s], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[1, 2, 2, 2]));
    let m = to_model(b);
    let xs = vec![-1.0, 2.0, -3.0, 4.0, -1.0, 2.0, -3.0, 4.0];
    let got = run(&m, vec![input(&[1, 2, 2, 2], xs)]).remove(0);
    assert_eq!(got.to_f32(), [-0.5, 2.0, -1.5, 4.0, 2.0, 2.0, 6.0, 4.0]);

    // Gelu, exact and tanh (opset 20); reference values of x·Φ(x).
    let got = run_unary(20, "Gelu", &[4], vec![-1.0, 0.0, 0.5, 1.0], vec![]);
    assert_close(&got, &[-0.158_655_253_931_457_05, 0.0, 0.345_731_168_423_507_8, 0.841_344_746_068_542_9], 1e-6);
    let got = run_unary(20, "Gelu", &[2], vec![-1.0, 1.0], vec![attr_str("approximate", "tanh")]);
    let t = |x: f64| 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh());
    assert_close(&got, &[t(-1.0), t(1.0)], 1e-6);
}

#[test]
fn exp_sqrt_neg_abs_reciprocal() {
    let xs = vec![0.25f32, 1.0, 4.0, 9.0];
    let f = |op: &str| run_unary(13, op, &[4], xs.clone(), vec![]);
    assert_close(&f("Exp"), &xs.iter().map(|v| f64::from(*v).exp()).collect::<Vec<_>>(), 1e-6);
    assert_close(&f("Sqrt"), &[0.5, 1.0, 2.0, 3.0], 1e-7);
    assert_close(&f("Neg"), &[-0.25, -1.0, -4.0, -9.0], 0.0);
    assert_close(&f("Reciprocal"), &[4.0, 1.0, 0.25, 1.0 / 9.0], 1e-7);
    assert_close(&run_unary(13, "Abs", &[3], vec![-2.5, 0.0, 3.0], vec![]), &[2.5, 0.0, 3.0], 0.0);
}

#[test]
fn cast_truncates_and_tests_for_nonzero() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[4]));
    b.node_named("Cast", &[&x], &["y"], vec![attr_int("to", i64::from(INT32))]);
    b.output("y", INT32, &dims(&[4]));
    let m = to_model(b);
    assert_eq!(run(&m, vec![input(&[4], vec![-2.7, -0.5, 0.9, 3.99])]).remove(0).data, [-2.0, 0.0, 0.0, 3.0]);

    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3]));
    b.node_named("Cast", &[&x], &["y"], vec![attr_int("to", i64::from(BOOL))]);
    b.output("y", BOOL, &dims(&[3]));
    let m = to_model(b);
    assert_eq!(run(&m, vec![input(&[3], vec![0.0, -0.1, 2.0])]).remove(0).data, [0.0, 1.0, 1.0]);
}

// ---------------------------------------------------------------------------
// Split, Slice, Gather
// ---------------------------------------------------------------------------

fn split_model(opset: i64, attrs: Vec<onnx_protobuf::AttributeProto>, split_input: Option<&[i64]>, n: usize) -> OnnxBuilder {
    let mut b = OnnxBuilder::new(opset);
    let x = b.input("x", FLOAT, &dims(&[2, 7]));
    let names: Vec<String> = (0..n).map(|i| format!("y{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let s = split_input.map(|v| b.init_i64("split", &[v.len() as i64], v));
    let mut ins = vec![x.as_str()];
    if let Some(s) = &s {
        ins.push(s);
    }
    b.node_named("Split", &ins, &refs, attrs);
    for n in &names {
        b.output(n, FLOAT, &[Some(2), None]);
    }
    b
}

#[test]
fn split_by_attribute_input_and_num_outputs() {
    let xs = seq(14, 1.0, 0.0);
    let cols = |out: &Value, from: usize, n: usize| {
        assert_eq!(out.shape, [2, n]);
        let want: Vec<f64> = (0..2).flat_map(|r| (from..from + n).map(move |c| (r * 7 + c) as f64)).collect();
        assert_eq!(out.data, want);
    };
    for (b, parts) in [
        (split_model(11, vec![attr_int("axis", 1), attr_ints("split", &[2, 4, 1])], None, 3), vec![2, 4, 1]),
        (split_model(13, vec![attr_int("axis", -1)], Some(&[3, 4]), 2), vec![3, 4]),
        (split_model(18, vec![attr_int("axis", 1), attr_int("num_outputs", 3)], None, 3), vec![3, 3, 1]),
    ] {
        let m = to_model(b);
        assert!(has_op(&m, |o| matches!(o, Op::SplitV { .. })));
        let outs = run(&m, vec![input(&[2, 7], xs.clone())]);
        assert_eq!(outs.len(), parts.len());
        let mut from = 0;
        for (o, n) in outs.iter().zip(&parts) {
            cols(o, from, *n);
            from += n;
        }
    }
}

/// ONNX Slice on one axis, written out independently: the selected indices.
fn onnx_slice_indices(n: i64, start: i64, end: i64, step: i64) -> Vec<i64> {
    let fix = |v: i64, lo: i64, hi: i64| (if v < 0 { v + n } else { v }).clamp(lo, hi);
    let (s, e) = if step > 0 { (fix(start, 0, n), fix(end, 0, n)) } else { (fix(start, 0, n - 1), fix(end, -1, n - 1)) };
    let mut v = Vec::new();
    let mut i = s;
    while (step > 0 && i < e) || (step < 0 && i > e) {
        v.push(i);
        i += step;
    }
    v
}

#[test]
fn slice_matches_onnx_clamping_on_static_dims() {
    let xs = seq(4 * 6, 1.0, 0.0);
    for (start, end, step) in [(1, 5, 2), (-1, -7, -1), (-2, i64::MIN, -2), (-10, 3, 1), (5, -100, -3), (0, i64::MAX, 3), (2, 4, 1)] {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[4, 6]));
        let s = b.init_i64("s", &[1], &[start]);
        let e = b.init_i64("e", &[1], &[end]);
        let a = b.init_i64("a", &[1], &[1]);
        let t = b.init_i64("t", &[1], &[step]);
        b.node_named("Slice", &[&x, &s, &e, &a, &t], &["y"], vec![]);
        b.output("y", FLOAT, &[Some(4), None]);
        let m = to_model(b);
        let cols = onnx_slice_indices(6, start, end, step);
        let got = run(&m, vec![input(&[4, 6], xs.clone())]).remove(0);
        let want: Vec<f64> = (0..4).flat_map(|r| cols.iter().map(move |c| (r * 6 + *c) as f64)).collect();
        assert_eq!(got.data, want, "slice {start}:{end}:{step}");
    }
}

#[test]
fn slice_by_attributes_and_on_a_dynamic_batch() {
    let mut b = OnnxBuilder::new(9);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    b.node_named("Slice", &[&x], &["y"], vec![attr_ints("starts", &[1, -3]), attr_ints("ends", &[100, -1]), attr_ints("axes", &[0, 1])]);
    b.output("y", FLOAT, &dims(&[2, 2]));
    let got = run(&to_model(b), vec![input(&[3, 4], seq(12, 1.0, 0.0))]).remove(0);
    assert_eq!(got.shape, [2, 2]);
    assert_eq!(got.data, [5.0, 6.0, 9.0, 10.0]);

    // x[1:] on a symbolic batch.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(2)]);
    let s = b.init_i64("s", &[1], &[1]);
    let e = b.init_i64("e", &[1], &[i64::MAX]);
    let a = b.init_i64("a", &[1], &[0]);
    b.node_named("Slice", &[&x, &s, &e, &a], &["y"], vec![]);
    b.output("y", FLOAT, &[None, Some(2)]);
    let m = to_model(b);
    let got = run(&m, vec![input(&[4, 2], seq(8, 1.0, 0.0))]).remove(0);
    assert_eq!(got.shape, [3, 2]);
    assert_eq!(got.data, [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
}

#[test]
fn gather_with_negative_and_scalar_indices() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let i = b.init_i64("i", &[2, 2], &[0, -1, 2, 1]);
    b.node_named("Gather", &[&x, &i], &["y"], vec![attr_int("axis", 1)]);
    b.output("y", FLOAT, &dims(&[3, 2, 2]));
    let got = run(&to_model(b), vec![input(&[3, 4], seq(12, 1.0, 0.0))]).remove(0);
    assert_eq!(got.shape, [3, 2, 2]);
    assert_eq!(got.data, [0.0, 3.0, 2.0, 1.0, 4.0, 7.0, 6.0, 5.0, 8.0, 11.0, 10.0, 9.0]);

    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let i = b.init_i64("i", &[], &[-2]);
    b.node_named("Gather", &[&x, &i], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[4]));
    let got = run(&to_model(b), vec![input(&[3, 4], seq(12, 1.0, 0.0))]).remove(0);
    assert_eq!(got.shape, [4]);
    assert_eq!(got.data, [4.0, 5.0, 6.0, 7.0]);
}

// ---------------------------------------------------------------------------
// ConvTranspose
// ---------------------------------------------------------------------------

/// ONNX ConvTranspose (group 1, dilation 1) written out naively on NCHW:
/// input pixel (y, x) adds w[c, o, ky, kx] at output (y·s − pad + ky, …).
#[allow(clippy::too_many_arguments)]
fn naive_conv_transpose(x: &[f32], [n, c, h, w]: [usize; 4], wt: &[f32], (o, kh, kw): (usize, usize, usize), bias: &[f32], s: [usize; 2], pad_begin: [usize; 2], out: [usize; 2]) -> Vec<f64> {
    let mut y = vec![0.0f64; n * o * out[0] * out[1]];
    for b in 0..n {
        for ci in 0..c {
            for iy in 0..h {
                for ix in 0..w {
                    let v = f64::from(x[((b * c + ci) * h + iy) * w + ix]);
                    for co in 0..o {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let oy = (iy * s[0] + ky) as i64 - pad_begin[0] as i64;
                                let ox = (ix * s[1] + kx) as i64 - pad_begin[1] as i64;
                                if oy < 0 || ox < 0 || oy >= out[0] as i64 || ox >= out[1] as i64 {
                                    continue;
                                }
                                let wv = f64::from(wt[((ci * o + co) * kh + ky) * kw + kx]);
                                y[((b * o + co) * out[0] + oy as usize) * out[1] + ox as usize] += v * wv;
                            }
                        }
                    }
                }
            }
        }
    }
    for (i, v) in y.iter_mut().enumerate() {
        *v += f64::from(bias[(i / (out[0] * out[1])) % o]);
    }
    y
}

#[test]
fn conv_transpose_matches_the_naive_formula() {
    let (c, o, kh, kw) = (2usize, 3usize, 3usize, 2usize);
    let wt = seq(c * o * kh * kw, 0.05, -0.4);
    let bias = [0.1f32, -0.2, 0.3];
    let (h, w) = (3usize, 4usize);
    let xs = seq(c * h * w, 0.1, -1.0);
    // (strides, pads [t, l, b, r], output_padding)
    // Weights and bias constant, then as run-time inputs.
    let cases = [([2, 2], [1, 0, 1, 0], [0, 0]), ([2, 1], [0, 1, 2, 0], [1, 0]), ([1, 1], [0, 0, 0, 0], [0, 0]), ([3, 2], [2, 1, 1, 0], [2, 1])];
    for (runtime, (s, pads, op)) in [false, true].into_iter().flat_map(|r| cases.into_iter().map(move |c| (r, c))) {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[1, c as i64, h as i64, w as i64]));
        let wdims = [c as i64, o as i64, kh as i64, kw as i64];
        let wn = if runtime { b.input("w", FLOAT, &dims(&wdims)) } else { b.init_f32("w", &wdims, &wt) };
        let bn = if runtime { b.input("b", FLOAT, &dims(&[o as i64])) } else { b.init_f32("b", &[o as i64], &bias) };
        let attrs = vec![attr_ints("strides", &[s[0], s[1]]), attr_ints("pads", &pads), attr_ints("output_padding", &op)];
        b.node_named("ConvTranspose", &[&x, &wn, &bn], &["y"], attrs);
        let out = [
            (s[0] as usize) * (h - 1) + op[0] as usize + kh - (pads[0] + pads[2]) as usize,
            (s[1] as usize) * (w - 1) + op[1] as usize + kw - (pads[1] + pads[3]) as usize,
        ];
        b.output("y", FLOAT, &dims(&[1, o as i64, out[0] as i64, out[1] as i64]));
        let m = to_model(b);
        assert!(has_op(&m, |op| matches!(op, Op::TransposeConv(_))));
        let mut inputs = vec![input(&[1, c, h, w], xs.clone())];
        if runtime {
            inputs.push(input(&[c, o, kh, kw], wt.clone()));
            inputs.push(input(&[o], bias.to_vec()));
        }
        let got = run(&m, inputs).remove(0);
        assert_eq!(got.shape, [1, o, out[0], out[1]], "strides {s:?} pads {pads:?}");
        let want = naive_conv_transpose(&xs, [1, c, h, w], &wt, (o, kh, kw), &bias, [s[0] as usize, s[1] as usize], [pads[0] as usize, pads[1] as usize], out);
        assert_close(&got.data, &want, 1e-5);
    }
}

#[test]
fn conv_transpose_output_shape_larger_than_full_gets_bias_rows() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, 1, 2, 2]));
    let wn = b.init_f32("w", &[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
    let bn = b.init_f32("b", &[1], &[0.5]);
    b.node_named("ConvTranspose", &[&x, &wn, &bn], &["y"], vec![attr_ints("strides", &[2, 2]), attr_ints("output_shape", &[5, 4])]);
    b.output("y", FLOAT, &dims(&[1, 1, 5, 4]));
    let got = run(&to_model(b), vec![input(&[1, 1, 2, 2], vec![1.0, 1.0, 1.0, 1.0])]).remove(0);
    assert_eq!(got.shape, [1, 1, 5, 4]);
    let mut want = vec![1.5, 2.5, 1.5, 2.5, 3.5, 4.5, 3.5, 4.5, 1.5, 2.5, 1.5, 2.5, 3.5, 4.5, 3.5, 4.5];
    want.extend([0.5; 4]);
    assert_eq!(got.data, want);
}

// ---------------------------------------------------------------------------
// Resize, Upsample
// ---------------------------------------------------------------------------

fn resize_model(opset: i64, attrs: Vec<onnx_protobuf::AttributeProto>, scales: Option<&[f32]>, sizes: Option<&[i64]>, in_hw: [i64; 2], out_hw: [i64; 2]) -> OnnxBuilder {
    let mut b = OnnxBuilder::new(opset);
    let x = b.input("x", FLOAT, &dims(&[1, 1, in_hw[0], in_hw[1]]));
    let s = scales.map(|v| b.init_f32("scales", &[4], v)).unwrap_or_default();
    let z = sizes.map(|v| b.init_i64("sizes", &[4], v)).unwrap_or_default();
    b.node_named("Resize", &[&x, "", &s, &z], &["y"], attrs);
    b.output("y", FLOAT, &dims(&[1, 1, out_hw[0], out_hw[1]]));
    b
}

#[test]
fn resize_nearest_and_linear() {
    let xs = vec![1.0f32, 2.0, 3.0, 4.0];
    // Nearest, asymmetric + floor, ×2: each pixel repeated.
    let attrs = vec![attr_str("mode", "nearest"), attr_str("coordinate_transformation_mode", "asymmetric"), attr_str("nearest_mode", "floor")];
    let m = to_model(resize_model(13, attrs, Some(&[1.0, 1.0, 2.0, 2.0]), None, [2, 2], [4, 4]));
    assert!(has_op(&m, |o| matches!(o, Op::ResizeNearestNeighbor(_))));
    let got = run(&m, vec![input(&[1, 1, 2, 2], xs.clone())]).remove(0);
    assert_eq!(got.to_f32(), [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 3.0, 3.0, 4.0, 4.0]);

    // The ONNX default (half_pixel, round_prefer_floor) for whole upscale factors.
    let m = to_model(resize_model(13, vec![], None, Some(&[1, 1, 6, 2]), [2, 2], [6, 2]));
    let got = run(&m, vec![input(&[1, 1, 2, 2], xs.clone())]).remove(0);
    assert_eq!(got.to_f32(), [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0]);

    // Linear, align_corners, 2×2 → 3×3: the midpoints.
    let attrs = vec![attr_str("mode", "linear"), attr_str("coordinate_transformation_mode", "align_corners")];
    let m = to_model(resize_model(13, attrs, None, Some(&[1, 1, 3, 3]), [2, 2], [3, 3]));
    assert!(has_op(&m, |o| matches!(o, Op::ResizeBilinear(_))));
    let got = run(&m, vec![input(&[1, 1, 2, 2], xs.clone())]).remove(0);
    assert_close(&got.data, &[1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0, 3.5, 4.0], 1e-6);

    // Linear, half_pixel, 1×2 → 1×4: x_in = (x + 0.5) / 2 − 0.5, clamped.
    let attrs = vec![attr_str("mode", "linear")];
    let m = to_model(resize_model(13, attrs, Some(&[1.0, 1.0, 1.0, 2.0]), None, [1, 2], [1, 4]));
    let got = run(&m, vec![input(&[1, 1, 1, 2], vec![10.0, 20.0])]).remove(0);
    assert_close(&got.data, &[10.0, 12.5, 17.5, 20.0], 1e-6);

    // Upsample (opset 9): nearest, asymmetric floor.
    let mut b = OnnxBuilder::new(9);
    let x = b.input("x", FLOAT, &dims(&[1, 1, 1, 2]));
    let s = b.init_f32("scales", &[4], &[1.0, 1.0, 2.0, 3.0]);
    b.node_named("Upsample", &[&x, &s], &["y"], vec![attr_str("mode", "nearest")]);
    b.output("y", FLOAT, &dims(&[1, 1, 2, 6]));
    let got = run(&to_model(b), vec![input(&[1, 1, 1, 2], vec![5.0, 6.0])]).remove(0);
    assert_eq!(got.to_f32(), [5.0, 5.0, 5.0, 6.0, 6.0, 6.0, 5.0, 5.0, 5.0, 6.0, 6.0, 6.0]);
}

// ---------------------------------------------------------------------------
// MatMul, reductions, Pad
// ---------------------------------------------------------------------------

fn naive_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut y = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            y[i * n + j] = (0..k).map(|t| f64::from(a[i * k + t]) * f64::from(b[t * n + j])).sum();
        }
    }
    y
}

#[test]
fn matmul_of_two_tensors_is_batch_matmul() {
    let mut b = OnnxBuilder::new(13);
    let a = b.input("a", FLOAT, &dims(&[2, 2, 3]));
    let c = b.input("b", FLOAT, &dims(&[3, 4]));
    b.node_named("MatMul", &[&a, &c], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[2, 2, 4]));
    let m = to_model(b);
    assert!(has_op(&m, |o| matches!(o, Op::BatchMatMul(_))));
    let (av, bv) = (seq(12, 0.5, -2.0), seq(12, -0.25, 1.0));
    let got = run(&m, vec![input(&[2, 2, 3], av.clone()), input(&[3, 4], bv.clone())]).remove(0);
    assert_eq!(got.shape, [2, 2, 4]);
    let mut want = naive_matmul(&av[..6], &bv, 2, 3, 4);
    want.extend(naive_matmul(&av[6..], &bv, 2, 3, 4));
    assert_close(&got.data, &want, 1e-6);

    // A 1-D left operand: [3] × [2, 3, 4] → [2, 4].
    let mut b = OnnxBuilder::new(13);
    let a = b.input("a", FLOAT, &dims(&[3]));
    let c = b.input("b", FLOAT, &dims(&[2, 3, 4]));
    b.node_named("MatMul", &[&a, &c], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[2, 4]));
    let bv = seq(24, 0.1, -1.0);
    let got = run(&to_model(b), vec![input(&[3], vec![1.0, 2.0, 3.0]), input(&[2, 3, 4], bv.clone())]).remove(0);
    assert_eq!(got.shape, [2, 4]);
    let mut want = naive_matmul(&[1.0, 2.0, 3.0], &bv[..12], 1, 3, 4);
    want.extend(naive_matmul(&[1.0, 2.0, 3.0], &bv[12..], 1, 3, 4));
    assert_close(&got.data, &want, 1e-6);
}

#[test]
fn reduce_max_and_sum() {
    let xs = vec![1.0f32, 5.0, -2.0, 4.0, 0.5, 3.0];
    let m = to_model(unary(13, "ReduceMax", &[2, 3], vec![attr_ints("axes", &[1]), attr_int("keepdims", 0)]));
    assert_eq!(run(&m, vec![input(&[2, 3], xs.clone())]).remove(0).data, [5.0, 4.0]);

    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &dims(&[2, 3]));
    let a = b.init_i64("axes", &[1], &[0]);
    b.node_named("ReduceMax", &[&x, &a], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[1, 3]));
    let got = run(&to_model(b), vec![input(&[2, 3], xs.clone())]).remove(0);
    assert_eq!((got.shape.clone(), got.data), (vec![1, 3], vec![4.0, 5.0, 3.0]));

    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 3]));
    let a = b.init_i64("axes", &[1], &[-1]);
    b.node_named("ReduceSum", &[&x, &a], &["y"], vec![attr_int("keepdims", 0)]);
    b.output("y", FLOAT, &dims(&[2]));
    let m = to_model(b);
    assert!(has_op(&m, |o| matches!(o, Op::Sum { .. })));
    assert_close(&run(&m, vec![input(&[2, 3], xs.clone())]).remove(0).data, &[4.0, 7.5], 1e-7);

    // Opset 11: axes attribute; no axes reduces everything.
    let m = to_model(unary(11, "ReduceSum", &[2, 3], vec![]));
    let got = run(&m, vec![input(&[2, 3], xs)]).remove(0);
    assert_eq!(got.shape, [1, 1]);
    assert_close(&got.data, &[11.5], 1e-7);
}

fn pad_model(opset: i64, mode: &str, pads: &[i64], value: Option<f32>) -> OnnxBuilder {
    let mut b = OnnxBuilder::new(opset);
    let x = b.input("x", FLOAT, &dims(&[2, 3]));
    let p = b.init_i64("pads", &[pads.len() as i64], pads);
    let v = value.map(|v| b.init_f32("value", &[], &[v])).unwrap_or_default();
    b.node_named("Pad", &[&x, &p, &v], &["y"], vec![attr_str("mode", mode)]);
    b.output("y", FLOAT, &[None, None]);
    b
}

#[test]
fn pad_with_a_value_and_by_reflection() {
    let xs = vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let m = to_model(pad_model(13, "constant", &[0, 1, 1, 0], Some(-1.5)));
    assert!(has_op(&m, |o| *o == Op::PadV2));
    let got = run(&m, vec![input(&[2, 3], xs.clone())]).remove(0);
    assert_eq!(got.shape, [3, 4]);
    assert_eq!(got.to_f32(), [-1.5, 1.0, 2.0, 3.0, -1.5, 4.0, 5.0, 6.0, -1.5, -1.5, -1.5, -1.5]);

    let m = to_model(pad_model(13, "reflect", &[1, 2, 0, 1], None));
    assert!(has_op(&m, |o| matches!(o, Op::MirrorPad { .. })));
    let got = run(&m, vec![input(&[2, 3], xs.clone())]).remove(0);
    assert_eq!(got.shape, [3, 6]);
    // numpy.pad(x, ((1, 0), (2, 1)), mode="reflect")
    assert_eq!(got.to_f32(), [6.0, 5.0, 4.0, 5.0, 6.0, 5.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 6.0, 5.0, 4.0, 5.0, 6.0, 5.0]);

    // A zero constant stays PAD.
    let m = to_model(pad_model(13, "constant", &[0, 1, 0, 0], Some(0.0)));
    assert!(has_op(&m, |o| *o == Op::Pad));
}

// ---------------------------------------------------------------------------
// What must be rejected
// ---------------------------------------------------------------------------

#[test]
fn unsupported_attributes_are_rejected() {
    // Resize that TFLite's RESIZE_* cannot compute exactly (cubic, nearest
    // modes it lacks, scales that do not give a whole size,
    // tf_crop_and_resize) is computed with GATHERs instead of refused.
    let floor_hp = vec![attr_str("coordinate_transformation_mode", "half_pixel"), attr_str("nearest_mode", "floor")];
    let asym = vec![attr_str("coordinate_transformation_mode", "asymmetric"), attr_str("nearest_mode", "floor")];
    let crop = vec![attr_str("mode", "linear"), attr_str("coordinate_transformation_mode", "tf_crop_and_resize")];
    for b in [
        resize_model(13, vec![attr_str("mode", "cubic")], None, Some(&[1, 1, 4, 4]), [2, 2], [4, 4]),
        resize_model(13, vec![], None, Some(&[1, 1, 3, 3]), [2, 2], [3, 3]),
        resize_model(13, floor_hp, None, Some(&[1, 1, 4, 4]), [2, 2], [4, 4]),
        resize_model(13, asym, Some(&[1.0, 1.0, 0.6, 1.0]), None, [4, 4], [2, 4]),
    ] {
        let m = to_model(b);
        assert!(has_op(&m, |o| matches!(o, Op::Gather(_))) && !has_op(&m, |o| matches!(o, Op::ResizeBilinear(_) | Op::ResizeNearestNeighbor(_))));
    }
    // tf_crop_and_resize needs its roi (input 1).
    assert_eq!(reason(resize_model(13, crop, None, Some(&[1, 1, 4, 4]), [2, 2], [4, 4])), ReasonCode::InvalidNode);
    // Gelu with an unknown approximation.
    assert_eq!(reason(unary(20, "Gelu", &[2], vec![attr_str("approximate", "erf")])), ReasonCode::UnsupportedAttribute);
}

fn conv_transpose(attrs: Vec<onnx_protobuf::AttributeProto>, w_dims: [i64; 4], const_w: bool) -> OnnxBuilder {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, 2, 3, 3]));
    let n: i64 = w_dims.iter().product();
    let w = if const_w { b.init_f32("w", &w_dims, &vec![0.5; n as usize]) } else { b.input("w", FLOAT, &dims(&w_dims)) };
    b.node_named("ConvTranspose", &[&x, &w], &["y"], attrs);
    b.output("y", FLOAT, &[None, None, None, None]);
    b
}

#[test]
fn conv_transpose_limits() {
    // Groups that do not divide the input channels.
    assert_eq!(reason(conv_transpose(vec![attr_int("group", 3)], [2, 1, 2, 2], true)), ReasonCode::InvalidNode);
    assert_eq!(reason(conv_transpose(vec![attr_ints("dilations", &[0, 2])], [2, 1, 2, 2], true)), ReasonCode::UnsupportedAttribute);
    // Run-time weights of a dynamic shape.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, 2, 3, 3]));
    let w = b.input("w", FLOAT, &[Some(2), None, Some(2), Some(2)]);
    b.node_named("ConvTranspose", &[&x, &w], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
    // SAME with an odd total padding: ONNX's spec and onnxruntime differ.
    let same = vec![attr_str("auto_pad", "SAME_UPPER"), attr_ints("strides", &[2, 2])];
    assert_eq!(reason(conv_transpose(same, [2, 1, 3, 3], true)), ReasonCode::UnsupportedAttribute);
    // An even one converts.
    let same = vec![attr_str("auto_pad", "SAME_UPPER"), attr_ints("strides", &[2, 2])];
    let m = to_model(conv_transpose(same, [2, 1, 4, 4], true));
    let out = &m.subgraphs[0].tensors[m.subgraphs[0].outputs[0].index()];
    assert_eq!(out.shape.as_fixed(), Some(vec![1, 1, 6, 6]));
    // An output_shape smaller than the full output is ambiguous.
    assert_eq!(reason(conv_transpose(vec![attr_ints("output_shape", &[3, 3])], [2, 1, 2, 2], true)), ReasonCode::UnsupportedAttribute);
}

#[test]
fn unsupported_types_and_shapes_are_rejected() {
    let cast = |from: i32, to: i32| {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", from, &dims(&[2]));
        b.node_named("Cast", &[&x], &["y"], vec![attr_int("to", i64::from(to))]);
        b.output("y", to, &dims(&[2]));
        b
    };
    assert_eq!(reason(cast(FLOAT, BFLOAT16)), ReasonCode::UnsupportedDtype);
    assert_eq!(reason(cast(FLOAT, 17)), ReasonCode::UnsupportedDtype); // float8
    assert_eq!(reason(cast(FLOAT, UINT8)), ReasonCode::UnsupportedDtype);
    // float64 has no exact float32 form.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", 11, &dims(&[2]));
    let y = b.input("z", 11, &dims(&[2]));
    b.node_named("Max", &[&x, &y], &["y"], vec![]);
    b.output("y", 11, &dims(&[2]));
    assert_eq!(reason(b), ReasonCode::UnsupportedDtype);
    // PRelu on rank 5.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, 2, 2, 2, 2]));
    let s = b.init_f32("s", &[1], &[0.1]);
    b.node_named("PRelu", &[&x, &s], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[1, 2, 2, 2, 2]));
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
    // An empty Slice, a zero-size Split part, ReduceMax over an empty axis.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[4]));
    let s = b.init_i64("s", &[1], &[3]);
    let e = b.init_i64("e", &[1], &[1]);
    b.node_named("Slice", &[&x, &s, &e], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[0]));
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
    assert_eq!(reason(split_model(13, vec![attr_int("axis", 1)], Some(&[0, 7]), 2)), ReasonCode::UnsupportedShape);
    let m = unary(13, "ReduceMax", &[2, 0], vec![attr_ints("axes", &[1])]);
    assert_eq!(reason(m), ReasonCode::UnsupportedShape);
}

#[test]
fn gather_with_run_time_indices_on_a_dynamic_axis_reads_its_size_at_run_time() {
    // Negative indices count from the end of an axis known only at run time.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(2)]);
    let i = b.input("i", INT64, &dims(&[3]));
    b.node_named("Gather", &[&x, &i], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[3, 2]));
    let m = to_model(b);
    for n in [3usize, 5] {
        let xv = seq(n * 2, 1.0, 0.0);
        let idx = tflite_forge::eval::Value::new(tflite_forge::DType::I64, vec![3], vec![-1.0, 0.0, -2.0]);
        let got = run(&m, vec![input(&[n, 2], xv.clone()), idx]).remove(0);
        let row = |r: usize| vec![f64::from(xv[2 * r]), f64::from(xv[2 * r + 1])];
        let want: Vec<f64> = [row(n - 1), row(0), row(n - 2)].concat();
        assert_eq!(got.data, want, "batch {n}");
    }
}

#[test]
fn non_constant_parameters_are_rejected() {
    // Slice with run-time starts of a dynamic length.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3]));
    let s = b.input("s", INT64, &[None]);
    let e = b.init_i64("e", &[1], &[2]);
    b.node_named("Slice", &[&x, &s, &e], &["y"], vec![]);
    b.output("y", FLOAT, &[None]);
    assert_eq!(reason(b), ReasonCode::InputMustBeConstant);

    // Resize with run-time scales is computed with GATHERs (see
    // tests/onnx_resize.rs for its values).
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, 1, 2, 2]));
    let s = b.input("scales", FLOAT, &dims(&[4]));
    b.node_named("Resize", &[&x, "", &s], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    assert!(has_op(&to_model(b), |o| matches!(o, Op::Gather(_))));
}

// ---------------------------------------------------------------------------
// Comparisons, logic, Where, math, ArgMax/ArgMin, ReduceMin/Prod, Expand,
// CastLike, Sum, Mod
// ---------------------------------------------------------------------------


fn first_op(m: &Model) -> &Op {
    &m.subgraphs[0].operators[0].op
}

#[test]
fn comparisons_emit_their_ops_with_bool_outputs() {
    for (onnx, opset, op, want) in [
        ("Equal", 13, Op::Equal, [false, true, false, false]),
        ("Less", 13, Op::Less, [true, false, false, true]),
        ("LessOrEqual", 16, Op::LessEqual, [true, true, false, true]),
        ("Greater", 13, Op::Greater, [false, false, true, false]),
        ("GreaterOrEqual", 16, Op::GreaterEqual, [false, true, true, false]),
    ] {
        let mut b = OnnxBuilder::new(opset);
        let x = b.input("x", FLOAT, &dims(&[2, 2]));
        let c = b.init_f32("c", &[2], &[0.5, 1.0]);
        b.node_named(onnx, &[&x, &c], &["y"], vec![]);
        b.output("y", BOOL, &dims(&[2, 2]));
        let m = to_model(b);
        assert_eq!(*first_op(&m), op, "{onnx}");
        let out = &m.subgraphs[0].tensors[m.subgraphs[0].outputs[0].index()];
        assert_eq!(out.dtype, tflite_forge::DType::Bool, "{onnx}");
        let got = run(&m, vec![input(&[2, 2], vec![0.0, 1.0, 2.0, -1.0])]).remove(0);
        let want: Vec<f64> = want.iter().map(|b| f64::from(u8::from(*b))).collect();
        assert_eq!(got.data, want, "{onnx}");
    }
    // int64 operands keep their type (an int64 constant is not narrowed).
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", INT64, &dims(&[3]));
    let c = b.init_i64("c", &[1], &[2]);
    b.node_named("Equal", &[&x, &c], &["y"], vec![]);
    b.output("y", BOOL, &dims(&[3]));
    let m = to_model(b);
    let sg = &m.subgraphs[0];
    let ins = &sg.operators[0].inputs;
    assert!(ins.iter().flatten().all(|t| sg.tensors[t.index()].dtype == tflite_forge::DType::I64));
    let got = run(&m, vec![Value::new(tflite_forge::DType::I64, vec![3], vec![1.0, 2.0, 3.0])]).remove(0);
    assert_eq!(got.data, [0.0, 1.0, 0.0]);
    // uint64 comparisons are rejected by type (no exact wider type).
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", 13, &dims(&[3]));
    let y = b.input("z", 13, &dims(&[3]));
    b.node_named("Less", &[&x, &y], &["y"], vec![]);
    b.output("y", BOOL, &dims(&[3]));
    assert_eq!(reason(b), ReasonCode::UnsupportedDtype);
}

#[test]
fn logic_ops_and_where() {
    let bools = |v: &[u8]| Value::new(tflite_forge::DType::Bool, vec![v.len()], v.iter().map(|x| f64::from(*x)).collect());
    for (onnx, op, want) in [
        ("And", Op::LogicalAnd, [0.0, 0.0, 0.0, 1.0]),
        ("Or", Op::LogicalOr, [0.0, 1.0, 1.0, 1.0]),
        ("Xor", Op::NotEqual, [0.0, 1.0, 1.0, 0.0]),
    ] {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("a", BOOL, &dims(&[4]));
        let y = b.input("b", BOOL, &dims(&[4]));
        b.node_named(onnx, &[&x, &y], &["y"], vec![]);
        b.output("y", BOOL, &dims(&[4]));
        let m = to_model(b);
        assert_eq!(*first_op(&m), op, "{onnx}");
        let got = run(&m, vec![bools(&[0, 0, 1, 1]), bools(&[0, 1, 0, 1])]).remove(0);
        assert_eq!(got.data, want, "{onnx}");
    }
    let mut b = OnnxBuilder::new(13);
    let x = b.input("a", BOOL, &dims(&[2]));
    b.node_named("Not", &[&x], &["y"], vec![]);
    b.output("y", BOOL, &dims(&[2]));
    let m = to_model(b);
    assert_eq!(*first_op(&m), Op::LogicalNot);
    assert_eq!(run(&m, vec![bools(&[0, 1])]).remove(0).data, [1.0, 0.0]);
    // And on floats is not a thing in TFLite.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("a", FLOAT, &dims(&[2]));
    let y = b.input("b", FLOAT, &dims(&[2]));
    b.node_named("And", &[&x, &y], &["y"], vec![]);
    b.output("y", BOOL, &dims(&[2]));
    assert_eq!(reason(b), ReasonCode::UnsupportedDtype);

    // Where broadcasts its three inputs: [2, 1] condition, [3] x, scalar y.
    let mut b = OnnxBuilder::new(16);
    let c = b.input("c", BOOL, &dims(&[2, 1]));
    let x = b.input("x", FLOAT, &dims(&[3]));
    let y = b.init_f32("y0", &[], &[-1.0]);
    b.node_named("Where", &[&c, &x, &y], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[2, 3]));
    let m = to_model(b);
    assert_eq!(*first_op(&m), Op::SelectV2);
    let cond = Value::new(tflite_forge::DType::Bool, vec![2, 1], vec![1.0, 0.0]);
    let got = run(&m, vec![cond, input(&[3], vec![1.0, 2.0, 3.0])]).remove(0);
    assert_eq!(got.shape, [2, 3]);
    assert_eq!(got.to_f32(), [1.0, 2.0, 3.0, -1.0, -1.0, -1.0]);
}

#[test]
fn log_sin_cos_pow_and_log_softmax() {
    let xs = vec![0.5f32, 1.0, 2.0, 3.0];
    let f = |op: &str| run_unary(13, op, &[4], xs.clone(), vec![]);
    assert_close(&f("Log"), &xs.iter().map(|v| f64::from(*v).ln()).collect::<Vec<_>>(), 1e-6);
    assert_close(&f("Sin"), &xs.iter().map(|v| f64::from(*v).sin()).collect::<Vec<_>>(), 1e-6);
    assert_close(&f("Cos"), &xs.iter().map(|v| f64::from(*v).cos()).collect::<Vec<_>>(), 1e-6);
    let m = to_model(unary(13, "Log", &[4], vec![]));
    assert_eq!(*first_op(&m), Op::Log);

    // Pow by a constant 2 is a MUL; by a tensor a POW; an int64 exponent is
    // cast to float32 first.
    let mut b = OnnxBuilder::new(15);
    let x = b.input("x", FLOAT, &dims(&[3]));
    let two = b.init_f32("two", &[], &[2.0]);
    b.node_named("Pow", &[&x, &two], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[3]));
    let m = to_model(b);
    assert!(has_op(&m, |o| matches!(o, Op::Mul(_))) && !has_op(&m, |o| *o == Op::Pow));
    assert_eq!(run(&m, vec![input(&[3], vec![-3.0, 0.5, 2.0])]).remove(0).to_f32(), [9.0, 0.25, 4.0]);
    let mut b = OnnxBuilder::new(15);
    let x = b.input("x", FLOAT, &dims(&[3]));
    let e = b.input("e", INT64, &dims(&[3]));
    b.node_named("Pow", &[&x, &e], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[3]));
    let m = to_model(b);
    assert!(has_op(&m, |o| matches!(o, Op::Cast(_))) && has_op(&m, |o| *o == Op::Pow));
    let e = Value::new(tflite_forge::DType::I64, vec![3], vec![3.0, 0.0, 2.0]);
    assert_eq!(run(&m, vec![input(&[3], vec![2.0, 5.0, -1.5]), e]).remove(0).to_f32(), [8.0, 1.0, 2.25]);

    // LogSoftmax over the last axis, and over axis 1 of 3-D (TRANSPOSE).
    let got = run_unary(13, "LogSoftmax", &[1, 3], vec![1.0, 2.0, 3.0], vec![]);
    let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
    assert_close(&got, &[1.0 - lse, 2.0 - lse, 3.0 - lse], 1e-6);
    let m = to_model(unary(13, "LogSoftmax", &[2, 3, 2], vec![attr_int("axis", 1)]));
    assert!(has_op(&m, |o| *o == Op::LogSoftmax) && has_op(&m, |o| *o == Op::Transpose));
    // Before opset 13, axis 1 of [2, 3, 2] coerces to [2, 6] (RESHAPE).
    let m = to_model(unary(11, "LogSoftmax", &[2, 3, 2], vec![]));
    assert!(has_op(&m, |o| *o == Op::LogSoftmax) && has_op(&m, |o| matches!(o, Op::Reshape { .. })));
    let got = run(&m, vec![input(&[2, 3, 2], vec![0.0; 12])]).remove(0);
    assert_close(&got.data, &[-(6f64.ln()); 12], 1e-6);
}

#[test]
fn argmax_argmin_give_int64_and_need_a_static_axis_for_select_last_index() {
    let xs = vec![1.0, 5.0, 5.0, -2.0, 0.0, 3.0];
    for (onnx, keep, want_shape, want) in [
        ("ArgMax", 1, vec![2, 1], vec![1.0, 2.0]),
        ("ArgMax", 0, vec![2], vec![1.0, 2.0]),
        ("ArgMin", 1, vec![2, 1], vec![0.0, 0.0]),
    ] {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[2, 3]));
        b.node_named(onnx, &[&x], &["y"], vec![attr_int("axis", -1), attr_int("keepdims", keep)]);
        b.output("y", INT64, &dims(&want_shape.iter().map(|d| *d as i64).collect::<Vec<_>>()));
        let m = to_model(b);
        let want_op = if onnx == "ArgMax" { Op::ArgMax { output_type: tflite_forge::DType::I64 } } else { Op::ArgMin { output_type: tflite_forge::DType::I64 } };
        assert_eq!(*first_op(&m), want_op);
        assert_eq!(has_op(&m, |o| matches!(o, Op::Reshape { .. })), keep == 1);
        let got = run(&m, vec![input(&[2, 3], xs.clone())]).remove(0);
        assert_eq!(got.dtype, tflite_forge::DType::I64);
        assert_eq!((got.shape, got.data), (want_shape, want), "{onnx} keepdims={keep}");
    }
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(2), None]);
    b.node_named("ArgMax", &[&x], &["y"], vec![attr_int("axis", 1), attr_int("select_last_index", 1)]);
    b.output("y", INT64, &dims(&[2, 1]));
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
}

#[test]
fn reduce_min_and_prod() {
    let xs = vec![1.0, -2.0, 3.0, 4.0, 0.5, 2.0];
    let got = run_unary(13, "ReduceMin", &[2, 3], xs.clone(), vec![attr_ints("axes", &[1]), attr_int("keepdims", 0)]);
    assert_eq!(got, [-2.0, 0.5]);
    let got = run_unary(13, "ReduceProd", &[2, 3], xs.clone(), vec![attr_ints("axes", &[0])]);
    assert_eq!(got, [4.0, -1.0, 6.0]);
    let m = to_model(unary(13, "ReduceMin", &[2, 3], vec![]));
    assert_eq!(*first_op(&m), Op::ReduceMin { keep_dims: true });
    let m = to_model(unary(13, "ReduceProd", &[2, 3], vec![attr_int("keepdims", 0)]));
    assert_eq!(*first_op(&m), Op::ReduceProd { keep_dims: false });
}

#[test]
fn expand_cast_like_sum_and_mod() {
    // Expand broadcasts both ways: [3, 1] to [2, 1, 4] gives [2, 3, 4].
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 1]));
    let s = b.init_i64("s", &[3], &[2, 1, 4]);
    b.node_named("Expand", &[&x, &s], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[2, 3, 4]));
    let m = to_model(b);
    assert_eq!(*first_op(&m), Op::BroadcastTo);
    let got = run(&m, vec![input(&[3, 1], vec![1.0, 2.0, 3.0])]).remove(0);
    assert_eq!(got.shape, [2, 3, 4]);
    assert_eq!(&got.to_f32()[..8], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
    // A shape tensor: BROADCAST_TO of true, then SELECT_V2 (both ways: the
    // shape's 1 keeps the input's 3).
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 1]));
    let s = b.input("s", INT64, &dims(&[2]));
    b.node_named("Expand", &[&x, &s], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[3, 4]));
    let m = to_model(b);
    assert_eq!(*first_op(&m), Op::BroadcastTo);
    assert!(has_op(&m, |o| *o == Op::SelectV2));
    let s = Value::new(tflite_forge::DType::I64, vec![2], vec![1.0, 4.0]);
    let got = run(&m, vec![input(&[3, 1], vec![1.0, 2.0, 3.0]), s]).remove(0);
    assert_eq!(got.shape, [3, 4]);
    assert_eq!(got.to_f32(), [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0]);
    // A float shape tensor is rejected.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 1]));
    let s = b.input("s", FLOAT, &dims(&[2]));
    b.node_named("Expand", &[&x, &s], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[3, 4]));
    assert_eq!(reason(b), ReasonCode::UnsupportedDtype);

    // CastLike takes the type of its second input.
    let mut b = OnnxBuilder::new(15);
    let x = b.input("x", FLOAT, &dims(&[3]));
    let like = b.input("like", INT32, &dims(&[1]));
    b.node_named("CastLike", &[&x, &like], &["y"], vec![]);
    b.output("y", INT32, &dims(&[3]));
    let m = to_model(b);
    assert!(matches!(first_op(&m), Op::Cast(_)));
    let got = run(&m, vec![input(&[3], vec![1.7, -2.2, 0.0]), Value::from_i32(vec![1], vec![0])]).remove(0);
    assert_eq!((got.dtype, got.data), (tflite_forge::DType::I32, vec![1.0, -2.0, 0.0]));

    // Sum chains ADD.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2]));
    let c1 = b.init_f32("c1", &[1], &[1.0]);
    let c2 = b.init_f32("c2", &[2], &[10.0, 20.0]);
    b.node_named("Sum", &[&x, &c1, &c2], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[2]));
    let m = to_model(b);
    assert_eq!(m.subgraphs[0].operators.len(), 2);
    assert!(m.subgraphs[0].operators.iter().all(|o| matches!(o.op, Op::Add(_))));
    assert_eq!(run(&m, vec![input(&[2], vec![0.5, -1.0])]).remove(0).to_f32(), [11.5, 20.0]);

    // Mod with fmod=0 on int64 is FLOOR_MOD (the divisor's sign).
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", INT64, &dims(&[4]));
    let y = b.input("d", INT64, &dims(&[4]));
    b.node_named("Mod", &[&x, &y], &["y"], vec![]);
    b.output("y", INT64, &dims(&[4]));
    let m = to_model(b);
    assert_eq!(*first_op(&m), Op::FloorMod);
    let i64v = |v: &[f64]| Value::new(tflite_forge::DType::I64, vec![v.len()], v.to_vec());
    let got = run(&m, vec![i64v(&[-7.0, 7.0, -7.0, 7.0]), i64v(&[3.0, -3.0, -3.0, 3.0])]).remove(0);
    assert_eq!(got.data, [2.0, -2.0, -1.0, 1.0]);
    // float64 is rejected (fmod=1 on other types: tests/onnx_types.rs).
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", 11, &dims(&[2]));
    let y = b.input("d", 11, &dims(&[2]));
    b.node_named("Mod", &[&x, &y], &["y"], vec![attr_int("fmod", 1)]);
    b.output("y", 11, &dims(&[2]));
    assert_eq!(reason(b), ReasonCode::UnsupportedDtype);
}

// ---------------------------------------------------------------------------
// LayerNormalization / RMSNormalization
// ---------------------------------------------------------------------------

/// Layer (or RMS) normalization written out on row-major data: each group
/// of the last `inner` elements is normalized; `scale`/`bias` are indexed
/// by the position inside the group.
fn norm_ref(x: &[f32], inner: usize, eps: f64, rms: bool, scale: impl Fn(usize) -> f64, bias: impl Fn(usize) -> f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut y, mut means, mut invs) = (Vec::new(), Vec::new(), Vec::new());
    for g in x.chunks(inner) {
        let g: Vec<f64> = g.iter().map(|v| f64::from(*v)).collect();
        let mean = if rms { 0.0 } else { g.iter().sum::<f64>() / inner as f64 };
        let var = g.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / inner as f64;
        let inv = 1.0 / (var + eps).sqrt();
        y.extend(g.iter().enumerate().map(|(i, v)| (v - mean) * inv * scale(i) + bias(i)));
        means.push(mean);
        invs.push(inv);
    }
    (y, means, invs)
}

fn count_ops(m: &Model, f: impl Fn(&Op) -> bool) -> usize {
    m.subgraphs[0].operators.iter().filter(|o| f(&o.op)).count()
}

#[test]
fn layer_norm_over_the_hidden_axis_of_a_3d_input() {
    // Transformer-style [batch, seq, hidden], axis = -1, constant scale and bias.
    let mut b = OnnxBuilder::new(17);
    let x = b.input("x", FLOAT, &dims(&[2, 3, 4]));
    let sc = [0.5f32, -1.0, 2.0, 1.5];
    let bi = [0.1f32, 0.0, -0.3, 1.0];
    let s = b.init_f32("scale", &[4], &sc);
    let bb = b.init_f32("bias", &[4], &bi);
    b.node_named("LayerNormalization", &[&x, &s, &bb], &["y"], vec![attr_int("axis", -1), attr_float("epsilon", 1e-3)]);
    b.output("y", FLOAT, &dims(&[2, 3, 4]));
    let m = to_model(b);
    assert_eq!(count_ops(&m, |o| matches!(o, Op::Mean { .. })), 2);
    assert_eq!(count_ops(&m, |o| *o == Op::Rsqrt), 1);
    assert_eq!(count_ops(&m, |o| matches!(o, Op::Sub(_))), 1);
    assert_eq!(count_ops(&m, |o| matches!(o, Op::Mul(_))), 3);
    assert_eq!(count_ops(&m, |o| matches!(o, Op::Add(_))), 2);
    assert!(!has_op(&m, |o| *o == Op::Transpose));
    let xs: Vec<f32> = (0..24).map(|i| ((i * 7) % 11) as f32 * 0.5 - 2.0).collect();
    let got = run(&m, vec![input(&[2, 3, 4], xs.clone())]).remove(0);
    assert_eq!(got.shape, [2, 3, 4]);
    let (want, _, _) = norm_ref(&xs, 4, 1e-3, false, |i| f64::from(sc[i]), |i| f64::from(bi[i]));
    assert_close(&got.data, &want, 1e-5);
}

#[test]
fn layer_norm_on_4d_with_tensor_scale_and_all_outputs() {
    // NCHW [1, 2, 2, 3], axis = 1 (normalize C, H, W); the scale is a graph
    // input broadcast from [2, 1, 1]; no bias; Mean and InvStdDev are used.
    let mut b = OnnxBuilder::new(17);
    let x = b.input("x", FLOAT, &dims(&[1, 2, 2, 3]));
    let s = b.input("scale", FLOAT, &dims(&[2, 1, 1]));
    b.node_named("LayerNormalization", &[&x, &s], &["y", "mean", "inv"], vec![attr_int("axis", 1)]);
    b.output("y", FLOAT, &dims(&[1, 2, 2, 3]));
    b.output("mean", FLOAT, &dims(&[1, 1, 1, 1]));
    b.output("inv", FLOAT, &dims(&[1, 1, 1, 1]));
    let m = to_model(b);
    assert_eq!(count_ops(&m, |o| matches!(o, Op::Mul(_))), 3, "no bias: MUL d·d, d·inv, ·scale");
    let xs = seq(12, 0.75, -3.0);
    let out = run(&m, vec![input(&[1, 2, 2, 3], xs.clone()), input(&[2, 1, 1], vec![2.0, -0.5])]);
    let (want, means, invs) = norm_ref(&xs, 12, 1e-5, false, |i| if i < 6 { 2.0 } else { -0.5 }, |_| 0.0);
    assert_eq!(out[0].shape, [1, 2, 2, 3]);
    assert_close(&out[0].data, &want, 1e-5);
    assert_eq!(out[1].shape, [1, 1, 1, 1]);
    assert_close(&out[1].data, &means, 1e-6);
    assert_close(&out[2].data, &invs, 1e-5);

    // The same node after a Conv, converted with NHWC I/O: the lowering works
    // on the ONNX layout and the passes keep it correct.
    let build = || {
        let mut b = OnnxBuilder::new(17);
        let x = b.input("x", FLOAT, &dims(&[1, 2, 2, 3]));
        let w = b.init_f32("w", &[2, 2, 1, 1], &[1.0, 0.5, -0.25, 2.0]);
        b.node_named("Conv", &[&x, &w], &["c"], vec![]);
        let s = b.init_f32("scale", &[3], &[1.0, 2.0, 0.5]);
        let bb = b.init_f32("bias", &[2, 1, 1], &[0.25, -1.0]);
        b.node_named("LayerNormalization", &["c", &s, &bb], &["y"], vec![attr_int("axis", -3)]);
        b.output("y", FLOAT, &dims(&[1, 2, 2, 3]));
        b
    };
    let nchw = run(&to_model(build()), vec![input(&[1, 2, 2, 3], xs.clone())]).remove(0);
    let conv: Vec<f32> = (0..12).map(|k| {
        let (o, hw) = (k / 6, k % 6);
        let w = [[1.0f32, 0.5], [-0.25, 2.0]];
        w[o][0] * xs[hw] + w[o][1] * xs[6 + hw]
    }).collect();
    let (want, _, _) = norm_ref(&conv, 12, 1e-5, false, |i| [1.0, 2.0, 0.5][i % 3], |i| if i < 6 { 0.25 } else { -1.0 });
    assert_close(&nchw.data, &want, 1e-5);
    let mut o = ConvertOptions::default();
    o.layout = IoLayout::Nhwc;
    let m = convert(&build().build(), &o).expect("converts").model;
    // NHWC input: x[n, h, w, c] = xs[c, h, w].
    let to_nhwc = |v: &[f32]| -> Vec<f32> { (0..12).map(|k| v[(k % 2) * 6 + k / 2]).collect() };
    let got = run(&m, vec![input(&[1, 2, 3, 2], to_nhwc(&xs))]).remove(0);
    assert_eq!(got.shape, [1, 2, 3, 2]);
    let want_nhwc: Vec<f64> = (0..12).map(|k| want[(k % 2) * 6 + k / 2]).collect();
    assert_close(&got.data, &want_nhwc, 1e-5);
    // Statistics of shape [1, 1, 1, 1] need no layout change: the
    // transposes around the Conv cancel through the whole decomposition.
    assert_eq!(count_ops(&m, |o| *o == Op::Transpose), 0);

    // Over W only (axis -1) and H, W (axis 2) the statistics are
    // layout-bound; whatever the passes keep, NHWC I/O gives the NCHW values.
    for axis in [-1i64, 2] {
        let build = || {
            let mut b = OnnxBuilder::new(17);
            let x = b.input("x", FLOAT, &dims(&[1, 2, 2, 3]));
            let w = b.init_f32("w", &[2, 2, 1, 1], &[1.0, 0.5, -0.25, 2.0]);
            b.node_named("Conv", &[&x, &w], &["c"], vec![]);
            let s = b.init_f32("scale", &[3], &[1.0, 2.0, 0.5]);
            b.node_named("LayerNormalization", &["c", &s], &["y"], vec![attr_int("axis", axis)]);
            b.output("y", FLOAT, &dims(&[1, 2, 2, 3]));
            b
        };
        let inner = if axis == -1 { 3 } else { 6 };
        let (want, _, _) = norm_ref(&conv, inner, 1e-5, false, |i| [1.0, 2.0, 0.5][i % 3], |_| 0.0);
        let nchw = run(&to_model(build()), vec![input(&[1, 2, 2, 3], xs.clone())]).remove(0);
        assert_close(&nchw.data, &want, 1e-5);
        let m = convert(&build().build(), &o).expect("converts").model;
        let got = run(&m, vec![input(&[1, 2, 3, 2], to_nhwc(&xs))]).remove(0);
        let want_nhwc: Vec<f64> = (0..12).map(|k| want[(k % 2) * 6 + k / 2]).collect();
        assert_close(&got.data, &want_nhwc, 1e-5);
    }
}

#[test]
fn rms_norm_over_the_last_axis() {
    let mut b = OnnxBuilder::new(23);
    let x = b.input("x", FLOAT, &dims(&[2, 3, 4]));
    let sc = [0.5f32, -1.0, 2.0, 1.5];
    let s = b.init_f32("scale", &[4], &sc);
    b.node_named("RMSNormalization", &[&x, &s], &["y"], vec![attr_float("epsilon", 1e-4)]);
    b.output("y", FLOAT, &dims(&[2, 3, 4]));
    let m = to_model(b);
    assert_eq!(count_ops(&m, |o| matches!(o, Op::Mean { .. })), 1);
    assert_eq!(count_ops(&m, |o| *o == Op::Rsqrt), 1);
    assert!(!has_op(&m, |o| matches!(o, Op::Sub(_))));
    let xs: Vec<f32> = (0..24).map(|i| ((i * 5) % 13) as f32 * 0.25 - 1.5).collect();
    let got = run(&m, vec![input(&[2, 3, 4], xs.clone())]).remove(0);
    let (want, _, _) = norm_ref(&xs, 4, 1e-4, true, |i| f64::from(sc[i]), |_| 0.0);
    assert_close(&got.data, &want, 1e-5);
}

#[test]
fn layer_norm_rejects_other_types_and_stash_types() {
    let model = |elem: i32, attrs| {
        let mut b = OnnxBuilder::new(17);
        let x = b.input("x", elem, &dims(&[2, 4]));
        let s = b.input("s", elem, &dims(&[4]));
        b.node_named("LayerNormalization", &[&x, &s], &["y"], attrs);
        b.output("y", elem, &dims(&[2, 4]));
        b
    };
    assert_eq!(reason(model(11, vec![])), ReasonCode::UnsupportedDtype); // float64
    assert_eq!(reason(model(FLOAT, vec![attr_int("stash_type", 0)])), ReasonCode::UnsupportedAttribute);
    let mut b = OnnxBuilder::new(23);
    let x = b.input("x", FLOAT, &dims(&[2, 4]));
    let s = b.input("s", 11, &dims(&[4]));
    b.node_named("RMSNormalization", &[&x, &s], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[2, 4]));
    assert_eq!(reason(b), ReasonCode::UnsupportedDtype);
}

// ---------------------------------------------------------------------------
// Run-time operands (axes, bounds, pads, indices, starts as graph inputs)
// ---------------------------------------------------------------------------

fn i64_value(shape: &[usize], v: &[i64]) -> Value {
    Value::new(tflite_forge::DType::I64, shape.to_vec(), v.iter().map(|x| *x as f64).collect())
}

/// A reduction of a `[2, 3, 2]` float input over run-time int64 `axes` of
/// static length `n_axes`.
fn reduce_runtime_axes(opset: i64, op: &str, n_axes: i64, attrs: Vec<onnx_protobuf::AttributeProto>) -> OnnxBuilder {
    let mut b = OnnxBuilder::new(opset);
    let x = b.input("x", FLOAT, &dims(&[2, 3, 2]));
    let a = b.input("axes", INT64, &dims(&[n_axes]));
    b.node_named(op, &[&x, &a], &["y"], attrs);
    b.output("y", FLOAT, &[None, None, None]);
    b
}

/// `x[i][j][k]` of the `[2, 3, 2]` test input reduced over `axes` with
/// `f`, keeping the reduced dimensions as 1: a naive reference.
fn naive_reduce(x: &[f32], axes: &[usize], init: f64, f: impl Fn(f64, f64) -> f64) -> (Vec<usize>, Vec<f64>) {
    let d = [2usize, 3, 2];
    let out: Vec<usize> = (0..3).map(|i| if axes.contains(&i) { 1 } else { d[i] }).collect();
    let mut acc = vec![init; out.iter().product()];
    for i in 0..2 {
        for j in 0..3 {
            for k in 0..2 {
                let o = [i, j, k];
                let oi: Vec<usize> = (0..3).map(|a| if axes.contains(&a) { 0 } else { o[a] }).collect();
                let at = (oi[0] * out[1] + oi[1]) * out[2] + oi[2];
                acc[at] = f(acc[at], f64::from(x[(i * 3 + j) * 2 + k]));
            }
        }
    }
    (out, acc)
}

#[test]
fn reductions_take_run_time_axes() {
    let xs: Vec<f32> = vec![1.0, -2.0, 3.0, 0.5, 4.0, -1.5, 2.0, 6.0, -3.0, 1.0, 0.25, 5.0];
    type F = fn(f64, f64) -> f64;
    let cases: [(&str, i64, f64, F); 4] = [
        ("ReduceSum", 13, 0.0, |a, b| a + b),
        ("ReduceMax", 18, f64::NEG_INFINITY, f64::max),
        ("ReduceMin", 18, f64::INFINITY, f64::min),
        ("ReduceProd", 18, 1.0, |a, b| a * b),
    ];
    for (op, opset, init, f) in cases {
        // keepdims=1, two axes (one negative), one repeated.
        let m = to_model(reduce_runtime_axes(opset, op, 3, vec![]));
        let got = run(&m, vec![input(&[2, 3, 2], xs.clone()), i64_value(&[3], &[0, -1, 2])]).remove(0);
        let (shape, want) = naive_reduce(&xs, &[0, 2], init, f);
        assert_eq!(got.shape, shape, "{op}");
        assert_close(&got.data, &want, 1e-6);
        // The same model with other axes at run time.
        let got = run(&m, vec![input(&[2, 3, 2], xs.clone()), i64_value(&[3], &[1, 1, 1])]).remove(0);
        let (shape, want) = naive_reduce(&xs, &[1], init, f);
        assert_eq!(got.shape, shape, "{op}");
        assert_close(&got.data, &want, 1e-6);
        // keepdims=0 with a single run-time axis drops it.
        let m = to_model(reduce_runtime_axes(opset, op, 1, vec![attr_int("keepdims", 0)]));
        assert_eq!(m.subgraphs[0].tensors[m.subgraphs[0].outputs[0].index()].shape.rank(), 2);
        let got = run(&m, vec![input(&[2, 3, 2], xs.clone()), i64_value(&[1], &[1])]).remove(0);
        let (_, want) = naive_reduce(&xs, &[1], init, f);
        assert_eq!(got.shape, [2, 2], "{op}");
        assert_close(&got.data, &want, 1e-6);
        // keepdims=0 with several run-time axes: reduced, then dropped by a
        // run-time RESHAPE; repeated axes fail.
        let m = to_model(reduce_runtime_axes(opset, op, 2, vec![attr_int("keepdims", 0)]));
        let got = run(&m, vec![input(&[2, 3, 2], xs.clone()), i64_value(&[2], &[-1, 0])]).remove(0);
        let (_, want) = naive_reduce(&xs, &[0, 2], init, f);
        assert_eq!(got.shape, [3], "{op}");
        assert_close(&got.data, &want, 1e-6);
        let r = Evaluator::new(&m).run(0, &[input(&[2, 3, 2], xs.clone()), i64_value(&[2], &[1, 1])]);
        assert!(r.is_err(), "{op}: repeated axes with keepdims=0");
    }
    // ReduceMean over run-time axes.
    let m = to_model(reduce_runtime_axes(18, "ReduceMean", 1, vec![]));
    let got = run(&m, vec![input(&[2, 3, 2], xs.clone()), i64_value(&[1], &[-2])]).remove(0);
    let (shape, sum) = naive_reduce(&xs, &[1], 0.0, |a, b| a + b);
    assert_eq!(got.shape, shape);
    assert_close(&got.data, &sum.iter().map(|s| s / 3.0).collect::<Vec<_>>(), 1e-6);
    // Axes of static length 0: all axes, or the identity with
    // noop_with_empty_axes.
    let m = to_model(reduce_runtime_axes(13, "ReduceSum", 0, vec![]));
    let got = run(&m, vec![input(&[2, 3, 2], xs.clone()), i64_value(&[0], &[])]).remove(0);
    assert_eq!(got.shape, [1, 1, 1]);
    assert_close(&got.data, &[xs.iter().map(|v| f64::from(*v)).sum()], 1e-6);
    let m = to_model(reduce_runtime_axes(13, "ReduceSum", 0, vec![attr_int("noop_with_empty_axes", 1)]));
    let got = run(&m, vec![input(&[2, 3, 2], xs.clone()), i64_value(&[0], &[])]).remove(0);
    assert_eq!(got.data, xs.iter().map(|v| f64::from(*v)).collect::<Vec<_>>());
    // Axes of dynamic length, and ReduceMax with run-time axes over an input
    // with an empty dimension, are rejected.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 3]));
    let a = b.input("axes", INT64, &[None]);
    b.node_named("ReduceSum", &[&x, &a], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None]);
    assert_eq!(reason(b), ReasonCode::InputMustBeConstant);
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &dims(&[2, 0]));
    let a = b.input("axes", INT64, &dims(&[1]));
    b.node_named("ReduceMax", &[&x, &a], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None]);
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
}

#[test]
fn clip_takes_run_time_bounds() {
    let xs = vec![-3.0f32, -0.5, 0.0, 0.25, 2.0, 7.5];
    let clip = |v: f32, lo: Option<f32>, hi: Option<f32>| -> f64 {
        let v = lo.map_or(v, |l| if v < l { l } else { v });
        f64::from(hi.map_or(v, |h| if v > h { h } else { v }))
    };
    // (lo, hi) given at run time; None leaves the input out.
    let cases: [(Option<f32>, Option<f32>); 5] = [(Some(-1.0), Some(1.0)), (Some(0.0), None), (None, Some(0.1)), (Some(2.0), Some(1.0)), (Some(0.0), Some(6.0))];
    for (lo, hi) in cases {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[2, 3]));
        let l = if lo.is_some() { b.input("lo", FLOAT, &dims(&[])) } else { String::new() };
        let h = if hi.is_some() { b.input("hi", FLOAT, &dims(&[])) } else { String::new() };
        let ins: Vec<&str> = if hi.is_some() { vec![&x, &l, &h] } else { vec![&x, &l] };
        b.node_named("Clip", &ins, &["y"], vec![]);
        b.output("y", FLOAT, &dims(&[2, 3]));
        let m = to_model(b);
        assert!(!has_op(&m, |o| matches!(o, Op::Relu | Op::Relu6)), "run-time bounds are never folded into RELU forms");
        let mut inputs = vec![input(&[2, 3], xs.clone())];
        inputs.extend(lo.map(|v| input(&[], vec![v])));
        inputs.extend(hi.map(|v| input(&[], vec![v])));
        let got = run(&m, inputs).remove(0);
        let want: Vec<f64> = xs.iter().map(|v| clip(*v, lo, hi)).collect();
        assert_eq!((got.shape, got.data), (vec![2, 3], want), "Clip to {lo:?}, {hi:?}");
    }
    // A run-time bound of more than one element is not a scalar.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3]));
    let lo = b.input("lo", FLOAT, &dims(&[3]));
    b.node_named("Clip", &[&x, &lo], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[3]));
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
}

#[test]
fn slice_takes_run_time_starts_ends_and_steps() {
    // x of [4, 6] (dynamic batch in the second model), sliced on axis 1
    // with every bound a run-time int64 input; steps run-time too.
    let xs = seq(4 * 6, 1.0, 0.0);
    let bounds = [(1, 5, 2), (-1, -7, -1), (-2, i64::MIN, -2), (-10, 3, 1), (5, -100, -3), (0, i64::MAX, 3), (-100, 0, -1), (-100, -100, -1), (i64::MAX, 2, -1), (2, 4, 1)];
    for batch in [Some(4), None] {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &[batch, Some(6)]);
        let s = b.input("s", INT64, &dims(&[1]));
        let e = b.input("e", INT64, &dims(&[1]));
        let a = b.init_i64("a", &[1], &[-1]);
        let t = b.input("t", INT64, &dims(&[1]));
        b.node_named("Slice", &[&x, &s, &e, &a, &t], &["y"], vec![]);
        b.output("y", FLOAT, &[batch, None]);
        let m = to_model(b);
        assert!(has_op(&m, |o| matches!(o, Op::StridedSlice(_))));
        for (start, end, step) in bounds {
            let cols = onnx_slice_indices(6, start, end, step);
            let got = run(&m, vec![input(&[4, 6], xs.clone()), i64_value(&[1], &[start]), i64_value(&[1], &[end]), i64_value(&[1], &[step])]).remove(0);
            let want: Vec<f64> = (0..4).flat_map(|r| cols.iter().map(move |c| (r * 6 + *c) as f64)).collect();
            assert_eq!(got.shape, [4, cols.len()], "slice {start}:{end}:{step}");
            assert_eq!(got.data, want, "slice {start}:{end}:{step}");
        }
    }
    // Without axes, run-time starts and ends on the leading axes and
    // constant positive steps.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[4, 6]));
    let s = b.input("s", INT64, &dims(&[1]));
    let e = b.input("e", INT64, &dims(&[1]));
    b.node_named("Slice", &[&x, &s, &e], &["y"], vec![]);
    b.output("y", FLOAT, &[None, Some(6)]);
    let m = to_model(b);
    let got = run(&m, vec![input(&[4, 6], xs.clone()), i64_value(&[1], &[-3]), i64_value(&[1], &[3])]).remove(0);
    assert_eq!(got.shape, [2, 6]);
    assert_eq!(got.data, seq(12, 1.0, 6.0).iter().map(|v| f64::from(*v)).collect::<Vec<_>>());
}

#[test]
fn gather_takes_run_time_indices() {
    // x[3, 4] gathered along axis 1 by run-time [2, 2] int64 indices.
    let xs = seq(12, 1.0, 0.0);
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let i = b.input("i", INT64, &dims(&[2, 2]));
    b.node_named("Gather", &[&x, &i], &["y"], vec![attr_int("axis", -1)]);
    b.output("y", FLOAT, &dims(&[3, 2, 2]));
    let m = to_model(b);
    let idx = [3i64, -1, -4, 0];
    let got = run(&m, vec![input(&[3, 4], xs.clone()), i64_value(&[2, 2], &idx)]).remove(0);
    assert_eq!(got.shape, [3, 2, 2]);
    let want: Vec<f64> = (0..3).flat_map(|r| idx.iter().map(move |i| (r * 4 + (i + 4) % 4) as f64)).collect();
    assert_eq!(got.data, want);
    // Indices out of range stay an error (ONNX's too), not a wrapped index.
    for bad in [4i64, -5] {
        let r = Evaluator::new(&m).run(0, &[input(&[3, 4], xs.clone()), i64_value(&[2, 2], &[0, bad, 1, 2])]);
        assert!(r.is_err(), "index {bad} must not be accepted");
    }
    // A scalar run-time index drops the axis.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let i = b.input("i", INT64, &dims(&[]));
    b.node_named("Gather", &[&x, &i], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[4]));
    let got = run(&to_model(b), vec![input(&[3, 4], xs), i64_value(&[], &[-2])]).remove(0);
    assert_eq!((got.shape, got.data), (vec![4], vec![4.0, 5.0, 6.0, 7.0]));
}

#[test]
fn split_takes_run_time_sizes() {
    let xs = seq(14, 1.0, 0.0);
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 7]));
    let s = b.input("split", INT64, &dims(&[3]));
    b.node_named("Split", &[&x, &s], &["y0", "y1", "y2"], vec![attr_int("axis", 1)]);
    for n in ["y0", "y1", "y2"] {
        b.output(n, FLOAT, &[Some(2), None]);
    }
    let m = to_model(b);
    assert!(has_op(&m, |o| matches!(o, Op::SplitV { .. })));
    for parts in [[2usize, 4, 1], [5, 1, 1], [1, 1, 5]] {
        let sizes: Vec<i64> = parts.iter().map(|p| *p as i64).collect();
        let outs = run(&m, vec![input(&[2, 7], xs.clone()), i64_value(&[3], &sizes)]);
        let mut from = 0;
        for (o, n) in outs.iter().zip(parts) {
            let want: Vec<f64> = (0..2).flat_map(|r| (from..from + n).map(move |c| (r * 7 + c) as f64)).collect();
            assert_eq!((o.shape.clone(), o.data.clone()), (vec![2, n], want), "sizes {sizes:?}");
            from += n;
        }
    }
    // ONNX has no "-1 is the rest" (SPLIT_V has): such sizes fail at run time.
    let r = Evaluator::new(&m).run(0, &[input(&[2, 7], xs), i64_value(&[3], &[2, -1, 1])]);
    assert!(r.is_err(), "a negative split size must not be read as the rest");
    // Declared empty outputs are rejected.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[4]));
    let s = b.input("split", INT64, &dims(&[2]));
    b.node_named("Split", &[&x, &s], &["y0", "y1"], vec![]);
    b.output("y0", FLOAT, &dims(&[0]));
    b.output("y1", FLOAT, &dims(&[4]));
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
}

/// ONNX constant-mode Pad of a 2-D `[h, w]` input written out: pads
/// `[b0, b1, e0, e1]`, negative ones cropping. Returns shape and data.
fn naive_pad_2d(x: &[f32], [h, w]: [i64; 2], pads: [i64; 4], value: f32) -> (Vec<usize>, Vec<f64>) {
    let (oh, ow) = (h + pads[0] + pads[2], w + pads[1] + pads[3]);
    let mut out = Vec::new();
    for i in 0..oh {
        for j in 0..ow {
            let (si, sj) = (i - pads[0], j - pads[1]);
            let inside = (0..h).contains(&si) && (0..w).contains(&sj);
            out.push(f64::from(if inside { x[(si * w + sj) as usize] } else { value }));
        }
    }
    (vec![oh as usize, ow as usize], out)
}

#[test]
fn pad_takes_run_time_pads_and_value() {
    let xs = seq(12, 1.0, 1.0);
    // Run-time pads and value on all axes, negative pads cropping.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let p = b.input("pads", INT64, &dims(&[4]));
    let v = b.input("value", FLOAT, &dims(&[]));
    b.node_named("Pad", &[&x, &p, &v], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None]);
    let m = to_model(b);
    for pads in [[1, 0, 2, 3], [0, 0, 0, 0], [-1, 2, 1, -2], [-2, -1, 0, -1]] {
        let got = run(&m, vec![input(&[3, 4], xs.clone()), i64_value(&[4], &pads), input(&[], vec![-7.5])]).remove(0);
        let (shape, want) = naive_pad_2d(&xs, [3, 4], pads, -7.5);
        assert_eq!((got.shape, got.data), (shape, want), "pads {pads:?}");
    }
    // Opset 18 axes (constant, negative) with run-time pads, no value: zeros.
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let p = b.input("pads", INT64, &dims(&[2]));
    let a = b.init_i64("axes", &[1], &[-1]);
    b.node_named("Pad", &[&x, &p, "", &a], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(3), None]);
    let m = to_model(b);
    let got = run(&m, vec![input(&[3, 4], xs.clone()), i64_value(&[2], &[2, -1])]).remove(0);
    let (shape, want) = naive_pad_2d(&xs, [3, 4], [0, 2, 0, -1], 0.0);
    assert_eq!((got.shape, got.data), (shape, want));
    // Constant pads with a run-time value: one PADV2.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let p = b.init_i64("pads", &[4], &[0, 1, 1, 0]);
    let v = b.input("value", FLOAT, &dims(&[]));
    b.node_named("Pad", &[&x, &p, &v], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[4, 5]));
    let m = to_model(b);
    assert_eq!(m.subgraphs[0].operators.len(), 1);
    let got = run(&m, vec![input(&[3, 4], xs.clone()), input(&[], vec![9.0])]).remove(0);
    let (shape, want) = naive_pad_2d(&xs, [3, 4], [0, 1, 1, 0], 9.0);
    assert_eq!((got.shape, got.data), (shape, want));
    // Run-time pads in reflect mode stay an error.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let p = b.input("pads", INT64, &dims(&[4]));
    b.node_named("Pad", &[&x, &p], &["y"], vec![attr_str("mode", "reflect")]);
    b.output("y", FLOAT, &[None, None]);
    assert_eq!(reason(b), ReasonCode::InputMustBeConstant);
}

#[test]
fn batchnorm_takes_run_time_parameters() {
    // x [2, 3, 2] with scale and var at run time, bias and mean constant.
    let xs = seq(12, 0.5, -3.0);
    let (gamma, beta, mean, var) = ([1.5f32, -0.5, 2.0], [0.25f32, 1.0, -2.0], [0.1f32, -1.0, 0.5], [0.5f32, 2.0, 0.01]);
    let eps = 0.01f32;
    let mut b = OnnxBuilder::new(15);
    let x = b.input("x", FLOAT, &dims(&[2, 3, 2]));
    let s = b.input("s", FLOAT, &dims(&[3]));
    let bias = b.init_f32("bias", &[3], &beta);
    let m = b.init_f32("mean", &[3], &mean);
    let v = b.input("var", FLOAT, &dims(&[3]));
    b.node_named("BatchNormalization", &[&x, &s, &bias, &m, &v], &["y"], vec![attr_float("epsilon", eps)]);
    b.output("y", FLOAT, &dims(&[2, 3, 2]));
    let model = to_model(b);
    let got = run(&model, vec![input(&[2, 3, 2], xs.clone()), input(&[3], gamma.to_vec()), input(&[3], var.to_vec())]).remove(0);
    let want: Vec<f64> = (0..12)
        .map(|i| {
            let c = (i / 2) % 3;
            let norm = (f64::from(xs[i]) - f64::from(mean[c])) / (f64::from(var[c]) + f64::from(eps)).sqrt();
            norm * f64::from(gamma[c]) + f64::from(beta[c])
        })
        .collect();
    assert_eq!(got.shape, [2, 3, 2]);
    assert_close(&got.data, &want, 1e-5);
}

#[test]
fn squeeze_and_unsqueeze_take_run_time_axes() {
    // Unsqueeze of x[2, 3] by two run-time axes: rank 4, positions at run time.
    let xs = seq(6, 1.0, 0.0);
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 3]));
    let a = b.input("axes", INT64, &dims(&[2]));
    b.node_named("Unsqueeze", &[&x, &a], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    let m = to_model(b);
    for (axes, shape) in [([0i64, 1], [1usize, 1, 2, 3]), ([3, 0], [1, 2, 3, 1]), ([-1, 1], [2, 1, 3, 1]), ([2, -4], [1, 2, 1, 3]), ([1, 2], [2, 1, 1, 3])] {
        let got = run(&m, vec![input(&[2, 3], xs.clone()), i64_value(&[2], &axes)]).remove(0);
        assert_eq!(got.shape, shape, "Unsqueeze axes {axes:?}");
        assert_eq!(got.to_f32(), xs);
    }
    // Repeated or out-of-range axes fail at run time, as in ONNX.
    for axes in [[1i64, 1], [0, 4], [-5, 0], [1, -3]] {
        let r = Evaluator::new(&m).run(0, &[input(&[2, 3], xs.clone()), i64_value(&[2], &axes)]);
        assert!(r.is_err(), "Unsqueeze axes {axes:?} must be rejected");
    }

    // Squeeze of x[1, 3, 1, 2] by one run-time axis.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, 3, 1, 2]));
    let a = b.input("axes", INT64, &dims(&[1]));
    b.node_named("Squeeze", &[&x, &a], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None]);
    let m = to_model(b);
    for (axis, shape) in [(0i64, [3usize, 1, 2]), (2, [1, 3, 2]), (-2, [1, 3, 2]), (-4, [3, 1, 2])] {
        let got = run(&m, vec![input(&[1, 3, 1, 2], xs.clone()), i64_value(&[1], &[axis])]).remove(0);
        assert_eq!(got.shape, shape, "Squeeze axis {axis}");
        assert_eq!(got.to_f32(), xs);
    }
    // A dimension that is not 1, or an axis out of range, fails.
    for axis in [1i64, 3, 4, -5] {
        let r = Evaluator::new(&m).run(0, &[input(&[1, 3, 1, 2], xs.clone()), i64_value(&[1], &[axis])]);
        assert!(r.is_err(), "Squeeze axis {axis} must be rejected");
    }
}

#[test]
fn squeeze_of_two_run_time_axes() {
    let xs = seq(6, 1.0, 0.0);
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, 3, 1, 2]));
    let a = b.input("axes", INT64, &dims(&[2]));
    b.node_named("Squeeze", &[&x, &a], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None]);
    let m = to_model(b);
    for axes in [[0i64, 2], [2, -4], [-2, 0]] {
        let got = run(&m, vec![input(&[1, 3, 1, 2], xs.clone()), i64_value(&[2], &axes)]).remove(0);
        assert_eq!(got.shape, [3, 2], "Squeeze axes {axes:?}");
        assert_eq!(got.to_f32(), xs);
    }
    for axes in [[0i64, 0], [0, -4], [0, 1]] {
        let r = Evaluator::new(&m).run(0, &[input(&[1, 3, 1, 2], xs.clone()), i64_value(&[2], &axes)]);
        assert!(r.is_err(), "Squeeze axes {axes:?} must be rejected");
    }
}

#[test]
fn slice_takes_run_time_axes() {
    // x[4, 6]; starts, ends, axes and steps all run-time, two axes.
    let xs = seq(24, 1.0, 0.0);
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[4, 6]));
    let names = ["s", "e", "a", "t"];
    for n in names {
        b.input(n, INT64, &dims(&[2]));
    }
    b.node_named("Slice", &[&x, "s", "e", "a", "t"], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None]);
    let m = to_model(b);
    // (starts, ends, axes, steps) per case; the ONNX result per axis from
    // onnx_slice_indices.
    type Case = ([i64; 2], [i64; 2], [i64; 2], [i64; 2]);
    let cases: [Case; 4] = [
        ([1, 0], [3, 6], [0, 1], [1, 2]),
        ([-1, -100], [-100, 5], [1, 0], [-2, 1]),
        ([4, i64::MAX], [0, i64::MIN], [-1, -2], [-1, -1]),
        ([-100, 0], [-100, 2], [0, -1], [-1, 1]),
    ];
    for (st, en, ax, sp) in cases {
        let mut sel = [(0..4).collect::<Vec<i64>>(), (0..6).collect::<Vec<i64>>()];
        for j in 0..2 {
            let a = if ax[j] < 0 { ax[j] + 2 } else { ax[j] } as usize;
            sel[a] = onnx_slice_indices([4, 6][a], st[j], en[j], sp[j]);
        }
        let vals = [st, en, ax, sp].map(|v| i64_value(&[2], &v));
        let mut inputs = vec![input(&[4, 6], xs.clone())];
        inputs.extend(vals);
        let got = run(&m, inputs).remove(0);
        let want: Vec<f64> = sel[0].iter().flat_map(|r| sel[1].iter().map(move |c| (r * 6 + c) as f64)).collect();
        assert_eq!(got.shape, [sel[0].len(), sel[1].len()], "case {st:?} {en:?} {ax:?} {sp:?}");
        assert_eq!(got.data, want, "case {st:?} {en:?} {ax:?} {sp:?}");
    }
    // An axis out of range fails.
    let mut inputs = vec![input(&[4, 6], xs)];
    inputs.extend([[0, 0], [2, 2], [0, 2], [1, 1]].map(|v: [i64; 2]| i64_value(&[2], &v)));
    assert!(Evaluator::new(&m).run(0, &inputs).is_err());
}

#[test]
fn pad_takes_run_time_axes() {
    let xs = seq(12, 1.0, 1.0);
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let p = b.input("pads", INT64, &dims(&[2]));
    let v = b.init_f32("value", &[], &[0.5]);
    let a = b.input("axes", INT64, &dims(&[1]));
    b.node_named("Pad", &[&x, &p, &v, &a], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None]);
    let m = to_model(b);
    // (axis, [begin, end]) → the full [b0, b1, e0, e1].
    for (axis, pads, full) in [(0i64, [1i64, 2], [1i64, 0, 2, 0]), (-1, [2, -1], [0, 2, 0, -1]), (1, [0, 3], [0, 0, 0, 3]), (-2, [-1, 1], [-1, 0, 1, 0])] {
        let got = run(&m, vec![input(&[3, 4], xs.clone()), i64_value(&[2], &pads), i64_value(&[1], &[axis])]).remove(0);
        let (shape, want) = naive_pad_2d(&xs, [3, 4], full, 0.5);
        assert_eq!((got.shape, got.data), (shape, want), "axis {axis} pads {pads:?}");
    }
    // Constant pads with run-time axes.
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &dims(&[3, 4]));
    let p = b.init_i64("pads", &[2], &[0, 2]);
    let a = b.input("axes", INT64, &dims(&[1]));
    b.node_named("Pad", &[&x, &p, "", &a], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None]);
    let m2 = to_model(b);
    let got = run(&m2, vec![input(&[3, 4], xs.clone()), i64_value(&[1], &[0])]).remove(0);
    let (shape, want) = naive_pad_2d(&xs, [3, 4], [0, 0, 2, 0], 0.0);
    assert_eq!((got.shape, got.data), (shape, want));
    // An axis out of range fails.
    for axis in [2i64, -3] {
        let r = Evaluator::new(&m).run(0, &[input(&[3, 4], xs.clone()), i64_value(&[2], &[1, 1]), i64_value(&[1], &[axis])]);
        assert!(r.is_err(), "axis {axis} must be rejected");
    }
}

// ---------------------------------------------------------------------------
// Attention
// ---------------------------------------------------------------------------

/// A direct float64 implementation of ONNX Attention for 4-D inputs with
/// grouped heads, a key/value cache, a bool mask and causal masking: rows
/// whose keys are all masked are zero.
#[allow(clippy::too_many_arguments)]
fn attention_reference(
    q: &[f32], k: &[f32], v: &[f32], mask: &[bool], (b, hq, hkv, l, s, d, dv): (usize, usize, usize, usize, usize, usize, usize), past: usize, causal: bool,
) -> (Vec<f64>, Vec<f64>) {
    let reps = hq / hkv;
    let scale = 1.0 / (d as f64).sqrt();
    let mut y = vec![0.0; b * hq * l * dv];
    let mut probs = vec![0.0; b * hq * l * s];
    for bi in 0..b {
        for h in 0..hq {
            let kh = h / reps;
            for i in 0..l {
                let mut logits = vec![f64::NEG_INFINITY; s];
                for (j, lg) in logits.iter_mut().enumerate() {
                    let allowed = mask[i * s + j] && (!causal || j <= i + past);
                    if allowed {
                        let dot: f64 = (0..d).map(|e| f64::from(q[((bi * hq + h) * l + i) * d + e]) * f64::from(k[((bi * hkv + kh) * s + j) * d + e])).sum();
                        *lg = dot * scale;
                    }
                }
                let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                if m == f64::NEG_INFINITY {
                    continue;
                }
                let z: f64 = logits.iter().map(|x| (x - m).exp()).sum();
                for j in 0..s {
                    let p = (logits[j] - m).exp() / z;
                    probs[((bi * hq + h) * l + i) * s + j] = p;
                    for e in 0..dv {
                        y[((bi * hq + h) * l + i) * dv + e] += p * f64::from(v[((bi * hkv + kh) * s + j) * dv + e]);
                    }
                }
            }
        }
    }
    (y, probs)
}

#[test]
fn attention_with_grouped_heads_cache_bool_mask_and_causal_matches_a_direct_computation() {
    let (b, hq, hkv, l, p, sn, d, dv) = (1usize, 4usize, 2usize, 3usize, 2usize, 2usize, 4usize, 3usize);
    let s = p + sn;
    let mut o = OnnxBuilder::new(23);
    let q = o.input("q", FLOAT, &dims(&[b as i64, hq as i64, l as i64, d as i64]));
    let k = o.input("k", FLOAT, &dims(&[b as i64, hkv as i64, sn as i64, d as i64]));
    let v = o.input("v", FLOAT, &dims(&[b as i64, hkv as i64, sn as i64, dv as i64]));
    let m = o.input("m", BOOL, &dims(&[l as i64, s as i64]));
    let pk = o.input("pk", FLOAT, &dims(&[b as i64, hkv as i64, p as i64, d as i64]));
    let pv = o.input("pv", FLOAT, &dims(&[b as i64, hkv as i64, p as i64, dv as i64]));
    o.node_named("Attention", &[&q, &k, &v, &m, &pk, &pv], &["y", "pk_out", "pv_out", "qk"], vec![attr_int("is_causal", 1), attr_int("qk_matmul_output_mode", 3)]);
    o.output("y", FLOAT, &dims(&[b as i64, hq as i64, l as i64, dv as i64]));
    o.output("pk_out", FLOAT, &dims(&[b as i64, hkv as i64, s as i64, d as i64]));
    o.output("pv_out", FLOAT, &dims(&[b as i64, hkv as i64, s as i64, dv as i64]));
    o.output("qk", FLOAT, &dims(&[b as i64, hq as i64, l as i64, s as i64]));
    let model = to_model(o);
    let wave = |n: usize, f: f32| -> Vec<f32> { (0..n).map(|i| ((i as f32) * f).sin()).collect() };
    let (qv, kv, vv) = (wave(b * hq * l * d, 0.7), wave(b * hkv * sn * d, 1.3), wave(b * hkv * sn * dv, 0.4));
    let (pkv, pvv) = (wave(b * hkv * p * d, 2.1), wave(b * hkv * p * dv, 0.9));
    // Row 0 masks every key: its output and probabilities are zero.
    let mask: Vec<bool> = (0..l * s).map(|i| i >= s && i % 3 != 1).collect();
    let mut full_k = vec![];
    let mut full_v = vec![];
    for h in 0..hkv {
        full_k.extend_from_slice(&pkv[h * p * d..(h + 1) * p * d]);
        full_k.extend_from_slice(&kv[h * sn * d..(h + 1) * sn * d]);
        full_v.extend_from_slice(&pvv[h * p * dv..(h + 1) * p * dv]);
        full_v.extend_from_slice(&vv[h * sn * dv..(h + 1) * sn * dv]);
    }
    let (want_y, want_p) = attention_reference(&qv, &full_k, &full_v, &mask, (b, hq, hkv, l, s, d, dv), p, true);
    let out = run(
        &model,
        vec![
            input(&[b, hq, l, d], qv),
            input(&[b, hkv, sn, d], kv),
            input(&[b, hkv, sn, dv], vv),
            Value::new(tflite_forge::DType::Bool, vec![l, s], mask.iter().map(|m| f64::from(u8::from(*m))).collect()),
            input(&[b, hkv, p, d], pkv),
            input(&[b, hkv, p, dv], pvv),
        ],
    );
    assert!(want_y[..dv].iter().all(|x| *x == 0.0) && want_y[dv..].iter().any(|x| *x != 0.0));
    assert_close(&out[0].data, &want_y, 1e-5);
    assert_close(&out[1].data, &full_k.iter().map(|x| f64::from(*x)).collect::<Vec<_>>(), 0.0);
    assert_close(&out[2].data, &full_v.iter().map(|x| f64::from(*x)).collect::<Vec<_>>(), 0.0);
    assert_close(&out[3].data, &want_p, 1e-5);
}

#[test]
fn attention_rejects_what_it_cannot_lower_exactly() {
    let build = |attrs: Vec<onnx_protobuf::AttributeProto>| {
        let mut o = OnnxBuilder::new(23);
        let q = o.input("q", FLOAT, &dims(&[1, 2, 3, 4]));
        let k = o.input("k", FLOAT, &dims(&[1, 2, 3, 4]));
        let v = o.input("v", FLOAT, &dims(&[1, 2, 3, 4]));
        o.node_named("Attention", &[&q, &k, &v], &["y", "", "", "qk"], attrs);
        o.output("y", FLOAT, &dims(&[1, 2, 3, 4]));
        o.output("qk", FLOAT, &dims(&[1, 2, 3, 3]));
        o
    };
    // Mode 0 with softcap: the specification and the reference differ.
    assert_eq!(reason(build(vec![attr_float("softcap", 2.0)])), ReasonCode::UnsupportedAttribute);
    assert_eq!(reason(build(vec![attr_int("softmax_precision", 10)])), ReasonCode::UnsupportedAttribute);
    // Three query heads over two key/value heads.
    let mut o = OnnxBuilder::new(23);
    let q = o.input("q", FLOAT, &dims(&[1, 3, 3, 4]));
    let k = o.input("k", FLOAT, &dims(&[1, 2, 3, 4]));
    let v = o.input("v", FLOAT, &dims(&[1, 2, 3, 4]));
    o.node_named("Attention", &[&q, &k, &v], &["y"], vec![]);
    o.output("y", FLOAT, &dims(&[1, 3, 3, 4]));
    assert_eq!(reason(o), ReasonCode::UnsupportedShape);
}

// ---------------------------------------------------------------------------
// Unary math decompositions
// ---------------------------------------------------------------------------

/// erf in float64: its Maclaurin series below 3, the continued fraction of
/// erfc above.
fn erf_f64(x: f64) -> f64 {
    let a = x.abs();
    let v = if a < 3.0 {
        let (mut term, mut sum, mut n) = (a, a, 0.0);
        while term.abs() > 1e-18 * sum.abs() {
            n += 1.0;
            term *= -a * a / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        let mut f = a;
        for k in (1..200).rev() {
            f = a + f64::from(k) / 2.0 / f;
        }
        1.0 - (-a * a).exp() / (std::f64::consts::PI.sqrt() * f)
    };
    v.copysign(x)
}

#[test]
fn erf_is_within_5e_7_of_the_true_erf_on_a_dense_grid() {
    assert!((erf_f64(0.5) - 0.520_499_877_813_046_5).abs() < 1e-15);
    assert!((erf_f64(3.5) - 0.999_999_256_901_627_7).abs() < 1e-15);
    let n = 24001;
    let xs: Vec<f32> = (0..n).map(|i| -6.0 + 12.0 * i as f32 / (n - 1) as f32).collect();
    let got = run_unary(13, "Erf", &[n], xs.clone(), vec![]);
    let worst = xs.iter().zip(&got).map(|(x, g)| (g - erf_f64(f64::from(*x))).abs()).fold(0.0, f64::max);
    assert!(worst < 5e-7, "max |error| {worst}");
    // Odd, and exact at 0.
    assert_eq!(run_unary(13, "Erf", &[2], vec![0.0, -0.75], vec![])[0], 0.0);
    assert!(run_unary(13, "Erf", &[1], vec![f32::NAN], vec![])[0].is_nan());
}

// ---------------------------------------------------------------------------
// Gathers and scatters
// ---------------------------------------------------------------------------

fn i64_input(shape: &[usize], v: &[i64]) -> Value {
    Value::new(tflite_forge::DType::I64, shape.to_vec(), v.iter().map(|x| *x as f64).collect())
}

#[test]
fn gather_elements_with_run_time_negative_indices() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 3]));
    let i = b.input("i", INT64, &dims(&[2, 3]));
    b.node_named("GatherElements", &[&x, &i], &["y"], vec![attr_int("axis", 0)]);
    b.output("y", FLOAT, &dims(&[2, 3]));
    let m = to_model(b);
    let xs = seq(9, 1.0, 1.0);
    let idx = [-1i64, 0, 2, 1, -3, -2];
    let got = run(&m, vec![input(&[3, 3], xs.clone()), i64_input(&[2, 3], &idx)]).remove(0);
    // y[r][c] = x[idx[r][c] mod 3][c].
    let want: Vec<f64> = (0..6).map(|f| f64::from(xs[(idx[f].rem_euclid(3) as usize) * 3 + f % 3])).collect();
    assert_eq!(got.data, want);
}

#[test]
fn gather_nd_with_batch_dims() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 3, 2]));
    let i = b.input("i", INT64, &dims(&[2, 2, 1]));
    b.node_named("GatherND", &[&x, &i], &["y"], vec![attr_int("batch_dims", 1)]);
    b.output("y", FLOAT, &dims(&[2, 2, 2]));
    let m = to_model(b);
    let xs = seq(12, 1.0, 0.0);
    let got = run(&m, vec![input(&[2, 3, 2], xs), i64_input(&[2, 2, 1], &[2, 0, -1, 1])]).remove(0);
    // Batch 0 rows 2 and 0; batch 1 rows 2 and 1.
    assert_eq!(got.data, [4.0, 5.0, 0.0, 1.0, 10.0, 11.0, 8.0, 9.0]);
}

#[test]
fn scatters_replace_add_multiply_and_take_extremes() {
    let scatter = |op: &str, reduction: &str, idx_shape: &[i64], upd_shape: &[i64]| {
        let mut b = OnnxBuilder::new(18);
        let x = b.input("x", FLOAT, &dims(&[3, 3]));
        let i = b.input("i", INT64, &dims(idx_shape));
        let u = b.input("u", FLOAT, &dims(upd_shape));
        let mut attrs = vec![attr_str("reduction", reduction)];
        if op == "ScatterElements" {
            attrs.push(attr_int("axis", 1));
        }
        b.node_named(op, &[&x, &i, &u], &["y"], attrs);
        b.output("y", FLOAT, &dims(&[3, 3]));
        b
    };
    let xs = seq(9, 1.0, 0.0);
    // ScatterElements along axis 1, duplicates added.
    let m = to_model(scatter("ScatterElements", "add", &[1, 2], &[1, 2]));
    let got = run(&m, vec![input(&[3, 3], xs.clone()), i64_input(&[1, 2], &[-1, 2]), input(&[1, 2], vec![10.0, 20.0])]).remove(0);
    assert_eq!(got.data, [0.0, 1.0, 32.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    // ScatterND replacing row 1.
    let m = to_model(scatter("ScatterND", "none", &[1, 1], &[1, 3]));
    let got = run(&m, vec![input(&[3, 3], xs), i64_input(&[1, 1], &[-2]), input(&[1, 3], vec![-1.0, -2.0, -3.0])]).remove(0);
    assert_eq!(got.data, [0.0, 1.0, 2.0, -1.0, -2.0, -3.0, 6.0, 7.0, 8.0]);
    // mul / max / min with duplicate targets: every update counts.
    let data = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let upd = vec![2.0, 10.0, -1.0, 3.0, 0.5, 4.0];
    for (r, f) in [("mul", (|a: f64, b: f64| a * b) as fn(f64, f64) -> f64), ("max", f64::max), ("min", f64::min)] {
        let m = to_model(scatter("ScatterND", r, &[2, 1], &[2, 3]));
        let got = run(&m, vec![input(&[3, 3], data.clone()), i64_input(&[2, 1], &[2, -1]), input(&[2, 3], upd.clone())]).remove(0);
        let mut want: Vec<f64> = data.iter().map(|v| f64::from(*v)).collect();
        for (k, u) in upd.iter().enumerate() {
            want[6 + k % 3] = f(want[6 + k % 3], f64::from(*u));
        }
        assert_eq!(got.data, want, "ScatterND {r}");
        let m = to_model(scatter("ScatterElements", r, &[1, 2], &[1, 2]));
        let got = run(&m, vec![input(&[3, 3], data.clone()), i64_input(&[1, 2], &[1, 1]), input(&[1, 2], vec![-3.0, 0.25])]).remove(0);
        let mut want: Vec<f64> = data.iter().map(|v| f64::from(*v)).collect();
        want[1] = f(f(want[1], -3.0), 0.25);
        assert_eq!(got.data, want, "ScatterElements {r}");
    }
}

// ---------------------------------------------------------------------------
// Trilu, CumSum, TopK, OneHot, Tile, DepthToSpace, SpaceToDepth
// ---------------------------------------------------------------------------

#[test]
fn trilu_with_constant_and_run_time_k() {
    let xs = seq(12, 1.0, 1.0);
    for (upper, k) in [(1i64, 1i64), (0, -1), (1, -2), (0, 2)] {
        let keep = |i: usize, j: usize| if upper == 1 { j as i64 - i as i64 >= k } else { j as i64 - i as i64 <= k };
        let want: Vec<f64> = (0..12).map(|f| if keep(f / 4, f % 4) { f64::from(xs[f]) } else { 0.0 }).collect();
        // Constant k.
        let mut b = OnnxBuilder::new(14);
        let x = b.input("x", FLOAT, &dims(&[3, 4]));
        let kk = b.init_i64("k", &[], &[k]);
        b.node_named("Trilu", &[&x, &kk], &["y"], vec![attr_int("upper", upper)]);
        b.output("y", FLOAT, &dims(&[3, 4]));
        let got = run(&to_model(b), vec![input(&[3, 4], xs.clone())]).remove(0);
        assert_eq!(got.data, want, "upper={upper} k={k}");
        // Run-time k.
        let mut b = OnnxBuilder::new(14);
        let x = b.input("x", FLOAT, &dims(&[3, 4]));
        let kk = b.input("k", INT64, &dims(&[]));
        b.node_named("Trilu", &[&x, &kk], &["y"], vec![attr_int("upper", upper)]);
        b.output("y", FLOAT, &dims(&[3, 4]));
        let got = run(&to_model(b), vec![input(&[3, 4], xs.clone()), i64_input(&[], &[k])]).remove(0);
        assert_eq!(got.data, want, "run-time upper={upper} k={k}");
    }
}

#[test]
fn cumsum_exclusive_reverse_on_a_run_time_axis() {
    let mut b = OnnxBuilder::new(14);
    let x = b.input("x", FLOAT, &dims(&[2, 3]));
    let a = b.input("a", INT64, &dims(&[]));
    b.node_named("CumSum", &[&x, &a], &["y"], vec![attr_int("exclusive", 1), attr_int("reverse", 1)]);
    b.output("y", FLOAT, &dims(&[2, 3]));
    let m = to_model(b);
    let got = run(&m, vec![input(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), i64_input(&[], &[-1])]).remove(0);
    assert_eq!(got.data, [5.0, 3.0, 0.0, 11.0, 6.0, 0.0]);
}

#[test]
fn topk_smallest_on_the_first_axis_keeps_lower_indices_first_on_ties() {
    let mut b = OnnxBuilder::new(11);
    let x = b.input("x", FLOAT, &dims(&[4, 2]));
    let k = b.init_i64("k", &[1], &[2]);
    b.node_named("TopK", &[&x, &k], &["v", "i"], vec![attr_int("axis", 0), attr_int("largest", 0)]);
    b.output("v", FLOAT, &dims(&[2, 2]));
    b.output("i", INT64, &dims(&[2, 2]));
    let m = to_model(b);
    let out = run(&m, vec![input(&[4, 2], vec![3.0, 1.0, 2.0, 5.0, 2.0, 0.0, 7.0, 1.0])]);
    assert_eq!(out[0].data, [2.0, 0.0, 2.0, 1.0]);
    assert_eq!(out[1].data, [1.0, 2.0, 2.0, 0.0]);
    assert_eq!(out[1].dtype, tflite_forge::DType::I64);
}

#[test]
fn one_hot_wraps_negative_indices_and_turns_out_of_range_ones_off() {
    let mut b = OnnxBuilder::new(11);
    let i = b.input("i", INT64, &dims(&[4]));
    let d = b.init_f32("d", &[], &[3.0]);
    let v = b.init_f32("v", &[2], &[-1.0, 5.0]);
    b.node_named("OneHot", &[&i, &d, &v], &["y"], vec![attr_int("axis", 0)]);
    b.output("y", FLOAT, &dims(&[3, 4]));
    let m = to_model(b);
    let got = run(&m, vec![i64_input(&[4], &[0, -1, 3, -4])]).remove(0);
    // Column c is one-hot of index c: 0, 2 (wrapped), none, none.
    assert_eq!(got.data, [5.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, 5.0, -1.0, -1.0]);
}

#[test]
fn tile_with_run_time_repeats() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 2]));
    let r = b.input("r", INT64, &dims(&[2]));
    b.node_named("Tile", &[&x, &r], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None]);
    let m = to_model(b);
    let got = run(&m, vec![input(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]), i64_input(&[2], &[1, 2])]).remove(0);
    assert_eq!(got.shape, [2, 4]);
    assert_eq!(got.data, [1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0]);
}

#[test]
fn depth_to_space_and_space_to_depth_in_both_modes() {
    // x[n][c][h][w] = c * 100 + h * 10 + w, with 8 channels of 2x3.
    let (c, h, w, bs) = (8usize, 2usize, 3usize, 2usize);
    let xs: Vec<f32> = (0..c * h * w).map(|f| ((f / (h * w)) * 100 + (f / w % h) * 10 + f % w) as f32).collect();
    for mode in ["DCR", "CRD"] {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[1, c as i64, h as i64, w as i64]));
        b.node_named("DepthToSpace", &[&x], &["y"], vec![attr_int("blocksize", bs as i64), attr_str("mode", mode)]);
        b.output("y", FLOAT, &dims(&[1, 2, 4, 6]));
        let got = run(&to_model(b), vec![input(&[1, c, h, w], xs.clone())]).remove(0);
        let oc = c / (bs * bs);
        let want: Vec<f64> = (0..oc * h * bs * w * bs)
            .map(|f| {
                let (co, y, x) = (f / (h * bs * w * bs), f / (w * bs) % (h * bs), f % (w * bs));
                let (by, bx) = (y % bs, x % bs);
                let ci = if mode == "DCR" { (by * bs + bx) * oc + co } else { co * bs * bs + by * bs + bx };
                f64::from(xs[(ci * h + y / bs) * w + x / bs])
            })
            .collect();
        assert_eq!(got.data, want, "DepthToSpace {mode}");
        // SpaceToDepth in the same mode inverts it.
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[1, 2, 4, 6]));
        b.node_named("SpaceToDepth", &[&x], &["y"], vec![attr_int("blocksize", bs as i64), attr_str("mode", mode)]);
        b.output("y", FLOAT, &dims(&[1, c as i64, h as i64, w as i64]));
        let back = run(&to_model(b), vec![Value::new(tflite_forge::DType::F32, vec![1, 2, 4, 6], want.clone())]).remove(0);
        assert_eq!(back.data, xs.iter().map(|v| f64::from(*v)).collect::<Vec<_>>(), "SpaceToDepth {mode}");
    }
}

// ---------------------------------------------------------------------------
// Composite activations and more unary math
// ---------------------------------------------------------------------------

#[test]
fn composite_activations_match_their_formulas() {
    let xs: Vec<f32> = (0..401).map(|i| -20.0 + 0.1 * i as f32).collect();
    let sp = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
    type Case = (&'static str, Vec<onnx_protobuf::AttributeProto>, Box<dyn Fn(f64) -> f64>);
    let cases: Vec<Case> = vec![
        ("Elu", vec![attr_float("alpha", 2.0)], Box::new(|x| if x > 0.0 { x } else { 2.0 * x.exp_m1() })),
        ("Selu", vec![], Box::new(|x| 1.050_700_987_355_480_5 * if x > 0.0 { x } else { 1.673_263_242_354_377_3 * x.exp_m1() })),
        ("Celu", vec![attr_float("alpha", 2.0)], Box::new(|x| x.max(0.0) + (2.0 * (x / 2.0).exp_m1()).min(0.0))),
        ("Softplus", vec![], Box::new(sp)),
        ("Softsign", vec![], Box::new(|x| x / (1.0 + x.abs()))),
        ("ThresholdedRelu", vec![attr_float("alpha", 2.0)], Box::new(|x| if x > 2.0 { x } else { 0.0 })),
        ("Swish", vec![attr_float("alpha", 0.5)], Box::new(|x| x / (1.0 + (-0.5 * x).exp()))),
        ("Mish", vec![], Box::new(move |x| x * sp(x).tanh())),
        ("Shrink", vec![attr_float("bias", 1.5), attr_float("lambd", 1.0)], Box::new(|x| if x < -1.0 { x + 1.5 } else if x > 1.0 { x - 1.5 } else { 0.0 })),
    ];
    for (op, attrs, f) in cases {
        let opset = if op == "Swish" { 24 } else { 22 };
        let got = run_unary(opset, op, &[xs.len()], xs.clone(), attrs);
        for (x, g) in xs.iter().zip(&got) {
            let w = f(f64::from(*x));
            assert!((g - w).abs() <= 2e-6 * w.abs() + 1e-30, "{op}({x}) = {g}, want {w}");
        }
    }
}

#[test]
fn unary_math_decompositions_are_accurate_to_1e_6_relative() {
    let grid = |lo: f32, hi: f32, n: usize| -> Vec<f32> { (0..n).map(|i| lo + (hi - lo) * i as f32 / (n - 1) as f32).collect() };
    type Case = (&'static str, Vec<f32>, fn(f64) -> f64);
    let cases: Vec<Case> = vec![
        ("Sinh", grid(-20.0, 20.0, 4001), f64::sinh),
        ("Cosh", grid(-20.0, 20.0, 4001), f64::cosh),
        ("Tan", grid(-1.5, 1.5, 3001), f64::tan),
        ("Atan", grid(-50.0, 50.0, 4001), f64::atan),
        ("Asin", grid(-1.0, 1.0, 4001), f64::asin),
        ("Acos", grid(-1.0, 1.0, 4001), f64::acos),
        ("Asinh", grid(-50.0, 50.0, 8001), f64::asinh),
        ("Acosh", grid(1.0, 30.0, 8001), f64::acosh),
        ("Atanh", grid(-0.999, 0.999, 8001), f64::atanh),
    ];
    for (op, xs, f) in cases {
        let got = run_unary(22, op, &[xs.len()], xs.clone(), vec![]);
        for (x, g) in xs.iter().zip(&got) {
            let w = f(f64::from(*x));
            assert!((g - w).abs() <= 1e-6 * w.abs() + 1e-30, "{op}({x}) = {g}, want {w}");
        }
    }
    // Large arguments stay finite as long as the result does.
    assert!(run_unary(22, "Cosh", &[1], vec![89.0], vec![])[0].is_finite());
    let huge = run_unary(22, "Asinh", &[2], vec![3e38, -1e30], vec![]);
    assert_close(&huge, &[3e38f64.asinh(), (-1e30f64).asinh()], 1e-6);
    assert!(run_unary(22, "Acosh", &[1], vec![0.5], vec![])[0].is_nan());
}

#[test]
fn sign_round_isnan_isinf() {
    let xs = vec![-2.5f32, -0.5, 0.0, 0.5, 1.5, 2.5, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
    let n = xs.len();
    assert_eq!(run_unary(13, "Round", &[n], xs.clone(), vec![])[..6], [-2.0, -0.0, 0.0, 0.0, 2.0, 2.0]);
    assert_eq!(run_unary(13, "Sign", &[n], xs.clone(), vec![])[..8], [-1.0, -1.0, 0.0, 1.0, 1.0, 1.0, 1.0, -1.0]);
    let flags = |op: &str, attrs: Vec<onnx_protobuf::AttributeProto>| -> Vec<f64> {
        let mut b = OnnxBuilder::new(20);
        let x = b.input("x", FLOAT, &dims(&[n as i64]));
        b.node_named(op, &[&x], &["y"], attrs);
        b.output("y", BOOL, &dims(&[n as i64]));
        run(&to_model(b), vec![input(&[n], xs.clone())]).remove(0).data
    };
    assert_eq!(flags("IsNaN", vec![]), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(flags("IsInf", vec![]), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
    assert_eq!(flags("IsInf", vec![attr_int("detect_negative", 0)]), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(flags("IsInf", vec![attr_int("detect_positive", 0)]), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
}

#[test]
fn hardmax_mean_lp_normalization_and_bitwise() {
    // Hardmax over axis 1 of [2, 3, 2]: first maximum wins.
    let xs = vec![1.0, 5.0, 3.0, 5.0, 3.0, 0.0, 2.0, 2.0, 2.0, 1.0, 0.0, 2.0];
    let got = run_unary(13, "Hardmax", &[2, 3, 2], xs, vec![attr_int("axis", 1)]);
    assert_eq!(got, [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    // Mean of three broadcast inputs.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 2]));
    let y = b.input("y", FLOAT, &dims(&[2]));
    let c = b.init_f32("c", &[1], &[3.0]);
    b.node_named("Mean", &[&x, &y, &c], &["m"], vec![]);
    b.output("m", FLOAT, &dims(&[2, 2]));
    let got = run(&to_model(b), vec![input(&[2, 2], vec![0.0, 3.0, 6.0, 9.0]), input(&[2], vec![0.0, 3.0])]).remove(0);
    assert_eq!(got.data, [1.0, 3.0, 3.0, 5.0]);
    // L2 normalization along axis 0, zero where the norm is zero.
    let got = run_unary(22, "LpNormalization", &[2, 2], vec![3.0, 0.0, 4.0, 0.0], vec![attr_int("axis", 0)]);
    assert_close(&got, &[0.6, 0.0, 0.8, 0.0], 1e-7);
    let got = run_unary(22, "LpNormalization", &[1, 3], vec![-1.0, 2.0, 1.0], vec![attr_int("p", 1)]);
    assert_close(&got, &[-0.25, 0.5, 0.25], 1e-7);
    // BitwiseNot and BitwiseXor on int32.
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", INT32, &dims(&[3]));
    let y = b.input("y", INT32, &dims(&[3]));
    let n = b.node("BitwiseNot", &[&x], vec![]);
    b.node_named("BitwiseXor", &[&n, &y], &["z"], vec![]);
    b.output("z", INT32, &dims(&[3]));
    let got = run(&to_model(b), vec![Value::from_i32(vec![3], vec![0, 5, -7]), Value::from_i32(vec![3], vec![1, 3, 0])]).remove(0);
    assert_eq!(got.data, [f64::from(!0 ^ 1), f64::from(!5 ^ 3), f64::from(!(-7))]);
}

// ---------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------

fn loss_model(op: &str, reduction: &str, ignore: Option<i64>, weights: bool, outputs: &[&str]) -> OnnxBuilder {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 3, 2]));
    let t = b.input("t", INT64, &dims(&[2, 2]));
    let mut ins = vec![x, t];
    if weights {
        ins.push(b.init_f32("w", &[3], &[0.5, 2.0, 1.0]));
    }
    let mut attrs = vec![attr_str("reduction", reduction)];
    if let Some(i) = ignore {
        attrs.push(attr_int("ignore_index", i));
    }
    let refs: Vec<&str> = ins.iter().map(|s| s.as_str()).collect();
    b.node_named(op, &refs, outputs, attrs);
    b.output(outputs[0], FLOAT, &dims(if reduction == "none" { &[2, 2] } else { &[] }));
    if outputs.len() > 1 {
        b.output(outputs[1], FLOAT, &dims(&[2, 3, 2]));
    }
    b
}

#[test]
fn nll_and_softmax_cross_entropy_losses_with_weights_and_ignore_index() {
    let xs: Vec<f32> = (0..12).map(|i| ((i * 7 % 12) as f32 - 5.0) * 0.3).collect();
    let targets = [2i64, -1, 0, 1];
    let w = [0.5, 2.0, 1.0];
    // Direct computation: x[n][c][d] at index (n*3 + c)*2 + d.
    let at = |v: &[f64], n: usize, c: usize, d: usize| v[(n * 3 + c) * 2 + d];
    let x64: Vec<f64> = xs.iter().map(|v| f64::from(*v)).collect();
    let mut logp = vec![0.0; 12];
    for n in 0..2 {
        for d in 0..2 {
            let m = (0..3).map(|c| at(&x64, n, c, d)).fold(f64::MIN, f64::max);
            let z: f64 = (0..3).map(|c| (at(&x64, n, c, d) - m).exp()).sum();
            for c in 0..3 {
                logp[(n * 3 + c) * 2 + d] = at(&x64, n, c, d) - m - z.ln();
            }
        }
    }
    for (op, src) in [("NegativeLogLikelihoodLoss", &x64), ("SoftmaxCrossEntropyLoss", &logp)] {
        let (mut losses, mut wsum) = (vec![0.0; 4], 0.0);
        for (k, t) in targets.iter().enumerate() {
            if *t != -1 {
                let wt = w[*t as usize];
                losses[k] = -at(src, k / 2, *t as usize, k % 2) * wt;
                wsum += wt;
            }
        }
        let inputs = || vec![input(&[2, 3, 2], xs.clone()), i64_input(&[2, 2], &targets)];
        let got = run(&to_model(loss_model(op, "none", Some(-1), true, &["y"])), inputs()).remove(0);
        assert_close(&got.data, &losses, 1e-6);
        let got = run(&to_model(loss_model(op, "mean", Some(-1), true, &["y"])), inputs()).remove(0);
        assert_close(&got.data, &[losses.iter().sum::<f64>() / wsum], 1e-6);
        let got = run(&to_model(loss_model(op, "sum", Some(-1), true, &["y"])), inputs()).remove(0);
        assert_close(&got.data, &[losses.iter().sum::<f64>()], 1e-6);
    }
    let out = run(&to_model(loss_model("SoftmaxCrossEntropyLoss", "mean", None, false, &["y", "logp"])), vec![input(&[2, 3, 2], xs.clone()), i64_input(&[2, 2], &[2, 1, 0, 1])]);
    assert_close(&out[1].data, &logp, 1e-6);
    let want = -(at(&logp, 0, 2, 0) + at(&logp, 0, 1, 1) + at(&logp, 1, 0, 0) + at(&logp, 1, 1, 1)) / 4.0;
    assert_close(&out[0].data, &[want], 1e-6);
    // The reference averages over ignored targets too in this one case.
    assert_eq!(reason(loss_model("NegativeLogLikelihoodLoss", "mean", Some(-1), false, &["y"])), ReasonCode::UnsupportedAttribute);
}

#[test]
fn composite_reductions_over_constant_axes() {
    let xs = vec![1.0f32, -2.0, 3.0, -4.0, 0.5, 6.0];
    let reduce = |op: &str, keep: i64, data: Vec<f32>| -> Vec<f64> {
        let mut b = OnnxBuilder::new(18);
        let x = b.input("x", FLOAT, &dims(&[2, 3]));
        let a = b.init_i64("a", &[1], &[-1]);
        b.node_named(op, &[&x, &a], &["y"], vec![attr_int("keepdims", keep)]);
        b.output("y", FLOAT, &dims(if keep == 1 { &[2, 1] } else { &[2] }));
        run(&to_model(b), vec![input(&[2, 3], data)]).remove(0).data
    };
    let rows: Vec<Vec<f64>> = xs.chunks(3).map(|r| r.iter().map(|v| f64::from(*v)).collect()).collect();
    let per_row = |f: &dyn Fn(&[f64]) -> f64| -> Vec<f64> { rows.iter().map(|r| f(r)).collect() };
    assert_close(&reduce("ReduceL1", 0, xs.clone()), &per_row(&|r| r.iter().map(|v| v.abs()).sum()), 1e-6);
    assert_close(&reduce("ReduceL2", 1, xs.clone()), &per_row(&|r| r.iter().map(|v| v * v).sum::<f64>().sqrt()), 1e-6);
    assert_close(&reduce("ReduceSumSquare", 0, xs.clone()), &per_row(&|r| r.iter().map(|v| v * v).sum()), 1e-6);
    let pos: Vec<f32> = xs.iter().map(|v| v.abs()).collect();
    assert_close(&reduce("ReduceLogSum", 0, pos), &per_row(&|r| r.iter().map(|v| v.abs()).sum::<f64>().ln()), 1e-6);
    assert_close(&reduce("ReduceLogSumExp", 0, xs.clone()), &per_row(&|r| r.iter().map(|v| v.exp()).sum::<f64>().ln()), 1e-6);
    // Large values do not overflow; +inf gives +inf.
    let got = reduce("ReduceLogSumExp", 1, vec![100.0, 100.0, 0.0, f32::INFINITY, 1.0, 2.0]);
    assert!((got[0] - (100.0 + 2f64.ln())).abs() < 1e-4 && got[1] == f64::INFINITY, "{got:?}");
}

/// A direct einsum over small float tensors: `labels` per operand, output
/// `out`, sizes per label.
fn einsum_direct(ops: &[(&str, &[f32])], out: &str, size: &dyn Fn(char) -> usize) -> Vec<f64> {
    let mut all: Vec<char> = ops.iter().flat_map(|(l, _)| l.chars()).chain(out.chars()).collect();
    all.sort_unstable();
    all.dedup();
    let total: usize = all.iter().map(|c| size(*c)).product();
    let out_n: usize = out.chars().map(size).product();
    let mut res = vec![0.0; out_n];
    for f in 0..total {
        let mut idx = std::collections::HashMap::new();
        let mut rem = f;
        for c in all.iter().rev() {
            idx.insert(*c, rem % size(*c));
            rem /= size(*c);
        }
        let flat = |labels: &str| labels.chars().fold(0, |acc, c| acc * size(c) + idx[&c]);
        let p: f64 = ops.iter().map(|(l, v)| f64::from(v[flat(l)])).product();
        res[flat(out)] += p;
    }
    res
}

#[test]
fn einsum_contractions_match_a_direct_sum() {
    let size = |c: char| match c {
        'b' => 2,
        'h' => 3,
        'i' => 4,
        'j' => 5,
        'd' => 3,
        _ => 2,
    };
    let shape = |l: &str| -> Vec<usize> { l.chars().map(size).collect() };
    let data = |l: &str, k: f32| -> Vec<f32> { (0..shape(l).iter().product::<usize>()).map(|i| ((i as f32) * k).sin()).collect() };
    for (eq, ins, out) in [
        ("bhid,bhjd->bhij", vec!["bhid", "bhjd"], "bhij"),
        ("bhij,bhjd->bihd", vec!["bhij", "bhjd"], "bihd"),
        ("bid,jd->bij", vec!["bid", "jd"], "bij"),
        ("ij->ji", vec!["ij"], "ji"),
        ("ij->i", vec!["ij"], "i"),
        ("i,j->ij", vec!["i", "j"], "ij"),
        ("bi,bj,jd->bid", vec!["bi", "bj", "jd"], "bid"),
    ] {
        let mut b = OnnxBuilder::new(13);
        let names: Vec<String> = ins.iter().enumerate().map(|(k, l)| b.input(&format!("x{k}"), FLOAT, &dims(&shape(l).iter().map(|d| *d as i64).collect::<Vec<_>>()))).collect();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        b.node_named("Einsum", &refs, &["y"], vec![attr_str("equation", eq)]);
        b.output("y", FLOAT, &dims(&shape(out).iter().map(|d| *d as i64).collect::<Vec<_>>()));
        let vals: Vec<Vec<f32>> = ins.iter().enumerate().map(|(k, l)| data(l, 0.37 + k as f32)).collect();
        let inputs: Vec<Value> = ins.iter().zip(&vals).map(|(l, v)| input(&shape(l), v.clone())).collect();
        let got = run(&to_model(b), inputs).remove(0);
        let ops: Vec<(&str, &[f32])> = ins.iter().zip(&vals).map(|(l, v)| (*l, v.as_slice())).collect();
        assert_eq!(got.shape, shape(out), "{eq}");
        assert_close(&got.data, &einsum_direct(&ops, out, &size), 1e-5);
    }
    // A diagonal is refused.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3, 3]));
    b.node_named("Einsum", &[&x], &["y"], vec![attr_str("equation", "ii->i")]);
    b.output("y", FLOAT, &dims(&[3]));
    assert_eq!(reason(b), ReasonCode::UnsupportedAttribute);
}

#[test]
fn einsum_ellipsis_and_implicit_output() {
    let build = |eq: &str, a: &[i64], b2: &[i64], out: &[i64]| {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(a));
        let y = b.input("y", FLOAT, &dims(b2));
        b.node_named("Einsum", &[&x, &y], &["z"], vec![attr_str("equation", eq)]);
        b.output("z", FLOAT, &dims(out));
        to_model(b)
    };
    let xs = seq(12, 0.25, -1.0);
    let ys = seq(12, -0.5, 2.0);
    let inputs = || vec![input(&[2, 2, 3], xs.clone()), input(&[2, 3, 2], ys.clone())];
    let plain = run(&build("bij,bjk->bik", &[2, 2, 3], &[2, 3, 2], &[2, 2, 2]), inputs()).remove(0);
    let ellipsis = run(&build("...ij,...jk->...ik", &[2, 2, 3], &[2, 3, 2], &[2, 2, 2]), inputs()).remove(0);
    let implicit = run(&build("...ij,...jk", &[2, 2, 3], &[2, 3, 2], &[2, 2, 2]), inputs()).remove(0);
    assert_eq!(plain.data, ellipsis.data);
    assert_eq!(plain.data, implicit.data);
    // Inner product to a scalar.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[3]));
    let y = b.input("y", FLOAT, &dims(&[3]));
    b.node_named("Einsum", &[&x, &y], &["z"], vec![attr_str("equation", "i,i")]);
    b.output("z", FLOAT, &dims(&[]));
    let got = run(&to_model(b), vec![input(&[3], vec![1.0, 2.0, 3.0]), input(&[3], vec![4.0, 5.0, 6.0])]).remove(0);
    assert!(got.shape.is_empty());
    assert_eq!(got.data, [32.0]);
}

#[test]
fn bitshift_follows_the_out_of_range_rule() {
    let shift = |dir: &str, elem: i32, dt: tflite_forge::DType, x: &[f64], y: &[f64]| -> Vec<f64> {
        let mut b = OnnxBuilder::new(11);
        let xi = b.input("x", elem, &dims(&[x.len() as i64]));
        let yi = b.input("y", elem, &dims(&[y.len() as i64]));
        b.node_named("BitShift", &[&xi, &yi], &["z"], vec![attr_str("direction", dir)]);
        b.output("z", elem, &dims(&[x.len() as i64]));
        run(&to_model(b), vec![Value::new(dt, vec![x.len()], x.to_vec()), Value::new(dt, vec![y.len()], y.to_vec())]).remove(0).data
    };
    const INT8: i32 = 3;
    let (i8t, i32t, u8t) = (tflite_forge::DType::I8, tflite_forge::DType::I32, tflite_forge::DType::U8);
    let x = [-100.0, 100.0, -1.0, 7.0, 64.0];
    let y = [2.0, 1.0, 9.0, -1.0, 8.0];
    // Right: arithmetic shift; out of range gives the sign.
    assert_eq!(shift("RIGHT", INT8, i8t, &x, &y), [-25.0, 50.0, -1.0, 0.0, 0.0]);
    // Left: low bits kept (wrapping); out of range gives 0.
    assert_eq!(shift("LEFT", INT8, i8t, &x, &y), [f64::from((-100i8).wrapping_shl(2)), f64::from(100i8.wrapping_shl(1)), 0.0, 0.0, 0.0]);
    assert_eq!(shift("LEFT", INT32, i32t, &[3.0, -5.0], &[30.0, 31.0]), [f64::from(3i32.wrapping_shl(30)), f64::from((-5i32).wrapping_shl(31))]);
    assert_eq!(shift("RIGHT", UINT8, u8t, &[200.0, 200.0, 255.0], &[3.0, 8.0, 7.0]), [25.0, 0.0, 1.0]);
}

#[test]
fn rotary_embedding_matches_a_direct_rotation() {
    let (b, h, s, d, rd, npos) = (1usize, 2usize, 3usize, 6usize, 4usize, 5usize);
    let half = rd / 2;
    let xs: Vec<f32> = (0..b * h * s * d).map(|i| ((i as f32) * 0.61).sin()).collect();
    let cos: Vec<f32> = (0..npos * half).map(|i| ((i as f32) * 0.3).cos()).collect();
    let sin: Vec<f32> = (0..npos * half).map(|i| ((i as f32) * 0.3).sin()).collect();
    let pos = [4i64, 0, 2];
    for interleaved in [0i64, 1] {
        let mut o = OnnxBuilder::new(23);
        let x = o.input("x", FLOAT, &dims(&[b as i64, h as i64, s as i64, d as i64]));
        let c = o.init_f32("c", &[npos as i64, half as i64], &cos);
        let sn = o.init_f32("s", &[npos as i64, half as i64], &sin);
        let p = o.input("p", INT64, &dims(&[b as i64, s as i64]));
        o.node_named("RotaryEmbedding", &[&x, &c, &sn, &p], &["y"], vec![attr_int("interleaved", interleaved), attr_int("rotary_embedding_dim", rd as i64)]);
        o.output("y", FLOAT, &dims(&[b as i64, h as i64, s as i64, d as i64]));
        let got = run(&to_model(o), vec![input(&[b, h, s, d], xs.clone()), i64_input(&[b, s], &pos)]).remove(0);
        let mut want: Vec<f64> = xs.iter().map(|v| f64::from(*v)).collect();
        for hh in 0..h {
            for ss in 0..s {
                let base = (hh * s + ss) * d;
                for k in 0..half {
                    let (i1, i2) = if interleaved == 1 { (2 * k, 2 * k + 1) } else { (k, k + half) };
                    let (x1, x2) = (f64::from(xs[base + i1]), f64::from(xs[base + i2]));
                    let (cv, sv) = (f64::from(cos[pos[ss] as usize * half + k]), f64::from(sin[pos[ss] as usize * half + k]));
                    want[base + i1] = cv * x1 - sv * x2;
                    want[base + i2] = sv * x1 + cv * x2;
                }
            }
        }
        assert_close(&got.data, &want, 1e-6);
    }
}

#[test]
fn int64_arithmetic_with_an_int64_constant_keeps_int64() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", INT64, &dims(&[3]));
    let c = b.init_i64("c", &[], &[5]);
    b.node_named("Sub", &[&x, &c], &["y"], vec![]);
    b.output("y", INT64, &dims(&[3]));
    let got = run(&to_model(b), vec![i64_input(&[3], &[7, -2, 5_000_000_000])]).remove(0);
    assert_eq!(got.dtype, tflite_forge::DType::I64);
    assert_eq!(got.data, [2.0, -7.0, 4_999_999_995.0]);
}

#[test]
fn composite_reductions_take_run_time_axes() {
    let xs: Vec<f32> = vec![1.0, -2.0, 3.0, 0.5, 4.0, -1.5, 2.0, 6.0, -3.0, 1.0, 0.25, 5.0];
    type F = fn(&[f64]) -> f64;
    let cases: [(&str, F); 4] = [
        ("ReduceL1", |v| v.iter().map(|x| x.abs()).sum()),
        ("ReduceL2", |v| v.iter().map(|x| x * x).sum::<f64>().sqrt()),
        ("ReduceSumSquare", |v| v.iter().map(|x| x * x).sum()),
        ("ReduceLogSumExp", |v| v.iter().map(|x| x.exp()).sum::<f64>().ln()),
    ];
    for (op, f) in cases {
        for keep in [1i64, 0] {
            let m = to_model(reduce_runtime_axes(18, op, 2, vec![attr_int("keepdims", keep)]));
            // Axes 0 and 2 at run time, one given as negative.
            let got = run(&m, vec![input(&[2, 3, 2], xs.clone()), i64_value(&[2], &[0, -1])]).remove(0);
            let want: Vec<f64> = (0..3)
                .map(|j| {
                    let v: Vec<f64> = (0..2).flat_map(|i| (0..2).map(move |k| (i, k))).map(|(i, k)| f64::from(xs[(i * 3 + j) * 2 + k])).collect();
                    f(&v)
                })
                .collect();
            assert_eq!(got.shape, if keep == 1 { vec![1, 3, 1] } else { vec![3] }, "{op} keepdims={keep}");
            assert_close(&got.data, &want, 1e-5);
        }
    }
}

// ---------------------------------------------------------------------------
// 1-D and grouped convolution, pools from window taps
// ---------------------------------------------------------------------------

/// ONNX Conv written out naively on N, C, W (1-D; `h = 1` for a plane
/// flattened as [H=1, W]) with groups, strides, dilation and pads.
#[allow(clippy::too_many_arguments)]
fn naive_conv1d(x: &[f32], [n, c, w]: [usize; 3], wt: &[f32], m: usize, k: usize, bias: &[f32], group: usize, s: usize, d: usize, (pb, pe): (usize, usize)) -> (usize, Vec<f64>) {
    let cg = c / group;
    let mg = m / group;
    let ow = (w + pb + pe - ((k - 1) * d + 1)) / s + 1;
    let mut y = vec![0f64; n * m * ow];
    for b in 0..n {
        for o in 0..m {
            let g = o / mg;
            for q in 0..ow {
                let mut acc = f64::from(bias[o]);
                for ci in 0..cg {
                    for j in 0..k {
                        let pos = (q * s + j * d) as i64 - pb as i64;
                        if pos >= 0 && (pos as usize) < w {
                            acc += f64::from(x[(b * c + g * cg + ci) * w + pos as usize]) * f64::from(wt[(o * cg + ci) * k + j]);
                        }
                    }
                }
                y[(b * m + o) * ow + q] = acc;
            }
        }
    }
    (ow, y)
}

#[test]
fn conv1d_with_groups_strides_dilations_and_pads_matches_the_naive_formula() {
    // (channels, out channels, group, kernel, stride, dilation, pads)
    type Case = (usize, usize, usize, usize, usize, usize, (usize, usize));
    let cases: [Case; 5] = [
        (2, 3, 1, 3, 1, 1, (1, 1)),
        (4, 4, 2, 2, 2, 1, (0, 1)),
        (3, 6, 3, 3, 1, 2, (2, 0)),
        (4, 4, 4, 3, 1, 1, (1, 1)),
        (6, 4, 2, 1, 3, 1, (0, 0)),
    ];
    for (c, m, group, k, s, d, pads) in cases {
        let w = 9;
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[2, c as i64, w as i64]));
        let wt = seq(m * (c / group) * k, 0.1, -0.4);
        let bias = seq(m, 0.5, -1.0);
        let wn = b.init_f32("w", &[m as i64, (c / group) as i64, k as i64], &wt);
        let bn = b.init_f32("b", &[m as i64], &bias);
        let attrs = vec![attr_int("group", group as i64), attr_ints("strides", &[s as i64]), attr_ints("dilations", &[d as i64]), attr_ints("pads", &[pads.0 as i64, pads.1 as i64])];
        b.node_named("Conv", &[&x, &wn, &bn], &["y"], attrs);
        let (ow, want) = naive_conv1d(&seq(2 * c * w, 0.3, -2.0), [2, c, w], &wt, m, k, &bias, group, s, d, pads);
        b.output("y", FLOAT, &dims(&[2, m as i64, ow as i64]));
        let model = to_model(b);
        // Groups other than 1 and depthwise are split per group.
        let grouped = group > 1 && group != c;
        assert_eq!(has_op(&model, |op| matches!(op, Op::Concatenation(_))), grouped, "case {c} {m} {group}");
        let y = run(&model, vec![input(&[2, c, w], seq(2 * c * w, 0.3, -2.0))]).remove(0);
        assert_eq!(y.shape, vec![2, m, ow]);
        assert_close(&y.data, &want, 1e-5);
    }
}

#[test]
fn a_chain_of_conv1d_layers_keeps_no_transpose_between_them() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, 2, 8]));
    let w1 = b.init_f32("w1", &[3, 2, 3], &seq(18, 0.1, -0.9));
    let w2 = b.init_f32("w2", &[2, 3, 3], &seq(18, -0.05, 0.4));
    let c1 = b.node("Conv", &[&x, &w1], vec![attr_ints("pads", &[1, 1])]);
    let r = b.node("Relu", &[&c1], vec![]);
    b.node_named("Conv", &[&r, &w2], &["y"], vec![attr_ints("pads", &[1, 1])]);
    b.output("y", FLOAT, &dims(&[1, 2, 8]));
    let m = to_model(b);
    let ops: Vec<&Op> = m.subgraphs[0].operators.iter().map(|o| &o.op).collect();
    let convs: Vec<usize> = ops.iter().enumerate().filter(|(_, o)| matches!(o, Op::Conv2d(_))).map(|(i, _)| i).collect();
    assert_eq!(convs.len(), 2, "{ops:?}");
    assert!(!ops[convs[0]..convs[1]].iter().any(|o| matches!(o, Op::Transpose)), "a TRANSPOSE between the layers: {ops:?}");
    // And it computes the two layers.
    let xs = seq(16, 0.25, -2.0);
    let (_, h) = naive_conv1d(&xs, [1, 2, 8], &seq(18, 0.1, -0.9), 3, 3, &[0.0; 3], 1, 1, 1, (1, 1));
    let h: Vec<f32> = h.iter().map(|v| v.max(0.0) as f32).collect();
    let (_, want) = naive_conv1d(&h, [1, 3, 8], &seq(18, -0.05, 0.4), 2, 3, &[0.0; 2], 1, 1, 1, (1, 1));
    assert_close(&run(&m, vec![input(&[1, 2, 8], xs)]).remove(0).data, &want, 1e-5);
}

#[test]
fn conv1d_on_a_dynamic_length() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(2), None]);
    let wt = seq(4 * 2 * 3, 0.1, -1.0);
    let w = b.init_f32("w", &[4, 2, 3], &wt);
    b.node_named("Conv", &[&x, &w], &["y"], vec![attr_str("auto_pad", "SAME_UPPER")]);
    b.output("y", FLOAT, &[Some(1), Some(4), None]);
    let m = to_model(b);
    for len in [5usize, 11] {
        let xs = seq(2 * len, 0.2, -1.0);
        let (_, want) = naive_conv1d(&xs, [1, 2, len], &wt, 4, 3, &[0.0; 4], 1, 1, 1, (1, 1));
        let y = run(&m, vec![input(&[1, 2, len], xs)]).remove(0);
        assert_eq!(y.shape, vec![1, 4, len]);
        assert_close(&y.data, &want, 1e-5);
    }
}

/// A naive N-D pool over `x` of shape [N, C, spatial...] as ONNX,
/// PyTorch and onnxruntime define it. `kind`: 0 max, 1 average, p > 1 Lp.
#[allow(clippy::too_many_arguments)]
fn naive_pool(x: &[f32], shape: &[usize], k: &[usize], s: &[usize], d: &[usize], pads: &[usize], ceil: bool, include_pad: bool, kind: u32) -> (Vec<usize>, Vec<f64>) {
    let nd = k.len();
    let out: Vec<usize> = (0..nd)
        .map(|i| {
            let span = shape[i + 2] + pads[i] + pads[i + nd] - ((k[i] - 1) * d[i] + 1);
            if ceil {
                let o = span.div_ceil(s[i]) + 1;
                if (o - 1) * s[i] >= shape[i + 2] + pads[i] { o - 1 } else { o }
            } else {
                span / s[i] + 1
            }
        })
        .collect();
    let plane: usize = out.iter().product();
    let in_plane: usize = shape[2..].iter().product();
    let taps: usize = k.iter().product();
    let mut y = Vec::new();
    for nc in 0..shape[0] * shape[1] {
        for f in 0..plane {
            let mut q = vec![0; nd];
            let mut r = f;
            for i in (0..nd).rev() {
                q[i] = r % out[i];
                r /= out[i];
            }
            let (mut acc, mut count) = (if kind == 0 { f64::MIN } else { 0.0 }, 0);
            for t in 0..taps {
                let mut r = t;
                let mut idx = 0usize;
                let (mut inside, mut in_padded) = (true, true);
                for i in (0..nd).rev() {
                    let j = r % k[i];
                    r /= k[i];
                    let pos = (q[i] * s[i] + j * d[i]) as i64 - pads[i] as i64;
                    inside &= pos >= 0 && pos < shape[i + 2] as i64;
                    in_padded &= pos >= -(pads[i] as i64) && pos < (shape[i + 2] + pads[i + nd]) as i64;
                    let stride: usize = shape[i + 3..].iter().product();
                    idx += pos.max(0) as usize * stride;
                }
                if inside || (include_pad && in_padded) {
                    count += 1;
                }
                if inside {
                    let v = f64::from(x[nc * in_plane + idx]);
                    acc = match kind {
                        0 => acc.max(v),
                        1 => acc + v,
                        p => acc + v.abs().powi(p as i32),
                    };
                }
            }
            y.push(match kind {
                0 => acc,
                1 => acc / count as f64,
                p => acc.powf(1.0 / f64::from(p)),
            });
        }
    }
    let mut oshape = shape[..2].to_vec();
    oshape.extend(&out);
    (oshape, y)
}

fn pool_model(op: &str, shape: &[usize], attrs: Vec<onnx_protobuf::AttributeProto>) -> Model {
    let s: Vec<i64> = shape.iter().map(|v| *v as i64).collect();
    let mut b = OnnxBuilder::new(19);
    let x = b.input("x", FLOAT, &dims(&s));
    b.node_named(op, &[&x], &["y"], attrs);
    b.output("y", FLOAT, &vec![None; shape.len()]);
    to_model(b)
}

#[test]
fn pools_in_1d_2d_and_3d_with_dilations_ceil_mode_and_padding_match_the_naive_pool() {
    // (op, shape, kernel, strides, dilations, pads, ceil, count_include_pad, kind)
    type Case = (&'static str, Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>, bool, bool, u32);
    let cases: Vec<Case> = vec![
        ("MaxPool", vec![1, 2, 9], vec![3], vec![2], vec![1], vec![1, 1], false, false, 0),
        ("AveragePool", vec![1, 2, 9], vec![3], vec![2], vec![1], vec![1, 0], false, true, 1),
        ("AveragePool", vec![1, 2, 9], vec![2], vec![1], vec![1], vec![0, 0], false, false, 1),
        ("MaxPool", vec![1, 1, 7, 6], vec![2, 3], vec![1, 2], vec![2, 1], vec![1, 0, 1, 1], true, false, 0),
        ("AveragePool", vec![1, 2, 7, 6], vec![3, 2], vec![2, 2], vec![1, 2], vec![1, 1, 0, 1], true, false, 1),
        ("AveragePool", vec![1, 1, 6, 5], vec![3, 3], vec![2, 2], vec![1, 1], vec![1, 1, 1, 1], true, true, 1),
        ("MaxPool", vec![1, 2, 5, 4, 6], vec![2, 2, 3], vec![1, 2, 2], vec![1, 1, 2], vec![0, 1, 1, 1, 0, 1], false, false, 0),
        ("AveragePool", vec![2, 1, 4, 5, 5], vec![2, 3, 2], vec![2, 1, 2], vec![2, 1, 1], vec![1, 0, 1, 0, 1, 1], true, true, 1),
        ("LpPool", vec![1, 2, 8], vec![3], vec![2], vec![1], vec![1, 1], false, false, 2),
        ("LpPool", vec![1, 2, 6, 5], vec![2, 2], vec![1, 2], vec![2, 1], vec![0, 1, 1, 0], false, false, 3),
    ];
    for (op, shape, k, s, d, pads, ceil, include, kind) in cases {
        let i64s = |v: &[usize]| v.iter().map(|x| *x as i64).collect::<Vec<_>>();
        let mut attrs = vec![attr_ints("kernel_shape", &i64s(&k)), attr_ints("strides", &i64s(&s)), attr_ints("dilations", &i64s(&d)), attr_ints("pads", &i64s(&pads))];
        if op == "LpPool" {
            attrs.push(attr_int("p", i64::from(kind)));
        } else {
            attrs.push(attr_int("ceil_mode", i64::from(ceil)));
        }
        if op == "AveragePool" {
            attrs.push(attr_int("count_include_pad", i64::from(include)));
        }
        let m = pool_model(op, &shape, attrs);
        let n: usize = shape.iter().product();
        let xs: Vec<f32> = (0..n).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.3).collect();
        let (oshape, want) = naive_pool(&xs, &shape, &k, &s, &d, &pads, ceil, include, kind);
        let y = run(&m, vec![input(&shape, xs)]).remove(0);
        assert_eq!(y.shape, oshape, "{op} {shape:?} {k:?}");
        assert_close(&y.data, &want, 1e-5);
    }
}

#[test]
fn one_d_pools_use_the_tflite_pools() {
    let m = pool_model("MaxPool", &[1, 3, 10], vec![attr_ints("kernel_shape", &[3]), attr_ints("strides", &[2])]);
    assert!(has_op(&m, |op| matches!(op, Op::MaxPool2d(_))));
    let xs = seq(30, 0.7, -9.0).iter().map(|v| v.sin()).collect::<Vec<_>>();
    let (_, want) = naive_pool(&xs, &[1, 3, 10], &[3], &[2], &[1], &[0, 0], false, false, 0);
    assert_close(&run(&m, vec![input(&[1, 3, 10], xs)]).remove(0).data, &want, 1e-6);
    let m = pool_model("AveragePool", &[1, 3, 10], vec![attr_ints("kernel_shape", &[2]), attr_str("auto_pad", "SAME_UPPER")]);
    assert!(has_op(&m, |op| matches!(op, Op::AveragePool2d(_))));
}

#[test]
fn pool_attributes_out_of_range_are_typed_errors() {
    let build_n = |n: i64, attrs: Vec<onnx_protobuf::AttributeProto>| {
        let mut b = OnnxBuilder::new(19);
        let x = b.input("x", FLOAT, &dims(&[1, 1, n, n]));
        b.node_named("AveragePool", &[&x], &["y"], attrs);
        b.output("y", FLOAT, &[None, None, None, None]);
        b
    };
    let build = |attrs| build_n(5, attrs);
    assert_eq!(reason(build(vec![attr_ints("kernel_shape", &[2, -1])])), ReasonCode::UnsupportedAttribute);
    assert_eq!(reason(build(vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[0, 1])])), ReasonCode::UnsupportedAttribute);
    assert_eq!(reason(build(vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("dilations", &[1 << 40, 1])])), ReasonCode::UnsupportedAttribute);
    // More window taps than the decomposition takes.
    assert_eq!(reason(build_n(80, vec![attr_ints("kernel_shape", &[33, 33]), attr_ints("dilations", &[1, 2])])), ReasonCode::UnsupportedAttribute);
    assert_eq!(reason(build(vec![attr_ints("kernel_shape", &[9, 9]), attr_ints("dilations", &[2, 1])])), ReasonCode::InvalidNode);
}

#[test]
fn conv_transpose_1d_grouped_and_dilated_matches_the_naive_formula() {
    // ConvTranspose 1-D: y[o, q] = b[o] + Σ x[c, i] w[c, o', j] where q = i s + j d - pad_begin.
    for (run_time_weights, group, d) in [(false, 1, 1), (false, 2, 2), (true, 2, 1), (true, 1, 3)] {
        let (c, og, k, s, w) = (4usize, 3usize, 3usize, 2usize, 5usize);
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[1, c as i64, w as i64]));
        let wt = seq(c * og * k, 0.07, -0.5);
        let bias = seq(og * group, 0.3, -0.2);
        let wn = if run_time_weights {
            b.input("w", FLOAT, &dims(&[c as i64, og as i64, k as i64]))
        } else {
            b.init_f32("w", &[c as i64, og as i64, k as i64], &wt)
        };
        let bn = b.init_f32("b", &[(og * group) as i64], &bias);
        b.node_named("ConvTranspose", &[&x, &wn, &bn], &["y"], vec![attr_int("group", group as i64), attr_ints("strides", &[s as i64]), attr_ints("dilations", &[d as i64]), attr_ints("pads", &[1, 0])]);
        let full = s * (w - 1) + (k - 1) * d + 1;
        let ow = full - 1;
        b.output("y", FLOAT, &dims(&[1, (og * group) as i64, ow as i64]));
        let m = to_model(b);
        let xs = seq(c * w, 0.2, -1.5);
        let cg = c / group;
        let mut want = vec![0f64; og * group * ow];
        for o in 0..og * group {
            let g = o / og;
            for q in 0..ow {
                let mut acc = f64::from(bias[o]);
                for ci in 0..cg {
                    for i in 0..w {
                        for j in 0..k {
                            if i * s + j * d == q + 1 {
                                acc += f64::from(xs[(g * cg + ci) * w + i]) * f64::from(wt[((g * cg + ci) * og + o % og) * k + j]);
                            }
                        }
                    }
                }
                want[o * ow + q] = acc;
            }
        }
        let mut inputs = vec![input(&[1, c, w], xs)];
        if run_time_weights {
            inputs.push(input(&[c, og, k], wt.clone()));
        }
        let y = run(&m, inputs).remove(0);
        assert_eq!(y.shape, vec![1, og * group, ow]);
        assert_close(&y.data, &want, 1e-5);
    }
}

/// Index of `[a, b, c, ...]` in a row-major array of `dims`.
fn flat(idx: &[usize], dims: &[usize]) -> usize {
    idx.iter().zip(dims).fold(0, |acc, (i, d)| acc * d + i)
}

#[test]
fn conv3d_with_groups_strides_dilations_and_pads_matches_the_naive_formula() {
    let (n, c, m, group) = (1usize, 4usize, 4usize, 2usize);
    let sp = [4usize, 5, 6];
    let k = [2usize, 3, 2];
    let (s, d) = ([1usize, 2, 1], [2usize, 1, 1]);
    let pads = [1usize, 1, 0, 0, 1, 1];
    let cg = c / group;
    let wt = seq(m * cg * k.iter().product::<usize>(), 0.03, -0.7);
    let bias = seq(m, 0.25, -0.5);
    let xs = seq(n * c * sp.iter().product::<usize>(), 0.01, -2.0);
    let out: Vec<usize> = (0..3).map(|i| (sp[i] + pads[i] + pads[i + 3] - ((k[i] - 1) * d[i] + 1)) / s[i] + 1).collect();
    let mut want = vec![0f64; m * out.iter().product::<usize>()];
    for o in 0..m {
        let g = o / (m / group);
        for q0 in 0..out[0] {
            for q1 in 0..out[1] {
                for q2 in 0..out[2] {
                    let mut acc = f64::from(bias[o]);
                    for ci in 0..cg {
                        for j0 in 0..k[0] {
                            for j1 in 0..k[1] {
                                for j2 in 0..k[2] {
                                    let p = [(q0 * s[0] + j0 * d[0]) as i64 - pads[0] as i64, (q1 * s[1] + j1 * d[1]) as i64 - pads[1] as i64, (q2 * s[2] + j2 * d[2]) as i64 - pads[2] as i64];
                                    if (0..3).all(|i| p[i] >= 0 && (p[i] as usize) < sp[i]) {
                                        let xi = flat(&[0, g * cg + ci, p[0] as usize, p[1] as usize, p[2] as usize], &[n, c, sp[0], sp[1], sp[2]]);
                                        let wi = flat(&[o, ci, j0, j1, j2], &[m, cg, k[0], k[1], k[2]]);
                                        acc += f64::from(xs[xi]) * f64::from(wt[wi]);
                                    }
                                }
                            }
                        }
                    }
                    want[flat(&[o, q0, q1, q2], &[m, out[0], out[1], out[2]])] = acc;
                }
            }
        }
    }
    let i64s = |v: &[usize]| v.iter().map(|x| *x as i64).collect::<Vec<_>>();
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[n as i64, c as i64, 4, 5, 6]));
    let wn = b.init_f32("w", &[m as i64, cg as i64, 2, 3, 2], &wt);
    let bn = b.init_f32("b", &[m as i64], &bias);
    b.node_named("Conv", &[&x, &wn, &bn], &["y"], vec![attr_int("group", group as i64), attr_ints("strides", &i64s(&s)), attr_ints("dilations", &i64s(&d)), attr_ints("pads", &i64s(&pads))]);
    b.output("y", FLOAT, &[None, None, None, None, None]);
    let model = to_model(b);
    assert_eq!(model.subgraphs[0].operators.iter().filter(|o| matches!(o.op, Op::Conv3d(_))).count(), group);
    let y = run(&model, vec![input(&[n, c, 4, 5, 6], xs)]).remove(0);
    assert_eq!(y.shape, vec![n, m, out[0], out[1], out[2]]);
    assert_close(&y.data, &want, 1e-5);
}

#[test]
fn conv_transpose3d_with_strides_pads_and_output_padding_matches_the_naive_formula() {
    let (c, m) = (2usize, 3usize);
    let sp = [2usize, 3, 2];
    let k = [2usize, 2, 3];
    let s = [2usize, 1, 2];
    let pads = [1usize, 0, 1, 0, 1, 1];
    let out_pad = [1usize, 0, 1];
    let wt = seq(c * m * k.iter().product::<usize>(), 0.05, -0.6);
    let bias = seq(m, 0.5, -0.5);
    let xs = seq(c * sp.iter().product::<usize>(), 0.1, -1.0);
    let full: Vec<usize> = (0..3).map(|i| s[i] * (sp[i] - 1) + k[i] + out_pad[i]).collect();
    let out: Vec<usize> = (0..3).map(|i| full[i] - pads[i] - pads[i + 3]).collect();
    let mut big = vec![0f64; m * full.iter().product::<usize>()];
    for o in 0..m {
        for q in 0..full.iter().product::<usize>() {
            big[o * full.iter().product::<usize>() + q] = f64::from(bias[o]);
        }
        for ci in 0..c {
            for i0 in 0..sp[0] {
                for i1 in 0..sp[1] {
                    for i2 in 0..sp[2] {
                        for j0 in 0..k[0] {
                            for j1 in 0..k[1] {
                                for j2 in 0..k[2] {
                                    let q = [i0 * s[0] + j0, i1 * s[1] + j1, i2 * s[2] + j2];
                                    let xv = f64::from(xs[flat(&[ci, i0, i1, i2], &[c, sp[0], sp[1], sp[2]])]);
                                    let wv = f64::from(wt[flat(&[ci, o, j0, j1, j2], &[c, m, k[0], k[1], k[2]])]);
                                    big[flat(&[o, q[0], q[1], q[2]], &[m, full[0], full[1], full[2]])] += xv * wv;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let mut want = Vec::new();
    for o in 0..m {
        for a in 0..out[0] {
            for b in 0..out[1] {
                for e in 0..out[2] {
                    want.push(big[flat(&[o, a + pads[0], b + pads[1], e + pads[2]], &[m, full[0], full[1], full[2]])]);
                }
            }
        }
    }
    let i64s = |v: &[usize]| v.iter().map(|x| *x as i64).collect::<Vec<_>>();
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[1, c as i64, 2, 3, 2]));
    let wn = b.init_f32("w", &[c as i64, m as i64, 2, 2, 3], &wt);
    let bn = b.init_f32("b", &[m as i64], &bias);
    b.node_named("ConvTranspose", &[&x, &wn, &bn], &["y"], vec![attr_ints("strides", &i64s(&s)), attr_ints("pads", &i64s(&pads)), attr_ints("output_padding", &i64s(&out_pad))]);
    b.output("y", FLOAT, &[None, None, None, None, None]);
    let model = to_model(b);
    assert!(has_op(&model, |op| matches!(op, Op::Conv3dTranspose(_))));
    let y = run(&model, vec![input(&[1, c, 2, 3, 2], xs)]).remove(0);
    assert_eq!(y.shape, vec![1, m, out[0], out[1], out[2]]);
    assert_close(&y.data, &want, 1e-5);
}

#[test]
fn average_pool_same_upper_counts_the_padding_when_asked() {
    // 5 wide, kernel 2, stride 1: SAME_UPPER pads (0, 1).
    let m = pool_model("AveragePool", &[1, 1, 5], vec![attr_ints("kernel_shape", &[2]), attr_str("auto_pad", "SAME_UPPER"), attr_int("count_include_pad", 1)]);
    let xs = vec![1.0, 2.0, 3.0, 4.0, 5.0];
    let (_, want) = naive_pool(&xs, &[1, 1, 5], &[2], &[1], &[1], &[0, 1], false, true, 1);
    assert_eq!(want[4], 2.5);
    assert_close(&run(&m, vec![input(&[1, 1, 5], xs)]).remove(0).data, &want, 1e-6);
}

// ---------------------------------------------------------------------------
// Instance, group, mean-variance and local response normalization
// ---------------------------------------------------------------------------

/// `(v - mean) / sqrt(var + eps)` of each consecutive block of `inner`.
fn standardize_blocks(v: &[f32], inner: usize, eps: f64) -> Vec<f64> {
    v.chunks(inner)
        .flat_map(|b| {
            let mean = b.iter().map(|x| f64::from(*x)).sum::<f64>() / inner as f64;
            let var = b.iter().map(|x| (f64::from(*x) - mean).powi(2)).sum::<f64>() / inner as f64;
            b.iter().map(move |x| (f64::from(*x) - mean) / (var + eps).sqrt()).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn instance_and_group_normalization_match_their_formulas() {
    let (n, c, h, w) = (2usize, 4usize, 3usize, 2usize);
    let xs: Vec<f32> = (0..n * c * h * w).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.4 + (i / 6) as f32 * 0.1).collect();
    let scale = [0.5f32, 2.0, -1.0, 1.5];
    let bias = [0.1f32, -0.2, 0.3, 0.0];
    // InstanceNormalization, run-time bias.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 4, 3, 2]));
    let sn = b.init_f32("s", &[4], &scale);
    let bn = b.input("b", FLOAT, &dims(&[4]));
    b.node_named("InstanceNormalization", &[&x, &sn, &bn], &["y"], vec![attr_float("epsilon", 1e-3)]);
    b.output("y", FLOAT, &dims(&[2, 4, 3, 2]));
    let m = to_model(b);
    let z = standardize_blocks(&xs, h * w, 1e-3);
    let want: Vec<f64> = z.iter().enumerate().map(|(i, v)| v * f64::from(scale[i / (h * w) % c]) + f64::from(bias[i / (h * w) % c])).collect();
    let y = run(&m, vec![input(&[2, 4, 3, 2], xs.clone()), input(&[4], bias.to_vec())]).remove(0);
    assert_close(&y.data, &want, 1e-5);
    // GroupNormalization with 2 groups: opset 21 per channel, 18 per group.
    let z = standardize_blocks(&xs, 2 * h * w, 1e-5);
    for opset in [18, 21] {
        let per_group = opset < 21;
        let (sv, bv): (Vec<f32>, Vec<f32>) = if per_group { (vec![0.5, -2.0], vec![1.0, 0.25]) } else { (scale.to_vec(), bias.to_vec()) };
        let mut b = OnnxBuilder::new(opset);
        let x = b.input("x", FLOAT, &dims(&[2, 4, 3, 2]));
        let sn = b.init_f32("s", &[sv.len() as i64], &sv);
        let bn = b.init_f32("b", &[bv.len() as i64], &bv);
        b.node_named("GroupNormalization", &[&x, &sn, &bn], &["y"], vec![attr_int("num_groups", 2)]);
        b.output("y", FLOAT, &dims(&[2, 4, 3, 2]));
        let m = to_model(b);
        let want: Vec<f64> = z
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let ch = i / (h * w) % c;
                let k = if per_group { ch / 2 } else { ch };
                v * f64::from(sv[k]) + f64::from(bv[k])
            })
            .collect();
        let y = run(&m, vec![input(&[2, 4, 3, 2], xs.clone())]).remove(0);
        assert_close(&y.data, &want, 1e-5);
    }
}

#[test]
fn mean_variance_normalization_and_lrn_match_their_formulas() {
    let shape = [2usize, 3, 2, 2];
    let xs: Vec<f32> = (0..24).map(|i| ((i * 5 % 13) as f32 - 6.0) * 0.3).collect();
    // MVN over the default axes [0, 2, 3]: per channel across the batch.
    let m = to_model(unary(13, "MeanVarianceNormalization", &[2, 3, 2, 2], vec![]));
    let y = run(&m, vec![input(&shape, xs.clone())]).remove(0);
    for ch in 0..3 {
        let idx: Vec<usize> = (0..24).filter(|i| i / 4 % 3 == ch).collect();
        let vals: Vec<f64> = idx.iter().map(|i| f64::from(xs[*i])).collect();
        let mean = vals.iter().sum::<f64>() / 8.0;
        let std = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 8.0).sqrt();
        for i in idx {
            let want = (f64::from(xs[i]) - mean) / (std + 1e-9);
            assert!((y.data[i] - want).abs() < 1e-5, "MVN element {i}: {} vs {want}", y.data[i]);
        }
    }
    // LRN: x / (bias + alpha / size · Σ x² over the size channels around)^beta.
    let (size, alpha, beta, bias) = (3i64, 0.02f32, 0.75f32, 2.0f32);
    let m = to_model(unary(13, "LRN", &[2, 3, 2, 2], vec![attr_int("size", size), attr_float("alpha", alpha), attr_float("beta", beta), attr_float("bias", bias)]));
    assert!(has_op(&m, |op| matches!(op, Op::LocalResponseNormalization(_))));
    let y = run(&m, vec![input(&shape, xs.clone())]).remove(0);
    for i in 0..24usize {
        let (nb, ch, p) = (i / 12, i / 4 % 3, i % 4);
        let sq: f64 = (ch.saturating_sub(1)..=(ch + 1).min(2)).map(|k| f64::from(xs[nb * 12 + k * 4 + p]).powi(2)).sum();
        let want = f64::from(xs[i]) / (f64::from(bias) + f64::from(alpha) / size as f64 * sq).powf(f64::from(beta));
        assert!((y.data[i] - want).abs() < 1e-5, "LRN element {i}: {} vs {want}", y.data[i]);
    }
    // An even size has no centred TFLite window.
    assert_eq!(reason(unary(13, "LRN", &[2, 3, 2, 2], vec![attr_int("size", 2)])), ReasonCode::UnsupportedAttribute);
}

// ---------------------------------------------------------------------------
// DFT, STFT, windows and MelWeightMatrix
// ---------------------------------------------------------------------------

/// The naive DFT of `x` (complex, `n` samples) at length `l` (zero-padded
/// or truncated), `sign` -1 forward, +1 inverse (unscaled).
fn naive_dft(x: &[(f64, f64)], l: usize, sign: f64) -> Vec<(f64, f64)> {
    (0..l)
        .map(|k| {
            x.iter().take(l).enumerate().fold((0.0, 0.0), |(re, im), (j, (a, b))| {
                let t = sign * 2.0 * std::f64::consts::PI * (j * k) as f64 / l as f64;
                (re + a * t.cos() - b * t.sin(), im + a * t.sin() + b * t.cos())
            })
        })
        .collect()
}

#[test]
fn dft_of_real_and_complex_signals_along_an_axis_with_padding_and_one_sided_output() {
    // x: [2, n, 3, c]; DFT along axis 1 (opset 17).
    for (c, n, length, onesided) in [(1usize, 6usize, None, false), (1, 6, Some(8usize), true), (2, 7, Some(5), false), (1, 5, None, true)] {
        let l = length.unwrap_or(n);
        let total = 2 * n * 3 * c;
        let xs: Vec<f32> = (0..total).map(|i| ((i * 13 % 17) as f32 - 8.0) * 0.25).collect();
        let mut b = OnnxBuilder::new(17);
        let x = b.input("x", FLOAT, &dims(&[2, n as i64, 3, c as i64]));
        let mut inputs = vec![x.clone()];
        if let Some(l) = length {
            inputs.push(b.init_i64("len", &[], &[l as i64]));
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        b.node_named("DFT", &refs, &["y"], vec![attr_int("axis", 1), attr_int("onesided", i64::from(onesided))]);
        let k = if onesided { l / 2 + 1 } else { l };
        b.output("y", FLOAT, &dims(&[2, k as i64, 3, 2]));
        let m = to_model(b);
        assert!(has_op(&m, |op| matches!(op, Op::FullyConnected(_))));
        let y = run(&m, vec![input(&[2, n, 3, c], xs.clone())]).remove(0);
        assert_eq!(y.shape, vec![2, k, 3, 2]);
        for bi in 0..2 {
            for col in 0..3 {
                let sig: Vec<(f64, f64)> = (0..n)
                    .map(|j| {
                        let at = ((bi * n + j) * 3 + col) * c;
                        (f64::from(xs[at]), if c == 2 { f64::from(xs[at + 1]) } else { 0.0 })
                    })
                    .collect();
                let want = naive_dft(&sig, l, -1.0);
                for (q, w) in want.iter().take(k).enumerate() {
                    let at = ((bi * k + q) * 3 + col) * 2;
                    assert!((y.data[at] - w.0).abs() < 1e-4 && (y.data[at + 1] - w.1).abs() < 1e-4, "bin {q}: {:?} vs {w:?}", &y.data[at..at + 2]);
                }
            }
        }
    }
}

#[test]
fn inverse_one_sided_dft_recovers_a_real_signal_and_complex_inverses_are_rejected() {
    // The one-sided spectrum of a real 8-sample signal, inverted (opset 20, constant axis).
    let sig: Vec<f64> = (0..8).map(|i| (i as f64 * 0.7).sin() + 0.1 * i as f64).collect();
    let spec = naive_dft(&sig.iter().map(|v| (*v, 0.0)).collect::<Vec<_>>(), 8, -1.0);
    let half: Vec<f32> = spec[..5].iter().flat_map(|(a, b)| [*a as f32, *b as f32]).collect();
    let build = |onesided: i64| {
        let mut b = OnnxBuilder::new(20);
        let x = b.input("x", FLOAT, &dims(&[1, 5, 2]));
        let axis = b.init_i64("axis", &[], &[1]);
        b.node_named("DFT", &[&x, "", &axis], &["y"], vec![attr_int("inverse", 1), attr_int("onesided", onesided)]);
        b.output("y", FLOAT, &[None, None, None]);
        b
    };
    let m = to_model(build(1));
    let y = run(&m, vec![input(&[1, 5, 2], half)]).remove(0);
    assert_eq!(y.shape, vec![1, 8, 1]);
    assert_close(&y.data, &sig, 1e-5);
    assert_eq!(reason(build(0)), ReasonCode::UnsupportedAttribute);
    // A run-time axis cannot choose the matrix.
    let mut b = OnnxBuilder::new(20);
    let x = b.input("x", FLOAT, &dims(&[1, 5, 1]));
    let axis = b.input("axis", 7, &[]);
    b.node_named("DFT", &[&x, "", &axis], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None]);
    assert_eq!(reason(b), ReasonCode::InputMustBeConstant);
}

#[test]
fn stft_with_a_window_matches_framed_dfts() {
    let len = 20usize;
    let (step, frame) = (4usize, 8usize);
    let xs: Vec<f32> = (0..len).map(|i| (i as f32 * 0.9).cos() * 2.0).collect();
    let window: Vec<f32> = (0..frame).map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / frame as f32).cos()).collect();
    let mut b = OnnxBuilder::new(17);
    let x = b.input("x", FLOAT, &dims(&[1, len as i64, 1]));
    let st = b.init_i64("step", &[], &[step as i64]);
    let w = b.init_f32("w", &[frame as i64], &window);
    b.node_named("STFT", &[&x, &st, &w], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    let m = to_model(b);
    let y = run(&m, vec![input(&[1, len, 1], xs.clone())]).remove(0);
    let frames = (len - frame) / step + 1;
    let bins = frame / 2 + 1;
    assert_eq!(y.shape, vec![1, frames, bins, 2]);
    for f in 0..frames {
        let sig: Vec<(f64, f64)> = (0..frame).map(|j| (f64::from(xs[f * step + j]) * f64::from(window[j]), 0.0)).collect();
        let want = naive_dft(&sig, frame, -1.0);
        for (q, w) in want.iter().take(bins).enumerate() {
            let at = (f * bins + q) * 2;
            assert!((y.data[at] - w.0).abs() < 1e-4 && (y.data[at + 1] - w.1).abs() < 1e-4, "frame {f} bin {q}");
        }
    }
}

#[test]
fn windows_and_mel_weight_matrix_fold_to_constants() {
    let window = |op: &str, size: i64, periodic: i64| {
        let mut b = OnnxBuilder::new(17);
        let x = b.input("x", FLOAT, &dims(&[1]));
        let s = b.init_i64("size", &[], &[size]);
        let w = b.node(op, &[&s], vec![attr_int("periodic", periodic)]);
        b.node_named("Mul", &[&x, &w], &["y"], vec![]);
        b.output("y", FLOAT, &dims(&[size]));
        let m = to_model(b);
        run(&m, vec![input(&[1], vec![1.0])]).remove(0).data
    };
    assert_close(&window("HannWindow", 4, 1), &[0.0, 0.5, 1.0, 0.5], 1e-7);
    assert_close(&window("HannWindow", 5, 0), &[0.0, 0.5, 1.0, 0.5, 0.0], 1e-7);
    let (a, b) = (25.0 / 46.0, 21.0 / 46.0);
    assert_close(&window("HammingWindow", 3, 0), &[a - b, a + b, a - b], 1e-7);
    let bl = |n: f64, p: f64| 0.42 - 0.5 * (2.0 * std::f64::consts::PI * n / p).cos() + 0.08 * (4.0 * std::f64::consts::PI * n / p).cos();
    assert_close(&window("BlackmanWindow", 4, 1), &[bl(0.0, 4.0), bl(1.0, 4.0), bl(2.0, 4.0), bl(3.0, 4.0)], 1e-6);
    // The ONNX backend test's case: 8 mel bins of a 16-point DFT at 8192 Hz.
    let mut b = OnnxBuilder::new(17);
    let x = b.input("x", FLOAT, &dims(&[1]));
    let i32s = |b: &mut OnnxBuilder, name: &str, v: i64| b.init_i64(name, &[], &[v]);
    let (nb, dl, sr) = (i32s(&mut b, "bins", 8), i32s(&mut b, "dft", 16), i32s(&mut b, "rate", 8192));
    let lo = b.init_f32("lo", &[], &[0.0]);
    let hi = b.init_f32("hi", &[], &[4096.0]);
    let mel = b.node("MelWeightMatrix", &[&nb, &dl, &sr, &lo, &hi], vec![]);
    b.node_named("Mul", &[&x, &mel], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[9, 8]));
    let m = to_model(b);
    let y = run(&m, vec![input(&[1], vec![1.0])]).remove(0);
    let mut want = vec![0.0; 72];
    for (row, col) in [(0, 0), (0, 1), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7)] {
        want[row * 8 + col] = 1.0;
    }
    assert_eq!(y.shape, vec![9, 8]);
    assert_close(&y.data, &want, 0.0);
}

#[test]
fn col2im_sums_overlapping_blocks_with_strides_dilations_and_pads() {
    // (image, block, strides, dilations, pads)
    type Case = ([usize; 2], [usize; 2], [usize; 2], [usize; 2], [usize; 4]);
    let cases: [Case; 3] = [([5, 5], [2, 2], [1, 1], [1, 1], [0, 0, 0, 0]), ([6, 5], [3, 2], [2, 2], [1, 2], [1, 0, 0, 1]), ([4, 7], [2, 3], [1, 3], [2, 1], [0, 1, 1, 0])];
    for (image, block, s, d, p) in cases {
        let c = 2usize;
        let grid: Vec<usize> = (0..2).map(|i| (image[i] + p[i] + p[i + 2] - ((block[i] - 1) * d[i] + 1)) / s[i] + 1).collect();
        let l = grid[0] * grid[1];
        let taps = block[0] * block[1];
        let xs: Vec<f32> = (0..c * taps * l).map(|i| ((i * 7 % 19) as f32 - 9.0) * 0.5).collect();
        let mut want = vec![0f64; c * image[0] * image[1]];
        for ch in 0..c {
            for (bi, by) in (0..grid[0]).flat_map(|y| (0..grid[1]).map(move |x| (y, x))).enumerate() {
                for i in 0..block[0] {
                    for j in 0..block[1] {
                        let y = (by.0 * s[0] + i * d[0]) as i64 - p[0] as i64;
                        let x = (by.1 * s[1] + j * d[1]) as i64 - p[1] as i64;
                        if y >= 0 && x >= 0 && (y as usize) < image[0] && (x as usize) < image[1] {
                            want[(ch * image[0] + y as usize) * image[1] + x as usize] += f64::from(xs[((ch * taps) + i * block[1] + j) * l + bi]);
                        }
                    }
                }
            }
        }
        let i64s = |v: &[usize]| v.iter().map(|x| *x as i64).collect::<Vec<_>>();
        let mut b = OnnxBuilder::new(18);
        let x = b.input("x", FLOAT, &dims(&[1, (c * taps) as i64, l as i64]));
        let im = b.init_i64("image", &[2], &i64s(&image));
        let bl = b.init_i64("block", &[2], &i64s(&block));
        b.node_named("Col2Im", &[&x, &im, &bl], &["y"], vec![attr_ints("strides", &i64s(&s)), attr_ints("dilations", &i64s(&d)), attr_ints("pads", &i64s(&p))]);
        b.output("y", FLOAT, &[None, None, None, None]);
        let m = to_model(b);
        let y = run(&m, vec![input(&[1, c * taps, l], xs)]).remove(0);
        assert_eq!(y.shape, vec![1, c, image[0], image[1]], "{image:?} {block:?}");
        assert_close(&y.data, &want, 1e-5);
    }
}

#[test]
fn max_pool_indices_name_the_first_maximum_in_either_storage_order() {
    let (n, c, h, w) = (2usize, 2usize, 4usize, 5usize);
    // Few distinct values, so windows hold ties.
    let xs: Vec<f32> = (0..n * c * h * w).map(|i| ((i * 7) % 5) as f32).collect();
    let (k, s, p) = ([2usize, 3usize], [2usize, 1usize], [1usize, 1usize, 0usize, 1usize]);
    for order in [0i64, 1] {
        let mut b = OnnxBuilder::new(12);
        let x = b.input("x", FLOAT, &dims(&[n as i64, c as i64, h as i64, w as i64]));
        b.node_named("MaxPool", &[&x], &["y", "i"], vec![attr_ints("kernel_shape", &[2, 3]), attr_ints("strides", &[2, 1]), attr_ints("pads", &[1, 1, 0, 1]), attr_int("storage_order", order)]);
        b.output("y", FLOAT, &[None, None, None, None]);
        b.output("i", 7, &[None, None, None, None]);
        let m = to_model(b);
        let out = run(&m, vec![input(&[n, c, h, w], xs.clone())]);
        let (oh, ow) = ((h + p[0] + p[2] - k[0]) / s[0] + 1, (w + p[1] + p[3] - k[1]) / s[1] + 1);
        assert_eq!(out[1].shape, vec![n, c, oh, ow]);
        for nc in 0..n * c {
            for qy in 0..oh {
                for qx in 0..ow {
                    let mut best: Option<(f32, usize, usize)> = None;
                    for i in 0..k[0] {
                        for j in 0..k[1] {
                            let (y, x) = ((qy * s[0] + i) as i64 - p[0] as i64, (qx * s[1] + j) as i64 - p[1] as i64);
                            if y < 0 || x < 0 || y as usize >= h || x as usize >= w {
                                continue;
                            }
                            let v = xs[(nc * h + y as usize) * w + x as usize];
                            if best.is_none_or(|b| v > b.0) {
                                best = Some((v, y as usize, x as usize));
                            }
                        }
                    }
                    let (v, y, x) = best.expect("a window over the input");
                    let want = (nc * h * w) + if order == 0 { y * w + x } else { x * h + y };
                    let at = (nc * oh + qy) * ow + qx;
                    assert_eq!(out[0].data[at], f64::from(v));
                    assert_eq!(out[1].data[at], want as f64, "order {order} at {nc} {qy} {qx}");
                }
            }
        }
    }
}

#[test]
fn max_pool_of_uint8_is_taken_in_int32_and_padded_with_zero() {
    let mut b = OnnxBuilder::new(12);
    let x = b.input("x", UINT8, &dims(&[1, 1, 3, 4]));
    b.node_named("MaxPool", &[&x], &["y"], vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("pads", &[1, 1, 1, 1]), attr_ints("strides", &[2, 2])]);
    b.output("y", UINT8, &[None, None, None, None]);
    let m = to_model(b);
    let xs: Vec<f64> = vec![3.0, 250.0, 7.0, 0.0, 1.0, 2.0, 200.0, 9.0, 0.0, 4.0, 5.0, 6.0];
    let v = Value::new(tflite_forge::DType::U8, vec![1, 1, 3, 4], xs.clone());
    let y = run(&m, vec![v]).remove(0);
    assert_eq!(y.dtype, tflite_forge::DType::U8);
    assert_eq!(y.shape, vec![1, 1, 2, 3]);
    let (_, want) = naive_pool(&xs.iter().map(|v| *v as f32).collect::<Vec<_>>(), &[1, 1, 3, 4], &[2, 2], &[2, 2], &[1, 1], &[1, 1, 1, 1], false, false, 0);
    assert_eq!(y.data, want);
}
