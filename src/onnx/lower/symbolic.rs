//! Symbolic dimensions: the entries of shape vectors (what ONNX `Shape`
//! produces) while lowering.
//!
//! An entry is either a known integer or an expression over run-time sizes
//! ([`DimExpr`]): the size of an axis of a tensor, and arithmetic on those.
//! Shape computations fold on these expressions (`Shape → Gather → Concat →
//! Reshape` and the like). What stays symbolic is never folded into a
//! constant: when a lowering needs the vector as a tensor,
//! [`LowerCtx::shape_tensor`] emits the TFLite ops that compute it at run
//! time (SHAPE, STRIDED_SLICE, arithmetic on int32 vectors, CONCATENATION),
//! and the result is an int32 vector (sizes always fit in int32).

use std::fmt;
use std::rc::Rc;

use super::{LowerCtx, LowerError};
use crate::model::*;
use crate::onnx::error::ReasonCode;

/// One entry of a shape vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SDim {
    /// A value known when converting.
    Known(i64),
    /// A value computed at run time.
    Dyn(Rc<DimExpr>),
}

/// How a run-time shape entry is computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DimExpr {
    /// The run-time size of `axis` of `tensor`, named for messages (the
    /// ONNX `dim_param`, or `?axis`).
    Axis { tensor: TensorId, axis: usize, name: String },
    /// Integer arithmetic on two entries.
    Bin(DimOp, SDim, SDim),
}

/// Integer arithmetic on shape entries, with ONNX semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DimOp {
    Add,
    Sub,
    Mul,
    /// Truncates toward zero.
    Div,
    Max,
    Min,
    /// The remainder with the divisor's sign (ONNX `Mod` with `fmod = 0`).
    Mod,
}

impl DimOp {
    fn symbol(self) -> &'static str {
        match self {
            DimOp::Add => "+",
            DimOp::Sub => "-",
            DimOp::Mul => "*",
            DimOp::Div => "/",
            DimOp::Max => "max",
            DimOp::Min => "min",
            DimOp::Mod => "%",
        }
    }

    /// The op on known values, or `None` when it has no value (a zero
    /// divisor, or `i64::MIN / -1`).
    fn eval(self, a: i64, b: i64) -> Option<i64> {
        match self {
            // int64 arithmetic wraps in ONNX, as in the dense folds.
            DimOp::Add => Some(a.wrapping_add(b)),
            DimOp::Sub => Some(a.wrapping_sub(b)),
            DimOp::Mul => Some(a.wrapping_mul(b)),
            DimOp::Div => a.checked_div(b),
            DimOp::Max => Some(a.max(b)),
            DimOp::Min => Some(a.min(b)),
            DimOp::Mod => {
                let r = a.checked_rem(b)?;
                Some(if r != 0 && ((r < 0) != (b < 0)) { r + b } else { r })
            }
        }
    }
}

impl SDim {
    /// The value, if known.
    pub(crate) fn known(&self) -> Option<i64> {
        match self {
            SDim::Known(n) => Some(*n),
            SDim::Dyn(_) => None,
        }
    }

    /// The size of `axis` of `tensor` at run time.
    pub(crate) fn axis(tensor: TensorId, axis: usize, name: String) -> SDim {
        SDim::Dyn(Rc::new(DimExpr::Axis { tensor, axis, name }))
    }

    /// Whether the value is ≥ 0 whatever the run-time sizes.
    pub(crate) fn nonnegative(&self) -> bool {
        match self {
            SDim::Known(n) => *n >= 0,
            SDim::Dyn(e) => match &**e {
                DimExpr::Axis { .. } => true,
                DimExpr::Bin(op, a, b) => match op {
                    DimOp::Add | DimOp::Mul | DimOp::Div | DimOp::Min => a.nonnegative() && b.nonnegative(),
                    DimOp::Max => a.nonnegative() || b.nonnegative(),
                    DimOp::Mod => b.nonnegative() && b.known() != Some(0),
                    DimOp::Sub => false,
                },
            },
        }
    }

