//! Kernels on constant data for the dense folds: NumPy broadcasting,
//! elementwise arithmetic, comparisons and unary math, and the element
//! moves (gather, concat, slice, transpose, broadcast).
//!
//! Integer (and boolean) operands compute in exact `i64` arithmetic,
//! wrapping on overflow as NumPy does; anything involving a float computes
//! in `f64`. Element moves copy bytes, so they are exact for every type.

use super::too_big;
use crate::model::DType;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::TensorData;
use crate::onnx::lower::{norm_axis, LowerError};

/// Binary arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    /// Integers truncate toward zero (and give 0 for a zero divisor).
    Div,
    Pow,
    Max,
    Min,
    /// Remainder with the divisor's sign (`fmod = false`, Python's `%`) or
    /// the dividend's (`fmod = true`, C's `fmod`).
    Mod { fmod: bool },
}

/// Comparisons and logic, giving booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
}

/// Unary math.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unary {
    Neg,
    Sqrt,
    Reciprocal,
    Floor,
    Ceil,
    Abs,
    Exp,
    Not,
}

fn non_numeric() -> LowerError {
    LowerError::new(ReasonCode::UnsupportedDtype, "non-numeric constant")
}

/// The element size in bytes of a type that folds byte-wise.
fn element_size(dtype: DType, what: &str) -> Result<usize, LowerError> {
    dtype.bits().map(|b| (b / 8).max(1) as usize).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, what.to_string()))
}

/// Whether folds can produce constants of `dtype` (the types
/// [`TensorData::from_f64`] builds).
pub(super) fn foldable_dtype(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F64 | DType::F16 | DType::I64 | DType::I32 | DType::I16 | DType::I8 | DType::U8 | DType::Bool)
}

/// The values of integer or boolean data as exact `i64`s; `None` for
/// floats and for types `i64` does not hold (uint64) or folds do not read.
pub(super) fn int_values(d: &TensorData) -> Option<Vec<i64>> {
    let b = &d.bytes;
    Some(match d.dtype {
        DType::I64 => bytemuck::pod_collect_to_vec::<u8, i64>(b),
        DType::I32 => bytemuck::pod_collect_to_vec::<u8, i32>(b).into_iter().map(i64::from).collect(),
        DType::I16 => bytemuck::pod_collect_to_vec::<u8, i16>(b).into_iter().map(i64::from).collect(),
        DType::U16 => bytemuck::pod_collect_to_vec::<u8, u16>(b).into_iter().map(i64::from).collect(),
        DType::U32 => bytemuck::pod_collect_to_vec::<u8, u32>(b).into_iter().map(i64::from).collect(),
        DType::I8 => b.iter().map(|x| i64::from(*x as i8)).collect(),
        DType::U8 | DType::Bool => b.iter().map(|x| i64::from(*x)).collect(),
        _ => return None,
    })
}

/// Builds integer or boolean data of `dtype` from `i64`s (narrower types
/// wrap, booleans are `v != 0`); `None` for other types.
pub(super) fn from_ints(dtype: DType, dims: Vec<usize>, v: &[i64]) -> Option<TensorData> {
    let bytes: Vec<u8> = match dtype {
        DType::I64 => bytemuck::cast_slice(v).to_vec(),
        DType::I32 => bytemuck::cast_slice(&v.iter().map(|x| *x as i32).collect::<Vec<_>>()).to_vec(),
        DType::I16 => bytemuck::cast_slice(&v.iter().map(|x| *x as i16).collect::<Vec<_>>()).to_vec(),
        DType::I8 => v.iter().map(|x| *x as i8 as u8).collect(),
        DType::U8 => v.iter().map(|x| *x as u8).collect(),
        DType::Bool => v.iter().map(|x| u8::from(*x != 0)).collect(),
        _ => return None,
    };
    Some(TensorData { dtype, dims, bytes })
}

