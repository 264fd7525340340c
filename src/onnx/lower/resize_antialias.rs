//! Antialiased `Resize` (opset 18 `antialias = 1`, modes `linear` and
//! `cubic`) that downsamples, with static scales or sizes and static input
//! lengths on the resized axes.
//!
//! The resize is separable and, its sizes known, linear: each resized axis
//! is a constant `[out, in]` matrix `A` (ONNX's reference formula, the
//! filter widened by `1 / scale` when downsampling), applied as
//! FULLY_CONNECTED with weights `A` along that axis — a TRANSPOSE moves the
//! axis last and back (the layout passes cancel adjacent pairs). The
//! matrix rows follow ONNX's reference (`onnx/reference/ops/op_resize.py`):
//! source coordinate from the coordinate transformation, coefficients from
//! `_linear_coeffs_antialias` / `_cubic_coeffs_antialias`, the window of
//! `n` neighbours chosen as the reference does, `exclude_outside`, and
//! out-of-range neighbours clamped to the edge.

use super::resize_gather::{Kernel, Target, Transform};
use super::symbolic::SDim;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// The most entries one axis matrix may have.
const MAX_MATRIX: usize = 1 << 22;

/// The longest axis an antialias matrix computed at run time may resize
/// (the matrix holds about `(2·radius + 3)·L` entries per output row).
const MAX_RUNTIME_LENGTH: i64 = 2048;

/// One resized axis with everything static.
#[derive(Debug, Clone, Copy)]
pub(super) struct StaticAxis {
    pub axis: usize,
    pub input: usize,
    pub output: usize,
    /// The scale of ONNX's formula: the given one, or `output / input` for
    /// sizes (after `keep_aspect_ratio_policy`).
    pub scale: f64,
}

/// The static plan of every resized axis (identity axes dropped), or an
/// error saying what is not static.
pub(super) fn static_plan(targets: &[(Target, Option<SDim>)], axes: &[usize], dims: &[SDim], policy: &str) -> Result<Vec<StaticAxis>, LowerError> {
    let mut lengths = Vec::with_capacity(axes.len());
    for &a in axes {
        let l = dims.get(a).and_then(SDim::known).and_then(|l| usize::try_from(l).ok()).filter(|l| *l > 0);
        lengths.push(l.ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, format!("antialias on axis {a} of length {} (needs a static length)", show(dims.get(a)))))?);
    }
    let runtime = || LowerError::new(ReasonCode::InputMustBeConstant, "antialias with scales or sizes known only at run time");
    let mut plan: Vec<StaticAxis> = Vec::with_capacity(axes.len());
    let with_sizes = targets.iter().any(|(t, _)| matches!(t, Target::Size(..)));
    for ((target, _), (&axis, &input)) in targets.iter().zip(axes.iter().zip(&lengths)) {
        let (scale, output) = match *target {
            Target::Scale(_, Some(s)) => {
                let s = f64::from(s);
                let o = s * input as f64;
                if !s.is_finite() || s <= 0.0 || o >= f64::from(i32::MAX) {
                    return Err(LowerError::invalid(format!("scale {s} on length {input}")));
                }
                (s, o as usize)
            }
            Target::Size(_, Some(o)) => {
                let o = usize::try_from(o).ok().filter(|o| *o > 0 && *o <= i32::MAX as usize).ok_or_else(|| LowerError::invalid(format!("size {o}")))?;
                (o as f64 / input as f64, o)
            }
            _ => return Err(runtime()),
        };
        plan.push(StaticAxis { axis, input, output, scale });
    }
    if with_sizes && policy != "stretch" {
        let scales = plan.iter().map(|p| p.scale);
        let s = match policy {
            "not_larger" => scales.fold(f64::INFINITY, f64::min),
            "not_smaller" => scales.fold(f64::NEG_INFINITY, f64::max),
            other => return Err(LowerError::attr(format!("keep_aspect_ratio_policy {other}"))),
        };
        for p in &mut plan {
            p.scale = s;
            // round_half_up, as the reference.
            p.output = (s * p.input as f64 + 0.5) as usize;
        }
    }
    if let Some(p) = plan.iter().find(|p| p.output == 0) {
        return Err(LowerError::invalid(format!("an output length 0 on axis {}", p.axis)));
    }
    // Axes that stay as they are (the reference skips them too).
    plan.retain(|p| !((p.scale - 1.0).abs() <= 1e-9 && p.output == p.input));
    Ok(plan)
}

