//! TFLite Support metadata: what apps need besides the graph.
//!
//! A model may carry a [`ModelMetadata`] flatbuffer (identifier `M001`) in the
//! buffer named by the metadata entry [`TFLITE_METADATA`], and files it refers
//! to (labels, vocabularies) in an uncompressed zip archive appended to the
//! model. Mobile libraries (the TFLite Task Library, TensorFlowLiteSwift
//! helpers, Android codegen) read both: the image normalisation to apply, the
//! label of each output score, and so on.
//!
//! In [`Model`], the metadata flatbuffer stays a plain entry of
//! [`Model::metadata`] (so unknown future fields survive a round trip) and the
//! archive's files are [`Model::associated_files`]. The typed view is
//! [`Model::support_metadata`] and [`Model::set_support_metadata`]; the
//! writer validates that every file the metadata names is packed.
//!
//! ```
//! use tflite_forge::metadata::{AssociatedFile, AssociatedFileType, ModelMetadata, SubGraphMetadata, TensorMetadata};
//! use tflite_forge::{DType, ModelBuilder};
//! let mut b = ModelBuilder::new();
//! let mut g = b.subgraph("main");
//! let x = g.input("x", DType::F32, [1, 3]);
//! let y = g.softmax(x, 1.0).unwrap();
//! g.output("probabilities", y);
//! b.finish_subgraph(g).unwrap();
//! let mut model = b.finish().unwrap();
//!
//! let mut out = TensorMetadata::named("probabilities");
//! out.associated_files.push(AssociatedFile::new("labels.txt", AssociatedFileType::TensorAxisLabels));
//! let mut sub = SubGraphMetadata::default();
//! sub.input_tensor_metadata.push(TensorMetadata::named("x"));
//! sub.output_tensor_metadata.push(out);
//! let mut md = ModelMetadata::named("toy classifier");
//! md.subgraph_metadata.push(sub);
//! model.set_support_metadata(&md).unwrap();
//! model.attach_file("labels.txt", b"cat\ndog\nbird\n".to_vec());
//!
//! let bytes = tflite_forge::write(&model).unwrap();
//! let back = tflite_forge::read(&bytes).unwrap();
//! let read_md = back.support_metadata().unwrap().unwrap();
//! assert_eq!(read_md.min_parser_version.as_deref(), Some("1.0.0"));
//! assert_eq!(back.associated_file("labels.txt").unwrap(), b"cat\ndog\nbird\n");
//! ```

mod codec;
mod image;
mod parser_version;

use thiserror::Error;

use crate::model::{ConstData, Metadata, Model, PackedFile};

pub use image::ImageClassifierInfo;
pub use parser_version::min_parser_version;

/// Name of the metadata entry whose buffer holds the [`ModelMetadata`]
/// flatbuffer.
pub const TFLITE_METADATA: &str = "TFLITE_METADATA";

/// Why metadata could not be read, written or attached.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The buffer is not a verified `M001` flatbuffer.
    #[error("TFLITE_METADATA is not a valid M001 metadata flatbuffer: {0}")]
    Flatbuffer(String),
    /// The buffer uses a union member this schema (1.5.0) does not know.
    #[error("TFLITE_METADATA uses {what} {code}, unknown to metadata schema 1.5.0")]
    UnknownUnion {
        /// Which union.
        what: &'static str,
        /// The type code found.
        code: u8,
    },
    /// The metadata does not fit the model it is attached to.
    #[error("metadata does not match the model: {0}")]
    Mismatch(String),
}

/// What an associated file holds (`AssociatedFileType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AssociatedFileType {
    /// Unspecified.
    #[default]
    Unknown,
    /// Free text about the model.
    Descriptions,
    /// One label per line, one line per element of a tensor axis.
    TensorAxisLabels,
    /// One label per line, looked up by a tensor's values.
    TensorValueLabels,
    /// Per-class score calibration parameters.
    TensorAxisScoreCalibration,
    /// A tokenizer vocabulary (parser 1.0.1).
    Vocabulary,
    /// An on-device ScaNN index (parser 1.4.0).
    ScannIndexFile,
}

/// A file the metadata refers to, packed in the model's zip archive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AssociatedFile {
    /// Entry name in the archive (see [`Model::attach_file`]).
    pub name: String,
    /// What the file is.
    pub description: Option<String>,
    /// How consumers use it.
    pub file_type: AssociatedFileType,
    /// An ISO 639-1 locale such as `en` or `en-US`.
    pub locale: Option<String>,
    /// The file's own version (parser 1.4.1).
    pub version: Option<String>,
}

