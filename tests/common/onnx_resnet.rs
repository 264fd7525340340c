//! torchvision's ResNet-18 as an ONNX model with seeded weights and
//! realistic BatchNorm statistics, for the example, the benches and tests.
#![allow(dead_code)]

use super::onnx_build::*;

/// Seeded values (xorshift), scaled.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next() * scale).collect()
    }
}

/// conv (no bias) + BatchNormalization, as torch exports it before folding.
fn conv_bn(b: &mut OnnxBuilder, r: &mut Rng, x: &str, cin: i64, cout: i64, k: i64, stride: i64, name: &str) -> String {
    let fan_in = (cin * k * k) as f32;
    // He-uniform weights keep activations near unit scale through ReLUs.
    let w = b.init_f32(&format!("{name}.weight"), &[cout, cin, k, k], &r.vec((cout * cin * k * k) as usize, (6.0 / fan_in).sqrt()));
    let p = k / 2;
    let c = b.node("Conv", &[x, &w], vec![attr_ints("kernel_shape", &[k, k]), attr_ints("strides", &[stride, stride]), attr_ints("pads", &[p, p, p, p])]);
    let n = cout as usize;
    let gamma = b.init_f32(&format!("{name}.bn.weight"), &[cout], &r.vec(n, 0.2).iter().map(|v| 1.0 + v).collect::<Vec<_>>());
    let beta = b.init_f32(&format!("{name}.bn.bias"), &[cout], &r.vec(n, 0.1));
    let mean = b.init_f32(&format!("{name}.bn.running_mean"), &[cout], &r.vec(n, 0.3));
    let var = b.init_f32(&format!("{name}.bn.running_var"), &[cout], &r.vec(n, 0.5).iter().map(|v| 1.0 + v).collect::<Vec<_>>());
    b.node("BatchNormalization", &[&c, &gamma, &beta, &mean, &var], vec![attr_float("epsilon", 1e-5)])
}

/// torchvision's ResNet-18 as ONNX (opset 17), dynamic batch.
pub fn resnet18_onnx() -> Vec<u8> {
    let mut r = Rng(0x5eed_1234_abcd_ef01);
    let mut b = OnnxBuilder::new(17);
    let x = b.input("input", FLOAT, &[None, Some(3), Some(224), Some(224)]);
    let h = conv_bn(&mut b, &mut r, &x, 3, 64, 7, 2, "conv1");
    let h = b.node("Relu", &[&h], vec![]);
    let mut h = b.node("MaxPool", &[&h], vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_ints("pads", &[1, 1, 1, 1])]);
    let mut cin = 64;
    for (stage, cout) in [64i64, 128, 256, 512].into_iter().enumerate() {
        for block in 0..2 {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let name = format!("layer{}.{block}", stage + 1);
            let a = conv_bn(&mut b, &mut r, &h, cin, cout, 3, stride, &format!("{name}.conv1"));
            let a = b.node("Relu", &[&a], vec![]);
            let c = conv_bn(&mut b, &mut r, &a, cout, cout, 3, 1, &format!("{name}.conv2"));
            let shortcut = if stride != 1 || cin != cout { conv_bn(&mut b, &mut r, &h, cin, cout, 1, stride, &format!("{name}.downsample")) } else { h.clone() };
            let s = b.node("Add", &[&c, &shortcut], vec![]);
            h = b.node("Relu", &[&s], vec![]);
            cin = cout;
        }
    }
    let g = b.node("GlobalAveragePool", &[&h], vec![]);
    let f = b.node("Flatten", &[&g], vec![attr_int("axis", 1)]);
    let w = b.init_f32("fc.weight", &[1000, 512], &r.vec(512_000, (1.0f32 / 512.0).sqrt()));
    let bias = b.init_f32("fc.bias", &[1000], &r.vec(1000, 0.01));
    b.node_named("Gemm", &[&f, &w, &bias], &["output"], vec![attr_int("transB", 1)]);
    b.output("output", FLOAT, &[None, Some(1000)]);
    b.build()
}

