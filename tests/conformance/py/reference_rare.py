"""NumPy references of the rarely used builtins (see reference.py).

BITCAST reinterprets bytes; RFFT2D computes ``np.fft.rfft2`` with the FFT
length cropping or zero-padding the two innermost axes (as the kernel's
input buffer does), and REAL, IMAG and COMPLEX_ABS take it apart.
EMBEDDING_LOOKUP_SPARSE folds weighted rows bucket by bucket in the order of
the ids, as LiteRT's kernel does.  HASHTABLE_LOOKUP copies the rows of the
keys found (zeros and a 0 hit for the others).  LSH_PROJECTION hashes the
bytes of (seed, input row) with farmhash's ``Fingerprint64``
(``farmhashna::Hash64``), written out below from the published algorithm,
and takes the sign of the (weighted) sum of the hashes as each bit.
Sparse constants are densified when read, as FormatConverter::SparseToDense
does (``densify``), so DENSIFY copies.  SKIP_GRAM splits its one string at C ``isspace`` bytes and enumerates the
skip-grams in the kernel's order (strings are object arrays of ``bytes``).
"""

import numpy as np

_M = (1 << 64) - 1
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F


def _f64(s, i):
    return int.from_bytes(s[i:i + 8], "little")


def _f32(s, i):
    return int.from_bytes(s[i:i + 4], "little")


def _rot(v, r):
    return v if r == 0 else ((v >> r) | (v << (64 - r))) & _M


def _shift_mix(v):
    return v ^ (v >> 47)


def _len16(u, v, mul):
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def _len0to16(s):
    n = len(s)
    if n >= 8:
        mul = (_K2 + n * 2) & _M
        a = (_f64(s, 0) + _K2) & _M
        b = _f64(s, n - 8)
        c = (_rot(b, 37) * mul + a) & _M
        d = ((_rot(a, 25) + b) * mul) & _M
        return _len16(c, d, mul)
    if n >= 4:
        mul = (_K2 + n * 2) & _M
        a = _f32(s, 0)
        return _len16((n + (a << 3)) & _M, _f32(s, n - 4), mul)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _M) * _K2) & _M
    return _K2


