#!/usr/bin/env python3
"""Export models from frameworks other than torch to ONNX, with onnxruntime
reference outputs: Keras 3 / TensorFlow through tf2onnx, and (with
--paddle, in its own venv) PaddlePaddle through paddle2onnx.

Usage:
    python export_framework_models.py OUT_DIR [--models a,b]      # tf2onnx
    python export_framework_models.py OUT_DIR --paddle [--models]  # paddle2onnx

The tf2onnx half runs in the venv of requirements-frameworks.txt
(tensorflow-cpu, keras 3, tf2onnx, onnx, onnxruntime); the paddle half in
that of requirements-paddle.txt (paddlepaddle, paddle2onnx, onnxruntime).
Each half writes its own OUT_DIR/index.json.

Every Keras model is traced with tf.function (a fixed input signature,
None for the dynamic sizes) and converted by tf2onnx.convert.from_function
(tf2onnx's from_keras does not follow Keras 3). The graphs are what users
of tf2onnx get: NHWC inputs with a Transpose to NCHW before the first Conv,
`unk__` dim_params, Keras BatchNormalization folded into Conv or left as
Mul/Add, recurrent layers as ONNX LSTM/GRU or a Loop, tf.image.resize as
Resize, int64 shape arithmetic, NonMaxSuppression and TopK. Weights are
seeded random; BatchNorm statistics are set from one training pass with
momentum 0 on random data (so each normalised activation has unit scale),
then perturbed (gamma, beta, mean, variance random), so outputs are not
near zero.

OUT_DIR/index.json is a JSON array, one object per model::

    {"name", "framework", "onnx", "error", "opset", "ops": [op types],
     "inputs": [names], "image": [bool: an NCHW image input (paddle)],
     "nhwc_cnn": bool (an NHWC convolution net: must end with 0 TRANSPOSE),
     "export_seconds", "runs": [{"inputs": [npy], "outputs": [npy],
     "shapes": [[dims] per input]}]}
"""

import argparse
import json
import os
import sys
import time
import traceback
import warnings

KERAS_MODELS = [
    "mobilenet_v2", "efficientnet_v2_b0", "densenet121", "text_cnn", "lstm", "gru", "transformer",
    "upsample", "separable", "conv_transpose", "dynamic_batch", "dynamic_hw", "bn_mul_add",
    "tf_resize", "shape_arith", "detection_post",
]
PADDLE_MODELS = ["paddle_mobilenet_v2", "paddle_small_net"]


