#!/usr/bin/env python3
"""Export small models quantized by onnxruntime, with onnxruntime's outputs.

Usage:
    python export_quant_models.py OUT_DIR

Runs in the model tier's venv (torch, onnx, onnxruntime, numpy).  Every
model has random weights (seeded, BatchNorm statistics warmed up) and one
float32 input "input" and one output "output".

Models:
- resnet_qdq_u8: a small ResNet (stem convolution, max pool, two basic
  blocks, the second with a strided 1x1 downsample, global average pool,
  linear head), quantized with quantize_static in QDQ format: uint8
  activations, int8 weights per tensor (onnxruntime's defaults), calibrated
  on 16 random samples;
- resnet_qdq_s8: the same network, int8 activations and int8 weights per
  channel;
- mixed_qdq_u8: convolutions with Sigmoid, Mul, AveragePool, nearest
  Resize, Concat, Transpose, Reshape and a final Softmax, quantized with
  quantize_static (QDQ, uint8 activations, int8 per-channel weights);
- mlp_dynamic: a transformer-style MatMul block (two linear layers with a
  residual, then a linear head) on [1, 8, 32], quantized with
  quantize_dynamic (int8 weights; uint8 activations quantized at run time
  by DynamicQuantizeLinear, MatMulInteger).

OUT_DIR/index.json is a JSON array, one object per model::

    {"name", "onnx", "error", "kind": "static"|"dynamic", "image": bool,
     "output_scale": the scale of the output's last DequantizeLinear (static),
     "runs": [{"input", "output", "max_abs_ref"}]}
"""

import json
import os
import sys
import traceback


def _log(msg):
    sys.stderr.write("export_quant_models: %s\n" % msg)
    sys.stderr.flush()


def resnet():
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            y = self.b2(self.c2(y))
            s = x if self.down is None else self.down(x)
            return torch.relu(y + s)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
            self.pool = nn.MaxPool2d(3, 2, 1)
            self.l1 = Block(16, 16, 1)
            self.l2 = Block(16, 32, 2)
            self.head = nn.Linear(32, 10)

        def forward(self, x):
            x = self.pool(self.stem(x))
            x = self.l2(self.l1(x))
            x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
            return self.head(x)

    return Net(), (1, 3, 32, 32)


def mixed():
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        """Convolutions with the other ops the QDQ rewrite makes int8:
        Sigmoid, Mul, AveragePool, nearest Resize, Concat, Transpose,
        Reshape and Softmax."""

        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
            self.c2 = nn.Conv2d(8, 8, 3, 2, 1)
            self.c3 = nn.Conv2d(16, 4, 1)

        def forward(self, x):
            a = torch.relu(self.c1(x))
            g = torch.sigmoid(a) * a
            d = nn.functional.avg_pool2d(self.c2(g), 2)
            u = nn.functional.interpolate(d, scale_factor=4, mode="nearest")
            y = self.c3(torch.cat([u, a], 1))
            y = y.permute(0, 2, 3, 1).reshape(1, -1, 4)
            return torch.softmax(y, -1)

    return Net(), (1, 3, 16, 16)


def mlp():
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(32, 64)
            self.fc2 = nn.Linear(64, 32)
            self.head = nn.Linear(32, 10)

        def forward(self, x):
            h = torch.relu(self.fc1(x))
            return self.head(x + self.fc2(h))

    return Net(), (1, 8, 32)


def export_float(net, shape, path):
    import torch
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    net.train()
    with torch.no_grad():
        for _ in range(4):
            net(torch.randn(8, *shape[1:]))
    net.eval()
    torch.onnx.export(net, (torch.randn(*shape),), path, input_names=["input"], output_names=["output"],
                      opset_version=17, dynamo=False)


def output_scale(model_path):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(model_path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear" and n.output[0] in [o.name for o in m.graph.output]:
            return float(inits[n.input[1]].reshape(-1)[0])
    # The output may come from an op after the last DequantizeLinear: take
    # the scale of the QuantizeLinear feeding it.
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear":
            last = n
    return float(inits[last.input[1]].reshape(-1)[0])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)

    index = []
    rng = np.random.default_rng(0)

    class Reader(CalibrationDataReader):
        def __init__(self, shape):
            self.data = iter([{"input": rng.standard_normal(shape).astype(np.float32)} for _ in range(16)])

        def get_next(self):
            return next(self.data, None)

    specs = [
        ("resnet_qdq_u8", resnet, "static", dict(activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=False)),
        ("resnet_qdq_s8", resnet, "static", dict(activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)),
        ("mixed_qdq_u8", mixed, "static", dict(activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)),
        ("mlp_dynamic", mlp, "dynamic", dict(weight_type=QuantType.QInt8)),
    ]
    for name, build, kind, kw in specs:
        entry = {"name": name, "kind": kind, "error": None}
        try:
            torch.manual_seed(0)
            net, shape = build()
            fpath = os.path.join(out, name + ".float.onnx")
            export_float(net, shape, fpath)
            qpath = os.path.join(out, name + ".onnx")
            if kind == "static":
                quantize_static(fpath, qpath, Reader(shape), quant_format=QuantFormat.QDQ, **kw)
                entry["output_scale"] = output_scale(qpath)
            else:
                quantize_dynamic(fpath, qpath, **kw)
            entry["onnx"] = name + ".onnx"
            entry["image"] = len(shape) == 4
            sess = ort.InferenceSession(qpath, providers=["CPUExecutionProvider"])
            fsess = ort.InferenceSession(fpath, providers=["CPUExecutionProvider"])
            runs = []
            for k in range(3):
                x = rng.standard_normal(shape).astype(np.float32)
                y = sess.run(None, {"input": x})[0]
                yf = fsess.run(None, {"input": x})[0]
                xi, yo = "%s.%d.input.npy" % (name, k), "%s.%d.output.npy" % (name, k)
                np.save(os.path.join(out, xi), x)
                np.save(os.path.join(out, yo), y)
                runs.append({"input": xi, "output": yo, "max_abs_ref": float(np.max(np.abs(y))),
                             "max_abs_diff_float": float(np.max(np.abs(y - yf)))})
            entry["runs"] = runs
            entry["op_types"] = sorted({n.op_type for n in __import__("onnx").load(qpath).graph.node})
        except Exception as e:  # noqa: BLE001 - reported in the index
            traceback.print_exc()
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        index.append(entry)
        _log("%s: %s" % (name, entry["error"] or "ok"))
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    main()
