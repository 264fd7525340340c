//! Converts the ONNX ResNet-18 graph (built in memory, seeded weights) to a
//! TFLite model, and writes it; and converts a synthetic transformer
//! encoder at 2, 8 and 32 layers, to show how conversion time grows with
//! the number of nodes.

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;
#[path = "../tests/common/onnx_resnet.rs"]
mod onnx_resnet;
#[path = "../tests/common/onnx_transformer.rs"]
mod onnx_transformer;

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
    let mut g = c.benchmark_group("transformer");
    g.sample_size(10);
    for layers in [2, 8, 32] {
        let bytes = onnx_transformer::transformer_onnx(layers, 64, 4);
        g.bench_function(format!("convert_{layers}_layers"), |b| b.iter(|| black_box(convert(black_box(&bytes), &opts).unwrap())));
    }
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
