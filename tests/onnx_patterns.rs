//! ONNX-level rewrites: BatchNormalization folded into Gemm, and the Erf
//! form of GELU fused into one GELU op.

mod common;
#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions};

fn ops(m: &tflite_forge::Model) -> Vec<&str> {
    m.subgraphs[0].operators.iter().map(|o| o.op.name()).collect()
}

fn run(m: &tflite_forge::Model, shape: Vec<usize>, x: Vec<f32>) -> Vec<f32> {
    Evaluator::new(m).run(0, &[Value::from_f32(shape, x)]).unwrap()[0].to_f32()
}

#[test]
fn batchnorm_after_gemm_folds_into_fully_connected() {
    for trans_b in [0, 1] {
        let mut r = common::Rng::new(4 + trans_b as u64);
        let (k, n) = (3usize, 4usize);
        let bmat = r.vec(k * n, 1.0);
        let c = r.vec(n, 1.0);
        let (gamma, beta, mean, var) = (r.vec(n, 0.5), r.vec(n, 0.5), r.vec(n, 0.5), r.vec(n, 0.3).iter().map(|v| 1.0 + v).collect::<Vec<_>>());
        let mut b = OnnxBuilder::new(13);
        let x = b.input("x", FLOAT, &[Some(2), Some(k as i64)]);
        let dims: [i64; 2] = if trans_b == 1 { [n as i64, k as i64] } else { [k as i64, n as i64] };
        let bw = b.init_f32("B", &dims, &bmat);
        let bc = b.init_f32("C", &[n as i64], &c);
        let gm = b.node("Gemm", &[&x, &bw, &bc], vec![attr_int("transB", trans_b), attr_float("alpha", 0.5), attr_float("beta", 2.0)]);
        let names: Vec<String> = [("g", &gamma), ("b", &beta), ("m", &mean), ("v", &var)].iter().map(|(nm, v)| b.init_f32(nm, &[n as i64], v)).collect();
        b.node_named("BatchNormalization", &[&gm, &names[0], &names[1], &names[2], &names[3]], &["y"], vec![attr_float("epsilon", 1e-3)]);
        b.output("y", FLOAT, &[Some(2), Some(n as i64)]);
        let conv = convert(&b.build(), &ConvertOptions::default()).unwrap();
        assert_eq!(ops(&conv.model), ["FULLY_CONNECTED"], "transB={trans_b}");
        assert_eq!(conv.report.folded_batchnorms, 1);
        let xv = r.vec(2 * k, 1.0);
        let got = run(&conv.model, vec![2, k], xv.clone());
        for row in 0..2 {
            for j in 0..n {
                let dot: f32 = (0..k).map(|t| xv[row * k + t] * if trans_b == 1 { bmat[j * k + t] } else { bmat[t * n + j] }).sum();
                let g = 0.5 * dot + 2.0 * c[j];
                let want = (g - mean[j]) / (var[j] + 1e-3).sqrt() * gamma[j] + beta[j];
                assert!((got[row * n + j] - want).abs() < 1e-4, "transB={trans_b}: {} vs {want}", got[row * n + j]);
            }
        }
    }
}

/// erf by Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7).
fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0 - (((((1.061_405_4 * t - 1.453_152_1) * t) + 1.421_413_8) * t - 0.284_496_72) * t + 0.254_829_6) * t * (-x * x).exp();
    y.copysign(x)
}

#[test]
fn erf_gelu_becomes_one_gelu() {
    erf_gelu_fuses(false);
}

#[test]
fn erf_gelu_with_constant_nodes_becomes_one_gelu() {
    // Inside nn.TransformerEncoderLayer the legacy exporter writes the
    // constants as Constant nodes, not initializers.
    erf_gelu_fuses(true);
}

fn erf_gelu_fuses(constant_nodes: bool) {
    // The legacy torch exporter's nn.GELU: x · (1 + erf(x / √2)) · 0.5.
    let mut b = OnnxBuilder::new(17);
    let x = b.input("x", FLOAT, &[Some(2), Some(8)]);
    let scalar = |b: &mut OnnxBuilder, name: &str, v: f32| {
        if constant_nodes {
            b.node("Constant", &[], vec![attr_float("value_float", v)])
        } else {
            b.init_f32(name, &[], &[v])
        }
    };
    let s2 = scalar(&mut b, "sqrt2", std::f32::consts::SQRT_2);
    let one = scalar(&mut b, "one", 1.0);
    let half = scalar(&mut b, "half", 0.5);
    let d = b.node("Div", &[&x, &s2], vec![]);
    let e = b.node("Erf", &[&d], vec![]);
    let a = b.node("Add", &[&e, &one], vec![]);
    let m = b.node("Mul", &[&x, &a], vec![]);
    b.node_named("Mul", &[&m, &half], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(2), Some(8)]);
    let conv = convert(&b.build(), &ConvertOptions::default()).unwrap();
    assert_eq!(ops(&conv.model), ["GELU"]);
    assert_eq!(conv.report.fused_patterns, 1);
    let xv: Vec<f32> = (0..16).map(|i| i as f32 * 0.5 - 4.0).collect();
    let got = run(&conv.model, vec![2, 8], xv.clone());
    for (g, x) in got.iter().zip(&xv) {
        let want = x * 0.5 * (1.0 + erf(x / std::f32::consts::SQRT_2));
        assert!((g - want).abs() < 1e-5, "{g} vs {want} at {x}");
    }
}

#[test]
fn a_lone_erf_is_not_fused_but_lowered_to_its_approximation() {
    let mut b = OnnxBuilder::new(17);
    let x = b.input("x", FLOAT, &[Some(4)]);
    b.node_named("Erf", &[&x], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(4)]);
    let conv = convert(&b.build(), &ConvertOptions::default()).expect("Erf converts");
    assert_eq!(conv.report.fused_patterns, 0);
    assert!(!ops(&conv.model).contains(&"GELU"), "{:?}", ops(&conv.model));
    let xv = vec![-2.0f32, -0.3, 0.0, 1.1];
    let got = run(&conv.model, vec![4], xv.clone());
    for (g, x) in got.iter().zip(&xv) {
        assert!((g - erf(*x)).abs() < 1e-6, "{g} vs erf({x})");
    }
}
