#!/usr/bin/env python3
"""Metadata conformance checks, run in the tflite-support venv.

The official TFLite Support toolkit is the judge: its generated metadata
schema code, its C++ minimum-parser-version rules, its MetadataDisplayer and
metadata writers, and the Task Library's ImageClassifier.

Subcommands (all print one JSON object on stdout):

  gen-variants DIR        write DIR/<name>.m001: metadata buffers built with the
                          official object API, one per schema feature, and
                          DIR/variants.json with the C++ min parser version of each
  check-variants DIR      compare DIR/<name>.m001 with DIR/<name>.rust.m001 (our
                          decode + encode) field by field, and our
                          DIR/<name>.rust.version with the C++ rules
  populate IN OUT LABELS MEAN STD
                          write the official image-classifier metadata into IN
  check-files JOBS.json   per model file: displayer, packed files, optional
                          JSON equality with another file, optional classification
"""

import json
import os
import sys



def _preload_libusb():
    """The toolkit's native code links libusb-1.0.so.0. Where the system has
    none (a fresh machine without root), load the copy that the PyPI package
    `libusb-package` ships: the dynamic loader then reuses it by its soname."""
    import ctypes
    import ctypes.util
    if ctypes.util.find_library("usb-1.0"):
        return
    import libusb_package
    path = libusb_package.get_library_path()
    if path is None:
        raise RuntimeError("libusb-package ships no libusb-1.0 for this platform")
    ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)


_preload_libusb()

import numpy as np  # noqa: E402
from tflite_support import metadata as _metadata
from tflite_support import metadata_schema_py_generated as fb  # noqa: E402
from tensorflow_lite_support.metadata.cc.python import _pywrap_metadata_version  # noqa: E402
import flatbuffers  # noqa: E402


# ---------------------------------------------------------------- variants

def afile(name, ftype, locale=None, version=None, description=None):
    f = fb.AssociatedFileT()
    f.name = name
    f.type = ftype
    f.locale = locale
    f.version = version
    f.description = description
    return f


def unit(kind, opts):
    u = fb.ProcessUnitT()
    u.optionsType = kind
    u.options = opts
    return u


def normalization(mean, std):
    o = fb.NormalizationOptionsT()
    o.mean = list(mean)
    o.std = list(std)
    return unit(fb.ProcessUnitOptions.NormalizationOptions, o)


