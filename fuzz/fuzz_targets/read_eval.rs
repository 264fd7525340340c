//! Fuzzes "read, then evaluate": any bytes the reader accepts run through
//! the reference evaluator on zero inputs (dynamic dimensions as 1) under an
//! element budget, and give outputs or a typed error, never a panic, an
//! unbounded allocation or a hang. The dynamic-batch rewrite (CLI `edit`)
//! runs on the same model and refuses or rewrites, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tflite_forge::eval::{Evaluator, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(model) = tflite_forge::read(data) else { return };
    let _ = tflite_forge::passes::batch::make_batch_dynamic(&mut model.clone());
    let Some(sg) = model.subgraphs.first() else { return };
    let inputs: Result<Vec<Value>, _> = sg.inputs.iter().filter_map(|t| sg.tensor(*t)).map(|t| Value::zeros_for(t, Some(1), 1 << 16)).collect();
    let Ok(inputs) = inputs else { return };
    if let Ok(outs) = Evaluator::new(&model).with_max_elements(1 << 20).with_max_while_iterations(1000).run(0, &inputs) {
        assert_eq!(outs.len(), sg.outputs.len(), "one value per subgraph output");
    }
});
