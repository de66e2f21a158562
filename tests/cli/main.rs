//! End-to-end tests: the real `ragtune` binary on real data (the bundled quickstart corpus
//! and ../shared/datasets), with the real ONNX Runtime, indexes and server.
//!
//! Tests that need `models/fetch.sh`, the Python oracles (`RAGTUNE_PYTHON`) or
//! ../shared/datasets are `#[ignore]`d with that reason, so `cargo test --workspace` alone
//! lists them as ignored; scripts/test.sh provisions all three and runs them with
//! `--include-ignored`.

mod util;

mod bad_inputs;
mod batching;
mod chunkers;
mod clients;
mod context;
mod dense;
mod disk_full;
mod documents;
mod errors;
mod export_index;
mod judge;
mod late;
mod load;
mod mcp;
mod mlflow;
mod q8;
mod quantised;
mod reference;
mod report;
mod rerank;
mod search;
mod serve;
mod serve_batching;
mod shards;
mod sweep;
mod trec;
mod tuning_loop;
mod write_out;
