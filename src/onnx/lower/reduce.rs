//! Reductions: ReduceMean (MEAN), ReduceMax, ReduceMin, ReduceSum,
//! ReduceProd, and the index reductions ArgMax and ArgMin.

use super::operand::{pass_through, shape_err, typed_input};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `ReduceMean` to MEAN.
pub fn lower_reduce_mean(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let r = ctx.shape(x).rank();
    let axes = if node.opset() < 18 { node.attr_ints("axes")? } else if node.has_input(1) { Some(ctx.const_ints(node, 1, "axes")?) } else { None };
    let keep = node.int_or("keepdims", 1)? != 0;
    let axes: Vec<i32> = match axes {
        Some(a) if !a.is_empty() => a.iter().map(|a| norm_axis(*a, r).map(|a| a as i32)).collect::<Result<_, _>>()?,
        _ => {
            if node.int_or("noop_with_empty_axes", 0)? != 0 {
                return pass_through(ctx, node);
            }
            (0..r as i32).collect()
        }
    };
    let y = ctx.g.mean(x, &axes, keep)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The reductions lowered by [`reduce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reduction {
    Max,
    Min,
    Sum,
    Prod,
}

pub(crate) fn reduce(ctx: &mut LowerCtx<'_>, node: &Node<'_>, axes_input_since: i64, kind: Reduction) -> Result<(), LowerError> {
    let types: &[DType] = match kind {
        Reduction::Max | Reduction::Sum => &[DType::F32],
        Reduction::Min | Reduction::Prod => &[DType::F32, DType::I32, DType::I64],
    };
    let x = typed_input(ctx, node, types)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axes = if node.opset() < axes_input_since {
        node.attr_ints("axes")?
    } else if node.has_input(1) {
        Some(ctx.const_ints(node, 1, "axes")?)
    } else {
        None
    };
    let keep = node.int_or("keepdims", 1)? != 0;
    let axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        _ => {
            if node.int_or("noop_with_empty_axes", 0)? != 0 {
                ctx.set_output(node, 0, x);
                return Ok(());
            }
            (0..r).collect()
        }
    };
    if matches!(kind, Reduction::Max | Reduction::Min) && axes.iter().any(|a| xs.dims()[*a] == Dim::Fixed(0)) {
        return Err(shape_err(format!("{} over an empty dimension (ONNX gives ±inf, TFLite the extreme finite value)", node.op_type())));
    }
    if r == 0 {
        return Err(shape_err("reduction of a scalar"));
    }
    let ax: Vec<i32> = axes.iter().map(|a| *a as i32).collect();
    let y = match kind {
        Reduction::Max => ctx.g.reduce_max(x, &ax, keep)?,
        Reduction::Sum => ctx.g.sum(x, &ax, keep)?,
        Reduction::Min | Reduction::Prod => {
            let name = format!("{}/axes", node.name());
            let a = ctx.g.constant_i32(&name, [ax.len() as u32], &ax);
            let op = if kind == Reduction::Min { Op::ReduceMin { keep_dims: keep } } else { Op::ReduceProd { keep_dims: keep } };
            ctx.g.apply(op, &[Some(x), Some(a)])?
        }
    };
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `ReduceMax` to REDUCE_MAX (axes attribute before opset 18, input
/// from 18 on).
pub fn lower_reduce_max(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    reduce(ctx, node, 18, Reduction::Max)
}

/// Lowers `ReduceSum` to SUM (axes attribute before opset 13, input from 13
/// on).
pub fn lower_reduce_sum(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    reduce(ctx, node, 13, Reduction::Sum)
}

/// Lowers `ReduceMin` to REDUCE_MIN (axes attribute before opset 18,
/// input from 18 on).
pub fn lower_reduce_min(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    reduce(ctx, node, 18, Reduction::Min)
}

/// Lowers `ReduceProd` to REDUCE_PROD (axes attribute before opset 18,
/// input from 18 on).
pub fn lower_reduce_prod(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    reduce(ctx, node, 18, Reduction::Prod)
}

fn arg_extreme(ctx: &mut LowerCtx<'_>, node: &Node<'_>, max: bool) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32, DType::I32])?;
    if node.int_or("select_last_index", 0)? != 0 {
        return Err(LowerError::attr("select_last_index=1 (TFLite returns the first index)"));
    }
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if r == 0 {
        return Err(shape_err(format!("{} of a scalar", node.op_type())));
    }
    let axis = norm_axis(node.int_or("axis", 0)?, r)?;
    if xs.dims()[axis] == Dim::Fixed(0) {
        return Err(shape_err(format!("{} over an empty dimension", node.op_type())));
    }
    let keep = node.int_or("keepdims", 1)? != 0;
    let a = ctx.g.constant_i32(&format!("{}/axis", node.name()), [1u32], &[axis as i32]);
    let op = if max { Op::ArgMax { output_type: DType::I64 } } else { Op::ArgMin { output_type: DType::I64 } };
    let mut y = ctx.g.apply_with(op, &[Some(x), Some(a)], Some(DType::I64), None)?;
    if keep {
        let mut dims: Vec<i32> = Vec::with_capacity(r);
        for (i, d) in xs.dims().iter().enumerate() {
            dims.push(if i == axis { 1 } else { d.fixed().and_then(|v| i32::try_from(v).ok()).unwrap_or(-1) });
        }
        if dims.iter().filter(|d| **d < 0).count() > 1 {
            return Err(shape_err(format!("keepdims on {xs} with more than one dynamic dimension")));
        }
        y = ctx.g.reshape(y, &dims)?;
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `ArgMax` to ARG_MAX with int64 output (RESHAPE for keepdims).
pub fn lower_argmax(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    arg_extreme(ctx, node, true)
}

/// Lowers `ArgMin` to ARG_MIN with int64 output (RESHAPE for keepdims).
pub fn lower_argmin(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    arg_extreme(ctx, node, false)
}
