//! ConvTranspose on 1-D (NCW) and 2-D (NCHW) inputs: TRANSPOSE_CONV
//! between channels-last transposes (a 1-D input gets a unit height, see
//! [`super::conv::Planar`]), sliced when TFLite's padding is not ONNX's.

use super::conv::{from_planar, ints_or, lift, lift_pads, split_rows, to_planar};
use super::fold::transpose_data;
use super::operand::{dtype_err, shape_err, static_dim, typed_input};
use super::symbolic::SDim;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::ir::TensorData;

/// The weights of a ConvTranspose: a float32 constant, or a run-time
/// float32 tensor with its static `[C_in, C_out, kH, kW]` shape (`[C_in,
/// C_out, 1, kW]` for 1-D weights, which are reshaped).
enum Weights {
    Const(TensorData),
    Runtime(TensorId, [usize; 4]),
}

fn conv_transpose_weights(ctx: &mut LowerCtx<'_>, node: &Node<'_>, rank: usize) -> Result<Weights, LowerError> {
    if let Some(w) = ctx.const_ref(node, 1)
        && w.dims.len() != rank {
            return Err(LowerError::invalid(format!("weights of shape {:?} for a rank-{rank} input", w.dims)));
        }
    if let Some(w) = ctx.const_input(node, 1) {
        let dims = match w.dims.as_slice() {
            [a, b, c, d] => vec![*a, *b, *c, *d],
            [a, b, d] => vec![*a, *b, 1, *d],
            _ => return Err(LowerError::invalid(format!("weights of shape {:?}", w.dims))),
        };
        return Ok(Weights::Const(TensorData::from_f32(dims, &w.to_f32().ok_or_else(|| dtype_err("non-numeric weights"))?)));
    }
    let t = ctx.input(node, 1)?;
    let s = ctx.shape(t).clone();
    if ctx.dtype(t) != DType::F32 {
        return Err(dtype_err(format!("ConvTranspose weights of type {}", ctx.dtype(t))));
    }
    if s.rank() != rank {
        return Err(LowerError::invalid(format!("weights of shape {s} for a rank-{rank} input")));
    }
    let dims: Option<Vec<usize>> = s.dims().iter().map(|d| d.fixed().map(|v| v as usize)).collect();
    match dims.as_deref() {
        Some(&[a, b, c, d]) => Ok(Weights::Runtime(t, [a, b, c, d])),
        Some(&[a, b, d]) => {
            let r = ctx.g.reshape(t, &[a as i32, b as i32, 1, d as i32])?;
            Ok(Weights::Runtime(r, [a, b, 1, d]))
        }
        Some(_) => Err(LowerError::invalid(format!("weights of shape {s}"))),
        None => Err(shape_err(format!("run-time ConvTranspose weights of shape {s} (their shape must be static)"))),
    }
}