def _log(msg):
    sys.stderr.write("export_framework_models: %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------- Keras / TF

def _bn_layers(model):
    import keras
    out = []

    def walk(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            out.append(layer)
        for sub in getattr(layer, "layers", []) or []:
            walk(sub)
    walk(model)
    return out


def _warm_bn(model, xs, rng):
    """Random gamma and beta, then moving statistics from one training pass
    with momentum 0 (so each normalised activation has about unit scale
    given the gammas before it), then small random shifts of the mean and
    variance: non-trivial statistics that keep a deep net well conditioned."""
    import numpy as np
    bns = _bn_layers(model)
    if not bns:
        return

    def edit(f):
        for bn in bns:
            bn.set_weights([f(v.name, a).astype(np.float32) for v, a in zip(bn.weights, bn.get_weights())])

    edit(lambda n, a: rng.uniform(0.7, 1.3, a.shape) if "gamma" in n else rng.normal(0.0, 0.1, a.shape) if "beta" in n else a)
    for bn in bns:
        bn.momentum = 0.0
    model(xs, training=True)
    edit(lambda n, a: a + rng.normal(0.0, 0.05, a.shape) if "moving_mean" in n
         else np.maximum(a, 1e-3) * rng.uniform(0.9, 1.1, a.shape) if "moving_variance" in n else a)


def build_keras(name):
    """(callable, [(input name, shape with None, dtype, example fn)], runs:
    [[shape per input]], nhwc_cnn, warm-up inputs or None)."""
    import numpy as np
    import keras
    import tensorflow as tf
    from keras import layers as L

    keras.utils.set_random_seed(0)
    img = lambda shape: ("input", shape, tf.float32)

    if name == "mobilenet_v2":
        m = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classifier_activation=None)
        return m, [img((None, 96, 96, 3))], [[(1, 96, 96, 3)], [(2, 96, 96, 3)]], True
    if name == "efficientnet_v2_b0":
        # EfficientNetB0's Normalization layer is left unadapted with
        # weights=None and tf2onnx turns its statistics into graph inputs.
        m = keras.applications.EfficientNetV2B0(input_shape=(64, 64, 3), weights=None, include_preprocessing=False, classifier_activation=None)
        return m, [img((None, 64, 64, 3))], [[(1, 64, 64, 3)], [(2, 64, 64, 3)]], True
    if name == "densenet121":
        m = keras.applications.DenseNet121(input_shape=(32, 32, 3), weights=None, classes=10, classifier_activation=None)
        return m, [img((None, 32, 32, 3))], [[(1, 32, 32, 3)]], True
    if name == "text_cnn":
        x = L.Input((None,), dtype="int32", name="tokens")
        h = L.Embedding(500, 24)(x)
        h = L.Conv1D(32, 5, padding="same", activation="relu")(h)
        h = L.MaxPooling1D(2)(h)
        h = L.Conv1D(32, 3, padding="valid", activation="relu")(h)
        h = L.GlobalAveragePooling1D()(h)
        y = L.Dense(4)(h)
        return keras.Model(x, y), [("tokens", (None, None), tf.int32)], [[(1, 40)], [(3, 25)]], False
    if name == "lstm":
        x = L.Input((None, 8), name="seq")
        h = L.LSTM(16, return_sequences=True)(x)
        h = L.LSTM(12, return_sequences=True)(h)
        y = L.Dense(3)(h)
        return keras.Model(x, y), [("seq", (None, None, 8), tf.float32)], [[(1, 10, 8)], [(2, 7, 8)]], False
    if name == "gru":
        x = L.Input((None, 8), name="seq")
        h = L.GRU(16, return_sequences=True)(x)
        h = L.Bidirectional(L.GRU(8, return_sequences=True))(h)
        y = L.Dense(3)(h)
        return keras.Model(x, y), [("seq", (None, None, 8), tf.float32)], [[(1, 10, 8)], [(2, 6, 8)]], False
    if name == "transformer":
        x = L.Input((None, 32), name="tokens")
        a = L.MultiHeadAttention(num_heads=4, key_dim=8)(x, x)
        h = L.LayerNormalization(epsilon=1e-5)(x + a)
        # The exact GELU becomes an Erfc node, which is no ONNX op (tf2onnx
        # 1.17 writes it anyway): the tanh approximation.
        f = L.Dense(64, activation=lambda t: keras.activations.gelu(t, approximate=True))(h)
        f = L.Dense(32)(f)
        y = L.LayerNormalization(epsilon=1e-5)(h + f)
        return keras.Model(x, y), [("tokens", (None, None, 32), tf.float32)], [[(1, 16, 32)], [(2, 9, 32)]], False
    if name == "upsample":
        x = L.Input((32, 32, 3), name="input")
        h = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        h = L.UpSampling2D(2, interpolation="nearest")(h)
        h = L.Conv2D(8, 3, padding="same")(h)
        h = L.UpSampling2D(2, interpolation="bilinear")(h)
        h = L.Resizing(40, 40, interpolation="bilinear")(h)
        y = L.Conv2D(4, 1)(h)
        return keras.Model(x, y), [img((None, 32, 32, 3))], [[(1, 32, 32, 3)]], True
    if name == "separable":
        x = L.Input((32, 32, 3), name="input")
        h = L.SeparableConv2D(16, 3, padding="same", activation="relu")(x)
        h = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)(h)
        h = L.BatchNormalization()(h)
        h = L.ReLU(6.0)(h)
        h = L.Conv2D(16, 3, dilation_rate=2, padding="same")(h)
        h = L.SeparableConv2D(8, 3, strides=2, padding="valid")(h)
        h = L.AveragePooling2D(2, padding="same")(h)
        y = L.Flatten()(h)
        y = L.Dense(5)(y)
        return keras.Model(x, y), [img((None, 32, 32, 3))], [[(1, 32, 32, 3)], [(2, 32, 32, 3)]], True
    if name == "conv_transpose":
        x = L.Input((16, 16, 4), name="input")
        h = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
        h = L.Conv2DTranspose(6, 4, strides=2, padding="valid")(h)
        h = L.Conv2DTranspose(4, 3, strides=1, padding="same", dilation_rate=1)(h)
        y = L.Conv2D(3, 3, padding="same")(h)
        return keras.Model(x, y), [img((None, 16, 16, 4))], [[(1, 16, 16, 4)], [(2, 16, 16, 4)]], True
    if name == "dynamic_batch":
        x = L.Input((28, 28, 1), name="input")
        h = L.Conv2D(8, 3, activation="relu")(x)
        h = L.MaxPooling2D()(h)
        h = L.Conv2D(16, 3, activation="relu")(h)
        h = L.MaxPooling2D()(h)
        h = L.Flatten()(h)
        h = L.Dense(32, activation="relu")(h)
        h = L.Dropout(0.5)(h)
        y = L.Dense(10, activation="softmax")(h)
        return keras.Model(x, y), [img((None, 28, 28, 1))], [[(1, 28, 28, 1)], [(3, 28, 28, 1)]], True
    if name == "dynamic_hw":
        x = L.Input((None, None, 3), name="input")
        h = L.Conv2D(8, 3, strides=2, padding="same")(x)
        h = L.BatchNormalization()(h)
        h = L.ReLU()(h)
        s = L.Conv2D(8, 3, padding="same", activation="relu")(h)
        h = L.Add()([h, s])
        h = L.MaxPooling2D(2, padding="same")(h)
        h = L.Conv2D(8, 1)(h)
        h = L.UpSampling2D(2)(h)
        h = L.Concatenate()([h, s])
        y = L.Conv2D(2, 1, activation="sigmoid")(h)
        return keras.Model(x, y), [img((None, None, None, 3))], [[(1, 32, 32, 3)], [(2, 24, 40, 3)]], True
    if name == "bn_mul_add":
        x = L.Input((12,), name="features")
        h = L.Dense(24)(x)
        h = L.BatchNormalization()(h)
        h = L.Activation("swish")(h)
        h2 = L.Dense(24)(h)
        h = L.Add()([h, h2])
        h = L.BatchNormalization()(h)
        y = L.Dense(3)(h)
        return keras.Model(x, y), [("features", (None, 12), tf.float32)], [[(1, 12)], [(4, 12)]], False
    if name == "tf_resize":
        conv = L.Conv2D(4, 3, padding="same")

        def f(x):
            h = conv(x)
            a = tf.image.resize(h, (24, 24), method="bilinear")
            b = tf.image.resize(h, (24, 24), method="nearest")
            c = tf.compat.v1.image.resize_bilinear(h, (24, 24), align_corners=True)
            d = tf.compat.v1.image.resize_nearest_neighbor(h, (24, 24), half_pixel_centers=True)
            return tf.concat([a, b, c, d], axis=-1)
        return f, [img((None, 16, 16, 3))], [[(1, 16, 16, 3)], [(2, 16, 16, 3)]], True
    if name == "shape_arith":
        dense = L.Dense(8)

        def f(x):
            n = tf.shape(x, out_type=tf.int64)
            h = dense(x)
            h = tf.reshape(h, tf.stack([n[0], n[1] * 2, tf.constant(4, tf.int64)]))
            h = tf.expand_dims(h, 1)
            h = tf.squeeze(h, axis=[1])
            t = tf.cast(tf.range(n[1] * 2), tf.float32)
            h = h + tf.reshape(t, [1, -1, 1]) * 0.1
            m = tf.reduce_mean(h, axis=1, keepdims=True)
            return tf.tile(m, tf.stack([1, n[1], 1])) - h[:, : n[1], :]
        return f, [("x", (None, None, 6), tf.float32)], [[(1, 5, 6)], [(2, 9, 6)]], False
    if name == "detection_post":
        dense = L.Dense(5)

        def f(x):
            h = dense(x)  # [n, 5]: 4 box coordinates and a score
            boxes = tf.concat([tf.minimum(h[:, 0:2], h[:, 2:4]), tf.maximum(h[:, 0:2], h[:, 2:4])], axis=1)
            scores = tf.sigmoid(h[:, 4])
            keep = tf.image.non_max_suppression(boxes, scores, max_output_size=6, iou_threshold=0.5, score_threshold=0.2)
            top, idx = tf.math.top_k(scores, k=4)
            return tf.gather(boxes, keep), top, tf.gather(boxes, idx)
        return f, [("x", (None, 7), tf.float32)], [[(20, 7)], [(33, 7)]], False
    raise KeyError(name)


