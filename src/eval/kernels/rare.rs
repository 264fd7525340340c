//! Kernels of the rarely used builtins that work on stored bytes or sparse
//! data: `BITCAST`, `HASHTABLE_LOOKUP`, `EMBEDDING_LOOKUP_SPARSE`,
//! `LSH_PROJECTION` and `DENSIFY`, as LiteRT's builtin kernels compute them.

use super::farmhash::fingerprint64;
use super::{Cx, Result};
use crate::eval::Value;
use crate::model::{CombinerType, DType, EmbeddingLookupSparseOptions, LshProjectionOptions, LshProjectionType, Op};

use half::f16;

/// Whether this module has a kernel for `op`.
pub(super) fn handles(op: &Op) -> bool {
    matches!(op, Op::Bitcast | Op::HashtableLookup | Op::EmbeddingLookupSparse(_) | Op::LshProjection(_) | Op::Densify)
}

/// Runs the kernel of `cx.op`.
pub(super) fn eval(cx: &Cx<'_>) -> Result<Vec<Value>> {
    match cx.op {
        Op::Bitcast => bitcast(cx),
        Op::HashtableLookup => hashtable_lookup(cx),
        Op::EmbeddingLookupSparse(o) => embedding_lookup_sparse(cx, o),
        Op::LshProjection(o) => lsh_projection(cx, o),
        Op::Densify => densify(cx),
        _ => Err(cx.unsupported("not a kernel of this module")),
    }
}

/// The size in bytes of an element the evaluator can turn into bytes.
fn element_bytes(dtype: DType) -> Option<usize> {
    Some(match dtype {
        DType::Bool | DType::I8 | DType::U8 => 1,
        DType::F16 | DType::I16 | DType::U16 => 2,
        DType::F32 | DType::I32 | DType::U32 => 4,
        DType::F64 | DType::I64 => 8,
        _ => return None,
    })
}

/// The little-endian bytes of the stored elements of `v`.
fn to_bytes(cx: &Cx<'_>, v: &Value) -> Result<Vec<u8>> {
    let size = element_bytes(v.dtype).ok_or_else(|| cx.unsupported(format!("the bytes of {} elements", v.dtype)))?;
    let mut out = Vec::with_capacity(v.data.len() * size);
    for &x in &v.data {
        match v.dtype {
            DType::Bool => out.push(u8::from(x != 0.0)),
            DType::I8 => out.extend((x as i8).to_le_bytes()),
            DType::U8 => out.extend((x as u8).to_le_bytes()),
            DType::F16 => out.extend(f16::from_f64(x).to_le_bytes()),
            DType::I16 => out.extend((x as i16).to_le_bytes()),
            DType::U16 => out.extend((x as u16).to_le_bytes()),
            DType::F32 => out.extend((x as f32).to_le_bytes()),
            DType::I32 => out.extend((x as i32).to_le_bytes()),
            DType::U32 => out.extend((x as u32).to_le_bytes()),
            DType::F64 => out.extend(x.to_le_bytes()),
            DType::I64 => out.extend((x as i64).to_le_bytes()),
            _ => return Err(cx.internal()),
        }
    }
    Ok(out)
}

