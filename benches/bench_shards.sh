#!/usr/bin/env bash
# Sharded sweeps against one process on the same cores (issue: scale a sweep past one
# machine): SQuAD's reference grid with one model, cold stage store, swept
#   A: in one process with 2 threads;
#   B: as 2 shards at once with 1 thread each (what 2 machines do, folded onto one);
# then checks that B's merged tables equal A's, and prints the wall-time ratio, the tokens
# each embedded (B embeds the questions once per shard) and each process's max RSS.
# Figures in docs/shards.md. About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${BENCH_OUT:-runs/bench-shards}"
rm -rf "$out"
mkdir -p "$out"
grid="$out/squad.toml"
.venv/bin/python scripts/grid_variant.py grids/reference-squad.toml "$grid" \
  --set 'model=["paraphrase-minilm-l3-v2"]'
"$bin" plan "$grid" --shards 2 | tail -n 5
start=$(date +%s%N)
/usr/bin/time -f "%M" -o "$out/one.maxrss_kb" \
  "$bin" sweep "$grid" --out "$out/one" --cache-dir "$out/cache-one" --threads 2 --show 0 >/dev/null 2>"$out/one.err"
one=$((($(date +%s%N) - start) / 1000000))
start=$(date +%s%N)
for i in 0 1; do
  /usr/bin/time -f "%M" -o "$out/shard$i.maxrss_kb" \
    "$bin" sweep "$grid" --shard "$i/2" --out "$out/sharded" --cache-dir "$out/cache-sharded" \
    --threads 1 --show 0 >/dev/null 2>"$out/shard$i.err" &
done
wait
two=$((($(date +%s%N) - start) / 1000000))
.venv/bin/python tests/cli/same_tables.py "$out/one" "$out/sharded"
.venv/bin/python - "$out" "$one" "$two" <<'PY'
import json, sys
out, one, two = sys.argv[1], int(sys.argv[2]) / 1e3, int(sys.argv[3]) / 1e3
def tokens(m):
    return sum(e["embedded_tokens"] for e in m["embeddings"])
a = json.load(open(f"{out}/one/manifest.json"))
b = json.load(open(f"{out}/sharded/manifest.json"))
rss = lambda f: int(open(f"{out}/{f}.maxrss_kb").read()) // 1024
print(f"one process, 2 threads: {one:.1f} s, {tokens(a):,} tokens embedded, max RSS {rss('one')} MiB")
print(f"2 shards, 1 thread each: {two:.1f} s, {tokens(b):,} tokens embedded "
      f"({tokens(b) / tokens(a):.3f}x), max RSS {rss('shard0')} and {rss('shard1')} MiB")
for s in b["shards"]:
    print(f"  shard {s['shard']}: ~{s['estimated_tokens']:,} estimated (cut at the model's maximum), "
          f"{s['embedded_tokens']:,} embedded (counted before truncation), "
          f"{s['embed_seconds']:.1f} s embedding its pieces, {s['score_seconds']:.1f} s scoring {s['setups']} setups")
print(f"wall: 2 shards / one process = {two / one:.3f}")
PY
