//! Protobuf bytes to [`OGraph`]: nodes, attributes, initializers (inline or
//! external), value infos, opsets and metadata. Every size is checked
//! before it is allocated, and external data may not leave the model's
//! directory.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use onnx_protobuf::{attribute_proto::AttributeType, tensor_proto::DataLocation, Message, ModelProto, TensorProto};

use super::error::OnnxError;
use super::ir::*;
use super::Limits;
use crate::model::DType;

/// Deepest protobuf message nesting accepted.
const PROTOBUF_DEPTH: u32 = 64;

/// Maps an ONNX `TensorProto.DataType` to our element type.
pub(crate) fn onnx_dtype(code: i32) -> Option<DType> {
    Some(match code {
        1 => DType::F32,
        2 => DType::U8,
        3 => DType::I8,
        4 => DType::U16,
        5 => DType::I16,
        6 => DType::I32,
        7 => DType::I64,
        8 => DType::String,
        9 => DType::Bool,
        10 => DType::F16,
        11 => DType::F64,
        12 => DType::U32,
        13 => DType::U64,
        14 => DType::Complex64,
        15 => DType::Complex128,
        16 => DType::BF16,
        _ => return None,
    })
}

/// Where external data may be read from.
pub(crate) struct ExternalBase<'a> {
    pub dir: Option<&'a Path>,
}

struct Budget<'l> {
    limits: &'l Limits,
    constant_bytes: u64,
    /// Nodes read so far, nested graphs included.
    nodes: usize,
}

fn element_count(dims: &[i64], name: &str, limits: &Limits) -> Result<(Vec<usize>, u64), OnnxError> {
    let mut n: u64 = 1;
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let d = u64::try_from(d).map_err(|_| OnnxError::Invalid(format!("tensor {name:?} has negative dimension {d}")))?;
        n = n.checked_mul(d).ok_or_else(|| OnnxError::Limit(format!("tensor {name:?}: element count overflows")))?;
        out.push(usize::try_from(d).map_err(|_| OnnxError::Limit(format!("tensor {name:?}: dimension too large")))?);
    }
    if n > limits.max_tensor_elements {
        return Err(OnnxError::Limit(format!("tensor {name:?} has {n} elements (limit {})", limits.max_tensor_elements)));
    }
    Ok((out, n))
}

fn read_external(t: &TensorProto, base: &ExternalBase<'_>, bytes_needed: u64, limits: &Limits) -> Result<Vec<u8>, OnnxError> {
    let err = |detail: String| OnnxError::ExternalData { tensor: t.name.clone(), detail };
    let mut location = None;
    let mut offset: u64 = 0;
    let mut length: Option<u64> = None;
    for kv in &t.external_data {
        match kv.key.as_str() {
            "location" => location = Some(kv.value.clone()),
            "offset" => offset = kv.value.parse().map_err(|_| err(format!("bad offset {:?}", kv.value)))?,
            "length" => length = Some(kv.value.parse().map_err(|_| err(format!("bad length {:?}", kv.value)))?),
            _ => {}
        }
    }
    let location = location.ok_or_else(|| err("no location".into()))?;
    let dir = base.dir.ok_or_else(|| err("external data needs a base directory (use convert_file)".into()))?;
    let path = resolve_inside(dir, &location).map_err(err)?;
    let len = length.unwrap_or(bytes_needed);
    if len != bytes_needed {
        return Err(err(format!("length {len} does not match the {bytes_needed} bytes the tensor needs")));
    }
    if len > limits.max_constant_bytes {
        return Err(OnnxError::Limit(format!("external tensor {:?} of {len} bytes", t.name)));
    }
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let file_len = f.metadata().map_err(|e| err(e.to_string()))?.len();
    if offset.checked_add(len).is_none_or(|end| end > file_len) {
        return Err(err(format!("bytes {offset}..{offset}+{len} lie outside {} ({file_len} bytes)", path.display())));
    }
    f.seek(SeekFrom::Start(offset)).map_err(|e| err(e.to_string()))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).map_err(|e| err(e.to_string()))?;
    Ok(buf)
}

