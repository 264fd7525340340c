#!/usr/bin/env python3
"""Export small models whose shapes are computed at run time, with both torch
exporters, and onnxruntime reference outputs at several input sizes.

Usage:
    python export_dynamic_models.py OUT_DIR [--models a,b] [--exporters legacy,dynamo]

Runs in the model tier's venv (torch, onnxscript, onnx, onnxruntime, numpy).
Every model has random weights (seeded), BatchNorm statistics warmed up, and
one float32 input named "input" and one output named "output". Each model
declares which input axes are dynamic and the sizes to run at; the exported
file keeps those axes symbolic, so one file must run at every size.

Models:
- transformer_encoder: nn.TransformerEncoder (2 layers, batch_first), dynamic
  batch and sequence length (dynamo only: the legacy exporter bakes the
  example's batch and length into nn.MultiheadAttention's reshapes, and the
  file then fails in onnxruntime at any other size);
- gpt_decoder: 2 pre-norm decoder blocks with multi-head attention and a
  causal mask built from the sequence length at run time (arange and a
  comparison), dynamic batch and sequence;
- tiny_vit: a ViT (patch convolution, class token expanded to the batch,
  position embedding, 2 encoder layers with GELU), dynamic batch;
- yolo_like: a convolution backbone, an FPN with nearest Upsample and Concat,
  and decoupled heads whose outputs are flattened and concatenated, dynamic
  height and width;
- crnn: a convolution stack, then the height folded into the channels and
  the width taken as the sequence, a linear CTC head and LogSoftmax; dynamic
  batch and width;
- lstm_preamble: the zero initial state of a recurrent net sized by the batch
  (zeros(1, batch, hidden)), combined with a projection of the input.

OUT_DIR/index.json is a JSON array, one object per (model, exporter)::

    {"name": "<model>.<exporter>", "model", "exporter", "onnx", "error",
     "opset", "image": bool (the input is an NCHW image),
     "runs": [{"input", "output", "input_shape", "output_shape", "max_abs_ref"}]}
"""

import argparse
import json
import os
import sys
import traceback
import warnings


# Exports that torch itself gets wrong for other sizes (see above).
SKIP = {("transformer_encoder", "legacy")}


def _log(msg):
    sys.stderr.write("export_dynamic_models: %s\n" % msg)
    sys.stderr.flush()