    /// `a op b`, folded when both are known and simplified where an
    /// identity applies (`x + 0`, `x * 1`, `x / 1`, `max(x, 0)` for
    /// sizes, ...). A zero divisor or an overflow is an error.
    pub(crate) fn bin(op: DimOp, a: SDim, b: SDim) -> Result<SDim, LowerError> {
        if let (Some(x), Some(y)) = (a.known(), b.known()) {
            return op.eval(x, y).map(SDim::Known).ok_or_else(|| {
                LowerError::invalid(format!("shape arithmetic {x} {} {y} has no value (a zero divisor)", op.symbol()))
            });
        }
        let (ka, kb) = (a.known(), b.known());
        let simplified = match op {
            DimOp::Add if ka == Some(0) => Some(b.clone()),
            DimOp::Add | DimOp::Sub if kb == Some(0) => Some(a.clone()),
            DimOp::Mul if ka == Some(1) => Some(b.clone()),
            DimOp::Mul | DimOp::Div if kb == Some(1) => Some(a.clone()),
            DimOp::Mul if ka == Some(0) || kb == Some(0) => Some(SDim::Known(0)),
            DimOp::Max if kb.is_some_and(|k| k <= 0) && a.nonnegative() => Some(a.clone()),
            DimOp::Max if ka.is_some_and(|k| k <= 0) && b.nonnegative() => Some(b.clone()),
            DimOp::Max | DimOp::Min if a == b => Some(a.clone()),
            DimOp::Sub if a == b => Some(SDim::Known(0)),
            _ => None,
        };
        if matches!(op, DimOp::Div | DimOp::Mod) && kb == Some(0) {
            return Err(LowerError::invalid("shape arithmetic divides by zero"));
        }
        Ok(simplified.unwrap_or_else(|| SDim::Dyn(Rc::new(DimExpr::Bin(op, a, b)))))
    }

    /// The TFLite dimension this entry gives a tensor: fixed when known
    /// (and a valid size), dynamic otherwise.
    pub(crate) fn as_dim(&self) -> Dim {
        match self.known().and_then(|n| u32::try_from(n).ok()).filter(|n| i32::try_from(*n).is_ok()) {
            Some(n) => Dim::Fixed(n),
            None => Dim::Dynamic,
        }
    }
}

impl fmt::Display for SDim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SDim::Known(n) => write!(f, "{n}"),
            SDim::Dyn(e) => match &**e {
                DimExpr::Axis { name, .. } => write!(f, "{name}"),
                DimExpr::Bin(op @ (DimOp::Max | DimOp::Min), a, b) => write!(f, "{}({a}, {b})", op.symbol()),
                DimExpr::Bin(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            },
        }
    }
}

/// A shape vector for messages: `[batch, 3, (h / 2)]`.
pub(crate) fn show(dims: &[SDim]) -> String {
    let v: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("[{}]", v.join(", "))
}

