//! Element types a TFLite kernel lacks, computed in a wider type where the
//! result is provably the same, then cast back.
//!
//! One place decides, per kind of computation ([`Kind`]), which wider type
//! gives exactly ONNX's result:
//!
//! - 8- and 16-bit integers (TFLite treats int8, uint8 and int16 as
//!   quantized types, and has few uint16 kernels) are computed in int32,
//!   uint32 in int64. Every value of the narrow type is a value of the
//!   wide one, so comparisons, minimum and maximum are exact. A sum or
//!   difference of two narrow values fits the wide type, and the CAST back
//!   wraps it modulo 2ⁿ (TFLite's CAST between integers is C++'s
//!   `static_cast`, two's complement), which is ONNX's (NumPy's) wrap-around.
//!   A product needs twice the bits: uint16 products go to int64, uint32
//!   ones have no wider exact type here. Integer division truncates toward
//!   zero in ONNX (`test_div_int32_trunc`) and in TFLite's int32 DIV; the one
//!   quotient that leaves the narrow range (−2¹⁵ / −1) wraps back as in NumPy.
//! - float16 is computed in float32. For + − × ÷ √ (and the one rounding of a
//!   remainder) float32's 24 bits are at least 2·11 + 2, so rounding the
//!   float32 result to float16 gives the correctly rounded float16 result:
//!   exact. Comparisons, minimum, maximum and data movement are exact.
//!   Float ops without a typed widening here run their float32 lowering on
//!   float16 inputs cast to float32 ([`lower_via_f32`], for the ops in
//!   [`F16_VIA_F32`]); transcendental ops and reductions come out more
//!   accurate than a float16 kernel would, which is within the tolerance
//!   ONNX's tests give float16, but not bit-exact.
//! - float64, uint64 and int64 (where the kernel lacks it) have no wider type:
//!   computing them in float32 / int64 is not exact, so they stay typed errors.

use super::operand::{dtype_err, first_tensor_type, operand_as, operand_narrowed};
use super::{LowerCtx, LowerError, Node, Val};
use crate::onnx::ir::TensorData;
use crate::onnx::table::LowerFn;
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// What an op computes, which decides the wider types that give its exact
/// result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A comparison (a bool result).
    Compare,
    /// One of the operands (minimum, maximum, a selection).
    Select,
    /// A sum or difference, wrapping in integers.
    Sum,
    /// A product, wrapping in integers.
    Product,
    /// Division (truncating toward zero in integers) and remainders.
    Quotient,
}

/// The wider type in which an op of `kind` on `d` gives exactly ONNX's
/// result (up to the one rounding back for float16), if any.
pub(crate) fn wide_type(d: DType, kind: Kind) -> Option<DType> {
    use DType::*;
    match d {
        F16 => Some(F32),
        I8 | U8 | I16 => Some(I32),
        U16 => Some(if kind == Kind::Product { I64 } else { I32 }),
        U32 if kind != Kind::Product => Some(I64),
        _ => None,
    }
}

/// The type to compute in: `d` itself when the kernel takes it (`native`),
/// else its exact wider type when the kernel takes that.
pub(crate) fn compute_type(d: DType, kind: Kind, native: &[DType]) -> Option<DType> {
    if native.contains(&d) {
        return Some(d);
    }
    wide_type(d, kind).filter(|w| native.contains(w))
}

/// Operands in the type an op computes in.
#[derive(Debug, Clone)]
pub(crate) struct Widened {
    /// The operand tensors, all of type `compute`.
    pub ts: Vec<TensorId>,
    /// The ONNX element type of the operands.
    pub dtype: DType,
    /// The type they are computed in (`dtype`, or a wider one).
    pub compute: DType,
}

impl Widened {
    /// Casts an op's result back to the ONNX type when it was computed in a
    /// wider one (results of another type, such as a comparison's bools,
    /// pass unchanged).
    pub(crate) fn narrow(&self, ctx: &mut LowerCtx<'_>, y: TensorId) -> Result<TensorId, LowerError> {
        if self.compute == self.dtype || ctx.dtype(y) != self.compute {
            return Ok(y);
        }
        Ok(ctx.g.cast(y, self.dtype)?)
    }
}

