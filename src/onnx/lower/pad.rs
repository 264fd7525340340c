//! Pad: PAD for zeros, PADV2 for another constant value, MIRROR_PAD for
//! `reflect`, and GATHER at computed positions for `edge`, `wrap` and the
//! reflections MIRROR_PAD cannot do (pads beyond the size, sizes known
//! only at run time).

use super::operand::{dtype_err, int32_vector, place_by_onehot, runtime_axes_onehot, shape_err, typed_const, typed_input};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// Lowers `Pad` in every mode: constant zero ([`lower_pad`]), another
/// constant (PADV2), reflect (MIRROR_PAD REFLECT, or gathers), and edge and
/// wrap (gathers).
pub fn lower_pad_any(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "constant".into());
    if node.opset() >= 11 {
        let pads_rt = ctx.const_input(node, 1).is_none();
        // The value is read in constant mode only.
        let value_rt = mode == "constant" && node.has_input(2) && ctx.const_input(node, 2).is_none();
        let axes_rt = mode == "constant" && node.opset() >= 18 && node.has_input(3) && ctx.const_input(node, 3).is_none();
        if pads_rt || value_rt || axes_rt {
            return lower_pad_runtime(ctx, node, &mode);
        }
    }
    let (pads, value) = if node.opset() < 11 {
        let p = node.attr_ints("pads")?.or(node.attr_ints("paddings")?).unwrap_or_default();
        (p, f64::from(node.float_or("value", 0.0)?))
    } else {
        let p = ctx.const_ints(node, 1, "pads")?;
        let v = if node.has_input(2) && mode == "constant" {
            let d = ctx.const_input(node, 2).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "constant_value (input 2) must be constant"))?;
            d.to_f64().ok_or_else(|| dtype_err("non-numeric constant_value"))?.first().copied().unwrap_or(0.0)
        } else {
            0.0
        };
        (p, v)
    };
    if mode == "constant" && value == 0.0 {
        return lower_pad(ctx, node);
    }
    let x = typed_input(ctx, node, &[DType::F32, DType::I32, DType::I64])?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axes: Vec<usize> = if node.opset() >= 18 && node.has_input(3) {
        ctx.const_ints(node, 3, "axes")?.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?
    } else {
        (0..r).collect()
    };
    if pads.len() != 2 * axes.len() || pads.iter().any(|p| *p < 0 || *p > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("pads {pads:?} (negative pads are not supported)")));
    }
    let mut pp = vec![(0i32, 0i32); r];
    for (k, a) in axes.iter().enumerate() {
        pp[*a] = (pads[k] as i32, pads[k + axes.len()] as i32);
    }
    let dtype = ctx.dtype(x);
    let y = match mode.as_str() {
        "constant" => {
            let c = typed_const(ctx, &format!("{}/value", node.name()), dtype, &[1], &[value])?;
            ctx.g.pad_v2(x, &pp, c)?
        }
        "reflect" => {
            // MIRROR_PAD where it applies (static sizes, pads below them);
            // otherwise gathers at reflected positions.
            let mirror = pp.iter().enumerate().all(|(i, (a, b))| {
                (*a == 0 && *b == 0) || xs.dims()[i].fixed().is_some_and(|n| i64::from(*a.max(b)) < i64::from(n))
            });
            if mirror { ctx.g.mirror_pad(x, &pp, MirrorPadMode::Reflect)? } else { pad_by_gather(ctx, node, x, &pp, &mode)? }
        }
        "edge" | "wrap" => pad_by_gather(ctx, node, x, &pp, &mode)?,
        other => return Err(LowerError::attr(format!("Pad mode {other}"))),
    };
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Pads `x` by `pp` in `edge`, `wrap` or `reflect` mode with one GATHER
/// per padded axis, at the source positions of each output position `j`
/// (`k = j - before`): `clamp(k, 0, n - 1)` for edge, `k mod n` for wrap,
/// and for reflect `(n - 1) - |(k mod 2(n - 1)) - (n - 1)|`, as NumPy
/// reflects (repeatedly, for pads beyond the size). The positions are
/// constants for a static size and computed at run time otherwise.
fn pad_by_gather(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, pp: &[(i32, i32)], mode: &str) -> Result<TensorId, LowerError> {
    let name = node.name();
    let mut y = x;
    for (axis, (a, b)) in pp.iter().enumerate() {
        if *a == 0 && *b == 0 {
            continue;
        }
        let (a, b) = (i64::from(*a), i64::from(*b));
        let n = ctx.symbolic_shape(y)[axis].clone();
        let idx = match n.known() {
            Some(0) => return Err(shape_err(format!("{mode} padding of an empty dimension"))),
            Some(n) => {
                let v: Vec<i32> = (-a..n + b).map(|k| source_position(mode, k, n) as i32).collect();
                ctx.g.constant_i32(&format!("{name}/positions{axis}"), [v.len() as u32], &v)
            }
            None => {
                let nt = ctx.shape_tensor(&format!("{name}/size{axis}"), std::slice::from_ref(&n), true)?;
                let c = |ctx: &mut LowerCtx<'_>, what: &str, v: i32| ctx.g.constant_i32(&format!("{name}/{what}{axis}"), Shape::scalar(), &[v]);
                let (lo, one, zero) = (c(ctx, "lo", -(a as i32)), c(ctx, "one", 1), c(ctx, "zero", 0));
                let hi = {
                    let bt = c(ctx, "b", b as i32);
                    ctx.g.add(nt, bt)?
                };
                let k = ctx.g.apply(Op::Range, &[Some(lo), Some(hi), Some(one)])?;
                let last = ctx.g.sub(nt, one)?;
                match mode {
                    "edge" => {
                        let k = ctx.g.maximum(k, zero)?;
                        ctx.g.minimum(k, last)?
                    }
                    "wrap" => ctx.g.apply(Op::FloorMod, &[Some(k), Some(nt)])?,
                    _ => {
                        let two = c(ctx, "two", 2);
                        let period = ctx.g.mul(last, two)?;
                        let period = ctx.g.maximum(period, one)?;
                        let m = ctx.g.apply(Op::FloorMod, &[Some(k), Some(period)])?;
                        let d = ctx.g.sub(m, last)?;
                        let d = ctx.g.abs(d)?;
                        ctx.g.sub(last, d)?
                    }
                }
            }
        };
        y = ctx.g.gather(y, idx, GatherOptions::new(axis as i32))?;
    }
    Ok(y)
}