impl LowerCtx<'_> {
    /// The shape of tensor `t` as symbolic entries: fixed sizes are known,
    /// dynamic ones read the size at run time. The size is taken from the
    /// earliest tensor that has it (through TRANSPOSE and shape-preserving
    /// ops), so that the SHAPE op emitted for it does not pin a layout
    /// TRANSPOSE the passes would otherwise remove.
    pub(crate) fn symbolic_shape(&self, t: TensorId) -> Vec<SDim> {
        self.shape(t)
            .dims()
            .iter()
            .enumerate()
            .map(|(i, d)| match d {
                Dim::Fixed(n) => SDim::Known(i64::from(*n)),
                Dim::Dynamic => {
                    let (src, axis) = self.size_source(t, i);
                    let name = self.dim_names.get(&(src, axis)).cloned().unwrap_or_else(|| format!("?{i}"));
                    SDim::axis(src, axis, name)
                }
            })
            .collect()
    }

    /// The earliest tensor whose axis has the same run-time size as `axis`
    /// of `t`.
    fn size_source(&self, t: TensorId, axis: usize) -> (TensorId, usize) {
        let sg = self.g.subgraph();
        let (mut cur, mut ax) = (t, axis);
        for _ in 0..256 {
            let Some(op) = sg.operators.iter().rev().find(|o| o.outputs.first() == Some(&cur)) else { break };
            let Some(x) = op.input(0) else { break };
            let same_shape = self.shape(x).rank() == self.shape(cur).rank();
            match &op.op {
                Op::Transpose => {
                    let perm = op.input(1).and_then(|p| crate::infer::const_ints(&sg.tensors[p.index()]));
                    let Some(p) = perm.and_then(|v| v.get(ax).copied()) else { break };
                    let Ok(p) = usize::try_from(p) else { break };
                    (cur, ax) = (x, p);
                }
                Op::Relu | Op::Relu6 | Op::Logistic | Op::Tanh | Op::HardSwish | Op::Gelu { .. } | Op::Exp | Op::Neg | Op::Abs | Op::Cast(_)
                    if same_shape =>
                {
                    cur = x;
                }
                _ => break,
            }
            if self.shape(cur).dims().get(ax) != Some(&Dim::Dynamic) {
                break;
            }
        }
        (cur, ax)
    }

    /// The int32 SHAPE of `t`, emitted once per tensor.
    fn shape_op(&mut self, t: TensorId) -> Result<TensorId, LowerError> {
        if let Some(s) = self.shape_ops.get(&t) {
            return Ok(*s);
        }
        let s = self.g.apply(Op::Shape(ShapeOptions { out_type: DType::I32 }), &[Some(t)])?;
        self.shape_ops.insert(t, s);
        Ok(s)
    }

    /// A shape vector as an int32 tensor (rank 1, or a scalar when
    /// `scalar`), computed at run time where it is symbolic.
    pub(crate) fn shape_tensor(&mut self, name: &str, dims: &[SDim], scalar: bool) -> Result<TensorId, LowerError> {
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < dims.len() {
            match &dims[i] {
                SDim::Known(_) => {
                    let mut vals = Vec::new();
                    while let Some(SDim::Known(n)) = dims.get(i) {
                        vals.push(i32::try_from(*n).map_err(|_| {
                            LowerError::new(ReasonCode::UnsupportedShape, format!("shape value {n} in {} does not fit int32", show(dims)))
                        })?);
                        i += 1;
                    }
                    let k = self.g.subgraph().tensors.len();
                    pieces.push(self.g.constant_i32(&format!("{name}/const_{k}"), [vals.len() as u32], &vals));
                }
                SDim::Dyn(e) => match &**e {
                    DimExpr::Axis { tensor, axis, .. } => {
                        // A run of consecutive axes of one tensor is one slice of its shape.
                        let (t, a0) = (*tensor, *axis);
                        let mut n = 1;
                        while let Some(SDim::Dyn(next)) = dims.get(i + n) {
                            match &**next {
                                DimExpr::Axis { tensor, axis, .. } if *tensor == t && *axis == a0 + n => n += 1,
                                _ => break,
                            }
                        }
                        let s = self.shape_op(t)?;
                        let rank = self.shape(t).rank();
                        pieces.push(if a0 == 0 && n == rank {
                            s
                        } else {
                            self.g.strided_slice(s, &[a0 as i32], &[(a0 + n) as i32], &[1], StridedSliceOptions::default())?
                        });
                        i += n;
                    }
                    DimExpr::Bin(op, a, b) => {
                        let ta = self.shape_tensor(name, std::slice::from_ref(a), false)?;
                        let tb = self.shape_tensor(name, std::slice::from_ref(b), false)?;
                        let op = match op {
                            DimOp::Add => Op::Add(Default::default()),
                            DimOp::Sub => Op::Sub(Default::default()),
                            DimOp::Mul => Op::Mul(Default::default()),
                            // DIV on int32 truncates toward zero, as ONNX Div does.
                            DimOp::Div => Op::Div(Default::default()),
                            DimOp::Max => Op::Maximum,
                            DimOp::Min => Op::Minimum,
                            DimOp::Mod => Op::FloorMod,
                        };
                        pieces.push(self.g.apply(op, &[Some(ta), Some(tb)])?);
                        i += 1;
                    }
                },
            }
        }
        let v = match pieces.len() {
            0 => self.g.constant_i32(&format!("{name}/empty"), [0u32], &[]),
            1 => pieces[0],
            _ => self.g.concatenation(&pieces, 0)?,
        };
        if scalar {
            if dims.len() != 1 {
                return Err(LowerError::invalid(format!("a scalar shape value with {} entries", dims.len())));
            }
            return Ok(self.g.reshape(v, &[])?);
        }
        Ok(v)
    }
}

