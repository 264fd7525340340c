//! The conformance harness: our files, judged by the official LiteRT
//! interpreter (PyPI `ai-edge-litert`) and NumPy.
//!
//! Tiers:
//! - **schema**: our schema's enums, unions and field slots equal those of
//!   the schema generated into the `ai-edge-litert` wheel, and the checked-in
//!   Rust code equals a fresh `flatc` generation;
//! - **builder**: models made with the builders run in the interpreter
//!   (through `get_signature_runner` where they have a signature) and match a
//!   NumPy reference evaluation of the same file;
//! - **reader**: files made by TensorFlow's TFLiteConverter
//!   (tests/fixtures/tf) are read and written back by us, and the rewritten
//!   file gives bit-identical outputs;
//! - **metadata**: TFLite Support metadata and associated files, judged by
//!   the official `tflite-support` toolkit and its Task Library (see
//!   metadata_tier.rs);
//! - **quantize**: models quantized by us (int8 with float, int8 and uint8
//!   I/O; float16) run in LiteRT next to their float originals, and LiteRT's
//!   integer outputs match our evaluator's (see quantize_tier.rs);
//! - **tf**: files from TensorFlow's converter (float32, int8, 16x8) and the
//!   MediaPipe wheel read typed with the converter's op versions, and our
//!   select-TF ops run in TensorFlow's interpreter (see tf_tier.rs);
//! - **stablehlo**: StableHLO ops built alone, read back equal, and run in
//!   LiteRT against NumPy where its resolver has them (stablehlo_tier.rs);
//! - **qbuilder**: the float builder cases quantized by us to int8 and 16x8
//!   run in LiteRT against NumPy (qbuilder_tier.rs);
//! - **eval**: our reference evaluator against LiteRT on the builder tier's
//!   float cases (see eval_tier.rs);
//! - **dynbatch**: the builder cases with their batch made dynamic by
//!   `passes::batch`, run at their batch and at one more (dynbatch_tier.rs);
//! - **flexbuffers**: our FlexBuffers encoder and decoder against the
//!   reference implementation in the `flatbuffers` wheel;
//! - **delegate**: our delegate-compatibility report against the operators
//!   LiteRT's default XNNPACK delegate claims (see delegate_tier.rs);
//! - **frameworks**: ONNX files from tf2onnx (Keras 3 / TensorFlow) and
//!   paddle2onnx, converted by us and run in LiteRT against onnxruntime
//!   (see frameworks_tier.rs);
//! - **accuracy**: classifiers trained on scikit-learn's digits (a plain CNN
//!   and a MobileNetV2-style network), converted from ONNX and quantized to
//!   int8 by us, classify the whole test split in LiteRT: top-1 accuracy of
//!   the float and int8 files, and the drop (see accuracy_tier.rs).
//!
//! Prints one line per case and a closing `N passed, N failed, N skipped`,
//! writes `target/conformance/report.json`, and exits non-zero on any
//! failure. `CONFORMANCE_FILTER=substring` runs a subset (`a|b` for either).

mod accuracy_tier;
#[path = "../common/mod.rs"]
mod common;
mod eval_tier;
mod flex_tier;
mod frameworks_tier;
mod metadata_tier;
#[path = "../common/npy.rs"]
mod npy;
mod onnx_tiers;
mod qbuilder_tier;
mod quantize_tier;
mod stablehlo_tier;
mod tf_tier;
mod venv;
mod delegate_tier;
mod dynbatch_tier;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tflite_forge::write::{write_with, BufferPlacement, WriteOptions};

