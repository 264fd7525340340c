//! Inference for the generated ops (`schema/ops.spec`), by family.
//!
//! Every generated op gets its input count checked against its arity from
//! the spec. Ops whose outputs follow from their inputs get types and
//! shapes; the others (resource, hash table, recurrent and StableHLO ops,
//! and ops whose output size depends on values) return `None`, and are
//! built with explicit outputs (`SubgraphBuilder::add_operator` or the
//! generated builder methods that take the outputs).

use super::{
    broadcast, check_type, const_ints, count, dim, dims_agree, elementwise, need, norm_axis, out, positive, reduce, same_type_check,
    window_dim, Inferred, R,
};
use crate::model::{op_info, DType, Dim, Op, Shape, Tensor};

const FLOAT: &[DType] = &[DType::F32];
const INTS: &[DType] = &[DType::I8, DType::U8, DType::I16, DType::U16, DType::I32, DType::U32, DType::I64];
const INDEX: &[DType] = &[DType::I32, DType::I64];

fn binary(inputs: &[Option<&Tensor>], types: &[DType], op: &Op) -> R {
    let a = need(inputs, 0, "lhs")?;
    let b = need(inputs, 1, "rhs")?;
    let d = same_type_check(&[a, b], op.name())?;
    check_type(d, types, "input")?;
    Ok(out(d, broadcast(&a.shape, &b.shape)?))
}

fn scalar_int(t: &Tensor) -> Option<i64> {
    const_ints(t).filter(|v| v.len() == 1).map(|v| v[0])
}

fn dyn_rank(d: DType, r: usize) -> Vec<Inferred> {
    out(d, Shape::from_dims(vec![Dim::Dynamic; r]))
}

fn mul_dim(d: Dim, k: u32) -> Dim {
    match d {
        Dim::Fixed(n) => n.checked_mul(k).map_or(Dim::Dynamic, Dim::Fixed),
        Dim::Dynamic => Dim::Dynamic,
    }
}

fn div_dim(d: Dim, k: u32, what: &str) -> Result<Dim, String> {
    match d {
        Dim::Fixed(n) if n % k != 0 => Err(format!("{what} {n} is not a multiple of the block size {k}")),
        Dim::Fixed(n) => Ok(Dim::Fixed(n / k)),
        Dim::Dynamic => Ok(Dim::Dynamic),
    }
}

/// The outputs of a bidirectional sequence op over `x` (`[a, b, features]`):
/// one of `fw + bw` features when merged, else one of each.
fn bidirectional(x: &Tensor, fw: Dim, bw: Dim, merge: bool) -> Vec<Inferred> {
    let with = |d: Dim| Shape::from_dims(vec![dim(x, 0), dim(x, 1), d]);
    if merge {
        let both = match (fw, bw) {
            (Dim::Fixed(a), Dim::Fixed(b)) => a.checked_add(b).map_or(Dim::Dynamic, Dim::Fixed),
            _ => Dim::Dynamic,
        };
        out(x.dtype, with(both))
    } else {
        vec![Inferred { dtype: Some(x.dtype), shape: with(fw) }, Inferred { dtype: Some(x.dtype), shape: with(bw) }]
    }
}

fn const_shape(d: &[i64]) -> Result<Shape, String> {
    let dims = d.iter().map(|n| u32::try_from(*n).map(Dim::Fixed).map_err(|_| format!("shape value {n}"))).collect::<Result<Vec<_>, _>>()?;
    Ok(Shape::from_dims(dims))
}

