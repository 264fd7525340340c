//! The representative dataset for `--quantize int8`: a directory of `.npy`
//! files, one float32 array per sample, shaped like the model's input.

use std::path::Path;

use tflite_forge::eval::Value;
use tflite_forge::{Dim, Model};

/// Largest sample file accepted.
const MAX_FILE: u64 = 1 << 30;

/// Parses a little-endian float32, C-order `.npy` (format 1.x, 2.x or 3.x).
fn parse(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file".into());
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start.checked_add(header_len).filter(|e| *e <= bytes.len()).ok_or("truncated header")?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| "header is not text")?;
    if !header.contains("'descr': '<f4'") {
        return Err(format!("only little-endian float32 arrays are supported; header {header:?}"));
    }
    if header.contains("'fortran_order': True") {
        return Err("Fortran-order arrays are not supported".into());
    }
    let shape_text = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .ok_or("no shape in the header")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|e| format!("shape {shape_text:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let count = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)).ok_or("shape overflows")?;
    let data = &bytes[end..];
    if count.checked_mul(4) != Some(data.len()) {
        return Err(format!("shape {shape:?} needs {count} floats, the file holds {} bytes", data.len()));
    }
    let values = data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok((shape, values))
}

/// Loads every `*.npy` of `dir` (sorted by name) as one sample of the
/// model's single input.
pub fn load_dataset(dir: &Path, model: &Model) -> Result<Vec<Vec<Value>>, String> {
    let sg = model.subgraphs.first().ok_or("the model has no subgraph")?;
    let [input] = sg.inputs.as_slice() else {
        return Err(format!("--calibration supports models with one input; this one has {}", sg.inputs.len()));
    };
    let want = &sg.tensors[input.index()].shape;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "npy"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no .npy files", dir.display()));
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let len = std::fs::metadata(&f).map_err(|e| format!("{}: {e}", f.display()))?.len();
        if len > MAX_FILE {
            return Err(format!("{}: {len} bytes is over the 1 GiB limit", f.display()));
        }
        let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let (shape, values) = parse(&bytes).map_err(|e| format!("{}: {e}", f.display()))?;
        let fits = shape.len() == want.dims().len()
            && shape.iter().zip(want.dims()).all(|(s, d)| matches!(d, Dim::Dynamic) || d.fixed() == Some(*s as u32));
        if !fits {
            return Err(format!("{}: shape {shape:?} does not fit the model input {want}", f.display()));
        }
        out.push(vec![Value::from_f32(shape, values)]);
    }
    Ok(out)
}
