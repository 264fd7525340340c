//! Resize (opsets 10+) and Upsample (opsets 7–9) on 4-D NCHW inputs:
//! RESIZE_BILINEAR or RESIZE_NEAREST_NEIGHBOR between transposes, in the
//! coordinate modes TFLite's resizes compute exactly. Heights and widths
//! known only at run time give a size computed at run time.

use super::operand::{dtype_err, shape_err, typed_input};
use super::symbolic::{show, DimOp, SDim};
use super::{norm_axis, LowerCtx, LowerError, Node, Val};
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// How one output coordinate maps to the input, in TFLite's terms.
fn resize_options(linear: bool, transform: &str, nearest_mode: &str, input: &[SDim; 2], out: &[SDim; 2]) -> Result<ResizeOptions, LowerError> {
    let o = ResizeOptions::default();
    let bad = || LowerError::attr(format!("{} with coordinate_transformation_mode {transform}{}", if linear { "linear" } else { "nearest" }, if linear { String::new() } else { format!(" and nearest_mode {nearest_mode}") }));
    // pytorch_half_pixel differs from half_pixel only for an output size 1.
    let pytorch_ok = out.iter().zip(input).all(|(o, i)| o.known().map_or_else(|| upscale_factor(i, o).is_some_and(|k| k >= 2), |o| o > 1));
    if linear {
        return match transform {
            "asymmetric" => Ok(o),
            "align_corners" => Ok(o.with_align_corners(true)),
            "half_pixel" => Ok(o.with_half_pixel_centers(true)),
            "pytorch_half_pixel" if pytorch_ok => Ok(o.with_half_pixel_centers(true)),
            _ => Err(bad()),
        };
    }
    // Upsampling by whole factors, half-pixel sampling with either rounding
    // picks input pixel floor(x / s), as asymmetric + floor does: the
    // source coordinate q + (r + 0.5) / s - 0.5 is never a half.
    let whole_upscale = (0..2).all(|i| upscale_factor(&input[i], &out[i]).is_some());
    let half_pixel = transform == "half_pixel" || (transform == "pytorch_half_pixel" && pytorch_ok);
    if whole_upscale && half_pixel && matches!(nearest_mode, "round_prefer_floor" | "round_prefer_ceil") {
        return Ok(o);
    }
    match (transform, nearest_mode) {
        ("asymmetric", "floor") => Ok(o),
        ("align_corners", "round_prefer_ceil") => Ok(o.with_align_corners(true)),
        ("half_pixel", "round_prefer_ceil") | ("tf_half_pixel_for_nn", "floor") => Ok(o.with_half_pixel_centers(true)),
        ("pytorch_half_pixel", "round_prefer_ceil") if pytorch_ok => Ok(o.with_half_pixel_centers(true)),
        _ => Err(bad()),
    }
}

/// The whole factor `k ≥ 1` with `out = input * k`, when it is certain.
fn upscale_factor(input: &SDim, out: &SDim) -> Option<i64> {
    match (input.known(), out.known()) {
        (Some(i), Some(o)) => (i > 0 && o % i == 0).then(|| o / i),
        _ => (1..=64).find(|k| SDim::bin(DimOp::Mul, input.clone(), SDim::Known(*k)).ok().as_ref() == Some(out)),
    }
}

/// The output size of a resize by `scale`, when ONNX's coordinate mapping
/// (through `scale`) equals TFLite's (through `in / out`): a whole output
/// size for a known input, a whole factor for a size known at run time.
fn scaled_size(input: &SDim, scale: f32) -> Result<SDim, LowerError> {
    if let Some(input) = input.known() {
        let exact = input as f64 * f64::from(scale);
        let out = exact.floor();
        if !(scale > 0.0) || out != exact || out < 1.0 || out > f64::from(i32::MAX) {
            return Err(LowerError::attr(format!("scale {scale} on size {input} (only scales giving a whole output size)")));
        }
        return Ok(SDim::Known(out as i64));
    }
    if scale >= 1.0 && scale.fract() == 0.0 && scale <= 4096.0 {
        return SDim::bin(DimOp::Mul, input.clone(), SDim::Known(scale as i64));
    }
    Err(shape_err(format!("scale {scale} on the run-time size {input} (only whole upscale factors when the size is dynamic)")))
}

