//! Builder-tier cases of the full-integer recurrent kernels (issue 8):
//! UNIDIRECTIONAL_SEQUENCE_LSTM and LSTM in LiteRT's 8x8→16 form, and SVDF
//! with an int16 state. The NumPy reference computes the float op on the
//! dequantized inputs, weights and biases and quantizes its output, so the
//! tolerance is a few output steps (the kernels compute the gates in
//! 16-bit fixed point).
//!
//! The parameters are derived as LiteRT's kernels read them and as
//! TensorFlow's converter writes them (tf_check.py's `lstm` file):
//! - LSTM (`lstm.cc` `PopulateQuantizedLstmParams8x8_16`): int8 weights,
//!   per tensor and symmetric; int32 gate biases at input scale × weight
//!   scale; the output state an int8 variable with the output's
//!   parameters; the cell state an int16 variable whose scale is a power of
//!   two (2^-15 × a bound of |c|: |c_t| ≤ t without a cell clip); five
//!   intermediates, of which without layer normalization only the fifth
//!   (the hidden state `o ⊙ tanh(c)`) is read, and must have the output
//!   state's parameters. The converter writes the first four as
//!   unquantized float32 `[0]` tensors, and so do we.
//! - SVDF (`svdf.cc`, `EvalIntegerSVDF`): int8 input and feature weights,
//!   int16 time weights and state (zero point 0), int32 bias at state
//!   scale × time-weight scale, int8 output; ReLU only, which the kernel
//!   applies through the output's lower bound: zero point −128.

use super::*;

type B<'a> = &'a mut SubgraphBuilder;

/// A symmetric per-tensor int8 constant of the float values `w`.
fn q8(g: B, name: &str, shape: &[u32], w: &[f32]) -> (TensorId, f32) {
    let s = w.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
    let raw: Vec<i8> = w.iter().map(|v| (v / s).round().clamp(-127.0, 127.0) as i8).collect();
    let t = g.constant(name, DType::I8, shape, ConstData::from_slice(&raw));
    g.set_quantization(t, Quantization::per_tensor(s, 0));
    (t, s)
}

/// A symmetric per-tensor int16 constant of the float values `w`.
fn q16(g: B, name: &str, shape: &[u32], w: &[f32]) -> (TensorId, f32) {
    let s = w.iter().fold(0f32, |m, v| m.max(v.abs())) / 32767.0;
    let raw: Vec<i16> = w.iter().map(|v| (v / s).round() as i16).collect();
    let t = g.constant(name, DType::I16, shape, ConstData::from_slice(&raw));
    g.set_quantization(t, Quantization::per_tensor(s, 0));
    (t, s)
}

/// An int32 bias of the float values `b` at scale `s`, zero point 0.
fn q32(g: B, name: &str, b: &[f32], s: f32) -> TensorId {
    let raw: Vec<i32> = b.iter().map(|v| (f64::from(*v) / f64::from(s)).round() as i32).collect();
    let t = g.constant(name, DType::I32, [b.len() as u32], ConstData::from_slice(&raw));
    g.set_quantization(t, Quantization::per_tensor(s, 0));
    t
}

/// A zero-initialized variable state.
fn state(g: B, name: &str, dtype: DType, dims: [u32; 2], q: Quantization) -> TensorId {
    let mut t = Tensor::new(name, dtype, dims);
    t.is_variable = true;
    t.quantization = Some(q);
    g.add_tensor(t)
}

/// The parameters of a full-integer LSTM case.
#[derive(Clone, Copy)]
pub struct LstmQ {
    /// Input scale and zero point.
    pub x: (f32, i64),
    /// Output (= output state = hidden intermediate) scale and zero point.
    pub h: (f32, i64),
    /// log2 of the cell state's scale.
    pub cell_exp: i32,
}

/// The smallest power-of-two exponent whose int16 range holds ±`bound`.
pub fn cell_exponent(bound: f32) -> i32 {
    let mut e = -15;
    while 32767.0 * 2f32.powi(e) < bound {
        e += 1;
    }
    e
}

