//! `ragtune plan GRID [--json]`: what a sweep would run, before anything runs.

use std::io::Write;

use ragtune_grid::Grid;
use ragtune_grid::Strategy;
use ragtune_sweep::search::{planned_rungs, planned_stages};
use ragtune_sweep::shard::ShardPlan;
use ragtune_sweep::{KindCount, OnnxModels, StageRecord, prepare};
use serde_json::json;

use crate::cli::PlanArgs;

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let grid = Grid::load_limited(&args.grid, args.max_points)?;
    let opts = super::sweep_options(&args.engine)?;
    let models = OnnxModels::new(opts.embed_options());
    let store = opts.store()?;
    let texts = ragtune_sweep::Texts::new(&opts.models_dir, store.as_ref());
    let mut prep = prepare(&grid, &models, &opts.models_dir, None, &texts)?;
    for w in &prep.warnings {
        eprintln!("ragtune: warning: {w}");
    }
    let mut identical = Vec::new();
    if let Some(store) = &store {
        prep.plan.check_store(store);
        identical = prep.plan.identical_chunk_sets(store, &prep.corpus);
    }
    let shards = args.shards.map(|n| {
        let sp = ShardPlan::new(&prep, n);
        let exact = store.as_ref().and_then(|s| sp.exact_tokens(&prep, s));
        (sp, exact)
    });
    let counts = prep
        .plan
        .counts_collapsing(&prep.plan.collapsed_nodes(&identical));
    let collapsed: Vec<(String, usize)> = grid
        .points
        .iter()
        .zip(&grid.combinations)
        .filter(|(_, n)| **n > 1)
        .map(|(p, &n)| (p.label(), n))
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = json!({
            "grid": grid.path,
            "points": grid.points.len(),
            "combinations": grid.combinations.iter().sum::<usize>(),
            "stages": counts,
            "collapsed": collapsed.iter().map(|(l, n)| json!({"setup": l, "combinations": n})).collect::<Vec<_>>(),
            "identical_chunk_sets": identical,
            "search": search_json(&grid, &prep.corpus),
            "shards": shards.as_ref().map(|(sp, exact)| json!({"plan": sp, "imbalance": sp.imbalance(), "exact_tokens": exact})),
            "inputs": prep.plan.inputs,
            "setups": prep.plan.setups.iter().map(|s| json!({"config_id": s.config_id, "label": s.setup.label()})).collect::<Vec<_>>(),
        });
        super::print_json(&mut out, &v)?;
        return Ok(());
    }
    print_plan(&mut out, &grid, &counts, &collapsed)?;
    print_search(&mut out, &grid, &prep.corpus)?;
    if let Some((sp, exact)) = &shards {
        print_shards(&mut out, sp, exact.as_deref())?;
    }
    for group in &identical {
        writeln!(
            out,
            "identical chunk sets (stored): {}; their setups are listed once",
            group.join(" = ")
        )?;
    }
    Ok(())
}

fn print_plan(
    out: &mut impl Write,
    grid: &Grid,
    counts: &[KindCount],
    collapsed: &[(String, usize)],
) -> std::io::Result<()> {
    let combos: usize = grid.combinations.iter().sum();
    writeln!(
        out,
        "{}: {} points ({} combinations of the grid's lists)",
        grid.path.display(),
        grid.points.len(),
        combos
    )?;
    writeln!(
        out,
        "{:<10} {:>7} {:>8} {:>9}",
        "stage", "nodes", "stored", "to run"
    )?;
    for c in counts {
        let stored = if c.kept {
            c.stored.to_string()
        } else {
            "-".to_string()
        };
        writeln!(
            out,
            "{:<10} {:>7} {:>8} {:>9}",
            c.kind.name(),
            c.nodes,
            stored,
            c.nodes - c.stored - c.collapsed
        )?;
    }
    let unneeded: usize = counts.iter().map(|c| c.collapsed).sum();
    if unneeded > 0 {
        writeln!(
            out,
            "({unneeded} nodes are not run: only setups on chunk sets identical to others need them)"
        )?;
    }
    writeln!(
        out,
        "(fusion and scores are recomputed from stored rankings: cheaper than reading them back)"
    )?;
    if collapsed.is_empty() {
        writeln!(
            out,
            "no setups collapsed: every combination is a distinct setup"
        )?;
    } else {
        writeln!(out, "collapsed (dimensions that do not apply are dropped):")?;
        for (label, n) in collapsed.iter().take(20) {
            writeln!(out, "  {n:>4} combinations -> {label}")?;
        }
        if collapsed.len() > 20 {
            writeln!(out, "  … and {} more", collapsed.len() - 20)?;
        }
    }
    Ok(())
}