/// The source position of padded position `k` (relative to the start of
/// the data) on an axis of size `n > 0`.
fn source_position(mode: &str, k: i64, n: i64) -> i64 {
    match mode {
        "edge" => k.clamp(0, n - 1),
        "wrap" => k.rem_euclid(n),
        _ => {
            let period = (2 * (n - 1)).max(1);
            let m = k.rem_euclid(period);
            (n - 1) - (m - (n - 1)).abs()
        }
    }
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

/// The axes a Pad (opset 18+: input 3) pads, as indices below `r`.
fn pad_axes(ctx: &LowerCtx<'_>, node: &Node<'_>, r: usize) -> Result<Vec<usize>, LowerError> {
    if node.opset() < 18 || !node.has_input(3) {
        return Ok((0..r).collect());
    }
    let axes: Vec<usize> = ctx.const_ints(node, 3, "axes")?.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?;
    let mut seen = vec![false; r];
    for a in &axes {
        if std::mem::replace(&mut seen[*a], true) {
            return Err(LowerError::invalid(format!("Pad axis {a} repeats")));
        }
    }
    Ok(axes)
}

/// Lowers a constant-mode `Pad` (opset 11+) whose pads, value or axes are
/// run-time tensors. A run-time value goes to PADV2 as it is. Run-time pads (ONNX
/// `[b0..bk, e0..ek]`, negative ones cropping) become the `[r, 2]`
/// paddings of PAD / PADV2 from their positive parts (RESHAPE to `[2, k]`,
/// placed at their axes, MAXIMUM with 0, TRANSPOSE), followed by a
/// STRIDED_SLICE that crops the negative parts (TFLite's PAD rejects
/// negative paddings).
fn lower_pad_runtime(ctx: &mut LowerCtx<'_>, node: &Node<'_>, mode: &str) -> Result<(), LowerError> {
    if mode != "constant" && mode != "reflect" {
        return Err(LowerError::attr(format!("Pad mode {mode} (TFLite has constant and reflect)")));
    }
    if mode != "constant" {
        return Err(LowerError::new(
            ReasonCode::InputMustBeConstant,
            "pads (input 1) must be constant in reflect mode (MIRROR_PAD needs pads below the size, ONNX reflects further)",
        ));
    }
    let x = typed_input(ctx, node, &[DType::F32, DType::I32, DType::I64])?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if r > 5 {
        return Err(shape_err(format!("Pad of rank {r} with run-time operands (TFLite pads and slices at most 5 dimensions)")));
    }
    if node.inner.outputs.first().and_then(|o| ctx.graph.value(o)).and_then(|v| v.shape.as_ref()).is_some_and(|d| d.iter().any(|d| d.known() == Some(0))) {
        return Err(shape_err("Pad with a declared empty result (LiteRT does not hand out empty dynamic tensors)"));
    }
    let dtype = ctx.dtype(x);
    let name = node.name();
    let value = match (node.has_input(2), ctx.const_input(node, 2)) {
        (false, _) => None,
        (true, Some(d)) => {
            let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric constant_value"))?.first().copied().unwrap_or(0.0);
            (v != 0.0).then(|| typed_const(ctx, &format!("{name}/value"), dtype, &[1], &[v])).transpose()?
        }
        (true, None) => {
            let t = ctx.input(node, 2)?;
            if ctx.dtype(t) != dtype || ctx.shape(t).num_elements() != Some(1) {
                return Err(LowerError::invalid(format!("constant_value (input 2) of type {} and shape {} for an input of type {dtype}", ctx.dtype(t), ctx.shape(t))));
            }
            Some(t)
        }
    };
    let runtime_axes = node.opset() >= 18 && node.has_input(3) && ctx.const_input(node, 3).is_none();
    let axes = if runtime_axes { Vec::new() } else { pad_axes(ctx, node, r)? };
    let pad = |ctx: &mut LowerCtx<'_>, p: TensorId| -> Result<TensorId, LowerError> {
        Ok(match value {
            Some(v) => ctx.g.apply(Op::PadV2, &[Some(x), Some(p), Some(v)])?,
            None => ctx.g.apply(Op::Pad, &[Some(x), Some(p)])?,
        })
    };
    if let Some(pads) = ctx.const_input(node, 1).and_then(|d| d.to_i64()).filter(|_| !runtime_axes) {
        // Constant pads, run-time value.
        if pads.len() != 2 * axes.len() || pads.iter().any(|p| *p < 0 || *p > i64::from(i32::MAX)) {
            return Err(LowerError::attr(format!("pads {pads:?} (negative pads are not supported)")));
        }
        let mut flat = vec![0i32; 2 * r];
        for (k, a) in axes.iter().enumerate() {
            flat[2 * a] = pads[k] as i32;
            flat[2 * a + 1] = pads[k + axes.len()] as i32;
        }
        let p = ctx.g.constant_i32(&format!("{name}/paddings"), [r as u32, 2], &flat);
        let y = pad(ctx, p)?;
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    let (p, n) = int32_vector(ctx, node, 1, "pads")?;
    let zero = ctx.g.constant_i32(&format!("{name}/zero"), Shape::scalar(), &[0]);
    let (m, bad) = if runtime_axes {
        runtime_pad_matrix(ctx, node, p, n, r)?
    } else {
        (static_pad_matrix(ctx, &name, p, n, &axes, r)?, None)
    };
    let grow = ctx.g.maximum(m, zero)?;
    let mut paddings = ctx.g.transpose(grow, &[1, 0])?;
    if let Some(bad) = bad {
        // Invalid axes make every padding negative, which PAD rejects.
        let big = ctx.g.constant_i32(&format!("{name}/poison"), Shape::scalar(), &[1 << 30]);
        let poison = ctx.g.mul(bad, big)?;
        paddings = ctx.g.sub(paddings, poison)?;
    }
    let padded = pad(ctx, paddings)?;
    // Crop the negative parts: begin -min(b, 0), end size + min(e, 0).
    let crop = ctx.g.minimum(m, zero)?;
    let row = |ctx: &mut LowerCtx<'_>, i: i32| -> Result<TensorId, LowerError> {
        let it = ctx.g.constant_i32(&format!("{name}/row{i}"), Shape::scalar(), &[i]);
        Ok(ctx.g.gather(crop, it, GatherOptions::new(0))?)
    };
    let (cb, ce) = (row(ctx, 0)?, row(ctx, 1)?);
    let begin = ctx.g.neg(cb)?;
    let size = ctx.g.shape(padded, ShapeOptions { out_type: DType::I32 })?;
    let end = ctx.g.add(size, ce)?;
    let ones = ctx.g.constant_i32(&format!("{name}/strides"), [r as u32], &vec![1; r]);
    let y = ctx.g.apply(Op::StridedSlice(StridedSliceOptions::default()), &[Some(padded), Some(begin), Some(end), Some(ones)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The `[2, r]` (begins, ends) matrix of run-time int32 pads `p` (`n`
/// values) for the constant `axes`.
fn static_pad_matrix(ctx: &mut LowerCtx<'_>, name: &str, p: TensorId, n: usize, axes: &[usize], r: usize) -> Result<TensorId, LowerError> {
    let k = axes.len();
    if n != 2 * k {
        return Err(LowerError::invalid(format!("{n} pads for {k} axes")));
    }
    // [2, k] (begins, ends) placed at their axes: [2, r].
    let mut m = ctx.g.reshape(p, &[2, k as i32])?;
    if axes != (0..r).collect::<Vec<_>>() {
        let zeros = ctx.g.constant_i32(&format!("{name}/zero_pads"), [2u32, 1], &[0, 0]);
        let cat = ctx.g.concatenation(&[m, zeros], 1)?;
        let mut idx = vec![k as i32; r];
        for (j, a) in axes.iter().enumerate() {
            idx[*a] = j as i32;
        }
        let it = ctx.g.constant_i32(&format!("{name}/pad_positions"), [r as u32], &idx);
        m = ctx.g.gather(cat, it, GatherOptions::new(1))?;
    }
    Ok(m)
}

/// The `[2, r]` (begins, ends) matrix of int32 pads `p` (`n` values) for
/// the run-time axes in input 3, placed by a one-hot matrix of the axes,
/// and an int32 scalar that is 1 when the axes are not distinct positions
/// in range (else 0).
fn runtime_pad_matrix(ctx: &mut LowerCtx<'_>, node: &Node<'_>, p: TensorId, n: usize, r: usize) -> Result<(TensorId, Option<TensorId>), LowerError> {
    let name = node.name();
    let (_, hits, k) = runtime_axes_onehot(ctx, node, 3, r)?;
    if n != 2 * k {
        return Err(LowerError::invalid(format!("{n} pads for {k} axes")));
    }
    let m = ctx.g.reshape(p, &[2, k as i32])?;
    let mut rows = Vec::with_capacity(2);
    for i in 0..2 {
        let it = ctx.g.constant_i32(&format!("{name}/pads_row{i}"), Shape::scalar(), &[i]);
        let v = ctx.g.gather(m, it, GatherOptions::new(0))?;
        let placed = place_by_onehot(ctx, &format!("{name}/pads{i}"), hits, v, k, 0)?;
        rows.push(ctx.g.reshape(placed, &[1, r as i32])?);
    }
    let full = ctx.g.concatenation(&rows, 0)?;
    let one = ctx.g.constant_i32(&format!("{name}/one"), Shape::scalar(), &[1]);
    let named = ctx.g.sum(hits, &[0], false)?;
    let named = ctx.g.minimum(named, one)?;
    let distinct = ctx.g.sum(named, &[0], false)?;
    let kc = ctx.g.constant_i32(&format!("{name}/k"), Shape::scalar(), &[k as i32]);
    let missing = ctx.g.sub(kc, distinct)?;
    let bad = ctx.g.minimum(missing, one)?;
    Ok((full, Some(bad)))
}
