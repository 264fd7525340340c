//! Hostile inputs: every valid fixture, mutated thousands of times
//! (truncations, bit flips and field-aware edits), must give a typed error
//! or a valid model, within bounded time and bounded allocation. A counting
//! global allocator measures the peak of each case.

mod common;
#[path = "common/onnx_build.rs"]
mod onnx_build;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Rng;
use onnx_build::*;
use onnx_protobuf::{Message, ModelProto};
use tflite_forge::onnx::{convert, ConvertOptions, Limits};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The allocator counts globally, so the tests take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Peak allocation allowed above the baseline for one case.
const ALLOC_LIMIT: usize = 256 << 20;
/// Time allowed for one case (generous: this bounds hangs, it is no benchmark).
const TIME_LIMIT: Duration = Duration::from_secs(10);

fn limits() -> ConvertOptions {
    let mut l = Limits::default();
    l.max_model_bytes = 8 << 20;
    l.max_tensor_elements = 1 << 22;
    l.max_constant_bytes = 32 << 20;
    l.max_nodes = 10_000;
    let mut o = ConvertOptions::default();
    o.limits = l;
    o
}

struct Stats {
    cases: usize,
    accepted: usize,
    worst_alloc: usize,
    worst_time: Duration,
}

fn measure(stats: &mut Stats, what: &str, f: impl FnOnce() -> bool) {
    // Serial: the allocator counts globally, so cases must not overlap.
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let accepted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what}: panicked"));
    let dt = t.elapsed();
    let used = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    assert!(used <= ALLOC_LIMIT, "{what}: allocated {used} bytes (limit {ALLOC_LIMIT})");
    assert!(dt <= TIME_LIMIT, "{what}: took {dt:?}");
    stats.cases += 1;
    stats.accepted += usize::from(accepted);
    stats.worst_alloc = stats.worst_alloc.max(used);
    stats.worst_time = stats.worst_time.max(dt);
}

/// A typed error with a message: the case was rejected cleanly.
fn rejected(e: impl std::fmt::Display) -> bool {
    assert!(!e.to_string().is_empty());
    false
}

fn tflite_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tf");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tflite"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v.push(("resnet_like".into(), tflite_forge::write(&common::resnet_like(1, tflite_forge::Dim::Dynamic)).unwrap()));
    v.push(("with_metadata".into(), model_with_metadata()));
    v.push(("while_loop".into(), tflite_forge::write(&common::while_loop_model(10, &[2])).unwrap()));
    v.push(("if".into(), tflite_forge::write(&common::if_model(true, &[2])).unwrap()));
    // Blockwise int4 weights: a file written by LiteRT's own schema code.
    let blockwise = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/blockwise/fc_blockwise.tflite");
    v.push(("fc_blockwise".into(), std::fs::read(blockwise).unwrap()));
    v
}

/// Every builder-tier case (one op or a small graph each, every op family):
/// seeds for mutations that reach the evaluator's kernels.
fn builder_fixtures() -> Vec<(String, Vec<u8>)> {
    common::builder_cases().into_iter().filter_map(|c| tflite_forge::write(&c.model).ok().map(|b| (c.name, b))).collect()
}

#[test]
fn mutated_builder_models_evaluate_cleanly() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut stats = Stats { cases: 0, accepted: 0, worst_alloc: 0, worst_time: Duration::ZERO };
    let mut r = Rng::new(77);
    let fixtures = builder_fixtures();
    for (name, bytes) in &fixtures {
        // The unmutated model evaluates too.
        let model = tflite_forge::read(bytes).expect("a builder case reads");
        measure(&mut stats, &format!("{name} as built"), || {
            evaluate_bounded(&model);
            true
        });
        for k in 0..30 {
            let m = mutate_bytes(&mut r, bytes);
            measure(&mut stats, &format!("{name} mutation {k}"), || match tflite_forge::read(&m) {
                Ok(model) => {
                    evaluate_bounded(&model);
                    true
                }
                Err(e) => rejected(e),
            });
        }
    }
    eprintln!("builder cases: {} cases, {} accepted, peak {} KiB, slowest {:?}", stats.cases, stats.accepted, stats.worst_alloc >> 10, stats.worst_time);
    assert!(stats.cases >= 30 * 100, "{} cases", stats.cases);
}

