//! [`ModelMetadata`] to and from the `M001` flatbuffer.
//!
//! Decoding goes through the verifier first. Union members unknown to schema
//! 1.5.0 are errors rather than silently dropped.

use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, Vector, VerifierOptions};

use super::*;
use crate::schema::meta as fb;

/// Verifier bounds: metadata is small, but comes from files.
fn verifier_options() -> VerifierOptions {
    VerifierOptions { max_depth: 64, max_tables: 1_000_000, max_apparent_size: 1 << 31, ignore_missing_null_terminator: false }
}

pub(super) fn decode(bytes: &[u8]) -> Result<ModelMetadata, MetadataError> {
    // `buffer_has_identifier` asserts on buffers shorter than 8 bytes.
    if bytes.len() < 8 || !fb::model_metadata_buffer_has_identifier(bytes) {
        return Err(MetadataError::Flatbuffer("missing the M001 file identifier".into()));
    }
    let m = fb::root_as_model_metadata_with_opts(&verifier_options(), bytes)
        .map_err(|e| MetadataError::Flatbuffer(e.to_string()))?;
    Ok(ModelMetadata {
        name: text(m.name()),
        description: text(m.description()),
        version: text(m.version()),
        subgraph_metadata: seq(m.subgraph_metadata(), subgraph)?,
        author: text(m.author()),
        license: text(m.license()),
        associated_files: files(m.associated_files()),
        min_parser_version: text(m.min_parser_version()),
    })
}

fn text(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

fn strings(v: Option<Vector<'_, ForwardsUOffset<&str>>>) -> Vec<String> {
    v.map(|v| v.iter().map(str::to_string).collect()).unwrap_or_default()
}

fn floats(v: Option<Vector<'_, f32>>) -> Vec<f32> {
    v.map(|v| v.iter().collect()).unwrap_or_default()
}

fn seq<'a, T: flatbuffers::Follow<'a> + 'a, U>(
    v: Option<Vector<'a, ForwardsUOffset<T>>>,
    f: impl Fn(T::Inner) -> Result<U, MetadataError>,
) -> Result<Vec<U>, MetadataError> {
    v.map(|v| v.iter().map(f).collect()).unwrap_or(Ok(Vec::new()))
}

fn files(v: Option<Vector<'_, ForwardsUOffset<fb::AssociatedFile<'_>>>>) -> Vec<AssociatedFile> {
    v.map(|v| v.iter().map(file).collect()).unwrap_or_default()
}

fn file(f: fb::AssociatedFile<'_>) -> AssociatedFile {
    AssociatedFile {
        name: f.name().unwrap_or("").to_string(),
        description: text(f.description()),
        file_type: file_type_from(f.type_()),
        locale: text(f.locale()),
        version: text(f.version()),
    }
}

fn file_type_from(t: fb::AssociatedFileType) -> AssociatedFileType {
    match t {
        fb::AssociatedFileType::DESCRIPTIONS => AssociatedFileType::Descriptions,
        fb::AssociatedFileType::TENSOR_AXIS_LABELS => AssociatedFileType::TensorAxisLabels,
        fb::AssociatedFileType::TENSOR_VALUE_LABELS => AssociatedFileType::TensorValueLabels,
        fb::AssociatedFileType::TENSOR_AXIS_SCORE_CALIBRATION => AssociatedFileType::TensorAxisScoreCalibration,
        fb::AssociatedFileType::VOCABULARY => AssociatedFileType::Vocabulary,
        fb::AssociatedFileType::SCANN_INDEX_FILE => AssociatedFileType::ScannIndexFile,
        _ => AssociatedFileType::Unknown,
    }
}

fn file_type_to(t: AssociatedFileType) -> fb::AssociatedFileType {
    match t {
        AssociatedFileType::Unknown => fb::AssociatedFileType::UNKNOWN,
        AssociatedFileType::Descriptions => fb::AssociatedFileType::DESCRIPTIONS,
        AssociatedFileType::TensorAxisLabels => fb::AssociatedFileType::TENSOR_AXIS_LABELS,
        AssociatedFileType::TensorValueLabels => fb::AssociatedFileType::TENSOR_VALUE_LABELS,
        AssociatedFileType::TensorAxisScoreCalibration => fb::AssociatedFileType::TENSOR_AXIS_SCORE_CALIBRATION,
        AssociatedFileType::Vocabulary => fb::AssociatedFileType::VOCABULARY,
        AssociatedFileType::ScannIndexFile => fb::AssociatedFileType::SCANN_INDEX_FILE,
    }
}

