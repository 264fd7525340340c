//! Full int8 UNIDIRECTIONAL_SEQUENCE_LSTM: the parts [`super::full`] does
//! not do for other ops. LiteRT's integer kernel (`lstm.cc`
//! `PopulateQuantizedLstmParams8x8_16`, `lstm_eval.cc` `EvalInteger8x8_16`)
//! takes, besides per-tensor int8 weights and int32 biases at input scale ×
//! weight scale (which `full` gives through the roles of the inputs):
//! - the output state (input 18), an int8 variable on the output's
//!   parameters (`full` ties the two);
//! - the cell state (input 19), an int16 variable whose scale is a power of
//!   two;
//! - five intermediates: without layer normalization the kernel reads only
//!   the fifth, the hidden state `o ⊙ tanh(c)`, which without projection is
//!   the output, so it takes the output's parameters; the first four are
//!   written as TensorFlow's converter writes them (unquantized float32
//!   `[0]` tensors).
//!
//! The cell scale comes from a bound on |c| rather than from calibration
//! (the evaluator does not report the cell state): a cell clip when the op
//! has one, else the number of time steps `T`, since `c_t = f ⊙ c_{t-1} +
//! i ⊙ g` with `f, i ∈ (0, 1)` and `g ∈ (-1, 1)` gives `|c_t| ≤ t` from a
//! zero state. That bound becomes the op's cell clip, so a later run that
//! continues from a kept state clips at the same value in LiteRT instead of
//! overflowing int16. Forms the kernel takes that this does not build (peephole,
//! projection, layer normalization, activations other than tanh) stay in
//! float.

use super::QuantizeError;
use crate::model::{Activation, DType, Dim, Op, Operator, Quantization, Subgraph, Tensor, TensorId};

/// Why the LSTM cannot be quantized here, or `None` when it can.
pub(super) fn unsupported(sg: &Subgraph, node: &Operator) -> Option<&'static str> {
    let Op::UnidirectionalSequenceLstm(o) = &node.op else { return None };
    if o.fused_activation_function != Activation::Tanh {
        return Some("the integer kernel computes with tanh only");
    }
    if node.inputs.len() != 24 || !node.intermediates.is_empty() {
        return Some("24 inputs and no intermediates expected");
    }
    if [9, 10, 11].iter().any(|&i| node.input(i).is_some()) {
        return Some("peephole weights are not quantized here");
    }
    if [16, 17].iter().any(|&i| node.input(i).is_some()) {
        return Some("a projection is not quantized here");
    }
    if (20..24).any(|i| node.input(i).is_some()) {
        return Some("layer normalization is not quantized here");
    }
    let var = |i: usize| node.input(i).and_then(|t| sg.tensor(t)).is_some_and(|t| t.is_variable && t.data.is_none());
    if !(var(18) && var(19)) {
        return Some("the states must be zero-initialized variable tensors");
    }
    if time_steps(sg, node).is_none() && o.cell_clip <= 0.0 {
        return Some("no cell clip and no static number of time steps to bound the cell state");
    }
    None
}

fn time_steps(sg: &Subgraph, node: &Operator) -> Option<u32> {
    let Op::UnidirectionalSequenceLstm(o) = &node.op else { return None };
    let x = sg.tensor(node.input(0)?)?;
    match x.shape.dims().get(if o.time_major { 0 } else { 1 }) {
        Some(Dim::Fixed(t)) => Some(*t),
        _ => None,
    }
}

/// The bound on |c| and the exponent of the cell state's int16 scale.
pub(super) fn cell_bound(sg: &Subgraph, node: &Operator) -> (f32, i32) {
    let clip = match &node.op {
        Op::UnidirectionalSequenceLstm(o) => o.cell_clip,
        _ => 0.0,
    };
    let bound = if clip > 0.0 { clip } else { time_steps(sg, node).unwrap_or(1).max(1) as f32 };
    let mut e = -15;
    while 32767.0 * 2f32.powi(e) < bound {
        e += 1;
    }
    (bound, e)
}

/// The int16 parameters of the cell state.
pub(super) fn cell_quantization(sg: &Subgraph, node: &Operator) -> Quantization {
    Quantization::per_tensor(2f32.powi(cell_bound(sg, node).1), 0)
}

/// Adds the intermediates (the hidden state on the output's parameters
/// `hidden`) and the cell clip, once the tensors are quantized.
pub(super) fn finish(sg: &mut Subgraph, oi: usize, hidden: Quantization) -> Result<(), QuantizeError> {
    let (bound, _) = cell_bound(sg, &sg.operators[oi]);
    let mut ids = Vec::new();
    for (k, name) in ["input_to_input", "input_to_forget", "input_to_cell", "input_to_output", "effective_hidden_scale"].iter().enumerate() {
        let mut t = Tensor::new(format!("{}/{name}_intermediate", sg.operators[oi].outputs.first().map_or("lstm".into(), |y| sg.tensors[y.index()].name.clone())), DType::F32, [0u32]);
        if k == 4 {
            t.dtype = DType::I8;
            t.quantization = Some(hidden.clone());
        }
        ids.push(TensorId(u32::try_from(sg.tensors.len()).map_err(|_| QuantizeError::Model("too many tensors".into()))?));
        sg.tensors.push(t);
    }
    let node = &mut sg.operators[oi];
    node.intermediates = ids;
    if let Op::UnidirectionalSequenceLstm(o) = &mut node.op
        && o.cell_clip <= 0.0
    {
        o.cell_clip = bound;
    }
    Ok(())
}
