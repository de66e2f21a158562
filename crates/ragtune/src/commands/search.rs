//! What a `[search]` adds to a sweep's output: the printed schedule it ran, and in
//! best.toml how the winner compares with the setups the search set aside.

use std::io::Write;
use std::path::Path;

use ragtune_eval::{BestSetup, PointRecord, SearchVerdict};
use ragtune_grid::{Grid, Strategy};
use ragtune_sweep::Manifest;
use ragtune_sweep::search::{KeptStats, StepRecord, against_eliminated};

/// How the run's `[search]` reached `best` (for best.toml; `None` for a full grid), the
/// paired differences kept in `stats` (a re-run reads them back).
pub fn verdict(
    manifest: &Manifest,
    run: &Path,
    best: &BestSetup,
    grid: &Grid,
    stats: KeptStats,
) -> anyhow::Result<Option<SearchVerdict>> {
    let Some(s) = &manifest.search else {
        return Ok(None);
    };
    let eliminated = if s.strategy == ragtune_grid::Strategy::Halving {
        let goal = (grid.objective, grid.select.holdout);
        against_eliminated(run, s, &best.config_id, goal, stats)?
    } else {
        vec![]
    };
    Ok(Some(SearchVerdict {
        strategy: s.strategy,
        budget_reached: s.budget_reached,
        embedded_tokens: s.embedded_tokens,
        notes: s.notes.clone(),
        eliminated,
    }))
}

fn step_line(s: &StepRecord, strategy: Strategy) -> String {
    format!(
        "  {}: {} on {}; kept {} ({:.1} s, {} tokens embedded)",
        s.label(strategy),
        crate::count_of(s.setups, "setup"),
        s.data(),
        s.kept.len(),
        s.seconds,
        s.embedded_tokens
    )
}

/// The search's schedule as it ran, after the results table.
pub fn print_summary(manifest: &Manifest, records: &[PointRecord]) -> anyhow::Result<()> {
    let Some(s) = &manifest.search else {
        return Ok(());
    };
    let mut out = std::io::stdout().lock();
    let screened = records.iter().filter(|r| !r.on_all_data()).count();
    writeln!(
        out,
        "search: {} over {}: {} scored on all the data, {screened} only on screens{}; {} tokens embedded",
        s.strategy,
        crate::count_of(manifest.n_points, "setup"),
        records.len() - screened,
        if s.budget_reached {
            "; BUDGET REACHED"
        } else {
            ""
        },
        s.embedded_tokens
    )?;
    for step in &s.steps {
        writeln!(out, "{}", step_line(step, s.strategy))?;
    }
    for note in &s.notes {
        writeln!(out, "  note: {note}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_count_setups_in_words() {
        let mut s = StepRecord {
            index: 2,
            what: "rung".into(),
            questions: 10_570,
            setups: 1,
            kept: vec!["a".into()],
            seconds: 35.62,
            embedded_tokens: 314_827,
            ..StepRecord::default()
        };
        assert_eq!(
            step_line(&s, Strategy::Halving),
            "  rung 2: 1 setup on all 10570 questions; kept 1 (35.6 s, 314827 tokens embedded)"
        );
        s.setups = 5;
        s.screened = true;
        s.fraction = 0.335;
        assert_eq!(
            step_line(&s, Strategy::Halving),
            "  rung 2: 5 setups on 10570 questions, 33.5% of the text; kept 1 (35.6 s, 314827 tokens embedded)"
        );
    }
}
