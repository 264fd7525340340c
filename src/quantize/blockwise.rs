//! Blockwise int4 weights for FULLY_CONNECTED in dynamic range mode.
//!
//! Each weight row `[in]` of a FULLY_CONNECTED filter `[out, in]` is cut
//! into blocks of `block_size` inputs, each with its own scale
//! (`max|w| / 7`, symmetric, values in `[-7, 7]`), as ai-edge-quantizer
//! writes them: an INT4 tensor whose quantization holds a
//! `BlockwiseQuantization` naming a FLOAT16 scale tensor `[out, in /
//! block_size]` (see [`crate::BlockwiseQuant`] for the format).
//!
//! What LiteRT (ai-edge-litert 2.3.0) runs, checked by hand-built files in
//! the interpreter and in `tflite/kernels/fully_connected.cc`:
//! - only float inputs and outputs: the builtin kernel's blockwise path
//!   (`EvalBlockwise4Bit`) is part of the hybrid code; int8 inputs need
//!   affine-quantized filters (`TF_LITE_ENSURE_EQ(... kTfLiteAffineQuantization)`);
//! - XNNPACK (the default delegate) takes block sizes that are multiples of
//!   32 (`xnnpack_delegate.cc`: "Blocksize must be multiple of 32") with
//!   normal positive float16 scales; the builtin optimized kernel takes
//!   any block size that divides `in`;
//! - the builtin kernel reaches `EvalBlockwise4Bit` only with at least 4
//!   output units (`optimized_4bit::FilterWidth`) and 32 inputs
//!   (`FilterDepth`); below that it runs the per-channel hybrid code, which
//!   reads no blockwise scales and silently returns wrong values (measured:
//!   cosine 0.25 with 2 units);
//! - `EvalBlockwise4Bit` ignores the fused activation (measured: RELU
//!   fused gives cosine 0.75 on the builtin kernel, while XNNPACK applies
//!   it), so a FULLY_CONNECTED with blockwise weights gets its fused RELU,
//!   RELU6, RELU_N1_TO_1 or TANH as a separate op after it (XNNPACK fuses
//!   them again); with SIGN_BIT the weights stay per-channel;
//! - the reference kernels (`OpResolverType.BUILTIN_REF`) have no blockwise
//!   path at all and return wrong values: such files need the default
//!   (optimized) kernels or XNNPACK.
//!
//! Weights that do not qualify keep per-channel int4, and the quantizer
//! lists them ([`BlockwiseFallback`]).

use std::fmt;

use half::{bf16, f16};

use super::int4::INT4_MAX;
use crate::model::{Activation, Op};

/// The smallest block size: XNNPACK takes multiples of 32 only.
pub const MIN_INT4_BLOCK_SIZE: u32 = 32;
/// The largest block size accepted.
pub const MAX_INT4_BLOCK_SIZE: u32 = 256;
/// Fewest output units for which LiteRT's builtin kernel runs its blockwise
/// path (`optimized_4bit::FilterWidth`).
const MIN_OUTPUT_UNITS: u32 = 4;

/// Whether `n` is a block size [`crate::quantize::QuantizeOptions::int4_block_size`]
/// accepts: a multiple of 32 in `32..=256`.
pub(crate) fn valid_block_size(n: u32) -> bool {
    (MIN_INT4_BLOCK_SIZE..=MAX_INT4_BLOCK_SIZE).contains(&n) && n % MIN_INT4_BLOCK_SIZE == 0
}

/// A FULLY_CONNECTED weight tensor that kept per-channel int4 weights
/// although blockwise ones were asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockwiseFallback {
    /// The first FULLY_CONNECTED operator (index in subgraph 0) that reads
    /// the weights.
    pub operator: usize,
    /// The weight tensor's name.
    pub weights: String,
    /// Why.
    pub reason: BlockwiseFallbackReason,
}

/// Why weights kept per-channel int4 instead of blockwise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockwiseFallbackReason {
    /// The block size does not divide the input dimension.
    NotDivisible {
        /// The weights' input dimension.
        input_dim: u32,
        /// The block size asked for.
        block_size: u32,
    },
    /// Fewer than 4 output units: LiteRT's builtin kernel would compute
    /// them wrongly.
    FewOutputs(u32),
    /// A reading FULLY_CONNECTED has a fused activation that LiteRT's
    /// builtin blockwise kernel ignores and that has no op of its own to
    /// move it to (SIGN_BIT).
    FusedActivation(Activation),
    /// A block scale does not fit float16.
    ScaleOutOfRange,
}

impl fmt::Display for BlockwiseFallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockwiseFallbackReason::NotDivisible { input_dim, block_size } => {
                write!(f, "block size {block_size} does not divide the input dimension {input_dim}")
            }
            BlockwiseFallbackReason::FewOutputs(n) => {
                write!(f, "{n} output units; LiteRT's blockwise kernel needs at least {MIN_OUTPUT_UNITS}")
            }
            BlockwiseFallbackReason::FusedActivation(a) => {
                write!(f, "fused activation {a:?}, which LiteRT's builtin blockwise kernel ignores")
            }
            BlockwiseFallbackReason::ScaleOutOfRange => write!(f, "a block scale exceeds the float16 range"),
        }
    }
}

impl fmt::Display for BlockwiseFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "operator {} weights {:?}: per-channel int4, not blockwise: {}", self.operator, self.weights, self.reason)
    }
}

