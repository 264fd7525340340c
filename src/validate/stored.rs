//! Ops whose LiteRT kernels copy or test the stored integers of quantized
//! tensors without rescaling them. Their results mean what the float op
//! means only when the parameters line up, so the builder refuses a node
//! where they do not (a model read from a file is taken as it is).
//!
//! - `SELECT` and `SELECT_V2` copy `x` or `y` (select.cc): both and the
//!   output share parameters.
//! - `MAXIMUM` and `MINIMUM` compare and copy stored integers
//!   (maximum_minimum.cc): both inputs and the output share parameters.
//! - `SPARSE_TO_DENSE` copies its values and default (sparse_to_dense.cc),
//!   `ONE_HOT` its on and off values (one_hot.cc): those and the output
//!   share parameters.
//! - `SCATTER_ND` copies and sums the updates into an output it first
//!   fills with the integer 0 (reference_ops.h, `ScatterNd`): the updates
//!   and the output share parameters, with zero point 0.
//! - `WHERE` tests the stored integers against 0 (where.cc): a quantized
//!   condition has zero point 0, so a stored 0 is the value 0.
//! - `IF` and `WHILE` copy stored integers into and out of the subgraphs
//!   they call ([`check_crossings`]): a value and every tensor it lands in
//!   share parameters.

use crate::model::{DType, Operator, Subgraph, Tensor};
use crate::model::{Op, Quantization};

fn quantized_int(t: &Tensor) -> bool {
    matches!(t.dtype, DType::I8 | DType::U8 | DType::I16)
}

