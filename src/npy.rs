//! NumPy's `.npy` and `.npz` files, read into and written from evaluator
//! [`Value`]s.
//!
//! This is how tensors travel between Python and this crate: calibration
//! samples for quantization, inputs for `verify`, reference outputs in
//! tests. Supported:
//!
//! - `.npy` format versions 1, 2 and 3, C order, little-endian (or
//!   single-byte) element types float16, float32, float64, int8, uint8,
//!   int16, uint16, int32, uint32, int64 and bool;
//! - `.npz` archives as `np.savez` writes them (stored entries; the
//!   deflated ones of `np.savez_compressed` are a typed error that says so).
//!
//! Reading never panics and allocates in proportion to the input: an
//! element count that does not match the bytes present is an error before
//! anything is allocated. int64 values above 2^53 lose precision, as
//! [`Value`] holds `f64`.
//!
//! ```
//! use tflite_forge::eval::Value;
//! use tflite_forge::npy;
//!
//! let x = Value::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! let bytes = npy::write_npy(&x)?;
//! assert_eq!(npy::read_npy(&bytes)?, x);
//!
//! let archive = npy::write_npz(&[("input", &x)])?;
//! let entries = npy::read_npz(&archive)?;
//! assert_eq!(entries, vec![("input".to_string(), x)]);
//! # Ok::<(), npy::NpyError>(())
//! ```

use half::f16;
use thiserror::Error;

use crate::eval::Value;
use crate::model::DType;
use crate::zip;

/// Why a `.npy` or `.npz` file could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The bytes are not a `.npy` file, or its header is malformed.
    #[error("not a valid .npy file: {0}")]
    Format(String),
    /// A valid file that this reader does not take (Fortran order,
    /// big-endian, an element type with no [`DType`], ...).
    #[error("unsupported .npy file: {0}")]
    Unsupported(String),
    /// The `.npz` archive could not be read.
    #[error(".npz archive: {0}")]
    Archive(String),
    /// An entry of a `.npz` archive is not a valid `.npy` file.
    #[error(".npz entry {name:?}: {source}")]
    Entry {
        /// The entry's array name (its file name without `.npy`).
        name: String,
        /// What was wrong with it.
        source: Box<NpyError>,
    },
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// The NumPy type string and byte width of each supported element type.
const TYPES: &[(DType, &str, usize)] = &[
    (DType::F32, "f4", 4),
    (DType::F16, "f2", 2),
    (DType::F64, "f8", 8),
    (DType::I8, "i1", 1),
    (DType::U8, "u1", 1),
    (DType::I16, "i2", 2),
    (DType::U16, "u2", 2),
    (DType::I32, "i4", 4),
    (DType::U32, "u4", 4),
    (DType::I64, "i8", 8),
    (DType::Bool, "b1", 1),
];

/// Reads one `.npy` file.
///
/// ```
/// use tflite_forge::npy::{read_npy, NpyError};
/// assert!(matches!(read_npy(b"not numpy"), Err(NpyError::Format(_))));
/// ```
///
/// # Errors
/// [`NpyError::Format`] for a malformed or truncated file,
/// [`NpyError::Unsupported`] for Fortran order, big-endian data or element
/// types without a [`DType`] (object, string, complex, ...).
pub fn read_npy(bytes: &[u8]) -> Result<Value, NpyError> {
    let fmt = |s: String| NpyError::Format(s);
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(fmt("missing the \\x93NUMPY magic".into()));
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(NpyError::Unsupported(format!("format version {v}"))),
    };
    let end = start
        .checked_add(header_len)
        .filter(|e| *e <= bytes.len())
        .ok_or_else(|| fmt(format!("the header needs {header_len} bytes, the file has {}", bytes.len() - start)))?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| fmt("the header is not text".into()))?;
    let descr = field(header, "descr").ok_or_else(|| fmt(format!("no 'descr' in the header {header:?}")))?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    let (order, code) = descr.split_at(descr.len().min(1));
    let &(dtype, _, width) = TYPES
        .iter()
        .find(|(_, c, _)| *c == code)
        .ok_or_else(|| NpyError::Unsupported(format!("element type {descr:?}")))?;
    match order {
        "<" | "|" => {}
        "=" if cfg!(target_endian = "little") => {}
        _ if width == 1 => {}
        _ => return Err(NpyError::Unsupported(format!("byte order of {descr:?} (only little-endian is read)"))),
    }
    let fortran = field(header, "fortran_order").ok_or_else(|| fmt(format!("no 'fortran_order' in {header:?}")))?;
    match fortran.trim() {
        "False" => {}
        "True" => return Err(NpyError::Unsupported("Fortran-order array (save it with np.ascontiguousarray)".into())),
        other => return Err(fmt(format!("'fortran_order' is {other:?}"))),
    }
    let shape = parse_shape(field(header, "shape").ok_or_else(|| fmt(format!("no 'shape' in {header:?}")))?)?;
    let count = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)).ok_or_else(|| fmt(format!("shape {shape:?} overflows")))?;
    let data = &bytes[end..];
    if count.checked_mul(width) != Some(data.len()) {
        return Err(fmt(format!("shape {shape:?} of {descr} needs {count} elements, the file holds {} bytes", data.len())));
    }
    Ok(Value::new(dtype, shape, decode(dtype, data)))
}

