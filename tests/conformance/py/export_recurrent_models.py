#!/usr/bin/env python3
"""Export recurrent and control-flow models with both torch exporters, and
onnxruntime reference outputs at several input sizes.

Usage:
    python export_recurrent_models.py OUT_DIR [--models a,b] [--exporters legacy,dynamo]

Runs in the model tier's venv (torch, onnxscript, onnx, onnxruntime, numpy).
Weights are random (seeded). Inputs and outputs are named; each model lists
the sizes to run at, and its symbolic axes stay symbolic in the file.

Models:
- lstm_classifier: a 2-layer LSTM (batch_first) and a linear head on the last
  step, dynamic batch and sequence length;
- bigru: a bidirectional GRU returning the whole sequence, dynamic batch and
  sequence length;
- speech: reflect padding, an STFT as a Conv1d with fixed cosine and sine
  kernels (hop 16), the log power spectrum, an `If` on a sample-rate input
  that picks one of two scalings, and a 2-layer LSTM whose initial states are
  inputs and whose final states are outputs; dynamic batch and length;
- crnn_ctc: a convolution stack, the height folded into the channels, a
  bidirectional LSTM over the width and a linear CTC head with LogSoftmax;
  dynamic batch and width.

OUT_DIR/index.json is a JSON array, one object per (model, exporter)::

    {"name": "<model>.<exporter>", "onnx", "error", "opset", "inputs": [names],
     "outputs": [names], "image": [bool per input],
     "runs": [{"inputs": [files], "outputs": [files], "shapes": [[...]]}]}
"""

import argparse
import json
import os
import sys
import traceback
import warnings


def _log(msg):
    sys.stderr.write("export_recurrent_models: %s\n" % msg)
    sys.stderr.flush()


