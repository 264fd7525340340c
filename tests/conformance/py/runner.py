#!/usr/bin/env python3
"""Run tflite-forge conformance jobs in the official LiteRT interpreter.

Usage:
    python runner.py JOBS.json RESULTS.json [--workers 2] [--timeout 120]

JOBS.json is a JSON array of jobs.  Every job runs in its own subprocess
(``python runner.py --one JOB_JSON``), since the LiteRT interpreter may abort
the whole process on an invalid model; a subprocess that dies by a signal,
times out or exits without a result gives a failed result
("interpreter process died: ...").  RESULTS.json gets one object per job, in
job order::

    {"name": ..., "status": "passed"|"failed"|"skipped", "detail": "<one line>",
     "max_abs_diff": float|null}

plus, for "expected" jobs, "cosine", "max_abs_rel", "outputs" and (with
"latency") "latency_ms" and "latency" when known.

Job kinds:

numpy  {"name", "kind": "numpy", "model", "signature": key|null, "seed",
        "rtol", "atol", "quant_tol" (default 1), "resize": {name: dims}|null,
        "delegate": "default"|"none", "litert_may_refuse": bool (optional)}
       Runs the model in LiteRT (through the signature runner with inputs
       passed by name when "signature" is set, else set_tensor / invoke /
       get_tensor on subgraph 0) and in the NumPy reference (reference.py) on
       the same inputs, and compares every output. With "litert_may_refuse",
       LiteRT refusing the resized shapes is "skipped", not "failed".
random {"name", "kind": "random", "model", "distribution": "uniform"|"normal"|
        "multinomial", "seeded": bool, "probs": [[p per class] per row]|null,
        "delegate"}
       A model without inputs whose one output comes from a random op,
       judged by properties: dtype and declared shape; the distribution's
       range, mean, standard deviation (uniform, normal) or class
       frequencies (multinomial) within 6 standard errors; a second
       invocation gives new numbers; a second fresh interpreter gives the
       same numbers with fixed seeds and different ones without.
same   {"name", "kind": "same", "model", "other", "seed", "delegate"}
       Runs both files on identical inputs and requires the same interface
       and bit-identical outputs.
expected
       {"name", "kind": "expected", "model", "inputs": [npy paths],
        "outputs": [npy paths], "input_layout": [...]|"same"|null,
        "output_layout": [...]|"same"|null, "rtol", "atol", "resize": bool,
        "delegate", "signature": key|null, "input_names": [...]|null,
        "output_names": [...]|null, "latency": {"runs", "threads",
        "warmup"}|null}
       Feeds the given arrays to the model (set_tensor on subgraph 0 in input
       order, or by name through the signature runner when "signature" is set,
       names from "input_names"), runs LiteRT and compares each output with
       the expected array: equal shapes and dtypes, np.allclose(rtol, atol)
       for floats (NaN/Inf patterns must match), exact for ints and bools.
       An input array of another dtype than the model's input is cast to it,
       which fails the job if the cast changes a value.  Layouts ("nchw" and
       "same" mean as given, "nhwc" means channels-last): an "nhwc" input is
       fed as the channels-last transpose of the given channels-first array
       (np.transpose(x, (0, 2, 3, 1)) for 4-D), an "nhwc" output is
       transposed back to channels-first before comparing.  "resize": true
       resizes every model input to its array's shape before allocate_tensors
       (dynamic batch).  Outputs are matched in subgraph output order, or by
       "output_names" (default: the SignatureDef's order) with a signature.
       The detail and the result give max_abs_diff and, for float outputs,
       "cosine" (flattened cosine similarity, the worst output's) and
       "max_abs_rel" (max|a - b| / max|expected|, the worst output's); the
       result also has "outputs": per-output figures.  With "latency", LiteRT
       invoke is also timed (default delegate, i.e. XNNPACK, "threads"
       threads, default 1; median of "runs", default 20, after "warmup",
       default 2) and the result gets "latency_ms" (median) and "latency"
       (median/min/max in ms and the settings).  With "step" (and
       "max_steps", default 1, "min_fraction", default 1), at least
       min_fraction of each float output's elements must lie within
       max_steps · step of the expected values (quantized models: step is
       the output's quantization scale); the fraction is reported.

accuracy
       {"name", "kind": "accuracy", "float", "models": [{"label", "model",
        "max_drop": points|null, "min_drop": points|null}], "inputs": npy,
        "labels": npy, "input_layout": "nhwc"|"same", "min_float_accuracy",
        "reference": {label: accuracy}, "max_reference_gap": points|null,
        "delegate"}
       Top-1 accuracy on a whole test split: "inputs" stacks the images
       (channels-first for "nhwc", which feeds each one channels-last),
       "labels" their classes. Each image is run alone (batch 1) through
       the float model and each quantized one (integer inputs get the image
       quantized with the input's parameters, integer outputs are
       dequantized). The float model must reach "min_float_accuracy" and be
       within "max_reference_gap" points of every "reference" accuracy (the
       training framework's); each quantized model must lose at most
       "max_drop" points against the float model and, with "min_drop", at
       least that many (a deliberately broken calibration). The detail gives
       every accuracy, the drops and the file sizes; the result also has
       "accuracy": {label: accuracy}.

Exit status: 0 when RESULTS.json was written (whatever the jobs' outcome),
2 on usage errors.  Only stdlib, numpy and ai_edge_litert are used.
"""

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

_MARK = "@@TFLITE_FORGE_RESULT@@ "
_HERE = os.path.dirname(os.path.abspath(__file__))
_MAX_DETAIL = 1500


def _one_line(text, limit=_MAX_DETAIL):
    s = " | ".join(part.strip() for part in str(text).splitlines() if part.strip())
    if len(s) > limit:
        s = s[:limit - 3] + "..."
    return s


def _finite_or_none(v):
    if v is None or isinstance(v, bool):
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# Extra result fields a job may report besides the four common ones.
_EXTRA_NUMBERS = ("cosine", "max_abs_rel", "latency_ms")
_EXTRA_OBJECTS = ("outputs", "latency", "accuracy")


def _result(name, status, detail, max_abs_diff=None, extra=None):
    res = {"name": name, "status": status, "detail": _one_line(detail),
           "max_abs_diff": _finite_or_none(max_abs_diff)}
    for key, v in (extra or {}).items():
        if key in _EXTRA_NUMBERS:
            v = _finite_or_none(v)
            if v is not None:
                res[key] = v
        elif key in _EXTRA_OBJECTS:
            try:
                res[key] = json.loads(json.dumps(v, allow_nan=False))
            except (TypeError, ValueError):
                pass
    return res


def _extras(res):
    return {k: res[k] for k in _EXTRA_NUMBERS + _EXTRA_OBJECTS if k in res}


# ==========================================================================
# Child side: run one job in this process
# ==========================================================================

class JobError(Exception):
    """A job failure with a ready-made detail."""


