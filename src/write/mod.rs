//! Serialisation of a [`Model`] to `.tflite` bytes.
//!
//! The output is deterministic (the same model gives the same bytes),
//! constant buffers are 16-byte aligned and stored once, buffer 0 is the
//! empty sentinel, 16 zero bytes follow the last buffer, op codes are
//! deduplicated with versions chosen by [`crate::version`], and a
//! `min_runtime_version` metadata entry is written. Models whose constants
//! do not fit a 2 GiB flatbuffer store them after it, addressed by
//! `Buffer.offset` and `Buffer.size`.

use std::collections::HashMap;
use std::path::Path;

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use crate::error::{Error, WriteError};
use crate::model::*;
use crate::schema::tflite as fb;
use crate::validate::validate;
use crate::version::{min_runtime_version, op_version};

mod region;
use region::{Bytes, Region};

/// Where constant data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BufferPlacement {
    /// Inside the flatbuffer, unless the model would exceed 2 GiB.
    #[default]
    Auto,
    /// Always after the flatbuffer, addressed by offset and size.
    AfterFlatbuffer,
}

/// Options for [`write_with`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Where constant data goes.
    pub buffers: BufferPlacement,
}

/// The largest flatbuffer the format addresses (offsets are 32-bit signed).
const FLATBUFFER_LIMIT: u64 = (1 << 31) - 1;
/// Room kept for tables and vtables when deciding whether data fits inline.
const TABLE_MARGIN: u64 = 64 << 20;
/// Alignment of constant data.
const ALIGN: usize = 16;
/// Zero bytes after the last buffer (XNNPACK reads past the end).
const TAIL: usize = 16;

/// Writes a model to bytes with default options.
///
/// ```
/// # use tflite_forge::{DType, ModelBuilder};
/// # let mut b = ModelBuilder::new();
/// # let mut g = b.subgraph("main");
/// # let x = g.input("x", DType::F32, [1]);
/// # let y = g.relu(x).unwrap();
/// # g.output("y", y);
/// # b.finish_subgraph(g).unwrap();
/// # let model = b.finish().unwrap();
/// let bytes = tflite_forge::write(&model)?;
/// assert_eq!(&bytes[4..8], b"TFL3");
/// assert_eq!(bytes, tflite_forge::write(&model)?); // deterministic
/// # Ok::<(), tflite_forge::WriteError>(())
/// ```
pub fn write(model: &Model) -> Result<Vec<u8>, WriteError> {
    write_with(model, &WriteOptions::default())
}

/// Writes a model to a file atomically: the bytes go to a temporary file in
/// the same directory, which is synced and renamed over `path` only when
/// complete. The file is streamed from the model's constants, so no second
/// copy of them is held in memory. Returns the file's size in bytes.
///
/// ```
/// # use tflite_forge::{DType, ModelBuilder};
/// # let mut b = ModelBuilder::new();
/// # let mut g = b.subgraph("main");
/// # let x = g.input("x", DType::F32, [1]);
/// # let y = g.relu(x).unwrap();
/// # g.output("y", y);
/// # b.finish_subgraph(g).unwrap();
/// # let model = b.finish().unwrap();
/// let path = std::env::temp_dir().join(format!("doc-write-file-{}.tflite", std::process::id()));
/// let size = tflite_forge::write::write_file(&model, &path)?;
/// assert_eq!(std::fs::read(&path)?, tflite_forge::write(&model)?);
/// assert_eq!(size, std::fs::metadata(&path)?.len());
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_file(model: &Model, path: impl AsRef<Path>) -> Result<u64, Error> {
    validate(model)?;
    let plan = plan(model, &WriteOptions::default())?;
    stream_to_file(model, plan, path.as_ref())
}

/// [`write_file`] for a model the caller gives up: each constant is freed
/// as soon as it is written, so the memory it held is free for the file's
/// own pages while the rest is written.
pub fn write_file_owned(mut model: Model, path: impl AsRef<Path>) -> Result<u64, Error> {
    validate(&model)?;
    let plan = plan(&model, &WriteOptions::default())?;
    for sg in &mut model.subgraphs {
        for t in &mut sg.tensors {
            t.data = None;
        }
    }
    stream_to_file(&model, plan, path.as_ref())
}