def _len17to32(s):
    n = len(s)
    mul = (_K2 + n * 2) & _M
    a = (_f64(s, 0) * _K1) & _M
    b = _f64(s, 8)
    c = (_f64(s, n - 8) * mul) & _M
    d = (_f64(s, n - 16) * _K2) & _M
    return _len16((_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M,
                  (a + _rot((b + _K2) & _M, 18) + c) & _M, mul)


def _len33to64(s):
    n = len(s)
    mul = (_K2 + n * 2) & _M
    a = (_f64(s, 0) * _K2) & _M
    b = _f64(s, 8)
    c = (_f64(s, n - 8) * mul) & _M
    d = (_f64(s, n - 16) * _K2) & _M
    y = (_rot((a + b) & _M, 43) + _rot(c, 30) + d) & _M
    z = _len16(y, (a + _rot((b + _K2) & _M, 18) + c) & _M, mul)
    e = (_f64(s, 16) * mul) & _M
    f = _f64(s, 24)
    g = ((y + _f64(s, n - 32)) * mul) & _M
    h = ((z + _f64(s, n - 24)) * mul) & _M
    return _len16((_rot((e + f) & _M, 43) + _rot(g, 30) + h) & _M,
                  (e + _rot((f + a) & _M, 18) + g) & _M, mul)


def _weak32(s, i, a, b):
    w, x, y, z = _f64(s, i), _f64(s, i + 8), _f64(s, i + 16), _f64(s, i + 24)
    a = (a + w) & _M
    b = _rot((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _rot(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def fingerprint64(s):
    """farmhash ``Fingerprint64`` of the bytes ``s`` (an unsigned int)."""
    s = bytes(s)
    n = len(s)
    if n <= 16:
        return _len0to16(s)
    if n <= 32:
        return _len17to32(s)
    if n <= 64:
        return _len33to64(s)
    seed = 81
    x = seed
    y = (seed * _K1 + 113) & _M
    z = (_shift_mix((y * _K2 + 113) & _M) * _K2) & _M
    v = (0, 0)
    w = (0, 0)
    x = (x * _K2 + _f64(s, 0)) & _M
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    p = 0
    while True:
        x = (_rot((x + y + v[0] + _f64(s, p + 8)) & _M, 37) * _K1) & _M
        y = (_rot((y + v[1] + _f64(s, p + 48)) & _M, 42) * _K1) & _M
        x ^= w[1]
        y = (y + v[0] + _f64(s, p + 40)) & _M
        z = (_rot((z + w[0]) & _M, 33) * _K1) & _M
        v = _weak32(s, p, (v[1] * _K1) & _M, (x + w[0]) & _M)
        w = _weak32(s, p + 32, (z + w[1]) & _M, (y + _f64(s, p + 16)) & _M)
        z, x = x, z
        p += 64
        if p == end:
            break
    mul = (_K1 + ((z & 0xFF) << 1)) & _M
    p = last64
    w = ((w[0] + ((n - 1) & 63)) & _M, w[1])
    v = ((v[0] + w[0]) & _M, v[1])
    w = ((w[0] + v[0]) & _M, w[1])
    x = (_rot((x + y + v[0] + _f64(s, p + 8)) & _M, 37) * mul) & _M
    y = (_rot((y + v[1] + _f64(s, p + 48)) & _M, 42) * mul) & _M
    x ^= (w[1] * 9) & _M
    y = (y + v[0] * 9 + _f64(s, p + 40)) & _M
    z = (_rot((z + w[0]) & _M, 33) * mul) & _M
    v = _weak32(s, p, (v[1] * mul) & _M, (x + w[0]) & _M)
    w = _weak32(s, p + 32, (z + w[1]) & _M, (y + _f64(s, p + 16)) & _M)
    z, x = x, z
    return _len16((_len16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _M,
                  (_len16(v[1], w[1], mul) + x) & _M, mul)


def densify(sparsity, values, shape, schema):
    """The dense array of ``shape`` that ``sparsity`` (SparsityParametersT)
    and the stored ``values`` (traversal order) describe, as LiteRT's
    FormatConverter::SparseToDense fills it."""
    order = [int(d) for d in (sparsity.traversalOrder if sparsity.traversalOrder is not None else [])]
    bmap = [int(d) for d in (sparsity.blockMap if sparsity.blockMap is not None else [])]
    meta = list(sparsity.dimMetadata or [])
    rank = len(shape)
    if len(order) != rank + len(bmap) or len(meta) != len(order):
        raise ValueError("sparsity: traversal order %s, block map %s, %d dimension records for rank %d"
                         % (order, bmap, len(meta), rank))
    bsize = [int(meta[rank + b].denseSize) for b in range(len(bmap))]

    def vec(v):
        return [] if v is None or v.values is None else [int(x) for x in v.values]

    out = np.zeros(int(np.prod(shape, dtype=np.int64)), values.dtype)
    flat_vals = values.reshape(-1)
    pos = [0]
    idx = [0] * len(order)

    def visit(level, prev):
        if level == len(order):
            orig = [0] * rank
            for i, d in enumerate(order):
                if d < rank:
                    orig[d] = idx[i]
            for i, d in enumerate(order):
                if d >= rank:
                    b = d - rank
                    orig[bmap[b]] = orig[bmap[b]] * bsize[b] + idx[i]
            out[np.ravel_multi_index(tuple(orig), tuple(shape))] = flat_vals[pos[0]]
            pos[0] += 1
            return
        m = meta[level]
        if m.format == schema.DimensionType.DENSE:
            size = int(m.denseSize)
            for i in range(size):
                idx[level] = i
                visit(level + 1, prev * size + i)
        else:
            seg, ind = vec(m.arraySegments), vec(m.arrayIndices)
            for i in range(seg[prev], seg[prev + 1]):
                idx[level] = ind[i]
                visit(level + 1, i)

    visit(0, 0)
    if pos[0] != flat_vals.size:
        raise ValueError("sparsity: %d stored values, the indices use %d" % (flat_vals.size, pos[0]))
    return out.reshape(shape)


def register(ops, ref):
    """Adds this module's kernels to reference.py's op table."""
    B = ref._BOP
    schema = ref.schema
    ints = ref._int_vector

    def dtype_of(ctx, ti):
        return np.dtype(ref._NP_DTYPES[ctx.tensor(ti).type])

    def raw(ctx, op, i):
        return np.asarray(ctx.raw(op.inputs[i]))

    def bitcast(ctx, op):
        x = np.ascontiguousarray(raw(ctx, op, 0))
        dt = dtype_of(ctx, op.outputs[0])
        shape = list(x.shape)
        if x.itemsize > dt.itemsize:
            shape.append(x.itemsize // dt.itemsize)
        elif x.itemsize < dt.itemsize:
            if not shape or shape[-1] != dt.itemsize // x.itemsize:
                raise ValueError("BITCAST last dimension %s does not hold one %s" % (shape, dt.name))
            shape.pop()
        ctx.values[op.outputs[0]] = x.view(dt).reshape(shape)

    def rfft2d(ctx, op):
        x = raw(ctx, op, 0).astype(np.float64)
        h, w = ints(ctx.raw(op.inputs[1]), "RFFT2D fft_length")
        y = np.fft.rfft2(x, s=(h, w), axes=(-2, -1))
        ctx.values[op.outputs[0]] = y.astype(np.complex64)

    def complex_part(fn):
        def run(ctx, op):
            x = raw(ctx, op, 0).astype(np.complex128)
            ctx.values[op.outputs[0]] = fn(x).astype(dtype_of(ctx, op.outputs[0]))
        return run

    def embedding_lookup_sparse(ctx, op):
        o = ref._opts(op, schema.EmbeddingLookupSparseOptionsT)
        ids = ints(ctx.raw(op.inputs[0]), "ids")
        idx = np.asarray(raw(ctx, op, 1), np.int64)
        dense = ints(ctx.raw(op.inputs[2]), "dense_shape")
        wts = raw(ctx, op, 3).astype(np.float64)
        params = raw(ctx, op, 4).astype(np.float64)
        rank = idx.shape[1]
        lead = dense[:rank - 1]
        emb = params.reshape(params.shape[0], -1)
        out = np.zeros((int(np.prod(lead, dtype=np.int64)), emb.shape[1]))
        count = np.zeros(out.shape[0], np.int64)
        total = np.zeros(out.shape[0])
        squares = np.zeros(out.shape[0])
        for i, row in enumerate(ids):
            if row < 0 or row >= emb.shape[0]:
                raise ValueError("EMBEDDING_LOOKUP_SPARSE id %d out of range" % row)
            b = int(np.ravel_multi_index(tuple(idx[i, :rank - 1]), lead)) if rank > 1 else 0
            out[b] += emb[row] * wts[i]
            count[b] += 1
            total[b] += wts[i]
            squares[b] += wts[i] * wts[i]
        for b in range(out.shape[0]):
            if count[b] == 0:
                continue
            if o.combiner == schema.CombinerType.MEAN:
                out[b] /= total[b]
            elif o.combiner == schema.CombinerType.SQRTN:
                out[b] /= np.sqrt(squares[b])
        shape = list(lead) + list(params.shape[1:])
        ctx.values[op.outputs[0]] = out.reshape(shape).astype(np.float32)

    def hashtable_lookup(ctx, op):
        look = np.asarray(ints(ctx.raw(op.inputs[0]), "lookup"), np.int64)
        keys = np.asarray(ints(ctx.raw(op.inputs[1]), "keys"), np.int64)
        vals = raw(ctx, op, 2)
        pos = np.searchsorted(keys, look)
        hit = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == look)
        out = np.zeros((len(look),) + vals.shape[1:], vals.dtype)
        out[hit] = vals[pos[hit]]
        ctx.values[op.outputs[0]] = out
        ctx.values[op.outputs[1]] = hit.astype(np.uint8)

    def lsh_projection(ctx, op):
        o = ref._opts(op, schema.LSHProjectionOptionsT)
        seeds = raw(ctx, op, 0).astype(np.float32)
        x = np.ascontiguousarray(raw(ctx, op, 1))
        weight = raw(ctx, op, 2).astype(np.float64) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        rows = [x[i].tobytes() for i in range(x.shape[0])]

        def bit(seed):
            score = 0.0
            key = np.float32(seed).tobytes()
            for i, r in enumerate(rows):
                h = fingerprint64(key + r)
                h = float(h - (1 << 64) if h >= 1 << 63 else h)
                score += h if weight is None else float(weight[i]) * h
            return 1 if score > 0 else 0

        n_hash, n_bits = seeds.shape
        if o.type == schema.LSHProjectionType.SPARSE:
            out = []
            for i in range(n_hash):
                sig = 0
                for j in range(n_bits):
                    sig = (sig << 1) | bit(seeds[i, j])
                out.append(sig + i * (1 << n_bits))
        elif o.type == schema.LSHProjectionType.DENSE:
            out = [bit(seeds[i, j]) for i in range(n_hash) for j in range(n_bits)]
        else:
            raise ValueError("LSH_PROJECTION type %d" % o.type)
        ctx.values[op.outputs[0]] = np.asarray(out, np.int64).astype(np.int32)

    def skip_gram(ctx, op):
        o = ref._opts(op, schema.SkipGramOptionsT)
        x = np.asarray(ctx.raw(op.inputs[0])).reshape(-1)
        if x.size < 1:
            raise ValueError("SKIP_GRAM input holds no string")
        text = bytes(x[0])
        space = b" \t\n\v\f\r"
        # Word splitting as the kernel does it (its scan starts at byte 1).
        words, prev = [], 0
        for i in range(1, len(text)):
            if text[i] in space:
                if i > prev and text[prev] not in space:
                    words.append(text[prev:i])
                prev = i + 1
        if len(text) > prev:
            words.append(text[prev:])
        n, skip, every = int(o.ngramSize), int(o.maxSkipSize), bool(o.includeAllNgrams)
        grams = []
        if len(words) >= n:
            # The kernel's iterative depth-first enumeration, step by step.
            stack = [0] * n
            depth = 1
            while depth >= 0:
                step = depth < n and stack[depth] + 1 < len(words) and (
                    depth == 0 or stack[depth] - stack[depth - 1] <= skip)
                if step:
                    stack[depth] += 1
                    depth += 1
                    if depth < n:
                        stack[depth] = stack[depth - 1]
                else:
                    if depth > 0 and (depth <= n if every else depth == n):
                        grams.append(b" ".join(words[stack[i]] for i in range(depth)))
                    depth -= 1
        out = np.empty(len(grams), dtype=object)
        out[:] = grams
        ctx.values[op.outputs[0]] = out

    def densify_op(ctx, op):
        # Constants are densified when read (reference.Model.constant).
        ctx.values[op.outputs[0]] = np.array(raw(ctx, op, 0), copy=True)

    ops.update({
        B.DENSIFY: densify_op,
        B.SKIP_GRAM: skip_gram,
        B.BITCAST: bitcast,
        B.RFFT2D: rfft2d,
        B.REAL: complex_part(np.real),
        B.IMAG: complex_part(np.imag),
        B.COMPLEX_ABS: complex_part(np.abs),
        B.EMBEDDING_LOOKUP_SPARSE: embedding_lookup_sparse,
        B.HASHTABLE_LOOKUP: hashtable_lookup,
        B.LSH_PROJECTION: lsh_projection,
    })
