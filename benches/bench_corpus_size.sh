#!/usr/bin/env bash
# How a BM25 sweep grows with the corpus, and how much of it is counting tokens (issue:
# "where the time goes now", part 3). The corpora are SQuAD v1.1 dev's 2,067 paragraphs
# as documents plus distractors made of its own sentences, shuffled (seeded), to 5k, 50k
# and 500k documents; the questions are 500 SQuAD questions labelled with their paragraph.
# Each size is swept from a cold stage store (chunkers `none` and `recursive` 800, BM25),
# timed with /usr/bin/time (wall seconds, peak RSS), and the 50k sweep is run again under
# `perf record` to report the share of CPU samples in tokenisation (the tokenizers crate,
# its Unicode tables, and ragtune's token counters).
#   benches/bench_corpus_size.sh [SIZES...]     (default: 5000 50000 500000)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
models/fetch.sh >/dev/null
cargo build --release --quiet -p ragtune
bin=$CARGO_TARGET_DIR/release/ragtune
out=runs/bench-corpus-size
mkdir -p "$out"
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(5000 50000 500000)
python3 - "$out" "${sizes[@]}" <<'PY'
import json, random, re, sys, os
out, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
d = json.load(open("../shared/datasets/squad-v1.1-dev/dev-v1.1.json"))
paras, questions = [], []
for a in d["data"]:
    for p in a["paragraphs"]:
        pid = f"sq-{len(paras)}"
        paras.append((pid, a["title"].replace("_", " "), p["context"]))
        for qa in p["qas"][:1]:
            questions.append({"id": qa["id"], "question": qa["question"], "doc_ids": [pid]})
sentences = [s for _, _, t in paras for s in re.split(r"(?<=[.!?])\s+", t) if s]
lengths = [len(re.split(r"(?<=[.!?])\s+", t)) for _, _, t in paras]
for n in sizes:
    folder = f"{out}/{n}"
    os.makedirs(folder, exist_ok=True)
    if os.path.exists(f"{folder}/docs.jsonl"):
        continue
    rng = random.Random(n)
    with open(f"{folder}/docs.jsonl", "w") as f:
        for pid, title, text in paras:
            f.write(json.dumps({"id": pid, "title": title, "text": text}) + "\n")
        for i in range(n - len(paras)):
            k = rng.choice(lengths)
            text = " ".join(rng.choice(sentences) for _ in range(k))
            f.write(json.dumps({"id": f"dx-{i}", "title": f"Distractor {i}", "text": text}) + "\n")
    with open(f"{folder}/questions.jsonl", "w") as f:
        for q in questions[:500]:
            f.write(json.dumps(q) + "\n")
    with open(f"{folder}/grid.toml", "w") as f:
        f.write(f'''name = "size-{n}"
[corpus]
format = "jsonl"
path = "docs.jsonl"
questions = "questions.jsonl"
[grid]
chunker = ["none", "recursive"]
chunk_size = [800]
chunk_overlap = [0]
retriever = ["bm25"]
top_k = [5]
[select]
objective = "recall@5"
''')
PY
printf '%-8s %10s %10s %12s %10s\n' docs MB seconds peak_MiB vs_prev
prev=""; prev_n=""
for n in "${sizes[@]}"; do
  dir=$out/$n
  rm -rf "$dir/run" "$dir/cache"
  /usr/bin/time -f "%e %M" -o "$dir/time.txt" \
    "$bin" sweep "$dir/grid.toml" --out "$dir/run" --cache-dir "$dir/cache" --show 0 >/dev/null 2>"$dir/sweep.log"
  read -r secs kb < "$dir/time.txt"
  mb=$(python3 -c "import os; print(f'{os.path.getsize(\"$dir/docs.jsonl\")/1e6:.0f}')")
  ratio=$([ -n "$prev" ] && python3 -c "print(f'x{$secs/$prev:.2f} for x{$n/$prev_n:.0f} docs')" || echo "-")
  printf '%-8s %10s %10s %12s %10s\n' "$n" "$mb" "$secs" "$((kb / 1024))" "$ratio"
  prev=$secs; prev_n=$n
done
# The tokenisation share, at the middle size (50k by default).
mid=${sizes[$(( ${#sizes[@]} / 2 ))]}
dir=$out/$mid
rm -rf "$dir/run" "$dir/cache"
perf record -F 499 -o "$dir/perf.data" -- \
  "$bin" sweep "$dir/grid.toml" --out "$dir/run" --cache-dir "$dir/cache" --show 0 >/dev/null 2>&1
perf report -i "$dir/perf.data" --no-children --sort symbol -g none 2>/dev/null | python3 -c '
import re, sys
share = {"tokenizers crate and its Unicode tables": 0.0, "ragtune token counters": 0.0, "malloc/free": 0.0}
for line in sys.stdin:
    m = re.match(r"\s+([\d.]+)%\s+\[\.\]\s+(.*)", line)
    if not m:
        continue
    pct, sym = float(m.group(1)), m.group(2)
    if re.search(r"tokenizers::|unicode_categories|unicode_normalization|onig", sym):
        share["tokenizers crate and its Unicode tables"] += pct
    elif re.search(r"ragtune_chunk::(wordcount|count_tokens|counted)|WordCounter|RangeCounter", sym):
        share["ragtune token counters"] += pct
    elif re.search(r"malloc|free|realloc", sym):
        share["malloc/free"] += pct
for k, v in share.items():
    print(f"{k}: {v:.1f}% of CPU samples")
tok = sum(list(share.values())[:2])
print(f"tokenisation (the first two): {tok:.1f}% (target <= 10%)")
'
echo "($mid documents, perf record -F 499 over the whole sweep; $(nproc) cores)"
