//! Kernels of the generated data-movement ops: layout, gathers, scatters and segments.
//!
//! `EXPAND_DIMS`, `TILE`, `PACK`, `UNPACK`, `SPLIT`, `DEPTH_TO_SPACE`,
//! `SPACE_TO_DEPTH`, `REVERSE_V2`, `SPACE_TO_BATCH_ND`, `BATCH_TO_SPACE_ND`,
//! `MATRIX_DIAG`, `MATRIX_SET_DIAG`, `REVERSE_SEQUENCE`, `SELECT`,
//! `EMBEDDING_LOOKUP`, `GATHER_ND`, `SCATTER_ND`, `ONE_HOT`, `TOPK_V2`,
//! `SEGMENT_SUM`, `UNSORTED_SEGMENT_SUM` / `PROD` / `MAX` / `MIN`,
//! `DYNAMIC_UPDATE_SLICE`, `SPARSE_TO_DENSE`, `WHERE`, `UNIQUE` and
//! `DILATE` copy stored numbers (quantized values stay as their integers, as
//! in the runtime), so they work on every element type alike, as does
//! `REDUCE_WINDOW` (its add and multiply on floats only). (`L2_POOL_2D` is
//! in pool.rs, `CONV_3D` and `CONV_3D_TRANSPOSE` in conv.rs.)
//!
//! Indices out of range are errors (where the runtime clamps, as
//! `DYNAMIC_UPDATE_SLICE` does, or skips, as the unsorted segment ops do
//! with negative ids, the kernels do the same), and outputs whose size
//! comes from operand values are checked against the element limit.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::{strides, Cx, Result};
use crate::eval::{convert, Value};
use crate::model::{
    DType, DepthToSpaceOptions, Op, OneHotOptions, PackOptions, ReduceWindowFunction,
    ReduceWindowOptions, ReverseSequenceOptions, SpaceToDepthOptions, UnpackOptions,
};

/// Whether this module has a kernel for `op`.
pub(super) fn handles(op: &Op) -> bool {
    matches!(
        op,
        Op::ExpandDims
            | Op::Tile
            | Op::Pack(_)
            | Op::Unpack(_)
            | Op::Split(_)
            | Op::DepthToSpace(_)
            | Op::SpaceToDepth(_)
            | Op::ReverseV2
            | Op::SpaceToBatchNd
            | Op::BatchToSpaceNd
            | Op::MatrixDiag
            | Op::MatrixSetDiag
            | Op::ReverseSequence(_)
            | Op::Select
            | Op::EmbeddingLookup
            | Op::GatherNd
            | Op::ScatterNd
            | Op::OneHot(_)
            | Op::TopkV2
            | Op::SegmentSum
            | Op::UnsortedSegmentSum
            | Op::UnsortedSegmentProd
            | Op::UnsortedSegmentMax
            | Op::UnsortedSegmentMin
            | Op::DynamicUpdateSlice
            | Op::SparseToDense(_)
            | Op::Dilate
            | Op::ReduceWindow(_)
            | Op::Where
            | Op::Unique(_)
    )
}

/// Runs the kernel of `cx.op`.
pub(super) fn eval(cx: &Cx<'_>) -> Result<Vec<Value>> {
    match cx.op {
        Op::ExpandDims => expand_dims(cx),
        Op::Tile => tile(cx),
        Op::Pack(o) => pack(cx, o),
        Op::Unpack(o) => unpack(cx, o),
        Op::Split(_) => split(cx),
        Op::DepthToSpace(o) => depth_to_space(cx, o),
        Op::SpaceToDepth(o) => space_to_depth(cx, o),
        Op::ReverseV2 => reverse_v2(cx),
        Op::SpaceToBatchNd => space_batch(cx, true),
        Op::BatchToSpaceNd => space_batch(cx, false),
        Op::MatrixDiag => matrix_diag(cx),
        Op::MatrixSetDiag => matrix_set_diag(cx),
        Op::ReverseSequence(o) => reverse_sequence(cx, o),
        Op::Select => select(cx),
        Op::EmbeddingLookup => embedding_lookup(cx),
        Op::GatherNd => gather_nd(cx),
        Op::ScatterNd => scatter_nd(cx),
        Op::OneHot(o) => one_hot(cx, o),
        Op::TopkV2 => topk_v2(cx),
        Op::SegmentSum => segment_sum(cx),
        Op::UnsortedSegmentSum => unsorted_segment(cx, Seg::Sum),
        Op::UnsortedSegmentProd => unsorted_segment(cx, Seg::Prod),
        Op::UnsortedSegmentMax => unsorted_segment(cx, Seg::Max),
        Op::UnsortedSegmentMin => unsorted_segment(cx, Seg::Min),
        Op::DynamicUpdateSlice => dynamic_update_slice(cx),
        Op::SparseToDense(_) => sparse_to_dense(cx),
        Op::Dilate => dilate(cx),
        Op::ReduceWindow(o) => reduce_window(cx, o),
        Op::Where => where_true(cx),
        Op::Unique(_) => unique(cx),
        _ => Err(cx.unsupported("no reference kernel")),
    }
}

// ---- helpers ---------------------------------------------------------------

