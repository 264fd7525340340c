//! FlexBuffers: the schemaless binary format of the FlatBuffers project.
//!
//! TFLite stores custom-op `custom_options` in this format (when the
//! operator's `custom_options_format` is `FLEXBUFFERS`), and select-TF
//! ("Flex") operators keep their TensorFlow `NodeDef` in a flexbuffer vector
//! `[op_name, node_def]` (see [`flex_op_options`] and
//! [`parse_flex_op_options`]).
//!
//! This module decodes a whole buffer into an owned [`Value`] tree
//! ([`parse`], [`parse_with`]) and encodes a [`Value`] deterministically
//! ([`to_bytes`]).
//!
//! # The format in brief
//!
//! A buffer is read from its end: the last byte is the byte width (1, 2, 4
//! or 8) of the root slot, the byte before it is the root's *packed type*
//! (`type << 2 | log2(width)`), and the root slot sits just before those two
//! bytes. Null, bool, int, uint and float values are stored inline, in the
//! width of the slot that holds them. Everything else is stored earlier in
//! the buffer and the slot holds an unsigned offset that counts back from
//! the slot's own position to the data; the width bits of the packed type
//! then give the width of that data's length and element slots:
//!
//! - strings and blobs: a length in the value's width, then the bytes
//!   (strings also end in a NUL byte);
//! - keys: bytes ending in a NUL byte, with no length;
//! - untyped vectors: a length, the element slots, then one packed type byte
//!   per element;
//! - typed vectors (ints, uints, floats, bools or keys): a length and the
//!   element slots, all of one type; fixed typed vectors (2, 3 or 4 ints,
//!   uints or floats) have no length either;
//! - maps: an untyped vector of values, preceded by an offset to a typed
//!   vector of sorted keys and that key vector's byte width.
//!
//! # What the limits protect against
//!
//! Offsets may point anywhere earlier in the buffer, so several slots can
//! share one child and a buffer of a few hundred bytes can describe a tree
//! with billions of nodes (a vector of 8 offsets to the same vector of 8
//! offsets, 20 levels deep, is `8^20` values), or a cycle of references.
//! [`Limits`] bounds the nesting depth, the number of decoded values and the
//! total bytes of decoded strings, keys and blobs, so decoding any input
//! takes bounded time and memory. Every length read from the buffer is
//! checked against the bytes that are actually there, and counted against
//! the value limit, before anything is allocated. The decoder keeps its own
//! stack of open containers instead of recursing, and no input makes it
//! panic.

use std::collections::HashMap;
use std::fmt;

/// Type codes, the upper six bits of a packed type byte.
mod code {
    pub(super) const NULL: u8 = 0;
    pub(super) const INT: u8 = 1;
    pub(super) const UINT: u8 = 2;
    pub(super) const FLOAT: u8 = 3;
    pub(super) const KEY: u8 = 4;
    pub(super) const STRING: u8 = 5;
    pub(super) const INDIRECT_INT: u8 = 6;
    pub(super) const INDIRECT_UINT: u8 = 7;
    pub(super) const INDIRECT_FLOAT: u8 = 8;
    pub(super) const MAP: u8 = 9;
    pub(super) const VECTOR: u8 = 10;
    pub(super) const VECTOR_INT: u8 = 11;
    pub(super) const VECTOR_KEY: u8 = 14;
    pub(super) const VECTOR_STRING_DEPRECATED: u8 = 15;
    pub(super) const VECTOR_INT2: u8 = 16;
    pub(super) const VECTOR_FLOAT4: u8 = 24;
    pub(super) const BLOB: u8 = 25;
    pub(super) const BOOL: u8 = 26;
    pub(super) const VECTOR_BOOL: u8 = 36;
}

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// A decoded FlexBuffers value.
///
/// Typed vectors and fixed typed vectors decode into [`Value::Vector`] of
/// their element values; indirect ints, uints and floats decode like their
/// inline forms. Map entries come back in the file's key order (which a
/// well-formed buffer keeps sorted by bytes).
///
/// A FlexBuffers string is not required to be UTF-8: a string whose bytes
/// are valid UTF-8 decodes to [`Value::String`], any other string decodes to
/// [`Value::Blob`] with its bytes.
///
/// ```
/// use tflite_forge::flexbuffers::{self, Value};
///
/// let v = Value::Map(vec![
///     ("axis".into(), Value::Int(-1)),
///     ("name".into(), Value::String("softmax".into())),
/// ]);
/// let bytes = flexbuffers::to_bytes(&v);
/// let back = flexbuffers::parse(&bytes).unwrap();
/// assert_eq!(back, v);
/// assert_eq!(back.get("axis").and_then(Value::as_i64), Some(-1));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// The null value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer (`INT`, `INDIRECT_INT` or an element of an int vector).
    Int(i64),
    /// An unsigned integer (`UINT`, `INDIRECT_UINT` or a uint vector element).
    UInt(u64),
    /// A floating-point number (stored as 32 or 64 bits).
    Float(f64),
    /// A key: a NUL-terminated UTF-8 string outside a map's key list.
    Key(String),
    /// A length-prefixed UTF-8 string.
    String(String),
    /// Raw bytes: a blob, or a string that is not valid UTF-8.
    Blob(Vec<u8>),
    /// A vector (untyped, typed or fixed typed).
    Vector(Vec<Value>),
    /// A map, as `(key, value)` pairs in the order stored.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The text of a [`Value::String`] or [`Value::Key`].
    ///
    /// ```
    /// use tflite_forge::flexbuffers::Value;
    /// assert_eq!(Value::String("Conv2D".into()).as_str(), Some("Conv2D"));
    /// assert_eq!(Value::Int(3).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) | Value::Key(s) => Some(s),
            _ => None,
        }
    }

    /// The value of a [`Value::Int`], or of a [`Value::UInt`] that fits in
    /// an `i64`.
    ///
    /// ```
    /// use tflite_forge::flexbuffers::Value;
    /// assert_eq!(Value::Int(-4).as_i64(), Some(-4));
    /// assert_eq!(Value::UInt(7).as_i64(), Some(7));
    /// assert_eq!(Value::UInt(u64::MAX).as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        }
    }

    /// The value of a [`Value::Float`], or an integer converted to `f64`
    /// (which rounds integers beyond 2^53).
    ///
    /// ```
    /// use tflite_forge::flexbuffers::Value;
    /// assert_eq!(Value::Float(0.5).as_f64(), Some(0.5));
    /// assert_eq!(Value::Int(2).as_f64(), Some(2.0));
    /// assert_eq!(Value::Null.as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(f) => Some(f),
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            _ => None,
        }
    }

    /// Looks `key` up in a [`Value::Map`]; the first entry with that key
    /// wins. `None` for a missing key or a value that is not a map.
    ///
    /// ```
    /// use tflite_forge::flexbuffers::Value;
    /// let m = Value::Map(vec![("k".into(), Value::Bool(true))]);
    /// assert_eq!(m.get("k"), Some(&Value::Bool(true)));
    /// assert_eq!(m.get("missing"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The elements of a [`Value::Vector`].
    ///
    /// ```
    /// use tflite_forge::flexbuffers::Value;
    /// let v = Value::Vector(vec![Value::Int(1), Value::Null]);
    /// assert_eq!(v.as_vector().map(<[Value]>::len), Some(2));
    /// assert!(Value::Int(1).as_vector().is_none());
    /// ```
    pub fn as_vector(&self) -> Option<&[Value]> {
        match self {
            Value::Vector(items) => Some(items),
            _ => None,
        }
    }
}

