//! Recurrent ops: LSTM, GRU and RNN, as an exact decomposition.
//!
//! The input projection of every time step is one FULLY_CONNECTED over the
//! whole sequence (`X·Wᵀ + Wb + Rb`); each step then adds the recurrent
//! projection and applies the gates with elementwise ops. A sequence of
//! static length up to [`MAX_UNROLL`] is unrolled; a longer or dynamic one
//! becomes a WHILE loop whose body runs one step and writes its output row
//! with DYNAMIC_UPDATE_SLICE. A reverse direction runs forward over the
//! reversed sequence (REVERSE_V2, or REVERSE_SEQUENCE with
//! `sequence_lens`) and reverses its output back. `sequence_lens` masks each
//! step: past a batch entry's length its state is held and its output is 0.
//!
//! TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM is not used: its states are
//! variable tensors that persist from one invocation to the next (an app
//! must call `ResetVariableTensors` between runs), so a second run of the
//! same interpreter would not compute what ONNX computes.

use super::control::MAX_UNROLL;
use super::{LowerCtx, LowerError, Node};
use crate::build::SubgraphBuilder;
use crate::model::{
    ConstData, Dim, DType, FullyConnectedOptions, GatherOptions, Op, PackOptions, ReverseSequenceOptions, Shape, SplitOptions, TensorId, UnpackOptions,
};
use crate::onnx::error::{OnnxError, ReasonCode};
use crate::ValidationError;

/// Which recurrent op.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Lstm,
    Gru,
    Rnn,
}

impl Kind {
    fn gates(self) -> usize {
        match self {
            Kind::Lstm => 4,
            Kind::Gru => 3,
            Kind::Rnn => 1,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Lstm => "LSTM",
            Kind::Gru => "GRU",
            Kind::Rnn => "RNN",
        }
    }
}

/// An ONNX recurrent activation function.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu(f32),
    HardSigmoid(f32, f32),
    ScaledTanh(f32, f32),
    Affine(f32, f32),
    Softsign,
}

/// Parses `activations` with their `activation_alpha` / `activation_beta`
/// (consumed in order by the functions that take them).
fn activations(node: &Node<'_>, defaults: &[&str], dirs: usize) -> Result<Vec<Act>, LowerError> {
    let names: Vec<String> = match node.inner.attr("activations") {
        None => defaults.iter().cycle().take(defaults.len() * dirs).map(|s| s.to_string()).collect(),
        Some(crate::onnx::ir::Attr::Strings(v)) => v.clone(),
        Some(crate::onnx::ir::Attr::Str(s)) => vec![s.clone()],
        Some(_) => return Err(LowerError::invalid("activations must be strings")),
    };
    if names.len() != defaults.len() * dirs {
        return Err(LowerError::invalid(format!("{} activations for {dirs} direction(s), expected {}", names.len(), defaults.len() * dirs)));
    }
    let alphas = node.attr_floats("activation_alpha")?.unwrap_or_default();
    let betas = node.attr_floats("activation_beta")?.unwrap_or_default();
    let (mut ai, mut bi) = (0, 0);
    let next = |v: &[f32], i: &mut usize, default: Option<f32>, what: &str| -> Result<f32, LowerError> {
        let x = v.get(*i).copied().or(default).ok_or_else(|| LowerError::attr(format!("activation {what} needs a value")))?;
        *i += 1;
        Ok(x)
    };
    names
        .iter()
        .map(|n| {
            Ok(match n.to_ascii_lowercase().as_str() {
                "sigmoid" => Act::Sigmoid,
                "tanh" => Act::Tanh,
                "relu" => Act::Relu,
                "leakyrelu" => Act::LeakyRelu(next(&alphas, &mut ai, Some(0.01), "LeakyRelu alpha")?),
                "hardsigmoid" => Act::HardSigmoid(next(&alphas, &mut ai, Some(0.2), "HardSigmoid alpha")?, next(&betas, &mut bi, Some(0.5), "HardSigmoid beta")?),
                "scaledtanh" => Act::ScaledTanh(next(&alphas, &mut ai, Some(1.0), "ScaledTanh alpha")?, next(&betas, &mut bi, Some(1.0), "ScaledTanh beta")?),
                "affine" => Act::Affine(next(&alphas, &mut ai, Some(1.0), "Affine alpha")?, next(&betas, &mut bi, Some(0.0), "Affine beta")?),
                "softsign" => Act::Softsign,
                other => return Err(LowerError::attr(format!("recurrent activation {other:?} is not supported"))),
            })
        })
        .collect()
}