/// Runs the reference evaluator on an accepted (possibly hostile) model,
/// with zero inputs shaped like its inputs (dynamic dimensions as 1) and a
/// bounded element budget: any outcome but a panic, an allocation over the
/// bound or a hang is fine.
fn evaluate_bounded(model: &tflite_forge::Model) {
    use tflite_forge::eval::{Evaluator, Value};
    // The dynamic-batch rewrite (CLI `edit`) takes the same hostile models:
    // a typed refusal or a model, never a panic.
    let _ = tflite_forge::passes::batch::make_batch_dynamic(&mut model.clone());
    let Some(sg) = model.subgraphs.first() else { return };
    let inputs: Result<Vec<Value>, _> = sg.inputs.iter().filter_map(|t| sg.tensor(*t)).map(|t| Value::zeros_for(t, Some(1), 1 << 16)).collect();
    if let Ok(inputs) = inputs {
        let _ = Evaluator::new(model).with_max_elements(1 << 20).with_max_while_iterations(1000).run(0, &inputs);
    }
}

fn mutate_bytes(r: &mut Rng, b: &[u8]) -> Vec<u8> {
    let mut m = b.to_vec();
    match r.below(4) {
        0 => m.truncate(r.below(b.len() as u64) as usize),
        1 => {
            for _ in 0..1 + r.below(8) {
                let i = r.below(m.len().max(1) as u64) as usize;
                if let Some(x) = m.get_mut(i) {
                    *x ^= 1 << r.below(8);
                }
            }
        }
        _ => {
            // Field-aware for flatbuffers and protobuf alike: overwrite an
            // aligned word with an extreme value (sizes, indices, offsets).
            let vals: [u32; 7] = [0, 0xffff_ffff, 0x7fff_ffff, 0x8000_0000, 0x0100_0000, 0xffff, 3];
            for _ in 0..1 + r.below(3) {
                if m.len() >= 8 {
                    let i = (r.below((m.len() - 4) as u64) as usize) & !3;
                    m[i..i + 4].copy_from_slice(&vals[r.below(7) as usize].to_le_bytes());
                }
            }
        }
    }
    m
}

#[test]
fn mutated_tflite_files_fail_cleanly() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut stats = Stats { cases: 0, accepted: 0, worst_alloc: 0, worst_time: Duration::ZERO };
    let mut r = Rng::new(2026);
    let fixtures = tflite_fixtures();
    for (name, bytes) in &fixtures {
        for k in 0..600 {
            let m = mutate_bytes(&mut r, bytes);
            measure(&mut stats, &format!("{name} mutation {k}"), || match tflite_forge::read(&m) {
                Ok(model) => {
                    tflite_forge::write(&model).expect("an accepted model writes");
                    evaluate_bounded(&model);
                    true
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    false
                }
            });
        }
    }
    eprintln!("tflite: {} cases, {} accepted, peak {} KiB, slowest {:?}", stats.cases, stats.accepted, stats.worst_alloc >> 10, stats.worst_time);
    assert!(stats.cases >= 7000);
}