fn search_json(grid: &Grid, corpus: &ragtune_core::Corpus) -> serde_json::Value {
    let Some(spec) = &grid.search else {
        return serde_json::Value::Null;
    };
    match spec.strategy {
        Strategy::Full => json!({"strategy": "full"}),
        Strategy::Halving => json!({
            "strategy": "halving",
            "rungs": planned_rungs(corpus, spec, grid.points.len()),
        }),
        Strategy::Staged => json!({
            "strategy": "staged",
            "stages": planned_stages(&grid.points, spec)
                .into_iter()
                .map(|(g, n)| json!({"group": g, "at_most": n}))
                .collect::<Vec<_>>(),
        }),
    }
}

/// The `[search]` schedule: halving's rungs with their screens measured, or the staged
/// search's groups.
fn print_search(
    out: &mut impl Write,
    grid: &Grid,
    corpus: &ragtune_core::Corpus,
) -> std::io::Result<()> {
    let Some(spec) = &grid.search else {
        return Ok(());
    };
    let budget = match (spec.max_seconds, spec.max_embedded_tokens) {
        (None, None) => String::new(),
        (s, t) => format!(
            "; budget: {}{}",
            s.map_or(String::new(), |s| format!("{s} s ")),
            t.map_or(String::new(), |t| format!("{t} tokens embedded"))
        ),
    };
    match spec.strategy {
        Strategy::Full => writeln!(out, "search: full grid{budget}"),
        Strategy::Halving => {
            writeln!(
                out,
                "search: successive halving, eta {}{budget}",
                spec.eta()
            )?;
            writeln!(
                out,
                "{:>5} {:>7} {:>6} {:>10} {:>7}",
                "rung", "setups", "keep", "questions", "text"
            )?;
            for p in planned_rungs(corpus, spec, grid.points.len()) {
                writeln!(
                    out,
                    "{:>5} {:>7} {:>6} {:>10} {:>6.1}%",
                    p.rung.index,
                    p.rung.setups,
                    p.rung.keep,
                    p.questions,
                    100.0 * p.text_bytes as f64 / p.total_bytes.max(1) as f64
                )?;
            }
            Ok(())
        }
        Strategy::Staged => {
            writeln!(out, "search: staged, one group at a time{budget}")?;
            for (i, (group, n)) in planned_stages(&grid.points, spec).iter().enumerate() {
                writeln!(out, "  stage {i}: {group}: at most {n} setups")?;
            }
            writeln!(
                out,
                "  then the winner with the first stage's {} runner-ups",
                spec.recheck()
            )
        }
    }
}

/// The sweep's per-stage reuse, one line on stderr.
pub fn print_stage_counts(stages: &[StageRecord]) {
    let parts: Vec<String> = stages
        .iter()
        .filter(|s| s.nodes > 0)
        .map(|s| format!("{} {}/{}", s.kind, s.computed, s.reused))
        .collect();
    eprintln!("ragtune: stages computed/reused: {}", parts.join(", "));
}

/// Each shard's share: embedding pieces and their estimated tokens (exact ones too where
/// the chunk sets are stored), setups, and the largest shard against the mean.
fn print_shards(
    out: &mut impl Write,
    sp: &ShardPlan,
    exact: Option<&[u64]>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} shards, balanced by estimated tokens (document bytes / 4, times size/(size - overlap)):",
        sp.count
    )?;
    writeln!(
        out,
        "{:<7} {:>7} {:>16} {:>14} {:>7}",
        "shard", "pieces", "est. tokens", "exact tokens", "setups"
    )?;
    for i in 0..sp.count {
        let e = exact.map_or("-".into(), |e| e[i].to_string());
        writeln!(
            out,
            "{:<7} {:>7} {:>16} {:>14} {:>7}",
            format!("{i}/{}", sp.count),
            sp.embed[i].len(),
            sp.embed_tokens[i],
            e,
            sp.setups[i].len()
        )?;
    }
    writeln!(
        out,
        "largest shard: {:.3}x the mean of estimated embedding tokens",
        sp.imbalance()
    )?;
    match exact {
        Some(e) => writeln!(
            out,
            "largest shard: {:.3}x the mean of exact embedding tokens (from the stored chunk sets)",
            ragtune_sweep::shard::imbalance(e)
        ),
        None => writeln!(
            out,
            "exact tokens: known once every chunk set is in the stage store (after any sweep of this grid, or a shard's first seconds)"
        ),
    }
}
