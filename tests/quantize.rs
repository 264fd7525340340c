//! Post-training quantization: float16, dynamic range, full int8 with each
//! I/O type and 16x8, judged by the reference evaluator here (the
//! conformance suite runs the same models in LiteRT).

mod common;

use common::{resnet_like, Rng};
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::quantize::{calibrate, quantize, report, IoType, QuantizeError, QuantizeOptions};
use tflite_forge::version::op_version;
use tflite_forge::{BatchMatMulOptions, DType, Dim, Model, ModelBuilder, Op, Tensor};

fn samples(model: &Model, n: usize, seed: u64) -> Vec<Vec<Value>> {
    common::random_samples(model, n, seed, 1.0)
}

#[test]
fn int8_resnet_like_stays_close_for_every_io_type() {
    let model = resnet_like(3, Dim::Fixed(1));
    let data = samples(&model, 16, 5);
    for io in [IoType::Float, IoType::Int8, IoType::Uint8] {
        let q = quantize(&model, &QuantizeOptions::int8(io), &data).unwrap();
        let report = q.report.as_ref().unwrap();
        assert!(report.output_cosine > 0.99, "{io:?}:\n{report}");
        assert_eq!(report.layers.len(), model.subgraphs[0].operators.len(), "{report}");
        let sg = &q.model.subgraphs[0];
        let (x, y) = (&sg.tensors[sg.inputs[0].index()], &sg.tensors[sg.outputs[0].index()]);
        let want = match io {
            IoType::Float => DType::F32,
            IoType::Int8 => DType::I8,
            _ => DType::U8,
        };
        assert_eq!((x.dtype, y.dtype), (want, want), "{io:?}");
        // Every op computes in int8: no float tensor is left inside.
        for node in &sg.operators {
            if matches!(node.op, Op::Quantize | Op::Dequantize) {
                continue;
            }
            for t in node.inputs.iter().flatten().chain(&node.outputs) {
                let dt = sg.tensors[t.index()].dtype;
                assert!(matches!(dt, DType::I8 | DType::I32), "{} reads or writes {dt}", node.op.name());
            }
        }
        // Softmax keeps its fixed output parameters; weights are symmetric
        // per channel; biases are int32.
        let conv = sg.operators.iter().find(|o| matches!(o.op, Op::Conv2d(_))).unwrap();
        let w = &sg.tensors[conv.inputs[1].unwrap().index()];
        let wq = w.quantization.as_ref().unwrap();
        assert_eq!((wq.axis, wq.scale.len(), wq.zero_point.iter().all(|z| *z == 0)), (0, 8, true));
        assert_eq!(sg.tensors[conv.inputs[2].unwrap().index()].dtype, DType::I32);
        // The file round-trips, and the signature still names the I/O.
        let bytes = tflite_forge::write(&q.model).unwrap();
        assert_eq!(tflite_forge::read(&bytes).unwrap(), q.model);
        assert_eq!(q.model.signatures[0].inputs[0].1, model.signatures[0].inputs[0].1);
    }
    // Int8 constants take about a quarter of the float bytes.
    let const_bytes = |m: &Model| -> usize { m.subgraphs[0].tensors.iter().filter_map(|t| t.data.as_ref()).map(|d| d.len()).sum() };
    let q = quantize(&model, &QuantizeOptions::int8(IoType::Int8), &data).unwrap();
    let (fb, qb) = (const_bytes(&model), const_bytes(&q.model));
    assert!(qb * 10 < fb * 3, "float {fb} B, int8 {qb} B");
}

#[test]
fn report_points_at_the_layer_that_loses_accuracy() {
    // Calibrating with one huge sample stretches the ranges, so ordinary
    // inputs lose their resolution; the report on ordinary data shows it,
    // starting at the first layer.
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [1, 16]);
    let w = g.constant_f32("w", [16, 16], &Rng::new(1).vec(256, 0.5));
    let h = g.fully_connected(x, w, None, Default::default()).unwrap();
    let y = g.relu(h).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let data = samples(&model, 8, 2);
    let calm = quantize(&model, &QuantizeOptions::int8(IoType::Float), &data).unwrap();
    let mut wild_data = data.clone();
    wild_data[0][0].data.iter_mut().for_each(|v| *v *= 1000.0);
    let wild = quantize(&model, &QuantizeOptions::int8(IoType::Float), &wild_data).unwrap();
    let probe = samples(&model, 8, 3);
    let calm_r = report(&model, &calm.model, &probe).unwrap();
    let wild_r = report(&model, &wild.model, &probe).unwrap();
    assert!(calm_r.output_snr_db > 30.0, "{calm_r}");
    assert!(wild_r.output_snr_db < calm_r.output_snr_db - 20.0, "calm:\n{calm_r}\nwild:\n{wild_r}");
    assert!(wild_r.layers[0].snr_db < calm_r.layers[0].snr_db - 20.0, "{wild_r}");
    assert!(wild_r.to_string().contains("lowest SNR"));
    // The report's figures agree with running the models directly.
    let (fe, qe) = (Evaluator::new(&model), Evaluator::new(&wild.model));
    let (mut signal, mut noise) = (0.0, 0.0);
    for p in &probe {
        let (f, q) = (fe.run(0, p).unwrap(), qe.run(0, p).unwrap());
        signal += f[0].data.iter().map(|v| v * v).sum::<f64>();
        noise += f[0].data.iter().zip(&q[0].data).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
    }
    let snr = 10.0 * (signal / noise).log10();
    assert!((snr - wild_r.output_snr_db).abs() < 1e-9, "{snr} vs {}", wild_r.output_snr_db);
}

#[test]
fn float16_halves_the_weights_and_keeps_the_values() {
    let model = resnet_like(4, Dim::Dynamic);
    let data = samples(&model, 2, 9);
    let q = quantize(&model, &QuantizeOptions::float16(), &data).unwrap();
    let report = q.report.unwrap();
    assert!(report.output_cosine > 0.99999, "{report}");
    let sg = &q.model.subgraphs[0];
    let halves = sg.tensors.iter().filter(|t| t.dtype == DType::F16 && t.is_constant()).count();
    let deq = sg.operators.iter().filter(|o| matches!(o.op, Op::Dequantize)).count();
    assert_eq!(halves, deq);
    assert_eq!(halves, model.subgraphs[0].tensors.iter().filter(|t| t.dtype == DType::F32 && t.is_constant()).count());
    let (fsize, hsize) = (tflite_forge::write(&model).unwrap().len(), tflite_forge::write(&q.model).unwrap().len());
    assert!(hsize < fsize * 3 / 4, "float {fsize} B, float16 {hsize} B");
}

