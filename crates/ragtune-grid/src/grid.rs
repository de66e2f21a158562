//! The grid file: a TOML document whose lists form a cartesian product of setups.
//!
//! ```toml
//! name = "chroma-hybrid"
//! [corpus]
//! format = "chroma"                 # dir | jsonl | beir | squad | chroma
//! path = "../../shared/datasets/chroma-chunking"
//! [grid]
//! chunker = ["tokens"]              # chars | tokens | markdown | markdown-tokens |
//!                                   # window-tokens | recursive | recursive-tokens | none
//! chunk_size = [200, 400]
//! chunk_overlap = [0, "50%"]        # absolute, or a percentage of the size
//! chunk_header = ["none", "path"]   # none | title | path: what goes in front of a chunk
//! retriever = ["bm25", "vector", "hybrid"]
//! model = ["all-minilm-l6-v2"]      # a name in models/ or a folder
//! index = ["exact", "hnsw"]
//! hnsw_ef_search = [64]
//! vectors = ["f32", "int8", "binary"]  # how the index holds the vectors
//! rescore = [0, 4]                  # quantised: rank rescore × depth, rescore by f32
//! expand = [0, 1]                   # neighbours returned with each chunk, on each side
//! fusion = ["rrf", "weighted"]
//! rrf_k = [60]
//! alpha = [0.3, 0.7]
//! normalization = ["minmax"]        # minmax | zscore (weighted fusion)
//! top_k = [1, 3, 5, 10]
//! [retrieval]                       # fixed settings, all optional
//! depth = 50                        # ranking depth stored per retriever (≥ max top_k)
//! hnsw_m = 16
//! hnsw_ef_construction = 200
//! hnsw_build = "serial"             # serial (reproducible) | parallel (faster, not)
//! tokenizer = "../models/all-minilm-l6-v2/tokenizer.json"
//! chunk_tokenizer = "cl100k_base"   # what token chunkers count in (default: tokenizer)
//! [select]
//! objective = "recall@5"
//! max_context_tokens = 2000
//! max_p99_ms = 50                   # query_ms_p99: embedding, retrieval, fusion
//! max_index_bytes = 500_000_000     # index_bytes: what the index holds for search
//! holdout = 0.3                     # choose on 70% of the questions, report on 30%
//! ```
//!
//! Dimensions that do not apply to a retriever are dropped for it (BM25 has no model,
//! vector search has no fusion, RRF has no alpha…), and the resulting duplicates are
//! removed, so every grid point is a distinct setup.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ragtune_core::{
    ChunkHeader, ChunkSpec, ChunkerKind, DEFAULT_ALPHA, DEFAULT_HNSW_EF_CONSTRUCTION,
    DEFAULT_HNSW_EF_SEARCH, DEFAULT_HNSW_M, DEFAULT_RRF_K, ENCODINGS, Embedding, Fusion, HnswBuild,
    IndexSpec, Normalization, Rerank, Reranker, Retriever, Setup, VectorFormat, VectorSpec,
};
use ragtune_corpus::CorpusSpec;
use ragtune_eval::Objective;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{GridError, Result, count_text};
use crate::search::SearchSpec;

/// A retriever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetrieverKind {
    /// BM25 over chunk text.
    Bm25,
    /// Nearest neighbours of the question embedding.
    Vector,
    /// BM25 and vector, fused.
    Hybrid,
}

impl RetrieverKind {
    /// Grid name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bm25 => "bm25",
            Self::Vector => "vector",
            Self::Hybrid => "hybrid",
        }
    }
    /// Whether it needs embeddings.
    pub fn uses_vectors(self) -> bool {
        self != Self::Bm25
    }
    /// Whether it needs BM25.
    pub fn uses_bm25(self) -> bool {
        self != Self::Vector
    }
}

/// A vector index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    /// Flat search: the yardstick.
    Exact,
    /// hnsw_rs.
    Hnsw,
}

impl IndexKind {
    /// Grid name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Hnsw => "hnsw",
        }
    }
}

/// How chunk vectors are made (`embedding` in `[grid]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingKind {
    /// Each chunk embedded on its own.
    Standalone,
    /// Late chunking: each document embedded once, chunks pooled from its tokens.
    Late,
}

/// Late chunking's default window: MiniLM's 512 position slots.
pub const DEFAULT_LATE_WINDOW: usize = 512;
/// Late chunking's default window overlap.
pub const DEFAULT_LATE_OVERLAP: usize = 64;

/// A fusion method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FusionKind {
    /// Reciprocal rank fusion.
    Rrf,
    /// Weighted sum of normalised scores.
    Weighted,
}

impl FusionKind {
    /// Grid name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rrf => "rrf",
            Self::Weighted => "weighted",
        }
    }
}

/// Largest `top_k` and `depth`: rankings this deep are never read by a person or a model,
/// and a larger value would only ask for memory.
pub const MAX_DEPTH: usize = 100_000;

/// `rerank_depth` when a grid names a reranker and no depth (at least the largest k).
pub const DEFAULT_RERANK_DEPTH: usize = 20;
/// The most distinct setups a grid may expand to unless a command raises it
/// (`--max-points`): a sweep this size runs for days in full, and `[search]` is the way
/// to explore it.
pub const DEFAULT_MAX_POINTS: u64 = 100_000;
/// Chunker, size and overlap combinations are resolved one by one (overlaps in percent
/// depend on the size); past this many, the grid is refused before they are.
const MAX_CHUNK_COMBINATIONS: u64 = 10_000_000;
/// Largest `hnsw_ef_search` and `hnsw_ef_construction`.
pub const MAX_EF: usize = 100_000;

/// The largest rescoring multiplier.
pub const MAX_RESCORE: usize = 100;

/// The most neighbours a chunk may bring on each side.
pub const MAX_EXPAND: usize = 10;
/// Largest `chunk_size`, in characters or tokens.
pub const MAX_CHUNK_SIZE: usize = 10_000_000;

/// `chunk_overlap` entry: absolute, or `"N%"` of the size.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OverlapValue {
    /// Units of the chunker's size.
    Absolute(usize),
    /// A percentage of the chunk size, like `"50%"`.
    Percent(String),
}

