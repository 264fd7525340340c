//! The operands of the full-integer recurrent kernels, as LiteRT's read
//! them: LSTM and UNIDIRECTIONAL_SEQUENCE_LSTM in the 8x8→16 form
//! (`lstm.cc` `PopulateQuantizedLstmParams8x8_16`, `lstm_eval.cc`
//! `EvalInteger8x8_16`) and SVDF (`svdf.cc`, `EvalIntegerSVDF`).
//!
//! These kernels read only the first scale of each operand and hard-code
//! some choices, so a file that breaks a rule here would run and compute
//! something other than what it says (or be refused by the runtime).

use crate::model::{Activation, DType, LstmKernelType, Op, Operator, Subgraph, Tensor};

type R = Result<(), String>;

/// Checks an op whose data input is int8, when it is one of these kernels.
pub(super) fn check(sg: &Subgraph, node: &Operator) -> R {
    let x = tensor(sg, node, 0);
    if x.is_none_or(|x| x.dtype != DType::I8) {
        return Ok(());
    }
    match &node.op {
        Op::UnidirectionalSequenceLstm(o) => lstm(sg, node, o.fused_activation_function, false),
        Op::Lstm(o) if o.kernel_type == LstmKernelType::Full => lstm(sg, node, o.fused_activation_function, true),
        Op::Svdf(o) => svdf(sg, node, o.fused_activation_function),
        _ => Ok(()),
    }
}

fn tensor<'a>(sg: &'a Subgraph, node: &Operator, i: usize) -> Option<&'a Tensor> {
    node.input(i).and_then(|t| sg.tensor(t))
}

/// The single (scale, zero point) of a per-tensor quantized tensor.
fn per_tensor(t: &Tensor) -> Option<(f32, i64)> {
    let q = t.quantization.as_ref()?;
    match (q.scale.as_slice(), q.zero_point.as_slice()) {
        ([s], [z]) => Some((*s, *z)),
        ([s], []) => Some((*s, 0)),
        _ => None,
    }
}

/// `what` (input `i`, if present) is `dtype`, quantized per tensor; with
/// zero point 0 when `symmetric`.
fn operand(sg: &Subgraph, node: &Operator, i: usize, what: &str, dtype: DType, symmetric: bool) -> R {
    let Some(t) = tensor(sg, node, i) else { return Ok(()) };
    if t.dtype != dtype {
        return Err(format!("full-integer kernel: {what} (input {i}) is {}, must be {dtype}", t.dtype));
    }
    let Some((_, zp)) = per_tensor(t) else {
        return Err(format!("full-integer kernel: {what} (input {i}) needs one scale and zero point (the kernel reads only the first)"));
    };
    if symmetric && zp != 0 {
        return Err(format!("full-integer kernel: {what} (input {i}) has zero point {zp}, must be 0"));
    }
    Ok(())
}

/// Whether `s` is an exact power of two (LiteRT's `CheckedLog2`), and its
/// exponent.
fn log2(s: f32) -> Option<i32> {
    if !(s.is_finite() && s > 0.0) {
        return None;
    }
    let e = f64::from(s).log2().round();
    (f64::from(s) == 2f64.powf(e)).then_some(e as i32)
}

