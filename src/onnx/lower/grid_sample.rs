//! GridSample on 4-D inputs: coordinates denormalized with the reference's
//! float32 operation order, adjusted for the padding mode, then the input
//! (channels last) read at the integer positions with GATHER_ND and
//! interpolated (nearest, or bilinear as two 1-D steps, x then y).

use super::operand::{shape_err, static_dim, typed_input};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// The most sampling positions (N·Ho·Wo) a conversion writes as a constant.
const MAX_POSITIONS: i64 = 1 << 24;

/// How samples outside the input are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Padding {
    Zeros,
    Border,
    Reflection,
}

/// One sampling axis: its coordinates and its size.
struct Axis {
    /// Pixel coordinates `[N, Ho, Wo]`, float32, after the padding rule.
    coord: TensorId,
    /// The input size along the axis.
    len: i64,
}

/// Lowers `GridSample` (opset 16 on) on a float32 `[N, C, H, W]` input and a
/// `[N, Ho, Wo, 2]` grid of static shapes: `mode` nearest (rounding halves
/// to even, as the reference's `rint`) or bilinear / linear; padding zeros,
/// border or reflection; `align_corners`. Bicubic and volumetric (5-D)
/// sampling are refused.
pub fn lower_grid_sample(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| if node.opset() >= 20 { "linear".into() } else { "bilinear".into() });
    let nearest = match mode.as_str() {
        "nearest" => true,
        "linear" | "bilinear" => false,
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
    if xs.rank() != 4 || gs.rank() != 4 {
        return Err(shape_err(format!("GridSample of an input {xs} with a grid {gs} (only 2-D sampling: 4-D input and grid)")));
    }
    let n = static_dim(&xs, 0, "GridSample: the batch")?;
    let c = static_dim(&xs, 1, "GridSample: the channels")?;
    let h = static_dim(&xs, 2, "GridSample: the input height")?;
    let w = static_dim(&xs, 3, "GridSample: the input width")?;
    let ho = static_dim(&gs, 1, "GridSample: the output height")?;
    let wo = static_dim(&gs, 2, "GridSample: the output width")?;
    if static_dim(&gs, 0, "GridSample: the grid batch")? != n || static_dim(&gs, 3, "GridSample: the grid's last dimension")? != 2 {
        return Err(LowerError::invalid(format!("GridSample grid {gs} for an input {xs} (must be [N, Ho, Wo, 2])")));
    }
    if [n, c, h, w, ho, wo].iter().any(|d| *d == 0) {
        return Err(shape_err("GridSample with an empty dimension"));
    }
    // The batch positions are a constant of N·Ho·Wo entries.
    if n.checked_mul(ho).and_then(|v| v.checked_mul(wo)).is_none_or(|v| v > MAX_POSITIONS) {
        return Err(shape_err(format!("GridSample to {n}×{ho}×{wo} positions (at most {MAX_POSITIONS})")));
    }
    if padding == Padding::Reflection && align && (h == 1 || w == 1) {
        return Err(shape_err("GridSample reflection with align_corners on a size-1 axis (the reference divides by zero)"));
    }
    let name = node.name();
    let (n32, ho32, wo32) = (n as i32, ho as i32, wo as i32);
    // The grid's x (width) and y (height) components, [N, Ho, Wo].
    let component = |ctx: &mut LowerCtx<'_>, i: i32| -> Result<TensorId, LowerError> {
        let s = ctx.g.slice(g, &[0, 0, 0, i], &[n32, ho32, wo32, 1])?;
        Ok(ctx.g.reshape(s, &[n32, ho32, wo32])?)
    };
    let gx = component(ctx, 0)?;
    let gy = component(ctx, 1)?;
    let ax = axis(ctx, &name, "x", gx, w, align, padding, nearest)?;
    let ay = axis(ctx, &name, "y", gy, h, align, padding, nearest)?;
    // The input channels last, [N, H, W, C], read by GATHER_ND at
    // (batch, row, column).
    let data = ctx.g.transpose(x, &[0, 2, 3, 1])?;
    let batch: Vec<i32> = (0..n32).flat_map(|b| std::iter::repeat_n(b, (ho * wo) as usize)).collect();
    let batch = ctx.g.constant_i32(&format!("{name}/batch"), [n as u32, ho as u32, wo as u32, 1], &batch);
    let zero = ctx.g.constant_f32(&format!("{name}/zero"), Shape::scalar(), &[0.0]);
    let read = |ctx: &mut LowerCtx<'_>, yi: &Index, xi: &Index| -> Result<TensorId, LowerError> {
        let idx = ctx.g.concatenation(&[batch, yi.clamped, xi.clamped], 3)?;
        let v = ctx.g.gather_nd(data, idx)?;
        match (&yi.valid, &xi.valid) {
            (Some(vy), Some(vx)) => {
                let ok = ctx.g.apply(Op::LogicalAnd, &[Some(*vy), Some(*vx)])?;
                Ok(ctx.g.apply(Op::SelectV2, &[Some(ok), Some(v), Some(zero)])?)
            }
            _ => Ok(v),
        }
    };
    let y = if nearest {
        let yi = index(ctx, &name, "y", ay.coord, ay.len, padding)?;
        let xi = index(ctx, &name, "x", ax.coord, ax.len, padding)?;
        read(ctx, &yi, &xi)?
    } else {
        let (y0, y1, wy0, wy1) = corners(ctx, &name, "y", &ay, padding)?;
        let (x0, x1, wx0, wx1) = corners(ctx, &name, "x", &ax, padding)?;
        // Along x in rows y0 and y1, then along y, as the reference does.
        let mut rows = Vec::with_capacity(2);
        for yi in [&y0, &y1] {
            let v0 = read(ctx, yi, &x0)?;
            let v1 = read(ctx, yi, &x1)?;
            let a = ctx.g.mul(v0, wx0)?;
            let b = ctx.g.mul(v1, wx1)?;
            rows.push(ctx.g.add(a, b)?);
        }
        let a = ctx.g.mul(rows[0], wy0)?;
        let b = ctx.g.mul(rows[1], wy1)?;
        ctx.g.add(a, b)?
    };
    let y = ctx.g.transpose(y, &[0, 3, 1, 2])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Denormalizes one grid component to pixel coordinates as the reference
