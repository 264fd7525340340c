//! Kernels of the generated numeric ops: roundings, activations, binary arithmetic, normalizations, reductions, shapes and ranges.
//!
//! `FLOOR`, `CEIL`, `ROUND`, `RELU_N1_TO_1`, `RELU_0_TO_1`, `ELU`, `SQUARE`,
//! `SIGN`, `ZEROS_LIKE`, `FAKE_QUANT`, `L2_NORMALIZATION`,
//! `LOCAL_RESPONSE_NORMALIZATION`, `BUCKETIZE`, `SQUARED_DIFFERENCE`,
//! `FLOOR_DIV`, `ATAN2`, `BITWISE_XOR`, `RIGHT_SHIFT`, `ADD_N`,
//! `REDUCE_ANY`, `REDUCE_ALL`, `CUMSUM`, `SHAPE`, `RANK`, `FILL`, `RANGE`
//! and `BROADCAST_ARGS`, as LiteRT's builtin kernels compute them.

use std::cmp::Ordering;

use super::activation::unary_with;
use super::elementwise::{broadcast_shape, zip_broadcast};
use super::{clamp, strides, walk, Cx, Result};
use crate::eval::{convert, Value};
use crate::model::{
    Activation, BucketizeOptions, CumsumOptions, DType, FakeQuantOptions, L2NormOptions, LocalResponseNormalizationOptions, Op,
};

/// Whether this module has a kernel for `op`.
pub(super) fn handles(op: &Op) -> bool {
    matches!(
        op,
        Op::Floor
            | Op::Ceil
            | Op::Round
            | Op::ReluN1To1
            | Op::Relu0To1
            | Op::Elu
            | Op::Square
            | Op::Sign
            | Op::ZerosLike
            | Op::FakeQuant(_)
            | Op::L2Normalization(_)
            | Op::LocalResponseNormalization(_)
            | Op::Bucketize(_)
            | Op::SquaredDifference
            | Op::FloorDiv
            | Op::Atan2
            | Op::BitwiseXor
            | Op::RightShift
            | Op::AddN
            | Op::ReduceAny(_)
            | Op::ReduceAll(_)
            | Op::Cumsum(_)
            | Op::Shape(_)
            | Op::Rank
            | Op::Fill
            | Op::Range
            | Op::BroadcastArgs
    )
}

/// Runs the kernel of `cx.op`.
pub(super) fn eval(cx: &Cx<'_>) -> Result<Vec<Value>> {
    match cx.op {
        Op::Floor => unary_with(cx, f64::floor),
        Op::Ceil => unary_with(cx, f64::ceil),
        // The runtime's RoundToNearest: halves go to the even neighbour.
        Op::Round => unary_with(cx, f64::round_ties_even),
        Op::ReluN1To1 => unary_with(cx, |x| clamp(x, (-1.0, 1.0))),
        Op::Relu0To1 => unary_with(cx, |x| clamp(x, (0.0, 1.0))),
        Op::Elu => unary_with(cx, |x| if x < 0.0 { x.exp_m1() } else { x }),
        Op::Square => {
            // The runtime's SQUARE is float only.
            if let Some(x) = cx.optional(0).filter(|x| !x.dtype.is_float()) {
                return Err(cx.unsupported(format!("operand type {} (float only)", x.dtype)));
            }
            unary_with(cx, |x| x * x)
        }
        Op::Sign => unary_with(cx, sign),
        Op::ZerosLike => zeros_like(cx),
        Op::FakeQuant(o) => fake_quant(cx, o),
        Op::L2Normalization(o) => l2_normalization(cx, o),
        Op::LocalResponseNormalization(o) => local_response_normalization(cx, o),
        Op::Bucketize(o) => bucketize(cx, o),
        Op::SquaredDifference => binary_real(cx, |u, v| (u - v) * (u - v)),
        Op::FloorDiv => floor_div(cx),
        Op::Atan2 => atan2(cx),
        Op::BitwiseXor => bitwise(cx, false),
        Op::RightShift => bitwise(cx, true),
        Op::AddN => add_n(cx),
        Op::ReduceAny(o) => reduce_bool(cx, o.keep_dims, true),
        Op::ReduceAll(o) => reduce_bool(cx, o.keep_dims, false),
        Op::Cumsum(o) => cumsum(cx, o),
        Op::Shape(_) => shape(cx),
        Op::Rank => rank(cx),
        Op::Fill => fill(cx),
        Op::Range => range(cx),
        Op::BroadcastArgs => broadcast_args(cx),
        _ => Err(cx.unsupported("no reference kernel")),
    }
}

