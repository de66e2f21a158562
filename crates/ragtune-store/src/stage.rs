//! The kinds of stage result the store keeps.

use serde::{Deserialize, Serialize};

/// The kinds of stage result the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// One PDF, HTML or Word file's extracted text, keyed by the file's sha256 and the
    /// extractor's version.
    Text,
    /// A chunk set with its token counts.
    Chunks,
    /// A tantivy BM25 index (folder).
    Bm25,
    /// One text's embedding under one model (the embedding cache).
    Embed,
    /// The embedding matrix of one chunk set under one model.
    Vectors,
    /// An HNSW graph (folder).
    Hnsw,
    /// One component's rankings of a question set, with per-question latency.
    Rankings,
    /// One document's token vectors under one model and late-chunking window.
    Tokens,
    /// A results row's bootstrap intervals, or a paired difference, keyed by the
    /// per-question values they were drawn from.
    Intervals,
}

impl Stage {
    /// Every stored stage.
    pub const ALL: [Stage; 9] = [
        Stage::Text,
        Stage::Chunks,
        Stage::Bm25,
        Stage::Embed,
        Stage::Tokens,
        Stage::Vectors,
        Stage::Hnsw,
        Stage::Rankings,
        Stage::Intervals,
    ];
    /// Whether its entries are folders (an index on disk) rather than files.
    pub fn is_folder(self) -> bool {
        matches!(self, Stage::Bm25 | Stage::Hnsw)
    }
    /// Folder name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Text => "text",
            Stage::Chunks => "chunks",
            Stage::Bm25 => "bm25",
            Stage::Embed => "embed",
            Stage::Vectors => "vectors",
            Stage::Hnsw => "hnsw",
            Stage::Rankings => "rankings",
            Stage::Tokens => "tokens",
            Stage::Intervals => "intervals",
        }
    }
}
