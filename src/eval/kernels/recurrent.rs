//! Kernels of the float recurrent ops: `LSTM` (one step),
//! `UNIDIRECTIONAL_SEQUENCE_LSTM`, `BIDIRECTIONAL_SEQUENCE_LSTM`, `RNN`,
//! `UNIDIRECTIONAL_SEQUENCE_RNN`, `BIDIRECTIONAL_SEQUENCE_RNN` and `SVDF`, as
//! LiteRT's reference kernels compute them (`lstm_eval.cc`, `basic_rnn.cc`,
//! `bidirectional_sequence_*.cc`, `svdf.h`). States are variable inputs: the evaluator
//! starts them at zero (or their constant data), and a run does not write
//! them back. Auxiliary inputs and layer normalization are not supported.

use super::{dot, Cx, Result};
use crate::eval::Value;
use crate::model::{
    Activation, BidirectionalSequenceLstmOptions, BidirectionalSequenceRnnOptions, LstmKernelType, LstmOptions, RnnOptions,
    SequenceRnnOptions, SvdfOptions, UnidirectionalSequenceLstmOptions,
};

fn act(a: Activation) -> fn(f64) -> f64 {
    match a {
        Activation::None => |x| x,
        Activation::Relu => |x: f64| x.max(0.0),
        Activation::ReluN1To1 => |x: f64| x.clamp(-1.0, 1.0),
        Activation::Relu6 => |x: f64| x.clamp(0.0, 6.0),
        Activation::Tanh => f64::tanh,
        Activation::SignBit => |x: f64| if x.is_sign_negative() { -1.0 } else { 1.0 },
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A `[rows, cols]` weight matrix.
struct Matrix {
    data: Vec<f64>,
    rows: usize,
    cols: usize,
}

impl Matrix {
    fn of(cx: &Cx<'_>, v: &Value, rows: usize, cols: usize, what: &str) -> Result<Matrix> {
        if v.shape != [rows, cols] {
            return Err(cx.shape_err(format!("{what} must be [{rows}, {cols}], is {:?}", v.shape)));
        }
        Ok(Matrix { data: cx.real(v)?.into_owned(), rows, cols })
    }

    /// `out[r] += Σ_c self[r, c] · v[c]`.
    fn mul_add(&self, v: &[f64], out: &mut [f64]) {
        for (r, o) in out.iter_mut().enumerate().take(self.rows) {
            if let Some(row) = self.data.get(r * self.cols..(r + 1) * self.cols) {
                *o += dot(row, v);
            }
        }
    }
}

fn vector(cx: &Cx<'_>, v: Option<&Value>, n: usize, what: &str) -> Result<Option<Vec<f64>>> {
    let Some(v) = v else { return Ok(None) };
    if v.data.len() != n {
        return Err(cx.shape_err(format!("{what} must hold {n} values, has shape {:?}", v.shape)));
    }
    Ok(Some(cx.real(v)?.into_owned()))
}

/// A sequence input's `(batch, time, features)`.
fn sequence(cx: &Cx<'_>, x: &Value, time_major: bool) -> Result<(usize, usize, usize)> {
    let [a, b, f] = <[usize; 3]>::try_from(x.shape.as_slice()).map_err(|_| cx.shape_err(format!("input must have rank 3, has shape {:?}", x.shape)))?;
    Ok(if time_major { (b, a, f) } else { (a, b, f) })
}

/// Where row `(b, t)` of a sequence lives.
#[derive(Clone, Copy)]
struct Seq {
    batch: usize,
    time: usize,
    time_major: bool,
}

impl Seq {
    fn row(self, b: usize, t: usize) -> usize {
        if self.time_major { t * self.batch + b } else { b * self.time + t }
    }
}

/// One direction of an LSTM: its weights, from input `base` on in the
/// layout of `UNIDIRECTIONAL_SEQUENCE_LSTM` (input weights at `base`,
/// recurrent at `base + 4`, peepholes at `base + 8`, biases at `base + 11`,
/// projection at `base + 15`).
struct Lstm {
    w_i: Option<Matrix>,
    w: [Matrix; 3],
    r_i: Option<Matrix>,
    r: [Matrix; 3],
    p_i: Option<Vec<f64>>,
    p_f: Option<Vec<f64>>,
    p_o: Option<Vec<f64>>,
    b_i: Option<Vec<f64>>,
    b: [Vec<f64>; 3],
    proj: Option<(Matrix, Option<Vec<f64>>)>,
    n_cell: usize,
    n_out: usize,
    act: fn(f64) -> f64,
    cell_clip: f64,
    proj_clip: f64,
}

impl Lstm {
    fn load(cx: &Cx<'_>, base: usize, n_in: usize, a: Activation, cell_clip: f32, proj_clip: f32) -> Result<Lstm> {
        let w_f = cx.input(base + 1, "input_to_forget_weights")?;
        let n_cell = *w_f.shape.first().ok_or_else(|| cx.shape_err("input_to_forget_weights must be 2-D"))?;
        let r_f = cx.input(base + 5, "recurrent_to_forget_weights")?;
        let n_rec = *r_f.shape.get(1).ok_or_else(|| cx.shape_err("recurrent_to_forget_weights must be 2-D"))?;
        let proj = cx.optional(base + 15);
        if proj.is_none() && n_rec != n_cell {
            return Err(cx.shape_err(format!("without projection the output size {n_rec} must equal the cell size {n_cell}")));
        }
        let cifg = cx.optional(base).is_none();
        let w = |i: usize, what: &str| Matrix::of(cx, cx.input(base + i, what)?, n_cell, n_in, what);
        let r = |i: usize, what: &str| Matrix::of(cx, cx.input(base + i, what)?, n_cell, n_rec, what);
        // Biases dequantize with their own scales (int32 in the
        // full-integer kernel).
        let bias = |i: usize| -> Result<Vec<f64>> { cx.bias(cx.optional(base + i), n_cell) };
        Ok(Lstm {
            w_i: if cifg { None } else { Some(w(0, "input_to_input_weights")?) },
            w: [w(1, "input_to_forget_weights")?, w(2, "input_to_cell_weights")?, w(3, "input_to_output_weights")?],
            r_i: if cifg { None } else { Some(r(4, "recurrent_to_input_weights")?) },
            r: [r(5, "recurrent_to_forget_weights")?, r(6, "recurrent_to_cell_weights")?, r(7, "recurrent_to_output_weights")?],
            p_i: if cifg { None } else { vector(cx, cx.optional(base + 8), n_cell, "cell_to_input_weights")? },
            p_f: vector(cx, cx.optional(base + 9), n_cell, "cell_to_forget_weights")?,
            p_o: vector(cx, cx.optional(base + 10), n_cell, "cell_to_output_weights")?,
            b_i: if cifg { None } else { Some(bias(11)?) },
            b: [bias(12)?, bias(13)?, bias(14)?],
            proj: match proj {
                Some(p) => {
                    let b = cx.optional(base + 16).map(|b| cx.bias(Some(b), n_rec)).transpose()?;
                    Some((Matrix::of(cx, p, n_rec, n_cell, "projection_weights")?, b))
                }
                None => None,
            },
            n_cell,
            n_out: n_rec,
            act: act(a),
            cell_clip: f64::from(cell_clip),
            proj_clip: f64::from(proj_clip),
        })
    }

    /// One step for one batch row: updates `h` and `c`.
    fn step(&self, x: &[f64], h: &mut [f64], c: &mut [f64]) {
        let gate = |w: &Matrix, r: &Matrix, bias: &[f64], peep: Option<&Vec<f64>>, cell: &[f64], h: &[f64]| {
            let mut g = bias.to_vec();
            w.mul_add(x, &mut g);
            r.mul_add(h, &mut g);
            if let Some(p) = peep {
                g.iter_mut().zip(p).zip(cell).for_each(|((g, p), c)| *g += p * c);
            }
            g
        };
        let f: Vec<f64> = gate(&self.w[0], &self.r[0], &self.b[0], self.p_f.as_ref(), c, h).into_iter().map(sigmoid).collect();
        let i: Vec<f64> = match (&self.w_i, &self.r_i, &self.b_i) {
            (Some(w), Some(r), Some(b)) => gate(w, r, b, self.p_i.as_ref(), c, h).into_iter().map(sigmoid).collect(),
            _ => f.iter().map(|f| 1.0 - f).collect(),
        };
        let g: Vec<f64> = gate(&self.w[1], &self.r[1], &self.b[1], None, c, h).into_iter().map(self.act).collect();
        for k in 0..self.n_cell.min(c.len()) {
            c[k] = f[k] * c[k] + i[k] * g[k];
            if self.cell_clip > 0.0 {
                c[k] = c[k].clamp(-self.cell_clip, self.cell_clip);
            }
        }
        let o: Vec<f64> = gate(&self.w[2], &self.r[2], &self.b[2], self.p_o.as_ref(), c, h).into_iter().map(sigmoid).collect();
        let m: Vec<f64> = (0..self.n_cell).map(|k| o[k] * (self.act)(c[k])).collect();
        match &self.proj {
            Some((w, b)) => {
                let mut y = b.clone().unwrap_or_else(|| vec![0.0; self.n_out]);
                w.mul_add(&m, &mut y);
                if self.proj_clip > 0.0 {
                    y.iter_mut().for_each(|v| *v = v.clamp(-self.proj_clip, self.proj_clip));
                }
                h.copy_from_slice(&y);
            }
            None => h.copy_from_slice(&m),
        }
    }

    /// Runs over a sequence (backwards when `reverse`), from the states at
    /// inputs `h0` and `c0`, writing each step's output at column `col` of
    /// rows `width` wide in `out`.
    fn run(&self, cx: &Cx<'_>, x: &[f64], n_in: usize, seq: Seq, states: (usize, usize), reverse: bool, out: &mut [f64], width: usize, col: usize) -> Result<()> {
        let (h0, c0) = (cx.input(states.0, "output_state")?, cx.input(states.1, "cell_state")?);
        if h0.data.len() != seq.batch * self.n_out || c0.data.len() != seq.batch * self.n_cell {
            return Err(cx.shape_err(format!("states {:?} and {:?} must be [{}, {}] and [{}, {}]", h0.shape, c0.shape, seq.batch, self.n_out, seq.batch, self.n_cell)));
        }
        let mut h = cx.real(h0)?.into_owned();
        let mut c = cx.real(c0)?.into_owned();
        for step in 0..seq.time {
            let t = if reverse { seq.time - 1 - step } else { step };
            for b in 0..seq.batch {
                let xr = cx.slice(x, seq.row(b, t) * n_in, n_in)?;
                let hb = h.get_mut(b * self.n_out..(b + 1) * self.n_out).ok_or_else(|| cx.internal())?;
                let cb = c.get_mut(b * self.n_cell..(b + 1) * self.n_cell).ok_or_else(|| cx.internal())?;
                self.step(xr, hb, cb);
                let at = seq.row(b, t) * width + col;
                out.get_mut(at..at + self.n_out).ok_or_else(|| cx.internal())?.copy_from_slice(hb);
            }
        }
        Ok(())
    }
}

fn no_layer_norm(cx: &Cx<'_>, from: usize, to: usize) -> Result<()> {
    if (from..to).any(|i| cx.optional(i).is_some()) {
        return Err(cx.unsupported("layer-normalized LSTM"));
    }
    Ok(())
}

pub(super) fn unidirectional_sequence_lstm(cx: &Cx<'_>, o: &UnidirectionalSequenceLstmOptions) -> Result<Vec<Value>> {
    cx.arity(20, 24)?;
    no_layer_norm(cx, 20, 24)?;
    let x = cx.input(0, "input")?;
    let (batch, time, n_in) = sequence(cx, x, o.time_major)?;
    let lstm = Lstm::load(cx, 1, n_in, o.fused_activation_function, o.cell_clip, o.proj_clip)?;
    let seq = Seq { batch, time, time_major: o.time_major };
    let shape = if o.time_major { vec![time, batch, lstm.n_out] } else { vec![batch, time, lstm.n_out] };
    let mut out = vec![0.0; cx.numel(&shape)?];
    lstm.run(cx, &cx.real(x)?, n_in, seq, (18, 19), false, &mut out, lstm.n_out, 0)?;
    cx.finish(shape, out)
}

pub(super) fn lstm(cx: &Cx<'_>, o: &LstmOptions) -> Result<Vec<Value>> {
    if o.kernel_type == LstmKernelType::Basic || cx.inputs.len() == 5 {
        return Err(cx.unsupported("the basic LSTM kernel"));
    }
    cx.arity(20, 24)?;
    no_layer_norm(cx, 20, 24)?;
    let x = cx.input(0, "input")?;
    let [batch, n_in] = <[usize; 2]>::try_from(x.shape.as_slice()).map_err(|_| cx.shape_err("input must have rank 2"))?;
    let lstm = Lstm::load(cx, 1, n_in, o.fused_activation_function, o.cell_clip, o.proj_clip)?;
    let seq = Seq { batch, time: 1, time_major: true };
    let mut out = vec![0.0; cx.numel(&[batch, lstm.n_out])?];
    lstm.run(cx, &cx.real(x)?, n_in, seq, (18, 19), false, &mut out, lstm.n_out, 0)?;
    cx.finish(vec![batch, lstm.n_out], out)
}

pub(super) fn bidirectional_sequence_lstm(cx: &Cx<'_>, o: &BidirectionalSequenceLstmOptions) -> Result<Vec<Value>> {
    cx.arity(48, 48)?;
    if (39..48).any(|i| cx.optional(i).is_some()) {
        return Err(cx.unsupported("auxiliary inputs"));
    }
    let x = cx.input(0, "input")?;
    let (batch, time, n_in) = sequence(cx, x, o.time_major)?;
    let fw = Lstm::load(cx, 1, n_in, o.fused_activation_function, o.cell_clip, o.proj_clip)?;
    let bw = Lstm::load(cx, 18, n_in, o.fused_activation_function, o.cell_clip, o.proj_clip)?;
    let seq = Seq { batch, time, time_major: o.time_major };
    let xv = cx.real(x)?;
    let dims = |n: usize| if o.time_major { vec![time, batch, n] } else { vec![batch, time, n] };
    if o.merge_outputs {
        let width = fw.n_out + bw.n_out;
        let mut out = vec![0.0; cx.numel(&dims(width))?];
        fw.run(cx, &xv, n_in, seq, (35, 36), false, &mut out, width, 0)?;
        bw.run(cx, &xv, n_in, seq, (37, 38), true, &mut out, width, fw.n_out)?;
        return cx.finish(dims(width), out);
    }
    let mut a = vec![0.0; cx.numel(&dims(fw.n_out))?];
    let mut b = vec![0.0; cx.numel(&dims(bw.n_out))?];
    fw.run(cx, &xv, n_in, seq, (35, 36), false, &mut a, fw.n_out, 0)?;
    bw.run(cx, &xv, n_in, seq, (37, 38), true, &mut b, bw.n_out, 0)?;
    two_outputs(cx, (dims(fw.n_out), a), (dims(bw.n_out), b))
}

fn two_outputs(cx: &Cx<'_>, a: (Vec<usize>, Vec<f64>), b: (Vec<usize>, Vec<f64>)) -> Result<Vec<Value>> {
    let [oa, ob] = cx.outputs else {
        return Err(cx.shape_err(format!("has 2 outputs, {} given", cx.outputs.len())));
    };
    Ok(vec![
        crate::eval::convert::encode(a.1, a.0, oa, cx.name())?,
        crate::eval::convert::encode(b.1, b.0, ob, cx.name())?,
    ])
}

/// One RNN direction: weights from input `base` on (`[weights, recurrent,
/// bias, hidden_state]`).
struct Rnn {
    w: Matrix,
    r: Matrix,
    bias: Vec<f64>,
    units: usize,
    state: usize,
    act: fn(f64) -> f64,
}

impl Rnn {
    fn load(cx: &Cx<'_>, base: usize, n_in: usize, a: Activation) -> Result<Rnn> {
        let wv = cx.input(base, "weights")?;
        let units = *wv.shape.first().ok_or_else(|| cx.shape_err("weights must be 2-D"))?;
        Ok(Rnn {
            w: Matrix::of(cx, wv, units, n_in, "weights")?,
            r: Matrix::of(cx, cx.input(base + 1, "recurrent_weights")?, units, units, "recurrent_weights")?,
            bias: vector(cx, Some(cx.input(base + 2, "bias")?), units, "bias")?.unwrap_or_default(),
            units,
            state: base + 3,
            act: act(a),
        })
    }

    fn run(&self, cx: &Cx<'_>, x: &[f64], n_in: usize, seq: Seq, reverse: bool, out: &mut [f64], width: usize, col: usize) -> Result<()> {
        let h0 = cx.input(self.state, "hidden_state")?;
        if h0.data.len() != seq.batch * self.units {
            return Err(cx.shape_err(format!("hidden_state {:?} must be [{}, {}]", h0.shape, seq.batch, self.units)));
        }
        let mut h = cx.real(h0)?.into_owned();
        for step in 0..seq.time {
            let t = if reverse { seq.time - 1 - step } else { step };
            for b in 0..seq.batch {
                let xr = cx.slice(x, seq.row(b, t) * n_in, n_in)?;
                let hb = h.get_mut(b * self.units..(b + 1) * self.units).ok_or_else(|| cx.internal())?;
                let mut y = self.bias.clone();
                self.w.mul_add(xr, &mut y);
                self.r.mul_add(hb, &mut y);
                y.iter_mut().for_each(|v| *v = (self.act)(*v));
                hb.copy_from_slice(&y);
                let at = seq.row(b, t) * width + col;
                out.get_mut(at..at + self.units).ok_or_else(|| cx.internal())?.copy_from_slice(&y);
            }
        }
        Ok(())
    }
}

pub(super) fn rnn(cx: &Cx<'_>, o: &RnnOptions) -> Result<Vec<Value>> {
    cx.arity(5, 5)?;
    let x = cx.input(0, "input")?;
    let [batch, n_in] = <[usize; 2]>::try_from(x.shape.as_slice()).map_err(|_| cx.shape_err("input must have rank 2"))?;
    let rnn = Rnn::load(cx, 1, n_in, o.fused_activation_function)?;
    let mut out = vec![0.0; cx.numel(&[batch, rnn.units])?];
    rnn.run(cx, &cx.real(x)?, n_in, Seq { batch, time: 1, time_major: true }, false, &mut out, rnn.units, 0)?;
    cx.finish(vec![batch, rnn.units], out)
}

pub(super) fn unidirectional_sequence_rnn(cx: &Cx<'_>, o: &SequenceRnnOptions) -> Result<Vec<Value>> {
    cx.arity(5, 5)?;
    let x = cx.input(0, "input")?;
    let (batch, time, n_in) = sequence(cx, x, o.time_major)?;
    let rnn = Rnn::load(cx, 1, n_in, o.fused_activation_function)?;
    let shape = if o.time_major { vec![time, batch, rnn.units] } else { vec![batch, time, rnn.units] };
    let mut out = vec![0.0; cx.numel(&shape)?];
    rnn.run(cx, &cx.real(x)?, n_in, Seq { batch, time, time_major: o.time_major }, false, &mut out, rnn.units, 0)?;
    cx.finish(shape, out)
}

pub(super) fn bidirectional_sequence_rnn(cx: &Cx<'_>, o: &BidirectionalSequenceRnnOptions) -> Result<Vec<Value>> {
    cx.arity(12, 12)?;
    if (9..12).any(|i| cx.optional(i).is_some()) {
        return Err(cx.unsupported("auxiliary inputs"));
    }
    let x = cx.input(0, "input")?;
    let (batch, time, n_in) = sequence(cx, x, o.time_major)?;
    let fw = Rnn::load(cx, 1, n_in, o.fused_activation_function)?;
    let bw = Rnn::load(cx, 5, n_in, o.fused_activation_function)?;
    let seq = Seq { batch, time, time_major: o.time_major };
    let xv = cx.real(x)?;
    let dims = |n: usize| if o.time_major { vec![time, batch, n] } else { vec![batch, time, n] };
    if o.merge_outputs {
        let width = fw.units + bw.units;
        let mut out = vec![0.0; cx.numel(&dims(width))?];
        fw.run(cx, &xv, n_in, seq, false, &mut out, width, 0)?;
        bw.run(cx, &xv, n_in, seq, true, &mut out, width, fw.units)?;
        return cx.finish(dims(width), out);
    }
    let mut a = vec![0.0; cx.numel(&dims(fw.units))?];
    let mut b = vec![0.0; cx.numel(&dims(bw.units))?];
    fw.run(cx, &xv, n_in, seq, false, &mut a, fw.units, 0)?;
    bw.run(cx, &xv, n_in, seq, true, &mut b, bw.units, 0)?;
    two_outputs(cx, (dims(fw.units), a), (dims(bw.units), b))
}

/// `SVDF` (one step): input `[B, I]`, weights_feature `[F, I]`,
/// weights_time `[F, M]`, optional bias `[U]`, state `[B, F * M]` with
/// `F = U * rank`. Each filter's memory shifts left by one, takes the
/// feature projection of the input as its newest entry, and is weighted by
/// its time weights; the `rank` filters of a unit are summed.
pub(super) fn svdf(cx: &Cx<'_>, o: &SvdfOptions) -> Result<Vec<Value>> {
    cx.arity(5, 5)?;
    let x = cx.input(0, "input")?;
    let [batch, n_in] = <[usize; 2]>::try_from(x.shape.as_slice()).map_err(|_| cx.shape_err(format!("input must have rank 2, has shape {:?}", x.shape)))?;
    let wf = cx.input(1, "weights_feature")?;
    let n_filter = *wf.shape.first().ok_or_else(|| cx.shape_err("weights_feature must be 2-D"))?;
    let wf = Matrix::of(cx, wf, n_filter, n_in, "weights_feature")?;
    let wt = cx.input(2, "weights_time")?;
    let n_mem = *wt.shape.get(1).ok_or_else(|| cx.shape_err("weights_time must be 2-D"))?;
    let wt = Matrix::of(cx, wt, n_filter, n_mem, "weights_time")?;
    let rank = usize::try_from(o.rank).ok().filter(|r| *r > 0).ok_or_else(|| cx.shape_err(format!("rank must be positive, is {}", o.rank)))?;
    if n_filter % rank != 0 {
        return Err(cx.shape_err(format!("{n_filter} filters are not a multiple of rank {rank}")));
    }
    if n_mem == 0 {
        return Err(cx.shape_err("weights_time has no memory"));
    }
    let units = n_filter / rank;
    let bias = cx.bias(cx.optional(3), units)?;
    let state = cx.input(4, "state")?;
    let state_cols = n_filter.checked_mul(n_mem).ok_or_else(|| cx.shape_err("state size overflows"))?;
    if state.shape != [batch, state_cols] {
        return Err(cx.shape_err(format!("state must be [{batch}, {state_cols}], is {:?}", state.shape)));
    }
    let f = match o.fused_activation_function {
        Activation::SignBit => return Err(cx.unsupported("fused activation SIGN_BIT")),
        a => act(a),
    };
    let shape = vec![batch, units];
    let total = cx.numel(&shape)?;
    let xs = cx.real(x)?;
    let mut mem = cx.real(state)?.into_owned();
    let mut out = Vec::with_capacity(total);
    let mut feat = vec![0.0; n_filter];
    for b in 0..batch {
        feat.iter_mut().for_each(|v| *v = 0.0);
        wf.mul_add(cx.slice(&xs, b * n_in, n_in)?, &mut feat);
        let mut filt = Vec::with_capacity(n_filter);
        for (k, fv) in feat.iter().enumerate() {
            let start = (b * n_filter + k) * n_mem;
            let m = mem.get_mut(start..start + n_mem).ok_or_else(|| cx.internal())?;
            m.rotate_left(1);
            if let Some(last) = m.last_mut() {
                *last = *fv;
            }
            filt.push(dot(cx.slice(&wt.data, k * n_mem, n_mem)?, m));
        }
        for (u, bv) in bias.iter().enumerate() {
            let sum: f64 = cx.slice(&filt, u * rank, rank)?.iter().sum();
            out.push(f(sum + bv));
        }
    }
    cx.finish(shape, out)
}