/// Lowers 1-D and 2-D `ConvTranspose` to TRANSPOSE_CONV between
/// transposes. TFLite derives its padding from the output size; when that
/// is not ONNX's leading padding, the full VALID result is computed and the
/// ONNX window sliced out of it. Dilated constant weights get zeros
/// between their taps; groups (constant weights) are one TRANSPOSE_CONV
/// each on a channel split, concatenated.
pub fn lower_conv_transpose(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[DType::F32])?;
    let xs = ctx.shape(x).clone();
    if xs.rank() == 5 {
        return super::conv3d::lower_conv_transpose3d(ctx, node);
    }
    if xs.rank() != 4 && xs.rank() != 3 {
        return Err(shape_err(format!("ConvTranspose on rank {} (1-D, 2-D and 3-D only)", xs.rank())));
    }
    let one_d = xs.rank() == 3;
    let nd = xs.rank() - 2;
    let mut weights = conv_transpose_weights(ctx, node, xs.rank())?;
    let wdims = match &weights {
        Weights::Const(w) => w.dims.clone(),
        Weights::Runtime(_, d) => d.to_vec(),
    };
    let group = node.int_or("group", 1)?;
    let (cin, cout_g) = (wdims[0], wdims[1]);
    if group <= 0 || cin % group as usize != 0 || cin == 0 || cout_g == 0 {
        return Err(LowerError::invalid(format!("group {group} with weights {wdims:?}")));
    }
    let group = group as usize;
    let cout = cout_g * group;
    if xs.dim(1).and_then(|d| d.fixed()).is_some_and(|c| c as usize != cin) {
        return Err(LowerError::invalid(format!("input {xs} does not match weights {wdims:?}")));
    }
    if let Some(ks) = node.attr_ints("kernel_shape")?
        && lift(ks.clone(), one_d, 1) != [wdims[2] as i64, wdims[3] as i64] {
            return Err(LowerError::attr(format!("kernel_shape {ks:?} differs from weights {wdims:?}")));
        }
    let dil = lift(ints_or(node, "dilations", nd, 1)?, one_d, 1);
    if dil.iter().any(|d| *d != 1) {
        let d = [dil[0] as usize, dil[1] as usize];
        weights = match weights {
            Weights::Const(w) => Weights::Const(dilate_kernel(&w, d)?),
            Weights::Runtime(t, dims) => dilate_runtime_kernel(ctx, t, dims, d)?,
        };
    }
    let wdims = match &weights {
        Weights::Const(w) => w.dims.clone(),
        Weights::Runtime(_, d) => d.to_vec(),
    };
    let (kh, kw) = (wdims[2] as i64, wdims[3] as i64);
    let strides = node.attr_ints("strides")?.unwrap_or_else(|| vec![1; nd]);
    if strides.len() != nd {
        return Err(LowerError::attr(format!("strides {strides:?}")));
    }
    let strides = lift(strides, one_d, 1);
    if strides.iter().any(|s| *s <= 0 || *s > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("strides {strides:?}")));
    }
    let out_pad = node.attr_ints("output_padding")?.unwrap_or_else(|| vec![0; nd]);
    if out_pad.len() != nd {
        return Err(LowerError::attr(format!("output_padding {out_pad:?}")));
    }
    let out_pad = lift(out_pad, one_d, 0);
    if out_pad.iter().zip(&strides).any(|(p, s)| *p < 0 || p >= s) {
        return Err(LowerError::attr(format!("output_padding {out_pad:?} for strides {strides:?}")));
    }
    // A dynamic batch size is read at run time into the output shape.
    let batch = xs.dim(0).and_then(|d| d.fixed()).map(i64::from);
    let inp = if one_d { [1, static_dim(&xs, 2, "the input width")?] } else { [static_dim(&xs, 2, "the input height")?, static_dim(&xs, 3, "the input width")?] };
    let k = [kh, kw];
    let full: Vec<i64> = (0..2).map(|i| strides[i] * (inp[i] - 1) + out_pad[i] + k[i]).collect();
    let auto_pad = node.attr_str("auto_pad")?.unwrap_or_else(|| "NOTSET".into());
    // (begin, end) pads per spatial dimension. Where the ONNX spec, its
    // reference implementation and onnxruntime distribute padding
    // differently (odd SAME totals, an output_shape smaller than the full
    // output), the node is rejected rather than converted one way.
    let pads: Vec<(i64, i64)> = if let Some(os) = node.attr_ints("output_shape")? {
        let os = if os.len() == nd {
            os
        } else if os.len() == nd + 2 {
            os[2..].to_vec()
        } else {
            return Err(LowerError::attr(format!("output_shape {os:?}")));
        };
        let os = lift(os, one_d, 1);
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
                let p = lift_pads(node.attr_ints("pads")?, one_d).unwrap_or_else(|| vec![0; 4]);
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
    let biases: Vec<Option<TensorId>> = match bias {
        Some(b) if group > 1 => split_rows(ctx, b, group)?.into_iter().map(Some).collect(),
        b => vec![b; group],
    };
    let p = to_planar(ctx, x)?;
    let cin_g = cin / group;
    let hs = if group > 1 { ctx.g.split_v(p.nhwc, &vec![cin_g as i32; group], 3)? } else { vec![p.nhwc] };
    let runtime_parts = match &weights {
        Weights::Runtime(t, _) if group > 1 => split_rows(ctx, *t, group)?,
        Weights::Runtime(t, _) => vec![*t],
        Weights::Const(_) => Vec::new(),
    };
    let o = TransposeConvOptions::new(padding, strides[0] as i32, strides[1] as i32);
    let sizes = [to32(size[0])?, to32(size[1])?, to32(cout_g as i64)?];
    let runtime_shape = match batch {
        Some(_) => None,
        None => {
            let b = ctx.symbolic_shape(p.nhwc)[0].clone();
            let dims = [b, SDim::Known(size[0]), SDim::Known(size[1]), SDim::Known(cout_g as i64)];
            Some(ctx.shape_tensor(&format!("{name}/output_shape"), &dims, false)?)
        }
    };
    let mut ys = Vec::with_capacity(group);
    for (g, h) in hs.into_iter().enumerate() {
        // [C_in/g, C_out/g, kH, kW] → [C_out/g, kH, kW, C_in/g]
        let ft = match &weights {
            Weights::Const(w) => {
                let part = w.bytes.len() / group;
                let wg = TensorData { dtype: DType::F32, dims: vec![cin_g, cout_g, kh as usize, kw as usize], bytes: w.bytes[g * part..(g + 1) * part].to_vec() };
                let f = transpose_data(&wg, &[1, 2, 3, 0])?;
                ctx.g.constant(&format!("{name}/weights{g}"), DType::F32, [cout_g as u32, kh as u32, kw as u32, cin_g as u32], ConstData::from_bytes(f.bytes))
            }
            Weights::Runtime(..) => ctx.transpose(runtime_parts[g], &[1, 2, 3, 0])?,
        };
        let mut y = match (batch, runtime_shape) {
            (Some(b), _) => ctx.g.transpose_conv(h, ft, biases[g], [to32(b)?, sizes[0], sizes[1], sizes[2]], o)?,
            (None, Some(os)) => {
                let y = ctx.g.apply(Op::TransposeConv(o), &[Some(os), Some(ft), Some(h), biases[g]])?;
                // Only the batch size is unknown here.
                ctx.g.tensor_mut(y).shape = Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(sizes[0] as u32), Dim::Fixed(sizes[1] as u32), Dim::Fixed(sizes[2] as u32)]);
                y
            }
            (None, None) => return Err(shape_err("no output shape for a dynamic batch")),
        };
        if crop {
            y = ctx.g.slice(y, &[0, to32(pads[0].0)?, to32(pads[1].0)?, 0], &[-1, to32(out[0])?, to32(out[1])?, -1])?;
        }
        ys.push(y);
    }
    let y = if ys.len() == 1 { ys[0] } else { ctx.g.concatenation(&ys, 3)? };
    let out = from_planar(ctx, y, p.one_d)?;
    ctx.set_output(node, 0, out);
    Ok(())
}

