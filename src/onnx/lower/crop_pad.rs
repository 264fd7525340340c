//! CenterCropPad: SLICE for the axes cropped, PAD (zeros) for the axes
//! padded, on a static input shape; a run-time target shape gives run-time
//! begin, size and paddings (and a run-time output shape).

use super::operand::{dtype_err, int32_vector, pass_through, scatter_vector, shape_err};
use super::{norm_axis, LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `CenterCropPad`. For each axis named (all by default) with target
/// size `s` and input size `d`: `d > s` crops `[(d − s) / 2, … + s)`;
/// `d < s` pads `(s − d) / 2` zeros before and the rest after (the extra
/// one, for an odd difference, goes after, as ONNX's reference does).
pub fn lower_center_crop_pad(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let axes: Vec<usize> = match node.attr_ints("axes")? {
        Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..r).collect(),
    };
    if ctx.const_input(node, 1).is_none() {
        return runtime_shape(ctx, node, x, &axes);
    }
    let target = ctx.const_ints(node, 1, "shape")?;
    if axes.len() != target.len() {
        return Err(LowerError::invalid(format!("CenterCropPad shape of {} entries for {} axes", target.len(), axes.len())));
    }
    let mut begin = vec![0i32; r];
    let mut size = vec![-1i32; r];
    let mut pads = vec![(0i32, 0i32); r];
    let (mut crop, mut pad) = (false, false);
    for (&a, &s) in axes.iter().zip(&target) {
        let d = xs.dim(a).and_then(|d| d.fixed()).map(i64::from).ok_or_else(|| shape_err(format!("CenterCropPad on axis {a} of dynamic size ({xs})")))?;
        let s32 = i32::try_from(s).ok().filter(|s| *s > 0).ok_or_else(|| shape_err(format!("CenterCropPad to size {s} on axis {a}")))?;
        if d > s {
            begin[a] = ((d - s) / 2) as i32;
            size[a] = s32;
            crop = true;
        } else if d < s {
            let before = ((s - d) / 2) as i32;
            pads[a] = (before, (s - d) as i32 - before);
            pad = true;
        }
    }
    let mut y = x;
    if crop {
        y = ctx.g.slice(y, &begin, &size)?;
    }
    if pad {
        if ctx.dtype(y) == DType::Bool {
            return Err(dtype_err("CenterCropPad padding a bool tensor"));
        }
        y = ctx.g.pad(y, &pads)?;
    }
    if y == x {
        return pass_through(ctx, node);
    }
    ctx.set_output(node, 0, y);
    Ok(())
}

/// CenterCropPad to a run-time shape `s` (int32, saturated) on axes of
/// static sizes `d`: `begin = max(d − s, 0) / 2`, `size = min(d, s)`,
/// `before = max(s − d, 0) / 2`, `after = max(s − d, 0) − before`, each
/// computed on the named axes and placed in full-rank vectors (0, −1 or 0
/// elsewhere), then SLICE and PAD with those tensors.
fn runtime_shape(ctx: &mut LowerCtx<'_>, node: &Node<'_>, x: TensorId, axes: &[usize]) -> Result<(), LowerError> {
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    if ctx.dtype(x) == DType::Bool {
        return Err(dtype_err("CenterCropPad padding a bool tensor"));
    }
    let (s, k) = int32_vector(ctx, node, 1, "shape")?;
    if k != axes.len() {
        return Err(LowerError::invalid(format!("CenterCropPad shape of {k} entries for {} axes", axes.len())));
    }
    let d: Vec<i32> = axes
        .iter()
        .map(|a| xs.dim(*a).and_then(|d| d.fixed()).map(|v| v as i32).ok_or_else(|| shape_err(format!("CenterCropPad on axis {a} of dynamic size ({xs})"))))
        .collect::<Result<_, _>>()?;
    let name = node.name();
    let dt = ctx.g.constant_i32(&format!("{name}/sizes"), [k as u32], &d);
    let zero = ctx.g.constant_i32(&format!("{name}/zero"), Shape::scalar(), &[0]);
    let two = ctx.g.constant_i32(&format!("{name}/two"), Shape::scalar(), &[2]);
    // A target below 1 is invalid in ONNX; clamp so SLICE stays in range.
    let one = ctx.g.constant_i32(&format!("{name}/one"), Shape::scalar(), &[1]);
    let s = ctx.g.maximum(s, one)?;
    let over = ctx.g.sub(dt, s)?;
    let over = ctx.g.maximum(over, zero)?;
    let begin = ctx.g.div(over, two)?;
    let size = ctx.g.minimum(dt, s)?;
    let under = ctx.g.sub(s, dt)?;
    let under = ctx.g.maximum(under, zero)?;
    let before = ctx.g.div(under, two)?;
    let after = ctx.g.sub(under, before)?;
    let pos: Vec<Option<usize>> = (0..r).map(|i| axes.iter().position(|a| *a == i)).collect();
    let begin = scatter_vector(ctx, &format!("{name}/begin"), begin, k, &pos, 0)?;
    let size = scatter_vector(ctx, &format!("{name}/size"), size, k, &pos, -1)?;
    let before = scatter_vector(ctx, &format!("{name}/before"), before, k, &pos, 0)?;
    let after = scatter_vector(ctx, &format!("{name}/after"), after, k, &pos, 0)?;
    let y = ctx.g.apply(Op::Slice, &[Some(x), Some(begin), Some(size)])?;
    let before = ctx.g.reshape(before, &[r as i32, 1])?;
    let after = ctx.g.reshape(after, &[r as i32, 1])?;
    let pads = ctx.g.concatenation(&[before, after], 1)?;
    let y = ctx.g.apply(Op::Pad, &[Some(y), Some(pads)])?;
    ctx.set_output(node, 0, y);
    Ok(())
}
