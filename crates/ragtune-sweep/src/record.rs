//! What a sweep writes: per-point records, the manifest, and atomic file writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use ragtune_corpus::CorpusSpec;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SweepError};
use crate::grid::GridPoint;

/// One results row: a grid point at one `k`, averaged over questions.
///
/// Document metrics average over questions with document labels; span metrics over
/// questions with span labels (`None` when there are none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Stable id of the grid point.
    pub config_id: String,
    /// Chunker name.
    pub chunker: String,
    /// Chunk size (None for `none`).
    pub chunk_size: Option<u32>,
    /// Chunk overlap (None for `none`).
    pub chunk_overlap: Option<u32>,
    /// Retriever name.
    pub retriever: String,
    /// Model (vector, hybrid).
    pub model: Option<String>,
    /// Vector index (vector, hybrid).
    pub index: Option<String>,
    /// HNSW ef_search.
    pub hnsw_ef_search: Option<u32>,
    /// Fusion method.
    pub fusion: Option<String>,
    /// Weighted-fusion alpha.
    pub alpha: Option<f64>,
    /// RRF constant.
    pub rrf_k: Option<f64>,
    /// Weighted-fusion normalisation.
    pub normalization: Option<String>,
    /// Chunks handed to the model.
    pub top_k: u32,
    /// Questions evaluated.
    pub n_questions: u32,
    /// Document recall@k.
    pub recall: Option<f64>,
    /// Document precision@k.
    pub precision: Option<f64>,
    /// MRR@k.
    pub mrr: Option<f64>,
    /// nDCG@k.
    pub ndcg: Option<f64>,
    /// Hit rate@k.
    pub hit_rate: Option<f64>,
    /// Span recall@k.
    pub span_recall: Option<f64>,
    /// Span precision@k.
    pub span_precision: Option<f64>,
    /// Span IoU@k.
    pub span_iou: Option<f64>,
    /// Mean tokens in the k chunks.
    pub context_tokens: f64,
    /// HNSW only: share of the exact top-k that HNSW returned.
    pub hnsw_recall_vs_exact: Option<f64>,
    /// Chunks in the index.
    pub n_chunks: u64,
    /// Mean tokens per chunk.
    pub mean_chunk_tokens: f64,
    /// Seconds to build the index (BM25 indexing, HNSW graph; embeddings excluded).
    pub index_seconds: f64,
    /// Index size in bytes (HNSW links estimated).
    pub index_bytes: u64,
    /// Median retrieval latency per question, ms (question embedding excluded).
    pub query_ms_p50: f64,
    /// 95th-percentile retrieval latency, ms.
    pub query_ms_p95: f64,
}

/// One per-question row: a grid point, a `k` and a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionRow {
    /// Grid point.
    pub config_id: String,
    /// k.
    pub top_k: u32,
    /// Question id.
    pub question_id: String,
    /// Document recall.
    pub recall: Option<f64>,
    /// Document precision.
    pub precision: Option<f64>,
    /// Reciprocal rank.
    pub mrr: Option<f64>,
    /// nDCG.
    pub ndcg: Option<f64>,
    /// Hit.
    pub hit_rate: Option<f64>,
    /// Span recall.
    pub span_recall: Option<f64>,
    /// Span precision.
    pub span_precision: Option<f64>,
    /// Span IoU.
    pub span_iou: Option<f64>,
    /// Tokens in the k chunks.
    pub context_tokens: u32,
    /// 1-based rank of the first relevant chunk within the stored depth (a chunk that
    /// overlaps a gold span, or for document labels a chunk of a relevant document).
    pub first_relevant_rank: Option<u32>,
}

/// Everything measured for one grid point. Written to `points/<config_id>.json` as soon
/// as the point finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointRecord {
    /// Stable id.
    pub config_id: String,
    /// Human label.
    pub label: String,
    /// The setup.
    pub point: GridPoint,
    /// One row per k.
    pub rows: Vec<ResultRow>,
    /// One row per k and question.
    pub questions: Vec<QuestionRow>,
}

