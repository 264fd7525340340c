//! Op versions and the model's minimum runtime version.
//!
//! The rules follow TFLite's op versioning (`GetBuiltinOperatorVersion`):
//! the version of an op code is chosen from its tensor types, options and
//! quantization, and each (op, version) pair has a minimum runtime. A version
//! that is too high makes delegates and older runtimes reject the op, so the
//! writer always uses the lowest version that describes the op.
//!
//! Each op family has its version rules and runtime table in one module:
//!
//! - `version/conv.rs`: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
//!   FULLY_CONNECTED, BATCH_MATMUL, AVERAGE_POOL_2D, MAX_POOL_2D, L2_POOL_2D;
//! - `version/elementwise.rs`: binary arithmetic, activations, unary math,
//!   comparisons, logic and SELECT_V2;
//! - `version/layout.rs`: RESHAPE, TRANSPOSE, SQUEEZE, CONCATENATION, the
//!   pads, SPLIT_V, the slices, GATHER, BROADCAST_TO, the resizes and CAST;
//! - `version/reduce.rs`: the reductions, ARG_MAX, ARG_MIN and the softmaxes;
//! - `version/quant.rs`: QUANTIZE and DEQUANTIZE;
//! - `version/control.rs`: IF, WHILE and CALL_ONCE;
//! - `version/generated.rs`: the ops generated from `schema/ops.spec`.

mod control;
mod conv;
mod elementwise;
mod generated;
mod layout;
mod quant;
mod reduce;

use crate::model::{DType, Op, Operator, Subgraph, Tensor};

fn tensor<'a>(sg: &'a Subgraph, op: &Operator, i: usize) -> Option<&'a Tensor> {
    op.input(i).and_then(|t| sg.tensor(t))
}

fn in_type(sg: &Subgraph, op: &Operator, i: usize) -> Option<DType> {
    tensor(sg, op, i).map(|t| t.dtype)
}

fn out_type(sg: &Subgraph, op: &Operator, i: usize) -> Option<DType> {
    op.outputs.get(i).and_then(|t| sg.tensor(*t)).map(|t| t.dtype)
}

/// Whether a tensor type is known and is `t`.
fn is(a: Option<DType>, t: DType) -> bool {
    a == Some(t)
}

fn dim0(t: &Tensor, i: usize) -> Option<u64> {
    t.shape.dim(i).map(|d| u64::from(d.fixed().unwrap_or(1)))
}

/// The version of one operator, given its subgraph. Custom and opaque
/// builtin ops keep the version they carry.
pub fn op_version(sg: &Subgraph, node: &Operator) -> i32 {
    match &node.op {
        Op::Custom(c) => c.version,
        Op::Builtin(o) => o.version,
        _ => conv::version(sg, node)
            .or_else(|| elementwise::version(sg, node))
            .or_else(|| layout::version(sg, node))
            .or_else(|| reduce::version(sg, node))
            .or_else(|| quant::version(sg, node))
            .or_else(|| control::version(sg, node))
            // The generated ops' rules are in version/generated.rs.
            .or_else(|| generated::version(sg, node))
            .unwrap_or(1),
    }
}

/// The lowest runtime that has this version of this builtin op, if known.
pub fn min_runtime_for(code: i32, version: i32) -> Option<&'static str> {
    let table = conv::min_runtime_table(code)
        .or_else(|| elementwise::min_runtime_table(code))
        .or_else(|| layout::min_runtime_table(code))
        .or_else(|| reduce::min_runtime_table(code))
        .or_else(|| quant::min_runtime_table(code))
        .or_else(|| control::min_runtime_table(code))
        .or_else(|| generated::min_runtime_table(code))?;
    usize::try_from(version).ok().and_then(|v| v.checked_sub(1)).and_then(|i| table.get(i)).copied()
}

/// Compares dotted version strings numerically (`"1.14.0" < "2.3.0"`).
pub fn compare_runtime(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |s: &str| s.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parse(a).cmp(&parse(b))
}

