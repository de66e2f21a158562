#!/usr/bin/env bash
# The grid crate (and so the grid fuzz target) must stay light: reading a grid costs
# TOML, never ONNX Runtime, tantivy, hnsw_rs, polars, tokenizers or text-splitter.
# Fails, naming the crate, when any of them is below ragtune-grid or the fuzz package.
set -euo pipefail
cd "$(dirname "$0")/.."
heavy='^(ort|ort-sys|tantivy|hnsw_rs|polars|polars-core|tokenizers|text-splitter)$'
check() { # LABEL, cargo tree arguments...
  local label="$1"
  shift
  local found
  found="$(cargo tree --prefix none --edges normal,build --format '{p}' "$@" \
    | awk '{print $1}' | sort -u | grep -E "$heavy" || true)"
  if [ -n "$found" ]; then
    echo "grid-deps.sh: $label depends on $(echo "$found" | tr '\n' ' ')" >&2
    exit 1
  fi
  echo "grid-deps.sh: $label: none of ort, tantivy, hnsw_rs, polars, tokenizers, text-splitter"
}
check ragtune-grid -p ragtune-grid
check "the grid fuzz target" --manifest-path tests/fuzz/grid/Cargo.toml
# The check must be able to fail: the sweep crate has them all.
if (check ragtune-sweep -p ragtune-sweep) >/dev/null 2>&1; then
  echo "grid-deps.sh: the check found nothing heavy below ragtune-sweep; it cannot fail" >&2
  exit 1
fi
