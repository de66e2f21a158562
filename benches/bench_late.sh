#!/usr/bin/env bash
# Late chunking against standalone embedding (issue: embed less and embed faster, part 1).
#   1. Quality: each reference corpus swept with vector retrieval, all-minilm-l6-v2 and
#      embedding = ["standalone", "late"] in one run; benches/late_compare.py prints, per
#      chunk set, both embeddings' nDCG@10 and recall@10 (and span recall@10 on Chroma)
#      with the paired difference and its 95% interval, and what each embedding cost.
#   2. Cost: late chunking over 6 chunk sizes against 1 size on Chroma, each from a cold
#      store, as a wall-time ratio (target ≤ 1.5).
# Figures in docs/results.md and docs/performance.md. About 8 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-late}"
rm -rf "$out"
mkdir -p "$out"
variant() {  # variant NAME SOURCE [--set KEY=VALUE ...]
  local name="$1" src="$2"
  shift 2
  .venv/bin/python scripts/grid_variant.py "grids/$src.toml" "$out/$name.toml" \
    --set 'retriever=["vector"]' --set 'model=["all-minilm-l6-v2"]' "$@"
  sed -i 's/^model = \["all-minilm-l6-v2"\]$/model = ["all-minilm-l6-v2"]\nembedding = ["standalone", "late"]/' "$out/$name.toml"
}
variant chroma reference-chroma --set 'chunk_size=[200, 400, 800]' --set 'chunk_overlap=[0]'
variant squad reference-squad
for name in chroma squad; do
  /usr/bin/time -f "%M" -o "$out/$name.maxrss_kb" \
    "$bin" sweep "$out/$name.toml" --out "$out/$name" --cache-dir "$out/cache-$name" --show 0 >/dev/null
  .venv/bin/python benches/late_compare.py "$out/$name" "$(cat "$out/$name.maxrss_kb")" | tee "$out/$name.md"
done
# Cost: one size against six, late only, each from a cold store.
for sizes in "200" "100, 200, 300, 400, 600, 800"; do
  tag="sizes-$(echo "$sizes" | tr -d ' ,' | head -c 20)"
  .venv/bin/python scripts/grid_variant.py grids/reference-chroma.toml "$out/$tag.toml" \
    --set 'retriever=["vector"]' --set 'model=["all-minilm-l6-v2"]' \
    --set "chunk_size=[$sizes]" --set 'chunk_overlap=[0]'
  sed -i 's/^model = \["all-minilm-l6-v2"\]$/model = ["all-minilm-l6-v2"]\nembedding = ["late"]/' "$out/$tag.toml"
  start=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$out/$tag.maxrss_kb" \
    "$bin" sweep "$out/$tag.toml" --out "$out/$tag" --cache-dir "$out/cache-$tag" --show 0 >/dev/null 2>&1
  echo "$((($(date +%s%N) - start) / 1000000))" > "$out/$tag.ms"
done
.venv/bin/python - "$out" <<'PY'
import sys
out = sys.argv[1]
one = int(open(f"{out}/sizes-200.ms").read()) / 1e3
six = int(open(f"{out}/sizes-100200300400600800.ms").read()) / 1e3
rss = lambda t: int(open(f"{out}/{t}.maxrss_kb").read()) // 1024
print(f"late chunking on Chroma, cold store: 1 chunk size {one:.1f} s (max RSS {rss('sizes-200')} MiB), "
      f"6 chunk sizes {six:.1f} s (max RSS {rss('sizes-100200300400600800')} MiB): ratio {six / one:.2f} (target ≤ 1.5)")
PY
