//! Conv and ConvTranspose on 3-D inputs (NCDHW), between NDHWC
//! transposes: CONV_3D (explicit PAD where the ONNX padding is not SAME or
//! VALID; groups split into one CONV_3D each, concatenated) and
//! CONV_3D_TRANSPOSE (VALID, the ONNX window sliced out of the full
//! result). Weights and bias are constants or float32 run-time tensors
//! of static shape.

use super::conv::{ints_or, split_rows, window_pads};
use super::fold::transpose_data;
use super::operand::{dtype_err, shape_err, static_dim, typed_input};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::ir::TensorData;

/// The float32 weights (input 1) of a 3-D op: constant, or a run-time
/// tensor of static shape.
enum Weights5 {
    Const(TensorData),
    Runtime(TensorId),
}

/// The weights and their 5 dims.
fn weights5(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(Weights5, Vec<usize>), LowerError> {
    let (w, dims) = match ctx.const_ref(node, 1) {
        Some(w) => {
            let v = w.to_f32().ok_or_else(|| dtype_err(format!("weights of type {}", w.dtype)))?;
            (Weights5::Const(TensorData::from_f32(w.dims.clone(), &v)), w.dims.clone())
        }
        None => {
            let t = ctx.input(node, 1)?;
            if ctx.dtype(t) != DType::F32 {
                return Err(dtype_err(format!("weights of type {}", ctx.dtype(t))));
            }
            let d = ctx.shape(t).as_fixed().ok_or_else(|| shape_err("run-time weights of a dynamic shape"))?;
            (Weights5::Runtime(t), d.iter().map(|v| *v as usize).collect())
        }
    };
    if dims.len() != 5 || dims.contains(&0) {
        return Err(LowerError::invalid(format!("weights of shape {dims:?} for a 3-D {}", node.op_type())));
    }
    Ok((w, dims))
}

/// The weights of group `g` of `groups` (rows along the first dim),
/// transposed by `perm` into a constant or by SPLIT_V and TRANSPOSE ops.
fn filter(ctx: &mut LowerCtx<'_>, w: &Weights5, g: usize, groups: usize, perm: &[usize], name: &str) -> Result<TensorId, LowerError> {
    match w {
        Weights5::Const(d) => {
            let f = transpose_data(&rows(d, g, groups), perm)?;
            Ok(ctx.g.constant(name, DType::F32, Shape::new(f.dims.iter().map(|d| *d as u32)), ConstData::from_bytes(f.bytes)))
        }
        Weights5::Runtime(t) => {
            let part = if groups > 1 { split_rows(ctx, *t, groups)?[g] } else { *t };
            let p: Vec<i32> = perm.iter().map(|v| *v as i32).collect();
            ctx.transpose(part, &p)
        }
    }
}

/// The bias (input 2) of `m` values, if any: a constant or a float32
/// run-time `[m]` tensor.
fn bias(ctx: &mut LowerCtx<'_>, node: &Node<'_>, m: usize) -> Result<Option<TensorId>, LowerError> {
    if !node.has_input(2) {
        return Ok(None);
    }
    if let Some(d) = ctx.const_input(node, 2) {
        let b = d.to_f32().ok_or_else(|| dtype_err("non-numeric bias"))?;
        if b.len() != m {
            return Err(LowerError::invalid(format!("bias of {} values for {m} output channels", b.len())));
        }
        return Ok(Some(ctx.g.constant_f32(&format!("{}/bias", node.name()), [m as u32], &b)));
    }
    let t = ctx.input(node, 2)?;
    if ctx.dtype(t) != DType::F32 || ctx.shape(t).as_fixed().is_none_or(|d| d != [m as u32]) {
        return Err(LowerError::invalid(format!("bias of type {} and shape {} for {m} output channels", ctx.dtype(t), ctx.shape(t))));
    }
    Ok(Some(t))
}

/// Rows `[g·n/groups, (g+1)·n/groups)` of `w` along its first dimension.
fn rows(w: &TensorData, g: usize, groups: usize) -> TensorData {
    let part = w.bytes.len() / groups;
    let mut dims = w.dims.clone();
    dims[0] /= groups;
    TensorData { dtype: w.dtype, dims, bytes: w.bytes[g * part..(g + 1) * part].to_vec() }
}

/// Lowers 3-D `Conv` to CONV_3D.
pub fn lower_conv3d(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let xs = ctx.shape(x).clone();
    let (w, wd) = weights5(ctx, node)?;
    let (m, cg) = (wd[0], wd[1]);
    let k: Vec<i64> = wd[2..].iter().map(|v| *v as i64).collect();
    let group = node.int_or("group", 1)?;
    let c = static_dim(&xs, 1, "Conv input channels")? as usize;
    if group <= 0 || usize::try_from(group).ok().and_then(|g| cg.checked_mul(g)) != Some(c) || m % group as usize != 0 {
        return Err(LowerError::invalid(format!("group {group} with input channels {c} and weights {wd:?}")));
    }
    let group = group as usize;
    if let Some(ks) = node.attr_ints("kernel_shape")?
        && ks != k {
            return Err(LowerError::attr(format!("kernel_shape {ks:?} differs from weights {wd:?}")));
        }
    let strides = ints_or(node, "strides", 3, 1)?;
    let dil = ints_or(node, "dilations", 3, 1)?;
    let spatial = xs.dims()[2..].to_vec();
    let pads = window_pads(node, node.attr_ints("pads")?, &spatial, &k, &strides, &dil, &[0, 0, 0])?;
    let name = node.name();
    let b = match bias(ctx, node, m)? {
        Some(b) => b,
        None => ctx.g.constant_f32(&format!("{name}/bias"), [m as u32], &vec![0.0; m]),
    };
    let bs = if group > 1 { split_rows(ctx, b, group)? } else { vec![b] };
    let mut h = ctx.to_channels_last(x)?;
    if let Some(p) = &pads.explicit {
        let mut pp = vec![(0, 0)];
        pp.extend(p.iter().map(|(a, b)| (*a as i32, *b as i32)));
        pp.push((0, 0));
        h = ctx.g.pad(h, &pp)?;
    }
    let o = Conv3dOptions {
        padding: pads.padding,
        stride_d: strides[0] as i32,
        stride_h: strides[1] as i32,
        stride_w: strides[2] as i32,
        dilation_d_factor: dil[0] as i32,
        dilation_h_factor: dil[1] as i32,
        dilation_w_factor: dil[2] as i32,
        ..Default::default()
    };
    let hs = if group > 1 { ctx.g.split_v(h, &vec![cg as i32; group], 4)? } else { vec![h] };
    let mut ys = Vec::with_capacity(group);
    for (g, hg) in hs.into_iter().enumerate() {
        // [M/g, C/g, kD, kH, kW] → [kD, kH, kW, C/g, M/g]
        let ft = filter(ctx, &w, g, group, &[2, 3, 4, 1, 0], &format!("{name}/filter{g}"))?;
        ys.push(ctx.g.conv3d(&[Some(hg), Some(ft), Some(bs[g])], o)?);
    }
    let y = if ys.len() == 1 { ys[0] } else { ctx.g.concatenation(&ys, 4)? };
    let out = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, out);
    Ok(())
}

