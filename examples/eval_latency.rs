//! Times the reference evaluator on the converted ResNet-18 (batch 1,
//! 224×224, seeded weights), float32, one thread, and writes the model so
//! LiteRT can be timed on the same file beside it.
//!
//! ```text
//! cargo run --release --example eval_latency -- [-o resnet18.tflite] [--runs 10]
//! python tests/conformance/py/litert_latency.py resnet18.tflite --threads 1
//! ```
//!
//! Prints the median, minimum and maximum of `Evaluator::run` in
//! milliseconds. With `--quantize N` it then times a full int8 quantization
//! (uint8 I/O) from N generated calibration samples, error report included,
//! with one thread per core (`--threads T` to choose).

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;
#[path = "../tests/common/onnx_resnet.rs"]
mod onnx_resnet;

use std::time::Instant;

use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions};
use tflite_forge::quantize::{quantize, IoType, QuantizeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let mut runs = 10usize;
    let mut quantize_samples = 0usize;
    let mut threads = 0usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-o" => out = Some(args.next().ok_or("-o needs a path")?),
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--quantize" => quantize_samples = args.next().ok_or("--quantize needs a number")?.parse()?,
            "--threads" => threads = args.next().ok_or("--threads needs a number")?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let mut opts = ConvertOptions::default();
    opts.batch = Some(1);
    let model = convert(&onnx_resnet::resnet18_onnx(), &opts)?.model;
    if let Some(path) = &out {
        std::fs::write(path, tflite_forge::write(&model)?)?;
    }
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
    let input = image(7);
    let eval = Evaluator::new(&model);
    eval.run(0, &input)?; // warm-up
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            let r = eval.run(0, &input);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            r.map(|_| ms)
        })
        .collect::<Result<_, _>>()?;
    times.sort_by(f64::total_cmp);
    println!(
        "reference evaluator, ResNet-18 float32, 1 thread: median {:.1} ms (min {:.1}, max {:.1}, {} runs)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len()
    );
    if quantize_samples > 0 {
        let data: Vec<Vec<Value>> = (0..quantize_samples as u64).map(|i| image(7 + i)).collect();
        let options = QuantizeOptions::int8(IoType::Uint8).with_threads(threads);
        let t = Instant::now();
        let q = quantize(&model, &options, &data)?;
        let report = q.report.ok_or("no report")?;
        println!(
            "int8 quantization from {quantize_samples} samples ({} thread(s)), report over {}: {:.2} s, outputs cosine {:.6}",
            if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads },
            report.samples,
            t.elapsed().as_secs_f64(),
            report.output_cosine
        );
    }
    Ok(())
}
