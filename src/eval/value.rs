//! Dense tensor values.

use std::fmt::Display;

use half::f16;

use super::{convert, EvalError, DEFAULT_MAX_ELEMENTS};
use crate::model::{DType, Quantization, Tensor};

/// A dense tensor value, row-major.
///
/// Every element is held as an `f64`: floats as their value, already
/// rounded to the element type (a float32 element is exactly an `f32`);
/// integer tensors, quantized or not, as their raw integer values. A
/// quantized value carries its parameters in [`Value::quantization`], so it
/// can be dequantized on its own ([`Value::dequantized`]).
///
/// Complex values (complex64, complex128) hold two numbers per element,
/// interleaved: `data[2 * i]` is the real part of element `i` and
/// `data[2 * i + 1]` its imaginary part, each rounded to the part's type
/// (`f32` for complex64). `shape` counts elements, not parts, so `data`
/// holds twice the product of `shape` ([`Value::len`] counts stored numbers;
/// [`Value::from_complex64`] builds one). Only the ops LiteRT runs on
/// complex tensors accept them (`RFFT2D`, `REAL`, `IMAG`, `COMPLEX_ABS`,
/// `RESHAPE`, `SQUEEZE`, `EXPAND_DIMS`, `CAST`, `MUL`); the others give
/// [`EvalError::Unsupported`].
///
/// ```
/// use tflite_forge::eval::Value;
/// use tflite_forge::{DType, Quantization};
///
/// let v = Value::from_f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]);
/// assert_eq!((v.len(), v.rank()), (4, 2));
/// assert_eq!(v.to_f32(), [1.0, 2.0, 3.0, 4.0]);
///
/// let q = Value::from_i8(vec![3], vec![-2, 0, 4]).with_quantization(Quantization::per_tensor(0.5, 0));
/// assert_eq!(q.dtype, DType::I8);
/// assert_eq!(q.to_f32(), [-2.0, 0.0, 4.0]); // raw integers
/// assert_eq!(q.dequantized()?, [-1.0, 0.0, 2.0]);
/// # Ok::<(), tflite_forge::eval::EvalError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The element type.
    pub dtype: DType,
    /// The dimensions.
    pub shape: Vec<usize>,
    /// The elements in row-major order; as many as the product of `shape`
    /// (twice as many numbers for complex types, real and imaginary parts
    /// interleaved).
    pub data: Vec<f64>,
    /// Quantization parameters, for quantized integer values. The evaluator
    /// takes them from the tensor the value belongs to.
    pub quantization: Option<Quantization>,
}

impl Value {
    /// A value of `dtype` without quantization parameters.
    ///
    /// Nothing is checked here; the evaluator checks that `data` has as many
    /// elements as `shape` needs and that they are valid for `dtype`.
    pub fn new(dtype: DType, shape: Vec<usize>, data: Vec<f64>) -> Value {
        Value { dtype, shape, data, quantization: None }
    }

    /// A float32 value.
    pub fn from_f32(shape: Vec<usize>, data: Vec<f32>) -> Value {
        Value::new(DType::F32, shape, data.into_iter().map(f64::from).collect())
    }

    /// An int32 value.
    pub fn from_i32(shape: Vec<usize>, data: Vec<i32>) -> Value {
        Value::new(DType::I32, shape, data.into_iter().map(f64::from).collect())
    }

    /// A complex64 value from `(real, imaginary)` pairs, stored interleaved.
    ///
    /// ```
    /// use tflite_forge::eval::Value;
    /// let v = Value::from_complex64(vec![2], vec![(1.0, -2.0), (0.5, 3.0)]);
    /// assert_eq!(v.shape, [2]);
    /// assert_eq!(v.data, [1.0, -2.0, 0.5, 3.0]);
    /// ```
    pub fn from_complex64(shape: Vec<usize>, data: Vec<(f32, f32)>) -> Value {
        Value::new(DType::Complex64, shape, data.into_iter().flat_map(|(re, im)| [f64::from(re), f64::from(im)]).collect())
    }

    /// An int8 value (add parameters with [`Value::with_quantization`]).
    pub fn from_i8(shape: Vec<usize>, data: Vec<i8>) -> Value {
        Value::new(DType::I8, shape, data.into_iter().map(f64::from).collect())
    }

    /// Sets the quantization parameters.
    pub fn with_quantization(mut self, q: Quantization) -> Value {
        self.quantization = Some(q);
        self
    }

