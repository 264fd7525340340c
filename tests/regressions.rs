//! Inputs found by fuzzing, kept as regression tests.

use tflite_forge::*;

/// Every accepted regression input must write, and read back to itself.
#[test]
fn fuzz_regressions_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        n += 1;
        if path.extension().is_some_and(|e| e == "onnx") {
            // ONNX inputs: a conversion that succeeds must write and read back.
            if let Ok(c) = tflite_forge::onnx::convert(&bytes, &Default::default()) {
                let out = write(&c.model).unwrap_or_else(|e| panic!("{}: converted but not writable: {e}", path.display()));
                let back = read(&out).unwrap_or_else(|e| panic!("{}: our output does not read: {e}", path.display()));
                assert_eq!(back, c.model, "{}", path.display());
            }
            continue;
        }
        if path.extension().is_some_and(|e| e == "bin") {
            // FlexBuffers inputs: an accepted value re-encodes stably.
            if let Ok(v) = tflite_forge::flexbuffers::parse(&bytes) {
                let once = tflite_forge::flexbuffers::to_bytes(&v);
                let back = tflite_forge::flexbuffers::parse(&once).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(tflite_forge::flexbuffers::to_bytes(&back) == once, "{}: unstable encoding", path.display());
            }
            continue;
        }
        if let Ok(m) = read(&bytes) {
            let out = write(&m).unwrap_or_else(|e| panic!("{}: accepted but not writable: {e}", path.display()));
            let back = read(&out).unwrap_or_else(|e| panic!("{}: our output does not read: {e}", path.display()));
            // Compared as written bytes: a file may hold NaN floats.
            assert!(write(&back).unwrap() == out, "{}: write(read(write(m))) != write(m)", path.display());
        }
    }
    assert!(n > 0);
}
