#!/usr/bin/env python3
"""Dump the ONNX backend node test cases to disk as .onnx + .npy files.

Usage:
    python onnx_node_cases.py OUT_DIR [--filter SUBSTRING]

Runs in the harness's main venv and uses only onnx and numpy (plus
ml_dtypes, which onnx itself needs).  The cases are the ones onnx builds in
memory with ``onnx.backend.test.case.node.collect_testcases()`` (about 1,900
in onnx 1.23); each carries a one-node (or function-expanded) model and one
data set of inputs and expected outputs.

For every case this writes::

    OUT_DIR/<case>/model.onnx
    OUT_DIR/<case>/input_<i>.npy     (one per graph input, in graph order)
    OUT_DIR/<case>/output_<i>.npy    (the expected outputs the case carries)

and OUT_DIR/index.json, a JSON array with one object per case (every case,
none skipped silently)::

    {"name", "dir", "op_types": [sorted op types of the main graph's nodes,
                                 "domain::Op" when the domain is not the
                                 default one],
     "subgraph_op_types": [op types found only in If/Loop/Scan/... bodies],
     "opset": default-domain opset import (int or null),
     "opset_imports": {domain: version},
     "n_inputs", "n_outputs", "input_names", "output_names",
     "rtol", "atol"  (the tolerances the case itself asks for),
     "dumpable": true|false, "reason": why not (only when false),
     "inputs"/"outputs": [{"name", "file", "dtype", "npy_dtype", "shape",
                           "encoding"}]  (only when dumpable)}

Values that .npy cannot hold faithfully:
- bfloat16 / float8* / float4e2m1 are stored as their raw bit patterns
  (uint16 / uint8), ``"encoding": "bits"``;
- int4 / int2 / uint4 / uint2 are stored one value per byte as int8 / uint8,
  ``"encoding": "widened"``;
- everything else is ``"encoding": "native"`` with ``dtype == npy_dtype``.
Strings, sequences, optionals (and maps) cannot be stored as plain .npy: such
a case keeps its model.onnx but gets ``"dumpable": false`` and a reason, and
no .npy files.

Exit status 0 when index.json was written.
"""

import argparse
import collections
import json
import os
import shutil
import sys
import time
import warnings

import numpy as np
import onnx
from onnx import numpy_helper

# ONNX element type names for dtypes numpy/ml_dtypes name differently.
_BITS = {  # ml_dtypes name -> (npy storage dtype)
    "bfloat16": np.uint16,
    "float8_e4m3fn": np.uint8,
    "float8_e4m3fnuz": np.uint8,
    "float8_e5m2": np.uint8,
    "float8_e5m2fnuz": np.uint8,
    "float8_e8m0fnu": np.uint8,
    "float4_e2m1fn": np.uint8,
}
_WIDEN = {  # ml_dtypes name -> numpy dtype holding one value per byte
    "int4": np.int8,
    "int2": np.int8,
    "uint4": np.uint8,
    "uint2": np.uint8,
}
_NATIVE_KINDS = "biuf c".replace(" ", "")


class NotDumpable(Exception):
    pass


def _to_npy(value, what):
    """-> (array to np.save, dtype name, encoding)."""
    if value is None:
        raise NotDumpable("%s is an empty optional (None)" % what)
    if isinstance(value, (list, tuple)):
        raise NotDumpable("%s is a sequence (list of %d)" % (what, len(value)))
    if isinstance(value, dict):
        raise NotDumpable("%s is a map" % what)
    if isinstance(value, onnx.TensorProto):
        value = numpy_helper.to_array(value)
    elif isinstance(value, (onnx.SequenceProto, onnx.MapProto, onnx.OptionalProto)):
        raise NotDumpable("%s is a %s" % (what, type(value).__name__))
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise NotDumpable("%s has unsupported type %s" % (what, type(value).__name__))
    name = value.dtype.name
    if name in _BITS:
        store = _BITS[name]
        if value.dtype.itemsize != np.dtype(store).itemsize:
            raise NotDumpable("%s: %s has itemsize %d" % (what, name, value.dtype.itemsize))
        return np.ascontiguousarray(value).view(store), name, "bits"
    if name in _WIDEN:
        return value.astype(_WIDEN[name]), name, "widened"
    if value.dtype.kind == "O" or value.dtype.kind in "SU":
        raise NotDumpable("%s is a string tensor" % what)
    if value.dtype.kind not in _NATIVE_KINDS or value.dtype.names is not None:
        raise NotDumpable("%s has dtype %s that .npy cannot hold" % (what, name))
    return value, name, "native"


def _op_name(node):
    dom = node.domain
    if dom in ("", "ai.onnx"):
        return node.op_type
    return "%s::%s" % (dom, node.op_type)


def _subgraph_ops(graph, acc):
    for node in graph.node:
        for attr in node.attribute:
            subs = []
            if attr.type == onnx.AttributeProto.GRAPH:
                subs = [attr.g]
            elif attr.type == onnx.AttributeProto.GRAPHS:
                subs = list(attr.graphs)
            for g in subs:
                for n in g.node:
                    acc.add(_op_name(n))
                _subgraph_ops(g, acc)


def _default_opset(model):
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return None