/// Output types and shapes of a generated op; `Ok(None)` when they cannot
/// be inferred from the inputs.
pub(super) fn infer(op: &Op, inputs: &[Option<&Tensor>]) -> Result<Option<Vec<Inferred>>, String> {
    if let Some(info) = op_info(op.builtin_code())
        && !info.inputs.allows(inputs.len())
    {
        return Err(match info.inputs.max {
            Some(m) if m == info.inputs.min => format!("expects {m} inputs, has {}", inputs.len()),
            Some(m) => format!("expects {} to {m} inputs, has {}", info.inputs.min, inputs.len()),
            None => format!("expects at least {} inputs, has {}", info.inputs.min, inputs.len()),
        });
    }
    let r: R = match op {
        // Float activations and roundings.
        Op::Floor | Op::Ceil | Op::Round => elementwise(inputs, &[DType::F32, DType::F16]),
        Op::ReluN1To1 | Op::Relu0To1 => elementwise(inputs, &[DType::F32, DType::I8, DType::U8]),
        Op::Elu => elementwise(inputs, &[DType::F32, DType::I8]),
        // LiteRT's SQUARE is float32 only.
        Op::Square => elementwise(inputs, &[DType::F32]),
        Op::Sign => elementwise(inputs, &[DType::F32, DType::F64, DType::I32]),
        Op::ZerosLike => elementwise(inputs, &[DType::F32, DType::I32, DType::I64]),
        Op::FakeQuant(o) => {
            if !(2..=16).contains(&o.num_bits) || o.min.partial_cmp(&o.max) != Some(std::cmp::Ordering::Less) {
                return Err(format!("FAKE_QUANT needs 2 to 16 bits and min < max, has {} bits over [{}, {}]", o.num_bits, o.min, o.max));
            }
            elementwise(inputs, FLOAT)
        }
        Op::L2Normalization(o) => {
            super::check_activation(o.fused_activation_function)?;
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, &[DType::F32, DType::U8, DType::I8], "input")?;
            Ok(out(x.dtype, x.shape.clone()))
        }
        Op::LocalResponseNormalization(_) => {
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, FLOAT, "input")?;
            super::rank(x, 4, "input")?;
            Ok(out(x.dtype, x.shape.clone()))
        }
        Op::Bucketize(o) => {
            if o.boundaries.windows(2).any(|w| w[0].partial_cmp(&w[1]).is_none_or(|c| c == std::cmp::Ordering::Greater)) {
                return Err("BUCKETIZE boundaries must be sorted".into());
            }
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, &[DType::F32, DType::F64, DType::I32, DType::I64], "input")?;
            Ok(out(DType::I32, x.shape.clone()))
        }
        Op::Bitcast => return Ok(None),

        // Binary ops with broadcasting.
        Op::SquaredDifference => binary(inputs, &[DType::F32, DType::I32, DType::I8], op),
        Op::FloorDiv => binary(inputs, &[DType::F32, DType::I32, DType::I16, DType::I8], op),
        // LiteRT's ATAN2 takes two tensors of one shape (no broadcasting).
        Op::Atan2 => {
            let r = binary(inputs, &[DType::F32, DType::F64], op)?;
            let (a, b) = (need(inputs, 0, "y")?, need(inputs, 1, "x")?);
            if !super::shapes_agree(&a.shape, &b.shape) {
                return Err(format!("ATAN2 inputs {} and {} must have one shape", a.shape, b.shape));
            }
            Ok(r)
        }
        Op::BitwiseXor | Op::RightShift => binary(inputs, INTS, op),
        Op::AddN => {
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, &[DType::F32, DType::I32], "input")?;
            for (i, t) in inputs.iter().enumerate() {
                let t = t.ok_or_else(|| format!("missing input {i}"))?;
                if t.dtype != x.dtype || !super::shapes_agree(&t.shape, &x.shape) {
                    return Err(format!("ADD_N input {i} is {} {}, input 0 is {} {}", t.dtype, t.shape, x.dtype, x.shape));
                }
            }
            Ok(out(x.dtype, x.shape.clone()))
        }

        // Reductions over bools, cumulative sums.
        Op::ReduceAny(o) | Op::ReduceAll(o) => reduce(inputs, o.keep_dims, &[DType::Bool]).map(|r| r.unwrap_or_default()).and_then(|r| {
            if r.is_empty() { Err("the reduced rank is unknown (axes are not constant)".to_string()) } else { Ok(r) }
        }),
        Op::Cumsum(_) => {
            let x = need(inputs, 0, "input")?;
            let axis = need(inputs, 1, "axis")?;
            check_type(x.dtype, &[DType::F32, DType::I32, DType::I64], "input")?;
            check_type(axis.dtype, &[DType::I32], "axis")?;
            if let Some(a) = scalar_int(axis) {
                norm_axis(a, x.shape.rank())?;
            }
            Ok(out(x.dtype, x.shape.clone()))
        }

        // Shapes.
        Op::Shape(o) => {
            let x = need(inputs, 0, "input")?;
            check_type(o.out_type, INDEX, "out_type")?;
            Ok(out(o.out_type, Shape::from_dims(vec![Dim::Fixed(x.shape.rank() as u32)])))
        }
        Op::Rank => Ok(out(DType::I32, Shape::from_dims(vec![]))),
        Op::Fill => {
            let dims = need(inputs, 0, "dims")?;
            let v = need(inputs, 1, "value")?;
            check_type(dims.dtype, INDEX, "dims")?;
            if v.shape.num_elements().is_some_and(|n| n != 1) {
                return Err(format!("FILL value must be a scalar, has shape {}", v.shape));
            }
            match const_ints(dims) {
                Some(d) => {
                    let dims = d.iter().map(|n| u32::try_from(*n).map(Dim::Fixed).map_err(|_| format!("FILL dimension {n}"))).collect::<Result<Vec<_>, _>>()?;
                    Ok(out(v.dtype, Shape::from_dims(dims)))
                }
                None => match dims.shape.dim(0).and_then(Dim::fixed) {
                    Some(r) => Ok(dyn_rank(v.dtype, r as usize)),
                    None => return Ok(None),
                },
            }
        }
        Op::Range => {
            let s = need(inputs, 0, "start")?;
            let l = need(inputs, 1, "limit")?;
            let d = need(inputs, 2, "delta")?;
            let t = same_type_check(&[s, l, d], "RANGE")?;
            check_type(t, &[DType::F32, DType::I32, DType::I64], "input")?;
            let len = match (scalar_int(s), scalar_int(l), scalar_int(d)) {
                (Some(a), Some(b), Some(c)) if c != 0 => {
                    // In i128: the span of two i64 values overflows i64.
                    let (a, b, c) = (i128::from(a), i128::from(b), i128::from(c));
                    let n = if (c > 0 && b > a) || (c < 0 && b < a) { ((b - a).abs() + c.abs() - 1) / c.abs() } else { 0 };
                    u32::try_from(n).map(Dim::Fixed).unwrap_or(Dim::Dynamic)
                }
                (_, _, Some(0)) => return Err("RANGE delta must not be zero".into()),
                _ => Dim::Dynamic,
            };
            Ok(out(t, Shape::from_dims(vec![len])))
        }
        Op::BroadcastArgs => {
            let a = need(inputs, 0, "s0")?;
            let b = need(inputs, 1, "s1")?;
            let t = same_type_check(&[a, b], "BROADCAST_ARGS")?;
            check_type(t, INDEX, "input")?;
            let n = match (dim(a, 0), dim(b, 0)) {
                (Dim::Fixed(x), Dim::Fixed(y)) => Dim::Fixed(x.max(y)),
                _ => Dim::Dynamic,
            };
            Ok(out(t, Shape::from_dims(vec![n])))
        }

        // Layout.
        Op::ExpandDims => {
            let x = need(inputs, 0, "input")?;
            let axis = need(inputs, 1, "axis")?;
            check_type(axis.dtype, INDEX, "axis")?;
            let r = x.shape.rank();
            let Some(a) = scalar_int(axis) else { return Ok(Some(dyn_rank(x.dtype, r + 1))) };
            let a = norm_axis(a, r + 1)?;
            let mut dims = x.shape.dims().to_vec();
            dims.insert(a, Dim::Fixed(1));
            Ok(out(x.dtype, Shape::from_dims(dims)))
        }
        Op::Tile => {
            let x = need(inputs, 0, "input")?;
            let m = need(inputs, 1, "multiples")?;
            check_type(m.dtype, INDEX, "multiples")?;
            let r = x.shape.rank();
            if !dims_agree(dim(m, 0), Dim::Fixed(r as u32)) || m.shape.rank() != 1 {
                return Err(format!("multiples must have shape [{r}], has {}", m.shape));
            }
            let Some(mv) = const_ints(m) else { return Ok(Some(dyn_rank(x.dtype, r))) };
            let dims = x
                .shape
                .dims()
                .iter()
                .zip(&mv)
                .map(|(d, k)| u32::try_from(*k).map(|k| mul_dim(*d, k)).map_err(|_| format!("negative multiple {k}")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(out(x.dtype, Shape::from_dims(dims)))
        }
        Op::Pack(o) => {
            let n = usize::try_from(o.values_count).ok().filter(|n| *n == inputs.len()).ok_or_else(|| {
                format!("values_count {} does not match {} inputs", o.values_count, inputs.len())
            })?;
            let x = need(inputs, 0, "input")?;
            for i in 0..n {
                let t = need(inputs, i, "input")?;
                if t.dtype != x.dtype || !super::shapes_agree(&t.shape, &x.shape) {
                    return Err(format!("PACK input {i} is {} {}, input 0 is {} {}", t.dtype, t.shape, x.dtype, x.shape));
                }
            }
            let a = norm_axis(i64::from(o.axis), x.shape.rank() + 1)?;
            let mut dims = x.shape.dims().to_vec();
            dims.insert(a, Dim::Fixed(n as u32));
            Ok(out(x.dtype, Shape::from_dims(dims)))
        }
        Op::Unpack(o) => {
            let x = need(inputs, 0, "input")?;
            let a = norm_axis(i64::from(o.axis), x.shape.rank())?;
            let n = positive(o.num, "num")?;
            if !dims_agree(dim(x, a), Dim::Fixed(n)) {
                return Err(format!("UNPACK num {n} does not match dimension {} of {}", a, x.shape));
            }
            let mut dims = x.shape.dims().to_vec();
            dims.remove(a);
            Ok((0..n).map(|_| Inferred { dtype: Some(x.dtype), shape: Shape::from_dims(dims.clone()) }).collect())
        }
        Op::Split(o) => {
            let axis = need(inputs, 0, "axis")?;
            let x = need(inputs, 1, "input")?;
            check_type(axis.dtype, &[DType::I32], "axis")?;
            let n = positive(o.num_splits, "num_splits")?;
            let r = x.shape.rank();
            let Some(a) = scalar_int(axis) else {
                return Ok(Some((0..n).map(|_| Inferred { dtype: Some(x.dtype), shape: Shape::from_dims(vec![Dim::Dynamic; r]) }).collect()));
            };
            let a = norm_axis(a, r)?;
            let mut dims = x.shape.dims().to_vec();
            dims[a] = div_dim(dims[a], n, "the split dimension")?;
            Ok((0..n).map(|_| Inferred { dtype: Some(x.dtype), shape: Shape::from_dims(dims.clone()) }).collect())
        }
        Op::DepthToSpace(o) => {
            let x = need(inputs, 0, "input")?;
            super::rank(x, 4, "input")?;
            let b = positive(o.block_size, "block_size")?;
            let bb = b.checked_mul(b).ok_or_else(|| format!("block_size {b} overflows"))?;
            let c = div_dim(dim(x, 3), bb, "the depth")?;
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), mul_dim(dim(x, 1), b), mul_dim(dim(x, 2), b), c])))
        }
        Op::SpaceToDepth(o) => {
            let x = need(inputs, 0, "input")?;
            super::rank(x, 4, "input")?;
            let b = positive(o.block_size, "block_size")?;
            let h = div_dim(dim(x, 1), b, "the height")?;
            let w = div_dim(dim(x, 2), b, "the width")?;
            let bb = b.checked_mul(b).ok_or_else(|| format!("block_size {b} overflows"))?;
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), h, w, mul_dim(dim(x, 3), bb)])))
        }
        Op::ReverseV2 => {
            let x = need(inputs, 0, "input")?;
            let axes = need(inputs, 1, "axes")?;
            check_type(axes.dtype, INDEX, "axes")?;
            if let Some(ax) = const_ints(axes) {
                for a in ax {
                    norm_axis(a, x.shape.rank())?;
                }
            }
            Ok(out(x.dtype, x.shape.clone()))
        }
        Op::ReverseSequence(_) | Op::MatrixSetDiag | Op::DynamicUpdateSlice => {
            let x = need(inputs, 0, "input")?;
            Ok(out(x.dtype, x.shape.clone()))
        }
        Op::MatrixDiag => {
            let x = need(inputs, 0, "diagonal")?;
            let mut dims = x.shape.dims().to_vec();
            let last = *dims.last().ok_or("MATRIX_DIAG needs rank ≥ 1")?;
            dims.push(last);
            Ok(out(x.dtype, Shape::from_dims(dims)))
        }
        Op::Select => {
            let c = need(inputs, 0, "condition")?;
            let x = need(inputs, 1, "x")?;
            let y = need(inputs, 2, "y")?;
            check_type(c.dtype, &[DType::Bool], "condition")?;
            same_type_check(&[x, y], "SELECT")?;
            if !super::shapes_agree(&x.shape, &y.shape) {
                return Err(format!("SELECT x {} and y {} must have one shape", x.shape, y.shape));
            }
            let cond_ok = super::shapes_agree(&c.shape, &x.shape) || (c.shape.rank() == 1 && dims_agree(dim(c, 0), dim(x, 0)));
            if !cond_ok {
                return Err(format!("SELECT condition {} must match x {} or its first axis", c.shape, x.shape));
            }
            Ok(out(x.dtype, x.shape.clone()))
        }

        // Gathers and scatters.
        Op::EmbeddingLookup => {
            let ids = need(inputs, 0, "ids")?;
            let table = need(inputs, 1, "table")?;
            check_type(ids.dtype, &[DType::I32], "ids")?;
            super::rank(ids, 1, "ids")?;
            let mut dims = vec![dim(ids, 0)];
            dims.extend_from_slice(table.shape.dims().get(1..).unwrap_or(&[]));
            let dtype = if table.dtype == DType::F32 || table.quantization.is_none() { table.dtype } else { DType::F32 };
            Ok(out(dtype, Shape::from_dims(dims)))
        }
        Op::GatherNd => {
            let p = need(inputs, 0, "params")?;
            let idx = need(inputs, 1, "indices")?;
            check_type(idx.dtype, &[DType::I16, DType::I32, DType::I64], "indices")?;
            let ir = idx.shape.rank();
            let Some(Dim::Fixed(k)) = idx.shape.dims().last().copied() else {
                return Ok(None);
            };
            if k as usize > p.shape.rank() {
                return Err(format!("index depth {k} exceeds the params rank {}", p.shape.rank()));
            }
            let mut dims = idx.shape.dims()[..ir - 1].to_vec();
            dims.extend_from_slice(&p.shape.dims()[k as usize..]);
            Ok(out(p.dtype, Shape::from_dims(dims)))
        }
        Op::ScatterNd => {
            let idx = need(inputs, 0, "indices")?;
            let upd = need(inputs, 1, "updates")?;
            let shape = need(inputs, 2, "shape")?;
            check_type(idx.dtype, &[DType::I32], "indices")?;
            check_type(shape.dtype, &[DType::I32], "shape")?;
            match const_ints(shape) {
                Some(d) => {
                    let dims = d.iter().map(|n| u32::try_from(*n).map(Dim::Fixed).map_err(|_| format!("shape value {n}"))).collect::<Result<Vec<_>, _>>()?;
                    Ok(out(upd.dtype, Shape::from_dims(dims)))
                }
                None => return Ok(None),
            }
        }
        Op::OneHot(o) => {
            let idx = need(inputs, 0, "indices")?;
            let depth = need(inputs, 1, "depth")?;
            let on = need(inputs, 2, "on_value")?;
            let off = need(inputs, 3, "off_value")?;
            check_type(idx.dtype, INDEX, "indices")?;
            check_type(depth.dtype, &[DType::I32], "depth")?;
            same_type_check(&[on, off], "ONE_HOT")?;
            let r = idx.shape.rank();
            let a = if o.axis == -1 { r } else { norm_axis(i64::from(o.axis), r + 1)? };
            let d = match scalar_int(depth) {
                Some(n) => u32::try_from(n).map(Dim::Fixed).map_err(|_| format!("negative depth {n}"))?,
                None => Dim::Dynamic,
            };
            let mut dims = idx.shape.dims().to_vec();
            dims.insert(a, d);
            Ok(out(on.dtype, Shape::from_dims(dims)))
        }
        Op::TopkV2 => {
            let x = need(inputs, 0, "input")?;
            let k = need(inputs, 1, "k")?;
            check_type(k.dtype, &[DType::I32, DType::I16], "k")?;
            let mut dims = x.shape.dims().to_vec();
            let last = dims.last_mut().ok_or("TOPK_V2 needs rank ≥ 1")?;
            *last = match scalar_int(k) {
                Some(n) => {
                    let n = u32::try_from(n).map_err(|_| format!("negative k {n}"))?;
                    if let Dim::Fixed(m) = *last
                        && n > m
                    {
                        return Err(format!("k = {n} exceeds the last dimension {m}"));
                    }
                    Dim::Fixed(n)
                }
                None => Dim::Dynamic,
            };
            let s = Shape::from_dims(dims);
            Ok(vec![Inferred { dtype: Some(x.dtype), shape: s.clone() }, Inferred { dtype: Some(DType::I32), shape: s }])
        }
        Op::Where => {
            let c = need(inputs, 0, "condition")?;
            Ok(out(DType::I64, Shape::from_dims(vec![Dim::Dynamic, Dim::Fixed(c.shape.rank() as u32)])))
        }
        Op::Unique(o) => {
            let x = need(inputs, 0, "input")?;
            super::rank(x, 1, "input")?;
            check_type(o.idx_out_type, INDEX, "idx_out_type")?;
            Ok(vec![
                Inferred { dtype: Some(x.dtype), shape: Shape::from_dims(vec![Dim::Dynamic]) },
                Inferred { dtype: Some(o.idx_out_type), shape: x.shape.clone() },
            ])
        }
        Op::UnsortedSegmentSum | Op::UnsortedSegmentProd | Op::UnsortedSegmentMax | Op::UnsortedSegmentMin => {
            let data = need(inputs, 0, "data")?;
            let ids = need(inputs, 1, "segment_ids")?;
            let n = need(inputs, 2, "num_segments")?;
            check_type(ids.dtype, &[DType::I32], "segment_ids")?;
            check_type(n.dtype, &[DType::I32], "num_segments")?;
            let k = ids.shape.rank();
            let lead = match scalar_int(n) {
                Some(v) => u32::try_from(v).map(Dim::Fixed).map_err(|_| format!("negative num_segments {v}"))?,
                None => Dim::Dynamic,
            };
            let mut dims = vec![lead];
            dims.extend_from_slice(data.shape.dims().get(k..).unwrap_or(&[]));
            Ok(out(data.dtype, Shape::from_dims(dims)))
        }

        // Spatial.
        Op::L2Pool2d(o) => {
            count(inputs, 1, 1)?;
            let x = need(inputs, 0, "input")?;
            super::rank(x, 4, "input")?;
            check_type(x.dtype, FLOAT, "input")?;
            super::check_activation(o.activation)?;
            let (sh, sw) = (positive(o.stride_h, "stride_h")?, positive(o.stride_w, "stride_w")?);
            let (fh, fw) = (positive(o.filter_h, "filter_h")?, positive(o.filter_w, "filter_w")?);
            let h = window_dim(dim(x, 1), Dim::Fixed(fh), sh, 1, o.padding)?;
            let w = window_dim(dim(x, 2), Dim::Fixed(fw), sw, 1, o.padding)?;
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), h, w, dim(x, 3)])))
        }
        Op::Conv3d(o) => {
            let x = need(inputs, 0, "input")?;
            let f = need(inputs, 1, "filter")?;
            super::rank(x, 5, "input")?;
            super::rank(f, 5, "filter")?;
            check_type(x.dtype, &[DType::F32], "input")?;
            super::check_activation(o.fused_activation_function)?;
            if !dims_agree(dim(x, 4), dim(f, 3)) {
                return Err(format!("input channels {} differ from the filter's {}", dim(x, 4), dim(f, 3)));
            }
            let s = [positive(o.stride_d, "stride_d")?, positive(o.stride_h, "stride_h")?, positive(o.stride_w, "stride_w")?];
            let dl = [
                positive(o.dilation_d_factor, "dilation_d_factor")?,
                positive(o.dilation_h_factor, "dilation_h_factor")?,
                positive(o.dilation_w_factor, "dilation_w_factor")?,
            ];
            let mut dims = vec![dim(x, 0)];
            for i in 0..3 {
                dims.push(window_dim(dim(x, i + 1), dim(f, i), s[i], dl[i], o.padding)?);
            }
            dims.push(dim(f, 4));
            Ok(out(x.dtype, Shape::from_dims(dims)))
        }
        Op::SpaceToBatchNd | Op::BatchToSpaceNd => {
            let x = need(inputs, 0, "input")?;
            let block = need(inputs, 1, "block_shape")?;
            let pads = need(inputs, 2, "paddings or crops")?;
            let (Some(b), Some(p)) = (const_ints(block), const_ints(pads)) else {
                return Ok(Some(dyn_rank(x.dtype, x.shape.rank())));
            };
            let m = b.len();
            if p.len() != 2 * m || x.shape.rank() < m + 1 {
                return Err(format!("block_shape of {m} values needs [{m}, 2] paddings and rank > {m}"));
            }
            let prod: u64 = b.iter().map(|v| u64::try_from(*v).unwrap_or(0)).product();
            if prod == 0 || prod > u64::from(u32::MAX) {
                return Err(format!("block_shape {b:?} must be positive"));
            }
            let prod = prod as u32;
            let mut dims = x.shape.dims().to_vec();
            let space_to_batch = matches!(op, Op::SpaceToBatchNd);
            dims[0] = if space_to_batch { mul_dim(dims[0], prod) } else { div_dim(dims[0], prod, "the batch")? };
            for i in 0..m {
                let bi = b[i] as u32;
                let (lo, hi) = (p[2 * i], p[2 * i + 1]);
                if lo < 0 || hi < 0 {
                    return Err(format!("negative padding or crop {lo}, {hi}"));
                }
                dims[i + 1] = match dims[i + 1] {
                    Dim::Fixed(n) if space_to_batch => {
                        let padded = i128::from(n) + i128::from(lo) + i128::from(hi);
                        if padded % i128::from(bi) != 0 {
                            return Err(format!("padded size {padded} is not a multiple of block {bi}"));
                        }
                        Dim::Fixed(u32::try_from(padded / i128::from(bi)).map_err(|_| "dimension overflows")?)
                    }
                    Dim::Fixed(n) => {
                        let full = i128::from(n) * i128::from(bi) - i128::from(lo) - i128::from(hi);
                        Dim::Fixed(u32::try_from(full).map_err(|_| format!("crops {lo}, {hi} do not fit size {}", i128::from(n) * i128::from(bi)))?)
                    }
                    Dim::Dynamic => Dim::Dynamic,
                };
            }
            Ok(out(x.dtype, Shape::from_dims(dims)))
        }

        // Complex numbers.
        Op::Real | Op::Imag | Op::ComplexAbs => {
            let x = need(inputs, 0, "input")?;
            let d = match x.dtype {
                DType::Complex64 => DType::F32,
                DType::Complex128 => DType::F64,
                other => return Err(format!("input must be complex, is {other}")),
            };
            Ok(out(d, x.shape.clone()))
        }
        Op::Rfft2d => {
            let x = need(inputs, 0, "input")?;
            let len = need(inputs, 1, "fft_length")?;
            check_type(x.dtype, FLOAT, "input")?;
            check_type(len.dtype, &[DType::I32], "fft_length")?;
            let r = x.shape.rank();
            if r < 2 {
                return Err("RFFT2D needs rank ≥ 2".into());
            }
            let mut dims = x.shape.dims().to_vec();
            match const_ints(len) {
                Some(l) if l.len() == 2 => {
                    let h = u32::try_from(l[0]).map_err(|_| "negative fft_length")?;
                    let w = u32::try_from(l[1]).map_err(|_| "negative fft_length")?;
                    dims[r - 2] = Dim::Fixed(h);
                    dims[r - 1] = Dim::Fixed(w / 2 + 1);
                }
                Some(_) => return Err("fft_length must hold 2 values".into()),
                None => {
                    dims[r - 2] = Dim::Dynamic;
                    dims[r - 1] = Dim::Dynamic;
                }
            }
            Ok(out(DType::Complex64, Shape::from_dims(dims)))
        }

        // Recurrent ops: state tensors are variable inputs; the outputs are
        // the sequence or step outputs.
        Op::UnidirectionalSequenceLstm(o) => {
            // The activation of the gates and the cell: tanh is the usual one.
            let _ = o.fused_activation_function;
            let x = need(inputs, 0, "input")?;
            super::rank(x, 3, "input")?;
            // float32 (and hybrid), or int8 for the full-integer kernel
            // (unidirectional_sequence_lstm.cc; its operands are checked
            // in validate/recurrent.rs).
            check_type(x.dtype, &[DType::F32, DType::I8], "input")?;
            // recurrent_to_output_weights [n_cell, n_output].
            let n_out = dim(need(inputs, 8, "recurrent_to_output_weights")?, 1);
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), dim(x, 1), n_out])))
        }
        Op::Lstm(o) => {
            // The activation of the gates and the cell: tanh is the usual one.
            let _ = o.fused_activation_function;
            let x = need(inputs, 0, "input")?;
            check_type(x.dtype, &[DType::F32, DType::U8, DType::I8, DType::I16], "input")?;
            if o.kernel_type == crate::model::LstmKernelType::Basic || inputs.len() == 5 {
                return Ok(None);
            }
            let n_out = dim(need(inputs, 8, "recurrent_to_output_weights")?, 1);
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), n_out])))
        }
        Op::BidirectionalSequenceLstm(o) => {
            // The activation of the gates and the cell: tanh is the usual one.
            let _ = o.fused_activation_function;
            let x = need(inputs, 0, "input")?;
            super::rank(x, 3, "input")?;
            check_type(x.dtype, FLOAT, "input")?;
            let fw = dim(need(inputs, 8, "fw_recurrent_to_output_weights")?, 1);
            let bw = dim(need(inputs, 25, "bw_recurrent_to_output_weights")?, 1);
            Ok(bidirectional(x, fw, bw, o.merge_outputs))
        }
        Op::Rnn(o) => {
            // The activation of the gates and the cell: tanh is the usual one.
            let _ = o.fused_activation_function;
            let x = need(inputs, 0, "input")?;
            let w = need(inputs, 1, "weights")?;
            super::rank(x, 2, "input")?;
            super::rank(w, 2, "weights")?;
            check_type(x.dtype, FLOAT, "input")?;
            if !dims_agree(dim(x, 1), dim(w, 1)) {
                return Err(format!("input {} and weights {} disagree on the input size", x.shape, w.shape));
            }
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), dim(w, 0)])))
        }
        Op::UnidirectionalSequenceRnn(o) => {
            // The activation of the gates and the cell: tanh is the usual one.
            let _ = o.fused_activation_function;
            let x = need(inputs, 0, "input")?;
            let w = need(inputs, 1, "weights")?;
            super::rank(x, 3, "input")?;
            check_type(x.dtype, FLOAT, "input")?;
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), dim(x, 1), dim(w, 0)])))
        }
        Op::BidirectionalSequenceRnn(o) => {
            // The activation of the gates and the cell: tanh is the usual one.
            let _ = o.fused_activation_function;
            let x = need(inputs, 0, "input")?;
            super::rank(x, 3, "input")?;
            check_type(x.dtype, FLOAT, "input")?;
            let fw = dim(need(inputs, 1, "fw_weights")?, 0);
            let bw = dim(need(inputs, 5, "bw_weights")?, 0);
            Ok(bidirectional(x, fw, bw, o.merge_outputs))
        }
        Op::Svdf(o) => {
            // The activation of the gates and the cell: tanh is the usual one.
            let _ = o.fused_activation_function;
            let x = need(inputs, 0, "input")?;
            let wf = need(inputs, 1, "weights_feature")?;
            super::rank(x, 2, "input")?;
            check_type(x.dtype, &[DType::F32, DType::I8], "input")?;
            let rank = positive(o.rank, "rank")?;
            let units = div_dim(dim(wf, 0), rank, "the filter count")?;
            Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), units])))
        }

        // Detection.
        Op::NonMaxSuppressionV4 | Op::NonMaxSuppressionV5 => {
            let boxes = need(inputs, 0, "boxes")?;
            let scores = need(inputs, 1, "scores")?;
            let max = need(inputs, 2, "max_output_size")?;
            check_type(boxes.dtype, FLOAT, "boxes")?;
            check_type(scores.dtype, FLOAT, "scores")?;
            check_type(max.dtype, &[DType::I32], "max_output_size")?;
            super::rank(boxes, 2, "boxes")?;
            if !dims_agree(dim(boxes, 1), Dim::Fixed(4)) {
                return Err(format!("boxes must be [n, 4], are {}", boxes.shape));
            }
            let n = match scalar_int(max) {
                Some(v) => u32::try_from(v).map(Dim::Fixed).map_err(|_| format!("negative max_output_size {v}"))?,
                None => Dim::Dynamic,
            };
            let idx = Inferred { dtype: Some(DType::I32), shape: Shape::from_dims(vec![n]) };
            let valid = Inferred { dtype: Some(DType::I32), shape: Shape::from_dims(vec![]) };
            if matches!(op, Op::NonMaxSuppressionV5) {
                Ok(vec![idx, Inferred { dtype: Some(DType::F32), shape: Shape::from_dims(vec![n]) }, valid])
            } else {
                Ok(vec![idx, valid])
            }
        }

        // Shapes given as constant inputs.
        Op::Conv3dTranspose(o) => {
            super::check_activation(o.fused_activation_function)?;
            let shape = need(inputs, 0, "output_shape")?;
            let x = need(inputs, 2, "input")?;
            check_type(x.dtype, FLOAT, "input")?;
            super::rank(x, 5, "input")?;
            match const_ints(shape) {
                Some(d) if d.len() == 5 => Ok(out(x.dtype, const_shape(&d)?)),
                Some(d) => Err(format!("output_shape holds {} values, not 5", d.len())),
                None => Ok(dyn_rank(x.dtype, 5)),
            }
        }
        Op::SparseToDense(_) => {
            let shape = need(inputs, 1, "output_shape")?;
            let values = need(inputs, 2, "values")?;
            match const_ints(shape) {
                Some(d) => Ok(out(values.dtype, const_shape(&d)?)),
                None => return Ok(None),
            }
        }
        Op::RandomStandardNormal(_) | Op::RandomUniform(_) => {
            let shape = need(inputs, 0, "shape")?;
            check_type(shape.dtype, INDEX, "shape")?;
            match const_ints(shape) {
                Some(d) => Ok(out(DType::F32, const_shape(&d)?)),
                None => return Ok(None),
            }
        }
        Op::Multinomial(_) => {
            let logits = need(inputs, 0, "logits")?;
            let n = need(inputs, 1, "num_samples")?;
            super::rank(logits, 2, "logits")?;
            let k = match scalar_int(n) {
                Some(v) => u32::try_from(v).map(Dim::Fixed).map_err(|_| format!("negative num_samples {v}"))?,
                None => Dim::Dynamic,
            };
            Ok(out(DType::I64, Shape::from_dims(vec![dim(logits, 0), k])))
        }
        Op::SegmentSum => {
            let data = need(inputs, 0, "data")?;
            let ids = need(inputs, 1, "segment_ids")?;
            check_type(ids.dtype, &[DType::I32], "segment_ids")?;
            let mut dims = vec![Dim::Dynamic];
            dims.extend_from_slice(data.shape.dims().get(1..).unwrap_or(&[]));
            Ok(out(data.dtype, Shape::from_dims(dims)))
        }
        Op::Densify => {
            let x = need(inputs, 0, "input")?;
            Ok(out(x.dtype, x.shape.clone()))
        }
        Op::LshProjection(o) => {
            let hash = need(inputs, 0, "hash")?;
            super::rank(hash, 2, "hash")?;
            let d = match (o.kind, dim(hash, 0), dim(hash, 1)) {
                (crate::model::LshProjectionType::Sparse, n, _) => n,
                (crate::model::LshProjectionType::Dense, Dim::Fixed(n), Dim::Fixed(b)) => n.checked_mul(b).map_or(Dim::Dynamic, Dim::Fixed),
                (crate::model::LshProjectionType::Dense, _, _) => Dim::Dynamic,
                (other, _, _) => return Err(format!("projection type {other:?}")),
            };
            Ok(out(DType::I32, Shape::from_dims(vec![d])))
        }
        Op::HashtableLookup => {
            let lookup = need(inputs, 0, "lookup")?;
            let values = need(inputs, 2, "values")?;
            super::rank(lookup, 1, "lookup")?;
            let mut dims = vec![dim(lookup, 0)];
            dims.extend_from_slice(values.shape.dims().get(1..).unwrap_or(&[]));
            Ok(vec![
                Inferred { dtype: Some(values.dtype), shape: Shape::from_dims(dims) },
                Inferred { dtype: Some(DType::U8), shape: lookup.shape.clone() },
            ])
        }

        Op::Dilate => {
            let x = need(inputs, 0, "input")?;
            let d = need(inputs, 1, "dilations")?;
            let pad = need(inputs, 2, "padding_value")?;
            check_type(d.dtype, &[DType::I32], "dilations")?;
            if pad.dtype != x.dtype {
                return Err(format!("padding_value is {}, the input {}", pad.dtype, x.dtype));
            }
            let Some(dv) = const_ints(d) else { return Ok(Some(dyn_rank(x.dtype, x.shape.rank()))) };
            if dv.len() != x.shape.rank() {
                return Err(format!("{} dilations for rank {}", dv.len(), x.shape.rank()));
            }
            let dims = x
                .shape
                .dims()
                .iter()
                .zip(&dv)
                .map(|(n, k)| {
                    let k = u32::try_from(*k).ok().filter(|k| *k >= 1).ok_or_else(|| format!("dilation {k} must be at least 1"))?;
                    Ok(match n {
                        Dim::Fixed(0) => return Err("DILATE of an empty dimension".to_string()),
                        Dim::Fixed(n) => (n - 1).checked_mul(k).and_then(|v| v.checked_add(1)).map_or(Dim::Dynamic, Dim::Fixed),
                        Dim::Dynamic => Dim::Dynamic,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(out(x.dtype, Shape::from_dims(dims)))
        }
        Op::ReduceWindow(_) => {
            let x = need(inputs, 0, "input")?;
            let r = x.shape.rank();
            let vals: Vec<Option<Vec<i64>>> = (2..5).map(|i| need(inputs, i, "window operand").ok().and_then(const_ints)).collect();
            let (Some(win), Some(st), Some(dl)) = (&vals[0], &vals[1], &vals[2]) else { return Ok(Some(dyn_rank(x.dtype, r))) };
            if win.len() != r || st.len() != r || dl.len() != r {
                return Err(format!("window, strides and dilations must each hold {r} values"));
            }
            let mut dims = Vec::with_capacity(r);
            for (i, d) in x.shape.dims().iter().enumerate() {
                let (w, s, k) = (win[i], st[i], dl[i]);
                if w < 1 || s < 1 || k < 1 {
                    return Err(format!("window {w}, stride {s} and dilation {k} must be at least 1"));
                }
                dims.push(match d {
                    Dim::Fixed(n) => {
                        let extent = i128::from(w - 1) * i128::from(k) + 1;
                        let n = i128::from(*n);
                        let o = if n < extent { 0 } else { (n - extent) / i128::from(s) + 1 };
                        u32::try_from(o).map_or(Dim::Dynamic, Dim::Fixed)
                    }
                    Dim::Dynamic => Dim::Dynamic,
                });
            }
            Ok(out(x.dtype, Shape::from_dims(dims)))
        }

        // Resources: handles are resource scalars; assignments and imports
        // have no outputs.
        Op::Hashtable(_) | Op::VarHandle(_) => Ok(out(DType::Resource, Shape::from_dims(vec![]))),
        Op::AssignVariable | Op::HashtableImport => Ok(Vec::new()),
        Op::HashtableSize => Ok(out(DType::I64, Shape::from_dims(vec![Dim::Fixed(1)]))),
        Op::HashtableFind => {
            let keys = need(inputs, 1, "keys")?;
            let default = need(inputs, 2, "default_value")?;
            Ok(out(default.dtype, keys.shape.clone()))
        }

        // Ops with explicit outputs only: ReadVariable (its type is the
        // variable's), SkipGram and EmbeddingLookupSparse (value-dependent
        // sizes), Bitcast (the output type chooses the shape), and the
        // legacy CALL, DELEGATE and CONCAT_EMBEDDINGS.
        _ => return Ok(None),
    };
    r.map(Some)
}
