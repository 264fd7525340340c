//! Writer and reader: round trips, determinism, layout facts of the format.

mod common;

use common::*;
use proptest::prelude::*;
use tflite_forge::read::inspect;
use tflite_forge::write::{write_with, BufferPlacement, WriteOptions};
use tflite_forge::*;

fn external() -> WriteOptions {
    let mut o = WriteOptions::default();
    o.buffers = BufferPlacement::AfterFlatbuffer;
    o
}

#[test]
fn every_case_round_trips_and_rewrites_identically() {
    for case in builder_cases() {
        let bytes = write(&case.model).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let back = read(&bytes).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(back, case.model, "{}: read(write(m)) != m", case.name);
        assert_eq!(write(&back).unwrap(), bytes, "{}: rewrite differs", case.name);
    }
}

#[test]
fn writing_a_model_given_up_gives_the_same_bytes() {
    // `write_owned` frees each constant as it copies it, and `write_file`
    // streams: the bytes must be those of `write`, with shared and
    // duplicate constants among the cases, and with metadata and an
    // associated file (a zip whose offsets count from the file's start).
    let mut cases: Vec<(String, Model)> = builder_cases().into_iter().map(|c| (c.name, c.model)).collect();
    cases.push(("resnet_like".into(), resnet_like(3, Dim::Fixed(1))));
    let mut labelled = resnet_like(2, Dim::Fixed(1));
    let mut info = tflite_forge::metadata::ImageClassifierInfo::new("m", (0..10).map(|i| format!("class {i}")));
    (info.mean, info.std) = (vec![0.5], vec![0.25]);
    info.apply(&mut labelled).expect("labels");
    assert!(!labelled.associated_files.is_empty() && !labelled.metadata.is_empty());
    cases.push(("labelled".into(), labelled));
    for (name, model) in cases {
        let bytes = write(&model).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The streamed files, from a borrowed model and from one given up.
        let dir = std::env::temp_dir().join(format!("tflite-forge-roundtrip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("m.tflite");
        assert_eq!(tflite_forge::write::write_file(&model, &path).expect("write_file"), bytes.len() as u64, "{name}");
        assert_eq!(std::fs::read(&path).expect("read"), bytes, "{name}: write_file");
        assert_eq!(tflite_forge::write::write_file_owned(model.clone(), &path).expect("write_file_owned"), bytes.len() as u64);
        assert_eq!(std::fs::read(&path).expect("read"), bytes, "{name}: write_file_owned");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(tflite_forge::write::write_owned(model).unwrap_or_else(|e| panic!("{name}: {e}")), bytes, "{name}");
    }
}

#[test]
fn a_streamed_write_that_fails_leaves_no_file() {
    let dir = std::env::temp_dir().join(format!("tflite-forge-failed-write-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let model = resnet_like(1, Dim::Fixed(1));
    // A directory that does not exist: an I/O error naming the path.
    let missing = dir.join("no/such/dir/m.tflite");
    let err = tflite_forge::write::write_file(&model, &missing).expect_err("missing directory");
    assert!(matches!(err, tflite_forge::Error::Io { .. }), "{err}");
    // An invalid model: a validation error, and nothing at the path.
    let mut bad = model.clone();
    bad.subgraphs[0].outputs.push(TensorId(9999));
    let path = dir.join("bad.tflite");
    let err = tflite_forge::write::write_file_owned(bad, &path).expect_err("invalid model");
    assert!(!matches!(err, tflite_forge::Error::Io { .. }), "{err}");
    assert!(std::fs::read_dir(&dir).expect("list").next().is_none(), "no file, temporary or final, is left");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_is_deterministic() {
    let m = resnet_like(7, Dim::Fixed(1));
    let a = write(&m).unwrap();
    let b = write(&m.clone()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn header_version_and_sentinel() {
    let bytes = write(&resnet_like(1, Dim::Fixed(1))).unwrap();
    assert_eq!(&bytes[4..8], b"TFL3");
    let layout = inspect(&bytes).unwrap();
    assert_eq!(layout.buffers[0].len, 0, "buffer 0 must be the empty sentinel");
}

#[test]
fn buffers_are_aligned_and_followed_by_zeros() {
    for opts in [WriteOptions::default(), external()] {
        let bytes = write_with(&resnet_like(2, Dim::Fixed(1)), &opts).unwrap();
        assert_eq!(bytes.len() % 16, 0);
        let layout = inspect(&bytes).unwrap();
        let mut last_end = 0;
        for b in &layout.buffers {
            if b.len > 0 {
                assert_eq!(b.offset % 16, 0, "buffer at {} not 16-byte aligned", b.offset);
                last_end = last_end.max(b.offset + b.len);
            }
        }
        assert!(bytes.len() >= last_end + 16, "fewer than 16 bytes after the last buffer");
        assert!(bytes[last_end..last_end + 16].iter().all(|b| *b == 0));
    }
}

#[test]
fn identical_constants_are_stored_once() {
    let data: Vec<f32> = (0..1000).map(|i| i as f32).collect();
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [1000]);
        let a = g.constant_f32("a", [1000], &data);
        let b = g.constant_f32("b", [1000], &data);
        let s = g.add(x, a)?;
        let t = g.add(s, b)?;
        g.output("y", t);
        Ok(())
    });
    let bytes = write(&m).unwrap();
    let layout = inspect(&bytes).unwrap();
    let big = layout.buffers.iter().filter(|b| b.len == 4000).count();
    assert_eq!(big, 1, "two identical constants must share one buffer");
    assert!(bytes.len() < 4000 * 2, "file holds the data twice");
    assert_eq!(read(&bytes).unwrap(), m);
}

#[test]
fn op_codes_are_deduplicated_with_versions_and_deprecated_code() {
    // Two ADDs (one int8 → version 2), HARD_SWISH (code 117 < 127).
    let m = model_of(|g| {
        let x = g.input("x", DType::F32, [1, 4]);
        let a = g.add(x, x)?;
        let b = g.add(a, x)?;
        let h = g.hard_swish(b)?;
        let q = g.quantize(h, DType::I8, Quantization::per_tensor(0.1, 0))?;
        let q2 = g.apply(Op::Add(AddSubOptions::default()), &[Some(q), Some(q)])?;
        g.set_quantization(q2, Quantization::per_tensor(0.2, 0));
        let d = g.dequantize(q2)?;
        g.output("y", d);
        Ok(())
    });
    let layout = inspect(&write(&m).unwrap()).unwrap();
    let adds: Vec<_> = layout.op_codes.iter().filter(|c| c.builtin_code == 0).collect();
    assert_eq!(adds.len(), 1, "ADD must appear once in the op code table");
    assert_eq!(adds[0].version, 2, "an int8 ADD makes the ADD op code version 2");
    for c in &layout.op_codes {
        assert_eq!(i32::from(c.deprecated_builtin_code), c.builtin_code.min(127));
    }
    assert_eq!(layout.op_codes.len(), 4);
}

#[test]
fn min_runtime_version_and_user_metadata() {
    let mut m = resnet_like(3, Dim::Fixed(1));
    let bytes = write(&m).unwrap();
    // Re-read and check the runtime metadata entry first.
    let layout = inspect(&bytes).unwrap();
    let (name, buf) = &layout.metadata[0];
    assert_eq!(name, "min_runtime_version");
    let span = layout.buffers[*buf as usize];
    assert_eq!(span.len, 16);
    let text = &bytes[span.offset..span.offset + 16];
    let s: String = text.iter().take_while(|b| **b != 0).map(|b| *b as char).collect();
    // Float CONV_2D, MAX_POOL_2D, ADD, FULLY_CONNECTED, SOFTMAX are 1.5.0;
    // MEAN v1 needs 1.6.0.
    assert_eq!(s, "1.6.0");
    m.metadata.push(Metadata { name: "user".into(), data: ConstData::from_bytes(b"hello".to_vec()) });
    let back = read(&write(&m).unwrap()).unwrap();
    assert_eq!(back.metadata, m.metadata, "user metadata round-trips; writer-managed entries are not returned");
}

#[test]
fn large_model_layout_round_trips() {
    let m = resnet_like(4, Dim::Fixed(1));
    let bytes = write_with(&m, &external()).unwrap();
    let layout = inspect(&bytes).unwrap();
    assert!(layout.buffers.iter().any(|b| b.after_flatbuffer));
    assert!(layout.metadata.iter().any(|(n, _)| n == "buffer_location"));
    assert_eq!(read(&bytes).unwrap(), m);
    // Byte-identical on repeat.
    assert_eq!(write_with(&m, &external()).unwrap(), bytes);
}

#[test]
fn signatures_and_names_survive() {
    let m = resnet_like(5, Dim::Dynamic);
    let back = read(&write(&m).unwrap()).unwrap();
    let s = &back.signatures[0];
    assert_eq!(s.key, "serving_default");
    assert_eq!(s.inputs[0].0, "image");
    assert_eq!(s.outputs[0].0, "probabilities");
    let input = back.subgraphs[0].tensor(s.inputs[0].1).unwrap();
    assert_eq!(input.shape.dims()[0], Dim::Dynamic);
    assert_eq!(input.name, "image");
}

/// A random chain of ops built through the builders; ops the builders
/// reject for the current shape are skipped.
fn random_model(seed: u64, steps: usize) -> Model {
    let mut r = common::Rng::new(seed);
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("random");
    let h = 2 + r.below(6) as u32;
    let c = 1 + r.below(4) as u32;
    let batch = if r.below(3) == 0 { Dim::Dynamic } else { Dim::Fixed(1 + r.below(2) as u32) };
    let mut x = g.input("x", DType::F32, Shape::from_dims(vec![batch, Dim::Fixed(h), Dim::Fixed(h), Dim::Fixed(c)]));
    for i in 0..steps {
        let cur = g.tensor(x).shape.clone();
        let ch = cur.dims().last().and_then(|d| d.fixed()).unwrap_or(1);
        let res = match r.below(10) {
            0 => g.relu(x),
            1 => g.tanh(x),
            2 if cur.rank() == 4 => {
                let k = 1 + r.below(3) as u32;
                let o = 1 + r.below(4) as u32;
                let w = g.constant_f32(&format!("w{i}"), [o, k, k, ch], &r.vec((o * k * k * ch) as usize, 1.0));
                let pad = if r.below(2) == 0 { Padding::Same } else { Padding::Valid };
                let s = 1 + r.below(2) as i32;
                g.conv2d(x, w, None, Conv2dOptions::new(pad, s, s))
            }
            3 if cur.rank() == 4 => g.max_pool2d(x, Pool2dOptions::new(Padding::Same, 2, 2, 1, 1)),
            4 => {
                let n = ch as usize;
                let k = g.constant_f32(&format!("k{i}"), [ch], &r.vec(n, 1.0));
                g.add(x, k)
            }
            5 => g.concatenation(&[x, x], -1),
            6 if cur.rank() == 4 => g.transpose(x, &[0, 2, 1, 3]),
            7 if cur.rank() == 4 => g.pad(x, &[(0, 0), (1, 0), (0, 1), (0, 0)]),
            8 => g.hard_swish(x),
            _ => g.logistic(x),
        };
        if let Ok(y) = res {
            x = y;
        }
    }
    g.output("y", x);
    b.finish_subgraph(g).unwrap();
    b.signature("serving_default", 0);
    b.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_models_round_trip(seed in any::<u64>(), steps in 0usize..12, ext in any::<bool>()) {
        let m = random_model(seed, steps);
        let opts = if ext { external() } else { WriteOptions::default() };
        let bytes = write_with(&m, &opts).unwrap();
        let back = read(&bytes).unwrap();
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(write_with(&back, &opts).unwrap(), bytes);
    }
}

#[test]
fn a_model_over_2_gib_keeps_its_constants_after_the_flatbuffer() {
    // 2.25 GiB of float constants: more than a flatbuffer can address.
    let n: u32 = 9 << 27;
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("big");
    let x = g.input("x", DType::F32, [n]);
    let k = g.constant("k", DType::F32, [n], ConstData::from_bytes(vec![0u8; n as usize * 4]));
    let y = g.add(x, k).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    let m = b.finish().unwrap();
    let bytes = write(&m).unwrap();
    assert!(bytes.len() > (n as usize) * 4);
    let layout = inspect(&bytes).unwrap();
    let big = layout.buffers.iter().find(|b| b.len == n as usize * 4).expect("the constant's buffer");
    assert!(big.after_flatbuffer && big.offset % 16 == 0);
    assert!(layout.metadata.iter().any(|(name, _)| name == "buffer_location"));
    drop(layout);
    let back = read(&bytes).unwrap();
    assert_eq!(back, m);
}
