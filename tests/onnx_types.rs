//! Element types TFLite kernels lack, computed in a wider type, and the
//! ops added with them (NonZero, Compress, ReverseSequence, EyeLike,
//! CenterCropPad, CumProd, BitwiseAnd / BitwiseOr, Floor / Ceil, ArgMax's
//! select_last_index, Mod's fmod, Dropout's mask): small models built in
//! memory, converted, and run in the reference evaluator against values
//! computed here with Rust's own integer and float arithmetic.

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::Value;
use tflite_forge::onnx::ReasonCode;
use tflite_forge::{DType, Model, Op};

const UINT8: i32 = 2;
const INT8: i32 = 3;
const UINT16: i32 = 4;
const INT16: i32 = 5;
const INT32: i32 = 6;
const BOOL: i32 = 9;
const FLOAT16: i32 = 10;
const UINT32: i32 = 12;
const UINT64: i32 = 13;

fn dims(d: &[usize]) -> Vec<Option<i64>> {
    d.iter().map(|v| Some(*v as i64)).collect()
}

fn has_op(m: &Model, f: impl Fn(&Op) -> bool) -> bool {
    m.subgraphs[0].operators.iter().any(|o| f(&o.op))
}

/// A binary node on two inputs of ONNX type `elem` and shape `[n]`.
fn binary(op: &str, opset: i64, elem: i32, out_elem: i32, n: usize, attrs: Vec<onnx_protobuf::AttributeProto>) -> OnnxBuilder {
    let mut b = OnnxBuilder::new(opset);
    let x = b.input("x", elem, &dims(&[n]));
    let y = b.input("y", elem, &dims(&[n]));
    b.node_named(op, &[&x, &y], &["z"], attrs);
    b.output("z", out_elem, &dims(&[n]));
    b
}

fn run_binary(op: &str, elem: i32, dt: DType, x: &[f64], y: &[f64], attrs: Vec<onnx_protobuf::AttributeProto>) -> Value {
    let out = if matches!(op, "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual") { BOOL } else { elem };
    let m = to_model(binary(op, 18, elem, out, x.len(), attrs));
    run(&m, vec![Value::new(dt, vec![x.len()], x.to_vec()), Value::new(dt, vec![y.len()], y.to_vec())]).remove(0)
}

#[test]
fn narrow_integer_arithmetic_wraps_as_onnx() {
    let (x, y) = ([250.0, 3.0, 0.0], [10.0, 5.0, 1.0]);
    let wrap = |f: fn(u8, u8) -> u8| -> Vec<f64> { x.iter().zip(&y).map(|(a, b)| f64::from(f(*a as u8, *b as u8))).collect() };
    let add = run_binary("Add", UINT8, DType::U8, &x, &y, vec![]);
    assert_eq!((add.dtype, add.data), (DType::U8, wrap(u8::wrapping_add)));
    assert_eq!(run_binary("Sub", UINT8, DType::U8, &x, &y, vec![]).data, wrap(u8::wrapping_sub));
    assert_eq!(run_binary("Mul", UINT8, DType::U8, &x, &y, vec![]).data, wrap(u8::wrapping_mul));
    // uint16 products need int64: 65535² does not fit int32.
    let got = run_binary("Mul", UINT16, DType::U16, &[65535.0, 300.0], &[65535.0, 300.0], vec![]);
    assert_eq!(got.data, [f64::from(65535u16.wrapping_mul(65535)), f64::from(300u16.wrapping_mul(300))]);
    // int16 sums wrap.
    let got = run_binary("Add", INT16, DType::I16, &[32767.0, -32768.0], &[1.0, -1.0], vec![]);
    assert_eq!(got.data, [f64::from(32767i16.wrapping_add(1)), f64::from((-32768i16).wrapping_sub(1))]);
    // uint32 in int64.
    let got = run_binary("Add", UINT32, DType::U32, &[4294967295.0, 7.0], &[1.0, 8.0], vec![]);
    assert_eq!(got.data, [0.0, 15.0]);
    let m = to_model(binary("Add", 13, UINT32, UINT32, 2, vec![]));
    assert!(has_op(&m, |o| matches!(o, Op::Cast(_))), "computed in int64 and cast back");
}

