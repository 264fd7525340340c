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
#[path = "tflite-forge/inspect.rs"]
mod inspect;
#[path = "tflite-forge/json.rs"]
mod json;
#[path = "tflite-forge/npy.rs"]
mod npy;
#[path = "tflite-forge/output.rs"]
mod output;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Convert(a) => convert::run(a),
        Command::Inspect(a) => inspect::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}", e.line());
            ExitCode::from(e.code)
        }
    }
}
