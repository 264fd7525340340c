//! Output type and shape inference for the typed TFLite ops.
//!
//! The builders use it to create output tensors, and validation uses it to
//! check what a model claims. Dynamic dimensions propagate as [`Dim::Dynamic`].

use crate::model::{Activation, DType, Dim, Op, Padding, Shape, Tensor};

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
                if let Dim::Fixed(oc) = dim(w, 0) {
                    if oc % (c / fc) != 0 {
                        return Err(format!("output channels {oc} are not a multiple of the group count {}", c / fc));
                    }
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
            if let (Dim::Fixed(c), Dim::Fixed(oc)) = (dim(x, 3), dim(w, 3)) {
                if u64::from(c) * u64::from(m) != u64::from(oc) {
                    return Err(format!("filter has {oc} channels, expected input channels {c} × depth_multiplier {m}"));
                }
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
            if let Some(b) = bias {
                if b.shape.num_elements().is_some_and(|n| units.fixed().is_some_and(|u| u64::from(u) != n)) {
                    return Err(format!("bias shape {} does not match {units} units", b.shape));
                }
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
        Op::Mean { keep_dims } => {
            count(inputs, 2, 2)?;
            let x = need(inputs, 0, "input")?;
            let axes = need(inputs, 1, "axes")?;
            check_type(axes.dtype, &[DType::I32, DType::I64], "axes")?;
            check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16, DType::I32, DType::I64], "input")?;
            let r = x.shape.rank();
            let shape = match const_ints(axes) {
                Some(ax) => {
                    let mut reduce = vec![false; r];
                    for a in ax {
                        let n = if a < 0 { a + r as i64 } else { a };
                        let i = usize::try_from(n).ok().filter(|i| *i < r).ok_or_else(|| format!("axis {a} out of range for rank {r}"))?;
                        reduce[i] = true;
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
                None if *keep_dims => Shape::from_dims(vec![Dim::Dynamic; r]),
                None => return Ok(None),
            };
            Ok(out(x.dtype, shape))
        }
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
            let p = need(inputs, 1, "paddings")?;
            check_type(p.dtype, &[DType::I32, DType::I64], "paddings")?;
            let r = x.shape.rank();
            if p.shape.rank() != 2 || !dims_agree(dim(p, 0), Dim::Fixed(r as u32)) || !dims_agree(dim(p, 1), Dim::Fixed(2)) {
                return Err(format!("paddings must be [{r}, 2], is {}", p.shape));
            }
            match const_ints(p) {
                Some(pads) => {
                    let mut dims = Vec::with_capacity(r);
                    for (i, d) in x.shape.dims().iter().enumerate() {
                        let (a, b) = (pads[2 * i], pads[2 * i + 1]);
                        if a < 0 || b < 0 {
                            return Err(format!("negative padding {a}, {b} on axis {i}"));
                        }
                        dims.push(match d {
                            Dim::Fixed(n) => Dim::Fixed(
                                u32::try_from(i64::from(*n) + a + b).map_err(|_| "padded dimension overflows")?,
                            ),
                            Dim::Dynamic => Dim::Dynamic,
                        });
                    }
                    Ok(out(x.dtype, Shape::from_dims(dims)))
                }
                None => Ok(out(x.dtype, Shape::from_dims(vec![Dim::Dynamic; r]))),
            }
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
        Op::Custom(_) | Op::Builtin(_) => return Ok(None),
    };
    r.map(Some)
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