fn subgraph(s: fb::SubGraphMetadata<'_>) -> Result<SubGraphMetadata, MetadataError> {
    Ok(SubGraphMetadata {
        name: text(s.name()),
        description: text(s.description()),
        input_tensor_metadata: seq(s.input_tensor_metadata(), tensor)?,
        output_tensor_metadata: seq(s.output_tensor_metadata(), tensor)?,
        associated_files: files(s.associated_files()),
        input_process_units: seq(s.input_process_units(), process_unit)?,
        output_process_units: seq(s.output_process_units(), process_unit)?,
        input_tensor_groups: seq(s.input_tensor_groups(), |g| Ok(group(g)))?,
        output_tensor_groups: seq(s.output_tensor_groups(), |g| Ok(group(g)))?,
        custom_metadata: seq(s.custom_metadata(), |c| {
            Ok(CustomMetadata { name: text(c.name()), data: c.data().map(|d| d.bytes().to_vec()).unwrap_or_default() })
        })?,
    })
}

fn group(g: fb::TensorGroup<'_>) -> TensorGroup {
    TensorGroup { name: text(g.name()), tensor_names: strings(g.tensor_names()) }
}

fn tensor(t: fb::TensorMetadata<'_>) -> Result<TensorMetadata, MetadataError> {
    Ok(TensorMetadata {
        name: text(t.name()),
        description: text(t.description()),
        dimension_names: strings(t.dimension_names()),
        content: t.content().map(content).transpose()?,
        process_units: seq(t.process_units(), process_unit)?,
        stats: t.stats().map(|s| Stats { max: floats(s.max()), min: floats(s.min()) }),
        associated_files: files(t.associated_files()),
    })
}

fn content(c: fb::Content<'_>) -> Result<Content, MetadataError> {
    use fb::ContentProperties as K;
    let properties = match c.content_properties_type() {
        K::NONE => ContentProperties::None,
        K::FeatureProperties => ContentProperties::Feature,
        K::ImageProperties => {
            let p = c.content_properties_as_image_properties();
            ContentProperties::Image {
                color_space: match p.map(|p| p.color_space()) {
                    Some(fb::ColorSpaceType::RGB) => ColorSpace::Rgb,
                    Some(fb::ColorSpaceType::GRAYSCALE) => ColorSpace::Grayscale,
                    _ => ColorSpace::Unknown,
                },
                default_size: p.and_then(|p| p.default_size()).map(|s| (s.width(), s.height())),
            }
        }
        K::BoundingBoxProperties => {
            let p = c.content_properties_as_bounding_box_properties();
            ContentProperties::BoundingBox {
                index: p.and_then(|p| p.index()).map(|v| v.iter().collect()).unwrap_or_default(),
                box_type: match p.map(|p| p.type_()) {
                    Some(fb::BoundingBoxType::BOUNDARIES) => BoundingBoxType::Boundaries,
                    Some(fb::BoundingBoxType::UPPER_LEFT) => BoundingBoxType::UpperLeft,
                    Some(fb::BoundingBoxType::CENTER) => BoundingBoxType::Center,
                    _ => BoundingBoxType::Unknown,
                },
                coordinate_type: match p.map(|p| p.coordinate_type()) {
                    Some(fb::CoordinateType::PIXEL) => CoordinateType::Pixel,
                    _ => CoordinateType::Ratio,
                },
            }
        }
        K::AudioProperties => {
            let p = c.content_properties_as_audio_properties();
            ContentProperties::Audio {
                sample_rate: p.map(|p| p.sample_rate()).unwrap_or(0),
                channels: p.map(|p| p.channels()).unwrap_or(0),
            }
        }
        other => return Err(MetadataError::UnknownUnion { what: "ContentProperties", code: other.0 }),
    };
    Ok(Content { properties, range: c.range().map(|r| (r.min(), r.max())) })
}

