//! BatchNormalization: folded into a preceding Conv when it is the conv's
//! only consumer, otherwise lowered to MUL and ADD per channel.

use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::{ODim, OGraph, OValue, TensorData};

/// Per-channel `(scale, shift)` of an inference-mode batchnorm.
fn scale_shift(g: &OGraph, inputs: &[String], eps: f32) -> Option<(Vec<f32>, Vec<f32>)> {
    let get = |i: usize| inputs.get(i).and_then(|n| g.constant(n)).and_then(TensorData::to_f32);
    scale_shift_of(&get(1)?, &get(2)?, &get(3)?, &get(4)?, eps)
}

fn scale_shift_of(gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32], eps: f32) -> Option<(Vec<f32>, Vec<f32>)> {
    let c = gamma.len();
    if beta.len() != c || mean.len() != c || var.len() != c {
        return None;
    }
    let scale: Vec<f32> = (0..c).map(|i| gamma[i] / (var[i] + eps).sqrt()).collect();
    let shift: Vec<f32> = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
    Some((scale, shift))
}

/// The weights and bias of a Conv or Gemm with a per-channel scale and
/// shift applied to its output: `(weights, new weights, new bias)`.
fn fold_weights(g: &OGraph, n: &crate::onnx::ir::ONode, scale: &[f32], shift: &[f32]) -> Option<(TensorData, Vec<f32>, Vec<f32>)> {
    use crate::onnx::ir::Attr;
    let m = scale.len();
    let w = n.inputs.get(1).and_then(|x| g.constant(x)).cloned()?;
    let wv = w.to_f32()?;
    let get_f = |name: &str, d: f32| match n.attr(name) {
        Some(Attr::Float(f)) => Some(*f),
        None => Some(d),
        _ => None,
    };
    let get_i = |name: &str| match n.attr(name) {
        Some(Attr::Int(i)) => Some(*i),
        None => Some(0),
        _ => None,
    };
    // Which output channel each weight element feeds.
    let (alpha, beta, channel): (f32, f32, Box<dyn Fn(usize) -> usize>) = if n.op_type == "Conv" {
        if w.dims.first() != Some(&m) {
            return None;
        }
        let per = (wv.len() / m.max(1)).max(1);
        (1.0, 1.0, Box::new(move |k| k / per))
    } else {
        if get_i("transA")? != 0 || w.dims.len() != 2 {
            return None;
        }
        let (rows, cols) = (w.dims[0], w.dims[1]);
        if get_i("transB")? != 0 {
            if rows != m {
                return None;
            }
            (get_f("alpha", 1.0)?, get_f("beta", 1.0)?, Box::new(move |k| k / cols.max(1)))
        } else {
            if cols != m {
                return None;
            }
            (get_f("alpha", 1.0)?, get_f("beta", 1.0)?, Box::new(move |k| k % cols.max(1)))
        }
    };
    let new_w: Vec<f32> = wv.iter().enumerate().map(|(k, v)| v * alpha * scale[channel(k)]).collect();
    let old_b: Vec<f32> = match n.inputs.get(2).filter(|s| !s.is_empty()) {
        None => vec![0.0; m],
        Some(b) => {
            let v = g.constant(b).and_then(TensorData::to_f32)?;
            match v.len() {
                1 => vec![v[0] * beta; m],
                l if l == m => v.iter().map(|x| x * beta).collect(),
                _ => return None,
            }
        }
    };
    let new_b: Vec<f32> = (0..m).map(|k| old_b[k] * scale[k] + shift[k]).collect();
    Some((w, new_w, new_b))
}

