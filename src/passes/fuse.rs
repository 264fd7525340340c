//! Fusions: activations into the op before them, explicit zero PADs into
//! convolutions where TFLite's SAME padding is exactly the same, and a
//! constant bias ADD into the FULLY_CONNECTED before it.

use super::graph::{const_ints, Uses};
use crate::model::*;

fn activation_of(op: &Op) -> Option<Activation> {
    match op {
        Op::Relu => Some(Activation::Relu),
        Op::Relu6 => Some(Activation::Relu6),
        _ => None,
    }
}

fn slot(op: &mut Op) -> Option<&mut Activation> {
    match op {
        Op::Conv2d(o) => Some(&mut o.activation),
        Op::DepthwiseConv2d(o) => Some(&mut o.activation),
        Op::FullyConnected(o) => Some(&mut o.activation),
        Op::Add(o) | Op::Sub(o) => Some(&mut o.activation),
        Op::Mul(a) | Op::Div(a) => Some(a),
        Op::AveragePool2d(o) | Op::MaxPool2d(o) => Some(&mut o.activation),
        _ => None,
    }
}

/// Fuses RELU and RELU6 into a producer whose only reader they are.
/// Returns the number fused.
pub fn fuse_activations(sg: &mut Subgraph) -> usize {
    // Fusions are independent (each producer output has the activation as
    // its only reader), so one scan finds them all and they are applied
    // together: linear in the graph, repeated only if a round fused any.
    let mut fused = 0;
    loop {
        let uses = Uses::of(sg);
        let mut found: Vec<(usize, usize, Op)> = Vec::new();
        for (i, op) in sg.operators.iter().enumerate() {
            let Some(act) = activation_of(&op.op) else { continue };
            let Some(x) = op.input(0) else { continue };
            let Some(p) = uses.producer[x.index()] else { continue };
            if uses.is_output[x.index()] || uses.consumers[x.index()].len() != 1 || sg.operators[p].outputs.len() != 1 {
                continue;
            }
            // Integer ops keep their own output quantization; only fuse float.
            if sg.tensors[x.index()].dtype != DType::F32 {
                continue;
            }
            // A producer that is itself fused away this round stays as it is.
            if found.iter().any(|(j, _, _)| *j == p) {
                continue;
            }
            let mut prod = sg.operators[p].op.clone();
            if let Some(a) = slot(&mut prod).filter(|a| **a == Activation::None) {
                *a = act;
                found.push((i, p, prod));
            }
        }
        if found.is_empty() {
            break;
        }
        let mut remove = vec![false; sg.operators.len()];
        for (i, p, prod) in found {
            let y = sg.operators[i].outputs[0];
            sg.operators[p].op = prod;
            sg.operators[p].outputs[0] = y;
            remove[i] = true;
            fused += 1;
        }
        let mut k = 0;
        sg.operators.retain(|_| {
            k += 1;
            !remove[k - 1]
        });
    }
    super::cleanup::compact(sg);
    fused
}

/// Folds `PAD → CONV_2D/DEPTHWISE_CONV_2D (VALID)` into one SAME conv when
/// the padding equals what SAME would add. Returns the number folded.
pub fn fold_pads(sg: &mut Subgraph) -> usize {
    let mut folded = 0;
    loop {
        let uses = Uses::of(sg);
        // Each PAD has its conv as only reader: all folds apply together.
        let mut found = Vec::new();
        for (i, op) in sg.operators.iter().enumerate() {
            let (stride, dil, padding) = match &op.op {
                Op::Conv2d(o) => ((o.stride_h, o.stride_w), (o.dilation_h, o.dilation_w), o.padding),
                Op::DepthwiseConv2d(o) => ((o.stride_h, o.stride_w), (o.dilation_h, o.dilation_w), o.padding),
                _ => continue,
            };
            if padding != Padding::Valid {
                continue;
            }
            let (Some(y), Some(w)) = (op.input(0), op.input(1)) else { continue };
            let Some(p) = uses.producer[y.index()] else { continue };
            let pad = &sg.operators[p];
            if pad.op != Op::Pad || uses.consumers[y.index()].len() != 1 || uses.is_output[y.index()] {
                continue;
            }
            let (Some(x), Some(pt)) = (pad.input(0), pad.input(1)) else { continue };
            let Some(pads) = const_ints(sg, pt) else { continue };
            let xs = &sg.tensors[x.index()].shape;
            let ws = &sg.tensors[w.index()].shape;
            if xs.rank() != 4 || pads.len() != 8 || pads[0] != 0 || pads[1] != 0 || pads[6] != 0 || pads[7] != 0 {
                continue;
            }
            let mut ok = true;
            for (k, (s, d)) in [(stride.0, dil.0), (stride.1, dil.1)].iter().enumerate() {
                let (Some(n), Some(kk)) = (xs.dims()[1 + k].fixed(), ws.dims()[1 + k].fixed()) else {
                    ok = false;
                    break;
                };
                let same = crate::onnx::lower::same_pads(Dim::Fixed(n), i64::from(kk), i64::from(*s), i64::from(*d));
                if same != Some((pads[2 + 2 * k], pads[3 + 2 * k])) {
                    ok = false;
                }
            }
            if ok {
                found.push((i, x));
            }
        }
        if found.is_empty() {
            break;
        }
        for (i, x) in found {
            sg.operators[i].inputs[0] = Some(x);
            match &mut sg.operators[i].op {
                Op::Conv2d(o) => o.padding = Padding::Same,
                Op::DepthwiseConv2d(o) => o.padding = Padding::Same,
                _ => {}
            }
            folded += 1;
        }
        super::cleanup::remove_dead(sg);
    }
    folded
}

