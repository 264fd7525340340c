//! Constant folding of ONNX nodes whose inputs are constants or shape
//! vectors: the Shape → Gather → Unsqueeze → Concat → Reshape chains of torch
//! exports, weight transposes, and small arithmetic. Symbolic sizes (a
//! dynamic batch) travel through as [`ODim::Sym`] entries of shape vectors.

use super::{norm_axis, LowerCtx, LowerError, Node, Val};
use crate::model::{DType, Dim};
use crate::onnx::error::ReasonCode;
use crate::onnx::import::onnx_dtype;
use crate::onnx::ir::{Attr, ODim, TensorData};

/// Op types that fold when their inputs are constant.
pub const FOLDABLE: &[&str] = &[
    "Constant", "Shape", "Size", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Reshape", "Slice", "Add", "Sub", "Mul",
    "Div", "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil", "Abs", "Exp", "Pow", "Equal", "Where", "ConstantOfShape", "Range",
    "Transpose", "Expand", "Identity", "Flatten", "Max", "Min", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or",
    "Xor", "Not", "Mod",
];

/// Most elements a folded constant may have, whatever the limits say.
const MAX_FOLD_ELEMENTS: usize = 1 << 28;

thread_local! {
    /// The element limit of the conversion running on this thread
    /// (`Limits::max_tensor_elements`), set by [`with_fold_limit`].
    static FOLD_LIMIT: std::cell::Cell<usize> = const { std::cell::Cell::new(MAX_FOLD_ELEMENTS) };
}

/// Runs `f` with folds limited to `limit` elements.
pub(crate) fn with_fold_limit<T>(limit: u64, f: impl FnOnce() -> T) -> T {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX).min(MAX_FOLD_ELEMENTS);
    let old = FOLD_LIMIT.with(|c| c.replace(limit));
    let r = f();
    FOLD_LIMIT.with(|c| c.set(old));
    r
}

enum In {
    Missing,
    Const(TensorData),
    Shape(Vec<ODim>, bool),
    Tensor,
}

fn gather_inputs(ctx: &LowerCtx<'_>, node: &Node<'_>) -> Vec<In> {
    node.inner
        .inputs
        .iter()
        .map(|name| {
            if name.is_empty() {
                return In::Missing;
            }
            match ctx.env.get(name) {
                Some(Val::Const(d)) => In::Const(d.clone()),
                Some(Val::Shape { dims, scalar }) => In::Shape(dims.clone(), *scalar),
                Some(Val::Tensor(_)) | None => In::Tensor,
            }
        })
        .collect()
}

fn as_const(i: &In) -> Option<TensorData> {
    match i {
        In::Const(d) => Some(d.clone()),
        In::Shape(dims, scalar) => {
            let v: Option<Vec<i64>> = dims.iter().map(ODim::known).collect();
            v.map(|v| TensorData::from_i64(if *scalar { vec![] } else { vec![v.len()] }, &v))
        }
        _ => None,
    }
}

fn as_shape(i: &In) -> Option<(Vec<ODim>, bool)> {
    match i {
        In::Shape(d, s) => Some((d.clone(), *s)),
        In::Const(d) if matches!(d.dtype, DType::I64 | DType::I32) && d.dims.len() <= 1 => {
            let v = d.to_i64()?;
            Some((v.into_iter().map(ODim::Known).collect(), d.dims.is_empty()))
        }
        _ => None,
    }
}

fn too_big(n: usize) -> Result<(), LowerError> {
    if n > FOLD_LIMIT.with(std::cell::Cell::get) {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("folding would create {n} elements")));
    }
    Ok(())
}

/// NumPy broadcast of dimension lists.
pub(crate) fn broadcast_dims(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    (0..r)
        .map(|i| {
            let x = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
            let y = if i + b.len() >= r { b[i + b.len() - r] } else { 1 };
            match (x, y) {
                (x, y) if x == y => Some(x),
                (1, y) => Some(y),
                (x, 1) => Some(x),
                _ => None,
            }
        })
        .collect()
}

