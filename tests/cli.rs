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

/// Runs the binary with these arguments.
fn cli(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Converts `onnx` (bytes) into `dir/name.tflite`, returning its path.
fn converted(dir: &std::path::Path, name: &str, onnx: Vec<u8>, extra: &[&str]) -> std::path::PathBuf {
    let (src, dst) = (dir.join(format!("{name}.onnx")), dir.join(format!("{name}.tflite")));
    std::fs::write(&src, onnx).unwrap();
    let out = Command::new(BIN).arg("convert").arg(&src).arg("-o").arg(&dst).args(extra).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dst
}

/// A cached model made by another tool, if present.
fn cached(rel: &str) -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME")?;
    let p = std::path::Path::new(&home).join(".cache/tflite-forge").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is not cached (the conformance tf tier downloads it)", p.display());
        None
    }
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Checks the documented schema (docs/inspect-json.md) of an
/// `inspect --json` object and that the text output agrees with it.
fn check_inspect(path: &std::path::Path) -> serde_json::Value {
    let out = cli(&[os("inspect"), os("--json"), path.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("inspect --json parses");
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["size_bytes"].as_u64(), Some(std::fs::metadata(path).unwrap().len()));
    let subgraphs = j["subgraphs"].as_array().unwrap();
    assert!(!subgraphs.is_empty());
    let (mut ops, mut params, mut macs) = (0u64, 0u64, 0u64);
    let mut const_elems = 0u64;
    for sg in subgraphs {
        for t in sg["tensors"].as_array().unwrap() {
            for k in ["index", "name", "dtype", "shape", "shape_signature", "constant", "buffer_bytes", "quantization"] {
                assert!(t.get(k).is_some(), "tensor field {k} missing: {t}");
            }
            assert_eq!(t["shape"].as_array().unwrap().len(), t["shape_signature"].as_array().unwrap().len());
            if t["constant"].as_bool().unwrap() {
                const_elems += t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).product::<u64>();
                assert_eq!(t["buffer_hash"].as_str().unwrap().len(), 16);
            }
        }
        for o in sg["ops"].as_array().unwrap() {
            for k in ["index", "op", "builtin_code", "version", "inputs", "outputs", "params", "macs"] {
                assert!(o.get(k).is_some(), "op field {k} missing: {o}");
            }
            assert!(o["version"].as_i64().unwrap() >= 1, "{o}");
            ops += 1;
            params += o["params"].as_u64().unwrap();
            macs += o["macs"].as_u64().unwrap();
        }
    }
    let totals = &j["totals"];
    assert_eq!(totals["ops"].as_u64(), Some(ops));
    assert_eq!(totals["macs"].as_u64(), Some(macs));
    assert_eq!(totals["params"].as_u64(), Some(const_elems));
    // Shared constants are counted once in the total, once per op in the ops.
    assert!(params >= const_elems, "per-op params {params} < constant elements {const_elems}");
    assert_eq!(j["op_counts"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum::<u64>(), ops);
    assert!(j["min_runtime_version"].get("required").is_some() && j["min_runtime_version"].get("recorded").is_some());
    for k in ["signatures", "buffers", "metadata", "associated_files"] {
        assert!(j[k].is_array(), "{k}");
    }
    // The text says the same.
    let out = cli(&[os("inspect"), path.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("params {} (", totals["params"])), "{text}");
    assert!(text.contains(&format!("MACs {}\n", totals["macs"])), "{text}");
    for sg in subgraphs {
        let mut table = std::collections::BTreeMap::<String, usize>::new();
        for o in sg["ops"].as_array().unwrap() {
            *table.entry(format!("{} v{}", o["op"].as_str().unwrap(), o["version"])).or_default() += 1;
        }
        for (k, n) in table {
            let want = format!("{k} {n}");
            assert!(text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == want), "{want:?} not in {text}");
        }
    }
    for m in j["metadata"].as_array().unwrap() {
        assert!(text.contains(&format!("metadata {}: {} bytes", m["name"], m["bytes"])), "{text}");
    }
    // The delegate report: one summary per delegate, one verdict per
    // delegate for every op, agreeing with the text's summary lines and
    // with the library.
    let d = &j["delegates"];
    let summaries = d["summaries"].as_array().expect("delegates.summaries");
    let names: Vec<&str> = summaries.iter().map(|s| s["delegate"].as_str().unwrap()).collect();
    assert_eq!(names, ["xnnpack", "gpu", "coreml"]);
    let d_ops = d["ops"].as_array().expect("delegates.ops");
    assert_eq!(d_ops.len() as u64, ops);
    let model = tflite_forge::read(&std::fs::read(path).unwrap()).unwrap();
    let lib = tflite_forge::delegate::report(&model);
    for (s, l) in summaries.iter().zip(&lib.summaries) {
        assert_eq!((s["ops_taken"].as_u64(), s["ops_total"].as_u64(), s["partitions"].as_u64()), (Some(l.ops_taken as u64), Some(l.ops_total as u64), Some(l.partitions as u64)));
        let taken = d_ops.iter().filter(|o| o["verdicts"].as_array().unwrap().iter().any(|v| v["delegate"] == s["delegate"] && v["taken"] == true)).count();
        assert_eq!(taken as u64, s["ops_taken"].as_u64().unwrap());
        assert!(text.contains(&l.to_string()), "summary {l} not in the text");
    }
    for o in d_ops {
        for v in o["verdicts"].as_array().unwrap() {
            assert_eq!(v["taken"] == true, v["reason_kind"].is_null(), "{v}");
        }
    }
    j
}

