//! Running a whole subgraph.

mod control;

use std::sync::{Arc, OnceLock};

use super::value::{num_elements, parts};
use super::{convert, kernels, EvalError, Value, DEFAULT_MAX_ELEMENTS, DEFAULT_MAX_LIVE_ELEMENTS, DEFAULT_MAX_WHILE_ITERATIONS};
use crate::error::Location;
use crate::model::{DType, Model, Operator, Subgraph, Tensor, TensorId};
use crate::validate::DEFAULT_MAX_SUBGRAPH_DEPTH;

/// Runs the subgraphs of a [`Model`] on given inputs.
///
/// Operators run in order; every output shape is computed from the actual
/// input values, so inputs may differ from the declared shapes in dynamic
/// dimensions (a dynamic batch, say). Values are dropped after their last
/// reader.
///
/// Constants are decoded when first read and kept, for every later run, by
/// this evaluator and its clones (which share them, also across threads):
/// running many samples through one evaluator decodes the weights once. They
/// take about 8 bytes per constant element (12 for float32, int8 and uint8)
/// while it lives.
///
/// ```
/// use tflite_forge::eval::{Evaluator, Value};
/// use tflite_forge::{Dim, DType, FullyConnectedOptions, ModelBuilder, Shape};
///
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(2)]));
/// let w = g.constant_f32("w", [1, 2], &[1.0, 10.0]);
/// let y = g.fully_connected(x, w, None, FullyConnectedOptions::default())?;
/// g.output("y", y);
/// b.finish_subgraph(g)?;
/// let model = b.finish()?;
///
/// // A batch of 3, though the model was built without a batch size.
/// let x = Value::from_f32(vec![3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// let y = Evaluator::new(&model).run(0, &[x])?;
/// assert_eq!(y[0].shape, [3, 1]);
/// assert_eq!(y[0].to_f32(), [21.0, 43.0, 65.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Evaluator<'m> {
    model: &'m Model,
    max_elements: usize,
    max_live_elements: usize,
    max_while_iterations: usize,
    max_subgraph_depth: usize,
    constants: Arc<Constants>,
}

/// A constant decoded once: its value and, for float32, int8 and uint8, its
/// elements as `f32` (the form the matrix products take).
#[derive(Debug)]
struct Decoded {
    value: Value,
    f32: Option<Vec<f32>>,
}

/// The decoded constants, per subgraph and tensor, filled as they are first
/// read.
#[derive(Debug)]
struct Constants {
    subgraphs: Vec<Vec<OnceLock<Decoded>>>,
}

impl<'m> Evaluator<'m> {
    /// An evaluator of `model` with the element limit
    /// [`DEFAULT_MAX_ELEMENTS`], the live element limit
    /// [`DEFAULT_MAX_LIVE_ELEMENTS`], the loop limit
    /// [`DEFAULT_MAX_WHILE_ITERATIONS`] and the call depth limit
    /// [`DEFAULT_MAX_SUBGRAPH_DEPTH`].
    pub fn new(model: &'m Model) -> Self {
        Evaluator {
            model,
            max_elements: DEFAULT_MAX_ELEMENTS,
            max_live_elements: DEFAULT_MAX_LIVE_ELEMENTS,
            max_while_iterations: DEFAULT_MAX_WHILE_ITERATIONS,
            max_subgraph_depth: DEFAULT_MAX_SUBGRAPH_DEPTH,
            constants: Arc::new(Constants {
                subgraphs: model.subgraphs.iter().map(|sg| sg.tensors.iter().map(|_| OnceLock::new()).collect()).collect(),
            }),
        }
    }

    /// Sets the most iterations (runs of the body) any one `WHILE` may
    /// make; one more fails with [`EvalError::LoopLimit`], so a loop whose
    /// condition never turns false ends with an error instead of hanging.
    pub fn with_max_while_iterations(mut self, max_while_iterations: usize) -> Self {
        self.max_while_iterations = max_while_iterations;
        self
    }

    /// The loop limit.
    pub fn max_while_iterations(&self) -> usize {
        self.max_while_iterations
    }

    /// Sets how deep subgraph calls (`IF`, `WHILE`) may nest; a deeper call
    /// fails with [`EvalError::Limit`]. Each level takes some native stack.
    pub fn with_max_subgraph_depth(mut self, max_subgraph_depth: usize) -> Self {
        self.max_subgraph_depth = max_subgraph_depth;
        self
    }