/// The 24 inputs and 5 intermediates of a full-integer LSTM on input `x`
/// (`steps` time steps), with random float weights quantized as LiteRT
/// reads them.
pub fn lstm_int8_operands(g: B, seed: u64, x: TensorId, batch: u32, n_in: u32, n_cell: u32, q: LstmQ) -> (Vec<Option<TensorId>>, Vec<TensorId>) {
    let mut r = Rng::new(seed);
    let mut ins: Vec<Option<TensorId>> = vec![Some(x)];
    let mut w_scales = Vec::new();
    for (kind, cols) in [("w", n_in), ("r", n_cell)] {
        for gate in ["input", "forget", "cell", "output"] {
            let (t, s) = q8(g, &format!("{kind}_{gate}"), &[n_cell, cols], &r.vec((n_cell * cols) as usize, 0.5));
            ins.push(Some(t));
            if kind == "w" {
                w_scales.push(s);
            }
        }
    }
    ins.extend([None, None, None]);
    for (k, gate) in ["input", "forget", "cell", "output"].iter().enumerate() {
        let b = r.vec(n_cell as usize, 0.2);
        ins.push(Some(q32(g, &format!("b_{gate}"), &b, q.x.0 * w_scales[k])));
    }
    ins.extend([None, None]);
    ins.push(Some(state(g, "h", DType::I8, [batch, n_cell], Quantization::per_tensor(q.h.0, q.h.1))));
    ins.push(Some(state(g, "c", DType::I16, [batch, n_cell], Quantization::per_tensor(2f32.powi(q.cell_exp), 0))));
    ins.extend([None, None, None, None]);
    let mut inter: Vec<TensorId> = ["input_to_input", "input_to_forget", "input_to_cell", "input_to_output"]
        .iter()
        .map(|n| g.add_tensor(Tensor::new(&format!("{n}_intermediate"), DType::F32, [0u32])))
        .collect();
    let mut hidden = Tensor::new("effective_hidden_scale_intermediate", DType::I8, [0u32]);
    hidden.quantization = Some(Quantization::per_tensor(q.h.0, q.h.1));
    inter.push(g.add_tensor(hidden));
    (ins, inter)
}

/// A full-integer UNIDIRECTIONAL_SEQUENCE_LSTM over `[batch, time, n_in]`
/// (or LSTM over `[batch, n_in]` when `time` is `None`).
fn lstm_case(name: &str, seed: u64, time: Option<u32>) -> Case {
    let (batch, n_in, n_cell) = (2u32, 4u32, 5u32);
    let steps = time.unwrap_or(1);
    let q = LstmQ { x: (4.0 / 255.0, 3), h: (2.0 / 255.0, -1), cell_exp: cell_exponent(steps as f32) };
    let m = model_of(|g| {
        let x_shape: Vec<u32> = match time {
            Some(t) => vec![batch, t, n_in],
            None => vec![batch, n_in],
        };
        let x = g.input("x", DType::I8, x_shape.as_slice());
        g.set_quantization(x, Quantization::per_tensor(q.x.0, q.x.1));
        let (ins, inter) = lstm_int8_operands(g, seed, x, batch, n_in, n_cell, q);
        let mut out_shape = x_shape.clone();
        *out_shape.last_mut().expect("rank ≥ 2") = n_cell;
        let mut y = Tensor::new("y", DType::I8, out_shape.as_slice());
        y.quantization = Some(Quantization::per_tensor(q.h.0, q.h.1));
        let y = g.add_tensor(y);
        let op = match time {
            Some(_) => {
                let mut o = UnidirectionalSequenceLstmOptions::default();
                o.fused_activation_function = Activation::Tanh;
                Op::UnidirectionalSequenceLstm(o)
            }
            None => {
                let mut o = LstmOptions::default();
                o.fused_activation_function = Activation::Tanh;
                Op::Lstm(o)
            }
        };
        let mut node = Operator::new(op, &[], &[y]);
        node.inputs = ins;
        node.intermediates = inter;
        g.add_operator(node)?;
        g.output("y", y);
        Ok(())
    });
    Case { quant_tol: 3, ..Case::new(name, m) }
}

/// A full-integer SVDF (rank 2, bias, ReLU) on `[batch, n_in]`.
fn svdf_case(name: &str, seed: u64) -> Case {
    let mut r = Rng::new(seed);
    let (batch, n_in, units, rank, mem) = (2u32, 4u32, 3u32, 2u32, 4u32);
    let nf = units * rank;
    let m = model_of(|g| {
        let sx = 4.0 / 255.0;
        let x = g.input("x", DType::I8, [batch, n_in]);
        g.set_quantization(x, Quantization::per_tensor(sx, 2));
        let (wf, swf) = q8(g, "wf", &[nf, n_in], &r.vec((nf * n_in) as usize, 0.5));
        let (wt, swt) = q16(g, "wt", &[nf, mem], &r.vec((nf * mem) as usize, 0.5));
        // The state holds feature projections: |x · wf| ≤ n_in × 2 × max|wf|.
        let state_scale = n_in as f32 * 2.0 * 127.0 * swf / 32767.0;
        let b = q32(g, "b", &r.vec(units as usize, 0.2), state_scale * swt);
        let s = state(g, "s", DType::I16, [batch, nf * mem], Quantization::per_tensor(state_scale, 0));
        let mut o = SvdfOptions::default();
        o.rank = rank as i32;
        o.fused_activation_function = Activation::Relu;
        let y = g.svdf(&[Some(x), Some(wf), Some(wt), Some(b), Some(s)], o)?;
        // ReLU output: [0, 3] over the int8 range, zero point −128.
        g.set_quantization(y, Quantization::per_tensor(3.0 / 255.0, -128));
        g.output("y", y);
        Ok(())
    });
    Case { quant_tol: 2, ..Case::new(name, m) }
}

/// The cases.
pub fn cases() -> Vec<Case> {
    vec![
        lstm_case("int8/unidirectional_sequence_lstm", 181, Some(3)),
        lstm_case("int8/lstm", 182, None),
        svdf_case("int8/svdf", 195),
    ]
}
