//! Blockwise int4 weights, dequantized for the float kernels.
//!
//! LiteRT's FULLY_CONNECTED runs such weights only with float inputs
//! (`EvalBlockwise4Bit`: it quantizes each input row on the fly and
//! accumulates per block); the evaluator computes on the dequantized
//! weights `q * scales[o, i / block_size]` in float instead, as it does for
//! per-channel hybrid weights.

use half::f16;

use super::{EvalError, Value};
use crate::model::{BlockwiseQuant, DType, Tensor};

/// The float32 value of the blockwise-quantized constant `t`, whose scales
/// live in `tensors`.
pub(crate) fn dequantize(t: &Tensor, b: &BlockwiseQuant, tensors: &[Tensor], max_elements: usize) -> Result<Value, EvalError> {
    let bad = |detail: String| EvalError::Quantization { op: "constant".into(), detail: format!("tensor {:?}: {detail}", t.name) };
    b.check(t, tensors).map_err(bad)?;
    let (out, inner) = match t.shape.as_fixed().as_deref() {
        Some(&[o, i]) => (o as usize, i as usize),
        _ => return Err(bad("not a 2-D shape".into())),
    };
    let n = super::value::num_elements(&[out, inner], max_elements, format_args!("constant {:?}", t.name))?;
    let bytes = t.data.as_ref().map(|d| d.as_bytes()).unwrap_or_default();
    let q = crate::quantize::unpack_int4(bytes, n).ok_or_else(|| bad(format!("{} bytes, but INT4 {} needs {}", bytes.len(), t.shape, n.div_ceil(2))))?;
    let s = &tensors[b.scales.index()];
    let scales: Vec<f64> = s
        .data
        .as_ref()
        .map(|d| d.as_bytes().chunks_exact(2).map(|c| f16::from_le_bytes([c[0], c[1]]).to_f64()).collect())
        .unwrap_or_default();
    let block = b.block_size as usize;
    let per_row = inner / block;
    if scales.len() != out * per_row {
        return Err(bad(format!("{} scales for {out}x{per_row} blocks", scales.len())));
    }
    if let Some(x) = scales.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
        return Err(bad(format!("scale {x} is not a positive finite number")));
    }
    let data = q.iter().enumerate().map(|(k, v)| f64::from(*v) * scales[(k / inner) * per_row + (k % inner) / block]).collect();
    Ok(Value { dtype: DType::F32, shape: vec![out, inner], data, quantization: None })
}