fn scalar(g: &mut SubgraphBuilder, v: f32) -> TensorId {
    g.constant_f32("c", Shape::scalar(), &[v])
}

fn apply_act(g: &mut SubgraphBuilder, a: Act, x: TensorId) -> Result<TensorId, ValidationError> {
    match a {
        Act::Sigmoid => g.logistic(x),
        Act::Tanh => g.tanh(x),
        Act::Relu => g.relu(x),
        Act::LeakyRelu(al) => g.leaky_relu(x, al),
        Act::HardSigmoid(al, be) => {
            let (a, b, zero, one) = (scalar(g, al), scalar(g, be), scalar(g, 0.0), scalar(g, 1.0));
            let y = g.mul(x, a)?;
            let y = g.add(y, b)?;
            let y = g.maximum(y, zero)?;
            g.minimum(y, one)
        }
        Act::ScaledTanh(al, be) => {
            let (a, b) = (scalar(g, al), scalar(g, be));
            let y = g.mul(x, b)?;
            let y = g.tanh(y)?;
            g.mul(y, a)
        }
        Act::Affine(al, be) => {
            let (a, b) = (scalar(g, al), scalar(g, be));
            let y = g.mul(x, a)?;
            g.add(y, b)
        }
        Act::Softsign => {
            let one = scalar(g, 1.0);
            let ab = g.apply(Op::Abs, &[Some(x)])?;
            let d = g.add(ab, one)?;
            g.div(x, d)
        }
    }
}

/// What one direction's steps need, as tensors of the builder that runs
/// them.
struct StepParams {
    kind: Kind,
    hidden: usize,
    /// Recurrent weights `[G·H, H]`.
    r: TensorId,
    /// GRU with `linear_before_reset`: the recurrent bias of the h gate.
    rbh: Option<TensorId>,
    /// LSTM peepholes `[H]` each: input, output, forget.
    peep: Option<[TensorId; 3]>,
    acts: [Act; 3],
    clip: Option<f32>,
    input_forget: bool,
    linear_before_reset: bool,
}

/// The state after one step: hidden and (LSTM) cell.
struct State {
    h: Option<TensorId>,
    c: Option<TensorId>,
}

fn clip(g: &mut SubgraphBuilder, p: &StepParams, x: TensorId) -> Result<TensorId, ValidationError> {
    match p.clip {
        Some(c) => {
            let (lo, hi) = (scalar(g, -c), scalar(g, c));
            let y = g.maximum(x, lo)?;
            g.minimum(y, hi)
        }
        None => Ok(x),
    }
}

fn split(g: &mut SubgraphBuilder, x: TensorId, n: usize) -> Result<Vec<TensorId>, ValidationError> {
    if n == 1 {
        return Ok(vec![x]);
    }
    let axis = g.constant_i32("axis", Shape::scalar(), &[1]);
    g.split(axis, x, SplitOptions { num_splits: n as i32 })
}

fn fc(g: &mut SubgraphBuilder, x: TensorId, w: TensorId) -> Result<TensorId, ValidationError> {
    g.fully_connected(x, w, None, FullyConnectedOptions::default())
}

