//! `tflite-forge metadata`: adds or edits TFLite Support metadata of an
//! existing .tflite file, made by any tool.

use std::path::PathBuf;

use tflite_forge::metadata::ImageClassifierInfo;

use crate::output::{read_file, read_model, write_atomic, CliError, CliResult, EXIT_OK};

/// Arguments of `metadata`.
#[derive(clap::Args)]
pub struct Args {
    /// The .tflite file to read (not modified).
    model: PathBuf,
    /// Where to write the result (written atomically; may equal MODEL).
    #[arg(short, long)]
    output: PathBuf,
    /// Labels, one per line: writes image-classifier metadata (image input
    /// of subgraph 0, scores output with these labels, packed as
    /// labels.txt), replacing any metadata there was.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Normalisation mean on 0..255 pixels: one or one per channel,
    /// comma-separated (with --labels; needed for a float input).
    #[arg(long, value_delimiter = ',', requires = "std", requires = "labels")]
    mean: Vec<f32>,
    /// Normalisation standard deviation(s) (see --mean).
    #[arg(long, value_delimiter = ',', requires = "mean")]
    std: Vec<f32>,
    /// Model name (default: the existing metadata's, else the file stem).
    #[arg(long)]
    name: Option<String>,
    /// Author.
    #[arg(long)]
    author: Option<String>,
    /// License.
    #[arg(long)]
    license: Option<String>,
    /// Model version.
    #[arg(long = "model-version")]
    model_version: Option<String>,
    /// Model description.
    #[arg(long)]
    description: Option<String>,
}

/// Runs `metadata`. Without --labels it edits the fields of the metadata
/// already in the file.
pub fn run(a: Args) -> CliResult {
    let (_, mut model) = read_model(&a.model)?;
    let existing = model.support_metadata().map_err(|e| {
        CliError::input(format!("{}: TFLite Support metadata: {e}", a.model.display())).hint("pass --labels to replace it")
    })?;
    match &a.labels {
        Some(path) => {
            let text = String::from_utf8(read_file(path)?)
                .map_err(|_| CliError::input(format!("{}: not UTF-8 text", path.display())).hint("labels are UTF-8 text, one per line"))?;
            let labels: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
            let name = a
                .name
                .clone()
                .or_else(|| existing.as_ref().and_then(|m| m.name.clone()))
                .unwrap_or_else(|| a.model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
            let mut info = ImageClassifierInfo::new(name, labels);
            info.mean = a.mean.clone();
            info.std = a.std.clone();
            info.author = a.author.clone().or_else(|| existing.as_ref().and_then(|m| m.author.clone()));
            info.license = a.license.clone().or_else(|| existing.as_ref().and_then(|m| m.license.clone()));
            info.version = a.model_version.clone().or_else(|| existing.as_ref().and_then(|m| m.version.clone()));
            info.description = a.description.clone().or_else(|| existing.as_ref().and_then(|m| m.description.clone()));
            info.apply(&mut model).map_err(|e| {
                CliError::input(format!("{}: {e}", a.model.display()))
                    .hint("--labels writes image-classifier metadata: one NHWC image input, one scores output with a label per score")
            })?;
        }
        None => {
            let Some(mut md) = existing else {
                return Err(CliError::input(format!("{}: has no TFLite Support metadata to edit", a.model.display()))
                    .hint("pass --labels (and --mean/--std for a float input) to add image-classifier metadata"));
            };
            if a.name.is_none() && a.author.is_none() && a.license.is_none() && a.model_version.is_none() && a.description.is_none() {
                return Err(CliError::input("nothing to change").hint("pass --labels, --name, --author, --license, --model-version or --description"));
            }
            md.name = a.name.clone().or(md.name);
            md.author = a.author.clone().or(md.author);
            md.license = a.license.clone().or(md.license);
            md.version = a.model_version.clone().or(md.version);
            md.description = a.description.clone().or(md.description);
            model.set_support_metadata(&md)?;
        }
    }
    let bytes = tflite_forge::write(&model)?;
    write_atomic(&a.output, &bytes)?;
    let md = model.support_metadata()?.unwrap_or_default();
    println!(
        "{} -> {} ({} bytes): metadata name {:?}, {} packed file(s)",
        a.model.display(),
        a.output.display(),
        bytes.len(),
        md.name.unwrap_or_default(),
        model.associated_files.len()
    );
    Ok(EXIT_OK)
}