impl AssociatedFile {
    /// A file reference with a name and type.
    pub fn new(name: impl Into<String>, file_type: AssociatedFileType) -> AssociatedFile {
        AssociatedFile { name: name.into(), file_type, ..AssociatedFile::default() }
    }
}

/// Colour layout of an image tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ColorSpace {
    /// Unspecified.
    #[default]
    Unknown,
    /// Three channels, red, green, blue.
    Rgb,
    /// One channel.
    Grayscale,
}

/// How a bounding box's four numbers are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BoundingBoxType {
    /// Unspecified.
    #[default]
    Unknown,
    /// left, top, right, bottom.
    Boundaries,
    /// left, top, width, height.
    UpperLeft,
    /// center x, center y, width, height.
    Center,
}

/// Units of bounding-box coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CoordinateType {
    /// Fractions of the image size.
    #[default]
    Ratio,
    /// Pixels.
    Pixel,
}

/// What kind of data a tensor holds (`ContentProperties`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ContentProperties {
    /// Not given.
    #[default]
    None,
    /// Plain features.
    Feature,
    /// An image.
    Image {
        /// Colour layout.
        color_space: ColorSpace,
        /// The size the model expects, as (width, height).
        default_size: Option<(u32, u32)>,
    },
    /// Bounding boxes.
    BoundingBox {
        /// Position of each of the four coordinates in the last dimension.
        index: Vec<u32>,
        /// Box layout.
        box_type: BoundingBoxType,
        /// Coordinate units.
        coordinate_type: CoordinateType,
    },
    /// Audio samples (parser 1.3.0).
    Audio {
        /// Samples per second.
        sample_rate: u32,
        /// Channel count.
        channels: u32,
    },
}

/// A tensor's content and the dimensions it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Content {
    /// The kind of data.
    pub properties: ContentProperties,
    /// The dimensions (`min..=max`) the properties describe.
    pub range: Option<(i32, i32)>,
}

impl Content {
    /// Content of the given kind, for all dimensions.
    pub fn new(properties: ContentProperties) -> Content {
        Content { properties, range: None }
    }

    /// Limits the properties to dimensions `min..=max`.
    pub fn with_range(mut self, min: i32, max: i32) -> Content {
        self.range = Some((min, max));
        self
    }
}

/// How scores are turned back before calibration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ScoreTransformation {
    /// `f(x) = x`.
    #[default]
    Identity,
    /// `f(x) = log(x)`.
    Log,
    /// `f(x) = log(x) - log(1 - x)`.
    InverseLogistic,
}

/// A step applied outside the graph (`ProcessUnit`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProcessUnit {
    /// `(value - mean) / std`, per channel or one value for all.
    Normalization {
        /// Means.
        mean: Vec<f32>,
        /// Standard deviations.
        std: Vec<f32>,
    },
    /// Score calibration with parameters from a
    /// [`AssociatedFileType::TensorAxisScoreCalibration`] file.
    ScoreCalibration {
        /// Applied to scores before calibration.
        transformation: ScoreTransformation,
        /// Score of classes without parameters.
        default_score: f32,
    },
    /// Scores below the threshold are dropped.
    ScoreThresholding {
        /// The threshold.
        global_score_threshold: f32,
    },
    /// A BERT word-piece tokenizer (parser 1.1.0).
    BertTokenizer {
        /// Vocabulary files.
        vocab_file: Vec<AssociatedFile>,
    },
    /// A SentencePiece tokenizer (parser 1.1.0).
    SentencePieceTokenizer {
        /// The SentencePiece model files.
        sentence_piece_model: Vec<AssociatedFile>,
        /// Vocabulary files.
        vocab_file: Vec<AssociatedFile>,
    },
    /// A regular-expression tokenizer (parser 1.2.1).
    RegexTokenizer {
        /// The delimiter pattern.
        delim_regex_pattern: Option<String>,
        /// Vocabulary files.
        vocab_file: Vec<AssociatedFile>,
    },
    /// A process unit that carries no options.
    Empty,
}

/// Value statistics, per channel or one value for all.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Maxima.
    pub max: Vec<f32>,
    /// Minima.
    pub min: Vec<f32>,
}

