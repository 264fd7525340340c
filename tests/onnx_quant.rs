//! Quantized ONNX: QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear
//! as exact float arithmetic, QDQ groups as TFLite int8 ops, the integer
//! ops, and the hostile parameters that must be typed errors.

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::Value;
use tflite_forge::onnx::{convert, ReasonCode};
use tflite_forge::{DType, Op};

const UINT8: i32 = 2;
const INT8: i32 = 3;
const INT32: i32 = 6;

fn dims(d: &[i64]) -> Vec<Option<i64>> {
    d.iter().map(|v| Some(*v)).collect()
}

fn i8s(v: &[i8]) -> Vec<u8> {
    v.iter().map(|x| *x as u8).collect()
}

#[test]
fn quantize_linear_rounds_halves_to_even_and_saturates() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[8]));
    let s = b.init_f32("s", &[], &[0.5]);
    let z = b.init_raw("z", INT8, &[], i8s(&[1]));
    b.node_named("QuantizeLinear", &[&x, &s, &z], &["y"], vec![]);
    b.output("y", INT8, &dims(&[8]));
    let m = to_model(b);
    // x / 0.5 = 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 400, -400.
    let y = run(&m, vec![Value::from_f32(vec![8], vec![0.25, 0.75, 1.25, -0.25, -0.75, -1.25, 200.0, -200.0])]).remove(0);
    assert_eq!(y.dtype, DType::I8);
    assert_eq!(y.data, [1.0, 3.0, 3.0, 1.0, -1.0, -1.0, 127.0, -128.0]);
}

#[test]
fn dequantize_linear_per_axis_and_constant_folding() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", UINT8, &dims(&[2, 3]));
    let s = b.init_f32("s", &[2], &[0.5, 2.0]);
    let z = b.init_raw("z", UINT8, &[2], vec![10, 0]);
    b.node_named("DequantizeLinear", &[&x, &s, &z], &["y"], vec![attr_int("axis", 0)]);
    b.output("y", FLOAT, &dims(&[2, 3]));
    let m = to_model(b);
    let xv = Value { dtype: DType::U8, shape: vec![2, 3], data: vec![10.0, 12.0, 0.0, 1.0, 2.0, 255.0], quantization: None };
    let y = run(&m, vec![xv]).remove(0);
    assert_eq!(y.data, [0.0, 1.0, -5.0, 2.0, 4.0, 510.0]);
}

#[test]
fn dynamic_quantize_linear_matches_the_onnx_formula() {
    let mut b = OnnxBuilder::new(11);
    let x = b.input("x", FLOAT, &dims(&[6]));
    b.node_named("DynamicQuantizeLinear", &[&x], &["y", "ys", "yz"], vec![]);
    b.output("y", UINT8, &dims(&[6]));
    b.output("ys", FLOAT, &[]);
    b.output("yz", UINT8, &[]);
    let m = to_model(b);
    let xv = vec![0.0f32, 2.0, -3.0, -2.5, 1.34, 0.5];
    let out = run(&m, vec![Value::from_f32(vec![6], xv.clone())]);
    // The ONNX reference: scale = (max(0, max) - min(0, min)) / 255, zero
    // point round(clip(-min / scale)), halves to even.
    let scale = (2.0f32 - -3.0) / 255.0;
    let zp = (3.0f32 / scale).clamp(0.0, 255.0).round_ties_even();
    let want: Vec<f64> = xv.iter().map(|v| f64::from(((v / scale).round_ties_even() + zp).clamp(0.0, 255.0))).collect();
    assert_eq!(out[0].data, want);
    assert_eq!(out[1].data, [f64::from(scale)]);
    assert_eq!(out[2].data, [f64::from(zp)]);
}

