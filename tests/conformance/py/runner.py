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

    {"name": ..., "status": "passed"|"failed", "detail": "<one line>",
     "max_abs_diff": float|null}

Job kinds:

numpy  {"name", "kind": "numpy", "model", "signature": key|null, "seed",
        "rtol", "atol", "quant_tol" (default 1), "resize": {name: dims}|null,
        "delegate": "default"|"none"}
       Runs the model in LiteRT (through the signature runner with inputs
       passed by name when "signature" is set, else set_tensor / invoke /
       get_tensor on subgraph 0) and in the NumPy reference (reference.py) on
       the same inputs, and compares every output.
same   {"name", "kind": "same", "model", "other", "seed", "delegate"}
       Runs both files on identical inputs and requires the same interface
       and bit-identical outputs.

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
from concurrent.futures import ThreadPoolExecutor

_MARK = "@@TFLITE_FORGE_RESULT@@ "
_HERE = os.path.dirname(os.path.abspath(__file__))
_MAX_DETAIL = 1500


def _one_line(text, limit=_MAX_DETAIL):
    s = " | ".join(part.strip() for part in str(text).splitlines() if part.strip())
    if len(s) > limit:
        s = s[:limit - 3] + "..."
    return s


def _result(name, status, detail, max_abs_diff=None):
    if max_abs_diff is not None:
        try:
            max_abs_diff = float(max_abs_diff)
        except (TypeError, ValueError):
            max_abs_diff = None
        if max_abs_diff is not None and not math.isfinite(max_abs_diff):
            max_abs_diff = None
    return {"name": name, "status": status, "detail": _one_line(detail),
            "max_abs_diff": max_abs_diff}


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
        litert_out = [_litert("get_tensor", interp.get_tensor, ti) for ti in out_idx]
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
        raise JobError("unknown job kind %r (want \"numpy\" or \"same\")" % (kind,))
    except JobError as e:
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
        return _result(name, "failed", detail, res.get("max_abs_diff"))
    res["name"] = name
    return _result(name, res.get("status") if res.get("status") in ("passed", "failed")
                   else "failed", res.get("detail", ""), res.get("max_abs_diff"))


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