/// The text of `'key': value` in a header dictionary, up to the next
/// top-level comma (a tuple's commas are inside its parentheses).
fn field<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let at = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[at + key.len() + 2..].trim_start().strip_prefix(':')?;
    let mut depth = 0usize;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1)?,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}

fn parse_shape(text: &str) -> Result<Vec<usize>, NpyError> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| NpyError::Format(format!("shape {text:?} is not a tuple")))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>().map_err(|e| NpyError::Format(format!("shape {text:?}: {e}"))))
        .collect()
}

fn decode(dtype: DType, data: &[u8]) -> Vec<f64> {
    fn each<const N: usize>(data: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        data.chunks_exact(N).map(|c| f(c.try_into().unwrap_or([0; N]))).collect()
    }
    match dtype {
        DType::F32 => each(data, |b| f32::from_le_bytes(b).into()),
        DType::F16 => each(data, |b| f16::from_le_bytes(b).to_f64()),
        DType::F64 => each(data, f64::from_le_bytes),
        DType::I8 => each(data, |b| i8::from_le_bytes(b).into()),
        DType::U8 => each(data, |b| u8::from_le_bytes(b).into()),
        DType::I16 => each(data, |b| i16::from_le_bytes(b).into()),
        DType::U16 => each(data, |b| u16::from_le_bytes(b).into()),
        DType::I32 => each(data, |b| i32::from_le_bytes(b).into()),
        DType::U32 => each(data, |b| u32::from_le_bytes(b).into()),
        DType::I64 => each(data, |b| i64::from_le_bytes(b) as f64),
        _ => each(data, |[b]: [u8; 1]| f64::from(u8::from(b != 0))),
    }
}

/// Writes a value as a version 1.0 `.npy` file (version 2.0 if the header
/// needs it), with the same bytes NumPy's `np.save` writes.
///
/// # Errors
/// [`NpyError::Unsupported`] for element types without a NumPy type here,
/// [`NpyError::Format`] when `data` does not hold as many elements as
/// `shape` needs.
pub fn write_npy(value: &Value) -> Result<Vec<u8>, NpyError> {
    let &(dtype, code, width) = TYPES
        .iter()
        .find(|(d, _, _)| *d == value.dtype)
        .ok_or_else(|| NpyError::Unsupported(format!("element type {}", value.dtype)))?;
    let count = value.shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d));
    if count != Some(value.data.len()) {
        return Err(NpyError::Format(format!("shape {:?} does not hold {} elements", value.shape, value.data.len())));
    }
    let order = if width == 1 { '|' } else { '<' };
    let dims: Vec<String> = value.shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{order}{code}', 'fortran_order': False, 'shape': {shape}, }}");
    // NumPy pads the header with spaces and a newline to a multiple of 64.
    let prefix = if header.len() + 11 <= usize::from(u16::MAX) { 10 } else { 12 };
    let total = (prefix + header.len() + 1).div_ceil(64) * 64;
    header.push_str(&" ".repeat(total - prefix - header.len() - 1));
    header.push('\n');
    let mut out = Vec::with_capacity(total + count.unwrap_or(0) * width);
    out.extend_from_slice(MAGIC);
    if prefix == 10 {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    for &v in &value.data {
        match dtype {
            DType::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
            DType::F16 => out.extend_from_slice(&f16::from_f64(v).to_le_bytes()),
            DType::F64 => out.extend_from_slice(&v.to_le_bytes()),
            DType::I8 => out.extend_from_slice(&(v as i8).to_le_bytes()),
            DType::U8 => out.push(v as u8),
            DType::I16 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            DType::U16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
            DType::I32 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            DType::U32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
            DType::I64 => out.extend_from_slice(&(v as i64).to_le_bytes()),
            _ => out.push(u8::from(v != 0.0)),
        }
    }
    Ok(out)
}

