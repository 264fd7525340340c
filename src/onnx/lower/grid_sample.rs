//! GridSample on 4-D and 5-D inputs (2 or 3 spatial axes): coordinates
//! denormalized with the reference's float32 operation order, adjusted for
//! the padding mode, then the input (channels last) read at integer
//! positions with GATHER_ND and interpolated: nearest, linear or cubic, one
//! axis at a time from the last (x) to the first, as the reference does.

use super::operand::{shape_err, static_dim, typed_input};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// The most sampling positions (N·outputs) a conversion writes as a constant.
const MAX_POSITIONS: i64 = 1 << 24;

/// The cubic convolution constant of the reference (Keys, α = −0.75).
const CUBIC_ALPHA: f32 = -0.75;

/// How samples outside the input are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Padding {
    Zeros,
    Border,
    Reflection,
}

/// How values between positions are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Nearest,
    Linear,
    Cubic,
}

/// The sampling along one spatial axis.
struct Axis {
    /// A unique name part for the constants.
    tag: String,
    /// Pixel coordinates, float32 `[N, out…]`, after the padding rule.
    coord: TensorId,
    /// The input size along the axis.
    len: i64,
    /// The borders beyond which the padding rule applies.
    lo: f32,
    hi: f32,
}

/// An integer position along an axis, int32 `[N, out…, 1]`, in the input
/// for reading, and (zeros padding) whether it was inside.
struct Index {
    read: TensorId,
    valid: Option<TensorId>,
}

