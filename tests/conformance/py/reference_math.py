"""NumPy references of the generated numeric ops (see reference.py).

FLOOR, CEIL, ROUND, RELU_N1_TO_1, RELU_0_TO_1, ELU, SQUARE, SIGN, ZEROS_LIKE,
FAKE_QUANT, L2_NORMALIZATION, LOCAL_RESPONSE_NORMALIZATION, BUCKETIZE,
SQUARED_DIFFERENCE, FLOOR_DIV, ATAN2, BITWISE_XOR, RIGHT_SHIFT, ADD_N,
REDUCE_ANY, REDUCE_ALL, CUMSUM, SHAPE, RANK, FILL, RANGE and BROADCAST_ARGS,
as LiteRT's builtin kernels compute them.  Integer results come out in the
output tensor's dtype (``ctx.store`` casts; raw-copy ops write
``ctx.values`` directly).
"""

import numpy as np


def _sign(x):
    return np.sign(x)


def _elu(x):
    return np.where(x < 0, np.expm1(np.minimum(x, 0)), x)


def _bits(dtype):
    return np.dtype(dtype).itemsize * 8


def register(ops, ref):
    """Adds this module's kernels to reference.py's op table.

    ``ref`` is the reference module: its helpers (ref._BOP, ref._opts,
    ref._unary, ref._binary, ref.schema, ...) are used from here.
    """
    B = ref._BOP
    schema = ref.schema

    def raw_store(ctx, ti, arr):
        dt = ref._NP_DTYPES[ctx.tensor(ti).type]
        ctx.values[ti] = np.asarray(arr).astype(dt)

    def float_floor_div(ctx, op):
        a = ctx.raw(op.inputs[0])
        b = ctx.raw(op.inputs[1])
        with np.errstate(all="ignore"):
            if a.dtype.kind in "iu":
                # Integer FLOOR_DIV works on stored integers.
                if np.any(b == 0):
                    raise ValueError("integer FLOOR_DIV by zero")
                r = np.floor_divide(a.astype(np.int64), b.astype(np.int64))
                raw_store(ctx, op.outputs[0], r)
                return
            if a.dtype == np.float32:
                r = np.floor(a / b)
            else:
                r = np.floor(a.astype(np.float64) / b.astype(np.float64))
        ctx.store(op.outputs[0], r)

    def squared_difference(ctx, op):
        a = ctx.val(op.inputs[0])
        b = ctx.val(op.inputs[1])
        if a.dtype.kind in "iu":
            a = a.astype(np.int64)
            b = b.astype(np.int64)
        d = a - b
        ctx.store(op.outputs[0], d * d)

    def bitwise(shift):
        def run(ctx, op):
            a = ctx.raw(op.inputs[0])
            b = ctx.raw(op.inputs[1])
            if a.dtype.kind not in "iu" or a.dtype != b.dtype:
                raise ValueError("operands must share one integer type, are %s and %s"
                                 % (a.dtype, b.dtype))
            if shift:
                s = np.clip(b.astype(np.int64), 0, _bits(a.dtype) - 1)
                r = np.right_shift(a.astype(np.int64), s)
            else:
                r = np.bitwise_xor(a, b)
            raw_store(ctx, op.outputs[0], r)
        return run

    def add_n(ctx, op):
        xs = [ctx.val(i) for i in op.inputs]
        acc = xs[0].astype(np.int64) if xs[0].dtype.kind in "iu" else xs[0].astype(np.float64)
        for x in xs[1:]:
            acc = acc + x
        ctx.store(op.outputs[0], acc)

    def zeros_like(ctx, op):
        x = ctx.raw(op.inputs[0])
        raw_store(ctx, op.outputs[0], np.zeros(x.shape))

    def fake_quant(ctx, op):
        o = ref._opts(op, schema.FakeQuantOptionsT)
        x = ctx.val(op.inputs[0]).astype(np.float32)
        f32 = np.float32
        qmin = f32(1 if o.narrowRange else 0)
        qmax = f32((1 << int(o.numBits)) - 1)
        mn, mx = f32(o.min), f32(o.max)
        scale = f32((mx - mn) / (qmax - qmin))
        zfm = f32(qmin - mn / scale)
        if zfm < qmin:
            zero = qmin
        elif zfm > qmax:
            zero = qmax
        else:
            zero = f32(np.sign(zfm) * np.floor(np.abs(zfm) + f32(0.5)))
        nmin = f32((qmin - zero) * scale)
        nmax = f32((qmax - zero) * scale)
        inv = f32(f32(1.0) / scale)
        c = np.minimum(nmax, np.maximum(nmin, x)).astype(np.float32)
        t = ((c - nmin) * inv).astype(np.float32)
        q = (np.sign(t) * np.floor(np.abs(t) + f32(0.5))).astype(np.float32)
        ctx.store(op.outputs[0], (q * scale + nmin).astype(np.float32))

    def l2_norm(ctx, op):
        x = ctx.val(op.inputs[0]).astype(np.float64)
        n = np.sqrt(np.sum(x * x, axis=-1, keepdims=True))
        ctx.store(op.outputs[0], ref._fused(x / np.maximum(n, 1e-6), ref._act_of(op)))

    def lrn(ctx, op):
        o = ref._opts(op, schema.LocalResponseNormalizationOptionsT)
        x = ctx.val(op.inputs[0]).astype(np.float64)
        r = int(o.radius)
        depth = x.shape[-1]
        sq = x * x
        acc = np.zeros_like(x)
        for c in range(depth):
            lo, hi = max(0, c - r), min(depth, c + r + 1)
            acc[..., c] = np.sum(sq[..., lo:hi], axis=-1)
        ctx.store(op.outputs[0], x * np.power(float(o.bias) + float(o.alpha) * acc, -float(o.beta)))

    def bucketize(ctx, op):
        o = ref._opts(op, schema.BucketizeOptionsT)
        x = ctx.val(op.inputs[0])
        b = np.asarray(o.boundaries if o.boundaries is not None else [], dtype=np.float32)
        r = np.searchsorted(b.astype(np.float64), x.astype(np.float64), side="right")
        raw_store(ctx, op.outputs[0], r)

    def reduce_bool(fn):
        def run(ctx, op):
            o = ref._opts(op, schema.ReducerOptionsT)
            x = ctx.raw(op.inputs[0]).astype(np.bool_)
            axes = ref._int_vector(ctx.raw(op.inputs[1]), "reduction axes")
            nd = x.ndim
            norm = tuple(sorted({a + nd if a < 0 else a for a in axes}))
            raw_store(ctx, op.outputs[0], fn(x, axis=norm, keepdims=bool(o.keepDims)))
        return run

    def cumsum(ctx, op):
        o = ref._opts(op, schema.CumsumOptionsT)
        x = ctx.val(op.inputs[0])
        axis = ref._int_vector(ctx.raw(op.inputs[1]), "CUMSUM axis")
        if len(axis) != 1:
            raise ValueError("axis must hold one value")
        a = axis[0] + x.ndim if axis[0] < 0 else axis[0]
        acc = x.astype(np.int64) if x.dtype.kind in "iu" else x.astype(np.float64)
        if o.reverse:
            acc = np.flip(acc, axis=a)
        s = np.cumsum(acc, axis=a)
        if o.exclusive:
            s = s - acc
        if o.reverse:
            s = np.flip(s, axis=a)
        ctx.store(op.outputs[0], s)

    def shape(ctx, op):
        x = ctx.raw(op.inputs[0])
        raw_store(ctx, op.outputs[0], np.asarray(x.shape, dtype=np.int64).reshape(-1))

    def rank(ctx, op):
        x = ctx.raw(op.inputs[0])
        raw_store(ctx, op.outputs[0], np.asarray(x.ndim, dtype=np.int64))

    def fill(ctx, op):
        dims = ref._int_vector(ctx.raw(op.inputs[0]), "FILL dims")
        v = ctx.raw(op.inputs[1])
        if v.size != 1:
            raise ValueError("FILL value must hold one element, has shape %s" % list(v.shape))
        if any(d < 0 for d in dims):
            raise ValueError("FILL dims %s has a negative entry" % dims)
        # The value is copied as stored.
        ctx.values[op.outputs[0]] = np.full(dims, v.reshape(-1)[0], dtype=v.dtype)

    def range_op(ctx, op):
        s, l, d = (ctx.raw(i) for i in op.inputs)
        if not (s.size == l.size == d.size == 1):
            raise ValueError("RANGE operands must be scalars")
        dt = s.dtype
        start, limit, delta = s.reshape(-1)[0], l.reshape(-1)[0], d.reshape(-1)[0]
        if delta == 0:
            raise ValueError("RANGE delta is zero")
        if not ((start >= limit and delta < 0) or (start <= limit and delta > 0)):
            raise ValueError("RANGE delta %s does not lead from %s to %s" % (delta, start, limit))
        if dt.kind in "iu":
            a, b, c = int(start), int(limit), int(delta)
            n = (abs(b - a) + abs(c) - 1) // abs(c)
            out = np.asarray([a + i * c for i in range(n)], dtype=dt)
        else:
            n = int(np.ceil(np.abs((limit - start) / delta)))
            out = np.empty(n, dtype=dt)
            v = start
            for i in range(n):  # accumulated in the operand type, as the runtime does
                out[i] = v
                v = dt.type(v + delta)
        ctx.values[op.outputs[0]] = out

    def broadcast_args(ctx, op):
        a = ref._int_vector(ctx.raw(op.inputs[0]), "BROADCAST_ARGS s0")
        b = ref._int_vector(ctx.raw(op.inputs[1]), "BROADCAST_ARGS s1")
        r = np.broadcast_shapes(tuple(a), tuple(b))
        raw_store(ctx, op.outputs[0], np.asarray(r, dtype=np.int64).reshape(-1))

    ops.update({
        B.FLOOR: ref._unary(np.floor),
        B.CEIL: ref._unary(np.ceil),
        # np.round rounds half to even, like the runtime's RoundToNearest.
        B.ROUND: ref._unary(np.round),
        B.RELU_N1_TO_1: ref._unary(lambda x: np.clip(x, -1, 1)),
        B.RELU_0_TO_1: ref._unary(lambda x: np.clip(x, 0, 1)),
        B.ELU: ref._unary(_elu),
        B.SQUARE: ref._unary(lambda x: x * x),
        B.SIGN: ref._unary(_sign),
        B.ZEROS_LIKE: zeros_like,
        B.FAKE_QUANT: fake_quant,
        B.L2_NORMALIZATION: l2_norm,
        B.LOCAL_RESPONSE_NORMALIZATION: lrn,
        B.BUCKETIZE: bucketize,
        B.SQUARED_DIFFERENCE: squared_difference,
        B.FLOOR_DIV: float_floor_div,
        B.ATAN2: ref._binary(np.arctan2),
        B.BITWISE_XOR: bitwise(False),
        B.RIGHT_SHIFT: bitwise(True),
        B.ADD_N: add_n,
        B.REDUCE_ANY: reduce_bool(np.any),
        B.REDUCE_ALL: reduce_bool(np.all),
        B.CUMSUM: cumsum,
        B.SHAPE: shape,
        B.RANK: rank,
        B.FILL: fill,
        B.RANGE: range_op,
        B.BROADCAST_ARGS: broadcast_args,
    })

