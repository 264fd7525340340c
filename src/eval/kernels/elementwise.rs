//! `ADD`, `SUB`, `MUL` and `DIV`: NumPy broadcasting and a fused activation.

use super::{clamp, strides, walk, Cx, Result};
use crate::eval::{convert, Value};
use crate::model::Activation;

/// The arithmetic of a binary op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// Evaluates a broadcasting binary op. Integer `DIV` (both operands raw
/// integers) truncates toward zero, like C++.
pub(super) fn binary(cx: &Cx<'_>, arith: Arith, activation: Activation) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "lhs")?;
    let b = cx.input(1, "rhs")?;
    let bounds = cx.activation(activation)?;
    let (shape, n) = cx.broadcast(a, b)?;
    let (x, y) = (cx.real(a)?, cx.real(b)?);
    let integer = convert::is_raw_integer(a) && convert::is_raw_integer(b);
    if integer && arith == Arith::Div && n > 0 && y.contains(&0.0) {
        return Err(cx.shape_err("integer division by zero"));
    }
    let f: fn(f64, f64) -> f64 = match (arith, integer) {
        (Arith::Add, _) => |u, v| u + v,
        (Arith::Sub, _) => |u, v| u - v,
        (Arith::Mul, _) => |u, v| u * v,
        (Arith::Div, false) => |u, v| u / v,
        (Arith::Div, true) => |u, v| (u / v).trunc(),
    };
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        zip_broadcast(cx, &a.shape, &b.shape, &shape, &x, &y, |u, v| out.push(clamp(f(u, v), bounds)))?;
    }
    cx.finish(shape, out)
}

/// `MINIMUM` / `MAXIMUM` with broadcasting. Like the runtime, quantized
/// operands are compared as stored integers (the op assumes one set of
/// parameters for inputs and output). NaN loses to any number in `MAXIMUM`
/// and `MINIMUM` alike (the kernel's `a > b ? a : b`).
pub(super) fn min_max(cx: &Cx<'_>, max: bool) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "lhs")?;
    let b = cx.input(1, "rhs")?;
    cx.same_type(a)?;
    cx.same_type(b)?;
    let (shape, n) = cx.broadcast(a, b)?;
    let mut out = Vec::with_capacity(n);
    let f = |u: f64, v: f64| if max { if u > v { u } else { v } } else if u < v { u } else { v };
    if n > 0 {
        zip_broadcast(cx, &a.shape, &b.shape, &shape, &a.data, &b.data, |u, v| out.push(f(u, v)))?;
    }
    cx.finish_raw(shape, out)
}

/// The NumPy broadcast of two shapes (aligned at the last dimension; sizes
/// equal or one of them 1).
pub(super) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| (i + s.len()).checked_sub(rank).and_then(|j| s.get(j).copied()).unwrap_or(1);
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Strides of `shape` within the broadcast `out` shape: aligned at the last
/// dimension, zero where `shape` is broadcast.
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let own = strides(shape);
    let skip = out.len().saturating_sub(shape.len());
    let mut s = vec![0usize; skip];
    s.extend(shape.iter().zip(own).zip(out.iter().skip(skip)).map(|((d, st), o)| if d == o { st } else { 0 }));
    s
}

/// One row of an operand along the last output dimension.
enum Row<'d> {
    /// Contiguous elements.
    Slice(&'d [f64]),
    /// One element repeated (a broadcast last dimension).
    Repeat(f64),
}

/// Calls `f(x, y)` for every element of the broadcast shape `out`, in
/// row-major order.
pub(super) fn zip_broadcast(
    cx: &Cx<'_>,
    a: &[usize],
    b: &[usize],
    out: &[usize],
    x: &[f64],
    y: &[f64],
    mut f: impl FnMut(f64, f64),
) -> Result<()> {
    let (sa, sb) = (broadcast_strides(a, out), broadcast_strides(b, out));
    let Some((&len, outer)) = out.split_last() else {
        // Two scalars.
        let (u, v) = x.first().zip(y.first()).ok_or_else(|| cx.internal())?;
        f(*u, *v);
        return Ok(());
    };
    let last = |s: &[usize]| s.last().copied().unwrap_or(0);
    let (la, lb) = (last(&sa), last(&sb));
    walk(outer, [&sa, &sb], |[oa, ob]| {
        match (row(cx, x, oa, la, len)?, row(cx, y, ob, lb, len)?) {
            (Row::Slice(p), Row::Slice(q)) => p.iter().zip(q).for_each(|(u, v)| f(*u, *v)),
            (Row::Slice(p), Row::Repeat(v)) => p.iter().for_each(|u| f(*u, v)),
            (Row::Repeat(u), Row::Slice(q)) => q.iter().for_each(|v| f(u, *v)),
            (Row::Repeat(u), Row::Repeat(v)) => (0..len).for_each(|_| f(u, v)),
        }
        Ok(())
    })
}

/// The row of `len` elements at `offset`, whose last-dimension stride is
/// `step` (0 when broadcast).
fn row<'d>(cx: &Cx<'_>, data: &'d [f64], offset: usize, step: usize, len: usize) -> Result<Row<'d>> {
    if step == 0 {
        data.get(offset).map(|v| Row::Repeat(*v)).ok_or_else(|| cx.internal())
    } else {
        cx.slice(data, offset, len).map(Row::Slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_like_numpy() {
        assert_eq!(broadcast_shape(&[2, 3, 4], &[3, 1]), Some(vec![2, 3, 4]));
        assert_eq!(broadcast_shape(&[1], &[5]), Some(vec![5]));
        assert_eq!(broadcast_shape(&[], &[2, 2]), Some(vec![2, 2]));
        assert_eq!(broadcast_shape(&[0, 3], &[1, 3]), Some(vec![0, 3]));
        assert_eq!(broadcast_shape(&[2, 3], &[3, 2]), None);
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
    }
}
