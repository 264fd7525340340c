//! Unique over the flattened input: UNIQUE (values in order of first
//! occurrence and each element's index among them), unsorted segment
//! reductions for the first positions and the counts, and for `sorted=1`
//! a sort of the (distinct) values by TOPK_V2.

use super::operand::dtype_err;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Types UNIQUE and TOPK_V2 take here.
const TYPES: &[DType] = &[DType::F32, DType::I32, DType::I64];

/// Lowers `Unique` without `axis` (the input flattened): outputs Y, the
/// first index of each value, each element's index into Y, and the counts.
/// `sorted=0` keeps UNIQUE's order of first occurrence, as ONNX does;
/// `sorted=1` (the default) sorts Y ascending: TOPK_V2 over all `m`
/// values (distinct, so no ties) then REVERSE_V2, and the other outputs
/// follow the permutation (the inverse indices through its inverse, the
/// ascending argsort of the permutation, by TOPK_V2 again). `axis` (unique slices) is refused.
pub fn lower_unique(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if node.has_attr("axis") {
        return Err(LowerError::attr("Unique with axis (unique slices; only the flattened form is lowered)"));
    }
    let sorted = node.int_or("sorted", 1)? != 0;
    let x = ctx.input(node, 0)?;
    let dt = ctx.dtype(x);
    if !TYPES.contains(&dt) {
        return Err(dtype_err(format!("Unique on {dt} (float32, int32, int64)")));
    }
    let n = ctx.shape(x).num_elements().ok_or_else(|| super::operand::shape_err(format!("Unique of an input of dynamic shape {}", ctx.shape(x))))?;
    if n == 0 || n > 1 << 24 {
        return Err(super::operand::shape_err(format!("Unique of {n} elements")));
    }
    let name = node.name();
    let flat = ctx.g.reshape(x, &[n as i32])?;
    let outs = ctx.g.unique(flat, UniqueOptions { idx_out_type: DType::I32 })?;
    let (y, inv) = match outs[..] {
        [y, inv] => (y, inv),
        _ => return Err(LowerError::invalid("UNIQUE gave an unexpected number of outputs")),
    };
    // m, the number of distinct values, as a [1] vector and a scalar.
    let m = ctx.g.shape(y, ShapeOptions { out_type: DType::I32 })?;
    let m_scalar = ctx.g.reshape(m, &[])?;
    let positions: Vec<i32> = (0..n as i32).collect();
    let positions = ctx.g.constant_i32(&format!("{name}/positions"), [n as u32], &positions);
    let first = ctx.g.unsorted_segment_min(&[Some(positions), Some(inv), Some(m_scalar)])?;
    let ones = ctx.g.constant_i32(&format!("{name}/ones"), [n as u32], &vec![1; n as usize]);
    let counts = ctx.g.unsorted_segment_sum(&[Some(ones), Some(inv), Some(m_scalar)])?;
    let (y, first, inv, counts) = if sorted {
        let top = ctx.g.topk_v2(y, m_scalar)?;
        let [values, order] = top[..] else {
            return Err(LowerError::invalid("TOPK_V2 gave an unexpected number of outputs"));
        };
        let axis0 = ctx.g.constant_i32(&format!("{name}/axis0"), [1u32], &[0]);
        let y = ctx.g.reverse_v2(values, axis0)?;
        let perm = ctx.g.reverse_v2(order, axis0)?;
        // rank[perm[i]] = i: the ascending argsort of perm (distinct).
        let back = ctx.g.topk_v2(perm, m_scalar)?;
        let [_, back_order] = back[..] else {
            return Err(LowerError::invalid("TOPK_V2 gave an unexpected number of outputs"));
        };
        let rank = ctx.g.reverse_v2(back_order, axis0)?;
        let inv = ctx.g.gather(rank, inv, GatherOptions::new(0))?;
        let first = ctx.g.gather(first, perm, GatherOptions::new(0))?;
        let counts = ctx.g.gather(counts, perm, GatherOptions::new(0))?;
        (y, first, inv, counts)
    } else {
        (y, first, inv, counts)
    };
    ctx.set_output(node, 0, y);
    for (i, t) in [(1, first), (2, inv), (3, counts)] {
        if node.num_outputs() > i && !node.inner.outputs[i].is_empty() {
            let t = ctx.g.cast(t, DType::I64)?;
            ctx.set_output(node, i, t);
        }
    }
    Ok(())
}
