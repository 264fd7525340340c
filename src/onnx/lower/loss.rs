//! Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
//!
//! Both work on the input flattened to `[N, C, D]` and the target to
//! `[N, D]`, as the reference does: the target's entries are gathered with
//! GATHER_ND on full coordinates (exact, unlike a one-hot product), the
//! class weights with GATHER, and ignored targets are masked with
//! SELECT_V2. `mean` divides by the sum of the weights of the targets that
//! are not ignored (their count without weights).

use super::gather_scatter::position_grid;
use super::operand::{dtype_err, shape_err};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// The loss, flattened; `logp` is `[N, C, D]`.
fn nll(ctx: &mut LowerCtx<'_>, node: &Node<'_>, logp: TensorId, n: i64, c: i64, d: i64, target_dims: &[i64]) -> Result<TensorId, LowerError> {
    let name = node.name();
    let reduction = node.attr_str("reduction")?.unwrap_or_else(|| "mean".into());
    let ignore = node.attr_int("ignore_index")?;
    let weighted = node.has_input(2);
    if !matches!(reduction.as_str(), "none" | "sum" | "mean") {
        return Err(LowerError::attr(format!("reduction {reduction:?}")));
    }
    if node.op_type() == "NegativeLogLikelihoodLoss" && !weighted && ignore == Some(-1) && reduction == "mean" {
        // The reference then averages over all targets, ignored ones
        // included; the specification over the others. Refuse the ambiguity.
        return Err(LowerError::attr("ignore_index -1 with reduction mean and no weights (the specification and the reference implementation disagree)"));
    }
    let mut t = ctx.input(node, 1)?;
    let given: Option<Vec<i64>> = ctx.shape(t).as_fixed().map(|d| d.into_iter().map(i64::from).collect());
    if given.as_deref() != Some(target_dims) {
        return Err(LowerError::invalid(format!("target of shape {} for input of {n}×{c} and positions {target_dims:?}", ctx.shape(t))));
    }
    match ctx.dtype(t) {
        DType::I64 => t = ctx.g.cast(t, DType::I32)?,
        DType::I32 => {}
        dt => return Err(dtype_err(format!("target of type {dt}"))),
    }
    let n32 = i32::try_from(n).map_err(|_| shape_err("batch too large"))?;
    let d32 = i32::try_from(d).map_err(|_| shape_err("too many positions"))?;
    let t = ctx.g.reshape(t, &[n32, d32])?;
    let mask = match ignore {
        Some(i) => {
            let i = i32::try_from(i).map_err(|_| LowerError::invalid(format!("ignore_index {i}")))?;
            let ic = ctx.g.constant_i32(&format!("{name}/ignore_index"), Shape::scalar(), &[i]);
            Some(ctx.g.apply(Op::NotEqual, &[Some(t), Some(ic)])?)
        }
        None => None,
    };
    let safe = match mask {
        Some(m) => {
            let zero = ctx.g.constant_i32(&format!("{name}/class_zero"), Shape::scalar(), &[0]);
            ctx.g.apply(Op::SelectV2, &[Some(m), Some(t), Some(zero)])?
        }
        None => t,
    };
    let col = ctx.g.reshape(safe, &[n32, d32, 1])?;
    let rows = position_grid(ctx, &format!("{name}/batch_pos"), &[n, d], 0)?;
    let cols = position_grid(ctx, &format!("{name}/spatial_pos"), &[n, d], 1)?;
    let coords = ctx.g.concatenation(&[rows, col, cols], 2)?;
    let picked = ctx.g.gather_nd(logp, coords)?;
    let mut loss = ctx.g.neg(picked)?;
    let zero = ctx.g.constant_f32(&format!("{name}/zero"), Shape::scalar(), &[0.0]);
    let mut w = None;
    if weighted {
        let wt = ctx.input(node, 2)?;
        if ctx.dtype(wt) != DType::F32 || ctx.shape(wt).as_fixed() != Some(vec![c as u32]) {
            return Err(LowerError::invalid(format!("weight of type {} and shape {} for {c} classes", ctx.dtype(wt), ctx.shape(wt))));
        }
        let g = ctx.g.gather(wt, safe, GatherOptions::default())?;
        loss = ctx.g.mul(loss, g)?;
        w = Some(g);
    }
    if let Some(m) = mask {
        loss = ctx.g.apply(Op::SelectV2, &[Some(m), Some(loss), Some(zero)])?;
        w = Some(match w {
            Some(g) => ctx.g.apply(Op::SelectV2, &[Some(m), Some(g), Some(zero)])?,
            None => ctx.g.cast(m, DType::F32)?,
        });
    }
    Ok(match reduction.as_str() {
        "none" => {
            let back: Vec<i32> = target_dims.iter().map(|x| *x as i32).collect();
            ctx.g.reshape(loss, &back)?
        }
        "sum" => ctx.g.sum(loss, &[0, 1], false)?,
        _ => {
            let s = ctx.g.sum(loss, &[0, 1], false)?;
            let count = match w {
                Some(w) => ctx.g.sum(w, &[0, 1], false)?,
                None => ctx.g.constant_f32(&format!("{name}/count"), Shape::scalar(), &[(n * d) as f32]),
            };
            ctx.g.div(s, count)?
        }
    })
}

