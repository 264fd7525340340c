//! Delegate compatibility: which operators XNNPACK, the GPU delegate and
//! Core ML take, and why not when they don't.
//!
//! [`report`] walks every operator of every subgraph (control-flow bodies
//! included) and asks each delegate's rule table whether it takes the
//! operator. A "no" comes with a typed [`Reason`]: the op is not supported,
//! its version is too high, a tensor has the wrong type or rank, an input
//! that must be constant is not, or an option (fused activation, stride,
//! `keep_dims`, ...) is out of range. Per delegate, the [`DelegateSummary`]
//! counts the operators taken, the share of multiply-accumulates taken
//! (see [`macs`]) and the partitions the delegate would form.
//!
//! The rules are tables of data, one entry per builtin op per delegate,
//! each citing the LiteRT source it follows:
//!
//! - XNNPACK: `tflite/delegates/xnnpack/xnnpack_delegate.cc` (the `Visit*Node`
//!   functions and `PrepareOpsToDelegate`). Its build options are an
//!   [`XnnpackProfile`]; the default is what the `ai-edge-litert` wheel's
//!   default delegate does, as observed by the conformance harness.
//! - GPU: `tflite/tools/versioning/gpu_compatibility.cc`
//!   (`CheckGpuDelegateCompatibility`).
//! - Core ML: `tflite/delegates/coreml/coreml_delegate.mm`
//!   (`IsNodeSupportedByDelegate`) and the validators of
//!   `tflite/delegates/coreml/builders/`.
//!
//! Partitions follow TFLite's `PartitionGraphIntoIndependentNodeSubsets`
//! (`tflite/graph_info.cc`, called by `GraphPartitionHelper` in
//! `tflite/delegates/utils.cc`): nodes are grouped greedily in dataflow
//! order into alternating delegated and non-delegated subsets. Known
//! approximations:
//!
//! - control edges between stateful ops are not modelled;
//! - the GPU and Core ML delegates further keep only their largest
//!   partitions (`max_delegated_partitions`, `min_nodes_per_partition`);
//!   the count here is before that choice;
//! - the GPU delegate's own model builder checks more than
//!   `gpu_compatibility.cc` (e.g. tensor types), and the Core ML delegate
//!   only runs on Apple devices: those two verdicts are the offline
//!   checks, not observed on a device.
//!
//! ```
//! use tflite_forge::{delegate, DType, GatherOptions, ModelBuilder};
//! use tflite_forge::delegate::{Delegate, Reason};
//!
//! let mut b = ModelBuilder::new();
//! let mut g = b.subgraph("main");
//! let x = g.input("x", DType::F32, [5, 3]);
//! let idx = g.constant_i32("idx", [2], &[4, 0]);
//! let y = g.gather(x, idx, GatherOptions::new(0)).unwrap();
//! let z = g.relu(y).unwrap();
//! g.output("z", z);
//! b.finish_subgraph(g).unwrap();
//! let model = b.finish().unwrap();
//!
//! let report = delegate::report(&model);
//! let gather = &report.ops[0];
//! // XNNPACK has no GATHER; the GPU delegate takes it with constant indices.
//! assert_eq!(gather.verdict(Delegate::Xnnpack).reason, Some(Reason::OpNotSupported));
//! assert!(gather.verdict(Delegate::Gpu).is_supported());
//! assert_eq!(report.summary(Delegate::Xnnpack).ops_taken, 1);
//! assert_eq!(report.summary(Delegate::Gpu).partitions, 1);
//! println!("{report}");
//! ```

mod context;
mod coreml;
mod cost;
mod gpu;
mod partition;
mod reason;
mod render;
mod xnnpack;

use crate::model::Model;

pub use cost::{macs, params};
pub use reason::{Reason, TensorRef};

use context::Node;

/// A delegate the report judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Delegate {
    /// The XNNPACK CPU delegate (the interpreter's default delegate).
    Xnnpack,
    /// The GPU delegate (OpenCL / OpenGL / Metal).
    Gpu,
    /// The Core ML delegate (Apple Neural Engine / GPU).
    CoreMl,
}

impl Delegate {
    /// All delegates, in report order.
    pub const ALL: [Delegate; 3] = [Delegate::Xnnpack, Delegate::Gpu, Delegate::CoreMl];

    /// A short name: `xnnpack`, `gpu`, `coreml`.
    pub fn name(self) -> &'static str {
        match self {
            Delegate::Xnnpack => "xnnpack",
            Delegate::Gpu => "gpu",
            Delegate::CoreMl => "coreml",
        }
    }
}

