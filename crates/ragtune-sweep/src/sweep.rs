//! A sweep from start to end: load and check the inputs, plan, execute, record.

use std::collections::HashMap;
use std::time::Instant;

use ragtune_eval::PointRecord;

use crate::budget::Budget;
use crate::error::{Result, SweepError};
use crate::exec::{Executor, Reporter};
use crate::models::Models;
use crate::prepare::{Prepared, SweepOptions, prepare};
use crate::record::{Manifest, Recorded, RunDir, RunStatus};
use crate::search::{Runner, SearchRecord, halving, staged};
use ragtune_grid::Grid;
use ragtune_grid::{SearchSpec, Strategy};
use ragtune_store::StageStore;

use crate::texts::{TextCounts, Texts};

pub(crate) fn new_manifest(grid: &Grid, opts: &SweepOptions) -> Manifest {
    Manifest {
        status: RunStatus::Running,
        files: Default::default(),
        ragtune_version: opts.version.clone(),
        git_commit: opts.git_commit.clone(),
        grid_path: grid.path.clone(),
        grid_name: grid.name.clone(),
        grid_text: grid.text.clone(),
        corpus: grid.corpus.clone(),
        corpus_fingerprint: String::new(),
        docs_fingerprint: None,
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
        skipped_files: vec![],
        unresolved_labels: vec![],
        texts: None,
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
        depth: Grid::parse_recorded(&p.grid_path, p.grid_text.clone())
            .ok()
            .map(|g| g.depth),
        fingerprint: p.corpus_fingerprint,
    });
    match sweep_inner(grid, run, opts, models, rep, &mut manifest, previous) {
        Ok(records) => {
            // Scored, not finished: the tables and best.toml come next, and the status
            // that says the run is finished is written after them ([`Manifest::finish`]).
            manifest.status = RunStatus::Scored;
            manifest.finished_at = Some(chrono::Utc::now().to_rfc3339());
            run.write_manifest(&manifest)?;
            Ok((records, manifest))
        }
        Err(e) => {
            manifest.status = RunStatus::Failed;
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
    let recorded = run.recorded();
    let mut kept = HashMap::new();
    for id in run.config_ids()? {
        if !wanted.contains(&id) {
            run.remove_point(&id)?;
        } else if reusable && let Some(p) = reusable_point(run, &id, grid, &recorded)? {
            kept.insert(id, p);
        }
    }
    Ok(kept)
}

/// Point `id` of the run folder, when it was scored at the grid's cut-offs (a run at other
/// cut-offs is rescored, not kept).
pub(crate) fn reusable_point(
    run: &RunDir,
    id: &str,
    grid: &Grid,
    recorded: &Recorded,
) -> Result<Option<PointRecord>> {
    let p = crate::lookup::read_point_in(run, id, recorded)?;
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
    let store = opts.store()?;
    let texts = Texts::new(&opts.models_dir, store.as_ref()).with_run(run.path(), true);
    let prep = prepare(grid, models, &opts.models_dir, None, &texts)?;
    describe_inputs(manifest, &prep);
    describe_texts(manifest, &texts);
    for w in &prep.warnings {
        rep.warn(w);
    }
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
    m.docs_fingerprint = Some((
        prep.corpus.docs_fingerprint(),
        prep.corpus.questions_fingerprint(),
    ));
    m.n_documents = prep.corpus.docs.len();
    m.n_questions = prep.corpus.questions.len();
    m.tokenizer = Some(prep.tokenizer_path.clone());
    m.models = prep.infos.values().map(|i| i.record.clone()).collect();
    m.skipped_files = prep.skipped.clone();
    m.unresolved_labels = prep
        .labels
        .iter()
        .filter(|l| l.resolution == ragtune_corpus::Resolution::NotFound)
        .map(|l| crate::record::UnresolvedLabel {
            question: l.question.clone(),
            line: l.line,
            answer: l.label.clone(),
        })
        .collect();
}

/// Record where extracted texts came from, when there were any.
pub(crate) fn describe_texts(m: &mut Manifest, texts: &Texts) {
    let c = texts.counts();
    m.texts = (c != TextCounts::default()).then_some(c);
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
    // Every strategy is named here: a new one cannot fall through to another's code.
    type Search = fn(
        &Runner,
        &SearchSpec,
        &RunDir,
        &HashMap<String, PointRecord>,
    ) -> Result<(Vec<PointRecord>, SearchRecord)>;
    let search: Option<(&SearchSpec, Search)> = spec.and_then(|s| match s.strategy {
        Strategy::Full => None,
        Strategy::Halving => Some((s, halving as Search)),
        Strategy::Staged => Some((s, staged as Search)),
    });
    match search {
        None => {
            let ex = Executor::new(grid, prep, store, models, rep).with_budget(budget.clone());
            let result = ex.execute(done, run);
            record_execution(manifest, &ex, store, models);
            if ex.was_stopped() {
                manifest.search = Some(SearchRecord {
                    strategy: Strategy::Full,
                    budget_reached: true,
                    embedded_tokens: budget.tokens(),
                    ..SearchRecord::default()
                });
            }
            result
        }
        Some((spec, search)) => {
            let runner = Runner::new(grid, prep, store, models, rep, budget);
            let result = search(&runner, spec, run, done);
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
    ex.accounting().write_into(m, ex.infos(), store, models);
}

/// The manifest's accounting for a search: every execution's, summed.
fn record_search(m: &mut Manifest, runner: &Runner, models: &dyn Models) {
    let a = runner.accounting();
    a.write_into(m, &runner.prep.infos, runner.store, models);
}
