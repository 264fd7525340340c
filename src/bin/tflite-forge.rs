//! The `tflite-forge` command-line tool: one module per subcommand under
//! `src/bin/tflite-forge/`.
//!
//! Exit codes: 0 success (`diff`: equal; `verify`: within tolerance);
//! 1 the check failed (`diff`: different; `verify`: above tolerance);
//! 2 usage or input error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[path = "tflite-forge/convert.rs"]
mod convert;
#[path = "tflite-forge/diff.rs"]
mod diff;
#[path = "tflite-forge/dot.rs"]
mod dot;
#[path = "tflite-forge/edit.rs"]
mod edit;
#[path = "tflite-forge/inspect.rs"]
mod inspect;
#[path = "tflite-forge/json.rs"]
mod json;
#[path = "tflite-forge/metadata.rs"]
mod metadata;
#[path = "tflite-forge/output.rs"]
mod output;
#[path = "tflite-forge/verify.rs"]
mod verify;
#[path = "tflite-forge/quant_args.rs"]
mod quant_args;
#[path = "tflite-forge/quantize_cmd.rs"]
mod quantize_cmd;

/// The quantization modes of `convert --quantize` and `quantize --mode`.
const MODES: [&str; 7] = ["int8", "int16x8", "dynamic", "float16", "int4", "dynamic-int4", "weight-int8"];

const EXIT_CODES: &str = "Exit codes:
  0  success (diff: the files are equal; verify: every output is within tolerance)
  1  the check failed (diff: the files differ; verify: an output is above tolerance)
  2  usage or input error (bad arguments, unreadable or invalid file, unsupported op)

Errors are one line on stderr naming the file, node or tensor, with a hint.
Output files are written atomically: on error no partial file is left.";

#[derive(Parser)]
#[command(
    name = "tflite-forge",
    version,
    about = "Convert ONNX models to TensorFlow Lite, and inspect, diff, draw, label and verify .tflite files",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert an ONNX model to a .tflite file.
    #[command(after_help = EXIT_CODES)]
    Convert(convert::Args),
    /// Print a .tflite file's ops, tensors, signatures, metadata and sizes.
    #[command(after_help = EXIT_CODES)]
    Inspect(inspect::Args),
    /// Compare two .tflite files structurally (ops, tensors, shapes,
    /// quantization, buffers by hash, metadata); exit 1 when they differ.
    #[command(after_help = EXIT_CODES)]
    Diff(diff::Args),
    /// Write the graph in Graphviz DOT: op types, shapes, subgraphs as clusters.
    #[command(after_help = EXIT_CODES)]
    Dot(dot::Args),
    /// Add or edit TFLite Support metadata (labels, normalisation, name,
    /// author, license) of an existing .tflite file made by any tool.
    #[command(after_help = EXIT_CODES)]
    Metadata(metadata::Args),
    /// Check a .tflite against its ONNX model with the reference evaluator
    /// on both sides; exit 1 when an output is above tolerance.
    #[command(after_help = EXIT_CODES)]
    Verify(verify::Args),
    /// Quantize a float .tflite file (from tflite-forge, TensorFlow's
    /// converter, MediaPipe, ...).
    #[command(after_help = EXIT_CODES)]
    Quantize(quantize_cmd::QuantizeArgs),
    /// Rewrite a .tflite file made by any tool: --dynamic-batch makes the
    /// batch dimension dynamic.
    #[command(after_help = EXIT_CODES)]
    Edit(edit::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Convert(a) => convert::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Dot(a) => dot::run(a),
        Command::Metadata(a) => metadata::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Quantize(a) => quantize_cmd::run(a),
        Command::Edit(a) => edit::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}", e.line());
            ExitCode::from(e.code)
        }
    }
}
