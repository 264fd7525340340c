//! Fuzzes the `.tflite` reader: any bytes give a model or a typed error,
//! and an accepted model writes and reads back to itself. Models are
//! compared by their written bytes, since a file may hold NaN floats
//! (which are never equal to themselves).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = tflite_forge::read(data) {
        let bytes = tflite_forge::write(&model).expect("an accepted model must be writable");
        let back = tflite_forge::read(&bytes).expect("our own output must read");
        let again = tflite_forge::write(&back).expect("and write again");
        assert!(again == bytes, "write(read(write(m))) != write(m) for an accepted input");
    }
});
