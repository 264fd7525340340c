//! Builder-tier cases of the recurrent ops: UNIDIRECTIONAL_SEQUENCE_LSTM
//! (all gates; CIFG with peepholes, projection and clipping, time-major),
//! UNIDIRECTIONAL_SEQUENCE_RNN and RNN, with zero-initialized variable
//! state tensors as the converter writes them.

use super::*;

fn state(g: &mut SubgraphBuilder, name: &str, dims: [u32; 2]) -> TensorId {
    let mut t = Tensor::new(name, DType::F32, dims);
    t.is_variable = true;
    g.add_tensor(t)
}

/// An LSTM over `[batch, time, n_in]` (or time-major) with `n_cell` cells
/// and `n_out` outputs (projection when they differ).
#[allow(clippy::too_many_arguments)]
fn lstm_case(name: &str, seed: u64, batch: u32, time: u32, n_in: u32, n_cell: u32, n_out: u32, cifg: bool, peephole: bool, time_major: bool) -> Case {
    let mut r = Rng::new(seed);
    let m = model_of(|g| {
        let x_shape = if time_major { [time, batch, n_in] } else { [batch, time, n_in] };
        let x = g.input("x", DType::F32, x_shape);
        let rec = if n_out != n_cell { n_out } else { n_cell };
        let mut w = |g: &mut SubgraphBuilder, name: &str, rows: u32, cols: u32| g.constant_f32(name, [rows, cols], &r.vec((rows * cols) as usize, 0.5));
        let mut ins: Vec<Option<TensorId>> = vec![Some(x)];
        for gate in ["input", "forget", "cell", "output"] {
            ins.push(if cifg && gate == "input" { None } else { Some(w(g, &format!("w_{gate}"), n_cell, n_in)) });
        }
        for gate in ["input", "forget", "cell", "output"] {
            ins.push(if cifg && gate == "input" { None } else { Some(w(g, &format!("r_{gate}"), n_cell, rec)) });
        }
        let mut r2 = Rng::new(seed + 1);
        for gate in ["input", "forget", "output"] {
            let on = peephole && !(cifg && gate == "input");
            ins.push(if on { Some(g.constant_f32(&format!("p_{gate}"), [n_cell], &r2.vec(n_cell as usize, 0.3))) } else { None });
        }
        for gate in ["input", "forget", "cell", "output"] {
            ins.push(if cifg && gate == "input" { None } else { Some(g.constant_f32(&format!("b_{gate}"), [n_cell], &r2.vec(n_cell as usize, 0.2))) });
        }
        if n_out != n_cell {
            ins.push(Some(g.constant_f32("proj_w", [n_out, n_cell], &r2.vec((n_out * n_cell) as usize, 0.5))));
            ins.push(Some(g.constant_f32("proj_b", [n_out], &r2.vec(n_out as usize, 0.1))));
        } else {
            ins.push(None);
            ins.push(None);
        }
        ins.push(Some(state(g, "h", [batch, n_out])));
        ins.push(Some(state(g, "c", [batch, n_cell])));
        ins.extend([None, None, None, None]);
        let mut o = UnidirectionalSequenceLstmOptions::default();
        o.fused_activation_function = Activation::Tanh;
        o.time_major = time_major;
        if peephole {
            o.cell_clip = 2.0;
            o.proj_clip = 1.5;
        }
        let y = g.unidirectional_sequence_lstm(&ins, o)?;
        g.output("y", y);
        Ok(())
    });
    Case { rtol: 1e-4, atol: 1e-5, ..Case::new(name, m) }
}


