//! Calibration: the float range of every tensor of subgraph 0 over a
//! representative dataset, recorded with the reference evaluator.

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
/// float input and op output, on one thread per core (see
/// [`calibrate_with_threads`]).
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
///
/// # Errors
/// [`QuantizeError::Calibration`] when a sample does not fit the inputs,
/// [`QuantizeError::Eval`] when the evaluator fails on one (the first
/// failing sample in dataset order is reported).
pub fn calibrate(model: &Model, dataset: &[Vec<Value>]) -> Result<Ranges, QuantizeError> {
    calibrate_with_threads(model, dataset, 0)
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
    let sg = model.subgraphs.first().ok_or_else(|| QuantizeError::Model("no subgraph".into()))?;
    let n = sg.tensors.len();
    let empty = Ranges { min: vec![0.0; n], max: vec![0.0; n], seen: vec![false; n] };
    let eval = Evaluator::new(model);
    let per_sample = super::parallel::map(dataset.len(), threads, |si| {
        let sample = &dataset[si];
        let mut ranges = empty.clone();
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
            ranges.record(t.index(), &v.data);
        }
        eval.run_observed(0, sample, &mut |oi, k, value| {
            if let Some(t) = sg.operators.get(oi).and_then(|o| o.outputs.get(k))
                && value.dtype == DType::F32
            {
                ranges.record(t.index(), &value.data);
            }
        })?;
        Ok(ranges)
    })?;
    let mut ranges = empty;
    for r in &per_sample {
        ranges.merge(r);
    }
    Ok(ranges)
}