fn show(d: Option<&SDim>) -> String {
    d.map_or_else(|| "?".into(), |d| d.to_string())
}

/// The `[output × input]` row-major matrix of one axis.
pub(super) fn matrix(kernel: &Kernel, transform: &Transform, p: &StaticAxis) -> Result<Vec<f64>, LowerError> {
    let (input, output, scale) = (p.input, p.output, p.scale);
    if input.checked_mul(output).is_none_or(|n| n > MAX_MATRIX) {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("an antialias matrix of {output}x{input} is beyond the {MAX_MATRIX}-entry limit")));
    }
    let exclude_outside = matches!(kernel, Kernel::Cubic { exclude_outside: true, .. });
    let out_w = scale * input as f64;
    let mut m = vec![0.0f64; output * input];
    for (y, row) in m.chunks_mut(input).enumerate() {
        let yf = y as f64;
        let x = match transform {
            Transform::AlignCorners => {
                if out_w == 1.0 {
                    0.0
                } else {
                    yf * (input as f64 - 1.0) / (out_w - 1.0)
                }
            }
            Transform::Asymmetric => yf / scale,
            Transform::PytorchHalfPixel if out_w == 1.0 => -0.5,
            Transform::PytorchHalfPixel | Transform::HalfPixel => (yf + 0.5) / scale - 0.5,
            Transform::HalfPixelSymmetric => {
                let adjustment = output as f64 / out_w;
                let center = input as f64 / 2.0;
                center * (1.0 - adjustment) + (yf + 0.5) / scale - 0.5
            }
            Transform::TfCropAndResize { .. } => return Err(LowerError::attr("antialias with tf_crop_and_resize")),
        };
        let x_int = x.floor();
        let ratio = if x == x_int { 1.0 } else { x - x_int };
        let mut coeffs = match kernel {
            Kernel::Linear => linear_coeffs(ratio, scale),
            Kernel::Cubic { a, .. } => cubic_coeffs(ratio, scale, f64::from(*a)),
            Kernel::Nearest(_) => return Err(LowerError::attr("antialias with mode nearest")),
        };
        let n = coeffs.len() as i64;
        // The reference's window: the n neighbours nearest x in the
        // edge-padded axis, ties to the smaller index.
        let pad = (n + 1) / 2;
        let xp = x + pad as f64;
        let pp = xp.floor();
        let frac = xp - pp;
        let offset = if n % 2 == 0 {
            if frac == 0.0 { -(n / 2) } else { -(n / 2) + 1 }
        } else if frac <= 0.5 {
            -((n - 1) / 2)
        } else {
            -((n - 1) / 2) + 1
        };
        let start = pp as i64 + offset - pad;
        let inside = |i: i64| i >= 0 && i < input as i64;
        if exclude_outside {
            for (j, c) in coeffs.iter_mut().enumerate() {
                if !inside(start + j as i64) {
                    *c = 0.0;
                }
            }
            let sum: f64 = coeffs.iter().sum();
            let sum = if sum == 0.0 { 1.0 } else { sum };
            coeffs.iter_mut().for_each(|c| *c /= sum);
        }
        for (j, c) in coeffs.iter().enumerate() {
            let i = (start + j as i64).clamp(0, input as i64 - 1) as usize;
            if let Some(cell) = row.get_mut(i) {
                *cell += c;
            }
        }
    }
    Ok(m)
}

/// `_linear_coeffs_antialias`: the tent filter widened by `1 / scale`.
fn linear_coeffs(ratio: f64, scale: f64) -> Vec<f64> {
    let scale = scale.min(1.0);
    let start = (-1.0 / scale).floor() as i64 + 1;
    let footprint = 2 - 2 * start;
    let c: Vec<f64> = (start..start + footprint).map(|i| (1.0 - ((i as f64 - ratio) * scale).abs()).clamp(0.0, 1.0)).collect();
    normalized(c)
}

