#!/usr/bin/env bash
# The honesty check for `[search]` (docs/search.md): for each grid, the full grid and
# each strategy run from a cold stage store of their own, one after the other, and
# scripts/search_check.py prints, per strategy:
#   - the wall time and tokens embedded relative to the full grid;
#   - the chosen setup's objective on all the data against the full grid's best, with
#     the paired 95% interval (from the full run's per-question scores).
# Grids: grids/reference-chroma.toml and grids/reference-squad.toml (halving and staged)
# and grids/search-wide.toml (104 setups, for the staged target). About 35 minutes on
# 2 cores.
#   scripts/search_check.sh                 # all three
#   scripts/search_check.sh chroma squad    # some
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/prologue.sh  # fetch.sh, the .venv with polars and numpy, the build, $bin
out="${SEARCH_CHECK_OUT:-runs/search-check}"
mkdir -p "$out"
grid_file() { # NAME -> the grid file
  case "$1" in
    wide) echo grids/search-wide.toml ;;
    *) echo "grids/reference-$1.toml" ;;
  esac
}
for name in ${@:-chroma squad wide}; do
  src="$(grid_file "$name")"
  strategies="full halving staged"
  for strategy in $strategies; do
    run="$out/$name-$strategy"
    grid="$out/$name-$strategy.toml"
    # The grid with its corpus path made absolute, and a [search] table.
    .venv/bin/python scripts/grid_variant.py "$src" "$grid" --search "$strategy"
    rm -rf "$run" "$out/cache-$name-$strategy"
    start=$EPOCHREALTIME
    "$bin" sweep "$grid" --out "$run" --cache-dir "$out/cache-$name-$strategy" --show 5 >"$run.txt"
    python3 -c "print(round($EPOCHREALTIME - $start, 2))" >"$run/wall_seconds"
    echo "search_check: $name $strategy: $(cat "$run/wall_seconds") s" >&2
  done
  .venv/bin/python scripts/search_check.py "$out/$name-full" "$out/$name-halving" "$out/$name-staged" \
    | tee "$out/$name.md"
done
