//! A retrieval setup, typed: one enum per choice, so that a setup cannot carry a field
//! that does not apply to it (BM25 has no model, exact search has no `ef_search`, RRF has
//! no alpha). Defaults are defined here, once.
//!
//! On disk (points, best.toml) a setup keeps its flat form with `null` for fields that do
//! not apply; [`Setup::config_id`] hashes that form, so ids are stable across versions.

use serde::{Deserialize, Serialize};

use crate::ChunkHeader;
use crate::ContentHasher;

/// HNSW `M` when the grid does not set it.
pub const DEFAULT_HNSW_M: usize = 16;
/// HNSW `ef_construction` when the grid does not set it.
pub const DEFAULT_HNSW_EF_CONSTRUCTION: usize = 200;
/// HNSW `ef_search` when the grid does not set it.
pub const DEFAULT_HNSW_EF_SEARCH: usize = 64;
/// The RRF constant when the grid does not set it (the original paper's).
pub const DEFAULT_RRF_K: f64 = 60.0;
/// The vector weight of weighted fusion when the grid does not set it.
pub const DEFAULT_ALPHA: f64 = 0.5;

/// A chunking strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChunkerKind {
    /// Plain-text splitter sized in characters.
    Chars,
    /// Plain-text splitter sized in tokens.
    Tokens,
    /// Markdown-aware splitter sized in characters.
    Markdown,
    /// Markdown-aware splitter sized in tokens.
    MarkdownTokens,
    /// Fixed windows of tokens with exact overlap.
    WindowTokens,
    /// The recursive character splitter (LangChain's), sized in characters.
    Recursive,
    /// The recursive character splitter, sized in tokens.
    RecursiveTokens,
    /// Whole documents.
    None,
}

impl ChunkerKind {
    /// The grid name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chars => "chars",
            Self::Tokens => "tokens",
            Self::Markdown => "markdown",
            Self::MarkdownTokens => "markdown-tokens",
            Self::WindowTokens => "window-tokens",
            Self::Recursive => "recursive",
            Self::RecursiveTokens => "recursive-tokens",
            Self::None => "none",
        }
    }
    /// Whether sizes count tokens (and so need a tokenizer).
    pub fn needs_tokenizer(self) -> bool {
        matches!(
            self,
            Self::Tokens | Self::MarkdownTokens | Self::WindowTokens | Self::RecursiveTokens
        )
    }
    /// Whether the overlap is exact or real (window and recursive chunkers), rather than
    /// "whole semantic units, at most the nominal value" (text-splitter's).
    pub fn real_overlap(self) -> bool {
        matches!(
            self,
            Self::WindowTokens | Self::Recursive | Self::RecursiveTokens
        )
    }
    /// Whether size and overlap mean anything.
    pub fn is_sized(self) -> bool {
        self != Self::None
    }
}

/// One chunking setup: the unit of reuse in a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChunkSpec {
    /// Strategy.
    pub kind: ChunkerKind,
    /// Maximum chunk size (0 for `none`).
    pub size: usize,
    /// Overlap between neighbouring chunks (0 for `none`).
    pub overlap: usize,
    /// What goes in front of each chunk where it is indexed, when it is not the
    /// chunker's default ([`ChunkSpec::header`]); `None` keeps the ids setups had before
    /// headers could be chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<ChunkHeader>,
}

impl ChunkSpec {
    /// A chunker's header when the grid names none: the title for whole documents (as
    /// BEIR indexes them), nothing for the rest.
    pub fn default_header(kind: ChunkerKind) -> ChunkHeader {
        match kind {
            ChunkerKind::None => ChunkHeader::Title,
            _ => ChunkHeader::None,
        }
    }

    /// The header in force.
    pub fn header(&self) -> ChunkHeader {
        self.header
            .unwrap_or_else(|| Self::default_header(self.kind))
    }

    /// The same chunks with the chunker's default header: what is cut, whatever is put in
    /// front.
    pub fn boundaries(&self) -> ChunkSpec {
        ChunkSpec {
            header: None,
            ..*self
        }
    }
}

impl std::fmt::Display for ChunkSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind.is_sized() {
            write!(f, "{}/{}/{}", self.kind.name(), self.size, self.overlap)?;
        } else {
            f.write_str("none")?;
        }
        match self.header {
            Some(h) => write!(f, "+header:{}", h.name()),
            None => Ok(()),
        }
    }
}

