//! Folds on shape vectors: small 1-D int64 vectors (or scalars) whose
//! entries may be symbolic ([`SDim`]), as `Shape` produces them. Symbolic
//! entries travel through gathers, slices, concatenations, reshapes and
//! selections, and arithmetic on them builds expressions that are computed
//! at run time when a lowering needs them. Each fold returns `None` when
//! its inputs are not shape vectors it handles, and the dense fold of the op
//! runs instead; a node no fold takes is lowered, its shape-vector inputs
//! computed at run time.

use super::data::Arith;
use super::{as_shape, axes_of, cast_target, const_in, gather_params, slice_params, In};
use crate::model::DType;
use crate::onnx::ir::TensorData;
use crate::onnx::lower::symbolic::{DimOp, SDim};
use crate::onnx::lower::{LowerCtx, LowerError, Node};

type Folded = Result<Option<(Vec<SDim>, bool)>, LowerError>;

/// `Shape`: the input's dimensions (symbolic where dynamic), optionally
/// sliced by `start` / `end`. It reads only the shape, so it folds for
/// tensors too.
pub(super) fn shape(ctx: &mut LowerCtx<'_>, node: &Node<'_>, ins: &[In]) -> Folded {
    let dims: Vec<SDim> = match ins.first() {
        Some(In::Const(d)) => d.dims.iter().map(|x| SDim::Known(*x as i64)).collect(),
        Some(In::Shape(d, scalar)) => {
            if *scalar {
                vec![]
            } else {
                vec![SDim::Known(d.len() as i64)]
            }
        }
        Some(In::Tensor) => {
            let t = ctx.input(node, 0)?;
            ctx.symbolic_shape(t)
        }
        _ => return Err(LowerError::invalid("Shape needs an input")),
    };
    let r = dims.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = clamp(node.int_or("start", 0)?);
    let end = clamp(node.int_or("end", r)?);
    let dims = if start < end { dims[start..end].to_vec() } else { vec![] };
    Ok(Some((dims, false)))
}

/// `Size` of a tensor: the product of its (possibly symbolic) dimensions,
/// as a scalar.
pub(super) fn size(ctx: &mut LowerCtx<'_>, node: &Node<'_>, ins: &[In]) -> Folded {
    let dims = match ins.first() {
        Some(In::Tensor) => {
            let t = ctx.input(node, 0)?;
            ctx.symbolic_shape(t)
        }
        // Constants and shape vectors: the dense fold counts them.
        _ => return Ok(None),
    };
    let mut n = SDim::Known(1);
    for d in dims {
        n = SDim::bin(DimOp::Mul, n, d)?;
    }
    Ok(Some((vec![n], true)))
}
/// `Identity` of a shape vector.
pub(super) fn identity(_: &mut LowerCtx<'_>, _: &Node<'_>, ins: &[In]) -> Folded {
    Ok(match ins.first() {
        Some(In::Shape(d, s)) => Some((d.clone(), *s)),
        _ => None,
    })
}

/// `Gather` on axis 0 of a shape vector (or a small integer constant).
pub(super) fn gather(_: &mut LowerCtx<'_>, node: &Node<'_>, ins: &[In]) -> Folded {
    let (axis, idx, scalar_idx) = gather_params(node, ins)?;
    let (Some((dims, false)), 0) = (ins.first().and_then(as_shape), axis) else { return Ok(None) };
    let n = dims.len() as i64;
    let mut out = Vec::new();
    for i in &idx {
        let j = if *i < 0 { i + n } else { *i };
        out.push(dims.get(usize::try_from(j).map_err(|_| LowerError::invalid("gather index"))?).cloned().ok_or_else(|| LowerError::invalid("gather index out of range"))?);
    }
    Ok(Some((out, scalar_idx)))
}

