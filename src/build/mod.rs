//! Builders: construct a valid [`Model`] with inferred output tensors.
//!
//! Each op method checks its inputs and creates its output tensor with the
//! inferred type and shape, so most mistakes surface at the call that makes
//! them. [`ModelBuilder::finish`] validates the whole model.

mod control;
mod ops_generated;

use crate::error::{Location, ValidationError};
use crate::infer::infer;
use crate::model::*;
use crate::validate::{check_node, validate, validate_subgraph};

/// Builds a [`Model`] from subgraphs and signatures.
///
/// ```
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [2, 2]);
/// let y = g.tanh(x).unwrap();
/// g.output("y", y);
/// let index = b.finish_subgraph(g).unwrap();
/// b.signature("serving_default", index);
/// let model = b.finish().unwrap();
/// assert_eq!(model.signatures[0].inputs[0].0, "x");
/// ```
#[derive(Debug, Default)]
pub struct ModelBuilder {
    model: Model,
    io_names: Vec<(Vec<(String, TensorId)>, Vec<(String, TensorId)>)>,
    /// Indices taken by [`ModelBuilder::reserve_subgraph`] and not finished yet.
    reserved: Vec<usize>,
}

impl ModelBuilder {
    /// An empty builder.
    pub fn new() -> ModelBuilder {
        ModelBuilder::default()
    }

    /// Sets the model description.
    pub fn description(&mut self, text: impl Into<String>) -> &mut Self {
        self.model.description = text.into();
        self
    }