/// −1, 0 or 1 by the sign (NaN gives 0, as `(0 < x) - (x < 0)` does).
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// A broadcasting binary op on real values.
fn binary_real(cx: &Cx<'_>, f: impl Fn(f64, f64) -> f64) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "lhs")?;
    let b = cx.input(1, "rhs")?;
    let (shape, n) = cx.broadcast(a, b)?;
    let (x, y) = (cx.real(a)?, cx.real(b)?);
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        zip_broadcast(cx, &a.shape, &b.shape, &shape, &x, &y, |u, v| out.push(f(u, v)))?;
    }
    cx.finish(shape, out)
}

/// `ATAN2`: `atan2(y, x)` of operands of one shape (the runtime does not
/// broadcast them).
fn atan2(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let (a, b) = (cx.input(0, "y")?, cx.input(1, "x")?);
    if a.shape != b.shape {
        return Err(cx.shape_err(format!("operands of shapes {:?} and {:?} (the runtime wants equal shapes)", a.shape, b.shape)));
    }
    binary_real(cx, f64::atan2)
}

/// `FLOOR_DIV`: `floor(a / b)`. Integers divide exactly (division by zero
/// is an error, as in the runtime); float32 divides in float32 before the
/// floor, as the runtime does.
fn floor_div(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "lhs")?;
    let b = cx.input(1, "rhs")?;
    if a.dtype != b.dtype {
        return Err(cx.unsupported(format!("operands of types {} and {}", a.dtype, b.dtype)));
    }
    if a.dtype.is_float() {
        let f32_math = a.dtype == DType::F32;
        return binary_real(cx, |u, v| {
            if f32_math {
                f64::from(((u as f32) / (v as f32)).floor())
            } else {
                (u / v).floor()
            }
        });
    }
    if a.dtype == DType::Bool {
        return Err(cx.unsupported("bool operands"));
    }
    // Integer types divide their stored integers (the runtime ignores any
    // quantization parameters here).
    let (shape, n) = cx.broadcast(a, b)?;
    if n > 0 && b.data.contains(&0.0) {
        return Err(cx.shape_err("integer FLOOR_DIV by zero"));
    }
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        zip_broadcast(cx, &a.shape, &b.shape, &shape, &a.data, &b.data, |u, v| {
            let (p, q) = (u as i64, v as i64);
            let r = match (p.checked_div(q), p.checked_rem(q)) {
                (Some(d), Some(m)) if m != 0 && ((m < 0) != (q < 0)) => (d - 1) as f64,
                (Some(d), _) => d as f64,
                // i64::MIN / -1 (or a zero that slipped through).
                _ => (u / v).floor(),
            };
            out.push(r);
        })?;
    }
    cx.finish_raw(shape, out)
}

/// `BITWISE_XOR`, or `RIGHT_SHIFT` (`shift`): on the stored integers of two
/// operands of one integer type. Shift amounts are clamped to
/// `[0, bits - 1]` as the runtime does; signed values shift arithmetically.
fn bitwise(cx: &Cx<'_>, shift: bool) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "lhs")?;
    let b = cx.input(1, "rhs")?;
    if a.dtype != b.dtype {
        return Err(cx.unsupported(format!("operands of types {} and {}", a.dtype, b.dtype)));
    }
    let bits: i64 = match a.dtype {
        DType::I8 | DType::U8 => 8,
        DType::I16 | DType::U16 => 16,
        DType::I32 | DType::U32 => 32,
        DType::I64 => 64,
        other => return Err(cx.unsupported(format!("operand type {other} (integers only)"))),
    };
    cx.same_type(a)?;
    let (shape, n) = cx.broadcast(a, b)?;
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        zip_broadcast(cx, &a.shape, &b.shape, &shape, &a.data, &b.data, |u, v| {
            let (p, q) = (u as i64, v as i64);
            let r = if shift { p >> q.clamp(0, bits - 1) } else { p ^ q };
            out.push(r as f64);
        })?;
    }
    cx.finish_raw(shape, out)
}

