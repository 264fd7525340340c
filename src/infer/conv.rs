//! Inference for the weighted and windowed ops: CONV_2D, DEPTHWISE_CONV_2D,
//! TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL and the 2-D pools
//! (AVERAGE_POOL_2D, MAX_POOL_2D).

use super::{broadcast, check_activation, check_type, const_ints, count, dim, dims_agree, need, out, positive, positive_dim, rank, window_dim, Inferred, R};
use crate::model::{
    BatchMatMulOptions, Conv2dOptions, DType, DepthwiseConv2dOptions, Dim, FullyConnectedOptions, Op, Pool2dOptions, Shape, Tensor,
    TransposeConvOptions,
};

/// Infers a conv-family op; `None` for the ops of other families.
pub(super) fn infer(op: &Op, inputs: &[Option<&Tensor>]) -> Option<Result<Option<Vec<Inferred>>, String>> {
    let r = match op {
        Op::Conv2d(o) => conv_2d(inputs, o),
        Op::DepthwiseConv2d(o) => depthwise_conv_2d(inputs, o),
        Op::TransposeConv(o) => transpose_conv(inputs, o),
        Op::FullyConnected(o) => fully_connected(inputs, o),
        Op::BatchMatMul(o) => batch_matmul(inputs, o),
        Op::AveragePool2d(o) | Op::MaxPool2d(o) => pool_2d(inputs, o),
        _ => return None,
    };
    Some(r.map(Some))
}

/// Checks the (input, weights, bias) type combination of a conv or fc.
fn check_weighted_types(input: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<(), String> {
    use DType::*;
    let b = bias.map(|b| b.dtype);
    let ok = match (input.dtype, w.dtype) {
        (F32, F32) | (F32, F16) => matches!(b, None | Some(F32)),
        (F32, I8) | (F32, U8) | (F32, I4) => matches!(b, None | Some(F32)), // hybrid
        (I8, I8) | (I8, I4) | (U8, U8) => matches!(b, None | Some(I32)),
        (I16, I8) => matches!(b, None | Some(I64) | Some(I32)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "unsupported type combination: input {}, weights {}, bias {}",
            input.dtype,
            w.dtype,
            b.map_or("none".to_string(), |d| d.to_string())
        ))
    }
}

/// LiteRT requires the bias input of convolutions.
fn need_bias<'a>(inputs: &[Option<&'a Tensor>]) -> Result<&'a Tensor, String> {
    inputs
        .get(2)
        .copied()
        .flatten()
        .ok_or_else(|| "needs a bias input (the runtime rejects convolutions without one; pass a zero bias)".to_string())
}

fn quantized_out(input: &Tensor) -> DType {
    input.dtype
}

fn conv_2d(inputs: &[Option<&Tensor>], o: &Conv2dOptions) -> R {
    count(inputs, 3, 3)?;
    let x = need(inputs, 0, "input")?;
    let w = need(inputs, 1, "filter")?;
    let bias = Some(need_bias(inputs)?);
    check_activation(o.activation)?;
    rank(x, 4, "input")?;
    rank(w, 4, "filter")?;
    check_weighted_types(x, w, bias)?;
    let (sh, sw) = (positive(o.stride_h, "stride_h")?, positive(o.stride_w, "stride_w")?);
    let (dh, dw) = (positive(o.dilation_h, "dilation_h")?, positive(o.dilation_w, "dilation_w")?);
    if let (Dim::Fixed(c), Dim::Fixed(fc)) = (dim(x, 3), dim(w, 3)) {
        if fc == 0 || c == 0 || c % fc != 0 {
            return Err(format!("input channels {c} are not a positive multiple of filter channels {fc}"));
        }
        if let Dim::Fixed(oc) = dim(w, 0)
            && oc % (c / fc) != 0 {
                return Err(format!("output channels {oc} are not a multiple of the group count {}", c / fc));
            }
    }
    if let Some(b) = bias {
        rank(b, 1, "bias")?;
        if !dims_agree(dim(b, 0), dim(w, 0)) {
            return Err(format!("bias shape {} does not match {} output channels", b.shape, dim(w, 0)));
        }
    }
    let h = window_dim(dim(x, 1), dim(w, 1), sh, dh, o.padding)?;
    let wd = window_dim(dim(x, 2), dim(w, 2), sw, dw, o.padding)?;
    Ok(out(quantized_out(x), Shape::from_dims(vec![dim(x, 0), h, wd, dim(w, 0)])))
}

