//! Calibration samples as users have them: in the ONNX input layout (NCHW,
//! what onnxruntime takes) or in the converted model's layout (NHWC), one
//! value per input or keyed by input name, one sample or several stacked
//! along a leading axis.
//!
//! The mapping comes from the model itself: the converter records
//! `name=NHWC` (an ONNX NCHW input given channels-last) or `name=ONNX` per
//! input in the `tflite_forge:io_layout` metadata entry. A model without it
//! (a `.tflite` from another tool) has one layout, its own.

use super::QuantizeError;
use crate::eval::Value;
use crate::model::{DType, Dim, Model};

/// The metadata entry the ONNX converter writes with each input's layout.
pub const IO_LAYOUT_METADATA: &str = "tflite_forge:io_layout";

/// Which layout calibration samples are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SampleLayout {
    /// Decided per sample from its shape: the ONNX layout when the shape
    /// fits it (also when it fits both), else the model's own layout.
    #[default]
    Auto,
    /// The ONNX model's input layout (NCHW for images).
    Onnx,
    /// The converted model's input layout (NHWC for images).
    Tflite,
}

/// One input of subgraph 0 as calibration sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InputSpec {
    /// The input's name (its signature name, else the tensor name).
    pub name: String,
    /// Its shape in the model.
    pub shape: Vec<Dim>,
    /// Whether the converter moved it from ONNX NCHW to NHWC: then the
    /// ONNX shape is `shape` permuted by `[0, 3, 1, 2]`.
    pub nchw_to_nhwc: bool,
}

impl InputSpec {
    /// The shape in the ONNX layout.
    pub fn onnx_shape(&self) -> Vec<Dim> {
        match (self.nchw_to_nhwc, self.shape.as_slice()) {
            (true, [n, h, w, c]) => vec![*n, *c, *h, *w],
            _ => self.shape.clone(),
        }
    }
}

fn fits(shape: &[usize], want: &[Dim]) -> bool {
    shape.len() == want.len() && shape.iter().zip(want).all(|(s, d)| d.fixed().is_none_or(|f| f as usize == *s))
}

fn show(dims: &[Dim]) -> String {
    let d: Vec<String> = dims.iter().map(|d| d.fixed().map_or("?".to_string(), |f| f.to_string())).collect();
    format!("[{}]", d.join(", "))
}

/// Turns samples in either layout into what subgraph 0 takes.
///
/// ```
/// use tflite_forge::eval::Value;
/// use tflite_forge::quantize::{SampleAdapter, SampleLayout};
/// use tflite_forge::{ConstData, DType, Metadata, ModelBuilder};
///
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [1, 2, 2, 3]);
/// let y = g.relu(x)?;
/// g.output("y", y);
/// b.finish_subgraph(g)?;
/// let mut model = b.finish()?;
/// // What the ONNX converter records for an NCHW input given as NHWC.
/// model.metadata.push(Metadata { name: "tflite_forge:io_layout".into(), data: ConstData::from_bytes(b"x=NHWC".to_vec()) });
///
/// let adapter = SampleAdapter::new(&model, SampleLayout::Auto)?;
/// // An NCHW sample [1, 3, 2, 2]: channel 0 is all 0, channel 1 all 1, channel 2 all 2.
/// let nchw = Value::from_f32(vec![1, 3, 2, 2], (0..12).map(|i| (i / 4) as f32).collect());
/// let sample = adapter.adapt(vec![nchw])?;
/// assert_eq!(sample[0].shape, [1, 2, 2, 3]);
/// assert_eq!(sample[0].to_f32()[..3], [0.0, 1.0, 2.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SampleAdapter {
    inputs: Vec<InputSpec>,
    layout: SampleLayout,
}

