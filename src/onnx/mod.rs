//! The ONNX front end: ONNX bytes in, a verified TFLite [`Model`] out.
//!
//! The pipeline is import (protobuf → graph, external data) → rewrites of
//! the ONNX graph (`patterns`, batchnorm folding) → lowering (one
//! node at a time through the public [lowering table](table), with constant
//! folding of shape computations, NCHW kept and explicit TRANSPOSEs around
//! layout-bound ops) → passes (transpose sinking and cancellation,
//! activation fusion, dead code) → validation.
//!
//! ```no_run
//! use tflite_forge::onnx::{convert_file, ConvertOptions};
//! let conversion = convert_file("resnet18.onnx", &ConvertOptions::default())?;
//! println!("{}", conversion.report);
//! let bytes = tflite_forge::write(&conversion.model)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
pub(crate) mod import;
mod interface;
pub(crate) mod ir;
pub mod lower;
pub(crate) mod patterns;
pub(crate) mod qdq;
pub mod table;
mod wire;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::{OnnxError, ReasonCode};
pub use lower::{LowerCtx, LowerError, Node};
pub use table::{Lowering, Registry};

use crate::model::Model;

/// Resource limits applied while importing untrusted ONNX bytes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted ONNX file, in bytes.
    pub max_model_bytes: u64,
    /// Most elements in any one tensor.
    pub max_tensor_elements: u64,
    /// Most constant bytes in total (initializers and constants).
    pub max_constant_bytes: u64,
    /// Most nodes in the graph.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_model_bytes: 4 << 30,
            max_tensor_elements: 1 << 32,
            max_constant_bytes: 8 << 30,
            max_nodes: 1_000_000,
        }
    }
}

/// How 4-D image inputs and outputs are laid out in the TFLite model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IoLayout {
    /// NHWC inputs and outputs (TFLite's native layout): no transposes.
    #[default]
    Nhwc,
    /// Keep the ONNX model's NCHW interface (a TRANSPOSE at each such input).
    KeepNchw,
}

/// Options of [`convert`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConvertOptions {
    /// Layout of 4-D inputs and outputs.
    pub layout: IoLayout,
    /// Fix the batch (first) dimension of every input to this size.
    pub batch: Option<u32>,
    /// Fix named symbolic dimensions (`dim_param`) to sizes.
    pub fixed_dims: BTreeMap<String, u32>,
    /// Import limits.
    pub limits: Limits,
    /// The lowering table; `None` uses [`Registry::default`].
    pub registry: Option<Registry>,
    /// Skip the optimisation passes (for debugging: keeps explicit transposes).
    pub no_optimize: bool,
    /// Let an ONNX op that no builtin lowering takes, but that a TensorFlow
    /// op computes exactly, become a select-TF (Flex) op. The app then
    /// needs the Flex delegate; [`Report::flex_ops`] lists them. Off by
    /// default: without it such an op is an [`OnnxError::UnsupportedOnnxOp`].
    pub allow_flex: bool,
}