fn onnx_fixtures() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut r = Rng::new(9);
    // A small CNN with a shape-computing chain, as torch exports them.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[None, Some(3), Some(8), Some(8)]);
    let w = b.init_f32("w", &[4, 3, 3, 3], &r.vec(108, 0.5));
    let c = b.node("Conv", &[&x, &w], vec![attr_ints("pads", &[1, 1, 1, 1]), attr_ints("strides", &[2, 2])]);
    let a = b.node("Relu", &[&c], vec![]);
    let s = b.node("Shape", &[&a], vec![]);
    let i0 = b.init_i64("i0", &[], &[0]);
    let n = b.node("Gather", &[&s, &i0], vec![]);
    let ax = b.init_i64("ax", &[1], &[0]);
    let n1 = b.node("Unsqueeze", &[&n, &ax], vec![]);
    let m1 = b.init_i64("m1", &[1], &[-1]);
    let tgt = b.node("Concat", &[&n1, &m1], vec![attr_int("axis", 0)]);
    let f = b.node("Reshape", &[&a, &tgt], vec![]);
    let fw = b.init_f32("fw", &[64, 5], &r.vec(320, 0.5));
    let fb = b.init_f32("fb", &[5], &r.vec(5, 0.5));
    let g = b.node("Gemm", &[&f, &fw, &fb], vec![]);
    b.node_named("Softmax", &[&g], &["y"], vec![attr_int("axis", 1)]);
    b.output("y", FLOAT, &[None, Some(5)]);
    out.push(b.build());
    // Pooling, concat, clip, pad.
    let mut b = OnnxBuilder::new(11);
    let x = b.input("x", FLOAT, &[Some(1), Some(2), Some(6), Some(6)]);
    let rx = b.node("Relu", &[&x], vec![]);
    let p = b.node("MaxPool", &[&rx], vec![attr_ints("kernel_shape", &[3, 3]), attr_int("ceil_mode", 1), attr_ints("strides", &[2, 2])]);
    let q = b.node("AveragePool", &[&x], vec![attr_ints("kernel_shape", &[2, 2]), attr_ints("strides", &[2, 2])]);
    let cat = b.node("Concat", &[&p, &q], vec![attr_int("axis", 1)]);
    let lo = b.init_f32("lo", &[], &[0.0]);
    let hi = b.init_f32("hi", &[], &[6.0]);
    let cl = b.node("Clip", &[&cat, &lo, &hi], vec![]);
    let pads = b.init_i64("pads", &[8], &[0, 0, 1, 1, 0, 0, 1, 1]);
    b.node_named("Pad", &[&cl, &pads], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(4), Some(5), Some(5)]);
    out.push(b.build());
    out.push(control_flow_fixture(&mut r));
    // 1-D grouped convolution, pools from window taps, normalization, DFT.
    let mut b = OnnxBuilder::new(17);
    let x = b.input("x", FLOAT, &[Some(1), Some(4), Some(12)]);
    let w = b.init_f32("w", &[4, 2, 3], &r.vec(24, 0.5));
    let c = b.node("Conv", &[&x, &w], vec![attr_int("group", 2), attr_ints("pads", &[1, 1]), attr_ints("dilations", &[2])]);
    let p = b.node("MaxPool", &[&c], vec![attr_ints("kernel_shape", &[2]), attr_ints("dilations", &[2]), attr_int("ceil_mode", 1)]);
    let l = b.node("LpPool", &[&p], vec![attr_ints("kernel_shape", &[2]), attr_ints("pads", &[0, 1])]);
    let s = b.init_f32("s", &[4], &r.vec(4, 0.5));
    let bias = b.init_f32("bias", &[4], &r.vec(4, 0.5));
    let n = b.node("InstanceNormalization", &[&l, &s, &bias], vec![]);
    let one = b.init_i64("one", &[1], &[1]);
    let u = b.node("Unsqueeze", &[&n, &one], vec![]);
    let last = b.init_i64("last", &[1], &[-1]);
    let u = b.node("Unsqueeze", &[&u, &last], vec![]);
    b.node_named("DFT", &[&u], &["y"], vec![attr_int("axis", 3), attr_int("onesided", 1)]);
    b.output("y", FLOAT, &[None, None, None, None, None]);
    out.push(b.build());
    // Resizes by gathers: run-time scales (cubic), constant fractional
    // sizes with roi (tf_crop_and_resize).
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(2), Some(5), Some(5)]);
    let sc = b.input("scales", FLOAT, &[Some(4)]);
    let c = b.node("Resize", &[&x, "", &sc], vec![attr_str("mode", "cubic"), attr_int("exclude_outside", 1)]);
    let roi = b.init_f32("roi", &[8], &[0.0, 0.0, 0.1, 0.2, 1.0, 1.0, 0.9, 0.7]);
    let sizes = b.init_i64("sizes", &[4], &[1, 2, 3, 7]);
    b.node_named("Identity", &[&c], &["z"], vec![]);
    b.node_named("Resize", &[&x, &roi, "", &sizes], &["y"], vec![attr_str("mode", "linear"), attr_str("coordinate_transformation_mode", "tf_crop_and_resize")]);
    b.output("y", FLOAT, &[Some(1), Some(2), Some(3), Some(7)]);
    b.output("z", FLOAT, &[None, None, None, None]);
    out.push(b.build());
    out
}