/// The input's `(N, C, D)` and the target's dimensions.
fn loss_dims(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<(i64, i64, i64, Vec<i64>), LowerError> {
    if ctx.dtype(x) != DType::F32 {
        return Err(dtype_err(format!("{} on {}", node.op_type(), ctx.dtype(x))));
    }
    let xd: Vec<i64> = ctx.shape(x).as_fixed().ok_or_else(|| shape_err(format!("{} needs a static input shape", node.op_type())))?.into_iter().map(i64::from).collect();
    if xd.len() < 2 {
        return Err(LowerError::invalid(format!("input of rank {}", xd.len())));
    }
    let mut td = vec![xd[0]];
    td.extend_from_slice(&xd[2..]);
    let d: i64 = xd[2..].iter().product();
    Ok((xd[0], xd[1], d, td))
}

fn flat(ctx: &mut LowerCtx<'_>, x: TensorId, n: i64, c: i64, d: i64) -> Result<TensorId, LowerError> {
    let v: Vec<i32> = [n, c, d].iter().map(|v| i32::try_from(*v).map_err(|_| shape_err("dimension too large"))).collect::<Result<_, _>>()?;
    Ok(ctx.g.reshape(x, &v)?)
}

/// Lowers `NegativeLogLikelihoodLoss`.
pub fn lower_nll_loss(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let (n, c, d, td) = loss_dims(ctx, node, x)?;
    let x3 = flat(ctx, x, n, c, d)?;
    let y = nll(ctx, node, x3, n, c, d, &td)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `SoftmaxCrossEntropyLoss`: LOG_SOFTMAX over the classes (moved
/// last with TRANSPOSE), then the negative log-likelihood; the optional
/// second output is the log-probabilities.
pub fn lower_softmax_cross_entropy_loss(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let (n, c, d, _) = loss_dims(ctx, node, x)?;
    let xd: Vec<i32> = ctx.shape(x).as_fixed().unwrap_or_default().iter().map(|v| *v as i32).collect();
    let td: Vec<i64> = {
        let mut v = vec![n];
        v.extend(xd[2..].iter().map(|x| i64::from(*x)));
        v
    };
    let x3 = flat(ctx, x, n, c, d)?;
    let t = ctx.transpose(x3, &[0, 2, 1])?;
    let l = ctx.g.apply(Op::LogSoftmax, &[Some(t)])?;
    let logp = ctx.transpose(l, &[0, 2, 1])?;
    let y = nll(ctx, node, logp, n, c, d, &td)?;
    ctx.set_output(node, 0, y);
    if node.inner.outputs.get(1).is_some_and(|o| !o.is_empty()) {
        let lp = ctx.g.reshape(logp, &xd)?;
        ctx.set_output(node, 1, lp);
    }
    Ok(())
}