/// `ADD_N`: the elementwise sum of inputs of one shape.
fn add_n(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, usize::MAX)?;
    let first = cx.input(0, "input")?;
    let mut acc = cx.real(first)?.into_owned();
    for i in 1..cx.inputs.len() {
        let x = cx.input(i, "input")?;
        if x.shape != first.shape {
            return Err(cx.shape_err(format!("input {i} has shape {:?}, input 0 {:?}", x.shape, first.shape)));
        }
        let xs = cx.real(x)?;
        acc.iter_mut().zip(xs.iter()).for_each(|(a, v)| *a += v);
    }
    cx.finish(first.shape.clone(), acc)
}

/// `ZEROS_LIKE`: zeros of the input's shape (stored zeros for integers).
fn zeros_like(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    cx.finish_raw(x.shape.clone(), vec![0.0; x.data.len()])
}

/// `FAKE_QUANT`: the TF fake quantization with a nudged zero point, in
/// float32 like the runtime: `quant_min = 0`, `quant_max = 2^num_bits - 1`,
/// rounding half away from zero.
fn fake_quant(cx: &Cx<'_>, o: &FakeQuantOptions) -> Result<Vec<Value>> {
    if o.narrow_range {
        return Err(cx.unsupported("narrow_range (the runtime rejects it: it is meant for weights only)"));
    }
    if !(1..=16).contains(&o.num_bits) {
        return Err(cx.unsupported(format!("num_bits {} (1 to 16 supported)", o.num_bits)));
    }
    let quant_min = 0i32;
    let quant_max = (1i32 << o.num_bits) - 1;
    let (qmin, qmax) = (quant_min as f32, quant_max as f32);
    let scale = (o.max - o.min) / (qmax - qmin);
    if !(scale.is_finite() && scale > 0.0) {
        return Err(cx.shape_err(format!("range [{}, {}] gives the scale {scale}", o.min, o.max)));
    }
    let zero_from_min = qmin - o.min / scale;
    let zero = if zero_from_min < qmin {
        qmin
    } else if zero_from_min > qmax {
        qmax
    } else {
        zero_from_min.round()
    };
    let nudged_min = (qmin - zero) * scale;
    let nudged_max = (qmax - zero) * scale;
    let inv = 1.0 / scale;
    unary_with(cx, |v| {
        let v = v as f32;
        let c = nudged_max.min(nudged_min.max(v));
        f64::from(((c - nudged_min) * inv).round() * scale + nudged_min)
    })
}

/// The `[outer, depth]` split of an operand over its last dimension.
fn rows(cx: &Cx<'_>, x: &Value) -> Result<usize> {
    let Some(&depth) = x.shape.last() else {
        return Err(cx.shape_err("input must have rank ≥ 1, is a scalar"));
    };
    Ok(depth)
}

/// `L2_NORMALIZATION` over the last axis: `x / max(‖x‖₂, 1e-6)`.
fn l2_normalization(cx: &Cx<'_>, o: &L2NormOptions) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    if o.fused_activation_function != Activation::None {
        return Err(cx.unsupported(format!("fused activation {:?}", o.fused_activation_function)));
    }
    let depth = rows(cx, x)?;
    let mut data = cx.real(x)?.into_owned();
    if depth > 0 {
        for row in data.chunks_exact_mut(depth) {
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-6);
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
    cx.finish(x.shape.clone(), data)
}

/// `LOCAL_RESPONSE_NORMALIZATION` over the last axis, as TensorFlow and the
/// runtime's optimized kernel define it:
/// `x_c · (bias + alpha · Σ_{|k - c| ≤ radius} x_k²)^-beta`.
fn local_response_normalization(cx: &Cx<'_>, o: &LocalResponseNormalizationOptions) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let depth = rows(cx, x)?;
    let radius = usize::try_from(o.radius).map_err(|_| cx.shape_err(format!("radius {} is negative", o.radius)))?;
    let (bias, alpha, beta) = (f64::from(o.bias), f64::from(o.alpha), f64::from(o.beta));
    let xs = cx.real(x)?;
    let mut out = Vec::with_capacity(xs.len());
    if depth > 0 {
        for row in xs.chunks_exact(depth) {
            for (c, v) in row.iter().enumerate() {
                let lo = c.saturating_sub(radius);
                let hi = c.saturating_add(radius).saturating_add(1).min(depth);
                let sum: f64 = row.get(lo..hi).ok_or_else(|| cx.internal())?.iter().map(|w| w * w).sum();
                out.push(v * (bias + alpha * sum).powf(-beta));
            }
        }
    }
    cx.finish(x.shape.clone(), out)
}

