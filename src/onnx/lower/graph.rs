//! Lowering a whole ONNX graph's nodes in order, and what the main graph
//! and nested graphs (If branches, Loop and Scan bodies) share: use counts,
//! the node loop, and turning values into subgraph outputs.

use std::collections::HashMap;

use super::{fold, node_error, LowerCtx, LowerError, Node, Val};
use crate::build::{ModelBuilder, SubgraphBuilder};
use crate::model::{ConstData, DType, Shape, TensorId};
use crate::onnx::error::{OnnxError, ReasonCode};
use crate::onnx::ir::{OGraph, ONode};
use crate::onnx::table::Registry;
use super::symbolic::SDim;
use crate::onnx::ir::TensorData;

/// How many nodes (and graph outputs) read each value, captures of nested
/// graphs included.
pub(crate) fn count_uses(graph: &OGraph) -> HashMap<String, usize> {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for n in &graph.nodes {
        for i in n.inputs.iter().chain(&n.implicit).filter(|i| !i.is_empty()) {
            *uses.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &graph.outputs {
        *uses.entry(o.clone()).or_default() += 1;
    }
    uses
}

impl<'a> LowerCtx<'a> {
    /// A context lowering into subgraph `g` of `mb`.
    pub(crate) fn new(g: SubgraphBuilder, mb: ModelBuilder, env: HashMap<String, Val>, graph: &'a OGraph, registry: Option<&'a Registry>) -> LowerCtx<'a> {
        LowerCtx {
            g,
            env,
            graph,
            materialized: HashMap::new(),
            shape_ops: HashMap::new(),
            dim_names: HashMap::new(),
            mb,
            registry,
            nested_error: None,
            folded: 0,
            forms: Vec::new(),
            allow_flex: false,
            flex_ops: Vec::new(),
            unrolled: 0,
            int8_views: HashMap::new(),
            qdq_fallbacks: Vec::new(),
            recycled: Default::default(),
        }
    }

    /// Lowers `nodes` in order (they are topologically sorted), folding
    /// what is constant.
    pub(crate) fn lower_nodes(&mut self, nodes: &[ONode], uses: &mut HashMap<String, usize>) -> Result<(), OnnxError> {
        let default = Registry::default();
        for n in nodes {
            let opset = self.graph.opset(&n.domain);
            let node = Node { inner: n, opset };
            if fold::try_fold(self, &node).map_err(|e| node_error(n, opset, e))? {
                self.folded += 1;
                self.release(n, uses);
                continue;
            }
            let registry = self.registry.unwrap_or(&default);
            let flex = if self.allow_flex { super::flex::flex_lowering(&n.domain, &n.op_type) } else { None };
            let lowered = match registry.find(&n.domain, &n.op_type, opset) {
                // Element types the kernels lack run exactly in a wider type.
                Ok(entry) => super::widen::lower_via_f32(self, &node, entry.lower),
                Err(code) => {
                    let detail = match code {
                        ReasonCode::UnsupportedOpset => "no lowering for this opset".to_string(),
                        _ => "no lowering for this op".to_string(),
                    };
                    Err(LowerError::new(code, detail))
                }
            };
            if let Err(e) = lowered {
                // A node of a nested graph failed: report that node.
                if let Some(inner) = self.nested_error.take() {
                    return Err(inner);
                }
                // With `allow_flex`, what the builtins cannot take may run
                // as the exact TensorFlow op; a malformed node stays an error.
                match flex {
                    Some(f) if e.code != ReasonCode::InvalidNode => f.apply(self, &node).map_err(|fe| {
                        node_error(n, opset, LowerError::new(e.code, format!("{}; as Flex{}: {}", e.detail, f.tf_op, fe.detail)))
                    })?,
                    _ => return Err(node_error(n, opset, e)),
                }
            }
            for (i, o) in n.outputs.iter().enumerate() {
                if !o.is_empty() && !self.env.contains_key(o) {
                    return Err(node_error(n, opset, LowerError::invalid(format!("lowering did not produce output {i} ({o:?})"))));
                }
            }
            self.release(n, uses);
        }
        Ok(())
    }

    /// The tensor that graph output `name` is: constants and shape values
    /// are materialized, and an int64 value carried as int32 is cast back.
    pub(crate) fn output_value(&mut self, name: &str) -> Result<TensorId, OnnxError> {
        // A folded output keeps its ONNX type (no narrowing to int32).
        if let Some(Val::Const(d)) = self.env.get(name).cloned() {
            let t = self.const_output(name, d);
            self.materialized.insert(name.to_string(), t);
        }
        if let Some(Val::Shape { dims, scalar }) = self.env.get(name).cloned() {
            let v: Option<Vec<i64>> = dims.iter().map(SDim::known).collect();
            let t = match v {
                Some(v) => {
                    let shape = if scalar { Shape::scalar() } else { Shape::new([v.len() as u32]) };
                    self.g.constant(name, DType::I64, shape, ConstData::from_slice(&v))
                }
                // An ONNX shape value is int64: computed in int32, then cast.
                None => {
                    let t = self.shape_tensor(name, &dims, scalar).map_err(|e| OnnxError::Invalid(format!("output {name:?}: {}", e.detail)))?;
                    self.g.cast(t, DType::I64).map_err(OnnxError::Model)?
                }
            };
            self.materialized.insert(name.to_string(), t);
        }
        let mut t = self.tensor_of(name).map_err(|e| OnnxError::Invalid(format!("output {name:?}: {}", e.detail)))?;
        // int64 values may be carried as int32 inside (sizes, indices); an
        // int64 output gives the caller int64.
        if self.graph.value(name).and_then(|v| v.dtype) == Some(DType::I64) && self.g.tensor(t).dtype == DType::I32 {
            t = self.g.cast(t, DType::I64).map_err(OnnxError::Model)?;
        }
        Ok(t)
    }

    fn const_output(&mut self, name: &str, d: TensorData) -> TensorId {
        let shape = Shape::new(d.dims.iter().map(|x| *x as u32));
        self.g.constant(name, d.dtype, shape, ConstData::from_bytes(d.bytes))
    }

    /// `t`, or a copy of it when it is already a subgraph input, another
    /// output (`used`) or a constant: each output is a tensor of its own.
    pub(crate) fn own_output(&mut self, t: TensorId, used: &[TensorId]) -> Result<TensorId, OnnxError> {
        let is_input = self.g.subgraph().inputs.contains(&t);
        if is_input || used.contains(&t) || self.g.tensor(t).is_constant() {
            let shape: Vec<i32> = self.g.tensor(t).shape.file_shape();
            let sig = self.g.tensor(t).shape.file_signature().unwrap_or(shape);
            return self.g.reshape(t, &sig).map_err(OnnxError::Model);
        }
        Ok(t)
    }
}