def base_metadata():
    """Every 1.0.0 feature: image input, feature output, labels, calibration."""
    img = fb.ImagePropertiesT()
    img.colorSpace = fb.ColorSpaceType.RGB
    size = fb.ImageSizeT()
    size.width, size.height = 224, 160
    img.defaultSize = size
    content = fb.ContentT()
    content.contentPropertiesType = fb.ContentProperties.ImageProperties
    content.contentProperties = img
    rng = fb.ValueRangeT()
    rng.min, rng.max = 1, 2
    content.range = rng
    stats = fb.StatsT()
    stats.max = [1.0, 2.5, 3.0]
    stats.min = [-1.0, -2.5, 0.0]
    inp = fb.TensorMetadataT()
    inp.name = "image"
    inp.description = "an image"
    inp.dimensionNames = ["batch", "height", "width", "channels"]
    inp.content = content
    inp.processUnits = [normalization([127.5, 127.0, 126.5], [127.5, 128.0, 64.0])]
    inp.stats = stats

    cal = fb.ScoreCalibrationOptionsT()
    cal.scoreTransformation = fb.ScoreTransformationType.INVERSE_LOGISTIC
    cal.defaultScore = 0.25
    thr = fb.ScoreThresholdingOptionsT()
    thr.globalScoreThreshold = 0.5
    feat = fb.ContentT()
    feat.contentPropertiesType = fb.ContentProperties.FeatureProperties
    feat.contentProperties = fb.FeaturePropertiesT()
    out = fb.TensorMetadataT()
    out.name = "scores"
    out.content = feat
    out.processUnits = [unit(fb.ProcessUnitOptions.ScoreCalibrationOptions, cal),
                        unit(fb.ProcessUnitOptions.ScoreThresholdingOptions, thr)]
    out.associatedFiles = [
        afile("labels.txt", fb.AssociatedFileType.TENSOR_AXIS_LABELS, locale="en", description="labels"),
        afile("labels_fr.txt", fb.AssociatedFileType.TENSOR_AXIS_LABELS, locale="fr"),
        afile("calibration.txt", fb.AssociatedFileType.TENSOR_AXIS_SCORE_CALIBRATION),
        afile("ids.txt", fb.AssociatedFileType.TENSOR_VALUE_LABELS),
    ]

    box = fb.BoundingBoxPropertiesT()
    box.index = [1, 0, 3, 2]
    box.type = fb.BoundingBoxType.BOUNDARIES
    box.coordinateType = fb.CoordinateType.PIXEL
    boxc = fb.ContentT()
    boxc.contentPropertiesType = fb.ContentProperties.BoundingBoxProperties
    boxc.contentProperties = box
    boxes = fb.TensorMetadataT()
    boxes.name = "boxes"
    boxes.content = boxc

    sub = fb.SubGraphMetadataT()
    sub.name = "main"
    sub.description = "the graph"
    sub.inputTensorMetadata = [inp]
    sub.outputTensorMetadata = [out, boxes]
    sub.associatedFiles = [afile("notes.txt", fb.AssociatedFileType.DESCRIPTIONS)]

    md = fb.ModelMetadataT()
    md.name = "variant"
    md.description = "all 1.0.0 features"
    md.version = "v3"
    md.author = "tflite-forge tests"
    md.license = "Apache-2.0"
    md.subgraphMetadata = [sub]
    md.associatedFiles = [afile("readme.txt", fb.AssociatedFileType.UNKNOWN)]
    return md


def variants():
    out = {}
    out["base"] = base_metadata()

    md = base_metadata()
    md.associatedFiles.append(afile("vocab.txt", fb.AssociatedFileType.VOCABULARY))
    out["vocabulary_file"] = md

    md = base_metadata()
    bert = fb.BertTokenizerOptionsT()
    bert.vocabFile = [afile("vocab.txt", fb.AssociatedFileType.VOCABULARY)]
    md.subgraphMetadata[0].inputProcessUnits = [unit(fb.ProcessUnitOptions.BertTokenizerOptions, bert)]
    out["bert_tokenizer"] = md

    md = base_metadata()
    sp = fb.SentencePieceTokenizerOptionsT()
    sp.sentencePieceModel = [afile("sp.model", fb.AssociatedFileType.DESCRIPTIONS)]
    sp.vocabFile = [afile("sp_vocab.txt", fb.AssociatedFileType.DESCRIPTIONS)]
    md.subgraphMetadata[0].outputProcessUnits = [unit(fb.ProcessUnitOptions.SentencePieceTokenizerOptions, sp)]
    out["sentencepiece_tokenizer"] = md

    md = base_metadata()
    g = fb.TensorGroupT()
    g.name = "detections"
    g.tensorNames = ["scores", "boxes"]
    md.subgraphMetadata[0].outputTensorGroups = [g]
    out["tensor_groups"] = md

    md = base_metadata()
    rx = fb.RegexTokenizerOptionsT()
    rx.delimRegexPattern = "[ .,!?]"
    rx.vocabFile = [afile("words.txt", fb.AssociatedFileType.DESCRIPTIONS)]
    md.subgraphMetadata[0].inputTensorMetadata[0].processUnits.append(
        unit(fb.ProcessUnitOptions.RegexTokenizerOptions, rx))
    out["regex_tokenizer"] = md

    md = base_metadata()
    audio = fb.AudioPropertiesT()
    audio.sampleRate, audio.channels = 16000, 2
    c = fb.ContentT()
    c.contentPropertiesType = fb.ContentProperties.AudioProperties
    c.contentProperties = audio
    md.subgraphMetadata[0].inputTensorMetadata[0].content = c
    out["audio"] = md

    md = base_metadata()
    md.subgraphMetadata[0].associatedFiles.append(afile("index.ldb", fb.AssociatedFileType.SCANN_INDEX_FILE))
    out["scann_index"] = md

    md = base_metadata()
    md.subgraphMetadata[0].outputTensorMetadata[0].associatedFiles[0].version = "2024.1"
    out["file_version"] = md

    md = base_metadata()
    cm = fb.CustomMetadataT()
    cm.name = "tool"
    cm.data = list(range(40))
    md.subgraphMetadata[0].customMetadata = [cm]
    out["custom_metadata"] = md

    md = fb.ModelMetadataT()
    md.name = "bare"
    out["bare"] = md
    return out


