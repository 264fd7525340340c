//! Comparisons, logic, selection and the other ops the ONNX comparison and
//! reduction lowerings use: `EQUAL`, `NOT_EQUAL`, `LESS`, `LESS_EQUAL`,
//! `GREATER`, `GREATER_EQUAL`, `LOGICAL_AND`, `LOGICAL_OR`, `LOGICAL_NOT`,
//! `SELECT_V2`, `POW`, `FLOOR_MOD`, `LOG_SOFTMAX`, `ARG_MAX`, `ARG_MIN` and
//! `BROADCAST_TO`.

use super::elementwise::{broadcast_shape, zip_broadcast};
use super::{strides, Cx, Result};
use crate::eval::{convert, Value};
use crate::model::DType;

/// A comparison of two real values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Compares two operands elementwise with broadcasting; bool output.
/// Quantized operands are compared by their real values, as the runtime
/// rescales them to a common scale first.
pub(super) fn compare(cx: &Cx<'_>, cmp: Cmp) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "lhs")?;
    let b = cx.input(1, "rhs")?;
    if a.dtype != b.dtype {
        return Err(cx.unsupported(format!("operands of types {} and {}", a.dtype, b.dtype)));
    }
    let (shape, n) = cx.broadcast(a, b)?;
    let (x, y) = (cx.real(a)?, cx.real(b)?);
    let f = |u: f64, v: f64| match cmp {
        Cmp::Eq => u == v,
        Cmp::Ne => u != v,
        Cmp::Lt => u < v,
        Cmp::Le => u <= v,
        Cmp::Gt => u > v,
        Cmp::Ge => u >= v,
    };
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        zip_broadcast(cx, &a.shape, &b.shape, &shape, &x, &y, |u, v| out.push(if f(u, v) { 1.0 } else { 0.0 }))?;
    }
    cx.finish_raw(shape, out)
}

/// `LOGICAL_AND` (`and`) or `LOGICAL_OR` of two bool operands.
pub(super) fn logical(cx: &Cx<'_>, and: bool) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "lhs")?;
    let b = cx.input(1, "rhs")?;
    if a.dtype != DType::Bool || b.dtype != DType::Bool {
        return Err(cx.unsupported(format!("operands of types {} and {} (bool only)", a.dtype, b.dtype)));
    }
    let (shape, n) = cx.broadcast(a, b)?;
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        zip_broadcast(cx, &a.shape, &b.shape, &shape, &a.data, &b.data, |u, v| {
            let r = if and { u != 0.0 && v != 0.0 } else { u != 0.0 || v != 0.0 };
            out.push(if r { 1.0 } else { 0.0 });
        })?;
    }
    cx.finish_raw(shape, out)
}

/// `LOGICAL_NOT` of a bool operand.
pub(super) fn logical_not(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    if x.dtype != DType::Bool {
        return Err(cx.unsupported(format!("operand of type {} (bool only)", x.dtype)));
    }
    let data = x.data.iter().map(|v| if *v == 0.0 { 1.0 } else { 0.0 }).collect();
    cx.finish_raw(x.shape.clone(), data)
}

/// The broadcast of several shapes.
fn broadcast_all(cx: &Cx<'_>, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let mut s: Vec<usize> = Vec::new();
    for t in shapes {
        s = broadcast_shape(&s, t).ok_or_else(|| cx.shape_err(format!("shapes {shapes:?} do not broadcast")))?;
    }
    Ok(s)
}

