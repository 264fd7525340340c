//! Output type and shape inference for the typed TFLite ops.
//!
//! The builders use it to create output tensors, and validation uses it to
//! check what a model claims. Dynamic dimensions propagate as [`Dim::Dynamic`].

mod generated;

use crate::model::{Activation, DType, Dim, GatherOptions, MirrorPadMode, Op, Padding, Shape, StridedSliceOptions, Tensor};

/// What inference says about one output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Inferred {
    /// The element type, when the op determines it.
    pub dtype: Option<DType>,
    /// The shape.
    pub shape: Shape,
}

fn out(dtype: DType, shape: Shape) -> Vec<Inferred> {
    vec![Inferred { dtype: Some(dtype), shape }]
}

type R = Result<Vec<Inferred>, String>;

fn need<'a>(inputs: &[Option<&'a Tensor>], i: usize, what: &str) -> Result<&'a Tensor, String> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| format!("missing input {i} ({what})"))
}

fn count(inputs: &[Option<&Tensor>], min: usize, max: usize) -> Result<(), String> {
    if inputs.len() < min || inputs.len() > max {
        return Err(if min == max {
            format!("expects {min} inputs, has {}", inputs.len())
        } else {
            format!("expects {min} to {max} inputs, has {}", inputs.len())
        });
    }
    Ok(())
}

fn rank(t: &Tensor, r: usize, what: &str) -> Result<(), String> {
    if t.shape.rank() != r {
        return Err(format!("{what} must have rank {r}, has shape {}", t.shape));
    }
    Ok(())
}

fn dim(t: &Tensor, i: usize) -> Dim {
    t.shape.dim(i).unwrap_or(Dim::Dynamic)
}

/// Reads a constant integer tensor (int32 or int64) as `i64`s.
pub(crate) fn const_ints(t: &Tensor) -> Option<Vec<i64>> {
    let d = t.data.as_ref()?;
    match t.dtype {
        DType::I32 => Some(d.to_vec::<i32>().into_iter().map(i64::from).collect()),
        DType::I64 => Some(d.to_vec::<i64>()),
        _ => None,
    }
}

/// Whether two dims may be equal.
fn dims_agree(a: Dim, b: Dim) -> bool {
    match (a, b) {
        (Dim::Fixed(x), Dim::Fixed(y)) => x == y,
        _ => true,
    }
}

/// Whether two shapes may be equal (same rank, fixed dims equal).
pub(crate) fn shapes_agree(a: &Shape, b: &Shape) -> bool {
    a.rank() == b.rank() && a.dims().iter().zip(b.dims()).all(|(x, y)| dims_agree(*x, *y))
}

/// NumPy-style broadcast of two shapes.
pub(crate) fn broadcast(a: &Shape, b: &Shape) -> Result<Shape, String> {
    let r = a.rank().max(b.rank());
    let mut dims = Vec::with_capacity(r);
    for i in 0..r {
        let da = if i + a.rank() >= r { a.dims()[i + a.rank() - r] } else { Dim::Fixed(1) };
        let db = if i + b.rank() >= r { b.dims()[i + b.rank() - r] } else { Dim::Fixed(1) };
        dims.push(match (da, db) {
            (Dim::Fixed(1), d) | (d, Dim::Fixed(1)) => d,
            (Dim::Fixed(x), Dim::Fixed(y)) if x == y => Dim::Fixed(x),
            (Dim::Fixed(_), Dim::Fixed(_)) => {
                return Err(format!("shapes {a} and {b} do not broadcast"));
            }
            (Dim::Dynamic, d) | (d, Dim::Dynamic) => {
                if d == Dim::Dynamic {
                    Dim::Dynamic
                } else {
                    d
                }
            }
        });
    }
    Ok(Shape::from_dims(dims))
}

fn positive(v: i32, what: &str) -> Result<u32, String> {
    u32::try_from(v).ok().filter(|v| *v > 0).ok_or_else(|| format!("{what} must be positive, is {v}"))
}

/// Output size of one spatial dimension of a convolution or pool.
fn window_dim(input: Dim, filter: Dim, stride: u32, dilation: u32, padding: Padding) -> Result<Dim, String> {
    let (Dim::Fixed(i), Dim::Fixed(k)) = (input, filter) else {
        return Ok(Dim::Dynamic);
    };
    let eff = u64::from(k.saturating_sub(1)) * u64::from(dilation) + 1;
    let i = u64::from(i);
    let s = u64::from(stride);
    let o = match padding {
        Padding::Same => i.div_ceil(s),
        Padding::Valid => {
            if i < eff {
                return Err(format!("window of effective size {eff} does not fit input size {i} with VALID padding"));
            }
            (i - eff) / s + 1
        }
    };
    u32::try_from(o).map(Dim::Fixed).map_err(|_| "output dimension overflows".to_string())
}

fn same_type_check(ts: &[&Tensor], op: &str) -> Result<DType, String> {
    let d = ts[0].dtype;
    for t in ts {
        if t.dtype != d {
            return Err(format!("{op} inputs must share a type, got {} and {}", d, t.dtype));
        }
    }
    Ok(d)
}

const ELEMENTWISE_TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64];

fn check_type(d: DType, allowed: &[DType], what: &str) -> Result<(), String> {
    if allowed.contains(&d) {
        Ok(())
    } else {
        let names: Vec<_> = allowed.iter().map(|d| d.schema_name()).collect();
        Err(format!("{what} type {d} is not one of {}", names.join(", ")))
    }
}

/// Checks the (input, weights, bias) type combination of a conv or fc.
fn check_weighted_types(input: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<(), String> {
    use DType::*;
    let b = bias.map(|b| b.dtype);
    let ok = match (input.dtype, w.dtype) {
        (F32, F32) | (F32, F16) => matches!(b, None | Some(F32)),
        (F32, I8) | (F32, U8) | (F32, I4) => matches!(b, None | Some(F32)), // hybrid
        (I8, I8) | (I8, I4) | (U8, U8) => matches!(b, None | Some(I32)),
        (I16, I8) => matches!(b, None | Some(I64) | Some(I32)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "unsupported type combination: input {}, weights {}, bias {}",
            input.dtype,
            w.dtype,
            b.map_or("none".to_string(), |d| d.to_string())
        ))
    }
}

