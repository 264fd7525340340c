//! Folds on dense constants: each takes the node and its inputs (constants,
//! or shape vectors without symbolic entries, read as int64 data) and gives
//! the constant result, or `None` to leave the node to its lowering. A
//! missing input is an error where the op cannot be lowered otherwise.

use super::data::{self, Arith, Cmp, Unary};
use super::{axes_of, cast_target, const_in, gather_params, must_be_constant, slice_params, too_big, In};
use crate::model::DType;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::{Attr, TensorData};
use crate::onnx::lower::{norm_axis, LowerError, Node};

type Folded = Result<Option<TensorData>, LowerError>;

fn dtype_err(detail: impl Into<String>) -> LowerError {
    LowerError::new(ReasonCode::UnsupportedDtype, detail)
}

/// Input 0, the data of a layout op.
fn data_in(ins: &[In]) -> Result<TensorData, LowerError> {
    const_in(ins, 0).ok_or_else(|| must_be_constant("data"))
}

/// `Constant`: the value of its attribute.
pub(super) fn constant(node: &Node<'_>, _: &[In]) -> Folded {
    let d = match node.inner.attrs.first().map(|(n, a)| (n.as_str(), a)) {
        Some(("value", Attr::Tensor(t))) => t.clone(),
        Some(("value_float", Attr::Float(f))) => TensorData::from_f32(vec![], &[*f]),
        Some(("value_floats", Attr::Floats(f))) => TensorData::from_f32(vec![f.len()], f),
        Some(("value_int", Attr::Int(i))) => TensorData::from_i64(vec![], &[*i]),
        Some(("value_ints", Attr::Ints(i))) => TensorData::from_i64(vec![i.len()], i),
        other => return Err(LowerError::attr(format!("unsupported Constant attribute {other:?}"))),
    };
    Ok(Some(d))
}

/// `Identity` of a constant.
pub(super) fn identity(_: &Node<'_>, ins: &[In]) -> Folded {
    Ok(match ins.first() {
        Some(In::Const(d)) => Some(d.clone()),
        _ => None,
    })
}

/// `Size`: the number of elements, as an int64 scalar.
pub(super) fn size(_: &Node<'_>, ins: &[In]) -> Folded {
    let d = data_in(ins)?;
    Ok(Some(TensorData::from_i64(vec![], &[d.len() as i64])))
}

/// `Gather` along any axis.
pub(super) fn gather(node: &Node<'_>, ins: &[In]) -> Folded {
    let (axis, idx, _) = gather_params(node, ins)?;
    let data = data_in(ins)?;
    Ok(Some(data::gather(&data, &idx, const_in(ins, 1).map(|d| d.dims).unwrap_or_default(), axis)?))
}

/// `Unsqueeze`: the data with 1s inserted at the axes.
pub(super) fn unsqueeze(node: &Node<'_>, ins: &[In]) -> Folded {
    let axes = axes_of(node, ins, 1)?;
    let data = data_in(ins)?;
    let mut dims = data.dims.clone();
    let axes = axes.ok_or_else(|| LowerError::invalid("Unsqueeze needs axes"))?;
    let r = dims.len() + axes.len();
    let mut ax: Vec<usize> = axes.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?;
    ax.sort_unstable();
    for a in ax {
        if a > dims.len() {
            return Err(LowerError::invalid("unsqueeze axis"));
        }
        dims.insert(a, 1);
    }
    Ok(Some(TensorData { dims, ..data }))
}

/// `Squeeze`: the data without the given (or all size-1) axes.
pub(super) fn squeeze(node: &Node<'_>, ins: &[In]) -> Folded {
    let axes = axes_of(node, ins, 1)?;
    let data = data_in(ins)?;
    let r = data.dims.len();
    let ax: Vec<usize> = match axes {
        Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..r).filter(|i| data.dims[*i] == 1).collect(),
    };
    let dims = data.dims.iter().enumerate().filter(|(i, _)| !ax.contains(i)).map(|(_, d)| *d).collect();
    Ok(Some(TensorData { dims, ..data }))
}