/// `Unsqueeze` of a scalar shape value into a 1-vector (whatever the axes,
/// which must still be readable).
pub(super) fn unsqueeze(_: &mut LowerCtx<'_>, node: &Node<'_>, ins: &[In]) -> Folded {
    axes_of(node, ins, 1)?;
    Ok(match ins.first() {
        Some(In::Shape(d, true)) => Some((d.clone(), false)),
        _ => None,
    })
}

/// `Squeeze` of a shape 1-vector into a scalar.
pub(super) fn squeeze(_: &mut LowerCtx<'_>, node: &Node<'_>, ins: &[In]) -> Folded {
    axes_of(node, ins, 1)?;
    Ok(match ins.first() {
        Some(In::Shape(d, false)) if d.len() == 1 => Some((d.clone(), true)),
        _ => None,
    })
}

/// `Concat` of shape vectors (not all of them constants).
pub(super) fn concat(_: &mut LowerCtx<'_>, _: &Node<'_>, ins: &[In]) -> Folded {
    let all_shapes: Option<Vec<(Vec<SDim>, bool)>> = ins.iter().filter(|i| !matches!(i, In::Missing)).map(as_shape).collect();
    Ok(match all_shapes {
        Some(v) if v.iter().all(|(_, s)| !s) && !ins.iter().all(|i| matches!(i, In::Const(_))) => Some((v.into_iter().flat_map(|(d, _)| d).collect(), false)),
        _ => None,
    })
}

/// `Cast` of a shape vector to int64 or int32: the same vector.
pub(super) fn cast(_: &mut LowerCtx<'_>, node: &Node<'_>, ins: &[In]) -> Folded {
    let dtype = cast_target(node)?;
    Ok(match ins.first() {
        Some(In::Shape(d, s)) if matches!(dtype, DType::I64 | DType::I32) => Some((d.clone(), *s)),
        _ => None,
    })
}

/// `Slice` of a shape vector (one axis, 0, step 1).
pub(super) fn slice(_: &mut LowerCtx<'_>, node: &Node<'_>, ins: &[In]) -> Folded {
    let (starts, ends, axes, steps) = slice_params(node, ins)?;
    if let Some((dims, false)) = ins.first().and_then(as_shape)
        && axes.as_ref().is_none_or(|a| a == &vec![0])
        && steps.as_ref().is_none_or(|s| s == &vec![1])
        && starts.len() == 1
    {
        let n = dims.len() as i64;
        let cl = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n) as usize;
        let (s, e) = (cl(starts[0]), cl(ends.first().copied().unwrap_or(n)));
        return Ok(Some((if s < e { dims[s..e].to_vec() } else { vec![] }, false)));
    }
    Ok(None)
}

/// Elementwise arithmetic (`Add`, `Sub`, `Mul`, `Div`, `Mod`, `Max`, `Min`)
/// with a shape vector operand, broadcasting a 1-vector or scalar: known
/// entries compute (Div truncates, as ONNX integer Div does), symbolic ones
/// become expressions.
pub(super) fn arith(node: &Node<'_>, ins: &[In], op: Arith) -> Folded {
    let op = match op {
        Arith::Add => DimOp::Add,
        Arith::Sub => DimOp::Sub,
        Arith::Mul => DimOp::Mul,
        Arith::Div => DimOp::Div,
        Arith::Max => DimOp::Max,
        Arith::Min => DimOp::Min,
        Arith::Mod { fmod: false } => DimOp::Mod,
        Arith::Mod { fmod: true } | Arith::Pow => return Ok(None),
    };
    let present: Vec<&In> = ins.iter().filter(|i| !matches!(i, In::Missing)).collect();
    if present.len() != 2 || !present.iter().any(|i| matches!(i, In::Shape(..))) {
        return Ok(None);
    }
    let (Some((a, sa)), Some((b, sb))) = (as_shape(present[0]), as_shape(present[1])) else { return Ok(None) };
    if !(a.len() == b.len() || a.len() == 1 || b.len() == 1) {
        return Ok(None);
    }
    let _ = node;
    let n = a.len().max(b.len());
    let get = |v: &Vec<SDim>, i: usize| if v.len() == 1 { v[0].clone() } else { v[i].clone() };
    let dims = (0..n).map(|i| SDim::bin(op, get(&a, i), get(&b, i))).collect::<Result<Vec<_>, _>>()?;
    Ok(Some((dims, sa && sb)))
}