impl std::fmt::Display for Delegate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The build options of an XNNPACK delegate, which decide what it takes.
///
/// The default is the `ai-edge-litert` wheel's default delegate as the
/// conformance harness observes it (`tests/conformance/delegate_tier.rs`):
/// signed and unsigned 8-bit quantized operators on, dynamically shaped
/// fully connected weights off, resource variables on (the snapshot's
/// `support_variable_ops` is always true; the flag is deprecated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct XnnpackProfile {
    /// Int8 quantized operators (`TFLITE_XNNPACK_DELEGATE_FLAG_QS8`).
    pub qs8: bool,
    /// Uint8 quantized operators (`TFLITE_XNNPACK_DELEGATE_FLAG_QU8`).
    pub qu8: bool,
    /// Non-constant float32 weights of `FULLY_CONNECTED`
    /// (`TFLITE_XNNPACK_DELEGATE_FLAG_ENABLE_LATEST_OPERATORS`).
    pub dynamic_fully_connected: bool,
    /// `VAR_HANDLE`, `READ_VARIABLE` and `ASSIGN_VARIABLE`
    /// (`TFLITE_XNNPACK_DELEGATE_FLAG_VARIABLE_OPERATORS`).
    pub variable_ops: bool,
}

impl Default for XnnpackProfile {
    fn default() -> Self {
        XnnpackProfile { qs8: true, qu8: true, dynamic_fully_connected: false, variable_ops: true }
    }
}

/// Options of [`report_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ReportOptions {
    /// The XNNPACK build judged.
    pub xnnpack: XnnpackProfile,
    /// The Core ML version targeted (2 or 3; the delegate's default is 3,
    /// under which `RESHAPE` is not delegated).
    pub coreml_version: u8,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { xnnpack: XnnpackProfile::default(), coreml_version: 3 }
    }
}

/// One delegate's answer for one operator.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Verdict {
    /// The delegate.
    pub delegate: Delegate,
    /// `None` when the delegate takes the operator, else why not.
    pub reason: Option<Reason>,
}

impl Verdict {
    /// Whether the delegate takes the operator.
    pub fn is_supported(&self) -> bool {
        self.reason.is_none()
    }
}

/// The report for one operator.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpReport {
    /// Subgraph index.
    pub subgraph: usize,
    /// Operator index within the subgraph (execution order).
    pub index: usize,
    /// The op's schema name (`CONV_2D`) or custom name.
    pub name: String,
    /// The builtin code (32 for custom ops).
    pub code: i32,
    /// The op version the writer records.
    pub version: i32,
    /// Multiply-accumulates per invocation (see [`macs`]).
    pub macs: u64,
    /// Parameters: elements of constant weight and bias inputs (see [`params`]).
    pub params: u64,
    /// One verdict per delegate, in [`Delegate::ALL`] order.
    pub verdicts: Vec<Verdict>,
}

impl OpReport {
    /// The verdict of `delegate`.
    pub fn verdict(&self, delegate: Delegate) -> &Verdict {
        // `verdicts` always holds one entry per delegate in ALL order.
        let i = Delegate::ALL.iter().position(|d| *d == delegate).unwrap_or(0);
        &self.verdicts[i]
    }
}

/// One delegate's totals over the model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DelegateSummary {
    /// The delegate.
    pub delegate: Delegate,
    /// Operators taken.
    pub ops_taken: usize,
    /// Operators in the model (all subgraphs).
    pub ops_total: usize,
    /// Multiply-accumulates of the operators taken.
    pub macs_taken: u64,
    /// Multiply-accumulates of all operators.
    pub macs_total: u64,
    /// Delegated partitions over all subgraphs.
    pub partitions: usize,
    /// Delegated partitions per subgraph.
    pub partitions_per_subgraph: Vec<usize>,
}

impl DelegateSummary {
    /// The share of multiply-accumulates taken, in `[0, 1]` (1 when the
    /// model has none).
    pub fn macs_share(&self) -> f64 {
        if self.macs_total == 0 {
            1.0
        } else {
            self.macs_taken as f64 / self.macs_total as f64
        }
    }
}

/// The delegate-compatibility report of a model. `Display` renders it as
/// text (one line per operator, then one summary line per delegate).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// Every operator of every subgraph, by subgraph then execution order.
    pub ops: Vec<OpReport>,
    /// One summary per delegate, in [`Delegate::ALL`] order.
    pub summaries: Vec<DelegateSummary>,
}

