//! Inference for the ops that rearrange, select or resample values: RESHAPE,
//! TRANSPOSE, SQUEEZE, CONCATENATION, PAD, PADV2, MIRROR_PAD, SPLIT_V,
//! SLICE, STRIDED_SLICE, GATHER, BROADCAST_TO, RESIZE_BILINEAR,
//! RESIZE_NEAREST_NEIGHBOR and CAST.

use super::{
    broadcast, check_type, const_ints, count, dim, dims_agree, need, norm_axis, out, positive_dim, rank, reshape_target, same_type_check,
    strided_range, Inferred, R,
};
use crate::model::{Activation, ConcatenationOptions, DType, Dim, GatherOptions, MirrorPadMode, Op, ResizeOptions, Shape, StridedSliceOptions, Tensor};

/// Types a CAST reads and writes.
const CAST_TYPES: &[DType] = &[
    DType::F32, DType::F16, DType::F64, DType::I8, DType::U8, DType::I16, DType::U16, DType::I32, DType::U32, DType::I64, DType::Bool,
];

/// Types that layout and selection ops (slices, gather, squeeze, split) move.
const VALUE_TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool];

/// Infers a layout op; `None` for the ops of other families.
pub(super) fn infer(op: &Op, inputs: &[Option<&Tensor>]) -> Option<Result<Option<Vec<Inferred>>, String>> {
    let r = match op {
        Op::Reshape { new_shape } => return Some(reshape(inputs, new_shape.as_deref())),
        Op::Transpose => return Some(transpose(inputs)),
        Op::Squeeze { squeeze_dims } => return Some(squeeze(inputs, squeeze_dims)),
        Op::Concatenation(o) => concatenation(inputs, o),
        Op::Pad => pad(inputs),
        Op::PadV2 => pad_v2(inputs),
        Op::MirrorPad { mode } => mirror_pad(inputs, *mode),
        Op::SplitV { num_splits } => split_v(inputs, *num_splits),
        Op::Slice => slice(inputs),
        Op::StridedSlice(o) => return Some(strided_slice(inputs, o)),
        Op::Gather(o) => gather(inputs, o),
        Op::BroadcastTo => return Some(broadcast_to(inputs)),
        Op::ResizeBilinear(o) | Op::ResizeNearestNeighbor(o) => resize(inputs, o),
        Op::Cast(_) => cast(inputs),
        _ => return None,
    };
    Some(r.map(Some))
}

fn reshape(inputs: &[Option<&Tensor>], new_shape: Option<&[i32]>) -> Result<Option<Vec<Inferred>>, String> {
    count(inputs, 1, 2)?;
    let x = need(inputs, 0, "input")?;
    let target: Option<Vec<i64>> = match inputs.get(1).copied().flatten() {
        Some(s) => {
            check_type(s.dtype, &[DType::I32, DType::I64], "shape")?;
            const_ints(s)
        }
        None => new_shape.map(|v| v.iter().map(|x| i64::from(*x)).collect()),
    };
    match target {
        Some(t) => Ok(Some(out(x.dtype, reshape_target(&x.shape, &t)?))),
        // A shape computed at run time: its length is the rank.
        None => match inputs.get(1).copied().flatten().filter(|s| s.shape.rank() == 1).and_then(|s| s.shape.dims()[0].fixed()) {
            Some(r) => Ok(Some(out(x.dtype, Shape::from_dims(vec![Dim::Dynamic; r as usize])))),
            None => Ok(None),
        },
    }
}

fn transpose(inputs: &[Option<&Tensor>]) -> Result<Option<Vec<Inferred>>, String> {
    count(inputs, 2, 2)?;
    let x = need(inputs, 0, "input")?;
    let p = need(inputs, 1, "perm")?;
    check_type(p.dtype, &[DType::I32, DType::I64], "perm")?;
    match const_ints(p) {
        Some(perm) => {
            let r = x.shape.rank();
            let mut seen = vec![false; r];
            let mut dims = Vec::with_capacity(r);
            if perm.len() != r {
                return Err(format!("perm has {} entries for rank {r}", perm.len()));
            }
            for a in perm {
                let i = usize::try_from(a).ok().filter(|i| *i < r && !seen[*i]).ok_or_else(|| format!("perm entry {a} invalid for rank {r}"))?;
                seen[i] = true;
                dims.push(x.shape.dims()[i]);
            }
            Ok(Some(out(x.dtype, Shape::from_dims(dims))))
        }
        None => Ok(None),
    }
}

