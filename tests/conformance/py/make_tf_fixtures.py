#!/usr/bin/env python3
"""Generate reader-tier .tflite fixtures for tflite-forge with TensorFlow itself.

Every file written here comes out of TensorFlow's own converter
(``tf.lite.TFLiteConverter.from_keras_model``, ``from_concrete_functions`` or
``from_saved_model``), so the fixtures exercise our *reader* against what the
reference toolchain really emits, not against what our own writer produces.

Models (fixed batch 1 unless stated otherwise):

  small_cnn      32x32x3 -> Conv2D(8,3,same)+BatchNorm+ReLU -> MaxPool2D ->
                 DepthwiseConv2D(3,s2)+ReLU6 -> Conv2D(16,1) ->
                 GlobalAveragePooling2D -> Dense(10) -> Softmax
  resblock       16x16x8 -> Conv(relu) -> Conv -> Add(input) -> ReLU ->
                 AvgPool(2) ; Concatenate with a strided 1x1-conv branch ->
                 Flatten -> Dense(4)
  mlp_act        (20,) -> three Dense(32) branches with tanh / sigmoid /
                 hard-swish (x*relu6(x+3)/6) -> Concatenate -> Dense(5)
  misc_ops       ops outside the CNN set: RESIZE_BILINEAR, STRIDED_SLICE, PAD,
                 TRANSPOSE, REDUCE_MAX, MEAN, SUB; SQUARE in fp32, EXP in the
                 integer variant (SQUARE would stay a float island there)
  dynamic_batch  fp32 only, (None, 8) -> Dense(4) -> ReLU from a concrete
                 function, so the input has shape_signature [-1, 8]
  multi_io       tf.Module with a 2-input / 2-output ``serving_default``
                 SignatureDef (inputs ``x``,``y``; outputs ``sum``,``gated``),
                 converted from a SavedModel in a temp dir

Each of small_cnn / resblock / mlp_act / misc_ops / multi_io comes in an fp32
variant and a full-integer variant (``Optimize.DEFAULT`` +
``OpsSet.TFLITE_BUILTINS_INT8`` with a 20-sample representative dataset drawn
from a seeded numpy RNG).  The interface types of the integer variants are
split so that all three appear:

  int8  I/O : small_cnn_int8, mlp_act_int8
  uint8 I/O : resblock_uint8, misc_ops_uint8
  float I/O : multi_io_int8_floatio   (QUANTIZE / DEQUANTIZE at the edges)

Every file is loaded and invoked with the interpreter bundled in TensorFlow
(``tf.lite.Interpreter``), and a one-line op histogram is printed for it.
``OUT_DIR/MANIFEST.txt`` records file name, sha256, size, the TensorFlow
version and a one-line description.

The outputs are committed to ``tests/fixtures/tf/``.  Regenerate them (from
the repository root) with:

    ~/.cache/tflite-forge/tf/bin/python tests/conformance/py/make_tf_fixtures.py tests/fixtures/tf

(the venv holds tensorflow-cpu 2.21).  All seeds are fixed, so re-running with
the same TensorFlow version should reproduce identical bytes; the manifest's
sha256 column makes any drift visible.
"""

import collections
import contextlib
import hashlib
import io
import os
import sys
import tempfile
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN can change float round-off between machines; keep constant folding
# (BatchNorm folding etc.) on the plain Eigen path.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

SEED = 1234
N_REPR = 20

# tf.lite.Interpreter is deprecated in favour of ai_edge_litert, but it is the
# interpreter bundled with the TF that produced the files, which is the point.
warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")

OP_NAMES = {
    v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")
}
TYPE_NAMES = {
    v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")
}


def reseed(offset=0):
    keras.utils.set_random_seed(SEED + offset)
    np.random.seed(SEED + offset)


