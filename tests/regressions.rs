//! Inputs found by fuzzing, kept as regression tests.
//!
//! `tests/regressions/expected.txt` says for each input whether it must be
//! accepted or rejected (with a typed error): a change that flips either way
//! fails here, and so does an input missing from the list.

use tflite_forge::*;

/// Whether the input is accepted, checking what an accepted input must do.
fn outcome(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        // ONNX inputs: a conversion that succeeds must write and read back.
        "onnx" => {
            let c = tflite_forge::onnx::convert(bytes, &Default::default()).map_err(|e| e.to_string())?;
            let out = write(&c.model).unwrap_or_else(|e| panic!("{}: converted but not writable: {e}", path.display()));
            let back = read(&out).unwrap_or_else(|e| panic!("{}: our output does not read: {e}", path.display()));
            assert_eq!(back, c.model, "{}", path.display());
        }
        // FlexBuffers inputs: an accepted value re-encodes stably.
        "bin" => {
            let v = tflite_forge::flexbuffers::parse(bytes).map_err(|e| e.to_string())?;
            let once = tflite_forge::flexbuffers::to_bytes(&v);
            let back = tflite_forge::flexbuffers::parse(&once).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(tflite_forge::flexbuffers::to_bytes(&back) == once, "{}: unstable encoding", path.display());
        }
        _ => {
            let m = read(bytes).map_err(|e| e.to_string())?;
            let out = write(&m).unwrap_or_else(|e| panic!("{}: accepted but not writable: {e}", path.display()));
            let back = read(&out).unwrap_or_else(|e| panic!("{}: our output does not read: {e}", path.display()));
            // Compared as written bytes: a file may hold NaN floats.
            assert!(write(&back).unwrap() == out, "{}: write(read(write(m))) != write(m)", path.display());
        }
    }
    Ok(())
}

#[test]
fn fuzz_regressions_keep_their_outcome() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let expected: Vec<(String, String)> = std::fs::read_to_string(dir.join("expected.txt"))
        .expect("tests/regressions/expected.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap_or("").to_string(), w.next().unwrap_or("").to_string())
        })
        .collect();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "expected.txt")
        .collect();
    files.sort();
    let listed: Vec<&str> = expected.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(files, listed, "expected.txt must list every regression input, in order");
    for (file, want) in &expected {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap();
        let got = match outcome(&path, &bytes) {
            Ok(()) => "accept".to_string(),
            Err(e) => {
                assert!(!e.is_empty(), "{file}: an empty error message");
                eprintln!("{file}: rejected: {e}");
                "reject".to_string()
            }
        };
        assert_eq!(&got, want, "{file}: expected to {want}");
    }
}
