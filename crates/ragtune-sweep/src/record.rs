//! What a sweep writes into its run folder: per-point records, rankings and the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ragtune_corpus::CorpusSpec;
use serde::{Deserialize, Serialize};

use ragtune_eval::{PointRecord, RankingsRecord};

use crate::error::{Result, SweepError};
use crate::models::ModelRecord;
use ragtune_store::write_atomic;

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
    /// Tokens in the texts embedded now (the counting tokenizer's count, before any
    /// truncation to the model's maximum).
    #[serde(default)]
    pub embedded_tokens: u64,
    /// Tokens the model ran on for the texts embedded now: each text's tokens in the
    /// model's own tokenizer, after truncation to its maximum, special tokens included,
    /// padding not. What tokens/s of a model are measured in. Absent for late chunking
    /// and in manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_tokens: Option<u64>,
    /// How many of the texts are longer than the model's maximum and so were truncated
    /// for embedding (cached or not).
    pub truncated: u64,
    /// Wall seconds.
    pub seconds: f64,
    /// Texts per inference call (where the embedder batches; an automatic size once found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Padded tokens per inference call, where the embedder batches by a token budget
    /// (then `batch_size` is absent: the number of texts varies with their length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_tokens: Option<usize>,
}

/// Per stage kind: distinct nodes in the plan, how many were computed, and how many were
/// read from the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Node kind (chunks, bm25, vectors, hnsw, rankings, fusion, scores).
    pub kind: String,
    /// Distinct nodes in the plan.
    pub nodes: usize,
    /// Computed by this run.
    pub computed: usize,
    /// Read back from the stage store.
    pub reused: usize,
}

/// How a run (or one shard of it) stands, as `manifest.json` and shard records say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    /// Started and not finished: still running, or killed.
    #[serde(rename = "running")]
    Running,
    /// Every setup scored; the tables, best.toml and this status not yet written.
    #[serde(rename = "scored")]
    Scored,
    /// Every setup scored, and the tables and best.toml durably in place (this status is
    /// written last).
    #[serde(rename = "complete")]
    Complete,
    /// A `[search]` budget stopped it cleanly; everything scored so far is recorded.
    #[serde(rename = "budget reached")]
    BudgetReached,
    /// It stopped on an error, recorded beside the status.
    #[serde(rename = "failed")]
    Failed,
    /// Finished, but no question had labels: every setup ranked every question and
    /// nothing was scored (no best setup).
    #[serde(rename = "rankings only")]
    RankingsOnly,
}

impl RunStatus {
    /// Its name in manifest.json and in `ragtune runs`.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Scored => "scored",
            RunStatus::Complete => "complete",
            RunStatus::BudgetReached => "budget reached",
            RunStatus::Failed => "failed",
            RunStatus::RankingsOnly => "rankings only",
        }
    }
}

impl RunStatus {
    /// Whether the run's tables are all written: what reading commands require.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RunStatus::Complete | RunStatus::BudgetReached | RunStatus::RankingsOnly
        )
    }
}

/// A file of a finished run, as it was written: checked before it is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Its size.
    pub bytes: u64,
    /// Its sha256, hex.
    pub sha256: String,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `manifest.json`: what ran, on what, with what, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `running`, `scored`, `complete`, `budget reached` or `failed`.
    pub status: RunStatus,
    /// The tables and best.toml, recorded once written and before the status says the
    /// run is finished (absent in runs written before ragtune recorded them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, FileRecord>,
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
    /// Hash of the documents alone, and of the question texts: what chunk sets and
    /// rankings depend on (`ragtune judge` pools a run whose labels it is changing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_fingerprint: Option<(String, String)>,
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
    /// ONNX Runtime sessions that ran batches side by side (1 before sessions existed).
    #[serde(default = "one")]
    pub sessions: usize,
    /// Requested device.
    pub device: String,
    /// Execution provider that actually ran the model (None when no model ran).
    pub execution_provider: Option<String>,
    /// Models.
    pub models: Vec<ModelRecord>,
    /// Stage store folder, which holds the embedding cache (None when disabled).
    pub embedding_cache: Option<PathBuf>,
    /// Per stage kind: nodes, computed, reused.
    #[serde(default)]
    pub stages: Vec<StageRecord>,
    /// Damaged store entries found (each was recomputed, never used).
    #[serde(default)]
    pub corrupt_entries: u64,
    /// Warnings given during the sweep (overlap far below nominal, identical chunk sets).
    #[serde(default)]
    pub warnings: Vec<String>,
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
    /// What `[search]` did: its rungs or stages, and whether a budget stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::search::SearchRecord>,
    /// A sharded sweep's shards, as `ragtune merge` found them: where each ran, what it
    /// was given and how long it took.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<crate::shard::ShardSummary>,
    /// Files of a `dir` corpus that were not read, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_files: Vec<ragtune_corpus::Skipped>,
    /// Answer labels not found in the documents, dropped under `unresolved = "drop"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved_labels: Vec<UnresolvedLabel>,
    /// Where the PDF, HTML and Word documents' texts came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub texts: Option<crate::texts::TextCounts>,
}

