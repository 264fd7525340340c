"""NumPy reference evaluator for .tflite files (tflite-forge conformance).

The file is parsed with the TFLite schema that ships inside the ai-edge-litert
wheel (``ai_edge_litert.schema_py_generated``, flatc object API), so the
reference never depends on tflite-forge's own reader.  Operators of one
subgraph are evaluated in order, in float64, following TFLite's definitions:

* float tensors are computed in float64 and cast to the tensor's dtype at the
  end of each op;
* quantized (int8 / uint8 / int16) tensors are dequantized with their
  scale / zero point (per tensor, or per axis along ``quantized_dimension``),
  the op is computed in float64, and the result is quantized with the output
  tensor's parameters (round half away from zero, clamp to the type range);
  int32 / int64 biases are dequantized with their own scale(s);
* fused activations are applied in float before the output is quantized
  (equivalent to TFLite's clamping of the quantized accumulator).

Public API::

    evaluate(model_bytes, {tensor_index: ndarray}, subgraph_index=0)
        -> {output tensor_index: ndarray}
    signature_maps(model_bytes)
        -> {key: {"subgraph": int, "inputs": {name: idx}, "outputs": {name: idx}}}
    subgraph_io(model_bytes, subgraph_index=0) -> (input indices, output indices)

``IF`` and ``WHILE`` evaluate the subgraphs they name (recursively, through
``evaluate``); values pass between subgraphs as raw copies in the tensors'
own types, as the runtime copies them.  ``CALL_ONCE`` is a no-op.

Every function also accepts an already parsed ``Model`` instead of bytes.
An unsupported operator raises ``NotImplementedError("reference has no op X")``.
"""

import sys

import numpy as np
from ai_edge_litert import schema_py_generated as schema

__all__ = [
    "Model",
    "evaluate",
    "signature_maps",
    "subgraph_io",
    "tensor_info",
]

_TT = schema.TensorType
_NP_DTYPES = {
    _TT.FLOAT32: np.float32,
    _TT.FLOAT16: np.float16,
    _TT.FLOAT64: np.float64,
    _TT.INT8: np.int8,
    _TT.UINT8: np.uint8,
    _TT.INT16: np.int16,
    _TT.UINT16: np.uint16,
    _TT.INT32: np.int32,
    _TT.UINT32: np.uint32,
    _TT.INT64: np.int64,
    _TT.UINT64: np.uint64,
    _TT.BOOL: np.bool_,
    _TT.COMPLEX64: np.complex64,
    _TT.COMPLEX128: np.complex128,
}
_TYPE_NAMES = {v: k for k, v in vars(_TT).items() if not k.startswith("_")}
_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items()
             if not k.startswith("_")}
_BOP = schema.BuiltinOperator
_ACT = schema.ActivationFunctionType
_PAD = schema.Padding

# Integer types whose tensors are treated as quantized when they carry a scale.
_QUANT_ACT_TYPES = (_TT.INT8, _TT.UINT8, _TT.INT16)


def _s(x):
    if x is None:
        return None
    if isinstance(x, (bytes, bytearray)):
        return x.decode("utf-8", "replace")
    return str(x)


def op_name(code):
    return _OP_NAMES.get(code, "BUILTIN_%d" % code)


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class Model:
    """A parsed .tflite file."""

    def __init__(self, model_bytes):
        if isinstance(model_bytes, Model):
            raise TypeError("already a Model")
        self.bytes = bytes(model_bytes) if not isinstance(model_bytes, bytes) else model_bytes
        if len(self.bytes) < 8:
            raise ValueError("model file is too short (%d bytes)" % len(self.bytes))
        try:
            self.m = schema.ModelT.InitFromPackedBuf(self.bytes, 0)
        except Exception as e:  # flatbuffers raises assorted errors on garbage
            raise ValueError("cannot parse model flatbuffer: %s: %s"
                             % (type(e).__name__, e)) from None
        if not self.m.subgraphs:
            raise ValueError("model has no subgraphs")
        self._const_cache = {}

    # ---- structure -------------------------------------------------------

    def subgraph(self, index=0):
        if index < 0 or index >= len(self.m.subgraphs):
            raise ValueError("no subgraph %d (model has %d)" % (index, len(self.m.subgraphs)))
        return self.m.subgraphs[index]

    def subgraph_io(self, index=0):
        sg = self.subgraph(index)
        ins = [int(i) for i in (sg.inputs if sg.inputs is not None else [])]
        outs = [int(i) for i in (sg.outputs if sg.outputs is not None else [])]
        return ins, outs

    def signature_maps(self):
        out = {}
        for sd in self.m.signatureDefs or []:
            key = _s(sd.signatureKey)
            out[key] = {
                "subgraph": int(sd.subgraphIndex),
                "inputs": {_s(t.name): int(t.tensorIndex) for t in (sd.inputs or [])},
                "outputs": {_s(t.name): int(t.tensorIndex) for t in (sd.outputs or [])},
                # SignatureDef order, which is the order the converter wrote.
                "input_order": [_s(t.name) for t in (sd.inputs or [])],
                "output_order": [_s(t.name) for t in (sd.outputs or [])],
            }
        return out

    def opcode(self, op):
        oc = self.m.operatorCodes[op.opcodeIndex]
        code = max(int(oc.deprecatedBuiltinCode), int(oc.builtinCode))
        return code, oc

    # ---- tensors ---------------------------------------------------------

    def buffer_bytes(self, buffer_index):
        """Raw bytes of a buffer, or None when it holds no data."""
        if buffer_index <= 0 or buffer_index >= len(self.m.buffers or []):
            return None
        b = self.m.buffers[buffer_index]
        if b.offset is not None and b.offset > 1:
            end = b.offset + b.size
            if end > len(self.bytes):
                raise ValueError("buffer %d [%d, %d) lies outside the file (%d bytes)"
                                 % (buffer_index, b.offset, end, len(self.bytes)))
            if b.size == 0:
                return None
            return memoryview(self.bytes)[b.offset:end]
        if b.data is None or len(b.data) == 0:
            return None
        data = b.data
        if isinstance(data, np.ndarray):
            return data.tobytes()
        return bytes(data)

    def is_constant(self, sg, ti):
        t = sg.tensors[ti]
        return t.buffer != 0 and self.buffer_bytes(t.buffer) is not None

    def constant(self, sg_index, ti):
        key = (sg_index, ti)
        if key in self._const_cache:
            return self._const_cache[key]
        sg = self.subgraph(sg_index)
        t = sg.tensors[ti]
        raw = self.buffer_bytes(t.buffer)
        if raw is None:
            return None
        if t.type == _TT.STRING:
            arr = _decode_strings(raw, t, ti)
            self._const_cache[key] = arr
            return arr
        dt = _NP_DTYPES.get(t.type)
        if dt is None:
            raise NotImplementedError("reference has no tensor type %s (tensor %d %r)"
                                      % (_TYPE_NAMES.get(t.type, t.type), ti, _s(t.name)))
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        arr = np.frombuffer(raw, dtype=np.dtype(dt).newbyteorder("<"))
        if t.sparsity is not None:
            # The buffer holds the stored values in traversal order.
            arr = reference_rare.densify(t.sparsity, arr.astype(dt), shape, schema)
            self._const_cache[key] = arr
            return arr
        n = int(np.prod(shape)) if shape else 1
        if arr.size != n:
            raise ValueError("constant tensor %d %r: buffer holds %d elements, shape %s needs %d"
                             % (ti, _s(t.name), arr.size, list(shape), n))
        arr = arr.astype(dt).reshape(shape)
        self._const_cache[key] = arr
        return arr