#[test]
fn inspect_json_follows_the_schema_and_agrees_with_text() {
    let d = tmp("inspect");
    std::fs::write(d.join("labels.txt"), "red\ngreen\nblue\n").unwrap();
    let labels = d.join("labels.txt");
    let m = converted(&d, "m", classifier_model(), &["--labels", labels.to_str().unwrap(), "--mean", "127.5", "--std", "127.5"]);
    let j = check_inspect(&m);
    // A 1x1 conv of 3 channels on 8x8: 8*8*3 outputs of 3 products each.
    assert_eq!(j["totals"]["macs"], 8 * 8 * 3 * 3);
    assert_eq!(j["signatures"][0]["inputs"][0]["name"], "image");
    let sg = &j["subgraphs"][0];
    let input = &sg["tensors"][sg["inputs"][0].as_u64().unwrap() as usize];
    assert_eq!(input["shape"], serde_json::json!([1, 8, 8, 3]));
    assert_eq!(input["dtype"], "FLOAT32");
    assert_eq!(j["associated_files"][0]["name"], "labels.txt");
    assert_eq!(j["associated_files"][0]["bytes"], 15);
    let md = &j["support_metadata"];
    assert_eq!(md["name"], "m");
    assert_eq!(md["tensors"][0]["normalization"]["mean"], serde_json::json!([127.5]));
    assert_eq!(md["tensors"][1]["associated_files"][0]["type"], "TensorAxisLabels");

    // A dynamic batch: -1 in the signature, 1 in the shape.
    let dynamic = converted(&d, "dyn", relu_model("Relu"), &[]);
    let j = check_inspect(&dynamic);
    let t = &j["subgraphs"][0]["tensors"][0];
    assert_eq!((t["shape"].clone(), t["shape_signature"].clone()), (serde_json::json!([1, 4]), serde_json::json!([-1, 4])));

    // Files made by MediaPipe and by TensorFlow's converter.
    if let Some(p) = cached("mediapipe-models-mediapipe-0.10.21/hand_landmark_lite.tflite") {
        let j = check_inspect(&p);
        assert!(j["totals"]["macs"].as_u64().unwrap() > 100_000_000, "{}", j["totals"]);
        assert_eq!(j["support_metadata"]["name"], "HandLandmarkDetector");
    }
    let tf = std::fs::read_dir(std::path::Path::new(&std::env::var("HOME").unwrap()).join(".cache/tflite-forge"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("tf-converter-"))
        .map(|e| e.path().join("conv_3d_fp32.tflite"))
        .find(|p| p.exists());
    match tf {
        Some(p) => {
            let j = check_inspect(&p);
            assert!(j["subgraphs"][0]["ops"].as_array().unwrap().iter().any(|o| o["op"] == "CONV_3D" && o["macs"].as_u64().unwrap() > 0), "{j}");
        }
        None => eprintln!("skipped: no TensorFlow-converter file cached"),
    }
}

/// Relu -> Relu: the second op can be changed to another activation.
fn two_op_model(second: &str) -> Vec<u8> {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(2), Some(4)]);
    let h = b.node("Neg", &[&x], vec![]);
    b.node_named(second, &[&h], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(2), Some(4)]);
    b.build()
}