fn stream_to_file(model: &Model, plan: Plan, path: &Path) -> Result<u64, Error> {
    let mut size = 0;
    // A model that cannot be laid out is a write error, not an I/O error
    // of the path: kept here while the file is abandoned.
    let mut layout_error = None;
    let written = atomic_write_with(path, |f| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
        size = emit_file(model, plan, &mut w).map_err(|e| match e {
            EmitError::Io(e) => e,
            EmitError::Write(e) => {
                layout_error = Some(e);
                std::io::Error::other("the model cannot be laid out")
            }
        })?;
        std::io::Write::flush(&mut w)
    });
    match (written, layout_error) {
        (_, Some(e)) => Err(e.into()),
        (Err(e), None) => Err(e),
        (Ok(()), None) => Ok(size),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that
/// no partial file is ever left at `path`.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    atomic_write_with(path, |f| std::io::Write::write_all(f, bytes))
}

/// Runs `fill` on a temporary file next to `path`, then syncs it and renames
/// it over `path`; on any error the temporary file is removed.
fn atomic_write_with(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<(), Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// The constant buffers of a model, deduplicated, in order of first use.
struct Buffers {
    /// Unique contents; index `i` is written as buffer `i + 1`. These share
    /// the model's bytes; the writer lets each go once it is copied, which
    /// frees it when the model no longer holds it (see [`write_owned`]).
    data: Vec<ConstData>,
    /// Buffer index for each (subgraph, tensor).
    tensor_buffer: Vec<Vec<u32>>,
}

/// A cheap content key: length and a hash of up to 4 KiB sampled across
/// the data. Equal keys are confirmed by a full comparison.
fn sample_key(d: &[u8]) -> (usize, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let step = (d.len() / 4096).max(1);
    for b in d.iter().step_by(step) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    (d.len(), h)
}

fn collect_buffers(model: &Model) -> Buffers {
    let mut data: Vec<ConstData> = Vec::new();
    let mut index: HashMap<(usize, u64), Vec<u32>> = HashMap::new();
    let mut tensor_buffer = Vec::with_capacity(model.subgraphs.len());
    for sg in &model.subgraphs {
        let mut ids = Vec::with_capacity(sg.tensors.len());
        for t in &sg.tensors {
            let id = match &t.data {
                None => 0,
                Some(d) => {
                    let bytes = d.as_bytes();
                    let candidates = index.entry(sample_key(bytes)).or_default();
                    match candidates.iter().find(|&&c| data[c as usize - 1].as_bytes() == bytes) {
                        Some(&c) => c,
                        None => {
                            data.push(d.clone());
                            let c = data.len() as u32;
                            candidates.push(c);
                            c
                        }
                    }
                }
            };
            ids.push(id);
        }
        tensor_buffer.push(ids);
    }
    Buffers { data, tensor_buffer }
}

/// The options union of an op, in object form.
pub(crate) fn options_of(op: &Op) -> (fb::BuiltinOptionsT, fb::BuiltinOptions2T) {
    match op {
        Op::Builtin(b) => (b.options.clone(), b.options2.clone()),
        op => crate::model::write_typed_op(op).unwrap_or((fb::BuiltinOptionsT::NONE, fb::BuiltinOptions2T::NONE)),
    }
}

/// The key that identifies an op code entry.
#[derive(Clone, PartialEq, Eq, Hash)]
enum CodeKey {
    /// A typed builtin: one entry, version = max over its uses.
    Builtin(i32),
    /// An opaque builtin keeps the version it was read with.
    Opaque(i32, i32),
    /// A custom op, by name and version.
    Custom(String, i32),
}

/// Operator codes: one per typed builtin (version = max over its uses), one
/// per opaque builtin version and one per custom name and version, in order
/// of first use.
struct OpCodes {
    entries: Vec<(CodeKey, i32)>,
    /// Code index for each (subgraph, operator).
    index: Vec<Vec<u32>>,
}

fn collect_op_codes(model: &Model) -> OpCodes {
    let mut entries: Vec<(CodeKey, i32)> = Vec::new();
    let mut lookup: HashMap<CodeKey, usize> = HashMap::new();
    let mut index = Vec::with_capacity(model.subgraphs.len());
    for sg in &model.subgraphs {
        let mut ids = Vec::with_capacity(sg.operators.len());
        for node in &sg.operators {
            let key = match &node.op {
                Op::Custom(c) => CodeKey::Custom(c.name.clone(), c.version),
                Op::Builtin(b) => CodeKey::Opaque(b.code, b.version),
                op => CodeKey::Builtin(op.builtin_code()),
            };
            let v = op_version(sg, node);
            let i = *lookup.entry(key.clone()).or_insert_with(|| {
                entries.push((key, v));
                entries.len() - 1
            });
            entries[i].1 = entries[i].1.max(v);
            ids.push(i as u32);
        }
        index.push(ids);
    }
    OpCodes { entries, index }
}

fn quantization_t(q: &Quantization) -> fb::QuantizationParametersT {
    let v = |x: &Vec<f32>| (!x.is_empty()).then(|| x.clone());
    fb::QuantizationParametersT {
        min: v(&q.min),
        max: v(&q.max),
        scale: v(&q.scale),
        zero_point: (!q.zero_point.is_empty()).then(|| q.zero_point.clone()),
        details: match &q.details {
            None => fb::QuantizationDetailsT::NONE,
            Some(QuantDetails::Blockwise(b)) => fb::QuantizationDetailsT::BlockwiseQuantization(Box::new(fb::BlockwiseQuantizationT {
                scales: i32::try_from(b.scales.0).unwrap_or(i32::MAX),
                zero_points: b.zero_points.map_or(-1, |z| i32::try_from(z.0).unwrap_or(i32::MAX)),
                block_size: i32::try_from(b.block_size).unwrap_or(i32::MAX),
                block_shape: b.block_shape.clone(),
            })),
            Some(QuantDetails::Other(d)) => d.0.clone(),
        },
        quantized_dimension: q.axis,
    }
}

fn i32_len(n: usize, what: &str) -> Result<i32, WriteError> {
    i32::try_from(n).map_err(|_| WriteError::TooLarge(format!("{n} {what}")))
}

/// Where each buffer's data lives in the large-model layout.
struct External {
    /// (offset, size) per unique buffer, absolute in the file.
    places: Vec<(u64, u64)>,
}

/// Builds the flatbuffer's tables. Buffer data is not in them: each
/// `Buffer.data` points into the region that follows the tables
/// (`region`), and constants of the large-model layout carry their absolute
/// `offset` and `size` (`external`). The result's length is a multiple of 16.
fn build(model: &Model, plan: &Plan, region: &Region, external: Option<&External>, capacity: usize) -> Result<Vec<u8>, WriteError> {
    let Plan { bufs, codes, meta, .. } = plan;
    let mut fbb = FlatBufferBuilder::with_capacity(capacity);
    let n_const = bufs.data.len();
    let meta_start = 1 + n_const;

    // The Buffer tables first: they end up last, next to the region.
    let mut buffer_offsets = Vec::with_capacity(region.at.len());
    for (i, at) in region.at.iter().enumerate() {
        let place = match external {
            Some(e) if i >= 1 && i <= n_const => Some(e.places[i - 1]),
            _ => None,
        };
        let table = match (at, place) {
            (Some(at), _) => {
                // A uoffset is relative to where it is stored. The field is
                // pushed 4-aligned, so it will lie `from_end` bytes before
                // the end of the tables, and the region starts at that end.
                let start = fbb.start_table();
                let from_end = (fbb.unfinished_data().len() + 4).next_multiple_of(4) as u64;
                let rel = u32::try_from(at + from_end).map_err(|_| WriteError::TooLarge("buffer data past 4 GiB".into()))?;
                fbb.push_slot_always::<u32>(fb::Buffer::VT_DATA, rel);
                WIPOffset::new(fbb.end_table(start).value())
            }
            (None, Some((offset, size))) => fb::Buffer::create(&mut fbb, &fb::BufferArgs { data: None, offset, size }),
            (None, None) => fb::Buffer::create(&mut fbb, &fb::BufferArgs::default()),
        };
        buffer_offsets.push(table);
    }
    let buffers = fbb.create_vector(&buffer_offsets);

    let mut code_offsets = Vec::with_capacity(codes.entries.len());
    for (key, version) in &codes.entries {
        let (code, custom) = match key {
            CodeKey::Builtin(c) | CodeKey::Opaque(c, _) => (*c, None),
            CodeKey::Custom(name, _) => (fb::BuiltinOperator::CUSTOM.0, Some(fbb.create_string(name))),
        };
        code_offsets.push(fb::OperatorCode::create(
            &mut fbb,
            &fb::OperatorCodeArgs {
                deprecated_builtin_code: code.min(127) as i8,
                custom_code: custom,
                version: *version,
                builtin_code: fb::BuiltinOperator(code),
            },
        ));
    }
    let operator_codes = fbb.create_vector(&code_offsets);

    let mut sg_offsets = Vec::with_capacity(model.subgraphs.len());
    for (si, sg) in model.subgraphs.iter().enumerate() {
        let mut tensors = Vec::with_capacity(sg.tensors.len());
        for (ti, t) in sg.tensors.iter().enumerate() {
            let shape = fbb.create_vector(&t.shape.file_shape());
            let sig = t.shape.file_signature().map(|s| fbb.create_vector(&s));
            let name = fbb.create_string(&t.name);
            let quantization = t.quantization.as_ref().map(|q| quantization_t(q).pack(&mut fbb));
            let sparsity = t.sparsity.as_ref().map(|s| s.0.pack(&mut fbb));
            let variant_tensors = t.variant_types.as_ref().map(|v| {
                let items: Vec<_> = v.0.iter().map(|x| x.pack(&mut fbb)).collect();
                fbb.create_vector(&items)
            });
            tensors.push(fb::Tensor::create(
                &mut fbb,
                &fb::TensorArgs {
                    shape: Some(shape),
                    type_: fb::TensorType(t.dtype.code()),
                    buffer: bufs.tensor_buffer[si][ti],
                    name: Some(name),
                    quantization,
                    is_variable: t.is_variable,
                    sparsity,
                    shape_signature: sig,
                    has_rank: t.has_rank,
                    variant_tensors,
                    external_buffer: 0,
                },
            ));
        }
        let tensors = fbb.create_vector(&tensors);
        let ids = |v: &[TensorId]| v.iter().map(|t| t.0 as i32).collect::<Vec<_>>();
        let inputs = fbb.create_vector(&ids(&sg.inputs));
        let outputs = fbb.create_vector(&ids(&sg.outputs));
        let mut ops = Vec::with_capacity(sg.operators.len());
        for (oi, node) in sg.operators.iter().enumerate() {
            let ins: Vec<i32> = node.inputs.iter().map(|t| t.map_or(-1, |t| t.0 as i32)).collect();
            let ins = fbb.create_vector(&ins);
            let outs = fbb.create_vector(&ids(&node.outputs));
            let inter = (!node.intermediates.is_empty()).then(|| ids(&node.intermediates));
            let inter = inter.map(|v| fbb.create_vector(&v));
            let (opts, opts2) = options_of(&node.op);
            let custom = match &node.op {
                Op::Custom(c) => Some(fbb.create_vector(&c.options)),
                _ => None,
            };
            let opts_type = opts.builtin_options_type();
            let opts_off = opts.pack(&mut fbb);
            let opts2_type = opts2.builtin_options_2_type();
            let opts2_off = opts2.pack(&mut fbb);
            ops.push(fb::Operator::create(
                &mut fbb,
                &fb::OperatorArgs {
                    opcode_index: codes.index[si][oi],
                    inputs: Some(ins),
                    outputs: Some(outs),
                    builtin_options_type: opts_type,
                    builtin_options: opts_off,
                    custom_options: custom,
                    custom_options_format: fb::CustomOptionsFormat::FLEXBUFFERS,
                    mutating_variable_inputs: None,
                    intermediates: inter,
                    large_custom_options_offset: 0,
                    large_custom_options_size: 0,
                    builtin_options_2_type: opts2_type,
                    builtin_options_2: opts2_off,
                    debug_metadata_index: -1,
                },
            ));
        }
        let operators = fbb.create_vector(&ops);
        let name = fbb.create_string(&sg.name);
        sg_offsets.push(fb::SubGraph::create(
            &mut fbb,
            &fb::SubGraphArgs {
                tensors: Some(tensors),
                inputs: Some(inputs),
                outputs: Some(outputs),
                operators: Some(operators),
                name: Some(name),
                debug_metadata_index: -1,
            },
        ));
    }
    let subgraphs = fbb.create_vector(&sg_offsets);

    let mut meta_offsets = Vec::new();
    for (k, name) in meta.iter().map(|(n, _)| n.as_str()).enumerate() {
        let name = fbb.create_string(name);
        meta_offsets.push(fb::Metadata::create(
            &mut fbb,
            &fb::MetadataArgs { name: Some(name), buffer: (meta_start + k) as u32 },
        ));
    }
    let metadata = fbb.create_vector(&meta_offsets);

    let mut sig_offsets = Vec::new();
    for s in &model.signatures {
        let inputs = tensor_maps(&mut fbb, &s.inputs);
        let outputs = tensor_maps(&mut fbb, &s.outputs);
        let key = fbb.create_string(&s.key);
        sig_offsets.push(fb::SignatureDef::create(
            &mut fbb,
            &fb::SignatureDefArgs {
                inputs: Some(inputs),
                outputs: Some(outputs),
                signature_key: Some(key),
                subgraph_index: s.subgraph,
            },
        ));
    }
    let signature_defs = fbb.create_vector(&sig_offsets);
    let description = fbb.create_string(&model.description);

    let root = fb::Model::create(
        &mut fbb,
        &fb::ModelArgs {
            version: 3,
            operator_codes: Some(operator_codes),
            subgraphs: Some(subgraphs),
            description: Some(description),
            buffers: Some(buffers),
            metadata_buffer: None,
            metadata: Some(metadata),
            signature_defs: Some(signature_defs),
            external_buffer_groups: None,
            external_buffers: None,
        },
    );
    // Make the finished size a multiple of 16: `finish` adds 8 bytes (root
    // offset and identifier) and pads to at most 8.
    let used = fbb.unfinished_data().len();
    for _ in 0..(ALIGN + 8 - used % ALIGN) % ALIGN {
        fbb.push(0u8);
    }
    fbb.finish(root, Some("TFL3"));
    let len = fbb.finished_data().len();
    if len as u64 > FLATBUFFER_LIMIT {
        return Err(WriteError::TooLarge(format!("flatbuffer of {len} bytes exceeds 2 GiB")));
    }
    // The builder fills its buffer back to front; move the finished bytes
    // to the start in place rather than copying them to a new allocation.
    let (mut buf, head) = fbb.collapse();
    buf.drain(..head);
    Ok(buf)
}

fn tensor_maps<'b>(
    fbb: &mut FlatBufferBuilder<'b>,
    v: &[(String, TensorId)],
) -> WIPOffset<flatbuffers::Vector<'b, flatbuffers::ForwardsUOffset<fb::TensorMap<'b>>>> {
    let items: Vec<_> = v
        .iter()
        .map(|(n, t)| {
            let name = fbb.create_string(n);
            fb::TensorMap::create(fbb, &fb::TensorMapArgs { name: Some(name), tensor_index: t.0 })
        })
        .collect();
    fbb.create_vector(&items)
}

