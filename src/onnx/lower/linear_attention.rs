//! `LinearAttention`: the recurrent state update of linear attention (the
//! `linear`, `gated`, `delta` and `gated_delta` rules), unrolled over a
//! sequence of static length up to [`MAX_UNROLL`]. Per step, on
//! `S [B, H_kv, d_k, d_v]`:
//! - gated: `S *= exp(g_t)`;
//! - delta: `v_t = β_t · (v_t − Sᵀ k_t)` (BATCH_MATMUL);
//! - write: `S += k_t ⊗ v_t`;
//! - read: `o_t = scale · q_t S` with each key/value head's state read by
//!   its group of query heads (GATHER on the head axis).

use super::control::MAX_UNROLL;
use super::{LowerCtx, LowerError, Node};
use crate::model::{BatchMatMulOptions, DType, GatherOptions, Shape, TensorId, UnpackOptions};
use crate::onnx::error::ReasonCode;

fn shape_err(detail: impl Into<String>) -> LowerError {
    LowerError::new(ReasonCode::UnsupportedShape, detail)
}

/// `[B, T, H·d]` as `T` tensors `[B, H, 1, d]`.
fn steps(ctx: &mut LowerCtx<'_>, x: TensorId, t: usize, h: usize, d: usize) -> Result<Vec<TensorId>, LowerError> {
    let r = ctx.g.reshape(x, &[-1, t as i32, h as i32, d as i32])?;
    let tm = ctx.g.transpose(r, &[1, 0, 2, 3])?;
    let parts = if t == 1 {
        vec![ctx.g.squeeze(tm, &[0])?]
    } else {
        ctx.g.unpack(tm, UnpackOptions { num: t as i32, axis: 0 })?
    };
    let two = ctx.g.constant_i32("axis2", Shape::new([1]), &[2]);
    parts.into_iter().map(|p| Ok(ctx.g.expand_dims(p, two)?)).collect()
}

fn bmm(ctx: &mut LowerCtx<'_>, a: TensorId, b: TensorId) -> Result<TensorId, LowerError> {
    Ok(ctx.g.apply(crate::model::Op::BatchMatMul(BatchMatMulOptions::default()), &[Some(a), Some(b)])?)
}

