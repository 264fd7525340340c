//! Dynamic range quantization: int8 weights, float activations.
//!
//! As TensorFlow's converter does it: the constant float weights of
//! CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (and the constant right
//! operand of BATCH_MATMUL) with at least
//! [`QuantizeOptions::min_weight_elements`] elements become int8, symmetric
//! in `[-127, 127]`:
//! - CONV_2D per output channel (axis 0), or per tensor without
//!   [`QuantizeOptions::per_channel`];
//! - DEPTHWISE_CONV_2D always per channel (axis 3): its hybrid kernel reads
//!   one scale per channel;
//! - FULLY_CONNECTED per output unit (axis 0), or per tensor, with
//!   `asymmetric_quantize_inputs`;
//! - BATCH_MATMUL per tensor (its hybrid kernel ignores zero points and
//!   reads per-channel scales along the transposed operand), with
//!   `asymmetric_quantize_inputs`.
//!
//! Inputs, outputs and biases stay float: the runtime runs the hybrid
//! kernels, which quantize the float input on the fly, multiply in integers
//! and return float. Grouped convolutions and weights shared with ops that
//! have no hybrid kernel keep float copies.
//!
//! With [`QuantizeOptions::int4_block_size`], FULLY_CONNECTED weights get
//! blockwise int4 scales instead of per-channel ones where LiteRT's kernels
//! compute them correctly (see `blockwise.rs`); the others keep per-channel
//! int4 and are returned as [`BlockwiseFallback`]s. LiteRT's blockwise
//! kernel ignores fused activations: those FULLY_CONNECTED ops get theirs
//! as a separate op after them, writing the original output tensor.

use std::collections::BTreeMap;

use super::blockwise::{activation_op, blockwise_int4, unsuitable, BlockwiseFallbackReason};
use super::params::symmetric_weights;
use super::{BlockwiseFallback, QuantizeError, QuantizeOptions};
use crate::model::*;

/// The hybrid uses of weight tensors: tensor index → scale axis →
/// (operator, input slot).
type Uses = BTreeMap<usize, BTreeMap<Option<usize>, Vec<(usize, usize)>>>;

fn is_float(t: &Tensor) -> bool {
    t.dtype == DType::F32 && t.quantization.is_none()
}

/// The weight slot of a hybrid-capable op and the axis of its scales, if
/// the op can run its hybrid kernel on these tensors.
fn hybrid_weights(sg: &Subgraph, node: &Operator, options: &QuantizeOptions) -> Option<(usize, Option<usize>)> {
    let tensor = |slot: usize| node.inputs.get(slot).copied().flatten().and_then(|t| sg.tensor(t));
    let float_in = tensor(0).is_some_and(is_float);
    let float_out = node.outputs.first().and_then(|t| sg.tensor(*t)).is_some_and(is_float);
    let float_bias = |slot: usize| tensor(slot).is_none_or(is_float);
    let per_channel = |axis: usize| options.per_channel.then_some(axis);
    let (slot, axis) = match &node.op {
        Op::Conv2d(_) => {
            // The hybrid kernel has no grouped form.
            let (x, w) = (tensor(0)?, tensor(1)?);
            let (c, wc) = (x.shape.dim(3)?, w.shape.dim(3)?);
            if c != wc || !float_bias(2) {
                return None;
            }
            (1, per_channel(0))
        }
        Op::DepthwiseConv2d(_) if float_bias(2) => (1, Some(3)),
        Op::FullyConnected(o) if o.weights_format == WeightsFormat::Default && float_bias(2) => (1, per_channel(0)),
        Op::BatchMatMul(_) => (1, None),
        _ => return None,
    };
    let w = tensor(slot)?;
    let big = w.shape.num_elements().is_some_and(|n| n >= options.min_weight_elements as u64);
    (float_in && float_out && is_float(w) && w.is_constant() && w.sparsity.is_none() && big).then_some((slot, axis))
}

