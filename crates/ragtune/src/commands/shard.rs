//! `ragtune sweep GRID --shard I/N --out RUN` and `ragtune merge RUN`.

use std::path::Path;

use ragtune_grid::Grid;
use ragtune_sweep::shard::{MergeLock, ShardId, all_complete, merge_shards, run_shard};
use ragtune_sweep::{OnnxModels, RunDir, SweepOptions};

use crate::UserError;
use crate::cli::SweepArgs;
use crate::progress::Bars;

/// Run one shard; the last shard to finish merges the run.
pub fn run(args: &SweepArgs, grid: &Grid, opts: &SweepOptions, spec: &str) -> anyhow::Result<()> {
    let shard = if spec == "auto" {
        ShardId::from_env(&|k| std::env::var(k).ok(), args.shards)
    } else {
        ShardId::parse(spec)
    }
    .map_err(|e| UserError(format!("--shard: {e}")))?;
    let out = args
        .out
        .as_deref()
        .expect("clap requires --out with --shard");
    eprintln!(
        "ragtune: shard {shard} of {} ({}) → {}",
        args.grid.display(),
        crate::count_of(grid.points.len(), "grid point"),
        out.display()
    );
    let bars = Bars::new();
    let models = OnnxModels::new(opts.embed_options());
    let rec = run_shard(grid, out, opts, &models, &bars, shard)?;
    eprintln!(
        "ragtune: shard {shard} complete on {}: {} embedding pieces (~{} tokens) in {:.1} s, {} setups scored in {:.1} s ({} kept from before)",
        rec.host,
        rec.embed_units,
        rec.estimated_tokens,
        rec.embed_seconds,
        rec.setups.len(),
        rec.score_seconds,
        rec.manifest.resumed_points
    );
    if !all_complete(out) {
        eprintln!(
            "ragtune: other shards are not complete yet; the last to finish merges (or run `ragtune merge {}`)",
            out.display()
        );
        return Ok(());
    }
    match MergeLock::take(out) {
        Some(lock) => {
            eprintln!("ragtune: every shard is complete: merging");
            merge(out, args.show)?;
            lock.keep();
            Ok(())
        }
        None => {
            eprintln!(
                "ragtune: every shard is complete; another shard has merged the run (`ragtune merge {}` merges it again)",
                out.display()
            );
            Ok(())
        }
    }
}

/// Merge a sharded run's points into its tables, best.toml and manifest.
pub fn merge(run: &Path, show: usize) -> anyhow::Result<()> {
    let (grid, records, manifest) = merge_shards(run)?;
    let hosts: std::collections::BTreeSet<&str> =
        manifest.shards.iter().map(|s| s.host.as_str()).collect();
    eprintln!(
        "ragtune: merging {} shards ({} points), run on {}",
        manifest.shards.len(),
        records.len(),
        hosts.into_iter().collect::<Vec<_>>().join(", ")
    );
    let dir = RunDir::shared(run)?;
    dir.write_manifest(&manifest)?;
    super::outputs::write_outputs(&dir, records, manifest, &grid, show, None)
}