/// `BUCKETIZE`: for each element, the number of boundaries ≤ it (the
/// runtime's `upper_bound`).
fn bucketize(cx: &Cx<'_>, o: &BucketizeOptions) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let bounds: Vec<f64> = o.boundaries.iter().map(|b| f64::from(*b)).collect();
    if bounds.windows(2).any(|w| w[0].partial_cmp(&w[1]).is_none_or(|c| c == Ordering::Greater)) {
        return Err(cx.shape_err("boundaries must be sorted"));
    }
    let xs = cx.real(x)?;
    // `upper_bound`: the first boundary `b` with `v < b` (NaN sorts last).
    let data = xs.iter().map(|v| bounds.partition_point(|b| v.partial_cmp(b) != Some(Ordering::Less)) as f64).collect();
    cx.finish_raw(x.shape.clone(), data)
}

/// The reduced-dimension flags of `axes` over `rank` (negative axes count
/// from the end, repeats are ignored).
fn reduced_axes(cx: &Cx<'_>, axes: &[i64], rank: usize) -> Result<Vec<bool>> {
    let mut reduced = vec![false; rank];
    for a in axes {
        let i = cx.axis(*a, rank)?;
        if let Some(r) = reduced.get_mut(i) {
            *r = true;
        }
    }
    Ok(reduced)
}

/// `REDUCE_ANY` (`any`) or `REDUCE_ALL` of a bool operand over the axes in
/// the second input.
fn reduce_bool(cx: &Cx<'_>, keep_dims: bool, any: bool) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    if x.dtype != DType::Bool {
        return Err(cx.unsupported(format!("operand of type {} (bool only)", x.dtype)));
    }
    let axes = cx.ints(cx.input(1, "axes")?, "axes")?;
    let reduced = reduced_axes(cx, &axes, x.rank())?;
    let kept: Vec<usize> = x.shape.iter().zip(&reduced).map(|(d, r)| if *r { 1 } else { *d }).collect();
    let total = cx.numel(&kept)?;
    let out_strides: Vec<usize> = strides(&kept).into_iter().zip(&reduced).map(|(s, r)| if *r { 0 } else { s }).collect();
    let mut acc = vec![!any; total];
    let mut values = x.data.iter();
    walk(&x.shape, [&out_strides], |[o]| {
        let (a, v) = acc.get_mut(o).zip(values.next()).ok_or_else(|| cx.internal())?;
        let v = *v != 0.0;
        *a = if any { *a || v } else { *a && v };
        Ok(())
    })?;
    let shape = if keep_dims {
        kept
    } else {
        x.shape.iter().zip(&reduced).filter(|(_, r)| !**r).map(|(d, _)| *d).collect()
    };
    cx.finish_raw(shape, acc.into_iter().map(|b| if b { 1.0 } else { 0.0 }).collect())
}

/// `CUMSUM` along the axis in the second input (one value), optionally
/// exclusive (each sum leaves out its own element) and reversed.
fn cumsum(cx: &Cx<'_>, o: &CumsumOptions) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    let axis = cx.ints(cx.input(1, "axis")?, "axis")?;
    let [a] = axis.as_slice() else {
        return Err(cx.shape_err(format!("axis must hold one value, holds {}", axis.len())));
    };
    let ax = cx.axis(*a, x.rank())?;
    let len = x.shape.get(ax).copied().ok_or_else(|| cx.internal())?;
    let inner: usize = x.shape.iter().skip(ax + 1).product();
    let outer: usize = x.shape.iter().take(ax).product();
    let xs = cx.real(x)?;
    let mut out = vec![0.0; xs.len()];
    for o_ in 0..outer {
        for i in 0..inner {
            let mut sum = 0.0;
            for step in 0..len {
                let k = if o.reverse { len - 1 - step } else { step };
                let at = (o_ * len + k) * inner + i;
                let v = *xs.get(at).ok_or_else(|| cx.internal())?;
                let slot = out.get_mut(at).ok_or_else(|| cx.internal())?;
                if o.exclusive {
                    *slot = sum;
                    sum += v;
                } else {
                    sum += v;
                    *slot = sum;
                }
            }
        }
    }
    cx.finish(x.shape.clone(), out)
}

/// `SHAPE`: the input's dimensions as a vector of the output's type.
fn shape(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let data = x.shape.iter().map(|d| *d as f64).collect();
    cx.finish_raw(vec![x.rank()], data)
}