/// Rejects fused activations the runtime does not apply (it silently
/// ignores a fused TANH or SIGN_BIT on these ops).
fn check_activation(a: Activation) -> Result<(), String> {
    match a {
        Activation::None | Activation::Relu | Activation::ReluN1To1 | Activation::Relu6 => Ok(()),
        other => Err(format!("fused activation {other:?} is not applied by the runtime; use a separate op")),
    }
}

/// LiteRT requires the bias input of convolutions.
fn need_bias<'a>(inputs: &[Option<&'a Tensor>]) -> Result<&'a Tensor, String> {
    inputs
        .get(2)
        .copied()
        .flatten()
        .ok_or_else(|| "needs a bias input (the runtime rejects convolutions without one; pass a zero bias)".to_string())
}

fn quantized_out(input: &Tensor) -> DType {
    input.dtype
}

/// Infers the outputs of a typed op. Returns `Ok(None)` for ops without
/// inference support (custom and opaque builtins).
pub(crate) fn infer(op: &Op, inputs: &[Option<&Tensor>]) -> Result<Option<Vec<Inferred>>, String> {
    let r: R = match op {
        Op::Add(_) | Op::Sub(_) | Op::Mul(_) | Op::Div(_) => {
            count(inputs, 2, 2)?;
            check_activation(match op {
                Op::Add(o) | Op::Sub(o) => o.activation,
                Op::Mul(a) | Op::Div(a) => *a,
                _ => Activation::None,
            })?;
            let a = need(inputs, 0, "lhs")?;
            let b = need(inputs, 1, "rhs")?;
            let d = same_type_check(&[a, b], op.name())?;
            let allowed: &[DType] = if matches!(op, Op::Div(_)) { &[DType::F32, DType::I32, DType::U8] } else { ELEMENTWISE_TYPES };
            check_type(d, allowed, "input")?;
            Ok(out(d, broadcast(&a.shape, &b.shape)?))
        }
        Op::Conv2d(o) => {
            count(inputs, 3, 3)?;
            let x = need(inputs, 0, "input")?;
            let w = need(inputs, 1, "filter")?;
            let bias = Some(need_bias(inputs)?);
            check_activation(o.activation)?;
            rank(x, 4, "input")?;
            rank(w, 4, "filter")?;
            check_weighted_types(x, w, bias)?;
            let (sh, sw) = (positive(o.stride_h, "stride_h")?, positive(o.stride_w, "stride_w")?);
            let (dh, dw) = (positive(o.dilation_h, "dilation_h")?, positive(o.dilation_w, "dilation_w")?);
            if let (Dim::Fixed(c), Dim::Fixed(fc)) = (dim(x, 3), dim(w, 3)) {
                if fc == 0 || c == 0 || c % fc != 0 {
                    return Err(format!("input channels {c} are not a positive multiple of filter channels {fc}"));
                }
                if let Dim::Fixed(oc) = dim(w, 0)
                    && oc % (c / fc) != 0 {
                        return Err(format!("output channels {oc} are not a multiple of the group count {}", c / fc));
                    }
            }
            if let Some(b) = bias {
                rank(b, 1, "bias")?;
                if !dims_agree(dim(b, 0), dim(w, 0)) {
                    return Err(format!("bias shape {} does not match {} output channels", b.shape, dim(w, 0)));
                }
            }
            let h = window_dim(dim(x, 1), dim(w, 1), sh, dh, o.padding)?;
            let wd = window_dim(dim(x, 2), dim(w, 2), sw, dw, o.padding)?;
            Ok(out(quantized_out(x), Shape::from_dims(vec![dim(x, 0), h, wd, dim(w, 0)])))
        }
        Op::DepthwiseConv2d(o) => {
            count(inputs, 3, 3)?;
            let x = need(inputs, 0, "input")?;
            let w = need(inputs, 1, "filter")?;
            let bias = Some(need_bias(inputs)?);
            check_activation(o.activation)?;
            rank(x, 4, "input")?;
            rank(w, 4, "filter")?;
            check_weighted_types(x, w, bias)?;
            if !dims_agree(dim(w, 0), Dim::Fixed(1)) {
                return Err(format!("depthwise filter must be [1, H, W, C*M], is {}", w.shape));
            }
            let m = positive(o.depth_multiplier, "depth_multiplier")?;
            if let (Dim::Fixed(c), Dim::Fixed(oc)) = (dim(x, 3), dim(w, 3))
                && u64::from(c) * u64::from(m) != u64::from(oc) {
                    return Err(format!("filter has {oc} channels, expected input channels {c} × depth_multiplier {m}"));
                }
            if let Some(b) = bias {
                rank(b, 1, "bias")?;
                if !dims_agree(dim(b, 0), dim(w, 3)) {
                    return Err(format!("bias shape {} does not match {} output channels", b.shape, dim(w, 3)));
                }
            }
            let (sh, sw) = (positive(o.stride_h, "stride_h")?, positive(o.stride_w, "stride_w")?);
            let (dh, dw) = (positive(o.dilation_h, "dilation_h")?, positive(o.dilation_w, "dilation_w")?);
            let h = window_dim(dim(x, 1), dim(w, 1), sh, dh, o.padding)?;
            let wd = window_dim(dim(x, 2), dim(w, 2), sw, dw, o.padding)?;
            Ok(out(quantized_out(x), Shape::from_dims(vec![dim(x, 0), h, wd, dim(w, 3)])))
        }
        Op::FullyConnected(o) => {
            count(inputs, 2, 3)?;
            check_activation(o.activation)?;
            let x = need(inputs, 0, "input")?;
            let w = need(inputs, 1, "weights")?;
            let bias = inputs.get(2).copied().flatten();
            rank(w, 2, "weights")?;
            check_weighted_types(x, w, bias)?;
            if x.shape.rank() == 0 {
                return Err("input must have rank ≥ 1".into());
            }
            let units = dim(w, 0);
            if let Some(b) = bias
                && b.shape.num_elements().is_some_and(|n| units.fixed().is_some_and(|u| u64::from(u) != n)) {
                    return Err(format!("bias shape {} does not match {units} units", b.shape));
                }
            let shape = if o.keep_num_dims {
                if !dims_agree(dim(x, x.shape.rank() - 1), dim(w, 1)) {
                    return Err(format!("input {} last dimension does not match weights {}", x.shape, w.shape));
                }
                let mut d = x.shape.dims().to_vec();
                if let Some(last) = d.last_mut() {
                    *last = units;
                }
                Shape::from_dims(d)
            } else {
                let batch = match (x.shape.num_elements(), dim(w, 1)) {
                    (Some(n), Dim::Fixed(k)) => {
                        if k == 0 || n % u64::from(k) != 0 {
                            return Err(format!("input {} has {n} elements, not a multiple of input size {k}", x.shape));
                        }
                        Dim::Fixed(u32::try_from(n / u64::from(k)).map_err(|_| "batch overflows")?)
                    }
                    _ => Dim::Dynamic,
                };
                Shape::from_dims(vec![batch, units])
            };
            Ok(out(quantized_out(x), shape))
        }
        Op::AveragePool2d(o) | Op::MaxPool2d(o) => {
            count(inputs, 1, 1)?;
            check_activation(o.activation)?;
            let x = need(inputs, 0, "input")?;
            rank(x, 4, "input")?;
            check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16], "input")?;
            let (sh, sw) = (positive(o.stride_h, "stride_h")?, positive(o.stride_w, "stride_w")?);
            let (fh, fw) = (positive(o.filter_h, "filter_height")?, positive(o.filter_w, "filter_width")?);
            let h = window_dim(dim(x, 1), Dim::Fixed(fh), sh, 1, o.padding)?;
            let wd = window_dim(dim(x, 2), Dim::Fixed(fw), sw, 1, o.padding)?;
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), h, wd, dim(x, 3)])))
        }
        Op::Mean { keep_dims } => return reduce(inputs, *keep_dims, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64]),
        Op::Reshape { new_shape } => {
            count(inputs, 1, 2)?;
            let x = need(inputs, 0, "input")?;
            let target: Option<Vec<i64>> = match inputs.get(1).copied().flatten() {
                Some(s) => {
                    check_type(s.dtype, &[DType::I32, DType::I64], "shape")?;
                    const_ints(s)
                }
                None => new_shape.as_ref().map(|v| v.iter().map(|x| i64::from(*x)).collect()),
            };
            match target {
                Some(t) => Ok(out(x.dtype, reshape_target(&x.shape, &t)?)),
                None => return Ok(None),
            }
        }
        Op::Transpose => {
            count(inputs, 2, 2)?;
            let x = need(inputs, 0, "input")?;
            let p = need(inputs, 1, "perm")?;
            check_type(p.dtype, &[DType::I32, DType::I64], "perm")?;
            match const_ints(p) {
                Some(perm) => {
                    let r = x.shape.rank();
                    let mut seen = vec![false; r];
                    let mut dims = Vec::with_capacity(r);
                    if perm.len() != r {
                        return Err(format!("perm has {} entries for rank {r}", perm.len()));
                    }
                    for a in perm {
                        let i = usize::try_from(a).ok().filter(|i| *i < r && !seen[*i]).ok_or_else(|| format!("perm entry {a} invalid for rank {r}"))?;
                        seen[i] = true;
                        dims.push(x.shape.dims()[i]);
                    }
                    Ok(out(x.dtype, Shape::from_dims(dims)))
                }
                None => return Ok(None),
            }
        }
        Op::Concatenation(o) => {
            if inputs.is_empty() {
                return Err("expects at least 1 input".into());
            }
            if o.activation != Activation::None {
                return Err("the runtime's CONCATENATION kernel takes no fused activation".into());
            }
            let ts: Vec<&Tensor> = (0..inputs.len()).map(|i| need(inputs, i, "value")).collect::<Result<_, _>>()?;
            let d = same_type_check(&ts, "CONCATENATION")?;
            let r = ts[0].shape.rank();
            let axis = if o.axis < 0 { o.axis + r as i32 } else { o.axis };
            let axis = usize::try_from(axis).ok().filter(|a| *a < r).ok_or_else(|| format!("axis {} out of range for rank {r}", o.axis))?;
            let mut dims = ts[0].shape.dims().to_vec();
            for t in &ts[1..] {
                if t.shape.rank() != r {
                    return Err(format!("inputs have ranks {r} and {}", t.shape.rank()));
                }
                for (i, (a, b)) in dims.iter_mut().zip(t.shape.dims()).enumerate() {
                    if i == axis {
                        *a = match (*a, *b) {
                            (Dim::Fixed(x), Dim::Fixed(y)) => Dim::Fixed(x.checked_add(y).ok_or("axis size overflows")?),
                            _ => Dim::Dynamic,
                        };
                    } else if !dims_agree(*a, *b) {
                        return Err(format!("input shapes {} and {} differ outside axis {axis}", ts[0].shape, t.shape));
                    } else if *a == Dim::Dynamic {
                        *a = *b;
                    }
                }
            }
            Ok(out(d, Shape::from_dims(dims)))
        }
        Op::Pad => {
            count(inputs, 2, 2)?;
            let x = need(inputs, 0, "input")?;
            pad_shape(x, need(inputs, 1, "paddings")?, None)
        }
        Op::Softmax { .. } | Op::Logistic | Op::Relu | Op::Relu6 | Op::HardSwish | Op::Tanh => {
            count(inputs, 1, 1)?;
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16], "input")?;
            Ok(out(x.dtype, x.shape.clone()))
        }
        Op::Quantize => {
            count(inputs, 1, 1)?;
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, &[DType::F32, DType::F16, DType::I8, DType::U8, DType::I16], "input")?;
            Ok(vec![Inferred { dtype: None, shape: x.shape.clone() }])
        }
        Op::Dequantize => {
            count(inputs, 1, 1)?;
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, &[DType::I8, DType::U8, DType::I16, DType::F16, DType::I4], "input")?;
            Ok(out(DType::F32, x.shape.clone()))
        }
        Op::Minimum | Op::Maximum => {
            count(inputs, 2, 2)?;
            let a = need(inputs, 0, "lhs")?;
            let b = need(inputs, 1, "rhs")?;
            let d = same_type_check(&[a, b], op.name())?;
            check_type(d, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64], "input")?;
            Ok(out(d, broadcast(&a.shape, &b.shape)?))
        }
        Op::LeakyRelu { .. } => elementwise(inputs, &[DType::F32, DType::I8, DType::U8, DType::I16]),
        Op::Gelu { .. } => elementwise(inputs, &[DType::F32, DType::I8, DType::U8]),
        Op::Exp | Op::Sqrt | Op::Rsqrt => elementwise(inputs, &[DType::F32, DType::I8, DType::I16]),
        Op::Neg => elementwise(inputs, &[DType::F32, DType::I32, DType::I64]),
        Op::Abs => elementwise(inputs, &[DType::F32, DType::I8, DType::I16, DType::I32]),
        Op::Prelu => {
            count(inputs, 2, 2)?;
            let x = need(inputs, 0, "input")?;
            let alpha = need(inputs, 1, "alpha")?;
            check_type(x.dtype, &[DType::F32, DType::I8, DType::U8], "input")?;
            if alpha.dtype != x.dtype {
                return Err(format!("alpha type {} differs from input type {}", alpha.dtype, x.dtype));
            }
            let shape = broadcast(&x.shape, &alpha.shape)?;
            if shape.rank() > 4 {
                return Err(format!("the runtime's PRELU handles at most 4 dimensions, the output has shape {shape}"));
            }
            Ok(out(x.dtype, shape))
        }
        Op::Cast(_) => {
            // The runtime converts between the tensors' own types; the
            // options only record them (and files may leave them default).
            count(inputs, 1, 1)?;
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, CAST_TYPES, "input")?;
            Ok(vec![Inferred { dtype: None, shape: x.shape.clone() }])
        }
        Op::SplitV { num_splits } => split_v(inputs, *num_splits),
        Op::StridedSlice(o) => return strided_slice(inputs, o),
        Op::Slice => slice(inputs),
        Op::Gather(o) => gather(inputs, o),
        Op::Squeeze { squeeze_dims } => {
            count(inputs, 1, 1)?;
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, VALUE_TYPES, "input")?;
            let r = x.shape.rank();
            let mut remove = vec![false; r];
            if squeeze_dims.is_empty() {
                if x.shape.is_dynamic() {
                    return Ok(None);
                }
                for (i, d) in x.shape.dims().iter().enumerate() {
                    remove[i] = *d == Dim::Fixed(1);
                }
            } else {
                for &a in squeeze_dims {
                    let i = norm_axis(i64::from(a), r)?;
                    if !dims_agree(x.shape.dims()[i], Dim::Fixed(1)) {
                        return Err(format!("cannot squeeze dimension {a} of shape {}", x.shape));
                    }
                    remove[i] = true;
                }
            }
            let dims = x.shape.dims().iter().zip(&remove).filter(|(_, r)| !**r).map(|(d, _)| *d).collect();
            Ok(out(x.dtype, Shape::from_dims(dims)))
        }
        Op::ResizeBilinear(o) | Op::ResizeNearestNeighbor(o) => {
            count(inputs, 2, 2)?;
            let x = need(inputs, 0, "input")?;
            let size = need(inputs, 1, "size")?;
            rank(x, 4, "input")?;
            check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16], "input")?;
            check_type(size.dtype, &[DType::I32], "size")?;
            if size.shape.rank() != 1 || !dims_agree(dim(size, 0), Dim::Fixed(2)) {
                return Err(format!("size must have shape [2], has {}", size.shape));
            }
            if o.align_corners && o.half_pixel_centers {
                return Err("align_corners and half_pixel_centers cannot both be set".into());
            }
            let (h, w) = match const_ints(size) {
                Some(v) if v.len() == 2 => (positive_dim(v[0], "height")?, positive_dim(v[1], "width")?),
                Some(v) => return Err(format!("size has {} values, expected 2", v.len())),
                None => (Dim::Dynamic, Dim::Dynamic),
            };
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), h, w, dim(x, 3)])))
        }
        Op::TransposeConv(o) => {
            count(inputs, 3, 4)?;
            let os = need(inputs, 0, "output_shape")?;
            let w = need(inputs, 1, "weights")?;
            let x = need(inputs, 2, "input")?;
            let bias = inputs.get(3).copied().flatten();
            check_activation(o.activation)?;
            rank(x, 4, "input")?;
            rank(w, 4, "weights")?;
            check_type(os.dtype, &[DType::I32], "output_shape")?;
            if os.shape.rank() != 1 || !dims_agree(dim(os, 0), Dim::Fixed(4)) {
                return Err(format!("output_shape must have shape [4], has {}", os.shape));
            }
            check_weighted_types(x, w, bias)?;
            positive(o.stride_h, "stride_h")?;
            positive(o.stride_w, "stride_w")?;
            if !dims_agree(dim(x, 3), dim(w, 3)) {
                return Err(format!("input channels of {} do not match weights {}", x.shape, w.shape));
            }
            if let Some(b) = bias {
                rank(b, 1, "bias")?;
                if !dims_agree(dim(b, 0), dim(w, 0)) {
                    return Err(format!("bias shape {} does not match {} output channels", b.shape, dim(w, 0)));
                }
            }
            let shape = match const_ints(os) {
                Some(v) if v.len() == 4 => {
                    let dims: Vec<Dim> = v.iter().map(|d| positive_dim(*d, "output_shape entry")).collect::<Result<_, _>>()?;
                    if !dims_agree(dims[3], dim(w, 0)) || !dims_agree(dims[0], dim(x, 0)) {
                        return Err(format!("output_shape {v:?} does not fit input {} and weights {}", x.shape, w.shape));
                    }
                    // The runtime requires the input to be what a convolution
                    // of the output would give.
                    for (axis, stride) in [(1, o.stride_h), (2, o.stride_w)] {
                        if let (Dim::Fixed(k), Dim::Fixed(i)) = (dim(w, axis), dim(x, axis)) {
                            let expect = window_dim(dims[axis], Dim::Fixed(k), positive(stride, "stride")?, 1, o.padding)?;
                            if expect != Dim::Fixed(i) {
                                return Err(format!("output_shape {v:?} needs input size {expect} on axis {axis}, the input has {i}"));
                            }
                        }
                    }
                    Shape::from_dims(dims)
                }
                Some(v) => return Err(format!("output_shape has {} values, expected 4", v.len())),
                None => Shape::from_dims(vec![Dim::Dynamic; 4]),
            };
            Ok(out(quantized_out(x), shape))
        }
        Op::BatchMatMul(o) => {
            count(inputs, 2, 2)?;
            let a = need(inputs, 0, "lhs")?;
            let b = need(inputs, 1, "rhs")?;
            let ok = matches!(
                (a.dtype, b.dtype),
                (DType::F32, DType::F32) | (DType::I8, DType::I8) | (DType::I16, DType::I16) | (DType::F32, DType::I8)
            );
            if !ok {
                return Err(format!("unsupported type combination: lhs {}, rhs {}", a.dtype, b.dtype));
            }
            let (ra, rb) = (a.shape.rank(), b.shape.rank());
            if !(2..=5).contains(&ra) || !(2..=5).contains(&rb) {
                return Err(format!("operands must have rank 2 to 5, have shapes {} and {}", a.shape, b.shape));
            }
            let (m, ka) = if o.adj_x { (dim(a, ra - 1), dim(a, ra - 2)) } else { (dim(a, ra - 2), dim(a, ra - 1)) };
            let (kb, n) = if o.adj_y { (dim(b, rb - 1), dim(b, rb - 2)) } else { (dim(b, rb - 2), dim(b, rb - 1)) };
            if !dims_agree(ka, kb) {
                return Err(format!("inner dimensions of {} and {} differ", a.shape, b.shape));
            }
            let batch = broadcast(&Shape::from_dims(a.shape.dims()[..ra - 2].to_vec()), &Shape::from_dims(b.shape.dims()[..rb - 2].to_vec()))?;
            let mut dims = batch.dims().to_vec();
            dims.extend([m, n]);
            Ok(out(a.dtype, Shape::from_dims(dims)))
        }
        Op::ReduceMax { keep_dims } => return reduce(inputs, *keep_dims, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64]),
        Op::Sum { keep_dims } => return reduce(inputs, *keep_dims, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64]),
        Op::PadV2 => {
            count(inputs, 3, 3)?;
            let x = need(inputs, 0, "input")?;
            let c = need(inputs, 2, "constant_values")?;
            check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64], "input")?;
            if c.dtype != x.dtype || c.shape.num_elements().is_some_and(|n| n != 1) {
                return Err(format!("constant_values must be one {} value, is {} {}", x.dtype, c.dtype, c.shape));
            }
            pad_shape(x, need(inputs, 1, "paddings")?, None)
        }
        Op::MirrorPad { mode } => {
            count(inputs, 2, 2)?;
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64], "input")?;
            pad_shape(x, need(inputs, 1, "paddings")?, Some(*mode))
        }
        // The outputs of control flow come from the subgraphs it calls,
        // which validation checks with the whole model; here only what the
        // node alone shows.
        Op::If { .. } => {
            let cond = inputs.first().copied().flatten().ok_or("missing input 0 (cond)")?;
            if cond.dtype != DType::Bool || cond.shape.num_elements().is_some_and(|n| n != 1) {
                return Err(format!("cond must be one bool, is {} {}", cond.dtype, cond.shape));
            }
            if inputs.iter().any(Option::is_none) {
                return Err("IF has no optional inputs".into());
            }
            return Ok(None);
        }
        Op::While { .. } => {
            if inputs.iter().any(Option::is_none) {
                return Err("WHILE has no optional inputs".into());
            }
            return Ok(None);
        }
        Op::CallOnce { .. } => {
            count(inputs, 0, 0)?;
            return Ok(None);
        }
        Op::Equal | Op::NotEqual | Op::Less | Op::LessEqual | Op::Greater | Op::GreaterEqual => {
            count(inputs, 2, 2)?;
            let a = need(inputs, 0, "lhs")?;
            let b = need(inputs, 1, "rhs")?;
            let d = same_type_check(&[a, b], op.name())?;
            let types: &[DType] = if matches!(op, Op::Equal | Op::NotEqual) { COMPARE_EQ_TYPES } else { ELEMENTWISE_TYPES };
            check_type(d, types, "input")?;
            Ok(out(DType::Bool, broadcast(&a.shape, &b.shape)?))
        }
        Op::LogicalAnd | Op::LogicalOr => {
            count(inputs, 2, 2)?;
            let a = need(inputs, 0, "lhs")?;
            let b = need(inputs, 1, "rhs")?;
            check_type(a.dtype, &[DType::Bool], "lhs")?;
            check_type(b.dtype, &[DType::Bool], "rhs")?;
            Ok(out(DType::Bool, broadcast(&a.shape, &b.shape)?))
        }
        Op::LogicalNot => elementwise(inputs, &[DType::Bool]),
        Op::SelectV2 => {
            count(inputs, 3, 3)?;
            let c = need(inputs, 0, "condition")?;
            let x = need(inputs, 1, "x")?;
            let y = need(inputs, 2, "y")?;
            check_type(c.dtype, &[DType::Bool], "condition")?;
            let d = same_type_check(&[x, y], op.name())?;
            check_type(d, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::U32, DType::I64, DType::Bool], "x")?;
            let shape = broadcast(&broadcast(&c.shape, &x.shape)?, &y.shape)?;
            Ok(out(d, shape))
        }
        Op::Log | Op::Sin | Op::Cos => elementwise(inputs, &[DType::F32]),
        Op::LogSoftmax => elementwise(inputs, &[DType::F32, DType::I8, DType::U8]),
        Op::Pow | Op::FloorMod => {
            count(inputs, 2, 2)?;
            let a = need(inputs, 0, "lhs")?;
            let b = need(inputs, 1, "rhs")?;
            let d = same_type_check(&[a, b], op.name())?;
            let types: &[DType] = if matches!(op, Op::Pow) { &[DType::F32, DType::I32] } else { &[DType::F32, DType::I8, DType::I16, DType::I32, DType::I64] };
            check_type(d, types, "input")?;
            Ok(out(d, broadcast(&a.shape, &b.shape)?))
        }
        Op::ReduceMin { keep_dims } => return reduce(inputs, *keep_dims, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64]),
        Op::ReduceProd { keep_dims } => return reduce(inputs, *keep_dims, &[DType::F32, DType::I32, DType::I64]),
        Op::ArgMax { output_type } | Op::ArgMin { output_type } => {
            count(inputs, 2, 2)?;
            let x = need(inputs, 0, "input")?;
            let axis = need(inputs, 1, "axis")?;
            check_type(x.dtype, &[DType::F32, DType::U8, DType::I8, DType::I32, DType::I64, DType::Bool], "input")?;
            check_type(axis.dtype, &[DType::I32, DType::I64], "axis")?;
            check_type(*output_type, &[DType::I32, DType::I64], "output_type")?;
            if axis.shape.num_elements().is_some_and(|n| n != 1) {
                return Err(format!("axis must hold one value, has shape {}", axis.shape));
            }
            let r = x.shape.rank();
            if r == 0 {
                return Err("input must have rank ≥ 1".into());
            }
            match const_ints(axis) {
                Some(a) => {
                    let i = norm_axis(a.first().copied().ok_or("empty axis")?, r)?;
                    let mut dims = x.shape.dims().to_vec();
                    dims.remove(i);
                    Ok(out(*output_type, Shape::from_dims(dims)))
                }
                None => Ok(out(*output_type, Shape::from_dims(vec![Dim::Dynamic; r - 1]))),
            }
        }
        Op::BroadcastTo => {
            count(inputs, 2, 2)?;
            let x = need(inputs, 0, "input")?;
            let s = need(inputs, 1, "shape")?;
            check_type(x.dtype, VALUE_TYPES, "input")?;
            check_type(s.dtype, &[DType::I32, DType::I64], "shape")?;
            if s.shape.rank() != 1 {
                return Err(format!("shape must be 1-D, is {}", s.shape));
            }
            match const_ints(s) {
                Some(v) => {
                    let dims: Vec<Dim> = v
                        .iter()
                        .map(|d| u32::try_from(*d).map(Dim::Fixed).map_err(|_| format!("shape entry {d} is invalid")))
                        .collect::<Result<_, _>>()?;
                    let target = Shape::from_dims(dims);
                    if x.shape.rank() > target.rank() || broadcast(&x.shape, &target)? != target {
                        return Err(format!("input of shape {} does not broadcast to {target}", x.shape));
                    }
                    if target.rank() > 8 {
                        return Err(format!("the runtime's BROADCAST_TO handles at most 8 dimensions, shape is {target}"));
                    }
                    Ok(out(x.dtype, target))
                }
                None => match s.shape.dim(0).and_then(|d| d.fixed()) {
                    Some(n) => Ok(out(x.dtype, Shape::from_dims(vec![Dim::Dynamic; n as usize]))),
                    None => return Ok(None),
                },
            }
        }
        Op::Custom(_) | Op::Builtin(_) => return Ok(None),
        _ => return generated::infer(op, inputs),
    };
    r.map(Some)
}

