//! `MEAN`.

use super::{strides, walk, Cx, Result};
use crate::eval::Value;

/// `MEAN` over the axes in the second input (negative axes count from the
/// end, repeats are ignored); reduced dimensions are dropped, or kept as 1
/// under `keep_dims`.
pub(super) fn mean(cx: &Cx<'_>, keep_dims: bool) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    let axes = cx.ints(cx.input(1, "axes")?, "axes")?;
    let rank = x.rank();
    let mut reduced = vec![false; rank];
    for a in axes {
        let i = cx.axis(a, rank)?;
        if let Some(r) = reduced.get_mut(i) {
            *r = true;
        }
    }
    // The output with reduced dimensions kept as 1; its strides, zeroed on
    // the reduced dimensions, map input indices to output offsets.
    let kept: Vec<usize> = x.shape.iter().zip(&reduced).map(|(d, r)| if *r { 1 } else { *d }).collect();
    let total = cx.numel(&kept)?;
    let out_strides: Vec<usize> = strides(&kept).into_iter().zip(&reduced).map(|(s, r)| if *r { 0 } else { s }).collect();
    let count: usize = x.shape.iter().zip(&reduced).filter(|(_, r)| **r).map(|(d, _)| *d).product();

    let xs = cx.real(x)?;
    let mut sums = vec![0.0; total];
    let mut values = xs.iter();
    walk(&x.shape, [&out_strides], |[o]| {
        let (sum, v) = sums.get_mut(o).zip(values.next()).ok_or_else(|| cx.internal())?;
        *sum += v;
        Ok(())
    })?;
    // An empty reduction gives NaN (0 / 0), as NumPy does.
    let divisor = count as f64;
    sums.iter_mut().for_each(|s| *s /= divisor);
    let shape = if keep_dims {
        kept
    } else {
        x.shape.iter().zip(&reduced).filter(|(_, r)| !**r).map(|(d, _)| *d).collect()
    };
    cx.finish(shape, sums)
}
