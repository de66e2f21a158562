//! What every sweep ends with, in one process or as a merge of shards: the tables,
//! best.toml, the completed manifest and the printed table.

use std::io::Write;

use anyhow::Context;
use ragtune_eval::Metric;
use ragtune_grid::Grid;
use ragtune_results::stats_of;
use ragtune_sweep::RunDir;

/// Write a finished sweep's tables and best.toml, complete its manifest, and print its
/// table: what a sweep in one process and a merge of shards both end with.
pub fn write_outputs(
    run: &RunDir,
    records: Vec<ragtune_sweep::PointRecord>,
    mut manifest: ragtune_sweep::Manifest,
    grid: &Grid,
    show: usize,
    store: Option<&ragtune_store::StageStore>,
) -> anyhow::Result<()> {
    let out = run.path();
    super::plan::print_stage_counts(&manifest.stages);
    if manifest.resumed_points > 0 {
        eprintln!(
            "ragtune: resumed: kept {} stored points",
            manifest.resumed_points
        );
    }
    let counts = ragtune_results::StatsCounts::default();
    let cache = store.map(ragtune_sweep::StoreStats::new);
    let cache = cache
        .as_ref()
        .map(|c| c as &dyn ragtune_results::StatsCache);
    let (records, n_full, best, stats) = judge(records, grid, cache, &counts);
    let rankings_only = !records
        .iter()
        .flat_map(|r| &r.rows)
        .any(|row| row.metrics.get(grid.objective.metric).is_some());
    let full = &records[..n_full];
    ragtune_results::write_tables(&records, &stats, run.path())
        .context("writing results tables")?;
    crate::failpoint::hit("after-tables");
    // The search's verdict keeps its differences too; the counts printed are the rows'.
    let verdict_counts = ragtune_results::StatsCounts::default();
    let verdict_stats = ragtune_sweep::search::KeptStats {
        cache,
        counts: &verdict_counts,
    };
    write_best(
        run,
        best.as_ref(),
        &mut manifest,
        (grid, verdict_stats),
        rankings_only,
    )?;
    warn_unjudged(&records, best.as_ref(), grid);
    finish_run(run, &mut manifest, best.is_some(), rankings_only)?;
    print_table(full, &stats, grid, show)?;
    super::search::print_summary(&manifest, &records)?;
    eprintln!(
        "ragtune: wrote {}/results.parquet ({}), per_question.parquet, manifest.json{}; embedding cache {} hits, {} misses (texts embedded); intervals computed/reused {}/{}",
        out.display(),
        crate::count_of(records.iter().map(|r| r.rows.len()).sum::<usize>(), "row"),
        if best.is_some() { ", best.toml" } else { "" },
        manifest.cache_hits,
        manifest.cache_misses,
        counts.computed.load(std::sync::atomic::Ordering::Relaxed),
        counts.reused.load(std::sync::atomic::Ordering::Relaxed),
    );
    Ok(())
}

/// Write best.toml for `best`, or say why there is none (and remove a stale one).
fn write_best(
    run: &RunDir,
    best: Option<&ragtune_eval::BestSetup>,
    manifest: &mut ragtune_sweep::Manifest,
    (grid, stats): (&Grid, ragtune_sweep::search::KeptStats),
    rankings_only: bool,
) -> anyhow::Result<()> {
    let out = run.path();
    match best {
        Some(b) => {
            let mut b = b.clone();
            b.search = super::search::verdict(manifest, run.path(), &b, grid, stats)?;
            let text = format!(
                "# The best setup of this run under [select]; `ragtune serve --run {}` loads it.\n{}{}",
                out.display(),
                if b.search.is_some() {
                    "# [search]: how the search reached it; for halving, the winner minus each setup\n# eliminated in the last two screened rungs, on that rung's questions (95% interval).\n"
                } else {
                    ""
                },
                toml::to_string_pretty(&b).context("serialising best.toml")?
            );
            run.write_atomic("best.toml", text.as_bytes())?;
            crate::failpoint::hit("after-best");
            manifest.best_config_id = Some(b.config_id.clone());
        }
        None => {
            // A best.toml left by an earlier pass of this run would be served otherwise.
            let stale = out.join("best.toml");
            if stale.exists() {
                std::fs::remove_file(&stale)
                    .with_context(|| format!("removing {}", stale.display()))?;
            }
            if rankings_only {
                eprintln!(
                    "ragtune: rankings only: no question has labels for {}, so nothing was scored and no best.toml written; every setup's rankings are in {}/rankings. Judge them in the browser with `ragtune judge {1}`, or add `answer`, `source`, `doc_ids` or `spans` to the questions file, and sweep again",
                    grid.objective,
                    out.display()
                );
            } else {
                eprintln!(
                    "ragtune: no setup is within [select]'s limits at k = {} ({}); no best.toml written",
                    grid.objective.k,
                    limits_text(grid)
                );
            }
        }
    }
    Ok(())
}

