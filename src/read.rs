//! Verified parsing of `.tflite` bytes into a [`Model`].
//!
//! The bytes go through the flatbuffers verifier (with limits on depth,
//! table count and apparent size) before any field is read, every index is
//! range-checked, every size is checked against the file, and the result is
//! validated. Errors say what was wrong and where; nothing panics, and no
//! allocation is sized from an unchecked field. The subgraphs that ops call
//! (IF, WHILE, CALL_ONCE, StableHLO regions) must exist and form no cycle,
//! and calls may nest at most [`ReadOptions::max_subgraph_depth`] deep;
//! these checks take no stack, whatever the file.

use std::path::Path;

use crate::error::{Error, Location, ReadError};
use crate::model::*;
use crate::schema::tflite as fb;
use crate::validate::{check_subgraph_calls, validate_with, ValidateOptions, DEFAULT_MAX_SUBGRAPH_DEPTH};

/// Limits and checks for [`read_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Largest accepted file, in bytes.
    pub max_file_bytes: u64,
    /// Deepest accepted table nesting.
    pub max_depth: usize,
    /// Most tables accepted in the flatbuffer.
    pub max_tables: usize,
    /// Most elements any tensor may declare.
    pub max_tensor_elements: u64,
    /// Run full model validation (producers, types, shapes) after reading.
    pub validate: bool,
    /// The most nested subgraph calls accepted (IF, WHILE, CALL_ONCE and
    /// StableHLO ops that name subgraphs; see
    /// [`ValidateOptions::max_subgraph_depth`](crate::validate::ValidateOptions::max_subgraph_depth)).
    /// Default [`DEFAULT_MAX_SUBGRAPH_DEPTH`] (64). The subgraph indices ops
    /// name are checked even without `validate`: each must exist, no
    /// subgraph may reach itself through calls, and no chain of calls may be
    /// longer than this, or reading fails with
    /// [`ValidationError::Subgraph`](crate::ValidationError::Subgraph),
    /// [`ValidationError::SubgraphCycle`](crate::ValidationError::SubgraphCycle) or
    /// [`ValidationError::SubgraphDepth`](crate::ValidationError::SubgraphDepth).
    pub max_subgraph_depth: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_file_bytes: 16 << 30,
            max_depth: 64,
            max_tables: 4_000_000,
            max_tensor_elements: 1 << 36,
            validate: true,
            max_subgraph_depth: DEFAULT_MAX_SUBGRAPH_DEPTH,
        }
    }
}

/// Reads a model with default options.
///
/// ```
/// let err = tflite_forge::read(b"not a model").unwrap_err();
/// assert!(err.to_string().contains("TFL3"));
/// ```
pub fn read(bytes: &[u8]) -> Result<Model, Error> {
    read_with(bytes, &ReadOptions::default())
}

/// Reads a model from a file.
pub fn read_file(path: impl AsRef<Path>) -> Result<Model, Error> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    read(&bytes)
}

/// The largest flatbuffer (offsets are 32-bit signed).
const FLATBUFFER_LIMIT: usize = (1 << 31) - 1;

/// Reads a model.
///
/// ```
/// use tflite_forge::read::{read_with, ReadOptions};
/// # use tflite_forge::{DType, ModelBuilder};
/// # let mut b = ModelBuilder::new();
/// # let mut g = b.subgraph("main");
/// # let x = g.input("x", DType::F32, [1]);
/// # g.output("x", x);
/// # b.finish_subgraph(g).unwrap();
/// # let bytes = tflite_forge::write(&b.finish().unwrap()).unwrap();
/// let mut options = ReadOptions::default();
/// options.max_subgraph_depth = 8; // at most 8 nested IF / WHILE calls
/// let model = read_with(&bytes, &options)?;
/// # Ok::<(), tflite_forge::Error>(())
/// ```
pub fn read_with(bytes: &[u8], options: &ReadOptions) -> Result<Model, Error> {
    let model = parse(bytes, options)?;
    if options.validate {
        validate_with(&model, &ValidateOptions { max_subgraph_depth: options.max_subgraph_depth })?;
    } else {
        check_subgraph_calls(&model, options.max_subgraph_depth)?;
    }
    Ok(model)
}

