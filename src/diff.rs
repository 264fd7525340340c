//! Structural difference of two models: ops (type, version, options,
//! wiring), tensors (name, dtype, shape, quantization, constant data by
//! hash), signatures, metadata entries and packed files.
//!
//! Subgraphs, tensors and ops are matched by index: the diff of a model and
//! a copy with one op changed names that op.
//!
//! ```
//! use tflite_forge::{DType, ModelBuilder};
//! let build = |relu6: bool| {
//!     let mut b = ModelBuilder::new();
//!     let mut g = b.subgraph("main");
//!     let x = g.input("x", DType::F32, [1, 4]);
//!     let y = if relu6 { g.relu6(x).unwrap() } else { g.relu(x).unwrap() };
//!     g.output("y", y);
//!     b.finish_subgraph(g).unwrap();
//!     b.finish().unwrap()
//! };
//! let (a, b) = (build(false), build(true));
//! assert!(tflite_forge::diff::diff(&a, &a).is_empty());
//! let d = tflite_forge::diff::diff(&a, &b);
//! assert!(d.iter().any(|c| c.place.contains("op 0 RELU")), "{d:?}");
//! ```

use crate::model::{ConstData, Model, Operator, Subgraph, Tensor};

/// One difference between model A and model B.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Difference {
    /// Where: `"subgraph 0 op 3 CONV_2D"`, `"subgraph 0 tensor 7 \"w\""`,
    /// `"metadata \"min_runtime_version\""` and the like.
    pub place: String,
    /// What differs there: `"op"`, `"version"`, `"shape"`, `"data"`, ...
    pub field: String,
    /// The value in A (`"(none)"` when A lacks it).
    pub a: String,
    /// The value in B (`"(none)"` when B lacks it).
    pub b: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {} -> {}", self.place, self.field, self.a, self.b)
    }
}

/// FNV-1a 64 of the bytes, as 16 hex digits: the "hash" of constant data.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

const NONE: &str = "(none)";

/// Longest value text kept in a [`Difference`].
const MAX_TEXT: usize = 160;

fn short(s: String) -> String {
    if s.chars().count() <= MAX_TEXT { s } else { s.chars().take(MAX_TEXT).collect::<String>() + "..." }
}

struct Out(Vec<Difference>);

impl Out {
    fn cmp<T: PartialEq + std::fmt::Debug>(&mut self, place: &dyn Fn() -> String, field: &str, a: &T, b: &T) {
        if a != b {
            self.0.push(Difference { place: place(), field: field.into(), a: short(format!("{a:?}")), b: short(format!("{b:?}")) });
        }
    }
    fn count(&mut self, place: &str, field: &str, a: usize, b: usize) {
        if a != b {
            self.0.push(Difference { place: place.into(), field: field.into(), a: a.to_string(), b: b.to_string() });
        }
    }
}

fn data_text(d: &Option<ConstData>) -> String {
    match d {
        Some(d) => format!("{} bytes, hash {}", d.len(), content_hash(d.as_bytes())),
        None => NONE.into(),
    }
}

fn tensor_diff(out: &mut Out, si: usize, i: usize, a: &Tensor, b: &Tensor) {
    let place = || format!("subgraph {si} tensor {i} {:?}", a.name);
    out.cmp(&place, "name", &a.name, &b.name);
    out.cmp(&place, "dtype", &a.dtype, &b.dtype);
    if a.shape != b.shape {
        out.0.push(Difference { place: place(), field: "shape".into(), a: a.shape.to_string(), b: b.shape.to_string() });
    }
    out.cmp(&place, "quantization", &a.quantization, &b.quantization);
    out.cmp(&place, "is_variable", &a.is_variable, &b.is_variable);
    out.cmp(&place, "sparsity", &a.sparsity, &b.sparsity);
    let same_data = match (&a.data, &b.data) {
        (Some(x), Some(y)) => x.as_bytes() == y.as_bytes(),
        (None, None) => true,
        _ => false,
    };
    if !same_data {
        out.0.push(Difference { place: place(), field: "data".into(), a: data_text(&a.data), b: data_text(&b.data) });
    }
}

fn op_diff(out: &mut Out, si: usize, i: usize, (sa, a): (&Subgraph, &Operator), (sb, b): (&Subgraph, &Operator)) {
    let place = || format!("subgraph {si} op {i} {}", a.op.name());
    if a.op.name() != b.op.name() {
        out.0.push(Difference { place: place(), field: "op".into(), a: a.op.name().into(), b: b.op.name().into() });
    } else {
        out.cmp(&place, "options", &a.op, &b.op);
    }
    out.cmp(&place, "version", &crate::version::op_version(sa, a), &crate::version::op_version(sb, b));
    out.cmp(&place, "inputs", &a.inputs, &b.inputs);
    out.cmp(&place, "outputs", &a.outputs, &b.outputs);
    out.cmp(&place, "intermediates", &a.intermediates, &b.intermediates);
}

