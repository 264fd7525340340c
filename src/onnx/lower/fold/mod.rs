//! Constant folding of ONNX nodes whose inputs are constants or shape
//! vectors: the Shape → Gather → Unsqueeze → Concat → Reshape chains of torch
//! exports, weight transposes, and small arithmetic.
//!
//! [`FOLDS`] is the one table of what folds: per ONNX op, a fold on shape
//! vectors ([`shape`]: 1-D int64 vectors whose entries may be symbolic, such
//! as a dynamic batch; see [`super::symbolic`]) and/or a fold on dense
//! constants ([`dense`], over the data kernels of [`data`]). The shape fold
//! is tried first; when it does not apply (returns `None`), the dense one.
//! Integer constants fold in exact integer arithmetic, floats in `f64`.

mod data;
mod dense;
mod shape;

pub(crate) use data::{transpose_data, transpose_data_into};

use super::{LowerCtx, LowerError, Node, Val};
use crate::model::DType;
use crate::onnx::error::ReasonCode;
use crate::onnx::import::onnx_dtype;
use crate::onnx::ir::TensorData;
use super::symbolic::SDim;
use data::{Arith, Cmp, Unary};

/// A fold on shape vectors: the resulting vector and whether it is a
/// scalar, or `None` when the inputs are not shape vectors it handles.
type ShapeFold = fn(&mut LowerCtx<'_>, &Node<'_>, &[In]) -> Result<Option<(Vec<SDim>, bool)>, LowerError>;

/// A fold on constant data: the result, or `None` to leave the node to
/// its lowering.
type DenseFold = fn(&Node<'_>, &[In]) -> Result<Option<TensorData>, LowerError>;

/// One entry of [`FOLDS`].
pub(crate) struct Fold {
    /// The ONNX op type (default domain).
    pub op: &'static str,
    /// Whether the op folds whatever its inputs are (Shape reads only a
    /// tensor's static shape; Constant has no inputs). Its result is then
    /// not held to the fold limit. Other ops fold only when every present
    /// input is a constant or a shape vector.
    any_inputs: bool,
    shape: Option<ShapeFold>,
    /// A fold to a constant that symbolic inputs may still decide
    /// (`Equal` of a size and -1).
    decide: Option<fn(&[In]) -> Result<Option<TensorData>, LowerError>>,
    dense: Option<DenseFold>,
}

impl Fold {
    const fn new(op: &'static str) -> Fold {
        Fold { op, any_inputs: false, shape: None, decide: None, dense: None }
    }
    const fn any_inputs(mut self) -> Fold {
        self.any_inputs = true;
        self
    }
    const fn shape(mut self, f: ShapeFold) -> Fold {
        self.shape = Some(f);
        self
    }
    const fn decide(mut self, f: fn(&[In]) -> Result<Option<TensorData>, LowerError>) -> Fold {
        self.decide = Some(f);
        self
    }
    const fn dense(mut self, f: DenseFold) -> Fold {
        self.dense = Some(f);
        self
    }
}

/// The ops that fold and how, in the order SUPPORTED_OPS.md lists them.
#[rustfmt::skip]
pub(crate) static FOLDS: &[Fold] = &[
    Fold::new("Constant").any_inputs().dense(dense::constant),
    Fold::new("Shape").any_inputs().shape(shape::shape),
    Fold::new("Size").any_inputs().shape(shape::size).dense(dense::size),
    Fold::new("Gather").shape(shape::gather).dense(dense::gather),
    Fold::new("Unsqueeze").shape(shape::unsqueeze).dense(dense::unsqueeze),
    Fold::new("Squeeze").shape(shape::squeeze).dense(dense::squeeze),
    Fold::new("Concat").shape(shape::concat).dense(dense::concat),
    Fold::new("Cast").shape(shape::cast).dense(dense::cast),
    Fold::new("Reshape").shape(shape::reshape).dense(dense::reshape),
    Fold::new("Slice").shape(shape::slice).dense(dense::slice),
    Fold::new("Add").shape(|_, n, i| shape::arith(n, i, Arith::Add)).dense(|n, i| dense::arith(n, i, Arith::Add)),
    Fold::new("Sub").shape(|_, n, i| shape::arith(n, i, Arith::Sub)).dense(|n, i| dense::arith(n, i, Arith::Sub)),
    Fold::new("Mul").shape(|_, n, i| shape::arith(n, i, Arith::Mul)).dense(|n, i| dense::arith(n, i, Arith::Mul)),
    Fold::new("Div").shape(|_, n, i| shape::arith(n, i, Arith::Div)).dense(|n, i| dense::arith(n, i, Arith::Div)),
    Fold::new("Neg").dense(|n, i| dense::unary(n, i, Unary::Neg)),
    Fold::new("Sqrt").dense(|n, i| dense::unary(n, i, Unary::Sqrt)),
    Fold::new("Reciprocal").dense(|n, i| dense::unary(n, i, Unary::Reciprocal)),
    Fold::new("Floor").dense(|n, i| dense::unary(n, i, Unary::Floor)),
    Fold::new("Ceil").dense(|n, i| dense::unary(n, i, Unary::Ceil)),
    Fold::new("Abs").dense(|n, i| dense::unary(n, i, Unary::Abs)),
    Fold::new("Exp").dense(|n, i| dense::unary(n, i, Unary::Exp)),
    Fold::new("Pow").dense(|n, i| dense::arith(n, i, Arith::Pow)),
    Fold::new("Equal").decide(shape::equal).dense(dense::equal),
    Fold::new("Where").shape(shape::select).dense(dense::select),
    Fold::new("ConstantOfShape").dense(dense::constant_of_shape),
    Fold::new("Range").dense(dense::range),
    Fold::new("Transpose").dense(dense::transpose),
    Fold::new("Expand").dense(dense::expand),
    Fold::new("Identity").shape(shape::identity).dense(dense::identity),
    Fold::new("Flatten").dense(dense::flatten),
    Fold::new("Max").shape(|_, n, i| shape::arith(n, i, Arith::Max)).dense(|n, i| dense::arith(n, i, Arith::Max)),
    Fold::new("Min").shape(|_, n, i| shape::arith(n, i, Arith::Min)).dense(|n, i| dense::arith(n, i, Arith::Min)),
    Fold::new("Less").dense(|n, i| dense::compare(n, i, Cmp::Lt)),
    Fold::new("LessOrEqual").dense(|n, i| dense::compare(n, i, Cmp::Le)),
    Fold::new("Greater").dense(|n, i| dense::compare(n, i, Cmp::Gt)),
    Fold::new("GreaterOrEqual").dense(|n, i| dense::compare(n, i, Cmp::Ge)),
    Fold::new("And").dense(|n, i| dense::compare(n, i, Cmp::And)),
    Fold::new("Or").dense(|n, i| dense::compare(n, i, Cmp::Or)),
    Fold::new("Xor").dense(|n, i| dense::compare(n, i, Cmp::Xor)),
    Fold::new("Not").dense(dense::not),
    Fold::new("Mod").shape(|_, n, i| shape::arith(n, i, Arith::Mod { fmod: n.int_or("fmod", 0)? != 0 })).dense(dense::modulo),
];

const fn op_names<const N: usize>(folds: &[Fold]) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = folds[i].op;
        i += 1;
    }
    names
}

