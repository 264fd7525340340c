//! Conversions between stored values and the real numbers kernels compute on.
//!
//! Kernels compute in `f64` on *real* values: floats as they are, quantized
//! integers (int8, uint8 and int16 with a scale) dequantized, other integers
//! as their raw values. Results are encoded into the output tensor's type:
//! rounded to float32 / float16, quantized with the output's parameters
//! (round half away from zero, clamped to the type's range), or truncated
//! and saturated for plain integers.

use std::borrow::Cow;

use half::f16;

use super::{EvalError, Value};
use crate::model::{DType, Quantization, Tensor};

/// Whether tensors of `dtype` count as quantized when they carry a scale.
pub(crate) fn is_quantized_type(dtype: DType) -> bool {
    matches!(dtype, DType::I8 | DType::U8 | DType::I16)
}

/// The representable range of an integer (or boolean) type.
pub(crate) fn int_range(dtype: DType) -> Option<(f64, f64)> {
    Some(match dtype {
        DType::I8 => (i8::MIN.into(), i8::MAX.into()),
        DType::U8 => (0.0, u8::MAX.into()),
        DType::I16 => (i16::MIN.into(), i16::MAX.into()),
        DType::U16 => (0.0, u16::MAX.into()),
        DType::U32 => (0.0, u32::MAX.into()),
        DType::I32 => (i32::MIN.into(), i32::MAX.into()),
        DType::I64 => (i64::MIN as f64, i64::MAX as f64),
        DType::Bool => (0.0, 1.0),
        _ => return None,
    })
}

/// Whether values of `dtype` can be evaluated.
pub(crate) fn is_supported(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F16 | DType::F64) || int_range(dtype).is_some()
}

/// Whether `dtype` is a complex type (two stored numbers per element).
pub(crate) fn is_complex(dtype: DType) -> bool {
    matches!(dtype, DType::Complex64 | DType::Complex128)
}

/// Whether the value holds quantization parameters with a scale.
pub(crate) fn has_scale(v: &Value) -> bool {
    v.quantization.as_ref().is_some_and(|q| !q.scale.is_empty())
}

/// Whether the value holds raw integers (an integer type, not dequantized).
pub(crate) fn is_raw_integer(v: &Value) -> bool {
    int_range(v.dtype).is_some() && !(is_quantized_type(v.dtype) && has_scale(v))
}

/// Affine quantization parameters resolved against a shape.
#[derive(Debug)]
pub(crate) struct QuantParams {
    /// One scale per channel (one in total for per-tensor).
    scale: Vec<f64>,
    /// One zero point per channel.
    zero: Vec<f64>,
    /// Elements per channel slice: the product of the dimensions after the
    /// quantized axis.
    inner: usize,
}

impl QuantParams {
    /// The parameters of `q` for a value of `shape`, or `None` when there is
    /// no scale.
    pub(crate) fn of(q: Option<&Quantization>, shape: &[usize], op: &str) -> Result<Option<QuantParams>, EvalError> {
        let Some(q) = q.filter(|q| !q.scale.is_empty()) else {
            return Ok(None);
        };
        let err = |detail: String| EvalError::Quantization { op: op.to_string(), detail };
        if q.details.is_some() {
            return Err(EvalError::Unsupported {
                op: op.to_string(),
                detail: "extended quantization details (custom, blockwise, multi-axis)".into(),
            });
        }
        if let Some(s) = q.scale.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(err(format!("scale {s} is not a positive finite number")));
        }
        let n = q.scale.len();
        let zero: Vec<f64> = match q.zero_point.as_slice() {
            [] => vec![0.0; n],
            [z] => vec![*z as f64; n],
            zs if zs.len() == n => zs.iter().map(|z| *z as f64).collect(),
            zs => return Err(err(format!("{} zero points for {n} scales", zs.len()))),
        };
        let inner = if n == 1 {
            1
        } else {
            let axis = usize::try_from(q.axis)
                .ok()
                .filter(|a| *a < shape.len())
                .ok_or_else(|| err(format!("quantized axis {} is out of range for shape {shape:?}", q.axis)))?;
            if shape.get(axis) != Some(&n) {
                return Err(err(format!("{n} scales do not fit shape {shape:?} along axis {axis}")));
            }
            shape.iter().skip(axis + 1).product()
        };
        let scale = q.scale.iter().map(|s| f64::from(*s)).collect();
        Ok(Some(QuantParams { scale, zero, inner }))
    }

    /// Replaces every element `v` by `f(v, scale, zero_point)` of its channel.
    fn map(&self, data: &mut [f64], f: impl Fn(f64, f64, f64) -> f64) {
        if let ([s], [z]) = (self.scale.as_slice(), self.zero.as_slice()) {
            data.iter_mut().for_each(|v| *v = f(*v, *s, *z));
        } else if self.inner > 0 {
            let channels = self.scale.iter().zip(&self.zero).cycle();
            for (chunk, (s, z)) in data.chunks_mut(self.inner).zip(channels) {
                chunk.iter_mut().for_each(|v| *v = f(*v, *s, *z));
            }
        }
    }

    /// Whether every zero point is 0 (symmetric parameters).
    pub(crate) fn symmetric(&self) -> bool {
        self.zero.iter().all(|z| *z == 0.0)
    }

    /// The scales, one per channel (one for per-tensor parameters).
    pub(crate) fn scales(&self) -> &[f64] {
        &self.scale
    }

    /// Subtracts the zero points in place, leaving the integers `q -
    /// zero_point` (exact in `f64`) for an integer product.
    pub(crate) fn center(&self, data: &mut [f64]) {
        self.map(data, |q, _, z| q - z);
    }

    /// Dequantizes raw integers in place: `(q - zero_point) * scale`.
    pub(crate) fn dequantize(&self, data: &mut [f64]) {
        self.map(data, |q, s, z| (q - z) * s);
    }

    /// Quantizes real values in place: `round(x / scale) + zero_point`,
    /// rounding half away from zero and clamping to `[lo, hi]`. NaN becomes
    /// the zero point.
    pub(crate) fn quantize(&self, data: &mut [f64], lo: f64, hi: f64) {
        self.map(data, |x, s, z| if x.is_nan() { z } else { ((x / s).round() + z).clamp(lo, hi) });
    }
}

