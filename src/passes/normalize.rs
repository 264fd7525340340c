//! Moves an image input's normalisation into the graph, so that the model
//! takes raw pixel values (0..=255) instead of normalised ones.
//!
//! This is what a uint8-input image model needs: after full int8
//! quantization the input's parameters come out as scale 1, zero point 0,
//! so apps (and the TFLite Task Library) feed the image bytes as they are.

use crate::error::{Location, ValidationError};
use crate::model::{ConstData, DType, Dim, Model, Op, Operator, Tensor, TensorId};
use crate::model::{Activation, AddSubOptions};

/// Makes input `input` of subgraph `subgraph` take raw pixels: its former
/// readers now read `(x - mean) / std`, computed by a SUB and a MUL added
/// at the start. `mean` and `std` hold one value, or one per channel (the
/// last dimension). The input keeps its tensor index, name and signature
/// entry.
///
/// ```
/// use tflite_forge::eval::{Evaluator, Value};
/// use tflite_forge::passes::normalize::prepend_normalization;
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("image", DType::F32, [1, 1, 1, 3]);
/// let y = g.relu(x).unwrap();
/// g.output("y", y);
/// b.finish_subgraph(g).unwrap();
/// let mut model = b.finish().unwrap();
/// prepend_normalization(&mut model, 0, 0, &[100.0, 110.0, 120.0], &[2.0, 4.0, 5.0]).unwrap();
/// let out = Evaluator::new(&model).run(0, &[Value::from_f32(vec![1, 1, 1, 3], vec![104.0, 102.0, 150.0])]).unwrap();
/// assert_eq!(out[0].to_f32(), [2.0, 0.0, 6.0]);
/// ```
pub fn prepend_normalization(model: &mut Model, subgraph: usize, input: usize, mean: &[f32], std: &[f32]) -> Result<(), ValidationError> {
    let at = Location { subgraph, operator: None, tensor: None };
    let err = |detail: String| ValidationError::Op { at, op: "normalization".into(), detail };
    let sg = model.subgraphs.get_mut(subgraph).ok_or_else(|| err(format!("no subgraph {subgraph}")))?;
    let &x = sg.inputs.get(input).ok_or_else(|| err(format!("no input {input}")))?;
    let t = sg.tensors[x.index()].clone();
    if t.dtype != DType::F32 || t.quantization.is_some() {
        return Err(err(format!("input {:?} is {}, not float32", t.name, t.dtype)));
    }
    let channels = match t.shape.dims().last() {
        Some(Dim::Fixed(c)) => *c as usize,
        _ => return Err(err(format!("input {:?} needs a fixed last (channel) dimension, has {}", t.name, t.shape))),
    };
    if mean.len() != std.len() || !(mean.len() == 1 || mean.len() == channels) {
        return Err(err(format!("{} means and {} stds for {channels} channels", mean.len(), std.len())));
    }
    if std.iter().any(|s| *s == 0.0 || !s.is_finite()) || mean.iter().any(|m| !m.is_finite()) {
        return Err(err("mean must be finite and std finite and non-zero".into()));
    }
    let mut add = |tensor: Tensor| -> Result<TensorId, ValidationError> {
        let id = u32::try_from(sg.tensors.len()).map_err(|_| err("too many tensors".into()))?;
        sg.tensors.push(tensor);
        Ok(TensorId(id))
    };
    let n = mean.len() as u32;
    let mean_t = add(Tensor::new(format!("{}/mean", t.name), DType::F32, [n]).with_data(ConstData::from_slice(mean)))?;
    let inv: Vec<f32> = std.iter().map(|s| 1.0 / s).collect();
    let inv_t = add(Tensor::new(format!("{}/inv_std", t.name), DType::F32, [n]).with_data(ConstData::from_slice(&inv)))?;
    let centered = add(Tensor::new(format!("{}/centered", t.name), DType::F32, t.shape.clone()))?;
    let normalized = add(Tensor::new(format!("{}/normalized", t.name), DType::F32, t.shape.clone()))?;
    for node in &mut sg.operators {
        for slot in node.inputs.iter_mut().flatten() {
            if *slot == x {
                *slot = normalized;
            }
        }
    }
    for o in &mut sg.outputs {
        if *o == x {
            return Err(err(format!("input {:?} is also an output", t.name)));
        }
    }
    let mut ops = vec![
        Operator::new(Op::Sub(AddSubOptions::default()), &[x, mean_t], &[centered]),
        Operator::new(Op::Mul(Activation::None), &[centered, inv_t], &[normalized]),
    ];
    ops.append(&mut sg.operators);
    sg.operators = ops;
    crate::validate::validate(model)
}