/// Lowers `LinearAttention`.
pub fn lower_linear_attention(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let rule = node.attr_str("update_rule")?.unwrap_or_else(|| "gated_delta".into());
    let (gating, delta) = match rule.as_str() {
        "linear" => (false, false),
        "gated" => (true, false),
        "delta" => (false, true),
        "gated_delta" => (true, true),
        other => return Err(LowerError::attr(format!("update_rule {other:?}"))),
    };
    let hq = node.attr_int("q_num_heads")?.ok_or_else(|| LowerError::invalid("q_num_heads is required"))?;
    let hkv = node.attr_int("kv_num_heads")?.ok_or_else(|| LowerError::invalid("kv_num_heads is required"))?;
    if hq <= 0 || hkv <= 0 || hq % hkv != 0 || hq > 1 << 16 {
        return Err(LowerError::invalid(format!("q_num_heads {hq} must be a positive multiple of kv_num_heads {hkv}")));
    }
    let (hq, hkv) = (hq as usize, hkv as usize);
    if gating != node.has_input(4) || delta != node.has_input(5) {
        return Err(LowerError::invalid(format!("update_rule {rule:?} and the decay/beta inputs do not agree")));
    }
    let q = ctx.input(node, 0)?;
    let k = ctx.input(node, 1)?;
    let v = ctx.input(node, 2)?;
    for t in [q, k, v] {
        if ctx.dtype(t) != DType::F32 {
            return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("LinearAttention on {}", ctx.dtype(t))));
        }
        if ctx.shape(t).rank() != 3 {
            return Err(shape_err("query, key and value must be [batch, time, heads·dim]"));
        }
    }
    let fixed = |ctx: &LowerCtx<'_>, t: TensorId, i: usize, what: &str| -> Result<usize, LowerError> {
        ctx.shape(t).dims()[i].fixed().map(|n| n as usize).ok_or_else(|| shape_err(format!("{what} is known only at run time")))
    };
    let steps_n = fixed(ctx, q, 1, "the sequence length")?;
    if steps_n == 0 || steps_n as i64 > MAX_UNROLL {
        return Err(shape_err(format!("a sequence of {steps_n} steps (unrolled up to {MAX_UNROLL})")));
    }
    let (qd, kd, vd) = (fixed(ctx, q, 2, "the query width")?, fixed(ctx, k, 2, "the key width")?, fixed(ctx, v, 2, "the value width")?);
    if qd % hq != 0 || kd % hkv != 0 || vd % hkv != 0 || qd / hq != kd / hkv {
        return Err(LowerError::invalid("head widths do not divide the query, key and value widths"));
    }
    let (dk, dv, group) = (qd / hq, vd / hkv, hq / hkv);
    let scale = match node.float_or("scale", 0.0)? {
        s if s == 0.0 => 1.0 / (dk as f32).sqrt(),
        s => s,
    };
    let qs = steps(ctx, q, steps_n, hq, dk)?;
    let ks = steps(ctx, k, steps_n, hkv, dk)?;
    let vs = steps(ctx, v, steps_n, hkv, dv)?;
    // Per-step decay [B, H_kv, 1 or d_k, 1] and beta [B, H_kv or 1, 1, 1].
    let decays = if gating {
        let g = ctx.input(node, 4)?;
        let w = fixed(ctx, g, 2, "the decay width")?;
        let per = if w == hkv { 1 } else if w == hkv * dk { dk } else { return Err(LowerError::invalid(format!("decay width {w}"))) };
        let parts = steps(ctx, g, steps_n, hkv, per)?;
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            // [B, H, 1, per] → exp, as [B, H, per, 1].
            let e = ctx.g.exp(p)?;
            out.push(ctx.g.transpose(e, &[0, 1, 3, 2])?);
        }
        Some(out)
    } else {
        None
    };
    let betas = if delta {
        let b = ctx.input(node, 5)?;
        let w = fixed(ctx, b, 2, "the beta width")?;
        if w != hkv && w != 1 {
            return Err(LowerError::invalid(format!("beta width {w}")));
        }
        Some(steps(ctx, b, steps_n, w, 1)?)
    } else {
        None
    };
    let mut state = if node.has_input(3) { Some(ctx.input(node, 3)?) } else { None };
    let read_index = (group > 1).then(|| {
        let idx: Vec<i32> = (0..hq).map(|h| (h / group) as i32).collect();
        ctx.g.constant_i32(&format!("{}/heads", node.name()), Shape::new([hq as u32]), &idx)
    });
    let scale_t = ctx.g.constant_f32(&format!("{}/scale", node.name()), Shape::scalar(), &[scale]);
    let mut outs = Vec::with_capacity(steps_n);
    for t in 0..steps_n {
        if let (Some(ds), Some(s)) = (&decays, state) {
            state = Some(ctx.g.mul(s, ds[t])?);
        }
        // k_t as [B, H, d_k, 1], v_t as [B, H, 1, d_v].
        let kt = ctx.g.transpose(ks[t], &[0, 1, 3, 2])?;
        let mut vt = vs[t];
        if let Some(bs) = &betas {
            if let Some(s) = state {
                // Sᵀ k_t as [B, H, 1, d_v] = k_tᵀ S.
                let retrieved = bmm(ctx, ks[t], s)?;
                vt = ctx.g.sub(vt, retrieved)?;
            }
            vt = ctx.g.mul(vt, bs[t])?;
        }
        let write = ctx.g.mul(kt, vt)?;
        let s = match state {
            Some(s) => ctx.g.add(s, write)?,
            None => write,
        };
        state = Some(s);
        let read = match read_index {
            Some(idx) => ctx.g.gather(s, idx, GatherOptions::new(1))?,
            None => s,
        };
        let o = bmm(ctx, qs[t], read)?;
        outs.push(ctx.g.mul(o, scale_t)?);
    }
    // [B, H_q, T, d_v] → [B, T, H_q·d_v].
    let o = if outs.len() == 1 { outs[0] } else { ctx.g.concatenation(&outs, 2)? };
    let o = ctx.g.transpose(o, &[0, 2, 1, 3])?;
    let o = ctx.g.reshape(o, &[-1, steps_n as i32, (hq * dv) as i32])?;
    ctx.set_output(node, 0, o);
    if let Some(s) = state {
        ctx.set_output(node, 1, s);
    }
    Ok(())
}
