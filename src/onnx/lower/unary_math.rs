//! Unary math beyond TFLite's builtins, decomposed into elementwise ops:
//! Erf.

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
