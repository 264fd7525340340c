//! Layout and shape ops on tensors: Flatten, Reshape, Transpose, Concat,
//! Pad, Squeeze, Unsqueeze, ReduceMean, Identity.

use super::{norm_axis, LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::ODim;

/// Turns an ONNX reshape target (with 0 = copy and symbolic sizes) into a
/// TFLite one with at most one -1.
fn tflite_target(input: &Shape, target: &[ODim], allowzero: bool) -> Result<Vec<i32>, LowerError> {
    let in_dims = input.dims();
    // Per entry: Some(n) fixed, None unknown; and which input dims are copied.
    let mut out: Vec<Option<i64>> = Vec::with_capacity(target.len());
    let mut copied = vec![false; in_dims.len()];
    let mut infer = None;
    for (i, t) in target.iter().enumerate() {
        match t {
            ODim::Known(-1) => {
                if infer.replace(i).is_some() {
                    return Err(LowerError::invalid("two -1 entries in the reshape target"));
                }
                out.push(None);
            }
            ODim::Known(0) if !allowzero => {
                let d = in_dims.get(i).ok_or_else(|| LowerError::invalid("0 copies a missing dimension"))?;
                copied[i] = true;
                out.push(d.fixed().map(i64::from));
            }
            ODim::Known(n) if *n >= 0 => out.push(Some(*n)),
            ODim::Known(n) => return Err(LowerError::invalid(format!("reshape target entry {n}"))),
            ODim::Sym(s) => {
                // `?p`: the dynamic size at position p of some tensor; here we
                // take it to be the input's dim at the same position.
                let p = s.strip_prefix('?').and_then(|p| p.parse::<usize>().ok());
                match p {
                    Some(p) if p == i && in_dims.get(i) == Some(&Dim::Dynamic) => {
                        copied[i] = true;
                        out.push(None);
                    }
                    _ => out.push(None),
                }
            }
            ODim::Unknown => out.push(None),
        }
    }
    let unknown: Vec<usize> = (0..out.len()).filter(|i| out[*i].is_none()).collect();
    if unknown.len() <= 1 {
        return Ok(out.iter().map(|d| d.map_or(-1, |v| v as i32)).collect());
    }
    // Several unknowns: resolve the -1 statically when every dynamic input
    // dim is copied through, leaving the copies as the single -1.
    let Some(inf) = infer else {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("reshape target {target:?} has several dynamic sizes")));
    };
    let dynamic_in: Vec<usize> = (0..in_dims.len()).filter(|i| in_dims[*i] == Dim::Dynamic).collect();
    if !dynamic_in.iter().all(|i| copied[*i]) || unknown.len() != dynamic_in.len() + 1 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("reshape of {input} to {target:?} with dynamic sizes")));
    }
    let static_in: i64 = in_dims.iter().enumerate().filter(|(i, _)| !copied[*i]).map(|(_, d)| i64::from(d.fixed().unwrap_or(1))).product();
    let static_out: i64 = out.iter().enumerate().filter(|(i, d)| *i != inf && d.is_some() && !(copied.get(*i).copied().unwrap_or(false))).map(|(_, d)| d.unwrap_or(1)).product();
    if static_out == 0 || static_in % static_out != 0 {
        return Err(LowerError::invalid(format!("cannot reshape {input} to {target:?}")));
    }
    out[inf] = Some(static_in / static_out);
    Ok(out.iter().map(|d| d.map_or(-1, |v| v as i32)).collect())
}