fn squeeze(inputs: &[Option<&Tensor>], squeeze_dims: &[i32]) -> Result<Option<Vec<Inferred>>, String> {
    count(inputs, 1, 1)?;
    let x = need(inputs, 0, "input")?;
    check_type(x.dtype, VALUE_TYPES, "input")?;
    let r = x.shape.rank();
    let mut remove = vec![false; r];
    if squeeze_dims.is_empty() {
        if x.shape.is_dynamic() {
            return Ok(None);
        }
        for (i, d) in x.shape.dims().iter().enumerate() {
            remove[i] = *d == Dim::Fixed(1);
        }
    } else {
        for &a in squeeze_dims {
            let i = norm_axis(i64::from(a), r)?;
            if !dims_agree(x.shape.dims()[i], Dim::Fixed(1)) {
                return Err(format!("cannot squeeze dimension {a} of shape {}", x.shape));
            }
            remove[i] = true;
        }
    }
    let dims = x.shape.dims().iter().zip(&remove).filter(|(_, r)| !**r).map(|(d, _)| *d).collect();
    Ok(Some(out(x.dtype, Shape::from_dims(dims))))
}

fn concatenation(inputs: &[Option<&Tensor>], o: &ConcatenationOptions) -> R {
    if inputs.is_empty() {
        return Err("expects at least 1 input".into());
    }
    if o.activation != Activation::None {
        return Err("the runtime's CONCATENATION kernel takes no fused activation".into());
    }
    let ts: Vec<&Tensor> = (0..inputs.len()).map(|i| need(inputs, i, "value")).collect::<Result<_, _>>()?;
    let d = same_type_check(&ts, "CONCATENATION")?;
    let r = ts[0].shape.rank();
    let axis = if o.axis < 0 { o.axis + r as i32 } else { o.axis };
    let axis = usize::try_from(axis).ok().filter(|a| *a < r).ok_or_else(|| format!("axis {} out of range for rank {r}", o.axis))?;
    let mut dims = ts[0].shape.dims().to_vec();
    for t in &ts[1..] {
        if t.shape.rank() != r {
            return Err(format!("inputs have ranks {r} and {}", t.shape.rank()));
        }
        for (i, (a, b)) in dims.iter_mut().zip(t.shape.dims()).enumerate() {
            if i == axis {
                *a = match (*a, *b) {
                    (Dim::Fixed(x), Dim::Fixed(y)) => Dim::Fixed(x.checked_add(y).ok_or("axis size overflows")?),
                    _ => Dim::Dynamic,
                };
            } else if !dims_agree(*a, *b) {
                return Err(format!("input shapes {} and {} differ outside axis {axis}", ts[0].shape, t.shape));
            } else if *a == Dim::Dynamic {
                *a = *b;
            }
        }
    }
    Ok(out(d, Shape::from_dims(dims)))
}

fn pad(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 2, 2)?;
    let x = need(inputs, 0, "input")?;
    pad_shape(x, need(inputs, 1, "paddings")?, None)
}

fn pad_v2(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 3, 3)?;
    let x = need(inputs, 0, "input")?;
    let c = need(inputs, 2, "constant_values")?;
    check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64], "input")?;
    if c.dtype != x.dtype || c.shape.num_elements().is_some_and(|n| n != 1) {
        return Err(format!("constant_values must be one {} value, is {} {}", x.dtype, c.dtype, c.shape));
    }
    pad_shape(x, need(inputs, 1, "paddings")?, None)
}