static FOLDABLE_NAMES: [&str; FOLDS.len()] = op_names(FOLDS);

/// Op types that fold when their inputs are constant: the ops of [`FOLDS`].
pub const FOLDABLE: &[&str] = &FOLDABLE_NAMES;

/// The fold entry for an op of the default domain.
pub(crate) fn fold_of(op_type: &str) -> Option<&'static Fold> {
    FOLDS.iter().find(|f| f.op == op_type)
}

/// Most elements a folded constant may have, whatever the limits say.
const MAX_FOLD_ELEMENTS: usize = 1 << 28;

thread_local! {
    /// The element limit of the conversion running on this thread
    /// (`Limits::max_tensor_elements`), set by [`with_fold_limit`].
    static FOLD_LIMIT: std::cell::Cell<usize> = const { std::cell::Cell::new(MAX_FOLD_ELEMENTS) };
}

/// Runs `f` with folds limited to `limit` elements.
pub(crate) fn with_fold_limit<T>(limit: u64, f: impl FnOnce() -> T) -> T {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX).min(MAX_FOLD_ELEMENTS);
    let old = FOLD_LIMIT.with(|c| c.replace(limit));
    let r = f();
    FOLD_LIMIT.with(|c| c.set(old));
    r
}

/// Fails when a fold would create more than the limit's elements.
fn too_big(n: usize) -> Result<(), LowerError> {
    if n > FOLD_LIMIT.with(std::cell::Cell::get) {
        return Err(LowerError::new(ReasonCode::UnsupportedShape, format!("folding would create {n} elements")));
    }
    Ok(())
}