impl Report {
    /// The summary of `delegate`.
    pub fn summary(&self, delegate: Delegate) -> &DelegateSummary {
        let i = Delegate::ALL.iter().position(|d| *d == delegate).unwrap_or(0);
        &self.summaries[i]
    }

    /// The `(subgraph, operator)` indices `delegate` takes.
    pub fn taken(&self, delegate: Delegate) -> Vec<(usize, usize)> {
        self.ops.iter().filter(|o| o.verdict(delegate).is_supported()).map(|o| (o.subgraph, o.index)).collect()
    }
}

/// The report with the default [`ReportOptions`].
///
/// ```
/// use tflite_forge::{delegate, DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [1, 4]);
/// let y = g.relu(x).unwrap();
/// g.output("y", y);
/// b.finish_subgraph(g).unwrap();
/// let r = delegate::report(&b.finish().unwrap());
/// assert_eq!(r.summary(delegate::Delegate::Xnnpack).ops_taken, 1);
/// assert_eq!(r.summary(delegate::Delegate::Xnnpack).partitions, 1);
/// ```
pub fn report(model: &Model) -> Report {
    report_with(model, &ReportOptions::default())
}

/// The report for the given delegate builds.
pub fn report_with(model: &Model, options: &ReportOptions) -> Report {
    let mut ops = Vec::new();
    let mut summaries: Vec<DelegateSummary> = Delegate::ALL
        .iter()
        .map(|&delegate| DelegateSummary {
            delegate,
            ops_taken: 0,
            ops_total: 0,
            macs_taken: 0,
            macs_total: 0,
            partitions: 0,
            partitions_per_subgraph: Vec::new(),
        })
        .collect();
    for (si, sg) in model.subgraphs.iter().enumerate() {
        let nodes: Vec<Node> = sg.operators.iter().map(|op| Node::new(model, sg, op, options)).collect();
        let mut per_delegate: Vec<Vec<Option<Reason>>> = Vec::new();
        for d in Delegate::ALL {
            let verdicts: Vec<Option<Reason>> = match d {
                Delegate::Xnnpack => xnnpack::judge_subgraph(&nodes),
                Delegate::Gpu => nodes.iter().map(|n| gpu::judge(n).err()).collect(),
                Delegate::CoreMl => nodes.iter().map(|n| coreml::judge(n).err()).collect(),
            };
            per_delegate.push(verdicts);
        }
        let start = ops.len();
        for (i, n) in nodes.iter().enumerate() {
            let verdicts = Delegate::ALL
                .iter()
                .zip(&per_delegate)
                .map(|(&delegate, v)| Verdict { delegate, reason: v[i].clone() })
                .collect();
            ops.push(OpReport {
                subgraph: si,
                index: i,
                name: n.op.op.name().to_string(),
                code: n.op.op.builtin_code(),
                version: n.version,
                macs: macs(sg, n.op),
                params: params(sg, n.op),
                verdicts,
            });
        }
        for (di, s) in summaries.iter_mut().enumerate() {
            let taken: Vec<bool> = per_delegate[di].iter().map(Option::is_none).collect();
            let parts = partition::count_partitions(sg, &taken);
            s.partitions += parts;
            s.partitions_per_subgraph.push(parts);
            for o in &ops[start..] {
                s.ops_total += 1;
                s.macs_total += o.macs;
                if taken[o.index] {
                    s.ops_taken += 1;
                    s.macs_taken += o.macs;
                }
            }
        }
    }
    Report { ops, summaries }
}

/// Where the rule `delegate` applies to builtin `code` comes from: the
/// LiteRT source file and the function (or `case`) in it; `None` when the
/// delegate has no rule for the op (it does not take it).
///
/// ```
/// use tflite_forge::delegate::{rule_source, Delegate};
/// let (file, function) = rule_source(Delegate::Xnnpack, 3).unwrap(); // CONV_2D
/// assert_eq!(file, "tflite/delegates/xnnpack/xnnpack_delegate.cc");
/// assert_eq!(function, "VisitConv2DNode");
/// assert!(rule_source(Delegate::CoreMl, 36).is_none()); // GATHER
/// ```
pub fn rule_source(delegate: Delegate, code: i32) -> Option<(&'static str, &'static str)> {
    match delegate {
        Delegate::Xnnpack => xnnpack::rule(code).map(|(f, _)| (xnnpack::SOURCE, f)),
        Delegate::Gpu => gpu::rule(code).map(|(f, _)| (gpu::SOURCE, f)),
        Delegate::CoreMl => coreml::rule(code).map(|(_, f, _)| (coreml::SOURCE, f)),
    }
}