/// NumPy broadcast of dimension lists.
pub(super) fn broadcast_dims(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    (0..r)
        .map(|i| {
            let x = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
            let y = if i + b.len() >= r { b[i + b.len() - r] } else { 1 };
            match (x, y) {
                (x, y) if x == y => Some(x),
                (1, y) => Some(y),
                (x, 1) => Some(x),
                _ => None,
            }
        })
        .collect()
}

/// Index into a broadcast operand for a flat output index.
pub(super) fn broadcast_index(out_dims: &[usize], dims: &[usize], mut flat: usize) -> usize {
    let r = out_dims.len();
    let mut idx = 0;
    let mut stride = 1;
    for i in (0..r).rev() {
        let coord = flat % out_dims[i];
        flat /= out_dims[i];
        if i + dims.len() >= r {
            let d = dims[i + dims.len() - r];
            if d != 1 {
                idx += coord * stride;
            }
            stride *= d;
        }
    }
    idx
}

/// The broadcast shape of `a` and `b`, within the fold limit.
fn broadcast_pair(a: &TensorData, b: &TensorData) -> Result<(Vec<usize>, usize), LowerError> {
    let dims = broadcast_dims(&a.dims, &b.dims).ok_or_else(|| LowerError::invalid(format!("shapes {:?} and {:?} do not broadcast", a.dims, b.dims)))?;
    let n: usize = dims.iter().product();
    too_big(n)?;
    Ok((dims, n))
}

/// Applies `f` elementwise with broadcasting: exactly on `i64`s when both
/// operands are integers, else on `f64`s (truncated for an integer
/// `out_dtype`). The result has type `out_dtype`, or `a`'s.
fn zip_with(a: &TensorData, b: &TensorData, out_dtype: Option<DType>, int: impl Fn(i64, i64) -> i64, float: impl Fn(f64, f64) -> f64) -> Result<TensorData, LowerError> {
    let (dims, n) = broadcast_pair(a, b)?;
    let dtype = out_dtype.unwrap_or(a.dtype);
    let cannot = || LowerError::new(ReasonCode::UnsupportedDtype, format!("cannot fold {dtype}"));
    if let (Some(x), Some(y)) = (int_values(a), int_values(b)) {
        let v: Vec<i64> = (0..n).map(|i| int(x[broadcast_index(&dims, &a.dims, i)], y[broadcast_index(&dims, &b.dims, i)])).collect();
        return from_ints(dtype, dims, &v).ok_or_else(cannot);
    }
    let (x, y) = (a.to_f64().ok_or_else(non_numeric)?, b.to_f64().ok_or_else(non_numeric)?);
    let v: Vec<f64> = (0..n).map(|i| float(x[broadcast_index(&dims, &a.dims, i)], y[broadcast_index(&dims, &b.dims, i)])).collect();
    let v = if matches!(dtype, DType::I64 | DType::I32 | DType::I16 | DType::I8 | DType::U8) { v.into_iter().map(f64::trunc).collect() } else { v };
    TensorData::from_f64(dtype, dims, &v).ok_or_else(cannot)
}

/// `x` to the power `e`, wrapping; negative powers as `f64` truncated.
fn int_pow(x: i64, e: i64) -> i64 {
    if e < 0 {
        return (x as f64).powf(e as f64).trunc() as i64;
    }
    let (mut base, mut e, mut acc) = (x, e as u64, 1i64);
    while e > 0 {
        if e & 1 == 1 {
            acc = acc.wrapping_mul(base);
        }
        base = base.wrapping_mul(base);
        e >>= 1;
    }
    acc
}

