#!/usr/bin/env bash
# Reference runs on real data (issue: "prove the numbers"): sweeps grids/reference-chroma.toml
# and grids/reference-squad.toml, then writes docs/results.md from their results with
# scripts/results_tables.py. Takes about 35 minutes on 2 cores with a cold embedding cache.
#   scripts/reference_runs.sh            # both
#   scripts/reference_runs.sh chroma     # one
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check polars==2.1.0 pyarrow==26.0.1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
which=("${@:-chroma squad}")
for name in ${which[@]}; do
  out="runs/reference-$name"
  rm -rf "$out"
  start=$(date +%s)
  "$CARGO_TARGET_DIR/release/ragtune" sweep "grids/reference-$name.toml" --out "$out" --show 5
  echo "$(( $(date +%s) - start ))" > "$out/wall_seconds"
done
.venv/bin/python scripts/results_tables.py runs/reference-chroma runs/reference-squad > docs/results.md
echo "wrote docs/results.md" >&2
