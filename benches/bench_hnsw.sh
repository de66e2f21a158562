#!/usr/bin/env bash
# HNSW builds, serial (the default: the same graph every run) against parallel
# (`[retrieval] hnsw_build = "parallel"`), on SQuAD v1.1 dev chunked at 100 characters
# (about 17k chunks), paraphrase-minilm-l3-v2, M 16, ef_construction 200.
#   1. an exact-only sweep fills a stage store with the vectors;
#   2. copies of that store then serve three HNSW sweeps that embed nothing and build one
#      graph each: serial, serial again (a second copy), parallel;
#   3. prints each build's seconds (index_seconds in results.parquet) as a ratio to the
#      serial one, their recall@10 and HNSW recall against exact search, and whether the
#      two serial runs' per-question results are identical;
#   4. two models (all-minilm-l6-v2 as well): one sweep builds each chunk set's two graphs
#      side by side (serially each), against two sweeps of one model each, from copies of
#      the same store; prints the wall-time ratio and whether the rows are identical.
# About 5 minutes on 2 cores. Figures in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-hnsw}"
rm -rf "$out"
mkdir -p "$out"
l3='"paraphrase-minilm-l3-v2"'
l6='"all-minilm-l6-v2"'
variant() {  # variant NAME INDEX BUILD [MODELS]
  .venv/bin/python scripts/grid_variant.py grids/reference-squad.toml "$out/$1.toml" \
    --set 'chunker=["chars"]' --set 'chunk_size=[100]' --set 'retriever=["vector"]' \
    --set "model=[${4:-$l3}]" --set "index=[\"$2\"]"$'\nhnsw_ef_search = [64]' \
    --set 'top_k=[10]' --set 'objective="recall@10"'
  sed -i "s/^\[retrieval\]$/[retrieval]\nhnsw_build = \"$3\"/" "$out/$1.toml"
}
sweep() {  # sweep RUN: from a copy of the filled store; records the wall seconds
  cp -r "$out/store" "$out/store-$1"
  date +%s.%N > "$out/$1.wall"
  "$bin" sweep "$out/$1.toml" --out "$out/$1" --cache-dir "$out/store-$1" --show 0 >/dev/null
  date +%s.%N >> "$out/$1.wall"
}
variant fill exact serial "$l3, $l6"
"$bin" sweep "$out/fill.toml" --out "$out/fill" --cache-dir "$out/store" --show 0 >/dev/null
for run in serial serial-again parallel; do
  variant "$run" hnsw "${run%-again}"
  sweep "$run"
done
variant l6-alone hnsw serial "$l6"
variant both hnsw serial "$l3, $l6"
sweep l6-alone
sweep both
.venv/bin/python - "$out" <<'PY'
import sys
import polars as pl
out = sys.argv[1]
rows = {}
for run in ("serial", "serial-again", "parallel"):
    r = pl.read_parquet(f"{out}/{run}/results.parquet").row(0, named=True)
    rows[run] = r
base = rows["serial"]["index_seconds"]
print(f"HNSW build over {rows['serial']['n_chunks']} chunks (SQuAD chars/100, paraphrase-minilm-l3-v2, M 16, efc 200)")
for run, r in rows.items():
    print(f"  {run:13} {r['index_seconds']:7.2f} s  x{r['index_seconds'] / base:.3f}  "
          f"recall@10 {r['recall']:.4f}  HNSW recall vs exact {r['hnsw_recall_vs_exact']:.4f}")
a = pl.read_parquet(f"{out}/serial/per_question.parquet")
b = pl.read_parquet(f"{out}/serial-again/per_question.parquet")
print("  two serial builds give identical per-question results:", a.equals(b))

def seconds(run):
    start, end = map(float, open(f"{out}/{run}.wall").read().split())
    return end - start

wall = {r: seconds(r) for r in ("serial", "l6-alone", "both")}
alone = wall["serial"] + wall["l6-alone"]
print("Two models (paraphrase-minilm-l3-v2, all-minilm-l6-v2), one graph each, serial builds")
print(f"  one sweep per model   {alone:7.2f} s  x1.000  ({wall['serial']:.2f} + {wall['l6-alone']:.2f} s)")
print(f"  both in one sweep     {wall['both']:7.2f} s  x{wall['both'] / alone:.3f}  (graphs side by side)")
builds = lambda run: pl.read_parquet(f"{out}/{run}/results.parquet")["index_seconds"].to_list()
print(f"  graph builds: alone {builds('serial')[0]:.2f} + {builds('l6-alone')[0]:.2f} s; "
      f"side by side {' and '.join(f'{x:.2f}' for x in builds('both'))} s at the same time")
key = ["config_id", "top_k", "question_id"]
both = pl.read_parquet(f"{out}/both/per_question.parquet").sort(key)
one = pl.concat([pl.read_parquet(f"{out}/{r}/per_question.parquet") for r in ("serial", "l6-alone")]).sort(key)
print("  identical per-question results:", both.equals(one))
PY
