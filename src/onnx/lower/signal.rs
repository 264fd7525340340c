//! Signal ops: DFT and STFT as a FULLY_CONNECTED with a constant DFT
//! matrix (exact for any length, unlike RFFT2D's power-of-two real-only
//! transform), and the window generators (HannWindow, HammingWindow,
//! BlackmanWindow) and MelWeightMatrix, which fold to constants.
//!
//! The matrix is computed in f64 and rounded to f32. A signal of `n`
//! samples with `c` components (1 real, 2 complex; interleaved as the
//! last dimension) is flattened to `n·c` features; the matrix maps them to
//! `k` bins of `c_out` components.

use std::f64::consts::PI;

use super::operand::{dtype_err, shape_err, typed_input};
use super::{norm_axis, LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::TensorData;

/// The most matrix entries a DFT lowering builds.
const MAX_MATRIX: usize = 1 << 22;

/// `(cos, sin)` of `2π·m/l`, exact at multiples of a quarter turn.
fn unit(m: usize, l: usize) -> (f64, f64) {
    let m = m % l;
    if (4 * m).is_multiple_of(l) {
        return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][4 * m / l];
    }
    let t = 2.0 * PI * m as f64 / l as f64;
    (t.cos(), t.sin())
}

/// What a DFT computes.
#[derive(Clone, Copy)]
struct Transform {
    /// The DFT length `L`.
    length: usize,
    inverse: bool,
    onesided: bool,
}

impl Transform {
    /// Output bins (or samples) along the axis.
    fn bins(self) -> usize {
        match (self.inverse, self.onesided) {
            (false, true) => self.length / 2 + 1,
            _ => self.length,
        }
    }

    /// Output components: 1 for the real inverse of a one-sided spectrum.
    fn out_components(self) -> usize {
        if self.inverse && self.onesided { 1 } else { 2 }
    }

    /// The `[n·c, k·c_out]` matrix (row-major, f32) for `n` input samples
    /// of `c` components, each row scaled by `window[j]`.
    fn matrix(self, n: usize, c: usize, window: Option<&[f64]>) -> Vec<f32> {
        let (l, k, co) = (self.length, self.bins(), self.out_components());
        let mut m = vec![0f32; n * c * k * co];
        // Samples (or bins) at or beyond the length are cut off; fewer are
        // zero-padded (their rows are absent).
        let used = if self.inverse && self.onesided { n.min(l / 2 + 1) } else { n.min(l) };
        for j in 0..used {
            let w = window.map_or(1.0, |w| w[j]);
            for q in 0..k {
                let (cs, sn) = unit(j * q, l);
                // (re, im) of the output from (re, im) of the input.
                let (a, b, cc, d) = if !self.inverse {
                    (cs, sn, -sn, cs)
                } else if !self.onesided {
                    let s = 1.0 / l as f64;
                    (cs * s, -sn * s, sn * s, cs * s)
                } else {
                    // A Hermitian spectrum: the bins other than 0 and L/2
                    // stand for their mirror images too.
                    let twice = j != 0 && 2 * j != l;
                    let s = if twice { 2.0 } else { 1.0 } / l as f64;
                    (cs * s, -sn * s, 0.0, 0.0)
                };
                let row = |comp: usize| (j * c + comp) * k * co;
                m[row(0) + q * co] = (a * w) as f32;
                if co == 2 {
                    m[row(0) + q * co + 1] = (cc * w) as f32;
                }
                if c == 2 {
                    m[row(1) + q * co] = (b * w) as f32;
                    if co == 2 {
                        m[row(1) + q * co + 1] = (d * w) as f32;
                    }
                }
            }
        }
        m
    }
}