def repr_dataset(shapes, seed, scale=1.0):
    """Representative dataset: N_REPR samples from a seeded numpy RNG.

    ``shapes`` is either a list of per-input shapes (including batch 1), in
    which case each sample is a list in the model's input order, or a dict
    ``{signature input name: shape}``, in which case each sample is a dict fed
    through the signature (order-independent).
    """

    def gen():
        rng = np.random.default_rng(seed)
        for _ in range(N_REPR):
            if isinstance(shapes, dict):
                yield {
                    k: (rng.standard_normal(s) * scale).astype(np.float32)
                    for k, s in sorted(shapes.items())
                }
            else:
                yield [
                    (rng.standard_normal(s) * scale).astype(np.float32)
                    for s in shapes
                ]

    return gen


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def build_small_cnn():
    reseed(1)
    inp = keras.Input(shape=(32, 32, 3), batch_size=1, name="image")
    x = layers.Conv2D(8, 3, padding="same", name="conv1")(inp)
    bn = layers.BatchNormalization(name="bn1")
    x = bn(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.DepthwiseConv2D(3, strides=2, name="dw2")(x)
    x = layers.ReLU(max_value=6.0, name="relu6_2")(x)
    x = layers.Conv2D(16, 1, name="pw3")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(10, name="fc")(x)
    out = layers.Softmax(name="probs")(x)
    model = keras.Model(inp, out, name="small_cnn")
    # Non-trivial BatchNorm statistics so the folded conv differs from conv1.
    rng = np.random.default_rng(SEED + 11)
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights(
        [
            (1.0 + 0.2 * rng.standard_normal(gamma.shape)).astype(np.float32),
            (0.1 * rng.standard_normal(beta.shape)).astype(np.float32),
            (0.1 * rng.standard_normal(mean.shape)).astype(np.float32),
            (1.0 + 0.5 * rng.random(var.shape)).astype(np.float32),
        ]
    )
    return model, [(1, 32, 32, 3)]


def build_resblock():
    reseed(2)
    inp = keras.Input(shape=(16, 16, 8), batch_size=1, name="feat")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="res_a")(inp)
    x = layers.Conv2D(8, 3, padding="same", name="res_b")(x)
    x = layers.Add(name="skip")([x, inp])
    x = layers.ReLU(name="res_relu")(x)
    x = layers.AveragePooling2D(2, name="avgpool")(x)
    branch = layers.Conv2D(4, 1, strides=2, name="branch_1x1")(inp)
    x = layers.Concatenate(axis=-1, name="concat")([x, branch])
    x = layers.Flatten(name="flatten")(x)
    out = layers.Dense(4, name="head")(x)
    return keras.Model(inp, out, name="resblock"), [(1, 16, 16, 8)]


class HardSwish(layers.Layer):
    """x * relu6(x + 3) / 6, the pattern TFLite fuses into HARD_SWISH."""

    def call(self, x):
        return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


def build_mlp_act():
    reseed(3)
    inp = keras.Input(shape=(20,), batch_size=1, name="vec")
    a = layers.Dense(32, activation="tanh", name="d_tanh")(inp)
    b = layers.Dense(32, activation="sigmoid", name="d_sigmoid")(inp)
    c = layers.Dense(32, name="d_hswish")(inp)
    c = HardSwish(name="hard_swish")(c)
    x = layers.Concatenate(name="concat")([a, b, c])
    out = layers.Dense(5, name="head")(x)
    return keras.Model(inp, out, name="mlp_act"), [(1, 20)]


class MiscOps(layers.Layer):
    """Raw tf ops that fall outside the usual CNN op set."""

    def __init__(self, use_square, **kw):
        super().__init__(**kw)
        self.use_square = use_square

    def call(self, x):
        # x: [1, 8, 8, 4]
        x = tf.image.resize(x, (16, 16), method="bilinear")  # RESIZE_BILINEAR
        x = x[:, 1:15:2, 2:14, :]  # STRIDED_SLICE -> [1, 7, 12, 4]
        x = tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])  # PAD -> [1, 8, 12, 4]
        x = tf.transpose(x, [0, 3, 1, 2])  # TRANSPOSE -> [1, 4, 8, 12]
        m = tf.reduce_max(x, axis=3)  # REDUCE_MAX -> [1, 4, 8]
        a = tf.reduce_mean(x, axis=3)  # MEAN -> [1, 4, 8]
        if self.use_square:
            # SQUARE has no int8 kernel: under full-integer quantization the
            # converter leaves it as a float island (DEQUANTIZE/SQUARE/QUANTIZE),
            # so the integer variant uses EXP instead.
            e = tf.math.square(a)  # SQUARE
        else:
            e = tf.exp(a)  # EXP
        y = m - e  # SUB
        y = tf.reshape(y, [1, 32])  # RESHAPE
        return y


def build_misc_ops(use_square):
    reseed(4)
    inp = keras.Input(shape=(8, 8, 4), batch_size=1, name="grid")
    x = layers.Conv2D(4, 3, padding="same", name="stem")(inp)
    x = MiscOps(use_square, name="misc")(x)
    out = layers.Dense(3, name="head")(x)
    return keras.Model(inp, out, name="misc_ops"), [(1, 8, 8, 4)]