    /// Starts a subgraph; hand it back with [`ModelBuilder::finish_subgraph`],
    /// which gives it the next free index.
    pub fn subgraph(&self, name: impl Into<String>) -> SubgraphBuilder {
        SubgraphBuilder {
            index: self.model.subgraphs.len(),
            reserved: false,
            sg: Subgraph { name: name.into(), ..Default::default() },
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// Starts a subgraph whose index is taken now, though it is finished
    /// later: the way to build a main subgraph 0 that calls subgraphs (with
    /// [`SubgraphBuilder::while_loop`], say), which must be finished before
    /// the call is added. [`ModelBuilder::finish`] fails while a reserved
    /// subgraph is unfinished.
    ///
    /// ```
    /// use tflite_forge::{DType, ModelBuilder};
    /// let mut b = ModelBuilder::new();
    /// let main = b.reserve_subgraph("main");
    /// let mut other = b.subgraph("other");
    /// let x = other.input("x", DType::F32, [1]);
    /// other.output("x", x);
    /// assert_eq!(b.finish_subgraph(other)?, 1);
    /// assert_eq!(b.finish_subgraph(main)?, 0);
    /// # Ok::<(), tflite_forge::ValidationError>(())
    /// ```
    pub fn reserve_subgraph(&mut self, name: impl Into<String>) -> SubgraphBuilder {
        let index = self.model.subgraphs.len();
        let name = name.into();
        self.model.subgraphs.push(Subgraph { name: name.clone(), ..Default::default() });
        self.io_names.push((Vec::new(), Vec::new()));
        self.reserved.push(index);
        SubgraphBuilder {
            index,
            reserved: true,
            sg: Subgraph { name, ..Default::default() },
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// Validates and adds a subgraph, returning its index: the next free
    /// one, or the one reserved for it by [`ModelBuilder::reserve_subgraph`].
    pub fn finish_subgraph(&mut self, g: SubgraphBuilder) -> Result<u32, ValidationError> {
        if !g.reserved {
            let index = self.model.subgraphs.len();
            validate_subgraph(&g.sg, index)?;
            self.model.subgraphs.push(g.sg);
            self.io_names.push((g.inputs, g.outputs));
            return Ok(index as u32);
        }
        let index = g.index;
        let slot = self.reserved.iter().position(|r| *r == index).ok_or_else(|| ValidationError::Subgraph {
            at: Location { subgraph: index, operator: None, tensor: None },
            detail: "this builder reserved no such subgraph (was it reserved by another ModelBuilder?)".into(),
        })?;
        validate_subgraph(&g.sg, index)?;
        self.reserved.swap_remove(slot);
        self.model.subgraphs[index] = g.sg;
        self.io_names[index] = (g.inputs, g.outputs);
        Ok(index as u32)
    }

    /// Subgraph `index`, if it is finished (added and not just reserved).
    fn finished(&self, index: u32) -> Option<&Subgraph> {
        let i = index as usize;
        self.model.subgraphs.get(i).filter(|_| !self.reserved.contains(&i))
    }

    /// Adds a signature over subgraph `subgraph`, using the names given to
    /// its inputs and outputs.
    pub fn signature(&mut self, key: impl Into<String>, subgraph: u32) -> &mut Self {
        let mut s = SignatureDef::new(key, subgraph);
        if let Some((i, o)) = self.io_names.get(subgraph as usize) {
            s.inputs = i.clone();
            s.outputs = o.clone();
        }
        self.model.signatures.push(s);
        self
    }

    /// Adds a metadata entry.
    pub fn metadata(&mut self, name: impl Into<String>, data: ConstData) -> &mut Self {
        self.model.metadata.push(Metadata { name: name.into(), data });
        self
    }

    /// Validates and returns the model.
    pub fn finish(self) -> Result<Model, ValidationError> {
        if let Some(&index) = self.reserved.iter().min() {
            return Err(ValidationError::Subgraph {
                at: Location { subgraph: index, operator: None, tensor: None },
                detail: format!("subgraph {index} ({:?}) was reserved but never finished", self.model.subgraphs[index].name),
            });
        }
        validate(&self.model)?;
        Ok(self.model)
    }
}

/// Builds one subgraph. Op methods return the id of the output tensor.
#[derive(Debug)]
pub struct SubgraphBuilder {
    index: usize,
    /// Whether `index` was reserved ([`ModelBuilder::reserve_subgraph`]).
    reserved: bool,
    sg: Subgraph,
    inputs: Vec<(String, TensorId)>,
    outputs: Vec<(String, TensorId)>,
}

impl SubgraphBuilder {
    fn err(&self, op: &Op, detail: String) -> ValidationError {
        ValidationError::Op {
            at: Location { subgraph: self.index, operator: Some(self.sg.operators.len()), tensor: None },
            op: op.name().to_string(),
            detail,
        }
    }

    /// Adds a tensor and returns its id.
    pub fn add_tensor(&mut self, t: Tensor) -> TensorId {
        self.sg.tensors.push(t);
        TensorId((self.sg.tensors.len() - 1) as u32)
    }

    /// The tensor with this id.
    ///
    /// # Panics
    /// If `id` was not returned by this builder.
    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.sg.tensors[id.index()]
    }

    /// Mutable access to a tensor, e.g. to rename it or set quantization.
    ///
    /// # Panics
    /// If `id` was not returned by this builder.
    pub fn tensor_mut(&mut self, id: TensorId) -> &mut Tensor {
        &mut self.sg.tensors[id.index()]
    }

    /// Sets a tensor's quantization parameters.
    pub fn set_quantization(&mut self, id: TensorId, q: Quantization) -> &mut Self {
        self.tensor_mut(id).quantization = Some(q);
        self
    }

    /// Adds a subgraph input named `name` (also its signature name).
    pub fn input(&mut self, name: &str, dtype: DType, shape: impl Into<Shape>) -> TensorId {
        let id = self.add_tensor(Tensor::new(name, dtype, shape));
        self.sg.inputs.push(id);
        self.inputs.push((name.to_string(), id));
        id
    }

    /// Marks `id` as a subgraph output named `name`; the tensor is renamed.
    pub fn output(&mut self, name: &str, id: TensorId) -> &mut Self {
        self.tensor_mut(id).name = name.to_string();
        self.sg.outputs.push(id);
        self.outputs.push((name.to_string(), id));
        self
    }

    /// Adds a constant tensor.
    pub fn constant(&mut self, name: &str, dtype: DType, shape: impl Into<Shape>, data: ConstData) -> TensorId {
        self.add_tensor(Tensor::new(name, dtype, shape).with_data(data))
    }

    /// Adds a float32 constant.
    pub fn constant_f32(&mut self, name: &str, shape: impl Into<Shape>, values: &[f32]) -> TensorId {
        self.constant(name, DType::F32, shape, ConstData::from_slice(values))
    }

    /// Adds an int32 constant.
    pub fn constant_i32(&mut self, name: &str, shape: impl Into<Shape>, values: &[i32]) -> TensorId {
        self.constant(name, DType::I32, shape, ConstData::from_slice(values))
    }

    /// Adds an operator with explicit inputs and outputs, checking its
    /// tensor indices and its signature.
    pub fn add_operator(&mut self, node: Operator) -> Result<(), ValidationError> {
        self.sg.operators.push(node);
        let last = self.sg.operators.len() - 1;
        let res = check_node(&self.sg, last, self.index);
        if res.is_err() {
            self.sg.operators.pop();
        }
        res
    }

    /// Applies `op` to `inputs` (`None` for an omitted optional input) and
    /// returns its single output, with inferred type and shape.
    ///
    /// For quantized inputs the output gets default quantization: the fixed
    /// parameters the kernels require (`SOFTMAX` and `LOGISTIC`: 1/256 with
    /// zero point −128 for int8; `TANH`: 1/128 with zero point 0; int8
    /// `SVDF`: the input's scale with zero point −128, as its kernel applies
    /// its RELU as the int8 lower bound), otherwise those of the data
    /// operand (the first, except `FILL`'s value, `SPLIT`'s and `SELECT`'s
    /// `x`, `SCATTER_ND`'s updates, `SPARSE_TO_DENSE`'s values, `ONE_HOT`'s
    /// on value and `TRANSPOSE_CONV`'s input); set the real ones with
    /// [`SubgraphBuilder::set_quantization`].
    pub fn apply(&mut self, op: Op, inputs: &[Option<TensorId>]) -> Result<TensorId, ValidationError> {
        self.apply_with(op, inputs, None, None)
    }

    /// Like [`SubgraphBuilder::apply`], with an explicit output type and
    /// quantization.
    pub fn apply_with(
        &mut self,
        op: Op,
        inputs: &[Option<TensorId>],
        dtype: Option<DType>,
        quantization: Option<Quantization>,
    ) -> Result<TensorId, ValidationError> {
        let n = self.sg.tensors.len();
        for t in inputs.iter().flatten() {
            if t.index() >= n {
                return Err(self.err(&op, format!("input tensor {t} does not exist")));
            }
        }
        let ts: Vec<Option<&Tensor>> = inputs.iter().map(|t| t.map(|t| &self.sg.tensors[t.index()])).collect();
        let inferred = infer(&op, &ts).map_err(|e| self.err(&op, e))?;
        let Some(mut outs) = inferred else {
            return Err(self.err(&op, "cannot infer the output; use add_operator with explicit outputs".into()));
        };
        if outs.len() != 1 {
            return Err(self.err(&op, format!("has {} outputs; use add_operator", outs.len())));
        }
        let o = outs.remove(0);
        // The operand whose type and parameters the output follows.
        let first = ts.get(data_operand(&op)).copied().flatten();
        let dtype = dtype.or(o.dtype).or(first.map(|t| t.dtype)).unwrap_or(DType::F32);
        let name = format!("{}_{}", op.name().to_lowercase(), self.sg.operators.len());
        let mut t = Tensor::new(name, dtype, o.shape);
        t.quantization = quantization.or_else(|| default_quantization(&op, dtype, first));
        let out = self.add_tensor(t);
        self.sg.operators.push(Operator { op, inputs: inputs.to_vec(), outputs: vec![out], intermediates: Vec::new() });
        if let Err(e) = check_node(&self.sg, self.sg.operators.len() - 1, self.index) {
            self.sg.operators.pop();
            self.sg.tensors.pop();
            return Err(e);
        }
        Ok(out)
    }

    /// Applies an op with several outputs (`SPLIT_V`) to `inputs` and
    /// returns its outputs, with inferred types and shapes. Quantized
    /// outputs take the input's per-tensor parameters.
    pub fn apply_multi(&mut self, op: Op, inputs: &[Option<TensorId>]) -> Result<Vec<TensorId>, ValidationError> {
        let n = self.sg.tensors.len();
        for t in inputs.iter().flatten() {
            if t.index() >= n {
                return Err(self.err(&op, format!("input tensor {t} does not exist")));
            }
        }
        let ts: Vec<Option<&Tensor>> = inputs.iter().map(|t| t.map(|t| &self.sg.tensors[t.index()])).collect();
        let inferred = infer(&op, &ts).map_err(|e| self.err(&op, e))?;
        let Some(outs) = inferred else {
            return Err(self.err(&op, "cannot infer the outputs; use add_operator with explicit outputs".into()));
        };
        let first = ts.get(data_operand(&op)).copied().flatten().cloned();
        let base = format!("{}_{}", op.name().to_lowercase(), self.sg.operators.len());
        let mut ids = Vec::with_capacity(outs.len());
        for (k, o) in outs.into_iter().enumerate() {
            let dtype = o.dtype.or(first.as_ref().map(|t| t.dtype)).unwrap_or(DType::F32);
            let mut t = Tensor::new(format!("{base}_{k}"), dtype, o.shape);
            t.quantization = default_quantization(&op, dtype, first.as_ref());
            ids.push(self.add_tensor(t));
        }
        self.sg.operators.push(Operator { op, inputs: inputs.to_vec(), outputs: ids.clone(), intermediates: Vec::new() });
        if let Err(e) = check_node(&self.sg, self.sg.operators.len() - 1, self.index) {
            self.sg.operators.pop();
            self.sg.tensors.truncate(n);
            return Err(e);
        }
        Ok(ids)
    }

    /// `L2_POOL_2D`: `sqrt(mean(x²))` over each window of an NHWC float input.
    pub fn l2_pool2d(&mut self, x: TensorId, o: Pool2dOptions) -> Result<TensorId, ValidationError> {
        self.apply(Op::L2Pool2d(o), &[Some(x)])
    }

    /// Applies an op whose inputs are all present.
    fn unary(&mut self, op: Op, inputs: &[TensorId]) -> Result<TensorId, ValidationError> {
        let v: Vec<Option<TensorId>> = inputs.iter().copied().map(Some).collect();
        self.apply(op, &v)
    }

    /// `CONV_2D` with filter `[O, H, W, I]` and bias `[O]`. Without a bias
    /// a zero bias is added, since the runtime requires one.
    pub fn conv2d(&mut self, x: TensorId, filter: TensorId, bias: Option<TensorId>, o: Conv2dOptions) -> Result<TensorId, ValidationError> {
        let bias = match bias {
            Some(b) => b,
            None => self.zero_bias(x, filter, 0)?,
        };
        self.apply(Op::Conv2d(o), &[Some(x), Some(filter), Some(bias)])
    }

    /// `DEPTHWISE_CONV_2D` with filter `[1, H, W, C*M]` and bias `[C*M]`.
    /// Without a bias a zero bias is added, since the runtime requires one.
    pub fn depthwise_conv2d(&mut self, x: TensorId, filter: TensorId, bias: Option<TensorId>, o: DepthwiseConv2dOptions) -> Result<TensorId, ValidationError> {
        let bias = match bias {
            Some(b) => b,
            None => self.zero_bias(x, filter, 3)?,
        };
        self.apply(Op::DepthwiseConv2d(o), &[Some(x), Some(filter), Some(bias)])
    }

    /// A zero bias for a convolution whose output channels are dimension
    /// `axis` of the filter: float32 for float inputs, int32 (int64 for
    /// int16 inputs) with scale `input_scale × weight_scale` otherwise.
    fn zero_bias(&mut self, x: TensorId, filter: TensorId, axis: usize) -> Result<TensorId, ValidationError> {
        let (xt, wt) = (self.tensor(x).clone(), self.tensor(filter).clone());
        let err = |detail: String| ValidationError::Op {
            at: Location { subgraph: self.index, operator: Some(self.sg.operators.len()), tensor: None },
            op: "CONV_2D".into(),
            detail,
        };
        let n = wt.shape.dim(axis).and_then(|d| d.fixed()).ok_or_else(|| err(format!("filter {} has no fixed output channel count", wt.shape)))? as usize;
        let name = format!("{}_zero_bias", wt.name);
        if xt.dtype.is_float() {
            return Ok(self.constant_f32(&name, [n as u32], &vec![0.0; n]));
        }
        let (xq, wq) = match (&xt.quantization, &wt.quantization) {
            (Some(a), Some(b)) if !a.scale.is_empty() && !b.scale.is_empty() => (a.clone(), b.clone()),
            _ => return Err(err("quantized input or filter has no quantization parameters".into())),
        };
        let scales: Vec<f32> = (0..n).map(|i| xq.scale[0] * wq.scale.get(i).copied().unwrap_or(wq.scale[0])).collect();
        let q = if scales.len() > 1 { Quantization::per_axis(scales, vec![0; n], 0) } else { Quantization::per_tensor(scales[0], 0) };
        let (dtype, data) = if xt.dtype == DType::I16 {
            (DType::I64, ConstData::from_slice(&vec![0i64; n]))
        } else {
            (DType::I32, ConstData::from_slice(&vec![0i32; n]))
        };
        let id = self.constant(&name, dtype, [n as u32], data);
        self.set_quantization(id, q);
        Ok(id)
    }

    /// `FULLY_CONNECTED` with weights `[O, I]` and optional bias `[O]`.
    pub fn fully_connected(&mut self, x: TensorId, weights: TensorId, bias: Option<TensorId>, o: FullyConnectedOptions) -> Result<TensorId, ValidationError> {
        self.apply(Op::FullyConnected(o), &[Some(x), Some(weights), bias])
    }

    /// `ADD`.
    pub fn add(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Add(AddSubOptions::default()), &[a, b])
    }

    /// `SUB`.
    pub fn sub(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Sub(AddSubOptions::default()), &[a, b])
    }

    /// `MUL`.
    pub fn mul(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Mul(Activation::None), &[a, b])
    }

