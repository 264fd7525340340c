//! Float16 weights: each float32 constant becomes a float16 constant and a
//! `DEQUANTIZE` op that restores the original float32 tensor at run time.

use half::f16;

use super::QuantizeError;
use crate::model::{ConstData, DType, Model, Op, Operator, Tensor, TensorId};

pub(super) fn rewrite(model: &Model) -> Result<Model, QuantizeError> {
    let mut out = model.clone();
    let sg = &mut out.subgraphs[0];
    let mut prologue = Vec::new();
    for i in 0..sg.tensors.len() {
        let t = &sg.tensors[i];
        let Some(data) = t.data.as_ref().filter(|_| t.dtype == DType::F32 && t.quantization.is_none()) else { continue };
        let halves: Vec<f16> = data.to_vec::<f32>().into_iter().map(f16::from_f32).collect();
        let mut half = Tensor::new(format!("{}/float16", t.name), DType::F16, t.shape.clone());
        half.has_rank = t.has_rank;
        half.data = Some(ConstData::from_slice(&halves));
        let id = TensorId(u32::try_from(sg.tensors.len()).map_err(|_| QuantizeError::Model("too many tensors".into()))?);
        sg.tensors.push(half);
        // The original tensor is now computed, not stored.
        sg.tensors[i].data = None;
        prologue.push(Operator::new(Op::Dequantize, &[id], &[TensorId(i as u32)]));
    }
    prologue.append(&mut sg.operators);
    sg.operators = prologue;
    Ok(out)
}
