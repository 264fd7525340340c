//! `BATCH_MATMUL`.

use super::elementwise::broadcast_shape;
use super::{dot, strides, Cx, Result};
use crate::eval::Value;
use crate::model::BatchMatMulOptions;

/// `BATCH_MATMUL`: `[..., M, K] × [..., K, N]` (each operand's last two
/// dimensions swapped under `adj_x` / `adj_y`), batch dimensions broadcast.
pub(super) fn batch_matmul(cx: &Cx<'_>, o: &BatchMatMulOptions) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let a = cx.input(0, "lhs")?;
    let b = cx.input(1, "rhs")?;
    let (ra, rb) = (a.rank(), b.rank());
    if ra < 2 || rb < 2 {
        return Err(cx.shape_err(format!("operands must have rank ≥ 2, have {:?} and {:?}", a.shape, b.shape)));
    }
    let (a_rows, a_cols) = (a.shape[ra - 2], a.shape[ra - 1]);
    let (b_rows, b_cols) = (b.shape[rb - 2], b.shape[rb - 1]);
    let (m, k) = if o.adj_x { (a_cols, a_rows) } else { (a_rows, a_cols) };
    let (kb, nn) = if o.adj_y { (b_cols, b_rows) } else { (b_rows, b_cols) };
    if k != kb {
        return Err(cx.shape_err(format!("inner dimensions of {:?} and {:?} differ", a.shape, b.shape)));
    }
    let (ba, bb) = (&a.shape[..ra - 2], &b.shape[..rb - 2]);
    let batch = broadcast_shape(ba, bb).ok_or_else(|| cx.shape_err(format!("batch dimensions {ba:?} and {bb:?} do not broadcast")))?;
    let mut shape = batch.clone();
    shape.extend([m, nn]);
    let total = cx.numel(&shape)?;
    let (xs, ys) = (cx.real(a)?, cx.real(b)?);
    // Batch strides of each operand within the broadcast batch shape.
    let bstrides = |own: &[usize], mat: usize| -> Vec<usize> {
        let st: Vec<usize> = strides(own).into_iter().map(|s| s * mat).collect();
        let skip = batch.len() - own.len();
        let mut v = vec![0; skip];
        v.extend(own.iter().zip(st).zip(&batch[skip..]).map(|((d, s), o)| if d == o { s } else { 0 }));
        v
    };
    let (sa, sb) = (bstrides(ba, a_rows * a_cols), bstrides(bb, b_rows * b_cols));
    let nbatch: usize = batch.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut row = vec![0.0; k];
    let mut col = vec![0.0; k];
    let mut index = vec![0usize; batch.len()];
    for _ in 0..nbatch {
        let oa: usize = index.iter().zip(&sa).map(|(i, s)| i * s).sum();
        let ob: usize = index.iter().zip(&sb).map(|(i, s)| i * s).sum();
        let ma = cx.slice(&xs, oa, a_rows * a_cols)?;
        let mb = cx.slice(&ys, ob, b_rows * b_cols)?;
        for i in 0..m {
            for (t, r) in row.iter_mut().enumerate() {
                *r = *ma.get(if o.adj_x { t * a_cols + i } else { i * a_cols + t }).ok_or_else(|| cx.internal())?;
            }
            for j in 0..nn {
                for (t, c) in col.iter_mut().enumerate() {
                    *c = *mb.get(if o.adj_y { j * b_cols + t } else { t * b_cols + j }).ok_or_else(|| cx.internal())?;
                }
                out.push(dot(&row, &col));
            }
        }
        for (i, d) in index.iter_mut().zip(&batch).rev() {
            *i += 1;
            if *i < *d {
                break;
            }
            *i = 0;
        }
    }
    cx.finish(shape, out)
}
