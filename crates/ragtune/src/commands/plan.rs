//! `ragtune plan GRID [--json]`: what a sweep would run, before anything runs.

use std::io::Write;

use ragtune_sweep::{Grid, KindCount, OnnxModels, StageRecord, prepare};
use serde_json::json;

use crate::cli::PlanArgs;

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let grid = Grid::load(&args.grid)?;
    let opts = super::sweep_options(&args.engine);
    let models = OnnxModels::new(opts.embed_options());
    let mut prep = prepare(&grid, &models, &opts.models_dir, None)?;
    let mut identical = Vec::new();
    if let Some(store) = opts.store()? {
        prep.plan.check_store(&store);
        identical = prep.plan.identical_chunk_sets(&store, &prep.corpus);
    }
    let counts = prep.plan.counts();
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
            "inputs": prep.plan.inputs,
            "setups": prep.plan.setups.iter().map(|s| json!({"config_id": s.config_id, "label": s.setup.label()})).collect::<Vec<_>>(),
        });
        super::print_json(&mut out, &v)?;
        return Ok(());
    }
    print_plan(&mut out, &grid, &counts, &collapsed)?;
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
            c.nodes - c.stored
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

/// The sweep's per-stage reuse, one line on stderr.
pub fn print_stage_counts(stages: &[StageRecord]) {
    let parts: Vec<String> = stages
        .iter()
        .filter(|s| s.nodes > 0)
        .map(|s| format!("{} {}/{}", s.kind, s.computed, s.reused))
        .collect();
    eprintln!("ragtune: stages computed/reused: {}", parts.join(", "));
}
