//! `ragtune judge RUN`: the judging page over a run's pool.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ragtune_judge::{Book, Pool};
use ragtune_sweep::RunDir;

use crate::cli::JudgeArgs;

pub fn run(args: JudgeArgs) -> anyhow::Result<()> {
    let opts = super::sweep_options(&args.engine)?;
    let manifest = RunDir::open(&args.run)?.finished()?;
    let out = args
        .out
        .clone()
        .or_else(|| manifest.corpus.judgements.clone())
        .unwrap_or_else(|| beside_grid(&manifest.grid_path));
    let _lock = lock(&out)?;
    let pool = Pool::open(&args.run, &opts, args.depth)?;
    let book = Book::open(&out, &pool.corpus)?;
    let pooled = pool.pooled();
    let (questions, setups, depth) = (pool.questions.len(), pool.setups, pool.depth);
    let judged = book.len();
    let run_name = args.run.display().to_string();
    let loopback = is_loopback(&args.addr);
    let app = ragtune_serve::judge_router(pool, book, run_name, loopback);
    let in_grid = manifest.corpus.judgements.as_deref() == Some(out.as_path());
    let grid = manifest.grid_path.display().to_string();
    // The path as the grid would name it: relative to the grid's folder when inside it.
    let grid_dir = manifest.grid_path.parent().unwrap_or(Path::new(""));
    let from_grid = (std::path::absolute(&out).ok())
        .and_then(|o| {
            let dir = std::path::absolute(grid_dir).ok()?;
            o.strip_prefix(dir).ok().map(Path::to_path_buf)
        })
        .unwrap_or_else(|| out.clone());
    ragtune_serve::serve_blocking(app, &args.addr, 2, |addr| {
        eprintln!(
            "ragtune: judging {questions} questions: {pooled} chunks pooled from the top {depth} of {setups} setups; {judged} judged so far"
        );
        eprintln!("ragtune: judgements are saved, as you make them, to {}", out.display());
        eprintln!("ragtune: open http://{addr}/ (Ctrl-C stops)");
        if in_grid {
            eprintln!("ragtune: then sweep {grid} again: it reads this file");
        } else {
            eprintln!(
                "ragtune: then add `judgements = \"{}\"` under [corpus] in {grid} and sweep again",
                from_grid.display()
            );
        }
    })
    .with_context(|| format!("serving the judging page on {}", args.addr))?;
    eprintln!("ragtune: stopped");
    Ok(())
}

/// `GRID.judgements.jsonl` beside the grid file.
fn beside_grid(grid: &Path) -> PathBuf {
    let stem = grid
        .file_stem()
        .map_or_else(|| "grid".to_string(), |s| s.to_string_lossy().into_owned());
    grid.with_file_name(format!("{stem}.judgements.jsonl"))
}

/// Hold `.NAME.lock` beside the judgements file for as long as this process runs: a second
/// `ragtune judge` on the same file would overwrite this one's judgements with its own.
/// The operating system releases the lock when the process ends, however it ends.
fn lock(out: &Path) -> anyhow::Result<std::fs::File> {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = out
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let path = dir.join(format!(".{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(crate::UserError(format!(
            "{}: another `ragtune judge` is writing this judgements file; stop it first, or give this one another --out",
            out.display()
        ))
        .into()),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// Whether `addr` (HOST:PORT) is a loopback address.
fn is_loopback(addr: &str) -> bool {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()
        .map(|mut a| a.all(|a| a.ip().is_loopback()))
        .unwrap_or(false)
}