/// Bounds on the work [`parse_with`] does for one buffer.
///
/// The struct is `#[non_exhaustive]`: start from [`Limits::default`] and
/// change the fields you need.
///
/// ```
/// use tflite_forge::flexbuffers::{self, FlexError, LimitKind, Limits, Value};
///
/// let mut limits = Limits::default();
/// limits.max_depth = 1;
/// let nested = flexbuffers::to_bytes(&Value::Vector(vec![Value::Vector(vec![])]));
/// let err = flexbuffers::parse_with(&nested, &limits).unwrap_err();
/// assert!(matches!(err, FlexError::LimitExceeded { limit: LimitKind::Depth, .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Deepest nesting of vectors and maps: a vector at the root is at depth
    /// 1, a vector inside it at depth 2; 0 allows no vector or map at all.
    pub max_depth: usize,
    /// Most values decoded in total, counting the root and every element of
    /// every vector and map (map keys are not counted separately). A
    /// container's elements are counted when it is opened, before room for
    /// them is allocated.
    pub max_values: usize,
    /// Most bytes of strings, keys (including map keys) and blobs decoded in
    /// total.
    pub max_bytes: usize,
}

impl Default for Limits {
    /// Depth 64, one million values, 64 MiB of string, key and blob bytes.
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_values: 1_000_000,
            max_bytes: 64 << 20,
        }
    }
}

/// Which of the [`Limits`] a buffer exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::max_depth`].
    Depth,
    /// [`Limits::max_values`].
    Values,
    /// [`Limits::max_bytes`].
    Bytes,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Depth => "nesting depth",
            LimitKind::Values => "value count",
            LimitKind::Bytes => "decoded byte",
        })
    }
}

/// Why a buffer could not be decoded. Offsets are byte positions in the
/// buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlexError {
    /// The buffer is shorter than its root needs.
    #[error("flexbuffer is {len} bytes, too short: need at least {needed}")]
    TooShort {
        /// The buffer length.
        len: usize,
        /// The least length the root needs.
        needed: usize,
    },
    /// The last byte, the root's byte width, is not 1, 2, 4 or 8.
    #[error("root byte width {width} at offset {offset} is not 1, 2, 4 or 8")]
    BadRootWidth {
        /// The byte found.
        width: u8,
        /// Where it is.
        offset: usize,
    },
    /// A map's key-vector byte width is not 1, 2, 4 or 8.
    #[error("map key vector byte width {width} at offset {offset} is not 1, 2, 4 or 8")]
    BadKeysWidth {
        /// The width found.
        width: u64,
        /// Where it is.
        offset: usize,
    },
    /// A float is stored in a slot narrower than 4 bytes.
    #[error("float at offset {offset} has byte width {width}, not 4 or 8")]
    BadFloatWidth {
        /// The slot width.
        width: usize,
        /// Where the float is.
        offset: usize,
    },
    /// A packed type byte names no FlexBuffers type.
    #[error("unknown value type {type_code} in type byte at offset {offset}")]
    BadType {
        /// The type code (the packed byte shifted right by 2).
        type_code: u8,
        /// Where the packed type byte is.
        offset: usize,
    },
    /// A read reaches past the end of the buffer.
    #[error("read of {len} bytes at offset {offset} runs past the end of the buffer")]
    OutOfBounds {
        /// Where the read starts.
        offset: usize,
        /// How many bytes it needs.
        len: usize,
    },
    /// The length prefix (or map header) of a value would sit before the
    /// start of the buffer.
    #[error("the header of the value at offset {offset} starts before the buffer")]
    HeaderOutOfBounds {
        /// Where the value's data starts.
        offset: usize,
    },
    /// An offset points before the start of the buffer.
    #[error("offset {offset} stored at byte {at} points before the start of the buffer")]
    OffsetOutOfRange {
        /// Where the offset is stored.
        at: usize,
        /// The offset read.
        offset: u64,
    },
    /// A vector, string or blob length runs past the end of the buffer.
    #[error("length {len} of the value at offset {offset} runs past the end of the buffer")]
    LengthOutOfRange {
        /// Where the value's data starts.
        offset: usize,
        /// The length read.
        len: u64,
    },
    /// A string or key has no NUL terminator where one must be.
    #[error("string or key at offset {offset} is not NUL-terminated")]
    NotNulTerminated {
        /// Where the string or key starts.
        offset: usize,
    },
    /// A key (or map key) is not valid UTF-8.
    #[error("key at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// Where the key starts.
        offset: usize,
    },
    /// A map's key vector and value vector differ in length.
    #[error("map at offset {offset} has {values} values but {keys} keys")]
    MapKeysMismatch {
        /// Where the map's values start.
        offset: usize,
        /// Length of the key vector.
        keys: u64,
        /// Length of the value vector.
        values: u64,
    },
    /// Decoding would exceed one of the [`Limits`].
    #[error("{limit} limit of {max} exceeded at offset {offset}")]
    LimitExceeded {
        /// Which limit.
        limit: LimitKind,
        /// Its value.
        max: usize,
        /// Where decoding was when it was exceeded.
        offset: usize,
    },
    /// The buffer decodes, but not to select-TF op options.
    #[error("not select-TF op options: {reason}")]
    NotFlexOpOptions {
        /// What is wrong.
        reason: &'static str,
    },
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/// Decodes a flexbuffer with the default [`Limits`].
///
/// ```
/// use tflite_forge::flexbuffers::{self, Value};
///
/// // The root int 1: value byte, packed type (INT << 2 | 8-bit), root width.
/// assert_eq!(flexbuffers::parse(&[0x01, 0x04, 0x01]), Ok(Value::Int(1)));
/// assert!(flexbuffers::parse(&[0x01]).is_err());
/// ```
pub fn parse(bytes: &[u8]) -> Result<Value, FlexError> {
    parse_with(bytes, &Limits::default())
}

/// Decodes a flexbuffer within `limits`.
///
/// ```
/// use tflite_forge::flexbuffers::{self, FlexError, LimitKind, Limits, Value};
///
/// let bytes = flexbuffers::to_bytes(&Value::String("0123456789".into()));
/// let mut limits = Limits::default();
/// limits.max_bytes = 4;
/// assert!(matches!(
///     flexbuffers::parse_with(&bytes, &limits),
///     Err(FlexError::LimitExceeded { limit: LimitKind::Bytes, .. })
/// ));
/// ```
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Value, FlexError> {
    let len = bytes.len();
    let too_short = |needed| FlexError::TooShort { len, needed };
    let (&root_width, rest) = bytes.split_last().ok_or(too_short(3))?;
    let (&packed, rest) = rest.split_last().ok_or(too_short(3))?;
    let width = usize::from(root_width);
    if !matches!(width, 1 | 2 | 4 | 8) {
        return Err(FlexError::BadRootWidth {
            width: root_width,
            offset: len - 1,
        });
    }
    let at = rest.len().checked_sub(width).ok_or(too_short(width + 2))?;
    let root = Slot::packed(at, width, packed, rest.len());
    Reader::new(bytes, limits).run(root)
}