/// An answer label that was not found in the documents and was dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnresolvedLabel {
    /// The question's id.
    pub question: String,
    /// The line of the questions file.
    pub line: usize,
    /// The answer text.
    pub answer: String,
}

fn one() -> usize {
    1
}

impl Manifest {
    /// The status a scored run ends with once its tables are written: `budget reached`
    /// when a `[search]` budget stopped it, else `complete`.
    pub fn finish(&mut self) {
        let spent = self.search.as_ref().is_some_and(|s| s.budget_reached);
        self.status = if spent {
            RunStatus::BudgetReached
        } else {
            RunStatus::Complete
        };
    }

    /// Load the run's corpus, refusing it if it changed since the sweep: anything built
    /// from a changed corpus would not be what was evaluated. `texts` reads PDF, HTML and
    /// Word documents (from the run folder's copy, [`crate::Texts::with_run`]).
    pub fn load_corpus(&self, texts: &dyn ragtune_corpus::Extract) -> Result<ragtune_core::Corpus> {
        let corpus = ragtune_corpus::load_with(&self.corpus, texts)?.corpus;
        self.check_corpus(&corpus)?;
        Ok(corpus)
    }

    /// Refuse `corpus` unless its documents and question texts are the ones this run was
    /// swept on (its labels may differ). Runs written before this was recorded compare
    /// the whole fingerprint.
    pub fn check_documents(&self, corpus: &ragtune_core::Corpus) -> Result<()> {
        match &self.docs_fingerprint {
            Some((docs, questions))
                if *docs == corpus.docs_fingerprint()
                    && *questions == corpus.questions_fingerprint() =>
            {
                Ok(())
            }
            Some(_) => Err(SweepError::Run {
                path: self.corpus.path.clone(),
                message: "the documents or the questions changed since the sweep; sweep again before judging its results".into(),
            }),
            None => self.check_corpus(corpus),
        }
    }

    /// Refuse `corpus` unless it is the one this run was swept on.
    pub fn check_corpus(&self, corpus: &ragtune_core::Corpus) -> Result<()> {
        if corpus.fingerprint() != self.corpus_fingerprint {
            return Err(SweepError::Run {
                path: self.corpus.path.clone(),
                message: "the corpus changed since the sweep (its fingerprint differs from the run's manifest); what would be served or exported is not what was evaluated".into(),
            });
        }
        Ok(())
    }
}

/// How file `path` differs from what was recorded of it, if it does (its sha256 compared
/// only when `hash`).
fn file_differs(path: &Path, want: &FileRecord, hash: bool) -> Option<String> {
    let bytes = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => return Some(format!("missing ({e})")),
    };
    if bytes != want.bytes {
        return Some(format!(
            "{bytes} bytes, not the {} bytes the sweep wrote: damaged or truncated",
            want.bytes
        ));
    }
    if !hash {
        return None;
    }
    match std::fs::read(path) {
        Ok(b) if ragtune_core::sha256_hex(&b) == want.sha256 => None,
        Ok(_) => Some("not the bytes the sweep wrote (its sha256 differs): damaged".into()),
        Err(e) => Some(e.to_string()),
    }
}

