//! Prints which operators XNNPACK, the GPU delegate and Core ML take, and
//! why not when they don't: `cargo run --example inspect_delegates --
//! model.tflite`. Without an argument it builds a small model in memory.
use tflite_forge::{delegate, Conv2dOptions, DType, FullyConnectedOptions, Model, ModelBuilder, Padding, Pool2dOptions};

/// A small CNN with one op XNNPACK rejects (a nearest-neighbor resize)
/// and one Core ML rejects (a mean without `keep_dims`).
fn small_model() -> Model {
    let mut b = ModelBuilder::new();
    let mut g = b.subgraph("main");
    let x = g.input("x", DType::F32, [1, 16, 16, 3]);
    let w1 = g.constant_f32("w1", [8, 3, 3, 3], &[0.05; 216]);
    let b1 = g.constant_f32("b1", [8], &[0.0; 8]);
    let c1 = g.conv2d(x, w1, Some(b1), Conv2dOptions::new(Padding::Same, 2, 2)).expect("conv1");
    let r1 = g.relu(c1).expect("relu");
    let w2 = g.constant_f32("w2", [8, 3, 3, 8], &[0.02; 576]);
    let c2 = g.conv2d(r1, w2, None, Conv2dOptions::new(Padding::Same, 1, 1)).expect("conv2");
    let u = g.resize_nearest_neighbor(c2, [16, 16], Default::default()).expect("resize");
    let p = g.max_pool2d(u, Pool2dOptions::new(Padding::Valid, 2, 2, 2, 2)).expect("pool");
    let m = g.mean(p, &[1, 2], false).expect("mean");
    let wf = g.constant_f32("wf", [4, 8], &[0.1; 32]);
    let y = g.fully_connected(m, wf, None, FullyConnectedOptions::default()).expect("fc");
    g.output("y", y);
    b.finish_subgraph(g).expect("subgraph");
    b.finish().expect("model")
}

fn main() {
    let model = match std::env::args().nth(1) {
        None => small_model(),
        Some(path) => {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| {
                eprintln!("{path}: {e}");
                std::process::exit(1)
            });
            tflite_forge::read(&bytes).unwrap_or_else(|e| {
                eprintln!("{path}: {e}");
                std::process::exit(1)
            })
        }
    };
    print!("{}", delegate::report(&model));
}

#[test]
fn small_model_report() {
    use delegate::{Delegate, Reason};
    let r = delegate::report(&small_model());
    let names: Vec<&str> = r.ops.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["CONV_2D", "RELU", "CONV_2D", "RESIZE_NEAREST_NEIGHBOR", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED"]);
    assert_eq!(r.ops[3].verdict(Delegate::Xnnpack).reason, Some(Reason::OpNotSupported));
    assert!(r.ops[3].verdict(Delegate::Gpu).is_supported());
    assert!(matches!(r.ops[5].verdict(Delegate::CoreMl).reason, Some(Reason::Option { name: "keep_dims", .. })));
    let x = r.summary(Delegate::Xnnpack);
    assert_eq!((x.ops_taken, x.partitions), (6, 2));
    assert!(r.to_string().contains("RESIZE_NEAREST_NEIGHBOR v1; xnnpack: no (op not supported)"));
}