/// Elements of `dtype` read from little-endian `bytes` (whole elements).
fn from_bytes(cx: &Cx<'_>, dtype: DType, bytes: &[u8]) -> Result<Vec<f64>> {
    let size = element_bytes(dtype).ok_or_else(|| cx.unsupported(format!("output type {dtype}")))?;
    let mut out = Vec::with_capacity(bytes.len() / size);
    for c in bytes.chunks_exact(size) {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(c);
        let [b0, b1, b2, b3, ..] = b;
        let v = match dtype {
            DType::Bool if b0 > 1 => return Err(cx.unsupported(format!("byte {b0} as a bool (not 0 or 1)"))),
            DType::Bool => f64::from(b0),
            DType::I8 => f64::from(b0 as i8),
            DType::U8 => f64::from(b0),
            DType::F16 => f16::from_le_bytes([b0, b1]).to_f64(),
            DType::I16 => f64::from(i16::from_le_bytes([b0, b1])),
            DType::U16 => f64::from(u16::from_le_bytes([b0, b1])),
            DType::F32 => f64::from(f32::from_le_bytes([b0, b1, b2, b3])),
            DType::I32 => f64::from(i32::from_le_bytes([b0, b1, b2, b3])),
            DType::U32 => f64::from(u32::from_le_bytes([b0, b1, b2, b3])),
            DType::F64 => f64::from_le_bytes(b),
            DType::I64 => {
                let i = i64::from_le_bytes(b);
                // The evaluator holds elements as f64: only integers up to
                // 2^53 are exact.
                if i.unsigned_abs() > 1 << 53 {
                    return Err(cx.unsupported(format!("int64 {i} is beyond the evaluator's exact range (2^53)")));
                }
                i as f64
            }
            _ => return Err(cx.internal()),
        };
        out.push(v);
    }
    Ok(out)
}

/// BITCAST: the input's bytes as the output's type; a smaller output type
/// adds an innermost axis, a larger one folds the innermost axis away.
fn bitcast(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let out = cx.output()?;
    let unsupported = |t: DType| cx.unsupported(format!("element type {t}"));
    let isz = element_bytes(x.dtype).ok_or_else(|| unsupported(x.dtype))?;
    let osz = element_bytes(out.dtype).ok_or_else(|| unsupported(out.dtype))?;
    let mut shape = x.shape.clone();
    if isz > osz {
        shape.push(isz / osz);
    } else if isz < osz {
        if shape.last() != Some(&(osz / isz)) {
            return Err(cx.shape_err(format!("{} to {}: the innermost dimension of {:?} must be {}", x.dtype, out.dtype, x.shape, osz / isz)));
        }
        shape.pop();
    }
    cx.numel(&shape)?;
    let data = from_bytes(cx, out.dtype, &to_bytes(cx, x)?)?;
    Ok(vec![Value { dtype: out.dtype, shape, data, quantization: out.quantization.clone() }])
}

/// HASHTABLE_LOOKUP: rows of `values` for the keys found (binary search in
/// the ascending `keys`), zeros for the others; `hits` is 1 or 0.
fn hashtable_lookup(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let lookup = cx.input(0, "lookup")?;
    let keys = cx.input(1, "keys")?;
    let values = cx.input(2, "values")?;
    let [out, hits] = cx.outputs else {
        return Err(cx.shape_err(format!("has 2 outputs, {} given", cx.outputs.len())));
    };
    if lookup.shape.len() != 1 || keys.shape.len() != 1 || values.shape.first() != keys.shape.first() {
        return Err(cx.shape_err(format!("lookup {:?} and keys {:?} must be vectors, values {:?} one row per key", lookup.shape, keys.shape, values.shape)));
    }
    if lookup.dtype != DType::I32 || keys.dtype != DType::I32 {
        return Err(cx.unsupported(format!("lookup {} and keys {} (int32 only)", lookup.dtype, keys.dtype)));
    }
    if out.dtype != values.dtype || hits.dtype != DType::U8 {
        return Err(cx.unsupported(format!("outputs {} and {} for values {} (want the values' type and uint8)", out.dtype, hits.dtype, values.dtype)));
    }
    let look = cx.ints(lookup, "lookup")?;
    let k = cx.ints(keys, "keys")?;
    if k.windows(2).any(|w| w[0] >= w[1]) {
        return Err(cx.shape_err("keys must be strictly ascending (the kernel binary-searches them)"));
    }
    let row = values.shape[1..].iter().product::<usize>();
    let mut shape = values.shape.clone();
    shape[0] = look.len();
    let n = cx.numel(&shape)?;
    let mut data = Vec::with_capacity(n);
    let mut hit = Vec::with_capacity(look.len());
    for key in &look {
        match k.binary_search(key) {
            Ok(i) => {
                data.extend_from_slice(cx.slice(&values.data, i * row, row)?);
                hit.push(1.0);
            }
            Err(_) => {
                // Zero bytes: 0 of any type (the zero point is not used).
                data.extend(std::iter::repeat_n(0.0, row));
                hit.push(0.0);
            }
        }
    }
    Ok(vec![
        Value { dtype: out.dtype, shape, data, quantization: out.quantization.clone() },
        Value { dtype: DType::U8, shape: vec![look.len()], data: hit, quantization: None },
    ])
}