/// Per-query score normalisation for weighted fusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalization {
    /// `(s − min) / (max − min)`.
    Minmax,
    /// `(s − mean) / std` (population std).
    Zscore,
}

impl Normalization {
    /// Grid name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Minmax => "minmax",
            Self::Zscore => "zscore",
        }
    }
}

/// How two rankings are fused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Fusion {
    /// Reciprocal rank fusion with constant `k`.
    Rrf {
        /// The RRF constant.
        k: f64,
    },
    /// Convex combination of normalised scores.
    Weighted {
        /// Weight of the vector retriever.
        alpha: f64,
        /// Normalisation.
        normalization: Normalization,
    },
}

impl Fusion {
    /// Grid name of the method.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Rrf { .. } => "rrf",
            Self::Weighted { .. } => "weighted",
        }
    }
}

/// A vector index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IndexSpec {
    /// Flat search over every vector: the yardstick.
    Exact,
    /// An hnsw_rs graph.
    Hnsw {
        /// Links per node.
        m: usize,
        /// Construction breadth.
        ef_construction: usize,
        /// Search breadth.
        ef_search: usize,
    },
}

impl IndexSpec {
    /// Grid name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Hnsw { .. } => "hnsw",
        }
    }
    /// The graph's shape, for an HNSW index: the one place that takes an index apart.
    pub fn hnsw(&self) -> Option<HnswShape> {
        match *self {
            Self::Exact => None,
            Self::Hnsw {
                m,
                ef_construction,
                ef_search,
            } => Some(HnswShape {
                m,
                ef_construction,
                ef_search,
            }),
        }
    }
}

/// An HNSW index's parameters, as a setup names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswShape {
    /// Links per node.
    pub m: usize,
    /// Construction breadth.
    pub ef_construction: usize,
    /// Search breadth.
    pub ef_search: usize,
}

impl HnswShape {
    /// `(M, ef_construction)`: what the graph is built with (ef_search only reads it).
    pub fn build(&self) -> (usize, usize) {
        (self.m, self.ef_construction)
    }
}

/// How a chunk's vector is made.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Embedding {
    /// Each chunk's text run through the model on its own.
    #[default]
    Standalone,
    /// Late chunking: each document run through the model once, in windows of `window`
    /// tokens overlapping by `overlap`; a chunk's vector is the mean of its tokens'
    /// output vectors, L2-normalised.
    Late {
        /// Tokens per window, special tokens included.
        window: usize,
        /// Tokens shared by neighbouring windows.
        overlap: usize,
    },
}

impl Embedding {
    /// Grid name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Standalone => "standalone",
            Self::Late { .. } => "late",
        }
    }
}

/// How the index holds its vectors (`vectors` in a grid).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum VectorFormat {
    /// Four bytes per dimension: the embeddings as the model wrote them.
    #[default]
    F32,
    /// One byte per dimension: each dimension's range over the corpus vectors cut into
    /// 255 equal steps (the calibration is stored with the index).
    Int8,
    /// One bit per dimension, its sign, compared by Hamming distance.
    Binary,
}

impl VectorFormat {
    /// Every format, as a grid spells them.
    pub const ALL: [VectorFormat; 3] = [Self::F32, Self::Int8, Self::Binary];
    /// Grid name.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Int8 => "int8",
            Self::Binary => "binary",
        }
    }
    /// Parse a grid name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// Dense retrieval: a model and an index over its vectors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VectorSpec {
    /// Model name as the grid spells it.
    pub model: String,
    /// Index.
    pub index: IndexSpec,
    /// How chunk vectors are made.
    #[serde(default)]
    pub embedding: Embedding,
    /// How the index holds the vectors.
    #[serde(default)]
    pub format: VectorFormat,
    /// For quantised vectors: fetch `rescore` × depth chunks by the quantised vectors,
    /// then rank them by their float32 vectors (0: no rescoring).
    #[serde(default)]
    pub rescore: usize,
}