def _decode_strings(raw, t, ti):
    """A string constant: int32 count, count + 1 offsets, bytes -> an
    object array of ``bytes``."""
    raw = bytes(raw)
    if len(raw) < 4:
        raise ValueError("string tensor %d is %d bytes" % (ti, len(raw)))
    n = int.from_bytes(raw[:4], "little", signed=True)
    if n < 0 or 4 * (n + 2) > len(raw):
        raise ValueError("string tensor %d: count %d does not fit %d bytes" % (ti, n, len(raw)))
    offs = [int.from_bytes(raw[4 * (i + 1):4 * (i + 2)], "little", signed=True) for i in range(n + 1)]
    if any(a > b for a, b in zip(offs, offs[1:])) or (offs and (offs[0] < 4 * (n + 2) or offs[-1] > len(raw))):
        raise ValueError("string tensor %d: offsets %s out of order or range" % (ti, offs))
    items = [raw[a:b] for a, b in zip(offs, offs[1:])]
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr.reshape(shape if int(np.prod(shape)) == len(items) else (len(items),))


def _as_model(m):
    return m if isinstance(m, Model) else Model(m)


def signature_maps(model):
    """{signature_key: {"subgraph", "inputs": {name: idx}, "outputs": {name: idx}}}."""
    return _as_model(model).signature_maps()


def subgraph_io(model, subgraph_index=0):
    """(input tensor indices, output tensor indices) of a subgraph."""
    return _as_model(model).subgraph_io(subgraph_index)


def tensor_info(model, ti, subgraph_index=0):
    """name, dtype, shape and quantization (scale list, zero point list) of a tensor."""
    m = _as_model(model)
    t = m.subgraph(subgraph_index).tensors[ti]
    q = t.quantization
    scale = [float(x) for x in q.scale] if q is not None and q.scale is not None else []
    zp = [int(x) for x in q.zeroPoint] if q is not None and q.zeroPoint is not None else []
    return {
        "name": _s(t.name),
        "dtype": _NP_DTYPES.get(t.type),
        "type_name": _TYPE_NAMES.get(t.type, str(t.type)),
        "shape": [int(d) for d in (t.shape if t.shape is not None else [])],
        "scale": scale,
        "zero_point": zp,
        "quantized_dimension": int(q.quantizedDimension) if q is not None else 0,
    }


# --------------------------------------------------------------------------
# Quantization helpers
# --------------------------------------------------------------------------

def _qparams(t):
    q = t.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    if q.details is not None and q.detailsType not in (0, None):
        raise NotImplementedError("reference has no quantization details type %d"
                                  % q.detailsType)
    scale = np.asarray(q.scale, dtype=np.float64)
    if q.zeroPoint is not None and len(q.zeroPoint) > 0:
        zp = np.asarray(q.zeroPoint, dtype=np.int64)
    else:
        zp = np.zeros(1, dtype=np.int64)
    return scale, zp, int(q.quantizedDimension)


def _bcast(v, ndim, axis):
    if v.size == 1:
        return v.reshape(())
    if ndim == 0:
        raise ValueError("per-axis quantization on a scalar")
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def _dequantize(arr, qp):
    scale, zp, axis = qp
    a = np.asarray(arr).astype(np.float64)
    if scale.size > 1 and not (0 <= axis < a.ndim and a.shape[axis] == scale.size):
        raise ValueError("per-axis scale of %d values does not fit shape %s along axis %d"
                         % (scale.size, list(a.shape), axis))
    s = _bcast(scale, a.ndim, axis)
    z = _bcast(zp, a.ndim, axis) if zp.size == scale.size or zp.size == 1 else zp.reshape(())
    return (a - z) * s


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _quantize(x, qp, dtype):
    scale, zp, axis = qp
    x = np.asarray(x, dtype=np.float64)
    s = _bcast(scale, x.ndim, axis)
    z = _bcast(zp, x.ndim, axis)
    with np.errstate(all="ignore"):
        v = _round_half_away(x / s)
        v = np.nan_to_num(v, nan=0.0, posinf=1e30, neginf=-1e30) + z
    info = np.iinfo(dtype)
    return np.clip(v, info.min, info.max).astype(dtype)


# --------------------------------------------------------------------------
# Activations and padding
# --------------------------------------------------------------------------

# What a fused TANH does.  The schema allows it, but LiteRT's kernels for every
# op here (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD/SUB/MUL/DIV, pools,
# CONCATENATION; float and quantized, builtin and XNNPACK) compute their clamp
# range with CalculateActivationRange*, which has no TANH case: a fused TANH is
# silently ignored.  "error" makes such a file fail with an explanation instead
# of a numeric mismatch; "tanh" applies tanh (the schema's meaning); "ignore"
# reproduces LiteRT.
FUSED_TANH = "error"


def _fused(x, act):
    if act in (None, _ACT.NONE):
        return x
    if act == _ACT.RELU:
        return np.maximum(x, 0)
    if act == _ACT.RELU_N1_TO_1:
        return np.clip(x, -1, 1)
    if act == _ACT.RELU6:
        return np.clip(x, 0, 6)
    if act == _ACT.TANH:
        if FUSED_TANH == "tanh":
            return np.tanh(x)
        if FUSED_TANH == "ignore":
            return x
        raise NotImplementedError(
            "reference has no fused activation TANH: LiteRT's kernels ignore a fused "
            "TANH on this op, so the file does not compute what it says (use a TANH op)")
    name = {v: k for k, v in vars(_ACT).items() if not k.startswith("_")}.get(act, act)
    raise NotImplementedError("reference has no fused activation %s" % name)


