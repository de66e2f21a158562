#!/usr/bin/env bash
# Reranking by a second embedding model, both ways (issue: a second stage and the price of
# each setup): paraphrase-minilm-l3-v2 retrieves and all-minilm-l6-v2 rescores its top 20,
# and the reverse, beside each model alone, on SQuAD v1.1 dev (48 articles, 10,570
# questions, 128-token chunks) and Chroma's chunking evaluation (five corpora pooled,
# 200-token chunks). benches/rerank_report.py prints each setup's nDCG@10 and recall@5 with
# 95% intervals, the paired difference from its first stage, and what the reranker adds
# per query (rerank_ms_p50) beside the whole query's p50 and p99. Figures in
# docs/benchmarks.md, "Reranking". About 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-rerank}"
rm -rf "$out"
mkdir -p "$out"
data="$(cd ../shared/datasets && pwd)"
tables() {  # $1: chunk size in tokens, $2: objective
  cat <<TOML
[grid]
chunker = ["tokens"]
chunk_size = [$1]
chunk_overlap = [0]
retriever = ["vector"]
model = ["paraphrase-minilm-l3-v2", "all-minilm-l6-v2"]
rerank = ["none", "embed:paraphrase-minilm-l3-v2", "embed:all-minilm-l6-v2"]
rerank_depth = [20]
top_k = [1, 5, 10]
[retrieval]
depth = 20
tokenizer = "$PWD/models/all-minilm-l6-v2/tokenizer.json"
[select]
objective = "$2"
TOML
}
{ printf 'name = "rerank-squad"\n[corpus]\nformat = "squad"\npath = "%s"\n' "$data/squad-v1.1-dev/dev-v1.1.json"
  tables 128 "ndcg@10"; } > "$out/squad.toml"
{ printf 'name = "rerank-chroma"\n[corpus]\nformat = "chroma"\npath = "%s"\n' "$data/chroma-chunking"
  tables 200 "span_recall@5"; } > "$out/chroma.toml"
for name in squad chroma; do
  "$bin" sweep "$out/$name.toml" --out "$out/$name" --cache-dir "$out/cache" --show 0 >/dev/null
done
.venv/bin/python benches/rerank_report.py "$out/squad" "$out/chroma" | tee "$out/report.md"
