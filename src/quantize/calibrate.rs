//! Calibration: the float range of every tensor of subgraph 0 over a
//! representative dataset, recorded with the reference evaluator.

use std::collections::HashMap;

use super::methods::{CalibrationMethod, Histogram};
use super::QuantizeError;
use crate::eval::{Evaluator, Value};
use crate::model::{DType, Model};

/// Observed float ranges, per tensor index of subgraph 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranges {
    min: Vec<f32>,
    max: Vec<f32>,
    seen: Vec<bool>,
}

impl Ranges {
    /// The `(min, max)` seen for a tensor, if any finite value was.
    pub fn get(&self, tensor: usize) -> Option<(f32, f32)> {
        self.seen.get(tensor).copied().unwrap_or(false).then(|| (self.min[tensor], self.max[tensor]))
    }

    /// The tensors with a range, and the range, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, (f32, f32))> + '_ {
        (0..self.seen.len()).filter_map(|i| self.get(i).map(|r| (i, r)))
    }

    /// Widens these ranges by `other`'s.
    fn merge(&mut self, other: &Ranges) {
        for t in 0..self.seen.len() {
            if let Some((lo, hi)) = other.get(t) {
                if self.seen[t] {
                    self.min[t] = self.min[t].min(lo);
                    self.max[t] = self.max[t].max(hi);
                } else {
                    (self.min[t], self.max[t], self.seen[t]) = (lo, hi, true);
                }
            }
        }
    }

    /// Widens the range of `tensor` by the finite values of `values`
    /// (float32 values, held exactly as `f64`).
    fn record(&mut self, tensor: usize, values: &[f64]) {
        // Branch-free minimum and maximum, so the loop vectorizes; values
        // that are not finite as float32 are left out.
        let fold = |(lo, hi): (f64, f64), v: &f64| {
            let finite = (*v as f32).abs() < f32::INFINITY;
            (if finite && *v < lo { *v } else { lo }, if finite && *v > hi { *v } else { hi })
        };
        let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), fold);
        if lo > hi {
            return;
        }
        let (lo, hi) = (lo as f32, hi as f32);
        let (Some(seen), Some(min), Some(max)) = (self.seen.get_mut(tensor), self.min.get_mut(tensor), self.max.get_mut(tensor)) else {
            return;
        };
        if *seen {
            *min = min.min(lo);
            *max = max.max(hi);
        } else {
            (*min, *max, *seen) = (lo, hi, true);
        }
    }
}

/// Runs every sample through subgraph 0 and records the range of each
/// float input and op output.
///
/// ```
/// use tflite_forge::eval::Value;
/// use tflite_forge::quantize::calibrate;
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [2]);
/// let y = g.relu(x).unwrap();
/// g.output("y", y);
/// b.finish_subgraph(g).unwrap();
/// let model = b.finish().unwrap();
/// let ranges = calibrate(&model, &[vec![Value::from_f32(vec![2], vec![-3.0, 2.0])]]).unwrap();
/// assert_eq!(ranges.get(x.index()), Some((-3.0, 2.0)));
/// assert_eq!(ranges.get(y.index()), Some((0.0, 2.0)));
/// ```
pub fn calibrate(model: &Model, dataset: &[Vec<Value>]) -> Result<Ranges, QuantizeError> {
    calibrate_threads(model, dataset, CalibrationMethod::MinMax, 255.0, 0, 0, &mut |_, _| {}).map(|(r, _)| r)
}

/// [`calibrate`] on `threads` threads (0: one per core). Samples run in
/// parallel; ranges are minima and maxima, so the result is the same for
/// any thread count.
///
/// ```
/// use tflite_forge::eval::Value;
/// use tflite_forge::quantize::calibrate_with_threads;
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [2]);
/// let y = g.relu(x).unwrap();
/// g.output("y", y);
/// b.finish_subgraph(g).unwrap();
/// let model = b.finish().unwrap();
/// let data: Vec<Vec<Value>> = (0..6).map(|i| vec![Value::from_f32(vec![2], vec![-(i as f32), i as f32 / 2.0])]).collect();
/// let one = calibrate_with_threads(&model, &data, 1).unwrap();
/// assert_eq!(one, calibrate_with_threads(&model, &data, 4).unwrap());
/// assert_eq!(one.get(y.index()), Some((0.0, 2.5)));
/// ```
///
/// # Errors
/// As [`calibrate`].
pub fn calibrate_with_threads(model: &Model, dataset: &[Vec<Value>], threads: usize) -> Result<Ranges, QuantizeError> {
    calibrate_threads(model, dataset, CalibrationMethod::MinMax, 255.0, threads, 0, &mut |_, _| {}).map(|(r, _)| r)
}

