//! Ops that move elements: `CAST`, `SPLIT_V`, `STRIDED_SLICE`, `SLICE`,
//! `GATHER`, `SQUEEZE`, `PADV2` and `MIRROR_PAD`.
//!
//! Except for `CAST`, they copy stored numbers (quantized values stay as
//! their integers, as in the runtime), so input and output share a type.

use super::{strides, Cx, Result};
use crate::eval::{convert, Value};
use crate::infer::strided_range;
use crate::model::{DType, GatherOptions, MirrorPadMode, StridedSliceOptions};

/// `CAST`: converts the stored numbers to the output type, like C++'s
/// `static_cast`: floats to integers truncate (saturating where C++ leaves
/// the result undefined), integers to narrower integers wrap, anything to
/// bool tests for non-zero. Quantization parameters are not applied.
pub(super) fn cast(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let out = cx.output()?;
    let from_float = x.dtype.is_float();
    let mut data = x.data.clone();
    match out.dtype {
        DType::F32 | DType::F16 | DType::F64 => {}
        DType::Bool => data.iter_mut().for_each(|v| *v = f64::from(u8::from(*v != 0.0))),
        d => {
            let (lo, hi) = convert::int_range(d).ok_or_else(|| cx.unsupported(format!("output type {d}")))?;
            let bits = d.bits().unwrap_or(64);
            for v in data.iter_mut() {
                *v = if from_float {
                    if v.is_nan() { 0.0 } else { v.trunc().clamp(lo, hi) }
                } else if bits < 64 {
                    // Two's complement wrap to `bits`.
                    let m = 1i128 << bits;
                    let mut w = (*v as i128).rem_euclid(m);
                    if lo < 0.0 && w >= m / 2 {
                        w -= m;
                    }
                    w as f64
                } else {
                    v.clamp(lo, hi)
                };
            }
        }
    }
    if out.dtype.is_float() {
        return cx.finish_raw(x.shape.clone(), data);
    }
    Ok(vec![Value { dtype: out.dtype, shape: x.shape.clone(), data, quantization: out.quantization.clone() }])
}

/// `SPLIT_V`: pieces of the sizes in the second input (one may be -1)
/// along the axis in the third.
pub(super) fn split_v(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let x = cx.input(0, "input")?;
    let sizes = cx.ints(cx.input(1, "size_splits")?, "size_splits")?;
    let axis = cx.ints(cx.input(2, "axis")?, "axis")?;
    let [axis] = axis.as_slice() else {
        return Err(cx.shape_err(format!("axis must hold one value, holds {}", axis.len())));
    };
    cx.same_type(x)?;
    let a = cx.axis(*axis, x.rank())?;
    let total = x.shape.get(a).copied().ok_or_else(|| cx.internal())?;
    if sizes.len() != cx.outputs.len() {
        return Err(cx.shape_err(format!("{} sizes for {} outputs", sizes.len(), cx.outputs.len())));
    }
    let unknown = sizes.iter().filter(|s| **s == -1).count();
    let known: i64 = sizes.iter().filter(|s| **s >= 0).sum();
    let bad = || cx.shape_err(format!("size_splits {sizes:?} do not split {total}"));
    if unknown > 1 || sizes.iter().any(|s| *s < -1) || known > total as i64 || (unknown == 0 && known != total as i64) {
        return Err(bad());
    }
    let sizes: Vec<usize> = sizes.iter().map(|s| if *s == -1 { total - known as usize } else { *s as usize }).collect();
    let outer: usize = x.shape[..a].iter().product();
    let inner: usize = x.shape[a + 1..].iter().product();
    let mut results = Vec::with_capacity(sizes.len());
    let mut start = 0usize;
    for (size, out) in sizes.iter().zip(cx.outputs) {
        let mut shape = x.shape.clone();
        shape[a] = *size;
        let n = cx.numel(&shape)?;
        let mut data = Vec::with_capacity(n);
        for o in 0..outer {
            let from = (o * total + start) * inner;
            data.extend_from_slice(cx.slice(&x.data, from, size * inner)?);
        }
        start += size;
        results.push(cx.encode_raw(out, shape, data)?);
    }
    Ok(results)
}