/// One time step: `xw` is this step's input projection `[B, G·H]` with the
/// biases added; a missing state is zero.
fn step(g: &mut SubgraphBuilder, p: &StepParams, xw: TensorId, s: &State) -> Result<(TensorId, Option<TensorId>), ValidationError> {
    let [f_act, g_act, h_act] = p.acts;
    match p.kind {
        Kind::Lstm => {
            let gates = match s.h {
                Some(h) => {
                    let hr = fc(g, h, p.r)?;
                    g.add(xw, hr)?
                }
                None => xw,
            };
            let parts = split(g, gates, 4)?;
            let (mut i, mut o, mut f, cc) = (parts[0], parts[1], parts[2], parts[3]);
            if let (Some([pi, _, pf]), Some(c)) = (p.peep, s.c) {
                let t = g.mul(c, pi)?;
                i = g.add(i, t)?;
                let t = g.mul(c, pf)?;
                f = g.add(f, t)?;
            }
            let i = clip(g, p, i)?;
            let i = apply_act(g, f_act, i)?;
            let f = if p.input_forget {
                let one = scalar(g, 1.0);
                g.sub(one, i)?
            } else {
                let f = clip(g, p, f)?;
                apply_act(g, f_act, f)?
            };
            let cc = clip(g, p, cc)?;
            let cc = apply_act(g, g_act, cc)?;
            let mut c_new = g.mul(i, cc)?;
            if let Some(c) = s.c {
                let fc_ = g.mul(f, c)?;
                c_new = g.add(fc_, c_new)?;
            }
            if let Some([_, po, _]) = p.peep {
                let t = g.mul(c_new, po)?;
                o = g.add(o, t)?;
            }
            let o = clip(g, p, o)?;
            let o = apply_act(g, f_act, o)?;
            let hc = apply_act(g, h_act, c_new)?;
            let h_new = g.mul(o, hc)?;
            Ok((h_new, Some(c_new)))
        }
        Kind::Gru => {
            let xparts = split(g, xw, 3)?;
            let (xz, xr, xh) = (xparts[0], xparts[1], xparts[2]);
            let (z_in, r_in, hr_h) = match s.h {
                Some(h) => {
                    let hr = fc(g, h, p.r)?;
                    let hparts = split(g, hr, 3)?;
                    (g.add(xz, hparts[0])?, g.add(xr, hparts[1])?, Some(hparts[2]))
                }
                None => (xz, xr, None),
            };
            let z_in = clip(g, p, z_in)?;
            let z = apply_act(g, f_act, z_in)?;
            let r_in = clip(g, p, r_in)?;
            let r = apply_act(g, f_act, r_in)?;
            // The h gate's recurrent term.
            let rec = match (p.linear_before_reset, s.h) {
                // r ⊙ (H·Rhᵀ + Rbh)
                (true, _) => {
                    let base = match (hr_h, p.rbh) {
                        (Some(t), Some(b)) => Some(g.add(t, b)?),
                        (Some(t), None) => Some(t),
                        (None, Some(b)) => Some(b),
                        (None, None) => None,
                    };
                    match base {
                        Some(t) => Some(g.mul(r, t)?),
                        None => None,
                    }
                }
                // (r ⊙ H)·Rhᵀ (Rbh is in xw)
                (false, Some(h)) => {
                    let rh = g.mul(r, h)?;
                    let all = fc(g, rh, p.r)?;
                    Some(split(g, all, 3)?[2])
                }
                (false, None) => None,
            };
            let hh = match rec {
                Some(t) => g.add(xh, t)?,
                None => xh,
            };
            let hh = clip(g, p, hh)?;
            let hh = apply_act(g, g_act, hh)?;
            // H = (1 - z) ⊙ hh + z ⊙ H_prev
            let one = scalar(g, 1.0);
            let nz = g.sub(one, z)?;
            let mut h_new = g.mul(nz, hh)?;
            if let Some(h) = s.h {
                let zh = g.mul(z, h)?;
                h_new = g.add(h_new, zh)?;
            }
            Ok((h_new, None))
        }
        Kind::Rnn => {
            let pre = match s.h {
                Some(h) => {
                    let hr = fc(g, h, p.r)?;
                    g.add(xw, hr)?
                }
                None => xw,
            };
            let pre = clip(g, p, pre)?;
            Ok((apply_act(g, f_act, pre)?, None))
        }
    }
}

/// Masks a step by `m` (`[B, 1]`, 1 where the step is inside the batch
/// entry's sequence): held state outside, output 0 outside.
fn masked(g: &mut SubgraphBuilder, m: TensorId, h_new: TensorId, new: &State, old: &State) -> Result<(State, TensorId), ValidationError> {
    let one = scalar(g, 1.0);
    let keep = g.sub(one, m)?;
    let mut blend = |n: Option<TensorId>, o: Option<TensorId>| -> Result<Option<TensorId>, ValidationError> {
        let Some(n) = n else { return Ok(None) };
        let a = g.mul(n, m)?;
        Ok(Some(match o {
            Some(o) => {
                let b = g.mul(o, keep)?;
                g.add(a, b)?
            }
            None => a,
        }))
    };
    let h = blend(new.h, old.h)?;
    let c = blend(new.c, old.c)?;
    let y = g.mul(h_new, m)?;
    Ok((State { h, c }, y))
}

