//! Activation and elementwise math ops: `SOFTMAX`, `LOGISTIC`, `RELU`,
//! `RELU6`, `HARD_SWISH`, `TANH`, `LEAKY_RELU`, `PRELU`, `GELU`, `EXP`,
//! `SQRT`, `RSQRT`, `NEG`, `ABS`.

use super::elementwise::{broadcast_shape, zip_broadcast};
use super::{Cx, Result};
use crate::eval::Value;

/// Applies `f` to every element.
pub(super) fn unary(cx: &Cx<'_>, f: fn(f64) -> f64) -> Result<Vec<Value>> {
    unary_with(cx, f)
}

/// Applies a closure to every element (real values).
pub(super) fn unary_with(cx: &Cx<'_>, f: impl Fn(f64) -> f64) -> Result<Vec<Value>> {
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

/// `PRELU`: `x` where `x ≥ 0`, else `alpha * x`, with `alpha` broadcast.
pub(super) fn prelu(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    let a = cx.input(1, "alpha")?;
    let shape = broadcast_shape(&x.shape, &a.shape)
        .ok_or_else(|| cx.shape_err(format!("alpha of shape {:?} does not broadcast to {:?}", a.shape, x.shape)))?;
    let n = cx.numel(&shape)?;
    let (xs, al) = (cx.real(x)?, cx.real(a)?);
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        zip_broadcast(cx, &x.shape, &a.shape, &shape, &xs, &al, |u, v| out.push(if u >= 0.0 { u } else { u * v }))?;
    }
    cx.finish(shape, out)
}

/// Exact `GELU`: `x · Φ(x) = x/2 · (1 + erf(x / √2))`.
pub(super) fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2))
}

/// `GELU` with the tanh approximation:
/// `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`.
pub(super) fn gelu_tanh(x: f64) -> f64 {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
}

/// The error function, to about 1e-14: its Taylor series for |x| < 3 and
/// the continued fraction of erfc beyond.
pub(super) fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let r = if a < 3.0 {
        // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
        let x2 = a * a;
        let mut term = a;
        let mut sum = a;
        let mut n = 0.0;
        while n < 200.0 {
            n += 1.0;
            term *= -x2 / n;
            let t = term / (2.0 * n + 1.0);
            sum += t;
            if t.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else if a < 27.0 {
        // erfc(x) = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
        let mut f = a;
        for k in (1..=60).rev() {
            f = a + f64::from(k) / 2.0 / f;
        }
        1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / f
    } else {
        1.0
    };
    if x < 0.0 { -r } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, e) in [(0.0, 0.0), (0.5, 0.520_499_877_813_046_5), (1.0, 0.842_700_792_949_714_9), (2.0, 0.995_322_265_018_952_7), (3.5, 0.999_999_256_901_627_7), (-1.0, -0.842_700_792_949_714_9)] {
            assert!((erf(x) - e).abs() < 1e-13, "erf({x}) = {} vs {e}", erf(x));
        }
    }
}