/// Applies the transform along axis `axis` (not the last) of the static
/// `[..., n, ..., c]` tensor `x`: TRANSPOSE the axis next to the
/// components, RESHAPE to `[rows, n·c]`, FULLY_CONNECTED with the
/// (transposed) matrix, RESHAPE and TRANSPOSE back.
fn apply(ctx: &mut LowerCtx<'_>, name: &str, x: TensorId, axis: usize, t: Transform, window: Option<&[f64]>) -> Result<TensorId, LowerError> {
    let dims = ctx.shape(x).as_fixed().ok_or_else(|| shape_err(format!("DFT on {} (needs a static shape)", ctx.shape(x))))?;
    let r = dims.len();
    let c = dims[r - 1] as usize;
    let n = dims[axis] as usize;
    let (k, co) = (t.bins(), t.out_components());
    if (n * c).checked_mul(k * co).is_none_or(|s| s > MAX_MATRIX) {
        return Err(shape_err(format!("a DFT matrix of {n}x{k} is beyond the {MAX_MATRIX}-entry limit")));
    }
    let mut perm: Vec<usize> = (0..r).filter(|a| *a != axis && *a != r - 1).collect();
    perm.push(axis);
    perm.push(r - 1);
    let moved = perm.iter().enumerate().any(|(i, p)| i != *p);
    let p32: Vec<i32> = perm.iter().map(|v| *v as i32).collect();
    let xt = if moved { ctx.transpose(x, &p32)? } else { x };
    let lead: Vec<i32> = perm[..r - 2].iter().map(|a| dims[*a] as i32).collect();
    let flat = ctx.g.reshape(xt, &[-1, (n * c) as i32])?;
    let m = t.matrix(n, c, window);
    // FULLY_CONNECTED weights are [out, in]: the matrix transposed.
    let (rows, cols) = (n * c, k * co);
    let wt: Vec<f32> = (0..cols * rows).map(|i| m[(i % rows) * cols + i / rows]).collect();
    let w = ctx.g.constant_f32(&format!("{name}/dft_matrix"), [cols as u32, rows as u32], &wt);
    let y = ctx.g.fully_connected(flat, w, None, FullyConnectedOptions::default())?;
    let mut out_dims = lead.clone();
    out_dims.extend([k as i32, co as i32]);
    let y = ctx.g.reshape(y, &out_dims)?;
    if !moved {
        return Ok(y);
    }
    let mut inv = vec![0i32; r];
    for (i, p) in perm.iter().enumerate() {
        inv[*p] = i as i32;
    }
    ctx.transpose(y, &inv)
}

/// A constant non-negative integer scalar input, if present.
fn const_size(ctx: &LowerCtx<'_>, node: &Node<'_>, i: usize, what: &str) -> Result<Option<usize>, LowerError> {
    if !node.has_input(i) {
        return Ok(None);
    }
    let v = ctx.const_ints(node, i, what)?;
    match v.as_slice() {
        [v] if *v > 0 && *v <= i64::from(i32::MAX) => Ok(Some(*v as usize)),
        _ => Err(LowerError::invalid(format!("{what} {v:?} (must be one positive value)"))),
    }
}

