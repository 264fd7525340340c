//! Tensor shapes with static and dynamic dimensions.

use std::fmt;

/// One dimension of a tensor shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dim {
    /// A dimension whose size is known when the model is built.
    Fixed(u32),
    /// A dimension whose size is chosen at run time (written as `-1` in
    /// `shape_signature`, and as `1` in `shape`).
    Dynamic,
}

impl Dim {
    /// The size, if fixed.
    pub fn fixed(self) -> Option<u32> {
        match self {
            Dim::Fixed(n) => Some(n),
            Dim::Dynamic => None,
        }
    }
}

impl From<u32> for Dim {
    fn from(n: u32) -> Self {
        Dim::Fixed(n)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Dynamic => f.write_str("?"),
        }
    }
}

/// The shape of a tensor: a list of dimensions, each fixed or dynamic.
///
/// ```
/// use tflite_forge::{Dim, Shape};
/// let s = Shape::new([1, 224, 224, 3]);
/// assert_eq!(s.num_elements(), Some(150_528));
/// let d = Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(10)]);
/// assert!(d.is_dynamic());
/// assert_eq!(d.num_elements(), None);
/// assert_eq!(d.to_string(), "[?, 10]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape {
    dims: Vec<Dim>,
}

impl Shape {
    /// A fully static shape.
    pub fn new<I: IntoIterator<Item = u32>>(dims: I) -> Shape {
        Shape {
            dims: dims.into_iter().map(Dim::Fixed).collect(),
        }
    }

    /// A shape from explicit dimensions.
    pub fn from_dims(dims: Vec<Dim>) -> Shape {
        Shape { dims }
    }

    /// The scalar shape `[]`.
    pub fn scalar() -> Shape {
        Shape { dims: Vec::new() }
    }

    /// The dimensions.
    pub fn dims(&self) -> &[Dim] {
        &self.dims
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// Dimension `i`, if in range.
    pub fn dim(&self, i: usize) -> Option<Dim> {
        self.dims.get(i).copied()
    }

    /// Whether any dimension is dynamic.
    pub fn is_dynamic(&self) -> bool {
        self.dims.contains(&Dim::Dynamic)
    }

    /// The fixed sizes, if every dimension is fixed.
    pub fn as_fixed(&self) -> Option<Vec<u32>> {
        self.dims.iter().map(|d| d.fixed()).collect()
    }

    /// The number of elements, if every dimension is fixed and the product
    /// does not overflow `u64`.
    pub fn num_elements(&self) -> Option<u64> {
        self.dims.iter().try_fold(1u64, |acc, d| acc.checked_mul(u64::from(d.fixed()?)))
    }

    /// The `shape` field as written to the file (dynamic dimensions as 1).
    pub(crate) fn file_shape(&self) -> Vec<i32> {
        self.dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => i32::try_from(*n).unwrap_or(i32::MAX),
                Dim::Dynamic => 1,
            })
            .collect()
    }

    /// The `shape_signature` field as written to the file, if needed.
    pub(crate) fn file_signature(&self) -> Option<Vec<i32>> {
        self.is_dynamic().then(|| {
            self.dims
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => i32::try_from(*n).unwrap_or(i32::MAX),
                    Dim::Dynamic => -1,
                })
                .collect()
        })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.dims.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

impl<const N: usize> From<[u32; N]> for Shape {
    fn from(d: [u32; N]) -> Self {
        Shape::new(d)
    }
}

impl From<&[u32]> for Shape {
    fn from(d: &[u32]) -> Self {
        Shape::new(d.iter().copied())
    }
}

impl From<Vec<Dim>> for Shape {
    fn from(d: Vec<Dim>) -> Self {
        Shape::from_dims(d)
    }
}
