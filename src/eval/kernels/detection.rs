//! `NON_MAX_SUPPRESSION_V4` (hard NMS) and `NON_MAX_SUPPRESSION_V5` (soft
//! NMS), as LiteRT's reference kernel computes them
//! (`reference/non_max_suppression.h`): candidates above the score threshold
//! in descending score order, IoU in float32 on boxes given as any two
//! corners, hard suppression at `iou >= iou_threshold`, Gaussian score decay
//! `exp(-0.5 · iou² / σ)` for soft NMS, outputs padded with zeros to
//! `max_output_size`.

use std::cmp::Ordering;

use super::{Cx, Result};
use crate::eval::Value;

fn iou(boxes: &[f32], i: usize, j: usize) -> f32 {
    let b = |k: usize| -> [f32; 4] {
        let s = boxes.get(4 * k..4 * k + 4).unwrap_or(&[0.0; 4]);
        [s[0].min(s[2]), s[1].min(s[3]), s[0].max(s[2]), s[1].max(s[3])]
    };
    let (a, c) = (b(i), b(j));
    let area_a = (a[2] - a[0]) * (a[3] - a[1]);
    let area_c = (c[2] - c[0]) * (c[3] - c[1]);
    if area_a <= 0.0 || area_c <= 0.0 {
        return 0.0;
    }
    let inter = (a[2].min(c[2]) - a[0].max(c[0])).max(0.0) * (a[3].min(c[3]) - a[1].max(c[1])).max(0.0);
    inter / (area_a + area_c - inter)
}

#[derive(Clone, Copy)]
struct Candidate {
    index: usize,
    score: f32,
    suppress_begin: usize,
}

fn scalar_f32(cx: &Cx<'_>, i: usize, what: &str) -> Result<f32> {
    let v = cx.input(i, what)?;
    match v.data.as_slice() {
        [x] => Ok(*x as f32),
        _ => Err(cx.shape_err(format!("{what} must be a scalar, has shape {:?}", v.shape))),
    }
}

pub(super) fn non_max_suppression(cx: &Cx<'_>, soft: bool) -> Result<Vec<Value>> {
    cx.arity(if soft { 6 } else { 5 }, if soft { 6 } else { 5 })?;
    let boxes_v = cx.input(0, "boxes")?;
    let scores_v = cx.input(1, "scores")?;
    let n = match boxes_v.shape.as_slice() {
        [n, 4] => *n,
        s => return Err(cx.shape_err(format!("boxes must be [n, 4], are {s:?}"))),
    };
    if scores_v.data.len() != n {
        return Err(cx.shape_err(format!("scores {:?} must hold {n} values", scores_v.shape)));
    }
    let max_v = cx.input(2, "max_output_size")?;
    let max_out = match cx.ints(max_v, "max_output_size")?.as_slice() {
        [m] if *m >= 0 => usize::try_from(*m).map_err(|_| cx.shape_err("max_output_size overflows"))?,
        other => return Err(cx.shape_err(format!("max_output_size must be one non-negative value, is {other:?}"))),
    };
    cx.numel(&[max_out])?;
    let iou_threshold = scalar_f32(cx, 3, "iou_threshold")?;
    let score_threshold = scalar_f32(cx, 4, "score_threshold")?;
    let sigma = if soft { scalar_f32(cx, 5, "soft_nms_sigma")? } else { 0.0 };
    if sigma < 0.0 {
        return Err(cx.shape_err(format!("soft_nms_sigma {sigma} is negative")));
    }
    let boxes: Vec<f32> = cx.real(boxes_v)?.iter().map(|x| *x as f32).collect();
    let scores: Vec<f32> = cx.real(scores_v)?.iter().map(|x| *x as f32).collect();
    // The queue: highest score first; equal scores keep index order.
    let mut queue: Vec<Candidate> =
        scores.iter().enumerate().filter(|(_, s)| **s > score_threshold).map(|(index, score)| Candidate { index, score: *score, suppress_begin: 0 }).collect();
    let pop = |q: &mut Vec<Candidate>| -> Option<Candidate> {
        let best = q.iter().enumerate().max_by(|(ia, a), (ib, b)| a.score.partial_cmp(&b.score).unwrap_or(Ordering::Equal).then(ib.cmp(ia)))?.0;
        Some(q.remove(best))
    };
    let num_outputs = queue.len().min(max_out);
    let scale = if sigma > 0.0 { -0.5 / sigma } else { 0.0 };
    let mut selected: Vec<usize> = Vec::new();
    let mut selected_scores: Vec<f32> = Vec::new();
    while selected.len() < num_outputs {
        let Some(mut c) = pop(&mut queue) else { break };
        let original = c.score;
        let mut hard = false;
        for j in (c.suppress_begin..selected.len()).rev() {
            let v = iou(&boxes, c.index, selected[j]);
            if v >= iou_threshold {
                hard = true;
                break;
            }
            if sigma > 0.0 {
                c.score *= (scale * v * v).exp();
            }
            if c.score <= score_threshold {
                break;
            }
        }
        c.suppress_begin = selected.len();
        if !hard {
            if c.score == original {
                selected.push(c.index);
                selected_scores.push(c.score);
            } else if c.score > score_threshold {
                queue.push(c);
            }
        }
    }
    let count = selected.len();
    let mut idx: Vec<f64> = selected.iter().map(|i| *i as f64).collect();
    idx.resize(max_out, 0.0);
    let mut sc: Vec<f64> = selected_scores.iter().map(|s| f64::from(*s)).collect();
    sc.resize(max_out, 0.0);
    let outs = cx.outputs;
    let expected = if soft { 3 } else { 2 };
    if outs.len() != expected {
        return Err(cx.shape_err(format!("has {expected} outputs, {} given", outs.len())));
    }
    let mut res = vec![cx.encode_raw(outs[0], vec![max_out], idx)?];
    if soft {
        res.push(crate::eval::convert::encode(sc, vec![max_out], outs[1], cx.name())?);
    }
    res.push(cx.encode_raw(outs[expected - 1], vec![], vec![count as f64])?);
    Ok(res)
}
