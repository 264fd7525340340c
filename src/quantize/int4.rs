//! Int4 weights: symmetric quantization to `[-7, 7]` and TFLite's packing.
//!
//! LiteRT stores INT4 tensors two values per byte, in element order: element
//! `2i` in the low nibble of byte `i`, element `2i + 1` in the high nibble
//! (`tensor_utils::UnpackPackedIntToInt8`), an odd count leaving the last
//! high nibble zero. Its reference CONV_2D, DEPTHWISE_CONV_2D and
//! FULLY_CONNECTED kernels unpack such filters to int8 and run their int8
//! (or, with float inputs, hybrid) code; the scales are the int8 ones
//! (per output channel along the filter's channel axis, or per tensor).

use super::params::{quantize_value, symmetric};
use crate::model::Quantization;

/// The largest int4 weight magnitude used: 7, so that the range is
/// symmetric (as int8 weights use `[-127, 127]`).
pub(crate) const INT4_MAX: f32 = 7.0;

/// Packs int4 values (each in `-8..=7`) two per byte, low nibble first.
pub(crate) fn pack_int4(q: &[i8]) -> Vec<u8> {
    q.chunks(2).map(|p| (p[0] as u8 & 0x0f) | ((p.get(1).copied().unwrap_or(0) as u8 & 0x0f) << 4)).collect()
}

/// Unpacks `n` int4 values from `bytes` (the inverse of [`pack_int4`]), or
/// `None` when `bytes` does not hold exactly `ceil(n / 2)` bytes.
pub(crate) fn unpack_int4(bytes: &[u8], n: usize) -> Option<Vec<i8>> {
    if bytes.len() != n.div_ceil(2) {
        return None;
    }
    let nibble = |v: u8| (((v & 0x0f) ^ 0x08) as i8) - 8;
    Some(bytes.iter().flat_map(|b| [nibble(*b), nibble(b >> 4)]).take(n).collect())
}

/// Weights as int4, symmetric in `[-7, 7]` (zero point 0): one scale per
/// slice along `axis` (`max|w| / 7`), or one for the whole tensor. `None`
/// when `axis` is out of range for `dims`.
pub(crate) fn symmetric_int4(w: &[f32], dims: &[usize], axis: Option<usize>) -> Option<(Quantization, Vec<i8>)> {
    let (channels, inner) = match axis {
        Some(ax) => (*dims.get(ax)?, dims[ax + 1..].iter().product::<usize>().max(1)),
        None => (1, w.len().max(1)),
    };
    let channel = |k: usize| (k / inner) % channels.max(1);
    let mut max_abs = vec![0f32; channels.max(1)];
    for (k, x) in w.iter().enumerate() {
        if let Some(m) = max_abs.get_mut(channel(k)) {
            *m = m.max(x.abs());
        }
    }
    let scales: Vec<f32> = max_abs.iter().map(|m| symmetric(*m, INT4_MAX)).collect();
    let q = w.iter().enumerate().map(|(k, x)| quantize_value(*x, scales[channel(k)], 0, -7, 7) as i8).collect();
    let quant = match axis {
        Some(ax) => Quantization::per_axis(scales.clone(), vec![0; scales.len()], i32::try_from(ax).ok()?),
        None => Quantization::per_tensor(scales[0], 0),
    };
    Some((quant, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_low_nibble_first() {
        // 1, -1 (0xF), -8 (0x8), 7; odd count pads the last high nibble.
        assert_eq!(pack_int4(&[1, -1, -8, 7, -2]), [0xf1, 0x78, 0x0e]);
        assert_eq!(unpack_int4(&[0xf1, 0x78, 0x0e], 5).unwrap(), [1, -1, -8, 7, -2]);
        assert!(unpack_int4(&[0xf1], 3).is_none());
        let all: Vec<i8> = (-8..=7).collect();
        assert_eq!(unpack_int4(&pack_int4(&all), 16).unwrap(), all);
    }

    #[test]
    fn int4_weights_per_channel_and_per_tensor() {
        let (q, v) = symmetric_int4(&[1.0, -0.55, 0.2, 0.0, 3.5, -7.0], &[2, 3], Some(0)).unwrap();
        assert_eq!((q.axis, q.scale.clone()), (0, vec![1.0 / 7.0, 1.0]));
        assert_eq!(v, [7, -4, 1, 0, 4, -7]);
        let (q, v) = symmetric_int4(&[1.4, -0.75, 0.0], &[3], None).unwrap();
        assert_eq!((q.scale, v), (vec![0.2], vec![7, -4, 0]));
        assert!(symmetric_int4(&[1.0], &[1], Some(2)).is_none());
    }
}