/// Encodes `value` as a flexbuffer, deterministically.
///
/// The layout follows the reference builders: every vector and map uses the
/// smallest byte width that holds its length, inline scalars and offsets;
/// ints are `INT`, uints `UINT`, floats `FLOAT` (32-bit when the value
/// survives a round trip through `f32`); strings, keys, blobs, vectors and
/// maps are stored before their parent and referenced by offset. Vectors are
/// untyped. Map entries are sorted by key bytes (a stable sort, so duplicate
/// keys keep their order) and keys are pooled: equal keys are written once.
/// The format cannot hold a NUL byte inside a key, so keys (map keys and
/// [`Value::Key`]) are cut at their first NUL byte.
///
/// ```
/// use tflite_forge::flexbuffers::{self, Value};
///
/// assert_eq!(flexbuffers::to_bytes(&Value::Int(1)), [0x01, 0x04, 0x01]);
/// let v = Value::Vector(vec![Value::Float(1.5), Value::Blob(vec![0, 255])]);
/// assert_eq!(flexbuffers::parse(&flexbuffers::to_bytes(&v)).unwrap(), v);
/// ```
pub fn to_bytes(value: &Value) -> Vec<u8> {
    let mut w = Writer::default();
    let root = w.value(value);
    w.finish(root)
}

/// Encodes the `custom_options` of a select-TF (Flex) operator: the vector
/// `[op_name, node_def]`, with both elements stored as flexbuffer strings as
/// TensorFlow's converter does (`node_def` is the serialized `NodeDef`
/// protobuf and may hold any bytes).
///
/// ```
/// use tflite_forge::flexbuffers;
///
/// let opts = flexbuffers::flex_op_options("Erf", b"\x0a\x03Erf");
/// let (name, node_def) = flexbuffers::parse_flex_op_options(&opts).unwrap();
/// assert_eq!(name, "Erf");
/// assert_eq!(node_def, b"\x0a\x03Erf");
/// ```
pub fn flex_op_options(op_name: &str, node_def: &[u8]) -> Vec<u8> {
    let mut w = Writer::default();
    let name = w.sized(op_name.as_bytes(), code::STRING);
    let def = w.sized(node_def, code::STRING);
    let root = w.vector(&[name, def], code::VECTOR, None);
    w.finish(root)
}

/// Decodes the `custom_options` of a select-TF (Flex) operator into the op
/// name and the serialized `NodeDef` bytes, with the default [`Limits`].
///
/// The root must be a vector whose first element is a string (the op name)
/// and whose second is a string or blob (the `NodeDef`); further elements
/// are ignored, as TensorFlow's Flex delegate ignores them.
///
/// ```
/// use tflite_forge::flexbuffers::{self, FlexError, Value};
///
/// let opts = flexbuffers::flex_op_options("Roll", &[0x0a, 0x04]);
/// assert_eq!(
///     flexbuffers::parse_flex_op_options(&opts).unwrap(),
///     ("Roll".to_string(), vec![0x0a, 0x04])
/// );
/// let not_flex = flexbuffers::to_bytes(&Value::Int(3));
/// assert!(matches!(
///     flexbuffers::parse_flex_op_options(&not_flex),
///     Err(FlexError::NotFlexOpOptions { .. })
/// ));
/// ```
pub fn parse_flex_op_options(bytes: &[u8]) -> Result<(String, Vec<u8>), FlexError> {
    let not_flex = |reason| FlexError::NotFlexOpOptions { reason };
    let root = parse(bytes)?;
    let items = root
        .as_vector()
        .ok_or(not_flex("the root is not a vector"))?;
    let [name, node_def, ..] = items else {
        return Err(not_flex("the vector has fewer than 2 elements"));
    };
    let name = name
        .as_str()
        .ok_or(not_flex("element 0 (the op name) is not a string"))?;
    let node_def = match node_def {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Blob(b) => b.clone(),
        _ => return Err(not_flex("element 1 (the NodeDef) is not a string")),
    };
    Ok((name.to_owned(), node_def))
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// One slot to decode: where its inline bytes are and how to read them.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Position of the inline bytes (the scalar, or the offset).
    at: usize,
    /// Width of the inline bytes, set by the parent.
    parent_width: usize,
    /// Type code.
    ty: u8,
    /// Width of the pointed-to data (lengths, elements, indirect scalars).
    width: usize,
    /// Where the type came from, for errors.
    type_at: usize,
}

impl Slot {
    fn packed(at: usize, parent_width: usize, packed: u8, type_at: usize) -> Slot {
        Slot {
            at,
            parent_width,
            ty: packed >> 2,
            width: 1 << (packed & 3),
            type_at,
        }
    }
}

/// Decoding state: the buffer and what has been spent of the limits.
struct Reader<'a> {
    buf: &'a [u8],
    limits: &'a Limits,
    values: usize,
    bytes: usize,
}

/// A vector or map whose elements are being decoded.
struct Frame {
    kind: Kind,
    /// Where the element slots start.
    at: usize,
    /// Width of each element slot.
    width: usize,
    /// Number of elements.
    len: usize,
    /// The elements decoded so far.
    items: Vec<Value>,
}

/// How the elements of a [`Frame`] are typed.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Untyped vector: one packed type byte per element after the slots.
    Untyped,
    /// Typed or fixed typed vector: every element has this type code.
    Typed(u8),
    /// Map: values as in an untyped vector, keys in a typed key vector.
    Map { keys_at: usize, keys_width: usize },
}

