"""Offers one-op StableHLO models (made by tflite-forge) to LiteRT's builtin
resolver and compares what it runs with NumPy's StableHLO semantics.

  python stablehlo_check.py JOBS.json

Each job runs in a subprocess of its own (the interpreter can abort the
process on a model it dislikes).  Prints one JSON line {name: {"status":
"passed" | "failed" | "rejected", "detail": str}}; "rejected" means LiteRT
has no kernel for the op (its resolver or prepare step refuses it).
"""

import json
import subprocess
import sys

import numpy as np


def _inputs(op, details, rng):
    arrays = []
    for k, d in enumerate(details):
        shape, dt = tuple(d["shape"]), d["dtype"]
        if dt == np.bool_:
            a = rng.random(shape) > 0.5
        elif dt == np.int32:
            if op == "shift_left" and k == 1:
                a = rng.integers(0, 5, shape)
            elif op in ("dynamic_slice", "dynamic_update_slice"):
                a = np.array(1)
            else:
                a = rng.integers(-50, 50, shape)
            a = a.astype(np.int32)
        else:
            a = rng.uniform(-2, 2, shape).astype(np.float32)
            if op in ("log", "rsqrt") or (op == "power" and k == 0):
                a = np.abs(a) + 0.1
        arrays.append(a)
    return arrays


def _pad(x, v, lo, hi, interior):
    # Interior padding first, then edges (negative edges crop).
    shape = [n + (n - 1) * i if n else 0 for n, i in zip(x.shape, interior)]
    y = np.full(shape, v, x.dtype)
    y[tuple(slice(None, None, i + 1) for i in interior)] = x
    for ax, (a, b) in enumerate(zip(lo, hi)):
        w = [(0, 0)] * x.ndim
        w[ax] = (max(a, 0), max(b, 0))
        y = np.pad(y, w, constant_values=v)
        idx = [slice(None)] * x.ndim
        idx[ax] = slice(max(-a, 0), y.shape[ax] - max(-b, 0))
        y = y[tuple(idx)]
    return y


def _reference(op, xs, out_shape):
    f = {
        "abs": np.abs, "cosine": np.cos, "exponential": np.exp, "floor": np.floor,
        "log": np.log, "negate": np.negative, "rsqrt": lambda x: 1 / np.sqrt(x),
        "tanh": np.tanh, "logistic": lambda x: 1 / (1 + np.exp(-x)), "cbrt": np.cbrt,
    }
    if op in f:
        return f[op](xs[0].astype(np.float64))
    g = {
        "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
        "maximum": np.maximum, "minimum": np.minimum, "power": np.power, "remainder": np.fmod,
        "and": np.bitwise_and, "or": np.bitwise_or, "shift_left": np.left_shift,
    }
    if op in g:
        a, b = xs
        if a.dtype.kind == "f":
            a, b = a.astype(np.float64), b.astype(np.float64)
        return g[op](a, b)
    if op == "clamp":
        return np.minimum(np.maximum(xs[1], xs[0]), xs[2])
    if op == "select":
        return np.where(xs[0], xs[1], xs[2])
    if op == "convert":
        return np.trunc(xs[0]).astype(np.int32)
    if op == "reshape":
        return xs[0].reshape(out_shape)
    if op == "compare":
        return xs[0] < xs[1]
    if op == "concatenate":
        return np.concatenate(xs, axis=1)
    if op == "broadcast_in_dim":
        return np.broadcast_to(xs[0][:, None, :], out_shape)
    if op == "slice":
        return xs[0][0:2, 1:3]
    if op == "transpose":
        return xs[0].T
    if op == "pad":
        return _pad(xs[0], xs[1], [1, 0], [0, 2], [0, 1])
    if op == "iota":
        return np.broadcast_to(np.arange(out_shape[1], dtype=np.float32), out_shape)
    if op == "dot_general":
        return xs[0].astype(np.float64) @ xs[1].astype(np.float64)
    if op == "dynamic_slice":
        x, i, j = xs
        i = min(max(int(i), 0), x.shape[0] - 1)
        j = min(max(int(j), 0), x.shape[1] - 2)
        return x[i:i + 1, j:j + 2]
    if op == "dynamic_update_slice":
        x, u, i, j = xs
        y = x.copy()
        i = min(max(int(i), 0), x.shape[0] - u.shape[0])
        j = min(max(int(j), 0), x.shape[1] - u.shape[1])
        y[i:i + u.shape[0], j:j + u.shape[1]] = u
        return y
    raise ValueError("no reference for %s" % op)


_REJECTED = ("Didn't find op", "Op builtin_code out of range", "Unsupported", "not supported",
             "failed to prepare", "Encountered unresolved custom op")


def one(job):
    from ai_edge_litert import interpreter as litert
    rng = np.random.default_rng(5)
    try:
        it = litert.Interpreter(
            model_path=job["model"],
            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        it.allocate_tensors()
    except Exception as e:  # the resolver or prepare refuses the op
        msg = str(e).replace("\n", " ")[:300]
        return {"status": "rejected" if any(r in msg for r in _REJECTED) else "failed", "detail": msg}
    ins = it.get_input_details()
    xs = _inputs(job["op"], ins, rng)
    for d, a in zip(ins, xs):
        it.set_tensor(d["index"], a)
    try:
        it.invoke()
    except Exception as e:
        msg = str(e).replace("\n", " ")[:300]
        return {"status": "rejected" if any(r in msg for r in _REJECTED) else "failed", "detail": "invoke: " + msg}
    od = it.get_output_details()[0]
    got = it.get_tensor(od["index"])
    want = np.asarray(_reference(job["op"], xs, tuple(od["shape"])))
    if got.shape != want.shape:
        return {"status": "failed", "detail": "shape %s, NumPy %s" % (got.shape, want.shape)}
    if want.dtype.kind == "f":
        ok = np.allclose(got.astype(np.float64), want, rtol=1e-5, atol=1e-6)
        diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    else:
        ok = bool(np.array_equal(got, want.astype(got.dtype)))
        diff = 0.0 if ok else float("nan")
    return {"status": "passed" if ok else "failed",
            "detail": "runs in LiteRT; max|diff| vs NumPy %.3g" % diff}


def main():
    if sys.argv[1] == "--one":
        print(json.dumps(one(json.loads(sys.argv[2]))))
        return
    jobs = json.load(open(sys.argv[1]))
    results = {}
    for job in jobs:
        p = subprocess.run([sys.executable, __file__, "--one", json.dumps(job)],
                           capture_output=True, text=True, timeout=120)
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        if p.returncode != 0 or not lines:
            results[job["name"]] = {"status": "failed",
                                    "detail": "LiteRT process died (%s): %s" % (p.returncode, p.stderr[-300:])}
        else:
            results[job["name"]] = json.loads(lines[-1])
    print(json.dumps(results))


if __name__ == "__main__":
    main()