def example(rng, shape, dtype):
    import numpy as np
    import tensorflow as tf
    if dtype == tf.int32:
        return rng.integers(0, 500, shape).astype(np.int32)
    return rng.normal(0.0, 1.0, shape).astype(np.float32)


def export_keras(name, out_dir, entry):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    model, specs, runs, nhwc_cnn = build_keras(name)
    rng = np.random.default_rng(100)
    warm = [example(rng, tuple(8 if d is None else d for d in s[1]), s[2]) for s in specs]
    if hasattr(model, "layers"):
        model(warm if len(warm) > 1 else warm[0], training=False)
        _warm_bn(model, warm if len(warm) > 1 else warm[0], rng)
    else:
        model(*[tf.constant(w) for w in warm])
    sig = tuple(tf.TensorSpec(s[1], s[2], name=s[0]) for s in specs)
    if hasattr(model, "layers"):
        fn = tf.function(lambda *xs: model(xs[0] if len(xs) == 1 else list(xs), training=False), input_signature=sig)
    else:
        fn = tf.function(model, input_signature=sig)
    path = os.path.join(out_dir, name + ".onnx")
    t0 = time.time()
    tf2onnx.convert.from_function(fn, input_signature=sig, opset=17, output_path=path)
    entry["export_seconds"] = round(time.time() - t0, 2)
    m = onnx.load(path)
    entry["opset"] = max(int(o.version) for o in m.opset_import if o.domain in ("", "ai.onnx"))
    entry["onnx"] = name + ".onnx"
    entry["ops"] = sorted({n.op_type for n in m.graph.node})
    entry["inputs"] = [i.name for i in m.graph.input]
    entry["image"] = [False for _ in m.graph.input]
    entry["nhwc_cnn"] = nhwc_cnn
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for k, shapes in enumerate(runs):
        r = np.random.default_rng(300 + k)
        xs = [example(r, tuple(s), spec[2]) for s, spec in zip(shapes, specs)]
        ys = sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), xs)})
        ty = fn(*[tf.constant(x) for x in xs])
        ty = ty if isinstance(ty, (tuple, list)) else (ty,)
        for y, t in zip(ys, ty):
            t = np.asarray(t)
            if y.shape != t.shape or not np.allclose(y, t, rtol=1e-3, atol=1e-4 * max(1.0, float(np.abs(t).max(initial=0)))):
                raise RuntimeError("onnxruntime and TensorFlow disagree at %s" % (shapes,))
        run = _save_run(out_dir, name, k, xs, ys)
        run["shapes"] = [list(s) for s in shapes]
        entry["runs"].append(run)


