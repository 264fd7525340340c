//! Fuzzes the `.tflite` reader: any bytes give a model or a typed error,
//! and an accepted model writes and reads back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = tflite_forge::read(data) {
        let bytes = tflite_forge::write(&model).expect("an accepted model must be writable");
        let back = tflite_forge::read(&bytes).expect("our own output must read");
        assert_eq!(back, model, "read(write(m)) != m for an accepted input");
    }
});