#[test]
fn typed_errors_for_what_cannot_be_quantized() {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [4]);
    // COS has no int8 kernel (elementwise.cc takes float32 and float16).
    let y = g.apply(Op::Cos, &[Some(x)]).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let data = vec![vec![Value::from_f32(vec![4], vec![0.0, 1.0, 2.0, 3.0])]];
    match quantize(&model, &QuantizeOptions::int8(IoType::Int8).with_integer_only(true), &data) {
        Err(QuantizeError::Unsupported { operator: 0, op, .. }) => assert_eq!(op, "COS"),
        other => panic!("{other:?}"),
    }
    // Without integer_only, COS runs in float between DEQUANTIZE and
    // QUANTIZE, and the report sees its int8 output.
    let q = quantize(&model, &QuantizeOptions::int8(IoType::Int8), &data).unwrap();
    assert_eq!(q.float_ops[0].op, "COS");
    let ops: Vec<&str> = q.model.subgraphs[0].operators.iter().map(|o| o.op.name()).collect();
    assert_eq!(ops, ["DEQUANTIZE", "COS", "QUANTIZE"]);
    let layer = &q.report.unwrap().layers[0];
    assert!(layer.scale > 0.0 && layer.snr_db.is_finite() && layer.snr_db > 30.0, "{layer:?}");
    // No samples, and samples that do not fit the inputs.
    let relu = {
        let mut b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let x = g.input("x", DType::F32, [2]);
        let y = g.relu(x).unwrap();
        g.output("y", y);
        b.finish_subgraph(g).unwrap();
        b.finish().unwrap()
    };
    assert!(matches!(quantize(&relu, &QuantizeOptions::int8(IoType::Int8), &[]), Err(QuantizeError::Calibration(_))));
    let two = vec![vec![Value::from_f32(vec![2], vec![1.0, 2.0]), Value::from_f32(vec![2], vec![1.0, 2.0])]];
    assert!(calibrate(&relu, &two).unwrap_err().to_string().contains("2 values for 1 inputs"));
}


/// The tensor read by `node` at `slot`.
fn input(model: &Model, node: usize, slot: usize) -> &Tensor {
    let sg = &model.subgraphs[0];
    &sg.tensors[sg.operators[node].inputs[slot].unwrap().index()]
}

fn const_bytes(m: &Model) -> usize {
    m.subgraphs[0].tensors.iter().filter_map(|t| t.data.as_ref()).map(|d| d.len()).sum()
}

#[test]
fn dynamic_range_resnet_like_quantizes_weights_only() {
    let model = resnet_like(3, Dim::Fixed(1));
    let data = samples(&model, 16, 5);
    // Its weights have 80 to 576 elements: under the default 1024, nothing
    // changes.
    let q = quantize(&model, &QuantizeOptions::dynamic_range(), &data).unwrap();
    assert_eq!(q.model, model);
    assert_eq!(q.report.unwrap().output_cosine, 1.0);

    let q = quantize(&model, &QuantizeOptions::dynamic_range().with_min_weight_elements(64), &data).unwrap();
    let report = q.report.as_ref().unwrap();
    assert!(report.output_cosine > 0.9999, "{report}");
    assert!(report.output_snr_db > 45.0, "{report}");
    assert_eq!(report.layers.len(), model.subgraphs[0].operators.len());
    let sg = &q.model.subgraphs[0];
    assert_eq!((sg.tensors.len(), sg.operators.len()), (model.subgraphs[0].tensors.len(), model.subgraphs[0].operators.len()));
    for (oi, node) in sg.operators.iter().enumerate() {
        let w = matches!(node.op, Op::Conv2d(_) | Op::FullyConnected(_)).then(|| input(&q.model, oi, 1));
        for (slot, t) in node.inputs.iter().enumerate() {
            let t = &sg.tensors[t.unwrap().index()];
            if slot == 1 && w.is_some() {
                // Int8 symmetric, one scale per output channel (axis 0).
                let wq = t.quantization.as_ref().unwrap();
                assert_eq!((t.dtype, wq.axis, wq.scale.len()), (DType::I8, 0, t.shape.dims()[0].fixed().unwrap() as usize), "{}", t.name);
                assert!(wq.zero_point.iter().all(|z| *z == 0));
                assert!(t.data.as_ref().unwrap().as_bytes().iter().all(|b| *b as i8 != -128), "narrow range");
            } else if t.dtype != DType::I32 {
                // Activations and biases stay float.
                assert_eq!((t.dtype, t.quantization.is_none()), (DType::F32, true), "{} reads {}", node.op.name(), t.name);
            }
        }
        assert_eq!(sg.tensors[node.outputs[0].index()].dtype, DType::F32);
        // The hybrid kernels' versions: per-channel CONV_2D 5,
        // per-channel FULLY_CONNECTED 12, which quantizes its inputs
        // asymmetrically as TensorFlow's converter sets it.
        match &node.op {
            Op::Conv2d(_) => assert_eq!(op_version(sg, node), 5),
            Op::FullyConnected(o) => assert_eq!((op_version(sg, node), o.asymmetric_quantize_inputs), (12, true)),
            _ => {}
        }
    }
    // About a quarter of the weight bytes; the file round-trips.
    let (fb, qb) = (const_bytes(&model), const_bytes(&q.model));
    assert!(qb * 10 < fb * 4, "float {fb} B, dynamic range {qb} B");
    let bytes = tflite_forge::write(&q.model).unwrap();
    assert_eq!(tflite_forge::read(&bytes).unwrap(), q.model);

    // Per tensor: one scale each, versions 2 and 9.
    let q = quantize(&model, &QuantizeOptions::dynamic_range().with_min_weight_elements(64).with_per_channel(false), &[]).unwrap();
    assert!(q.report.is_none());
    let sg = &q.model.subgraphs[0];
    for (oi, node) in sg.operators.iter().enumerate() {
        let want = match node.op {
            Op::Conv2d(_) => 2,
            Op::FullyConnected(_) => 9,
            _ => continue,
        };
        assert_eq!((op_version(sg, node), input(&q.model, oi, 1).quantization.as_ref().unwrap().scale.len()), (want, 1));
    }
}