/// `[B, 1]` float mask of step `t` (int32 scalar) against `lens` (`[B]`
/// int32).
fn step_mask(g: &mut SubgraphBuilder, t: TensorId, lens: TensorId) -> Result<TensorId, ValidationError> {
    let inside = g.apply(Op::Less, &[Some(t), Some(lens)])?;
    let m = g.cast(inside, DType::F32)?;
    let one = g.constant_i32("one", Shape::new([1]), &[1]);
    g.expand_dims(m, one)
}

/// Per-node facts shared by the directions.
struct Setup {
    dirs: usize,
    clip: Option<f32>,
    input_forget: bool,
    linear_before_reset: bool,
    acts: Vec<Act>,
}

/// Lowers `LSTM`.
pub fn lower_lstm(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower_recurrent(ctx, node, Kind::Lstm)
}
/// Lowers `GRU`.
pub fn lower_gru(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower_recurrent(ctx, node, Kind::Gru)
}
/// Lowers `RNN`.
pub fn lower_rnn(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower_recurrent(ctx, node, Kind::Rnn)
}

/// A slice `[d, rows]` of a `[dirs, N]` or `[dirs, N, K]` input, as a
/// constant when the input is constant.
fn dir_slice(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, d: usize, rows: std::ops::Range<usize>, what: &str) -> Result<TensorId, LowerError> {
    if let Some(c) = ctx.const_input(node, i) {
        let v = c.to_f32().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, format!("{what} of type {}", c.dtype)))?;
        let (n, k) = match c.dims.as_slice() {
            [_, n] => (*n, 1),
            [_, n, k] => (*n, *k),
            _ => return Err(LowerError::invalid(format!("{what} has shape {:?}", c.dims))),
        };
        if rows.end > n || d >= c.dims[0] {
            return Err(LowerError::invalid(format!("{what} of shape {:?} is too small", c.dims)));
        }
        let start = (d * n + rows.start) * k;
        let end = (d * n + rows.end) * k;
        let data = v.get(start..end).ok_or_else(|| LowerError::invalid(format!("{what} holds too few values")))?;
        let dims: Vec<u32> = if c.dims.len() == 3 { vec![rows.len() as u32, k as u32] } else { vec![rows.len() as u32] };
        return Ok(ctx.g.constant(&format!("{}_{what}{d}", node.name()), DType::F32, Shape::new(dims), ConstData::from_slice(data)));
    }
    let x = ctx.input(node, i)?;
    let rank = ctx.shape(x).rank();
    if ctx.dtype(x) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("{what} of type {}", ctx.dtype(x))));
    }
    let (mut begin, mut end) = (vec![d as i32, rows.start as i32], vec![d as i32 + 1, rows.end as i32]);
    if rank == 3 {
        begin.push(0);
        end.push(0);
    } else if rank != 2 {
        return Err(LowerError::invalid(format!("{what} has rank {rank}")));
    }
    let o = crate::model::StridedSliceOptions { end_mask: if rank == 3 { 4 } else { 0 }, shrink_axis_mask: 1, ..Default::default() };
    Ok(ctx.g.strided_slice(x, &begin, &end, &vec![1; rank], o)?)
}