fn align_up(n: u64) -> u64 {
    n.div_ceil(ALIGN as u64) * ALIGN as u64
}

/// Writes a model to bytes with options (e.g. constants after the
/// flatbuffer, as models over 2 GiB need).
///
/// ```
/// use tflite_forge::write::{write_with, BufferPlacement, WriteOptions};
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [2]);
/// let c = g.constant_f32("c", [2], &[1.0, 2.0]);
/// let y = g.add(x, c).unwrap();
/// g.output("y", y);
/// b.finish_subgraph(g).unwrap();
/// let model = b.finish().unwrap();
/// let mut opts = WriteOptions::default();
/// opts.buffers = BufferPlacement::AfterFlatbuffer;
/// let bytes = write_with(&model, &opts).unwrap();
/// assert_eq!(tflite_forge::read(&bytes).unwrap(), model);
/// ```
pub fn write_with(model: &Model, options: &WriteOptions) -> Result<Vec<u8>, WriteError> {
    validate(model)?;
    write_unvalidated(model, options)
}

/// Writes without validating: only for producing deliberately broken files
/// in tests of the reader. Indices must still be in range for the writer's
/// own lookups; out-of-range tensor ids are written as they are.
#[doc(hidden)]
pub fn write_unvalidated(model: &Model, options: &WriteOptions) -> Result<Vec<u8>, WriteError> {
    let plan = plan(model, options)?;
    to_vec(model, plan)
}