#[test]
fn dynamic_range_batch_matmul_and_shared_weights() {
    let mut r = Rng::new(4);
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [2, 64]);
    let w1 = g.constant_f32("w1", [32, 64], &r.vec(32 * 64, 0.3));
    let w2 = g.constant_f32("w2", [64, 16], &r.vec(64 * 16, 0.3));
    let c = g.constant_f32("c", [64, 16], &r.vec(64 * 16, 1.0));
    // Two FULLY_CONNECTED share w1; w2 is a BATCH_MATMUL operand and an ADD
    // operand, which has no hybrid kernel.
    let y1 = g.fully_connected(x, w1, None, Default::default()).unwrap();
    let y2 = g.fully_connected(x, w1, None, Default::default()).unwrap();
    let y3 = g.batch_matmul(x, w2, BatchMatMulOptions::default()).unwrap();
    let y4 = g.add(w2, c).unwrap();
    for (name, y) in [("y1", y1), ("y2", y2), ("y3", y3), ("y4", y4)] {
        g.output(name, y);
    }
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let data = samples(&model, 4, 3);
    let q = quantize(&model, &QuantizeOptions::dynamic_range(), &data).unwrap();
    let report = q.report.as_ref().unwrap();
    assert!(report.output_cosine > 0.9999, "{report}");
    let sg = &q.model.subgraphs[0];
    // w1 is quantized in place, once; w2 gets an int8 copy for the
    // BATCH_MATMUL, per tensor, and stays float for the ADD.
    assert_eq!(sg.tensors.len(), model.subgraphs[0].tensors.len() + 1);
    assert_eq!(sg.operators[0].inputs[1], sg.operators[1].inputs[1]);
    assert_eq!(input(&q.model, 0, 1).quantization.as_ref().unwrap().scale.len(), 32);
    let w2q = input(&q.model, 2, 1);
    assert_eq!((w2q.dtype, w2q.name.as_str(), w2q.quantization.as_ref().unwrap().scale.len()), (DType::I8, "w2/int8", 1));
    assert_eq!(input(&q.model, 3, 0).dtype, DType::F32);
    assert!(matches!(sg.operators[2].op, Op::BatchMatMul(o) if o.asymmetric_quantize_inputs));
    assert_eq!(op_version(sg, &sg.operators[2]), 4);
}

#[test]
fn int16x8_resnet_like_meets_the_16x8_kernels() {
    let model = resnet_like(3, Dim::Fixed(1));
    let data = samples(&model, 16, 5);
    let int8 = quantize(&model, &QuantizeOptions::int8(IoType::Float), &data).unwrap().report.unwrap();
    for io in [IoType::Float, IoType::Int16] {
        let q = quantize(&model, &QuantizeOptions::int16x8(io), &data).unwrap();
        let report = q.report.as_ref().unwrap();
        assert!(report.output_cosine > 0.9999, "{io:?}:\n{report}");
        // Int16 activations leave the int8 weights as the main error.
        assert!(report.output_snr_db > int8.output_snr_db + 6.0, "int8:\n{int8}\n16x8:\n{report}");
        assert_eq!(report.layers.len(), model.subgraphs[0].operators.len(), "{report}");
        let sg = &q.model.subgraphs[0];
        let (x, y) = (&sg.tensors[sg.inputs[0].index()], &sg.tensors[sg.outputs[0].index()]);
        let want = if io == IoType::Float { DType::F32 } else { DType::I16 };
        assert_eq!((x.dtype, y.dtype), (want, want), "{io:?}");
        let scale = |t: &Tensor| t.quantization.as_ref().unwrap().scale.clone();
        for (oi, node) in sg.operators.iter().enumerate() {
            if matches!(node.op, Op::Quantize | Op::Dequantize) {
                continue;
            }
            // Activations int16, symmetric.
            for t in node.inputs.iter().take(1).flatten().chain(&node.outputs) {
                let t = &sg.tensors[t.index()];
                let tq = t.quantization.as_ref().unwrap();
                assert_eq!((t.dtype, tq.zero_point.as_slice()), (DType::I16, &[0][..]), "{} {}", node.op.name(), t.name);
            }
            match &node.op {
                Op::Conv2d(o) => {
                    assert_eq!(o.quantized_bias_type, Some(DType::I64));
                    let (x, w, b) = (input(&q.model, oi, 0), input(&q.model, oi, 1), input(&q.model, oi, 2));
                    assert_eq!((w.dtype, w.quantization.as_ref().unwrap().axis, scale(w).len()), (DType::I8, 0, 8));
                    assert_eq!(b.dtype, DType::I64);
                    for (sb, sw) in scale(b).iter().zip(scale(w)) {
                        assert_eq!(*sb, scale(x)[0] * sw);
                    }
                }
                Op::FullyConnected(_) => {
                    let (w, b) = (input(&q.model, oi, 1), input(&q.model, oi, 2));
                    assert_eq!((w.dtype, scale(w).len(), b.dtype), (DType::I8, 10, DType::I64));
                }
                Op::Add(o) => assert!(!o.pot_scale_int16),
                Op::Softmax { .. } => {
                    let out = &sg.tensors[node.outputs[0].index()];
                    assert_eq!(scale(out), [1.0 / 32768.0]);
                }
                _ => {}
            }
        }
        // Float I/O: QUANTIZE to int16 first, DEQUANTIZE from it last.
        if io == IoType::Float {
            assert!(matches!((&sg.operators[0].op, &sg.operators.last().unwrap().op), (Op::Quantize, Op::Dequantize)));
        }
        let bytes = tflite_forge::write(&q.model).unwrap();
        assert_eq!(tflite_forge::read(&bytes).unwrap(), q.model);
    }
}