/// If on a run-time condition, a Loop with a run-time trip count whose body
/// reads an outer value, and an LSTM over a dynamic sequence (a WHILE).
fn control_flow_fixture(r: &mut Rng) -> Vec<u8> {
    let mut b = OnnxBuilder::new(14);
    b.input("x", FLOAT, &[None, Some(2), Some(3)]);
    b.input("c", 9, &[]);
    b.input("m", INT64, &[]);
    let w = b.init_f32("w", &[1, 8, 3], &r.vec(24, 0.5));
    let rr = b.init_f32("r", &[1, 8, 2], &r.vec(16, 0.5));
    b.node_named("LSTM", &["x", &w, &rr], &["y", "y_h"], vec![attr_int("hidden_size", 2)]);
    let mut t = OnnxBuilder::new(14);
    t.node_named("Relu", &["y_h"], &["t_out"], vec![]);
    t.output("t_out", FLOAT, &[Some(1), Some(2), Some(2)]);
    let mut e = OnnxBuilder::new(14);
    e.node_named("Neg", &["y_h"], &["e_out"], vec![]);
    e.output("e_out", FLOAT, &[Some(1), Some(2), Some(2)]);
    b.node_named("If", &["c"], &["z"], vec![attr_graph("then_branch", t.into_graph("then")), attr_graph("else_branch", e.into_graph("else"))]);
    let mut body = OnnxBuilder::new(14);
    body.input("i", INT64, &[]);
    body.input("go", 9, &[]);
    body.input("acc", FLOAT, &[Some(1), Some(2), Some(2)]);
    body.node_named("Add", &["acc", "z"], &["acc2"], vec![]);
    body.node_named("Identity", &["go"], &["go2"], vec![]);
    body.output("go2", 9, &[]);
    body.output("acc2", FLOAT, &[Some(1), Some(2), Some(2)]);
    b.node_named("Loop", &["m", "", "z"], &["out"], vec![attr_graph("body", body.into_graph("body"))]);
    b.output("out", FLOAT, &[Some(1), Some(2), Some(2)]);
    b.build()
}

#[test]
fn graph_attributes_nested_too_deep_are_a_limit_error() {
    // If inside If inside ... nine deep.
    let mut inner = OnnxBuilder::new(13);
    inner.node_named("Identity", &["x"], &["y0"], vec![]);
    inner.output("y0", FLOAT, &[Some(1)]);
    let mut g = inner.into_graph("g0");
    for depth in 1..=9 {
        let mut b = OnnxBuilder::new(13);
        let out = format!("y{depth}");
        b.node_named("If", &["c"], &[&out], vec![attr_graph("then_branch", g.clone()), attr_graph("else_branch", g)]);
        b.output(&out, FLOAT, &[Some(1)]);
        g = b.into_graph(&format!("g{depth}"));
    }
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(1)]);
    b.input("c", 9, &[]);
    b.node_named("If", &["c"], &["y"], vec![attr_graph("then_branch", g.clone()), attr_graph("else_branch", g)]);
    b.output("y", FLOAT, &[Some(1)]);
    match convert(&b.build(), &limits()) {
        Err(tflite_forge::onnx::OnnxError::Limit(m)) => assert!(m.contains("nested deeper"), "{m}"),
        other => panic!("expected a limit error, got {:?}", other.map(|_| ())),
    }
}