fn lower_recurrent(ctx: &mut LowerCtx<'_>, node: &Node<'_>, kind: Kind) -> Result<(), LowerError> {
    let hidden = node.attr_int("hidden_size")?.ok_or_else(|| LowerError::invalid("hidden_size is required"))?;
    let hidden = usize::try_from(hidden).ok().filter(|h| *h > 0 && *h <= 1 << 20).ok_or_else(|| LowerError::invalid(format!("hidden_size {hidden}")))?;
    let direction = node.attr_str("direction")?.unwrap_or_else(|| "forward".into());
    let dirs_list: Vec<bool> = match direction.as_str() {
        "forward" => vec![false],
        "reverse" => vec![true],
        "bidirectional" => vec![false, true],
        other => return Err(LowerError::attr(format!("direction {other:?}"))),
    };
    let dirs = dirs_list.len();
    let layout = node.int_or("layout", 0)?;
    if !matches!(layout, 0 | 1) {
        return Err(LowerError::attr(format!("layout {layout}")));
    }
    let defaults: &[&str] = match kind {
        Kind::Lstm => &["Sigmoid", "Tanh", "Tanh"],
        Kind::Gru => &["Sigmoid", "Tanh"],
        Kind::Rnn => &["Tanh"],
    };
    let setup = Setup {
        dirs,
        clip: node.attr_float("clip")?.filter(|c| *c > 0.0),
        input_forget: node.int_or("input_forget", 0)? != 0,
        linear_before_reset: node.int_or("linear_before_reset", 0)? != 0,
        acts: activations(node, defaults, dirs)?,
    };
    let g_h = kind.gates() * hidden;
    // X, time-major [T, B, I].
    let mut x = ctx.input(node, 0)?;
    if ctx.dtype(x) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("{} on {}", kind.name(), ctx.dtype(x))));
    }
    if ctx.shape(x).rank() != 3 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("X of rank {}", ctx.shape(x).rank())));
    }
    if layout == 1 {
        x = ctx.g.transpose(x, &[1, 0, 2])?;
    }
    let steps = ctx.shape(x).dims()[0];
    let lens = if node.has_input(4) {
        let l = ctx.input(node, 4)?;
        Some(match ctx.dtype(l) {
            DType::I32 => l,
            DType::I64 => ctx.g.cast(l, DType::I32)?,
            d => return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("sequence_lens of type {d}"))),
        })
    } else {
        None
    };
    let (h0_in, c0_in, p_in) = match kind {
        Kind::Lstm => (5, Some(6), Some(7)),
        _ => (5, None, None),
    };
    let unroll = matches!(steps, Dim::Fixed(n) if i64::from(n) <= MAX_UNROLL);
    let mut ys = Vec::with_capacity(dirs);
    let mut hs = Vec::with_capacity(dirs);
    let mut cs = Vec::with_capacity(dirs);
    for (d, &reverse) in dirs_list.iter().enumerate() {
        // Input projection with both biases (GRU's Rbh stays out with
        // linear_before_reset).
        let w = dir_slice(ctx, node, 1, d, 0..g_h, "W")?;
        let bias = if node.has_input(3) {
            let wb = dir_slice(ctx, node, 3, d, 0..g_h, "B")?;
            let rb = if kind == Kind::Gru && setup.linear_before_reset {
                let rzr = dir_slice(ctx, node, 3, d, g_h..g_h + 2 * hidden, "B")?;
                let zeros = ctx.g.constant_f32(&format!("{}_zero_h", node.name()), Shape::new([hidden as u32]), &vec![0.0; hidden]);
                ctx.g.concatenation(&[rzr, zeros], 0)?
            } else {
                dir_slice(ctx, node, 3, d, g_h..2 * g_h, "B")?
            };
            Some(ctx.g.add(wb, rb)?)
        } else {
            None
        };
        let mut xd = x;
        if reverse {
            xd = reverse_time(ctx, xd, lens)?;
        }
        let xw = ctx.g.fully_connected(xd, w, bias, FullyConnectedOptions { keep_num_dims: true, ..Default::default() })?;
        let r = dir_slice(ctx, node, 2, d, 0..g_h, "R")?;
        let rbh = if kind == Kind::Gru && setup.linear_before_reset && node.has_input(3) {
            Some(dir_slice(ctx, node, 3, d, g_h + 2 * hidden..2 * g_h, "B")?)
        } else {
            None
        };
        let peep = match p_in {
            Some(i) if node.has_input(i) => Some([
                dir_slice(ctx, node, i, d, 0..hidden, "P")?,
                dir_slice(ctx, node, i, d, hidden..2 * hidden, "P")?,
                dir_slice(ctx, node, i, d, 2 * hidden..3 * hidden, "P")?,
            ]),
            _ => None,
        };
        let h0 = if node.has_input(h0_in) { Some(state_slice(ctx, node, h0_in, d)?) } else { None };
        let c0 = match c0_in {
            Some(i) if node.has_input(i) => Some(state_slice(ctx, node, i, d)?),
            _ => None,
        };
        let a = &setup.acts[d * defaults.len()..(d + 1) * defaults.len()];
        let acts = [a[0], *a.get(1).unwrap_or(&a[0]), *a.get(2).unwrap_or(&a[0])];
        let params = StepParams {
            kind,
            hidden,
            r,
            rbh,
            peep,
            acts,
            clip: setup.clip,
            input_forget: setup.input_forget,
            linear_before_reset: setup.linear_before_reset,
        };
        let (y, last) = if unroll {
            unrolled(ctx, &params, xw, State { h: h0, c: c0 }, lens, &node.name())?
        } else {
            let lowered = while_steps(ctx, &params, xw, State { h: h0, c: c0 }, lens, &node.name());
            lowered.map_err(|e| ctx.nest(e))?
        };
        let y = if reverse { reverse_time(ctx, y, lens)? } else { y };
        ys.push(Some(y));
        hs.push(last.h);
        cs.push(last.c);
    }
    let _ = setup.dirs;
    // Y: [T, dirs, B, H] (layout 1: [B, T, dirs, H]).
    if node.inner.outputs.first().is_some_and(|o| !o.is_empty()) {
        let mut y = ctx.g.pack(&ys, PackOptions { values_count: dirs as i32, axis: 1 })?;
        if layout == 1 {
            y = ctx.g.transpose(y, &[2, 0, 1, 3])?;
        }
        ctx.set_output(node, 0, y);
    }
    for (k, states) in [(1usize, hs), (2, cs)] {
        if node.inner.outputs.get(k).is_none_or(|o| o.is_empty()) {
            continue;
        }
        let states: Vec<Option<TensorId>> = states.into_iter().map(|s| s.ok_or_else(|| LowerError::invalid("no state for an output"))).map(|r| r.map(Some)).collect::<Result<_, _>>()?;
        let mut s = ctx.g.pack(&states, PackOptions { values_count: dirs as i32, axis: 0 })?;
        if layout == 1 {
            s = ctx.g.transpose(s, &[1, 0, 2])?;
        }
        ctx.set_output(node, k, s);
    }
    let form = if unroll { format!("unrolled over {} steps", ctx.shape(x).dims()[0].fixed().unwrap_or(0)) } else { "WHILE over the sequence".to_string() };
    ctx.forms.push((node.name(), form));
    Ok(())
}

