#!/usr/bin/env bash
# Serving benchmark. Builds a ~50k-chunk index from SQuAD v1.1 dev (benches/squad-50k.toml),
# serves each setup with `ragtune serve`, and drives it for 30 s per setup with wrk (installed
# from Debian's packages if missing) posting real SQuAD questions. Prints throughput and
# p50/p99 latency, with ratios against the BM25 setup measured in the same run.
#   benches/bench_serve.sh [SECONDS]
# Note: on a 2-core machine wrk and the server share the cores; compare ratios, not absolutes.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
models/fetch.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
bin=$CARGO_TARGET_DIR/release/ragtune
run=runs/bench-squad-50k
if [ ! -f "$run/results.parquet" ]; then
  rm -rf "$run"
  $bin sweep benches/squad-50k.toml --out "$run" --show 0 >&2
fi
# Request bodies: 500 SQuAD questions the sweep never embedded (it scored the first 500),
# so every hybrid request runs the model on its query, as live traffic would.
python3 - "$run" > "$run/wrk.lua" <<'PY'
import json, sys
d = json.load(open("../shared/datasets/squad-v1.1-dev/dev-v1.1.json"))
qs = [qa["question"] for a in d["data"] for p in a["paragraphs"] for qa in p["qas"]][5000:5500]
print('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal bodies = {')
for q in qs:
    print("  " + json.dumps(json.dumps({"query": q, "k": 5})) + ",")
print('}\nlocal i = 0\nrequest = function()\n  i = i % #bodies + 1\n  return wrk.format(nil, "/search", nil, bodies[i])\nend')
print('done = function(summary, latency, requests)\n  io.write(string.format("RESULT %d %d %.3f %.3f %.3f\\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))\nend')
PY
n_chunks=$(python3 -c "import json,glob; p=json.load(open(sorted(glob.glob('$run/points/*.json'))[0])); print(p['rows'][0]['n_chunks'])")
printf '%-8s %-14s %8s %10s %9s %9s %7s\n' setup config_id requests "req/s" "p50_ms" "p99_ms" errors
base_rps=""; base_p50=""; base_p99=""
for retriever in bm25 hybrid; do
  id=$(python3 -c "import json,glob
for f in glob.glob('$run/points/*.json'):
    p=json.load(open(f))
    if p['point']['retriever']=='$retriever': print(p['config_id'])")
  port=$((17000 + RANDOM % 1000))
  $bin serve --run "$run" --config "$id" --addr "127.0.0.1:$port" 2> "$run/serve-$retriever.log" &
  pid=$!
  for _ in $(seq 1 600); do grep -q "serving" "$run/serve-$retriever.log" 2>/dev/null && break; sleep 1; done
  out=$(wrk -t1 -c4 -d"${secs}s" --latency -s "$run/wrk.lua" "http://127.0.0.1:$port" | grep '^RESULT')
  kill -TERM $pid; wait $pid || true
  read -r _ reqs errs dur p50 p99 <<<"$out"
  rps=$(python3 -c "print(f'{$reqs/$dur:.1f}')")
  printf '%-8s %-14s %8s %10s %9s %9s %7s\n' "$retriever" "$id" "$reqs" "$rps" "$p50" "$p99" "$errs"
  if [ -z "$base_rps" ]; then base_rps=$rps; base_p50=$p50; base_p99=$p99; else
    python3 -c "print(f'ratio vs bm25: throughput x{$rps/$base_rps:.3f}, p50 x{$p50/$base_p50:.2f}, p99 x{$p99/$base_p99:.2f}')"
  fi
done
echo "index: $n_chunks chunks from SQuAD v1.1 dev; wrk -t1 -c4 -d${secs}s; $(nproc) cores"
