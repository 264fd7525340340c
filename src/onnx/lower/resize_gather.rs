//! Resize computed with gathers, one axis at a time, for what TFLite's
//! RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR cannot express: scales or
//! sizes known only at run time, scales that give fractional output
//! sizes, the `cubic` mode, every nearest rounding, `half_pixel_symmetric`
//! and `tf_crop_and_resize`, on any rank and any axes (batch and channels
//! included).
//!
//! ONNX's Resize is separable: each resized axis maps output index `y` to
//! a source coordinate `x` (the coordinate transformation), then blends
//! the input at the neighbours of `x` with the mode's coefficients, the
//! neighbours' indices clamped to the axis (edge padding). Here each axis
//! becomes, at run time:
//!
//! - the output length `O` (`floor(scale · L)`, or the given size) and the
//!   float scale (`O / L` for sizes);
//! - `y = RANGE(0, O)` and `x` computed elementwise from the transform;
//! - `nearest`: one GATHER at the rounded, clamped `x`; `linear`: two
//!   GATHERs blended by `x − floor(x)`; `cubic`: four GATHERs weighted by
//!   the cubic kernel (`cubic_coeff_a`, `exclude_outside`).
//!
//! Everything is float32 in the graph, where ONNX's reference computes the
//! coordinates in float64; the node suite checks the result in LiteRT.

use super::operand::{dtype_err, shape_err};
use super::symbolic::SDim;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// How the neighbours of a source coordinate are blended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kernel {
    /// The nearest input, ties and direction by `nearest_mode`.
    Nearest(Rounding),
    /// Linear interpolation between the two neighbours.
    Linear,
    /// Cubic convolution over four neighbours.
    Cubic {
        /// `cubic_coeff_a`.
        a: f32,
        /// Zero the weights of neighbours outside the axis and renormalise.
        exclude_outside: bool,
    },
}

/// ONNX's `nearest_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rounding {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

impl Rounding {
    pub(super) fn parse(mode: &str) -> Result<Rounding, LowerError> {
        Ok(match mode {
            "round_prefer_floor" => Rounding::RoundPreferFloor,
            "round_prefer_ceil" => Rounding::RoundPreferCeil,
            "floor" => Rounding::Floor,
            "ceil" => Rounding::Ceil,
            other => return Err(LowerError::attr(format!("nearest_mode {other}"))),
        })
    }
}

/// ONNX's `coordinate_transformation_mode`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Transform {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    /// With the axis's `roi` start and end (float32 scalars, fractions of
    /// `L − 1`) and the value given to coordinates outside the input.
    TfCropAndResize { start: TensorId, end: TensorId, extrapolation: f32 },
}

/// The resize target of one axis.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    /// A float32 scalar scale, and its value when constant.
    Scale(TensorId, Option<f32>),
    /// An int32 scalar output length, and its value when constant.
    Size(TensorId, Option<i64>),
}

/// One axis to resize.
#[derive(Debug, Clone, Copy)]
pub(super) struct AxisPlan {
    pub axis: usize,
    pub target: Target,
    pub transform: Transform,
}

/// A float32 scalar constant.
fn scalar(ctx: &mut LowerCtx<'_>, name: &str, v: f32) -> TensorId {
    ctx.g.constant_f32(name, Shape::scalar(), &[v])
}

/// The float32 scalar length of a (possibly symbolic) dimension.
fn length_f32(ctx: &mut LowerCtx<'_>, name: &str, d: &SDim) -> Result<TensorId, LowerError> {
    if let Some(n) = d.known() {
        return Ok(scalar(ctx, name, n as f32));
    }
    let t = ctx.shape_tensor(name, std::slice::from_ref(d), true)?;
    Ok(ctx.g.cast(t, DType::F32)?)
}