/// The ranking each question got from one grid point, at the stored depth: exactly what
/// was scored (fused, for hybrids). Written to `rankings/<config_id>.json`; `export-trec`
/// reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingsRecord {
    /// Grid point.
    pub config_id: String,
    /// Ranking depth.
    pub depth: usize,
    /// Document ids referenced below (`QuestionRanking::docs` indexes this table).
    pub doc_ids: Vec<String>,
    /// One ranking per question, in corpus order.
    pub questions: Vec<QuestionRanking>,
}

/// One question's ranked chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionRanking {
    /// Question id.
    pub id: String,
    /// Chunk indices, best first.
    pub chunks: Vec<u32>,
    /// Each chunk's document, as an index into [`RankingsRecord::doc_ids`].
    pub docs: Vec<u32>,
    /// Each chunk's score.
    pub scores: Vec<f32>,
}

/// Embedding work for one (chunking, model) pair.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedRecord {
    /// What was embedded: a chunking label, or `questions`.
    pub what: String,
    /// Model name.
    pub model: String,
    /// Texts requested.
    pub texts: u64,
    /// Found in the cache (or repeated within the request).
    pub cache_hits: u64,
    /// Embedded now.
    pub cache_misses: u64,
    /// How many of the texts are longer than the model's maximum and so were truncated
    /// for embedding (cached or not).
    pub truncated: u64,
    /// Wall seconds.
    pub seconds: f64,
}

/// A model as used by the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// Name in the grid.
    pub name: String,
    /// Folder.
    pub dir: PathBuf,
    /// sha256 of model.onnx.
    pub sha256: String,
    /// Dimension.
    pub dim: usize,
    /// Truncation limit.
    pub max_tokens: usize,
}

/// `manifest.json`: what ran, on what, with what, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `running`, `complete` or `failed`.
    pub status: String,
    /// ragtune version.
    pub ragtune_version: String,
    /// git commit of the build.
    pub git_commit: String,
    /// Grid file path.
    pub grid_path: PathBuf,
    /// Grid name.
    pub grid_name: String,
    /// Grid file contents, verbatim.
    pub grid_text: String,
    /// The resolved corpus spec.
    pub corpus: CorpusSpec,
    /// Hash of documents and labels.
    pub corpus_fingerprint: String,
    /// Documents.
    pub n_documents: usize,
    /// Questions.
    pub n_questions: usize,
    /// Grid points.
    pub n_points: usize,
    /// Start, RFC 3339.
    pub started_at: String,
    /// End, RFC 3339.
    pub finished_at: Option<String>,
    /// Threads used (rayon and ONNX Runtime intra-op).
    pub threads: usize,
    /// Requested device.
    pub device: String,
    /// Execution provider that actually ran the model (None when no model ran).
    pub execution_provider: Option<String>,
    /// Models.
    pub models: Vec<ModelRecord>,
    /// Embedding cache folder (None when disabled).
    pub embedding_cache: Option<PathBuf>,
    /// Total cache hits.
    pub cache_hits: u64,
    /// Total cache misses (texts embedded).
    pub cache_misses: u64,
    /// Texts truncated for embedding, summed over `embeddings` (chunk sets and questions).
    pub truncated: u64,
    /// Per (chunking, model) embedding work.
    pub embeddings: Vec<EmbedRecord>,
    /// Objective from [select].
    pub objective: String,
    /// Winning config (set when results are written).
    pub best_config_id: Option<String>,
    /// Wall seconds per stage.
    pub stage_seconds: Vec<(String, f64)>,
    /// Error message when status is `failed`.
    pub error: Option<String>,
    /// Points kept from an interrupted run (`--resume`).
    #[serde(default)]
    pub resumed_points: usize,
    /// The tokenizer.json that sized `tokens` chunks and counted context tokens; serving
    /// rebuilds chunks with exactly this one.
    #[serde(default)]
    pub tokenizer: Option<PathBuf>,
}

impl Manifest {
    /// Load the run's corpus, refusing it if it changed since the sweep: anything built
    /// from a changed corpus would not be what was evaluated.
    pub fn load_corpus(&self) -> Result<ragtune_core::Corpus> {
        let corpus = ragtune_corpus::load(&self.corpus)?;
        if corpus.fingerprint() != self.corpus_fingerprint {
            return Err(SweepError::Run {
                path: self.corpus.path.clone(),
                message: "the corpus changed since the sweep (its fingerprint differs from the run's manifest); what would be served or exported is not what was evaluated".into(),
            });
        }
        Ok(corpus)
    }
}

