//! Resize (opsets 10+) and Upsample (opsets 7–9). On 4-D NCHW inputs in
//! the coordinate modes TFLite's resizes compute exactly: RESIZE_BILINEAR
//! or RESIZE_NEAREST_NEIGHBOR between transposes (heights and widths known
//! only at run time give a size computed at run time). Everything else —
//! scales or sizes given at run time, fractional output sizes, cubic, the
//! other roundings and transforms, any rank and axis — is computed with
//! gathers ([`super::resize_gather`]).

use super::operand::{dtype_err, int32_vector, shape_err, typed_input};
use super::resize_antialias;
use super::resize_gather::{refuse, resize_by_gathers, AxisPlan, Kernel, Rounding, Target, Transform};
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

/// Lowers `Resize` (opsets 10+): with TFLite's resize ops where they
/// compute ONNX's result exactly, otherwise with gathers.
pub fn lower_resize(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    match lower_resize_native(ctx, node) {
        Err(e) if falls_back(&e) => lower_resize_gathers(ctx, node),
        done => done,
    }
}

/// Whether the native lowering's refusal leaves the gather form to try.
fn falls_back(e: &LowerError) -> bool {
    matches!(e.code, ReasonCode::UnsupportedAttribute | ReasonCode::UnsupportedShape | ReasonCode::InputMustBeConstant | ReasonCode::UnsupportedDtype)
}

