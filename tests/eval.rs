//! The reference evaluator against hand-computed values and independent
//! naive formulas.

mod common;

use std::time::Instant;

use common::{model_of, quantize_weights, resnet_like, Rng};
use half::f16;
use tflite_forge::eval::{eval_op, EvalError, Evaluator, Value};
use tflite_forge::{
    Activation, AddSubOptions, CastOptions, ConcatenationOptions, ConstData, Conv2dOptions, CustomOp, DType,
    DepthwiseConv2dOptions, Dim, FullyConnectedOptions, Model, Op, Operator, Padding,
    Pool2dOptions, Quantization, Shape, Tensor,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Runs subgraph 0 and returns its outputs.
fn run(model: &Model, inputs: &[Value]) -> Vec<Value> {
    Evaluator::new(model).run(0, inputs).expect("evaluation succeeds")
}

/// Runs subgraph 0 and returns its only output.
fn run1(model: &Model, inputs: &[Value]) -> Value {
    let mut out = run(model, inputs);
    assert_eq!(out.len(), 1);
    out.remove(0)
}

/// 1, 2, ..., n as f32.
fn seq(n: usize) -> Vec<f32> {
    (1..=n).map(|v| v as f32).collect()
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "lengths differ: {actual:?} vs {expected:?}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let scale = 1.0f64.max(e.abs());
        assert!((a - e).abs() <= tol * scale, "element {i}: got {a}, expected {e} (all: {actual:?})");
    }
}

/// A model applying `op` to one float input of `shape`.
fn unary_model(op: Op, shape: &[u32]) -> Model {
    model_of(|g| {
        let x = g.input("x", DType::F32, shape);
        let y = g.apply(op, &[Some(x)])?;
        g.output("y", y);
        Ok(())
    })
}

/// Runs a unary float op on `data` of `shape`.
fn unary(op: Op, shape: &[usize], data: Vec<f32>) -> Value {
    let dims: Vec<u32> = shape.iter().map(|d| *d as u32).collect();
    run1(&unary_model(op, &dims), &[Value::from_f32(shape.to_vec(), data)])
}

/// A model applying a binary op to two float inputs.
fn binary_model(op: Op, a: &[u32], b: &[u32]) -> Model {
    model_of(|g| {
        let x = g.input("a", DType::F32, a);
        let y = g.input("b", DType::F32, b);
        let z = g.apply(op, &[Some(x), Some(y)])?;
        g.output("z", z);
        Ok(())
    })
}

/// TensorFlow's SAME / VALID arithmetic, written out independently of the
/// library: (output size, padding before).
fn tf_window(input: usize, k: usize, stride: usize, dilation: usize, same: bool) -> (usize, usize) {
    let eff = (k - 1) * dilation + 1;
    if same {
        let out = input.div_ceil(stride);
        let total = ((out - 1) * stride + eff).saturating_sub(input);
        (out, total / 2)
    } else {
        ((input - eff) / stride + 1, 0)
    }
}

/// Parameters of the naive convolutions.
#[derive(Clone, Copy, Debug)]
struct ConvCfg {
    stride: (usize, usize),
    dilation: (usize, usize),
    same: bool,
}

impl ConvCfg {
    fn padding(&self) -> Padding {
        if self.same { Padding::Same } else { Padding::Valid }
    }
    fn conv_options(&self) -> Conv2dOptions {
        Conv2dOptions::new(self.padding(), self.stride.0 as i32, self.stride.1 as i32)
            .with_dilation(self.dilation.0 as i32, self.dilation.1 as i32)
    }
    fn dw_options(&self, mult: i32) -> DepthwiseConv2dOptions {
        DepthwiseConv2dOptions::new(self.padding(), self.stride.0 as i32, self.stride.1 as i32, mult)
            .with_dilation(self.dilation.0 as i32, self.dilation.1 as i32)
    }
}

/// Naive (grouped) CONV_2D: one sum per output element.
fn naive_conv(x: &[f32], xs: [usize; 4], w: &[f32], ws: [usize; 4], bias: &[f32], cfg: ConvCfg) -> (Vec<usize>, Vec<f64>) {
    let [n, h, wd, c] = xs;
    let [oc, kh, kw, ic] = ws;
    let groups = c / ic;
    let og = oc / groups;
    let (oh, pt) = tf_window(h, kh, cfg.stride.0, cfg.dilation.0, cfg.same);
    let (ow, pl) = tf_window(wd, kw, cfg.stride.1, cfg.dilation.1, cfg.same);
    let mut out = Vec::new();
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..oc {
                    let g = o / og;
                    let mut acc = f64::from(bias[o]);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * cfg.stride.0 + ky * cfg.dilation.0) as i64 - pt as i64;
                            let ix = (ox * cfg.stride.1 + kx * cfg.dilation.1) as i64 - pl as i64;
                            if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                                continue;
                            }
                            for i in 0..ic {
                                let xv = x[((b * h + iy as usize) * wd + ix as usize) * c + g * ic + i];
                                let wv = w[((o * kh + ky) * kw + kx) * ic + i];
                                acc += f64::from(xv) * f64::from(wv);
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    (vec![n, oh, ow, oc], out)
}

/// Naive DEPTHWISE_CONV_2D: output channel c*m + j reads input channel c.
fn naive_depthwise(x: &[f32], xs: [usize; 4], w: &[f32], k: (usize, usize), mult: usize, bias: &[f32], cfg: ConvCfg) -> (Vec<usize>, Vec<f64>) {
    let [n, h, wd, c] = xs;
    let (kh, kw) = k;
    let cm = c * mult;
    let (oh, pt) = tf_window(h, kh, cfg.stride.0, cfg.dilation.0, cfg.same);
    let (ow, pl) = tf_window(wd, kw, cfg.stride.1, cfg.dilation.1, cfg.same);
    let mut out = Vec::new();
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cm {
                    let ci = o / mult;
                    let mut acc = f64::from(bias[o]);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * cfg.stride.0 + ky * cfg.dilation.0) as i64 - pt as i64;
                            let ix = (ox * cfg.stride.1 + kx * cfg.dilation.1) as i64 - pl as i64;
                            if iy >= 0 && ix >= 0 && iy < h as i64 && ix < wd as i64 {
                                let xv = x[((b * h + iy as usize) * wd + ix as usize) * c + ci];
                                acc += f64::from(xv) * f64::from(w[(ky * kw + kx) * cm + o]);
                            }
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    (vec![n, oh, ow, cm], out)
}

/// A float CONV_2D model with a constant filter and bias.
fn conv_model(xs: [usize; 4], w: &[f32], ws: [usize; 4], bias: &[f32], o: Conv2dOptions) -> Model {
    let u = |s: [usize; 4]| s.map(|d| d as u32);
    model_of(|g| {
        let x = g.input("x", DType::F32, u(xs));
        let wt = g.constant_f32("w", u(ws), w);
        let b = g.constant_f32("b", [ws[0] as u32], bias);
        let y = g.conv2d(x, wt, Some(b), o)?;
        g.output("y", y);
        Ok(())
    })
}

/// A conv of a 1-channel image with a 1-channel filter.
fn single_channel_conv(h: usize, w: usize, filter: &[f32], k: usize, o: Conv2dOptions) -> Value {
    let m = conv_model([1, h, w, 1], filter, [1, k, k, 1], &[0.0], o);
    run1(&m, &[Value::from_f32(vec![1, h, w, 1], seq(h * w))])
}

// ---------------------------------------------------------------------------
// Elementwise
// ---------------------------------------------------------------------------