/// `Concat` of constants.
pub(super) fn concat(node: &Node<'_>, ins: &[In]) -> Folded {
    let parts: Option<Vec<TensorData>> = ins.iter().filter(|i| !matches!(i, In::Missing)).map(super::as_const).collect();
    let parts = parts.ok_or_else(|| must_be_constant("symbolic values in a non-shape Concat"))?;
    Ok(Some(data::concat(&parts, node.int_or("axis", 0)?)?))
}

/// `Cast`: integers to integer types exactly (narrower types wrap),
/// anything else through `f64` (floats truncated toward zero for integer
/// targets).
pub(super) fn cast(node: &Node<'_>, ins: &[In]) -> Folded {
    let dtype = cast_target(node)?;
    let d = data_in(ins)?;
    if let Some(v) = data::int_values(&d)
        && let Some(t) = data::from_ints(dtype, d.dims.clone(), &v)
    {
        return Ok(Some(t));
    }
    let v = d.to_f64().ok_or_else(|| dtype_err("cast"))?;
    let v: Vec<f64> = if matches!(dtype, DType::F32 | DType::F64 | DType::F16 | DType::Bool) { v } else { v.into_iter().map(f64::trunc).collect() };
    Ok(Some(TensorData::from_f64(dtype, d.dims.clone(), &v).ok_or_else(|| dtype_err(format!("Cast to {dtype}")))?))
}

/// `Reshape` to a constant target.
pub(super) fn reshape(node: &Node<'_>, ins: &[In]) -> Folded {
    let d = data_in(ins)?;
    let target = const_in(ins, 1).and_then(|t| t.to_i64()).ok_or_else(|| must_be_constant("shape"))?;
    let dims = data::reshape_dims(&d.dims, &target, node.int_or("allowzero", 0)? != 0)?;
    Ok(Some(TensorData { dims, ..d }))
}

/// `Flatten` to 2-D at the axis.
pub(super) fn flatten(node: &Node<'_>, ins: &[In]) -> Folded {
    let d = data_in(ins)?;
    let a = norm_axis(node.int_or("axis", 1)?, d.dims.len() + 1)?;
    let dims = vec![d.dims[..a].iter().product(), d.dims[a..].iter().product()];
    Ok(Some(TensorData { dims, ..d }))
}

/// `Slice` with constant bounds.
pub(super) fn slice(node: &Node<'_>, ins: &[In]) -> Folded {
    let (starts, ends, axes, steps) = slice_params(node, ins)?;
    let d = data_in(ins)?;
    Ok(Some(data::slice(&d, &starts, &ends, axes.as_deref(), steps.as_deref())?))
}

/// `Transpose` by `perm` (reversed axes by default).
pub(super) fn transpose(node: &Node<'_>, ins: &[In]) -> Folded {
    let d = data_in(ins)?;
    let r = d.dims.len();
    let perm: Vec<usize> = match node.attr_ints("perm")? {
        Some(p) => p.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..r).rev().collect(),
    };
    Ok(Some(data::transpose_data(&d, &perm)?))
}

/// `Expand`: the data broadcast to the (bidirectionally broadcast) shape.
pub(super) fn expand(_: &Node<'_>, ins: &[In]) -> Folded {
    let d = data_in(ins)?;
    let shape: Vec<usize> = const_in(ins, 1).and_then(|s| s.to_i64()).ok_or_else(|| must_be_constant("shape"))?.into_iter().map(|x| x.max(0) as usize).collect();
    let n = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)).ok_or_else(|| LowerError::invalid("Expand shape overflows"))?;
    too_big(n)?;
    if !data::foldable_dtype(d.dtype) {
        return Err(dtype_err("Expand"));
    }
    let dims = data::broadcast_dims(&d.dims, &shape).ok_or_else(|| LowerError::invalid(format!("shapes {:?} and {shape:?} do not broadcast", d.dims)))?;
    too_big(dims.iter().product())?;
    Ok(Some(data::broadcast_to(&d, &dims)?))
}

