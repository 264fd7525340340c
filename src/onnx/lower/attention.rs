//! Attention (opsets 23–25): scaled dot-product attention with masks,
//! causal and sliding-window masking, soft capping, grouped-query heads and
//! a key/value cache, lowered to BATCH_MATMUL, SOFTMAX and elementwise ops.
//!
//! The lowering follows the ONNX reference implementation step by step:
//! `Q` and `K` are each scaled by `sqrt(scale)`, `Q·Kᵀ` is soft-capped,
//! the additive bias (mask, causal, window and padding parts, each `0` or
//! `-inf` except a float mask) is added, SOFTMAX runs over the keys, rows
//! whose bias is entirely `-inf` are zeroed, and the probabilities multiply
//! `V`. Grouped-query attention folds each group of query heads into the
//! row dimension of one key/value head, so keys and values are not repeated.

use super::operand::{dtype_err, shape_err};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// The static dimensions of a tensor, or an error naming it.
fn static_dims(ctx: &LowerCtx<'_>, t: TensorId, what: &str) -> Result<Vec<i64>, LowerError> {
    ctx.shape(t)
        .as_fixed()
        .map(|d| d.into_iter().map(i64::from).collect())
        .ok_or_else(|| shape_err(format!("Attention needs a static shape for {what}, has {}", ctx.shape(t))))
}

fn i32s(v: &[i64]) -> Result<Vec<i32>, LowerError> {
    v.iter().map(|x| i32::try_from(*x).map_err(|_| shape_err(format!("dimension {x} is too large")))).collect()
}

/// A float32 input of the node, which must be present and float32.
fn f32_input(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, what: &str) -> Result<TensorId, LowerError> {
    let t = ctx.input(node, i)?;
    if ctx.dtype(t) != DType::F32 {
        return Err(dtype_err(format!("Attention {what} of type {} (float32 only)", ctx.dtype(t))));
    }
    Ok(t)
}

/// The attributes of an Attention node that shape the lowering.
struct Attrs {
    scale: Option<f32>,
    causal: bool,
    q_heads: Option<i64>,
    kv_heads: Option<i64>,
    softcap: f32,
    mode: i64,
    left: i64,
    right: i64,
}

fn attrs(node: &Node<'_>) -> Result<Attrs, LowerError> {
    let a = Attrs {
        scale: node.attr_float("scale")?,
        causal: node.int_or("is_causal", 0)? != 0,
        q_heads: node.attr_int("q_num_heads")?,
        kv_heads: node.attr_int("kv_num_heads")?,
        softcap: node.float_or("softcap", 0.0)?,
        mode: node.int_or("qk_matmul_output_mode", 0)?,
        left: node.int_or("left_window_size", -1)?,
        right: node.int_or("right_window_size", -1)?,
    };
    // Softmax runs in float32: the float32 and float64 precisions agree to
    // rounding; lower precisions (float16, bfloat16) would round differently.
    match node.attr_int("softmax_precision")? {
        None | Some(1) | Some(11) => {}
        Some(p) => return Err(LowerError::attr(format!("softmax_precision {p} (float32 and float64 are supported)"))),
    }
    if !(0..=3).contains(&a.mode) {
        return Err(LowerError::attr(format!("qk_matmul_output_mode {}", a.mode)));
    }
    if a.left < -1 || a.right < -1 {
        return Err(LowerError::invalid(format!("window sizes {} and {} (each -1 or ≥ 0)", a.left, a.right)));
    }
    if a.softcap < 0.0 || !a.softcap.is_finite() {
        return Err(LowerError::attr(format!("softcap {}", a.softcap)));
    }
    Ok(a)
}

/// `[B, S, H·D]` to `[B, H, S, D]`.
fn split_heads(ctx: &mut LowerCtx<'_>, t: TensorId, heads: i64, what: &str) -> Result<TensorId, LowerError> {
    let d = static_dims(ctx, t, what)?;
    if heads <= 0 || d[2] % heads != 0 {
        return Err(LowerError::invalid(format!("{what} hidden size {} is not a multiple of {heads} heads", d[2])));
    }
    let r = ctx.g.reshape(t, &i32s(&[d[0], d[1], heads, d[2] / heads])?)?;
    ctx.transpose(r, &[0, 2, 1, 3])
}

