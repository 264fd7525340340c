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

#[test]
fn embedders_can_override_a_lowering() {
    use tflite_forge::onnx::{convert, ConvertOptions, LowerCtx, LowerError, Lowering, Node, ReasonCode, Registry};
    fn refuse(_: &mut LowerCtx<'_>, _: &Node<'_>) -> Result<(), LowerError> {
        Err(LowerError::new(ReasonCode::UnsupportedAttribute, "refused by the embedder"))
    }
    let mut r = Registry::default();
    r.register(Lowering::new("Relu", 1, &[], "refuses", refuse));
    assert!(r.markdown().contains("| Relu | 1+ | (none) | refuses |"));
    assert_eq!(r.markdown().matches("| Relu |").count(), 1);
    #[path = "common/onnx_build.rs"]
    mod onnx_build;
    use onnx_build::*;
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(2)]);
    b.node_named("Relu", &[&x], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(2)]);
    let mut opts = ConvertOptions::default();
    opts.registry = Some(r);
    match convert(&b.build(), &opts) {
        Err(tflite_forge::onnx::OnnxError::UnsupportedOnnxOp { detail, .. }) => assert!(detail.contains("embedder")),
        other => panic!("{:?}", other.map(|c| c.report)),
    }
}