#[test]
fn diff_exits_0_when_equal_1_when_different_naming_the_op() {
    let d = tmp("diff");
    let a = converted(&d, "a", two_op_model("Relu"), &[]);
    let b = converted(&d, "b", two_op_model("Sigmoid"), &[]);
    let out = cli(&[os("diff"), a.as_os_str(), a.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("equal"));
    let out = cli(&[os("diff"), a.as_os_str(), b.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("subgraph 0 op 1 RELU: op: RELU -> LOGISTIC"), "{text}");
    assert!(!text.contains("op 0 NEG"), "{text}");
    // An input error: exit 2, one line naming the file, with a hint.
    let out = cli(&[os("diff"), a.as_os_str(), d.join("a.onnx").as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("a.onnx") && err.contains("hint:"), "{err}");
}

#[test]
fn dot_draws_ops_shapes_and_clusters() {
    let d = tmp("dot");
    let m = converted(&d, "m", classifier_model(), &[]);
    let out = cli(&[os("dot"), m.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("digraph tflite {") && text.trim_end().ends_with('}'), "{text}");
    assert_eq!(text.matches('{').count(), text.matches('}').count());
    assert_eq!(text.matches("subgraph cluster_").count(), 1);
    let model = tflite_forge::read(&std::fs::read(&m).unwrap()).unwrap();
    for (i, o) in model.subgraphs[0].operators.iter().enumerate() {
        assert!(text.contains(&format!("s0_op{i} [label=\"{}\\n", o.op.name())), "op {i} missing: {text}");
    }
    assert!(text.contains("input image\\nFLOAT32 [1, 8, 8, 3]"), "{text}");
    assert!(text.contains("-> s0_out"), "{text}");
    // -o writes the same text.
    let dot_file = d.join("m.dot");
    let out = cli(&[os("dot"), m.as_os_str(), os("-o"), dot_file.as_os_str()]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&dot_file).unwrap(), text);
    match Command::new("dot").arg("-Tsvg").arg(&dot_file).output() {
        Ok(r) => {
            assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
            assert!(String::from_utf8_lossy(&r.stdout).contains("<svg"));
        }
        Err(_) => eprintln!("skipped rendering: Graphviz `dot` is not installed (the DOT structure was checked)"),
    }
}

#[test]
fn metadata_adds_labels_to_an_existing_file_and_changes_nothing_else() {
    let d = tmp("metadata");
    let plain = converted(&d, "plain", classifier_model(), &[]);
    std::fs::write(d.join("labels.txt"), "red\ngreen\nblue\n").unwrap();
    let out_path = d.join("labelled.tflite");
    let args = |extra: &[&str], out: &std::path::Path| {
        let mut v = vec![os("metadata").to_owned(), plain.clone().into_os_string(), os("-o").to_owned(), out.as_os_str().to_owned()];
        v.extend(extra.iter().map(|s| std::ffi::OsString::from(*s)));
        Command::new(BIN).args(v).output().unwrap()
    };
    let labels = d.join("labels.txt");
    let out = args(&["--labels", labels.to_str().unwrap(), "--mean", "127.5", "--std", "127.5", "--name", "toy", "--author", "me", "--license", "MIT"], &out_path);
    assert!(out.status.success(), "{}", stderr(&out));
    let model = tflite_forge::read(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(model.associated_file("labels.txt"), Some(&b"red\ngreen\nblue\n"[..]));
    let md = model.support_metadata().unwrap().unwrap();
    assert_eq!((md.name.as_deref(), md.author.as_deref(), md.license.as_deref()), (Some("toy"), Some("me"), Some("MIT")));
    // Everything else is the same: the diff names only metadata.
    let out = cli(&[os("diff"), plain.as_os_str(), out_path.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.ends_with("difference(s)")).collect();
    assert!(!lines.is_empty() && lines.iter().all(|l| l.starts_with("metadata \"TFLITE_METADATA\"") || l.starts_with("packed file \"labels.txt\"")), "{text}");
    // Editing a field keeps the labels.
    let edited = d.join("edited.tflite");
    let out = cli(&[os("metadata"), out_path.as_os_str(), os("-o"), edited.as_os_str(), os("--author"), os("you")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let model = tflite_forge::read(&std::fs::read(&edited).unwrap()).unwrap();
    let md = model.support_metadata().unwrap().unwrap();
    assert_eq!((md.name.as_deref(), md.author.as_deref()), (Some("toy"), Some("you")));
    assert!(model.associated_file("labels.txt").is_some());
    // Errors: exit 2, one line, no output file.
    let bad = d.join("bad.tflite");
    let out = cli(&[os("metadata"), plain.as_os_str(), os("-o"), bad.as_os_str(), os("--author"), os("x")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no TFLite Support metadata") && stderr(&out).lines().count() == 1, "{}", stderr(&out));
    std::fs::write(d.join("two.txt"), "a\nb\n").unwrap();
    let two = d.join("two.txt");
    let out = args(&["--labels", two.to_str().unwrap(), "--mean", "0", "--std", "1"], &bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not end in the 2 labels"), "{}", stderr(&out));
    assert!(!bad.exists());

    // A MediaPipe file: labels added, the graph untouched.
    if let Some(mp) = cached("mediapipe-models-mediapipe-0.10.21/hand_recrop.tflite") {
        std::fs::write(d.join("four.txt"), "x\ny\ns\nr\n").unwrap();
        let out_mp = d.join("recrop.tflite");
        let out = cli(&[os("metadata"), mp.as_os_str(), os("-o"), out_mp.as_os_str(), os("--labels"), d.join("four.txt").as_os_str(), os("--mean"), os("0"), os("--std"), os("255")]);
        assert!(out.status.success(), "{}", stderr(&out));
        let a = tflite_forge::read(&std::fs::read(&mp).unwrap()).unwrap();
        let b = tflite_forge::read(&std::fs::read(&out_mp).unwrap()).unwrap();
        assert_eq!(a.subgraphs, b.subgraphs);
        assert_eq!(b.associated_file("labels.txt"), Some(&b"x\ny\ns\nr\n"[..]));
    }
}

#[test]
fn verify_passes_a_faithful_file_and_catches_a_corrupted_weight() {
    let d = tmp("verify");
    let onnx = d.join("m.onnx");
    let good = converted(&d, "m", classifier_model(), &[]);
    let out = cli(&[os("verify"), onnx.as_os_str(), good.as_os_str(), os("--seed"), os("3")]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("ok") && stdout(&out).contains("scores"), "{}", stdout(&out));
    // Given inputs, in the ONNX layout.
    let x = tflite_forge::eval::Value::from_f32(vec![1, 3, 8, 8], (0..192).map(|i| (i % 17) as f32 / 8.0 - 1.0).collect());
    std::fs::write(d.join("in.npz"), tflite_forge::npy::write_npz(&[("image", &x)]).unwrap()).unwrap();
    let out = cli(&[os("verify"), onnx.as_os_str(), good.as_os_str(), os("--inputs"), d.join("in.npz").as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    std::fs::write(d.join("wrong.npz"), tflite_forge::npy::write_npz(&[("img", &x)]).unwrap()).unwrap();
    let out = cli(&[os("verify"), onnx.as_os_str(), good.as_os_str(), os("--inputs"), d.join("wrong.npz").as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("\"image\"") && stderr(&out).contains("hint:"), "{}", stderr(&out));

    // Flip one weight: 1.0 -> 0.0 in the conv filter.
    let mut model = tflite_forge::read(&std::fs::read(&good).unwrap()).unwrap();
    let sg = &mut model.subgraphs[0];
    let t = sg.tensors.iter_mut().filter(|t| t.data.is_some() && t.dtype == tflite_forge::DType::F32).max_by_key(|t| t.data.as_ref().unwrap().len()).unwrap();
    let mut w: Vec<f32> = t.data.as_ref().unwrap().to_vec();
    let k = w.iter().position(|v| *v != 0.0).unwrap();
    w[k] = 0.0;
    t.data = Some(tflite_forge::ConstData::from_slice(&w));
    let bad = d.join("bad.tflite");
    std::fs::write(&bad, tflite_forge::write(&model).unwrap()).unwrap();
    let out = cli(&[os("verify"), onnx.as_os_str(), bad.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("FAIL") && stdout(&out).contains("above tolerance"), "{}", stdout(&out));
    // A dynamic ONNX batch takes the file's size (3).
    let dynamic = converted(&d, "dyn", relu_model("Relu"), &["--batch", "3"]);
    let out = cli(&[os("verify"), d.join("dyn.onnx").as_os_str(), dynamic.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("[3, 4]"), "{}", stdout(&out));
    // A loose tolerance accepts it.
    let out = cli(&[os("verify"), onnx.as_os_str(), bad.as_os_str(), os("--tolerance"), os("10"), os("--rel-tolerance"), os("10")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn convert_json_prints_the_report() {
    let d = tmp("convert-json");
    std::fs::write(d.join("m.onnx"), classifier_model()).unwrap();
    let out = cli(&[os("convert"), d.join("m.onnx").as_os_str(), os("-o"), d.join("m.tflite").as_os_str(), os("--json")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON object on stdout");
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["opset"], 13);
    let model = tflite_forge::read(&std::fs::read(d.join("m.tflite")).unwrap()).unwrap();
    assert_eq!(j["op_count"].as_u64(), Some(model.subgraphs[0].operators.len() as u64));
    assert_eq!(j["io_layouts"][0], serde_json::json!({"name": "image", "layout": "NHWC"}));
    assert!(j["timings_ms"].as_array().is_some_and(|t| !t.is_empty()), "{j}");
    for k in ["folded_nodes", "folded_batchnorms", "fused_activations", "fused_patterns", "transposes_removed", "dynamic_dims", "warnings"] {
        assert!(j.get(k).is_some(), "{k} missing");
    }
    assert_eq!(j["output_bytes"].as_u64(), Some(std::fs::metadata(d.join("m.tflite")).unwrap().len()));
}

#[test]
fn every_subcommand_has_help_with_exit_codes_and_usage_errors_exit_2() {
    for sub in ["convert", "inspect", "diff", "dot", "metadata", "verify", "quantize"] {
        let out = cli(&[os(sub), os("--help")]);
        assert!(out.status.success(), "{sub}");
        let text = stdout(&out);
        assert!(text.contains("Exit codes:") && text.contains("2  usage or input error"), "{sub}: {text}");
    }
    let out = cli(&[os("diff"), os("only-one.tflite")]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&[os("inspect"), os("/nonexistent/x.tflite")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn quantize_existing_tflite_files() {
    let d = tmp("quantize-cmd");
    std::fs::write(d.join("m.onnx"), classifier_model()).unwrap();
    std::fs::create_dir_all(d.join("calib")).unwrap();
    for i in 0..4 {
        let v: Vec<f32> = (0..192).map(|k| ((k * 5 + i * 11) % 40) as f32 / 20.0 - 1.0).collect();
        std::fs::write(d.join("calib").join(format!("{i}.npy")), npy::npy_f32(&[1, 8, 8, 3], &v)).unwrap();
    }
    let convert = |extra: &[&str], out: &str| {
        let o = Command::new(BIN).args(["convert"]).arg(d.join("m.onnx")).arg("-o").arg(d.join(out)).args(extra).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    convert(&[], "f32.tflite");
    // A float16-weight file, as TensorFlow's converter and MediaPipe ship
    // them (float16 constants behind DEQUANTIZE).
    convert(&["--quantize", "float16"], "f16.tflite");
    let calib = d.join("calib");
    let quantize = |input: &str, extra: &[&str], out: &str| {
        Command::new(BIN).arg("quantize").arg(d.join(input)).arg("-o").arg(d.join(out)).args(extra).output().unwrap()
    };
    for input in ["f32.tflite", "f16.tflite"] {
        let o = quantize(input, &["--mode", "int8", "--io", "uint8", "--calibration", calib.to_str().unwrap()], "q.tflite");
        assert!(o.status.success(), "{input}: {}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("quantized (int8, uint8 I/O) from 4 sample(s)") && text.contains("outputs cosine"), "{text}");
        let model = tflite_forge::read(&std::fs::read(d.join("q.tflite")).unwrap()).unwrap();
        let sg = &model.subgraphs[0];
        assert_eq!(sg.tensors[sg.inputs[0].index()].dtype, tflite_forge::DType::U8);
        assert!(sg.operators.iter().all(|o| !matches!(o.op, tflite_forge::Op::Dequantize)), "{input}: DEQUANTIZE left");
        std::fs::remove_file(d.join("q.tflite")).unwrap();
    }
    let o = quantize("f16.tflite", &["--mode", "dynamic"], "d.tflite");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Failures: one line with a hint, exit code 2 (input error), no file.
    let o = quantize("f32.tflite", &["--mode", "int8"], "bad.tflite");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("--calibration") && err.lines().count() == 1, "{err}");
    let o = quantize("m.onnx", &["--mode", "dynamic"], "bad.tflite");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("hint: the file must be a valid .tflite") && err.lines().count() == 1, "{err}");
    assert!(!d.join("bad.tflite").exists());
}

#[test]
fn quantize_with_blockwise_int4_weights() {
    use tflite_forge::{Activation, DType, FullyConnectedOptions, ModelBuilder};
    let d = tmp("blockwise");
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [1, 512]);
    let wa: Vec<f32> = (0..16 * 512).map(|k| ((k * 7) % 13) as f32 / 13.0 - 0.5).collect();
    let wa = g.constant_f32("a/w", [16, 512], &wa);
    let ya = g.fully_connected(x, wa, None, FullyConnectedOptions::default().with_activation(Activation::Relu)).unwrap();
    // 3 output units: LiteRT's blockwise kernel would compute them wrongly.
    let wb: Vec<f32> = (0..3 * 512).map(|k| ((k * 5) % 11) as f32 / 11.0 - 0.5).collect();
    let wb = g.constant_f32("b/w", [3, 512], &wb);
    let yb = g.fully_connected(x, wb, None, FullyConnectedOptions::default()).unwrap();
    g.output("a", ya);
    g.output("b", yb);
    b.finish_subgraph(g).unwrap();
    std::fs::write(d.join("f32.tflite"), tflite_forge::write(&b.finish().unwrap()).unwrap()).unwrap();
    let quantize = |extra: &[&str], out: &str| {
        Command::new(BIN).arg("quantize").arg(d.join("f32.tflite")).arg("-o").arg(d.join(out)).args(extra).output().unwrap()
    };
    let o = quantize(&["--mode", "dynamic-int4", "--int4-block-size", "64"], "q.tflite");
    assert!(o.status.success(), "{}", stderr(&o));
    // The RELU moved to its own op, so the second FULLY_CONNECTED is op 2.
    assert!(stdout(&o).contains("operator 2 weights \"b/w\": per-channel int4, not blockwise: 3 output units"), "{}", stdout(&o));
    let model = tflite_forge::read(&std::fs::read(d.join("q.tflite")).unwrap()).unwrap();
    let sg = &model.subgraphs[0];
    assert!(matches!(sg.operators[1].op, tflite_forge::Op::Relu));
    let details = |oi: usize| sg.tensors[sg.operators[oi].inputs[1].unwrap().index()].quantization.as_ref().unwrap().details.clone();
    assert_eq!(details(0).unwrap().blockwise().map(|b| b.block_size), Some(64));
    assert!(details(2).is_none());
    for (extra, want) in [
        (&["--mode", "dynamic-int4", "--int4-block-size", "48"][..], "block size 48"),
        (&["--mode", "dynamic", "--int4-block-size", "32"][..], "dynamic-int4"),
    ] {
        let o = quantize(extra, "bad.tflite");
        assert!(!o.status.success() && stderr(&o).contains(want), "{extra:?}: {}", stderr(&o));
        assert!(!d.join("bad.tflite").exists());
    }
}

#[test]
fn edit_dynamic_batch_makes_the_batch_dynamic_or_leaves_nothing() {
    let d = tmp("edit");
    let fixed = converted(&d, "fixed", classifier_model(), &[]);
    let before = tflite_forge::read(&std::fs::read(&fixed).unwrap()).unwrap();
    let input = before.subgraphs[0].inputs[0];
    assert_eq!(before.subgraphs[0].tensors[input.index()].shape.dims()[0], tflite_forge::Dim::Fixed(1));
    let out_path = d.join("dynamic.tflite");
    let out = cli(&[os("edit"), fixed.as_os_str(), os("-o"), out_path.as_os_str(), os("--dynamic-batch")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("dynamic batch on image"), "{}", stdout(&out));
    let model = tflite_forge::read(&std::fs::read(&out_path).unwrap()).unwrap();
    let sg = &model.subgraphs[0];
    for t in sg.inputs.iter().chain(&sg.outputs) {
        assert_eq!(sg.tensors[t.index()].shape.dims()[0], tflite_forge::Dim::Dynamic, "{}", sg.tensors[t.index()].name);
    }
    // Two images at once give what each gives alone.
    let img = |k: usize| -> Vec<f32> { (0..192).map(|i| ((i + 31 * k) as f32 * 0.11).cos()).collect() };
    let run = |m: &tflite_forge::Model, batch: u32, data: Vec<f32>| {
        let v = tflite_forge::eval::Value::from_f32(vec![batch as usize, 8, 8, 3], data);
        tflite_forge::eval::Evaluator::new(m).run(0, &[v]).unwrap().remove(0).to_f32()
    };
    let both = run(&model, 2, [img(0), img(1)].concat());
    assert_eq!(both, [run(&before, 1, img(0)), run(&before, 1, img(1))].concat());
    // Nothing asked, or an output path in a missing directory: an error and no file.
    let none = d.join("none.tflite");
    let out = cli(&[os("edit"), fixed.as_os_str(), os("-o"), none.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to change"), "{}", stderr(&out));
    assert!(!none.exists());
}