def pack(md):
    b = flatbuffers.Builder(0)
    b.Finish(md.Pack(b), b"M001")
    return bytes(b.Output())


def to_plain(obj):
    """Object-API value -> JSON-able value (floats kept as float32 values)."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return float(np.float32(obj))
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [to_plain(x) for x in obj]
    return {k: to_plain(v) for k, v in sorted(vars(obj).items())}


def decode(buf):
    return fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(buf, 0))


def gen_variants(outdir):
    os.makedirs(outdir, exist_ok=True)
    versions = {}
    for name, md in variants().items():
        buf = pack(md)
        with open(os.path.join(outdir, name + ".m001"), "wb") as f:
            f.write(buf)
        versions[name] = _pywrap_metadata_version.GetMinimumMetadataParserVersion(buf)
    with open(os.path.join(outdir, "variants.json"), "w") as f:
        json.dump(versions, f, indent=1, sort_keys=True)
    return {"variants": versions}


def check_variants(outdir):
    with open(os.path.join(outdir, "variants.json")) as f:
        versions = json.load(f)
    results = {}
    for name, want_version in sorted(versions.items()):
        problems = []
        try:
            with open(os.path.join(outdir, name + ".m001"), "rb") as f:
                theirs = to_plain(decode(f.read()))
            with open(os.path.join(outdir, name + ".rust.m001"), "rb") as f:
                ours_buf = f.read()
            if ours_buf[4:8] != b"M001":
                problems.append("our buffer lacks the M001 identifier")
            ours = to_plain(decode(ours_buf))
            our_version = ours.pop("minParserVersion", None)
            theirs.pop("minParserVersion", None)
            if ours != theirs:
                problems.append("decoded metadata differs: ours %s vs theirs %s"
                                % (json.dumps(ours)[:400], json.dumps(theirs)[:400]))
            cpp_on_ours = _pywrap_metadata_version.GetMinimumMetadataParserVersion(ours_buf)
            if our_version != want_version:
                problems.append("our min_parser_version %r, C++ rules say %r" % (our_version, want_version))
            if cpp_on_ours != want_version:
                problems.append("C++ rules on our buffer give %r, on theirs %r" % (cpp_on_ours, want_version))
        except Exception as e:  # noqa: BLE001
            problems.append("%s: %s" % (type(e).__name__, e))
        results[name] = problems
    return {"variants": results}


# ---------------------------------------------------------------- files

def populate(model_in, model_out, labels, mean, std):
    from tflite_support.metadata_writers import image_classifier, writer_utils
    writer = image_classifier.MetadataWriter.create_for_inference(
        writer_utils.load_file(model_in), [float(mean)], [float(std)], [labels])
    writer_utils.save_file(writer.populate(), model_out)
    return {"written": model_out}


def classify(model, image, k):
    from tflite_support.task import core, processor, vision
    options = vision.ImageClassifierOptions(
        base_options=core.BaseOptions(file_name=model),
        classification_options=processor.ClassificationOptions(max_results=k))
    classifier = vision.ImageClassifier.create_from_options(options)
    tensor = vision.TensorImage.create_from_array(np.asarray(image, dtype=np.uint8))
    result = classifier.classify(tensor)
    return [(c.category_name, float(c.score)) for c in result.classifications[0].categories]


def recorded_files(node):
    """Names of the associated files the metadata JSON refers to."""
    if isinstance(node, list):
        for x in node:
            yield from recorded_files(x)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k in ("associated_files", "vocab_file", "sentencePiece_model"):
                for f in v:
                    yield f.get("name")
            else:
                yield from recorded_files(v)


def check_file(case):
    problems = []
    info = {}
    with open(case["model"], "rb") as f:
        buf = f.read()
    disp = _metadata.MetadataDisplayer.with_model_buffer(buf)
    info["json"] = json.loads(disp.get_metadata_json())
    packed = sorted(disp.get_packed_associated_file_list())
    want_files = case.get("files", {})
    if packed != sorted(want_files):
        problems.append("packed files %s, expected %s" % (packed, sorted(want_files)))
    for name, text in want_files.items():
        if name in packed and disp.get_associated_file_buffer(name) != text.encode():
            problems.append("content of %s differs" % name)
    recorded = sorted(set(recorded_files(info["json"])))
    if recorded != packed:
        problems.append("metadata records files %s but %s are packed" % (recorded, packed))
    version = info["json"].get("min_parser_version")
    cpp = _pywrap_metadata_version.GetMinimumMetadataParserVersion(disp.get_metadata_buffer())
    if version != cpp:
        problems.append("min_parser_version %r, C++ rules say %r" % (version, cpp))
    same_as = case.get("same_json_as")
    if same_as:
        with open(same_as, "rb") as f:
            other = json.loads(_metadata.MetadataDisplayer.with_model_buffer(f.read()).get_metadata_json())
        if other != info["json"]:
            problems.append("metadata JSON differs from %s: %s vs %s"
                            % (os.path.basename(same_as), json.dumps(info["json"])[:300], json.dumps(other)[:300]))
    cls = case.get("classify")
    if cls:
        got = classify(case["model"], cls["image"], len(cls["expected"]))
        info["classified"] = got
        want = cls["expected"]
        if cls.get("unordered"):
            # Quantized scores tie often; compare label -> score.
            g, w = dict(got), dict(want)
            if sorted(g) != sorted(w):
                problems.append("ImageClassifier labels %s, expected %s" % (got, want))
            else:
                worst = max(abs(g[k] - w[k]) for k in w)
                if worst > cls.get("atol", 1e-4):
                    problems.append("ImageClassifier scores %s, expected %s (max diff %g)" % (got, want, worst))
        elif [g[0] for g in got] != [w[0] for w in want]:
            problems.append("ImageClassifier labels %s, expected %s" % (got, want))
        else:
            worst = max(abs(g[1] - w[1]) for g, w in zip(got, want))
            if worst > cls.get("atol", 1e-4):
                problems.append("ImageClassifier scores %s, expected %s (max diff %g)" % (got, want, worst))
    return problems, info


def check_files(jobs_path):
    with open(jobs_path) as f:
        jobs = json.load(f)
    results = {}
    for case in jobs["cases"]:
        try:
            problems, info = check_file(case)
        except Exception as e:  # noqa: BLE001
            problems, info = ["%s: %s" % (type(e).__name__, e)], {}
        results[case["name"]] = {"problems": problems, "classified": info.get("classified")}
    return {"files": results}


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "gen-variants":
        out = gen_variants(argv[2])
    elif cmd == "check-variants":
        out = check_variants(argv[2])
    elif cmd == "populate":
        out = populate(argv[2], argv[3], argv[4], argv[5], argv[6])
    elif cmd == "check-files":
        out = check_files(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
