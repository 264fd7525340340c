//! Quantization parameters from float ranges, and quantizing values.

/// Asymmetric int8 parameters covering `[min, max]` (widened to hold 0, so
/// that zero is exact): `real = scale × (q − zero_point)`, q in −128..=127.
pub(crate) fn asymmetric_i8(min: f32, max: f32) -> (f32, i64) {
    let (min, max) = (min.min(0.0), max.max(0.0));
    let span = max - min;
    if !(span > 0.0) || !span.is_finite() {
        // All zeros (or no finite range): any positive scale is exact.
        return (1.0 / 255.0, -128);
    }
    let scale = span / 255.0;
    let zp = (-128.0 - f64::from(min) / f64::from(scale)).round().clamp(-128.0, 127.0) as i64;
    (scale, zp)
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
    fn symmetric_scale() {
        assert_eq!(symmetric(127.0, 127.0), 1.0);
        assert_eq!(symmetric(0.0, 127.0), 1.0 / 127.0);
    }
}
