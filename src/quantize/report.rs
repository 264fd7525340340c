//! Per-layer error of a quantized model against its float original, both
//! run in the reference evaluator on the same samples.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::calibrate::FloatPass;
use super::params::{int_range, quantize_value};
use super::QuantizeError;
use crate::eval::{Evaluator, Value};
use crate::model::{DType, Model};

/// The error of one op output.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LayerError {
    /// Operator index in the float model's subgraph 0.
    pub operator: usize,
    /// The op name.
    pub op: String,
    /// The output tensor's name.
    pub tensor: String,
    /// Its quantization scale in the quantized model (0 if not quantized).
    pub scale: f32,
    /// Largest absolute error.
    pub max_abs_error: f64,
    /// Signal-to-noise ratio in dB: `10 log10(Σ ref² / Σ (q − ref)²)`
    /// (infinite when exact).
    pub snr_db: f64,
    /// Cosine similarity of the flattened values.
    pub cosine: f64,
}

/// Per-layer errors, in op order, and the figures of the model outputs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QuantReport {
    /// One entry per float op output of the original model.
    pub layers: Vec<LayerError>,
    /// Samples compared: the first `samples` of the dataset.
    pub samples: usize,
    /// Samples in the dataset given; more than [`QuantReport::samples`] when
    /// [`quantize`](super::quantize) bounded the report with
    /// [`QuantizeOptions::report_samples`](super::QuantizeOptions::report_samples).
    pub dataset_samples: usize,
    /// The worst cosine similarity over the model outputs.
    pub output_cosine: f64,
    /// The worst SNR (dB) over the model outputs.
    pub output_snr_db: f64,
}

impl QuantReport {
    /// The layer with the lowest SNR: where accuracy is lost first.
    pub fn worst(&self) -> Option<&LayerError> {
        self.layers.iter().min_by(|a, b| a.snr_db.total_cmp(&b.snr_db))
    }
}

impl fmt::Display for QuantReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let of = if self.dataset_samples > self.samples { format!(" (the first of {})", self.dataset_samples) } else { String::new() };
        writeln!(
            f,
            "quantization error over {} sample(s){of}: outputs cosine {:.6}, SNR {:.1} dB",
            self.samples, self.output_cosine, self.output_snr_db
        )?;
        writeln!(f, "{:>4}  {:<22} {:<28} {:>10} {:>10} {:>9} {:>9}", "op", "type", "tensor", "scale", "max|err|", "SNR dB", "cosine")?;
        for l in &self.layers {
            let name: String = l.tensor.chars().take(28).collect();
            writeln!(
                f,
                "{:>4}  {:<22} {:<28} {:>10.3e} {:>10.3e} {:>9.1} {:>9.6}",
                l.operator, l.op, name, l.scale, l.max_abs_error, l.snr_db, l.cosine
            )?;
        }
        if let Some(w) = self.worst() {
            writeln!(f, "lowest SNR: op {} {} ({:?}), {:.1} dB", w.operator, w.op, w.tensor, w.snr_db)?;
        }
        Ok(())
    }
}

#[derive(Default, Clone)]
struct Acc {
    signal: f64,
    noise: f64,
    dot: f64,
    qq: f64,
    max_abs: f64,
}

impl Acc {
    /// Adds the sums of a later sample.
    fn merge(&mut self, o: &Acc) {
        self.signal += o.signal;
        self.noise += o.noise;
        self.dot += o.dot;
        self.qq += o.qq;
        self.max_abs = self.max_abs.max(o.max_abs);
    }

    fn add(&mut self, reference: &[f32], got: &[f64]) {
        for (r, q) in reference.iter().zip(got) {
            let r = f64::from(*r);
            let e = q - r;
            self.signal += r * r;
            self.noise += e * e;
            self.dot += r * q;
            self.qq += q * q;
            self.max_abs = self.max_abs.max(e.abs());
        }
    }
    fn snr_db(&self) -> f64 {
        if self.noise == 0.0 { f64::INFINITY } else { 10.0 * (self.signal / self.noise).log10() }
    }
    fn cosine(&self) -> f64 {
        let d = (self.signal * self.qq).sqrt();
        if d == 0.0 { if self.signal == self.qq { 1.0 } else { 0.0 } } else { self.dot / d }
    }
}

