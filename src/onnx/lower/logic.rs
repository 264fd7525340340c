//! Comparisons, logic and selection (Equal, Less, LessOrEqual, Greater,
//! GreaterOrEqual, And, Or, Xor, Not, Where), unary math (Log, Sin, Cos,
//! Pow, LogSoftmax), index reductions (ArgMax, ArgMin), ReduceMin,
//! ReduceProd, Expand, Sum and Mod.
//!
//! Every case that TFLite cannot compute exactly as ONNX defines it is
//! rejected with a reason code.

use super::extra::{dtype_err, operand_as, reduce, shape_err, tensor_type, typed_input, unary_op, variadic_typed, Reduction};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// Types EQUAL and NOT_EQUAL compare here (int8 and int16 tensors are
/// quantized in TFLite, and ONNX's carry no parameters).
const EQ_TYPES: &[DType] = &[DType::F32, DType::I32, DType::I64, DType::Bool];
/// Types LESS, LESS_EQUAL, GREATER and GREATER_EQUAL compare here.
const ORDER_TYPES: &[DType] = &[DType::F32, DType::I32, DType::I64];

/// The common element type of the operands `idx`: that of the first tensor
/// input; constants are materialized in it. Without a tensor input the
/// constants are materialized as they are (and must agree).
fn operands(ctx: &mut LowerCtx<'_>, node: &Node<'_>, idx: &[usize]) -> Result<(Vec<TensorId>, DType), LowerError> {
    let like = idx.iter().find_map(|i| tensor_type(ctx, node, *i));
    let mut ts = Vec::with_capacity(idx.len());
    for i in idx {
        ts.push(match like {
            Some(l) => operand_as(ctx, node, *i, l)?,
            None => ctx.input(node, *i)?,
        });
    }
    let d = ts.first().map(|t| ctx.dtype(*t)).ok_or_else(|| LowerError::invalid("no operands"))?;
    if let Some(t) = ts.iter().find(|t| ctx.dtype(**t) != d) {
        return Err(dtype_err(format!("{} on {d} and {}", node.op_type(), ctx.dtype(*t))));
    }
    Ok((ts, d))
}

fn binary_typed(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op, types: &[DType]) -> Result<(), LowerError> {
    if node.opset() < 7 && node.has_attr("broadcast") {
        return Err(LowerError::attr("legacy broadcast attribute (opset < 7)"));
    }
    let (ts, d) = operands(ctx, node, &[0, 1])?;
    if !types.contains(&d) {
        return Err(dtype_err(format!("{} on {d}", node.op_type())));
    }
    let y = ctx.g.apply(op, &[Some(ts[0]), Some(ts[1])])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Equal` to EQUAL.
pub fn lower_equal(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::Equal, EQ_TYPES)
}
/// Lowers `Less` to LESS.
pub fn lower_less(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::Less, ORDER_TYPES)
}
/// Lowers `LessOrEqual` to LESS_EQUAL.
pub fn lower_less_equal(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::LessEqual, ORDER_TYPES)
}
/// Lowers `Greater` to GREATER.
pub fn lower_greater(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::Greater, ORDER_TYPES)
}
/// Lowers `GreaterOrEqual` to GREATER_EQUAL.
pub fn lower_greater_equal(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::GreaterEqual, ORDER_TYPES)
}
/// Lowers `And` to LOGICAL_AND.
pub fn lower_and(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::LogicalAnd, &[DType::Bool])
}
/// Lowers `Or` to LOGICAL_OR.
pub fn lower_or(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::LogicalOr, &[DType::Bool])
}
/// Lowers `Xor` to NOT_EQUAL on bools.
pub fn lower_xor(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    binary_typed(ctx, node, Op::NotEqual, &[DType::Bool])
}
/// Lowers `Not` to LOGICAL_NOT.
pub fn lower_not(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::LogicalNot, &[DType::Bool])
}

/// Lowers `Where` to SELECT_V2 (all three inputs broadcast).
pub fn lower_where(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let c = operand_as(ctx, node, 0, DType::Bool)?;
    if ctx.dtype(c) != DType::Bool {
        return Err(dtype_err(format!("Where condition of type {}", ctx.dtype(c))));
    }
    let (ts, d) = operands(ctx, node, &[1, 2])?;
    const TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool];
    if !TYPES.contains(&d) {
        return Err(dtype_err(format!("Where on {d}")));
    }
    let y = ctx.g.apply(Op::SelectV2, &[Some(c), Some(ts[0]), Some(ts[1])])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Log` to LOG.
pub fn lower_log(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Log, &[DType::F32])
}
/// Lowers `Sin` to SIN.
pub fn lower_sin(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Sin, &[DType::F32])
}
/// Lowers `Cos` to COS.
pub fn lower_cos(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    unary_op(ctx, node, Op::Cos, &[DType::F32])
}

