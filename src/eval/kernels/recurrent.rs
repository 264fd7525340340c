//! Kernels of the float recurrent ops: `UNIDIRECTIONAL_SEQUENCE_LSTM`,
//! `UNIDIRECTIONAL_SEQUENCE_RNN` and `RNN`, as LiteRT's reference kernels
//! compute them (`lstm_eval.cc`, `basic_rnn.cc`). States are variable
//! inputs: the evaluator starts them at zero (or their constant data), and
//! a run does not write them back.

use super::{dot, Cx, Result};
use crate::eval::Value;
use crate::model::{Activation, RnnOptions, SequenceRnnOptions, UnidirectionalSequenceLstmOptions};

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

/// `(batch, time, features)` of a sequence input, and a function from
/// `(b, t)` to the row offset.
fn sequence(cx: &Cx<'_>, x: &Value, time_major: bool) -> Result<(usize, usize, usize)> {
    let [a, b, f] = <[usize; 3]>::try_from(x.shape.as_slice()).map_err(|_| cx.shape_err(format!("input must have rank 3, has shape {:?}", x.shape)))?;
    Ok(if time_major { (b, a, f) } else { (a, b, f) })
}

fn row(time_major: bool, batch: usize, time: usize, b: usize, t: usize) -> usize {
    if time_major { t * batch + b } else { b * time + t }
}

