#!/usr/bin/env python3
"""Export torchvision classification models to ONNX with both torch exporters.

Usage:
    python export_models.py OUT_DIR [--models resnet18,mobilenet_v2,...]
                                    [--exporters legacy,dynamo]
                                    [--dynamo-opset N] [--batches 1,2]

Runs in the model tier's venv (tests/conformance/requirements-models.txt:
torch, torchvision, onnxscript, onnx, onnxruntime, numpy); it downloads
nothing: every model is built with random weights.

For each model (default: resnet18, mobilenet_v2, mobilenet_v3_small,
squeezenet1_1, shufflenet_v2_x1_0, efficientnet_b0, convnext_tiny, vit_b_16):
- build it with ``weights=None`` after ``torch.manual_seed(0)`` (ViT's
  zero-initialised head gets random weights);
- warm up the BatchNorm statistics: every BatchNorm gets ``momentum=None``
  (a plain cumulative average) and 4 random batches of [4, 3, 224, 224] go
  through the model in train mode under ``torch.no_grad()``; then ``.eval()``.
  Without this the random-weight activations drift far from unit scale;
- export it with the legacy TorchScript exporter
  (``torch.onnx.export(..., dynamo=False, opset_version=17)``) and the dynamo
  exporter (``torch.onnx.export(..., dynamo=True)``, its default opset, >= 18)
  as ``<model>.<legacy|dynamo>.onnx``, with input "input", output "output" and
  a dynamic batch axis, weights inline (no external data);
- run onnxruntime (CPU) at batch 1 and 2 on seeded inputs
  (``np.random.default_rng(100 + batch).standard_normal(...)``, float32, the
  same inputs for both exporters) and save
  ``<model>.<exporter>.b<N>.input.npy`` / ``.output.npy``.  The onnxruntime
  outputs are also compared with torch's own eager outputs.

OUT_DIR/index.json is a JSON array, one object per (model, exporter)::

    {"name": "<model>.<exporter>", "model", "exporter", "onnx": file name or
     null, "opset", "error": null or why the export/check/run failed,
     "size_bytes", "n_nodes", "op_types": {op: count}, "export_seconds",
     "batches": [{"batch", "seed", "input", "output", "input_shape",
                  "output_shape", "max_abs_ref", "torch_max_abs_diff"}],
     "warnings": [...]}

File names are relative to OUT_DIR.  A failed exporter is recorded (error set,
"batches" empty) and the run goes on; the exit status is 0 when index.json was
written, 1 if any entry has an error.
"""

import argparse
import collections
import contextlib
import json
import os
import sys
import time
import traceback
import warnings

DEFAULT_MODELS = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1",
                  "shufflenet_v2_x1_0", "efficientnet_b0", "convnext_tiny", "vit_b_16"]
EXPORTERS = ["legacy", "dynamo"]
LEGACY_OPSET = 17
INPUT_SHAPE = (3, 224, 224)
WARMUP_BATCHES = 4
WARMUP_BATCH_SIZE = 4
# An output whose largest magnitude is below this is suspicious (random
# weights that collapse to ~0 would make every comparison pass).
NEAR_ZERO = 1e-3


def _log(msg):
    sys.stderr.write("export_models: %s\n" % msg)
    sys.stderr.flush()


def _one_line(text, limit=2000):
    s = " | ".join(p.strip() for p in str(text).splitlines() if p.strip())
    return s if len(s) <= limit else s[:limit - 3] + "..."


def build_model(name):
    import torch
    import torchvision

    ctor = getattr(torchvision.models, name, None)
    if ctor is None:
        raise ValueError("torchvision.models has no %r" % name)
    torch.manual_seed(0)
    model = ctor(weights=None)
    heads = getattr(model, "heads", None)
    if heads is not None and hasattr(heads, "head"):
        # ViT's classification head is zero-initialised: every output would
        # be 0 and every comparison would pass.
        torch.nn.init.normal_(heads.head.weight, std=0.05)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the warm-up batches
    model.train()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(WARMUP_BATCHES):
            model(torch.randn((WARMUP_BATCH_SIZE,) + INPUT_SHAPE, generator=g))
    model.eval()
    return model, len(bns)


