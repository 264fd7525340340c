//! `CONV_2D`, `DEPTHWISE_CONV_2D`, `TRANSPOSE_CONV` (NHWC), `CONV_3D` and
//! `CONV_3D_TRANSPOSE` (NDHWC).

use super::data::non_negative;
use super::gemm::{self, Operands};
use super::{clamp, dot, Cx, Result, Window};
use crate::eval::Value;
use crate::model::{Conv2dOptions, Conv3dOptions, DepthwiseConv2dOptions, TransposeConvOptions};

/// `CONV_2D`: input `[N, H, W, C]`, filter `[O, KH, KW, I]`, optional bias
/// `[O]`. Grouped when `C = groups × I`: output channel `o` reads input
/// channels of group `o / (O / groups)`.
pub(super) fn conv2d(cx: &Cx<'_>, o: &Conv2dOptions) -> Result<Vec<Value>> {
    cx.arity(2, 3)?;
    let x = cx.input(0, "input")?;
    let w = cx.input(1, "filter")?;
    let [n, h, wd, c] = cx.dims4(x, "input")?;
    let [oc, kh, kw, ic] = cx.dims4(w, "filter")?;
    if c == 0 || ic == 0 || !c.is_multiple_of(ic) {
        return Err(cx.shape_err(format!("input channels {c} are not a positive multiple of filter channels {ic}")));
    }
    let groups = c / ic;
    if !oc.is_multiple_of(groups) {
        return Err(cx.shape_err(format!("output channels {oc} are not a multiple of the group count {groups}")));
    }
    let bounds = cx.activation(o.activation)?;
    let ry = Window::new(cx, h, kh, o.stride_h, o.dilation_h, o.padding, "height")?;
    let rx = Window::new(cx, wd, kw, o.stride_w, o.dilation_w, o.padding, "width")?;
    let shape = vec![n, ry.out, rx.out, oc];
    let total = cx.numel(&shape)?;
    let bias = cx.bias(cx.optional(2), oc)?;
    let ops = Operands::new(cx, x, w, Some(0))?;
    let acc = ops.run(gemm::Conv2d { cx, n, h, w: wd, c, oc, kh, kw, ic, groups, ry, rx })?;
    if acc.len() != total {
        return Err(cx.internal());
    }
    cx.finish(shape, ops.finish(acc, &bias, bounds))
}

/// `DEPTHWISE_CONV_2D`: input `[N, H, W, C]`, filter `[1, KH, KW, C × M]`,
/// optional bias `[C × M]`; output channel `c × M + m` reads input channel
/// `c`. Like the runtime, the multiplier `M` comes from the shapes (the
/// `depth_multiplier` option is not consulted).
pub(super) fn depthwise_conv2d(cx: &Cx<'_>, o: &DepthwiseConv2dOptions) -> Result<Vec<Value>> {
    cx.arity(2, 3)?;
    let x = cx.input(0, "input")?;
    let w = cx.input(1, "filter")?;
    let [n, h, wd, c] = cx.dims4(x, "input")?;
    let [one, kh, kw, cm] = cx.dims4(w, "filter")?;
    if one != 1 {
        return Err(cx.shape_err(format!("filter must be [1, H, W, C*M], is {:?}", w.shape)));
    }
    if c == 0 || cm == 0 || !cm.is_multiple_of(c) {
        return Err(cx.shape_err(format!("filter channels {cm} are not a positive multiple of input channels {c}")));
    }
    let m = cm / c;
    let bounds = cx.activation(o.activation)?;
    let ry = Window::new(cx, h, kh, o.stride_h, o.dilation_h, o.padding, "height")?;
    let rx = Window::new(cx, wd, kw, o.stride_w, o.dilation_w, o.padding, "width")?;
    let shape = vec![n, ry.out, rx.out, cm];
    let total = cx.numel(&shape)?;
    let bias = cx.bias(cx.optional(2), cm)?;
    let ops = Operands::new(cx, x, w, Some(3))?;
    let acc = ops.run(gemm::Depthwise { cx, n, h, w: wd, c, m, kh, kw, ry, rx })?;
    if acc.len() != total {
        return Err(cx.internal());
    }
    cx.finish(shape, ops.finish(acc, &bias, bounds))
}