/// Lowers `Pow`: float32 bases to POW (a constant exponent 2 to MUL, an
/// integer exponent tensor cast to float32 first); int32 bases with int32
/// exponents to POW.
pub fn lower_pow(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32, DType::I32])?;
    let xd = ctx.dtype(x);
    let c = ctx.const_input(node, 1);
    if xd == DType::F32 {
        if let Some(d) = &c {
            let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric exponent"))?;
            if v.len() == 1 && v[0] == 2.0 && ctx.shape(x).rank() >= d.dims.len() {
                let y = ctx.g.mul(x, x)?;
                ctx.set_output(node, 0, y);
                return Ok(());
            }
        }
        let mut e = operand_as(ctx, node, 1, DType::F32)?;
        let ed = ctx.dtype(e);
        if ed != DType::F32 {
            if !matches!(ed, DType::I32 | DType::I64 | DType::F16 | DType::F64 | DType::I8 | DType::I16 | DType::U8) {
                return Err(dtype_err(format!("Pow exponent of type {ed}")));
            }
            e = ctx.g.cast(e, DType::F32)?;
        }
        let y = ctx.g.apply(Op::Pow, &[Some(x), Some(e)])?;
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    // int32 base: the exponent must be int32 too, and non-negative.
    if let Some(d) = &c {
        let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric exponent"))?;
        if d.dtype.is_float() || v.iter().any(|e| *e < 0.0) {
            return Err(dtype_err(format!("Pow of int32 by {} exponents (TFLite takes non-negative int32)", d.dtype)));
        }
    }
    let e = operand_as(ctx, node, 1, DType::I32)?;
    if ctx.dtype(e) != DType::I32 {
        return Err(dtype_err(format!("Pow of int32 by {}", ctx.dtype(e))));
    }
    let y = ctx.g.apply(Op::Pow, &[Some(x), Some(e)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `LogSoftmax` to LOG_SOFTMAX over the last axis; another axis is
/// moved last with TRANSPOSE (opset ≥ 13) or, before opset 13, coerced to
/// 2-D at the axis with RESHAPE (static trailing sizes).
pub fn lower_log_softmax(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let r = ctx.shape(x).rank() as i64;
    if r == 0 {
        return Err(shape_err("LogSoftmax of a scalar"));
    }
    let default_axis = if node.opset() < 13 { 1 } else { -1 };
    let mut axis = node.int_or("axis", default_axis)?;
    if axis < 0 {
        axis += r;
    }
    if axis < 0 || axis >= r {
        return Err(LowerError::attr(format!("axis {axis} for rank {r}")));
    }
    let y = if axis == r - 1 {
        ctx.g.apply(Op::LogSoftmax, &[Some(x)])?
    } else if node.opset() < 13 {
        let dims = ctx.shape(x).clone();
        let inner: Option<u32> = dims.dims()[axis as usize..].iter().map(|d| d.fixed()).product::<Option<u32>>();
        let inner = inner.ok_or_else(|| shape_err("LogSoftmax over dynamic trailing dims"))?;
        let inner = i32::try_from(inner).map_err(|_| shape_err("LogSoftmax row too long"))?;
        let back: Vec<i32> = dims.file_signature().unwrap_or_else(|| dims.file_shape());
        if back.iter().filter(|d| **d < 0).count() > 1 {
            return Err(shape_err(format!("LogSoftmax on {dims} with more than one dynamic dimension")));
        }
        let flat = ctx.g.reshape(x, &[-1, inner])?;
        let s = ctx.g.apply(Op::LogSoftmax, &[Some(flat)])?;
        ctx.g.reshape(s, &back)?
    } else {
        let mut perm: Vec<i32> = (0..r as i32).collect();
        perm.swap(axis as usize, (r - 1) as usize);
        let t = ctx.g.transpose(x, &perm)?;
        let s = ctx.g.apply(Op::LogSoftmax, &[Some(t)])?;
        ctx.g.transpose(s, &perm)?
    };
    ctx.set_output(node, 0, y);
    Ok(())
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

/// Lowers `Expand` to BROADCAST_TO. The output shape is the bidirectional
/// broadcast of the input shape and the given one: with a constant shape it
/// is computed here; with a shape tensor, a `true` is broadcast to the shape
/// and SELECT_V2 picks the input everywhere (its three operands broadcast
/// both ways, and it copies elements exactly).
pub fn lower_expand(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    if ctx.const_input(node, 1).is_none() {
        let s = ctx.input(node, 1)?;
        let (sd, ss) = (ctx.dtype(s), ctx.shape(s).clone());
        if !matches!(sd, DType::I32 | DType::I64) {
            return Err(dtype_err(format!("Expand shape of type {sd}")));
        }
        if ss.rank() != 1 || ss.dims()[0].fixed().is_none_or(|n| n > 8) {
            return Err(shape_err(format!("Expand shape tensor of shape {ss} (needs a static length ≤ 8)")));
        }
        const TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool];
        if !TYPES.contains(&ctx.dtype(x)) {
            return Err(dtype_err(format!("Expand on {}", ctx.dtype(x))));
        }
        let t = ctx.g.constant(&format!("{}/true", node.name()), DType::Bool, Shape::scalar(), ConstData::from_slice(&[1u8]));
        let c = ctx.g.apply(Op::BroadcastTo, &[Some(t), Some(s)])?;
        let y = ctx.g.apply(Op::SelectV2, &[Some(c), Some(x), Some(x)])?;
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    let want = ctx.const_ints(node, 1, "shape")?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank().max(want.len());
    let mut target: Vec<i32> = Vec::with_capacity(r);
    for i in 0..r {
        let xd = (i + xs.rank()).checked_sub(r).map(|j| xs.dims()[j]).unwrap_or(Dim::Fixed(1));
        let wd = (i + want.len()).checked_sub(r).map(|j| want[j]).unwrap_or(1);
        let wd = u32::try_from(wd).map_err(|_| LowerError::invalid(format!("Expand shape entry {wd}")))?;
        let d = match (xd, wd) {
            (Dim::Fixed(a), 1) => a,
            (Dim::Fixed(1), b) => b,
            (Dim::Fixed(a), b) if a == b => a,
            (Dim::Fixed(a), b) => return Err(LowerError::invalid(format!("Expand of dimension {a} to {b}"))),
            (Dim::Dynamic, _) => return Err(shape_err(format!("Expand of {xs} with a dynamic dimension"))),
        };
        target.push(i32::try_from(d).map_err(|_| shape_err("dimension too large"))?);
    }
    if target.len() > 8 {
        return Err(shape_err(format!("Expand to rank {} (BROADCAST_TO handles at most 8)", target.len())));
    }
    let same = xs.rank() == r && xs.dims().iter().zip(&target).all(|(d, t)| d.fixed() == u32::try_from(*t).ok());
    if same {
        ctx.set_output(node, 0, x);
        return Ok(());
    }
    let s = ctx.g.constant_i32(&format!("{}/shape", node.name()), [target.len() as u32], &target);
    let y = ctx.g.apply(Op::BroadcastTo, &[Some(x), Some(s)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Sum` (variadic, broadcasting) to a chain of ADD.
pub fn lower_sum(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    variadic_typed(ctx, node, Op::Add(AddSubOptions::default()), &[DType::F32, DType::I32, DType::I64])
}

/// Lowers `Mod` with `fmod=0` on integers to FLOOR_MOD (the remainder takes
/// the divisor's sign, as in both). `fmod=1` (truncated remainder) has no
/// exact TFLite lowering here.
pub fn lower_mod(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if node.int_or("fmod", 0)? != 0 {
        return Err(LowerError::attr("fmod=1 (truncated remainder; TFLite's FLOOR_MOD follows the divisor's sign)"));
    }
    let (ts, d) = operands(ctx, node, &[0, 1])?;
    if !matches!(d, DType::I32 | DType::I64) {
        return Err(dtype_err(format!("Mod (fmod=0) on {d}")));
    }
    let y = ctx.g.apply(Op::FloorMod, &[Some(ts[0]), Some(ts[1])])?;
    ctx.set_output(node, 0, y);
    Ok(())
}
