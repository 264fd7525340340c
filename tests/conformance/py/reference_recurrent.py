"""NumPy references of the recurrent ops (see reference.py): LSTM,
UNIDIRECTIONAL_SEQUENCE_LSTM, BIDIRECTIONAL_SEQUENCE_LSTM, RNN,
UNIDIRECTIONAL_SEQUENCE_RNN, BIDIRECTIONAL_SEQUENCE_RNN and SVDF, float32, as
LiteRT's lstm_eval.cc, basic_rnn.cc and reference/svdf.h compute them."""

import numpy as np


def _act(ref, code):
    a = ref._ACT
    return {
        a.NONE: lambda x: x,
        a.RELU: lambda x: np.maximum(x, 0),
        a.RELU_N1_TO_1: lambda x: np.clip(x, -1, 1),
        a.RELU6: lambda x: np.clip(x, 0, 6),
        a.TANH: np.tanh,
    }[code]


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def register(ops, ref):
    def _idx(op, i):
        return op.inputs[i] if i < len(op.inputs) else -1

    def opt(ctx, op, i):
        ti = op.inputs[i] if i < len(op.inputs) else -1
        return None if ti < 0 else ctx.val(ti)

    def lstm_dir(ctx, op, base, x, h, c, act, o, reverse=False):
        """One LSTM direction over x [batch, time, n_in]; weights from input
        `base` on, in UNIDIRECTIONAL_SEQUENCE_LSTM's layout."""
        w = [opt(ctx, op, base + i) for i in range(0, 4)]
        r = [opt(ctx, op, base + i) for i in range(4, 8)]
        p_i, p_f, p_o = (opt(ctx, op, base + i) for i in (8, 9, 10))
        # int32 biases of the full-integer kernels dequantize with their
        # own scales.
        b = [ctx.bias(_idx(op, base + i)) for i in range(11, 15)]
        pw, pb = opt(ctx, op, base + 15), ctx.bias(_idx(op, base + 16))
        n_cell = w[1].shape[0]
        b = [np.zeros(n_cell) if v is None else v for v in b]
        steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
        outs = [None] * x.shape[1]
        for t in steps:
            xt = x[:, t, :]
            f = _sig(xt @ w[1].T + h @ r[1].T + b[1] + (0 if p_f is None else p_f * c))
            if w[0] is None:
                i = 1.0 - f
            else:
                i = _sig(xt @ w[0].T + h @ r[0].T + b[0] + (0 if p_i is None else p_i * c))
            g = act(xt @ w[2].T + h @ r[2].T + b[2])
            c = f * c + i * g
            if o.cellClip > 0:
                c = np.clip(c, -o.cellClip, o.cellClip)
            og = _sig(xt @ w[3].T + h @ r[3].T + b[3] + (0 if p_o is None else p_o * c))
            m = og * act(c)
            if pw is not None:
                m = m @ pw.T + (0 if pb is None else pb)
                if o.projClip > 0:
                    m = np.clip(m, -o.projClip, o.projClip)
            h = m
            outs[t] = h
        return np.stack(outs, axis=1)

    def lstm(ctx, op):
        o = ref._opts(op, ref.schema.UnidirectionalSequenceLSTMOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x = ctx.val(op.inputs[0])
        if o.timeMajor:
            x = np.transpose(x, (1, 0, 2))
        y = lstm_dir(ctx, op, 1, x, ctx.val(op.inputs[18]), ctx.val(op.inputs[19]), act, o)
        if o.timeMajor:
            y = np.transpose(y, (1, 0, 2))
        ctx.store(op.outputs[0], y)

    def lstm_step(ctx, op):
        o = ref._opts(op, ref.schema.LSTMOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x = ctx.val(op.inputs[0])[:, None, :]
        y = lstm_dir(ctx, op, 1, x, ctx.val(op.inputs[18]), ctx.val(op.inputs[19]), act, o)
        ctx.store(op.outputs[0], y[:, 0, :])

    def bidi_lstm(ctx, op):
        o = ref._opts(op, ref.schema.BidirectionalSequenceLSTMOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x = ctx.val(op.inputs[0])
        if o.timeMajor:
            x = np.transpose(x, (1, 0, 2))
        fw = lstm_dir(ctx, op, 1, x, ctx.val(op.inputs[35]), ctx.val(op.inputs[36]), act, o)
        bw = lstm_dir(ctx, op, 18, x, ctx.val(op.inputs[37]), ctx.val(op.inputs[38]), act, o, reverse=True)
        ys = [np.concatenate([fw, bw], axis=-1)] if o.mergeOutputs else [fw, bw]
        for k, y in enumerate(ys):
            if o.timeMajor:
                y = np.transpose(y, (1, 0, 2))
            ctx.store(op.outputs[k], y)

    def rnn_dir(ctx, op, base, x, act, reverse=False):
        w, r, b = (ctx.val(op.inputs[base + i]) for i in (0, 1, 2))
        h = ctx.val(op.inputs[base + 3])
        steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
        outs = [None] * x.shape[1]
        for t in steps:
            h = act(x[:, t, :] @ w.T + h @ r.T + b)
            outs[t] = h
        return np.stack(outs, axis=1)

    def seq_rnn(ctx, op):
        o = ref._opts(op, ref.schema.SequenceRNNOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x = ctx.val(op.inputs[0])
        if o.timeMajor:
            x = np.transpose(x, (1, 0, 2))
        y = rnn_dir(ctx, op, 1, x, act)
        if o.timeMajor:
            y = np.transpose(y, (1, 0, 2))
        ctx.store(op.outputs[0], y)

    def bidi_rnn(ctx, op):
        o = ref._opts(op, ref.schema.BidirectionalSequenceRNNOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x = ctx.val(op.inputs[0])
        if o.timeMajor:
            x = np.transpose(x, (1, 0, 2))
        fw = rnn_dir(ctx, op, 1, x, act)
        bw = rnn_dir(ctx, op, 5, x, act, reverse=True)
        ys = [np.concatenate([fw, bw], axis=-1)] if o.mergeOutputs else [fw, bw]
        for k, y in enumerate(ys):
            if o.timeMajor:
                y = np.transpose(y, (1, 0, 2))
            ctx.store(op.outputs[k], y)

    def rnn(ctx, op):
        o = ref._opts(op, ref.schema.RNNOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x, w, r, b, h = (ctx.val(op.inputs[i]) for i in range(5))
        ctx.store(op.outputs[0], act(x @ w.T + h @ r.T + b))

    def svdf(ctx, op):
        o = ref._opts(op, ref.schema.SVDFOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x, wf, wt = (ctx.val(op.inputs[i]) for i in range(3))
        b = ctx.bias(_idx(op, 3))
        state = ctx.val(op.inputs[4])
        batch = x.shape[0]
        n_filter, n_mem = wt.shape
        rank = o.rank
        if rank <= 0 or n_filter % rank:
            raise ValueError("SVDF rank %d for %d filters" % (rank, n_filter))
        units = n_filter // rank
        mem = np.asarray(state, np.float64).reshape(batch, n_filter, n_mem)
        # Each filter's memory shifts left by one; the newest entry is the
        # feature projection of the input.
        mem = np.concatenate([mem[:, :, 1:], (x @ wf.T)[:, :, None]], axis=2)
        filt = np.einsum("bfm,fm->bf", mem, wt)
        y = filt.reshape(batch, units, rank).sum(axis=2)
        if b is not None:
            y = y + b
        ctx.store(op.outputs[0], act(y))

    ops[ref._BOP.SVDF] = svdf
    ops[ref._BOP.UNIDIRECTIONAL_SEQUENCE_LSTM] = lstm
    ops[ref._BOP.UNIDIRECTIONAL_SEQUENCE_RNN] = seq_rnn
    ops[ref._BOP.RNN] = rnn
    ops[ref._BOP.LSTM] = lstm_step
    ops[ref._BOP.BIDIRECTIONAL_SEQUENCE_LSTM] = bidi_lstm
    ops[ref._BOP.BIDIRECTIONAL_SEQUENCE_RNN] = bidi_rnn
