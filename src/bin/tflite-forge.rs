//! The `tflite-forge` command-line tool.
//!
//! ```text
//! tflite-forge convert IN.onnx -o OUT.tflite [--keep-nchw] [--batch N]
//!     [--labels labels.txt --mean M[,M,M] --std S[,S,S] [--name NAME]]
//!     [--quantize int8|int16x8|dynamic|float16 [--io float|int8|uint8|int16]
//!      [--calibration DIR|FILE [--calibration-layout auto|onnx|tflite]
//!       [--calibration-method minmax|percentile[:P]|mse] [--keep-float N] [--keep-float-db X]
//!       [--report report.json]] [--keep-float-ops NAME,...] [--integer-only]]
//! tflite-forge inspect MODEL.tflite
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use tflite_forge::metadata::{ContentProperties, ImageClassifierInfo, ProcessUnit};
use tflite_forge::onnx::{convert_file, ConvertOptions, IoLayout};

#[path = "tflite-forge/quant_args.rs"]
mod quant_args;

use quant_args::QuantArgs;

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
        /// Add image-classifier metadata (TFLite Support) with these labels,
        /// one per line, packed into the model as labels.txt.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// The image normalisation the model expects, on 0..255 pixels: one
        /// mean or one per channel, comma-separated. Recorded in the labels
        /// metadata; with --quantize int8 --io uint8 it moves into the graph
        /// so that the model takes raw pixels.
        #[arg(long, value_delimiter = ',', requires = "std")]
        mean: Vec<f32>,
        /// The normalisation's standard deviation(s) (see --mean).
        #[arg(long, value_delimiter = ',', requires = "mean")]
        std: Vec<f32>,
        /// Model name recorded in the metadata (with --labels).
        #[arg(long, requires = "labels")]
        name: Option<String>,
        /// Quantization (after converting).
        #[command(flatten)]
        quant: QuantArgs,
        /// Let ONNX ops that no TFLite builtin covers, but a TensorFlow op
        /// computes exactly, become select-TF (Flex) ops. The app then needs
        /// the Flex delegate; the report lists each Flex op.
        #[arg(long)]
        allow_flex: bool,
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
        Command::Convert { input, output, keep_nchw, batch, dims, labels, mean, std, name, quant, allow_flex } => {
            let classifier = labels.map(|labels| Classifier { labels, name });
            convert(input, output, keep_nchw, batch, dims, (mean, std), classifier, quant, allow_flex)
        }
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