/// EMBEDDING_LOOKUP_SPARSE: weighted rows of `params` summed per output
/// bucket (the index minus its last coordinate), in float32 and in the
/// order of the ids; MEAN divides by the total weight, SQRTN by the square
/// root of the summed squared weights, when a bucket is left.
fn embedding_lookup_sparse(cx: &Cx<'_>, o: &EmbeddingLookupSparseOptions) -> Result<Vec<Value>> {
    cx.arity(5, 5)?;
    let ids = cx.input(0, "ids")?;
    let indices = cx.input(1, "indices")?;
    let dense = cx.input(2, "dense_shape")?;
    let weights = cx.input(3, "weights")?;
    let params = cx.input(4, "params")?;
    if params.dtype != DType::F32 || weights.dtype != DType::F32 {
        return Err(cx.unsupported(format!("params {} and weights {} (float32 only)", params.dtype, weights.dtype)));
    }
    let n = ids.data.len();
    let [rows, rank] = <[usize; 2]>::try_from(indices.shape.as_slice()).map_err(|_| cx.shape_err(format!("indices must be a matrix, is {:?}", indices.shape)))?;
    if ids.shape.len() != 1 || rows != n || weights.shape != [n] || dense.shape != [rank] || params.shape.len() < 2 || rank == 0 {
        return Err(cx.shape_err(format!(
            "ids {:?}, indices {:?}, dense_shape {:?}, weights {:?} and params {:?} do not fit",
            ids.shape, indices.shape, dense.shape, weights.shape, params.shape
        )));
    }
    let ids = cx.ints(ids, "ids")?;
    let idx = cx.ints(indices, "indices")?;
    let lead: Vec<usize> = cx
        .ints(dense, "dense_shape")?
        .iter()
        .take(rank - 1)
        .map(|d| usize::try_from(*d).map_err(|_| cx.shape_err(format!("negative dense_shape dimension {d}"))))
        .collect::<Result<_>>()?;
    let mut shape = lead.clone();
    shape.extend_from_slice(&params.shape[1..]);
    let total = cx.numel(&shape)?;
    let emb: usize = params.shape[1..].iter().product();
    let num_rows = params.shape[0];
    let mut out = vec![0f32; total];
    let finalize = |out: &mut [f32], at: usize, count: usize, sum: f32, squares: f32| {
        let div = match o.combiner {
            CombinerType::Sum => return,
            CombinerType::Mean => sum,
            CombinerType::Sqrtn => squares.sqrt(),
        };
        if count > 0 {
            out[at..at + emb].iter_mut().for_each(|v| *v /= div);
        }
    };
    let (mut at, mut count, mut sum, mut squares) = (0usize, 0usize, 0f32, 0f32);
    for i in 0..n {
        let id = usize::try_from(ids[i]).ok().filter(|id| *id < num_rows).ok_or_else(|| cx.shape_err(format!("id {} is out of range for {num_rows} rows", ids[i])))?;
        let mut bucket = 0usize;
        for (k, d) in lead.iter().enumerate() {
            let c = usize::try_from(idx[i * rank + k]).ok().filter(|c| c < d).ok_or_else(|| cx.shape_err(format!("index row {i} lies outside dense_shape")))?;
            bucket = bucket * d + c;
        }
        let offset = bucket * emb;
        if offset != at {
            finalize(&mut out, at, count, sum, squares);
            (at, count, sum, squares) = (offset, 0, 0.0, 0.0);
        }
        let w = weights.data[i] as f32;
        count += 1;
        sum += w;
        squares += w * w;
        let src = cx.slice(&params.data, id * emb, emb)?;
        for (dst, v) in out[at..at + emb].iter_mut().zip(src) {
            *dst += *v as f32 * w;
        }
    }
    finalize(&mut out, at, count, sum, squares);
    cx.finish(shape, out.into_iter().map(f64::from).collect())
}

