//! Versions of the ops that rearrange, select or resample values: RESHAPE,
//! TRANSPOSE, SQUEEZE, CONCATENATION, the pads, SPLIT_V, the slices, GATHER,
//! BROADCAST_TO, the resizes and CAST.

use super::{in_type, is, out_type, tensor};
use crate::model::{DType, Op, Operator, Subgraph};

/// The version of a layout op; `None` for the ops of other families.
pub(super) fn version(sg: &Subgraph, node: &Operator) -> Option<i32> {
    use DType::*;
    let i0 = in_type(sg, node, 0);
    let i1 = in_type(sg, node, 1);
    let o0 = out_type(sg, node, 0);
    let v = match &node.op {
        Op::Reshape { .. } => 1,
        Op::Transpose => {
            let r = rank0(sg, node);
            if r > 6 || is(i0, BF16) {
                8
            } else if is(i0, I4) {
                7
            } else if r > 5 {
                6
            } else if is(i0, I16) {
                5
            } else if r > 4 {
                4
            } else if is(i0, Bool) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Squeeze { .. } => {
            if is(i0, String) { 2 } else { 1 }
        }
        Op::Concatenation(_) => {
            if is(i0, I4) {
                5
            } else if is(i0, U32) {
                4
            } else if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Pad => {
            if is(i0, Bool) {
                5
            } else if rank0(sg, node) > 4 {
                4
            } else if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::PadV2 => {
            if is(i0, Bool) {
                5
            } else if rank0(sg, node) > 4 {
                4
            } else if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::MirrorPad { .. } => {
            if is(i0, I16) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::SplitV { .. } => {
            if is(i0, I8) { 2 } else { 1 }
        }
        Op::Slice => {
            if is(i0, I4) {
                7
            } else if is(i0, U32) {
                6
            } else if rank0(sg, node) > 4 {
                5
            } else if is(i0, I16) {
                4
            } else if is(i0, String) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::StridedSlice(o) => {
            if o.offset {
                8
            } else if is(i0, U32) {
                7
            } else if o.ellipsis_mask != 0 || o.new_axis_mask != 0 {
                6
            } else if is(i0, String) {
                5
            } else if rank0(sg, node) > 4 {
                4
            } else if is(i0, Bool) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Gather(o) => {
            if is(i0, I4) {
                7
            } else if is(i1, I16) {
                6
            } else if o.batch_dims != 0 {
                5
            } else if is(i0, I16) {
                4
            } else if is(i0, Bool) {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        // Version 1 of BROADCAST_TO is reserved (it clashed with a custom
        // op); the builtin starts at 2, with 3 for int8 and int16.
        Op::BroadcastTo => {
            if is(i0, I16) || is(i0, I8) { 3 } else { 2 }
        }
        Op::ResizeBilinear(o) => {
            if is(i0, I16) {
                4
            } else if o.half_pixel_centers {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::ResizeNearestNeighbor(o) => {
            if is(i0, I16) {
                4
            } else if o.half_pixel_centers || o.align_corners {
                3
            } else if is(i0, I8) {
                2
            } else {
                1
            }
        }
        Op::Cast(_) => {
            let either = |t: DType| is(i0, t) || is(o0, t);
            if either(I2) || either(U4) {
                8
            } else if either(BF16) {
                7
            } else if is(i0, I4) && is(o0, F32) {
                6
            } else if either(F64) || either(F16) {
                5
            } else if either(U16) {
                4
            } else if either(I8) {
                3
            } else if either(U32) {
                2
            } else {
                1
            }
        }
        _ => return None,
    };
    Some(v)
}

/// The lowest runtimes of the versions of a layout op (version 1 first);
/// `None` for the ops of other families.
pub(super) fn min_runtime_table(code: i32) -> Option<&'static [&'static str]> {
    use crate::schema::tflite::BuiltinOperator as B;
    let table: &'static [&'static str] = match B(code) {
        B::RESHAPE => &["1.5.0"],
        B::TRANSPOSE => &["1.6.0", "1.14.0", "1.15.0", "2.3.0", "2.4.0", "2.12.0", "2.14.4", "2.22.0"],
        B::SQUEEZE => &["1.6.0", "2.5.0"],
        B::CONCATENATION => &["1.5.0", "1.14.0", "2.3.0", "2.14.0", "2.21.0"],
        B::PAD => &["1.5.0", "1.14.0", "2.4.0", "2.6.0", "2.20.0"],
        B::PADV2 => &["1.9.0", "1.14.0", "2.4.0", "2.6.0", "2.20.0"],
        B::MIRROR_PAD => &["1.13.1", "2.3.0", "2.12.0"],
        B::SPLIT_V => &["1.13.1", "2.3.0"],
        B::SLICE => &["1.14.0", "1.14.0", "1.14.0", "2.4.0", "2.5.0", "2.14.0", "2.21.0"],
        B::STRIDED_SLICE => &["1.6.0", "1.14.0", "2.1.0", "2.2.0", "2.5.0", "2.6.0", "2.14.0", "2.14.0"],
        B::GATHER => &["1.6.0", "1.14.0", "1.15.0", "2.4.0", "2.5.0", "2.13.0", "2.15.0"],
        B::BROADCAST_TO => &["2.5.0", "2.5.0", "2.5.0"],
        B::RESIZE_BILINEAR => &["1.7.0", "1.14.0", "2.2.0", "2.5.0"],
        B::RESIZE_NEAREST_NEIGHBOR => &["1.13.1", "1.14.0", "2.3.0", "2.4.0"],
        B::CAST => &["1.5.0", "2.7.0", "2.8.0", "2.9.0", "2.12.0", "2.15.0", "2.17.0", "2.21.0"],
        _ => return None,
    };
    Some(table)
}

fn rank0(sg: &Subgraph, op: &Operator) -> usize {
    tensor(sg, op, 0).map_or(0, |t| t.shape.rank())
}
