//! Interface choices of the converter: NHWC or NCHW image I/O, fixed
//! dimensions, names and order of inputs and outputs, carried metadata.

mod common;
#[path = "common/onnx_build.rs"]
mod onnx_build;

use onnx_build::*;
use onnx_protobuf::{Message, ModelProto, StringStringEntryProto};
use tflite_forge::onnx::{convert, ConvertOptions, IoLayout};
use tflite_forge::{Dim, Op};

/// Two inputs (an image and a vector), two outputs, in that order.
fn two_io() -> Vec<u8> {
    let mut r = common::Rng::new(1);
    let mut b = OnnxBuilder::new(13);
    let img = b.input("image", FLOAT, &[None, Some(3), Some(8), Some(8)]);
    let v = b.input("extra", FLOAT, &[None, Some(4)]);
    let w = b.init_f32("w", &[4, 3, 3, 3], &r.vec(108, 0.5));
    let c = b.node("Conv", &[&img, &w], vec![attr_ints("pads", &[1, 1, 1, 1])]);
    b.node_named("Relu", &[&c], &["features"], vec![]);
    let g = b.node("GlobalAveragePool", &[&c], vec![]);
    let f = b.node("Flatten", &[&g], vec![]);
    b.node_named("Add", &[&f, &v], &["score"], vec![]);
    b.output("score", FLOAT, &[None, Some(4)]);
    b.output("features", FLOAT, &[None, Some(4), Some(8), Some(8)]);
    let mut m = ModelProto::parse_from_bytes(&b.build()).unwrap();
    let mut kv = StringStringEntryProto::new();
    kv.key = "author".into();
    kv.value = "tests".into();
    m.metadata_props.push(kv);
    m.write_to_bytes().unwrap()
}

fn transposes(m: &tflite_forge::Model) -> usize {
    m.subgraphs[0].operators.iter().filter(|o| o.op == Op::Transpose).count()
}

#[test]
fn nhwc_by_default_with_names_and_order_kept() {
    let c = convert(&two_io(), &ConvertOptions::default()).unwrap();
    let m = &c.model;
    let sg = &m.subgraphs[0];
    let sig = &m.signatures[0];
    assert_eq!(sig.key, "serving_default");
    let names: Vec<&str> = sig.inputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["image", "extra"]);
    let names: Vec<&str> = sig.outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["score", "features"]);
    let image = &sg.tensors[sg.inputs[0].index()];
    assert_eq!(image.name, "image");
    assert_eq!(image.shape.dims(), &[Dim::Dynamic, Dim::Fixed(8), Dim::Fixed(8), Dim::Fixed(3)]);
    let features = &sg.tensors[sg.outputs[1].index()];
    assert_eq!(features.shape.dims(), &[Dim::Dynamic, Dim::Fixed(8), Dim::Fixed(8), Dim::Fixed(4)]);
    assert_eq!(transposes(m), 0);
    assert!(m.metadata.iter().any(|md| md.name == "onnx:author" && md.data.as_bytes() == b"tests"));
}

#[test]
fn keep_nchw_costs_one_transpose_per_image_input() {
    let mut o = ConvertOptions::default();
    o.layout = IoLayout::KeepNchw;
    let c = convert(&two_io(), &o).unwrap();
    let sg = &c.model.subgraphs[0];
    let image = &sg.tensors[sg.inputs[0].index()];
    assert_eq!(image.shape.dims(), &[Dim::Dynamic, Dim::Fixed(3), Dim::Fixed(8), Dim::Fixed(8)]);
    // One at the image input; the 4-D output goes back to NCHW as well.
    assert!(transposes(&c.model) <= 2, "{}", transposes(&c.model));
}

#[test]
fn batch_and_named_dimensions_can_be_fixed() {
    let mut o = ConvertOptions::default();
    o.batch = Some(2);
    let c = convert(&two_io(), &o).unwrap();
    let sg = &c.model.subgraphs[0];
    for t in &sg.inputs {
        assert_eq!(sg.tensors[t.index()].shape.dim(0), Some(Dim::Fixed(2)));
    }
    let mut o = ConvertOptions::default();
    o.fixed_dims.insert("batch".into(), 5);
    let c = convert(&two_io(), &o).unwrap();
    let sg = &c.model.subgraphs[0];
    assert_eq!(sg.tensors[sg.inputs[0].index()].shape.dim(0), Some(Dim::Fixed(5)));
    assert!(!sg.tensors.iter().any(|t| t.shape.is_dynamic()));
}

#[test]
fn only_images_get_the_channels_last_interface() {
    // An image into a convolution, an attention mask [b, 1, s, s] and a
    // [b, heads, s, d] tensor: only the image (and the feature map that
    // comes from the convolution) become NHWC.
    let mut r = common::Rng::new(2);
    let mut b = OnnxBuilder::new(13);
    let img = b.input("image", FLOAT, &[Some(1), Some(3), Some(4), Some(4)]);
    let mask = b.input("mask", FLOAT, &[Some(1), Some(1), Some(5), Some(5)]);
    let q = b.input("q", FLOAT, &[Some(1), Some(2), Some(5), Some(8)]);
    let w = b.init_f32("w", &[2, 3, 1, 1], &r.vec(6, 0.5));
    b.node_named("Conv", &[&img, &w], &["features"], vec![]);
    let kt = b.node("Transpose", &[&q], vec![attr_ints("perm", &[0, 1, 3, 2])]);
    let s = b.node("MatMul", &[&q, &kt], vec![]);
    let s = b.node("Add", &[&s, &mask], vec![]);
    let a = b.node("Softmax", &[&s], vec![attr_int("axis", -1)]);
    b.node_named("MatMul", &[&a, &q], &["context"], vec![]);
    b.output("features", FLOAT, &[Some(1), Some(2), Some(4), Some(4)]);
    b.output("context", FLOAT, &[Some(1), Some(2), Some(5), Some(8)]);
    let conv = convert(&b.build(), &ConvertOptions::default()).unwrap();
    let layouts: Vec<(&str, &str)> = conv.report.io_layouts.iter().map(|(n, l)| (n.as_str(), *l)).collect();
    assert_eq!(layouts, [("image", "NHWC"), ("mask", "ONNX"), ("q", "ONNX"), ("features", "NHWC"), ("context", "ONNX")]);
    let sg = &conv.model.subgraphs[0];
    let shape = |t: tflite_forge::TensorId| sg.tensors[t.index()].shape.dims().iter().map(|d| d.fixed().unwrap_or(0)).collect::<Vec<_>>();
    assert_eq!(shape(sg.inputs[0]), [1, 4, 4, 3]);
    assert_eq!(shape(sg.inputs[1]), [1, 1, 5, 5]);
    assert_eq!(shape(sg.inputs[2]), [1, 2, 5, 8]);
    assert_eq!(shape(sg.outputs[0]), [1, 4, 4, 2]);
    assert_eq!(shape(sg.outputs[1]), [1, 2, 5, 8]);
    let meta = conv.model.metadata.iter().find(|m| m.name == "tflite_forge:io_layout").expect("layout metadata");
    assert_eq!(std::str::from_utf8(meta.data.as_bytes()).unwrap(), "image=NHWC\nmask=ONNX\nq=ONNX\nfeatures=NHWC\ncontext=ONNX");
    assert!(conv.report.to_string().contains("layout: image NHWC, mask ONNX, q ONNX, features NHWC, context ONNX"));
}