/// Writes a model that the caller gives up, with the bytes of
/// [`write`]. Each constant is freed as soon as it is copied, so memory
/// peaks near one copy of the constants instead of two (the model's and the
/// bytes'). To write a file, [`write_file`] streams the constants instead
/// and holds no second copy at all.
///
/// ```
/// use tflite_forge::{DType, ModelBuilder};
/// let mut b = ModelBuilder::new();
/// let mut g = b.subgraph("main");
/// let x = g.input("x", DType::F32, [2]);
/// let c = g.constant_f32("c", [2], &[1.0, 2.0]);
/// let y = g.add(x, c).unwrap();
/// g.output("y", y);
/// b.finish_subgraph(g).unwrap();
/// let model = b.finish().unwrap();
/// let bytes = tflite_forge::write(&model)?;
/// assert_eq!(tflite_forge::write::write_owned(model)?, bytes);
/// # Ok::<(), tflite_forge::WriteError>(())
/// ```
pub fn write_owned(mut model: Model) -> Result<Vec<u8>, WriteError> {
    validate(&model)?;
    // Everything that looks at constant data (op versions among it) is
    // decided first; then the model lets go of its constants, so that the
    // plan holds the only reference to each.
    let plan = plan(&model, &WriteOptions::default())?;
    for sg in &mut model.subgraphs {
        for t in &mut sg.tensors {
            t.data = None;
        }
    }
    to_vec(&model, plan)
}

