//! Converts the ONNX ResNet-18 graph (built in memory, seeded weights) to a
//! TFLite model, and writes it.

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;

use criterion::{criterion_group, criterion_main, Criterion};
use onnx_build::*;
use std::hint::black_box;
use tflite_forge::onnx::{convert, ConvertOptions};

fn conv_bn(b: &mut OnnxBuilder, x: &str, cin: i64, cout: i64, k: i64, stride: i64, name: &str) -> String {
    let n = (cout * cin * k * k) as usize;
    let w: Vec<f32> = (0..n).map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.1).collect();
    let w = b.init_f32(&format!("{name}.w"), &[cout, cin, k, k], &w);
    let p = k / 2;
    let c = b.node("Conv", &[x, &w], vec![attr_ints("kernel_shape", &[k, k]), attr_ints("strides", &[stride, stride]), attr_ints("pads", &[p, p, p, p])]);
    let ones = vec![1.0f32; cout as usize];
    let zeros = vec![0.0f32; cout as usize];
    let g = b.init_f32(&format!("{name}.g"), &[cout], &ones);
    let be = b.init_f32(&format!("{name}.b"), &[cout], &zeros);
    let m = b.init_f32(&format!("{name}.m"), &[cout], &zeros);
    let v = b.init_f32(&format!("{name}.v"), &[cout], &ones);
    b.node("BatchNormalization", &[&c, &g, &be, &m, &v], vec![])
}

fn resnet18() -> Vec<u8> {
    let mut b = OnnxBuilder::new(17);
    let x = b.input("input", FLOAT, &[None, Some(3), Some(224), Some(224)]);
    let h = conv_bn(&mut b, &x, 3, 64, 7, 2, "conv1");
    let h = b.node("Relu", &[&h], vec![]);
    let mut h = b.node("MaxPool", &[&h], vec![attr_ints("kernel_shape", &[3, 3]), attr_ints("strides", &[2, 2]), attr_ints("pads", &[1, 1, 1, 1])]);
    let mut cin = 64;
    for (s, cout) in [64i64, 128, 256, 512].into_iter().enumerate() {
        for blk in 0..2 {
            let st = if s > 0 && blk == 0 { 2 } else { 1 };
            let a = conv_bn(&mut b, &h, cin, cout, 3, st, &format!("l{s}.{blk}.1"));
            let a = b.node("Relu", &[&a], vec![]);
            let c = conv_bn(&mut b, &a, cout, cout, 3, 1, &format!("l{s}.{blk}.2"));
            let sc = if st != 1 || cin != cout { conv_bn(&mut b, &h, cin, cout, 1, st, &format!("l{s}.{blk}.d")) } else { h.clone() };
            let sum = b.node("Add", &[&c, &sc], vec![]);
            h = b.node("Relu", &[&sum], vec![]);
            cin = cout;
        }
    }
    let g = b.node("GlobalAveragePool", &[&h], vec![]);
    let f = b.node("Flatten", &[&g], vec![]);
    let w = b.init_f32("fc.w", &[1000, 512], &vec![0.01; 512_000]);
    let bias = b.init_f32("fc.b", &[1000], &vec![0.0; 1000]);
    b.node_named("Gemm", &[&f, &w, &bias], &["output"], vec![attr_int("transB", 1)]);
    b.output("output", FLOAT, &[None, Some(1000)]);
    b.build()
}

fn benches(c: &mut Criterion) {
    let bytes = resnet18();
    let opts = ConvertOptions::default();
    let mut g = c.benchmark_group("resnet18");
    g.sample_size(20);
    g.bench_function("convert", |b| b.iter(|| black_box(convert(black_box(&bytes), &opts).unwrap())));
    let model = convert(&bytes, &opts).unwrap().model;
    g.bench_function("convert+write", |b| b.iter(|| black_box(tflite_forge::write(&convert(black_box(&bytes), &opts).unwrap().model).unwrap())));
    let _ = model;
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