#[test]
fn add_broadcasts_a_vector_over_rows() {
    let m = binary_model(Op::Add(AddSubOptions::default()), &[2, 3], &[3]);
    let y = run1(&m, &[Value::from_f32(vec![2, 3], seq(6)), Value::from_f32(vec![3], vec![10.0, 20.0, 30.0])]);
    assert_eq!(y.shape, [2, 3]);
    assert_eq!(y.to_f32(), [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
}

#[test]
fn add_with_fused_relu() {
    let m = binary_model(Op::Add(AddSubOptions::default().with_activation(Activation::Relu)), &[4], &[4]);
    let y = run1(&m, &[Value::from_f32(vec![4], vec![1.0, -2.0, 3.0, -4.0]), Value::from_f32(vec![4], vec![0.5, 1.0, -5.0, 10.0])]);
    assert_eq!(y.to_f32(), [1.5, 0.0, 0.0, 6.0]);
}

#[test]
fn sub_broadcasts_both_operands() {
    // [2, 1] - [1, 3] -> [2, 3]
    let m = binary_model(Op::Sub(AddSubOptions::default()), &[2, 1], &[1, 3]);
    let y = run1(&m, &[Value::from_f32(vec![2, 1], vec![10.0, 20.0]), Value::from_f32(vec![1, 3], vec![1.0, 2.0, 3.0])]);
    assert_eq!(y.shape, [2, 3]);
    assert_eq!(y.to_f32(), [9.0, 8.0, 7.0, 19.0, 18.0, 17.0]);
}

#[test]
fn mul_broadcasts_channels_with_fused_relu6_and_relu_n1_to_1() {
    let x = Value::from_f32(vec![1, 2, 2], vec![1.0, 2.0, 3.0, -4.0]);
    let s = Value::from_f32(vec![2], vec![3.0, 0.25]);
    let m = binary_model(Op::Mul(Activation::Relu6), &[1, 2, 2], &[2]);
    assert_eq!(run1(&m, &[x.clone(), s.clone()]).to_f32(), [3.0, 0.5, 6.0, 0.0]);
    let m = binary_model(Op::Mul(Activation::ReluN1To1), &[1, 2, 2], &[2]);
    assert_eq!(run1(&m, &[x, s]).to_f32(), [1.0, 0.5, 1.0, -1.0]);
}

#[test]
fn div_broadcasts_a_scalar() {
    let m = binary_model(Op::Div(Activation::None), &[3], &[]);
    let y = run1(&m, &[Value::from_f32(vec![3], vec![1.0, -3.0, 4.5]), Value::from_f32(vec![], vec![2.0])]);
    assert_eq!(y.shape, [3]);
    assert_eq!(y.to_f32(), [0.5, -1.5, 2.25]);
}

#[test]
fn integer_div_truncates_toward_zero() {
    let m = model_of(|g| {
        let a = g.input("a", DType::I32, [4]);
        let b = g.input("b", DType::I32, [4]);
        let y = g.div(a, b)?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_i32(vec![4], vec![7, -7, 9, 1]), Value::from_i32(vec![4], vec![2, 2, -4, 3])]);
    assert_eq!(y.dtype, DType::I32);
    assert_eq!(y.data, [3.0, -3.0, -2.0, 0.0]);
    let err = Evaluator::new(&m)
        .run(0, &[Value::from_i32(vec![4], vec![1, 2, 3, 4]), Value::from_i32(vec![4], vec![1, 0, 1, 1])])
        .unwrap_err();
    assert!(matches!(err.root(), EvalError::Shape { .. }), "{err}");
}

#[test]
fn float32_results_are_rounded_to_f32() {
    let m = binary_model(Op::Div(Activation::None), &[1], &[1]);
    let y = run1(&m, &[Value::from_f32(vec![1], vec![1.0]), Value::from_f32(vec![1], vec![3.0])]);
    assert_eq!(y.data[0], f64::from(1.0f32 / 3.0));
}

// ---------------------------------------------------------------------------
// CONV_2D
// ---------------------------------------------------------------------------

#[test]
fn conv2d_valid_hand_computed() {
    // 3x3 image 1..9, 2x2 filter of ones, bias 0.5.
    let m = conv_model([1, 3, 3, 1], &[1.0; 4], [1, 2, 2, 1], &[0.5], Conv2dOptions::new(Padding::Valid, 1, 1));
    let y = run1(&m, &[Value::from_f32(vec![1, 3, 3, 1], seq(9))]);
    assert_eq!(y.shape, [1, 2, 2, 1]);
    assert_eq!(y.to_f32(), [12.5, 16.5, 24.5, 28.5]);
}

#[test]
fn conv2d_same_and_valid_with_stride_2_on_odd_input() {
    // 5x5 image 1..25, 3x3 ones, stride 2.
    // SAME: out = ceil(5/2) = 3, total pad = (3-1)*2 + 3 - 5 = 2, one before.
    let same = single_channel_conv(5, 5, &[1.0; 9], 3, Conv2dOptions::new(Padding::Same, 2, 2));
    assert_eq!(same.shape, [1, 3, 3, 1]);
    assert_eq!(same.to_f32(), [16.0, 33.0, 28.0, 69.0, 117.0, 87.0, 76.0, 123.0, 88.0]);
    // VALID: out = (5 - 3) / 2 + 1 = 2, no padding.
    let valid = single_channel_conv(5, 5, &[1.0; 9], 3, Conv2dOptions::new(Padding::Valid, 2, 2));
    assert_eq!(valid.shape, [1, 2, 2, 1]);
    assert_eq!(valid.to_f32(), [63.0, 81.0, 153.0, 171.0]);
}

#[test]
fn conv2d_same_puts_the_odd_padding_after() {
    // 4x4 image 1..16, 3x3 ones, stride 2: total pad 1, all of it after.
    let y = single_channel_conv(4, 4, &[1.0; 9], 3, Conv2dOptions::new(Padding::Same, 2, 2));
    assert_eq!(y.shape, [1, 2, 2, 1]);
    // out[0,0] = rows 0-2 x cols 0-2; out[1,0] = rows 2-3 x cols 0-2.
    assert_eq!(y.to_f32(), [54.0, 45.0, 72.0, 54.0]);
}

#[test]
fn conv2d_dilation() {
    // 5x5 image 1..25, 2x2 filter [1 2; 3 4] with dilation 2 (extent 3), VALID.
    let o = Conv2dOptions::new(Padding::Valid, 1, 1).with_dilation(2, 2);
    let y = single_channel_conv(5, 5, &[1.0, 2.0, 3.0, 4.0], 2, o);
    assert_eq!(y.shape, [1, 3, 3, 1]);
    // out[0,0] = 1*x[0,0] + 2*x[0,2] + 3*x[2,0] + 4*x[2,2] = 1 + 6 + 33 + 52.
    assert_eq!(y.to_f32(), [92.0, 102.0, 112.0, 142.0, 152.0, 162.0, 192.0, 202.0, 212.0]);
}

#[test]
fn conv2d_grouped_hand_computed() {
    // 4 input channels, filter [2, 1, 1, 2]: two groups of two channels.
    let m = conv_model([1, 1, 1, 4], &[1.0, 1.0, 1.0, -1.0], [2, 1, 1, 2], &[0.0, 10.0], Conv2dOptions::default());
    let y = run1(&m, &[Value::from_f32(vec![1, 1, 1, 4], vec![1.0, 2.0, 3.0, 4.0])]);
    // Group 0 sees channels 0-1: 1 + 2. Group 1 sees channels 2-3: 3 - 4 + 10.
    assert_eq!(y.to_f32(), [3.0, 9.0]);
}

#[test]
fn conv2d_matches_the_naive_formula() {
    let mut r = Rng::new(7);
    let cases: &[([usize; 4], [usize; 4], ConvCfg)] = &[
        ([2, 7, 6, 3], [4, 3, 3, 3], ConvCfg { stride: (1, 1), dilation: (1, 1), same: true }),
        ([1, 9, 9, 2], [5, 3, 3, 2], ConvCfg { stride: (2, 2), dilation: (1, 1), same: false }),
        ([2, 7, 8, 4], [3, 3, 2, 4], ConvCfg { stride: (2, 3), dilation: (1, 1), same: true }),
        ([1, 10, 9, 2], [2, 3, 3, 2], ConvCfg { stride: (1, 1), dilation: (2, 3), same: true }),
        ([1, 10, 10, 2], [2, 3, 2, 2], ConvCfg { stride: (2, 1), dilation: (2, 2), same: false }),
        // Grouped: 6 channels in 3 groups of 2, 6 outputs.
        ([1, 6, 5, 6], [6, 3, 3, 2], ConvCfg { stride: (1, 2), dilation: (1, 1), same: true }),
    ];
    for &(xs, ws, cfg) in cases {
        let x = r.vec(xs.iter().product(), 1.0);
        let w = r.vec(ws.iter().product(), 0.5);
        let b = r.vec(ws[0], 0.5);
        let (shape, expected) = naive_conv(&x, xs, &w, ws, &b, cfg);
        let y = run1(&conv_model(xs, &w, ws, &b, cfg.conv_options()), &[Value::from_f32(xs.to_vec(), x)]);
        assert_eq!(y.shape, shape, "{cfg:?}");
        assert_close(&y.data, &expected, 1e-6);
    }
}

#[test]
fn conv2d_same_equals_pad_then_valid() {
    // A rewrite must not change what the graph computes: SAME padding made
    // explicit with PAD gives the same values.
    let mut r = Rng::new(3);
    let w = r.vec(2 * 3 * 3 * 3, 0.5);
    let b = r.vec(2, 0.5);
    let same = conv_model([1, 6, 6, 3], &w, [2, 3, 3, 3], &b, Conv2dOptions::new(Padding::Same, 1, 1));
    let padded = model_of(|g| {
        let x = g.input("x", DType::F32, [1, 6, 6, 3]);
        let p = g.pad(x, &[(0, 0), (1, 1), (1, 1), (0, 0)])?;
        let wt = g.constant_f32("w", [2, 3, 3, 3], &w);
        let bt = g.constant_f32("b", [2], &b);
        let y = g.conv2d(p, wt, Some(bt), Conv2dOptions::new(Padding::Valid, 1, 1))?;
        g.output("y", y);
        Ok(())
    });
    let x = Value::from_f32(vec![1, 6, 6, 3], r.vec(108, 1.0));
    assert_eq!(run1(&same, std::slice::from_ref(&x)), run1(&padded, &[x]));
}

// ---------------------------------------------------------------------------
// DEPTHWISE_CONV_2D
// ---------------------------------------------------------------------------

fn depthwise_model(xs: [usize; 4], w: &[f32], k: (usize, usize), mult: usize, bias: &[f32], o: DepthwiseConv2dOptions) -> Model {
    let cm = (xs[3] * mult) as u32;
    model_of(|g| {
        let x = g.input("x", DType::F32, xs.map(|d| d as u32));
        let wt = g.constant_f32("w", [1, k.0 as u32, k.1 as u32, cm], w);
        let b = g.constant_f32("b", [cm], bias);
        let y = g.depthwise_conv2d(x, wt, Some(b), o)?;
        g.output("y", y);
        Ok(())
    })
}

#[test]
fn depthwise_multiplier_2_hand_computed() {
    // Two pixels of two channels; 1x1 filter, multiplier 2: output channel
    // c*2 + m is x[c] * w[c*2 + m].
    let w = [1.0, 10.0, 100.0, 1000.0];
    let m = depthwise_model([1, 1, 2, 2], &w, (1, 1), 2, &[0.0, 0.0, 0.0, 0.5], DepthwiseConv2dOptions::new(Padding::Valid, 1, 1, 2));
    let y = run1(&m, &[Value::from_f32(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0])]);
    assert_eq!(y.shape, [1, 1, 2, 4]);
    assert_eq!(y.to_f32(), [1.0, 10.0, 200.0, 2000.5, 3.0, 30.0, 400.0, 4000.5]);
}

#[test]
fn depthwise_matches_the_naive_formula() {
    let mut r = Rng::new(11);
    // (input shape, kernel size, multiplier, configuration)
    type Case = ([usize; 4], (usize, usize), usize, ConvCfg);
    let cases: &[Case] = &[
        ([1, 8, 8, 4], (3, 3), 1, ConvCfg { stride: (1, 1), dilation: (1, 1), same: true }),
        ([2, 9, 9, 3], (3, 3), 2, ConvCfg { stride: (2, 2), dilation: (1, 1), same: false }),
        ([1, 7, 9, 3], (3, 2), 2, ConvCfg { stride: (2, 2), dilation: (1, 1), same: true }),
        ([1, 10, 10, 2], (3, 3), 1, ConvCfg { stride: (1, 1), dilation: (2, 2), same: true }),
    ];
    for &(xs, k, mult, cfg) in cases {
        let cm = xs[3] * mult;
        let x = r.vec(xs.iter().product(), 1.0);
        let w = r.vec(k.0 * k.1 * cm, 0.5);
        let b = r.vec(cm, 0.5);
        let (shape, expected) = naive_depthwise(&x, xs, &w, k, mult, &b, cfg);
        let m = depthwise_model(xs, &w, k, mult, &b, cfg.dw_options(mult as i32));
        let y = run1(&m, &[Value::from_f32(xs.to_vec(), x)]);
        assert_eq!(y.shape, shape, "{cfg:?}");
        assert_close(&y.data, &expected, 1e-6);
    }
}

// ---------------------------------------------------------------------------
// FULLY_CONNECTED
// ---------------------------------------------------------------------------

#[test]
fn fully_connected_with_bias_and_relu() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [2, 3]);
        let w = g.constant_f32("w", [2, 3], &[1.0, 0.0, -1.0, 0.5, 0.5, 0.5]);
        let b = g.constant_f32("b", [2], &[1.0, -1.0]);
        let y = g.fully_connected(x, w, Some(b), FullyConnectedOptions::default().with_activation(Activation::Relu))?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![2, 3], seq(6))]);
    assert_eq!(y.shape, [2, 2]);
    // Row 0: 1 - 3 + 1 = -1 -> 0; 3 - 1 = 2. Row 1: 4 - 6 + 1 = -1 -> 0; 7.5 - 1.
    assert_eq!(y.to_f32(), [0.0, 2.0, 0.0, 6.5]);
}

#[test]
fn fully_connected_flattens_the_input_without_a_bias() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [1, 2, 3]);
        let w = g.constant_f32("w", [2, 6], &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0]);
        let y = g.fully_connected(x, w, None, FullyConnectedOptions::default())?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![1, 2, 3], seq(6))]);
    assert_eq!(y.shape, [1, 2]);
    assert_eq!(y.to_f32(), [21.0, -5.0]);
}

#[test]
fn fully_connected_keep_num_dims() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [2, 2, 3]);
        let w = g.constant_f32("w", [2, 3], &[1.0, 1.0, 1.0, 0.0, 0.0, 2.0]);
        let y = g.fully_connected(x, w, None, FullyConnectedOptions::default().with_keep_num_dims(true))?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![2, 2, 3], seq(12))]);
    assert_eq!(y.shape, [2, 2, 2]);
    assert_eq!(y.to_f32(), [6.0, 6.0, 15.0, 12.0, 24.0, 18.0, 33.0, 24.0]);
}

// ---------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------