/// Resolves `location` against `dir`, rejecting absolute paths, `..`
/// components and symlinks that lead outside `dir`.
pub(crate) fn resolve_inside(dir: &Path, location: &str) -> Result<PathBuf, String> {
    let rel = Path::new(location);
    if rel.is_absolute() || location.starts_with('/') || location.starts_with('\\') || location.contains(':') {
        return Err(format!("external data path {location:?} is absolute"));
    }
    for c in rel.components() {
        match c {
            std::path::Component::Normal(_) | std::path::Component::CurDir => {}
            _ => return Err(format!("external data path {location:?} leaves the model directory")),
        }
    }
    let joined = dir.join(rel);
    let real_dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
    let real = joined.canonicalize().map_err(|e| format!("{}: {e}", joined.display()))?;
    if !real.starts_with(&real_dir) {
        return Err(format!("external data path {location:?} resolves outside the model directory"));
    }
    Ok(real)
}

/// Converts a `TensorProto` to [`TensorData`].
fn tensor_data(t: &mut TensorProto, base: &ExternalBase<'_>, budget: &mut Budget<'_>) -> Result<TensorData, OnnxError> {
    let name = &t.name;
    let dtype = onnx_dtype(t.data_type).ok_or_else(|| OnnxError::Invalid(format!("tensor {name:?} has unknown data type {}", t.data_type)))?;
    let (dims, n) = element_count(&t.dims, name, budget.limits)?;
    let Some(bytes_needed) = dtype.bytes_for(n) else {
        return Err(OnnxError::Invalid(format!("tensor {name:?} of type {dtype} cannot be a constant here")));
    };
    budget.constant_bytes = budget.constant_bytes.saturating_add(bytes_needed);
    if budget.constant_bytes > budget.limits.max_constant_bytes {
        return Err(OnnxError::Limit(format!("constants exceed {} bytes", budget.limits.max_constant_bytes)));
    }
    let bad = |what: &str, have: usize| {
        OnnxError::Invalid(format!("tensor {name:?}: {have} values in {what}, but its shape needs {n}"))
    };
    let bytes = if t.data_location.enum_value() == Ok(DataLocation::EXTERNAL) {
        read_external(t, base, bytes_needed, budget.limits)?
    } else if !t.raw_data.is_empty() || n == 0 {
        if t.raw_data.len() as u64 != bytes_needed {
            return Err(bad("raw_data bytes", t.raw_data.len()));
        }
        std::mem::take(&mut t.raw_data)
    } else {
        let n = n as usize;
        match dtype {
            DType::F32 => {
                if t.float_data.len() != n {
                    return Err(bad("float_data", t.float_data.len()));
                }
                bytemuck::cast_slice(&t.float_data).to_vec()
            }
            DType::F64 => {
                if t.double_data.len() != n {
                    return Err(bad("double_data", t.double_data.len()));
                }
                bytemuck::cast_slice(&t.double_data).to_vec()
            }
            DType::I64 => {
                if t.int64_data.len() != n {
                    return Err(bad("int64_data", t.int64_data.len()));
                }
                bytemuck::cast_slice(&t.int64_data).to_vec()
            }
            DType::U32 | DType::U64 => {
                if t.uint64_data.len() != n {
                    return Err(bad("uint64_data", t.uint64_data.len()));
                }
                if dtype == DType::U32 {
                    t.uint64_data.iter().flat_map(|v| (*v as u32).to_le_bytes()).collect()
                } else {
                    bytemuck::cast_slice(&t.uint64_data).to_vec()
                }
            }
            DType::I32 | DType::I16 | DType::U16 | DType::I8 | DType::U8 | DType::Bool | DType::F16 | DType::BF16 => {
                if t.int32_data.len() != n {
                    return Err(bad("int32_data", t.int32_data.len()));
                }
                let v = &t.int32_data;
                match dtype {
                    DType::I32 => bytemuck::cast_slice(v).to_vec(),
                    DType::I16 | DType::U16 | DType::F16 | DType::BF16 => v.iter().flat_map(|x| (*x as u16).to_le_bytes()).collect(),
                    _ => v.iter().map(|x| *x as u8).collect(),
                }
            }
            _ => return Err(OnnxError::Invalid(format!("tensor {name:?}: unsupported storage for {dtype}"))),
        }
    };
    Ok(TensorData { dtype, dims, bytes })
}

