//! The `tflite-forge` command line (feature `cli`): conversion writes the
//! file atomically and prints a summary; failures exit non-zero, name the
//! node and leave no file behind.
#![cfg(feature = "cli")]

#[path = "common/npy.rs"]
mod npy;
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
    std::fs::write(d.join("m.onnx"), relu_model("Bernoulli")).unwrap();
    let out = Command::new(BIN).args(["convert"]).arg(d.join("m.onnx")).arg("-o").arg(d.join("m.tflite")).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Bernoulli") && err.contains("unsupported_op"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&d).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), 1, "files left behind: {left:?}");
    let out = Command::new(BIN).arg("inspect").arg(d.join("m.onnx")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TFL3"));
}

/// NCHW image -> Conv -> GlobalAveragePool -> Flatten: a classifier of 3
/// classes with NHWC I/O after conversion.
fn classifier_model() -> Vec<u8> {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("image", FLOAT, &[Some(1), Some(3), Some(8), Some(8)]);
    let w = b.init_f32("w", &[3, 3, 1, 1], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let c = b.node("Conv", &[&x, &w], vec![]);
    let p = b.node("GlobalAveragePool", &[&c], vec![]);
    b.node_named("Flatten", &[&p], &["scores"], vec![]);
    b.output("scores", FLOAT, &[Some(1), Some(3)]);
    b.build()
}

#[test]
fn convert_with_labels_adds_classifier_metadata() {
    let d = tmp("labels");
    std::fs::write(d.join("m.onnx"), classifier_model()).unwrap();
    std::fs::write(d.join("labels.txt"), "red\ngreen\nblue\n").unwrap();
    let out = Command::new(BIN)
        .args(["convert"])
        .arg(d.join("m.onnx"))
        .arg("-o")
        .arg(d.join("m.tflite"))
        .arg("--labels")
        .arg(d.join("labels.txt"))
        .args(["--mean", "123.675,116.28,103.53", "--std", "58.395,57.12,57.375", "--name", "rgb"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model = tflite_forge::read(&std::fs::read(d.join("m.tflite")).unwrap()).unwrap();
    assert_eq!(model.associated_file("labels.txt"), Some(&b"red\ngreen\nblue\n"[..]));
    let md = model.support_metadata().unwrap().unwrap();
    assert_eq!(md.name.as_deref(), Some("rgb"));
    let out = Command::new(BIN).arg("inspect").arg(d.join("m.tflite")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("normalize mean [123.675, 116.28, 103.53]") && text.contains("\"labels.txt\" (TensorAxisLabels)"), "{text}");
    assert!(text.contains("packed file \"labels.txt\": 15 bytes"), "{text}");

    // Labels that do not match the output fail, and leave no file.
    std::fs::write(d.join("two.txt"), "a\nb\n").unwrap();
    let out = Command::new(BIN)
        .args(["convert"])
        .arg(d.join("m.onnx"))
        .arg("-o")
        .arg(d.join("bad.tflite"))
        .arg("--labels")
        .arg(d.join("two.txt"))
        .args(["--mean", "127.5", "--std", "127.5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not end in the 2 labels"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!d.join("bad.tflite").exists());
}


#[test]
fn convert_and_quantize() {
    let d = tmp("quant");
    std::fs::write(d.join("m.onnx"), classifier_model()).unwrap();
    std::fs::create_dir_all(d.join("calib")).unwrap();
    for i in 0..4 {
        let v: Vec<f32> = (0..192).map(|k| ((k * 7 + i * 13) % 50) as f32 / 25.0 - 1.0).collect();
        std::fs::write(d.join("calib").join(format!("{i}.npy")), npy::npy_f32(&[1, 8, 8, 3], &v)).unwrap();
    }
    let run = |extra: &[&str], out: &str| {
        Command::new(BIN).args(["convert"]).arg(d.join("m.onnx")).arg("-o").arg(d.join(out)).args(extra).output().unwrap()
    };
    let calib = d.join("calib");
    let out = run(&["--quantize", "int8", "--io", "uint8", "--calibration", calib.to_str().unwrap()], "q.tflite");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("quantized (int8, uint8 I/O) from 4 sample(s)") && text.contains("outputs cosine"), "{text}");
    assert!(text.contains("UINT8") && text.contains("zero_point"), "{text}");
    let model = tflite_forge::read(&std::fs::read(d.join("q.tflite")).unwrap()).unwrap();
    let sg = &model.subgraphs[0];
    assert_eq!(sg.tensors[sg.inputs[0].index()].dtype, tflite_forge::DType::U8);

    let out = run(&["--quantize", "float16"], "h.tflite");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["--quantize", "dynamic"], "d.tflite");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["--quantize", "int16x8", "--io", "int16", "--calibration", calib.to_str().unwrap()], "s.tflite");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let model = tflite_forge::read(&std::fs::read(d.join("s.tflite")).unwrap()).unwrap();
    let sg = &model.subgraphs[0];
    assert_eq!(sg.tensors[sg.inputs[0].index()].dtype, tflite_forge::DType::I16);
    let out = run(&["--quantize", "dynamic", "--io", "uint8"], "bad.tflite");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("keeps float inputs"));

    // int8 without data, and data of the wrong shape: errors, no file.
    let out = run(&["--quantize", "int8"], "bad.tflite");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--calibration"));
    std::fs::write(d.join("calib").join("z.npy"), npy::npy_f32(&[1, 4, 8, 8], &[0.0; 256])).unwrap();
    let out = run(&["--quantize", "int8", "--calibration", calib.to_str().unwrap()], "bad.tflite");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("z.npy") && err.contains("[1, 3, 8, 8] (ONNX layout) or [1, 8, 8, 3] (converted layout)"), "{err}");
    assert!(!d.join("bad.tflite").exists());
}

