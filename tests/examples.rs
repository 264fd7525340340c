//! Runs the examples (cargo builds them before the tests run) and checks
//! what each one prints and writes.

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/<name>`, next to this test's `deps` folder.
fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>");
    let path: PathBuf = dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} is not built", path.display());
    Command::new(path)
}

fn run(mut cmd: Command) -> String {
    let out = cmd.output().expect("run example");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "failed: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tflite-forge-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn build_from_scratch_writes_two_signatures_and_labels() {
    let path = temp("scratch.tflite");
    let mut cmd = example("build_from_scratch");
    cmd.arg(&path);
    let text = run(cmd);
    assert!(text.contains("signature \"classify\"") && text.contains("signature \"embed\""), "{text}");
    let model = tflite_forge::read(&std::fs::read(&path).expect("written")).expect("reads");
    let keys: Vec<&str> = model.signatures.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["classify", "embed"]);
    assert_eq!(model.associated_file("labels.txt"), Some(&b"red\ngreen\nblue\n"[..]));
}

#[test]
fn add_labels_packs_labels_into_a_tensorflow_made_file() {
    // A small CNN made by TensorFlow's converter (10 classes, float input).
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tf/small_cnn_fp32.tflite");
    let original = tflite_forge::read(&std::fs::read(src).expect("fixture")).expect("reads");
    let labels = temp("labels.txt");
    let out = temp("labelled.tflite");
    std::fs::write(&labels, "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n").expect("labels");
    let mut cmd = example("add_labels");
    cmd.arg(src).arg(&labels).arg(&out).args(["--mean", "127.5", "--std", "127.5"]);
    let text = run(cmd);
    assert!(text.contains("10 labels packed") && text.contains("graph unchanged"), "{text}");
    let back = tflite_forge::read(&std::fs::read(&out).expect("out")).expect("reads");
    assert_eq!(back.associated_file("labels.txt"), Some(&b"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"[..]));
    assert_eq!(back.subgraphs, original.subgraphs);
    assert!(back.support_metadata().expect("metadata parses").is_some());

    // The built-in toy run labels its own image classifier.
    let dir = temp("toy");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut cmd = example("add_labels");
    cmd.current_dir(&dir);
    let text = run(cmd);
    assert!(text.contains("3 labels packed") && text.contains("graph unchanged"), "{text}");
    assert!(dir.join("labelled.tflite").exists());
}

#[test]
fn custom_lowering_converts_a_custom_domain_op() {
    let path = temp("custom.tflite");
    let mut cmd = example("custom_lowering");
    cmd.arg(&path);
    let text = run(cmd);
    assert!(text.contains("unsupported_op"), "the unregistered op is a typed error: {text}");
    let model = tflite_forge::read(&std::fs::read(&path).expect("written")).expect("reads");
    let ops: Vec<String> = model.subgraphs[0].operators.iter().map(|o| o.op.name().to_string()).collect();
    assert!(ops.iter().any(|o| o == "LOGISTIC"), "{ops:?}");
}

#[test]
fn quantize_int8_calibrates_from_nchw_npy_files() {
    let path = temp("int8.tflite");
    let mut cmd = example("quantize_int8");
    cmd.arg("-o").arg(&path);
    let text = run(cmd);
    assert!(text.contains("16 calibration samples") && text.contains("NCHW [1, 3, 16, 16] → model input [1, 16, 16, 3]"), "{text}");
    let cosine: f64 = text
        .split("output cosine ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .and_then(|t| t.trim().parse().ok())
        .expect("the report's cosine");
    assert!(cosine > 0.999, "{text}");
    let model = tflite_forge::read(&std::fs::read(&path).expect("written")).expect("reads");
    let sg = &model.subgraphs[0];
    assert_eq!(sg.tensors[sg.inputs[0].index()].dtype, tflite_forge::DType::U8);
    assert!(sg.operators.iter().any(|o| o.op.name() == "CONV_2D" && sg.tensors[o.outputs[0].index()].dtype == tflite_forge::DType::I8));
}
