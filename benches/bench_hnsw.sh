#!/usr/bin/env bash
# HNSW builds, serial (the default: the same graph every run) against parallel
# (`[retrieval] hnsw_build = "parallel"`), on SQuAD v1.1 dev chunked at 100 characters
# (about 17k chunks), paraphrase-minilm-l3-v2, M 16, ef_construction 200.
#   1. an exact-only sweep fills a stage store with the vectors;
#   2. copies of that store then serve three HNSW sweeps that embed nothing and build one
#      graph each: serial, serial again (a second copy), parallel;
#   3. prints each build's seconds (index_seconds in results.parquet) as a ratio to the
#      serial one, their recall@10 and HNSW recall against exact search, and whether the
#      two serial runs' per-question results are identical.
# About 2 minutes on 2 cores. Figures in docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-hnsw}"
rm -rf "$out"
mkdir -p "$out"
variant() {  # variant NAME INDEX BUILD
  .venv/bin/python scripts/grid_variant.py grids/reference-squad.toml "$out/$1.toml" \
    --set 'chunker=["chars"]' --set 'chunk_size=[100]' --set 'retriever=["vector"]' \
    --set 'model=["paraphrase-minilm-l3-v2"]' --set "index=[\"$2\"]"$'\nhnsw_ef_search = [64]' \
    --set 'top_k=[10]' --set 'objective="recall@10"'
  sed -i "s/^\[retrieval\]$/[retrieval]\nhnsw_build = \"$3\"/" "$out/$1.toml"
}
variant fill exact serial
"$bin" sweep "$out/fill.toml" --out "$out/fill" --cache-dir "$out/store" --show 0 >/dev/null
for run in serial serial-again parallel; do
  variant "$run" hnsw "${run%-again}"
  cp -r "$out/store" "$out/store-$run"
  "$bin" sweep "$out/$run.toml" --out "$out/$run" --cache-dir "$out/store-$run" --show 0 >/dev/null
done
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
PY