#[test]
fn narrow_integer_division_truncates_toward_zero() {
    let got = run_binary("Div", INT8, DType::I8, &[-7.0, 7.0, -128.0], &[2.0, -2.0, -1.0], vec![]);
    // −128 / −1 = 128 wraps to −128, as NumPy's int8.
    assert_eq!(got.data, [-3.0, -3.0, -128.0]);
    let got = run_binary("Div", UINT16, DType::U16, &[65535.0, 9.0], &[2.0, 10.0], vec![]);
    assert_eq!(got.data, [32767.0, 0.0]);
}

#[test]
fn narrow_comparisons_and_min_max_are_exact() {
    let (x, y) = ([4294967295.0, 5.0, 2147483648.0], [1.0, 5.0, 2147483647.0]);
    let less = run_binary("Less", UINT32, DType::U32, &x, &y, vec![]);
    assert_eq!((less.dtype, less.data), (DType::Bool, vec![0.0, 0.0, 0.0]));
    let ge = run_binary("GreaterOrEqual", UINT32, DType::U32, &x, &y, vec![]);
    assert_eq!(ge.data, [1.0, 1.0, 1.0]);
    let eq = run_binary("Equal", INT8, DType::I8, &[-128.0, 3.0], &[-128.0, -3.0], vec![]);
    assert_eq!(eq.data, [1.0, 0.0]);
    let mx = run_binary("Max", UINT16, DType::U16, &[65535.0, 1.0], &[0.0, 2.0], vec![]);
    assert_eq!((mx.dtype, mx.data), (DType::U16, vec![65535.0, 2.0]));
    let mn = run_binary("Min", INT8, DType::I8, &[-128.0, 1.0], &[127.0, -2.0], vec![]);
    assert_eq!(mn.data, [-128.0, -2.0]);
}

#[test]
fn float16_is_computed_in_float32_and_rounded_back() {
    let h = |v: f32| f64::from(half::f16::from_f32(v).to_f32());
    let x: Vec<f64> = [1.1f32, -3.7, 65504.0].iter().map(|v| h(*v)).collect();
    let y: Vec<f64> = [2.3f32, 0.1, 2.0].iter().map(|v| h(*v)).collect();
    let got = run_binary("Add", FLOAT16, DType::F16, &x, &y, vec![]);
    assert_eq!(got.dtype, DType::F16);
    // The correctly rounded float16 sums (65504 + 2 rounds to 65504).
    let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| h((*a + *b) as f32)).collect();
    assert_eq!(got.data, want);
    let got = run_binary("Max", FLOAT16, DType::F16, &x, &y, vec![]);
    assert_eq!(got.data, [y[0], y[1], x[2]]);
    // A transcendental op through the float32 lowering.
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", FLOAT16, &dims(&[3]));
    b.node_named("Exp", &[&xi], &["z"], vec![]);
    b.output("z", FLOAT16, &dims(&[3]));
    let got = run(&to_model(b), vec![Value::new(DType::F16, vec![3], x.clone())]).remove(0);
    assert_eq!(got.dtype, DType::F16);
    let want: Vec<f64> = x[..2].iter().map(|v| h(v.exp() as f32)).collect();
    assert_eq!(&got.data[..2], &want[..]);
    assert!(got.data[2].is_infinite(), "exp(65504) overflows float16");
}

#[test]
fn types_without_an_exact_wider_type_are_dtype_errors() {
    assert_eq!(reason(binary("Add", 13, UINT64, UINT64, 2, vec![])), ReasonCode::UnsupportedDtype);
    assert_eq!(reason(binary("Mul", 13, UINT32, UINT32, 2, vec![])), ReasonCode::UnsupportedDtype);
    assert_eq!(reason(binary("Div", 13, UINT32, UINT32, 2, vec![])), ReasonCode::UnsupportedDtype);
    assert_eq!(reason(binary("Less", 13, 11, BOOL, 2, vec![])), ReasonCode::UnsupportedDtype, "float64");
}