/// The two operands of a binary op, which must be constant.
fn operands(ins: &[In]) -> Result<(TensorData, TensorData), LowerError> {
    Ok((const_in(ins, 0).ok_or_else(|| must_be_constant("lhs"))?, const_in(ins, 1).ok_or_else(|| must_be_constant("rhs"))?))
}

/// `Add`, `Sub`, `Mul`, `Div`, `Pow`, `Max` and `Min` of two constants.
pub(super) fn arith(_: &Node<'_>, ins: &[In], op: Arith) -> Folded {
    let (a, b) = operands(ins)?;
    Ok(Some(data::arith(&a, &b, op)?))
}

/// `Equal` of two constants.
pub(super) fn equal(_: &Node<'_>, ins: &[In]) -> Folded {
    let (a, b) = operands(ins)?;
    Ok(Some(data::compare(&a, &b, Cmp::Eq)?))
}

/// Comparisons and logic, when both operands are constant.
pub(super) fn compare(_: &Node<'_>, ins: &[In], op: Cmp) -> Folded {
    let (Some(a), Some(b)) = (const_in(ins, 0), const_in(ins, 1)) else { return Ok(None) };
    Ok(Some(data::compare(&a, &b, op)?))
}

/// `Mod`, when both operands are constant (an integer division by zero is
/// an error).
pub(super) fn modulo(node: &Node<'_>, ins: &[In]) -> Folded {
    let (Some(a), Some(b)) = (const_in(ins, 0), const_in(ins, 1)) else { return Ok(None) };
    let fmod = node.int_or("fmod", 0)? != 0;
    if !a.dtype.is_float() && b.to_f64().is_some_and(|v| v.contains(&0.0)) {
        return Err(LowerError::invalid("Mod by zero"));
    }
    Ok(Some(data::arith(&a, &b, Arith::Mod { fmod })?))
}

/// `Not`, when the operand is constant.
pub(super) fn not(_: &Node<'_>, ins: &[In]) -> Folded {
    let Some(a) = const_in(ins, 0) else { return Ok(None) };
    Ok(Some(data::unary(&a, Unary::Not)?))
}

/// Unary math of a constant.
pub(super) fn unary(_: &Node<'_>, ins: &[In], op: Unary) -> Folded {
    let a = const_in(ins, 0).ok_or_else(|| must_be_constant("input"))?;
    Ok(Some(data::unary(&a, op)?))
}

/// `Where`, when all three inputs are constant: elements of `x` and `y`
/// are copied as they are; a `y` of another type than `x` is converted
/// through `f64`.
pub(super) fn select(_: &Node<'_>, ins: &[In]) -> Folded {
    let (Some(cond), Some(x), Some(y)) = (const_in(ins, 0), const_in(ins, 1), const_in(ins, 2)) else { return Ok(None) };
    let xy = data::broadcast_dims(&x.dims, &y.dims).ok_or_else(|| LowerError::invalid(format!("shapes {:?} and {:?} do not broadcast", x.dims, y.dims)))?;
    too_big(xy.iter().product())?;
    let dims = data::broadcast_dims(&cond.dims, &xy).ok_or_else(|| LowerError::invalid("Where shapes"))?;
    let n: usize = dims.iter().product();
    too_big(n)?;
    let truth: Vec<bool> = cond.to_f64().ok_or_else(|| dtype_err("non-numeric constant"))?.into_iter().map(|c| c != 0.0).collect();
    if x.dtype == y.dtype && data::foldable_dtype(x.dtype) {
        return Ok(Some(data::select(&truth, &cond.dims, &x, &y, &dims)?));
    }
    let (xv, yv) = (x.to_f64().ok_or_else(|| dtype_err("non-numeric constant"))?, y.to_f64().ok_or_else(|| dtype_err("non-numeric constant"))?);
    let v: Vec<f64> = (0..n)
        .map(|i| {
            if truth[data::broadcast_index(&dims, &cond.dims, i)] {
                xv[data::broadcast_index(&dims, &x.dims, i)]
            } else {
                yv[data::broadcast_index(&dims, &y.dims, i)]
            }
        })
        .collect();
    Ok(Some(TensorData::from_f64(x.dtype, dims, &v).ok_or_else(|| dtype_err("Where"))?))
}

