//! Unary math beyond TFLite's builtins, decomposed into elementwise ops:
//! Erf, Sign, Round, IsNaN, IsInf, Tan, Atan, Asin, Acos, Sinh and Cosh.

use super::operand::typed_input;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// The odd numerator of the float32 erf rational approximation (Eigen's and
/// XLA's `erf` for float), highest power of `x²` first.
const ERF_NUMERATOR: [f64; 7] = [
    -2.72614225801306e-10,
    2.77068142495902e-08,
    -2.10102402082508e-06,
    -5.69250639462346e-05,
    -7.34990630326855e-04,
    -2.95459980854025e-03,
    -1.60960333262415e-02,
];

/// The even denominator of the same approximation, highest power first.
const ERF_DENOMINATOR: [f64; 5] = [-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03, -1.42647390514189e-02];

/// `c[0]·t^(n-1) + … + c[n-1]` by Horner's rule, as MUL and ADD ops.
pub(crate) fn horner(ctx: &mut LowerCtx<'_>, name: &str, t: TensorId, c: &[f64]) -> Result<TensorId, LowerError> {
    let (first, rest) = c.split_first().ok_or_else(|| LowerError::invalid("empty polynomial"))?;
    let mut acc = ctx.g.constant_f32(&format!("{name}/c0"), Shape::scalar(), &[*first as f32]);
    for (i, ci) in rest.iter().enumerate() {
        let k = ctx.g.constant_f32(&format!("{name}/c{}", i + 1), Shape::scalar(), &[*ci as f32]);
        let m = ctx.g.mul(acc, t)?;
        acc = ctx.g.add(m, k)?;
    }
    Ok(acc)
}