/// Folds `FULLY_CONNECTED (float, no bias, no activation) → ADD(constant)`
/// into one FULLY_CONNECTED with that bias, when the constant is a vector
/// over the output features (`[out]`, or with leading 1s) and the ADD is
/// the only reader. The ADD's activation moves to the FULLY_CONNECTED.
/// Returns the number folded.
pub fn fold_bias_adds(sg: &mut Subgraph) -> usize {
    let uses = Uses::of(sg);
    let mut found: Vec<(usize, usize, TensorId)> = Vec::new();
    for (i, op) in sg.operators.iter().enumerate() {
        let Op::Add(add) = &op.op else { continue };
        let (Some(a), Some(b)) = (op.input(0), op.input(1)) else { continue };
        let (y, c) = if sg.tensors[b.index()].is_constant() { (a, b) } else { (b, a) };
        let Some(p) = uses.producer[y.index()] else { continue };
        let fc = &sg.operators[p];
        let Op::FullyConnected(o) = &fc.op else { continue };
        let (yt, ct) = (&sg.tensors[y.index()], &sg.tensors[c.index()]);
        let out_shape = &sg.tensors[op.outputs[0].index()].shape;
        let features = yt.shape.dims().last().and_then(|d| d.fixed());
        let vector = features.is_some_and(|n| ct.shape.dims().last() == Some(&Dim::Fixed(n)) && ct.shape.dims().iter().rev().skip(1).all(|d| *d == Dim::Fixed(1)));
        let ok = o.activation == Activation::None
            && matches!(add.activation, Activation::None | Activation::Relu | Activation::ReluN1To1 | Activation::Relu6)
            && fc.inputs.get(2).is_none_or(|b| b.is_none())
            && fc.outputs.len() == 1
            && yt.dtype == DType::F32
            && ct.dtype == DType::F32
            && ct.quantization.is_none()
            && yt.quantization.is_none()
            && ct.is_constant()
            && vector
            && ct.shape.rank() <= yt.shape.rank()
            && *out_shape == yt.shape
            && uses.consumers[y.index()].len() == 1
            && !uses.is_output[y.index()]
            && !found.iter().any(|(_, q, _)| *q == p);
        if ok {
            found.push((i, p, c));
        }
    }
    let n = found.len();
    let mut remove = vec![false; sg.operators.len()];
    for (i, p, c) in found {
        let (features, data, name) = {
            let ct = &sg.tensors[c.index()];
            (ct.shape.dims().last().and_then(|d| d.fixed()).unwrap_or(0), ct.data.clone(), ct.name.clone())
        };
        let mut bias = Tensor::new(format!("{name}/bias"), DType::F32, Shape::new([features]));
        bias.data = data;
        sg.tensors.push(bias);
        let bias = TensorId(sg.tensors.len() as u32 - 1);
        let act = match &sg.operators[i].op {
            Op::Add(a) => a.activation,
            _ => Activation::None,
        };
        let z = sg.operators[i].outputs[0];
        let fc = &mut sg.operators[p];
        if fc.inputs.len() < 3 {
            fc.inputs.resize(3, None);
        }
        fc.inputs[2] = Some(bias);
        fc.outputs[0] = z;
        if let Op::FullyConnected(o) = &mut fc.op {
            o.activation = act;
        }
        remove[i] = true;
    }
    let mut k = 0;
    sg.operators.retain(|_| {
        k += 1;
        !remove[k - 1]
    });
    super::cleanup::compact(sg);
    n
}