fn lstm(sg: &Subgraph, node: &Operator, act: Activation, step: bool) -> R {
    let n = node.intermediates.len();
    // LSTM also has an 8x8→8 form with 12 intermediates, which is not
    // checked further; UNIDIRECTIONAL_SEQUENCE_LSTM has only 8x8→16.
    if step && n == 12 {
        return Ok(());
    }
    if n != 5 {
        return Err(format!("full-integer LSTM needs 5 intermediate tensors (the gates' and the hidden state's parameters), has {n}"));
    }
    // lstm_eval.cc applies tanh to the cell gate and the output whatever
    // the option says.
    if act != Activation::Tanh {
        return Err(format!("full-integer LSTM computes with tanh; its activation is {act:?}"));
    }
    const GATES: [&str; 4] = ["input", "forget", "cell", "output"];
    for (k, g) in GATES.iter().enumerate() {
        operand(sg, node, 1 + k, &format!("input-to-{g} weights"), DType::I8, true)?;
        operand(sg, node, 5 + k, &format!("recurrent-to-{g} weights"), DType::I8, true)?;
        operand(sg, node, 12 + k, &format!("{g} gate bias"), DType::I32, true)?;
    }
    for (k, g) in ["input", "forget", "output"].iter().enumerate() {
        operand(sg, node, 9 + k, &format!("cell-to-{g} (peephole) weights"), DType::I16, true)?;
    }
    operand(sg, node, 16, "projection weights", DType::I8, true)?;
    operand(sg, node, 17, "projection bias", DType::I32, true)?;
    let layer_norm = (20..24).any(|i| tensor(sg, node, i).is_some());
    for (k, g) in GATES.iter().enumerate() {
        operand(sg, node, 20 + k, &format!("{g} layer-norm coefficients"), DType::I16, true)?;
    }
    let Some(h) = tensor(sg, node, 18) else { return Err("full-integer LSTM needs its output state (input 18)".into()) };
    operand(sg, node, 18, "output state", DType::I8, false)?;
    let Some(c) = tensor(sg, node, 19) else { return Err("full-integer LSTM needs its cell state (input 19)".into()) };
    operand(sg, node, 19, "cell state", DType::I16, true)?;
    let (cs, _) = per_tensor(c).unwrap_or((0.0, 0));
    match log2(cs) {
        None => return Err(format!("full-integer LSTM: the cell state's scale {cs} is not a power of two")),
        Some(e) if step && e > -9 => return Err(format!("full-integer LSTM: the cell state's scale 2^{e} is above 2^-9")),
        Some(_) => {}
    }
    let inter = |i: usize| sg.tensor(node.intermediates[i]);
    let Some(hidden) = inter(4).and_then(per_tensor) else {
        return Err("full-integer LSTM: intermediate 4 (the hidden state o·tanh(c)) needs one scale and zero point".into());
    };
    if layer_norm && (0..4).any(|i| inter(i).and_then(per_tensor).is_none()) {
        return Err("full-integer layer-norm LSTM: intermediates 0-3 (the gates) need one scale and zero point each".into());
    }
    let state = per_tensor(h).unwrap_or((0.0, 0));
    let out = node.outputs.first().and_then(|t| sg.tensor(*t)).and_then(per_tensor);
    // The kernel copies the output state to the output, and without a
    // projection writes the hidden state at intermediate 4's parameters
    // into the output state, which it reads back at its own.
    if out != Some(state) {
        return Err(format!("full-integer LSTM: the output's quantization {out:?} differs from the output state's {state:?}"));
    }
    if tensor(sg, node, 16).is_none() && hidden != state {
        return Err(format!("full-integer LSTM without projection: intermediate 4's quantization {hidden:?} differs from the output state's {state:?}"));
    }
    Ok(())
}

fn svdf(sg: &Subgraph, node: &Operator, act: Activation) -> R {
    // svdf.cc: the integer kernel takes RELU only, and applies it by
    // clamping to the int8 range, so the output's zero point must be -128.
    if act != Activation::Relu {
        return Err(format!("full-integer SVDF supports RELU only; its activation is {act:?}"));
    }
    operand(sg, node, 1, "feature weights", DType::I8, true)?;
    operand(sg, node, 2, "time weights", DType::I16, true)?;
    operand(sg, node, 3, "bias", DType::I32, true)?;
    if tensor(sg, node, 4).is_none() {
        return Err("full-integer SVDF needs its state (input 4)".into());
    }
    operand(sg, node, 4, "state", DType::I16, true)?;
    let out = node.outputs.first().and_then(|t| sg.tensor(*t));
    match out.and_then(per_tensor) {
        Some((_, -128)) => Ok(()),
        Some((_, z)) => Err(format!("full-integer SVDF applies its RELU as the int8 lower bound: the output's zero point must be -128, is {z}")),
        None => Err("full-integer SVDF: the output needs one scale and zero point".into()),
    }
}