    /// `DIV`.
    pub fn div(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Div(Activation::None), &[a, b])
    }

    /// `MAX_POOL_2D`.
    pub fn max_pool2d(&mut self, x: TensorId, o: Pool2dOptions) -> Result<TensorId, ValidationError> {
        self.unary(Op::MaxPool2d(o), &[x])
    }

    /// `AVERAGE_POOL_2D`.
    pub fn average_pool2d(&mut self, x: TensorId, o: Pool2dOptions) -> Result<TensorId, ValidationError> {
        self.unary(Op::AveragePool2d(o), &[x])
    }

    /// `MEAN` over constant `axes`.
    pub fn mean(&mut self, x: TensorId, axes: &[i32], keep_dims: bool) -> Result<TensorId, ValidationError> {
        let name = format!("mean_axes_{}", self.sg.operators.len());
        let a = self.constant_i32(&name, [axes.len() as u32], axes);
        self.unary(Op::Mean { keep_dims }, &[x, a])
    }

    /// `RESHAPE` to a constant shape (one entry may be `-1`).
    pub fn reshape(&mut self, x: TensorId, shape: &[i32]) -> Result<TensorId, ValidationError> {
        let name = format!("reshape_shape_{}", self.sg.operators.len());
        let s = self.constant_i32(&name, [shape.len() as u32], shape);
        self.unary(Op::Reshape { new_shape: None }, &[x, s])
    }

    /// `TRANSPOSE` by a constant permutation.
    pub fn transpose(&mut self, x: TensorId, perm: &[i32]) -> Result<TensorId, ValidationError> {
        let name = format!("transpose_perm_{}", self.sg.operators.len());
        let p = self.constant_i32(&name, [perm.len() as u32], perm);
        self.unary(Op::Transpose, &[x, p])
    }

    /// `CONCATENATION` along `axis`.
    pub fn concatenation(&mut self, xs: &[TensorId], axis: i32) -> Result<TensorId, ValidationError> {
        self.unary(Op::Concatenation(ConcatenationOptions::new(axis)), xs)
    }

    /// `PAD` with constant `(before, after)` pairs, one per dimension.
    pub fn pad(&mut self, x: TensorId, pads: &[(i32, i32)]) -> Result<TensorId, ValidationError> {
        let flat: Vec<i32> = pads.iter().flat_map(|(a, b)| [*a, *b]).collect();
        let name = format!("pad_paddings_{}", self.sg.operators.len());
        let p = self.constant_i32(&name, [pads.len() as u32, 2], &flat);
        self.unary(Op::Pad, &[x, p])
    }

    /// `SOFTMAX` with `beta`.
    pub fn softmax(&mut self, x: TensorId, beta: f32) -> Result<TensorId, ValidationError> {
        self.unary(Op::Softmax { beta }, &[x])
    }

    /// `LOGISTIC`.
    pub fn logistic(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Logistic, &[x])
    }

    /// `RELU`.
    pub fn relu(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Relu, &[x])
    }

    /// `RELU6`.
    pub fn relu6(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Relu6, &[x])
    }

    /// `HARD_SWISH`.
    pub fn hard_swish(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::HardSwish, &[x])
    }

    /// `TANH`.
    pub fn tanh(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Tanh, &[x])
    }

    /// `QUANTIZE` to `dtype` with parameters `q`.
    pub fn quantize(&mut self, x: TensorId, dtype: DType, q: Quantization) -> Result<TensorId, ValidationError> {
        self.apply_with(Op::Quantize, &[Some(x)], Some(dtype), Some(q))
    }

    /// `DEQUANTIZE` to float32.
    pub fn dequantize(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Dequantize, &[x])
    }

    /// `MINIMUM`.
    pub fn minimum(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Minimum, &[a, b])
    }

    /// `MAXIMUM`.
    pub fn maximum(&mut self, a: TensorId, b: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Maximum, &[a, b])
    }

    /// `LEAKY_RELU` with slope `alpha` for negative inputs.
    pub fn leaky_relu(&mut self, x: TensorId, alpha: f32) -> Result<TensorId, ValidationError> {
        self.unary(Op::LeakyRelu { alpha }, &[x])
    }

    /// `PRELU` with slopes `alpha`, broadcast to `x`.
    pub fn prelu(&mut self, x: TensorId, alpha: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Prelu, &[x, alpha])
    }

    /// `GELU`, exact or with the tanh approximation.
    pub fn gelu(&mut self, x: TensorId, approximate: bool) -> Result<TensorId, ValidationError> {
        self.unary(Op::Gelu { approximate }, &[x])
    }

    /// `EXP`.
    pub fn exp(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Exp, &[x])
    }

    /// `SQRT`.
    pub fn sqrt(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Sqrt, &[x])
    }

    /// `RSQRT`.
    pub fn rsqrt(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Rsqrt, &[x])
    }

    /// `NEG`.
    pub fn neg(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Neg, &[x])
    }

    /// `ABS`.
    pub fn abs(&mut self, x: TensorId) -> Result<TensorId, ValidationError> {
        self.unary(Op::Abs, &[x])
    }

    /// `CAST` to `dtype` (options record both types).
    pub fn cast(&mut self, x: TensorId, dtype: DType) -> Result<TensorId, ValidationError> {
        let from = self.tensor(x).dtype;
        self.apply_with(Op::Cast(CastOptions::new(from, dtype)), &[Some(x)], Some(dtype), None)
    }

    /// `SPLIT_V` of `x` along `axis` into pieces of `sizes` (one may be -1).
    pub fn split_v(&mut self, x: TensorId, sizes: &[i32], axis: i32) -> Result<Vec<TensorId>, ValidationError> {
        let k = self.sg.operators.len();
        let s = self.constant_i32(&format!("split_v_sizes_{k}"), [sizes.len() as u32], sizes);
        let a = self.constant_i32(&format!("split_v_axis_{k}"), Shape::scalar(), &[axis]);
        let num_splits = i32::try_from(sizes.len()).unwrap_or(i32::MAX);
        self.apply_multi(Op::SplitV { num_splits }, &[Some(x), Some(s), Some(a)])
    }

    /// `STRIDED_SLICE` with constant `begin`, `end` and `strides`.
    pub fn strided_slice(&mut self, x: TensorId, begin: &[i32], end: &[i32], strides: &[i32], o: StridedSliceOptions) -> Result<TensorId, ValidationError> {
        let k = self.sg.operators.len();
        let b = self.constant_i32(&format!("strided_slice_begin_{k}"), [begin.len() as u32], begin);
        let e = self.constant_i32(&format!("strided_slice_end_{k}"), [end.len() as u32], end);
        let s = self.constant_i32(&format!("strided_slice_strides_{k}"), [strides.len() as u32], strides);
        self.unary(Op::StridedSlice(o), &[x, b, e, s])
    }

    /// `SLICE` with constant `begin` and `size` (-1 takes the rest).
    pub fn slice(&mut self, x: TensorId, begin: &[i32], size: &[i32]) -> Result<TensorId, ValidationError> {
        let k = self.sg.operators.len();
        let b = self.constant_i32(&format!("slice_begin_{k}"), [begin.len() as u32], begin);
        let s = self.constant_i32(&format!("slice_size_{k}"), [size.len() as u32], size);
        self.unary(Op::Slice, &[x, b, s])
    }

    /// `GATHER` of `params` at `indices`.
    pub fn gather(&mut self, params: TensorId, indices: TensorId, o: GatherOptions) -> Result<TensorId, ValidationError> {
        self.unary(Op::Gather(o), &[params, indices])
    }

    /// `SQUEEZE` of `dims` (all size-1 dimensions when empty).
    pub fn squeeze(&mut self, x: TensorId, dims: &[i32]) -> Result<TensorId, ValidationError> {
        self.unary(Op::Squeeze { squeeze_dims: dims.to_vec() }, &[x])
    }

    fn resize(&mut self, op: Op, x: TensorId, size: [i32; 2]) -> Result<TensorId, ValidationError> {
        let s = self.constant_i32(&format!("resize_size_{}", self.sg.operators.len()), [2], &size);
        self.unary(op, &[x, s])
    }

    /// `RESIZE_BILINEAR` of an NHWC input to `[height, width]`.
    pub fn resize_bilinear(&mut self, x: TensorId, size: [i32; 2], o: ResizeOptions) -> Result<TensorId, ValidationError> {
        self.resize(Op::ResizeBilinear(o), x, size)
    }

    /// `RESIZE_NEAREST_NEIGHBOR` of an NHWC input to `[height, width]`.
    pub fn resize_nearest_neighbor(&mut self, x: TensorId, size: [i32; 2], o: ResizeOptions) -> Result<TensorId, ValidationError> {
        self.resize(Op::ResizeNearestNeighbor(o), x, size)
    }

    /// `TRANSPOSE_CONV` of an NHWC input with weights `[O, H, W, I]`, an
    /// optional bias `[O]` and the NHWC `output_shape`.
    pub fn transpose_conv(&mut self, x: TensorId, weights: TensorId, bias: Option<TensorId>, output_shape: [i32; 4], o: TransposeConvOptions) -> Result<TensorId, ValidationError> {
        let s = self.constant_i32(&format!("transpose_conv_output_shape_{}", self.sg.operators.len()), [4], &output_shape);
        self.apply(Op::TransposeConv(o), &[Some(s), Some(weights), Some(x), bias])
    }

    /// `BATCH_MATMUL`.
    pub fn batch_matmul(&mut self, a: TensorId, b: TensorId, o: BatchMatMulOptions) -> Result<TensorId, ValidationError> {
        self.unary(Op::BatchMatMul(o), &[a, b])
    }

    fn reducer(&mut self, op: Op, x: TensorId, axes: &[i32]) -> Result<TensorId, ValidationError> {
        let name = format!("{}_axes_{}", op.name().to_lowercase(), self.sg.operators.len());
        let a = self.constant_i32(&name, [axes.len() as u32], axes);
        self.unary(op, &[x, a])
    }

    /// `REDUCE_MAX` over constant `axes`.
    pub fn reduce_max(&mut self, x: TensorId, axes: &[i32], keep_dims: bool) -> Result<TensorId, ValidationError> {
        self.reducer(Op::ReduceMax { keep_dims }, x, axes)
    }

    /// `SUM` over constant `axes`.
    pub fn sum(&mut self, x: TensorId, axes: &[i32], keep_dims: bool) -> Result<TensorId, ValidationError> {
        self.reducer(Op::Sum { keep_dims }, x, axes)
    }

    fn paddings(&mut self, pads: &[(i32, i32)]) -> TensorId {
        let flat: Vec<i32> = pads.iter().flat_map(|(a, b)| [*a, *b]).collect();
        let name = format!("paddings_{}", self.sg.operators.len());
        self.constant_i32(&name, [pads.len() as u32, 2], &flat)
    }

    /// `PADV2` with constant `(before, after)` pairs and the padding value
    /// `value` (a one-element tensor of the input's type).
    pub fn pad_v2(&mut self, x: TensorId, pads: &[(i32, i32)], value: TensorId) -> Result<TensorId, ValidationError> {
        let p = self.paddings(pads);
        self.unary(Op::PadV2, &[x, p, value])
    }

    /// `MIRROR_PAD` with constant `(before, after)` pairs.
    pub fn mirror_pad(&mut self, x: TensorId, pads: &[(i32, i32)], mode: MirrorPadMode) -> Result<TensorId, ValidationError> {
        let p = self.paddings(pads);
        self.unary(Op::MirrorPad { mode }, &[x, p])
    }

    /// The subgraph built so far.
    pub fn subgraph(&self) -> &Subgraph {
        &self.sg
    }
}

