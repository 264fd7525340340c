#!/usr/bin/env python3
"""Train two small classifiers on scikit-learn's digits and export them.

Usage:
    python train_digits_models.py OUT_DIR

Runs in the model tier's venv (torch, scikit-learn, onnx, onnxruntime,
numpy), on the CPU with one torch thread, seeded and deterministic (the
ONNX files are byte-identical from run to run); about 40 s on a loaded
two-core machine, most of it the MobileNet-style net.

Data: scikit-learn's 1797 8x8 digits scaled to [0, 1], split once
(train_test_split, stratified, random_state 0) into 1347 training and 450
test images. The 32x32 images are the 8x8 ones upsampled bilinearly
(align_corners=False) here, before the net, so the ONNX graph starts at
the 32x32 image.

Models (each exported with torch's legacy exporter, dynamo=False, opset 17,
input "input" NCHW float32 with a dynamic batch, output "logits" [N, 10]):
- cnn: a plain CNN on the 8x8 images, conv3x3(16)-relu-conv3x3/2(32)-relu-
  linear(10), 40 epochs with label smoothing 0.1;
- mbnet: a MobileNetV2/V3-style network on the 32x32 images: a strided 3x3
  stem (BN, ReLU6), four inverted-residual blocks (1x1 expansion, 3x3
  depthwise, squeeze-excitation with a hard sigmoid, 1x1 projection, BN
  after every convolution, hardswish, residual where the shapes allow), a
  1x1 head convolution, global average pool and a linear classifier; 25
  epochs with label smoothing 0.1 and random shifts of up to 2 pixels.
Both: AdamW, batch 64, one-cycle cosine learning rate (peak 4e-3).

Written to OUT_DIR:
- <name>.onnx;
- calibration_<size>.npy: 256 training images (the same for both sizes),
  [256, 1, size, size] float32, stacked in the ONNX layout (NCHW);
- test_<size>.npy: the 450 test images [450, 1, size, size] float32;
  labels.npy: their labels, int64;
- index.json: a JSON array, one object per model::

    {"name", "onnx", "calibration", "test", "labels", "error",
     "torch_accuracy", "onnxruntime_accuracy", "epochs", "train_seconds",
     "parameters"}
"""

import json
import os
import sys
import time
import traceback

SEED = 0
N_CALIBRATION = 256


def _log(msg):
    sys.stderr.write("train_digits_models: %s\n" % msg)
    sys.stderr.flush()


def data():
    import numpy as np
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=450, random_state=SEED, stratify=y)

    def at(a, size):
        t = torch.from_numpy(np.ascontiguousarray(a[:, None]))
        if size != 8:
            t = F.interpolate(t, size=size, mode="bilinear", align_corners=False)
        return t.numpy().astype(np.float32)

    return {s: (at(xtr, s), at(xte, s)) for s in (8, 32)}, ytr, yte


