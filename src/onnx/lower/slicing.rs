//! Split, Slice and Gather: SPLIT_V, STRIDED_SLICE and GATHER with
//! constant sizes, bounds and indices, or with run-time ones (then the
//! output dimensions they decide are dynamic).

use super::operand::{dtype_err, int32_vector, place_by_onehot, runtime_axes_onehot, scatter_vector, shape_err};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `Split` to SPLIT_V (sizes from the attribute before opset 13,
/// the input from 13 on, or `num_outputs` from 18 on).
pub fn lower_split(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axis = norm_axis(node.int_or("axis", 0)?, r)?;
    let dim = xs.dims()[axis].fixed().map(i64::from);
    let sizes: Option<Vec<i64>> = if node.opset() < 13 {
        node.attr_ints("split")?
    } else if node.has_input(1) {
        if ctx.const_input(node, 1).is_none() {
            return lower_split_runtime(ctx, node, x, axis);
        }
        Some(ctx.const_ints(node, 1, "split")?)
    } else {
        None
    };
    let n_out = node.num_outputs();
    let sizes = match sizes {
        Some(s) => {
            if s.len() != n_out {
                return Err(LowerError::invalid(format!("{} split sizes for {n_out} outputs", s.len())));
            }
            if let Some(d) = dim
                && s.iter().sum::<i64>() != d {
                    return Err(LowerError::invalid(format!("split {s:?} does not add up to {d}")));
                }
            s
        }
        None => {
            let n = if node.opset() >= 18 { node.attr_int("num_outputs")?.unwrap_or(n_out as i64) } else { n_out as i64 };
            if n != n_out as i64 || n <= 0 {
                return Err(LowerError::invalid(format!("num_outputs {n} for {n_out} outputs")));
            }
            let d = dim.ok_or_else(|| shape_err("an even split of a dynamic dimension"))?;
            if node.opset() < 18 {
                if d % n != 0 {
                    return Err(LowerError::invalid(format!("{d} does not split evenly into {n}")));
                }
                vec![d / n; n as usize]
            } else {
                // Opset 18: ceil(d / n) each, the last one smaller.
                let c = (d + n - 1) / n;
                let last = d - c * (n - 1);
                if last < 0 {
                    return Err(shape_err(format!("{d} cannot split into {n} parts of {c}")));
                }
                let mut v = vec![c; n as usize - 1];
                v.push(last);
                v
            }
        }
    };
    if sizes.iter().any(|s| *s <= 0) {
        return Err(shape_err(format!("split sizes {sizes:?} (empty outputs are not supported)")));
    }
    if sizes.len() == 1 {
        ctx.set_output(node, 0, x);
        return Ok(());
    }
    let s32: Vec<i32> = sizes.iter().map(|s| i32::try_from(*s).map_err(|_| shape_err("split size overflows int32"))).collect::<Result<_, _>>()?;
    let outs = ctx.g.split_v(x, &s32, axis as i32)?;
    for (i, t) in outs.into_iter().enumerate() {
        ctx.set_output(node, i, t);
    }
    Ok(())
}

/// Lowers a `Split` (opset 13+) with a run-time `split` vector to SPLIT_V
/// with run-time sizes. TFLite reads a size of -1 as "the rest" where ONNX
/// has no negative sizes, so negative sizes become `i32::MAX` first
/// (LESS, SELECT_V2), which no dimension can match: the runtime fails on
/// them as ONNX does.
fn lower_split_runtime(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, axis: usize) -> Result<(), LowerError> {
    let n_out = node.num_outputs();
    let sizes = ctx.input(node, 1)?;
    let (ss, st) = (ctx.shape(sizes).clone(), ctx.dtype(sizes));
    if !matches!(st, DType::I32 | DType::I64) {
        return Err(dtype_err(format!("split sizes of type {st}")));
    }
    if ss.rank() != 1 || ss.dims()[0] != Dim::Fixed(n_out as u32) {
        return Err(LowerError::invalid(format!("split (input 1) of shape {ss} for {n_out} outputs")));
    }
    let xs = ctx.shape(x).clone();
    if xs.dims()[axis] == Dim::Fixed(0) || (0..n_out).any(|i| declared_empty_output(ctx, node, i)) {
        return Err(shape_err("Split with empty outputs (LiteRT does not hand out empty dynamic tensors)"));
    }
    let name = node.name();
    let zero = ctx.g.constant(&format!("{name}/zero"), st, Shape::scalar(), int_data(st, 0));
    let never = ctx.g.constant(&format!("{name}/invalid_size"), st, Shape::scalar(), int_data(st, i64::from(i32::MAX)));
    let negative = ctx.g.apply(Op::Less, &[Some(sizes), Some(zero)])?;
    let sizes = ctx.g.apply(Op::SelectV2, &[Some(negative), Some(never), Some(sizes)])?;
    let a = ctx.g.constant_i32(&format!("{name}/axis"), Shape::scalar(), &[axis as i32]);
    let num_splits = i32::try_from(n_out).map_err(|_| LowerError::invalid("too many outputs"))?;
    let outs = ctx.g.apply_multi(Op::SplitV { num_splits }, &[Some(x), Some(sizes), Some(a)])?;
    for (i, t) in outs.into_iter().enumerate() {
        ctx.set_output(node, i, t);
    }
    Ok(())
}

/// Whether the model declares output `i` of `node` with a zero dimension.
fn declared_empty_output(ctx: &LowerCtx<'_>, node: &Node<'_>, i: usize) -> bool {
    let Some(name) = node.inner.outputs.get(i) else { return false };
    let dims = ctx.graph.value(name).and_then(|v| v.shape.as_ref());
    dims.is_some_and(|d| d.iter().any(|d| d.known() == Some(0)))
}

fn sat32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Lowers `Slice` with constant starts, ends, axes and steps to
/// STRIDED_SLICE. Static dimensions get exact, non-negative bounds; on
/// dynamic ones only the cases where TFLite's clamping equals ONNX's pass.
pub fn lower_slice(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if r > 5 {
        return Err(shape_err(format!("Slice of rank {r} (TFLite slices at most 5 dimensions)")));
    }
    let (starts, ends, axes, steps) = if node.opset() < 10 {
        let s = node.attr_ints("starts")?.ok_or_else(|| LowerError::invalid("Slice needs starts"))?;
        let e = node.attr_ints("ends")?.ok_or_else(|| LowerError::invalid("Slice needs ends"))?;
        (s, e, node.attr_ints("axes")?, None)
    } else if (1..=4).any(|i| node.has_input(i) && ctx.const_input(node, i).is_none()) {
        return lower_slice_runtime(ctx, node, x);
    } else {
        let s = ctx.const_ints(node, 1, "starts")?;
        let e = ctx.const_ints(node, 2, "ends")?;
        let a = if node.has_input(3) { Some(ctx.const_ints(node, 3, "axes")?) } else { None };
        let st = if node.has_input(4) { Some(ctx.const_ints(node, 4, "steps")?) } else { None };
        (s, e, a, st)
    };
    let k = starts.len();
    let axes: Vec<usize> = match axes {
        Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..k).collect(),
    };
    let steps = steps.unwrap_or_else(|| vec![1; k]);
    if ends.len() != k || axes.len() != k || steps.len() != k {
        return Err(LowerError::invalid("starts, ends, axes and steps differ in length"));
    }
    let mut begin = vec![0i32; r];
    let mut end = vec![0i32; r];
    let mut stride = vec![1i32; r];
    let mut begin_mask = 0i32;
    let mut end_mask = 0i32;
    let mut seen = vec![false; r];
    for d in 0..r {
        begin_mask |= 1 << d;
        end_mask |= 1 << d;
    }
    for i in 0..k {
        let a = axes[i];
        if std::mem::replace(&mut seen[a], true) {
            return Err(LowerError::invalid(format!("axis {a} repeats")));
        }
        let (s, e, st) = (starts[i], ends[i], steps[i]);
        if st == 0 {
            return Err(LowerError::invalid("slice step 0"));
        }
        stride[a] = sat32(st);
        begin_mask &= !(1 << a);
        end_mask &= !(1 << a);
        match xs.dims()[a].fixed().map(i64::from) {
            Some(0) => return Err(shape_err("slicing an empty dimension")),
            Some(n) => {
                let norm = |v: i64| if v < 0 { v.saturating_add(n) } else { v };
                if st > 0 {
                    begin[a] = norm(s).clamp(0, n) as i32;
                    end[a] = norm(e).clamp(0, n) as i32;
                } else {
                    begin[a] = norm(s).clamp(0, n - 1) as i32;
                    let stop = norm(e).clamp(-1, n - 1);
                    if stop < 0 {
                        end_mask |= 1 << a;
                    } else {
                        end[a] = stop as i32;
                    }
                }
            }
            None => {
                if st < 0 && s < -1 {
                    return Err(shape_err("a negative-step Slice starting before -1 on a dynamic dimension"));
                }
                let (b, e) = (sat32(s), sat32(e));
                // Slices empty for every size (LiteRT's delegate does not
                // produce empty slices faithfully).
                let same_sign = (b < 0) == (e < 0);
                let empty = if st > 0 { e == 0 || e == i32::MIN || (same_sign && b >= e) } else { e == i32::MAX || (same_sign && b <= e) };
                if empty {
                    return Err(shape_err(format!("Slice [{s}:{e}:{st}] is empty")));
                }
                begin[a] = b;
                end[a] = e;
            }
        }
    }
    let o = StridedSliceOptions::default().with_begin_mask(begin_mask).with_end_mask(end_mask);
    let y = ctx.g.strided_slice(x, &begin, &end, &stride, o)?;
    if ctx.shape(y).dims().contains(&Dim::Fixed(0)) {
        // LiteRT's delegate does not produce empty slices faithfully.
        return Err(shape_err(format!("Slice with an empty result {}", ctx.shape(y))));
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers a `Slice` (opset 10+) whose starts, ends or steps are run-time
/// tensors (axes constant or absent) to STRIDED_SLICE with run-time begin,
/// end and strides: the entries are saturated to int32, placed at their
/// axes (other axes are masked whole, stride 1), and each start is raised
/// to at least `-size`, the one place where TFLite's clamping (to -1 for a
/// negative step) differs from ONNX's (to 0).
fn lower_slice_runtime(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<(), LowerError> {
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if declared_empty_output(ctx, node, 0) {
        return Err(shape_err("Slice with a declared empty result (LiteRT does not hand out empty dynamic tensors)"));
    }
    let name = node.name();
    let (starts, k) = int32_vector(ctx, node, 1, "starts")?;
    let (ends, ke) = int32_vector(ctx, node, 2, "ends")?;
    if node.has_input(3) && ctx.const_input(node, 3).is_none() {
        return slice_runtime_axes(ctx, node, x, (starts, k), (ends, ke));
    }
    let axes: Vec<usize> = if node.has_input(3) {
        ctx.const_ints(node, 3, "axes")?.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?
    } else {
        (0..k).collect()
    };
    if ke != k || axes.len() != k || k > r {
        return Err(LowerError::invalid(format!("{k} starts, {ke} ends and {} axes for rank {r}", axes.len())));
    }
    let mut pos = vec![None; r];
    for (j, a) in axes.iter().enumerate() {
        if pos[*a].replace(j).is_some() {
            return Err(LowerError::invalid(format!("axis {a} repeats")));
        }
    }
    let const_steps = if node.has_input(4) { ctx.const_input(node, 4).and_then(|d| d.to_i64()) } else { Some(vec![1; k]) };
    if const_steps.as_ref().is_some_and(|s| s.contains(&0)) {
        return Err(LowerError::invalid("slice step 0"));
    }
    let steps = match &const_steps {
        Some(s) if s.len() != k => return Err(LowerError::invalid(format!("{} steps for {k} starts", s.len()))),
        Some(s) => {
            let v: Vec<i32> = s.iter().map(|x| sat32(*x)).collect();
            ctx.g.constant_i32(&format!("{name}/steps"), [k as u32], &v)
        }
        None => {
            let (t, ks) = int32_vector(ctx, node, 4, "steps")?;
            if ks != k {
                return Err(LowerError::invalid(format!("{ks} steps for {k} starts")));
            }
            t
        }
    };
    // Raise the starts to -size where a step may be negative.
    let starts = if const_steps.as_ref().is_some_and(|s| s.iter().all(|v| *v > 0)) {
        starts
    } else {
        let sizes = axis_sizes(ctx, &name, x, &axes)?;
        let neg = ctx.g.neg(sizes)?;
        ctx.g.maximum(starts, neg)?
    };
    let begin = scatter_vector(ctx, &format!("{name}/begin"), starts, k, &pos, 0)?;
    let end = scatter_vector(ctx, &format!("{name}/end"), ends, k, &pos, 0)?;
    let strides = scatter_vector(ctx, &format!("{name}/strides"), steps, k, &pos, 1)?;
    let unlisted: i32 = (0..r).filter(|d| pos[*d].is_none()).fold(0, |m, d| m | (1 << d));
    let o = StridedSliceOptions::default().with_begin_mask(unlisted).with_end_mask(unlisted);
    let y = ctx.g.apply(Op::StridedSlice(o), &[Some(x), Some(begin), Some(end), Some(strides)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The `Slice` of [`lower_slice_runtime`] with run-time axes too: starts,
/// ends and steps are placed at their axes by a one-hot matrix of the axes
/// (unnamed axes: begin 0, end `i32::MAX`, stride 1). The axis sizes are
/// gathered from SHAPE by the axes, which makes axes out of range fail at
/// run time, as in ONNX.
fn slice_runtime_axes(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, (starts, k): (TensorId, usize), (ends, ke): (TensorId, usize)) -> Result<(), LowerError> {
    let r = ctx.shape(x).rank();
    let name = node.name();
    let (an, hits, ka) = runtime_axes_onehot(ctx, node, 3, r)?;
    let steps = if node.has_input(4) {
        let (t, ks) = int32_vector(ctx, node, 4, "steps")?;
        if ks != k {
            return Err(LowerError::invalid(format!("{ks} steps for {k} starts")));
        }
        t
    } else {
        ctx.g.constant_i32(&format!("{name}/steps"), [k as u32], &vec![1; k])
    };
    if ke != k || ka != k || k > r {
        return Err(LowerError::invalid(format!("{k} starts, {ke} ends and {ka} axes for rank {r}")));
    }
    let shape = ctx.g.shape(x, ShapeOptions { out_type: DType::I32 })?;
    let sizes = ctx.g.gather(shape, an, GatherOptions::new(0))?;
    let neg = ctx.g.neg(sizes)?;
    let starts = ctx.g.maximum(starts, neg)?;
    let begin = place_by_onehot(ctx, &format!("{name}/begin"), hits, starts, k, 0)?;
    let end = place_by_onehot(ctx, &format!("{name}/end"), hits, ends, k, i32::MAX)?;
    let strides = place_by_onehot(ctx, &format!("{name}/strides"), hits, steps, k, 1)?;
    let y = ctx.g.apply(Op::StridedSlice(StridedSliceOptions::default()), &[Some(x), Some(begin), Some(end), Some(strides)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The sizes of `x` along `axes` as an int32 vector: a constant when they
/// are static, else gathered from SHAPE at run time.
fn axis_sizes(ctx: &mut LowerCtx<'_>, name: &str, x: TensorId, axes: &[usize]) -> Result<TensorId, LowerError> {
    let xs = ctx.shape(x).clone();
    let fixed: Option<Vec<i32>> = axes.iter().map(|a| xs.dims()[*a].fixed().and_then(|n| i32::try_from(n).ok())).collect();
    if let Some(v) = fixed {
        return Ok(ctx.g.constant_i32(&format!("{name}/sizes"), [v.len() as u32], &v));
    }
    let shape = ctx.g.shape(x, ShapeOptions { out_type: DType::I32 })?;
    let idx: Vec<i32> = axes.iter().map(|a| *a as i32).collect();
    let it = ctx.g.constant_i32(&format!("{name}/size_axes"), [idx.len() as u32], &idx);
    Ok(ctx.g.gather(shape, it, GatherOptions::new(0))?)
}

/// Lowers `Gather` with constant indices to GATHER (negative indices are
/// resolved against the static axis size).
pub fn lower_gather(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let Some(idx) = ctx.const_input(node, 1) else {
        return lower_gather_runtime(ctx, node);
    };
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axis = norm_axis(node.int_or("axis", 0)?, r)?;
    let v = idx.to_i64().ok_or_else(|| dtype_err("non-integer indices"))?;
    let n = xs.dims()[axis].fixed().map(i64::from);
    let mut fixed = Vec::with_capacity(v.len());
    for i in v {
        let j = match (i < 0, n) {
            (true, Some(n)) => i + n,
            // The axis size is read at run time.
            (true, None) => return lower_gather_runtime(ctx, node),
            (false, _) => i,
        };
        if j < 0 || n.is_some_and(|n| j >= n) {
            return Err(LowerError::invalid(format!("index {i} out of range for axis size {n:?}")));
        }
        fixed.push(i32::try_from(j).map_err(|_| LowerError::invalid("index overflows int32"))?);
    }
    if fixed.is_empty() {
        return Err(shape_err("Gather with no indices"));
    }
    let shape = Shape::new(idx.dims.iter().map(|d| *d as u32));
    let it = ctx.g.constant(&format!("{}/indices", node.name()), DType::I32, shape, ConstData::from_slice(&fixed));
    let y = ctx.g.gather(x, it, GatherOptions::new(axis as i32))?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Gather` with run-time indices to GATHER. ONNX allows negative
/// indices and TFLite does not, so each negative index gets the axis size
/// (a constant, or read at run time) added (LESS, ADD, SELECT_V2); indices still out of range
/// make the runtime fail, as they make ONNX fail, instead of wrapping.
fn lower_gather_runtime(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let idx = ctx.input(node, 1)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axis = norm_axis(node.int_or("axis", 0)?, r)?;
    let it = ctx.dtype(idx);
    if !matches!(it, DType::I32 | DType::I64) {
        return Err(dtype_err(format!("Gather indices of type {it}")));
    }
    let name = node.name();
    // The axis size: a constant, or read at run time when dynamic.
    let size = match xs.dims()[axis].fixed() {
        Some(n) => ctx.g.constant(&format!("{name}/axis_size"), it, Shape::scalar(), int_data(it, i64::from(n))),
        None => {
            let d = ctx.symbolic_shape(x)[axis].clone();
            let s = ctx.shape_tensor(&format!("{name}/axis_size"), &[d], true)?;
            if it == DType::I32 { s } else { ctx.g.cast(s, it)? }
        }
    };
    let zero = ctx.g.constant(&format!("{name}/zero"), it, Shape::scalar(), int_data(it, 0));
    let negative = ctx.g.apply(Op::Less, &[Some(idx), Some(zero)])?;
    let wrapped = ctx.g.add(idx, size)?;
    let fixed = ctx.g.apply(Op::SelectV2, &[Some(negative), Some(wrapped), Some(idx)])?;
    let y = ctx.g.gather(x, fixed, GatherOptions::new(axis as i32))?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// One integer of type `dtype` (int32 or int64) as constant data.
fn int_data(dtype: DType, v: i64) -> ConstData {
    match dtype {
        DType::I32 => ConstData::from_slice(&[v as i32]),
        _ => ConstData::from_slice(&[v]),
    }
}
