//! Matrix products for the convolutions, `FULLY_CONNECTED` and
//! `BATCH_MATMUL`, through ndarray's safe interface to `matrixmultiply`
//! (blocked kernels, AVX / FMA chosen at run time).
//!
//! The operands of a product take one of two forms ([`Operands`]):
//! - float32 operands with a float32 output are multiplied in `f32`, as the
//!   runtime does (the result is rounded to float32 anyway);
//! - quantized operands (input per tensor, weights per tensor or per output
//!   channel) are multiplied as the integers `q - zero_point`, then scaled
//!   once per output channel: the integer accumulation of the runtime's
//!   kernels. Sums are exact: when the operands are small (8-bit), the
//!   product runs in `f32` over slices of the depth short enough that no
//!   partial sum can pass 2^24 (about 500 terms for int8 × int8), and the
//!   slices are added in `f64`; otherwise in `f64`, exact below 2^53;
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
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, LinalgScalar, ShapeBuilder};

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

/// `c += a · b` (callers give zeroed outputs), checked: a view that
/// does not fit its slice is an internal error, never a panic. The result
/// is added as `f64` whatever the operands' type; with `exact_chunk`, the
/// operands are integers whose products summed over that many terms stay
/// exact in `f32` (see [`Elem::product`]).
pub(super) fn gemm<T: Elem>(
    cx: &Cx<'_>,
    a: (&[T], Mat),
    b: (&[T], Mat),
    c: (&mut [f64], Mat),
    exact_chunk: Option<usize>,
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
    T::product(&av, &bv, &mut cv, exact_chunk);
    Ok(())
}

/// The most an `f32` holds of consecutive integers: sums below it are exact.
const F32_EXACT: f64 = (1u32 << 24) as f64;