/// Lowers `Attention`.
pub fn lower_attention(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let a = attrs(node)?;
    let name = node.name();
    let mut q = f32_input(ctx, node, 0, "Q")?;
    let mut k = f32_input(ctx, node, 1, "K")?;
    let mut v = f32_input(ctx, node, 2, "V")?;
    let rank = ctx.shape(q).rank();
    if ctx.shape(k).rank() != rank || ctx.shape(v).rank() != rank {
        return Err(LowerError::invalid("Q, K and V have different ranks"));
    }
    match rank {
        3 => {
            let (Some(hq), Some(hkv)) = (a.q_heads, a.kv_heads) else {
                return Err(LowerError::invalid("3-D Attention needs q_num_heads and kv_num_heads"));
            };
            q = split_heads(ctx, q, hq, "Q")?;
            k = split_heads(ctx, k, hkv, "K")?;
            v = split_heads(ctx, v, hkv, "V")?;
        }
        4 if node.opset() >= 25 && (a.q_heads.is_some() || a.kv_heads.is_some()) => {
            return Err(LowerError::invalid("q_num_heads and kv_num_heads must not be given for 4-D inputs"));
        }
        4 => {}
        r => return Err(shape_err(format!("Attention on rank {r} inputs (3 or 4)"))),
    }
    let qd = static_dims(ctx, q, "Q")?;
    let (b, hq, l, d) = (qd[0], qd[1], qd[2], qd[3]);
    let kd = static_dims(ctx, k, "K")?;
    let vd = static_dims(ctx, v, "V")?;
    let hkv = kd[1];
    if kd[0] != b || vd[0] != b || kd[3] != d || vd[1] != hkv || vd[2] != kd[2] {
        return Err(LowerError::invalid(format!("Q {qd:?}, K {kd:?} and V {vd:?} do not fit together")));
    }
    if hkv <= 0 || hq % hkv != 0 {
        return Err(shape_err(format!("{hq} query heads are not a multiple of {hkv} key/value heads")));
    }
    let dv = vd[3];

    // The key/value cache.
    let past = node.has_input(4) || node.has_input(5);
    let mut past_len = 0;
    if past {
        if !(node.has_input(4) && node.has_input(5)) {
            return Err(LowerError::invalid("past_key and past_value must be given together"));
        }
        let pk = f32_input(ctx, node, 4, "past_key")?;
        let pv = f32_input(ctx, node, 5, "past_value")?;
        let pkd = static_dims(ctx, pk, "past_key")?;
        let pvd = static_dims(ctx, pv, "past_value")?;
        if pkd.len() != 4 || pvd.len() != 4 || pkd[..2] != kd[..2] || pkd[3] != d || pvd[..2] != vd[..2] || pvd[3] != dv || pvd[2] != pkd[2] {
            return Err(LowerError::invalid(format!("past_key {pkd:?} / past_value {pvd:?} do not fit K {kd:?} / V {vd:?}")));
        }
        past_len = pkd[2];
        k = ctx.g.concatenation(&[pk, k], 2)?;
        v = ctx.g.concatenation(&[pv, v], 2)?;
    }
    ctx.set_output(node, 1, k);
    ctx.set_output(node, 2, v);
    let s = kd[2] + past_len;
    let nonpad = node.has_input(6);
    if nonpad && past {
        return Err(LowerError::invalid("nonpad_kv_seqlen cannot be combined with past_key / past_value"));
    }

    // Q·Kᵀ with both operands scaled by sqrt(scale), as the reference does.
    let scale = a.scale.map(f64::from).unwrap_or_else(|| 1.0 / (d as f64).sqrt());
    let root = ctx.g.constant_f32(&format!("{name}/sqrt_scale"), Shape::scalar(), &[scale.sqrt() as f32]);
    let qs = ctx.g.mul(q, root)?;
    let ks = ctx.g.mul(k, root)?;
    let reps = hq / hkv;
    // Grouped-query attention: query head h uses key/value head h / reps,
    // so the reps query heads of a group become rows of one matmul.
    let grouped = |ctx: &mut LowerCtx<'_>, t: TensorId, cols: i64| -> Result<TensorId, LowerError> {
        if reps == 1 {
            return Ok(t);
        }
        Ok(ctx.g.reshape(t, &i32s(&[b, hkv, reps * l, cols])?)?)
    };
    let ungrouped = |ctx: &mut LowerCtx<'_>, t: TensorId, cols: i64| -> Result<TensorId, LowerError> {
        if reps == 1 {
            return Ok(t);
        }
        Ok(ctx.g.reshape(t, &i32s(&[b, hq, l, cols])?)?)
    };
    let qg = grouped(ctx, qs, d)?;
    let qk = ctx.g.batch_matmul(qg, ks, BatchMatMulOptions::default().with_adj_y(true))?;
    let raw = ungrouped(ctx, qk, s)?;
    let capped = if a.softcap > 0.0 {
        let c = ctx.g.constant_f32(&format!("{name}/softcap"), Shape::scalar(), &[a.softcap]);
        let x = ctx.g.div(raw, c)?;
        let t = ctx.g.tanh(x)?;
        ctx.g.mul(t, c)?
    } else {
        raw
    };

    let bias = attention_bias(ctx, node, &a, l, s, past_len)?;
    let with_bias = match bias.tensor {
        Some(t) => ctx.g.add(capped, t)?,
        None => capped,
    };
    let mut probs = ctx.g.softmax(with_bias, 1.0)?;
    if let Some(masked) = fully_masked_rows(ctx, &name, &bias, l)? {
        let zero = ctx.g.constant_f32(&format!("{name}/zero"), Shape::scalar(), &[0.0]);
        probs = ctx.g.apply(Op::SelectV2, &[Some(masked), Some(zero), Some(probs)])?;
    }
    let pg = grouped(ctx, probs, s)?;
    let yg = ctx.g.batch_matmul(pg, v, BatchMatMulOptions::default())?;
    let mut y = ungrouped(ctx, yg, dv)?;
    if rank == 3 {
        let t = ctx.transpose(y, &[0, 2, 1, 3])?;
        y = ctx.g.reshape(t, &i32s(&[b, l, hq * dv])?)?;
    }
    ctx.set_output(node, 0, y);

    if node.num_outputs() > 3 && node.inner.outputs.get(3).is_some_and(|o| !o.is_empty()) {
        let out = match a.mode {
            // The specification's mode 0 is the raw product; the reference
            // implementation returns it soft-capped. Refuse the ambiguity.
            0 if a.softcap > 0.0 => {
                return Err(LowerError::attr("qk_matmul_output_mode 0 with softcap (the specification and the reference implementation disagree)"));
            }
            0 => raw,
            1 => capped,
            2 => with_bias,
            _ => probs,
        };
        ctx.set_output(node, 3, out);
    }
    Ok(())
}