/// What one slot turned out to hold.
enum Step {
    /// A complete value.
    Value(Value),
    /// A container whose elements are still to be decoded.
    Open(Frame),
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], limits: &'a Limits) -> Self {
        Reader {
            buf,
            limits,
            values: 0,
            bytes: 0,
        }
    }

    /// Decodes the tree under `root` with an explicit stack of open
    /// containers (no recursion, whatever the depth limit).
    fn run(&mut self, root: Slot) -> Result<Value, FlexError> {
        self.charge_values(1, root.at)?;
        let mut frame = match self.decode(root)? {
            Step::Value(value) => return Ok(value),
            Step::Open(frame) => frame,
        };
        self.enter(1, frame.at)?;
        let mut parents: Vec<Frame> = Vec::new();
        loop {
            if frame.items.len() < frame.len {
                match self.child(&frame)? {
                    Step::Value(value) => frame.items.push(value),
                    Step::Open(child) => {
                        self.enter(parents.len() + 2, child.at)?;
                        parents.push(std::mem::replace(&mut frame, child));
                    }
                }
            } else {
                let value = self.close(frame)?;
                match parents.pop() {
                    Some(parent) => {
                        frame = parent;
                        frame.items.push(value);
                    }
                    None => return Ok(value),
                }
            }
        }
    }

    /// Looks at the next element of `frame`.
    fn child(&mut self, frame: &Frame) -> Result<Step, FlexError> {
        let i = frame.items.len();
        // In bounds: `open` checked the slots (and type bytes) fit.
        let at = frame.at + i * frame.width;
        match frame.kind {
            Kind::Typed(code::STRING) => {
                let value = self.legacy_string(at, frame.width)?;
                Ok(Step::Value(value))
            }
            Kind::Typed(ty) => self.decode(Slot {
                at,
                parent_width: frame.width,
                ty,
                width: 1,
                type_at: frame.at,
            }),
            Kind::Untyped | Kind::Map { .. } => {
                let type_at = frame.at + frame.len * frame.width + i;
                let packed = self.byte(type_at)?;
                self.decode(Slot::packed(at, frame.width, packed, type_at))
            }
        }
    }

    /// The value of a container whose elements are all decoded.
    fn close(&mut self, frame: Frame) -> Result<Value, FlexError> {
        let Kind::Map {
            keys_at,
            keys_width,
        } = frame.kind
        else {
            return Ok(Value::Vector(frame.items));
        };
        let mut entries = Vec::with_capacity(frame.items.len());
        for (i, value) in frame.items.into_iter().enumerate() {
            // In bounds: `open_map` checked the key slots fit.
            let key_at = self.deref(keys_at + i * keys_width, keys_width)?;
            entries.push((self.key(key_at)?, value));
        }
        Ok(Value::Map(entries))
    }

    /// Decodes a leaf value, or opens a container.
    fn decode(&mut self, s: Slot) -> Result<Step, FlexError> {
        let w = s.width;
        match s.ty {
            code::VECTOR => {
                let at = self.target(s)?;
                let len = self.len_prefix(at, w)?;
                self.open(Kind::Untyped, at, w, len)
            }
            code::MAP => {
                let at = self.target(s)?;
                self.open_map(at, w)
            }
            code::VECTOR_INT..=code::VECTOR_STRING_DEPRECATED | code::VECTOR_BOOL => {
                let at = self.target(s)?;
                let len = self.len_prefix(at, w)?;
                let elem = match s.ty {
                    code::VECTOR_BOOL => code::BOOL,
                    ty => ty - code::VECTOR_INT + code::INT,
                };
                self.open(Kind::Typed(elem), at, w, len)
            }
            code::VECTOR_INT2..=code::VECTOR_FLOAT4 => {
                let at = self.target(s)?;
                // Three element types for each length 2, 3, 4.
                let k = s.ty - code::VECTOR_INT2;
                let elem = k % 3 + code::INT;
                self.open(Kind::Typed(elem), at, w, u64::from(k / 3 + 2))
            }
            _ => self.leaf(s).map(Step::Value),
        }
    }

    /// Decodes a scalar, key, string or blob.
    fn leaf(&mut self, s: Slot) -> Result<Value, FlexError> {
        let w = s.width;
        match s.ty {
            code::NULL => Ok(Value::Null),
            code::BOOL => Ok(Value::Bool(self.uint(s.at, s.parent_width)? != 0)),
            code::INT => Ok(Value::Int(self.int(s.at, s.parent_width)?)),
            code::UINT => Ok(Value::UInt(self.uint(s.at, s.parent_width)?)),
            code::FLOAT => Ok(Value::Float(self.float(s.at, s.parent_width)?)),
            code::INDIRECT_INT => Ok(Value::Int(self.int(self.target(s)?, w)?)),
            code::INDIRECT_UINT => Ok(Value::UInt(self.uint(self.target(s)?, w)?)),
            code::INDIRECT_FLOAT => Ok(Value::Float(self.float(self.target(s)?, w)?)),
            code::KEY => {
                let at = self.target(s)?;
                Ok(Value::Key(self.key(at)?))
            }
            code::STRING => {
                let at = self.target(s)?;
                self.string(at, w)
            }
            code::BLOB => {
                let at = self.target(s)?;
                self.blob(at, w)
            }
            ty => Err(FlexError::BadType {
                type_code: ty,
                offset: s.type_at,
            }),
        }
    }

    /// Opens a container of `len` elements whose slots start at `at`:
    /// checks that the slots (and type bytes) lie in the buffer and charges
    /// the elements to the value limit before allocating room for them.
    fn open(&mut self, kind: Kind, at: usize, width: usize, len: u64) -> Result<Step, FlexError> {
        let size = match kind {
            Kind::Typed(_) => width,
            Kind::Untyped | Kind::Map { .. } => width + 1,
        };
        let len = self.fit(at, len, size)?;
        self.charge_values(len, at)?;
        Ok(Step::Open(Frame {
            kind,
            at,
            width,
            len,
            items: Vec::with_capacity(len),
        }))
    }

    /// Opens a map: before `at` come the key vector's offset, its byte
    /// width and the length, then the values as in an untyped vector.
    fn open_map(&mut self, at: usize, width: usize) -> Result<Step, FlexError> {
        let len = self.len_prefix(at, width)?;
        let header = |n: usize| {
            at.checked_sub(n * width)
                .ok_or(FlexError::HeaderOutOfBounds { offset: at })
        };
        let keys_width_at = header(2)?;
        let keys_offset_at = header(3)?;
        let keys_width = match self.uint(keys_width_at, width)? {
            w @ (1 | 2 | 4 | 8) => w as usize,
            w => {
                return Err(FlexError::BadKeysWidth {
                    width: w,
                    offset: keys_width_at,
                });
            }
        };
        let keys_at = self.deref(keys_offset_at, width)?;
        let keys_len = self.len_prefix(keys_at, keys_width)?;
        if keys_len != len {
            return Err(FlexError::MapKeysMismatch {
                offset: at,
                keys: keys_len,
                values: len,
            });
        }
        self.fit(keys_at, len, keys_width)?;
        let kind = Kind::Map {
            keys_at,
            keys_width,
        };
        self.open(kind, at, width, len)
    }

    /// A length-prefixed, NUL-terminated string; not UTF-8 gives a blob.
    fn string(&mut self, at: usize, width: usize) -> Result<Value, FlexError> {
        let len = self.len_prefix(at, width)?;
        let end = at + self.fit(at, len, 1)?;
        if self.buf.get(end) != Some(&0) {
            return Err(FlexError::NotNulTerminated { offset: at });
        }
        let bytes = self.take(at, end)?;
        Ok(text_or_blob(bytes))
    }

    /// A length-prefixed blob.
    fn blob(&mut self, at: usize, width: usize) -> Result<Value, FlexError> {
        let len = self.len_prefix(at, width)?;
        let end = at + self.fit(at, len, 1)?;
        Ok(Value::Blob(self.take(at, end)?.to_vec()))
    }

    /// A key: NUL-terminated UTF-8 bytes.
    fn key(&mut self, at: usize) -> Result<String, FlexError> {
        let bytes = self.cstr(at)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| FlexError::InvalidUtf8 { offset: at })
    }

    /// An element of a `VECTOR_STRING_DEPRECATED`: the strings' length
    /// width was never recorded, so (like the reference readers) read up to
    /// the NUL terminator.
    fn legacy_string(&mut self, at: usize, width: usize) -> Result<Value, FlexError> {
        let target = self.deref(at, width)?;
        Ok(text_or_blob(self.cstr(target)?))
    }

    /// The bytes from `at` up to the next NUL, charged to the byte limit.
    fn cstr(&mut self, at: usize) -> Result<&'a [u8], FlexError> {
        let rest = self
            .buf
            .get(at..)
            .ok_or(FlexError::OutOfBounds { offset: at, len: 1 })?;
        let bytes = rest.split(|&b| b == 0).next().unwrap_or_default();
        if bytes.len() == rest.len() {
            return Err(FlexError::NotNulTerminated { offset: at });
        }
        self.charge_bytes(bytes.len(), at)?;
        Ok(bytes)
    }

    /// The bytes `at..end`, charged to the byte limit.
    fn take(&mut self, at: usize, end: usize) -> Result<&'a [u8], FlexError> {
        let len = end.saturating_sub(at);
        self.charge_bytes(len, at)?;
        self.buf
            .get(at..end)
            .ok_or(FlexError::OutOfBounds { offset: at, len })
    }

    // --- Primitive reads -------------------------------------------------

    fn byte(&self, at: usize) -> Result<u8, FlexError> {
        self.buf
            .get(at)
            .copied()
            .ok_or(FlexError::OutOfBounds { offset: at, len: 1 })
    }

    /// A little-endian unsigned integer of `width` (at most 8) bytes.
    fn uint(&self, at: usize, width: usize) -> Result<u64, FlexError> {
        let bytes = at
            .checked_add(width)
            .and_then(|end| self.buf.get(at..end))
            .ok_or(FlexError::OutOfBounds {
                offset: at,
                len: width,
            })?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A little-endian two's-complement integer of `width` bytes.
    fn int(&self, at: usize, width: usize) -> Result<i64, FlexError> {
        let u = self.uint(at, width)?;
        // Truncate to the stored width, then sign-extend.
        Ok(match width {
            1 => i64::from(u as u8 as i8),
            2 => i64::from(u as u16 as i16),
            4 => i64::from(u as u32 as i32),
            _ => u as i64,
        })
    }

    /// An IEEE float of 4 or 8 bytes.
    fn float(&self, at: usize, width: usize) -> Result<f64, FlexError> {
        match width {
            4 => Ok(f64::from(f32::from_bits(self.uint(at, 4)? as u32))),
            8 => Ok(f64::from_bits(self.uint(at, 8)?)),
            _ => Err(FlexError::BadFloatWidth { width, offset: at }),
        }
    }

    /// Follows the offset stored in `width` bytes at `at` back to its target.
    fn deref(&self, at: usize, width: usize) -> Result<usize, FlexError> {
        let offset = self.uint(at, width)?;
        u64::try_from(at)
            .ok()
            .and_then(|pos| pos.checked_sub(offset))
            .and_then(|target| usize::try_from(target).ok())
            .ok_or(FlexError::OffsetOutOfRange { at, offset })
    }

    /// The target of an offset slot.
    fn target(&self, s: Slot) -> Result<usize, FlexError> {
        self.deref(s.at, s.parent_width)
    }

    /// The length stored in the `width` bytes just before `at`.
    fn len_prefix(&self, at: usize, width: usize) -> Result<u64, FlexError> {
        let prefix = at
            .checked_sub(width)
            .ok_or(FlexError::HeaderOutOfBounds { offset: at })?;
        self.uint(prefix, width)
    }

    /// Checks that `count` items of `size` bytes fit between `at` and the
    /// end of the buffer; returns `count` as a `usize`.
    fn fit(&self, at: usize, count: u64, size: usize) -> Result<usize, FlexError> {
        usize::try_from(count)
            .ok()
            .filter(|&n| {
                n.checked_mul(size)
                    .and_then(|bytes| at.checked_add(bytes))
                    .is_some_and(|end| end <= self.buf.len())
            })
            .ok_or(FlexError::LengthOutOfRange {
                offset: at,
                len: count,
            })
    }

    // --- Limits ----------------------------------------------------------

    /// Checks that a container may open at nesting level `depth`.
    fn enter(&self, depth: usize, at: usize) -> Result<(), FlexError> {
        if depth > self.limits.max_depth {
            return Err(self.limit(LimitKind::Depth, at));
        }
        Ok(())
    }

    /// Counts `n` more decoded values.
    fn charge_values(&mut self, n: usize, at: usize) -> Result<(), FlexError> {
        match self.values.checked_add(n) {
            Some(total) if total <= self.limits.max_values => {
                self.values = total;
                Ok(())
            }
            _ => Err(self.limit(LimitKind::Values, at)),
        }
    }

    fn charge_bytes(&mut self, len: usize, at: usize) -> Result<(), FlexError> {
        match self.bytes.checked_add(len) {
            Some(total) if total <= self.limits.max_bytes => {
                self.bytes = total;
                Ok(())
            }
            _ => Err(self.limit(LimitKind::Bytes, at)),
        }
    }

    fn limit(&self, limit: LimitKind, offset: usize) -> FlexError {
        let max = match limit {
            LimitKind::Depth => self.limits.max_depth,
            LimitKind::Values => self.limits.max_values,
            LimitKind::Bytes => self.limits.max_bytes,
        };
        FlexError::LimitExceeded { limit, max, offset }
    }
}