/// Lowers `Reshape`.
pub fn lower_reshape(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let name = node.inner.input(1).ok_or_else(|| LowerError::invalid("Reshape needs a shape input"))?;
    let target: Vec<ODim> = match ctx.env.get(name) {
        Some(Val::Shape { dims, .. }) => dims.clone(),
        Some(Val::Const(d)) => d.to_i64().unwrap_or_default().into_iter().map(ODim::Known).collect(),
        _ => return Err(LowerError::new(ReasonCode::InputMustBeConstant, "the shape must be constant or computable from static shapes")),
    };
    let t = tflite_target(&ctx.shape(x).clone(), &target, node.int_or("allowzero", 0)? != 0)?;
    let y = ctx.g.reshape(x, &t)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Flatten`.
pub fn lower_flatten(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let s = ctx.shape(x).clone();
    let r = s.rank();
    let a = node.int_or("axis", 1)?;
    let a = if a < 0 { a + r as i64 } else { a };
    if a < 0 || a as usize > r {
        return Err(LowerError::attr(format!("axis {a} for rank {r}")));
    }
    let prod = |d: &[Dim]| d.iter().map(|d| d.fixed().map(i64::from)).product::<Option<i64>>();
    let (outer, inner) = (prod(&s.dims()[..a as usize]), prod(&s.dims()[a as usize..]));
    let target = match (outer, inner) {
        (Some(o), Some(i)) => vec![o as i32, i as i32],
        (None, Some(i)) => vec![-1, i as i32],
        (Some(o), None) => vec![o as i32, -1],
        _ => return Err(LowerError::new(ReasonCode::UnsupportedShape, "Flatten with dynamic sizes on both sides")),
    };
    let y = ctx.g.reshape(x, &target)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Transpose`.
pub fn lower_transpose(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let r = ctx.shape(x).rank();
    let perm: Vec<i32> = match node.attr_ints("perm")? {
        Some(p) => p.iter().map(|a| norm_axis(*a, r).map(|a| a as i32)).collect::<Result<_, _>>()?,
        None => (0..r as i32).rev().collect(),
    };
    let y = ctx.g.transpose(x, &perm)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Concat`.
pub fn lower_concat(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mut xs = Vec::new();
    let like = (0..node.num_inputs()).find_map(|i| match ctx.env.get(node.inner.input(i)?) {
        Some(Val::Tensor(t)) => Some(ctx.g.tensor(*t).dtype),
        _ => None,
    });
    for i in 0..node.num_inputs() {
        if node.has_input(i) {
            xs.push(super::elementwise::operand(ctx, node, i, like)?);
        }
    }
    let axis = node.attr_int("axis")?.ok_or_else(|| LowerError::invalid("Concat needs axis"))?;
    let y = ctx.g.concatenation(&xs, axis as i32)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Pad` (constant mode, zero value).
pub fn lower_pad(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let r = ctx.shape(x).rank();
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "constant".into());
    if mode != "constant" {
        return Err(LowerError::attr(format!("Pad mode {mode}")));
    }
    let (pads, value) = if node.opset() < 11 {
        (node.attr_ints("pads")?.unwrap_or_default(), node.float_or("value", 0.0)?)
    } else {
        let p = ctx.const_ints(node, 1, "pads")?;
        let v = if node.has_input(2) { ctx.const_floats(node, 2, "constant_value")?.first().copied().unwrap_or(0.0) } else { 0.0 };
        (p, v)
    };
    if value != 0.0 {
        return Err(LowerError::attr(format!("Pad value {value} (only 0)")));
    }
    let axes: Vec<usize> = if node.opset() >= 18 && node.has_input(3) {
        ctx.const_ints(node, 3, "axes")?.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?
    } else {
        (0..r).collect()
    };
    if pads.len() != 2 * axes.len() || pads.iter().any(|p| *p < 0) {
        return Err(LowerError::attr(format!("pads {pads:?} (negative pads are not supported)")));
    }
    let mut pp = vec![(0i32, 0i32); r];
    for (k, a) in axes.iter().enumerate() {
        pp[*a] = (pads[k] as i32, pads[k + axes.len()] as i32);
    }
    let y = ctx.g.pad(x, &pp)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

fn axes_input(ctx: &LowerCtx<'_>, node: &Node<'_>) -> Result<Option<Vec<i64>>, LowerError> {
    if let Some(a) = node.attr_ints("axes")? {
        return Ok(Some(a));
    }
    if node.has_input(1) {
        return Ok(Some(ctx.const_ints(node, 1, "axes")?));
    }
    Ok(None)
}

fn reshape_to(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, dims: &[Dim]) -> Result<(), LowerError> {
    let n_dyn = dims.iter().filter(|d| **d == Dim::Dynamic).count();
    if n_dyn > 1 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, "more than one dynamic dimension"));
    }
    let t: Vec<i32> = dims.iter().map(|d| d.fixed().map_or(-1, |v| v as i32)).collect();
    let y = ctx.g.reshape(x, &t)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Squeeze`.
pub fn lower_squeeze(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let s = ctx.shape(x).clone();
    let r = s.rank();
    let axes: Vec<usize> = match axes_input(ctx, node)? {
        Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..r).filter(|i| s.dims()[*i] == Dim::Fixed(1)).collect(),
    };
    let dims: Vec<Dim> = s.dims().iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, d)| *d).collect();
    reshape_to(ctx, node, x, &dims)
}

/// Lowers `Unsqueeze`.
pub fn lower_unsqueeze(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let mut dims = ctx.shape(x).dims().to_vec();
    let axes = axes_input(ctx, node)?.ok_or_else(|| LowerError::invalid("Unsqueeze needs axes"))?;
    let r = dims.len() + axes.len();
    let mut ax: Vec<usize> = axes.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?;
    ax.sort_unstable();
    for a in ax {
        if a > dims.len() {
            return Err(LowerError::attr("unsqueeze axis"));
        }
        dims.insert(a, Dim::Fixed(1));
    }
    reshape_to(ctx, node, x, &dims)
}

/// Lowers `ReduceMean` to MEAN.
pub fn lower_reduce_mean(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let r = ctx.shape(x).rank();
    let axes = if node.opset() < 18 { node.attr_ints("axes")? } else if node.has_input(1) { Some(ctx.const_ints(node, 1, "axes")?) } else { None };
    let keep = node.int_or("keepdims", 1)? != 0;
    let axes: Vec<i32> = match axes {
        Some(a) if !a.is_empty() => a.iter().map(|a| norm_axis(*a, r).map(|a| a as i32)).collect::<Result<_, _>>()?,
        _ => {
            if node.int_or("noop_with_empty_axes", 0)? != 0 {
                return lower_identity(ctx, node);
            }
            (0..r as i32).collect()
        }
    };
    let y = ctx.g.mean(x, &axes, keep)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `Identity` and inference-mode `Dropout`: the output is the input.
pub fn lower_identity(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if node.op_type() == "Dropout" {
        // Inference only: training mode (an input since opset 12, the
        // is_test attribute before opset 7) makes it random.
        let training = if node.opset() >= 12 && node.has_input(2) {
            let v = ctx.const_input(node, 2).and_then(|d| d.to_i64()).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "training_mode must be constant"))?;
            v.first().copied().unwrap_or(0) != 0
        } else {
            node.opset() < 7 && node.int_or("is_test", 0)? == 0
        };
        if training {
            return Err(LowerError::attr("Dropout in training mode"));
        }
    }
    let name = node.inner.input(0).ok_or_else(|| LowerError::invalid("missing input"))?;
    let v = ctx.env.get(name).cloned().ok_or_else(|| LowerError::invalid("input not available"))?;
    ctx.set_val(node, 0, v);
    if node.op_type() == "Dropout" && node.num_outputs() > 1 && !node.inner.outputs[1].is_empty() {
        return Err(LowerError::attr("Dropout mask output"));
    }
    Ok(())
}
