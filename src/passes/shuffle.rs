//! Channel shuffles (ShuffleNet's `reshape → transpose → reshape` of the
//! channel axis, in NCHW) become one GATHER of the channels, which the
//! transpose pass can carry through any layout.

use super::graph::{perm_of, Uses};
use crate::model::*;

/// The fixed sizes of a tensor's shape, with a dynamic leading batch allowed.
fn dims(sg: &Subgraph, t: TensorId) -> Option<(Dim, Vec<u32>)> {
    let s = &sg.tensors[t.index()].shape;
    let first = s.dim(0)?;
    let rest: Option<Vec<u32>> = s.dims()[1..].iter().map(|d| d.fixed()).collect();
    Some((first, rest?))
}

/// Rewrites every `[N,C,H,W] → [N,g,C/g,H,W] → transpose(0,2,1,3,4) →
/// [N,C,H,W]` chain into `GATHER(x, perm, axis = 1)`. Returns how many.
pub fn channel_shuffles_to_gather(sg: &mut Subgraph) -> usize {
    let mut done = 0;
    loop {
        let uses = Uses::of(sg);
        let mut found = None;
        for op in &sg.operators {
            if !matches!(op.op, Op::Reshape { .. }) {
                continue;
            }
            let (Some(x), a) = (op.input(0), op.outputs[0]) else { continue };
            let single = |t: TensorId| !uses.is_output[t.index()] && uses.consumers[t.index()].len() == 1;
            if !single(a) {
                continue;
            }
            let (ti, _) = uses.consumers[a.index()][0];
            let t_op = &sg.operators[ti];
            if perm_of(sg, t_op).as_deref() != Some(&[0, 2, 1, 3, 4]) {
                continue;
            }
            let b = t_op.outputs[0];
            if !single(b) {
                continue;
            }
            let (ri, _) = uses.consumers[b.index()][0];
            let r_op = &sg.operators[ri];
            if !matches!(r_op.op, Op::Reshape { .. }) {
                continue;
            }
            let y = r_op.outputs[0];
            let (Some((xn, xd)), Some((an, ad)), Some((yn, yd))) = (dims(sg, x), dims(sg, a), dims(sg, y)) else { continue };
            if xd.len() != 3 || ad.len() != 4 || yd != xd || xn != an || an != yn {
                continue;
            }
            let (c, g, cg) = (xd[0], ad[0], ad[1]);
            if g == 0 || cg == 0 || g * cg != c || ad[2..] != xd[1..] {
                continue;
            }
            found = Some((ri, x, y, g as usize, cg as usize));
            break;
        }
        let Some((ri, x, y, g, cg)) = found else { break };
        // y[k] = x[(k % g) · C/g + k / g]
        let idx: Vec<i32> = (0..g * cg).map(|k| ((k % g) * cg + k / g) as i32).collect();
        sg.tensors.push(Tensor::new(format!("{}/shuffle", sg.tensors[y.index()].name), DType::I32, Shape::new([idx.len() as u32])).with_data(ConstData::from_slice(&idx)));
        let it = TensorId(sg.tensors.len() as u32 - 1);
        sg.operators[ri] = Operator::new(Op::Gather(GatherOptions::new(1)), &[x, it], &[y]);
        // The reshape and transpose before it are now dead.
        super::cleanup::remove_dead(sg);
        done += 1;
    }
    done
}
