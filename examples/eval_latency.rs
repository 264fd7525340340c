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
//! milliseconds.

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;
#[path = "../tests/common/onnx_resnet.rs"]
mod onnx_resnet;

use std::time::Instant;

use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let mut runs = 10usize;
    while let Some(a) = args.next() {
        match a.as_str() {
            "-o" => out = Some(args.next().ok_or("-o needs a path")?),
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let mut opts = ConvertOptions::default();
    opts.batch = Some(1);
    let model = convert(&onnx_resnet::resnet18_onnx(), &opts)?.model;
    if let Some(path) = &out {
        std::fs::write(path, tflite_forge::write(&model)?)?;
    }
    let mut s = 7u64;
    let image: Vec<f32> = (0..224 * 224 * 3)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
        })
        .collect();
    let input = vec![Value::from_f32(vec![1, 224, 224, 3], image)];
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
    Ok(())
}
