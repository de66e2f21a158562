//! The sweep: read a grid, plan its stages so that no work is done twice, run them in
//! parallel, and record every grid point as soon as it is scored.
//!
//! See [`grid`] for the grid file and [`exec`] for the plan of stages.
#![deny(missing_docs)]

pub mod engine;
mod error;
pub mod exec;
pub mod grid;
pub mod record;

pub use engine::{Engine, SearchHit, SearchResponse};
pub use error::{Result, SweepError};
pub use exec::{Reporter, Silent, SweepOptions, run_sweep};
pub use grid::{FusionKind, Grid, GridPoint, IndexKind, METRICS, RetrieverKind};
pub use record::{
    BestSetup, Manifest, PointRecord, QuestionRanking, QuestionRow, RankingsRecord, ResultRow,
    RunDir, write_atomic,
};
