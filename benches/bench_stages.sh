#!/usr/bin/env bash
# Stage-plan benchmark: what the stage store saves. Every ratio is against a baseline
# measured in the same invocation, on the same machine.
#   1. grids/reference-squad.toml cold (empty store), then the identical grid into a new run
#      folder: ratio warm/cold (target ≤ 0.02, i.e. ≥ 50× faster), and the warm manifest
#      must show nothing chunked, embedded or indexed; with perf, the bootstrap's share of
#      the re-run's CPU samples (target < 10%: the intervals are stored).
#   2. a 20-point hybrid grid on two Chroma corpora cold, then the same grid with one more
#      alpha and one more k into a new folder: ratio grown/cold (target ≤ 0.10), with no
#      text embedded and no index built.
#   3. with BASELINE_BIN=/path/to/an/older/ragtune: grids/reference-chroma.toml cold with
#      that build and with this one (target ratio 0.95–1.05), and both runs' metrics
#      compared setup by setup (exact-index setups must be identical to the bit).
# Usage: benches/bench_stages.sh [--quick]   (--quick skips step 3 even with BASELINE_BIN)
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh >/dev/null
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
bin=$CARGO_TARGET_DIR/release/ragtune
export RAGTUNE_MODELS_DIR=$PWD/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
quick=${1:-}

# timeit LABEL BIN GRID STORE: seconds for one sweep into $tmp/run-LABEL.
timeit() {
  local s e
  s=$(date +%s.%N)
  "$2" sweep "$3" --out "$tmp/run-$1" --cache-dir "$4" --show 0 2>"$tmp/$1.log" >/dev/null
  e=$(date +%s.%N)
  python3 -c "print(f'{$e - $s:.3f}')"
}
ratio() { python3 -c "print(f'x{$1/$2:.4f} ({$2/$1:.1f}x faster)')"; }
computed() { # LABEL: per-kind computed/reused from the manifest
  python3 -c "
import json, sys
m = json.load(open('$tmp/run-$1/manifest.json'))
print(' '.join(f\"{s['kind']}={s['computed']}/{s['reused']}\" for s in m['stages']), f\"texts_embedded={m['cache_misses']}\")"
}
must_build_nothing() { # LABEL
  python3 -c "
import json, sys
m = json.load(open('$tmp/run-$1/manifest.json'))
bad = [s for s in m['stages'] if s['kind'] in ('chunks','bm25','vectors','hnsw','rankings') and s['computed']]
assert not bad and m['cache_misses'] == 0, ('$1 computed', bad, m['cache_misses'])"
}

echo "== 1. identical re-run of reference-squad into a new run folder"
t_cold=$(timeit squad-cold "$bin" grids/reference-squad.toml "$tmp/store1")
t_warm=$(timeit squad-warm "$bin" grids/reference-squad.toml "$tmp/store1")
must_build_nothing squad-warm
printf '%-44s %9s s\n' "cold (empty store)" "$t_cold" "identical grid, new folder" "$t_warm"
echo "ratio warm/cold: $(ratio "$t_warm" "$t_cold")   target ≤ x0.02"
echo "warm stages computed/reused: $(computed squad-warm)"
if command -v perf >/dev/null; then
  # Where the re-run's CPU goes: the bootstrap's share of the samples (target < 10%).
  perf record -q -F 999 -o "$tmp/perf.data" -- \
    "$bin" sweep grids/reference-squad.toml --out "$tmp/run-squad-perf" --cache-dir "$tmp/store1" \
    --show 0 >/dev/null 2>&1
  perf report -q -i "$tmp/perf.data" --stdio --sort symbol 2>/dev/null > "$tmp/perf.txt"
  python3 - "$tmp/perf.txt" <<'PY'
import re, sys
rows = [l for l in open(sys.argv[1]) if re.match(r"\s*[0-9.]+%", l)]
share = lambda pat: sum(float(l.split('%')[0]) for l in rows if re.search(pat, l))
print(f"re-run CPU in the bootstrap (ragtune_eval::stats): {share(r'ragtune_eval::stats'):.1f}%   target < 10%")
print("re-run's top symbols:")
for l in rows[:8]:
    print("  " + l.strip()[:110])
PY
else
  echo "perf is not installed: the bootstrap's share of the re-run is not measured" >&2
fi

echo "== 2. one more alpha and one more k on a 20-point hybrid grid"
hybrid() { # NAME ALPHAS TOPK
  cat > "$tmp/$1.toml" <<G
name = "$1"
[corpus]
format = "chroma"
path = "$PWD/../shared/datasets/chroma-chunking"
include = ["chatlogs", "state_of_the_union"]
[grid]
chunker = ["tokens"]
chunk_size = [128, 256]
retriever = ["hybrid"]
model = ["paraphrase-minilm-l3-v2"]
fusion = ["weighted"]
alpha = $2
normalization = ["minmax", "zscore"]
top_k = $3
[retrieval]
depth = 20
[select]
objective = "span_recall@5"
G
}
hybrid base '[0.1, 0.3, 0.5, 0.7, 0.9]' '[1, 5]'
hybrid grown '[0.1, 0.3, 0.5, 0.7, 0.8, 0.9]' '[1, 5, 10]'
t_base=$(timeit hyb-cold "$bin" "$tmp/base.toml" "$tmp/store2")
t_grown=$(timeit hyb-grown "$bin" "$tmp/grown.toml" "$tmp/store2")
must_build_nothing hyb-grown
printf '%-44s %5s points %9s s\n' "cold" "$(ls "$tmp/run-hyb-cold/points" | wc -l)" "$t_base" \
  "+1 alpha, +1 k, new folder" "$(ls "$tmp/run-hyb-grown/points" | wc -l)" "$t_grown"
echo "ratio grown/cold: $(ratio "$t_grown" "$t_base")   target ≤ x0.10"
echo "grown stages computed/reused: $(computed hyb-grown)"

if [ -n "${BASELINE_BIN:-}" ] && [ "$quick" != "--quick" ]; then
  echo "== 3. cold reference-chroma: this build against $BASELINE_BIN"
  t_old=$(timeit chroma-old "$BASELINE_BIN" grids/reference-chroma.toml "$tmp/store-old")
  t_new=$(timeit chroma-new "$bin" grids/reference-chroma.toml "$tmp/store-new")
  printf '%-44s %9s s\n' "baseline build, cold" "$t_old" "this build, cold" "$t_new"
  echo "ratio new/old: $(python3 -c "print(f'x{$t_new/$t_old:.3f}')")   target 0.95–1.05"
  python3 scripts/reference_table.py "$tmp/run-chroma-old" "$tmp/old.csv" >/dev/null
  python3 scripts/reference_table.py "$tmp/run-chroma-new" "$tmp/new.csv" >/dev/null
  python3 - "$tmp/old.csv" "$tmp/new.csv" <<'PY'
import csv, sys
old = {(r["config_id"], r["top_k"]): r for r in csv.DictReader(open(sys.argv[1]))}
new = {(r["config_id"], r["top_k"]): r for r in csv.DictReader(open(sys.argv[2]))}
assert old.keys() == new.keys(), "the two builds scored different setups"
diff = [(k, m) for k in old for m in old[k] if m != "label" and old[k][m] != new[k][m] and "hnsw" not in old[k]["label"]]
print(f"results: {len(old)} rows compared, {len(diff)} differing values (exact-index setups)")
assert not diff, diff[:5]
PY
fi
echo "$(nproc) cores; each run is one process start with corpus load and the tables written"