    /// The call depth limit.
    pub fn max_subgraph_depth(&self) -> usize {
        self.max_subgraph_depth
    }

    /// Sets the largest number of elements any single value (input,
    /// constant or op output) may have; larger ones fail with
    /// [`EvalError::Limit`] before anything is allocated for them.
    pub fn with_max_elements(mut self, max_elements: usize) -> Self {
        self.max_elements = max_elements;
        self
    }

    /// The element limit.
    pub fn max_elements(&self) -> usize {
        self.max_elements
    }

    /// Sets the largest number of elements the values of one subgraph run
    /// may hold at once (inputs, decoded constants and op outputs not yet
    /// dropped after their last reader); a value that would pass it fails
    /// with [`EvalError::Limit`]. Subgraphs that control flow runs count on
    /// their own.
    ///
    /// ```
    /// use tflite_forge::eval::{EvalError, Evaluator, Value};
    /// use tflite_forge::{DType, ModelBuilder};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut g = b.subgraph("main");
    /// let x = g.input("x", DType::F32, [2]);
    /// let y = g.concatenation(&[x, x], 0)?;
    /// g.output("y", y);
    /// b.finish_subgraph(g)?;
    /// let model = b.finish()?;
    ///
    /// let x = Value::from_f32(vec![2], vec![1.0, 2.0]);
    /// // x (2 elements) and y (4) are alive together at the end.
    /// assert!(Evaluator::new(&model).with_max_live_elements(6).run(0, &[x.clone()]).is_ok());
    /// let err = Evaluator::new(&model).with_max_live_elements(5).run(0, &[x]).unwrap_err();
    /// assert!(matches!(err, EvalError::At { error, .. } if matches!(*error, EvalError::Limit { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_max_live_elements(mut self, max_live_elements: usize) -> Self {
        self.max_live_elements = max_live_elements;
        self
    }

    /// The live element limit.
    pub fn max_live_elements(&self) -> usize {
        self.max_live_elements
    }

    /// The model evaluated.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// Runs subgraph `sg` on `inputs` (one [`Value`] per subgraph input, in
    /// order). Returns the subgraph outputs, in order.
    ///
    /// Each input must have the input tensor's element type and rank, and
    /// match its fixed dimensions; its quantization parameters are taken
    /// from the tensor.
    ///
    /// ```
    /// use tflite_forge::eval::{Evaluator, Value};
    /// use tflite_forge::{DType, ModelBuilder};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut g = b.subgraph("main");
    /// let x = g.input("x", DType::F32, [1, 3]);
    /// let y = g.softmax(x, 1.0)?;
    /// g.output("y", y);
    /// b.finish_subgraph(g)?;
    /// let model = b.finish()?;
    ///
    /// let out = Evaluator::new(&model).run(0, &[Value::from_f32(vec![1, 3], vec![0.0, 0.0, 0.0])])?;
    /// assert_eq!(out[0].shape, [1, 3]);
    /// assert!(out[0].to_f32().iter().all(|p| (p - 1.0 / 3.0).abs() < 1e-7));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`EvalError::Input`] when the inputs do not fit the subgraph, and
    /// errors of the operators wrapped in [`EvalError::At`].
    pub fn run(&self, sg: usize, inputs: &[Value]) -> Result<Vec<Value>, EvalError> {
        self.run_observed(sg, inputs, &mut |_, _, _| {})
    }

    /// Like [`Evaluator::run`], but calls `observe(operator_index,
    /// output_index, &value)` for every op output of subgraph `sg` as it is
    /// computed (for calibration and per-layer error reports). The ops of
    /// subgraphs that `IF` and `WHILE` run are not observed; the outputs of
    /// the `IF` and `WHILE` ops themselves are.
    ///
    /// ```
    /// use tflite_forge::eval::{Evaluator, Value};
    /// use tflite_forge::{DType, ModelBuilder};
    ///
    /// let mut b = ModelBuilder::new();
    /// let mut g = b.subgraph("main");
    /// let x = g.input("x", DType::F32, [4]);
    /// let r = g.relu(x)?;
    /// let t = g.tanh(r)?;
    /// g.output("y", t);
    /// b.finish_subgraph(g)?;
    /// let model = b.finish()?;
    ///
    /// // Record the range of every op output.
    /// let mut ranges = Vec::new();
    /// let x = Value::from_f32(vec![4], vec![-2.0, -1.0, 0.5, 3.0]);
    /// Evaluator::new(&model).run_observed(0, &[x], &mut |op, _output, v| {
    ///     let lo = v.data.iter().copied().fold(f64::INFINITY, f64::min);
    ///     let hi = v.data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    ///     ranges.push((op, lo, hi));
    /// })?;
    /// assert_eq!(ranges.len(), 2);
    /// assert_eq!(ranges[0], (0, 0.0, 3.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Evaluator::run`].
    pub fn run_observed(
        &self,
        sg: usize,
        inputs: &[Value],
        observe: &mut dyn FnMut(usize, usize, &Value),
    ) -> Result<Vec<Value>, EvalError> {
        self.run_at(sg, inputs, observe, 0)
    }

    /// Runs subgraph `sg`, called through `depth` control-flow ops.
    fn run_at(
        &self,
        sg: usize,
        inputs: &[Value],
        observe: &mut dyn FnMut(usize, usize, &Value),
        depth: usize,
    ) -> Result<Vec<Value>, EvalError> {
        let subgraph = self.model.subgraphs.get(sg).ok_or_else(|| EvalError::Input {
            detail: format!("no subgraph {sg} (the model has {})", self.model.subgraphs.len()),
        })?;
        if inputs.len() != subgraph.inputs.len() {
            return Err(EvalError::Input {
                detail: format!("subgraph {sg} takes {} inputs, got {}", subgraph.inputs.len(), inputs.len()),
            });
        }
        let constants = self.constants.subgraphs.get(sg).map_or(&[][..], Vec::as_slice);
        let mut slots = Slots::new(subgraph, constants, self.max_live_elements);
        for (k, (&id, v)) in subgraph.inputs.iter().zip(inputs).enumerate() {
            let value = prepare_input(slots.tensor(id)?, v, k, self.max_elements)?;
            slots.set(id, value)?;
        }
        let uses = Uses::of(subgraph);
        for (i, node) in subgraph.operators.iter().enumerate() {
            let at = |error: EvalError| EvalError::At {
                location: Location { subgraph: sg, operator: Some(i), tensor: None },
                op: node.op.name().to_string(),
                error: Box::new(error),
            };
            let outputs = self.eval_node(&mut slots, node, depth).map_err(at)?;
            for (k, (&id, value)) in node.outputs.iter().zip(outputs).enumerate() {
                observe(i, k, &value);
                if uses.needed_after(id, i) {
                    slots.set(id, value).map_err(at)?;
                }
            }
            for &id in node.inputs.iter().flatten() {
                if !uses.needed_after(id, i) {
                    slots.clear(id);
                }
            }
        }
        subgraph.outputs.iter().map(|&id| slots.load(id, self.max_elements).cloned()).collect()
    }

    /// Evaluates one operator on the values in `slots`.
    fn eval_node(&self, slots: &mut Slots<'_>, node: &Operator, depth: usize) -> Result<Vec<Value>, EvalError> {
        for &id in node.inputs.iter().flatten() {
            slots.load(id, self.max_elements)?;
        }
        let args = node.inputs.iter().map(|id| id.map(|id| slots.get(id)).transpose()).collect::<Result<Vec<_>, _>>()?;
        let outs = node.outputs.iter().map(|&id| slots.tensor(id)).collect::<Result<Vec<_>, _>>()?;
        if let Some(result) = self.control_flow(&node.op, &args, &outs, depth) {
            return result;
        }
        let f32_copies: Vec<Option<&[f32]>> = node.inputs.iter().map(|id| id.and_then(|id| slots.f32_copy(id))).collect();
        kernels::eval_with(&node.op, &args, &f32_copies, &outs, self.max_elements)
    }
}