/// The operand whose values an op's output holds, so whose type and
/// quantization the output follows by default: the data, not a condition,
/// axis, index, shape or size operand.
fn data_operand(op: &Op) -> usize {
    match op {
        // FILL(dims, value); SPLIT(axis, x); SELECT(cond, x, y);
        // SCATTER_ND(indices, updates, shape); EMBEDDING_LOOKUP(ids, table).
        Op::Fill | Op::Split(_) | Op::Select | Op::SelectV2 | Op::ScatterNd | Op::EmbeddingLookup => 1,
        // SPARSE_TO_DENSE(indices, shape, values, default);
        // ONE_HOT(indices, depth, on, off); TRANSPOSE_CONV(shape, w, x, b).
        Op::SparseToDense(_) | Op::OneHot(_) | Op::TransposeConv(_) | Op::Conv3dTranspose(_) => 2,
        _ => 0,
    }
}

/// The default quantization of an op's output for a quantized input.
fn default_quantization(op: &Op, dtype: DType, input: Option<&Tensor>) -> Option<Quantization> {
    let q = input?.quantization.as_ref()?;
    if q.scale.is_empty() || !matches!(dtype, DType::I8 | DType::U8 | DType::I16) {
        return None;
    }
    let fixed = |scale: f32, zp_i8: i64, zp_u8: i64, zp_i16: i64| {
        let zp = match dtype {
            DType::I8 => zp_i8,
            DType::U8 => zp_u8,
            _ => zp_i16,
        };
        Some(Quantization::per_tensor(scale, zp))
    };
    match op {
        Op::Softmax { .. } | Op::Logistic => match dtype {
            DType::I16 => fixed(1.0 / 32768.0, 0, 0, 0),
            _ => fixed(1.0 / 256.0, -128, 0, 0),
        },
        Op::Tanh => match dtype {
            DType::I16 => fixed(1.0 / 32768.0, 0, 0, 0),
            _ => fixed(1.0 / 128.0, 0, 128, 0),
        },
        Op::Dequantize => None,
        // The full-integer SVDF applies its RELU as the int8 lower bound
        // (svdf.cc), so its output's zero point is -128.
        Op::Svdf(_) if dtype == DType::I8 && q.scale.len() == 1 => Some(Quantization::per_tensor(q.scale[0], -128)),
        _ if q.scale.len() == 1 => Some(Quantization::per_tensor(q.scale[0], q.zero_point.first().copied().unwrap_or(0))),
        _ => None,
    }
}