/// Folds every `Conv → BatchNormalization` and `Gemm → BatchNormalization`
/// pair whose first output feeds only the batchnorm. Returns how many.
pub(crate) fn fold_into_producers(g: &mut OGraph) -> usize {
    let mut folded = 0;
    let mut i = 0;
    while i < g.nodes.len() {
        let bn = &g.nodes[i];
        if bn.op_type != "BatchNormalization" || !bn.domain.is_empty() || bn.outputs.iter().skip(1).any(|o| !o.is_empty()) {
            i += 1;
            continue;
        }
        let x = bn.inputs.first().cloned().unwrap_or_default();
        let eps = match bn.attr("epsilon") {
            Some(crate::onnx::ir::Attr::Float(e)) => *e,
            _ => 1e-5,
        };
        let training = matches!(bn.attr("training_mode"), Some(crate::onnx::ir::Attr::Int(1)));
        let uses = g.nodes.iter().filter(|n| n.inputs.contains(&x)).count();
        let producer = g.nodes.iter().position(|n| n.outputs.first() == Some(&x) && matches!(n.op_type.as_str(), "Conv" | "Gemm") && n.domain.is_empty());
        let (Some(p), Some((scale, shift))) = (producer, scale_shift(g, &bn.inputs, eps)) else {
            i += 1;
            continue;
        };
        if training || uses != 1 || g.outputs.contains(&x) {
            i += 1;
            continue;
        }
        let Some((w, new_w, new_b)) = fold_weights(g, &g.nodes[p], &scale, &shift) else {
            i += 1;
            continue;
        };
        let m = scale.len();
        let y = bn.outputs[0].clone();
        let wname = format!("{}::bn_folded_w", g.nodes[p].label());
        let bname = format!("{}::bn_folded_b", g.nodes[p].label());
        for (name, d) in [(&wname, TensorData::from_f32(w.dims.clone(), &new_w)), (&bname, TensorData::from_f32(vec![m], &new_b))] {
            let shape = Some(d.dims.iter().map(|x| ODim::Known(*x as i64)).collect());
            g.values.insert(name.clone(), OValue { dtype: Some(DType::F32), shape, constant: Some(d) });
        }
        let conv = &mut g.nodes[p];
        conv.inputs.resize(3, String::new());
        conv.inputs[1] = wname;
        conv.inputs[2] = bname;
        conv.outputs[0] = y;
        // Gemm's alpha and beta are now inside the folded weights and bias.
        conv.attrs.retain(|(n, _)| n != "alpha" && n != "beta");
        g.nodes.remove(i);
        folded += 1;
    }
    folded
}

/// Lowers a standalone `BatchNormalization` to `x · scale + shift` per channel.
pub fn lower_batchnorm(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let eps = node.float_or("epsilon", 1e-5)?;
    if node.int_or("training_mode", 0)? != 0 {
        return lower_batchnorm_training(ctx, node, eps);
    }
    let param = |i: usize| ctx.const_input(node, i).and_then(|d| d.to_f32());
    let (Some(gamma), Some(beta), Some(mean), Some(var)) = (param(1), param(2), param(3), param(4)) else {
        return lower_batchnorm_runtime(ctx, node, eps);
    };
    let (scale, shift) = scale_shift_of(&gamma, &beta, &mean, &var, eps).ok_or_else(|| LowerError::invalid("batchnorm parameters differ in length"))?;
    let x = ctx.input(node, 0)?;
    let r = ctx.shape(x).rank();
    if r < 2 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, "rank < 2"));
    }
    let c = scale.len() as u32;
    let mut dims = vec![c];
    dims.extend(std::iter::repeat_n(1u32, r - 2));
    let name = node.name();
    let s = ctx.g.constant_f32(&format!("{name}/scale"), Shape::new(dims.clone()), &scale);
    let b = ctx.g.constant_f32(&format!("{name}/shift"), Shape::new(dims), &shift);
    let m = ctx.g.mul(x, s)?;
    let y = ctx.g.add(m, b)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers an inference-mode `BatchNormalization` whose parameters are (in
/// part) run-time tensors: each `[C]` parameter is reshaped to
/// `[C, 1, …]` and `y = (x - mean) · scale + beta` with
/// `scale = gamma · rsqrt(var + eps)` is computed at run time (ADD, RSQRT,
/// MUL, SUB, MUL, ADD).
fn lower_batchnorm_runtime(ctx: &mut LowerCtx<'_>, node: &Node<'_>, eps: f32) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if r < 2 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, "rank < 2"));
    }
    if ctx.dtype(x) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("BatchNormalization on {}", ctx.dtype(x))));
    }
    let c = xs.dims()[1];
    let mut params = Vec::with_capacity(4);
    for (i, what) in [(1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")] {
        let t = ctx.input(node, i)?;
        let ts = ctx.shape(t).clone();
        if ctx.dtype(t) != DType::F32 {
            return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("{what} (input {i}) of type {}", ctx.dtype(t))));
        }
        if ts.rank() != 1 || ts.dims()[0] == Dim::Dynamic {
            return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("{what} (input {i}) of shape {ts} (must be a vector of static length)")));
        }
        if c != Dim::Dynamic && ts.dims()[0] != c {
            return Err(LowerError::invalid(format!("{what} (input {i}) of shape {ts} for an input of shape {xs}")));
        }
        let mut dims = vec![-1i32];
        dims.extend(std::iter::repeat_n(1, r - 2));
        params.push(ctx.g.reshape(t, &dims)?);
    }
    let name = node.name();
    let e = ctx.g.constant_f32(&format!("{name}/epsilon"), Shape::scalar(), &[eps]);
    let ve = ctx.g.add(params[3], e)?;
    let inv = ctx.g.rsqrt(ve)?;
    let scale = ctx.g.mul(params[0], inv)?;
    let centred = ctx.g.sub(x, params[2])?;
    let scaled = ctx.g.mul(centred, scale)?;
    let y = ctx.g.add(scaled, params[1])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers a `BatchNormalization` in training mode (opset 14 on): the batch
