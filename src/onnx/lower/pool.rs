//! Pooling: MaxPool, AveragePool and the global pools.

use super::conv::{ints_or, pad_nhwc, window_pads};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// Extra end padding that ceil_mode adds for one dimension.
fn ceil_extra(input: Dim, k: i64, s: i64, pad_begin: i64, pad_end: i64) -> Result<i64, LowerError> {
    let n = i64::from(input.fixed().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "ceil_mode with a dynamic spatial size"))?);
    let span = n + pad_begin + pad_end - k;
    if span < 0 {
        return Err(LowerError::invalid("pool window larger than the padded input"));
    }
    let mut out = (span + s - 1) / s + 1;
    // A last window that would start in the end padding is dropped.
    if (out - 1) * s >= n + pad_begin {
        out -= 1;
    }
    Ok(((out - 1) * s + k - (n + pad_begin + pad_end)).max(0))
}

fn lower_pool(ctx: &mut LowerCtx<'_>, node: &Node<'_>, max: bool) -> Result<(), LowerError> {
    if node.num_outputs() > 1 && !node.inner.outputs[1].is_empty() {
        return Err(LowerError::attr("MaxPool indices output is not supported"));
    }
    let x = ctx.input(node, 0)?;
    if ctx.shape(x).rank() != 4 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, "only 2-D pooling"));
    }
    let k = node.attr_ints("kernel_shape")?.ok_or_else(|| LowerError::invalid("kernel_shape is required"))?;
    if k.len() != 2 || k.iter().any(|v| *v <= 0) {
        return Err(LowerError::attr(format!("kernel_shape {k:?}")));
    }
    let strides = ints_or(node, "strides", 2, 1)?;
    let dil = ints_or(node, "dilations", 2, 1)?;
    if dil != [1, 1] {
        return Err(LowerError::attr("pooling dilations other than 1"));
    }
    let spatial = [ctx.shape(x).dims()[2], ctx.shape(x).dims()[3]];
    let ceil = node.int_or("ceil_mode", 0)? != 0;
    let base_pads = node.attr_ints("pads")?.unwrap_or_else(|| vec![0; 4]);
    let extra = if ceil && base_pads.len() == 4 {
        vec![ceil_extra(spatial[0], k[0], strides[0], base_pads[0], base_pads[2])?, ceil_extra(spatial[1], k[1], strides[1], base_pads[1], base_pads[3])?]
    } else {
        vec![0, 0]
    };
    let mut pads = window_pads(node, &spatial, &k, &strides, &dil, &extra)?;
    let count_include_pad = node.int_or("count_include_pad", 0)? != 0;
    let base_nonzero = match &pads.explicit {
        Some(p) => p.iter().zip(&extra).any(|((a, b), e)| *a != 0 || b - e != 0),
        None => pads.padding == Padding::Same && base_pads.iter().any(|p| *p != 0),
    };
    // TFLite's SAME pooling ignores padded elements; explicit zero padding
    // counts them. Pick whichever matches ONNX exactly.
    if !max && count_include_pad && base_nonzero {
        if extra.iter().any(|e| *e != 0) {
            return Err(LowerError::attr("AveragePool with count_include_pad=1, pads and ceil_mode"));
        }
        let p = node.attr_ints("pads")?.unwrap_or_else(|| vec![0; 4]);
        pads.padding = Padding::Valid;
        pads.explicit = Some(vec![(p[0], p[2]), (p[1], p[3])]);
    } else if max && pads.explicit.is_some() && ctx.is_nonnegative(x) {
        // Zero padding cannot raise the maximum of non-negative values.
    } else if max && pads.explicit.is_some() && matches!(ctx.dtype(x), DType::F32 | DType::I8) {
        // Pad with the lowest value, which never wins a maximum (for int8,
        // -128 at the input's quantization parameters).
        let p = pads.explicit.take().unwrap_or_default();
        let lowest = if ctx.dtype(x) == DType::I8 {
            let t = ctx.g.constant(&format!("{}/lowest", node.name()), DType::I8, Shape::scalar(), ConstData::from_slice(&[i8::MIN]));
            if let Some(q) = ctx.g.tensor(x).quantization.clone() {
                ctx.g.set_quantization(t, q);
            }
            t
        } else {
            ctx.g.constant_f32(&format!("{}/lowest", node.name()), Shape::scalar(), &[f32::MIN])
        };
        let h = ctx.to_channels_last(x)?;
        let mut pp = vec![(0, 0)];
        pp.extend(p.iter().map(|(a, b)| (*a as i32, *b as i32)));
        pp.push((0, 0));
        let padded = ctx.g.pad_v2(h, &pp, lowest)?;
        let o = Pool2dOptions::new(Padding::Valid, k[0] as i32, k[1] as i32, strides[0] as i32, strides[1] as i32);
        let y = ctx.g.max_pool2d(padded, o)?;
        let out = ctx.to_channels_first(y)?;
        ctx.set_output(node, 0, out);
        return Ok(());
    } else if pads.explicit.is_some() {
        return Err(LowerError::attr(format!(
            "{} padding {:?} is neither SAME nor VALID in TFLite terms",
            node.op_type(),
            pads.explicit
        )));
    }
    let mut h = ctx.to_channels_last(x)?;
    if let Some(p) = &pads.explicit {
        h = pad_nhwc(ctx, h, p)?;
    }
    let o = Pool2dOptions::new(pads.padding, k[0] as i32, k[1] as i32, strides[0] as i32, strides[1] as i32);
    let y = if max { ctx.g.max_pool2d(h, o)? } else { ctx.g.average_pool2d(h, o)? };
    let out = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, out);
    Ok(())
}

/// Lowers `MaxPool`.
pub fn lower_maxpool(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower_pool(ctx, node, true)
}

/// Lowers `AveragePool`.
pub fn lower_avgpool(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower_pool(ctx, node, false)
}

/// Lowers `GlobalAveragePool` to MEAN over the spatial axes (NCHW axes 2..).
pub fn lower_global_avgpool(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let r = ctx.shape(x).rank() as i32;
    if r < 3 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("rank {r}")));
    }
    let axes: Vec<i32> = (2..r).collect();
    let y = ctx.g.mean(x, &axes, true)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `GlobalMaxPool` to MAX_POOL_2D over the whole (static) plane.
pub fn lower_global_maxpool(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    if ctx.shape(x).rank() != 4 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, "GlobalMaxPool on rank other than 4"));
    }
    let (h, w) = match (ctx.shape(x).dims()[2].fixed(), ctx.shape(x).dims()[3].fixed()) {
        (Some(h), Some(w)) => (h as i32, w as i32),
        _ => return Err(LowerError::new(ReasonCode::UnsupportedShape, "GlobalMaxPool needs static spatial dims")),
    };
    let t = ctx.to_channels_last(x)?;
    let y = ctx.g.max_pool2d(t, Pool2dOptions::new(Padding::Valid, h, w, 1, 1))?;
    let out = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, out);
    Ok(())
}