/// The 17 weight inputs of one LSTM direction (input, recurrent, peephole,
/// bias, projection), in TFLite's order.
#[allow(clippy::too_many_arguments)]
fn lstm_weights(g: &mut SubgraphBuilder, r: &mut Rng, tag: &str, n_in: u32, n_cell: u32, n_out: u32, cifg: bool, peephole: bool) -> Vec<Option<TensorId>> {
    let rec = n_out;
    let mut ins = Vec::new();
    for gate in ["input", "forget", "cell", "output"] {
        ins.push(if cifg && gate == "input" { None } else { Some(g.constant_f32(&format!("{tag}w_{gate}"), [n_cell, n_in], &r.vec((n_cell * n_in) as usize, 0.5))) });
    }
    for gate in ["input", "forget", "cell", "output"] {
        ins.push(if cifg && gate == "input" { None } else { Some(g.constant_f32(&format!("{tag}r_{gate}"), [n_cell, rec], &r.vec((n_cell * rec) as usize, 0.5))) });
    }
    for gate in ["input", "forget", "output"] {
        let on = peephole && !(cifg && gate == "input");
        ins.push(if on { Some(g.constant_f32(&format!("{tag}p_{gate}"), [n_cell], &r.vec(n_cell as usize, 0.3))) } else { None });
    }
    for gate in ["input", "forget", "cell", "output"] {
        ins.push(if cifg && gate == "input" { None } else { Some(g.constant_f32(&format!("{tag}b_{gate}"), [n_cell], &r.vec(n_cell as usize, 0.2))) });
    }
    if n_out != n_cell {
        ins.push(Some(g.constant_f32(&format!("{tag}proj_w"), [n_out, n_cell], &r.vec((n_out * n_cell) as usize, 0.5))));
        ins.push(Some(g.constant_f32(&format!("{tag}proj_b"), [n_out], &r.vec(n_out as usize, 0.1))));
    } else {
        ins.push(None);
        ins.push(None);
    }
    ins
}

/// One LSTM step (LSTM, full kernel) on `[batch, n_in]`.
fn lstm_step_case() -> Case {
    let mut r = Rng::new(84);
    let (batch, n_in, n_cell) = (3u32, 4u32, 5u32);
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [batch, n_in]);
        let mut ins = vec![Some(x)];
        ins.extend(lstm_weights(g, &mut r, "", n_in, n_cell, n_cell, false, true));
        ins.push(Some(state(g, "h", [batch, n_cell])));
        ins.push(Some(state(g, "c", [batch, n_cell])));
        ins.extend([None, None, None, None]);
        let mut o = LstmOptions::default();
        o.fused_activation_function = Activation::Tanh;
        let ys = g.lstm(&ins, o)?;
        for (k, y) in ys.iter().enumerate() {
            g.output(&format!("y{k}"), *y);
        }
        Ok(())
    });
    Case { rtol: 1e-4, atol: 1e-5, ..Case::new("lstm/f32_peephole", m) }
}

/// A bidirectional LSTM over a time-major sequence, outputs merged or not;
/// both directions have `n_out` outputs (LiteRT requires one size), with a
/// projection when it differs from the cell size.
fn bidi_lstm_case(name: &str, merge: bool, cifg_bw: bool, n_out: u32) -> Case {
    let mut r = Rng::new(85);
    let (time, batch, n_in, n_cell) = (4u32, 2u32, 3u32, 4u32);
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [time, batch, n_in]);
        let mut ins = vec![Some(x)];
        ins.extend(lstm_weights(g, &mut r, "fw_", n_in, n_cell, n_out, false, false));
        ins.extend(lstm_weights(g, &mut r, "bw_", n_in, n_cell, n_out, cifg_bw, cifg_bw));
        ins.push(Some(state(g, "fw_h", [batch, n_out])));
        ins.push(Some(state(g, "fw_c", [batch, n_cell])));
        ins.push(Some(state(g, "bw_h", [batch, n_out])));
        ins.push(Some(state(g, "bw_c", [batch, n_cell])));
        ins.extend([None; 9]);
        let mut o = BidirectionalSequenceLstmOptions::default();
        o.fused_activation_function = Activation::Tanh;
        o.merge_outputs = merge;
        let ys = g.bidirectional_sequence_lstm(&ins, o)?;
        for (k, y) in ys.iter().enumerate() {
            g.output(&format!("y{k}"), *y);
        }
        Ok(())
    });
    Case { rtol: 1e-4, atol: 1e-5, ..Case::new(name, m) }
}

fn bidi_rnn_case(name: &str, merge: bool) -> Case {
    let mut r = Rng::new(86);
    let (time, batch, n_in, fw_u, bw_u) = (3u32, 2u32, 4u32, 5u32, 3u32);
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [batch, time, n_in]);
        let mut ins = vec![Some(x)];
        for (tag, u) in [("fw", fw_u), ("bw", bw_u)] {
            ins.push(Some(g.constant_f32(&format!("{tag}_w"), [u, n_in], &r.vec((u * n_in) as usize, 0.5))));
            ins.push(Some(g.constant_f32(&format!("{tag}_r"), [u, u], &r.vec((u * u) as usize, 0.4))));
            ins.push(Some(g.constant_f32(&format!("{tag}_b"), [u], &r.vec(u as usize, 0.2))));
            ins.push(Some(state(g, &format!("{tag}_h"), [batch, u])));
        }
        ins.extend([None, None, None]);
        let mut o = BidirectionalSequenceRnnOptions::default();
        o.fused_activation_function = Activation::Tanh;
        o.merge_outputs = merge;
        let ys = g.bidirectional_sequence_rnn(&ins, o)?;
        for (k, y) in ys.iter().enumerate() {
            g.output(&format!("y{k}"), *y);
        }
        Ok(())
    });
    Case { rtol: 1e-4, atol: 1e-5, ..Case::new(name, m) }
}