/// `Value::String` for UTF-8 bytes, `Value::Blob` otherwise.
fn text_or_blob(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => Value::Blob(bytes.to_vec()),
    }
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/// What a slot holds once its value's data (if any) is written.
#[derive(Debug, Clone, Copy)]
enum Data {
    Int(i64),
    UInt(u64),
    Float(f64),
    /// Buffer position of data written earlier.
    At(usize),
}

/// A value ready to be placed in its parent's slot.
#[derive(Debug, Clone, Copy)]
struct Item {
    ty: u8,
    /// log2 of the byte width: for scalars the width the value needs, for
    /// strings and blobs that of their length, for vectors that of their
    /// slots.
    bits: u8,
    data: Data,
}

impl Item {
    fn scalar(ty: u8, bits: u8, data: Data) -> Item {
        Item { ty, bits, data }
    }

    /// log2 of the slot width this item needs if it is written as element
    /// `index` of a vector starting (after alignment) at `buf_len`.
    fn slot_bits(&self, buf_len: usize, index: usize) -> u8 {
        let Data::At(target) = self.data else {
            return self.bits;
        };
        // An offset grows with the slot position, which itself depends on
        // the slot width (padding and earlier slots): try each width.
        for bits in 0..3 {
            let width = 1usize << bits;
            let slot = buf_len + padding(buf_len, width) + index * width;
            if uint_bits(slot.saturating_sub(target) as u64) <= bits {
                return bits;
            }
        }
        3
    }

    /// The packed type byte stored for this item in a parent whose slots
    /// are `1 << parent_bits` bytes wide.
    fn packed_type(&self, parent_bits: u8) -> u8 {
        let bits = match self.data {
            Data::At(_) => self.bits,
            _ => self.bits.max(parent_bits),
        };
        (self.ty << 2) | bits
    }
}

/// The buffer under construction, with the pool of keys written so far.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
    keys: HashMap<Vec<u8>, usize>,
}

impl Writer {
    /// Writes the out-of-line parts of `v` and returns its slot item.
    fn value(&mut self, v: &Value) -> Item {
        match v {
            Value::Null => Item::scalar(code::NULL, 0, Data::UInt(0)),
            Value::Bool(b) => Item::scalar(code::BOOL, 0, Data::UInt(u64::from(*b))),
            Value::Int(i) => Item::scalar(code::INT, int_bits(*i), Data::Int(*i)),
            Value::UInt(u) => Item::scalar(code::UINT, uint_bits(*u), Data::UInt(*u)),
            Value::Float(f) => Item::scalar(code::FLOAT, float_bits(*f), Data::Float(*f)),
            Value::Key(k) => self.key(k.as_bytes()),
            Value::String(s) => self.sized(s.as_bytes(), code::STRING),
            Value::Blob(b) => self.sized(b, code::BLOB),
            Value::Vector(items) => {
                let items: Vec<Item> = items.iter().map(|v| self.value(v)).collect();
                self.vector(&items, code::VECTOR, None)
            }
            Value::Map(entries) => self.map(entries),
        }
    }

    /// Writes the root slot, its packed type and its width.
    fn finish(mut self, root: Item) -> Vec<u8> {
        let bits = root.slot_bits(self.buf.len(), 0);
        let width = self.align(bits);
        self.write_slot(root, width);
        self.buf.push(root.packed_type(0));
        self.buf.push(width as u8);
        self.buf
    }

    /// A string (with NUL terminator) or blob: aligned length, then bytes.
    fn sized(&mut self, bytes: &[u8], ty: u8) -> Item {
        let bits = uint_bits(bytes.len() as u64);
        let width = self.align(bits);
        self.write_uint(bytes.len() as u64, width);
        let at = self.buf.len();
        self.buf.extend_from_slice(bytes);
        if ty == code::STRING {
            self.buf.push(0);
        }
        Item {
            ty,
            bits,
            data: Data::At(at),
        }
    }

    /// A key, cut at its first NUL and written once per distinct key.
    fn key(&mut self, key: &[u8]) -> Item {
        let key = key_bytes(key);
        let at = match self.keys.get(key) {
            Some(&at) => at,
            None => {
                let at = self.buf.len();
                self.buf.extend_from_slice(key);
                self.buf.push(0);
                self.keys.insert(key.to_vec(), at);
                at
            }
        };
        Item::scalar(code::KEY, 0, Data::At(at))
    }

