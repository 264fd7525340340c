//! `RESIZE_BILINEAR` and `RESIZE_NEAREST_NEIGHBOR` on NHWC inputs.
//!
//! Source coordinates are computed in `f32`, as the runtime does, so that
//! nearest-neighbor picks the same pixels. Both ops work on stored numbers
//! (quantized inputs are interpolated as integers, as in the runtime), so
//! input and output share a type and, for quantized tensors, parameters.

use super::{Cx, Result};
use crate::eval::Value;
use crate::model::ResizeOptions;

/// Which resize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Bilinear,
    Nearest,
}

/// The `f32` scale from output to input coordinates.
fn scale(input: usize, output: usize, align_corners: bool) -> f32 {
    if align_corners && output > 1 {
        (input as f32 - 1.0) / (output as f32 - 1.0)
    } else {
        input as f32 / output as f32
    }
}

/// The input index nearest-neighbor reads for output index `o`.
fn nearest(o: usize, input: usize, scale: f32, o_: &ResizeOptions) -> usize {
    let offset = if o_.half_pixel_centers { 0.5f32 } else { 0.0 };
    let v = (o as f32 + offset) * scale;
    let i = if o_.align_corners { v.round() } else { v.floor() };
    // `as` saturates; the clamp keeps the index inside the input.
    (i.max(0.0) as usize).min(input.saturating_sub(1))
}

/// The two input indices and the weight of the second for output index `o`.
fn linear(o: usize, input: usize, scale: f32, half_pixel: bool) -> (usize, usize, f64) {
    let v = if half_pixel { (o as f32 + 0.5) * scale - 0.5 } else { o as f32 * scale };
    let lo = (v.floor().max(0.0) as usize).min(input.saturating_sub(1));
    let hi = (v.ceil().max(0.0) as usize).min(input.saturating_sub(1));
    (lo, hi, f64::from(v) - lo as f64)
}

/// Resizes the height and width of `[N, H, W, C]` to the second input's
/// `[new_height, new_width]`.
pub(super) fn resize(cx: &Cx<'_>, o: &ResizeOptions, kind: Kind) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let [n, h, w, c] = cx.dims4(x, "input")?;
    let size = cx.ints(cx.input(1, "size")?, "size")?;
    let [oh, ow] = <[i64; 2]>::try_from(size.as_slice()).map_err(|_| cx.shape_err(format!("size must hold 2 values, holds {size:?}")))?;
    let (Ok(oh), Ok(ow)) = (usize::try_from(oh), usize::try_from(ow)) else {
        return Err(cx.shape_err(format!("size {size:?} must be non-negative")));
    };
    if oh == 0 || ow == 0 || h == 0 || w == 0 {
        return Err(cx.shape_err(format!("cannot resize {:?} to {size:?}", x.shape)));
    }
    if o.align_corners && o.half_pixel_centers {
        return Err(cx.unsupported("align_corners together with half_pixel_centers"));
    }
    let shape = vec![n, oh, ow, c];
    let total = cx.numel(&shape)?;
    let (sy, sx) = (scale(h, oh, o.align_corners), scale(w, ow, o.align_corners));
    let xs = &x.data;
    let at = |b: usize, y: usize, xx: usize| ((b * h + y) * w + xx) * c;
    let mut out = Vec::with_capacity(total);
    for b in 0..n {
        for y in 0..oh {
            for xx in 0..ow {
                match kind {
                    Kind::Nearest => {
                        let (iy, ix) = (nearest(y, h, sy, o), nearest(xx, w, sx, o));
                        out.extend_from_slice(cx.slice(xs, at(b, iy, ix), c)?);
                    }
                    Kind::Bilinear => {
                        let (y0, y1, dy) = linear(y, h, sy, o.half_pixel_centers);
                        let (x0, x1, dx) = linear(xx, w, sx, o.half_pixel_centers);
                        let (p00, p01) = (cx.slice(xs, at(b, y0, x0), c)?, cx.slice(xs, at(b, y0, x1), c)?);
                        let (p10, p11) = (cx.slice(xs, at(b, y1, x0), c)?, cx.slice(xs, at(b, y1, x1), c)?);
                        for k in 0..c {
                            out.push(
                                p00[k] * (1.0 - dy) * (1.0 - dx) + p10[k] * dy * (1.0 - dx) + p01[k] * (1.0 - dy) * dx + p11[k] * dy * dx,
                            );
                        }
                    }
                }
            }
        }
    }
    cx.finish_raw(shape, out)
}
