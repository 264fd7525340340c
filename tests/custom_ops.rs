//! Custom ops with FlexBuffers options and select-TF (Flex) ops: built,
//! validated, written and read back with their options intact.

use tflite_forge::flexbuffers::Value;
use tflite_forge::{CustomOp, DType, ModelBuilder, Op, Operator, Tensor};

fn model_with(op: CustomOp) -> Result<tflite_forge::Model, tflite_forge::ValidationError> {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [1, 4]);
    let y = g.add_tensor(Tensor::new("y", DType::F32, [1, 4]));
    g.add_operator(Operator::new(Op::Custom(op), &[x], &[y]))?;
    g.output("y", y);
    b.finish_subgraph(g)?;
    b.finish()
}

#[test]
fn custom_and_flex_ops_round_trip_with_their_options() {
    let nms = CustomOp::with_options(
        "TFLite_Detection_PostProcess",
        &Value::Map(vec![
            ("max_detections".into(), Value::Int(10)),
            ("nms_iou_threshold".into(), Value::Float(0.6)),
            ("use_regular_nms".into(), Value::Bool(false)),
        ]),
    );
    let flex = CustomOp::flex("Erf", b"\n\x03erf\x12\x03Erf");
    for op in [nms, flex] {
        let model = model_with(op.clone()).unwrap();
        let back = tflite_forge::read(&tflite_forge::write(&model).unwrap()).unwrap();
        assert_eq!(back, model);
        let Op::Custom(c) = &back.subgraphs[0].operators[0].op else { panic!() };
        assert_eq!(c.options_value().unwrap().unwrap(), op.options_value().unwrap().unwrap());
    }
}

#[test]
fn broken_select_tf_options_are_validation_errors() {
    let mut bad = CustomOp::flex("Erf", b"nodedef");
    bad.options = vec![1, 2, 3];
    let e = model_with(bad).unwrap_err().to_string();
    assert!(e.contains("select-TF options"), "{e}");
    let mut renamed = CustomOp::flex("Erf", b"nodedef");
    renamed.name = "FlexTanh".into();
    let e = model_with(renamed).unwrap_err().to_string();
    assert!(e.contains("names TensorFlow op \"Erf\""), "{e}");
}
