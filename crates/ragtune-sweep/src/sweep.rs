//! A sweep from start to end: load and check the inputs, plan, execute, record.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ragtune_chunk::Sizer;
use ragtune_core::Corpus;
use ragtune_embed::{BatchSize, Device, EmbedOptions};
use ragtune_eval::PointRecord;
use tokenizers::Tokenizer;

use crate::error::{Result, SweepError};
use crate::exec::{Executor, Reporter, load_counting_tokenizer, plan_inputs, stage_records};
use crate::grid::Grid;
use crate::models::{ModelInfo, Models};
use crate::plan::Plan;
use crate::record::{Manifest, RunDir};
use crate::search::{Budget, Runner, SearchRecord, Strategy, halving, staged};
use crate::store::StageStore;

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
        self.cache_dir.as_deref().map(StageStore::open).transpose()
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
}

/// The tokenizer that sizes `tokens` chunks and counts context tokens: `[retrieval]
/// tokenizer`, else the first model's, else all-minilm-l6-v2's in the models folder.
pub fn counting_tokenizer_path(
    grid: &Grid,
    infos: &BTreeMap<String, ModelInfo>,
    models_dir: &Path,
) -> PathBuf {
    let first = grid
        .models()
        .first()
        .and_then(|m| infos.get(m)?.tokenizer.clone());
    grid.retrieval
        .tokenizer
        .clone()
        .or(first)
        .unwrap_or_else(|| models_dir.join("all-minilm-l6-v2").join("tokenizer.json"))
}

/// Load and check everything `grid` needs (every user mistake surfaces here, before any
/// work), and plan it. `tokenizer` overrides the counting tokenizer (serving uses the
/// one its sweep used).
pub fn prepare(
    grid: &Grid,
    models: &dyn Models,
    models_dir: &Path,
    tokenizer: Option<&Path>,
) -> Result<Prepared> {
    let corpus = ragtune_corpus::load(&grid.corpus).map_err(|source| SweepError::GridCorpus {
        grid: grid.path.clone(),
        source,
    })?;
    let infos: BTreeMap<String, ModelInfo> = grid
        .models()
        .into_iter()
        .map(|m| Ok((m.clone(), models.info(&m)?)))
        .collect::<Result<_>>()?;
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
    })
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

pub(crate) fn new_manifest(grid: &Grid, opts: &SweepOptions) -> Manifest {
    Manifest {
        status: "running".into(),
        ragtune_version: opts.version.clone(),
        git_commit: opts.git_commit.clone(),
        grid_path: grid.path.clone(),
        grid_name: grid.name.clone(),
        grid_text: grid.text.clone(),
        corpus: grid.corpus.clone(),
        corpus_fingerprint: String::new(),
        n_documents: 0,
        n_questions: 0,
        n_points: grid.points.len(),
        started_at: chrono::Utc::now().to_rfc3339(),
        finished_at: None,
        threads: opts.threads,
        sessions: opts.sessions,
        device: format!("{:?}", opts.device).to_lowercase(),
        execution_provider: None,
        models: vec![],
        embedding_cache: opts.cache_dir.clone(),
        stages: vec![],
        corrupt_entries: 0,
        warnings: vec![],
        cache_hits: 0,
        cache_misses: 0,
        truncated: 0,
        embeddings: vec![],
        objective: grid.select.objective.clone(),
        best_config_id: None,
        stage_seconds: vec![],
        error: None,
        resumed_points: 0,
        tokenizer: None,
        search: None,
        shards: vec![],
    }
}

