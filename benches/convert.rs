//! Converts the ONNX ResNet-18 graph (built in memory, seeded weights) to a
//! TFLite model, and writes it.

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;
#[path = "../tests/common/onnx_resnet.rs"]
mod onnx_resnet;

use criterion::{criterion_group, criterion_main, Criterion};
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
}

criterion_group!(group, benches);
criterion_main!(group);
