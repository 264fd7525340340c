//! Tensors, constant data and quantization parameters.

use std::fmt;
use std::sync::Arc;

use super::{DType, Shape, TensorId};
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
    /// Extended quantization details: blockwise (typed), or custom and
    /// multi-axis (kept as read).
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

/// Quantization details beyond affine parameters (`QuantizationDetails` in
/// the schema).
///
/// Blockwise quantization is typed ([`BlockwiseQuant`]); the other kinds
/// (custom, multi-axis, and kinds newer than this crate) are carried
/// through unchanged as read.
///
/// ```
/// use tflite_forge::{BlockwiseQuant, QuantDetails, TensorId};
/// let d = QuantDetails::Blockwise(BlockwiseQuant::new(TensorId(3), 32));
/// assert_eq!(d.blockwise().map(|b| b.block_size), Some(32));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QuantDetails {
    /// Blockwise quantization of an int4 weight tensor.
    Blockwise(BlockwiseQuant),
    /// Any other kind, kept as read.
    Other(OpaqueQuantDetails),
}

/// Quantization details this crate does not interpret (custom,
/// multi-axis), carried through unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct OpaqueQuantDetails(pub(crate) fb::QuantizationDetailsT);

/// Blockwise quantization (`BlockwiseQuantization` in the schema), as
/// LiteRT reads it for the int4 weights of FULLY_CONNECTED.
///
/// Facts (LiteRT `tflite/core/interpreter_builder.cc`,
/// `tflite/kernels/fully_connected.cc` `EvalBlockwise4Bit`,
/// `tflite/delegates/xnnpack/xnnpack_delegate.cc`, and ai-edge-quantizer's
/// `transformations/quantize_tensor.py`, which writes such files):
/// - the weights are an INT4 tensor `[out, in]` (packed two per byte, low
///   nibble first) with symmetric values; its `QuantizationParameters`
///   have no `scale` array, `quantized_dimension` 0 and these details;
/// - `scales` names a constant FLOAT16 tensor `[out, in / block_size]` of
///   the same subgraph: weight `(o, i)` is `q * scales[o, i / block_size]`
///   (blocks run along the input dimension, row-major). The builtin kernel
///   reads the scales as float16 whatever their declared type, and XNNPACK
///   needs each to be a normal positive float16;
/// - `zero_points` names a zero-point tensor or is -1 for none; the kernels
///   ignore it (symmetric only), and ai-edge-quantizer writes -1;
/// - `block_size` divides `in`; XNNPACK takes multiples of 32 only (other
///   sizes run on the builtin kernel);
/// - `block_shape` is a newer schema field (ai-edge-litert 2.3.0) that no
///   kernel reads; kept as read.
///
/// ```
/// use tflite_forge::{BlockwiseQuant, TensorId};
/// let b = BlockwiseQuant::new(TensorId(5), 128);
/// assert_eq!((b.scales, b.zero_points, b.block_size), (TensorId(5), None, 128));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockwiseQuant {
    /// The FLOAT16 scale tensor, `[out, in / block_size]`.
    pub scales: TensorId,
    /// The zero-point tensor, if any (-1 in the file for none).
    pub zero_points: Option<TensorId>,
    /// Elements per block along the input dimension.
    pub block_size: u32,
    /// The schema's `block_shape`, if present (no kernel reads it).
    pub block_shape: Option<Vec<i32>>,
}

impl BlockwiseQuant {
    /// Blockwise parameters with scales in tensor `scales`, no zero points
    /// and no `block_shape`.
    pub fn new(scales: TensorId, block_size: u32) -> BlockwiseQuant {
        BlockwiseQuant { scales, zero_points: None, block_size, block_shape: None }
    }

    /// Checks these parameters against the weight tensor `weights` and the
    /// subgraph's `tensors`: INT4 weights of rank 2 with a fixed shape
    /// `[out, in]`, a block size dividing `in`, and a constant FLOAT16
    /// scale tensor of shape `[out, in / block_size]`. Returns the
    /// problem, if any.
    pub(crate) fn check(&self, weights: &Tensor, tensors: &[Tensor]) -> Result<(), String> {
        if weights.dtype != DType::I4 {
            return Err(format!("blockwise quantization of a {} tensor (LiteRT has it for INT4 only)", weights.dtype));
        }
        let dims = weights.shape.as_fixed().filter(|d| d.len() == 2).ok_or_else(|| {
            format!("blockwise weights must have a fixed 2-D shape [out, in], not {}", weights.shape)
        })?;
        let (out, inner) = (dims[0], dims[1]);
        let bs = self.block_size;
        if bs == 0 || inner % bs != 0 {
            return Err(format!("block size {} does not divide the input dimension {inner}", self.block_size));
        }
        let s = tensors
            .get(self.scales.index())
            .ok_or_else(|| format!("scale tensor {} out of range ({} tensors)", self.scales.0, tensors.len()))?;
        if s.dtype != DType::F16 || !s.is_constant() {
            return Err(format!("scale tensor {:?} must be a FLOAT16 constant, not {}{}", s.name, s.dtype, if s.is_constant() { "" } else { " (not constant)" }));
        }
        if s.shape.as_fixed() != Some(vec![out, inner / bs]) {
            return Err(format!("scale tensor {:?} has shape {}, expected [{out}, {}]", s.name, s.shape, inner / bs));
        }
        if let Some(z) = self.zero_points
            && z.index() >= tensors.len()
        {
            return Err(format!("zero-point tensor {} out of range ({} tensors)", z.0, tensors.len()));
        }
        Ok(())
    }
}

impl QuantDetails {
    /// The blockwise parameters, if these details are blockwise.
    pub fn blockwise(&self) -> Option<&BlockwiseQuant> {
        match self {
            QuantDetails::Blockwise(b) => Some(b),
            QuantDetails::Other(_) => None,
        }
    }

    /// The tensors these details name (blockwise and multi-axis scales and
    /// zero points), which must survive tensor compaction.
    pub(crate) fn tensor_refs(&self) -> Vec<u32> {
        let mut v = Vec::new();
        match self {
            QuantDetails::Blockwise(b) => {
                v.push(b.scales.0);
                v.extend(b.zero_points.map(|z| z.0));
            }
            QuantDetails::Other(OpaqueQuantDetails(fb::QuantizationDetailsT::MultiAxisQuantization(m))) => {
                v.extend([m.scales, m.zero_points].into_iter().filter_map(|i| u32::try_from(i).ok()));
            }
            QuantDetails::Other(_) => {}
        }
        v
    }

    /// Renumbers the tensors these details name with `map` (old index →
    /// new index).
    pub(crate) fn remap_tensors(&mut self, map: &dyn Fn(u32) -> u32) {
        match self {
            QuantDetails::Blockwise(b) => {
                b.scales.0 = map(b.scales.0);
                if let Some(z) = &mut b.zero_points {
                    z.0 = map(z.0);
                }
            }
            QuantDetails::Other(OpaqueQuantDetails(fb::QuantizationDetailsT::MultiAxisQuantization(m))) => {
                for i in [&mut m.scales, &mut m.zero_points] {
                    if let Ok(u) = u32::try_from(*i) {
                        *i = i32::try_from(map(u)).unwrap_or(*i);
                    }
                }
            }
            QuantDetails::Other(_) => {}
        }
    }
}

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
