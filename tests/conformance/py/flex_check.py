#!/usr/bin/env python3
"""FlexBuffers cross-check against the reference implementation in the
`flatbuffers` wheel (flatbuffers.flexbuffers).

Reads cases [{"name", "value", "ours": hex}] from a JSON file, where "value"
is JSON with blobs written as {"$blob": hex}. For each case it decodes our
bytes with `flexbuffers.Loads` and compares with the value, and encodes the
value with `flexbuffers.Dumps` so that the caller can decode it with ours.
Prints {"name": {"problems": [...], "theirs": hex}} as JSON.
"""

import json
import math
import sys

from flatbuffers import flexbuffers


def to_py(v):
    if isinstance(v, dict):
        if set(v) == {"$blob"}:
            return bytes.fromhex(v["$blob"])
        return {k: to_py(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_py(x) for x in v]
    return v


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and (
            a == b or (math.isnan(a) and math.isnan(b)))
    if isinstance(a, (bytes, bytearray)) or isinstance(b, (bytes, bytearray)):
        return bytes(a) == bytes(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return sorted(a) == sorted(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) == type(b) and a == b


def main(path):
    with open(path) as f:
        cases = json.load(f)
    out = {}
    for c in cases:
        problems = []
        value = to_py(c["value"])
        theirs = b""
        try:
            got = flexbuffers.Loads(bytes.fromhex(c["ours"]))
            if not same(got, value):
                problems.append("Loads(ours) = %r, expected %r" % (got, value))
        except Exception as e:  # noqa: BLE001
            problems.append("Loads(ours) raised %s: %s" % (type(e).__name__, e))
        try:
            theirs = bytes(flexbuffers.Dumps(value))
        except Exception as e:  # noqa: BLE001
            problems.append("Dumps raised %s: %s" % (type(e).__name__, e))
        out[c["name"]] = {"problems": problems, "theirs": theirs.hex(), "identical": theirs.hex() == c["ours"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
