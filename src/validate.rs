//! Model validation: structural checks and per-op type and shape checks.
//!
//! [`validate`] runs when a builder finishes and before every write, so a
//! mistake becomes a [`ValidationError`] instead of a broken file.
//!
//! Subgraph calls are checked too: every subgraph index an op names (IF,
//! WHILE, CALL_ONCE, and the StableHLO ops whose options hold one) must
//! exist, no subgraph may reach itself through calls (that recursion has no
//! bound), calls may nest at most [`ValidateOptions::max_subgraph_depth`]
//! deep, and IF, WHILE and CALL_ONCE must fit the inputs and outputs of the
//! subgraphs they call.

pub(crate) mod calls;
mod recurrent;
mod stored;

pub(crate) use calls::check_control_flow;
pub(crate) use stored::check_crossings;

use crate::error::{Location, ValidationError};
use crate::infer::{infer, shapes_agree};
use crate::model::{DType, Model, Op, Subgraph, Tensor};

/// The default limit on nested subgraph calls: 64.
pub const DEFAULT_MAX_SUBGRAPH_DEPTH: usize = 64;

/// Limits for [`validate_with`].
///
/// ```
/// use tflite_forge::validate::{validate_with, ValidateOptions};
/// # use tflite_forge::{DType, ModelBuilder};
/// # let mut b = ModelBuilder::new();
/// # let mut g = b.subgraph("main");
/// # let x = g.input("x", DType::F32, [1]);
/// # g.output("x", x);
/// # b.finish_subgraph(g).unwrap();
/// # let model = b.finish().unwrap();
/// let mut options = ValidateOptions::default();
/// options.max_subgraph_depth = 4;
/// validate_with(&model, &options)?;
/// # Ok::<(), tflite_forge::ValidationError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ValidateOptions {
    /// The most calls any chain of subgraph calls may make: a subgraph
    /// calling another (with IF, WHILE, CALL_ONCE or a StableHLO op that
    /// names subgraphs) is one, so a model without control flow has depth
    /// 0 and `main → while body → if branch` has depth 2. Chains are
    /// measured from every subgraph, since signatures can enter at any.
    /// Default [`DEFAULT_MAX_SUBGRAPH_DEPTH`]; deeper models fail with
    /// [`ValidationError::SubgraphDepth`].
    pub max_subgraph_depth: usize,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions { max_subgraph_depth: DEFAULT_MAX_SUBGRAPH_DEPTH }
    }
}

/// Checks a whole model, with the default [`ValidateOptions`].
///
/// ```
/// use tflite_forge::{validate::validate, Model};
/// assert!(validate(&Model::default()).is_err()); // no subgraph
/// ```
pub fn validate(model: &Model) -> Result<(), ValidationError> {
    validate_with(model, &ValidateOptions::default())
}

/// Checks the subgraph indices that ops name: in range, without cycles
/// and nested at most `max_depth` deep. It takes time linear in the model
/// and constant stack. [`validate_with`] runs it too; the reader runs it
/// even when told not to validate.
pub(crate) fn check_subgraph_calls(model: &Model, max_depth: usize) -> Result<(), ValidationError> {
    calls::check_call_graph(model, max_depth)
}

