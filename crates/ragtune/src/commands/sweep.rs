//! `ragtune sweep GRID`.

use ragtune_grid::Grid;
use ragtune_sweep::{OnnxModels, RunDir, RunStatus, run_sweep};

use crate::cli::SweepArgs;
use crate::progress::Bars;

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    // The grid is validated in full before anything is created or computed.
    let grid = Grid::load_limited(&args.grid, args.max_points)?;
    let opts = super::sweep_options(&args.engine)?;
    if opts.device == ragtune_embed::Device::Cuda && !cfg!(feature = "cuda") {
        return Err(ragtune_embed::EmbedError::CudaNotBuilt.into());
    }
    if let Some(spec) = &args.shard {
        return super::shard::run(&args, &grid, &opts, spec);
    }
    let out = args.out.clone().unwrap_or_else(|| default_out(&grid.name));
    let (run, resume) = open_run(&out, args.resume)?;
    eprintln!(
        "ragtune: {} from {} → {}",
        crate::count_of(grid.points.len(), "grid point"),
        args.grid.display(),
        out.display()
    );
    let bars = Bars::new();
    let models = OnnxModels::new(opts.embed_options());
    let (records, manifest) = run_sweep(&grid, &run, &opts, &models, &bars, resume)?;
    report_inputs(&manifest);
    if manifest.search.as_ref().is_some_and(|s| s.budget_reached) {
        eprintln!("ragtune: the [search] budget was reached; everything scored so far is written");
    }
    let store = opts.store()?;
    super::outputs::write_outputs(&run, records, manifest, &grid, args.show, store.as_ref())
}

/// Once on stderr: files the corpus passed over, labels dropped, and where extracted
/// texts came from; the manifest lists each.
pub(crate) fn report_inputs(m: &ragtune_sweep::Manifest) {
    use ragtune_corpus::SkipReason;
    if !m.skipped_files.is_empty() {
        let n = |r: SkipReason| m.skipped_files.iter().filter(|s| s.reason == r).count();
        eprintln!(
            "ragtune: skipped {} ({} unreadable, {} by extension, {} not regular files, {} symbolic-link loops, {} hidden); listed in manifest.json",
            crate::count_of(m.skipped_files.len(), "file"),
            n(SkipReason::Unreadable),
            n(SkipReason::Extension),
            n(SkipReason::NotAFile),
            n(SkipReason::SymlinkLoop),
            n(SkipReason::Hidden)
        );
    }
    if !m.unresolved_labels.is_empty() {
        eprintln!(
            "ragtune: dropped {} not found in the documents (unresolved = \"drop\"); listed in manifest.json",
            crate::count_of(m.unresolved_labels.len(), "answer label")
        );
    }
    if let Some(t) = m.texts {
        eprintln!(
            "ragtune: document texts: {} extracted, {} from the store, {} from the run folder",
            t.extracted, t.stored, t.from_run
        );
    }
}

/// `runs/<timestamp>-<grid name>`, the name made safe for a folder.
fn default_out(name: &str) -> std::path::PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    std::path::PathBuf::from("runs").join(format!("{stamp}-{safe}"))
}

/// The run folder to sweep into, and whether it continues an earlier run.
fn open_run(out: &std::path::Path, resume: bool) -> anyhow::Result<(RunDir, bool)> {
    let is_run = out.join("manifest.json").is_file();
    if resume && !is_run && out.is_dir() && !holds_nothing(out)? {
        return Err(crate::UserError(format!(
            "{}: --resume: not a run folder (no manifest.json), and not empty; nothing to resume",
            out.display()
        ))
        .into());
    }
    // A run that failed before scoring anything (a corpus or model error) is simply
    // started again once the input is fixed.
    let failed_empty = is_run && failed_before_scoring(out);
    if (resume || failed_empty) && is_run {
        Ok((RunDir::open(out)?, true))
    } else {
        Ok((RunDir::create(out)?, false))
    }
}

/// Whether `dir` holds nothing but empty folders: what a sweep leaves when it fails before
/// its first manifest (a full disk), so that `--resume` then simply starts.
fn holds_nothing(dir: &std::path::Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() || !holds_nothing(&entry.path())? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether the run folder at `out` recorded a failure and holds no scored point.
fn failed_before_scoring(out: &std::path::Path) -> bool {
    let failed = RunDir::open(out)
        .and_then(|r| r.read_manifest())
        .is_ok_and(|m| m.status == RunStatus::Failed);
    let no_points = std::fs::read_dir(out.join("points")).map_or(true, |mut d| d.next().is_none());
    failed && no_points
}
