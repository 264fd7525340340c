//! Conv on 1-D (NCW) and 2-D (NCHW) inputs, between channels-last
//! transposes: CONV_2D or DEPTHWISE_CONV_2D with explicit PAD where the
//! ONNX padding is not TFLite's SAME or VALID; grouped convolutions are
//! split into one CONV_2D per group and concatenated. A 1-D input is
//! transposed to NWC and given a unit height ([`Planar`]), so a chain of
//! 1-D layers keeps rank-3 transposes that the transpose pass cancels.
//! The window helpers here serve ConvTranspose and the pools too.

use super::fold::transpose_data;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::TensorData;

/// TFLite SAME padding (before, after) for one dimension, if static.
pub(crate) fn same_pads(input: Dim, k: i64, stride: i64, dilation: i64) -> Option<(i64, i64)> {
    let n = i64::from(input.fixed()?);
    let eff = (k - 1) * dilation + 1;
    let out = (n + stride - 1) / stride;
    let total = ((out - 1) * stride + eff - n).max(0);
    Some((total / 2, total - total / 2))
}

/// Spatial padding decided for a window op.
pub(crate) struct WindowPads {
    /// TFLite padding mode.
    pub padding: Padding,
    /// Explicit (before, after) pads per spatial dim to apply first, if any.
    pub explicit: Option<Vec<(i64, i64)>>,
}

/// Decides padding from `auto_pad`/`pads` for spatial dims of `input_nchw`.
pub(crate) fn window_pads(
    node: &Node<'_>,
    pads_attr: Option<Vec<i64>>,
    spatial: &[Dim],
    kernel: &[i64],
    strides: &[i64],
    dilations: &[i64],
    ceil_extra: &[i64],
) -> Result<WindowPads, LowerError> {
    let nd = spatial.len();
    let auto_pad = node.attr_str("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
    let mut pads: Vec<(i64, i64)> = match auto_pad.as_str() {
        "NOTSET" | "" => {
            let p = pads_attr.unwrap_or_else(|| vec![0; 2 * nd]);
            if p.len() != 2 * nd || p.iter().any(|x| *x < 0) {
                return Err(LowerError::attr(format!("pads {p:?} for {nd} spatial dims")));
            }
            (0..nd).map(|i| (p[i], p[i + nd])).collect()
        }
        "VALID" => vec![(0, 0); nd],
        // TFLite SAME is ONNX SAME_UPPER, whatever the input size.
        "SAME_UPPER" if ceil_extra.iter().all(|e| *e == 0) => return Ok(WindowPads { padding: Padding::Same, explicit: None }),
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut v = Vec::new();
            for i in 0..nd {
                let (a, b) = same_pads(spatial[i], kernel[i], strides[i], dilations[i])
                    .ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "auto_pad SAME with a dynamic spatial size"))?;
                v.push(if auto_pad == "SAME_UPPER" { (a, b) } else { (b, a) });
            }
            v
        }
        other => return Err(LowerError::attr(format!("auto_pad {other}"))),
    };
    for (i, e) in ceil_extra.iter().enumerate() {
        pads[i].1 += e;
    }
    if pads.iter().all(|p| *p == (0, 0)) {
        return Ok(WindowPads { padding: Padding::Valid, explicit: None });
    }
    let same: Option<Vec<(i64, i64)>> = (0..nd).map(|i| same_pads(spatial[i], kernel[i], strides[i], dilations[i])).collect();
    if same.as_ref() == Some(&pads) {
        return Ok(WindowPads { padding: Padding::Same, explicit: None });
    }
    Ok(WindowPads { padding: Padding::Valid, explicit: Some(pads) })
}

pub(crate) fn ints_or(node: &Node<'_>, name: &str, n: usize, default: i64) -> Result<Vec<i64>, LowerError> {
    let v = node.attr_ints(name)?.unwrap_or_else(|| vec![default; n]);
    if v.len() != n || v.iter().any(|x| *x <= 0 || *x > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("{name} {v:?} for {n} spatial dims")));
    }
    Ok(v)
}

/// Pads an NHWC tensor's spatial dims with zeros.
pub(crate) fn pad_nhwc(ctx: &mut LowerCtx<'_>, x: TensorId, pads: &[(i64, i64)]) -> Result<TensorId, LowerError> {
    let mut p = vec![(0, 0)];
    p.extend(pads.iter().map(|(a, b)| (*a as i32, *b as i32)));
    p.push((0, 0));
    Ok(ctx.g.pad(x, &p)?)
}