/// Checks a whole model.
///
/// # Errors
/// The first problem found, as a [`ValidationError`] that says where.
pub fn validate_with(model: &Model, options: &ValidateOptions) -> Result<(), ValidationError> {
    if model.subgraphs.is_empty() {
        return Err(ValidationError::NoSubgraph);
    }
    calls::check_call_graph(model, options.max_subgraph_depth)?;
    for (i, sg) in model.subgraphs.iter().enumerate() {
        validate_subgraph(sg, i)?;
    }
    calls::check_control_flow_ops(model)?;
    for s in &model.signatures {
        let err = |detail: String| ValidationError::Signature { key: s.key.clone(), detail };
        let sg = model
            .subgraphs
            .get(s.subgraph as usize)
            .ok_or_else(|| err(format!("subgraph {} does not exist", s.subgraph)))?;
        for (name, t) in s.inputs.iter().chain(&s.outputs) {
            if t.index() >= sg.tensors.len() {
                return Err(err(format!("{name:?} maps to tensor {t}, out of range")));
            }
        }
        for (name, t) in &s.inputs {
            if !sg.inputs.contains(t) {
                return Err(err(format!("input {name:?} maps to {t}, which is not a subgraph input")));
            }
        }
        for (name, t) in &s.outputs {
            if !sg.outputs.contains(t) {
                return Err(err(format!("output {name:?} maps to {t}, which is not a subgraph output")));
            }
        }
    }
    let mut names = std::collections::HashSet::new();
    for f in &model.associated_files {
        if f.name.is_empty() || !names.insert(f.name.as_str()) {
            return Err(ValidationError::Metadata(crate::metadata::MetadataError::Mismatch(format!(
                "associated file names must be non-empty and unique; {:?} is not",
                f.name
            ))));
        }
    }
    crate::metadata::validate(model)?;
    Ok(())
}

/// Output types the runtime accepts besides the one inference names:
/// MULTINOMIAL writes int32 indices as well as int64 (random_ops.cc).
fn also_accepted(op: &Op, output: usize, dtype: DType, inputs: &[Option<&Tensor>]) -> bool {
    match (op, output) {
        (Op::Multinomial(_), 0) => dtype == DType::I32,
        // A quantized table's rows are dequantized into float (the
        // inferred type) or copied into the table's own type
        // (embedding_lookup.cc, EvalSimple).
        (Op::EmbeddingLookup, 0) => inputs.get(1).copied().flatten().is_some_and(|t| t.dtype == dtype),
        _ => false,
    }
}

fn check_data(t: &Tensor, at: Location) -> Result<(), ValidationError> {
    // The file stores dimensions as int32.
    let too_wide = t.shape.dims().iter().any(|d| d.fixed().is_some_and(|n| i32::try_from(n).is_err()));
    if too_wide || (t.shape.as_fixed().is_some() && t.dtype.bits().is_some() && t.expected_bytes().is_none()) {
        return Err(ValidationError::ShapeOverflow { at, name: t.name.clone(), shape: t.shape.to_string() });
    }
    let Some(d) = &t.data else { return Ok(()) };
    if t.sparsity.is_some() || t.dtype == DType::String {
        return Ok(());
    }
    if let Some(expected) = t.expected_bytes()
        && expected != d.len() as u64 {
            return Err(ValidationError::DataSize {
                at,
                name: t.name.clone(),
                dtype: t.dtype,
                shape: t.shape.to_string(),
                expected,
                actual: d.len(),
            });
        }
    Ok(())
}

fn check_quant(t: &Tensor, tensors: &[Tensor], at: Location) -> Result<(), ValidationError> {
    let Some(q) = &t.quantization else { return Ok(()) };
    let bad = |detail: String| ValidationError::Op { at, op: "quantization".into(), detail };
    if let Some(b) = q.details.as_ref().and_then(|d| d.blockwise()) {
        b.check(t, tensors).map_err(|e| bad(format!("tensor {:?}: {e}", t.name)))?;
    }
    if q.scale.len() != q.zero_point.len() && !q.zero_point.is_empty() {
        return Err(bad(format!(
            "tensor {:?} has {} scales but {} zero points",
            t.name,
            q.scale.len(),
            q.zero_point.len()
        )));
    }
    if q.scale.len() > 1 {
        let axis = usize::try_from(q.axis).ok().filter(|a| *a < t.shape.rank());
        let Some(axis) = axis else {
            return Err(bad(format!("tensor {:?}: quantized dimension {} out of range for shape {}", t.name, q.axis, t.shape)));
        };
        if let Some(n) = t.shape.dims()[axis].fixed()
            && n as usize != q.scale.len() {
                return Err(bad(format!(
                    "tensor {:?}: {} scales for dimension {axis} of size {n}",
                    t.name,
                    q.scale.len()
                )));
            }
    }
    if q.scale.iter().any(|s| !s.is_finite() || *s < 0.0) {
        return Err(bad(format!("tensor {:?} has a negative or non-finite scale", t.name)));
    }
    Ok(())
}