/// Structured edits at the protobuf level.
fn mutate_onnx(r: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let Ok(mut m) = ModelProto::parse_from_bytes(bytes) else { return bytes.to_vec() };
    let g = m.graph.as_mut().unwrap();
    match r.below(9) {
        0 if !g.initializer.is_empty() => {
            let i = r.below(g.initializer.len() as u64) as usize;
            let huge = [i64::MAX, 1 << 40, -1, 0, 1 << 31];
            let t = &mut g.initializer[i];
            if !t.dims.is_empty() {
                let d = r.below(t.dims.len() as u64) as usize;
                t.dims[d] = huge[r.below(5) as usize];
            } else {
                t.dims = vec![1 << 33, 1 << 33];
            }
        }
        1 if !g.initializer.is_empty() => {
            let i = r.below(g.initializer.len() as u64) as usize;
            g.initializer.remove(i);
        }
        2 if !g.node.is_empty() => {
            // A cycle: a node reads its own output.
            let i = r.below(g.node.len() as u64) as usize;
            let out = g.node[i].output.first().cloned().unwrap_or_default();
            if let Some(inp) = g.node[i].input.first_mut() {
                *inp = out;
            }
        }
        3 if !g.initializer.is_empty() => {
            let i = r.below(g.initializer.len() as u64) as usize;
            g.initializer[i].data_type = [0, 8, 99, 16, 7, 3][r.below(6) as usize];
        }
        4 => {
            if let Some(o) = m.opset_import.first_mut() {
                o.version = [0, -1, 10_000, i64::MAX, 6][r.below(5) as usize];
            }
        }
        5 if !g.node.is_empty() => {
            let i = r.below(g.node.len() as u64) as usize;
            if let Some(a) = g.node[i].attribute.first_mut() {
                a.ints = vec![i64::MIN, -5, 1 << 40];
                a.i = i64::MAX;
                a.type_ = onnx_protobuf::attribute_proto::AttributeType::INTS.into();
            }
        }
        6 if !g.input.is_empty() => {
            // A hostile input shape.
            let vi = &mut g.input[0];
            if let Some(onnx_protobuf::type_proto::Value::TensorType(t)) = vi.type_.as_mut().and_then(|t| t.value.as_mut())
                && let Some(s) = t.shape.as_mut() {
                    for d in s.dim.iter_mut() {
                        d.value = Some(onnx_protobuf::tensor_shape_proto::dimension::Value::DimValue(1 << 40));
                    }
                }
        }
        7 if !g.node.is_empty() => {
            let i = r.below(g.node.len() as u64) as usize;
            g.node[i].op_type = ["Conv", "Reshape", "Gather", "NoSuchOp", ""][r.below(5) as usize].into();
        }
        _ => return mutate_bytes(r, bytes),
    }
    m.write_to_bytes().unwrap_or_default()
}

#[test]
fn mutated_onnx_models_fail_cleanly() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut stats = Stats { cases: 0, accepted: 0, worst_alloc: 0, worst_time: Duration::ZERO };
    let mut r = Rng::new(77);
    let opts = limits();
    for (fi, bytes) in onnx_fixtures().iter().enumerate() {
        // The unmutated fixture converts.
        convert(bytes, &opts).unwrap_or_else(|e| panic!("fixture {fi}: {e}"));
        for k in 0..2000 {
            let m = if r.below(2) == 0 { mutate_onnx(&mut r, bytes) } else { mutate_bytes(&mut r, bytes) };
            measure(&mut stats, &format!("onnx fixture {fi} mutation {k}"), || match convert(&m, &opts) {
                Ok(c) => {
                    tflite_forge::write(&c.model).expect("a converted model writes");
                    true
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    false
                }
            });
        }
    }
    eprintln!("onnx: {} cases, {} accepted, peak {} KiB, slowest {:?}", stats.cases, stats.accepted, stats.worst_alloc >> 10, stats.worst_time);
    assert!(stats.cases >= 4000);
}

