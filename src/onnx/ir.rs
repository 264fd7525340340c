//! The ONNX graph as the front end sees it: nodes, typed constant data,
//! attributes and value infos, independent of the protobuf types.

use std::collections::HashMap;

use crate::model::DType;

/// A dimension of an ONNX value's shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ODim {
    /// Known size.
    Known(i64),
    /// Named symbolic size (e.g. `batch`).
    Sym(String),
    /// Unknown.
    Unknown,
}


impl ODim {
    /// The size, if known.
    pub(crate) fn known(&self) -> Option<i64> {
        match self {
            ODim::Known(n) => Some(*n),
            _ => None,
        }
    }
}

/// Constant tensor data: element type, dimensions and little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TensorData {
    pub dtype: DType,
    pub dims: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl TensorData {
    pub(crate) fn len(&self) -> usize {
        self.dims.iter().product()
    }

    pub(crate) fn from_f32(dims: Vec<usize>, v: &[f32]) -> TensorData {
        TensorData { dtype: DType::F32, dims, bytes: bytemuck::cast_slice(v).to_vec() }
    }

    pub(crate) fn from_i64(dims: Vec<usize>, v: &[i64]) -> TensorData {
        TensorData { dtype: DType::I64, dims, bytes: bytemuck::cast_slice(v).to_vec() }
    }

    pub(crate) fn from_i32(dims: Vec<usize>, v: &[i32]) -> TensorData {
        TensorData { dtype: DType::I32, dims, bytes: bytemuck::cast_slice(v).to_vec() }
    }

    /// Values as f64 (for any numeric type), or `None` for non-numeric types.
    pub(crate) fn to_f64(&self) -> Option<Vec<f64>> {
        let b = &self.bytes;
        Some(match self.dtype {
            DType::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(b).into_iter().map(f64::from).collect(),
            DType::F64 => bytemuck::pod_collect_to_vec::<u8, f64>(b),
            DType::F16 => bytemuck::pod_collect_to_vec::<u8, u16>(b).into_iter().map(|x| f64::from(half::f16::from_bits(x))).collect(),
            DType::BF16 => bytemuck::pod_collect_to_vec::<u8, u16>(b).into_iter().map(|x| f64::from(half::bf16::from_bits(x))).collect(),
            DType::I64 => bytemuck::pod_collect_to_vec::<u8, i64>(b).into_iter().map(|x| x as f64).collect(),
            DType::I32 => bytemuck::pod_collect_to_vec::<u8, i32>(b).into_iter().map(f64::from).collect(),
            DType::I16 => bytemuck::pod_collect_to_vec::<u8, i16>(b).into_iter().map(f64::from).collect(),
            DType::U16 => bytemuck::pod_collect_to_vec::<u8, u16>(b).into_iter().map(f64::from).collect(),
            DType::I8 => b.iter().map(|x| f64::from(*x as i8)).collect(),
            DType::U8 | DType::Bool => b.iter().map(|x| f64::from(*x)).collect(),
            DType::U32 => bytemuck::pod_collect_to_vec::<u8, u32>(b).into_iter().map(f64::from).collect(),
            DType::U64 => bytemuck::pod_collect_to_vec::<u8, u64>(b).into_iter().map(|x| x as f64).collect(),
            _ => return None,
        })
    }

    /// Values as i64 (integers exactly; floats truncated), for shapes and axes.
    pub(crate) fn to_i64(&self) -> Option<Vec<i64>> {
        match self.dtype {
            DType::I64 => Some(bytemuck::pod_collect_to_vec::<u8, i64>(&self.bytes)),
            DType::I32 => Some(bytemuck::pod_collect_to_vec::<u8, i32>(&self.bytes).into_iter().map(i64::from).collect()),
            _ => self.to_f64().map(|v| v.into_iter().map(|x| x as i64).collect()),
        }
    }

    /// Values as f32.
    pub(crate) fn to_f32(&self) -> Option<Vec<f32>> {
        if self.dtype == DType::F32 {
            return Some(bytemuck::pod_collect_to_vec::<u8, f32>(&self.bytes));
        }
        self.to_f64().map(|v| v.into_iter().map(|x| x as f32).collect())
    }

    /// Builds data of `dtype` from f64 values (integers are rounded toward zero).
    pub(crate) fn from_f64(dtype: DType, dims: Vec<usize>, v: &[f64]) -> Option<TensorData> {
        let bytes: Vec<u8> = match dtype {
            DType::F32 => bytemuck::cast_slice(&v.iter().map(|x| *x as f32).collect::<Vec<_>>()).to_vec(),
            DType::F64 => bytemuck::cast_slice(v).to_vec(),
            DType::F16 => bytemuck::cast_slice(&v.iter().map(|x| half::f16::from_f64(*x).to_bits()).collect::<Vec<_>>()).to_vec(),
            DType::I64 => bytemuck::cast_slice(&v.iter().map(|x| *x as i64).collect::<Vec<_>>()).to_vec(),
            DType::I32 => bytemuck::cast_slice(&v.iter().map(|x| *x as i32).collect::<Vec<_>>()).to_vec(),
            DType::I16 => bytemuck::cast_slice(&v.iter().map(|x| *x as i16).collect::<Vec<_>>()).to_vec(),
            DType::I8 => v.iter().map(|x| (*x as i8) as u8).collect(),
            DType::U8 => v.iter().map(|x| *x as u8).collect(),
            DType::U16 => bytemuck::cast_slice(&v.iter().map(|x| *x as u16).collect::<Vec<_>>()).to_vec(),
            DType::U32 => bytemuck::cast_slice(&v.iter().map(|x| *x as u32).collect::<Vec<_>>()).to_vec(),
            DType::Bool => v.iter().map(|x| u8::from(*x != 0.0)).collect(),
            _ => return None,
        };
        Some(TensorData { dtype, dims, bytes })
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Attr {
    Float(f32),
    Int(i64),
    Str(String),
    Tensor(TensorData),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
    /// A graph (the body of If, Loop and Scan).
    Graph(Box<OGraph>),
    /// Other attributes we do not interpret.
    Other(&'static str),
}

/// An ONNX node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ONode {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    /// Input value names; "" for an omitted optional input.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(String, Attr)>,
    /// Values of enclosing scopes that the node's graph attributes read
    /// (sorted): they must exist before the node runs.
    pub implicit: Vec<String>,
}

impl ONode {
    /// A display name: the node name, or its first output.
    pub(crate) fn label(&self) -> String {
        if !self.name.is_empty() {
            self.name.clone()
        } else {
            self.outputs.first().cloned().unwrap_or_default()
        }
    }

    pub(crate) fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// Input `i`, if present and non-empty.
    pub(crate) fn input(&self, i: usize) -> Option<&str> {
        self.inputs.get(i).map(String::as_str).filter(|s| !s.is_empty())
    }

    /// The graph attribute `name`.
    pub(crate) fn graph_attr(&self, name: &str) -> Option<&OGraph> {
        match self.attr(name) {
            Some(Attr::Graph(g)) => Some(g),
            _ => None,
        }
    }
}

/// What is known about a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OValue {
    pub dtype: Option<DType>,
    /// `None` when the rank is unknown.
    pub shape: Option<Vec<ODim>>,
    /// The value, when constant.
    pub constant: Option<TensorData>,
}

/// A whole ONNX graph, or the body of a control-flow node.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OGraph {
    pub nodes: Vec<ONode>,
    /// Graph inputs that are not initializers, in order.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub values: HashMap<String, OValue>,
    /// Opset per domain ("" is the default domain).
    pub opsets: HashMap<String, i64>,
    /// `metadata_props` of the model.
    pub metadata: Vec<(String, String)>,
    pub producer: String,
    /// For a nested graph: the values of enclosing scopes it reads (sorted).
    pub captures: Vec<String>,
}

impl OGraph {
    pub(crate) fn value(&self, name: &str) -> Option<&OValue> {
        self.values.get(name)
    }

    pub(crate) fn constant(&self, name: &str) -> Option<&TensorData> {
        self.values.get(name).and_then(|v| v.constant.as_ref())
    }

    pub(crate) fn opset(&self, domain: &str) -> i64 {
        let d = if domain == "ai.onnx" { "" } else { domain };
        self.opsets.get(d).copied().unwrap_or(0)
    }
}