/// Types a CAST reads and writes.
const CAST_TYPES: &[DType] = &[
    DType::F32, DType::F16, DType::F64, DType::I8, DType::U8, DType::I16, DType::U16, DType::I32, DType::U32, DType::I64, DType::Bool,
];

/// Types EQUAL and NOT_EQUAL compare.
const COMPARE_EQ_TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool, DType::String];

/// Types that layout and selection ops (slices, gather, squeeze, split) move.
const VALUE_TYPES: &[DType] = &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64, DType::Bool];

/// A one-input op that keeps type and shape.
fn elementwise(inputs: &[Option<&Tensor>], types: &[DType]) -> R {
    count(inputs, 1, 1)?;
    let x = need(inputs, 0, "input")?;
    check_type(x.dtype, types, "input")?;
    Ok(out(x.dtype, x.shape.clone()))
}

fn norm_axis(a: i64, r: usize) -> Result<usize, String> {
    let n = if a < 0 { a + r as i64 } else { a };
    usize::try_from(n).ok().filter(|i| *i < r).ok_or_else(|| format!("axis {a} out of range for rank {r}"))
}

fn positive_dim(v: i64, what: &str) -> Result<Dim, String> {
    u32::try_from(v).ok().filter(|v| *v > 0).map(Dim::Fixed).ok_or_else(|| format!("{what} must be positive, is {v}"))
}

