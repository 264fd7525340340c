//! Parameter and multiply-accumulate (MAC) counts of a model, per op and
//! in total.
//!
//! * **Parameters** are the elements of constant tensors (tensors with
//!   data in the file). An op's count is the elements of its constant
//!   inputs; the model total counts each constant tensor once, so weights
//!   shared by two ops are not counted twice.
//! * **MACs** are counted for the ops whose cost is a product of sums:
//!   `CONV_2D`, `DEPTHWISE_CONV_2D`, `FULLY_CONNECTED`, `BATCH_MATMUL`,
//!   `TRANSPOSE_CONV`, `CONV_3D` and `CONV_3D_TRANSPOSE`. Every other op
//!   counts 0 (elementwise work is not a MAC). A dynamic dimension counts
//!   as 1, so a model with dynamic shapes gets the count per unit of that
//!   dimension.
//!
//! ```
//! use tflite_forge::{DType, ModelBuilder, FullyConnectedOptions};
//! let mut b = ModelBuilder::new();
//! let mut g = b.subgraph("main");
//! let x = g.input("x", DType::F32, [2, 3]);
//! let w = g.constant_f32("w", [4, 3], &[0.0; 12]);
//! let bias = g.constant_f32("b", [4], &[0.0; 4]);
//! let y = g.fully_connected(x, w, Some(bias), FullyConnectedOptions::default()).unwrap();
//! g.output("y", y);
//! b.finish_subgraph(g).unwrap();
//! let model = b.finish().unwrap();
//!
//! let s = tflite_forge::stats::model_stats(&model);
//! assert_eq!(s.total_params, 16); // 12 weights + 4 biases
//! assert_eq!(s.total_macs, 2 * 4 * 3); // batch 2, 4 units, 3 inputs each
//! assert_eq!(s.ops[0].macs, 24);
//! ```

use crate::model::{Dim, Model, Op, Operator, Shape, Subgraph};

/// The counts of one operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpStats {
    /// Subgraph index.
    pub subgraph: usize,
    /// Operator index within the subgraph.
    pub index: usize,
    /// The op's name (`CONV_2D`, or the custom op's name).
    pub op: String,
    /// Elements of the op's constant inputs.
    pub params: u64,
    /// Multiply-accumulates of one run (0 for ops without MACs).
    pub macs: u64,
}

/// The counts of a model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ModelStats {
    /// One entry per operator, subgraph by subgraph, in execution order.
    pub ops: Vec<OpStats>,
    /// Elements of all constant tensors, each counted once.
    pub total_params: u64,
    /// Sum of the ops' MACs.
    pub total_macs: u64,
    /// Bytes of all constant tensors' data, each counted once.
    pub constant_bytes: u64,
}

/// Product of the dimensions, a dynamic one counting as 1; saturates.
fn elements(shape: &Shape) -> u64 {
    shape.dims().iter().fold(1u64, |a, d| a.saturating_mul(u64::from(d.fixed().unwrap_or(1))))
}

/// Dimension `i` (negative counts from the end), a dynamic one as 1.
fn dim(shape: &Shape, i: isize) -> u64 {
    let r = shape.rank() as isize;
    let i = if i < 0 { r + i } else { i };
    if i < 0 {
        return 1;
    }
    match shape.dim(i as usize) {
        Some(Dim::Fixed(n)) => u64::from(n),
        _ => 1,
    }
}

