//! `ragtune sweep GRID`.

use std::io::Write;

use anyhow::Context;
use ragtune_sweep::{Grid, RunDir, run_sweep};

use crate::cli::SweepArgs;
use crate::progress::Bars;

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    // The grid is validated in full before anything is created or computed.
    let grid = Grid::load(&args.grid)?;
    let opts = super::sweep_options(&args.engine);
    if opts.device == ragtune_embed::Device::Cuda && !cfg!(feature = "cuda") {
        return Err(ragtune_embed::EmbedError::CudaNotBuilt.into());
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let safe: String = grid
            .name
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
    });
    let resume = args.resume && out.join("manifest.json").is_file();
    let run = if resume {
        RunDir::open(&out)?
    } else {
        RunDir::create(&out)?
    };
    eprintln!(
        "ragtune: {} grid points from {} → {}",
        grid.points.len(),
        args.grid.display(),
        out.display()
    );
    let bars = Bars::new();
    let (records, mut manifest) = run_sweep(&grid, &run, &opts, &bars, resume)?;
    if manifest.resumed_points > 0 {
        eprintln!(
            "ragtune: resumed: kept {} stored points",
            manifest.resumed_points
        );
    }
    ragtune_results::write_tables(&records, run.path()).context("writing results tables")?;
    let (metric, k) = (grid.objective.0.as_str(), grid.objective.1);
    let best = ragtune_results::select_best(&records, (metric, k), grid.select.max_context_tokens);
    match &best {
        Some(b) => {
            let text = format!(
                "# The best setup of this run under [select]; `ragtune serve --run {}` loads it.\n{}",
                out.display(),
                toml::to_string_pretty(b).context("serialising best.toml")?
            );
            run.write_atomic("best.toml", text.as_bytes())?;
            manifest.best_config_id = Some(b.config_id.clone());
            run.write_manifest(&manifest)?;
        }
        None => eprintln!(
            "ragtune: no setup meets max_context_tokens = {:?} at k = {k}; no best.toml written",
            grid.select.max_context_tokens
        ),
    }
    print_table(&records, &grid, args.show)?;
    eprintln!(
        "ragtune: wrote {}/results.parquet ({} rows), per_question.parquet, manifest.json{}; embedding cache {} hits, {} misses",
        out.display(),
        records.iter().map(|r| r.rows.len()).sum::<usize>(),
        if best.is_some() { ", best.toml" } else { "" },
        manifest.cache_hits,
        manifest.cache_misses,
    );
    Ok(())
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

fn print_table(
    records: &[ragtune_sweep::PointRecord],
    grid: &Grid,
    show: usize,
) -> anyhow::Result<()> {
    let (metric, k) = (grid.objective.0.as_str(), grid.objective.1);
    let ranked = ragtune_results::ranked(records, (metric, k), grid.select.max_context_tokens);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>3}  {:<12}  {:>9}  {:>8}  {:>8}  {:>8}  {:>7}  {:>7}  setup",
        "#",
        "config_id",
        format!("{metric}@{k}"),
        format!("recall@{k}"),
        format!("mrr@{k}"),
        format!("span_r@{k}"),
        "ctx_tok",
        "p50_ms"
    )?;
    for (i, (rec, row, v)) in ranked.iter().take(show).enumerate() {
        writeln!(
            out,
            "{:>3}  {:<12}  {:>9.3}  {:>8}  {:>8}  {:>8}  {:>7.0}  {:>7.2}  {}",
            i + 1,
            rec.config_id,
            v,
            fmt(row.recall),
            fmt(row.mrr),
            fmt(row.span_recall),
            row.context_tokens,
            row.query_ms_p50,
            rec.label
        )?;
    }
    if let (Some((best, _, hi)), Some((worst, _, lo))) = (ranked.first(), ranked.last())
        && ranked.len() > 1
    {
        writeln!(
            out,
            "spread over {} setups: {metric}@{k} from {lo:.3} ({}) to {hi:.3} ({})",
            ranked.len(),
            worst.label,
            best.label
        )?;
    }
    Ok(())
}
