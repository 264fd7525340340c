//! `RESHAPE`, `TRANSPOSE`, `CONCATENATION` and `PAD`.

use super::{clamp, strides, walk, Cx, Result};
use crate::eval::Value;
use crate::model::ConcatenationOptions;

/// `RESHAPE`: the target shape is the second input's values when it is a
/// vector, else the `new_shape` option. One `-1` is inferred; the legacy
/// target `[0]` of a one-element input means a scalar.
pub(super) fn reshape(cx: &Cx<'_>, new_shape: Option<&[i32]>) -> Result<Vec<Value>> {
    cx.arity(1, 2)?;
    let x = cx.input(0, "input")?;
    let target: Vec<i64> = match (cx.optional(1), new_shape) {
        (Some(s), _) if s.rank() == 1 => cx.ints(s, "shape")?,
        (_, Some(t)) => t.iter().map(|d| i64::from(*d)).collect(),
        _ => return Err(cx.shape_err("no target shape: neither a shape vector input nor new_shape")),
    };
    let shape = resolve_shape(cx, &target, x.len())?;
    cx.finish(shape, cx.real(x)?.into_owned())
}

/// The shape `target` gives `n` elements (one `-1` inferred).
fn resolve_shape(cx: &Cx<'_>, target: &[i64], n: usize) -> Result<Vec<usize>> {
    if target == [0] && n == 1 {
        return Ok(Vec::new());
    }
    let bad = || cx.shape_err(format!("cannot reshape {n} elements to {target:?}"));
    let mut infer_at = None;
    let mut known = 1usize;
    let mut shape = Vec::with_capacity(target.len());
    for (i, &d) in target.iter().enumerate() {
        if d == -1 {
            if infer_at.replace(i).is_some() {
                return Err(cx.shape_err(format!("target shape {target:?} has more than one -1")));
            }
            shape.push(1);
        } else {
            let d = usize::try_from(d).map_err(|_| bad())?;
            known = known.checked_mul(d).ok_or_else(bad)?;
            shape.push(d);
        }
    }
    match infer_at {
        Some(i) => {
            if known == 0 || !n.is_multiple_of(known) {
                return Err(bad());
            }
            if let Some(d) = shape.get_mut(i) {
                *d = n / known;
            }
        }
        None if known != n => return Err(bad()),
        None => {}
    }
    Ok(shape)
}

/// `TRANSPOSE` by the permutation in the second input (negative entries
/// count from the end): output dimension `i` is input dimension `perm[i]`.
pub(super) fn transpose(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    let perm = cx.ints(cx.input(1, "perm")?, "perm")?;
    let rank = x.rank();
    if perm.len() != rank {
        return Err(cx.shape_err(format!("permutation {perm:?} does not fit rank {rank}")));
    }
    let in_strides = strides(&x.shape);
    let mut seen = vec![false; rank];
    let mut shape = Vec::with_capacity(rank);
    let mut steps = Vec::with_capacity(rank);
    for &p in &perm {
        let a = cx.axis(p, rank)?;
        match seen.get_mut(a) {
            Some(s) if !*s => *s = true,
            _ => return Err(cx.shape_err(format!("{perm:?} is not a permutation of rank {rank}"))),
        }
        shape.push(x.shape.get(a).copied().ok_or_else(|| cx.internal())?);
        steps.push(in_strides.get(a).copied().ok_or_else(|| cx.internal())?);
    }
    let total = cx.numel(&shape)?;
    let xs = cx.real(x)?;
    let mut out = Vec::with_capacity(total);
    walk(&shape, [&steps], |[o]| {
        out.push(*xs.get(o).ok_or_else(|| cx.internal())?);
        Ok(())
    })?;
    cx.finish(shape, out)
}

/// `CONCATENATION` of all inputs along `axis` (negative counts from the
/// end), with a fused activation. Each input is dequantized with its own
/// parameters.
pub(super) fn concatenation(cx: &Cx<'_>, o: &ConcatenationOptions) -> Result<Vec<Value>> {
    if cx.inputs.is_empty() {
        return Err(cx.shape_err("takes at least 1 input, has 0"));
    }
    let xs: Vec<&Value> = (0..cx.inputs.len()).map(|i| cx.input(i, "value")).collect::<Result<_>>()?;
    let first = xs.first().ok_or_else(|| cx.internal())?;
    let rank = first.rank();
    let axis = cx.axis(i64::from(o.axis), rank)?;
    let bounds = cx.activation(o.activation)?;
    let mut shape = first.shape.clone();
    let mut along = 0usize;
    for x in &xs {
        let same_elsewhere = x.rank() == rank
            && x.shape.iter().zip(&first.shape).enumerate().all(|(i, (a, b))| i == axis || a == b);
        if !same_elsewhere {
            return Err(cx.shape_err(format!("shapes {:?} and {:?} differ outside axis {axis}", first.shape, x.shape)));
        }
        along = along.checked_add(x.shape.get(axis).copied().unwrap_or(0)).ok_or_else(|| cx.internal())?;
    }
    if let Some(d) = shape.get_mut(axis) {
        *d = along;
    }
    let total = cx.numel(&shape)?;
    let outer: usize = shape.iter().take(axis).product();
    let parts = xs
        .iter()
        .map(|x| Ok((cx.real(x)?, x.shape.iter().skip(axis).product::<usize>())))
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(total);
    for i in 0..outer {
        for (data, chunk) in &parts {
            out.extend(cx.slice(data, i * chunk, *chunk)?.iter().map(|v| clamp(*v, bounds)));
        }
    }
    cx.finish(shape, out)
}

/// `PAD` with the `[rank, 2]` (before, after) amounts of the second input.
/// Pads with real zero, which quantizes to the zero point.
pub(super) fn pad(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    let p = cx.input(1, "paddings")?;
    let rank = x.rank();
    if p.shape != [rank, 2] {
        return Err(cx.shape_err(format!("paddings must have shape [{rank}, 2], have {:?}", p.shape)));
    }
    let amounts = cx.ints(p, "paddings")?;
    let mut pads = Vec::with_capacity(rank);
    let mut shape = Vec::with_capacity(rank);
    for (d, [before, after]) in x.shape.iter().zip(amounts.as_chunks::<2>().0) {
        let (Ok(before), Ok(after)) = (usize::try_from(*before), usize::try_from(*after)) else {
            return Err(cx.shape_err(format!("paddings must be non-negative, are {amounts:?}")));
        };
        let size = d.checked_add(before).and_then(|s| s.checked_add(after));
        shape.push(size.ok_or_else(|| cx.shape_err("padded size overflows"))?);
        pads.push(before);
    }
    let total = cx.numel(&shape)?;
    let xs = cx.real(x)?;
    let mut out = vec![0.0; total];
    let out_strides = strides(&shape);
    let base: usize = pads.iter().zip(&out_strides).map(|(p, s)| p * s).sum();
    match x.shape.split_last() {
        // A scalar: nothing to pad.
        None => out = xs.into_owned(),
        Some((&row_len, outer)) if row_len > 0 => {
            let mut rows = xs.chunks_exact(row_len);
            walk(outer, [&out_strides], |[o]| {
                let row = rows.next().ok_or_else(|| cx.internal())?;
                let start = base + o;
                out.get_mut(start..start + row_len).ok_or_else(|| cx.internal())?.copy_from_slice(row);
                Ok(())
            })?;
        }
        Some(_) => {}
    }
    cx.finish(shape, out)
}