/// DQ(x: uint8) → Conv(DQ(w: int8 per channel), DQ(b: int32)) → Q → DQ.
fn qdq_conv(w_zp: i8) -> OnnxBuilder {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", UINT8, &dims(&[1, 2, 4, 4]));
    let xs = b.init_f32("xs", &[], &[0.02]);
    let xz = b.init_raw("xz", UINT8, &[], vec![128]);
    let w: Vec<i8> = (0..3 * 2 * 3 * 3).map(|i| ((i * 37) % 255 - 127) as i8).collect();
    let wq = b.init_raw("wq", INT8, &[3, 2, 3, 3], i8s(&w));
    let ws = b.init_f32("ws", &[3], &[0.01, 0.02, 0.005]);
    let wz = b.init_raw("wz", INT8, &[3], i8s(&[w_zp, 0, 0]));
    let bq = b.init_raw("bq", INT32, &[3], [100i32, -50, 7].iter().flat_map(|v| v.to_le_bytes()).collect());
    let bs = b.init_f32("bs", &[3], &[0.02 * 0.01, 0.02 * 0.02, 0.02 * 0.005]);
    let ys = b.init_f32("ys", &[], &[0.05]);
    let yz = b.init_raw("yz", UINT8, &[], vec![120]);
    let xd = b.node("DequantizeLinear", &[&x, &xs, &xz], vec![]);
    let wd = b.node("DequantizeLinear", &[&wq, &ws, &wz], vec![attr_int("axis", 0)]);
    let bd = b.node("DequantizeLinear", &[&bq, &bs], vec![attr_int("axis", 0)]);
    let c = b.node("Conv", &[&xd, &wd, &bd], vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let q = b.node("QuantizeLinear", &[&c, &ys, &yz], vec![]);
    b.node_named("DequantizeLinear", &[&q, &ys, &yz], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[1, 3, 4, 4]));
    b
}

fn conv_inputs() -> Vec<Value> {
    let x: Vec<f64> = (0..32).map(|i| f64::from((i * 53 % 256) as u8)).collect();
    vec![Value { dtype: DType::U8, shape: vec![1, 2, 4, 4], data: x, quantization: None }]
}

#[test]
fn qdq_conv_becomes_an_int8_conv_that_matches_the_float_form() {
    let int8 = to_model(qdq_conv(0));
    let sg = &int8.subgraphs[0];
    let conv = sg.operators.iter().find(|o| matches!(o.op, Op::Conv2d(_))).expect("a CONV_2D");
    let t = |i: usize| &sg.tensors[conv.inputs[i].expect("input").index()];
    assert_eq!((t(0).dtype, t(1).dtype, t(2).dtype), (DType::I8, DType::I8, DType::I32));
    assert_eq!(t(1).quantization.as_ref().map(|q| q.scale.clone()), Some(vec![0.01, 0.02, 0.005]));
    assert_eq!(sg.tensors[conv.outputs[0].index()].quantization.as_ref().map(|q| (q.scale[0], q.zero_point[0])), Some((0.05, -8)));
    // An asymmetric weight zero point cannot be an int8 CONV_2D: the exact
    // float form (DEQUANTIZE, float CONV_2D, quantize) is used instead.
    let float = convert(&qdq_conv(3).build(), &nchw_opts()).expect("converts");
    assert!(float.report.warnings.iter().any(|w| w.contains("asymmetric")), "{:?}", float.report.warnings);
    let fsg = &float.model.subgraphs[0];
    assert!(fsg.operators.iter().any(|o| matches!(o.op, Op::Conv2d(_)) && fsg.tensors[o.outputs[0].index()].dtype == DType::F32));
    // The int8 conv agrees with the exact float form within one step.
    let a = run(&int8, conv_inputs()).remove(0);
    let exact = to_model(qdq_conv_float());
    let b = run(&exact, conv_inputs()).remove(0);
    assert_eq!(a.data.len(), b.data.len());
    for (x, y) in a.data.iter().zip(&b.data) {
        assert!((x - y).abs() <= 0.05 + 1e-6, "{x} vs {y}");
    }
}

