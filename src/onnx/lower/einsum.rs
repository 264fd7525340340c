//! Einsum, as TRANSPOSE / RESHAPE / SUM / BATCH_MATMUL.
//!
//! Operands are contracted pairwise from the left. For a pair, each label
//! is a batch label (in both and kept), a contracted label (in both, not
//! kept), or belongs to one side only (kept, or summed away first with
//! SUM). The operands are transposed to `[batch, free, contracted]` and
//! `[batch, contracted, free]`, flattened to 3-D, multiplied with
//! BATCH_MATMUL, reshaped back and transposed to the output order.
//! Repeated labels within one operand (diagonals) and batch dimensions of
//! different sizes (broadcasting) are unsupported; float32 only.

use super::operand::{dtype_err, shape_err};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// A value during the contraction: a tensor and one label per dimension.
#[derive(Clone)]
struct Term {
    t: TensorId,
    labels: Vec<char>,
    dims: Vec<i64>,
}

/// Parses one operand's labels, expanding `...` to the `k` trailing
/// ellipsis labels of `ell` (digits, never used by equations).
fn parse_labels(s: &str, rank: Option<usize>, ell: &[char]) -> Result<Vec<char>, LowerError> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bad = || LowerError::invalid(format!("Einsum term {s:?}"));
    let (before, after, has) = match s.find("...") {
        Some(p) => (&s[..p], &s[p + 3..], true),
        None => (&s[..], "", false),
    };
    if before.chars().chain(after.chars()).any(|c| !c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let explicit = before.len() + after.len();
    let mut out: Vec<char> = before.chars().collect();
    if has {
        let k = match rank {
            Some(r) => r.checked_sub(explicit).ok_or_else(bad)?,
            None => ell.len(),
        };
        if k > ell.len() {
            return Err(bad());
        }
        out.extend_from_slice(&ell[ell.len() - k..]);
    }
    out.extend(after.chars());
    if let Some(r) = rank
        && out.len() != r
    {
        return Err(LowerError::invalid(format!("Einsum term {s:?} for an operand of rank {r}")));
    }
    Ok(out)
}

fn i32s(v: &[i64]) -> Result<Vec<i32>, LowerError> {
    v.iter().map(|x| i32::try_from(*x).map_err(|_| shape_err(format!("dimension {x} is too large")))).collect()
}

fn size_of(t: &Term, l: char) -> i64 {
    t.labels.iter().position(|x| *x == l).map_or(1, |i| t.dims[i])
}

/// Transposes `t` so that its labels come in `order`.
fn permute(ctx: &mut LowerCtx<'_>, t: &Term, order: &[char]) -> Result<Term, LowerError> {
    let perm: Vec<i32> = order.iter().map(|l| t.labels.iter().position(|x| x == l).unwrap_or(0) as i32).collect();
    if perm.iter().enumerate().all(|(i, p)| *p == i as i32) {
        return Ok(t.clone());
    }
    let y = ctx.transpose(t.t, &perm)?;
    Ok(Term { t: y, labels: order.to_vec(), dims: perm.iter().map(|p| t.dims[*p as usize]).collect() })
}

/// Sums away the labels of `t` that are not in `keep`.
fn sum_out(ctx: &mut LowerCtx<'_>, t: Term, keep: &[char]) -> Result<Term, LowerError> {
    let axes: Vec<i32> = t.labels.iter().enumerate().filter(|(_, l)| !keep.contains(l)).map(|(i, _)| i as i32).collect();
    if axes.is_empty() {
        return Ok(t);
    }
    let y = ctx.g.sum(t.t, &axes, false)?;
    let (labels, dims) = t.labels.iter().zip(&t.dims).filter(|(l, _)| keep.contains(l)).map(|(l, d)| (*l, *d)).unzip();
    Ok(Term { t: y, labels, dims })
}

