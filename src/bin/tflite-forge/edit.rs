//! `tflite-forge edit`: rewrites an existing .tflite file, made by any tool.
//! Today it makes the batch dynamic (`--dynamic-batch`).

use std::path::PathBuf;

use tflite_forge::passes::batch::make_batch_dynamic;

use crate::output::{io_text, read_model, write_model_file, CliError, CliResult, EXIT_OK};

/// Arguments of `edit`.
#[derive(clap::Args)]
pub struct Args {
    /// The .tflite file to read (not modified).
    model: PathBuf,
    /// Where to write the result (written atomically; may equal MODEL).
    #[arg(short, long)]
    output: PathBuf,
    /// Make the first dimension of every input of rank 2 or more dynamic
    /// (-1 in shape_signature) and infer every shape again, so the file
    /// runs at any batch after resize_tensor_input.
    #[arg(long)]
    dynamic_batch: bool,
}

/// Runs `edit`.
pub fn run(a: Args) -> CliResult {
    if !a.dynamic_batch {
        return Err(CliError::input("nothing to change").hint("pass --dynamic-batch"));
    }
    let (_, mut model) = read_model(&a.model)?;
    let report = make_batch_dynamic(&mut model).map_err(|e| {
        CliError::input(format!("{}: cannot make the batch dynamic: {e}", a.model.display()))
            .hint("the batch stays fixed; the operator named above cannot follow a dynamic first dimension")
    })?;
    let io = io_text(&model);
    let size = write_model_file(model, &a.output)?;
    println!("{} -> {} ({size} bytes): dynamic batch on {}", a.model.display(), a.output.display(), report.inputs.join(", "));
    if !report.fixed_outputs.is_empty() {
        println!("outputs whose first dimension stays fixed: {}", report.fixed_outputs.join(", "));
    }
    print!("{io}");
    Ok(EXIT_OK)
}
