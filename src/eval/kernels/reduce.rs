//! `MEAN`, `SUM` and `REDUCE_MAX`.

use super::{strides, walk, Cx, Result};
use crate::eval::Value;

/// Which reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The mean of real values.
    Mean,
    /// The sum of real values.
    Sum,
    /// The maximum of the stored numbers (quantized values are compared as
    /// stored, as the runtime does; input and output share their type).
    Max,
    /// The minimum of the stored numbers (like `Max`).
    Min,
    /// The product of real values.
    Prod,
}

/// Reduces over the axes in the second input (negative axes count from the
/// end, repeats are ignored); reduced dimensions are dropped, or kept as 1
/// under `keep_dims`.
pub(super) fn reduce(cx: &Cx<'_>, keep_dims: bool, kind: Kind) -> Result<Vec<Value>> {
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

    let xs = match kind {
        Kind::Max | Kind::Min => {
            cx.same_type(x)?;
            std::borrow::Cow::Borrowed(x.data.as_slice())
        }
        Kind::Mean | Kind::Sum | Kind::Prod => cx.real(x)?,
    };
    let init = match kind {
        Kind::Max => f64::NEG_INFINITY,
        Kind::Min => f64::INFINITY,
        Kind::Prod => 1.0,
        Kind::Mean | Kind::Sum => 0.0,
    };
    let mut acc = vec![init; total];
    let mut values = xs.iter();
    walk(&x.shape, [&out_strides], |[o]| {
        let (a, v) = acc.get_mut(o).zip(values.next()).ok_or_else(|| cx.internal())?;
        match kind {
            // The runtime's `in > current ? in : current`.
            Kind::Max => *a = if *v > *a { *v } else { *a },
            Kind::Min => *a = if *v < *a { *v } else { *a },
            Kind::Prod => *a *= v,
            Kind::Mean | Kind::Sum => *a += v,
        }
        Ok(())
    })?;
    if kind == Kind::Mean {
        // An empty reduction gives NaN (0 / 0), as NumPy does.
        let divisor = count as f64;
        acc.iter_mut().for_each(|s| *s /= divisor);
    }
    let shape = if keep_dims {
        kept
    } else {
        x.shape.iter().zip(&reduced).filter(|(_, r)| !**r).map(|(d, _)| *d).collect()
    };
    match kind {
        Kind::Max | Kind::Min => cx.finish_raw(shape, acc),
        Kind::Mean | Kind::Sum | Kind::Prod => cx.finish(shape, acc),
    }
}
