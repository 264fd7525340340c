//! Lowering nested ONNX graphs (If branches, Loop and Scan bodies), either
//! inlined into the subgraph being built or as subgraphs of their own for
//! TFLite's IF and WHILE.
//!
//! ONNX names are unique across all scopes, so a graph lowered once can be
//! inlined under its own names; a body inlined several times (an unrolled
//! loop) is first copied with every name it defines renamed
//! ([`renamed`]). Values a nested graph reads from enclosing scopes (its
//! captures) are copied in when constant and become explicit subgraph
//! inputs otherwise ([`LowerCtx::capture`]).

use std::collections::{HashMap, HashSet};

use super::graph::count_uses;
use super::{LowerCtx, LowerError, Val};
use crate::build::SubgraphBuilder;
use crate::model::{DType, Shape, TensorId};
use crate::onnx::error::{OnnxError, ReasonCode};
use crate::onnx::ir::{Attr, OGraph};

/// A nested graph's captures, split by how they enter a subgraph.
pub(crate) struct Captures {
    /// Outer tensors passed as extra subgraph inputs, in order.
    pub args: Vec<TensorId>,
    /// The matching subgraph inputs: name, type and shape.
    pub inputs: Vec<(String, DType, Shape)>,
    /// Constants copied into the subgraph.
    pub consts: Vec<(String, Val)>,
}

