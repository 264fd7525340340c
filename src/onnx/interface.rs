//! Which 4-D inputs and outputs are images.
//!
//! The channels-last interface ([`IoLayout::Nhwc`]) is for images: 4-D
//! tensors that feed convolutions or pools (inputs), or come from them
//! (outputs), possibly through ops that do not care about the layout
//! (elementwise ops, padding, normalisation, concatenation). Other 4-D
//! values, such as an attention mask or a `[batch, heads, seq, dim]`
//! tensor, keep the ONNX layout: a caller feeding them would never expect
//! NHWC.

use std::collections::{HashMap, HashSet};

use super::ir::OGraph;
use super::IoLayout;

/// Ops that read or write a spatial (NCHW) layout.
const SPATIAL: &[&str] = &[
    "Conv",
    "ConvTranspose",
    "MaxPool",
    "AveragePool",
    "LpPool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "GlobalLpPool",
    "Resize",
    "Upsample",
    "DepthToSpace",
    "SpaceToDepth",
    "InstanceNormalization",
    "LRN",
    "MaxUnpool",
    "RoiAlign",
    "GridSample",
    "DeformConv",
    "QLinearConv",
    "ConvInteger",
];

/// Ops through which a value keeps its layout (same rank, elementwise on
/// positions, or per-channel).
const TRANSPARENT: &[&str] = &[
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Relu", "LeakyRelu", "PRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
    "Clip", "Elu", "Selu", "Celu", "Gelu", "Erf", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Softplus", "Softsign", "Mish", "Identity",
    "Dropout", "Cast", "Pad", "BatchNormalization", "Concat", "Split", "QuantizeLinear", "DequantizeLinear", "Where", "LayerNormalization",
    "GroupNormalization", "Softmax", "LogSoftmax", "ArgMax", "ArgMin",
];

/// The inputs and outputs that get the channels-last interface.
pub(crate) struct ImageIo {
    pub inputs: HashSet<String>,
    pub outputs: HashSet<String>,
}

/// The 4-D inputs and outputs that are images under `layout` (none under
/// [`IoLayout::KeepNchw`]).
pub(crate) fn image_io(g: &OGraph, layout: IoLayout) -> ImageIo {
    let mut io = ImageIo { inputs: HashSet::new(), outputs: HashSet::new() };
    if layout != IoLayout::Nhwc {
        return io;
    }
    let rank4 = |name: &str| g.value(name).and_then(|v| v.shape.as_ref()).is_some_and(|s| s.len() == 4);
    // Intermediate values often have no recorded shape: go on unless the
    // rank is known to differ.
    let maybe4 = |name: &str| g.value(name).and_then(|v| v.shape.as_ref()).is_none_or(|s| s.len() == 4);
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (k, n) in g.nodes.iter().enumerate() {
        for i in n.inputs.iter().filter(|i| !i.is_empty()) {
            consumers.entry(i.as_str()).or_default().push(k);
        }
        for o in n.outputs.iter().filter(|o| !o.is_empty()) {
            producer.insert(o.as_str(), k);
        }
    }
    // The op a node computes: its type in the default domain, the wrapped
    // op of a quantized node made from a QDQ group.
    let op_of = |k: usize| -> Option<&str> {
        let n = &g.nodes[k];
        if n.domain.is_empty() || n.domain == "ai.onnx" {
            return Some(n.op_type.as_str());
        }
        if n.domain == super::patterns::FUSED_DOMAIN && n.op_type == super::qdq::QOP {
            return match n.attr("qdq_op") {
                Some(super::ir::Attr::Str(s)) => Some(s.as_str()),
                _ => None,
            };
        }
        None
    };
    // Forward from each 4-D input through layout-transparent ops.
    for name in g.inputs.iter().filter(|n| rank4(n)) {
        let mut seen = HashSet::new();
        let mut stack = vec![name.as_str()];
        'search: while let Some(v) = stack.pop() {
            for &k in consumers.get(v).into_iter().flatten() {
                if !seen.insert(k) {
                    continue;
                }
                let Some(op) = op_of(k) else { continue };
                if SPATIAL.contains(&op) {
                    io.inputs.insert(name.clone());
                    break 'search;
                }
                if TRANSPARENT.contains(&op) {
                    stack.extend(g.nodes[k].outputs.iter().filter(|o| !o.is_empty() && maybe4(o)).map(String::as_str));
                }
            }
        }
    }
    // Backward from each 4-D output.
    for name in g.outputs.iter().filter(|n| maybe4(n)) {
        let mut seen = HashSet::new();
        let mut stack = vec![name.as_str()];
        'search: while let Some(v) = stack.pop() {
            let Some(&k) = producer.get(v) else { continue };
            if !seen.insert(k) {
                continue;
            }
            let Some(op) = op_of(k) else { continue };
            if SPATIAL.contains(&op) {
                io.outputs.insert(name.clone());
                break 'search;
            }
            if TRANSPARENT.contains(&op) {
                stack.extend(g.nodes[k].inputs.iter().filter(|i| !i.is_empty() && maybe4(i)).map(String::as_str));
            }
        }
    }
    io
}
