//! Complex values: `RFFT2D`, `REAL`, `IMAG`, `COMPLEX_ABS`, complex `MUL`
//! and `CAST`, and the layout ops LiteRT runs on complex64 tensors
//! (`RESHAPE`, `SQUEEZE`, `EXPAND_DIMS`, `TRANSPOSE`, `STRIDED_SLICE`,
//! `TILE`: its kernels move them as 64-bit elements).
//!
//! A complex value holds its parts interleaved (see [`Value`]). Ops on real
//! values never reach this module, so their paths are unchanged.

use super::{elementwise, eval_with, Cx, Result};
use crate::eval::convert;
use crate::eval::value::num_elements;
use crate::eval::Value;
use crate::model::{Activation, DType, Op, Tensor};

/// Whether `cx.op` is a complex op or has a complex operand or output.
pub(super) fn involved(op: &Op, inputs: &[Option<&Value>], outputs: &[&Tensor]) -> bool {
    matches!(op, Op::Rfft2d | Op::Real | Op::Imag | Op::ComplexAbs)
        || inputs.iter().flatten().any(|v| convert::is_complex(v.dtype))
        || outputs.iter().any(|t| convert::is_complex(t.dtype))
}

/// Runs the kernel of `cx.op` on operands that may be complex.
pub(super) fn eval(cx: &Cx<'_>) -> Result<Vec<Value>> {
    for v in cx.inputs.iter().flatten() {
        check_operand(cx, v)?;
    }
    match cx.op {
        Op::Rfft2d => rfft2d(cx),
        Op::Real => part(cx, |re, _| re),
        Op::Imag => part(cx, |_, im| im),
        Op::ComplexAbs => part(cx, f64::hypot),
        Op::Mul(a) => mul(cx, *a),
        Op::Cast(_) => cast(cx),
        Op::Reshape { .. } | Op::Squeeze { .. } | Op::ExpandDims | Op::Transpose | Op::StridedSlice(_) | Op::Tile => layout(cx),
        _ => Err(cx.unsupported("complex operands (LiteRT runs complex64 through RFFT2D, REAL, IMAG, COMPLEX_ABS, MUL, CAST and layout ops only)")),
    }
}

/// Checks an operand: a complex one holds two numbers per element.
fn check_operand(cx: &Cx<'_>, v: &Value) -> Result<()> {
    if !convert::is_complex(v.dtype) {
        return cx.check_operand(v);
    }
    let n = num_elements(&v.shape, cx.max_elements, format_args!("{} operand", cx.name()))?;
    if n.checked_mul(2) != Some(v.data.len()) {
        return Err(cx.shape_err(format!("complex operand holds {} numbers, but its shape {:?} needs {}", v.data.len(), v.shape, n.saturating_mul(2))));
    }
    Ok(())
}

/// A complex64 result: parts rounded to `f32`; the single output must be
/// complex64.
fn finish_complex64(cx: &Cx<'_>, shape: Vec<usize>, mut data: Vec<f64>) -> Result<Vec<Value>> {
    let out = cx.output()?;
    if out.dtype != DType::Complex64 {
        return Err(cx.unsupported(format!("output type {} (the op gives COMPLEX64)", out.dtype)));
    }
    data.iter_mut().for_each(|v| *v = f64::from(*v as f32));
    Ok(vec![Value::new(DType::Complex64, shape, data)])
}

/// `REAL`, `IMAG`, `COMPLEX_ABS`: a real function of each element, complex64
/// to float32 and complex128 to float64.
fn part(cx: &Cx<'_>, f: fn(f64, f64) -> f64) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let out = cx.output()?;
    match (x.dtype, out.dtype) {
        (DType::Complex64, DType::F32) | (DType::Complex128, DType::F64) => {}
        (a, b) => return Err(cx.unsupported(format!("input type {a} with output type {b} (COMPLEX64 to FLOAT32 or COMPLEX128 to FLOAT64)"))),
    }
    let (pairs, _) = x.data.as_chunks::<2>();
    cx.finish(x.shape.clone(), pairs.iter().map(|[re, im]| f(*re, *im)).collect())
}

