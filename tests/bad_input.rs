//! Bad bytes fail cleanly: truncations, bit flips, wrong identifiers,
//! out-of-range indices and overflowing shapes all give typed errors.

mod common;

use common::*;
use tflite_forge::write::{write_unvalidated, WriteOptions};
use tflite_forge::*;

fn sample() -> Vec<u8> {
    write(&resnet_like(11, Dim::Fixed(1))).unwrap()
}

#[test]
fn truncated_files_are_errors() {
    let bytes = sample();
    // The last 32 bytes are padding and the zero tail; every cut before
    // them removes referenced data.
    let limit = bytes.len() - 32;
    let step = (limit / 2000).max(1);
    let mut n = 0;
    for len in (0..limit).step_by(step) {
        assert!(read(&bytes[..len]).is_err(), "a file cut to {len} of {} bytes was accepted", bytes.len());
        n += 1;
    }
    assert!(n > 1000);
}

#[test]
fn wrong_identifier_is_named() {
    let mut bytes = sample();
    bytes[4..8].copy_from_slice(b"TFL2");
    match read(&bytes) {
        Err(Error::Read(ReadError::WrongIdentifier { found })) => assert_eq!(&found, b"TFL2"),
        other => panic!("expected WrongIdentifier, got {other:?}"),
    }
    assert!(matches!(read(b"TFL3"), Err(Error::Read(ReadError::TooShort { .. }))));
    assert!(read(&[]).is_err());
}

#[test]
fn bit_flips_never_panic_and_valid_results_rewrite() {
    let bytes = sample();
    let mut r = Rng::new(99);
    let (mut errors, mut oks) = (0, 0);
    for _ in 0..3000 {
        let mut b = bytes.clone();
        let flips = 1 + r.below(4);
        for _ in 0..flips {
            let i = r.below(b.len() as u64) as usize;
            b[i] ^= 1 << r.below(8);
        }
        match read(&b) {
            Ok(m) => {
                // Whatever is accepted is a valid model that writes again.
                write(&m).expect("an accepted model must be writable");
                oks += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                errors += 1;
            }
        }
    }
    assert!(errors > 100, "only {errors} of 3000 corrupted files were rejected");
    assert!(oks > 0);
}

