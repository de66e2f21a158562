#!/usr/bin/env bash
# ragtune against a plain Python pipeline of the kind users write (issue: embed less and
# embed faster, part 4): benches/python/pipeline.py in its naive form (every setup chunks,
# embeds and indexes on its own) and its careful form (each chunk set once), and ragtune,
# on one grid of 24 setups over three of Chroma's corpora (chatlogs, state_of_the_union,
# wikitexts), each from cold. benches/python/compare.py prints span recall@5 of every
# setup side by side (they must agree within chunker and index differences), the wall
# times as ratios against ragtune, and each process's max RSS. Figures in
# docs/performance.md. About 7 minutes on 2 cores (the long grid about 5).
#   benches/bench_vs_python.sh [long]
# `long` runs the long-chunk grid instead (issue "where the time goes now", part 2):
# recursive 800 and 1,600 characters with overlaps 0 and 200, two corpora (state_of_the_union,
# wikitexts), BM25, vector and both hybrids over HNSW: 16 setups.
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh
venv=benches/python/.venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/python/requirements.txt
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
bin="$CARGO_TARGET_DIR/release/ragtune"
grid="${1:-short}"
out="${BENCH_OUT:-runs/bench-python${grid/short/}}"
chroma="$(cd ../shared/datasets/chroma-chunking && pwd)"
rm -rf "$out"
mkdir -p "$out"
if [ "$grid" = long ]; then
  corpora=(state_of_the_union wikitexts)
  sizes="800, 1600"; overlaps="0, 200"; index='index = ["hnsw"]'
  export PIPELINE_SIZES=800,1600 PIPELINE_OVERLAP_CHARS=0,200
else
  corpora=(chatlogs state_of_the_union wikitexts)
  sizes="300, 600, 1200"; overlaps='0, "25%"'; index=""
fi
include=$(printf '"%s", ' "${corpora[@]}")
cat > "$out/grid.toml" <<GRID
name = "vs-python"
[corpus]
format = "chroma"
path = "$chroma"
include = [${include%, }]
[grid]
chunker = ["recursive"]
chunk_size = [$sizes]
chunk_overlap = [$overlaps]
$index
retriever = ["bm25", "vector", "hybrid"]
model = ["all-minilm-l6-v2"]
fusion = ["rrf", "weighted"]
rrf_k = [60]
alpha = [0.5]
top_k = [5]
[retrieval]
depth = 50
[select]
objective = "span_recall@5"
GRID
timed() {  # timed NAME COMMAND...: wall milliseconds and max RSS of one cold process
  local name="$1"
  shift
  local start
  start=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$out/$name.maxrss_kb" "$@"
  echo "$((($(date +%s%N) - start) / 1000000))" > "$out/$name.ms"
}
timed ragtune "$bin" sweep "$out/grid.toml" --out "$out/ragtune" --cache-dir "$out/cache" --show 0 >/dev/null 2>&1
for mode in careful naive; do
  timed "$mode" "$venv/bin/python" benches/python/pipeline.py "$mode" "$chroma" \
    models/all-minilm-l6-v2 "$out/$mode.json" "${corpora[@]}" 2>"$out/$mode.err"
done
# The careful pipeline again on the wheel's own model file, the one a user downloads, with
# its softmax NaN guards (models/derive_unguarded.py removes them for ragtune: same vectors).
wheel_model="$out/wheel-model"
if [ ! -f models/.sources/all-minilm-l6-v2.onnx ]; then  # fetched only when a derivation runs
  rm -f models/all-minilm-l6-v2/model.onnx && models/fetch.sh
fi
mkdir -p "$wheel_model"
ln -sf "$PWD/models/.sources/all-minilm-l6-v2.onnx" "$wheel_model/model.onnx"
ln -sf "$PWD/models/all-minilm-l6-v2/tokenizer.json" "$wheel_model/tokenizer.json"
timed careful-wheel "$venv/bin/python" benches/python/pipeline.py careful "$chroma" \
  "$wheel_model" "$out/careful-wheel.json" "${corpora[@]}" 2>"$out/careful-wheel.err"
"$venv/bin/python" benches/python/compare.py "$out" | tee "$out/compare.md"