/// `Resize` on 4-D NCHW inputs, resizing H and W, with constant scales or
/// sizes: `nearest` and `linear` in the coordinate modes TFLite's resizes
/// compute exactly.
fn lower_resize_native(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
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

/// Lowers `Upsample` (opsets 7–9): nearest (floor) or linear, asymmetric;
/// RESIZE_* where exact, otherwise gathers.
pub fn lower_upsample(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    match lower_upsample_native(ctx, node) {
        Err(e) if falls_back(&e) => lower_upsample_gathers(ctx, node),
        done => done,
    }
}

fn lower_upsample_native(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
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

/// A resize input that is given and not empty.
fn present(ctx: &LowerCtx<'_>, node: &Node<'_>, i: usize) -> bool {
    if !node.has_input(i) {
        return false;
    }
    match ctx.const_input(node, i) {
        Some(d) => d.dims.iter().product::<usize>() > 0,
        None => {
            let name = node.inner.input(i).unwrap_or_default();
            match ctx.env.get(name) {
                Some(Val::Shape { dims, .. }) => !dims.is_empty(),
                _ => node
                    .inner
                    .input(i)
                    .and_then(|n| ctx.graph.value(n))
                    .and_then(|v| v.shape.as_ref())
                    .is_none_or(|d| d.iter().all(|d| d.known() != Some(0))),
            }
        }
    }
}

/// Per-axis float32 scalars of a float vector input: constants when it is
/// constant, GATHERs of the run-time vector otherwise.
fn scale_targets(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, n: usize) -> Result<Vec<Target>, LowerError> {
    let name = node.name();
    if let Some(d) = ctx.const_input(node, i) {
        let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric scales"))?;
        if v.len() != n {
            return Err(LowerError::invalid(format!("{} scales for {n} axes", v.len())));
        }
        return Ok(v
            .iter()
            .enumerate()
            .map(|(k, s)| Target::Scale(ctx.g.constant_f32(&format!("{name}/scale{k}"), Shape::scalar(), &[*s as f32]), Some(*s as f32)))
            .collect());
    }
    let t = typed_input(ctx, node, &[DType::F32]).and_then(|_| ctx.input(node, i))?;
    if ctx.dtype(t) != DType::F32 {
        return Err(dtype_err(format!("scales of type {}", ctx.dtype(t))));
    }
    if ctx.shape(t).num_elements() != Some(n as u64) {
        return Err(LowerError::invalid(format!("scales of shape {} for {n} axes", ctx.shape(t))));
    }
    (0..n)
        .map(|k| {
            let idx = ctx.g.constant_i32(&format!("{name}/scale_at{k}"), Shape::scalar(), &[k as i32]);
            Ok(Target::Scale(ctx.g.gather(t, idx, GatherOptions::new(0))?, None))
        })
        .collect()
}

/// Per-axis int32 scalars of the sizes input: constants, computed shape
/// entries, or GATHERs of the run-time vector.
fn size_targets(ctx: &mut LowerCtx<'_>, node: &Node<'_>, i: usize, n: usize) -> Result<Vec<(Target, Option<SDim>)>, LowerError> {
    let name = node.name();
    let input = node.inner.input(i).unwrap_or_default().to_string();
    if let Some(Val::Shape { dims, scalar: false }) = ctx.env.get(&input).cloned() {
        if dims.len() != n {
            return Err(LowerError::invalid(format!("{} sizes for {n} axes", dims.len())));
        }
        return dims
            .iter()
            .enumerate()
            .map(|(k, d)| Ok((Target::Size(ctx.shape_tensor(&format!("{name}/size{k}"), std::slice::from_ref(d), true)?, d.known()), Some(d.clone()))))
            .collect();
    }
    let (t, len) = int32_vector(ctx, node, i, "sizes")?;
    if len != n {
        return Err(LowerError::invalid(format!("{len} sizes for {n} axes")));
    }
    let known = ctx.const_input(node, i).and_then(|d| d.to_i64());
    (0..n)
        .map(|k| {
            let idx = ctx.g.constant_i32(&format!("{name}/size_at{k}"), Shape::scalar(), &[k as i32]);
            let v = known.as_ref().and_then(|v| v.get(k).copied());
            Ok((Target::Size(ctx.g.gather(t, idx, GatherOptions::new(0))?, v), v.map(SDim::Known)))
        })
        .collect()
}

/// `Resize` computed with gathers (see [`super::resize_gather`]).
fn lower_resize_gathers(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "nearest".into());
    let default_transform = if node.opset() < 11 { "asymmetric" } else { "half_pixel" };
    let transform = node.attr_str("coordinate_transformation_mode")?.unwrap_or_else(|| default_transform.into());
    let nearest_mode = if node.opset() < 11 { "floor".to_string() } else { node.attr_str("nearest_mode")?.unwrap_or_else(|| "round_prefer_floor".into()) };
    let kernel = match mode.as_str() {
        "nearest" => Kernel::Nearest(Rounding::parse(&nearest_mode)?),
        "linear" => Kernel::Linear,
        "cubic" => Kernel::Cubic { a: node.float_or("cubic_coeff_a", -0.75)?, exclude_outside: node.int_or("exclude_outside", 0)? != 0 },
        other => return Err(refuse(format!("mode {other}"))),
    };
    let x = typed_input(ctx, node, &[DType::F32])?;
    let dims = ctx.symbolic_shape(x);
    let r = dims.len();
    let axes: Vec<usize> = match node.attr_ints("axes")? {
        Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..r).collect(),
    };
    let policy = node.attr_str("keep_aspect_ratio_policy")?.unwrap_or_else(|| "stretch".into());
    let (scales_i, sizes_i) = if node.opset() < 11 { (1, usize::MAX) } else { (2, 3) };
    let with_scales = present(ctx, node, scales_i);
    let with_sizes = sizes_i != usize::MAX && present(ctx, node, sizes_i);
    let targets: Vec<(Target, Option<SDim>)> = match (with_scales, with_sizes) {
        (true, false) => scale_targets(ctx, node, scales_i, axes.len())?.into_iter().map(|t| (t, None)).collect(),
        (false, true) => size_targets(ctx, node, sizes_i, axes.len())?,
        (true, true) => return Err(LowerError::invalid("both scales and sizes given")),
        (false, false) => return Err(LowerError::invalid("neither scales nor sizes given")),
    };
    // keep_aspect_ratio_policy applies to sizes only.
    let policy = if with_scales { "stretch".to_string() } else { policy };
    // tf_crop_and_resize's roi: per axis (start, end) float32 scalars and
    // whether they are provably (0, 1).
    let roi: Option<Vec<(TensorId, TensorId, bool)>> = if transform == "tf_crop_and_resize" {
        let n = axes.len();
        let name = node.name();
        if let Some(d) = ctx.const_input(node, 1) {
            let v = d.to_f64().ok_or_else(|| dtype_err("non-numeric roi"))?;
            if v.len() != 2 * n {
                return Err(LowerError::invalid(format!("{} roi values for {n} axes", v.len())));
            }
            Some(
                (0..n)
                    .map(|k| {
                        let s = ctx.g.constant_f32(&format!("{name}/roi_start{k}"), Shape::scalar(), &[v[k] as f32]);
                        let e = ctx.g.constant_f32(&format!("{name}/roi_end{k}"), Shape::scalar(), &[v[k + n] as f32]);
                        (s, e, v[k] == 0.0 && v[k + n] == 1.0)
                    })
                    .collect(),
            )
        } else {
            let t = ctx.input(node, 1)?;
            if ctx.dtype(t) != DType::F32 || ctx.shape(t).num_elements() != Some(2 * n as u64) {
                return Err(LowerError::invalid(format!("roi of type {} and shape {} for {n} axes", ctx.dtype(t), ctx.shape(t))));
            }
            let at = |ctx: &mut LowerCtx<'_>, i: usize| -> Result<TensorId, LowerError> {
                let idx = ctx.g.constant_i32(&format!("{name}/roi_at{i}"), Shape::scalar(), &[i as i32]);
                Ok(ctx.g.gather(t, idx, GatherOptions::new(0))?)
            };
            Some((0..n).map(|k| Ok((at(ctx, k)?, at(ctx, k + n)?, false))).collect::<Result<_, LowerError>>()?)
        }
    } else {
        None
    };
    let extrapolation = node.float_or("extrapolation_value", 0.0)?;
    let antialias = node.int_or("antialias", 0)? != 0 && mode != "nearest";
    // Antialiased downsampling: constant matrices along the resized axes
    // when everything is static, matrices computed at run time over static
    // lengths when the scales or sizes are inputs (below).
    let antialias_down = antialias && downsamples(&targets, &axes, &dims);
    if antialias_down {
        let t = match transform.as_str() {
            "half_pixel" => Transform::HalfPixel,
            "half_pixel_symmetric" => Transform::HalfPixelSymmetric,
            "pytorch_half_pixel" => Transform::PytorchHalfPixel,
            "align_corners" => Transform::AlignCorners,
            "asymmetric" => Transform::Asymmetric,
            other => return Err(refuse(format!("antialias with coordinate_transformation_mode {other}"))),
        };
        match resize_antialias::static_plan(&targets, &axes, &dims, &policy) {
            Ok(plan) => {
                let y = if plan.is_empty() { x } else { resize_antialias::lower(ctx, node, x, &kernel, &t, &plan)? };
                ctx.set_output(node, 0, y);
                return Ok(());
            }
            Err(e) if e.code == ReasonCode::InputMustBeConstant => {}
            Err(e) => return Err(e),
        }
    }
    let mut plans = Vec::new();
    for (k, (&axis, (target, size_dim))) in axes.iter().zip(targets).enumerate() {
        let t = match transform.as_str() {
            "half_pixel" => Transform::HalfPixel,
            "half_pixel_symmetric" => Transform::HalfPixelSymmetric,
            "pytorch_half_pixel" => Transform::PytorchHalfPixel,
            "align_corners" => Transform::AlignCorners,
            "asymmetric" => Transform::Asymmetric,
            "tf_crop_and_resize" => {
                let &(start, end, _) = roi.as_ref().and_then(|r| r.get(k)).ok_or_else(|| LowerError::invalid("tf_crop_and_resize without roi"))?;
                Transform::TfCropAndResize { start, end, extrapolation }
            }
            other => return Err(refuse(format!("coordinate_transformation_mode {other}"))),
        };
        let full_roi = roi.as_ref().is_none_or(|r| r.get(k).is_some_and(|e| e.2));
        // Axes that provably stay as they are (ONNX's reference skips them too).
        let identity = policy == "stretch"
            && full_roi
            && match target {
                Target::Scale(_, Some(s)) => s == 1.0,
                Target::Size(..) => size_dim.as_ref() == Some(&dims[axis]),
                Target::Scale(_, None) => false,
            };
        if !identity {
            plans.push(AxisPlan { axis, target, transform: t });
        }
    }
    // Upsampling antialias equals the plain kernels (the filter widens only
    // below scale 1).
    let y = if plans.is_empty() { x } else { resize_by_gathers(ctx, node, x, kernel, &plans, &policy, antialias_down)? };
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Whether an antialiased resize may downsample: some scale below 1, some
/// size below its input length, or a target known only at run time and
/// not provably the input's length (the matrix form then says what is not
/// static).
fn downsamples(targets: &[(Target, Option<SDim>)], axes: &[usize], dims: &[SDim]) -> bool {
    targets.iter().zip(axes).any(|((t, size), a)| match *t {
        Target::Scale(_, Some(s)) => s < 1.0,
        Target::Size(_, Some(o)) => dims.get(*a).and_then(SDim::known).is_none_or(|l| o < l),
        // A run-time size provably equal to the input's length stays.
        Target::Size(_, None) => size.as_ref() != dims.get(*a),
        Target::Scale(_, None) => true,
    })
}

