//! Calibration: the float range of every tensor of subgraph 0 over a
//! representative dataset, recorded with the reference evaluator.

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

    fn record(&mut self, tensor: usize, values: &[f64]) {
        let Some(seen) = self.seen.get_mut(tensor) else { return };
        for v in values.iter().map(|v| *v as f32).filter(|v| v.is_finite()) {
            if *seen {
                self.min[tensor] = self.min[tensor].min(v);
                self.max[tensor] = self.max[tensor].max(v);
            } else {
                (self.min[tensor], self.max[tensor], *seen) = (v, v, true);
            }
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
    calibrate_with(model, dataset, CalibrationMethod::MinMax, 255.0, &mut |_, _| {})
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
    let sg = model.subgraphs.first().ok_or_else(|| QuantizeError::Model("no subgraph".into()))?;
    let n = sg.tensors.len();
    let mut ranges = Ranges { min: vec![0.0; n], max: vec![0.0; n], seen: vec![false; n] };
    let mut hist: Vec<Option<Histogram>> = vec![None; if method.needs_histogram() { n } else { 0 }];
    let mut record = |ranges: &mut Ranges, t: usize, values: &[f64]| {
        ranges.record(t, values);
        if let Some(h) = hist.get_mut(t) {
            h.get_or_insert_with(Histogram::new).add(values);
        }
    };
    let eval = Evaluator::new(model);
    for (si, sample) in dataset.iter().enumerate() {
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
            record(&mut ranges, t.index(), &v.data);
        }
        eval.run_observed(0, sample, &mut |oi, k, value| {
            if let Some(t) = sg.operators.get(oi).and_then(|o| o.outputs.get(k))
                && value.dtype == DType::F32
            {
                record(&mut ranges, t.index(), &value.data);
            }
        })?;
        progress(si + 1, dataset.len());
    }
    for (t, h) in hist.iter().enumerate() {
        if let (Some(h), Some((lo, hi))) = (h, ranges.get(t)) {
            (ranges.min[t], ranges.max[t]) = h.range(method, lo, hi, levels);
        }
    }
    Ok(ranges)
}
