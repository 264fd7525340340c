//! The dynamic-batch tier (issue 8: "with dynamic batch where the op allows
//! it"): every builder case with an input of rank 2 or more is rewritten by
//! `passes::batch::make_batch_dynamic` (`-1` as the first dimension of its
//! inputs, every shape inferred again) and runs in LiteRT after
//! `resize_tensor_input`, against the NumPy reference of the same file:
//! - at the batch it was built for, which every rewritten case must pass;
//! - at twice that (which keeps even splits and block multiples), when
//!   every output's first dimension is dynamic and the batched inputs share
//!   one batch size. Ops can tie the batch to an operand (a recurrent op's
//!   state tensor, SEGMENT_SUM's ids, GATHER's `batch_dims`): LiteRT's
//!   refusal of the size is then a skip that names LiteRT's check, while a
//!   result that differs from the reference is a failure. Quantized outputs
//!   get twice the case's integer tolerance there (fresh inputs).
//!
//! Cases the pass refuses are counted by reason and listed, not run: an op
//! whose inference rejects the dynamic dimension or that calls subgraphs.
//! Random ops, cases with a signature and cases already resized are left to
//! the builder tier.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value as Json};
use tflite_forge::passes::batch::{make_batch_dynamic, BatchError};

use crate::common::Case;
use crate::Outcome;

pub fn dynbatch_tier(cases: &[Case], out: &Path, selected: &dyn Fn(&str) -> bool, jobs: &mut Vec<Json>, outcomes: &mut Vec<Outcome>) {
    let (mut rewritten, mut wider, mut unbatched) = (0usize, 0usize, 0usize);
    let mut refused: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for case in cases {
        let name = format!("dynbatch/{}", case.name);
        if !selected(&name) || case.random.is_some() || case.signature.is_some() || !case.resize.is_empty() {
            continue;
        }
        let mut model = case.model.clone();
        let report = match make_batch_dynamic(&mut model) {
            Ok(r) => r,
            Err(BatchError::NoBatchedInput) => {
                unbatched += 1;
                continue;
            }
            Err(e) => {
                let op = match &e {
                    BatchError::Operator { op, .. } => op.clone(),
                    _ => "other".into(),
                };
                refused.entry(op).or_default().push(format!("{}: {e}", case.name));
                continue;
            }
        };
        let sg = &case.model.subgraphs[0];
        let original: Vec<(String, Vec<u32>)> = sg
            .inputs
            .iter()
            .map(|t| &sg.tensors[t.0 as usize])
            .filter(|t| report.inputs.contains(&t.name))
            .map(|t| (t.name.clone(), t.shape.as_fixed().unwrap_or_default()))
            .collect();
        if original.iter().any(|(_, s)| s.is_empty()) {
            outcomes.push(Outcome { name, status: "failed", detail: "a batched input had no static shape to resize to".into() });
            continue;
        }
        let path = out.join(format!("{}.tflite", name.replace('/', "__")));
        match tflite_forge::write(&model) {
            Ok(b) => std::fs::write(&path, b).expect("write dynamic-batch case"),
            Err(e) => {
                outcomes.push(Outcome { name, status: "failed", detail: format!("write: {e}") });
                continue;
            }
        }
        rewritten += 1;
        let job = |name: &str, sizes: &[(String, Vec<u32>)]| {
            let resize: serde_json::Map<String, Json> = sizes.iter().map(|(n, s)| (n.clone(), json!(s))).collect();
            json!({
                "name": name, "kind": "numpy", "model": path, "signature": Json::Null,
                "seed": 7, "rtol": case.rtol, "atol": case.atol, "quant_tol": case.quant_tol,
                "resize": Json::Object(resize), "delegate": "default",
            })
        };
        jobs.push(job(&name, &original));
        let batches: std::collections::BTreeSet<u32> = original.iter().map(|(_, s)| s[0]).collect();
        if let Some(why) = case.no_wider_batch {
            outcomes.push(Outcome { name: format!("{name}@batch*2"), status: "skipped", detail: why.into() });
        } else if report.all_outputs_dynamic() && batches.len() == 1 {
            let more: Vec<(String, Vec<u32>)> = original
                .iter()
                .map(|(n, s)| {
                    let mut s = s.clone();
                    s[0] *= 2;
                    (n.clone(), s)
                })
                .collect();
            let mut j = job(&format!("{name}@batch*2"), &more);
            j["litert_may_refuse"] = json!(true);
            // Fresh inputs: a quantized case's tolerance was met on the
            // builder tier's inputs; on new ones a chain of requantizations
            // can round the other way (int8 add → mean → softmax: 3 steps).
            // Twice the case's integer tolerance; float tolerances stay.
            j["quant_tol"] = json!(case.quant_tol * 2);
            jobs.push(j);
            wider += 1;
        }
    }
    if rewritten + unbatched + refused.len() == 0 {
        return;
    }
    let n_refused: usize = refused.values().map(Vec::len).sum();
    println!(
        "dynbatch: {rewritten} cases with a dynamic batch run at their batch, {wider} of them also at twice their batch; {unbatched} have no input of rank >= 2; the pass refused {n_refused} ({})",
        refused.iter().map(|(op, v)| format!("{op}: {}", v.len())).collect::<Vec<_>>().join(", ")
    );
    for r in refused.values().flatten() {
        println!("dynbatch refused {r}");
    }
}
