//! `ragtune report --run DIR [--out FILE]`: one self-contained HTML page for a run.

use std::sync::atomic::Ordering;

use anyhow::Context;
use ragtune_results::{ReportInput, StatsCache, StatsCounts, TableContext};
use ragtune_store::StageStore;
use ragtune_sweep::Manifest;

use super::loop_stats::Run;
use crate::cli::ReportArgs;

/// `[select]`'s holdout and limits, read back from the grid text the run recorded.
fn select_settings(manifest: &Manifest) -> (Option<f64>, ragtune_eval::Limits) {
    let grid: toml::Table = toml::from_str(&manifest.grid_text).unwrap_or_default();
    let select = grid.get("select").and_then(|s| s.as_table());
    let number = |key: &str| {
        let v = select?.get(key)?;
        v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
    };
    let bytes = select
        .and_then(|s| s.get("max_index_bytes"))
        .and_then(|v| v.as_integer())
        .and_then(|i| u64::try_from(i).ok());
    let limits = ragtune_eval::Limits {
        max_context_tokens: number("max_context_tokens"),
        max_p99_ms: number("max_p99_ms"),
        max_index_bytes: bytes,
    };
    (number("holdout"), limits)
}

/// The run's facts, in the order the page lists them.
fn facts(m: &Manifest) -> Vec<(String, String)> {
    let models: Vec<String> = m
        .models
        .iter()
        .map(|r| {
            format!(
                "{} (sha256 {}…)",
                r.name,
                &r.sha256[..r.sha256.len().min(12)]
            )
        })
        .collect();
    let stages: Vec<String> = m
        .stage_seconds
        .iter()
        .map(|(s, t)| format!("{s} {t:.2} s"))
        .collect();
    let threads = format!(
        "{} threads in {} ONNX Runtime sessions",
        m.threads, m.sessions
    );
    let device = match &m.execution_provider {
        Some(ep) => format!("{} ({ep}), {threads}", m.device),
        None => format!("{}, {threads}", m.device),
    };
    [
        (
            "corpus",
            format!("{:?} at {}", m.corpus.format, m.corpus.path.display()),
        ),
        ("corpus fingerprint", m.corpus_fingerprint.clone()),
        (
            "documents, questions",
            format!("{}, {}", m.n_documents, m.n_questions),
        ),
        ("setups scored", m.n_points.to_string()),
        ("objective", m.objective.clone()),
        (
            "best setup",
            m.best_config_id.clone().unwrap_or_else(|| "none".into()),
        ),
        (
            "models",
            if models.is_empty() {
                "none".into()
            } else {
                models.join(", ")
            },
        ),
        ("device", device),
        (
            "embedding cache",
            format!(
                "{} hits, {} misses (texts embedded)",
                m.cache_hits, m.cache_misses
            ),
        ),
        ("stage times", stages.join(", ")),
        (
            "started, finished",
            format!(
                "{}, {}",
                m.started_at,
                m.finished_at.as_deref().unwrap_or("-")
            ),
        ),
        (
            "ragtune",
            format!("{} at commit {}", m.ragtune_version, m.git_commit),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A search's rungs or stages, for the report.
fn steps(m: &ragtune_sweep::Manifest) -> Vec<ragtune_results::StepBar> {
    let Some(s) = &m.search else {
        return vec![];
    };
    s.steps
        .iter()
        .map(|st| ragtune_results::StepBar {
            label: st.label(s.strategy),
            setups: st.setups,
            kept: st.kept.len(),
            data: st.data(),
        })
        .collect()
}

/// judged@k of the best setup, for pooled labels (with complete labels it is 1, and the
/// report says nothing of it).
fn judged_fact(
    run: &Run,
    records: &[ragtune_sweep::PointRecord],
    objective: ragtune_eval::Objective,
) -> Option<(String, String)> {
    let best = run.manifest.best_config_id.as_deref()?;
    let rec = records.iter().find(|r| r.config_id == best)?;
    let row = ragtune_eval::judged_row(rec, objective.k)?;
    let j = row
        .metrics
        .get(ragtune_eval::Metric::Judged)
        .filter(|&j| j < 1.0)?;
    Some((
        format!("judged@{} (best setup)", objective.k),
        format!("{j:.3}: pooled labels; unjudged chunks count as misses"),
    ))
}

/// How many missed questions the report lists.
const MISSED_SHOWN: usize = 10;

/// The questions the best setup misses at the objective's k (its objective is 0), with
/// where their answers lie. Empty when the corpus cannot be read any more.
fn missed(
    run: &Run,
    records: &[ragtune_sweep::PointRecord],
    objective: ragtune_eval::Objective,
) -> (Vec<ragtune_results::Missed>, usize) {
    let best = run.manifest.best_config_id.as_deref();
    let Some(rec) = records.iter().find(|r| Some(r.config_id.as_str()) == best) else {
        return (Vec::new(), 0);
    };
    let ids: Vec<&str> = rec
        .questions
        .iter()
        .filter(|q| q.top_k as usize == objective.k)
        .filter(|q| q.metrics.get(objective.metric) == Some(0.0))
        .map(|q| q.question_id.as_str())
        .collect();
    let Ok(corpus) = run.manifest.load_corpus(&super::run_texts(&run.dir)) else {
        return (Vec::new(), ids.len());
    };
    let shown = ids
        .iter()
        .take(MISSED_SHOWN)
        .filter_map(|id| corpus.questions.iter().find(|q| q.id == *id))
        .map(|q| ragtune_results::Missed {
            id: q.id.clone(),
            text: q.text.clone(),
            gold: gold_places(&corpus, q),
        })
        .collect();
    (shown, ids.len())
}

/// "file, p. N" for each of a question's spans (the first place of a label found at
/// several), and the file of each document label.
fn gold_places(corpus: &ragtune_core::Corpus, q: &ragtune_core::Question) -> Vec<String> {
    let place = |s: &ragtune_core::Span| {
        let d = &corpus.docs[s.doc as usize];
        match d.page_range(s.start, s.end) {
            Some(p) => format!("{}, {}", d.id, ragtune_core::format_pages(p)),
            None => d.id.clone(),
        }
    };
    let mut out: Vec<String> = q.spans.iter().map(place).collect();
    for alts in &q.alternatives {
        out.push(format!(
            "{} (or {} other places)",
            place(&alts[0]),
            alts.len() - 1
        ));
    }
    // Documents labelled as a whole: those no span lies in.
    for &d in &q.relevant_docs {
        if !q.all_spans().any(|s| s.doc == d) {
            out.push(corpus.docs[d as usize].id.clone());
        }
    }
    out.dedup();
    out
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let out = args.out.unwrap_or_else(|| args.run.join("report.html"));
    let counts = write(&args.run, &out)?;
    eprintln!(
        "ragtune: wrote {}; intervals computed/reused {}/{}",
        out.display(),
        counts.computed.load(Ordering::Relaxed),
        counts.reused.load(Ordering::Relaxed)
    );
    Ok(())
}

/// The stage store the run was swept with, where it still is (a relative path is the
/// sweep's, read from here): its rows' intervals and paired differences are kept there,
/// under keys made of the per-question values, so the report reads them rather than
/// resampling again. Without it they are computed, with the same results.
fn sweep_store(manifest: &Manifest) -> Option<StageStore> {
    let dir = manifest.embedding_cache.as_ref().filter(|d| d.is_dir())?;
    StageStore::open(dir).ok()
}

/// Write the report of the run folder `dir` to `out`; returns how many row statistics
/// were computed and how many read back from the sweep's store.
pub fn write(dir: &std::path::Path, out: &std::path::Path) -> anyhow::Result<StatsCounts> {
    let run = Run::open(dir)?;
    let objective = run.objective()?;
    let records = run.points()?;
    let (holdout, limits) = select_settings(&run.manifest);
    let store = sweep_store(&run.manifest);
    let cache = store.as_ref().map(ragtune_sweep::StoreStats::reading);
    let counts = StatsCounts::default();
    let stats = ragtune_results::row_stats_cached(
        &records,
        &TableContext {
            objective,
            holdout,
            best: run.manifest.best_config_id.as_deref(),
        },
        cache.as_ref().map(|c| c as &dyn StatsCache),
        &counts,
    );
    let (missed, missed_total) = missed(&run, &records, objective);
    let mut facts = facts(&run.manifest);
    facts.extend(judged_fact(&run, &records, objective));
    let html = ragtune_results::render_report(&ReportInput {
        title: &run.manifest.grid_name,
        objective,
        limits,
        records: &records,
        stats: &stats,
        facts,
        steps: steps(&run.manifest),
        missed,
        missed_total,
    });
    ragtune_core::write_atomic(out, html.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(counts)
}