/// Index into a broadcast operand for a flat output index.
fn broadcast_index(out_dims: &[usize], dims: &[usize], mut flat: usize) -> usize {
    let r = out_dims.len();
    let mut idx = 0;
    let mut stride = 1;
    for i in (0..r).rev() {
        let coord = flat % out_dims[i];
        flat /= out_dims[i];
        if i + dims.len() >= r {
            let d = dims[i + dims.len() - r];
            if d != 1 {
                idx += coord * stride;
            }
            stride *= d;
        }
    }
    idx
}

fn binary(a: &TensorData, b: &TensorData, f: impl Fn(f64, f64) -> f64, out_dtype: Option<DType>) -> Result<TensorData, LowerError> {
    let dims = broadcast_dims(&a.dims, &b.dims).ok_or_else(|| LowerError::invalid(format!("shapes {:?} and {:?} do not broadcast", a.dims, b.dims)))?;
    let n: usize = dims.iter().product();
    too_big(n)?;
    let (x, y) = (a.to_f64().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "non-numeric constant"))?, b.to_f64().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "non-numeric constant"))?);
    let v: Vec<f64> = (0..n).map(|i| f(x[broadcast_index(&dims, &a.dims, i)], y[broadcast_index(&dims, &b.dims, i)])).collect();
    let dtype = out_dtype.unwrap_or(a.dtype);
    let v = if matches!(dtype, DType::I64 | DType::I32 | DType::I16 | DType::I8 | DType::U8) { v.into_iter().map(f64::trunc).collect() } else { v };
    TensorData::from_f64(dtype, dims, &v).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, format!("cannot fold {dtype}")))
}

fn unary(a: &TensorData, f: impl Fn(f64) -> f64) -> Result<TensorData, LowerError> {
    let x = a.to_f64().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "non-numeric constant"))?;
    let v: Vec<f64> = x.into_iter().map(f).collect();
    TensorData::from_f64(a.dtype, a.dims.clone(), &v).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "cannot fold"))
}

/// Transposes constant data.
pub(crate) fn transpose_data(d: &TensorData, perm: &[usize]) -> Result<TensorData, LowerError> {
    let es = d.dtype.bits().map(|b| (b / 8).max(1) as usize).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "cannot transpose"))?;
    let bytes = crate::util::transpose_bytes(&d.bytes, es, &d.dims, perm).ok_or_else(|| LowerError::invalid(format!("bad permutation {perm:?} for dims {:?}", d.dims)))?;
    Ok(TensorData { dtype: d.dtype, dims: perm.iter().map(|p| d.dims[*p]).collect(), bytes })
}

fn axes_of(node: &Node<'_>, ins: &[In], idx: usize) -> Result<Option<Vec<i64>>, LowerError> {
    if let Some(a) = node.attr_ints("axes")? {
        return Ok(Some(a));
    }
    match ins.get(idx) {
        Some(In::Missing) | None => Ok(None),
        Some(i) => as_const(i).and_then(|d| d.to_i64()).map(Some).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "axes must be constant")),
    }
}

fn reshape_dims(input: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>, LowerError> {
    let n: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or_else(|| LowerError::invalid("0 in reshape copies a missing dimension"))?),
            t if t >= 0 => out.push(t as usize),
            _ => return Err(LowerError::invalid(format!("bad reshape target {target:?}"))),
        }
    }
    if let Some(i) = infer {
        let known: usize = out.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, d)| *d).product();
        if known == 0 || !n.is_multiple_of(known) {
            return Err(LowerError::invalid(format!("cannot reshape {input:?} to {target:?}")));
        }
        out[i] = n / known;
    }
    if out.iter().product::<usize>() != n {
        return Err(LowerError::invalid(format!("cannot reshape {input:?} to {target:?}")));
    }
    Ok(out)
}

