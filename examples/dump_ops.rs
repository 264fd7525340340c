//! Prints each operator of a .tflite file with its input and output shapes
//! (a debugging aid): `cargo run --example dump_ops -- model.tflite`.
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump_ops MODEL.tflite");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let model = match tflite_forge::read(&bytes) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    for (si, sg) in model.subgraphs.iter().enumerate() {
        println!("subgraph {si}");
        for (k, op) in sg.operators.iter().enumerate() {
            let show = |ts: &[Option<tflite_forge::TensorId>]| {
                ts.iter()
                    .map(|t| t.map_or("-".to_string(), |t| format!("{}{}", sg.tensors[t.index()].shape, if sg.tensors[t.index()].is_constant() { "c" } else { "" })))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let outs: Vec<Option<tflite_forge::TensorId>> = op.outputs.iter().map(|t| Some(*t)).collect();
            println!("  {k:>4} {:<24} {} -> {}", op.op.name(), show(&op.inputs), show(&outs));
        }
    }
}
