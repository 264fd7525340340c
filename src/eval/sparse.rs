//! Densifying sparse constants, as LiteRT's `FormatConverter::SparseToDense`
//! (and so its `DENSIFY` kernel) does: the stored values are visited in
//! traversal order, dense dimensions enumerate every index, CSR dimensions
//! the indices of their segment, and block dimensions refine the index of
//! the dimension they split.

use std::fmt::Display;

use super::{EvalError, Value};
use crate::model::{SparseDim, Sparsity};

/// The deepest traversal the evaluator follows (dimensions plus blocks).
const MAX_TRAVERSED: usize = 16;

struct Walk<'a> {
    shape: &'a [usize],
    order: Vec<usize>,
    block_map: Vec<usize>,
    block_size: Vec<usize>,
    dims: &'a [SparseDim],
    values: &'a [f64],
    out: Vec<f64>,
    next: usize,
    name: &'a str,
}

impl Walk<'_> {
    fn err(&self, detail: impl Display) -> EvalError {
        EvalError::Graph { detail: format!("sparse constant {:?}: {detail}", self.name) }
    }

    fn visit(&mut self, level: usize, prev: usize, idx: &mut [usize]) -> Result<(), EvalError> {
        let rank = self.shape.len();
        if level == idx.len() {
            let mut orig = vec![0usize; rank];
            for (i, &d) in self.order.iter().enumerate() {
                if d < rank {
                    orig[d] = idx[i];
                }
            }
            for (i, &d) in self.order.iter().enumerate() {
                if d >= rank {
                    let b = d - rank;
                    let od = self.block_map[b];
                    orig[od] = orig[od] * self.block_size[b] + idx[i];
                }
            }
            let mut flat = 0usize;
            for (o, s) in orig.iter().zip(self.shape) {
                if o >= s {
                    return Err(self.err(format!("index {orig:?} lies outside the shape {:?}", self.shape)));
                }
                flat = flat * s + o;
            }
            let v = *self.values.get(self.next).ok_or_else(|| self.err(format!("stores {} values, the indices need more", self.values.len())))?;
            self.out[flat] = v;
            self.next += 1;
            return Ok(());
        }
        let dims = self.dims;
        match &dims[level] {
            SparseDim::Dense(size) => {
                let size = *size as usize;
                for i in 0..size {
                    idx[level] = i;
                    self.visit(level + 1, prev * size + i, idx)?;
                }
            }
            SparseDim::Csr { segments, indices } => {
                let (Some(&lo), Some(&hi)) = (segments.get(prev), segments.get(prev + 1)) else {
                    return Err(self.err(format!("traversed dimension {level} has {} segment bounds, position {prev} needs more", segments.len())));
                };
                let (lo, hi) = (usize::try_from(lo).unwrap_or(usize::MAX), usize::try_from(hi).unwrap_or(0));
                if lo > hi || hi > indices.len() {
                    return Err(self.err(format!("segment {prev} of traversed dimension {level} is out of order or range")));
                }
                for (i, &at) in indices.iter().enumerate().take(hi).skip(lo) {
                    idx[level] = usize::try_from(at).map_err(|_| self.err(format!("negative index {at}")))?;
                    self.visit(level + 1, i, idx)?;
                }
            }
        }
        Ok(())
    }
}