/// Resizes `x` along each planned axis in turn and returns the result.
/// With `policy` `not_larger` or `not_smaller` (sizes only), every axis
/// takes the smallest or largest of the axes' `size / L` as its scale and
/// `round_half_up(scale · L)` as its length.
pub(super) fn resize_by_gathers(
    ctx: &mut LowerCtx<'_>,
    node: &Node<'_>,
    x: TensorId,
    kernel: Kernel,
    plans: &[AxisPlan],
    policy: &str,
    antialias: bool,
) -> Result<TensorId, LowerError> {
    if ctx.dtype(x) != DType::F32 {
        return Err(dtype_err(format!("{} computed by gathers takes float32, not {}", node.op_type(), ctx.dtype(x))));
    }
    let name = node.name();
    let dims = ctx.symbolic_shape(x);
    // Per axis: (length as float, scale, output length int32, output length
    // known here).
    let mut axes = Vec::new();
    for p in plans {
        let d = dims.get(p.axis).cloned().ok_or_else(|| shape_err(format!("axis {} of a rank-{} input", p.axis, dims.len())))?;
        let lf = length_f32(ctx, &format!("{name}/rz{}/len", p.axis), &d)?;
        axes.push((p, d, lf));
    }
    // The shared scale of keep_aspect_ratio_policy.
    let shared = match policy {
        "stretch" => None,
        "not_larger" | "not_smaller" => {
            let mut acc: Option<TensorId> = None;
            for (p, _, lf) in &axes {
                let Target::Size(o, _) = p.target else {
                    return Err(LowerError::invalid("keep_aspect_ratio_policy with scales"));
                };
                let of = ctx.g.cast(o, DType::F32)?;
                let s = ctx.g.div(of, *lf)?;
                acc = Some(match acc {
                    None => s,
                    Some(a) if policy == "not_larger" => ctx.g.minimum(a, s)?,
                    Some(a) => ctx.g.maximum(a, s)?,
                });
            }
            acc
        }
        other => return Err(LowerError::attr(format!("keep_aspect_ratio_policy {other}"))),
    };
    let mut y = x;
    let mut known = dims.clone();
    for (p, d, lf) in axes {
        let tag = format!("{name}/rz{}", p.axis);
        let (scale, out, out_known) = match (p.target, shared) {
            (_, Some(s)) => {
                // round_half_up(s · L)
                let sl = ctx.g.mul(s, lf)?;
                let half = scalar(ctx, &format!("{tag}/half"), 0.5);
                let r = ctx.g.add(sl, half)?;
                let f = ctx.g.floor(r)?;
                (s, ctx.g.cast(f, DType::I32)?, None)
            }
            (Target::Scale(s, sv), None) => {
                if sv.is_some_and(|v| !(v > 0.0) || !v.is_finite()) {
                    return Err(LowerError::invalid(format!("scale {:?} on axis {}", sv, p.axis)));
                }
                let sl = ctx.g.mul(s, lf)?;
                let f = ctx.g.floor(sl)?;
                let o = ctx.g.cast(f, DType::I32)?;
                let ok = match (sv, d.known()) {
                    (Some(v), Some(l)) => Some((f64::from(v) * l as f64).floor() as i64),
                    _ => None,
                };
                (s, o, ok)
            }
            (Target::Size(o, ov), None) => {
                if ov.is_some_and(|v| v < 0) {
                    return Err(LowerError::invalid(format!("size {:?} on axis {}", ov, p.axis)));
                }
                let of = ctx.g.cast(o, DType::F32)?;
                (ctx.g.div(of, lf)?, o, ov)
            }
        };
        // Antialiased: a matrix computed at run time over the static length.
        let antialias = match (antialias, d.known()) {
            (false, _) => None,
            (true, Some(l)) => Some(usize::try_from(l).map_err(|_| shape_err(format!("length {l}")))?),
            (true, None) => return Err(shape_err(format!("antialias on axis {} of length {d} (needs a static length)", p.axis))),
        };
        y = resize_axis(ctx, &tag, y, p.axis, dims.len(), kernel, p.transform, lf, scale, out, antialias)?;
        if let Some(o) = out_known {
            known[p.axis] = SDim::Known(o);
        }
    }
    super::generate::refine(ctx, y, &known);
    Ok(y)
}

