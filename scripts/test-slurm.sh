#!/usr/bin/env bash
# A real Slurm cluster test of sharded sweeps. Installs Debian's slurm-wlm and munge if
# missing, starts a one-node cluster on this machine (munged, slurmctld and slurmd on
# localhost with 2 CPUs, all in a private folder on private ports), submits
# deploy/slurm/sweep.sbatch for the quickstart grid as 3 array tasks plus the merge as a
# dependent job (deploy/slurm/submit.sh), waits for them, and checks that the merged
# tables equal a one-process sweep of the same grid (every metric, the same best setup).
#
# Exit status: 0 passed; 77 the cluster could not be started here (said loudly on
# stderr, with the daemons' logs); anything else failed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
skip() {
  {
    echo "################################################################"
    echo "# test-slurm.sh: NOT RUN: $*"
    echo "################################################################"
  } >&2
  exit 77
}
sudo_if_needed=""
if [ "$(id -u)" != 0 ]; then sudo_if_needed="sudo"; fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "test-slurm.sh: installing Debian's slurm-wlm and munge" >&2
  { $sudo_if_needed apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y -qq slurm-wlm munge >/dev/null; } ||
    skip "could not install slurm-wlm and munge from Debian"
fi
models/fetch.sh >/dev/null
python="${RAGTUNE_PYTHON:-$repo/.venv/bin/python}"
"$python" -c "import polars" 2>/dev/null || skip "no Python with polars for the table check (run scripts/test.sh, or set RAGTUNE_PYTHON)"
cargo build --release --quiet -p ragtune
export RAGTUNE_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/ragtune"
export RAGTUNE_MODELS_DIR="$repo/models"

d="$(mktemp -d /tmp/ragtune-slurm.XXXXXX)"
chmod 755 "$d"
stop() {
  for p in slurmd slurmctld munged; do
    [ -f "$d/$p.pid" ] && kill "$(cat "$d/$p.pid")" 2>/dev/null || true
  done
  sleep 1
  rm -rf "$d"
}
trap stop EXIT
logs() { tail -n 20 "$d"/*.log 2>/dev/null || true; }

mungekey --create --keyfile="$d/munge.key" && chmod 600 "$d/munge.key"
munged --force --key-file="$d/munge.key" --socket="$d/munge.sock" --log-file="$d/munged.log" \
  --pid-file="$d/munged.pid" --seed-file="$d/munged.seed" || { logs; skip "munged would not start"; }
host="$(hostname -s)"
# Private ports, so that two test runs on one machine do not meet.
port=$((20000 + RANDOM % 20000))
user="$(id -un)"
mkdir -p "$d/state" "$d/spool"
cat > "$d/slurm.conf" <<CONF
ClusterName=ragtune-test
SlurmctldHost=$host
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$d/munge.sock
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host CPUs=2 State=UNKNOWN
PartitionName=ragtune Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$d/slurm.conf"
slurmctld -f "$SLURM_CONF" || { logs; skip "slurmctld would not start"; }
slurmd -f "$SLURM_CONF" || { logs; skip "slurmd would not start"; }
for _ in $(seq 60); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %t 2>/dev/null)" = idle ] || { logs; skip "the node did not come up idle"; }
echo "test-slurm.sh: one-node cluster up ($host, 2 CPUs)" >&2

grid="$repo/grids/quickstart.toml"
"$RAGTUNE_BIN" sweep "$grid" --out "$d/single" --cache-dir "$d/cache-single" >/dev/null 2>"$d/single.err"
cd "$d"
read -r shards merge < <("$repo/deploy/slurm/submit.sh" 3 "$grid" "$d/run" "$d/cache" --cpus-per-task=1)
echo "test-slurm.sh: submitted array job $shards (3 tasks) and merge job $merge" >&2
for _ in $(seq 600); do
  [ -z "$(squeue -h -j "$shards,$merge" 2>/dev/null)" ] && break
  sleep 1
done
states() { scontrol show job "$1" | grep -o 'JobState=[A-Z_]*' | tr '\n' ' '; }
completed() { scontrol show job "$1" | grep -c 'JobState=COMPLETED' || true; }
echo "test-slurm.sh: shards: $(states "$shards"); merge: $(states "$merge")" >&2
fail() { echo "test-slurm.sh: FAILED: $*" >&2; tail -n 30 "$d"/ragtune-*.out >&2 || true; exit 1; }
[ "$(completed "$shards")" = 3 ] || fail "the 3 shard tasks did not all complete"
[ "$(completed "$merge")" = 1 ] || fail "the merge job did not complete"
"$python" "$repo/tests/cli/same_tables.py" "$d/single" "$d/run" || fail "the merged tables differ from one process's"
best() { grep '^config_id' "$1/best.toml"; }
[ "$(best "$d/single")" = "$(best "$d/run")" ] || fail "different best setups: $(best "$d/single") vs $(best "$d/run")"
"$python" - "$d/run/manifest.json" <<'PY' || fail "the merged manifest does not list the 3 shards"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["status"] == "complete", m["status"]
assert sorted(s["shard"] for s in m["shards"]) == ["0/3", "1/3", "2/3"], m["shards"]
print("test-slurm.sh: merged manifest: " + ", ".join(f"shard {s['shard']} on {s['host']}: {s['embed_seconds']:.1f} s embedding, {s['score_seconds']:.1f} s scoring" for s in m["shards"]), file=sys.stderr)
PY
echo "test-slurm.sh: passed: 3 Slurm array tasks and the dependent merge equal one process ($(best "$d/run"))" >&2
