//! Reshape cleanup: a TRANSPOSE that only moves size-1 axes is a RESHAPE,
//! a RESHAPE of a RESHAPE reads the first one's input, and a RESHAPE to its
//! input's own shape is dropped.
//!
//! Exporters rewrite a transpose that moves only unit axes into a reshape
//! (tf2onnx does, for the squeeze-excite and 1×1 tails of Keras models):
//! after the NCHW↔NHWC wrapping of the ONNX lowering, such a reshape meets
//! a TRANSPOSE that the transpose sinking cannot cancel, as the two are of
//! different kinds. Seen as reshapes, the pair merges into one reshape to
//! the input's own shape, which goes away.

use super::graph::*;
use crate::model::*;

/// Whether a tensor's shape can stand for its run-time shape in a
/// comparison: at most one dynamic dimension (two shapes with the same
/// element count and one unknown agree on it).
fn determined(s: &Shape) -> bool {
    s.dims().iter().filter(|d| **d == Dim::Dynamic).count() <= 1
}

fn per_axis(sg: &Subgraph, t: TensorId) -> bool {
    sg.tensors[t.index()].quantization.as_ref().is_some_and(|q| q.is_per_axis())
}

/// Rewrites TRANSPOSEs that move only size-1 axes into RESHAPEs (to a
/// constant shape: the output's, with -1 for its one dynamic dimension).
fn unit_transposes_to_reshapes(sg: &mut Subgraph) -> usize {
    let mut changed = 0;
    for i in 0..sg.operators.len() {
        let Some(p) = perm_of(sg, &sg.operators[i]) else { continue };
        let (Some(x), y) = (sg.operators[i].input(0), sg.operators[i].outputs[0]) else { continue };
        let xs = &sg.tensors[x.index()].shape;
        if xs.rank() != p.len() || !determined(xs) || !super::transpose::order_preserving(xs, &p) || per_axis(sg, x) || per_axis(sg, y) {
            continue;
        }
        let Some(shape) = permute_shape(xs, &p).dims().iter().map(|d| if let Dim::Fixed(v) = d { i32::try_from(*v).ok() } else { Some(-1) }).collect::<Option<Vec<i32>>>() else {
            continue;
        };
        let st = add_i32(sg, format!("{}/shape", sg.tensors[y.index()].name), &shape);
        sg.operators[i].op = Op::Reshape { new_shape: None };
        sg.operators[i].inputs = vec![Some(x), Some(st)];
        changed += 1;
    }
    changed
}

/// Makes each RESHAPE fed by another RESHAPE read that one's input.
fn merge_chains(sg: &mut Subgraph) -> usize {
    let uses = Uses::of(sg);
    let mut changed = 0;
    for i in 0..sg.operators.len() {
        if !matches!(sg.operators[i].op, Op::Reshape { .. }) {
            continue;
        }
        let Some(y) = sg.operators[i].input(0) else { continue };
        let Some(j) = uses.producer[y.index()] else { continue };
        let first = &sg.operators[j];
        let Some(x) = first.input(0) else { continue };
        if !matches!(first.op, Op::Reshape { .. }) || per_axis(sg, x) || sg.tensors[x.index()].quantization != sg.tensors[y.index()].quantization {
            continue;
        }
        sg.operators[i].inputs[0] = Some(x);
        changed += 1;
    }
    changed
}

/// Drops RESHAPEs whose output has the input's shape (both determined).
fn drop_identities(sg: &mut Subgraph) -> usize {
    let mut removed = 0;
    loop {
        let uses = Uses::of(sg);
        let found = sg.operators.iter().position(|op| {
            let (Some(x), Some(y)) = (op.input(0), op.outputs.first().copied()) else { return false };
            let (xt, yt) = (&sg.tensors[x.index()], &sg.tensors[y.index()]);
            matches!(op.op, Op::Reshape { .. })
                && xt.shape == yt.shape
                && determined(&xt.shape)
                && xt.dtype == yt.dtype
                && xt.quantization == yt.quantization
                // An output keeps its own tensor unless the producer of
                // the input can write it instead.
                && (!uses.is_output[y.index()] || (uses.producer[x.index()].is_some() && !uses.is_output[x.index()] && !sg.inputs.contains(&x)))
        });
        let Some(i) = found else { break };
        let (Some(x), y) = (sg.operators[i].input(0), sg.operators[i].outputs[0]) else { break };
        if uses.is_output[y.index()] {
            sg.tensors[x.index()].name = sg.tensors[y.index()].name.clone();
            for o in sg.outputs.iter_mut().filter(|o| **o == y) {
                *o = x;
            }
        }
        for op in sg.operators.iter_mut() {
            for t in op.inputs.iter_mut().flatten().filter(|t| **t == y) {
                *t = x;
            }
        }
        sg.operators.remove(i);
        removed += 1;
    }
    removed
}

/// Runs the three rewrites once on a subgraph and removes what became
/// dead. Returns the number of ops rewritten or removed (0: nothing
/// changed).
pub fn simplify_reshapes(sg: &mut Subgraph) -> usize {
    let n = unit_transposes_to_reshapes(sg) + merge_chains(sg) + drop_identities(sg);
    if n > 0 {
        super::cleanup::remove_dead(sg);
    }
    n
}
