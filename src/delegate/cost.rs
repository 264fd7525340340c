//! Per-operator cost: multiply-accumulates and parameters.

use crate::model::{Op, Operator, Subgraph, Tensor};

fn dims(t: Option<&Tensor>) -> Vec<u64> {
    t.map(|t| t.shape.dims().iter().map(|d| u64::from(d.fixed().unwrap_or(1))).collect()).unwrap_or_default()
}

fn elems(d: &[u64]) -> u64 {
    d.iter().fold(1u64, |a, b| a.saturating_mul(*b))
}

/// Multiply-accumulates one invocation of `node` performs: for
/// `CONV_2D`, `DEPTHWISE_CONV_2D`, `FULLY_CONNECTED`, `BATCH_MATMUL`,
/// `TRANSPOSE_CONV` and `CONV_3D` (0 for every other op). Dynamic
/// dimensions count as 1.
///
/// ```
/// use tflite_forge::{delegate, DType, FullyConnectedOptions, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [2, 3]);
/// let w = g.constant_f32("w", [4, 3], &[0.0; 12]);
/// let y = g.fully_connected(x, w, None, FullyConnectedOptions::default()).unwrap();
/// g.output("y", y);
/// b.finish_subgraph(g).unwrap();
/// let m = b.finish().unwrap();
/// let sg = &m.subgraphs[0];
/// assert_eq!(delegate::macs(sg, &sg.operators[0]), 2 * 4 * 3);
/// assert_eq!(delegate::params(sg, &sg.operators[0]), 12);
/// ```
pub fn macs(sg: &Subgraph, node: &Operator) -> u64 {
    let input = |i: usize| dims(node.input(i).and_then(|t| sg.tensor(t)));
    let out = dims(node.outputs.first().and_then(|t| sg.tensor(*t)));
    let at = |d: &[u64], i: usize| d.get(i).copied().unwrap_or(1);
    match &node.op {
        // filter [OC, KH, KW, IC]
        Op::Conv2d(_) => {
            let f = input(1);
            elems(&out).saturating_mul(elems(&f[1.min(f.len())..]))
        }
        // filter [1, KH, KW, OC]
        Op::DepthwiseConv2d(_) => {
            let f = input(1);
            elems(&out).saturating_mul(at(&f, 1)).saturating_mul(at(&f, 2))
        }
        // weights [OC, IC]
        Op::FullyConnected(_) => elems(&out).saturating_mul(at(&input(1), 1)),
        Op::BatchMatMul(o) => {
            let a = input(0);
            let k = if o.adj_x { a.len().checked_sub(2) } else { a.len().checked_sub(1) };
            elems(&out).saturating_mul(k.map_or(1, |k| at(&a, k)))
        }
        // [output_shape, filter OHWI, input NHWC]
        Op::TransposeConv(_) => {
            let f = input(1);
            elems(&input(2)).saturating_mul(at(&f, 0)).saturating_mul(at(&f, 1)).saturating_mul(at(&f, 2))
        }
        // filter [KD, KH, KW, IC, OC]
        Op::Conv3d(_) => {
            let f = input(1);
            elems(&out).saturating_mul(elems(&f[..f.len().saturating_sub(1)]))
        }
        _ => 0,
    }
}

/// Parameters of `node`: the elements of its constant inputs that hold
/// weights (float, or quantized integers such as int8 weights and int32
/// biases); integer constants without quantization (shapes, axes,
/// paddings) do not count.
pub fn params(sg: &Subgraph, node: &Operator) -> u64 {
    node.inputs
        .iter()
        .flatten()
        .filter_map(|t| sg.tensor(*t))
        .filter(|t| t.is_constant() && (t.dtype.is_float() || t.quantization.as_ref().is_some_and(|q| !q.scale.is_empty())))
        .map(|t| elems(&dims(Some(t))))
        .sum()
}
