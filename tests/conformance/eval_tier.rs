//! The evaluator tier: our reference evaluator against LiteRT on the
//! builder tier's float cases. For each builder case whose graph inputs and
//! outputs are all unquantized and whose inputs are float32, the evaluator
//! runs on random inputs, and LiteRT must give the same outputs on them:
//! max |diff| ≤ 1e-5 × max |ours| for floats (at least 1e-6), exact for
//! integers and bools.

use std::path::Path;

use serde_json::{json, Value as Json};
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::{DType, Dim, Model};

use crate::common::{Case, Rng};
use crate::npy::npy_bytes;
use crate::Outcome;

fn npy_of(v: &Value) -> Option<Vec<u8>> {
    let shape = v.shape.clone();
    let (descr, data): (&str, Vec<u8>) = match v.dtype {
        DType::F32 => ("<f4", v.data.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect()),
        DType::I32 => ("<i4", v.data.iter().flat_map(|x| (*x as i32).to_le_bytes()).collect()),
        DType::I64 => ("<i8", v.data.iter().flat_map(|x| (*x as i64).to_le_bytes()).collect()),
        DType::Bool => ("|b1", v.data.iter().map(|x| u8::from(*x != 0.0)).collect()),
        DType::U8 => ("|u1", v.data.iter().map(|x| *x as u8).collect()),
        DType::I8 => ("|i1", v.data.iter().map(|x| (*x as i8) as u8).collect()),
        DType::I16 => ("<i2", v.data.iter().flat_map(|x| (*x as i16).to_le_bytes()).collect()),
        // Interleaved (real, imaginary) float32 parts, as NumPy stores them.
        DType::Complex64 => ("<c8", v.data.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect()),
        _ => return None,
    };
    Some(npy_bytes(descr, &shape, &data))
}

/// Whether the case fits the tier: float32 inputs, unquantized I/O, one
/// subgraph signature-free run.
fn fits(m: &Model) -> bool {
    let Some(sg) = m.subgraphs.first() else { return false };
    let io_ok = sg.inputs.iter().chain(&sg.outputs).all(|t| sg.tensor(*t).is_some_and(|t| t.quantization.is_none()));
    let inputs_f32 = sg.inputs.iter().all(|t| sg.tensor(*t).is_some_and(|t| t.dtype == DType::F32));
    io_ok && inputs_f32 && !sg.inputs.is_empty()
}

pub fn eval_tier(cases: &[Case], out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) {
    for (k, case) in cases.iter().enumerate() {
        let name = format!("eval/{}", case.name);
        if !selected(&name) || !fits(&case.model) {
            continue;
        }
        if let Some(why) = case.no_eval {
            outcomes.push(Outcome { name, status: "skipped", detail: why.into() });
            continue;
        }
        let sg = &case.model.subgraphs[0];
        let mut rng = Rng::new(1000 + k as u64);
        let mut inputs = Vec::new();
        let mut in_paths = Vec::new();
        for (i, t) in sg.inputs.iter().enumerate() {
            let Some(t) = sg.tensor(*t) else { continue };
            let resized = case.resize.iter().find(|(n, _)| *n == t.name).map(|(_, s)| s.clone());
            let shape: Vec<usize> = match resized {
                Some(s) => s.iter().map(|d| *d as usize).collect(),
                None => t.shape.dims().iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { 1 }).collect(),
            };
            let n: usize = shape.iter().product();
            let v = Value::from_f32(shape.clone(), rng.vec(n, 2.0));
            let path = out.join(format!("{}__in{i}.npy", name.replace('/', "__")));
            if let Some(bytes) = npy_of(&v) {
                std::fs::write(&path, bytes).expect("write input npy");
            }
            in_paths.push(path);
            inputs.push(v);
        }
        let result = Evaluator::new(&case.model).run(0, &inputs);
        let outs = match result {
            Ok(o) => o,
            Err(e) => {
                outcomes.push(Outcome { name, status: "failed", detail: format!("our evaluator failed: {e}") });
                continue;
            }
        };
        let mut out_paths = Vec::new();
        let mut max_ref = 0f64;
        let mut ok = true;
        for (i, v) in outs.iter().enumerate() {
            let Some(bytes) = npy_of(v) else {
                ok = false;
                break;
            };
            max_ref = v.data.iter().filter(|x| x.is_finite()).fold(max_ref, |m, x| m.max(x.abs()));
            let path = out.join(format!("{}__out{i}.npy", name.replace('/', "__")));
            std::fs::write(&path, bytes).expect("write output npy");
            out_paths.push(path);
        }
        if !ok {
            outcomes.push(Outcome { name, status: "failed", detail: "an output type has no .npy form here".into() });
            continue;
        }
        let model_path = out.join(format!("{}.tflite", name.replace('/', "__")));
        match tflite_forge::write(&case.model) {
            Ok(bytes) => std::fs::write(&model_path, bytes).expect("write model"),
            Err(e) => {
                outcomes.push(Outcome { name, status: "failed", detail: format!("write failed: {e}") });
                continue;
            }
        }
        jobs.push(json!({
            "name": name, "kind": "expected", "model": model_path,
            "inputs": in_paths, "outputs": out_paths,
            "rtol": 0.0, "atol": (1e-5 * max_ref).max(1e-6), "quant_tol": 0,
            "resize": true, "delegate": "none",
        }));
    }
}
