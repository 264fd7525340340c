//! Moving blocks between depth and space: DepthToSpace and SpaceToDepth on
//! NCHW values. The TFLite ops' order (DCR) runs in NHWC between
//! TRANSPOSEs; CRD mode is RESHAPE / TRANSPOSE / RESHAPE on 6-D.

use super::operand::shape_err;
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

fn block_and_dims(ctx: &LowerCtx<'_>, node: &Node<'_>, x: TensorId) -> Result<(i64, [i64; 4]), LowerError> {
    let b = node.attr_int("blocksize")?.ok_or_else(|| LowerError::invalid("blocksize is required"))?;
    if b <= 0 || i32::try_from(b).is_err() {
        return Err(LowerError::invalid(format!("blocksize {b}")));
    }
    let d = ctx.shape(x).as_fixed().filter(|d| d.len() == 4).ok_or_else(|| shape_err(format!("{} needs a static 4-D NCHW input, has {}", node.op_type(), ctx.shape(x))))?;
    Ok((b, [d[0], d[1], d[2], d[3]].map(i64::from)))
}

fn mode(node: &Node<'_>) -> Result<bool, LowerError> {
    match node.attr_str("mode")?.as_deref().unwrap_or("DCR") {
        "DCR" => Ok(false),
        "CRD" => Ok(true),
        m => Err(LowerError::attr(format!("mode {m:?}"))),
    }
}

fn i32s(v: &[i64]) -> Result<Vec<i32>, LowerError> {
    v.iter().map(|x| i32::try_from(*x).map_err(|_| shape_err(format!("dimension {x} is too large")))).collect()
}

/// Lowers `DepthToSpace`.
pub fn lower_depth_to_space(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let (b, [n, c, h, w]) = block_and_dims(ctx, node, x)?;
    if c % (b * b) != 0 {
        return Err(LowerError::invalid(format!("{c} channels for blocksize {b}")));
    }
    let y = if mode(node)? {
        let r = ctx.g.reshape(x, &i32s(&[n, c / (b * b), b, b, h, w])?)?;
        let t = ctx.transpose(r, &[0, 1, 4, 2, 5, 3])?;
        ctx.g.reshape(t, &i32s(&[n, c / (b * b), h * b, w * b])?)?
    } else {
        let t = ctx.to_channels_last(x)?;
        let d = ctx.g.depth_to_space(t, DepthToSpaceOptions { block_size: b as i32 })?;
        ctx.to_channels_first(d)?
    };
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Lowers `SpaceToDepth`.
pub fn lower_space_to_depth(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let (b, [n, c, h, w]) = block_and_dims(ctx, node, x)?;
    if h % b != 0 || w % b != 0 {
        return Err(LowerError::invalid(format!("spatial size {h}x{w} for blocksize {b}")));
    }
    let y = if mode(node)? {
        let r = ctx.g.reshape(x, &i32s(&[n, c, h / b, b, w / b, b])?)?;
        let t = ctx.transpose(r, &[0, 1, 3, 5, 2, 4])?;
        ctx.g.reshape(t, &i32s(&[n, c * b * b, h / b, w / b])?)?
    } else {
        let t = ctx.to_channels_last(x)?;
        let d = ctx.g.space_to_depth(t, SpaceToDepthOptions { block_size: b as i32 })?;
        ctx.to_channels_first(d)?
    };
    ctx.set_output(node, 0, y);
    Ok(())
}
