//! Pooling: MaxPool, AveragePool, LpPool and the global pools.
//!
//! 1-D and 2-D windows that TFLite's pools compute exactly become
//! MAX_POOL_2D / AVERAGE_POOL_2D (1-D with a unit height, see
//! [`super::conv::Planar`]). Every other window (dilations, 3-D inputs,
//! count_include_pad with ceil_mode, LpPool) is computed from its taps:
//! one STRIDED_SLICE of the padded input per kernel position, combined by
//! MAXIMUM or ADD, averages divided by a constant count of the elements
//! each window covers; MaxPool's indices output selects (SELECT_V2 where
//! GREATER) constant per-tap indices along the way.

use super::conv::{from_planar, ints_or, lift, lift_pads, pad_nhwc, same_pads, to_planar, window_pads};
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

/// What a pool combines.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Max,
    Avg,
    /// `(Σ |x|^p)^(1/p)`.
    Lp(f32),
}

fn lower_pool(ctx: &mut LowerCtx<'_>, node: &Node<'_>, kind: Kind) -> Result<(), LowerError> {
    let indices = node.num_outputs() > 1 && !node.inner.outputs[1].is_empty();
    let x = ctx.input(node, 0)?;
    let rank = ctx.shape(x).rank();
    if !(3..=5).contains(&rank) {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("{} on rank {rank}", node.op_type())));
    }
    let nd = rank - 2;
    let k = node.attr_ints("kernel_shape")?.ok_or_else(|| LowerError::invalid("kernel_shape is required"))?;
    if k.len() != nd || k.iter().any(|v| *v <= 0 || *v > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("kernel_shape {k:?} for {nd} spatial dims")));
    }
    let geom = Geometry::of(ctx, node, x, &k)?;
    let dilations = ints_or(node, "dilations", nd, 1)?;
    // Float32, or an 8-bit tensor with quantization parameters (a QDQ
    // group's int8 MAX_POOL_2D / AVERAGE_POOL_2D).
    let quantized = matches!(ctx.dtype(x), DType::I8 | DType::U8) && ctx.g.tensor(x).quantization.is_some();
    let plain = !indices && matches!(kind, Kind::Max | Kind::Avg) && (ctx.dtype(x) == DType::F32 || quantized) && nd <= 2 && dilations.iter().all(|d| *d == 1);
    if plain {
        match lower_tflite_pool(ctx, node, x, kind == Kind::Max) {
            Err(e) if e.code == ReasonCode::UnsupportedAttribute => {}
            other => return other,
        }
    }
    lower_taps(ctx, node, x, kind, &geom?)
}