#[test]
fn new_modes_say_what_they_cannot_do() {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [1, 4]);
    let y = g.relu(x).unwrap();
    let y = g.hard_swish(y).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let data = vec![vec![Value::from_f32(vec![1, 4], vec![-1.0, 0.0, 1.0, 3.0])]];
    // HARD_SWISH has int8 kernels but no 16x8 one: it falls back to float,
    // or with integer_only is an error.
    assert!(quantize(&model, &QuantizeOptions::int8(IoType::Int8), &data).unwrap().float_ops.is_empty());
    assert_eq!(quantize(&model, &QuantizeOptions::int16x8(IoType::Float), &data).unwrap().float_ops.len(), 1);
    match quantize(&model, &QuantizeOptions::int16x8(IoType::Float).with_integer_only(true), &data) {
        Err(e @ QuantizeError::Unsupported { operator: 1, .. }) => {
            assert!(e.to_string().contains("HARD_SWISH") && e.to_string().contains("int16x8"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Input/output types the mode does not have.
    for options in [QuantizeOptions::int8(IoType::Int16), QuantizeOptions::int16x8(IoType::Uint8), QuantizeOptions::int16x8(IoType::Int8)] {
        assert!(matches!(quantize(&model, &options, &data), Err(QuantizeError::Options(_))), "{options:?}");
    }
    let mut dynamic = QuantizeOptions::dynamic_range();
    dynamic.io = IoType::Int8;
    assert!(quantize(&model, &dynamic, &data).unwrap_err().to_string().contains("Int8 inputs and outputs in mode DynamicRange"));
    // 16x8 calibrates; dynamic range needs no samples.
    assert!(matches!(quantize(&model, &QuantizeOptions::int16x8(IoType::Int16), &[]), Err(QuantizeError::Calibration(_))));
    assert!(quantize(&model, &QuantizeOptions::dynamic_range(), &[]).unwrap().report.is_none());
}

#[test]
fn int4_weights_halve_the_int8_weights_and_run_in_the_evaluator() {
    let model = resnet_like(3, Dim::Fixed(1));
    let data = samples(&model, 16, 5);
    let int8 = quantize(&model, &QuantizeOptions::int8(IoType::Int8), &data).unwrap();
    let int4 = quantize(&model, &QuantizeOptions::int8(IoType::Int8).with_int4_weights(true), &data).unwrap();
    let r4 = int4.report.as_ref().unwrap();
    let r8 = int8.report.as_ref().unwrap();
    // Coarser weights cost accuracy, but the model still computes the same
    // thing (the report runs the int4 file in the evaluator).
    assert!(r4.output_cosine > 0.99 && r4.output_cosine < r8.output_cosine, "int4:\n{r4}\nint8:\n{r8}");
    let sg = &int4.model.subgraphs[0];
    let mut filters = 0;
    for (i, node) in sg.operators.iter().enumerate() {
        if matches!(node.op, Op::Conv2d(_) | Op::DepthwiseConv2d(_) | Op::FullyConnected(_)) {
            let w = input(&int4.model, i, 1);
            let n = w.shape.num_elements().unwrap() as usize;
            assert_eq!((w.dtype, w.data.as_ref().unwrap().len()), (DType::I4, n.div_ceil(2)), "{}", w.name);
            // Every packed value is in [-7, 7] (no -8 nibble).
            assert!(w.data.as_ref().unwrap().as_bytes().iter().all(|b| b & 0x0f != 8 && b >> 4 != 8), "{}", w.name);
            // Conv 2-D with int8 activations and int4 filters is version 7.
            if matches!(node.op, Op::Conv2d(_)) {
                assert_eq!(op_version(sg, node), 7);
            }
            filters += 1;
        }
    }
    assert!(filters >= 3);
    let (w8, w4) = (const_bytes(&int8.model), const_bytes(&int4.model));
    assert!(w4 < w8 * 2 / 3, "int8 constants {w8} B, int4 {w4} B");
    // Round trip through the file keeps the packed bytes.
    let back = tflite_forge::read(&tflite_forge::write(&int4.model).unwrap()).unwrap();
    let x = common::random_samples(&model, 1, 77, 1.0).remove(0);
    let inputs: Vec<Value> = x.iter().zip(&sg.inputs).map(|(v, t)| tflite_forge::quantize::quantize_input(v, &sg.tensors[t.index()])).collect();
    assert_eq!(Evaluator::new(&back).run(0, &inputs).unwrap(), Evaluator::new(&int4.model).run(0, &inputs).unwrap());
}

#[test]
fn dynamic_int4_quantizes_fully_connected_weights_only() {
    let model = resnet_like(3, Dim::Fixed(1));
    let options = QuantizeOptions::dynamic_range().with_min_weight_elements(1).with_int4_weights(true);
    let q = quantize(&model, &options, &samples(&model, 4, 3)).unwrap();
    assert!(q.report.as_ref().unwrap().output_cosine > 0.99, "{}", q.report.unwrap());
    let sg = &q.model.subgraphs[0];
    for (i, node) in sg.operators.iter().enumerate() {
        let want = match node.op {
            Op::FullyConnected(_) => DType::I4,
            Op::Conv2d(_) | Op::DepthwiseConv2d(_) => DType::I8,
            _ => continue,
        };
        assert_eq!(input(&q.model, i, 1).dtype, want, "{}", node.op.name());
    }
    // Other modes say they have no int4 weights.
    let bad = quantize(&model, &QuantizeOptions::int16x8(IoType::Float).with_int4_weights(true), &samples(&model, 1, 3));
    assert!(matches!(bad, Err(QuantizeError::Options(_))), "{bad:?}");
}

#[test]
fn weight_only_int8_dequantizes_int8_weights_to_float() {
    let model = resnet_like(3, Dim::Fixed(1));
    let q = quantize(&model, &QuantizeOptions::weight_only_int8().with_min_weight_elements(1), &samples(&model, 4, 3)).unwrap();
    let report = q.report.as_ref().unwrap();
    assert!(report.output_cosine > 0.9999, "{report}");
    let sg = &q.model.subgraphs[0];
    let deq: Vec<_> = sg.operators.iter().filter(|o| matches!(o.op, Op::Dequantize)).collect();
    assert!(deq.len() >= 3);
    for d in &deq {
        let w = &sg.tensors[d.inputs[0].unwrap().index()];
        assert_eq!(w.dtype, DType::I8, "{}", w.name);
        assert_eq!(sg.tensors[d.outputs[0].index()].dtype, DType::F32);
    }
    // Every weight-reading op still computes in float.
    for (i, node) in sg.operators.iter().enumerate() {
        if matches!(node.op, Op::Conv2d(_) | Op::DepthwiseConv2d(_) | Op::FullyConnected(_)) {
            assert_eq!(input(&q.model, i, 1).dtype, DType::F32);
            assert_eq!(input(&q.model, i, 0).dtype, DType::F32);
        }
    }
    assert!(const_bytes(&q.model) < const_bytes(&model) / 2, "{} vs {}", const_bytes(&q.model), const_bytes(&model));
    assert!(matches!(
        quantize(&model, &QuantizeOptions::weight_only_int8().with_int4_weights(true), &[]),
        Err(QuantizeError::Options(_))
    ));
}

#[test]
fn threads_change_neither_the_model_bytes_nor_the_report() {
    let model = resnet_like(3, Dim::Fixed(1));
    let data = samples(&model, 12, 9);
    let run = |threads: usize| {
        let q = quantize(&model, &QuantizeOptions::int8(IoType::Uint8).with_threads(threads).with_report_samples(8), &data).unwrap();
        (tflite_forge::write(&q.model).unwrap(), q.report.unwrap())
    };
    let (bytes1, report1) = run(1);
    assert_eq!((report1.samples, report1.dataset_samples), (8, 12));
    assert!(report1.to_string().contains("8 sample(s) (the first of 12)"), "{report1}");
    for threads in [2, 5] {
        let (bytes, report) = run(threads);
        assert!(bytes == bytes1, "{threads} threads changed the model bytes");
        assert_eq!(report, report1, "{threads} threads changed the report");
    }
    // report_samples 0: no report, same model.
    let q = quantize(&model, &QuantizeOptions::int8(IoType::Uint8).with_report_samples(0), &data).unwrap();
    assert!(q.report.is_none());
    assert!(tflite_forge::write(&q.model).unwrap() == bytes1);
}

/// x[4, 256] → FULLY_CONNECTED(`out`, fused `act`) → y: weights whose
/// magnitude changes 16-fold every 128 inputs, which per-row scales serve
/// badly and per-block scales well.
fn blocky_fc(out: u32, inner: u32, act: tflite_forge::Activation) -> Model {
    let mut r = Rng::new(41);
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [4, inner]);
    let w: Vec<f32> = r.vec((out * inner) as usize, 1.0).iter().enumerate().map(|(k, v)| v * (1 << (4 * ((k % inner as usize) / 128 % 2))) as f32).collect();
    let w = g.constant_f32("w", [out, inner], &w);
    let bias = g.constant_f32("b", [out], &r.vec(out as usize, 0.1));
    let y = g.fully_connected(x, w, Some(bias), tflite_forge::FullyConnectedOptions::default().with_activation(act)).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    b.finish().unwrap()
}

#[test]
fn blockwise_int4_weights_beat_per_channel_and_round_trip() {
    use tflite_forge::Activation;
    let model = blocky_fc(16, 256, Activation::None);
    let data = samples(&model, 8, 3);
    let per_channel = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_weights(true), &data).unwrap();
    let rc = per_channel.report.as_ref().unwrap().output_cosine;
    for block in [32, 128] {
        let q = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_block_size(Some(block)), &data).unwrap();
        assert!(q.blockwise_fallbacks.is_empty(), "{:?}", q.blockwise_fallbacks);
        let rb = q.report.as_ref().unwrap().output_cosine;
        // The report ran the blockwise file in the evaluator.
        eprintln!("block {block}: cosine {rb:.6}, per-channel int4 {rc:.6}");
        assert!(1.0 - rb < 0.75 * (1.0 - rc), "block {block}: {rb} against per-channel {rc}");
        let sg = &q.model.subgraphs[0];
        let fc = &sg.operators[0];
        assert!(matches!(fc.op, Op::FullyConnected(o) if o.asymmetric_quantize_inputs));
        let w = &sg.tensors[fc.inputs[1].unwrap().index()];
        let bq = w.quantization.as_ref().unwrap().details.as_ref().unwrap().blockwise().unwrap().clone();
        assert_eq!((w.dtype, bq.block_size, bq.zero_points, w.quantization.as_ref().unwrap().scale.len()), (DType::I4, block, None, 0));
        let s = &sg.tensors[bq.scales.index()];
        assert_eq!((s.dtype, s.shape.as_fixed(), s.name.as_str()), (DType::F16, Some(vec![16, 256 / block]), "w_scales"));
        // Int4 values plus one float16 per block.
        assert_eq!(w.data.as_ref().unwrap().len() + s.data.as_ref().unwrap().len(), 16 * 128 + 16 * (256 / block as usize) * 2);
        // FULLY_CONNECTED keeps the per-channel int4 hybrid version, as
        // LiteRT's op_version.cc (no blockwise rule) gives it.
        assert_eq!(op_version(sg, fc), op_version(&per_channel.model.subgraphs[0], &per_channel.model.subgraphs[0].operators[0]));
        // Written and read back unchanged, and the evaluator agrees.
        let bytes = tflite_forge::write(&q.model).unwrap();
        let back = tflite_forge::read(&bytes).unwrap();
        assert_eq!(back.subgraphs[0].tensors, sg.tensors);
        let (a, b) = (Evaluator::new(&q.model).run(0, &data[0]).unwrap(), Evaluator::new(&back).run(0, &data[0]).unwrap());
        assert_eq!(a[0].data, b[0].data);
    }
}