fn depthwise_conv_2d(inputs: &[Option<&Tensor>], o: &DepthwiseConv2dOptions) -> R {
    count(inputs, 3, 3)?;
    let x = need(inputs, 0, "input")?;
    let w = need(inputs, 1, "filter")?;
    let bias = Some(need_bias(inputs)?);
    check_activation(o.activation)?;
    rank(x, 4, "input")?;
    rank(w, 4, "filter")?;
    check_weighted_types(x, w, bias)?;
    if !dims_agree(dim(w, 0), Dim::Fixed(1)) {
        return Err(format!("depthwise filter must be [1, H, W, C*M], is {}", w.shape));
    }
    let m = positive(o.depth_multiplier, "depth_multiplier")?;
    if let (Dim::Fixed(c), Dim::Fixed(oc)) = (dim(x, 3), dim(w, 3))
        && u64::from(c) * u64::from(m) != u64::from(oc) {
            return Err(format!("filter has {oc} channels, expected input channels {c} × depth_multiplier {m}"));
        }
    if let Some(b) = bias {
        rank(b, 1, "bias")?;
        if !dims_agree(dim(b, 0), dim(w, 3)) {
            return Err(format!("bias shape {} does not match {} output channels", b.shape, dim(w, 3)));
        }
    }
    let (sh, sw) = (positive(o.stride_h, "stride_h")?, positive(o.stride_w, "stride_w")?);
    let (dh, dw) = (positive(o.dilation_h, "dilation_h")?, positive(o.dilation_w, "dilation_w")?);
    let h = window_dim(dim(x, 1), dim(w, 1), sh, dh, o.padding)?;
    let wd = window_dim(dim(x, 2), dim(w, 2), sw, dw, o.padding)?;
    Ok(out(quantized_out(x), Shape::from_dims(vec![dim(x, 0), h, wd, dim(w, 3)])))
}

fn transpose_conv(inputs: &[Option<&Tensor>], o: &TransposeConvOptions) -> R {
    count(inputs, 3, 4)?;
    let os = need(inputs, 0, "output_shape")?;
    let w = need(inputs, 1, "weights")?;
    let x = need(inputs, 2, "input")?;
    let bias = inputs.get(3).copied().flatten();
    check_activation(o.activation)?;
    rank(x, 4, "input")?;
    rank(w, 4, "weights")?;
    check_type(os.dtype, &[DType::I32], "output_shape")?;
    if os.shape.rank() != 1 || !dims_agree(dim(os, 0), Dim::Fixed(4)) {
        return Err(format!("output_shape must have shape [4], has {}", os.shape));
    }
    check_weighted_types(x, w, bias)?;
    positive(o.stride_h, "stride_h")?;
    positive(o.stride_w, "stride_w")?;
    if !dims_agree(dim(x, 3), dim(w, 3)) {
        return Err(format!("input channels of {} do not match weights {}", x.shape, w.shape));
    }
    if let Some(b) = bias {
        rank(b, 1, "bias")?;
        if !dims_agree(dim(b, 0), dim(w, 0)) {
            return Err(format!("bias shape {} does not match {} output channels", b.shape, dim(w, 0)));
        }
    }
    let shape = match const_ints(os) {
        Some(v) if v.len() == 4 => {
            let dims: Vec<Dim> = v.iter().map(|d| positive_dim(*d, "output_shape entry")).collect::<Result<_, _>>()?;
            if !dims_agree(dims[3], dim(w, 0)) || !dims_agree(dims[0], dim(x, 0)) {
                return Err(format!("output_shape {v:?} does not fit input {} and weights {}", x.shape, w.shape));
            }
            // The runtime requires the input to be what a convolution
            // of the output would give.
            for (axis, stride) in [(1, o.stride_h), (2, o.stride_w)] {
                if let (Dim::Fixed(k), Dim::Fixed(i)) = (dim(w, axis), dim(x, axis)) {
                    let expect = window_dim(dims[axis], Dim::Fixed(k), positive(stride, "stride")?, 1, o.padding)?;
                    if expect != Dim::Fixed(i) {
                        return Err(format!("output_shape {v:?} needs input size {expect} on axis {axis}, the input has {i}"));
                    }
                }
            }
            Shape::from_dims(dims)
        }
        Some(v) => return Err(format!("output_shape has {} values, expected 4", v.len())),
        None => Shape::from_dims(vec![Dim::Dynamic; 4]),
    };
    Ok(out(quantized_out(x), shape))
}

