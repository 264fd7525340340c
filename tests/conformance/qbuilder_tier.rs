//! The quantized builder tier: every float builder case that our quantizer
//! takes is quantized to full int8 (int8 I/O) and to 16x8 (int16 I/O) and
//! runs in LiteRT against the NumPy reference of the same quantized file,
//! which dequantizes, computes in float and requantizes. This covers each
//! op's int8 and int16 kernels with the parameters our quantizer chooses.
//! Outputs must agree within 2 int8 steps, or within 0.2 % of the int16
//! range (64 steps: LiteRT evaluates int16 transcendentals through lookup
//! tables). Cases the quantizer refuses (an op without a kernel in the
//! mode, control flow) are counted and listed, not run.

use std::path::Path;

use serde_json::{json, Value as Json};
use tflite_forge::eval::Value;
use tflite_forge::quantize::{quantize, IoType, QuantizeOptions};
use tflite_forge::{DType, Dim};

use crate::common::{Case, Rng};
use crate::Outcome;

/// Cases whose op is defined on non-negative inputs only (since float
/// fallback, the quantizer takes them). In int8 they calibrate on
/// non-negative samples, so the input's zero point is −128 and every
/// quantized input the runner draws is non-negative; a negative one would
/// give NaN in float, and NaN has no defined quantized value (LiteRT's
/// QUANTIZE and the reference round it differently). int16 inputs are
/// symmetric, so those cases are skipped.
const NON_NEGATIVE_DOMAIN: &[&str] = &["sqrt", "rsqrt"];

fn fits(c: &Case) -> bool {
    let m = &c.model;
    let Some(sg) = m.subgraphs.first() else { return false };
    m.subgraphs.len() == 1
        && !sg.inputs.is_empty()
        && sg.inputs.iter().chain(&sg.outputs).all(|t| sg.tensor(*t).is_some_and(|t| t.dtype == DType::F32 && t.quantization.is_none()))
}

/// Returns the quantized models it scheduled.
pub fn qbuilder_tier(cases: &[Case], out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) -> Vec<tflite_forge::Model> {
    let mut models = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    let mut ran = 0usize;
    for (k, case) in cases.iter().enumerate() {
        if !fits(case) {
            continue;
        }
        for (mode, opts, qtol) in [
            ("int8", QuantizeOptions::int8(IoType::Int8), 2),
            ("int16", QuantizeOptions::int16x8(IoType::Int16), 64),
        ] {
            let name = format!("qbuilder/{mode}/{}", case.name);
            if !selected(&name) {
                continue;
            }
            if mode == "int16" && NON_NEGATIVE_DOMAIN.contains(&case.name.as_str()) {
                // int16 activations are symmetric (zero point 0): half the
                // inputs the runner draws are negative, with no defined
                // quantized result.
                outcomes.push(Outcome { name, status: "skipped", detail: "int16 inputs are symmetric; negative ones leave the op's domain".into() });
                continue;
            }
            let sg = &case.model.subgraphs[0];
            let mut rng = Rng::new(500 + k as u64);
            let samples: Vec<Vec<Value>> = (0..4)
                .map(|_| {
                    sg.inputs
                        .iter()
                        .filter_map(|t| sg.tensor(*t))
                        .map(|t| {
                            let resized = case.resize.iter().find(|(n, _)| *n == t.name).map(|(_, s)| s.clone());
                            let shape: Vec<usize> = match resized {
                                Some(s) => s.iter().map(|d| *d as usize).collect(),
                                None => t.shape.dims().iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { 1 }).collect(),
                            };
                            let n = shape.iter().product();
                            let mut v = rng.vec(n, 2.0);
                            if NON_NEGATIVE_DOMAIN.contains(&case.name.as_str()) {
                                v.iter_mut().for_each(|x| *x = x.abs());
                            }
                            Value::from_f32(shape, v)
                        })
                        .collect()
                })
                .collect();
            let q = match quantize(&case.model, &opts, &samples) {
                Ok(q) => q,
                Err(e) => {
                    refused.push(format!("{mode}/{}: {e}", case.name));
                    continue;
                }
            };
            let path = out.join(format!("{}.tflite", name.replace('/', "__")));
            match tflite_forge::write(&q.model) {
                Ok(b) => std::fs::write(&path, b).expect("write quantized case"),
                Err(e) => {
                    outcomes.push(Outcome { name, status: "failed", detail: format!("write: {e}") });
                    continue;
                }
            }
            let resize: serde_json::Map<String, Json> = case.resize.iter().map(|(n, s)| (n.clone(), json!(s))).collect();
            jobs.push(json!({
                "name": name, "kind": "numpy", "model": path, "signature": Json::Null,
                "seed": 7, "rtol": case.rtol, "atol": case.atol, "quant_tol": qtol,
                "resize": if resize.is_empty() { Json::Null } else { Json::Object(resize) },
                "delegate": "none",
            }));
            ran += 1;
            models.push(q.model);
        }
    }
    if ran + refused.len() > 0 {
        println!("qbuilder: {ran} quantized cases run; the quantizer refused {}", refused.len());
        for r in &refused {
            println!("qbuilder refused {r}");
        }
    }
    models
}
