#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine that has no network and takes
# uploads of at most 64 MiB at a time (../shared/gpu/README.md): a `cuda` build of ragtune,
# onnxruntime-gpu's runtime and its CUDA provider slimmed to one GPU architecture,
# all-minilm-l6-v2 and SQuAD v1.1 dev, xz-compressed into two parts under gpu-bundle/
# (git-ignored), each under 64 MiB:
#   gpu-bundle/1/  the slimmed CUDA provider (about 52 MB)
#   gpu-bundle/2/  everything else (about 40 MB)
# On the GPU machine, in the repository: `scripts/gpu-unbundle.sh 1` after the first
# upload and `scripts/gpu-unbundle.sh 2` after the second unpack them into /opt/ragtune-gpu
# and print the command that runs the check. SM picks the architecture: 90 (H100, H200;
# the default), 80 (A100), 89 (L4, L40), 120 (Blackwell).
#   scripts/gpu-bundle.sh [SM]
set -euo pipefail
cd "$(dirname "$0")/.."
sm="${1:-90}"
slim=../shared/gpu/slim_cuda_provider.py
[ -f "$slim" ] || { echo "gpu-bundle.sh: $slim is missing (it slims the provider)" >&2; exit 1; }
models/fetch.sh --cuda
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}-cuda"
cargo build --release --quiet -p ragtune --features cuda
rm -rf gpu-bundle && mkdir -p gpu-bundle/1 gpu-bundle/2
python3 "$slim" models/onnxruntime-cuda/libonnxruntime_providers_cuda.so \
  gpu-bundle/1/libonnxruntime_providers_cuda.so "$sm"
xz -6 -T2 gpu-bundle/1/libonnxruntime_providers_cuda.so
stage=$(mktemp -d)
cp "$CARGO_TARGET_DIR/release/ragtune" "$stage/ragtune"
cp models/onnxruntime-cuda/libonnxruntime.so models/onnxruntime-cuda/libonnxruntime_providers_shared.so "$stage/"
mkdir -p "$stage/models"
cp -r models/all-minilm-l6-v2 "$stage/models/"
cp ../shared/datasets/squad-v1.1-dev/dev-v1.1.json "$stage/"
tar -C "$stage" -cf - . | xz -6 -T2 > gpu-bundle/2/rest.tar.xz
rm -rf "$stage"
du -b gpu-bundle/1/* gpu-bundle/2/* | awk '{printf "gpu-bundle.sh: %s %.1f MiB\n", $2, $1 / 1048576}'
for part in 1 2; do
  size=$(du -sb "gpu-bundle/$part" | cut -f1)
  [ "$size" -lt $((64 * 1048576)) ] || { echo "gpu-bundle.sh: gpu-bundle/$part exceeds 64 MiB" >&2; exit 1; }
done