/// Checks one subgraph: indices, producers, constant sizes and op signatures.
pub(crate) fn validate_subgraph(sg: &Subgraph, index: usize) -> Result<(), ValidationError> {
    let n = sg.tensors.len();
    let loc = |operator: Option<usize>, tensor: Option<usize>| Location { subgraph: index, operator, tensor };
    let in_range = |t: u32, at: Location| {
        if (t as usize) < n {
            Ok(())
        } else {
            Err(ValidationError::TensorOutOfRange { at, index: t, len: n })
        }
    };
    for (i, t) in sg.tensors.iter().enumerate() {
        check_data(t, loc(None, Some(i)))?;
        check_quant(t, &sg.tensors, loc(None, Some(i)))?;
    }
    // A tensor is available once it is an input, a constant or a variable,
    // or once the op that writes it has run.
    let mut produced = vec![false; n];
    for (i, t) in sg.tensors.iter().enumerate() {
        produced[i] = t.is_constant() || t.is_variable;
    }
    for t in &sg.inputs {
        in_range(t.0, loc(None, None))?;
        if std::mem::replace(&mut produced[t.index()], true) && !sg.tensors[t.index()].is_variable {
            return Err(ValidationError::ProducedTwice {
                at: loc(None, Some(t.index())),
                tensor: t.0,
                name: sg.tensors[t.index()].name.clone(),
            });
        }
    }
    for (oi, node) in sg.operators.iter().enumerate() {
        let at = loc(Some(oi), None);
        for t in node.inputs.iter().flatten().chain(&node.intermediates) {
            in_range(t.0, at)?;
        }
        for t in node.inputs.iter().flatten() {
            if !produced[t.index()] {
                return Err(ValidationError::Dangling {
                    at: loc(Some(oi), Some(t.index())),
                    tensor: t.0,
                    name: sg.tensors[t.index()].name.clone(),
                });
            }
        }
        for t in &node.outputs {
            in_range(t.0, at)?;
            let tensor = &sg.tensors[t.index()];
            if std::mem::replace(&mut produced[t.index()], true) && !tensor.is_variable {
                return Err(ValidationError::ProducedTwice {
                    at: loc(Some(oi), Some(t.index())),
                    tensor: t.0,
                    name: tensor.name.clone(),
                });
            }
        }
        for t in &node.intermediates {
            produced[t.index()] = true;
        }
        check_op(sg, oi, index)?;
    }
    for t in &sg.outputs {
        in_range(t.0, loc(None, None))?;
        if !produced[t.index()] {
            return Err(ValidationError::Dangling {
                at: loc(None, Some(t.index())),
                tensor: t.0,
                name: sg.tensors[t.index()].name.clone(),
            });
        }
    }
    Ok(())
}

/// Checks one node as the builder adds it: its tensor indices, its op
/// signature (not the order in which its inputs are produced), and the
/// quantization of ops whose kernels copy stored integers
/// ([`stored`]; a file's model is taken as it is).
pub(crate) fn check_node(sg: &Subgraph, oi: usize, index: usize) -> Result<(), ValidationError> {
    let Some(node) = sg.operators.get(oi) else { return Ok(()) };
    let at = Location { subgraph: index, operator: Some(oi), tensor: None };
    let n = sg.tensors.len();
    for t in node.inputs.iter().flatten().chain(&node.outputs).chain(&node.intermediates) {
        if t.index() >= n {
            return Err(ValidationError::TensorOutOfRange { at, index: t.0, len: n });
        }
    }
    check_op(sg, oi, index)?;
    stored::check(sg, node).map_err(|detail| ValidationError::Op { at, op: node.op.name().to_string(), detail })
}

