#!/usr/bin/env bash
# Refresh the vendored onnxruntime-web (its WebAssembly build) from the npm registry:
#   bash scripts/refresh-onnxruntime-web.sh [VERSION]      (default: the version in static/ort/VERSION)
# The app serves these files itself (Streamlit's static serving), so it works offline and loads nothing
# from a CDN. Only the WebAssembly bundle is kept: ort.wasm.bundle.min.mjs (the JavaScript, with the
# Emscripten glue inside) and ort-wasm-simd-threaded.wasm.
set -euo pipefail
here="$(cd "$(dirname "$0")/../static/ort" && pwd)"
version="${1:-$(cat "$here/VERSION")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "onnxruntime-web@$version" --silent >/dev/null && tar xzf onnxruntime-web-*.tgz)
cp "$work/package/dist/ort.wasm.bundle.min.mjs" "$work/package/dist/ort-wasm-simd-threaded.wasm" "$here/"
echo "$version" > "$here/VERSION"
echo "onnxruntime-web $version -> $here (MIT licence: $here/LICENSE)"