/// The additive attention bias and what is known about it at conversion
/// time.
struct Bias {
    /// The bias tensor (broadcasting to `[B, H, L, S]`), if any part applies.
    tensor: Option<TensorId>,
    /// Whether the bias depends on run-time inputs.
    dynamic: bool,
    /// For a constant bias: the rows (query positions) it masks entirely.
    masked_rows: Vec<bool>,
}

/// Whether key `j` is allowed for query `i` by the causal and window masks,
/// for a query block that starts at absolute position `offset`.
fn allowed(a: &Attrs, i: i64, j: i64, offset: i64) -> bool {
    let diff = i + offset - j;
    (!a.causal || diff >= 0) && (a.left < 0 || diff <= a.left) && (a.right < 0 || -diff <= a.right)
}

/// Builds the additive bias: the attention mask (bool as 0 / -inf, float as
/// is, padded with -inf up to the key length), the causal and window masks
/// (a constant for a cache offset known at conversion time, comparisons
/// with `nonpad_kv_seqlen` otherwise) and the key padding mask.
fn attention_bias(ctx: &mut LowerCtx<'_>, node: &Node<'_>, a: &Attrs, l: i64, s: i64, past_len: i64) -> Result<Bias, LowerError> {
    let name = node.name();
    let zero = ctx.g.constant_f32(&format!("{name}/bias_zero"), Shape::scalar(), &[0.0]);
    let neg_inf = ctx.g.constant_f32(&format!("{name}/neg_inf"), Shape::scalar(), &[f32::NEG_INFINITY]);
    let mut parts: Vec<TensorId> = Vec::new();
    let mut dynamic = false;
    if node.has_input(3) {
        let mut m = ctx.input(node, 3)?;
        match ctx.dtype(m) {
            DType::Bool => m = ctx.g.apply(Op::SelectV2, &[Some(m), Some(zero), Some(neg_inf)])?,
            DType::F32 => {}
            t => return Err(dtype_err(format!("attn_mask of type {t}"))),
        }
        let md = static_dims(ctx, m, "attn_mask")?;
        let last = *md.last().ok_or_else(|| LowerError::invalid("scalar attn_mask"))?;
        if md.len() > 4 || last > s {
            return Err(LowerError::invalid(format!("attn_mask of shape {md:?} for {s} keys")));
        }
        if last < s {
            let mut pads = vec![(0, 0); md.len()];
            if let Some(p) = pads.last_mut() {
                *p = (0, i32::try_from(s - last).map_err(|_| shape_err("mask padding too large"))?);
            }
            m = ctx.g.pad_v2(m, &pads, neg_inf)?;
        }
        parts.push(m);
        dynamic = true;
    }
    let mut masked_rows = vec![false; l as usize];
    if node.has_input(6) {
        parts.push(nonpad_bias(ctx, node, a, l, s, zero, neg_inf)?);
        dynamic = true;
    } else if a.causal || a.left >= 0 || a.right >= 0 {
        let mut vals = Vec::with_capacity((l * s) as usize);
        for i in 0..l {
            let row: Vec<f32> = (0..s).map(|j| if allowed(a, i, j, past_len) { 0.0 } else { f32::NEG_INFINITY }).collect();
            masked_rows[i as usize] = row.iter().all(|x| *x == f32::NEG_INFINITY);
            vals.extend(row);
        }
        if vals.iter().any(|x| *x != 0.0) {
            parts.push(ctx.g.constant_f32(&format!("{name}/causal_bias"), Shape::new([l as u32, s as u32]), &vals));
        }
    }
    let mut tensor = None;
    for p in parts {
        tensor = Some(match tensor {
            None => p,
            Some(t) => ctx.g.add(t, p)?,
        });
    }
    Ok(Bias { tensor, dynamic, masked_rows })
}

