//! Graph shapes of exporters other than torch's (tf2onnx, paddle2onnx),
//! found by the conformance tier `frameworks/`: each converts with the
//! default (NHWC) interface to a file without TRANSPOSE, and computes what
//! the unoptimised conversion (explicit transposes around every
//! layout-bound op, correct by construction) computes.

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions};
use tflite_forge::{Model, Op};

fn convert_with(bytes: &[u8], no_optimize: bool, batch: Option<u32>) -> Model {
    let mut o = ConvertOptions::default();
    o.no_optimize = no_optimize;
    o.batch = batch;
    match convert(bytes, &o) {
        Ok(c) => c.model,
        Err(e) => panic!("conversion failed: {e}"),
    }
}

fn run(m: &Model, x: &Value) -> Vec<Value> {
    Evaluator::new(m).run(0, std::slice::from_ref(x)).expect("evaluation succeeds")
}

fn transposes(m: &Model) -> usize {
    m.subgraphs[0].operators.iter().filter(|o| o.op == Op::Transpose).count()
}

fn ramp(n: usize, k: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * k).sin()).collect()
}

fn assert_close(a: &[Value], b: &[Value]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.shape, y.shape);
        let scale = x.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 1e-3, "the output is near zero: the test would test nothing");
        for (p, q) in x.data.iter().zip(&y.data) {
            assert!((p - q).abs() <= 1e-5 * (1.0 + scale), "{p} vs {q}");
        }
    }
}

/// Optimised and unoptimised conversions agree on `x`; returns the
/// optimised model.
fn optimised_matches_plain(bytes: &[u8], x: &Value) -> Model {
    let opt = convert_with(bytes, false, None);
    let plain = convert_with(bytes, true, None);
    assert!(transposes(&plain) > 0, "the unoptimised conversion has the layout transposes");
    assert_close(&run(&opt, x), &run(&plain, x));
    opt
}

/// tf2onnx's squeeze-excite block of a Keras CNN: NHWC input with a
/// Transpose to NCHW, GlobalAveragePool, then Reshape to [N, C] and back to
/// [N, C, 1, 1] (tf2onnx writes a transpose that moves only unit axes as a
/// Reshape) feeding 1×1 Convs, a Sigmoid and the channel-wise Mul, and the
/// Transpose back to NHWC. The unit-axis reshapes meet the layout
/// TRANSPOSEs around the 1×1 convolutions: seen as reshapes, they merge
/// and vanish.
#[test]
fn tf2onnx_squeeze_excite_loses_every_transpose() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(6), Some(6), Some(8)]);
    let t = b.node("Transpose", &[&x], vec![attr_ints("perm", &[0, 3, 1, 2])]);
    let w0 = b.init_f32("w0", &[8, 8, 3, 3], &ramp(8 * 8 * 9, 0.37));
    let h = b.node("Conv", &[&t, &w0], vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let g = b.node("GlobalAveragePool", &[&h], vec![]);
    let s2 = b.init_i64("s2", &[2], &[-1, 8]);
    let flat = b.node("Reshape", &[&g, &s2], vec![]);
    let s4 = b.init_i64("s4", &[4], &[-1, 8, 1, 1]);
    let un = b.node("Reshape", &[&flat, &s4], vec![]);
    let w1 = b.init_f32("w1", &[2, 8, 1, 1], &ramp(16, 0.71));
    let r = b.node("Conv", &[&un, &w1], vec![]);
    let r = b.node("Relu", &[&r], vec![]);
    let s4b = b.init_i64("s4b", &[4], &[-1, 2, 1, 1]);
    let r = b.node("Reshape", &[&r, &s4b], vec![]);
    let w2 = b.init_f32("w2", &[8, 2, 1, 1], &ramp(16, 0.53));
    let e = b.node("Conv", &[&r, &w2], vec![]);
    let e = b.node("Sigmoid", &[&e], vec![]);
    let y = b.node("Mul", &[&h, &e], vec![]);
    b.node_named("Transpose", &[&y], &["y"], vec![attr_ints("perm", &[0, 2, 3, 1])]);
    let y = "y".to_string();
    b.output(&y, FLOAT, &[None, Some(6), Some(6), Some(8)]);
    let bytes = b.build();
    let x = Value::from_f32(vec![2, 6, 6, 8], ramp(2 * 6 * 6 * 8, 0.13));
    let m = optimised_matches_plain(&bytes, &x);
    assert_eq!(transposes(&m), 0, "{:?}", m.subgraphs[0].operators.iter().map(|o| o.op.name()).collect::<Vec<_>>());
}

