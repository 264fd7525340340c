//! Full integer rewrite of subgraph 0, for each [`Scheme`] (int8, 16x8).
//!
//! 1. Roles: which float constants are weights (with their channel axis) and
//!    biases, from the ops that read them.
//! 2. Ties: tensors that must share parameters (the inputs and outputs of
//!    ops that move values without computing) form groups (union-find).
//! 3. Parameters: per group from the union of calibrated ranges (the
//!    scheme's activation parameters), fixed where the scheme's kernels fix
//!    them; weights int8 symmetric per channel; biases in the scheme's bias
//!    type at `input_scale × weight_scale`.
//! 4. Rewrite: every float tensor becomes an integer tensor with its
//!    parameters, constants are quantized, op options are adjusted for the
//!    scheme's kernels, and the inputs and outputs get the requested type.

use super::params::{encode_ints, int_range, quantize_value, symmetric_weights};
use super::fallback::{isolate, FloatOp, FloatReason, Islands};
use super::scheme::Scheme;
use super::{IoType, QuantizeError, QuantizeOptions, Ranges};
use crate::model::*;

/// How an op's float inputs are used.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// An activation or ordinary constant.
    Value,
    /// Weights, symmetric int8, per channel along the axis (or per tensor).
    Weights { axis: Option<usize> },
    /// Bias of the op whose (input, weights) are the given operand slots.
    Bias { input: usize, weights: usize },
    /// An LSTM's cell state: int16 with a power-of-two scale.
    Cell,
}

/// Ops that can be quantized, and the roles of their inputs.
fn roles(op: &Op, n_inputs: usize, per_channel: bool, fc_per_channel: bool) -> Option<Vec<Role>> {
    let values = || vec![Role::Value; n_inputs];
    let axis = |a: usize| if per_channel { Some(a) } else { None };
    let fc_axis = if fc_per_channel { axis(0) } else { None };
    Some(match op {
        Op::Conv2d(_) => vec![Role::Value, Role::Weights { axis: axis(0) }, Role::Bias { input: 0, weights: 1 }],
        Op::DepthwiseConv2d(_) => vec![Role::Value, Role::Weights { axis: axis(3) }, Role::Bias { input: 0, weights: 1 }],
        Op::FullyConnected(_) => vec![Role::Value, Role::Weights { axis: fc_axis }, Role::Bias { input: 0, weights: 1 }],
        Op::TransposeConv(_) => {
            vec![Role::Value, Role::Weights { axis: axis(0) }, Role::Value, Role::Bias { input: 2, weights: 1 }]
        }
        // Ops whose inputs and outputs each get their own parameters.
        Op::Add(_)
        | Op::Sub(_)
        | Op::Mul(_)
        | Op::Mean { .. }
        | Op::Sum { .. }
        | Op::Concatenation(_)
        | Op::Pack(_)
        | Op::Softmax { .. }
        | Op::Logistic
        | Op::Tanh
        | Op::Relu
        | Op::Relu6
        | Op::HardSwish
        | Op::LeakyRelu { .. }
        | Op::Prelu
        | Op::Gelu { .. }
        // Lookup-table (or rescaling) kernels in int8 and int16
        // (exp.cc, elementwise.cc, activations.cc). DIV has integer
        // kernels too, but they refuse a divisor whose integer equals the
        // zero point (div.cc, CheckNonZero), and calibrated ranges include
        // zero, so small nonzero divisors would fail at run time: DIV
        // stays float.
        | Op::Exp
        | Op::Log
        | Op::Sqrt
        | Op::Rsqrt
        | Op::Abs
        | Op::Elu
        | Op::LogSoftmax
        | Op::Minimum
        | Op::Maximum
        | Op::BatchMatMul(_) => values(),
        // int8 weights per tensor (the kernel reads one scale), gate
        // biases at input × weight scale, the cell state in int16
        // (super::lstm checks the form first).
        Op::UnidirectionalSequenceLstm(_) if n_inputs == 24 => (0..24)
            .map(|i| match i {
                1..=8 => Role::Weights { axis: None },
                12..=15 => Role::Bias { input: 0, weights: i - 11 },
                19 => Role::Cell,
                _ => Role::Value,
            })
            .collect(),
        // Ops that move or select values, with parameters tied to their input.
        _ if tied_slots(op).is_some() => values(),
        _ => return None,
    })
}

