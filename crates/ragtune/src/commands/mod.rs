pub mod cache;
pub mod check;
pub mod compare;
pub mod explain;
pub mod export_index;
pub mod export_mlflow;
pub mod export_trec;
pub mod judge;
pub mod labels;
mod loop_stats;
mod outputs;
pub mod plan;
pub mod query;
pub mod report;
pub mod runs;
mod search;
pub mod serve;
pub mod shard;
pub mod sweep;

use ragtune_embed::{BatchSize, Device};
use ragtune_sweep::SweepOptions;

use crate::cli::{DeviceArg, EngineArgs};

/// Sweep options from the shared engine flags.
pub fn sweep_options(e: &EngineArgs) -> anyhow::Result<SweepOptions> {
    let threads = crate::threads(e.threads);
    let device = match e.device {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Cuda => Device::Cuda,
    };
    // On CPU, sessions of one thread each keep every core busy on small batches; a GPU
    // takes one session.
    let sessions = e.sessions.unwrap_or(match device {
        Device::Cpu => threads,
        Device::Cuda => 1,
    });
    if sessions > threads {
        anyhow::bail!(
            "--sessions {sessions} is more than the {threads} threads to split between them; raise --threads or lower --sessions"
        );
    }
    Ok(SweepOptions {
        models_dir: crate::models_dir(e.models_dir.clone()),
        cache_dir: (!e.no_cache).then(|| e.cache_dir.clone()),
        threads,
        sessions,
        device,
        batch_size: e.batch_size.unwrap_or(match device {
            Device::Cpu => BatchSize::Tokens(ragtune_embed::CPU_BATCH_TOKENS),
            Device::Cuda => BatchSize::Auto,
        }),
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: env!("RAGTUNE_GIT_COMMIT").to_string(),
    })
}

/// What reads a finished run's PDF, HTML and Word documents: the run folder's copy of
/// their texts, and only for a text it lacks the extractor (libpdfium from the default
/// models folder or `RAGTUNE_PDFIUM`).
pub fn run_texts(run: &ragtune_sweep::RunDir) -> ragtune_sweep::Texts<'static> {
    ragtune_sweep::Texts::new(&crate::models_dir(None), None).with_run(run.path(), false)
}

/// `value` as pretty JSON and a newline: what every `--json` flag prints on stdout.
pub fn print_json(
    out: &mut impl std::io::Write,
    value: &impl serde::Serialize,
) -> anyhow::Result<()> {
    use anyhow::Context;
    serde_json::to_writer_pretty(&mut *out, value).context("writing JSON")?;
    writeln!(out)?;
    Ok(())
}