/// A run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Create `root` (it must not already hold a run).
    pub fn create(root: &Path) -> Result<Self> {
        if root.join("manifest.json").exists() {
            return Err(SweepError::Run {
                path: root.to_path_buf(),
                message: "already holds a run (manifest.json exists); choose another --out".into(),
            });
        }
        for sub in ["points", "rankings"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| SweepError::io(root, e))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Open an existing run folder.
    pub fn open(root: &Path) -> Result<Self> {
        if !root.join("manifest.json").is_file() {
            return Err(SweepError::Run {
                path: root.to_path_buf(),
                message: "not a run folder (no manifest.json)".into(),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Write `bytes` to `rel` atomically (temporary file in the same folder, fsync, rename).
    pub fn write_atomic(&self, rel: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.root.join(rel);
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// Store a finished point.
    pub fn write_point(&self, record: &PointRecord) -> Result<()> {
        let bytes = serde_json::to_vec(record).expect("records serialise");
        self.write_atomic(&format!("points/{}.json", record.config_id), &bytes)?;
        Ok(())
    }

    /// Store a point's rankings.
    pub fn write_rankings(&self, record: &RankingsRecord) -> Result<()> {
        let bytes = serde_json::to_vec(record).expect("rankings serialise");
        self.write_atomic(&format!("rankings/{}.json", record.config_id), &bytes)?;
        Ok(())
    }

    /// Read a point's rankings.
    pub fn read_rankings(&self, config_id: &str) -> Result<RankingsRecord> {
        let path = self.root.join("rankings").join(format!("{config_id}.json"));
        if !path.is_file() || config_id.contains('/') {
            return Err(SweepError::Run {
                path,
                message: format!("no stored rankings for config id {config_id:?} in this run"),
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| SweepError::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| SweepError::Run {
            path,
            message: e.to_string(),
        })
    }

    /// Config ids of the stored points, sorted (from file names; nothing is parsed).
    pub fn config_ids(&self) -> Result<Vec<String>> {
        let dir = self.root.join("points");
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| SweepError::io(&dir, e))? {
            let path = entry.map_err(|e| SweepError::io(&dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) == Some("json")
                && let Some(stem) = path.file_stem()
            {
                ids.push(stem.to_string_lossy().into_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Read every stored point, sorted by config id.
    pub fn read_points(&self) -> Result<Vec<PointRecord>> {
        let dir = self.root.join("points");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| SweepError::io(&dir, e))? {
            let path = entry.map_err(|e| SweepError::io(&dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| SweepError::io(&path, e))?;
            let rec: PointRecord = serde_json::from_slice(&bytes).map_err(|e| SweepError::Run {
                path: path.clone(),
                message: e.to_string(),
            })?;
            out.push(rec);
        }
        out.sort_by(|a, b| a.config_id.cmp(&b.config_id));
        Ok(out)
    }

    /// Write the manifest.
    pub fn write_manifest(&self, m: &Manifest) -> Result<()> {
        self.write_atomic(
            "manifest.json",
            &serde_json::to_vec_pretty(m).expect("manifest serialises"),
        )?;
        Ok(())
    }

    /// Read the manifest.
    pub fn read_manifest(&self) -> Result<Manifest> {
        let path = self.root.join("manifest.json");
        let bytes = std::fs::read(&path).map_err(|e| SweepError::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| SweepError::Run {
            path,
            message: e.to_string(),
        })
    }
}

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        SweepError::io(path, e)
    })
}

/// `best.toml`: the winning setup under [select], loadable by `serve`, `query` and `explain`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BestSetup {
    /// Stable id of the winning point.
    pub config_id: String,
    /// Human label.
    pub label: String,
    /// The objective, `metric@k`.
    pub objective: String,
    /// Its value for this setup.
    pub value: f64,
    /// Mean context tokens at the objective's k.
    pub context_tokens: f64,
    /// The limit that applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_context_tokens: Option<f64>,
    /// The setup itself.
    pub point: GridPoint,
}
