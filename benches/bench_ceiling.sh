#!/usr/bin/env bash
# The embedding stage against this machine's matrix-multiply ceiling (issue: embed less
# and embed faster, part 2). benches/gemm_ceiling.py times ONNX Runtime's own fp32 and
# int8 GEMM kernels at the model's feed-forward shape, at 1 and 2 threads; then ragtune
# embeds SQuAD's tokens/128 chunk set with all-minilm-l6-v2 and its q8 variant (2 threads,
# cold store), and the model's FLOPs per chunk turn its throughput into GFLOP/s, printed
# as a fraction of the ceiling. Figures in docs/performance.md. About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh  # also provides models/.derive-venv (onnx, onnxruntime 1.32, numpy)
py=models/.derive-venv/bin/python
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
bin="$CARGO_TARGET_DIR/release/ragtune"
out="${BENCH_OUT:-runs/bench-ceiling}"
rm -rf "$out"
mkdir -p "$out"
for t in 1 2; do "$py" benches/gemm_ceiling.py "$t"; done | tee "$out/ceiling.jsonl"
"$py" scripts/grid_variant.py grids/reference-squad.toml "$out/squad.toml" \
  --set 'chunker=["tokens"]' --set 'chunk_size=[128]' --set 'retriever=["vector"]' \
  --set 'model=["all-minilm-l6-v2", "all-minilm-l6-v2-q8"]'
"$bin" sweep "$out/squad.toml" --out "$out/run" --cache-dir "$out/cache" --threads 2 --show 0 >/dev/null 2>&1
"$py" - "$out" <<'PY'
import json, sys
out = sys.argv[1]
ceiling = {c["threads"]: c for c in map(json.loads, open(f"{out}/ceiling.jsonl"))}
m = json.load(open(f"{out}/run/manifest.json"))
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
print(f"CPU: {cpu}; ceiling at 2 threads: fp32 {ceiling[2]['fp32_gflops']:.0f} GFLOP/s, "
      f"int8 {ceiling[2]['int8_gops']:.0f} GOP/s (1 thread: {ceiling[1]['fp32_gflops']:.0f}, {ceiling[1]['int8_gops']:.0f})")
# all-minilm-l6-v2: 6 layers, hidden 384, feed-forward 1536. Per token of a text of L tokens
# (special tokens included): 2 x (4·384² + 2·384·1536) linear FLOPs per layer, and the
# attention products 2 x 2·L·384 per layer.
LINEAR = 6 * 2 * (4 * 384 * 384 + 2 * 384 * 1536)
for model in ["all-minilm-l6-v2", "all-minilm-l6-v2-q8"]:
    e = [x for x in m["embeddings"] if x["model"] == model and x["what"] != "questions"][0]
    texts, tokens, secs = e["cache_misses"], e["embedded_tokens"], e["seconds"]
    length = tokens / texts + 2
    per_text = length * LINEAR + 6 * 4 * length * length * 384
    rate = texts * per_text / secs / 1e9
    kind, top = ("fp32", ceiling[2]["fp32_gflops"]) if "q8" not in model else ("int8", ceiling[2]["int8_gops"])
    print(f"{model}: {texts} chunks of {length - 2:.1f} tokens in {secs:.1f} s = {tokens / secs:,.0f} tokens/s "
          f"= {rate:.0f} G(FL)OP/s, {rate / top:.1%} of the {kind} ceiling "
          f"({rate / ceiling[2]['fp32_gflops']:.1%} of the fp32 one)")
PY