/// Elementwise arithmetic with broadcasting; the result has `a`'s type.
pub(super) fn arith(a: &TensorData, b: &TensorData, op: Arith) -> Result<TensorData, LowerError> {
    let a_int = !a.dtype.is_float();
    let int = move |x: i64, y: i64| match op {
        Arith::Add => x.wrapping_add(y),
        Arith::Sub => x.wrapping_sub(y),
        Arith::Mul => x.wrapping_mul(y),
        Arith::Div => {
            if y == 0 {
                0
            } else {
                x.wrapping_div(y)
            }
        }
        Arith::Pow => int_pow(x, y),
        Arith::Max => x.max(y),
        Arith::Min => x.min(y),
        Arith::Mod { fmod } => {
            if y == 0 {
                return 0;
            }
            let r = x.wrapping_rem(y);
            if !fmod && r != 0 && ((r < 0) != (y < 0)) { r.wrapping_add(y) } else { r }
        }
    };
    let float = move |x: f64, y: f64| match op {
        Arith::Add => x + y,
        Arith::Sub => x - y,
        Arith::Mul => x * y,
        Arith::Div => {
            if a_int {
                if y == 0.0 { 0.0 } else { (x / y).trunc() }
            } else {
                x / y
            }
        }
        Arith::Pow => x.powf(y),
        Arith::Max => x.max(y),
        Arith::Min => x.min(y),
        Arith::Mod { fmod } => {
            let r = x % y;
            if !fmod && r != 0.0 && ((r < 0.0) != (y < 0.0)) { r + y } else { r }
        }
    };
    zip_with(a, b, None, int, float)
}

/// Elementwise comparison or logic with broadcasting, giving booleans.
pub(super) fn compare(a: &TensorData, b: &TensorData, op: Cmp) -> Result<TensorData, LowerError> {
    let int = move |x: i64, y: i64| {
        i64::from(match op {
            Cmp::Eq => x == y,
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
            Cmp::And => x != 0 && y != 0,
            Cmp::Or => x != 0 || y != 0,
            Cmp::Xor => (x != 0) != (y != 0),
        })
    };
    let float = move |x: f64, y: f64| {
        f64::from(u8::from(match op {
            Cmp::Eq => x == y,
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
            Cmp::And => x != 0.0 && y != 0.0,
            Cmp::Or => x != 0.0 || y != 0.0,
            Cmp::Xor => (x != 0.0) != (y != 0.0),
        }))
    };
    zip_with(a, b, Some(DType::Bool), int, float)
}

/// Elementwise unary math; the result has `a`'s type. Integers negate,
/// take absolute values, floor, ceil and `Not` exactly; the other
/// functions compute in `f64`.
pub(super) fn unary(a: &TensorData, op: Unary) -> Result<TensorData, LowerError> {
    let cannot = || LowerError::new(ReasonCode::UnsupportedDtype, "cannot fold");
    if let Some(x) = int_values(a) {
        let exact: Option<fn(i64) -> i64> = match op {
            Unary::Neg => Some(i64::wrapping_neg),
            Unary::Abs => Some(i64::wrapping_abs),
            Unary::Floor | Unary::Ceil => Some(|x| x),
            Unary::Not => Some(|x| i64::from(x == 0)),
            Unary::Sqrt | Unary::Reciprocal | Unary::Exp => None,
        };
        if let Some(f) = exact {
            let v: Vec<i64> = x.into_iter().map(f).collect();
            return from_ints(a.dtype, a.dims.clone(), &v).ok_or_else(cannot);
        }
    }
    let f: fn(f64) -> f64 = match op {
        Unary::Neg => |x| -x,
        Unary::Sqrt => f64::sqrt,
        Unary::Reciprocal => |x| 1.0 / x,
        Unary::Floor => f64::floor,
        Unary::Ceil => f64::ceil,
        Unary::Abs => f64::abs,
        Unary::Exp => f64::exp,
        Unary::Not => |x| f64::from(u8::from(x == 0.0)),
    };
    let v: Vec<f64> = a.to_f64().ok_or_else(non_numeric)?.into_iter().map(f).collect();
    TensorData::from_f64(a.dtype, a.dims.clone(), &v).ok_or_else(cannot)
}

/// The elements of `d` broadcast to `dims` (which `d` broadcasts to),
/// byte-wise.
pub(super) fn broadcast_to(d: &TensorData, dims: &[usize]) -> Result<TensorData, LowerError> {
    let es = element_size(d.dtype, "broadcast")?;
    let n: usize = dims.iter().product();
    let mut out = Vec::with_capacity(n * es);
    for i in 0..n {
        let j = broadcast_index(dims, &d.dims, i) * es;
        out.extend_from_slice(d.bytes.get(j..j + es).ok_or_else(|| LowerError::invalid("broadcast"))?);
    }
    Ok(TensorData { dtype: d.dtype, dims: dims.to_vec(), bytes: out })
}