/// A tensor's value during a run: computed in this run, or a constant
/// decoded once by the evaluator.
enum Slot<'s> {
    Own(Value),
    Shared(&'s Decoded),
}

impl Slot<'_> {
    fn value(&self) -> &Value {
        match self {
            Slot::Own(v) => v,
            Slot::Shared(d) => &d.value,
        }
    }
}

/// The values of a subgraph's tensors during a run.
struct Slots<'s> {
    tensors: &'s [Tensor],
    /// The evaluator's decoded constants of this subgraph.
    constants: &'s [OnceLock<Decoded>],
    values: Vec<Option<Slot<'s>>>,
    /// The elements held by `values`.
    live: usize,
    /// The most `live` may reach.
    max_live: usize,
}

impl<'s> Slots<'s> {
    fn new(sg: &'s Subgraph, constants: &'s [OnceLock<Decoded>], max_live: usize) -> Self {
        Slots { tensors: &sg.tensors, constants, values: sg.tensors.iter().map(|_| None).collect(), live: 0, max_live }
    }

    /// Counts `n` more live elements, within the limit.
    fn admit(&mut self, n: usize, id: TensorId) -> Result<(), EvalError> {
        match self.live.checked_add(n) {
            Some(total) if total <= self.max_live => {
                self.live = total;
                Ok(())
            }
            _ => Err(EvalError::Limit {
                detail: format!(
                    "tensor {} needs {n} more elements while {} are live, over the limit of {} live elements",
                    id.0, self.live, self.max_live
                ),
            }),
        }
    }

