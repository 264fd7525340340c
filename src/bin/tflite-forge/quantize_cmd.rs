//! `tflite-forge quantize IN.tflite -o OUT.tflite`: quantizes an existing
//! float `.tflite` file, made by tflite-forge or by another tool
//! (TensorFlow's converter, MediaPipe: their float16 weights behind
//! DEQUANTIZE ops are folded to float32 first).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::convert::quantize_model;
use crate::quant_args::QuantArgs;
use crate::output::{print_io, read_model, write_atomic, CliError, CliResult, EXIT_OK};

/// The `quantize` subcommand's arguments.
#[derive(Args)]
pub struct QuantizeArgs {
    /// The float .tflite file.
    input: PathBuf,
    /// Where to write the quantized .tflite file (written atomically).
    #[arg(short, long)]
    output: PathBuf,
    /// The mode (`--quantize` or `--mode`), data and options, as for
    /// `convert`.
    #[command(flatten)]
    quant: QuantArgs,
}

/// Runs the subcommand.
pub fn run(args: QuantizeArgs) -> CliResult {
    let t0 = Instant::now();
    let (bytes, model) = read_model(&args.input)?;
    let options = args
        .quant
        .options()
        .map_err(CliError::input)?
        .ok_or_else(|| CliError::input("no quantization mode given").hint("add --mode int8|int16x8|int4|dynamic|dynamic-int4|weight-int8|float16"))?;
    let mut notes = Vec::new();
    let quantized = quantize_model(&model, &args.quant, options, None, &mut notes).map_err(|e| {
        let text = e.line();
        let hint = if text.contains("already") || text.contains("QUANTIZE") {
            "the file looks quantized already; quantize its float original"
        } else if text.contains("calibration") {
            "give --calibration DIR|FILE with .npy/.npz samples shaped like the model input"
        } else {
            "see `tflite-forge inspect` for the model's ops; `--mode dynamic` or `float16` need no kernels beyond the float ones"
        };
        if e.hint.is_some() { e } else { e.hint(hint) }
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
