//! The select-TF (Flex) fallback: off by default, and with `allow_flex` an
//! op no builtin lowering takes becomes the exact TensorFlow op, listed in
//! the report. (Running these files in TensorFlow's interpreter with the
//! Flex delegate is the conformance tier `tf/flex/onnx_*`.)

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::onnx::{convert, ConvertOptions, IoLayout, OnnxError, ReasonCode, Registry};
use tflite_forge::Op;

/// `Det` over `[2, 3, 3]`, converted with a table that has no Det entry (so
/// the test does not depend on whether a builtin lowering exists).
fn det_model() -> Vec<u8> {
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(2), Some(3), Some(3)]);
    b.node_named("Det", &["x"], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(2)]);
    b.build()
}

fn options(allow_flex: bool) -> ConvertOptions {
    let mut o = ConvertOptions::default();
    o.layout = IoLayout::KeepNchw;
    let mut r = Registry::empty();
    for e in Registry::default().entries().iter().filter(|e| e.op_type != "Det") {
        r.register(e.clone());
    }
    o.registry = Some(r);
    o.allow_flex = allow_flex;
    o
}

#[test]
fn without_allow_flex_an_uncovered_op_is_a_typed_error_and_no_flex_op_appears() {
    match convert(&det_model(), &options(false)) {
        Err(OnnxError::UnsupportedOnnxOp { reason_code, op_type, .. }) => {
            assert_eq!(reason_code, ReasonCode::UnsupportedOp);
            assert_eq!(op_type, "Det");
        }
        other => panic!("expected UnsupportedOnnxOp, got {:?}", other.map(|c| c.report)),
    }
}

#[test]
fn with_allow_flex_it_becomes_the_tensorflow_op_and_the_report_lists_it() {
    let c = convert(&det_model(), &options(true)).expect("converts");
    let ops = &c.model.subgraphs[0].operators;
    let flex: Vec<_> = ops.iter().filter_map(|o| if let Op::Custom(x) = &o.op { Some(x) } else { None }).collect();
    assert_eq!(flex.len(), 1);
    assert_eq!(flex[0].name, "FlexMatrixDeterminant");
    let (tf_op, node_def) = flex[0].flex_op().expect("a flex op").expect("valid options");
    assert_eq!(tf_op, "MatrixDeterminant");
    assert!(!node_def.is_empty());
    assert_eq!(c.report.flex_ops.len(), 1);
    assert_eq!(c.report.flex_ops[0].1, "FlexMatrixDeterminant");
    assert!(c.report.to_string().contains("FlexMatrixDeterminant"));
    // The output has the batch shape.
    let y = c.model.subgraphs[0].outputs[0];
    assert_eq!(c.model.subgraphs[0].tensors[y.index()].shape.dims().len(), 1);
}

#[test]
fn a_malformed_node_is_not_rescued_by_flex() {
    // Einsum without an equation is invalid whatever the options.
    let mut b = OnnxBuilder::new(13);
    b.input("x", FLOAT, &[Some(2), Some(2)]);
    b.node_named("Einsum", &["x"], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(2)]);
    let mut o = ConvertOptions::default();
    o.allow_flex = true;
    assert!(convert(&b.build(), &o).is_err());
}
