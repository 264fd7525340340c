//! Kernels of the generated data-movement ops: layout, gathers, scatters, segments and spatial ops.

use super::{Cx, Result};
use crate::eval::Value;
use crate::model::Op;

/// Whether this module has a kernel for `op`.
pub(super) fn handles(op: &Op) -> bool {
    let _ = op;
    false
}

/// Runs the kernel of `cx.op`.
pub(super) fn eval(cx: &Cx<'_>) -> Result<Vec<Value>> {
    Err(cx.unsupported("no reference kernel"))
}
