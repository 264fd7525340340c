//! Layout and shape ops on tensors: Reshape, Flatten, Transpose, Concat,
//! Squeeze, Unsqueeze, Expand, and Identity / Dropout.

use super::operand::{dtype_err, first_tensor_type, int32_vector, operand_narrowed, pass_through, shape_err};
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
    let like = first_tensor_type(ctx, node, 0..node.num_inputs());
    for i in 0..node.num_inputs() {
        if node.has_input(i) {
            xs.push(operand_narrowed(ctx, node, i, like)?);
        }
    }
    let axis = node.attr_int("axis")?.ok_or_else(|| LowerError::invalid("Concat needs axis"))?;
    let y = ctx.g.concatenation(&xs, axis as i32)?;
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

/// Whether the axes of a Squeeze / Unsqueeze are a run-time tensor.
fn runtime_axes(ctx: &LowerCtx<'_>, node: &Node<'_>) -> bool {
    node.attr_ints("axes").ok().flatten().is_none() && node.has_input(1) && ctx.const_input(node, 1).is_none()
}

/// The run-time axes (input 1) of a Squeeze / Unsqueeze against rank
/// `rr`: `(m, bad, k)` with `m` the int32 `[rr]` vector that is 1 at the
/// named positions (negative axes counted from the end) and 0 elsewhere,
/// `bad` an int32 scalar that is 0 when the `k` axes name `k` distinct
/// positions in range and 1 otherwise.
fn runtime_axis_mask(ctx: &mut LowerCtx<'_>, node: &Node<'_>, rr: usize) -> Result<(TensorId, TensorId, usize), LowerError> {
    let (a, k) = int32_vector(ctx, node, 1, "axes")?;
    let name = node.name();
    let c = |ctx: &mut LowerCtx<'_>, what: &str, dims: &[u32], v: &[i32]| ctx.g.constant_i32(&format!("{name}/{what}"), Shape::new(dims.iter().copied()), v);
    let zero = c(ctx, "zero", &[], &[0]);
    let one = c(ctx, "one", &[], &[1]);
    let rank = c(ctx, "rank", &[], &[rr as i32]);
    let negative = ctx.g.apply(Op::Less, &[Some(a), Some(zero)])?;
    let wrapped = ctx.g.add(a, rank)?;
    let an = ctx.g.apply(Op::SelectV2, &[Some(negative), Some(wrapped), Some(a)])?;
    let col = ctx.g.reshape(an, &[k as i32, 1])?;
    let positions: Vec<i32> = (0..rr as i32).collect();
    let row = c(ctx, "positions", &[1, rr as u32], &positions);
    let hits = ctx.g.apply(Op::Equal, &[Some(col), Some(row)])?;
    let hits = ctx.g.cast(hits, DType::I32)?;
    let count = ctx.g.sum(hits, &[0], false)?;
    let m = ctx.g.minimum(count, one)?;
    let distinct = ctx.g.sum(m, &[0], false)?;
    let kc = c(ctx, "k", &[], &[k as i32]);
    let missing = ctx.g.sub(kc, distinct)?;
    let bad = ctx.g.minimum(missing, one)?;
    Ok((m, bad, k))
}

/// RESHAPE of `x` to the run-time int32 `dims` of static length `rank`,
/// poisoned by `bad` (1 adds 2³⁰ to every entry, which no element count
/// matches, so the runtime fails as ONNX does on invalid axes).
fn reshape_runtime(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, dims: TensorId, bad: TensorId, rank: usize) -> Result<TensorId, LowerError> {
    let big = ctx.g.constant_i32(&format!("{}/poison", node.name()), Shape::scalar(), &[1 << 30]);
    let poison = ctx.g.mul(bad, big)?;
    let dims = ctx.g.add(dims, poison)?;
    let out = ctx.g.add_tensor(Tensor::new(format!("{}/reshaped", node.name()), ctx.dtype(x), Shape::from_dims(vec![Dim::Dynamic; rank])));
    ctx.g.add_operator(Operator { op: Op::Reshape { new_shape: None }, inputs: vec![Some(x), Some(dims)], outputs: vec![out], intermediates: Vec::new() })?;
    Ok(out)
}

