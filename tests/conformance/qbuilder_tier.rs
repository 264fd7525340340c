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

use crate::common::int_coverage::{qbuilder_fits, qbuilder_modes, qbuilder_quantize, qbuilder_skips};
use crate::common::Case;
use crate::Outcome;

/// Returns the quantized models it scheduled.
pub fn qbuilder_tier(cases: &[Case], out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) -> Vec<tflite_forge::Model> {
    let mut models = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    let mut ran = 0usize;
    for (k, case) in cases.iter().enumerate() {
        if !qbuilder_fits(case) {
            continue;
        }
        for (mode, opts, qtol) in qbuilder_modes() {
            let name = format!("qbuilder/{mode}/{}", case.name);
            if !selected(&name) {
                continue;
            }
            if qbuilder_skips(case, mode) {
                // int16 activations are symmetric (zero point 0): half the
                // inputs the runner draws are negative, with no defined
                // quantized result.
                outcomes.push(Outcome { name, status: "skipped", detail: "int16 inputs are symmetric; negative ones leave the op's domain".into() });
                continue;
            }
            let q = match qbuilder_quantize(case, k, &opts) {
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
