//! A grid's inputs loaded and checked before any work: the corpus, the models'
//! identities, the counting tokenizer and the chunk sizer, and the plan built from
//! their fingerprints. Every user mistake surfaces here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ragtune_chunk::{Sizer, load_plain_tokenizer};
use ragtune_core::Corpus;
use ragtune_embed::{BatchSize, Device, EmbedOptions};
use ragtune_grid::Grid;
use ragtune_store::StageStore;
use tokenizers::Tokenizer;

use crate::error::{Result, SweepError};
use crate::models::{ModelInfo, Models};
use crate::plan::{Plan, PlanInputs};

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Folder with `onnxruntime/` and the bundled models.
    pub models_dir: PathBuf,
    /// Stage store folder (the embedding cache is one of its tables); `None` disables it.
    pub cache_dir: Option<PathBuf>,
    /// Threads for rayon and ONNX Runtime.
    pub threads: usize,
    /// ONNX Runtime sessions running batches side by side, `threads` split between them.
    pub sessions: usize,
    /// CPU or CUDA.
    pub device: Device,
    /// Texts or padded tokens per inference call, or `auto`.
    pub batch_size: BatchSize,
    /// ragtune version, for the manifest.
    pub version: String,
    /// git commit of the build, for the manifest.
    pub git_commit: String,
}

impl SweepOptions {
    /// The embedder options these sweep options imply.
    pub fn embed_options(&self) -> EmbedOptions {
        EmbedOptions {
            models_dir: self.models_dir.clone(),
            threads: self.threads,
            sessions: self.sessions,
            device: self.device,
            batch_size: self.batch_size,
        }
    }

    /// The stage store, opened.
    pub fn store(&self) -> Result<Option<StageStore>> {
        Ok(self
            .cache_dir
            .as_deref()
            .map(StageStore::open)
            .transpose()?)
    }
}

/// A grid's inputs, loaded and checked, and its plan.
pub struct Prepared {
    /// The corpus.
    pub corpus: Corpus,
    /// Each model's identity, by grid name.
    pub infos: BTreeMap<String, ModelInfo>,
    /// The counting tokenizer (shared with `sizer` when that counts in it too).
    pub tokenizer: std::sync::Arc<Tokenizer>,
    /// Where the counting tokenizer came from.
    pub tokenizer_path: PathBuf,
    /// What token chunkers count in (`chunk_tokenizer`, else the counting tokenizer).
    pub sizer: Sizer,
    /// The plan.
    pub plan: Plan,
    /// Files of a `dir` corpus that were not read.
    pub skipped: Vec<ragtune_corpus::Skipped>,
    /// How each label of a questions file resolved.
    pub labels: Vec<ragtune_corpus::LabelReport>,
    /// What the models' limits say of the grid (the sweep prints and records them).
    pub warnings: Vec<String>,
}

/// `grid` prepared as a finished run's reader does it (serve, query, explain, judge):
/// PDF, HTML and Word texts from the run folder (else the store), the counting tokenizer
/// the sweep recorded, and the stage store the options name, returned beside it.
pub fn prepare_recorded(
    run: &crate::RunDir,
    manifest: &crate::Manifest,
    grid: &Grid,
    opts: &SweepOptions,
    models: &dyn Models,
) -> Result<(Prepared, Option<StageStore>)> {
    let store = opts.store()?;
    let texts = crate::Texts::new(&opts.models_dir, store.as_ref()).with_run(run.path(), false);
    let prep = prepare(
        grid,
        models,
        &opts.models_dir,
        manifest.tokenizer.as_deref(),
        &texts,
    )?;
    Ok((prep, store))
}

/// The tokenizer that sizes `tokens` chunks and counts context tokens: `[retrieval]
/// tokenizer`, else the first retriever model's, else all-minilm-l6-v2's in the models
/// folder.
pub fn counting_tokenizer_path(
    grid: &Grid,
    infos: &BTreeMap<String, ModelInfo>,
    models_dir: &Path,
) -> PathBuf {
    // The first retriever's model: a reranker never decides how context is counted.
    let first =
        (grid.points.iter().find_map(|p| p.model())).and_then(|m| infos.get(m)?.tokenizer.clone());
    grid.retrieval
        .tokenizer
        .clone()
        .or(first)
        .unwrap_or_else(|| models_dir.join("all-minilm-l6-v2").join("tokenizer.json"))
}

