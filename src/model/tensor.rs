//! Tensors, constant data and quantization parameters.

use std::fmt;
use std::sync::Arc;

use super::{DType, Shape};
use crate::schema::tflite as fb;

/// Constant tensor contents: little-endian bytes, shared cheaply on clone.
///
/// ```
/// use tflite_forge::ConstData;
/// let d = ConstData::from_slice(&[1.0f32, 2.0]);
/// assert_eq!(d.len(), 8);
/// assert_eq!(d.to_vec::<f32>(), vec![1.0, 2.0]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ConstData(Arc<Vec<u8>>);

impl ConstData {
    /// Wraps raw little-endian bytes (a `Vec` is taken without copying).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> ConstData {
        ConstData(Arc::new(bytes.into()))
    }

    /// Copies a slice of plain numbers (`f32`, `i8`, `i32`, `half::f16`, ...).
    pub fn from_slice<T: bytemuck::Pod>(values: &[T]) -> ConstData {
        ConstData(Arc::new(bytemuck::cast_slice::<T, u8>(values).to_vec()))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Copies the bytes out as values of `T`. Trailing bytes that do not
    /// fill a whole `T` are ignored.
    pub fn to_vec<T: bytemuck::Pod>(&self) -> Vec<T> {
        let n = self.0.len() / std::mem::size_of::<T>().max(1);
        bytemuck::pod_collect_to_vec(&self.0[..n * std::mem::size_of::<T>()])
    }

    /// Whether two values share storage (a cheap identity check).
    pub fn ptr_eq(&self, other: &ConstData) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for ConstData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConstData({} bytes)", self.0.len())
    }
}

/// Quantization parameters of a tensor: per-tensor (one scale) or per-axis
/// (one scale per slice along `axis`).
///
/// ```
/// use tflite_forge::Quantization;
/// let q = Quantization::per_tensor(0.5, -3);
/// assert!(!q.is_per_axis());
/// let w = Quantization::per_axis(vec![0.1, 0.2], vec![0, 0], 0);
/// assert!(w.is_per_axis());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Quantization {
    /// Scales; one per tensor, or one per slice along `axis`.
    pub scale: Vec<f32>,
    /// Zero points, as many as `scale`.
    pub zero_point: Vec<i64>,
    /// The quantized dimension (`quantized_dimension` in the file).
    pub axis: i32,
    /// Recorded float minimums (calibration ranges), if any.
    pub min: Vec<f32>,
    /// Recorded float maximums, if any.
    pub max: Vec<f32>,
    /// Extended quantization details (custom, blockwise, multi-axis), kept
    /// as read.
    pub details: Option<QuantDetails>,
}

impl Quantization {
    /// Per-tensor affine quantization: `real = scale * (q - zero_point)`.
    pub fn per_tensor(scale: f32, zero_point: i64) -> Quantization {
        Quantization {
            scale: vec![scale],
            zero_point: vec![zero_point],
            ..Default::default()
        }
    }

    /// Per-axis quantization along `axis`.
    pub fn per_axis(scale: Vec<f32>, zero_point: Vec<i64>, axis: i32) -> Quantization {
        Quantization {
            scale,
            zero_point,
            axis,
            ..Default::default()
        }
    }

    /// Only recorded ranges, no scale (as calibration leaves it).
    pub fn range(min: f32, max: f32) -> Quantization {
        Quantization {
            min: vec![min],
            max: vec![max],
            ..Default::default()
        }
    }

    /// Whether there is more than one scale.
    pub fn is_per_axis(&self) -> bool {
        self.scale.len() > 1
    }

    /// Whether there is nothing in it (written as no quantization).
    pub fn is_empty(&self) -> bool {
        self.scale.is_empty()
            && self.zero_point.is_empty()
            && self.min.is_empty()
            && self.max.is_empty()
            && self.details.is_none()
            && self.axis == 0
    }
}

/// Quantization details beyond affine parameters (custom, blockwise or
/// multi-axis), carried through unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantDetails(pub(crate) fb::QuantizationDetailsT);

/// Sparsity parameters of a sparse constant tensor, carried through
/// unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparsity(pub(crate) Box<fb::SparsityParametersT>);

/// Sub-types of a variant tensor, carried through unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantTypes(pub(crate) Vec<fb::VariantSubTypeT>);

/// A tensor of a subgraph.
///
/// ```
/// use tflite_forge::{DType, Shape, Tensor};
/// let t = Tensor::new("x", DType::F32, Shape::new([1, 4]));
/// assert!(!t.is_constant());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Tensor {
    /// The tensor's name (not required to be unique).
    pub name: String,
    /// The element type.
    pub dtype: DType,
    /// The shape; dynamic dimensions are written to `shape_signature`.
    pub shape: Shape,
    /// Constant contents, if the tensor is a constant.
    pub data: Option<ConstData>,
    /// Quantization parameters, if quantized.
    pub quantization: Option<Quantization>,
    /// Whether the tensor is a variable (state kept across invocations).
    pub is_variable: bool,
    /// The file's `has_rank` flag: whether an empty shape means "rank 0"
    /// rather than "unknown rank".
    pub has_rank: bool,
    /// Sparsity parameters, if the constant is stored sparse.
    pub sparsity: Option<Sparsity>,
    /// Variant sub-types, if the tensor is a variant.
    pub variant_types: Option<VariantTypes>,
}

impl Tensor {
    /// A tensor with no data and no quantization.
    pub fn new(name: impl Into<String>, dtype: DType, shape: impl Into<Shape>) -> Tensor {
        Tensor {
            name: name.into(),
            dtype,
            shape: shape.into(),
            data: None,
            quantization: None,
            is_variable: false,
            has_rank: false,
            sparsity: None,
            variant_types: None,
        }
    }

    /// Sets constant contents.
    pub fn with_data(mut self, data: ConstData) -> Tensor {
        self.data = Some(data);
        self
    }

    /// Sets quantization parameters.
    pub fn with_quantization(mut self, q: Quantization) -> Tensor {
        self.quantization = Some(q);
        self
    }

    /// Whether the tensor holds constant data.
    pub fn is_constant(&self) -> bool {
        self.data.is_some()
    }

    /// The byte size a constant of this shape and type must have, if known.
    pub fn expected_bytes(&self) -> Option<u64> {
        self.dtype.bytes_for(self.shape.num_elements()?)
    }
}