/// Copies the elements of `x` at `start[d] + i * step[d]` for every index
/// `i` of `shape` (steps may be negative).
fn gather_strided(cx: &Cx<'_>, x: &Value, shape: &[usize], start: &[i64], step: &[i64]) -> Result<Vec<f64>> {
    let n = cx.numel(shape)?;
    let in_strides = strides(&x.shape);
    let base: i64 = start.iter().zip(&in_strides).map(|(s, st)| s * *st as i64).sum();
    let mut out = Vec::with_capacity(n);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..n {
        let off: i64 = base + index.iter().zip(step).zip(&in_strides).map(|((i, s), st)| *i as i64 * s * *st as i64).sum::<i64>();
        let v = usize::try_from(off).ok().and_then(|o| x.data.get(o)).ok_or_else(|| cx.internal())?;
        out.push(*v);
        for (i, d) in index.iter_mut().zip(shape).rev() {
            *i += 1;
            if *i < *d {
                break;
            }
            *i = 0;
        }
    }
    Ok(out)
}

/// `STRIDED_SLICE` with begin, end and strides inputs and the masks
/// (ellipsis and new-axis masks are not supported here).
pub(super) fn strided_slice(cx: &Cx<'_>, o: &StridedSliceOptions) -> Result<Vec<Value>> {
    cx.arity(4, 4)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    if o.ellipsis_mask != 0 || o.new_axis_mask != 0 {
        return Err(cx.unsupported("ellipsis and new-axis masks"));
    }
    let begin = cx.ints(cx.input(1, "begin")?, "begin")?;
    let end = cx.ints(cx.input(2, "end")?, "end")?;
    let stride = cx.ints(cx.input(3, "strides")?, "strides")?;
    let r = x.rank();
    let n = begin.len();
    if end.len() != n || stride.len() != n || n > r {
        return Err(cx.shape_err(format!("begin, end and strides have {n}, {} and {} entries for rank {r}", end.len(), stride.len())));
    }
    let (mut start, mut step, mut shape, mut kept) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, &size) in x.shape.iter().enumerate() {
        if i >= n {
            start.push(0);
            step.push(1);
            shape.push(size);
            kept.push(size);
            continue;
        }
        if stride[i] == 0 {
            return Err(cx.shape_err(format!("stride {i} is zero")));
        }
        let bit = |m: i32| (m >> i) & 1 != 0;
        let shrink = bit(o.shrink_axis_mask);
        let (s, c) = strided_range(size as i64, begin[i], end[i], stride[i], (bit(o.begin_mask), bit(o.end_mask), shrink), o.offset);
        if shrink && c != 1 {
            return Err(cx.shape_err(format!("index {} is out of range for size {size} on shrunk axis {i}", begin[i])));
        }
        let c = usize::try_from(c).map_err(|_| cx.internal())?;
        start.push(if c == 0 { 0 } else { s });
        step.push(if shrink { 1 } else { stride[i] });
        shape.push(c);
        if !shrink {
            kept.push(c);
        }
    }
    let data = gather_strided(cx, x, &shape, &start, &step)?;
    cx.finish_raw(kept, data)
}

/// `SLICE` with begin and size inputs (a size of -1 takes the rest).
pub(super) fn slice(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let begin = cx.ints(cx.input(1, "begin")?, "begin")?;
    let size = cx.ints(cx.input(2, "size")?, "size")?;
    let r = x.rank();
    if begin.len() != r || size.len() != r {
        return Err(cx.shape_err(format!("begin and size need {r} entries, have {} and {}", begin.len(), size.len())));
    }
    let mut shape = Vec::with_capacity(r);
    for (i, &d) in x.shape.iter().enumerate() {
        let (b, s) = (begin[i], size[i]);
        let d = d as i64;
        let s = if s == -1 { d - b } else { s };
        if b < 0 || s < 0 || b + s > d {
            return Err(cx.shape_err(format!("slice [{b}, +{}) is out of range for size {d} on axis {i}", size[i])));
        }
        shape.push(s as usize);
    }
    let data = gather_strided(cx, x, &shape, &begin, &vec![1; r])?;
    cx.finish_raw(shape, data)
}

