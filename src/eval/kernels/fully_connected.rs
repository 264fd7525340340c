//! `FULLY_CONNECTED`.

use super::gemm::{Dense, Operands};
use super::{Cx, Result};
use crate::eval::Value;
use crate::model::{FullyConnectedOptions, WeightsFormat};

/// `FULLY_CONNECTED`: weights `[O, I]`, optional bias `[O]`. The input is
/// read as rows of `I`; the output is `[rows, O]`, or the input's shape with
/// the last dimension replaced by `O` under `keep_num_dims`.
pub(super) fn fully_connected(cx: &Cx<'_>, o: &FullyConnectedOptions) -> Result<Vec<Value>> {
    cx.arity(2, 3)?;
    if o.weights_format != WeightsFormat::Default {
        return Err(cx.unsupported(format!("weights format {:?}", o.weights_format)));
    }
    let x = cx.input(0, "input")?;
    let w = cx.input(1, "weights")?;
    let [units, depth] = <[usize; 2]>::try_from(w.shape.as_slice())
        .map_err(|_| cx.shape_err(format!("weights must have rank 2, have shape {:?}", w.shape)))?;
    if depth == 0 || !x.len().is_multiple_of(depth) {
        return Err(cx.shape_err(format!("input of shape {:?} does not divide into rows of {depth}", x.shape)));
    }
    let rows = x.len() / depth;
    let shape = if o.keep_num_dims {
        match x.shape.split_last() {
            Some((&last, lead)) if last == depth => lead.iter().copied().chain([units]).collect(),
            _ => return Err(cx.shape_err(format!("input of shape {:?} does not end in {depth} (keep_num_dims)", x.shape))),
        }
    } else {
        vec![rows, units]
    };
    let total = cx.numel(&shape)?;
    let bounds = cx.activation(o.activation)?;
    let bias = cx.bias(cx.optional(2), units)?;
    let ops = Operands::new(cx, x, w, Some(0))?;
    let acc = ops.run(Dense { cx, rows, depth, units })?;
    if acc.len() != total {
        return Err(cx.internal());
    }
    cx.finish(shape, ops.finish(acc, &bias, bounds))
}
