//! Pad: PAD for zeros, PADV2 for another constant value, MIRROR_PAD for
//! `reflect` (TFLite has no `edge` or `wrap`).

use super::operand::{dtype_err, static_dim, typed_const, typed_input};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// Lowers `Pad` in all modes TFLite has: constant zero ([`lower_pad`]),
/// another constant (PADV2) and reflect (MIRROR_PAD REFLECT). `edge` and
/// `wrap` have no TFLite op.
pub fn lower_pad_any(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "constant".into());
    let (pads, value) = if node.opset() < 11 {
        let p = node.attr_ints("pads")?.or(node.attr_ints("paddings")?).unwrap_or_default();
        (p, f64::from(node.float_or("value", 0.0)?))
    } else {
        let p = ctx.const_ints(node, 1, "pads")?;
        let v = if node.has_input(2) {
            let d = ctx.const_input(node, 2).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "constant_value (input 2) must be constant"))?;
            d.to_f64().ok_or_else(|| dtype_err("non-numeric constant_value"))?.first().copied().unwrap_or(0.0)
        } else {
            0.0
        };
        (p, v)
    };
    if mode == "constant" && value == 0.0 {
        return lower_pad(ctx, node);
    }
    let x = typed_input(ctx, node, &[DType::F32, DType::I32, DType::I64])?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axes: Vec<usize> = if node.opset() >= 18 && node.has_input(3) {
        ctx.const_ints(node, 3, "axes")?.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?
    } else {
        (0..r).collect()
    };
    if pads.len() != 2 * axes.len() || pads.iter().any(|p| *p < 0 || *p > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("pads {pads:?} (negative pads are not supported)")));
    }
    let mut pp = vec![(0i32, 0i32); r];
    for (k, a) in axes.iter().enumerate() {
        pp[*a] = (pads[k] as i32, pads[k + axes.len()] as i32);
    }
    let dtype = ctx.dtype(x);
    let y = match mode.as_str() {
        "constant" => {
            let c = typed_const(ctx, &format!("{}/value", node.name()), dtype, &[1], &[value])?;
            ctx.g.pad_v2(x, &pp, c)?
        }
        "reflect" => {
            for (i, (a, b)) in pp.iter().enumerate() {
                if *a == 0 && *b == 0 {
                    continue;
                }
                let n = static_dim(&xs, i, "a reflected dimension")?;
                if i64::from(*a.max(b)) > n - 1 {
                    return Err(LowerError::attr(format!("reflect padding ({a}, {b}) of size {n} (at most {})", n - 1)));
                }
            }
            ctx.g.mirror_pad(x, &pp, MirrorPadMode::Reflect)?
        }
        other => return Err(LowerError::attr(format!("Pad mode {other} (TFLite has constant and reflect)"))),
    };
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Pad` (constant mode, zero value).
pub fn lower_pad(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let r = ctx.shape(x).rank();
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "constant".into());
    if mode != "constant" {
        return Err(LowerError::attr(format!("Pad mode {mode}")));
    }
    let (pads, value) = if node.opset() < 11 {
        (node.attr_ints("pads")?.unwrap_or_default(), node.float_or("value", 0.0)?)
    } else {
        let p = ctx.const_ints(node, 1, "pads")?;
        let v = if node.has_input(2) { ctx.const_floats(node, 2, "constant_value")?.first().copied().unwrap_or(0.0) } else { 0.0 };
        (p, v)
    };
    if value != 0.0 {
        return Err(LowerError::attr(format!("Pad value {value} (only 0)")));
    }
    let axes: Vec<usize> = if node.opset() >= 18 && node.has_input(3) {
        ctx.const_ints(node, 3, "axes")?.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?
    } else {
        (0..r).collect()
    };
    if pads.len() != 2 * axes.len() || pads.iter().any(|p| *p < 0) {
        return Err(LowerError::attr(format!("pads {pads:?} (negative pads are not supported)")));
    }
    let mut pp = vec![(0i32, 0i32); r];
    for (k, a) in axes.iter().enumerate() {
        pp[*a] = (pads[k] as i32, pads[k + axes.len()] as i32);
    }
    let y = ctx.g.pad(x, &pp)?;
    ctx.set_output(node, 0, y);
    Ok(())
}
