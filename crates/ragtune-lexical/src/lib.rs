//! BM25 over chunks, on tantivy.
//!
//! # Scoring
//! tantivy's BM25 with its fixed parameters `k1 = 1.2` and `b = 0.75`; IDF and average
//! length come from the whole index.
//!
//! # Analyzer
//! Chunk text and queries both go through tantivy's `en_stem` analyzer: split on every
//! character that is not alphanumeric, drop tokens longer than 40 bytes, lowercase, then
//! the Snowball English stemmer. No stop words are removed.
//!
//! # Queries
//! A question is analyzed into terms and searched as a disjunction (OR) of term queries.
//! No query syntax is interpreted, so raw questions with `:` or `(` are safe.
//!
//! Ties in score are broken by ascending chunk index (see [`ragtune_core::Ranking`]).
#![deny(missing_docs)]

use std::path::Path;

use ragtune_core::{Hit, Ranking};
use tantivy::collector::TopDocs;
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, Term, doc};

/// tantivy's BM25 `k1` (fixed by tantivy).
pub const BM25_K1: f32 = 1.2;
/// tantivy's BM25 `b` (fixed by tantivy).
pub const BM25_B: f32 = 0.75;
/// The analyzer used for chunks and queries.
pub const ANALYZER: &str = "en_stem";

/// BM25 failures.
#[derive(Debug, thiserror::Error)]
pub enum LexicalError {
    /// tantivy reported an error.
    #[error("BM25 index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// Filesystem trouble with an on-disk index.
    #[error("BM25 index at {path}: {source}")]
    Io {
        /// The folder.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

impl LexicalError {
    /// Whether the filesystem failed (a full disk, a file-size limit, permissions) rather
    /// than the index itself.
    pub fn is_io(&self) -> bool {
        use tantivy::directory::error::OpenWriteError;
        matches!(
            self,
            Self::Io { .. }
                | Self::Tantivy(tantivy::TantivyError::IoError(_))
                | Self::Tantivy(tantivy::TantivyError::OpenWriteError(
                    OpenWriteError::IoError { .. }
                ))
        )
    }
}

/// Result alias.
pub type Result<T, E = LexicalError> = std::result::Result<T, E>;

/// A BM25 index over the chunks of one chunk set; the tantivy document for chunk `i`
/// carries `i` in a fast field.
pub struct Bm25Index {
    index: Index,
    reader: IndexReader,
    text: Field,
    /// Per segment, the chunk-id column.
    chunk_ids: Vec<Column<u64>>,
    analyzer: TextAnalyzer,
}

fn schema() -> (Schema, Field, Field) {
    let mut b = Schema::builder();
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let text = b.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(indexing),
    );
    let chunk = b.add_u64_field("chunk", FAST | STORED);
    (b.build(), text, chunk)
}

impl Bm25Index {
    /// Build in RAM (sweeps).
    pub fn build_in_ram<'a>(
        texts: impl Iterator<Item = std::borrow::Cow<'a, str>>,
    ) -> Result<Self> {
        let (schema, _, _) = schema();
        Self::fill(Index::create_in_ram(schema), texts)
    }