/// `RANK`: the input's rank as a scalar.
fn rank(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    cx.finish_raw(Vec::new(), vec![x.rank() as f64])
}

/// Non-negative dimensions from an integer operand.
fn dims_of(cx: &Cx<'_>, v: &Value, what: &str) -> Result<Vec<usize>> {
    cx.ints(v, what)?
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| cx.shape_err(format!("{what} entry {d} is negative"))))
        .collect()
}

/// `FILL`: the shape in the first input, filled with the scalar second
/// input (copied as stored).
fn fill(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let dims = cx.input(0, "dims")?;
    let v = cx.input(1, "value")?;
    if dims.rank() != 1 {
        return Err(cx.shape_err(format!("dims must be a vector, has shape {:?}", dims.shape)));
    }
    let [value] = v.data.as_slice() else {
        return Err(cx.shape_err(format!("value must hold one element, has shape {:?}", v.shape)));
    };
    cx.same_type(v)?;
    let shape = dims_of(cx, dims, "dims")?;
    let n = cx.numel(&shape)?;
    cx.finish_raw(shape, vec![*value; n])
}

/// `RANGE`: `start, start + delta, …` while below `limit` (above, for a
/// negative delta), accumulated in the operands' type as the runtime does.
fn range(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(3, 3)?;
    let s = cx.input(0, "start")?;
    let l = cx.input(1, "limit")?;
    let d = cx.input(2, "delta")?;
    for v in [s, l, d] {
        if v.dtype != s.dtype {
            return Err(cx.unsupported(format!("operands of types {}, {} and {}", s.dtype, l.dtype, d.dtype)));
        }
        if v.data.len() != 1 {
            return Err(cx.shape_err(format!("operands must be scalars, one has shape {:?}", v.shape)));
        }
    }
    cx.same_type(s)?;
    if s.dtype == DType::Bool || (convert::is_quantized_type(s.dtype) && convert::has_scale(s)) {
        return Err(cx.unsupported(format!("operands of type {} (quantized or bool)", s.dtype)));
    }
    let one = |v: &Value| v.data.first().copied().ok_or_else(|| cx.internal());
    let (start, limit, delta) = (one(s)?, one(l)?, one(d)?);
    if delta == 0.0 || delta.is_nan() {
        return Err(cx.shape_err("delta must not be zero"));
    }
    if !((start >= limit && delta < 0.0) || (start <= limit && delta > 0.0)) {
        return Err(cx.shape_err(format!("delta {delta} does not lead from {start} to {limit}")));
    }
    let f32_math = s.dtype == DType::F32;
    let count = if s.dtype.is_float() {
        if f32_math {
            f64::from((((limit as f32) - (start as f32)) / (delta as f32)).abs().ceil())
        } else {
            ((limit - start) / delta).abs().ceil()
        }
    } else {
        // (|limit - start| + |delta| - 1) / |delta|, in integers.
        let (a, b, c) = (start as i128, limit as i128, delta as i128);
        ((b - a).abs() + c.abs() - 1).checked_div(c.abs()).ok_or_else(|| cx.internal())? as f64
    };
    if !(count.is_finite() && count <= cx.max_elements as f64) {
        return Err(cx.shape_err(format!("the range holds {count} elements, more than the limit {}", cx.max_elements)));
    }
    let n = count as usize;
    cx.numel(&[n])?;
    let mut out = Vec::with_capacity(n);
    if f32_math {
        let (mut v, step) = (start as f32, delta as f32);
        for _ in 0..n {
            out.push(f64::from(v));
            v += step;
        }
    } else {
        let mut v = start;
        for _ in 0..n {
            out.push(v);
            v += delta;
        }
    }
    cx.finish_raw(vec![n], out)
}

