//! The quantize tier: models quantized by us, run in LiteRT next to their
//! float originals.
//!
//! For each model and mode, LiteRT runs the float and the quantized file on
//! the same held-out samples (integer inputs get them quantized with the
//! input's parameters). The outputs must agree (cosine similarity over all
//! samples), and LiteRT's integer outputs must be within a few quantization
//! steps of our reference evaluator's prediction for the same file.
//! Models: the builders' ResNet-style graph, and torchvision ResNet-18 and
//! MobileNetV2 (exports of the model tier) converted from ONNX.

use std::path::Path;

use serde_json::{json, Value as Json};
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions};
use tflite_forge::quantize::{quantize, IoType, QuantizeOptions};
use tflite_forge::{DType, Dim, Model};

use crate::common::{resnet_like, Rng};
use crate::Outcome;

/// A minimal `.npy` (version 1.0) writer for the sample files.
fn write_npy(path: &Path, v: &Value) -> std::io::Result<()> {
    let (descr, bytes): (&str, Vec<u8>) = match v.dtype {
        DType::I8 => ("|i1", v.data.iter().map(|x| *x as i8 as u8).collect()),
        DType::U8 => ("|u1", v.data.iter().map(|x| *x as u8).collect()),
        _ => ("<f4", v.data.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect()),
    };
    let shape: Vec<String> = v.shape.iter().map(|d| d.to_string()).collect();
    let shape = if shape.len() == 1 { format!("({},)", shape[0]) } else { format!("({})", shape.join(", ")) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&bytes);
    std::fs::write(path, out)
}

fn samples(model: &Model, n: usize, seed: u64, scale: f32) -> Vec<Vec<Value>> {
    let mut r = Rng::new(seed);
    let sg = &model.subgraphs[0];
    (0..n)
        .map(|_| {
            sg.inputs
                .iter()
                .map(|t| {
                    let dims: Vec<usize> = sg.tensors[t.index()].shape.dims().iter().map(|d| d.fixed().unwrap_or(1) as usize).collect();
                    let len = dims.iter().product();
                    Value::from_f32(dims, r.vec(len, scale))
                })
                .collect()
        })
        .collect()
}