/// The lowest runtime version that runs every op in the model, as written
/// to the `min_runtime_version` metadata. Ops without a known entry are
/// skipped; a model without any gives `None`.
pub fn min_runtime_version(model: &crate::Model) -> Option<&'static str> {
    let mut best: Option<&'static str> = None;
    for sg in &model.subgraphs {
        for node in &sg.operators {
            let v = op_version(sg, node);
            if let Some(r) = min_runtime_for(node.op.builtin_code(), v)
                && best.is_none_or(|b| compare_runtime(b, r).is_lt()) {
                    best = Some(r);
                }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_table_lookup() {
        assert_eq!(min_runtime_for(3, 1), Some("1.5.0"));
        assert_eq!(min_runtime_for(3, 3), Some("1.14.0"));
        assert_eq!(min_runtime_for(3, 0), None);
        assert_eq!(min_runtime_for(3, 99), None);
        assert!(compare_runtime("1.14.0", "2.3.0").is_lt());
        assert!(compare_runtime("1.9.0", "1.14.0").is_lt());
    }

    use crate::model::{
        AddSubOptions, BatchMatMulOptions, Conv2dOptions, DepthwiseConv2dOptions, FullyConnectedOptions, Quantization, Shape, TensorId,
    };

    /// One op reading tensors of the given (type, shape, scale count, axis)
    /// and writing one of the given type.
    fn version_of(op: Op, inputs: &[(DType, &[u32], usize, i32)], out: DType) -> i32 {
        let mut sg = Subgraph::default();
        for (i, (dtype, shape, scales, axis)) in inputs.iter().enumerate() {
            let mut t = Tensor::new(format!("t{i}"), *dtype, Shape::new(shape.iter().copied()));
            if *scales > 0 {
                t.quantization = Some(Quantization::per_axis(vec![0.5; *scales], vec![0; *scales], *axis));
            }
            sg.tensors.push(t);
        }
        sg.tensors.push(Tensor::new("out", out, Shape::new([1])));
        let ids: Vec<TensorId> = (0..inputs.len() as u32).map(TensorId).collect();
        let node = Operator::new(op, &ids, &[TensorId(inputs.len() as u32)]);
        op_version(&sg, &node)
    }

    #[test]
    fn hybrid_versions() {
        use DType::*;
        let conv = || Op::Conv2d(Conv2dOptions::default());
        let x: &[u32] = &[1, 8, 8, 4];
        // CONV_2D: hybrid per channel 5, per tensor 2.
        assert_eq!(version_of(conv(), &[(F32, x, 0, 0), (I8, &[6, 3, 3, 4], 6, 0), (F32, &[6], 0, 0)], F32), 5);
        assert_eq!(version_of(conv(), &[(F32, x, 0, 0), (I8, &[6, 3, 3, 4], 1, 0), (F32, &[6], 0, 0)], F32), 2);
        // DEPTHWISE_CONV_2D: per channel (axis 3) 6, per tensor 4.
        let dw = || Op::DepthwiseConv2d(DepthwiseConv2dOptions::default());
        assert_eq!(version_of(dw(), &[(F32, x, 0, 0), (I8, &[1, 3, 3, 4], 4, 3), (F32, &[4], 0, 0)], F32), 6);
        assert_eq!(version_of(dw(), &[(F32, x, 0, 0), (I8, &[1, 3, 3, 4], 1, 0), (F32, &[4], 0, 0)], F32), 4);
        // FULLY_CONNECTED: per channel 12; per tensor 9 with asymmetric
        // inputs, else 3 (one unit with one scale is per tensor).
        let asym = FullyConnectedOptions { asymmetric_quantize_inputs: true, ..Default::default() };
        let fc = |o| Op::FullyConnected(o);
        let b: (DType, &[u32], usize, i32) = (F32, &[5], 0, 0);
        assert_eq!(version_of(fc(asym), &[(F32, &[1, 8], 0, 0), (I8, &[5, 8], 5, 0), b], F32), 12);
        assert_eq!(version_of(fc(asym), &[(F32, &[1, 8], 0, 0), (I8, &[5, 8], 1, 0), b], F32), 9);
        assert_eq!(version_of(fc(asym), &[(F32, &[1, 8], 0, 0), (I8, &[1, 8], 1, 0), (F32, &[1], 0, 0)], F32), 9);
        assert_eq!(version_of(fc(FullyConnectedOptions::default()), &[(F32, &[1, 8], 0, 0), (I8, &[5, 8], 1, 0), b], F32), 3);
        // BATCH_MATMUL: hybrid with asymmetric inputs 4, without 1.
        let mut bmm = BatchMatMulOptions::default();
        assert_eq!(version_of(Op::BatchMatMul(bmm), &[(F32, &[2, 8], 0, 0), (I8, &[8, 4], 1, 0)], F32), 1);
        bmm.asymmetric_quantize_inputs = true;
        assert_eq!(version_of(Op::BatchMatMul(bmm), &[(F32, &[2, 8], 0, 0), (I8, &[8, 4], 1, 0)], F32), 4);
        assert_eq!(min_runtime_for(crate::schema::tflite::BuiltinOperator::FULLY_CONNECTED.0, 12), Some("2.17.0"));
    }

    #[test]
    fn int16x8_versions() {
        use DType::*;
        let x: &[u32] = &[1, 8, 8, 4];
        // CONV_2D and FULLY_CONNECTED always write their options, whose
        // quantized_bias_type counts (8 and 11); TFLite's depthwise int16
        // rule never matches (it compares the weights with int16), so 1.
        let conv = Op::Conv2d(Conv2dOptions::default());
        assert_eq!(version_of(conv, &[(I16, x, 1, 0), (I8, &[6, 3, 3, 4], 6, 0), (I64, &[6], 6, 0)], I16), 8);
        let fc = Op::FullyConnected(FullyConnectedOptions::default());
        assert_eq!(version_of(fc, &[(I16, &[1, 8], 1, 0), (I8, &[5, 8], 5, 0), (I64, &[5], 5, 0)], I16), 11);
        let dw = Op::DepthwiseConv2d(DepthwiseConv2dOptions::default());
        assert_eq!(version_of(dw, &[(I16, x, 1, 0), (I8, &[1, 3, 3, 4], 4, 3), (I64, &[4], 4, 0)], I16), 1);
        // ADD with general int16 scales 3 (power-of-two scales 1).
        let mut add = AddSubOptions::default();
        assert_eq!(version_of(Op::Add(add), &[(I16, x, 1, 0), (I16, x, 1, 0)], I16), 1);
        add.pot_scale_int16 = false;
        assert_eq!(version_of(Op::Add(add), &[(I16, x, 1, 0), (I16, x, 1, 0)], I16), 3);
        assert_eq!(version_of(Op::Sub(add), &[(I16, x, 1, 0), (I16, x, 1, 0)], I16), 5);
        assert_eq!(version_of(Op::Softmax { beta: 1.0 }, &[(I16, &[1, 4], 1, 0)], I16), 3);
        assert_eq!(version_of(Op::Logistic, &[(I16, &[1, 4], 1, 0)], I16), 3);
        assert_eq!(version_of(Op::Quantize, &[(F32, &[1, 4], 0, 0)], I16), 2);
        assert_eq!(version_of(Op::Dequantize, &[(I16, &[1, 4], 1, 0)], F32), 3);
    }

    #[test]
    fn comparison_logic_and_broadcast_versions() {
        use DType::*;
        let x: &[u32] = &[2, 3];
        let v = |op: Op, t: DType| version_of(op, &[(t, x, 0, 0), (t, x, 0, 0)], Bool);
        assert_eq!(v(Op::Equal, F32), 1);
        assert_eq!(v(Op::Equal, I8), 2);
        assert_eq!(v(Op::Equal, String), 3);
        assert_eq!(v(Op::Equal, I16), 4);
        assert_eq!(v(Op::NotEqual, Bool), 1);
        assert_eq!(v(Op::Less, I16), 3);
        assert_eq!(v(Op::Greater, I8), 2);
        assert_eq!(v(Op::Greater, I16), 1);
        assert_eq!(v(Op::LogicalAnd, Bool), 1);
        assert_eq!(version_of(Op::ArgMax { output_type: I64 }, &[(Bool, x, 0, 0), (I32, &[1], 0, 0)], I64), 3);
        assert_eq!(version_of(Op::ReduceProd { keep_dims: false }, &[(I16, x, 1, 0), (I32, &[1], 0, 0)], I16), 2);
        // BROADCAST_TO starts at version 2 (version 1 was withdrawn).
        assert_eq!(version_of(Op::BroadcastTo, &[(F32, x, 0, 0), (I32, &[2], 0, 0)], F32), 2);
        assert_eq!(version_of(Op::BroadcastTo, &[(I8, x, 1, 0), (I32, &[2], 0, 0)], I8), 3);
        assert_eq!(min_runtime_for(crate::schema::tflite::BuiltinOperator::BROADCAST_TO.0, 2), Some("2.5.0"));
        assert_eq!(min_runtime_for(crate::schema::tflite::BuiltinOperator::SELECT_V2.0, 1), Some("2.2.0"));
    }
}