/// Emits RESIZE_BILINEAR or RESIZE_NEAREST_NEIGHBOR on the spatial dims
/// of an NCHW tensor.
fn emit_resize(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, out: &[SDim; 2], linear: bool, o: ResizeOptions) -> Result<(), LowerError> {
    let h = ctx.to_channels_last(x)?;
    let op = if linear { Op::ResizeBilinear(o) } else { Op::ResizeNearestNeighbor(o) };
    // The size: a constant, or computed at run time from the input's.
    let size = ctx.shape_tensor(&format!("{}/size", node.name()), out, false)?;
    let y = ctx.g.apply(op, &[Some(h), Some(size)])?;
    // Inference sees a run-time size: give H and W the sizes known here.
    let mut known = ctx.symbolic_shape(y);
    known[1] = out[0].clone();
    known[2] = out[1].clone();
    super::generate::refine(ctx, y, &known);
    let y = ctx.to_channels_first(y)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The 4-D float input of a resize and its (possibly symbolic) height and
/// width.
fn resize_input(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(TensorId, Vec<SDim>, [SDim; 2]), LowerError> {
    // A quantized int8 input (from a QDQ group) resizes in int8.
    let x = match ctx.input(node, 0) {
        Ok(t) if ctx.dtype(t) == DType::I8 && ctx.g.tensor(t).quantization.as_ref().is_some_and(|q| q.scale.len() == 1) => t,
        _ => typed_input(ctx, node, &[DType::F32])?,
    };
    let xs = ctx.symbolic_shape(x);
    if xs.len() != 4 {
        return Err(shape_err(format!("{} on rank {} (only 4-D NCHW)", node.op_type(), xs.len())));
    }
    let hw = [xs[2].clone(), xs[3].clone()];
    Ok((x, xs, hw))
}

/// Checks that a 4-entry scale vector leaves N and C alone.
fn spatial_scales(scales: &[f32], what: &str) -> Result<[f32; 2], LowerError> {
    match scales {
        [n, c, h, w] if *n == 1.0 && *c == 1.0 => Ok([*h, *w]),
        [_, _, _, _] => Err(shape_err(format!("{what} {scales:?} resize the batch or channels"))),
        _ => Err(LowerError::invalid(format!("{what} {scales:?} for a 4-D input"))),
    }
}

/// Lowers `Resize` (opsets 10–19) on 4-D NCHW inputs, resizing H and W,
/// with constant scales or sizes: `nearest` and `linear` in the coordinate
/// modes TFLite's resizes compute exactly.
pub fn lower_resize(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "nearest".into());
    let linear = match mode.as_str() {
        "nearest" => false,
        "linear" => true,
        other => return Err(LowerError::attr(format!("mode {other}"))),
    };
    let default_transform = if node.opset() < 11 { "asymmetric" } else { "half_pixel" };
    let transform = node.attr_str("coordinate_transformation_mode")?.unwrap_or_else(|| default_transform.into());
    let nearest_mode = if node.opset() < 11 { "floor".to_string() } else { node.attr_str("nearest_mode")?.unwrap_or_else(|| "round_prefer_floor".into()) };
    let (x, xs, hw) = resize_input(ctx, node)?;
    let axes: Option<Vec<usize>> = match node.attr_ints("axes")? {
        Some(a) => Some(a.iter().map(|a| norm_axis(*a, 4)).collect::<Result<_, _>>()?),
        None => None,
    };
    let widen = |v: Vec<f64>, fill: f64| -> Result<Vec<f64>, LowerError> {
        match &axes {
            None => Ok(v),
            Some(a) if a.len() == v.len() => {
                let mut full = vec![fill; 4];
                for (ax, val) in a.iter().zip(v) {
                    full[*ax] = val;
                }
                Ok(full)
            }
            Some(a) => Err(LowerError::invalid(format!("{} values for axes {a:?}", v.len()))),
        }
    };
    let (scales_i, sizes_i) = if node.opset() < 11 { (1, usize::MAX) } else { (2, 3) };
    let scales = if node.has_input(scales_i) {
        let d = ctx.const_input(node, scales_i).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "scales must be constant"))?;
        let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric scales"))?;
        if v.is_empty() { None } else { Some(v) }
    } else {
        None
    };
    let sizes: Option<Vec<SDim>> = if sizes_i != usize::MAX && node.has_input(sizes_i) {
        let name = node.inner.input(sizes_i).unwrap_or_default();
        let v = match ctx.env.get(name) {
            Some(Val::Shape { dims, scalar: false }) => dims.clone(),
            _ => {
                let d = ctx.const_input(node, sizes_i).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "sizes must be constant or computed from sizes"))?;
                d.to_i64().ok_or_else(|| dtype_err("non-integer sizes"))?.into_iter().map(SDim::Known).collect()
            }
        };
        if v.is_empty() { None } else { Some(v) }
    } else {
        None
    };
    let out: [SDim; 2] = match (scales, sizes) {
        (Some(s), None) => {
            let s: Vec<f32> = widen(s, 1.0)?.into_iter().map(|v| v as f32).collect();
            let [sh, sw] = spatial_scales(&s, "scales")?;
            if linear && node.int_or("antialias", 0)? != 0 && (sh < 1.0 || sw < 1.0) {
                return Err(LowerError::attr("antialias when downsampling"));
            }
            [scaled_size(&hw[0], sh)?, scaled_size(&hw[1], sw)?]
        }
        (None, Some(sz)) => {
            let policy = node.attr_str("keep_aspect_ratio_policy")?.unwrap_or_else(|| "stretch".into());
            if policy != "stretch" {
                return Err(LowerError::attr(format!("keep_aspect_ratio_policy {policy}")));
            }
            let full: Vec<SDim> = match &axes {
                None => sz.clone(),
                Some(a) => {
                    let mut f = xs.clone();
                    if a.len() != sz.len() {
                        return Err(LowerError::invalid("sizes and axes differ in length"));
                    }
                    for (ax, v) in a.iter().zip(&sz) {
                        f[*ax] = v.clone();
                    }
                    f
                }
            };
            if full.len() != 4 {
                return Err(LowerError::invalid(format!("sizes {} for a 4-D input", show(&sz))));
            }
            if full[0] != xs[0] || full[1] != xs[1] {
                return Err(shape_err(format!("sizes {} resize the batch or channels (or cannot be shown not to)", show(&sz))));
            }
            for i in 0..2 {
                match (full[2 + i].known(), hw[i].known()) {
                    (Some(o), _) if o < 1 => return Err(LowerError::invalid(format!("sizes {}", show(&sz)))),
                    (Some(o), Some(h)) if linear && node.int_or("antialias", 0)? != 0 && o < h => return Err(LowerError::attr("antialias when downsampling")),
                    (None, _) if !full[2 + i].nonnegative() => return Err(shape_err(format!("sizes {} may be negative", show(&sz)))),
                    (None, _) | (_, None) if linear && node.int_or("antialias", 0)? != 0 => return Err(LowerError::attr("antialias with sizes known only at run time")),
                    _ => {}
                }
            }
            [full[2].clone(), full[3].clone()]
        }
        (Some(_), Some(_)) => return Err(LowerError::invalid("both scales and sizes given")),
        (None, None) => return Err(LowerError::invalid("neither scales nor sizes given")),
    };
    let o = resize_options(linear, &transform, &nearest_mode, &hw, &out)?;
    emit_resize(ctx, node, x, &out, linear, o)
}

/// Lowers `Upsample` (opsets 7–9): nearest (floor) or linear, asymmetric.
pub fn lower_upsample(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "nearest".into());
    let linear = match mode.as_str() {
        "nearest" => false,
        "linear" | "bilinear" => true,
        other => return Err(LowerError::attr(format!("mode {other}"))),
    };
    let (x, _, hw) = resize_input(ctx, node)?;
    let scales: Vec<f32> = if node.opset() < 9 {
        node.attr_floats("scales")?.ok_or_else(|| LowerError::invalid("Upsample needs scales"))?
    } else {
        ctx.const_floats(node, 1, "scales")?
    };
    let [sh, sw] = spatial_scales(&scales, "scales")?;
    let out = [scaled_size(&hw[0], sh)?, scaled_size(&hw[1], sw)?];
    emit_resize(ctx, node, x, &out, linear, ResizeOptions::default())
}
