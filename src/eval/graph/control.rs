//! Control flow: `IF` and `WHILE` run other subgraphs of the model.
//!
//! Values pass between subgraphs as the runtime copies them: element for
//! element, each taking the quantization of the tensor it lands in.
//! `CALL_ONCE` does nothing here: its init subgraph has no inputs or
//! outputs and only sets resource variables, which the evaluator does not
//! model.

use super::Evaluator;
use crate::eval::{EvalError, Value};
use crate::model::{DType, Op, Tensor};

type Result<T, E = EvalError> = std::result::Result<T, E>;

impl Evaluator<'_> {
    /// Evaluates a control-flow op, or returns `None` for other ops.
    pub(super) fn control_flow(&self, op: &Op, args: &[Option<&Value>], outs: &[&Tensor], depth: usize) -> Option<Result<Vec<Value>>> {
        Some(match op {
            Op::If { then_subgraph, else_subgraph } => self.eval_if(op, args, outs, [*then_subgraph, *else_subgraph], depth),
            Op::While { cond_subgraph, body_subgraph } => self.eval_while(op, args, outs, *cond_subgraph, *body_subgraph, depth),
            Op::CallOnce { .. } => Ok(Vec::new()),
            _ => return None,
        })
    }

    /// Runs subgraph `sg` on `inputs`, one call deeper than `depth`.
    fn call(&self, sg: u32, inputs: &[Value], depth: usize) -> Result<Vec<Value>> {
        if depth >= self.max_subgraph_depth {
            return Err(EvalError::Limit {
                detail: format!("calling subgraph {sg} would nest calls {} deep, over the limit of {}", depth + 1, self.max_subgraph_depth),
            });
        }
        self.run_at(sg as usize, inputs, &mut |_, _, _| {}, depth + 1)
    }

    fn eval_if(&self, op: &Op, args: &[Option<&Value>], outs: &[&Tensor], [then_sg, else_sg]: [u32; 2], depth: usize) -> Result<Vec<Value>> {
        let shape_err = |detail: String| EvalError::Shape { op: op.name().to_string(), detail };
        let cond = args.first().copied().flatten().ok_or_else(|| shape_err("input 0 (cond) is missing".into()))?;
        let branch = if truth(cond).map_err(shape_err)? { then_sg } else { else_sg };
        let values = present(op, &args[1..])?;
        let results = self.call(branch, &values, depth)?;
        into_outputs(op, results, outs)
    }

    fn eval_while(&self, op: &Op, args: &[Option<&Value>], outs: &[&Tensor], cond_sg: u32, body_sg: u32, depth: usize) -> Result<Vec<Value>> {
        let shape_err = |detail: String| EvalError::Shape { op: op.name().to_string(), detail };
        let mut vars = present(op, args)?;
        let mut iterations = 0usize;
        loop {
            let c = self.call(cond_sg, &vars, depth)?;
            let [c] = c.as_slice() else {
                return Err(EvalError::Graph { detail: format!("cond subgraph {cond_sg} gives {} values, expected one bool", c.len()) });
            };
            if !truth(c).map_err(shape_err)? {
                break;
            }
            if iterations >= self.max_while_iterations {
                return Err(EvalError::LoopLimit { limit: self.max_while_iterations });
            }
            iterations += 1;
            let next = self.call(body_sg, &vars, depth)?;
            if next.len() != vars.len() {
                return Err(EvalError::Graph {
                    detail: format!("body subgraph {body_sg} gives {} values for {} loop variables", next.len(), vars.len()),
                });
            }
            vars = next;
        }
        into_outputs(op, vars, outs)
    }
}

/// The truth of a one-element condition.
fn truth(v: &Value) -> std::result::Result<bool, String> {
    match v.data.as_slice() {
        [x] if v.dtype == DType::Bool => Ok(*x != 0.0),
        _ => Err(format!("condition must be one bool, is {} {:?}", v.dtype, v.shape)),
    }
}

/// The operands, all of which must be present.
fn present(op: &Op, args: &[Option<&Value>]) -> Result<Vec<Value>> {
    args.iter()
        .enumerate()
        .map(|(k, v)| v.map(Value::clone).ok_or_else(|| EvalError::Shape { op: op.name().to_string(), detail: format!("operand {k} is missing") }))
        .collect()
}

/// A called subgraph's results as the op's outputs: same count and types,
/// with the output tensors' quantization.
fn into_outputs(op: &Op, results: Vec<Value>, outs: &[&Tensor]) -> Result<Vec<Value>> {
    if results.len() != outs.len() {
        return Err(EvalError::Graph { detail: format!("{}: the subgraph gives {} values for {} outputs", op.name(), results.len(), outs.len()) });
    }
    results
        .into_iter()
        .zip(outs)
        .enumerate()
        .map(|(k, (mut v, t))| {
            if v.dtype != t.dtype {
                return Err(EvalError::Graph { detail: format!("{}: output {k} ({:?}) is {}, the subgraph gives {}", op.name(), t.name, t.dtype, v.dtype) });
            }
            v.quantization = t.quantization.clone();
            Ok(v)
        })
        .collect()
}
