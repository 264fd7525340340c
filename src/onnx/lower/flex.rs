//! The select-TF (Flex) fallback, used only with
//! [`ConvertOptions::allow_flex`](crate::onnx::ConvertOptions::allow_flex):
//! an ONNX op that has no builtin lowering (or whose builtin lowering cannot
//! take this node) but whose TensorFlow op computes exactly the same thing
//! becomes that TensorFlow op, run by the Flex delegate. Apps then need the
//! Flex delegate (`tensorflow-lite-select-tf-ops`), so the conversion report
//! lists every Flex op.
//!
//! | ONNX | TensorFlow | constraints |
//! |---|---|---|
//! | BitwiseAnd, BitwiseOr, BitwiseXor | BitwiseAnd, BitwiseOr, BitwiseXor | integer types, broadcasting |
//! | CumProd | Cumprod | axis a constant or run-time scalar; `exclusive`, `reverse` |
//! | CumSum | Cumsum | as CumProd |
//! | Det | MatrixDeterminant | float32 or float64, `[..., M, M]` |
//! | Einsum | Einsum | float32 or float64, explicit output, no ellipsis |

use super::{LowerCtx, LowerError, Node};
use crate::model::{AttrValue, CustomOp, DType, NodeDef, Op, Operator, Shape, Tensor, TensorId};
use crate::onnx::error::ReasonCode;

/// One ONNX op the fallback covers.
pub(crate) struct FlexLowering {
    /// The ONNX op type (default domain).
    pub op_type: &'static str,
    /// The TensorFlow op.
    pub tf_op: &'static str,
    lower: fn(&mut LowerCtx<'_>, &Node<'_>, &'static str) -> Result<(), LowerError>,
}

/// The ops the fallback covers.
pub(crate) const FLEX: &[FlexLowering] = &[
    FlexLowering { op_type: "BitwiseAnd", tf_op: "BitwiseAnd", lower: bitwise },
    FlexLowering { op_type: "BitwiseOr", tf_op: "BitwiseOr", lower: bitwise },
    FlexLowering { op_type: "BitwiseXor", tf_op: "BitwiseXor", lower: bitwise },
    FlexLowering { op_type: "CumProd", tf_op: "Cumprod", lower: cumulative },
    FlexLowering { op_type: "CumSum", tf_op: "Cumsum", lower: cumulative },
    FlexLowering { op_type: "Det", tf_op: "MatrixDeterminant", lower: det },
    FlexLowering { op_type: "Einsum", tf_op: "Einsum", lower: einsum },
];

/// The fallback for `op_type`, if there is one.
pub(crate) fn flex_lowering(domain: &str, op_type: &str) -> Option<&'static FlexLowering> {
    if !domain.is_empty() {
        return None;
    }
    FLEX.iter().find(|f| f.op_type == op_type)
}

impl FlexLowering {
    /// Lowers `node` to the TensorFlow op.
    pub(crate) fn apply(&self, ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
        (self.lower)(ctx, node, self.tf_op)
    }
}

fn dtype_err(detail: String) -> LowerError {
    LowerError::new(ReasonCode::UnsupportedDtype, detail)
}

/// Adds the Flex op `tf_op` over `inputs` with one output of `dtype` and
/// `shape`, named after the node; records it for the report.
fn emit(ctx: &mut LowerCtx<'_>, node: &Node<'_>, nd: NodeDef, inputs: &[TensorId], dtype: DType, shape: Shape) -> Result<TensorId, LowerError> {
    let out = ctx.g.add_tensor(Tensor::new(format!("{}/flex", node.name()), dtype, shape));
    let op = Op::Custom(CustomOp::flex_node(&nd));
    ctx.g.add_operator(Operator::new(op, inputs, &[out]))?;
    ctx.flex_ops.push((node.name(), format!("Flex{}", nd.op)));
    Ok(out)
}

/// The broadcast shape of `a` and `b` (NumPy rules), dynamic where either is.
fn broadcast(a: &Shape, b: &Shape) -> Result<Shape, LowerError> {
    use crate::model::Dim;
    let r = a.rank().max(b.rank());
    let at = |s: &Shape, i: usize| if i + s.rank() >= r { s.dims()[i + s.rank() - r] } else { Dim::Fixed(1) };
    let mut dims = Vec::with_capacity(r);
    for i in 0..r {
        dims.push(match (at(a, i), at(b, i)) {
            (Dim::Fixed(1), d) | (d, Dim::Fixed(1)) => d,
            (Dim::Fixed(x), Dim::Fixed(y)) if x == y => Dim::Fixed(x),
            (Dim::Fixed(x), Dim::Fixed(y)) => return Err(LowerError::invalid(format!("shapes {a} and {b} do not broadcast ({x} vs {y})"))),
            _ => Dim::Dynamic,
        });
    }
    Ok(Shape::from_dims(dims))
}