/// The 1-D / 2-D pool as MAX_POOL_2D or AVERAGE_POOL_2D (an
/// `unsupported_attribute` error when TFLite's padding cannot express it).
fn lower_tflite_pool(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, max: bool) -> Result<(), LowerError> {
    let one_d = ctx.shape(x).rank() == 3;
    let nd = if one_d { 1 } else { 2 };
    let k = lift(node.attr_ints("kernel_shape")?.unwrap_or_default(), one_d, 1);
    let strides = lift(ints_or(node, "strides", nd, 1)?, one_d, 1);
    let dil = [1, 1];
    let xs = ctx.shape(x).dims().to_vec();
    let spatial = if one_d { vec![Dim::Fixed(1), xs[2]] } else { vec![xs[2], xs[3]] };
    let ceil = node.int_or("ceil_mode", 0)? != 0;
    let pads_attr = lift_pads(node.attr_ints("pads")?, one_d);
    let base_pads = pads_attr.clone().unwrap_or_else(|| vec![0; 4]);
    let auto_pad = node.attr_str("auto_pad")?.unwrap_or_default();
    let extra = if ceil && base_pads.len() == 4 && matches!(auto_pad.as_str(), "" | "NOTSET") {
        vec![ceil_extra(spatial[0], k[0], strides[0], base_pads[0], base_pads[2])?, ceil_extra(spatial[1], k[1], strides[1], base_pads[1], base_pads[3])?]
    } else {
        vec![0, 0]
    };
    let mut pads = window_pads(node, pads_attr, &spatial, &k, &strides, &dil, &extra)?;
    let count_include_pad = node.int_or("count_include_pad", 0)? != 0;
    // The ONNX padding itself (without ceil_mode's extra end padding).
    let onnx_pads: Option<Vec<(i64, i64)>> = match auto_pad.as_str() {
        "" | "NOTSET" => Some((0..2).map(|i| (base_pads[i], base_pads[i + 2])).collect()),
        "VALID" => Some(vec![(0, 0); 2]),
        _ => (0..2)
            .map(|i| same_pads(spatial[i], k[i], strides[i], 1).map(|(a, b)| if auto_pad == "SAME_LOWER" { (b, a) } else { (a, b) }))
            .collect(),
    };
    let base_nonzero = onnx_pads.as_ref().is_none_or(|p| p.iter().any(|(a, b)| *a != 0 || *b != 0));
    // TFLite's SAME pooling ignores padded elements; explicit zero padding
    // counts them. Pick whichever matches ONNX exactly.
    if !max && count_include_pad && base_nonzero {
        let Some(p) = onnx_pads.filter(|_| extra.iter().all(|e| *e == 0)) else {
            return Err(LowerError::attr("AveragePool with count_include_pad=1 and ceil_mode or a dynamic SAME padding"));
        };
        pads.padding = Padding::Valid;
        pads.explicit = Some(p);
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
        let h = to_planar(ctx, x)?;
        let mut pp = vec![(0, 0)];
        pp.extend(p.iter().map(|(a, b)| (*a as i32, *b as i32)));
        pp.push((0, 0));
        let padded = ctx.g.pad_v2(h.nhwc, &pp, lowest)?;
        let o = Pool2dOptions::new(Padding::Valid, k[0] as i32, k[1] as i32, strides[0] as i32, strides[1] as i32);
        let y = ctx.g.max_pool2d(padded, o)?;
        let out = from_planar(ctx, y, h.one_d)?;
        ctx.set_output(node, 0, out);
        return Ok(());
    } else if pads.explicit.is_some() {
        return Err(LowerError::attr(format!(
            "{} padding {:?} is neither SAME nor VALID in TFLite terms",
            node.op_type(),
            pads.explicit
        )));
    }
    let h = to_planar(ctx, x)?;
    let mut t = h.nhwc;
    if let Some(p) = &pads.explicit {
        t = pad_nhwc(ctx, t, p)?;
    }
    let o = Pool2dOptions::new(pads.padding, k[0] as i32, k[1] as i32, strides[0] as i32, strides[1] as i32);
    let y = if max { ctx.g.max_pool2d(t, o)? } else { ctx.g.average_pool2d(t, o)? };
    let out = from_planar(ctx, y, h.one_d)?;
    ctx.set_output(node, 0, out);
    Ok(())
}

/// The static window geometry of a pool, per spatial dimension, as ONNX
/// (and PyTorch, onnxruntime) define it: extra end padding from ceil_mode
/// is not counted by `count_include_pad`.
struct Geometry {
    size: Vec<i64>,
    kernel: Vec<i64>,
    strides: Vec<i64>,
    dilations: Vec<i64>,
    /// ONNX padding (begin, end).
    pads: Vec<(i64, i64)>,
    out: Vec<i64>,
    /// The batch size and channel count, if static.
    batch_channels: Option<(i64, i64)>,
}

