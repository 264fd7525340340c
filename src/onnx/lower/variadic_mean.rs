//! The elementwise mean of several inputs: Mean, as chained ADD then DIV.

use super::operand::{first_tensor_type, operand_as};
use super::{LowerCtx, LowerError, Node};
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// Lowers `Mean`: the broadcast sum of the inputs divided by their count
/// (float32).
pub fn lower_mean(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let present: Vec<usize> = (0..node.num_inputs()).filter(|i| node.has_input(*i)).collect();
    let like = first_tensor_type(ctx, node, present.iter().copied())
        .ok_or_else(|| LowerError::new(ReasonCode::InputMustBeConstant, "no tensor input"))?;
    if like != DType::F32 {
        return Err(super::operand::dtype_err(format!("Mean on {like}")));
    }
    let mut acc: Option<TensorId> = None;
    for i in &present {
        let t = operand_as(ctx, node, *i, like)?;
        acc = Some(match acc {
            None => t,
            Some(a) => ctx.g.add(a, t)?,
        });
    }
    let sum = acc.ok_or_else(|| LowerError::invalid("Mean without inputs"))?;
    let y = if present.len() == 1 {
        sum
    } else {
        let n = ctx.g.constant_f32(&format!("{}/count", node.name()), Shape::scalar(), &[present.len() as f32]);
        ctx.g.div(sum, n)?
    };
    if y == sum && present.len() == 1 {
        return super::operand::pass_through(ctx, node);
    }
    ctx.set_output(node, 0, y);
    Ok(())
}