fn at(subgraph: usize, operator: Option<usize>, tensor: Option<usize>) -> Location {
    Location { subgraph, operator, tensor }
}

fn index(what: &'static str, i: i64, len: usize, loc: Location) -> Result<usize, ReadError> {
    usize::try_from(i).ok().filter(|i| *i < len).ok_or(ReadError::IndexOutOfRange { what, index: i, len, at: loc })
}

/// The bytes of one buffer, inside the flatbuffer or after it.
fn buffer_bytes<'a>(bytes: &'a [u8], b: &fb::Buffer<'a>, i: usize) -> Result<&'a [u8], ReadError> {
    let (offset, size) = (b.offset(), b.size());
    if offset > 1 {
        let end = offset.checked_add(size);
        let range = end
            .filter(|e| *e <= bytes.len() as u64)
            .map(|e| offset as usize..e as usize)
            .ok_or(ReadError::BufferOutOfBounds { buffer: i, offset, size, file_len: bytes.len() })?;
        return Ok(&bytes[range]);
    }
    Ok(b.data().map(|d| d.bytes()).unwrap_or(&[]))
}

/// Converts an operator's code and options to its typed op. Codes newer
/// than our schema stay opaque, with their options as read.
fn op_from(code: i32, version: i32, options: fb::BuiltinOptionsT, options2: fb::BuiltinOptions2T) -> Result<Op, String> {
    if let Some(op) = crate::model::read_typed_op(code, &options, &options2) {
        return op;
    }
    Ok(Op::Builtin(OpaqueBuiltin { code, version, options, options2 }))
}

fn quantization(q: &fb::QuantizationParameters<'_>, at: Location) -> Result<Quantization, ReadError> {
    let q = q.unpack();
    Ok(Quantization {
        scale: q.scale.unwrap_or_default(),
        zero_point: q.zero_point.unwrap_or_default(),
        axis: q.quantized_dimension,
        min: q.min.unwrap_or_default(),
        max: q.max.unwrap_or_default(),
        details: details(q.details, at)?,
    })
}

/// Typed quantization details: blockwise ones checked field by field (the
/// tensor indices against the subgraph later), the rest kept as read.
fn details(d: fb::QuantizationDetailsT, at: Location) -> Result<Option<QuantDetails>, ReadError> {
    let b = match d {
        fb::QuantizationDetailsT::NONE => return Ok(None),
        fb::QuantizationDetailsT::BlockwiseQuantization(b) => b,
        other => return Ok(Some(QuantDetails::Other(OpaqueQuantDetails(other)))),
    };
    let bad = |detail: String| ReadError::InvalidField { what: "blockwise quantization", detail, at };
    let scales = u32::try_from(b.scales).map_err(|_| bad(format!("scale tensor index {}", b.scales)))?;
    let zero_points = match b.zero_points {
        -1 => None,
        z => Some(TensorId(u32::try_from(z).map_err(|_| bad(format!("zero-point tensor index {z}")))?)),
    };
    let block_size = u32::try_from(b.block_size).ok().filter(|n| *n > 0).ok_or_else(|| bad(format!("block size {}", b.block_size)))?;
    let mut q = BlockwiseQuant::new(TensorId(scales), block_size);
    q.zero_points = zero_points;
    q.block_shape = b.block_shape;
    Ok(Some(QuantDetails::Blockwise(q)))
}