#[test]
fn max_pool_valid_and_same() {
    let y = unary(Op::MaxPool2d(Pool2dOptions::new(Padding::Valid, 2, 2, 2, 2)), &[1, 4, 4, 1], seq(16));
    assert_eq!(y.shape, [1, 2, 2, 1]);
    assert_eq!(y.to_f32(), [6.0, 8.0, 14.0, 16.0]);
    // 5x5, 3x3 window, stride 2, SAME: one padded row/column before; the
    // padding never wins, even over negative values.
    let neg: Vec<f32> = seq(25).into_iter().map(|v| -v).collect();
    let y = unary(Op::MaxPool2d(Pool2dOptions::new(Padding::Same, 3, 3, 2, 2)), &[1, 5, 5, 1], neg);
    assert_eq!(y.shape, [1, 3, 3, 1]);
    assert_eq!(y.to_f32(), [-1.0, -2.0, -4.0, -6.0, -7.0, -9.0, -16.0, -17.0, -19.0]);
}

#[test]
fn average_pool_same_divides_by_the_real_elements() {
    // 3x3 image 1..9, 3x3 window, stride 1, SAME: corners average 4
    // elements, edges 6, the centre 9.
    let y = unary(Op::AveragePool2d(Pool2dOptions::new(Padding::Same, 3, 3, 1, 1)), &[1, 3, 3, 1], seq(9));
    assert_eq!(y.shape, [1, 3, 3, 1]);
    assert_eq!(y.to_f32(), [3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0]);
}

#[test]
fn average_pool_valid_per_channel_with_relu() {
    let o = Pool2dOptions::new(Padding::Valid, 2, 2, 2, 2).with_activation(Activation::Relu);
    // Two channels: c0 = 1..4, c1 = -(1..4).
    let x = vec![1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0, -4.0];
    let y = unary(Op::AveragePool2d(o), &[1, 2, 2, 2], x);
    assert_eq!(y.shape, [1, 1, 1, 2]);
    assert_eq!(y.to_f32(), [2.5, 0.0]);
}

// ---------------------------------------------------------------------------
// MEAN, RESHAPE, TRANSPOSE, CONCATENATION, PAD
// ---------------------------------------------------------------------------

#[test]
fn mean_with_keep_dims() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [1, 2, 2, 2]);
        let y = g.mean(x, &[1, 2], true)?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![1, 2, 2, 2], seq(8))]);
    assert_eq!(y.shape, [1, 1, 1, 2]);
    assert_eq!(y.to_f32(), [4.0, 5.0]);
}

#[test]
fn mean_with_negative_axes_drops_dims() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [2, 3, 2]);
        let y = g.mean(x, &[-1, 1], false)?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![2, 3, 2], seq(12))]);
    assert_eq!(y.shape, [2]);
    assert_eq!(y.to_f32(), [3.5, 9.5]);
}

#[test]
fn reshape_infers_minus_one() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [2, 3, 4]);
        let y = g.reshape(x, &[-1, 4])?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![2, 3, 4], seq(24))]);
    assert_eq!(y.shape, [6, 4]);
    assert_eq!(y.to_f32(), seq(24));
}

#[test]
fn reshape_from_the_new_shape_option() {
    let y = unary(Op::Reshape { new_shape: Some(vec![3, -1]) }, &[2, 3], seq(6));
    assert_eq!(y.shape, [3, 2]);
    assert_eq!(y.to_f32(), seq(6));
}

#[test]
fn reshape_takes_a_computed_shape_input() {
    // The target shape is an input value, not a constant.
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [2, 3]);
        let s = g.input("shape", DType::I32, [2]);
        // The builder cannot infer this output, so the node is added by hand.
        let y = g.add_tensor(Tensor::new("y", DType::F32, Shape::from_dims(vec![Dim::Dynamic, Dim::Dynamic])));
        g.add_operator(Operator::new(Op::Reshape { new_shape: None }, &[x, s], &[y]))?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![2, 3], seq(6)), Value::from_i32(vec![2], vec![3, 2])]);
    assert_eq!(y.shape, [3, 2]);
    let err = Evaluator::new(&m).run(0, &[Value::from_f32(vec![2, 3], seq(6)), Value::from_i32(vec![2], vec![4, 2])]).unwrap_err();
    assert!(matches!(err.root(), EvalError::Shape { .. }), "{err}");
}

#[test]
fn transpose_permutes_dims() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [2, 3]);
        let y = g.transpose(x, &[1, 0])?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![2, 3], seq(6))]);
    assert_eq!(y.shape, [3, 2]);
    assert_eq!(y.to_f32(), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);

    // NCHW -> NHWC on [1, 2, 2, 2].
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [1, 2, 2, 2]);
        let y = g.transpose(x, &[0, 2, 3, 1])?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![1, 2, 2, 2], seq(8))]);
    assert_eq!(y.shape, [1, 2, 2, 2]);
    assert_eq!(y.to_f32(), [1.0, 5.0, 2.0, 6.0, 3.0, 7.0, 4.0, 8.0]);
}

#[test]
fn concatenation_with_negative_axis() {
    let m = model_of(|g| {
        let a = g.input("a", DType::F32, [2, 1]);
        let b = g.input("b", DType::F32, [2, 2]);
        let y = g.concatenation(&[a, b], -1)?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![2, 1], vec![1.0, 2.0]), Value::from_f32(vec![2, 2], vec![3.0, 4.0, 5.0, 6.0])]);
    assert_eq!(y.shape, [2, 3]);
    assert_eq!(y.to_f32(), [1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
}

#[test]
fn concatenation_along_axis_0_with_a_constant() {
    let m = model_of(|g| {
        let a = g.input("a", DType::F32, [1, 2]);
        let c = g.constant_f32("c", [2, 2], &[7.0, 8.0, 9.0, 10.0]);
        let y = g.apply(Op::Concatenation(ConcatenationOptions::new(0)), &[Some(a), Some(c)])?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![1, 2], vec![1.0, 2.0])]);
    assert_eq!(y.shape, [3, 2]);
    assert_eq!(y.to_f32(), [1.0, 2.0, 7.0, 8.0, 9.0, 10.0]);
}

#[test]
fn pad_with_zeros() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [2, 2]);
        let y = g.pad(x, &[(1, 0), (0, 2)])?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_f32(vec![2, 2], seq(4))]);
    assert_eq!(y.shape, [3, 4]);
    assert_eq!(y.to_f32(), [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0]);
}

#[test]
fn pad_quantized_uses_the_zero_point() {
    let m = model_of(|g| {
        let x = g.input("x", DType::I8, [1, 2]);
        g.set_quantization(x, Quantization::per_tensor(0.5, -5));
        let y = g.pad(x, &[(0, 0), (1, 1)])?;
        g.output("y", y);
        Ok(())
    });
    let y = run1(&m, &[Value::from_i8(vec![1, 2], vec![10, -20])]);
    assert_eq!(y.dtype, DType::I8);
    assert_eq!(y.data, [-5.0, 10.0, -20.0, -5.0]);
}

// ---------------------------------------------------------------------------
// Activations
// ---------------------------------------------------------------------------

#[test]
fn softmax_with_beta() {
    let y = unary(Op::Softmax { beta: 0.5 }, &[2, 3], vec![0.0, 2.0, 4.0, 1.0, 1.0, 1.0]);
    let z = 1.0 + 1f64.exp() + 2f64.exp();
    let expected = [1.0 / z, 1f64.exp() / z, 2f64.exp() / z, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0];
    assert_close(&y.data, &expected, 1e-7);
}

#[test]
fn logistic() {
    let y = unary(Op::Logistic, &[3], vec![0.0, 2.0, -2.0]);
    let s = 1.0 / (1.0 + (-2f64).exp());
    assert_close(&y.data, &[0.5, s, 1.0 - s], 1e-7);
}

#[test]
fn relu() {
    assert_eq!(unary(Op::Relu, &[4], vec![-1.0, 0.0, 2.5, 7.0]).to_f32(), [0.0, 0.0, 2.5, 7.0]);
}

#[test]
fn relu6() {
    assert_eq!(unary(Op::Relu6, &[4], vec![-1.0, 0.0, 2.5, 7.0]).to_f32(), [0.0, 0.0, 2.5, 6.0]);
}

#[test]
fn hard_swish() {
    // x * relu6(x + 3) / 6
    let y = unary(Op::HardSwish, &[5], vec![-4.0, -3.0, -1.0, 1.0, 4.0]);
    assert_close(&y.data, &[0.0, 0.0, -1.0 / 3.0, 2.0 / 3.0, 4.0], 1e-7);
}

#[test]
fn tanh() {
    let y = unary(Op::Tanh, &[3], vec![0.0, 1.0, -0.5]);
    assert_close(&y.data, &[0.0, 1f64.tanh(), (-0.5f64).tanh()], 1e-7);
}

// ---------------------------------------------------------------------------
// QUANTIZE, DEQUANTIZE and int8 kernels
// ---------------------------------------------------------------------------

#[test]
fn quantize_rounds_half_away_from_zero_and_clamps() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [6]);
        let q = g.quantize(x, DType::I8, Quantization::per_tensor(0.5, 1))?;
        g.output("q", q);
        Ok(())
    });
    // x / 0.5 = 1.5 -> 2, -1.5 -> -2, 0.5 -> 1, -0.5 -> -1; then + 1.
    let y = run1(&m, &[Value::from_f32(vec![6], vec![0.75, -0.75, 0.25, -0.25, 100.0, -100.0])]);
    assert_eq!(y.dtype, DType::I8);
    assert_eq!(y.data, [3.0, -1.0, 2.0, 0.0, 127.0, -128.0]);
}

#[test]
fn requantize_int8_to_uint8_and_dequantize() {
    let m = model_of(|g| {
        let x = g.input("x", DType::I8, [4]);
        g.set_quantization(x, Quantization::per_tensor(0.1, 0));
        let u = g.quantize(x, DType::U8, Quantization::per_tensor(0.2, 128))?;
        let d = g.dequantize(u)?;
        g.output("u", u);
        g.output("d", d);
        Ok(())
    });
    let out = run(&m, &[Value::from_i8(vec![4], vec![-128, -1, 3, 127])]);
    // Reals -12.8, -0.1, 0.3, 12.7 -> /0.2 = -64, -0.5, 1.5, 63.5 -> round + 128.
    assert_eq!(out[0].dtype, DType::U8);
    assert_eq!(out[0].data, [64.0, 127.0, 130.0, 192.0]);
    assert_eq!(out[1].dtype, DType::F32);
    assert_close(&out[1].data, &[-12.8, -0.2, 0.4, 12.8], 1e-6);
}

#[test]
fn dequantize_per_axis_int8_constant() {
    let m = model_of(|g| {
        let c = g.constant("c", DType::I8, [2, 2], ConstData::from_slice(&[1i8, -2, 3, 4]));
        g.set_quantization(c, Quantization::per_axis(vec![0.5, 2.0], vec![0, 1], 0));
        let d = g.dequantize(c)?;
        g.output("d", d);
        Ok(())
    });
    let y = run1(&m, &[]);
    // Row 0: scale 0.5, zero 0; row 1: scale 2, zero 1.
    assert_eq!(y.to_f32(), [0.5, -1.0, 4.0, 6.0]);
}

#[test]
fn dequantize_float16_constant() {
    let halves: Vec<f16> = [1.5f32, -0.1, 65504.0].iter().map(|v| f16::from_f32(*v)).collect();
    let m = model_of(|g| {
        let c = g.constant("c", DType::F16, [3], ConstData::from_slice(&halves));
        let d = g.dequantize(c)?;
        g.output("d", d);
        Ok(())
    });
    let y = run1(&m, &[]);
    assert_eq!(y.dtype, DType::F32);
    let expected: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
    assert_eq!(y.to_f32(), expected);
}