/// Folds `node` if possible. Returns whether it did.
pub(crate) fn try_fold(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<bool, LowerError> {
    if !node.domain().is_empty() || !FOLDABLE.contains(&node.op_type()) {
        return Ok(false);
    }
    let ins = gather_inputs(ctx, node);
    let op = node.op_type();
    // Shape reads only the shape, so it folds for tensors too.
    if op == "Shape" {
        let dims: Vec<ODim> = match ins.first() {
            Some(In::Const(d)) => d.dims.iter().map(|x| ODim::Known(*x as i64)).collect(),
            Some(In::Shape(d, scalar)) => if *scalar { vec![] } else { vec![ODim::Known(d.len() as i64)] },
            Some(In::Tensor) => {
                let t = ctx.input(node, 0)?;
                ctx.shape(t)
                    .dims()
                    .iter()
                    .enumerate()
                    .map(|(i, d)| match d {
                        Dim::Fixed(n) => ODim::Known(i64::from(*n)),
                        // A dynamic size, named by its position (the batch is `?0`).
                        Dim::Dynamic => ODim::Sym(format!("?{i}")),
                    })
                    .collect()
            }
            _ => return Err(LowerError::invalid("Shape needs an input")),
        };
        let r = dims.len() as i64;
        let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
        let start = clamp(node.int_or("start", 0)?);
        let end = clamp(node.int_or("end", r)?);
        let dims = if start < end { dims[start..end].to_vec() } else { vec![] };
        ctx.set_val(node, 0, Val::Shape { dims, scalar: false });
        return Ok(true);
    }
    if op == "Constant" {
        let d = match node.inner.attrs.first().map(|(n, a)| (n.as_str(), a)) {
            Some(("value", Attr::Tensor(t))) => t.clone(),
            Some(("value_float", Attr::Float(f))) => TensorData::from_f32(vec![], &[*f]),
            Some(("value_floats", Attr::Floats(f))) => TensorData::from_f32(vec![f.len()], f),
            Some(("value_int", Attr::Int(i))) => TensorData::from_i64(vec![], &[*i]),
            Some(("value_ints", Attr::Ints(i))) => TensorData::from_i64(vec![i.len()], i),
            other => return Err(LowerError::attr(format!("unsupported Constant attribute {other:?}"))),
        };
        ctx.set_val(node, 0, Val::Const(d));
        return Ok(true);
    }
    // Everything else needs every present input to be constant or a shape.
    if ins.iter().any(|i| matches!(i, In::Tensor)) {
        return Ok(false);
    }
    let c = |i: usize| ins.get(i).and_then(as_const);
    let result: Val = match op {
        "Identity" => match ins.first() {
            Some(In::Const(d)) => Val::Const(d.clone()),
            Some(In::Shape(d, s)) => Val::Shape { dims: d.clone(), scalar: *s },
            _ => return Ok(false),
        },
        "Gather" => {
            let axis = node.int_or("axis", 0)?;
            let idx = c(1).and_then(|d| d.to_i64()).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "indices"))?;
            let scalar_idx = c(1).is_some_and(|d| d.dims.is_empty());
            if let (Some((dims, false)), 0) = (ins.first().and_then(as_shape), axis) {
                let n = dims.len() as i64;
                let mut out = Vec::new();
                for i in &idx {
                    let j = if *i < 0 { i + n } else { *i };
                    out.push(dims.get(usize::try_from(j).map_err(|_| LowerError::invalid("gather index"))?).cloned().ok_or_else(|| LowerError::invalid("gather index out of range"))?);
                }
                Val::Shape { dims: out, scalar: scalar_idx }
            } else {
                let data = c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "data"))?;
                Val::Const(gather(&data, &idx, c(1).map(|d| d.dims).unwrap_or_default(), axis)?)
            }
        }
        "Unsqueeze" | "Squeeze" => {
            let axes = axes_of(node, &ins, 1)?;
            match ins.first() {
                Some(In::Shape(d, true)) if op == "Unsqueeze" => Val::Shape { dims: d.clone(), scalar: false },
                Some(In::Shape(d, false)) if op == "Squeeze" && d.len() == 1 => Val::Shape { dims: d.clone(), scalar: true },
                _ => {
                    let data = c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "data"))?;
                    let mut dims = data.dims.clone();
                    if op == "Unsqueeze" {
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
                    } else {
                        let r = dims.len();
                        let ax: Vec<usize> = match axes {
                            Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
                            None => (0..r).filter(|i| dims[*i] == 1).collect(),
                        };
                        dims = dims.iter().enumerate().filter(|(i, _)| !ax.contains(i)).map(|(_, d)| *d).collect();
                    }
                    Val::Const(TensorData { dims, ..data })
                }
            }
        }
        "Concat" => {
            let all_shapes: Option<Vec<(Vec<ODim>, bool)>> = ins.iter().filter(|i| !matches!(i, In::Missing)).map(as_shape).collect();
            match all_shapes {
                Some(v) if v.iter().all(|(_, s)| !s) && !ins.iter().all(|i| matches!(i, In::Const(_))) => Val::Shape { dims: v.into_iter().flat_map(|(d, _)| d).collect(), scalar: false },
                _ => {
                    let parts: Option<Vec<TensorData>> = ins.iter().filter(|i| !matches!(i, In::Missing)).map(as_const).collect();
                    let parts = parts.ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "symbolic values in a non-shape Concat"))?;
                    Val::Const(concat(&parts, node.int_or("axis", 0)?)?)
                }
            }
        }
        "Cast" => {
            let to = node.attr_int("to")?.ok_or_else(|| LowerError::invalid("Cast needs 'to'"))?;
            let dtype = onnx_dtype(to as i32).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, format!("Cast to type {to}")))?;
            match ins.first() {
                Some(In::Shape(d, s)) if matches!(dtype, DType::I64 | DType::I32) => Val::Shape { dims: d.clone(), scalar: *s },
                _ => {
                    let d = c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "data"))?;
                    let v = d.to_f64().ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "cast"))?;
                    let v: Vec<f64> = if matches!(dtype, DType::F32 | DType::F64 | DType::F16 | DType::Bool) { v } else { v.into_iter().map(f64::trunc).collect() };
                    Val::Const(TensorData::from_f64(dtype, d.dims.clone(), &v).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, format!("Cast to {dtype}")))?)
                }
            }
        }
        "Reshape" | "Flatten" => {
            let d = c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "data"))?;
            let dims = if op == "Flatten" {
                let a = norm_axis(node.int_or("axis", 1)?, d.dims.len() + 1)?;
                vec![d.dims[..a].iter().product(), d.dims[a..].iter().product()]
            } else {
                let target = c(1).and_then(|t| t.to_i64()).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "shape"))?;
                reshape_dims(&d.dims, &target, node.int_or("allowzero", 0)? != 0)?
            };
            Val::Const(TensorData { dims, ..d })
        }
        "Slice" => {
            let (starts, ends, axes, steps) = if node.opset() < 10 {
                (node.attr_ints("starts")?.unwrap_or_default(), node.attr_ints("ends")?.unwrap_or_default(), node.attr_ints("axes")?, None)
            } else {
                let g = |i: usize| c(i).and_then(|d| d.to_i64());
                (g(1).unwrap_or_default(), g(2).unwrap_or_default(), g(3), g(4))
            };
            if let Some((dims, false)) = ins.first().and_then(as_shape)
                && axes.as_ref().is_none_or(|a| a == &vec![0]) && steps.as_ref().is_none_or(|s| s == &vec![1]) && starts.len() == 1 {
                    let n = dims.len() as i64;
                    let cl = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n) as usize;
                    let (s, e) = (cl(starts[0]), cl(ends.first().copied().unwrap_or(n)));
                    return finish(ctx, node, Val::Shape { dims: if s < e { dims[s..e].to_vec() } else { vec![] }, scalar: false });
                }
            let d = c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "data"))?;
            Val::Const(slice(&d, &starts, &ends, axes.as_deref(), steps.as_deref())?)
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Equal" => {
            // Symbolic arithmetic on shape vectors: known entries compute,
            // symbolic ones become unknown.
            if let (Some((a, sa)), Some((b, sb))) = (ins.first().and_then(as_shape), ins.get(1).and_then(as_shape))
                && (ins.iter().any(|i| matches!(i, In::Shape(..)))) && matches!(op, "Add" | "Sub" | "Mul" | "Div") && (a.len() == b.len() || a.len() == 1 || b.len() == 1) {
                    let n = a.len().max(b.len());
                    let get = |v: &Vec<ODim>, i: usize| if v.len() == 1 { v[0].clone() } else { v[i].clone() };
                    let dims = (0..n)
                        .map(|i| match (get(&a, i), get(&b, i)) {
                            (ODim::Known(x), ODim::Known(y)) => match op {
                                "Add" => ODim::Known(x + y),
                                "Sub" => ODim::Known(x - y),
                                "Mul" => ODim::Known(x * y),
                                _ => if y != 0 { ODim::Known(x.div_euclid(y)) } else { ODim::Unknown },
                            },
                            (x, ODim::Known(1)) if matches!(op, "Mul" | "Div") => x,
                            _ => ODim::Unknown,
                        })
                        .collect();
                    return finish(ctx, node, Val::Shape { dims, scalar: sa && sb });
                }
            let (a, b) = (c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "lhs"))?, c(1).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "rhs"))?);
            let int = !a.dtype.is_float();
            Val::Const(match op {
                "Add" => binary(&a, &b, |x, y| x + y, None)?,
                "Sub" => binary(&a, &b, |x, y| x - y, None)?,
                "Mul" => binary(&a, &b, |x, y| x * y, None)?,
                "Div" => binary(&a, &b, move |x, y| if int { if y == 0.0 { 0.0 } else { (x / y).trunc() } } else { x / y }, None)?,
                "Pow" => binary(&a, &b, f64::powf, None)?,
                "Max" => binary(&a, &b, f64::max, None)?,
                "Min" => binary(&a, &b, f64::min, None)?,
                _ => binary(&a, &b, |x, y| f64::from(u8::from(x == y)), Some(DType::Bool))?,
            })
        }
        "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "And" | "Or" | "Xor" | "Mod" => {
            let (Some(a), Some(b)) = (c(0), c(1)) else { return Ok(false) };
            let truth = |v: bool| f64::from(u8::from(v));
            Val::Const(match op {
                "Less" => binary(&a, &b, move |x, y| truth(x < y), Some(DType::Bool))?,
                "LessOrEqual" => binary(&a, &b, move |x, y| truth(x <= y), Some(DType::Bool))?,
                "Greater" => binary(&a, &b, move |x, y| truth(x > y), Some(DType::Bool))?,
                "GreaterOrEqual" => binary(&a, &b, move |x, y| truth(x >= y), Some(DType::Bool))?,
                "And" => binary(&a, &b, move |x, y| truth(x != 0.0 && y != 0.0), Some(DType::Bool))?,
                "Or" => binary(&a, &b, move |x, y| truth(x != 0.0 || y != 0.0), Some(DType::Bool))?,
                "Xor" => binary(&a, &b, move |x, y| truth((x != 0.0) != (y != 0.0)), Some(DType::Bool))?,
                _ => {
                    let fmod = node.int_or("fmod", 0)? != 0;
                    if !a.dtype.is_float() && b.to_f64().is_some_and(|v| v.contains(&0.0)) {
                        return Err(LowerError::invalid("Mod by zero"));
                    }
                    // fmod=1: the remainder takes the dividend's sign (C's
                    // fmod); fmod=0: the divisor's (Python's %).
                    binary(&a, &b, move |x, y| {
                        let r = x % y;
                        if !fmod && r != 0.0 && ((r < 0.0) != (y < 0.0)) { r + y } else { r }
                    }, None)?
                }
            })
        }
        "Not" => {
            let Some(a) = c(0) else { return Ok(false) };
            Val::Const(unary(&a, |x| f64::from(u8::from(x == 0.0)))?)
        }
        "Neg" | "Sqrt" | "Reciprocal" | "Floor" | "Ceil" | "Abs" | "Exp" => {
            let a = c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "input"))?;
            Val::Const(match op {
                "Neg" => unary(&a, |x| -x)?,
                "Sqrt" => unary(&a, f64::sqrt)?,
                "Reciprocal" => unary(&a, |x| 1.0 / x)?,
                "Floor" => unary(&a, f64::floor)?,
                "Ceil" => unary(&a, f64::ceil)?,
                "Abs" => unary(&a, f64::abs)?,
                _ => unary(&a, f64::exp)?,
            })
        }
        "Where" => {
            let (cond, x, y) = (c(0), c(1), c(2));
            let (Some(cond), Some(x), Some(y)) = (cond, x, y) else { return Ok(false) };
            let xy = binary(&x, &y, |a, _| a, None)?;
            let dims = broadcast_dims(&cond.dims, &xy.dims).ok_or_else(|| LowerError::invalid("Where shapes"))?;
            let n: usize = dims.iter().product();
            too_big(n)?;
            let (cv, xv, yv) = (cond.to_f64().unwrap_or_default(), x.to_f64().unwrap_or_default(), y.to_f64().unwrap_or_default());
            let v: Vec<f64> = (0..n).map(|i| if cv[broadcast_index(&dims, &cond.dims, i)] != 0.0 { xv[broadcast_index(&dims, &x.dims, i)] } else { yv[broadcast_index(&dims, &y.dims, i)] }).collect();
            Val::Const(TensorData::from_f64(x.dtype, dims, &v).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "Where"))?)
        }
        "ConstantOfShape" => {
            let dims: Vec<usize> = c(0).and_then(|d| d.to_i64()).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "shape"))?.into_iter().map(|d| usize::try_from(d).map_err(|_| LowerError::invalid("negative dimension"))).collect::<Result<_, _>>()?;
            let n: usize = dims.iter().try_fold(1usize, |a, d| a.checked_mul(*d)).ok_or_else(|| LowerError::invalid("overflow"))?;
            too_big(n)?;
            let (dtype, v) = match node.inner.attr("value") {
                Some(Attr::Tensor(t)) => (t.dtype, t.to_f64().and_then(|v| v.first().copied()).unwrap_or(0.0)),
                _ => (DType::F32, 0.0),
            };
            Val::Const(TensorData::from_f64(dtype, dims, &vec![v; n]).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "ConstantOfShape"))?)
        }
        "Range" => {
            let g = |i: usize| c(i).and_then(|d| d.to_f64()).and_then(|v| v.first().copied()).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "range bound"));
            let (s, l, d) = (g(0)?, g(1)?, g(2)?);
            if d == 0.0 {
                return Err(LowerError::invalid("Range delta 0"));
            }
            let n = ((l - s) / d).ceil().max(0.0) as usize;
            too_big(n)?;
            let v: Vec<f64> = (0..n).map(|i| s + i as f64 * d).collect();
            Val::Const(TensorData::from_f64(c(0).map(|x| x.dtype).unwrap_or(DType::I64), vec![n], &v).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "Range"))?)
        }
        "Transpose" => {
            let d = c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "data"))?;
            let r = d.dims.len();
            let perm: Vec<usize> = match node.attr_ints("perm")? {
                Some(p) => p.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
                None => (0..r).rev().collect(),
            };
            Val::Const(transpose_data(&d, &perm)?)
        }
        "Expand" => {
            let d = c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "data"))?;
            let shape: Vec<usize> = c(1).and_then(|s| s.to_i64()).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "shape"))?.into_iter().map(|x| x.max(0) as usize).collect();
            let n = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)).ok_or_else(|| LowerError::invalid("Expand shape overflows"))?;
            too_big(n)?;
            let ones = TensorData::from_f64(d.dtype, shape.clone(), &vec![0.0; n]).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "Expand"))?;
            Val::Const(binary(&d, &ones, |a, _| a, None)?)
        }
        "Size" => match ins.first().and_then(as_shape) {
            _ => {
                let d = c(0).ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "data"))?;
                Val::Const(TensorData::from_i64(vec![], &[d.len() as i64]))
            }
        },
        _ => return Ok(false),
    };
    finish(ctx, node, result)
}