/// Lowers `Erf` to a rational approximation on `x` clamped to [-4, 4]
/// (MINIMUM, MAXIMUM, MUL, ADD, DIV): `x·p(x²) / q(x²)`, within 5e-7 of
/// erf everywhere in float32.
pub fn lower_erf(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let name = node.name();
    let lo = ctx.g.constant_f32(&format!("{name}/lo"), Shape::scalar(), &[-4.0]);
    let hi = ctx.g.constant_f32(&format!("{name}/hi"), Shape::scalar(), &[4.0]);
    let a = ctx.g.maximum(x, lo)?;
    let c = ctx.g.minimum(a, hi)?;
    let x2 = ctx.g.mul(c, c)?;
    let p = horner(ctx, &format!("{name}/num"), x2, &ERF_NUMERATOR)?;
    let p = ctx.g.mul(p, c)?;
    let q = horner(ctx, &format!("{name}/den"), x2, &ERF_DENOMINATOR)?;
    let y = ctx.g.div(p, q)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

fn scalar(ctx: &mut LowerCtx<'_>, node: &Node<'_>, what: &str, v: f32) -> TensorId {
    ctx.g.constant_f32(&format!("{}/{what}", node.name()), Shape::scalar(), &[v])
}

fn finish(ctx: &mut LowerCtx<'_>, node: &Node<'_>, y: TensorId) -> Result<(), LowerError> {
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Sign` to SIGN.
pub fn lower_sign(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32, DType::I32])?;
    let y = ctx.g.sign(x)?;
    finish(ctx, node, y)
}

/// Lowers `Round` to ROUND (halves to even, as ONNX rounds).
pub fn lower_round(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let y = ctx.g.round(x)?;
    finish(ctx, node, y)
}

/// Lowers `IsNaN` to `x != x`.
pub fn lower_isnan(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let y = ctx.g.apply(Op::NotEqual, &[Some(x), Some(x)])?;
    finish(ctx, node, y)
}

/// Lowers `IsInf` to EQUAL with ±∞ (LOGICAL_OR of both when both signs
/// are detected).
pub fn lower_isinf(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let pos = node.int_or("detect_positive", 1)? != 0;
    let neg = node.int_or("detect_negative", 1)? != 0;
    let y = match (pos, neg) {
        (true, true) => {
            let a = ctx.g.abs(x)?;
            let inf = scalar(ctx, node, "inf", f32::INFINITY);
            ctx.g.apply(Op::Equal, &[Some(a), Some(inf)])?
        }
        (true, false) | (false, true) => {
            let inf = scalar(ctx, node, "inf", if pos { f32::INFINITY } else { f32::NEG_INFINITY });
            ctx.g.apply(Op::Equal, &[Some(x), Some(inf)])?
        }
        (false, false) => {
            // Nothing is detected: all false.
            let e = ctx.g.apply(Op::Equal, &[Some(x), Some(x)])?;
            let n = ctx.g.apply(Op::NotEqual, &[Some(x), Some(x)])?;
            ctx.g.apply(Op::LogicalAnd, &[Some(e), Some(n)])?
        }
    };
    finish(ctx, node, y)
}

/// Lowers `Tan` to SIN / COS.
pub fn lower_tan(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let s = ctx.g.apply(Op::Sin, &[Some(x)])?;
    let c = ctx.g.apply(Op::Cos, &[Some(x)])?;
    let y = ctx.g.div(s, c)?;
    finish(ctx, node, y)
}

/// Lowers `Atan` to ATAN2(x, 1).
pub fn lower_atan(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let one = scalar(ctx, node, "one", 1.0);
    let z = ctx.g.zeros_like(x)?;
    let ones = ctx.g.add(z, one)?;
    let y = ctx.g.atan2(x, ones)?;
    finish(ctx, node, y)
}

/// `sqrt((1 - x)(1 + x))`, accurate near |x| = 1.
fn cosine_of_asin(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<TensorId, LowerError> {
    let one = scalar(ctx, node, "one", 1.0);
    let a = ctx.g.sub(one, x)?;
    let b = ctx.g.add(one, x)?;
    let p = ctx.g.mul(a, b)?;
    Ok(ctx.g.sqrt(p)?)
}

/// Lowers `Asin` to ATAN2(x, sqrt((1 - x)(1 + x))).
pub fn lower_asin(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let c = cosine_of_asin(ctx, node, x)?;
    let y = ctx.g.atan2(x, c)?;
    finish(ctx, node, y)
}

/// Lowers `Acos` to ATAN2(sqrt((1 - x)(1 + x)), x).
pub fn lower_acos(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let s = cosine_of_asin(ctx, node, x)?;
    let y = ctx.g.atan2(s, x)?;
    finish(ctx, node, y)
}

/// `(e^(a/2)·½)·e^(a/2)` and `(½/e^(a/2))/e^(a/2)`, that is `e^a / 2` and
/// `e^-a / 2` without overflowing before the result does.
fn half_exps(ctx: &mut LowerCtx<'_>, node: &Node<'_>, a: TensorId) -> Result<(TensorId, TensorId), LowerError> {
    let half = scalar(ctx, node, "half", 0.5);
    let ah = ctx.g.mul(a, half)?;
    let h = ctx.g.exp(ah)?;
    let hh = ctx.g.mul(h, half)?;
    let up = ctx.g.mul(hh, h)?;
    let q = ctx.g.div(half, h)?;
    let down = ctx.g.div(q, h)?;
    Ok((up, down))
}

/// Lowers `Sinh`: its Taylor polynomial (to x¹³) for |x| < 1, else
/// `sign(x)·(e^|x| - e^-|x|)/2`; within 5e-7 relative.
pub fn lower_sinh(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let name = node.name();
    let a = ctx.g.abs(x)?;
    let x2 = ctx.g.mul(x, x)?;
    let fact = |n: u32| (1..=n).map(f64::from).product::<f64>();
    let coeffs: Vec<f64> = (0..7).rev().map(|k| 1.0 / fact(2 * k + 1)).collect();
    let p = horner(ctx, &format!("{name}/taylor"), x2, &coeffs)?;
    let small = ctx.g.mul(p, x)?;
    let (up, down) = half_exps(ctx, node, a)?;
    let big = ctx.g.sub(up, down)?;
    let s = ctx.g.sign(x)?;
    let big = ctx.g.mul(big, s)?;
    let one = scalar(ctx, node, "one", 1.0);
    let c = ctx.g.apply(Op::Less, &[Some(a), Some(one)])?;
    let y = ctx.g.apply(Op::SelectV2, &[Some(c), Some(small), Some(big)])?;
    finish(ctx, node, y)
}

/// Lowers `Cosh`: `(e^|x| + e^-|x|)/2`.
pub fn lower_cosh(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let a = ctx.g.abs(x)?;
    let (up, down) = half_exps(ctx, node, a)?;
    let y = ctx.g.add(up, down)?;
    finish(ctx, node, y)
}