/// Calls `f` with every index of `shape` in row-major order (once for a
/// scalar, never for an empty shape).
fn each_index(shape: &[usize], mut f: impl FnMut(&[usize]) -> Result<()>) -> Result<()> {
    if shape.contains(&0) {
        return Ok(());
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        f(&idx)?;
        let mut d = shape.len();
        loop {
            if d == 0 {
                return Ok(());
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// The linear offset of `idx` with `strides`.
fn offset(idx: &[usize], strides: &[usize]) -> usize {
    idx.iter().zip(strides).map(|(i, s)| i * s).sum()
}

/// Element `i` of `data`, or an internal error.
fn at(cx: &Cx<'_>, data: &[f64], i: usize) -> Result<f64> {
    data.get(i).copied().ok_or_else(|| cx.internal())
}

/// The one integer of a scalar (or one-element) operand.
fn scalar_int(cx: &Cx<'_>, v: &Value, what: &str) -> Result<i64> {
    match cx.ints(v, what)?.as_slice() {
        [n] => Ok(*n),
        other => Err(cx.shape_err(format!("{what} must hold one value, holds {}", other.len()))),
    }
}

/// A non-negative integer as a size or index.
pub(super) fn non_negative(cx: &Cx<'_>, v: i64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| cx.shape_err(format!("{what} must not be negative, is {v}")))
}

/// `a * b`, or a limit error.
fn mul(cx: &Cx<'_>, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or_else(|| cx.shape_err("size overflows"))
}

/// Builds an output of `shape` whose element at each index is read from
/// `x` at the offset `src` gives (`None`: `fill`).
fn gather_map(
    cx: &Cx<'_>,
    data: &[f64],
    shape: &[usize],
    fill: f64,
    mut src: impl FnMut(&[usize]) -> Result<Option<usize>>,
) -> Result<Vec<f64>> {
    let n = cx.numel(shape)?;
    let mut out = Vec::with_capacity(n);
    each_index(shape, |idx| {
        out.push(match src(idx)? {
            Some(o) => at(cx, data, o)?,
            None => fill,
        });
        Ok(())
    })?;
    Ok(out)
}

/// The offset of the index tuple `idx` into `dims` (leading dimensions
/// only), with `strides`; entries out of range are an error.
fn locate(cx: &Cx<'_>, idx: &[i64], dims: &[usize], strides: &[usize]) -> Result<usize> {
    let mut off = 0usize;
    for (d, ((v, n), s)) in idx.iter().zip(dims).zip(strides).enumerate() {
        let i = usize::try_from(*v)
            .ok()
            .filter(|i| i < n)
            .ok_or_else(|| cx.shape_err(format!("index {v} is out of range for dimension {d} of size {n}")))?;
        off += i * s;
    }
    Ok(off)
}

/// Index tuple `j` of `depth` entries.
fn tuple<'i>(cx: &Cx<'_>, idx: &'i [i64], j: usize, depth: usize) -> Result<&'i [i64]> {
    j.checked_mul(depth)
        .and_then(|a| idx.get(a..a.checked_add(depth)?))
        .ok_or_else(|| cx.internal())
}

/// The output tensor `i`.
fn output_at<'a>(cx: &Cx<'a>, i: usize) -> Result<&'a crate::model::Tensor> {
    cx.outputs.get(i).copied().ok_or_else(|| cx.shape_err(format!("output {i} is missing")))
}

// ---- layout ----------------------------------------------------------------

/// `EXPAND_DIMS`: a size-1 dimension at the axis of input 1 (in
/// `[-rank - 1, rank]`).
fn expand_dims(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let axis = scalar_int(cx, cx.input(1, "axis")?, "axis")?;
    let a = cx.axis(axis, x.rank() + 1)?;
    let mut shape = x.shape.clone();
    shape.insert(a, 1);
    cx.finish_raw(shape, x.data.clone())
}

/// `TILE`: the input repeated `multiples[i]` times along each axis.
fn tile(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let m = cx.ints(cx.input(1, "multiples")?, "multiples")?;
    if m.len() != x.rank() {
        return Err(cx.shape_err(format!("multiples {m:?} do not fit rank {}", x.rank())));
    }
    let mut shape = Vec::with_capacity(m.len());
    for (d, k) in x.shape.iter().zip(&m) {
        shape.push(mul(cx, *d, non_negative(cx, *k, "multiple")?)?);
    }
    let st = strides(&x.shape);
    let dims = x.shape.clone();
    let data = gather_map(cx, &x.data, &shape, 0.0, |idx| {
        Ok(Some(idx.iter().zip(&dims).zip(&st).map(|((i, d), s)| (i % d) * s).sum()))
    })?;
    cx.finish_raw(shape, data)
}

/// `PACK`: `values_count` inputs of one shape stacked along a new axis.
fn pack(cx: &Cx<'_>, o: &PackOptions) -> Result<Vec<Value>> {
    cx.arity(1, usize::MAX)?;
    let n = cx.inputs.len();
    if usize::try_from(o.values_count).ok() != Some(n) {
        return Err(cx.shape_err(format!("values_count {} does not match {n} inputs", o.values_count)));
    }
    let xs: Vec<&Value> = (0..n).map(|i| cx.input(i, "value")).collect::<Result<_>>()?;
    let first = xs.first().ok_or_else(|| cx.internal())?;
    for x in &xs {
        cx.same_type(x)?;
        if x.shape != first.shape {
            return Err(cx.shape_err(format!("inputs of shapes {:?} and {:?}", first.shape, x.shape)));
        }
    }
    let a = cx.axis(i64::from(o.axis), first.rank() + 1)?;
    let mut shape = first.shape.clone();
    shape.insert(a, n);
    let total = cx.numel(&shape)?;
    let outer: usize = first.shape[..a].iter().product();
    let inner: usize = first.shape[a..].iter().product();
    let mut out = Vec::with_capacity(total);
    for i in 0..outer {
        for x in &xs {
            out.extend_from_slice(cx.slice(&x.data, i * inner, inner)?);
        }
    }
    cx.finish_raw(shape, out)
}

/// Cuts `x` along axis `a` into `n` equal pieces; `keep` keeps the axis.
fn pieces(cx: &Cx<'_>, x: &Value, a: usize, n: usize, keep: bool) -> Result<Vec<Value>> {
    let total = x.shape.get(a).copied().ok_or_else(|| cx.internal())?;
    if n == 0 || total % n != 0 {
        return Err(cx.shape_err(format!("dimension {a} of size {total} does not split into {n} pieces")));
    }
    if cx.outputs.len() != n {
        return Err(cx.shape_err(format!("{n} pieces for {} outputs", cx.outputs.len())));
    }
    let size = total / n;
    let outer: usize = x.shape[..a].iter().product();
    let inner: usize = x.shape[a + 1..].iter().product();
    let mut shape = x.shape.clone();
    if keep {
        shape[a] = size;
    } else {
        shape.remove(a);
    }
    let mut results = Vec::with_capacity(n);
    for (k, out) in cx.outputs.iter().enumerate() {
        let mut data = Vec::with_capacity(outer * size * inner);
        for o in 0..outer {
            data.extend_from_slice(cx.slice(&x.data, (o * total + k * size) * inner, size * inner)?);
        }
        results.push(cx.encode_raw(out, shape.clone(), data)?);
    }
    Ok(results)
}

/// `UNPACK`: `num` tensors along `axis`, without that axis.
fn unpack(cx: &Cx<'_>, o: &UnpackOptions) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let a = cx.axis(i64::from(o.axis), x.rank())?;
    let n = x.shape[a];
    if usize::try_from(o.num).ok() != Some(n) {
        return Err(cx.shape_err(format!("num {} does not match dimension {a} of {:?}", o.num, x.shape)));
    }
    pieces(cx, x, a, n, false)
}

/// `SPLIT`: `[axis, input]` into as many equal pieces as there are outputs.
fn split(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let axis = scalar_int(cx, cx.input(0, "axis")?, "axis")?;
    let x = cx.input(1, "input")?;
    cx.same_type(x)?;
    let a = cx.axis(axis, x.rank())?;
    pieces(cx, x, a, cx.outputs.len(), true)
}

/// A positive block size.
fn block(cx: &Cx<'_>, b: i32) -> Result<usize> {
    cx.positive(b, "block_size")
}

/// `DEPTH_TO_SPACE` (NHWC, DCR order): `out[b, y, x, c] =
/// in[b, y / s, x / s, ((y % s) · s + x % s) · C' + c]`.
fn depth_to_space(cx: &Cx<'_>, o: &DepthToSpaceOptions) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let [n, h, w, c] = cx.dims4(x, "input")?;
    let s = block(cx, o.block_size)?;
    let ss = mul(cx, s, s)?;
    if c % ss != 0 {
        return Err(cx.shape_err(format!("depth {c} is not a multiple of block_size² {ss}")));
    }
    let oc = c / ss;
    let shape = vec![n, mul(cx, h, s)?, mul(cx, w, s)?, oc];
    let st = strides(&x.shape);
    let data = gather_map(cx, &x.data, &shape, 0.0, |i| {
        let (y, xx) = (i[1], i[2]);
        let ch = ((y % s) * s + xx % s) * oc + i[3];
        Ok(Some(offset(&[i[0], y / s, xx / s, ch], &st)))
    })?;
    cx.finish_raw(shape, data)
}

/// `SPACE_TO_DEPTH` (NHWC): `out[b, y, x, (dy · s + dx) · C + c] =
/// in[b, y · s + dy, x · s + dx, c]`.
fn space_to_depth(cx: &Cx<'_>, o: &SpaceToDepthOptions) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let [n, h, w, c] = cx.dims4(x, "input")?;
    let s = block(cx, o.block_size)?;
    if h % s != 0 || w % s != 0 {
        return Err(cx.shape_err(format!("height {h} and width {w} must be multiples of block_size {s}")));
    }
    let shape = vec![n, h / s, w / s, mul(cx, c, mul(cx, s, s)?)?];
    let st = strides(&x.shape);
    let data = gather_map(cx, &x.data, &shape, 0.0, |i| {
        let (blk, ch) = (i[3] / c.max(1), i[3] % c.max(1));
        let (dy, dx) = (blk / s, blk % s);
        Ok(Some(offset(&[i[0], i[1] * s + dy, i[2] * s + dx, ch], &st)))
    })?;
    cx.finish_raw(shape, data)
}

/// `REVERSE_V2`: reverses the axes of input 1.
fn reverse_v2(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let axes = cx.ints(cx.input(1, "axes")?, "axes")?;
    let mut rev = vec![false; x.rank()];
    for a in &axes {
        let a = cx.axis(*a, x.rank())?;
        rev[a] = true;
    }
    // Like the runtime, several axes must be contiguous.
    let first = rev.iter().position(|r| *r).unwrap_or(0);
    let last = rev.iter().rposition(|r| *r).unwrap_or(0);
    if rev.get(first..=last).is_some_and(|s| s.iter().any(|r| !*r)) {
        return Err(cx.unsupported(format!("non-contiguous axes {axes:?}")));
    }
    let st = strides(&x.shape);
    let dims = x.shape.clone();
    let data = gather_map(cx, &x.data, &x.shape, 0.0, |i| {
        Ok(Some(
            i.iter()
                .zip(&dims)
                .zip(&rev)
                .zip(&st)
                .map(|(((i, d), r), s)| if *r { (d - 1 - i) * s } else { i * s })
                .sum(),
        ))
    })?;
    cx.finish_raw(x.shape.clone(), data)
}

/// `SPACE_TO_BATCH_ND` (`to_batch`) and `BATCH_TO_SPACE_ND`: `[input,
/// block_shape [M], paddings or crops [M, 2]]` over the `M` dimensions
/// after the batch. Output batch `off · N + b` holds block offset `off`
/// (row-major over the block) of batch `b`. Padding is real zero (the
/// output's zero point for quantized types, as the runtime pads).
fn space_batch(cx: &Cx<'_>, to_batch: bool) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let blk = cx.ints(cx.input(1, "block_shape")?, "block_shape")?;
    let pads = cx.ints(cx.input(2, if to_batch { "paddings" } else { "crops" })?, "paddings")?;
    let m = blk.len();
    if x.rank() < m + 1 || pads.len() != 2 * m {
        return Err(cx.shape_err(format!("block_shape {blk:?} and paddings {pads:?} do not fit input {:?}", x.shape)));
    }
    let blk: Vec<usize> = blk
        .iter()
        .map(|b| usize::try_from(*b).ok().filter(|b| *b > 0).ok_or_else(|| cx.shape_err(format!("block_shape {b} must be positive"))))
        .collect::<Result<_>>()?;
    let pads: Vec<usize> = pads.iter().map(|p| non_negative(cx, *p, "padding or crop")).collect::<Result<_>>()?;
    let prod = blk.iter().try_fold(1usize, |a, b| a.checked_mul(*b)).ok_or_else(|| cx.shape_err("block size overflows"))?;
    let batch = x.shape[0];
    let mut shape = x.shape.clone();
    if to_batch {
        shape[0] = mul(cx, batch, prod)?;
        for i in 0..m {
            let padded = x.shape[i + 1]
                .checked_add(pads[2 * i])
                .and_then(|v| v.checked_add(pads[2 * i + 1]))
                .ok_or_else(|| cx.shape_err("padded size overflows"))?;
            if padded % blk[i] != 0 {
                return Err(cx.shape_err(format!("padded size {padded} is not a multiple of block {}", blk[i])));
            }
            shape[i + 1] = padded / blk[i];
        }
    } else {
        if batch % prod != 0 {
            return Err(cx.shape_err(format!("batch {batch} is not a multiple of the block size {prod}")));
        }
        shape[0] = batch / prod;
        for i in 0..m {
            let full = mul(cx, x.shape[i + 1], blk[i])?;
            shape[i + 1] = full
                .checked_sub(pads[2 * i])
                .and_then(|v| v.checked_sub(pads[2 * i + 1]))
                .ok_or_else(|| cx.shape_err(format!("crops {:?} exceed size {full}", &pads[2 * i..2 * i + 2])))?;
        }
    }
    let fill = match cx.output()?.quantization.as_ref() {
        Some(q) if convert::is_quantized_type(x.dtype) => q.zero_point.first().copied().unwrap_or(0) as f64,
        _ => 0.0,
    };
    let st = strides(&x.shape);
    let out_batch = shape[0];
    let data = gather_map(cx, &x.data, &shape, fill, |i| {
        let mut src = i.to_vec();
        if to_batch {
            // Output batch i[0] = off * batch + b.
            let (mut off, b) = (i[0] / batch.max(1), i[0] % batch.max(1));
            src[0] = b;
            for d in (0..m).rev() {
                let o = off % blk[d];
                off /= blk[d];
                let p = (i[d + 1] * blk[d] + o).checked_sub(pads[2 * d]);
                match p.filter(|p| *p < x.shape[d + 1]) {
                    Some(p) => src[d + 1] = p,
                    None => return Ok(None),
                }
            }
        } else {
            let mut off = 0usize;
            for d in 0..m {
                let full = i[d + 1] + pads[2 * d];
                off = off * blk[d] + full % blk[d];
                src[d + 1] = full / blk[d];
            }
            src[0] = off * out_batch + i[0];
        }
        Ok(Some(offset(&src, &st)))
    })?;
    cx.finish_raw(shape, data)
}

/// `MATRIX_DIAG`: `[..., N]` diagonals to `[..., N, N]` matrices (stored
/// zeros off the diagonal).
fn matrix_diag(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "diagonal")?;
    cx.same_type(x)?;
    let n = *x.shape.last().ok_or_else(|| cx.shape_err("diagonal must have rank ≥ 1"))?;
    let mut shape = x.shape.clone();
    shape.push(n);
    let total = cx.numel(&shape)?;
    let mut out = vec![0.0; total];
    for (k, v) in x.data.iter().enumerate() {
        let (row, i) = (k / n, k % n);
        *out.get_mut((row * n + i) * n + i).ok_or_else(|| cx.internal())? = *v;
    }
    cx.finish_raw(shape, out)
}

/// `MATRIX_SET_DIAG`: `[..., M, N]` matrices with their diagonals replaced
/// by `[..., min(M, N)]`.
fn matrix_set_diag(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    let d = cx.input(1, "diagonal")?;
    cx.same_type(x)?;
    cx.same_type(d)?;
    let r = x.rank();
    if r < 2 {
        return Err(cx.shape_err(format!("input must have rank ≥ 2, has shape {:?}", x.shape)));
    }
    let (m, n) = (x.shape[r - 2], x.shape[r - 1]);
    let k = m.min(n);
    let mut want = x.shape[..r - 2].to_vec();
    want.push(k);
    if d.shape != want {
        return Err(cx.shape_err(format!("diagonal of shape {:?} does not fit input {:?}", d.shape, x.shape)));
    }
    let mut out = x.data.clone();
    for (j, v) in d.data.iter().enumerate() {
        let (b, i) = (j / k, j % k);
        *out.get_mut(b * m * n + i * n + i).ok_or_else(|| cx.internal())? = *v;
    }
    cx.finish_raw(x.shape.clone(), out)
}

/// `REVERSE_SEQUENCE`: for each `b` along `batch_dim`, reverses the first
/// `seq_lengths[b]` elements along `seq_dim`.
fn reverse_sequence(cx: &Cx<'_>, o: &ReverseSequenceOptions) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let lens = cx.ints(cx.input(1, "seq_lengths")?, "seq_lengths")?;
    let sd = cx.axis(i64::from(o.seq_dim), x.rank())?;
    let bd = cx.axis(i64::from(o.batch_dim), x.rank())?;
    if sd == bd {
        return Err(cx.shape_err(format!("seq_dim and batch_dim are both {sd}")));
    }
    if lens.len() != x.shape[bd] {
        return Err(cx.shape_err(format!("{} seq_lengths for batch dimension {}", lens.len(), x.shape[bd])));
    }
    let seq = x.shape[sd];
    let lens: Vec<usize> = lens
        .iter()
        .map(|l| usize::try_from(*l).ok().filter(|l| *l <= seq).ok_or_else(|| cx.shape_err(format!("seq_length {l} is out of range for size {seq}"))))
        .collect::<Result<_>>()?;
    let st = strides(&x.shape);
    let data = gather_map(cx, &x.data, &x.shape, 0.0, |i| {
        let l = lens.get(i[bd]).copied().ok_or_else(|| cx.internal())?;
        let mut src = i.to_vec();
        if i[sd] < l {
            src[sd] = l - 1 - i[sd];
        }
        Ok(Some(offset(&src, &st)))
    })?;
    cx.finish_raw(x.shape.clone(), data)
}

/// `SELECT`: `[condition, x, y]`; the bool condition has x's shape, is a
/// scalar, or is 1-D over x's first axis (selecting whole rows).
fn select(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let c = cx.input(0, "condition")?;
    let x = cx.input(1, "x")?;
    let y = cx.input(2, "y")?;
    if c.dtype != DType::Bool {
        return Err(cx.unsupported(format!("condition type {}", c.dtype)));
    }
    cx.same_type(x)?;
    cx.same_type(y)?;
    if x.shape != y.shape {
        return Err(cx.shape_err(format!("x {:?} and y {:?} must have one shape", x.shape, y.shape)));
    }
    let n = x.data.len();
    let pick = |k: usize, cond: f64| -> Result<f64> { at(cx, if cond != 0.0 { &x.data } else { &y.data }, k) };
    let out: Vec<f64> = if c.shape == x.shape {
        (0..n).map(|k| pick(k, at(cx, &c.data, k)?)).collect::<Result<_>>()?
    } else if c.rank() == 0 {
        let cond = at(cx, &c.data, 0)?;
        (0..n).map(|k| pick(k, cond)).collect::<Result<_>>()?
    } else if c.rank() == 1 && x.rank() >= 1 && c.shape[0] == x.shape[0] {
        let inner: usize = x.shape[1..].iter().product();
        (0..n).map(|k| pick(k, at(cx, &c.data, k / inner.max(1))?)).collect::<Result<_>>()?
    } else {
        return Err(cx.shape_err(format!("condition {:?} must match x {:?}, be a scalar or span its first axis", c.shape, x.shape)));
    };
    cx.finish_raw(x.shape.clone(), out)
}

// ---- gathers and scatters --------------------------------------------------

/// `EMBEDDING_LOOKUP`: `[ids [N], table [V, ...]]` → rows `[N, ...]`.
/// An int8 table with a float output is scaled as the runtime's hybrid
/// kernel does; otherwise rows are copied as stored.
fn embedding_lookup(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let ids_v = cx.input(0, "ids")?;
    let table = cx.input(1, "table")?;
    let ids = cx.ints(ids_v, "ids")?;
    if ids_v.rank() != 1 || table.rank() < 2 {
        return Err(cx.shape_err(format!("ids {:?} must be 1-D and table {:?} of rank ≥ 2", ids_v.shape, table.shape)));
    }
    let out_t = cx.output()?;
    let hybrid = out_t.dtype.is_float() && !table.dtype.is_float();
    if !hybrid {
        cx.same_type(table)?;
    }
    let rows = table.shape[0];
    let inner: usize = table.shape[1..].iter().product();
    let mut shape = vec![ids.len()];
    shape.extend_from_slice(&table.shape[1..]);
    let total = cx.numel(&shape)?;
    // The hybrid kernel scales the stored int8 numbers by the table's scale
    // (per row with one scale per row) and ignores any zero point.
    let scales: Vec<f64> = if hybrid {
        if table.dtype != DType::I8 {
            return Err(cx.unsupported(format!("hybrid lookup in a {} table", table.dtype)));
        }
        let q = table.quantization.as_ref().filter(|q| q.scale.len() == 1 || q.scale.len() == rows);
        q.ok_or_else(|| cx.quant_err("the int8 table needs one scale, or one per row"))?.scale.iter().map(|v| f64::from(*v)).collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(total);
    for id in ids {
        let r = usize::try_from(id)
            .ok()
            .filter(|r| *r < rows)
            .ok_or_else(|| cx.shape_err(format!("id {id} is out of range for {rows} rows")))?;
        let row = cx.slice(&table.data, r * inner, inner)?;
        match scales.as_slice() {
            [] => out.extend_from_slice(row),
            [s] => out.extend(row.iter().map(|v| v * s)),
            per_row => {
                let s = at(cx, per_row, r)?;
                out.extend(row.iter().map(|v| v * s));
            }
        }
    }
    if hybrid {
        cx.finish(shape, out)
    } else {
        cx.finish_raw(shape, out)
    }
}

/// `GATHER_ND`: slices of params addressed by the last axis of the indices.
fn gather_nd(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let p = cx.input(0, "params")?;
    let iv = cx.input(1, "indices")?;
    cx.same_type(p)?;
    let idx = cx.ints(iv, "indices")?;
    let k = *iv.shape.last().ok_or_else(|| cx.shape_err("indices must have rank ≥ 1"))?;
    if k > p.rank() {
        return Err(cx.shape_err(format!("index depth {k} exceeds the params rank {}", p.rank())));
    }
    let mut shape = iv.shape[..iv.rank() - 1].to_vec();
    shape.extend_from_slice(&p.shape[k..]);
    let total = cx.numel(&shape)?;
    let inner: usize = p.shape[k..].iter().product();
    let st = strides(&p.shape);
    let mut out = Vec::with_capacity(total);
    let count: usize = iv.shape[..iv.rank() - 1].iter().product();
    for j in 0..count {
        let off = locate(cx, tuple(cx, &idx, j, k)?, &p.shape, &st)?;
        out.extend_from_slice(cx.slice(&p.data, off, inner)?);
    }
    cx.finish_raw(shape, out)
}

/// `SCATTER_ND`: `[indices [..., K], updates, shape]`: zeros of `shape`
/// with the updates summed in at the indices.
fn scatter_nd(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let iv = cx.input(0, "indices")?;
    let u = cx.input(1, "updates")?;
    cx.same_type(u)?;
    let idx = cx.ints(iv, "indices")?;
    let shape: Vec<usize> = cx.ints(cx.input(2, "shape")?, "shape")?.iter().map(|d| non_negative(cx, *d, "shape")).collect::<Result<_>>()?;
    let k = *iv.shape.last().ok_or_else(|| cx.shape_err("indices must have rank ≥ 1"))?;
    if k > shape.len() {
        return Err(cx.shape_err(format!("index depth {k} exceeds the output rank {}", shape.len())));
    }
    let mut want = iv.shape[..iv.rank() - 1].to_vec();
    want.extend_from_slice(&shape[k..]);
    if u.shape != want {
        return Err(cx.shape_err(format!("updates of shape {:?}, expected {want:?}", u.shape)));
    }
    let total = cx.numel(&shape)?;
    let inner: usize = shape[k..].iter().product();
    let st = strides(&shape);
    let mut out = vec![0.0; total];
    let count: usize = iv.shape[..iv.rank() - 1].iter().product();
    for j in 0..count {
        let off = locate(cx, tuple(cx, &idx, j, k)?, &shape, &st)?;
        let src = cx.slice(&u.data, j * inner, inner)?;
        let dst = off.checked_add(inner).and_then(|e| out.get_mut(off..e)).ok_or_else(|| cx.internal())?;
        dst.iter_mut().zip(src).for_each(|(a, b)| *a += b);
    }
    cx.finish_raw(shape, out)
}

/// `ONE_HOT`: `[indices, depth, on_value, off_value]`; indices outside
/// `[0, depth)` give all off values.
fn one_hot(cx: &Cx<'_>, o: &OneHotOptions) -> Result<Vec<Value>> {
    cx.arity(4, 4)?;
    let iv = cx.input(0, "indices")?;
    let idx = cx.ints(iv, "indices")?;
    let depth = non_negative(cx, scalar_int(cx, cx.input(1, "depth")?, "depth")?, "depth")?;
    let on = cx.input(2, "on_value")?;
    let off = cx.input(3, "off_value")?;
    cx.same_type(on)?;
    cx.same_type(off)?;
    let (&[on], &[off]) = (on.data.as_slice(), off.data.as_slice()) else {
        return Err(cx.shape_err("on_value and off_value must hold one value each"));
    };
    let r = iv.rank();
    let a = if o.axis == -1 { r } else { cx.axis(i64::from(o.axis), r + 1)? };
    let mut shape = iv.shape.clone();
    shape.insert(a, depth);
    let outer: usize = iv.shape[..a].iter().product();
    let inner: usize = iv.shape[a..].iter().product();
    let total = cx.numel(&shape)?;
    let mut out = Vec::with_capacity(total);
    // With no elements, a huge depth must not spin.
    let outer = if total == 0 { 0 } else { outer };
    for i in 0..outer {
        for d in 0..depth {
            for j in 0..inner {
                let v = idx.get(i * inner + j).copied().ok_or_else(|| cx.internal())?;
                out.push(if v == d as i64 { on } else { off });
            }
        }
    }
    cx.finish_raw(shape, out)
}

/// `TOPK_V2`: `[input, k]` → the k largest values along the last axis,
/// largest first (ties: the lower index first), and their int32 indices.
fn topk_v2(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let k = non_negative(cx, scalar_int(cx, cx.input(1, "k")?, "k")?, "k")?;
    let n = *x.shape.last().ok_or_else(|| cx.shape_err("input must have rank ≥ 1"))?;
    if k > n {
        return Err(cx.shape_err(format!("k = {k} exceeds the last dimension {n}")));
    }
    if cx.outputs.len() != 2 {
        return Err(cx.shape_err(format!("has 2 outputs, {} given", cx.outputs.len())));
    }
    let mut shape = x.shape.clone();
    if let Some(l) = shape.last_mut() {
        *l = k;
    }
    let total = cx.numel(&shape)?;
    let (mut vals, mut idxs) = (Vec::with_capacity(total), Vec::with_capacity(total));
    let rows = x.data.len().checked_div(n).unwrap_or(0);
    let mut order: Vec<usize> = Vec::with_capacity(n);
    for r in 0..rows {
        let row = cx.slice(&x.data, r * n, n)?;
        order.clear();
        order.extend(0..n);
        order.sort_by(|a, b| row[*b].partial_cmp(&row[*a]).unwrap_or(Ordering::Equal));
        for &i in order.iter().take(k) {
            vals.push(row[i]);
            idxs.push(i as f64);
        }
    }
    Ok(vec![cx.encode_raw(output_at(cx, 0)?, shape.clone(), vals)?, cx.encode_raw(output_at(cx, 1)?, shape, idxs)?])
}

// ---- segments --------------------------------------------------------------

/// `SEGMENT_SUM`: `[data, segment_ids [N]]`; as the runtime requires, the
/// ids start at 0 and step by 0 or 1 (no empty segments); `max(ids) + 1`
/// rows.
fn segment_sum(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "data")?;
    cx.same_type(x)?;
    let iv = cx.input(1, "segment_ids")?;
    let ids = cx.ints(iv, "segment_ids")?;
    if iv.rank() != 1 || x.rank() < 1 || ids.len() != x.shape[0] {
        return Err(cx.shape_err(format!("segment_ids {:?} must be 1-D over the first axis of data {:?}", iv.shape, x.shape)));
    }
    let bad = ids.first().is_some_and(|f| *f != 0) || ids.windows(2).any(|w| !matches!(w[1].checked_sub(w[0]), Some(0 | 1)));
    if bad {
        return Err(cx.shape_err(format!("segment_ids {ids:?} must start at 0 and step by 0 or 1")));
    }
    let segments = match ids.last() {
        Some(m) => non_negative(cx, *m, "segment id")?.checked_add(1).ok_or_else(|| cx.internal())?,
        None => 0,
    };
    let mut shape = x.shape.clone();
    shape[0] = segments;
    let total = cx.numel(&shape)?;
    let inner: usize = x.shape[1..].iter().product();
    let mut out = vec![0.0; total];
    for (i, id) in ids.iter().enumerate() {
        let s = *id as usize;
        let src = cx.slice(&x.data, i * inner, inner)?;
        let dst = out.get_mut(s * inner..(s + 1) * inner).ok_or_else(|| cx.internal())?;
        dst.iter_mut().zip(src).for_each(|(a, b)| *a += b);
    }
    cx.finish_raw(shape, out)
}

/// Which unsorted segment reduction.
#[derive(Clone, Copy)]
enum Seg {
    Sum,
    Prod,
    Max,
    Min,
}

/// `UNSORTED_SEGMENT_*`: `[data, segment_ids, num_segments]`; the ids'
/// shape is a prefix of the data's. Negative ids are skipped; empty
/// segments hold the reduction's identity (the type's lowest value for
/// MAX, its highest for MIN, as the runtime fills them).
fn unsorted_segment(cx: &Cx<'_>, kind: Seg) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let x = cx.input(0, "data")?;
    cx.same_type(x)?;
    let iv = cx.input(1, "segment_ids")?;
    let ids = cx.ints(iv, "segment_ids")?;
    let num = non_negative(cx, scalar_int(cx, cx.input(2, "num_segments")?, "num_segments")?, "num_segments")?;
    if iv.rank() > x.rank() || x.shape[..iv.rank()] != iv.shape[..] {
        return Err(cx.shape_err(format!("segment_ids {:?} must be a prefix of data {:?}", iv.shape, x.shape)));
    }
    let mut shape = vec![num];
    shape.extend_from_slice(&x.shape[iv.rank()..]);
    let total = cx.numel(&shape)?;
    let inner: usize = x.shape[iv.rank()..].iter().product();
    let out_t = cx.output()?;
    let (lo, hi) = if out_t.dtype == DType::F32 {
        (f64::from(f32::MIN), f64::from(f32::MAX))
    } else if out_t.dtype.is_float() {
        (f64::MIN, f64::MAX)
    } else {
        convert::int_range(out_t.dtype).ok_or_else(|| cx.unsupported(format!("output type {}", out_t.dtype)))?
    };
    let init = match kind {
        Seg::Sum => 0.0,
        Seg::Prod => 1.0,
        Seg::Max => lo,
        Seg::Min => hi,
    };
    let mut out = vec![init; total];
    for (i, id) in ids.iter().enumerate() {
        if *id < 0 {
            continue;
        }
        let s = usize::try_from(*id)
            .ok()
            .filter(|s| *s < num)
            .ok_or_else(|| cx.shape_err(format!("segment id {id} is out of range for {num} segments")))?;
        let src = cx.slice(&x.data, i * inner, inner)?;
        let dst = out.get_mut(s * inner..(s + 1) * inner).ok_or_else(|| cx.internal())?;
        for (a, b) in dst.iter_mut().zip(src) {
            *a = match kind {
                Seg::Sum => *a + b,
                Seg::Prod => *a * b,
                Seg::Max => a.max(*b),
                Seg::Min => a.min(*b),
            };
        }
    }
    cx.finish_raw(shape, out)
}

// ---- updates and sparse ----------------------------------------------------

/// `DYNAMIC_UPDATE_SLICE`: `[operand, update, start_indices [rank]]`; the
/// start indices are clamped so the update fits, as the runtime does.
fn dynamic_update_slice(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let x = cx.input(0, "operand")?;
    let u = cx.input(1, "update")?;
    cx.same_type(x)?;
    cx.same_type(u)?;
    let start = cx.ints(cx.input(2, "start_indices")?, "start_indices")?;
    let r = x.rank();
    if u.rank() != r || start.len() != r || u.shape.iter().zip(&x.shape).any(|(a, b)| a > b) {
        return Err(cx.shape_err(format!("update {:?} and start indices {start:?} do not fit operand {:?}", u.shape, x.shape)));
    }
    let begin: Vec<usize> = start
        .iter()
        .zip(x.shape.iter().zip(&u.shape))
        .map(|(s, (d, ud))| (*s).clamp(0, (d - ud) as i64) as usize)
        .collect();
    let mut out = x.data.clone();
    let xs = strides(&x.shape);
    let mut k = 0usize;
    each_index(&u.shape, |i| {
        let o = i.iter().zip(&begin).zip(&xs).map(|((i, b), s)| (i + b) * s).sum::<usize>();
        *out.get_mut(o).ok_or_else(|| cx.internal())? = at(cx, &u.data, k)?;
        k += 1;
        Ok(())
    })?;
    cx.finish_raw(x.shape.clone(), out)
}

/// `SPARSE_TO_DENSE`: `[indices, output_shape, values, default_value]`.
/// Indices are a scalar or `[N]` (positions in a 1-D output) or `[N, R]`;
/// values a scalar or `[N]`; later writes win.
fn sparse_to_dense(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(4, 4)?;
    let iv = cx.input(0, "indices")?;
    let idx = cx.ints(iv, "indices")?;
    let shape: Vec<usize> =
        cx.ints(cx.input(1, "output_shape")?, "output_shape")?.iter().map(|d| non_negative(cx, *d, "output_shape")).collect::<Result<_>>()?;
    let vals = cx.input(2, "values")?;
    let def = cx.input(3, "default_value")?;
    cx.same_type(vals)?;
    cx.same_type(def)?;
    let &[default] = def.data.as_slice() else {
        return Err(cx.shape_err("default_value must hold one value"));
    };
    let (count, depth) = match iv.shape.as_slice() {
        [] => (1, 1),
        [n] => (*n, 1),
        [n, d] => (*n, *d),
        other => return Err(cx.shape_err(format!("indices must have rank ≤ 2, have shape {other:?}"))),
    };
    if depth != shape.len() {
        return Err(cx.shape_err(format!("indices of depth {depth} for output shape {shape:?}")));
    }
    let scalar = vals.rank() == 0;
    if !scalar && vals.data.len() != count {
        return Err(cx.shape_err(format!("{} values for {count} indices", vals.data.len())));
    }
    let total = cx.numel(&shape)?;
    let st = strides(&shape);
    let mut out = vec![default; total];
    for j in 0..count {
        let off = locate(cx, tuple(cx, &idx, j, depth)?, &shape, &st)?;
        let v = at(cx, &vals.data, if scalar { 0 } else { j })?;
        *out.get_mut(off).ok_or_else(|| cx.internal())? = v;
    }
    cx.finish_raw(shape, out)
}

// ---- value-dependent shapes ------------------------------------------------

/// `WHERE`: the int64 coordinates `[count, rank]` of the non-zero (true)
/// elements, in row-major order.
fn where_true(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let c = cx.input(0, "condition")?;
    let r = c.rank();
    let count = c.data.iter().filter(|v| **v != 0.0).count();
    let shape = vec![count, r];
    let total = cx.numel(&shape)?;
    let mut out = Vec::with_capacity(total);
    let mut k = 0usize;
    each_index(&c.shape, |i| {
        if at(cx, &c.data, k)? != 0.0 {
            out.extend(i.iter().map(|v| *v as f64));
        }
        k += 1;
        Ok(())
    })?;
    cx.finish_raw(shape, out)
}

/// `UNIQUE`: the distinct values of a 1-D input in order of first
/// appearance, and each element's index into them.
fn unique(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    if x.rank() != 1 {
        return Err(cx.shape_err(format!("input must be 1-D, has shape {:?}", x.shape)));
    }
    if cx.outputs.len() != 2 {
        return Err(cx.shape_err(format!("has 2 outputs, {} given", cx.outputs.len())));
    }
    let mut seen: HashMap<u64, usize> = HashMap::new();
    let (mut values, mut idx) = (Vec::new(), Vec::with_capacity(x.data.len()));
    for v in &x.data {
        // -0 and 0 are one value.
        let key = if *v == 0.0 { 0.0f64.to_bits() } else { v.to_bits() };
        let next = values.len();
        let k = *seen.entry(key).or_insert(next);
        if k == next {
            values.push(*v);
        }
        idx.push(k as f64);
    }
    let n = values.len();
    Ok(vec![cx.encode_raw(output_at(cx, 0)?, vec![n], values)?, cx.encode_raw(output_at(cx, 1)?, x.shape.clone(), idx)?])
}

/// `DILATE`: `dilations[d] - 1` copies of the padding value (a scalar of
/// the input's type) between neighbours along each dimension `d`; each
/// dimension `n` becomes `(n - 1) * dilations[d] + 1`.
fn dilate(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let x = cx.input(0, "input")?;
    let dil = cx.ints(cx.input(1, "dilations")?, "dilations")?;
    let p = cx.input(2, "padding_value")?;
    cx.same_type(x)?;
    if p.dtype != x.dtype {
        return Err(cx.shape_err(format!("padding value of type {} for input of type {}", p.dtype, x.dtype)));
    }
    let fill = match p.data.as_slice() {
        [v] => *v,
        other => return Err(cx.shape_err(format!("padding value must hold one value, holds {}", other.len()))),
    };
    if x.shape.is_empty() || dil.len() != x.shape.len() {
        return Err(cx.shape_err(format!("{} dilations for input of shape {:?}", dil.len(), x.shape)));
    }
    let mut shape = Vec::with_capacity(dil.len());
    let mut factors = Vec::with_capacity(dil.len());
    for (n, f) in x.shape.iter().zip(&dil) {
        let f = usize::try_from(*f)
            .ok()
            .filter(|f| *f >= 1)
            .ok_or_else(|| cx.shape_err(format!("dilations must be at least 1, are {dil:?}")))?;
        let m = n
            .checked_sub(1)
            .ok_or_else(|| cx.shape_err(format!("cannot dilate a dimension of size 0 (shape {:?})", x.shape)))?;
        shape.push(mul(cx, m, f)?.checked_add(1).ok_or_else(|| cx.shape_err("size overflows"))?);
        factors.push(f);
    }
    let st = strides(&x.shape);
    let out = gather_map(cx, &x.data, &shape, fill, |idx| {
        let mut off = 0usize;
        for ((i, f), s) in idx.iter().zip(&factors).zip(&st) {
            if i % f != 0 {
                return Ok(None);
            }
            off += (i / f) * s;
        }
        Ok(Some(off))
    })?;
    cx.finish_raw(shape, out)
}

/// `REDUCE_WINDOW`: input, init value (a scalar of the input's type), and
/// int64 window shape, strides and dilations (one per dimension). Each
/// output element folds `init` with the window's elements in row-major
/// order; a dimension whose dilated window exceeds the input has no outputs
/// (no padding). Minimum, maximum, all and any work on stored numbers of
/// any type; add and multiply only on floats (the runtime wraps integers).
fn reduce_window(cx: &Cx<'_>, o: &ReduceWindowOptions) -> Result<Vec<Value>> {
    cx.arity(5, 5)?;
    let x = cx.input(0, "input")?;
    let init = cx.input(1, "init_value")?;
    cx.same_type(x)?;
    if init.dtype != x.dtype {
        return Err(cx.shape_err(format!("init value of type {} for input of type {}", init.dtype, x.dtype)));
    }
    let init = match init.data.as_slice() {
        [v] => *v,
        other => return Err(cx.shape_err(format!("init value must hold one value, holds {}", other.len()))),
    };
    let rank = x.shape.len();
    if rank == 0 {
        return Err(cx.shape_err("input must have rank 1 or more"));
    }
    let param = |i: usize, what: &str| -> Result<Vec<usize>> {
        let v = cx.ints(cx.input(i, what)?, what)?;
        if v.len() != rank {
            return Err(cx.shape_err(format!("{what} holds {} values for rank {rank}", v.len())));
        }
        v.iter()
            .map(|n| usize::try_from(*n).ok().filter(|n| *n >= 1).ok_or_else(|| cx.shape_err(format!("{what} must be at least 1, are {v:?}"))))
            .collect()
    };
    let window = param(2, "window_shape")?;
    let wstrides = param(3, "window_strides")?;
    let dilations = param(4, "window_dilations")?;
    let fold: fn(f64, f64) -> f64 = match o.reduce_function {
        ReduceWindowFunction::Add if x.dtype.is_float() => |a, b| a + b,
        ReduceWindowFunction::Mul if x.dtype.is_float() => |a, b| a * b,
        ReduceWindowFunction::Minimum => |a, b| if a <= b { a } else { b },
        ReduceWindowFunction::Maximum => |a, b| if a >= b { a } else { b },
        ReduceWindowFunction::All => |a, b| f64::from(u8::from(a != 0.0 && b != 0.0)),
        ReduceWindowFunction::Any => |a, b| f64::from(u8::from(a != 0.0 || b != 0.0)),
        f => return Err(cx.unsupported(format!("reduce function {f:?} on {}", x.dtype))),
    };
    let mut shape = Vec::with_capacity(rank);
    for d in 0..rank {
        let extent = mul(cx, window[d] - 1, dilations[d])? + 1;
        shape.push(if x.shape[d] < extent { 0 } else { (x.shape[d] - extent) / wstrides[d] + 1 });
    }
    let n = cx.numel(&shape)?;
    let st = strides(&x.shape);
    let mut taps = Vec::new();
    if n > 0 {
        // Every window fits the input, so it has no more elements than the input.
        let dil_strides: Vec<usize> = st.iter().zip(&dilations).map(|(s, d)| s.saturating_mul(*d)).collect();
        each_index(&window, |k| {
            taps.push(offset(k, &dil_strides));
            Ok(())
        })?;
    }
    let step: Vec<usize> = st.iter().zip(&wstrides).map(|(s, w)| s.saturating_mul(*w)).collect();
    let mut out = Vec::with_capacity(n);
    each_index(&shape, |idx| {
        let base = offset(idx, &step);
        let mut acc = init;
        for t in &taps {
            acc = fold(acc, at(cx, &x.data, base + t)?);
        }
        out.push(acc);
        Ok(())
    })?;
    cx.finish_raw(shape, out)
}