fn parse(bytes: &[u8], options: &ReadOptions) -> Result<Model, ReadError> {
    if bytes.len() < 8 {
        return Err(ReadError::TooShort { len: bytes.len() });
    }
    if bytes.len() as u64 > options.max_file_bytes {
        return Err(ReadError::Limit(format!("file of {} bytes exceeds max_file_bytes {}", bytes.len(), options.max_file_bytes)));
    }
    let ident = [bytes[4], bytes[5], bytes[6], bytes[7]];
    if &ident != b"TFL3" {
        return Err(ReadError::WrongIdentifier { found: ident });
    }
    let flat = &bytes[..bytes.len().min(FLATBUFFER_LIMIT)];
    let opts = flatbuffers::VerifierOptions {
        max_depth: options.max_depth,
        max_tables: options.max_tables,
        max_apparent_size: FLATBUFFER_LIMIT,
        ignore_missing_null_terminator: true,
    };
    let m = fb::root_as_model_with_opts(&opts, flat).map_err(|e| ReadError::Verification(e.to_string()))?;
    if m.version() != 3 {
        return Err(ReadError::UnsupportedVersion(m.version()));
    }
    if m.external_buffers().is_some_and(|v| !v.is_empty()) || m.external_buffer_groups().is_some_and(|v| !v.is_empty()) {
        return Err(ReadError::InvalidField {
            what: "external_buffers",
            detail: "external buffer groups are not supported".into(),
            at: Location::default(),
        });
    }

    // Buffers: slices into the file, converted to shared data on first use.
    let fb_buffers = m.buffers();
    let n_buffers = fb_buffers.map_or(0, |b| b.len());
    let mut raw: Vec<&[u8]> = Vec::with_capacity(n_buffers);
    if let Some(bs) = fb_buffers {
        for (i, b) in bs.iter().enumerate() {
            raw.push(buffer_bytes(bytes, &b, i)?);
        }
    }
    // Where the model's data ends: an appended archive must start after it
    // (an archive inside a constant buffer is data, not associated files).
    let base = bytes.as_ptr() as usize;
    let data_end = raw
        .iter()
        .map(|d| (d.as_ptr() as usize).wrapping_sub(base))
        .zip(raw.iter().map(|d| d.len()))
        .filter(|(start, _)| *start <= bytes.len())
        .map(|(start, len)| start.saturating_add(len))
        .max()
        .unwrap_or(0);
    let mut shared: Vec<Option<ConstData>> = vec![None; n_buffers];
    let mut data_of = |i: usize| -> ConstData {
        shared[i].get_or_insert_with(|| ConstData::from_bytes(raw[i])).clone()
    };

    // Operator codes.
    let mut codes: Vec<(i32, Option<String>, i32)> = Vec::new();
    for c in m.operator_codes().iter().flatten() {
        let code = i32::from(c.deprecated_builtin_code()).max(c.builtin_code().0);
        codes.push((code, c.custom_code().map(str::to_string), c.version()));
    }

    let mut subgraphs = Vec::new();
    for (si, s) in m.subgraphs().iter().flatten().enumerate() {
        let mut tensors = Vec::new();
        for (ti, t) in s.tensors().iter().flatten().enumerate() {
            let loc = at(si, None, Some(ti));
            let dtype = DType::from_code(t.type_().0).ok_or_else(|| ReadError::InvalidField {
                what: "tensor type",
                detail: format!("unknown TensorType {}", t.type_().0),
                at: loc,
            })?;
            let shape_v: Vec<i32> = t.shape().map(|v| v.iter().collect()).unwrap_or_default();
            let sig: Option<Vec<i32>> = t.shape_signature().map(|v| v.iter().collect());
            if sig.as_ref().is_some_and(|s| s.len() != shape_v.len()) {
                return Err(ReadError::InvalidField {
                    what: "shape_signature",
                    detail: "length differs from shape".into(),
                    at: loc,
                });
            }
            let mut dims = Vec::with_capacity(shape_v.len());
            for (k, &d) in shape_v.iter().enumerate() {
                let dynamic = d < 0 || sig.as_ref().is_some_and(|s| s[k] < 0);
                dims.push(if dynamic { Dim::Dynamic } else { Dim::Fixed(d as u32) });
            }
            let shape = Shape::from_dims(dims);
            if shape.num_elements().is_some_and(|n| n > options.max_tensor_elements) {
                return Err(ReadError::Limit(format!(
                    "tensor {ti} of subgraph {si} has shape {shape}, over max_tensor_elements {}",
                    options.max_tensor_elements
                )));
            }
            let b = index("buffer", i64::from(t.buffer()), n_buffers.max(1), loc)?;
            // A buffer with bytes makes a constant; so does an empty buffer
            // of a zero-element tensor (the writer gives those a buffer).
            let empty_const = shape.num_elements() == Some(0) && t.shape_signature().is_none();
            let data = (b != 0 && b < n_buffers && (!raw[b].is_empty() || empty_const)).then(|| data_of(b));
            if data.is_some() && t.sparsity().is_none() && dtype.bits().is_some() && shape.num_elements().is_none() {
                return Err(ReadError::InvalidField {
                    what: "tensor shape",
                    detail: format!("constant of shape {shape} has no fixed element count"),
                    at: loc,
                });
            }
            let mut tensor = Tensor::new(t.name().unwrap_or(""), dtype, shape);
            tensor.data = data;
            tensor.quantization = t.quantization().map(|q| quantization(&q, loc)).transpose()?;
            tensor.is_variable = t.is_variable();
            tensor.has_rank = t.has_rank();
            tensor.sparsity = t.sparsity().map(|s| Sparsity(Box::new(s.unpack())));
            tensor.variant_types = t.variant_tensors().map(|v| VariantTypes(v.iter().map(|x| x.unpack()).collect()));
            tensors.push(tensor);
        }
        let nt = tensors.len();
        for (ti, t) in tensors.iter().enumerate() {
            for r in t.quantization.iter().flat_map(|q| q.details.iter()).flat_map(|d| d.tensor_refs()) {
                index("quantization details tensor", i64::from(r), nt, at(si, None, Some(ti)))?;
            }
        }
        let ids = |v: Option<flatbuffers::Vector<'_, i32>>, what: &'static str, loc: Location| -> Result<Vec<TensorId>, ReadError> {
            v.iter().flatten().map(|i| index(what, i64::from(i), nt, loc).map(|i| TensorId(i as u32))).collect()
        };
        let inputs = ids(s.inputs(), "subgraph input", at(si, None, None))?;
        let outputs = ids(s.outputs(), "subgraph output", at(si, None, None))?;
        let mut operators = Vec::new();
        for (oi, o) in s.operators().iter().flatten().enumerate() {
            let loc = at(si, Some(oi), None);
            let ci = index("opcode", i64::from(o.opcode_index()), codes.len(), loc)?;
            let (code, custom_name, version) = &codes[ci];
            let mut node_inputs = Vec::new();
            for i in o.inputs().iter().flatten() {
                node_inputs.push(if i < 0 { None } else { Some(TensorId(index("operator input", i64::from(i), nt, loc)? as u32)) });
            }
            let node_outputs = ids(o.outputs(), "operator output", loc)?;
            let intermediates = ids(o.intermediates(), "intermediate", loc)?;
            let op = if *code == fb::BuiltinOperator::CUSTOM.0 {
                let (off, size) = (o.large_custom_options_offset(), o.large_custom_options_size());
                let options = if off > 1 {
                    let range = off
                        .checked_add(size)
                        .filter(|e| *e <= bytes.len() as u64)
                        .map(|e| off as usize..e as usize)
                        .ok_or(ReadError::InvalidField {
                            what: "large_custom_options",
                            detail: format!("{off}+{size} lies outside the file"),
                            at: loc,
                        })?;
                    bytes[range].to_vec()
                } else {
                    o.custom_options().map(|v| v.bytes().to_vec()).unwrap_or_default()
                };
                Op::Custom(CustomOp {
                    name: custom_name.clone().unwrap_or_default(),
                    options,
                    format: CustomOptionsFormat::FlexBuffers,
                    version: *version,
                })
            } else {
                let t = o.unpack();
                op_from(*code, *version, t.builtin_options, t.builtin_options_2).map_err(|detail| ReadError::InvalidField {
                    what: "builtin_options",
                    detail: format!("{}: {detail}", crate::model::builtin_name(*code).unwrap_or("UNKNOWN")),
                    at: loc,
                })?
            };
            operators.push(Operator { op, inputs: node_inputs, outputs: node_outputs, intermediates });
        }
        subgraphs.push(Subgraph { name: s.name().unwrap_or("").to_string(), tensors, inputs, outputs, operators });
    }

    let mut signatures = Vec::new();
    for s in m.signature_defs().iter().flatten() {
        let key = s.signature_key().unwrap_or("").to_string();
        let sgi = index("signature subgraph", i64::from(s.subgraph_index()), subgraphs.len(), Location::default())?;
        let nt = subgraphs[sgi].tensors.len();
        let maps = |v: Option<flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<fb::TensorMap<'_>>>>| -> Result<Vec<(String, TensorId)>, ReadError> {
            v.iter()
                .flatten()
                .map(|tm| {
                    let i = index("signature tensor", i64::from(tm.tensor_index()), nt, at(sgi, None, None))?;
                    Ok((tm.name().unwrap_or("").to_string(), TensorId(i as u32)))
                })
                .collect()
        };
        signatures.push(SignatureDef { key, subgraph: sgi as u32, inputs: maps(s.inputs())?, outputs: maps(s.outputs())? });
    }

    let mut metadata = Vec::new();
    for md in m.metadata().iter().flatten() {
        let name = md.name().unwrap_or("").to_string();
        if name == MIN_RUNTIME_VERSION || name == BUFFER_LOCATION {
            continue;
        }
        let b = index("metadata buffer", i64::from(md.buffer()), n_buffers, Location::default())?;
        metadata.push(Metadata { name, data: data_of(b) });
    }

    let associated_files = read_archive(bytes, data_end, &metadata)?;
    Ok(Model { description: m.description().unwrap_or("").to_string(), subgraphs, signatures, metadata, associated_files })
}