/// A retriever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Retriever {
    /// BM25 over chunk text.
    Bm25,
    /// Nearest neighbours of the question embedding.
    Vector(VectorSpec),
    /// BM25 and vector rankings, each taken to `depth`, then fused.
    Hybrid {
        /// The vector side.
        vector: VectorSpec,
        /// How the two rankings are fused.
        fusion: Fusion,
        /// Depth of each component ranking.
        depth: usize,
    },
}

impl Retriever {
    /// Grid name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Bm25 => "bm25",
            Self::Vector(_) => "vector",
            Self::Hybrid { .. } => "hybrid",
        }
    }
    /// The HNSW graph's shape, for a setup searched by HNSW.
    pub fn hnsw(&self) -> Option<HnswShape> {
        self.vector().and_then(|v| v.index.hnsw())
    }
    /// The vector side, if any.
    pub fn vector(&self) -> Option<&VectorSpec> {
        match self {
            Self::Bm25 => None,
            Self::Vector(v) | Self::Hybrid { vector: v, .. } => Some(v),
        }
    }
    /// Whether BM25 contributes.
    pub fn uses_bm25(&self) -> bool {
        !matches!(self, Self::Vector(_))
    }
    /// The fusion, for hybrids.
    pub fn fusion(&self) -> Option<Fusion> {
        match self {
            Self::Hybrid { fusion, .. } => Some(*fusion),
            _ => None,
        }
    }
}

/// What rescores a first stage's top chunks (`rerank` in a grid).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reranker {
    /// `embed:<model>`: the cosine of the query and each chunk under a second embedding
    /// model.
    Embed(String),
    /// `cross:<model>`: a cross-encoder's score of each (query, chunk) pair.
    Cross(String),
}

impl Reranker {
    /// The model it runs.
    pub fn model(&self) -> &str {
        match self {
            Self::Embed(m) | Self::Cross(m) => m,
        }
    }
    /// Its grid spelling: `embed:<model>` or `cross:<model>`.
    pub fn spelling(&self) -> String {
        match self {
            Self::Embed(m) => format!("embed:{m}"),
            Self::Cross(m) => format!("cross:{m}"),
        }
    }
    /// Parse `embed:<model>` or `cross:<model>` (`none` is no reranker, handled by the
    /// caller).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a reranker: write none, embed:<model> or cross:<model>");
        let (kind, model) = s.split_once(':').ok_or_else(bad)?;
        if model.trim().is_empty() || model.trim() != model {
            return Err(bad());
        }
        match kind {
            "embed" => Ok(Self::Embed(model.to_string())),
            "cross" => Ok(Self::Cross(model.to_string())),
            _ => Err(bad()),
        }
    }
}

/// A second stage: the first stage's top `depth` chunks, rescored by `by`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rerank {
    /// What rescores.
    pub by: Reranker,
    /// How many of the first stage's chunks it rescores (the reranked list's length).
    pub depth: usize,
}

/// One setup: the unit a results row describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "FlatSetup", try_from = "FlatSetup")]
pub struct Setup {
    /// Chunking.
    pub chunk: ChunkSpec,
    /// Retrieval.
    pub retriever: Retriever,
    /// The second stage, if any.
    pub rerank: Option<Rerank>,
    /// Neighbours returned with each retrieved chunk, on each side (0: none).
    pub expand: usize,
}

impl Setup {
    /// A stable 12-hex-digit id: the hash of the flat form.
    pub fn config_id(&self) -> String {
        let mut h = ContentHasher::new();
        h.field(serde_json::to_string(self).expect("a setup serialises"));
        h.finish_hex()[..12].to_string()
    }

    /// The model, for vector and hybrid setups.
    pub fn model(&self) -> Option<&str> {
        self.retriever.vector().map(|v| v.model.as_str())
    }