#[test]
fn mod_fmod_1_keeps_the_dividends_sign() {
    let x = [-7.0, 7.0, -2147483648.0, 6.0, -6.0];
    let y = [3.0, -3.0, 3.0, 3.0, -4.0];
    let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| f64::from((*a as i32) % (*b as i32))).collect();
    let got = run_binary("Mod", INT32, DType::I32, &x, &y, vec![attr_int("fmod", 1)]);
    assert_eq!(got.data, want);
    let got = run_binary("Mod", INT8, DType::I8, &[-128.0, 100.0], &[-3.0, -7.0], vec![attr_int("fmod", 1)]);
    assert_eq!(got.data, [f64::from(-128i8 % -3), f64::from(100i8 % -7)]);
    // Floats: C's fmod, exactly.
    let xf = [-4.3f32, 7.2, 5.0, 4.3, -7.2, 8.0];
    let yf = [2.1f32, -3.4, 8.0, -2.1, 3.4, 5.0];
    let f = |v: &[f32]| -> Vec<f64> { v.iter().map(|a| f64::from(*a)).collect() };
    let got = run_binary("Mod", FLOAT, DType::F32, &f(&xf), &f(&yf), vec![attr_int("fmod", 1)]);
    let want: Vec<f64> = xf.iter().zip(&yf).map(|(a, b)| f64::from(a % b)).collect();
    assert_eq!(got.data, want);
    // fmod=0 on floats: the divisor's sign.
    let got = run_binary("Mod", FLOAT, DType::F32, &f(&xf), &f(&yf), vec![]);
    let want: Vec<f64> = xf
        .iter()
        .zip(&yf)
        .map(|(a, b)| {
            let r = a % b;
            f64::from(if r != 0.0 && ((*b < 0.0) != (r < 0.0)) { r + b } else { r })
        })
        .collect();
    assert_eq!(got.data, want);
    let got = run_binary("Mod", UINT8, DType::U8, &[250.0, 7.0], &[7.0, 250.0], vec![]);
    assert_eq!(got.data, [f64::from(250u8 % 7), 7.0]);
}

#[test]
fn argmax_and_argmin_select_the_last_index() {
    let x = [1.0f32, 3.0, 3.0, 0.0, 3.0, 0.0];
    for (op, last, want) in [("ArgMax", 1, 4.0), ("ArgMax", 0, 1.0), ("ArgMin", 1, 5.0), ("ArgMin", 0, 3.0)] {
        let mut b = OnnxBuilder::new(13);
        let xi = b.input("x", FLOAT, &dims(&[6]));
        b.node_named(op, &[&xi], &["y"], vec![attr_int("select_last_index", last), attr_int("keepdims", 0)]);
        b.output("y", INT64, &dims(&[]));
        let got = run(&to_model(b), vec![Value::from_f32(vec![6], x.to_vec())]).remove(0);
        assert_eq!((got.dtype, got.data), (DType::I64, vec![want]), "{op} select_last_index={last}");
    }
    // Along axis 1 of a matrix, uint8 (compared in int32).
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", UINT8, &dims(&[2, 3]));
    b.node_named("ArgMax", &[&xi], &["y"], vec![attr_int("axis", 1), attr_int("select_last_index", 1)]);
    b.output("y", INT64, &dims(&[2, 1]));
    let got = run(&to_model(b), vec![Value::new(DType::U8, vec![2, 3], vec![200.0, 200.0, 1.0, 5.0, 6.0, 6.0])]).remove(0);
    assert_eq!((got.shape, got.data), (vec![2, 1], vec![1.0, 2.0]));
}

#[test]
fn floor_and_ceil() {
    for (op, f) in [("Floor", f32::floor as fn(f32) -> f32), ("Ceil", f32::ceil)] {
        let mut b = OnnxBuilder::new(13);
        let xi = b.input("x", FLOAT, &dims(&[4]));
        b.node_named(op, &[&xi], &["y"], vec![]);
        b.output("y", FLOAT, &dims(&[4]));
        let x = vec![-1.5f32, -0.2, 0.7, 3.0];
        let got = run(&to_model(b), vec![Value::from_f32(vec![4], x.clone())]).remove(0);
        assert_eq!(got.data, x.iter().map(|v| f64::from(f(*v))).collect::<Vec<_>>(), "{op}");
    }
}

