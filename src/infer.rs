//! Output type and shape inference for the typed TFLite ops.
//!
//! The builders use it to create output tensors, and validation uses it to
//! check what a model claims. Dynamic dimensions propagate as [`Dim::Dynamic`].
//!
//! The rules live in one module per op family:
//!
//! - `infer/conv.rs`: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
//!   FULLY_CONNECTED, BATCH_MATMUL, AVERAGE_POOL_2D, MAX_POOL_2D;
//! - `infer/elementwise.rs`: binary arithmetic, activations, unary math,
//!   comparisons, logic and SELECT_V2;
//! - `infer/layout.rs`: RESHAPE, TRANSPOSE, SQUEEZE, CONCATENATION, the pads,
//!   SPLIT_V, the slices, GATHER, BROADCAST_TO, the resizes and CAST;
//! - `infer/reduce.rs`: the reductions, ARG_MAX, ARG_MIN and the softmaxes;
//! - `infer/quant.rs`: QUANTIZE and DEQUANTIZE;
//! - `infer/control.rs`: IF, WHILE and CALL_ONCE;
//! - `infer/generated.rs`: the ops generated from `schema/ops.spec`.
//!
//! This file has the dispatcher and the helpers more than one family uses.

mod control;
mod conv;
mod elementwise;
mod generated;
mod layout;
mod quant;
mod reduce;

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

/// Whether an op error's detail is about element types (from
/// [`check_type`], [`same_type_check`] or the validator's check that
/// quantized integer types carry quantization parameters), not shapes.
pub(crate) fn is_type_error(detail: &str) -> bool {
    detail.contains(" is not one of ") || detail.contains(" inputs must share a type, got ") || detail.contains(" but has no quantization parameters")
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

fn check_type(d: DType, allowed: &[DType], what: &str) -> Result<(), String> {
    if allowed.contains(&d) {
        Ok(())
    } else {
        let names: Vec<_> = allowed.iter().map(|d| d.schema_name()).collect();
        Err(format!("{what} type {d} is not one of {}", names.join(", ")))
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

/// Infers the outputs of a typed op. Returns `Ok(None)` for ops without
/// inference support (custom and opaque builtins).
pub(crate) fn infer(op: &Op, inputs: &[Option<&Tensor>]) -> Result<Option<Vec<Inferred>>, String> {
    if let Op::Custom(_) | Op::Builtin(_) = op {
        return Ok(None);
    }
    conv::infer(op, inputs)
        .or_else(|| elementwise::infer(op, inputs))
        .or_else(|| layout::infer(op, inputs))
        .or_else(|| reduce::infer(op, inputs))
        .or_else(|| quant::infer(op, inputs))
        .or_else(|| control::infer(op, inputs))
        .unwrap_or_else(|| generated::infer(op, inputs))
}

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
        // Run-time axes: a dimension is kept, or reduced to 1, so one of
        // size 1 stays 1 under keep_dims; others are unknown.
        None if keep_dims => Shape::from_dims(x.shape.dims().iter().map(|d| if *d == Dim::Fixed(1) { *d } else { Dim::Dynamic }).collect()),
        // Without keep_dims the rank is known only when no axis can repeat:
        // no axes (nothing is reduced) or a single one.
        None => match axes.shape.num_elements() {
            Some(0) => x.shape.clone(),
            Some(1) if r > 0 => Shape::from_dims(vec![Dim::Dynamic; r - 1]),
            _ => return Ok(None),
        },
    };
    Ok(Some(out(x.dtype, shape)))
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

#[cfg(test)]
mod type_error_tests {
    use super::*;

    #[test]
    fn type_errors_are_recognized_and_shape_errors_are_not() {
        let e = check_type(DType::U32, &[DType::F32, DType::I32], "input").unwrap_err();
        assert!(is_type_error(&e), "{e}");
        let t = |d| Tensor::new("t", d, Shape::new([2u32]));
        let (a, b) = (t(DType::F32), t(DType::F64));
        let e = same_type_check(&[&a, &b], "MUL").unwrap_err();
        assert!(is_type_error(&e), "{e}");
        assert!(is_type_error("input is INT8 but has no quantization parameters"));
        let e = window_dim(Dim::Fixed(2), Dim::Fixed(3), 1, 1, Padding::Valid).unwrap_err();
        assert!(!is_type_error(&e), "{e}");
    }
}