/// A 1-D (NCW) or 2-D (NCHW) input in 2-D channels-last form: NHWC, or
/// `[N, 1, W, C]` for a 1-D input.
pub(crate) struct Planar {
    /// The NHWC tensor.
    pub nhwc: TensorId,
    /// Whether the input was 1-D (a unit height was added).
    pub one_d: bool,
}

/// Adds (`add`) or removes a unit dimension at `axis`: RESHAPE when the
/// shape is static, else EXPAND_DIMS / SQUEEZE.
fn unit_dim(ctx: &mut LowerCtx<'_>, t: TensorId, axis: usize, add: bool) -> Result<TensorId, LowerError> {
    let s = ctx.shape(t).clone();
    if let Some(d) = s.as_fixed() {
        let mut d: Vec<i32> = d.iter().map(|v| *v as i32).collect();
        if add {
            d.insert(axis, 1);
        } else {
            d.remove(axis);
        }
        return Ok(ctx.g.reshape(t, &d)?);
    }
    if add {
        let a = ctx.g.constant_i32(&format!("{}/expand_axis", ctx.g.tensor(t).name), Shape::scalar(), &[axis as i32]);
        Ok(ctx.g.expand_dims(t, a)?)
    } else {
        Ok(ctx.g.squeeze(t, &[axis as i32])?)
    }
}

/// Brings a rank-3 or rank-4 input into 2-D channels-last form.
pub(crate) fn to_planar(ctx: &mut LowerCtx<'_>, x: TensorId) -> Result<Planar, LowerError> {
    match ctx.shape(x).rank() {
        4 => Ok(Planar { nhwc: ctx.to_channels_last(x)?, one_d: false }),
        3 => {
            let nwc = ctx.transpose(x, &[0, 2, 1])?;
            Ok(Planar { nhwc: unit_dim(ctx, nwc, 1, true)?, one_d: true })
        }
        r => Err(LowerError::new(ReasonCode::UnsupportedShape, format!("rank {r} (1-D or 2-D windows only here)"))),
    }
}

/// The NCW / NCHW value of a 2-D channels-last result `y` of a [`Planar`]
/// input.
pub(crate) fn from_planar(ctx: &mut LowerCtx<'_>, y: TensorId, one_d: bool) -> Result<TensorId, LowerError> {
    if !one_d {
        return ctx.to_channels_first(y);
    }
    let nwc = unit_dim(ctx, y, 1, false)?;
    ctx.transpose(nwc, &[0, 2, 1])
}

/// Per-dimension attribute values of a 1-D window lifted to 2-D: `fill`
/// for the added unit height.
pub(crate) fn lift(v: Vec<i64>, one_d: bool, fill: i64) -> Vec<i64> {
    if one_d { [vec![fill], v].concat() } else { v }
}

/// ONNX `pads` of a 1-D window (`[begin, end]`) lifted to 2-D.
pub(crate) fn lift_pads(p: Option<Vec<i64>>, one_d: bool) -> Option<Vec<i64>> {
    match p {
        Some(p) if one_d && p.len() == 2 => Some(vec![0, p[0], 0, p[1]]),
        other => other,
    }
}

/// The number of spatial dims of a window op's input of rank `rank`
/// (checked against the supported ranks).
fn spatial_rank(op: &str, rank: usize) -> Result<usize, LowerError> {
    match rank {
        3 | 4 => Ok(rank - 2),
        _ => Err(LowerError::new(ReasonCode::UnsupportedShape, format!("{op} on rank {rank} (1-D and 2-D only)"))),
    }
}

/// The static dims of weights (input 1), constant or run-time float32.
fn weight_dims(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<Vec<usize>, LowerError> {
    if let Some(w) = ctx.const_ref(node, 1) {
        return Ok(w.dims.clone());
    }
    let wt = ctx.input(node, 1)?;
    if ctx.dtype(wt) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("{} weights must be float32", node.op_type())));
    }
    ctx.shape(wt)
        .as_fixed()
        .map(|d| d.iter().map(|x| *x as usize).collect())
        .ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, format!("{} weights with dynamic dimensions", node.op_type())))
}