/// Read by hand rather than as an untagged enum, whose error ("data did not match any
/// variant") says nothing of what was expected.
impl<'de> Deserialize<'de> for OverlapValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = OverlapValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number of the chunker's units (like 50) or a percentage of the size (like \"25%\")")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
                usize::try_from(v)
                    .map(OverlapValue::Absolute)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                usize::try_from(v)
                    .map(OverlapValue::Absolute)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(OverlapValue::Percent(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The `[grid]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridTable {
    chunker: Spanned<Vec<ChunkerKind>>,
    #[serde(default)]
    chunk_size: Option<Spanned<Vec<usize>>>,
    #[serde(default)]
    chunk_overlap: Option<Spanned<Vec<OverlapValue>>>,
    #[serde(default)]
    chunk_header: Option<Spanned<Vec<ChunkHeader>>>,
    retriever: Spanned<Vec<RetrieverKind>>,
    #[serde(default)]
    model: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    index: Option<Spanned<Vec<IndexKind>>>,
    #[serde(default)]
    hnsw_ef_search: Option<Spanned<Vec<usize>>>,
    #[serde(default)]
    fusion: Option<Spanned<Vec<FusionKind>>>,
    #[serde(default)]
    alpha: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    rrf_k: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    normalization: Option<Spanned<Vec<Normalization>>>,
    #[serde(default)]
    embedding: Option<Spanned<Vec<EmbeddingKind>>>,
    #[serde(default)]
    rerank: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    rerank_depth: Option<Spanned<Vec<usize>>>,
    #[serde(default)]
    vectors: Option<Spanned<Vec<VectorFormat>>>,
    #[serde(default)]
    rescore: Option<Spanned<Vec<usize>>>,
    #[serde(default)]
    expand: Option<Spanned<Vec<usize>>>,
    top_k: Spanned<Vec<usize>>,
}

/// The `[retrieval]` table: fixed, non-swept settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrievalSettings {
    /// Ranking depth stored per retriever and fused from (default: the largest top_k).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    /// HNSW `M` (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hnsw_m: Option<usize>,
    /// HNSW `ef_construction` (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hnsw_ef_construction: Option<usize>,
    /// How HNSW graphs are built: `serial` (default; the same graph every run) or
    /// `parallel` (faster on many cores, not reproducible).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hnsw_build: Option<HnswBuild>,
    /// Late chunking's window, in tokens (special tokens included) [512].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_window: Option<usize>,
    /// Tokens shared by neighbouring late-chunking windows [64].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_overlap: Option<usize>,
    /// tokenizer.json for counting context tokens, and for sizing token chunkers unless
    /// `chunk_tokenizer` is set (default: the first model's tokenizer, else
    /// all-minilm-l6-v2's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<PathBuf>,
    /// What token chunkers count in: `cl100k_base`, `o200k_base` (OpenAI's encodings,
    /// shipped inside ragtune) or a tokenizer.json path (default: `tokenizer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_tokenizer: Option<String>,
}

impl SelectSpec {
    /// Its limits: a setup over any of them never wins.
    pub fn limits(&self) -> ragtune_eval::Limits {
        ragtune_eval::Limits {
            max_context_tokens: self.max_context_tokens,
            max_p99_ms: self.max_p99_ms,
            max_index_bytes: self.max_index_bytes,
        }
    }
}

/// The `[select]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectSpec {
    /// `metric@k`, maximised.
    pub objective: String,
    /// Optional limit on mean context tokens at that k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_context_tokens: Option<f64>,
    /// Optional limit on the 99th-percentile query latency, ms (`query_ms_p99`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p99_ms: Option<f64>,
    /// Optional limit on the bytes the index holds for search (`index_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_index_bytes: Option<u64>,
    /// Share of questions held out: the best setup is chosen on the rest (the tuning
    /// part) and also reported on these. Questions are split by a hash of their id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrid {
    name: Spanned<String>,
    corpus: CorpusSpec,
    grid: GridTable,
    #[serde(default)]
    retrieval: RetrievalSettings,
    select: Spanned<SelectSpec>,
    #[serde(default)]
    search: Option<Spanned<SearchSpec>>,
}

/// A parsed, validated grid file.
#[derive(Debug, Clone)]
pub struct Grid {
    /// The file it came from.
    pub path: PathBuf,
    /// Its text, verbatim (recorded in the manifest).
    pub text: String,
    /// `name`.
    pub name: String,
    /// `[corpus]`, with paths resolved against the grid file's folder.
    pub corpus: CorpusSpec,
    /// `[retrieval]`, with the tokenizer path resolved.
    pub retrieval: RetrievalSettings,
    /// `[select]`.
    pub select: SelectSpec,
    /// What `[select]` maximises.
    pub objective: Objective,
    /// The distinct setups, in a stable order.
    pub points: Vec<Setup>,
    /// The number of distinct setups as counted from the lists before expansion: the
    /// length `points` had when parsed (a test checks this on every grid of the repo).
    pub counted: u64,
    /// How many combinations of the grid's lists each setup stands for (dimensions that
    /// do not apply to a setup collapse: BM25 with two models is one setup), in the
    /// order of `points`.
    pub combinations: Vec<usize>,
    /// The sorted, distinct top_k values.
    pub top_k: Vec<usize>,
    /// Ranking depth per retriever.
    pub depth: usize,
    /// `[search]`: how much of the grid to run (`None`: all of it).
    pub search: Option<SearchSpec>,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Checker<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        message: impl Into<String>,
    ) -> Result<T> {
        let (line, column) = line_col(self.text, span.start);
        Err(GridError::Value {
            path: self.path.to_path_buf(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        })
    }

    /// Where `key = …` sits in the table that starts at `table`: the value's offset, or
    /// the table's own span when the key is not written there on a line of its own.
    fn key_in_table(&self, table: std::ops::Range<usize>, key: &str) -> std::ops::Range<usize> {
        let mut start = table.start.min(self.text.len());
        for (i, line) in self.text[start..].split_inclusive('\n').enumerate() {
            let t = line.trim_start();
            if t.starts_with('[') && i > 0 {
                break;
            }
            if let Some(rest) = t.strip_prefix(key)
                && rest.trim_start().starts_with('=')
            {
                let eq = line.find('=').map_or(0, |i| i + 1);
                let value = eq + line[eq..].len() - line[eq..].trim_start().len();
                return start + value..start + line.trim_end().len();
            }
            start += line.len();
        }
        table
    }

    /// The list's distinct values in order; an empty list is an error.
    fn list<T: Clone + PartialEq>(&self, v: &Spanned<Vec<T>>, field: &str) -> Result<Vec<T>> {
        if v.get_ref().is_empty() {
            return self.err(
                v.span(),
                field,
                "the list is empty; give at least one value",
            );
        }
        let mut out: Vec<T> = Vec::new();
        for x in v.get_ref() {
            if !out.contains(x) {
                out.push(x.clone());
            }
        }
        Ok(out)
    }

    fn opt_list<T: Clone + PartialEq>(
        &self,
        v: &Option<Spanned<Vec<T>>>,
        field: &str,
        default: Vec<T>,
    ) -> Result<Vec<T>> {
        match v {
            Some(v) => self.list(v, field),
            None => Ok(default),
        }
    }
}

impl Grid {
    /// How HNSW graphs are built (`[retrieval] hnsw_build`).
    pub fn hnsw_build(&self) -> HnswBuild {
        self.retrieval.hnsw_build.unwrap_or_default()
    }

    /// Read and validate a grid file. Every problem that can be seen without doing work is
    /// reported here, with the file, line and column. A grid of more than
    /// [`DEFAULT_MAX_POINTS`] distinct setups is refused ([`Grid::load_limited`]).
    pub fn load(path: &Path) -> Result<Grid> {
        Self::load_limited(path, DEFAULT_MAX_POINTS)
    }

