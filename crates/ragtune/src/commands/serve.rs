//! `ragtune serve --run RUN`.

use anyhow::Context;
use ragtune_serve::Engine;
use ragtune_sweep::{RunDir, read_point};

use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let opts = super::sweep_options(&args.engine)?;
    let engine = Engine::open(&args.run, args.config.as_deref(), &opts)?;
    let record = read_point(&RunDir::open(&args.run)?, &engine.config_id)?;
    let config = ragtune_serve::ConfigResponse::of(&engine, &record.rows, &args.run)?;
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
