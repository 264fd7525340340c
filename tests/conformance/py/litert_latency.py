#!/usr/bin/env python3
"""Median LiteRT latency of a .tflite model, to set beside the reference
evaluator's (examples/eval_latency.rs).

Usage:
    python litert_latency.py MODEL.tflite [--runs 20] [--warmup 2] [--threads 1]

Every input is fed seeded uniform values in [-2, 2) of its dtype and shape.
The interpreter is LiteRT's (ai-edge-litert) with its default delegate
(XNNPACK for float32) and ``num_threads`` threads; each timed run is one
``invoke``. Prints one JSON object on stdout:

    {"model", "median_ms", "min_ms", "max_ms", "runs", "warmup", "threads"}
"""

import argparse
import json
import statistics
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description="Median LiteRT latency.")
    ap.add_argument("model")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("--runs and --threads must be >= 1, --warmup >= 0")

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=args.model, num_threads=args.threads)
    interp.allocate_tensors()
    rng = np.random.default_rng(7)
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], rng.uniform(-2, 2, d["shape"]).astype(d["dtype"]))
    for _ in range(args.warmup):
        interp.invoke()
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({
        "model": args.model,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "runs": args.runs,
        "warmup": args.warmup,
        "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