impl Geometry {
    /// Reads the attributes; the error (for dynamic spatial sizes, bad
    /// pads) is returned inside so that the TFLite pools may still apply.
    fn of(ctx: &LowerCtx<'_>, node: &Node<'_>, x: TensorId, k: &[i64]) -> Result<Result<Geometry, LowerError>, LowerError> {
        let nd = k.len();
        let strides = ints_or(node, "strides", nd, 1)?;
        let dilations = ints_or(node, "dilations", nd, 1)?;
        let ceil = node.int_or("ceil_mode", 0)? != 0;
        let auto_pad = node.attr_str("auto_pad")?.unwrap_or_default();
        let pads_attr = node.attr_ints("pads")?;
        let s = ctx.shape(x).clone();
        let size: Option<Vec<i64>> = s.dims()[2..].iter().map(|d| d.fixed().map(i64::from)).collect();
        let Some(size) = size else {
            return Ok(Err(LowerError::new(ReasonCode::UnsupportedShape, format!("{} with dynamic spatial sizes {s}", node.op_type()))));
        };
        let eff: Vec<i64> = (0..nd).map(|i| (k[i] - 1).saturating_mul(dilations[i]).saturating_add(1)).collect();
        let mut pads = Vec::with_capacity(nd);
        let mut out = Vec::with_capacity(nd);
        for i in 0..nd {
            let (n, st) = (size[i], strides[i]);
            let (pb, pe, o) = match auto_pad.as_str() {
                "" | "NOTSET" | "VALID" => {
                    let p = if auto_pad == "VALID" { vec![0; 2 * nd] } else { pads_attr.clone().unwrap_or_else(|| vec![0; 2 * nd]) };
                    if p.len() != 2 * nd || p.iter().any(|v| *v < 0 || *v > i64::from(i32::MAX)) {
                        return Err(LowerError::attr(format!("pads {p:?} for {nd} spatial dims")));
                    }
                    let (pb, pe) = (p[i], p[i + nd]);
                    let span = n + pb + pe - eff[i];
                    if span < 0 {
                        return Err(LowerError::invalid(format!("pool window {} larger than the padded input {}", eff[i], n + pb + pe)));
                    }
                    let o = if ceil {
                        let o = (span + st - 1) / st + 1;
                        // A last window that would start in the end padding is dropped.
                        if (o - 1) * st >= n + pb { o - 1 } else { o }
                    } else {
                        span / st + 1
                    };
                    (pb, pe, o)
                }
                "SAME_UPPER" | "SAME_LOWER" => {
                    let o = (n + st - 1) / st;
                    let total = ((o - 1).saturating_mul(st).saturating_add(eff[i]) - n).max(0);
                    let (a, b) = (total / 2, total - total / 2);
                    if auto_pad == "SAME_UPPER" { (a, b, o) } else { (b, a, o) }
                }
                other => return Err(LowerError::attr(format!("auto_pad {other}"))),
            };
            pads.push((pb, pe));
            out.push(o);
        }
        let batch_channels = match (s.dims()[0].fixed(), s.dims()[1].fixed()) {
            (Some(n), Some(c)) => Some((i64::from(n), i64::from(c))),
            _ => None,
        };
        Ok(Ok(Geometry { size, kernel: k.to_vec(), strides, dilations, pads, out, batch_channels }))
    }
}

/// The most window taps computed one by one.
const MAX_TAPS: i64 = 1024;

/// The most output window positions (per channel) of a taps pool, which
/// the averages' constant counts cover.
const MAX_PLANE: i64 = 1 << 22;

