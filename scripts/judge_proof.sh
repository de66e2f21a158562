#!/usr/bin/env bash
# The judging proof (issue: questions without labels): on 50 SQuAD dev questions, judging
# the pool of a six-setup grid with the labels the dataset had reproduces every setup's
# metrics, and judged@k is reported before and after.
#   1. reference: the 50 questions with their SQuAD labels (complete);
#   2. before:    the same labels read as pooled (judged@k before judging);
#   3. blank:     the questions without labels: rankings only;
#   4. `ragtune judge blank --depth 10`, played by scripts/judge_proof.py through the
#      page's endpoints;
#   5. after:     the questions without labels plus the judgements file.
# usage: scripts/judge_proof.sh [WORK]   (default /tmp/ragtune-judge-proof); the table is
# printed and written to WORK/table.md (docs/judging.md records it).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-/tmp/ragtune-judge-proof}"
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/ragtune"
export RAGTUNE_MODELS_DIR="$PWD/models"
python3 scripts/judge_proof.py make "$work"
for name in reference before blank; do
  rm -rf "${work:?}/$name"
  "$bin" sweep "$work/$name.toml" --out "$work/$name" > "$work/$name.out"
done
rm -f "$work/judged.jsonl"
"$bin" judge "$work/blank" --depth 10 --out "$work/judged.jsonl" --addr 127.0.0.1:0 \
  2> "$work/judge.err" &
judge=$!
trap 'kill "$judge" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  url="$(grep -o 'http://[^ ]*' "$work/judge.err" || true)"
  [ -n "$url" ] && break
  sleep 0.2
done
[ -n "$url" ] || { cat "$work/judge.err" >&2; exit 1; }
python3 scripts/judge_proof.py play "$url" "$work"
kill "$judge"
wait "$judge" || true
rm -rf "${work:?}/after"
"$bin" sweep "$work/after.toml" --out "$work/after" > "$work/after.out"
python3 scripts/judge_proof.py table "$work" | tee "$work/table.md"
