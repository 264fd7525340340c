//! Builds a ResNet-18 (torchvision's architecture, NHWC, seeded weights)
//! with the builders and writes it as a `.tflite` with a `serving_default`
//! signature, printing sizes, op counts and timings.
//!
//! ```text
//! cargo run --release --example resnet18_to_tflite -- [OUT.tflite]
//! ```
//!
//! The ONNX front end (in progress) will take a torchvision export instead;
//! until then this shows the authoring API at full ResNet-18 scale.

use std::collections::BTreeMap;
use std::time::Instant;

use tflite_forge::*;

struct Weights(u64);

impl Weights {
    /// He-initialised values from a seeded xorshift generator.
    fn he(&mut self, n: usize, fan_in: usize) -> Vec<f32> {
        let std = (2.0 / fan_in as f32).sqrt();
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * std * 1.7
            })
            .collect()
    }
}

fn conv(g: &mut SubgraphBuilder, w: &mut Weights, x: TensorId, cin: u32, cout: u32, k: u32, stride: i32, act: Activation, name: &str) -> TensorId {
    let n = (cout * k * k * cin) as usize;
    let filter = g.constant_f32(&format!("{name}/weight"), [cout, k, k, cin], &w.he(n, (k * k * cin) as usize));
    let bias = g.constant_f32(&format!("{name}/bias"), [cout], &vec![0.01; cout as usize]);
    g.conv2d(x, filter, Some(bias), Conv2dOptions::new(Padding::Same, stride, stride).with_activation(act))
        .expect("conv")
}

fn basic_block(g: &mut SubgraphBuilder, w: &mut Weights, x: TensorId, cin: u32, cout: u32, stride: i32, name: &str) -> TensorId {
    let a = conv(g, w, x, cin, cout, 3, stride, Activation::Relu, &format!("{name}/conv1"));
    let b = conv(g, w, a, cout, cout, 3, 1, Activation::None, &format!("{name}/conv2"));
    let shortcut = if stride != 1 || cin != cout {
        conv(g, w, x, cin, cout, 1, stride, Activation::None, &format!("{name}/downsample"))
    } else {
        x
    };
    g.apply(Op::Add(AddSubOptions::default().with_activation(Activation::Relu)), &[Some(b), Some(shortcut)]).expect("add")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "resnet18.tflite".into());
    let t0 = Instant::now();
    let mut w = Weights(0x5eed_1234_abcd_ef01);
    let mut b = ModelBuilder::new();
    b.description("ResNet-18 built with tflite-forge");
    let mut g = b.subgraph("resnet18");
    let x = g.input("input", DType::F32, Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(224), Dim::Fixed(224), Dim::Fixed(3)]));
    let mut h = conv(&mut g, &mut w, x, 3, 64, 7, 2, Activation::Relu, "conv1");
    h = g.max_pool2d(h, Pool2dOptions::new(Padding::Same, 3, 3, 2, 2))?;
    let mut cin = 64;
    for (stage, cout) in [64u32, 128, 256, 512].into_iter().enumerate() {
        for block in 0..2 {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            h = basic_block(&mut g, &mut w, h, cin, cout, stride, &format!("layer{}/{}", stage + 1, block));
            cin = cout;
        }
    }
    let pooled = g.mean(h, &[1, 2], false)?;
    let fc_w = g.constant_f32("fc/weight", [1000, 512], &w.he(512_000, 512));
    let fc_b = g.constant_f32("fc/bias", [1000], &vec![0.0; 1000]);
    let logits = g.fully_connected(pooled, fc_w, Some(fc_b), FullyConnectedOptions::default())?;
    g.output("logits", logits);
    let index = b.finish_subgraph(g)?;
    b.signature("serving_default", index);
    let model = b.finish()?;
    let built = t0.elapsed();

    let t1 = Instant::now();
    let bytes = write(&model)?;
    let written = t1.elapsed();
    write::atomic_write(std::path::Path::new(&out), &bytes)?;

    let t2 = Instant::now();
    let back = read(&bytes)?;
    let read_time = t2.elapsed();
    assert_eq!(back, model, "the file reads back to the same model");

    let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
    for node in &model.subgraphs[0].operators {
        *ops.entry(node.op.name()).or_default() += 1;
    }
    let params: usize = model.subgraphs[0].tensors.iter().filter_map(|t| t.data.as_ref()).map(|d| d.len() / 4).sum();
    println!("wrote {out}: {} bytes ({:.1} MB), {params} parameters", bytes.len(), bytes.len() as f64 / 1e6);
    println!("ops: {} total", model.subgraphs[0].operators.len());
    for (name, n) in &ops {
        println!("  {name:<20} {n}");
    }
    println!("signature serving_default: input 'input' [?, 224, 224, 3] -> output 'logits' [?, 1000]");
    println!("timings: build {built:.2?}, write {written:.2?}, read+verify {read_time:.2?}");
    Ok(())
}
