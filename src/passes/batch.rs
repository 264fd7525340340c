//! Makes the batch dimension of a model's inputs dynamic: each input of
//! the main subgraph (subgraph 0) with rank 2 or more gets `-1` as its
//! first dimension in `shape_signature`, and the shapes of every operator
//! output are inferred again from there, so that the `-1` reaches each
//! tensor that follows the batch. A RESHAPE to a constant shape that kept
//! the fixed batch (a flatten) gets `-1` in its target's first entry.
//!
//! This is the rewrite an app needs to run one model on batches of any
//! size (`resize_tensor_input` on the interpreter). It refuses, with a
//! typed error naming the operator, a graph whose shapes cannot follow:
//! an op whose inference rejects the dynamic dimension, an op without
//! inference (custom and opaque ops), an op that calls subgraphs, or a
//! recurrent op whose state is a variable tensor of a fixed batch.

use crate::infer::infer;
use crate::model::{ConstData, DType, Dim, Model, Op, Shape, Subgraph, Tensor, TensorId};

/// What [`make_batch_dynamic`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchReport {
    /// The inputs whose first dimension became dynamic, by name.
    pub inputs: Vec<String>,
    /// Outputs whose first dimension is dynamic after the pass, by name:
    /// it follows the batch, or depends on the data (UNIQUE, WHERE, ...).
    pub dynamic_outputs: Vec<String>,
    /// Outputs whose first dimension stays fixed (a reshape to a constant
    /// shape, a reduction over the batch, ...), by name. A model with such
    /// an output still runs at the batch it was built for; whether it runs
    /// at another depends on what fixed it.
    pub fixed_outputs: Vec<String>,
}

impl BatchReport {
    /// Whether every output's first dimension is dynamic. Ops can still
    /// tie the batch to an operand at run time (a recurrent op's state
    /// tensor, SEGMENT_SUM's segment ids, SPLIT's even split), which LiteRT
    /// checks when the interpreter is resized.
    pub fn all_outputs_dynamic(&self) -> bool {
        self.fixed_outputs.is_empty()
    }
}

/// Why [`make_batch_dynamic`] refused a model. The model is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The model has no subgraph, or its main subgraph no input of rank 2
    /// or more.
    #[error("no input of rank 2 or more in subgraph 0 to make the batch of")]
    NoBatchedInput,
    /// An operator whose outputs cannot follow a dynamic batch.
    #[error("subgraph 0, operator {operator} ({op}): {detail}")]
    Operator {
        /// The operator's index.
        operator: usize,
        /// The op's schema name.
        op: String,
        /// What went wrong.
        detail: String,
    },
}

/// A variable tensor (a recurrent op's state) among an operator's inputs
/// that keeps a fixed first dimension while another input's became
/// dynamic: LiteRT resizes inputs, not variable tensors, and the kernels
/// check that the two batches agree (basic_rnn.cc, lstm.cc, svdf.cc).
/// Time-major sequence ops are let through: their first dimension is the
/// sequence, which the state does not hold.
fn state_keeps_batch(sg: &Subgraph, node: &crate::model::Operator) -> Option<String> {
    // A time-major sequence op's first dimension is time, not the batch
    // its state holds: a dynamic one is a dynamic sequence length.
    let time_major = match &node.op {
        Op::UnidirectionalSequenceLstm(o) => o.time_major,
        Op::UnidirectionalSequenceRnn(o) => o.time_major,
        Op::BidirectionalSequenceLstm(o) => o.time_major,
        Op::BidirectionalSequenceRnn(o) => o.time_major,
        _ => false,
    };
    if time_major {
        return None;
    }
    let tensors: Vec<&Tensor> = node.inputs.iter().flatten().map(|t| &sg.tensors[t.0 as usize]).collect();
    let dynamic = tensors.iter().any(|t| !t.is_variable && t.shape.dims().first() == Some(&Dim::Dynamic));
    let state = tensors.iter().find(|t| t.is_variable && t.shape.rank() >= 2)?;
    let Some(Dim::Fixed(b)) = state.shape.dims().first() else { return None };
    dynamic.then(|| {
        format!("its state {:?} is a variable tensor of batch {b}; LiteRT resizes inputs, not variable tensors, so the batch cannot change", state.name)
    })
}

