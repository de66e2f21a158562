#!/usr/bin/env bash
# Unpacks a part of scripts/gpu-bundle.sh's gpu-bundle/ into /opt/ragtune-gpu (out of the
# repository, so that the next upload cannot replace it). After part 2 it prints the
# command that runs scripts/gpu-check.sh on what was unpacked.
#   scripts/gpu-unbundle.sh 1|2
set -euo pipefail
cd "$(dirname "$0")/.."
dest=/opt/ragtune-gpu
mkdir -p "$dest"
case "${1:-}" in
  1) xz -dc gpu-bundle/1/libonnxruntime_providers_cuda.so.xz > "$dest/libonnxruntime_providers_cuda.so" ;;
  2) xz -dc gpu-bundle/2/rest.tar.xz | tar -C "$dest" -xf -
     chmod +x "$dest/ragtune"
     echo "ORT_DYLIB_PATH=$dest/libonnxruntime.so RAGTUNE_BIN=$dest/ragtune RAGTUNE_MODELS_DIR=$dest/models GPU_CHECK_SQUAD=$dest/dev-v1.1.json scripts/gpu-check.sh" ;;
  *) echo "usage: scripts/gpu-unbundle.sh 1|2" >&2; exit 2 ;;
esac
ls -la "$dest"