/// Ops whose float inputs (operand slots) and outputs share parameters.
fn tied_slots(op: &Op) -> Option<&'static [usize]> {
    Some(match op {
        Op::MaxPool2d(_)
        | Op::AveragePool2d(_)
        | Op::Reshape { .. }
        | Op::Transpose
        | Op::Pad
        | Op::MirrorPad { .. }
        | Op::Gather(_)
        | Op::Slice
        | Op::StridedSlice(_)
        | Op::Squeeze { .. }
        | Op::SplitV { .. }
        | Op::ReduceMax { .. }
        | Op::ResizeBilinear(_)
        | Op::ResizeNearestNeighbor(_)
        | Op::ExpandDims
        | Op::Tile
        | Op::Unpack(_)
        | Op::DepthToSpace(_)
        | Op::SpaceToDepth(_)
        | Op::ReverseV2
        | Op::SpaceToBatchNd
        | Op::BatchToSpaceNd
        | Op::GatherNd
        | Op::TopkV2
        | Op::BroadcastTo => &[0],
        // SPLIT's value is its second input (the first is the axis).
        Op::Split(_) => &[1],
        // PADV2's pad value is quantized with the input's parameters.
        Op::PadV2 => &[0, 2],
        // Ops whose data are not operand 0, and whose kernels copy the
        // stored integers of their data without rescaling (select.cc,
        // one_hot.cc, sparse_to_dense.cc): the data operands and the output
        // share parameters. SCATTER_ND stays float: its kernel fills the
        // output with the integer 0 and sums stored integers
        // (reference_ops.h, ScatterNd), right only at zero point 0.
        Op::Select | Op::SelectV2 => &[1, 2],
        Op::OneHot(_) | Op::SparseToDense(_) => &[2, 3],
        _ => return None,
    })
}

/// [`roles`] of a node, `None` also for the LSTM forms [`super::lstm`]
/// does not build.
fn node_roles(sg: &Subgraph, node: &Operator, per_channel: bool, fc_per_channel: bool) -> Option<Vec<Role>> {
    if super::lstm::unsupported(sg, node).is_some() {
        return None;
    }
    roles(&node.op, node.inputs.len(), per_channel, fc_per_channel)
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb);
    }
}

fn unsupported(operator: usize, op: &Op, detail: impl Into<String>) -> QuantizeError {
    QuantizeError::Unsupported { operator, op: op.name().to_string(), detail: detail.into() }
}

fn is_float(t: &Tensor) -> bool {
    t.dtype == DType::F32 && t.quantization.is_none()
}

/// The constant's float values and its range.
fn const_range(t: &Tensor) -> Option<(f32, f32)> {
    let v = t.data.as_ref()?.to_vec::<f32>();
    let finite = v.iter().copied().filter(|x| x.is_finite());
    let min = finite.clone().fold(f32::INFINITY, f32::min);
    let max = finite.fold(f32::NEG_INFINITY, f32::max);
    (min <= max).then_some((min, max))
}