#[test]
fn mutated_onnx_files_read_as_a_stream_like_bytes() {
    // `convert_file` parses the file as it reads it (the group check runs on
    // the stream): every mutation must end as `convert` on the same bytes
    // does, with the same model or an error.
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut r = Rng::new(78);
    let opts = limits();
    let dir = std::env::temp_dir().join(format!("tflite-forge-hostile-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("m.onnx");
    let mut deep = Vec::new();
    for _ in 0..100 {
        deep.extend([0xf3, 0x01]); // unknown groups, nested
    }
    let mut inputs = vec![deep];
    for bytes in onnx_fixtures() {
        for _ in 0..150 {
            inputs.push(if r.below(2) == 0 { mutate_onnx(&mut r, &bytes) } else { mutate_bytes(&mut r, &bytes) });
        }
        inputs.push(bytes);
    }
    let (mut same_ok, mut same_err) = (0, 0);
    for (k, m) in inputs.iter().enumerate() {
        std::fs::write(&path, m).expect("write the case");
        let from_bytes = convert(m, &opts);
        let from_file = tflite_forge::onnx::convert_file(&path, &opts);
        match (from_bytes, from_file) {
            (Ok(a), Ok(b)) => {
                assert_eq!(tflite_forge::write(&a.model).ok(), tflite_forge::write(&b.model).ok(), "case {k}");
                same_ok += 1;
            }
            (Err(_), Err(e)) => {
                assert!(!e.to_string().is_empty());
                same_err += 1;
            }
            (a, b) => panic!("case {k}: bytes gave {:?}, the file gave {:?}", a.err().map(|e| e.to_string()), b.err().map(|e| e.to_string())),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("stream: {same_ok} converted alike, {same_err} refused alike");
    assert!(same_ok > 0 && same_err > 0);
}

/// A small image classifier with TFLite Support metadata and a labels file.
fn model_with_metadata() -> Vec<u8> {
    use tflite_forge::metadata::ImageClassifierInfo;
    use tflite_forge::{DType, ModelBuilder};
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("image", DType::F32, [1, 4, 4, 3]);
    let m = g.mean(x, &[1, 2], false).unwrap();
    let y = g.softmax(m, 1.0).unwrap();
    g.output("scores", y);
    b.finish_subgraph(g).unwrap();
    let mut model = b.finish().unwrap();
    let mut info = ImageClassifierInfo::new("hostile", ["a", "b", "c"]);
    info.mean = vec![127.5];
    info.std = vec![127.5];
    info.apply(&mut model).unwrap();
    tflite_forge::write(&model).unwrap()
}

/// Mutations aimed at what travels beside the graph: the metadata
/// flatbuffer, the appended zip archive (the file's tail) and FlexBuffers
/// custom options.
#[test]
fn mutated_metadata_archives_and_flexbuffers_fail_cleanly() {
    use tflite_forge::{flexbuffers, metadata::ModelMetadata, zip};
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut stats = Stats { cases: 0, accepted: 0, worst_alloc: 0, worst_time: Duration::ZERO };
    let mut r = Rng::new(4242);
    let file = model_with_metadata();
    let model = tflite_forge::read(&file).unwrap();
    let md = model.support_metadata().unwrap().unwrap().to_bytes();
    let archive_start = zip::find_archive(&file).unwrap().unwrap().start();
    let flex = [
        flexbuffers::flex_op_options("Conv2D", b"\x0a\x06conv2d\x12\x06Conv2D"),
        flexbuffers::to_bytes(&flexbuffers::Value::Map(vec![
            ("axis".into(), flexbuffers::Value::Int(-1)),
            ("scales".into(), flexbuffers::Value::Vector(vec![flexbuffers::Value::Float(0.5), flexbuffers::Value::Float(2.0)])),
            ("name".into(), flexbuffers::Value::String("detector".into())),
        ])),
    ];
    for k in 0..1500 {
        // The whole file, with mutations confined to the archive.
        let (head, tail) = file.split_at(archive_start);
        let mut m = head.to_vec();
        m.extend(mutate_bytes(&mut r, tail));
        measure(&mut stats, &format!("archive mutation {k}"), || match tflite_forge::read(&m) {
            Ok(model) => {
                tflite_forge::write(&model).expect("an accepted model writes");
                true
            }
            Err(e) => rejected(e),
        });
        let m = mutate_bytes(&mut r, &md);
        measure(&mut stats, &format!("metadata mutation {k}"), || match ModelMetadata::from_bytes(&m) {
            Ok(md) => {
                ModelMetadata::from_bytes(&md.to_bytes()).expect("our encoding decodes");
                true
            }
            Err(e) => rejected(e),
        });
        let m = mutate_bytes(&mut r, &flex[k % flex.len()]);
        measure(&mut stats, &format!("flexbuffer mutation {k}"), || match flexbuffers::parse(&m) {
            Ok(v) => {
                flexbuffers::parse(&flexbuffers::to_bytes(&v)).expect("our encoding parses");
                true
            }
            Err(e) => rejected(e),
        });
    }
    eprintln!("metadata/zip/flexbuffers: {} cases, {} accepted, peak {} KiB, slowest {:?}", stats.cases, stats.accepted, stats.worst_alloc >> 10, stats.worst_time);
    assert!(stats.cases >= 4500);
    // The mutations must reach both outcomes, or they test nothing.
    assert!(stats.accepted > 0 && stats.accepted < stats.cases);
}

/// Control flow pointed anywhere: every subgraph index of IF and WHILE set
/// to each subgraph (itself included, making cycles) and to far out of
/// range. Each file must read as a valid model or fail with a typed error.
#[test]
fn retargeted_subgraph_calls_fail_cleanly() {
    use tflite_forge::write::{write_unvalidated, WriteOptions};
    use tflite_forge::Op;
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut stats = Stats { cases: 0, accepted: 0, worst_alloc: 0, worst_time: Duration::ZERO };
    for model in [common::while_loop_model(10, &[2]), common::if_model(false, &[3])] {
        let n = model.subgraphs.len() as u32;
        for (si, sg) in model.subgraphs.iter().enumerate() {
            for (oi, op) in sg.operators.iter().enumerate() {
                let targets = [0, 1, 2, n - 1, n, 1 << 20, u32::MAX >> 1];
                for a in targets {
                    for b in targets {
                        let new = match op.op {
                            Op::While { .. } => Op::While { cond_subgraph: a, body_subgraph: b },
                            Op::If { .. } => Op::If { then_subgraph: a, else_subgraph: b },
                            _ => continue,
                        };
                        let mut m = model.clone();
                        m.subgraphs[si].operators[oi].op = new;
                        let Ok(bytes) = write_unvalidated(&m, &WriteOptions::default()) else { continue };
                        measure(&mut stats, &format!("subgraph {si} op {oi} -> ({a}, {b})"), || match tflite_forge::read(&bytes) {
                            Ok(model) => {
                                tflite_forge::write(&model).expect("an accepted model writes");
                                true
                            }
                            Err(e) => rejected(e),
                        });
                    }
                }
            }
        }
    }
    eprintln!("control flow: {} cases, {} accepted", stats.cases, stats.accepted);
    assert!(stats.cases >= 90);
    assert!(stats.accepted > 0 && stats.accepted < stats.cases);
}

#[test]
fn nested_constant_loops_do_not_multiply_without_bound() {
    // Loop(64) in Loop(64) in Loop(64) in Loop(64): unrolled fully that
    // would be 16.7 million copies of the body. Unrolling stops at its
    // budget and the rest become WHILE loops; the result still computes
    // 64^4 increments.
    let mut inner = OnnxBuilder::new(13);
    inner.input("i4", INT64, &[]);
    inner.input("c4", 9, &[]);
    inner.input("a4", FLOAT, &[Some(1)]);
    let one = inner.init_f32("one", &[1], &[1.0]);
    inner.node_named("Add", &["a4", &one], &["a4o"], vec![]);
    inner.node_named("Identity", &["c4"], &["c4o"], vec![]);
    inner.output("c4o", 9, &[]);
    inner.output("a4o", FLOAT, &[Some(1)]);
    let mut body = inner.into_graph("l4");
    for level in (1..=3).rev() {
        let mut b = OnnxBuilder::new(13);
        b.input(&format!("i{level}"), INT64, &[]);
        b.input(&format!("c{level}"), 9, &[]);
        b.input(&format!("a{level}"), FLOAT, &[Some(1)]);
        let m = b.init_i64(&format!("m{level}"), &[], &[64]);
        b.node_named("Loop", &[&m, "", &format!("a{level}")], &[&format!("a{level}o")], vec![attr_graph("body", body)]);
        b.node_named("Identity", &[&format!("c{level}")], &[&format!("c{level}o")], vec![]);
        b.output(&format!("c{level}o"), 9, &[]);
        b.output(&format!("a{level}o"), FLOAT, &[Some(1)]);
        body = b.into_graph(&format!("l{level}"));
    }
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(1)]);
    let m = b.init_i64("m0", &[], &[64]);
    b.node_named("Loop", &[&m, "", "x"], &["y"], vec![attr_graph("body", body)]);
    b.output("y", FLOAT, &[Some(1)]);
    let c = convert(&b.build(), &limits()).expect("converts");
    let whiles = c.model.subgraphs.iter().flat_map(|s| &s.operators).filter(|o| matches!(o.op, tflite_forge::Op::While { .. })).count();
    assert!(whiles >= 1, "past the unrolling budget the loops are WHILE loops");
    let ops: usize = c.model.subgraphs.iter().map(|s| s.operators.len()).sum();
    assert!(ops < 200_000, "{ops} ops");
}

/// `.npy`/`.npz` files (calibration samples, `verify` inputs) from NumPy,
/// mutated: arrays or a typed error, within the allocation bound.
#[test]
fn mutated_npy_and_npz_files_fail_cleanly() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut stats = Stats { cases: 0, accepted: 0, worst_alloc: 0, worst_time: Duration::ZERO };
    let mut r = Rng::new(77);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/npy");
    let mut fixtures: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("npy fixtures")
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("fixture")))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 3);
    for (name, bytes) in &fixtures {
        for k in 0..1500 {
            let m = mutate_bytes(&mut r, bytes);
            measure(&mut stats, &format!("{name} mutation {k}"), || {
                let npy = tflite_forge::npy::read_npy(&m).map_err(rejected).is_ok();
                let npz = tflite_forge::npy::read_npz(&m).map_err(rejected).is_ok();
                npy || npz
            });
        }
    }
    eprintln!("npy: {} cases, {} accepted, peak {} KiB", stats.cases, stats.accepted, stats.worst_alloc >> 10);
    assert!(stats.cases >= 4500);
    assert!(stats.accepted > 0, "some mutations keep a valid file");
}