fn mirror_pad(inputs: &[Option<&Tensor>], mode: MirrorPadMode) -> R {
    count(inputs, 2, 2)?;
    let x = need(inputs, 0, "input")?;
    check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64], "input")?;
    pad_shape(x, need(inputs, 1, "paddings")?, Some(mode))
}

/// PAD, PADV2 and MIRROR_PAD: the padded shape (with the mirror limits).
fn pad_shape(x: &Tensor, p: &Tensor, mirror: Option<MirrorPadMode>) -> R {
    check_type(p.dtype, &[DType::I32, DType::I64], "paddings")?;
    let r = x.shape.rank();
    if p.shape.rank() != 2 || !dims_agree(dim(p, 0), Dim::Fixed(r as u32)) || !dims_agree(dim(p, 1), Dim::Fixed(2)) {
        return Err(format!("paddings must be [{r}, 2], is {}", p.shape));
    }
    let Some(pads) = const_ints(p) else {
        return Ok(out(x.dtype, Shape::from_dims(vec![Dim::Dynamic; r])));
    };
    if pads.len() != 2 * r {
        return Err(format!("paddings hold {} values for rank {r}", pads.len()));
    }
    let mut dims = Vec::with_capacity(r);
    for (i, d) in x.shape.dims().iter().enumerate() {
        let (a, b) = (pads[2 * i], pads[2 * i + 1]);
        if a < 0 || b < 0 {
            return Err(format!("negative padding {a}, {b} on axis {i}"));
        }
        if let (Some(mode), Dim::Fixed(n)) = (mirror, d) {
            let limit = match mode {
                MirrorPadMode::Reflect => i64::from(*n) - 1,
                MirrorPadMode::Symmetric => i64::from(*n),
            };
            if a > limit || b > limit {
                return Err(format!("{mode:?} padding {a}, {b} on axis {i} exceeds {limit} for size {n}"));
            }
        }
        dims.push(match d {
            Dim::Fixed(n) => Dim::Fixed(u32::try_from(i64::from(*n) + a + b).map_err(|_| "padded dimension overflows")?),
            Dim::Dynamic => Dim::Dynamic,
        });
    }
    Ok(out(x.dtype, Shape::from_dims(dims)))
}

/// SPLIT_V: `[input, size_splits, axis]`, `num_splits` outputs.
fn split_v(inputs: &[Option<&Tensor>], num_splits: i32) -> R {
    count(inputs, 3, 3)?;
    let x = need(inputs, 0, "input")?;
    let sizes = need(inputs, 1, "size_splits")?;
    let axis = need(inputs, 2, "axis")?;
    check_type(x.dtype, VALUE_TYPES, "input")?;
    check_type(sizes.dtype, &[DType::I32, DType::I64], "size_splits")?;
    check_type(axis.dtype, &[DType::I32], "axis")?;
    let n = usize::try_from(num_splits).ok().filter(|n| *n > 0).ok_or_else(|| format!("num_splits must be positive, is {num_splits}"))?;
    if sizes.shape.rank() != 1 || !dims_agree(dim(sizes, 0), Dim::Fixed(n as u32)) {
        return Err(format!("size_splits must have shape [{n}], has {}", sizes.shape));
    }
    if axis.shape.num_elements().is_some_and(|k| k != 1) {
        return Err(format!("axis must hold one value, has shape {}", axis.shape));
    }
    let r = x.shape.rank();
    let Some(a) = const_ints(axis).and_then(|v| v.first().copied()) else {
        return Ok((0..n).map(|_| Inferred { dtype: Some(x.dtype), shape: Shape::from_dims(vec![Dim::Dynamic; r]) }).collect());
    };
    let a = norm_axis(a, r)?;
    let along: Vec<Dim> = match const_ints(sizes) {
        Some(v) => {
            if v.len() != n {
                return Err(format!("size_splits has {} values for {n} splits", v.len()));
            }
            let unknown = v.iter().filter(|s| **s == -1).count();
            if unknown > 1 || v.iter().any(|s| *s < -1) {
                return Err(format!("size_splits {v:?}: sizes must be ≥ 0 with at most one -1"));
            }
            let known: i64 = v.iter().filter(|s| **s >= 0).sum();
            let total = x.shape.dims()[a].fixed().map(i64::from);
            if let Some(t) = total
                && ((unknown == 0 && known != t) || known > t) {
                    return Err(format!("size_splits {v:?} do not add up to {t}"));
                }
            v.iter()
                .map(|s| match (*s, total) {
                    (-1, Some(t)) => Ok(Dim::Fixed(u32::try_from(t - known).map_err(|_| "split size overflows")?)),
                    (-1, None) => Ok(Dim::Dynamic),
                    (s, _) => Ok(Dim::Fixed(u32::try_from(s).map_err(|_| "split size overflows")?)),
                })
                .collect::<Result<_, String>>()?
        }
        None => vec![Dim::Dynamic; n],
    };
    Ok(along
        .into_iter()
        .map(|d| {
            let mut dims = x.shape.dims().to_vec();
            dims[a] = d;
            Inferred { dtype: Some(x.dtype), shape: Shape::from_dims(dims) }
        })
        .collect())
}