/// What a finished run recorded of its files, by path in the run folder.
pub(crate) type Recorded = BTreeMap<String, FileRecord>;

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

    /// A run folder that several shards share: created if missing (by whichever shard
    /// comes first), and never refused for holding a run, which its shards build together.
    pub fn shared(root: &Path) -> Result<Self> {
        for sub in ["points", "rankings", crate::shard::SHARDS_DIR] {
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

    /// Remove a stored point and its rankings (a setup the grid no longer has).
    pub fn remove_point(&self, config_id: &str) -> Result<()> {
        for sub in ["points", "rankings"] {
            let p = self.root.join(sub).join(format!("{config_id}.json"));
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(SweepError::io(&p, e)),
            }
        }
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
        let bytes = self.read_checked(&path, &self.recorded())?;
        serde_json::from_slice(&bytes).map_err(|e| SweepError::Run {
            path,
            message: e.to_string(),
        })
    }

    /// What a finished run recorded of its files (none for a run still being written, or
    /// written before files were recorded).
    pub(crate) fn recorded(&self) -> Recorded {
        match self.read_manifest() {
            Ok(m) if m.status.is_finished() => m.files,
            _ => BTreeMap::new(),
        }
    }

    /// The bytes of run-folder file `path`, checked once, as it is opened, against what
    /// was recorded of it when the run finished (a point or a ranking edited or damaged
    /// since is refused, not read as another setup's numbers).
    pub(crate) fn read_checked(&self, path: &Path, recorded: &Recorded) -> Result<Vec<u8>> {
        let bytes = std::fs::read(path).map_err(|e| SweepError::io(path, e))?;
        let rel = path
            .strip_prefix(&self.root)
            .map(|p| p.to_string_lossy().into_owned());
        if let Some(want) = rel.ok().and_then(|r| recorded.get(&r))
            && (bytes.len() as u64 != want.bytes || ragtune_core::sha256_hex(&bytes) != want.sha256)
        {
            return Err(SweepError::Run {
                path: path.to_path_buf(),
                message: "not the bytes the sweep wrote: damaged or edited; remove it and `ragtune sweep GRID --out RUN --resume` scores that setup again".into(),
            });
        }
        Ok(bytes)
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
        let recorded = self.recorded();
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| SweepError::io(&dir, e))? {
            let path = entry.map_err(|e| SweepError::io(&dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let bytes = self.read_checked(&path, &recorded)?;
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

    /// Record files `names` of the run folder (size and sha256) in `m`.
    pub fn record_files(&self, m: &mut Manifest, names: &[&str]) -> Result<()> {
        for name in names {
            let path = self.root.join(name);
            let bytes = std::fs::read(&path).map_err(|e| SweepError::io(&path, e))?;
            let record = FileRecord {
                bytes: bytes.len() as u64,
                sha256: ragtune_core::sha256_hex(&bytes),
            };
            m.files.insert(name.to_string(), record);
        }
        Ok(())
    }

    /// The manifest of a finished run, every file it records checked against its size and
    /// sha256: what `report`, `compare`, `check` and `serve` read. A run still running,
    /// killed, failed or with a damaged or missing table is refused, with what is wrong and
    /// the command that finishes it. (Runs written before files were recorded are taken
    /// at their status.)
    pub fn finished(&self) -> Result<Manifest> {
        self.check_finished(true)
    }

    /// Whether the run looks finished: its status, and each recorded file's size (no
    /// hashing: what `ragtune runs` shows for every run it lists).
    pub fn looks_finished(&self) -> bool {
        self.check_finished(false).is_ok()
    }

    fn check_finished(&self, hash: bool) -> Result<Manifest> {
        let m = self.read_manifest()?;
        let how = if m.shards.is_empty() {
            format!(
                "`ragtune sweep {} --out {} --resume` finishes it",
                m.grid_path.display(),
                self.root.display()
            )
        } else {
            format!("`ragtune merge {}` finishes it", self.root.display())
        };
        let refuse = |path: PathBuf, what: String| SweepError::Run {
            path,
            message: format!("{what}; {how}"),
        };
        if !m.status.is_finished() {
            let why = m
                .error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            let what = format!(
                "the sweep is {}{why}: its tables are not all written",
                m.status
            );
            return Err(refuse(self.root.clone(), what));
        }
        // Points and rankings are checked as each is read (read_checked); the tables and
        // best.toml here.
        let eager = m.files.iter().filter(|(n, _)| !n.contains('/'));
        for (name, want) in eager {
            let path = self.root.join(name);
            if let Some(what) = file_differs(&path, want, hash) {
                return Err(refuse(path, what));
            }
        }
        Ok(m)
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