/// tf2onnx's NHWC → NCHW "transpose" of a one-channel image is a Reshape
/// ([N, 28, 28, 1] → [N, 1, 28, 28]); with the Conv's own layout TRANSPOSE
/// it is a unit-axis move, so the two cancel.
#[test]
fn tf2onnx_single_channel_input_reshape_cancels() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(8), Some(8), Some(1)]);
    let s = b.init_i64("s", &[4], &[-1, 1, 8, 8]);
    let t = b.node("Reshape", &[&x, &s], vec![]);
    let w = b.init_f32("w", &[4, 1, 3, 3], &ramp(36, 0.29));
    let h = b.node("Conv", &[&t, &w], vec![]);
    let h = b.node("Relu", &[&h], vec![]);
    b.node_named("Transpose", &[&h], &["y"], vec![attr_ints("perm", &[0, 2, 3, 1])]);
    let y = "y".to_string();
    b.output(&y, FLOAT, &[None, Some(6), Some(6), Some(4)]);
    let bytes = b.build();
    let x = Value::from_f32(vec![3, 8, 8, 1], ramp(3 * 64, 0.41));
    let m = optimised_matches_plain(&bytes, &x);
    assert_eq!(transposes(&m), 0);
    assert!(!m.subgraphs[0].operators.iter().any(|o| matches!(o.op, Op::Reshape { .. })), "the reshape to the input's own layout is gone");
}

/// paddle2onnx's hard swish: x · HardSigmoid(x) between convolutions. The
/// HardSigmoid (an ADD and a MUL with constants) is a chain from the
/// transposed value into the binary MUL; the chain is sunk with it.
#[test]
fn paddle_hard_swish_between_convolutions_loses_every_transpose() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(3), Some(8), Some(8)]);
    let w0 = b.init_f32("w0", &[6, 3, 3, 3], &ramp(6 * 27, 0.23));
    let h = b.node("Conv", &[&x, &w0], vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let hs = b.node("HardSigmoid", &[&h], vec![attr_float("alpha", 1.0 / 6.0), attr_float("beta", 0.5)]);
    let h = b.node("Mul", &[&h, &hs], vec![]);
    let p = b.node("MaxPool", &[&h], vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
    let w1 = b.init_f32("w1", &[4, 6, 1, 1], &ramp(24, 0.61));
    b.node_named("Conv", &[&p, &w1], &["y"], vec![]);
    let y = "y".to_string();
    b.output(&y, FLOAT, &[None, Some(4), Some(4), Some(4)]);
    let bytes = b.build();
    // The NHWC interface: the input is fed channels-last.
    let x = Value::from_f32(vec![2, 8, 8, 3], ramp(2 * 192, 0.17).iter().map(|v| v * 3.0).collect());
    let m = optimised_matches_plain(&bytes, &x);
    assert_eq!(transposes(&m), 0, "{:?}", m.subgraphs[0].operators.iter().map(|o| o.op.name()).collect::<Vec<_>>());
}

/// Keras Conv2DTranspose through tf2onnx has a dynamic batch: the
/// TRANSPOSE_CONV output shape is computed at run time from the input's
/// batch, and the result equals the static-batch conversion's.
#[test]
fn conv_transpose_with_a_dynamic_batch() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(4), Some(5), Some(5)]);
    let w = b.init_f32("w", &[4, 3, 3, 3], &ramp(4 * 27, 0.31));
    let bias = b.init_f32("b", &[3], &[0.1, -0.2, 0.3]);
    b.node_named("ConvTranspose", &[&x, &w, &bias], &["y"], vec![attr_ints("strides", &[2, 2]), attr_ints("pads", &[1, 1, 1, 1]), attr_ints("output_padding", &[1, 1])]);
    let y = "y".to_string();
    b.output(&y, FLOAT, &[None, Some(3), Some(10), Some(10)]);
    let bytes = b.build();
    let dynamic = convert_with(&bytes, false, None);
    let sg = &dynamic.subgraphs[0];
    assert_eq!(sg.tensors[sg.inputs[0].index()].shape.dims()[0], tflite_forge::Dim::Dynamic);
    assert!(sg.operators.iter().any(|o| matches!(o.op, Op::Shape(_))), "the batch is read at run time");
    for n in [1usize, 3] {
        let x = Value::from_f32(vec![n, 5, 5, 4], ramp(n * 100, 0.19));
        let fixed = convert_with(&bytes, false, Some(n as u32));
        let got = run(&dynamic, &x);
        assert_eq!(got[0].shape, vec![n, 10, 10, 3]);
        assert_close(&got, &run(&fixed, &x));
    }
}

