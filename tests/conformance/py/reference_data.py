"""NumPy references of the generated data-movement ops (see reference.py).

EXPAND_DIMS, TILE, PACK, UNPACK, SPLIT, DEPTH_TO_SPACE, SPACE_TO_DEPTH,
REVERSE_V2, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, MATRIX_DIAG,
MATRIX_SET_DIAG, REVERSE_SEQUENCE, SELECT, EMBEDDING_LOOKUP, GATHER_ND,
SCATTER_ND, ONE_HOT, TOPK_V2, SEGMENT_SUM, UNSORTED_SEGMENT_SUM / PROD / MAX
/ MIN, DYNAMIC_UPDATE_SLICE, SPARSE_TO_DENSE, WHERE, UNIQUE, DILATE and
REDUCE_WINDOW copy or fold stored numbers, as LiteRT's kernels do (quantized
values keep their integers): they read ``ctx.raw`` and write ``ctx.values``
in the output's dtype.  L2_POOL_2D, CONV_3D and CONV_3D_TRANSPOSE compute on
real values (float only in LiteRT).
"""

import numpy as np


def _norm_axis(a, rank, what):
    if a < -rank or a >= rank:
        raise ValueError("%s %d out of range for rank %d" % (what, a, rank))
    return a + rank if a < 0 else a