    /// A short human label, like `tokens/400/200 hybrid rrf(k=60) all-minilm-l6-v2 exact`.
    pub fn label(&self) -> String {
        let mut s = format!("{} {}", self.chunk, self.retriever.name());
        match self.retriever.fusion() {
            Some(Fusion::Rrf { k }) => s.push_str(&format!(" rrf(k={k})")),
            Some(Fusion::Weighted {
                alpha,
                normalization,
            }) => {
                let n = if normalization == Normalization::Zscore {
                    ",z"
                } else {
                    ""
                };
                s.push_str(&format!(" weighted(a={alpha}{n})"));
            }
            None => {}
        }
        if let Some(v) = self.retriever.vector() {
            s.push_str(&format!(" {} {}", v.model, v.index.name()));
            if let IndexSpec::Hnsw { ef_search, .. } = v.index {
                s.push_str(&format!("(ef={ef_search})"));
            }
            if let Embedding::Late { .. } = v.embedding {
                s.push_str(" late");
            }
            if v.format != VectorFormat::F32 {
                s.push_str(&format!(" {}", v.format.name()));
                if v.rescore > 0 {
                    s.push_str(&format!(" rescore×{}", v.rescore));
                }
            }
        }
        if let Some(r) = &self.rerank {
            s.push_str(&format!(" rerank {}@{}", r.by.spelling(), r.depth));
        }
        if self.expand > 0 {
            s.push_str(&format!(" expand±{}", self.expand));
        }
        s
    }

    /// The same setup without its second stage: the first stage it reranks.
    pub fn first_stage(&self) -> Setup {
        Setup {
            rerank: None,
            ..self.clone()
        }
    }
}

/// The flat, stable on-disk form of a [`Setup`]: `None` where a field does not apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlatSetup {
    /// Chunking.
    pub chunk: ChunkSpec,
    /// `bm25`, `vector` or `hybrid`.
    pub retriever: String,
    /// Embedding model.
    pub model: Option<String>,
    /// `exact` or `hnsw`.
    pub index: Option<String>,
    /// HNSW search breadth.
    pub hnsw_ef_search: Option<usize>,
    /// HNSW `M`.
    pub hnsw_m: Option<usize>,
    /// HNSW `ef_construction`.
    pub hnsw_ef_construction: Option<usize>,
    /// `rrf` or `weighted`.
    pub fusion: Option<String>,
    /// Vector weight.
    pub alpha: Option<f64>,
    /// RRF constant.
    pub rrf_k: Option<f64>,
    /// Score normalisation.
    pub normalization: Option<Normalization>,
    /// Fusion depth.
    pub fusion_depth: Option<usize>,
    /// `late` for late chunking; absent for standalone embedding (so that the ids of
    /// standalone setups are what they were before late chunking existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<String>,
    /// Late chunking's window, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_window: Option<usize>,
    /// Late chunking's window overlap, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_overlap: Option<usize>,
    /// The reranker, `embed:<model>` or `cross:<model>`; absent without one (so that the
    /// ids of setups without a second stage are what they were before reranking existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerank: Option<String>,
    /// How many first-stage chunks the reranker rescores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerank_depth: Option<usize>,
    /// `int8` or `binary`; absent for float32 vectors (so that the ids of float32 setups
    /// are what they were before quantised vectors existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vectors: Option<String>,
    /// The rescoring multiplier of quantised vectors; absent when they are not rescored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescore: Option<usize>,
    /// Neighbours returned with each chunk, on each side; absent for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expand: Option<usize>,
}

impl From<Setup> for FlatSetup {
    fn from(s: Setup) -> Self {
        let v = s.retriever.vector();
        let hnsw = match v.map(|v| v.index) {
            Some(IndexSpec::Hnsw {
                m,
                ef_construction,
                ef_search,
            }) => Some((m, ef_construction, ef_search)),
            _ => None,
        };
        let fusion = s.retriever.fusion();
        let late = match v.map(|v| v.embedding) {
            Some(Embedding::Late { window, overlap }) => Some((window, overlap)),
            _ => None,
        };
        let (alpha, normalization, rrf_k) = match fusion {
            Some(Fusion::Weighted {
                alpha,
                normalization,
            }) => (Some(alpha), Some(normalization), None),
            Some(Fusion::Rrf { k }) => (None, None, Some(k)),
            None => (None, None, None),
        };
        FlatSetup {
            chunk: s.chunk,
            retriever: s.retriever.name().to_string(),
            model: v.map(|v| v.model.clone()),
            index: v.map(|v| v.index.name().to_string()),
            hnsw_ef_search: hnsw.map(|h| h.2),
            hnsw_m: hnsw.map(|h| h.0),
            hnsw_ef_construction: hnsw.map(|h| h.1),
            fusion: fusion.map(|f| f.name().to_string()),
            alpha,
            rrf_k,
            normalization,
            fusion_depth: match s.retriever {
                Retriever::Hybrid { depth, .. } => Some(depth),
                _ => None,
            },
            embedding: late.map(|_| "late".to_string()),
            late_window: late.map(|l| l.0),
            late_overlap: late.map(|l| l.1),
            rerank: s.rerank.as_ref().map(|r| r.by.spelling()),
            rerank_depth: s.rerank.as_ref().map(|r| r.depth),
            vectors: v
                .filter(|v| v.format != VectorFormat::F32)
                .map(|v| v.format.name().to_string()),
            rescore: v.map(|v| v.rescore).filter(|&r| r > 0),
            expand: Some(s.expand).filter(|&e| e > 0),
        }
    }
}

