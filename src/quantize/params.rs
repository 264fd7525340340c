//! Quantization parameters from float ranges, and quantizing values.

use crate::model::{ConstData, DType, Quantization};

/// Asymmetric int8 parameters covering `[min, max]` (widened to hold 0, so
/// that zero is exact): `real = scale × (q − zero_point)`, q in −128..=127.
pub(crate) fn asymmetric_i8(min: f32, max: f32) -> (f32, i64) {
    let (min, max) = (min.min(0.0), max.max(0.0));
    let span = max - min;
    if span.is_nan() || span <= 0.0 || !span.is_finite() {
        // All zeros (or no finite range): any positive scale is exact.
        return (1.0 / 255.0, -128);
    }
    let scale = span / 255.0;
    let zp = (-128.0 - f64::from(min) / f64::from(scale)).round().clamp(-128.0, 127.0) as i64;
    (scale, zp)
}

/// Symmetric int16 parameters covering `[min, max]`: zero point 0 and
/// `scale = max(|min|, |max|) / 32767`, as the 16x8 kernels require.
pub(crate) fn symmetric_i16(min: f32, max: f32) -> (f32, i64) {
    (symmetric(min.abs().max(max.abs()), 32767.0), 0)
}

/// Symmetric scale for a largest magnitude `max_abs` and `q_max` (127 for
/// int8 weights).
pub(crate) fn symmetric(max_abs: f32, q_max: f32) -> f32 {
    if max_abs > 0.0 && max_abs.is_finite() { max_abs / q_max } else { 1.0 / q_max }
}

/// `round(x / scale) + zero_point`, clamped to `[lo, hi]`.
pub(crate) fn quantize_value(x: f32, scale: f32, zero_point: i64, lo: i64, hi: i64) -> i64 {
    let q = (f64::from(x) / f64::from(scale)).round() + zero_point as f64;
    if q.is_nan() { zero_point } else { q.clamp(lo as f64, hi as f64) as i64 }
}

/// The representable range of an integer element type used for quantized
/// values (int8, uint8, int16, and int32/int64 biases).
pub(crate) fn int_range(dtype: DType) -> Option<(i64, i64)> {
    Some(match dtype {
        DType::I8 => (i64::from(i8::MIN), i64::from(i8::MAX)),
        DType::U8 => (0, i64::from(u8::MAX)),
        DType::I16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        DType::I32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        DType::I64 => (i64::MIN, i64::MAX),
        _ => return None,
    })
}

/// Stores integers (already within `int_range(dtype)`) as constant data of
/// `dtype`, or `None` for a type that is not an integer type.
pub(crate) fn encode_ints(dtype: DType, q: &[i64]) -> Option<ConstData> {
    Some(match dtype {
        DType::I8 => ConstData::from_slice(&q.iter().map(|v| *v as i8).collect::<Vec<_>>()),
        DType::U8 => ConstData::from_slice(&q.iter().map(|v| *v as u8).collect::<Vec<_>>()),
        DType::I16 => ConstData::from_slice(&q.iter().map(|v| *v as i16).collect::<Vec<_>>()),
        DType::I32 => ConstData::from_slice(&q.iter().map(|v| *v as i32).collect::<Vec<_>>()),
        DType::I64 => ConstData::from_slice(q),
        _ => return None,
    })
}

/// Weights as int8, symmetric in `[-127, 127]` (zero point 0): one scale
/// per slice along `axis` (`max|w| / 127` of the slice), or one for the
/// whole tensor. `dims` is the tensor's shape; `None` when `axis` is out of
/// range.
pub(crate) fn symmetric_weights(w: &[f32], dims: &[usize], axis: Option<usize>) -> Option<(Quantization, Vec<i8>)> {
    match axis {
        Some(ax) => {
            let channels = *dims.get(ax)?;
            let inner: usize = dims[ax + 1..].iter().product::<usize>().max(1);
            let channel = |k: usize| (k / inner) % channels.max(1);
            let mut max_abs = vec![0f32; channels];
            for (k, x) in w.iter().enumerate() {
                if let Some(m) = max_abs.get_mut(channel(k)) {
                    *m = m.max(x.abs());
                }
            }
            let scales: Vec<f32> = max_abs.iter().map(|m| symmetric(*m, 127.0)).collect();
            let q = w
                .iter()
                .enumerate()
                .map(|(k, x)| quantize_value(*x, scales.get(channel(k)).copied().unwrap_or(1.0), 0, -127, 127) as i8)
                .collect();
            let n = scales.len();
            Some((Quantization::per_axis(scales, vec![0; n], i32::try_from(ax).ok()?), q))
        }
        None => {
            let s = symmetric(w.iter().fold(0f32, |m, x| m.max(x.abs())), 127.0);
            Some((Quantization::per_tensor(s, 0), w.iter().map(|x| quantize_value(*x, s, 0, -127, 127) as i8).collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asymmetric_covers_the_range_and_zero() {
        let (s, zp) = asymmetric_i8(-1.0, 3.0);
        assert!((s - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(zp, -64);
        assert_eq!(quantize_value(0.0, s, zp, -128, 127), zp);
        assert_eq!(quantize_value(3.0, s, zp, -128, 127), 127);
        assert_eq!(quantize_value(-1.0, s, zp, -128, 127), -128);
        // Positive-only ranges still hold zero.
        assert_eq!(asymmetric_i8(2.0, 6.0).1, -128);
        assert_eq!(asymmetric_i8(0.0, 0.0), (1.0 / 255.0, -128));
    }

    #[test]
    fn symmetric_int16_and_weights() {
        assert_eq!(symmetric_i16(-2.0, 1.0), (2.0 / 32767.0, 0));
        assert_eq!(symmetric_i16(0.0, 0.0), (1.0 / 32767.0, 0));
        // Two output channels along axis 0 of a [2, 3] tensor.
        let (q, v) = symmetric_weights(&[1.0, -0.6, 0.25, 0.0, 4.0, -2.2], &[2, 3], Some(0)).unwrap();
        assert_eq!((q.axis, q.scale.clone(), q.zero_point.clone()), (0, vec![1.0 / 127.0, 4.0 / 127.0], vec![0, 0]));
        assert_eq!(v, [127, -76, 32, 0, 127, -70]);
        // Per channel on the last axis (depthwise), and per tensor.
        let (q, v) = symmetric_weights(&[1.0, -4.0, -0.6, 2.2], &[1, 2, 2], Some(2)).unwrap();
        assert_eq!((q.axis, q.scale.len(), v), (2, 2, vec![127, -127, -76, 70]));
        let (q, v) = symmetric_weights(&[1.0, -4.0], &[2], None).unwrap();
        assert_eq!((q.scale, v), (vec![4.0 / 127.0], vec![32, -127]));
        assert!(symmetric_weights(&[1.0], &[1], Some(3)).is_none());
        assert_eq!(encode_ints(DType::I64, &[-1, 2]).unwrap().len(), 16);
        assert_eq!(int_range(DType::I16), Some((-32768, 32767)));
    }

    #[test]
    fn symmetric_scale() {
        assert_eq!(symmetric(127.0, 127.0), 1.0);
        assert_eq!(symmetric(0.0, 127.0), 1.0 / 127.0);
    }
}