fn attribute(
    a: &mut onnx_protobuf::AttributeProto,
    base: &ExternalBase<'_>,
    budget: &mut Budget<'_>,
    scope: &Scope<'_>,
    opsets: &HashMap<String, i64>,
) -> Result<Attr, OnnxError> {
    Ok(match a.type_.enum_value() {
        Ok(AttributeType::FLOAT) => Attr::Float(a.f),
        Ok(AttributeType::INT) => Attr::Int(a.i),
        Ok(AttributeType::STRING) => Attr::Str(String::from_utf8_lossy(&a.s).into_owned()),
        Ok(AttributeType::TENSOR) => match a.t.as_mut() {
            Some(t) => Attr::Tensor(tensor_data(t, base, budget)?),
            None => return Err(OnnxError::Invalid(format!("attribute {:?} has no tensor", a.name))),
        },
        Ok(AttributeType::FLOATS) => Attr::Floats(a.floats.clone()),
        Ok(AttributeType::INTS) => Attr::Ints(a.ints.clone()),
        Ok(AttributeType::STRINGS) => Attr::Strings(a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect()),
        Ok(AttributeType::GRAPH) => match a.g.as_mut() {
            Some(body) => {
                let mut sub = OGraph { opsets: opsets.clone(), ..Default::default() };
                read_graph(body, &mut sub, base, budget, scope, opsets)
                    .map_err(|e| e.within(&format!("graph attribute {:?}", a.name)))?;
                Attr::Graph(Box::new(sub))
            }
            None => return Err(OnnxError::Invalid(format!("attribute {:?} has no graph", a.name))),
        },
        Ok(AttributeType::GRAPHS) => Attr::Other("graphs"),
        Ok(AttributeType::SPARSE_TENSOR) | Ok(AttributeType::SPARSE_TENSORS) => Attr::Other("sparse_tensor"),
        Ok(AttributeType::TENSORS) => Attr::Other("tensors"),
        Ok(AttributeType::TYPE_PROTO) | Ok(AttributeType::TYPE_PROTOS) => Attr::Other("type_proto"),
        // Old exporters leave the type unset; infer it from what is filled.
        _ => {
            if !a.ints.is_empty() {
                Attr::Ints(a.ints.clone())
            } else if !a.floats.is_empty() {
                Attr::Floats(a.floats.clone())
            } else if !a.s.is_empty() {
                Attr::Str(String::from_utf8_lossy(&a.s).into_owned())
            } else if let Some(t) = a.t.as_mut() {
                Attr::Tensor(tensor_data(t, base, budget)?)
            } else if a.f != 0.0 {
                Attr::Float(a.f)
            } else {
                Attr::Int(a.i)
            }
        }
    })
}

fn value_info(v: &onnx_protobuf::ValueInfoProto) -> OValue {
    use onnx_protobuf::tensor_shape_proto::dimension::Value as DV;
    use onnx_protobuf::type_proto::Value as TV;
    let mut out = OValue::default();
    let mut ty = v.type_.as_ref().and_then(|t| t.value.as_ref());
    // An optional tensor is taken as the tensor: a TFLite input always
    // holds a value, so such a model runs when the caller gives one.
    if let Some(TV::OptionalType(o)) = ty {
        ty = o.elem_type.as_ref().and_then(|t| t.value.as_ref());
    }
    if let Some(TV::TensorType(t)) = ty {
        out.dtype = onnx_dtype(t.elem_type);
        out.shape = t.shape.as_ref().map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(DV::DimValue(n)) if *n >= 0 => ODim::Known(*n),
                    Some(DV::DimParam(p)) if !p.is_empty() => ODim::Sym(p.clone()),
                    _ => ODim::Unknown,
                })
                .collect()
        });
    }
    out
}

/// Parses ONNX bytes into a graph.
pub(crate) fn import(bytes: &[u8], base: &ExternalBase<'_>, limits: &Limits) -> Result<OGraph, OnnxError> {
    if bytes.len() as u64 > limits.max_model_bytes {
        return Err(OnnxError::Limit(format!("model of {} bytes (limit {})", bytes.len(), limits.max_model_bytes)));
    }
    // Nested messages recurse in the parser: bound the depth so that a
    // hostile file cannot overflow the stack (ONNX nests graph → node →
    // attribute → graph, so 64 levels allow sixteen nested subgraphs).
    super::wire::check_groups(bytes).map_err(OnnxError::Parse)?;
    let mut stream = protobuf::CodedInputStream::from_bytes(bytes);
    let model = parse(&mut stream)?;
    graph_of(model, base, limits)
}