    /// The value of a constant tensor, decoded from its little-endian bytes
    /// (float32, float16, float64, int8, uint8, int16, int32, int64, bool,
    /// complex64, complex128), with the tensor's quantization parameters.
    ///
    /// ```
    /// use tflite_forge::eval::Value;
    /// use tflite_forge::{ConstData, DType, Shape, Tensor};
    ///
    /// let t = Tensor::new("c", DType::I16, Shape::new([2])).with_data(ConstData::from_slice(&[-7i16, 300]));
    /// assert_eq!(Value::from_const(&t)?.data, [-7.0, 300.0]);
    /// # Ok::<(), tflite_forge::eval::EvalError>(())
    /// ```
    ///
    /// # Errors
    /// [`EvalError::Graph`] when the tensor has no data, a dynamic shape, or
    /// a byte count that does not match its shape; [`EvalError::Unsupported`]
    /// for other element types and sparse constants; [`EvalError::Limit`]
    /// above [`DEFAULT_MAX_ELEMENTS`] elements.
    pub fn from_const(t: &Tensor) -> Result<Value, EvalError> {
        Value::from_const_limited(t, DEFAULT_MAX_ELEMENTS)
    }

    /// [`Value::from_const`] with an element limit.
    pub(crate) fn from_const_limited(t: &Tensor, max_elements: usize) -> Result<Value, EvalError> {
        let graph = |detail: String| EvalError::Graph { detail };
        let unsupported = |detail: String| EvalError::Unsupported { op: "constant".into(), detail };
        let data = t.data.as_ref().ok_or_else(|| graph(format!("tensor {:?} has no constant data", t.name)))?;
        let shape = concrete_shape(t, None).ok_or_else(|| graph(format!("constant {:?} has the dynamic shape {}", t.name, t.shape)))?;
        let n = num_elements(&shape, max_elements, format_args!("constant {:?}", t.name))?;
        if let Some(s) = &t.sparsity {
            // The buffer holds the stored values only, in traversal order.
            let size = t.dtype.bits().filter(|b| b % 8 == 0 && *b > 0).ok_or_else(|| unsupported(format!("sparse tensor {:?} of {}", t.name, t.dtype)))? / 8;
            let count = u32::try_from(data.len() / size as usize).map_err(|_| graph(format!("sparse constant {:?} is too large", t.name)))?;
            let mut stored = t.clone();
            stored.sparsity = None;
            stored.shape = crate::model::Shape::from([count]);
            let stored = Value::from_const_limited(&stored, max_elements)?;
            return super::sparse::densify(&t.name, s, shape, n, stored);
        }
        let bytes = data.as_bytes();
        // INT4 constants (packed two per byte, low nibble first) are
        // computed on as the int8 values they unpack to, as LiteRT's
        // kernels do.
        if t.dtype == DType::I4 {
            let v = crate::quantize::unpack_int4(bytes, n).ok_or_else(|| {
                graph(format!("constant {:?} has {} bytes, but INT4 {} needs {}", t.name, bytes.len(), t.shape, n.div_ceil(2)))
            })?;
            let data = v.into_iter().map(f64::from).collect();
            return Ok(Value { dtype: DType::I8, shape, data, quantization: t.quantization.clone() });
        }
        let decoded = match t.dtype {
            DType::F32 => decode(bytes, n, |b| f32::from_le_bytes(b).into()),
            DType::F16 => decode(bytes, n, |b| f16::from_le_bytes(b).to_f64()),
            DType::F64 => decode(bytes, n, f64::from_le_bytes),
            DType::I8 => decode(bytes, n, |b| i8::from_le_bytes(b).into()),
            DType::U8 => decode(bytes, n, |b| u8::from_le_bytes(b).into()),
            DType::I16 => decode(bytes, n, |b| i16::from_le_bytes(b).into()),
            DType::U16 => decode(bytes, n, |b| u16::from_le_bytes(b).into()),
            DType::U32 => decode(bytes, n, |b| u32::from_le_bytes(b).into()),
            DType::I32 => decode(bytes, n, |b| i32::from_le_bytes(b).into()),
            DType::I64 => decode(bytes, n, |b| i64::from_le_bytes(b) as f64),
            DType::Bool => decode(bytes, n, |[b]| if b != 0 { 1.0 } else { 0.0 }),
            DType::Complex64 => decode_parts(bytes, n, |b| f32::from_le_bytes(b).into()),
            DType::Complex128 => decode_parts(bytes, n, f64::from_le_bytes),
            other => return Err(unsupported(format!("tensor {:?} has element type {other}", t.name))),
        };
        let data = decoded.ok_or_else(|| {
            let need = t.dtype.bytes_for(n as u64).unwrap_or(0);
            graph(format!("constant {:?} has {} bytes, but {} {} needs {need}", t.name, bytes.len(), t.dtype, t.shape))
        })?;
        Ok(Value { dtype: t.dtype, shape, data, quantization: t.quantization.clone() })
    }

