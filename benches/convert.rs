//! Converts the ONNX ResNet-18 graph (built in memory, seeded weights) to a
//! TFLite model, and writes it; and converts a synthetic transformer
//! encoder at 2, 8 and 32 layers, to show how conversion time grows with
//! the number of nodes; and a bidirectional LSTM (input 64, hidden 128)
//! over a static 64-step sequence (unrolled) and a dynamic one (WHILE).

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;
#[path = "../tests/common/onnx_resnet.rs"]
mod onnx_resnet;
#[path = "../tests/common/onnx_transformer.rs"]
mod onnx_transformer;

use criterion::{criterion_group, criterion_main, Criterion};
use onnx_build::{attr_int, attr_str, OnnxBuilder, FLOAT};
use std::hint::black_box;
use tflite_forge::onnx::{convert, ConvertOptions};

fn benches(c: &mut Criterion) {
    let bytes = onnx_resnet::resnet18_onnx();
    let opts = ConvertOptions::default();
    let mut g = c.benchmark_group("resnet18");
    g.sample_size(20);
    g.bench_function("convert", |b| b.iter(|| black_box(convert(black_box(&bytes), &opts).unwrap())));
    g.bench_function("convert+write", |b| b.iter(|| black_box(tflite_forge::write(&convert(black_box(&bytes), &opts).unwrap().model).unwrap())));
    g.finish();
    let mut g = c.benchmark_group("transformer");
    g.sample_size(10);
    for layers in [2, 8, 32] {
        let bytes = onnx_transformer::transformer_onnx(layers, 64, 4);
        g.bench_function(format!("convert_{layers}_layers"), |b| b.iter(|| black_box(convert(black_box(&bytes), &opts).unwrap())));
    }
    g.finish();
    let mut g = c.benchmark_group("lstm");
    g.sample_size(10);
    for (name, steps) in [("unrolled_64_steps", Some(64)), ("while_dynamic", None)] {
        let bytes = lstm_onnx(steps);
        g.bench_function(name, |b| b.iter(|| black_box(convert(black_box(&bytes), &opts).unwrap())));
    }
    g.finish();
}

/// A bidirectional LSTM, input 64, hidden 128, batch dynamic.
fn lstm_onnx(steps: Option<i64>) -> Vec<u8> {
    let (i, h) = (64i64, 128i64);
    let mut b = OnnxBuilder::new(14);
    b.input("x", FLOAT, &[steps, None, Some(i)]);
    let w = b.init_f32("w", &[2, 4 * h, i], &vec![0.01; (8 * h * i) as usize]);
    let r = b.init_f32("r", &[2, 4 * h, h], &vec![0.01; (8 * h * h) as usize]);
    b.node_named("LSTM", &["x", &w, &r], &["y"], vec![attr_int("hidden_size", h), attr_str("direction", "bidirectional")]);
    b.output("y", FLOAT, &[steps, Some(2), None, Some(h)]);
    b.build()
}

criterion_group!(group, benches);
criterion_main!(group);