/// Run the grid into `run`. On failure the manifest records the error.
///
/// With `resume`, `run` holds an earlier sweep, interrupted or finished, of this grid or
/// of another: its points that the grid still has are kept, points the grid no longer has
/// are removed, and the rest is computed — from the stage store wherever it holds a
/// node. A changed corpus is refused.
pub fn run_sweep(
    grid: &Grid,
    run: &RunDir,
    opts: &SweepOptions,
    models: &dyn Models,
    rep: &dyn Reporter,
    resume: bool,
) -> Result<(Vec<PointRecord>, Manifest)> {
    let previous = resume.then(|| run.read_manifest()).transpose()?;
    let mut manifest = new_manifest(grid, opts);
    if let Some(p) = &previous {
        manifest.started_at = p.started_at.clone();
    }
    run.write_manifest(&manifest)?;
    let previous = previous.map(|p| Previous {
        depth: Grid::parse(&p.grid_path, p.grid_text.clone())
            .ok()
            .map(|g| g.depth),
        fingerprint: p.corpus_fingerprint,
    });
    match sweep_inner(grid, run, opts, models, rep, &mut manifest, previous) {
        Ok(records) => {
            // A spent budget ends the run cleanly, with everything scored so far.
            let spent = manifest.search.as_ref().is_some_and(|s| s.budget_reached);
            manifest.status = if spent { "budget reached" } else { "complete" }.into();
            manifest.finished_at = Some(chrono::Utc::now().to_rfc3339());
            run.write_manifest(&manifest)?;
            Ok((records, manifest))
        }
        Err(e) => {
            manifest.status = "failed".into();
            manifest.error = Some(e.to_string());
            manifest.finished_at = Some(chrono::Utc::now().to_rfc3339());
            let _ = run.write_manifest(&manifest);
            Err(e)
        }
    }
}

/// The run folder's points that `grid` still has, when they were scored at the same
/// depth (`reusable`) and cut-offs; points of setups the grid no longer has are removed.
/// Only points that can be kept are read.
fn kept_points(grid: &Grid, run: &RunDir, reusable: bool) -> Result<HashMap<String, PointRecord>> {
    let wanted: std::collections::HashSet<String> =
        grid.points.iter().map(|p| p.config_id()).collect();
    let mut kept = HashMap::new();
    for id in run.config_ids()? {
        if !wanted.contains(&id) {
            run.remove_point(&id)?;
        } else if reusable && let Some(p) = reusable_point(run, &id, grid)? {
            kept.insert(id, p);
        }
    }
    Ok(kept)
}

/// Point `id` of the run folder, when it was scored at the grid's cut-offs (a run at other
/// cut-offs is rescored, not kept).
pub(crate) fn reusable_point(run: &RunDir, id: &str, grid: &Grid) -> Result<Option<PointRecord>> {
    let p = crate::engine::read_point(run, id)?;
    let ks: Vec<usize> = p.rows.iter().map(|r| r.top_k as usize).collect();
    Ok((ks == grid.top_k).then_some(p))
}

