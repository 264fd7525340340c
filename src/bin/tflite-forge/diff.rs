//! `tflite-forge diff`: structural difference of two .tflite files.

use std::path::PathBuf;

use crate::output::{read_model, CliResult, EXIT_FAILED, EXIT_OK};

/// Arguments of `diff`.
#[derive(clap::Args)]
pub struct Args {
    /// The first .tflite file (A).
    a: PathBuf,
    /// The second .tflite file (B).
    b: PathBuf,
    /// Print at most this many differences (all are counted).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// Runs `diff`: exit 0 when the files are structurally equal, 1 when they
/// differ.
pub fn run(a: Args) -> CliResult {
    let (_, ma) = read_model(&a.a)?;
    let (_, mb) = read_model(&a.b)?;
    let d = tflite_forge::diff::diff(&ma, &mb);
    if d.is_empty() {
        println!("equal: {} and {} have the same ops, tensors, buffers, signatures and metadata", a.a.display(), a.b.display());
        return Ok(EXIT_OK);
    }
    for c in d.iter().take(a.limit) {
        println!("{c}");
    }
    if d.len() > a.limit {
        println!("... {} more", d.len() - a.limit);
    }
    println!("{} difference(s)", d.len());
    Ok(EXIT_FAILED)
}
