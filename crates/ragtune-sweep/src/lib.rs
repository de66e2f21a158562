//! The sweep: read a grid, plan it as content-addressed stages, run only the stages the
//! store does not hold, and record every setup as soon as it is scored.
//!
//! - [`Grid`]: the grid file, expanded into distinct typed [`Setup`]s.
//! - [`Plan`]: the setups as a graph of stage nodes, each keyed by its inputs.
//! - [`StageStore`]: every stage result worth keeping, on disk, checked on read.
//! - [`Executor`]: walks the plan; [`run_sweep`] drives a whole sweep.
//! - [`Engine`]: one setup, ready to answer queries through the same retriever.
#![deny(missing_docs)]

mod codec;
mod embedcache;
mod engine;
mod error;
mod exec;
mod grid;
mod late;
mod models;
mod plan;
mod record;
mod score;
pub mod search;
pub mod shard;
mod store;
mod sweep;
#[doc(hidden)]
pub mod testing;

pub use embedcache::{CacheStats, cached_vector, embed_cached, text_key};
pub use engine::{
    Component, Engine, SearchHit, SearchResponse, listed_id, read_point, resolve_point,
};
pub use error::{Result, SweepError};
pub use exec::{Executor, HNSW_BASE, Reporter, Silent};
pub use grid::{FusionKind, Grid, IndexKind, RetrieverKind};
pub use models::{FakeModels, ModelInfo, ModelRecord, Models, OnnxModels};
pub use plan::{KindCount, Node, NodeKind, Plan, PlanInputs, STAGE_VERSIONS, SetupNodes};
pub use ragtune_core::Setup;
pub use ragtune_eval::{
    BestSetup, PointRecord, QuestionRanking, QuestionRow, RankingsRecord, ResultRow,
};
pub use record::{EmbedRecord, Manifest, RunDir, StageRecord};
pub use score::chunk_is_relevant;
pub use store::{
    GcReport, Stage, StageStore, StageUsage, StoreCounts, gc, history, usage, write_atomic,
};
pub use sweep::{Prepared, SweepOptions, counting_tokenizer_path, prepare, run_sweep};