/// Checks a typed op's inputs and outputs against what inference says.
fn check_op(sg: &Subgraph, oi: usize, index: usize) -> Result<(), ValidationError> {
    let node = &sg.operators[oi];
    let at = Location { subgraph: index, operator: Some(oi), tensor: None };
    let err = |detail: String| ValidationError::Op { at, op: node.op.name().to_string(), detail };
    calls::check_local(node).map_err(err)?;
    // The runtime hands every custom op named "Flex..." to the Flex
    // delegate, which reads [tf_op, node_def] from the options.
    if let Op::Custom(c) = &node.op
        && let Some(flex) = c.flex_op()
    {
        let (tf_op, _) = flex.map_err(|e| err(format!("select-TF options are not [op name, NodeDef]: {e}")))?;
        if c.name.strip_prefix("Flex") != Some(tf_op.as_str()) {
            return Err(err(format!("select-TF op {:?} names TensorFlow op {tf_op:?} in its options", c.name)));
        }
    }
    let inputs: Vec<Option<&Tensor>> = node.inputs.iter().map(|t| t.map(|t| &sg.tensors[t.index()])).collect();
    let Some(expected) = infer(&node.op, &inputs).map_err(err)? else {
        return Ok(());
    };
    if expected.len() != node.outputs.len() {
        return Err(err(format!("has {} outputs, expected {}", node.outputs.len(), expected.len())));
    }
    for (k, (e, t)) in expected.iter().zip(&node.outputs).enumerate() {
        let actual = &sg.tensors[t.index()];
        if let Some(d) = e.dtype
            && d != actual.dtype
            && !also_accepted(&node.op, k, actual.dtype, &inputs) {
                return Err(err(format!("output {k} ({:?}) is {}, expected {d}", actual.name, actual.dtype)));
            }
        if !shapes_agree(&e.shape, &actual.shape) {
            return Err(err(format!("output {k} ({:?}) has shape {}, expected {}", actual.name, actual.shape, e.shape)));
        }
    }
    recurrent::check(sg, node).map_err(err)?;
    match &node.op {
        Op::Quantize => {
            let out = &sg.tensors[node.outputs[0].index()];
            if !matches!(out.dtype, DType::I8 | DType::U8 | DType::I16 | DType::I4 | DType::U4) {
                return Err(err(format!("output type {} is not an integer type", out.dtype)));
            }
            if out.quantization.as_ref().is_none_or(|q| q.scale.is_empty()) {
                return Err(err("output has no quantization parameters".into()));
            }
        }
        Op::Dequantize => {
            let x = inputs[0].map(|t| t.dtype);
            if x != Some(DType::F16) && inputs[0].is_some_and(|t| t.quantization.as_ref().is_none_or(|q| q.scale.is_empty())) {
                return Err(err("integer input has no quantization parameters".into()));
            }
        }
        _ => {
            // Quantized integer ops need quantization on their activations.
            let first = inputs.first().copied().flatten();
            if let Some(x) = first
                && matches!(x.dtype, DType::I8 | DType::U8 | DType::I16)
                    && !matches!(node.op, Op::Reshape { .. } | Op::Transpose | Op::Pad | Op::Concatenation(_) | Op::Mean { .. })
                    // Ops on raw integers (bits, shifts, integer division,
                    // conversions of the values themselves, bit casts,
                    // REDUCE_WINDOW, which folds the stored integers, and
                    // WHERE, which tests them against 0).
                    && !matches!(
                        node.op,
                        Op::BitwiseXor | Op::RightShift | Op::FloorDiv | Op::FloorMod | Op::Cast(_) | Op::Bitcast | Op::ReduceWindow(_) | Op::Where
                    )
                {
                    // Outputs of other types (a comparison's bools, an
                    // ARG_MAX's indices) carry no quantization.
                    let out = sg.tensors.get(node.outputs[0].index()).filter(|t| matches!(t.dtype, DType::I8 | DType::U8 | DType::I16));
                    for (what, t) in [("input", Some(x)), ("output", out)] {
                        if let Some(t) = t
                            && t.quantization.as_ref().is_none_or(|q| q.scale.is_empty())
                        {
                            return Err(err(format!("{what} is {} but has no quantization parameters", t.dtype)));
                        }
                    }
                }
        }
    }
    Ok(())
}