fn finish(ctx: &mut LowerCtx<'_>, node: &Node<'_>, v: Val) -> Result<bool, LowerError> {
    if let Val::Const(d) = &v {
        too_big(d.len())?;
    }
    ctx.set_val(node, 0, v);
    Ok(true)
}

fn gather(data: &TensorData, idx: &[i64], idx_dims: Vec<usize>, axis: i64) -> Result<TensorData, LowerError> {
    let r = data.dims.len();
    let axis = norm_axis(axis, r)?;
    let es = data.dtype.bits().map(|b| (b / 8).max(1) as usize).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "gather"))?;
    let outer: usize = data.dims[..axis].iter().product();
    let inner: usize = data.dims[axis + 1..].iter().product();
    let n_axis = data.dims[axis];
    let mut out = Vec::new();
    for o in 0..outer {
        for &i in idx {
            let j = if i < 0 { i + n_axis as i64 } else { i };
            let j = usize::try_from(j).ok().filter(|j| *j < n_axis).ok_or_else(|| LowerError::invalid("gather index out of range"))?;
            let start = ((o * n_axis + j) * inner) * es;
            out.extend_from_slice(data.bytes.get(start..start + inner * es).ok_or_else(|| LowerError::invalid("gather"))?);
        }
    }
    let mut dims = data.dims[..axis].to_vec();
    dims.extend(idx_dims);
    dims.extend_from_slice(&data.dims[axis + 1..]);
    Ok(TensorData { dtype: data.dtype, dims, bytes: out })
}

