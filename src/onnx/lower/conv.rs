//! Conv: CONV_2D or DEPTHWISE_CONV_2D between NCHW→NHWC transposes, with
//! explicit PAD where the ONNX padding is not TFLite's SAME or VALID.

use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;

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
            let p = node.attr_ints("pads")?.unwrap_or_else(|| vec![0; 2 * nd]);
            if p.len() != 2 * nd || p.iter().any(|x| *x < 0) {
                return Err(LowerError::attr(format!("pads {p:?} for {nd} spatial dims")));
            }
            (0..nd).map(|i| (p[i], p[i + nd])).collect()
        }
        "VALID" => vec![(0, 0); nd],
        "SAME_UPPER" | "SAME_LOWER" => {
            let mut v = Vec::new();
            for i in 0..nd {
                let (a, b) = same_pads(spatial[i], kernel[i], strides[i], dilations[i])
                    .ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "auto_pad SAME with a dynamic spatial size"))?;
                v.push(if auto_pad == "SAME_UPPER" { (a, b) } else { (b, a) });
            }
            if auto_pad == "SAME_UPPER"
                && ceil_extra.iter().all(|e| *e == 0) {
                    return Ok(WindowPads { padding: Padding::Same, explicit: None });
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
    if v.len() != n || v.iter().any(|x| *x <= 0) {
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

/// Lowers `Conv`.
pub fn lower_conv(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let rank = ctx.shape(x).rank();
    if rank != 4 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("Conv on rank {rank} (only 2-D convolutions)")));
    }
    if ctx.dtype(x) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("Conv on {}", ctx.dtype(x))));
    }
    // Weights are usually constant (transposed here, once, without copying
    // them first); a weight tensor computed at run time gets a TRANSPOSE op.
    let w_dims: Vec<usize> = match ctx.const_ref(node, 1) {
        Some(w) => w.dims.clone(),
        None => {
            let wt = ctx.input(node, 1)?;
            if ctx.dtype(wt) != DType::F32 {
                return Err(LowerError::new(ReasonCode::UnsupportedDtype, "Conv weights must be float32"));
            }
            ctx.shape(wt)
                .as_fixed()
                .map(|d| d.iter().map(|x| *x as usize).collect())
                .ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "Conv weights with dynamic dimensions"))?
        }
    };
    if w_dims.len() != 4 {
        return Err(LowerError::invalid(format!("weights of shape {w_dims:?}")));
    }
    let (m, cg, kh, kw) = (w_dims[0], w_dims[1], w_dims[2], w_dims[3]);
    let group = node.int_or("group", 1)?;
    let c = ctx.shape(x).dim(1).and_then(|d| d.fixed()).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "Conv input channels must be static"))? as usize;
    if group <= 0 || c != cg * group as usize || m % group as usize != 0 {
        return Err(LowerError::invalid(format!("group {group} with input channels {c} and weights {w_dims:?}")));
    }
    if let Some(ks) = node.attr_ints("kernel_shape")?
        && ks != [kh as i64, kw as i64] {
            return Err(LowerError::attr(format!("kernel_shape {ks:?} differs from weights {w_dims:?}")));
        }
    let strides = ints_or(node, "strides", 2, 1)?;
    let dil = ints_or(node, "dilations", 2, 1)?;
    let spatial = [ctx.shape(x).dims()[2], ctx.shape(x).dims()[3]];
    let pads = window_pads(node, &spatial, &[kh as i64, kw as i64], &strides, &dil, &[0, 0])?;
    let name = node.name();
    let b = match (node.has_input(2), ctx.const_input(node, 2)) {
        (false, _) => ctx.g.constant_f32(&format!("{name}/bias"), [m as u32], &vec![0.0; m]),
        (true, Some(d)) => {
            let bias = d.to_f32().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "Conv bias"))?;
            if bias.len() != m {
                return Err(LowerError::invalid(format!("bias of {} values for {m} output channels", bias.len())));
            }
            ctx.g.constant_f32(&format!("{name}/bias"), [m as u32], &bias)
        }
        (true, None) => ctx.input(node, 2)?,
    };
    let depthwise = group > 1 && group as usize == c && cg == 1;
    // [M, 1, kH, kW] → [1, kH, kW, M] (depthwise) or [M, C/g, kH, kW] → [M, kH, kW, C/g].
    let perm: [usize; 4] = if depthwise { [1, 2, 3, 0] } else { [0, 2, 3, 1] };
    let filter_shape: [u32; 4] = if depthwise { [1, kh as u32, kw as u32, m as u32] } else { [m as u32, kh as u32, kw as u32, cg as u32] };
    let ft = match ctx.const_weights(node, 1, &perm)?.map(|f| f.bytes) {
        Some(bytes) => ctx.g.constant(&format!("{name}/filter"), DType::F32, filter_shape, ConstData::from_bytes(bytes)),
        None => {
            let wt = ctx.input(node, 1)?;
            let p: Vec<i32> = perm.iter().map(|v| *v as i32).collect();
            ctx.transpose(wt, &p)?
        }
    };
    let mut h = ctx.to_channels_last(x)?;
    if let Some(p) = &pads.explicit {
        h = pad_nhwc(ctx, h, p)?;
    }
    let y = if depthwise {
        let o = DepthwiseConv2dOptions::new(pads.padding, strides[0] as i32, strides[1] as i32, (m / c) as i32).with_dilation(dil[0] as i32, dil[1] as i32);
        ctx.g.depthwise_conv2d(h, ft, Some(b), o)?
    } else {
        let o = Conv2dOptions::new(pads.padding, strides[0] as i32, strides[1] as i32).with_dilation(dil[0] as i32, dil[1] as i32);
        ctx.g.conv2d(h, ft, Some(b), o)?
    };
    let out = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, out);
    Ok(())
}
