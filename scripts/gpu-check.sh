#!/usr/bin/env bash
# The CUDA check (issue: embed less and embed faster, part 3). On a machine with an NVIDIA
# GPU: provisions onnxruntime-gpu (models/fetch.sh --cuda), builds ragtune with the `cuda`
# feature, and sweeps SQuAD v1.1 dev (../shared/datasets: 48 articles in 128- and
# 256-token chunks, 5,500 chunks and 10,570 questions) with vector retrieval twice, from
# cold stores: --device cuda (batch size auto) and --device cpu. scripts/gpu_compare.py
# prints both runs' nDCG@10 per setup, which must agree within 0.002, each run's
# embedding tokens/s and batch size, and the GPU's utilisation sampled during the CUDA
# run. Exit status: 0 when the metrics agree, 1 when they do not, 77 (with a NOT RUN
# banner) when there is no GPU. On a GPU machine without network, see scripts/gpu-bundle.sh.
#
# CUDA libraries: libonnxruntime_providers_cuda.so (onnxruntime-gpu 1.31.1) links CUDA 13's
# libcudart, libcublas, libcublasLt and libcurand, and the driver's libcuda.so.1, and loads
# cuDNN 9 (libcudnn*.so.9) at run time (models/README.md). They are found through LD_LIBRARY_PATH; when it does not
# reach them, this script looks for them on the machine (PyTorch's pip packages put them
# under site-packages/nvidia/*/lib).
set -euo pipefail
cd "$(dirname "$0")/.."
not_run() {
  printf '\n%s\n' "################################################################"
  printf '%s\n' "## scripts/gpu-check.sh: NOT RUN: $1"
  printf '%s\n\n' "################################################################"
  exit 77
}
command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 || not_run "no NVIDIA GPU (nvidia-smi finds none)"
squad="${GPU_CHECK_SQUAD:-$(cd ../shared/datasets/squad-v1.1-dev 2>/dev/null && pwd)/dev-v1.1.json}"
[ -f "$squad" ] || not_run "$squad is missing (set GPU_CHECK_SQUAD)"
# A GPU machine may have no network: with RAGTUNE_BIN (a `cuda` build), ORT_DYLIB_PATH and
# RAGTUNE_MODELS_DIR brought along (scripts/gpu-bundle.sh), nothing is fetched or built.
if [ -n "${RAGTUNE_BIN:-}" ]; then
  bin="$RAGTUNE_BIN"
else
  models/fetch.sh --cuda
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
  cargo build --release --quiet -p ragtune --features cuda
  bin="$CARGO_TARGET_DIR/release/ragtune"
  # Both runs use onnxruntime-gpu's runtime (its CPU provider for the CPU run), so that
  # the comparison is of devices, not of runtime versions.
  export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/models/onnxruntime-cuda/libonnxruntime.so}"
fi
cuda_libs() { # folders holding the CUDA 13 and cuDNN 9 libraries, joined by ':'
  for lib in libcudart.so.13 libcublasLt.so.13 libcublas.so.13 libcurand.so.10 libcudnn.so.9; do
    find / -name "$lib" -not -path '/proc/*' 2>/dev/null | head -1 | xargs -r dirname
  done | sort -u | paste -sd:
}
if ! ldconfig -p | grep -q libcublasLt.so.13; then
  export LD_LIBRARY_PATH="$(cuda_libs)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
out="${GPU_CHECK_OUT:-runs/gpu-check}"
rm -rf "$out"
mkdir -p "$out"
cat > "$out/grid.toml" <<GRID
name = "gpu-check"
[corpus]
format = "squad"
path = "$squad"
[grid]
chunker = ["tokens"]
chunk_size = [128, 256]
chunk_overlap = [0]
retriever = ["vector"]
model = ["all-minilm-l6-v2"]
index = ["exact"]
top_k = [10]
[retrieval]
depth = 50
[select]
objective = "ndcg@10"
GRID
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 200 \
  > "$out/gpu-util.csv" &
sampler=$!
"$bin" sweep "$out/grid.toml" --out "$out/cuda" --cache-dir "$out/cache-cuda" --device cuda --show 0
kill "$sampler"
"$bin" sweep "$out/grid.toml" --out "$out/cpu" --cache-dir "$out/cache-cpu" --device cpu --show 0
"$bin" compare "$out/cpu" "$out/cuda" --metric ndcg@10 --json > "$out/compare.json"
python3 scripts/gpu_compare.py "$out" | tee "$out/report.md"