/// MEAN, SUM and REDUCE_MAX: `[input, axes]`.
fn reduce(inputs: &[Option<&Tensor>], keep_dims: bool, types: &[DType]) -> Result<Option<Vec<Inferred>>, String> {
    count(inputs, 2, 2)?;
    let x = need(inputs, 0, "input")?;
    let axes = need(inputs, 1, "axes")?;
    check_type(axes.dtype, &[DType::I32, DType::I64], "axes")?;
    check_type(x.dtype, types, "input")?;
    let r = x.shape.rank();
    let shape = match const_ints(axes) {
        Some(ax) => {
            let mut reduce = vec![false; r];
            for a in ax {
                reduce[norm_axis(a, r)?] = true;
            }
            let dims = x
                .shape
                .dims()
                .iter()
                .zip(&reduce)
                .filter_map(|(d, red)| match (red, keep_dims) {
                    (true, true) => Some(Dim::Fixed(1)),
                    (true, false) => None,
                    (false, _) => Some(*d),
                })
                .collect();
            Shape::from_dims(dims)
        }
        None if keep_dims => Shape::from_dims(vec![Dim::Dynamic; r]),
        None => return Ok(None),
    };
    Ok(Some(out(x.dtype, shape)))
}

/// PAD, PADV2 and MIRROR_PAD: the padded shape (with the mirror limits).
fn pad_shape(x: &Tensor, p: &Tensor, mirror: Option<MirrorPadMode>) -> R {
    check_type(p.dtype, &[DType::I32, DType::I64], "paddings")?;
    let r = x.shape.rank();
    if p.shape.rank() != 2 || !dims_agree(dim(p, 0), Dim::Fixed(r as u32)) || !dims_agree(dim(p, 1), Dim::Fixed(2)) {
        return Err(format!("paddings must be [{r}, 2], is {}", p.shape));
    }
    let Some(pads) = const_ints(p) else {
        return Ok(out(x.dtype, Shape::from_dims(vec![Dim::Dynamic; r])));
    };
    if pads.len() != 2 * r {
        return Err(format!("paddings hold {} values for rank {r}", pads.len()));
    }
    let mut dims = Vec::with_capacity(r);
    for (i, d) in x.shape.dims().iter().enumerate() {
        let (a, b) = (pads[2 * i], pads[2 * i + 1]);
        if a < 0 || b < 0 {
            return Err(format!("negative padding {a}, {b} on axis {i}"));
        }
        if let (Some(mode), Dim::Fixed(n)) = (mirror, d) {
            let limit = match mode {
                MirrorPadMode::Reflect => i64::from(*n) - 1,
                MirrorPadMode::Symmetric => i64::from(*n),
            };
            if a > limit || b > limit {
                return Err(format!("{mode:?} padding {a}, {b} on axis {i} exceeds {limit} for size {n}"));
            }
        }
        dims.push(match d {
            Dim::Fixed(n) => Dim::Fixed(u32::try_from(i64::from(*n) + a + b).map_err(|_| "padded dimension overflows")?),
            Dim::Dynamic => Dim::Dynamic,
        });
    }
    Ok(out(x.dtype, Shape::from_dims(dims)))
}

