//! Ops whose LiteRT kernels copy or test the stored integers of quantized
//! tensors without rescaling them. Their results mean what the float op
//! means only when the parameters line up, so the builder refuses a node
//! where they do not (a model read from a file is taken as it is).
//!
//! - `SELECT` and `SELECT_V2` copy `x` or `y` (select.cc): both and the
//!   output share parameters.
//! - `SPARSE_TO_DENSE` copies its values and default (sparse_to_dense.cc),
//!   `ONE_HOT` its on and off values (one_hot.cc): those and the output
//!   share parameters.
//! - `SCATTER_ND` copies and sums the updates into an output it first
//!   fills with the integer 0 (reference_ops.h, `ScatterNd`): the updates
//!   and the output share parameters, with zero point 0.
//! - `WHERE` tests the stored integers against 0 (where.cc): a quantized
//!   condition has zero point 0, so a stored 0 is the value 0.

use crate::model::{DType, Operator, Subgraph, Tensor};
use crate::model::{Op, Quantization};

fn quantized_int(t: &Tensor) -> bool {
    matches!(t.dtype, DType::I8 | DType::U8 | DType::I16)
}

fn params(q: Option<&Quantization>) -> String {
    match q {
        None => "none".into(),
        Some(q) => format!("scale {:?}, zero point {:?}", q.scale, q.zero_point),
    }
}