#[test]
fn non_zero_gives_rank_by_count_coordinates() {
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", FLOAT, &dims(&[2, 3]));
    b.node_named("NonZero", &[&xi], &["y"], vec![]);
    b.output("y", INT64, &[Some(2), None]);
    let got = run(&to_model(b), vec![Value::from_f32(vec![2, 3], vec![0.0, 2.0, 0.0, -1.0, 0.0, 5.0])]).remove(0);
    assert_eq!(got.shape, [2, 3]);
    assert_eq!(got.data, [0.0, 1.0, 1.0, 1.0, 0.0, 2.0]);
}

#[test]
fn compress_with_constant_and_run_time_conditions() {
    let x: Vec<f32> = (0..6).map(|v| v as f32).collect();
    // Constant condition, axis 1, shorter than the axis.
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", FLOAT, &dims(&[2, 3]));
    let c = b.init_i64("c", &[2], &[0, 1]);
    let cb = b.node("Cast", &[&c], vec![attr_int("to", i64::from(BOOL))]);
    b.node_named("Compress", &[&xi, &cb], &["y"], vec![attr_int("axis", 1)]);
    b.output("y", FLOAT, &dims(&[2, 1]));
    let got = run(&to_model(b), vec![Value::from_f32(vec![2, 3], x.clone())]).remove(0);
    assert_eq!((got.shape, got.data), (vec![2, 1], vec![1.0, 4.0]));
    // Run-time condition, no axis (flattened).
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", FLOAT, &dims(&[2, 3]));
    let ci = b.input("c", BOOL, &dims(&[6]));
    b.node_named("Compress", &[&xi, &ci], &["y"], vec![]);
    b.output("y", FLOAT, &[None]);
    let cond = Value::new(DType::Bool, vec![6], vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
    let got = run(&to_model(b), vec![Value::from_f32(vec![2, 3], x), cond]).remove(0);
    assert_eq!(got.data, [0.0, 3.0, 4.0]);
}

#[test]
fn reverse_sequence_reverses_each_batch_prefix() {
    // time_axis 0, batch_axis 1: x[t, b].
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", FLOAT, &dims(&[4, 2]));
    let l = b.init_i64("l", &[2], &[3, 1]);
    b.node_named("ReverseSequence", &[&xi, &l], &["y"], vec![attr_int("time_axis", 0), attr_int("batch_axis", 1)]);
    b.output("y", FLOAT, &dims(&[4, 2]));
    let x: Vec<f32> = (0..8).map(|v| v as f32).collect();
    let got = run(&to_model(b), vec![Value::from_f32(vec![4, 2], x)]).remove(0);
    // Batch 0 (column 0: 0 2 4 6) reversed over 3 steps; batch 1 over 1.
    assert_eq!(got.data, [4.0, 1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 7.0]);
}

#[test]
fn eye_like_folds_to_a_constant() {
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", INT32, &dims(&[3, 4]));
    b.node_named("EyeLike", &[&xi], &["y"], vec![attr_int("k", 1), attr_int("dtype", i64::from(FLOAT))]);
    b.output("y", FLOAT, &dims(&[3, 4]));
    let m = to_model(b);
    let got = run(&m, vec![Value::new(DType::I32, vec![3, 4], vec![0.0; 12])]).remove(0);
    assert_eq!(got.dtype, DType::F32);
    assert_eq!(got.data, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn center_crop_pad_crops_and_pads_around_the_center() {
    let mut b = OnnxBuilder::new(18);
    let xi = b.input("x", FLOAT, &dims(&[5, 2]));
    let s = b.init_i64("s", &[2], &[2, 5]);
    b.node_named("CenterCropPad", &[&xi, &s], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[2, 5]));
    let x: Vec<f32> = (1..=10).map(|v| v as f32).collect();
    let got = run(&to_model(b), vec![Value::from_f32(vec![5, 2], x)]).remove(0);
    // Rows [1, 3) of 5; columns padded 1 before, 2 after.
    assert_eq!(got.shape, [2, 5]);
    assert_eq!(got.data, [0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 5.0, 6.0, 0.0, 0.0]);
}

#[test]
fn cum_prod_matches_a_running_product() {
    let x: Vec<i32> = vec![1, 2, -3, 4, 5, 6, 2, 1, 3, 2];
    for (exclusive, reverse) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        let mut b = OnnxBuilder::new(26);
        let xi = b.input("x", INT32, &dims(&[2, 5]));
        let a = b.init_i64("a", &[], &[-1]);
        b.node_named("CumProd", &[&xi, &a], &["y"], vec![attr_int("exclusive", exclusive), attr_int("reverse", reverse)]);
        b.output("y", INT32, &dims(&[2, 5]));
        let got = run(&to_model(b), vec![Value::new(DType::I32, vec![2, 5], x.iter().map(|v| f64::from(*v)).collect())]).remove(0);
        let mut want = Vec::new();
        for row in x.chunks(5) {
            let mut r: Vec<i32> = row.to_vec();
            if reverse == 1 {
                r.reverse();
            }
            let mut acc = 1i32;
            let mut out: Vec<i32> = r
                .iter()
                .map(|v| {
                    let before = acc;
                    acc = acc.wrapping_mul(*v);
                    if exclusive == 1 { before } else { acc }
                })
                .collect();
            if reverse == 1 {
                out.reverse();
            }
            want.extend(out.into_iter().map(f64::from));
        }
        assert_eq!(got.data, want, "exclusive={exclusive} reverse={reverse}");
    }
}

#[test]
fn bitwise_and_or_on_narrow_integers() {
    let x = [-128.0, 0x5a as f64, -1.0, 77.0];
    let y = [-1.0, 0x0f as f64, 36.0, -78.0];
    let i = |v: f64| v as i8;
    let and: Vec<f64> = x.iter().zip(&y).map(|(a, b)| f64::from(i(*a) & i(*b))).collect();
    let or: Vec<f64> = x.iter().zip(&y).map(|(a, b)| f64::from(i(*a) | i(*b))).collect();
    assert_eq!(run_binary("BitwiseAnd", INT8, DType::I8, &x, &y, vec![]).data, and);
    assert_eq!(run_binary("BitwiseOr", INT8, DType::I8, &x, &y, vec![]).data, or);
    let got = run_binary("BitwiseOr", UINT16, DType::U16, &[65535.0, 0x1200 as f64], &[0.0, 0x0034 as f64], vec![]);
    assert_eq!(got.data, [65535.0, 0x1234 as f64]);
    // int32 through 16-bit halves.
    let (x, y) = ([i32::MIN, -1, 0x1234_5678, -0x0f0f_0f10, 65535], [-1, i32::MAX, 0x0ff0_0ff0, 0x7f00_00ff, -65536]);
    let f = |v: &[i32]| -> Vec<f64> { v.iter().map(|x| f64::from(*x)).collect() };
    let and: Vec<f64> = x.iter().zip(&y).map(|(a, b)| f64::from(a & b)).collect();
    let or: Vec<f64> = x.iter().zip(&y).map(|(a, b)| f64::from(a | b)).collect();
    assert_eq!(run_binary("BitwiseAnd", INT32, DType::I32, &f(&x), &f(&y), vec![]).data, and);
    assert_eq!(run_binary("BitwiseOr", INT32, DType::I32, &f(&x), &f(&y), vec![]).data, or);
    assert_eq!(reason(binary("BitwiseAnd", 18, UINT32, UINT32, 2, vec![])), ReasonCode::UnsupportedDtype);
}

#[test]
fn dropout_mask_in_inference_is_all_true() {
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", FLOAT, &dims(&[2, 2]));
    b.node_named("Dropout", &[&xi], &["y", "mask"], vec![]);
    b.output("y", FLOAT, &dims(&[2, 2]));
    b.output("mask", BOOL, &dims(&[2, 2]));
    let out = run(&to_model(b), vec![Value::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0])]);
    assert_eq!(out[0].data, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!((out[1].dtype, out[1].data.clone()), (DType::Bool, vec![1.0; 4]));
}