fn concat(parts: &[TensorData], axis: i64) -> Result<TensorData, LowerError> {
    let first = parts.first().ok_or_else(|| LowerError::invalid("Concat of nothing"))?;
    let r = first.dims.len();
    let axis = norm_axis(axis, r)?;
    let es = first.dtype.bits().map(|b| (b / 8).max(1) as usize).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "concat"))?;
    let outer: usize = first.dims[..axis].iter().product();
    let mut dims = first.dims.clone();
    dims[axis] = 0;
    for p in parts {
        if p.dtype != first.dtype || p.dims.len() != r || (0..r).any(|i| i != axis && p.dims[i] != first.dims[i]) {
            return Err(LowerError::invalid("Concat inputs disagree"));
        }
        dims[axis] += p.dims[axis];
    }
    let mut out = Vec::new();
    for o in 0..outer {
        for p in parts {
            let chunk = p.dims[axis..].iter().product::<usize>() * es;
            out.extend_from_slice(p.bytes.get(o * chunk..(o + 1) * chunk).ok_or_else(|| LowerError::invalid("concat"))?);
        }
    }
    Ok(TensorData { dtype: first.dtype, dims, bytes: out })
}

fn slice(d: &TensorData, starts: &[i64], ends: &[i64], axes: Option<&[i64]>, steps: Option<&[i64]>) -> Result<TensorData, LowerError> {
    let r = d.dims.len();
    let axes: Vec<usize> = match axes {
        Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..starts.len()).collect(),
    };
    let mut ranges: Vec<(i64, i64, i64)> = d.dims.iter().map(|n| (0, *n as i64, 1)).collect();
    for (k, &a) in axes.iter().enumerate() {
        let n = d.dims[a] as i64;
        let step = steps.and_then(|s| s.get(k).copied()).unwrap_or(1);
        if step == 0 {
            return Err(LowerError::invalid("slice step 0"));
        }
        let fix = |v: i64, lo: i64, hi: i64| (if v < 0 { v + n } else { v }).clamp(lo, hi);
        let (s, e) = (starts.get(k).copied().unwrap_or(0), ends.get(k).copied().unwrap_or(n));
        ranges[a] = if step > 0 { (fix(s, 0, n), fix(e, 0, n), step) } else { (fix(s, -1, n - 1), fix(e, -1, n - 1), step) };
    }
    let idx: Vec<Vec<usize>> = ranges
        .iter()
        .map(|&(s, e, st)| {
            let mut v = Vec::new();
            let mut i = s;
            while (st > 0 && i < e) || (st < 0 && i > e) {
                v.push(i as usize);
                i += st;
            }
            v
        })
        .collect();
    let dims: Vec<usize> = idx.iter().map(Vec::len).collect();
    let n: usize = dims.iter().product();
    too_big(n)?;
    let es = d.dtype.bits().map(|b| (b / 8).max(1) as usize).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, "slice"))?;
    let mut strides = vec![1usize; r];
    for i in (0..r.saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * d.dims[i + 1];
    }
    let mut out = Vec::with_capacity(n * es);
    let mut coord = vec![0usize; r];
    for _ in 0..n {
        let src: usize = (0..r).map(|i| idx[i][coord[i]] * strides[i]).sum();
        out.extend_from_slice(d.bytes.get(src * es..(src + 1) * es).ok_or_else(|| LowerError::invalid("slice"))?);
        for i in (0..r).rev() {
            coord[i] += 1;
            if coord[i] < dims[i] {
                break;
            }
            coord[i] = 0;
        }
    }
    Ok(TensorData { dtype: d.dtype, dims, bytes: out })
}
