//! Unary math beyond TFLite's builtins, decomposed into elementwise ops:
//! Erf, Sign, Round, IsNaN, IsInf, Tan, Atan, Asin, Acos, Sinh, Cosh,
//! Asinh, Acosh and Atanh.

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
    // The clamp may turn NaN into a bound: NaN stays NaN.
    let nan = ctx.g.apply(Op::NotEqual, &[Some(x), Some(x)])?;
    let y = ctx.g.apply(Op::SelectV2, &[Some(nan), Some(x), Some(y)])?;
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

/// `log(a) + ln 2` for huge `a` (where `a²` would overflow), else `big`.
fn huge_log(ctx: &mut LowerCtx<'_>, node: &Node<'_>, a: TensorId, big: TensorId) -> Result<TensorId, LowerError> {
    let l = ctx.g.apply(Op::Log, &[Some(a)])?;
    let ln2 = scalar(ctx, node, "ln2", std::f32::consts::LN_2);
    let far = ctx.g.add(l, ln2)?;
    let limit = scalar(ctx, node, "huge", 2f32.powi(60));
    let c = ctx.g.apply(Op::Greater, &[Some(a), Some(limit)])?;
    Ok(ctx.g.apply(Op::SelectV2, &[Some(c), Some(far), Some(big)])?)
}

/// Lowers `Asinh`: `sign(x)·asinh(|x|)`, its Maclaurin series (to a²³)
/// below 1/2, `log(a + √(a² + 1))` above, `log(a) + ln 2` for huge `a`.
pub fn lower_asinh(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let name = node.name();
    let a = ctx.g.abs(x)?;
    let a2 = ctx.g.mul(a, a)?;
    // c_k = (-1)^k (2k)! / (4^k (k!)² (2k + 1)), highest power first.
    let mut c = Vec::new();
    let mut binom = 1.0f64;
    for k in 0..12u32 {
        if k > 0 {
            binom *= f64::from(2 * k - 1) / f64::from(2 * k);
        }
        c.push(if k % 2 == 0 { 1.0 } else { -1.0 } * binom / f64::from(2 * k + 1));
    }
    c.reverse();
    let p = horner(ctx, &format!("{name}/series"), a2, &c)?;
    let small = ctx.g.mul(p, a)?;
    let one = scalar(ctx, node, "one", 1.0);
    let s = ctx.g.add(a2, one)?;
    let r = ctx.g.sqrt(s)?;
    let u = ctx.g.add(a, r)?;
    let l = ctx.g.apply(Op::Log, &[Some(u)])?;
    let big = huge_log(ctx, node, a, l)?;
    let half = scalar(ctx, node, "half", 0.5);
    let cond = ctx.g.apply(Op::Less, &[Some(a), Some(half)])?;
    let v = ctx.g.apply(Op::SelectV2, &[Some(cond), Some(small), Some(big)])?;
    let sg = ctx.g.sign(x)?;
    let y = ctx.g.mul(v, sg)?;
    finish(ctx, node, y)
}

/// Lowers `Acosh`: `log1p(t + √(2t + t²))` with `t = x − 1` below 2,
/// `log(x + √(x² − 1))` above, `log(x) + ln 2` for huge `x`.
pub fn lower_acosh(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let name = node.name();
    let one = scalar(ctx, node, "one", 1.0);
    let two = scalar(ctx, node, "two", 2.0);
    let t = ctx.g.sub(x, one)?;
    let t2 = ctx.g.mul(t, t)?;
    let tt = ctx.g.mul(t, two)?;
    let q = ctx.g.add(tt, t2)?;
    let r = ctx.g.sqrt(q)?;
    let v = ctx.g.add(t, r)?;
    let near = super::activation_composite::log1p_unit(ctx, &name, v)?;
    let x2 = ctx.g.mul(x, x)?;
    let w = ctx.g.sub(x2, one)?;
    let sw = ctx.g.sqrt(w)?;
    let u = ctx.g.add(x, sw)?;
    let l = ctx.g.apply(Op::Log, &[Some(u)])?;
    let far = huge_log(ctx, node, x, l)?;
    let c = ctx.g.apply(Op::Less, &[Some(x), Some(two)])?;
    let y = ctx.g.apply(Op::SelectV2, &[Some(c), Some(near), Some(far)])?;
    finish(ctx, node, y)
}

/// Lowers `Atanh`: `sign(x)·½·log1p(2a/(1 − a))` with `a = |x|`.
pub fn lower_atanh(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let name = node.name();
    let a = ctx.g.abs(x)?;
    let one = scalar(ctx, node, "one", 1.0);
    let d = ctx.g.sub(one, a)?;
    let n = ctx.g.add(a, a)?;
    let v = ctx.g.div(n, d)?;
    let l = super::activation_composite::log1p_unit(ctx, &name, v)?;
    let half = scalar(ctx, node, "half", 0.5);
    let h = ctx.g.mul(l, half)?;
    let sg = ctx.g.sign(x)?;
    let y = ctx.g.mul(h, sg)?;
    finish(ctx, node, y)
}