/// Load and check everything `grid` needs (every user mistake surfaces here, before any
/// work), and plan it. `tokenizer` overrides the counting tokenizer (serving uses the
/// one its sweep used); `texts` reads PDF, HTML and Word documents.
pub fn prepare(
    grid: &Grid,
    models: &dyn Models,
    models_dir: &Path,
    tokenizer: Option<&Path>,
    texts: &dyn ragtune_corpus::Extract,
) -> Result<Prepared> {
    // The models' limits first: a window past a model's positions is refused before any
    // document is read or extracted.
    let infos: BTreeMap<String, ModelInfo> = grid
        .models()
        .into_iter()
        .map(|m| Ok((m.clone(), models.info(&m)?)))
        .collect::<Result<_>>()?;
    check_model_kinds(grid, &infos)?;
    let mut warnings = check_model_limits(grid, &infos)?;
    let loaded = ragtune_corpus::load_with(&grid.corpus, texts).map_err(|source| {
        SweepError::GridCorpus {
            grid: grid.path.clone(),
            source,
        }
    })?;
    let corpus = loaded.corpus;
    warnings.extend(label_warnings(&corpus));
    let tokenizer_path = tokenizer.map_or_else(
        || counting_tokenizer_path(grid, &infos, models_dir),
        Path::to_path_buf,
    );
    let (tokenizer, bytes) = load_counting_tokenizer(&tokenizer_path)?;
    let tokenizer = std::sync::Arc::new(tokenizer);
    let (sizer, sizer_id) = match &grid.retrieval.chunk_tokenizer {
        Some(name) => (Sizer::load(name)?, Some(sizer_identity(name)?)),
        None => (Sizer::Hf(tokenizer.clone()), None),
    };
    for spec in grid.chunk_specs() {
        ragtune_chunk::validate(&spec, Some(&sizer))?;
    }
    let mut inputs = plan_inputs(&corpus, &bytes, &infos);
    inputs.chunk_sizer = sizer_id;
    let plan = Plan::build(grid, inputs);
    Ok(Prepared {
        corpus,
        infos,
        tokenizer,
        tokenizer_path: tokenizer_path.canonicalize().unwrap_or(tokenizer_path),
        sizer,
        plan,
        skipped: loaded.skipped,
        labels: loaded.labels,
        warnings,
    })
}

/// Answers placed so loosely that the numbers mislead: labels found in several documents
/// (they make no document relevant, so document metrics skip their questions), and
/// labels found at very many places (any one of them counts as found).
fn label_warnings(corpus: &Corpus) -> Vec<String> {
    const MANY: usize = 20;
    let no_doc = corpus
        .questions
        .iter()
        .filter(|q| q.has_spans() && q.relevant_docs.is_empty())
        .count();
    let loose = corpus
        .questions
        .iter()
        .flat_map(|q| &q.alternatives)
        .filter(|a| a.len() > MANY)
        .count();
    let mut out = Vec::new();
    if no_doc > 0 {
        out.push(format!(
            "{no_doc} of {} questions have answers found in several documents and no document label: document metrics (recall, precision, mrr, ndcg, hit_rate) leave them out; a `source` per answer counts them",
            corpus.questions.len()
        ));
    }
    if loose > 0 {
        out.push(format!(
            "{loose} answer labels occur at more than {MANY} places, any one of which counts as found: their span metrics are generous; a `source` or a longer quote narrows them (`ragtune labels check` lists them)"
        ));
    }
    out
}