/// Parses an ONNX file as it is read, so that its constants are copied once,
/// from the file into their own buffers, and the whole file is never held.
pub(crate) fn import_file(path: &Path, base: &ExternalBase<'_>, limits: &Limits) -> Result<OGraph, OnnxError> {
    let io = |source| OnnxError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > limits.max_model_bytes {
        return Err(OnnxError::Limit(format!("model of {len} bytes (limit {})", limits.max_model_bytes)));
    }
    // The group check sees every byte before the parser does; `take` holds
    // a file that grows while it is read to the limit.
    let reader = super::wire::CheckedReader::new(std::io::Read::take(file, limits.max_model_bytes));
    let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
    let mut stream = protobuf::CodedInputStream::from_buf_read(&mut reader);
    let model = parse(&mut stream)?;
    graph_of(model, base, limits)
}

fn parse(stream: &mut protobuf::CodedInputStream<'_>) -> Result<ModelProto, OnnxError> {
    let mut model = ModelProto::new();
    stream.set_recursion_limit(PROTOBUF_DEPTH);
    model.merge_from(stream).and_then(|()| stream.check_eof()).map_err(|e| OnnxError::Parse(e.to_string()))?;
    Ok(model)
}

fn graph_of(mut model: ModelProto, base: &ExternalBase<'_>, limits: &Limits) -> Result<OGraph, OnnxError> {
    let producer = format!("{} {}", model.producer_name, model.producer_version);
    let graph = model.graph.as_mut().ok_or_else(|| OnnxError::Invalid("the model has no graph".into()))?;
    let mut g = OGraph { producer, ..Default::default() };
    for o in &model.opset_import {
        let d = if o.domain == "ai.onnx" { String::new() } else { o.domain.clone() };
        g.opsets.insert(d, o.version);
    }
    if model.opset_import.is_empty() {
        // IR version 3 and older models without opset imports are opset 1.
        g.opsets.insert(String::new(), 1);
    }
    g.metadata = model.metadata_props.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
    let mut budget = Budget { limits, constant_bytes: 0, nodes: 0 };
    let opsets = g.opsets.clone();
    read_graph(graph, &mut g, base, &mut budget, &Scope { names: &HashSet::new(), depth: 0 }, &opsets)?;
    Ok(g)
}

/// Deepest nesting of graph attributes (If in a Loop body in an If ...).
pub(crate) const MAX_GRAPH_DEPTH: usize = 8;

/// The values of the enclosing graphs, as seen from a nested graph.
struct Scope<'s> {
    names: &'s HashSet<String>,
    depth: usize,
}