pub(super) fn unidirectional_sequence_lstm(cx: &Cx<'_>, o: &UnidirectionalSequenceLstmOptions) -> Result<Vec<Value>> {
    cx.arity(20, 24)?;
    if (20..24).any(|i| cx.optional(i).is_some()) {
        return Err(cx.unsupported("layer-normalized LSTM"));
    }
    let x = cx.input(0, "input")?;
    let (batch, time, n_in) = sequence(cx, x, o.time_major)?;
    let w_f = cx.input(2, "input_to_forget_weights")?;
    let n_cell = *w_f.shape.first().ok_or_else(|| cx.shape_err("input_to_forget_weights must be 2-D"))?;
    let r_f = cx.input(6, "recurrent_to_forget_weights")?;
    let n_out = *r_f.shape.get(1).ok_or_else(|| cx.shape_err("recurrent_to_forget_weights must be 2-D"))?;
    let proj = cx.optional(16);
    let n_rec = if proj.is_some() { n_out } else { n_cell };
    if proj.is_none() && n_out != n_cell {
        return Err(cx.shape_err(format!("without projection the output size {n_out} must equal the cell size {n_cell}")));
    }
    let cifg = cx.optional(1).is_none();
    let w = |i: usize, what: &str| Matrix::of(cx, cx.input(i, what)?, n_cell, n_in, what);
    let r = |i: usize, what: &str| Matrix::of(cx, cx.input(i, what)?, n_cell, n_rec, what);
    let w_i = if cifg { None } else { Some(w(1, "input_to_input_weights")?) };
    let (w_f, w_c, w_o) = (w(2, "input_to_forget_weights")?, w(3, "input_to_cell_weights")?, w(4, "input_to_output_weights")?);
    let r_i = if cifg { None } else { Some(r(5, "recurrent_to_input_weights")?) };
    let (r_f, r_c, r_o) = (r(6, "recurrent_to_forget_weights")?, r(7, "recurrent_to_cell_weights")?, r(8, "recurrent_to_output_weights")?);
    let p_i = if cifg { None } else { vector(cx, cx.optional(9), n_cell, "cell_to_input_weights")? };
    let p_f = vector(cx, cx.optional(10), n_cell, "cell_to_forget_weights")?;
    let p_o = vector(cx, cx.optional(11), n_cell, "cell_to_output_weights")?;
    let b_i = if cifg { None } else { Some(vector(cx, cx.optional(12), n_cell, "input_gate_bias")?.unwrap_or_else(|| vec![0.0; n_cell])) };
    let zero = || vec![0.0; n_cell];
    let b_f = vector(cx, cx.optional(13), n_cell, "forget_gate_bias")?.unwrap_or_else(zero);
    let b_c = vector(cx, cx.optional(14), n_cell, "cell_gate_bias")?.unwrap_or_else(zero);
    let b_o = vector(cx, cx.optional(15), n_cell, "output_gate_bias")?.unwrap_or_else(zero);
    let proj_w = proj.map(|p| Matrix::of(cx, p, n_out, n_cell, "projection_weights")).transpose()?;
    let proj_b = vector(cx, cx.optional(17), n_out, "projection_bias")?;
    let h0 = cx.input(18, "output_state")?;
    let c0 = cx.input(19, "cell_state")?;
    if h0.data.len() != batch * n_out || c0.data.len() != batch * n_cell {
        return Err(cx.shape_err(format!("states {:?} and {:?} must be [{batch}, {n_out}] and [{batch}, {n_cell}]", h0.shape, c0.shape)));
    }
    let act = act(o.fused_activation_function);
    let xv = cx.real(x)?;
    let mut h = cx.real(h0)?.into_owned();
    let mut c = cx.real(c0)?.into_owned();
    let out_shape = if o.time_major { vec![time, batch, n_out] } else { vec![batch, time, n_out] };
    let mut out = vec![0.0; cx.numel(&out_shape)?];
    let (cell_clip, proj_clip) = (f64::from(o.cell_clip), f64::from(o.proj_clip));
    for t in 0..time {
        for b in 0..batch {
            let xr = cx.slice(&xv, row(o.time_major, batch, time, b, t) * n_in, n_in)?;
            let hb = cx.slice(&h, b * n_out, n_out)?.to_vec();
            let cb = cx.slice(&c, b * n_cell, n_cell)?.to_vec();
            let gate = |w: &Matrix, r: &Matrix, bias: &[f64], peep: Option<&Vec<f64>>, cell: &[f64]| {
                let mut g = bias.to_vec();
                w.mul_add(xr, &mut g);
                r.mul_add(&hb, &mut g);
                if let Some(p) = peep {
                    g.iter_mut().zip(p).zip(cell).for_each(|((g, p), c)| *g += p * c);
                }
                g
            };
            let f: Vec<f64> = gate(&w_f, &r_f, &b_f, p_f.as_ref(), &cb).into_iter().map(sigmoid).collect();
            let i: Vec<f64> = match (&w_i, &r_i, &b_i) {
                (Some(w), Some(r), Some(bi)) => gate(w, r, bi, p_i.as_ref(), &cb).into_iter().map(sigmoid).collect(),
                _ => f.iter().map(|f| 1.0 - f).collect(),
            };
            let g: Vec<f64> = gate(&w_c, &r_c, &b_c, None, &cb).into_iter().map(act).collect();
            let mut new_c: Vec<f64> = (0..n_cell).map(|k| f[k] * cb[k] + i[k] * g[k]).collect();
            if cell_clip > 0.0 {
                new_c.iter_mut().for_each(|v| *v = v.clamp(-cell_clip, cell_clip));
            }
            let og: Vec<f64> = gate(&w_o, &r_o, &b_o, p_o.as_ref(), &new_c).into_iter().map(sigmoid).collect();
            let m: Vec<f64> = (0..n_cell).map(|k| og[k] * act(new_c[k])).collect();
            let new_h = match &proj_w {
                Some(pw) => {
                    let mut y = proj_b.clone().unwrap_or_else(|| vec![0.0; n_out]);
                    pw.mul_add(&m, &mut y);
                    if proj_clip > 0.0 {
                        y.iter_mut().for_each(|v| *v = v.clamp(-proj_clip, proj_clip));
                    }
                    y
                }
                None => m,
            };
            c.get_mut(b * n_cell..(b + 1) * n_cell).ok_or_else(|| cx.internal())?.copy_from_slice(&new_c);
            h.get_mut(b * n_out..(b + 1) * n_out).ok_or_else(|| cx.internal())?.copy_from_slice(&new_h);
            let at = row(o.time_major, batch, time, b, t) * n_out;
            out.get_mut(at..at + n_out).ok_or_else(|| cx.internal())?.copy_from_slice(&new_h);
        }
    }
    cx.finish(out_shape, out)
}

