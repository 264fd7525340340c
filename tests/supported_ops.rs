//! SUPPORTED_OPS.md is generated from the lowering table; this test keeps it
//! current. Regenerate with `UPDATE_SUPPORTED_OPS=1 cargo test --test supported_ops`.

#[test]
fn supported_ops_md_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("SUPPORTED_OPS.md");
    let want = tflite_forge::onnx::Registry::default().markdown();
    if std::env::var_os("UPDATE_SUPPORTED_OPS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "SUPPORTED_OPS.md is stale; run UPDATE_SUPPORTED_OPS=1 cargo test --test supported_ops");
}

#[test]
fn every_entry_names_its_tflite_ops_and_resolves() {
    let r = tflite_forge::onnx::Registry::default();
    for e in r.entries() {
        assert!(r.find(e.domain, e.op_type, e.since).is_ok(), "{} does not resolve at its own opset", e.op_type);
        for op in e.emits {
            assert!((0..=209).any(|c| tflite_forge::builtin_name(c) == Some(op)), "{}: {op} is not a TFLite builtin", e.op_type);
        }
    }
    assert_eq!(r.find("", "NoSuchOp", 13).unwrap_err(), tflite_forge::onnx::ReasonCode::UnsupportedOp);
}
