//! Detection post-processing: NonMaxSuppression.

use super::operand::{dtype_err, shape_err};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;

/// Lowers `NonMaxSuppression` to one NON_MAX_SUPPRESSION_V4 per batch and
/// class (both counts static), each cut to its valid outputs and tagged
/// with its batch and class index; the rows are concatenated in ONNX's
/// order (batch, then class) into int64 `[selected, 3]`.
///
/// TFLite suppresses a box when `iou >= threshold` and ONNX when
/// `iou > threshold`, so the threshold given to TFLite is the next float
/// up (for a threshold ≥ 0; a negative one suppresses every overlap either
/// way). Ties between equal scores may be broken in another order than
/// onnxruntime's.
pub fn lower_non_max_suppression(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let name = node.name();
    let boxes = ctx.input(node, 0)?;
    let scores = ctx.input(node, 1)?;
    if ctx.dtype(boxes) != DType::F32 || ctx.dtype(scores) != DType::F32 {
        return Err(dtype_err("NonMaxSuppression on boxes and scores that are not float32"));
    }
    let (bs, ss) = (ctx.shape(boxes).clone(), ctx.shape(scores).clone());
    if bs.rank() != 3 || ss.rank() != 3 || bs.dims()[2] != Dim::Fixed(4) {
        return Err(shape_err(format!("boxes {bs} and scores {ss} (need [batches, boxes, 4] and [batches, classes, boxes])")));
    }
    let (Some(batches), Some(classes)) = (bs.dims()[0].fixed(), ss.dims()[1].fixed()) else {
        return Err(shape_err(format!("boxes {bs} and scores {ss}: the number of batches and classes must be static")));
    };
    if batches * classes > 256 {
        return Err(shape_err(format!("{batches} batches × {classes} classes: at most 256 NMS ops are emitted")));
    }
    let center = node.int_or("center_point_box", 0)?;
    // max_output_boxes_per_class (default 0: nothing is selected).
    let max_out = if node.has_input(2) {
        match ctx.const_input(node, 2) {
            Some(d) => Some(d.to_i64().and_then(|v| v.first().copied()).ok_or_else(|| LowerError::invalid("max_output_boxes_per_class"))?),
            None => None,
        }
    } else {
        Some(0)
    };
    if max_out.is_some_and(|m| m <= 0) {
        let t = ctx.g.constant(&format!("{name}/none"), DType::I64, Shape::new([0, 3]), ConstData::from_bytes(Vec::new()));
        ctx.set_output(node, 0, t);
        return Ok(());
    }
    let n_boxes = ctx.symbolic_shape(boxes)[1].clone();
    // The per-class limit as an int32 scalar, at most the number of boxes.
    let max_t = match (max_out, n_boxes.known()) {
        (Some(m), Some(n)) => ctx.g.constant_i32(&format!("{name}/max"), Shape::scalar(), &[i32::try_from(m.min(n)).unwrap_or(i32::MAX)]),
        (Some(m), None) => ctx.g.constant_i32(&format!("{name}/max"), Shape::scalar(), &[i32::try_from(m).unwrap_or(i32::MAX)]),
        (None, _) => {
            let m = ctx.input(node, 2)?;
            let m = if ctx.dtype(m) == DType::I64 { m } else { ctx.g.cast(m, DType::I64)? };
            let n = ctx.shape_tensor(&format!("{name}/n"), std::slice::from_ref(&n_boxes), false)?;
            let n = ctx.g.cast(n, DType::I64)?;
            let m = ctx.g.reshape(m, &[1])?;
            let m = ctx.g.minimum(m, n)?;
            let m = ctx.g.cast(m, DType::I32)?;
            ctx.g.reshape(m, &[])?
        }
    };
    // iou_threshold (default 0), as TFLite's `>=` threshold.
    let iou = if node.has_input(3) {
        match ctx.const_input(node, 3) {
            Some(d) => {
                let t = d.to_f64().and_then(|v| v.first().copied()).ok_or_else(|| LowerError::invalid("iou_threshold"))? as f32;
                ctx.g.constant_f32(&format!("{name}/iou"), Shape::scalar(), &[next_up(t)])
            }
            None => {
                let t = ctx.input(node, 3)?;
                if ctx.dtype(t) != DType::F32 {
                    return Err(dtype_err("iou_threshold that is not float32"));
                }
                let t = ctx.g.reshape(t, &[])?;
                // next_up at run time: the bits plus one, for t ≥ 0.
                let bits = bitcast(ctx, t, DType::I32, &name)?;
                let one = ctx.g.constant_i32(&format!("{name}/one"), Shape::scalar(), &[1]);
                let up = ctx.g.add(bits, one)?;
                let up = bitcast(ctx, up, DType::F32, &name)?;
                let zero = ctx.g.constant_f32(&format!("{name}/zero"), Shape::scalar(), &[0.0]);
                let neg = ctx.g.apply(Op::Less, &[Some(t), Some(zero)])?;
                ctx.g.apply(Op::SelectV2, &[Some(neg), Some(t), Some(up)])?
            }
        }
    } else {
        ctx.g.constant_f32(&format!("{name}/iou"), Shape::scalar(), &[next_up(0.0)])
    };
    let score = if node.has_input(4) {
        let t = ctx.input(node, 4)?;
        if ctx.dtype(t) != DType::F32 {
            return Err(dtype_err("score_threshold that is not float32"));
        }
        if ctx.shape(t).rank() == 0 { t } else { ctx.g.reshape(t, &[])? }
    } else {
        ctx.g.constant_f32(&format!("{name}/score"), Shape::scalar(), &[f32::NEG_INFINITY])
    };
    let mut rows = Vec::new();
    for b in 0..batches as i32 {
        let bi = ctx.g.constant_i32(&format!("{name}/b{b}"), Shape::scalar(), &[b]);
        let bx = ctx.g.gather(boxes, bi, GatherOptions::default())?;
        let bx = if center == 1 { center_to_corners(ctx, bx, &name)? } else { bx };
        let sb = ctx.g.gather(scores, bi, GatherOptions::default())?;
        for c in 0..classes as i32 {
            let ci = ctx.g.constant_i32(&format!("{name}/c{c}"), Shape::scalar(), &[c]);
            let sc = ctx.g.gather(sb, ci, GatherOptions::default())?;
            let outs = ctx.g.apply_multi(Op::NonMaxSuppressionV4, &[Some(bx), Some(sc), Some(max_t), Some(iou), Some(score)])?;
            let (sel, valid) = (outs[0], outs[1]);
            let size = ctx.g.reshape(valid, &[1])?;
            let begin = ctx.g.constant_i32(&format!("{name}/begin"), [1u32], &[0]);
            let sel = ctx.g.apply(Op::Slice, &[Some(sel), Some(begin), Some(size)])?;
            let zero = ctx.g.constant_i32(&format!("{name}/zero_i"), Shape::scalar(), &[0]);
            let zeros = ctx.g.mul(sel, zero)?;
            let bcol = ctx.g.add(zeros, bi)?;
            let ccol = ctx.g.add(zeros, ci)?;
            let o = PackOptions { values_count: 3, axis: 1 };
            rows.push(ctx.g.pack(&[Some(bcol), Some(ccol), Some(sel)], o)?);
        }
    }
    let all = if rows.len() == 1 { rows[0] } else { ctx.g.concatenation(&rows, 0)? };
    let y = ctx.g.cast(all, DType::I64)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// The next float up from `t` for `t ≥ 0` (so that TFLite's `iou >= t'`
/// is ONNX's `iou > t`); a negative `t` is kept.
fn next_up(t: f32) -> f32 {
    if t < 0.0 || !t.is_finite() {
        return t;
    }
    f32::from_bits(t.to_bits() + 1)
}

/// BITCAST of a scalar between 32-bit types.
fn bitcast(ctx: &mut LowerCtx<'_>, t: TensorId, to: DType, name: &str) -> Result<TensorId, LowerError> {
    let out = ctx.g.add_tensor(Tensor::new(format!("{name}/bits"), to, Shape::scalar()));
    ctx.g.add_operator(Operator::new(Op::Bitcast, &[t], &[out]))?;
    Ok(out)
}

/// `[xc, yc, w, h]` boxes to `[y1, x1, y2, x2]`, with ONNX's arithmetic.
fn center_to_corners(ctx: &mut LowerCtx<'_>, bx: TensorId, name: &str) -> Result<TensorId, LowerError> {
    let parts = ctx.g.apply_multi(Op::Unpack(UnpackOptions { num: 4, axis: 1 }), &[Some(bx)])?;
    let half = ctx.g.constant_f32(&format!("{name}/half"), Shape::scalar(), &[0.5]);
    let (xc, yc, w, h) = (parts[0], parts[1], parts[2], parts[3]);
    let hw = ctx.g.mul(w, half)?;
    let hh = ctx.g.mul(h, half)?;
    let y1 = ctx.g.sub(yc, hh)?;
    let x1 = ctx.g.sub(xc, hw)?;
    let y2 = ctx.g.add(yc, hh)?;
    let x2 = ctx.g.add(xc, hw)?;
    Ok(ctx.g.pack(&[Some(y1), Some(x1), Some(y2), Some(x2)], PackOptions { values_count: 4, axis: 1 })?)
}
