//! The ResNet-18 the example builds converts to at most 38 ops with no
//! TRANSPOSE, keeps its dynamic batch, and computes non-degenerate outputs.

#[path = "common/onnx_build.rs"]
mod onnx_build;
#[path = "common/onnx_resnet.rs"]
mod onnx_resnet;

use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions};
use tflite_forge::{Dim, Op};

#[test]
fn resnet18_converts_compactly_and_runs_at_batch_2() {
    let c = convert(&onnx_resnet::resnet18_onnx(), &ConvertOptions::default()).unwrap();
    let sg = &c.model.subgraphs[0];
    assert!(sg.operators.len() <= 38, "{} ops", sg.operators.len());
    assert!(!sg.operators.iter().any(|o| o.op == Op::Transpose));
    assert_eq!(c.report.folded_batchnorms, 20);
    let input = &sg.tensors[sg.inputs[0].index()];
    assert_eq!(input.shape.dims(), &[Dim::Dynamic, Dim::Fixed(224), Dim::Fixed(224), Dim::Fixed(3)]);
    let n: usize = 2 * 224 * 224 * 3;
    let x: Vec<f32> = (0..n).map(|i| ((i * 7919 % 2000) as f32 / 1000.0) - 1.0).collect();
    let out = Evaluator::new(&c.model).run(0, &[Value::from_f32(vec![2, 224, 224, 3], x)]).unwrap();
    assert_eq!(out[0].shape, vec![2, 1000]);
    let v = out[0].to_f32();
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32).sqrt();
    assert!(v.iter().all(|x| x.is_finite()));
    assert!(std > 0.05, "outputs are near-constant (std {std}): BatchNorm statistics are not realistic");
}