    fn out_of_range(&self, id: TensorId) -> EvalError {
        EvalError::Graph { detail: format!("tensor index {} out of range ({} tensors)", id.0, self.tensors.len()) }
    }

    fn tensor(&self, id: TensorId) -> Result<&'s Tensor, EvalError> {
        self.tensors.get(id.index()).ok_or_else(|| self.out_of_range(id))
    }

    fn set(&mut self, id: TensorId, value: Value) -> Result<(), EvalError> {
        self.put(id, Slot::Own(value))
    }

    fn put(&mut self, id: TensorId, value: Slot<'s>) -> Result<(), EvalError> {
        let err = self.out_of_range(id);
        let n = value.value().len();
        let slot = self.values.get_mut(id.index()).ok_or(err)?;
        let old = slot.take().map_or(0, |v| v.value().len());
        self.live -= old;
        self.admit(n, id)?;
        if let Some(slot) = self.values.get_mut(id.index()) {
            *slot = Some(value);
        }
        Ok(())
    }

    fn clear(&mut self, id: TensorId) {
        if let Some(slot) = self.values.get_mut(id.index())
            && let Some(v) = slot.take()
        {
            self.live -= v.value().len();
        }
    }

    /// The `f32` elements of a float32 constant the evaluator decoded.
    fn f32_copy(&self, id: TensorId) -> Option<&'s [f32]> {
        match self.values.get(id.index()) {
            Some(Some(Slot::Shared(d))) => d.f32.as_deref(),
            _ => None,
        }
    }

    /// The decoded constant `id`, decoding it on its first use.
    fn constant(&self, id: TensorId, t: &Tensor, max_elements: usize) -> Result<&'s Decoded, EvalError> {
        let cell = self.constants.get(id.index()).ok_or_else(|| self.out_of_range(id))?;
        let decoded = match cell.get() {
            Some(d) => d,
            None => {
                let value = match t.quantization.as_ref().and_then(|q| q.details.as_ref()).and_then(|d| d.blockwise()) {
                    // Blockwise int4 weights, dequantized with their scales.
                    Some(b) => super::blockwise::dequantize(t, b, self.tensors, max_elements)?,
                    None => Value::from_const_limited(t, max_elements)?,
                };
                // The f32 form products take: float32 values, and the
                // stored integers of 8-bit quantized weights.
                let f32 = matches!(value.dtype, DType::F32 | DType::I8 | DType::U8).then(|| value.data.iter().map(|v| *v as f32).collect());
                // Another thread may have decoded it meanwhile: either copy
                // is the same.
                let _ = cell.set(Decoded { value, f32 });
                cell.get().ok_or_else(|| EvalError::Graph { detail: format!("constant tensor {} was not kept", id.0) })?
            }
        };
        let n = decoded.value.len();
        if n > max_elements {
            return Err(EvalError::Limit {
                detail: format!("constant tensor {} ({:?}) has {n} elements, over the limit of {max_elements}", id.0, t.name),
            });
        }
        Ok(decoded)
    }

    /// The value of `id`, decoding it first if it is a constant.
    fn load(&mut self, id: TensorId, max_elements: usize) -> Result<&Value, EvalError> {
        let t = self.tensor(id)?;
        let empty = self.values.get(id.index()).ok_or_else(|| EvalError::Graph { detail: "tensor slot missing".into() })?.is_none();
        if empty {
            let value = if t.is_variable && !t.is_constant() {
                // A variable tensor without data (an RNN or LSTM state)
                // starts at zero, as the runtime initializes it.
                Slot::Own(Value::zeros_for(t, None, max_elements)?)
            } else if t.is_constant() {
                Slot::Shared(self.constant(id, t, max_elements)?)
            } else {
                return Err(EvalError::Graph {
                    detail: format!("tensor {} ({:?}) is read before anything writes it", id.0, t.name),
                });
            };
            self.put(id, value)?;
        }
        self.get(id)
    }

    /// The value of `id`, which must have been loaded.
    fn get(&self, id: TensorId) -> Result<&Value, EvalError> {
        self.values
            .get(id.index())
            .and_then(Option::as_ref)
            .map(Slot::value)
            .ok_or_else(|| EvalError::Graph { detail: format!("tensor {} has no value", id.0) })
    }
}

