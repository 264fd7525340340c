//! `BATCH_MATMUL`.

use super::elementwise::broadcast_shape;
use super::gemm::{gemm, Elem, GemmFn, Mat, Operands};
use super::{strides, Cx, Result};
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
    // Batch strides of each operand within the broadcast batch shape.
    let bstrides = |own: &[usize], mat: usize| -> Vec<usize> {
        let st: Vec<usize> = strides(own).into_iter().map(|s| s * mat).collect();
        let skip = batch.len() - own.len();
        let mut v = vec![0; skip];
        v.extend(own.iter().zip(st).zip(&batch[skip..]).map(|((d, s), o)| if d == o { s } else { 0 }));
        v
    };
    let product = Product {
        cx,
        batch: &batch,
        sa: bstrides(ba, a_rows * a_cols),
        sb: bstrides(bb, b_rows * b_cols),
        // Each operand's matrix, transposed under its adjoint flag.
        ma: if o.adj_x { Mat::dense(0, a_rows, a_cols).t() } else { Mat::dense(0, a_rows, a_cols) },
        mb: if o.adj_y { Mat::dense(0, b_rows, b_cols).t() } else { Mat::dense(0, b_rows, b_cols) },
        m,
        n: nn,
    };
    let ops = Operands::new(cx, a, b, None)?;
    let mut acc = ops.run(product)?;
    if acc.len() != total {
        return Err(cx.internal());
    }
    ops.scale_all(&mut acc);
    cx.finish(shape, acc)
}

/// The products of the broadcast batch, one matrix after another.
struct Product<'c> {
    cx: &'c Cx<'c>,
    batch: &'c [usize],
    sa: Vec<usize>,
    sb: Vec<usize>,
    ma: Mat,
    mb: Mat,
    m: usize,
    n: usize,
}

impl GemmFn for Product<'_> {
    fn call<T: Elem>(&self, xs: &[T], ys: &[T], exact_chunk: Option<usize>) -> Result<Vec<f64>> {
        let cx = self.cx;
        let nbatch: usize = self.batch.iter().product();
        let mut out = vec![0.0; cx.numel(&[nbatch, self.m, self.n])?];
        let mut index = vec![0usize; self.batch.len()];
        for i in 0..nbatch {
            let oa: usize = index.iter().zip(&self.sa).map(|(i, s)| i * s).sum();
            let ob: usize = index.iter().zip(&self.sb).map(|(i, s)| i * s).sum();
            let ma = Mat { offset: oa, ..self.ma };
            let mb = Mat { offset: ob, ..self.mb };
            gemm(cx, (xs, ma), (ys, mb), (&mut out, Mat::dense(i * self.m * self.n, self.m, self.n)), exact_chunk)?;
            for (i, d) in index.iter_mut().zip(self.batch).rev() {
                *i += 1;
                if *i < *d {
                    break;
                }
                *i = 0;
            }
        }
        Ok(out)
    }
}