/// Checks a node of `sg` against the rules above.
pub(super) fn check(sg: &Subgraph, node: &Operator) -> Result<(), String> {
    let input = |k: usize| node.inputs.get(k).copied().flatten().and_then(|t| sg.tensor(t));
    let output = node.outputs.first().and_then(|t| sg.tensor(*t));
    let (shared, zero_point_0): (&[usize], bool) = match node.op {
        Op::Select | Op::SelectV2 => (&[1, 2], false),
        Op::SparseToDense(_) | Op::OneHot(_) => (&[2, 3], false),
        Op::ScatterNd => (&[1], true),
        Op::Where => {
            if let Some(x) = input(0).filter(|t| quantized_int(t))
                && let Some(zp) = x.quantization.as_ref().and_then(|q| q.zero_point.iter().find(|z| **z != 0))
            {
                return Err(format!(
                    "the condition {:?} is {} with zero point {zp}: WHERE tests the stored integers against 0, \
                     so a quantized condition needs zero point 0",
                    x.name, x.dtype
                ));
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    let tensors: Vec<&Tensor> = shared.iter().filter_map(|k| input(*k)).chain(output).filter(|t| quantized_int(t)).collect();
    let Some(first) = tensors.first() else { return Ok(()) };
    for t in &tensors[1..] {
        if t.quantization != first.quantization {
            return Err(format!(
                "{:?} ({}) and {:?} ({}) must have the same quantization: the kernel copies stored integers",
                first.name,
                params(first.quantization.as_ref()),
                t.name,
                params(t.quantization.as_ref())
            ));
        }
    }
    if zero_point_0
        && let Some(zp) = first.quantization.as_ref().and_then(|q| q.zero_point.iter().find(|z| **z != 0))
    {
        return Err(format!(
            "the updates {:?} have zero point {zp}: SCATTER_ND fills the output with the integer 0 and sums \
             stored integers, so quantized updates need zero point 0",
            first.name
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::error::ValidationError;
    use crate::model::{DType, Op, OneHotOptions, Quantization, Shape};
    use crate::{ConstData, ModelBuilder};

    fn q(scale: f32, zp: i64) -> Quantization {
        Quantization::per_tensor(scale, zp)
    }

    fn is_op_error(e: &ValidationError, op: &str, words: &str) -> bool {
        matches!(e, ValidationError::Op { op: o, detail, .. } if o == op && detail.contains(words))
    }

    #[test]
    fn outputs_follow_the_data_operand() {
        let b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let c = g.input("c", DType::Bool, [2, 3]);
        let x = g.input("x", DType::I8, [2, 3]);
        let y = g.input("y", DType::I8, [2, 3]);
        g.set_quantization(x, q(0.05, -3));
        g.set_quantization(y, q(0.05, -3));
        for op in [Op::Select, Op::SelectV2] {
            let s = g.apply(op, &[Some(c), Some(x), Some(y)]).unwrap();
            assert_eq!(g.tensor(s).dtype, DType::I8);
            assert_eq!(g.tensor(s).quantization, Some(q(0.05, -3)));
        }
        let i = g.constant_i32("i", [3, 1], &[3, 0, 2]);
        let shape = g.constant_i32("shape", [2], &[5, 3]);
        let u = g.input("u", DType::I16, [3, 3]);
        g.set_quantization(u, q(0.001, 0));
        let s = g.scatter_nd(&[Some(i), Some(u), Some(shape)]).unwrap();
        assert_eq!(g.tensor(s).quantization, Some(q(0.001, 0)));
        let ids = g.input("ids", DType::I32, [4]);
        let depth = g.constant_i32("depth", Shape::scalar(), &[3]);
        let on = g.constant("on", DType::I8, Shape::scalar(), ConstData::from_slice(&[100i8]));
        let off = g.constant("off", DType::I8, Shape::scalar(), ConstData::from_slice(&[-100i8]));
        g.set_quantization(on, q(0.02, 1));
        g.set_quantization(off, q(0.02, 1));
        let h = g.one_hot(&[Some(ids), Some(depth), Some(on), Some(off)], OneHotOptions::default()).unwrap();
        assert_eq!(g.tensor(h).quantization, Some(q(0.02, 1)));
        let axis = g.constant_i32("axis", Shape::scalar(), &[1]);
        let mut so = crate::model::SplitOptions::default();
        so.num_splits = 3;
        let parts = g.apply_multi(Op::Split(so), &[Some(axis), Some(x)]).unwrap();
        assert!(parts.iter().all(|p| g.tensor(*p).quantization == Some(q(0.05, -3))));
    }

    #[test]
    fn copies_of_stored_integers_need_shared_parameters() {
        let b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let c = g.input("c", DType::Bool, [2, 3]);
        let x = g.input("x", DType::I8, [2, 3]);
        let y = g.input("y", DType::I8, [2, 3]);
        g.set_quantization(x, q(0.05, -3));
        g.set_quantization(y, q(0.1, -3));
        let e = g.apply(Op::SelectV2, &[Some(c), Some(x), Some(y)]).unwrap_err();
        assert!(is_op_error(&e, "SELECT_V2", "same quantization"), "{e}");
        // An explicit output with other parameters than x and y.
        g.set_quantization(y, q(0.05, -3));
        let e = g.apply_with(Op::Select, &[Some(c), Some(x), Some(y)], None, Some(q(0.2, 0))).unwrap_err();
        assert!(is_op_error(&e, "SELECT", "same quantization"), "{e}");
        assert!(g.apply(Op::Select, &[Some(c), Some(x), Some(y)]).is_ok());
        // SCATTER_ND fills with the integer 0: the updates need zero point 0.
        let i = g.constant_i32("i", [2, 1], &[1, 0]);
        let shape = g.constant_i32("shape", [2], &[3, 3]);
        let e = g.scatter_nd(&[Some(i), Some(x), Some(shape)]).unwrap_err();
        assert!(is_op_error(&e, "SCATTER_ND", "zero point -3"), "{e}");
    }

    #[test]
    fn where_refuses_a_quantized_condition_off_zero() {
        for (zp, ok) in [(3i64, false), (0, true)] {
            let b = ModelBuilder::new();
            let mut g = b.subgraph("main");
            let x = g.input("x", DType::I8, [2, 3]);
            g.set_quantization(x, q(0.05, zp));
            let r = g.where_true(x);
            assert_eq!(r.is_ok(), ok, "zero point {zp}: {r:?}");
            if let Err(e) = r {
                assert!(is_op_error(&e, "WHERE", "zero point 3"), "{e}");
            }
        }
        // Plain int8 is tested as stored.
        let b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let x = g.input("x", DType::I8, [4]);
        assert!(g.where_true(x).is_ok());
    }
}