    /// Keys and values in entry order, then the sorted key vector and the
    /// value vector that refers to it.
    fn map(&mut self, entries: &[(String, Value)]) -> Item {
        // Entries are visited in key order (stable for duplicates), so keys
        // and values land in the buffer in the order a decoder returns them:
        // maps that differ only in entry order encode identically.
        let mut sorted: Vec<&(String, Value)> = entries.iter().collect();
        sorted.sort_by(|a, b| key_bytes(a.0.as_bytes()).cmp(key_bytes(b.0.as_bytes())));
        let mut pairs: Vec<(&[u8], Item, Item)> = Vec::with_capacity(entries.len());
        for (k, v) in sorted {
            let key = self.key(k.as_bytes());
            let value = self.value(v);
            pairs.push((key_bytes(k.as_bytes()), key, value));
        }
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        let keys: Vec<Item> = pairs.iter().map(|p| p.1).collect();
        let values: Vec<Item> = pairs.iter().map(|p| p.2).collect();
        let keys = self.vector(&keys, code::VECTOR_KEY, None);
        self.vector(&values, code::MAP, Some(keys))
    }

    /// An untyped vector (`VECTOR`), key vector (`VECTOR_KEY`, no type
    /// bytes) or map values (`MAP`, with the keys header), in the smallest
    /// width that holds its length, its header and every slot.
    fn vector(&mut self, items: &[Item], ty: u8, keys: Option<Item>) -> Item {
        let start = self.buf.len();
        let header = if keys.is_some() { 3 } else { 1 };
        let mut bits = uint_bits(items.len() as u64);
        if let Some(k) = keys {
            bits = bits.max(k.slot_bits(start, 0));
        }
        for (i, item) in items.iter().enumerate() {
            bits = bits.max(item.slot_bits(start, header + i));
        }
        let width = self.align(bits);
        if let Some(k) = keys {
            self.write_slot(k, width);
            self.write_uint(1 << k.bits, width);
        }
        self.write_uint(items.len() as u64, width);
        let at = self.buf.len();
        for item in items {
            self.write_slot(*item, width);
        }
        if ty != code::VECTOR_KEY {
            for item in items {
                self.buf.push(item.packed_type(bits));
            }
        }
        Item {
            ty,
            bits,
            data: Data::At(at),
        }
    }

    /// Pads with zeros to a multiple of `1 << bits`; returns that width.
    fn align(&mut self, bits: u8) -> usize {
        let width = 1usize << bits;
        let len = self.buf.len();
        self.buf.resize(len + padding(len, width), 0);
        width
    }

    fn write_uint(&mut self, v: u64, width: usize) {
        self.buf.extend(v.to_le_bytes().into_iter().take(width));
    }

    fn write_slot(&mut self, item: Item, width: usize) {
        let bits = match item.data {
            Data::Int(i) => i as u64,
            Data::UInt(u) => u,
            // Float items need at least 4 bytes, so a slot is 4 or 8 wide.
            Data::Float(f) if width >= 8 => f.to_bits(),
            Data::Float(f) => u64::from((f as f32).to_bits()),
            Data::At(target) => self.buf.len().saturating_sub(target) as u64,
        };
        self.write_uint(bits, width);
    }
}

/// Zero bytes needed after `len` to reach a multiple of `width` (a power of 2).
fn padding(len: usize, width: usize) -> usize {
    len.wrapping_neg() & (width - 1)
}

/// log2 of the smallest byte width holding `u` unsigned.
fn uint_bits(u: u64) -> u8 {
    match u {
        0..=0xff => 0,
        0x100..=0xffff => 1,
        0x1_0000..=0xffff_ffff => 2,
        _ => 3,
    }
}

/// log2 of the smallest byte width holding `i` in two's complement.
fn int_bits(i: i64) -> u8 {
    let doubled = (i as u64) << 1;
    uint_bits(if i >= 0 { doubled } else { !doubled })
}

/// 2 (4 bytes) when `f` survives a round trip through `f32`, else 3.
fn float_bits(f: f64) -> u8 {
    if f64::from(f as f32) == f { 2 } else { 3 }
}

