//! Builders of the control-flow ops `IF`, `WHILE` and `CALL_ONCE`.
//!
//! They take the [`ModelBuilder`] that holds the subgraphs they call, which
//! must be finished already: the outputs are made from theirs, so the
//! subgraphs' interfaces are known (and checked) at the call. A main
//! subgraph that calls others is started with
//! [`ModelBuilder::reserve_subgraph`] to keep index 0.

use super::{ModelBuilder, SubgraphBuilder};
use crate::error::{Location, ValidationError};
use crate::model::{Dim, Op, Operator, Shape, Subgraph, Tensor, TensorId};
use crate::validate::{check_control_flow, check_crossings, check_node};

/// The shape a value of shape `a` or `b` has: dimensions that differ
/// become dynamic. `None` when the ranks differ.
fn join(a: &Shape, b: &Shape) -> Option<Shape> {
    (a.rank() == b.rank()).then(|| {
        Shape::from_dims(a.dims().iter().zip(b.dims()).map(|(x, y)| if x == y { *x } else { Dim::Dynamic }).collect())
    })
}

impl SubgraphBuilder {
    fn here(&self) -> Location {
        Location { subgraph: self.index, operator: Some(self.sg.operators.len()), tensor: None }
    }

    /// Subgraph `index` of `model`, which must be finished.
    fn callee<'m>(&self, model: &'m ModelBuilder, op: &Op, role: &str, index: u32) -> Result<&'m Subgraph, ValidationError> {
        model.finished(index).ok_or_else(|| ValidationError::Subgraph {
            at: self.here(),
            detail: format!(
                "{} calls {role} subgraph {index}, which is not finished; finish the subgraphs it calls first (ModelBuilder::finish_subgraph)",
                op.name()
            ),
        })
    }

    /// The tensor with this id, or an error naming the op.
    fn existing(&self, op: &Op, id: TensorId) -> Result<&Tensor, ValidationError> {
        self.sg.tensors.get(id.index()).ok_or_else(|| self.err(op, format!("input tensor {id} does not exist")))
    }

    /// Adds a control-flow node whose outputs are `outs` (tensors to
    /// create), checking it against the subgraphs of `model`; on error
    /// nothing is added.
    fn add_control_flow(&mut self, model: &ModelBuilder, op: Op, inputs: Vec<Option<TensorId>>, outs: Vec<Tensor>) -> Result<Vec<TensorId>, ValidationError> {
        let n = self.sg.tensors.len();
        let at = self.here();
        let outputs: Vec<TensorId> = outs.into_iter().map(|t| self.add_tensor(t)).collect();
        self.sg.operators.push(Operator { op, inputs, outputs: outputs.clone(), intermediates: Vec::new() });
        let last = self.sg.operators.len() - 1;
        let node = &self.sg.operators[last];
        let checked = check_node(&self.sg, last, self.index)
            .and_then(|()| check_control_flow(&model.model.subgraphs, &self.sg, node, at))
            .and_then(|()| {
                check_crossings(&model.model.subgraphs, &self.sg, node).map_err(|detail| ValidationError::Op { at, op: node.op.name().to_string(), detail })
            });
        if let Err(e) = checked {
            self.sg.operators.pop();
            self.sg.tensors.truncate(n);
            return Err(e);
        }
        Ok(outputs)
    }

    /// `IF`: runs subgraph `then_subgraph` of `model` on `args` when the
    /// one-element bool `cond` is true, else subgraph `else_subgraph`, and
    /// returns the outputs, one per output of the branches.
    ///
    /// Both branches must be finished in `model` (the builder this
    /// subgraph is finished into), take the types of `args` and give the
    /// same number and types of outputs. Each output takes the type and
    /// quantization of the then branch's, and its shape where the branches
    /// agree (dynamic dimensions where they differ). The runtime copies
    /// stored integers across, so a quantized arg and the branch inputs it
    /// lands in, and the branches' outputs, need the same parameters (a
    /// [`ValidationError`] otherwise).
    ///
    /// ```
    /// use tflite_forge::eval::{Evaluator, Value};
    /// use tflite_forge::{DType, ModelBuilder, Shape};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut main = b.reserve_subgraph("main");
    /// let mut branch = |b: &mut ModelBuilder, name: &str, k: f32| {
    ///     let mut g = b.subgraph(name);
    ///     let x = g.input("x", DType::F32, [3]);
    ///     let c = g.constant_f32("k", [1], &[k]);
    ///     let y = g.mul(x, c)?;
    ///     g.output("y", y);
    ///     b.finish_subgraph(g)
    /// };
    /// let double = branch(&mut b, "double", 2.0)?;
    /// let negate = branch(&mut b, "negate", -1.0)?;
    ///
    /// let flag = main.input("flag", DType::Bool, Shape::scalar());
    /// let x = main.input("x", DType::F32, [3]);
    /// let y = main.if_then_else(&b, flag, double, negate, &[x])?;
    /// main.output("y", y[0]);
    /// b.finish_subgraph(main)?;
    /// let model = b.finish()?;
    ///
    /// let x = Value::from_f32(vec![3], vec![1.0, 2.0, 3.0]);
    /// let yes = Value::new(DType::Bool, vec![], vec![1.0]);
    /// let no = Value::new(DType::Bool, vec![], vec![0.0]);
    /// let eval = Evaluator::new(&model);
    /// assert_eq!(eval.run(0, &[yes, x.clone()])?[0].to_f32(), [2.0, 4.0, 6.0]);
    /// assert_eq!(eval.run(0, &[no, x])?[0].to_f32(), [-1.0, -2.0, -3.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ValidationError::Subgraph`] when a branch is not finished in
    /// `model`; [`ValidationError::Op`] when `cond` is not one bool or the
    /// branches do not fit `args` or each other.
    pub fn if_then_else(
        &mut self,
        model: &ModelBuilder,
        cond: TensorId,
        then_subgraph: u32,
        else_subgraph: u32,
        args: &[TensorId],
    ) -> Result<Vec<TensorId>, ValidationError> {
        let op = Op::If { then_subgraph, else_subgraph };
        let then_sg = self.callee(model, &op, "then", then_subgraph)?;
        let else_sg = self.callee(model, &op, "else", else_subgraph)?;
        for id in std::iter::once(cond).chain(args.iter().copied()) {
            self.existing(&op, id)?;
        }
        let base = format!("if_{}", self.sg.operators.len());
        let mut outs = Vec::with_capacity(then_sg.outputs.len());
        for (k, id) in then_sg.outputs.iter().enumerate() {
            let t = then_sg.tensor(*id).ok_or_else(|| self.err(&op, format!("then subgraph {then_subgraph} output {k} does not exist")))?;
            let mut shape = t.shape.clone();
            if let Some(e) = else_sg.outputs.get(k).and_then(|id| else_sg.tensor(*id)) {
                shape = join(&t.shape, &e.shape).ok_or_else(|| {
                    self.err(&op, format!("output {k} has shape {} in the then branch but {} in the else branch; the ranks must agree", t.shape, e.shape))
                })?;
            }
            let mut out = Tensor::new(format!("{base}_{k}"), t.dtype, shape);
            out.quantization = t.quantization.clone();
            outs.push(out);
        }
        let inputs = std::iter::once(cond).chain(args.iter().copied()).map(Some).collect();
        self.add_control_flow(model, op, inputs, outs)
    }

    /// `WHILE`: while subgraph `cond_subgraph` of `model` gives true on the
    /// loop variables, runs subgraph `body_subgraph` on them for their next
    /// values; returns the final values, one per variable of `vars` (the
    /// initial values).
    ///
    /// Both subgraphs must be finished in `model` (the builder this
    /// subgraph is finished into). The cond subgraph takes the variables
    /// and gives one bool; the body takes the variables and gives each's
    /// next value, of the same type. Each output takes the type and
    /// quantization of its variable, and its shape where the body keeps it
    /// (dynamic dimensions where the body's output differs). The runtime
    /// copies stored integers between them, so a quantized variable, the
    /// cond's and body's inputs and the body's next value need the same
    /// parameters (a [`ValidationError`] otherwise).
    ///
    /// ```
    /// use tflite_forge::eval::{Evaluator, Value};
    /// use tflite_forge::{DType, ModelBuilder, Shape};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut main = b.reserve_subgraph("main"); // index 0, finished last
    ///
    /// // cond(i, acc): i < 10, as (10 - i) != 0 for i counting up from 0.
    /// let mut cond = b.subgraph("cond");
    /// let i = cond.input("i", DType::I32, Shape::scalar());
    /// cond.input("acc", DType::F32, [2]);
    /// let ten = cond.constant_i32("ten", Shape::scalar(), &[10]);
    /// let left = cond.sub(ten, i)?;
    /// let go = cond.cast(left, DType::Bool)?;
    /// cond.output("go", go);
    /// let cond = b.finish_subgraph(cond)?;
    ///
    /// // body(i, acc) = (i + 1, acc * 2)
    /// let mut body = b.subgraph("body");
    /// let i = body.input("i", DType::I32, Shape::scalar());
    /// let acc = body.input("acc", DType::F32, [2]);
    /// let one = body.constant_i32("one", Shape::scalar(), &[1]);
    /// let two = body.constant_f32("two", Shape::scalar(), &[2.0]);
    /// let next_i = body.add(i, one)?;
    /// let next_acc = body.mul(acc, two)?;
    /// body.output("next_i", next_i);
    /// body.output("next_acc", next_acc);
    /// let body = b.finish_subgraph(body)?;
    ///
    /// let x = main.input("x", DType::F32, [2]);
    /// let zero = main.constant_i32("zero", Shape::scalar(), &[0]);
    /// let out = main.while_loop(&b, cond, body, &[zero, x])?;
    /// main.output("y", out[1]);
    /// b.finish_subgraph(main)?;
    /// let model = b.finish()?;
    ///
    /// let y = Evaluator::new(&model).run(0, &[Value::from_f32(vec![2], vec![1.0, -0.5])])?;
    /// assert_eq!(y[0].to_f32(), [1024.0, -512.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ValidationError::Subgraph`] when a subgraph is not finished in
    /// `model`; [`ValidationError::Op`] when the subgraphs do not fit the
    /// variables.
    pub fn while_loop(&mut self, model: &ModelBuilder, cond_subgraph: u32, body_subgraph: u32, vars: &[TensorId]) -> Result<Vec<TensorId>, ValidationError> {
        let op = Op::While { cond_subgraph, body_subgraph };
        self.callee(model, &op, "cond", cond_subgraph)?;
        let body = self.callee(model, &op, "body", body_subgraph)?;
        let base = format!("while_{}", self.sg.operators.len());
        let mut outs = Vec::with_capacity(vars.len());
        for (k, id) in vars.iter().enumerate() {
            let v = self.existing(&op, *id)?;
            let mut shape = v.shape.clone();
            if let Some(b) = body.outputs.get(k).and_then(|id| body.tensor(*id)) {
                shape = join(&v.shape, &b.shape).ok_or_else(|| {
                    self.err(&op, format!("loop variable {k} has shape {} but the body gives shape {}; the ranks must agree", v.shape, b.shape))
                })?;
            }
            let mut out = Tensor::new(format!("{base}_{k}"), v.dtype, shape);
            out.quantization = v.quantization.clone();
            outs.push(out);
        }
        self.add_control_flow(model, op, vars.iter().copied().map(Some).collect(), outs)
    }

    /// `CALL_ONCE`: runs subgraph `init_subgraph` of `model` (no inputs or
    /// outputs; it initializes resource variables) on the model's first
    /// invocation. The subgraph must be finished in `model`.
    ///
    /// ```
    /// use tflite_forge::{DType, ModelBuilder, Op};
    /// let mut b = ModelBuilder::new();
    /// let mut main = b.reserve_subgraph("main");
    /// let init = b.subgraph("init");
    /// let init = b.finish_subgraph(init)?;
    /// main.call_once(&b, init)?;
    /// let x = main.input("x", DType::F32, [1]);
    /// main.output("x", x);
    /// b.finish_subgraph(main)?;
    /// let model = b.finish()?;
    /// assert_eq!(model.subgraphs[0].operators[0].op, Op::CallOnce { init_subgraph: 1 });
    /// # Ok::<(), tflite_forge::ValidationError>(())
    /// ```
    ///
    /// # Errors
    /// [`ValidationError::Subgraph`] when the subgraph is not finished in
    /// `model`; [`ValidationError::Op`] when it has inputs or outputs.
    pub fn call_once(&mut self, model: &ModelBuilder, init_subgraph: u32) -> Result<(), ValidationError> {
        let op = Op::CallOnce { init_subgraph };
        self.callee(model, &op, "init", init_subgraph)?;
        self.add_control_flow(model, op, Vec::new(), Vec::new()).map(|_| ())
    }
}