/// `TRANSPOSE_CONV`: inputs `[output_shape, weights [O, KH, KW, I], input
/// [N, H, W, I], bias? [O]]`. The padding is TFLite's: derived from the
/// output size as if the output were the input of a convolution with the
/// same window and stride (`VALID`: none); input pixel `(y, x)` adds its
/// filter-weighted value at output `(y·s − pad + ky, x·s − pad + kx)`.
pub(super) fn transpose_conv(cx: &Cx<'_>, o: &TransposeConvOptions) -> Result<Vec<Value>> {
    cx.arity(3, 4)?;
    let os = cx.ints(cx.input(0, "output_shape")?, "output_shape")?;
    let w = cx.input(1, "weights")?;
    let x = cx.input(2, "input")?;
    let [n, h, wd, ic] = cx.dims4(x, "input")?;
    let [oc, kh, kw, wic] = cx.dims4(w, "weights")?;
    if wic != ic {
        return Err(cx.shape_err(format!("input channels {ic} do not match weights {:?}", w.shape)));
    }
    let shape: Vec<usize> = os
        .iter()
        .map(|d| usize::try_from(*d).map_err(|_| cx.shape_err(format!("output_shape {os:?} has a negative entry"))))
        .collect::<Result<_>>()?;
    let [on, oh, ow, occ] = <[usize; 4]>::try_from(shape.as_slice()).map_err(|_| cx.shape_err(format!("output_shape {os:?} must have 4 entries")))?;
    if on != n || occ != oc {
        return Err(cx.shape_err(format!("output_shape {os:?} does not fit input {:?} and weights {:?}", x.shape, w.shape)));
    }
    let bounds = cx.activation(o.activation)?;
    // The padding of a convolution from the output back to the input.
    let py = Window::new(cx, oh, kh, o.stride_h, 1, o.padding, "height")?;
    let px = Window::new(cx, ow, kw, o.stride_w, 1, o.padding, "width")?;
    // Like the runtime, the input must be that convolution's output.
    if py.out != h || px.out != wd {
        return Err(cx.shape_err(format!("output_shape {os:?} needs an input of {}x{}, the input is {h}x{wd}", py.out, px.out)));
    }
    let total = cx.numel(&shape)?;
    let xs = cx.real(x)?;
    let ws = cx.real(w)?;
    let bias = cx.bias(cx.optional(3), oc)?;
    let mut acc = vec![0.0; total];
    for b in 0..n {
        for iy in 0..h {
            for ix in 0..wd {
                let xrow = cx.slice(&xs, ((b * h + iy) * wd + ix) * ic, ic)?;
                for ky in 0..kh {
                    let Some(oy) = (iy * py.stride + ky).checked_sub(py.pad_before).filter(|v| *v < oh) else { continue };
                    for kx in 0..kw {
                        let Some(ox) = (ix * px.stride + kx).checked_sub(px.pad_before).filter(|v| *v < ow) else { continue };
                        let base = ((b * oh + oy) * ow + ox) * oc;
                        for co in 0..oc {
                            let wrow = cx.slice(&ws, ((co * kh + ky) * kw + kx) * ic, ic)?;
                            *acc.get_mut(base + co).ok_or_else(|| cx.internal())? += dot(xrow, wrow);
                        }
                    }
                }
            }
        }
    }
    for (i, v) in acc.iter_mut().enumerate() {
        *v = clamp(*v + bias[i % oc.max(1)], bounds);
    }
    cx.finish(shape, acc)
}

/// `CONV_3D`: input `[N, D, H, W, C]`, filter `[KD, KH, KW, C, O]`,
/// optional bias `[O]`, with TensorFlow's SAME / VALID padding.
pub(super) fn conv3d(cx: &Cx<'_>, o: &Conv3dOptions) -> Result<Vec<Value>> {
    cx.arity(2, 3)?;
    let x = cx.input(0, "input")?;
    let w = cx.input(1, "filter")?;
    let dims5 = |v: &Value, what: &str| {
        <[usize; 5]>::try_from(v.shape.as_slice()).map_err(|_| cx.shape_err(format!("{what} must have rank 5, has shape {:?}", v.shape)))
    };
    let [n, d, h, wd, c] = dims5(x, "input")?;
    let [kd, kh, kw, ic, oc] = dims5(w, "filter")?;
    if ic != c {
        return Err(cx.shape_err(format!("input channels {c} differ from the filter's {ic}")));
    }
    let bounds = cx.activation(o.fused_activation_function)?;
    let rd = Window::new(cx, d, kd, o.stride_d, o.dilation_d_factor, o.padding, "depth")?;
    let ry = Window::new(cx, h, kh, o.stride_h, o.dilation_h_factor, o.padding, "height")?;
    let rx = Window::new(cx, wd, kw, o.stride_w, o.dilation_w_factor, o.padding, "width")?;
    let shape = vec![n, rd.out, ry.out, rx.out, oc];
    let total = cx.numel(&shape)?;
    let xs = cx.real(x)?;
    let ws = cx.real(w)?;
    let bias = cx.bias(cx.optional(2), oc)?;
    let mut out = Vec::with_capacity(total);
    let mut acc = vec![0.0; oc];
    for b in 0..n {
        for od in 0..rd.out {
            for oy in 0..ry.out {
                for ox in 0..rx.out {
                    acc.copy_from_slice(&bias);
                    for zd in 0..kd {
                        let Some(id) = rd.tap(od, zd) else { continue };
                        for zy in 0..kh {
                            let Some(iy) = ry.tap(oy, zy) else { continue };
                            for zx in 0..kw {
                                let Some(ix) = rx.tap(ox, zx) else { continue };
                                let xrow = cx.slice(&xs, (((b * d + id) * h + iy) * wd + ix) * c, c)?;
                                let wbase = ((zd * kh + zy) * kw + zx) * c * oc;
                                for (ci, xv) in xrow.iter().enumerate() {
                                    let wrow = cx.slice(&ws, wbase + ci * oc, oc)?;
                                    acc.iter_mut().zip(wrow).for_each(|(a, wv)| *a += xv * wv);
                                }
                            }
                        }
                    }
                    out.extend(acc.iter().map(|v| clamp(*v, bounds)));
                }
            }
        }
    }
    cx.finish(shape, out)
}