/// Image-classifier metadata asked for on the command line.
struct Classifier {
    labels: PathBuf,
    name: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn convert(
    input: PathBuf,
    output: PathBuf,
    keep_nchw: bool,
    batch: Option<u32>,
    dims: Vec<(String, u32)>,
    normalization: (Vec<f32>, Vec<f32>),
    classifier: Option<Classifier>,
    quant: QuantArgs,
    allow_flex: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let t0 = Instant::now();
    let mut opts = ConvertOptions::default();
    opts.allow_flex = allow_flex;
    if keep_nchw {
        opts.layout = IoLayout::KeepNchw;
    }
    opts.batch = batch;
    opts.fixed_dims = dims.into_iter().collect();
    let mut conv = convert_file(&input, &opts)?;
    let (mut mean, mut std) = (normalization.0, normalization.1);
    if let Some(options) = quant.options()? {
        // A uint8 image model takes raw pixels: the normalisation moves
        // into the graph, and the calibration samples into pixel units.
        let pixels = quant.quantize.as_deref() == Some("int8") && quant.io == "uint8" && !mean.is_empty();
        if pixels {
            tflite_forge::passes::normalize::prepend_normalization(&mut conv.model, 0, 0, &mean, &std)?;
            println!("input normalisation moved into the graph: the uint8 input takes raw pixels 0..255");
        }
        conv.model = quantize_model(&conv.model, &quant, options, pixels.then_some((mean.as_slice(), std.as_slice())))?;
        if pixels {
            (mean, std) = (Vec::new(), Vec::new());
        }
    }
    if let Some(c) = classifier {
        let text = std::fs::read_to_string(&c.labels).map_err(|e| format!("{}: {e}", c.labels.display()))?;
        let labels: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
        let name = c.name.unwrap_or_else(|| input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        let mut info = ImageClassifierInfo::new(name, labels);
        info.mean = mean;
        info.std = std;
        info.apply(&mut conv.model)?;
    }
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

/// Quantizes; with `pixels`, the calibration samples (normalised, as the
/// converted model took them) are mapped back to pixel values.
fn quantize_model(
    model: &tflite_forge::Model,
    q: &QuantArgs,
    mut options: tflite_forge::quantize::QuantizeOptions,
    pixels: Option<(&[f32], &[f32])>,
) -> Result<tflite_forge::Model, Box<dyn std::error::Error>> {
    let mut data = q.dataset(model)?;
    if let Some((mean, std)) = pixels {
        options.input_range = Some((0.0, 255.0));
        for v in data.iter_mut().flatten() {
            let c = v.shape.last().copied().unwrap_or(1).max(1);
            for (i, x) in v.data.iter_mut().enumerate() {
                let k = if mean.len() == 1 { 0 } else { i % c };
                *x = *x * f64::from(std[k]) + f64::from(mean[k]);
            }
        }
    }
    Ok(quant_args::run(model, q, &options, &data)?.model)
}

fn print_io(model: &tflite_forge::Model) {
    for s in &model.signatures {
        let sg = &model.subgraphs[s.subgraph as usize];
        println!("signature {:?}:", s.key);
        for (n, t) in &s.inputs {
            let t = &sg.tensors[t.index()];
            println!("  input  {n:<20} {} {}{}", t.dtype, t.shape, quant_text(t));
        }
        for (n, t) in &s.outputs {
            let t = &sg.tensors[t.index()];
            println!("  output {n:<20} {} {}{}", t.dtype, t.shape, quant_text(t));
        }
    }
}

/// " scale S zero_point Z" for a per-tensor quantized tensor.
fn quant_text(t: &tflite_forge::Tensor) -> String {
    match &t.quantization {
        Some(q) if q.scale.len() == 1 => format!(" scale {} zero_point {}", q.scale[0], q.zero_point.first().copied().unwrap_or(0)),
        _ => String::new(),
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
        let mut seen = std::collections::BTreeSet::new();
        for o in &sg.operators {
            let tflite_forge::Op::Custom(c) = &o.op else { continue };
            if !seen.insert(c.name.clone()) {
                continue;
            }
            match (c.flex_op(), c.options_value()) {
                (Some(Ok((tf_op, node_def))), _) => {
                    println!("  custom {}: select-TF op {tf_op} (NodeDef {} bytes; needs the Flex delegate)", c.name, node_def.len())
                }
                (_, Some(Ok(v))) => {
                    let text = format!("{v:?}");
                    println!("  custom {}: options {}", c.name, text.chars().take(200).collect::<String>());
                }
                (_, Some(Err(e))) => println!("  custom {}: options not FlexBuffers ({e})", c.name),
                _ => println!("  custom {}: {} option bytes", c.name, c.options.len()),
            }
        }
    }
    for m in &model.metadata {
        println!("metadata {:?}: {} bytes", m.name, m.data.len());
    }
    if let Some(md) = model.support_metadata()? {
        print_support_metadata(&md);
    }
    for f in &model.associated_files {
        println!("packed file {:?}: {} bytes", f.name, f.data.len());
    }
    Ok(())
}

fn print_support_metadata(md: &tflite_forge::metadata::ModelMetadata) {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    println!(
        "TFLite Support metadata: name {:?}, version {:?}, min parser {}",
        text(&md.name),
        text(&md.version),
        text(&md.min_parser_version)
    );
    for (i, sub) in md.subgraph_metadata.iter().enumerate() {
        for (dir, tensors) in [("input", &sub.input_tensor_metadata), ("output", &sub.output_tensor_metadata)] {
            for t in tensors {
                let mut parts = Vec::new();
                match t.content.as_ref().map(|c| &c.properties) {
                    Some(ContentProperties::Image { color_space, .. }) => parts.push(format!("image {color_space:?}")),
                    Some(ContentProperties::Feature) => parts.push("feature".into()),
                    Some(other) => parts.push(format!("{other:?}")),
                    None => {}
                }
                for u in &t.process_units {
                    if let ProcessUnit::Normalization { mean, std } = u {
                        parts.push(format!("normalize mean {mean:?} std {std:?}"));
                    }
                }
                for f in &t.associated_files {
                    parts.push(format!("{:?} ({:?})", f.name, f.file_type));
                }
                println!("  subgraph {i} {dir} {:?}: {}", text(&t.name), parts.join(", "));
            }
        }
    }
}
