//! Reductions: ReduceMean (MEAN), ReduceMax, ReduceMin, ReduceSum,
//! ReduceProd, and the index reductions ArgMax and ArgMin.
//!
//! The axes may be an attribute, a constant input, or (opset 13 / 18 on)
//! a run-time tensor of static length: then the TFLite op takes them as a
//! run-time int32 tensor and its output dimensions are dynamic.

use super::operand::{int32_vector, shape_err, static_dim, typed_input};
use super::widen::{widened_operands, Kind};
use super::shape_ops::squeeze_by_runtime_axes;
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// The reductions lowered by [`reduce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reduction {
    Mean,
    Max,
    Min,
    Sum,
    Prod,
}

/// What a reduction reduces over.
enum Axes {
    /// The output is the input (empty axes with `noop_with_empty_axes`).
    Noop,
    /// These axes, known at conversion time (normalised, distinct or not).
    Static(Vec<usize>),
    /// A run-time int32 vector of `n` axes (n ≥ 1), possibly negative.
    Runtime(TensorId, usize),
}

/// The axes of a reduction: the attribute before `axes_input_since`, the
/// input from then on (constant, or a run-time vector of static length);
/// absent or empty axes mean all axes, or none with
/// `noop_with_empty_axes`.
fn reduce_axes(ctx: &mut LowerCtx<'_>, node: &Node<'_>, axes_input_since: i64, r: usize) -> Result<Axes, LowerError> {
    let axes = if node.opset() < axes_input_since {
        node.attr_ints("axes")?
    } else if !node.has_input(1) {
        None
    } else if let Some(d) = ctx.const_input(node, 1) {
        Some(d.to_i64().ok_or_else(|| LowerError::invalid("axes must be integers"))?)
    } else {
        let t = ctx.input(node, 1)?;
        let s = ctx.shape(t).clone();
        if s.rank() != 1 {
            return Err(LowerError::invalid(format!("axes of shape {s} (must be 1-D)")));
        }
        match s.dims()[0].fixed() {
            Some(0) => None,
            Some(_) => {
                // Saturated to int32, so that an int64 axis out of range
                // stays out of range (and fails at run time).
                let (t, n) = int32_vector(ctx, node, 1, "axes")?;
                return Ok(Axes::Runtime(t, n));
            }
            None => {
                return Err(LowerError::new(ReasonCode::InputMustBeConstant, "axes (input 1) of dynamic length must be constant (the empty case means all axes)"));
            }
        }
    };
    match axes {
        Some(a) if !a.is_empty() => Ok(Axes::Static(a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?)),
        _ if node.int_or("noop_with_empty_axes", 0)? != 0 => Ok(Axes::Noop),
        _ => Ok(Axes::Static((0..r).collect())),
    }
}

/// Whether the model declares output 0 of `node` with a fully static
/// shape holding no zero.
fn declared_nonempty(ctx: &LowerCtx<'_>, node: &Node<'_>) -> bool {
    let Some(name) = node.inner.outputs.first() else { return false };
    let dims = ctx.graph.value(name).and_then(|v| v.shape.as_ref());
    dims.is_some_and(|d| d.iter().all(|d| d.known().is_some_and(|n| n > 0)))
}

/// Lowers `ReduceMean` to MEAN (axes attribute before opset 18, input from
/// 18 on).
pub fn lower_reduce_mean(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    reduce(ctx, node, 18, Reduction::Mean)
}