def _case_entry(case, out_dir):
    model = case.model
    g = model.graph
    top = sorted({_op_name(n) for n in g.node})
    nested = set()
    _subgraph_ops(g, nested)
    entry = collections.OrderedDict()
    entry["name"] = case.name
    entry["dir"] = case.name
    entry["op_types"] = top
    entry["subgraph_op_types"] = sorted(nested - set(top))
    entry["opset"] = _default_opset(model)
    entry["opset_imports"] = {(imp.domain or ""): int(imp.version) for imp in model.opset_import}
    entry["n_inputs"] = len(g.input)
    entry["n_outputs"] = len(g.output)
    entry["input_names"] = [v.name for v in g.input]
    entry["output_names"] = [v.name for v in g.output]
    entry["rtol"] = float(case.rtol)
    entry["atol"] = float(case.atol)
    if model.functions:
        entry["local_functions"] = ["%s::%s" % (f.domain, f.name) for f in model.functions]

    case_dir = os.path.join(out_dir, case.name)
    os.makedirs(case_dir, exist_ok=True)
    onnx.save_model(model, os.path.join(case_dir, "model.onnx"))

    reasons = []
    sets = case.data_sets or []
    if len(sets) != 1:
        reasons.append("case has %d data sets (want 1)" % len(sets))
    else:
        ins, outs = sets[0]
        ins, outs = list(ins), list(outs)
        if len(ins) != len(g.input):
            reasons.append("%d input values for %d graph inputs" % (len(ins), len(g.input)))
        if len(outs) != len(g.output):
            reasons.append("%d output values for %d graph outputs" % (len(outs), len(g.output)))
    if reasons:
        entry["dumpable"] = False
        entry["reason"] = "; ".join(reasons)
        return entry

    staged = {"inputs": [], "outputs": []}
    for kind, values, vinfos, prefix in (("inputs", ins, g.input, "input"),
                                         ("outputs", outs, g.output, "output")):
        for i, (val, vi) in enumerate(zip(values, vinfos)):
            try:
                arr, dtype, enc = _to_npy(val, "%s %d %r" % (prefix, i, vi.name))
            except NotDumpable as e:
                reasons.append(str(e))
                continue
            staged[kind].append((i, vi.name, arr, dtype, enc, "%s_%d.npy" % (prefix, i)))
    if reasons:
        entry["dumpable"] = False
        entry["reason"] = "; ".join(reasons)
        return entry

    entry["dumpable"] = True
    for kind in ("inputs", "outputs"):
        lst = []
        for i, name, arr, dtype, enc, fname in staged[kind]:
            np.save(os.path.join(case_dir, fname), arr, allow_pickle=False)
            lst.append({"name": name, "file": fname, "dtype": dtype,
                        "npy_dtype": arr.dtype.name, "shape": [int(d) for d in arr.shape],
                        "encoding": enc})
        entry[kind] = lst
    return entry


def main(argv=None):
    ap = argparse.ArgumentParser(description="Dump ONNX backend node test cases.")
    ap.add_argument("out_dir")
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    args = ap.parse_args(argv)

    t0 = time.time()
    from onnx.backend.test.case import node as node_cases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the case generators' own overflow warnings
        cases = node_cases.collect_testcases()
    t_collect = time.time() - t0
    cases = [c for c in cases if args.filter in c.name]

    out_dir = os.path.abspath(args.out_dir)
    if os.path.isdir(out_dir):
        # Only clear what this script writes, never an unrelated folder.
        if os.path.exists(os.path.join(out_dir, "index.json")):
            shutil.rmtree(out_dir)
        elif os.listdir(out_dir):
            sys.stderr.write("onnx_node_cases.py: %s exists, is not empty and has no "
                             "index.json; refusing to write into it\n" % out_dir)
            return 2
    os.makedirs(out_dir, exist_ok=True)

    index = []
    failed = 0
    for case in cases:
        try:
            entry = _case_entry(case, out_dir)
        except Exception as e:  # never skip silently
            failed += 1
            entry = {"name": case.name, "dir": case.name, "dumpable": False,
                     "reason": "dump error: %s: %s" % (type(e).__name__, e)}
        index.append(entry)

    with open(os.path.join(out_dir, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
        f.write("\n")

    dumpable = [e for e in index if e.get("dumpable")]
    not_dumpable = [e for e in index if not e.get("dumpable")]
    reasons = collections.Counter()
    for e in not_dumpable:
        r = e["reason"]
        for key in ("string tensor", "sequence", "optional", "map", "dump error", "data sets"):
            if key in r:
                reasons[key] += 1
                break
        else:
            reasons["other"] += 1
    enc = collections.Counter(t["encoding"] for e in dumpable
                              for t in e["inputs"] + e["outputs"])
    ops = collections.Counter(op for e in index for op in e.get("op_types", []))
    opsets = collections.Counter(e.get("opset") for e in index)
    print("onnx %s: %d cases collected in %.1fs, %d written to %s in %.1fs"
          % (onnx.__version__, len(cases), t_collect, len(index), out_dir, time.time() - t0))
    print("dumpable: %d, not dumpable: %d %s" % (len(dumpable), len(not_dumpable),
                                                  dict(reasons)))
    print("tensor encodings: %s" % dict(enc))
    print("distinct op types: %d; default-domain opsets: %s"
          % (len(ops), dict(sorted(opsets.items(), key=lambda kv: (kv[0] is None, kv[0])))))
    print("top op types: %s" % ", ".join("%s=%d" % kv for kv in ops.most_common(25)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