fn grid_sample(x: &[f32], grid: &[f32], attrs: Vec<onnx_protobuf::AttributeProto>) -> Vec<f64> {
    let mut b = OnnxBuilder::new(16);
    let xi = b.input("x", FLOAT, &dims(&[1, 1, 2, 2]));
    let gi = b.input("g", FLOAT, &dims(&[1, 1, grid.len() / 2, 2]));
    b.node_named("GridSample", &[&xi, &gi], &["y"], attrs);
    b.output("y", FLOAT, &dims(&[1, 1, 1, grid.len() / 2]));
    let m = to_model(b);
    let out = run(&m, vec![Value::from_f32(vec![1, 1, 2, 2], x.to_vec()), Value::from_f32(vec![1, 1, grid.len() / 2, 2], grid.to_vec())]);
    out[0].data.clone()
}

#[test]
fn grid_sample_interpolates_with_each_padding_rule() {
    let x = [1.0f32, 2.0, 3.0, 4.0];
    // (x, y) pairs: the center, the top-left corner, beyond the right edge.
    let grid = [0.0f32, 0.0, -1.0, -1.0, 2.0, -1.0];
    let s = |v: &str| attr_str("padding_mode", v);
    // Without aligned corners the corner (−1, −1) is pixel (−0.5, −0.5):
    // zeros weigh X[0, 0] by 1/4; border reads it whole. Beyond the right
    // edge, x = 2.5: zeros give 0; border clamps to column 1 (y = −0.5
    // keeps row 0 whole); reflection mirrors 2.5 to −0.5 + ... = 0.5.
    assert_eq!(grid_sample(&x, &grid, vec![]), [2.5, 0.25, 0.0]);
    assert_eq!(grid_sample(&x, &grid, vec![s("border")]), [2.5, 1.0, 2.0]);
    assert_eq!(grid_sample(&x, &grid, vec![s("reflection")]), [2.5, 1.0, 1.5]);
    // Nearest with aligned corners: (0, 0) is pixel (0.5, 0.5), rounded to
    // even (0, 0); (2, −1) is (2, 0): outside, 0 with zeros padding.
    let nearest = vec![attr_str("mode", "nearest"), attr_int("align_corners", 1)];
    assert_eq!(grid_sample(&x, &grid, nearest), [1.0, 1.0, 0.0]);
    // Bicubic at the center: taps −1 … 2 weighted −3/32, 19/32, 19/32,
    // −3/32; with zeros padding only the inner two read the input.
    assert_eq!(grid_sample(&x, &[0.0, 0.0], vec![attr_str("mode", "bicubic")]), [0.59375f64 * 0.59375 * 10.0]);
    // Volumetric: the center of a 2×2×2 cube averages it; nearest with
    // aligned corners at (x, y, z) = (1, −1, 1) reads [z 1, y 0, x 1].
    let cube: Vec<f32> = (1..=8).map(|v| v as f32).collect();
    let sample3 = |grid: [f32; 3], attrs| {
        let mut b = OnnxBuilder::new(20);
        let xi = b.input("x", FLOAT, &dims(&[1, 1, 2, 2, 2]));
        let gi = b.input("g", FLOAT, &dims(&[1, 1, 1, 1, 3]));
        b.node_named("GridSample", &[&xi, &gi], &["y"], attrs);
        b.output("y", FLOAT, &dims(&[1, 1, 1, 1, 1]));
        run(&to_model(b), vec![Value::from_f32(vec![1, 1, 2, 2, 2], cube.clone()), Value::from_f32(vec![1, 1, 1, 1, 3], grid.to_vec())]).remove(0).data
    };
    assert_eq!(sample3([0.0, 0.0, 0.0], vec![]), [4.5]);
    assert_eq!(sample3([1.0, -1.0, 1.0], vec![attr_str("mode", "nearest"), attr_int("align_corners", 1)]), [6.0]);
}