fn slice(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 3, 3)?;
    let x = need(inputs, 0, "input")?;
    let b = need(inputs, 1, "begin")?;
    let s = need(inputs, 2, "size")?;
    check_type(x.dtype, VALUE_TYPES, "input")?;
    let r = x.shape.rank();
    if r > 5 {
        return Err(format!("the runtime slices at most 5 dimensions, input has shape {}", x.shape));
    }
    for (t, what) in [(b, "begin"), (s, "size")] {
        check_type(t.dtype, &[DType::I32, DType::I64], what)?;
        if t.shape.rank() != 1 || !dims_agree(dim(t, 0), Dim::Fixed(r as u32)) {
            return Err(format!("{what} must have shape [{r}], has {}", t.shape));
        }
    }
    let (Some(begin), Some(size)) = (const_ints(b), const_ints(s)) else {
        return Ok(out(x.dtype, Shape::from_dims(vec![Dim::Dynamic; r])));
    };
    if begin.len() != r || size.len() != r {
        return Err(format!("begin and size must have {r} values"));
    }
    let mut dims = Vec::with_capacity(r);
    for (i, d) in x.shape.dims().iter().enumerate() {
        let (bg, sz) = (begin[i], size[i]);
        if bg < 0 || sz < -1 {
            return Err(format!("begin {bg} / size {sz} invalid on axis {i}"));
        }
        dims.push(match (d.fixed().map(i64::from), sz) {
            (Some(n), -1) if bg <= n => Dim::Fixed((n - bg) as u32),
            (None, -1) => Dim::Dynamic,
            (Some(n), sz) if sz >= 0 && bg + sz <= n => Dim::Fixed(sz as u32),
            (None, sz) if sz >= 0 => Dim::Fixed(u32::try_from(sz).map_err(|_| "slice size overflows")?),
            (Some(n), _) => return Err(format!("slice [{bg}, +{sz}) exceeds size {n} on axis {i}")),
            (None, _) => return Err(format!("invalid slice size {sz}")),
        });
    }
    Ok(out(x.dtype, Shape::from_dims(dims)))
}

/// The output shape of a STRIDED_SLICE whose bounds are known only at run
/// time (no ellipsis or new axes): dimensions past the static length of
/// `begin` are kept, shrunk ones dropped, a dimension with both mask bits
/// and a constant stride of 1 kept whole, and the others dynamic. `None`
/// when `begin` has a dynamic length and some dimension shrinks.
fn runtime_strided_slice(x: &Tensor, begin: &Tensor, strides: Option<&[i64]>, o: &StridedSliceOptions) -> Option<Shape> {
    let r = x.shape.rank();
    let n = match dim(begin, 0) {
        Dim::Fixed(n) => n as usize,
        Dim::Dynamic if o.shrink_axis_mask == 0 => r,
        Dim::Dynamic => return None,
    };
    let bit = |m: i32, i: usize| (m >> i) & 1 != 0;
    let mut dims = Vec::with_capacity(r);
    for (i, d) in x.shape.dims().iter().enumerate() {
        if i >= n {
            dims.push(*d);
        } else if bit(o.shrink_axis_mask, i) {
            continue;
        } else if bit(o.begin_mask, i) && bit(o.end_mask, i) && strides.and_then(|s| s.get(i)) == Some(&1) {
            dims.push(*d);
        } else {
            dims.push(Dim::Dynamic);
        }
    }
    Some(Shape::from_dims(dims))
}