/// `cond ? x : y` elementwise, with broadcasting to `dims`; `x` and `y`
/// have one type, whose elements are copied byte-wise.
pub(super) fn select(cond: &[bool], cond_dims: &[usize], x: &TensorData, y: &TensorData, dims: &[usize]) -> Result<TensorData, LowerError> {
    let es = element_size(x.dtype, "Where")?;
    let n: usize = dims.iter().product();
    let mut out = Vec::with_capacity(n * es);
    for i in 0..n {
        let c = cond.get(broadcast_index(dims, cond_dims, i)).copied().ok_or_else(|| LowerError::invalid("Where"))?;
        let (src, src_dims) = if c { (x, &x.dims) } else { (y, &y.dims) };
        let j = broadcast_index(dims, src_dims, i) * es;
        out.extend_from_slice(src.bytes.get(j..j + es).ok_or_else(|| LowerError::invalid("Where"))?);
    }
    Ok(TensorData { dtype: x.dtype, dims: dims.to_vec(), bytes: out })
}

/// Transposes constant data.
pub(crate) fn transpose_data(d: &TensorData, perm: &[usize]) -> Result<TensorData, LowerError> {
    transpose_data_into(d, perm, Vec::new())
}

/// Transposes constant data into `out`'s memory (its contents are
/// overwritten; its capacity is reused when large enough).
pub(crate) fn transpose_data_into(d: &TensorData, perm: &[usize], out: Vec<u8>) -> Result<TensorData, LowerError> {
    let es = element_size(d.dtype, "cannot transpose")?;
    let bytes = crate::util::transpose_bytes_into(&d.bytes, es, &d.dims, perm, out).ok_or_else(|| LowerError::invalid(format!("bad permutation {perm:?} for dims {:?}", d.dims)))?;
    Ok(TensorData { dtype: d.dtype, dims: perm.iter().map(|p| d.dims[*p]).collect(), bytes })
}

/// The dimensions of a reshape of `input` to an ONNX `target` (0 copies a
/// dimension unless `allowzero`, one -1 is inferred).
pub(super) fn reshape_dims(input: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>, LowerError> {
    let n: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or_else(|| LowerError::invalid("0 in reshape copies a missing dimension"))?),
            t if t >= 0 => out.push(t as usize),
            _ => return Err(LowerError::invalid(format!("bad reshape target {target:?}"))),
        }
    }
    if let Some(i) = infer {
        let known: usize = out.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, d)| *d).product();
        if known == 0 || !n.is_multiple_of(known) {
            return Err(LowerError::invalid(format!("cannot reshape {input:?} to {target:?}")));
        }
        out[i] = n / known;
    }
    if out.iter().product::<usize>() != n {
        return Err(LowerError::invalid(format!("cannot reshape {input:?} to {target:?}")));
    }
    Ok(out)
}

/// Gathers `idx` (of shape `idx_dims`) along `axis`.
pub(super) fn gather(data: &TensorData, idx: &[i64], idx_dims: Vec<usize>, axis: i64) -> Result<TensorData, LowerError> {
    let r = data.dims.len();
    let axis = norm_axis(axis, r)?;
    let es = element_size(data.dtype, "gather")?;
    let outer: usize = data.dims[..axis].iter().product();
    let inner: usize = data.dims[axis + 1..].iter().product();
    let n_axis = data.dims[axis];
    let mut out = Vec::new();
    for o in 0..outer {
        for &i in idx {
            let j = if i < 0 { i + n_axis as i64 } else { i };
            let j = usize::try_from(j).ok().filter(|j| *j < n_axis).ok_or_else(|| LowerError::invalid("gather index out of range"))?;
            let start = ((o * n_axis + j) * inner) * es;
            out.extend_from_slice(data.bytes.get(start..start + inner * es).ok_or_else(|| LowerError::invalid("gather"))?);
        }
    }
    let mut dims = data.dims[..axis].to_vec();
    dims.extend(idx_dims);
    dims.extend_from_slice(&data.dims[axis + 1..]);
    Ok(TensorData { dtype: data.dtype, dims, bytes: out })
}