#[test]
fn int8_conv_with_per_channel_weights_is_within_one_step_of_float() {
    let mut r = Rng::new(42);
    let (cin, cout, k) = (3usize, 4usize, 3usize);
    let (in_scale, in_zero) = (0.05f32, -3i64);
    let out_scale = 0.1f32;
    let out_zero = -10i64;

    let wf = r.vec(cout * k * k * cin, 0.5);
    let (wq, ws) = quantize_weights(&wf, cout, false);
    let bf = r.vec(cout, 0.5);
    let bscale: Vec<f32> = ws.iter().map(|s| s * in_scale).collect();
    let bq: Vec<i32> = bf.iter().zip(&bscale).map(|(b, s)| (b / s).round() as i32).collect();
    let xq: Vec<i8> = (0..5 * 5 * cin).map(|_| (r.below(256) as i64 - 128) as i8).collect();
    let shape4 = |a: usize, b: usize, c: usize, d: usize| [a as u32, b as u32, c as u32, d as u32];

    let qmodel = model_of(|g| {
        let x = g.input("x", DType::I8, shape4(1, 5, 5, cin));
        g.set_quantization(x, Quantization::per_tensor(in_scale, in_zero));
        let w = g.constant("w", DType::I8, shape4(cout, k, k, cin), ConstData::from_slice(&wq));
        g.set_quantization(w, Quantization::per_axis(ws.clone(), vec![0; cout], 0));
        let b = g.constant("b", DType::I32, [cout as u32], ConstData::from_slice(&bq));
        g.set_quantization(b, Quantization::per_axis(bscale.clone(), vec![0; cout], 0));
        let y = g.conv2d(x, w, Some(b), Conv2dOptions::new(Padding::Same, 1, 1))?;
        g.set_quantization(y, Quantization::per_tensor(out_scale, out_zero));
        g.output("y", y);
        Ok(())
    });
    // The same computation in float: dequantized weights, bias and input.
    let wdq: Vec<f32> = wq.iter().enumerate().map(|(i, q)| f32::from(*q) * ws[i / (k * k * cin)]).collect();
    let bdq: Vec<f32> = bq.iter().zip(&bscale).map(|(q, s)| *q as f32 * s).collect();
    let xdq: Vec<f32> = xq.iter().map(|q| (f32::from(*q) - in_zero as f32) * in_scale).collect();
    let fmodel = conv_model([1, 5, 5, cin], &wdq, [cout, k, k, cin], &bdq, Conv2dOptions::new(Padding::Same, 1, 1));

    let yq = run1(&qmodel, &[Value::from_i8(vec![1, 5, 5, cin], xq)]);
    let yf = run1(&fmodel, &[Value::from_f32(vec![1, 5, 5, cin], xdq)]);
    assert_eq!(yq.dtype, DType::I8);
    assert_eq!(yq.shape, yf.shape);
    let real = yq.dequantized().expect("dequantize");
    let mut clamped = 0;
    for (q, f) in real.iter().zip(&yf.data) {
        let representable = (-128.0 - out_zero as f64) * f64::from(out_scale)..=(127.0 - out_zero as f64) * f64::from(out_scale);
        if representable.contains(f) {
            assert!((q - f).abs() <= f64::from(out_scale), "int8 {q} vs float {f}");
        } else {
            clamped += 1;
        }
    }
    assert!(clamped < real.len() / 10, "the output range should cover most values");
}

#[test]
fn int8_add_requantizes_to_the_output_params() {
    let m = model_of(|g| {
        let a = g.input("a", DType::I8, [3]);
        g.set_quantization(a, Quantization::per_tensor(0.5, 0));
        let b = g.input("b", DType::I8, [3]);
        g.set_quantization(b, Quantization::per_tensor(0.25, 4));
        let y = g.add(a, b)?;
        g.set_quantization(y, Quantization::per_tensor(1.0, -1));
        g.output("y", y);
        Ok(())
    });
    // a = 1, -2, 60; b = (8-4)/4 = 1, (-4-4)/4 = -2, (127-4)/4 = 30.75.
    let y = run1(&m, &[Value::from_i8(vec![3], vec![2, -4, 120]), Value::from_i8(vec![3], vec![8, -4, 127])]);
    // Sums 2, -4, 90.75 -> round + (-1) = 1, -5, 90.
    assert_eq!(y.data, [1.0, -5.0, 90.0]);
}

// ---------------------------------------------------------------------------
// Graphs
// ---------------------------------------------------------------------------

/// A conv, mean, fc, softmax graph with a dynamic batch.
fn dynamic_batch_model() -> Model {
    let mut r = Rng::new(5);
    model_of(|g| {
        let shape = Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(6), Dim::Fixed(6), Dim::Fixed(2)]);
        let x = g.input("x", DType::F32, shape);
        let w = g.constant_f32("w", [4, 3, 3, 2], &r.vec(72, 0.5));
        let c = g.conv2d(x, w, None, Conv2dOptions::new(Padding::Same, 2, 2).with_activation(Activation::Relu))?;
        let m = g.mean(c, &[1, 2], false)?;
        let fw = g.constant_f32("fw", [3, 4], &r.vec(12, 1.0));
        let f = g.fully_connected(m, fw, None, FullyConnectedOptions::default())?;
        let s = g.softmax(f, 1.0)?;
        g.output("y", s);
        Ok(())
    })
}

#[test]
fn dynamic_batch_runs_with_batch_3() {
    let m = dynamic_batch_model();
    let mut r = Rng::new(6);
    let x = r.vec(3 * 72, 1.0);
    let y = run1(&m, &[Value::from_f32(vec![3, 6, 6, 2], x.clone())]);
    assert_eq!(y.shape, [3, 3]);
    for (b, sample) in x.chunks(72).enumerate() {
        let one = run1(&m, &[Value::from_f32(vec![1, 6, 6, 2], sample.to_vec())]);
        assert_eq!(one.shape, [1, 3]);
        assert_eq!(one.data, y.data[b * 3..b * 3 + 3], "batch row {b}");
    }
}

#[test]
fn resnet_like_gives_probabilities() {
    let model = resnet_like(40, Dim::Fixed(1));
    let x = Value::from_f32(vec![1, 16, 16, 3], Rng::new(1).vec(16 * 16 * 3, 1.0));
    let y = run1(&model, &[x]);
    assert_eq!(y.shape, [1, 10]);
    assert!(y.data.iter().all(|p| p.is_finite() && *p >= 0.0));
    let sum: f64 = y.data.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5, "sum {sum}");
}

#[test]
fn resnet_like_with_dynamic_batch_3() {
    let model = resnet_like(41, Dim::Dynamic);
    let x = Value::from_f32(vec![3, 16, 16, 3], Rng::new(2).vec(3 * 16 * 16 * 3, 1.0));
    let y = run1(&model, &[x]);
    assert_eq!(y.shape, [3, 10]);
    for row in y.data.chunks(10) {
        assert!(row.iter().all(|p| p.is_finite()));
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn run_observed_sees_every_op_output() {
    let model = resnet_like(40, Dim::Fixed(1));
    let x = Value::from_f32(vec![1, 16, 16, 3], Rng::new(1).vec(16 * 16 * 3, 1.0));
    let mut seen = Vec::new();
    let out = Evaluator::new(&model)
        .run_observed(0, &[x], &mut |op, k, v| seen.push((op, k, v.clone())))
        .expect("evaluation succeeds");
    let ops = model.subgraphs[0].operators.len();
    assert_eq!(seen.iter().map(|(op, k, _)| (*op, *k)).collect::<Vec<_>>(), (0..ops).map(|i| (i, 0)).collect::<Vec<_>>());
    // The stem conv keeps the spatial size; the last op is the output.
    assert_eq!(seen[0].2.shape, [1, 16, 16, 8]);
    assert_eq!(seen.last().map(|s| &s.2), out.first());
}

#[test]
fn eval_op_folds_constants() {
    let a = Tensor::new("a", DType::F32, Shape::new([2])).with_data(ConstData::from_slice(&[1.5f32, -2.0]));
    let b = Tensor::new("b", DType::I8, Shape::new([2]))
        .with_data(ConstData::from_slice(&[4i8, 8]))
        .with_quantization(Quantization::per_tensor(0.25, 0));
    let (va, vb) = (Value::from_const(&a).expect("a"), Value::from_const(&b).expect("b"));
    let out = Tensor::new("sum", DType::F32, Shape::new([2]));
    let folded = eval_op(&Op::Mul(Activation::None), &[Some(&va), Some(&vb)], &[&out]).expect("folds");
    // 1.5 * 1 and -2 * 2 (b dequantized).
    assert_eq!(folded[0].to_f32(), [1.5, -4.0]);
}

#[test]
fn from_const_decodes_each_type() {
    let t = |dtype, n: u32, data: ConstData| Tensor::new("c", dtype, Shape::new([n])).with_data(data);
    let cases: Vec<(Tensor, Vec<f64>)> = vec![
        (t(DType::F32, 2, ConstData::from_slice(&[0.5f32, -1.0])), vec![0.5, -1.0]),
        (t(DType::F16, 1, ConstData::from_slice(&[f16::from_f32(0.25)])), vec![0.25]),
        (t(DType::I8, 2, ConstData::from_slice(&[-128i8, 127])), vec![-128.0, 127.0]),
        (t(DType::U8, 2, ConstData::from_slice(&[0u8, 255])), vec![0.0, 255.0]),
        (t(DType::I16, 1, ConstData::from_slice(&[-30000i16])), vec![-30000.0]),
        (t(DType::I32, 1, ConstData::from_slice(&[-70000i32])), vec![-70000.0]),
        (t(DType::I64, 1, ConstData::from_slice(&[1i64 << 40])), vec![(1u64 << 40) as f64]),
        (t(DType::Bool, 3, ConstData::from_slice(&[0u8, 1, 7])), vec![0.0, 1.0, 1.0]),
    ];
    for (tensor, expected) in cases {
        let v = Value::from_const(&tensor).expect("decodes");
        assert_eq!(v.data, expected, "{}", tensor.dtype);
        assert_eq!(v.dtype, tensor.dtype);
    }
    let wrong_size = t(DType::F32, 3, ConstData::from_slice(&[1.0f32, 2.0]));
    assert!(matches!(Value::from_const(&wrong_size), Err(EvalError::Graph { .. })));
    let string = t(DType::String, 1, ConstData::from_slice(&[0u8; 8]));
    assert!(matches!(Value::from_const(&string), Err(EvalError::Unsupported { .. })));
    let no_data = Tensor::new("x", DType::F32, Shape::new([1]));
    assert!(Value::from_const(&no_data).is_err());
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn wrong_number_of_inputs() {
    let m = binary_model(Op::Add(AddSubOptions::default()), &[2], &[2]);
    let err = Evaluator::new(&m).run(0, &[Value::from_f32(vec![2], vec![1.0, 2.0])]).unwrap_err();
    assert!(matches!(err, EvalError::Input { .. }), "{err}");
    let err = Evaluator::new(&m).run(1, &[]).unwrap_err();
    assert!(matches!(err, EvalError::Input { .. }), "{err}");
}

#[test]
fn inputs_must_match_type_and_fixed_dims() {
    let m = dynamic_batch_model();
    let ev = Evaluator::new(&m);
    let wrong_dim = ev.run(0, &[Value::from_f32(vec![3, 7, 6, 2], vec![0.0; 3 * 7 * 6 * 2])]).unwrap_err();
    assert!(matches!(wrong_dim, EvalError::Input { .. }), "{wrong_dim}");
    let wrong_rank = ev.run(0, &[Value::from_f32(vec![6, 6, 2], vec![0.0; 72])]).unwrap_err();
    assert!(matches!(wrong_rank, EvalError::Input { .. }), "{wrong_rank}");
    let wrong_type = ev.run(0, &[Value::from_i32(vec![1, 6, 6, 2], vec![0; 72])]).unwrap_err();
    assert!(matches!(wrong_type, EvalError::Input { .. }), "{wrong_type}");
    let wrong_len = ev.run(0, &[Value::from_f32(vec![1, 6, 6, 2], vec![0.0; 71])]).unwrap_err();
    assert!(matches!(wrong_len, EvalError::Input { .. }), "{wrong_len}");
}

#[test]
fn element_limit() {
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [1, 4]);
        let y = g.pad(x, &[(0, 0), (0, 100)])?;
        g.output("y", y);
        Ok(())
    });
    let x = Value::from_f32(vec![1, 4], seq(4));
    // The op output is over the limit: reported at the operator.
    let err = Evaluator::new(&m).with_max_elements(50).run(0, std::slice::from_ref(&x)).unwrap_err();
    assert!(matches!(err.root(), EvalError::Limit { .. }), "{err}");
    assert!(matches!(err, EvalError::At { .. }), "{err}");
    // The input itself is over the limit.
    let err = Evaluator::new(&m).with_max_elements(3).run(0, std::slice::from_ref(&x)).unwrap_err();
    assert!(matches!(err, EvalError::Limit { .. }), "{err}");
    assert_eq!(run1(&m, &[x]).shape, [1, 104]);

    // The default limit stops a 2^40-element PAD before allocating.
    let huge = model_of(|g| {
        let x = g.input("x", DType::F32, [1, 1]);
        let y = g.pad(x, &[(0, 1 << 20), (0, 1 << 20)])?;
        g.output("y", y);
        Ok(())
    });
    let err = Evaluator::new(&huge).run(0, &[Value::from_f32(vec![1, 1], vec![1.0])]).unwrap_err();
    assert!(matches!(err.root(), EvalError::Limit { .. }), "{err}");
}