/// SPLIT_V: `[input, size_splits, axis]`, `num_splits` outputs.
fn split_v(inputs: &[Option<&Tensor>], num_splits: i32) -> R {
    count(inputs, 3, 3)?;
    let x = need(inputs, 0, "input")?;
    let sizes = need(inputs, 1, "size_splits")?;
    let axis = need(inputs, 2, "axis")?;
    check_type(x.dtype, VALUE_TYPES, "input")?;
    check_type(sizes.dtype, &[DType::I32, DType::I64], "size_splits")?;
    check_type(axis.dtype, &[DType::I32], "axis")?;
    let n = usize::try_from(num_splits).ok().filter(|n| *n > 0).ok_or_else(|| format!("num_splits must be positive, is {num_splits}"))?;
    if sizes.shape.rank() != 1 || !dims_agree(dim(sizes, 0), Dim::Fixed(n as u32)) {
        return Err(format!("size_splits must have shape [{n}], has {}", sizes.shape));
    }
    if axis.shape.num_elements().is_some_and(|k| k != 1) {
        return Err(format!("axis must hold one value, has shape {}", axis.shape));
    }
    let r = x.shape.rank();
    let Some(a) = const_ints(axis).and_then(|v| v.first().copied()) else {
        return Ok((0..n).map(|_| Inferred { dtype: Some(x.dtype), shape: Shape::from_dims(vec![Dim::Dynamic; r]) }).collect());
    };
    let a = norm_axis(a, r)?;
    let along: Vec<Dim> = match const_ints(sizes) {
        Some(v) => {
            if v.len() != n {
                return Err(format!("size_splits has {} values for {n} splits", v.len()));
            }
            let unknown = v.iter().filter(|s| **s == -1).count();
            if unknown > 1 || v.iter().any(|s| *s < -1) {
                return Err(format!("size_splits {v:?}: sizes must be ≥ 0 with at most one -1"));
            }
            let known: i64 = v.iter().filter(|s| **s >= 0).sum();
            let total = x.shape.dims()[a].fixed().map(i64::from);
            if let Some(t) = total
                && ((unknown == 0 && known != t) || known > t) {
                    return Err(format!("size_splits {v:?} do not add up to {t}"));
                }
            v.iter()
                .map(|s| match (*s, total) {
                    (-1, Some(t)) => Ok(Dim::Fixed(u32::try_from(t - known).map_err(|_| "split size overflows")?)),
                    (-1, None) => Ok(Dim::Dynamic),
                    (s, _) => Ok(Dim::Fixed(u32::try_from(s).map_err(|_| "split size overflows")?)),
                })
                .collect::<Result<_, String>>()?
        }
        None => vec![Dim::Dynamic; n],
    };
    Ok(along
        .into_iter()
        .map(|d| {
            let mut dims = x.shape.dims().to_vec();
            dims[a] = d;
            Inferred { dtype: Some(x.dtype), shape: Shape::from_dims(dims) }
        })
        .collect())
}