/// Whether input `i` of `node` is a tensor with quantization parameters.
pub(crate) fn is_quantized(ctx: &LowerCtx<'_>, node: &Node<'_>, i: usize) -> bool {
    match node.inner.input(i).and_then(|n| ctx.env.get(n)) {
        Some(Val::Tensor(t)) => ctx.g.tensor(*t).quantization.is_some(),
        _ => false,
    }
}

/// The ONNX element type of the operands `idx`: that of the first tensor
/// operand, else of the first constant.
fn operand_type(ctx: &LowerCtx<'_>, node: &Node<'_>, idx: &[usize]) -> Option<DType> {
    first_tensor_type(ctx, node, idx.iter().copied()).or_else(|| idx.iter().find_map(|i| ctx.const_ref(node, *i).map(|d| d.dtype)))
}

/// Inputs `idx` of `node` for an op of `kind` whose kernel takes the types
/// `native`: in their own type when the kernel takes it, else cast to the
/// exact wider type ([`wide_type`]); constants are materialized directly in
/// the type computed in. An `unsupported_dtype` error names the op and type
/// when neither fits.
pub(crate) fn widened_operands(ctx: &mut LowerCtx<'_>, node: &Node<'_>, idx: &[usize], kind: Kind, native: &[DType]) -> Result<Widened, LowerError> {
    let dtype = operand_type(ctx, node, idx).ok_or_else(|| LowerError::invalid(format!("{} without operands", node.op_type())))?;
    // Quantized 8/16-bit tensors stand for real values: TFLite's quantized
    // kernels take them as they are, and widening their integers would
    // compute on the integers instead.
    if idx.iter().any(|i| is_quantized(ctx, node, *i)) {
        let ts = idx.iter().map(|i| ctx.input(node, *i)).collect::<Result<Vec<_>, _>>()?;
        return Ok(Widened { ts, dtype, compute: dtype });
    }
    let compute = compute_type(dtype, kind, native).ok_or_else(|| {
        let names: Vec<String> = native.iter().map(|d| d.to_string()).collect();
        dtype_err(format!("{} on {dtype} (TFLite computes it in {}, and no wider type gives the exact result)", node.op_type(), names.join(", ")))
    })?;
    let mut ts = Vec::with_capacity(idx.len());
    for &i in idx {
        let t = if compute == dtype && dtype != DType::I64 {
            // The usual materialization (constants narrowed when exact).
            operand_narrowed(ctx, node, i, Some(dtype))?
        } else {
            operand_as(ctx, node, i, if ctx.const_ref(node, i).is_some() { compute } else { dtype })?
        };
        let td = ctx.dtype(t);
        let t = if td == compute {
            t
        } else if td == dtype {
            ctx.g.cast(t, compute)?
        } else {
            return Err(dtype_err(format!("{} on {dtype} and {td}", node.op_type())));
        };
        ts.push(t);
    }
    Ok(Widened { ts, dtype, compute })
}

