//! `ragtune export-trec`: a setup's document-level run and the qrels, in TREC format.

use ragtune_results::trec::{qrels_file, run_file};
use ragtune_store::write_atomic;
use ragtune_sweep::RunDir;

use crate::UserError;
use crate::cli::ExportTrecArgs;

pub fn run(args: ExportTrecArgs) -> anyhow::Result<()> {
    let run = RunDir::open(&args.run)?;
    let manifest = run.finished()?;
    let record = run.read_rankings(&ragtune_sweep::listed_id(&run, &args.config)?)?;
    let run_text = run_file(&record, args.k).map_err(|e| UserError(e.to_string()))?;
    let corpus = manifest.load_corpus(&super::run_texts(&run))?;
    let qrels_text = qrels_file(&corpus).map_err(|e| UserError(e.to_string()))?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| UserError(format!("{}: {e}", args.out.display())))?;
    write_atomic(&args.out.join("run.trec"), run_text.as_bytes())?;
    write_atomic(&args.out.join("qrels.trec"), qrels_text.as_bytes())?;
    eprintln!(
        "ragtune: wrote {}/run.trec ({} lines) and qrels.trec ({} lines) for {} at k = {}",
        args.out.display(),
        run_text.lines().count(),
        qrels_text.lines().count(),
        args.config,
        args.k
    );
    Ok(())
}