impl Stats {
    /// Statistics from minima and maxima (one value, or one per channel).
    pub fn new(min: Vec<f32>, max: Vec<f32>) -> Stats {
        Stats { max, min }
    }
}

/// Tensors that belong together (parser 1.2.0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TensorGroup {
    /// Group name.
    pub name: Option<String>,
    /// Member tensor names.
    pub tensor_names: Vec<String>,
}

impl TensorGroup {
    /// A named group of tensors.
    pub fn new<S: Into<String>>(name: impl Into<String>, tensor_names: impl IntoIterator<Item = S>) -> TensorGroup {
        TensorGroup { name: Some(name.into()), tensor_names: tensor_names.into_iter().map(Into::into).collect() }
    }
}

/// Metadata of one input or output tensor.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct TensorMetadata {
    /// Name shown to app code.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// A name per dimension.
    pub dimension_names: Vec<String>,
    /// What the tensor holds.
    pub content: Option<Content>,
    /// Pre- or post-processing.
    pub process_units: Vec<ProcessUnit>,
    /// Value statistics.
    pub stats: Option<Stats>,
    /// Files for this tensor (labels).
    pub associated_files: Vec<AssociatedFile>,
}

impl TensorMetadata {
    /// Tensor metadata with just a name.
    pub fn named(name: impl Into<String>) -> TensorMetadata {
        TensorMetadata { name: Some(name.into()), ..TensorMetadata::default() }
    }
}

/// Free-form data of a tool's own (parser 1.5.0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CustomMetadata {
    /// Name.
    pub name: Option<String>,
    /// Bytes.
    pub data: Vec<u8>,
}

impl CustomMetadata {
    /// Named custom bytes.
    pub fn new(name: impl Into<String>, data: Vec<u8>) -> CustomMetadata {
        CustomMetadata { name: Some(name.into()), data }
    }
}

/// Metadata of one subgraph.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct SubGraphMetadata {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// One entry per subgraph input, in order.
    pub input_tensor_metadata: Vec<TensorMetadata>,
    /// One entry per subgraph output, in order.
    pub output_tensor_metadata: Vec<TensorMetadata>,
    /// Files for the whole subgraph.
    pub associated_files: Vec<AssociatedFile>,
    /// Processing across several inputs (parser 1.1.0).
    pub input_process_units: Vec<ProcessUnit>,
    /// Processing across several outputs (parser 1.1.0).
    pub output_process_units: Vec<ProcessUnit>,
    /// Input groups (parser 1.2.0).
    pub input_tensor_groups: Vec<TensorGroup>,
    /// Output groups (parser 1.2.0).
    pub output_tensor_groups: Vec<TensorGroup>,
    /// Custom data (parser 1.5.0).
    pub custom_metadata: Vec<CustomMetadata>,
}

/// The root of TFLite Support metadata.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ModelMetadata {
    /// Model name.
    pub name: Option<String>,
    /// Model description.
    pub description: Option<String>,
    /// The model's own version.
    pub version: Option<String>,
    /// One entry per subgraph (usually one).
    pub subgraph_metadata: Vec<SubGraphMetadata>,
    /// Author.
    pub author: Option<String>,
    /// License.
    pub license: Option<String>,
    /// Files for the whole model.
    pub associated_files: Vec<AssociatedFile>,
    /// The oldest metadata parser that reads this; [`ModelMetadata::to_bytes`]
    /// fills it in.
    pub min_parser_version: Option<String>,
}

impl ModelMetadata {
    /// Metadata with just a model name.
    pub fn named(name: impl Into<String>) -> ModelMetadata {
        ModelMetadata { name: Some(name.into()), ..ModelMetadata::default() }
    }

    /// Parses a verified `M001` flatbuffer.
    pub fn from_bytes(bytes: &[u8]) -> Result<ModelMetadata, MetadataError> {
        codec::decode(bytes)
    }

