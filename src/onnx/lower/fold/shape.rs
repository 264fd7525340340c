//! Folds on shape vectors: small 1-D int64 vectors (or scalars) whose
//! entries may be symbolic, as `Shape` produces them. Symbolic entries
//! travel through gathers, slices and concatenations; arithmetic on them
//! yields unknown entries. Each fold returns `None` when its inputs are not
//! shape vectors it handles, and the dense fold of the op runs instead.

use super::data::Arith;
use super::{as_shape, axes_of, cast_target, gather_params, slice_params, In};
use crate::model::{DType, Dim};
use crate::onnx::ir::ODim;
use crate::onnx::lower::{LowerCtx, LowerError, Node};

type Folded = Result<Option<(Vec<ODim>, bool)>, LowerError>;

/// `Shape`: the input's dimensions (symbolic where dynamic), optionally
/// sliced by `start` / `end`. It reads only the shape, so it folds for
/// tensors too.
pub(super) fn shape(ctx: &mut LowerCtx<'_>, node: &Node<'_>, ins: &[In]) -> Folded {
    let dims: Vec<ODim> = match ins.first() {
        Some(In::Const(d)) => d.dims.iter().map(|x| ODim::Known(*x as i64)).collect(),
        Some(In::Shape(d, scalar)) => {
            if *scalar {
                vec![]
            } else {
                vec![ODim::Known(d.len() as i64)]
            }
        }
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
    Ok(Some((dims, false)))
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
    let all_shapes: Option<Vec<(Vec<ODim>, bool)>> = ins.iter().filter(|i| !matches!(i, In::Missing)).map(as_shape).collect();
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

/// `Add`, `Sub`, `Mul` and `Div` with a shape vector operand: known entries
/// compute (Div as Euclidean division), symbolic ones become unknown, except
/// that multiplying or dividing by 1 keeps them.
pub(super) fn arith(_: &Node<'_>, ins: &[In], op: Arith) -> Folded {
    let (Some((a, sa)), Some((b, sb))) = (ins.first().and_then(as_shape), ins.get(1).and_then(as_shape)) else { return Ok(None) };
    if !ins.iter().any(|i| matches!(i, In::Shape(..))) || !(a.len() == b.len() || a.len() == 1 || b.len() == 1) {
        return Ok(None);
    }
    let n = a.len().max(b.len());
    let get = |v: &Vec<ODim>, i: usize| if v.len() == 1 { v[0].clone() } else { v[i].clone() };
    let dims = (0..n)
        .map(|i| match (get(&a, i), get(&b, i)) {
            (ODim::Known(x), ODim::Known(y)) => match op {
                Arith::Add => ODim::Known(x.wrapping_add(y)),
                Arith::Sub => ODim::Known(x.wrapping_sub(y)),
                Arith::Mul => ODim::Known(x.wrapping_mul(y)),
                _ => x.checked_div_euclid(y).map_or(ODim::Unknown, ODim::Known),
            },
            (x, ODim::Known(1)) if matches!(op, Arith::Mul | Arith::Div) => x,
            _ => ODim::Unknown,
        })
        .collect();
    Ok(Some((dims, sa && sb)))
}