/// Complex `MUL` with broadcasting (no fused activation, as in LiteRT).
fn mul(cx: &Cx<'_>, activation: Activation) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let (a, b) = (cx.input(0, "lhs")?, cx.input(1, "rhs")?);
    if a.dtype != DType::Complex64 || b.dtype != DType::Complex64 {
        return Err(cx.unsupported(format!("operand types {} and {} (complex MUL takes two COMPLEX64)", a.dtype, b.dtype)));
    }
    if activation != Activation::None {
        return Err(cx.unsupported("a fused activation on complex values (LiteRT refuses it)"));
    }
    let (shape, n) = cx.broadcast(a, b)?;
    // Broadcast element indices, then multiply the pairs they name.
    let index = |v: &Value| (0..v.data.len() / 2).map(|i| i as f64).collect::<Vec<f64>>();
    let (ia, ib) = (index(a), index(b));
    let mut data = Vec::with_capacity(n.saturating_mul(2));
    let mut missing = false;
    if n > 0 {
        elementwise::zip_broadcast(cx, &a.shape, &b.shape, &shape, &ia, &ib, |i, j| match (pair(a, i), pair(b, j)) {
            (Some([p, q]), Some([r, s])) => data.extend([p * r - q * s, p * s + q * r]),
            _ => missing = true,
        })?;
    }
    if missing {
        return Err(cx.internal());
    }
    finish_complex64(cx, shape, data)
}

/// The parts of element `i` (an index held as `f64`) of a complex value.
fn pair(v: &Value, i: f64) -> Option<[f64; 2]> {
    let k = (i as usize).checked_mul(2)?;
    Some([*v.data.get(k)?, *v.data.get(k + 1)?])
}

/// `CAST` to or from complex64: a real value becomes `(x as f32, 0)`; a
/// complex64 value casts its real part (as LiteRT's `copyCast` does);
/// complex64 to complex64 copies.
fn cast(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let out = cx.output()?;
    match (x.dtype, out.dtype) {
        (DType::Complex64, DType::Complex64) => finish_complex64(cx, x.shape.clone(), x.data.clone()),
        (DType::Complex64, _) => {
            let (pairs, _) = x.data.as_chunks::<2>();
            let re = Value::new(DType::F32, x.shape.clone(), pairs.iter().map(|[re, _]| *re).collect());
            eval_with(cx.op, &[Some(&re)], &[], cx.outputs, cx.max_elements)
        }
        (from, DType::Complex64) if !convert::is_complex(from) => {
            finish_complex64(cx, x.shape.clone(), x.data.iter().flat_map(|v| [*v, 0.0]).collect())
        }
        (a, b) => Err(cx.unsupported(format!("cast from {a} to {b}"))),
    }
}

/// A layout op on a complex value: the real kernel moves the element
/// indices of a float64 stand-in, and the parts follow their indices.
fn layout(cx: &Cx<'_>) -> Result<Vec<Value>> {
    let x = cx.input(0, "input")?;
    let out = cx.output()?;
    if !convert::is_complex(x.dtype) || out.dtype != x.dtype {
        return Err(cx.unsupported(format!("input type {} with output type {} (the op moves elements of one type)", x.dtype, out.dtype)));
    }
    let n = x.data.len() / 2;
    let stand_in = Value::new(DType::F64, x.shape.clone(), (0..n).map(|i| i as f64).collect());
    let mut inputs: Vec<Option<&Value>> = cx.inputs.to_vec();
    if let Some(first) = inputs.first_mut() {
        *first = Some(&stand_in);
    }
    let mut out_f64 = out.clone();
    out_f64.dtype = DType::F64;
    out_f64.quantization = None;
    let moved = eval_with(cx.op, &inputs, &[], &[&out_f64], cx.max_elements)?;
    let moved = moved.into_iter().next().ok_or_else(|| cx.internal())?;
    let mut data = Vec::with_capacity(moved.data.len().saturating_mul(2));
    for i in &moved.data {
        data.extend(pair(x, *i).ok_or_else(|| cx.internal())?);
    }
    Ok(vec![Value::new(x.dtype, moved.shape, data)])
}