/// The weights `float` (values `values`, shape `dims`) as blockwise int4
/// with blocks of `block_size`, read by the FULLY_CONNECTED ops `readers`
/// (operator indices): the INT4 weight tensor and its FLOAT16 scale tensor
/// (which the caller appends to the subgraph as tensor `scale_id`), or why
/// not.
fn blockwise(
    sg: &Subgraph,
    float: &Tensor,
    values: &[f32],
    dims: &[usize],
    block_size: u32,
    readers: &[usize],
    scale_id: TensorId,
) -> Result<(Tensor, Tensor), BlockwiseFallbackReason> {
    let activations: Vec<Activation> =
        readers.iter().filter_map(|oi| match &sg.operators[*oi].op { Op::FullyConnected(o) => Some(o.activation), _ => None }).collect();
    let (out, inner) = match dims {
        [o, i] => (*o, *i),
        // FULLY_CONNECTED weights are 2-D (the validator checks it).
        _ => return Err(BlockwiseFallbackReason::NotDivisible { input_dim: 0, block_size }),
    };
    let dim = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    if let Some(reason) = unsuitable(dim(out), dim(inner), block_size, &activations) {
        return Err(reason);
    }
    let (scales, q) = blockwise_int4(values, out, inner, block_size as usize).ok_or(BlockwiseFallbackReason::ScaleOutOfRange)?;
    let mut weights = float.clone();
    weights.dtype = DType::I4;
    weights.data = Some(ConstData::from_bytes(super::int4::pack_int4(&q)));
    // As ai-edge-quantizer: quantized dimension 0, no affine scales, no
    // zero-point tensor.
    weights.quantization = Some(Quantization { details: Some(QuantDetails::Blockwise(BlockwiseQuant::new(scale_id, block_size))), ..Default::default() });
    let scale_tensor = Tensor::new(format!("{}_scales", float.name), DType::F16, [out as u32, (inner / block_size as usize) as u32])
        .with_data(ConstData::from_slice(&scales));
    Ok((weights, scale_tensor))
}

