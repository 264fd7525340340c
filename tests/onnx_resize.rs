//! Resize computed with gathers (scales, sizes and roi given at run time,
//! fractional sizes, cubic, any axis) next to the RESIZE_* form, checked in
//! the reference evaluator against values worked out here. The ONNX node
//! suite checks the same lowerings in LiteRT.

#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use tflite_forge::eval::Value;
use tflite_forge::onnx::ReasonCode;
use tflite_forge::Model;

fn ops(m: &Model) -> Vec<&str> {
    m.subgraphs[0].operators.iter().map(|o| o.op.name()).collect()
}

/// `Resize(x, roi="", scales=input)`, nearest with the given rounding and
/// transform, x of shape `[1, 1, 2, 2]`.
fn runtime_scales(nearest_mode: &str, transform: &str) -> Model {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(2), Some(2)]);
    let s = b.input("scales", FLOAT, &[Some(4)]);
    let attrs = vec![attr_str("mode", "nearest"), attr_str("nearest_mode", nearest_mode), attr_str("coordinate_transformation_mode", transform)];
    let y = b.node("Resize", &[&x, "", &s], attrs);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[None, None, None, None]);
    to_model(b)
}

#[test]
fn scales_given_at_run_time_resize_every_call_to_their_own_size() {
    let m = runtime_scales("round_prefer_floor", "half_pixel");
    assert!(ops(&m).contains(&"GATHER") && !ops(&m).contains(&"RESIZE_NEAREST_NEIGHBOR"), "{:?}", ops(&m));
    let x = Value::from_f32(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 4.0]);
    // ×2 in both: half_pixel + round_prefer_floor picks 0,0,1,1.
    let y = run(&m, vec![x.clone(), Value::from_f32(vec![4], vec![1.0, 1.0, 2.0, 2.0])]);
    assert_eq!(y[0].shape, [1, 1, 4, 4]);
    assert_eq!(y[0].to_f32(), [1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]);
    // The same file with ×1.5 along W only: floor(2·1.5) = 3 columns,
    // sources (y+0.5)/1.5−0.5 = −1/6, 0.5, 7/6 → 0, 0 (half down), 1.
    let y = run(&m, vec![x.clone(), Value::from_f32(vec![4], vec![1.0, 1.0, 1.0, 1.5])]);
    assert_eq!(y[0].shape, [1, 1, 2, 3]);
    assert_eq!(y[0].to_f32(), [1., 1., 2., 3., 3., 4.]);
    // And the batch axis too: ONNX lets scales resize N.
    let y = run(&m, vec![x, Value::from_f32(vec![4], vec![2.0, 1.0, 1.0, 1.0])]);
    assert_eq!(y[0].shape, [2, 1, 2, 2]);
    assert_eq!(y[0].to_f32(), [1., 2., 3., 4., 1., 2., 3., 4.]);
}

#[test]
fn nearest_roundings_differ_exactly_at_halves() {
    // ×1.5 along W puts output column 1 at source 0.5 (half_pixel).
    let x = Value::from_f32(vec![1, 1, 1, 2], vec![10.0, 20.0]);
    let scales = Value::from_f32(vec![4], vec![1.0, 1.0, 1.0, 1.5]);
    let pick = |mode: &str| {
        let mut b = OnnxBuilder::new(13);
        let xi = b.input("x", FLOAT, &[Some(1), Some(1), Some(1), Some(2)]);
        let s = b.input("scales", FLOAT, &[Some(4)]);
        let y = b.node("Resize", &[&xi, "", &s], vec![attr_str("mode", "nearest"), attr_str("nearest_mode", mode)]);
        b.node_named("Identity", &[&y], &["y"], vec![]);
        b.output("y", FLOAT, &[None, None, None, None]);
        run(&to_model(b), vec![x.clone(), scales.clone()])[0].to_f32()
    };
    assert_eq!(pick("round_prefer_floor"), [10.0, 10.0, 20.0]);
    assert_eq!(pick("round_prefer_ceil"), [10.0, 20.0, 20.0]);
    assert_eq!(pick("floor"), [10.0, 10.0, 20.0]);
    assert_eq!(pick("ceil"), [10.0, 20.0, 20.0]);
}