#[test]
fn blockwise_int4_falls_back_to_per_channel_where_litert_would_be_wrong() {
    use tflite_forge::quantize::BlockwiseFallbackReason as R;
    use tflite_forge::Activation;
    for (model, block, reason) in [
        (blocky_fc(16, 288, Activation::None), 64, R::NotDivisible { input_dim: 288, block_size: 64 }),
        (blocky_fc(3, 512, Activation::None), 32, R::FewOutputs(3)),
    ] {
        let q = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_block_size(Some(block)), &[]).unwrap();
        assert_eq!(q.blockwise_fallbacks.len(), 1);
        assert_eq!((q.blockwise_fallbacks[0].operator, &q.blockwise_fallbacks[0].reason), (0, &reason));
        assert!(q.blockwise_fallbacks[0].to_string().contains("per-channel int4"));
        let sg = &q.model.subgraphs[0];
        let w = &sg.tensors[sg.operators[0].inputs[1].unwrap().index()];
        let wq = w.quantization.as_ref().unwrap();
        assert_eq!((w.dtype, wq.details.is_none(), wq.scale.len() as u32), (DType::I4, true, w.shape.dims()[0].fixed().unwrap()));
    }
}

#[test]
fn blockwise_int4_options_are_checked() {
    let model = blocky_fc(16, 256, tflite_forge::Activation::None);
    for bad in [0, 16, 48, 512] {
        let e = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_block_size(Some(bad)), &[]).unwrap_err();
        assert_eq!(e, QuantizeError::BlockSize(bad));
    }
    let data = samples(&model, 2, 1);
    let e = quantize(&model, &QuantizeOptions::int8(IoType::Float).with_int4_block_size(Some(32)), &data).unwrap_err();
    assert!(matches!(e, QuantizeError::Options(ref m) if m.contains("float activations")), "{e}");
    // `None` leaves int4 weights as they were.
    assert!(!QuantizeOptions::dynamic_range().with_int4_block_size(None).int4_weights);
}

