//! Matrix products for the convolutions, `FULLY_CONNECTED` and
//! `BATCH_MATMUL`, through ndarray's safe interface to `matrixmultiply`
//! (blocked kernels, AVX / FMA chosen at run time).
//!
//! The operands of a product take one of two forms ([`Operands`]):
//! - float32 operands with a float32 output are multiplied in `f32`, as the
//!   runtime does (the result is rounded to float32 anyway);
//! - quantized operands (input per tensor, weights per tensor or per output
//!   channel) are multiplied as the integers `q - zero_point`, in `f64`,
//!   which is exact while sums stay below 2^53, then scaled once per output
//!   channel: the integer accumulation of the runtime's kernels;
//! - anything else (float64, float16, hybrid float × int8, other
//!   quantization layouts) is multiplied on the real values in `f64`.
//!
//! Each output element sums its products in an order fixed by the kernel
//! chosen for the CPU (its k-blocking), never by how rows are blocked here,
//! so results do not depend on the number of threads. Different CPUs may
//! pick different kernels (FMA or not), which can change float sums in the
//! last bit.

use std::borrow::Cow;

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, LinalgScalar, ShapeBuilder};

use super::{clamp, Cx, Result};
use crate::eval::convert::{self, QuantParams};
use crate::eval::Value;
use crate::model::DType;

/// The elements per block of patch rows gathered for one product (8 MiB of
/// `f64`), so an im2col buffer stays bounded whatever the image size.
const PATCH_BLOCK: usize = 1 << 20;

/// A matrix view: `rows × cols` elements of `data` from `offset`, element
/// `(i, j)` at `offset + i * row_stride + j * col_stride`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mat {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl Mat {
    /// A dense row-major `rows × cols` matrix at `offset`.
    pub fn dense(offset: usize, rows: usize, cols: usize) -> Mat {
        Mat { offset, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of this view.
    pub fn t(self) -> Mat {
        Mat { offset: self.offset, rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride }
    }
}

/// `c = a · b` (or `c += a · b` with `accumulate`), checked: a view that
/// does not fit its slice is an internal error, never a panic.
pub(super) fn gemm<T: LinalgScalar>(
    cx: &Cx<'_>,
    a: (&[T], Mat),
    b: (&[T], Mat),
    c: (&mut [T], Mat),
    accumulate: bool,
) -> Result<()> {
    let ((ad, am), (bd, bm), (cd, cm)) = (a, b, c);
    if am.cols != bm.rows || am.rows != cm.rows || bm.cols != cm.cols {
        return Err(cx.internal());
    }
    let av = view(cx, ad, am)?;
    let bv = view(cx, bd, bm)?;
    let cd = cd.get_mut(cm.offset..).ok_or_else(|| cx.internal())?;
    let cd = if cm.rows == 0 || cm.cols == 0 { &mut cd[..0] } else { cd };
    let mut cv = ArrayViewMut2::from_shape((cm.rows, cm.cols).strides((cm.row_stride, cm.col_stride)), cd).map_err(|_| cx.internal())?;
    let beta = if accumulate { T::one() } else { T::zero() };
    general_mat_mul(T::one(), &av, &bv, beta, &mut cv);
    Ok(())
}

/// The view `m` of `d`.
fn view<'d, T>(cx: &Cx<'_>, d: &'d [T], m: Mat) -> Result<ArrayView2<'d, T>> {
    let d = d.get(m.offset..).ok_or_else(|| cx.internal())?;
    // An empty matrix needs no elements (its strides may point past the end).
    let d = if m.rows == 0 || m.cols == 0 { &d[..0] } else { d };
    ArrayView2::from_shape((m.rows, m.cols).strides((m.row_stride, m.col_stride)), d).map_err(|_| cx.internal())
}

/// The operands of a product, in the form it is computed in.
pub(super) enum Operands<'a> {
    /// Float32 data (exact copies of the float32 values).
    F32 { x: Vec<f32>, w: Vec<f32> },
    /// Real values, or integers `q - zero_point` when `scale` is set: the
    /// product of channel `c` is multiplied by `scale[c]` (one entry: all).
    F64 { x: Cow<'a, [f64]>, w: Cow<'a, [f64]>, scale: Option<Vec<f64>> },
}

