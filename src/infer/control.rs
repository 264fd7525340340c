//! Inference for the control-flow ops IF, WHILE and CALL_ONCE.
//!
//! The outputs of control flow come from the subgraphs it calls,
//! which validation checks with the whole model; here only what the
//! node alone shows.

use super::{count, Inferred};
use crate::model::{DType, Op, Tensor};

/// Checks a control-flow op; `None` for the ops of other families.
pub(super) fn infer(op: &Op, inputs: &[Option<&Tensor>]) -> Option<Result<Option<Vec<Inferred>>, String>> {
    Some(match op {
        Op::If { .. } => if_op(inputs),
        Op::While { .. } => while_op(inputs),
        Op::CallOnce { .. } => call_once(inputs),
        _ => return None,
    })
}

fn if_op(inputs: &[Option<&Tensor>]) -> Result<Option<Vec<Inferred>>, String> {
    let cond = inputs.first().copied().flatten().ok_or("missing input 0 (cond)")?;
    if cond.dtype != DType::Bool || cond.shape.num_elements().is_some_and(|n| n != 1) {
        return Err(format!("cond must be one bool, is {} {}", cond.dtype, cond.shape));
    }
    if inputs.iter().any(Option::is_none) {
        return Err("IF has no optional inputs".into());
    }
    Ok(None)
}

fn while_op(inputs: &[Option<&Tensor>]) -> Result<Option<Vec<Inferred>>, String> {
    if inputs.iter().any(Option::is_none) {
        return Err("WHILE has no optional inputs".into());
    }
    Ok(None)
}

fn call_once(inputs: &[Option<&Tensor>]) -> Result<Option<Vec<Inferred>>, String> {
    count(inputs, 0, 0)?;
    Ok(None)
}