def _out_and_pad(in_size, k, stride, dilation, padding):
    """TensorFlow's SAME / VALID arithmetic: (out_size, pad_before, pad_after)."""
    if stride <= 0 or dilation <= 0:
        raise ValueError("stride %d / dilation %d must be positive" % (stride, dilation))
    eff = (k - 1) * dilation + 1
    if padding == _PAD.SAME:
        out = -(-in_size // stride)
        total = max((out - 1) * stride + eff - in_size, 0)
        before = total // 2
        return out, before, total - before
    if padding == _PAD.VALID:
        out = (in_size - eff + stride) // stride
        if out <= 0:
            raise ValueError("VALID window %d (dilated) larger than input %d" % (eff, in_size))
        return out, 0, 0
    raise NotImplementedError("reference has no padding mode %d" % padding)


def _windows(x, kh, kw, sh, sw, dh, dw, padding, pad_value=0.0):
    """NHWC input -> patches [N, OH, OW, KH, KW, C] (after TF padding)."""
    n, h, w, c = x.shape
    oh, pt, pb = _out_and_pad(h, kh, sh, dh, padding)
    ow, pl, pr = _out_and_pad(w, kw, sw, dw, padding)
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=pad_value)
    rows = []
    for i in range(kh):
        cols = []
        for j in range(kw):
            cols.append(x[:, i * dh: i * dh + (oh - 1) * sh + 1: sh,
                          j * dw: j * dw + (ow - 1) * sw + 1: sw, :])
        rows.append(np.stack(cols, axis=3))
    return np.stack(rows, axis=3)  # [N, OH, OW, KH, KW, C]


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------

class _Ctx:
    def __init__(self, model, sg_index, values):
        self.model = model
        self.sg_index = sg_index
        self.sg = model.subgraph(sg_index)
        self.values = values  # tensor index -> raw ndarray (tensor dtype)

    def tensor(self, ti):
        return self.sg.tensors[ti]

    def raw(self, ti):
        if ti < 0:
            return None
        if ti in self.values:
            return self.values[ti]
        c = self.model.constant(self.sg_index, ti)
        if c is not None:
            return c
        t = self.tensor(ti)
        if t.isVariable:
            dt = _NP_DTYPES.get(t.type, np.float32)
            z = np.zeros([int(d) for d in (t.shape if t.shape is not None else [])], dt)
            # LiteRT resets int8 variables to their zero point (real 0;
            # tensor_utils.cc ResetVariableTensor), other types to 0.
            qp = self.qp(ti)
            if t.type == _TT.INT8 and qp is not None and qp[1].size:
                z[...] = int(qp[1].reshape(-1)[0])
            self.values[ti] = z
            return z
        raise ValueError("tensor %d %r is read before it is written (not an input, "
                         "constant or earlier op output)" % (ti, _s(t.name)))

    def qp(self, ti):
        t = self.tensor(ti)
        if t.type in _QUANT_ACT_TYPES:
            return _qparams(t)
        return None

    def val(self, ti):
        """Value of a tensor for computing: float64 for float or quantized
        tensors, the raw integer / bool array otherwise."""
        a = self.raw(ti)
        if a is None:
            return None
        qp = self.qp(ti)
        if qp is not None:
            return _dequantize(a, qp)
        if a.dtype.kind == "f":
            return a.astype(np.float64)
        if a.dtype.kind == "c":
            return a.astype(np.complex128)
        return a

    def bias(self, ti):
        """Bias values: int32/int64 biases are dequantized with their own scale(s)."""
        if ti is None or ti < 0:
            return None
        a = self.raw(ti)
        t = self.tensor(ti)
        qp = _qparams(t)
        if a.dtype.kind in "iu":
            if qp is None:
                return a.astype(np.float64)
            return _dequantize(a, qp)
        return a.astype(np.float64)

    def store(self, ti, x):
        t = self.tensor(ti)
        dt = _NP_DTYPES.get(t.type)
        if dt is None:
            raise NotImplementedError("reference has no tensor type %s (tensor %d)"
                                      % (_TYPE_NAMES.get(t.type, t.type), ti))
        qp = self.qp(ti)
        x = np.asarray(x)
        if qp is not None:
            out = _quantize(x, qp, dt)
        elif np.dtype(dt).kind in "iu" and x.dtype.kind == "f":
            with np.errstate(all="ignore"):
                out = np.trunc(x).astype(dt)
        else:
            with np.errstate(all="ignore"):
                out = x.astype(dt)
        self.values[ti] = out


def _opts(op, cls):
    o = op.builtinOptions
    if o is None:
        return cls()
    return o


def _act_of(op):
    o = op.builtinOptions
    return getattr(o, "fusedActivationFunction", _ACT.NONE) if o is not None else _ACT.NONE


def _int_vector(a, what):
    if a is None:
        raise ValueError("missing %s" % what)
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise ValueError("%s must be an integer tensor, got %s" % (what, a.dtype))
    return [int(v) for v in a.reshape(-1)]


# ---- op implementations: each gets (ctx, op) and stores its outputs ------

def _binary(fn):
    def run(ctx, op):
        a = ctx.val(op.inputs[0])
        b = ctx.val(op.inputs[1])
        with np.errstate(all="ignore"):
            r = fn(a, b)
        ctx.store(op.outputs[0], _fused(r, _act_of(op)))
    return run


