//! `ragtune serve --run RUN`.

use anyhow::Context;
use ragtune_sweep::{Engine, RunDir, read_point};
use serde_json::json;

use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let opts = super::sweep_options(&args.engine)?;
    let engine = Engine::open(&args.run, args.config.as_deref(), &opts)?;
    let record = read_point(&RunDir::open(&args.run)?, &engine.config_id)?;
    let config = json!({
        "config_id": engine.config_id,
        "label": engine.point.label(),
        "setup": engine.point,
        "depth": engine.depth,
        "objective": engine.grid.select.objective,
        "metrics": record.rows,
        "corpus_fingerprint": engine.manifest.corpus_fingerprint,
        "n_chunks": engine.set.len(),
        "run": args.run,
    });
    let startup = engine.startup_seconds;
    let how = engine.provenance();
    let id = engine.config_id.clone();
    let app = ragtune_serve::router(engine, config, ragtune_serve::Limits::default());
    ragtune_serve::serve_blocking(app, &args.addr, opts.threads, |addr| {
        tracing::info!(startup_seconds = startup, "serving");
        eprintln!("ragtune: serving {id} on http://{addr} (startup {startup:.2}s, {how}); Ctrl-C or SIGTERM stops");
    })
    .with_context(|| format!("serving on {}", args.addr))?;
    eprintln!("ragtune: stopped");
    Ok(())
}
