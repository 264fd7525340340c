//! The same input and options give byte-identical output, whatever the
//! thread or the run (HashMaps are seeded randomly per instance, so repeated
//! conversions in one process already vary the hash seed).

mod common;
#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::onnx::{convert, ConvertOptions};

fn small_cnn() -> Vec<u8> {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(3), Some(8), Some(8)]);
    let mut r = common::Rng::new(5);
    let w = b.init_f32("w", &[4, 3, 3, 3], &r.vec(108, 0.5));
    let c = b.node("Conv", &[&x, &w], vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let g = b.init_f32("g", &[4], &[1.0, 0.9, 1.1, 1.0]);
    let be = b.init_f32("be", &[4], &[0.0, 0.1, -0.1, 0.2]);
    let m = b.init_f32("m", &[4], &[0.1, 0.0, -0.2, 0.0]);
    let v = b.init_f32("v", &[4], &[1.0, 2.0, 0.5, 1.0]);
    let bn = b.node("BatchNormalization", &[&c, &g, &be, &m, &v], vec![]);
    let a = b.node("Relu", &[&bn], vec![]);
    let p = b.node("MaxPool", &[&a], vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
    let gap = b.node("GlobalAveragePool", &[&p], vec![]);
    let f = b.node("Flatten", &[&gap], vec![]);
    let fw = b.init_f32("fw", &[4, 2], &r.vec(8, 0.5));
    b.node_named("MatMul", &[&f, &fw], &["y"], vec![]);
    b.output("y", FLOAT, &[None, Some(2)]);
    b.build()
}

#[test]
fn conversion_is_byte_identical_across_threads_and_runs() {
    let onnx = small_cnn();
    let first = tflite_forge::write(&convert(&onnx, &ConvertOptions::default()).unwrap().model).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let onnx = onnx.clone();
            std::thread::spawn(move || tflite_forge::write(&convert(&onnx, &ConvertOptions::default()).unwrap().model).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), first, "a conversion on another thread differs");
    }
    for _ in 0..3 {
        assert_eq!(tflite_forge::write(&convert(&onnx, &ConvertOptions::default()).unwrap().model).unwrap(), first);
    }
}

#[test]
fn writing_a_read_model_is_stable() {
    let m = common::resnet_like(3, tflite_forge::Dim::Dynamic);
    let a = tflite_forge::write(&m).unwrap();
    let b = tflite_forge::write(&tflite_forge::read(&a).unwrap()).unwrap();
    assert_eq!(a, b);
}