/// The bias from `nonpad_kv_seqlen` (input 6, one valid key count `n` per
/// batch): keys `j ≥ n` are masked, and the causal and window masks use the
/// per-batch offset `n - L`.
fn nonpad_bias(ctx: &mut LowerCtx<'_>, node: &Node<'_>, a: &Attrs, l: i64, s: i64, zero: TensorId, neg_inf: TensorId) -> Result<TensorId, LowerError> {
    let name = node.name();
    let n = ctx.input(node, 6)?;
    let n = match ctx.dtype(n) {
        DType::I64 => ctx.g.cast(n, DType::I32)?,
        DType::I32 => n,
        t => return Err(dtype_err(format!("nonpad_kv_seqlen of type {t}"))),
    };
    let n = ctx.g.reshape(n, &[-1, 1, 1, 1])?;
    let grid = |f: &dyn Fn(i64, i64) -> i64| -> Result<Vec<i32>, LowerError> {
        let mut v = Vec::with_capacity((l * s) as usize);
        for i in 0..l {
            for j in 0..s {
                v.push(i32::try_from(f(i, j)).map_err(|_| shape_err("sequence too long"))?);
            }
        }
        Ok(v)
    };
    let shape = Shape::new([1, 1, l as u32, s as u32]);
    // j < n.
    let cols = ctx.g.constant_i32(&format!("{name}/key_index"), shape.clone(), &grid(&|_, j| j)?);
    let mut ok = ctx.g.apply(Op::Less, &[Some(cols), Some(n)])?;
    let mut and = |ctx: &mut LowerCtx<'_>, c: TensorId| -> Result<(), LowerError> {
        ok = ctx.g.apply(Op::LogicalAnd, &[Some(ok), Some(c)])?;
        Ok(())
    };
    if a.causal {
        // j ≤ i + n - L  ⇔  j - i + L ≤ n.
        let c = ctx.g.constant_i32(&format!("{name}/causal_bound"), shape.clone(), &grid(&|i, j| j - i + l)?);
        let t = ctx.g.apply(Op::LessEqual, &[Some(c), Some(n)])?;
        and(ctx, t)?;
    }
    if a.left >= 0 {
        // i + n - L - j ≤ left  ⇔  n ≤ left + L + j - i.
        let c = ctx.g.constant_i32(&format!("{name}/left_bound"), shape.clone(), &grid(&|i, j| a.left + l + j - i)?);
        let t = ctx.g.apply(Op::LessEqual, &[Some(n), Some(c)])?;
        and(ctx, t)?;
    }
    if a.right >= 0 {
        // j - (i + n - L) ≤ right  ⇔  j - i + L - right ≤ n.
        let c = ctx.g.constant_i32(&format!("{name}/right_bound"), shape.clone(), &grid(&|i, j| j - i + l - a.right)?);
        let t = ctx.g.apply(Op::LessEqual, &[Some(c), Some(n)])?;
        and(ctx, t)?;
    }
    Ok(ctx.g.apply(Op::SelectV2, &[Some(ok), Some(zero), Some(neg_inf)])?)
}

/// The rows to zero after SOFTMAX (those whose bias is entirely `-inf`):
/// computed at run time for a bias that depends on inputs, a constant
/// condition when a constant bias masks some row, `None` otherwise.
fn fully_masked_rows(ctx: &mut LowerCtx<'_>, name: &str, bias: &Bias, l: i64) -> Result<Option<TensorId>, LowerError> {
    let Some(t) = bias.tensor else { return Ok(None) };
    if bias.dynamic {
        let r = ctx.shape(t).rank() as i32;
        let m = ctx.g.reduce_max(t, &[r - 1], true)?;
        let neg_inf = ctx.g.constant_f32(&format!("{name}/row_neg_inf"), Shape::scalar(), &[f32::NEG_INFINITY]);
        return Ok(Some(ctx.g.apply(Op::Equal, &[Some(m), Some(neg_inf)])?));
    }
    if !bias.masked_rows.iter().any(|m| *m) {
        return Ok(None);
    }
    let bytes: Vec<u8> = bias.masked_rows.iter().map(|m| u8::from(*m)).collect();
    Ok(Some(ctx.g.constant(&format!("{name}/masked_rows"), DType::Bool, Shape::new([l as u32, 1]), ConstData::from_bytes(bytes))))
}
