//! TFLite Support metadata and associated files: round trips, the minimum
//! parser version, validation against the model, and broken archives.
//! (The official toolkit judges the same files in the conformance suite's
//! metadata tier.)

use tflite_forge::metadata::*;
use tflite_forge::{DType, Model, ModelBuilder, ReadError};

fn classifier(classes: u32) -> Model {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("image", DType::F32, [1, 4, 4, 3]);
    let m = g.mean(x, &[1, 2], false).unwrap();
    let w = g.constant_f32("w", [classes, 3], &vec![0.5; classes as usize * 3]);
    let y = g.fully_connected(m, w, None, Default::default()).unwrap();
    g.output("scores", y);
    b.finish_subgraph(g).unwrap();
    b.finish().unwrap()
}

/// Metadata using every part of the schema.
fn everything() -> ModelMetadata {
    let mut input = TensorMetadata::named("image");
    input.description = Some("pixels".into());
    input.dimension_names = vec!["batch".into(), "h".into(), "w".into(), "c".into()];
    input.content = Some(Content::new(ContentProperties::Image { color_space: ColorSpace::Rgb, default_size: Some((4, 4)) }).with_range(1, 2));
    input.process_units = vec![
        ProcessUnit::Normalization { mean: vec![1.0, 2.0, 3.0], std: vec![4.0, 5.0, 6.0] },
        ProcessUnit::RegexTokenizer { delim_regex_pattern: Some("[ ]".into()), vocab_file: vec![AssociatedFile::new("words.txt", AssociatedFileType::Vocabulary)] },
    ];
    input.stats = Some(Stats::new(vec![-1.0], vec![1.0]));
    let mut output = TensorMetadata::named("scores");
    output.content = Some(Content::new(ContentProperties::Feature));
    output.process_units = vec![
        ProcessUnit::ScoreCalibration { transformation: ScoreTransformation::Log, default_score: 0.2 },
        ProcessUnit::ScoreThresholding { global_score_threshold: 0.5 },
    ];
    let mut labels = AssociatedFile::new("labels.txt", AssociatedFileType::TensorAxisLabels);
    labels.locale = Some("en".into());
    labels.version = Some("2".into());
    output.associated_files.push(labels);
    let mut sub = SubGraphMetadata::default();
    sub.name = Some("main".into());
    sub.input_tensor_metadata.push(input);
    sub.output_tensor_metadata.push(output);
    sub.input_process_units.push(ProcessUnit::BertTokenizer { vocab_file: vec![AssociatedFile::new("vocab.txt", AssociatedFileType::Vocabulary)] });
    sub.output_process_units.push(ProcessUnit::SentencePieceTokenizer {
        sentence_piece_model: vec![AssociatedFile::new("sp.model", AssociatedFileType::Unknown)],
        vocab_file: vec![],
    });
    sub.output_tensor_groups.push(TensorGroup::new("g", ["scores"]));
    sub.custom_metadata.push(CustomMetadata::new("tool", vec![1, 2, 3]));
    sub.associated_files.push(AssociatedFile::new("index.ldb", AssociatedFileType::ScannIndexFile));
    let mut md = ModelMetadata::named("everything");
    md.description = Some("d".into());
    md.version = Some("v1".into());
    md.author = Some("a".into());
    md.license = Some("MIT".into());
    md.subgraph_metadata.push(sub);
    md
}

#[test]
fn metadata_round_trips_through_the_flatbuffer() {
    let md = everything();
    let back = ModelMetadata::from_bytes(&md.to_bytes()).unwrap();
    let mut want = md.clone();
    want.min_parser_version = Some("1.5.0".into());
    assert_eq!(back, want);
    assert_eq!(&md.to_bytes()[4..8], b"M001");
    // Deterministic.
    assert_eq!(md.to_bytes(), md.to_bytes());
}