/// Reads a `.npz` archive: each array with its name (the entry's file name
/// without `.npy`), in archive order.
///
/// # Errors
/// [`NpyError::Archive`] when the bytes are not a stored zip archive (for
/// example `np.savez_compressed` output), [`NpyError::Entry`] naming the
/// array that is not a valid `.npy` file.
pub fn read_npz(bytes: &[u8]) -> Result<Vec<(String, Value)>, NpyError> {
    let archive = zip::find_archive(bytes)
        .map_err(|e| {
            let hint = if matches!(e, zip::ZipError::Compressed { .. }) { " (save with np.savez, not np.savez_compressed)" } else { "" };
            NpyError::Archive(format!("{e}{hint}"))
        })?
        .ok_or_else(|| NpyError::Archive("no zip archive found".into()))?;
    if archive.start() != 0 {
        return Err(NpyError::Archive(format!("{} bytes precede the archive", archive.start())));
    }
    archive
        .entries()
        .iter()
        .map(|e| {
            let name = e.name.strip_suffix(".npy").unwrap_or(&e.name).to_string();
            let value = read_npy(e.data).map_err(|source| NpyError::Entry { name: name.clone(), source: Box::new(source) })?;
            Ok((name, value))
        })
        .collect()
}

/// Writes named arrays as a `.npz` archive that `np.load` reads (each entry
/// `NAME.npy`, stored, in the given order).
///
/// # Errors
/// Those of [`write_npy`], and [`NpyError::Archive`] for names that the
/// archive cannot hold.
pub fn write_npz(arrays: &[(&str, &Value)]) -> Result<Vec<u8>, NpyError> {
    let entries = arrays
        .iter()
        .map(|(name, v)| {
            let data = write_npy(v).map_err(|source| NpyError::Entry { name: name.to_string(), source: Box::new(source) })?;
            Ok(zip::Entry { name: format!("{name}.npy"), data })
        })
        .collect::<Result<Vec<_>, NpyError>>()?;
    let mut out = Vec::new();
    zip::append_stored(&mut out, &entries).map_err(|e| NpyError::Archive(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        for &(dtype, _, _) in TYPES {
            let data = match dtype {
                DType::Bool => vec![1.0, 0.0, 1.0],
                DType::U8 | DType::U16 | DType::U32 => vec![0.0, 7.0, 200.0],
                _ if dtype.is_float() => vec![-3.0, 0.5, 100.0],
                _ => vec![-3.0, 0.0, 100.0],
            };
            let v = Value::new(dtype, vec![3], data);
            let back = read_npy(&write_npy(&v).unwrap()).unwrap();
            assert_eq!(back, v, "{dtype}");
        }
    }

    #[test]
    fn header_is_padded_to_64() {
        let bytes = write_npy(&Value::from_f32(vec![1, 2, 2], vec![0.0; 4])).unwrap();
        let len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!((10 + len) % 64, 0);
        assert_eq!(bytes[10 + len - 1], b'\n');
        assert!(std::str::from_utf8(&bytes[10..10 + len]).unwrap().contains("'shape': (1, 2, 2)"));
    }

    #[test]
    fn scalar_and_empty_shapes() {
        let s = Value::from_f32(vec![], vec![4.5]);
        assert_eq!(read_npy(&write_npy(&s).unwrap()).unwrap(), s);
        let e = Value::from_f32(vec![0, 3], vec![]);
        assert_eq!(read_npy(&write_npy(&e).unwrap()).unwrap(), e);
    }

    #[test]
    fn bad_files_are_typed_errors() {
        let good = write_npy(&Value::from_f32(vec![2], vec![1.0, 2.0])).unwrap();
        for cut in 0..good.len() {
            assert!(read_npy(&good[..cut]).is_err(), "truncated at {cut}");
        }
        let edit = |from: &str, to: &str| {
            let at = good.windows(from.len()).position(|w| w == from.as_bytes()).unwrap();
            let mut b = good.clone();
            b.splice(at..at + from.len(), to.bytes());
            read_npy(&b)
        };
        assert!(matches!(edit("'<f4'", "'>f4'"), Err(NpyError::Unsupported(_))));
        assert!(matches!(edit("False", "True "), Err(NpyError::Unsupported(_))));
        assert!(matches!(edit("'<f4'", "'|O8'"), Err(NpyError::Unsupported(_))));
        assert!(matches!(edit("(2,)", "(9999999999999999999,)"), Err(NpyError::Format(_))));
        assert!(matches!(edit("(2,)", "(3,)"), Err(NpyError::Format(_))));
    }

    #[test]
    fn npz_names_and_order() {
        let a = Value::from_f32(vec![1], vec![1.0]);
        let b = Value::from_i32(vec![2], vec![3, 4]);
        let bytes = write_npz(&[("b", &b), ("a", &a)]).unwrap();
        let back = read_npz(&bytes).unwrap();
        assert_eq!(back, vec![("b".to_string(), b), ("a".to_string(), a)]);
        assert!(matches!(read_npz(b"nothing"), Err(NpyError::Archive(_))));
    }
}
