//! Writes and reads a model holding 45 MB of weights, beside a plain memcpy
//! of the same bytes for scale.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tflite_forge::*;

/// Five 1500×1500 float FULLY_CONNECTED layers: 5 × 9 MB = 45 MB.
fn big_model() -> Model {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let mut x = g.input("x", DType::F32, [1, 1500]);
    for layer in 0..5u32 {
        let w: Vec<f32> = (0..1500 * 1500).map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(layer) >> 8) as f32 * 1e-9).collect();
        let wt = g.constant_f32(&format!("fc{layer}/w"), [1500, 1500], &w);
        x = g.fully_connected(x, wt, None, FullyConnectedOptions::default().with_activation(Activation::Relu)).unwrap();
    }
    g.output("y", x);
    b.finish_subgraph(g).unwrap();
    b.signature("serving_default", 0);
    b.finish().unwrap()
}

fn benches(c: &mut Criterion) {
    let model = big_model();
    let bytes = write(&model).unwrap();
    let mut group = c.benchmark_group("45MB");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("memcpy", |b| b.iter(|| black_box(bytes.to_vec())));
    group.bench_function("write", |b| b.iter(|| black_box(write(black_box(&model)).unwrap())));
    group.bench_function("read", |b| b.iter(|| black_box(read(black_box(&bytes)).unwrap())));
    group.finish();
}

criterion_group!(g, benches);
criterion_main!(g);
