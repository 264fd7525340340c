//! Builder-tier cases of the detection ops: NON_MAX_SUPPRESSION_V4 (hard)
//! and NON_MAX_SUPPRESSION_V5 (soft), boxes and scores as graph inputs.

use super::*;

fn nms_case(name: &str, soft: bool, max_out: i32, iou: f32, score: f32, sigma: f32) -> Case {
    let m = model_of(|g| {
        let boxes = g.input("boxes", DType::F32, [12, 4]);
        let scores = g.input("scores", DType::F32, [12]);
        let max = g.constant_i32("max_output_size", [], &[max_out]);
        let iou = g.constant_f32("iou_threshold", [], &[iou]);
        let thr = g.constant_f32("score_threshold", [], &[score]);
        let mut ins = vec![Some(boxes), Some(scores), Some(max), Some(iou), Some(thr)];
        let outs = if soft {
            ins.push(Some(g.constant_f32("soft_nms_sigma", [], &[sigma])));
            g.non_max_suppression_v5(&ins)?
        } else {
            g.non_max_suppression_v4(&ins)?
        };
        for (k, o) in outs.iter().enumerate() {
            g.output(&format!("out{k}"), *o);
        }
        Ok(())
    });
    Case::new(name, m)
}

/// The cases.
pub fn cases() -> Vec<Case> {
    vec![
        nms_case("non_max_suppression_v4/f32", false, 6, 0.3, -0.5, 0.0),
        nms_case("non_max_suppression_v4/all_below_threshold", false, 4, 0.5, 5.0, 0.0),
        nms_case("non_max_suppression_v5/soft", true, 6, 0.6, -0.8, 0.5),
    ]
}