/// Where one buffer's bytes lie in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BufferSpan {
    /// Absolute offset of the first byte in the file.
    pub offset: usize,
    /// Number of bytes.
    pub len: usize,
    /// Whether the bytes lie after the flatbuffer (`Buffer.offset`/`size`).
    pub after_flatbuffer: bool,
}

/// One operator code entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpCodeEntry {
    /// `builtin_code`.
    pub builtin_code: i32,
    /// `deprecated_builtin_code`.
    pub deprecated_builtin_code: i8,
    /// `version`.
    pub version: i32,
    /// `custom_code`, for custom ops.
    pub custom_code: Option<String>,
}

/// The physical layout of a `.tflite` file: what the typed model abstracts
/// away (buffer placement, op code table, metadata buffers).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileLayout {
    /// Every buffer, in order (buffer 0 first).
    pub buffers: Vec<BufferSpan>,
    /// The operator code table.
    pub op_codes: Vec<OpCodeEntry>,
    /// Metadata entries: name and buffer index.
    pub metadata: Vec<(String, u32)>,
}

/// Describes the layout of a verified file.
///
/// ```
/// # use tflite_forge::{DType, ModelBuilder};
/// # let mut b = ModelBuilder::new();
/// # let mut g = b.subgraph("main");
/// # let x = g.input("x", DType::F32, [1, 2]);
/// # let w = g.constant_f32("w", [2], &[1.0, 2.0]);
/// # let y = g.add(x, w).unwrap();
/// # g.output("y", y);
/// # b.finish_subgraph(g).unwrap();
/// # let model = b.finish().unwrap();
/// let bytes = tflite_forge::write(&model)?;
/// let layout = tflite_forge::read::inspect(&bytes)?;
/// assert_eq!(layout.buffers[0].len, 0); // the empty sentinel
/// assert!(layout.buffers.iter().all(|b| b.len == 0 || b.offset % 16 == 0));
/// # Ok::<(), tflite_forge::Error>(())
/// ```
pub fn inspect(bytes: &[u8]) -> Result<FileLayout, Error> {
    if bytes.len() < 8 {
        return Err(ReadError::TooShort { len: bytes.len() }.into());
    }
    let opts = flatbuffers::VerifierOptions { max_apparent_size: FLATBUFFER_LIMIT, ..Default::default() };
    let flat = &bytes[..bytes.len().min(FLATBUFFER_LIMIT)];
    let m = fb::root_as_model_with_opts(&opts, flat).map_err(|e| ReadError::Verification(e.to_string()))?;
    let base = bytes.as_ptr() as usize;
    let mut buffers = Vec::new();
    for (i, b) in m.buffers().iter().flatten().enumerate() {
        let d = buffer_bytes(bytes, &b, i)?;
        buffers.push(BufferSpan {
            // The slice lies inside `bytes`, so the difference is its offset.
            offset: (d.as_ptr() as usize).saturating_sub(base),
            len: d.len(),
            after_flatbuffer: b.offset() > 1,
        });
    }
    let op_codes = m
        .operator_codes()
        .iter()
        .flatten()
        .map(|c| OpCodeEntry {
            builtin_code: c.builtin_code().0,
            deprecated_builtin_code: c.deprecated_builtin_code(),
            version: c.version(),
            custom_code: c.custom_code().map(str::to_string),
        })
        .collect();
    let metadata = m.metadata().iter().flatten().map(|md| (md.name().unwrap_or("").to_string(), md.buffer())).collect();
    Ok(FileLayout { buffers, op_codes, metadata })
}