/// `GATHER` along `axis` with `batch_dims` leading dimensions shared by
/// params and indices. Indices out of range are an error, as in the runtime.
pub(super) fn gather(cx: &Cx<'_>, o: &GatherOptions) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let p = cx.input(0, "params")?;
    let idx_v = cx.input(1, "indices")?;
    cx.same_type(p)?;
    let idx = cx.ints(idx_v, "indices")?;
    let axis = cx.axis(i64::from(o.axis), p.rank())?;
    let ir = idx_v.rank() as i64;
    let bd = i64::from(o.batch_dims);
    let bd = usize::try_from(if bd < 0 { bd + ir } else { bd })
        .ok()
        .filter(|b| *b <= idx_v.rank() && *b <= axis)
        .ok_or_else(|| cx.shape_err(format!("batch_dims {} is invalid for axis {axis}", o.batch_dims)))?;
    if p.shape[..bd] != idx_v.shape[..bd] {
        return Err(cx.shape_err(format!("batch dimensions of params {:?} and indices {:?} differ", p.shape, idx_v.shape)));
    }
    let batch: usize = p.shape[..bd].iter().product();
    let outer: usize = p.shape[bd..axis].iter().product();
    let n_axis = p.shape[axis];
    let inner: usize = p.shape[axis + 1..].iter().product();
    let per_batch: usize = idx_v.shape[bd..].iter().product();
    let mut shape = p.shape[..axis].to_vec();
    shape.extend_from_slice(&idx_v.shape[bd..]);
    shape.extend_from_slice(&p.shape[axis + 1..]);
    let total = cx.numel(&shape)?;
    let mut out = Vec::with_capacity(total);
    for b in 0..batch {
        for o in 0..outer {
            for k in 0..per_batch {
                let i = idx.get(b * per_batch + k).copied().ok_or_else(|| cx.internal())?;
                let j = usize::try_from(i)
                    .ok()
                    .filter(|j| *j < n_axis)
                    .ok_or_else(|| cx.shape_err(format!("index {i} is out of range for axis size {n_axis}")))?;
                let from = ((b * outer + o) * n_axis + j) * inner;
                out.extend_from_slice(cx.slice(&p.data, from, inner)?);
            }
        }
    }
    cx.finish_raw(shape, out)
}

/// `SQUEEZE`: removes `dims` (all size-1 dimensions when empty).
pub(super) fn squeeze(cx: &Cx<'_>, dims: &[i32]) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let r = x.rank();
    let mut remove = vec![false; r];
    if dims.is_empty() {
        for (rm, d) in remove.iter_mut().zip(&x.shape) {
            *rm = *d == 1;
        }
    } else {
        for &d in dims {
            let i = cx.axis(i64::from(d), r)?;
            if x.shape.get(i) != Some(&1) {
                return Err(cx.shape_err(format!("cannot squeeze dimension {d} of shape {:?}", x.shape)));
            }
            remove[i] = true;
        }
    }
    let shape = x.shape.iter().zip(&remove).filter(|(_, r)| !**r).map(|(d, _)| *d).collect();
    cx.finish_raw(shape, x.data.clone())
}

/// The `(before, after)` amounts of a `[rank, 2]` paddings operand.
fn paddings(cx: &Cx<'_>, x: &Value, p: &Value) -> Result<Vec<(usize, usize)>> {
    let rank = x.rank();
    if p.shape != [rank, 2] {
        return Err(cx.shape_err(format!("paddings must have shape [{rank}, 2], have {:?}", p.shape)));
    }
    let amounts = cx.ints(p, "paddings")?;
    amounts
        .as_chunks::<2>()
        .0
        .iter()
        .map(|[a, b]| match (usize::try_from(*a), usize::try_from(*b)) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            _ => Err(cx.shape_err(format!("paddings must be non-negative, are {amounts:?}"))),
        })
        .collect()
}

