//! Element types of tensors.

/// The element type of a tensor, mirroring TFLite's `TensorType`.
///
/// The discriminants are the codes stored in the file.
///
/// ```
/// use tflite_forge::DType;
/// assert_eq!(DType::F32.code(), 0);
/// assert_eq!(DType::from_code(9), Some(DType::I8));
/// assert_eq!(DType::I4.bits(), Some(4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// 32-bit signed integer.
    I32,
    /// 8-bit unsigned integer.
    U8,
    /// 64-bit signed integer.
    I64,
    /// Variable-length strings (TFLite's packed string format).
    String,
    /// Boolean, one byte per element.
    Bool,
    /// 16-bit signed integer.
    I16,
    /// Complex number of two `f32`.
    Complex64,
    /// 8-bit signed integer.
    I8,
    /// 64-bit IEEE float.
    F64,
    /// Complex number of two `f64`.
    Complex128,
    /// 64-bit unsigned integer.
    U64,
    /// A resource handle.
    Resource,
    /// A variant (e.g. a tensor list).
    Variant,
    /// 32-bit unsigned integer.
    U32,
    /// 16-bit unsigned integer.
    U16,
    /// 4-bit signed integer, packed two per byte in constant buffers.
    I4,
    /// bfloat16.
    BF16,
    /// 2-bit signed integer, packed four per byte in constant buffers.
    I2,
    /// 4-bit unsigned integer, packed two per byte in constant buffers.
    U4,
    /// 8-bit float, E4M3FN encoding.
    F8E4M3FN,
    /// 8-bit float, E5M2 encoding.
    F8E5M2,
}

const ALL: [DType; 23] = [
    DType::F32,
    DType::F16,
    DType::I32,
    DType::U8,
    DType::I64,
    DType::String,
    DType::Bool,
    DType::I16,
    DType::Complex64,
    DType::I8,
    DType::F64,
    DType::Complex128,
    DType::U64,
    DType::Resource,
    DType::Variant,
    DType::U32,
    DType::U16,
    DType::I4,
    DType::BF16,
    DType::I2,
    DType::U4,
    DType::F8E4M3FN,
    DType::F8E5M2,
];

impl DType {
    /// Every element type, in code order.
    pub const ALL: &'static [DType] = &ALL;

    /// The `TensorType` code written to the file.
    pub fn code(self) -> i8 {
        // `ALL` is in code order, so the position is the code.
        ALL.iter().position(|d| *d == self).unwrap_or(0) as i8
    }

    /// The element type for a `TensorType` code, if the code is known.
    pub fn from_code(code: i8) -> Option<DType> {
        usize::try_from(code).ok().and_then(|i| ALL.get(i).copied())
    }

    /// The size of one element in bits, or `None` for types without a fixed
    /// element size (strings, resources, variants).
    pub fn bits(self) -> Option<u32> {
        use DType::*;
        Some(match self {
            F32 | I32 | U32 => 32,
            F16 | I16 | U16 | BF16 => 16,
            U8 | I8 | Bool | F8E4M3FN | F8E5M2 => 8,
            I64 | U64 | F64 | Complex64 => 64,
            Complex128 => 128,
            I4 | U4 => 4,
            I2 => 2,
            String | Resource | Variant => return None,
        })
    }

    /// The number of bytes that `elements` elements take in a constant
    /// buffer (sub-byte types are packed), or `None` on overflow or for
    /// types without a fixed size.
    pub fn bytes_for(self, elements: u64) -> Option<u64> {
        let bits = u64::from(self.bits()?);
        Some(elements.checked_mul(bits)?.div_ceil(8))
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::F64 | DType::BF16)
    }

    /// TFLite's name for the type, as in the schema (`FLOAT32`, `INT8`, ...).
    pub fn schema_name(self) -> &'static str {
        use DType::*;
        match self {
            F32 => "FLOAT32",
            F16 => "FLOAT16",
            I32 => "INT32",
            U8 => "UINT8",
            I64 => "INT64",
            String => "STRING",
            Bool => "BOOL",
            I16 => "INT16",
            Complex64 => "COMPLEX64",
            I8 => "INT8",
            F64 => "FLOAT64",
            Complex128 => "COMPLEX128",
            U64 => "UINT64",
            Resource => "RESOURCE",
            Variant => "VARIANT",
            U32 => "UINT32",
            U16 => "UINT16",
            I4 => "INT4",
            BF16 => "BFLOAT16",
            I2 => "INT2",
            U4 => "UINT4",
            F8E4M3FN => "FLOAT8_E4M3FN",
            F8E5M2 => "FLOAT8_E5M2",
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.schema_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (i, d) in DType::ALL.iter().enumerate() {
            assert_eq!(d.code() as usize, i);
            assert_eq!(DType::from_code(i as i8), Some(*d));
        }
        assert_eq!(DType::from_code(23), None);
        assert_eq!(DType::from_code(-1), None);
    }

    #[test]
    fn packed_sizes() {
        assert_eq!(DType::I4.bytes_for(3), Some(2));
        assert_eq!(DType::I2.bytes_for(5), Some(2));
        assert_eq!(DType::F32.bytes_for(u64::MAX), None);
        assert_eq!(DType::String.bytes_for(1), None);
    }
}