fn bitwise(ctx: &mut LowerCtx<'_>, node: &Node<'_>, tf_op: &'static str) -> Result<(), LowerError> {
    let a = ctx.input(node, 0)?;
    let b = ctx.input(node, 1)?;
    let d = ctx.dtype(a);
    if d != ctx.dtype(b) || !matches!(d, DType::I8 | DType::I16 | DType::I32 | DType::I64 | DType::U8 | DType::U16 | DType::U32 | DType::U64) {
        return Err(dtype_err(format!("{tf_op} on {d} and {}", ctx.dtype(b))));
    }
    let shape = broadcast(ctx.shape(a), ctx.shape(b))?;
    let nd = NodeDef::new(node.name(), tf_op).input("x").input("y").attr("T", AttrValue::Type(d));
    let y = emit(ctx, node, nd, &[a, b], d, shape)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

fn cumulative(ctx: &mut LowerCtx<'_>, node: &Node<'_>, tf_op: &'static str) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let axis = ctx.input(node, 1)?;
    let d = ctx.dtype(x);
    if !matches!(d, DType::F32 | DType::F64 | DType::I32 | DType::I64) {
        return Err(dtype_err(format!("{tf_op} on {d}")));
    }
    let ad = ctx.dtype(axis);
    if !matches!(ad, DType::I32 | DType::I64) || ctx.shape(axis).num_elements() != Some(1) {
        return Err(LowerError::invalid("the axis must be one int32 or int64"));
    }
    let axis = if ctx.shape(axis).rank() != 0 { ctx.g.reshape(axis, &[])? } else { axis };
    let nd = NodeDef::new(node.name(), tf_op)
        .input("x")
        .input("axis")
        .attr("T", AttrValue::Type(d))
        .attr("Tidx", AttrValue::Type(ad))
        .attr("exclusive", AttrValue::Bool(node.int_or("exclusive", 0)? != 0))
        .attr("reverse", AttrValue::Bool(node.int_or("reverse", 0)? != 0));
    let shape = ctx.shape(x).clone();
    let y = emit(ctx, node, nd, &[x, axis], d, shape)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

fn det(ctx: &mut LowerCtx<'_>, node: &Node<'_>, tf_op: &'static str) -> Result<(), LowerError> {
    let x = ctx.input(node, 0)?;
    let d = ctx.dtype(x);
    if !matches!(d, DType::F32 | DType::F64) {
        return Err(dtype_err(format!("{tf_op} on {d}")));
    }
    let s = ctx.shape(x).clone();
    if s.rank() < 2 {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("Det of rank {}", s.rank())));
    }
    let shape = Shape::from_dims(s.dims()[..s.rank() - 2].to_vec());
    let nd = NodeDef::new(node.name(), tf_op).input("input").attr("T", AttrValue::Type(d));
    let y = emit(ctx, node, nd, &[x], d, shape)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

fn einsum(ctx: &mut LowerCtx<'_>, node: &Node<'_>, tf_op: &'static str) -> Result<(), LowerError> {
    let eq = node.attr_str("equation")?.ok_or_else(|| LowerError::invalid("equation is required"))?;
    let eq: String = eq.chars().filter(|c| !c.is_whitespace()).collect();
    let n = node.num_inputs();
    let mut xs = Vec::with_capacity(n);
    for i in 0..n {
        xs.push(ctx.input(node, i)?);
    }
    let d = xs.first().map(|x| ctx.dtype(*x)).unwrap_or(DType::F32);
    if !matches!(d, DType::F32 | DType::F64) || xs.iter().any(|x| ctx.dtype(*x) != d) {
        return Err(dtype_err("Einsum on types other than float32 or float64 (all alike)".into()));
    }
    // The output shape from the equation's explicit output labels.
    let (lhs, out) = eq.split_once("->").ok_or_else(|| LowerError::attr("an Einsum equation without an explicit output"))?;
    if eq.contains("...") {
        return Err(LowerError::attr("an Einsum equation with an ellipsis"));
    }
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != n {
        return Err(LowerError::invalid(format!("the equation has {} operands, the node {n}", terms.len())));
    }
    let mut size = std::collections::HashMap::new();
    for (t, x) in terms.iter().zip(&xs) {
        let s = ctx.shape(*x);
        if t.chars().count() != s.rank() {
            return Err(LowerError::invalid(format!("term {t:?} for an operand of rank {}", s.rank())));
        }
        for (c, d) in t.chars().zip(s.dims()) {
            size.insert(c, *d);
        }
    }
    let dims = out.chars().map(|c| size.get(&c).copied().ok_or_else(|| LowerError::invalid(format!("output label {c:?} is not an input label")))).collect::<Result<Vec<_>, _>>()?;
    let mut nd = NodeDef::new(node.name(), tf_op);
    for i in 0..n {
        nd = nd.input(format!("in{i}"));
    }
    let nd = nd.attr("equation", AttrValue::Str(eq.clone().into_bytes())).attr("N", AttrValue::Int(n as i64)).attr("T", AttrValue::Type(d));
    let y = emit(ctx, node, nd, &xs, d, Shape::from_dims(dims))?;
    ctx.set_output(node, 0, y);
    Ok(())
}
