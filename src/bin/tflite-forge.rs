//! The `tflite-forge` command-line tool.
//!
//! ```text
//! tflite-forge convert IN.onnx -o OUT.tflite [--keep-nchw] [--batch N]
//! tflite-forge inspect MODEL.tflite
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use tflite_forge::onnx::{convert_file, ConvertOptions, IoLayout};

#[derive(Parser)]
#[command(name = "tflite-forge", version, about = "Convert ONNX models to TensorFlow Lite and inspect .tflite files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert an ONNX model to a .tflite file.
    Convert {
        /// The ONNX model (external data is read from its directory).
        input: PathBuf,
        /// Where to write the .tflite file (written atomically).
        #[arg(short, long)]
        output: PathBuf,
        /// Keep the ONNX NCHW interface for 4-D inputs and outputs.
        #[arg(long)]
        keep_nchw: bool,
        /// Fix the batch dimension of every input.
        #[arg(long)]
        batch: Option<u32>,
        /// Fix a named symbolic dimension: NAME=SIZE (repeatable).
        #[arg(long = "dim", value_parser = parse_dim)]
        dims: Vec<(String, u32)>,
    },
    /// Print a .tflite file's inputs, outputs, signatures and op counts.
    Inspect {
        /// The .tflite file.
        model: PathBuf,
    },
}

fn parse_dim(s: &str) -> Result<(String, u32), String> {
    let (k, v) = s.split_once('=').ok_or("expected NAME=SIZE")?;
    Ok((k.to_string(), v.parse().map_err(|e| format!("{v}: {e}"))?))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Convert { input, output, keep_nchw, batch, dims } => convert(input, output, keep_nchw, batch, dims),
        Command::Inspect { model } => inspect(model),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn convert(input: PathBuf, output: PathBuf, keep_nchw: bool, batch: Option<u32>, dims: Vec<(String, u32)>) -> Result<(), Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    let mut opts = ConvertOptions::default();
    if keep_nchw {
        opts.layout = IoLayout::KeepNchw;
    }
    opts.batch = batch;
    opts.fixed_dims = dims.into_iter().collect();
    let conv = convert_file(&input, &opts)?;
    let t1 = Instant::now();
    let bytes = tflite_forge::write(&conv.model)?;
    tflite_forge::write::atomic_write(&output, &bytes)?;
    let t2 = Instant::now();
    let in_size = std::fs::metadata(&input).map(|m| m.len()).unwrap_or(0);
    println!("{} ({:.1} MB) -> {} ({:.1} MB)", input.display(), in_size as f64 / 1e6, output.display(), bytes.len() as f64 / 1e6);
    print_io(&conv.model);
    print!("{}", conv.report);
    println!("time: convert {:.1} ms, write {:.1} ms", (t1 - t0).as_secs_f64() * 1e3, (t2 - t1).as_secs_f64() * 1e3);
    Ok(())
}

fn print_io(model: &tflite_forge::Model) {
    for s in &model.signatures {
        let sg = &model.subgraphs[s.subgraph as usize];
        println!("signature {:?}:", s.key);
        for (n, t) in &s.inputs {
            let t = &sg.tensors[t.index()];
            println!("  input  {n:<20} {} {}", t.dtype, t.shape);
        }
        for (n, t) in &s.outputs {
            let t = &sg.tensors[t.index()];
            println!("  output {n:<20} {} {}", t.dtype, t.shape);
        }
    }
}

fn inspect(path: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let model = tflite_forge::read(&bytes)?;
    println!("{}: {} bytes, {} subgraph(s)", path.display(), bytes.len(), model.subgraphs.len());
    if !model.description.is_empty() {
        println!("description: {}", model.description);
    }
    print_io(&model);
    for (i, sg) in model.subgraphs.iter().enumerate() {
        let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
        for o in &sg.operators {
            *ops.entry(o.op.name()).or_default() += 1;
        }
        println!("subgraph {i} {:?}: {} tensors, {} ops", sg.name, sg.tensors.len(), sg.operators.len());
        for (k, v) in ops {
            println!("  {k:<24}{v}");
        }
    }
    for m in &model.metadata {
        println!("metadata {:?}: {} bytes", m.name, m.data.len());
    }
    Ok(())
}
