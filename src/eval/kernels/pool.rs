//! `AVERAGE_POOL_2D`, `MAX_POOL_2D` and `L2_POOL_2D` on NHWC inputs.

use super::{clamp, Cx, Result, Window};
use crate::eval::Value;
use crate::model::Pool2dOptions;

/// Which pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The mean over the window's non-padded elements.
    Average,
    /// The maximum over the window's non-padded elements.
    Max,
    /// The root mean square over the window's non-padded elements.
    L2,
}

/// Pools each channel over `filter_h × filter_w` windows. Padded positions
/// never count: an average divides by the number of input elements under
/// the window.
pub(super) fn pool2d(cx: &Cx<'_>, o: &Pool2dOptions, kind: Kind) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let [n, h, wd, c] = cx.dims4(x, "input")?;
    let bounds = cx.activation(o.activation)?;
    let fh = cx.positive(o.filter_h, "filter height")?;
    let fw = cx.positive(o.filter_w, "filter width")?;
    let ry = Window::new(cx, h, fh, o.stride_h, 1, o.padding, "height")?;
    let rx = Window::new(cx, wd, fw, o.stride_w, 1, o.padding, "width")?;
    let shape = vec![n, ry.out, rx.out, c];
    let total = cx.numel(&shape)?;
    let xs = cx.real(x)?;

    let init = match kind {
        Kind::Average | Kind::L2 => 0.0,
        Kind::Max => f64::NEG_INFINITY,
    };
    let mut out = Vec::with_capacity(total);
    let mut acc = vec![init; c];
    for b in 0..n {
        for oy in 0..ry.out {
            for ox in 0..rx.out {
                acc.fill(init);
                let (ys, xr) = (ry.span(oy), rx.span(ox));
                let count = ys.len() * xr.len();
                for iy in ys {
                    for ix in xr.clone() {
                        let row = cx.slice(&xs, ((b * h + iy) * wd + ix) * c, c)?;
                        match kind {
                            Kind::Average => acc.iter_mut().zip(row).for_each(|(a, v)| *a += v),
                            Kind::Max => acc.iter_mut().zip(row).for_each(|(a, v)| *a = a.max(*v)),
                            Kind::L2 => acc.iter_mut().zip(row).for_each(|(a, v)| *a += v * v),
                        }
                    }
                }
                let divisor = match kind {
                    Kind::Average | Kind::L2 if count > 0 => count as f64,
                    _ => 1.0,
                };
                if kind == Kind::L2 {
                    out.extend(acc.iter().map(|v| clamp((v / divisor).sqrt(), bounds)));
                } else {
                    out.extend(acc.iter().map(|v| clamp(v / divisor, bounds)));
                }
            }
        }
    }
    cx.finish(shape, out)
}
