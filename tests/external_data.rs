//! External data: weights in side files are read, and paths that leave the
//! model's directory are rejected with a typed error.

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use onnx_protobuf::{tensor_proto::DataLocation, Message, ModelProto, StringStringEntryProto};
use tflite_forge::onnx::{convert, convert_file, ConvertOptions, OnnxError};

/// A Relu(x + w) model whose weight `w` lives in external data at `location`.
fn model_with_external(location: &str, offset: u64, len: Option<u64>) -> Vec<u8> {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(4)]);
    let w = b.init_f32("w", &[4], &[0.0; 4]);
    let s = b.node("Add", &[&x, &w], vec![]);
    b.node_named("Relu", &[&s], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(4)]);
    let mut m = ModelProto::parse_from_bytes(&b.build()).unwrap();
    let g = m.graph.as_mut().unwrap();
    let t = &mut g.initializer[0];
    t.raw_data.clear();
    t.data_location = DataLocation::EXTERNAL.into();
    let mut kv = |k: &str, v: String| {
        let mut e = StringStringEntryProto::new();
        e.key = k.into();
        e.value = v;
        t.external_data.push(e);
    };
    kv("location", location.into());
    kv("offset", offset.to_string());
    if let Some(l) = len {
        kv("length", l.to_string());
    }
    m.write_to_bytes().unwrap()
}

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tflite-forge-ext-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn weights() -> Vec<u8> {
    [1.0f32, -2.0, 3.0, -4.0].iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn external_weights_are_read_from_the_model_directory() {
    let d = tmpdir("ok");
    let mut data = vec![0u8; 8];
    data.extend(weights());
    std::fs::write(d.join("weights.bin"), &data).unwrap();
    std::fs::write(d.join("m.onnx"), model_with_external("weights.bin", 8, Some(16))).unwrap();
    let c = convert_file(d.join("m.onnx"), &ConvertOptions::default()).unwrap();
    let w = c.model.subgraphs[0].tensors.iter().find(|t| t.is_constant() && t.dtype == tflite_forge::DType::F32).unwrap();
    assert_eq!(w.data.as_ref().unwrap().to_vec::<f32>(), vec![1.0, -2.0, 3.0, -4.0]);
}

fn expect_external_error(d: &std::path::Path, bytes: Vec<u8>, what: &str) {
    std::fs::write(d.join("m.onnx"), bytes).unwrap();
    match convert_file(d.join("m.onnx"), &ConvertOptions::default()) {
        Err(OnnxError::ExternalData { tensor, detail }) => {
            assert_eq!(tensor, "w");
            assert!(detail.contains(what), "{detail}");
        }
        other => panic!("expected an external data error, got {:?}", other.map(|c| c.report)),
    }
}

#[test]
fn parent_directory_escape_is_rejected() {
    let d = tmpdir("dotdot");
    let inner = d.join("model");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::write(d.join("secret.bin"), weights()).unwrap();
    expect_external_error(&inner, model_with_external("../secret.bin", 0, Some(16)), "leaves the model directory");
}

#[test]
fn absolute_paths_are_rejected() {
    let d = tmpdir("abs");
    let target = d.join("w.bin");
    std::fs::write(&target, weights()).unwrap();
    expect_external_error(&d, model_with_external(target.to_str().unwrap(), 0, Some(16)), "absolute");
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_directory_are_rejected() {
    let d = tmpdir("link");
    let inner = d.join("model");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::write(d.join("outside.bin"), weights()).unwrap();
    std::os::unix::fs::symlink(d.join("outside.bin"), inner.join("w.bin")).unwrap();
    expect_external_error(&inner, model_with_external("w.bin", 0, Some(16)), "outside the model directory");
}

#[test]
fn offsets_and_lengths_are_checked_against_the_file() {
    let d = tmpdir("range");
    std::fs::write(d.join("w.bin"), weights()).unwrap();
    expect_external_error(&d, model_with_external("w.bin", 8, Some(16)), "outside");
    expect_external_error(&d, model_with_external("w.bin", 0, Some(12)), "does not match");
    expect_external_error(&d, model_with_external("missing.bin", 0, Some(16)), "missing.bin");
}

#[test]
fn bytes_without_a_directory_cannot_use_external_data() {
    match convert(&model_with_external("w.bin", 0, Some(16)), &ConvertOptions::default()) {
        Err(OnnxError::ExternalData { detail, .. }) => assert!(detail.contains("base directory")),
        other => panic!("{:?}", other.map(|c| c.report)),
    }
}