def models():
    import torch.nn as nn
    import torch.nn.functional as F

    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 16, 3, padding=1)
            self.c2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.fc = nn.Linear(32 * 4 * 4, 10)

        def forward(self, x):
            x = F.relu(self.c1(x))
            x = F.relu(self.c2(x))
            return self.fc(x.flatten(1))

    class Se(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.a = nn.Conv2d(c, c // 4, 1)
            self.b = nn.Conv2d(c // 4, c, 1)

        def forward(self, x):
            w = F.adaptive_avg_pool2d(x, 1)
            w = F.hardsigmoid(self.b(F.relu(self.a(w))))
            return x * w

    class Block(nn.Module):
        def __init__(self, cin, cout, stride, t):
            super().__init__()
            h = cin * t
            self.expand = nn.Sequential(nn.Conv2d(cin, h, 1, bias=False), nn.BatchNorm2d(h), nn.Hardswish())
            self.dw = nn.Sequential(nn.Conv2d(h, h, 3, stride, 1, groups=h, bias=False), nn.BatchNorm2d(h), nn.Hardswish())
            self.se = Se(h)
            self.project = nn.Sequential(nn.Conv2d(h, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.project(self.se(self.dw(self.expand(x))))
            return x + y if self.residual else y

    class MbNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
            self.blocks = nn.Sequential(Block(16, 16, 1, 2), Block(16, 24, 2, 4), Block(24, 24, 1, 3), Block(24, 32, 2, 4))
            self.head = nn.Sequential(nn.Conv2d(32, 64, 1, bias=False), nn.BatchNorm2d(64), nn.Hardswish())
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.head(self.blocks(self.stem(x)))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    # name, class, input size, epochs, label smoothing, largest shift (pixels)
    return [("cnn", Cnn, 8, 40, 0.1, 0), ("mbnet", MbNet, 32, 25, 0.1, 2)]


def shift(x, gen, max_px):
    """Each image moved by up to max_px pixels in each direction (zero fill)."""
    import torch
    import torch.nn.functional as F
    n, _, h, w = x.shape
    p = F.pad(x, (max_px, max_px, max_px, max_px))
    dy = torch.randint(0, 2 * max_px + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * max_px + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None].expand(n, 1, h, w + 2 * max_px)
    p = torch.gather(p, 2, rows)
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :].expand(n, 1, h, w)
    return torch.gather(p, 3, cols)


def train(make, epochs, smoothing, max_shift, xtr, ytr):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(SEED)
    # Channels-last halves the time of the depthwise convolutions on CPU.
    net = make().to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(SEED)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    batch = 64
    steps = epochs * ((len(x) + batch - 1) // batch)
    opt = torch.optim.AdamW(net.parameters(), lr=4e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps, pct_start=0.15, anneal_strategy="cos")
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            b = perm[i:i + batch]
            xb = shift(x[b], gen, max_shift) if max_shift > 0 else x[b]
            xb = xb.contiguous(memory_format=torch.channels_last)
            opt.zero_grad()
            F.cross_entropy(net(xb), y[b], label_smoothing=smoothing).backward()
            opt.step()
            sched.step()
    net.eval()
    return net.to(memory_format=torch.contiguous_format)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    import numpy as np
    import onnxruntime as ort
    import torch
    torch.use_deterministic_algorithms(True)
    # One thread: on a shared machine, two threads spin against other
    # processes and train 3-7x slower.
    torch.set_num_threads(1)
    images, ytr, yte = data()
    np.save(os.path.join(out, "labels.npy"), yte)
    # The same training images calibrate both models.
    pick = np.random.default_rng(SEED).choice(len(ytr), N_CALIBRATION, replace=False)
    for size, (xtr, xte) in images.items():
        np.save(os.path.join(out, "calibration_%d.npy" % size), xtr[pick])
        np.save(os.path.join(out, "test_%d.npy" % size), xte)
    index = []
    for name, make, size, epochs, smoothing, max_shift in models():
        xtr, xte = images[size]
        entry = {"name": name, "onnx": name + ".onnx", "calibration": "calibration_%d.npy" % size,
                 "test": "test_%d.npy" % size, "labels": "labels.npy", "epochs": epochs}
        try:
            t0 = time.time()
            net = train(make, epochs, smoothing, max_shift, xtr, ytr)
            entry["train_seconds"] = round(time.time() - t0, 1)
            entry["parameters"] = sum(p.numel() for p in net.parameters())
            with torch.no_grad():
                pred = net(torch.from_numpy(xte)).argmax(1).numpy()
            entry["torch_accuracy"] = float((pred == yte).mean())
            path = os.path.join(out, entry["onnx"])
            torch.onnx.export(net, torch.from_numpy(xte[:1]), path, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            logits = sess.run(None, {"input": xte})[0]
            entry["onnxruntime_accuracy"] = float((logits.argmax(1) == yte).mean())
            _log("%s: torch %.4f, onnxruntime %.4f, %d epochs in %.1f s"
                 % (name, entry["torch_accuracy"], entry["onnxruntime_accuracy"], epochs, entry["train_seconds"]))
        except Exception as e:
            traceback.print_exc()
            entry["error"] = "%s: %s" % (type(e).__name__, e)
        index.append(entry)
    with open(os.path.join(out, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