pub(crate) struct Outcome {
    pub name: String,
    pub status: &'static str,
    pub detail: String,
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // Work files go to a per-run directory so concurrent runs don't collide;
    // the report goes to target/conformance/report.json.
    let report_dir = root.join("target/conformance");
    let out = report_dir.join(format!("run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("create target/conformance");
    let filter = std::env::var("CONFORMANCE_FILTER").unwrap_or_default();
    // A case runs when its name contains the filter; a tier runs when the
    // filter names something inside it.
    // Alternatives separated by `|`: `node/test_if|node/test_loop`.
    let selected = |name: &str| filter.is_empty() || filter.split('|').any(|f| name.contains(f) || f.starts_with(name));

    let mut outcomes: Vec<Outcome> = Vec::new();
    let python = match venv::ensure(&root) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("conformance: cannot set up the Python environment: {e}");
            println!("conformance: 0 passed, 1 failed, 0 skipped");
            std::process::exit(1);
        }
    };

    // Schema tier.
    if selected("schema/") {
        outcomes.push(schema_tier(&root, &python));
        outcomes.push(generated_code_tier(&root, &python));
    }

    // Builder and reader tiers produce jobs for the Python runner.
    let mut jobs: Vec<Value> = Vec::new();
    let mut coverage = std::collections::BTreeSet::new();
    for case in common::builder_cases() {
        let name = format!("builder/{}", case.name);
        if !selected(&name) {
            continue;
        }
        add_coverage(&mut coverage, &case.model);
        let mut opts = WriteOptions::default();
        if case.external_buffers {
            opts.buffers = BufferPlacement::AfterFlatbuffer;
        }
        let path = out.join(format!("{}.tflite", name.replace('/', "__")));
        match write_with(&case.model, &opts) {
            Ok(bytes) => std::fs::write(&path, bytes).expect("write case file"),
            Err(e) => {
                outcomes.push(Outcome { name, status: "failed", detail: format!("write failed: {e}") });
                continue;
            }
        }
        if let Some((check, seeded)) = &case.random {
            // Random ops: judged by properties over fresh interpreters.
            let probs = match check {
                common::RandomCheck::Multinomial { probs } => json!(probs),
                _ => Value::Null,
            };
            jobs.push(json!({
                "name": name, "kind": "random", "model": path, "distribution": check.kind(),
                "seeded": seeded, "probs": probs, "delegate": "default",
            }));
            continue;
        }
        let resize: serde_json::Map<String, Value> = case.resize.iter().map(|(n, s)| (n.clone(), json!(s))).collect();
        jobs.push(json!({
            "name": name, "kind": "numpy", "model": path, "signature": case.signature,
            "seed": 7, "rtol": case.rtol, "atol": case.atol, "quant_tol": case.quant_tol,
            "resize": if resize.is_empty() { Value::Null } else { Value::Object(resize) },
            "delegate": "default",
        }));
    }
    eval_tier::eval_tier(&common::builder_cases(), &out, &selected, &mut jobs, &mut outcomes);
    dynbatch_tier::dynbatch_tier(&common::builder_cases(), &out, &selected, &mut jobs, &mut outcomes);
    for m in qbuilder_tier::qbuilder_tier(&common::builder_cases(), &out, &selected, &mut jobs, &mut outcomes) {
        add_coverage(&mut coverage, &m);
    }
    if !coverage.is_empty() {
        let ops: std::collections::BTreeSet<&str> = coverage.iter().map(|(op, _)| op.as_str()).collect();
        let count = |t: &str| coverage.iter().filter(|(_, d)| d == t).count();
        println!(
            "builder coverage: {} builtin ops, {} op x data-type pairs run in LiteRT ({} float32, {} int8, {} int16): {}",
            ops.len(),
            coverage.len(),
            count("FLOAT32"),
            count("INT8"),
            count("INT16"),
            coverage.iter().map(|(op, t)| format!("{op}:{t}")).collect::<Vec<_>>().join(" ")
        );
    }
    reader_tier(&root, &out, &selected, &mut jobs, &mut outcomes);
    metadata_tier::metadata_tier(&root, &python, &out, &selected, &mut jobs, &mut outcomes);
    flex_tier::flex_tier(&root, &python, &out, &selected, &mut outcomes);
    tf_tier::tf_tier(&root, &python, &out, &selected, &mut jobs, &mut outcomes);
    stablehlo_tier::stablehlo_tier(&root, &python, &out, &selected, &mut outcomes);
    onnx_tiers::model_tier(&root, &out, &selected, &mut jobs, &mut outcomes);
    onnx_tiers::dynamic_tier(&root, &out, &selected, &mut jobs, &mut outcomes);
    onnx_tiers::recurrent_tier(&root, &out, &selected, &mut jobs, &mut outcomes);
    onnx_tiers::quant_tier(&root, &out, &selected, &mut jobs, &mut outcomes);
    frameworks_tier::frameworks_tier(&root, &out, &selected, &mut jobs, &mut outcomes);
    quantize_tier::quantize_tier(&root, &out, &selected, &mut jobs, &mut outcomes);
    accuracy_tier::accuracy_tier(&root, &out, &selected, &mut jobs, &mut outcomes);
    let unsupported = onnx_tiers::node_tier(&root, &python, &out, &selected, &mut jobs, &mut outcomes);
    delegate_tier::delegate_tier(&root, &python, &out, &selected, &mut outcomes);

