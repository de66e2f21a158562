# Sourced by the benchmark scripts (and scripts/search_check.sh) once they are at the
# repository root: provisions ONNX Runtime and the models (models/fetch.sh) and the .venv
# with the readers they use (polars, numpy), builds the release binary, and sets $bin.
models/fetch.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check polars==2.1.0 numpy
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet -p ragtune
bin="$CARGO_TARGET_DIR/release/ragtune"
