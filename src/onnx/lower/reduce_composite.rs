//! Reductions composed from TFLite's: ReduceL1, ReduceL2, ReduceSumSquare,
//! ReduceLogSum and ReduceLogSumExp (float32; constant axes, or run-time
//! axes through `reduce.rs`).

use super::operand::{pass_through, typed_input};
use super::reduce::{reduce_input, Reduction};
use super::shape_ops::squeeze_by_runtime_axes;
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// The reduced axes (attribute before opset 18, constant input after),
/// or `None` for `noop_with_empty_axes` with no axes.
fn axes(ctx: &LowerCtx<'_>, node: &Node<'_>, r: usize) -> Result<Option<Vec<i32>>, LowerError> {
    let a = if node.opset() < 18 {
        node.attr_ints("axes")?
    } else if node.has_input(1) {
        Some(ctx.const_ints(node, 1, "axes")?)
    } else {
        None
    };
    match a {
        Some(a) if !a.is_empty() => Ok(Some(a.iter().map(|a| norm_axis(*a, r).map(|a| a as i32)).collect::<Result<_, _>>()?)),
        _ if node.int_or("noop_with_empty_axes", 0)? != 0 => Ok(None),
        _ => Ok(Some((0..r as i32).collect())),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    L1,
    L2,
    SumSquare,
    LogSum,
    LogSumExp,
}

/// The reductions over axes given at run time (opset 18+): the elementwise
/// part, then the run-time reduction of `reduce.rs`.
fn lower_runtime_axes(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, kind: Kind, keep: bool) -> Result<(), LowerError> {
    let since = 18;
    let y = match kind {
        Kind::L1 => {
            let a = ctx.g.abs(x)?;
            reduce_input(ctx, node, a, since, Reduction::Sum, keep)?.unwrap_or(a)
        }
        Kind::L2 | Kind::SumSquare => {
            let sq = ctx.g.mul(x, x)?;
            let s = reduce_input(ctx, node, sq, since, Reduction::Sum, keep)?;
            match (s, kind) {
                (Some(s), Kind::L2) => ctx.g.sqrt(s)?,
                (Some(s), _) => s,
                // No reduction: the elementwise part, as with constant axes.
                (None, Kind::L2) => ctx.g.abs(x)?,
                (None, _) => sq,
            }
        }
        Kind::LogSum => match reduce_input(ctx, node, x, since, Reduction::Sum, keep)? {
            Some(s) => ctx.g.apply(Op::Log, &[Some(s)])?,
            None => ctx.g.apply(Op::Log, &[Some(x)])?,
        },
        Kind::LogSumExp => {
            let Some(m) = reduce_input(ctx, node, x, since, Reduction::Max, true)? else { return pass_through(ctx, node) };
            let big = ctx.g.constant_f32(&format!("{}/max_float", node.name()), Shape::scalar(), &[f32::MAX]);
            let m = ctx.g.minimum(m, big)?;
            let d = ctx.g.sub(x, m)?;
            let e = ctx.g.exp(d)?;
            let s = reduce_input(ctx, node, e, since, Reduction::Sum, true)?.unwrap_or(e);
            let l = ctx.g.apply(Op::Log, &[Some(s)])?;
            let y = ctx.g.add(l, m)?;
            if keep { y } else { squeeze_by_runtime_axes(ctx, node, y)? }
        }
    };
    ctx.set_output(node, 0, y);
    Ok(())
}

fn lower(ctx: &mut LowerCtx<'_>, node: &Node<'_>, kind: Kind) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let r = ctx.shape(x).rank();
    let keep = node.int_or("keepdims", 1)? != 0;
    if node.opset() >= 18 && node.has_input(1) && ctx.const_input(node, 1).is_none() {
        return lower_runtime_axes(ctx, node, x, kind, keep);
    }
    let Some(ax) = axes(ctx, node, r)? else {
        // No reduction: the elementwise part alone.
        let y = match kind {
            Kind::L1 | Kind::L2 => ctx.g.abs(x)?,
            Kind::SumSquare => ctx.g.mul(x, x)?,
            Kind::LogSum => ctx.g.apply(Op::Log, &[Some(x)])?,
            Kind::LogSumExp => return pass_through(ctx, node),
        };
        ctx.set_output(node, 0, y);
        return Ok(());
    };
    let y = match kind {
        Kind::L1 => {
            let a = ctx.g.abs(x)?;
            ctx.g.sum(a, &ax, keep)?
        }
        Kind::L2 | Kind::SumSquare => {
            let sq = ctx.g.mul(x, x)?;
            let s = ctx.g.sum(sq, &ax, keep)?;
            if kind == Kind::L2 { ctx.g.sqrt(s)? } else { s }
        }
        Kind::LogSum => {
            let s = ctx.g.sum(x, &ax, keep)?;
            ctx.g.apply(Op::Log, &[Some(s)])?
        }
        Kind::LogSumExp => {
            // log(Σ exp(x − m)) + m with m the maximum, kept finite so that
            // a +∞ element gives +∞ (as the reference does), not NaN.
            let m = ctx.g.reduce_max(x, &ax, true)?;
            let big = ctx.g.constant_f32(&format!("{}/max_float", node.name()), Shape::scalar(), &[f32::MAX]);
            let m = ctx.g.minimum(m, big)?;
            let d = ctx.g.sub(x, m)?;
            let e = ctx.g.exp(d)?;
            let s = ctx.g.sum(e, &ax, true)?;
            let l = ctx.g.apply(Op::Log, &[Some(s)])?;
            let y = ctx.g.add(l, m)?;
            if keep {
                y
            } else {
                let mut dims: Vec<i32> = Vec::new();
                for (i, d) in ctx.shape(x).dims().iter().enumerate() {
                    if !ax.contains(&(i as i32)) {
                        dims.push(d.fixed().map(|v| v as i32).unwrap_or(-1));
                    }
                }
                if dims.iter().filter(|d| **d < 0).count() > 1 {
                    return Err(super::operand::shape_err("ReduceLogSumExp without keepdims on more than one dynamic dimension"));
                }
                ctx.g.reshape(y, &dims)?
            }
        }
    };
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `ReduceL1`: SUM of ABS.
pub fn lower_reduce_l1(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower(ctx, node, Kind::L1)
}
/// Lowers `ReduceL2`: SQRT of SUM of squares.
pub fn lower_reduce_l2(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower(ctx, node, Kind::L2)
}
/// Lowers `ReduceSumSquare`: SUM of squares.
pub fn lower_reduce_sum_square(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower(ctx, node, Kind::SumSquare)
}
/// Lowers `ReduceLogSum`: LOG of SUM.
pub fn lower_reduce_log_sum(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower(ctx, node, Kind::LogSum)
}
/// Lowers `ReduceLogSumExp`: `log(Σ exp(x − max)) + max`.
pub fn lower_reduce_log_sum_exp(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower(ctx, node, Kind::LogSumExp)
}