/// Lowers `DFT` (opset 17: axis attribute; 20: axis input, constant).
pub fn lower_dft(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let r = ctx.shape(x).rank();
    if r < 2 {
        return Err(shape_err(format!("DFT on rank {r}")));
    }
    let axis = if node.opset() >= 20 {
        if node.has_input(2) { ctx.const_ints(node, 2, "axis")?.first().copied().ok_or_else(|| LowerError::invalid("empty axis"))? } else { -2 }
    } else {
        node.int_or("axis", 1)?
    };
    let axis = norm_axis(axis, r)?;
    if axis == r - 1 {
        return Err(LowerError::invalid("DFT along the components axis"));
    }
    let c = ctx.shape(x).dims()[r - 1].fixed().unwrap_or(0);
    if c != 1 && c != 2 {
        return Err(shape_err(format!("DFT input of shape {} (the last dimension must be 1 or 2)", ctx.shape(x))));
    }
    let inverse = node.int_or("inverse", 0)? != 0;
    let onesided = node.int_or("onesided", 0)? != 0;
    if onesided && !inverse && c == 2 {
        return Err(LowerError::invalid("one-sided DFT of a complex input"));
    }
    // The complex inverse of a (nearly) Hermitian spectrum has imaginary
    // parts near zero that float32 sums leave at about 1e-6 absolute,
    // beyond ONNX's 1e-7 tolerance: not converted rather than converted
    // inexactly.
    if inverse && !onesided {
        return Err(LowerError::attr("inverse DFT with a complex output (float32 matrix products miss ONNX's 1e-7 absolute tolerance on near-zero parts)"));
    }
    let n = ctx.shape(x).dims()[axis].fixed().ok_or_else(|| shape_err("DFT along a dynamic axis"))? as usize;
    let length = match const_size(ctx, node, 1, "dft_length")? {
        Some(l) => l,
        None if inverse && onesided => 2 * n.saturating_sub(1),
        None => n,
    };
    if length == 0 {
        return Err(LowerError::invalid("DFT of length 0"));
    }
    let y = apply(ctx, &node.name(), x, axis, Transform { length, inverse, onesided }, None)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `STFT`: frames by GATHER of constant indices along the signal
/// axis, then the windowed DFT matrix over each frame.
pub fn lower_stft(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let s = ctx.shape(x).clone();
    let dims = s.as_fixed().ok_or_else(|| shape_err(format!("STFT on {s} (needs a static shape)")))?;
    if dims.len() != 3 || !(1..=2).contains(&dims[2]) {
        return Err(shape_err(format!("STFT signal of shape {s} (must be [batch, length, 1 or 2])")));
    }
    let len = dims[1] as usize;
    let step = const_size(ctx, node, 1, "frame_step")?.ok_or_else(|| LowerError::invalid("frame_step is required"))?;
    let window: Option<Vec<f64>> = if node.has_input(2) {
        Some(ctx.const_floats(node, 2, "window")?.iter().map(|v| f64::from(*v)).collect())
    } else {
        None
    };
    let frame = match (const_size(ctx, node, 3, "frame_length")?, &window) {
        (Some(f), Some(w)) if f != w.len() => return Err(LowerError::invalid(format!("frame_length {f} and a window of {}", w.len()))),
        (Some(f), _) => f,
        (None, Some(w)) => w.len(),
        (None, None) => return Err(LowerError::invalid("STFT without frame_length or window")),
    };
    if frame == 0 || frame > len {
        return Err(LowerError::invalid(format!("frame_length {frame} for a signal of {len}")));
    }
    let onesided = node.int_or("onesided", 1)? != 0;
    if onesided && dims[2] == 2 {
        return Err(LowerError::invalid("one-sided STFT of a complex signal"));
    }
    let frames = (len - frame) / step + 1;
    if frames.checked_mul(frame).is_none_or(|v| v > MAX_MATRIX) {
        return Err(shape_err("too many STFT frames"));
    }
    let idx: Vec<i32> = (0..frames).flat_map(|f| (0..frame).map(move |j| (f * step + j) as i32)).collect();
    let name = node.name();
    let it = ctx.g.constant_i32(&format!("{name}/frames"), [frames as u32, frame as u32], &idx);
    let framed = ctx.g.gather(x, it, GatherOptions::new(1))?;
    let t = Transform { length: frame, inverse: false, onesided };
    let y = apply(ctx, &name, framed, 2, t, window.as_deref())?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// A window of `size` samples from its cosine-series coefficients
/// (periodic: period `size`, else `size - 1`).
fn cosine_window(size: usize, periodic: bool, coef: &[f64]) -> Vec<f64> {
    let period = if periodic { size } else { size.saturating_sub(1) }.max(1);
    (0..size)
        .map(|n| coef.iter().enumerate().map(|(k, a)| a * (2.0 * PI * (k * n) as f64 / period as f64).cos()).sum())
        .collect()
}

/// The output element type of a generator (`output_datatype`, float by
/// default).
fn output_type(node: &Node<'_>) -> Result<DType, LowerError> {
    match node.int_or("output_datatype", 1)? {
        1 => Ok(DType::F32),
        11 => Ok(DType::F64),
        t => Err(dtype_err(format!("output_datatype {t}"))),
    }
}

/// Folds HannWindow, HammingWindow or BlackmanWindow of a constant size.
pub fn lower_window(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let size = ctx.const_ints(node, 0, "size")?;
    let size = match size.as_slice() {
        [v] if (0..=1 << 20).contains(v) => *v as usize,
        _ => return Err(LowerError::invalid(format!("size {size:?}"))),
    };
    let periodic = node.int_or("periodic", 1)? != 0;
    let coef: &[f64] = match node.op_type() {
        "HannWindow" => &[0.5, -0.5],
        "HammingWindow" => &[25.0 / 46.0, -21.0 / 46.0],
        "BlackmanWindow" => &[0.42, -0.5, 0.08],
        other => return Err(LowerError::new(ReasonCode::UnsupportedOp, other.to_string())),
    };
    let w = cosine_window(size, periodic, coef);
    let d = TensorData::from_f64(output_type(node)?, vec![size], &w).ok_or_else(|| dtype_err("window type"))?;
    ctx.set_val(node, 0, Val::Const(d));
    Ok(())
}

/// Folds `MelWeightMatrix` of constant inputs, as the ONNX reference
/// implementation computes it.
pub fn lower_mel_weight_matrix(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let int = |i: usize, what: &str| -> Result<i64, LowerError> {
        let v = ctx.const_ints(node, i, what)?;
        match v.as_slice() {
            [v] if (1..=1 << 20).contains(v) => Ok(*v),
            _ => Err(LowerError::invalid(format!("{what} {v:?}"))),
        }
    };
    let (bins, dft_length, rate) = (int(0, "num_mel_bins")?, int(1, "dft_length")?, int(2, "sample_rate")?);
    let float = |i: usize, what: &str| -> Result<f64, LowerError> {
        let v = ctx.const_floats(node, i, what)?;
        match v.as_slice() {
            [v] if v.is_finite() && *v >= 0.0 => Ok(f64::from(*v)),
            _ => Err(LowerError::invalid(format!("{what} {v:?}"))),
        }
    };
    let (lo, hi) = (float(3, "lower_edge_hertz")?, float(4, "upper_edge_hertz")?);
    let spec = (dft_length / 2 + 1) as usize;
    let nb = bins as usize;
    if spec.checked_mul(nb).is_none_or(|v| v > MAX_MATRIX) {
        return Err(shape_err("MelWeightMatrix too large"));
    }
    let mel = |hz: f64| 2595.0 * (hz / 700.0).ln_1p() / 10f64.ln();
    let (lm, hm) = (mel(lo), mel(hi));
    let step = (hm - lm) / (bins + 2) as f64;
    let edges: Vec<i64> = (0..bins + 2)
        .map(|i| {
            let hz = 700.0 * ((i as f64 * step + lm) / 2595.0 * 10f64.ln()).exp_m1();
            (((dft_length + 1) as f64 * hz) / rate as f64).floor() as i64
        })
        .collect();
    let mut out = vec![0f64; spec * nb];
    let mut set = |j: i64, i: usize, v: f64| -> Result<(), LowerError> {
        let j = usize::try_from(j).ok().filter(|j| *j < spec).ok_or_else(|| LowerError::invalid("mel edges beyond the spectrum"))?;
        out[j * nb + i] = v;
        Ok(())
    };
    for i in 0..nb {
        let (l, c, h) = (edges[i], edges[i + 1], edges[i + 2]);
        if c == l {
            set(c, i, 1.0)?;
        } else {
            for j in l..=c {
                set(j, i, (j - l) as f64 / (c - l) as f64)?;
            }
        }
        if h > c {
            for j in c..h {
                set(j, i, (h - j) as f64 / (h - c) as f64)?;
            }
        }
    }
    let d = TensorData::from_f64(output_type(node)?, vec![spec, nb], &out).ok_or_else(|| dtype_err("MelWeightMatrix type"))?;
    ctx.set_val(node, 0, Val::Const(d));
    Ok(())
}