/// The pool from its taps on the ONNX layout: (for Lp, |x|^p first) pad,
/// one STRIDED_SLICE per kernel position, MAXIMUM / ADD, then the average's
/// division by the constant per-window count or Lp's root.
fn lower_taps(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, kind: Kind, g: &Geometry) -> Result<(), LowerError> {
    let nd = g.kernel.len();
    let name = node.name();
    let dtype = ctx.dtype(x);
    // A maximum of 8-bit integers is taken in int32 (TFLite's slices of
    // 8-bit tensors want quantization parameters), padded with the type's
    // lowest value.
    let lowest_int = match dtype {
        DType::U8 if kind == Kind::Max => Some(0),
        DType::I8 if kind == Kind::Max => Some(i32::from(i8::MIN)),
        DType::I32 if kind == Kind::Max => Some(i32::MIN),
        DType::F32 => None,
        _ => return Err(LowerError::new(ReasonCode::UnsupportedDtype, format!("{} on {dtype} (float32, or a MaxPool of 8- or 32-bit integers, beyond TFLite's 2-D pools)", node.op_type()))),
    };
    let input_q = ctx.g.tensor(x).quantization.clone();
    let x = if lowest_int.is_some() && dtype != DType::I32 { ctx.g.cast(x, DType::I32)? } else { x };
    let plane = g.out.iter().try_fold(1i64, |a, o| a.checked_mul(*o)).filter(|p| *p <= MAX_PLANE);
    if plane.is_none() {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("output window grid {:?} beyond {MAX_PLANE} positions", g.out)));
    }
    let taps = g.kernel.iter().try_fold(1i64, |a, k| a.checked_mul(*k)).filter(|t| *t <= MAX_TAPS);
    let Some(taps) = taps else {
        return Err(LowerError::attr(format!("kernel_shape {:?}: more than {MAX_TAPS} window positions", g.kernel)));
    };
    // Extent of the padded input the windows read (ceil_mode may add some).
    let mut pad = Vec::with_capacity(nd + 2);
    pad.extend([(0, 0), (0, 0)]);
    for i in 0..nd {
        let need = (g.out[i] - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1;
        let end = (need - g.size[i] - g.pads[i].0).max(g.pads[i].1);
        let to32 = |v: i64| i32::try_from(v).map_err(|_| LowerError::attr("padding beyond int32"));
        pad.push((to32(g.pads[i].0)?, to32(end)?));
    }
    let mut src = x;
    if let Kind::Lp(p) = kind {
        src = if p == 2.0 {
            ctx.g.mul(x, x)?
        } else {
            let a = ctx.g.abs(x)?;
            if p == 1.0 { a } else {
                let e = ctx.g.constant_f32(&format!("{name}/p"), Shape::scalar(), &[p]);
                ctx.g.apply(Op::Pow, &[Some(a), Some(e)])?
            }
        };
    }
    if pad.iter().any(|(a, b)| *a != 0 || *b != 0) {
        src = if kind == Kind::Max {
            let lowest = match lowest_int {
                Some(v) => ctx.g.constant_i32(&format!("{name}/lowest"), Shape::scalar(), &[v]),
                None => ctx.g.constant_f32(&format!("{name}/lowest"), Shape::scalar(), &[f32::MIN]),
            };
            ctx.g.pad_v2(src, &pad, lowest)?
        } else {
            ctx.g.pad(src, &pad)?
        };
    }
    let mut acc: Option<TensorId> = None;
    let mut idx: Option<TensorId> = None;
    let index_of = if kind == Kind::Max && node.num_outputs() > 1 && !node.inner.outputs[1].is_empty() { Some(IndexOrder::of(node, g)?) } else { None };
    for t in 0..taps {
        let mut rem = t;
        let mut begin = vec![0, 0];
        let mut end = vec![0, 0];
        let mut strides = vec![1, 1];
        let mut tap = vec![0; nd];
        for i in (0..nd).rev() {
            let j = rem % g.kernel[i];
            tap[i] = j;
            rem /= g.kernel[i];
            let b = j * g.dilations[i];
            let to32 = |v: i64| i32::try_from(v).map_err(|_| LowerError::attr("window beyond int32"));
            begin.insert(2, to32(b)?);
            end.insert(2, to32(b + (g.out[i] - 1) * g.strides[i] + 1)?);
            strides.insert(2, to32(g.strides[i])?);
        }
        let o = StridedSliceOptions { begin_mask: 0b11, end_mask: 0b11, ..Default::default() };
        let s = ctx.g.strided_slice(src, &begin, &end, &strides, o)?;
        if let Some(order) = &index_of {
            // The first maximum in window order wins: update where strictly greater.
            let it = order.tap_indices(ctx, &format!("{name}/tap{t}"), g, &tap);
            (acc, idx) = match (acc, idx) {
                (Some(a), Some(i)) => {
                    let gt = ctx.g.apply(Op::Greater, &[Some(s), Some(a)])?;
                    (Some(ctx.g.maximum(a, s)?), Some(ctx.g.apply(Op::SelectV2, &[Some(gt), Some(it), Some(i)])?))
                }
                _ => (Some(s), Some(it)),
            };
            continue;
        }
        acc = Some(match acc {
            None => s,
            Some(a) if kind == Kind::Max => ctx.g.maximum(a, s)?,
            Some(a) => ctx.g.add(a, s)?,
        });
    }
    if let (Some(order), Some(i)) = (&index_of, idx) {
        let base = order.channel_offsets(ctx, &format!("{name}/channel_offsets"));
        let i = ctx.g.add(i, base)?;
        ctx.set_output(node, 1, i);
    }
    let mut y = acc.ok_or_else(|| LowerError::invalid("empty kernel"))?;
    if lowest_int.is_some() && dtype != DType::I32 {
        y = ctx.g.cast(y, dtype)?;
        // The maximum of quantized values is the maximum of their integers,
        // at the same parameters.
        if let Some(q) = input_q {
            ctx.g.set_quantization(y, q);
        }
    }
    match kind {
        Kind::Max => {}
        Kind::Avg => {
            let include = node.int_or("count_include_pad", 0)? != 0;
            let counts = window_counts(g, include);
            let mut shape = vec![1u32, 1];
            shape.extend(g.out.iter().map(|o| *o as u32));
            let c = ctx.g.constant_f32(&format!("{name}/counts"), Shape::new(shape), &counts);
            y = ctx.g.div(y, c)?;
        }
        Kind::Lp(p) => {
            if p == 2.0 {
                y = ctx.g.sqrt(y)?;
            } else if p != 1.0 {
                let e = ctx.g.constant_f32(&format!("{name}/inv_p"), Shape::scalar(), &[1.0 / p]);
                y = ctx.g.apply(Op::Pow, &[Some(y), Some(e)])?;
            }
        }
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// How MaxPool's indices flatten an input position: row-major (or, with
/// storage_order 1, column-major over the spatial dims) within each
/// (batch, channel) plane, planes in order.
struct IndexOrder {
    /// Per spatial dim, the index step of one position.
    steps: Vec<i64>,
    /// Elements per (batch, channel) plane.
    plane: i64,
    batch: i64,
    channels: i64,
}

impl IndexOrder {
    fn of(node: &Node<'_>, g: &Geometry) -> Result<IndexOrder, LowerError> {
        let nd = g.size.len();
        let column_major = node.int_or("storage_order", 0)? != 0;
        let mut steps = vec![1i64; nd];
        if column_major {
            for i in 1..nd {
                steps[i] = steps[i - 1] * g.size[i - 1];
            }
        } else {
            for i in (0..nd.saturating_sub(1)).rev() {
                steps[i] = steps[i + 1] * g.size[i + 1];
            }
        }
        let (batch, channels) = g.batch_channels.ok_or_else(|| LowerError::new(ReasonCode::UnsupportedShape, "MaxPool indices need a static batch and channel count"))?;
        let plane = g.size.iter().product();
        if batch.checked_mul(channels).and_then(|v| v.checked_mul(plane)).is_none_or(|v| v > MAX_PLANE * 64) {
            return Err(LowerError::new(ReasonCode::UnsupportedShape, "MaxPool indices of a large input"));
        }
        Ok(IndexOrder { steps, plane, batch, channels })
    }

    /// The int64 `[1, 1, out…]` in-plane indices of kernel position `tap`.
    fn tap_indices(&self, ctx: &mut LowerCtx<'_>, name: &str, g: &Geometry, tap: &[i64]) -> TensorId {
        let total: usize = g.out.iter().map(|o| *o as usize).product();
        let v: Vec<i64> = (0..total)
            .map(|mut f| {
                let mut at = 0;
                for i in (0..g.out.len()).rev() {
                    let q = (f % g.out[i] as usize) as i64;
                    f /= g.out[i] as usize;
                    let p = (q * g.strides[i] + tap[i] * g.dilations[i] - g.pads[i].0).clamp(0, g.size[i] - 1);
                    at += p * self.steps[i];
                }
                at
            })
            .collect();
        let mut shape = vec![1u32, 1];
        shape.extend(g.out.iter().map(|o| *o as u32));
        ctx.g.constant(name, DType::I64, Shape::new(shape), ConstData::from_slice(&v))
    }

    /// The int64 `[N, C, 1…]` offsets of each plane.
    fn channel_offsets(&self, ctx: &mut LowerCtx<'_>, name: &str) -> TensorId {
        let n = (self.batch * self.channels) as usize;
        let per = self.plane;
        let v: Vec<i64> = (0..n as i64).map(|k| k * per).collect();
        let mut shape = vec![self.batch as u32, self.channels as u32];
        shape.extend(std::iter::repeat_n(1u32, self.steps.len()));
        ctx.g.constant(name, DType::I64, Shape::new(shape), ConstData::from_slice(&v))
    }
}

/// The number of elements each output window averages, row-major over the
/// output's spatial dims: the kernel positions inside the input (or, with
/// `include_pad`, inside the ONNX-padded input).
fn window_counts(g: &Geometry, include_pad: bool) -> Vec<f32> {
    let per_dim: Vec<Vec<i64>> = (0..g.kernel.len())
        .map(|i| {
            let (lo, hi) = if include_pad { (-g.pads[i].0, g.size[i] + g.pads[i].1) } else { (0, g.size[i]) };
            (0..g.out[i])
                .map(|q| (0..g.kernel[i]).filter(|j| (lo..hi).contains(&(q * g.strides[i] + j * g.dilations[i] - g.pads[i].0))).count() as i64)
                .collect()
        })
        .collect();
    let total: usize = per_dim.iter().map(Vec::len).product();
    (0..total)
        .map(|mut f| {
            let mut c = 1i64;
            for d in per_dim.iter().rev() {
                c *= d[f % d.len()];
                f /= d.len();
            }
            c as f32
        })
        .collect()
}

/// Lowers `MaxPool`.
pub fn lower_maxpool(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower_pool(ctx, node, Kind::Max)
}

/// Lowers `AveragePool`.
pub fn lower_avgpool(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    lower_pool(ctx, node, Kind::Avg)
}

/// Lowers `LpPool` (window taps; `p` a positive attribute).
pub fn lower_lppool(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let p = node.int_or("p", 2)?;
    if !(1..=64).contains(&p) {
        return Err(LowerError::attr(format!("p = {p}")));
    }
    lower_pool(ctx, node, Kind::Lp(p as f32))
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