    /// [`Grid::load`], refusing grids of more than `max_points` distinct setups.
    pub fn load_limited(path: &Path, max_points: u64) -> Result<Grid> {
        if path.is_dir() {
            return Err(GridError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other("is a folder; expected a grid file (TOML)"),
            });
        }
        let bytes = std::fs::read(path).map_err(|e| GridError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let valid = std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or_default();
            let (line, column) = line_col(valid, at);
            GridError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: format!(
                    "byte 0x{:02x} is not UTF-8 text; a grid is a TOML file",
                    e.as_bytes()[at]
                ),
            }
        })?;
        Self::parse_limited(path, text, max_points)
    }

    /// Parse grid `text` as if read from `path`, refusing more than
    /// [`DEFAULT_MAX_POINTS`] setups.
    pub fn parse(path: &Path, text: String) -> Result<Grid> {
        Self::parse_limited(path, text, DEFAULT_MAX_POINTS)
    }

    /// Parse a grid a run recorded: it was swept, so no limit applies.
    pub fn parse_recorded(path: &Path, text: String) -> Result<Grid> {
        Self::parse_limited(path, text, u64::MAX)
    }

    /// Parse grid `text` as if read from `path`. Its distinct setups are counted from the
    /// lists before anything is expanded, and a grid of more than `max_points` is refused
    /// with the count and the dimensions that multiply it.
    pub fn parse_limited(path: &Path, text: String, max_points: u64) -> Result<Grid> {
        let raw: RawGrid = toml::from_str(&text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| line_col(&text, s.start));
            GridError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let c = Checker { path, text: &text };
        if raw.name.get_ref().trim().is_empty() {
            return c.err(raw.name.span(), "name", "must not be empty");
        }
        c.corpus_limits(&raw.corpus)?;
        let chunks = c.chunk_specs(&raw.grid)?;
        let (top_k, depth) = c.cut_offs(&raw)?;
        let (hnsw_m, hnsw_efc) = c.hnsw_build(&raw.retrieval)?;
        let objective = c.objective(&raw.select, &top_k)?;
        if let Some(s) = &raw.search
            && let Err((field, message)) = s.get_ref().check()
        {
            return c.err(c.key_in_table(s.span(), field), field, message);
        }
        let mut dims = c.dimensions(&raw.grid, chunks, (hnsw_m, hnsw_efc), depth)?;
        let late = c.late_window(&raw.retrieval)?;
        dims.embeddings = c.embeddings(&raw.grid, late)?;
        c.headers_fit(&raw.grid, &dims.embeddings)?;
        let count = dims.count();
        if count > max_points {
            return Err(GridError::TooLarge {
                path: path.to_path_buf(),
                count,
                factors: dims.factors(),
                limit: max_points,
            });
        }
        let (points, combinations) = dims.expand();
        let base = base_dir(path);
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let retrieval = RetrievalSettings {
            depth: Some(depth),
            hnsw_m: Some(hnsw_m),
            hnsw_ef_construction: Some(hnsw_efc),
            hnsw_build: Some(raw.retrieval.hnsw_build.unwrap_or_default()),
            late_window: Some(late.0),
            late_overlap: Some(late.1),
            tokenizer: raw.retrieval.tokenizer.as_deref().map(resolve),
            chunk_tokenizer: raw.retrieval.chunk_tokenizer.as_deref().map(|t| {
                if ENCODINGS.contains(&t) {
                    t.to_string()
                } else {
                    resolve(Path::new(t)).display().to_string()
                }
            }),
        };
        Ok(Grid {
            path: path.to_path_buf(),
            name: raw.name.into_inner(),
            corpus: raw.corpus.resolved(&base),
            retrieval,
            select: raw.select.into_inner(),
            objective,
            points,
            counted: count,
            combinations,
            top_k,
            depth,
            search: raw.search.map(Spanned::into_inner),
            text,
        })
    }

    /// An error at the grid's `key` (its first `key =` line, or the top of the file when
    /// the grid leaves the key to its default): for checks made after parsing, against
    /// what the grid names (a model's limits, say).
    pub fn value_error(&self, key: &str, message: impl Into<String>) -> GridError {
        let at = find_key(&self.text, key);
        let (line, column) = line_col(&self.text, at.start);
        GridError::Value {
            path: self.path.clone(),
            line,
            column,
            field: key.to_string(),
            message: message.into(),
        }
    }

    /// Models used by any setup, in first-use order: the retrievers', then the
    /// rerankers'.
    pub fn models(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let rerankers = self.points.iter().filter_map(|p| p.rerank.as_ref());
        let rerankers = rerankers.map(|r| r.by.model());
        for m in self
            .points
            .iter()
            .filter_map(|p| p.model())
            .chain(rerankers)
        {
            if !out.iter().any(|o| o == m) {
                out.push(m.to_string());
            }
        }
        out
    }

    /// Distinct chunk specs, in first-use order.
    pub fn chunk_specs(&self) -> Vec<ChunkSpec> {
        let mut seen = BTreeSet::new();
        self.points
            .iter()
            .map(|p| p.chunk)
            .filter(|c| seen.insert(*c))
            .collect()
    }
}

/// Each chunk spec with each header (`None` where the header is the chunker's default,
/// so that setups keep the ids they had before headers could be chosen); `specs` as they
/// are when the grid names no header.
fn with_headers(specs: Vec<ChunkSpec>, headers: &[ChunkHeader]) -> Vec<ChunkSpec> {
    if headers.is_empty() {
        return specs;
    }
    let mut out: Vec<ChunkSpec> = Vec::new();
    for s in specs {
        for &h in headers {
            let spec = ChunkSpec {
                header: (h != ChunkSpec::default_header(s.kind)).then_some(h),
                ..s
            };
            if !out.contains(&spec) {
                out.push(spec);
            }
        }
    }
    out
}

/// The folder a grid's relative paths are resolved against, absolute, so that a run
/// folder's manifest works from any directory. A grid named without a folder
/// ("grid.toml") has the empty path as its parent, which neither canonicalize nor
/// absolute accept: it means the current directory.
fn base_dir(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent
        .canonicalize()
        .or_else(|_| std::path::absolute(&parent))
        .unwrap_or(parent)
}

