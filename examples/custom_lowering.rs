//! Registers a lowering for an ONNX op of a custom domain and converts a
//! model that uses it.
//!
//! The op here is `com.example::ScaledSwish(x) = x · sigmoid(beta · x)`
//! with a float attribute `beta`, the kind of op a training framework
//! exports under its own domain. The lowering emits TFLite builtins through
//! the same builder every built-in lowering uses, so the result is an
//! ordinary `.tflite` that any LiteRT runs, and the registry entry documents
//! itself in the lowering table like the built-in ones.
//!
//! ```text
//! cargo run --example custom_lowering -- [OUT.tflite]
//! ```

#[path = "../tests/common/onnx_build.rs"]
mod onnx_build;

use onnx_build::{attr_float, OnnxBuilder, FLOAT};
use tflite_forge::eval::{Evaluator, Value};
use tflite_forge::onnx::{convert, ConvertOptions, LowerCtx, LowerError, Lowering, Node, ReasonCode, Registry};

/// `x · sigmoid(beta · x)` as MUL, LOGISTIC, MUL. Builder validation
/// errors convert into `LowerError` with `?`.
fn scaled_swish(ctx: &mut LowerCtx<'_>, node: &Node<'_>) -> Result<(), LowerError> {
    let beta = node.float_or("beta", 1.0)?;
    if !beta.is_finite() {
        return Err(LowerError::new(ReasonCode::UnsupportedAttribute, format!("beta = {beta} is not finite")));
    }
    let x = ctx.input(node, 0)?;
    let g = ctx.builder();
    let b = g.constant_f32(&format!("{}_beta", node.name()), [1], &[beta]);
    let bx = g.mul(x, b)?;
    let s = g.logistic(bx)?;
    let y = g.mul(x, s)?;
    ctx.set_output(node, 0, y);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1);

    // An ONNX model: Neg, then the custom op.
    let mut b = OnnxBuilder::new(17);
    let x = b.input("x", FLOAT, &[Some(1), Some(6)]);
    let r = b.node("Neg", &[&x], vec![]);
    let y = b.node_in_domain("com.example", "ScaledSwish", &[&r], vec![attr_float("beta", 1.5)]);
    b.node_named("Identity", &[&y], &["y"], vec![]);
    b.output("y", FLOAT, &[Some(1), Some(6)]);
    let onnx = b.build();

    // Without the entry the conversion stops with a typed error.
    let err = convert(&onnx, &ConvertOptions::default()).err().ok_or("converted an unknown op")?;
    println!("without the lowering: {err}");

    let mut registry = Registry::default();
    registry.register(
        Lowering::new("ScaledSwish", 1, &["MUL", "LOGISTIC"], "float32; beta finite", scaled_swish).in_domain("com.example"),
    );
    let mut options = ConvertOptions::default();
    options.registry = Some(registry);
    let converted = convert(&onnx, &options)?;

    let input: Vec<f32> = vec![-2.0, -0.5, 0.0, 0.5, 1.0, 3.0];
    let got = Evaluator::new(&converted.model).run(0, &[Value::from_f32(vec![1, 6], input.clone())])?;
    let want: Vec<f32> = input.iter().map(|v| -v / (1.0 + (1.5 * v).exp())).collect();
    for (g, w) in got[0].to_f32().iter().zip(&want) {
        assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "{g} != {w}");
    }
    println!("with the lowering: y = {:?} (matches x·sigmoid(1.5·x) of the negated input)", got[0].to_f32());
    if let Some(path) = out {
        std::fs::write(&path, tflite_forge::write(&converted.model)?)?;
        println!("wrote {path}");
    }
    Ok(())
}