/// Record the run's files (the tables, best.toml when `best`, every point and ranking) in
/// `manifest`, then write it finished. The status is written last: only with every table
/// and best.toml durably in place (each written, synced and renamed) does the manifest
/// say the run is finished.
fn finish_run(
    run: &RunDir,
    manifest: &mut ragtune_sweep::Manifest,
    best: bool,
    rankings_only: bool,
) -> anyhow::Result<()> {
    // Every point and ranking too: each is checked against this when it is read.
    let mut files: Vec<String> = ["results.parquet", "per_question.parquet"]
        .map(String::from)
        .to_vec();
    files.extend(best.then(|| "best.toml".to_string()));
    for id in run.config_ids()? {
        files.push(format!("points/{id}.json"));
        let rankings = format!("rankings/{id}.json");
        if run.path().join(&rankings).is_file() {
            files.push(rankings);
        }
    }
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    run.record_files(manifest, &names)?;
    crate::failpoint::hit("before-finish");
    manifest.finish();
    if rankings_only {
        manifest.status = ragtune_sweep::RunStatus::RankingsOnly;
    }
    run.write_manifest(manifest)?;
    Ok(())
}

/// The records with those on all the data first (`n_full` of them), the best of those
/// under `[select]`, and every row's statistics. Only setups scored on all the data
/// compete; a search's screened setups are written too, marked, with intervals but no
/// comparison with the best. The records are moved, not copied: per-question rows make
/// them large.
fn judge(
    records: Vec<ragtune_sweep::PointRecord>,
    grid: &Grid,
    cache: Option<&dyn ragtune_results::StatsCache>,
    counts: &ragtune_results::StatsCounts,
) -> (
    Vec<ragtune_sweep::PointRecord>,
    usize,
    Option<ragtune_eval::BestSetup>,
    ragtune_results::Stats,
) {
    let (mut records, screened): (Vec<_>, Vec<_>) =
        records.into_iter().partition(|r| r.on_all_data());
    let n_full = records.len();
    records.extend(screened);
    let (full, screened) = records.split_at(n_full);
    let best = ragtune_results::select_best(full, grid.objective, &grid.select.limits());
    let ctx = |best| ragtune_results::TableContext {
        objective: grid.objective,
        holdout: grid.select.holdout,
        best,
    };
    let best_id = best.as_ref().map(|b| b.config_id.as_str());
    let mut stats = ragtune_results::row_stats_cached(full, &ctx(best_id), cache, counts);
    stats.extend(ragtune_results::row_stats_cached(
        screened,
        &ctx(None),
        cache,
        counts,
    ));
    (records, n_full, best, stats)
}

/// Whether any row saw an unjudged chunk: the labels are pooled, not complete.
fn pooled(records: &[ragtune_sweep::PointRecord]) -> bool {
    records
        .iter()
        .flat_map(|r| &r.rows)
        .any(|row| row.metrics.get(Metric::Judged).is_some_and(|j| j < 1.0))
}

