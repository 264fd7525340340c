//! `tflite-forge dot`: the graph in Graphviz DOT, one cluster per subgraph.

use std::fmt::Write as _;
use std::path::PathBuf;

use tflite_forge::{Model, TensorId};

use crate::output::{read_model, write_atomic, CliResult, EXIT_OK};

/// Arguments of `dot`.
#[derive(clap::Args)]
pub struct Args {
    /// The .tflite file.
    model: PathBuf,
    /// Write the DOT text here (atomically) instead of stdout. Render it
    /// with Graphviz: `dot -Tsvg OUT.dot -o OUT.svg`.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Runs `dot`.
pub fn run(a: Args) -> CliResult {
    let (_, model) = read_model(&a.model)?;
    let text = to_dot(&model);
    match &a.output {
        Some(out) => write_atomic(out, text.as_bytes())?,
        None => print!("{text}"),
    }
    Ok(EXIT_OK)
}

/// Escapes a DOT string literal.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The DOT text: an op is a box labelled with its type and output shapes;
/// an edge carries a tensor, labelled with its shape; subgraph inputs and
/// outputs are ellipses; each subgraph is a `cluster_N`.
pub fn to_dot(model: &Model) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph tflite {{");
    let _ = writeln!(s, "  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=9];");
    for (si, sg) in model.subgraphs.iter().enumerate() {
        let _ = writeln!(s, "  subgraph cluster_{si} {{");
        let _ = writeln!(s, "    label=\"subgraph {si}: {}\";", esc(&sg.name));
        let tensor = |t: TensorId| sg.tensors.get(t.index());
        let desc = |t: TensorId| tensor(t).map(|t| format!("{} {}", t.dtype, t.shape)).unwrap_or_default();
        // The producer of each tensor: an op or a subgraph input.
        let mut producer = vec![None::<String>; sg.tensors.len()];
        for t in &sg.inputs {
            let name = tensor(*t).map(|t| t.name.as_str()).unwrap_or("");
            let _ = writeln!(s, "    s{si}_in{} [shape=ellipse, label=\"input {}\\n{}\"];", t.0, esc(name), esc(&desc(*t)));
            if let Some(p) = producer.get_mut(t.index()) {
                *p = Some(format!("s{si}_in{}", t.0));
            }
        }
        for (i, o) in sg.operators.iter().enumerate() {
            let shapes: Vec<String> = o.outputs.iter().filter_map(|t| tensor(*t)).map(|t| t.shape.to_string()).collect();
            let consts = o.inputs.iter().flatten().filter(|t| tensor(**t).is_some_and(|t| t.data.is_some())).count();
            let extra = if consts > 0 { format!("\\n{consts} constant input(s)") } else { String::new() };
            let _ = writeln!(s, "    s{si}_op{i} [label=\"{}\\n{}{}\"];", esc(o.op.name()), esc(&shapes.join(" ")), extra);
            for t in &o.outputs {
                if let Some(p) = producer.get_mut(t.index()) {
                    *p = Some(format!("s{si}_op{i}"));
                }
            }
        }
        for (i, o) in sg.operators.iter().enumerate() {
            for t in o.inputs.iter().flatten() {
                if let Some(Some(from)) = producer.get(t.index()) {
                    let _ = writeln!(s, "    {from} -> s{si}_op{i} [label=\"{}\"];", esc(&desc(*t)));
                }
            }
        }
        for t in &sg.outputs {
            let name = tensor(*t).map(|t| t.name.as_str()).unwrap_or("");
            let _ = writeln!(s, "    s{si}_out{} [shape=ellipse, label=\"output {}\\n{}\"];", t.0, esc(name), esc(&desc(*t)));
            if let Some(Some(from)) = producer.get(t.index()) {
                let _ = writeln!(s, "    {from} -> s{si}_out{};", t.0);
            }
        }
        let _ = writeln!(s, "  }}");
    }
    let _ = writeln!(s, "}}");
    s
}
