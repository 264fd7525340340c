//! `tflite-forge quantize IN.tflite -o OUT.tflite`: quantizes an existing
//! float `.tflite` file, made by tflite-forge or by another tool
//! (TensorFlow's converter, MediaPipe: their float16 weights behind
//! DEQUANTIZE ops are folded to float32 first).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::convert::{quantize_model, Quant};
use crate::output::{print_io, read_model, write_atomic, CliError, CliResult, EXIT_OK};

/// The `quantize` subcommand's arguments.
#[derive(Args)]
pub struct QuantizeArgs {
    /// The float .tflite file.
    input: PathBuf,
    /// Where to write the quantized .tflite file (written atomically).
    #[arg(short, long)]
    output: PathBuf,
    /// int8 (full integer) or int16x8 (int16 activations, int8 weights),
    /// both needing --calibration; dynamic (int8 weights, float
    /// activations), float16, int4 (full int8 with int4 CONV_2D,
    /// DEPTHWISE_CONV_2D and FULLY_CONNECTED weights, needing --calibration)
    /// dynamic-int4 (int4 FULLY_CONNECTED weights, float activations) or
    /// weight-int8 (int8 weights dequantized to float at run time).
    #[arg(long, visible_alias = "quantize", value_parser = crate::MODES)]
    mode: String,
    /// Input and output type: float, int8 or uint8 (int8 models), int16
    /// (int16x8 models).
    #[arg(long, value_parser = ["float", "int8", "uint8", "int16"], default_value = "float")]
    io: String,
    /// A directory of .npy files (float32, one per sample, shaped like the
    /// model's input) used as the representative dataset.
    #[arg(long)]
    calibration: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: QuantizeArgs) -> CliResult {
    let t0 = Instant::now();
    let (bytes, model) = read_model(&args.input)?;
    let q = Quant { mode: args.mode, io: args.io, calibration: args.calibration };
    let mut notes = Vec::new();
    let quantized = quantize_model(&model, &q, None, &mut notes).map_err(|e| {
        let text = e.line();
        let hint = if text.contains("already") || text.contains("QUANTIZE") {
            "the file looks quantized already; quantize its float original"
        } else if text.contains("calibration") {
            "give --calibration DIR with .npy samples shaped like the model input"
        } else {
            "see `tflite-forge inspect` for the model's ops; `--mode dynamic` or `float16` need no kernels beyond the float ones"
        };
        e.hint(hint)
    })?;
    let out = tflite_forge::write(&quantized).map_err(|e| CliError::input(format!("{}: {e}", args.output.display())))?;
    write_atomic(&args.output, &out)?;
    for n in notes {
        println!("{n}");
    }
    println!(
        "{} ({:.2} MB) -> {} ({:.2} MB) in {:.1} s",
        args.input.display(),
        bytes.len() as f64 / 1e6,
        args.output.display(),
        out.len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    print_io(&quantized);
    Ok(EXIT_OK)
}