    /// Build in `dir` (created if needed, must be empty), for serving.
    pub fn build_in_dir<'a>(
        dir: &Path,
        texts: impl Iterator<Item = std::borrow::Cow<'a, str>>,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| LexicalError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        let (schema, _, _) = schema();
        let index = Index::create_in_dir(dir, schema)?;
        Self::fill(index, texts)
    }

    /// Open an index written by [`Bm25Index::build_in_dir`].
    pub fn open(dir: &Path) -> Result<Self> {
        Self::from_index(Index::open_in_dir(dir)?)
    }

    fn fill<'a>(
        index: Index,
        texts: impl Iterator<Item = std::borrow::Cow<'a, str>>,
    ) -> Result<Self> {
        let (_, text, chunk) = schema();
        // One indexing thread keeps one segment and a document order equal to chunk order.
        let mut writer = index.writer_with_num_threads::<tantivy::TantivyDocument>(1, 256 << 20)?;
        for (i, t) in texts.enumerate() {
            writer.add_document(doc!(text => t.as_ref(), chunk => i as u64))?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        Self::from_index(index)
    }

    fn from_index(index: Index) -> Result<Self> {
        let (_, text, _) = schema();
        let reader = index
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::Manual)
            .try_into()?;
        let searcher = reader.searcher();
        let chunk_ids = searcher
            .segment_readers()
            .iter()
            .map(|s| s.fast_fields().u64("chunk"))
            .collect::<tantivy::Result<Vec<_>>>()?;
        let analyzer = index.tokenizer_for_field(text)?;
        Ok(Self {
            index,
            reader,
            text,
            chunk_ids,
            analyzer,
        })
    }

    /// Analyzed terms of `query`, in order (duplicates kept: BM25 sums over query terms).
    pub fn query_terms(&self, query: &str) -> Vec<String> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(query);
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            terms.push(token.text.clone());
        }
        terms
    }

    /// The top `k` chunks for `query`.
    pub fn search(&self, query: &str, k: usize) -> Result<Ranking> {
        let terms = self.query_terms(query);
        if terms.is_empty() || k == 0 {
            return Ok(Ranking::default());
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                let term = Term::from_field_text(self.text, t);
                (
                    Occur::Should,
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)) as Box<dyn Query>,
                )
            })
            .collect();
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        // Over-fetch a little so that ties at the cut are resolved by chunk index, not by
        // collector internals.
        let top = searcher.search(&query, &TopDocs::with_limit(k + 16).order_by_score())?;
        let hits = top
            .into_iter()
            .filter_map(|(score, addr)| {
                let chunk = self.chunk_ids[addr.segment_ord as usize].first(addr.doc_id)?;
                Some(Hit {
                    chunk: chunk as u32,
                    score,
                })
            })
            .collect();
        let mut ranking = Ranking::from_unsorted(hits);
        ranking.hits.truncate(k);
        Ok(ranking)
    }

    /// Bytes the index holds for search, from tantivy's account of its segments: the term
    /// dictionary, postings, field norms and fast fields (the chunk ids) that BM25 ranking
    /// reads. Positions and the document store are on disk but never read by a search.
    pub fn search_bytes(&self) -> u64 {
        let Ok(usage) = self.reader.searcher().space_usage() else {
            return 0;
        };
        usage
            .segments()
            .iter()
            .map(|s| {
                [s.termdict(), s.postings(), s.fieldnorms(), s.fast_fields()]
                    .iter()
                    .map(|c| c.total().get_bytes())
                    .sum::<u64>()
            })
            .sum()
    }

    /// Number of indexed chunks.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The underlying tantivy index.
    pub fn index(&self) -> &Index {
        &self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(texts: &[&str]) -> Bm25Index {
        Bm25Index::build_in_ram(texts.iter().map(|t| std::borrow::Cow::Borrowed(*t))).unwrap()
    }

    #[test]
    fn ranks_by_bm25_with_stemming() {
        let i = idx(&[
            "the cat sat",
            "dogs are running fast",
            "a dog runs",
            "nothing here",
        ]);
        let r = i.search("Running DOG?", 10).unwrap();
        let chunks: Vec<u32> = r.chunks().collect();
        assert_eq!(chunks.len(), 2);
        assert!(chunks.contains(&1) && chunks.contains(&2));
        assert!(!chunks.contains(&3));
        assert_eq!(
            i.query_terms("Running DOGS: (fast)"),
            vec!["run", "dog", "fast"]
        );
    }

    #[test]
    fn bm25_matches_hand_computation() {
        // Two docs; query "apple". Doc 0: "apple apple pear" (len 3), doc 1: "apple" (len 1).
        // N=2, n(apple)=2: idf = ln(1 + (N - n + 0.5)/(n + 0.5)) = ln(1 + 0.5/2.5) = ln 1.2.
        // avgdl = 2. tf-part = tf*(k1+1) / (tf + k1*(1 - b + b*dl/avgdl)).
        let i = idx(&["apple apple pear", "apple"]);
        let r = i.search("apple", 2).unwrap();
        let idf = 1.2f32.ln();
        let part = |tf: f32, dl: f32| tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / 2.0));
        let by_chunk = |c: u32| r.hits.iter().find(|h| h.chunk == c).unwrap().score;
        assert!((by_chunk(0) - idf * part(2.0, 3.0)).abs() < 1e-4, "{:?}", r);
        assert!((by_chunk(1) - idf * part(1.0, 1.0)).abs() < 1e-4, "{:?}", r);
    }

    #[test]
    fn raw_syntax_is_safe_and_ties_break_by_chunk() {
        let i = idx(&["same words", "same words", "same words"]);
        let r = i.search("same: (words", 2).unwrap();
        assert_eq!(r.chunks().collect::<Vec<_>>(), vec![0, 1]);
        assert!(i.search("   ", 5).unwrap().hits.is_empty());
    }

    #[test]
    fn on_disk_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let texts = ["alpha beta", "gamma delta", "beta gamma"];
        let built = Bm25Index::build_in_dir(
            dir.path(),
            texts.iter().map(|t| std::borrow::Cow::Borrowed(*t)),
        )
        .unwrap();
        let a = built.search("beta", 3).unwrap();
        drop(built);
        let opened = Bm25Index::open(dir.path()).unwrap();
        assert_eq!(opened.search("beta", 3).unwrap(), a);
        assert!(opened.search_bytes() > 0);
    }
}