/// One axis: `out` positions along `axis` of `x`, sampled per `transform`
/// and `kernel`.
#[allow(clippy::too_many_arguments)]
fn resize_axis(
    ctx: &mut LowerCtx<'_>,
    tag: &str,
    x: TensorId,
    axis: usize,
    rank: usize,
    kernel: Kernel,
    transform: Transform,
    lf: TensorId,
    scale: TensorId,
    out: TensorId,
    antialias: Option<usize>,
) -> Result<TensorId, LowerError> {
    let c = |ctx: &mut LowerCtx<'_>, what: &str, v: f32| scalar(ctx, &format!("{tag}/{what}"), v);
    let zero_i = ctx.g.constant_i32(&format!("{tag}/i0"), Shape::scalar(), &[0]);
    let one_i = ctx.g.constant_i32(&format!("{tag}/i1"), Shape::scalar(), &[1]);
    let pos = ctx.g.range(&[Some(zero_i), Some(out), Some(one_i)])?;
    let yf = ctx.g.cast(pos, DType::F32)?;
    let half = c(ctx, "half", 0.5);
    let one = c(ctx, "one", 1.0);
    // output_width = scale · L, as a float (ONNX tests it against 1).
    let width = ctx.g.mul(scale, lf)?;
    let lm1 = ctx.g.sub(lf, one)?;
    let half_pixel = |ctx: &mut LowerCtx<'_>| -> Result<TensorId, LowerError> {
        let a = ctx.g.add(yf, half)?;
        let b = ctx.g.div(a, scale)?;
        Ok(ctx.g.sub(b, half)?)
    };
    // Where output_width is 1, `when_one`; elsewhere `other`.
    let width_is_one = |ctx: &mut LowerCtx<'_>, when_one: TensorId, other: TensorId| -> Result<TensorId, LowerError> {
        let is_one = ctx.g.apply(Op::Equal, &[Some(width), Some(one)])?;
        Ok(ctx.g.apply(Op::SelectV2, &[Some(is_one), Some(when_one), Some(other)])?)
    };
    let mut outside = None;
    let xo = match transform {
        Transform::HalfPixel => half_pixel(ctx)?,
        Transform::Asymmetric => ctx.g.div(yf, scale)?,
        Transform::PytorchHalfPixel => {
            let hp = half_pixel(ctx)?;
            let m = c(ctx, "minus_half", -0.5);
            width_is_one(ctx, m, hp)?
        }
        Transform::AlignCorners => {
            let wm1 = ctx.g.sub(width, one)?;
            let a = ctx.g.mul(yf, lm1)?;
            let b = ctx.g.div(a, wm1)?;
            let z = c(ctx, "zero", 0.0);
            width_is_one(ctx, z, b)?
        }
        Transform::HalfPixelSymmetric => {
            // offset = L/2 · (1 − O / (scale · L))
            let of = ctx.g.cast(out, DType::F32)?;
            let adj = ctx.g.div(of, width)?;
            let one_minus = ctx.g.sub(one, adj)?;
            let center = ctx.g.mul(lf, half)?;
            let offset = ctx.g.mul(center, one_minus)?;
            let hp = half_pixel(ctx)?;
            ctx.g.add(hp, offset)?
        }
        Transform::TfCropAndResize { start, end, extrapolation } => {
            let span = ctx.g.sub(end, start)?;
            let st = start;
            let wm1 = ctx.g.sub(width, one)?;
            let a = ctx.g.mul(yf, span)?;
            let b = ctx.g.mul(a, lm1)?;
            let many = ctx.g.div(b, wm1)?;
            // (end − start)(L − 1)/2, shaped like y.
            let single_a = ctx.g.mul(span, lm1)?;
            let single_v = ctx.g.mul(single_a, half)?;
            let zero = c(ctx, "zero", 0.0);
            let zy = ctx.g.mul(yf, zero)?;
            let single = ctx.g.add(zy, single_v)?;
            let r = width_is_one(ctx, single, many)?;
            let off = ctx.g.mul(st, lm1)?;
            let xo = ctx.g.add(r, off)?;
            let z = c(ctx, "zero_bound", 0.0);
            let below = ctx.g.apply(Op::Less, &[Some(xo), Some(z)])?;
            let above = ctx.g.apply(Op::Greater, &[Some(xo), Some(lm1)])?;
            let out_mask = ctx.g.apply(Op::LogicalOr, &[Some(below), Some(above)])?;
            outside = Some((out_mask, extrapolation));
            xo
        }
    };
    if let Some(l) = antialias {
        if outside.is_some() {
            return Err(refuse("antialias with tf_crop_and_resize"));
        }
        return super::resize_antialias::runtime_axis(ctx, tag, x, axis, rank, kernel, xo, scale, l);
    }
    // Index vectors are clamped to [0, L − 1] (edge padding).
    let lm1_i = {
        let t = ctx.g.cast(lm1, DType::I32)?;
        let z = ctx.g.constant_i32(&format!("{tag}/clamp0"), Shape::scalar(), &[0]);
        (t, z)
    };
    let gather_at = |ctx: &mut LowerCtx<'_>, idx_f: TensorId| -> Result<(TensorId, TensorId), LowerError> {
        let i = ctx.g.cast(idx_f, DType::I32)?;
        let lo = ctx.g.maximum(i, lm1_i.1)?;
        let hi = ctx.g.minimum(lo, lm1_i.0)?;
        Ok((ctx.g.gather(x, hi, GatherOptions::new(axis as i32))?, i))
    };
    // Weights broadcast along `axis`: [O] → [1, …, O, …, 1].
    let along = |ctx: &mut LowerCtx<'_>, w: TensorId| -> Result<TensorId, LowerError> {
        let mut t = w;
        for k in 0..rank {
            if k == axis {
                continue;
            }
            let a = ctx.g.constant_i32(&format!("{tag}/ed{k}_{}", ctx.g.subgraph().operators.len()), Shape::scalar(), &[if k < axis { 0 } else { -1 }]);
            t = ctx.g.expand_dims(t, a)?;
        }
        Ok(t)
    };
    let y = match kernel {
        Kernel::Nearest(r) => {
            let idx = match r {
                Rounding::Floor => ctx.g.floor(xo)?,
                Rounding::Ceil => ctx.g.ceil(xo)?,
                // Halves go down: ceil(x − 0.5).
                Rounding::RoundPreferFloor => {
                    let a = ctx.g.sub(xo, half)?;
                    ctx.g.ceil(a)?
                }
                // Halves go up: floor(x + 0.5).
                Rounding::RoundPreferCeil => {
                    let a = ctx.g.add(xo, half)?;
                    ctx.g.floor(a)?
                }
            };
            gather_at(ctx, idx)?.0
        }
        Kernel::Linear => {
            let f = ctx.g.floor(xo)?;
            let w = ctx.g.sub(xo, f)?;
            let f1 = ctx.g.add(f, one)?;
            let (g0, _) = gather_at(ctx, f)?;
            let (g1, _) = gather_at(ctx, f1)?;
            let d = ctx.g.sub(g1, g0)?;
            let wb = along(ctx, w)?;
            let t = ctx.g.mul(d, wb)?;
            ctx.g.add(g0, t)?
        }
        Kernel::Cubic { a, exclude_outside } => {
            let f = ctx.g.floor(xo)?;
            let r = ctx.g.sub(xo, f)?;
            // Distances to the neighbours f − 1, f, f + 1, f + 2.
            let mut terms = Vec::new();
            let mut weights = Vec::new();
            for (k, off) in [-1.0f32, 0.0, 1.0, 2.0].into_iter().enumerate() {
                let o = c(ctx, &format!("tap{k}"), off);
                let at = ctx.g.add(f, o)?;
                let dist = ctx.g.sub(r, o)?; // r − off = x − (f + off)
                let mut w = cubic_weight(ctx, &format!("{tag}/w{k}"), dist, a)?;
                if exclude_outside {
                    let zero = c(ctx, &format!("lo{k}"), 0.0);
                    let ge = ctx.g.apply(Op::GreaterEqual, &[Some(at), Some(zero)])?;
                    let le = ctx.g.apply(Op::LessEqual, &[Some(at), Some(lm1)])?;
                    let inside = ctx.g.apply(Op::LogicalAnd, &[Some(ge), Some(le)])?;
                    let z = ctx.g.mul(w, zero)?;
                    w = ctx.g.apply(Op::SelectV2, &[Some(inside), Some(w), Some(z)])?;
                }
                let (g, _) = gather_at(ctx, at)?;
                terms.push(g);
                weights.push(w);
            }
            if exclude_outside {
                let s01 = ctx.g.add(weights[0], weights[1])?;
                let s23 = ctx.g.add(weights[2], weights[3])?;
                let sum = ctx.g.add(s01, s23)?;
                for w in &mut weights {
                    *w = ctx.g.div(*w, sum)?;
                }
            }
            let mut acc: Option<TensorId> = None;
            for (g, w) in terms.into_iter().zip(weights) {
                let wb = along(ctx, w)?;
                let t = ctx.g.mul(g, wb)?;
                acc = Some(match acc {
                    None => t,
                    Some(a) => ctx.g.add(a, t)?,
                });
            }
            acc.ok_or_else(|| LowerError::invalid("cubic with no taps"))?
        }
    };
    Ok(match outside {
        None => y,
        Some((mask, value)) => {
            let m = along(ctx, mask)?;
            let v = c(ctx, "extrapolation", value);
            let z = c(ctx, "zero_fill", 0.0);
            let zeros = ctx.g.mul(y, z)?;
            let fill = ctx.g.add(zeros, v)?;
            ctx.g.apply(Op::SelectV2, &[Some(m), Some(fill), Some(y)])?
        }
    })
}