def _div(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        # TFLite integer DIV is C++ division (truncation toward zero).
        return np.trunc(a.astype(np.float64) / b.astype(np.float64))
    return a / b


def _conv2d(ctx, op):
    o = _opts(op, schema.Conv2DOptionsT)
    x = ctx.val(op.inputs[0])
    w = ctx.val(op.inputs[1])
    b = ctx.bias(op.inputs[2]) if len(op.inputs) > 2 else None
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError("CONV_2D wants 4-D input and filter, got %s and %s"
                         % (list(x.shape), list(w.shape)))
    n, h, wd, c = x.shape
    oc, kh, kw, ic = w.shape
    if ic <= 0 or c % ic or oc % (c // ic):
        raise ValueError("CONV_2D input channels %d incompatible with filter %s"
                         % (c, list(w.shape)))
    groups = c // ic
    p = _windows(x, kh, kw, o.strideH, o.strideW, o.dilationHFactor or 1,
                 o.dilationWFactor or 1, o.padding)
    _, oh, ow = p.shape[:3]
    og = oc // groups
    outs = []
    for g in range(groups):
        pg = p[..., g * ic:(g + 1) * ic].reshape(n * oh * ow, kh * kw * ic)
        wg = w[g * og:(g + 1) * og].reshape(og, kh * kw * ic)
        outs.append(pg @ wg.T)
    r = np.concatenate(outs, axis=1).reshape(n, oh, ow, oc)
    if b is not None:
        r = r + b.reshape(-1)
    ctx.store(op.outputs[0], _fused(r, o.fusedActivationFunction))


def _depthwise(ctx, op):
    o = _opts(op, schema.DepthwiseConv2DOptionsT)
    x = ctx.val(op.inputs[0])
    w = ctx.val(op.inputs[1])
    b = ctx.bias(op.inputs[2]) if len(op.inputs) > 2 else None
    if x.ndim != 4 or w.ndim != 4 or w.shape[0] != 1:
        raise ValueError("DEPTHWISE_CONV_2D wants 4-D input and [1,H,W,C*M] filter, got %s and %s"
                         % (list(x.shape), list(w.shape)))
    n, h, wd, c = x.shape
    _, kh, kw, cm = w.shape
    if cm % c:
        raise ValueError("DEPTHWISE_CONV_2D filter channels %d not a multiple of input channels %d"
                         % (cm, c))
    mult = cm // c
    p = _windows(x, kh, kw, o.strideH, o.strideW, o.dilationHFactor or 1,
                 o.dilationWFactor or 1, o.padding)
    wr = w[0].reshape(kh, kw, c, mult)
    r = np.einsum("nhwklc,klcm->nhwcm", p, wr, optimize=True).reshape(p.shape[0], p.shape[1],
                                                                      p.shape[2], cm)
    if b is not None:
        r = r + b.reshape(-1)
    ctx.store(op.outputs[0], _fused(r, o.fusedActivationFunction))


def _fully_connected(ctx, op):
    o = _opts(op, schema.FullyConnectedOptionsT)
    if o.weightsFormat not in (0, None):
        raise NotImplementedError("reference has no FULLY_CONNECTED weights format %d"
                                  % o.weightsFormat)
    x = ctx.val(op.inputs[0])
    w = ctx.val(op.inputs[1])
    b = ctx.bias(op.inputs[2]) if len(op.inputs) > 2 else None
    if w.ndim != 2:
        raise ValueError("FULLY_CONNECTED weights must be 2-D, got %s" % list(w.shape))
    units, depth = w.shape
    if x.size % depth:
        raise ValueError("FULLY_CONNECTED input %s not divisible into rows of %d"
                         % (list(x.shape), depth))
    r = x.reshape(-1, depth).astype(np.float64) @ w.T.astype(np.float64)
    if b is not None:
        r = r + b.reshape(-1)
    if o.keepNumDims:
        r = r.reshape(tuple(x.shape[:-1]) + (units,))
    ctx.store(op.outputs[0], _fused(r, o.fusedActivationFunction))


def _pool(kind):
    def run(ctx, op):
        o = _opts(op, schema.Pool2DOptionsT)
        x = ctx.val(op.inputs[0])
        if x.ndim != 4:
            raise ValueError("pooling wants a 4-D input, got %s" % list(x.shape))
        kh, kw = o.filterHeight, o.filterWidth
        if kind == "max":
            p = _windows(x, kh, kw, o.strideH, o.strideW, 1, 1, o.padding, pad_value=-np.inf)
            r = p.max(axis=(3, 4))
        else:
            p = _windows(x, kh, kw, o.strideH, o.strideW, 1, 1, o.padding, pad_value=0.0)
            ones = np.ones((1,) + x.shape[1:3] + (1,), np.float64)
            cnt = _windows(ones, kh, kw, o.strideH, o.strideW, 1, 1, o.padding,
                           pad_value=0.0).sum(axis=(3, 4))
            # TFLite divides by the number of valid (non-padded) elements.
            r = p.sum(axis=(3, 4)) / cnt
        ctx.store(op.outputs[0], _fused(r, o.fusedActivationFunction))
    return run


def _mean(ctx, op):
    o = _opts(op, schema.ReducerOptionsT)
    x = ctx.val(op.inputs[0])
    axes = _int_vector(ctx.raw(op.inputs[1]), "MEAN axes")
    nd = x.ndim
    norm = []
    for a in axes:
        if a < -nd or a >= nd:
            raise ValueError("MEAN axis %d out of range for rank %d" % (a, nd))
        a = a + nd if a < 0 else a
        if a not in norm:
            norm.append(a)
    r = np.mean(x.astype(np.float64), axis=tuple(norm), keepdims=bool(o.keepDims))
    ctx.store(op.outputs[0], r)


def _reshape(ctx, op):
    x = ctx.val(op.inputs[0])
    shape = None
    if len(op.inputs) > 1 and op.inputs[1] >= 0:
        s = ctx.raw(op.inputs[1])
        if s is not None and np.asarray(s).ndim == 1:
            shape = _int_vector(s, "RESHAPE shape")
    if shape is None:
        o = op.builtinOptions
        if o is not None and getattr(o, "newShape", None) is not None:
            shape = [int(v) for v in o.newShape]
    if shape is None:
        t = ctx.tensor(op.outputs[0])
        shape = [int(d) for d in (t.shape if t.shape is not None else [])]
    if shape == [0] and x.size == 1:
        shape = []  # legacy scalar encoding
    if shape.count(-1) > 1:
        raise ValueError("RESHAPE shape %s has more than one -1" % shape)
    ctx.store(op.outputs[0], np.reshape(x, shape))


def _transpose(ctx, op):
    x = ctx.val(op.inputs[0])
    perm = _int_vector(ctx.raw(op.inputs[1]), "TRANSPOSE perm")
    perm = [p + x.ndim if p < 0 else p for p in perm]
    ctx.store(op.outputs[0], np.transpose(x, perm))


def _concat(ctx, op):
    o = _opts(op, schema.ConcatenationOptionsT)
    xs = [ctx.val(i) for i in op.inputs]
    nd = xs[0].ndim
    axis = o.axis + nd if o.axis < 0 else o.axis
    if xs[0].dtype.kind == "f":
        xs = [x.astype(np.float64) for x in xs]
    r = np.concatenate(xs, axis=axis)
    ctx.store(op.outputs[0], _fused(r, o.fusedActivationFunction))


def _pad(ctx, op):
    x = ctx.val(op.inputs[0])
    pads = _int_vector(ctx.raw(op.inputs[1]), "PAD paddings")
    if len(pads) != 2 * x.ndim:
        raise ValueError("PAD paddings have %d values for rank %d" % (len(pads), x.ndim))
    pw = [(pads[2 * i], pads[2 * i + 1]) for i in range(x.ndim)]
    if any(a < 0 or b < 0 for a, b in pw):
        raise ValueError("PAD paddings must be non-negative: %s" % pw)
    value = 0
    if len(op.inputs) > 2 and op.inputs[2] >= 0:  # PADV2 constant value
        value = ctx.val(op.inputs[2]).reshape(-1)[0]
    # For quantized tensors val() is dequantized, so padding with 0.0 quantizes
    # to the zero point, as TFLite pads.
    ctx.store(op.outputs[0], np.pad(x, pw, constant_values=value))


def _softmax(ctx, op):
    o = _opts(op, schema.SoftmaxOptionsT)
    x = ctx.val(op.inputs[0]).astype(np.float64) * float(o.beta)
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    ctx.store(op.outputs[0], e / np.sum(e, axis=-1, keepdims=True))


def _unary(fn):
    def run(ctx, op):
        x = ctx.val(op.inputs[0])
        with np.errstate(all="ignore"):
            ctx.store(op.outputs[0], fn(x))
    return run


def _logistic(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _hard_swish(x):
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def _leaky_relu(ctx, op):
    o = _opts(op, schema.LeakyReluOptionsT)
    x = ctx.val(op.inputs[0])
    ctx.store(op.outputs[0], np.where(x >= 0, x, x * float(o.alpha)))


def _quantize_op(ctx, op):
    x = ctx.val(op.inputs[0])
    if ctx.qp(op.outputs[0]) is None:
        raise ValueError("QUANTIZE output tensor %d has no quantization parameters"
                         % op.outputs[0])
    ctx.store(op.outputs[0], x)


def _dequantize_op(ctx, op):
    ti = op.inputs[0]
    a = ctx.raw(ti)
    qp = _qparams(ctx.tensor(ti))
    if a.dtype in (np.int8, np.uint8, np.int16, np.int32):
        if qp is None:
            raise ValueError("DEQUANTIZE input %d has no quantization parameters" % ti)
        r = _dequantize(a, qp)
    elif a.dtype == np.float16:
        r = a.astype(np.float64)
    else:
        raise NotImplementedError("reference has no DEQUANTIZE from %s" % a.dtype)
    ctx.store(op.outputs[0], r)


def _squeeze(ctx, op):
    o = _opts(op, schema.SqueezeOptionsT)
    x = ctx.val(op.inputs[0])
    dims = [int(d) for d in (o.squeezeDims if o.squeezeDims is not None else [])]
    if not dims:
        r = np.squeeze(x)
    else:
        r = np.squeeze(x, axis=tuple(d + x.ndim if d < 0 else d for d in dims))
    ctx.store(op.outputs[0], r)


def _expand_dims(ctx, op):
    x = ctx.val(op.inputs[0])
    axis = _int_vector(ctx.raw(op.inputs[1]), "EXPAND_DIMS axis")[0]
    if axis < 0:
        axis += x.ndim + 1
    ctx.store(op.outputs[0], np.expand_dims(x, axis))


def _shape_op(ctx, op):
    x = ctx.raw(op.inputs[0])
    ctx.store(op.outputs[0], np.asarray(x.shape, dtype=np.int64))


def _pack(ctx, op):
    o = _opts(op, schema.PackOptionsT)
    xs = [ctx.val(i) for i in op.inputs]
    axis = o.axis + xs[0].ndim + 1 if o.axis < 0 else o.axis
    ctx.store(op.outputs[0], np.stack(xs, axis=axis))


def _strided_slice(ctx, op):
    o = _opts(op, schema.StridedSliceOptionsT)
    if o.ellipsisMask or o.newAxisMask:
        raise NotImplementedError("reference has no STRIDED_SLICE with ellipsis/new-axis masks")
    x = ctx.val(op.inputs[0])
    begin = _int_vector(ctx.raw(op.inputs[1]), "STRIDED_SLICE begin")
    end = _int_vector(ctx.raw(op.inputs[2]), "STRIDED_SLICE end")
    strides = (_int_vector(ctx.raw(op.inputs[3]), "STRIDED_SLICE strides")
               if len(op.inputs) > 3 and op.inputs[3] >= 0 else [1] * len(begin))
    sl, squeeze = [], []
    for i in range(x.ndim):
        dim = x.shape[i]
        if i >= len(begin):
            sl.append(slice(None))
            continue
        st = strides[i]
        if st == 0:
            raise ValueError("STRIDED_SLICE stride 0")
        b = begin[i]
        if (o.beginMask >> i) & 1:
            b = 0 if st > 0 else dim - 1
        else:
            b = b + dim if b < 0 else b
            b = min(max(b, 0), dim) if st > 0 else min(max(b, -1), dim - 1)
        if (o.shrinkAxisMask >> i) & 1:
            sl.append(slice(b, b + 1, 1))
            squeeze.append(i)
            continue
        e = end[i]
        if o.offset:
            e = b + e
        elif (o.endMask >> i) & 1:
            e = dim if st > 0 else -1
        else:
            e = e + dim if e < 0 else e
        e = min(max(e, 0), dim) if st > 0 else min(max(e, -1), dim - 1)
        sl.append(slice(b, None if (st < 0 and e < 0) else e, st))
    r = x[tuple(sl)]
    if squeeze:
        r = r.reshape([d for k, d in enumerate(r.shape) if k not in squeeze])
    ctx.store(op.outputs[0], r)


def _prelu(ctx, op):
    x = ctx.val(op.inputs[0])
    a = ctx.val(op.inputs[1])
    ctx.store(op.outputs[0], np.where(x >= 0, x, x * a))


def _erf(x):
    # math.erf elementwise, in float64.
    import math
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _gelu(ctx, op):
    o = _opts(op, schema.GeluOptionsT)
    x = ctx.val(op.inputs[0]).astype(np.float64)
    if o.approximate:
        r = 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))
    else:
        r = 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))
    ctx.store(op.outputs[0], r)