/// `[1, 8, 8, 3]` sample `i` in NCHW order (`[1, 3, 8, 8]`).
fn nchw_sample(i: usize) -> Vec<f32> {
    let nhwc: Vec<f32> = (0..192).map(|k| ((k * 7 + i * 13) % 50) as f32 / 25.0 - 1.0).collect();
    (0..192).map(|k| (k / 64, (k % 64) / 8, k % 8)).map(|(c, y, x)| nhwc[(y * 8 + x) * 3 + c]).collect()
}

#[test]
fn calibration_in_the_onnx_layout_methods_and_json_report() {
    let d = tmp("quant_layout");
    std::fs::write(d.join("m.onnx"), classifier_model()).unwrap();
    std::fs::create_dir_all(d.join("nhwc")).unwrap();
    std::fs::create_dir_all(d.join("nchw")).unwrap();
    let mut stacked = Vec::new();
    for i in 0..4 {
        let v: Vec<f32> = (0..192).map(|k| ((k * 7 + i * 13) % 50) as f32 / 25.0 - 1.0).collect();
        std::fs::write(d.join("nhwc").join(format!("{i}.npy")), npy::npy_f32(&[1, 8, 8, 3], &v)).unwrap();
        std::fs::write(d.join("nchw").join(format!("{i}.npy")), npy::npy_f32(&[1, 3, 8, 8], &nchw_sample(i))).unwrap();
        stacked.extend(nchw_sample(i));
    }
    std::fs::write(d.join("stacked.npy"), npy::npy_f32(&[4, 3, 8, 8], &stacked)).unwrap();
    let run = |extra: &[&str], out: &str| {
        Command::new(BIN).args(["convert"]).arg(d.join("m.onnx")).arg("-o").arg(d.join(out)).args(extra).output().unwrap()
    };
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let base = ["--quantize", "int8", "--io", "uint8", "--calibration"];
    for (src, out) in [("nhwc", "a.tflite"), ("nchw", "b.tflite"), ("stacked.npy", "c.tflite")] {
        let o = run(&[&base[..], &[p(src).as_str()]].concat(), out);
        assert!(o.status.success(), "{src}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("from 4 sample(s)"), "{}", String::from_utf8_lossy(&o.stdout));
    }
    // The same samples in either layout, or stacked: the same bytes.
    let a = std::fs::read(d.join("a.tflite")).unwrap();
    assert_eq!(a, std::fs::read(d.join("b.tflite")).unwrap());
    assert_eq!(a, std::fs::read(d.join("c.tflite")).unwrap());
    // Forcing the converted layout on NCHW files fails.
    let o = run(&[&base[..], &[p("nchw").as_str(), "--calibration-layout", "tflite"]].concat(), "bad.tflite");
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("in the converted layout"), "{}", String::from_utf8_lossy(&o.stderr));

    // Percentile, a layer kept in float, and the JSON report.
    let o = run(
        &[&base[..], &[p("nchw").as_str(), "--calibration-method", "percentile:99.9", "--keep-float-ops", "scores", "--report", p("r.json").as_str()]].concat(),
        "k.tflite",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("float: op") && text.contains("kept on request"), "{text}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(json["calibration_method"], "percentile:99.9");
    assert_eq!(json["samples"], 4);
    assert_eq!(json["float_ops"][0]["reason"], "requested");
    assert!(json["output_cosine"].as_f64().unwrap() > 0.9, "{json}");
    let layers = json["layers"].as_array().unwrap();
    assert!(!layers.is_empty() && layers.iter().all(|l| l["op"].is_string() && l["cosine"].is_number()), "{json}");
    let ranges = json["ranges"].as_array().unwrap();
    assert!(ranges.iter().any(|r| r["tensor"] == "image" && r["min"].as_f64().unwrap() < 0.0), "{json}");
    // Bad method and unknown layer names are errors.
    let o = run(&[&base[..], &[p("nchw").as_str(), "--calibration-method", "kl"]].concat(), "bad.tflite");
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("unknown calibration method"));
    let o = run(&[&base[..], &[p("nchw").as_str(), "--keep-float-ops", "nope"]].concat(), "bad.tflite");
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("\"nope\""), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!d.join("bad.tflite").exists());
}

