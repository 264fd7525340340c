//! Float islands in a full-integer model: ops without a kernel in the
//! scheme (float fallback) and ops the user keeps in float run on float
//! tensors, with `DEQUANTIZE` before and `QUANTIZE` after them where they
//! meet quantized ops.

use super::QuantizeError;
use crate::model::{DType, Op, Operator, Subgraph, Tensor, TensorId};

/// Why an op stayed in float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FloatReason {
    /// The scheme has no kernel for it (float fallback).
    NoKernel,
    /// It was asked for ([`super::KeepFloat`]).
    Requested,
}

/// An op of the float model left in float in the quantized one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FloatOp {
    /// Operator index in the float model's subgraph 0.
    pub operator: usize,
    /// The op name.
    pub op: String,
    /// Its first output's tensor name.
    pub tensor: String,
    /// Why.
    pub reason: FloatReason,
}

fn is_float(t: &Tensor) -> bool {
    t.dtype == DType::F32 && t.quantization.is_none()
}

/// What [`isolate`] decided.
pub(super) struct Islands {
    /// Per operator of the rewritten subgraph: runs in float (a kept op or
    /// an inserted boundary op), so the integer rewrite leaves it alone.
    pub(super) float_op: Vec<bool>,
    /// Per tensor of the rewritten subgraph: stays float.
    pub(super) float_tensor: Vec<bool>,
}

fn push(sg: &mut Subgraph, t: Tensor) -> Result<TensorId, QuantizeError> {
    let id = TensorId(u32::try_from(sg.tensors.len()).map_err(|_| QuantizeError::Model("too many tensors".into()))?);
    sg.tensors.push(t);
    Ok(id)
}

/// Rewrites `sg` so that the ops marked in `keep` read and write float
/// tensors of their own. A tensor all of whose users are kept ops (and,
/// with float model inputs and outputs, `io_float`, a model input or
/// output) stays float; elsewhere a `DEQUANTIZE` feeds a kept op and a
/// `QUANTIZE` follows it. Constants read by quantized and kept ops are
/// duplicated.
pub(super) fn isolate(sg: &mut Subgraph, keep: &[bool], io_float: bool) -> Result<Islands, QuantizeError> {
    let n = sg.tensors.len();
    let mut producer: Vec<Option<usize>> = vec![None; n];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (oi, node) in sg.operators.iter().enumerate() {
        for t in &node.outputs {
            producer[t.index()] = Some(oi);
        }
        for t in node.inputs.iter().flatten() {
            readers[t.index()].push(oi);
        }
    }
    let kept = |oi: &usize| keep.get(*oi).copied().unwrap_or(false);
    let is_input = |t: usize| sg.inputs.iter().any(|x| x.index() == t);
    let is_output = |t: usize| sg.outputs.iter().any(|x| x.index() == t);
    let resident: Vec<bool> = (0..n)
        .map(|t| {
            let from_float = match producer[t] {
                Some(p) => kept(&p),
                // Constants, float inputs, and variable tensors (recurrent
                // state, which only the op owning it reads and updates).
                None => sg.tensors[t].is_constant() || sg.tensors[t].is_variable || (is_input(t) && io_float),
            };
            from_float && readers[t].iter().all(kept) && (!is_output(t) || io_float) && (producer[t].is_some() || !readers[t].is_empty())
        })
        .collect();

    let mut float_tensor = vec![false; n];
    let mut dequantized: Vec<Option<TensorId>> = vec![None; n];
    let mut duplicated: Vec<Option<TensorId>> = vec![None; n];
    let old_ops = std::mem::take(&mut sg.operators);
    let mut ops = Vec::with_capacity(old_ops.len());
    let mut float_op = Vec::with_capacity(old_ops.len());
    for (oi, mut node) in old_ops.into_iter().enumerate() {
        if !kept(&oi) {
            ops.push(node);
            float_op.push(false);
            continue;
        }
        for slot in node.inputs.iter_mut().flatten() {
            let t = slot.index();
            if t >= n || !is_float(&sg.tensors[t]) {
                continue;
            }
            if resident[t] {
                float_tensor[t] = true;
            } else if sg.tensors[t].is_variable && producer[t].is_none() {
                // The op updates its variable in place: a dequantized copy
                // would lose the update.
                return Err(QuantizeError::Model(format!(
                    "variable tensor {t} ({:?}) is read by an op left in float and by a quantized op",
                    sg.tensors[t].name
                )));
            } else if sg.tensors[t].is_constant() {
                let copy = match duplicated[t] {
                    Some(c) => c,
                    None => {
                        let src = sg.tensors[t].clone();
                        let c = push(sg, Tensor { name: format!("{}/float", src.name), ..src })?;
                        duplicated[t] = Some(c);
                        c
                    }
                };
                *slot = copy;
            } else {
                let copy = match dequantized[t] {
                    Some(c) => c,
                    None => {
                        let src = sg.tensors[t].clone();
                        let c = push(sg, Tensor { name: format!("{}/dequantized", src.name), data: None, ..src })?;
                        dequantized[t] = Some(c);
                        ops.push(Operator::new(Op::Dequantize, &[*slot], &[c]));
                        float_op.push(true);
                        c
                    }
                };
                *slot = copy;
            }
        }
        let mut after = Vec::new();
        for slot in node.outputs.iter_mut() {
            let t = slot.index();
            if !is_float(&sg.tensors[t]) {
                continue;
            }
            if resident[t] {
                float_tensor[t] = true;
            } else {
                let src = sg.tensors[t].clone();
                let c = push(sg, Tensor { name: format!("{}/float", src.name), ..src })?;
                after.push(Operator::new(Op::Quantize, &[c], &[*slot]));
                *slot = c;
            }
        }
        ops.push(node);
        float_op.push(true);
        for q in after {
            ops.push(q);
            float_op.push(true);
        }
    }
    sg.operators = ops;
    float_tensor.resize(sg.tensors.len(), true);
    Ok(Islands { float_op, float_tensor })
}
