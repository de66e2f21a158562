//! Judging pooled results: what `ragtune judge` serves and writes.
//!
//! - [`Pool`]: for each question of a run, the union of the top-`depth` chunks of **every**
//!   setup the run ranked (TREC pooling), deduplicated by their place in the document and
//!   ordered by that place, so that the order shows nothing of which setup found a chunk.
//! - [`Book`]: the judgements, one per pooled chunk, kept in a judgements file that a
//!   grid reads back (`[corpus] judgements`). Every change rewrites the file atomically
//!   (a reader, or a killed server, sees the old file or the new one), so judging resumes
//!   where it stopped.
//!
//! What a judgement writes (one JSON line per judged chunk, offsets in code points):
//!
//! | verdict | line |
//! |---|---|
//! | relevant (the whole chunk) | `doc_ids: [doc]`, `judged: [chunk]`: a document label, not a span equal to the chunk, which would favour the chunker that cut it |
//! | a selection inside the chunk | `spans: [{doc_id, start, end, text}]`, `judged: [chunk]`: the text quoted, so the span outlives an extractor change |
//! | not relevant | `judged: [chunk]` |
//!
//! A chunk counts as judged when all its bytes lie in judged regions (ragtune-eval's
//! judged@k), so a chunk of another chunker that lies inside judged chunks is judged too.
#![deny(missing_docs)]

mod book;
mod error;
mod pool;

pub use book::{Book, Judgement, Progress, Region, Selection, Verdict, selection};
pub use error::{JudgeError, Result};
pub use pool::{DEFAULT_DEPTH, Pool, PoolQuestion};