    if !jobs.is_empty() {
        outcomes.extend(run_jobs(&root, &python, &out, &jobs));
    }

    let (mut passed, mut failed, mut skipped_outcomes) = (0, 0, 0usize);
    // Node cases that cannot be converted end as unsupported, with a reason.
    let node_skipped: usize = unsupported.iter().filter(|(k, _)| !k.starts_with('(')).map(|(_, v)| *v).sum();
    for o in &outcomes {
        match o.status {
            "passed" => passed += 1,
            "skipped" => skipped_outcomes += 1,
            _ => failed += 1,
        }
        let mark = match o.status {
            "passed" => "PASS",
            "skipped" => "SKIP",
            _ => "FAIL",
        };
        if o.detail.is_empty() {
            println!("{mark} {}", o.name);
        } else {
            println!("{mark} {}: {}", o.name, o.detail);
        }
    }
    if !unsupported.is_empty() {
        let node_passed = outcomes.iter().filter(|o| o.name.starts_with("node/") && o.status == "passed").count();
        let node_failed = outcomes.iter().filter(|o| o.name.starts_with("node/") && o.status != "passed").count();
        println!("node tier: {node_passed} passed, {node_failed} failed (converted but wrong), unsupported by reason: {unsupported:?}");
    }
    if selected("model/") && outcomes.iter().any(|o| o.name.starts_with("model/")) {
        for l in onnx_tiers::ort_latencies(&root) {
            println!("{l}");
        }
    }
    let skipped = node_skipped + skipped_outcomes;
    let report = json!({
        "passed": passed, "failed": failed, "skipped": skipped, "unsupported": unsupported,
        "cases": outcomes.iter().map(|o| json!({"name": o.name, "status": o.status, "detail": o.detail})).collect::<Vec<_>>(),
    });
    let _ = std::fs::write(report_dir.join("report.json"), serde_json::to_vec_pretty(&report).unwrap_or_default());
    if std::env::var_os("CONFORMANCE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&out);
    }
    println!("conformance: {passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 || passed == 0 {
        std::process::exit(1);
    }
}

/// Records each builtin op of `m` with the type of its data operand.
fn add_coverage(set: &mut std::collections::BTreeSet<(String, String)>, m: &tflite_forge::Model) {
    common::int_coverage::op_types(m, set);
}

pub(crate) fn command_outcome(name: &str, cmd: &mut Command) -> Outcome {
    match cmd.output() {
        Ok(o) => {
            let stdout = String::from_utf8_lossy(&o.stdout);
            let stderr = String::from_utf8_lossy(&o.stderr);
            let last = stdout.lines().chain(stderr.lines()).filter(|l| !l.trim().is_empty()).next_back().unwrap_or("").to_string();
            if o.status.success() {
                Outcome { name: name.into(), status: "passed", detail: last }
            } else {
                let diffs: Vec<&str> = stdout.lines().chain(stderr.lines()).filter(|l| !l.trim().is_empty()).take(20).collect();
                Outcome { name: name.into(), status: "failed", detail: diffs.join(" | ") }
            }
        }
        Err(e) => Outcome { name: name.into(), status: "failed", detail: format!("cannot run: {e}") },
    }
}

