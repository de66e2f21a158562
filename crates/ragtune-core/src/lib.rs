//! Core types shared by every ragtune crate: documents, labelled questions, chunks and
//! rankings, typed setups, the embedder interface, plus the content hashing that keeps
//! caches and fingerprints honest.
//!
//! All offsets inside ragtune are **byte** offsets into a document's UTF-8 text, half-open
//! `[start, end)`. External formats count Unicode code points; loaders convert them once,
//! with [`CharToByte`], at load time.
//!
//! ```
//! use ragtune_core::{CharToByte, Span};
//! let text = "naïve café";
//! let map = CharToByte::new(text);
//! let span = Span { doc: 0, start: map.byte(6).unwrap(), end: map.byte(10).unwrap() };
//! assert_eq!(&text[span.start..span.end], "café");
//! ```
#![deny(missing_docs)]

mod atomic;
mod corpus;
mod embedder;
mod hash;
mod headings;
mod offsets;
mod ranking;
mod setup;

pub use atomic::{temp_path, write_atomic};
pub use corpus::{
    Chunk, ChunkHeader, ChunkSet, Corpus, DocId, Document, Question, Span, format_pages,
};
pub use embedder::{
    BatchSink, Batching, EmbedFailure, EmbedOutput, EmbedTotals, Embedder, FakeEmbedder,
    FakePairScorer, PairScorer, TokenVectors, l2_normalize, pool_span, prefixed, window_owners,
    window_ranges,
};
pub use hash::{ContentHasher, f32s_from_le_bytes, f32s_to_le_bytes, sha256, sha256_hex};
pub use offsets::CharToByte;
pub use ranking::{Hit, Ranking};
pub use setup::{
    ChunkSpec, ChunkerKind, DEFAULT_ALPHA, DEFAULT_HNSW_EF_CONSTRUCTION, DEFAULT_HNSW_EF_SEARCH,
    DEFAULT_HNSW_M, DEFAULT_RRF_K, ENCODINGS, Embedding, FlatSetup, Fusion, HnswBuild, HnswShape,
    IndexSpec, Normalization, Rerank, Reranker, Retriever, Setup, VectorFormat, VectorSpec,
};