/// The files of the zip archive appended to the model, if there is one.
///
/// Only an archive after the model's constant data counts. With TFLite
/// Support metadata, a broken archive is an error. Without it,
/// trailing bytes that do not form an archive are ignored (they cannot be
/// told apart from chance `PK` bytes in constant data).
fn read_archive(bytes: &[u8], data_end: usize, metadata: &[Metadata]) -> Result<Vec<PackedFile>, ReadError> {
    let has_metadata = metadata.iter().any(|m| m.name == crate::metadata::TFLITE_METADATA);
    match crate::zip::find_archive(bytes) {
        // Found by fuzzing: a zip held in a constant buffer is model data;
        // reading it as associated files made a write-read round trip grow
        // files the model never had.
        Ok(Some(archive)) if archive.start() < data_end => Ok(Vec::new()),
        Ok(Some(archive)) => Ok(archive
            .entries()
            .iter()
            .map(|e| PackedFile { name: e.name.clone(), data: ConstData::from_bytes(e.data.to_vec()) })
            .collect()),
        Ok(None) => Ok(Vec::new()),
        Err(e) if has_metadata => Err(ReadError::Archive(e)),
        Err(_) => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod op_tests {
    use super::*;

    #[test]
    fn options_of_another_table_are_an_error() {
        let shape = fb::BuiltinOptionsT::ShapeOptions(Box::default());
        let none2 = fb::BuiltinOptions2T::NONE;
        // FLOOR (generated) takes no options; ADD (hand) takes AddOptions.
        let e = op_from(8, 1, shape.clone(), none2.clone()).expect_err("FLOOR with ShapeOptions");
        assert!(e.contains("ShapeOptions (expected none)"), "{e}");
        let e = op_from(0, 1, shape, none2.clone()).expect_err("ADD with ShapeOptions");
        assert!(e.contains("ShapeOptions (expected AddOptions)"), "{e}");
        // An unknown enum value is an error too.
        let bad = fb::BuiltinOptionsT::L2NormOptions(Box::new(fb::L2NormOptionsT { fused_activation_function: fb::ActivationFunctionType(42) }));
        assert!(op_from(11, 1, bad, none2.clone()).is_err());
        // Codes newer than the schema stay opaque.
        assert!(matches!(op_from(5000, 3, fb::BuiltinOptionsT::NONE, none2), Ok(Op::Builtin(_))));
    }

    #[test]
    fn a_missing_options_table_reads_as_litert_reads_it() {
        use crate::model::*;
        let none = || (fb::BuiltinOptionsT::NONE, fb::BuiltinOptions2T::NONE);
        let read = |code: i32| {
            let (o, o2) = none();
            op_from(code, 1, o, o2)
        };
        // LiteRT zero-initialises the params of an op without its table, so
        // SOFTMAX's beta is 0 and ADD's pot_scale_int16 false (the schema's
        // default is true).
        assert_eq!(read(25), Ok(Op::Softmax { beta: 0.0 }));
        let mut add = AddSubOptions::default();
        add.pot_scale_int16 = false;
        assert_eq!(read(0), Ok(Op::Add(add)));
        assert_eq!(read(22), Ok(Op::Reshape { new_shape: None }));
        // Ops whose options LiteRT cannot do without are an error.
        for code in [3, 4, 1, 17, 12, 67, 118, 119, 129] {
            let e = read(code).expect_err("needs its table");
            assert!(e.contains("needs its"), "{code}: {e}");
        }
        // RESHAPE without a shape and CAST without types write no table, as
        // they read.
        for op in [Op::Reshape { new_shape: None }, Op::Cast(CastOptions::default())] {
            assert_eq!(crate::write::options_of(&op), none(), "{op:?}");
        }
        let shaped = Op::Reshape { new_shape: Some(vec![2, 3]) };
        let (o, o2) = crate::write::options_of(&shaped);
        assert_eq!(op_from(22, 1, o, o2), Ok(shaped));
    }

    #[test]
    fn opaque_ops_keep_their_versions_apart() {
        use crate::model::*;
        // Two ops of a code newer than the schema, at versions 1 and 2, and a
        // custom op: three op code entries, each version kept (a fuzz finding
        // once merged them).
        let opaque = |v: i32| Op::Builtin(OpaqueBuiltin { code: 300, version: v, options: fb::BuiltinOptionsT::NONE, options2: fb::BuiltinOptions2T::NONE });
        let mut sg = Subgraph::default();
        for i in 0..4 {
            sg.tensors.push(Tensor::new(format!("t{i}"), DType::F32, [1u32]));
        }
        sg.inputs = vec![TensorId(0)];
        sg.outputs = vec![TensorId(3)];
        sg.operators.push(Operator::new(opaque(1), &[TensorId(0)], &[TensorId(1)]));
        sg.operators.push(Operator::new(opaque(2), &[TensorId(1)], &[TensorId(2)]));
        sg.operators.push(Operator::new(Op::Custom(CustomOp::new("MyOp", Vec::new())), &[TensorId(2)], &[TensorId(3)]));
        let mut m = Model::default();
        m.subgraphs.push(sg);
        let bytes = crate::write::write_unvalidated(&m, &crate::write::WriteOptions::default()).expect("write");
        let layout = inspect(&bytes).expect("inspect");
        let versions: Vec<(i32, i32)> = layout.op_codes.iter().map(|c| (c.builtin_code, c.version)).collect();
        assert_eq!(versions, vec![(300, 1), (300, 2), (32, 1)]);
        let mut o = ReadOptions::default();
        o.validate = false;
        let back = read_with(&bytes, &o).expect("read back");
        assert_eq!(back.subgraphs[0].operators, m.subgraphs[0].operators);
    }
}
