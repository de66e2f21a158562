#!/usr/bin/env bash
# Submit a sharded ragtune sweep to Slurm: an array of N shard tasks, then the merge as a
# job that runs only if every task succeeded. Prints the two job ids.
#
#   deploy/slurm/submit.sh N GRID RUN CACHE [extra sbatch options for the shards...]
#
# e.g. deploy/slurm/submit.sh 8 grids/reference-squad.toml /shared/runs/squad \
#        /shared/ragtune-cache --cpus-per-task=16 --gres=gpu:1
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 N GRID RUN CACHE [sbatch options for the shards...]" >&2
  exit 2
fi
n="$1" grid="$2" run="$3" cache="$4"
shift 4
here="$(cd "$(dirname "$0")" && pwd)"
shards=$(sbatch --parsable --array="0-$((n - 1))" "$@" "$here/sweep.sbatch" "$grid" "$run" "$cache")
shards="${shards%%;*}"
merge=$(sbatch --parsable --dependency="afterok:$shards" "$here/merge.sbatch" "$run")
echo "$shards $merge"
