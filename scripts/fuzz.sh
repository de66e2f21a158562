#!/usr/bin/env bash
# Fuzz every cargo-fuzz target under tests/fuzz for SECONDS each (default 600), with a
# per-input time limit so that a hang is a finding. Needs the nightly toolchain and
# cargo-fuzz (`cargo +nightly install cargo-fuzz`). Findings land in
# tests/fuzz/artifacts/<target>/; the growing corpus in tests/fuzz/corpus/<target>/ (both
# ignored by git; the seeds in tests/fuzz/seeds/ are committed).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(grid corpus chunk http)
fi
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/fuzz}"
# The grid target is a package of its own (tests/fuzz/grid), so that it builds without
# ONNX Runtime and the rest of the sweep.
fuzz_dir() { if [ "$1" = grid ]; then echo tests/fuzz/grid; else echo tests/fuzz; fi; }
cargo +nightly fuzz build --fuzz-dir tests/fuzz -s none -O
cargo +nightly fuzz build --fuzz-dir tests/fuzz/grid -s none -O
for t in "${targets[@]}"; do
  mkdir -p "tests/fuzz/corpus/$t" "tests/fuzz/artifacts/$t"
  echo "== $t: ${seconds}s"
  start=$(date +%s)
  cargo +nightly fuzz run --fuzz-dir "$(fuzz_dir "$t")" -s none -O "$t" \
    "tests/fuzz/corpus/$t" "tests/fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
    -artifact_prefix="tests/fuzz/artifacts/$t/" -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|Test unit written)' || true
  echo "== $t: ran $(( $(date +%s) - start ))s; findings: $(ls "tests/fuzz/artifacts/$t" | wc -l)"
done