/// `Equal` with a shape vector operand, when every entry is decided: known
/// entries compare, an entry equals itself, and a size (≥ 0) never equals a
/// negative constant (the `Where(Equal(shape, -1), ...)` of exports).
pub(super) fn equal(ins: &[In]) -> Result<Option<TensorData>, LowerError> {
    if !ins.iter().any(|i| matches!(i, In::Shape(..))) {
        return Ok(None);
    }
    let (Some((a, sa)), Some((b, sb))) = (ins.first().and_then(as_shape), ins.get(1).and_then(as_shape)) else { return Ok(None) };
    if !(a.len() == b.len() || a.len() == 1 || b.len() == 1) {
        return Ok(None);
    }
    let n = a.len().max(b.len());
    let get = |v: &Vec<SDim>, i: usize| if v.len() == 1 { v[0].clone() } else { v[i].clone() };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (x, y) = (get(&a, i), get(&b, i));
        let decided = match (x.known(), y.known()) {
            (Some(p), Some(q)) => Some(p == q),
            _ if x == y => Some(true),
            (Some(k), None) if k < 0 && y.nonnegative() => Some(false),
            (None, Some(k)) if k < 0 && x.nonnegative() => Some(false),
            _ => None,
        };
        match decided {
            Some(v) => out.push(u8::from(v)),
            None => return Ok(None),
        }
    }
    let dims = if sa && sb { vec![] } else { vec![n] };
    Ok(Some(TensorData { dtype: DType::Bool, dims, bytes: out }))
}

/// `Where` with a constant condition choosing between shape vectors.
pub(super) fn select(_: &mut LowerCtx<'_>, _: &Node<'_>, ins: &[In]) -> Folded {
    if !ins.iter().any(|i| matches!(i, In::Shape(..))) {
        return Ok(None);
    }
    let Some(cond) = const_in(ins, 0).filter(|c| c.dims.len() <= 1) else { return Ok(None) };
    let Some(truth) = cond.to_f64() else { return Ok(None) };
    let (Some((a, sa)), Some((b, sb))) = (ins.get(1).and_then(as_shape), ins.get(2).and_then(as_shape)) else { return Ok(None) };
    let n = truth.len().max(a.len()).max(b.len());
    let fits = |len: usize| len == n || len == 1;
    if !(fits(truth.len()) && fits(a.len()) && fits(b.len())) {
        return Ok(None);
    }
    let pick = |v: &Vec<SDim>, i: usize| if v.len() == 1 { v[0].clone() } else { v[i].clone() };
    let dims = (0..n).map(|i| if truth[if truth.len() == 1 { 0 } else { i }] != 0.0 { pick(&a, i) } else { pick(&b, i) }).collect();
    Ok(Some((dims, sa && sb && cond.dims.is_empty())))
}

/// `Reshape` of a shape vector to a 1-vector or a scalar.
pub(super) fn reshape(_: &mut LowerCtx<'_>, _: &Node<'_>, ins: &[In]) -> Folded {
    let Some(In::Shape(d, _)) = ins.first() else { return Ok(None) };
    let Some(target) = const_in(ins, 1).and_then(|t| t.to_i64()) else { return Ok(None) };
    Ok(match target.as_slice() {
        [] if d.len() == 1 => Some((d.clone(), true)),
        [n] if *n == -1 || usize::try_from(*n).ok() == Some(d.len()) => Some((d.clone(), false)),
        _ => None,
    })
}
