#!/usr/bin/env bash
# all-minilm-l6-v2-q8 against all-minilm-l6-v2 (issue: embed less and embed faster, part 2):
# both models in one sweep per reference corpus (vector retrieval, cold stage store), then
# benches/q8_compare.py prints, per chunk set, the paired difference in nDCG@10 and
# recall@10 (q8 − fp32, 95% bootstrap interval) and each model's embedding throughput in
# the same sweep. Figures in docs/performance.md. About 6 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-q8}"
rm -rf "$out"
mkdir -p "$out"
for name in squad chroma; do
  set_sizes=()
  if [ "$name" = chroma ]; then  # two chunk sets keep the run short
    set_sizes=(--set "chunk_size=[200, 400]" --set "chunk_overlap=[0]")
  fi
  .venv/bin/python scripts/grid_variant.py "grids/reference-$name.toml" "$out/$name.toml" \
    --set 'retriever=["vector"]' --set 'model=["all-minilm-l6-v2", "all-minilm-l6-v2-q8"]' \
    --set 'objective="ndcg@10"' "${set_sizes[@]}"
  /usr/bin/time -f "%M" -o "$out/$name.maxrss_kb" \
    "$bin" sweep "$out/$name.toml" --out "$out/$name" --cache-dir "$out/cache-$name" --show 0 >/dev/null
  .venv/bin/python benches/q8_compare.py "$out/$name" "$(cat "$out/$name.maxrss_kb")" | tee "$out/$name.md"
done
