//! The content-addressed stage store: every stage result worth keeping, on disk under a
//! key made of its inputs and parameters, checked on every read.
//!
//! - [`StageStore`]: file and folder entries, verified, counted, removed when damaged;
//!   [`usage`] and [`gc`] for `ragtune cache`.
//! - [`codec`]: the compact binary payloads of chunk sets, vectors and rankings.
//! - [`embed_cached`]: the embedding cache, one entry per model and text.
//! - [`chunk_vectors`]: late chunking's token vectors, one entry per model, window and
//!   document, pooled into chunk vectors.
#![deny(missing_docs)]

pub mod codec;
mod embedcache;
pub mod entry;
mod error;
mod late;
mod stage;
mod store;

pub use embedcache::{CacheStats, cached_vector, embed_cached, text_key};
pub use error::{Result, StoreError};
pub use late::{LateStats, chunk_vectors};
pub use store::{
    EntryRanges, GcReport, Stage, StageStore, StageUsage, StoreCounts, gc, history, place_dir,
    usage, write_atomic,
};