impl Checker<'_> {
    /// The distinct chunk specs of `[grid]`, checked.
    fn chunk_specs(&self, g: &GridTable) -> Result<Vec<ChunkSpec>> {
        let c = self;
        let chunkers = c.list(&g.chunker, "chunker")?;
        let any_sized = chunkers.iter().any(|k| k.is_sized());
        let sizes = match (&g.chunk_size, any_sized) {
            (Some(s), _) => c.list(s, "chunk_size")?,
            (None, true) => {
                return c.err(
                    g.chunker.span(),
                    "chunk_size",
                    "chunkers other than `none` need `chunk_size = [...]` in [grid]",
                );
            }
            (None, false) => vec![],
        };
        c.in_range(&g.chunk_size, &sizes, "chunk_size", "sizes", MAX_CHUNK_SIZE)?;
        let overlaps = c.opt_list(
            &g.chunk_overlap,
            "chunk_overlap",
            vec![OverlapValue::Absolute(0)],
        )?;
        let overlap_span = g
            .chunk_overlap
            .as_ref()
            .map_or(g.chunker.span(), |o| o.span());
        let combinations = (chunkers.len() as u64)
            .saturating_mul(sizes.len().max(1) as u64)
            .saturating_mul(overlaps.len() as u64);
        if combinations > MAX_CHUNK_COMBINATIONS {
            return c.err(
                g.chunker.span(),
                "chunker",
                format!("chunker × chunk_size × chunk_overlap make {} combinations, more than {}; no sweep can use that many chunkings", count_text(combinations), count_text(MAX_CHUNK_COMBINATIONS)),
            );
        }
        let mut chunk_specs: Vec<ChunkSpec> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &kind in &chunkers {
            if !kind.is_sized() {
                chunk_specs.push(ChunkSpec {
                    kind,
                    size: 0,
                    overlap: 0,
                    header: None,
                });
                continue;
            }
            for &size in &sizes {
                for o in &overlaps {
                    let overlap = c.overlap(o, size, overlap_span.clone())?;
                    if overlap >= size {
                        return c.err(overlap_span, "chunk_overlap", format!("overlap {overlap} is not smaller than chunk size {size}; every overlap must be smaller than every size (or use a percentage like \"50%\")"));
                    }
                    let spec = ChunkSpec {
                        kind,
                        size,
                        overlap,
                        header: None,
                    };
                    if seen.insert(spec) {
                        chunk_specs.push(spec);
                    }
                }
            }
        }

        let headers = c.opt_list(&g.chunk_header, "chunk_header", vec![])?;
        Ok(with_headers(chunk_specs, &headers))
    }

    /// Headers refused with late chunking: its chunks are pooled from the document's own
    /// tokens, so nothing can go in front of them.
    fn headers_fit(&self, g: &GridTable, embeddings: &[Embedding]) -> Result<()> {
        let late = embeddings
            .iter()
            .any(|e| matches!(e, Embedding::Late { .. }));
        match &g.chunk_header {
            Some(h) if late && h.get_ref().iter().any(|&x| x != ChunkHeader::None) => self.err(
                h.span(),
                "chunk_header",
                "a title or path header does not apply to embedding = \"late\": late chunks are pooled from the document's own tokens; sweep headers with standalone embedding",
            ),
            _ => Ok(()),
        }
    }

    /// Every one of `values` (read from the list `v`, when the grid gives it) lies in
    /// `[1, max]`; else an error at the list, naming the `noun` of its entries.
    fn in_range(
        &self,
        v: &Option<Spanned<Vec<usize>>>,
        values: &[usize],
        field: &str,
        noun: &str,
        max: usize,
    ) -> Result<()> {
        match v {
            Some(s) if values.iter().any(|n| !(1..=max).contains(n)) => {
                self.err(s.span(), field, format!("{noun} must lie in [1, {max}]"))
            }
            _ => Ok(()),
        }
    }

    /// One `chunk_overlap` entry for chunks of `size`.
    fn overlap(
        &self,
        o: &OverlapValue,
        size: usize,
        span: std::ops::Range<usize>,
    ) -> Result<usize> {
        match o {
            OverlapValue::Absolute(n) => Ok(*n),
            OverlapValue::Percent(p) => {
                let pct: Option<f64> = p.strip_suffix('%').and_then(|n| n.trim().parse().ok());
                match pct {
                    Some(pct) if (0.0..100.0).contains(&pct) => {
                        Ok((size as f64 * pct / 100.0).floor() as usize)
                    }
                    _ => self.err(
                        span,
                        "chunk_overlap",
                        format!("{p:?} is not a percentage like \"50%\" (0% to below 100%)"),
                    ),
                }
            }
        }
    }

    /// `rerank` × `rerank_depth`: `None` for `none`, else each reranker at each depth.
    /// Without `rerank_depth`, a reranker rescores [`DEFAULT_RERANK_DEPTH`] chunks, or
    /// `depth` when the grid sets a shallower one (but never fewer than the largest k).
    fn reranks(
        &self,
        g: &GridTable,
        max_k: usize,
        depth: Option<usize>,
    ) -> Result<Vec<Option<Rerank>>> {
        let c = self;
        let names = c.opt_list(&g.rerank, "rerank", vec!["none".to_string()])?;
        let mut by = Vec::new();
        for name in names.iter().filter(|n| n.as_str() != "none") {
            let span = g.rerank.as_ref().map_or(0..0, |s| s.span());
            by.push(Reranker::parse(name).or_else(|e| c.err(span, "rerank", e))?);
        }
        let default =
            max_k.max(depth.map_or(DEFAULT_RERANK_DEPTH, |d| d.min(DEFAULT_RERANK_DEPTH)));
        let depths = c.opt_list(&g.rerank_depth, "rerank_depth", vec![default])?;
        if let Some(s) = &g.rerank_depth {
            if by.is_empty() {
                return c.err(s.span(), "rerank_depth", "applies only with a reranker: add rerank = [\"embed:<model>\"] or [\"cross:<model>\"]");
            }
            if let Some(d) = depths.iter().find(|&&d| d < max_k) {
                return c.err(s.span(), "rerank_depth", format!("{d} is below the largest top_k ({max_k}): a reranked list is rerank_depth chunks long, so every k must fit in it"));
            }
            c.in_range(
                &g.rerank_depth,
                &depths,
                "rerank_depth",
                "values",
                MAX_DEPTH,
            )?;
        }
        let mut out: Vec<Option<Rerank>> = Vec::new();
        if names.iter().any(|n| n == "none") {
            out.push(None);
        }
        for b in &by {
            out.extend(depths.iter().map(|&depth| {
                Some(Rerank {
                    by: b.clone(),
                    depth,
                })
            }));
        }
        Ok(out)
    }

    /// `expand`: neighbours on each side, distinct ([`Self::list`]), each at most
    /// [`MAX_EXPAND`].
    fn expands(&self, g: &GridTable) -> Result<Vec<usize>> {
        let e = self.opt_list(&g.expand, "expand", vec![0])?;
        if let Some(s) = &g.expand
            && e.iter().any(|&x| x > MAX_EXPAND)
        {
            return self.err(
                s.span(),
                "expand",
                format!("values must lie in [0, {MAX_EXPAND}] (neighbours on each side)"),
            );
        }
        Ok(e)
    }

    /// `vectors` × `rescore`: float32 once, each quantised format at each multiplier.
    fn quants(&self, g: &GridTable) -> Result<Vec<(VectorFormat, usize)>> {
        let c = self;
        let formats = c.opt_list(&g.vectors, "vectors", vec![VectorFormat::F32])?;
        let rescores = c.opt_list(&g.rescore, "rescore", vec![0])?;
        if let Some(s) = &g.rescore {
            if formats.iter().all(|f| *f == VectorFormat::F32) {
                return c.err(
                    s.span(),
                    "rescore",
                    "applies only to quantised vectors: add vectors = [\"int8\"] or [\"binary\"]",
                );
            }
            if rescores.iter().any(|&r| r > MAX_RESCORE) {
                return c.err(
                    s.span(),
                    "rescore",
                    format!("values must lie in [0, {MAX_RESCORE}] (0: no rescoring)"),
                );
            }
        }
        let mut out = Vec::new();
        for f in formats {
            if f == VectorFormat::F32 {
                out.push((f, 0));
            } else {
                out.extend(rescores.iter().map(|&r| (f, r)));
            }
        }
        Ok(out)
    }

    /// Sorted, distinct `top_k` and the ranking depth.
    fn cut_offs(&self, raw: &RawGrid) -> Result<(Vec<usize>, usize)> {
        let (c, g, text) = (self, &raw.grid, self.text);
        let mut top_k = c.list(&g.top_k, "top_k")?;
        if top_k.contains(&0) {
            return c.err(g.top_k.span(), "top_k", "k must be at least 1");
        }
        if top_k.iter().any(|&k| k > MAX_DEPTH) {
            return c.err(
                g.top_k.span(),
                "top_k",
                format!("k must be at most {MAX_DEPTH}"),
            );
        }
        top_k.sort_unstable();
        let max_k = *top_k.last().expect("non-empty");
        let deepest = (c.reranks(g, max_k, raw.retrieval.depth)?.iter().flatten())
            .map(|r| r.depth)
            .max();
        let depth = (raw.retrieval.depth).unwrap_or(max_k.max(deepest.unwrap_or(0)));
        if let Some(d) = deepest
            && depth < d
        {
            return c.err(
                find_key(text, "depth"),
                "depth",
                format!("depth {depth} must be at least the largest rerank_depth ({d}): a reranker rescores the first stage's top rerank_depth chunks"),
            );
        }
        if depth < max_k {
            let span = find_key(text, "depth");
            return c.err(
                span,
                "depth",
                format!("depth {depth} must be at least the largest top_k ({max_k})"),
            );
        }
        if depth > MAX_DEPTH {
            return c.err(
                find_key(text, "depth"),
                "depth",
                format!("depth {depth} must be at most {MAX_DEPTH}"),
            );
        }
        Ok((top_k, depth))
    }

    /// `[corpus] max_questions` and `include`: a limit of 0 or an empty list keeps no
    /// question, which would otherwise surface later as "no questions were found".
    fn corpus_limits(&self, corpus: &CorpusSpec) -> Result<()> {
        let text = self.text;
        if corpus.max_questions == Some(0) {
            return self.err(
                find_key(text, "max_questions"),
                "max_questions",
                "must be at least 1: it keeps the first N questions (leave it out to keep them all)",
            );
        }
        if corpus.include.as_ref().is_some_and(Vec::is_empty) {
            return self.err(
                find_key(text, "include"),
                "include",
                "the list is empty; name at least one document id to keep (leave it out to keep every document)",
            );
        }
        Ok(())
    }

    /// HNSW `M` and `ef_construction`, checked.
    fn hnsw_build(&self, r: &RetrievalSettings) -> Result<(usize, usize)> {
        let (c, text) = (self, self.text);
        let hnsw_m = r.hnsw_m.unwrap_or(DEFAULT_HNSW_M);
        let hnsw_efc = r
            .hnsw_ef_construction
            .unwrap_or(DEFAULT_HNSW_EF_CONSTRUCTION);
        if !(2..=256).contains(&hnsw_m) {
            return c.err(find_key(text, "hnsw_m"), "hnsw_m", "must lie in [2, 256]");
        }
        if !(1..=MAX_EF).contains(&hnsw_efc) {
            return c.err(
                find_key(text, "hnsw_ef_construction"),
                "hnsw_ef_construction",
                format!("must lie in [1, {MAX_EF}]"),
            );
        }

        Ok((hnsw_m, hnsw_efc))
    }

    /// Late chunking's window and overlap, checked.
    fn late_window(&self, r: &RetrievalSettings) -> Result<(usize, usize)> {
        let (c, text) = (self, self.text);
        let window = r.late_window.unwrap_or(DEFAULT_LATE_WINDOW);
        let overlap = r.late_overlap.unwrap_or(DEFAULT_LATE_OVERLAP);
        if !(8..=8192).contains(&window) {
            return c.err(
                find_key(text, "late_window"),
                "late_window",
                "must lie in [8, 8192] tokens (the model's position slots: 512 for the MiniLM models)",
            );
        }
        if overlap + 3 > window {
            return c.err(
                find_key(text, "late_overlap"),
                "late_overlap",
                format!("must be at most late_window - 3 = {} tokens (each window holds two special tokens and must advance)", window - 3),
            );
        }
        Ok((window, overlap))
    }

    /// `embedding = [...]` of `[grid]` as embeddings, late ones with `(window, overlap)`.
    fn embeddings(
        &self,
        g: &GridTable,
        (window, overlap): (usize, usize),
    ) -> Result<Vec<Embedding>> {
        let kinds = self.opt_list(&g.embedding, "embedding", vec![EmbeddingKind::Standalone])?;
        Ok(kinds
            .into_iter()
            .map(|k| match k {
                EmbeddingKind::Standalone => Embedding::Standalone,
                EmbeddingKind::Late => Embedding::Late { window, overlap },
            })
            .collect())
    }

    /// The objective, which must name a metric and one of the `top_k`.
    fn objective(&self, select: &Spanned<SelectSpec>, top_k: &[usize]) -> Result<Objective> {
        let c = self;
        let spec = select.get_ref();
        let at = |key| c.key_in_table(select.span(), key);
        let objective: Objective = match spec.objective.parse::<Objective>() {
            Ok(o) if o.metric == ragtune_eval::Metric::Judged => {
                return c.err(
                    at("objective"),
                    "objective",
                    "judged measures how much of a ranking the labels cover, not retrieval; choose a retrieval metric such as recall@k or span_recall@k",
                );
            }
            Ok(o) if top_k.contains(&o.k) => o,
            Ok(_) => {
                return c.err(
                    at("objective"),
                    "objective",
                    format!("k in {:?} must be one of top_k {top_k:?}", spec.objective),
                );
            }
            Err(e) => return c.err(at("objective"), "objective", e),
        };
        if let Some(h) = spec.holdout
            && !(h > 0.0 && h < 1.0)
        {
            return c.err(
                at("holdout"),
                "holdout",
                format!("{h} is not a share of the questions strictly between 0 and 1"),
            );
        }
        if let Some(m) = spec.max_context_tokens
            && !(m.is_finite() && m >= 0.0)
        {
            return c.err(
                at("max_context_tokens"),
                "max_context_tokens",
                format!("{m} is not a token count (a number of at least 0)"),
            );
        }
        if let Some(m) = spec.max_p99_ms
            && !(m.is_finite() && m > 0.0)
        {
            return c.err(
                at("max_p99_ms"),
                "max_p99_ms",
                format!("{m} is not a latency (milliseconds, more than 0)"),
            );
        }
        Ok(objective)
    }

    /// The retrieval lists of `[grid]`, checked, with the fixed settings beside them.
    fn dimensions(
        &self,
        g: &GridTable,
        chunks: Vec<ChunkSpec>,
        (hnsw_m, hnsw_efc): (usize, usize),
        depth: usize,
    ) -> Result<Dimensions> {
        let c = self;
        let retrievers = c.list(&g.retriever, "retriever")?;
        let needs_vectors = retrievers.iter().any(|r| r.uses_vectors());
        let models = match (&g.model, needs_vectors) {
            (Some(m), true) => c.list(m, "model")?,
            (None, true) => {
                return c.err(
                    g.retriever.span(),
                    "model",
                    "vector and hybrid retrievers need `model = [...]` in [grid]",
                );
            }
            (_, false) => vec![],
        };
        let indexes = c.opt_list(&g.index, "index", vec![IndexKind::Exact])?;
        let efs = c.opt_list(
            &g.hnsw_ef_search,
            "hnsw_ef_search",
            vec![DEFAULT_HNSW_EF_SEARCH],
        )?;
        c.in_range(&g.hnsw_ef_search, &efs, "hnsw_ef_search", "values", MAX_EF)?;
        let fusions = c.opt_list(&g.fusion, "fusion", vec![FusionKind::Rrf])?;
        let alphas = c.opt_list(&g.alpha, "alpha", vec![DEFAULT_ALPHA])?;
        if let Some(s) = &g.alpha
            && alphas.iter().any(|a| !(0.0..=1.0).contains(a))
        {
            return c.err(s.span(), "alpha", "values must lie in [0, 1]");
        }
        let rrf_ks = c.opt_list(&g.rrf_k, "rrf_k", vec![DEFAULT_RRF_K])?;
        if let Some(s) = &g.rrf_k
            && rrf_ks.iter().any(|k| !(*k > 0.0 && k.is_finite()))
        {
            return c.err(s.span(), "rrf_k", "values must be positive");
        }
        let norms = c.opt_list(
            &g.normalization,
            "normalization",
            vec![Normalization::Minmax],
        )?;
        let max_k = g.top_k.get_ref().iter().copied().max().unwrap_or(1);
        Ok(Dimensions {
            reranks: c.reranks(g, max_k, Some(depth))?,
            quants: c.quants(g)?,
            expands: c.expands(g)?,
            embeddings: vec![Embedding::Standalone],
            chunks,
            retrievers,
            models,
            indexes,
            efs,
            fusions,
            rrf_ks,
            alphas,
            norms,
            hnsw_m,
            hnsw_efc,
            depth,
        })
    }
}