fn process_unit(u: fb::ProcessUnit<'_>) -> Result<ProcessUnit, MetadataError> {
    use fb::ProcessUnitOptions as K;
    Ok(match u.options_type() {
        K::NONE => ProcessUnit::Empty,
        K::NormalizationOptions => {
            let o = u.options_as_normalization_options();
            ProcessUnit::Normalization {
                mean: floats(o.and_then(|o| o.mean())),
                std: floats(o.and_then(|o| o.std_())),
            }
        }
        K::ScoreCalibrationOptions => {
            let o = u.options_as_score_calibration_options();
            ProcessUnit::ScoreCalibration {
                transformation: match o.map(|o| o.score_transformation()) {
                    Some(fb::ScoreTransformationType::LOG) => ScoreTransformation::Log,
                    Some(fb::ScoreTransformationType::INVERSE_LOGISTIC) => ScoreTransformation::InverseLogistic,
                    _ => ScoreTransformation::Identity,
                },
                default_score: o.map(|o| o.default_score()).unwrap_or(0.0),
            }
        }
        K::ScoreThresholdingOptions => ProcessUnit::ScoreThresholding {
            global_score_threshold: u
                .options_as_score_thresholding_options()
                .map(|o| o.global_score_threshold())
                .unwrap_or(0.0),
        },
        K::BertTokenizerOptions => ProcessUnit::BertTokenizer {
            vocab_file: files(u.options_as_bert_tokenizer_options().and_then(|o| o.vocab_file())),
        },
        K::SentencePieceTokenizerOptions => {
            let o = u.options_as_sentence_piece_tokenizer_options();
            ProcessUnit::SentencePieceTokenizer {
                sentence_piece_model: files(o.and_then(|o| o.sentencePiece_model())),
                vocab_file: files(o.and_then(|o| o.vocab_file())),
            }
        }
        K::RegexTokenizerOptions => {
            let o = u.options_as_regex_tokenizer_options();
            ProcessUnit::RegexTokenizer {
                delim_regex_pattern: text(o.and_then(|o| o.delim_regex_pattern())),
                vocab_file: files(o.and_then(|o| o.vocab_file())),
            }
        }
        other => return Err(MetadataError::UnknownUnion { what: "ProcessUnitOptions", code: other.0 }),
    })
}

// ---------------------------------------------------------------- encoding

pub(super) fn encode(md: &ModelMetadata) -> Vec<u8> {
    let t = fb::ModelMetadataT {
        name: md.name.clone(),
        description: md.description.clone(),
        version: md.version.clone(),
        subgraph_metadata: opt_vec(md.subgraph_metadata.iter().map(subgraph_t).collect()),
        author: md.author.clone(),
        license: md.license.clone(),
        associated_files: files_t(&md.associated_files),
        min_parser_version: md.min_parser_version.clone(),
    };
    let mut fbb = FlatBufferBuilder::new();
    let root = t.pack(&mut fbb);
    fb::finish_model_metadata_buffer(&mut fbb, root);
    fbb.finished_data().to_vec()
}

/// Empty lists are left out of the file.
fn opt_vec<T>(v: Vec<T>) -> Option<Vec<T>> {
    if v.is_empty() { None } else { Some(v) }
}

fn files_t(files: &[AssociatedFile]) -> Option<Vec<fb::AssociatedFileT>> {
    opt_vec(
        files
            .iter()
            .map(|f| fb::AssociatedFileT {
                name: Some(f.name.clone()),
                description: f.description.clone(),
                type_: file_type_to(f.file_type),
                locale: f.locale.clone(),
                version: f.version.clone(),
            })
            .collect(),
    )
}

fn units_t(units: &[ProcessUnit]) -> Option<Vec<fb::ProcessUnitT>> {
    opt_vec(units.iter().map(unit_t).collect())
}

fn unit_t(u: &ProcessUnit) -> fb::ProcessUnitT {
    use fb::ProcessUnitOptionsT as O;
    let options = match u {
        ProcessUnit::Normalization { mean, std } => O::NormalizationOptions(Box::new(fb::NormalizationOptionsT {
            mean: opt_vec(mean.clone()),
            std_: opt_vec(std.clone()),
        })),
        ProcessUnit::ScoreCalibration { transformation, default_score } => {
            O::ScoreCalibrationOptions(Box::new(fb::ScoreCalibrationOptionsT {
                score_transformation: match transformation {
                    ScoreTransformation::Identity => fb::ScoreTransformationType::IDENTITY,
                    ScoreTransformation::Log => fb::ScoreTransformationType::LOG,
                    ScoreTransformation::InverseLogistic => fb::ScoreTransformationType::INVERSE_LOGISTIC,
                },
                default_score: *default_score,
            }))
        }
        ProcessUnit::ScoreThresholding { global_score_threshold } => {
            O::ScoreThresholdingOptions(Box::new(fb::ScoreThresholdingOptionsT {
                global_score_threshold: *global_score_threshold,
            }))
        }
        ProcessUnit::BertTokenizer { vocab_file } => {
            O::BertTokenizerOptions(Box::new(fb::BertTokenizerOptionsT { vocab_file: files_t(vocab_file) }))
        }
        ProcessUnit::SentencePieceTokenizer { sentence_piece_model, vocab_file } => {
            O::SentencePieceTokenizerOptions(Box::new(fb::SentencePieceTokenizerOptionsT {
                sentencePiece_model: files_t(sentence_piece_model),
                vocab_file: files_t(vocab_file),
            }))
        }
        ProcessUnit::RegexTokenizer { delim_regex_pattern, vocab_file } => {
            O::RegexTokenizerOptions(Box::new(fb::RegexTokenizerOptionsT {
                delim_regex_pattern: delim_regex_pattern.clone(),
                vocab_file: files_t(vocab_file),
            }))
        }
        ProcessUnit::Empty => O::NONE,
    };
    fb::ProcessUnitT { options }
}

