//! `QUANTIZE` and `DEQUANTIZE`.

use super::{Cx, Result};
use crate::eval::{convert, Value};
use crate::model::DType;

/// `QUANTIZE`: float to int8 / uint8 / int16 with the output's parameters,
/// or requantization of a quantized input.
pub(super) fn quantize(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    let out = cx.output()?;
    if !convert::is_quantized_type(out.dtype) {
        return Err(cx.unsupported(format!("output type {} (expected INT8, UINT8 or INT16)", out.dtype)));
    }
    if out.quantization.as_ref().is_none_or(|q| q.scale.is_empty()) {
        return Err(cx.quant_err("the output has no quantization parameters"));
    }
    match x.dtype {
        DType::F32 | DType::F16 | DType::F64 => {}
        d if convert::is_quantized_type(d) && convert::has_scale(x) => {}
        d if convert::is_quantized_type(d) => return Err(cx.quant_err("the input has no quantization parameters")),
        d => return Err(cx.unsupported(format!("input type {d}"))),
    }
    cx.finish(x.shape.clone(), cx.real(x)?.into_owned())
}

/// `DEQUANTIZE`: int8 / uint8 / int16 (with their parameters) or float16 to
/// the output's float type.
pub(super) fn dequantize(cx: &Cx<'_>) -> Result<Vec<Value>> {
    cx.arity(1, 1)?;
    let x = cx.input(0, "input")?;
    match x.dtype {
        DType::F16 => {}
        d if convert::is_quantized_type(d) && convert::has_scale(x) => {}
        d if convert::is_quantized_type(d) => return Err(cx.quant_err("the input has no quantization parameters")),
        d => return Err(cx.unsupported(format!("input type {d}"))),
    }
    cx.finish(x.shape.clone(), cx.real(x)?.into_owned())
}
