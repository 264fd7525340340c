//! Sparsity parameters of a sparse constant: building and reading them.

use super::tensor::Sparsity;
use crate::schema::tflite as fb;

/// How one traversed dimension of a sparse constant is stored (TFLite's
/// `DimensionMetadata`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SparseDim {
    /// Every index is stored: the dimension's size.
    Dense(i32),
    /// Compressed sparse row: for position `p` of the dimensions traversed
    /// before this one, `indices[segments[p]..segments[p + 1]]` are the
    /// indices stored along this dimension.
    Csr {
        /// Segment bounds, one more than the positions before.
        segments: Vec<i32>,
        /// The stored indices.
        indices: Vec<i32>,
    },
}

fn index_vector(v: &[i32]) -> fb::SparseIndexVectorT {
    fb::SparseIndexVectorT::Int32Vector(Box::new(fb::Int32VectorT { values: Some(v.to_vec()) }))
}

fn index_values(v: &fb::SparseIndexVectorT) -> Vec<i32> {
    match v {
        fb::SparseIndexVectorT::Int32Vector(x) => x.values.clone().unwrap_or_default(),
        fb::SparseIndexVectorT::Uint16Vector(x) => x.values.iter().flatten().map(|v| i32::from(*v)).collect(),
        fb::SparseIndexVectorT::Uint8Vector(x) => x.values.iter().flatten().map(|v| i32::from(*v)).collect(),
        fb::SparseIndexVectorT::NONE => Vec::new(),
    }
}

impl Sparsity {
    /// Sparsity parameters: the order the dimensions are traversed in
    /// (the tensor's dimensions, then its block dimensions), which original
    /// dimension each block dimension splits, and the storage of each
    /// traversed dimension. The tensor's data then holds the stored values
    /// in traversal order.
    ///
    /// ```
    /// use tflite_forge::{SparseDim, Sparsity};
    /// // The 2x3 matrix [[0, 5, 0], [7, 0, 8]] in CSR: values [5, 7, 8].
    /// let s = Sparsity::new(vec![0, 1], vec![], vec![
    ///     SparseDim::Dense(2),
    ///     SparseDim::Csr { segments: vec![0, 1, 3], indices: vec![1, 0, 2] },
    /// ]);
    /// assert_eq!(s.traversal_order(), [0, 1]);
    /// assert_eq!(s.dims().unwrap()[0], SparseDim::Dense(2));
    /// ```
    pub fn new(traversal_order: Vec<i32>, block_map: Vec<i32>, dims: Vec<SparseDim>) -> Sparsity {
        let dim_metadata = dims
            .iter()
            .map(|d| match d {
                SparseDim::Dense(n) => fb::DimensionMetadataT { format: fb::DimensionType::DENSE, dense_size: *n, ..Default::default() },
                SparseDim::Csr { segments, indices } => fb::DimensionMetadataT {
                    format: fb::DimensionType::SPARSE_CSR,
                    dense_size: 0,
                    array_segments: index_vector(segments),
                    array_indices: index_vector(indices),
                },
            })
            .collect();
        Sparsity(Box::new(fb::SparsityParametersT {
            traversal_order: Some(traversal_order),
            block_map: Some(block_map),
            dim_metadata: Some(dim_metadata),
        }))
    }

    /// The traversal order of the dimensions.
    pub fn traversal_order(&self) -> &[i32] {
        self.0.traversal_order.as_deref().unwrap_or(&[])
    }

    /// The original dimension each block dimension splits.
    pub fn block_map(&self) -> &[i32] {
        self.0.block_map.as_deref().unwrap_or(&[])
    }

    /// The storage of each traversed dimension (indices of any stored width
    /// widened to `i32`); `None` when a dimension has a format the schema
    /// does not define.
    pub fn dims(&self) -> Option<Vec<SparseDim>> {
        self.0
            .dim_metadata
            .iter()
            .flatten()
            .map(|m| match m.format {
                fb::DimensionType::SPARSE_CSR => {
                    Some(SparseDim::Csr { segments: index_values(&m.array_segments), indices: index_values(&m.array_indices) })
                }
                fb::DimensionType::DENSE => Some(SparseDim::Dense(m.dense_size)),
                _ => None,
            })
            .collect()
    }
}