def _save_run(out_dir, stem, k, xs, ys):
    import numpy as np
    run = {"inputs": [], "outputs": []}
    for j, x in enumerate(xs):
        f = "%s.r%d.in%d.npy" % (stem, k, j)
        np.save(os.path.join(out_dir, f), x, allow_pickle=False)
        run["inputs"].append(f)
    for j, y in enumerate(ys):
        f = "%s.r%d.out%d.npy" % (stem, k, j)
        np.save(os.path.join(out_dir, f), y, allow_pickle=False)
        run["outputs"].append(f)
    return run


# ---------------------------------------------------------------- Paddle

def build_paddle(name):
    import paddle
    import paddle.nn as nn
    paddle.seed(0)
    if name == "paddle_mobilenet_v2":
        m = paddle.vision.models.mobilenet_v2(scale=0.25, num_classes=10)
        return m, [1, 3, 64, 64], [[1, 3, 64, 64], [2, 3, 64, 64]]

    class Small(nn.Layer):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2D(3, 8, 3, stride=2, padding=1)
            self.b1 = nn.BatchNorm2D(8)
            self.c2 = nn.Conv2D(8, 16, 3, padding="SAME", groups=2)
            self.b2 = nn.BatchNorm2D(16)
            self.pool = nn.AdaptiveAvgPool2D(1)
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            h = nn.functional.relu(self.b1(self.c1(x)))
            h = nn.functional.hardswish(self.b2(self.c2(h)))
            h = nn.functional.max_pool2d(h, 2, 2)
            h = self.pool(h).flatten(1)
            return nn.functional.softmax(self.fc(h), axis=-1)
    if name == "paddle_small_net":
        return Small(), [1, 3, 32, 32], [[1, 3, 32, 32], [3, 3, 32, 32]]
    raise KeyError(name)