/// Lowers 3-D `ConvTranspose` (group 1, dilations 1, explicit pads or
/// VALID, output_padding) to CONV_3D_TRANSPOSE with VALID padding, the
/// ONNX window sliced out of the full result.
pub fn lower_conv_transpose3d(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let xs = ctx.shape(x).clone();
    let (w, wd) = weights5(ctx, node)?;
    let (cin, cout) = (wd[0], wd[1]);
    let k: Vec<i64> = wd[2..].iter().map(|v| *v as i64).collect();
    if node.int_or("group", 1)? != 1 {
        return Err(LowerError::attr("3-D ConvTranspose with groups"));
    }
    if xs.dim(1).and_then(|d| d.fixed()).is_some_and(|c| c as usize != cin) {
        return Err(LowerError::invalid(format!("input {xs} does not match weights {wd:?}")));
    }
    if let Some(ks) = node.attr_ints("kernel_shape")?
        && ks != k {
            return Err(LowerError::attr(format!("kernel_shape {ks:?} differs from weights {wd:?}")));
        }
    let strides = ints_or(node, "strides", 3, 1)?;
    if ints_or(node, "dilations", 3, 1)? != [1, 1, 1] {
        return Err(LowerError::attr("3-D ConvTranspose with dilations"));
    }
    if node.has_attr("output_shape") || !matches!(node.attr_str("auto_pad")?.as_deref(), None | Some("NOTSET" | "VALID" | "")) {
        return Err(LowerError::attr("3-D ConvTranspose with output_shape or SAME padding"));
    }
    let out_pad = node.attr_ints("output_padding")?.unwrap_or_else(|| vec![0; 3]);
    if out_pad.len() != 3 || out_pad.iter().zip(&strides).any(|(p, s)| *p < 0 || p >= s) {
        return Err(LowerError::attr(format!("output_padding {out_pad:?} for strides {strides:?}")));
    }
    let p = if node.attr_str("auto_pad")?.as_deref() == Some("VALID") { vec![0; 6] } else { node.attr_ints("pads")?.unwrap_or_else(|| vec![0; 6]) };
    if p.len() != 6 || p.iter().any(|v| *v < 0 || *v > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("pads {p:?}")));
    }
    let batch = static_dim(&xs, 0, "the batch size")?;
    let mut inp = Vec::with_capacity(3);
    for i in 0..3 {
        inp.push(static_dim(&xs, i + 2, "the input's spatial size")?);
    }
    let to32 = |v: i64| i32::try_from(v).map_err(|_| shape_err("output size overflows int32"));
    // The VALID output TFLite computes, with output_padding's bias-only
    // rows, and the ONNX window inside it.
    let full: Vec<i64> = (0..3).map(|i| strides[i] * (inp[i] - 1) + k[i] + out_pad[i]).collect();
    let out: Vec<i64> = (0..3).map(|i| full[i] - p[i] - p[i + 3]).collect();
    if out.iter().any(|o| *o <= 0) {
        return Err(LowerError::invalid(format!("empty output {out:?}")));
    }
    let name = node.name();
    // [C_in, C_out, kD, kH, kW] → [kD, kH, kW, C_out, C_in]
    let ft = filter(ctx, &w, 0, 1, &[2, 3, 4, 1, 0], &format!("{name}/filter"))?;
    let bias = bias(ctx, node, cout)?;
    let shape = [to32(batch)?, to32(full[0])?, to32(full[1])?, to32(full[2])?, to32(cout as i64)?];
    let st = ctx.g.constant_i32(&format!("{name}/output_shape"), [5u32], &shape);
    let h = ctx.to_channels_last(x)?;
    let o = Conv3dOptions { padding: Padding::Valid, stride_d: strides[0] as i32, stride_h: strides[1] as i32, stride_w: strides[2] as i32, ..Default::default() };
    let mut y = ctx.g.conv3d_transpose(&[Some(st), Some(ft), Some(h), bias], o)?;
    if p.iter().any(|v| *v != 0) {
        y = ctx.g.slice(y, &[0, to32(p[0])?, to32(p[1])?, to32(p[2])?, 0], &[-1, to32(out[0])?, to32(out[1])?, to32(out[2])?, -1])?;
    }
    let out = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, out);
    Ok(())
}
