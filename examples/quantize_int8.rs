//! Full int8 quantization from calibration data as a PyTorch user has it:
//! `.npy` files in the ONNX layout (NCHW), exactly what onnxruntime takes.
//! The converter knows that the `.tflite` input is NHWC and moves each
//! sample into it (`quantize::SampleAdapter`).
//!
//! ```text
//! cargo run --example quantize_int8 -- [MODEL.onnx CALIB_DIR] [-o OUT.tflite]
//! ```
//!
//! Without arguments it builds a small CNN as ONNX in memory and writes 16
//! NCHW `.npy` samples of it to a temporary directory first.

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;

use std::path::{Path, PathBuf};

use onnx_build::{attr_ints, OnnxBuilder, FLOAT};
use tflite_forge::eval::Value;
use tflite_forge::onnx::{convert, ConvertOptions};
use tflite_forge::quantize::{quantize, IoType, QuantizeOptions, SampleAdapter, SampleLayout};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.iter().position(|a| a == "-o").and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| "model_int8.tflite".into());
    let (onnx, calib): (Vec<u8>, PathBuf) = match args.as_slice() {
        [model, dir, ..] if !model.starts_with('-') => (std::fs::read(model)?, PathBuf::from(dir)),
        _ => {
            let dir = std::env::temp_dir().join(format!("tflite-forge-quantize-int8-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            write_nchw_samples(&dir, 16)?;
            (small_cnn(), dir)
        }
    };
    let converted = convert(&onnx, &ConvertOptions::default())?;
    let model = converted.model;

    // Each .npy is one NCHW sample; the adapter checks its shape against
    // both layouts and transposes it into the model's.
    let adapter = SampleAdapter::new(&model, SampleLayout::Onnx)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&calib)?.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "npy")).collect();
    files.sort();
    let mut samples = Vec::with_capacity(files.len());
    for f in &files {
        let v = tflite_forge::npy::read_npy(&std::fs::read(f)?)?;
        samples.push(adapter.adapt(vec![v])?);
    }
    let onnx_shape: Vec<String> = adapter.inputs()[0].onnx_shape().iter().map(|d| d.fixed().map_or("?".into(), |v| v.to_string())).collect();
    println!("{} calibration samples from {} (NCHW [{}] → model input {:?})", samples.len(), calib.display(), onnx_shape.join(", "), samples[0][0].shape);

    let q = quantize(&model, &QuantizeOptions::int8(IoType::Uint8), &samples)?;
    if let Some(report) = &q.report {
        println!("output cosine {:.5}, SNR {:.1} dB", report.output_cosine, report.output_snr_db);
    }
    let bytes = tflite_forge::write(&q.model)?;
    std::fs::write(&out, &bytes)?;
    println!("wrote {out} ({} bytes, float {} bytes)", bytes.len(), tflite_forge::write(&model)?.len());
    Ok(())
}

/// Conv(3→8, 3×3) → Relu → Conv(8→8, 3×3, stride 2) → Relu →
/// GlobalAveragePool → Flatten → Gemm(8→4), input `[1, 3, 16, 16]`.
fn small_cnn() -> Vec<u8> {
    let w = |n: usize, k: usize| (0..n).map(|i| (((i * 37 + k) % 17) as f32 - 8.0) / 40.0).collect::<Vec<_>>();
    let mut b = OnnxBuilder::new(17);
    let x = b.input("image", FLOAT, &[Some(1), Some(3), Some(16), Some(16)]);
    let w1 = b.init_f32("w1", &[8, 3, 3, 3], &w(216, 1));
    let c1 = b.node("Conv", &[&x, &w1], vec![attr_ints("pads", &[1, 1, 1, 1])]);
    let r1 = b.node("Relu", &[&c1], vec![]);
    let w2 = b.init_f32("w2", &[8, 8, 3, 3], &w(576, 2));
    let c2 = b.node("Conv", &[&r1, &w2], vec![attr_ints("pads", &[1, 1, 1, 1]), attr_ints("strides", &[2, 2])]);
    let r2 = b.node("Relu", &[&c2], vec![]);
    let p = b.node("GlobalAveragePool", &[&r2], vec![]);
    let f = b.node("Flatten", &[&p], vec![]);
    let fw = b.init_f32("fw", &[4, 8], &w(32, 3));
    b.node_named("Gemm", &[&f, &fw], &["scores"], vec![onnx_build::attr_int("transB", 1)]);
    b.output("scores", FLOAT, &[Some(1), Some(4)]);
    b.build()
}

/// `n` NCHW samples `[1, 3, 16, 16]` with values in [−1, 1].
fn write_nchw_samples(dir: &Path, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut state = 12345u64;
    for i in 0..n {
        let data: Vec<f32> = (0..3 * 16 * 16)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect();
        let v = Value::from_f32(vec![1, 3, 16, 16], data);
        std::fs::write(dir.join(format!("sample_{i:03}.npy")), tflite_forge::npy::write_npy(&v)?)?;
    }
    Ok(())
}