/// `ConstantOfShape`: the `value` attribute's element (float32 zero by
/// default) repeated to the shape.
pub(super) fn constant_of_shape(node: &Node<'_>, ins: &[In]) -> Folded {
    let dims: Vec<usize> = const_in(ins, 0)
        .and_then(|d| d.to_i64())
        .ok_or_else(|| must_be_constant("shape"))?
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| LowerError::invalid("negative dimension")))
        .collect::<Result<_, _>>()?;
    let n: usize = dims.iter().try_fold(1usize, |a, d| a.checked_mul(*d)).ok_or_else(|| LowerError::invalid("overflow"))?;
    too_big(n)?;
    let value = match node.inner.attr("value") {
        Some(Attr::Tensor(t)) => Some(t),
        _ => None,
    };
    if let Some(t) = value
        && let Some(v) = data::int_values(t)
    {
        let v = v.first().copied().unwrap_or(0);
        return Ok(Some(data::from_ints(t.dtype, dims, &vec![v; n]).ok_or_else(|| dtype_err("ConstantOfShape"))?));
    }
    let (dtype, v) = match value {
        Some(t) => (t.dtype, t.to_f64().and_then(|v| v.first().copied()).unwrap_or(0.0)),
        None => (DType::F32, 0.0),
    };
    Ok(Some(TensorData::from_f64(dtype, dims, &vec![v; n]).ok_or_else(|| dtype_err("ConstantOfShape"))?))
}

/// `Range(start, limit, delta)`, in the type of `start`: exact for integers.
pub(super) fn range(_: &Node<'_>, ins: &[In]) -> Folded {
    let bound = |i: usize| const_in(ins, i).and_then(|d| d.to_f64()).and_then(|v| v.first().copied()).ok_or_else(|| must_be_constant("range bound"));
    let (s, l, d) = (bound(0)?, bound(1)?, bound(2)?);
    if d == 0.0 {
        return Err(LowerError::invalid("Range delta 0"));
    }
    let dtype = const_in(ins, 0).map(|x| x.dtype).unwrap_or(DType::I64);
    let int_bound = |i: usize| const_in(ins, i).as_ref().and_then(data::int_values).and_then(|v| v.first().copied());
    if let (Some(s), Some(l), Some(d)) = (int_bound(0), int_bound(1), int_bound(2)) {
        // ceil((l - s) / d) elements, at least none.
        let (span, d) = (i128::from(l) - i128::from(s), i128::from(d));
        let q = span / d;
        let n = if span % d != 0 && (span < 0) == (d < 0) { q + 1 } else { q }.max(0);
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        too_big(n)?;
        let v: Vec<i64> = (0..n).map(|i| (i128::from(s) + i as i128 * d) as i64).collect();
        return Ok(Some(data::from_ints(dtype, vec![n], &v).ok_or_else(|| dtype_err("Range"))?));
    }
    let n = ((l - s) / d).ceil().max(0.0) as usize;
    too_big(n)?;
    let v: Vec<f64> = (0..n).map(|i| s + i as f64 * d).collect();
    Ok(Some(TensorData::from_f64(dtype, vec![n], &v).ok_or_else(|| dtype_err("Range"))?))
}
