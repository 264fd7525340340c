//! Weight-only int8: the weights of CONV_2D, DEPTHWISE_CONV_2D,
//! FULLY_CONNECTED, TRANSPOSE_CONV and a constant BATCH_MATMUL operand
//! become int8 constants (symmetric, per output channel unless
//! [`super::QuantizeOptions::per_channel`] is off), each followed by a
//! `DEQUANTIZE` that restores float32 at run time.
//!
//! Unlike [`super::Mode::DynamicRange`], every op still computes in float
//! with the float kernels (XNNPACK's included): only the file shrinks, the
//! results are the float model's on rounded weights, with no on-the-fly
//! input quantization. Like float16 weights, but a quarter of the bytes.

use super::params::symmetric_weights;
use super::{QuantizeError, QuantizeOptions};
use crate::model::{ConstData, DType, Model, Op, Operator, Tensor, TensorId};

/// The weight slot of an op and its output-channel axis.
fn weight_slot(op: &Op) -> Option<(usize, Option<usize>)> {
    Some(match op {
        Op::Conv2d(_) | Op::FullyConnected(_) | Op::TransposeConv(_) => (1, Some(0)),
        Op::DepthwiseConv2d(_) => (1, Some(3)),
        Op::BatchMatMul(_) => (1, None),
        _ => return None,
    })
}

pub(super) fn rewrite(model: &Model, options: &QuantizeOptions) -> Result<Model, QuantizeError> {
    let mut out = model.clone();
    let sg = &mut out.subgraphs[0];
    let mut axes: Vec<Option<Option<usize>>> = vec![None; sg.tensors.len()];
    for node in &sg.operators {
        let Some((slot, axis)) = weight_slot(&node.op) else { continue };
        let Some(t) = node.inputs.get(slot).copied().flatten() else { continue };
        if let Some(a) = axes.get_mut(t.index()) {
            // Per channel only when every reader agrees on the axis.
            *a = Some(match *a {
                Some(prev) if prev != axis => None,
                _ => axis.filter(|_| options.per_channel),
            });
        }
    }
    let mut prologue = Vec::new();
    for (i, axis) in axes.into_iter().enumerate() {
        let Some(axis) = axis else { continue };
        let t = &sg.tensors[i];
        let big = t.shape.num_elements().is_some_and(|n| n >= options.min_weight_elements as u64);
        let Some(data) = t.data.as_ref().filter(|_| t.dtype == DType::F32 && t.quantization.is_none() && t.sparsity.is_none() && big) else {
            continue;
        };
        let dims: Vec<usize> = t.shape.dims().iter().map(|d| d.fixed().unwrap_or(1) as usize).collect();
        let Some((quant, q)) = symmetric_weights(&data.to_vec::<f32>(), &dims, axis) else { continue };
        let mut int8 = Tensor::new(format!("{}/int8", t.name), DType::I8, t.shape.clone());
        int8.has_rank = t.has_rank;
        int8.quantization = Some(quant);
        int8.data = Some(ConstData::from_slice(&q));
        let id = TensorId(u32::try_from(sg.tensors.len()).map_err(|_| QuantizeError::Model("too many tensors".into()))?);
        sg.tensors.push(int8);
        sg.tensors[i].data = None;
        prologue.push(Operator::new(Op::Dequantize, &[id], &[TensorId(i as u32)]));
    }
    prologue.append(&mut sg.operators);
    sg.operators = prologue;
    Ok(out)
}