/// `RFFT2D`: the 2-D DFT of the two innermost axes of a float32 input,
/// cropped or zero-padded to `fft_length` (two powers of two), keeping
/// `fft_length[1] / 2 + 1` columns (the others are conjugates). Computed in
/// `f64` (LiteRT's fft2d works in double too), rounded to complex64.
fn rfft2d(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(2, 2)?;
    let x = cx.input(0, "input")?;
    if x.dtype != DType::F32 {
        return Err(cx.unsupported(format!("input type {} (RFFT2D takes FLOAT32)", x.dtype)));
    }
    let lengths = cx.ints(cx.input(1, "fft_length")?, "fft_length")?;
    let [fh, fw] = <[i64; 2]>::try_from(lengths.as_slice())
        .map_err(|_| cx.shape_err(format!("fft_length must hold 2 values, holds {}", lengths.len())))?;
    let pow2 = |v: i64| usize::try_from(v).ok().filter(|v| v.is_power_of_two());
    let (Some(fh), Some(fw)) = (pow2(fh), pow2(fw)) else {
        return Err(cx.shape_err(format!("fft_length {lengths:?} must be two powers of two")));
    };
    let r = x.rank();
    if r < 2 {
        return Err(cx.shape_err(format!("input must have rank 2 or more, has shape {:?}", x.shape)));
    }
    let (h, w) = (x.shape[r - 2], x.shape[r - 1]);
    let batch: usize = x.shape[..r - 2].iter().product();
    let wout = fw / 2 + 1;
    let mut shape = x.shape[..r - 2].to_vec();
    shape.extend([fh, wout]);
    let n = cx.numel(&shape)?;
    // The work plane of one batch: fh × fw complex numbers.
    cx.numel(&[fh, fw, 2])?;
    let mut data = Vec::with_capacity(n.saturating_mul(2));
    let mut plane = vec![[0.0f64; 2]; fh * fw];
    let mut column = vec![[0.0f64; 2]; fh];
    let twiddles_w = twiddles(fw);
    let twiddles_h = twiddles(fh);
    for b in 0..batch {
        // Rows: the input cropped or zero-padded, transformed along width.
        for (i, row) in plane.chunks_mut(fw).enumerate() {
            row.iter_mut().for_each(|c| *c = [0.0, 0.0]);
            if i < h {
                let src = cx.slice(&x.data, (b * h + i) * w, w)?;
                row.iter_mut().zip(src).for_each(|(c, v)| *c = [*v, 0.0]);
                fft(row, &twiddles_w);
            }
        }
        // Columns: the kept ones transformed along height.
        let start = data.len();
        data.resize(start + fh * wout * 2, 0.0);
        let out = data.get_mut(start..).ok_or_else(|| cx.internal())?;
        for k in 0..wout {
            column.iter_mut().enumerate().for_each(|(i, c)| *c = plane[i * fw + k]);
            fft(&mut column, &twiddles_h);
            for (i, [re, im]) in column.iter().enumerate() {
                out[(i * wout + k) * 2] = *re;
                out[(i * wout + k) * 2 + 1] = *im;
            }
        }
    }
    finish_complex64(cx, shape, data)
}

/// `e^(-2πik/n)` for `k < n / 2`.
fn twiddles(n: usize) -> Vec<[f64; 2]> {
    (0..n / 2)
        .map(|k| {
            let t = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
            [t.cos(), t.sin()]
        })
        .collect()
}

/// In-place forward DFT of a power-of-two length (iterative radix 2), with
/// the twiddles of that length.
fn fft(a: &mut [[f64; 2]], tw: &[[f64; 2]]) {
    let n = a.len();
    if n < 2 {
        return;
    }
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            a.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let step = n / len;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let [wr, wi] = tw[k * step];
                let [ur, ui] = a[start + k];
                let [vr, vi] = a[start + k + len / 2];
                let (tr, ti) = (vr * wr - vi * wi, vr * wi + vi * wr);
                a[start + k] = [ur + tr, ui + ti];
                a[start + k + len / 2] = [ur - tr, ui - ti];
            }
        }
        len *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct DFT, for comparison.
    fn dft(x: &[[f64; 2]]) -> Vec<[f64; 2]> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter().enumerate().fold([0.0, 0.0], |[sr, si], (j, [re, im])| {
                    let t = -2.0 * std::f64::consts::PI * (j * k) as f64 / n as f64;
                    [sr + re * t.cos() - im * t.sin(), si + re * t.sin() + im * t.cos()]
                })
            })
            .collect()
    }

    #[test]
    fn fft_matches_the_direct_dft() {
        for n in [1usize, 2, 4, 8, 32] {
            let x: Vec<[f64; 2]> = (0..n).map(|i| [(i as f64 * 0.7).sin(), (i as f64 * 1.3).cos() - 0.5]).collect();
            let mut y = x.clone();
            fft(&mut y, &twiddles(n));
            for (a, b) in y.iter().zip(dft(&x)) {
                assert!((a[0] - b[0]).abs() < 1e-12 && (a[1] - b[1]).abs() < 1e-12, "n={n}: {a:?} vs {b:?}");
            }
        }
    }
}