fn md(m: &Model) -> Vec<(&str, &ConstData)> {
    m.metadata.iter().map(|e| (e.name.as_str(), &e.data)).collect()
}

fn files(m: &Model) -> Vec<(&str, &ConstData)> {
    m.associated_files.iter().map(|e| (e.name.as_str(), &e.data)).collect()
}

/// Every difference between `a` and `b`, in a stable order (model fields,
/// then subgraph by subgraph: io, tensors, ops; then signatures, metadata
/// and packed files). Empty when the models are structurally equal.
pub fn diff(a: &Model, b: &Model) -> Vec<Difference> {
    let mut out = Out(Vec::new());
    out.cmp(&|| "model".into(), "description", &a.description, &b.description);
    out.count("model", "subgraphs", a.subgraphs.len(), b.subgraphs.len());
    for (si, (ga, gb)) in a.subgraphs.iter().zip(&b.subgraphs).enumerate() {
        let place = || format!("subgraph {si} {:?}", ga.name);
        out.cmp(&place, "name", &ga.name, &gb.name);
        out.cmp(&place, "inputs", &ga.inputs, &gb.inputs);
        out.cmp(&place, "outputs", &ga.outputs, &gb.outputs);
        out.count(&place(), "tensors", ga.tensors.len(), gb.tensors.len());
        for (i, (ta, tb)) in ga.tensors.iter().zip(&gb.tensors).enumerate() {
            tensor_diff(&mut out, si, i, ta, tb);
        }
        out.count(&place(), "ops", ga.operators.len(), gb.operators.len());
        for (i, (oa, ob)) in ga.operators.iter().zip(&gb.operators).enumerate() {
            op_diff(&mut out, si, i, (ga, oa), (gb, ob));
        }
    }
    out.count("model", "signatures", a.signatures.len(), b.signatures.len());
    for (sa, sb) in a.signatures.iter().zip(&b.signatures) {
        out.cmp(&|| format!("signature {:?}", sa.key), "definition", sa, sb);
    }
    let names = |v: Vec<(&str, &ConstData)>, w: Vec<(&str, &ConstData)>, kind: &str, out: &mut Out| {
        let mut all: Vec<&str> = v.iter().chain(&w).map(|(n, _)| *n).collect();
        all.sort_unstable();
        all.dedup();
        for n in all {
            let find = |l: &[(&str, &ConstData)]| l.iter().find(|(m, _)| *m == n).map(|(_, d)| (*d).clone());
            let (x, y) = (find(&v), find(&w));
            let same = match (&x, &y) {
                (Some(x), Some(y)) => x.as_bytes() == y.as_bytes(),
                _ => false,
            };
            if !same {
                out.0.push(Difference { place: format!("{kind} {n:?}"), field: "data".into(), a: data_text(&x), b: data_text(&y) });
            }
        }
    };
    names(md(a), md(b), "metadata", &mut out);
    names(files(a), files(b), "packed file", &mut out);
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, ModelBuilder};

    fn model(w0: f32, relu6: bool) -> Model {
        let mut b = ModelBuilder::new();
        let mut g = b.subgraph("main");
        let x = g.input("x", DType::F32, [1, 2]);
        let w = g.constant_f32("w", [2, 2], &[w0, 1.0, 2.0, 3.0]);
        let y = g.fully_connected(x, w, None, Default::default()).unwrap();
        let z = if relu6 { g.relu6(y).unwrap() } else { g.relu(y).unwrap() };
        g.output("z", z);
        b.finish_subgraph(g).unwrap();
        b.finish().unwrap()
    }

    #[test]
    fn equal_models_have_no_difference_and_changes_are_named() {
        assert_eq!(diff(&model(0.0, false), &model(0.0, false)), vec![]);
        let d = diff(&model(0.0, false), &model(0.5, false));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].place.as_str(), d[0].field.as_str()), ("subgraph 0 tensor 1 \"w\"", "data"));
        assert_ne!(d[0].a, d[0].b);
        let d = diff(&model(0.0, false), &model(0.0, true));
        assert!(d.iter().any(|c| c.place == "subgraph 0 op 1 RELU" && c.field == "op" && c.b == "RELU6"), "{d:?}");
        let mut m = model(0.0, false);
        m.metadata.push(crate::model::Metadata { name: "k".into(), data: ConstData::from_bytes(b"v".to_vec()) });
        let d = diff(&model(0.0, false), &m);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].place.as_str(), d[0].a.as_str()), ("metadata \"k\"", NONE));
    }
}