/// The grid's lists after validation, ready to expand.
struct Dimensions {
    reranks: Vec<Option<Rerank>>,
    expands: Vec<usize>,
    quants: Vec<(VectorFormat, usize)>,
    embeddings: Vec<Embedding>,
    chunks: Vec<ChunkSpec>,
    retrievers: Vec<RetrieverKind>,
    models: Vec<String>,
    indexes: Vec<IndexKind>,
    efs: Vec<usize>,
    fusions: Vec<FusionKind>,
    rrf_ks: Vec<f64>,
    alphas: Vec<f64>,
    norms: Vec<Normalization>,
    hnsw_m: usize,
    hnsw_efc: usize,
    depth: usize,
}

impl Dimensions {
    /// The setup one combination of list values stands for: dimensions that do not apply
    /// to its retriever, index or fusion are dropped.
    #[allow(clippy::too_many_arguments)]
    fn setup(
        &self,
        chunk: ChunkSpec,
        retriever: RetrieverKind,
        (model, embedding): (&str, Embedding),
        (index, (format, rescore)): (IndexKind, (VectorFormat, usize)),
        ef: usize,
        fusion: FusionKind,
        (rrf_k, alpha, normalization): (f64, f64, Normalization),
    ) -> Setup {
        let vector = VectorSpec {
            embedding,
            model: model.to_string(),
            index: match index {
                IndexKind::Exact => IndexSpec::Exact,
                IndexKind::Hnsw => IndexSpec::Hnsw {
                    m: self.hnsw_m,
                    ef_construction: self.hnsw_efc,
                    ef_search: ef,
                },
            },
            format,
            rescore,
        };
        let retriever = match retriever {
            RetrieverKind::Bm25 => Retriever::Bm25,
            RetrieverKind::Vector => Retriever::Vector(vector),
            RetrieverKind::Hybrid => Retriever::Hybrid {
                vector,
                fusion: match fusion {
                    FusionKind::Rrf => Fusion::Rrf { k: rrf_k },
                    FusionKind::Weighted => Fusion::Weighted {
                        alpha,
                        normalization,
                    },
                },
                depth: self.depth,
            },
        };
        Setup {
            chunk,
            retriever,
            rerank: None,
            expand: 0,
        }
    }

    /// How many setups of one model and chunking each retriever kind gives:
    /// `(vector, hybrid)`, saturating.
    fn per_model(&self) -> (u64, u64) {
        let n = |v: usize| v as u64;
        let has_index = |k: IndexKind| u64::from(self.indexes.contains(&k));
        let indexes = has_index(IndexKind::Exact)
            .saturating_add(has_index(IndexKind::Hnsw).saturating_mul(n(self.efs.len())))
            .saturating_mul(n(self.quants.len()));
        let has_fusion = |f: FusionKind| u64::from(self.fusions.contains(&f));
        let weighted = n(self.alphas.len()).saturating_mul(n(self.norms.len()));
        let fusions = has_fusion(FusionKind::Rrf)
            .saturating_mul(n(self.rrf_ks.len()))
            .saturating_add(has_fusion(FusionKind::Weighted).saturating_mul(weighted));
        (indexes, indexes.saturating_mul(fusions))
    }