#[test]
fn blockwise_details_are_validated_and_survive_compaction() {
    use tflite_forge::{ConstData, QuantDetails};
    let model = blocky_fc(16, 256, tflite_forge::Activation::None);
    let q = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_block_size(Some(64)), &[]).unwrap().model;
    let sg = &q.subgraphs[0];
    let wi = sg.operators[0].inputs[1].unwrap().index();
    let scales = sg.tensors[wi].quantization.as_ref().unwrap().details.as_ref().unwrap().blockwise().unwrap().scales;
    let broken = |f: &dyn Fn(&mut Model)| {
        let mut m = q.clone();
        f(&mut m);
        tflite_forge::validate::validate(&m).unwrap_err().to_string()
    };
    let set_block = |m: &mut Model, n: u32| {
        if let Some(QuantDetails::Blockwise(b)) = m.subgraphs[0].tensors[wi].quantization.as_mut().unwrap().details.as_mut() {
            b.block_size = n;
        }
    };
    assert!(broken(&|m| set_block(m, 96)).contains("does not divide"));
    assert!(broken(&|m| set_block(m, 128)).contains("expected [16, 2]"));
    assert!(broken(&|m| {
        let s = &mut m.subgraphs[0].tensors[scales.index()];
        s.dtype = DType::F32;
        s.data = Some(ConstData::from_slice(&[1f32; 64]));
    })
    .contains("FLOAT16"));
    assert!(broken(&|m| {
        let w = &mut m.subgraphs[0].tensors[wi];
        w.dtype = DType::I8;
        w.data = Some(ConstData::from_slice(&[0i8; 16 * 256]));
    })
    .contains("INT4"));
    // The scale tensor is read by no op: compaction keeps and renumbers it.
    let mut m = q.clone();
    m.subgraphs[0].tensors.insert(0, Tensor::new("unused", DType::F32, [1]));
    for t in &mut m.subgraphs[0].inputs {
        t.0 += 1;
    }
    for t in &mut m.subgraphs[0].outputs {
        t.0 += 1;
    }
    for op in &mut m.subgraphs[0].operators {
        op.inputs.iter_mut().flatten().for_each(|t| t.0 += 1);
        op.outputs.iter_mut().for_each(|t| t.0 += 1);
    }
    if let Some(QuantDetails::Blockwise(b)) = m.subgraphs[0].tensors[wi + 1].quantization.as_mut().unwrap().details.as_mut() {
        b.scales.0 += 1;
    }
    tflite_forge::validate::validate(&m).unwrap();
    tflite_forge::passes::cleanup::remove_dead(&mut m.subgraphs[0]);
    assert_eq!(m.subgraphs[0].tensors, sg.tensors);
}

#[test]
fn blockwise_files_written_elsewhere_read_and_evaluate_as_litert_runs_them() {
    // tests/fixtures/blockwise/make_fixture.py: built with the LiteRT
    // wheel's schema as ai-edge-quantizer lays such files out, with
    // LiteRT's output for x.npy.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/blockwise/");
    let read = |f: &str| std::fs::read(format!("{dir}{f}")).unwrap();
    let model = tflite_forge::read(&read("fc_blockwise.tflite")).unwrap();
    let sg = &model.subgraphs[0];
    let w = &sg.tensors[sg.operators[0].inputs[1].unwrap().index()];
    let b = w.quantization.as_ref().unwrap().details.as_ref().unwrap().blockwise().unwrap();
    assert_eq!((b.scales.0, b.zero_points, b.block_size, b.block_shape.clone()), (1, None, 32, None));
    let back = tflite_forge::read(&tflite_forge::write(&model).unwrap()).unwrap();
    assert_eq!(back.subgraphs[0].tensors, sg.tensors);
    let x = tflite_forge::npy::read_npy(&read("x.npy")).unwrap();
    let litert = tflite_forge::npy::read_npy(&read("y_litert.npy")).unwrap();
    let ours = Evaluator::new(&model).run(0, &[x]).unwrap();
    let top = litert.data.iter().fold(0f64, |m, v| m.max(v.abs()));
    let worst = ours[0].data.iter().zip(&litert.data).fold(0f64, |m, (a, b)| m.max((a - b).abs()));
    // LiteRT quantizes the input rows to int8 on the fly (0.7 % of the
    // largest output here); the evaluator computes in float.
    assert!(worst < 0.02 * top, "max difference {worst} of {top}");
}

#[test]
fn blockwise_fully_connected_gets_its_fused_activation_as_an_op() {
    // LiteRT's builtin blockwise kernel ignores fused activations.
    use tflite_forge::Activation;
    for (act, op) in [(Activation::Relu, "RELU"), (Activation::Relu6, "RELU6"), (Activation::ReluN1To1, "RELU_N1_TO_1")] {
        let model = blocky_fc(16, 256, act);
        let data = samples(&model, 4, 9);
        let q = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_block_size(Some(64)), &data).unwrap();
        assert!(q.blockwise_fallbacks.is_empty());
        let sg = &q.model.subgraphs[0];
        let names: Vec<&str> = sg.operators.iter().map(|o| o.op.name()).collect();
        assert_eq!(names, ["FULLY_CONNECTED", op]);
        assert!(matches!(sg.operators[0].op, Op::FullyConnected(o) if o.activation == Activation::None));
        // The activation writes the model's output, the FULLY_CONNECTED a
        // new tensor.
        assert_eq!(sg.operators[1].outputs, sg.outputs);
        assert_eq!(sg.operators[1].inputs, [Some(sg.operators[0].outputs[0])]);
        // Within the evaluator, the split op computes what the fused
        // activation would have.
        let fused = quantize(&model, &QuantizeOptions::dynamic_range().with_int4_weights(true), &data).unwrap();
        let mut unsplit = q.model.clone();
        let usg = &mut unsplit.subgraphs[0];
        if let Op::FullyConnected(o) = &mut usg.operators[0].op {
            o.activation = act;
        }
        usg.operators[0].outputs = usg.operators[1].outputs.clone();
        usg.operators.truncate(1);
        let (a, b) = (Evaluator::new(&q.model).run(0, &data[0]).unwrap(), Evaluator::new(&unsplit).run(0, &data[0]).unwrap());
        assert_eq!(a[0].data, b[0].data, "{act:?}");
        let (rb, rc) = (q.report.as_ref().unwrap().output_cosine, fused.report.as_ref().unwrap().output_cosine);
        assert!(rb >= rc, "{act:?}: blockwise {rb}, per-channel {rc}");
    }
}

