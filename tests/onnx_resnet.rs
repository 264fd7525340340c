//! The ResNet-18 the example builds converts to at most 38 ops with no
//! TRANSPOSE, keeps its dynamic batch, computes non-degenerate outputs, and
//! computes the same outputs as its unoptimized NCHW conversion.

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

    // The same network converted without optimization (no folding, fusion
    // or transpose sinking: explicit TRANSPOSEs around every layout-bound
    // op) and with the NCHW interface must compute the same logits: the
    // optimized graph's rewrites must not change what it computes.
    let mut plain = ConvertOptions::default();
    plain.no_optimize = true;
    plain.layout = tflite_forge::onnx::IoLayout::KeepNchw;
    let p = convert(&onnx_resnet::resnet18_onnx(), &plain).unwrap();
    assert!(p.model.subgraphs[0].operators.len() > sg.operators.len(), "the unoptimized graph is larger");
    let mut nchw = vec![0f32; n];
    let xs: Vec<f32> = (0..n).map(|i| ((i * 7919 % 2000) as f32 / 1000.0) - 1.0).collect();
    for b in 0..2 {
        for h in 0..224 {
            for w in 0..224 {
                for c in 0..3 {
                    nchw[((b * 3 + c) * 224 + h) * 224 + w] = xs[((b * 224 + h) * 224 + w) * 3 + c];
                }
            }
        }
    }
    let out2 = Evaluator::new(&p.model).run(0, &[Value::from_f32(vec![2, 3, 224, 224], nchw)]).unwrap();
    let w = out2[0].to_f32();
    let max_ref = w.iter().fold(0f32, |m, x| m.max(x.abs()));
    let max_diff = v.iter().zip(&w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(max_diff <= 1e-4 * max_ref, "optimized vs plain NCHW conversion: max|diff| {max_diff}, max|ref| {max_ref}");
}
