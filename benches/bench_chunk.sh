#!/usr/bin/env bash
# `tokens` chunking: text-splitter sizing each candidate chunk with the tokenizer (the
# previous path) against ragtune's one tokenisation per document (crates/ragtune-chunk/
# src/wordcount.rs), both in parallel over documents, on four of Chroma's corpora
# (1.0 MB). Criterion measures both in one run; this prints their ratio. That the two
# give the same chunks and counts is tested by crates/ragtune-chunk/tests/real_tokenizer.rs.
# Usage: benches/bench_chunk.sh
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo bench --quiet -p ragtune-chunk --bench tokens -- --noplot >&2
python3 - "$CARGO_TARGET_DIR/criterion/tokens-200" <<'PY'
import json, sys
base = sys.argv[1]
med = {f: json.load(open(f"{base}/{f}/new/estimates.json"))["median"]["point_estimate"] / 1e9
       for f in ("per-candidate", "by-words")}
print(f"tokens chunker, size 200, 1.0 MB of Chroma, 2 threads (median of criterion's samples)")
print(f"  per-candidate tokenisation (before): {med['per-candidate']:.3f} s  x1.000")
print(f"  one tokenisation per document (now): {med['by-words']:.3f} s  "
      f"x{med['by-words'] / med['per-candidate']:.3f} ({med['per-candidate'] / med['by-words']:.1f}x faster)")
PY