pub(crate) fn reduce(ctx: &mut LowerCtx<'_>, node: &Node<'_>, axes_input_since: i64, kind: Reduction) -> Result<(), LowerError> {
    let types: &[DType] = match kind {
        Reduction::Max | Reduction::Sum => &[DType::F32],
        Reduction::Min | Reduction::Prod => &[DType::F32, DType::I32, DType::I64],
        // What MEAN takes (checked by the builder).
        Reduction::Mean => &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64],
    };
    // Max and min of bools and of 8/16-bit integers: in float32, which
    // holds each of their values exactly, then cast back (a bool from
    // non-zero).
    let x = ctx.input(node, 0)?;
    let dt = ctx.dtype(x);
    let via_f32 = matches!(kind, Reduction::Max | Reduction::Min) && matches!(dt, DType::Bool | DType::I8 | DType::U8 | DType::I16 | DType::U16);
    let x = if via_f32 { ctx.g.cast(x, DType::F32)? } else { typed_input(ctx, node, types)? };
    let keep = node.int_or("keepdims", 1)? != 0;
    let mut y = reduce_input(ctx, node, x, axes_input_since, kind, keep)?.unwrap_or(x);
    if via_f32 {
        y = ctx.g.cast(y, dt)?;
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Reduces `x` (the node's input, or an elementwise function of it, of the
/// same shape) over the node's axes, constant or run-time, keeping the
/// reduced dimensions when `keep`. `None` when the node reduces nothing
/// (`noop_with_empty_axes` without axes). Composite reductions
/// (ReduceL2, ReduceLogSumExp, ...) are built on it.
pub(crate) fn reduce_input(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, axes_input_since: i64, kind: Reduction, keep: bool) -> Result<Option<TensorId>, LowerError> {
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axes = match reduce_axes(ctx, node, axes_input_since, r)? {
        Axes::Noop => return Ok(None),
        Axes::Static(axes) => {
            if matches!(kind, Reduction::Max | Reduction::Min) && axes.iter().any(|a| xs.dims()[*a] == Dim::Fixed(0)) {
                return Err(shape_err(format!("{} over an empty dimension (ONNX gives ±inf, TFLite the extreme finite value)", node.op_type())));
            }
            if r == 0 && kind != Reduction::Mean {
                return Err(shape_err("reduction of a scalar"));
            }
            let ax: Vec<i32> = axes.iter().map(|a| *a as i32).collect();
            ctx.g.constant_i32(&format!("{}/axes", node.name()), [ax.len() as u32], &ax)
        }
        Axes::Runtime(t, n) => {
            if matches!(kind, Reduction::Max | Reduction::Min) && xs.dims().contains(&Dim::Fixed(0)) {
                return Err(shape_err(format!(
                    "{} with run-time axes of an input with an empty dimension {xs} (ONNX gives ±inf over it, TFLite the extreme finite value)",
                    node.op_type()
                )));
            }
            if r == 0 {
                return Err(shape_err("reduction of a scalar"));
            }
            if kind == Reduction::Mean && xs.dims().contains(&Dim::Fixed(0)) {
                return Err(shape_err(format!("ReduceMean with run-time axes of an input with an empty dimension {xs} (ONNX gives NaN over it)")));
            }
            if xs.dims().contains(&Dim::Fixed(0)) && !declared_nonempty(ctx, node) {
                // Empty unless the axes cover every empty dimension, and
                // LiteRT cannot hand out an empty dynamic tensor.
                return Err(shape_err(format!(
                    "{} with run-time axes of an input with an empty dimension {xs}, with no declared non-empty output shape",
                    node.op_type()
                )));
            }
            if !keep && n > 1 {
                // TFLite drops each distinct axis once, so the output rank
                // would depend on whether the run-time axes repeat: reduce
                // keeping the dimensions, then drop them by a run-time
                // RESHAPE that fails on repeated axes, as ONNX does.
                let op = reduce_op(kind, true);
                let kept = ctx.g.apply(op, &[Some(x), Some(t)])?;
                return Ok(Some(squeeze_by_runtime_axes(ctx, node, kept)?));
            }
            t
        }
    };
    Ok(Some(ctx.g.apply(reduce_op(kind, keep), &[Some(x), Some(axes)])?))
}

/// The TFLite op of a reduction.
fn reduce_op(kind: Reduction, keep_dims: bool) -> Op {
    match kind {
        Reduction::Mean => Op::Mean { keep_dims },
        Reduction::Max => Op::ReduceMax { keep_dims },
        Reduction::Sum => Op::Sum { keep_dims },
        Reduction::Min => Op::ReduceMin { keep_dims },
        Reduction::Prod => Op::ReduceProd { keep_dims },
    }
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

/// ArgMax / ArgMin: ARG_MAX / ARG_MIN (the first extreme index, as ONNX by
/// default) on float32 or int32 (other integer types and float16 compared
/// in int32 / int64 / float32, exact). `select_last_index=1`: the same on
/// the input reversed along the axis (REVERSE_V2), the index `i` found
/// there mapped back to `n − 1 − i` (static axis size `n`).
fn arg_extreme(ctx: &mut LowerCtx<'_>, node: &Node<'_>, max: bool) -> Result<(), LowerError> {
    let x = widened_operands(ctx, node, &[0], Kind::Compare, &[DType::F32, DType::I32])?.ts[0];
    let last = node.int_or("select_last_index", 0)? != 0;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if r == 0 {
        return Err(shape_err(format!("{} of a scalar", node.op_type())));
    }
    let axis = norm_axis(node.int_or("axis", 0)?, r)?;
    if xs.dims()[axis] == Dim::Fixed(0) {
        return Err(shape_err(format!("{} over an empty dimension", node.op_type())));
    }
    let n = if last { static_dim(&xs, axis, "select_last_index=1: the size of the axis")? } else { 0 };
    let x = if last {
        let ax = ctx.g.constant_i32(&format!("{}/reverse_axis", node.name()), [1u32], &[axis as i32]);
        ctx.g.reverse_v2(x, ax)?
    } else {
        x
    };
    let keep = node.int_or("keepdims", 1)? != 0;
    let a = ctx.g.constant_i32(&format!("{}/axis", node.name()), [1u32], &[axis as i32]);
    let op = if max { Op::ArgMax { output_type: DType::I64 } } else { Op::ArgMin { output_type: DType::I64 } };
    let mut y = ctx.g.apply_with(op, &[Some(x), Some(a)], Some(DType::I64), None)?;
    if last {
        let top = ctx.g.constant(&format!("{}/last", node.name()), DType::I64, Shape::scalar(), ConstData::from_slice(&[n - 1]));
        y = ctx.g.sub(top, y)?;
    }
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