#[test]
fn unsupported_ops_and_activations() {
    let x = Value::from_f32(vec![2], vec![1.0, 2.0]);
    let out = Tensor::new("y", DType::F32, Shape::new([2]));
    let custom = Op::Custom(CustomOp::new("MyOp", Vec::new()));
    match eval_op(&custom, &[Some(&x)], &[&out]) {
        Err(EvalError::Unsupported { op, .. }) => assert_eq!(op, "MyOp"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let fused_tanh = Op::Add(AddSubOptions::default().with_activation(Activation::Tanh));
    let err = eval_op(&fused_tanh, &[Some(&x), Some(&x)], &[&out]).unwrap_err();
    assert!(matches!(err, EvalError::Unsupported { .. }), "{err}");
    let sign_bit = Op::Mul(Activation::SignBit);
    assert!(matches!(eval_op(&sign_bit, &[Some(&x), Some(&x)], &[&out]), Err(EvalError::Unsupported { .. })));
}

#[test]
fn eval_op_rejects_malformed_operands() {
    let out = Tensor::new("y", DType::F32, Shape::new([2]));
    // Fewer elements than the shape says.
    let short = Value::from_f32(vec![2, 2], vec![1.0]);
    assert!(matches!(eval_op(&Op::Relu, &[Some(&short)], &[&out]), Err(EvalError::Shape { .. })));
    // Missing operand, wrong operand count, no output tensor.
    let x = Value::from_f32(vec![2], vec![1.0, 2.0]);
    assert!(eval_op(&Op::Conv2d(Conv2dOptions::default()), &[None, Some(&x)], &[&out]).is_err());
    assert!(eval_op(&Op::Relu, &[Some(&x), Some(&x)], &[&out]).is_err());
    assert!(eval_op(&Op::Relu, &[Some(&x)], &[]).is_err());
    // A quantized output without parameters.
    let q = Tensor::new("q", DType::I8, Shape::new([2]));
    assert!(matches!(eval_op(&Op::Quantize, &[Some(&x)], &[&q]), Err(EvalError::Quantization { .. })));
    // Per-axis parameters that do not fit the shape.
    let bad = Value::from_i8(vec![2], vec![1, 2]).with_quantization(Quantization::per_axis(vec![0.1, 0.2, 0.3], vec![0, 0, 0], 0));
    assert!(matches!(eval_op(&Op::Dequantize, &[Some(&bad)], &[&out]), Err(EvalError::Quantization { .. })));
    // Zero strides from a hand-made op.
    let w = Value::from_f32(vec![1, 1, 1, 1], vec![1.0]);
    let img = Value::from_f32(vec![1, 2, 2, 1], vec![1.0; 4]);
    let zero_stride = Op::Conv2d(Conv2dOptions::new(Padding::Same, 0, 1));
    assert!(matches!(eval_op(&zero_stride, &[Some(&img), Some(&w), None], &[&out]), Err(EvalError::Shape { .. })));
    // An input without channels.
    let empty = Value::from_f32(vec![1, 2, 2, 0], Vec::new());
    let conv = Op::Conv2d(Conv2dOptions::default());
    assert!(matches!(eval_op(&conv, &[Some(&empty), Some(&w), None], &[&out]), Err(EvalError::Shape { .. })));
}

// ---------------------------------------------------------------------------
// Performance
// ---------------------------------------------------------------------------

/// A ResNet-18 sized conv: 1x56x56x64 input, 64x3x3x64 filter. Run with
/// `cargo test --release --test eval -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release mode"]
fn resnet18_sized_conv_timing() {
    let mut r = Rng::new(9);
    let w = r.vec(64 * 3 * 3 * 64, 0.1);
    let b = r.vec(64, 0.1);
    let m = conv_model([1, 56, 56, 64], &w, [64, 3, 3, 64], &b, Conv2dOptions::new(Padding::Same, 1, 1).with_activation(Activation::Relu));
    let x = Value::from_f32(vec![1, 56, 56, 64], r.vec(56 * 56 * 64, 1.0));
    let ev = Evaluator::new(&m);
    let start = Instant::now();
    let y = ev.run(0, &[x]).expect("runs");
    let elapsed = start.elapsed();
    assert_eq!(y[0].shape, [1, 56, 56, 64]);
    println!("1x56x56x64 * 64x3x3x64 conv: {elapsed:?}");
    if !cfg!(debug_assertions) {
        assert!(elapsed.as_secs_f64() < 1.0, "took {elapsed:?}");
    }
}

// ---------------------------------------------------------------------------
// Files made by TensorFlow's converter
// ---------------------------------------------------------------------------

/// Reads `tests/fixtures/tf/{name}.tflite`.
fn tf_fixture(name: &str) -> Model {
    let path = format!("{}/tests/fixtures/tf/{name}.tflite", env!("CARGO_MANIFEST_DIR"));
    tflite_forge::read(&std::fs::read(path).expect("fixture exists")).expect("fixture reads")
}

#[test]
fn tf_int8_cnn_tracks_its_fp32_twin() {
    // Both files come from the same Keras model (conv + folded BN + relu,
    // max pool, depthwise + relu6, 1x1 conv, mean, dense, softmax); the
    // full-integer one, evaluated with requantization after every op, stays
    // within a few output steps of the float one.
    let (fp, q) = (tf_fixture("small_cnn_fp32"), tf_fixture("small_cnn_int8"));
    let sg = &q.subgraphs[0];
    let input = &sg.tensors[sg.inputs[0].index()];
    let output = &sg.tensors[sg.outputs[0].index()];
    let in_q = input.quantization.clone().expect("quantized input");
    let out_step = f64::from(output.quantization.as_ref().expect("quantized output").scale[0]);
    let (s, z) = (f64::from(in_q.scale[0]), in_q.zero_point[0] as f64);
    for seed in 1..4 {
        let raw = Rng::new(seed).vec(32 * 32 * 3, 2.0).iter().map(|v| ((f64::from(*v) / s).round() + z).clamp(-128.0, 127.0)).collect();
        let xq = Value::new(DType::I8, vec![1, 32, 32, 3], raw).with_quantization(in_q.clone());
        let xf: Vec<f32> = xq.dequantized().expect("dequantize").iter().map(|v| *v as f32).collect();
        let yq = run1(&q, &[xq]);
        let yf = run1(&fp, &[Value::from_f32(vec![1, 32, 32, 3], xf)]);
        assert_eq!((yq.dtype, &yq.shape), (DType::I8, &yf.shape));
        let real = yq.dequantized().expect("dequantize");
        let worst = real.iter().zip(&yf.data).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 3.0 * out_step, "seed {seed}: int8 is {} steps off", worst / out_step);
    }
}

#[test]
fn tf_dynamic_batch_file_runs_with_batch_3() {
    let m = tf_fixture("dynamic_batch_fp32");
    let sg = &m.subgraphs[0];
    assert_eq!(sg.tensors[sg.inputs[0].index()].shape.dim(0), Some(Dim::Dynamic));
    let x = Rng::new(8).vec(3 * 8, 1.0);
    let y = run1(&m, &[Value::from_f32(vec![3, 8], x.clone())]);
    assert_eq!(y.shape, [3, 4]);
    for (b, row) in x.chunks(8).enumerate() {
        let one = run1(&m, &[Value::from_f32(vec![1, 8], row.to_vec())]);
        assert_eq!(one.data, y.data[b * 4..b * 4 + 4], "batch row {b}");
    }
}

#[test]
fn tf_files_give_values_or_errors() {
    // Every converter file evaluates, or fails with a typed error (some hold
    // ops without a reference kernel, such as RESIZE_BILINEAR).
    for name in ["resblock_fp32", "mlp_act_fp32", "misc_ops_fp32", "misc_ops_uint8", "multi_io_fp32", "multi_io_int8_floatio"] {
        let m = tf_fixture(name);
        let sg = &m.subgraphs[0];
        let mut r = Rng::new(4);
        let inputs: Vec<Value> = sg
            .inputs
            .iter()
            .map(|id| {
                let t = &sg.tensors[id.index()];
                let shape: Vec<usize> = t.shape.dims().iter().map(|d| d.fixed().unwrap_or(1) as usize).collect();
                let n = shape.iter().product();
                let data = match t.dtype {
                    DType::U8 => (0..n).map(|_| r.below(256) as f64).collect(),
                    DType::I8 => (0..n).map(|_| r.below(256) as f64 - 128.0).collect(),
                    _ => r.vec(n, 1.0).into_iter().map(f64::from).collect(),
                };
                Value::new(t.dtype, shape, data)
            })
            .collect();
        match Evaluator::new(&m).run(0, &inputs) {
            Ok(out) => assert!(out.iter().all(|v| v.data.iter().all(|x| x.is_finite())), "{name}"),
            Err(e) => assert!(matches!(e.root(), EvalError::Unsupported { .. }), "{name}: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Ops beyond the CNN set
// ---------------------------------------------------------------------------

mod extra_ops {
    use super::*;
    use tflite_forge::{
        BatchMatMulOptions, GatherOptions, MirrorPadMode, ResizeOptions, StridedSliceOptions, TransposeConvOptions,
    };

    fn f32_out(shape: &[u32]) -> Tensor {
        Tensor::new("y", DType::F32, Shape::new(shape.iter().copied()))
    }

    /// Runs one op through `eval_op` on float operands.
    fn op1(op: Op, inputs: &[Value], out: &[u32]) -> Value {
        let ins: Vec<Option<&Value>> = inputs.iter().map(Some).collect();
        eval_op(&op, &ins, &[&f32_out(out)]).expect("evaluation succeeds").remove(0)
    }

    fn ints(v: &[i32]) -> Value {
        Value::from_i32(vec![v.len()], v.to_vec())
    }

    fn typed_out(dtype: DType, shape: &[u32]) -> Tensor {
        Tensor::new("y", dtype, Shape::new(shape.iter().copied()))
    }

    fn eval1(op: Op, inputs: &[&Value], out: Tensor) -> Value {
        let ins: Vec<Option<&Value>> = inputs.iter().copied().map(Some).collect();
        eval_op(&op, &ins, &[&out]).expect("evaluation succeeds").remove(0)
    }

    #[test]
    fn comparisons_logic_and_select() {
        let a = Value::from_f32(vec![2, 2], vec![1.0, -2.0, 3.0, 0.5]);
        let b = Value::from_f32(vec![2], vec![1.0, 0.5]);
        let bo = || typed_out(DType::Bool, &[2, 2]);
        assert_eq!(eval1(Op::Equal, &[&a, &b], bo()).data, [1.0, 0.0, 0.0, 1.0]);
        assert_eq!(eval1(Op::NotEqual, &[&a, &b], bo()).data, [0.0, 1.0, 1.0, 0.0]);
        assert_eq!(eval1(Op::Less, &[&a, &b], bo()).data, [0.0, 1.0, 0.0, 0.0]);
        assert_eq!(eval1(Op::LessEqual, &[&a, &b], bo()).data, [1.0, 1.0, 0.0, 1.0]);
        assert_eq!(eval1(Op::Greater, &[&a, &b], bo()).data, [0.0, 0.0, 1.0, 0.0]);
        assert_eq!(eval1(Op::GreaterEqual, &[&a, &b], bo()).data, [1.0, 0.0, 1.0, 1.0]);
        // Mixed operand types are rejected, not coerced.
        let i = Value::from_i32(vec![2], vec![1, 0]);
        assert!(eval_op(&Op::Equal, &[Some(&a), Some(&i)], &[&bo()]).is_err());
        let t = Value::new(DType::Bool, vec![2, 2], vec![1.0, 1.0, 0.0, 0.0]);
        let u = Value::new(DType::Bool, vec![2], vec![1.0, 0.0]);
        assert_eq!(eval1(Op::LogicalAnd, &[&t, &u], bo()).data, [1.0, 0.0, 0.0, 0.0]);
        assert_eq!(eval1(Op::LogicalOr, &[&t, &u], bo()).data, [1.0, 1.0, 1.0, 0.0]);
        assert_eq!(eval1(Op::LogicalNot, &[&u], typed_out(DType::Bool, &[2])).data, [0.0, 1.0]);
        assert!(eval_op(&Op::LogicalNot, &[Some(&b)], &[&typed_out(DType::Bool, &[2])]).is_err());
        // SELECT_V2 broadcasts all three: [2, 1] condition, [2] x, scalar y.
        let c = Value::new(DType::Bool, vec![2, 1], vec![0.0, 1.0]);
        let x = Value::from_f32(vec![2], vec![5.0, 6.0]);
        let y = Value::from_f32(vec![], vec![-1.0]);
        let s = eval1(Op::SelectV2, &[&c, &x, &y], f32_out(&[2, 2]));
        assert_eq!((s.shape.clone(), s.to_f32()), (vec![2, 2], vec![-1.0, -1.0, 5.0, 6.0]));
        // BROADCAST_TO.
        let x = Value::from_f32(vec![2, 1], vec![1.0, 2.0]);
        let b = eval1(Op::BroadcastTo, &[&x, &ints(&[2, 2, 3])], f32_out(&[2, 2, 3]));
        assert_eq!(b.shape, [2, 2, 3]);
        assert_eq!(b.to_f32(), [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
        assert!(eval_op(&Op::BroadcastTo, &[Some(&x), Some(&ints(&[3, 1]))], &[&f32_out(&[3, 1])]).is_err());
    }

    #[test]
    fn pow_floor_mod_log_softmax_and_index_reductions() {
        let x = Value::from_f32(vec![3], vec![2.0, 9.0, -2.0]);
        let e = Value::from_f32(vec![3], vec![3.0, 0.5, 2.0]);
        assert_eq!(op1(Op::Pow, &[x.clone(), e], &[3]).to_f32(), [8.0, 3.0, 4.0]);
        // FLOOR_MOD takes the divisor's sign.
        let i64v = |v: &[i64]| Value::new(DType::I64, vec![v.len()], v.iter().map(|x| *x as f64).collect());
        let m = eval1(Op::FloorMod, &[&i64v(&[-7, 7, -7, 7]), &i64v(&[3, -3, -3, 3])], typed_out(DType::I64, &[4]));
        assert_eq!(m.data, [2.0, -2.0, -1.0, 1.0]);
        assert!(eval_op(&Op::FloorMod, &[Some(&i64v(&[1])), Some(&i64v(&[0]))], &[&typed_out(DType::I64, &[1])]).is_err());
        let fm = op1(Op::FloorMod, &[Value::from_f32(vec![2], vec![-1.5, 1.5]), Value::from_f32(vec![1], vec![1.0])], &[2]);
        assert_eq!(fm.to_f32(), [0.5, 0.5]);
        let ls = op1(Op::LogSoftmax, &[Value::from_f32(vec![1, 2], vec![0.0, 0.0])], &[1, 2]);
        assert_close(&ls.data, &[-(2f64.ln()), -(2f64.ln())], 1e-6);
        // ARG_MAX / ARG_MIN: the first extreme index; the axis is removed.
        let v = Value::from_f32(vec![2, 3], vec![1.0, 5.0, 5.0, 0.0, -1.0, -1.0]);
        let am = eval1(Op::ArgMax { output_type: DType::I64 }, &[&v, &ints(&[1])], typed_out(DType::I64, &[2]));
        assert_eq!((am.dtype, am.shape, am.data), (DType::I64, vec![2], vec![1.0, 0.0]));
        let an = eval1(Op::ArgMin { output_type: DType::I32 }, &[&v, &ints(&[-1])], typed_out(DType::I32, &[2]));
        assert_eq!(an.data, [0.0, 1.0]);
        let a0 = eval1(Op::ArgMax { output_type: DType::I32 }, &[&v, &ints(&[0])], typed_out(DType::I32, &[3]));
        assert_eq!(a0.data, [0.0, 0.0, 0.0]);
        // REDUCE_MIN compares stored numbers; REDUCE_PROD multiplies reals.
        let rmin = op1(Op::ReduceMin { keep_dims: false }, &[v.clone(), ints(&[1])], &[2]);
        assert_eq!(rmin.to_f32(), [1.0, -1.0]);
        let rp = op1(Op::ReduceProd { keep_dims: true }, &[v, ints(&[0])], &[1, 3]);
        assert_eq!((rp.shape.clone(), rp.to_f32()), (vec![1, 3], vec![0.0, -5.0, -5.0]));
        let q = Quantization::per_tensor(0.5, -3);
        let qi = Value::from_i8(vec![3], vec![-10, 4, -12]).with_quantization(q.clone());
        let out = Tensor::new("y", DType::I8, Shape::new([1])).with_quantization(q);
        let y = eval_op(&Op::ReduceMin { keep_dims: true }, &[Some(&qi), Some(&ints(&[0]))], &[&out]).unwrap().remove(0);
        assert_eq!(y.data, [-12.0]);
        // Log, Sin, Cos.
        let x = Value::from_f32(vec![2], vec![1.0, 0.5]);
        assert_close(&op1(Op::Log, &[x.clone()], &[2]).data, &[0.0, 0.5f64.ln()], 1e-6);
        assert_close(&op1(Op::Sin, &[x.clone()], &[2]).data, &[1f64.sin(), 0.5f64.sin()], 1e-6);
        assert_close(&op1(Op::Cos, &[x], &[2]).data, &[1f64.cos(), 0.5f64.cos()], 1e-6);
    }

    #[test]
    fn minimum_maximum_broadcast_and_compare_stored_integers() {
        let a = Value::from_f32(vec![2, 2], vec![1.0, -2.0, 3.0, 0.5]);
        let b = Value::from_f32(vec![2], vec![0.0, 1.0]);
        assert_eq!(op1(Op::Minimum, &[a.clone(), b.clone()], &[2, 2]).to_f32(), [0.0, -2.0, 0.0, 0.5]);
        assert_eq!(op1(Op::Maximum, &[a, b], &[2, 2]).to_f32(), [1.0, 1.0, 3.0, 1.0]);
        // int8: the stored integers are compared and kept.
        let q = Quantization::per_tensor(0.5, -3);
        let a = Value::from_i8(vec![3], vec![-10, 4, 7]).with_quantization(q.clone());
        let b = Value::from_i8(vec![3], vec![0, 0, 9]).with_quantization(q.clone());
        let out = Tensor::new("y", DType::I8, Shape::new([3])).with_quantization(q);
        let y = eval_op(&Op::Maximum, &[Some(&a), Some(&b)], &[&out]).unwrap().remove(0);
        assert_eq!(y.data, [0.0, 4.0, 9.0]);
    }

    #[test]
    fn activations_and_math() {
        let x = Value::from_f32(vec![4], vec![-2.0, -0.5, 0.0, 4.0]);
        assert_eq!(op1(Op::LeakyRelu { alpha: 0.25 }, &[x.clone()], &[4]).to_f32(), [-0.5, -0.125, 0.0, 4.0]);
        assert_eq!(op1(Op::Neg, &[x.clone()], &[4]).to_f32(), [2.0, 0.5, -0.0, -4.0]);
        assert_eq!(op1(Op::Abs, &[x.clone()], &[4]).to_f32(), [2.0, 0.5, 0.0, 4.0]);
        let sq = op1(Op::Sqrt, &[x.clone()], &[4]);
        assert!(sq.data[0].is_nan() && sq.data[3] == 2.0);
        let rs = op1(Op::Rsqrt, &[x.clone()], &[4]);
        assert!(rs.data[2].is_infinite() && rs.data[3] == 0.5);
        assert_close(&op1(Op::Exp, &[x.clone()], &[4]).data, &[(-2.0f32).exp().into(), (-0.5f32).exp().into(), 1.0, 4.0f32.exp().into()], 1e-6);
        // GELU: x Φ(x) and its tanh form.
        let g = op1(Op::Gelu { approximate: false }, &[x.clone()], &[4]);
        assert_close(&g.data, &[-0.045_500_263_896_358_4, -0.154_268_748_829_540_6, 0.0, 3.999_873_312_708_365], 1e-6);
        let t = op1(Op::Gelu { approximate: true }, &[Value::from_f32(vec![1], vec![1.0])], &[1]);
        assert_close(&t.data, &[0.841_191_990_607_477_2], 1e-6);
        // PRELU with per-channel slopes.
        let x = Value::from_f32(vec![2, 2], vec![-1.0, -1.0, 2.0, -4.0]);
        let a = Value::from_f32(vec![2], vec![0.5, 2.0]);
        assert_eq!(op1(Op::Prelu, &[x, a], &[2, 2]).to_f32(), [-0.5, -2.0, 2.0, -8.0]);
    }

    #[test]
    fn cast_truncates_wraps_and_tests_for_nonzero() {
        let x = Value::from_f32(vec![4], vec![-2.7, 0.5, 3.99, 200.0]);
        let to = |d: DType| Tensor::new("y", d, Shape::new([4]));
        let y = eval_op(&Op::Cast(CastOptions::new(DType::F32, DType::I32)), &[Some(&x)], &[&to(DType::I32)]).unwrap().remove(0);
        assert_eq!(y.data, [-2.0, 0.0, 3.0, 200.0]);
        let y = eval_op(&Op::Cast(CastOptions::new(DType::F32, DType::Bool)), &[Some(&x)], &[&to(DType::Bool)]).unwrap().remove(0);
        assert_eq!(y.data, [1.0, 1.0, 1.0, 1.0]);
        let i = Value::from_i32(vec![4], vec![-1, 127, 128, 300]);
        let y = eval_op(&Op::Cast(CastOptions::default()), &[Some(&i)], &[&to(DType::I8)]).unwrap().remove(0);
        assert_eq!(y.data, [-1.0, 127.0, -128.0, 44.0]);
    }

    #[test]
    fn split_v_with_an_inferred_size() {
        let model = model_of(|g| {
            let x = g.input("x", DType::F32, [2, 5]);
            let parts = g.split_v(x, &[1, -1, 2], 1)?;
            assert_eq!(parts.len(), 3);
            for (i, p) in parts.into_iter().enumerate() {
                g.output(&format!("y{i}"), p);
            }
            Ok(())
        });
        let out = run(&model, &[Value::from_f32(vec![2, 5], seq(10))]);
        assert_eq!(out[0].shape, [2, 1]);
        assert_eq!(out[1].to_f32(), [2.0, 3.0, 7.0, 8.0]);
        assert_eq!(out[2].to_f32(), [4.0, 5.0, 9.0, 10.0]);
    }

    #[test]
    fn strided_slice_masks_negative_strides_and_shrink() {
        let x = Value::from_f32(vec![3, 4], seq(12));
        let o = StridedSliceOptions::default().with_begin_mask(0b01);
        let y = op1(Op::StridedSlice(o), &[x.clone(), ints(&[2, -1]), ints(&[2, 0]), ints(&[1, -2])], &[2, 2]);
        assert_eq!((y.shape.clone(), y.to_f32()), (vec![2, 2], vec![4.0, 2.0, 8.0, 6.0]));
        let o = StridedSliceOptions::default().with_shrink_axis_mask(0b01).with_end_mask(0b10);
        let y = op1(Op::StridedSlice(o), &[x.clone(), ints(&[-1, 1]), ints(&[0, 0]), ints(&[1, 1])], &[3]);
        assert_eq!((y.shape.clone(), y.to_f32()), (vec![3], vec![10.0, 11.0, 12.0]));
        // Fewer begin entries than dimensions: the rest is taken whole.
        let y = op1(Op::StridedSlice(StridedSliceOptions::default()), &[x, ints(&[1]), ints(&[3]), ints(&[1])], &[2, 4]);
        assert_eq!(y.to_f32(), seq(12)[4..].to_vec());
    }

    #[test]
    fn slice_gather_and_squeeze() {
        let x = Value::from_f32(vec![3, 4], seq(12));
        let y = op1(Op::Slice, &[x.clone(), ints(&[1, 1]), ints(&[-1, 2])], &[2, 2]);
        assert_eq!(y.to_f32(), [6.0, 7.0, 10.0, 11.0]);
        let bad = eval_op(&Op::Slice, &[Some(&x), Some(&ints(&[2, 0])), Some(&ints(&[2, 1]))], &[&f32_out(&[2, 1])]);
        assert!(matches!(bad, Err(EvalError::Shape { .. })));
        let idx = Value::from_i32(vec![2], vec![3, 0]);
        let y = op1(Op::Gather(GatherOptions::new(1)), &[x.clone(), idx.clone()], &[3, 2]);
        assert_eq!(y.to_f32(), [4.0, 1.0, 8.0, 5.0, 12.0, 9.0]);
        // batch_dims 1: row r takes its own indices.
        let idx2 = Value::from_i32(vec![3, 1], vec![0, 3, 1]);
        let y = op1(Op::Gather(GatherOptions::new(1).with_batch_dims(1)), &[x.clone(), idx2], &[3, 1]);
        assert_eq!(y.to_f32(), [1.0, 8.0, 10.0]);
        let oob = Value::from_i32(vec![1], vec![4]);
        assert!(eval_op(&Op::Gather(GatherOptions::new(1)), &[Some(&x), Some(&oob)], &[&f32_out(&[3, 1])]).is_err());
        let z = Value::from_f32(vec![1, 3, 1], vec![1.0, 2.0, 3.0]);
        assert_eq!(op1(Op::Squeeze { squeeze_dims: vec![] }, &[z.clone()], &[3]).shape, [3]);
        assert_eq!(op1(Op::Squeeze { squeeze_dims: vec![-1] }, &[z.clone()], &[1, 3]).shape, [1, 3]);
        assert!(eval_op(&Op::Squeeze { squeeze_dims: vec![1] }, &[Some(&z)], &[&f32_out(&[1, 1])]).is_err());
    }

    #[test]
    fn resizes_follow_tflite_coordinates() {
        let x = Value::from_f32(vec![1, 2, 2, 1], vec![1.0, 2.0, 3.0, 4.0]);
        let size = ints(&[3, 3]);
        let nn = op1(Op::ResizeNearestNeighbor(ResizeOptions::default()), &[x.clone(), size.clone()], &[1, 3, 3, 1]);
        // floor(y · 2/3): 0, 0, 1
        assert_eq!(nn.to_f32(), [1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0]);
        let nn = op1(Op::ResizeNearestNeighbor(ResizeOptions::default().with_half_pixel_centers(true)), &[x.clone(), size.clone()], &[1, 3, 3, 1]);
        // floor((y + 0.5) · 2/3): 0, 1, 1
        assert_eq!(nn.to_f32(), [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 3.0, 4.0, 4.0]);
        let bl = op1(Op::ResizeBilinear(ResizeOptions::default().with_align_corners(true)), &[x.clone(), size.clone()], &[1, 3, 3, 1]);
        assert_close(&bl.data, &[1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0, 3.5, 4.0], 1e-6);
        let bl = op1(Op::ResizeBilinear(ResizeOptions::default()), &[x.clone(), ints(&[1, 4])], &[1, 1, 4, 1]);
        // x · 2/4 = 0, 0.5, 1, 1.5 (clamped to the last pixel)
        assert_close(&bl.data, &[1.0, 1.5, 2.0, 2.0], 1e-6);
        let both = ResizeOptions::default().with_align_corners(true).with_half_pixel_centers(true);
        assert!(eval_op(&Op::ResizeBilinear(both), &[Some(&x), Some(&size)], &[&f32_out(&[1, 3, 3, 1])]).is_err());
    }

    #[test]
    fn transpose_conv_hand_computed() {
        // One channel, 2×2 input, 2×2 all-ones kernel, stride 2, VALID: each
        // input pixel becomes a 2×2 block.
        let x = Value::from_f32(vec![1, 2, 2, 1], vec![1.0, 2.0, 3.0, 4.0]);
        let w = Value::from_f32(vec![1, 2, 2, 1], vec![1.0; 4]);
        let b = Value::from_f32(vec![1], vec![0.5]);
        let os = ints(&[1, 4, 4, 1]);
        let op = Op::TransposeConv(TransposeConvOptions::new(Padding::Valid, 2, 2));
        let y = op1(op.clone(), &[os, w.clone(), x.clone(), b.clone()], &[1, 4, 4, 1]);
        assert_eq!(y.to_f32(), [1.5, 1.5, 2.5, 2.5, 1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 4.5, 4.5, 3.5, 3.5, 4.5, 4.5]);
        // Stride 1, SAME, 3×3 output... from a 2×2 kernel: pad 0 before,
        // overlapping sums.
        let op = Op::TransposeConv(TransposeConvOptions::new(Padding::Same, 1, 1));
        let y = op1(op, &[ints(&[1, 2, 2, 1]), w.clone(), x.clone()], &[1, 2, 2, 1]);
        // out(y, x) = Σ in(y - ky, x - kx): [1, 3, 4, 10]
        assert_eq!(y.to_f32(), [1.0, 3.0, 4.0, 10.0]);
        // An output shape the input cannot come from is an error.
        let op = Op::TransposeConv(TransposeConvOptions::new(Padding::Valid, 2, 2));
        assert!(eval_op(&op, &[Some(&ints(&[1, 7, 7, 1])), Some(&w), Some(&x)], &[&f32_out(&[1, 7, 7, 1])]).is_err());
    }

    #[test]
    fn batch_matmul_broadcasts_and_transposes() {
        let a = Value::from_f32(vec![2, 1, 2], vec![1.0, 2.0, 3.0, 4.0]);
        let b = Value::from_f32(vec![2, 2], vec![1.0, 0.0, 1.0, 1.0]);
        let y = op1(Op::BatchMatMul(BatchMatMulOptions::default()), &[a.clone(), b.clone()], &[2, 1, 2]);
        assert_eq!(y.to_f32(), [3.0, 2.0, 7.0, 4.0]);
        let y = op1(Op::BatchMatMul(BatchMatMulOptions::default().with_adj_y(true)), &[a, b], &[2, 1, 2]);
        assert_eq!(y.to_f32(), [1.0, 3.0, 3.0, 7.0]);
        let at = Value::from_f32(vec![2, 1], vec![1.0, 2.0]);
        let bt = Value::from_f32(vec![2, 3], seq(6));
        let y = op1(Op::BatchMatMul(BatchMatMulOptions::default().with_adj_x(true)), &[at, bt], &[1, 3]);
        assert_eq!(y.to_f32(), [9.0, 12.0, 15.0]);
    }

    #[test]
    fn reductions_and_paddings() {
        let x = Value::from_f32(vec![2, 3], vec![1.0, 5.0, -2.0, 4.0, 0.5, 3.0]);
        let ax = ints(&[1]);
        assert_eq!(op1(Op::ReduceMax { keep_dims: false }, &[x.clone(), ax.clone()], &[2]).to_f32(), [5.0, 4.0]);
        assert_eq!(op1(Op::Sum { keep_dims: true }, &[x.clone(), ax.clone()], &[2, 1]).to_f32(), [4.0, 7.5]);
        let pads = Value::from_i32(vec![2, 2], vec![1, 0, 0, 2]);
        let c = Value::from_f32(vec![1], vec![9.0]);
        let y = op1(Op::PadV2, &[x.clone(), pads.clone(), c], &[3, 5]);
        assert_eq!(y.to_f32(), [9.0, 9.0, 9.0, 9.0, 9.0, 1.0, 5.0, -2.0, 9.0, 9.0, 4.0, 0.5, 3.0, 9.0, 9.0]);
        let r = Value::from_f32(vec![3], vec![1.0, 2.0, 3.0]);
        let p = Value::from_i32(vec![1, 2], vec![2, 2]);
        assert_eq!(op1(Op::MirrorPad { mode: MirrorPadMode::Reflect }, &[r.clone(), p.clone()], &[7]).to_f32(), [3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]);
        assert_eq!(op1(Op::MirrorPad { mode: MirrorPadMode::Symmetric }, &[r.clone(), p], &[7]).to_f32(), [2.0, 1.0, 1.0, 2.0, 3.0, 3.0, 2.0]);
        let too_far = Value::from_i32(vec![1, 2], vec![3, 0]);
        let err = eval_op(&Op::MirrorPad { mode: MirrorPadMode::Reflect }, &[Some(&r), Some(&too_far)], &[&f32_out(&[6])]);
        assert!(matches!(err, Err(EvalError::Shape { .. })));
        // Quantized PADV2 pads with the stored value.
        let q = Quantization::per_tensor(0.1, 2);
        let xq = Value::from_i8(vec![2], vec![5, 6]).with_quantization(q.clone());
        let cq = Value::from_i8(vec![1], vec![-7]).with_quantization(q.clone());
        let out = Tensor::new("y", DType::I8, Shape::new([3])).with_quantization(q);
        let p1 = Value::from_i32(vec![1, 2], vec![0, 1]);
        let y = eval_op(&Op::PadV2, &[Some(&xq), Some(&p1), Some(&cq)], &[&out]).unwrap().remove(0);
        assert_eq!(y.data, [5.0, 6.0, -7.0]);
    }

    #[test]
    fn new_ops_write_and_read_back_typed() {
        for case in common::extra_op_cases() {
            let bytes = tflite_forge::write(&case.model).expect("writes");
            let back = tflite_forge::read(&bytes).expect("reads");
            assert_eq!(back, case.model, "{}", case.name);
            assert!(back.subgraphs[0].operators.iter().all(|o| !matches!(o.op, Op::Builtin(_))), "{}: an op came back opaque", case.name);
        }
    }
}

/// Complex values: RFFT2D and the ops LiteRT runs on complex64, held as
/// interleaved (real, imaginary) parts.
mod complex_values {
    use super::*;
    use tflite_forge::StridedSliceOptions;

    fn tensor(dtype: DType, shape: &[u32]) -> Tensor {
        Tensor::new("y", dtype, Shape::new(shape.to_vec()))
    }

    fn op1(op: Op, inputs: &[&Value], out: Tensor) -> Result<Value, EvalError> {
        let inputs: Vec<Option<&Value>> = inputs.iter().map(|v| Some(*v)).collect();
        eval_op(&op, &inputs, &[&out]).map(|mut v| v.remove(0))
    }

    /// The 2-D DFT of `x` ([h, w]) cropped or zero-padded to [fh, fw],
    /// columns 0..=fw/2: a direct double sum, independent of the kernel.
    fn naive_rfft2d(x: &[f32], h: usize, w: usize, fh: usize, fw: usize) -> Vec<f64> {
        let mut out = Vec::new();
        for u in 0..fh {
            for v in 0..=fw / 2 {
                let (mut re, mut im) = (0.0, 0.0);
                for i in 0..h.min(fh) {
                    for j in 0..w.min(fw) {
                        let t = -2.0 * std::f64::consts::PI * ((u * i) as f64 / fh as f64 + (v * j) as f64 / fw as f64);
                        re += f64::from(x[i * w + j]) * t.cos();
                        im += f64::from(x[i * w + j]) * t.sin();
                    }
                }
                out.extend([re, im]);
            }
        }
        out
    }

    #[test]
    fn rfft2d_of_a_known_signal_has_its_peaks() {
        // 1 + cos(2π·2j/8) + sin(2π·j/8) + 0.5·(-1)^i on a [2, 8] grid: the
        // spectrum is 16 at (0, 0), 8 at (0, 2), -8i at (0, 1) and 8 at
        // (1, 0), zero elsewhere.
        let x: Vec<f32> = (0..16)
            .map(|k| {
                let (i, j) = (k / 8, (k % 8) as f64);
                let t = 2.0 * std::f64::consts::PI * j / 8.0;
                (1.0 + (2.0 * t).cos() + t.sin() + if i == 0 { 0.5 } else { -0.5 }) as f32
            })
            .collect();
        let model = model_of(|g| {
            let xi = g.input("x", DType::F32, [2, 8]);
            let l = g.constant_i32("fft_length", [2], &[2, 8]);
            let y = g.rfft2d(xi, l)?;
            let (re, im, ab) = (g.real(y)?, g.imag(y)?, g.complex_abs(y)?);
            g.output("y", y);
            g.output("re", re);
            g.output("im", im);
            g.output("abs", ab);
            Ok(())
        });
        let out = run(&model, &[Value::from_f32(vec![2, 8], x)]);
        assert_eq!((out[0].dtype, out[0].shape.as_slice(), out[0].len()), (DType::Complex64, &[2, 5][..], 20));
        let mut want = vec![0.0; 20];
        want[0] = 16.0; // (0, 0) real
        want[3] = -8.0; // (0, 1) imaginary
        want[4] = 8.0; // (0, 2) real
        want[10] = 8.0; // (1, 0) real
        assert_close(&out[0].data, &want, 1e-5);
        let re: Vec<f64> = want.iter().step_by(2).copied().collect();
        let im: Vec<f64> = want.iter().skip(1).step_by(2).copied().collect();
        assert_close(&out[1].data, &re, 1e-5);
        assert_close(&out[2].data, &im, 1e-5);
        let abs: Vec<f64> = re.iter().zip(&im).map(|(a, b)| a.hypot(*b)).collect();
        assert_close(&out[3].data, &abs, 1e-5);
        assert_eq!((out[1].dtype, out[1].shape.as_slice()), (DType::F32, &[2, 5][..]));
    }

    #[test]
    fn rfft2d_crops_and_pads_like_the_direct_sum() {
        let mut r = Rng::new(5);
        let x = r.vec(2 * 3 * 10, 1.0);
        let l = Value::from_i32(vec![2], vec![4, 8]);
        let xv = Value::from_f32(vec![2, 3, 10], x.clone());
        let y = op1(Op::Rfft2d, &[&xv, &l], tensor(DType::Complex64, &[2, 4, 5])).unwrap();
        assert_eq!(y.shape, [2, 4, 5]);
        let mut want = naive_rfft2d(&x[..30], 3, 10, 4, 8);
        want.extend(naive_rfft2d(&x[30..], 3, 10, 4, 8));
        assert_close(&y.data, &want, 1e-5);
    }

    #[test]
    fn complex_mul_cast_and_layout_ops() {
        let a = Value::from_complex64(vec![2, 2], vec![(1.0, 2.0), (3.0, -1.0), (0.0, 1.0), (-2.0, 0.5)]);
        let b = Value::from_complex64(vec![2], vec![(2.0, 0.0), (1.0, 1.0)]);
        let out = tensor(DType::Complex64, &[2, 2]);
        // (1+2i)·2, (3-i)(1+i) = 4+2i, i·2, (-2+0.5i)(1+i) = -2.5-1.5i.
        let y = op1(Op::Mul(Activation::None), &[&a, &b], out.clone()).unwrap();
        assert_eq!(y.data, [2.0, 4.0, 4.0, 2.0, 0.0, 2.0, -2.5, -1.5]);
        assert!(matches!(op1(Op::Mul(Activation::Relu), &[&a, &b], out.clone()), Err(EvalError::Unsupported { .. })));
        // CAST: complex to float keeps the real part; float to complex has
        // a zero imaginary part.
        let re = op1(Op::Cast(CastOptions::default()), &[&a], tensor(DType::F32, &[2, 2])).unwrap();
        assert_eq!(re.data, [1.0, 3.0, 0.0, -2.0]);
        let c = op1(Op::Cast(CastOptions::default()), &[&re], out.clone()).unwrap();
        assert_eq!((c.dtype, c.data.as_slice()), (DType::Complex64, &[1.0, 0.0, 3.0, 0.0, 0.0, 0.0, -2.0, 0.0][..]));
        // Layout ops move whole elements.
        let perm = Value::from_i32(vec![2], vec![1, 0]);
        let t = op1(Op::Transpose, &[&a, &perm], out.clone()).unwrap();
        assert_eq!(t.data, [1.0, 2.0, 0.0, 1.0, 3.0, -1.0, -2.0, 0.5]);
        let shape = Value::from_i32(vec![1], vec![4]);
        let r = op1(Op::Reshape { new_shape: None }, &[&a, &shape], tensor(DType::Complex64, &[4])).unwrap();
        assert_eq!((r.shape.as_slice(), r.data.as_slice()), (&[4][..], a.data.as_slice()));
        let (begin, end, step) = (Value::from_i32(vec![2], vec![0, 1]), Value::from_i32(vec![2], vec![2, 2]), Value::from_i32(vec![2], vec![1, 1]));
        let s = op1(Op::StridedSlice(StridedSliceOptions::default()), &[&a, &begin, &end, &step], tensor(DType::Complex64, &[2, 1])).unwrap();
        assert_eq!((s.shape.as_slice(), s.data.as_slice()), (&[2, 1][..], &[3.0, -1.0, -2.0, 0.5][..]));
        // Ops LiteRT does not run on complex values are typed errors.
        let add = op1(Op::Add(AddSubOptions::default()), &[&a, &a], out.clone());
        assert!(matches!(add, Err(EvalError::Unsupported { .. })), "{add:?}");
    }

    #[test]
    fn complex_constants_and_inputs_round_trip() {
        let parts = [1.5f32, -2.0, 0.25, 8.0];
        let t = Tensor::new("c", DType::Complex64, Shape::new([2])).with_data(ConstData::from_slice(&parts));
        let v = Value::from_const(&t).unwrap();
        assert_eq!((v.shape.as_slice(), v.data.as_slice()), (&[2][..], &[1.5, -2.0, 0.25, 8.0][..]));
        // A complex input goes through IMAG; parts are rounded to f32.
        let model = model_of(|g| {
            let z = g.input("z", DType::Complex64, [2]);
            let y = g.imag(z)?;
            g.output("y", y);
            Ok(())
        });
        let y = run1(&model, &[Value::new(DType::Complex64, vec![2], vec![0.0, 0.1, 1.0, -3.0])]);
        assert_eq!(y.data, [f64::from(0.1f32), -3.0]);
    }

    #[test]
    fn hostile_complex_operands_are_typed_errors() {
        let x = Value::from_f32(vec![2, 4], vec![0.0; 8]);
        let out = tensor(DType::Complex64, &[2, 3]);
        for bad in [vec![3, 4], vec![0, 4], vec![-2, 4], vec![2, 4, 8], vec![4]] {
            let l = Value::from_i32(vec![bad.len()], bad.clone());
            let err = op1(Op::Rfft2d, &[&x, &l], out.clone());
            assert!(matches!(err, Err(EvalError::Shape { .. })), "fft_length {bad:?}: {err:?}");
        }
        let l = Value::from_i32(vec![2], vec![2, 4]);
        let rank1 = Value::from_f32(vec![8], vec![0.0; 8]);
        assert!(matches!(op1(Op::Rfft2d, &[&rank1, &l], out.clone()), Err(EvalError::Shape { .. })));
        // Output lengths beyond the element limit are refused, not allocated.
        let huge = Value::from_i32(vec![2], vec![1 << 30, 1 << 30]);
        assert!(matches!(op1(Op::Rfft2d, &[&x, &huge], out.clone()), Err(EvalError::Limit { .. })));
        // A complex value holding one number per element (the parts
        // missing) is refused by kernels and by the evaluator's inputs.
        let short = Value::new(DType::Complex64, vec![2], vec![1.0, 2.0]);
        assert!(matches!(op1(Op::Real, &[&short], tensor(DType::F32, &[2])), Err(EvalError::Shape { .. })));
        let model = model_of(|g| {
            let z = g.input("z", DType::Complex64, [2]);
            let y = g.real(z)?;
            g.output("y", y);
            Ok(())
        });
        assert!(matches!(Evaluator::new(&model).run(0, &[short]), Err(EvalError::Input { .. })));
        // REAL of a real value, and a complex constant with a wrong byte
        // count.
        assert!(matches!(op1(Op::Real, &[&x], tensor(DType::F32, &[2, 4])), Err(EvalError::Unsupported { .. })));
        let t = Tensor::new("c", DType::Complex64, Shape::new([2])).with_data(ConstData::from_slice(&[1.0f32, 2.0, 3.0]));
        assert!(matches!(Value::from_const(&t), Err(EvalError::Graph { .. })));
    }
}
