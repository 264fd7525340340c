//! 3-D convolution (NCDHW): CONV_3D between channels-last transposes.

use super::{LowerCtx, LowerError, Node};
use crate::onnx::error::ReasonCode;

/// Lowers 3-D `Conv`.
pub fn lower_conv3d(_ctx: &mut LowerCtx<'_>, _node: &Node<'_>) -> Result<(), LowerError> {
    Err(LowerError::new(ReasonCode::UnsupportedShape, "Conv on rank 5 (3-D convolution)"))
}