def _cast(ctx, op):
    # CAST converts stored numbers (quantization parameters are not applied).
    x = ctx.raw(op.inputs[0])
    t = ctx.tensor(op.outputs[0])
    dt = _NP_DTYPES.get(t.type)
    if dt is None:
        raise NotImplementedError("reference has no CAST to type %s" % _TYPE_NAMES.get(t.type, t.type))
    with np.errstate(all="ignore"):
        if np.dtype(dt) == np.bool_:
            r = x != 0
        elif np.dtype(dt).kind in "iu" and x.dtype.kind == "f":
            info = np.iinfo(dt)
            r = np.clip(np.trunc(np.nan_to_num(x.astype(np.float64))), info.min, info.max).astype(dt)
        else:
            r = x.astype(dt)
    ctx.values[op.outputs[0]] = np.asarray(r, dtype=dt)


def _split_v(ctx, op):
    x = ctx.val(op.inputs[0])
    sizes = _int_vector(ctx.raw(op.inputs[1]), "SPLIT_V size_splits")
    axis = _int_vector(ctx.raw(op.inputs[2]), "SPLIT_V axis")[0]
    axis = axis + x.ndim if axis < 0 else axis
    if sizes.count(-1) > 1:
        raise ValueError("SPLIT_V size_splits %s has more than one -1" % sizes)
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[axis] - sum(s for s in sizes if s >= 0)
    if sum(sizes) != x.shape[axis] or len(sizes) != len(op.outputs):
        raise ValueError("SPLIT_V size_splits %s do not split %d into %d outputs"
                         % (sizes, x.shape[axis], len(op.outputs)))
    parts = np.split(x, np.cumsum(sizes)[:-1], axis=axis)
    for ti, part in zip(op.outputs, parts):
        ctx.store(ti, part)


def _slice(ctx, op):
    x = ctx.val(op.inputs[0])
    begin = _int_vector(ctx.raw(op.inputs[1]), "SLICE begin")
    size = _int_vector(ctx.raw(op.inputs[2]), "SLICE size")
    sl = []
    for i in range(x.ndim):
        b, n = begin[i], size[i]
        e = x.shape[i] if n == -1 else b + n
        if b < 0 or e > x.shape[i] or e < b:
            raise ValueError("SLICE [%d, %d) out of range for size %d" % (b, e, x.shape[i]))
        sl.append(slice(b, e))
    ctx.store(op.outputs[0], x[tuple(sl)])


