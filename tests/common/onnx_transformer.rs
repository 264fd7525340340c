//! A synthetic transformer encoder as the legacy torch exporter writes it
//! (LayerNormalization, MatMul + Add, Reshape / Transpose into heads, scaled
//! MatMul, Softmax, the Erf form of GELU), with seeded weights and a
//! symbolic batch and sequence; `layers` sets the depth (for the
//! conversion-time benchmark and its test).

#![allow(dead_code)]

use super::onnx_build::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// The model's ONNX bytes: input `x` [batch, seq, d], output `y`.
pub fn transformer_onnx(layers: usize, d: i64, heads: i64) -> Vec<u8> {
    let mut b = OnnxBuilder::new(17);
    let mut rng = Rng(7);
    let mut x = b.input("x", FLOAT, &[None, None, Some(d)]);
    let hd = d / heads;
    let heads_shape = b.init_i64("heads_shape", &[4], &[0, -1, heads, hd]);
    let merge_shape = b.init_i64("merge_shape", &[3], &[0, -1, d]);
    let scale = b.init_f32("scale", &[], &[1.0 / (hd as f32).sqrt()]);
    let sqrt2 = b.init_f32("sqrt2", &[], &[std::f32::consts::SQRT_2]);
    let one = b.init_f32("one", &[], &[1.0]);
    let half = b.init_f32("half", &[], &[0.5]);
    for l in 0..layers {
        let p = |s: &str| format!("l{l}.{s}");
        let gamma = b.init_f32(&p("ln1.g"), &[d], &vec![1.0; d as usize]);
        let beta = b.init_f32(&p("ln1.b"), &[d], &vec![0.0; d as usize]);
        let h = b.node("LayerNormalization", &[&x, &gamma, &beta], vec![attr_int("axis", -1)]);
        let mut proj = |b: &mut OnnxBuilder, name: &str, input: &str, n_in: i64, n_out: i64| {
            let w = b.init_f32(&p(&format!("{name}.w")), &[n_in, n_out], &rng.vec((n_in * n_out) as usize));
            let bias = b.init_f32(&p(&format!("{name}.b")), &[n_out], &rng.vec(n_out as usize));
            let m = b.node("MatMul", &[input, &w], vec![]);
            b.node("Add", &[&bias, &m], vec![])
        };
        let split = |b: &mut OnnxBuilder, t: &str, perm: &[i64]| {
            let r = b.node("Reshape", &[t, &heads_shape], vec![]);
            b.node("Transpose", &[&r], vec![attr_ints("perm", perm)])
        };
        let q = proj(&mut b, "q", &h, d, d);
        let k = proj(&mut b, "k", &h, d, d);
        let v = proj(&mut b, "v", &h, d, d);
        let q = split(&mut b, &q, &[0, 2, 1, 3]);
        let k = split(&mut b, &k, &[0, 2, 3, 1]);
        let v = split(&mut b, &v, &[0, 2, 1, 3]);
        let s = b.node("MatMul", &[&q, &k], vec![]);
        let s = b.node("Mul", &[&s, &scale], vec![]);
        let a = b.node("Softmax", &[&s], vec![attr_int("axis", -1)]);
        let o = b.node("MatMul", &[&a, &v], vec![]);
        let o = b.node("Transpose", &[&o], vec![attr_ints("perm", &[0, 2, 1, 3])]);
        let o = b.node("Reshape", &[&o, &merge_shape], vec![]);
        let o = proj(&mut b, "o", &o, d, d);
        let x1 = b.node("Add", &[&x, &o], vec![]);
        let gamma = b.init_f32(&p("ln2.g"), &[d], &vec![1.0; d as usize]);
        let beta = b.init_f32(&p("ln2.b"), &[d], &vec![0.0; d as usize]);
        let h = b.node("LayerNormalization", &[&x1, &gamma, &beta], vec![attr_int("axis", -1)]);
        let f = proj(&mut b, "fc1", &h, d, 4 * d);
        let g = b.node("Div", &[&f, &sqrt2], vec![]);
        let g = b.node("Erf", &[&g], vec![]);
        let g = b.node("Add", &[&g, &one], vec![]);
        let g = b.node("Mul", &[&f, &g], vec![]);
        let g = b.node("Mul", &[&g, &half], vec![]);
        let f = proj(&mut b, "fc2", &g, 4 * d, d);
        x = b.node("Add", &[&x1, &f], vec![]);
    }
    b.node_named("Identity", &[&x], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, Some(d)]);
    b.build()
}
