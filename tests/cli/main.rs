//! End-to-end tests: the real `ragtune` binary on real data (the bundled quickstart corpus
//! and ../shared/datasets), with the real ONNX Runtime, indexes and server.
//!
//! Needs `models/fetch.sh` to have run and a Python with polars and pyarrow
//! (`RAGTUNE_PYTHON`, set up by scripts/test.sh).

mod util;

mod dense;
mod errors;
mod serve;
mod sweep;
mod trec;