def _gather(ctx, op):
    o = _opts(op, schema.GatherOptionsT)
    p = ctx.val(op.inputs[0])
    idx = np.asarray(ctx.raw(op.inputs[1])).astype(np.int64)
    axis = o.axis + p.ndim if o.axis < 0 else o.axis
    bd = o.batchDims + idx.ndim if o.batchDims < 0 else o.batchDims
    if np.any(idx < 0) or np.any(idx >= p.shape[axis]):
        raise ValueError("GATHER index out of range for axis size %d" % p.shape[axis])
    if bd == 0:
        r = np.take(p, idx, axis=axis)
    else:
        batch = int(np.prod(p.shape[:bd]))
        pb = p.reshape((batch,) + p.shape[bd:])
        ib = idx.reshape((batch,) + idx.shape[bd:])
        r = np.stack([np.take(pb[i], ib[i], axis=axis - bd) for i in range(batch)])
        r = r.reshape(p.shape[:bd] + r.shape[1:])
    ctx.store(op.outputs[0], r)


def _resize_scale(n_in, n_out, align):
    if align and n_out > 1:
        return np.float32(n_in - 1) / np.float32(n_out - 1)
    return np.float32(n_in) / np.float32(n_out)


def _resize(kind):
    def run(ctx, op):
        cls = schema.ResizeBilinearOptionsT if kind == "bilinear" else schema.ResizeNearestNeighborOptionsT
        o = _opts(op, cls)
        x = ctx.val(op.inputs[0])
        oh, ow = _int_vector(ctx.raw(op.inputs[1]), "RESIZE size")
        n, h, w, c = x.shape
        align, half = bool(o.alignCorners), bool(o.halfPixelCenters)
        def axis_idx(n_in, n_out):
            s = _resize_scale(n_in, n_out, align)
            v = np.arange(n_out, dtype=np.float32)
            if kind == "nearest":
                v = (v + np.float32(0.5 if half else 0.0)) * s
                # TfLiteRound rounds half away from zero; v is non-negative.
                i = np.floor(v + np.float32(0.5)) if align else np.floor(v)
                return np.clip(i.astype(np.int64), 0, n_in - 1), None, None
            v = ((v + np.float32(0.5)) * s - np.float32(0.5)) if half else v * s
            lo = np.minimum(np.maximum(np.floor(v), 0), n_in - 1).astype(np.int64)
            hi = np.minimum(np.maximum(np.ceil(v), 0), n_in - 1).astype(np.int64)
            return lo, hi, v.astype(np.float64) - lo
        y0, y1, dy = axis_idx(h, oh)
        x0, x1, dx = axis_idx(w, ow)
        if kind == "nearest":
            r = x[:, y0][:, :, x0]
        else:
            dy = dy.reshape(1, -1, 1, 1)
            dx = dx.reshape(1, 1, -1, 1)
            xf = x.astype(np.float64)
            r = (xf[:, y0][:, :, x0] * (1 - dy) * (1 - dx) + xf[:, y1][:, :, x0] * dy * (1 - dx)
                 + xf[:, y0][:, :, x1] * (1 - dy) * dx + xf[:, y1][:, :, x1] * dy * dx)
        ctx.store(op.outputs[0], r)
    return run


def _transpose_conv(ctx, op):
    o = _opts(op, schema.TransposeConvOptionsT)
    shape = _int_vector(ctx.raw(op.inputs[0]), "TRANSPOSE_CONV output_shape")
    w = ctx.val(op.inputs[1])
    x = ctx.val(op.inputs[2])
    b = ctx.bias(op.inputs[3]) if len(op.inputs) > 3 else None
    n, h, wd, ic = x.shape
    oc, kh, kw, _ = w.shape
    _, oh, ow, _ = shape
    # TFLite's padding: that of a convolution from the output to the input.
    _, pt, _ = _out_and_pad(oh, kh, o.strideH, 1, o.padding)
    _, pl, _ = _out_and_pad(ow, kw, o.strideW, 1, o.padding)
    full_h = (h - 1) * o.strideH + kh
    full_w = (wd - 1) * o.strideW + kw
    acc = np.zeros((n, max(full_h, pt + oh), max(full_w, pl + ow), oc), np.float64)
    for ky in range(kh):
        for kx in range(kw):
            contrib = x.astype(np.float64) @ w[:, ky, kx, :].astype(np.float64).T  # [n, h, w, oc]
            acc[:, ky:ky + (h - 1) * o.strideH + 1:o.strideH,
                kx:kx + (wd - 1) * o.strideW + 1:o.strideW, :] += contrib
    r = acc[:, pt:pt + oh, pl:pl + ow, :]
    if b is not None:
        r = r + b.reshape(-1)
    ctx.store(op.outputs[0], _fused(r, o.fusedActivationFunction))


def _batch_matmul(ctx, op):
    o = _opts(op, schema.BatchMatMulOptionsT)
    a = ctx.val(op.inputs[0]).astype(np.float64)
    b = ctx.val(op.inputs[1]).astype(np.float64)
    if o.adjX:
        a = np.swapaxes(a, -1, -2)
    if o.adjY:
        b = np.swapaxes(b, -1, -2)
    ctx.store(op.outputs[0], np.matmul(a, b))


def _reduce(fn, raw=False):
    def run(ctx, op):
        o = _opts(op, schema.ReducerOptionsT)
        x = ctx.raw(op.inputs[0]) if raw else ctx.val(op.inputs[0])
        axes = _int_vector(ctx.raw(op.inputs[1]), "reduction axes")
        nd = x.ndim
        norm = sorted({a + nd if a < 0 else a for a in axes})
        r = fn(x, axis=tuple(norm), keepdims=bool(o.keepDims))
        if raw:
            # The runtime compares stored numbers; the output keeps them.
            ctx.values[op.outputs[0]] = np.asarray(r).astype(x.dtype)
        else:
            ctx.store(op.outputs[0], r)
    return run


def _mirror_pad(ctx, op):
    o = _opts(op, schema.MirrorPadOptionsT)
    x = ctx.val(op.inputs[0])
    pads = _int_vector(ctx.raw(op.inputs[1]), "MIRROR_PAD paddings")
    pw = [(pads[2 * i], pads[2 * i + 1]) for i in range(x.ndim)]
    mode = "reflect" if o.mode == schema.MirrorPadMode.REFLECT else "symmetric"
    ctx.store(op.outputs[0], np.pad(x, pw, mode=mode))


def _select_v2(ctx, op):
    c = ctx.raw(op.inputs[0]).astype(np.bool_)
    x = ctx.raw(op.inputs[1])
    y = ctx.raw(op.inputs[2])
    # Elements are copied as stored.
    ctx.values[op.outputs[0]] = np.where(c, x, y).astype(x.dtype)


def _log_softmax(ctx, op):
    x = ctx.val(op.inputs[0]).astype(np.float64)
    x = x - np.max(x, axis=-1, keepdims=True)
    ctx.store(op.outputs[0], x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True)))


def _arg(fn):
    def run(ctx, op):
        x = ctx.raw(op.inputs[0])
        axis = _int_vector(ctx.raw(op.inputs[1]), "ARG_MAX/ARG_MIN axis")
        if len(axis) != 1:
            raise ValueError("axis must hold one value")
        ctx.store(op.outputs[0], fn(x, axis=axis[0]))
    return run