/// The `[start, stop)` range and stride a STRIDED_SLICE takes along one
/// dimension of size `size` (numpy semantics with TFLite's masks): returns
/// `(start, count)`.
pub(crate) fn strided_range(size: i64, begin: i64, end: i64, stride: i64, bits: (bool, bool, bool), offset: bool) -> (i64, i64) {
    let (begin_masked, end_masked, shrink) = bits;
    let mut start = if begin < 0 { begin + size } else { begin };
    start = if stride > 0 { start.clamp(0, size) } else { start.clamp(-1, size - 1) };
    if begin_masked {
        start = if stride > 0 { 0 } else { size - 1 };
    }
    if shrink {
        return (start, i64::from(start >= 0 && start < size));
    }
    let mut stop = if offset { start.saturating_add(end) } else if end < 0 { end + size } else { end };
    stop = if stride > 0 { stop.clamp(0, size) } else { stop.clamp(-1, size - 1) };
    if end_masked && !offset {
        stop = if stride > 0 { size } else { -1 };
    }
    let count = if stride > 0 {
        if stop > start { (stop - start + stride - 1) / stride } else { 0 }
    } else if start > stop {
        (start - stop + (-stride) - 1) / (-stride)
    } else {
        0
    };
    (start, count)
}

fn strided_slice(inputs: &[Option<&Tensor>], o: &StridedSliceOptions) -> Result<Option<Vec<Inferred>>, String> {
    count(inputs, 4, 4)?;
    let x = need(inputs, 0, "input")?;
    check_type(x.dtype, VALUE_TYPES, "input")?;
    let r = x.shape.rank();
    if r > 5 {
        return Err(format!("the runtime slices at most 5 dimensions, input has shape {}", x.shape));
    }
    let mut vals = Vec::with_capacity(3);
    for (i, what) in [(1, "begin"), (2, "end"), (3, "strides")] {
        let t = need(inputs, i, what)?;
        check_type(t.dtype, &[DType::I32, DType::I64], what)?;
        if t.shape.rank() != 1 {
            return Err(format!("{what} must be 1-D, has shape {}", t.shape));
        }
        if let Dim::Fixed(n) = dim(t, 0)
            && n as usize > r {
                return Err(format!("{what} has {n} entries for rank {r}"));
            }
        vals.push(const_ints(t));
    }
    if o.ellipsis_mask != 0 || o.new_axis_mask != 0 {
        // Valid, but not inferred here.
        return Ok(None);
    }
    let (Some(begin), Some(end), Some(strides)) = (vals[0].take(), vals[1].take(), vals[2].take()) else {
        return Ok(None);
    };
    let n = begin.len();
    if end.len() != n || strides.len() != n {
        return Err(format!("begin, end and strides have {}, {} and {} entries", n, end.len(), strides.len()));
    }
    let mut dims = Vec::with_capacity(r);
    for (i, d) in x.shape.dims().iter().enumerate() {
        if i >= n {
            dims.push(*d);
            continue;
        }
        if strides[i] == 0 {
            return Err(format!("stride {i} is zero"));
        }
        let bit = |m: i32| (m >> i) & 1 != 0;
        let shrink = bit(o.shrink_axis_mask);
        match d {
            Dim::Fixed(size) => {
                let (_, c) = strided_range(i64::from(*size), begin[i], end[i], strides[i], (bit(o.begin_mask), bit(o.end_mask), shrink), o.offset);
                if shrink {
                    if c != 1 {
                        return Err(format!("shrunk dimension {i} has index {} out of range for size {size}", begin[i]));
                    }
                    continue;
                }
                dims.push(Dim::Fixed(u32::try_from(c).map_err(|_| "slice size overflows")?));
            }
            Dim::Dynamic if shrink => {}
            Dim::Dynamic => dims.push(Dim::Dynamic),
        }
    }
    Ok(Some(out(x.dtype, Shape::from_dims(dims))))
}