/// Keras UpSampling2D (nearest) through tf2onnx: `repeat` along H as
/// Unsqueeze, Tile and a 5-D Transpose back to NHWC (tf2onnx pushed its
/// NHWC transpose into the 5-D tensor), then along W as Unsqueeze, Tile
/// and Reshape. The layout TRANSPOSE after the first convolution sinks
/// through the unit-axis reshape (going on in 5-D) and the TILE, and
/// cancels against the 5-D Transpose.
#[test]
fn tf2onnx_upsampling_repeat_loses_every_transpose() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(6), Some(6), Some(2)]);
    let t = b.node("Transpose", &[&x], vec![attr_ints("perm", &[0, 3, 1, 2])]);
    let w0 = b.init_f32("w0", &[4, 2, 3, 3], &ramp(72, 0.37));
    let h = b.node("Conv", &[&t, &w0], vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let h = b.node("Relu", &[&h], vec![]);
    let a3 = b.init_i64("a3", &[1], &[3]);
    let u = b.node("Unsqueeze", &[&h, &a3], vec![]);
    let m = b.init_i64("m", &[5], &[1, 1, 1, 2, 1]);
    let u = b.node("Tile", &[&u, &m], vec![]);
    let u = b.node("Transpose", &[&u], vec![attr_ints("perm", &[0, 2, 3, 4, 1])]);
    let s1 = b.init_i64("s1", &[4], &[-1, 12, 6, 4]);
    let u = b.node("Reshape", &[&u, &s1], vec![]);
    let v = b.node("Unsqueeze", &[&u, &a3], vec![]);
    let v = b.node("Tile", &[&v, &m], vec![]);
    let s2 = b.init_i64("s2", &[4], &[-1, 12, 12, 4]);
    let v = b.node("Reshape", &[&v, &s2], vec![]);
    let v = b.node("Transpose", &[&v], vec![attr_ints("perm", &[0, 3, 1, 2])]);
    let w1 = b.init_f32("w1", &[3, 4, 1, 1], &ramp(12, 0.61));
    let y = b.node("Conv", &[&v, &w1], vec![]);
    b.node_named("Transpose", &[&y], &["y"], vec![attr_ints("perm", &[0, 2, 3, 1])]);
    b.output("y", FLOAT, &[None, Some(12), Some(12), Some(3)]);
    let bytes = b.build();
    let x = Value::from_f32(vec![2, 6, 6, 2], ramp(144, 0.23));
    let m = optimised_matches_plain(&bytes, &x);
    assert_eq!(transposes(&m), 0, "{:?}", m.subgraphs[0].operators.iter().map(|o| o.op.name()).collect::<Vec<_>>());
}