/// Rewrites subgraph 0 with int8 weights for the hybrid kernels; with
/// [`QuantizeOptions::int4_block_size`], also returns the weights that kept
/// per-channel int4.
pub(super) fn rewrite(model: &Model, options: &QuantizeOptions) -> Result<(Model, Vec<BlockwiseFallback>), QuantizeError> {
    let mut fallbacks = Vec::new();
    // FULLY_CONNECTED ops with blockwise weights whose fused activation
    // moves to an op of its own.
    let mut split = Vec::new();
    let mut out = model.clone();
    let sg = &mut out.subgraphs[0];

    // The hybrid uses of each weight tensor, by scale axis.
    let mut uses = Uses::new();
    for (oi, node) in sg.operators.iter().enumerate() {
        let Some((slot, axis)) = hybrid_weights(sg, node, options) else { continue };
        let Some(t) = node.inputs.get(slot).copied().flatten() else { continue };
        uses.entry(t.index()).or_default().entry(axis).or_default().push((oi, slot));
    }
    let readers = |sg: &Subgraph, t: usize| -> usize {
        let reads: usize = sg.operators.iter().map(|o| o.inputs.iter().flatten().filter(|x| x.index() == t).count()).sum();
        reads + sg.outputs.iter().filter(|x| x.index() == t).count()
    };

    for (t, by_axis) in uses {
        let float = sg.tensors[t].clone();
        let values = float.data.as_ref().map(|d| d.to_vec::<f32>()).unwrap_or_default();
        let dims: Vec<usize> = float.shape.dims().iter().map(|d| d.fixed().unwrap_or(1) as usize).collect();
        // When hybrid ops are the only readers, the first int8 version takes
        // the float tensor's place; other axes (and any float readers) get
        // their own tensors.
        let hybrid: usize = by_axis.values().map(Vec::len).sum();
        let mut reuse = hybrid == readers(sg, t);
        // Int4 weights only where every hybrid reader is FULLY_CONNECTED.
        let int4 = options.int4_weights
            && by_axis.values().flatten().all(|(oi, _)| matches!(sg.operators[*oi].op, Op::FullyConnected(_)));
        if int4 && let Some(block_size) = options.int4_block_size {
            // One blockwise tensor serves every reader, whatever its axis.
            let slots: Vec<(usize, usize)> = by_axis.values().flatten().copied().collect();
            let readers: Vec<usize> = slots.iter().map(|(oi, _)| *oi).collect();
            let new_id = |n: usize| u32::try_from(n).map(TensorId).map_err(|_| QuantizeError::Model("too many tensors".into()));
            let scale_id = new_id(sg.tensors.len())?;
            match blockwise(sg, &float, &values, &dims, block_size, &readers, scale_id) {
                Ok((mut weights, scales)) => {
                    sg.tensors.push(scales);
                    let id = if reuse {
                        sg.tensors[t] = weights;
                        TensorId(t as u32)
                    } else {
                        weights.name = format!("{}/int4_block{block_size}", float.name);
                        let id = new_id(sg.tensors.len())?;
                        sg.tensors.push(weights);
                        id
                    };
                    for (oi, slot) in slots {
                        let node = &mut sg.operators[oi];
                        if let Some(s) = node.inputs.get_mut(slot) {
                            *s = Some(id);
                        }
                        if let Op::FullyConnected(o) = &mut node.op {
                            o.asymmetric_quantize_inputs = true;
                            if o.activation != Activation::None {
                                split.push(oi);
                            }
                        }
                    }
                    continue;
                }
                Err(reason) => fallbacks.push(BlockwiseFallback { operator: readers[0], weights: float.name.clone(), reason }),
            }
        }
        for (axis, slots) in by_axis {
            let quantized = if int4 {
                super::int4::symmetric_int4(&values, &dims, axis).map(|(q, v)| (q, v, true))
            } else {
                symmetric_weights(&values, &dims, axis).map(|(q, v)| (q, v, false))
            };
            let (quant, q, packed) = quantized.ok_or_else(|| QuantizeError::Unsupported {
                operator: slots[0].0,
                op: sg.operators[slots[0].0].op.name().to_string(),
                detail: format!("weights {:?} of shape {} have no axis {axis:?}", float.name, float.shape),
            })?;
            let mut int8 = float.clone();
            int8.quantization = Some(quant);
            if packed {
                int8.dtype = DType::I4;
                int8.data = Some(ConstData::from_bytes(super::int4::pack_int4(&q)));
            } else {
                int8.dtype = DType::I8;
                int8.data = Some(ConstData::from_slice(&q));
            }
            let id = if std::mem::take(&mut reuse) {
                sg.tensors[t] = int8;
                TensorId(t as u32)
            } else {
                let bits = if packed { "int4" } else { "int8" };
                int8.name = match axis {
                    Some(a) => format!("{}/{bits}_axis{a}", float.name),
                    None => format!("{}/{bits}", float.name),
                };
                let id = TensorId(u32::try_from(sg.tensors.len()).map_err(|_| QuantizeError::Model("too many tensors".into()))?);
                sg.tensors.push(int8);
                id
            };
            for (oi, slot) in slots {
                let node = &mut sg.operators[oi];
                if let Some(s) = node.inputs.get_mut(slot) {
                    *s = Some(id);
                }
                match &mut node.op {
                    Op::FullyConnected(o) => o.asymmetric_quantize_inputs = true,
                    Op::BatchMatMul(o) => o.asymmetric_quantize_inputs = true,
                    _ => {}
                }
            }
        }
    }
    split.sort_unstable();
    split.dedup();
    for oi in split.into_iter().rev() {
        let node = &mut sg.operators[oi];
        let Op::FullyConnected(o) = &mut node.op else { continue };
        let Some(act) = activation_op(o.activation) else { continue };
        o.activation = Activation::None;
        let Some(&output) = node.outputs.first() else { continue };
        let mut pre = sg.tensors[output.index()].clone();
        pre.name = format!("{}/pre_activation", pre.name);
        let id = TensorId(u32::try_from(sg.tensors.len()).map_err(|_| QuantizeError::Model("too many tensors".into()))?);
        sg.tensors.push(pre);
        sg.operators[oi].outputs[0] = id;
        sg.operators.insert(oi + 1, Operator::new(act, &[id], &[output]));
        for f in fallbacks.iter_mut().filter(|f: &&mut BlockwiseFallback| f.operator > oi) {
            f.operator += 1;
        }
    }
    Ok((out, fallbacks))
}