/// Quantizes subgraph 0 of `model` with `scheme`, from calibrated `ranges`.
/// `keep` marks ops (of subgraph 0) to leave in float; ops without a kernel
/// in the scheme join them unless [`QuantizeOptions::integer_only`]. Returns
/// the model and the ops left in float.
pub(super) fn rewrite(
    model: &Model,
    ranges: &Ranges,
    options: &QuantizeOptions,
    scheme: &Scheme,
    keep: &[bool],
) -> Result<(Model, Vec<FloatOp>), QuantizeError> {
    let mut out = model.clone();
    let sg = &mut out.subgraphs[0];

    // 0. Float islands: kept ops and ops without a kernel.
    let mut float_ops = Vec::new();
    let mut to_float = vec![false; sg.operators.len()];
    for (oi, node) in sg.operators.iter().enumerate() {
        let float_io = node.inputs.iter().flatten().chain(&node.outputs).any(|t| is_float(&sg.tensors[t.index()]));
        if !float_io {
            continue;
        }
        let has = node_roles(sg, node, options.per_channel, scheme.fc_per_channel).is_some() && (scheme.has_kernel)(&node.op);
        let reason = if keep.get(oi).copied().unwrap_or(false) {
            FloatReason::Requested
        } else if !has {
            if options.integer_only {
                return Err(unsupported(oi, &node.op, format!("no {} kernel for this op", scheme.name)));
            }
            FloatReason::NoKernel
        } else {
            continue;
        };
        to_float[oi] = true;
        let tensor = node.outputs.first().map(|t| sg.tensors[t.index()].name.clone()).unwrap_or_default();
        float_ops.push(FloatOp { operator: oi, op: node.op.name().to_string(), tensor, reason });
    }
    let islands = if float_ops.is_empty() {
        Islands { float_op: vec![false; sg.operators.len()], float_tensor: vec![false; sg.tensors.len()] }
    } else {
        isolate(sg, &to_float, options.io == IoType::Float)?
    };
    let n = sg.tensors.len();
    let (act_lo, act_hi) = int_range(scheme.activation)
        .ok_or_else(|| QuantizeError::Model(format!("activation type {} is not an integer type", scheme.activation)))?;

    // 1. Roles of float tensors.
    let mut role: Vec<Option<(Role, usize)>> = vec![None; n];
    let mut quantized_op = vec![false; sg.operators.len()];
    for (oi, node) in sg.operators.iter().enumerate() {
        if islands.float_op[oi] {
            continue;
        }
        let float_io = node.inputs.iter().flatten().chain(&node.outputs).any(|t| is_float(&sg.tensors[t.index()]));
        let r = node_roles(sg, node, options.per_channel, scheme.fc_per_channel).filter(|_| (scheme.has_kernel)(&node.op));
        let Some(r) = r else {
            if float_io {
                return Err(unsupported(oi, &node.op, format!("no {} kernel for this op", scheme.name)));
            }
            continue;
        };
        quantized_op[oi] = float_io;
        for (slot, t) in node.inputs.iter().enumerate() {
            let Some(t) = t else { continue };
            let tensor = &sg.tensors[t.index()];
            if !is_float(tensor) {
                continue;
            }
            let want = r.get(slot).copied().unwrap_or(Role::Value);
            if !matches!(want, Role::Value | Role::Cell) && !tensor.is_constant() {
                return Err(unsupported(oi, &node.op, format!("input {slot} ({:?}) must be a constant to quantize", tensor.name)));
            }
            match role[t.index()] {
                Some((have, _)) if have != want && (tensor.is_constant() || want != Role::Value) => {
                    return Err(unsupported(
                        oi,
                        &node.op,
                        format!("constant {:?} is used both as {have:?} and as {want:?}", tensor.name),
                    ));
                }
                Some(_) => {}
                None => role[t.index()] = Some((want, oi)),
            }
        }
    }

    // 2. Ties.
    let mut parent: Vec<usize> = (0..n).collect();
    let mut fixed: Vec<Option<(f32, i64)>> = vec![None; n];
    for (node, _) in sg.operators.iter().zip(&islands.float_op).filter(|(_, f)| !**f) {
        if let Some(p) = (scheme.fixed_output)(&node.op) {
            for t in &node.outputs {
                fixed[t.index()] = Some(p);
            }
        }
        // An LSTM's output state is its output (super::lstm).
        if let (Op::UnidirectionalSequenceLstm(_), Some(h), Some(y)) = (&node.op, node.input(18), node.outputs.first()) {
            union(&mut parent, y.index(), h.index());
        }
        // CONCATENATION, MINIMUM and MAXIMUM tie all their inputs.
        let all: Vec<usize>;
        let slots: &[usize] = match (&node.op, tied_slots(&node.op)) {
            (Op::Concatenation(_) | Op::Pack(_) | Op::Minimum | Op::Maximum, _) => {
                all = (0..node.inputs.len()).collect();
                &all
            }
            (_, Some(s)) => s,
            (_, None) => continue,
        };
        let Some(first) = node.outputs.first() else { continue };
        for t in slots.iter().filter_map(|&s| node.inputs.get(s).copied().flatten()).chain(node.outputs.iter().copied()) {
            if is_float(&sg.tensors[t.index()]) {
                union(&mut parent, first.index(), t.index());
            }
        }
    }

    // 3. Parameters of value tensors, per group.
    let mut group_range: Vec<Option<(f32, f32)>> = vec![None; n];
    let mut group_fixed: Vec<Option<(f32, i64)>> = vec![None; n];
    for i in 0..n {
        let t = &sg.tensors[i];
        if islands.float_tensor[i] || !is_float(t) || !matches!(role[i], None | Some((Role::Value, _))) {
            continue;
        }
        let r = match options.input_range {
            _ if t.is_constant() => const_range(t),
            Some(fixed) if sg.inputs.contains(&TensorId(i as u32)) => Some(fixed),
            _ => ranges.get(i),
        };
        let g = find(&mut parent, i);
        if let Some((lo, hi)) = r {
            group_range[g] = Some(match group_range[g] {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        }
        if let Some(p) = fixed[i] {
            if group_fixed[g].is_some_and(|q| q != p) {
                return Err(QuantizeError::Model(format!(
                    "tensor {:?} is tied to outputs with different fixed parameters",
                    t.name
                )));
            }
            group_fixed[g] = Some(p);
        }
    }
    let mut params: Vec<Option<(f32, i64)>> = vec![None; n];
    for i in 0..n {
        let t = &sg.tensors[i];
        if islands.float_tensor[i] || !is_float(t) || !matches!(role[i], None | Some((Role::Value, _))) {
            continue;
        }
        let g = find(&mut parent, i);
        params[i] = match (group_fixed[g], group_range[g]) {
            (Some(p), _) => Some(p),
            (None, Some((lo, hi))) => Some((scheme.activation_params)(lo, hi)),
            (None, None) if role[i].is_none() && !sg.inputs.contains(&TensorId(i as u32)) && !sg.outputs.contains(&TensorId(i as u32)) => {
                // A float tensor no op reads or writes: leave it alone.
                continue;
            }
            (None, None) => {
                return Err(QuantizeError::Calibration(format!(
                    "tensor {i} ({:?}) had no finite value in any sample",
                    t.name
                )));
            }
        };
    }

    // 4a. Weights and biases.
    let mut new_q: Vec<Option<(DType, Quantization, Option<ConstData>)>> = vec![None; n];
    for i in 0..n {
        let Some((Role::Weights { axis }, oi)) = role[i] else { continue };
        let t = &sg.tensors[i];
        let w = t.data.as_ref().map(|d| d.to_vec::<f32>()).unwrap_or_default();
        let dims: Vec<usize> = t.shape.dims().iter().map(|d| d.fixed().unwrap_or(1) as usize).collect();
        let int4 = options.int4_weights && matches!(sg.operators[oi].op, Op::Conv2d(_) | Op::DepthwiseConv2d(_) | Op::FullyConnected(_));
        let quantized = if int4 { super::int4::symmetric_int4(&w, &dims, axis) } else { symmetric_weights(&w, &dims, axis) };
        let Some((quant, q)) = quantized else {
            return Err(unsupported(oi, &sg.operators[oi].op, format!("weights {:?} of unexpected rank", t.name)));
        };
        new_q[i] = Some(if int4 {
            (DType::I4, quant, Some(ConstData::from_bytes(super::int4::pack_int4(&q))))
        } else {
            (DType::I8, quant, Some(ConstData::from_slice(&q)))
        });
    }
    for i in 0..n {
        if let Some((Role::Cell, oi)) = role[i] {
            new_q[i] = Some((DType::I16, super::lstm::cell_quantization(sg, &sg.operators[oi]), None));
        }
    }
    for i in 0..n {
        let Some((Role::Bias { input, weights }, oi)) = role[i] else { continue };
        let node = &sg.operators[oi];
        let (Some(x), Some(w)) = (node.inputs.get(input).copied().flatten(), node.inputs.get(weights).copied().flatten()) else {
            return Err(unsupported(oi, &node.op, "bias without input or weights"));
        };
        let Some((s_in, _)) = params[x.index()] else {
            return Err(unsupported(oi, &node.op, format!("the input has no {} parameters", scheme.name)));
        };
        let Some((_, wq, _)) = &new_q[w.index()] else { return Err(unsupported(oi, &node.op, "weights were not quantized")) };
        let b = sg.tensors[i].data.as_ref().map(|d| d.to_vec::<f32>()).unwrap_or_default();
        let scales: Vec<f32> = if wq.scale.len() == 1 {
            vec![s_in * wq.scale[0]; b.len().max(1)]
        } else {
            wq.scale.iter().map(|s| s_in * s).collect()
        };
        if scales.len() != b.len() {
            return Err(unsupported(oi, &node.op, format!("{} bias values for {} channels", b.len(), scales.len())));
        }
        let (lo, hi) = int_range(scheme.bias).ok_or_else(|| QuantizeError::Model(format!("bias type {} is not an integer type", scheme.bias)))?;
        let q: Vec<i64> = b.iter().zip(&scales).map(|(x, s)| quantize_value(*x, *s, 0, lo, hi)).collect();
        let quant = if wq.scale.len() == 1 {
            Quantization::per_tensor(scales[0], 0)
        } else {
            Quantization::per_axis(scales.clone(), vec![0; scales.len()], 0)
        };
        new_q[i] = Some((scheme.bias, quant, encode_ints(scheme.bias, &q)));
    }

    // 4b. Values.
    for i in 0..n {
        let Some((scale, zp)) = params[i] else { continue };
        let t = &sg.tensors[i];
        let data = match &t.data {
            Some(d) => {
                let q: Vec<i64> = d.to_vec::<f32>().iter().map(|x| quantize_value(*x, scale, zp, act_lo, act_hi)).collect();
                encode_ints(scheme.activation, &q)
            }
            None => None,
        };
        new_q[i] = Some((scheme.activation, Quantization::per_tensor(scale, zp), data));
    }
    for (i, q) in new_q.into_iter().enumerate() {
        if let Some((dtype, quant, data)) = q {
            let t = &mut sg.tensors[i];
            t.dtype = dtype;
            t.quantization = Some(quant);
            if t.data.is_some() {
                t.data = data;
            }
        }
    }

    // 4c. Options the scheme's kernels need, and the LSTMs' intermediates.
    for (oi, quantized) in quantized_op.into_iter().enumerate() {
        if !quantized {
            continue;
        }
        (scheme.adjust)(&mut sg.operators[oi].op);
        if matches!(sg.operators[oi].op, Op::UnidirectionalSequenceLstm(_)) {
            let y = sg.operators[oi].outputs.first().and_then(|y| sg.tensors[y.index()].quantization.clone());
            let Some(hidden) = y else { return Err(unsupported(oi, &sg.operators[oi].op, "the output was not quantized")) };
            super::lstm::finish(sg, oi, hidden)?;
        }
    }

    // 4d. Inputs and outputs.
    boundaries(sg, options.io, scheme.activation)?;
    Ok((out, float_ops))
}

/// Gives the subgraph's inputs and outputs the requested type. Tensor
/// indices of inputs and outputs stay the same (signatures refer to them);
/// boundary ops write or read new tensors of the activation type `act`.
fn boundaries(sg: &mut Subgraph, io: IoType, act: DType) -> Result<(), QuantizeError> {
    if matches!((io, act), (IoType::Int8, DType::I8) | (IoType::Int16, DType::I16)) {
        return Ok(());
    }
    let suffix = if act == DType::I16 { "int16" } else { "int8" };
    let mut prologue = Vec::new();
    let mut epilogue = Vec::new();
    let add_tensor = |sg: &mut Subgraph, t: Tensor| -> Result<TensorId, QuantizeError> {
        let id = TensorId(u32::try_from(sg.tensors.len()).map_err(|_| QuantizeError::Model("too many tensors".into()))?);
        sg.tensors.push(t);
        Ok(id)
    };
    for &x in &sg.inputs.clone() {
        if sg.outputs.contains(&x) {
            return Err(QuantizeError::Model(format!("tensor {x} is both an input and an output")));
        }
        let t = sg.tensors[x.index()].clone();
        let Some(q) = t.quantization.clone().filter(|_| t.dtype == act) else { continue };
        let inner = add_tensor(sg, Tensor { name: format!("{}/{suffix}", t.name), ..t.clone() })?;
        for node in &mut sg.operators {
            for slot in node.inputs.iter_mut().flatten() {
                if *slot == x {
                    *slot = inner;
                }
            }
        }
        let outer = &mut sg.tensors[x.index()];
        match io {
            IoType::Float => {
                outer.dtype = DType::F32;
                outer.quantization = None;
            }
            _ => {
                outer.dtype = DType::U8;
                outer.quantization = Some(Quantization::per_tensor(q.scale[0], q.zero_point[0] + 128));
            }
        }
        prologue.push(Operator::new(Op::Quantize, &[x], &[inner]));
    }
    for &y in &sg.outputs.clone() {
        let t = sg.tensors[y.index()].clone();
        let Some(q) = t.quantization.clone().filter(|_| t.dtype == act) else { continue };
        let inner = add_tensor(sg, Tensor { name: format!("{}/{suffix}", t.name), ..t.clone() })?;
        for node in &mut sg.operators {
            for slot in node.outputs.iter_mut().chain(node.inputs.iter_mut().flatten()) {
                if *slot == y {
                    *slot = inner;
                }
            }
        }
        let outer = &mut sg.tensors[y.index()];
        let op = match io {
            IoType::Float => {
                outer.dtype = DType::F32;
                outer.quantization = None;
                Op::Dequantize
            }
            _ => {
                outer.dtype = DType::U8;
                outer.quantization = Some(Quantization::per_tensor(q.scale[0], q.zero_point[0] + 128));
                Op::Quantize
            }
        };
        epilogue.push(Operator::new(op, &[inner], &[y]));
    }
    prologue.append(&mut sg.operators);
    prologue.append(&mut epilogue);
    sg.operators = prologue;
    Ok(())
}