def build(name):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    class GptBlock(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.ln2 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            self.heads = heads

        def forward(self, x):
            b, t, d = x.shape
            h = self.heads
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q = q.reshape(b, t, h, d // h).transpose(1, 2)
            k = k.reshape(b, t, h, d // h).transpose(1, 2)
            v = v.reshape(b, t, h, d // h).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / (d // h) ** 0.5)
            idx = torch.arange(t, device=x.device)
            causal = idx[None, :] > idx[:, None]
            att = att.masked_fill(causal, float("-inf"))
            att = att.softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, d)
            x = x + self.proj(y)
            return x + self.mlp(self.ln2(x))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(GptBlock(32, 4), GptBlock(32, 4))
            self.ln = nn.LayerNorm(32)
            self.head = nn.Linear(32, 16)

        def forward(self, x):
            return self.head(self.ln(self.blocks(x)))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(32, 8)

        def forward(self, x):
            return self.head(self.enc(x))

    class TinyVit(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(3, 48, 8, 8)
            self.cls = nn.Parameter(torch.randn(1, 1, 48) * 0.5)
            self.pos = nn.Parameter(torch.randn(1, 17, 48) * 0.5)
            layer = nn.TransformerEncoderLayer(48, 4, 96, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.ln = nn.LayerNorm(48)
            self.head = nn.Linear(48, 10)

        def forward(self, x):
            n = x.shape[0]
            p = self.patch(x)
            p = p.reshape(n, p.shape[1], -1).permute(0, 2, 1)
            x = torch.cat([self.cls.expand(n, -1, -1), p], dim=1) + self.pos
            x = self.enc(x)
            return self.head(self.ln(x[:, 0]))

    def cbr(cin, cout, s):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, s, 1, bias=False), nn.BatchNorm2d(cout), nn.SiLU())

    class Yolo(nn.Module):
        def __init__(self):
            super().__init__()
            self.s1 = nn.Sequential(cbr(3, 8, 2), cbr(8, 16, 2), cbr(16, 16, 2))  # /8
            self.s2 = cbr(16, 32, 2)  # /16
            self.s3 = cbr(32, 32, 2)  # /32
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.f2 = cbr(64, 32, 1)
            self.f1 = cbr(48, 16, 1)
            self.cls = nn.ModuleList([nn.Conv2d(c, 4, 1) for c in (16, 32)])
            self.box = nn.ModuleList([nn.Conv2d(c, 4, 1) for c in (16, 32)])

        def forward(self, x):
            c1 = self.s1(x)
            c2 = self.s2(c1)
            c3 = self.s3(c2)
            p2 = self.f2(torch.cat([self.up(c3), c2], 1))
            p1 = self.f1(torch.cat([self.up(p2), c1], 1))
            outs = []
            for i, p in enumerate((p1, p2)):
                y = torch.cat([self.box[i](p), self.cls[i](p).sigmoid()], 1)
                outs.append(y.flatten(2))
            return torch.cat(outs, 2).permute(0, 2, 1)

    class Crnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = nn.Sequential(cbr(1, 16, 1), nn.MaxPool2d(2), cbr(16, 32, 1), nn.MaxPool2d(2), cbr(32, 32, 1))
            self.fc = nn.Linear(32 * 8, 20)

        def forward(self, x):
            f = self.cnn(x)  # [b, 32, 8, w/4]
            b, c, h, w = f.shape
            f = f.permute(0, 3, 1, 2).reshape(b, w, c * h)
            return self.fc(f).log_softmax(-1)

    class Preamble(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 16)

        def forward(self, x):
            h0 = torch.zeros(1, x.size(0), 16)
            return h0 + self.proj(x).mean(1)[None]

    # name -> (module, example shape, dynamic axes {axis: name}, run shapes, image)
    specs = {
        "transformer_encoder": (Encoder, (2, 7, 32), {0: "batch", 1: "seq"}, [(1, 5, 32), (3, 11, 32)], False),
        "gpt_decoder": (Gpt, (2, 7, 32), {0: "batch", 1: "seq"}, [(1, 4, 32), (2, 13, 32)], False),
        "tiny_vit": (TinyVit, (2, 3, 32, 32), {0: "batch"}, [(1, 3, 32, 32), (3, 3, 32, 32)], True),
        "yolo_like": (Yolo, (1, 3, 320, 320), {2: "height", 3: "width"}, [(1, 3, 320, 320), (1, 3, 480, 640)], True),
        "crnn": (Crnn, (2, 1, 32, 96), {0: "batch", 3: "width"}, [(1, 1, 32, 160), (2, 1, 32, 320)], True),
        "lstm_preamble": (Preamble, (2, 5, 8), {0: "batch"}, [(1, 5, 8), (4, 5, 8)], False),
    }
    cls, example, dyn, runs, image = specs[name]
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
                model(torch.randn(example, generator=g))
    model.eval()
    return model, example, dyn, runs, image


def export(model, exporter, path, example, dyn):
    import torch

    x = torch.randn(example)
    if exporter == "legacy":
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": dyn}, do_constant_folding=True)
    else:
        dims = {a: torch.export.Dim(n, min=2, max=4096) for a, n in dyn.items()}
        prog = torch.onnx.export(model, (x,), None, dynamo=True, dynamic_shapes=(dims,),
                                 input_names=["input"], output_names=["output"], optimize=True)
        prog.save(path, external_data=False)


def main(argv=None):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--models", default="transformer_encoder,gpt_decoder,tiny_vit,yolo_like,crnn,lstm_preamble")
    ap.add_argument("--exporters", default="legacy,dynamo")
    args = ap.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    warnings.simplefilter("ignore")
    index = []
    for name in args.models.split(","):
        for exporter in args.exporters.split(","):
            if (name, exporter) in SKIP:
                continue
            stem = "%s.%s" % (name, exporter)
            entry = {"name": stem, "model": name, "exporter": exporter, "onnx": None, "error": None, "runs": []}
            try:
                model, example, dyn, runs, image = build(name)
                entry["image"] = image
                path = os.path.join(args.out_dir, stem + ".onnx")
                export(model, exporter, path, example, dyn)
                m = onnx.load(path)
                entry["opset"] = max(int(o.version) for o in m.opset_import if o.domain in ("", "ai.onnx"))
                entry["onnx"] = stem + ".onnx"
                so = ort.SessionOptions()
                so.log_severity_level = 3
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                for k, shape in enumerate(runs):
                    x = np.random.default_rng(200 + k).standard_normal(shape).astype(np.float32)
                    (y,) = sess.run(["output"], {"input": x})
                    with torch.no_grad():
                        ty = model(torch.from_numpy(x)).numpy()
                    if y.shape != ty.shape or not np.allclose(y, ty, rtol=1e-3, atol=1e-4):
                        raise RuntimeError("onnxruntime and torch disagree at %s" % (shape,))
                    xi, yo = "%s.r%d.input.npy" % (stem, k), "%s.r%d.output.npy" % (stem, k)
                    np.save(os.path.join(args.out_dir, xi), x, allow_pickle=False)
                    np.save(os.path.join(args.out_dir, yo), y, allow_pickle=False)
                    entry["runs"].append({"input": xi, "output": yo, "input_shape": list(shape),
                                          "output_shape": list(y.shape), "max_abs_ref": float(np.max(np.abs(y)))})
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
