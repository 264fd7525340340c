//! Post-training quantization: float16 and full int8 with each I/O type,
//! judged by the reference evaluator here (the conformance suite runs the
//! same models in LiteRT).

mod common;

use common::{resnet_like, Rng};
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::quantize::{calibrate, quantize, report, IoType, QuantizeError, QuantizeOptions};
use tflite_forge::{DType, Dim, Model, ModelBuilder, Op};

fn samples(model: &Model, n: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut r = Rng::new(seed);
    let sg = &model.subgraphs[0];
    (0..n)
        .map(|_| {
            sg.inputs
                .iter()
                .map(|t| {
                    let dims: Vec<usize> = sg.tensors[t.index()].shape.dims().iter().map(|d| d.fixed().unwrap_or(1) as usize).collect();
                    let len = dims.iter().product();
                    Value::from_f32(dims, r.vec(len, 1.0))
                })
                .collect()
        })
        .collect()
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
    let y = g.apply(Op::Exp, &[Some(x)]).unwrap();
    g.output("y", y);
    b.finish_subgraph(g).unwrap();
    let model = b.finish().unwrap();
    let data = vec![vec![Value::from_f32(vec![4], vec![0.0, 1.0, 2.0, 3.0])]];
    match quantize(&model, &QuantizeOptions::int8(IoType::Int8), &data) {
        Err(QuantizeError::Unsupported { operator: 0, op, .. }) => assert_eq!(op, "EXP"),
        other => panic!("{other:?}"),
    }
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
