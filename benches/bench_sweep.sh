#!/usr/bin/env bash
# Sweep benchmark: what reuse saves. All timings come from one invocation, and each is
# printed as a ratio against the baseline (a cold-cache sweep of a small hybrid grid on two
# Chroma corpora) measured in the same run.
#   1. baseline: cold embedding cache
#   2. the same grid again: warm cache (embedding reuse across runs)
#   3. warm, 9 alphas x 2 normalisations + 3 RRF constants instead of 1 fusion (fusion reuse)
#   4. warm, 20 values of top_k instead of 1 (every k scored from one ranking)
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
bin=$CARGO_TARGET_DIR/release/ragtune
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grid() { # name fusion-lines top_k
  cat > "$tmp/$1.toml" <<G
name = "$1"
[corpus]
format = "chroma"
path = "$PWD/../shared/datasets/chroma-chunking"
include = ["chatlogs", "state_of_the_union"]
[grid]
chunker = ["tokens"]
chunk_size = [128, 256]
retriever = ["hybrid"]
model = ["paraphrase-minilm-l3-v2"]
$2
top_k = $3
[retrieval]
depth = 20
[select]
objective = "span_recall@5"
G
}
grid base 'fusion = ["weighted"]
alpha = [0.5]' '[5]'
grid fusions 'fusion = ["weighted", "rrf"]
alpha = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
normalization = ["minmax", "zscore"]
rrf_k = [10, 60, 100]' '[5]'
grid ks 'fusion = ["weighted"]
alpha = [0.5]' '[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]'
timeit() { # label grid
  local s e
  s=$(date +%s.%N)
  $bin sweep "$tmp/$2.toml" --out "$tmp/run-$1" --cache-dir "$tmp/cache" --show 0 2> "$tmp/$1.log" >/dev/null
  e=$(date +%s.%N)
  python3 -c "print(f'{$e - $s:.2f}')"
}
t_base=$(timeit cold base)
t_warm=$(timeit warm base)
t_fus=$(timeit fusions fusions)
t_ks=$(timeit ks ks)
points() { ls "$tmp/run-$1/points" | wc -l; }
printf '%-44s %7s %8s %9s\n' "case" points seconds "ratio"
row() { printf '%-44s %7s %8s %9s\n' "$1" "$2" "$3" "$(python3 -c "print(f'x{$3/$t_base:.3f}')")"; }
row "1 baseline: cold cache, 1 fusion, k=5" "$(points cold)" "$t_base"
row "2 warm cache, same grid" "$(points warm)" "$t_warm"
row "3 warm cache, 21 fusion settings" "$(points fusions)" "$t_fus"
row "4 warm cache, 20 values of k" "$(points ks)" "$t_ks"
python3 -c "
import json
for r in ['cold', 'warm']:
    m = json.load(open('$tmp/run-' + r + '/manifest.json'))
    print(f'{r}: embedding cache {m[\"cache_hits\"]} hits, {m[\"cache_misses\"]} misses')"
echo "$(nproc) cores; each run is one process start, corpus load, chunking and BM25 indexing included"
