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
#   4. several graphs in one sweep, each built serially, side by side: two models
#      (all-minilm-l6-v2 as well) on chars/100, and one model on two chunk sets (chars/100
#      and chars/200), each against one sweep per graph, from copies of the same store;
#      prints the wall-time ratios and whether the rows are identical.
# About 6 minutes on 2 cores. Figures in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-hnsw}"
rm -rf "$out"
mkdir -p "$out"
l3='"paraphrase-minilm-l3-v2"'
l6='"all-minilm-l6-v2"'
variant() {  # variant NAME INDEX BUILD [MODELS [SIZES]]
  .venv/bin/python scripts/grid_variant.py grids/reference-squad.toml "$out/$1.toml" \
    --set 'chunker=["chars"]' --set "chunk_size=[${5:-100}]" --set 'retriever=["vector"]' \
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
variant fill-200 exact serial "$l3" 200
for fill in fill fill-200; do
  "$bin" sweep "$out/$fill.toml" --out "$out/$fill" --cache-dir "$out/store" --show 0 >/dev/null
done
for run in serial serial-again parallel; do
  variant "$run" hnsw "${run%-again}"
  sweep "$run"
done
variant l6-alone hnsw serial "$l6"
variant both hnsw serial "$l3, $l6"
variant chars200-alone hnsw serial "$l3" 200
variant two-sets hnsw serial "$l3" "100, 200"
sweep l6-alone
sweep both
sweep chars200-alone
sweep two-sets
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

builds = lambda run: pl.read_parquet(f"{out}/{run}/results.parquet")["index_seconds"].to_list()
key = ["config_id", "top_k", "question_id"]


def side_by_side(title, together, apart):
    wall = {r: seconds(r) for r in (together, *apart)}
    alone = sum(wall[r] for r in apart)
    print(title)
    print(f"  one sweep per graph   {alone:7.2f} s  x1.000  ({' + '.join(f'{wall[r]:.2f}' for r in apart)} s)")
    print(f"  all in one sweep      {wall[together]:7.2f} s  x{wall[together] / alone:.3f}  (graphs side by side)")
    print(f"  graph builds: alone {' + '.join(f'{builds(r)[0]:.2f}' for r in apart)} s; "
          f"side by side {' and '.join(f'{x:.2f}' for x in builds(together))} s at the same time")
    one = pl.concat([pl.read_parquet(f"{out}/{r}/per_question.parquet") for r in apart]).sort(key)
    both = pl.read_parquet(f"{out}/{together}/per_question.parquet").sort(key)
    print("  identical per-question results:", both.equals(one))


side_by_side("Two models (paraphrase-minilm-l3-v2, all-minilm-l6-v2) on chars/100, serial builds",
             "both", ("serial", "l6-alone"))
side_by_side("One model (paraphrase-minilm-l3-v2) on chars/100 and chars/200, serial builds",
             "two-sets", ("serial", "chars200-alone"))
PY
