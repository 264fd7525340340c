//! Fuzzes the ONNX importer and the whole conversion: any bytes give a
//! model or a typed error; an accepted model writes and reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tflite_forge::onnx::{convert, ConvertOptions, Limits};

fuzz_target!(|data: &[u8]| {
    let mut opts = ConvertOptions::default();
    let mut limits = Limits::default();
    limits.max_model_bytes = 1 << 20;
    limits.max_tensor_elements = 1 << 20;
    limits.max_constant_bytes = 16 << 20;
    limits.max_nodes = 10_000;
    opts.limits = limits;
    if let Ok(c) = convert(data, &opts) {
        let bytes = tflite_forge::write(&c.model).expect("a converted model must be writable");
        let back = tflite_forge::read(&bytes).expect("our own output must read");
        assert_eq!(back, c.model);
    }
});
