//! Graph rewrites on the TFLite model. Each pass keeps what the graph
//! computes; property tests check this with the reference evaluator.

pub mod batch;
pub mod cleanup;
pub mod fuse;
pub mod normalize;
pub(crate) mod graph;
pub(crate) mod reshape;
pub mod shuffle;
pub mod transpose;

use crate::model::{Model, TensorId};

/// What the passes did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PassStats {
    /// TRANSPOSE ops removed.
    pub transposes_removed: usize,
    /// Activations fused into their producer.
    pub fused_activations: usize,
    /// PADs folded into SAME convolutions.
    pub folded_pads: usize,
    /// Constant bias ADDs folded into the FULLY_CONNECTED before them.
    pub folded_biases: usize,
}

/// Runs the standard pipeline on every subgraph: transpose sinking,
/// reshape cleanup (unit-axis transposes as reshapes, merged chains), pad
/// folding, activation fusion and dead code removal. Signatures follow the
/// renumbered tensors.
///
/// ```
/// # use tflite_forge::*;
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [1, 2, 3, 4]);
/// let t = g.transpose(x, &[0, 2, 3, 1]).unwrap();
/// let r = g.relu(t).unwrap();
/// let back = g.transpose(r, &[0, 3, 1, 2]).unwrap();
/// g.output("y", back);
/// b.finish_subgraph(g).unwrap();
/// let mut m = b.finish().unwrap();
/// let stats = tflite_forge::passes::optimize(&mut m);
/// assert_eq!(stats.transposes_removed, 2);
/// assert_eq!(m.subgraphs[0].operators.len(), 1); // just RELU
/// ```
pub fn optimize(model: &mut Model) -> PassStats {
    let mut stats = PassStats::default();
    for (si, sg) in model.subgraphs.iter_mut().enumerate() {
        // Signatures point at subgraph inputs and outputs; remember which.
        let pos = |v: &[TensorId], t: TensorId| v.iter().position(|x| *x == t);
        let sig_pos: Vec<(Vec<Option<usize>>, Vec<Option<usize>>)> = model
            .signatures
            .iter()
            .map(|s| {
                if s.subgraph as usize != si {
                    return (vec![], vec![]);
                }
                (s.inputs.iter().map(|(_, t)| pos(&sg.inputs, *t)).collect(), s.outputs.iter().map(|(_, t)| pos(&sg.outputs, *t)).collect())
            })
            .collect();
        let before = sg.operators.iter().filter(|o| o.op == crate::Op::Transpose).count();
        shuffle::channel_shuffles_to_gather(sg);
        transpose::sink_transposes(sg);
        // Transposes of unit axes become reshapes, which merge and vanish;
        // what that exposes is sunk again.
        for _ in 0..4 {
            if reshape::simplify_reshapes(sg) == 0 {
                break;
            }
            transpose::sink_transposes(sg);
        }
        let after = sg.operators.iter().filter(|o| o.op == crate::Op::Transpose).count();
        stats.transposes_removed += before.saturating_sub(after);
        stats.folded_pads += fuse::fold_pads(sg);
        stats.folded_biases += fuse::fold_bias_adds(sg);
        stats.fused_activations += fuse::fuse_activations(sg);
        cleanup::remove_dead(sg);
        for (s, (ins, outs)) in model.signatures.iter_mut().zip(sig_pos) {
            if s.subgraph as usize != si {
                continue;
            }
            for ((_, t), p) in s.inputs.iter_mut().zip(ins) {
                if let Some(t2) = p.and_then(|p| sg.inputs.get(p)) {
                    *t = *t2;
                }
            }
            for ((_, t), p) in s.outputs.iter_mut().zip(outs) {
                if let Some(t2) = p.and_then(|p| sg.outputs.get(p)) {
                    *t = *t2;
                }
            }
        }
    }
    stats
}