/// How many products of integers bounded by `max_x` and `max_w` (in
/// magnitude) may be summed exactly in `f32`, if enough to be worth it.
fn exact_f32_chunk(max_x: f64, max_w: f64) -> Option<usize> {
    let bound = max_x * max_w;
    if !(bound.is_finite() && max_x <= F32_EXACT && max_w <= F32_EXACT) {
        return None;
    }
    if bound < 1.0 {
        // Zero operands (integers): every product is 0.
        return Some(usize::MAX);
    }
    let chunk = (F32_EXACT / bound).floor() as usize;
    (chunk >= 32).then_some(chunk)
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
    F32 { x: Cow<'a, [f32]>, w: Cow<'a, [f32]> },
    /// Small integers `q - zero_point`, exact in `f32`, whose products
    /// summed over `chunk` terms stay exact: the product of channel `c` is
    /// multiplied by `scale[c]` (one entry: all).
    Int { x: Vec<f32>, w: Cow<'a, [f32]>, scale: Vec<f64>, chunk: usize },
    /// Real values, or integers `q - zero_point` when `scale` is set (as
    /// for `Int`), multiplied in `f64`.
    F64 { x: Cow<'a, [f64]>, w: Cow<'a, [f64]>, scale: Option<Vec<f64>> },
}

impl<'a> Operands<'a> {
    /// The operands `x` (activations) and `w` (weights, or the right-hand
    /// side) of a product whose output channels lie along `w`'s axis
    /// `axis` (`None`: only per-tensor weights take the integer form).
    pub fn new(cx: &Cx<'a>, x: &'a Value, w: &'a Value, axis: Option<usize>) -> Result<Operands<'a>> {
        let out = cx.output()?;
        if x.dtype == DType::F32 && w.dtype == DType::F32 && out.dtype == DType::F32 {
            // Operand `i`'s f32 elements: the evaluator's copy of a
            // constant, or converted here.
            let f = |v: &'a Value, i: usize| -> Cow<'a, [f32]> {
                let held = cx.optional(i).is_some_and(|o| std::ptr::eq(o, v));
                match cx.f32_copy(i) {
                    Some(c) if held && c.len() == v.data.len() => Cow::Borrowed(c),
                    _ => Cow::Owned(v.data.iter().map(|e| *e as f32).collect()),
                }
            };
            return Ok(Operands::F32 { x: f(x, 0), w: f(w, 1) });
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
                    let sx = px.scales()[0];
                    let scale = pw.scales().iter().map(|s| sx * s).collect();
                    let max_abs = |d: &[f64]| d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    let max_x = max_abs(&xs);
                    let to_f32 = |d: &[f64]| d.iter().map(|v| *v as f32).collect::<Vec<f32>>();
                    // Symmetric weights the evaluator holds as f32 (int8
                    // weights are): their integers are the operand, bounded
                    // by their type.
                    let held = cx.f32_copy(1).filter(|c| pw.symmetric() && c.len() == w.data.len() && cx.optional(1).is_some_and(|o| std::ptr::eq(o, w)));
                    let type_bound = convert::int_range(w.dtype).map(|(lo, hi)| lo.abs().max(hi.abs()));
                    if let (Some(held), Some(bound)) = (held, type_bound)
                        && let Some(chunk) = exact_f32_chunk(max_x, bound)
                    {
                        return Ok(Operands::Int { x: to_f32(&xs), w: Cow::Borrowed(held), scale, chunk });
                    }
                    let mut ws = w.data.clone();
                    pw.center(&mut ws);
                    if let Some(chunk) = exact_f32_chunk(max_x, max_abs(&ws)) {
                        return Ok(Operands::Int { x: to_f32(&xs), w: Cow::Owned(to_f32(&ws)), scale, chunk });
                    }
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
            Operands::F32 { x, w } => f.call::<f32>(x, w, None),
            Operands::Int { x, w, chunk, .. } => f.call::<f32>(x, w, Some(*chunk)),
            Operands::F64 { x, w, .. } => f.call::<f64>(x, w, None),
        }
    }

    /// Real results from raw products laid out with `channels` innermost:
    /// scaled (integer form), plus `bias`, clamped to `bounds`.
    pub fn finish(&self, mut acc: Vec<f64>, bias: &[f64], bounds: (f64, f64)) -> Vec<f64> {
        let channels = bias.len();
        if channels == 0 {
            return acc;
        }
        let scale = self.scale();
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
        if let Some([s]) = self.scale() {
            acc.iter_mut().for_each(|v| *v *= s);
        }
    }

    /// The scales of the integer forms.
    fn scale(&self) -> Option<&[f64]> {
        match self {
            Operands::Int { scale, .. } | Operands::F64 { scale: Some(scale), .. } => Some(scale),
            _ => None,
        }
    }
}

/// A computation generic over the element type of its operands.
pub(super) trait GemmFn {
    /// Runs on `x` and `w`, giving the raw products as `f64`;
    /// `exact_chunk` goes to [`gemm`].
    fn call<T: Elem>(&self, x: &[T], w: &[T], exact_chunk: Option<usize>) -> Result<Vec<f64>>;
}

/// An element type the products are computed in.
pub(super) trait Elem: LinalgScalar + Send + Sync {
    /// The value as `f64`.
    fn wide(self) -> f64;

    /// `c += a · b`. With `exact_chunk`, the operands are integers whose
    /// products, summed over that many terms, stay below 2^24: the depth is
    /// then taken in slices of at most that many terms, each slice's sums
    /// (exact) added to `c` in `f64`.
    fn product(a: &ArrayView2<'_, Self>, b: &ArrayView2<'_, Self>, c: &mut ArrayViewMut2<'_, f64>, exact_chunk: Option<usize>);
}

impl Elem for f32 {
    fn wide(self) -> f64 {
        f64::from(self)
    }

    fn product(a: &ArrayView2<'_, f32>, b: &ArrayView2<'_, f32>, c: &mut ArrayViewMut2<'_, f64>, exact_chunk: Option<usize>) {
        let k = a.ncols();
        let step = exact_chunk.unwrap_or(k).clamp(1, k.max(1));
        let mut c32 = Array2::<f32>::zeros(c.dim());
        for k0 in (0..k).step_by(step) {
            let width = step.min(k - k0);
            general_mat_mul(1.0, &a.slice(s![.., k0..k0 + width]), &b.slice(s![k0..k0 + width, ..]), 0.0, &mut c32);
            c.zip_mut_with(&c32, |d, v| *d += f64::from(*v));
        }
    }
}

impl Elem for f64 {
    fn wide(self) -> f64 {
        self
    }

    fn product(a: &ArrayView2<'_, f64>, b: &ArrayView2<'_, f64>, c: &mut ArrayViewMut2<'_, f64>, _exact_chunk: Option<usize>) {
        general_mat_mul(1.0, a, b, 1.0, c);
    }
}

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
    fn call<T: Elem>(&self, x: &[T], w: &[T], exact_chunk: Option<usize>) -> Result<Vec<f64>> {
        let Conv2d { cx, n, h, w: wd, c, oc, kh, kw, ic, groups, ry, rx } = *self;
        let k = kh * kw * ic;
        let pixels = ry.out * rx.out;
        let ocg = oc / groups.max(1);
        let mut out = vec![0.0; cx.numel(&[n, pixels, oc])?];
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
                        gemm(cx, (x, a), (w, filter), (&mut out, target), exact_chunk)?;
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
                    gemm(cx, (&patch, Mat::dense(0, rows, k)), (w, filter), (&mut out, target), exact_chunk)?;
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
    /// Channels innermost: each tap adds an input row times a filter row,
    /// in `T` (as the runtime's float kernel sums); with `exact_chunk`, the
    /// sums move to the `f64` result every `exact_chunk` taps.
    fn call<T: Elem>(&self, x: &[T], w: &[T], exact_chunk: Option<usize>) -> Result<Vec<f64>> {
        let Depthwise { cx, n, h, w: wd, c, m, kh, kw, ry, rx } = *self;
        let cm = c * m;
        let mut out = vec![0.0; cx.numel(&[n, ry.out, rx.out, cm])?];
        if cm == 0 {
            return Ok(out);
        }
        let flush_every = exact_chunk.unwrap_or(usize::MAX).max(1);
        let mut acc = vec![T::zero(); cm];
        let mut pixels = out.chunks_exact_mut(cm);
        for b in 0..n {
            for oy in 0..ry.out {
                for ox in 0..rx.out {
                    let target = pixels.next().ok_or_else(|| cx.internal())?;
                    let mut taps = 0;
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
                            taps += 1;
                            if taps % flush_every == 0 {
                                target.iter_mut().zip(&mut acc).for_each(|(t, a)| (*t, *a) = (*t + a.wide(), T::zero()));
                            }
                        }
                    }
                    target.iter_mut().zip(&mut acc).for_each(|(t, a)| (*t, *a) = (*t + a.wide(), T::zero()));
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
    fn call<T: Elem>(&self, x: &[T], w: &[T], exact_chunk: Option<usize>) -> Result<Vec<f64>> {
        let Dense { cx, rows, depth, units } = *self;
        let mut out = vec![0.0; cx.numel(&[rows, units])?];
        gemm(cx, (x, Mat::dense(0, rows, depth)), (w, Mat::dense(0, units, depth).t()), (&mut out, Mat::dense(0, rows, units)), exact_chunk)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums of int8 × int8 products far past 2^24 come out exact from the
    /// `f32` slices, where one `f32` product would round.
    #[test]
    fn integer_products_in_f32_slices_are_exact() {
        let depth = 5000;
        let chunk = exact_f32_chunk(255.0, 127.0).expect("a chunk");
        assert_eq!(chunk, 518);
        let a: Vec<f32> = (0..depth).map(|i| if i % 7 == 0 { -128.0 } else { 255.0 }).collect();
        let b: Vec<f32> = (0..depth).map(|i| if i % 3 == 0 { -127.0 } else { 127.0 }).collect();
        let exact: i64 = a.iter().zip(&b).map(|(x, y)| *x as i64 * *y as i64).sum();
        let av = ArrayView2::from_shape((1, depth), &a).unwrap();
        let bv = ArrayView2::from_shape((depth, 1), &b).unwrap();
        let run = |chunk| {
            let mut c = [0.0f64];
            let mut cv = ArrayViewMut2::from_shape((1, 1), &mut c[..]).unwrap();
            f32::product(&av, &bv, &mut cv, chunk);
            c[0]
        };
        assert_eq!(run(Some(chunk)), exact as f64);
        // One f32 sum over the whole depth is not exact: the slices matter.
        assert_ne!(run(None), exact as f64);
    }

    #[test]
    fn chunks_only_when_worth_it() {
        assert_eq!(exact_f32_chunk(0.0, 127.0), Some(usize::MAX));
        assert_eq!(exact_f32_chunk(32768.0, 127.0), None);
        assert_eq!(exact_f32_chunk(f64::INFINITY, 1.0), None);
        assert_eq!(exact_f32_chunk(8.0, 127.0), Some(16513));
    }
}