/// The initial state of direction `d`: `[B, H]` from a `[dirs, B, H]`
/// input (layout 0) or `[B, dirs, H]` (layout 1).
fn state_slice(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, d: usize) -> Result<TensorId, LowerError> {
    let s = ctx.input(node, i)?;
    if ctx.dtype(s) != DType::F32 || ctx.shape(s).rank() != 3 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("initial state of type {} and rank {}", ctx.dtype(s), ctx.shape(s).rank())));
    }
    let axis = if node.int_or("layout", 0)? == 1 { 1 } else { 0 };
    let idx = ctx.g.constant_i32(&format!("{}_dir{d}", node.name()), Shape::scalar(), &[d as i32]);
    Ok(ctx.g.gather(s, idx, GatherOptions { axis, batch_dims: 0 })?)
}

/// Reverses a time-major `[T, B, ...]` tensor in time, per batch entry
/// within its length when `lens` is given.
fn reverse_time(ctx: &mut LowerCtx<'_>, x: TensorId, lens: Option<TensorId>) -> Result<TensorId, LowerError> {
    Ok(match lens {
        Some(l) => ctx.g.reverse_sequence(x, l, ReverseSequenceOptions { seq_dim: 0, batch_dim: 1 })?,
        None => {
            let axis = ctx.g.constant_i32("time_axis", Shape::new([1]), &[0]);
            ctx.g.reverse_v2(x, axis)?
        }
    })
}

