#!/usr/bin/env bash
# The README promises that a bare `cargo test --workspace` passes anywhere. This checks
# it where nothing helps: a copy of the tree (tracked and untracked-not-ignored files)
# in a fresh folder, with no models/, no virtualenv, no ../shared beside it and no
# RAGTUNE_* variables. The release profile reuses the dependencies CI already built.
set -euo pipefail
cd "$(dirname "$0")/.."
copy="$(mktemp -d)"
trap 'rm -rf "$copy"' EXIT
mkdir "$copy/ragtune"
# Extracted with fresh modification times (-m): cargo tracks workspace crates by relative
# path, so with the clone's times it would judge the clone's test binaries fresh and run
# them, with the clone's CARGO_MANIFEST_DIR (and its models/ and ../shared) baked in.
git ls-files --cached --others --exclude-standard -z \
  | tar --null -T - -cf - 2>/dev/null | tar -xmf - -C "$copy/ragtune"
rm -rf "$copy/ragtune/models" "$copy/ragtune/.venv"
if [ -e "$copy/shared" ] || [ -e "$copy/ragtune/models" ]; then
  echo "test-bare.sh: the copy still has models/ or ../shared" >&2
  exit 1
fi
unset_vars=()
for v in $(env | grep -o '^RAGTUNE_[A-Za-z0-9_]*' || true); do unset_vars+=(-u "$v"); done
echo "test-bare.sh: cargo test --release --workspace in $copy/ragtune (no models, venv, ../shared or RAGTUNE_*)" >&2
(cd "$copy/ragtune" && env "${unset_vars[@]}" cargo test --release --workspace)
