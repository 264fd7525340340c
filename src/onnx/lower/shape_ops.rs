//! Layout and shape ops on tensors: Reshape, Flatten, Transpose, Concat,
//! Squeeze, Unsqueeze, Expand, and Identity / Dropout.

use super::operand::{dtype_err, first_tensor_type, int32_vector, operand_narrowed, pass_through, shape_err};
use super::{norm_axis, LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use super::symbolic::SDim;
use crate::onnx::ir::TensorData;

/// Lowers `Reshape`: the target may be computed at run time (see
/// [`super::symbolic`]); 0 copies the input's size unless `allowzero`.
pub fn lower_reshape(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let name = node.inner.input(1).ok_or_else(|| LowerError::invalid("Reshape needs a shape input"))?;
    let target: Vec<SDim> = match ctx.env.get(name) {
        Some(Val::Shape { dims, .. }) => dims.clone(),
        Some(Val::Const(d)) => d.to_i64().ok_or_else(|| dtype_err("Reshape shape is not integer"))?.into_iter().map(SDim::Known).collect(),
        _ => {
            let y = reshape_by_tensor(ctx, node, x)?;
            ctx.set_output(node, 0, y);
            return Ok(());
        }
    };
    let allowzero = node.int_or("allowzero", 0)? != 0;
    let xs = ctx.symbolic_shape(x);
    let mut dims = Vec::with_capacity(target.len());
    for (i, t) in target.into_iter().enumerate() {
        dims.push(match t {
            SDim::Known(0) if !allowzero => xs.get(i).cloned().ok_or_else(|| LowerError::invalid("0 copies a missing dimension"))?,
            // A computed entry is a size unless it may be negative (then it
            // could be -1 or, unless allowzero, a 0 meaning "copy").
            d @ SDim::Dyn(_) if !d.nonnegative() => {
                return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("reshape target entry {d} may be negative")));
            }
            d => d,
        });
    }
    let y = ctx.reshape_symbolic(x, &dims)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// `Reshape` by a shape tensor known only at run time. RESHAPE reads it
/// as it is, except that an ONNX 0 (without `allowzero`) copies the
/// input's size at that position: `SELECT_V2(shape == 0, SHAPE(x), shape)`.
fn reshape_by_tensor(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<TensorId, LowerError> {
    let s = ctx.input(node, 1)?;
    let (sd, ss) = (ctx.dtype(s), ctx.shape(s).clone());
    if !matches!(sd, DType::I32 | DType::I64) {
        return Err(dtype_err(format!("Reshape shape of type {sd}")));
    }
    let Some(n) = ss.dims().first().and_then(|d| d.fixed()).filter(|_| ss.rank() == 1) else {
        return Err(shape_err(format!("Reshape shape tensor of shape {ss} (needs a static length)")));
    };
    let mut s = if sd == DType::I64 { ctx.g.cast(s, DType::I32)? } else { s };
    if node.int_or("allowzero", 0)? == 0 {
        let r = ctx.shape(x).rank();
        let xs = ctx.symbolic_shape(x);
        // Input sizes by position; positions past the rank cannot copy (a 0
        // there stays 0, which the runtime rejects as ONNX does).
        let mut sizes: Vec<SDim> = xs.into_iter().take(n as usize).collect();
        sizes.resize(n as usize, SDim::Known(0));
        let _ = r;
        let name = format!("{}/sizes", node.name());
        let sizes = ctx.shape_tensor(&name, &sizes, false)?;
        let zero = ctx.g.constant_i32(&format!("{}/zero", node.name()), Shape::scalar(), &[0]);
        let is_zero = ctx.g.apply(Op::Equal, &[Some(s), Some(zero)])?;
        s = ctx.g.apply(Op::SelectV2, &[Some(is_zero), Some(sizes), Some(s)])?;
    }
    Ok(ctx.g.apply(Op::Reshape { new_shape: None }, &[Some(x), Some(s)])?)
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

/// Reshapes `x` to `dims`, which keep the input's dynamic sizes in order
/// and only drop or insert 1s (Squeeze, Unsqueeze): each dynamic entry is
/// the input's next dynamic size, computed at run time when there are
/// several.
fn reshape_to(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, dims: &[Dim]) -> Result<(), LowerError> {
    let mut dynamic = ctx.symbolic_shape(x).into_iter().filter(|d| d.known().is_none());
    let mut target = Vec::with_capacity(dims.len());
    for d in dims {
        target.push(match d {
            Dim::Fixed(n) => SDim::Known(i64::from(*n)),
            Dim::Dynamic => dynamic.next().ok_or_else(|| LowerError::invalid("reshape target has more dynamic sizes than its input"))?,
        });
    }
    let y = ctx.reshape_symbolic(x, &target)?;
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
        // In inference the mask is all true, a constant of the input's shape.
        let x = ctx.input(node, 0)?;
        let xs = ctx.shape(x).clone();
        let dims: Option<Vec<usize>> = xs.dims().iter().map(|d| d.fixed().map(|v| v as usize)).collect();
        let dims = dims.ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, format!("Dropout mask output for an input of dynamic shape {xs}")))?;
        let n: usize = dims.iter().product();
        if n > 1 << 26 {
            return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("Dropout mask of shape {xs} is too large for a constant")));
        }
        ctx.set_val(node, 1, Val::Const(TensorData { dtype: DType::Bool, dims, bytes: vec![1; n] }));
    }
    Ok(())
}