/// Folds `node` if possible. Returns whether it did.
pub(crate) fn try_fold(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<bool, LowerError> {
    if !node.domain().is_empty() {
        return Ok(false);
    }
    let Some(fold) = fold_of(node.op_type()) else { return Ok(false) };
    let ins = gather_inputs(ctx, node);
    if !fold.any_inputs && ins.iter().any(|i| matches!(i, In::Tensor)) {
        return Ok(false);
    }
    if let Some(f) = fold.shape
        && let Some((dims, scalar)) = f(ctx, node, &ins)?
    {
        ctx.set_val(node, 0, Val::Shape { dims, scalar });
        return Ok(true);
    }
    if let Some(f) = fold.decide
        && let Some(d) = f(&ins)?
    {
        ctx.set_val(node, 0, Val::Const(d));
        return Ok(true);
    }
    // A size known only at run time is never folded into a constant: the
    // node is lowered, and its symbolic inputs are computed at run time.
    let symbolic = ins.iter().any(|i| matches!(i, In::Shape(d, _) if d.iter().any(|x| x.known().is_none())));
    if !symbolic
        && let Some(f) = fold.dense
        && let Some(d) = f(node, &ins)?
    {
        if !fold.any_inputs {
            too_big(d.len())?;
        }
        ctx.set_val(node, 0, Val::Const(d));
        return Ok(true);
    }
    Ok(false)
}

/// What an input of a node being folded is.
pub(crate) enum In {
    /// An omitted optional input.
    Missing,
    /// A constant.
    Const(TensorData),
    /// A shape vector (a scalar when the flag is set).
    Shape(Vec<SDim>, bool),
    /// A run-time tensor.
    Tensor,
}

fn gather_inputs(ctx: &LowerCtx<'_>, node: &Node<'_>) -> Vec<In> {
    node.inner
        .inputs
        .iter()
        .map(|name| {
            if name.is_empty() {
                return In::Missing;
            }
            match ctx.env.get(name) {
                Some(Val::Const(d)) => In::Const(d.clone()),
                Some(Val::Shape { dims, scalar }) => In::Shape(dims.clone(), *scalar),
                Some(Val::Tensor(_)) | None => In::Tensor,
            }
        })
        .collect()
}

/// Input `i` as constant data: a constant, or a shape vector without
/// symbolic entries (as int64).
fn as_const(i: &In) -> Option<TensorData> {
    match i {
        In::Const(d) => Some(d.clone()),
        In::Shape(dims, scalar) => {
            let v: Option<Vec<i64>> = dims.iter().map(SDim::known).collect();
            v.map(|v| TensorData::from_i64(if *scalar { vec![] } else { vec![v.len()] }, &v))
        }
        _ => None,
    }
}

/// Input `i` as constant data (see [`as_const`]).
fn const_in(ins: &[In], i: usize) -> Option<TensorData> {
    ins.get(i).and_then(as_const)
}

/// Input `i` as a shape vector: a shape vector, or an int32 / int64
/// constant of rank ≤ 1.
fn as_shape(i: &In) -> Option<(Vec<SDim>, bool)> {
    match i {
        In::Shape(d, s) => Some((d.clone(), *s)),
        In::Const(d) if matches!(d.dtype, DType::I64 | DType::I32) && d.dims.len() <= 1 => {
            let v = d.to_i64()?;
            Some((v.into_iter().map(SDim::Known).collect(), d.dims.is_empty()))
        }
        _ => None,
    }
}

fn must_be_constant(what: &str) -> LowerError {
    LowerError::new(ReasonCode::InputMustBeConstant, what)
}

/// The axes of Squeeze / Unsqueeze: the attribute, or input `idx`.
fn axes_of(node: &Node<'_>, ins: &[In], idx: usize) -> Result<Option<Vec<i64>>, LowerError> {
    if let Some(a) = node.attr_ints("axes")? {
        return Ok(Some(a));
    }
    match ins.get(idx) {
        Some(In::Missing) | None => Ok(None),
        Some(i) => as_const(i).and_then(|d| d.to_i64()).map(Some).ok_or_else(|| must_be_constant("axes must be constant")),
    }
}

/// Gather's axis and indices, and whether the indices are a scalar.
fn gather_params(node: &Node<'_>, ins: &[In]) -> Result<(i64, Vec<i64>, bool), LowerError> {
    let axis = node.int_or("axis", 0)?;
    let idx = const_in(ins, 1).and_then(|d| d.to_i64()).ok_or_else(|| must_be_constant("indices"))?;
    let scalar_idx = const_in(ins, 1).is_some_and(|d| d.dims.is_empty());
    Ok((axis, idx, scalar_idx))
}

/// Cast's target type.
fn cast_target(node: &Node<'_>) -> Result<DType, LowerError> {
    let to = node.attr_int("to")?.ok_or_else(|| LowerError::invalid("Cast needs 'to'"))?;
    onnx_dtype(to as i32).ok_or_else(|| LowerError::new(ReasonCode::UnsupportedDtype, format!("Cast to type {to}")))
}

/// Slice's starts, ends, axes and steps (attributes before opset 10).
type SliceParams = (Vec<i64>, Vec<i64>, Option<Vec<i64>>, Option<Vec<i64>>);

fn slice_params(node: &Node<'_>, ins: &[In]) -> Result<SliceParams, LowerError> {
    Ok(if node.opset() < 10 {
        (node.attr_ints("starts")?.unwrap_or_default(), node.attr_ints("ends")?.unwrap_or_default(), node.attr_ints("axes")?, None)
    } else {
        let g = |i: usize| const_in(ins, i).and_then(|d| d.to_i64());
        (g(1).unwrap_or_default(), g(2).unwrap_or_default(), g(3), g(4))
    })
}

#[cfg(test)]
mod tests;