def build(name):
    import math

    import torch
    import torch.nn as nn

    torch.manual_seed(0)

    class LstmClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
            self.head = nn.Linear(32, 5)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.head(y[:, -1])

    class BiGru(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(12, 24, batch_first=True, bidirectional=True)

        def forward(self, x):
            return self.gru(x)[0]

    @torch.jit.script
    def scale_script(spec, rate):
        if bool(rate > 12000):
            return spec * 0.5
        return spec + 1.0

    def halve(s):
        return s * 0.5

    def shift(s):
        return s + 1.0

    class Speech(nn.Module):
        def __init__(self):
            super().__init__()
            n_fft, bins = 64, 33
            t = torch.arange(n_fft, dtype=torch.float32)
            k = torch.arange(bins, dtype=torch.float32)[:, None]
            window = 0.5 - 0.5 * torch.cos(2 * math.pi * t / n_fft)
            cos = torch.cos(2 * math.pi * k * t / n_fft) * window
            sin = -torch.sin(2 * math.pi * k * t / n_fft) * window
            self.stft = nn.Conv1d(1, 2 * bins, n_fft, stride=16, bias=False)
            with torch.no_grad():
                self.stft.weight.copy_(torch.cat([cos, sin], 0)[:, None, :])
            self.bins = bins
            # torch.cond for the dynamo exporter, a scripted function for the
            # legacy one: each exports an ONNX If.
            self.use_cond = False
            self.lstm = nn.LSTM(bins, 24, num_layers=2, batch_first=True)
            self.head = nn.Linear(24, 6)

        def forward(self, audio, rate, h0, c0):
            x = nn.functional.pad(audio[:, None, :], (32, 32), mode="reflect")
            s = self.stft(x)
            re, im = s[:, : self.bins], s[:, self.bins :]
            spec = torch.log(re * re + im * im + 1e-6).transpose(1, 2)
            if self.use_cond:
                spec = torch.cond(rate > 12000, halve, shift, (spec,))
            else:
                spec = scale_script(spec, rate)
            y, (h, c) = self.lstm(spec, (h0, c0))
            return self.head(y), h, c

    def cbr(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class CrnnCtc(nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = nn.Sequential(cbr(1, 16), nn.MaxPool2d(2), cbr(16, 32), nn.MaxPool2d(2), cbr(32, 32))
            self.rnn = nn.LSTM(32 * 8, 48, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(96, 20)

        def forward(self, x):
            f = self.cnn(x)
            b, c, h, w = f.shape
            f = f.permute(0, 3, 1, 2).reshape(b, w, c * h)
            y, _ = self.rnn(f)
            return self.fc(y).log_softmax(-1)

    rng_audio = [(2, 1600), (1, 2400)]
    # name -> (module, inputs [(name, example shape, dynamic axes, dtype, image)], outputs, runs [[shapes]])
    specs = {
        "lstm_classifier": (LstmClassifier, [("input", (2, 7, 16), {0: "batch", 1: "seq"}, "f", False)], ["output"],
                            [[(1, 5, 16)], [(3, 20, 16)]]),
        "bigru": (BiGru, [("input", (2, 7, 12), {0: "batch", 1: "seq"}, "f", False)], ["output"],
                  [[(1, 4, 12)], [(2, 90, 12)]]),
        "speech": (Speech, [("audio", (2, 1600), {0: "batch", 1: "samples"}, "f", False),
                            ("rate", (), {}, "i", False),
                            ("h0", (2, 2, 24), {1: "batch"}, "f", False),
                            ("c0", (2, 2, 24), {1: "batch"}, "f", False)],
                   ["logits", "hn", "cn"],
                   [[(2, 1600), (), (2, 2, 24), (2, 2, 24)], [(1, 2400), (), (2, 1, 24), (2, 1, 24)]]),
        "crnn_ctc": (CrnnCtc, [("input", (2, 1, 32, 96), {0: "batch", 3: "width"}, "f", True)], ["output"],
                     [[(1, 1, 32, 160)], [(2, 1, 32, 96)]]),
    }
    del rng_audio
    cls, inputs, outputs, runs = specs[name]
    model = cls()
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    if bns:
        model.train()
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for _ in range(4):
                model(*[example(i, g) for i in inputs])
    model.eval()
    return model, inputs, outputs, runs


def example(spec, g=None, shape=None, run=0):
    import torch

    name, ex, _, kind, _ = spec
    shape = ex if shape is None else shape
    if kind == "i":
        # Two sample rates: one per branch of the If.
        return torch.tensor(16000 if run % 2 == 0 else 8000, dtype=torch.int64)
    return torch.randn(shape, generator=g)


def export(model, exporter, path, inputs, outputs):
    import torch

    args = tuple(example(i) for i in inputs)
    if hasattr(model, "use_cond"):
        model.use_cond = exporter == "dynamo"
    if exporter == "legacy":
        torch.onnx.export(model, args, path, dynamo=False, opset_version=17,
                          input_names=[i[0] for i in inputs], output_names=outputs,
                          dynamic_axes={i[0]: i[2] for i in inputs if i[2]}, do_constant_folding=True)
    else:
        dims = {}
        shapes = []
        for i in inputs:
            d = {}
            for a, n in i[2].items():
                if n not in dims:
                    dims[n] = torch.export.Dim(n, min=1 if n == "batch" else 2, max=1 << 20)
                d[a] = dims[n]
            shapes.append(d or None)
        prog = torch.onnx.export(model, args, None, dynamo=True, dynamic_shapes=tuple(shapes),
                                 input_names=[i[0] for i in inputs], output_names=outputs, optimize=True)
        prog.save(path, external_data=False)


def main(argv=None):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--models", default="lstm_classifier,bigru,speech,crnn_ctc")
    ap.add_argument("--exporters", default="legacy,dynamo")
    args = ap.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    warnings.simplefilter("ignore")
    index = []
    for name in args.models.split(","):
        for exporter in args.exporters.split(","):
            stem = "%s.%s" % (name, exporter)
            entry = {"name": stem, "onnx": None, "error": None, "runs": []}
            try:
                model, inputs, outputs, runs = build(name)
                entry["inputs"] = [i[0] for i in inputs]
                entry["outputs"] = outputs
                entry["image"] = [i[4] for i in inputs]
                path = os.path.join(args.out_dir, stem + ".onnx")
                export(model, exporter, path, inputs, outputs)
                m = onnx.load(path)
                entry["opset"] = max(int(o.version) for o in m.opset_import if o.domain in ("", "ai.onnx"))
                entry["onnx"] = stem + ".onnx"
                entry["ops"] = sorted({n.op_type for n in m.graph.node})
                so = ort.SessionOptions()
                so.log_severity_level = 3
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                fed = [i.name for i in sess.get_inputs()]
                for k, shapes in enumerate(runs):
                    g = torch.Generator().manual_seed(300 + k)
                    xs = [example(spec, g, tuple(s), k) for spec, s in zip(inputs, shapes)]
                    feeds = {spec[0]: x.numpy() for spec, x in zip(inputs, xs) if spec[0] in fed}
                    ys = sess.run(outputs, feeds)
                    with torch.no_grad():
                        ty = model(*xs)
                    ty = ty if isinstance(ty, tuple) else (ty,)
                    for y, t in zip(ys, ty):
                        if y.shape != tuple(t.shape) or not np.allclose(y, t.numpy(), rtol=1e-3, atol=1e-4):
                            raise RuntimeError("onnxruntime and torch disagree at %s" % (shapes,))
                    run = {"inputs": [], "outputs": [], "shapes": [list(s) for s in shapes]}
                    for spec, x in zip(inputs, xs):
                        if spec[0] not in fed:
                            continue
                        f = "%s.r%d.%s.npy" % (stem, k, spec[0])
                        np.save(os.path.join(args.out_dir, f), x.numpy(), allow_pickle=False)
                        run["inputs"].append(f)
                    for oname, y in zip(outputs, ys):
                        f = "%s.r%d.%s.npy" % (stem, k, oname)
                        np.save(os.path.join(args.out_dir, f), y, allow_pickle=False)
                        run["outputs"].append(f)
                    entry["runs"].append(run)
                entry["fed"] = fed
            except Exception as e:
                entry["error"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
                _log("%s: %s" % (stem, traceback.format_exc()))
            index.append(entry)
            _log("%s: %s" % (stem, entry["error"] or "ok"))
    with open(os.path.join(args.out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