#[test]
fn linear_with_a_fractional_constant_scale_and_constant_sizes() {
    // Linear, align_corners, W 3 → 5 (sizes): sources 0, 0.5, 1, 1.5, 2.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(1), Some(3)]);
    let sizes = b.init_i64("sizes", &[4], &[1, 1, 1, 5]);
    let y = b.node("Resize", &[&x, "", "", &sizes], vec![attr_str("mode", "linear"), attr_str("coordinate_transformation_mode", "align_corners")]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(1), Some(1), Some(5)]);
    let m = to_model(b);
    let y = run(&m, vec![Value::from_f32(vec![1, 1, 1, 3], vec![0.0, 4.0, 8.0])]);
    assert_eq!(y[0].to_f32(), [0.0, 2.0, 4.0, 6.0, 8.0]);

    // Linear, half_pixel, W 4 × 0.6 = floor(2.4) = 2: not a whole size, so
    // gathers; sources (y + 0.5)/0.6 − 0.5 = 1/3 and 2.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(1), Some(4)]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 1.0, 0.6]);
    let y = b.node("Resize", &[&x, "", &scales], vec![attr_str("mode", "linear")]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(1), Some(1), Some(2)]);
    let m = to_model(b);
    assert!(ops(&m).contains(&"GATHER"));
    assert_eq!(m.subgraphs[0].tensors[m.subgraphs[0].outputs[0].index()].shape.dims().len(), 4);
    let y = run(&m, vec![Value::from_f32(vec![1, 1, 1, 4], vec![0.0, 3.0, 6.0, 9.0])]);
    let got = y[0].to_f32();
    assert_eq!(y[0].shape, [1, 1, 1, 2]);
    assert!((got[0] - 1.0).abs() < 1e-5 && (got[1] - 6.0).abs() < 1e-5, "{got:?}");
}

#[test]
fn cubic_reproduces_a_linear_ramp_inside_and_the_native_form_stays_native() {
    // The cubic kernel (a = −0.75) reproduces linear functions where all
    // four taps are inside: asymmetric ×2 on a ramp 0, 1, …, 7.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(1), Some(8)]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 1.0, 2.0]);
    let y = b.node("Resize", &[&x, "", &scales], vec![attr_str("mode", "cubic"), attr_str("coordinate_transformation_mode", "asymmetric")]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(1), Some(1), Some(16)]);
    let m = to_model(b);
    let got = run(&m, vec![Value::from_f32(vec![1, 1, 1, 8], (0..8).map(|v| v as f32).collect())])[0].to_f32();
    for (i, g) in got.iter().enumerate().take(12).skip(2) {
        assert!((g - i as f32 / 2.0).abs() < 1e-5, "position {i}: {g}");
    }

    // Nearest ×2 with constant scales is still one RESIZE_NEAREST_NEIGHBOR.
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", FLOAT, &[Some(1), Some(2), Some(4), Some(4)]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 2.0, 2.0]);
    let y = b.node("Resize", &[&x, "", &scales], vec![attr_str("mode", "nearest"), attr_str("nearest_mode", "floor"), attr_str("coordinate_transformation_mode", "asymmetric")]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(2), Some(8), Some(8)]);
    let m = to_model(b);
    assert!(ops(&m).contains(&"RESIZE_NEAREST_NEIGHBOR") && !ops(&m).contains(&"GATHER"), "{:?}", ops(&m));
}

#[test]
fn antialias_downsampling_stays_a_typed_error() {
    let mut b = OnnxBuilder::new(18);
    let x = b.input("x", FLOAT, &[Some(1), Some(1), Some(4), Some(4)]);
    let scales = b.init_f32("scales", &[4], &[1.0, 1.0, 0.5, 0.5]);
    let y = b.node("Resize", &[&x, "", &scales], vec![attr_str("mode", "linear"), attr_int("antialias", 1)]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(1), Some(2), Some(2)]);
    assert_eq!(reason(b), ReasonCode::UnsupportedAttribute);
}

#[test]
fn gathers_only_on_float32() {
    let mut b = OnnxBuilder::new(13);
    let x = b.input("x", INT64, &[Some(1), Some(1), Some(2), Some(2)]);
    let s = b.input("scales", FLOAT, &[Some(4)]);
    let y = b.node("Resize", &[&x, "", &s], vec![]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", INT64, &[None, None, None, None]);
    assert_eq!(reason(b), ReasonCode::UnsupportedDtype);
}
