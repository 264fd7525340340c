//! Delegate partitions, as TFLite forms them.
//!
//! `PartitionGraphIntoIndependentNodeSubsets` (`tflite/graph_info.cc`,
//! greedy mode, as `GraphPartitionHelper` in `tflite/delegates/utils.cc`
//! calls it through `PreviewDelegatePartitioning`): starting from the
//! tensors no node produces, each subset takes, again and again in
//! execution order, every node whose inputs are ready and whose kind
//! (delegated or not) is the subset's; then the next subset starts with
//! the kind of the first node that is ready. Control edges (between
//! stateful ops) are not modelled.

use std::collections::HashSet;

use crate::model::{Subgraph, TensorId};

/// The node subsets of `sg` given which nodes are delegated: each is
/// `(delegated, node indices)`, in the order TFLite forms them.
pub(crate) fn partition(sg: &Subgraph, delegated: &[bool]) -> Vec<(bool, Vec<usize>)> {
    let n = sg.operators.len().min(delegated.len());
    let produced: HashSet<TensorId> = sg.operators.iter().take(n).flat_map(|o| o.outputs.iter().copied()).collect();
    let mut ready: HashSet<TensorId> = HashSet::new();
    let mut done = vec![false; n];
    let mut subsets: Vec<(bool, Vec<usize>)> = Vec::new();
    loop {
        let mut kind: Option<bool> = None;
        let mut nodes = Vec::new();
        loop {
            let mut progress = false;
            for i in 0..n {
                if done[i] {
                    continue;
                }
                let op = &sg.operators[i];
                let inputs_ready = op.inputs.iter().flatten().all(|t| !produced.contains(t) || ready.contains(t));
                if !inputs_ready {
                    continue;
                }
                let k = *kind.get_or_insert(delegated[i]);
                if k != delegated[i] {
                    continue;
                }
                done[i] = true;
                nodes.push(i);
                ready.extend(op.outputs.iter().copied());
                progress = true;
            }
            if !progress {
                break;
            }
        }
        match kind {
            Some(k) if !nodes.is_empty() => subsets.push((k, nodes)),
            _ => break,
        }
    }
    subsets
}

/// The number of delegated partitions.
pub(crate) fn count_partitions(sg: &Subgraph, delegated: &[bool]) -> usize {
    partition(sg, delegated).iter().filter(|(k, _)| *k).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Op, Operator, Tensor};
    use crate::DType;

    /// A chain t0 -> op0 -> t1 -> op1 -> t2 -> op2 -> t3, plus op3 reading
    /// t1 (a branch).
    fn chain() -> Subgraph {
        let mut sg = Subgraph::default();
        for i in 0..5 {
            sg.tensors.push(Tensor::new(format!("t{i}"), DType::F32, [1u32]));
        }
        let t = TensorId;
        sg.operators = vec![
            Operator::new(Op::Relu, &[t(0)], &[t(1)]),
            Operator::new(Op::Relu, &[t(1)], &[t(2)]),
            Operator::new(Op::Relu, &[t(2)], &[t(3)]),
            Operator::new(Op::Relu, &[t(1)], &[t(4)]),
        ];
        sg
    }

    #[test]
    fn runs_split_at_undelegated_nodes() {
        let sg = chain();
        assert_eq!(count_partitions(&sg, &[true, true, true, true]), 1);
        assert_eq!(count_partitions(&sg, &[true, false, true, true]), 2);
        assert_eq!(count_partitions(&sg, &[false, false, false, false]), 0);
    }

    #[test]
    fn independent_branches_join_one_partition() {
        // op1 is not delegated; op3 (a branch off t1) is ready with op0, so
        // greedy partitioning puts op0 and op3 together: {0, 3}, {1}, {2}.
        let sg = chain();
        let parts = partition(&sg, &[true, false, true, true]);
        assert_eq!(parts, vec![(true, vec![0, 3]), (false, vec![1]), (true, vec![2])]);
    }
}
