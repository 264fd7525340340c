//! Converts a ResNet-18 from ONNX to a `.tflite` with a `serving_default`
//! signature, printing sizes, op counts and timings.
//!
//! ```text
//! cargo run --release --example resnet18_to_tflite -- [resnet18.onnx] [-o OUT.tflite] [--labels imagenet_labels.txt]
//!     [--int8 [--calibration DIR]]
//! ```
//!
//! With `--int8` the model is fully int8-quantized with uint8 input and
//! output, calibrated on the `.npy` samples in DIR (float32
//! `[1, 224, 224, 3]`, normalised like the model's input). Without DIR it
//! calibrates on generated samples, which suits the built-in random-weight
//! model only; it says so.
//!
//! With `--labels` (one label per line, 1000 for ImageNet) the model also
//! gets TFLite Support image-classifier metadata: torchvision's input
//! normalisation and the labels, packed into the file, as the TFLite Task
//! Library and the mobile helper libraries read them.
//!
//! With a path it converts a real torchvision export (`torch.onnx.export`,
//! either exporter). Without one it first builds the same ResNet-18 graph as
//! an ONNX model with seeded weights and realistic BatchNorm statistics, so
//! the example runs on a fresh machine with no files.

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;
#[path = "../tests/common/onnx_resnet.rs"]
mod onnx_resnet;

use std::time::Instant;

use onnx_resnet::resnet18_onnx;
use tflite_forge::metadata::ImageClassifierInfo;
use tflite_forge::eval::Value;
use tflite_forge::onnx::{convert, convert_file, ConvertOptions};
use tflite_forge::quantize::{quantize, IoType, QuantizeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut input = None;
    let mut out = "resnet18.tflite".to_string();
    let mut labels = None;
    let mut int8 = false;
    let mut calibration = None;
    while let Some(a) = args.next() {
        if a == "--int8" {
            int8 = true;
            continue;
        }
        if a == "--calibration" {
            calibration = Some(args.next().ok_or("--calibration needs a directory")?);
            continue;
        }
        if a == "-o" {
            out = args.next().ok_or("-o needs a path")?;
        } else if a == "--labels" {
            labels = Some(args.next().ok_or("--labels needs a path")?);
        } else {
            input = Some(a);
        }
    }
    let opts = ConvertOptions::default();
    let t0 = Instant::now();
    let (conversion, onnx_bytes) = match &input {
        Some(path) => (convert_file(path, &opts)?, std::fs::metadata(path)?.len() as usize),
        None => {
            let bytes = resnet18_onnx();
            println!("built ResNet-18 as ONNX in memory: {:.1} MB, seeded weights, BatchNorm statistics", bytes.len() as f64 / 1e6);
            let t = Instant::now();
            let c = convert(&bytes, &opts)?;
            println!("(ONNX build {:.0} ms)", (t - t0).as_secs_f64() * 1e3);
            (c, bytes.len())
        }
    };
    let mut conversion = conversion;
    if let Some(path) = &labels {
        let text = std::fs::read_to_string(path)?;
        let mut info = ImageClassifierInfo::new("ResNet-18", text.lines().filter(|l| !l.trim().is_empty()));
        // torchvision's ImageNet normalisation, on 0..255 pixels.
        info.mean = vec![123.675, 116.28, 103.53];
        info.std = vec![58.395, 57.12, 57.375];
        info.apply(&mut conversion.model)?;
        println!("image-classifier metadata added with {} labels from {path}", info.labels.len());
    }
    if int8 {
        let data = match &calibration {
            Some(dir) => load_npy_dir(dir)?,
            None => {
                println!("warning: no --calibration DIR: calibrating on 4 generated samples (fine for the built-in model, not for real weights)");
                generated_samples(4)
            }
        };
        let t = Instant::now();
        let q = quantize(&conversion.model, &QuantizeOptions::int8(IoType::Uint8), &data)?;
        println!("int8 quantization (uint8 I/O) from {} sample(s) in {:.1} s", data.len(), t.elapsed().as_secs_f64());
        if let Some(r) = &q.report {
            println!("  outputs cosine {:.6}, SNR {:.1} dB against the float model", r.output_cosine, r.output_snr_db);
        }
        conversion.model = q.model;
    }
    let t1 = Instant::now();
    let bytes = tflite_forge::write(&conversion.model)?;
    let t2 = Instant::now();
    tflite_forge::write::atomic_write(std::path::Path::new(&out), &bytes)?;

    println!("{} ({:.1} MB ONNX) -> {out} ({:.1} MB)", input.as_deref().unwrap_or("<built-in ResNet-18>"), onnx_bytes as f64 / 1e6, bytes.len() as f64 / 1e6);
    print!("{}", conversion.report);
    let m = &conversion.model;
    for s in &m.signatures {
        let sg = &m.subgraphs[s.subgraph as usize];
        for (n, t) in s.inputs.iter().chain(&s.outputs) {
            let t = &sg.tensors[t.index()];
            println!("signature {:?}: {n:?} {} {}", s.key, t.dtype, t.shape);
        }
    }
    println!("timings: convert {:.1} ms, write {:.1} ms", (t1 - t0).as_secs_f64() * 1e3, (t2 - t1).as_secs_f64() * 1e3);
    Ok(())
}

/// Deterministic pseudo-random normalised images, `[1, 224, 224, 3]`.
fn generated_samples(n: usize) -> Vec<Vec<Value>> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            let data = (0..224 * 224 * 3)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
                })
                .collect();
            vec![Value::from_f32(vec![1, 224, 224, 3], data)]
        })
        .collect()
}

/// Float32 little-endian `.npy` files of a directory, one sample each.
fn load_npy_dir(dir: &str) -> Result<Vec<Vec<Value>>, Box<dyn std::error::Error>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "npy")).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f)?;
        if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" || bytes[6] != 1 {
            return Err(format!("{}: not a version-1 .npy file", f.display()).into());
        }
        let start = 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        let data = bytes.get(start..).ok_or("truncated .npy")?;
        if data.len() != 224 * 224 * 3 * 4 {
            return Err(format!("{}: expected float32 [1, 224, 224, 3]", f.display()).into());
        }
        let v = data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.push(vec![Value::from_f32(vec![1, 224, 224, 3], v)]);
    }
    if out.is_empty() {
        return Err(format!("{dir}: no .npy files").into());
    }
    Ok(out)
}