/// For each element of `out` (row-major), the offset into an operand of
/// `shape` broadcast to `out`.
fn broadcast_offsets(shape: &[usize], out: &[usize], n: usize) -> Vec<usize> {
    let own = strides(shape);
    let skip = out.len() - shape.len();
    let st: Vec<usize> = (0..out.len())
        .map(|i| if i < skip || shape[i - skip] != out[i] { 0 } else { own[i - skip] })
        .collect();
    let mut offs = Vec::with_capacity(n);
    let mut idx = vec![0usize; out.len()];
    for _ in 0..n {
        offs.push(idx.iter().zip(&st).map(|(i, s)| i * s).sum());
        for d in (0..out.len()).rev() {
            idx[d] += 1;
            if idx[d] < out[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    offs
}

/// `SELECT_V2`: `x` where the condition holds, else `y`; all three operands
/// broadcast. Elements are copied as stored.
pub(super) fn select_v2(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let c = cx.input(0, "condition")?;
    let x = cx.input(1, "x")?;
    let y = cx.input(2, "y")?;
    if c.dtype != DType::Bool {
        return Err(cx.unsupported(format!("condition of type {} (bool only)", c.dtype)));
    }
    cx.same_type(x)?;
    cx.same_type(y)?;
    let shape = broadcast_all(cx, &[&c.shape, &x.shape, &y.shape])?;
    let n = cx.numel(&shape)?;
    let (oc, ox, oy) = (broadcast_offsets(&c.shape, &shape, n), broadcast_offsets(&x.shape, &shape, n), broadcast_offsets(&y.shape, &shape, n));
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let get = |v: &Value, o: &[usize]| o.get(i).and_then(|j| v.data.get(*j)).copied().ok_or_else(|| cx.internal());
        let cond = get(c, &oc)? != 0.0;
        out.push(if cond { get(x, &ox)? } else { get(y, &oy)? });
    }
    cx.finish_raw(shape, out)
}

/// `BROADCAST_TO`: the input broadcast to the shape in the second input.
pub(super) fn broadcast_to(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let target = cx.ints(cx.input(1, "shape")?, "shape")?;
    let target: Vec<usize> = target
        .iter()
        .map(|d| usize::try_from(*d).map_err(|_| cx.shape_err(format!("shape entry {d} is negative"))))
        .collect::<Result<_>>()?;
    if x.shape.len() > target.len() || broadcast_shape(&x.shape, &target).as_deref() != Some(target.as_slice()) {
        return Err(cx.shape_err(format!("shape {:?} does not broadcast to {target:?}", x.shape)));
    }
    let n = cx.numel(&target)?;
    let offs = broadcast_offsets(&x.shape, &target, n);
    let data = offs.iter().map(|o| x.data.get(*o).copied().ok_or_else(|| cx.internal())).collect::<Result<Vec<_>>>()?;
    cx.finish_raw(target, data)
}

/// `POW` (`integer`: both operands raw integers, computed exactly for
/// non-negative exponents) or `FLOOR_MOD` (the remainder with the sign of
/// the divisor).
pub(super) fn pow_or_mod(cx: &Cx<'_>, pow: bool) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "lhs")?;
    let b = cx.input(1, "rhs")?;
    let (shape, n) = cx.broadcast(a, b)?;
    let (x, y) = (cx.real(a)?, cx.real(b)?);
    let integer = convert::is_raw_integer(a) && convert::is_raw_integer(b);
    if integer && n > 0 {
        if pow && y.iter().any(|v| *v < 0.0) {
            return Err(cx.unsupported("integer POW with a negative exponent"));
        }
        if !pow && y.contains(&0.0) {
            return Err(cx.shape_err("integer FLOOR_MOD by zero"));
        }
    }
    let f = |u: f64, v: f64| {
        if pow {
            u.powf(v)
        } else {
            let r = u % v;
            if r != 0.0 && ((v < 0.0) != (r < 0.0)) { r + v } else { r }
        }
    };
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        zip_broadcast(cx, &a.shape, &b.shape, &shape, &x, &y, |u, v| out.push(f(u, v)))?;
    }
    cx.finish(shape, out)
}

/// `LOG_SOFTMAX` over the last axis: `x - max - log Σ exp(x - max)`.
pub(super) fn log_softmax(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let Some(&depth) = x.shape.last() else {
        return Err(cx.shape_err("input must have rank ≥ 1, is a scalar"));
    };
    let mut data = cx.real(x)?.into_owned();
    if depth > 0 {
        for row in data.chunks_exact_mut(depth) {
            let max = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
            let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
            let ls = sum.ln();
            row.iter_mut().for_each(|v| *v = *v - max - ls);
        }
    }
    cx.finish(x.shape.clone(), data)
}

/// `ARG_MAX` (`max`) or `ARG_MIN`: the index of the first extreme element
/// along the axis in the second input, which is removed.
pub(super) fn arg_extreme(cx: &Cx<'_>, max: bool) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    let axis = cx.ints(cx.input(1, "axis")?, "axis")?;
    let [a] = axis.as_slice() else {
        return Err(cx.shape_err(format!("axis must hold one value, holds {}", axis.len())));
    };
    let rank = x.rank();
    let ax = cx.axis(*a, rank)?;
    let dims = &x.shape;
    let outer: usize = dims[..ax].iter().product();
    let len = dims[ax];
    let inner: usize = dims[ax + 1..].iter().product();
    if len == 0 {
        return Err(cx.shape_err("reduced axis is empty"));
    }
    // Quantized values share one scale: comparing stored numbers is exact.
    let v = &x.data;
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| v.get((o * len + k) * inner + i).copied().ok_or_else(|| cx.internal());
            let (mut best, mut bi) = (at(0)?, 0usize);
            for k in 1..len {
                let c = at(k)?;
                if (max && c > best) || (!max && c < best) {
                    best = c;
                    bi = k;
                }
            }
            out.push(bi as f64);
        }
    }
    let mut shape = dims.clone();
    shape.remove(ax);
    cx.finish_raw(shape, out)
}