#[test]
fn large_index_values_are_caught() {
    // Overwrite each aligned 32-bit word in the tables with a huge value:
    // this hits every index field (buffer, opcode, tensor, subgraph).
    let bytes = sample();
    let layout = read::inspect(&bytes).unwrap();
    let data_start = layout.buffers.iter().filter(|b| b.len > 0).map(|b| b.offset).min().unwrap_or(bytes.len());
    let mut kinds = std::collections::BTreeSet::new();
    for pos in (8..data_start.min(bytes.len() - 4)).step_by(4) {
        let mut b = bytes.clone();
        b[pos..pos + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        if let Err(Error::Read(ReadError::IndexOutOfRange { what, .. })) = read(&b) {
            kinds.insert(what);
        }
    }
    for what in ["buffer", "opcode", "operator input"] {
        assert!(kinds.contains(what), "no {what} index corruption was detected: {kinds:?}");
    }
}

#[test]
fn dangling_and_out_of_range_tensors_in_files_are_errors() {
    let mut m = resnet_like(12, Dim::Fixed(1));
    // An operator reading a tensor that is never produced.
    let sg = &mut m.subgraphs[0];
    sg.tensors.push(Tensor::new("ghost", DType::F32, Shape::new([1, 16, 16, 3])));
    let ghost = TensorId(sg.tensors.len() as u32 - 1);
    sg.operators[0].inputs[0] = Some(ghost);
    let bytes = write_unvalidated(&m, &WriteOptions::default()).unwrap();
    assert!(matches!(read(&bytes), Err(Error::Invalid(ValidationError::Dangling { .. }))));

    let mut m = resnet_like(12, Dim::Fixed(1));
    m.subgraphs[0].operators[1].inputs[0] = Some(TensorId(10_000));
    let bytes = write_unvalidated(&m, &WriteOptions::default()).unwrap();
    match read(&bytes) {
        Err(Error::Read(ReadError::IndexOutOfRange { what: "operator input", index: 10_000, at, .. })) => {
            assert_eq!(at.operator, Some(1));
        }
        other => panic!("expected an out-of-range operator input, got {other:?}"),
    }
}

#[test]
fn overflowing_shapes_are_errors() {
    let mut m = resnet_like(13, Dim::Fixed(1));
    let huge = Tensor::new("huge", DType::F32, Shape::new([i32::MAX as u32, i32::MAX as u32, i32::MAX as u32]));
    m.subgraphs[0].tensors.push(huge);
    assert!(matches!(validate::validate(&m), Err(ValidationError::ShapeOverflow { .. })));
    let bytes = write_unvalidated(&m, &WriteOptions::default()).unwrap();
    assert!(matches!(read(&bytes), Err(Error::Invalid(ValidationError::ShapeOverflow { .. }))));
}

#[test]
fn constant_size_mismatch_is_rejected() {
    let mut m = resnet_like(14, Dim::Fixed(1));
    let t = m.subgraphs[0].tensors.iter_mut().find(|t| t.is_constant() && t.dtype == DType::F32).unwrap();
    t.data = Some(ConstData::from_slice(&[1.0f32, 2.0]));
    assert!(matches!(write(&m), Err(WriteError::Invalid(ValidationError::DataSize { expected, actual: 8, .. })) if expected > 8));
    let bytes = write_unvalidated(&m, &WriteOptions::default()).unwrap();
    assert!(matches!(read(&bytes), Err(Error::Invalid(ValidationError::DataSize { .. }))));
}

#[test]
fn builders_reject_mismatches() {
    let b = ModelBuilder::new();
    let mut g = b.subgraph("g");
    let x = g.input("x", DType::F32, [1, 8, 8, 3]);
    let w = g.constant_f32("w", [4, 3, 3, 2], &[0.0; 72]);
    let e = g.conv2d(x, w, None, Conv2dOptions::default()).unwrap_err();
    assert!(e.to_string().contains("multiple of filter channels"), "{e}");
    let i = g.input("i", DType::I32, [1, 8, 8, 3]);
    assert!(g.add(x, i).is_err(), "F32 + I32 must be rejected");
    let y = g.input("y", DType::F32, [1, 8, 8, 4]);
    assert!(g.add(x, y).is_err(), "non-broadcastable shapes must be rejected");
    assert!(g.reshape(x, &[5, -1]).is_err());
    let q = g.input("q", DType::I8, [1, 4]);
    assert!(g.relu(q).is_err(), "int8 op without quantization parameters must be rejected");
    let bias = g.constant_f32("bias", [5], &[0.0; 5]);
    let w2 = g.constant_f32("w2", [4, 3, 3, 3], &[0.0; 108]);
    assert!(g.conv2d(x, w2, Some(bias), Conv2dOptions::default()).is_err(), "bias size must match output channels");
}

#[test]
fn doubly_produced_tensor_is_rejected() {
    let mut m = resnet_like(15, Dim::Fixed(1));
    let sg = &mut m.subgraphs[0];
    let out0 = sg.operators[0].outputs[0];
    sg.operators[1].outputs[0] = out0;
    assert!(matches!(validate::validate(&m), Err(ValidationError::ProducedTwice { .. })));
}

#[test]
fn tensor_element_limit_is_enforced() {
    let bytes = sample();
    let mut o = tflite_forge::ReadOptions::default();
    o.max_tensor_elements = 100;
    match tflite_forge::read_with(&bytes, &o) {
        Err(Error::Read(ReadError::Limit(msg))) => assert!(msg.contains("max_tensor_elements"), "{msg}"),
        other => panic!("expected a limit error, got {other:?}"),
    }
    o.max_file_bytes = 10;
    assert!(matches!(tflite_forge::read_with(&bytes, &o), Err(Error::Read(ReadError::Limit(_)))));
}