/// The real values of `v`: dequantized when `dequantize(v.dtype)` holds and
/// `v` has a scale, the stored numbers otherwise.
fn real_if<'v>(v: &'v Value, op: &str, dequantize: fn(DType) -> bool) -> Result<Cow<'v, [f64]>, EvalError> {
    if dequantize(v.dtype)
        && let Some(p) = QuantParams::of(v.quantization.as_ref(), &v.shape, op)?
    {
        let mut data = v.data.clone();
        p.dequantize(&mut data);
        return Ok(Cow::Owned(data));
    }
    Ok(Cow::Borrowed(&v.data))
}

/// The real values of an operand (int8, uint8, int16 with a scale are
/// dequantized).
pub(crate) fn real<'v>(v: &'v Value, op: &str) -> Result<Cow<'v, [f64]>, EvalError> {
    real_if(v, op, is_quantized_type)
}

/// The real values of a bias: any integer type with a scale is dequantized
/// (int32 and int64 biases carry their own scales).
pub(crate) fn bias_real<'v>(v: &'v Value, op: &str) -> Result<Cow<'v, [f64]>, EvalError> {
    real_if(v, op, |d| int_range(d).is_some() && d != DType::Bool)
}

/// Encodes real results as a value of the output tensor's type and
/// quantization.
pub(crate) fn encode(mut data: Vec<f64>, shape: Vec<usize>, out: &Tensor, op: &str) -> Result<Value, EvalError> {
    match out.dtype {
        DType::F32 => data.iter_mut().for_each(|v| *v = f64::from(*v as f32)),
        DType::F16 => data.iter_mut().for_each(|v| *v = f16::from_f64(*v).to_f64()),
        DType::F64 => {}
        dtype => {
            let (lo, hi) = int_range(dtype).ok_or_else(|| EvalError::Unsupported {
                op: op.to_string(),
                detail: format!("output type {dtype}"),
            })?;
            let params = if is_quantized_type(dtype) {
                QuantParams::of(out.quantization.as_ref(), &shape, op)?
            } else {
                None
            };
            match params {
                Some(p) => p.quantize(&mut data, lo, hi),
                None if dtype == DType::Bool => data.iter_mut().for_each(|v| *v = if *v != 0.0 { 1.0 } else { 0.0 }),
                None => data.iter_mut().for_each(|v| *v = if v.is_nan() { 0.0 } else { v.trunc().clamp(lo, hi) }),
            }
        }
    }
    Ok(Value { dtype: out.dtype, shape, data, quantization: out.quantization.clone() })
}

/// Checks that `data` holds valid elements of `dtype`, rounding floats to
/// the type's precision.
pub(crate) fn normalize(dtype: DType, data: &mut [f64]) -> Result<(), String> {
    match dtype {
        DType::F32 | DType::Complex64 => data.iter_mut().for_each(|v| *v = f64::from(*v as f32)),
        DType::F16 => data.iter_mut().for_each(|v| *v = f16::from_f64(*v).to_f64()),
        DType::F64 | DType::Complex128 => {}
        dtype => {
            let (lo, hi) = int_range(dtype).ok_or_else(|| format!("type {dtype} is not supported"))?;
            if let Some(bad) = data.iter().find(|v| !(v.fract() == 0.0 && (lo..=hi).contains(*v))) {
                return Err(format!("{bad} is not a valid {dtype} value"));
            }
        }
    }
    Ok(())
}