/// `CONV_3D_TRANSPOSE`: output shape `[N, D, H, W, O]` (int32), filter
/// `[KD, KH, KW, O, C]`, input `[N, D', H', W', C]`, optional bias `[O]`.
/// The padding is that of a `CONV_3D` from the output back to the input,
/// whose spatial sizes must come out as the input's (as LiteRT checks);
/// each input element scatters into the outputs its taps reach.
pub(super) fn conv3d_transpose(cx: &Cx<'_>, o: &Conv3dOptions) -> Result<Vec<Value>> {
    cx.arity(3, 4)?;
    let s = cx.input(0, "output_shape")?;
    let w = cx.input(1, "filter")?;
    let x = cx.input(2, "input")?;
    let dims5 = |v: &Value, what: &str| {
        <[usize; 5]>::try_from(v.shape.as_slice()).map_err(|_| cx.shape_err(format!("{what} must have rank 5, has shape {:?}", v.shape)))
    };
    let [n, d, h, wd, c] = dims5(x, "input")?;
    let [kd, kh, kw, oc, ic] = dims5(w, "filter")?;
    if ic != c {
        return Err(cx.shape_err(format!("input channels {c} differ from the filter's {ic}")));
    }
    let sv = cx.ints(s, "output_shape")?;
    if s.shape.len() != 1 || sv.len() != 5 {
        return Err(cx.shape_err(format!("output_shape must be a vector of 5 values, has shape {:?}", s.shape)));
    }
    let shape = sv
        .iter()
        .map(|v| non_negative(cx, *v, "output_shape"))
        .collect::<Result<Vec<usize>>>()?;
    let [on, od, oh, ow, ooc] = <[usize; 5]>::try_from(shape.as_slice()).map_err(|_| cx.internal())?;
    if on != n {
        return Err(cx.shape_err(format!("output batch {on} differs from the input's {n}")));
    }
    if ooc != oc {
        return Err(cx.shape_err(format!("output channels {ooc} differ from the filter's {oc}")));
    }
    let bounds = cx.activation(o.fused_activation_function)?;
    let rd = Window::new(cx, od, kd, o.stride_d, o.dilation_d_factor, o.padding, "depth")?;
    let ry = Window::new(cx, oh, kh, o.stride_h, o.dilation_h_factor, o.padding, "height")?;
    let rx = Window::new(cx, ow, kw, o.stride_w, o.dilation_w_factor, o.padding, "width")?;
    if (rd.out, ry.out, rx.out) != (d, h, wd) {
        return Err(cx.shape_err(format!(
            "output_shape {sv:?} convolves back to spatial size {:?}, not the input's {:?}",
            [rd.out, ry.out, rx.out],
            [d, h, wd]
        )));
    }
    let total = cx.numel(&shape)?;
    let xs = cx.real(x)?;
    let ws = cx.real(w)?;
    let bias = cx.bias(cx.optional(3), oc)?;
    let mut out = vec![0.0; total];
    for b in 0..n {
        for id in 0..d {
            for iy in 0..h {
                for ix in 0..wd {
                    let xrow = cx.slice(&xs, (((b * d + id) * h + iy) * wd + ix) * c, c)?;
                    for zd in 0..kd {
                        let Some(pd) = rd.tap(id, zd) else { continue };
                        for zy in 0..kh {
                            let Some(py) = ry.tap(iy, zy) else { continue };
                            for zx in 0..kw {
                                let Some(px) = rx.tap(ix, zx) else { continue };
                                let obase = (((b * od + pd) * oh + py) * ow + px) * oc;
                                let wbase = ((zd * kh + zy) * kw + zx) * oc * c;
                                for co in 0..oc {
                                    let wrow = cx.slice(&ws, wbase + co * c, c)?;
                                    let acc = out.get_mut(obase + co).ok_or_else(|| cx.internal())?;
                                    *acc += super::dot(xrow, wrow);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    if oc > 0 {
        for row in out.chunks_mut(oc) {
            for (v, bv) in row.iter_mut().zip(&bias) {
                *v = clamp(*v + bv, bounds);
            }
        }
    }
    cx.finish(shape, out)
}
