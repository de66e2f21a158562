#!/usr/bin/env bash
# The test suite, from a fresh clone: provisions ONNX Runtime and the models (models/fetch.sh),
# a Python virtualenv with the independent readers and oracles the end-to-end tests use
# (polars, pyarrow, pandas and DuckDB to open the Parquet tables, pytrec_eval for metric
# agreement, LangChain's splitters for chunker equality, Pillow to read screenshots,
# Playwright to drive the judging page, langchain-core and llama-index-core for the
# retrievers of clients/python, the official MCP SDK for the MCP tools, LanceDB for the
# exported index, onnx and tokenizers for the test cross-encoder) and Chromium for the report and judging tests and a real MLflow tracking server for the export test, then
# runs every test in the release profile, the same profile the quickstart builds.
set -euo pipefail
cd "$(dirname "$0")/.."
models/fetch.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check \
  polars==2.1.0 pyarrow==26.0.1 pytrec_eval-terrier==0.5.11 langchain-text-splitters==1.1.3 \
  pandas==3.1.1 duckdb==2.0.1 pillow==13.0.0 \
  python-docx==1.2.0 markdown==3.11.3 pypdfium2==5.15.2 pypdf==7.1.0 playwright==1.65.3 \
  langchain-core==1.8.3 llama-index-core==0.14.25 mcp==2.3.0 lancedb==0.40.0 \
  onnx==1.23.2 tokenizers==0.23.3
export RAGTUNE_PYTHON="$PWD/.venv/bin/python"
# The report test opens report.html, and the judging test drives `ragtune judge`'s page
# (Playwright, pointed at this binary: it downloads no browser), in real headless
# Chromium: Debian's package.
if ! command -v chromium >/dev/null; then
  sudo_if_needed=""
  if [ "$(id -u)" != 0 ]; then sudo_if_needed="sudo"; fi
  echo "test.sh: installing Debian's chromium for the report test" >&2
  $sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y -qq chromium >/dev/null
fi
# The export-mlflow test talks to a real MLflow server: started here, in a session of its
# own, and stopped when this script exits, however it exits.
mlflow_dir="$(mktemp -d)"
trap 'scripts/mlflow_server.sh stop "$mlflow_dir"; rm -rf "$mlflow_dir"' EXIT
RAGTUNE_MLFLOW_URI="$(scripts/mlflow_server.sh start "$mlflow_dir")"
export RAGTUNE_MLFLOW_URI
# The end-to-end tests are #[ignore]d for a bare `cargo test --workspace` (no models, no
# venv, no datasets there); here everything they need is provisioned, so they all run.
# The fail points of the sweep's write-out are compiled into this test build only
# (crates/ragtune/src/failpoint.rs); tests/cli/write_out.rs stops a sweep at each.
cargo test --release --workspace --features ragtune/failpoints "$@" -- --include-ignored
# Sharded sweeps on a real one-node Slurm cluster, started by the script itself; where the
# daemons cannot start here it says so loudly (exit 77) and the rest of the suite stands.
if [ $# -eq 0 ]; then
  slurm=0
  scripts/test-slurm.sh || slurm=$?
  if [ "$slurm" = 77 ]; then
    echo "test.sh: WARNING: the Slurm cluster test did NOT run (see above)" >&2
  elif [ "$slurm" != 0 ]; then
    exit "$slurm"
  fi
else
  echo "test.sh: a test filter was given: the Slurm cluster test (scripts/test-slurm.sh) is not run" >&2
fi