/// Runs a direction's steps unrolled; gives `Y` `[T, B, H]` and the last
/// state.
fn unrolled(ctx: &mut LowerCtx<'_>, p: &StepParams, xw: TensorId, s0: State, lens: Option<TensorId>, name: &str) -> Result<(TensorId, State), LowerError> {
    let n = ctx.shape(xw).dims()[0].fixed().unwrap_or(0) as usize;
    if n == 0 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, "a sequence of length 0"));
    }
    let xs = if n == 1 {
        let idx = ctx.g.constant_i32(&format!("{name}_t0"), Shape::scalar(), &[0]);
        vec![ctx.g.gather(xw, idx, GatherOptions::default())?]
    } else {
        ctx.g.unpack(xw, UnpackOptions { num: n as i32, axis: 0 })?
    };
    let mut s = s0;
    let mut ys = Vec::with_capacity(n);
    for (t, x_t) in xs.into_iter().enumerate() {
        let (h_new, c_new) = step(&mut ctx.g, p, x_t, &s)?;
        let new = State { h: Some(h_new), c: c_new };
        let (next, y) = match lens {
            Some(l) => {
                let tt = ctx.g.constant_i32(&format!("{name}_t{t}"), Shape::scalar(), &[t as i32]);
                let m = step_mask(&mut ctx.g, tt, l)?;
                masked(&mut ctx.g, m, h_new, &new, &s)?
            }
            None => (new, h_new),
        };
        s = next;
        ys.push(Some(y));
    }
    let _ = p.hidden;
    let y = ctx.g.pack(&ys, PackOptions { values_count: n as i32, axis: 0 })?;
    Ok((y, s))
}

/// A zero `[B, H]` state, `B` read from `xw` `[T, B, G·H]` at run time when
/// it is dynamic.
fn zero_state(g: &mut SubgraphBuilder, xw: TensorId, hidden: usize) -> Result<TensorId, ValidationError> {
    let b = g.tensor(xw).shape.dims()[1];
    // A small state is a constant; a large one (or a dynamic batch) is
    // filled at run time rather than stored in the file.
    if let Dim::Fixed(b) = b {
        if (b as usize).saturating_mul(hidden) <= 1 << 16 {
            return Ok(g.constant_f32("zero_state", Shape::new([b, hidden as u32]), &vec![0.0; b as usize * hidden]));
        }
    }
    let shape = g.shape(xw, crate::model::ShapeOptions { out_type: DType::I32 })?;
    let b = g.strided_slice(shape, &[1], &[2], &[1], Default::default())?;
    let h = g.constant_i32("hidden", Shape::new([1]), &[hidden as i32]);
    let dims = g.concatenation(&[b, h], 0)?;
    let zero = scalar(g, 0.0);
    g.fill(dims, zero)
}

