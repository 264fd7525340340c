//! One operator in its subgraph, with the predicates the rule tables share.

use super::{Reason, ReportOptions, TensorRef};
use crate::model::{Activation, DType, Model, Operator, Subgraph, Tensor};

/// An operator with what the rules need to judge it.
pub(crate) struct Node<'a> {
    pub sg: &'a Subgraph,
    pub op: &'a Operator,
    pub version: i32,
    pub options: &'a ReportOptions,
}

/// A rule's answer.
pub(crate) type Check = Result<(), Reason>;

impl<'a> Node<'a> {
    pub fn new(_model: &'a Model, sg: &'a Subgraph, op: &'a Operator, options: &'a ReportOptions) -> Node<'a> {
        Node { sg, op, version: crate::version::op_version(sg, op), options }
    }

    /// The number of input slots, omitted optional ones included (as
    /// TFLite's `node->inputs->size` counts them).
    pub fn num_inputs(&self) -> usize {
        self.op.inputs.len()
    }

    /// The number of outputs.
    pub fn num_outputs(&self) -> usize {
        self.op.outputs.len()
    }

    /// Input `i`, if present.
    pub fn input(&self, i: usize) -> Option<&'a Tensor> {
        self.op.input(i).and_then(|t| self.sg.tensor(t))
    }

    /// Output `i`.
    pub fn output(&self, i: usize) -> Option<&'a Tensor> {
        self.op.outputs.get(i).and_then(|t| self.sg.tensor(*t))
    }

    /// The tensor a reference names.
    pub fn tensor(&self, r: TensorRef) -> Option<&'a Tensor> {
        match r {
            TensorRef::Input(i) => self.input(i),
            TensorRef::Output(i) => self.output(i),
        }
    }

    /// Input `i`, or an arity reason when it is missing.
    pub fn need_input(&self, i: usize) -> Result<&'a Tensor, Reason> {
        self.input(i).ok_or_else(|| Reason::Arity { detail: format!("input {i} is missing") })
    }

    /// Output `i`, or an arity reason when it is missing.
    pub fn need_output(&self, i: usize) -> Result<&'a Tensor, Reason> {
        self.output(i).ok_or_else(|| Reason::Arity { detail: format!("output {i} is missing") })
    }

    /// The number of inputs must be in `min..=max`, outputs in `omin..=omax`.
    pub fn arity(&self, min: usize, max: usize, omin: usize, omax: usize) -> Check {
        let (n, o) = (self.num_inputs(), self.num_outputs());
        if n < min || n > max {
            return Err(Reason::Arity { detail: format!("{n} inputs, takes {}", range(min, max)) });
        }
        if o < omin || o > omax {
            return Err(Reason::Arity { detail: format!("{o} outputs, takes {}", range(omin, omax)) });
        }
        Ok(())
    }

    /// Whether input `i` is present and constant.
    pub fn is_const(&self, i: usize) -> bool {
        self.input(i).is_some_and(Tensor::is_constant)
    }

    /// Input `i` must be constant.
    pub fn need_const(&self, i: usize) -> Check {
        if self.is_const(i) {
            Ok(())
        } else {
            Err(Reason::NotConstant { tensor: TensorRef::Input(i), must_be_constant: true })
        }
    }

    /// The tensor's rank must be in `min..=max`.
    pub fn rank(&self, r: TensorRef, min: usize, max: usize, expected: &'static str) -> Check {
        let t = self.tensor(r).ok_or_else(|| Reason::Arity { detail: format!("{r} is missing") })?;
        let rank = t.shape.rank();
        if rank < min || rank > max {
            return Err(Reason::Rank { tensor: r, rank, expected });
        }
        Ok(())
    }

    /// The tensor's dtype must satisfy `ok`.
    pub fn dtype(&self, r: TensorRef, expected: &'static str, ok: impl Fn(&Tensor) -> bool) -> Check {
        let t = self.tensor(r).ok_or_else(|| Reason::Arity { detail: format!("{r} is missing") })?;
        if ok(t) {
            Ok(())
        } else {
            Err(Reason::Dtype { tensor: r, dtype: t.dtype, expected })
        }
    }

    /// The values of a constant int32 or int64 input, if constant.
    pub fn const_ints(&self, i: usize) -> Option<Vec<i64>> {
        let t = self.input(i)?;
        let d = t.data.as_ref()?;
        match t.dtype {
            DType::I32 => Some(d.to_vec::<i32>().into_iter().map(i64::from).collect()),
            DType::I64 => Some(d.to_vec::<i64>()),
            _ => None,
        }
    }
}

fn range(min: usize, max: usize) -> String {
    if min == max {
        format!("{min}")
    } else {
        format!("{min} to {max}")
    }
}

/// Whether a tensor carries per-tensor affine quantization (one scale).
pub(crate) fn per_tensor_quant(t: &Tensor) -> bool {
    t.quantization.as_ref().is_some_and(|q| q.scale.len() == 1 && q.zero_point.len() <= 1)
}

/// Whether a tensor carries affine quantization (one scale or per-axis).
pub(crate) fn affine_quant(t: &Tensor) -> bool {
    t.quantization.as_ref().is_some_and(|q| !q.scale.is_empty())
}

/// A fused activation outside `allowed` is an option reason.
pub(crate) fn activation(a: Activation, allowed: &[Activation]) -> Check {
    if allowed.contains(&a) {
        Ok(())
    } else {
        Err(Reason::Option { name: "fused_activation_function", detail: format!("{a:?} is not supported") })
    }
}

/// An option reason.
pub(crate) fn option(name: &'static str, detail: impl Into<String>) -> Reason {
    Reason::Option { name, detail: detail.into() }
}