impl<'a> Operands<'a> {
    /// The operands `x` (activations) and `w` (weights, or the right-hand
    /// side) of a product whose output channels lie along `w`'s axis
    /// `axis` (`None`: only per-tensor weights take the integer form).
    pub fn new(cx: &Cx<'a>, x: &'a Value, w: &'a Value, axis: Option<usize>) -> Result<Operands<'a>> {
        let out = cx.output()?;
        if x.dtype == DType::F32 && w.dtype == DType::F32 && out.dtype == DType::F32 {
            let f = |v: &Value| v.data.iter().map(|e| *e as f32).collect();
            return Ok(Operands::F32 { x: f(x), w: f(w) });
        }
        let quantized = |v: &Value| convert::is_quantized_type(v.dtype) && convert::has_scale(v);
        if quantized(x) && quantized(w) {
            let name = cx.name();
            let px = QuantParams::of(x.quantization.as_ref(), &x.shape, name)?;
            let pw = QuantParams::of(w.quantization.as_ref(), &w.shape, name)?;
            let w_axis = w.quantization.as_ref().map(|q| q.axis);
            if let (Some(px), Some(pw)) = (px, pw) {
                let per_tensor_x = px.scales().len() == 1;
                let channels_fit = pw.scales().len() == 1 || axis.is_some_and(|a| w_axis == i32::try_from(a).ok());
                if per_tensor_x && channels_fit {
                    let mut xs = x.data.clone();
                    px.center(&mut xs);
                    let mut ws = w.data.clone();
                    pw.center(&mut ws);
                    let sx = px.scales()[0];
                    let scale = pw.scales().iter().map(|s| sx * s).collect();
                    return Ok(Operands::F64 { x: Cow::Owned(xs), w: Cow::Owned(ws), scale: Some(scale) });
                }
            }
        }
        Ok(Operands::F64 { x: cx.real(x)?, w: cx.real(w)?, scale: None })
    }

    /// Applies `f` to the operand data, whichever form it has, and returns
    /// the raw products as `f64`.
    pub fn run(&self, f: impl GemmFn) -> Result<Vec<f64>> {
        match self {
            Operands::F32 { x, w } => Ok(f.call::<f32>(x, w)?.into_iter().map(f64::from).collect()),
            Operands::F64 { x, w, .. } => f.call::<f64>(x, w),
        }
    }

    /// Real results from raw products laid out with `channels` innermost:
    /// scaled (integer form), plus `bias`, clamped to `bounds`.
    pub fn finish(&self, mut acc: Vec<f64>, bias: &[f64], bounds: (f64, f64)) -> Vec<f64> {
        let channels = bias.len();
        if channels == 0 {
            return acc;
        }
        let scale = match self {
            Operands::F64 { scale: Some(s), .. } => Some(s.as_slice()),
            _ => None,
        };
        for row in acc.chunks_mut(channels) {
            match scale {
                Some([s]) => row.iter_mut().zip(bias).for_each(|(v, b)| *v = clamp(*v * s + b, bounds)),
                Some(s) => row.iter_mut().zip(bias).zip(s).for_each(|((v, b), s)| *v = clamp(*v * s + b, bounds)),
                None => row.iter_mut().zip(bias).for_each(|(v, b)| *v = clamp(*v + b, bounds)),
            }
        }
        acc
    }

    /// The product scale of a per-tensor (single-channel) result.
    pub fn scale_all(&self, acc: &mut [f64]) {
        if let Operands::F64 { scale: Some(s), .. } = self
            && let [s] = s.as_slice()
        {
            acc.iter_mut().for_each(|v| *v *= s);
        }
    }
}

/// A computation generic over the element type of its operands.
pub(super) trait GemmFn {
    /// Runs on `x` and `w`.
    fn call<T: Elem>(&self, x: &[T], w: &[T]) -> Result<Vec<T>>;
}

/// An element type the products are computed in.
pub(super) trait Elem: LinalgScalar + Send + Sync {}
impl Elem for f32 {}
impl Elem for f64 {}

/// `data[start..start + len]`, checked.
pub(super) fn sub<'d, T>(cx: &Cx<'_>, data: &'d [T], start: usize, len: usize) -> Result<&'d [T]> {
    start.checked_add(len).and_then(|end| data.get(start..end)).ok_or_else(|| cx.internal())
}

/// The geometry of a `CONV_2D` (NHWC input, `[O, KH, KW, I]` filter).
pub(super) struct Conv2d<'c> {
    pub cx: &'c Cx<'c>,
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub oc: usize,
    pub kh: usize,
    pub kw: usize,
    pub ic: usize,
    pub groups: usize,
    pub ry: super::Window,
    pub rx: super::Window,
}

