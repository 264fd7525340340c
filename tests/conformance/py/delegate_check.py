"""Which nodes of each model does LiteRT's default XNNPACK delegate claim?

Reads a JSON list of .tflite paths (argv[1]) and writes a JSON object
(argv[2]) mapping each path to {"nodes": N, "claimed": [...],
"delegate_nodes": K} or {"error": "..."}.

How it is observed: the interpreter built with the default op resolver
applies XNNPACK (its default delegate) on the first allocate_tensors().
Delegation replaces each partition of claimed nodes by one DELEGATE node
appended after the original nodes, which `_get_ops_details()` still lists
with their own indices. A tensor is produced by exactly one node, so an
original node was claimed when one of its outputs is produced by a DELEGATE
node (a partition's output) or is no longer allocated (a tensor internal
to a partition: reading it fails with "Tensor data is null"). The model is
invoked once on zeros first, so that the dynamic outputs of nodes left to
the interpreter are allocated. Only the primary subgraph is visible.
"""

import json
import sys

import numpy as np
from ai_edge_litert import interpreter as litert


def observe(path):
    interp = litert.Interpreter(model_path=path)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.zeros(d["shape"], dtype=d["dtype"]))
    invoked = True
    try:
        interp.invoke()
    except Exception:  # noqa: BLE001 - a failed run only weakens the dynamic-tensor check
        invoked = False
    ops = interp._get_ops_details()
    delegate_nodes = [o for o in ops if o["op_name"] == "DELEGATE"]
    delegate_outputs = {int(t) for o in delegate_nodes for t in o["outputs"]}
    # The DELEGATE nodes come after the original ones.
    n = len(ops) - len(delegate_nodes)
    claimed = []
    for o in ops[:n]:
        outs = [int(t) for t in o["outputs"] if int(t) >= 0]
        hit = False
        for t in outs:
            if t in delegate_outputs:
                hit = True
                break
            try:
                interp.get_tensor(t)
            except ValueError as e:
                if "null" in str(e):
                    hit = True
                    break
        if hit:
            claimed.append(int(o["index"]))
    return {"nodes": n, "claimed": claimed, "delegate_nodes": len(delegate_nodes), "invoked": invoked}


def main():
    paths = json.load(open(sys.argv[1]))
    out = {}
    for p in paths:
        try:
            out[p] = observe(p)
        except Exception as e:  # noqa: BLE001 - reported per model
            out[p] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(out, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