fn strided_slice(inputs: &[Option<&Tensor>], o: &StridedSliceOptions) -> Result<Option<Vec<Inferred>>, String> {
    count(inputs, 4, 4)?;
    let x = need(inputs, 0, "input")?;
    check_type(x.dtype, VALUE_TYPES, "input")?;
    let r = x.shape.rank();
    if r > 5 {
        return Err(format!("the runtime slices at most 5 dimensions, input has shape {}", x.shape));
    }
    let mut vals = Vec::with_capacity(3);
    for (i, what) in [(1, "begin"), (2, "end"), (3, "strides")] {
        let t = need(inputs, i, what)?;
        check_type(t.dtype, &[DType::I32, DType::I64], what)?;
        if t.shape.rank() != 1 {
            return Err(format!("{what} must be 1-D, has shape {}", t.shape));
        }
        if let Dim::Fixed(n) = dim(t, 0)
            && n as usize > r {
                return Err(format!("{what} has {n} entries for rank {r}"));
            }
        vals.push(const_ints(t));
    }
    if o.ellipsis_mask != 0 || o.new_axis_mask != 0 {
        // Valid, but not inferred here.
        return Ok(None);
    }
    let (Some(begin), Some(end), Some(strides)) = (vals[0].clone(), vals[1].clone(), vals[2].clone()) else {
        return Ok(runtime_strided_slice(x, need(inputs, 1, "begin")?, vals[2].as_deref(), o).map(|s| out(x.dtype, s)));
    };
    let n = begin.len();
    if end.len() != n || strides.len() != n {
        return Err(format!("begin, end and strides have {}, {} and {} entries", n, end.len(), strides.len()));
    }
    let mut dims = Vec::with_capacity(r);
    for (i, d) in x.shape.dims().iter().enumerate() {
        if i >= n {
            dims.push(*d);
            continue;
        }
        if strides[i] == 0 {
            return Err(format!("stride {i} is zero"));
        }
        let bit = |m: i32| (m >> i) & 1 != 0;
        let shrink = bit(o.shrink_axis_mask);
        match d {
            Dim::Fixed(size) => {
                let (_, c) = strided_range(i64::from(*size), begin[i], end[i], strides[i], (bit(o.begin_mask), bit(o.end_mask), shrink), o.offset);
                if shrink {
                    if c != 1 {
                        return Err(format!("shrunk dimension {i} has index {} out of range for size {size}", begin[i]));
                    }
                    continue;
                }
                dims.push(Dim::Fixed(u32::try_from(c).map_err(|_| "slice size overflows")?));
            }
            Dim::Dynamic if shrink => {}
            Dim::Dynamic => dims.push(Dim::Dynamic),
        }
    }
    Ok(Some(out(x.dtype, Shape::from_dims(dims))))
}