/// The cubic convolution kernel of ONNX (Keys, with `a`) at distance `t`:
/// `(a+2)|t|³ − (a+3)|t|² + 1` for |t| ≤ 1, `a|t|³ − 5a|t|² + 8a|t| − 4a`
/// for 1 < |t| < 2, else 0.
pub(super) fn cubic_weight(ctx: &mut LowerCtx<'_>, tag: &str, t: TensorId, a: f32) -> Result<TensorId, LowerError> {
    let c = |ctx: &mut LowerCtx<'_>, what: &str, v: f32| scalar(ctx, &format!("{tag}/{what}"), v);
    let x = ctx.g.abs(t)?;
    let x2 = ctx.g.mul(x, x)?;
    let x3 = ctx.g.mul(x2, x)?;
    // Near: (a+2)x³ − (a+3)x² + 1
    let k1 = c(ctx, "a2", a + 2.0);
    let k2 = c(ctx, "a3", a + 3.0);
    let one = c(ctx, "one", 1.0);
    let n1 = ctx.g.mul(x3, k1)?;
    let n2 = ctx.g.mul(x2, k2)?;
    let n = ctx.g.sub(n1, n2)?;
    let near = ctx.g.add(n, one)?;
    // Far: a x³ − 5a x² + 8a x − 4a
    let fa = c(ctx, "fa", a);
    let f5 = c(ctx, "f5a", 5.0 * a);
    let f8 = c(ctx, "f8a", 8.0 * a);
    let f4 = c(ctx, "f4a", 4.0 * a);
    let m1 = ctx.g.mul(x3, fa)?;
    let m2 = ctx.g.mul(x2, f5)?;
    let m3 = ctx.g.mul(x, f8)?;
    let s = ctx.g.sub(m1, m2)?;
    let s = ctx.g.add(s, m3)?;
    let far = ctx.g.sub(s, f4)?;
    let two = c(ctx, "two", 2.0);
    let is_near = ctx.g.apply(Op::LessEqual, &[Some(x), Some(one)])?;
    let is_far = ctx.g.apply(Op::Less, &[Some(x), Some(two)])?;
    let z = c(ctx, "zero", 0.0);
    let zero = ctx.g.mul(x, z)?;
    let far_or_zero = ctx.g.apply(Op::SelectV2, &[Some(is_far), Some(far), Some(zero)])?;
    Ok(ctx.g.apply(Op::SelectV2, &[Some(is_near), Some(near), Some(far_or_zero)])?)
}

/// A reason code for a resize the gathers cannot do either.
pub(super) fn refuse(detail: impl Into<String>) -> LowerError {
    LowerError::new(ReasonCode::UnsupportedAttribute, detail)
}
