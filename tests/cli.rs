//! The `tflite-forge` command line (feature `cli`): conversion writes the
//! file atomically and prints a summary; failures exit non-zero, name the
//! node and leave no file behind.
#![cfg(feature = "cli")]

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tflite-forge");

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tflite-forge-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn relu_model(op: &str) -> Vec<u8> {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(4)]);
    b.node_named(op, &[&x], &["y"], vec![]);
    b.output("y", FLOAT, &[None, Some(4)]);
    b.build()
}

#[test]
fn convert_then_inspect() {
    let d = tmp("ok");
    std::fs::write(d.join("m.onnx"), relu_model("Relu")).unwrap();
    let out = Command::new(BIN).args(["convert"]).arg(d.join("m.onnx")).arg("-o").arg(d.join("m.tflite")).args(["--batch", "3"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RELU") && text.contains("[3, 4]"), "{text}");
    let model = tflite_forge::read(&std::fs::read(d.join("m.tflite")).unwrap()).unwrap();
    assert_eq!(model.signatures[0].inputs[0].0, "x");
    let out = Command::new(BIN).arg("inspect").arg(d.join("m.tflite")).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("serving_default"));
}

#[test]
fn failures_exit_non_zero_and_leave_nothing() {
    let d = tmp("fail");
    std::fs::write(d.join("m.onnx"), relu_model("Erf")).unwrap();
    let out = Command::new(BIN).args(["convert"]).arg(d.join("m.onnx")).arg("-o").arg(d.join("m.tflite")).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Erf") && err.contains("unsupported_op"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 1, "files left behind: {left:?}");
    let out = Command::new(BIN).arg("inspect").arg(d.join("m.onnx")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TFL3"));
}