/// does in float32 (`(g + 1) / 2 · (len − 1)` with aligned corners,
/// `((g + 1) · len − 1) / 2` without), rounds halves to even for nearest,
/// and applies the padding rule to coordinates outside the borders.
#[allow(clippy::too_many_arguments)]
fn axis(ctx: &mut LowerCtx<'_>, name: &str, which: &str, g: TensorId, len: i64, align: bool, padding: Padding, nearest: bool) -> Result<Axis, LowerError> {
    let k = |ctx: &mut LowerCtx<'_>, what: &str, v: f32| ctx.g.constant_f32(&format!("{name}/{which}_{what}"), Shape::scalar(), &[v]);
    let one = k(ctx, "one", 1.0);
    let half = k(ctx, "half", 0.5);
    let t = ctx.g.add(g, one)?;
    let mut coord = if align {
        let t = ctx.g.mul(t, half)?;
        let l = k(ctx, "len_m1", (len - 1) as f32);
        ctx.g.mul(t, l)?
    } else {
        let l = k(ctx, "len", len as f32);
        let t = ctx.g.mul(t, l)?;
        let t = ctx.g.sub(t, one)?;
        ctx.g.mul(t, half)?
    };
    if nearest {
        coord = ctx.g.round(coord)?;
    }
    let (lo, hi) = if align { (0.0, (len - 1) as f32) } else { (-0.5, len as f32 - 0.5) };
    let lo_t = k(ctx, "lo", lo);
    let hi_t = k(ctx, "hi", hi);
    let below = ctx.g.apply(Op::Less, &[Some(coord), Some(lo_t)])?;
    let above = ctx.g.apply(Op::Greater, &[Some(coord), Some(hi_t)])?;
    coord = match padding {
        Padding::Zeros => coord,
        Padding::Border => {
            let outside = ctx.g.apply(Op::LogicalOr, &[Some(below), Some(above)])?;
            let zero = k(ctx, "zero", 0.0);
            let last = k(ctx, "last", (len - 1) as f32);
            let c = ctx.g.maximum(coord, zero)?;
            let c = ctx.g.minimum(c, last)?;
            ctx.g.apply(Op::SelectV2, &[Some(outside), Some(c), Some(coord)])?
        }
        Padding::Reflection => reflect(ctx, name, which, coord, below, above, lo, hi)?,
    };
    Ok(Axis { coord, len })
}