/// `Upsample` computed with gathers: asymmetric, nearest (floor) or linear.
fn lower_upsample_gathers(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let mode = node.attr_str("mode")?.unwrap_or_else(|| "nearest".into());
    let kernel = match mode.as_str() {
        "nearest" => Kernel::Nearest(Rounding::Floor),
        "linear" | "bilinear" => Kernel::Linear,
        other => return Err(refuse(format!("mode {other}"))),
    };
    let x = typed_input(ctx, node, &[DType::F32])?;
    let r = ctx.symbolic_shape(x).len();
    let targets = if node.opset() < 9 {
        let s = node.attr_floats("scales")?.ok_or_else(|| LowerError::invalid("Upsample needs scales"))?;
        if s.len() != r {
            return Err(LowerError::invalid(format!("{} scales for rank {r}", s.len())));
        }
        let name = node.name();
        s.iter()
            .enumerate()
            .map(|(k, v)| Target::Scale(ctx.g.constant_f32(&format!("{name}/scale{k}"), Shape::scalar(), &[*v]), Some(*v)))
            .collect()
    } else {
        scale_targets(ctx, node, 1, r)?
    };
    let plans: Vec<AxisPlan> = targets
        .into_iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t, Target::Scale(_, Some(s)) if *s == 1.0))
        .map(|(axis, target)| AxisPlan { axis, target, transform: Transform::Asymmetric })
        .collect();
    let y = if plans.is_empty() { x } else { resize_by_gathers(ctx, node, x, kernel, &plans, "stretch", false)? };
    ctx.set_output(node, 0, y);
    Ok(())
}