fn fully_connected(inputs: &[Option<&Tensor>], o: &FullyConnectedOptions) -> R {
    count(inputs, 2, 3)?;
    check_activation(o.activation)?;
    let x = need(inputs, 0, "input")?;
    let w = need(inputs, 1, "weights")?;
    let bias = inputs.get(2).copied().flatten();
    rank(w, 2, "weights")?;
    check_weighted_types(x, w, bias)?;
    if x.shape.rank() == 0 {
        return Err("input must have rank ≥ 1".into());
    }
    let units = dim(w, 0);
    if let Some(b) = bias
        && b.shape.num_elements().is_some_and(|n| units.fixed().is_some_and(|u| u64::from(u) != n)) {
            return Err(format!("bias shape {} does not match {units} units", b.shape));
        }
    let shape = if o.keep_num_dims {
        if !dims_agree(dim(x, x.shape.rank() - 1), dim(w, 1)) {
            return Err(format!("input {} last dimension does not match weights {}", x.shape, w.shape));
        }
        let mut d = x.shape.dims().to_vec();
        if let Some(last) = d.last_mut() {
            *last = units;
        }
        Shape::from_dims(d)
    } else {
        let batch = match (x.shape.num_elements(), dim(w, 1)) {
            (Some(n), Dim::Fixed(k)) => {
                if k == 0 || n % u64::from(k) != 0 {
                    return Err(format!("input {} has {n} elements, not a multiple of input size {k}", x.shape));
                }
                Dim::Fixed(u32::try_from(n / u64::from(k)).map_err(|_| "batch overflows")?)
            }
            _ => Dim::Dynamic,
        };
        Shape::from_dims(vec![batch, units])
    };
    Ok(out(quantized_out(x), shape))
}

fn batch_matmul(inputs: &[Option<&Tensor>], o: &BatchMatMulOptions) -> R {
    count(inputs, 2, 2)?;
    let a = need(inputs, 0, "lhs")?;
    let b = need(inputs, 1, "rhs")?;
    let ok = matches!(
        (a.dtype, b.dtype),
        (DType::F32, DType::F32) | (DType::I8, DType::I8) | (DType::I16, DType::I16) | (DType::F32, DType::I8)
    );
    if !ok {
        return Err(format!("unsupported type combination: lhs {}, rhs {}", a.dtype, b.dtype));
    }
    let (ra, rb) = (a.shape.rank(), b.shape.rank());
    if !(2..=5).contains(&ra) || !(2..=5).contains(&rb) {
        return Err(format!("operands must have rank 2 to 5, have shapes {} and {}", a.shape, b.shape));
    }
    let (m, ka) = if o.adj_x { (dim(a, ra - 1), dim(a, ra - 2)) } else { (dim(a, ra - 2), dim(a, ra - 1)) };
    let (kb, n) = if o.adj_y { (dim(b, rb - 1), dim(b, rb - 2)) } else { (dim(b, rb - 2), dim(b, rb - 1)) };
    if !dims_agree(ka, kb) {
        return Err(format!("inner dimensions of {} and {} differ", a.shape, b.shape));
    }
    let batch = broadcast(&Shape::from_dims(a.shape.dims()[..ra - 2].to_vec()), &Shape::from_dims(b.shape.dims()[..rb - 2].to_vec()))?;
    let mut dims = batch.dims().to_vec();
    dims.extend([m, n]);
    Ok(out(a.dtype, Shape::from_dims(dims)))
}

/// AVERAGE_POOL_2D and MAX_POOL_2D.
fn pool_2d(inputs: &[Option<&Tensor>], o: &Pool2dOptions) -> R {
    count(inputs, 1, 1)?;
    check_activation(o.activation)?;
    let x = need(inputs, 0, "input")?;
    rank(x, 4, "input")?;
    check_type(x.dtype, &[DType::F32, DType::I8, DType::U8, DType::I16], "input")?;
    let (sh, sw) = (positive(o.stride_h, "stride_h")?, positive(o.stride_w, "stride_w")?);
    let (fh, fw) = (positive(o.filter_h, "filter_height")?, positive(o.filter_w, "filter_width")?);
    let h = window_dim(dim(x, 1), Dim::Fixed(fh), sh, 1, o.padding)?;
    let wd = window_dim(dim(x, 2), Dim::Fixed(fw), sw, 1, o.padding)?;
    Ok(out(x.dtype, Shape::from_dims(vec![dim(x, 0), h, wd, dim(x, 3)])))
}
