//! Optionals holding a tensor: `Optional`, `OptionalHasElement` and
//! `OptionalGetElement`. Whether an optional is empty is known at
//! conversion time (an omitted input), so HasElement folds to a constant and
//! GetElement passes its tensor through. Empty optionals as values, and
//! optionals of sequences, have no TFLite form and are typed errors.

use super::operand::pass_through;
use super::{LowerCtx, LowerError, Node, Val};
use crate::model::DType;
use crate::onnx::error::ReasonCode;
use crate::onnx::ir::TensorData;

/// Lowers `Optional` holding a tensor (an identity).
pub fn lower_optional(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if !node.has_input(0) {
        return Err(LowerError::new(ReasonCode::UnsupportedAttribute, "an empty optional as a value"));
    }
    pass_through(ctx, node)
}

/// Lowers `OptionalHasElement`: true when the input is given.
pub fn lower_optional_has_element(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let has = node.has_input(0);
    ctx.set_val(node, 0, Val::Const(TensorData { dtype: DType::Bool, dims: vec![], bytes: vec![u8::from(has)] }));
    Ok(())
}

/// Lowers `OptionalGetElement` on a tensor or a non-empty optional.
pub fn lower_optional_get_element(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    if !node.has_input(0) {
        return Err(LowerError::invalid("OptionalGetElement of an empty optional"));
    }
    pass_through(ctx, node)
}