/// The reference's reflection of coordinates outside `[lo, hi]`: `d` past
/// the border, `m = ⌊d / range⌋` whole ranges, `r = d − m·range`; from the
/// near border when `m` is even, from the far one when odd.
#[allow(clippy::too_many_arguments)]
fn reflect(ctx: &mut LowerCtx<'_>, name: &str, which: &str, x: TensorId, below: TensorId, above: TensorId, lo: f32, hi: f32) -> Result<TensorId, LowerError> {
    let k = |ctx: &mut LowerCtx<'_>, what: &str, v: f32| ctx.g.constant_f32(&format!("{name}/{which}_reflect_{what}"), Shape::scalar(), &[v]);
    let lo_t = k(ctx, "lo", lo);
    let hi_t = k(ctx, "hi", hi);
    let range = k(ctx, "range", hi - lo);
    let two = k(ctx, "two", 2.0);
    let zero = k(ctx, "zero", 0.0);
    // Distance past the nearer border (≥ 0 outside, unused inside).
    let d_lo = ctx.g.sub(lo_t, x)?;
    let d_hi = ctx.g.sub(x, hi_t)?;
    let d = ctx.g.apply(Op::SelectV2, &[Some(below), Some(d_lo), Some(d_hi)])?;
    let q = ctx.g.div(d, range)?;
    let m = ctx.g.floor(q)?;
    let mr = ctx.g.mul(m, range)?;
    let r = ctx.g.sub(d, mr)?;
    let parity = ctx.g.apply(Op::FloorMod, &[Some(m), Some(two)])?;
    let even = ctx.g.apply(Op::Equal, &[Some(parity), Some(zero)])?;
    let from_lo = ctx.g.add(lo_t, r)?;
    let from_hi = ctx.g.sub(hi_t, r)?;
    // Below: even → lo + r, odd → hi − r. Above: even → hi − r, odd → lo + r.
    let use_lo = ctx.g.apply(Op::Equal, &[Some(even), Some(below)])?;
    let reflected = ctx.g.apply(Op::SelectV2, &[Some(use_lo), Some(from_lo), Some(from_hi)])?;
    let outside = ctx.g.apply(Op::LogicalOr, &[Some(below), Some(above)])?;
    Ok(ctx.g.apply(Op::SelectV2, &[Some(outside), Some(reflected), Some(x)])?)
}

/// An integer position along an axis, `[N, Ho, Wo, 1]` int32, clamped into
/// the input for reading, and (zeros padding) whether it was inside.
struct Index {
    clamped: TensorId,
    valid: Option<TensorId>,
}

/// The integer position of a float coordinate that already is a whole
/// number (CAST truncates, as the reference's `astype(int32)` / `int()`).
fn index(ctx: &mut LowerCtx<'_>, name: &str, what: &str, coord: TensorId, len: i64, padding: Padding) -> Result<Index, LowerError> {
    let i = ctx.g.cast(coord, DType::I32)?;
    let sh = ctx.shape(i).clone();
    let dims: Vec<i32> = sh.dims().iter().map(|d| d.fixed().map_or(-1, |v| v as i32)).chain([1]).collect();
    let i = ctx.g.reshape(i, &dims)?;
    let zero = ctx.g.constant_i32(&format!("{name}/{what}_zero"), Shape::scalar(), &[0]);
    let last = ctx.g.constant_i32(&format!("{name}/{what}_last"), Shape::scalar(), &[(len - 1) as i32]);
    let valid = if padding == Padding::Zeros {
        let ge = ctx.g.apply(Op::GreaterEqual, &[Some(i), Some(zero)])?;
        let le = ctx.g.apply(Op::LessEqual, &[Some(i), Some(last)])?;
        Some(ctx.g.apply(Op::LogicalAnd, &[Some(ge), Some(le)])?)
    } else {
        None
    };
    let c = ctx.g.maximum(i, zero)?;
    let clamped = ctx.g.minimum(c, last)?;
    Ok(Index { clamped, valid })
}

/// The two neighbours of a coordinate for linear interpolation and their
/// weights `[N, Ho, Wo, 1]`: `x0 = ⌊x⌋`, `x1 = x0 + 1`, `w1 = x − x0`,
/// `w0 = 1 − w1` (float32, as the reference).
fn corners(ctx: &mut LowerCtx<'_>, name: &str, what: &str, a: &Axis, padding: Padding) -> Result<(Index, Index, TensorId, TensorId), LowerError> {
    let f0 = ctx.g.floor(a.coord)?;
    let one = ctx.g.constant_f32(&format!("{name}/{what}_w_one"), Shape::scalar(), &[1.0]);
    let f1 = ctx.g.add(f0, one)?;
    let w1 = ctx.g.sub(a.coord, f0)?;
    let w0 = ctx.g.sub(one, w1)?;
    let sh = ctx.shape(w1).clone();
    let dims: Vec<i32> = sh.dims().iter().map(|d| d.fixed().map_or(-1, |v| v as i32)).chain([1]).collect();
    let w0 = ctx.g.reshape(w0, &dims)?;
    let w1 = ctx.g.reshape(w1, &dims)?;
    let i0 = index(ctx, name, &format!("{what}0"), f0, a.len, padding)?;
    let i1 = index(ctx, name, &format!("{what}1"), f1, a.len, padding)?;
    Ok((i0, i1, w0, w1))
}