/// The multiply-accumulates of one run of `node` (see the module doc for
/// which ops count). Inputs or outputs missing from the subgraph give 0.
pub fn op_macs(sg: &Subgraph, node: &Operator) -> u64 {
    let shape = |i: Option<crate::model::TensorId>| i.and_then(|t| sg.tensors.get(t.index())).map(|t| &t.shape);
    let out = shape(node.outputs.first().copied());
    let input = |i: usize| shape(node.input(i));
    let product = |a: u64, b: &[u64]| b.iter().fold(a, |x, y| x.saturating_mul(*y));
    match (&node.op, out) {
        // Filter [O, KH, KW, I/groups].
        (Op::Conv2d(_), Some(o)) => match input(1) {
            Some(f) => product(elements(o), &[dim(f, 1), dim(f, 2), dim(f, 3)]),
            None => 0,
        },
        // Filter [1, KH, KW, O]: one product per output element and tap.
        (Op::DepthwiseConv2d(_), Some(o)) => match input(1) {
            Some(f) => product(elements(o), &[dim(f, 1), dim(f, 2)]),
            None => 0,
        },
        // Weights [units, in].
        (Op::FullyConnected(_), Some(o)) => match input(1) {
            Some(w) => product(elements(o), &[dim(w, -1)]),
            None => 0,
        },
        // The contracted size is the left operand's last dimension (its
        // second-to-last with adj_x).
        (Op::BatchMatMul(opts), Some(o)) => match input(0) {
            Some(x) => product(elements(o), &[dim(x, if opts.adj_x { -2 } else { -1 })]),
            None => 0,
        },
        // Inputs [output_shape, filter O×KH×KW×I, input]: every input
        // element meets every filter tap of every output channel.
        (Op::TransposeConv(_), Some(_)) => match (input(1), input(2)) {
            (Some(f), Some(x)) => product(elements(x), &[dim(f, 0), dim(f, 1), dim(f, 2)]),
            _ => 0,
        },
        // Filter [KD, KH, KW, I, O].
        (Op::Conv3d(_), Some(o)) => match input(1) {
            Some(f) => product(elements(o), &[dim(f, 0), dim(f, 1), dim(f, 2), dim(f, 3)]),
            None => 0,
        },
        // Inputs [output_shape, filter KD×KH×KW×O×I, input].
        (Op::Conv3dTranspose(_), Some(_)) => match (input(1), input(2)) {
            (Some(f), Some(x)) => product(elements(x), &[dim(f, 0), dim(f, 1), dim(f, 2), dim(f, 3)]),
            _ => 0,
        },
        _ => 0,
    }
}

/// Elements of the constant inputs of `node` (a tensor used twice counts
/// once).
pub fn op_params(sg: &Subgraph, node: &Operator) -> u64 {
    let mut seen = Vec::new();
    let mut n = 0u64;
    for t in node.inputs.iter().flatten() {
        if seen.contains(t) {
            continue;
        }
        seen.push(*t);
        if let Some(t) = sg.tensors.get(t.index()).filter(|t| t.is_constant()) {
            n = n.saturating_add(elements(&t.shape));
        }
    }
    n
}