    /// Serialises to an `M001` flatbuffer, with `min_parser_version` set to
    /// what the fields in use require (see [`min_parser_version`]).
    /// Deterministic.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut md = self.clone();
        md.min_parser_version = Some(min_parser_version(self).to_string());
        codec::encode(&md)
    }

    /// Every associated file named anywhere in the metadata, in order of
    /// appearance (duplicates included).
    pub fn referenced_files(&self) -> Vec<&AssociatedFile> {
        let mut out: Vec<&AssociatedFile> = self.associated_files.iter().collect();
        fn units<'a>(units: &'a [ProcessUnit], out: &mut Vec<&'a AssociatedFile>) {
            for u in units {
                match u {
                    ProcessUnit::BertTokenizer { vocab_file } | ProcessUnit::RegexTokenizer { vocab_file, .. } => {
                        out.extend(vocab_file)
                    }
                    ProcessUnit::SentencePieceTokenizer { sentence_piece_model, vocab_file } => {
                        out.extend(sentence_piece_model);
                        out.extend(vocab_file);
                    }
                    _ => {}
                }
            }
        }
        for sub in &self.subgraph_metadata {
            out.extend(&sub.associated_files);
            units(&sub.input_process_units, &mut out);
            units(&sub.output_process_units, &mut out);
            for t in sub.input_tensor_metadata.iter().chain(&sub.output_tensor_metadata) {
                out.extend(&t.associated_files);
                units(&t.process_units, &mut out);
            }
        }
        out
    }
}

impl Model {
    /// The TFLite Support metadata, if the model has a [`TFLITE_METADATA`]
    /// entry.
    pub fn support_metadata(&self) -> Result<Option<ModelMetadata>, MetadataError> {
        match self.metadata.iter().find(|m| m.name == TFLITE_METADATA) {
            Some(m) => ModelMetadata::from_bytes(m.data.as_bytes()).map(Some),
            None => Ok(None),
        }
    }

    /// Sets the TFLite Support metadata, replacing any earlier one.
    ///
    /// Checks it against the model: no more subgraph entries than subgraphs,
    /// and tensor metadata counts equal to the subgraph's input and output
    /// counts. Files it names must be attached (with
    /// [`Model::attach_file`]) before the model is written.
    pub fn set_support_metadata(&mut self, md: &ModelMetadata) -> Result<(), MetadataError> {
        check_shape(self, md)?;
        let data = ConstData::from_bytes(md.to_bytes());
        match self.metadata.iter_mut().find(|m| m.name == TFLITE_METADATA) {
            Some(m) => m.data = data,
            None => self.metadata.push(Metadata { name: TFLITE_METADATA.to_string(), data }),
        }
        Ok(())
    }

    /// Packs a file into the model's zip archive, replacing one of the same
    /// name.
    pub fn attach_file(&mut self, name: impl Into<String>, data: Vec<u8>) {
        let name = name.into();
        match self.associated_files.iter_mut().find(|f| f.name == name) {
            Some(f) => f.data = ConstData::from_bytes(data),
            None => self.associated_files.push(PackedFile { name, data: ConstData::from_bytes(data) }),
        }
    }

    /// The bytes of a packed file.
    pub fn associated_file(&self, name: &str) -> Option<&[u8]> {
        self.associated_files.iter().find(|f| f.name == name).map(|f| f.data.as_bytes())
    }
}

/// Checks metadata against the model's structure.
fn check_shape(model: &Model, md: &ModelMetadata) -> Result<(), MetadataError> {
    if md.subgraph_metadata.len() > model.subgraphs.len() {
        return Err(MetadataError::Mismatch(format!(
            "{} subgraph metadata entries for {} subgraphs",
            md.subgraph_metadata.len(),
            model.subgraphs.len()
        )));
    }
    for (i, (sm, sg)) in md.subgraph_metadata.iter().zip(&model.subgraphs).enumerate() {
        for (what, n_md, n_graph) in [
            ("input", sm.input_tensor_metadata.len(), sg.inputs.len()),
            ("output", sm.output_tensor_metadata.len(), sg.outputs.len()),
        ] {
            if n_md != n_graph {
                return Err(MetadataError::Mismatch(format!(
                    "subgraph {i} has {n_graph} {what}s but {n_md} {what} tensor metadata entries"
                )));
            }
        }
    }
    Ok(())
}

/// Checks a model's metadata before writing: it parses, fits the model, and
/// every file it names is packed.
pub(crate) fn validate(model: &Model) -> Result<(), MetadataError> {
    let Some(md) = model.support_metadata()? else { return Ok(()) };
    check_shape(model, &md)?;
    for f in md.referenced_files() {
        if model.associated_file(&f.name).is_none() {
            return Err(MetadataError::Mismatch(format!(
                "metadata names associated file {:?}, but the model has no such packed file",
                f.name
            )));
        }
    }
    Ok(())
}