/// The same graph as `qdq_conv(0)` with the output QuantizeLinear fed
/// through an Identity, so that no QDQ group forms: the float form.
fn qdq_conv_float() -> OnnxBuilder {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", UINT8, &dims(&[1, 2, 4, 4]));
    let xs = b.init_f32("xs", &[], &[0.02]);
    let xz = b.init_raw("xz", UINT8, &[], vec![128]);
    let w: Vec<i8> = (0..3 * 2 * 3 * 3).map(|i| ((i * 37) % 255 - 127) as i8).collect();
    let wq = b.init_raw("wq", INT8, &[3, 2, 3, 3], i8s(&w));
    let ws = b.init_f32("ws", &[3], &[0.01, 0.02, 0.005]);
    let bq = b.init_raw("bq", INT32, &[3], [100i32, -50, 7].iter().flat_map(|v| v.to_le_bytes()).collect());
    let bs = b.init_f32("bs", &[3], &[0.02 * 0.01, 0.02 * 0.02, 0.02 * 0.005]);
    let ys = b.init_f32("ys", &[], &[0.05]);
    let yz = b.init_raw("yz", UINT8, &[], vec![120]);
    let xd = b.node("DequantizeLinear", &[&x, &xs, &xz], vec![]);
    let wd = b.node("DequantizeLinear", &[&wq, &ws], vec![attr_int("axis", 0)]);
    let bd = b.node("DequantizeLinear", &[&bq, &bs], vec![attr_int("axis", 0)]);
    let c = b.node("Conv", &[&xd, &wd, &bd], vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let c = b.node("Identity", &[&c], vec![]);
    let q = b.node("QuantizeLinear", &[&c, &ys, &yz], vec![]);
    b.node_named("DequantizeLinear", &[&q, &ys, &yz], &["y"], vec![]);
    b.output("y", FLOAT, &dims(&[1, 3, 4, 4]));
    b
}

#[test]
fn hostile_scales_and_axes_are_typed_errors() {
    for bad in [0.0f32, -1.0, f32::NAN, f32::INFINITY] {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &dims(&[4]));
        let s = b.init_f32("s", &[], &[bad]);
        b.node_named("QuantizeLinear", &[&x, &s], &["y"], vec![]);
        b.output("y", UINT8, &dims(&[4]));
        assert_eq!(reason(b), ReasonCode::InvalidNode, "scale {bad}");
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", INT8, &dims(&[4]));
        let s = b.init_f32("s", &[], &[bad]);
        b.node_named("DequantizeLinear", &[&x, &s], &["y"], vec![]);
        b.output("y", FLOAT, &dims(&[4]));
        assert_eq!(reason(b), ReasonCode::InvalidNode, "scale {bad}");
    }
    // Three scales for an axis of two.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &dims(&[2, 4]));
    let s = b.init_f32("s", &[3], &[1.0, 1.0, 1.0]);
    b.node_named("QuantizeLinear", &[&x, &s], &["y"], vec![attr_int("axis", 0)]);
    b.output("y", UINT8, &dims(&[2, 4]));
    assert_eq!(reason(b), ReasonCode::InvalidNode);
    // An axis out of range.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", INT8, &dims(&[2, 4]));
    let s = b.init_f32("s", &[2], &[1.0, 1.0]);
    b.node_named("DequantizeLinear", &[&x, &s], &["y"], vec![attr_int("axis", 5)]);
    b.output("y", FLOAT, &dims(&[2, 4]));
    assert_eq!(reason(b), ReasonCode::InvalidNode);
}

#[test]
fn integer_matmul_is_exact_or_refused() {
    // uint8 × uint8 with zero points, run-time operands: exact int32.
    let mut b = OnnxBuilder::new(10);
    let a = b.input("a", UINT8, &dims(&[2, 3]));
    let bb = b.input("b", UINT8, &dims(&[3, 2]));
    let az = b.init_raw("az", UINT8, &[], vec![12]);
    let bz = b.init_raw("bz", UINT8, &[], vec![200]);
    b.node_named("MatMulInteger", &[&a, &bb, &az, &bz], &["y"], vec![]);
    b.output("y", INT32, &dims(&[2, 2]));
    let m = to_model(b);
    let av = [255.0, 0.0, 12.0, 1.0, 2.0, 3.0];
    let bv = [0.0, 255.0, 200.0, 1.0, 17.0, 100.0];
    let u8v = |s: Vec<usize>, d: &[f64]| Value { dtype: DType::U8, shape: s, data: d.to_vec(), quantization: None };
    let y = run(&m, vec![u8v(vec![2, 3], &av), u8v(vec![3, 2], &bv)]).remove(0);
    assert_eq!(y.dtype, DType::I32);
    let want: Vec<f64> = (0..2)
        .flat_map(|i| (0..2).map(move |j| (0..3).map(|k| (av[i * 3 + k] - 12.0) * (bv[k * 2 + j] - 200.0)).sum::<f64>()))
        .collect();
    assert_eq!(y.data, want);
    // An inner dimension of 300 uint8 values could sum past 2^24 in float32.
    let mut b = OnnxBuilder::new(10);
    let a = b.input("a", UINT8, &dims(&[1, 300]));
    let bb = b.input("b", UINT8, &dims(&[300, 1]));
    b.node_named("MatMulInteger", &[&a, &bb], &["y"], vec![]);
    b.output("y", INT32, &dims(&[1, 1]));
    assert_eq!(reason(b), ReasonCode::UnsupportedShape);
}

