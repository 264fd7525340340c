//! Gathers and scatters by index tensors: GatherElements, GatherND,
//! ScatterND and ScatterElements, on GATHER_ND and SCATTER_ND.
//!
//! Negative indices count from the end in ONNX and are out of range in
//! TFLite: constant indices are normalized here, run-time ones with
//! LESS / ADD / SELECT_V2 (out-of-range indices stay out of range, so the
//! runtime rejects them). The element-wise forms build full coordinates
//! (the index along the axis, the position elsewhere) and use the N-D ops.
//! SCATTER_ND scatters into zeros and sums duplicates, so a scatter into
//! `data` is `data + scatter(updates)` for reduction `add`, and
//! `select(scatter(1) > 0, scatter(updates), data)` for `none`; `mul`,
//! `max` and `min` reduce the updates per element with the unsorted
//! segment reductions.

use super::operand::{dtype_err, shape_err};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;

fn static_shape(ctx: &LowerCtx<'_>, t: TensorId, what: &str) -> Result<Vec<i64>, LowerError> {
    ctx.shape(t)
        .as_fixed()
        .map(|d| d.into_iter().map(i64::from).collect())
        .ok_or_else(|| shape_err(format!("{what} must have a static shape, has {}", ctx.shape(t))))
}

fn to_i32(v: i64, what: &str) -> Result<i32, LowerError> {
    i32::try_from(v).map_err(|_| shape_err(format!("{what} {v} does not fit int32")))
}

/// Index input `i` as an int32 tensor with negative entries made positive:
/// entry `e` along the last axis is bounded by `bounds[e % bounds.len()]`.
/// Constant indices must be in range.
fn indices(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, bounds: &[i64]) -> Result<TensorId, LowerError> {
    let name = node.name();
    if let Some(d) = ctx.const_input(node, i) {
        let v = d.to_i64().ok_or_else(|| dtype_err(format!("indices (input {i}) of type {}", d.dtype)))?;
        let mut out = Vec::with_capacity(v.len());
        for (e, x) in v.iter().enumerate() {
            let b = bounds[e % bounds.len()];
            let n = if *x < 0 { x + b } else { *x };
            if n < 0 || n >= b {
                return Err(LowerError::invalid(format!("index {x} out of range for a dimension of {b}")));
            }
            out.push(to_i32(n, "index")?);
        }
        let shape = Shape::new(d.dims.iter().map(|x| *x as u32));
        return Ok(ctx.g.constant_i32(&format!("{name}/indices{i}"), shape, &out));
    }
    let mut x = ctx.input(node, i)?;
    match ctx.dtype(x) {
        DType::I64 => x = ctx.g.cast(x, DType::I32)?,
        DType::I32 => {}
        t => return Err(dtype_err(format!("indices of type {t}"))),
    }
    let b: Vec<i32> = bounds.iter().map(|b| to_i32(*b, "dimension")).collect::<Result<_, _>>()?;
    let zero = ctx.g.constant_i32(&format!("{name}/index_zero"), Shape::scalar(), &[0]);
    let bt = ctx.g.constant_i32(&format!("{name}/index_bounds"), Shape::new([b.len() as u32]), &b);
    let neg = ctx.g.apply(Op::Less, &[Some(x), Some(zero)])?;
    let wrapped = ctx.g.add(x, bt)?;
    Ok(ctx.g.apply(Op::SelectV2, &[Some(neg), Some(wrapped), Some(x)])?)
}

/// An int32 constant of shape `dims + [1]` holding each element's position
/// along `axis`.
pub(crate) fn position_grid(ctx: &mut LowerCtx<'_>, name: &str, dims: &[i64], axis: usize) -> Result<TensorId, LowerError> {
    let n: i64 = dims.iter().product();
    let inner: i64 = dims[axis + 1..].iter().product();
    let v: Vec<i32> = (0..n).map(|f| to_i32((f / inner.max(1)) % dims[axis].max(1), "position")).collect::<Result<_, _>>()?;
    let mut shape: Vec<u32> = dims.iter().map(|d| *d as u32).collect();
    shape.push(1);
    Ok(ctx.g.constant_i32(name, Shape::new(shape), &v))
}

/// Full coordinates `[I..., rank]` for element-wise indices `idx` (shape
/// `I`) along `axis`.
fn element_coords(ctx: &mut LowerCtx<'_>, name: &str, idx: TensorId, idims: &[i64], axis: usize) -> Result<TensorId, LowerError> {
    let mut shape: Vec<i32> = idims.iter().map(|d| to_i32(*d, "dimension")).collect::<Result<_, _>>()?;
    shape.push(1);
    let col = ctx.g.reshape(idx, &shape)?;
    let mut parts = Vec::with_capacity(idims.len());
    for d in 0..idims.len() {
        parts.push(if d == axis { col } else { position_grid(ctx, &format!("{name}/pos{d}"), idims, d)? });
    }
    if parts.len() == 1 {
        return Ok(col);
    }
    Ok(ctx.g.concatenation(&parts, idims.len() as i32)?)
}