struct Subject {
    name: &'static str,
    model: Model,
    calibration: usize,
    held_out: usize,
    min_cosine: f64,
    max_steps: u32,
    modes: Vec<(&'static str, QuantizeOptions)>,
}

fn subjects(root: &Path, outcomes: &mut Vec<Outcome>) -> Vec<Subject> {
    let all = || {
        vec![
            ("int8_float_io", QuantizeOptions::int8(IoType::Float)),
            ("int8_int8_io", QuantizeOptions::int8(IoType::Int8)),
            ("int8_uint8_io", QuantizeOptions::int8(IoType::Uint8)),
            ("float16", QuantizeOptions::float16()),
        ]
    };
    let mut v = vec![Subject {
        name: "resnet_like",
        model: resnet_like(3, Dim::Fixed(1)),
        calibration: 16,
        held_out: 8,
        min_cosine: 0.99,
        max_steps: 1,
        modes: all(),
    }];
    match crate::onnx_tiers::exports(root) {
        Ok(dir) => {
            for (name, file, modes) in [
                ("resnet18", "resnet18.legacy.onnx", vec![("int8_uint8_io", QuantizeOptions::int8(IoType::Uint8))]),
                ("mobilenet_v2", "mobilenet_v2.legacy.onnx", all()),
            ] {
                match std::fs::read(dir.join(file)).map_err(|e| e.to_string()).and_then(|b| {
                    let mut o = ConvertOptions::default();
                    o.batch = Some(1);
                    convert(&b, &o).map_err(|e| e.to_string())
                }) {
                    // Random-weight networks with random inputs: the error
                    // grows by about 1 dB per layer (MobileNetV2 ends near
                    // 16 dB SNR, cosine 0.988, in LiteRT and in our
                    // evaluator alike). Rounding differences between the
                    // kernels' fixed-point arithmetic and our reference add
                    // up over 50+ layers to a few output steps.
                    Ok(c) => v.push(Subject { name, model: c.model, calibration: 3, held_out: 3, min_cosine: 0.98, max_steps: 8, modes }),
                    Err(e) => outcomes.push(Outcome { name: format!("quantize/{name}"), status: "failed", detail: e }),
                }
            }
        }
        Err(e) => outcomes.push(Outcome { name: "quantize/exports".into(), status: "failed", detail: e }),
    }
    v
}

pub fn quantize_tier(root: &Path, out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) {
    if !selected("quantize/") {
        return;
    }
    let dir = out.join("quantize");
    let _ = std::fs::create_dir_all(&dir);
    for s in subjects(root, outcomes) {
        if !s.modes.iter().any(|(m, _)| selected(&format!("quantize/{}/{m}", s.name))) {
            continue;
        }
        let fail = |name: &str, e: String| Outcome { name: name.into(), status: "failed", detail: e };
        let float_path = dir.join(format!("{}.float.tflite", s.name));
        if let Err(e) = tflite_forge::write(&s.model).map_err(|e| e.to_string()).and_then(|b| std::fs::write(&float_path, b).map_err(|e| e.to_string())) {
            outcomes.push(fail(&format!("quantize/{}", s.name), e));
            continue;
        }
        let calibration = samples(&s.model, s.calibration, 11, 1.0);
        let held_out = samples(&s.model, s.held_out, 12, 1.0);
        let mut sample_paths = Vec::new();
        for (i, sample) in held_out.iter().enumerate() {
            let paths: Vec<_> = (0..sample.len()).map(|k| dir.join(format!("{}.sample{i}.in{k}.npy", s.name))).collect();
            for (p, v) in paths.iter().zip(sample) {
                write_npy(p, v).expect("write sample");
            }
            sample_paths.push(paths);
        }
        for (mode, options) in &s.modes {
            let name = format!("quantize/{}/{mode}", s.name);
            if !selected(&name) {
                continue;
            }
            let q = match quantize(&s.model, options, &calibration) {
                Ok(q) => q,
                Err(e) => {
                    outcomes.push(fail(&name, format!("quantize failed: {e}")));
                    continue;
                }
            };
            let path = dir.join(format!("{}.{mode}.tflite", s.name));
            if let Err(e) = tflite_forge::write(&q.model).map_err(|e| e.to_string()).and_then(|b| std::fs::write(&path, b).map_err(|e| e.to_string())) {
                outcomes.push(fail(&name, e));
                continue;
            }
            // Our evaluator's outputs of the quantized file, as its own types.
            let eval = Evaluator::new(&q.model);
            let qsg = &q.model.subgraphs[0];
            let mut ours = Vec::new();
            let mut eval_err = None;
            for (i, sample) in held_out.iter().enumerate() {
                let inputs: Vec<Value> = sample
                    .iter()
                    .zip(&qsg.inputs)
                    .map(|(v, t)| {
                        let t = &qsg.tensors[t.index()];
                        match (&t.quantization, t.dtype) {
                            (Some(qp), DType::I8 | DType::U8) => {
                                let (lo, hi) = if t.dtype == DType::I8 { (-128.0, 127.0) } else { (0.0, 255.0) };
                                let data = v
                                    .data
                                    .iter()
                                    .map(|x| ((*x as f32 / qp.scale[0]).round() as f64 + qp.zero_point[0] as f64).clamp(lo, hi))
                                    .collect();
                                Value::new(t.dtype, v.shape.clone(), data).with_quantization(qp.clone())
                            }
                            _ => v.clone(),
                        }
                    })
                    .collect();
                match eval.run(0, &inputs) {
                    Ok(outs) => {
                        let paths: Vec<_> = (0..outs.len()).map(|k| dir.join(format!("{}.{mode}.sample{i}.ours{k}.npy", s.name))).collect();
                        for (p, v) in paths.iter().zip(&outs) {
                            write_npy(p, v).expect("write ours");
                        }
                        ours.push(paths);
                    }
                    Err(e) => eval_err = Some(e.to_string()),
                }
            }
            if let Some(e) = eval_err {
                outcomes.push(fail(&name, format!("our evaluator failed on the quantized model: {e}")));
                continue;
            }
            if let Some(r) = &q.report {
                println!("{name}: our evaluator: outputs cosine {:.6}, SNR {:.1} dB over {} calibration samples", r.output_cosine, r.output_snr_db, r.samples);
            }
            jobs.push(json!({
                "name": name, "kind": "quantized", "model": path, "float": float_path,
                "samples": sample_paths, "ours": ours,
                "min_cosine": s.min_cosine, "max_steps": s.max_steps, "delegate": "default",
            }));
        }
    }
}
