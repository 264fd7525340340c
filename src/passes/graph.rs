//! Producer and consumer lookups over a subgraph, and small edit helpers
//! shared by the passes.

use crate::model::*;

/// Who produces and who reads each tensor.
pub(crate) struct Uses {
    pub producer: Vec<Option<usize>>,
    /// (operator, input slot) pairs.
    pub consumers: Vec<Vec<(usize, usize)>>,
    pub is_output: Vec<bool>,
}

impl Uses {
    pub(crate) fn of(sg: &Subgraph) -> Uses {
        let n = sg.tensors.len();
        let mut producer = vec![None; n];
        let mut consumers = vec![Vec::new(); n];
        let mut is_output = vec![false; n];
        for (i, op) in sg.operators.iter().enumerate() {
            for t in &op.outputs {
                if let Some(p) = producer.get_mut(t.index()) {
                    *p = Some(i);
                }
            }
            for (slot, t) in op.inputs.iter().enumerate() {
                if let Some(t) = t
                    && let Some(c) = consumers.get_mut(t.index()) {
                        c.push((i, slot));
                    }
            }
        }
        for t in &sg.outputs {
            if let Some(o) = is_output.get_mut(t.index()) {
                *o = true;
            }
        }
        Uses { producer, consumers, is_output }
    }
}

/// The constant integer values of a tensor (int32 or int64).
pub(crate) fn const_ints(sg: &Subgraph, t: TensorId) -> Option<Vec<i64>> {
    sg.tensor(t).and_then(crate::infer::const_ints)
}

/// The permutation of a TRANSPOSE op, if constant and valid.
pub(crate) fn perm_of(sg: &Subgraph, op: &Operator) -> Option<Vec<usize>> {
    if op.op != Op::Transpose {
        return None;
    }
    let p = const_ints(sg, op.input(1)?)?;
    let r = p.len();
    let p: Vec<usize> = p.iter().map(|v| usize::try_from(*v).ok().filter(|v| *v < r)).collect::<Option<_>>()?;
    let mut seen = vec![false; r];
    for v in &p {
        if std::mem::replace(&mut seen[*v], true) {
            return None;
        }
    }
    Some(p)
}

/// The inverse permutation.
pub(crate) fn inverse(p: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; p.len()];
    for (i, v) in p.iter().enumerate() {
        inv[*v] = i;
    }
    inv
}

pub(crate) fn is_identity(p: &[usize]) -> bool {
    p.iter().enumerate().all(|(i, v)| i == *v)
}

/// Transposes a shape by `perm` (out[i] = in[perm[i]]).
pub(crate) fn permute_shape(s: &Shape, perm: &[usize]) -> Shape {
    Shape::from_dims(perm.iter().map(|p| s.dims()[*p]).collect())
}

/// A new constant tensor equal to `t` (constant, fixed shape) expanded to
/// `rank` with leading 1s and transposed by `perm`.
pub(crate) fn permuted_constant(t: &Tensor, rank: usize, perm: &[usize]) -> Option<Tensor> {
    let data = t.data.as_ref()?;
    let es = (t.dtype.bits()? / 8) as usize;
    if es == 0 || t.sparsity.is_some() || t.quantization.as_ref().is_some_and(|q| q.scale.len() > 1) {
        return None;
    }
    let fixed = t.shape.as_fixed()?;
    if fixed.len() > rank {
        return None;
    }
    let mut dims: Vec<usize> = vec![1; rank - fixed.len()];
    dims.extend(fixed.iter().map(|d| *d as usize));
    let bytes = crate::util::transpose_bytes(data.as_bytes(), es, &dims, perm)?;
    let shape = Shape::new(perm.iter().map(|p| dims[*p] as u32));
    let mut out = Tensor::new(format!("{}/permuted", t.name), t.dtype, shape).with_data(ConstData::from_bytes(bytes));
    out.quantization = t.quantization.clone();
    Some(out)
}

/// Adds a constant int32 vector tensor.
pub(crate) fn add_i32(sg: &mut Subgraph, name: String, v: &[i32]) -> TensorId {
    sg.tensors.push(Tensor::new(name, DType::I32, Shape::new([v.len() as u32])).with_data(ConstData::from_slice(v)));
    TensorId(sg.tensors.len() as u32 - 1)
}