/// Lowers `GatherElements` to GATHER_ND on full coordinates.
pub fn lower_gather_elements(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let data = ctx.input(node, 0)?;
    let ddims = static_shape(ctx, data, "GatherElements data")?;
    let r = ddims.len();
    let axis = norm_axis(node.int_or("axis", 0)?, r)?;
    let idx = indices(ctx, node, 1, &[ddims[axis]])?;
    let idims = static_shape(ctx, idx, "GatherElements indices")?;
    if idims.len() != r {
        return Err(LowerError::invalid(format!("indices of rank {} for data of rank {r}", idims.len())));
    }
    let coords = element_coords(ctx, &node.name(), idx, &idims, axis)?;
    let y = ctx.g.gather_nd(data, coords)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `GatherND` to GATHER_ND; `batch_dims` prepend the batch
/// positions to the coordinates.
pub fn lower_gather_nd(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let data = ctx.input(node, 0)?;
    let ddims = static_shape(ctx, data, "GatherND data")?;
    let b = usize::try_from(node.int_or("batch_dims", 0)?).map_err(|_| LowerError::invalid("negative batch_dims"))?;
    let idims0 = match ctx.const_input(node, 1) {
        Some(d) => d.dims.iter().map(|x| *x as i64).collect(),
        None => {
            let t = ctx.input(node, 1)?;
            static_shape(ctx, t, "GatherND indices")?
        }
    };
    let k = *idims0.last().ok_or_else(|| LowerError::invalid("scalar indices"))?;
    if b >= idims0.len() || b + k as usize > ddims.len() || idims0[..b] != ddims[..b] {
        return Err(LowerError::invalid(format!("indices {idims0:?} with batch_dims {b} for data {ddims:?}")));
    }
    let idx = indices(ctx, node, 1, &ddims[b..b + k as usize])?;
    let coords = if b == 0 {
        idx
    } else {
        let lead = &idims0[..idims0.len() - 1];
        let mut parts = Vec::with_capacity(b + 1);
        for d in 0..b {
            parts.push(position_grid(ctx, &format!("{}/batch{d}", node.name()), lead, d)?);
        }
        parts.push(idx);
        ctx.g.concatenation(&parts, lead.len() as i32)?
    };
    let y = ctx.g.gather_nd(data, coords)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// `data` with `updates` scattered at `coords` (`[N..., k]` int32).
fn scatter_into(ctx: &mut LowerCtx<'_>, node: &Node<'_>, data: TensorId, ddims: &[i64], coords: TensorId, updates: TensorId) -> Result<TensorId, LowerError> {
    let name = node.name();
    let reduction = node.attr_str("reduction")?.unwrap_or_else(|| "none".into());
    let dt = ctx.dtype(data);
    if ctx.dtype(updates) != dt {
        return Err(dtype_err(format!("updates of type {} for data of type {dt}", ctx.dtype(updates))));
    }
    if !matches!(dt, DType::F32 | DType::I32 | DType::I64 | DType::I8 | DType::U8 | DType::Bool) {
        return Err(dtype_err(format!("{} on {dt}", node.op_type())));
    }
    let shape: Vec<i32> = ddims.iter().map(|d| to_i32(*d, "dimension")).collect::<Result<_, _>>()?;
    let shape_t = ctx.g.constant_i32(&format!("{name}/shape"), Shape::new([shape.len() as u32]), &shape);
    let scattered = ctx.g.scatter_nd(&[Some(coords), Some(updates), Some(shape_t)])?;
    match reduction.as_str() {
        "add" if dt != DType::Bool => Ok(ctx.g.add(data, scattered)?),
        "none" => {
            let udims = static_shape(ctx, updates, "updates")?;
            let n: i64 = udims.iter().product();
            let ones = ctx.g.constant_i32(&format!("{name}/ones"), Shape::new(udims.iter().map(|d| *d as u32)), &vec![1; n as usize]);
            let count = ctx.g.scatter_nd(&[Some(coords), Some(ones), Some(shape_t)])?;
            let zero = ctx.g.constant_i32(&format!("{name}/zero"), Shape::scalar(), &[0]);
            let hit = ctx.g.apply(Op::Greater, &[Some(count), Some(zero)])?;
            Ok(ctx.g.apply(Op::SelectV2, &[Some(hit), Some(scattered), Some(data)])?)
        }
        "mul" | "max" | "min" => segment_reduce(ctx, node, &reduction, data, ddims, coords, updates),
        other => Err(LowerError::attr(format!("reduction {other:?}"))),
    }
}

/// A scatter with reduction `mul`, `max` or `min`: the updates are reduced
/// per target element with UNSORTED_SEGMENT_PROD / _MAX / _MIN (whose empty
/// segments give 1, the lowest or the highest value, which leave `data`
/// unchanged) and combined with `data` by MUL / MAXIMUM / MINIMUM.
fn segment_reduce(ctx: &mut LowerCtx<'_>, node: &Node<'_>, reduction: &str, data: TensorId, ddims: &[i64], coords: TensorId, updates: TensorId) -> Result<TensorId, LowerError> {
    let name = node.name();
    let dt = ctx.dtype(data);
    if !matches!(dt, DType::F32 | DType::I32) {
        return Err(dtype_err(format!("reduction {reduction:?} on {dt} (float32 and int32)")));
    }
    let cdims = static_shape(ctx, coords, "indices")?;
    let k = *cdims.last().ok_or_else(|| LowerError::invalid("scalar indices"))? as usize;
    let lead: i64 = cdims[..cdims.len() - 1].iter().product();
    let inner: i64 = ddims[k..].iter().product();
    let total: i64 = ddims.iter().product();
    let strides: Vec<i32> = (0..k).map(|i| to_i32(ddims[i + 1..].iter().product(), "stride")).collect::<Result<_, _>>()?;
    let st = ctx.g.constant_i32(&format!("{name}/strides"), Shape::new([k as u32]), &strides);
    let scaled = ctx.g.mul(coords, st)?;
    let last = (cdims.len() - 1) as i32;
    let base = ctx.g.sum(scaled, &[last], false)?;
    let base = ctx.g.reshape(base, &[to_i32(lead, "count")?, 1])?;
    // `base` is the element offset of each slice's first element.
    let start = base;
    let offs: Vec<i32> = (0..inner).map(|i| to_i32(i, "offset")).collect::<Result<_, _>>()?;
    let off = ctx.g.constant_i32(&format!("{name}/offsets"), Shape::new([1, inner as u32]), &offs);
    let seg = ctx.g.add(start, off)?;
    let n = to_i32(lead * inner, "update count")?;
    let seg = ctx.g.reshape(seg, &[n])?;
    let upd = ctx.g.reshape(updates, &[n])?;
    let num = ctx.g.constant_i32(&format!("{name}/num_segments"), Shape::scalar(), &[to_i32(total, "element count")?]);
    let inputs = [Some(upd), Some(seg), Some(num)];
    let r = match reduction {
        "mul" => ctx.g.unsorted_segment_prod(&inputs)?,
        "max" => ctx.g.unsorted_segment_max(&inputs)?,
        _ => ctx.g.unsorted_segment_min(&inputs)?,
    };
    let shape: Vec<i32> = ddims.iter().map(|d| to_i32(*d, "dimension")).collect::<Result<_, _>>()?;
    let r = ctx.g.reshape(r, &shape)?;
    Ok(match reduction {
        "mul" => ctx.g.mul(data, r)?,
        "max" => ctx.g.maximum(data, r)?,
        _ => ctx.g.minimum(data, r)?,
    })
}

/// Lowers `ScatterND` to SCATTER_ND (reduction none or add).
pub fn lower_scatter_nd(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let data = ctx.input(node, 0)?;
    let ddims = static_shape(ctx, data, "ScatterND data")?;
    let k = match ctx.const_input(node, 1) {
        Some(d) => d.dims.last().copied(),
        None => {
            let t = ctx.input(node, 1)?;
            static_shape(ctx, t, "ScatterND indices")?.last().map(|k| *k as usize)
        }
    }
    .ok_or_else(|| LowerError::invalid("scalar indices"))?;
    if k == 0 || k > ddims.len() {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("index depth {k} for data of rank {}", ddims.len())));
    }
    let idx = indices(ctx, node, 1, &ddims[..k])?;
    let updates = ctx.input(node, 2)?;
    let y = scatter_into(ctx, node, data, &ddims, idx, updates)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `ScatterElements` (and the deprecated `Scatter`) to SCATTER_ND
/// on full coordinates (reduction none or add).
pub fn lower_scatter_elements(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let data = ctx.input(node, 0)?;
    let ddims = static_shape(ctx, data, "ScatterElements data")?;
    let r = ddims.len();
    let axis = norm_axis(node.int_or("axis", 0)?, r)?;
    let idx = indices(ctx, node, 1, &[ddims[axis]])?;
    let idims = static_shape(ctx, idx, "ScatterElements indices")?;
    if idims.len() != r {
        return Err(LowerError::invalid(format!("indices of rank {} for data of rank {r}", idims.len())));
    }
    let coords = element_coords(ctx, &node.name(), idx, &idims, axis)?;
    let updates = ctx.input(node, 2)?;
    let y = scatter_into(ctx, node, data, &ddims, coords, updates)?;
    ctx.set_output(node, 0, y);
    Ok(())
}