/// QLinearConv on uint8 x with int8 per-channel weights and an int32 bias;
/// with `runtime_scale` the input scale is a graph input (the exact path).
fn qlinear_conv(runtime_scale: bool) -> (OnnxBuilder, Vec<Value>) {
    let mut b = OnnxBuilder::new(10);
    let x = b.input("x", UINT8, &dims(&[1, 2, 5, 5]));
    let xs = if runtime_scale { b.input("xs", FLOAT, &[]) } else { b.init_f32("xs", &[], &[0.03]) };
    let xz = b.init_raw("xz", UINT8, &[], vec![100]);
    let w: Vec<i8> = (0..4 * 2 * 3 * 3).map(|i| ((i * 29) % 255 - 127) as i8).collect();
    let wq = b.init_raw("w", INT8, &[4, 2, 3, 3], i8s(&w));
    let ws = b.init_f32("ws", &[4], &[0.01, 0.004, 0.02, 0.007]);
    let wz = b.init_raw("wz", INT8, &[4], vec![0; 4]);
    let ys = b.init_f32("ys", &[], &[0.04]);
    let yz = b.init_raw("yz", UINT8, &[], vec![128]);
    let bias = b.init_raw("B", INT32, &[4], [300i32, -200, 0, 55].iter().flat_map(|v| v.to_le_bytes()).collect());
    b.node_named("QLinearConv", &[&x, &xs, &xz, &wq, &ws, &wz, &ys, &yz, &bias], &["y"], vec![attr_ints("pads", &[1, 1, 1, 1]), attr_ints("strides", &[2, 2])]);
    b.output("y", UINT8, &dims(&[1, 4, 3, 3]));
    let xv: Vec<f64> = (0..50).map(|i| f64::from((i * 71 % 256) as u8)).collect();
    let mut inputs = vec![Value { dtype: DType::U8, shape: vec![1, 2, 5, 5], data: xv, quantization: None }];
    if runtime_scale {
        inputs.push(Value::from_f32(vec![], vec![0.03]));
    }
    (b, inputs)
}

#[test]
fn qlinear_conv_with_constant_parameters_is_an_int8_conv() {
    let (b, inputs) = qlinear_conv(false);
    let m = to_model(b);
    let sg = &m.subgraphs[0];
    let conv = sg.operators.iter().find(|o| matches!(o.op, Op::Conv2d(_))).expect("a CONV_2D");
    assert_eq!(sg.tensors[conv.inputs[0].expect("x").index()].dtype, DType::I8);
    let got = run(&m, inputs).remove(0);
    let (b, inputs) = qlinear_conv(true);
    let exact = to_model(b);
    assert!(!exact.subgraphs[0].operators.iter().any(|o| matches!(o.op, Op::Conv2d(_)) && exact.subgraphs[0].tensors[o.outputs[0].index()].dtype == DType::I8));
    let want = run(&exact, inputs).remove(0);
    assert_eq!(got.dtype, DType::U8);
    assert_eq!(got.data.len(), want.data.len());
    assert!(got.data.iter().zip(&want.data).all(|(a, b)| (a - b).abs() <= 1.0), "{:?} vs {:?}", got.data, want.data);
    assert!(want.data.iter().any(|v| *v != 128.0 && *v != 0.0 && *v != 255.0), "a test that exercises values: {:?}", want.data);
}