/// A graph with complex64 tensors (RFFT2D, then COMPLEX_ABS and REAL fed
/// into float ops): calibration skips the complex tensors, and every
/// quantization mode either quantizes the real ops around them, leaving
/// the complex ops in float, or refuses with a typed error; never a panic.
#[test]
fn complex_tensors_are_skipped_or_refused_cleanly() {
    use tflite_forge::quantize::CalibrationMethod;
    let model = common::model_of(|g| {
        let x = g.input("x", DType::F32, [1, 4, 8]);
        let x2 = g.relu(x)?;
        let l = g.constant_i32("fft_length", [2], &[4, 8]);
        let y = g.rfft2d(x2, l)?;
        let ab = g.complex_abs(y)?;
        let re = g.real(y)?;
        let s = g.add(ab, re)?;
        g.output("s", s);
        Ok(())
    });
    let mut r = Rng::new(9);
    let data: Vec<Vec<Value>> = (0..4).map(|_| vec![Value::from_f32(vec![1, 4, 8], r.vec(32, 1.0))]).collect();
    let ranges = calibrate(&model, &data).expect("calibration skips complex tensors");
    let sg = &model.subgraphs[0];
    for (i, t) in sg.tensors.iter().enumerate() {
        if t.dtype == DType::Complex64 {
            assert!(ranges.get(i).is_none(), "complex tensor {:?} got a range", t.name);
        }
    }
    let float_out = Evaluator::new(&model).run(0, &data[0]).unwrap().remove(0);
    let options = [
        QuantizeOptions::dynamic_range(),
        QuantizeOptions::float16(),
        QuantizeOptions::int8(IoType::Float),
        QuantizeOptions::int8(IoType::Float).with_calibration(CalibrationMethod::Percentile(99.9)).with_report_samples(2),
        QuantizeOptions::int8(IoType::Int8).with_integer_only(true),
        QuantizeOptions::int16x8(IoType::Float),
    ];
    for (k, o) in options.iter().enumerate() {
        match quantize(&model, o, &data) {
            Ok(q) => {
                // The complex ops stay float; the result still runs and is
                // near the float one.
                let qsg = &q.model.subgraphs[0];
                assert!(qsg.tensors.iter().any(|t| t.dtype == DType::Complex64), "options {k}: complex tensors vanished");
                let out = Evaluator::new(&q.model).run(0, &data[0]).expect("the quantized model evaluates");
                let got = out[0].dequantized().unwrap();
                let peak = float_out.data.iter().fold(0f64, |m, v| m.max(v.abs()));
                let worst = got.iter().zip(&float_out.data).fold(0f64, |m, (a, b)| m.max((a - b).abs()));
                assert!(worst <= 0.1 * peak, "options {k}: worst error {worst} of peak {peak}");
            }
            Err(e) => {
                eprintln!("options {k}: {e}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

/// Issue 8 (stretch): a float UNIDIRECTIONAL_SEQUENCE_LSTM becomes LiteRT's
/// full-integer 8x8→16 form in int8 (the qbuilder tier runs it in LiteRT);
/// the forms not built here (peephole, projection) and 16x8 (no int16
/// kernel) stay float.
#[test]
fn int8_unidirectional_sequence_lstm_becomes_the_integer_kernel() {
    use tflite_forge::Quantization;
    let cases = common::builder_cases();
    let case = |name: &str| cases.iter().find(|c| c.name == name).map(|c| c.model.clone()).expect(name);
    let plain = case("unidirectional_sequence_lstm/f32");
    let data = samples(&plain, 8, 17);
    let q = quantize(&plain, &QuantizeOptions::int8(IoType::Float), &data).unwrap();
    assert!(q.float_ops.is_empty(), "{:?}", q.float_ops);
    let sg = &q.model.subgraphs[0];
    let node = sg.operators.iter().find(|o| matches!(o.op, Op::UnidirectionalSequenceLstm(_))).expect("the LSTM");
    let t = |i: usize| &sg.tensors[node.inputs[i].expect("present").index()];
    assert_eq!(t(0).dtype, DType::I8);
    for i in 1..=8 {
        assert_eq!((t(i).dtype, t(i).quantization.as_ref().map(|q| (q.scale.len(), q.zero_point[0]))), (DType::I8, Some((1, 0))), "weights {i}");
    }
    for i in 12..=15 {
        let w = t(i - 11).quantization.as_ref().unwrap().scale[0];
        let x = t(0).quantization.as_ref().unwrap().scale[0];
        assert_eq!(t(i).dtype, DType::I32);
        assert!((t(i).quantization.as_ref().unwrap().scale[0] - x * w).abs() <= 1e-6 * x * w, "bias {i}");
    }
    // Three steps from a zero state: |c| ≤ 3, so 2^-13 (int16 range ±4),
    // and the bound becomes the cell clip.
    assert_eq!(t(19).quantization, Some(Quantization::per_tensor(2f32.powi(-13), 0)));
    assert_eq!(t(19).dtype, DType::I16);
    let Op::UnidirectionalSequenceLstm(o) = &node.op else { unreachable!() };
    assert_eq!(o.cell_clip, 3.0);
    let y = &sg.tensors[node.outputs[0].index()];
    assert_eq!(t(18).quantization, y.quantization);
    assert_eq!(node.intermediates.len(), 5);
    assert_eq!(sg.tensors[node.intermediates[4].index()].quantization, y.quantization);
    assert_eq!(op_version(sg, node), 1);
    let report = q.report.as_ref().unwrap();
    assert!(report.output_cosine > 0.99, "{report}");
    // Peephole and projection stay float; so does 16x8.
    let other = case("unidirectional_sequence_lstm/cifg_peephole_projection_time_major");
    let q = quantize(&other, &QuantizeOptions::int8(IoType::Float), &samples(&other, 4, 18)).unwrap();
    assert_eq!(q.float_ops.iter().map(|f| f.op.as_str()).collect::<Vec<_>>(), ["UNIDIRECTIONAL_SEQUENCE_LSTM"]);
    let q = quantize(&plain, &QuantizeOptions::int16x8(IoType::Float), &data).unwrap();
    assert_eq!(q.float_ops.iter().map(|f| f.op.as_str()).collect::<Vec<_>>(), ["UNIDIRECTIONAL_SEQUENCE_LSTM"]);
    let integer_only = QuantizeOptions::int8(IoType::Float).with_integer_only(true);
    assert!(matches!(quantize(&other, &integer_only, &samples(&other, 4, 18)), Err(QuantizeError::Unsupported { .. })));
}

/// A float model of `SELECT_V2(x > 0, x, y)`, `ONE_HOT(ids, 4, on, off)`
/// with constant on / off values and `SPARSE_TO_DENSE` of `y`'s first 3
/// values with a constant default: ops whose data are not operand 0.
fn data_operand_model() -> Model {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [2, 3]);
    let y = g.input("y", DType::F32, [2, 3]);
    let zero = g.constant_f32("zero", [1], &[0.0]);
    let c = g.apply(Op::Greater, &[Some(x), Some(zero)]).unwrap();
    let s = g.apply(Op::SelectV2, &[Some(c), Some(x), Some(y)]).unwrap();
    g.output("s", s);
    let ids = g.constant_i32("ids", [3], &[2, 0, 3]);
    let depth = g.constant_i32("depth", [], &[4]);
    let on = g.constant_f32("on", [], &[1.5]);
    let off = g.constant_f32("off", [], &[-0.5]);
    let h = g.one_hot(&[Some(ids), Some(depth), Some(on), Some(off)], tflite_forge::OneHotOptions::default()).unwrap();
    g.output("h", h);
    let flat = g.reshape(y, &[6]).unwrap();
    let begin = g.constant_i32("begin", [1], &[0]);
    let size = g.constant_i32("size", [1], &[3]);
    let vals = g.apply(Op::Slice, &[Some(flat), Some(begin), Some(size)]).unwrap();
    let idx = g.constant_i32("idx", [3, 2], &[0, 1, 2, 3, 1, 0]);
    let shape = g.constant_i32("dense_shape", [2], &[3, 4]);
    let def = g.constant_f32("default", [], &[0.25]);
    let d = g.add_tensor(Tensor::new("dense", DType::F32, [3u32, 4]));
    g.add_operator(tflite_forge::Operator::new(Op::SparseToDense(Default::default()), &[idx, shape, vals, def], &[d])).unwrap();
    g.output("d", d);
    b.finish_subgraph(g).unwrap();
    b.finish().unwrap()
}

/// SELECT / SELECT_V2, ONE_HOT and SPARSE_TO_DENSE copy stored integers of
/// their data operands (not operand 0) without rescaling: in int8 the data
/// operands and the output share parameters, and the values survive. ONE_HOT and SPARSE_TO_DENSE have no
/// int16 kernel and stay float in 16x8.
#[test]
fn ops_whose_data_are_not_operand_0_share_their_data_parameters() {
    let model = data_operand_model();
    let data = samples(&model, 8, 11);
    let want = Evaluator::new(&model).run(0, &data[0]).unwrap();
    let q = quantize(&model, &QuantizeOptions::int8(IoType::Float), &data).unwrap();
    // The quantizer keeps comparisons in float.
    assert_eq!(q.float_ops.iter().map(|f| f.op.as_str()).collect::<Vec<_>>(), ["GREATER"]);
    let sg = &q.model.subgraphs[0];
    let params = |t: tflite_forge::TensorId| {
        let t = &sg.tensors[t.index()];
        assert_eq!(t.dtype, DType::I8, "{}", t.name);
        t.quantization.clone().unwrap()
    };
    for (name, data_slots) in [("SELECT_V2", &[1usize, 2][..]), ("ONE_HOT", &[2, 3]), ("SPARSE_TO_DENSE", &[2, 3])] {
        let node = sg.operators.iter().find(|o| o.op.name() == name).unwrap_or_else(|| panic!("{name} in the model"));
        let out = params(node.outputs[0]);
        for &k in data_slots {
            assert_eq!(params(node.inputs[k].unwrap()), out, "{name} operand {k}");
        }
    }
    let got = Evaluator::new(&q.model).run(0, &data[0]).unwrap();
    for (g, w) in got.iter().zip(&want) {
        let err = g.data.iter().zip(&w.data).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 0.05, "max error {err}");
    }
    let q16 = quantize(&model, &QuantizeOptions::int16x8(IoType::Float), &data).unwrap();
    let float_ops: Vec<&str> = q16.float_ops.iter().map(|f| f.op.as_str()).collect();
    assert_eq!(float_ops, ["GREATER", "ONE_HOT", "SPARSE_TO_DENSE"]);
    let sel = q16.model.subgraphs[0].operators.iter().find(|o| o.op.name() == "SELECT_V2").unwrap();
    assert_eq!(q16.model.subgraphs[0].tensors[sel.outputs[0].index()].dtype, DType::I16);
}

/// WHERE of a float tensor stays float: LiteRT's int8 WHERE tests stored
/// integers against 0, which is not the value 0 at a nonzero zero point.
#[test]
fn where_stays_float() {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [2, 3]);
    let one = g.constant_f32("one", [1], &[1.0]);
    let s = g.add(x, one).unwrap();
    let w = g.where_true(s).unwrap();
    g.output("w", w);
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let data = samples(&model, 4, 12);
    let q = quantize(&model, &QuantizeOptions::int8(IoType::Float), &data).unwrap();
    let sg = &q.model.subgraphs[0];
    let node = sg.operators.iter().find(|o| o.op.name() == "WHERE").unwrap();
    assert_eq!(sg.tensors[node.inputs[0].unwrap().index()].dtype, DType::F32);
    assert_eq!(q.float_ops.iter().map(|f| f.op.as_str()).collect::<Vec<_>>(), ["WHERE"]);
    assert!(quantize(&model, &QuantizeOptions::int8(IoType::Float).with_integer_only(true), &data).is_err());
}