/// The bytes of a key up to (not including) its first NUL.
fn key_bytes(key: &[u8]) -> &[u8] {
    key.split(|&b| b == 0).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    /// Appends a 1-byte root slot pointing back at `target`, the packed
    /// root type and the root width 1.
    fn rooted(mut data: Vec<u8>, target: usize, packed: u8) -> Vec<u8> {
        let offset = data.len() - target;
        data.extend_from_slice(&[offset as u8, packed, 1]);
        data
    }

    // --- Fixed encodings, for cross-checking against the Python reference
    // --- (`flatbuffers.flexbuffers.Dumps`).

    /// `Dumps(1)`: value 1 in one byte, packed type INT<<2|W8 = 0x04, width 1.
    #[test]
    fn fixed_int_one() {
        assert_eq!(to_bytes(&Value::Int(1)), [0x01, 0x04, 0x01]);
    }

    /// `Dumps(["a", "bc"])`:
    /// `01 'a' 00` (string at 1), `02 'b' 'c' 00` (string at 4), vector:
    /// length 02, offsets 8-1=7 and 9-4=5, types STRING<<2 = 0x14 twice;
    /// root offset 12-8=4, VECTOR<<2 = 0x28, width 1.
    #[test]
    fn fixed_vector_of_strings() {
        let v = Value::Vector(vec![s("a"), s("bc")]);
        let expected = [
            0x01, b'a', 0x00, 0x02, b'b', b'c', 0x00, 0x02, 0x07, 0x05, 0x14, 0x14, 0x04, 0x28,
            0x01,
        ];
        assert_eq!(to_bytes(&v), expected);
        assert_eq!(parse(&expected), Ok(v));
    }

    /// `Dumps({"a": 1, "b": 2})`:
    /// keys `'a' 00 'b' 00` at 0 and 2; key vector: length 02, offsets
    /// 5-0=5, 6-2=4 (vector at 5); values: keys offset 7-5=2, keys width 01,
    /// length 02, values 01 02 (at 10), types INT<<2 = 0x04 twice; root
    /// offset 14-10=4, MAP<<2 = 0x24, width 1.
    #[test]
    fn fixed_map() {
        let v = Value::Map(vec![
            ("a".into(), Value::Int(1)),
            ("b".into(), Value::Int(2)),
        ]);
        let expected = [
            b'a', 0x00, b'b', 0x00, 0x02, 0x05, 0x04, 0x02, 0x01, 0x02, 0x01, 0x02, 0x04, 0x04,
            0x04, 0x24, 0x01,
        ];
        assert_eq!(to_bytes(&v), expected);
        assert_eq!(parse(&expected), Ok(v));
    }

    /// TensorFlow's converter output for a Flex op `Foo` with NodeDef bytes
    /// `ab`: a vector of two strings.
    #[test]
    fn fixed_flex_op_options() {
        let expected = [
            0x03, b'F', b'o', b'o', 0x00, 0x02, b'a', b'b', 0x00, 0x02, 0x09, 0x05, 0x14, 0x14,
            0x04, 0x28, 0x01,
        ];
        assert_eq!(flex_op_options("Foo", b"ab"), expected);
        assert_eq!(
            parse_flex_op_options(&expected),
            Ok(("Foo".to_owned(), b"ab".to_vec()))
        );
    }

    // --- Scalars and widths.

    #[test]
    fn scalar_roots() {
        assert_eq!(to_bytes(&Value::Int(-1)), [0xff, 0x04, 0x01]);
        // 300 needs 16 bits: INT<<2|W16 = 0x05, root width 2.
        assert_eq!(to_bytes(&Value::Int(300)), [0x2c, 0x01, 0x05, 0x02]);
        assert_eq!(to_bytes(&Value::UInt(255)), [0xff, 0x08, 0x01]);
        assert_eq!(to_bytes(&Value::Bool(true)), [0x01, 0x68, 0x01]);
        assert_eq!(to_bytes(&Value::Null), [0x00, 0x00, 0x01]);
        // 1.5 is exact in f32: FLOAT<<2|W32 = 0x0e.
        assert_eq!(
            to_bytes(&Value::Float(1.5)),
            [0x00, 0x00, 0xc0, 0x3f, 0x0e, 0x04]
        );
        // 0.1 is not: 8 bytes, FLOAT<<2|W64 = 0x0f.
        let mut tenth = 0.1f64.to_le_bytes().to_vec();
        tenth.extend_from_slice(&[0x0f, 0x08]);
        assert_eq!(to_bytes(&Value::Float(0.1)), tenth);
        for v in [
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Int(-129),
            Value::Int(-128),
            Value::UInt(u64::MAX),
            Value::Float(f64::INFINITY),
            Value::Float(-0.0),
            Value::Bool(false),
        ] {
            assert_eq!(parse(&to_bytes(&v)), Ok(v));
        }
    }

    #[test]
    fn int_widths() {
        assert_eq!(int_bits(127), 0);
        assert_eq!(int_bits(128), 1);
        assert_eq!(int_bits(-128), 0);
        assert_eq!(int_bits(-129), 1);
        assert_eq!(int_bits(i64::from(i32::MIN)), 2);
        assert_eq!(int_bits(i64::MIN), 3);
        assert_eq!(uint_bits(255), 0);
        assert_eq!(uint_bits(256), 1);
        assert_eq!(uint_bits(u64::from(u32::MAX) + 1), 3);
    }

    /// A vector widens to its widest element; narrower elements record the
    /// vector's width in their type byte.
    #[test]
    fn mixed_width_vector() {
        let v = Value::Vector(vec![Value::Int(1), Value::Int(300)]);
        let expected = [
            0x02, 0x00, 0x01, 0x00, 0x2c, 0x01, 0x05, 0x05, 0x06, 0x29, 0x01,
        ];
        assert_eq!(to_bytes(&v), expected);
        assert_eq!(parse(&expected), Ok(v));
    }

    #[test]
    fn large_values_use_wide_offsets_and_lengths() {
        let big = Value::Blob((0..70_000u32).map(|i| i as u8).collect());
        let many = Value::Vector((0..300).map(Value::Int).collect());
        let v = Value::Vector(vec![big.clone(), many, s("tail"), big]);
        let bytes = to_bytes(&v);
        assert_eq!(parse(&bytes), Ok(v));
    }

    #[test]
    fn map_keys_are_sorted_and_shared() {
        let v = Value::Map(vec![
            ("zeta".into(), Value::Int(1)),
            (
                "alpha".into(),
                Value::Map(vec![("zeta".into(), Value::Null)]),
            ),
        ]);
        let bytes = to_bytes(&v);
        // "zeta" is written once, though two maps use it.
        assert_eq!(bytes.windows(5).filter(|w| w == b"zeta\0").count(), 1);
        let back = parse(&bytes).unwrap();
        let Value::Map(entries) = &back else {
            panic!("not a map: {back:?}")
        };
        assert_eq!(entries[0].0, "alpha");
        assert_eq!(entries[1].0, "zeta");
        assert_eq!(
            back.get("alpha").and_then(|m| m.get("zeta")),
            Some(&Value::Null)
        );
    }

    #[test]
    fn keys_are_cut_at_nul() {
        let v = Value::Map(vec![("a\0b".into(), Value::Int(1))]);
        assert_eq!(
            parse(&to_bytes(&v)),
            Ok(Value::Map(vec![("a".into(), Value::Int(1))]))
        );
    }

    // --- Hand-built typed vectors.

    #[test]
    fn typed_int_vectors_of_each_width() {
        // VECTOR_INT (11), 1-byte: length 3, then 1, 2, -1.
        let b = rooted(vec![0x03, 0x01, 0x02, 0xff], 1, 11 << 2);
        let ints = |xs: &[i64]| Value::Vector(xs.iter().copied().map(Value::Int).collect());
        assert_eq!(parse(&b), Ok(ints(&[1, 2, -1])));
        // 2-byte: length 2, then 1, -32768.
        let b = rooted(vec![0x02, 0x00, 0x01, 0x00, 0x00, 0x80], 2, (11 << 2) | 1);
        assert_eq!(parse(&b), Ok(ints(&[1, -32768])));
        // 4-byte: length 1, then -2.
        let b = rooted(vec![1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff], 4, (11 << 2) | 2);
        assert_eq!(parse(&b), Ok(ints(&[-2])));
        // 8-byte: length 1, then i64::MIN.
        let mut data = vec![1, 0, 0, 0, 0, 0, 0, 0];
        data.extend_from_slice(&i64::MIN.to_le_bytes());
        let b = rooted(data, 8, (11 << 2) | 3);
        assert_eq!(parse(&b), Ok(ints(&[i64::MIN])));
    }

    #[test]
    fn typed_uint_and_fixed_vectors() {
        // VECTOR_UINT (12), 2-byte: length 2, 65535, 7.
        let b = rooted(vec![2, 0, 0xff, 0xff, 7, 0], 2, (12 << 2) | 1);
        assert_eq!(
            parse(&b),
            Ok(Value::Vector(vec![Value::UInt(65535), Value::UInt(7)]))
        );
        // VECTOR_FLOAT3 (21), 4-byte, no length: 1.0, 2.0, -0.5.
        let mut data = Vec::new();
        for f in [1.0f32, 2.0, -0.5] {
            data.extend_from_slice(&f.to_le_bytes());
        }
        let b = rooted(data, 0, (21 << 2) | 2);
        let floats = [1.0, 2.0, -0.5].map(Value::Float).to_vec();
        assert_eq!(parse(&b), Ok(Value::Vector(floats)));
        // VECTOR_INT2 (16), 1-byte: -3, 4.
        let b = rooted(vec![0xfd, 0x04], 0, 16 << 2);
        assert_eq!(
            parse(&b),
            Ok(Value::Vector(vec![Value::Int(-3), Value::Int(4)]))
        );
        // VECTOR_UINT4 (23), 1-byte.
        let b = rooted(vec![1, 2, 3, 4], 0, 23 << 2);
        assert_eq!(
            parse(&b),
            Ok(Value::Vector((1..=4).map(Value::UInt).collect()))
        );
    }

    #[test]
    fn typed_bool_key_and_legacy_string_vectors() {
        // VECTOR_BOOL (36): length 3, then 1, 0, 1.
        let b = rooted(vec![0x03, 0x01, 0x00, 0x01], 1, 36 << 2);
        let bools = [true, false, true].map(Value::Bool).to_vec();
        assert_eq!(parse(&b), Ok(Value::Vector(bools)));
        // VECTOR_KEY (14): keys "x" at 0, "yz" at 2; length 2 at 5, then
        // offsets 6-0=6 and 7-2=5.
        let data = vec![b'x', 0, b'y', b'z', 0, 2, 6, 5];
        let b = rooted(data.clone(), 6, 14 << 2);
        assert_eq!(
            parse(&b),
            Ok(Value::Vector(vec![
                Value::Key("x".into()),
                Value::Key("yz".into())
            ]))
        );
        // The same bytes as VECTOR_STRING_DEPRECATED (15): read to the NUL.
        let b = rooted(data, 6, 15 << 2);
        assert_eq!(parse(&b), Ok(Value::Vector(vec![s("x"), s("yz")])));
        // Floats need 4 or 8 bytes.
        let b = rooted(vec![1, 0], 1, 13 << 2);
        assert_eq!(
            parse(&b),
            Err(FlexError::BadFloatWidth {
                width: 1,
                offset: 1
            })
        );
    }

    #[test]
    fn indirect_scalars() {
        // INDIRECT_FLOAT (8), 4-byte target: 1.5.
        let b = rooted(vec![0x00, 0x00, 0xc0, 0x3f], 0, (8 << 2) | 2);
        assert_eq!(parse(&b), Ok(Value::Float(1.5)));
        // INDIRECT_INT (6), 2-byte target: -2.
        let b = rooted(vec![0xfe, 0xff], 0, (6 << 2) | 1);
        assert_eq!(parse(&b), Ok(Value::Int(-2)));
        // INDIRECT_UINT (7), 1-byte target.
        let b = rooted(vec![200], 0, 7 << 2);
        assert_eq!(parse(&b), Ok(Value::UInt(200)));
    }

    #[test]
    fn non_utf8_string_is_a_blob() {
        // STRING of one byte 0xff, NUL-terminated.
        let b = rooted(vec![0x01, 0xff, 0x00], 1, 5 << 2);
        assert_eq!(parse(&b), Ok(Value::Blob(vec![0xff])));
        let opts = flex_op_options("Op", &[0xff, 0x00, 0x80]);
        assert_eq!(
            parse_flex_op_options(&opts),
            Ok(("Op".to_owned(), vec![0xff, 0x00, 0x80]))
        );
    }

    // --- Errors.

    #[test]
    fn malformed_buffers() {
        assert_eq!(parse(&[]), Err(FlexError::TooShort { len: 0, needed: 3 }));
        assert_eq!(
            parse(&[1, 4, 3]),
            Err(FlexError::BadRootWidth {
                width: 3,
                offset: 2
            })
        );
        assert_eq!(
            parse(&[1, 4, 4]),
            Err(FlexError::TooShort { len: 3, needed: 6 })
        );
        assert_eq!(
            parse(&[0, 27 << 2, 1]),
            Err(FlexError::BadType {
                type_code: 27,
                offset: 1
            })
        );
        assert_eq!(
            parse(&[5, 10 << 2, 1]),
            Err(FlexError::OffsetOutOfRange { at: 0, offset: 5 })
        );
        // String "a" followed by 'b' instead of NUL.
        let b = rooted(vec![0x01, b'a', b'b'], 1, 5 << 2);
        assert_eq!(parse(&b), Err(FlexError::NotNulTerminated { offset: 1 }));
        // Key without a NUL anywhere after it (the root bytes are nonzero).
        assert_eq!(
            parse(&[b'k', 1, 4 << 2, 1]),
            Err(FlexError::NotNulTerminated { offset: 0 })
        );
        // Key that is not UTF-8.
        let b = rooted(vec![0xff, 0x00], 0, 4 << 2);
        assert_eq!(parse(&b), Err(FlexError::InvalidUtf8 { offset: 0 }));
        // Vector claiming 200 elements.
        let b = rooted(vec![200, 1], 1, 10 << 2);
        assert_eq!(
            parse(&b),
            Err(FlexError::LengthOutOfRange {
                offset: 1,
                len: 200
            })
        );
        // Vector whose length prefix would be before the buffer.
        assert_eq!(
            parse(&[0, 10 << 2, 1]),
            Err(FlexError::HeaderOutOfBounds { offset: 0 })
        );
    }

    #[test]
    fn malformed_maps() {
        let good = to_bytes(&Value::Map(vec![("a".into(), Value::Int(1))]));
        // Layout: 'a' 0 | keys 01 03 | keys offset 01, keys width 01,
        // length 01 | value 01 | type 04 | root 02 24 01.
        let mut bad_width = good.clone();
        bad_width[5] = 3;
        assert_eq!(
            parse(&bad_width),
            Err(FlexError::BadKeysWidth {
                width: 3,
                offset: 5
            })
        );
        let mut mismatch = good.clone();
        mismatch[2] = 0;
        assert_eq!(
            parse(&mismatch),
            Err(FlexError::MapKeysMismatch {
                offset: 7,
                keys: 0,
                values: 1
            })
        );
        assert_eq!(
            parse(&good),
            Ok(Value::Map(vec![("a".into(), Value::Int(1))]))
        );
    }

    #[test]
    fn limits_are_enforced() {
        let nested = Value::Vector(vec![Value::Vector(vec![Value::Vector(vec![])])]);
        let bytes = to_bytes(&nested);
        let mut limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert_eq!(parse_with(&bytes, &limits), Ok(nested));
        limits.max_depth = 2;
        assert!(matches!(
            parse_with(&bytes, &limits),
            Err(FlexError::LimitExceeded {
                limit: LimitKind::Depth,
                max: 2,
                ..
            })
        ));

        let three = to_bytes(&Value::Vector(vec![Value::Null, Value::Null]));
        let mut limits = Limits {
            max_values: 3,
            ..Limits::default()
        };
        assert!(parse_with(&three, &limits).is_ok());
        limits.max_values = 2;
        assert!(matches!(
            parse_with(&three, &limits),
            Err(FlexError::LimitExceeded {
                limit: LimitKind::Values,
                ..
            })
        ));

        let text = to_bytes(&Value::Vector(vec![s("abc"), Value::Key("de".into())]));
        let mut limits = Limits {
            max_bytes: 5,
            ..Limits::default()
        };
        assert!(parse_with(&text, &limits).is_ok());
        limits.max_bytes = 4;
        assert!(matches!(
            parse_with(&text, &limits),
            Err(FlexError::LimitExceeded {
                limit: LimitKind::Bytes,
                max: 4,
                ..
            })
        ));
    }

    /// A vector whose element points at the vector itself: a cycle, stopped
    /// by the depth limit.
    #[test]
    fn self_reference_stops_at_depth_limit() {
        // Length 1 at 0; element at 1 holds offset 0 (itself); type VECTOR.
        let b = vec![0x01, 0x00, 0x28, 0x02, 0x28, 0x01];
        assert!(matches!(
            parse(&b),
            Err(FlexError::LimitExceeded {
                limit: LimitKind::Depth,
                ..
            })
        ));
    }

    #[test]
    fn flex_op_options_errors() {
        let reason = |bytes: &[u8]| match parse_flex_op_options(bytes) {
            Err(FlexError::NotFlexOpOptions { reason }) => reason,
            other => panic!("unexpected {other:?}"),
        };
        assert!(reason(&to_bytes(&Value::Vector(vec![s("Op")]))).contains("fewer"));
        let v = Value::Vector(vec![Value::Int(1), s("x")]);
        assert!(reason(&to_bytes(&v)).contains("op name"));
        let v = Value::Vector(vec![s("Op"), Value::Int(1)]);
        assert!(reason(&to_bytes(&v)).contains("NodeDef"));
        let v = Value::Vector(vec![s("Op"), Value::Blob(vec![1, 2]), Value::Null]);
        assert_eq!(
            parse_flex_op_options(&to_bytes(&v)),
            Ok(("Op".into(), vec![1, 2]))
        );
    }
}