fn schema_tier(root: &Path, python: &Path) -> Outcome {
    let flatc = python.with_file_name("flatc");
    command_outcome(
        "schema/enums_unions_field_slots_match_ai_edge_litert",
        Command::new(python)
            .arg(root.join("tests/conformance/py/schema_check.py"))
            .arg("--fbs")
            .arg(root.join("schema/tflite.fbs"))
            .arg("--flatc")
            .arg(flatc),
    )
}

fn generated_code_tier(root: &Path, python: &Path) -> Outcome {
    command_outcome(
        "schema/generated_rust_code_is_current",
        Command::new("bash").arg(root.join("schema/regenerate.sh")).arg("--check").env("FLATC", python.with_file_name("flatc")),
    )
}

/// Reads each converter-made fixture, writes it back, and queues a job that
/// requires identical outputs. Also compares op versions with the converter's.
fn reader_tier(root: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    let dir = root.join("tests/fixtures/tf");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "tflite")).collect())
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        outcomes.push(Outcome { name: "reader/fixtures".into(), status: "failed", detail: format!("no fixtures in {}", dir.display()) });
        return;
    }
    for f in files {
        let stem = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let name = format!("reader/{stem}");
        if !selected(&name) {
            continue;
        }
        foreign_file(&name, &f, out, true, true, jobs, outcomes);
    }
}

/// The reader checks of a `.tflite` file made by another tool: it reads,
/// every operator is typed, it writes and reads back to the same model, our
/// op versions equal the file's, and (when `run`) the rewritten file gives
/// bit-identical outputs in LiteRT.
///
/// Our versions follow op_version.cc. With `strict_versions` off, a version
/// that differs from the file's is reported as skipped, not failed: files
/// from older converters carry the versions of their time, and TensorFlow's
/// 16x8 quantizer (tools/optimize/quantize_model.cc) writes the `version`
/// of its operator property table (GATHER 2, TILE 3, UNPACK 1) rather than
/// op_version.cc's rule for int16.
pub(crate) fn foreign_file(name: &str, f: &Path, out: &Path, run: bool, strict_versions: bool, jobs: &mut Vec<Value>, outcomes: &mut Vec<Outcome>) {
    let name = name.to_string();
    let stem = name.replace('/', "__");
    let bytes = match std::fs::read(f) {
        Ok(b) => b,
        Err(e) => {
            outcomes.push(Outcome { name, status: "failed", detail: format!("cannot read file: {e}") });
            return;
        }
    };
    let model = match tflite_forge::read(&bytes) {
        Ok(m) => m,
        Err(e) => {
            outcomes.push(Outcome { name, status: "failed", detail: format!("read failed: {e}") });
            return;
        }
    };
    // Every operator of another tool's file reads as a typed op.
    let ops: Vec<&tflite_forge::Op> = model.subgraphs.iter().flat_map(|sg| sg.operators.iter().map(|o| &o.op)).collect();
    let opaque: Vec<&str> = ops.iter().filter(|o| matches!(o, tflite_forge::Op::Builtin(_))).map(|o| o.name()).collect();
    outcomes.push(Outcome {
        name: format!("{name}/typed"),
        status: if opaque.is_empty() { "passed" } else { "failed" },
        detail: format!("{} operators, {} opaque {opaque:?}", ops.len(), opaque.len()),
    });
    let rewritten = match tflite_forge::write(&model) {
        Ok(b) => b,
        Err(e) => {
            outcomes.push(Outcome { name, status: "failed", detail: format!("write failed: {e}") });
            return;
        }
    };
    // The rewrite must read back to the same model.
    match tflite_forge::read(&rewritten) {
        Ok(back) if back == model => {}
        Ok(_) => outcomes.push(Outcome { name: format!("{name}/model_round_trip"), status: "failed", detail: "read(write(read(f))) != read(f)".into() }),
        Err(e) => outcomes.push(Outcome { name: format!("{name}/model_round_trip"), status: "failed", detail: e.to_string() }),
    }
    let mut v = version_check(&format!("{name}/op_versions_match_converter"), &bytes, &rewritten);
    if !strict_versions && v.status == "failed" {
        v.status = "skipped";
        v.detail = format!("versions of an older converter or of the 16x8 quantizer's property table: {}", v.detail);
    }
    outcomes.push(v);
    let path = out.join(format!("{stem}.rewritten.tflite"));
    std::fs::write(&path, &rewritten).expect("write rewritten file");
    if run {
        jobs.push(json!({"name": format!("{name}/identical_outputs"), "kind": "same", "model": f, "other": path, "seed": 11, "delegate": "default"}));
    }
}