impl LowerCtx<'_> {
    /// Reshapes `x` to `dims`, where `-1` (at most once) takes the rest.
    /// A target with at most one unknown entry becomes a RESHAPE with a
    /// constant shape; otherwise the shape is computed at run time. The
    /// output keeps every size known here.
    pub(crate) fn reshape_symbolic(&mut self, x: TensorId, dims: &[SDim]) -> Result<TensorId, LowerError> {
        let mut dims = dims.to_vec();
        let infer: Vec<usize> = (0..dims.len()).filter(|i| dims[*i] == SDim::Known(-1)).collect();
        if infer.len() > 1 {
            return Err(LowerError::invalid(format!("reshape target {} has several -1 entries", show(&dims))));
        }
        if let Some(bad) = dims.iter().filter_map(SDim::known).find(|n| *n < -1) {
            return Err(LowerError::invalid(format!("reshape target entry {bad}")));
        }
        // Resolve -1 here when every run-time size of the input reappears
        // in the target: the rest is a ratio of known sizes.
        if let [k] = infer[..] {
            let xs = self.symbolic_shape(x);
            let mut unmatched: Vec<&SDim> = xs.iter().filter(|d| d.known().is_none()).collect();
            let mut all_matched = true;
            for d in dims.iter().filter(|d| d.known().is_none()) {
                match unmatched.iter().position(|u| *u == d) {
                    Some(p) => {
                        unmatched.remove(p);
                    }
                    None => all_matched = false,
                }
            }
            if all_matched && unmatched.is_empty() {
                let known_in: i64 = xs.iter().filter_map(SDim::known).product();
                let known_out: i64 = dims.iter().enumerate().filter(|(i, _)| *i != k).filter_map(|(_, d)| d.known()).product();
                if known_out != 0 && known_in % known_out == 0 {
                    dims[k] = SDim::Known(known_in / known_out);
                } else {
                    return Err(LowerError::invalid(format!("cannot reshape {} to {}", show(&xs), show(&dims))));
                }
            }
        }
        let unknown = dims.iter().filter(|d| d.known().is_none_or(|n| n < 0)).count();
        let y = if unknown <= 1 {
            let t: Vec<i32> = dims
                .iter()
                .map(|d| match d.known() {
                    Some(n) if n >= 0 => i32::try_from(n).map_err(|_| LowerError::new(ReasonCode::UnsupportedShape, format!("reshape target entry {n}"))),
                    _ => Ok(-1),
                })
                .collect::<Result<_, _>>()?;
            self.g.reshape(x, &t)?
        } else {
            let name = format!("{}/shape", self.g.tensor(x).name);
            let s = self.shape_tensor(&name, &dims, false)?;
            self.g.apply(Op::Reshape { new_shape: None }, &[Some(x), Some(s)])?
        };
        // Keep the sizes known here (inference alone sees a run-time shape).
        let known = Shape::from_dims(dims.iter().map(SDim::as_dim).collect());
        if self.shape(y).rank() == known.rank() {
            let refined: Vec<Dim> = self.shape(y).dims().iter().zip(known.dims()).map(|(a, b)| if *a == Dim::Dynamic { *b } else { *a }).collect();
            self.g.tensor_mut(y).shape = Shape::from_dims(refined);
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(i: u32) -> SDim {
        SDim::axis(TensorId(i), 0, format!("s{i}"))
    }

    #[test]
    fn known_entries_fold_with_onnx_semantics() {
        assert_eq!(SDim::bin(DimOp::Div, SDim::Known(-7), SDim::Known(2)).unwrap(), SDim::Known(-3));
        assert_eq!(SDim::bin(DimOp::Mod, SDim::Known(-7), SDim::Known(3)).unwrap(), SDim::Known(2));
        assert_eq!(SDim::bin(DimOp::Mod, SDim::Known(7), SDim::Known(-3)).unwrap(), SDim::Known(-2));
        assert!(SDim::bin(DimOp::Div, SDim::Known(1), SDim::Known(0)).is_err());
        assert_eq!(SDim::bin(DimOp::Mul, SDim::Known(i64::MAX), SDim::Known(2)).unwrap(), SDim::Known(-2));
        assert!(SDim::bin(DimOp::Div, sym(1), SDim::Known(0)).is_err());
    }

    #[test]
    fn identities_simplify_and_the_rest_stays_symbolic() {
        assert_eq!(SDim::bin(DimOp::Mul, sym(1), SDim::Known(1)).unwrap(), sym(1));
        assert_eq!(SDim::bin(DimOp::Add, SDim::Known(0), sym(1)).unwrap(), sym(1));
        assert_eq!(SDim::bin(DimOp::Max, sym(1), SDim::Known(0)).unwrap(), sym(1));
        assert_eq!(SDim::bin(DimOp::Sub, sym(1), sym(1)).unwrap(), SDim::Known(0));
        let e = SDim::bin(DimOp::Div, sym(1), SDim::Known(2)).unwrap();
        assert_eq!(e.known(), None);
        assert!(e.nonnegative());
        assert_eq!(e.to_string(), "(s1 / 2)");
        let d = SDim::bin(DimOp::Sub, sym(1), SDim::Known(2)).unwrap();
        assert!(!d.nonnegative());
        // max(x - 2, 0) is not simplified: x - 2 may be negative.
        assert!(SDim::bin(DimOp::Max, d, SDim::Known(0)).unwrap().known().is_none());
        assert_eq!(show(&[sym(1), SDim::Known(3), e]), "[s1, 3, (s1 / 2)]");
    }
}