/// A float value as the quantized model's input tensor `t` takes it: for
/// an int8, uint8 or int16 input, quantized with its (per-tensor)
/// parameters; otherwise unchanged.
///
/// ```
/// use tflite_forge::eval::Value;
/// use tflite_forge::quantize::quantize_input;
/// use tflite_forge::{DType, Quantization, Tensor};
/// let t = Tensor::new("x", DType::U8, [3]).with_quantization(Quantization::per_tensor(0.5, 10));
/// let q = quantize_input(&Value::from_f32(vec![3], vec![0.0, 1.0, 500.0]), &t);
/// assert_eq!(q.to_f32(), [10.0, 12.0, 255.0]);
/// ```
pub fn quantize_input(v: &Value, t: &crate::model::Tensor) -> Value {
    match (int_range(t.dtype), &t.quantization) {
        (Some((lo, hi)), Some(q)) if matches!(t.dtype, DType::I8 | DType::U8 | DType::I16) && !q.scale.is_empty() => {
            let data = v.data.iter().map(|x| quantize_value(*x as f32, q.scale[0], q.zero_point[0], lo, hi) as f64).collect();
            Value::new(t.dtype, v.shape.clone(), data).with_quantization(q.clone())
        }
        _ => v.clone(),
    }
}

fn real(v: &Value) -> Result<Vec<f64>, QuantizeError> {
    if v.quantization.is_some() { Ok(v.dequantized()?) } else { Ok(v.data.clone()) }
}

/// Runs `float` and its quantized version `quant` (from [`super::quantize`])
/// on the same float samples in the reference evaluator and reports the
/// error of every op output: use it to check a model on data other than the
/// calibration set. Integer inputs of `quant` get the samples quantized with
/// their parameters. Samples run on one thread per core (see
/// [`report_with_threads`]).
///
/// # Errors
/// [`QuantizeError::Eval`] when a model fails on a sample (the first
/// failing sample in dataset order is reported).
pub fn report(float: &Model, quant: &Model, dataset: &[Vec<Value>]) -> Result<super::QuantReport, QuantizeError> {
    report_with_threads(float, quant, dataset, 0)
}

/// [`report`] on `threads` threads (0: one per core). Each sample's sums
/// are added in dataset order, so the report is the same for any thread
/// count.
///
/// ```
/// use tflite_forge::eval::Value;
/// use tflite_forge::quantize::{quantize, report_with_threads, IoType, QuantizeOptions};
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [1, 3]);
/// let y = g.tanh(x)?;
/// g.output("y", y);
/// b.finish_subgraph(g)?;
/// let model = b.finish()?;
/// let data: Vec<Vec<Value>> = (0..5).map(|i| vec![Value::from_f32(vec![1, 3], vec![i as f32 / 4.0, -0.3, 0.9])]).collect();
/// let q = quantize(&model, &QuantizeOptions::int8(IoType::Float), &data)?;
/// let one = report_with_threads(&model, &q.model, &data, 1)?;
/// assert_eq!(one, report_with_threads(&model, &q.model, &data, 3)?);
/// assert_eq!(one.samples, 5);
/// assert!(one.output_cosine > 0.999, "{one}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`report`].
pub fn report_with_threads(float: &Model, quant: &Model, dataset: &[Vec<Value>], threads: usize) -> Result<super::QuantReport, QuantizeError> {
    report_with_passes(float, quant, dataset, threads, &[])
}