impl TryFrom<FlatSetup> for Setup {
    type Error = String;
    fn try_from(f: FlatSetup) -> Result<Self, String> {
        let vector = || -> Result<VectorSpec, String> {
            let model = f.model.clone().ok_or("a vector setup needs `model`")?;
            let index = match f.index.as_deref() {
                Some("exact") | None => IndexSpec::Exact,
                Some("hnsw") => IndexSpec::Hnsw {
                    m: f.hnsw_m.unwrap_or(DEFAULT_HNSW_M),
                    ef_construction: f
                        .hnsw_ef_construction
                        .unwrap_or(DEFAULT_HNSW_EF_CONSTRUCTION),
                    ef_search: f.hnsw_ef_search.unwrap_or(DEFAULT_HNSW_EF_SEARCH),
                },
                Some(other) => return Err(format!("unknown index {other:?}")),
            };
            let embedding = match f.embedding.as_deref() {
                None | Some("standalone") => Embedding::Standalone,
                Some("late") => Embedding::Late {
                    window: f.late_window.ok_or("a late setup needs `late_window`")?,
                    overlap: f.late_overlap.ok_or("a late setup needs `late_overlap`")?,
                },
                Some(other) => return Err(format!("unknown embedding {other:?}")),
            };
            let format = match f.vectors.as_deref() {
                None => VectorFormat::F32,
                Some(name) => {
                    VectorFormat::parse(name).ok_or_else(|| format!("unknown vectors {name:?}"))?
                }
            };
            Ok(VectorSpec {
                model,
                index,
                embedding,
                format,
                rescore: f.rescore.unwrap_or(0),
            })
        };
        let retriever = match f.retriever.as_str() {
            "bm25" => Retriever::Bm25,
            "vector" => Retriever::Vector(vector()?),
            "hybrid" => {
                let fusion = match f.fusion.as_deref() {
                    Some("rrf") | None => Fusion::Rrf {
                        k: f.rrf_k.unwrap_or(DEFAULT_RRF_K),
                    },
                    Some("weighted") => Fusion::Weighted {
                        alpha: f.alpha.unwrap_or(DEFAULT_ALPHA),
                        normalization: f.normalization.unwrap_or(Normalization::Minmax),
                    },
                    Some(other) => return Err(format!("unknown fusion {other:?}")),
                };
                let depth = f
                    .fusion_depth
                    .ok_or("a hybrid setup needs `fusion_depth`")?;
                Retriever::Hybrid {
                    vector: vector()?,
                    fusion,
                    depth,
                }
            }
            other => return Err(format!("unknown retriever {other:?}")),
        };
        let rerank = match (f.rerank.as_deref(), f.rerank_depth) {
            (None, None) => None,
            (Some(by), Some(depth)) => Some(Rerank {
                by: Reranker::parse(by)?,
                depth,
            }),
            _ => return Err("`rerank` and `rerank_depth` go together".into()),
        };
        Ok(Setup {
            chunk: f.chunk,
            retriever,
            rerank,
            expand: f.expand.unwrap_or(0),
        })
    }
}

/// How an HNSW graph is built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HnswBuild {
    /// One point after another, in chunk order: hnsw_rs draws levels from a fixed seed,
    /// so the same vectors always give the same graph, and the same answers.
    #[default]
    Serial,
    /// Points inserted from every thread at once: faster with more cores, but the graph
    /// depends on how the threads interleave, so two builds can answer differently.
    Parallel,
}

impl HnswBuild {
    /// Its name in a grid file.
    pub fn name(self) -> &'static str {
        match self {
            HnswBuild::Serial => "serial",
            HnswBuild::Parallel => "parallel",
        }
    }
}