/// Lowers `Expand` to BROADCAST_TO. The output shape is the bidirectional
/// broadcast of the input shape and the given one, worked out here on
/// symbolic sizes where it can be (a run-time size against a known one is
/// the known one in any valid model) and computed at run time where it is
/// symbolic. When two run-time sizes meet, or the shape is an arbitrary
/// tensor, a `true` is broadcast to the shape and SELECT_V2 picks the input
/// everywhere (its three operands broadcast both ways, and it copies
/// elements exactly).
pub fn lower_expand(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let name = node.inner.input(1).ok_or_else(|| LowerError::invalid("Expand needs a shape input"))?;
    let target: Option<Vec<SDim>> = match ctx.env.get(name) {
        Some(Val::Shape { dims, scalar: false }) => Some(dims.clone()),
        Some(Val::Const(d)) if d.dims.len() == 1 => Some(d.to_i64().ok_or_else(|| dtype_err("Expand shape is not integer"))?.into_iter().map(SDim::Known).collect()),
        _ => None,
    };
    let Some(target) = target else { return expand_by_select(ctx, node, x) };
    let xs = ctx.symbolic_shape(x);
    let r = xs.len().max(target.len());
    if r > 8 {
        return Err(shape_err(format!("Expand to rank {r} (BROADCAST_TO handles at most 8)")));
    }
    let at = |v: &[SDim], i: usize| (i + v.len()).checked_sub(r).map_or(SDim::Known(1), |j| v[j].clone());
    let mut out = Vec::with_capacity(r);
    for i in 0..r {
        let (xd, sd) = (at(&xs, i), at(&target, i));
        out.push(match (xd.known(), sd.known()) {
            (_, Some(1)) => xd,
            (Some(1), _) => sd,
            _ if xd == sd => xd,
            (Some(a), Some(b)) => return Err(LowerError::invalid(format!("Expand of dimension {a} to {b}"))),
            (Some(_), None) => xd,
            (None, Some(_)) => sd,
            (None, None) => return expand_by_select(ctx, node, x),
        });
    }
    if out.iter().any(|d| d.known().is_some_and(|n| n < 0)) {
        return Err(LowerError::invalid(format!("Expand to {}", super::symbolic::show(&out))));
    }
    if xs.len() == r && out == xs {
        ctx.set_output(node, 0, x);
        return Ok(());
    }
    let shape = ctx.shape_tensor(&format!("{}/shape", node.name()), &out, false)?;
    let y = ctx.g.apply(Op::BroadcastTo, &[Some(x), Some(shape)])?;
    super::generate::refine(ctx, y, &out);
    ctx.set_output(node, 0, y);
    Ok(())
}

/// `Expand` by a shape tensor whose entries are not known here:
/// `SELECT_V2(BROADCAST_TO(true, shape), x, x)`.
fn expand_by_select(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<(), LowerError> {
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
    Ok(())
}