/// Concatenates `parts` along `axis`.
pub(super) fn concat(parts: &[TensorData], axis: i64) -> Result<TensorData, LowerError> {
    let first = parts.first().ok_or_else(|| LowerError::invalid("Concat of nothing"))?;
    let r = first.dims.len();
    let axis = norm_axis(axis, r)?;
    let es = element_size(first.dtype, "concat")?;
    let outer: usize = first.dims[..axis].iter().product();
    let mut dims = first.dims.clone();
    dims[axis] = 0;
    for p in parts {
        if p.dtype != first.dtype || p.dims.len() != r || (0..r).any(|i| i != axis && p.dims[i] != first.dims[i]) {
            return Err(LowerError::invalid("Concat inputs disagree"));
        }
        dims[axis] += p.dims[axis];
    }
    let mut out = Vec::new();
    for o in 0..outer {
        for p in parts {
            let chunk = p.dims[axis..].iter().product::<usize>() * es;
            out.extend_from_slice(p.bytes.get(o * chunk..(o + 1) * chunk).ok_or_else(|| LowerError::invalid("concat"))?);
        }
    }
    Ok(TensorData { dtype: first.dtype, dims, bytes: out })
}

/// ONNX `Slice` of constant data.
pub(super) fn slice(d: &TensorData, starts: &[i64], ends: &[i64], axes: Option<&[i64]>, steps: Option<&[i64]>) -> Result<TensorData, LowerError> {
    let r = d.dims.len();
    let axes: Vec<usize> = match axes {
        Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..starts.len()).collect(),
    };
    let mut ranges: Vec<(i64, i64, i64)> = d.dims.iter().map(|n| (0, *n as i64, 1)).collect();
    for (k, &a) in axes.iter().enumerate() {
        let n = d.dims[a] as i64;
        let step = steps.and_then(|s| s.get(k).copied()).unwrap_or(1);
        if step == 0 {
            return Err(LowerError::invalid("slice step 0"));
        }
        let fix = |v: i64, lo: i64, hi: i64| (if v < 0 { v + n } else { v }).clamp(lo, hi);
        let (s, e) = (starts.get(k).copied().unwrap_or(0), ends.get(k).copied().unwrap_or(n));
        ranges[a] = if step > 0 { (fix(s, 0, n), fix(e, 0, n), step) } else { (fix(s, -1, n - 1), fix(e, -1, n - 1), step) };
    }
    let idx: Vec<Vec<usize>> = ranges
        .iter()
        .map(|&(s, e, st)| {
            let mut v = Vec::new();
            let mut i = s;
            while (st > 0 && i < e) || (st < 0 && i > e) {
                v.push(i as usize);
                i += st;
            }
            v
        })
        .collect();
    let dims: Vec<usize> = idx.iter().map(Vec::len).collect();
    let n: usize = dims.iter().product();
    too_big(n)?;
    let es = element_size(d.dtype, "slice")?;
    let mut strides = vec![1usize; r];
    for i in (0..r.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * d.dims[i + 1];
    }
    let mut out = Vec::with_capacity(n * es);
    let mut coord = vec![0usize; r];
    for _ in 0..n {
        let src: usize = (0..r).map(|i| idx[i][coord[i]] * strides[i]).sum();
        out.extend_from_slice(d.bytes.get(src * es..(src + 1) * es).ok_or_else(|| LowerError::invalid("slice"))?);
        for i in (0..r).rev() {
            coord[i] += 1;
            if coord[i] < dims[i] {
                break;
            }
            coord[i] = 0;
        }
    }
    Ok(TensorData { dtype: d.dtype, dims, bytes: out })
}
