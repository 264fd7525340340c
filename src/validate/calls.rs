//! Subgraph calls: the subgraph indices ops name, the call graph they make
//! (acyclic, of bounded depth), and the inputs and outputs of the typed
//! control-flow ops against the subgraphs they call.
//!
//! Everything here is iterative, so a hostile file (a chain of 100,000
//! subgraphs, say) costs time linear in its size and no stack.

use crate::error::{Location, ValidationError};
use crate::model::{DType, Model, Op, OpaqueBuiltin, Operator, Subgraph, TensorId};
use crate::schema::tflite as fb;

/// The subgraph indices an op names, as stored (negative ones included).
///
/// Opaque builtins are read from their options: `IfOptions`,
/// `WhileOptions`, `CallOnceOptions` and the StableHLO options that hold
/// subgraph indices. An op that calls subgraphs without options of its own
/// kind names subgraph 0, as the runtime reads zeroed parameters then.
pub(crate) fn callees(op: &Op) -> Vec<i64> {
    match op {
        Op::If { then_subgraph, else_subgraph } => vec![i64::from(*then_subgraph), i64::from(*else_subgraph)],
        Op::While { cond_subgraph, body_subgraph } => vec![i64::from(*cond_subgraph), i64::from(*body_subgraph)],
        Op::CallOnce { init_subgraph } => vec![i64::from(*init_subgraph)],
        Op::Builtin(o) => opaque_callees(o),
        _ => Vec::new(),
    }
}

fn opaque_callees(o: &OpaqueBuiltin) -> Vec<i64> {
    use fb::BuiltinOperator as B;
    use fb::BuiltinOptions2T as O2;
    use fb::BuiltinOptionsT as O;
    let code = B(o.code);
    let mut v: Vec<i64> = Vec::new();
    // The op code whose own options were found.
    let mut own: Option<B> = None;
    match &o.options {
        O::IfOptions(x) => {
            v.extend([x.then_subgraph_index, x.else_subgraph_index].map(i64::from));
            own = Some(B::IF);
        }
        O::WhileOptions(x) => {
            v.extend([x.cond_subgraph_index, x.body_subgraph_index].map(i64::from));
            own = Some(B::WHILE);
        }
        O::CallOnceOptions(x) => {
            v.push(i64::from(x.init_subgraph_index));
            own = Some(B::CALL_ONCE);
        }
        _ => {}
    }
    let mut own2: Option<B> = None;
    match &o.options2 {
        O2::StablehloWhileOptions(x) => {
            v.extend([x.cond_subgraph_index, x.body_subgraph_index].map(i64::from));
            own2 = Some(B::STABLEHLO_WHILE);
        }
        O2::StablehloReduceOptions(x) => {
            v.push(i64::from(x.body_subgraph_index));
            own2 = Some(B::STABLEHLO_REDUCE);
        }
        O2::StablehloReduceWindowOptions(x) => {
            v.push(i64::from(x.body_subgraph_index));
            own2 = Some(B::STABLEHLO_REDUCE_WINDOW);
        }
        O2::StablehloSortOptions(x) => {
            v.push(i64::from(x.comparator_subgraph_index));
            own2 = Some(B::STABLEHLO_SORT);
        }
        O2::StablehloScatterOptions(x) => {
            v.push(i64::from(x.update_computation_subgraph_index));
            own2 = Some(B::STABLEHLO_SCATTER);
        }
        O2::StableHLOCompositeOptions(x) => {
            v.push(i64::from(x.decomposition_subgraph_index));
            own2 = Some(B::STABLEHLO_COMPOSITE);
        }
        O2::StablehloCaseOptions(x) => {
            v.extend(x.branch_subgraph_indices.iter().flatten().map(|i| i64::from(*i)));
            own2 = Some(B::STABLEHLO_CASE);
        }
        _ => {}
    }
    if own != Some(code) && own2 != Some(code) {
        let defaults: usize = match code {
            B::IF | B::WHILE | B::STABLEHLO_WHILE => 2,
            B::CALL_ONCE
            | B::STABLEHLO_REDUCE
            | B::STABLEHLO_REDUCE_WINDOW
            | B::STABLEHLO_SORT
            | B::STABLEHLO_SCATTER
            | B::STABLEHLO_COMPOSITE => 1,
            _ => 0,
        };
        v.extend(std::iter::repeat_n(0, defaults));
    }
    v
}