/// `_cubic_coeffs_antialias`: the cubic filter (coefficient `a`) widened by
/// `1 / scale`.
fn cubic_coeffs(ratio: f64, scale: f64, a: f64) -> Vec<f64> {
    let scale = scale.min(1.0);
    let coeff = |x: f64| {
        let x = x.abs();
        let (x2, x3) = (x * x, x * x * x);
        if x <= 1.0 {
            (a + 2.0) * x3 - (a + 3.0) * x2 + 1.0
        } else if x < 2.0 {
            a * x3 - 5.0 * a * x2 + 8.0 * a * x - 4.0 * a
        } else {
            0.0
        }
    };
    let i_start = (-2.0 / scale).floor() as i64 + 1;
    let i_end = 2 - i_start;
    normalized((i_start..i_end).map(|i| coeff(scale * (i as f64 - ratio))).collect())
}

fn normalized(mut c: Vec<f64>) -> Vec<f64> {
    let sum: f64 = c.iter().sum();
    c.iter_mut().for_each(|v| *v /= sum);
    c
}

/// Lowers the resize of `x` along the planned axes: per axis, TRANSPOSE
/// the axis last (unless it is), FULLY_CONNECTED with the axis matrix as
/// weights, TRANSPOSE back.
pub(super) fn lower(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, kernel: &Kernel, transform: &Transform, plan: &[StaticAxis]) -> Result<TensorId, LowerError> {
    let name = node.name().to_string();
    let rank = ctx.shape(x).rank();
    let mut y = x;
    for p in plan {
        let m = matrix(kernel, transform, p)?;
        let w: Vec<f32> = m.iter().map(|v| *v as f32).collect();
        let wt = ctx.g.constant_f32(&format!("{name}/antialias{}", p.axis), [p.output as u32, p.input as u32], &w);
        let last = rank - 1;
        let moved = p.axis != last;
        let mut perm: Vec<i32> = (0..rank as i32).collect();
        perm.swap(p.axis, last);
        let t = if moved { ctx.transpose(y, &perm)? } else { y };
        let r = ctx.g.fully_connected(t, wt, None, FullyConnectedOptions::default().with_keep_num_dims(rank != 2))?;
        // The swap is its own inverse.
        y = if moved { ctx.transpose(r, &perm)? } else { r };
    }
    Ok(y)
}

