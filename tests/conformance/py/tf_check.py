"""TensorFlow's side of the TF tier (venv: requirements-tf.txt).

  python tf_check.py gen OUTDIR
      Converts small Keras models, one or two ops each (and a fused LSTM from
      a SavedModel), with TensorFlow's own TFLiteConverter in three modes (float32, full int8 with float I/O, and
      16x8), writing OUTDIR/<op>_<mode>.tflite and OUTDIR/manifest.json.  The
      harness reads each file with tflite-forge, checks that every operator
      reads typed, rewrites it, compares the op versions with the
      converter's, and runs both files in LiteRT.

  python tf_check.py flex JOBS.json
      Runs models with select-TF (Flex) ops, made by tflite-forge, in
      TensorFlow's tf.lite.Interpreter (which links the Flex delegate), and
      compares them with TensorFlow running the same ops directly.  Also
      decodes each Flex op's NodeDef with TensorFlow's own protobuf.  Prints
      one JSON line: {name: {"ok": bool, "detail": str}}.
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SEED = 1234


def _models():
    """(name, input shapes, build(inputs) -> output, int8-capable)."""
    L = tf.keras.layers
    img = (8, 8, 4)
    vol = (4, 6, 6, 2)
    vec = (16,)

    def lam(fn):
        return lambda xs: L.Lambda(fn)(xs[0] if len(xs) == 1 else xs)

    rng = np.random.default_rng(SEED)
    c_img = rng.standard_normal(img).astype(np.float32)
    return [
        ("floor", [img], lam(tf.math.floor), True),
        ("ceil", [img], lam(tf.math.ceil), True),
        ("round", [img], lam(tf.math.round), True),
        ("square", [img], lam(tf.math.square), True),
        ("sign", [img], lam(tf.math.sign), False),
        ("elu", [img], lam(tf.nn.elu), True),
        ("squared_difference", [img], lam(lambda x: tf.math.squared_difference(x, c_img)), True),
        ("floor_div", [img], lam(lambda x: tf.math.floordiv(x, 0.75)), True),
        ("tile", [img], lam(lambda x: tf.tile(x, [1, 2, 1, 3])), True),
        ("pack", [img, img], lam(lambda xs: tf.stack(xs, axis=1)), True),
        ("unpack", [img], lam(lambda x: tf.unstack(x, axis=3)[1]), True),
        ("split", [img], lam(lambda x: tf.split(x, 2, axis=3)[1]), True),
        ("depth_to_space", [img], lam(lambda x: tf.nn.depth_to_space(x, 2)), True),
        ("space_to_depth", [img], lam(lambda x: tf.nn.space_to_depth(x, 2)), True),
        ("reverse_v2", [img], lam(lambda x: tf.reverse(x, axis=[2])), True),
        ("gather_nd", [img], lam(lambda x: tf.gather_nd(x, [[0, 1], [0, 3]])), True),
        ("topk_v2", [vec], lam(lambda x: tf.math.top_k(x, k=3).values), True),
        ("cumsum", [img], lam(lambda x: tf.math.cumsum(x, axis=2)), False),
        ("l2_normalization", [img], lam(lambda x: tf.math.l2_normalize(x, axis=-1)), True),
        ("local_response_normalization", [img], lam(lambda x: tf.nn.local_response_normalization(x, 2)), False),
        ("space_to_batch_nd", [img], lam(lambda x: tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]])), True),
        ("batch_to_space_nd", [img], lam(lambda x: tf.compat.v1.batch_to_space_nd(
            tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]]), [2, 2], [[0, 0], [0, 0]])), True),
        ("select_v2", [img, img], lam(lambda xs: tf.where(xs[0] > 0, xs[0], xs[1])), True),
        ("conv_3d", [vol], lambda xs: L.Conv3D(3, 3, padding="same")(xs[0]), False),
        ("leaky_relu", [img], lam(lambda x: tf.nn.leaky_relu(x, 0.2)), True),
        ("hard_swish", [img], lam(lambda x: x * tf.nn.relu6(x + 3.0) / 6.0), True),
        ("resize_bilinear", [img], lam(lambda x: tf.image.resize(x, [12, 12])), True),
        ("mean_max", [img], lam(lambda x: tf.reduce_mean(x, axis=[1, 2]) + tf.reduce_max(x, axis=[1, 2])), True),
        ("batch_matmul", [img, img], lam(lambda xs: tf.matmul(xs[0], xs[1], transpose_b=True)), True),
        ("gather", [img], lam(lambda x: tf.gather(x, [3, 0, 1], axis=3)), True),
        ("exp_log", [img], lam(lambda x: tf.math.log(tf.math.exp(x) + 1.0)), False),
        ("minimum_maximum", [img, img], lam(lambda xs: tf.minimum(xs[0], 0.5) + tf.maximum(xs[1], -0.5)), True),
        ("pad_strided_slice", [img], lam(lambda x: tf.pad(x, [[0, 0], [1, 1], [2, 2], [0, 0]])[:, 1:7:2, :, 1:3]), True),
        # Ops whose int8 and int16 kernels the quantizer reaches since
        # issue 8: the converter's versions for their integer forms.
        ("exp", [img], lam(tf.math.exp), True),
        ("log", [img], lam(lambda x: tf.math.log(tf.math.abs(x) + 0.1)), True),
        ("abs", [img], lam(tf.math.abs), True),
        ("sqrt_rsqrt", [img], lam(lambda x: tf.math.sqrt(tf.math.abs(x)) + tf.math.rsqrt(tf.math.abs(x) + 0.1)), True),
        # By an input: the converter turns division by a constant into MUL.
        ("div", [img, img], lam(lambda xs: xs[0] / (tf.math.abs(xs[1]) + 0.5)), True),
        ("gelu", [img], lam(tf.nn.gelu), True),
        ("log_softmax", [img], lam(tf.nn.log_softmax), True),
        ("sum", [img], lam(lambda x: tf.reduce_sum(x, axis=[1, 2])), True),
        ("split_v", [img], lam(lambda x: tf.split(x, [1, 3], axis=3)[1]), True),
    ]


def _fused_lstm_saved_model(path, time=3, features=4, units=5):
    """A SavedModel whose LSTM TensorFlow's converter fuses into one
    UNIDIRECTIONAL_SEQUENCE_LSTM. Keras 3's LSTM layer lowers to a WHILE
    loop (and its int8 calibration crashes TF 2.21), so this is the
    function Keras 2 emitted for its fused LSTM: ``standard_lstm(inputs,
    init_h, init_c, kernel, recurrent_kernel, bias)`` returning five
    values, tagged ``api_implements="lstm_..."`` with ``time_major`` and
    ``go_backwards`` attributes, which the converter's
    prepare-composite-functions pass replaces by the fused op."""
    rng = np.random.default_rng(SEED)
    k = tf.constant(rng.uniform(-0.5, 0.5, (features, 4 * units)).astype(np.float32))
    r = tf.constant(rng.uniform(-0.5, 0.5, (units, 4 * units)).astype(np.float32))
    b = tf.constant(rng.uniform(-0.2, 0.2, (4 * units,)).astype(np.float32))

    def standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        h, c, outs = init_h, init_c, []
        for t in range(time):
            z = tf.matmul(inputs[:, t, :], kernel) + tf.matmul(h, recurrent_kernel) + bias
            i, f, g, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            outs.append(h)
        return h, tf.stack(outs, axis=1), h, c, tf.constant(1.0)

    fused = tf.function(standard_lstm, autograph=False, experimental_attributes={
        "api_implements": "lstm_5d4c1b7e0a3f4e2b", "api_preferred_device": "CPU",
        "time_major": False, "go_backwards": False})

    @tf.function(input_signature=[tf.TensorSpec((1, time, features), tf.float32)])
    def model(x):
        z = tf.zeros((1, units))
        return fused(x, z, z, k, r, b)[1]

    module = tf.Module()
    module.f = model
    tf.saved_model.save(module, path, signatures=model.get_concrete_function())
    return [(time, features)]


def gen(outdir):
    os.makedirs(outdir, exist_ok=True)
    tf.keras.utils.set_random_seed(SEED)
    manifest = {"tensorflow": tf.__version__, "files": {}, "failed": {}}
    for name, shapes, build, int8 in _models():
        inputs = [tf.keras.Input(shape=s, batch_size=1) for s in shapes]
        model = tf.keras.Model(inputs, build(inputs))
        modes = ["fp32"] + (["int8", "int16x8"] if int8 else [])
        if name == "squared_difference":
            # The 16x8 quantizer makes an int16 SQUARED_DIFFERENCE, which
            # LiteRT's kernel rejects (float32 and int32 only).
            modes.remove("int16x8")
        conversions = [(mode, tf.lite.TFLiteConverter.from_keras_model(model)) for mode in modes]
        convert(outdir, manifest, name, shapes, conversions)
    # The fused LSTM (issue 8: the full-integer UNIDIRECTIONAL_SEQUENCE_LSTM
    # the converter writes, its intermediates and op version). The 16x8
    # quantizer refuses it ("not yet supported"), recorded under "failed".
    with tempfile.TemporaryDirectory() as d:
        shapes = _fused_lstm_saved_model(d)
        conversions = [(mode, tf.lite.TFLiteConverter.from_saved_model(d)) for mode in ("fp32", "int8", "int16x8")]
        convert(outdir, manifest, "unidirectional_sequence_lstm", shapes, conversions)
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    print(json.dumps({"generated": len(manifest["files"]), "refused": len(manifest["failed"])}))


def convert(outdir, manifest, name, shapes, conversions):
    """Runs each (mode, converter) and records the file or the refusal."""
    rng = np.random.default_rng(SEED)

    def rep():
        for _ in range(8):
            yield [rng.standard_normal((1,) + s).astype(np.float32) for s in shapes]

    for mode, conv in conversions:
        if mode != "fp32":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = rep
        if mode == "int8":
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if mode == "int16x8":
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        key = "%s_%s" % (name, mode)
        try:
            data = conv.convert()
        except Exception as e:  # the converter refuses some op/mode pairs
            manifest["failed"][key] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:200])
            continue
        path = os.path.join(outdir, key + ".tflite")
        with open(path, "wb") as f:
            f.write(data)
        manifest["files"][key] = os.path.basename(path)


_FLEX_REFERENCES = {
    "erf": lambda xs: tf.math.erf(xs[0]),
    "atanh": lambda xs: tf.math.atanh(xs[0]),
    # RELU (builtin), then FlexRoll by 2 along axis 1 (constants in the file).
    "relu_roll_2_1": lambda xs: tf.roll(tf.nn.relu(xs[0]), shift=2, axis=1),
}


def flex(jobs_path):
    from tensorflow.core.framework import node_def_pb2
    from tensorflow.lite.python import schema_py_generated as schema
    import flatbuffers  # noqa: F401  (the schema module needs it)

    jobs = json.load(open(jobs_path))
    results = {}
    for job in jobs:
        name = job["name"]
        try:
            data = open(job["model"], "rb").read()
            m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
            # Decode every Flex op's NodeDef with TensorFlow's own protobuf.
            seen = []
            for op in m.subgraphs[0].operators:
                oc = m.operatorCodes[op.opcodeIndex]
                code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
                if code != schema.BuiltinOperator.CUSTOM:
                    continue
                cname = oc.customCode.decode()
                opts = bytes(op.customOptions)
                # [op_name, node_def] FlexBuffers vector: decode with flexbuffers.
                from flatbuffers import flexbuffers
                vec = flexbuffers.Loads(opts)
                nd = node_def_pb2.NodeDef.FromString(vec[1] if isinstance(vec[1], bytes) else vec[1].encode("latin-1"))
                if cname != "Flex" + nd.op or vec[0] != nd.op:
                    raise ValueError("custom code %s, options name %s, NodeDef op %s" % (cname, vec[0], nd.op))
                seen.append("%s(%s)" % (nd.op, ",".join(sorted(nd.attr.keys()))))
            arrays = [np.load(p) for p in job["inputs"]]
            interp = tf.lite.Interpreter(model_path=job["model"])
            ins = interp.get_input_details()
            for d, a in zip(ins, arrays):
                interp.resize_tensor_input(d["index"], a.shape)
            interp.allocate_tensors()
            for d, a in zip(ins, arrays):
                interp.set_tensor(d["index"], a)
            interp.invoke()
            got = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
            if "outputs" in job:
                # Converted from ONNX: the ONNX test's expected outputs, with
                # ONNX's own backend-test tolerances.
                want = [np.load(p) for p in job["outputs"]]
                if len(got) != len(want):
                    raise ValueError("%d outputs, expected %d" % (len(got), len(want)))
                ok = True
                for g, w in zip(got, want):
                    if g.shape != w.shape or g.dtype != w.dtype:
                        raise ValueError("output %s %s vs expected %s %s" % (g.dtype, g.shape, w.dtype, w.shape))
                    ok &= bool(np.allclose(g.astype(np.float64), w.astype(np.float64), rtol=1e-3, atol=1e-7))
                diffs = [float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))) if g.size else 0.0 for g, w in zip(got, want)]
                results[name] = {"ok": ok, "detail": "NodeDefs %s; max|diff| vs ONNX expected %s" % (seen, diffs)}
                continue
            want = [_FLEX_REFERENCES[job["ref"]]([tf.constant(a) for a in arrays]).numpy()]
            diffs = []
            for g, w in zip(got, want):
                if g.shape != w.shape or g.dtype != w.dtype:
                    raise ValueError("output %s %s vs TensorFlow %s %s" % (g.dtype, g.shape, w.dtype, w.shape))
                diffs.append(float(np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))) if g.size else 0.0)
            ok = all(d <= 1e-6 for d in diffs)
            results[name] = {"ok": ok, "detail": "NodeDefs %s; max|diff| vs TensorFlow %s" % (seen, diffs)}
        except Exception as e:
            results[name] = {"ok": False, "detail": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(results))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif sys.argv[1] == "flex":
        flex(sys.argv[2])
    else:
        raise SystemExit("usage: tf_check.py gen OUTDIR | flex JOBS.json")
