//! Ready-made metadata for an image classifier: what the TFLite Task
//! Library's `ImageClassifier` and app code need (image input with its
//! normalisation, and one label per output score).

use super::*;
use crate::model::{DType, Dim};

/// The facts of an image classifier, turned into metadata by
/// [`ImageClassifierInfo::apply`].
///
/// ```
/// use tflite_forge::metadata::ImageClassifierInfo;
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("image", DType::F32, [1, 8, 8, 3]);
/// let m = g.mean(x, &[1, 2], false).unwrap();
/// let y = g.softmax(m, 1.0).unwrap();
/// g.output("scores", y);
/// b.finish_subgraph(g).unwrap();
/// let mut model = b.finish().unwrap();
///
/// let mut info = ImageClassifierInfo::new("toy", ["red", "green", "blue"]);
/// info.mean = vec![127.5];
/// info.std = vec![127.5];
/// info.apply(&mut model).unwrap();
/// let bytes = tflite_forge::write(&model).unwrap();
/// assert!(tflite_forge::read(&bytes).unwrap().associated_file("labels.txt").is_some());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ImageClassifierInfo {
    /// Model name.
    pub name: String,
    /// Model description.
    pub description: Option<String>,
    /// Model version.
    pub version: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// License.
    pub license: Option<String>,
    /// Per-channel (or one) mean subtracted from pixel values 0..=255.
    /// Empty means no normalisation (integer inputs take raw pixels).
    pub mean: Vec<f32>,
    /// Per-channel (or one) divisor applied after the mean.
    pub std: Vec<f32>,
    /// The class labels, one per output score.
    pub labels: Vec<String>,
    /// Entry name of the labels file in the model's archive.
    pub labels_file: String,
}

impl ImageClassifierInfo {
    /// A classifier with the given labels, no normalisation, labels packed
    /// as `labels.txt`.
    pub fn new<S: Into<String>>(name: impl Into<String>, labels: impl IntoIterator<Item = S>) -> ImageClassifierInfo {
        ImageClassifierInfo {
            name: name.into(),
            description: None,
            version: None,
            author: None,
            license: None,
            mean: Vec::new(),
            std: Vec::new(),
            labels: labels.into_iter().map(Into::into).collect(),
            labels_file: "labels.txt".to_string(),
        }
    }

    /// Builds the metadata for `model` (subgraph 0: one NHWC image input,
    /// one scores output) without changing it.
    pub fn metadata(&self, model: &Model) -> Result<ModelMetadata, MetadataError> {
        let mismatch = |s: String| Err(MetadataError::Mismatch(s));
        let Some(g) = model.subgraphs.first() else { return mismatch("the model has no subgraph".into()) };
        let (&[input], &[output]) = (g.inputs.as_slice(), g.outputs.as_slice()) else {
            return mismatch(format!(
                "an image classifier has one input and one output; subgraph 0 has {} and {}",
                g.inputs.len(),
                g.outputs.len()
            ));
        };
        let (Some(x), Some(y)) = (g.tensors.get(input.index()), g.tensors.get(output.index())) else {
            return mismatch("subgraph 0 names a missing input or output tensor".into());
        };
        let dims = x.shape.dims();
        let channels = match dims {
            [_, _, _, Dim::Fixed(c)] => *c,
            _ => return mismatch(format!("input {:?} must be NHWC with a fixed channel count, is {}", x.name, x.shape)),
        };
        let color_space = match channels {
            3 => ColorSpace::Rgb,
            1 => ColorSpace::Grayscale,
            c => return mismatch(format!("input {:?} has {c} channels; an image has 1 or 3", x.name)),
        };
        if self.mean.len() != self.std.len() || ![0, 1, channels as usize].contains(&self.mean.len()) {
            return mismatch(format!(
                "normalisation needs as many means as stds, 1 or {channels} of each; got {} and {}",
                self.mean.len(),
                self.std.len()
            ));
        }
        if self.std.iter().any(|s| *s == 0.0 || !s.is_finite()) || self.mean.iter().any(|m| !m.is_finite()) {
            return mismatch("normalisation values must be finite and std non-zero".into());
        }
        if x.dtype == DType::F32 && self.mean.is_empty() {
            return mismatch(format!("float input {:?} needs normalisation (mean and std)", x.name));
        }
        match y.shape.dims().last() {
            Some(Dim::Fixed(n)) if *n as usize == self.labels.len() => {}
            _ => {
                return mismatch(format!(
                    "output {:?} of shape {} does not end in the {} labels",
                    y.name,
                    y.shape,
                    self.labels.len()
                ));
            }
        }
        let default_size = match dims {
            [_, Dim::Fixed(h), Dim::Fixed(w), _] => Some((*w, *h)),
            _ => None,
        };
        let mut input_md = TensorMetadata::named(x.name.clone());
        input_md.description = Some("Input image to be classified.".into());
        input_md.content = Some(Content { properties: ContentProperties::Image { color_space, default_size }, range: None });
        if !self.mean.is_empty() {
            input_md.process_units.push(ProcessUnit::Normalization { mean: self.mean.clone(), std: self.std.clone() });
            let (lo, hi): (Vec<f32>, Vec<f32>) =
                self.mean.iter().zip(&self.std).map(|(m, s)| ((0.0 - m) / s, (255.0 - m) / s)).unzip();
            input_md.stats = Some(Stats { max: hi, min: lo });
        }
        let mut output_md = TensorMetadata::named(y.name.clone());
        output_md.description = Some("Scores of the labels respectively.".into());
        output_md.content = Some(Content { properties: ContentProperties::Feature, range: None });
        let mut labels = AssociatedFile::new(self.labels_file.clone(), AssociatedFileType::TensorAxisLabels);
        labels.description = Some("Labels for categories that the model can recognize.".into());
        output_md.associated_files.push(labels);
        let mut sub = SubGraphMetadata::default();
        sub.input_tensor_metadata.push(input_md);
        sub.output_tensor_metadata.push(output_md);
        Ok(ModelMetadata {
            name: Some(self.name.clone()),
            description: self.description.clone(),
            version: self.version.clone(),
            subgraph_metadata: vec![sub],
            author: self.author.clone(),
            license: self.license.clone(),
            associated_files: Vec::new(),
            min_parser_version: None,
        })
    }

    /// Sets the metadata on `model` and packs the labels file.
    pub fn apply(&self, model: &mut Model) -> Result<(), MetadataError> {
        if let Some(bad) = self.labels.iter().find(|l| l.contains('\n') || l.contains('\r')) {
            return Err(MetadataError::Mismatch(format!("label {bad:?} contains a line break")));
        }
        let md = self.metadata(model)?;
        model.set_support_metadata(&md)?;
        let mut text = self.labels.join("\n");
        text.push('\n');
        model.attach_file(self.labels_file.clone(), text.into_bytes());
        Ok(())
    }
}
