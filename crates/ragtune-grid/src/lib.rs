//! The grid file: its schema (`[corpus]`, `[grid]`, `[retrieval]`, `[select]` and
//! `[search]`), every check that can be made without doing work, and its expansion into
//! distinct typed [`Setup`](ragtune_core::Setup)s.
//!
//! ```
//! let text = r#"
//! name = "tiny"
//! [corpus]
//! format = "dir"
//! path = "docs"
//! questions = "questions.jsonl"
//! [grid]
//! chunker = ["chars"]
//! chunk_size = [200, 400]
//! retriever = ["bm25"]
//! top_k = [1, 5]
//! [select]
//! objective = "recall@5"
//! "#;
//! let grid = ragtune_grid::Grid::parse("grid.toml".as_ref(), text.to_string()).unwrap();
//! assert_eq!(grid.points.len(), 2);
//! ```
//!
//! Nothing heavy sits below this crate (no ONNX Runtime, tantivy, hnsw_rs, polars or
//! tokenizers): reading a grid costs only TOML.
#![deny(missing_docs)]

mod error;
mod grid;
mod search;

pub use error::{GridError, Result};
pub use grid::{
    DEFAULT_LATE_OVERLAP, DEFAULT_LATE_WINDOW, DEFAULT_MAX_POINTS, EmbeddingKind, FusionKind, Grid,
    GridTable, IndexKind, MAX_CHUNK_SIZE, MAX_DEPTH, MAX_EF, OverlapValue, RetrievalSettings,
    RetrieverKind, SelectSpec,
};
pub use search::{DIMENSIONS, SearchSpec, Strategy};
