//! Fuzzes the parsers of what travels beside the graph: the first byte picks
//! the TFLite Support metadata flatbuffer (`M001`), the zip archive of
//! associated files, or a FlexBuffers value (custom-op options). Any bytes
//! give a value or a typed error, and an accepted value re-encodes to bytes
//! that decode and encode to the same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tflite_forge::{flexbuffers, metadata::ModelMetadata, zip};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    match which % 3 {
        0 => {
            if let Ok(md) = ModelMetadata::from_bytes(rest) {
                let bytes = md.to_bytes();
                let back = ModelMetadata::from_bytes(&bytes).expect("our own metadata must decode");
                assert!(back.to_bytes() == bytes, "metadata re-encoding is not stable");
            }
        }
        1 => {
            if let Ok(Some(archive)) = zip::find_archive(rest) {
                let entries: Vec<zip::Entry> =
                    archive.entries().iter().map(|e| zip::Entry { name: e.name.clone(), data: e.data.to_vec() }).collect();
                let mut out = b"prefix".to_vec();
                zip::append_stored(&mut out, &entries).expect("accepted entries must be writable");
                let again = zip::find_archive(&out).expect("our own archive must read").expect("and be found");
                assert!(again.entries().len() == entries.len(), "entry count changed");
                for (a, b) in again.entries().iter().zip(&entries) {
                    assert!(a.name == b.name && a.data == b.data.as_slice(), "entry changed");
                }
            }
        }
        _ => {
            if let Ok(v) = flexbuffers::parse(rest) {
                let bytes = flexbuffers::to_bytes(&v);
                let back = flexbuffers::parse(&bytes).expect("our own flexbuffer must parse");
                assert!(flexbuffers::to_bytes(&back) == bytes, "flexbuffer re-encoding is not stable");
            }
        }
    }
});
