//! Dead code removal and tensor compaction.

use super::graph::Uses;
use crate::model::*;

/// Removes ops whose outputs nobody reads, then tensors nobody references.
/// Ops without outputs (`CALL_ONCE`, say) act only through side effects and
/// stay.
pub fn remove_dead(sg: &mut Subgraph) {
    loop {
        let uses = Uses::of(sg);
        let before = sg.operators.len();
        sg.operators.retain(|op| {
            op.outputs.is_empty() || op.outputs.iter().any(|t| uses.is_output[t.index()] || !uses.consumers[t.index()].is_empty())
        });
        if sg.operators.len() == before {
            break;
        }
    }
    compact(sg);
}

/// Drops unreferenced tensors and renumbers the rest in order.
pub fn compact(sg: &mut Subgraph) {
    let n = sg.tensors.len();
    let mut used = vec![false; n];
    let mut mark = |t: &TensorId| {
        if let Some(u) = used.get_mut(t.index()) {
            *u = true;
        }
    };
    sg.inputs.iter().for_each(&mut mark);
    sg.outputs.iter().for_each(&mut mark);
    for op in &sg.operators {
        op.inputs.iter().flatten().for_each(&mut mark);
        op.outputs.iter().for_each(&mut mark);
        op.intermediates.iter().for_each(&mut mark);
    }
    // Blockwise scale tensors are named by their weights' quantization,
    // not by any op.
    for t in &sg.tensors {
        for r in t.quantization.iter().flat_map(|q| q.details.iter()).flat_map(|d| d.tensor_refs()) {
            mark(&TensorId(r));
        }
    }
    let mut map = vec![u32::MAX; n];
    let mut tensors = Vec::with_capacity(n);
    for (i, t) in std::mem::take(&mut sg.tensors).into_iter().enumerate() {
        if used[i] {
            map[i] = tensors.len() as u32;
            tensors.push(t);
        }
    }
    sg.tensors = tensors;
    for t in &mut sg.tensors {
        if let Some(d) = t.quantization.as_mut().and_then(|q| q.details.as_mut()) {
            d.remap_tensors(&|i| map.get(i as usize).copied().unwrap_or(i));
        }
    }
    let remap = |t: &mut TensorId| t.0 = map[t.index()];
    sg.inputs.iter_mut().for_each(remap);
    sg.outputs.iter_mut().for_each(remap);
    for op in sg.operators.iter_mut() {
        op.inputs.iter_mut().flatten().for_each(remap);
        op.outputs.iter_mut().for_each(remap);
        op.intermediates.iter_mut().for_each(remap);
    }
}