impl SampleAdapter {
    /// The inputs of `model`'s subgraph 0, with the layouts recorded in its
    /// [`IO_LAYOUT_METADATA`] entry (if any).
    ///
    /// # Errors
    /// [`QuantizeError::Model`] for a model without subgraphs.
    pub fn new(model: &Model, layout: SampleLayout) -> Result<SampleAdapter, QuantizeError> {
        let sg = model.subgraphs.first().ok_or_else(|| QuantizeError::Model("no subgraph".into()))?;
        let nhwc: Vec<String> = model
            .metadata
            .iter()
            .filter(|m| m.name == IO_LAYOUT_METADATA)
            .flat_map(|m| String::from_utf8_lossy(m.data.as_bytes()).lines().map(str::to_string).collect::<Vec<_>>())
            .filter_map(|l| l.strip_suffix("=NHWC").map(str::to_string))
            .collect();
        let signature = model.signatures.iter().find(|s| s.subgraph == 0);
        let inputs = sg
            .inputs
            .iter()
            .map(|t| {
                let tensor = &sg.tensors[t.index()];
                let name = signature
                    .and_then(|s| s.inputs.iter().find(|(_, id)| id == t).map(|(n, _)| n.clone()))
                    .unwrap_or_else(|| tensor.name.clone());
                let shape = tensor.shape.dims().to_vec();
                let nchw_to_nhwc = shape.len() == 4 && (nhwc.contains(&name) || nhwc.contains(&tensor.name));
                InputSpec { name, shape, nchw_to_nhwc }
            })
            .collect();
        Ok(SampleAdapter { inputs, layout })
    }

    /// The model's inputs.
    pub fn inputs(&self) -> &[InputSpec] {
        &self.inputs
    }

    fn expected(&self, spec: &InputSpec) -> String {
        if spec.nchw_to_nhwc {
            format!("{} (ONNX layout) or {} (converted layout)", show(&spec.onnx_shape()), show(&spec.shape))
        } else {
            format!("{} (the ONNX and converted layouts agree)", show(&spec.shape))
        }
    }

    /// One input value in the model's layout, as float32.
    fn input(&self, k: usize, v: Value) -> Result<Value, QuantizeError> {
        let spec = &self.inputs[k];
        let v = match v.dtype {
            DType::F32 => v,
            DType::F64 | DType::F16 => Value::new(DType::F32, v.shape, v.data.into_iter().map(|x| f64::from(x as f32)).collect()),
            other => return Err(QuantizeError::Calibration(format!("input {:?}: {other} sample, expected float32", spec.name))),
        };
        let (onnx, tfl) = (fits(&v.shape, &spec.onnx_shape()), fits(&v.shape, &spec.shape));
        let transpose = match self.layout {
            SampleLayout::Auto | SampleLayout::Onnx if onnx => spec.nchw_to_nhwc,
            SampleLayout::Auto | SampleLayout::Tflite if tfl => false,
            _ => {
                let which = match self.layout {
                    SampleLayout::Onnx => " in the ONNX layout",
                    SampleLayout::Tflite => " in the converted layout",
                    _ => "",
                };
                return Err(QuantizeError::Calibration(format!(
                    "input {:?}: sample shape {:?} does not fit{which}; expected {}",
                    spec.name,
                    v.shape,
                    self.expected(spec)
                )));
            }
        };
        Ok(if transpose { nchw_to_nhwc(&v) } else { v })
    }

    /// One sample, a value per input in order, in either layout.
    ///
    /// # Errors
    /// [`QuantizeError::Calibration`] naming the expected shapes in both
    /// layouts when a value fits neither, or for a wrong count or type.
    pub fn adapt(&self, sample: Vec<Value>) -> Result<Vec<Value>, QuantizeError> {
        if sample.len() != self.inputs.len() {
            return Err(QuantizeError::Calibration(format!("a sample has {} values for {} inputs", sample.len(), self.inputs.len())));
        }
        sample.into_iter().enumerate().map(|(k, v)| self.input(k, v)).collect()
    }

    /// One sample keyed by input name (as in an `.npz` file).
    ///
    /// # Errors
    /// As [`SampleAdapter::adapt`], and for a missing or unknown name.
    pub fn adapt_named(&self, sample: Vec<(String, Value)>) -> Result<Vec<Value>, QuantizeError> {
        self.adapt(self.order(sample)?)
    }

