//! # tflite-forge
//!
//! Author TensorFlow Lite (LiteRT) models in Rust: a typed in-memory
//! [`Model`], builders that validate as they go, a deterministic writer and
//! a verified reader that never panics.
//!
//! ```
//! use tflite_forge::{DType, ModelBuilder, Activation, FullyConnectedOptions};
//!
//! let mut b = ModelBuilder::new();
//! let mut g = b.subgraph("main");
//! let x = g.input("x", DType::F32, [1, 3]);
//! let w = g.constant_f32("w", [2, 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
//! let bias = g.constant_f32("b", [2], &[0.5, -0.5]);
//! let y = g
//!     .fully_connected(x, w, Some(bias), FullyConnectedOptions::default().with_activation(Activation::Relu))
//!     .unwrap();
//! g.output("y", y);
//! b.finish_subgraph(g).unwrap();
//! b.signature("serving_default", 0);
//! let model = b.finish().unwrap();
//!
//! let bytes = tflite_forge::write(&model).unwrap();
//! assert_eq!(&bytes[4..8], b"TFL3");
//! let back = tflite_forge::read(&bytes).unwrap();
//! assert_eq!(back, model);
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

// The generated schema code names `alloc::` paths.
extern crate alloc;

pub mod build;
pub mod diff;
pub mod delegate;
pub mod error;
pub mod eval;
pub mod metadata;
// Public: custom-op options are FlexBuffers (`CustomOp::with_options`,
// `CustomOp::options_value`), so users build and read them.
pub mod flexbuffers;
mod infer;
pub mod model;
pub mod npy;
pub mod onnx;
pub mod passes;
pub mod quantize;
mod util;
pub mod read;
mod schema;
pub mod stats;
// Public: `validate::validate_with` checks a model (subgraph calls,
// limits) without writing it.
pub mod validate;
pub mod version;
pub mod write;
// Public but narrow: the stored-zip codec behind `Model::associated_files`.
// Kept public for tools that locate the archive in a file
// (`zip::find_archive`) and for tests/zip.rs, whose allocation-bounding
// tests need a counting global allocator (unsafe, so not a unit test here).
pub mod zip;

pub use build::{ModelBuilder, SubgraphBuilder};
pub use error::{Error, Location, ReadError, Result, ValidationError, WriteError};
pub use model::*;
pub use read::{read, read_with, ReadOptions};
pub use write::{write, write_with, WriteOptions};
