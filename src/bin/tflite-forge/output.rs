//! Shared output helpers: the error type with its exit code, atomic file
//! output, terminal-only progress, and the small text formatters the
//! subcommands share.

use std::io::IsTerminal;
use std::path::Path;

/// Exit code: success (and "equal" for `diff`, "within tolerance" for `verify`).
pub const EXIT_OK: u8 = 0;
/// Exit code: the check failed (`diff`: the files differ; `verify`: an
/// output is above the tolerance).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage or input error (bad arguments, unreadable or invalid
/// file, unsupported op).
pub const EXIT_ERROR: u8 = 2;

/// A failure of a subcommand: one line naming what went wrong, an optional
/// hint, and the exit code.
#[derive(Debug)]
pub struct CliError {
    /// What went wrong (made one line when printed).
    pub message: String,
    /// What to try instead.
    pub hint: Option<String>,
    /// The process exit code.
    pub code: u8,
}

impl CliError {
    /// An input or usage error (exit code 2).
    pub fn input(message: impl Into<String>) -> Self {
        CliError { message: message.into(), hint: None, code: EXIT_ERROR }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The one line printed on stderr.
    pub fn line(&self) -> String {
        let one = |s: &str| s.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        match &self.hint {
            Some(h) => format!("error: {} (hint: {})", one(&self.message), one(h)),
            None => format!("error: {}", one(&self.message)),
        }
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::input(e.to_string())
    }
}

/// The result of a subcommand: the exit code on success (0, or 1 for a
/// failed check).
pub type CliResult = Result<u8, CliError>;

/// Reads an input file; the error names the file.
pub fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::input(format!("{}: {e}", path.display())).hint("check the path"))
}

/// Reads and parses a .tflite file; the error names the file.
pub fn read_model(path: &Path) -> Result<(Vec<u8>, tflite_forge::Model), CliError> {
    let bytes = read_file(path)?;
    let model = tflite_forge::read(&bytes).map_err(|e| {
        CliError::input(format!("{}: {e}", path.display())).hint("the file must be a valid .tflite (TFL3) flatbuffer")
    })?;
    Ok((bytes, model))
}

/// Writes a model given up to `path` atomically (streamed); returns its size.
pub fn write_model_file(model: tflite_forge::Model, path: &Path) -> Result<u64, CliError> {
    tflite_forge::write::write_file_owned(model, path).map_err(|e| match e {
        tflite_forge::Error::Io { .. } => CliError::input(e.to_string()).hint("check that the output directory exists and is writable"),
        other => CliError::from(other),
    })
}

/// Writes `bytes` to `path` atomically (a temporary file in the same
/// directory, then a rename): on error no partial file is left.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    tflite_forge::write::atomic_write(path, bytes)
        .map_err(|e| CliError::input(e.to_string()).hint("check that the output directory exists and is writable"))
}

/// Progress shown on stderr only when it is a terminal; quiet otherwise.
pub struct Progress {
    on: bool,
}

impl Progress {
    /// A progress line, live only on a terminal.
    pub fn new() -> Self {
        Progress { on: std::io::stderr().is_terminal() }
    }

    /// Replaces the progress line with `text`.
    pub fn set(&self, text: &str) {
        if self.on {
            eprint!("\r\x1b[2K{text}");
        }
    }

    /// Clears the progress line.
    pub fn done(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}

/// " scale S zero_point Z" for a per-tensor quantized tensor.
pub fn quant_text(t: &tflite_forge::Tensor) -> String {
    match &t.quantization {
        Some(q) if q.scale.len() == 1 => format!(" scale {} zero_point {}", q.scale[0], q.zero_point.first().copied().unwrap_or(0)),
        Some(q) if !q.scale.is_empty() => format!(" per-axis({}) x{}", q.axis, q.scale.len()),
        _ => String::new(),
    }
}

/// Prints each signature's inputs and outputs.
pub fn print_io(model: &tflite_forge::Model) {
    print!("{}", io_text(model));
}

/// The signature listing that [`print_io`] prints.
pub fn io_text(model: &tflite_forge::Model) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for s in &model.signatures {
        let Some(sg) = model.subgraphs.get(s.subgraph as usize) else { continue };
        let _ = writeln!(out, "signature {:?}:", s.key);
        for (dir, list) in [("input ", &s.inputs), ("output", &s.outputs)] {
            for (n, t) in list {
                if let Some(t) = sg.tensors.get(t.index()) {
                    let _ = writeln!(out, "  {dir} {n:<20} {} {}{}", t.dtype, t.shape, quant_text(t));
                }
            }
        }
    }
    out
}