/// The weights (input 1) as a float32 tensor of `dims4` (the ONNX weights
/// with a unit height for 1-D), permuted by `perm`; constants are
/// transposed here, run-time weights by RESHAPE and TRANSPOSE ops.
pub(crate) fn planar_weights(ctx: &mut LowerCtx<'_>, node: &Node<'_>, dims4: [usize; 4], perm: [usize; 4], name: &str) -> Result<TensorId, LowerError> {
    let shape: Vec<u32> = perm.iter().map(|p| dims4[*p] as u32).collect();
    let lifted = ctx.const_ref(node, 1).is_some_and(|w| w.dims.len() == 3);
    let data = if lifted {
        let w = ctx.const_ref(node, 1).ok_or_else(|| LowerError::invalid("weights"))?;
        let v = w.to_f32().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, format!("weights of type {}", w.dtype)))?;
        Some(transpose_data(&TensorData::from_f32(dims4.to_vec(), &v), &perm)?)
    } else {
        ctx.const_weights(node, 1, &perm)?
    };
    if let Some(d) = data {
        return Ok(ctx.g.constant(name, DType::F32, Shape::new(shape), ConstData::from_bytes(d.bytes)));
    }
    let mut wt = ctx.input(node, 1)?;
    if ctx.shape(wt).rank() == 3 {
        let d: Vec<i32> = dims4.iter().map(|v| *v as i32).collect();
        wt = ctx.g.reshape(wt, &d)?;
    }
    let p: Vec<i32> = perm.iter().map(|v| *v as i32).collect();
    ctx.transpose(wt, &p)
}

/// The bias (input 2) of `m` output channels: a constant (zeros when
/// absent) or a run-time tensor.
fn conv_bias(ctx: &mut LowerCtx<'_>, node: &Node<'_>, m: usize) -> Result<TensorId, LowerError> {
    let name = node.name();
    match (node.has_input(2), ctx.const_input(node, 2)) {
        (false, _) => Ok(ctx.g.constant_f32(&format!("{name}/bias"), [m as u32], &vec![0.0; m])),
        (true, Some(d)) => {
            let bias = d.to_f32().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "Conv bias"))?;
            if bias.len() != m {
                return Err(LowerError::invalid(format!("bias of {} values for {m} output channels", bias.len())));
            }
            Ok(ctx.g.constant_f32(&format!("{name}/bias"), [m as u32], &bias))
        }
        (true, None) => {
            let t = ctx.input(node, 2)?;
            if ctx.dtype(t) != DType::F32 || ctx.shape(t).as_fixed().is_none_or(|d| d != [m as u32]) {
                return Err(LowerError::invalid(format!("bias of type {} and shape {} for {m} output channels", ctx.dtype(t), ctx.shape(t))));
            }
            Ok(t)
        }
    }
}