/// The dense value of shape `shape` that sparse `s` and its `stored` values
/// (in traversal order) describe.
pub(crate) fn densify(name: &str, s: &Sparsity, shape: Vec<usize>, n: usize, stored: Value) -> Result<Value, EvalError> {
    let graph = |detail: String| EvalError::Graph { detail: format!("sparse constant {name:?}: {detail}") };
    let rank = shape.len();
    let dims = s.dims().ok_or_else(|| graph("a dimension has an unknown storage format".into()))?;
    let to_usize = |v: &[i32]| v.iter().map(|x| usize::try_from(*x).ok()).collect::<Option<Vec<usize>>>();
    let order = to_usize(s.traversal_order()).ok_or_else(|| graph("negative traversal order".into()))?;
    let block_map = to_usize(s.block_map()).ok_or_else(|| graph("negative block map".into()))?;
    let total = rank + block_map.len();
    let mut seen = vec![false; total];
    let permutation = order.len() == total && order.iter().all(|d| *d < total && !std::mem::replace(&mut seen[*d], true));
    if !permutation || dims.len() != total || total > MAX_TRAVERSED || block_map.iter().any(|d| *d >= rank) {
        return Err(graph(format!(
            "traversal order {order:?}, block map {block_map:?} and {} dimension records do not fit rank {rank} (at most {MAX_TRAVERSED} traversed)",
            dims.len()
        )));
    }
    // Block sizes: the dense sizes of the records after the original rank
    // (only dense blocks exist, as in LiteRT's converter).
    let mut block_size = Vec::with_capacity(block_map.len());
    for (b, &d) in block_map.iter().enumerate() {
        match dims[rank + b] {
            SparseDim::Dense(k) if k > 0 && shape[d].is_multiple_of(k as usize) => block_size.push(k as usize),
            _ => return Err(graph(format!("block {b} is not a dense divisor of dimension {d} ({})", shape[d]))),
        }
    }
    // Dense records must give the size of what they traverse.
    for (level, &d) in order.iter().enumerate() {
        let expect = if d < rank {
            block_map.iter().position(|m| *m == d).map_or(shape[d], |b| shape[d] / block_size[b])
        } else {
            block_size[d - rank]
        };
        if let SparseDim::Dense(k) = dims[level]
            && usize::try_from(k).ok() != Some(expect)
        {
            return Err(graph(format!("traversed dimension {level} is dense of size {k}, the shape needs {expect}")));
        }
    }
    let mut walk = Walk { shape: &shape, order, block_map, block_size, dims: &dims, values: &stored.data, out: vec![0.0; n], next: 0, name };
    let mut idx = vec![0usize; total];
    walk.visit(0, 0, &mut idx)?;
    if walk.next != stored.data.len() {
        return Err(graph(format!("stores {} values, the indices use {}", stored.data.len(), walk.next)));
    }
    let out = walk.out;
    Ok(Value { dtype: stored.dtype, shape, data: out, quantization: stored.quantization })
}

#[cfg(test)]
mod tests {
    use crate::eval::{EvalError, Value};
    use crate::model::{ConstData, DType, Shape, SparseDim, Sparsity, Tensor};

    fn sparse(values: &[f32], shape: [u32; 2], s: Sparsity) -> Tensor {
        let mut t = Tensor::new("w", DType::F32, Shape::from(shape)).with_data(ConstData::from_slice(values));
        t.sparsity = Some(s);
        t
    }

    fn csr(segments: Vec<i32>, indices: Vec<i32>) -> Sparsity {
        Sparsity::new(vec![0, 1], vec![], vec![SparseDim::Dense(2), SparseDim::Csr { segments, indices }])
    }

    #[test]
    fn csr_and_block_csr_densify() {
        let v = Value::from_const(&sparse(&[5.0, 7.0, 8.0], [2, 3], csr(vec![0, 1, 3], vec![1, 0, 2]))).unwrap();
        assert_eq!(v.shape, [2, 3]);
        assert_eq!(v.data, [0.0, 5.0, 0.0, 7.0, 0.0, 8.0]);
        // 2x4 in 1x2 blocks: block 1 of row 0, block 0 of row 1.
        let s = Sparsity::new(vec![0, 1, 2], vec![1], vec![SparseDim::Dense(2), SparseDim::Csr { segments: vec![0, 1, 2], indices: vec![1, 0] }, SparseDim::Dense(2)]);
        let t = sparse(&[1.0, 2.0, 3.0, 4.0], [2, 4], s);
        assert_eq!(Value::from_const(&t).unwrap().data, [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
    }

    #[test]
    fn malformed_sparsity_is_a_graph_error() {
        let bad = [
            // An index past the dimension.
            sparse(&[5.0, 7.0, 8.0], [2, 3], csr(vec![0, 1, 3], vec![1, 0, 3])),
            // Segments that run past the indices.
            sparse(&[5.0, 7.0, 8.0], [2, 3], csr(vec![0, 1, 4], vec![1, 0, 2])),
            // Too few segment bounds for the rows.
            sparse(&[5.0], [2, 3], csr(vec![0, 1], vec![1])),
            // More values than indices.
            sparse(&[5.0, 7.0, 8.0, 9.0], [2, 3], csr(vec![0, 1, 3], vec![1, 0, 2])),
            // A dense record that does not match the shape.
            sparse(&[1.0; 6], [2, 3], Sparsity::new(vec![0, 1], vec![], vec![SparseDim::Dense(3), SparseDim::Dense(2)])),
            // Not a permutation.
            sparse(&[1.0; 6], [2, 3], Sparsity::new(vec![0, 0], vec![], vec![SparseDim::Dense(2), SparseDim::Dense(3)])),
        ];
        for t in bad {
            let e = Value::from_const(&t).expect_err("malformed sparsity");
            assert!(matches!(e, EvalError::Graph { .. }), "{e}");
        }
    }
}