/// LSH_PROJECTION: each bit is the sign of the (weighted) sum over the
/// input's rows of farmhash `Fingerprint64(seed bytes ++ row bytes)` taken
/// as a signed integer; SPARSE packs a hash function's bits into one
/// integer plus `k << num_bits`, DENSE writes the bits.
fn lsh_projection(cx: &Cx<'_>, o: &LshProjectionOptions) -> Result<Vec<Value>> {
    cx.arity(2, 3)?;
    let hash = cx.input(0, "hash")?;
    let x = cx.input(1, "input")?;
    let weight = cx.optional(2);
    let [num_hash, num_bits] = <[usize; 2]>::try_from(hash.shape.as_slice()).map_err(|_| cx.shape_err(format!("hash must be a matrix, is {:?}", hash.shape)))?;
    if hash.dtype != DType::F32 || num_bits > 32 {
        return Err(cx.shape_err(format!("hash must be float32 with at most 32 columns, is {} {:?}", hash.dtype, hash.shape)));
    }
    let rows = *x.shape.first().filter(|r| **r > 0).ok_or_else(|| cx.shape_err(format!("input {:?} has no rows", x.shape)))?;
    if let Some(w) = weight
        && (w.dtype != DType::F32 || w.shape != [rows])
    {
        return Err(cx.shape_err(format!("weight must be float32 of shape [{rows}], is {} {:?}", w.dtype, w.shape)));
    }
    let bytes = to_bytes(cx, x)?;
    let row_bytes = bytes.len() / rows;
    let mut key = Vec::with_capacity(4 + row_bytes);
    let mut bit = |seed: f64| -> u32 {
        let mut score = 0f64;
        for i in 0..rows {
            let row = bytes.get(i * row_bytes..(i + 1) * row_bytes).unwrap_or(&[]);
            key.clear();
            key.extend_from_slice(&(seed as f32).to_le_bytes());
            key.extend_from_slice(row);
            let h = fingerprint64(&key) as i64 as f64;
            score += weight.map_or(h, |w| (w.data[i] as f32) as f64 * h);
        }
        u32::from(score > 0.0)
    };
    let data: Vec<f64> = match o.kind {
        LshProjectionType::Sparse => (0..num_hash)
            .map(|i| {
                let sig = (0..num_bits).fold(0u32, |s, j| (s << 1) | bit(hash.data[i * num_bits + j]));
                f64::from((sig as i32).wrapping_add((i as i32).wrapping_mul(1i32.wrapping_shl(num_bits as u32))))
            })
            .collect(),
        LshProjectionType::Dense => (0..num_hash * num_bits).map(|k| f64::from(bit(hash.data[k]))).collect(),
        other => return Err(cx.unsupported(format!("projection type {other:?}"))),
    };
    let shape = vec![data.len()];
    cx.finish_raw(shape, data)
}

/// DENSIFY: the evaluator densifies sparse constants when it reads them
/// (see `eval::sparse`), so the op copies its operand.
fn densify(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    cx.same_type(x)?;
    let out = cx.output()?;
    Ok(vec![Value { dtype: x.dtype, shape: x.shape.clone(), data: x.data.clone(), quantization: out.quantization.clone() }])
}