    /// The number of distinct setups [`Dimensions::expand`] gives, from the lists alone
    /// (dimensions that do not apply dropped as `expand` drops them), saturating.
    fn count(&self) -> u64 {
        let models = (self.models.len().max(1) as u64).saturating_mul(self.embeddings.len() as u64);
        let (vector, hybrid) = self.per_model();
        let per_chunk = self.retrievers.iter().fold(0u64, |acc, r| {
            acc.saturating_add(match r {
                RetrieverKind::Bm25 => 1,
                RetrieverKind::Vector => models.saturating_mul(vector),
                RetrieverKind::Hybrid => models.saturating_mul(hybrid),
            })
        });
        (self.chunks.len() as u64)
            .saturating_mul(per_chunk)
            .saturating_mul(self.reranks.len() as u64)
            .saturating_mul(self.expands.len() as u64)
    }

    /// The dimensions that multiply [`Dimensions::count`], in words.
    fn factors(&self) -> String {
        let (vector, hybrid) = self.per_model();
        format!(
            "{} chunkings × ({} retrievers: {} models × {} embeddings, {} vector and {} hybrid setups per model: index × hnsw_ef_search × vectors × rescore × fusion × rrf_k or alpha × normalization) × {} rerankings (rerank × rerank_depth) × {} expand",
            self.chunks.len(),
            self.retrievers.len(),
            self.models.len(),
            self.embeddings.len(),
            vector,
            hybrid,
            self.reranks.len(),
            self.expands.len()
        )
    }