/// The op that computes fused activation `a` on its own (`None` for
/// [`Activation::None`] and SIGN_BIT).
pub(crate) fn activation_op(a: Activation) -> Option<Op> {
    Some(match a {
        Activation::Relu => Op::Relu,
        Activation::Relu6 => Op::Relu6,
        Activation::ReluN1To1 => Op::ReluN1To1,
        Activation::Tanh => Op::Tanh,
        _ => return None,
    })
}

/// Why weights of shape `[out, in]` read by FULLY_CONNECTED ops with
/// activations `activations` cannot be blockwise with `block_size`, if so.
pub(crate) fn unsuitable(out: u32, inner: u32, block_size: u32, activations: &[Activation]) -> Option<BlockwiseFallbackReason> {
    if let Some(a) = activations.iter().find(|a| activation_op(**a).is_none() && **a != Activation::None) {
        return Some(BlockwiseFallbackReason::FusedActivation(*a));
    }
    if block_size == 0 || inner % block_size != 0 {
        return Some(BlockwiseFallbackReason::NotDivisible { input_dim: inner, block_size });
    }
    (out < MIN_OUTPUT_UNITS).then_some(BlockwiseFallbackReason::FewOutputs(out))
}

/// The stored scale of a block whose largest magnitude is `max_abs`:
/// `max_abs / 7` rounded to bfloat16 precision and stored as float16, as
/// ai-edge-quantizer does ("Downcast and round the scale to fp16 with 7 bit
/// mantissa"), so that XNNPACK, which may keep the scales as bfloat16,
/// computes with the same scale as the builtin kernel. Scales below the
/// smallest normal float16 are raised to it (XNNPACK rejects subnormal and
/// zero scales); `None` above the float16 range.
fn block_scale(max_abs: f32) -> Option<f16> {
    let s = f16::from_f32(bf16::from_f32(max_abs / INT4_MAX).to_f32());
    if !s.is_finite() {
        return None;
    }
    Some(if s < f16::MIN_POSITIVE { f16::MIN_POSITIVE } else { s })
}

/// Quantizes row-major weights `[out, inner]` to int4 per block of
/// `block_size` along `inner`: the scales `[out, inner / block_size]` and
/// the values in `[-7, 7]`, each rounded with its block's stored scale.
/// `None` when a scale does not fit float16 or the shape does not fit `w`.
pub(crate) fn blockwise_int4(w: &[f32], out: usize, inner: usize, block_size: usize) -> Option<(Vec<f16>, Vec<i8>)> {
    if block_size == 0 || inner % block_size != 0 || out.checked_mul(inner)? != w.len() {
        return None;
    }
    let scales: Vec<f16> = w.chunks(block_size).map(|b| block_scale(b.iter().fold(0f32, |m, x| m.max(x.abs())))).collect::<Option<_>>()?;
    let q = w
        .chunks(block_size)
        .zip(&scales)
        .flat_map(|(b, s)| {
            let s = s.to_f32();
            b.iter().map(move |x| (x / s).round().clamp(-INT4_MAX, INT4_MAX) as i8)
        })
        .collect();
    Some((scales, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes() {
        assert!(valid_block_size(32) && valid_block_size(96) && valid_block_size(256));
        assert!(!valid_block_size(16) && !valid_block_size(48) && !valid_block_size(512) && !valid_block_size(0));
    }

    #[test]
    fn scales_per_block_along_rows() {
        // 2 rows of 64, blocks of 32: row 0 has max 7 then 0.7, row 1 has
        // max 1.4 then 14.
        let mut w = vec![0f32; 128];
        w[3] = 7.0;
        w[40] = -0.7;
        w[64] = 1.4;
        w[127] = 14.0;
        w[100] = 3.5;
        let (s, q) = blockwise_int4(&w, 2, 64, 32).unwrap();
        let s: Vec<f32> = s.iter().map(|x| x.to_f32()).collect();
        // 0.1 rounds to bfloat16 0.10009765625 and stays so in float16.
        assert_eq!(s, [1.0, bf16::from_f32(0.1).to_f32(), 0.2001953125, 2.0]);
        assert_eq!((q[3], q[40], q[64], q[127], q[100], q[0]), (7, -7, 7, 7, 2, 0));
        assert!(q.iter().all(|v| (-7..=7).contains(v)));
        // Not divisible, wrong length.
        assert!(blockwise_int4(&w, 2, 64, 48).is_none());
        assert!(blockwise_int4(&w, 3, 64, 32).is_none());
    }

    #[test]
    fn tiny_and_huge_scales() {
        // An all-zero block gets the smallest normal float16 scale (XNNPACK
        // rejects 0); a block beyond the float16 range has no scale.
        let (s, q) = blockwise_int4(&[0.0; 32], 1, 32, 32).unwrap();
        assert_eq!((s[0], q[0]), (f16::MIN_POSITIVE, 0));
        assert!(blockwise_int4(&[1e9; 32], 1, 32, 32).is_none());
    }

    #[test]
    fn unsuitable_weights() {
        assert_eq!(unsuitable(8, 64, 32, &[Activation::None]), None);
        assert_eq!(unsuitable(8, 64, 32, &[Activation::None, Activation::Relu, Activation::Tanh]), None);
        assert_eq!(unsuitable(8, 64, 32, &[Activation::Relu, Activation::SignBit]), Some(BlockwiseFallbackReason::FusedActivation(Activation::SignBit)));
        assert_eq!(unsuitable(8, 96, 64, &[]), Some(BlockwiseFallbackReason::NotDivisible { input_dim: 96, block_size: 64 }));
        assert_eq!(unsuitable(3, 64, 32, &[]), Some(BlockwiseFallbackReason::FewOutputs(3)));
    }
}