/// [`report_with_threads`], taking the float model's results on sample `i`
/// from `passes[i]` when calibration kept them.
pub(crate) fn report_with_passes(
    float: &Model,
    quant: &Model,
    dataset: &[Vec<Value>],
    threads: usize,
    passes: &[Option<FloatPass>],
) -> Result<super::QuantReport, QuantizeError> {
    if float.subgraphs.is_empty() || quant.subgraphs.is_empty() {
        return Err(QuantizeError::Model("no subgraph".into()));
    }
    let (fsg, qsg) = (&float.subgraphs[0], &quant.subgraphs[0]);
    // In the quantized model, the op that wrote a float tensor now writes
    // the same index, or (at the outputs) a new int8 tensor read by the
    // boundary op: map each original tensor to where its value is.
    let boundary_src: HashMap<usize, usize> = qsg
        .operators
        .iter()
        .filter(|o| matches!(o.op, crate::model::Op::Quantize | crate::model::Op::Dequantize))
        .filter_map(|o| Some((o.outputs.first()?.index(), o.inputs.first().copied().flatten()?.index())))
        // (not the QUANTIZE after an op left in float, whose input is float)
        .filter(|(_, src)| qsg.tensors.get(*src).is_some_and(|t| t.quantization.is_some()))
        .filter(|(out, _)| qsg.outputs.iter().any(|t| t.index() == *out))
        .collect();
    let locate = |t: usize| boundary_src.get(&t).copied().unwrap_or(t);
    // For each tensor of the quantized model, the float op outputs
    // (operator, output, float tensor) whose values it holds.
    let mut compared: HashMap<usize, Vec<(usize, usize, usize)>> = HashMap::new();
    for (oi, node) in fsg.operators.iter().enumerate() {
        for (k, t) in node.outputs.iter().enumerate() {
            compared.entry(locate(t.index())).or_default().push((oi, k, t.index()));
        }
    }

    let (fe, qe) = (Evaluator::new(float), Evaluator::new(quant));
    let per_sample = super::parallel::map(dataset.len(), threads, |si| {
        let sample = &dataset[si];
        let mut accs: Vec<Vec<Acc>> = fsg.operators.iter().map(|o| vec![Acc::default(); o.outputs.len()]).collect();
        let mut outs: Vec<Acc> = vec![Acc::default(); fsg.outputs.len()];
        // The float op outputs (exactly, as f32), from calibration or run
        // here; each is compared once, when the quantized model computes the
        // same tensor.
        let ran;
        let pass = match passes.get(si) {
            Some(Some(p)) => p,
            _ => {
                let mut values: HashMap<usize, Vec<f32>> = HashMap::new();
                let outputs = fe.run_observed(0, sample, &mut |oi, k, v| {
                    if let Some(t) = fsg.operators.get(oi).and_then(|o| o.outputs.get(k))
                        && v.dtype == DType::F32
                    {
                        values.insert(t.index(), v.to_f32());
                    }
                })?;
                ran = FloatPass { values, outputs };
                &ran
            }
        };
        let (fvals, fout) = (&pass.values, &pass.outputs);
        let mut compared_done: HashSet<usize> = HashSet::new();
        let qin: Vec<Value> = sample.iter().zip(&qsg.inputs).map(|(v, t)| quantize_input(v, &qsg.tensors[t.index()])).collect();
        let mut failure = None;
        let qout = qe.run_observed(0, &qin, &mut |oi, k, v| {
            let Some(qt) = qsg.operators.get(oi).and_then(|o| o.outputs.get(k)) else { return };
            let Some(targets) = compared.get(&qt.index()) else { return };
            if !targets.iter().any(|(_, _, t)| fvals.contains_key(t) && !compared_done.contains(t)) {
                return;
            }
            match real(v) {
                Ok(q) => {
                    for &(foi, fk, ft) in targets {
                        if let Some(f) = fvals.get(&ft)
                            && compared_done.insert(ft)
                        {
                            accs[foi][fk].add(f, &q);
                        }
                    }
                }
                Err(e) => failure = failure.take().or(Some(e)),
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        for (i, (f, q)) in fout.iter().zip(&qout).enumerate() {
            outs[i].add(&f.to_f32(), &real(q)?);
        }
        Ok((accs, outs))
    })?;
    let mut accs: Vec<Vec<Acc>> = fsg.operators.iter().map(|o| vec![Acc::default(); o.outputs.len()]).collect();
    let mut outs: Vec<Acc> = vec![Acc::default(); fsg.outputs.len()];
    for (sample_accs, sample_outs) in &per_sample {
        for (a, s) in accs.iter_mut().flatten().zip(sample_accs.iter().flatten()) {
            a.merge(s);
        }
        for (a, s) in outs.iter_mut().zip(sample_outs) {
            a.merge(s);
        }
    }
    let mut layers = Vec::new();
    for (oi, node) in fsg.operators.iter().enumerate() {
        for (k, t) in node.outputs.iter().enumerate() {
            if fsg.tensors[t.index()].dtype != DType::F32 {
                continue;
            }
            let a = &accs[oi][k];
            let qt = &qsg.tensors[locate(t.index())];
            layers.push(LayerError {
                operator: oi,
                op: node.op.name().to_string(),
                tensor: fsg.tensors[t.index()].name.clone(),
                scale: qt.quantization.as_ref().and_then(|q| q.scale.first().copied()).unwrap_or(0.0),
                max_abs_error: a.max_abs,
                snr_db: a.snr_db(),
                cosine: a.cosine(),
            });
        }
    }
    Ok(super::QuantReport {
        layers,
        samples: dataset.len(),
        dataset_samples: dataset.len(),
        output_cosine: outs.iter().map(Acc::cosine).fold(1.0, f64::min),
        output_snr_db: outs.iter().map(Acc::snr_db).fold(f64::INFINITY, f64::min),
    })
}