    /// Arrays keyed by input name, in input order (not yet adapted). With
    /// a single input, a single array of any name is taken for it (as
    /// `np.savez(path, x)` names it `arr_0`).
    ///
    /// # Errors
    /// [`QuantizeError::Calibration`] for a missing or unknown name.
    pub fn order(&self, mut sample: Vec<(String, Value)>) -> Result<Vec<Value>, QuantizeError> {
        if self.inputs.len() == 1 && sample.len() == 1 {
            return Ok(sample.into_iter().map(|(_, v)| v).collect());
        }
        let names: Vec<&str> = self.inputs.iter().map(|s| s.name.as_str()).collect();
        if let Some((n, _)) = sample.iter().find(|(n, _)| !names.contains(&n.as_str())) {
            return Err(QuantizeError::Calibration(format!("sample has an array {n:?}; the model's inputs are {names:?}")));
        }
        let mut ordered = Vec::with_capacity(names.len());
        for name in &names {
            let i = sample
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| QuantizeError::Calibration(format!("sample has no array for input {name:?}")))?;
            ordered.push(sample.swap_remove(i).1);
        }
        Ok(ordered)
    }

    /// Any number of samples (each a value per input, in either layout).
    ///
    /// # Errors
    /// As [`SampleAdapter::adapt`], naming the sample.
    pub fn adapt_all<I: IntoIterator<Item = Vec<Value>>>(&self, samples: I) -> Result<Vec<Vec<Value>>, QuantizeError> {
        samples
            .into_iter()
            .enumerate()
            .map(|(i, s)| self.adapt(s).map_err(|e| QuantizeError::Calibration(format!("sample {i}: {}", strip(&e)))))
            .collect()
    }

    /// Splits stacked arrays (one per input) into samples: an array with
    /// one axis more than the input holds N samples along axis 0; one of
    /// the input's rank whose leading size N differs from a fixed batch of
    /// 1 holds N samples of batch 1. Otherwise the arrays are one sample.
    ///
    /// # Errors
    /// [`QuantizeError::Calibration`] when inputs stack different counts.
    pub fn unstack(&self, arrays: Vec<Value>) -> Result<Vec<Vec<Value>>, QuantizeError> {
        if arrays.len() != self.inputs.len() {
            return Err(QuantizeError::Calibration(format!("{} arrays for {} inputs", arrays.len(), self.inputs.len())));
        }
        let mut columns: Vec<Vec<Value>> = Vec::new();
        for (v, spec) in arrays.into_iter().zip(&self.inputs) {
            let rank = spec.shape.len();
            let split = if v.shape.len() == rank + 1 {
                let n = v.shape[0];
                Some((n, v.shape[1..].to_vec()))
            } else if v.shape.len() == rank && rank > 0 && spec.shape[0] == Dim::Fixed(1) && v.shape[0] != 1 {
                let mut one = v.shape.clone();
                one[0] = 1;
                Some((v.shape[0], one))
            } else {
                None
            };
            columns.push(match split {
                Some((n, shape)) if n > 0 => {
                    let each = v.data.len() / n;
                    v.data.chunks(each.max(1)).take(n).map(|c| Value::new(v.dtype, shape.clone(), c.to_vec())).collect()
                }
                Some(_) => Vec::new(),
                None => vec![v],
            });
        }
        let n = columns.first().map_or(0, Vec::len);
        if columns.iter().any(|c| c.len() != n) {
            let counts: Vec<usize> = columns.iter().map(Vec::len).collect();
            return Err(QuantizeError::Calibration(format!("the inputs stack different numbers of samples: {counts:?}")));
        }
        let mut iters: Vec<_> = columns.into_iter().map(Vec::into_iter).collect();
        Ok((0..n).map(|_| iters.iter_mut().filter_map(Iterator::next).collect()).collect())
    }
}