/// With pooled labels, when less than 80% of the best setup's top-k chunks were judged:
/// its other metrics count the unjudged ones as misses.
fn warn_unjudged(
    records: &[ragtune_sweep::PointRecord],
    best: Option<&ragtune_eval::BestSetup>,
    grid: &Grid,
) {
    const ENOUGH: f64 = 0.8;
    let k = grid.objective.k;
    let Some(rec) = best.and_then(|b| records.iter().find(|r| r.config_id == b.config_id)) else {
        return;
    };
    let judged = ragtune_eval::judged_row(rec, k).and_then(|row| row.metrics.get(Metric::Judged));
    if let Some(j) = judged
        && j < ENOUGH
    {
        eprintln!(
            "ragtune: warning: only {:.0}% of the best setup's top {k} chunks were judged (judged@{k} {j:.3}); unjudged chunks count as misses, so every metric here is a lower bound: judge the pooled results and sweep again",
            100.0 * j
        );
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

/// A setup's label, with the grid setups it stands for (identical chunk sets).
fn label_with_equivalents(rec: &ragtune_sweep::PointRecord) -> String {
    if rec.equivalent.is_empty() {
        rec.label.clone()
    } else {
        format!("{} (= {})", rec.label, rec.equivalent.join("; "))
    }
}

/// The objective's 95% interval and the paired difference from the best, as printed:
/// `[0.801, 0.862]  -0.012 ≈` (≈: not significantly worse than the best).
fn interval_cells(s: Option<&ragtune_results::RowStats>, metric: Metric) -> (String, String) {
    let ci = s
        .and_then(|s| s.interval(metric))
        .map_or("-".into(), |(lo, hi)| format!("[{lo:.3}, {hi:.3}]"));
    let near = s.and_then(|s| s.near_best());
    let diff = s.and_then(|s| s.vs_best).map_or("-".into(), |d| {
        let near = if near == Some(true) { "≈" } else { " " };
        format!("{:+.3} {near}", d.mean)
    });
    (ci, diff)
}

fn print_header(
    out: &mut impl Write,
    shown: &[Metric],
    objective: ragtune_eval::Objective,
    held: bool,
) -> anyhow::Result<()> {
    let k = objective.k;
    let mut heads: Vec<String> = shown
        .iter()
        .map(|m| format!("{:>11}", format!("{}@{k}", m.name())))
        .collect();
    if held {
        heads[0] = format!("{:>11}", "tune");
        heads.insert(1, format!("{:>11}", "held-out"));
        writeln!(
            out,
            "{objective}: chosen on the tuning questions, reported on the held-out ones too"
        )?;
    }
    heads.insert(1, format!("{:>14}  {:>8}", "95% CI", "Δ best"));
    writeln!(
        out,
        "{:>3}  {:<12}  {}  {:>7}  {:>7}  {:>7}  setup",
        "#",
        "config_id",
        heads.join("  "),
        "ctx_tok",
        "p99_ms",
        "idx_MB"
    )?;
    Ok(())
}

fn print_table(
    records: &[ragtune_sweep::PointRecord],
    stats: &ragtune_results::Stats,
    grid: &Grid,
    show: usize,
) -> anyhow::Result<()> {
    let objective = grid.objective;
    let ranked = ragtune_results::ranked(records, objective, &grid.select.limits());
    // The objective, then the table's fixed metrics (each once), at the objective's k.
    let mut shown = vec![objective.metric];
    let judged = pooled(records).then_some(Metric::Judged);
    for m in [Metric::Recall, Metric::Mrr, Metric::SpanRecall]
        .into_iter()
        .chain(judged)
    {
        if !shown.contains(&m) {
            shown.push(m);
        }
    }
    let mut out = std::io::stdout().lock();
    // With held-out questions, the objective on them follows the tuning columns.
    let held = grid.select.holdout.is_some();
    print_header(&mut out, &shown, objective, held)?;
    for (i, (rec, row, _)) in ranked.iter().take(show).enumerate() {
        let mut vals: Vec<String> = shown
            .iter()
            .map(|&m| format!("{:>11}", fmt(row.metrics.get(m))))
            .collect();
        let (ci, diff) = interval_cells(stats_of(stats, rec, row), objective.metric);
        vals.insert(1, format!("{ci:>14}  {diff:>8}"));
        if held {
            let h = ragtune_results::held_out(rec, objective);
            vals.insert(2, format!("{:>11}", fmt(h)));
        }
        writeln!(
            out,
            "{:>3}  {:<12}  {}  {:>7.0}  {:>7.2}  {:>7.2}  {}",
            i + 1,
            rec.config_id,
            vals.join("  "),
            row.context_tokens,
            row.costs.query_ms_p99,
            row.costs.index_bytes as f64 / 1e6,
            label_with_equivalents(rec)
        )?;
    }
    let near = ranked
        .iter()
        .filter(|(rec, row, _)| stats_of(stats, rec, row).and_then(|s| s.near_best()) == Some(true))
        .count();
    writeln!(
        out,
        "95% CI: bootstrap over questions; Δ best: paired difference from the best; ≈: not significantly worse ({near} of {} setups)",
        ranked.len()
    )?;
    if let Some(line) = limits_line(records, grid) {
        writeln!(out, "{line}")?;
    }
    if let (Some((best, _, hi)), Some((worst, _, lo))) = (ranked.first(), ranked.last())
        && ranked.len() > 1
    {
        writeln!(
            out,
            "spread over {} setups: {objective} from {lo:.3} ({}) to {hi:.3} ({})",
            ranked.len(),
            worst.label,
            best.label
        )?;
    }
    Ok(())
}

/// `[select]`'s set limits as the grid wrote them: `max_p99_ms = 20, …`.
fn limits_text(grid: &Grid) -> String {
    let l = grid.select.limits();
    let mut parts = Vec::new();
    if let Some(m) = l.max_context_tokens {
        parts.push(format!("max_context_tokens = {m}"));
    }
    if let Some(m) = l.max_p99_ms {
        parts.push(format!("max_p99_ms = {m}"));
    }
    if let Some(m) = l.max_index_bytes {
        parts.push(format!("max_index_bytes = {m}"));
    }
    parts.join(", ")
}

/// How many setups each set limit excluded, under the table; `None` without limits.
fn limits_line(records: &[ragtune_sweep::PointRecord], grid: &Grid) -> Option<String> {
    let limits = grid.select.limits();
    if !limits.any() {
        return None;
    }
    let objective = grid.objective;
    let total = records
        .iter()
        .filter(|r| ragtune_eval::judged_row(r, objective.k).is_some())
        .count();
    let each: Vec<String> = ragtune_results::excluded_by(records, objective, &limits)
        .into_iter()
        .map(|(l, n)| format!("{} excluded {n}", l.name()))
        .collect();
    let within = ragtune_results::ranked(records, objective, &limits).len();
    Some(format!(
        "[select] limits ({}): {}; {within} of {total} setups are within all of them",
        limits_text(grid),
        each.join(", ")
    ))
}
