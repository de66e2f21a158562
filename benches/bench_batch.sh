#!/usr/bin/env bash
# Batch size on CPU (issue: embed less and embed faster, part 2): why the default batches
# by 512 padded tokens rather than by 8 texts. First benches/batch_probe.py times one ONNX
# Runtime session of all-minilm-l6-v2 (1 thread) at each batch size and text length; then
# `ragtune sweep` embeds two chunk sets from cold stores with --batch-size 8, tokens:256,
# tokens:512 and tokens:1024 (2 threads, 2 sessions), every setting twice, interleaved:
# Chroma's tokens/200/0 (vector retrieval, 472 questions) and SQuAD's tokens/128/0 (the
# first 3,000 questions). benches/batch_report.py prints the embedding stage's tokens/s,
# the ratio to batches of 8 texts, and max RSS. Figures in docs/performance.md. About 11
# minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
venv=benches/python/.venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/python/requirements.txt
out="${BENCH_OUT:-runs/bench-batch}"
rm -rf "$out"
mkdir -p "$out"
"$venv/bin/python" benches/batch_probe.py models/all-minilm-l6-v2/model.onnx | tee "$out/probe.md"
common=(--set 'retriever=["vector"]' --set 'model=["all-minilm-l6-v2"]' --set 'chunk_overlap=[0]')
.venv/bin/python scripts/grid_variant.py grids/reference-chroma.toml "$out/chroma.toml" \
  "${common[@]}" --set 'chunk_size=[200]'
.venv/bin/python scripts/grid_variant.py grids/reference-squad.toml "$out/squad.toml" \
  "${common[@]}" --set 'chunker=["tokens"]' --set 'chunk_size=[128]'
sed -i 's/^format = "squad"$/format = "squad"\nmax_questions = 3000/' "$out/squad.toml"
for rep in 1 2; do
  for grid in chroma squad; do
    for batch in 8 tokens:256 tokens:512 tokens:1024; do
      run="$out/$grid-${batch/:/}-r$rep"
      /usr/bin/time -f "%M" -o "$run.maxrss_kb" \
        "$bin" sweep "$out/$grid.toml" --out "$run" --cache-dir "$run.cache" \
        --threads 2 --batch-size "$batch" --show 0 >/dev/null
      rm -rf "$run.cache"
    done
  done
done
.venv/bin/python benches/batch_report.py "$out" | tee "$out/report.md"