/// statistics over every axis but the channels (MEAN of `x` and of the
/// squared deviations: the population variance), `y = scale · (x − mean) /
/// √(var + ε) + B` with them (the reference's order of operations), and
/// the running statistics `input · momentum + batch · (1 − momentum)` as
/// the optional outputs 1 and 2. float32; static channel count.
fn lower_batchnorm_training(ctx: &mut LowerCtx<'_>, node: &Node<'_>, eps: f32) -> Result<(), LowerError> {
    if node.opset() < 14 {
        return Err(LowerError::attr("training_mode before opset 14 (other outputs)"));
    }
    let momentum = node.float_or("momentum", 0.9)?;
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if r < 2 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, "rank < 2"));
    }
    if ctx.dtype(x) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("BatchNormalization on {}", ctx.dtype(x))));
    }
    let c = xs.dims()[1].fixed().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, format!("training BatchNormalization on {xs} (static channels)")))? as i32;
    let mut pdims = vec![c];
    pdims.extend(std::iter::repeat_n(1, r - 2));
    let mut params = Vec::with_capacity(4);
    for (i, what) in [(1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")] {
        let t = super::operand::operand_as(ctx, node, i, DType::F32)?;
        if ctx.dtype(t) != DType::F32 || ctx.shape(t).num_elements() != Some(c as u64) {
            return Err(LowerError::invalid(format!("{what} (input {i}) of type {} and shape {} for an input of shape {xs}", ctx.dtype(t), ctx.shape(t))));
        }
        params.push(ctx.g.reshape(t, &pdims)?);
    }
    let axes: Vec<i32> = (0..r as i32).filter(|a| *a != 1).collect();
    let mean = ctx.g.mean(x, &axes, true)?;
    let centred = ctx.g.sub(x, mean)?;
    let sq = ctx.g.mul(centred, centred)?;
    let var = ctx.g.mean(sq, &axes, true)?;
    let name = node.name();
    let e = ctx.g.constant_f32(&format!("{name}/epsilon"), Shape::scalar(), &[eps]);
    let ve = ctx.g.add(var, e)?;
    let sd = ctx.g.sqrt(ve)?;
    let scaled = ctx.g.mul(params[0], centred)?;
    let normed = ctx.g.div(scaled, sd)?;
    let y = ctx.g.add(normed, params[1])?;
    ctx.set_output(node, 0, y);
    let mom = ctx.g.constant_f32(&format!("{name}/momentum"), Shape::scalar(), &[momentum]);
    let rest = ctx.g.constant_f32(&format!("{name}/one_minus_momentum"), Shape::scalar(), &[1.0 - momentum]);
    for (out, input, batch) in [(1, params[2], mean), (2, params[3], var)] {
        if node.num_outputs() > out && !node.inner.outputs[out].is_empty() {
            let batch = ctx.g.reshape(batch, &[c])?;
            let input = ctx.g.reshape(input, &[c])?;
            let a = ctx.g.mul(input, mom)?;
            let b = ctx.g.mul(batch, rest)?;
            let running = ctx.g.add(a, b)?;
            ctx.set_output(node, out, running);
        }
    }
    Ok(())
}
