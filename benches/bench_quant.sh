#!/usr/bin/env bash
# Quantised vectors (issue: a lighter index and richer chunks), in two parts:
#  1. Quality and memory on SQuAD v1.1 dev with each of its 2,067 paragraphs as a document
#     (a JSONL this script writes; chunker `none`; all 10,570 questions, each labelled with
#     its paragraph) and all-MiniLM-L6: float32, int8 and binary vectors, exact and HNSW,
#     rescored ×0, ×1, ×4 and ×10. benches/quant_report.py prints nDCG@10 with 95%
#     intervals, the paired difference from float32 on the same index, the share of
#     float32's nDCG@10 kept, vector and graph bytes, p50 latency, and checks the targets.
#  2. Speed of exact search at 50,000 vectors of 384 dimensions on one thread: float32
#     (the baseline, same run), int8, and binary (Hamming scan and top-40 selection), with
#     binary's float32 rescoring timed apart (crates/ragtune-vector/benches/quant.rs).
# Figures in docs/benchmarks.md, "Quantised vectors". About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-quant}"
rm -rf "$out/squad" "$out/report.md"
mkdir -p "$out/corpus"
python3 - "$out/corpus" <<'PY'
import json, sys
out = sys.argv[1]
d = json.load(open("../shared/datasets/squad-v1.1-dev/dev-v1.1.json"))
with open(f"{out}/docs.jsonl", "w") as docs, open(f"{out}/questions.jsonl", "w") as qs:
    n = 0
    for a in d["data"]:
        for p in a["paragraphs"]:
            pid = f"p{n}"
            n += 1
            docs.write(json.dumps({"id": pid, "title": a["title"].replace("_", " "), "text": p["context"]}) + "\n")
            for qa in p["qas"]:
                qs.write(json.dumps({"id": qa["id"], "question": qa["question"], "doc_ids": [pid]}) + "\n")
PY
cat > "$out/squad.toml" <<TOML
name = "quant-squad-paragraphs"
[corpus]
format = "jsonl"
path = "corpus/docs.jsonl"
questions = "corpus/questions.jsonl"
[grid]
chunker = ["none"]
retriever = ["vector"]
model = ["all-minilm-l6-v2"]
index = ["exact", "hnsw"]
hnsw_ef_search = [64]
vectors = ["f32", "int8", "binary"]
rescore = [0, 1, 4, 10]
top_k = [1, 5, 10]
[retrieval]
depth = 10
[select]
objective = "ndcg@10"
TOML
"$bin" sweep "$out/squad.toml" --out "$out/squad" --cache-dir "$out/cache" --show 0 >/dev/null
.venv/bin/python benches/quant_report.py "$out/squad" | tee "$out/report.md"
RAYON_NUM_THREADS=1 cargo bench --quiet -p ragtune-vector --bench quant 2>/dev/null | tee -a "$out/report.md"
