//! `ragtune runs [--dir runs/]`: past runs, newest first — the history that answers "was
//! it better 40 iterations ago?".

use std::io::Write;

use anyhow::Context;
use ragtune_sweep::RunDir;
use serde_json::json;

use crate::cli::RunsArgs;

pub fn run(args: RunsArgs) -> anyhow::Result<()> {
    if !args.dir.is_dir() {
        return Err(crate::UserError(format!(
            "{}: no such folder; `ragtune sweep` writes its runs under runs/ unless --out says otherwise: pass the folder that holds them with --dir",
            args.dir.display()
        ))
        .into());
    }
    let entries = std::fs::read_dir(&args.dir)
        .with_context(|| format!("{}: cannot list runs", args.dir.display()))?;
    let mut runs = Vec::new();
    for e in entries.flatten() {
        let Ok(run) = RunDir::open(&e.path()) else {
            continue;
        };
        let Ok(m) = run.read_manifest() else {
            continue;
        };
        // A finished run whose files no longer match what the sweep wrote is listed as
        // damaged, not hidden and not as complete.
        let status = if m.status.is_finished() && !run.looks_finished() {
            "damaged".to_string()
        } else {
            m.status.to_string()
        };
        let best = std::fs::read_to_string(e.path().join("best.toml"))
            .ok()
            .and_then(|t| toml::from_str::<ragtune_sweep::BestSetup>(&t).ok());
        runs.push((m, best, e.path(), status));
    }
    runs.sort_by(|a, b| b.0.started_at.cmp(&a.0.started_at));
    let mut out = std::io::stdout().lock();
    if args.json {
        let v: Vec<_> = runs
            .iter()
            .map(|(m, b, p, status)| json!({"run": p, "started_at": m.started_at, "status": status, "grid": m.grid_name, "corpus_fingerprint": m.corpus_fingerprint, "points": m.n_points, "objective": m.objective, "best": b.as_ref().map(|b| json!({"config_id": b.config_id, "label": b.label, "value": b.value})), "git_commit": m.git_commit}))
            .collect();
        super::print_json(&mut out, &v)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<25} {:<9} {:<20} {:<8} {:>6}  {:<22} {:<12} best setup",
        "started", "status", "grid", "corpus", "points", "objective", "commit"
    )?;
    for (m, b, _, status) in &runs {
        let (value, label) = b.as_ref().map_or(("-".to_string(), "-".to_string()), |b| {
            (format!("{:.4}", b.value), b.label.clone())
        });
        writeln!(
            out,
            "{:<25} {:<9} {:<20} {:<8} {:>6}  {:<22} {:<12} {label}",
            m.started_at.get(..19).unwrap_or(&m.started_at),
            status,
            m.grid_name,
            m.corpus_fingerprint.get(..8).unwrap_or("-"),
            m.n_points,
            format!("{}={value}", m.objective),
            m.git_commit
        )?;
    }
    Ok(())
}