def _broadcast_to(ctx, op):
    x = ctx.raw(op.inputs[0])
    shape = _int_vector(ctx.raw(op.inputs[1]), "BROADCAST_TO shape")
    ctx.values[op.outputs[0]] = np.array(np.broadcast_to(x, shape))


def _floor_mod(a, b):
    # NumPy's mod takes the divisor's sign, as FLOOR_MOD does.
    return np.mod(a, b)


_OPS = {
    _BOP.ADD: _binary(lambda a, b: a + b),
    _BOP.SUB: _binary(lambda a, b: a - b),
    _BOP.MUL: _binary(lambda a, b: a * b),
    _BOP.DIV: _binary(_div),
    _BOP.CONV_2D: _conv2d,
    _BOP.DEPTHWISE_CONV_2D: _depthwise,
    _BOP.FULLY_CONNECTED: _fully_connected,
    _BOP.AVERAGE_POOL_2D: _pool("avg"),
    _BOP.MAX_POOL_2D: _pool("max"),
    _BOP.MEAN: _mean,
    _BOP.RESHAPE: _reshape,
    _BOP.TRANSPOSE: _transpose,
    _BOP.CONCATENATION: _concat,
    _BOP.PAD: _pad,
    _BOP.PADV2: _pad,
    _BOP.SOFTMAX: _softmax,
    _BOP.LOGISTIC: _unary(_logistic),
    _BOP.RELU: _unary(lambda x: np.maximum(x, 0)),
    _BOP.RELU6: _unary(lambda x: np.clip(x, 0, 6)),
    _BOP.RELU_N1_TO_1: _unary(lambda x: np.clip(x, -1, 1)),
    _BOP.RELU_0_TO_1: _unary(lambda x: np.clip(x, 0, 1)),
    _BOP.LEAKY_RELU: _leaky_relu,
    _BOP.HARD_SWISH: _unary(_hard_swish),
    _BOP.TANH: _unary(np.tanh),
    _BOP.QUANTIZE: _quantize_op,
    _BOP.DEQUANTIZE: _dequantize_op,
    _BOP.SQUEEZE: _squeeze,
    _BOP.EXPAND_DIMS: _expand_dims,
    _BOP.MAXIMUM: _binary(np.maximum),
    _BOP.MINIMUM: _binary(np.minimum),
    _BOP.SHAPE: _shape_op,
    _BOP.PACK: _pack,
    _BOP.STRIDED_SLICE: _strided_slice,
    _BOP.PRELU: _prelu,
    _BOP.GELU: _gelu,
    _BOP.EXP: _unary(np.exp),
    _BOP.SQRT: _unary(np.sqrt),
    _BOP.RSQRT: _unary(lambda x: 1.0 / np.sqrt(x)),
    _BOP.NEG: _unary(np.negative),
    _BOP.ABS: _unary(np.abs),
    _BOP.CAST: _cast,
    _BOP.SPLIT_V: _split_v,
    _BOP.SLICE: _slice,
    _BOP.GATHER: _gather,
    _BOP.RESIZE_BILINEAR: _resize("bilinear"),
    _BOP.RESIZE_NEAREST_NEIGHBOR: _resize("nearest"),
    _BOP.TRANSPOSE_CONV: _transpose_conv,
    _BOP.BATCH_MATMUL: _batch_matmul,
    _BOP.REDUCE_MAX: _reduce(np.max, raw=True),
    _BOP.SUM: _reduce(np.sum),
    _BOP.MIRROR_PAD: _mirror_pad,
    _BOP.EQUAL: _binary(np.equal),
    _BOP.NOT_EQUAL: _binary(np.not_equal),
    _BOP.LESS: _binary(np.less),
    _BOP.LESS_EQUAL: _binary(np.less_equal),
    _BOP.GREATER: _binary(np.greater),
    _BOP.GREATER_EQUAL: _binary(np.greater_equal),
    _BOP.LOGICAL_AND: _binary(np.logical_and),
    _BOP.LOGICAL_OR: _binary(np.logical_or),
    _BOP.LOGICAL_NOT: _unary(np.logical_not),
    _BOP.SELECT_V2: _select_v2,
    _BOP.LOG: _unary(np.log),
    _BOP.SIN: _unary(np.sin),
    _BOP.COS: _unary(np.cos),
    _BOP.POW: _binary(np.power),
    _BOP.LOG_SOFTMAX: _log_softmax,
    _BOP.REDUCE_MIN: _reduce(np.min, raw=True),
    _BOP.REDUCE_PROD: _reduce(np.prod),
    _BOP.ARG_MAX: _arg(np.argmax),
    _BOP.ARG_MIN: _arg(np.argmin),
    _BOP.BROADCAST_TO: _broadcast_to,
    _BOP.FLOOR_MOD: _binary(_floor_mod),
}


# ---- control flow: IF and WHILE run other subgraphs ----------------------

# Iterations one WHILE may make before the reference gives up.
_MAX_WHILE_ITERATIONS = 1 << 16


def _call(ctx, sg_index, args, what):
    """Run subgraph ``sg_index`` on raw arrays ``args`` -> its raw outputs.

    Values pass between subgraphs as the runtime copies them: element for
    element in the tensor's own type (quantized values keep their integers
    and take the parameters of the tensor they land in)."""
    m = ctx.model
    if not isinstance(sg_index, int) or sg_index < 0 or sg_index >= len(m.m.subgraphs):
        raise ValueError("%s subgraph %r does not exist (model has %d)"
                         % (what, sg_index, len(m.m.subgraphs)))
    ins, outs = m.subgraph_io(sg_index)
    if len(ins) != len(args):
        raise ValueError("%s subgraph %d takes %d inputs, got %d"
                         % (what, sg_index, len(ins), len(args)))
    sg = m.subgraph(sg_index)
    feeds = {}
    for k, (ti, a) in enumerate(zip(ins, args)):
        dt = _NP_DTYPES.get(sg.tensors[ti].type)
        if dt is not None and a.dtype != np.dtype(dt):
            raise ValueError("%s subgraph %d input %d is %s, got %s"
                             % (what, sg_index, k, np.dtype(dt).name, a.dtype.name))
        feeds[ti] = a
    res = evaluate(m, feeds, subgraph_index=sg_index, _nested=True)
    return [res[ti] for ti in outs]


def _truth(a, what):
    a = np.asarray(a)
    if a.dtype != np.bool_ or a.size != 1:
        raise ValueError("%s must be one bool, is %s %s" % (what, a.dtype.name, list(a.shape)))
    return bool(a.reshape(-1)[0])


def _store_raw(ctx, outputs, values, what):
    if len(outputs) != len(values):
        raise ValueError("%s gives %d values for %d outputs" % (what, len(values), len(outputs)))
    for ti, v in zip(outputs, values):
        dt = _NP_DTYPES.get(ctx.tensor(ti).type)
        if dt is not None and v.dtype != np.dtype(dt):
            raise ValueError("output tensor %d is %s, %s gives %s"
                             % (ti, np.dtype(dt).name, what, v.dtype.name))
        ctx.values[ti] = np.array(v, copy=True)