/// Reads `graph` into `g` (nodes, values, inputs and outputs), recursing into
/// graph attributes. In a nested graph, names that the graph does not define
/// but `outer` does are captures.
fn read_graph(
    graph: &mut onnx_protobuf::GraphProto,
    g: &mut OGraph,
    base: &ExternalBase<'_>,
    budget: &mut Budget<'_>,
    outer: &Scope<'_>,
    opsets: &HashMap<String, i64>,
) -> Result<(), OnnxError> {
    budget.nodes = budget.nodes.saturating_add(graph.node.len());
    if budget.nodes > budget.limits.max_nodes {
        return Err(OnnxError::Limit(format!("{} nodes (limit {})", budget.nodes, budget.limits.max_nodes)));
    }
    let mut initializers = HashSet::new();
    for t in graph.initializer.iter_mut() {
        let data = tensor_data(t, base, budget)?;
        initializers.insert(t.name.clone());
        let v = OValue { dtype: Some(data.dtype), shape: Some(data.dims.iter().map(|d| ODim::Known(*d as i64)).collect()), constant: Some(data) };
        g.values.insert(t.name.clone(), v);
    }
    if !graph.sparse_initializer.is_empty() {
        return Err(OnnxError::Invalid("sparse initializers are not supported".into()));
    }
    for vi in graph.input.iter().chain(&graph.output).chain(&graph.value_info) {
        if initializers.contains(&vi.name) {
            continue;
        }
        let info = value_info(vi);
        let entry = g.values.entry(vi.name.clone()).or_default();
        if entry.dtype.is_none() {
            entry.dtype = info.dtype;
        }
        if entry.shape.is_none() {
            entry.shape = info.shape;
        }
    }
    g.inputs = graph.input.iter().filter(|i| !initializers.contains(&i.name)).map(|i| i.name.clone()).collect();
    g.outputs = graph.output.iter().map(|o| o.name.clone()).collect();
    if g.outputs.is_empty() {
        return Err(OnnxError::Invalid("the graph has no outputs".into()));
    }
    // What nested graphs may read: ours and our enclosing graphs' values.
    let mut visible: HashSet<String> = outer.names.clone();
    let has_graphs = graph.node.iter().any(|n| n.attribute.iter().any(|a| !a.g.is_none() || !a.graphs.is_empty()));
    if has_graphs {
        if outer.depth >= MAX_GRAPH_DEPTH {
            return Err(OnnxError::Limit(format!("graph attributes nested deeper than {MAX_GRAPH_DEPTH}")));
        }
        visible.extend(g.inputs.iter().cloned());
        visible.extend(initializers.iter().cloned());
        visible.extend(graph.node.iter().flat_map(|n| n.output.iter().filter(|o| !o.is_empty()).cloned()));
    }
    let inner = Scope { names: &visible, depth: outer.depth + 1 };
    let mut produced: HashMap<String, usize> = HashMap::new();
    let nodes = std::mem::take(&mut graph.node);
    for (i, mut n) in nodes.into_iter().enumerate() {
        let mut attrs = Vec::with_capacity(n.attribute.len());
        let mut implicit: Vec<String> = Vec::new();
        for a in n.attribute.iter_mut() {
            let attr = attribute(a, base, budget, &inner, opsets)?;
            if let Attr::Graph(sub) = &attr {
                implicit.extend(sub.captures.iter().cloned());
            }
            attrs.push((a.name.clone(), attr));
        }
        implicit.sort();
        implicit.dedup();
        for o in n.output.iter().filter(|o| !o.is_empty()) {
            if produced.insert(o.clone(), i).is_some() || initializers.contains(o) || g.inputs.contains(o) || outer.names.contains(o) {
                return Err(OnnxError::Invalid(format!("value {o:?} is produced more than once")));
            }
        }
        g.nodes.push(ONode {
            name: n.name.clone(),
            op_type: n.op_type.clone(),
            domain: if n.domain == "ai.onnx" { String::new() } else { n.domain.clone() },
            inputs: std::mem::take(&mut n.input),
            outputs: n.output.clone(),
            attrs,
            implicit,
        });
    }
    // A nested graph reads what it does not define from enclosing scopes.
    if outer.depth > 0 {
        let mut defined: HashSet<&String> = g.inputs.iter().chain(initializers.iter()).collect();
        defined.extend(g.nodes.iter().flat_map(|n| n.outputs.iter()));
        let mut captures: Vec<String> = g
            .nodes
            .iter()
            .flat_map(|n| n.inputs.iter().chain(n.implicit.iter()))
            .chain(g.outputs.iter())
            .filter(|x| !x.is_empty() && !defined.contains(x) && outer.names.contains(*x))
            .cloned()
            .collect();
        captures.sort();
        captures.dedup();
        g.captures = captures;
    }
    topo_sort(g, outer.names)?;
    Ok(())
}

/// Orders nodes so that every input is produced before use; reports cycles
/// and values that nothing produces.
fn topo_sort(g: &mut OGraph, outer: &HashSet<String>) -> Result<(), OnnxError> {
    let mut available: HashSet<String> = g.inputs.iter().cloned().collect();
    available.extend(outer.iter().cloned());
    for (k, v) in &g.values {
        if v.constant.is_some() {
            available.insert(k.clone());
        }
    }
    let mut remaining: Vec<ONode> = std::mem::take(&mut g.nodes);
    let mut ordered = Vec::with_capacity(remaining.len());
    loop {
        let before = remaining.len();
        let mut rest = Vec::new();
        for n in remaining {
            if n.inputs.iter().chain(&n.implicit).all(|i| i.is_empty() || available.contains(i)) {
                for o in &n.outputs {
                    available.insert(o.clone());
                }
                ordered.push(n);
            } else {
                rest.push(n);
            }
        }
        remaining = rest;
        if remaining.is_empty() {
            break;
        }
        if remaining.len() == before {
            let n = &remaining[0];
            let missing: Vec<&String> = n.inputs.iter().chain(&n.implicit).filter(|i| !i.is_empty() && !available.contains(*i)).collect();
            let produced_later = remaining.iter().any(|m| m.outputs.iter().any(|o| missing.contains(&o)));
            return Err(if produced_later {
                OnnxError::Invalid(format!("the graph has a cycle through node {:?} ({})", n.label(), n.op_type))
            } else {
                OnnxError::Invalid(format!("node {:?} ({}) reads {:?}, which nothing produces (missing initializer?)", n.label(), n.op_type, missing))
            });
        }
    }
    for o in &g.outputs {
        if !available.contains(o) {
            return Err(OnnxError::Invalid(format!("graph output {o:?} is never produced")));
        }
    }
    g.nodes = ordered;
    Ok(())
}