/// Counts parameters and MACs of every op of every subgraph.
pub fn model_stats(model: &Model) -> ModelStats {
    let mut s = ModelStats::default();
    for (si, sg) in model.subgraphs.iter().enumerate() {
        for (i, node) in sg.operators.iter().enumerate() {
            let o = OpStats { subgraph: si, index: i, op: node.op.name().to_string(), params: op_params(sg, node), macs: op_macs(sg, node) };
            s.total_macs = s.total_macs.saturating_add(o.macs);
            s.ops.push(o);
        }
        for t in sg.tensors.iter().filter(|t| t.is_constant()) {
            s.total_params = s.total_params.saturating_add(elements(&t.shape));
            s.constant_bytes = s.constant_bytes.saturating_add(t.data.as_ref().map_or(0, |d| d.len() as u64));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Tensor, TensorId, DType, BatchMatMulOptions};

    /// A subgraph with one node over tensors of the given shapes (the
    /// first `consts` inputs after input 0 are constant).
    fn one(op: Op, inputs: &[(&[u32], bool)], out: &[u32]) -> (Subgraph, Operator) {
        let mut sg = Subgraph::default();
        let mut ids = Vec::new();
        for (i, (shape, constant)) in inputs.iter().enumerate() {
            let mut t = Tensor::new(format!("t{i}"), DType::F32, Shape::new(shape.iter().copied()));
            if *constant {
                let n: u32 = shape.iter().product();
                t = t.with_data(crate::model::ConstData::from_slice(&vec![0f32; n as usize]));
            }
            sg.tensors.push(t);
            ids.push(TensorId(i as u32));
        }
        sg.tensors.push(Tensor::new("out", DType::F32, Shape::new(out.iter().copied())));
        let node = Operator::new(op, &ids, &[TensorId(inputs.len() as u32)]);
        (sg, node)
    }

    #[test]
    fn conv_macs_and_params() {
        // 1x8x8x16 output, 3x3 filter over 4 input channels.
        let (sg, n) = one(Op::Conv2d(Default::default()), &[(&[1, 8, 8, 4], false), (&[16, 3, 3, 4], true), (&[16], true)], &[1, 8, 8, 16]);
        assert_eq!(op_macs(&sg, &n), 8 * 8 * 16 * 3 * 3 * 4);
        assert_eq!(op_params(&sg, &n), 16 * 9 * 4 + 16);
    }

    #[test]
    fn depthwise_fc_and_batch_matmul_macs() {
        let (sg, n) = one(Op::DepthwiseConv2d(Default::default()), &[(&[1, 8, 8, 4], false), (&[1, 3, 3, 4], true)], &[1, 8, 8, 4]);
        assert_eq!(op_macs(&sg, &n), 8 * 8 * 4 * 9);
        let (sg, n) = one(Op::FullyConnected(Default::default()), &[(&[5, 7], false), (&[3, 7], true)], &[5, 3]);
        assert_eq!(op_macs(&sg, &n), 5 * 3 * 7);
        let (sg, n) = one(Op::BatchMatMul(BatchMatMulOptions::default()), &[(&[2, 4, 6], false), (&[2, 6, 5], false)], &[2, 4, 5]);
        assert_eq!(op_macs(&sg, &n), 2 * 4 * 5 * 6);
        assert_eq!(op_params(&sg, &n), 0);
        let adj = BatchMatMulOptions { adj_x: true, ..Default::default() };
        let (sg, n) = one(Op::BatchMatMul(adj), &[(&[2, 6, 4], false), (&[2, 6, 5], false)], &[2, 4, 5]);
        assert_eq!(op_macs(&sg, &n), 2 * 4 * 5 * 6);
    }

    #[test]
    fn transpose_conv_and_conv3d_macs() {
        // Input 1x4x4x8, filter 2x3x3x8 (O, KH, KW, I): each input element
        // meets 2*3*3 taps.
        let (sg, n) = one(Op::TransposeConv(Default::default()), &[(&[4], true), (&[2, 3, 3, 8], true), (&[1, 4, 4, 8], false)], &[1, 8, 8, 2]);
        assert_eq!(op_macs(&sg, &n), 4 * 4 * 8 * 2 * 9);
        // Filter [KD, KH, KW, I, O] = [2, 3, 3, 4, 5], output 1x4x6x6x5.
        let (sg, n) = one(Op::Conv3d(Default::default()), &[(&[1, 5, 8, 8, 4], false), (&[2, 3, 3, 4, 5], true)], &[1, 4, 6, 6, 5]);
        assert_eq!(op_macs(&sg, &n), 4 * 6 * 6 * 5 * (2 * 3 * 3 * 4));
        assert_eq!(op_params(&sg, &n), 2 * 3 * 3 * 4 * 5);
    }

    #[test]
    fn other_ops_count_no_macs_and_shared_weights_count_once() {
        let (sg, n) = one(Op::Add(Default::default()), &[(&[1, 4], false), (&[1, 4], true)], &[1, 4]);
        assert_eq!(op_macs(&sg, &n), 0);
        assert_eq!(op_params(&sg, &n), 4);
        let mut model = Model::default();
        let mut sg2 = sg.clone();
        sg2.operators.push(n.clone());
        sg2.operators.push(n);
        model.subgraphs.push(sg2);
        let s = model_stats(&model);
        assert_eq!(s.ops.len(), 2);
        assert_eq!(s.ops.iter().map(|o| o.params).sum::<u64>(), 8);
        assert_eq!(s.total_params, 4);
        assert_eq!(s.constant_bytes, 16);
    }
}
