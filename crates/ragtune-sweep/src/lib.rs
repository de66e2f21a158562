//! The sweep: read a grid, plan it as content-addressed stages, run only the stages the
//! store does not hold, and record every setup as soon as it is scored.
//!
//! The grid comes from `ragtune-grid` and the stage store from `ragtune-store`; this
//! crate holds what runs between them:
//!
//! - [`prepare`]: a grid's inputs loaded and checked, and its [`Plan`]: the setups as a
//!   graph of stage nodes, each keyed by its inputs.
//! - [`Executor`]: walks the plan, reading what the store holds and computing the rest;
//!   [`run_sweep`] drives a whole sweep, [`search`] its halving and staged strategies,
//!   [`shard`] a sweep split across processes.
//! - [`RunDir`] and [`Manifest`]: the run folder; [`resolve_point`] and [`read_point`]
//!   the lookups that serving shares.
#![deny(missing_docs)]

mod accounting;
mod budget;
mod error;
mod exec;
mod kept;
mod lookup;
mod models;
mod plan;
mod prepare;
mod record;
mod score;
mod screen;
pub mod search;
pub mod shard;
mod sweep;
#[doc(hidden)]
pub mod testing;
mod texts;

pub use accounting::Accounting;
pub use error::{Result, SweepError};
pub use exec::{Executor, HNSW_BASE, Reporter, Silent, rows};
pub use kept::StoreStats;
pub use lookup::{listed_id, read_point, resolve_point};
pub use models::{FakeModels, ModelInfo, ModelRecord, Models, OnnxModels};
pub use plan::{
    KindCount, Node, NodeKind, Plan, PlanInputs, STAGE_VERSIONS, SetupNodes, VectorNodes,
};
pub use prepare::{
    Prepared, SweepOptions, counting_tokenizer_path, load_counting_tokenizer, plan_inputs, prepare,
    prepare_recorded,
};
pub use ragtune_core::Setup;
pub use ragtune_eval::{
    BestSetup, PointRecord, QuestionRanking, QuestionRow, RankingsRecord, ResultRow,
};
pub use record::{EmbedRecord, Manifest, RunDir, RunStatus, StageRecord, UnresolvedLabel};
pub use score::chunk_is_relevant;
pub use sweep::run_sweep;
pub use texts::{TEXTS_DIR, TextCounts, Texts, text_key};