/// What the writer takes from the model before building: the buffers, the
/// metadata entries, the op codes with their versions, and where the
/// constants go.
struct Plan {
    bufs: Buffers,
    /// Metadata entries (name, bytes); their buffers follow the constants'.
    meta: Vec<(String, Vec<u8>)>,
    codes: OpCodes,
    /// Constants after the flatbuffer, addressed by offset and size.
    external: bool,
}

fn plan(model: &Model, options: &WriteOptions) -> Result<Plan, WriteError> {
    for sg in &model.subgraphs {
        i32_len(sg.tensors.len(), "tensors in one subgraph")?;
    }
    let bufs = collect_buffers(model);
    let data_bytes: u64 = bufs.data.iter().map(|d| align_up(d.len() as u64 + 4)).sum();
    let external = options.buffers == BufferPlacement::AfterFlatbuffer || data_bytes + TABLE_MARGIN > FLATBUFFER_LIMIT;
    let mut runtime = [0u8; 16];
    if let Some(v) = min_runtime_version(model) {
        runtime[..v.len()].copy_from_slice(v.as_bytes());
    }
    let mut meta = vec![(MIN_RUNTIME_VERSION.to_string(), runtime.to_vec())];
    if external {
        meta.push((BUFFER_LOCATION.to_string(), b"outside flatbuffers\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec()));
    }
    for m in &model.metadata {
        if m.name != MIN_RUNTIME_VERSION && m.name != BUFFER_LOCATION {
            meta.push((m.name.clone(), m.data.as_bytes().to_vec()));
        }
    }
    Ok(Plan { bufs, meta, codes: collect_op_codes(model), external })
}

/// Why emitting a file failed.
enum EmitError {
    Write(WriteError),
    Io(std::io::Error),
}

impl From<WriteError> for EmitError {
    fn from(e: WriteError) -> Self {
        EmitError::Write(e)
    }
}

/// The whole file in memory.
fn to_vec(model: &Model, plan: Plan) -> Result<Vec<u8>, WriteError> {
    // Room for the buffers and the tables, so that the bytes are not moved
    // as they grow.
    let data: usize = plan.bufs.data.iter().map(|d| d.len() + 2 * ALIGN).sum();
    let meta: usize = plan.meta.iter().map(|(_, d)| d.len() + 2 * ALIGN).sum();
    let tables: usize = model.subgraphs.iter().map(|sg| 256 * (sg.tensors.len() + sg.operators.len())).sum();
    let mut out = Vec::with_capacity(data.saturating_add(meta).saturating_add(tables).saturating_add(1 << 16));
    emit_file(model, plan, &mut out).map_err(|e| match e {
        EmitError::Write(e) => e,
        EmitError::Io(e) => WriteError::TooLarge(e.to_string()),
    })?;
    Ok(out)
}

/// Emits the file to `out`: the tables, the buffers, and the associated
/// files' archive. Returns its size.
fn emit_file<W: std::io::Write>(model: &Model, plan: Plan, out: &mut W) -> Result<u64, EmitError> {
    let n_const = plan.bufs.data.len();
    let n_all = 1 + n_const + plan.meta.len();
    let meta_sizes = plan.meta.iter().enumerate().map(|(k, (_, d))| (1 + n_const + k, d.len() as u64));
    let (tables, region, places) = if plan.external {
        // Metadata stays in the region; the constants go after it, at
        // absolute offsets. Two passes: the first fixes the tables' size
        // (offsets are written as non-default placeholders of the same
        // width), the second writes the real offsets.
        let region = Region::new(n_all, meta_sizes);
        let placeholder = External { places: plan.bufs.data.iter().map(|d| (u64::MAX, d.len() as u64)).collect() };
        let first = build(model, &plan, &region, Some(&placeholder), 1 << 16)?;
        let mut at = align_up(first.len() as u64 + region.len);
        let mut places = Vec::with_capacity(n_const);
        for d in &plan.bufs.data {
            places.push((at, d.len() as u64));
            at = align_up(at + d.len() as u64);
        }
        let tables = build(model, &plan, &region, Some(&External { places: places.clone() }), first.len())?;
        if tables.len() != first.len() {
            return Err(WriteError::TooLarge("flatbuffer size changed between layout passes".into()).into());
        }
        let mut absolute = vec![None; n_all];
        for (k, (off, _)) in places.iter().enumerate() {
            absolute[1 + k] = Some(*off);
        }
        (tables, region, absolute)
    } else {
        let const_sizes = plan.bufs.data.iter().enumerate().map(|(k, d)| (1 + k, d.len() as u64));
        let region = Region::new(n_all, const_sizes.chain(meta_sizes));
        let tables_guess: usize = model
            .subgraphs
            .iter()
            .map(|sg| {
                let tensors: usize = sg.tensors.iter().map(|t| 256 + t.name.len() + 8 * t.shape.dims().len()).sum();
                tensors + 256 * sg.operators.len() + 64 * (sg.inputs.len() + sg.outputs.len())
            })
            .sum::<usize>()
            .saturating_add(64 * n_all)
            .saturating_add(1 << 16);
        let tables = build(model, &plan, &region, None, tables_guess)?;
        if tables.len() as u64 + region.len > FLATBUFFER_LIMIT {
            return Err(WriteError::TooLarge(format!("flatbuffer of {} bytes exceeds 2 GiB", tables.len() as u64 + region.len)).into());
        }
        (tables, region, Vec::new())
    };
    let Plan { bufs, meta, .. } = plan;
    let mut buffers: Vec<Bytes> = Vec::with_capacity(n_all);
    buffers.push(Bytes::Owned(Vec::new()));
    buffers.extend(bufs.data.into_iter().map(Bytes::Const));
    buffers.extend(meta.into_iter().map(|(_, d)| Bytes::Owned(d)));
    let mut size = region::emit(out, &tables, &region, buffers, &places).map_err(EmitError::Io)?;
    if !model.associated_files.is_empty() {
        // The archive's offsets are absolute, so the whole file is a zip.
        let entries: Vec<crate::zip::Entry> = model
            .associated_files
            .iter()
            .map(|f| crate::zip::Entry { name: f.name.clone(), data: f.data.as_bytes().to_vec() })
            .collect();
        let archive = crate::zip::stored_archive(size, &entries).map_err(|e| WriteError::TooLarge(e.to_string()))?;
        out.write_all(&archive).map_err(EmitError::Io)?;
        size += archive.len() as u64;
    }
    Ok(size)
}