impl GemmFn for Conv2d<'_> {
    /// The convolution as products of image patches (im2col, in blocks of
    /// rows) with each group's filter; a 1x1 convolution with stride 1 and
    /// no padding multiplies the input itself.
    fn call<T: Elem>(&self, x: &[T], w: &[T]) -> Result<Vec<T>> {
        let Conv2d { cx, n, h, w: wd, c, oc, kh, kw, ic, groups, ry, rx } = *self;
        let k = kh * kw * ic;
        let pixels = ry.out * rx.out;
        let ocg = oc / groups.max(1);
        let mut out = vec![T::zero(); cx.numel(&[n, pixels, oc])?];
        if k == 0 || ocg == 0 {
            return Ok(out);
        }
        let direct = kh == 1 && kw == 1 && ry.stride == 1 && rx.stride == 1 && ry.pad_before == 0 && rx.pad_before == 0 && ry.out == h && rx.out == wd;
        let block = (PATCH_BLOCK / k).clamp(1, pixels.max(1));
        let mut patch = if direct { Vec::new() } else { vec![T::zero(); block * k] };
        for b in 0..n {
            for g in 0..groups {
                let filter = Mat::dense(g * ocg * k, ocg, k).t();
                for p0 in (0..pixels).step_by(block) {
                    let rows = block.min(pixels - p0);
                    let target = Mat { offset: (b * pixels + p0) * oc + g * ocg, rows, cols: ocg, row_stride: oc, col_stride: 1 };
                    if direct {
                        let a = Mat { offset: (b * pixels + p0) * c + g * ic, rows, cols: k, row_stride: c, col_stride: 1 };
                        gemm(cx, (x, a), (w, filter), (&mut out, target), false)?;
                        continue;
                    }
                    for (r, row) in patch.chunks_exact_mut(k).take(rows).enumerate() {
                        let (oy, ox) = ((p0 + r) / rx.out, (p0 + r) % rx.out);
                        for (ky, taps) in row.chunks_exact_mut(kw * ic).enumerate() {
                            let iy = ry.tap(oy, ky);
                            for (kx, dst) in taps.chunks_exact_mut(ic).enumerate() {
                                match (iy, rx.tap(ox, kx)) {
                                    (Some(iy), Some(ix)) => dst.copy_from_slice(sub(cx, x, ((b * h + iy) * wd + ix) * c + g * ic, ic)?),
                                    _ => dst.fill(T::zero()),
                                }
                            }
                        }
                    }
                    gemm(cx, (&patch, Mat::dense(0, rows, k)), (w, filter), (&mut out, target), false)?;
                }
            }
        }
        Ok(out)
    }
}

/// The geometry of a `DEPTHWISE_CONV_2D` (NHWC input, `[1, KH, KW, C × M]`
/// filter).
pub(super) struct Depthwise<'c> {
    pub cx: &'c Cx<'c>,
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub m: usize,
    pub kh: usize,
    pub kw: usize,
    pub ry: super::Window,
    pub rx: super::Window,
}

impl GemmFn for Depthwise<'_> {
    /// Channels innermost: each tap adds an input row times a filter row.
    fn call<T: Elem>(&self, x: &[T], w: &[T]) -> Result<Vec<T>> {
        let Depthwise { cx, n, h, w: wd, c, m, kh, kw, ry, rx } = *self;
        let cm = c * m;
        let mut out = vec![T::zero(); cx.numel(&[n, ry.out, rx.out, cm])?];
        if cm == 0 {
            return Ok(out);
        }
        let mut pixels = out.chunks_exact_mut(cm);
        for b in 0..n {
            for oy in 0..ry.out {
                for ox in 0..rx.out {
                    let acc = pixels.next().ok_or_else(|| cx.internal())?;
                    for ky in 0..kh {
                        let Some(iy) = ry.tap(oy, ky) else { continue };
                        for kx in 0..kw {
                            let Some(ix) = rx.tap(ox, kx) else { continue };
                            let xrow = sub(cx, x, ((b * h + iy) * wd + ix) * c, c)?;
                            let wrow = sub(cx, w, (ky * kw + kx) * cm, cm)?;
                            if m == 1 {
                                acc.iter_mut().zip(wrow).zip(xrow).for_each(|((a, wv), xv)| *a = *a + *xv * *wv);
                            } else {
                                for ((accs, wts), xv) in acc.chunks_exact_mut(m).zip(wrow.chunks_exact(m)).zip(xrow) {
                                    accs.iter_mut().zip(wts).for_each(|(a, wv)| *a = *a + *xv * *wv);
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// `rows × depth` inputs times the transpose of `units × depth` weights.
pub(super) struct Dense<'c> {
    pub cx: &'c Cx<'c>,
    pub rows: usize,
    pub depth: usize,
    pub units: usize,
}

impl GemmFn for Dense<'_> {
    fn call<T: Elem>(&self, x: &[T], w: &[T]) -> Result<Vec<T>> {
        let Dense { cx, rows, depth, units } = *self;
        let mut out = vec![T::zero(); cx.numel(&[rows, units])?];
        gemm(cx, (x, Mat::dense(0, rows, depth)), (w, Mat::dense(0, units, depth).t()), (&mut out, Mat::dense(0, rows, units)), false)?;
        Ok(out)
    }
}