    /// A value of zeros shaped like tensor `t`, its dynamic dimensions taken
    /// as `dynamic` (an error when `None`): the zero point for a quantized
    /// tensor, as the runtime starts a variable tensor and as fuzzing and
    /// verification feed a model.
    ///
    /// ```
    /// use tflite_forge::eval::Value;
    /// use tflite_forge::{DType, Dim, Shape, Tensor};
    /// let t = Tensor::new("x", DType::F32, Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(3)]));
    /// let v = Value::zeros_for(&t, Some(2), 1 << 20).unwrap();
    /// assert_eq!((v.shape.as_slice(), v.data.as_slice()), (&[2, 3][..], &[0.0; 6][..]));
    /// assert!(Value::zeros_for(&t, None, 1 << 20).is_err());
    /// ```
    ///
    /// # Errors
    /// [`EvalError::Graph`] for a dynamic dimension without `dynamic`, and
    /// [`EvalError::Limit`] above `max_elements` elements.
    pub fn zeros_for(t: &Tensor, dynamic: Option<u32>, max_elements: usize) -> Result<Value, EvalError> {
        let shape = concrete_shape(t, dynamic).ok_or_else(|| EvalError::Graph { detail: format!("tensor {:?} has the dynamic shape {}", t.name, t.shape) })?;
        let n = num_elements(&shape, max_elements, format_args!("tensor {:?}", t.name))?;
        let numbers = n.checked_mul(parts(t.dtype)).ok_or_else(|| EvalError::Limit { detail: format!("tensor {:?} is too large", t.name) })?;
        // Zero in the stored numbers of a quantized tensor is its zero point.
        let zero = t.quantization.as_ref().and_then(|q| q.zero_point.first()).map_or(0.0, |z| *z as f64);
        Ok(Value { dtype: t.dtype, shape, data: vec![zero; numbers], quantization: t.quantization.clone() })
    }

    /// The stored numbers as `f32`: float values, or the raw integers of
    /// integer values (see [`Value::dequantized`] for real values).
    pub fn to_f32(&self) -> Vec<f32> {
        self.data.iter().map(|v| *v as f32).collect()
    }

    /// The real values: quantized values (int8, uint8, int16 with a scale)
    /// dequantized with their parameters, the stored numbers otherwise.
    ///
    /// # Errors
    /// [`EvalError::Quantization`] when the parameters do not fit the shape.
    pub fn dequantized(&self) -> Result<Vec<f64>, EvalError> {
        Ok(convert::real(self, "value")?.into_owned())
    }

    /// The number of stored numbers: the number of elements, twice that for
    /// complex values.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether no elements are held.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

/// Decodes `n` little-endian elements of `W` bytes, or `None` when `bytes`
/// does not hold exactly `n` of them.
fn decode<const W: usize>(bytes: &[u8], n: usize, f: impl Fn([u8; W]) -> f64) -> Option<Vec<f64>> {
    let (chunks, rest) = bytes.as_chunks::<W>();
    (chunks.len() == n && rest.is_empty()).then(|| chunks.iter().map(|c| f(*c)).collect())
}

/// Decodes `n` little-endian complex elements of two `W`-byte parts each
/// into interleaved parts, or `None` when `bytes` does not hold exactly `n`.
fn decode_parts<const W: usize>(bytes: &[u8], n: usize, f: impl Fn([u8; W]) -> f64) -> Option<Vec<f64>> {
    let (chunks, rest) = bytes.as_chunks::<W>();
    (n.checked_mul(2) == Some(chunks.len()) && rest.is_empty()).then(|| chunks.iter().map(|c| f(*c)).collect())
}

/// The numbers stored per element of `dtype`: 2 for complex types, else 1.
pub(crate) fn parts(dtype: DType) -> usize {
    if matches!(dtype, DType::Complex64 | DType::Complex128) {
        2
    } else {
        1
    }
}

/// The dimensions of `t`, with dynamic ones as `dynamic` (none when `None`).
fn concrete_shape(t: &Tensor, dynamic: Option<u32>) -> Option<Vec<usize>> {
    t.shape.dims().iter().map(|d| d.fixed().or(dynamic).map(|n| n as usize)).collect()
}

/// The number of elements of `shape`, or [`EvalError::Limit`] when it
/// overflows or exceeds `max`.
pub(crate) fn num_elements(shape: &[usize], max: usize, what: impl Display) -> Result<usize, EvalError> {
    match shape.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d)) {
        Some(n) if n <= max => Ok(n),
        Some(n) => Err(EvalError::Limit { detail: format!("{what} of shape {shape:?} has {n} elements, over the limit of {max}") }),
        None => Err(EvalError::Limit { detail: format!("{what} of shape {shape:?} has too many elements to count") }),
    }
}