def _make_inputs(specs, seed):
    """specs: [(label, shape, dtype)] in order -> list of arrays."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = []
    for label, shape, dtype in specs:
        dt = np.dtype(dtype)
        shape = tuple(int(d) for d in shape)
        if dt in (np.float32, np.float16, np.float64):
            a = rng.standard_normal(shape).astype(dt)
        elif dt in (np.int8, np.uint8, np.int16):
            info = np.iinfo(dt)
            a = rng.integers(int(info.min), int(info.max), size=shape,
                             endpoint=True).astype(dt)
        elif dt in (np.int32, np.int64):
            a = rng.integers(0, 4, size=shape).astype(dt)
        elif dt == np.bool_:
            a = rng.integers(0, 2, size=shape).astype(np.bool_)
        else:
            raise JobError("input %s has unsupported dtype %s" % (label, dt.name))
        out.append(a)
    return out


def _make_interpreter(path, delegate):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kw = {"model_path": path, "num_threads": 1}
    if delegate in (None, "default"):
        pass
    elif delegate == "none":
        kw["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    else:
        raise JobError("unknown delegate %r (want \"default\" or \"none\")" % (delegate,))
    try:
        return Interpreter(**kw)
    except Exception as e:
        raise JobError("litert cannot load %s: %s: %s"
                       % (os.path.basename(path), type(e).__name__, e)) from None


def _litert(what, fn, *a, **kw):
    try:
        return fn(*a, **kw)
    except JobError:
        raise
    except Exception as e:
        raise JobError("litert %s failed: %s: %s" % (what, type(e).__name__, e)) from None


def _get_output(interp, d):
    """An output's value. LiteRT's get_tensor raises on a zero-sized tensor,
    whose only content is its shape (read from the details after invoke)."""
    import numpy as np
    shape = [int(x) for x in d["shape"]]
    if 0 in shape:
        return np.zeros(shape, dtype=d["dtype"])
    return _litert("get_tensor", interp.get_tensor, d["index"])


def _fmt(v):
    if isinstance(v, float):
        return "%.9g" % v
    return str(v)


def _compare(label, got, ref, rtol, atol, qtol):
    """-> (ok, max_abs_diff or None, message)."""
    import numpy as np
    got = np.asarray(got)
    ref = np.asarray(ref)
    if got.shape != ref.shape:
        return False, None, "%s: shape litert %s vs reference %s" % (
            label, list(got.shape), list(ref.shape))
    if got.dtype.kind in "OSU" or ref.dtype.kind in "OSU":
        # Strings: LiteRT gives bytes objects; compare them exactly.
        g = [bytes(x) for x in got.reshape(-1)]
        r = [bytes(x) for x in ref.reshape(-1)]
        bad = [i for i, (a, b) in enumerate(zip(g, r)) if a != b]
        if bad:
            i = bad[0]
            return False, 1.0, "%s: %d of %d strings differ (first at %d litert=%r reference=%r)" % (
                label, len(bad), len(g), i, g[i], r[i])
        return True, 0.0, "%s ok" % label
    if got.dtype != ref.dtype:
        return False, None, "%s: dtype litert %s vs reference %s" % (
            label, got.dtype.name, ref.dtype.name)
    if got.size == 0:
        return True, 0.0, "%s: empty" % label
    kind = got.dtype.kind
    if kind in "fc":
        g = got.astype(np.complex128 if kind == "c" else np.float64)
        r = ref.astype(g.dtype)
        gn, rn = np.isnan(g), np.isnan(r)
        if np.any(gn != rn):
            i = np.unravel_index(int(np.argmax(gn != rn)), g.shape)
            return False, None, "%s: NaN pattern differs (%d NaN in litert, %d in reference; " \
                "at %s litert=%s reference=%s)" % (label, int(gn.sum()), int(rn.sum()),
                                                   tuple(int(x) for x in i), _fmt(g[i].item()),
                                                   _fmt(r[i].item()))
        gi, ri = np.isinf(g), np.isinf(r)
        bad_inf = (gi != ri) | (gi & ri & (g != r))
        if np.any(bad_inf):
            i = np.unravel_index(int(np.argmax(bad_inf)), g.shape)
            return False, None, "%s: Inf pattern differs (at %s litert=%s reference=%s)" % (
                label, tuple(int(x) for x in i), _fmt(g[i].item()), _fmt(r[i].item()))
        finite = np.isfinite(g) & np.isfinite(r)
        diff = np.where(finite, np.abs(g - r), 0.0)
        mad = float(diff.max())
        with np.errstate(all="ignore"):
            ok = bool(np.allclose(g, r, rtol=rtol, atol=atol, equal_nan=True))
        if ok:
            return True, mad, "%s ok" % label
        excess = np.where(finite, diff - (atol + rtol * np.abs(r)), -np.inf)
        i = np.unravel_index(int(np.argmax(excess)), g.shape)
        nbad = int(np.sum(excess > 0))
        return False, mad, ("%s: %d of %d values outside rtol=%g atol=%g, max_abs_diff=%.6g; "
                            "worst at %s litert=%s reference=%s") % (
            label, nbad, g.size, rtol, atol, mad, tuple(int(x) for x in i),
            _fmt(g[i].item()), _fmt(r[i].item()))
    if kind == "b":
        neq = got != ref
        n = int(neq.sum())
        if n == 0:
            return True, 0.0, "%s ok" % label
        i = np.unravel_index(int(np.argmax(neq)), got.shape)
        return False, 1.0, "%s: %d of %d bools differ (first at %s litert=%s reference=%s)" % (
            label, n, got.size, tuple(int(x) for x in i), got[i], ref[i])
    if kind in "iu":
        diff = np.abs(got.astype(np.int64) - ref.astype(np.int64))
        mad = int(diff.max())
        if mad <= qtol:
            return True, float(mad), "%s ok" % label
        i = np.unravel_index(int(np.argmax(diff)), got.shape)
        nbad = int(np.sum(diff > qtol))
        return False, float(mad), ("%s: %d of %d values differ by more than quant_tol=%d "
                                   "(max %d steps; worst at %s litert=%d reference=%d)") % (
            label, nbad, got.size, qtol, mad, tuple(int(x) for x in i), int(got[i]), int(ref[i]))
    return False, None, "%s: cannot compare dtype %s" % (label, got.dtype.name)


def _field(job, key, default, cast):
    v = job.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (cast is int and v != int(v)):
        raise JobError("\"%s\" must be a number (got %r)" % (key, v))
    return cast(v)


def _read_model(path):
    if not isinstance(path, str) or not path:
        raise JobError("job has no model path")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise JobError("cannot read model %s: %s" % (path, e.strerror or e)) from None


def _parse_ref(data, path):
    import reference
    try:
        return reference.Model(data)
    except Exception as e:
        raise JobError("reference cannot parse %s: %s" % (os.path.basename(path), e)) from None


def _run_numpy(job):
    import numpy as np
    import reference

    path = job.get("model")
    sig = job.get("signature")
    if sig is not None and not isinstance(sig, str):
        raise JobError("\"signature\" must be a string or null")
    seed = _field(job, "seed", 0, int)
    rtol = _field(job, "rtol", 1e-4, float)
    atol = _field(job, "atol", 1e-5, float)
    qtol = _field(job, "quant_tol", 1, int)
    resize = job.get("resize") or {}
    if not isinstance(resize, dict) or not all(
            isinstance(v, list) and all(isinstance(d, int) for d in v) for v in resize.values()):
        raise JobError("\"resize\" must be an object {input name: [int dims]} or null")
    delegate = job.get("delegate", "default")

    data = _read_model(path)
    interp = _make_interpreter(path, delegate)
    model = _parse_ref(data, path)

    if sig is not None:
        sigs = model.signature_maps()
        if sig not in sigs:
            raise JobError("model has no signature %r (has %s)" % (sig, sorted(sigs)))
        lsigs = _litert("get_signature_list", interp.get_signature_list)
        if sig not in lsigs:
            raise JobError("litert sees no signature %r (sees %s)" % (sig, sorted(lsigs)))
        sm = sigs[sig]
        sg_index = sm["subgraph"]
        for name in resize:
            if name not in sm["inputs"]:
                raise JobError("resize: signature %r has no input %r (has %s)"
                               % (sig, name, sorted(sm["inputs"])))
        # Resize before the signature runner exists (it holds tensor views that
        # make resize_tensor_input refuse).  The runner also resizes each input
        # to the shape of the array it is given, which covers subgraphs != 0.
        if resize and sg_index == 0:
            for name, dims in resize.items():
                _litert("resize_tensor_input", interp.resize_tensor_input,
                        sm["inputs"][name], [int(d) for d in dims])
            _litert("allocate_tensors", interp.allocate_tensors)
        runner = _litert("get_signature_runner", interp.get_signature_runner, sig)
        in_det = _litert("signature get_input_details", runner.get_input_details)
        if set(in_det) != set(sm["inputs"]):
            raise JobError("signature %r inputs: litert %s vs SignatureDef %s"
                           % (sig, sorted(in_det), sorted(sm["inputs"])))
        for name, d in in_det.items():
            if int(d["index"]) != sm["inputs"][name] and sg_index == 0:
                raise JobError("signature %r input %r: litert feeds tensor %d, SignatureDef "
                               "says %d" % (sig, name, d["index"], sm["inputs"][name]))
        sg_inputs, _ = model.subgraph_io(sg_index)
        by_index = {ti: name for name, ti in sm["inputs"].items()}
        missing = [ti for ti in sg_inputs if ti not in by_index]
        if missing:
            raise JobError("signature %r does not feed subgraph inputs %s" % (sig, missing))
        order = [by_index[ti] for ti in sg_inputs]
        order += [n for n in sm["input_order"] if n not in order]
        specs = [(repr(n), resize.get(n, in_det[n]["shape"]), in_det[n]["dtype"]) for n in order]
        arrays = _make_inputs(specs, seed)
        feeds = dict(zip(order, arrays))
        got = _litert("signature run", runner, **feeds)
        if set(got) != set(sm["outputs"]):
            raise JobError("signature %r outputs: litert %s vs SignatureDef %s"
                           % (sig, sorted(got), sorted(sm["outputs"])))
        out_names = sm["output_order"]
        out_idx = [sm["outputs"][n] for n in out_names]
        labels = ["output %r (tensor %d)" % (n, ti) for n, ti in zip(out_names, out_idx)]
        litert_out = [got[n] for n in out_names]
        ref_in = {sm["inputs"][n]: a for n, a in feeds.items()}
    else:
        sg_index = 0
        in_det = _litert("get_input_details", interp.get_input_details)
        if resize:
            names = {d["name"]: d["index"] for d in in_det}
            for name, dims in resize.items():
                if name not in names:
                    raise JobError("resize: no input named %r (inputs %s)" % (name, sorted(names)))
                _litert("resize_tensor_input", interp.resize_tensor_input,
                        names[name], [int(d) for d in dims])
        _litert("allocate_tensors", interp.allocate_tensors)
        in_det = _litert("get_input_details", interp.get_input_details)
        specs = [("%r" % d["name"], d["shape"], d["dtype"]) for d in in_det]
        arrays = _make_inputs(specs, seed)
        for d, a in zip(in_det, arrays):
            _litert("set_tensor %r" % d["name"], interp.set_tensor, d["index"], a)
        _litert("invoke", interp.invoke)
        out_det = _litert("get_output_details", interp.get_output_details)
        out_idx = [int(d["index"]) for d in out_det]
        labels = ["output %r (tensor %d)" % (d["name"], d["index"]) for d in out_det]
        litert_out = [_get_output(interp, d) for d in out_det]
        ref_in = {int(d["index"]): a for d, a in zip(in_det, arrays)}

    try:
        ref = reference.evaluate(model, ref_in, subgraph_index=sg_index, outputs=out_idx)
    except NotImplementedError as e:
        raise JobError(str(e)) from None
    except Exception as e:
        raise JobError("reference error: %s: %s" % (type(e).__name__, e)) from None

    fails, mads = [], []
    for label, ti, g in zip(labels, out_idx, litert_out):
        ok, mad, msg = _compare(label, g, ref[ti], rtol, atol, qtol)
        if mad is not None:
            mads.append(mad)
        if not ok:
            fails.append(msg)
    mad = max(mads) if mads else None
    if fails:
        more = " (+%d more failing outputs)" % (len(fails) - 1) if len(fails) > 1 else ""
        return _result(job.get("name"), "failed", fails[0] + more, mad)
    return _result(job.get("name"), "passed",
                   "%d output(s) match the reference: max_abs_diff=%s (rtol=%g atol=%g "
                   "quant_tol=%d)" % (len(out_idx), _fmt(mad) if mad is not None else "n/a",
                                      rtol, atol, qtol), mad)


def _qdesc(d):
    qp = d.get("quantization_parameters") or {}
    sc = qp.get("scales")
    zp = qp.get("zero_points")
    return ([float(x) for x in sc] if sc is not None else [],
            [int(x) for x in zp] if zp is not None else [],
            int(qp.get("quantized_dimension", 0) or 0))


def _compare_interface(what, da, db):
    import numpy as np
    if len(da) != len(db):
        raise JobError("%s count differs: %d vs %d" % (what, len(da), len(db)))
    for k, (a, b) in enumerate(zip(da, db)):
        if a["name"] != b["name"]:
            raise JobError("%s #%d name differs: %r vs %r" % (what, k, a["name"], b["name"]))
        if np.dtype(a["dtype"]) != np.dtype(b["dtype"]):
            raise JobError("%s #%d %r dtype differs: %s vs %s" % (
                what, k, a["name"], np.dtype(a["dtype"]).name, np.dtype(b["dtype"]).name))
        if list(a["shape"]) != list(b["shape"]):
            raise JobError("%s #%d %r shape differs: %s vs %s" % (
                what, k, a["name"], list(a["shape"]), list(b["shape"])))
        if list(a.get("shape_signature", [])) != list(b.get("shape_signature", [])):
            raise JobError("%s #%d %r shape_signature differs: %s vs %s" % (
                what, k, a["name"], list(a["shape_signature"]), list(b["shape_signature"])))
        if _qdesc(a) != _qdesc(b):
            raise JobError("%s #%d %r quantization differs: %s vs %s" % (
                what, k, a["name"], _qdesc(a), _qdesc(b)))


def _run_same(job):
    import numpy as np
    path_a, path_b = job.get("model"), job.get("other")
    seed = _field(job, "seed", 0, int)
    delegate = job.get("delegate", "default")
    _read_model(path_a)
    _read_model(path_b)
    ia = _make_interpreter(path_a, delegate)
    ib = _make_interpreter(path_b, delegate)
    _litert("allocate_tensors (model)", ia.allocate_tensors)
    _litert("allocate_tensors (other)", ib.allocate_tensors)
    sa = _litert("get_signature_list", ia.get_signature_list)
    sb = _litert("get_signature_list", ib.get_signature_list)
    if sa != sb:
        raise JobError("signatures differ: %s vs %s" % (sa, sb))
    in_a, in_b = ia.get_input_details(), ib.get_input_details()
    _compare_interface("input", in_a, in_b)
    _compare_interface("output", ia.get_output_details(), ib.get_output_details())
    arrays = _make_inputs([("%r" % d["name"], d["shape"], d["dtype"]) for d in in_a], seed)
    for da, db, arr in zip(in_a, in_b, arrays):
        _litert("set_tensor (model)", ia.set_tensor, da["index"], arr)
        _litert("set_tensor (other)", ib.set_tensor, db["index"], arr.copy())
    _litert("invoke (model)", ia.invoke)
    _litert("invoke (other)", ib.invoke)
    out_a, out_b = ia.get_output_details(), ib.get_output_details()
    _compare_interface("output (after invoke)", out_a, out_b)
    fails, mads = [], []
    for k, (da, db) in enumerate(zip(out_a, out_b)):
        a = ia.get_tensor(da["index"])
        b = ib.get_tensor(db["index"])
        label = "output #%d %r" % (k, da["name"])
        if a.shape != b.shape or a.dtype != b.dtype:
            fails.append("%s: %s %s vs %s %s" % (label, a.dtype.name, list(a.shape),
                                                  b.dtype.name, list(b.shape)))
            continue
        if a.dtype.kind in "fc":
            same = bool(np.array_equal(a, b, equal_nan=True))
            fa, fb = a.astype(np.float64), b.astype(np.float64)
            fin = np.isfinite(fa) & np.isfinite(fb)
            d = float(np.max(np.where(fin, np.abs(fa - fb), 0.0))) if a.size else 0.0
        else:
            same = bool(np.array_equal(a, b))
            d = float(np.max(np.abs(a.astype(np.int64) - b.astype(np.int64)))) if a.size else 0.0
        mads.append(d)
        if not same:
            neq = ~((a == b) | (np.isnan(a) & np.isnan(b))) if a.dtype.kind in "fc" else (a != b)
            i = np.unravel_index(int(np.argmax(neq)), a.shape)
            fails.append("%s: %d of %d values differ, max_abs_diff=%s (first at %s: %s vs %s)" % (
                label, int(neq.sum()), a.size, _fmt(d), tuple(int(x) for x in i),
                _fmt(a[i].item()), _fmt(b[i].item())))
    mad = max(mads) if mads else None
    if fails:
        more = " (+%d more differing outputs)" % (len(fails) - 1) if len(fails) > 1 else ""
        return _result(job.get("name"), "failed", fails[0] + more, mad)
    return _result(job.get("name"), "passed",
                   "%d output(s) bit-identical on %d input(s)" % (len(out_a), len(in_a)), mad)


# --------------------------------------------------------------------------
# "expected": given inputs, given expected outputs
# --------------------------------------------------------------------------

_LAYOUTS = ("nchw", "nhwc", "same")


def _to_channels_last(a, label):
    import numpy as np
    if a.ndim < 3:
        raise JobError("%s: layout \"nhwc\" needs rank >= 3 (got shape %s)" % (label, list(a.shape)))
    return np.ascontiguousarray(np.transpose(a, (0,) + tuple(range(2, a.ndim)) + (1,)))


def _to_channels_first(a, label):
    import numpy as np
    if a.ndim < 3:
        raise JobError("%s: layout \"nhwc\" needs rank >= 3 (got shape %s)" % (label, list(a.shape)))
    return np.ascontiguousarray(np.transpose(a, (0, a.ndim - 1) + tuple(range(1, a.ndim - 1))))


def _layouts(job, key, n):
    v = job.get(key)
    if v is None:
        return ["same"] * n
    if isinstance(v, str):
        v = [v] * n
    if not isinstance(v, list) or len(v) != n or not all(x in _LAYOUTS for x in v):
        raise JobError("\"%s\" must be one of %s or a list of %d of them (got %r)"
                       % (key, list(_LAYOUTS), n, job.get(key)))
    return v


def _path_list(job, key):
    v = job.get(key)
    if not isinstance(v, list) or not all(isinstance(p, str) and p for p in v):
        raise JobError("\"%s\" must be a list of .npy paths" % key)
    return v


def _name_list(job, key, n):
    v = job.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or len(v) != n or not all(isinstance(x, str) for x in v):
        raise JobError("\"%s\" must be a list of %d names (got %r)" % (key, n, v))
    return v


def _load_npy(path, label):
    import numpy as np
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise JobError("cannot load %s %s: %s" % (label, path, e)) from None
    if not isinstance(a, np.ndarray):
        raise JobError("%s %s holds no single array" % (label, path))
    if a.dtype.kind not in "biufc" or a.dtype.names is not None:
        raise JobError("%s %s has dtype %s, which LiteRT cannot take" % (label, path, a.dtype))
    return a


def _cast_exact(a, dtype, label):
    """a cast to dtype; a JobError when the cast changes any value."""
    import numpy as np
    dt = np.dtype(dtype)
    if a.dtype == dt:
        return a
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = a.astype(dt)
        back = b.astype(a.dtype)
        if a.dtype.kind in "fc":
            same = np.array_equal(back, a, equal_nan=True)
        else:
            same = np.array_equal(back, a)
        # bool <-> number: only 0/1 survive both ways.
    if not same:
        bad = ~((back == a) | ((np.isnan(back) & np.isnan(a)) if a.dtype.kind in "fc" else False))
        i = np.unravel_index(int(np.argmax(bad)), a.shape) if a.ndim else ()
        raise JobError("%s: casting %s to the model's %s changes values (%d of %d; at %s %s -> %s)"
                       % (label, a.dtype.name, dt.name, int(np.sum(bad)), a.size,
                          tuple(int(x) for x in i), _fmt(a[i].item()), _fmt(b[i].item())))
    return b


def _float_metrics(got, ref):
    """(cosine, max_abs_rel) over the finite values of two float arrays."""
    import numpy as np
    g = np.asarray(got, dtype=np.float64).ravel()
    r = np.asarray(ref, dtype=np.float64).ravel()
    fin = np.isfinite(g) & np.isfinite(r)
    g, r = g[fin], r[fin]
    if g.size == 0:
        return None, None
    ng, nr = float(np.linalg.norm(g)), float(np.linalg.norm(r))
    if ng == 0.0 and nr == 0.0:
        cos = 1.0
    elif ng == 0.0 or nr == 0.0:
        cos = 0.0
    else:
        cos = min(1.0, max(-1.0, float(np.dot(g, r) / (ng * nr))))
    mref = float(np.max(np.abs(r)))
    mad = float(np.max(np.abs(g - r)))
    rel = mad / mref if mref > 0 else (0.0 if mad == 0 else None)
    return cos, rel


def _latency(job, path, feed_fn, spec):
    """Median invoke time in ms on a default-delegate interpreter."""
    import statistics
    import time
    if not isinstance(spec, dict):
        raise JobError("\"latency\" must be an object {\"runs\", \"threads\", \"warmup\"}")
    runs = _field(spec, "runs", 20, int)
    threads = _field(spec, "threads", 1, int)
    warmup = _field(spec, "warmup", 2, int)
    if runs < 1 or threads < 1 or warmup < 0:
        raise JobError("latency: runs and threads must be >= 1, warmup >= 0")
    from ai_edge_litert.interpreter import Interpreter
    try:
        interp = Interpreter(model_path=path, num_threads=threads)
    except Exception as e:
        raise JobError("latency: litert cannot load the model: %s: %s" % (type(e).__name__, e)) from None
    call = feed_fn(interp)
    for _ in range(warmup):
        _litert("latency warm-up invoke", call)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        _litert("latency invoke", call)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
            "runs": runs, "threads": threads, "warmup": warmup, "delegate": "default"}


def _run_expected(job):
    import numpy as np
    path = job.get("model")
    sig = job.get("signature")
    if sig is not None and not isinstance(sig, str):
        raise JobError("\"signature\" must be a string or null")
    rtol = _field(job, "rtol", 1e-4, float)
    atol = _field(job, "atol", 1e-5, float)
    resize = job.get("resize", False)
    if resize is None:
        resize = False
    if not isinstance(resize, bool):
        raise JobError("\"resize\" must be true or false for \"expected\" jobs")
    delegate = job.get("delegate", "default")
    lat_spec = job.get("latency")
    in_paths = _path_list(job, "inputs")
    out_paths = _path_list(job, "outputs")
    in_layout = _layouts(job, "input_layout", len(in_paths))
    out_layout = _layouts(job, "output_layout", len(out_paths))
    in_names = _name_list(job, "input_names", len(in_paths))
    out_names = _name_list(job, "output_names", len(out_paths))
    if sig is not None and in_names is None:
        raise JobError("a job with a \"signature\" needs \"input_names\"")

    _read_model(path)
    arrays = []
    for k, (p, lay) in enumerate(zip(in_paths, in_layout)):
        a = _load_npy(p, "input #%d" % k)
        if lay == "nhwc":
            a = _to_channels_last(a, "input #%d" % k)
        arrays.append(a)
    expected = [_load_npy(p, "expected output #%d" % k) for k, p in enumerate(out_paths)]

    interp = _make_interpreter(path, delegate)

    if sig is not None:
        lsigs = _litert("get_signature_list", interp.get_signature_list)
        if sig not in lsigs:
            raise JobError("litert sees no signature %r (sees %s)" % (sig, sorted(lsigs)))
        if out_names is None:
            sm = _parse_ref(_read_model(path), path).signature_maps().get(sig)
            if sm is None:
                raise JobError("model has no SignatureDef %r" % sig)
            out_names = sm["output_order"]
        runner = _litert("get_signature_runner", interp.get_signature_runner, sig)
        in_det = _litert("signature get_input_details", runner.get_input_details)
        if sorted(in_det) != sorted(in_names):
            raise JobError("signature %r inputs: litert %s vs job %s"
                           % (sig, sorted(in_det), sorted(in_names)))
        feeds = {}
        for k, (n, a) in enumerate(zip(in_names, arrays)):
            label = "input #%d %r" % (k, n)
            d = in_det[n]
            a = _cast_exact(a, d["dtype"], label)
            if not resize and list(a.shape) != [int(x) for x in d["shape"]]:
                raise JobError("%s: array shape %s vs model input shape %s (set \"resize\")"
                               % (label, list(a.shape), [int(x) for x in d["shape"]]))
            feeds[n] = a
        got = _litert("signature run", runner, **feeds)
        missing = [n for n in out_names if n not in got]
        if missing or len(got) != len(out_names):
            raise JobError("signature %r outputs: litert %s vs expected %s"
                           % (sig, sorted(got), out_names))
        labels = ["output #%d %r" % (k, n) for k, n in enumerate(out_names)]
        litert_out = [got[n] for n in out_names]

        def feed_fn(it):
            r = _litert("latency get_signature_runner", it.get_signature_runner, sig)
            return lambda: r(**feeds)
    else:
        in_det = _litert("get_input_details", interp.get_input_details)
        if len(in_det) != len(arrays):
            raise JobError("model has %d inputs, job gives %d" % (len(in_det), len(arrays)))
        if in_names is not None:
            names = [d["name"] for d in in_det]
            if names != in_names:
                raise JobError("input names: model %s vs job %s" % (names, in_names))
        fed = []
        for k, (d, a) in enumerate(zip(in_det, arrays)):
            fed.append(_cast_exact(a, d["dtype"], "input #%d %r" % (k, d["name"])))

        def prepare(it, what):
            det = _litert("%sget_input_details" % what, it.get_input_details)
            if resize:
                for d, a in zip(det, fed):
                    _litert("%sresize_tensor_input %r" % (what, d["name"]),
                            it.resize_tensor_input, d["index"], list(a.shape))
            _litert("%sallocate_tensors" % what, it.allocate_tensors)
            det = _litert("%sget_input_details" % what, it.get_input_details)
            for k, (d, a) in enumerate(zip(det, fed)):
                if list(a.shape) != [int(x) for x in d["shape"]]:
                    raise JobError("input #%d %r: array shape %s vs model input shape %s%s"
                                   % (k, d["name"], list(a.shape), [int(x) for x in d["shape"]],
                                      "" if resize else " (set \"resize\")"))
                _litert("%sset_tensor %r" % (what, d["name"]), it.set_tensor, d["index"], a)

        prepare(interp, "")
        _litert("invoke", interp.invoke)
        out_det = _litert("get_output_details", interp.get_output_details)
        if len(out_det) != len(expected):
            raise JobError("model has %d outputs, job expects %d" % (len(out_det), len(expected)))
        if out_names is not None:
            names = [d["name"] for d in out_det]
            if names != out_names:
                raise JobError("output names: model %s vs job %s" % (names, out_names))
        labels = ["output #%d %r" % (k, d["name"]) for k, d in enumerate(out_det)]
        litert_out = [_get_output(interp, d) for d in out_det]

        def feed_fn(it):
            prepare(it, "latency ")
            return it.invoke

    fails, mads, per_output = [], [], []
    worst_cos, worst_rel = None, None
    for label, g, r, lay in zip(labels, litert_out, expected, out_layout):
        g = np.asarray(g)
        if lay == "nhwc":
            g = _to_channels_first(g, label)
        ok, mad, msg = _compare(label, g, r, rtol, atol, 0)
        info = {"label": label, "ok": ok, "max_abs_diff": _finite_or_none(mad)}
        if g.shape == r.shape and g.dtype == r.dtype and g.dtype.kind == "f" and g.size:
            cos, rel = _float_metrics(g, r)
            info["cosine"], info["max_abs_rel"] = _finite_or_none(cos), _finite_or_none(rel)
            if cos is not None:
                worst_cos = cos if worst_cos is None else min(worst_cos, cos)
            if rel is not None:
                worst_rel = rel if worst_rel is None else max(worst_rel, rel)
        per_output.append(info)
        if mad is not None:
            mads.append(mad)
        if not ok:
            fails.append(msg)
    mad = max(mads) if mads else None
    extra = {"outputs": per_output}
    metrics = []
    if worst_cos is not None:
        extra["cosine"] = worst_cos
        metrics.append("cosine=%.9f" % worst_cos)
    if worst_rel is not None:
        extra["max_abs_rel"] = worst_rel
        metrics.append("max_abs_rel=%.3g" % worst_rel)

    # Optional model-level criteria: max|a-b| <= max_abs_rel_tol * max|ref|
    # and cosine >= min_cosine on every float output.
    rel_tol, min_cos = job.get("max_abs_rel_tol"), job.get("min_cosine")
    for info in per_output:
        if rel_tol is not None and info.get("max_abs_rel") is not None and info["max_abs_rel"] > rel_tol:
            fails.append("%s: max_abs_rel %.3g > %g" % (info["label"], info["max_abs_rel"], rel_tol))
        if min_cos is not None and info.get("cosine") is not None and info["cosine"] < min_cos:
            fails.append("%s: cosine %.9f < %g" % (info["label"], info["cosine"], min_cos))

    # Optional agreement in quantization steps: at least "min_fraction" of
    # the elements of every float output within "max_steps" steps of size
    # "step" (the output's quantization scale) of the expected values.
    step = job.get("step")
    if step is not None:
        max_steps = float(job.get("max_steps", 1))
        min_frac = float(job.get("min_fraction", 1.0))
        for label, g, r, lay in zip(labels, litert_out, expected, out_layout):
            g = np.asarray(g)
            if lay == "nhwc":
                g = _to_channels_first(g, label)
            if g.shape != r.shape or g.dtype.kind != "f" or not g.size:
                continue
            steps = np.abs(g.astype(np.float64) - r.astype(np.float64)) / float(step)
            # A difference of whole steps carries float rounding of the
            # dequantized values: allow 1e-3 of a step.
            frac = float(np.mean(steps <= max_steps + 1e-3))
            extra.setdefault("within_steps", {})[label] = frac
            metrics.append("within_%g_steps=%.4f max_steps=%.2f" % (max_steps, frac, float(np.max(steps))))
            if frac < min_frac:
                fails.append("%s: %.4f of elements within %g step(s) of %g < %g" % (label, frac, max_steps, step, min_frac))

    lat_note, lat_err = "", None
    if lat_spec is not None:
        # Timed whatever the comparison gave: a slow wrong model is still slow.
        try:
            lat = _latency(job, path, feed_fn, lat_spec)
        except JobError as e:
            lat_err = str(e)
            lat_note = "; latency failed: %s" % e
        else:
            extra["latency"] = lat
            extra["latency_ms"] = lat["median_ms"]
            lat_note = "; latency %.3f ms (median of %d, %d thread(s))" % (
                lat["median_ms"], lat["runs"], lat["threads"])

    if fails:
        more = " (+%d more failing outputs)" % (len(fails) - 1) if len(fails) > 1 else ""
        return _result(job.get("name"), "failed",
                       fails[0] + more + ("; " + " ".join(metrics) if metrics else "") + lat_note,
                       mad, extra)
    detail = "%d output(s) match the expected arrays: max_abs_diff=%s%s (rtol=%g atol=%g)%s" % (
        len(expected), _fmt(mad) if mad is not None else "n/a",
        "".join(" " + m for m in metrics), rtol, atol, lat_note)
    return _result(job.get("name"), "failed" if lat_err else "passed", detail, mad, extra)


def _run_quantized(job):
    """A quantized model against its float original, both in LiteRT.

    {"name", "kind": "quantized", "model", "float", "samples": [[npy per
    input], ...], "ours": [[npy per output], ...]|null, "min_cosine",
    "max_steps", "delegate"}: each sample (float arrays) is fed to the float
    model and, quantized with the input tensors' parameters where they are
    integer, to the quantized model; integer outputs are dequantized. Over
    all samples, every output's cosine similarity with the float model's must
    be at least "min_cosine". With "ours" (our reference evaluator's outputs
    of the quantized model, as the model's own output type), integer outputs
    must be within "max_steps" quantization steps of LiteRT's.
    """
    import numpy as np
    delegate = job.get("delegate", "default")
    fint = _make_interpreter(job["float"], delegate)
    qint = _make_interpreter(job["model"], delegate)
    _litert("allocate_tensors", fint.allocate_tensors)
    _litert("allocate_tensors", qint.allocate_tensors)
    fin, fout = fint.get_input_details(), fint.get_output_details()
    qin, qout = qint.get_input_details(), qint.get_output_details()
    if len(fin) != len(qin) or len(fout) != len(qout):
        raise JobError("the quantized model has %d/%d inputs/outputs, the float one %d/%d"
                       % (len(qin), len(qout), len(fin), len(fout)))
    ref = [[] for _ in fout]
    got = [[] for _ in qout]
    worst_steps = 0
    for si, paths in enumerate(job["samples"]):
        xs = [np.load(p) for p in paths]
        for d, x in zip(fin, xs):
            _litert("set_tensor", fint.set_tensor, d["index"], x.astype(np.float32))
        for d, x in zip(qin, xs):
            if d["dtype"] in (np.int8, np.uint8, np.int16):
                scale, zp = d["quantization"]
                info = np.iinfo(d["dtype"])
                x = np.clip(np.round(x / scale) + zp, info.min, info.max).astype(d["dtype"])
            _litert("set_tensor", qint.set_tensor, d["index"], x.astype(d["dtype"]))
        _litert("invoke", fint.invoke)
        _litert("invoke", qint.invoke)
        ours = job.get("ours")
        for k, (fd, qd) in enumerate(zip(fout, qout)):
            r = fint.get_tensor(fd["index"]).astype(np.float64)
            q = qint.get_tensor(qd["index"])
            if ours:
                o = np.load(ours[si][k])
                if o.shape != q.shape:
                    raise JobError("output %d: our evaluator's shape %s, LiteRT's %s" % (k, o.shape, q.shape))
                if q.dtype.kind in "iu":
                    worst_steps = max(worst_steps, int(np.max(np.abs(o.astype(np.int64) - q.astype(np.int64)))))
            if q.dtype.kind in "iu":
                scale, zp = qd["quantization"]
                q = (q.astype(np.float64) - zp) * scale
            ref[k].append(r.ravel())
            got[k].append(np.asarray(q, dtype=np.float64).ravel())
    cosines, top1 = [], []
    for r, q in zip(ref, got):
        r, q = np.concatenate(r), np.concatenate(q)
        d = np.linalg.norm(r) * np.linalg.norm(q)
        cosines.append(float(np.dot(r, q) / d) if d else (1.0 if np.array_equal(r, q) else 0.0))
    for k in range(len(fout)):
        agree = [int(np.argmax(a) == np.argmax(b)) for a, b in zip(ref[k], got[k])]
        top1.append(sum(agree) / max(len(agree), 1))
    worst = min(cosines) if cosines else 1.0
    detail = "cosine %.6f, top-1 agreement %s, LiteRT vs our evaluator: max %d step(s)" % (
        worst, ",".join("%.2f" % t for t in top1), worst_steps)
    ok = worst >= job.get("min_cosine", 0.99) and worst_steps <= job.get("max_steps", 1)
    extra = {"cosine": worst, "top1": top1, "max_steps": worst_steps}
    return _result(job.get("name"), "passed" if ok else "failed", detail, None, extra)


def _classify(path, delegate, xs, layout):
    """Top-1 classes of a one-output classifier for each image of xs."""
    import numpy as np
    it = _make_interpreter(path, delegate)
    _litert("allocate_tensors", it.allocate_tensors)
    ins, outs = it.get_input_details(), it.get_output_details()
    if len(ins) != 1 or len(outs) != 1:
        raise JobError("%s: %d inputs and %d outputs, want one of each"
                       % (os.path.basename(path), len(ins), len(outs)))
    d, o = ins[0], outs[0]
    want = [int(v) for v in d["shape"]]
    classes = []
    for i in range(len(xs)):
        x = xs[i:i + 1]
        if layout == "nhwc":
            x = _to_channels_last(x, "input")
        if list(x.shape) != want:
            raise JobError("%s: image %d has shape %s, the model takes %s"
                           % (os.path.basename(path), i, list(x.shape), want))
        if d["dtype"] in (np.int8, np.uint8, np.int16):
            scale, zp = d["quantization"]
            info = np.iinfo(d["dtype"])
            x = np.clip(np.round(x / scale) + zp, info.min, info.max)
        _litert("set_tensor", it.set_tensor, d["index"], x.astype(d["dtype"]))
        _litert("invoke", it.invoke)
        y = it.get_tensor(o["index"]).astype(np.float64)
        if o["dtype"] in (np.int8, np.uint8, np.int16):
            scale, zp = o["quantization"]
            y = (y - zp) * scale
        classes.append(int(np.argmax(y.ravel())))
    return np.array(classes)


def _run_accuracy(job):
    import numpy as np
    delegate = job.get("delegate", "default")
    layout = job.get("input_layout", "same")
    if layout not in ("nhwc", "same"):
        raise JobError("\"input_layout\" must be \"nhwc\" or \"same\" (got %r)" % (layout,))
    xs = _load_npy(job["inputs"], "inputs").astype(np.float32)
    labels = _load_npy(job["labels"], "labels").astype(np.int64).ravel()
    if len(xs) != len(labels) or not len(labels):
        raise JobError("%d images for %d labels" % (len(xs), len(labels)))
    models = job.get("models")
    if not isinstance(models, list) or not models:
        raise JobError("\"models\" must be a non-empty list")

    def size(p):
        return "%.1f KB" % (os.path.getsize(p) / 1024.0)

    n = len(labels)
    fcls = _classify(job["float"], delegate, xs, layout)
    facc = float(np.mean(fcls == labels))
    acc = {"float": facc}
    ok = True
    parts = ["float %.2f %% (%s)" % (100 * facc, size(job["float"]))]
    mfa = job.get("min_float_accuracy")
    if mfa is not None and facc < mfa:
        ok = False
        parts.append("float below %.2f %%" % (100 * mfa))
    gap = job.get("max_reference_gap")
    refs = job.get("reference") or {}
    for label, r in sorted(refs.items()):
        if r is None:
            continue
        parts.append("%s %.2f %%" % (label, 100 * r))
        if gap is not None and abs(100 * (facc - r)) > gap + 1e-9:
            ok = False
            parts.append("float LiteRT more than %g points from %s" % (gap, label))
    for m in models:
        label = m.get("label", "?")
        cls = _classify(m["model"], delegate, xs, layout)
        a = float(np.mean(cls == labels))
        acc[label] = a
        drop = 100 * (facc - a)
        agree = float(np.mean(cls == fcls))
        parts.append("%s %.2f %% (%s): drop %.2f points, %d/%d wrong (float %d), top-1 agreement with float %.2f %%"
                     % (label, 100 * a, size(m["model"]), drop, int(np.sum(cls != labels)), n,
                        int(np.sum(fcls != labels)), 100 * agree))
        hi, lo = m.get("max_drop"), m.get("min_drop")
        if hi is not None and drop > hi + 1e-9:
            ok = False
            parts.append("%s: drop over %g points" % (label, hi))
        if lo is not None and drop < lo - 1e-9:
            ok = False
            parts.append("%s: drop under %g points" % (label, lo))
    return _result(job.get("name"), "passed" if ok else "failed", "; ".join(parts), None, {"accuracy": acc})
def _run_random(job):
    import numpy as np

    path = job.get("model")
    dist = job.get("distribution")
    seeded = bool(job.get("seeded"))
    delegate = job.get("delegate", "default")

    def draw():
        interp = _make_interpreter(path, delegate)
        _litert("allocate_tensors", interp.allocate_tensors)
        if _litert("get_input_details", interp.get_input_details):
            raise JobError("a random job's model takes no inputs")
        outs = _litert("get_output_details", interp.get_output_details)
        if len(outs) != 1:
            raise JobError("a random job's model has one output, this one %d" % len(outs))
        got = []
        for _ in range(2):
            _litert("invoke", interp.invoke)
            got.append(np.array(_get_output(interp, outs[0]), copy=True))
        return outs[0], got

    d, (a, a2) = draw()
    _, (b, _b2) = draw()
    fails = []
    shape = [int(x) for x in d["shape"]]
    if list(a.shape) != shape:
        fails.append("shape %s, declared %s" % (list(a.shape), shape))
    if np.array_equal(a, a2):
        fails.append("a second invocation repeats the numbers")
    if seeded and not np.array_equal(a, b):
        fails.append("fixed seeds, yet two fresh interpreters differ")
    if not seeded and np.array_equal(a, b):
        fails.append("no seeds, yet two fresh interpreters agree")
    x = a.astype(np.float64).reshape(-1)
    n = x.size
    stats = ""
    if dist in ("uniform", "normal"):
        if a.dtype != np.float32:
            fails.append("dtype %s, want float32" % a.dtype)
        if not np.all(np.isfinite(x)):
            fails.append("non-finite numbers")
        mean, std = float(x.mean()), float(x.std())
        if dist == "uniform":
            mu, sigma = 0.5, 1.0 / np.sqrt(12.0)
            if x.min() < 0.0 or x.max() >= 1.0:
                fails.append("range [%g, %g] is not within [0, 1)" % (x.min(), x.max()))
            inside, p_in = np.mean(x < 0.25), 0.25
        else:
            mu, sigma = 0.0, 1.0
            inside, p_in = np.mean(np.abs(x) < 1.0), 0.6826894921370859
        if abs(mean - mu) > 6 * sigma / np.sqrt(n):
            fails.append("mean %.4f, want %.4f" % (mean, mu))
        if abs(std - sigma) > 6 * sigma / np.sqrt(2 * n):
            fails.append("std %.4f, want %.4f" % (std, sigma))
        if abs(inside - p_in) > 6 * np.sqrt(p_in * (1 - p_in) / n):
            fails.append("P(%s) = %.4f, want %.4f" % ("x<1/4" if dist == "uniform" else "|x|<1", inside, p_in))
        stats = "n=%d mean=%.4f std=%.4f" % (n, mean, std)
    elif dist == "multinomial":
        probs = np.asarray(job.get("probs"), np.float64)
        if a.dtype.kind != "i":
            fails.append("dtype %s, want an integer type" % a.dtype)
        if a.ndim != 2 or a.shape[0] != probs.shape[0]:
            raise JobError("multinomial output %s does not fit %d rows of probabilities"
                           % (list(a.shape), probs.shape[0]))
        if a.min() < 0 or a.max() >= probs.shape[1]:
            fails.append("class index outside [0, %d)" % probs.shape[1])
        worst = 0.0
        for r in range(a.shape[0]):
            m = a.shape[1]
            freq = np.bincount(a[r].clip(0, probs.shape[1] - 1), minlength=probs.shape[1]) / m
            for k, p in enumerate(probs[r]):
                if p == 0.0:
                    if freq[k] != 0:
                        fails.append("row %d draws class %d of probability 0" % (r, k))
                    continue
                z = abs(freq[k] - p) / np.sqrt(p * (1 - p) / m)
                worst = max(worst, z)
                if z > 6:
                    fails.append("row %d class %d frequency %.4f, want %.4f" % (r, k, freq[k], p))
        stats = "%d samples per row, worst |z|=%.2f" % (a.shape[1], worst)
    else:
        raise JobError("unknown distribution %r" % (dist,))
    if fails:
        return _result(job.get("name"), "failed", "; ".join(fails[:4]))
    return _result(job.get("name"), "passed", "%s %s: %s, %s" % (
        dist, a.dtype.name, stats, "deterministic for fixed seeds" if seeded else "differs without seeds"))


def run_job(job):
    """Run one job in this process; always returns a result dict."""
    name = job.get("name") if isinstance(job, dict) else None
    try:
        if not isinstance(job, dict):
            raise JobError("job is not a JSON object")
        kind = job.get("kind")
        if kind == "numpy":
            return _run_numpy(job)
        if kind == "same":
            return _run_same(job)
        if kind == "expected":
            return _run_expected(job)
        if kind == "quantized":
            return _run_quantized(job)
        if kind == "accuracy":
            return _run_accuracy(job)
        if kind == "random":
            return _run_random(job)
        raise JobError("unknown job kind %r (want \"numpy\", \"same\", \"expected\", \"quantized\","
                       " \"accuracy\" or \"random\")" % (kind,))
    except JobError as e:
        # A job may let LiteRT refuse the input sizes it asks for (the
        # dynamic-batch tier's wider runs): a kernel's shape check is then
        # a skip naming that check. A wrong result is still a failure.
        refusal = str(e).startswith(("litert resize_tensor_input failed", "litert allocate_tensors failed",
                                     "litert invoke failed"))
        if refusal and isinstance(job, dict) and job.get("litert_may_refuse"):
            return _result(name, "skipped", "LiteRT refuses these sizes: %s" % e)
        return _result(name, "failed", str(e))
    except Exception as e:  # a bug here must still give a clean result
        return _result(name, "failed", "runner error: %s: %s" % (type(e).__name__, e))


def _child_main(job_text):
    sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
    sys.path.insert(0, _HERE)
    try:
        job = json.loads(job_text)
    except ValueError as e:
        res = _result(None, "failed", "job is not valid JSON: %s" % e)
    else:
        res = run_job(job)
    sys.stdout.write("\n" + _MARK + json.dumps(res) + "\n")
    sys.stdout.flush()
    return 0


# ==========================================================================
# Parent side: one subprocess per job
# ==========================================================================

def _signal_name(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return "signal %d" % n


def _stderr_tail(err):
    lines = [l.strip() for l in err.decode("utf-8", "replace").splitlines() if l.strip()]
    # Skip the interpreter's routine banners.
    lines = [l for l in lines if "Created TensorFlow Lite XNNPACK delegate" not in l]
    return lines[-1][:400] if lines else ""


def _spawn(job, timeout):
    name = job.get("name") if isinstance(job, dict) else None
    cmd = [sys.executable, os.path.abspath(__file__), "--one", json.dumps(job)]
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True, env=env)
    except OSError as e:
        return _result(name, "failed", "interpreter process died: cannot start: %s" % e)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = p.communicate()
        return _result(name, "failed",
                       "interpreter process died: timed out after %gs" % timeout)
    res = None
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith(_MARK):
            try:
                res = json.loads(line[len(_MARK):])
            except ValueError:
                res = None
    rc = p.returncode
    if rc < 0:
        how = "killed by %s" % _signal_name(-rc)
    elif rc != 0:
        how = "exit code %d" % rc
    else:
        how = None
    tail = _stderr_tail(err)
    if res is None:
        detail = "interpreter process died: %s" % (how or "no result reported")
        if tail:
            detail += "; stderr: " + tail
        return _result(name, "failed", detail)
    if how is not None:
        detail = "interpreter process died after reporting (%s): %s" % (
            how, res.get("detail", ""))
        return _result(name, "failed", detail, res.get("max_abs_diff"), _extras(res))
    res["name"] = name
    return _result(name, res.get("status") if res.get("status") in ("passed", "failed", "skipped")
                   else "failed", res.get("detail", ""), res.get("max_abs_diff"), _extras(res))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) >= 1 and argv[0] == "--one":
        if len(argv) != 2:
            sys.stderr.write("usage: runner.py --one JOB_JSON\n")
            return 2
        return _child_main(argv[1])

    ap = argparse.ArgumentParser(description="Run tflite-forge conformance jobs in LiteRT.")
    ap.add_argument("jobs", help="JSON array of jobs")
    ap.add_argument("results", help="where to write the JSON array of results")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)  # exits 2 on usage errors
    if args.workers < 1 or not args.timeout > 0:
        ap.error("--workers must be >= 1 and --timeout > 0")
    try:
        with open(args.jobs, "r", encoding="utf-8") as f:
            jobs = json.load(f)
    except (OSError, ValueError) as e:
        sys.stderr.write("runner.py: cannot read jobs file %s: %s\n" % (args.jobs, e))
        return 2
    if not isinstance(jobs, list):
        sys.stderr.write("runner.py: jobs file must hold a JSON array\n")
        return 2

    results = [None] * len(jobs)
    lock = threading.Lock()

    def work(i):
        r = _spawn(jobs[i], args.timeout)
        with lock:
            results[i] = r

    with ThreadPoolExecutor(max_workers=args.workers) as ex:
        list(ex.map(work, range(len(jobs))))

    tmp = args.results + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
        os.replace(tmp, args.results)
    except OSError as e:
        sys.stderr.write("runner.py: cannot write results %s: %s\n" % (args.results, e))
        return 2
    npass = sum(1 for r in results if r["status"] == "passed")
    sys.stderr.write("runner.py: %d jobs: %d passed, %d failed\n"
                     % (len(results), npass, len(results) - npass))
    return 0


if __name__ == "__main__":
    sys.exit(main())
