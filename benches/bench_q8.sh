#!/usr/bin/env bash
# all-minilm-l6-v2-q8 against all-minilm-l6-v2 (issue: embed less and embed faster, part 2):
# both models in one sweep per reference corpus (vector retrieval, cold stage store), then
# benches/q8_compare.py prints, per chunk set, the paired difference in nDCG@10 and
# recall@10 (q8 − fp32, 95% bootstrap interval) and each model's embedding throughput in
# the same sweep. Figures in docs/performance.md. About 6 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check polars==2.1.0 numpy
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
bin="$CARGO_TARGET_DIR/release/ragtune"
out="${BENCH_OUT:-runs/bench-q8}"
rm -rf "$out"
mkdir -p "$out"
for name in squad chroma; do
  .venv/bin/python - "grids/reference-$name.toml" "$out/$name.toml" <<'PY'
import os, re, sys
src, dst = sys.argv[1:]
text = open(src).read()
base = os.path.dirname(os.path.abspath(src))
text = re.sub(r'^path = "([^"]*)"',
              lambda m: f'path = "{os.path.normpath(os.path.join(base, m.group(1)))}"',
              text, count=1, flags=re.M)
text = re.sub(r'^retriever = .*$', 'retriever = ["vector"]', text, flags=re.M)
text = re.sub(r'^model = .*$', 'model = ["all-minilm-l6-v2", "all-minilm-l6-v2-q8"]', text, flags=re.M)
text = re.sub(r'^objective = .*$', 'objective = "ndcg@10"', text, flags=re.M)
if "chroma" in src:  # two chunk sets keep the run short
    text = re.sub(r'^chunk_size = .*$', 'chunk_size = [200, 400]', text, flags=re.M)
    text = re.sub(r'^chunk_overlap = .*$', 'chunk_overlap = [0]', text, flags=re.M)
open(dst, "w").write(text)
PY
  /usr/bin/time -f "%M" -o "$out/$name.maxrss_kb" \
    "$bin" sweep "$out/$name.toml" --out "$out/$name" --cache-dir "$out/cache-$name" --show 0 >/dev/null
  .venv/bin/python benches/q8_compare.py "$out/$name" "$(cat "$out/$name.maxrss_kb")" | tee "$out/$name.md"
done
