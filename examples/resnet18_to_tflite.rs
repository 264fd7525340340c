//! Converts a ResNet-18 from ONNX to a `.tflite` with a `serving_default`
//! signature, printing sizes, op counts and timings.
//!
//! ```text
//! cargo run --release --example resnet18_to_tflite -- [resnet18.onnx] [-o OUT.tflite] [--labels imagenet_labels.txt]
//! ```
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
use tflite_forge::onnx::{convert, convert_file, ConvertOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut input = None;
    let mut out = "resnet18.tflite".to_string();
    let mut labels = None;
    while let Some(a) = args.next() {
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
