//! The integer ops (MatMulInteger, ConvInteger) and the QLinear ops
//! (QLinearMatMul, QLinearConv) computed exactly as the ONNX reference
//! defines them: the integer products in float32 on integers whose sums
//! stay below 2^24 (checked from the shapes and constant operands, a typed
//! error otherwise), cast to int32, or rescaled, rounded half to even and
//! saturated. QLinear ops that can be int8 TFLite ops are that instead
//! ([`super::qlinear::qlinear_int8`], within one step of the exact result).

//! are computed exactly in `integer_ops.rs`.

use super::operand::{dtype_err, shape_err};
use super::qlinear::{qlinear_int8, synth};
use super::quantize_linear::check_scales;
use super::{LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::{Attr, TensorData};

/// Below this, every integer and every partial sum is exact in float32.
const EXACT_F32: f64 = 16_777_216.0;

/// An integer operand `x − zero_point` as float32 (exact: 8- and 16-bit
/// values), and the largest magnitude it can have.
fn centered(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: usize, z: Option<usize>, per_row_axis: Option<usize>) -> Result<(TensorId, f64), LowerError> {
    let xt = match ctx.const_ref(node, x) {
        Some(d) => d.dtype,
        None => {
            let t = ctx.input(node, x)?;
            ctx.dtype(t)
        }
    };
    let (lo, hi) = match xt {
        DType::I8 => (-128.0, 127.0),
        DType::U8 => (0.0, 255.0),
        other => return Err(dtype_err(format!("integer operand of type {other} (int8 or uint8)"))),
    };
    let z = z.filter(|z| node.has_input(*z));
    if let Some(z) = z {
        let zt = match ctx.const_ref(node, z) {
            Some(d) => d.dtype,
            None => {
                let t = ctx.input(node, z)?;
                ctx.dtype(t)
            }
        };
        if zt != xt {
            return Err(LowerError::invalid(format!("zero point of type {zt} for an operand of type {xt}")));
        }
    }
    // A constant operand: exact values, its exact largest magnitude.
    if let Some(d) = ctx.const_ref(node, x).cloned() {
        let v = d.to_i64().ok_or_else(|| dtype_err("operand"))?;
        let zs = match z {
            Some(z) => ctx.const_ints(node, z, "zero point")?,
            None => vec![0],
        };
        let axis_len = per_row_axis.map(|a| d.dims.get(a).copied().unwrap_or(1)).unwrap_or(1);
        if zs.len() != 1 && zs.len() != axis_len {
            return Err(LowerError::invalid(format!("{} zero points for {axis_len} slices", zs.len())));
        }
        let inner: usize = per_row_axis.and_then(|a| d.dims.get(a + 1..)).map(|v| v.iter().product()).unwrap_or(1);
        let f: Vec<f32> = v.iter().enumerate().map(|(k, q)| (q - zs[if zs.len() == 1 { 0 } else { (k / inner.max(1)) % zs.len() }]) as f32).collect();
        let m = f.iter().fold(0f64, |m, x| m.max(f64::from(x.abs())));
        let t = ctx.g.constant_f32(&format!("{}/centered{x}", node.name()), Shape::new(d.dims.iter().map(|x| *x as u32)), &f);
        return Ok((t, m));
    }
    let t = ctx.input(node, x)?;
    if per_row_axis.is_some_and(|a| a >= ctx.shape(t).rank()) {
        return Err(shape_err(format!("integer operand of rank {}", ctx.shape(t).rank())));
    }
    let mut f = ctx.g.cast(t, DType::F32)?;
    let mut bound = hi - lo;
    if let Some(z) = z {
        let zc = ctx.const_ints(node, z, "zero point").ok();
        let mut zf = match ctx.const_input(node, z) {
            Some(d) => {
                let v = d.to_f32().ok_or_else(|| dtype_err("zero point"))?;
                ctx.g.constant_f32(&format!("{}/zp{z}", node.name()), Shape::new(d.dims.iter().map(|x| *x as u32)), &v)
            }
            None => {
                let zt = ctx.input(node, z)?;
                ctx.g.cast(zt, DType::F32)?
            }
        };
        if let Some(zc) = zc {
            bound = zc.iter().fold(0f64, |m, z| m.max((lo - *z as f64).abs()).max((hi - *z as f64).abs()));
        }
        // A per-row zero point (1-D along `per_row_axis`) broadcasts as a column.
        let zr = ctx.shape(zf).rank();
        let r = ctx.shape(f).rank();
        if let Some(a) = per_row_axis
            && zr == 1
            && ctx.shape(zf).dim(0).and_then(|d| d.fixed()) != Some(1)
        {
            let mut shape = vec![-1i32];
            shape.extend(std::iter::repeat_n(1, r - a - 1));
            zf = ctx.g.reshape(zf, &shape)?;
        }
        f = ctx.g.sub(f, zf)?;
    } else {
        bound = lo.abs().max(hi.abs());
    }
    Ok((f, bound))
}

/// The exact integer product `a' @ b'` as float32 (ranks as ONNX MatMul),
/// or an error when a sum could reach 2^24.
fn exact_matmul(ctx: &mut LowerCtx<'_>, node: &Node<'_>, a: (usize, Option<usize>), b: (usize, Option<usize>)) -> Result<TensorId, LowerError> {
    let a_rows = ctx_rank_minus(ctx, node, a.0, 2)?;
    let b_cols = ctx_rank_minus(ctx, node, b.0, 1)?;
    let (at, amax) = centered(ctx, node, a.0, a.1, Some(a_rows))?;
    let (bt, bmax) = centered(ctx, node, b.0, b.1, Some(b_cols))?;
    let k = ctx.shape(at).dims().last().and_then(|d| d.fixed()).ok_or_else(|| shape_err("the inner dimension must be static"))? as f64;
    // The largest sum: per output column for a constant right operand.
    let worst = match ctx.g.tensor(bt).data.as_ref() {
        Some(d) if ctx.shape(bt).rank() == 2 => {
            let v: Vec<f32> = d.to_vec::<f32>();
            let n = ctx.shape(bt).dims()[1].fixed().unwrap_or(1) as usize;
            (0..n).map(|c| v.iter().skip(c).step_by(n.max(1)).map(|x| f64::from(x.abs())).sum::<f64>()).fold(0f64, f64::max) * amax
        }
        _ => k * amax * bmax,
    };
    if worst >= EXACT_F32 {
        return Err(shape_err(format!("integer sums up to {worst} are not exact in float32 (inner dimension {k})")));
    }
    let (ra, rb) = (ctx.shape(at).rank(), ctx.shape(bt).rank());
    if ra < 2 || rb < 2 || ra > 5 || rb > 5 {
        return Err(shape_err(format!("integer MatMul of ranks {ra} and {rb}")));
    }
    Ok(ctx.g.batch_matmul(at, bt, BatchMatMulOptions::default())?)
}

/// The rank of input `i` minus `k` (the row axis of a matrix operand).
fn ctx_rank_minus(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, k: usize) -> Result<usize, LowerError> {
    let r = match ctx.const_ref(node, i) {
        Some(d) => d.dims.len(),
        None => {
            let t = ctx.input(node, i)?;
            ctx.shape(t).rank()
        }
    };
    r.checked_sub(k).ok_or_else(|| shape_err(format!("operand of rank {r}")))
}

/// Lowers `MatMulInteger`: `(A − a_zero_point) @ (B − b_zero_point)` in
/// int32, computed exactly in float32 (checked) and cast.
pub fn lower_matmul_integer(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let y = exact_matmul(ctx, node, (0, Some(2)), (1, Some(3)))?;
    let y = ctx.g.cast(y, DType::I32)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// `clamp(round_half_even(acc · (s_a · s_b / s_y)) + z_y)` cast to the type
/// of `z_y` (or `like`), as the ONNX reference computes it, in float32.
/// `params` are the input indices of `[s_a, s_b, s_y, z_y]`.
fn requantize_float(ctx: &mut LowerCtx<'_>, node: &Node<'_>, acc: TensorId, params: [usize; 4], like: DType, per_channel_axis: Option<usize>) -> Result<TensorId, LowerError> {
    let [sa, sb, sy, zy] = params;
    for i in [sa, sb, sy] {
        let t = match ctx.const_ref(node, i) {
            Some(d) => {
                check_scales(&d.to_f32().unwrap_or_default(), "scale")?;
                d.dtype
            }
            None => {
                let t = ctx.input(node, i)?;
                ctx.dtype(t)
            }
        };
        if t != DType::F32 {
            return Err(dtype_err(format!("scale of type {t} (only float32)")));
        }
    }
    let a = ctx.input(node, sa)?;
    let mut b = ctx.input(node, sb)?;
    let y = ctx.input(node, sy)?;
    let r = ctx.shape(acc).rank();
    if let Some(axis) = per_channel_axis
        && ctx.shape(b).rank() == 1
        && ctx.shape(b).dim(0).and_then(|d| d.fixed()) != Some(1)
    {
        let mut shape = vec![-1i32];
        shape.extend(std::iter::repeat_n(1, r - axis - 1));
        b = ctx.g.reshape(b, &shape)?;
    }
    let m = ctx.g.mul(a, b)?;
    let m = ctx.g.div(m, y)?;
    let mut d = ctx.g.mul(acc, m)?;
    let out = if node.has_input(zy) {
        let zt = match ctx.const_ref(node, zy) {
            Some(z) => z.dtype,
            None => {
                let t = ctx.input(node, zy)?;
                ctx.dtype(t)
            }
        };
        let z = match ctx.const_input(node, zy) {
            Some(zd) => {
                let v = zd.to_f32().ok_or_else(|| dtype_err("zero point"))?;
                ctx.g.constant_f32(&format!("{}/yzp", node.name()), Shape::new(zd.dims.iter().map(|x| *x as u32)), &v)
            }
            None => {
                let t = ctx.input(node, zy)?;
                ctx.g.cast(t, DType::F32)?
            }
        };
        d = ctx.g.add(d, z)?;
        zt
    } else {
        like
    };
    let (lo, hi) = match out {
        DType::I8 => (-128.0f32, 127.0f32),
        DType::U8 => (0.0, 255.0),
        other => return Err(dtype_err(format!("output of type {other}"))),
    };
    let name = node.name();
    let lo_t = ctx.g.constant_f32(&format!("{name}/lo"), Shape::scalar(), &[lo]);
    let hi_t = ctx.g.constant_f32(&format!("{name}/hi"), Shape::scalar(), &[hi]);
    let d = ctx.g.round(d)?;
    let d = ctx.g.maximum(d, lo_t)?;
    let d = ctx.g.minimum(d, hi_t)?;
    Ok(ctx.g.cast(d, out)?)
}

/// Lowers `QLinearMatMul`: one int8 FULLY_CONNECTED when the activation
/// parameters are constant per tensor and `b` is constant symmetric int8
/// (2-D); otherwise exactly as ONNX defines it: the integer product (exact
/// in float32, checked), rescaled by `a_scale · b_scale / y_scale`, rounded
/// half to even, saturated (per-column `b` parameters broadcast along the
/// last axis).
pub fn lower_qlinear_matmul(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if let Some(y) = qlinear_int8(ctx, node, false)? {
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    let acc = exact_matmul(ctx, node, (0, Some(2)), (3, Some(5)))?;
    let like = match ctx.const_ref(node, 0) {
        Some(d) => d.dtype,
        None => {
            let t = ctx.input(node, 0)?;
            ctx.dtype(t)
        }
    };
    let y = requantize_float(ctx, node, acc, [1, 4, 6, 7], like, None)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The exact integer convolution of inputs `x` and `w` (with zero points)
/// as float32 in NCHW, through the float Conv lowering, and an error when
/// a sum could reach 2^24. `bias` is an int32 input added exactly.
fn exact_conv(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: (usize, Option<usize>), w: (usize, Option<usize>), bias: Option<usize>) -> Result<TensorId, LowerError> {
    let (xt, xmax) = centered(ctx, node, x.0, x.1, None)?;
    let (wt, wmax) = centered(ctx, node, w.0, w.1, Some(0))?;
    let wd: Vec<usize> = ctx.shape(wt).as_fixed().map(|d| d.iter().map(|v| *v as usize).collect()).ok_or_else(|| shape_err("weights of dynamic shape"))?;
    if wd.len() != 4 {
        return Err(shape_err(format!("integer Conv with weights of shape {wd:?} (2-D only)")));
    }
    let k: usize = wd[1..].iter().product();
    let worst = match ctx.g.tensor(wt).data.as_ref() {
        Some(d) => {
            let v: Vec<f32> = d.to_vec::<f32>();
            v.chunks(k.max(1)).map(|c| c.iter().map(|x| f64::from(x.abs())).sum::<f64>()).fold(0f64, f64::max) * xmax
        }
        None => k as f64 * xmax * wmax,
    };
    let mut bias_name = String::new();
    if let Some(b) = bias.filter(|b| node.has_input(*b)) {
        let bd = ctx.const_input(node, b).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "the bias must be constant"))?;
        let v = bd.to_i64().ok_or_else(|| dtype_err("bias"))?;
        let bmax = v.iter().fold(0f64, |m, x| m.max((*x as f64).abs()));
        if worst + bmax >= EXACT_F32 {
            return Err(shape_err("integer sums with the bias are not exact in float32"));
        }
        bias_name = format!("{}/bias_f32", node.name());
        let f: Vec<f32> = v.iter().map(|x| *x as f32).collect();
        ctx.env.insert(bias_name.clone(), Val::Const(TensorData::from_f32(bd.dims.clone(), &f)));
    }
    if worst >= EXACT_F32 {
        return Err(shape_err(format!("integer sums up to {worst} are not exact in float32")));
    }
    let base = node.name();
    let xn = format!("{base}/x_centered");
    let wn = format!("{base}/w_centered");
    ctx.env.insert(xn.clone(), Val::Tensor(xt));
    // Constant weights stay constants, so that the Conv lowering can lay
    // them out once.
    match ctx.g.tensor(wt).data.as_ref() {
        Some(d) => {
            let v: Vec<f32> = d.to_vec::<f32>();
            ctx.env.insert(wn.clone(), Val::Const(TensorData::from_f32(wd.clone(), &v)));
        }
        None => {
            ctx.env.insert(wn.clone(), Val::Tensor(wt));
        }
    }
    let attrs: Vec<(String, Attr)> = node.inner.attrs.clone();
    let mut inputs = vec![xn, wn];
    if !bias_name.is_empty() {
        inputs.push(bias_name);
    }
    let out = synth(ctx, &base, "Conv", inputs, attrs, super::lower_conv)?;
    ctx.tensor_of(&out)
}

/// Lowers `ConvInteger`: the int32 convolution of `x − x_zero_point` by
/// `w − w_zero_point`, computed exactly in float32 (checked) and cast.
pub fn lower_conv_integer(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let y = exact_conv(ctx, node, (0, Some(2)), (1, Some(3)), None)?;
    let y = ctx.g.cast(y, DType::I32)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `QLinearConv`: one int8 CONV_2D / DEPTHWISE_CONV_2D when the
/// activation parameters are constant per tensor and the weights constant
/// symmetric int8; otherwise exactly as ONNX defines it: the integer
/// convolution plus the int32 bias (exact in float32, checked), rescaled by
/// `x_scale · w_scale / y_scale` (per output channel for a 1-D `w_scale`),
/// rounded half to even and saturated.
pub fn lower_qlinear_conv(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if let Some(y) = qlinear_int8(ctx, node, true)? {
        ctx.set_output(node, 0, y);
        return Ok(());
    }
    let acc = exact_conv(ctx, node, (0, Some(2)), (3, Some(5)), Some(8))?;
    let like = match ctx.const_ref(node, 0) {
        Some(d) => d.dtype,
        None => {
            let t = ctx.input(node, 0)?;
            ctx.dtype(t)
        }
    };
    let y = requantize_float(ctx, node, acc, [1, 4, 6, 7], like, Some(1))?;
    ctx.set_output(node, 0, y);
    Ok(())
}