fn sweep_inner(
    grid: &Grid,
    run: &RunDir,
    opts: &SweepOptions,
    models: &dyn Models,
    rep: &dyn Reporter,
    manifest: &mut Manifest,
    previous: Option<Previous>,
) -> Result<Vec<PointRecord>> {
    let t = Instant::now();
    let prep = prepare(grid, models, &opts.models_dir, None)?;
    describe_inputs(manifest, &prep);
    if let Some(p) = &previous
        && !p.fingerprint.is_empty()
        && p.fingerprint != manifest.corpus_fingerprint
    {
        return Err(SweepError::Run {
            path: grid.corpus.path.clone(),
            message: "cannot resume: the corpus changed since this run started".into(),
        });
    }
    // Points are kept only from a sweep at the same depth (ranks beyond it differ).
    let same_depth = previous
        .as_ref()
        .is_some_and(|p| p.depth == Some(grid.depth));
    let done = kept_points(grid, run, same_depth)?;
    manifest.resumed_points = done.len();
    let store = opts.store()?;
    run.write_manifest(manifest)?;
    manifest
        .stage_seconds
        .push(("load".into(), t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let result = execute(
        grid,
        &prep,
        store.as_ref(),
        models,
        rep,
        manifest,
        &done,
        run,
    );
    if let Some(s) = &store {
        s.save_counts()?;
    }
    manifest
        .stage_seconds
        .push(("execute".into(), t.elapsed().as_secs_f64()));
    result
}

/// Record what the sweep ran on: the corpus, its size, the tokenizer and the models.
pub(crate) fn describe_inputs(m: &mut Manifest, prep: &Prepared) {
    m.corpus_fingerprint = prep.corpus.fingerprint();
    m.n_documents = prep.corpus.docs.len();
    m.n_questions = prep.corpus.questions.len();
    m.tokenizer = Some(prep.tokenizer_path.clone());
    m.models = prep.infos.values().map(|i| i.record.clone()).collect();
}

/// Score the grid, whole or through its `[search]` strategy, under its budget.
#[allow(clippy::too_many_arguments)]
fn execute(
    grid: &Grid,
    prep: &Prepared,
    store: Option<&StageStore>,
    models: &dyn Models,
    rep: &dyn Reporter,
    manifest: &mut Manifest,
    done: &HashMap<String, PointRecord>,
    run: &RunDir,
) -> Result<Vec<PointRecord>> {
    let spec = grid.search.as_ref();
    let budget = Budget::new(
        spec.and_then(|s| s.max_seconds),
        spec.and_then(|s| s.max_embedded_tokens),
    );
    match spec.filter(|s| s.strategy != Strategy::Full) {
        None => {
            let ex = Executor::new(grid, prep, store, models, rep).with_budget(budget.clone());
            let result = ex.execute(done, run);
            record_execution(manifest, &ex, store, models);
            if ex.was_stopped() {
                manifest.search = Some(SearchRecord {
                    strategy: "full".into(),
                    budget_reached: true,
                    embedded_tokens: budget.tokens(),
                    ..SearchRecord::default()
                });
            }
            result
        }
        Some(spec) => {
            let runner = Runner::new(grid, prep, store, models, rep, budget);
            let result = match spec.strategy {
                Strategy::Staged => staged(&runner, spec, run, done),
                _ => halving(&runner, spec, run, done),
            };
            record_search(manifest, &runner, models);
            result.map(|(records, search)| {
                manifest.search = Some(search);
                rep.finish();
                records
            })
        }
    }
}

/// What a resumed sweep keeps from the one before.
struct Previous {
    fingerprint: String,
    depth: Option<usize>,
}

pub(crate) fn record_execution(
    m: &mut Manifest,
    ex: &Executor,
    store: Option<&StageStore>,
    models: &dyn Models,
) {
    let tally = ex.tally.lock().unwrap_or_else(|p| p.into_inner());
    m.stages = stage_records(ex.plan, &tally);
    m.embeddings = ex.embeds.lock().unwrap_or_else(|p| p.into_inner()).clone();
    m.warnings = ex
        .warnings
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    embedding_totals(m, ex.infos, store, models);
}

/// The manifest's accounting for a search: every execution's, summed.
fn record_search(m: &mut Manifest, runner: &Runner, models: &dyn Models) {
    let a = runner.acct.lock().unwrap_or_else(|p| p.into_inner());
    m.stages = a.stages.values().cloned().collect();
    m.embeddings = a.embeds.clone();
    m.warnings = a.warnings.clone();
    embedding_totals(m, &runner.prep.infos, runner.store, models);
}

fn embedding_totals(
    m: &mut Manifest,
    infos: &BTreeMap<String, ModelInfo>,
    store: Option<&StageStore>,
    models: &dyn Models,
) {
    m.cache_hits = m.embeddings.iter().map(|e| e.cache_hits).sum();
    m.cache_misses = m.embeddings.iter().map(|e| e.cache_misses).sum();
    m.truncated = m.embeddings.iter().map(|e| e.truncated).sum();
    m.corrupt_entries = store.map_or(0, |s| s.counts().values().map(|c| c.corrupt).sum());
    // The provider of a model this run loaded (none is loaded when all was stored).
    m.execution_provider = m
        .embeddings
        .first()
        .and_then(|e| {
            let name = infos.iter().find(|(_, i)| i.record.name == e.model)?.0;
            models.load(name).ok()
        })
        .map(|e| e.provider().to_string());
}