#[test]
fn cum_prod_and_center_crop_pad_take_run_time_operands() {
    // CumProd along a run-time axis (−2 names axis 0).
    let mut b = OnnxBuilder::new(26);
    let xi = b.input("x", INT32, &dims(&[2, 3]));
    let ai = b.input("a", INT64, &dims(&[]));
    b.node_named("CumProd", &[&xi, &ai], &["y"], vec![]);
    b.output("y", INT32, &dims(&[2, 3]));
    let m = to_model(b);
    let x = Value::new(DType::I32, vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let along = |a: f64| run(&m, vec![x.clone(), Value::new(DType::I64, vec![], vec![a])]).remove(0).data;
    assert_eq!(along(-2.0), [1.0, 2.0, 3.0, 4.0, 10.0, 18.0]);
    assert_eq!(along(1.0), [1.0, 2.0, 6.0, 4.0, 20.0, 120.0]);
    // CenterCropPad to a run-time shape: crop axis 0 from 5 to 2, pad axis 1
    // from 2 to 5.
    let mut b = OnnxBuilder::new(18);
    let xi = b.input("x", FLOAT, &dims(&[5, 2]));
    let si = b.input("s", INT64, &dims(&[2]));
    b.node_named("CenterCropPad", &[&xi, &si], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None]);
    let x: Vec<f32> = (1..=10).map(|v| v as f32).collect();
    let got = run(&to_model(b), vec![Value::from_f32(vec![5, 2], x), Value::new(DType::I64, vec![2], vec![2.0, 5.0])]).remove(0);
    assert_eq!(got.shape, [2, 5]);
    assert_eq!(got.data, [0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 5.0, 6.0, 0.0, 0.0]);
}

