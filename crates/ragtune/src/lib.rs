//! The `ragtune` command line: clap commands, progress bars and error printing.
//!
//! User mistakes (a bad grid, a missing file, mismatched labels) print one line on stderr
//! and exit with code 2; internal failures exit with code 1.

mod cli;
mod commands;
mod failpoint;
mod progress;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// An error caused by the user's input; exits with code 2.
#[derive(Debug)]
pub struct UserError(pub String);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UserError {}

/// Whether `err` was caused by user input.
fn is_user_error(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.is::<UserError>()
            || e.downcast_ref::<ragtune_sweep::SweepError>()
                .is_some_and(|s| s.is_user_error())
            || e.is::<ragtune_grid::GridError>()
            || e.downcast_ref::<ragtune_judge::JudgeError>()
                .is_some_and(|j| j.is_user_error())
            || e.downcast_ref::<ragtune_store::StoreError>()
                .is_some_and(|s| s.is_user_error())
            || e.is::<ragtune_corpus::CorpusError>()
            || e.is::<ragtune_chunk::ChunkError>()
            || e.is::<ragtune_embed::EmbedError>()
            || e.is::<std::io::Error>()
    })
}

/// The error and its causes, joined by ": ", leaving out a cause whose text the message
/// already holds (typed errors often show their source in their own message).
fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RAGTUNE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let ok = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match cli.command {
        Command::Sweep(a) => ok(commands::sweep::run(a)),
        Command::Plan(a) => ok(commands::plan::run(a)),
        Command::Merge(a) => ok(commands::shard::merge(&a.run, a.show)),
        Command::Cache(a) => ok(commands::cache::run(a)),
        Command::Compare(a) => ok(commands::compare::run(a)),
        Command::Check(a) => commands::check::run(a),
        Command::Runs(a) => ok(commands::runs::run(a)),
        Command::Report(a) => ok(commands::report::run(a)),
        Command::Query(a) => ok(commands::query::run(a)),
        Command::Explain(a) => ok(commands::explain::run(a)),
        Command::Serve(a) => ok(commands::serve::run(a)),
        Command::Judge(a) => ok(commands::judge::run(a)),
        Command::Mcp(a) => ok(commands::serve::mcp(a)),
        Command::ExportTrec(a) => ok(commands::export_trec::run(a)),
        Command::Export(a) => ok(commands::export_index::run(a)),
        Command::ExportMlflow(a) => ok(commands::export_mlflow::run(a)),
        Command::Labels(a) => commands::labels::run(a),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // A closed stdout (e.g. `| head`) is not a failure.
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "error: {}", error_line(&err));
            if is_user_error(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// `n` and `noun`, plural unless `n` is 1: "1 setup", "3 setups".
pub(crate) fn count_of(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The models folder: the flag or `RAGTUNE_MODELS_DIR`, else `./models`, else the
/// `models/` folder of the source tree this binary was built from.
pub(crate) fn models_dir(flag: Option<PathBuf>) -> PathBuf {
    let dir = flag.unwrap_or_else(|| {
        let local = PathBuf::from("models");
        let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
        if local.join("onnxruntime").is_dir() || !built.is_dir() {
            local
        } else {
            built
        }
    });
    // Absolute, so that manifests name the folder unambiguously.
    dir.canonicalize()
        .or_else(|_| std::path::absolute(&dir))
        .unwrap_or(dir)
}

/// Threads to use: the flag, else every core. Also sizes rayon's global pool.
pub(crate) fn threads(flag: Option<usize>) -> usize {
    let n = flag
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let typed = anyhow::Error::msg(format!("g.toml: {io}")).context("loading the grid");
        assert_eq!(error_line(&typed), "loading the grid: g.toml: No such file");
        let chained = anyhow::Error::new(io).context("g.toml");
        assert_eq!(error_line(&chained), "g.toml: No such file");
    }

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(count_of(0, "setup"), "0 setups");
        assert_eq!(count_of(1, "grid point"), "1 grid point");
        assert_eq!(count_of(270, "row"), "270 rows");
    }
}
