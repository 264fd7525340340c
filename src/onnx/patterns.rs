//! Graph-level rewrites on the ONNX graph before lowering: the Erf form of
//! GELU that torch's legacy exporter writes becomes one fused `Gelu` node.

use crate::onnx::ir::{Attr, OGraph, ONode};

/// The domain of nodes fused by these rewrites.
pub const FUSED_DOMAIN: &str = "tflite_forge";

/// The value of a one-element constant: an initializer, or the output of a
/// `Constant` node (as torch's legacy exporter writes them).
fn scalar(g: &OGraph, name: &str) -> Option<f64> {
    if let Some(d) = g.constant(name) {
        return (d.len() == 1).then(|| d.to_f64().and_then(|v| v.first().copied())).flatten();
    }
    let n = g.nodes.iter().find(|n| n.op_type == "Constant" && n.domain.is_empty() && n.outputs.first().is_some_and(|o| o == name))?;
    match n.attrs.first().map(|(k, a)| (k.as_str(), a)) {
        Some(("value", Attr::Tensor(d))) if d.len() == 1 => d.to_f64().and_then(|v| v.first().copied()),
        Some(("value_float", Attr::Float(f))) => Some(f64::from(*f)),
        Some(("value_int", Attr::Int(i))) => Some(*i as f64),
        _ => None,
    }
}

fn single_consumer(g: &OGraph, value: &str) -> Option<usize> {
    if g.outputs.iter().any(|o| o == value) {
        return None;
    }
    let mut it = g.nodes.iter().enumerate().filter(|(_, n)| n.inputs.iter().any(|i| i == value));
    let first = it.next()?;
    it.next().is_none().then_some(first.0)
}

/// The other input of a two-input node, given one of them.
fn other<'a>(n: &'a ONode, one: &str) -> Option<&'a str> {
    match (n.inputs.first(), n.inputs.get(1)) {
        (Some(a), Some(b)) if a == one => Some(b),
        (Some(a), Some(b)) if b == one => Some(a),
        _ => None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * b.abs()
}

/// Rewrites `x · 0.5 · (1 + erf(x / √2))` (in torch's operand orders) into a
/// fused Gelu node. Returns how many.
pub(crate) fn fuse_erf_gelu(g: &mut OGraph) -> usize {
    let mut fused = 0;
    loop {
        let mut found = None;
        for (ei, e) in g.nodes.iter().enumerate() {
            if e.op_type != "Erf" || !e.domain.is_empty() {
                continue;
            }
            let Some(d) = e.inputs.first() else { continue };
            // x / √2 or x · (1/√2)
            let Some(di) = g.nodes.iter().position(|n| n.outputs.first() == Some(d)) else { continue };
            let dn = &g.nodes[di];
            let x = match (dn.op_type.as_str(), dn.inputs.first(), dn.inputs.get(1)) {
                ("Div", Some(x), Some(c)) if scalar(g, c).is_some_and(|v| close(v, std::f64::consts::SQRT_2)) => x.clone(),
                ("Mul", Some(x), Some(c)) if scalar(g, c).is_some_and(|v| close(v, std::f64::consts::FRAC_1_SQRT_2)) => x.clone(),
                ("Mul", Some(c), Some(x)) if scalar(g, c).is_some_and(|v| close(v, std::f64::consts::FRAC_1_SQRT_2)) => x.clone(),
                _ => continue,
            };
            if single_consumer(g, d).is_none() {
                continue;
            }
            let Some(ai) = single_consumer(g, &e.outputs[0]) else { continue };
            let an = &g.nodes[ai];
            if an.op_type != "Add" || !other(an, &e.outputs[0]).and_then(|c| scalar(g, c)).is_some_and(|v| close(v, 1.0)) {
                continue;
            }
            let Some(m1) = single_consumer(g, &an.outputs[0]) else { continue };
            let mn = &g.nodes[m1];
            if mn.op_type != "Mul" {
                continue;
            }
            // Either (x · (1 + erf)) · 0.5, or x · ((1 + erf) · 0.5).
            let (half_node, last) = if other(mn, &an.outputs[0]) == Some(x.as_str()) {
                let Some(m2) = single_consumer(g, &mn.outputs[0]) else { continue };
                (m2, m2)
            } else if other(mn, &an.outputs[0]).and_then(|c| scalar(g, c)).is_some_and(|v| close(v, 0.5)) {
                let Some(m2) = single_consumer(g, &mn.outputs[0]) else { continue };
                if other(&g.nodes[m2], &mn.outputs[0]) != Some(x.as_str()) || g.nodes[m2].op_type != "Mul" {
                    continue;
                }
                found = Some((vec![di, ei, ai, m1, m2], x, g.nodes[m2].outputs[0].clone()));
                break;
            } else {
                continue;
            };
            let hn = &g.nodes[half_node];
            if hn.op_type != "Mul" || !other(hn, &mn.outputs[0]).and_then(|c| scalar(g, c)).is_some_and(|v| close(v, 0.5)) {
                continue;
            }
            found = Some((vec![di, ei, ai, m1, last], x, hn.outputs[0].clone()));
            break;
        }
        let Some((mut idx, x, y)) = found else { break };
        let at = *idx.iter().max().unwrap_or(&0);
        let node = ONode {
            name: format!("{}/gelu", g.nodes[at].label()),
            op_type: "Gelu".into(),
            domain: FUSED_DOMAIN.into(),
            inputs: vec![x],
            outputs: vec![y],
            attrs: vec![("approximate".into(), Attr::Str("none".into()))],
            implicit: vec![],
        };
        g.nodes[at] = node;
        idx.retain(|i| *i != at);
        idx.sort_unstable_by(|a, b| b.cmp(a));
        for i in idx {
            g.nodes.remove(i);
        }
        fused += 1;
    }
    fused
}
