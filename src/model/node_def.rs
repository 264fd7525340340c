//! TensorFlow `NodeDef`s for select-TF (Flex) ops.
//!
//! A Flex op's custom options carry a serialized `tensorflow.NodeDef`: the
//! TensorFlow op name, input names and attributes, from which the Flex
//! delegate builds the TensorFlow kernel. [`NodeDef`] writes that protobuf
//! (fields `name` 1, `op` 2, `input` 3, `attr` 5; `AttrValue` with `list` 1,
//! `s` 2, `i` 3, `f` 4, `b` 5, `type` 6, `shape` 7) without a protobuf
//! dependency.
//!
//! ```
//! use tflite_forge::{AttrValue, CustomOp, DType, NodeDef};
//!
//! let erf = NodeDef::new("erf", "Erf").input("x").attr("T", AttrValue::Type(DType::F32));
//! let op = CustomOp::flex_node(&erf);
//! assert_eq!(op.name, "FlexErf");
//! let (name, bytes) = op.flex_op().unwrap().unwrap();
//! assert_eq!(name, "Erf");
//! assert_eq!(bytes, erf.to_bytes());
//! ```

use super::DType;

/// One attribute value of a [`NodeDef`] (TensorFlow's `AttrValue`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AttrValue {
    /// `type`: an element type.
    Type(DType),
    /// `i`: an integer.
    Int(i64),
    /// `f`: a float.
    Float(f32),
    /// `b`: a bool.
    Bool(bool),
    /// `s`: a string or bytes.
    Str(Vec<u8>),
    /// `shape`: a shape; `None` is an unknown rank, −1 an unknown dimension.
    Shape(Option<Vec<i64>>),
    /// `list.i`: integers.
    IntList(Vec<i64>),
    /// `list.f`: floats.
    FloatList(Vec<f32>),
    /// `list.type`: element types.
    TypeList(Vec<DType>),
}

/// A TensorFlow `NodeDef`: what a select-TF op runs.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct NodeDef {
    /// The node name.
    pub name: String,
    /// The TensorFlow op (`Erf`, `Roll`).
    pub op: String,
    /// The input names, one per op input.
    pub inputs: Vec<String>,
    /// The attributes, written in name order.
    pub attrs: Vec<(String, AttrValue)>,
}

/// TensorFlow's `DataType` enum value of an element type, if it has one.
pub fn tf_data_type(d: DType) -> Option<u64> {
    Some(match d {
        DType::F32 => 1,
        DType::F64 => 2,
        DType::I32 => 3,
        DType::U8 => 4,
        DType::I16 => 5,
        DType::I8 => 6,
        DType::String => 7,
        DType::Complex64 => 8,
        DType::I64 => 9,
        DType::Bool => 10,
        DType::BF16 => 14,
        DType::U16 => 17,
        DType::Complex128 => 18,
        DType::F16 => 19,
        DType::Resource => 20,
        DType::Variant => 21,
        DType::U32 => 22,
        DType::U64 => 23,
        _ => return None,
    })
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, u64::from(field) << 3 | u64::from(wire));
}

fn bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn packed(out: &mut Vec<u8>, field: u32, body: &[u8]) {
    if !body.is_empty() {
        bytes_field(out, field, body);
    }
}

fn shape_proto(dims: &Option<Vec<i64>>) -> Vec<u8> {
    let mut s = Vec::new();
    match dims {
        None => {
            key(&mut s, 3, 0);
            varint(&mut s, 1);
        }
        Some(dims) => {
            for d in dims {
                let mut dim = Vec::new();
                if *d != 0 {
                    key(&mut dim, 1, 0);
                    varint(&mut dim, *d as u64);
                }
                bytes_field(&mut s, 2, &dim);
            }
        }
    }
    s
}

impl AttrValue {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        match self {
            AttrValue::Type(d) => {
                key(&mut v, 6, 0);
                varint(&mut v, tf_data_type(*d).unwrap_or(0));
            }
            AttrValue::Int(i) => {
                key(&mut v, 3, 0);
                varint(&mut v, *i as u64);
            }
            AttrValue::Float(f) => {
                key(&mut v, 4, 5);
                v.extend_from_slice(&f.to_le_bytes());
            }
            AttrValue::Bool(b) => {
                key(&mut v, 5, 0);
                varint(&mut v, u64::from(*b));
            }
            AttrValue::Str(s) => bytes_field(&mut v, 2, s),
            AttrValue::Shape(dims) => bytes_field(&mut v, 7, &shape_proto(dims)),
            AttrValue::IntList(items) => {
                let mut body = Vec::new();
                for i in items {
                    varint(&mut body, *i as u64);
                }
                let mut list = Vec::new();
                packed(&mut list, 3, &body);
                bytes_field(&mut v, 1, &list);
            }
            AttrValue::FloatList(items) => {
                let body: Vec<u8> = items.iter().flat_map(|f| f.to_le_bytes()).collect();
                let mut list = Vec::new();
                packed(&mut list, 4, &body);
                bytes_field(&mut v, 1, &list);
            }
            AttrValue::TypeList(items) => {
                let mut body = Vec::new();
                for d in items {
                    varint(&mut body, tf_data_type(*d).unwrap_or(0));
                }
                let mut list = Vec::new();
                packed(&mut list, 6, &body);
                bytes_field(&mut v, 1, &list);
            }
        }
        v
    }
}

impl NodeDef {
    /// A node named `name` running TensorFlow op `op`, without inputs or
    /// attributes yet.
    pub fn new(name: impl Into<String>, op: impl Into<String>) -> NodeDef {
        NodeDef { name: name.into(), op: op.into(), inputs: Vec::new(), attrs: Vec::new() }
    }

    /// Adds an input name.
    pub fn input(mut self, name: impl Into<String>) -> NodeDef {
        self.inputs.push(name.into());
        self
    }

    /// Sets an attribute (replacing one of the same name).
    pub fn attr(mut self, name: impl Into<String>, value: AttrValue) -> NodeDef {
        let name = name.into();
        self.attrs.retain(|(n, _)| *n != name);
        self.attrs.push((name, value));
        self
    }

    /// The serialized `tensorflow.NodeDef`: deterministic, with attributes
    /// in name order as TensorFlow's own serializer writes map entries.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        bytes_field(&mut out, 1, self.name.as_bytes());
        bytes_field(&mut out, 2, self.op.as_bytes());
        for i in &self.inputs {
            bytes_field(&mut out, 3, i.as_bytes());
        }
        let mut attrs: Vec<&(String, AttrValue)> = self.attrs.iter().collect();
        attrs.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in attrs {
            let mut entry = Vec::new();
            bytes_field(&mut entry, 1, name.as_bytes());
            bytes_field(&mut entry, 2, &value.encode());
            bytes_field(&mut out, 5, &entry);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_protobuf() {
        let n = NodeDef::new("r", "Roll").input("x").attr("T", AttrValue::Type(DType::F32)).attr("Tshift", AttrValue::Type(DType::I32));
        let b = n.to_bytes();
        // name "r", op "Roll", input "x".
        assert_eq!(&b[..12], b"\x0a\x01r\x12\x04Roll\x1a\x01x");
        // attr map entry {key "T", value {type: DT_FLOAT}}.
        assert_eq!(&b[12..21], b"\x2a\x07\x0a\x01T\x12\x02\x30\x01");
        let s = AttrValue::Shape(Some(vec![2, -1])).encode();
        assert_eq!(s[0], 0x3a);
        let l = AttrValue::IntList(vec![1, 300]).encode();
        assert_eq!(l, b"\x0a\x05\x1a\x03\x01\xac\x02");
    }
}
