//! CenterCropPad: SLICE for the axes cropped, PAD (zeros) for the axes
//! padded, on a static input shape.

use super::operand::{dtype_err, shape_err};
use super::{norm_axis, LowerCtx, LowerError, Node};

/// Lowers `CenterCropPad`. For each axis named (all by default) with target
/// size `s` and input size `d`: `d > s` crops `[(d − s) / 2, … + s)`;
/// `d < s` pads `(s − d) / 2` zeros before and the rest after (the extra
/// one, for an odd difference, goes after, as ONNX's reference does).
pub fn lower_center_crop_pad(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let xs = ctx.shape(x).clone();
    let r = xs.rank();
    let target = ctx.const_ints(node, 1, "shape")?;
    let axes: Vec<usize> = match node.attr_ints("axes")? {
        Some(a) => a.iter().map(|a| norm_axis(*a, r)).collect::<Result<_, _>>()?,
        None => (0..r).collect(),
    };
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
        if ctx.dtype(y) == crate::model::DType::Bool {
            return Err(dtype_err("CenterCropPad padding a bool tensor"));
        }
        y = ctx.g.pad(y, &pads)?;
    }
    if y == x {
        return super::operand::pass_through(ctx, node);
    }
    ctx.set_output(node, 0, y);
    Ok(())
}