#[test]
fn swiglu_gates_with_a_scaled_sigmoid() {
    let mut b = OnnxBuilder::new(28);
    let ai = b.input("a", FLOAT, &dims(&[4]));
    let bi = b.input("b", FLOAT, &dims(&[4]));
    b.node_named("SwiGLU", &[&ai, &bi], &["y"], vec![attr_float("alpha", 0.5)]);
    b.output("y", FLOAT, &dims(&[4]));
    let (a, g) = ([1.0f32, -2.0, 3.0, 0.5], [0.5f32, 1.0, -1.0, 2.0]);
    let got = run(&to_model(b), vec![Value::from_f32(vec![4], a.to_vec()), Value::from_f32(vec![4], g.to_vec())]).remove(0);
    for (i, v) in got.data.iter().enumerate() {
        let (x, y) = (f64::from(a[i]), f64::from(g[i]));
        let want = x / (1.0 + (-0.5 * x).exp()) * y;
        assert!((v - want).abs() <= 1e-6 * want.abs().max(1.0), "element {i}: {v} vs {want}");
    }
}

#[test]
fn tensor_scatter_writes_update_rows_linear_and_circular() {
    // Cache [B=2, L=4, D=1], update [2, 2, 1], axis 1.
    let cache: Vec<f32> = (0..8).map(|v| v as f32).collect();
    let update = vec![100.0f32, 101.0, 200.0, 201.0];
    for (mode, w, want) in [
        ("linear", [1.0, 2.0], [0.0, 100.0, 101.0, 3.0, 4.0, 5.0, 200.0, 201.0]),
        ("circular", [1.0, 3.0], [0.0, 100.0, 101.0, 3.0, 201.0, 5.0, 6.0, 200.0]),
    ] {
        let mut b = OnnxBuilder::new(24);
        let ci = b.input("c", FLOAT, &dims(&[2, 4, 1]));
        let ui = b.input("u", FLOAT, &dims(&[2, 2, 1]));
        let wi = b.input("w", INT64, &dims(&[2]));
        b.node_named("TensorScatter", &[&ci, &ui, &wi], &["y"], vec![attr_str("mode", mode), attr_int("axis", 1)]);
        b.output("y", FLOAT, &dims(&[2, 4, 1]));
        let got = run(
            &to_model(b),
            vec![Value::from_f32(vec![2, 4, 1], cache.clone()), Value::from_f32(vec![2, 2, 1], update.clone()), Value::new(DType::I64, vec![2], w.to_vec())],
        )
        .remove(0);
        assert_eq!(got.data, want, "{mode}");
    }
}

#[test]
fn unique_sorted_and_in_order_of_first_occurrence() {
    let x = [2.0f32, 1.0, 1.0, 3.0, 4.0, 3.0];
    for (sorted, y, first, inv, counts) in [
        (1, vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 0.0, 3.0, 4.0], vec![1.0, 0.0, 0.0, 2.0, 3.0, 2.0], vec![2.0, 1.0, 2.0, 1.0]),
        (0, vec![2.0, 1.0, 3.0, 4.0], vec![0.0, 1.0, 3.0, 4.0], vec![0.0, 1.0, 1.0, 2.0, 3.0, 2.0], vec![1.0, 2.0, 2.0, 1.0]),
    ] {
        let mut b = OnnxBuilder::new(11);
        let xi = b.input("x", FLOAT, &dims(&[6]));
        b.node_named("Unique", &[&xi], &["y", "first", "inv", "counts"], vec![attr_int("sorted", sorted)]);
        b.output("y", FLOAT, &[None]);
        for o in ["first", "inv", "counts"] {
            b.output(o, INT64, &[None]);
        }
        let out = run(&to_model(b), vec![Value::from_f32(vec![6], x.to_vec())]);
        assert_eq!(out[0].data, y, "sorted={sorted}");
        assert_eq!(out[1].data, first, "sorted={sorted}");
        assert_eq!((out[2].dtype, out[2].data.clone()), (DType::I64, inv), "sorted={sorted}");
        assert_eq!(out[3].data, counts, "sorted={sorted}");
    }
}