fn gather(inputs: &[Option<&Tensor>], o: &GatherOptions) -> R {
    count(inputs, 2, 2)?;
    let p = need(inputs, 0, "params")?;
    let idx = need(inputs, 1, "indices")?;
    check_type(p.dtype, VALUE_TYPES, "params")?;
    check_type(idx.dtype, &[DType::I32, DType::I64, DType::I16], "indices")?;
    let (pr, ir) = (p.shape.rank(), idx.shape.rank());
    let axis = norm_axis(i64::from(o.axis), pr)?;
    let bd = if o.batch_dims < 0 { i64::from(o.batch_dims) + ir as i64 } else { i64::from(o.batch_dims) };
    let bd = usize::try_from(bd).ok().filter(|b| *b <= ir && *b <= axis).ok_or_else(|| format!("batch_dims {} invalid for axis {axis} and indices rank {ir}", o.batch_dims))?;
    for i in 0..bd {
        if !dims_agree(dim(p, i), dim(idx, i)) {
            return Err(format!("batch dimension {i} of params {} and indices {} differ", p.shape, idx.shape));
        }
    }
    if let (Some(v), Dim::Fixed(n)) = (const_ints(idx), dim(p, axis))
        && let Some(bad) = v.iter().find(|i| **i < 0 || **i >= i64::from(n)) {
            return Err(format!("index {bad} out of range for axis size {n}"));
        }
    let mut dims = p.shape.dims()[..axis].to_vec();
    dims.extend_from_slice(&idx.shape.dims()[bd..]);
    dims.extend_from_slice(&p.shape.dims()[axis + 1..]);
    Ok(out(p.dtype, Shape::from_dims(dims)))
}

fn broadcast_to(inputs: &[Option<&Tensor>]) -> Result<Option<Vec<Inferred>>, String> {
    count(inputs, 2, 2)?;
    let x = need(inputs, 0, "input")?;
    let s = need(inputs, 1, "shape")?;
    check_type(x.dtype, VALUE_TYPES, "input")?;
    check_type(s.dtype, &[DType::I32, DType::I64], "shape")?;
    if s.shape.rank() != 1 {
        return Err(format!("shape must be 1-D, is {}", s.shape));
    }
    match const_ints(s) {
        Some(v) => {
            let dims: Vec<Dim> = v
                .iter()
                .map(|d| u32::try_from(*d).map(Dim::Fixed).map_err(|_| format!("shape entry {d} is invalid")))
                .collect::<Result<_, _>>()?;
            let target = Shape::from_dims(dims);
            if x.shape.rank() > target.rank() || broadcast(&x.shape, &target)? != target {
                return Err(format!("input of shape {} does not broadcast to {target}", x.shape));
            }
            if target.rank() > 8 {
                return Err(format!("the runtime's BROADCAST_TO handles at most 8 dimensions, shape is {target}"));
            }
            Ok(Some(out(x.dtype, target)))
        }
        None => match s.shape.dim(0).and_then(|d| d.fixed()) {
            Some(n) => Ok(Some(out(x.dtype, Shape::from_dims(vec![Dim::Dynamic; n as usize])))),
            None => Ok(None),
        },
    }
}

/// RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR.
fn resize(inputs: &[Option<&Tensor>], o: &ResizeOptions) -> R {
    count(inputs, 2, 2)?;
    let x = need(inputs, 0, "input")?;
    let size = need(inputs, 1, "size")?;
    rank(x, 4, "input")?;
    check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16], "input")?;
    check_type(size.dtype, &[DType::I32], "size")?;
    if size.shape.rank() != 1 || !dims_agree(dim(size, 0), Dim::Fixed(2)) {
        return Err(format!("size must have shape [2], has {}", size.shape));
    }
    if o.align_corners && o.half_pixel_centers {
        return Err("align_corners and half_pixel_centers cannot both be set".into());
    }
    let (h, w) = match const_ints(size) {
        Some(v) if v.len() == 2 => (positive_dim(v[0], "height")?, positive_dim(v[1], "width")?),
        Some(v) => return Err(format!("size has {} values, expected 2", v.len())),
        None => (Dim::Dynamic, Dim::Dynamic),
    };
    Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), h, w, dim(x, 3)])))
}

fn cast(inputs: &[Option<&Tensor>]) -> R {
    // The runtime converts between the tensors' own types; the
    // options only record them (and files may leave them default).
    count(inputs, 1, 1)?;
    let x = need(inputs, 0, "input")?;
    check_type(x.dtype, CAST_TYPES, "input")?;
    Ok(vec![Inferred { dtype: None, shape: x.shape.clone() }])
}
