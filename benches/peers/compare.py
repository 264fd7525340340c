"""Side-by-side: tflite-forge and the Python converters on one ONNX model.

Run it from a venv that has the peers installed (the README says how):

    python benches/peers/compare.py MODEL.onnx --ours target/release/tflite-forge

For each converter it measures, in the same run on the same machine:
wall time of the whole conversion process, its peak RSS, the size of the
.tflite, the TRANSPOSE count (ops as LiteRT's interpreter sees them, without
delegates), whether the input and output names survive, and the largest
difference from onnxruntime on one random input. A converter that is not
installed, or fails, is reported with its error, not left out.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np


def tflite_facts(path, onnx_path, feed):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    import onnxruntime as ort

    plain = Interpreter(model_path=path, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ops = [o["op_name"] for o in plain._get_ops_details()]
    it = Interpreter(model_path=path)
    it.allocate_tensors()
    ins, outs = it.get_input_details(), it.get_output_details()
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    ref = sess.run(None, feed)
    x = next(iter(feed.values()))
    shape = tuple(ins[0]["shape"])
    if shape != x.shape:  # channels-last interface
        x = np.transpose(x, (0, 2, 3, 1))
    it.set_tensor(ins[0]["index"], x.astype(ins[0]["dtype"]))
    it.invoke()
    got = it.get_tensor(outs[0]["index"])
    diff = float(np.max(np.abs(got.reshape(ref[0].shape) - ref[0]))) if got.size == ref[0].size else None
    return {
        "ops": len(ops),
        "transpose": ops.count("TRANSPOSE"),
        "bytes": os.path.getsize(path),
        "input_names": [d["name"] for d in ins],
        "output_names": [d["name"] for d in outs],
        "max_abs_diff_vs_onnxruntime": diff,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("onnx")
    ap.add_argument("--ours", required=True, help="the tflite-forge CLI (release build)")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()

    import onnx
    model = onnx.load(args.onnx, load_external_data=False)
    inp = model.graph.input[0]
    dims = [d.dim_value if d.dim_value > 0 else 1 for d in inp.type.tensor_type.shape.dim]
    feed = {inp.name: np.random.default_rng(0).standard_normal(dims).astype(np.float32)}
    onnx_names = {"inputs": [i.name for i in model.graph.input], "outputs": [o.name for o in model.graph.output]}

    results = {"model": os.path.basename(args.onnx), "onnx_names": onnx_names, "converters": {}}
    work = tempfile.mkdtemp(prefix="peers-")
    py = sys.executable

    def record(name, version, cmd, find_output):
        # Each conversion runs in a fresh `python -c` or binary process, one
        # after another, so RUSAGE_CHILDREN's max is taken per converter by
        # wrapping it in its own measuring child.
        wrapper = [py, "-c", (
            "import resource,subprocess,sys,time,json;"
            "t=time.perf_counter();p=subprocess.run(sys.argv[1:],stdout=subprocess.PIPE,stderr=subprocess.STDOUT,text=True);"
            "s=time.perf_counter()-t;"
            "print(json.dumps({'secs':s,'rss_mb':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024,'rc':p.returncode,'tail':p.stdout[-1500:]}))"
        )] + cmd
        proc = subprocess.run(wrapper, stdout=subprocess.PIPE, text=True)
        m = json.loads(proc.stdout.strip().splitlines()[-1])
        entry = {"version": version, "seconds": round(m["secs"], 2), "peak_rss_mb": round(m["rss_mb"]), "rc": m["rc"]}
        out = find_output() if m["rc"] == 0 else None
        if out:
            try:
                entry.update(tflite_facts(out, args.onnx, feed))
            except Exception as e:  # noqa: BLE001 - report, do not hide
                entry["run_error"] = f"{type(e).__name__}: {e}"[:300]
        else:
            entry["error"] = m["tail"][-600:]
        results["converters"][name] = entry

    ours_out = os.path.join(work, "ours.tflite")
    version = subprocess.run([args.ours, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    record("tflite-forge", version, [args.ours, "convert", args.onnx, "-o", ours_out], lambda: ours_out)

    try:
        import onnx2tf  # noqa: F401
        from importlib.metadata import version as v
        o2t = os.path.join(work, "onnx2tf")
        record("onnx2tf", v("onnx2tf") + " (tensorflow " + v("tensorflow") + ")",
               [py, "-m", "onnx2tf", "-i", args.onnx, "-o", o2t, "-n"],
               lambda: next(iter(sorted(glob.glob(os.path.join(o2t, "*_float32.tflite")))), None))
    except ImportError as e:
        results["converters"]["onnx2tf"] = {"error": f"not installed: {e}"}

    # onnx-tf + TFLiteConverter, the path most tutorials still show.
    try:
        import onnx_tf  # noqa: F401
        results["converters"]["onnx-tf"] = {"error": "imports; conversion not scripted here"}
    except Exception as e:  # noqa: BLE001
        results["converters"]["onnx-tf"] = {"error": f"{type(e).__name__}: {e}"[:300]}

    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
