//! `.npy`/`.npz` files written by NumPy itself (checked-in fixtures made
//! with `np.savez`, `np.savez_compressed` and `np.save`).

use tflite_forge::npy::{read_npy, read_npz, write_npz, NpyError};
use tflite_forge::DType;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/npy/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

#[test]
fn reads_numpy_savez_with_zip64_local_headers() {
    let entries = read_npz(&fixture("savez.npz")).expect("np.savez archive");
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["image", "ids"]);
    let image = &entries[0].1;
    assert_eq!((image.dtype, image.shape.as_slice()), (DType::F32, &[1, 3, 2, 2][..]));
    assert_eq!(image.data, (0..12).map(|i| f64::from(i) / 4.0).collect::<Vec<_>>());
    assert_eq!((entries[1].1.dtype, entries[1].1.data.as_slice()), (DType::I64, &[7.0, -1.0][..]));
}

#[test]
fn compressed_archives_are_a_typed_error_with_a_hint() {
    let err = read_npz(&fixture("savez_compressed.npz")).unwrap_err();
    assert!(matches!(err, NpyError::Archive(_)));
    assert!(err.to_string().contains("np.savez_compressed"), "{err}");
}

#[test]
fn reads_float16() {
    let v = read_npy(&fixture("f16.npy")).expect("float16 .npy");
    assert_eq!((v.dtype, v.shape.as_slice(), v.data.as_slice()), (DType::F16, &[1, 2][..], &[0.5, -2.0][..]));
}

#[test]
fn our_npz_reads_back_and_hostile_mutations_never_panic() {
    let archive = fixture("savez.npz");
    let entries = read_npz(&archive).unwrap();
    let refs: Vec<(&str, &tflite_forge::eval::Value)> = entries.iter().map(|(n, v)| (n.as_str(), v)).collect();
    assert_eq!(read_npz(&write_npz(&refs).unwrap()).unwrap(), entries);
    // Every single-byte corruption and every truncation is an error or a
    // valid result, never a panic.
    for i in 0..archive.len() {
        let mut b = archive.clone();
        b[i] ^= 0x5a;
        let _outcome = read_npz(&b);
        assert!(read_npz(&archive[..i]).is_err(), "truncated at {i} still parses");
    }
}