/// One RNN step for every batch row: `act(W x + R h + b)`.
fn rnn_step(w: &Matrix, r: &Matrix, bias: &[f64], x: &[f64], h: &[f64], act: fn(f64) -> f64) -> Vec<f64> {
    let mut y = bias.to_vec();
    w.mul_add(x, &mut y);
    r.mul_add(h, &mut y);
    y.into_iter().map(act).collect()
}

struct RnnParts {
    w: Matrix,
    r: Matrix,
    bias: Vec<f64>,
    h: Vec<f64>,
    units: usize,
}

fn rnn_parts(cx: &Cx<'_>, n_in: usize, batch: usize) -> Result<RnnParts> {
    let wv = cx.input(1, "weights")?;
    let units = *wv.shape.first().ok_or_else(|| cx.shape_err("weights must be 2-D"))?;
    let w = Matrix::of(cx, wv, units, n_in, "weights")?;
    let r = Matrix::of(cx, cx.input(2, "recurrent_weights")?, units, units, "recurrent_weights")?;
    let bias = vector(cx, Some(cx.input(3, "bias")?), units, "bias")?.unwrap_or_default();
    let h0 = cx.input(4, "hidden_state")?;
    if h0.data.len() != batch * units {
        return Err(cx.shape_err(format!("hidden_state {:?} must be [{batch}, {units}]", h0.shape)));
    }
    Ok(RnnParts { w, r, bias, h: cx.real(h0)?.into_owned(), units })
}

pub(super) fn rnn(cx: &Cx<'_>, o: &RnnOptions) -> Result<Vec<Value>> {
    cx.arity(5, 5)?;
    let x = cx.input(0, "input")?;
    let [batch, n_in] = <[usize; 2]>::try_from(x.shape.as_slice()).map_err(|_| cx.shape_err("input must have rank 2"))?;
    let p = rnn_parts(cx, n_in, batch)?;
    let act = act(o.fused_activation_function);
    let xv = cx.real(x)?;
    let mut out = Vec::with_capacity(batch * p.units);
    for b in 0..batch {
        out.extend(rnn_step(&p.w, &p.r, &p.bias, cx.slice(&xv, b * n_in, n_in)?, cx.slice(&p.h, b * p.units, p.units)?, act));
    }
    cx.finish(vec![batch, p.units], out)
}

pub(super) fn unidirectional_sequence_rnn(cx: &Cx<'_>, o: &SequenceRnnOptions) -> Result<Vec<Value>> {
    cx.arity(5, 5)?;
    let x = cx.input(0, "input")?;
    let (batch, time, n_in) = sequence(cx, x, o.time_major)?;
    let mut p = rnn_parts(cx, n_in, batch)?;
    let act = act(o.fused_activation_function);
    let xv = cx.real(x)?;
    let n = p.units;
    let out_shape = if o.time_major { vec![time, batch, n] } else { vec![batch, time, n] };
    let mut out = vec![0.0; cx.numel(&out_shape)?];
    for t in 0..time {
        for b in 0..batch {
            let xr = cx.slice(&xv, row(o.time_major, batch, time, b, t) * n_in, n_in)?;
            let y = rnn_step(&p.w, &p.r, &p.bias, xr, cx.slice(&p.h, b * n, n)?, act);
            p.h.get_mut(b * n..(b + 1) * n).ok_or_else(|| cx.internal())?.copy_from_slice(&y);
            let at = row(o.time_major, batch, time, b, t) * n;
            out.get_mut(at..at + n).ok_or_else(|| cx.internal())?.copy_from_slice(&y);
        }
    }
    cx.finish(out_shape, out)
}