#[test]
fn a_value_also_read_as_plain_integers_keeps_no_quantization() {
    // x is dequantized and also added as uint8 integers. Were x given the
    // DequantizeLinear's parameters, TFLite's ADD would accept it and add
    // real values (2·(x − 3) + 3): silently wrong. x keeps no parameters
    // ...
    let build = |with_add: bool| {
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", UINT8, &dims(&[4]));
        let s = b.init_f32("s", &[], &[0.5]);
        let z = b.init_raw("z", UINT8, &[], vec![3]);
        b.node_named("DequantizeLinear", &[&x, &s, &z], &["y"], vec![]);
        b.output("y", FLOAT, &dims(&[4]));
        if with_add {
            b.node_named("Add", &[&x, &x], &["w"], vec![]);
            b.output("w", UINT8, &dims(&[4]));
        }
        b
    };
    // ... and the ADD is computed on the integers (in int32, wrapping back
    // to uint8 as ONNX does), not on real values.
    let m = to_model(build(true));
    let sg = &m.subgraphs[0];
    assert!(sg.tensors[sg.inputs[0].index()].quantization.is_none());
    let xv = Value { dtype: DType::U8, shape: vec![4], data: vec![3.0, 4.0, 10.0, 200.0], quantization: None };
    let out = run(&m, vec![xv]);
    assert_eq!(out[0].data, [0.0, 0.5, 3.5, 98.5]);
    assert_eq!(out[1].data, [6.0, 8.0, 20.0, 144.0]);
    // Alone, the DequantizeLinear is one DEQUANTIZE on x.
    let m = to_model(build(false));
    let sg = &m.subgraphs[0];
    assert!(sg.tensors[sg.inputs[0].index()].quantization.is_some());
    let xv = Value { dtype: DType::U8, shape: vec![4], data: vec![3.0, 4.0, 10.0, 100.0], quantization: None };
    assert_eq!(run(&m, vec![xv]).remove(0).data, [0.0, 0.5, 3.5, 48.5]);
}

#[test]
fn qdq_add_and_maxpool_stay_int8_quantized_ops() {
    // The conv's int8 output added to itself and max-pooled, each in a QDQ
    // group: a quantized ADD and MAX_POOL_2D on int8 tensors with
    // parameters, never widened to int32 integer arithmetic (which would
    // add the integers, not the real values).
    let mut b = qdq_conv(0);
    let ys = b.init_f32("ys2", &[], &[0.05]);
    let yz = b.init_raw("yz2", UINT8, &[], vec![120]);
    let a = b.node("Add", &["y", "y"], vec![]);
    let aq = b.node("QuantizeLinear", &[&a, &ys, &yz], vec![]);
    let ad = b.node("DequantizeLinear", &[&aq, &ys, &yz], vec![]);
    let p = b.node("MaxPool", &[&ad], vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
    let pq = b.node("QuantizeLinear", &[&p, &ys, &yz], vec![]);
    b.node_named("DequantizeLinear", &[&pq, &ys, &yz], &["z"], vec![]);
    b.output("z", FLOAT, &dims(&[1, 3, 2, 2]));
    let m = to_model(b);
    let sg = &m.subgraphs[0];
    let quantized_int8 = |o: &tflite_forge::Operator| {
        let t = &sg.tensors[o.outputs[0].index()];
        t.dtype == DType::I8 && t.quantization.is_some()
    };
    assert!(sg.operators.iter().any(|o| matches!(o.op, Op::Add(_)) && quantized_int8(o)), "a quantized int8 ADD");
    assert!(sg.operators.iter().any(|o| matches!(o.op, Op::MaxPool2d(_)) && quantized_int8(o)), "a quantized int8 MAX_POOL_2D");
    assert!(!sg.operators.iter().any(|o| matches!(o.op, Op::Cast(_)) && sg.tensors[o.outputs[0].index()].dtype == DType::I32), "no int32 widening");
}