class DynamicBatch(tf.Module):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(SEED + 5)
        self.w = tf.Variable(rng.standard_normal((8, 4)).astype(np.float32) * 0.5)
        self.b = tf.Variable(rng.standard_normal((4,)).astype(np.float32) * 0.1)

    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")])
    def __call__(self, x):
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)


class MultiIO(tf.Module):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(SEED + 6)
        self.wx = tf.Variable(rng.standard_normal((8, 6)).astype(np.float32) * 0.4)
        self.wy = tf.Variable(rng.standard_normal((4, 6)).astype(np.float32) * 0.4)
        self.bias = tf.Variable(rng.standard_normal((6,)).astype(np.float32) * 0.1)

    @tf.function(
        input_signature=[
            tf.TensorSpec([1, 8], tf.float32, name="x"),
            tf.TensorSpec([1, 4], tf.float32, name="y"),
        ]
    )
    def serve(self, x, y):
        hx = tf.matmul(x, self.wx)
        hy = tf.matmul(y, self.wy)
        total = hx + hy + self.bias
        gated = tf.math.sigmoid(hy) * hx
        return {"sum": tf.nn.relu(total), "gated": gated}


# --------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------


def quantize(converter, shapes, seed, io_type):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = repr_dataset(shapes, seed)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if io_type is not None:
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type


def convert_keras(model, shapes, io_type="fp32", seed=0):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if io_type != "fp32":
        quantize(conv, shapes, seed, {"int8": tf.int8, "uint8": tf.uint8, "float": None}[io_type])
    # Keras 3 exports through a temp SavedModel and prints a banner to stdout.
    with contextlib.redirect_stdout(io.StringIO()):
        return conv.convert()


def convert_dynamic_batch():
    mod = DynamicBatch()
    cf = mod.__call__.get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([cf], mod)
    return conv.convert()


def convert_multi_io(quant):
    mod = MultiIO()
    with tempfile.TemporaryDirectory(prefix="tflite_forge_multi_io_") as d:
        tf.saved_model.save(mod, d, signatures={"serving_default": mod.serve})
        conv = tf.lite.TFLiteConverter.from_saved_model(d, signature_keys=["serving_default"])
        if quant:
            # Samples are dicts keyed by signature input name, so the order of
            # the subgraph's input tensors does not matter.
            quantize(conv, {"x": (1, 8), "y": (1, 4)}, seed=SEED + 60, io_type=None)
        return conv.convert()


# --------------------------------------------------------------------------
# Inspection
# --------------------------------------------------------------------------


def op_histogram(buf):
    m = schema.Model.GetRootAsModel(buf, 0)
    codes = []
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = OP_NAMES.get(code, f"#{code}")
        if code == schema.BuiltinOperator.CUSTOM:
            name = "CUSTOM:" + oc.CustomCode().decode()
        codes.append(name)
    hist = collections.Counter()
    types = collections.Counter()
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        for o in range(sg.OperatorsLength()):
            hist[codes[sg.Operators(o).OpcodeIndex()]] += 1
        for t in range(sg.TensorsLength()):
            types[TYPE_NAMES.get(sg.Tensors(t).Type(), "?")] += 1
    return hist, types, m.SubgraphsLength()


def random_input(detail, rng, batch=None):
    shape = list(detail["shape"])
    if batch is not None:
        shape[0] = batch
    dt = detail["dtype"]
    if dt == np.float32:
        return rng.standard_normal(shape).astype(np.float32)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max + 1, size=shape, dtype=dt)