fn slice(inputs: &[Option<&Tensor>]) -> R {
    count(inputs, 3, 3)?;
    let x = need(inputs, 0, "input")?;
    let b = need(inputs, 1, "begin")?;
    let s = need(inputs, 2, "size")?;
    check_type(x.dtype, VALUE_TYPES, "input")?;
    let r = x.shape.rank();
    if r > 5 {
        return Err(format!("the runtime slices at most 5 dimensions, input has shape {}", x.shape));
    }
    for (t, what) in [(b, "begin"), (s, "size")] {
        check_type(t.dtype, &[DType::I32, DType::I64], what)?;
        if t.shape.rank() != 1 || !dims_agree(dim(t, 0), Dim::Fixed(r as u32)) {
            return Err(format!("{what} must have shape [{r}], has {}", t.shape));
        }
    }
    let (Some(begin), Some(size)) = (const_ints(b), const_ints(s)) else {
        return Ok(out(x.dtype, Shape::from_dims(vec![Dim::Dynamic; r])));
    };
    if begin.len() != r || size.len() != r {
        return Err(format!("begin and size must have {r} values"));
    }
    let mut dims = Vec::with_capacity(r);
    for (i, d) in x.shape.dims().iter().enumerate() {
        let (bg, sz) = (begin[i], size[i]);
        if bg < 0 || sz < -1 {
            return Err(format!("begin {bg} / size {sz} invalid on axis {i}"));
        }
        dims.push(match (d.fixed().map(i64::from), sz) {
            (Some(n), -1) if bg <= n => Dim::Fixed((n - bg) as u32),
            (None, -1) => Dim::Dynamic,
            (Some(n), sz) if sz >= 0 && bg + sz <= n => Dim::Fixed(sz as u32),
            (None, sz) if sz >= 0 => Dim::Fixed(u32::try_from(sz).map_err(|_| "slice size overflows")?),
            (Some(n), _) => return Err(format!("slice [{bg}, +{sz}) exceeds size {n} on axis {i}")),
            (None, _) => return Err(format!("invalid slice size {sz}")),
        });
    }
    Ok(out(x.dtype, Shape::from_dims(dims)))
}