def export_paddle(name, out_dir, entry):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import paddle

    model, warm_shape, runs = build_paddle(name)
    # BatchNorm statistics from a few training batches, then eval.
    for layer in model.sublayers():
        if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
            layer._momentum = 0.0
    model.train()
    with paddle.no_grad():
        model(paddle.randn([8] + warm_shape[1:]))
    model.eval()
    stem = os.path.join(out_dir, name)
    spec = [paddle.static.InputSpec([None] + warm_shape[1:], "float32", "x")]
    t0 = time.time()
    paddle.onnx.export(model, stem, input_spec=spec, opset_version=13)
    entry["export_seconds"] = round(time.time() - t0, 2)
    path = stem + ".onnx"
    m = onnx.load(path)
    entry["opset"] = max(int(o.version) for o in m.opset_import if o.domain in ("", "ai.onnx"))
    entry["onnx"] = name + ".onnx"
    entry["ops"] = sorted({n.op_type for n in m.graph.node})
    entry["inputs"] = [i.name for i in m.graph.input]
    entry["image"] = [True]
    entry["nhwc_cnn"] = True
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    for k, shape in enumerate(runs):
        x = np.random.default_rng(300 + k).normal(0.0, 1.0, shape).astype(np.float32)
        ys = sess.run(None, {sess.get_inputs()[0].name: x})
        t = model(paddle.to_tensor(x)).numpy()
        if ys[0].shape != t.shape or not np.allclose(ys[0], t, rtol=1e-3, atol=1e-4 * max(1.0, float(np.abs(t).max()))):
            raise RuntimeError("onnxruntime and paddle disagree at %s" % (shape,))
        run = _save_run(out_dir, name, k, [x], ys)
        run["shapes"] = [shape]
        entry["runs"].append(run)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--paddle", action="store_true")
    ap.add_argument("--models", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.makedirs(args.out_dir, exist_ok=True)
    warnings.simplefilter("ignore")
    names = args.models.split(",") if args.models else (PADDLE_MODELS if args.paddle else KERAS_MODELS)
    index = []
    t_all = time.time()
    for name in names:
        entry = {"name": name, "framework": "paddle2onnx" if args.paddle else "tf2onnx", "onnx": None, "error": None, "runs": []}
        try:
            (export_paddle if args.paddle else export_keras)(name, args.out_dir, entry)
        except Exception as e:
            entry["error"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            _log("%s: %s" % (name, traceback.format_exc()))
        index.append(entry)
        _log("%s: %s" % (name, entry["error"] or "ok"))
    _log("exported %d models in %.1f s" % (len(names), time.time() - t_all))
    with open(os.path.join(args.out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