/// A broadcasting binary `op` on inputs 0 and 1 of `kind`, computed in a
/// type its kernel takes (`native`) and cast back.
pub(crate) fn widened_binary(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op, kind: Kind, native: &[DType]) -> Result<(), LowerError> {
    let w = widened_operands(ctx, node, &[0, 1], kind, native)?;
    let y = ctx.g.apply(op, &[Some(w.ts[0]), Some(w.ts[1])])?;
    let y = w.narrow(ctx, y)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// A broadcasting binary `op` chained over all present inputs (Max, Min,
/// Sum), computed in a type its kernel takes (`native`) and cast back once
/// at the end (wrapping sums wrap the same whether cast once or per step).
pub(crate) fn widened_variadic(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op, kind: Kind, native: &[DType]) -> Result<(), LowerError> {
    let present: Vec<usize> = (0..node.num_inputs()).filter(|i| node.has_input(*i)).collect();
    if first_tensor_type(ctx, node, present.iter().copied()).is_none() {
        return Err(LowerError::new(ReasonCode::InputMustBeConstant, "no tensor input (all-constant inputs fold)"));
    }
    let w = widened_operands(ctx, node, &present, kind, native)?;
    let mut acc = *w.ts.first().ok_or_else(|| LowerError::invalid(format!("{} without inputs", node.op_type())))?;
    for t in &w.ts[1..] {
        acc = ctx.g.apply(op.clone(), &[Some(acc), Some(*t)])?;
    }
    let y = w.narrow(ctx, acc)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// A one-input `op` of `kind` on input 0, computed in a type its kernel
/// takes (`native`) and cast back.
pub(crate) fn widened_unary(ctx: &mut LowerCtx<'_>, node: &Node<'_>, op: Op, kind: Kind, native: &[DType]) -> Result<(), LowerError> {
    let w = widened_operands(ctx, node, &[0], kind, native)?;
    let y = ctx.g.apply(op, &[Some(w.ts[0])])?;
    let y = w.narrow(ctx, y)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

/// Float ops whose float32 lowering also serves float16 inputs: they are
/// computed in float32 and their float results rounded to float16
/// ([`lower_via_f32`]). Exact for the correctly rounded ones (+ − × ÷ √,
/// rounding, selections, data movement); for transcendental ones and
/// reductions more accurate than a float16 kernel, not bit-exact.
///
/// Softmax and LogSoftmax are left out: a float16 reference rounds each
/// exponential to float16 before summing, and the chain of an expanded
/// float16 Attention (MatMul, Softmax, MatMul, each rounded to float16)
/// then lands two float16 ulps from ONNX's expected values, outside the
/// node tests' tolerance (`test_attention_4d_causal_fp16_expanded`).
pub(crate) const F16_VIA_F32: &[&str] = &[
    "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Attention", "AveragePool", "BatchNormalization", "Celu",
    "Ceil", "Conv", "Cos", "Cosh", "CumSum", "Einsum", "Elu", "Erf", "Exp", "Expand", "Floor", "Gelu", "GridSample", "Gemm", "GlobalAveragePool",
    "GlobalMaxPool", "HardSigmoid", "HardSwish", "Hardmax", "IsInf", "IsNaN", "LayerNormalization", "LeakyRelu", "Log",
    "LpNormalization", "MatMul", "MaxPool", "Mean", "Mish", "Neg", "Pad", "Pow", "PRelu", "RMSNormalization",
    "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
    "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "RotaryEmbedding", "Round", "Selu", "Shrink", "Sigmoid", "Sign",
    "Sin", "Sinh", "Softplus", "Softsign", "Sqrt", "SwiGLU", "Swish", "Tan", "Tanh", "ThresholdedRelu",
    // Data movement: exact in any type that holds the values.
    "CenterCropPad", "Compress", "Concat", "Flatten", "Gather", "GatherElements", "GatherND", "NonZero", "Reshape", "ReverseSequence", "Slice", "Split", "Squeeze", "TensorScatter", "Tile", "Transpose",
    "Trilu", "Unsqueeze", "Where",
];

/// Pools whose float32 lowering also serves 8/16-bit integer inputs: a
/// maximum picks one of the values, which float32 holds exactly.
pub(crate) const INT_VIA_F32: &[&str] = &["GlobalMaxPool", "MaxPool"];

/// Runs `lower` on `node`; when the node is one of [`F16_VIA_F32`] and
/// has float16 inputs (or one of [`INT_VIA_F32`] with an 8/16-bit integer
/// input 0), they are presented to it as float32 (a CAST of each tensor,
/// constants converted), and its float32 outputs that ONNX declares of the
/// narrow type (or does not declare) are cast back to it.
pub(crate) fn lower_via_f32(ctx: &mut LowerCtx<'_>, node: &Node<'_>, lower: LowerFn) -> Result<(), LowerError> {
    if !node.domain().is_empty() {
        return lower(ctx, node);
    }
    let type_of = |ctx: &LowerCtx<'_>, n: &str| match ctx.env.get(n) {
        Some(Val::Tensor(t)) => Some(ctx.g.tensor(*t).dtype),
        Some(Val::Const(d)) => Some(d.dtype),
        _ => None,
    };
    let first = node.inner.input(0).and_then(|n| type_of(ctx, n));
    if is_quantized(ctx, node, 0) {
        return lower(ctx, node);
    }
    let narrow = match first {
        Some(d @ (DType::I8 | DType::U8 | DType::I16 | DType::U16)) if INT_VIA_F32.contains(&node.op_type()) => d,
        _ if F16_VIA_F32.contains(&node.op_type()) => DType::F16,
        _ => return lower(ctx, node),
    };
    let f16_inputs: Vec<String> =
        node.inner.inputs.iter().filter(|n| !n.is_empty()).filter(|n| type_of(ctx, n) == Some(narrow)).cloned().collect();
    if f16_inputs.is_empty() {
        return lower(ctx, node);
    }
    // Present each float16 input as float32; restore the values after.
    let mut saved = Vec::with_capacity(f16_inputs.len());
    for name in &f16_inputs {
        let old = ctx.env.get(name).cloned();
        let wide = match &old {
            Some(Val::Const(d)) => {
                let v = d.to_f32().ok_or_else(|| dtype_err(format!("{narrow} constant {name:?}")))?;
                Val::Const(TensorData::from_f32(d.dims.clone(), &v))
            }
            _ => {
                let t = ctx.tensor_of(name)?;
                Val::Tensor(ctx.g.cast(t, DType::F32)?)
            }
        };
        saved.push((name.clone(), old, ctx.materialized.remove(name)));
        ctx.env.insert(name.clone(), wide);
    }
    let result = lower(ctx, node);
    for (name, old, mat) in saved {
        match old {
            Some(v) => ctx.env.insert(name.clone(), v),
            None => ctx.env.remove(&name),
        };
        if let Some(m) = mat {
            ctx.materialized.insert(name, m);
        }
    }
    result?;
    for out in node.inner.outputs.iter().filter(|o| !o.is_empty()) {
        let declared = ctx.graph.value(out).and_then(|v| v.dtype);
        if let Some(Val::Tensor(t)) = ctx.env.get(out).cloned()
            && ctx.g.tensor(t).dtype == DType::F32
            && declared.is_none_or(|d| d == narrow)
        {
            let y = ctx.g.cast(t, narrow)?;
            ctx.env.insert(out.clone(), Val::Tensor(y));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_integers_widen_to_int32_and_uint32_to_int64() {
        for d in [DType::I8, DType::U8, DType::I16, DType::U16] {
            assert_eq!(wide_type(d, Kind::Compare), Some(DType::I32), "{d}");
            assert_eq!(wide_type(d, Kind::Sum), Some(DType::I32), "{d}");
        }
        assert_eq!(wide_type(DType::U32, Kind::Select), Some(DType::I64));
    }

    #[test]
    fn products_need_twice_the_bits() {
        // 65535² does not fit int32; it fits int64.
        assert_eq!(wide_type(DType::U16, Kind::Product), Some(DType::I64));
        assert_eq!(wide_type(DType::I16, Kind::Product), Some(DType::I32));
        assert_eq!(wide_type(DType::U32, Kind::Product), None);
    }

    #[test]
    fn no_inexact_widening() {
        for k in [Kind::Compare, Kind::Select, Kind::Sum, Kind::Product, Kind::Quotient] {
            assert_eq!(wide_type(DType::F64, k), None);
            assert_eq!(wide_type(DType::U64, k), None);
            assert_eq!(wide_type(DType::I64, k), None);
        }
    }

    #[test]
    fn native_types_are_kept() {
        assert_eq!(compute_type(DType::I32, Kind::Quotient, &[DType::F32, DType::I32]), Some(DType::I32));
        assert_eq!(compute_type(DType::U32, Kind::Quotient, &[DType::F32, DType::I32]), None);
        assert_eq!(compute_type(DType::F16, Kind::Quotient, &[DType::F32]), Some(DType::F32));
    }
}
