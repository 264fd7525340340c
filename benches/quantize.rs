//! Post-training quantization of the converted ResNet-18 (built in memory as
//! ONNX, seeded weights): the float32 reference evaluator on one sample,
//! float16, calibration on one sample (one thread) and on 16 samples (one
//! thread per core), and full int8 from one calibration sample (calibration,
//! the rewrite, and the error report, which runs the float and the int8
//! model once more each).

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;
#[path = "../tests/common/onnx_resnet.rs"]
mod onnx_resnet;

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions};
use tflite_forge::quantize::{calibrate_with_threads, quantize, IoType, QuantizeOptions};

fn benches(c: &mut Criterion) {
    let mut opts = ConvertOptions::default();
    opts.batch = Some(1);
    let model = convert(&onnx_resnet::resnet18_onnx(), &opts).unwrap().model;
    let image = |seed: u64| {
        let mut s = seed;
        let data: Vec<f32> = (0..224 * 224 * 3)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
            })
            .collect();
        vec![Value::from_f32(vec![1, 224, 224, 3], data)]
    };
    let sample = vec![image(7)];
    let samples16: Vec<Vec<Value>> = (0..16).map(|i| image(7 + i)).collect();
    let mut g = c.benchmark_group("resnet18");
    g.sample_size(10);
    g.bench_function("quantize_float16", |b| b.iter(|| black_box(quantize(&model, &QuantizeOptions::float16(), &[]).unwrap())));
    g.bench_function("eval_float32_1_thread", |b| b.iter(|| black_box(Evaluator::new(&model).run(0, &sample[0]).unwrap())));
    // One evaluator for every run: the constants are decoded once.
    let warm = Evaluator::new(&model);
    g.bench_function("eval_float32_1_thread_same_evaluator", |b| b.iter(|| black_box(warm.run(0, &sample[0]).unwrap())));
    g.bench_function("calibrate_1_sample", |b| b.iter(|| black_box(calibrate_with_threads(&model, &sample, 1).unwrap())));
    g.bench_function("calibrate_16_samples_all_cores", |b| b.iter(|| black_box(calibrate_with_threads(&model, &samples16, 0).unwrap())));
    g.bench_function("quantize_int8_1_sample_with_report", |b| {
        b.iter(|| black_box(quantize(&model, &QuantizeOptions::int8(IoType::Uint8), &sample).unwrap()))
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