/// Contracts `a` and `b`, keeping the labels in `keep`.
fn contract(ctx: &mut LowerCtx<'_>, a: Term, b: Term, keep: &[char]) -> Result<Term, LowerError> {
    let a_keep: Vec<char> = keep.iter().chain(b.labels.iter()).copied().collect();
    let b_keep: Vec<char> = keep.iter().chain(a.labels.iter()).copied().collect();
    let a = sum_out(ctx, a, &a_keep)?;
    let b = sum_out(ctx, b, &b_keep)?;
    let batch: Vec<char> = a.labels.iter().filter(|l| b.labels.contains(l) && keep.contains(l)).copied().collect();
    let inner: Vec<char> = a.labels.iter().filter(|l| b.labels.contains(l) && !keep.contains(l)).copied().collect();
    let m: Vec<char> = a.labels.iter().filter(|l| !b.labels.contains(l)).copied().collect();
    let n: Vec<char> = b.labels.iter().filter(|l| !a.labels.contains(l)).copied().collect();
    for l in batch.iter().chain(&inner) {
        if size_of(&a, *l) != size_of(&b, *l) {
            return Err(shape_err(format!("Einsum label {l:?} has sizes {} and {} (broadcasting is unsupported)", size_of(&a, *l), size_of(&b, *l))));
        }
    }
    let prod = |t: &Term, ls: &[char]| ls.iter().map(|l| size_of(t, *l)).product::<i64>();
    let order_a: Vec<char> = batch.iter().chain(&m).chain(&inner).copied().collect();
    let order_b: Vec<char> = batch.iter().chain(&inner).chain(&n).copied().collect();
    let pa = permute(ctx, &a, &order_a)?;
    let pb = permute(ctx, &b, &order_b)?;
    let (bs, ms, ks, ns) = (prod(&a, &batch), prod(&a, &m), prod(&a, &inner), prod(&b, &n));
    let ra = ctx.g.reshape(pa.t, &i32s(&[bs, ms, ks])?)?;
    let rb = ctx.g.reshape(pb.t, &i32s(&[bs, ks, ns])?)?;
    let mm = ctx.g.batch_matmul(ra, rb, BatchMatMulOptions::default())?;
    let labels: Vec<char> = batch.iter().chain(&m).chain(&n).copied().collect();
    let dims: Vec<i64> = batch.iter().chain(&m).map(|l| size_of(&a, *l)).chain(n.iter().map(|l| size_of(&b, *l))).collect();
    let y = ctx.g.reshape(mm, &i32s(&dims)?)?;
    Ok(Term { t: y, labels, dims })
}

/// Lowers `Einsum`.
pub fn lower_einsum(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let eq = node.attr_str("equation")?.ok_or_else(|| LowerError::invalid("Einsum without equation"))?;
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let specs: Vec<&str> = lhs.split(',').collect();
    if specs.len() != node.num_inputs() || specs.is_empty() {
        return Err(LowerError::invalid(format!("Einsum {eq:?} with {} inputs", node.num_inputs())));
    }
    let mut terms = Vec::with_capacity(specs.len());
    let mut ell_rank = 0;
    let mut raw = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let t = ctx.input(node, i)?;
        if ctx.dtype(t) != DType::F32 {
            return Err(dtype_err(format!("Einsum on {}", ctx.dtype(t))));
        }
        let dims: Vec<i64> = ctx.shape(t).as_fixed().ok_or_else(|| shape_err("Einsum needs static shapes"))?.into_iter().map(i64::from).collect();
        let explicit = s.chars().filter(|c| c.is_ascii_alphabetic()).count();
        if s.contains("...") {
            ell_rank = ell_rank.max(dims.len().saturating_sub(explicit));
        }
        raw.push((t, dims));
    }
    if ell_rank > 10 {
        return Err(shape_err("Einsum ellipsis of more than 10 dimensions"));
    }
    let ell: Vec<char> = (0..ell_rank).map(|i| char::from(b'0' + i as u8)).collect();
    for (s, (t, dims)) in specs.iter().zip(raw) {
        let labels = parse_labels(s, Some(dims.len()), &ell)?;
        for (i, l) in labels.iter().enumerate() {
            if labels[i + 1..].contains(l) {
                return Err(LowerError::attr(format!("Einsum {eq:?}: repeated label {l:?} in one operand (diagonal)")));
            }
        }
        terms.push(Term { t, labels, dims });
    }
    let out: Vec<char> = match &rhs {
        Some(r) => parse_labels(r, None, &ell)?,
        None => {
            // Implicit output: the ellipsis, then labels used once, sorted.
            let mut once: Vec<char> = Vec::new();
            let all: Vec<char> = terms.iter().flat_map(|t| t.labels.clone()).filter(|c| c.is_ascii_alphabetic()).collect();
            for c in &all {
                if all.iter().filter(|x| *x == c).count() == 1 {
                    once.push(*c);
                }
            }
            once.sort_unstable();
            ell.iter().copied().chain(once).collect()
        }
    };
    for (i, l) in out.iter().enumerate() {
        if out[i + 1..].contains(l) || !terms.iter().any(|t| t.labels.contains(l)) {
            return Err(LowerError::invalid(format!("Einsum {eq:?}: output label {l:?}")));
        }
    }
    let mut acc = terms[0].clone();
    for k in 1..terms.len() {
        let later: Vec<char> = terms[k + 1..].iter().flat_map(|t| t.labels.clone()).chain(out.iter().copied()).collect();
        acc = contract(ctx, acc, terms[k].clone(), &later)?;
    }
    let acc = sum_out(ctx, acc, &out)?;
    let y = permute(ctx, &acc, &out)?;
    let y = if y.t == terms[0].t && terms.len() == 1 {
        // The identity equation: a copy keeps the output a new tensor.
        ctx.g.reshape(y.t, &i32s(&y.dims)?)?
    } else {
        y.t
    };
    ctx.set_output(node, 0, y);
    Ok(())
}
