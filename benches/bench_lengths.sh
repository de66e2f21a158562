#!/usr/bin/env bash
# Tokens/s of ragtune's embedding stage by text length (issue "where the time goes now",
# part 2): Chroma's chatlogs, state_of_the_union and wikitexts cut by the `window-tokens`
# chunker into windows of 32, 64, 128 and 256 tokens (the report prints the mean tokens
# each text embeds as), vector retrieval over exact search, both bundled models, each from a cold store
# with the default batch budget (tokens:256) and with 128, 512 and 1,024; every setting
# twice, interleaved. benches/lengths_report.py prints the chunk embedding's tokens/s
# (from the manifest; the questions' embedding is left out), the best budget per length,
# and where a sweep's CPU goes at 32 and 256 tokens (`perf`, by library). Figures in
# docs/performance.md ("Long texts"). About 10 minutes on 2 cores.
#   benches/bench_lengths.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-lengths}"
chroma="$(cd ../shared/datasets/chroma-chunking && pwd)"
rm -rf "$out"
mkdir -p "$out"
grid() {  # grid MODEL SIZE: the one-setup grid file for MODEL over chunks of SIZE tokens
  local file="$out/$1-$2.toml"
  cat > "$file" <<GRID
name = "lengths"
[corpus]
format = "chroma"
path = "$chroma"
include = ["chatlogs", "state_of_the_union", "wikitexts"]
[grid]
chunker = ["window-tokens"]
chunk_size = [$2]
chunk_overlap = [0]
retriever = ["vector"]
model = ["$1"]
index = ["exact"]
top_k = [5]
[select]
objective = "recall@5"
GRID
  echo "$file"
}
models=(all-minilm-l6-v2 paraphrase-minilm-l3-v2)
sizes=(32 64 128 256)
for rep in 1 2; do
  for model in "${models[@]}"; do
    for size in "${sizes[@]}"; do
      for batch in 128 256 512 1024; do
        run="$out/$model-$size-tokens$batch-r$rep"
        /usr/bin/time -f "%M" -o "$run.maxrss_kb" "$bin" sweep "$(grid "$model" "$size")" \
          --out "$run" --cache-dir "$run.cache" --batch-size "tokens:$batch" --show 0 \
          >/dev/null 2>"$run.err"
        rm -rf "$run.cache"
      done
    done
  done
done
# Where the time goes: one sweep each at 32 and 256 tokens, default budget, under perf
# (sample counts by library and symbol). Without a working perf the report says so.
for size in 32 256; do
  run="$out/perf-$size"
  if perf record -q -F 999 -o "$run.data" -- "$bin" sweep "$(grid all-minilm-l6-v2 "$size")" \
    --out "$run" --cache-dir "$run.cache" --show 0 >/dev/null 2>"$run.err"; then
    perf report -i "$run.data" -n --no-children --sort dso,sym --stdio 2>/dev/null > "$run.txt"
  else
    echo "bench_lengths: perf record failed or is not installed: no breakdown at $size tokens" >&2
    rm -f "$run.txt"
  fi
  rm -rf "$run.cache" "$run.data"
done
.venv/bin/python benches/lengths_report.py "$out" | tee "$out/report.md"