/// When each tensor is last read, so values can be dropped early.
struct Uses {
    /// The index of the last operator reading each tensor.
    last_read: Vec<Option<usize>>,
    /// Whether each tensor is a subgraph output (kept to the end).
    is_output: Vec<bool>,
}

impl Uses {
    fn of(sg: &Subgraph) -> Uses {
        let n = sg.tensors.len();
        let mut last_read = vec![None; n];
        for (i, node) in sg.operators.iter().enumerate() {
            for id in node.inputs.iter().flatten() {
                if let Some(slot) = last_read.get_mut(id.index()) {
                    *slot = Some(i);
                }
            }
        }
        let mut is_output = vec![false; n];
        for id in &sg.outputs {
            if let Some(slot) = is_output.get_mut(id.index()) {
                *slot = true;
            }
        }
        Uses { last_read, is_output }
    }

    /// Whether tensor `id` is read after operator `i`, or is an output.
    fn needed_after(&self, id: TensorId, i: usize) -> bool {
        // Out-of-range ids are reported where they are read.
        let output = self.is_output.get(id.index()).copied().unwrap_or(true);
        let read_later = self.last_read.get(id.index()).copied().flatten().is_some_and(|last| last > i);
        output || read_later
    }
}

/// Checks a subgraph input against its tensor and gives it the tensor's
/// quantization.
fn prepare_input(t: &Tensor, v: &Value, k: usize, max_elements: usize) -> Result<Value, EvalError> {
    let err = |detail: String| EvalError::Input { detail: format!("input {k} ({:?}): {detail}", t.name) };
    if v.dtype != t.dtype {
        return Err(err(format!("has type {}, the model declares {}", v.dtype, t.dtype)));
    }
    if !(convert::is_supported(t.dtype) || convert::is_complex(t.dtype)) {
        return Err(EvalError::Unsupported { op: "input".into(), detail: format!("tensor {:?} has type {}", t.name, t.dtype) });
    }
    let n = num_elements(&v.shape, max_elements, format_args!("input {k} ({:?})", t.name))?;
    // Complex values hold two numbers (real, imaginary) per element.
    let numbers = n.saturating_mul(parts(t.dtype));
    if v.data.len() != numbers {
        return Err(err(format!("holds {} numbers, but shape {:?} of {} needs {numbers}", v.data.len(), v.shape, t.dtype)));
    }
    let declared = t.shape.dims();
    let unknown_rank = declared.is_empty() && !t.has_rank;
    let fits = declared.len() == v.shape.len()
        && declared.iter().zip(&v.shape).all(|(d, s)| d.fixed().is_none_or(|f| f as usize == *s));
    if !unknown_rank && !fits {
        return Err(err(format!("shape {:?} does not fit the declared shape {}", v.shape, t.shape)));
    }
    let mut data = v.data.clone();
    convert::normalize(t.dtype, &mut data).map_err(err)?;
    Ok(Value { dtype: t.dtype, shape: v.shape.clone(), data, quantization: t.quantization.clone() })
}