/// Lowers `Conv` on 1-D and 2-D inputs (3-D in `conv3d.rs`).
pub fn lower_conv(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let rank = ctx.shape(x).rank();
    if rank == 5 {
        return super::conv3d::lower_conv3d(ctx, node);
    }
    let nd = spatial_rank("Conv", rank)?;
    let one_d = nd == 1;
    if ctx.dtype(x) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("Conv on {}", ctx.dtype(x))));
    }
    let w_dims = weight_dims(ctx, node)?;
    if w_dims.len() != rank || w_dims.contains(&0) {
        return Err(LowerError::invalid(format!("weights of shape {w_dims:?} for a rank-{rank} input")));
    }
    let (m, cg) = (w_dims[0], w_dims[1]);
    let ksp: Vec<i64> = w_dims[2..].iter().map(|v| *v as i64).collect();
    let group = node.int_or("group", 1)?;
    let c = ctx.shape(x).dim(1).and_then(|d| d.fixed()).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "Conv input channels must be static"))? as usize;
    if group <= 0 || usize::try_from(group).ok().and_then(|g| cg.checked_mul(g)) != Some(c) || m % group as usize != 0 {
        return Err(LowerError::invalid(format!("group {group} with input channels {c} and weights {w_dims:?}")));
    }
    if let Some(ks) = node.attr_ints("kernel_shape")?
        && ks != ksp {
            return Err(LowerError::attr(format!("kernel_shape {ks:?} differs from weights {w_dims:?}")));
        }
    let k = lift(ksp, one_d, 1);
    let (kh, kw) = (k[0] as usize, k[1] as usize);
    let strides = lift(ints_or(node, "strides", nd, 1)?, one_d, 1);
    let dil = lift(ints_or(node, "dilations", nd, 1)?, one_d, 1);
    let xs = ctx.shape(x).dims().to_vec();
    let spatial = if one_d { vec![Dim::Fixed(1), xs[2]] } else { vec![xs[2], xs[3]] };
    let pads = window_pads(node, lift_pads(node.attr_ints("pads")?, one_d), &spatial, &k, &strides, &dil, &[0, 0])?;
    let name = node.name();
    let b = conv_bias(ctx, node, m)?;
    let group = group as usize;
    let depthwise = group > 1 && group == c && cg == 1;
    let dims4 = [m, cg, kh, kw];
    let p = to_planar(ctx, x)?;
    let mut h = p.nhwc;
    if let Some(pp) = &pads.explicit {
        h = pad_nhwc(ctx, h, pp)?;
    }
    let (s, d) = ((strides[0] as i32, strides[1] as i32), (dil[0] as i32, dil[1] as i32));
    let y = if depthwise {
        // [M, 1, kH, kW] → [1, kH, kW, M]
        let ft = planar_weights(ctx, node, dims4, [1, 2, 3, 0], &format!("{name}/filter"))?;
        let o = DepthwiseConv2dOptions::new(pads.padding, s.0, s.1, (m / c) as i32).with_dilation(d.0, d.1);
        ctx.g.depthwise_conv2d(h, ft, Some(b), o)?
    } else {
        // [M, C/g, kH, kW] → [M, kH, kW, C/g]
        let ft = planar_weights(ctx, node, dims4, [0, 2, 3, 1], &format!("{name}/filter"))?;
        let o = Conv2dOptions::new(pads.padding, s.0, s.1).with_dilation(d.0, d.1);
        if group == 1 {
            ctx.g.conv2d(h, ft, Some(b), o)?
        } else {
            grouped_conv2d(ctx, h, ft, b, group, o)?
        }
    };
    let out = from_planar(ctx, y, p.one_d)?;
    ctx.set_output(node, 0, out);
    Ok(())
}

/// A grouped convolution as one CONV_2D per group (TFLite's optimized
/// CONV_2D kernels reject groups): the NHWC input is split along channels
/// (SPLIT_V), the `[M, kH, kW, C/g]` filter and the bias into per-group
/// constants (or by SPLIT_V when computed at run time), and the results
/// concatenated along channels.
fn grouped_conv2d(ctx: &mut LowerCtx<'_>, h: TensorId, ft: TensorId, b: TensorId, group: usize, o: Conv2dOptions) -> Result<TensorId, LowerError> {
    let cg = ctx.shape(ft).dim(3).and_then(|d| d.fixed()).ok_or_else(|| LowerError::invalid("filter channels"))? as usize;
    let xs = ctx.g.split_v(h, &vec![cg as i32; group], 3)?;
    let fs = split_rows(ctx, ft, group)?;
    let bs = split_rows(ctx, b, group)?;
    let mut ys = Vec::with_capacity(group);
    for g in 0..group {
        ys.push(ctx.g.conv2d(xs[g], fs[g], Some(bs[g]), o)?);
    }
    Ok(ctx.g.concatenation(&ys, 3)?)
}

/// `t` split into `n` equal parts along its first dimension: constants
/// sliced here, run-time tensors by SPLIT_V.
pub(crate) fn split_rows(ctx: &mut LowerCtx<'_>, t: TensorId, n: usize) -> Result<Vec<TensorId>, LowerError> {
    let tensor = ctx.g.tensor(t).clone();
    let dims: Vec<u32> = tensor.shape.as_fixed().ok_or_else(|| LowerError::invalid("split of a dynamic shape"))?.to_vec();
    let rows = *dims.first().ok_or_else(|| LowerError::invalid("split of a scalar"))? as usize;
    if n == 0 || !rows.is_multiple_of(n) {
        return Err(LowerError::invalid(format!("{rows} rows in {n} groups")));
    }
    let Some(data) = &tensor.data else {
        return Ok(ctx.g.split_v(t, &vec![(rows / n) as i32; n], 0)?);
    };
    let bytes = data.as_bytes();
    let part = bytes.len() / n;
    let mut shape = dims.clone();
    shape[0] = (rows / n) as u32;
    Ok((0..n)
        .map(|g| ctx.g.constant(&format!("{}/group{g}", tensor.name), tensor.dtype, Shape::new(shape.clone()), ConstData::from_bytes(bytes[g * part..(g + 1) * part].to_vec())))
        .collect())
}
