//! Helpers the lowerings share: error constructors, element types of
//! inputs, operands with constants materialized in a given type, and the
//! generic unary and variadic lowerings.
//!
//! Two ways of materializing a constant operand exist, and they differ:
//!
//! - [`operand_as`] always builds a new constant of exactly the requested
//!   type (an int64 constant stays int64);
//! - [`operand_narrowed`] converts a constant only when its type differs
//!   from the requested one, and then goes through [`LowerCtx::const_tensor`],
//!   which narrows int64 / float64 to int32 / float32 when exact (as every
//!   other materialized constant is).

use super::{LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::TensorData;

/// An `unsupported_dtype` error.
pub(crate) fn dtype_err(detail: impl Into<String>) -> LowerError {
    LowerError::new(ReasonCode::UnsupportedDtype, detail)
}

/// An `unsupported_shape` error.
pub(crate) fn shape_err(detail: impl Into<String>) -> LowerError {
    LowerError::new(ReasonCode::UnsupportedShape, detail)
}

/// The element type of input `i` when it is a tensor (not a constant).
pub(crate) fn tensor_type(ctx: &LowerCtx<'_>, node: &Node<'_>, i: usize) -> Option<DType> {
    match ctx.env.get(node.inner.input(i)?)? {
        Val::Tensor(t) => Some(ctx.g.tensor(*t).dtype),
        _ => None,
    }
}

/// The element type of the first tensor (not constant) among inputs `idx`.
pub(crate) fn first_tensor_type(ctx: &LowerCtx<'_>, node: &Node<'_>, idx: impl IntoIterator<Item = usize>) -> Option<DType> {
    idx.into_iter().find_map(|i| tensor_type(ctx, node, i))
}

/// Adds a constant of `dtype` (without narrowing int64 to int32).
pub(crate) fn typed_const(ctx: &mut LowerCtx<'_>, name: &str, dtype: DType, dims: &[usize], v: &[f64]) -> Result<TensorId, LowerError> {
    let d = TensorData::from_f64(dtype, dims.to_vec(), v).ok_or_else(|| dtype_err(format!("constant of type {dtype}")))?;
    let shape = Shape::new(dims.iter().map(|x| *x as u32));
    Ok(ctx.g.constant(name, dtype, shape, ConstData::from_bytes(d.bytes)))
}

/// The tensor of input `i`; a constant is materialized in exactly `like`'s
/// type (no narrowing), as a new tensor named `{node}/const{i}`.
pub(crate) fn operand_as(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, like: DType) -> Result<TensorId, LowerError> {
    if let Some(d) = ctx.const_input(node, i) {
        let name = format!("{}/const{i}", node.name());
        if d.dtype == like {
            // Its own bytes: int64 values beyond 2⁵³ would not survive f64.
            let shape = Shape::new(d.dims.iter().map(|x| *x as u32));
            return Ok(ctx.g.constant(&name, like, shape, ConstData::from_bytes(d.bytes)));
        }
        let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric constant"))?;
        return typed_const(ctx, &name, like, &d.dims, &v);
    }
    ctx.input(node, i)
}

/// The tensor of input `i`. A constant of another type than `like` is
/// converted to it first; constants are then materialized as
/// [`LowerCtx::const_tensor`] does, int64 and float64 narrowed to int32 and
/// float32 when exact.
pub(crate) fn operand_narrowed(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, like: Option<DType>) -> Result<TensorId, LowerError> {
    if let (Some(d), Some(like)) = (ctx.const_input(node, i), like)
        && d.dtype != like {
            let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric constant"))?;
            let c = TensorData::from_f64(like, d.dims.clone(), &v).ok_or_else(|| dtype_err(format!("constant as {like}")))?;
            let name = format!("{}/const{i}", node.name());
            return ctx.const_tensor(&name, &c);
        }
    ctx.input(node, i)
}

/// The operands `idx` in one element type: that of the first tensor input,
/// in which constants are materialized ([`operand_as`]). Without a tensor
/// input the constants are materialized as they are (and must agree).
pub(crate) fn common_operands(ctx: &mut LowerCtx<'_>, node: &Node<'_>, idx: &[usize]) -> Result<(Vec<TensorId>, DType), LowerError> {
    let like = first_tensor_type(ctx, node, idx.iter().copied());
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

/// The tensor of input 0, which must have one of `types`.
pub(crate) fn typed_input(ctx: &mut LowerCtx<'_>, node: &Node<'_>, types: &[DType]) -> Result<TensorId, LowerError> {
    let x = ctx.input(node, 0)?;
    let d = ctx.dtype(x);
    if !types.contains(&d) {
        return Err(dtype_err(format!("{} on {d}", node.op_type())));
    }
    Ok(x)
}

/// Lowers a one-input node to `op`, on inputs of one of `types`.
pub(crate) fn unary_op(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op, types: &[DType]) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, types)?;
    let y = ctx.g.apply(op, &[Some(x)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Dimension `i` of `s`, which must be static.
pub(crate) fn static_dim(s: &Shape, i: usize, what: &str) -> Result<i64, LowerError> {
    s.dim(i).and_then(|d| d.fixed()).map(i64::from).ok_or_else(|| shape_err(format!("{what} must be static")))
}

/// Lets input 0's value (tensor, constant or shape vector) through as
/// output 0 unchanged.
pub(crate) fn pass_through(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let name = node.inner.input(0).ok_or_else(|| LowerError::invalid("missing input"))?;
    let v = ctx.env.get(name).cloned().ok_or_else(|| LowerError::invalid("input not available"))?;
    ctx.set_val(node, 0, v);
    Ok(())
}

/// Input `i`, a 1-D integer vector (constant or run-time) of static
/// length, as an int32 tensor: int64 values are saturated to the int32
/// range first (constants here, run-time tensors by MAXIMUM and MINIMUM
/// before a CAST), which keeps their meaning as bounds, pads or steps on
/// dimensions that are below 2³¹. Returns the tensor and its length.
pub(crate) fn int32_vector(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, what: &str) -> Result<(TensorId, usize), LowerError> {
    let name = format!("{}/{what}", node.name());
    if let Some(d) = ctx.const_input(node, i) {
        let v = d.to_i64().ok_or_else(|| dtype_err(format!("{what} (input {i}) of type {}", d.dtype)))?;
        if d.dims.len() != 1 {
            return Err(LowerError::invalid(format!("{what} (input {i}) of shape {:?} (must be 1-D)", d.dims)));
        }
        let v32: Vec<i32> = v.iter().map(|x| (*x).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32).collect();
        return Ok((ctx.g.constant_i32(&name, [v32.len() as u32], &v32), v32.len()));
    }
    let t = ctx.input(node, i)?;
    let s = ctx.shape(t).clone();
    if s.rank() != 1 {
        return Err(LowerError::invalid(format!("{what} (input {i}) of shape {s} (must be 1-D)")));
    }
    let n = s.dims()[0]
        .fixed()
        .ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, format!("{what} (input {i}) of dynamic length must be constant")))?;
    let t = match ctx.dtype(t) {
        DType::I32 => t,
        DType::I64 => {
            let lo = ctx.g.constant(&format!("{name}/i32_min"), DType::I64, Shape::scalar(), ConstData::from_slice(&[i64::from(i32::MIN)]));
            let hi = ctx.g.constant(&format!("{name}/i32_max"), DType::I64, Shape::scalar(), ConstData::from_slice(&[i64::from(i32::MAX)]));
            let a = ctx.g.maximum(t, lo)?;
            let b = ctx.g.minimum(a, hi)?;
            ctx.g.cast(b, DType::I32)?
        }
        other => return Err(dtype_err(format!("{what} (input {i}) of type {other}"))),
    };
    Ok((t, n as usize))
}

/// A vector of `pos.len()` int32 entries from the `k`-entry vector `v`:
/// entry `d` is `v[j]` where `pos[d] == Some(j)`, `default` elsewhere
/// (CONCATENATION with the default, then GATHER; `v` itself when it
/// already is that vector).
pub(crate) fn scatter_vector(ctx: &mut LowerCtx<'_>, name: &str, v: TensorId, k: usize, pos: &[Option<usize>], default: i32) -> Result<TensorId, LowerError> {
    if pos.len() == k && pos.iter().enumerate().all(|(d, p)| *p == Some(d)) {
        return Ok(v);
    }
    let dflt = ctx.g.constant_i32(&format!("{name}/default"), [1u32], &[default]);
    let cat = ctx.g.concatenation(&[v, dflt], 0)?;
    let idx: Vec<i32> = pos.iter().map(|p| p.unwrap_or(k) as i32).collect();
    let it = ctx.g.constant_i32(&format!("{name}/positions"), [idx.len() as u32], &idx);
    Ok(ctx.g.gather(cat, it, GatherOptions::new(0))?)
}

/// Run-time axes (input `i`, a vector of static length `k`) against rank
/// `r`: the axes with negative ones counted from the end (int32 `[k]`;
/// axes out of `[-r, r)` stay out of range) and the int32 one-hot matrix
/// `[k, r]` of the positions they name. Returns both and `k`.
pub(crate) fn runtime_axes_onehot(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, r: usize) -> Result<(TensorId, TensorId, usize), LowerError> {
    let (a, k) = int32_vector(ctx, node, i, "axes")?;
    let name = format!("{}/axes", node.name());
    let zero = ctx.g.constant_i32(&format!("{name}/zero"), Shape::scalar(), &[0]);
    let rank = ctx.g.constant_i32(&format!("{name}/rank"), Shape::scalar(), &[r as i32]);
    let negative = ctx.g.apply(Op::Less, &[Some(a), Some(zero)])?;
    let wrapped = ctx.g.add(a, rank)?;
    let an = ctx.g.apply(Op::SelectV2, &[Some(negative), Some(wrapped), Some(a)])?;
    let col = ctx.g.reshape(an, &[k as i32, 1])?;
    let positions: Vec<i32> = (0..r as i32).collect();
    let row = ctx.g.constant_i32(&format!("{name}/positions"), [1u32, r as u32], &positions);
    let hits = ctx.g.apply(Op::Equal, &[Some(col), Some(row)])?;
    let hits = ctx.g.cast(hits, DType::I32)?;
    Ok((an, hits, k))
}

/// The int32 `[r]` vector with the run-time `[k]` vector `v` placed at the
/// positions of the one-hot `hits` (`[k, r]`, from [`runtime_axes_onehot`])
/// and `default` elsewhere (MUL, SUM, and for a non-zero default MINIMUM,
/// SUB, MUL, ADD).
pub(crate) fn place_by_onehot(ctx: &mut LowerCtx<'_>, name: &str, hits: TensorId, v: TensorId, k: usize, default: i32) -> Result<TensorId, LowerError> {
    let col = ctx.g.reshape(v, &[k as i32, 1])?;
    let spread = ctx.g.mul(hits, col)?;
    let placed = ctx.g.sum(spread, &[0], false)?;
    if default == 0 {
        return Ok(placed);
    }
    let named = ctx.g.sum(hits, &[0], false)?;
    let one = ctx.g.constant_i32(&format!("{name}/one"), Shape::scalar(), &[1]);
    let named = ctx.g.minimum(named, one)?;
    let unnamed = ctx.g.sub(one, named)?;
    let d = ctx.g.constant_i32(&format!("{name}/default"), Shape::scalar(), &[default]);
    let fill = ctx.g.mul(unnamed, d)?;
    Ok(ctx.g.add(placed, fill)?)
}