#[test]
fn min_parser_version_follows_the_features_in_use() {
    let base = || {
        let mut md = ModelMetadata::named("m");
        md.subgraph_metadata.push(SubGraphMetadata::default());
        md
    };
    let check = |md: ModelMetadata, want: &str| assert_eq!(min_parser_version(&md).to_string(), want, "{md:?}");
    check(base(), "1.0.0");
    let mut md = base();
    md.associated_files.push(AssociatedFile::new("v", AssociatedFileType::Vocabulary));
    check(md, "1.0.1");
    let mut md = base();
    md.subgraph_metadata[0].input_process_units.push(ProcessUnit::Normalization { mean: vec![], std: vec![] });
    check(md, "1.1.0");
    let mut md = base();
    md.subgraph_metadata[0].input_tensor_groups.push(TensorGroup::default());
    check(md, "1.2.0");
    let mut md = base();
    let mut t = TensorMetadata::named("t");
    t.process_units.push(ProcessUnit::RegexTokenizer { delim_regex_pattern: None, vocab_file: vec![] });
    md.subgraph_metadata[0].input_tensor_metadata.push(t);
    check(md, "1.2.1");
    let mut md = base();
    let mut t = TensorMetadata::named("t");
    t.content = Some(Content::new(ContentProperties::Audio { sample_rate: 16000, channels: 1 }));
    md.subgraph_metadata[0].output_tensor_metadata.push(t);
    check(md, "1.3.0");
    let mut md = base();
    md.associated_files.push(AssociatedFile::new("i", AssociatedFileType::ScannIndexFile));
    check(md, "1.4.0");
    let mut md = base();
    let mut f = AssociatedFile::new("f", AssociatedFileType::Descriptions);
    f.version = Some("1".into());
    md.associated_files.push(f);
    check(md, "1.4.1");
    check(everything(), "1.5.0");
}

#[test]
fn model_with_metadata_and_files_round_trips() {
    let mut model = classifier(3);
    let mut info = ImageClassifierInfo::new("c", ["x", "y", "z"]);
    info.mean = vec![127.5];
    info.std = vec![127.5];
    info.apply(&mut model).unwrap();
    model.attach_file("extra.bin", vec![0, 159, 146, 150]);
    let bytes = tflite_forge::write(&model).unwrap();
    let back = tflite_forge::read(&bytes).unwrap();
    assert_eq!(back, model);
    assert_eq!(back.associated_file("labels.txt"), Some(&b"x\ny\nz\n"[..]));
    // The file is a zip archive too.
    let archive = tflite_forge::zip::find_archive(&bytes).unwrap().unwrap();
    assert_eq!(archive.entries().len(), 2);
    assert_eq!(tflite_forge::write(&back).unwrap(), bytes);
}

#[test]
fn metadata_must_fit_the_model() {
    let mut model = classifier(3);
    // Files the metadata names must be packed before writing.
    let mut out = TensorMetadata::named("scores");
    out.associated_files.push(AssociatedFile::new("labels.txt", AssociatedFileType::TensorAxisLabels));
    let mut sub = SubGraphMetadata::default();
    sub.input_tensor_metadata.push(TensorMetadata::named("image"));
    sub.output_tensor_metadata.push(out);
    let mut md = ModelMetadata::named("m");
    md.subgraph_metadata.push(sub.clone());
    model.set_support_metadata(&md).unwrap();
    let err = tflite_forge::write(&model).unwrap_err().to_string();
    assert!(err.contains("labels.txt") && err.contains("no such packed file"), "{err}");
    model.attach_file("labels.txt", b"a\nb\nc\n".to_vec());
    tflite_forge::write(&model).unwrap();

    // Tensor metadata counts must equal the subgraph's inputs and outputs.
    let mut md2 = md.clone();
    md2.subgraph_metadata[0].output_tensor_metadata.clear();
    let err = model.set_support_metadata(&md2).unwrap_err().to_string();
    assert!(err.contains("1 outputs but 0 output tensor metadata"), "{err}");
    // More subgraph entries than subgraphs.
    let mut md3 = md.clone();
    md3.subgraph_metadata.push(sub);
    assert!(model.set_support_metadata(&md3).is_err());
    // Duplicate packed names.
    model.associated_files.push(model.associated_files[0].clone());
    assert!(tflite_forge::write(&model).unwrap_err().to_string().contains("unique"));
}