/// The call graph: for each subgraph, the subgraphs its ops name and the
/// operator that names each.
struct CallGraph {
    /// `edges[s]`: (callee, operator index) pairs.
    edges: Vec<Vec<(usize, usize)>>,
}

impl CallGraph {
    /// Collects the edges, rejecting indices outside the model.
    fn of(model: &Model) -> Result<CallGraph, ValidationError> {
        let n = model.subgraphs.len();
        let mut edges = Vec::with_capacity(n);
        for (si, sg) in model.subgraphs.iter().enumerate() {
            let mut out = Vec::new();
            for (oi, node) in sg.operators.iter().enumerate() {
                for index in callees(&node.op) {
                    let callee = usize::try_from(index).ok().filter(|i| *i < n).ok_or_else(|| ValidationError::Subgraph {
                        at: Location { subgraph: si, operator: Some(oi), tensor: None },
                        detail: format!("{} names subgraph {index}, but the model has {n} subgraphs", node.op.name()),
                    })?;
                    out.push((callee, oi));
                }
            }
            // One edge per callee, named by the first op that calls it.
            out.sort_unstable();
            out.dedup_by_key(|(c, _)| *c);
            edges.push(out);
        }
        Ok(CallGraph { edges })
    }
}

/// Where a subgraph is in the depth-first search.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Not reached yet.
    New,
    /// On the current path, at this position of the stack.
    OnPath(usize),
    /// Finished: its longest call chain is known.
    Done,
}

/// Checks the subgraph indices ops name: each in range, no subgraph
/// reaching itself through calls (unbounded recursion), and no chain of
/// calls longer than `max_depth` (call edges, from any subgraph).
pub(crate) fn check_call_graph(model: &Model, max_depth: usize) -> Result<(), ValidationError> {
    let graph = CallGraph::of(model)?;
    let n = graph.edges.len();
    let mut mark = vec![Mark::New; n];
    // Longest chain of calls from each finished subgraph, and its next step.
    let mut depth = vec![0usize; n];
    let mut next: Vec<Option<usize>> = vec![None; n];
    // Subgraph 0 first, so errors name the entry point's chains first.
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // (subgraph, index of its next edge to follow)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::OnPath(0);
        while let Some(top) = stack.last_mut() {
            let (s, e) = *top;
            if let Some(&(callee, oi)) = graph.edges[s].get(e) {
                top.1 += 1;
                match mark[callee] {
                    Mark::New => {
                        mark[callee] = Mark::OnPath(stack.len());
                        stack.push((callee, 0));
                    }
                    Mark::OnPath(p) => {
                        let mut cycle: Vec<usize> = stack[p..].iter().map(|(s, _)| *s).collect();
                        cycle.push(callee);
                        return Err(ValidationError::SubgraphCycle {
                            at: Location { subgraph: s, operator: Some(oi), tensor: None },
                            cycle,
                        });
                    }
                    Mark::Done => {}
                }
                continue;
            }
            // All callees are finished: the longest chain goes through one.
            let best = graph.edges[s].iter().map(|(c, _)| *c).max_by_key(|c| depth[*c]);
            if let Some(c) = best {
                depth[s] = depth[c] + 1;
                next[s] = Some(c);
            }
            if depth[s] > max_depth {
                let mut chain = vec![s];
                let mut at = s;
                while let Some(c) = next[at] {
                    chain.push(c);
                    at = c;
                }
                return Err(ValidationError::SubgraphDepth { depth: depth[s], limit: max_depth, chain });
            }
            mark[s] = Mark::Done;
            stack.pop();
        }
    }
    Ok(())
}

/// Checks the typed control-flow ops of every subgraph against the
/// subgraphs they call. Call after [`check_call_graph`].
pub(crate) fn check_control_flow_ops(model: &Model) -> Result<(), ValidationError> {
    for (si, sg) in model.subgraphs.iter().enumerate() {
        for (oi, node) in sg.operators.iter().enumerate() {
            let at = Location { subgraph: si, operator: Some(oi), tensor: None };
            check_control_flow(&model.subgraphs, sg, node, at)?;
        }
    }
    Ok(())
}