#[test]
fn uint8_image_model_takes_raw_pixels_and_keeps_labels() {
    let d = tmp("pixels");
    std::fs::write(d.join("m.onnx"), classifier_model()).unwrap();
    std::fs::write(d.join("labels.txt"), "red\ngreen\nblue\n").unwrap();
    std::fs::create_dir_all(d.join("calib")).unwrap();
    for i in 0..4 {
        let v: Vec<f32> = (0..192).map(|k| ((k * 7 + i * 13) % 50) as f32 / 25.0 - 1.0).collect();
        std::fs::write(d.join("calib").join(format!("{i}.npy")), npy::npy_f32(&[1, 8, 8, 3], &v)).unwrap();
    }
    let out = Command::new(BIN)
        .args(["convert"])
        .arg(d.join("m.onnx"))
        .arg("-o")
        .arg(d.join("q.tflite"))
        .arg("--labels")
        .arg(d.join("labels.txt"))
        .args(["--mean", "127.5", "--std", "127.5", "--quantize", "int8", "--io", "uint8", "--calibration"])
        .arg(d.join("calib"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("raw pixels"));
    let model = tflite_forge::read(&std::fs::read(d.join("q.tflite")).unwrap()).unwrap();
    let sg = &model.subgraphs[0];
    let x = &sg.tensors[sg.inputs[0].index()];
    let q = x.quantization.as_ref().unwrap();
    assert_eq!((x.dtype, q.scale[0], q.zero_point[0]), (tflite_forge::DType::U8, 1.0, 0));
    // The labels metadata has no normalisation: the bytes go in as they are.
    let md = model.support_metadata().unwrap().unwrap();
    let input_md = &md.subgraph_metadata[0].input_tensor_metadata[0];
    assert!(input_md.process_units.is_empty(), "{input_md:?}");
    assert_eq!(model.associated_file("labels.txt"), Some(&b"red\ngreen\nblue\n"[..]));
}