#[test]
fn image_classifier_info_checks_its_facts() {
    let model = classifier(3);
    let err = |info: ImageClassifierInfo| info.metadata(&model).unwrap_err().to_string();
    let mut info = ImageClassifierInfo::new("c", ["a", "b"]);
    info.mean = vec![0.0];
    info.std = vec![1.0];
    assert!(err(info.clone()).contains("does not end in the 2 labels"));
    info.labels.push("c".into());
    info.metadata(&model).unwrap();
    info.std = vec![0.0];
    assert!(err(info.clone()).contains("std non-zero"));
    info.mean = vec![1.0, 2.0];
    info.std = vec![1.0, 2.0];
    assert!(err(info.clone()).contains("1 or 3"));
    info.mean.clear();
    info.std.clear();
    assert!(err(info.clone()).contains("needs normalisation"));
    let mut bad = ImageClassifierInfo::new("c", ["a\nb", "c", "d"]);
    bad.mean = vec![0.0];
    bad.std = vec![1.0];
    assert!(bad.apply(&mut model.clone()).unwrap_err().to_string().contains("line break"));
}

#[test]
fn broken_archives_are_errors_only_when_metadata_needs_them() {
    let mut model = classifier(2);
    let mut info = ImageClassifierInfo::new("c", ["a", "b"]);
    info.mean = vec![0.0];
    info.std = vec![1.0];
    info.apply(&mut model).unwrap();
    let bytes = tflite_forge::write(&model).unwrap();
    // Corrupt one byte of the labels' data: the CRC no longer matches.
    let at = bytes.windows(4).rposition(|w| w == b"a\nb\n").unwrap();
    let mut bad = bytes.clone();
    bad[at] = b'x';
    match tflite_forge::read(&bad) {
        Err(tflite_forge::Error::Read(ReadError::Archive(e))) => assert!(e.to_string().contains("CRC"), "{e}"),
        other => panic!("expected an archive error, got {other:?}"),
    }
    // Without metadata, trailing bytes that are not a valid archive are
    // not the model's business.
    let plain = classifier(2);
    let mut with_junk = tflite_forge::write(&plain).unwrap();
    with_junk.extend_from_slice(&bad[bad.len() - 200..]);
    assert_eq!(tflite_forge::read(&with_junk).unwrap(), plain);
}

#[test]
fn short_and_foreign_buffers_are_typed_errors() {
    // Found by the hostile-input test: buffers under 8 bytes used to reach
    // an assertion in the flatbuffers crate.
    for b in [&b""[..], b"M0", b"1234567", b"\x08\0\0\0TFL3\0\0\0\0"] {
        assert!(ModelMetadata::from_bytes(b).is_err(), "{b:?}");
    }
}

#[test]
fn a_zip_inside_a_constant_is_data_not_associated_files() {
    // Found by fuzzing the reader: a constant buffer holding a whole zip
    // archive near the end of the file was read as the model's associated
    // files, so a write-read round trip grew files.
    let mut archive = Vec::new();
    tflite_forge::zip::append_stored(&mut archive, &[tflite_forge::zip::Entry { name: "labels.txt".into(), data: b"a\nb\n".to_vec() }]).unwrap();
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    while archive.len() % 4 != 0 {
        archive.push(0);
    }
    let n = archive.len() as u32 / 4;
    let x = g.input("x", DType::I32, [n]);
    let c = g.constant("blob", DType::I32, [n], tflite_forge::ConstData::from_bytes(archive.clone()));
    let y = g.apply(tflite_forge::Op::Add(Default::default()), &[Some(x), Some(c)]).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let bytes = tflite_forge::write(&model).unwrap();
    assert!(tflite_forge::zip::find_archive(&bytes).unwrap().is_some(), "the archive is visible at the end of the file");
    let back = tflite_forge::read(&bytes).unwrap();
    assert!(back.associated_files.is_empty());
    assert_eq!(back, model);
}