/// Run-time `[C_in, C_out, kH, kW]` weights dilated by `d` as in
/// [`dilate_kernel`]: per spatial dim, RESHAPE to a trailing unit axis,
/// PAD it to `d`, RESHAPE back and SLICE off the trailing zeros.
fn dilate_runtime_kernel(ctx: &mut LowerCtx<'_>, t: TensorId, [a, b, kh, kw]: [usize; 4], d: [usize; 2]) -> Result<Weights, LowerError> {
    let (eh, ew) = ((kh - 1) * d[0] + 1, (kw - 1) * d[1] + 1);
    let i = |v: usize| i32::try_from(v).map_err(|_| shape_err("dilated kernel too large"));
    let (a32, b32, kh32, kw32) = (i(a)?, i(b)?, i(kh)?, i(kw)?);
    let mut w = t;
    if d[1] > 1 {
        w = ctx.g.reshape(w, &[a32, b32, kh32, kw32, 1])?;
        w = ctx.g.pad(w, &[(0, 0), (0, 0), (0, 0), (0, 0), (0, i(d[1] - 1)?)])?;
        w = ctx.g.reshape(w, &[a32, b32, kh32, i(kw * d[1])?])?;
        w = ctx.g.slice(w, &[0, 0, 0, 0], &[a32, b32, kh32, i(ew)?])?;
    }
    if d[0] > 1 {
        w = ctx.g.reshape(w, &[a32, b32, kh32, 1, i(ew)?])?;
        w = ctx.g.pad(w, &[(0, 0), (0, 0), (0, 0), (0, i(d[0] - 1)?), (0, 0)])?;
        w = ctx.g.reshape(w, &[a32, b32, i(kh * d[0])?, i(ew)?])?;
        w = ctx.g.slice(w, &[0, 0, 0, 0], &[a32, b32, i(eh)?, i(ew)?])?;
    }
    Ok(Weights::Runtime(w, [a, b, eh, ew]))
}

/// `[C_in, C_out, kH, kW]` float32 weights with `d - 1` zeros between
/// their taps along H and W: the equivalent undilated kernel.
fn dilate_kernel(w: &TensorData, d: [usize; 2]) -> Result<TensorData, LowerError> {
    let v = w.to_f32().ok_or_else(|| dtype_err("non-numeric weights"))?;
    let [a, b, kh, kw] = [w.dims[0], w.dims[1], w.dims[2], w.dims[3]];
    let (eh, ew) = ((kh - 1) * d[0] + 1, (kw - 1) * d[1] + 1);
    if (a * b).checked_mul(eh).and_then(|n| n.checked_mul(ew)).is_none_or(|n| n > 1 << 28) {
        return Err(shape_err(format!("dilated kernel of {eh}x{ew} taps is too large")));
    }
    let mut out = vec![0f32; a * b * eh * ew];
    for ab in 0..a * b {
        for i in 0..kh {
            for j in 0..kw {
                out[(ab * eh + i * d[0]) * ew + j * d[1]] = v[(ab * kh + i) * kw + j];
            }
        }
    }
    Ok(TensorData::from_f32(vec![a, b, eh, ew], &out))
}
