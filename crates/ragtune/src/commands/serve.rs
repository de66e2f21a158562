//! `ragtune serve --run RUN`.

use std::path::Path;

use anyhow::Context;
use ragtune_serve::Engine;
use ragtune_serve::queries::QueryOptions;
use ragtune_sweep::{RunDir, read_point};

use crate::cli::{McpArgs, ServeArgs};

/// Setup `config` of the run in `run`, and what `GET /config` says of it.
fn open(
    run: &Path,
    config: Option<&str>,
    opts: &ragtune_sweep::SweepOptions,
) -> anyhow::Result<(Engine, ragtune_serve::ConfigResponse)> {
    let engine = Engine::open(run, config, opts)?;
    let record = read_point(&RunDir::open(run)?, &engine.config_id)?;
    let response = ragtune_serve::ConfigResponse::of(&engine, &record.rows, run)?;
    Ok((engine, response))
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let opts = super::sweep_options(&args.engine)?;
    let (mut engine, config) = open(&args.run, args.config.as_deref(), &opts)?;
    let queries = QueryOptions {
        batch_wait: std::time::Duration::from_secs_f64(args.batch_wait_ms / 1000.0),
        max_batch: args.max_batch,
        cache_entries: args.query_cache,
        // A GPU wants one large call; on CPU, calls of a few queries run side by side.
        call_tokens: match opts.device {
            ragtune_embed::Device::Cpu => ragtune_serve::queries::CALL_TOKENS,
            ragtune_embed::Device::Cuda => usize::MAX,
        },
    };
    if let Some(why) = engine.serve_queries(queries) {
        eprintln!("ragtune: micro-batching is off: {why}");
    }
    let startup = engine.startup_seconds;
    let how = engine.provenance();
    let id = engine.config_id.clone();
    let app = ragtune_serve::router(engine, config, ragtune_serve::Limits::default());
    ragtune_serve::serve_blocking(app, &args.addr, opts.threads, |addr| {
        tracing::info!(startup_seconds = startup, "serving");
        eprintln!("ragtune: serving {id} on http://{addr} (startup {startup:.2}s, {how}); MCP at http://{addr}/mcp; Ctrl-C or SIGTERM stops");
    })
    .with_context(|| format!("serving on {}", args.addr))?;
    eprintln!("ragtune: stopped");
    Ok(())
}

/// `ragtune mcp RUN|best.toml`: the MCP tools over stdio. Nothing but JSON-RPC is written
/// to stdout; what the command has to say goes to stderr.
pub fn mcp(args: McpArgs) -> anyhow::Result<()> {
    let opts = super::sweep_options(&args.engine)?;
    let (run, config) = if args.run.is_file() {
        let run = args.run.parent().map(Path::to_path_buf);
        let run = run
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| ".".into());
        (run, Some(args.run.display().to_string()))
    } else {
        (args.run.clone(), args.config.clone())
    };
    let (engine, response) = open(&run, config.as_deref(), &opts)?;
    eprintln!(
        "ragtune: MCP tools of setup {} over stdio (startup {:.2}s)",
        engine.config_id, engine.startup_seconds
    );
    ragtune_serve::mcp::serve_stdio(engine, response, ragtune_serve::Limits::default())
        .context("serving MCP over stdio")?;
    Ok(())
}