fn strip(e: &QuantizeError) -> String {
    match e {
        QuantizeError::Calibration(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `[N, C, H, W]` → `[N, H, W, C]`.
fn nchw_to_nhwc(v: &Value) -> Value {
    let [n, c, h, w] = v.shape[..] else { return v.clone() };
    let mut data = Vec::with_capacity(v.data.len());
    for b in 0..n {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    data.push(v.data[((b * c + ch) * h + y) * w + x]);
                }
            }
        }
    }
    Value::new(v.dtype, vec![n, h, w, c], data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConstData, Metadata};
    use crate::ModelBuilder;

    fn model(layout: Option<&str>) -> Model {
        let mut b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let x = g.input("img", DType::F32, [1, 3, 3, 3]);
        let z = g.input("aux", DType::F32, [1, 4]);
        let y = g.relu(x).unwrap();
        let z = g.relu(z).unwrap();
        g.output("y", y);
        g.output("z", z);
        b.finish_subgraph(g).unwrap();
        let mut m = b.finish().unwrap();
        if let Some(l) = layout {
            m.metadata.push(Metadata { name: IO_LAYOUT_METADATA.into(), data: ConstData::from_bytes(l.as_bytes().to_vec()) });
        }
        m
    }

    fn img(shape: [usize; 4]) -> Value {
        Value::from_f32(shape.to_vec(), (0..27).map(|i| i as f32).collect())
    }

    #[test]
    fn onnx_layout_wins_when_both_fit_and_the_override_works() {
        let m = model(Some("img=NHWC\naux=ONNX\ny=NHWC"));
        let aux = Value::from_f32(vec![1, 4], vec![0.0; 4]);
        let auto = SampleAdapter::new(&m, SampleLayout::Auto).unwrap();
        assert!(auto.inputs()[0].nchw_to_nhwc && !auto.inputs()[1].nchw_to_nhwc);
        // [1,3,3,3] fits both: read as NCHW and transposed.
        let s = auto.adapt(vec![img([1, 3, 3, 3]), aux.clone()]).unwrap();
        assert_eq!(s[0].to_f32()[..4], [0.0, 9.0, 18.0, 1.0]);
        let t = SampleAdapter::new(&m, SampleLayout::Tflite).unwrap().adapt(vec![img([1, 3, 3, 3]), aux.clone()]).unwrap();
        assert_eq!(t[0].to_f32()[..4], [0.0, 1.0, 2.0, 3.0]);
        // Named, in any order.
        let named = auto.adapt_named(vec![("aux".into(), aux.clone()), ("img".into(), img([1, 3, 3, 3]))]).unwrap();
        assert_eq!(named, s);
        assert!(auto.adapt_named(vec![("img".into(), img([1, 3, 3, 3]))]).is_err());
    }

    #[test]
    fn mismatch_lists_both_layouts_and_no_metadata_means_one_layout() {
        let m = model(Some("img=NHWC"));
        let auto = SampleAdapter::new(&m, SampleLayout::Auto).unwrap();
        let bad = Value::from_f32(vec![1, 9, 3], vec![0.0; 27]);
        let e = auto.adapt(vec![bad, Value::from_f32(vec![1, 4], vec![0.0; 4])]).unwrap_err().to_string();
        assert!(e.contains("[1, 3, 3, 3] (ONNX layout) or [1, 3, 3, 3] (converted layout)"), "{e}");
        let plain = SampleAdapter::new(&model(None), SampleLayout::Onnx).unwrap();
        assert!(!plain.inputs()[0].nchw_to_nhwc);
        let s = plain.adapt(vec![img([1, 3, 3, 3]), Value::from_f32(vec![1, 4], vec![0.0; 4])]).unwrap();
        assert_eq!(s[0].to_f32()[..2], [0.0, 1.0]);
    }

    #[test]
    fn unstack_splits_leading_axes() {
        let m = model(Some("img=NHWC"));
        let a = SampleAdapter::new(&m, SampleLayout::Auto).unwrap();
        let imgs = Value::from_f32(vec![2, 1, 3, 3, 3], vec![1.0; 54]);
        let aux = Value::from_f32(vec![2, 4], vec![2.0; 8]);
        let s = a.unstack(vec![imgs, aux]).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[1][0].shape.clone(), s[1][1].shape.clone()), (vec![1, 3, 3, 3], vec![1, 4]));
        let bad = a.unstack(vec![Value::from_f32(vec![3, 1, 3, 3, 3], vec![1.0; 81]), Value::from_f32(vec![2, 4], vec![0.0; 8])]);
        assert!(bad.is_err());
    }
}