/// Pads by mapping every output index to an input index per dimension
/// (`None`: the pad value).
fn pad_with(cx: &Cx<'_>, x: &Value, pads: &[(usize, usize)], value: f64, map: impl Fn(usize, usize, usize) -> Option<usize>) -> Result<Vec<Value>> {
    let mut shape = Vec::with_capacity(pads.len());
    for (d, (a, b)) in x.shape.iter().zip(pads) {
        shape.push(d.checked_add(*a).and_then(|s| s.checked_add(*b)).ok_or_else(|| cx.shape_err("padded size overflows"))?);
    }
    let total = cx.numel(&shape)?;
    let in_strides = strides(&x.shape);
    // Per dimension, the source offset of each output index.
    let maps: Vec<Vec<Option<usize>>> = shape
        .iter()
        .enumerate()
        .map(|(d, &n)| (0..n).map(|i| map(d, i, pads[d].0).map(|j| j * in_strides[d])).collect())
        .collect();
    let mut out = Vec::with_capacity(total);
    if total > 0 {
        let mut index = vec![0usize; shape.len()];
        for _ in 0..total {
            let mut off = Some(0usize);
            for (d, i) in index.iter().enumerate() {
                off = match (off, maps[d][*i]) {
                    (Some(o), Some(s)) => Some(o + s),
                    _ => None,
                };
            }
            out.push(match off {
                Some(o) => *x.data.get(o).ok_or_else(|| cx.internal())?,
                None => value,
            });
            for (i, d) in index.iter_mut().zip(&shape).rev() {
                *i += 1;
                if *i < *d {
                    break;
                }
                *i = 0;
            }
        }
    }
    cx.finish_raw(shape, out)
}

/// `PADV2`: pads with the one value of the third input (as stored; for
/// quantized tensors it must share the output's parameters, as the runtime
/// requires).
pub(super) fn pad_v2(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let x = cx.input(0, "input")?;
    let p = cx.input(1, "paddings")?;
    let c = cx.input(2, "constant_values")?;
    cx.same_type(x)?;
    cx.same_type(c)?;
    let [value] = c.data.as_slice() else {
        return Err(cx.shape_err(format!("constant_values must hold one value, holds {}", c.len())));
    };
    let out = cx.output()?;
    if convert::is_quantized_type(out.dtype) && convert::has_scale(c) && c.quantization != out.quantization {
        return Err(cx.quant_err("constant_values must share the output's quantization parameters"));
    }
    let pads = paddings(cx, x, p)?;
    let dims = x.shape.clone();
    pad_with(cx, x, &pads, *value, |d, i, before| i.checked_sub(before).filter(|j| *j < dims[d]))
}

/// `MIRROR_PAD`: REFLECT mirrors without the edge element, SYMMETRIC with
/// it; pads may not exceed the size (minus one for REFLECT).
pub(super) fn mirror_pad(cx: &Cx<'_>, mode: MirrorPadMode) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    let p = cx.input(1, "paddings")?;
    cx.same_type(x)?;
    let pads = paddings(cx, x, p)?;
    let edge = usize::from(mode == MirrorPadMode::Reflect);
    for (d, (a, b)) in x.shape.iter().zip(&pads) {
        if *a + edge > *d || *b + edge > *d {
            return Err(cx.shape_err(format!("{mode:?} padding ({a}, {b}) is too large for size {d}")));
        }
    }
    let dims = x.shape.clone();
    pad_with(cx, x, &pads, 0.0, |d, i, before| {
        let n = dims[d];
        Some(if i < before {
            before - i - 1 + edge
        } else if i - before < n {
            i - before
        } else {
            let j = i - before - n;
            n - 1 - j - edge
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_ranges_follow_numpy() {
        let none = (false, false, false);
        assert_eq!(strided_range(5, 1, 4, 1, none, false), (1, 3));
        assert_eq!(strided_range(5, -1, -6, -1, none, false), (4, 5));
        assert_eq!(strided_range(5, 10, 20, 1, none, false), (5, 0));
        assert_eq!(strided_range(5, 0, 0, 1, (false, true, false), false), (0, 5));
        assert_eq!(strided_range(5, 3, 0, -2, none, false), (3, 2));
        assert_eq!(strided_range(5, -2, 0, 1, (false, false, true), false), (3, 1));
    }
}
