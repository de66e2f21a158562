#!/usr/bin/env bash
# Serving benchmark. Builds a ~50k-chunk index from SQuAD v1.1 dev (benches/squad-50k.toml)
# and serves its BM25 and hybrid setups with `ragtune serve`, posting real SQuAD questions
# the sweep never embedded. Three rounds, interleaved; each round measures, for SECONDS
# each (default 10):
#   1. repeated queries (a cycle over 500 questions, wrk -c4): BM25, and hybrid with
#      micro-batching and the query-vector cache (its hit rate from /metrics); each from a
#      fresh server (the first 500 requests miss the cache), then again from a server
#      warmed by one unmeasured pass over the 500 (the steady state);
#   2. distinct queries (no question twice, so no cache hit; every request runs the model):
#      hybrid unbatched (--max-batch 1 --query-cache 0, serving as it was before batching)
#      and batched, under wrk -c4 and -c32;
#   3. latency under a fixed request rate (benches/openloop.py, open loop): hybrid at half
#      its batched distinct-query capacity of the round, with distinct queries, and at half
#      its repeated-query capacity with repeated ones (the cache warmed first).
# Prints every run, then the medians of the three rounds' ratios against the issue's
# targets. wrk (from Debian's packages if missing), the generator and the server share the
# cores: compare ratios within a run, not absolutes across machines.
#   benches/bench_serve.sh [SECONDS]      (ROUNDS=N changes the number of rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
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
# Request bodies. The sweep scored the first 500 questions (their vectors are stored);
# `distinct` is every later one, once (10,070), `repeated` 500 of them in a cycle.
python3 - "$run" <<'PY'
import json, sys
run = sys.argv[1]
d = json.load(open("../shared/datasets/squad-v1.1-dev/dev-v1.1.json"))
qs = [qa["question"] for a in d["data"] for p in a["paragraphs"] for qa in p["qas"]]
for name, chosen in [("distinct", qs[500:]), ("repeated", qs[5000:5500])]:
    bodies = [json.dumps({"query": q, "k": 5}) for q in chosen]
    open(f"{run}/{name}.jsonl", "w").write("\n".join(bodies) + "\n")
    with open(f"{run}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal bodies = {\n')
        f.writelines("  " + json.dumps(b) + ",\n" for b in bodies)
        f.write('}\nlocal i = 0\nrequest = function()\n  i = i % #bodies + 1\n'
                '  return wrk.format(nil, "/search", nil, bodies[i])\nend\n'
                'done = function(summary, latency, requests)\n'
                '  io.write(string.format("RESULT %d %d %.3f %.3f %.3f\\n", summary.requests, '
                'summary.errors.status + summary.errors.connect + summary.errors.read + '
                'summary.errors.write + summary.errors.timeout, summary.duration / 1e6, '
                'latency:percentile(50) / 1000, latency:percentile(99) / 1000))\nend\n')
PY
id_of() {
  python3 -c "import json,glob
for f in glob.glob('$run/points/*.json'):
    p=json.load(open(f))
    if p['point']['retriever']=='$1': print(p['config_id'])"
}
bm25=$(id_of bm25); hybrid=$(id_of hybrid)
n_chunks=$(python3 -c "import json,glob; p=json.load(open(sorted(glob.glob('$run/points/*.json'))[0])); print(p['rows'][0]['n_chunks'])")
out=$run/bench-serve.tsv
printf 'round\tmeasure\trequests\treq_s\tp50_ms\tp99_ms\terrors\tcache_hits\tcache_misses\tqueries_per_batch\n' > "$out"

# start_server CONFIG FLAGS... : sets $pid and $base.
start_server() {
  local config=$1; shift
  local port=$((17000 + RANDOM % 1000))
  $bin serve --run "$run" --config "$config" --addr "127.0.0.1:$port" "$@" 2> "$run/serve.log" &
  pid=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do
    grep -q "serving" "$run/serve.log" 2>/dev/null && return
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
  done
  echo "the server did not start:" >&2; cat "$run/serve.log" >&2; exit 1
}
# metric NAME: an unlabelled sample from /metrics (0 when absent, as for BM25).
metric() { curl -s "$base/metrics" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'; }
# record ROUND MEASURE RESULT-LINE: append a row with the server's cache and batch counters.
record() {
  read -r _ reqs errs dur p50 p99 <<<"$3"
  local rps hits misses calls embedded
  rps=$(python3 -c "print(f'{$reqs/$dur:.1f}')")
  hits=$(metric ragtune_query_cache_hits_total); misses=$(metric ragtune_query_cache_misses_total)
  calls=$(metric ragtune_query_batch_size_count)
  embedded=$(metric ragtune_query_batch_size_sum)
  local per_call
  per_call=$(python3 -c "print(f'{$embedded/$calls:.2f}' if $calls else '-')")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$reqs" "$rps" "$p50" "$p99" "$errs" "$hits" "$misses" "$per_call" >> "$out"
  printf '%-2s %-30s %7s req %9s req/s  p50 %8s ms  p99 %8s ms  errors %s  cache %s/%s  queries/batch %s\n' "$1" "$2" "$reqs" "$rps" "$p50" "$p99" "$errs" "$hits" "$misses" "$per_call"
}
closed() { # ROUND MEASURE CONFIG BODIES CONNS FLAGS...
  local round=$1 measure=$2 config=$3 bodies=$4 conns=$5; shift 5
  start_server "$config" "$@"
  # A "warm" measure first sends each body once (unmeasured, 250 req/s): the steady state
  # of a long-running server, whatever the measure's length.
  if [[ "$measure" == *warm* ]]; then python3 benches/openloop.py "$base" "$run/$bodies.jsonl" 250 2 >/dev/null; fi
  local res
  res=$(wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$run/$bodies.lua" "$base" | grep '^RESULT')
  record "$round" "$measure" "$res"
  kill -TERM $pid; wait $pid || true
}
opened() { # ROUND MEASURE CONFIG BODIES RATE
  start_server "$3"
  # Repeated queries are measured with the cache warm: each body once, at 250 req/s.
  if [ "$4" = repeated ]; then python3 benches/openloop.py "$base" "$run/$4.jsonl" 250 2 >/dev/null; fi
  local res
  res=$(python3 benches/openloop.py "$base" "$run/$4.jsonl" "$5" "$secs" | grep '^RESULT')
  record "$1" "$2 @ $5 req/s" "${res% *}"
  kill -TERM $pid; wait $pid || true
}
rps_of() { awk -F'\t' -v r="$1" -v m="$2" '$1 == r && $2 == m { print $4 }' "$out"; }

for round in $(seq 1 "${ROUNDS:-3}"); do
  closed $round "bm25 repeated c4" "$bm25" repeated 4
  closed $round "hybrid repeated c4" "$hybrid" repeated 4
  closed $round "bm25 repeated c4 warm" "$bm25" repeated 4
  closed $round "hybrid repeated c4 warm" "$hybrid" repeated 4
  closed $round "hybrid distinct c4 unbatched" "$hybrid" distinct 4 --max-batch 1 --query-cache 0
  closed $round "hybrid distinct c4 batched" "$hybrid" distinct 4
  closed $round "hybrid distinct c32 unbatched" "$hybrid" distinct 32 --max-batch 1 --query-cache 0
  closed $round "hybrid distinct c32 batched" "$hybrid" distinct 32
  half=$(python3 -c "print(round($(rps_of $round 'hybrid distinct c32 batched') / 2))")
  opened $round "hybrid distinct open loop" "$hybrid" distinct "$half"
  half=$(python3 -c "print(round($(rps_of $round 'hybrid repeated c4') / 2))")
  opened $round "hybrid repeated open loop" "$hybrid" repeated "$half"
done
python3 - "$out" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def val(r, m, col="req_s"):
    return next(float(x[col]) for x in rows if x["round"] == r and (x["measure"] == m or x["measure"].startswith(m + " @")))
rounds = sorted({x["round"] for x in rows})
def med(f):
    return statistics.median(f(r) for r in rounds)
c32 = med(lambda r: val(r, "hybrid distinct c32 batched") / val(r, "hybrid distinct c32 unbatched"))
c4 = med(lambda r: val(r, "hybrid distinct c4 batched") / val(r, "hybrid distinct c4 unbatched"))
rep = med(lambda r: val(r, "hybrid repeated c4") / val(r, "bm25 repeated c4"))
warm = med(lambda r: val(r, "hybrid repeated c4 warm") / val(r, "bm25 repeated c4 warm"))
hits = med(lambda r: val(r, "hybrid repeated c4", "cache_hits") / max(1.0, val(r, "hybrid repeated c4", "cache_hits") + val(r, "hybrid repeated c4", "cache_misses")))
p99d = med(lambda r: val(r, "hybrid distinct open loop", "p99_ms"))
p99r = med(lambda r: val(r, "hybrid repeated open loop", "p99_ms"))
verdict = lambda ok: "met" if ok else "NOT met"
repeats = [x for x in rows if "distinct" in x["measure"] and float(x["cache_hits"]) > 5]
if repeats:
    print(f"WARNING: {len(repeats)} distinct-query runs had cache hits (the questions wrapped around): shorten SECONDS")
print(f"\nmedians of {len(rounds)} interleaved rounds:")
print(f"distinct queries, hybrid batched / unbatched: x{c32:.2f} at 32 connections (target >= 1.5: {verdict(c32 >= 1.5)}), x{c4:.2f} at 4")
print(f"repeated queries, hybrid / bm25: x{rep:.3f} (target >= 0.5: {verdict(rep >= 0.5)}), cache hit rate {hits:.3f}")
print(f"repeated queries, servers warmed by one pass over the 500 questions (cache hit rate 1): x{warm:.3f} (target >= 0.5: {verdict(warm >= 0.5)})")
print(f"open-loop p99 at half capacity: distinct {p99d:.2f} ms, repeated {p99r:.2f} ms (target <= 5 ms: {verdict(p99d <= 5)} for distinct, {verdict(p99r <= 5)} for repeated)")
PY
echo "index: $n_chunks chunks from SQuAD v1.1 dev; ${secs}s per measure; $(nproc) cores; rows in $out"