#[test]
fn batchnorm_in_training_mode_uses_batch_statistics() {
    let mut b = OnnxBuilder::new(15);
    let xi = b.input("x", FLOAT, &dims(&[2, 2, 1]));
    let s = b.init_f32("s", &[2], &[1.0, 2.0]);
    let bias = b.init_f32("bias", &[2], &[0.0, 1.0]);
    let m = b.init_f32("m", &[2], &[0.0, 0.0]);
    let v = b.init_f32("v", &[2], &[1.0, 1.0]);
    b.node_named("BatchNormalization", &[&xi, &s, &bias, &m, &v], &["y", "rm", "rv"], vec![attr_int("training_mode", 1), attr_float("epsilon", 0.0)]);
    b.output("y", FLOAT, &dims(&[2, 2, 1]));
    b.output("rm", FLOAT, &dims(&[2]));
    b.output("rv", FLOAT, &dims(&[2]));
    // Channel 0 holds 1 and 3 (mean 2, variance 1), channel 1 holds 2 and 6
    // (mean 4, variance 4).
    let out = run(&to_model(b), vec![Value::from_f32(vec![2, 2, 1], vec![1.0, 2.0, 3.0, 6.0])]);
    assert_eq!(out[0].data, [-1.0, -1.0, 1.0, 3.0]);
    let close = |got: &[f64], want: &[f64]| got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6);
    assert!(close(&out[1].data, &[0.2, 0.4]), "{:?}", out[1].data);
    assert!(close(&out[2].data, &[1.0, 1.3]), "{:?}", out[2].data);
}

#[test]
fn int64_constants_keep_their_low_bits() {
    // 2⁶⁰ + 1 is not a float64: an int64 constant must not pass through one.
    let big = (1i64 << 60) + 1;
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", INT64, &dims(&[1]));
    let c = b.init_i64("c", &[1], &[big]);
    b.node_named("Sub", &[&xi, &c], &["y"], vec![]);
    b.output("y", INT64, &dims(&[1]));
    let m = to_model(b);
    let sg = &m.subgraphs[0];
    let k = sg.tensors.iter().find(|t| t.data.is_some() && t.dtype == DType::I64).expect("an int64 constant");
    let bytes = k.data.as_ref().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
    assert_eq!(bytes, big.to_le_bytes());
}

#[test]
fn reduce_max_and_min_of_bools() {
    for (op, want) in [("ReduceMax", [1.0, 0.0]), ("ReduceMin", [0.0, 0.0])] {
        let mut b = OnnxBuilder::new(13);
        let xi = b.input("x", BOOL, &dims(&[2, 2]));
        b.node_named(op, &[&xi], &["y"], vec![attr_ints("axes", &[1]), attr_int("keepdims", 0)]);
        b.output("y", BOOL, &dims(&[2]));
        let got = run(&to_model(b), vec![Value::new(DType::Bool, vec![2, 2], vec![1.0, 0.0, 0.0, 0.0])]).remove(0);
        assert_eq!((got.dtype, got.data), (DType::Bool, want.to_vec()), "{op}");
    }
}

#[test]
fn max_pool_of_uint8_runs_in_float32() {
    let mut b = OnnxBuilder::new(13);
    let xi = b.input("x", UINT8, &dims(&[1, 1, 2, 4]));
    b.node_named("MaxPool", &[&xi], &["y"], vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
    b.output("y", UINT8, &dims(&[1, 1, 1, 2]));
    let m = to_model(b);
    let got = run(&m, vec![Value::new(DType::U8, vec![1, 1, 2, 4], vec![1.0, 255.0, 3.0, 4.0, 5.0, 6.0, 200.0, 8.0])]).remove(0);
    assert_eq!((got.dtype, got.data), (DType::U8, vec![255.0, 200.0]));
}