/// What the models' declared limits say of the grid, before any model is loaded: a
/// late-chunking window past a model's position slots is refused (ONNX Runtime would fail
/// mid-run); token chunks longer than a model reads are warned about, with the share of
/// each chunk its vector sees.
/// Retrievers and `embed:` rerankers need embedding models, `cross:` rerankers need
/// cross-encoders (model.toml's `kind`).
fn check_model_kinds(grid: &Grid, infos: &BTreeMap<String, ModelInfo>) -> Result<()> {
    use crate::models::ModelKind;
    let kind = |m: &str| infos.get(m).map_or(ModelKind::Embedding, |i| i.record.kind);
    for p in &grid.points {
        if let Some(m) = p.model()
            && kind(m) == ModelKind::CrossEncoder
        {
            return Err(grid.value_error("model", format!("`{m}` is a cross-encoder: it scores (query, text) pairs and cannot retrieve; rerank with it instead: rerank = [\"cross:{m}\"]")).into());
        }
        let Some(r) = &p.rerank else { continue };
        let m = r.by.model();
        let message = match (&r.by, kind(m)) {
            (ragtune_core::Reranker::Embed(_), ModelKind::CrossEncoder) => format!(
                "embed:{m}: `{m}` is a cross-encoder (its model.toml says kind = \"cross-encoder\"); rerank with it as cross:{m}"
            ),
            (ragtune_core::Reranker::Cross(_), ModelKind::Embedding) => format!(
                "cross:{m}: `{m}` is not a cross-encoder (its model.toml has no kind = \"cross-encoder\"); rerank by its embeddings as embed:{m}"
            ),
            _ => continue,
        };
        return Err(grid.value_error("rerank", message).into());
    }
    Ok(())
}

fn check_model_limits(grid: &Grid, infos: &BTreeMap<String, ModelInfo>) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for p in &grid.points {
        let Some(v) = p.retriever.vector() else {
            continue;
        };
        let Some(info) = infos.get(&v.model) else {
            continue;
        };
        let r = &info.record;
        if let (ragtune_core::Embedding::Late { window, .. }, Some(slots)) =
            (v.embedding, r.max_positions)
            && window > slots
        {
            return Err(grid
                .value_error(
                    "late_window",
                    format!(
                        "a late-chunking window of {window} tokens is more than model {:?} takes ({slots} positions, max_positions in {}); use at most {slots}",
                        v.model,
                        r.dir.join("model.toml").display()
                    ),
                )
                .into());
        }
        let tokens = p.chunk.kind.needs_tokenizer();
        // max_tokens includes the two special tokens a text is wrapped in.
        let reads = r.max_tokens.saturating_sub(2);
        if tokens && v.embedding == ragtune_core::Embedding::Standalone && p.chunk.size > reads {
            let w = format!(
                "chunk_size {} (tokens) is more than model {:?} reads ({reads} tokens of text): each vector sees about the first {:.0}% of its chunk",
                p.chunk.size,
                v.model,
                100.0 * reads as f64 / p.chunk.size as f64
            );
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    Ok(warnings)
}

/// What identifies a chunk sizer in keys: an encoding's name, or a tokenizer file's sha256.
fn sizer_identity(name: &str) -> Result<String> {
    if ragtune_chunk::ENCODINGS.contains(&name) {
        return Ok(name.to_string());
    }
    let path = Path::new(name);
    let bytes = std::fs::read(path).map_err(|e| SweepError::io(path, e))?;
    Ok(ragtune_core::sha256_hex(&bytes))
}

/// The fingerprints a plan's keys are made of.
pub fn plan_inputs(
    corpus: &Corpus,
    tokenizer_bytes: &[u8],
    infos: &BTreeMap<String, ModelInfo>,
) -> PlanInputs {
    PlanInputs {
        docs: corpus.docs_fingerprint(),
        questions: corpus.questions_fingerprint(),
        corpus: corpus.fingerprint(),
        tokenizer: ragtune_core::sha256_hex(tokenizer_bytes),
        chunk_sizer: None,
        screen: None,
        models: infos
            .iter()
            .map(|(name, i)| (name.clone(), i.namespace.clone()))
            .collect(),
    }
}

/// Load the counting tokenizer with a clear error.
pub fn load_counting_tokenizer(path: &std::path::Path) -> Result<(Tokenizer, Vec<u8>)> {
    if !path.is_file() {
        return Err(SweepError::Run {
            path: path.to_path_buf(),
            message: "tokenizer not found: context_tokens and `tokens` chunkers need a tokenizer.json; run models/fetch.sh or set [retrieval] tokenizer".into(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| SweepError::io(path, e))?;
    Ok((load_plain_tokenizer(path)?, bytes))
}