#[test]
fn huge_dynamic_shapes_are_a_limit_error_before_allocating() {
    use tflite_forge::eval::{EvalError, Evaluator, Value};
    use tflite_forge::{DType, Dim, ModelBuilder, Op, Shape};

    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // BROADCAST_TO(x, shape) with the target shape taken from an input:
    // nothing in the file says how large the outputs are.
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, Shape::from_dims(vec![Dim::Dynamic]));
    let shape = g.input("shape", DType::I32, [2]);
    for i in 0..6 {
        let y = g.apply(Op::BroadcastTo, &[Some(x), Some(shape)]).unwrap();
        g.output(&format!("y{i}"), y);
    }
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let limit_error = |e: &EvalError| matches!(e, EvalError::At { error, .. } if matches!(**error, EvalError::Limit { .. }));
    let x = Value::from_f32(vec![1], vec![1.5]);

    // 2^31 × 2^31 elements: refused by the per-value limit.
    let huge = Value::from_i32(vec![2], vec![i32::MAX, i32::MAX]);
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let err = Evaluator::new(&model).run(0, &[x.clone(), huge]).unwrap_err();
    assert!(limit_error(&err), "{err}");
    assert!(PEAK.load(Ordering::Relaxed) - base < 1 << 20, "allocated before refusing");

    // Each output fits the per-value limit, but six of them kept alive
    // (they are all model outputs) pass the live limit.
    let big = Value::from_i32(vec![2], vec![256, 256]);
    let eval = Evaluator::new(&model).with_max_elements(1 << 16).with_max_live_elements(1 << 18);
    let err = eval.run(0, &[x.clone(), big.clone()]).unwrap_err();
    assert!(limit_error(&err), "{err}");
    assert!(err.to_string().contains("live"), "{err}");
    // Within both limits the same model runs.
    let ok = Evaluator::new(&model).with_max_elements(1 << 16).with_max_live_elements(6 << 16 | 8).run(0, &[x, big]).unwrap();
    assert_eq!(ok.len(), 6);
    assert!(ok.iter().all(|v| v.shape == [256, 256] && v.data.iter().all(|e| *e == 1.5)));
}