def _if(ctx, op):
    o = _opts(op, schema.IfOptionsT)
    cond = _truth(ctx.raw(op.inputs[0]), "IF cond")
    branch = int(o.thenSubgraphIndex) if cond else int(o.elseSubgraphIndex)
    what = "%s subgraph %d" % ("then" if cond else "else", branch)
    args = [ctx.raw(ti) for ti in list(op.inputs)[1:]]
    _store_raw(ctx, list(op.outputs), _call(ctx, branch, args, what), what)


def _while(ctx, op):
    o = _opts(op, schema.WhileOptionsT)
    cond_sg, body_sg = int(o.condSubgraphIndex), int(o.bodySubgraphIndex)
    vars_ = [ctx.raw(ti) for ti in op.inputs]
    for _ in range(_MAX_WHILE_ITERATIONS + 1):
        c = _call(ctx, cond_sg, vars_, "cond")
        if len(c) != 1:
            raise ValueError("cond subgraph %d gives %d values, expected one bool" % (cond_sg, len(c)))
        if not _truth(c[0], "WHILE cond"):
            _store_raw(ctx, list(op.outputs), vars_, "WHILE")
            return
        vars_ = _call(ctx, body_sg, vars_, "body")
    raise ValueError("WHILE still looping after %d iterations" % _MAX_WHILE_ITERATIONS)


def _call_once(ctx, op):
    # The first CALL_ONCE of a run invokes the init subgraph (no inputs or
    # outputs: it sets resource variables); later ones do nothing.
    o = _opts(op, schema.CallOnceOptionsT)
    init = int(o.initSubgraphIndex)
    done = ctx.model.__dict__.setdefault("_called_once", set())
    if init in done:
        return None
    done.add(init)
    _call(ctx, init, [], "CALL_ONCE init")
    return None


# Resource variables, shared by every subgraph of one run and named by
# (container, shared_name) as LiteRT's VAR_HANDLE names them. The variable
# holds the stored array it was assigned (quantized values keep their
# integers, as the runtime copies them).
def _resources(ctx):
    return ctx.model.__dict__.setdefault("_resources", {})


def _var_handle(ctx, op):
    o = _opts(op, schema.VarHandleOptionsT)
    key = (_s(o.container or b""), _s(o.sharedName or b""))
    a = np.empty((), dtype=object)
    a[()] = key
    ctx.values[op.outputs[0]] = a


def _handle(ctx, ti):
    a = np.asarray(ctx.raw(ti))
    if a.dtype != object or a.size != 1:
        raise ValueError("resource handle tensor %d is not a VAR_HANDLE output" % ti)
    return a.reshape(-1)[0]


def _assign_variable(ctx, op):
    _resources(ctx)[_handle(ctx, op.inputs[0])] = np.array(ctx.raw(op.inputs[1]), copy=True)


def _read_variable(ctx, op):
    key = _handle(ctx, op.inputs[0])
    if key not in _resources(ctx):
        raise ValueError("READ_VARIABLE of variable %r before any ASSIGN_VARIABLE" % (key,))
    _store_raw(ctx, list(op.outputs), [_resources(ctx)[key]], "READ_VARIABLE")


# The generated ops' references, one module per family group.
import reference_math  # noqa: E402
import reference_data  # noqa: E402
import reference_recurrent  # noqa: E402
import reference_detection  # noqa: E402
import reference_rare  # noqa: E402

reference_math.register(_OPS, sys.modules[__name__])
reference_data.register(_OPS, sys.modules[__name__])
reference_recurrent.register(_OPS, sys.modules[__name__])
reference_detection.register(_OPS, sys.modules[__name__])
reference_rare.register(_OPS, sys.modules[__name__])

_OPS[_BOP.IF] = _if
_OPS[_BOP.WHILE] = _while
_OPS[_BOP.CALL_ONCE] = _call_once
_OPS[_BOP.VAR_HANDLE] = _var_handle
_OPS[_BOP.ASSIGN_VARIABLE] = _assign_variable
_OPS[_BOP.READ_VARIABLE] = _read_variable


def evaluate(model, inputs, subgraph_index=0, outputs=None, keep_all=False, _nested=False):
    """Evaluate one subgraph.

    model: .tflite bytes or a Model.  inputs: {tensor index: ndarray} for every
    subgraph input (the arrays' shapes may differ from the file's, e.g. after a
    resize).  Returns {tensor index: ndarray} for the subgraph outputs, or for
    the tensor indices in ``outputs`` when given (every tensor computed, if
    keep_all).
    """
    m = _as_model(model)
    if not _nested:
        # A run starts as a fresh interpreter: no variables, no CALL_ONCE
        # done (subgraph calls within the run share them).
        m.__dict__.pop("_resources", None)
        m.__dict__.pop("_called_once", None)
    sg = m.subgraph(subgraph_index)
    ins, outs = m.subgraph_io(subgraph_index)
    values = {}
    for ti in ins:
        if ti not in inputs:
            raise ValueError("no value for subgraph input tensor %d %r"
                             % (ti, _s(sg.tensors[ti].name)))
        t = sg.tensors[ti]
        dt = _NP_DTYPES.get(t.type)
        a = np.asarray(inputs[ti])
        if dt is not None and a.dtype != np.dtype(dt):
            raise ValueError("input tensor %d %r is %s, got %s"
                             % (ti, _s(t.name), np.dtype(dt).name, a.dtype.name))
        values[ti] = a
    ctx = _Ctx(m, subgraph_index, values)
    for n, op in enumerate(sg.operators or []):
        code, oc = m.opcode(op)
        if code == _BOP.CUSTOM:
            raise NotImplementedError("reference has no op CUSTOM(%s)" % _s(oc.customCode))
        fn = _OPS.get(code)
        if fn is None:
            raise NotImplementedError("reference has no op %s" % op_name(code))
        try:
            fn(ctx, op)
        except NotImplementedError as e:
            msg = str(e)
            if op_name(code) not in msg:
                msg = "%s (op #%d %s)" % (msg, n, op_name(code))
            raise NotImplementedError(msg) from None
        except Exception as e:
            raise ValueError("reference failed at op #%d %s: %s: %s"
                             % (n, op_name(code), type(e).__name__, e)) from e
    if keep_all:
        return dict(values)
    return {ti: ctx.raw(ti) for ti in (outs if outputs is None else outputs)}


if __name__ == "__main__":  # tiny CLI: python reference.py model.tflite
    import sys
    mm = Model(open(sys.argv[1], "rb").read())
    i_idx, o_idx = mm.subgraph_io(0)
    print("inputs", [tensor_info(mm, i) for i in i_idx])
    print("outputs", [tensor_info(mm, i) for i in o_idx])
    print("signatures", mm.signature_maps())