def _inline_external_data(path):
    """Make sure the file holds its weights inline; returns True if rewritten."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    m = onnx.load(path, load_external_data=False)
    ext = [t for t in m.graph.initializer if uses_external_data(t)]
    if not ext:
        return False
    locations = set()
    for t in ext:
        for kv in t.external_data:
            if kv.key == "location":
                locations.add(kv.value)
    full = onnx.load(path)  # loads the external data
    onnx.save(full, path, save_as_external_data=False)
    for loc in locations:
        p = os.path.join(os.path.dirname(path), loc)
        if os.path.isfile(p):
            os.remove(p)
    return True


def export(model, exporter, path, dynamo_opset):
    import torch

    kw = dict(input_names=["input"], output_names=["output"])
    if exporter == "legacy":
        x = torch.randn((1,) + INPUT_SHAPE)
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=LEGACY_OPSET,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                          do_constant_folding=True, **kw)
    elif exporter == "dynamo":
        # Batch 2 as the example: torch.export specializes sizes 0 and 1.
        x = torch.randn((2,) + INPUT_SHAPE)
        batch = torch.export.Dim("batch", min=1, max=1024)
        if dynamo_opset is not None:
            kw["opset_version"] = dynamo_opset
        prog = torch.onnx.export(model, (x,), None, dynamo=True, dynamic_shapes=({0: batch},),
                                 optimize=True, **kw)
        prog.save(path, external_data=False)
    else:
        raise ValueError("unknown exporter %r" % exporter)
    _inline_external_data(path)


def check_onnx(path):
    """-> (opset, op histogram, n_nodes, warnings)."""
    import onnx

    m = onnx.load(path)
    warns = []
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception as e:
        warns.append("onnx.checker: %s" % _one_line(e, 300))
    opset = None
    for imp in m.opset_import:
        if imp.domain in ("", "ai.onnx"):
            opset = int(imp.version)
    hist = collections.Counter()

    def walk(graph):
        for n in graph.node:
            hist[n.op_type if n.domain in ("", "ai.onnx") else "%s::%s" % (n.domain, n.op_type)] += 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for g in a.graphs:
                    walk(g)

    walk(m.graph)
    if m.functions:
        warns.append("model has local functions: %s" % [f.name for f in m.functions])
    ins = [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
           for i in m.graph.input]
    outs = [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim])
            for o in m.graph.output]
    if [n for n, _ in ins] != ["input"] or [n for n, _ in outs] != ["output"]:
        warns.append("graph inputs %s outputs %s (want input/output)" % (ins, outs))
    for n, dims in ins + outs:
        if not dims or not isinstance(dims[0], str):
            warns.append("%s batch axis is not symbolic: %s" % (n, dims))
    return opset, dict(sorted(hist.items())), sum(hist.values()), warns, ins, outs


def reference_outputs(model, path, stem, out_dir, batches):
    import numpy as np
    import onnxruntime as ort
    import torch

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    res = []
    warns = []
    for b in batches:
        seed = 100 + b
        x = np.random.default_rng(seed).standard_normal((b,) + INPUT_SHAPE).astype(np.float32)
        (y,) = sess.run(["output"], {"input": x})
        with torch.no_grad():
            ty = model(torch.from_numpy(x)).numpy()
        in_name = "%s.b%d.input.npy" % (stem, b)
        out_name = "%s.b%d.output.npy" % (stem, b)
        np.save(os.path.join(out_dir, in_name), x, allow_pickle=False)
        np.save(os.path.join(out_dir, out_name), y, allow_pickle=False)
        mx = float(np.max(np.abs(y))) if y.size else 0.0
        tdiff = float(np.max(np.abs(y.astype(np.float64) - ty))) if y.shape == ty.shape else None
        if not np.all(np.isfinite(y)):
            warns.append("batch %d output has non-finite values" % b)
        if mx < NEAR_ZERO:
            warns.append("batch %d output is near zero (max|ref| = %.3g)" % (b, mx))
        if tdiff is None or tdiff > 1e-3 * max(1.0, mx):
            warns.append("batch %d onnxruntime vs torch eager: max_abs_diff %s" % (b, tdiff))
        res.append({"batch": b, "seed": seed, "input": in_name, "output": out_name,
                    "input_shape": list(x.shape), "output_shape": list(y.shape),
                    "output_dtype": y.dtype.name, "max_abs_ref": mx,
                    "torch_max_abs_diff": tdiff})
    return res, warns


def main(argv=None):
    ap = argparse.ArgumentParser(description="Export torchvision models to ONNX.")
    ap.add_argument("out_dir")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--exporters", default=",".join(EXPORTERS))
    ap.add_argument("--dynamo-opset", type=int, default=None,
                    help="opset for the dynamo exporter (default: its own default)")
    ap.add_argument("--batches", default="1,2")
    args = ap.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    exporters = [e.strip() for e in args.exporters.split(",") if e.strip()]
    for e in exporters:
        if e not in EXPORTERS:
            ap.error("unknown exporter %r (want %s)" % (e, ",".join(EXPORTERS)))
    batches = [int(b) for b in args.batches.split(",") if b.strip()]

    t_start = time.time()
    import numpy as np
    import onnx
    import onnxruntime
    import torch
    import torchvision
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    _log("torch %s torchvision %s onnx %s onnxruntime %s numpy %s (imports %.1fs)"
         % (torch.__version__, torchvision.__version__, onnx.__version__,
            onnxruntime.__version__, np.__version__, time.time() - t_start))

    out_dir = os.path.abspath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    index = []
    for name in models:
        t0 = time.time()
        try:
            model, n_bn = build_model(name)
            build_err = None
        except Exception as e:
            model, n_bn, build_err = None, 0, "build failed: %s: %s" % (type(e).__name__, e)
        _log("%s: built (%d BatchNorms warmed up) in %.1fs" % (name, n_bn, time.time() - t0))
        for exp in exporters:
            stem = "%s.%s" % (name, exp)
            fname = stem + ".onnx"
            path = os.path.join(out_dir, fname)
            entry = collections.OrderedDict(
                name=stem, model=name, exporter=exp, onnx=None, opset=None, error=None,
                size_bytes=None, n_nodes=None, op_types={}, export_seconds=None,
                batches=[], warnings=[])
            index.append(entry)
            if build_err:
                entry["error"] = build_err
                continue
            if os.path.exists(path):
                os.remove(path)
            t1 = time.time()
            try:
                # The dynamo exporter prints progress on stdout: keep stdout
                # for this script's own summary.
                with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
                    warnings.simplefilter("ignore")
                    export(model, exp, path, args.dynamo_opset)
            except Exception as e:
                entry["error"] = "export failed: %s: %s" % (type(e).__name__, _one_line(e))
                entry["traceback_tail"] = _one_line("".join(traceback.format_exc().splitlines(True)[-6:]))
                _log("%s: EXPORT FAILED: %s" % (stem, entry["error"][:300]))
                if os.path.exists(path):
                    os.remove(path)
                continue
            entry["export_seconds"] = round(time.time() - t1, 2)
            entry["onnx"] = fname
            entry["size_bytes"] = os.path.getsize(path)
            try:
                opset, hist, n_nodes, warns, ins, outs = check_onnx(path)
                entry["opset"], entry["op_types"], entry["n_nodes"] = opset, hist, n_nodes
                entry["graph_inputs"] = ins
                entry["graph_outputs"] = outs
                entry["warnings"].extend(warns)
                entry["batches"], warns = reference_outputs(model, path, stem, out_dir, batches)
                entry["warnings"].extend(warns)
            except Exception as e:
                entry["error"] = "check/run failed: %s: %s" % (type(e).__name__, _one_line(e))
            _log("%s: opset %s, %s nodes, %.1f MB, export %.1fs, max|ref| %s%s%s"
                 % (stem, entry["opset"], entry["n_nodes"], entry["size_bytes"] / 1e6,
                    entry["export_seconds"],
                    ["%.3g" % b["max_abs_ref"] for b in entry["batches"]],
                    "; ERROR " + entry["error"] if entry["error"] else "",
                    "; warnings: " + "; ".join(entry["warnings"]) if entry["warnings"] else ""))

    # Same inputs for both exporters: their outputs should agree too.
    by_model = collections.defaultdict(dict)
    for e in index:
        if not e["error"] and e["batches"]:
            by_model[e["model"]][e["exporter"]] = e
    for name, d in by_model.items():
        if "legacy" in d and "dynamo" in d:
            for bl, bd in zip(d["legacy"]["batches"], d["dynamo"]["batches"]):
                yl = np.load(os.path.join(out_dir, bl["output"]))
                yd = np.load(os.path.join(out_dir, bd["output"]))
                diff = float(np.max(np.abs(yl.astype(np.float64) - yd))) if yl.shape == yd.shape else None
                bl["other_exporter_max_abs_diff"] = diff
                bd["other_exporter_max_abs_diff"] = diff

    total = time.time() - t_start
    with open(os.path.join(out_dir, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    nerr = sum(1 for e in index if e["error"])
    print(json.dumps({"entries": len(index), "errors": nerr, "seconds": round(total, 1),
                      "index": os.path.join(out_dir, "index.json")}))
    for e in index:
        if e["error"]:
            print("ERROR %s: %s" % (e["name"], e["error"]))
    return 1 if nerr else 0


if __name__ == "__main__":
    sys.exit(main())
