//! Fuzzes "read, then evaluate": any bytes the reader accepts run through
//! the reference evaluator on zero inputs (dynamic dimensions as 1) under an
//! element budget, and give outputs or a typed error, never a panic, an
//! unbounded allocation or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tflite_forge::eval::{Evaluator, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(model) = tflite_forge::read(data) else { return };
    let Some(sg) = model.subgraphs.first() else { return };
    let mut inputs = Vec::new();
    for t in &sg.inputs {
        let Some(t) = sg.tensor(*t) else { return };
        if t.dtype.bits().is_none() {
            return;
        }
        let shape: Vec<usize> = t.shape.dims().iter().map(|d| d.fixed().unwrap_or(1) as usize).collect();
        let Some(n) = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)).filter(|n| *n <= 1 << 16) else { return };
        let mut v = Value::new(t.dtype, shape, vec![0.0; n]);
        v.quantization = t.quantization.clone();
        inputs.push(v);
    }
    if let Ok(outs) = Evaluator::new(&model).with_max_elements(1 << 20).with_max_while_iterations(1000).run(0, &inputs) {
        assert_eq!(outs.len(), sg.outputs.len(), "one value per subgraph output");
    }
});