fn groups_t(groups: &[TensorGroup]) -> Option<Vec<fb::TensorGroupT>> {
    opt_vec(
        groups
            .iter()
            .map(|g| fb::TensorGroupT { name: g.name.clone(), tensor_names: opt_vec(g.tensor_names.clone()) })
            .collect(),
    )
}

fn subgraph_t(s: &SubGraphMetadata) -> fb::SubGraphMetadataT {
    fb::SubGraphMetadataT {
        name: s.name.clone(),
        description: s.description.clone(),
        input_tensor_metadata: opt_vec(s.input_tensor_metadata.iter().map(tensor_t).collect()),
        output_tensor_metadata: opt_vec(s.output_tensor_metadata.iter().map(tensor_t).collect()),
        associated_files: files_t(&s.associated_files),
        input_process_units: units_t(&s.input_process_units),
        output_process_units: units_t(&s.output_process_units),
        input_tensor_groups: groups_t(&s.input_tensor_groups),
        output_tensor_groups: groups_t(&s.output_tensor_groups),
        custom_metadata: opt_vec(
            s.custom_metadata
                .iter()
                .map(|c| fb::CustomMetadataT { name: c.name.clone(), data: opt_vec(c.data.clone()) })
                .collect(),
        ),
    }
}

fn tensor_t(t: &TensorMetadata) -> fb::TensorMetadataT {
    fb::TensorMetadataT {
        name: t.name.clone(),
        description: t.description.clone(),
        dimension_names: opt_vec(t.dimension_names.clone()),
        content: t.content.as_ref().map(|c| Box::new(content_t(c))),
        process_units: units_t(&t.process_units),
        stats: t.stats.as_ref().map(|s| Box::new(fb::StatsT { max: opt_vec(s.max.clone()), min: opt_vec(s.min.clone()) })),
        associated_files: files_t(&t.associated_files),
    }
}

fn content_t(c: &Content) -> fb::ContentT {
    use fb::ContentPropertiesT as P;
    let content_properties = match &c.properties {
        ContentProperties::None => P::NONE,
        ContentProperties::Feature => P::FeatureProperties(Box::default()),
        ContentProperties::Image { color_space, default_size } => P::ImageProperties(Box::new(fb::ImagePropertiesT {
            color_space: match color_space {
                ColorSpace::Unknown => fb::ColorSpaceType::UNKNOWN,
                ColorSpace::Rgb => fb::ColorSpaceType::RGB,
                ColorSpace::Grayscale => fb::ColorSpaceType::GRAYSCALE,
            },
            default_size: default_size.map(|(width, height)| Box::new(fb::ImageSizeT { width, height })),
        })),
        ContentProperties::BoundingBox { index, box_type, coordinate_type } => {
            P::BoundingBoxProperties(Box::new(fb::BoundingBoxPropertiesT {
                index: opt_vec(index.clone()),
                type_: match box_type {
                    BoundingBoxType::Unknown => fb::BoundingBoxType::UNKNOWN,
                    BoundingBoxType::Boundaries => fb::BoundingBoxType::BOUNDARIES,
                    BoundingBoxType::UpperLeft => fb::BoundingBoxType::UPPER_LEFT,
                    BoundingBoxType::Center => fb::BoundingBoxType::CENTER,
                },
                coordinate_type: match coordinate_type {
                    CoordinateType::Ratio => fb::CoordinateType::RATIO,
                    CoordinateType::Pixel => fb::CoordinateType::PIXEL,
                },
            }))
        }
        ContentProperties::Audio { sample_rate, channels } => {
            P::AudioProperties(Box::new(fb::AudioPropertiesT { sample_rate: *sample_rate, channels: *channels }))
        }
    };
    fb::ContentT { content_properties, range: c.range.map(|(min, max)| Box::new(fb::ValueRangeT { min, max })) }
}
