//! Activation ops: `SOFTMAX`, `LOGISTIC`, `RELU`, `RELU6`, `HARD_SWISH`,
//! `TANH`.

use super::{Cx, Result};
use crate::eval::Value;

/// Applies `f` to every element.
pub(super) fn unary(cx: &Cx<'_>, f: fn(f64) -> f64) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let mut data = cx.real(x)?.into_owned();
    data.iter_mut().for_each(|v| *v = f(*v));
    cx.finish(x.shape.clone(), data)
}

/// The sigmoid `1 / (1 + e^-x)`.
pub(super) fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `max(x, 0)`, keeping NaN.
pub(super) fn relu(x: f64) -> f64 {
    if x < 0.0 { 0.0 } else { x }
}

/// `min(max(x, 0), 6)`, keeping NaN.
pub(super) fn relu6(x: f64) -> f64 {
    if x > 6.0 { 6.0 } else { relu(x) }
}

/// `x * relu6(x + 3) / 6`.
pub(super) fn hard_swish(x: f64) -> f64 {
    x * relu6(x + 3.0) / 6.0
}

/// `SOFTMAX` over the last axis: `exp(beta * x) / Σ exp(beta * x)`,
/// computed stably by subtracting the row's maximum first.
pub(super) fn softmax(cx: &Cx<'_>, beta: f32) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let Some(&depth) = x.shape.last() else {
        return Err(cx.shape_err("input must have rank ≥ 1, is a scalar"));
    };
    let beta = f64::from(beta);
    let mut data = cx.real(x)?.into_owned();
    if depth > 0 {
        for row in data.chunks_exact_mut(depth) {
            let max = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(beta * v));
            row.iter_mut().for_each(|v| *v = (beta * *v - max).exp());
            let sum: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= sum);
        }
    }
    cx.finish(x.shape.clone(), data)
}