/// The tiktoken encodings ragtune knows by name (`chunk_tokenizer`): OpenAI's, shipped
/// inside ragtune. Anything else is a tokenizer.json path.
pub const ENCODINGS: [&str; 2] = ["cl100k_base", "o200k_base"];

#[cfg(test)]
mod tests {
    use super::*;

    fn hybrid() -> Setup {
        Setup {
            chunk: ChunkSpec {
                kind: ChunkerKind::Tokens,
                size: 200,
                overlap: 0,
                header: None,
            },
            retriever: Retriever::Hybrid {
                vector: VectorSpec {
                    model: "m".into(),
                    index: IndexSpec::Hnsw {
                        m: 16,
                        ef_construction: 200,
                        ef_search: 32,
                    },
                    embedding: Embedding::Standalone,
                    format: VectorFormat::F32,
                    rescore: 0,
                },
                fusion: Fusion::Weighted {
                    alpha: 0.3,
                    normalization: Normalization::Zscore,
                },
                depth: 20,
            },
            rerank: None,
            expand: 0,
        }
    }

    #[test]
    fn reranked_setups_have_their_own_ids_round_trip_and_parse_strictly() {
        let plain = hybrid();
        let mut reranked = hybrid();
        reranked.rerank = Some(Rerank {
            by: Reranker::Embed("l3".into()),
            depth: 50,
        });
        assert_ne!(reranked.config_id(), plain.config_id());
        assert_eq!(reranked.first_stage(), plain);
        let json = serde_json::to_string(&reranked).unwrap();
        assert!(
            json.ends_with(r#""rerank":"embed:l3","rerank_depth":50}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Setup>(&json).unwrap(), reranked);
        assert!(reranked.label().ends_with(" rerank embed:l3@50"));
        assert_eq!(
            Reranker::parse("cross:ce"),
            Ok(Reranker::Cross("ce".into()))
        );
        for bad in ["l3", "embed:", "colbert:x", "embed: l3"] {
            assert!(Reranker::parse(bad).is_err(), "{bad}");
        }
        let half = json.replace(r#","rerank_depth":50"#, "");
        assert!(serde_json::from_str::<Setup>(&half).is_err());
    }

    #[test]
    fn flat_form_round_trips_and_keeps_the_legacy_shape() {
        let s = hybrid();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"chunk":{"kind":"tokens","size":200,"overlap":0},"retriever":"hybrid","model":"m","index":"hnsw","hnsw_ef_search":32,"hnsw_m":16,"hnsw_ef_construction":200,"fusion":"weighted","alpha":0.3,"rrf_k":null,"normalization":"zscore","fusion_depth":20}"#
        );
        let back: Setup = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            s.label(),
            "tokens/200/0 hybrid weighted(a=0.3,z) m hnsw(ef=32)"
        );
    }

    #[test]
    fn late_setups_have_their_own_ids_and_round_trip() {
        let standalone = hybrid();
        let mut late = hybrid();
        if let Retriever::Hybrid { vector, .. } = &mut late.retriever {
            vector.embedding = Embedding::Late {
                window: 512,
                overlap: 64,
            };
        }
        assert_ne!(late.config_id(), standalone.config_id());
        let json = serde_json::to_string(&late).unwrap();
        assert!(
            json.ends_with(r#""embedding":"late","late_window":512,"late_overlap":64}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Setup>(&json).unwrap(), late);
        assert!(late.label().ends_with(" late"));
    }

    #[test]
    fn bm25_flat_form_has_no_vector_fields() {
        let s = Setup {
            retriever: Retriever::Bm25,
            ..hybrid()
        };
        let f = FlatSetup::from(s.clone());
        assert!(f.model.is_none() && f.fusion.is_none() && f.fusion_depth.is_none());
        // The id of a BM25 setup as the previous, flat GridPoint hashed it.
        assert_eq!(s.config_id().len(), 12);
        assert!(serde_json::from_str::<Setup>(r#"{"chunk":{"kind":"none","size":0,"overlap":0},"retriever":"rerank","model":null,"index":null,"hnsw_ef_search":null,"hnsw_m":null,"hnsw_ef_construction":null,"fusion":null,"alpha":null,"rrf_k":null,"normalization":null,"fusion_depth":null}"#).is_err());
    }
}