/// Our op code versions must equal the converter's for every builtin.
fn version_check(name: &str, original: &[u8], ours: &[u8]) -> Outcome {
    let (Ok(a), Ok(b)) = (tflite_forge::read::inspect(original), tflite_forge::read::inspect(ours)) else {
        return Outcome { name: name.into(), status: "failed", detail: "inspect failed".into() };
    };
    let key = |c: &tflite_forge::read::OpCodeEntry| (c.builtin_code.max(i32::from(c.deprecated_builtin_code)), c.custom_code.clone());
    let mut diffs = Vec::new();
    for c in &a.op_codes {
        match b.op_codes.iter().find(|d| key(d) == key(c)) {
            Some(d) if d.version == c.version => {}
            Some(d) => diffs.push(format!(
                "{}: converter v{}, ours v{}",
                tflite_forge::builtin_name(key(c).0).unwrap_or("?"),
                c.version,
                d.version
            )),
            None => diffs.push(format!("op code {} missing", key(c).0)),
        }
    }
    if diffs.is_empty() {
        Outcome { name: name.into(), status: "passed", detail: String::new() }
    } else {
        Outcome { name: name.into(), status: "failed", detail: diffs.join("; ") }
    }
}

fn run_jobs(root: &Path, python: &Path, out: &Path, jobs: &[Value]) -> Vec<Outcome> {
    let jobs_path = out.join("jobs.json");
    let results_path = out.join("results.json");
    std::fs::write(&jobs_path, serde_json::to_vec_pretty(jobs).expect("jobs json")).expect("write jobs");
    let status = Command::new(python)
        .arg(root.join("tests/conformance/py/runner.py"))
        .arg(&jobs_path)
        .arg(&results_path)
        .args(["--workers", "2"])
        .status();
    let names = || jobs.iter().map(|j| j["name"].as_str().unwrap_or("?").to_string());
    let fail_all = |detail: String| names().map(|name| Outcome { name, status: "failed", detail: detail.clone() }).collect();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return fail_all(format!("runner.py exited with {s}")),
        Err(e) => return fail_all(format!("cannot start runner.py: {e}")),
    }
    let results: Vec<Value> = match std::fs::read(&results_path).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
        Some(v) => v,
        None => return fail_all("runner.py wrote no readable results".into()),
    };
    names()
        .map(|name| {
            let r = results.iter().find(|r| r["name"].as_str() == Some(&name));
            match r {
                Some(r) => {
                    // "skipped" only where a job allows it (LiteRT refusing
                    // the sizes of a `litert_may_refuse` job).
                    let status = match r["status"].as_str() {
                        Some("passed") => "passed",
                        Some("skipped") => "skipped",
                        _ => "failed",
                    };
                    let mut detail = r["detail"].as_str().unwrap_or("").to_string();
                    if let Some(d) = r["max_abs_diff"].as_f64() {
                        detail = if detail.is_empty() { format!("max_abs_diff={d:.3e}") } else { format!("{detail} (max_abs_diff={d:.3e})") };
                    }
                    Outcome { name, status, detail }
                }
                None => Outcome { name, status: "failed", detail: "no result from runner.py".into() },
            }
        })
        .collect()
}
