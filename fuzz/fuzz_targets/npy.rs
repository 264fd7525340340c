//! Fuzzes the `.npy`/`.npz` readers (calibration samples and `verify`
//! inputs come from users): any bytes give arrays or a typed error, never a
//! panic or an allocation beyond the input's size; what reads back writes
//! and reads again to the same arrays.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tflite_forge::npy;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = npy::read_npy(data) {
        let again = npy::write_npy(&v).expect("a value read from .npy writes back");
        let back = npy::read_npy(&again).expect("our own .npy reads back");
        assert_eq!(back.shape, v.shape);
        assert_eq!(back.dtype, v.dtype);
    }
    let _entries = npy::read_npz(data);
});