/// [`calibrate`] with a [`CalibrationMethod`] for quantization to
/// `levels` steps (255 for int8, 65535 for int16), calling
/// `progress(samples_done, total)` after each sample.
///
/// ```
/// use tflite_forge::eval::Value;
/// use tflite_forge::quantize::{calibrate_with, CalibrationMethod};
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [100]);
/// let y = g.relu(x)?;
/// g.output("y", y);
/// b.finish_subgraph(g)?;
/// let model = b.finish()?;
/// // One sample in a thousand holds a spike of 1000.
/// let data: Vec<Vec<Value>> = (0..1000)
///     .map(|i| vec![Value::from_f32(vec![100], (0..100).map(|k| if i == 7 && k == 0 { 1000.0 } else { k as f32 / 100.0 }).collect())])
///     .collect();
/// let mut done = 0;
/// let r = calibrate_with(&model, &data, CalibrationMethod::Percentile(99.99), 255.0, &mut |d, _| done = d)?;
/// let (_, hi) = r.get(y.index()).unwrap();
/// assert!(hi < 1.1, "{hi}");
/// assert_eq!(done, 1000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`calibrate`].
pub fn calibrate_with(
    model: &Model,
    dataset: &[Vec<Value>],
    method: CalibrationMethod,
    levels: f64,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Ranges, QuantizeError> {
    calibrate_threads(model, dataset, method, levels, 0, 0, progress).map(|(r, _)| r)
}

/// What one sample contributes: its ranges, for the histogram methods its
/// histograms, and for the samples the error report will compare, its float
/// pass.
struct Seen {
    ranges: Ranges,
    hist: Vec<Option<Histogram>>,
    pass: Option<FloatPass>,
}

/// The float model's results on one sample, kept from calibration for the
/// error report so the report need not run the float model again: each
/// float32 op output (by tensor index of subgraph 0) as `f32`, and the
/// subgraph outputs.
#[derive(Debug, Clone)]
pub(crate) struct FloatPass {
    pub values: HashMap<usize, Vec<f32>>,
    pub outputs: Vec<Value>,
}

impl FloatPass {
    fn elements(&self) -> usize {
        self.values.values().map(Vec::len).sum::<usize>() + self.outputs.iter().map(Value::len).sum::<usize>()
    }
}

/// The most elements of float passes calibration keeps for the report
/// (512 MiB of `f32`); samples past it are run again by the report.
const KEPT_PASS_ELEMENTS: usize = 1 << 27;

/// The calibration engine: samples run in parallel in rounds of a few per
/// thread; each round's results merge in sample order, then `progress` is
/// told. Ranges merge as minima and maxima and histograms exactly (see
/// `Histogram::merge`), so nothing depends on the thread count. Also gives
/// the float passes of the first `keep` samples for the error report (see
/// [`FloatPass`]), `None` for those past [`KEPT_PASS_ELEMENTS`].
pub(crate) fn calibrate_threads(
    model: &Model,
    dataset: &[Vec<Value>],
    method: CalibrationMethod,
    levels: f64,
    threads: usize,
    keep: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Ranges, Vec<Option<FloatPass>>), QuantizeError> {
    let sg = model.subgraphs.first().ok_or_else(|| QuantizeError::Model("no subgraph".into()))?;
    let n = sg.tensors.len();
    let empty = Ranges { min: vec![0.0; n], max: vec![0.0; n], seen: vec![false; n] };
    let histograms = method.needs_histogram();
    let fresh = || Seen { ranges: empty.clone(), hist: vec![None; if histograms { n } else { 0 }], pass: None };
    let mut total = fresh();
    let mut passes = Vec::new();
    let mut kept = 0usize;
    let eval = Evaluator::new(model);
    let workers = super::parallel::resolve(threads);
    let round = workers.max(1) * 4;
    let mut done = 0;
    for (ci, chunk) in dataset.chunks(round).enumerate() {
        let base = ci * round;
        let per_sample = super::parallel::map(chunk.len(), workers, |i| {
            let si = base + i;
            let sample = &chunk[i];
            let mut seen = fresh();
            let record = |seen: &mut Seen, t: usize, values: &[f64]| {
                seen.ranges.record(t, values);
                if let Some(h) = seen.hist.get_mut(t) {
                    h.get_or_insert_with(Histogram::new).add(values);
                }
            };
            if sample.len() != sg.inputs.len() {
                return Err(QuantizeError::Calibration(format!(
                    "sample {si} has {} values for {} inputs",
                    sample.len(),
                    sg.inputs.len()
                )));
            }
            for (v, t) in sample.iter().zip(&sg.inputs) {
                if v.dtype != DType::F32 {
                    return Err(QuantizeError::Calibration(format!("sample {si}: input {t} is {}, expected FLOAT32", v.dtype)));
                }
                record(&mut seen, t.index(), &v.data);
            }
            let mut values = HashMap::new();
            let outputs = eval.run_observed(0, sample, &mut |oi, k, value| {
                if let Some(t) = sg.operators.get(oi).and_then(|o| o.outputs.get(k))
                    && value.dtype == DType::F32
                {
                    record(&mut seen, t.index(), &value.data);
                    if si < keep {
                        values.insert(t.index(), value.to_f32());
                    }
                }
            })?;
            if si < keep {
                seen.pass = Some(FloatPass { values, outputs });
            }
            Ok(seen)
        })?;
        for mut s in per_sample {
            if let Some(p) = s.pass.take() {
                kept += p.elements();
                passes.push((kept <= KEPT_PASS_ELEMENTS).then_some(p));
            }
            total.ranges.merge(&s.ranges);
            for (acc, h) in total.hist.iter_mut().zip(s.hist) {
                if let Some(h) = h {
                    match acc {
                        Some(a) => a.merge(&h),
                        None => *acc = Some(h),
                    }
                }
            }
            done += 1;
        }
        progress(done, dataset.len());
    }
    let mut ranges = total.ranges;
    for (t, h) in total.hist.iter().enumerate() {
        if let (Some(h), Some((lo, hi))) = (h, ranges.get(t)) {
            (ranges.min[t], ranges.max[t]) = h.range(method, lo, hi, levels);
        }
    }
    Ok((ranges, passes))
}