def check_runs(buf, rng, dyn_batch=False):
    """Load with TF's bundled interpreter, invoke once, return an I/O summary."""
    interp = tf.lite.Interpreter(
        model_content=buf,
        experimental_op_resolver_type=(
            tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        ),
    )
    ins = interp.get_input_details()
    if dyn_batch:
        for d in ins:
            assert list(d["shape_signature"])[0] == -1, d
            interp.resize_tensor_input(d["index"], [3] + list(d["shape"][1:]))
    interp.allocate_tensors()
    ins = interp.get_input_details()
    for d in ins:
        interp.set_tensor(d["index"], random_input(d, rng))
    interp.invoke()
    outs = interp.get_output_details()
    for d in outs:
        v = interp.get_tensor(d["index"])
        if v.dtype == np.float32:
            assert np.all(np.isfinite(v)), d["name"]
    sigs = interp.get_signature_list()
    if sigs:
        # Also go through the signature runner, feeding inputs by name.
        for key, sig in sigs.items():
            runner = interp.get_signature_runner(key)
            feeds = {}
            for name in sig["inputs"]:
                d = runner.get_input_details()[name]
                feeds[name] = random_input(d, rng, batch=3 if dyn_batch else None)
            res = runner(**feeds)
            assert set(res) == set(sig["outputs"]), (res.keys(), sig)

    def fmt(ds):
        return ",".join(
            f"{np.dtype(d['dtype']).name}{[int(n) for n in d['shape_signature']]}"
            for d in ds
        )

    sig_txt = ";".join(
        f"{k}({','.join(v['inputs'])}->{','.join(v['outputs'])})" for k, v in sigs.items()
    )
    return f"in={fmt(ins)} out={fmt(outs)} sig={sig_txt or '-'}"


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def fixtures():
    """(file name, description, thunk returning bytes, dynamic batch?)."""
    cnn = lambda: build_small_cnn()  # noqa: E731
    res = lambda: build_resblock()  # noqa: E731
    mlp = lambda: build_mlp_act()  # noqa: E731

    def k(builder, io_type, seed):
        def thunk():
            model, shapes = builder()
            return convert_keras(model, shapes, io_type, seed)

        return thunk

    return [
        ("small_cnn_fp32.tflite",
         "small CNN (conv+BN+relu, maxpool, depthwise+relu6, 1x1 conv, GAP, dense, softmax), fp32",
         k(cnn, "fp32", 0), False),
        ("small_cnn_int8.tflite",
         "small CNN, full-integer, int8 input/output",
         k(cnn, "int8", SEED + 10), False),
        ("resblock_fp32.tflite",
         "residual block (conv, add skip, relu, avgpool, concat 1x1 branch, reshape, dense), fp32",
         k(res, "fp32", 0), False),
        ("resblock_uint8.tflite",
         "residual block, full-integer, uint8 input/output",
         k(res, "uint8", SEED + 20), False),
        ("mlp_act_fp32.tflite",
         "MLP with tanh / sigmoid / hard-swish branches, concat, dense, fp32",
         k(mlp, "fp32", 0), False),
        ("mlp_act_int8.tflite",
         "MLP with tanh / sigmoid / hard-swish branches, full-integer, int8 input/output",
         k(mlp, "int8", SEED + 30), False),
        ("misc_ops_fp32.tflite",
         "non-CNN ops: resize_bilinear, strided_slice, pad, transpose, reduce_max, mean, square, sub, fp32",
         k(lambda: build_misc_ops(use_square=True), "fp32", 0), False),
        ("misc_ops_uint8.tflite",
         "non-CNN ops (exp instead of square), full-integer, uint8 input/output",
         k(lambda: build_misc_ops(use_square=False), "uint8", SEED + 40), False),
        ("dynamic_batch_fp32.tflite",
         "dense+relu from a concrete function with batch None (shape_signature [-1, 8]), fp32",
         convert_dynamic_batch, True),
        ("multi_io_fp32.tflite",
         "SavedModel signature serving_default with inputs x,y and outputs sum,gated, fp32",
         lambda: convert_multi_io(quant=False), False),
        ("multi_io_int8_floatio.tflite",
         "2-in/2-out serving_default signature, full-integer internals with float I/O (QUANTIZE/DEQUANTIZE)",
         lambda: convert_multi_io(quant=True), False),
    ]


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUT_DIR", file=sys.stderr)
        return 2
    out_dir = argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(SEED + 99)
    manifest = [
        "# tflite-forge reader fixtures, generated by tests/conformance/py/make_tf_fixtures.py",
        f"# tensorflow {tf.__version__}, keras {keras.__version__}, numpy {np.__version__}",
        "# regenerate: ~/.cache/tflite-forge/tf/bin/python "
        "tests/conformance/py/make_tf_fixtures.py tests/fixtures/tf",
        "# file  sha256  bytes  tensorflow  description",
    ]
    total = 0
    for name, desc, thunk, dyn in fixtures():
        buf = thunk()
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(buf)
        hist, types, nsub = op_histogram(buf)
        io_txt = check_runs(buf, rng, dyn_batch=dyn)
        total += len(buf)
        ops = " ".join(f"{k}x{v}" for k, v in sorted(hist.items()))
        tys = " ".join(f"{k}x{v}" for k, v in sorted(types.items()))
        print(f"{name}: {len(buf)} B, {nsub} subgraph(s), ops: {ops}; "
              f"tensors: {tys}; {io_txt}")
        digest = hashlib.sha256(buf).hexdigest()
        manifest.append(f"{name}  {digest}  {len(buf)}  tensorflow-{tf.__version__}  {desc}")
    with open(os.path.join(out_dir, "MANIFEST.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    print(f"total {total} B in {len(manifest) - 4} files -> {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
