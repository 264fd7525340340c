"""NumPy references of the recurrent ops (see reference.py):
UNIDIRECTIONAL_SEQUENCE_LSTM, UNIDIRECTIONAL_SEQUENCE_RNN and RNN, float32,
as LiteRT's lstm_eval.cc and basic_rnn.cc compute them."""

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
    def opt(ctx, op, i):
        ti = op.inputs[i] if i < len(op.inputs) else -1
        return None if ti < 0 else ctx.val(ti)

    def lstm(ctx, op):
        o = ref._opts(op, ref.schema.UnidirectionalSequenceLSTMOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x = ctx.val(op.inputs[0])
        if o.timeMajor:
            x = np.transpose(x, (1, 0, 2))
        w = [opt(ctx, op, i) for i in range(1, 5)]
        r = [opt(ctx, op, i) for i in range(5, 9)]
        p_i, p_f, p_o = (opt(ctx, op, i) for i in (9, 10, 11))
        b = [opt(ctx, op, i) for i in range(12, 16)]
        pw, pb = opt(ctx, op, 16), opt(ctx, op, 17)
        h = ctx.val(op.inputs[18]).copy()
        c = ctx.val(op.inputs[19]).copy()
        n_cell = w[1].shape[0]
        b = [np.zeros(n_cell) if v is None else v for v in b]
        outs = []
        for t in range(x.shape[1]):
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
            outs.append(h)
        y = np.stack(outs, axis=1)
        if o.timeMajor:
            y = np.transpose(y, (1, 0, 2))
        ctx.store(op.outputs[0], y)

    def seq_rnn(ctx, op):
        o = ref._opts(op, ref.schema.SequenceRNNOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x = ctx.val(op.inputs[0])
        if o.timeMajor:
            x = np.transpose(x, (1, 0, 2))
        w, r, b = (ctx.val(op.inputs[i]) for i in (1, 2, 3))
        h = ctx.val(op.inputs[4]).copy()
        outs = []
        for t in range(x.shape[1]):
            h = act(x[:, t, :] @ w.T + h @ r.T + b)
            outs.append(h)
        y = np.stack(outs, axis=1)
        if o.timeMajor:
            y = np.transpose(y, (1, 0, 2))
        ctx.store(op.outputs[0], y)

    def rnn(ctx, op):
        o = ref._opts(op, ref.schema.RNNOptionsT)
        act = _act(ref, o.fusedActivationFunction)
        x, w, r, b, h = (ctx.val(op.inputs[i]) for i in range(5))
        ctx.store(op.outputs[0], act(x @ w.T + h @ r.T + b))

    ops[ref._BOP.UNIDIRECTIONAL_SEQUENCE_LSTM] = lstm
    ops[ref._BOP.UNIDIRECTIONAL_SEQUENCE_RNN] = seq_rnn
    ops[ref._BOP.RNN] = rnn