/// Lowers `GridSample` (opset 16 on) on a float32 `[N, C, (D,) H, W]`
/// input and a `[N, (Do,) Ho, Wo, 2 or 3]` grid of static shapes: `mode`
/// nearest (halves to even, the reference's `rint`), bilinear / linear or
/// bicubic / cubic; padding zeros, border or reflection; `align_corners`.
pub fn lower_grid_sample(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = match node.attr_str("mode")?.as_deref().unwrap_or(if node.opset() >= 20 { "linear" } else { "bilinear" }) {
        "nearest" => Mode::Nearest,
        "linear" | "bilinear" => Mode::Linear,
        "cubic" | "bicubic" => Mode::Cubic,
        other => return Err(LowerError::attr(format!("GridSample mode {other}"))),
    };
    let padding = match node.attr_str("padding_mode")?.as_deref().unwrap_or("zeros") {
        "zeros" => Padding::Zeros,
        "border" => Padding::Border,
        "reflection" => Padding::Reflection,
        other => return Err(LowerError::attr(format!("GridSample padding_mode {other}"))),
    };
    let align = node.int_or("align_corners", 0)? != 0;
    let x = typed_input(ctx, node, &[DType::F32])?;
    let g = ctx.input(node, 1)?;
    if ctx.dtype(g) != DType::F32 {
        return Err(super::operand::dtype_err(format!("GridSample grid of type {}", ctx.dtype(g))));
    }
    let (xs, gs) = (ctx.shape(x).clone(), ctx.shape(g).clone());
    let r = xs.rank();
    if !(r == 4 || r == 5) || gs.rank() != r {
        return Err(shape_err(format!("GridSample of an input {xs} with a grid {gs} (2-D or 3-D sampling: 4-D or 5-D input and grid)")));
    }
    if mode == Mode::Cubic && r == 5 {
        return Err(LowerError::attr("GridSample cubic mode on a volumetric input (the specification allows it on 4-D only)"));
    }
    let k = r - 2;
    let xd: Vec<i64> = (0..r).map(|i| static_dim(&xs, i, "GridSample: the input")).collect::<Result<_, _>>()?;
    let gd: Vec<i64> = (0..r).map(|i| static_dim(&gs, i, "GridSample: the grid")).collect::<Result<_, _>>()?;
    if gd[0] != xd[0] || gd[r - 1] != k as i64 {
        return Err(LowerError::invalid(format!("GridSample grid {gs} for an input {xs} (must be [N, out…, {k}])")));
    }
    if xd.iter().chain(&gd).any(|d| *d == 0) {
        return Err(shape_err("GridSample with an empty dimension"));
    }
    let positions = gd[..r - 1].iter().try_fold(1i64, |a, d| a.checked_mul(*d));
    if positions.is_none_or(|v| v > MAX_POSITIONS) {
        return Err(shape_err(format!("GridSample to a grid {gs} (at most {MAX_POSITIONS} positions)")));
    }
    if padding == Padding::Reflection && align && xd[2..].contains(&1) {
        return Err(shape_err("GridSample reflection with align_corners on a size-1 axis (the reference divides by zero)"));
    }
    let name = node.name();
    let out: Vec<i32> = gd[..r - 1].iter().map(|d| *d as i32).collect();
    // Grid component c (x is 0) as [N, out…]; spatial axis i (0 the first
    // after the channels) takes component k − 1 − i.
    let mut axes = Vec::with_capacity(k);
    for i in 0..k {
        let comp = (k - 1 - i) as i32;
        let mut begin = vec![0i32; r];
        begin[r - 1] = comp;
        let mut size = out.clone();
        size.push(1);
        let s = ctx.g.slice(g, &begin, &size)?;
        let gi = ctx.g.reshape(s, &out)?;
        axes.push(axis(ctx, &format!("{name}/axis{i}"), gi, xd[2 + i], align, padding, mode == Mode::Nearest)?);
    }
    // Channels last, [N, spatial…, C], read by GATHER_ND at
    // (batch, spatial positions…).
    let mut perm = vec![0i32];
    perm.extend(2..r as i32);
    perm.push(1);
    let data = ctx.g.transpose(x, &perm)?;
    let per_batch: i64 = gd[1..r - 1].iter().product();
    let batch: Vec<i32> = (0..xd[0] as i32).flat_map(|b| std::iter::repeat_n(b, per_batch as usize)).collect();
    let mut bdims: Vec<u32> = out.iter().map(|d| *d as u32).collect();
    bdims.push(1);
    let batch = ctx.g.constant_i32(&format!("{name}/batch"), Shape::new(bdims), &batch);
    let zero = ctx.g.constant_f32(&format!("{name}/zero"), Shape::scalar(), &[0.0]);
    let s = Sampler { data, batch, zero, padding, axis: r as i32 - 1 };
    let y = match mode {
        Mode::Nearest => {
            let idx: Vec<Index> = axes.iter().map(|a| index(ctx, &format!("{}/nearest", a.tag), a.coord, a, padding)).collect::<Result<_, _>>()?;
            s.read(ctx, &idx.iter().collect::<Vec<_>>())?
        }
        Mode::Linear | Mode::Cubic => {
            let taps: Vec<Vec<(Index, TensorId)>> = axes.iter().map(|a| taps(ctx, a, mode, padding)).collect::<Result<_, _>>()?;
            s.interpolate(ctx, &taps, &mut Vec::new())?
        }
    };
    // Back to [N, C, out…].
    let mut back = vec![0i32, r as i32 - 1];
    back.extend(1..r as i32 - 1);
    let y = ctx.g.transpose(y, &back)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// What reading the input needs.
struct Sampler {
    data: TensorId,
    batch: TensorId,
    zero: TensorId,
    padding: Padding,
    /// The last axis of the positions, where their parts are concatenated.
    axis: i32,
}

impl Sampler {
    /// The input at one integer position per axis, `[N, out…, C]`; zero
    /// where a position is outside (zeros padding).
    fn read(&self, ctx: &mut LowerCtx<'_>, idx: &[&Index]) -> Result<TensorId, LowerError> {
        let mut parts = vec![self.batch];
        parts.extend(idx.iter().map(|i| i.read));
        let at = ctx.g.concatenation(&parts, self.axis)?;
        let v = ctx.g.gather_nd(self.data, at)?;
        if self.padding != Padding::Zeros {
            return Ok(v);
        }
        let mut ok: Option<TensorId> = None;
        for i in idx {
            if let Some(vi) = i.valid {
                ok = Some(match ok {
                    None => vi,
                    Some(o) => ctx.g.apply(Op::LogicalAnd, &[Some(o), Some(vi)])?,
                });
            }
        }
        match ok {
            Some(o) => Ok(ctx.g.apply(Op::SelectV2, &[Some(o), Some(v), Some(self.zero)])?),
            None => Ok(v),
        }
    }

    /// Interpolates along axes `chosen.len()..`, innermost (last) first:
    /// for each tap of the current axis the interpolation over the later
    /// axes, then their weighted sum.
    fn interpolate(&self, ctx: &mut LowerCtx<'_>, taps: &[Vec<(Index, TensorId)>], chosen: &mut Vec<usize>) -> Result<TensorId, LowerError> {
        let a = chosen.len();
        if a == taps.len() {
            let idx: Vec<&Index> = chosen.iter().enumerate().map(|(ax, t)| &taps[ax][*t].0).collect();
            return self.read(ctx, &idx);
        }
        let mut acc: Option<TensorId> = None;
        for t in 0..taps[a].len() {
            chosen.push(t);
            let v = self.interpolate(ctx, taps, chosen)?;
            chosen.pop();
            let term = ctx.g.mul(v, taps[a][t].1)?;
            acc = Some(match acc {
                None => term,
                Some(s) => ctx.g.add(s, term)?,
            });
        }
        acc.ok_or_else(|| LowerError::invalid("GridSample axis without taps"))
    }
}

/// A float32 scalar constant.
fn scalar(ctx: &mut LowerCtx<'_>, name: &str, v: f32) -> TensorId {
    ctx.g.constant_f32(name, Shape::scalar(), &[v])
}

/// Denormalizes one grid component to pixel coordinates as the reference
/// does in float32 (`(g + 1) / 2 · (len − 1)` with aligned corners,
/// `((g + 1) · len − 1) / 2` without), rounds halves to even for nearest,
/// and applies the padding rule to coordinates outside the borders.
fn axis(ctx: &mut LowerCtx<'_>, tag: &str, g: TensorId, len: i64, align: bool, padding: Padding, nearest: bool) -> Result<Axis, LowerError> {
    let one = scalar(ctx, &format!("{tag}/one"), 1.0);
    let half = scalar(ctx, &format!("{tag}/half"), 0.5);
    let t = ctx.g.add(g, one)?;
    let mut coord = if align {
        let t = ctx.g.mul(t, half)?;
        let l = scalar(ctx, &format!("{tag}/len_m1"), (len - 1) as f32);
        ctx.g.mul(t, l)?
    } else {
        let l = scalar(ctx, &format!("{tag}/len"), len as f32);
        let t = ctx.g.mul(t, l)?;
        let t = ctx.g.sub(t, one)?;
        ctx.g.mul(t, half)?
    };
    if nearest {
        coord = ctx.g.round(coord)?;
    }
    let (lo, hi) = if align { (0.0, (len - 1) as f32) } else { (-0.5, len as f32 - 0.5) };
    let mut a = Axis { tag: tag.to_string(), coord, len, lo, hi };
    a.coord = match padding {
        Padding::Zeros => coord,
        Padding::Border => {
            let (below, above) = outside(ctx, &a, coord)?;
            let out = ctx.g.apply(Op::LogicalOr, &[Some(below), Some(above)])?;
            let zero = scalar(ctx, &format!("{tag}/zero"), 0.0);
            let last = scalar(ctx, &format!("{tag}/last"), (len - 1) as f32);
            let c = ctx.g.maximum(coord, zero)?;
            let c = ctx.g.minimum(c, last)?;
            ctx.g.apply(Op::SelectV2, &[Some(out), Some(c), Some(coord)])?
        }
        Padding::Reflection => reflect(ctx, &a, coord, "coord")?,
    };
    Ok(a)
}

/// Whether `x` is below `lo` and whether above `hi`.
fn outside(ctx: &mut LowerCtx<'_>, a: &Axis, x: TensorId) -> Result<(TensorId, TensorId), LowerError> {
    let lo = scalar(ctx, &format!("{}/lo", a.tag), a.lo);
    let hi = scalar(ctx, &format!("{}/hi", a.tag), a.hi);
    let below = ctx.g.apply(Op::Less, &[Some(x), Some(lo)])?;
    let above = ctx.g.apply(Op::Greater, &[Some(x), Some(hi)])?;
    Ok((below, above))
}

/// The reference's reflection of values outside `[lo, hi]`: `d` past the
/// border, `m = ⌊d / range⌋` whole ranges, `r = d − m·range`; from the
/// near border when `m` is even, from the far one when odd.
fn reflect(ctx: &mut LowerCtx<'_>, a: &Axis, x: TensorId, what: &str) -> Result<TensorId, LowerError> {
    let tag = format!("{}/reflect_{what}", a.tag);
    let (below, above) = outside(ctx, a, x)?;
    let lo = scalar(ctx, &format!("{tag}/lo"), a.lo);
    let hi = scalar(ctx, &format!("{tag}/hi"), a.hi);
    let range = scalar(ctx, &format!("{tag}/range"), a.hi - a.lo);
    let two = scalar(ctx, &format!("{tag}/two"), 2.0);
    let zero = scalar(ctx, &format!("{tag}/zero"), 0.0);
    let d_lo = ctx.g.sub(lo, x)?;
    let d_hi = ctx.g.sub(x, hi)?;
    let d = ctx.g.apply(Op::SelectV2, &[Some(below), Some(d_lo), Some(d_hi)])?;
    let q = ctx.g.div(d, range)?;
    let m = ctx.g.floor(q)?;
    let mr = ctx.g.mul(m, range)?;
    let rem = ctx.g.sub(d, mr)?;
    let parity = ctx.g.apply(Op::FloorMod, &[Some(m), Some(two)])?;
    let even = ctx.g.apply(Op::Equal, &[Some(parity), Some(zero)])?;
    let from_lo = ctx.g.add(lo, rem)?;
    let from_hi = ctx.g.sub(hi, rem)?;
    // Below: even → lo + r, odd → hi − r. Above: even → hi − r, odd → lo + r.
    let use_lo = ctx.g.apply(Op::Equal, &[Some(even), Some(below)])?;
    let reflected = ctx.g.apply(Op::SelectV2, &[Some(use_lo), Some(from_lo), Some(from_hi)])?;
    let out = ctx.g.apply(Op::LogicalOr, &[Some(below), Some(above)])?;
    Ok(ctx.g.apply(Op::SelectV2, &[Some(out), Some(reflected), Some(x)])?)
}

/// The integer position of a whole-number coordinate `c`, as the
/// reference's `pixel_at`: zeros padding marks positions outside; border
/// clamps; reflection reflects (then truncates, as `int()`). The position
/// read is clamped into the input in every case.
fn index(ctx: &mut LowerCtx<'_>, tag: &str, c: TensorId, a: &Axis, padding: Padding) -> Result<Index, LowerError> {
    let c = if padding == Padding::Reflection { reflect(ctx, a, c, "index")? } else { c };
    let i = ctx.g.cast(c, DType::I32)?;
    let mut dims: Vec<i32> = ctx.shape(i).dims().iter().map(|d| d.fixed().map_or(-1, |v| v as i32)).collect();
    dims.push(1);
    let i = ctx.g.reshape(i, &dims)?;
    let zero = ctx.g.constant_i32(&format!("{tag}/zero"), Shape::scalar(), &[0]);
    let last = ctx.g.constant_i32(&format!("{tag}/last"), Shape::scalar(), &[(a.len - 1) as i32]);
    let valid = if padding == Padding::Zeros {
        let ge = ctx.g.apply(Op::GreaterEqual, &[Some(i), Some(zero)])?;
        let le = ctx.g.apply(Op::LessEqual, &[Some(i), Some(last)])?;
        Some(ctx.g.apply(Op::LogicalAnd, &[Some(ge), Some(le)])?)
    } else {
        None
    };
    let lo = ctx.g.maximum(i, zero)?;
    let read = ctx.g.minimum(lo, last)?;
    Ok(Index { read, valid })
}

/// The taps of one axis and their weights `[N, out…, 1]`: linear, `x0 =
/// ⌊x⌋` and `x0 + 1` weighted `1 − t` and `t` (`t = x − x0`); cubic,
/// `x0 − 1 … x0 + 2` weighted by the reference's Keys coefficients of `t`.
fn taps(ctx: &mut LowerCtx<'_>, a: &Axis, mode: Mode, padding: Padding) -> Result<Vec<(Index, TensorId)>, LowerError> {
    let tag = &a.tag;
    let f0 = ctx.g.floor(a.coord)?;
    let t = ctx.g.sub(a.coord, f0)?;
    let mut dims: Vec<i32> = ctx.shape(t).dims().iter().map(|d| d.fixed().map_or(-1, |v| v as i32)).collect();
    dims.push(1);
    let offsets: &[f32] = if mode == Mode::Cubic { &[-1.0, 0.0, 1.0, 2.0] } else { &[0.0, 1.0] };
    let weights = if mode == Mode::Cubic { cubic_weights(ctx, tag, t)? } else { linear_weights(ctx, tag, t)? };
    let mut out = Vec::with_capacity(offsets.len());
    for (j, (off, w)) in offsets.iter().zip(weights).enumerate() {
        let c = if *off == 0.0 {
            f0
        } else {
            let o = scalar(ctx, &format!("{tag}/tap{j}"), *off);
            ctx.g.add(f0, o)?
        };
        let idx = index(ctx, &format!("{tag}/tap{j}"), c, a, padding)?;
        let w = ctx.g.reshape(w, &dims)?;
        out.push((idx, w));
    }
    Ok(out)
}

/// `1 − t` and `t`.
fn linear_weights(ctx: &mut LowerCtx<'_>, tag: &str, t: TensorId) -> Result<Vec<TensorId>, LowerError> {
    let one = scalar(ctx, &format!("{tag}/w_one"), 1.0);
    let w0 = ctx.g.sub(one, t)?;
    Ok(vec![w0, t])
}

/// The reference's cubic coefficients of `t` in `[0, 1)`, term by term:
/// `((α(t+1) − 5α)(t+1) + 8α)(t+1) − 4α`, `((α+2)t − (α+3))t² + 1`,
/// `((α+2)(1−t) − (α+3))(1−t)² + 1`, `((α(2−t) − 5α)(2−t) + 8α)(2−t) − 4α`.
fn cubic_weights(ctx: &mut LowerCtx<'_>, tag: &str, t: TensorId) -> Result<Vec<TensorId>, LowerError> {
    let a = CUBIC_ALPHA;
    let k = |ctx: &mut LowerCtx<'_>, what: &str, v: f32| scalar(ctx, &format!("{tag}/cubic_{what}"), v);
    let one = k(ctx, "one", 1.0);
    let two = k(ctx, "two", 2.0);
    let alpha = k(ctx, "alpha", a);
    let five_a = k(ctx, "five_alpha", 5.0 * a);
    let eight_a = k(ctx, "eight_alpha", 8.0 * a);
    let four_a = k(ctx, "four_alpha", 4.0 * a);
    let a2 = k(ctx, "alpha_p2", a + 2.0);
    let a3 = k(ctx, "alpha_p3", a + 3.0);
    // The outer taps, at distance u = t + 1 and u = 2 − t.
    let outer = |ctx: &mut LowerCtx<'_>, u: TensorId| -> Result<TensorId, LowerError> {
        let p = ctx.g.mul(alpha, u)?;
        let p = ctx.g.sub(p, five_a)?;
        let p = ctx.g.mul(p, u)?;
        let p = ctx.g.add(p, eight_a)?;
        let p = ctx.g.mul(p, u)?;
        Ok(ctx.g.sub(p, four_a)?)
    };
    // The inner taps, at distance v = t and v = 1 − t.
    let inner = |ctx: &mut LowerCtx<'_>, v: TensorId| -> Result<TensorId, LowerError> {
        let p = ctx.g.mul(a2, v)?;
        let p = ctx.g.sub(p, a3)?;
        let p = ctx.g.mul(p, v)?;
        let p = ctx.g.mul(p, v)?;
        Ok(ctx.g.add(p, one)?)
    };
    let u0 = ctx.g.add(t, one)?;
    let v2 = ctx.g.sub(one, t)?;
    let u3 = ctx.g.sub(two, t)?;
    let c0 = outer(ctx, u0)?;
    let c1 = inner(ctx, t)?;
    let c2 = inner(ctx, v2)?;
    let c3 = outer(ctx, u3)?;
    Ok(vec![c0, c1, c2, c3])
}
