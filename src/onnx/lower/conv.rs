//! Conv and ConvTranspose, between NCHW→NHWC transposes: CONV_2D or
//! DEPTHWISE_CONV_2D with explicit PAD where the ONNX padding is not
//! TFLite's SAME or VALID, and TRANSPOSE_CONV (sliced when TFLite's padding
//! is not ONNX's). The window padding helpers here serve the pools too.

use super::fold::transpose_data;
use super::operand::{dtype_err, shape_err, static_dim, typed_input};
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

/// The weights of a ConvTranspose: a float32 constant, or a run-time
/// float32 tensor with its static `[C_in, C_out, kH, kW]` shape.
enum Weights {
    Const(TensorData),
    Runtime(TensorId, [usize; 4]),
}

fn conv_transpose_weights(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<Weights, LowerError> {
    if let Some(w) = ctx.const_input(node, 1) {
        if w.dims.len() != 4 {
            return Err(LowerError::invalid(format!("weights of shape {:?}", w.dims)));
        }
        return Ok(Weights::Const(TensorData::from_f32(w.dims.clone(), &w.to_f32().ok_or_else(|| dtype_err("non-numeric weights"))?)));
    }
    let t = ctx.input(node, 1)?;
    let s = ctx.shape(t).clone();
    if ctx.dtype(t) != DType::F32 {
        return Err(dtype_err(format!("ConvTranspose weights of type {}", ctx.dtype(t))));
    }
    let dims: Option<Vec<usize>> = s.dims().iter().map(|d| d.fixed().map(|v| v as usize)).collect();
    match dims.as_deref() {
        Some(&[a, b, c, d]) => Ok(Weights::Runtime(t, [a, b, c, d])),
        Some(_) => Err(LowerError::invalid(format!("weights of shape {s}"))),
        None => Err(shape_err(format!("run-time ConvTranspose weights of shape {s} (their shape must be static)"))),
    }
}

/// Lowers 2-D `ConvTranspose` (group 1, dilation 1, constant weights) to
/// TRANSPOSE_CONV between transposes. TFLite derives its padding from the
/// output size; when that is not ONNX's leading padding, the full VALID
/// result is computed and the ONNX window sliced out of it.
pub fn lower_conv_transpose(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let xs = ctx.shape(x).clone();
    if xs.rank() != 4 {
        return Err(shape_err(format!("ConvTranspose on rank {} (only 2-D)", xs.rank())));
    }
    let weights = conv_transpose_weights(ctx, node)?;
    let wdims = match &weights {
        Weights::Const(w) => w.dims.clone(),
        Weights::Runtime(_, d) => d.to_vec(),
    };
    if node.int_or("group", 1)? != 1 {
        return Err(LowerError::attr("group other than 1"));
    }
    let (cin, cout, kh, kw) = (wdims[0], wdims[1], wdims[2] as i64, wdims[3] as i64);
    if xs.dim(1).and_then(|d| d.fixed()).is_some_and(|c| c as usize != cin) {
        return Err(LowerError::invalid(format!("input {xs} does not match weights {wdims:?}")));
    }
    if let Some(ks) = node.attr_ints("kernel_shape")?
        && ks != [kh, kw] {
            return Err(LowerError::attr(format!("kernel_shape {ks:?} differs from weights {wdims:?}")));
        }
    let strides = node.attr_ints("strides")?.unwrap_or_else(|| vec![1, 1]);
    if strides.len() != 2 || strides.iter().any(|s| *s <= 0 || *s > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("strides {strides:?}")));
    }
    if node.attr_ints("dilations")?.is_some_and(|d| d.iter().any(|v| *v != 1)) {
        return Err(LowerError::attr("dilations other than 1 (TRANSPOSE_CONV has none)"));
    }
    let out_pad = node.attr_ints("output_padding")?.unwrap_or_else(|| vec![0, 0]);
    if out_pad.len() != 2 || out_pad.iter().zip(&strides).any(|(p, s)| *p < 0 || p >= s) {
        return Err(LowerError::attr(format!("output_padding {out_pad:?} for strides {strides:?}")));
    }
    let batch = static_dim(&xs, 0, "the batch size")?;
    let inp = [static_dim(&xs, 2, "the input height")?, static_dim(&xs, 3, "the input width")?];
    let k = [kh, kw];
    let full: Vec<i64> = (0..2).map(|i| strides[i] * (inp[i] - 1) + out_pad[i] + k[i]).collect();
    let auto_pad = node.attr_str("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
    // (begin, end) pads per spatial dimension. Where the ONNX spec, its
    // reference implementation and onnxruntime distribute padding
    // differently (odd SAME totals, an output_shape smaller than the full
    // output), the node is rejected rather than converted one way.
    let pads: Vec<(i64, i64)> = if let Some(os) = node.attr_ints("output_shape")? {
        let os = match os.len() {
            2 => os,
            4 => os[2..].to_vec(),
            _ => return Err(LowerError::attr(format!("output_shape {os:?}"))),
        };
        if !matches!(auto_pad.as_str(), "NOTSET" | "") || node.has_attr("pads") {
            return Err(LowerError::attr("output_shape together with auto_pad or pads"));
        }
        (0..2)
            .map(|i| {
                let total = full[i] - os[i];
                if total > 0 {
                    return Err(LowerError::attr(format!(
                        "output_shape {os:?} smaller than the full output {full:?} (ONNX implementations disagree on where it is cropped)"
                    )));
                }
                // A larger output gets bias-only rows at the end.
                Ok((0, total))
            })
            .collect::<Result<_, LowerError>>()?
    } else {
        match auto_pad.as_str() {
            "NOTSET" | "" => {
                let p = node.attr_ints("pads")?.unwrap_or_else(|| vec![0; 4]);
                if p.len() != 4 || p.iter().any(|v| *v < 0) {
                    return Err(LowerError::attr(format!("pads {p:?}")));
                }
                vec![(p[0], p[2]), (p[1], p[3])]
            }
            "VALID" => vec![(0, 0), (0, 0)],
            "SAME_UPPER" | "SAME_LOWER" => (0..2)
                .map(|i| {
                    let total = full[i] - inp[i] * strides[i];
                    if total < 0 || total % 2 != 0 {
                        return Err(LowerError::attr(format!(
                            "auto_pad {auto_pad} with a total padding of {total} (ONNX implementations split odd or negative totals differently)"
                        )));
                    }
                    Ok((total / 2, total / 2))
                })
                .collect::<Result<_, LowerError>>()?,
            other => return Err(LowerError::attr(format!("auto_pad {other}"))),
        }
    };
    if pads.iter().any(|p| p.0 < 0) {
        return Err(LowerError::attr(format!("pads {pads:?}: a negative leading pad")));
    }
    let out: Vec<i64> = (0..2).map(|i| full[i] - pads[i].0 - pads[i].1).collect();
    if out.iter().any(|o| *o <= 0) {
        return Err(LowerError::invalid(format!("empty output {out:?}")));
    }
    // TFLite SAME: the padding of a convolution from an output of size o.
    let tfl_same_pad = |o: i64, k: i64, s: i64| ((((o + s - 1) / s - 1) * s + k - o).max(0)) / 2;
    // The runtime also requires the input size to be the convolution's
    // output size: ceil(o / s) for SAME, (o - k) / s + 1 for VALID.
    let same = (0..2).all(|i| tfl_same_pad(out[i], k[i], strides[i]) == pads[i].0 && (out[i] + strides[i] - 1) / strides[i] == inp[i]);
    let (padding, size, crop) = if same {
        (Padding::Same, [out[0], out[1]], false)
    } else {
        let t: Vec<i64> = (0..2).map(|i| (out[i] + pads[i].0).max(strides[i] * (inp[i] - 1) + k[i])).collect();
        if (0..2).any(|i| (t[i] - k[i]) / strides[i] + 1 != inp[i]) {
            return Err(LowerError::attr(format!("output size {out:?} reaches beyond the input's last window (more than stride - 1 bias-only rows)")));
        }
        (Padding::Valid, [t[0], t[1]], pads.iter().any(|p| p.0 != 0) || t[0] != out[0] || t[1] != out[1])
    };
    let to32 = |v: i64| i32::try_from(v).map_err(|_| shape_err("output size overflows int32"));
    let name = node.name();
    // [C_in, C_out, kH, kW] → [C_out, kH, kW, C_in]
    let ft = match weights {
        Weights::Const(w) => {
            let f = transpose_data(&w, &[1, 2, 3, 0])?;
            ctx.g.constant(&format!("{name}/weights"), DType::F32, [cout as u32, kh as u32, kw as u32, cin as u32], ConstData::from_bytes(f.bytes))
        }
        Weights::Runtime(t, _) => ctx.transpose(t, &[1, 2, 3, 0])?,
    };
    let bias = if !node.has_input(2) {
        None
    } else if let Some(d) = ctx.const_input(node, 2) {
        let b = d.to_f32().ok_or_else(|| dtype_err("non-numeric ConvTranspose bias"))?;
        if b.len() != cout {
            return Err(LowerError::invalid(format!("bias of {} values for {cout} output channels", b.len())));
        }
        Some(ctx.g.constant_f32(&format!("{name}/bias"), [cout as u32], &b))
    } else {
        let t = ctx.input(node, 2)?;
        if ctx.dtype(t) != DType::F32 || *ctx.shape(t) != Shape::new([cout as u32]) {
            return Err(LowerError::invalid(format!("bias of type {} and shape {} for {cout} output channels", ctx.dtype(t), ctx.shape(t))));
        }
        Some(t)
    };
    let h = ctx.to_channels_last(x)?;
    let shape = [to32(batch)?, to32(size[0])?, to32(size[1])?, to32(cout as i64)?];
    let o = TransposeConvOptions::new(padding, strides[0] as i32, strides[1] as i32);
    let mut y = ctx.g.transpose_conv(h, ft, bias, shape, o)?;
    if crop {
        y = ctx.g.slice(y, &[0, to32(pads[0].0)?, to32(pads[1].0)?, 0], &[-1, to32(out[0])?, to32(out[1])?, -1])?;
    }
    let out = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, out);
    Ok(())
}