/// One antialiased axis whose scale is known only at run time (over a
/// static length `l`): the matrix is computed in the graph. Its rows hold
/// the filter at every integer tap `p` of a static range that covers the
/// filter's support for any scale giving at least one output (`scale ≥
/// 1 / l`), normalized; taps left of 0 and right of `l − 1` add to the
/// edge columns (edge padding), or are dropped before normalizing with
/// `exclude_outside`. The reference's window of `n` taps always covers the
/// support, and taps outside it weigh 0, so the rows equal its
/// coefficients. The axis is then contracted with BATCH_MATMUL.
#[allow(clippy::too_many_arguments)]
pub(super) fn runtime_axis(
    ctx: &mut LowerCtx<'_>,
    tag: &str,
    x: TensorId,
    axis: usize,
    rank: usize,
    kernel: Kernel,
    xo: TensorId,
    scale: TensorId,
    l: usize,
) -> Result<TensorId, LowerError> {
    let (radius, a, exclude_outside) = match kernel {
        Kernel::Linear => (1i64, 0.0, false),
        Kernel::Cubic { a, exclude_outside } => (2, a, exclude_outside),
        Kernel::Nearest(_) => return Err(LowerError::attr("antialias with mode nearest")),
    };
    let li = i64::try_from(l).map_err(|_| LowerError::invalid("length"))?;
    // The run-time matrix is [O, ≈ (2·radius + 3)·l]: bound l.
    if l == 0 || li > MAX_RUNTIME_LENGTH {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("antialias on a length {l} (1 to {MAX_RUNTIME_LENGTH} with scales or sizes given at run time)")));
    }
    // Source coordinates lie in [-1, l]; the support reaches radius / scale
    // ≤ radius · l further.
    let reach = (radius + 1) * li + 4;
    let (pmin, pmax) = (-reach, li - 1 + reach);
    let taps: Vec<f32> = (pmin..=pmax).map(|p| p as f32).collect();
    let k = taps.len();
    let k0 = usize::try_from(-pmin).map_err(|_| LowerError::invalid("taps"))?;
    let c = |ctx: &mut LowerCtx<'_>, what: &str, v: f32| ctx.g.constant_f32(&format!("{tag}/aa_{what}"), Shape::scalar(), &[v]);
    let idx = |ctx: &mut LowerCtx<'_>, what: &str, r: std::ops::Range<usize>| {
        let v: Vec<i32> = r.map(|i| i as i32).collect();
        ctx.g.constant_i32(&format!("{tag}/aa_{what}"), [v.len() as u32], &v)
    };
    let p = ctx.g.constant_f32(&format!("{tag}/aa_taps"), [1, k as u32], &taps);
    let one = c(ctx, "one", 1.0);
    let s1 = ctx.g.minimum(scale, one)?;
    let last = ctx.g.constant_i32(&format!("{tag}/aa_last"), Shape::scalar(), &[-1]);
    let xc = ctx.g.expand_dims(xo, last)?;
    let d = ctx.g.sub(p, xc)?;
    let t = ctx.g.mul(d, s1)?;
    let f = match kernel {
        Kernel::Cubic { .. } => super::resize_gather::cubic_weight(ctx, &format!("{tag}/aa_cubic"), t, a)?,
        _ => {
            let at = ctx.g.abs(t)?;
            let r = ctx.g.sub(one, at)?;
            ctx.g.relu(r)?
        }
    };
    let m = if exclude_outside {
        let inside = idx(ctx, "inside", k0..k0 + l);
        let fi = ctx.g.gather(f, inside, GatherOptions::new(1))?;
        let sum = ctx.g.sum(fi, &[1], true)?;
        ctx.g.div(fi, sum)?
    } else {
        let sum = ctx.g.sum(f, &[1], true)?;
        let fnorm = ctx.g.div(f, sum)?;
        if l == 1 {
            ctx.g.sum(fnorm, &[1], true)?
        } else {
            let left_i = idx(ctx, "left", 0..k0 + 1);
            let left = ctx.g.gather(fnorm, left_i, GatherOptions::new(1))?;
            let left = ctx.g.sum(left, &[1], true)?;
            let right_i = idx(ctx, "right", k0 + l - 1..k);
            let right = ctx.g.gather(fnorm, right_i, GatherOptions::new(1))?;
            let right = ctx.g.sum(right, &[1], true)?;
            let mut parts = vec![left];
            if l > 2 {
                let mid_i = idx(ctx, "mid", k0 + 1..k0 + l - 1);
                parts.push(ctx.g.gather(fnorm, mid_i, GatherOptions::new(1))?);
            }
            parts.push(right);
            ctx.g.concatenation(&parts, 1)?
        }
    };
    // [.., l] × [O, l]ᵀ along the axis moved last.
    let lastd = rank - 1;
    let mut perm: Vec<i32> = (0..rank as i32).collect();
    perm.swap(axis, lastd);
    let moved = axis != lastd;
    let xt = if moved { ctx.transpose(x, &perm)? } else { x };
    let y = ctx.g.batch_matmul(xt, m, BatchMatMulOptions { adj_y: true, ..Default::default() })?;
    if moved { ctx.transpose(y, &perm) } else { Ok(y) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_to_one_and_widen_when_downsampling() {
        let p = StaticAxis { axis: 0, input: 8, output: 3, scale: 3.0 / 8.0 };
        for kernel in [Kernel::Linear, Kernel::Cubic { a: -0.75, exclude_outside: false }, Kernel::Cubic { a: -0.5, exclude_outside: true }] {
            let m = matrix(&kernel, &Transform::HalfPixel, &p).unwrap();
            for row in m.chunks(8) {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{kernel:?}: {row:?}");
            }
            // The middle row reads more than the 2 or 4 plain taps.
            assert!(m[8..16].iter().filter(|v| **v != 0.0).count() > 4, "{kernel:?}: {m:?}");
        }
        // Linear antialias at scale 1/2 is the tent over [-2, 2] inputs.
        assert_eq!(linear_coeffs(0.5, 0.5), [0.125, 0.375, 0.375, 0.125]);
    }
}