/// Whether two tensors' integers mean the same values: equal scales, zero
/// points and axis (recorded min / max ranges do not matter).
fn same_params(a: &Tensor, b: &Tensor) -> bool {
    match (&a.quantization, &b.quantization) {
        (None, None) => true,
        (Some(p), Some(q)) => p.scale == q.scale && p.zero_point == q.zero_point && (p.scale.len() <= 1 || p.axis == q.axis),
        _ => false,
    }
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
        Op::Maximum | Op::Minimum => (&[0, 1], false),
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
        if !same_params(first, t) {
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

/// The `(from, to)` tensor pairs a control-flow op copies values between:
/// IF's args into both branches' inputs and their outputs into its
/// outputs; WHILE's variables into the cond's and body's inputs, the
/// body's outputs back into its inputs, and the variables into its outputs.
fn crossings<'a>(subgraphs: &'a [Subgraph], sg: &'a Subgraph, node: &'a Operator) -> Vec<(&'a Tensor, &'a Tensor)> {
    let t = |g: &'a Subgraph, id: Option<crate::model::TensorId>| id.and_then(|id| g.tensor(id));
    let mut pairs = Vec::new();
    let mut add = |a: Option<&'a Tensor>, b: Option<&'a Tensor>| {
        if let (Some(a), Some(b)) = (a, b) {
            pairs.push((a, b));
        }
    };
    match node.op {
        Op::If { then_subgraph, else_subgraph } => {
            for c in [then_subgraph, else_subgraph].iter().filter_map(|i| subgraphs.get(*i as usize)) {
                for (x, y) in node.inputs.iter().skip(1).zip(&c.inputs) {
                    add(t(sg, *x), t(c, Some(*y)));
                }
                for (x, y) in c.outputs.iter().zip(&node.outputs) {
                    add(t(c, Some(*x)), t(sg, Some(*y)));
                }
            }
        }
        Op::While { cond_subgraph, body_subgraph } => {
            let cond = subgraphs.get(cond_subgraph as usize);
            let body = subgraphs.get(body_subgraph as usize);
            for (k, (x, y)) in node.inputs.iter().zip(&node.outputs).enumerate() {
                add(t(sg, *x), t(sg, Some(*y)));
                if let Some(c) = cond {
                    add(t(sg, *x), c.inputs.get(k).and_then(|i| c.tensor(*i)));
                }
                if let Some(b) = body {
                    add(t(sg, *x), b.inputs.get(k).and_then(|i| b.tensor(*i)));
                    add(b.outputs.get(k).and_then(|o| b.tensor(*o)), b.inputs.get(k).and_then(|i| b.tensor(*i)));
                }
            }
        }
        _ => {}
    }
    pairs
}

/// Checks that `IF` and `WHILE` copy quantized values only between
/// tensors of the same parameters.
pub(crate) fn check_crossings(subgraphs: &[Subgraph], sg: &Subgraph, node: &Operator) -> Result<(), String> {
    for (a, b) in crossings(subgraphs, sg, node) {
        if (quantized_int(a) || quantized_int(b)) && !same_params(a, b) {
            return Err(format!(
                "copies {:?} ({}) into {:?} ({}): the runtime copies stored integers, so both need the same quantization",
                a.name,
                params(a.quantization.as_ref()),
                b.name,
                params(b.quantization.as_ref())
            ));
        }
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
    fn maximum_and_minimum_copy_stored_integers() {
        let b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let x = g.input("x", DType::I8, [4]);
        let y = g.input("y", DType::I8, [4]);
        g.set_quantization(x, q(0.05, -3));
        g.set_quantization(y, q(0.05, -3));
        assert!(g.maximum(x, y).is_ok());
        let e = g.apply_with(Op::Minimum, &[Some(x), Some(y)], None, Some(q(0.3, 0))).unwrap_err();
        assert!(is_op_error(&e, "MINIMUM", "same quantization"), "{e}");
        g.set_quantization(y, q(0.1, -3));
        let e = g.maximum(x, y).unwrap_err();
        assert!(is_op_error(&e, "MAXIMUM", "same quantization"), "{e}");
    }

    /// A branch or body of `x + x` whose output has `out` parameters.
    fn doubling(b: &mut ModelBuilder, name: &str, out: Quantization) -> u32 {
        let mut g = b.subgraph(name);
        let x = g.input("x", DType::I8, [2]);
        g.set_quantization(x, q(0.05, 0));
        let y = g.add(x, x).unwrap();
        g.set_quantization(y, out);
        g.output("y", y);
        b.finish_subgraph(g).unwrap()
    }

    #[test]
    fn control_flow_copies_values_between_tensors_of_the_same_parameters() {
        // IF: the else branch's output has other parameters than the
        // then branch's, which the IF output takes.
        let mut b = ModelBuilder::new();
        let mut main = b.reserve_subgraph("main");
        let then = doubling(&mut b, "then", q(0.1, 0));
        let otherwise = doubling(&mut b, "else", q(0.2, 0));
        let same = doubling(&mut b, "same", q(0.1, 0));
        let x = main.input("x", DType::I8, [2]);
        main.set_quantization(x, q(0.05, 0));
        let c = main.constant("c", DType::Bool, Shape::scalar(), ConstData::from_slice(&[1u8]));
        let e = main.if_then_else(&b, c, then, otherwise, &[x]).unwrap_err();
        assert!(is_op_error(&e, "IF", "same quantization"), "{e}");
        assert!(main.if_then_else(&b, c, then, same, &[x]).is_ok());
        // An argument of other parameters than the branches' inputs.
        let z = main.input("z", DType::I8, [2]);
        main.set_quantization(z, q(0.5, 0));
        let e = main.if_then_else(&b, c, then, same, &[z]).unwrap_err();
        assert!(is_op_error(&e, "IF", "same quantization"), "{e}");

        // WHILE: the body's next value has other parameters than its
        // variable.
        let mut b = ModelBuilder::new();
        let mut main = b.reserve_subgraph("main");
        let mut cond = b.subgraph("cond");
        let v = cond.input("x", DType::I8, [2]);
        cond.set_quantization(v, q(0.05, 0));
        let m = cond.reduce_max(v, &[0], false).unwrap();
        let zero = cond.constant("zero", DType::I8, Shape::scalar(), ConstData::from_slice(&[0i8]));
        cond.set_quantization(zero, q(0.05, 0));
        let go = cond.apply(Op::Less, &[Some(m), Some(zero)]).unwrap();
        cond.output("go", go);
        let cond = b.finish_subgraph(cond).unwrap();
        let bad_body = doubling(&mut b, "bad_body", q(0.1, 0));
        let body = doubling(&mut b, "body", q(0.05, 0));
        let x = main.input("x", DType::I8, [2]);
        main.set_quantization(x, q(0.05, 0));
        let e = main.while_loop(&b, cond, bad_body, &[x]).unwrap_err();
        assert!(is_op_error(&e, "WHILE", "same quantization"), "{e}");
        assert!(main.while_loop(&b, cond, body, &[x]).is_ok());
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
