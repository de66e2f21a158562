#!/usr/bin/env bash
# How fast a huge grid is counted and refused: a grid of 8 dimensions of 40 values
# (chunk_size, chunk_overlap, model, hnsw_ef_search, rrf_k, alpha, top_k, and 40 chunk
# sizes × 40 overlaps), 635,011,200 distinct setups, against `plan` of the quickstart
# grid (108 setups) in the same run. `plan` must print the count and refuse in at most
# 0.2 s; it never expands the grid. Prints the median of 5 runs of each and their ratio.
#   benches/bench_grid_count.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
bin=$CARGO_TARGET_DIR/release/ragtune
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
python3 - "$dir/huge.toml" "$PWD" <<'PY'
import sys
out, root = sys.argv[1:]
l = lambda f: ", ".join(f(i) for i in range(1, 41))
open(out, "w").write(f'''name = "huge"
[corpus]
format = "dir"
path = "{root}/corpora/quickstart/docs"
questions = "{root}/corpora/quickstart/questions.jsonl"
[grid]
chunker = ["chars", "markdown"]
chunk_size = [{l(lambda i: str(1000 + i))}]
chunk_overlap = [{l(str)}]
retriever = ["bm25", "vector", "hybrid"]
model = [{l(lambda i: f'"m{i}"')}]
index = ["exact", "hnsw"]
hnsw_ef_search = [{l(str)}]
fusion = ["rrf", "weighted"]
rrf_k = [{l(str)}]
alpha = [{l(lambda i: str(i / 40))}]
normalization = ["minmax", "zscore"]
top_k = [{l(str)}]
[select]
objective = "recall@1"
''')
PY
python3 - "$bin" "$dir/huge.toml" grids/quickstart.toml <<'PY'
import statistics, subprocess, sys, time
bin, huge, small = sys.argv[1:]
def run(grid, want_code):
    t = time.perf_counter()
    r = subprocess.run([bin, "plan", grid], capture_output=True, text=True)
    dt = time.perf_counter() - t
    assert r.returncode == want_code, (grid, r.returncode, r.stderr[-500:])
    return dt, r.stderr.strip().splitlines()[-1] if want_code else ""
huge_t, small_t, msg = [], [], ""
for _ in range(5):
    dt, msg = run(huge, 2); huge_t.append(dt)
    dt, _ = run(small, 0); small_t.append(dt)
h, s = statistics.median(huge_t), statistics.median(small_t)
print(msg)
print(f"plan of the 8 x 40 grid (refused): {h:.3f} s median of 5; plan of the quickstart grid: {s:.3f} s; ratio {h / s:.2f}")
print("target: at most 0.2 s for the huge grid:", "met" if h <= 0.2 else "NOT met")
PY
