//! Col2Im: the adjoint of im2col, which is a transposed convolution of the
//! columns (reshaped to `[N, C·Πk, L₁, …]`) with one-hot weights
//! `W[c·Πk + tap, c, tap] = 1`. It is lowered as that ConvTranspose node,
//! with the same strides, dilations and pads.

use super::operand::{shape_err, typed_input};
use super::{conv_transpose::lower_conv_transpose, LowerCtx, LowerError, Node, Val};
use crate::onnx::ir::{Attr, ONode, TensorData};

/// The most one-hot weight entries built.
const MAX_WEIGHTS: usize = 1 << 22;

/// Lowers `Col2Im` (constant image_shape and block_shape; 1 to 3 spatial
/// dims as ConvTranspose takes them).
pub fn lower_col2im(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let x = typed_input(ctx, node, &[crate::model::DType::F32])?;
    let image = ctx.const_ints(node, 1, "image_shape")?;
    let block = ctx.const_ints(node, 2, "block_shape")?;
    let nd = image.len();
    if nd == 0 || nd > 3 || block.len() != nd {
        return Err(LowerError::invalid(format!("image_shape {image:?} and block_shape {block:?}")));
    }
    if image.iter().chain(&block).any(|v| *v <= 0 || *v > i64::from(i32::MAX)) {
        return Err(LowerError::invalid(format!("image_shape {image:?} and block_shape {block:?} must be positive")));
    }
    let dims = ctx.shape(x).as_fixed().ok_or_else(|| shape_err(format!("Col2Im on {} (needs a static shape)", ctx.shape(x))))?;
    let [n, ck, l] = dims[..] else {
        return Err(shape_err(format!("Col2Im input of rank {} (must be 3)", dims.len())));
    };
    let taps = block.iter().try_fold(1usize, |a, b| a.checked_mul(*b as usize)).ok_or_else(|| shape_err("block too large"))?;
    if !(ck as usize).is_multiple_of(taps) {
        return Err(LowerError::invalid(format!("{ck} columns for blocks of {taps}")));
    }
    let c = ck as usize / taps;
    let strides = node.attr_ints("strides")?.unwrap_or_else(|| vec![1; nd]);
    let dil = node.attr_ints("dilations")?.unwrap_or_else(|| vec![1; nd]);
    let pads = node.attr_ints("pads")?.unwrap_or_else(|| vec![0; 2 * nd]);
    if strides.len() != nd || dil.len() != nd || pads.len() != 2 * nd {
        return Err(LowerError::attr(format!("strides {strides:?}, dilations {dil:?}, pads {pads:?} for {nd} spatial dims")));
    }
    if strides.iter().chain(&dil).any(|v| *v <= 0 || *v > i64::from(i32::MAX)) || pads.iter().any(|p| *p < 0 || *p > i64::from(i32::MAX)) {
        return Err(LowerError::attr(format!("strides {strides:?}, dilations {dil:?}, pads {pads:?}")));
    }
    // Blocks per spatial dim, whose product must be L.
    let mut grid = Vec::with_capacity(nd);
    // Rows after the last block that no block reaches: output_padding.
    let mut rest = Vec::with_capacity(nd);
    for i in 0..nd {
        let span = image[i] + pads[i] + pads[i + nd] - ((block[i] - 1) * dil[i] + 1);
        if span < 0 {
            return Err(LowerError::invalid(format!("block {block:?} larger than the padded image {image:?}")));
        }
        grid.push(span / strides[i] + 1);
        rest.push(span % strides[i]);
    }
    if grid.iter().product::<i64>() != i64::from(l) {
        return Err(LowerError::invalid(format!("{l} blocks, but image {image:?} holds {grid:?}")));
    }
    if c.checked_mul(ck as usize).and_then(|v| v.checked_mul(taps)).is_none_or(|v| v > MAX_WEIGHTS) {
        return Err(shape_err("Col2Im one-hot weights too large"));
    }
    let name = node.name();
    // [N, C·Πk, L] → [N, C·Πk, L₁, …]
    let mut shape: Vec<i32> = vec![n as i32, ck as i32];
    shape.extend(grid.iter().map(|g| *g as i32));
    let cols = ctx.g.reshape(x, &shape)?;
    // W[c·Πk + t, c', t'] = δ(c, c') δ(t, t'), as [C·Πk, C, k…].
    let mut w = vec![0f32; ck as usize * c * taps];
    for ch in 0..c {
        for t in 0..taps {
            w[((ch * taps + t) * c + ch) * taps + t] = 1.0;
        }
    }
    let mut wdims = vec![ck as usize, c];
    wdims.extend(block.iter().map(|b| *b as usize));
    let (xn, wn) = (format!("{name}/col2im_columns"), format!("{name}/col2im_weights"));
    ctx.env.insert(xn.clone(), Val::Tensor(cols));
    ctx.env.insert(wn.clone(), Val::Const(TensorData::from_f32(wdims, &w)));
    let ct = ONode {
        name: format!("{name}/as_conv_transpose"),
        op_type: "ConvTranspose".into(),
        domain: String::new(),
        inputs: vec![xn, wn],
        outputs: node.inner.outputs.clone(),
        attrs: vec![
            ("strides".into(), Attr::Ints(strides)),
            ("dilations".into(), Attr::Ints(dil)),
            ("pads".into(), Attr::Ints(pads)),
            ("output_padding".into(), Attr::Ints(rest)),
        ],
        implicit: vec![],
    };
    let r = lower_conv_transpose(ctx, &Node { inner: &ct, opset: node.opset() });
    ctx.env.remove(&ct.inputs[1]);
    r
}
