#!/usr/bin/env bash
# Scaling from 1 to 2 threads (issue: embed less and embed faster, part 2), and the
# scheme that runs several batches at once: --threads 2 as one ONNX Runtime session of two
# intra-op threads, or as two sessions of one thread each (the default on CPU). Each run is
# `ragtune sweep` from a cold stage store on Chroma's tokens/200/0 chunk set, vector
# retrieval, one model per run; every setting runs twice, interleaved, for each model.
# benches/scaling_report.py prints the embedding stage's tokens/s, the ratio to one
# thread, and max RSS. Figures in docs/performance.md. About 8 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-scaling}"
rm -rf "$out"
mkdir -p "$out"
settings=("1 1" "2 1" "2 2")  # threads, sessions
for model in all-minilm-l6-v2 all-minilm-l6-v2-q8; do
  .venv/bin/python scripts/grid_variant.py grids/reference-chroma.toml "$out/$model.toml" \
    --set 'retriever=["vector"]' --set "model=[\"$model\"]" \
    --set 'chunk_size=[200]' --set 'chunk_overlap=[0]'
  for rep in 1 2; do
    for s in "${settings[@]}"; do
      set -- $s
      run="$out/$model-t$1-s$2-r$rep"
      /usr/bin/time -f "%M" -o "$run.maxrss_kb" \
        "$bin" sweep "$out/$model.toml" --out "$run" --cache-dir "$run.cache" \
        --threads "$1" --sessions "$2" --show 0 >/dev/null
      rm -rf "$run.cache"
    done
  done
done
.venv/bin/python benches/scaling_report.py "$out" | tee "$out/report.md"
