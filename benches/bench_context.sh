#!/usr/bin/env bash
# Chunk context (issue: a lighter index and richer chunks): chunk headers, neighbours and
# query/passage prefixes, each against its baseline with paired 95% intervals.
#  - SQuAD v1.1 dev, each of its 2,067 paragraphs a document titled with its article (the
#    JSONL bench_quant.sh writes; chunker `none`), all 10,570 questions: chunk_header
#    none, title and path for BM25 and all-MiniLM-L6; and all-MiniLM-L6 given e5's
#    prefixes ("query: ", "passage: ") through model.toml (no e5 or bge ONNX model ships
#    in any package here, so this measures the mechanism on a model not trained with them).
#  - Chroma's chunking evaluation (five corpora pooled), 200-token chunks: chunk_header
#    none, title and path, and expand 0, 1 and 2, for BM25 and all-MiniLM-L6.
# benches/context_report.py prints each setup's figures with 95% intervals and the paired
# difference from its baseline (same retriever, header none, no neighbours, no prefixes).
# Figures in docs/benchmarks.md, "Chunk context". About 15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-context}"
quant="${BENCH_QUANT:-runs/bench-quant}"
rm -rf "$out/squad" "$out/chroma" "$out/report.md"
mkdir -p "$out"
[ -f "$quant/corpus/docs.jsonl" ] || { echo "run benches/bench_quant.sh first (it writes the paragraphs JSONL)" >&2; exit 2; }
# all-MiniLM-L6 with e5's prefixes: the same files, a model.toml that declares them.
e5="$out/minilm-e5-prefixes"
mkdir -p "$e5"
ln -sf "$PWD/models/all-minilm-l6-v2/model.onnx" "$e5/model.onnx"
ln -sf "$PWD/models/all-minilm-l6-v2/tokenizer.json" "$e5/tokenizer.json"
sed 's/^name = .*/name = "minilm-e5-prefixes"/' models/all-minilm-l6-v2/model.toml > "$e5/model.toml"
printf 'query_prefix = "query: "\npassage_prefix = "passage: "\n' >> "$e5/model.toml"
cat > "$out/squad.toml" <<TOML
name = "context-squad-paragraphs"
[corpus]
format = "jsonl"
path = "$PWD/$quant/corpus/docs.jsonl"
questions = "$PWD/$quant/corpus/questions.jsonl"
[grid]
chunker = ["none"]
chunk_header = ["none", "title", "path"]
retriever = ["bm25", "vector"]
model = ["all-minilm-l6-v2", "$PWD/$e5"]
top_k = [1, 5, 10]
[retrieval]
depth = 10
[select]
objective = "ndcg@10"
TOML
cat > "$out/chroma.toml" <<TOML
name = "context-chroma"
[corpus]
format = "chroma"
path = "$(cd ../shared/datasets/chroma-chunking && pwd)"
[grid]
chunker = ["tokens"]
chunk_size = [200]
chunk_overlap = [0]
chunk_header = ["none", "title", "path"]
retriever = ["bm25", "vector"]
model = ["all-minilm-l6-v2"]
expand = [0, 1, 2]
top_k = [1, 5, 10]
[retrieval]
depth = 10
tokenizer = "$PWD/models/all-minilm-l6-v2/tokenizer.json"
[select]
objective = "span_recall@5"
TOML
for name in squad chroma; do
  "$bin" sweep "$out/$name.toml" --out "$out/$name" --cache-dir "$quant/cache" --show 0 >/dev/null
done
.venv/bin/python benches/context_report.py "$out/squad" "$out/chroma" | tee "$out/report.md"