impl LowerCtx<'_> {
    /// Keeps `e`, an error of a nested graph's node, to be reported as it is,
    /// and gives the error the enclosing node's lowering returns.
    pub(crate) fn nest(&mut self, e: OnnxError) -> LowerError {
        let detail = e.to_string();
        self.nested_error = Some(e);
        LowerError::new(ReasonCode::InvalidNode, detail)
    }

    /// Splits `names` (captures of nested graphs) into constants and
    /// tensors of this subgraph.
    pub(crate) fn capture(&mut self, names: &[String]) -> Result<Captures, LowerError> {
        let mut c = Captures { args: Vec::new(), inputs: Vec::new(), consts: Vec::new() };
        for name in names {
            match self.env.get(name) {
                Some(Val::Const(d)) => c.consts.push((name.clone(), Val::Const(d.clone()))),
                Some(_) => {
                    let t = self.tensor_of(name)?;
                    let tensor = self.g.tensor(t);
                    c.inputs.push((name.clone(), tensor.dtype, tensor.shape.clone()));
                    c.args.push(t);
                }
                None => return Err(LowerError::invalid(format!("the nested graph reads {name:?}, which is not available"))),
            }
        }
        Ok(c)
    }

    /// Lowers `graph`'s nodes into the subgraph being built, with its inputs
    /// bound to `bindings`; gives the values of its outputs.
    pub(crate) fn inline_graph(&mut self, graph: &OGraph, bindings: Vec<(String, Val)>) -> Result<Vec<Val>, OnnxError> {
        let placeholder = self.mb.subgraph("");
        let g = std::mem::replace(&mut self.g, placeholder);
        let mb = std::mem::take(&mut self.mb);
        let env = std::mem::take(&mut self.env);
        let mut inner = LowerCtx::new(g, mb, env, graph, self.registry);
        inner.allow_flex = self.allow_flex;
        inner.unrolled = self.unrolled;
        inner.materialized = std::mem::take(&mut self.materialized);
        inner.shape_ops = std::mem::take(&mut self.shape_ops);
        inner.dim_names = std::mem::take(&mut self.dim_names);
        inner.int8_views = std::mem::take(&mut self.int8_views);
        for (name, v) in bindings {
            inner.env.insert(name, v);
        }
        for (name, v) in &graph.values {
            if let Some(c) = &v.constant {
                inner.env.insert(name.clone(), Val::Const(c.clone()));
            }
        }
        let mut uses = local_uses(graph);
        let result = inner.lower_nodes(&graph.nodes, &mut uses).and_then(|()| {
            graph
                .outputs
                .iter()
                .map(|o| inner.env.get(o).cloned().ok_or_else(|| OnnxError::Invalid(format!("nested graph output {o:?} is never produced"))))
                .collect::<Result<Vec<Val>, OnnxError>>()
        });
        self.g = inner.g;
        self.mb = inner.mb;
        self.env = inner.env;
        self.materialized = inner.materialized;
        self.shape_ops = inner.shape_ops;
        self.dim_names = inner.dim_names;
        self.int8_views = inner.int8_views;
        self.qdq_fallbacks.append(&mut inner.qdq_fallbacks);
        self.folded += inner.folded;
        self.unrolled = inner.unrolled;
        self.forms.append(&mut inner.forms);
        self.flex_ops.append(&mut inner.flex_ops);
        if self.nested_error.is_none() {
            self.nested_error = inner.nested_error;
        }
        result
    }

    /// Lowers `graph` into a new subgraph named `name` whose inputs are
    /// `inputs` (bound by name, where the name is not empty) and whose
    /// constants include `consts`; `prelude` may emit ops first and bind
    /// more names (a scan's slice of this iteration); `outputs` gives its output tensors,
    /// given the context and the input tensors. The subgraph is returned
    /// unfinished, with its outputs, so that the caller can check them
    /// before adding it to the model.
    pub(crate) fn lower_body(
        &mut self,
        graph: &OGraph,
        name: &str,
        inputs: &[(String, DType, Shape)],
        consts: Vec<(String, Val)>,
        prelude: impl FnOnce(&mut LowerCtx<'_>, &[TensorId]) -> Result<Vec<(String, Val)>, OnnxError>,
        outputs: impl FnOnce(&mut LowerCtx<'_>, &[TensorId]) -> Result<Vec<TensorId>, OnnxError>,
    ) -> Result<(SubgraphBuilder, Vec<TensorId>), OnnxError> {
        let mb = std::mem::take(&mut self.mb);
        let sg = mb.subgraph(name);
        let mut inner = LowerCtx::new(sg, mb, HashMap::new(), graph, self.registry);
        inner.allow_flex = self.allow_flex;
        inner.unrolled = self.unrolled;
        let mut ins = Vec::with_capacity(inputs.len());
        for (k, (n, dtype, shape)) in inputs.iter().enumerate() {
            let label = if n.is_empty() { format!("{name}_in{k}") } else { n.clone() };
            let t = inner.g.input(&label, *dtype, shape.clone());
            if !n.is_empty() {
                inner.env.insert(n.clone(), Val::Tensor(t));
            }
            ins.push(t);
        }
        for (n, v) in consts {
            inner.env.insert(n, v);
        }
        for (n, v) in &graph.values {
            if let Some(c) = &v.constant {
                inner.env.insert(n.clone(), Val::Const(c.clone()));
            }
        }
        let mut uses = local_uses(graph);
        let result = prelude(&mut inner, &ins)
            .map(|bound| {
                for (n, v) in bound {
                    inner.env.insert(n, v);
                }
            })
            .and_then(|()| inner.lower_nodes(&graph.nodes, &mut uses))
            .and_then(|()| outputs(&mut inner, &ins));
        let LowerCtx { g, mb, folded, mut forms, nested_error, mut flex_ops, mut qdq_fallbacks, unrolled, .. } = inner;
        self.unrolled = unrolled;
        self.qdq_fallbacks.append(&mut qdq_fallbacks);
        self.mb = mb;
        self.folded += folded;
        self.forms.append(&mut forms);
        self.flex_ops.append(&mut flex_ops);
        if self.nested_error.is_none() {
            self.nested_error = nested_error;
        }
        let outs = result?;
        Ok((g, outs))
    }

    /// Adds the subgraph `g` made by [`LowerCtx::lower_body`] to the model,
    /// with `outs` as its outputs; gives its index.
    pub(crate) fn finish_body(&mut self, mut g: SubgraphBuilder, outs: &[TensorId]) -> Result<u32, LowerError> {
        let name = g.subgraph().name.clone();
        for (k, t) in outs.iter().enumerate() {
            g.output(&format!("{name}_out{k}"), *t);
        }
        Ok(self.mb.finish_subgraph(g)?)
    }

    /// The tensors of `graph`'s outputs in a context lowering it: each
    /// materialized (int64 values narrowed to int32 as inside any graph),
    /// and a tensor of its own.
    pub(crate) fn graph_outputs(&mut self, graph: &OGraph) -> Result<Vec<TensorId>, OnnxError> {
        let mut used = Vec::new();
        for name in &graph.outputs {
            let t = self.tensor_of(name).map_err(|e| OnnxError::Invalid(format!("output {name:?}: {}", e.detail)))?;
            let t = self.own_output(t, &used)?;
            used.push(t);
        }
        Ok(used)
    }
}

/// Use counts of the values `graph` defines (its inputs, constants and
/// node outputs): values of enclosing scopes are never released by it.
fn local_uses(graph: &OGraph) -> HashMap<String, usize> {
    let defined = defined_names(graph);
    let mut uses = count_uses(graph);
    uses.retain(|k, _| defined.contains(k));
    uses
}

/// The names `graph` defines at its own level.
fn defined_names(graph: &OGraph) -> HashSet<String> {
    let mut d: HashSet<String> = graph.inputs.iter().cloned().collect();
    d.extend(graph.values.iter().filter(|(_, v)| v.constant.is_some()).map(|(k, _)| k.clone()));
    d.extend(graph.nodes.iter().flat_map(|n| n.outputs.iter().filter(|o| !o.is_empty()).cloned()));
    d
}

/// Every name defined in `graph` and the graphs nested in it.
fn all_defined(graph: &OGraph, out: &mut HashSet<String>) {
    out.extend(defined_names(graph));
    for n in &graph.nodes {
        for (_, a) in &n.attrs {
            if let Attr::Graph(g) = a {
                all_defined(g, out);
            }
        }
    }
}

/// A copy of `graph` with every name it defines (at any depth) suffixed by
/// `suffix`, so that it can be inlined again next to earlier copies.
pub(crate) fn renamed(graph: &OGraph, suffix: &str) -> OGraph {
    let mut defined = HashSet::new();
    all_defined(graph, &mut defined);
    let map: HashMap<String, String> = defined.into_iter().map(|n| {
        let r = format!("{n}{suffix}");
        (n, r)
    }).collect();
    rename_in(graph, &map)
}

fn rename_in(graph: &OGraph, map: &HashMap<String, String>) -> OGraph {
    let r = |s: &String| map.get(s).cloned().unwrap_or_else(|| s.clone());
    let mut g = graph.clone();
    g.inputs = graph.inputs.iter().map(r).collect();
    g.outputs = graph.outputs.iter().map(r).collect();
    g.captures = graph.captures.iter().map(r).collect();
    g.values = graph.values.iter().map(|(k, v)| (r(k), v.clone())).collect();
    for n in g.nodes.iter_mut() {
        n.inputs = n.inputs.iter().map(|s| if s.is_empty() { s.clone() } else { r(s) }).collect();
        n.outputs = n.outputs.iter().map(|s| if s.is_empty() { s.clone() } else { r(s) }).collect();
        n.implicit = n.implicit.iter().map(r).collect();
        for (_, a) in n.attrs.iter_mut() {
            if let Attr::Graph(sub) = a {
                *sub = Box::new(rename_in(sub, map));
            }
        }
    }
    g
}

/// The number of nodes in `graph` and the graphs nested in it.
pub(crate) fn node_count(graph: &OGraph) -> usize {
    graph.nodes.len()
        + graph
            .nodes
            .iter()
            .flat_map(|n| n.attrs.iter())
            .map(|(_, a)| if let Attr::Graph(g) = a { node_count(g) } else { 0 })
            .sum::<usize>()
}