/// `BROADCAST_ARGS`: the broadcast of two shape vectors.
fn broadcast_args(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "s0")?;
    let b = cx.input(1, "s1")?;
    if a.dtype != b.dtype {
        return Err(cx.unsupported(format!("operands of types {} and {}", a.dtype, b.dtype)));
    }
    if a.rank() != 1 || b.rank() != 1 {
        return Err(cx.shape_err(format!("operands must be vectors, have shapes {:?} and {:?}", a.shape, b.shape)));
    }
    let (x, y) = (dims_of(cx, a, "s0")?, dims_of(cx, b, "s1")?);
    let shape = broadcast_shape(&x, &y).ok_or_else(|| cx.shape_err(format!("shapes {x:?} and {y:?} do not broadcast")))?;
    cx.finish_raw(vec![shape.len()], shape.into_iter().map(|d| d as f64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Shape, Tensor};

    fn run(op: Op, inputs: &[Value], out: DType) -> Result<Vec<Value>> {
        let t = Tensor::new("y", out, Shape::scalar());
        let ins: Vec<Option<&Value>> = inputs.iter().map(Some).collect();
        super::super::eval(&op, &ins, &[&t], 1 << 20)
    }

    fn i32v(shape: Vec<usize>, d: &[i32]) -> Value {
        Value::from_i32(shape, d.to_vec())
    }

    #[test]
    fn round_is_half_to_even() {
        let x = Value::from_f32(vec![6], vec![0.5, 1.5, 2.5, -0.5, -1.5, 2.4]);
        let y = run(Op::Round, &[x], DType::F32).unwrap();
        assert_eq!(y[0].data, [0.0, 2.0, 2.0, -0.0, -2.0, 2.0]);
    }

    #[test]
    fn integer_floor_div_floors() {
        let a = i32v(vec![4], &[7, -7, 7, -7]);
        let b = i32v(vec![4], &[2, 2, -2, -2]);
        let y = run(Op::FloorDiv, &[a, b], DType::I32).unwrap();
        assert_eq!(y[0].data, [3.0, -4.0, -4.0, 3.0]);
        let z = run(Op::FloorDiv, &[i32v(vec![1], &[1]), i32v(vec![1], &[0])], DType::I32);
        assert!(z.is_err());
    }

    #[test]
    fn shifts_clamp_and_xor() {
        let a = Value::new(DType::I8, vec![3], vec![-128.0, 100.0, -1.0]);
        let b = Value::new(DType::I8, vec![3], vec![3.0, 9.0, -2.0]);
        let y = run(Op::RightShift, &[a.clone(), b.clone()], DType::I8).unwrap();
        assert_eq!(y[0].data, [-16.0, 0.0, -1.0]);
        let y = run(Op::BitwiseXor, &[a, b], DType::I8).unwrap();
        assert_eq!(y[0].data, [-125.0, 109.0, 1.0]);
    }

    #[test]
    fn cumsum_exclusive_reverse() {
        let x = Value::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let o = CumsumOptions { exclusive: true, reverse: true };
        let y = run(Op::Cumsum(o), &[x, i32v(vec![], &[1])], DType::F32).unwrap();
        assert_eq!(y[0].data, [5.0, 3.0, 0.0, 11.0, 6.0, 0.0]);
    }

    #[test]
    fn range_fill_and_broadcast_args_respect_limits() {
        let y = run(Op::Range, &[i32v(vec![], &[1]), i32v(vec![], &[10]), i32v(vec![], &[4])], DType::I32).unwrap();
        assert_eq!(y[0].data, [1.0, 5.0, 9.0]);
        assert!(run(Op::Range, &[i32v(vec![], &[0]), i32v(vec![], &[i32::MAX]), i32v(vec![], &[1])], DType::I32).is_err());
        assert!(run(Op::Range, &[i32v(vec![], &[0]), i32v(vec![], &[5]), i32v(vec![], &[-1])], DType::I32).is_err());
        let f = run(Op::Fill, &[i32v(vec![3], &[1 << 15, 1 << 15, 4]), Value::from_f32(vec![], vec![1.0])], DType::F32);
        assert!(f.is_err());
        let f = run(Op::Fill, &[i32v(vec![2], &[2, -1]), Value::from_f32(vec![], vec![1.0])], DType::F32);
        assert!(f.is_err());
        let b = run(Op::BroadcastArgs, &[i32v(vec![3], &[2, 1, 3]), i32v(vec![2], &[4, 1])], DType::I32).unwrap();
        assert_eq!(b[0].data, [2.0, 4.0, 3.0]);
    }

    #[test]
    fn lrn_window_is_inclusive() {
        let o = LocalResponseNormalizationOptions { radius: 1, bias: 1.0, alpha: 1.0, beta: 1.0 };
        let x = Value::from_f32(vec![1, 1, 1, 3], vec![1.0, 1.0, 1.0]);
        let y = run(Op::LocalResponseNormalization(o), &[x], DType::F32).unwrap();
        for (got, want) in y[0].data.iter().zip([1.0 / 3.0, 0.25, 1.0 / 3.0]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }
}