fn rnn_cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut r = Rng::new(91);
    let (batch, time, n_in, units) = (2u32, 4u32, 3u32, 5u32);
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [batch, time, n_in]);
        let w = g.constant_f32("w", [units, n_in], &r.vec((units * n_in) as usize, 0.5));
        let rw = g.constant_f32("r", [units, units], &r.vec((units * units) as usize, 0.4));
        let b = g.constant_f32("b", [units], &r.vec(units as usize, 0.2));
        let h = state(g, "h", [batch, units]);
        let mut o = SequenceRnnOptions::default();
        o.fused_activation_function = Activation::Tanh;
        let y = g.unidirectional_sequence_rnn(&[Some(x), Some(w), Some(rw), Some(b), Some(h)], o)?;
        g.output("y", y);
        Ok(())
    });
    v.push(Case { rtol: 1e-4, atol: 1e-5, ..Case::new("unidirectional_sequence_rnn/f32_tanh", m) });
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [batch, n_in]);
        let w = g.constant_f32("w", [units, n_in], &r.vec((units * n_in) as usize, 0.5));
        let rw = g.constant_f32("r", [units, units], &r.vec((units * units) as usize, 0.4));
        let b = g.constant_f32("b", [units], &r.vec(units as usize, 0.2));
        let h = state(g, "h", [batch, units]);
        let mut o = RnnOptions::default();
        o.fused_activation_function = Activation::Relu;
        let y = g.rnn(&[Some(x), Some(w), Some(rw), Some(b), Some(h)], o)?;
        g.output("y", y);
        Ok(())
    });
    v.push(Case { rtol: 1e-4, atol: 1e-5, ..Case::new("rnn/f32_relu", m) });
    v
}

/// The cases.
pub fn cases() -> Vec<Case> {
    let mut v = vec![
        lstm_case("unidirectional_sequence_lstm/f32", 81, 2, 3, 4, 5, 5, false, false, false),
        lstm_case("unidirectional_sequence_lstm/cifg_peephole_projection_time_major", 82, 2, 4, 3, 6, 4, true, true, true),
    ];
    v.extend(rnn_cases());
    v.push(lstm_step_case());
    v.push(bidi_lstm_case("bidirectional_sequence_lstm/f32_merged", true, false, 4));
    v.push(bidi_lstm_case("bidirectional_sequence_lstm/f32_projection_cifg_peephole_bw", false, true, 3));
    v.push(bidi_rnn_case("bidirectional_sequence_rnn/f32_merged", true));
    v.push(bidi_rnn_case("bidirectional_sequence_rnn/f32_two_outputs", false));
    v.extend(svdf_cases());
    v
}

/// `SVDF` over `[batch, n_in]` with `units * rank` filters of memory `mem`.
fn svdf_case(name: &str, seed: u64, rank: u32, bias: bool, a: Activation) -> Case {
    let mut r = Rng::new(seed);
    let (batch, n_in, units, mem) = (2u32, 4u32, 3u32, 4u32);
    let nf = units * rank;
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [batch, n_in]);
        let wf = g.constant_f32("wf", [nf, n_in], &r.vec((nf * n_in) as usize, 0.5));
        let wt = g.constant_f32("wt", [nf, mem], &r.vec((nf * mem) as usize, 0.5));
        let b = if bias { Some(g.constant_f32("b", [units], &r.vec(units as usize, 0.2))) } else { None };
        let s = state(g, "s", [batch, nf * mem]);
        let mut o = SvdfOptions::default();
        o.rank = rank as i32;
        o.fused_activation_function = a;
        let y = g.svdf(&[Some(x), Some(wf), Some(wt), b, Some(s)], o)?;
        g.output("y", y);
        Ok(())
    });
    Case { rtol: 1e-4, atol: 1e-5, ..Case::new(name, m) }
}

fn svdf_cases() -> Vec<Case> {
    vec![
        svdf_case("svdf/f32_rank2_bias", 95, 2, true, Activation::None),
        svdf_case("svdf/f32_rank1_relu", 96, 1, false, Activation::Relu),
    ]
}