/// Lowers a `Squeeze` with run-time axes (of static length `k`, fewer than
/// the rank): RESHAPE to the input's run-time shape without the named
/// dimensions, gathered by SCATTER_ND. A named dimension that is not 1
/// changes the element count and fails at run time, as in ONNX.
fn squeeze_runtime(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<(), LowerError> {
    let y = squeeze_by_runtime_axes(ctx, node, x)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// `x` without the dimensions named by the run-time axes in input 1 of
/// `node` (which must be 1): the run-time Squeeze, also used by the
/// reductions with keepdims=0 over several run-time axes.
pub(crate) fn squeeze_by_runtime_axes(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<TensorId, LowerError> {
    let r = ctx.shape(x).rank();
    let (m, bad, k) = runtime_axis_mask(ctx, node, r)?;
    if k >= r {
        return Err(shape_err(format!("{} dropping {k} run-time axes of a rank-{r} input (at least one dimension must stay)", node.op_type())));
    }
    let name = node.name();
    let out_rank = r - k;
    // Kept dimension d goes to (number of kept dimensions up to d) - 1,
    // named ones to a spare last slot.
    let one = ctx.g.constant_i32(&format!("{name}/one_i"), Shape::scalar(), &[1]);
    let keep = ctx.g.sub(one, m)?;
    let axis0 = ctx.g.constant_i32(&format!("{name}/axis0"), Shape::scalar(), &[0]);
    let upto = ctx.g.apply(Op::Cumsum(CumsumOptions { exclusive: false, reverse: false }), &[Some(keep), Some(axis0)])?;
    let target = ctx.g.sub(upto, one)?;
    let named = ctx.g.apply(Op::Equal, &[Some(m), Some(one)])?;
    let spare = ctx.g.constant_i32(&format!("{name}/spare"), Shape::scalar(), &[out_rank as i32]);
    let target = ctx.g.apply(Op::SelectV2, &[Some(named), Some(spare), Some(target)])?;
    let indices = ctx.g.reshape(target, &[r as i32, 1])?;
    let sx = ctx.g.shape(x, ShapeOptions { out_type: DType::I32 })?;
    let size = ctx.g.constant_i32(&format!("{name}/scatter_shape"), [1u32], &[out_rank as i32 + 1]);
    let scattered = ctx.g.apply(Op::ScatterNd, &[Some(indices), Some(sx), Some(size)])?;
    let dims = ctx.g.slice(scattered, &[0], &[out_rank as i32])?;
    reshape_runtime(ctx, node, x, dims, bad, out_rank)
}

/// Lowers an `Unsqueeze` with run-time axes (of static length `k`):
/// RESHAPE to rank `r + k`, position `p` being 1 where named and else the
/// input dimension `p - (named positions up to p)` (CUMSUM, GATHER,
/// SELECT_V2).
fn unsqueeze_runtime(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<(), LowerError> {
    let r = ctx.shape(x).rank();
    let axes = ctx.input(node, 1)?;
    let k = ctx.shape(axes).dims().first().and_then(|d| d.fixed());
    let k = k.ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "axes (input 1) of dynamic length must be constant"))? as usize;
    let rr = r + k;
    let (m, bad, _) = runtime_axis_mask(ctx, node, rr)?;
    let name = node.name();
    let one = ctx.g.constant_i32(&format!("{name}/one_i"), Shape::scalar(), &[1]);
    let named = ctx.g.apply(Op::Equal, &[Some(m), Some(one)])?;
    let ones = ctx.g.constant_i32(&format!("{name}/ones"), [rr as u32], &vec![1; rr]);
    let dims = if r == 0 {
        ones
    } else {
        let axis0 = ctx.g.constant_i32(&format!("{name}/axis0"), Shape::scalar(), &[0]);
        let upto = ctx.g.apply(Op::Cumsum(CumsumOptions { exclusive: false, reverse: false }), &[Some(m), Some(axis0)])?;
        let positions: Vec<i32> = (0..rr as i32).collect();
        let pos = ctx.g.constant_i32(&format!("{name}/out_positions"), [rr as u32], &positions);
        let src = ctx.g.sub(pos, upto)?;
        let lo = ctx.g.constant_i32(&format!("{name}/lo"), Shape::scalar(), &[0]);
        let hi = ctx.g.constant_i32(&format!("{name}/hi"), Shape::scalar(), &[r as i32 - 1]);
        let src = ctx.g.maximum(src, lo)?;
        let src = ctx.g.minimum(src, hi)?;
        let sx = ctx.g.shape(x, ShapeOptions { out_type: DType::I32 })?;
        let g = ctx.g.gather(sx, src, GatherOptions::new(0))?;
        ctx.g.apply(Op::SelectV2, &[Some(named), Some(ones), Some(g)])?
    };
    let y = reshape_runtime(ctx, node, x, dims, bad, rr)?;
    ctx.set_output(node, 0, y);
    Ok(())
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
    if runtime_axes(ctx, node) {
        return squeeze_runtime(ctx, node, x);
    }
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
    if runtime_axes(ctx, node) {
        return unsqueeze_runtime(ctx, node, x);
    }
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
    pass_through(ctx, node)?;
    if node.op_type() == "Dropout" && node.num_outputs() > 1 && !node.inner.outputs[1].is_empty() {
        return Err(LowerError::attr("Dropout mask output"));
    }
    Ok(())
}

/// Lowers `Expand` to BROADCAST_TO. The output shape is the bidirectional
/// broadcast of the input shape and the given one: with a constant shape it
/// is computed here; with a shape tensor, a `true` is broadcast to the shape
/// and SELECT_V2 picks the input everywhere (its three operands broadcast
/// both ways, and it copies elements exactly).
pub fn lower_expand(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    if ctx.const_input(node, 1).is_none() {
        let s = ctx.input(node, 1)?;
        let (sd, ss) = (ctx.dtype(s), ctx.shape(s).clone());
        if !matches!(sd, DType::I32 | DType::I64) {
            return Err(dtype_err(format!("Expand shape of type {sd}")));
        }
        if ss.rank() != 1 || ss.dims()[0].fixed().is_none_or(|n| n > 8) {
            return Err(shape_err(format!("Expand shape tensor of shape {ss} (needs a static length ≤ 8)")));
        }
        const TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool];
        if !TYPES.contains(&ctx.dtype(x)) {
            return Err(dtype_err(format!("Expand on {}", ctx.dtype(x))));
        }
        let t = ctx.g.constant(&format!("{}/true", node.name()), DType::Bool, Shape::scalar(), ConstData::from_slice(&[1u8]));
        let c = ctx.g.apply(Op::BroadcastTo, &[Some(t), Some(s)])?;
        let y = ctx.g.apply(Op::SelectV2, &[Some(c), Some(x), Some(x)])?;
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    let want = ctx.const_ints(node, 1, "shape")?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank().max(want.len());
    let mut target: Vec<i32> = Vec::with_capacity(r);
    for i in 0..r {
        let xd = (i + xs.rank()).checked_sub(r).map(|j| xs.dims()[j]).unwrap_or(Dim::Fixed(1));
        let wd = (i + want.len()).checked_sub(r).map(|j| want[j]).unwrap_or(1);
        let wd = u32::try_from(wd).map_err(|_| LowerError::invalid(format!("Expand shape entry {wd}")))?;
        let d = match (xd, wd) {
            (Dim::Fixed(a), 1) => a,
            (Dim::Fixed(1), b) => b,
            (Dim::Fixed(a), b) if a == b => a,
            (Dim::Fixed(a), b) => return Err(LowerError::invalid(format!("Expand of dimension {a} to {b}"))),
            (Dim::Dynamic, _) => return Err(shape_err(format!("Expand of {xs} with a dynamic dimension"))),
        };
        target.push(i32::try_from(d).map_err(|_| shape_err("dimension too large"))?);
    }
    if target.len() > 8 {
        return Err(shape_err(format!("Expand to rank {} (BROADCAST_TO handles at most 8)", target.len())));
    }
    let same = xs.rank() == r && xs.dims().iter().zip(&target).all(|(d, t)| d.fixed() == u32::try_from(*t).ok());
    if same {
        ctx.set_output(node, 0, x);
        return Ok(());
    }
    let s = ctx.g.constant_i32(&format!("{}/shape", node.name()), [target.len() as u32], &target);
    let y = ctx.g.apply(Op::BroadcastTo, &[Some(x), Some(s)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}
