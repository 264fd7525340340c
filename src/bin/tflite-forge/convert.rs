//! `tflite-forge convert`: ONNX to .tflite, with optional labels metadata
//! and quantization.

use std::path::PathBuf;
use std::time::Instant;

use tflite_forge::metadata::ImageClassifierInfo;
use tflite_forge::onnx::{convert_file, ConvertOptions, IoLayout};
use tflite_forge::quantize::QuantizeOptions;

use crate::quant_args::{self, QuantArgs};
use crate::output::{io_text, write_model_file, CliError, CliResult, Progress, EXIT_OK};

/// Arguments of `convert`.
#[derive(clap::Args)]
pub struct Args {
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
    /// Quantization after converting.
    #[command(flatten)]
    quant: QuantArgs,
    /// Let ONNX ops that no TFLite builtin covers, but a TensorFlow op
    /// computes exactly, become select-TF (Flex) ops. The app then needs
    /// the Flex delegate; the report lists each Flex op.
    #[arg(long)]
    allow_flex: bool,
    /// Print the conversion report as one JSON object on stdout instead of
    /// text (ops, folds, fusions, layouts, dynamic dimensions, timings).
    #[arg(long)]
    json: bool,
}

fn parse_dim(s: &str) -> Result<(String, u32), String> {
    let (k, v) = s.split_once('=').ok_or("expected NAME=SIZE")?;
    Ok((k.to_string(), v.parse().map_err(|e| format!("{v}: {e}"))?))
}

/// Runs `convert`.
pub fn run(a: Args) -> CliResult {
    let progress = Progress::new();
    let t0 = Instant::now();
    let mut opts = ConvertOptions::default();
    opts.allow_flex = a.allow_flex;
    if a.keep_nchw {
        opts.layout = IoLayout::KeepNchw;
    }
    opts.batch = a.batch;
    opts.fixed_dims = a.dims.into_iter().collect();
    progress.set(&format!("converting {}", a.input.display()));
    let mut conv = convert_file(&a.input, &opts).map_err(|e| {
        progress.done();
        CliError::input(format!("{}: {e}", a.input.display()))
            .hint("see the ONNX support table in README.md; --allow-flex, --batch or --dim may help")
    })?;
    let mut notes = Vec::new();
    let (mut mean, mut std) = (a.mean, a.std);
    if let Some(options) = a.quant.options().map_err(CliError::input)? {
        let q = &a.quant;
        let mode = q.quantize.clone().unwrap_or_default();
        // A uint8 image model takes raw pixels: the normalisation moves
        // into the graph, and the calibration samples into pixel units.
        let pixels = matches!(mode.as_str(), "int8" | "int4") && q.io == "uint8" && !mean.is_empty();
        if pixels {
            tflite_forge::passes::normalize::prepend_normalization(&mut conv.model, 0, 0, &mean, &std)?;
            notes.push("input normalisation moved into the graph: the uint8 input takes raw pixels 0..255".to_string());
        }
        progress.set(&format!("quantizing ({mode})"));
        let result = quantize_model(&conv.model, q, options, pixels.then_some((mean.as_slice(), std.as_slice())), &mut notes);
        progress.done();
        conv.model = result?;
        if pixels {
            (mean, std) = (Vec::new(), Vec::new());
        }
    }
    if let Some(labels) = a.labels {
        let text = std::fs::read_to_string(&labels).map_err(|e| CliError::input(format!("{}: {e}", labels.display())))?;
        let labels: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
        let name = a.name.unwrap_or_else(|| a.input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
        let mut info = ImageClassifierInfo::new(name, labels);
        info.mean = mean;
        info.std = std;
        info.apply(&mut conv.model)?;
    }
    let io = io_text(&conv.model);
    let t1 = Instant::now();
    // Streamed from the model's constants, each freed once written: no
    // second copy is held, and the file's pages reuse the freed memory.
    let size = write_model_file(conv.model, &a.output)?;
    let t2 = Instant::now();
    progress.done();
    let in_size = std::fs::metadata(&a.input).map(|m| m.len()).unwrap_or(0);
    let (convert_ms, write_ms) = ((t1 - t0).as_secs_f64() * 1e3, (t2 - t1).as_secs_f64() * 1e3);
    if a.json {
        let j = crate::json::convert_report(&conv.report, &a.input, in_size, &a.output, size as usize, &notes, convert_ms, write_ms);
        println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default());
        return Ok(EXIT_OK);
    }
    for n in &notes {
        println!("{n}");
    }
    println!("{} ({:.1} MB) -> {} ({:.1} MB)", a.input.display(), in_size as f64 / 1e6, a.output.display(), size as f64 / 1e6);
    print!("{io}");
    print!("{}", conv.report);
    println!("time: convert {convert_ms:.1} ms, write {write_ms:.1} ms");
    Ok(EXIT_OK)
}

/// Quantizes as `q` asks; with `pixels`, the calibration samples
/// (normalised, as the converted model took them) are mapped back to pixel
/// values.
pub(crate) fn quantize_model(
    model: &tflite_forge::Model,
    q: &QuantArgs,
    mut options: QuantizeOptions,
    pixels: Option<(&[f32], &[f32])>,
    notes: &mut Vec<String>,
) -> Result<tflite_forge::Model, CliError> {
    let mut data = q.dataset(model).map_err(|e| {
        CliError::input(e).hint("calibration samples are .npy/.npz arrays in the ONNX (NCHW) or the converted layout; see --calibration-layout")
    })?;
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
    Ok(quant_args::run(model, q, &options, &data, notes).map_err(|e| CliError::input(e.to_string()))?.model)
}