    /// Every combination of the lists, collapsed to distinct setups in first-seen order,
    /// with how many combinations each stands for.
    fn expand(&self) -> (Vec<Setup>, Vec<usize>) {
        let mut points: Vec<Setup> = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        let no_model = [String::new()];
        let names: &[String] = if self.models.is_empty() {
            &no_model
        } else {
            &self.models
        };
        let models: Vec<(&str, Embedding)> = names
            .iter()
            .flat_map(|m| self.embeddings.iter().map(move |&e| (m.as_str(), e)))
            .collect();
        let params: Vec<(f64, f64, Normalization)> = self
            .rrf_ks
            .iter()
            .flat_map(|&k| {
                self.alphas
                    .iter()
                    .flat_map(move |&a| self.norms.iter().map(move |&n| (k, a, n)))
            })
            .collect();
        for &chunk in &self.chunks {
            for &r in &self.retrievers {
                for &m in &models {
                    for i in self
                        .indexes
                        .iter()
                        .flat_map(|&i| self.quants.iter().map(move |&q| (i, q)))
                    {
                        for &ef in &self.efs {
                            for &f in &self.fusions {
                                for &p in &params {
                                    let first = self.setup(chunk, r, m, i, ef, f, p);
                                    for (rerank, &expand) in (self.reranks.iter())
                                        .flat_map(|r| self.expands.iter().map(move |e| (r, e)))
                                    {
                                        let s = Setup {
                                            rerank: rerank.clone(),
                                            expand,
                                            ..first.clone()
                                        };
                                        let key =
                                            serde_json::to_string(&s).expect("setups serialise");
                                        match seen.get(&key) {
                                            Some(&at) => counts[at] += 1,
                                            None => {
                                                seen.insert(key, points.len());
                                                points.push(s);
                                                counts.push(1);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        (points, counts)
    }
}

/// Span of the first `key =` in `text` (for values checked after parsing).
fn find_key(text: &str, key: &str) -> std::ops::Range<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            let start = offset + (line.len() - t.len());
            return start..start + key.len();
        }
        offset += line.len();
    }
    0..0
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
name = "t"
[corpus]
format = "dir"
path = "docs"
questions = "q.jsonl"
[grid]
chunker = ["chars", "none"]
chunk_size = [100, 200]
chunk_overlap = [0, "50%"]
retriever = ["bm25", "vector", "hybrid"]
model = ["m"]
index = ["exact", "hnsw"]
hnsw_ef_search = [16, 64]
fusion = ["rrf", "weighted"]
alpha = [0.5]
top_k = [5, 1, 3]
[select]
objective = "recall@3"
"#;

    fn parse(text: &str) -> Result<Grid> {
        Grid::parse(Path::new("/g/grid.toml"), text.to_string())
    }

    #[test]
    fn expands_and_deduplicates() {
        let g = parse(OK).unwrap();
        // chunk specs: chars × {100,200} × {0, 50%} = 4, plus none = 5.
        assert_eq!(g.chunk_specs().len(), 5);
        // Per chunk spec: bm25 1; vector: exact 1 + hnsw 2 = 3; hybrid: 3 × (rrf 1 + weighted 1) = 6.
        assert_eq!(g.points.len(), 5 * (1 + 3 + 6));
        assert_eq!(g.top_k, vec![1, 3, 5]);
        assert_eq!(g.depth, 5);
        assert_eq!(g.corpus.path, Path::new("/g/docs"));
        assert!(g.chunk_specs().contains(&ChunkSpec {
            kind: ChunkerKind::Chars,
            size: 200,
            overlap: 100,
            header: None,
        }));
        let ids: BTreeSet<String> = g.points.iter().map(|p| p.config_id()).collect();
        assert_eq!(ids.len(), g.points.len(), "config ids are distinct");
        assert_eq!(g.objective.to_string(), "recall@3");
        // bm25 stands for 1 model × 2 indexes × 2 ef × 2 fusions combinations.
        assert_eq!(g.combinations[0], 8);
        assert_eq!(g.combinations.iter().sum::<usize>(), 5 * 3 * 2 * 2 * 2);
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn chunk_headers_multiply_chunkings_keep_default_ids_and_refuse_late() {
        let plain = parse(OK).unwrap();
        let with = |h: &str| {
            OK.replace(
                "top_k = [5, 1, 3]",
                &format!("top_k = [5, 1, 3]\nchunk_header = {h}"),
            )
        };
        let g = parse(&with("[\"none\", \"title\", \"path\"]")).unwrap();
        assert_eq!(g.points.len(), plain.points.len() * 3);
        assert_eq!(g.counted, g.points.len() as u64);
        // "none" is the sized chunkers' default: those setups keep their ids.
        let ids: BTreeSet<String> = g.points.iter().map(|p| p.config_id()).collect();
        assert!(plain.points.iter().all(|p| ids.contains(&p.config_id())));
        let path = g
            .points
            .iter()
            .find(|p| p.chunk.header == Some(ChunkHeader::Path))
            .unwrap();
        assert!(path.label().contains("+header:path"), "{}", path.label());
        assert_eq!(path.chunk.header(), ChunkHeader::Path);
        let late = with("[\"path\"]").replace(
            "model = [\"m\"]",
            "model = [\"m\"]\nembedding = [\"standalone\", \"late\"]",
        );
        let e = err(&late);
        assert!(
            e.contains(
                "`chunk_header`: a title or path header does not apply to embedding = \"late\""
            ),
            "{e}"
        );
        // Late chunking with no header is fine.
        let late_none = with("[\"none\"]")
            .replace("model = [\"m\"]", "model = [\"m\"]\nembedding = [\"late\"]");
        parse(&late_none).unwrap();
    }

    #[test]
    fn vector_formats_multiply_vector_setups_and_are_checked() {
        let vq =
            |lines: &str| OK.replace("top_k = [5, 1, 3]", &format!("top_k = [5, 1, 3]\n{lines}"));
        let plain = parse(OK).unwrap();
        let g = parse(&vq(
            "vectors = [\"f32\", \"int8\", \"binary\"]\nrescore = [0, 4]",
        ))
        .unwrap();
        // Per vector or hybrid setup: f32 once, int8 and binary at 2 multipliers each.
        let bm25 = plain.points.iter().filter(|p| p.model().is_none()).count();
        let dense = plain.points.len() - bm25;
        assert_eq!(g.points.len(), bm25 + dense * 5);
        assert_eq!(g.counted, g.points.len() as u64);
        let f32_ids: BTreeSet<String> = plain.points.iter().map(|p| p.config_id()).collect();
        assert!(
            (g.points.iter())
                .filter(|p| p
                    .retriever
                    .vector()
                    .is_none_or(|v| v.format == VectorFormat::F32))
                .all(|p| f32_ids.contains(&p.config_id())),
            "float32 setups keep their ids"
        );
        let binary = (g.points.iter())
            .find(|p| {
                p.retriever
                    .vector()
                    .is_some_and(|v| v.rescore == 4 && v.format == VectorFormat::Binary)
            })
            .unwrap();
        assert!(
            binary.label().ends_with("binary rescore×4"),
            "{}",
            binary.label()
        );
        let back: Setup = serde_json::from_str(&serde_json::to_string(binary).unwrap()).unwrap();
        assert_eq!(&back, binary);
        let e = err(&vq("rescore = [4]"));
        assert!(
            e.contains("`rescore`: applies only to quantised vectors"),
            "{e}"
        );
        let e = err(&vq("vectors = [\"int4\"]"));
        assert!(
            e.contains(
                "grid.toml:18:12: unknown variant `int4`, expected one of `f32`, `int8`, `binary`"
            ),
            "{e}"
        );
        let e = err(&vq("vectors = [\"binary\"]\nrescore = [1000]"));
        assert!(e.contains("rescore"), "{e}");
    }

    #[test]
    fn rerankers_multiply_the_grid_deepen_the_rankings_and_are_checked() {
        let rr =
            |lines: &str| OK.replace("top_k = [5, 1, 3]", &format!("top_k = [5, 1, 3]\n{lines}"));
        let g = parse(&rr(
            "rerank = [\"none\", \"embed:m2\"]\nrerank_depth = [20, 50]",
        ))
        .unwrap();
        // Each first stage alone, and reranked at 20 and 50.
        assert_eq!(g.points.len(), 5 * 10 * 3);
        assert_eq!(g.counted, g.points.len() as u64);
        assert_eq!(g.depth, 50, "the ranking depth covers the deepest reranker");
        assert_eq!(g.models(), vec!["m".to_string(), "m2".to_string()]);
        let ids: BTreeSet<String> = g.points.iter().map(|p| p.config_id()).collect();
        assert_eq!(ids.len(), g.points.len());
        let g = parse(&rr("rerank = [\"cross:ce\"]")).unwrap();
        assert_eq!(g.points.len(), 5 * 10);
        assert!(
            g.points
                .iter()
                .all(|p| p.rerank.as_ref().is_some_and(|r| r.depth == 20))
        );
        let e = err(&rr("rerank = [\"embed:m2\"]\nrerank_depth = [3]"));
        assert!(
            e.contains("`rerank_depth`: 3 is below the largest top_k (5)"),
            "{e}"
        );
        let e = err(&rr("rerank_depth = [10]"));
        assert!(
            e.contains("`rerank_depth`: applies only with a reranker"),
            "{e}"
        );
        let e = err(&rr("rerank = [\"colbert:x\"]"));
        assert!(
            e.contains("`rerank`: \"colbert:x\" is not a reranker"),
            "{e}"
        );
        let shallow = format!("{}[retrieval]\ndepth = 10\n", rr("rerank = [\"embed:m2\"]"));
        let g = parse(&shallow).unwrap();
        assert!(
            g.points
                .iter()
                .all(|p| p.rerank.as_ref().is_some_and(|r| r.depth == 10))
        );
        let e = err(&format!(
            "{}[retrieval]\ndepth = 10\n",
            rr("rerank = [\"embed:m2\"]\nrerank_depth = [20]")
        ));
        assert!(
            e.contains("depth 10 must be at least the largest rerank_depth (20)"),
            "{e}"
        );
    }

    #[test]
    fn an_overlap_that_is_neither_a_count_nor_a_percentage_says_what_was_expected() {
        let e = err(&OK.replace("chunk_overlap = [0, \"50%\"]", "chunk_overlap = [1.5]"));
        assert!(e.starts_with("/g/grid.toml:"), "{e}");
        assert!(e.contains("a whole number") && e.contains("\"25%\""), "{e}");
        assert!(!e.contains("untagged"), "{e}");
        let e = err(&OK.replace("chunk_overlap = [0, \"50%\"]", "chunk_overlap = [-3]"));
        assert!(e.contains("a whole number"), "{e}");
        let g = parse(&OK.replace(
            "chunk_overlap = [0, \"50%\"]",
            "chunk_overlap = [10, \"25%\"]",
        ));
        assert!(g.is_ok());
    }

    #[test]
    fn corpus_limits_that_keep_no_question_are_refused_with_their_line() {
        let with = |line: &str| {
            OK.replace(
                "questions = \"q.jsonl\"",
                &format!("questions = \"q.jsonl\"\n{line}"),
            )
        };
        let e = err(&with("max_questions = 0"));
        assert!(
            e.starts_with("/g/grid.toml:7:") && e.contains("`max_questions`"),
            "{e}"
        );
        let e = err(&with("include = []"));
        assert!(
            e.starts_with("/g/grid.toml:7:") && e.contains("`include`") && e.contains("empty"),
            "{e}"
        );
        assert!(parse(&with("max_questions = 1")).is_ok());
    }

    #[test]
    fn hnsw_build_is_serial_unless_the_grid_says_parallel() {
        assert_eq!(parse(OK).unwrap().hnsw_build(), HnswBuild::Serial);
        let parallel = parse(&format!("{OK}[retrieval]\nhnsw_build = \"parallel\"\n")).unwrap();
        assert_eq!(parallel.hnsw_build(), HnswBuild::Parallel);
        // The same setups: the build mode is in the graph's stage key, not the config id.
        let ids = |g: &Grid| g.points.iter().map(|p| p.config_id()).collect::<Vec<_>>();
        assert_eq!(ids(&parallel), ids(&parse(OK).unwrap()));
        let e = err(&format!("{OK}[retrieval]\nhnsw_build = \"fast\"\n"));
        assert!(
            e.contains(":21:14: unknown variant `fast`, expected `serial` or `parallel`"),
            "{e}"
        );
    }

    #[test]
    fn late_embedding_doubles_the_vector_setups_and_keeps_standalone_ids() {
        let plain = parse(OK).unwrap();
        let both = parse(&OK.replace(
            "model = [\"m\"]\n",
            "model = [\"m\"]\nembedding = [\"standalone\", \"late\"]\n",
        ))
        .unwrap();
        // bm25 setups are not doubled: 5 × (1 + 2 × 9).
        assert_eq!(both.points.len(), 5 * (1 + 2 * 9));
        let ids =
            |g: &Grid| -> BTreeSet<String> { g.points.iter().map(|p| p.config_id()).collect() };
        assert!(
            ids(&plain).is_subset(&ids(&both)),
            "standalone ids are unchanged"
        );
        let late = both.points.iter().find_map(|p| {
            p.retriever
                .vector()
                .map(|v| v.embedding)
                .filter(|e| *e != Embedding::Standalone)
        });
        assert_eq!(
            late,
            Some(Embedding::Late {
                window: 512,
                overlap: 64
            })
        );
        let e = err(&OK.replace(
            "model = [\"m\"]\n",
            "model = [\"m\"]\nembedding = [\"early\"]\n",
        ));
        assert!(
            e.contains(":13:") && e.contains("unknown variant `early`"),
            "{e}"
        );
        let e = err(&format!(
            "{OK}[retrieval]\nlate_window = 100\nlate_overlap = 98\n"
        ));
        assert!(
            e.contains(":22:1: `late_overlap`: must be at most late_window - 3 = 97"),
            "{e}"
        );
        let e = err(&format!("{OK}[retrieval]\nlate_window = 4\n"));
        assert!(
            e.contains(":21:1: `late_window`: must lie in [8, 8192]"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_and_syntax_name_line_and_column() {
        let e = err(&OK.replace("top_k = [5, 1, 3]", "top_k = [5, 1, 3]\ntopk = [1]"));
        assert!(
            e.starts_with("/g/grid.toml:18:1: unknown field `topk`"),
            "{e}"
        );
        let e = err(&OK.replace("alpha = [0.5]", "alpha = [0.5"));
        assert!(
            e.starts_with("/g/grid.toml:16:") || e.starts_with("/g/grid.toml:17:"),
            "{e}"
        );
        let e = err(&OK.replace("format = \"dir\"", "format = \"dirs\""));
        assert!(
            e.starts_with("/g/grid.toml:4:10: unknown variant `dirs`"),
            "{e}"
        );
    }

    #[test]
    fn search_values_are_checked_with_their_line() {
        // [search] follows OK on line 20; its first key is on line 21.
        let search = |body: &str| err(&format!("{OK}[search]\n{body}"));
        let e = search("strategy = \"halving\"\neta = 1\n");
        assert!(e.contains(":22:7: `eta`: 1 must lie in [2, 100]"), "{e}");
        let e = search("strategy = \"halving\"\nmin_docs_fraction = 0\n");
        assert!(
            e.contains(":22:") && e.contains("`min_docs_fraction`: 0 is not a share"),
            "{e}"
        );
        let e = search("strategy = \"staged\"\nstages = [[\"chunking\"], [\"colour\"]]\n");
        assert!(
            e.contains(":22:") && e.contains("unknown dimension \"colour\""),
            "{e}"
        );
        let e = search("strategy = \"staged\"\nstages = [[\"chunking\", \"chunking\"]]\n");
        assert!(e.contains("named twice"), "{e}");
        let e = search("strategy = \"halving\"\nmax_seconds = -1\n");
        assert!(
            e.contains("`max_seconds`: -1 is not a positive number"),
            "{e}"
        );
        // Unknown keys and strategies are TOML errors at their position.
        let e = search("strategy = \"halving\"\netaa = 3\n");
        assert!(
            e.contains(":22:1:") && e.contains("unknown field `etaa`"),
            "{e}"
        );
        let e = search("strategy = \"random\"\n");
        assert!(
            e.contains(":21:") && e.contains("unknown variant `random`"),
            "{e}"
        );
        // A valid table parses, with its defaults.
        let g = parse(&format!("{OK}[search]\nstrategy = \"halving\"\n")).unwrap();
        let spec = g.search.unwrap();
        assert_eq!((spec.eta(), spec.min_questions(), spec.seed()), (3, 50, 0));
        assert_eq!(
            spec.stages()[1],
            ["retriever", "model", "embedding", "index", "vectors"]
        );
    }

    #[test]
    fn impossible_values_are_rejected_with_their_line() {
        let e = err(&OK.replace("chunk_overlap = [0, \"50%\"]", "chunk_overlap = [0, 100]"));
        assert!(e.starts_with("/g/grid.toml:10:17: `chunk_overlap`: overlap 100 is not smaller than chunk size 100"), "{e}");
        let e = err(&OK.replace("top_k = [5, 1, 3]", "top_k = [0, 1]"));
        assert!(
            e.contains(":17:9:") && e.contains("`top_k`: k must be at least 1"),
            "{e}"
        );
        let e = err(&OK.replace(
            "retriever = [\"bm25\", \"vector\", \"hybrid\"]",
            "retriever = []",
        ));
        assert!(e.contains(":11:") && e.contains("the list is empty"), "{e}");
        let e = err(&OK.replace("objective = \"recall@3\"", "objective = \"recall@4\""));
        assert!(e.contains("must be one of top_k [1, 3, 5]"), "{e}");
        let e = err(&OK.replace("objective = \"recall@3\"", "objective = \"acc@3\""));
        assert!(e.contains("is not a metric"), "{e}");
        let e = err(&OK.replace("model = [\"m\"]\n", ""));
        assert!(e.contains("`model`") && e.contains("need `model"), "{e}");
        let e = err(&OK.replace("alpha = [0.5]", "alpha = [1.5]"));
        assert!(e.contains(":16:9:") && e.contains("[0, 1]"), "{e}");
        let e = err(&OK.replace("top_k = [5, 1, 3]", "top_k = [1000000000]"));
        assert!(
            e.contains(":17:9: `top_k`: k must be at most 100000"),
            "{e}"
        );
        let e = err(&OK.replace("hnsw_ef_search = [16, 64]", "hnsw_ef_search = [1000000000]"));
        assert!(
            e.contains("`hnsw_ef_search`: values must lie in [1, 100000]"),
            "{e}"
        );
        let e = err(&format!(
            "{OK}[retrieval]\nhnsw_ef_construction = 1000000000\n"
        ));
        assert!(
            e.contains(":21:1: `hnsw_ef_construction`: must lie in"),
            "{e}"
        );
        let e = err(&format!("{OK}[retrieval]\ndepth = 1000000000\n"));
        assert!(
            e.contains(":21:1: `depth`: depth 1000000000 must be at most 100000"),
            "{e}"
        );
        let e = err(&OK.replace(
            "objective = \"recall@3\"",
            "objective = \"recall@3\"\nholdout = 1.5",
        ));
        assert!(e.contains("`holdout`: 1.5 is not a share"), "{e}");
        // [select] keys are located on their own line, past the table header.
        let line = OK.lines().position(|l| l.starts_with("objective")).unwrap() + 2;
        assert!(e.contains(&format!(":{line}:11: `holdout`")), "{e}");
        let e = err(&format!("{OK}[retrieval]\ndepth = 2\n"));
        assert!(
            e.contains(":21:1: `depth`: depth 2 must be at least the largest top_k (5)"),
            "{e}"
        );
    }

    #[test]
    fn a_grid_in_the_current_directory_resolves_to_absolute_paths() {
        let g = Grid::parse(Path::new("grid.toml"), OK.to_string()).unwrap();
        assert!(g.corpus.path.is_absolute(), "{}", g.corpus.path.display());
        assert_eq!(
            g.corpus.path,
            std::env::current_dir()
                .unwrap()
                .canonicalize()
                .unwrap()
                .join("docs")
        );
    }

    #[test]
    fn the_count_comes_before_the_expansion_and_bounds_it() {
        // 40 sizes × 40 overlaps × 2 chunkers; 3 retrievers; 40 models; exact and hnsw with
        // 40 ef values; rrf with 40 k and weighted with 40 alphas × 2 normalisations.
        let list = |f: &dyn Fn(usize) -> String| (1..=40).map(f).collect::<Vec<_>>().join(", ");
        let text = format!(
            "name = \"huge\"\n[corpus]\nformat = \"squad\"\npath = \"x.json\"\n[grid]\n\
             chunker = [\"chars\", \"tokens\"]\nchunk_size = [{}]\nchunk_overlap = [{}]\n\
             retriever = [\"bm25\", \"vector\", \"hybrid\"]\nmodel = [{}]\nindex = [\"exact\", \"hnsw\"]\n\
             hnsw_ef_search = [{}]\nfusion = [\"rrf\", \"weighted\"]\nrrf_k = [{}]\nalpha = [{}]\n\
             normalization = [\"minmax\", \"zscore\"]\ntop_k = [{}]\n[select]\nobjective = \"recall@1\"\n",
            list(&|i| (1000 + i).to_string()),
            list(&|i| i.to_string()),
            list(&|i| format!("\"m{i}\"")),
            list(&|i| i.to_string()),
            list(&|i| i.to_string()),
            list(&|i| format!("{}", i as f64 / 40.0)),
            list(&|i| i.to_string()),
        );
        let e = err(&text);
        // 3200 chunkings × (1 + 40 × 41 + 40 × 41 × (40 + 80)).
        let n: u64 = 3200 * (1 + 40 * 41 + 40 * 41 * 120);
        assert!(
            e.contains(&format!("the grid has {} distinct setups", count_text(n))),
            "{e}"
        );
        assert!(
            e.contains("3200 chunkings × (3 retrievers: 40 models"),
            "{e}"
        );
        assert!(e.contains("--max-points"), "{e}");
        assert_eq!(count_text(1234567), "1,234,567");
        assert_eq!(count_text(u64::MAX), "more than 18 quintillion");
    }

    #[test]
    fn bm25_only_ignores_vector_dimensions() {
        let text = OK.replace(
            "retriever = [\"bm25\", \"vector\", \"hybrid\"]",
            "retriever = [\"bm25\"]",
        );
        let g = parse(&text).unwrap();
        assert_eq!(g.points.len(), 5);
        assert!(g.models().is_empty());
        assert!(g.points.iter().all(|p| p.retriever == Retriever::Bm25));
    }
}
