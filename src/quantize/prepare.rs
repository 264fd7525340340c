//! Float models made by other tools, made ready for quantization.
//!
//! TensorFlow's converter and MediaPipe ship "float" models whose weights
//! are float16 (or int8) constants, each followed by a `DEQUANTIZE` to
//! float32. Quantization needs the float32 weights as constants of the ops
//! that read them: [`fold_constant_dequantize`] computes each such
//! `DEQUANTIZE` once and stores its float32 result in the op's output
//! tensor, which keeps its index (signatures and readers are unchanged).

use half::f16;

use crate::model::*;

/// The float32 values of a constant DEQUANTIZE input: float16, or int8 /
/// uint8 / int16 with per-tensor or per-axis parameters.
fn dequantized(t: &Tensor) -> Option<Vec<f32>> {
    let data = t.data.as_ref()?;
    if t.sparsity.is_some() {
        return None;
    }
    if t.dtype == DType::F16 {
        return Some(data.to_vec::<f16>().iter().map(|h| h.to_f32()).collect());
    }
    let raw: Vec<f64> = match t.dtype {
        DType::I8 => data.to_vec::<i8>().into_iter().map(f64::from).collect(),
        DType::U8 => data.to_vec::<u8>().into_iter().map(f64::from).collect(),
        DType::I16 => data.to_vec::<i16>().into_iter().map(f64::from).collect(),
        _ => return None,
    };
    let q = t.quantization.as_ref().filter(|q| !q.scale.is_empty() && q.details.is_none())?;
    let n = q.scale.len();
    let dims: Vec<usize> = t.shape.dims().iter().map(|d| d.fixed().map_or(1, |v| v as usize)).collect();
    let inner: usize = if n == 1 {
        raw.len().max(1)
    } else {
        let axis = usize::try_from(q.axis).ok().filter(|a| dims.get(*a) == Some(&n))?;
        dims[axis + 1..].iter().product::<usize>().max(1)
    };
    let zero = |c: usize| q.zero_point.get(c).or(q.zero_point.first()).copied().unwrap_or(0) as f64;
    Some(raw.iter().enumerate().map(|(i, v)| ((v - zero((i / inner) % n)) * f64::from(q.scale[(i / inner) % n])) as f32).collect())
}

/// Replaces every `DEQUANTIZE` of a constant in subgraph 0 by its float32
/// result, stored in the op's output tensor (so tensor indices stay). The
/// input constants no other op reads lose their data. Float32 tensors whose
/// quantization parameters hold no scale (an empty table, or only recorded
/// ranges, as some converters write) lose them: they are plain floats.
/// Returns how many ops were folded.
///
/// ```
/// use tflite_forge::quantize::fold_constant_dequantize;
/// use tflite_forge::{ConstData, DType, FullyConnectedOptions, ModelBuilder, Op};
///
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [1, 2]);
/// let half = [half::f16::from_f32(0.5), half::f16::from_f32(-2.0), half::f16::from_f32(1.0), half::f16::from_f32(0.25)];
/// let w16 = g.constant("w16", DType::F16, [2, 2], ConstData::from_slice(&half));
/// let w = g.apply(Op::Dequantize, &[Some(w16)])?;
/// let y = g.fully_connected(x, w, None, FullyConnectedOptions::default())?;
/// g.output("y", y);
/// b.finish_subgraph(g)?;
/// let mut model = b.finish()?;
///
/// assert_eq!(fold_constant_dequantize(&mut model), 1);
/// let sg = &model.subgraphs[0];
/// assert_eq!(sg.operators.len(), 1);
/// let w = &sg.tensors[sg.operators[0].inputs[1].unwrap().index()];
/// assert_eq!(w.data.as_ref().unwrap().to_vec::<f32>(), [0.5, -2.0, 1.0, 0.25]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fold_constant_dequantize(model: &mut Model) -> usize {
    let Some(sg) = model.subgraphs.first_mut() else { return 0 };
    for t in &mut sg.tensors {
        if t.dtype == DType::F32 && t.quantization.as_ref().is_some_and(|q| q.scale.is_empty()) {
            t.quantization = None;
        }
    }
    let mut folded = 0;
    let mut keep = Vec::with_capacity(sg.operators.len());
    let mut sources = Vec::new();
    for node in std::mem::take(&mut sg.operators) {
        let input = node.inputs.first().copied().flatten();
        let target = match (&node.op, input, node.outputs.as_slice()) {
            (Op::Dequantize, Some(i), [o]) => sg.tensor(i).and_then(dequantized).map(|v| (i, *o, v)),
            _ => None,
        };
        let Some((i, o, values)) = target else {
            keep.push(node);
            continue;
        };
        let Some(out) = sg.tensors.get_mut(o.index()) else {
            keep.push(node);
            continue;
        };
        if out.dtype != DType::F32 || out.shape.num_elements() != Some(values.len() as u64) {
            keep.push(node);
            continue;
        }
        out.data = Some(ConstData::from_slice(&values));
        out.quantization = None;
        sources.push(i);
        folded += 1;
    }
    sg.operators = keep;
    // Drop the data of sources nobody reads any more.
    for i in sources {
        let read = sg.operators.iter().any(|n| n.inputs.iter().flatten().any(|t| *t == i)) || sg.outputs.contains(&i);
        if !read && let Some(t) = sg.tensors.get_mut(i.index()) {
            t.data = None;
        }
    }
    folded
}