/// Runs a direction's steps in a WHILE loop over
/// `[t, T, xw, Y so far, (lens), h, (c)]`; gives `Y` `[T, B, H]` and the
/// last state.
fn while_steps(ctx: &mut LowerCtx<'_>, p: &StepParams, xw: TensorId, s0: State, lens: Option<TensorId>, name: &str) -> Result<(TensorId, State), OnnxError> {
    let m = OnnxError::Model;
    for (t, what) in [(Some(p.r), "R"), (p.rbh, "B"), (p.peep.map(|x| x[0]), "P")] {
        if t.is_some_and(|t| !ctx.g.tensor(t).is_constant()) {
            return Err(OnnxError::UnsupportedOnnxOp {
                node: name.to_string(),
                op_type: p.kind.name().into(),
                opset: 0,
                reason_code: ReasonCode::InputMustBeConstant,
                detail: format!("{what} must be constant when the sequence is longer than {MAX_UNROLL} steps or dynamic"),
            });
        }
    }
    let g = &mut ctx.g;
    let h0 = match s0.h {
        Some(h) => h,
        None => zero_state(g, xw, p.hidden).map_err(m)?,
    };
    let c0 = match (p.kind, s0.c) {
        (Kind::Lstm, Some(c)) => Some(c),
        (Kind::Lstm, None) => Some(zero_state(g, xw, p.hidden).map_err(m)?),
        _ => None,
    };
    // T, and Y's buffer [T, B, H] of zeros.
    let shape = g.shape(xw, crate::model::ShapeOptions { out_type: DType::I32 }).map_err(m)?;
    let t_len = g.strided_slice(shape, &[0], &[1], &[1], crate::model::StridedSliceOptions { shrink_axis_mask: 1, ..Default::default() }).map_err(m)?;
    let tb = g.strided_slice(shape, &[0], &[2], &[1], Default::default()).map_err(m)?;
    let hdim = g.constant_i32("hidden", Shape::new([1]), &[p.hidden as i32]);
    let ydims = g.concatenation(&[tb, hdim], 0).map_err(m)?;
    let zero = scalar(g, 0.0);
    let y0 = g.fill(ydims, zero).map_err(m)?;
    let t0 = g.constant_i32("t0", Shape::scalar(), &[0]);
    let mut vars = vec![t0, t_len, xw, y0];
    if let Some(l) = lens {
        vars.push(l);
    }
    vars.push(h0);
    if let Some(c) = c0 {
        vars.push(c);
    }
    let shapes: Vec<(DType, Shape)> = vars.iter().map(|t| (ctx.g.tensor(*t).dtype, ctx.g.tensor(*t).shape.clone())).collect();
    // Constant parameters are copied into the body.
    let copy = |from: &SubgraphBuilder, to: &mut SubgraphBuilder, t: TensorId| -> TensorId { to.add_tensor(from.tensor(t).clone()) };
    let mut body = ctx.mb.subgraph(format!("{name}_steps"));
    let ins: Vec<TensorId> = shapes.iter().enumerate().map(|(k, (d, s))| body.input(&format!("v{k}"), *d, s.clone())).collect();
    let bp = StepParams {
        kind: p.kind,
        hidden: p.hidden,
        r: copy(&ctx.g, &mut body, p.r),
        rbh: p.rbh.map(|t| copy(&ctx.g, &mut body, t)),
        peep: p.peep.map(|ts| ts.map(|t| copy(&ctx.g, &mut body, t))),
        acts: p.acts,
        clip: p.clip,
        input_forget: p.input_forget,
        linear_before_reset: p.linear_before_reset,
    };
    let (t, xw_in, y_in) = (ins[0], ins[2], ins[3]);
    let lens_in = lens.map(|_| ins[4]);
    let hi = if lens.is_some() { 5 } else { 4 };
    let s = State { h: Some(ins[hi]), c: c0.map(|_| ins[hi + 1]) };
    let x_t = body.gather(xw_in, t, GatherOptions::default()).map_err(m)?;
    let (h_new, c_new) = step(&mut body, &bp, x_t, &s).map_err(m)?;
    let new = State { h: Some(h_new), c: c_new };
    let (next, y) = match lens_in {
        Some(l) => {
            let mk = step_mask(&mut body, t, l).map_err(m)?;
            masked(&mut body, mk, h_new, &new, &s).map_err(m)?
        }
        None => (new, h_new),
    };
    let zero_ax = body.constant_i32("axis0", Shape::new([1]), &[0]);
    let row = body.expand_dims(y, zero_ax).map_err(m)?;
    let t1 = body.reshape(t, &[1]).map_err(m)?;
    let z2 = body.constant_i32("zeros2", Shape::new([2]), &[0, 0]);
    let start = body.concatenation(&[t1, z2], 0).map_err(m)?;
    let y_next = body.dynamic_update_slice(&[Some(y_in), Some(row), Some(start)]).map_err(m)?;
    let one = body.constant_i32("one", Shape::scalar(), &[1]);
    let t_next = body.add(t, one).map_err(m)?;
    // Loop invariants pass through (WHILE in LiteRT then shares their
    // memory instead of copying).
    let mut outs = vec![t_next, ins[1], xw_in, y_next];
    if let Some(l) = lens_in {
        outs.push(l);
    }
    outs.push(next.h.ok_or_else(|| OnnxError::Invalid("no hidden state".into()))?);
    if let Some(c) = next.c {
        outs.push(c);
    }
    for (k, o) in outs.iter().enumerate() {
        body.output(&format!("out{k}"), *o);
    }
    let bi = ctx.mb.finish_subgraph(body).map_err(m)?;
    let mut cg = ctx.mb.subgraph(format!("{name}_more"));
    let cins: Vec<TensorId> = shapes.iter().enumerate().map(|(k, (d, s))| cg.input(&format!("v{k}"), *d, s.clone())).collect();
    let go = cg.apply(Op::Less, &[Some(cins[0]), Some(cins[1])]).map_err(m)?;
    cg.output("go", go);
    let ci = ctx.mb.finish_subgraph(cg).map_err(m)?;
    let res = ctx.g.while_loop(&ctx.mb, ci, bi, &vars).map_err(m)?;
    let h = res[hi];
    let c = c0.map(|_| res[hi + 1]);
    Ok((res[3], State { h: Some(h), c }))
}
