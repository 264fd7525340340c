//! Which ops a full-integer quantization leaves in float on request: by
//! name, or the layers that lose the most accuracy in a first pass.

use super::{QuantReport, QuantizeError};
use crate::model::Subgraph;

/// Ops to leave in float in [`super::Mode::Int8`] and
/// [`super::Mode::Int16x8`].
///
/// The error of a layer in the [`QuantReport`] includes the error of
/// everything before it, so layers are ranked by what they add: the
/// **SNR drop**, the lowest SNR among the op's inputs (for a model input,
/// that of an ideal uniform quantizer, 6.02 dB per bit + 1.76 dB) minus the
/// op's output SNR. [`KeepFloat::worst`] and [`KeepFloat::drop_db`] quantize
/// once, rank, and quantize again with those ops in float.
///
/// ```
/// use tflite_forge::quantize::KeepFloat;
/// let k = KeepFloat::default().with_ops(["conv1", "HARD_SWISH"]).with_worst(2);
/// assert_eq!(k.ops, ["conv1", "HARD_SWISH"]);
/// assert!(!k.is_empty());
/// assert!(KeepFloat::default().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct KeepFloat {
    /// Ops named by an output tensor's name or by op type (`HARD_SWISH`,
    /// every op of that type), as `inspect` and the report show them.
    pub ops: Vec<String>,
    /// Keep this many layers with the largest SNR drop.
    pub worst: usize,
    /// Keep every layer whose SNR drop is over this many dB.
    pub drop_db: Option<f64>,
}

impl KeepFloat {
    /// Sets [`KeepFloat::ops`].
    pub fn with_ops<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ops: I) -> KeepFloat {
        self.ops = ops.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`KeepFloat::worst`].
    pub fn with_worst(mut self, n: usize) -> KeepFloat {
        self.worst = n;
        self
    }

    /// Sets [`KeepFloat::drop_db`].
    pub fn with_drop_db(mut self, db: f64) -> KeepFloat {
        self.drop_db = Some(db);
        self
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.worst == 0 && self.drop_db.is_none()
    }

    /// The ops named in [`KeepFloat::ops`].
    pub(super) fn named(&self, sg: &Subgraph) -> Result<Vec<bool>, QuantizeError> {
        let mut keep = vec![false; sg.operators.len()];
        for name in &self.ops {
            let mut found = false;
            for (oi, node) in sg.operators.iter().enumerate() {
                if node.op.name() == name || node.outputs.iter().any(|t| sg.tensors[t.index()].name == *name) {
                    keep[oi] = true;
                    found = true;
                }
            }
            if !found {
                return Err(QuantizeError::Options(format!("no op type or op output tensor is named {name:?}")));
            }
        }
        Ok(keep)
    }

    /// Adds the layers to keep by their error in `report`; whether any
    /// was added. `bits` is the activation width (8 or 16).
    pub(super) fn by_error(&self, sg: &Subgraph, report: &QuantReport, bits: f64, keep: &mut [bool]) -> bool {
        if self.worst == 0 && self.drop_db.is_none() {
            return false;
        }
        let drops = snr_drops(sg, report, 6.02 * bits + 1.76);
        let mut ranked: Vec<(usize, f64)> = drops.into_iter().enumerate().filter(|(oi, d)| !keep[*oi] && d.is_finite()).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut added = false;
        for (k, (oi, d)) in ranked.into_iter().enumerate() {
            if k < self.worst || self.drop_db.is_some_and(|t| d > t) {
                keep[oi] = true;
                added = true;
            }
        }
        added
    }
}

/// Per op: the lowest SNR among its inputs minus its output SNR (NaN for
/// ops the report does not cover).
pub(super) fn snr_drops(sg: &Subgraph, report: &QuantReport, input_snr: f64) -> Vec<f64> {
    let mut tensor_snr = vec![f64::NAN; sg.tensors.len()];
    for l in &report.layers {
        if let Some(node) = sg.operators.get(l.operator) {
            for t in &node.outputs {
                if sg.tensors[t.index()].name == l.tensor {
                    tensor_snr[t.index()] = l.snr_db;
                }
            }
        }
    }
    for t in &sg.inputs {
        tensor_snr[t.index()] = input_snr;
    }
    sg.operators
        .iter()
        .map(|node| {
            let out = node.outputs.iter().map(|t| tensor_snr[t.index()]).filter(|s| !s.is_nan()).fold(f64::NAN, f64::min);
            let inp = node
                .inputs
                .iter()
                .flatten()
                .map(|t| tensor_snr[t.index()])
                .filter(|s| !s.is_nan())
                .fold(f64::INFINITY, f64::min)
                .min(input_snr.max(out));
            if out.is_nan() || out == f64::INFINITY { f64::NAN } else { inp - out }
        })
        .collect()
}