/// What the node alone shows of a control-flow op: WHILE has one output
/// per input, CALL_ONCE none.
pub(crate) fn check_local(node: &Operator) -> Result<(), String> {
    match node.op {
        Op::While { .. } if node.outputs.len() != node.inputs.len() => {
            Err(format!("has {} inputs but {} outputs; each loop variable needs one of each", node.inputs.len(), node.outputs.len()))
        }
        Op::CallOnce { .. } if !node.inputs.is_empty() || !node.outputs.is_empty() => {
            Err(format!("takes no inputs or outputs, has {} and {}", node.inputs.len(), node.outputs.len()))
        }
        _ => Ok(()),
    }
}

/// The element types of some tensors of `sg` (`None` for an omitted or
/// out-of-range one, which other checks report).
fn dtypes(sg: &Subgraph, ids: impl IntoIterator<Item = Option<TensorId>>) -> Vec<Option<DType>> {
    ids.into_iter().map(|t| t.and_then(|t| sg.tensor(t)).map(|t| t.dtype)).collect()
}

/// A subgraph a control-flow op calls, and what the op calls it.
struct Callee<'m> {
    /// `"then"`, `"body"`, ...
    role: &'static str,
    index: u32,
    sg: &'m Subgraph,
}

/// Checks one typed control-flow op against the subgraphs it calls:
/// counts and element types of its inputs and outputs. Other ops pass.
///
/// The work is linear in the op's own inputs and outputs: counts are
/// compared before any callee tensor is looked at.
pub(crate) fn check_control_flow(subgraphs: &[Subgraph], sg: &Subgraph, node: &Operator, at: Location) -> Result<(), ValidationError> {
    let err = |detail: String| ValidationError::Op { at, op: node.op.name().to_string(), detail };
    let callee = |role: &'static str, index: u32| -> Result<Callee<'_>, ValidationError> {
        let c = subgraphs.get(index as usize).ok_or_else(|| ValidationError::Subgraph {
            at,
            detail: format!("{} names {role} subgraph {index}, but the model has {} subgraphs", node.op.name(), subgraphs.len()),
        })?;
        Ok(Callee { role, index, sg: c })
    };
    // The node's `values` (`what`) against the callee's tensors `theirs`
    // (`their_what`), in count and types.
    let matches = |values: &[Option<DType>], what: &str, c: &Callee<'_>, theirs: &[TensorId], their_what: &str| {
        if values.len() != theirs.len() {
            return Err(err(format!(
                "has {} {what}, but {} subgraph {} has {} {their_what}",
                values.len(),
                c.role,
                c.index,
                theirs.len()
            )));
        }
        for (k, (a, b)) in values.iter().zip(theirs).enumerate() {
            if let (Some(a), Some(b)) = (a, c.sg.tensor(*b).map(|t| t.dtype))
                && *a != b
            {
                return Err(err(format!("{what} {k} is {a}, but {their_what} {k} of {} subgraph {} is {b}", c.role, c.index)));
            }
        }
        Ok(())
    };
    match node.op {
        Op::If { then_subgraph, else_subgraph } => {
            let args = dtypes(sg, node.inputs.iter().skip(1).copied());
            let outs = dtypes(sg, node.outputs.iter().copied().map(Some));
            for c in [callee("then", then_subgraph)?, callee("else", else_subgraph)?] {
                matches(&args, "args", &c, &c.sg.inputs, "inputs")?;
                matches(&outs, "outputs", &c, &c.sg.outputs, "outputs")?;
            }
        }
        Op::While { cond_subgraph, body_subgraph } => {
            check_local(node).map_err(err)?;
            let vars = dtypes(sg, node.inputs.iter().copied());
            let outs = dtypes(sg, node.outputs.iter().copied().map(Some));
            let cond = callee("cond", cond_subgraph)?;
            let body = callee("body", body_subgraph)?;
            if let Some(k) = vars.iter().zip(&outs).position(|(a, b)| a.is_some() && b.is_some() && a != b) {
                return Err(err(format!("loop variable {k} is {} as input but {} as output", show(vars[k]), show(outs[k]))));
            }
            matches(&vars, "inputs", &cond, &cond.sg.inputs, "inputs")?;
            matches(&vars, "inputs", &body, &body.sg.inputs, "inputs")?;
            matches(&vars, "inputs", &body, &body.sg.outputs, "outputs")?;
            let [out] = cond.sg.outputs.as_slice() else {
                return Err(err(format!("cond subgraph {cond_subgraph} has {} outputs, expected one bool", cond.sg.outputs.len())));
            };
            if let Some(t) = cond.sg.tensor(*out)
                && (t.dtype != DType::Bool || t.shape.num_elements().is_some_and(|n| n != 1))
            {
                return Err(err(format!("cond subgraph {cond_subgraph} gives {} {}, expected one bool", t.dtype, t.shape)));
            }
        }
        Op::CallOnce { init_subgraph } => {
            check_local(node).map_err(err)?;
            let init = callee("init", init_subgraph)?.sg;
            if !init.inputs.is_empty() || !init.outputs.is_empty() {
                return Err(err(format!(
                    "init subgraph {init_subgraph} has {} inputs and {} outputs, expected none",
                    init.inputs.len(),
                    init.outputs.len()
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

fn show(d: Option<DType>) -> String {
    d.map_or_else(|| "?".into(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model of `n` empty subgraphs where subgraph `a` calls `b` for each
    /// `(a, b)`.
    fn calls(n: usize, edges: &[(usize, u32)]) -> Model {
        let mut m = Model { subgraphs: (0..n).map(|_| Subgraph::default()).collect(), ..Default::default() };
        for (a, b) in edges {
            m.subgraphs[*a].operators.push(Operator::new(Op::CallOnce { init_subgraph: *b }, &[], &[]));
        }
        m
    }

    #[test]
    fn a_long_chain_is_measured_without_recursion() {
        let n = 100_000;
        let edges: Vec<(usize, u32)> = (0..n - 1).map(|i| (i, i as u32 + 1)).collect();
        let m = calls(n, &edges);
        assert!(check_call_graph(&m, n).is_ok());
        match check_call_graph(&m, 64) {
            Err(ValidationError::SubgraphDepth { depth, limit: 64, chain }) => {
                assert_eq!(depth, 65);
                assert_eq!(chain.len(), 66);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_long_ring_is_a_cycle() {
        let n = 100_000;
        let edges: Vec<(usize, u32)> = (0..n).map(|i| (i, ((i + 1) % n) as u32)).collect();
        match check_call_graph(&calls(n, &edges), usize::MAX) {
            Err(ValidationError::SubgraphCycle { cycle, .. }) => {
                assert_eq!(cycle.len(), n + 1);
                assert_eq!(cycle.first(), cycle.last());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn diamonds_are_not_cycles_and_depth_is_the_longest_chain() {
        // 0 → 1 → 3, 0 → 2 → 3, 0 → 3
        let m = calls(4, &[(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]);
        assert!(check_call_graph(&m, 2).is_ok());
        assert!(matches!(check_call_graph(&m, 1), Err(ValidationError::SubgraphDepth { depth: 2, .. })));
    }

    #[test]
    fn opaque_ops_without_options_name_subgraph_zero() {
        let o = OpaqueBuiltin {
            code: fb::BuiltinOperator::WHILE.0,
            version: 1,
            options: fb::BuiltinOptionsT::NONE,
            options2: fb::BuiltinOptions2T::NONE,
        };
        assert_eq!(callees(&Op::Builtin(o)), [0, 0]);
        let o = OpaqueBuiltin {
            code: fb::BuiltinOperator::STABLEHLO_CASE.0,
            version: 1,
            options: fb::BuiltinOptionsT::NONE,
            options2: fb::BuiltinOptions2T::StablehloCaseOptions(Box::new(fb::StablehloCaseOptionsT {
                branch_subgraph_indices: Some(vec![3, -1]),
            })),
        };
        assert_eq!(callees(&Op::Builtin(o)), [3, -1]);
    }
}
