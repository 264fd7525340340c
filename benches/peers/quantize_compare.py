"""Side by side: full int8 quantization by tflite-forge and by ai-edge-quantizer.

Run it from a venv with ai-edge-quantizer and ai-edge-litert (the README
says how):

    python benches/peers/quantize_compare.py MODEL.onnx --ours target/release/tflite-forge [--samples 100]

It writes N calibration samples in the ONNX layout (NCHW `.npy` files, one
sample each, seeded standard-normal values), then measures in the same run
on the same machine:

- ours: the whole `tflite-forge convert MODEL.onnx --quantize int8
  --calibration DIR` process (ONNX parsing, lowering, calibration on the
  NCHW samples, quantization, the per-layer report, writing);
- ai-edge-quantizer: calibrating and quantizing our float `.tflite` of the
  same model with the same samples (in the file's NHWC layout), recipe
  `static_wi8_ai8`, the model load, calibration, quantization and export
  timed in this process.

Ours also quantizes from the same samples in NHWC (untimed) and checks
that the two files are byte-identical. Both quantized files then run in LiteRT on held-out samples; the script
prints wall time, CPU time (user + system), peak RSS (ours), file size and cosine against our float
file, and writes a JSON summary with --json.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def run_litert(path, xs):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path, num_threads=2)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    res = []
    for x in xs:
        if tuple(inp["shape"]) != x.shape:
            x = np.transpose(x, (0, 2, 3, 1))
        if inp["dtype"] != np.float32:
            s, z = inp["quantization"]
            x = np.clip(np.round(x / s + z), np.iinfo(inp["dtype"]).min, np.iinfo(inp["dtype"]).max)
        it.set_tensor(inp["index"], x.astype(inp["dtype"]))
        it.invoke()
        y = it.get_tensor(out["index"]).astype(np.float64)
        if out["dtype"] != np.float32:
            s, z = out["quantization"]
            y = (y - z) * s
        res.append(y.ravel())
    return np.concatenate(res)


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("onnx")
    ap.add_argument("--ours", required=True)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--held-out", type=int, default=8)
    ap.add_argument("--json")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="qcompare-")
    calib = os.path.join(work, "calib")
    os.makedirs(calib)
    rng = np.random.default_rng(0)
    shape = (1, 3, 224, 224)
    for i in range(a.samples):
        np.save(os.path.join(calib, "%04d.npy" % i), rng.standard_normal(shape).astype(np.float32))
    held = [rng.standard_normal(shape).astype(np.float32) for _ in range(a.held_out)]

    float_path = os.path.join(work, "float.tflite")
    subprocess.run([a.ours, "convert", a.onnx, "-o", float_path, "--batch", "1"], check=True, capture_output=True)

    ours_path = os.path.join(work, "ours_int8.tflite")
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(
        [a.ours, "convert", a.onnx, "-o", ours_path, "--batch", "1", "--quantize", "int8", "--calibration", calib],
        capture_output=True, text=True)
    ours_s = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours_cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    ours_rss = c1.ru_maxrss / 1024
    if p.returncode != 0:
        sys.exit("tflite-forge failed: " + p.stderr)

    # The same samples in the converted (NHWC) layout must give the same bytes.
    calib_nhwc = os.path.join(work, "calib_nhwc")
    os.makedirs(calib_nhwc)
    for i in range(a.samples):
        x = np.load(os.path.join(calib, "%04d.npy" % i))
        np.save(os.path.join(calib_nhwc, "%04d.npy" % i), np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1))))
    nhwc_path = os.path.join(work, "ours_int8_nhwc.tflite")
    subprocess.run([a.ours, "convert", a.onnx, "-o", nhwc_path, "--batch", "1", "--quantize", "int8", "--calibration", calib_nhwc],
                   check=True, capture_output=True)
    with open(ours_path, "rb") as f1, open(nhwc_path, "rb") as f2:
        layouts_identical = f1.read() == f2.read()

    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    sig = Interpreter(model_path=float_path).get_signature_list()
    key = next(iter(sig))
    name = sig[key]["inputs"][0]
    peer_path = os.path.join(work, "aeq_int8.tflite")
    s0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    qt = quantizer.Quantizer(float_path, recipe.static_wi8_ai8())
    data = [{name: np.transpose(np.load(os.path.join(calib, "%04d.npy" % i)), (0, 2, 3, 1))} for i in range(a.samples)]
    t_cal = time.perf_counter()
    result = qt.calibrate({key: data})
    cal_s = time.perf_counter() - t_cal
    qt.quantize(result).export_model(peer_path, overwrite=True)
    peer_s = time.perf_counter() - t
    s1 = resource.getrusage(resource.RUSAGE_SELF)
    peer_cpu = (s1.ru_utime - s0.ru_utime) + (s1.ru_stime - s0.ru_stime)

    ref = run_litert(float_path, held)
    rows = {
        "tflite-forge": {"seconds": ours_s, "cpu_seconds": ours_cpu, "peak_rss_mb": ours_rss, "bytes": os.path.getsize(ours_path), "cosine": cosine(ref, run_litert(ours_path, held))},
        "ai-edge-quantizer": {"seconds": peer_s, "cpu_seconds": peer_cpu, "calibrate_seconds": cal_s, "bytes": os.path.getsize(peer_path), "cosine": cosine(ref, run_litert(peer_path, held))},
    }
    summary = {"model": os.path.basename(a.onnx), "samples": a.samples, "cpus": os.cpu_count(), "load_average": os.getloadavg(), "results": rows,
               "ratio": ours_s / peer_s, "nchw_nhwc_identical": layouts_identical}
    for k, r in rows.items():
        print("%-18s %7.2f s wall  %7.2f s CPU  %9d B  cosine %.6f" % (k, r["seconds"], r["cpu_seconds"], r["bytes"], r["cosine"]))
    print("ratio ours / ai-edge-quantizer: %.2f (load average %.1f)" % (summary["ratio"], summary["load_average"][0]))
    print("ours from NCHW and from NHWC samples byte-identical: %s" % layouts_identical)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
