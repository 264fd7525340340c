//! `CausalConvWithState` (the short convolution of state-space and linear
//! attention models): a depthwise 1-D convolution over the input left-padded
//! with the past state (or zeros), an optional SiLU, and the last `k - 1`
//! padded positions as the present state.
//!
//! The convolution runs as DEPTHWISE_CONV_2D on `[B, 1, L + k - 1, C]`
//! (TRANSPOSE and EXPAND_DIMS around it), VALID padding.

use super::{LowerCtx, LowerError, Node};
use crate::model::{ConstData, DType, DepthwiseConv2dOptions, Padding, Shape, StridedSliceOptions};
use crate::onnx::error::ReasonCode;

/// Lowers `CausalConvWithState`.
pub fn lower_causal_conv_with_state(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let act = node.attr_str("activation")?.unwrap_or_else(|| "none".into());
    let silu = match act.as_str() {
        "none" => false,
        "silu" | "swish" => true,
        other => return Err(LowerError::attr(format!("activation {other:?}"))),
    };
    let x = ctx.input(node, 0)?;
    if ctx.dtype(x) != DType::F32 {
        return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("CausalConvWithState on {}", ctx.dtype(x))));
    }
    let xs = ctx.shape(x).clone();
    if xs.rank() != 3 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("input of rank {} (must be [batch, channels, length])", xs.rank())));
    }
    let c = xs.dims()[1].fixed().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "a dynamic channel count"))? as usize;
    let name = node.name();
    // The filter [1, 1, k, C] from the weight [C, 1, k].
    let (filter, k) = match ctx.const_input(node, 1) {
        Some(w) => {
            let v = w.to_f32().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, format!("weight of type {}", w.dtype)))?;
            let [wc, 1, k] = w.dims[..] else { return Err(LowerError::invalid(format!("weight of shape {:?} (must be [C, 1, k])", w.dims))) };
            if wc != c || k == 0 {
                return Err(LowerError::invalid(format!("weight of shape {:?} for {c} channels", w.dims)));
            }
            let mut f = vec![0f32; k * c];
            for ch in 0..c {
                for j in 0..k {
                    f[j * c + ch] = v[ch * k + j];
                }
            }
            (ctx.g.constant(&format!("{name}/filter"), DType::F32, Shape::new([1, 1, k as u32, c as u32]), ConstData::from_slice(&f)), k)
        }
        None => {
            let w = ctx.input(node, 1)?;
            let ws = ctx.shape(w).clone();
            let k = match ws.as_fixed().as_deref() {
                Some([wc, 1, k]) if *wc as usize == c && *k > 0 => *k as usize,
                _ => return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("weight of shape {ws} for {c} channels"))),
            };
            let t = ctx.g.transpose(w, &[1, 2, 0])?;
            (ctx.g.reshape(t, &[1, 1, k as i32, c as i32])?, k)
        }
    };
    let bias = if node.has_input(2) { Some(ctx.input(node, 2)?) } else { None };
    // Left padding: the past state, or k - 1 zeros.
    let padded = if node.has_input(3) {
        let past = ctx.input(node, 3)?;
        ctx.g.concatenation(&[past, x], 2)?
    } else if k > 1 {
        ctx.g.pad(x, &[(0, 0), (0, 0), (k as i32 - 1, 0)])?
    } else {
        x
    };
    let nlc = ctx.g.transpose(padded, &[0, 2, 1])?;
    let one = ctx.g.constant_i32(&format!("{name}/axis1"), Shape::new([1]), &[1]);
    let nhwc = ctx.g.expand_dims(nlc, one)?;
    let o = DepthwiseConv2dOptions { padding: Padding::Valid, stride_w: 1, stride_h: 1, depth_multiplier: 1, dilation_w: 1, dilation_h: 1, ..Default::default() };
    let y = ctx.g.depthwise_conv2d(nhwc, filter, bias, o)?;
    let y = ctx.g.squeeze(y, &[1])?;
    let mut y = ctx.g.transpose(y, &[0, 2, 1])?;
    if silu {
        let s = ctx.g.logistic(y)?;
        y = ctx.g.mul(y, s)?;
    }
    ctx.set_output(node, 0, y);
    if node.inner.outputs.get(1).is_some_and(|o| !o.is_empty()) {
        // The last k - 1 positions of the padded input.
        let present = if k > 1 {
            let o = StridedSliceOptions { begin_mask: 0b011, end_mask: 0b111, ..Default::default() };
            ctx.g.strided_slice(padded, &[0, 0, -(k as i32 - 1)], &[0, 0, 0], &[1, 1, 1], o)?
        } else {
            let n = ctx.shape(padded).dims()[2].fixed().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "an empty present state of a dynamic length"))? as i32;
            let o = StridedSliceOptions { begin_mask: 0b011, end_mask: 0b011, ..Default::default() };
            ctx.g.strided_slice(padded, &[0, 0, n], &[0, 0, n], &[1, 1, 1], o)?
        };
        ctx.set_output(node, 1, present);
    }
    Ok(())
}