/// Keras Conv1D through tf2onnx with a dynamic batch and length (a text
/// CNN): the NWC input goes to NCW with a Transpose, and Conv, Relu and
/// MaxPool stay in NCW. Our 1-D convolutions and pools run as CONV_2D and
/// MAX_POOL_2D on [N, 1, W, C]; the layout transposes between them and
/// the exporter's own must all cancel.
#[test]
fn tf2onnx_conv1d_with_run_time_lengths_loses_every_transpose() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, None, Some(6)]);
    let t = b.node("Transpose", &[&x], vec![attr_ints("perm", &[0, 2, 1])]);
    let w0 = b.init_f32("w0", &[5, 6, 3], &ramp(90, 0.37));
    let h = b.node("Conv", &[&t, &w0], vec![attr_ints("pads", &[1, 1])]);
    let h = b.node("Relu", &[&h], vec![]);
    let h = b.node("MaxPool", &[&h], vec![attr_ints("kernel_shape", &[2]), attr_ints("strides", &[2])]);
    let w1 = b.init_f32("w1", &[4, 5, 3], &ramp(60, 0.53));
    let h = b.node("Conv", &[&h, &w1], vec![attr_ints("pads", &[1, 1])]);
    let h = b.node("Relu", &[&h], vec![]);
    b.node_named("Transpose", &[&h], &["y"], vec![attr_ints("perm", &[0, 2, 1])]);
    b.output("y", FLOAT, &[None, None, Some(4)]);
    let bytes = b.build();
    let plain = convert_with(&bytes, true, None);
    let opt = convert_with(&bytes, false, None);
    for (n, w) in [(1usize, 10usize), (2, 6)] {
        let x = Value::from_f32(vec![n, w, 6], ramp(n * w * 6, 0.29));
        assert_close(&run(&opt, &x), &run(&plain, &x));
    }
    assert_eq!(transposes(&opt), 0, "{:?}", opt.subgraphs[0].operators.iter().map(|o| o.op.name()).collect::<Vec<_>>());
}

/// The UpSampling2D repeat of a Keras net with a dynamic height and width
/// (tf2onnx): the Unsqueeze's reshape has a shape computed at run time
/// ([N, C, H, 1, W] from SHAPE and constants), so the layout TRANSPOSE
/// sinks through it by the run-time rule, then through the TILE, and
/// cancels against the 5-D Transpose.
#[test]
fn tf2onnx_upsampling_with_dynamic_height_and_width_loses_every_transpose() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, None, None, Some(2)]);
    let t = b.node("Transpose", &[&x], vec![attr_ints("perm", &[0, 3, 1, 2])]);
    let w0 = b.init_f32("w0", &[4, 2, 3, 3], &ramp(72, 0.37));
    let h = b.node("Conv", &[&t, &w0], vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let h = b.node("Relu", &[&h], vec![]);
    let a3 = b.init_i64("a3", &[1], &[3]);
    let u = b.node("Unsqueeze", &[&h, &a3], vec![]);
    let m = b.init_i64("m", &[5], &[1, 1, 1, 2, 1]);
    let u = b.node("Tile", &[&u, &m], vec![]);
    let u = b.node("Transpose", &[&u], vec![attr_ints("perm", &[0, 2, 3, 4, 1])]);
    // [N, H, 2, W, C] → [N, 2H, W, C]: [0, -1, W, 4].
    let sx = b.node("Shape", &[&x], vec![]);
    let i2 = b.init_i64("i2", &[1], &[2]);
    let wdim = b.node("Gather", &[&sx, &i2], vec![]);
    let head = b.init_i64("head", &[2], &[0, -1]);
    let tail = b.init_i64("tail", &[1], &[4]);
    let shape = b.node("Concat", &[&head, &wdim, &tail], vec![attr_int("axis", 0)]);
    let u = b.node("Reshape", &[&u, &shape], vec![]);
    let v = b.node("Transpose", &[&u], vec![attr_ints("perm", &[0, 3, 1, 2])]);
    let w1 = b.init_f32("w1", &[3, 4, 1, 1], &ramp(12, 0.61));
    let y = b.node("Conv", &[&v, &w1], vec![]);
    b.node_named("Transpose", &[&y], &["y"], vec![attr_ints("perm", &[0, 2, 3, 1])]);
    b.output("y", FLOAT, &[None, None, None, Some(3)]);
    let bytes = b.build();
    let plain = convert_with(&bytes, true, None);
    let opt = convert_with(&bytes, false, None);
    for (n, h, w) in [(1usize, 4usize, 6usize), (2, 5, 3)] {
        let x = Value::from_f32(vec![n, h, w, 2], ramp(n * h * w * 2, 0.23));
        let got = run(&opt, &x);
        assert_eq!(got[0].shape, vec![n, 2 * h, w, 3]);
        assert_close(&got, &run(&plain, &x));
    }
    assert_eq!(transposes(&opt), 0, "{:?}", opt.subgraphs[0].operators.iter().map(|o| o.op.name()).collect::<Vec<_>>());
}