fn gather(inputs: &[Option<&Tensor>], o: &GatherOptions) -> R {
    count(inputs, 2, 2)?;
    let p = need(inputs, 0, "params")?;
    let idx = need(inputs, 1, "indices")?;
    check_type(p.dtype, VALUE_TYPES, "params")?;
    check_type(idx.dtype, &[DType::I32, DType::I64, DType::I16], "indices")?;
    let (pr, ir) = (p.shape.rank(), idx.shape.rank());
    let axis = norm_axis(i64::from(o.axis), pr)?;
    let bd = if o.batch_dims < 0 { i64::from(o.batch_dims) + ir as i64 } else { i64::from(o.batch_dims) };
    let bd = usize::try_from(bd).ok().filter(|b| *b <= ir && *b <= axis).ok_or_else(|| format!("batch_dims {} invalid for axis {axis} and indices rank {ir}", o.batch_dims))?;
    for i in 0..bd {
        if !dims_agree(dim(p, i), dim(idx, i)) {
            return Err(format!("batch dimension {i} of params {} and indices {} differ", p.shape, idx.shape));
        }
    }
    if let (Some(v), Dim::Fixed(n)) = (const_ints(idx), dim(p, axis))
        && let Some(bad) = v.iter().find(|i| **i < 0 || **i >= i64::from(n)) {
            return Err(format!("index {bad} out of range for axis size {n}"));
        }
    let mut dims = p.shape.dims()[..axis].to_vec();
    dims.extend_from_slice(&idx.shape.dims()[bd..]);
    dims.extend_from_slice(&p.shape.dims()[axis + 1..]);
    Ok(out(p.dtype, Shape::from_dims(dims)))
}

/// The shape a RESHAPE to `target` gives (one `-1` is inferred).
pub(crate) fn reshape_target(input: &Shape, target: &[i64]) -> Result<Shape, String> {
    let mut infer_at = None;
    let mut known: u64 = 1;
    let mut dims = Vec::with_capacity(target.len());
    for (i, &t) in target.iter().enumerate() {
        if t == -1 {
            if infer_at.replace(i).is_some() {
                return Err("more than one -1 in the new shape".into());
            }
            dims.push(Dim::Dynamic);
        } else {
            let n = u32::try_from(t).map_err(|_| format!("invalid new shape entry {t}"))?;
            known = known.checked_mul(u64::from(n)).ok_or("new shape overflows")?;
            dims.push(Dim::Fixed(n));
        }
    }
    let total = input.num_elements();
    match (infer_at, total) {
        (Some(i), Some(n)) => {
            if known == 0 || n % known != 0 {
                return Err(format!("cannot reshape {input} ({n} elements) to {target:?}"));
            }
            dims[i] = Dim::Fixed(u32::try_from(n / known).map_err(|_| "inferred dimension overflows")?);
        }
        (None, Some(n)) if n != known => {
            return Err(format!("cannot reshape {input} ({n} elements) to {target:?}"));
        }
        _ => {}
    }
    Ok(Shape::from_dims(dims))
}

