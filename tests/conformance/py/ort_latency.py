#!/usr/bin/env python3
"""Median onnxruntime latency of an ONNX model, to set beside LiteRT's.

Usage:
    python ort_latency.py MODEL.onnx INPUT.npy [INPUT2.npy ...]
                          [--runs 20] [--warmup 2] [--threads 1]

The arrays feed the graph inputs in order (cast to nothing: they must have
the graph's dtypes).  onnxruntime runs on the CPU execution provider with
``threads`` intra-op threads (default 1, as the LiteRT side's
``"latency": {"threads": 1}``), one inter-op thread, sequential execution
and full graph optimization; each timed run is one ``session.run`` (input
copy, compute, output allocation).  Prints one JSON object on stdout::

    {"model", "median_ms", "min_ms", "max_ms", "runs", "warmup", "threads",
     "onnxruntime", "provider", "inputs": [{"name", "shape", "dtype"}],
     "outputs": [{"name", "shape", "dtype"}]}

Exit status 0 on success, 1 when the model cannot be loaded or run, 2 on
usage errors.  Runs in either venv (needs only numpy and onnxruntime).
"""

import argparse
import json
import statistics
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description="Median onnxruntime latency.")
    ap.add_argument("model")
    ap.add_argument("inputs", nargs="+", help=".npy arrays, one per graph input, in order")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("--runs and --threads must be >= 1, --warmup >= 0")

    import numpy as np
    import onnxruntime as ort

    try:
        arrays = [np.load(p, allow_pickle=False) for p in args.inputs]
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
        ins = sess.get_inputs()
        if len(ins) != len(arrays):
            raise ValueError("model has %d inputs, %d arrays given" % (len(ins), len(arrays)))
        feeds = {i.name: a for i, a in zip(ins, arrays)}
        for _ in range(args.warmup):
            outs = sess.run(None, feeds)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            outs = sess.run(None, feeds)
            times.append((time.perf_counter() - t0) * 1e3)
    except Exception as e:
        sys.stderr.write("ort_latency.py: %s: %s\n" % (type(e).__name__, e))
        return 1
    print(json.dumps({
        "model": args.model,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "runs": args.runs,
        "warmup": args.warmup,
        "threads": args.threads,
        "onnxruntime": ort.__version__,
        "provider": sess.get_providers()[0],
        "inputs": [{"name": i.name, "shape": list(a.shape), "dtype": a.dtype.name}
                   for i, a in zip(ins, arrays)],
        "outputs": [{"name": o.name, "shape": list(np.shape(v)), "dtype": np.asarray(v).dtype.name}
                    for o, v in zip(sess.get_outputs(), outs)],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