/// A RESHAPE to a constant shape that kept the batch (the target's first
/// entry was the input's fixed batch, and the other entries hold the rest
/// of the input) now takes `-1` there, so that it keeps a dynamic batch:
/// what a flatten of a model exported at a fixed batch needs. A target
/// tensor other operators share is copied first.
fn follow_reshape(sg: &mut Subgraph, before: &[Tensor], k: usize) {
    let node = &sg.operators[k];
    let (Op::Reshape { .. }, Some(Some(x)), Some(Some(target))) = (&node.op, node.inputs.first(), node.inputs.get(1)) else { return };
    let (x, target) = (*x, *target);
    let dims_now = sg.tensors[x.0 as usize].shape.dims().to_vec();
    let Some(Dim::Fixed(batch)) = before.get(x.0 as usize).and_then(|t| t.shape.dims().first().copied()) else { return };
    if dims_now.first() != Some(&Dim::Dynamic) {
        return;
    }
    let t = &sg.tensors[target.0 as usize];
    let Some(mut ints) = crate::infer::const_ints(t) else { return };
    // Checked products: a hostile file may hold any target.
    let rest = dims_now[1..].iter().try_fold(1i64, |acc, d| acc.checked_mul(i64::from(d.fixed()?)));
    let wanted = ints[1..].iter().try_fold(1i64, |acc, v| acc.checked_mul(*v));
    if ints.first() != Some(&i64::from(batch)) || rest.is_none() || rest != wanted {
        return;
    }
    ints[0] = -1;
    let data = match t.dtype {
        DType::I32 => ints.iter().flat_map(|v| (*v as i32).to_le_bytes()).collect::<Vec<u8>>(),
        _ => ints.iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    let shared = sg.operators.iter().enumerate().any(|(j, o)| j != k && o.inputs.iter().flatten().any(|i| *i == target))
        || sg.outputs.contains(&target);
    let id = if shared {
        let mut copy = sg.tensors[target.0 as usize].clone();
        copy.name = format!("{}_dynamic_batch", copy.name);
        sg.tensors.push(copy);
        let id = TensorId((sg.tensors.len() - 1) as u32);
        sg.operators[k].inputs[1] = Some(id);
        id
    } else {
        target
    };
    sg.tensors[id.0 as usize].data = Some(ConstData::from_bytes(data));
    if let Op::Reshape { new_shape: Some(v) } = &mut sg.operators[k].op {
        if let Some(first) = v.first_mut() {
            *first = -1;
        }
    }
}

/// Makes the first dimension of every rank ≥ 2 input of subgraph 0
/// dynamic and infers every operator output's shape again, so that the
/// written file carries `-1` wherever the batch goes.
///
/// ```
/// # use tflite_forge::*;
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [2, 3]);
/// let y = g.relu(x).unwrap();
/// g.output("y", y);
/// b.finish_subgraph(g).unwrap();
/// let mut m = b.finish().unwrap();
/// let report = tflite_forge::passes::batch::make_batch_dynamic(&mut m).unwrap();
/// assert_eq!(report.inputs, ["x"]);
/// assert!(report.all_outputs_dynamic());
/// assert_eq!(m.subgraphs[0].tensors[y.0 as usize].shape.dims()[0], Dim::Dynamic);
/// ```
pub fn make_batch_dynamic(model: &mut Model) -> Result<BatchReport, BatchError> {
    let Some(main) = model.subgraphs.first() else { return Err(BatchError::NoBatchedInput) };
    let mut sg = main.clone();
    let mut report = BatchReport::default();
    for &t in &sg.inputs {
        let tensor = &mut sg.tensors[t.0 as usize];
        if tensor.data.is_some() || tensor.shape.rank() < 2 {
            continue;
        }
        let mut dims = tensor.shape.dims().to_vec();
        dims[0] = Dim::Dynamic;
        tensor.shape = Shape::from_dims(dims);
        report.inputs.push(tensor.name.clone());
    }
    if report.inputs.is_empty() {
        return Err(BatchError::NoBatchedInput);
    }
    for k in 0..sg.operators.len() {
        follow_reshape(&mut sg, &main.tensors, k);
        let node = &sg.operators[k];
        let refuse = |detail: String| BatchError::Operator { operator: k, op: node.op.name().to_string(), detail };
        if !crate::validate::calls::callees(&node.op).is_empty() {
            return Err(refuse("calls other subgraphs, whose shapes this pass does not follow".into()));
        }
        if let Some(detail) = state_keeps_batch(&sg, node) {
            return Err(refuse(detail));
        }
        let inputs: Vec<Option<&Tensor>> = node.inputs.iter().map(|i| i.map(|t| &sg.tensors[t.0 as usize])).collect();
        let inferred = match infer(&node.op, &inputs) {
            Ok(Some(v)) => v,
            Ok(None) => return Err(refuse("its output shapes cannot be inferred (no inference for the op, or none with a dynamic dimension)".into())),
            Err(e) => return Err(refuse(e)),
        };
        if inferred.len() < node.outputs.len() && !matches!(node.op, Op::Custom(_)) {
            return Err(refuse(format!("inference gives {} outputs; the operator has {}", inferred.len(), node.outputs.len())));
        }
        drop(inputs);
        let updates: Vec<(TensorId, Shape)> = node.outputs.iter().zip(inferred).map(|(t, i)| (*t, i.shape)).collect();
        for (t, shape) in updates {
            let tensor = &mut sg.tensors[t.0 as usize];
            if tensor.data.is_none() {
                tensor.shape = shape;
            }
        }
    }
    for &t in &sg.outputs {
        let tensor = &sg.tensors[t.0 as usize];
        match tensor.shape.dims().first() {
            Some(Dim::Dynamic) => report.dynamic_outputs.push(tensor.name.clone()),
            _ => report.fixed_outputs.push(tensor.name.clone()),
        }
    }
    model.subgraphs[0] = sg;
    Ok(report)
}