def register(ops, ref):
    """Adds this module's kernels to reference.py's op table.

    ``ref`` is the reference module: its helpers (ref._BOP, ref._opts,
    ref._unary, ref._binary, ref.schema, ...) are used from here.
    """
    B = ref._BOP
    schema = ref.schema
    ints = ref._int_vector

    def dtype_of(ctx, ti):
        return np.dtype(ref._NP_DTYPES[ctx.tensor(ti).type])

    def raw_store(ctx, ti, arr):
        ctx.values[ti] = np.asarray(arr).astype(dtype_of(ctx, ti))

    def raw(ctx, op, i):
        return np.asarray(ctx.raw(op.inputs[i]))

    def scalar(ctx, op, i, what):
        v = ints(ctx.raw(op.inputs[i]), what)
        if len(v) != 1:
            raise ValueError("%s must hold one value, holds %d" % (what, len(v)))
        return v[0]

    # ---- layout ----------------------------------------------------------

    def expand_dims(ctx, op):
        x = raw(ctx, op, 0)
        a = _norm_axis(scalar(ctx, op, 1, "EXPAND_DIMS axis"), x.ndim + 1, "axis")
        raw_store(ctx, op.outputs[0], np.expand_dims(x, a))

    def tile(ctx, op):
        x = raw(ctx, op, 0)
        m = ints(ctx.raw(op.inputs[1]), "TILE multiples")
        if len(m) != x.ndim or any(k < 0 for k in m):
            raise ValueError("TILE multiples %s do not fit rank %d" % (m, x.ndim))
        raw_store(ctx, op.outputs[0], np.tile(x, m))

    def pack(ctx, op):
        o = ref._opts(op, schema.PackOptionsT)
        xs = [np.asarray(ctx.raw(i)) for i in op.inputs]
        if o.valuesCount != len(xs):
            raise ValueError("PACK values_count %d for %d inputs" % (o.valuesCount, len(xs)))
        a = _norm_axis(o.axis, xs[0].ndim + 1, "axis")
        raw_store(ctx, op.outputs[0], np.stack(xs, axis=a))

    def unpack(ctx, op):
        o = ref._opts(op, schema.UnpackOptionsT)
        x = raw(ctx, op, 0)
        a = _norm_axis(o.axis, x.ndim, "axis")
        if o.num != x.shape[a] or len(op.outputs) != o.num:
            raise ValueError("UNPACK num %d for dimension %d of %s" % (o.num, a, list(x.shape)))
        for k, ti in enumerate(op.outputs):
            raw_store(ctx, ti, np.take(x, k, axis=a))

    def split(ctx, op):
        x = raw(ctx, op, 1)
        a = _norm_axis(scalar(ctx, op, 0, "SPLIT axis"), x.ndim, "axis")
        n = len(op.outputs)
        if x.shape[a] % n:
            raise ValueError("SPLIT: %d does not split into %d" % (x.shape[a], n))
        for ti, part in zip(op.outputs, np.split(x, n, axis=a)):
            raw_store(ctx, ti, part)

    def depth_to_space(ctx, op):
        s = ref._opts(op, schema.DepthToSpaceOptionsT).blockSize
        x = raw(ctx, op, 0)
        n, h, w, c = x.shape
        oc = c // (s * s)
        r = x.reshape(n, h, w, s, s, oc).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * s, w * s, oc)
        raw_store(ctx, op.outputs[0], r)

    def space_to_depth(ctx, op):
        s = ref._opts(op, schema.SpaceToDepthOptionsT).blockSize
        x = raw(ctx, op, 0)
        n, h, w, c = x.shape
        r = x.reshape(n, h // s, s, w // s, s, c).transpose(0, 1, 3, 2, 4, 5).reshape(
            n, h // s, w // s, s * s * c)
        raw_store(ctx, op.outputs[0], r)

    def reverse_v2(ctx, op):
        x = raw(ctx, op, 0)
        axes = sorted({_norm_axis(a, x.ndim, "axis") for a in ints(ctx.raw(op.inputs[1]), "axes")})
        if axes and axes != list(range(axes[0], axes[-1] + 1)):
            # LiteRT refuses these ("Non-contiguous `axes` not supported").
            raise ValueError("REVERSE_V2 axes %s are not contiguous" % axes)
        raw_store(ctx, op.outputs[0], np.flip(x, axis=tuple(axes)) if axes else x)

    def pad_value(ctx, op, x):
        qp = ctx.qp(op.outputs[0])
        return int(qp[1].reshape(-1)[0]) if qp is not None else 0

    def space_to_batch(ctx, op):
        x = raw(ctx, op, 0)
        blk = ints(ctx.raw(op.inputs[1]), "block_shape")
        pads = ints(ctx.raw(op.inputs[2]), "paddings")
        m = len(blk)
        pw = [(0, 0)] + [(pads[2 * i], pads[2 * i + 1]) for i in range(m)] + [(0, 0)] * (x.ndim - 1 - m)
        p = np.pad(x, pw, constant_values=pad_value(ctx, op, x))
        n = p.shape[0]
        spatial = [p.shape[1 + i] // blk[i] for i in range(m)]
        rest = list(p.shape[1 + m:])
        # [n, s0, b0, s1, b1, ..., rest] -> [b0, b1, ..., n, s0, s1, ..., rest]
        shp = [n]
        for s, b in zip(spatial, blk):
            shp += [s, b]
        r = p.reshape(shp + rest)
        perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + \
            list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
        r = r.transpose(perm).reshape([n * int(np.prod(blk))] + spatial + rest)
        raw_store(ctx, op.outputs[0], r)

    def batch_to_space(ctx, op):
        x = raw(ctx, op, 0)
        blk = ints(ctx.raw(op.inputs[1]), "block_shape")
        crops = ints(ctx.raw(op.inputs[2]), "crops")
        m = len(blk)
        prod = int(np.prod(blk))
        n = x.shape[0] // prod
        spatial = list(x.shape[1:1 + m])
        rest = list(x.shape[1 + m:])
        r = x.reshape(list(blk) + [n] + spatial + rest)
        # [b0, .., n, s0, .., rest] -> [n, s0, b0, s1, b1, .., rest]
        perm = [m]
        for i in range(m):
            perm += [m + 1 + i, i]
        perm += list(range(2 * m + 1, 2 * m + 1 + len(rest)))
        r = r.transpose(perm).reshape([n] + [s * b for s, b in zip(spatial, blk)] + rest)
        sl = [slice(None)] + [slice(crops[2 * i], r.shape[1 + i] - crops[2 * i + 1])
                              for i in range(m)]
        raw_store(ctx, op.outputs[0], r[tuple(sl)])

    def matrix_diag(ctx, op):
        d = raw(ctx, op, 0)
        n = d.shape[-1]
        r = np.zeros(d.shape + (n,), d.dtype)
        i = np.arange(n)
        r[..., i, i] = d
        raw_store(ctx, op.outputs[0], r)

    def matrix_set_diag(ctx, op):
        x = raw(ctx, op, 0).copy()
        d = raw(ctx, op, 1)
        k = min(x.shape[-2], x.shape[-1])
        i = np.arange(k)
        x[..., i, i] = d
        raw_store(ctx, op.outputs[0], x)

    def reverse_sequence(ctx, op):
        o = ref._opts(op, schema.ReverseSequenceOptionsT)
        x = raw(ctx, op, 0)
        lens = ints(ctx.raw(op.inputs[1]), "seq_lengths")
        sd = _norm_axis(o.seqDim, x.ndim, "seq_dim")
        bd = _norm_axis(o.batchDim, x.ndim, "batch_dim")
        r = x.copy()
        for b, n in enumerate(lens):
            if n < 0 or n > x.shape[sd]:
                raise ValueError("seq_length %d out of range for %d" % (n, x.shape[sd]))
            src = [slice(None)] * x.ndim
            src[bd] = b
            src[sd] = slice(0, n)
            r[tuple(src)] = np.flip(x[tuple(src)], axis=sd - (1 if bd < sd else 0))
        raw_store(ctx, op.outputs[0], r)

    def select(ctx, op):
        c = raw(ctx, op, 0).astype(np.bool_)
        x = raw(ctx, op, 1)
        y = raw(ctx, op, 2)
        if x.shape != y.shape:
            raise ValueError("SELECT x %s and y %s differ" % (list(x.shape), list(y.shape)))
        if c.shape != x.shape:
            if c.ndim == 1 and x.ndim >= 1 and c.shape[0] == x.shape[0]:
                c = c.reshape(c.shape + (1,) * (x.ndim - 1))
            elif c.ndim != 0:
                raise ValueError("SELECT condition %s does not fit x %s"
                                 % (list(c.shape), list(x.shape)))
        raw_store(ctx, op.outputs[0], np.where(c, x, y))

    # ---- gathers and scatters ---------------------------------------------

    def embedding_lookup(ctx, op):
        ids = np.asarray(ints(ctx.raw(op.inputs[0]), "ids"), np.int64)
        t = raw(ctx, op, 1)
        if np.any(ids < 0) or np.any(ids >= t.shape[0]):
            raise ValueError("EMBEDDING_LOOKUP id out of range for %d rows" % t.shape[0])
        r = t[ids]
        if dtype_of(ctx, op.outputs[0]).kind == "f" and t.dtype.kind in "iu":
            # Hybrid: LiteRT scales the stored integers (per row with
            # per-axis scales) and ignores the zero point.
            qp = ref._qparams(ctx.tensor(op.inputs[1]))
            scale = qp[0]
            s = scale[ids] if scale.size > 1 else scale.reshape(())
            r = r.astype(np.float64) * s.reshape((-1,) + (1,) * (r.ndim - 1)) if scale.size > 1 \
                else r.astype(np.float64) * s
        raw_store(ctx, op.outputs[0], r)

    def gather_nd(ctx, op):
        p = raw(ctx, op, 0)
        idx = raw(ctx, op, 1).astype(np.int64)
        k = idx.shape[-1]
        if k > p.ndim:
            raise ValueError("GATHER_ND index depth %d exceeds rank %d" % (k, p.ndim))
        flat = idx.reshape(-1, k)
        lim = np.asarray(p.shape[:k])
        if np.any(flat < 0) or np.any(flat >= lim):
            raise ValueError("GATHER_ND index out of range")
        rows = [p[tuple(i)] for i in flat]
        r = np.stack(rows) if rows else np.zeros((0,) + p.shape[k:], p.dtype)
        raw_store(ctx, op.outputs[0], r.reshape(idx.shape[:-1] + p.shape[k:]))

    def scatter_nd(ctx, op):
        idx = raw(ctx, op, 0).astype(np.int64)
        u = raw(ctx, op, 1)
        shape = ints(ctx.raw(op.inputs[2]), "SCATTER_ND shape")
        k = idx.shape[-1]
        out = np.zeros(shape, np.float64 if u.dtype.kind == "f" else np.int64)
        flat = idx.reshape(-1, k)
        ur = u.reshape((flat.shape[0],) + tuple(shape[k:]))
        for i, j in enumerate(flat):
            if np.any(j < 0) or np.any(j >= np.asarray(shape[:k])):
                raise ValueError("SCATTER_ND index %s out of range" % list(j))
            out[tuple(j)] += ur[i]
        raw_store(ctx, op.outputs[0], out)

    def one_hot(ctx, op):
        o = ref._opts(op, schema.OneHotOptionsT)
        idx = raw(ctx, op, 0).astype(np.int64)
        depth = scalar(ctx, op, 1, "ONE_HOT depth")
        on = raw(ctx, op, 2).reshape(-1)[0]
        off = raw(ctx, op, 3).reshape(-1)[0]
        a = idx.ndim if o.axis == -1 else _norm_axis(o.axis, idx.ndim + 1, "axis")
        hot = np.expand_dims(idx, a) == np.arange(depth).reshape(
            (1,) * a + (depth,) + (1,) * (idx.ndim - a))
        raw_store(ctx, op.outputs[0], np.where(hot, on, off))

    def topk(ctx, op):
        x = raw(ctx, op, 0)
        k = scalar(ctx, op, 1, "TOPK_V2 k")
        if k < 0 or k > x.shape[-1]:
            raise ValueError("TOPK_V2 k %d out of range for %d" % (k, x.shape[-1]))
        # Stable sort of the negated values: ties keep the lower index first.
        order = np.argsort(-x.astype(np.float64), axis=-1, kind="stable")[..., :k]
        raw_store(ctx, op.outputs[0], np.take_along_axis(x, order, axis=-1))
        raw_store(ctx, op.outputs[1], order)

    # ---- segments --------------------------------------------------------

    def segment_sum(ctx, op):
        x = raw(ctx, op, 0)
        ids = ints(ctx.raw(op.inputs[1]), "segment_ids")
        # LiteRT: the ids start at 0 and step by 0 or 1.
        if any(b - a not in (0, 1) for a, b in zip(ids, ids[1:])) or (ids and ids[0] != 0):
            raise ValueError("SEGMENT_SUM ids %s must start at 0 and step by 0 or 1" % ids)
        n = ids[-1] + 1 if ids else 0
        out = np.zeros((n,) + x.shape[1:], np.float64 if x.dtype.kind == "f" else np.int64)
        for i, s in enumerate(ids):
            out[s] += x[i]
        raw_store(ctx, op.outputs[0], out)

    def unsorted(kind):
        def run(ctx, op):
            x = raw(ctx, op, 0)
            ids = raw(ctx, op, 1).astype(np.int64)
            num = scalar(ctx, op, 2, "num_segments")
            if x.shape[:ids.ndim] != ids.shape:
                raise ValueError("segment_ids %s not a prefix of data %s"
                                 % (list(ids.shape), list(x.shape)))
            dt = dtype_of(ctx, op.outputs[0])
            info = np.finfo(dt) if dt.kind == "f" else np.iinfo(dt)
            init = {"sum": 0, "prod": 1, "max": info.min, "min": info.max}[kind]
            inner = x.shape[ids.ndim:]
            out = np.full((num,) + inner, init, np.float64 if dt.kind == "f" else np.int64)
            xr = x.reshape((-1,) + inner)
            for i, s in enumerate(ids.reshape(-1)):
                if s < 0:
                    continue
                if s >= num:
                    raise ValueError("segment id %d out of range for %d" % (s, num))
                if kind == "sum":
                    out[s] = out[s] + xr[i]
                elif kind == "prod":
                    out[s] = out[s] * xr[i]
                elif kind == "max":
                    out[s] = np.maximum(out[s], xr[i])
                else:
                    out[s] = np.minimum(out[s], xr[i])
            raw_store(ctx, op.outputs[0], out)
        return run

    # ---- updates and sparse ----------------------------------------------

    def dynamic_update_slice(ctx, op):
        x = raw(ctx, op, 0).copy()
        u = raw(ctx, op, 1)
        start = ints(ctx.raw(op.inputs[2]), "start_indices")
        # LiteRT clamps the start so that the update fits.
        start = [min(max(s, 0), d - ud) for s, d, ud in zip(start, x.shape, u.shape)]
        x[tuple(slice(s, s + n) for s, n in zip(start, u.shape))] = u
        raw_store(ctx, op.outputs[0], x)

    def sparse_to_dense(ctx, op):
        idx = raw(ctx, op, 0).astype(np.int64)
        shape = ints(ctx.raw(op.inputs[1]), "output_shape")
        vals = raw(ctx, op, 2)
        default = raw(ctx, op, 3).reshape(-1)[0]
        out = np.full(shape, default, vals.dtype)
        coords = idx.reshape(-1, 1) if idx.ndim < 2 else idx
        for j, c in enumerate(coords):
            if len(c) != len(shape) or np.any(c < 0) or np.any(c >= np.asarray(shape)):
                raise ValueError("SPARSE_TO_DENSE index %s out of range for %s" % (list(c), shape))
            out[tuple(c)] = vals.reshape(-1)[0] if vals.ndim == 0 else vals.reshape(-1)[j]
        raw_store(ctx, op.outputs[0], out)

    # ---- value-dependent shapes ------------------------------------------

    def where(ctx, op):
        c = raw(ctx, op, 0)
        raw_store(ctx, op.outputs[0], np.argwhere(c != 0).astype(np.int64).reshape(-1, c.ndim))

    def unique(ctx, op):
        x = raw(ctx, op, 0)
        if x.ndim != 1:
            raise ValueError("UNIQUE input must be 1-D")
        values, idx, seen = [], [], {}
        for v in x.tolist():
            if v not in seen:
                seen[v] = len(values)
                values.append(v)
            idx.append(seen[v])
        raw_store(ctx, op.outputs[0], np.asarray(values, x.dtype).reshape(-1))
        raw_store(ctx, op.outputs[1], np.asarray(idx))

    # ---- spatial ---------------------------------------------------------

    def l2_pool(ctx, op):
        o = ref._opts(op, schema.Pool2DOptionsT)
        x = ctx.val(op.inputs[0]).astype(np.float64)
        kh, kw = o.filterHeight, o.filterWidth
        p = ref._windows(x * x, kh, kw, o.strideH, o.strideW, 1, 1, o.padding, pad_value=0.0)
        ones = np.ones((1,) + x.shape[1:3] + (1,), np.float64)
        cnt = ref._windows(ones, kh, kw, o.strideH, o.strideW, 1, 1, o.padding,
                           pad_value=0.0).sum(axis=(3, 4))
        r = np.sqrt(p.sum(axis=(3, 4)) / cnt)
        ctx.store(op.outputs[0], ref._fused(r, o.fusedActivationFunction))

    def conv3d(ctx, op):
        o = ref._opts(op, schema.Conv3DOptionsT)
        x = ctx.val(op.inputs[0]).astype(np.float64)
        w = ctx.val(op.inputs[1]).astype(np.float64)
        b = ctx.bias(op.inputs[2]) if len(op.inputs) > 2 else None
        n, d, h, wd, c = x.shape
        kd, kh, kw, ic, oc = w.shape
        if ic != c:
            raise ValueError("CONV_3D input channels %d vs filter %s" % (c, list(w.shape)))
        st = (o.strideD, o.strideH, o.strideW)
        dl = (o.dilationDFactor or 1, o.dilationHFactor or 1, o.dilationWFactor or 1)
        outs, pads = [], []
        for size, k, s, dd in zip((d, h, wd), (kd, kh, kw), st, dl):
            out, before, after = ref._out_and_pad(size, k, s, dd, o.padding)
            outs.append(out)
            pads.append((before, after))
        xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
        od, oh, ow = outs
        r = np.zeros((n, od, oh, ow, oc), np.float64)
        for a in range(kd):
            for i in range(kh):
                for j in range(kw):
                    patch = xp[:, a * dl[0]: a * dl[0] + (od - 1) * st[0] + 1: st[0],
                               i * dl[1]: i * dl[1] + (oh - 1) * st[1] + 1: st[1],
                               j * dl[2]: j * dl[2] + (ow - 1) * st[2] + 1: st[2], :]
                    r += patch @ w[a, i, j]
        if b is not None:
            r = r + b.reshape(-1)
        ctx.store(op.outputs[0], ref._fused(r, o.fusedActivationFunction))

    def conv3d_transpose(ctx, op):
        o = ref._opts(op, schema.Conv3DOptionsT)
        shape = ints(ctx.raw(op.inputs[0]), "CONV_3D_TRANSPOSE output_shape")
        w = ctx.val(op.inputs[1]).astype(np.float64)
        x = ctx.val(op.inputs[2]).astype(np.float64)
        b = ctx.bias(op.inputs[3]) if len(op.inputs) > 3 else None
        if len(shape) != 5:
            raise ValueError("CONV_3D_TRANSPOSE output_shape %s" % shape)
        n, d, h, wd, c = x.shape
        kd, kh, kw, oc, ic = w.shape
        if ic != c or shape[0] != n or shape[4] != oc:
            raise ValueError("CONV_3D_TRANSPOSE shapes %s %s %s" % (shape, list(w.shape), list(x.shape)))
        st = (o.strideD, o.strideH, o.strideW)
        dl = (o.dilationDFactor or 1, o.dilationHFactor or 1, o.dilationWFactor or 1)
        pads = []
        for size, k, s, dd, isz in zip(shape[1:4], (kd, kh, kw), st, dl, (d, h, wd)):
            out, before, _ = ref._out_and_pad(size, k, s, dd, o.padding)
            if out != isz:
                raise ValueError("CONV_3D_TRANSPOSE output_shape %s does not convolve to input %s"
                                 % (shape, list(x.shape)))
            pads.append(before)
        # Scatter into a buffer large enough for every tap, then crop.
        big = [(isz - 1) * s + (k - 1) * dd + 1 for isz, k, s, dd in zip((d, h, wd), (kd, kh, kw), st, dl)]
        ext = [max(bg, p + sz) for bg, p, sz in zip(big, pads, shape[1:4])]
        r = np.zeros((n, ext[0], ext[1], ext[2], oc), np.float64)
        for a in range(kd):
            for i in range(kh):
                for j in range(kw):
                    contrib = x @ w[a, i, j].T  # [n, d, h, wd, oc]
                    r[:, a * dl[0]: a * dl[0] + (d - 1) * st[0] + 1: st[0],
                      i * dl[1]: i * dl[1] + (h - 1) * st[1] + 1: st[1],
                      j * dl[2]: j * dl[2] + (wd - 1) * st[2] + 1: st[2], :] += contrib
        r = r[:, pads[0]: pads[0] + shape[1], pads[1]: pads[1] + shape[2], pads[2]: pads[2] + shape[3], :]
        if b is not None:
            r = r + b.reshape(-1)
        ctx.store(op.outputs[0], ref._fused(r, o.fusedActivationFunction))

    def dilate(ctx, op):
        x = raw(ctx, op, 0)
        d = ints(ctx.raw(op.inputs[1]), "DILATE dilations")
        p = raw(ctx, op, 2).reshape(-1)
        if len(d) != x.ndim or x.ndim == 0 or any(f < 1 for f in d) or p.size != 1 or 0 in x.shape:
            raise ValueError("DILATE dilations %s for shape %s" % (d, list(x.shape)))
        shape = [(n - 1) * f + 1 for n, f in zip(x.shape, d)]
        out = np.full(shape, p[0], dtype=x.dtype)
        out[tuple(slice(None, None, f) for f in d)] = x
        raw_store(ctx, op.outputs[0], out)

    def reduce_window(ctx, op):
        # REDUCE_WINDOW's options live in the second options union.
        o = getattr(op, "builtinOptions2", None) or schema.ReduceWindowOptionsT()
        x = raw(ctx, op, 0)
        init = raw(ctx, op, 1).reshape(-1)
        window = ints(ctx.raw(op.inputs[2]), "REDUCE_WINDOW window_shape")
        strides = ints(ctx.raw(op.inputs[3]), "REDUCE_WINDOW window_strides")
        dil = ints(ctx.raw(op.inputs[4]), "REDUCE_WINDOW window_dilations")
        if init.size != 1 or not (len(window) == len(strides) == len(dil) == x.ndim) \
                or min(window + strides + dil) < 1:
            raise ValueError("REDUCE_WINDOW window %s strides %s dilations %s for shape %s"
                             % (window, strides, dil, list(x.shape)))
        RF = schema.ReduceWindowFunction
        fold = {
            RF.ADD: lambda a, b: a + b,
            RF.MUL: lambda a, b: a * b,
            RF.MINIMUM: lambda a, b: np.where(a <= b, a, b),
            RF.MAXIMUM: lambda a, b: np.where(a >= b, a, b),
        }.get(o.reduceFunction)
        if fold is None:
            raise NotImplementedError("REDUCE_WINDOW function %d" % o.reduceFunction)
        ext = [(w - 1) * d + 1 for w, d in zip(window, dil)]
        shape = [0 if n < e else (n - e) // s + 1 for n, e, s in zip(x.shape, ext, strides)]
        # Fold the init value with the window's taps in row-major order, in
        # the input's dtype (float32 accumulation as in LiteRT).
        acc = np.full(shape, init[0], dtype=x.dtype)
        if 0 not in shape:
            for k in np.ndindex(*window):
                sl = tuple(slice(kk * d, kk * d + (n - 1) * s + 1, s)
                           for kk, d, n, s in zip(k, dil, shape, strides))
                acc = fold(acc, x[sl]).astype(x.dtype)
        raw_store(ctx, op.outputs[0], acc)

    ops.update({
        B.EXPAND_DIMS: expand_dims,
        B.TILE: tile,
        B.PACK: pack,
        B.UNPACK: unpack,
        B.SPLIT: split,
        B.DEPTH_TO_SPACE: depth_to_space,
        B.SPACE_TO_DEPTH: space_to_depth,
        B.REVERSE_V2: reverse_v2,
        B.SPACE_TO_BATCH_ND: space_to_batch,
        B.BATCH_TO_SPACE_ND: batch_to_space,
        B.MATRIX_DIAG: matrix_diag,
        B.MATRIX_SET_DIAG: matrix_set_diag,
        B.REVERSE_SEQUENCE: reverse_sequence,
        B.SELECT: select,
        B.EMBEDDING_LOOKUP: embedding_lookup,
        B.GATHER_ND: gather_nd,
        B.SCATTER_ND: scatter_nd,
        B.ONE_HOT: one_hot,
        B.TOPK_V2: topk,
        B.SEGMENT_SUM: segment_sum,
        B.UNSORTED_SEGMENT_SUM: unsorted("sum"),
        B.UNSORTED_SEGMENT_PROD: unsorted("prod"),
        B.UNSORTED_SEGMENT_MAX: unsorted("max"),
        B.UNSORTED_SEGMENT_MIN: unsorted("min"),
        B.DYNAMIC_UPDATE_SLICE: dynamic_update_slice,
        B.SPARSE_TO_DENSE: sparse_to_dense,
        B.WHERE: where,
        B.UNIQUE: unique,
        B.L2_POOL_2D: l2_pool,
        B.CONV_3D: conv3d,
        B.CONV_3D_TRANSPOSE: conv3d_transpose,
        B.DILATE: dilate,
        B.REDUCE_WINDOW: reduce_window,
    })