/// What a conversion did.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// TFLite op counts of the result.
    pub op_histogram: BTreeMap<String, usize>,
    /// ONNX nodes folded into constants (shape computations and the like).
    pub folded_nodes: usize,
    /// BatchNormalization nodes folded into a preceding Conv or Gemm.
    pub folded_batchnorms: usize,
    /// Activations fused into the op before them.
    pub fused_activations: usize,
    /// Multi-node patterns fused into one op (the Erf form of GELU).
    pub fused_patterns: usize,
    /// TRANSPOSE ops removed by the layout pass.
    pub transposes_removed: usize,
    /// The layout of each input and output: `(name, "NHWC")` for an image
    /// given channels-last, `(name, "ONNX")` for one that keeps the ONNX
    /// layout.
    pub io_layouts: Vec<(String, &'static str)>,
    /// Input dimensions that stay dynamic (`-1` in `shape_signature`), as
    /// `input.dim_param` (or `input.dimN` when unnamed).
    pub dynamic_dims: Vec<String>,
    /// Notes about the conversion.
    pub warnings: Vec<String>,
    /// The form each recurrent or control-flow node took, as `(node,
    /// form)`: "unrolled over 8 steps", "WHILE loop", "IF with 2 branch
    /// subgraphs", "inlined (constant condition)" and the like.
    pub node_forms: Vec<(String, String)>,
    /// The select-TF (Flex) ops emitted, as `(node, op)` (only with
    /// [`ConvertOptions::allow_flex`]): the app needs the Flex delegate.
    pub flex_ops: Vec<(String, String)>,
    /// ONNX opset of the default domain.
    pub opset: i64,
    /// Wall time of each phase (import, rewrites, lowering, passes, validation).
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total: usize = self.op_histogram.values().sum();
        writeln!(f, "opset {}, {total} TFLite ops", self.opset)?;
        for (k, v) in &self.op_histogram {
            writeln!(f, "  {k:<24}{v}")?;
        }
        writeln!(
            f,
            "folded {} nodes, {} batchnorms; fused {} activations, {} patterns; removed {} transposes",
            self.folded_nodes, self.folded_batchnorms, self.fused_activations, self.fused_patterns, self.transposes_removed
        )?;
        if !self.io_layouts.is_empty() {
            let v: Vec<String> = self.io_layouts.iter().map(|(n, l)| format!("{n} {l}")).collect();
            writeln!(f, "layout: {}", v.join(", "))?;
        }
        if !self.dynamic_dims.is_empty() {
            writeln!(f, "dynamic dimensions: {}", self.dynamic_dims.join(", "))?;
        }
        if !self.timings.is_empty() {
            let parts: Vec<String> = self.timings.iter().map(|(k, d)| format!("{k} {:.1} ms", d.as_secs_f64() * 1e3)).collect();
            writeln!(f, "phases: {}", parts.join(", "))?;
        }
        for (node, op) in &self.flex_ops {
            writeln!(f, "flex op {op} for node {node} (needs the Flex delegate)")?;
        }
        for (node, form) in &self.node_forms {
            writeln!(f, "node {node}: {form}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// The result of a conversion.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Conversion {
    /// The TFLite model.
    pub model: Model,
    /// What was done.
    pub report: Report,
}

/// Converts ONNX bytes. External data is not available (use [`convert_file`]).
///
/// ```
/// use onnx_protobuf::{tensor_shape_proto as tsp, type_proto, GraphProto, Message, ModelProto, NodeProto};
/// use onnx_protobuf::{OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto};
/// use tflite_forge::onnx::{convert, ConvertOptions};
///
/// // A one-node ONNX model: y = Relu(x), x: float[1, 4].
/// let value = |name: &str| {
///     let mut shape = TensorShapeProto::new();
///     for n in [1, 4] {
///         let mut d = tsp::Dimension::new();
///         d.value = Some(tsp::dimension::Value::DimValue(n));
///         shape.dim.push(d);
///     }
///     let mut t = type_proto::Tensor::new();
///     t.elem_type = 1; // FLOAT
///     t.shape = Some(shape).into();
///     let mut tp = TypeProto::new();
///     tp.value = Some(type_proto::Value::TensorType(t));
///     let mut v = ValueInfoProto::new();
///     v.name = name.into();
///     v.type_ = Some(tp).into();
///     v
/// };
/// let mut node = NodeProto::new();
/// node.op_type = "Relu".into();
/// node.input = vec!["x".into()];
/// node.output = vec!["y".into()];
/// let mut graph = GraphProto::new();
/// graph.name = "g".into();
/// graph.node.push(node);
/// graph.input.push(value("x"));
/// graph.output.push(value("y"));
/// let mut opset = OperatorSetIdProto::new();
/// opset.version = 17;
/// let mut m = ModelProto::new();
/// m.ir_version = 8;
/// m.opset_import.push(opset);
/// m.graph = Some(graph).into();
/// let onnx = m.write_to_bytes()?;
///
/// let conversion = convert(&onnx, &ConvertOptions::default())?;
/// assert_eq!(conversion.model.subgraphs[0].operators[0].op.name(), "RELU");
/// let tflite = tflite_forge::write(&conversion.model)?;
/// # let _ = tflite;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn convert(bytes: &[u8], options: &ConvertOptions) -> Result<Conversion, OnnxError> {
    convert_with_base(bytes, None, options)
}

/// Converts an ONNX file, resolving external data next to it.
///
/// ```
/// use tflite_forge::onnx::{convert_file, ConvertOptions, OnnxError};
/// // A missing file is an I/O error naming the path.
/// let err = convert_file("no/such/model.onnx", &ConvertOptions::default()).unwrap_err();
/// assert!(matches!(err, OnnxError::Io { .. }));
/// assert!(err.to_string().contains("no/such/model.onnx"));
/// ```
pub fn convert_file(path: impl AsRef<Path>, options: &ConvertOptions) -> Result<Conversion, OnnxError> {
    let path = path.as_ref();
    let dir = path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p });
    let t = std::time::Instant::now();
    let graph = import::import_file(path, &import::ExternalBase { dir }, &options.limits)?;
    let mut c = convert_graph(graph, options)?;
    c.report.timings.insert(0, ("import", t.elapsed().saturating_sub(c.report.timings.iter().map(|(_, d)| *d).sum())));
    Ok(c)
}

fn convert_with_base(bytes: &[u8], dir: Option<&Path>, options: &ConvertOptions) -> Result<Conversion, OnnxError> {
    let t = std::time::Instant::now();
    let graph = import::import(bytes, &import::ExternalBase { dir }, &options.limits)?;
    let import_time = t.elapsed();
    let mut c = convert_graph(graph, options)?;
    c.report.timings.insert(0, ("import", import_time));
    Ok(c)
}

fn convert_graph(mut graph: ir::OGraph, options: &ConvertOptions) -> Result<Conversion, OnnxError> {
    let mut report = Report { opset: graph.opset(""), ..Default::default() };
    let mut t = std::time::Instant::now();
    let mut phase = |name: &'static str, report: &mut Report| {
        report.timings.push((name, t.elapsed()));
        t = std::time::Instant::now();
    };
    report.folded_batchnorms = lower::batchnorm::fold_into_producers(&mut graph);
    report.fused_patterns = patterns::fuse_erf_gelu(&mut graph);
    report.fused_patterns += qdq::fuse_qdq(&mut graph);
    phase("rewrites", &mut report);
    let default_registry;
    let registry = match &options.registry {
        Some(r) => r,
        None => {
            default_registry = Registry::default();
            &default_registry
        }
    };
    let mut model = lower::fold::with_fold_limit(options.limits.max_tensor_elements, || lower::lower_graph(&mut graph, registry, options, &mut report))?;
    drop(graph);
    phase("lower", &mut report);
    if !options.no_optimize {
        let stats = crate::passes::optimize(&mut model);
        report.transposes_removed = stats.transposes_removed;
        report.fused_activations = stats.fused_activations;
    }
    phase("passes", &mut report);
    crate::validate::validate(&model)?;
    phase("validate", &mut report);
    report.op_histogram.clear();
    for sg in &model.subgraphs {
        for op in &sg.operators {
            *report.op_histogram.entry(op.op.name().to_string()).or_default() += 1;
        }
    }
    Ok(Conversion { model, report })
}
