//! What a `[search]` adds to a sweep's output: the printed schedule it ran, and in
//! best.toml how the winner compares with the setups the search set aside.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ragtune_eval::{BestSetup, PointRecord};
use ragtune_sweep::search::{Eliminated, StepRecord, against_eliminated};
use ragtune_sweep::{Grid, Manifest};
use serde::Serialize;

#[derive(Serialize)]
struct BestSearch<'a> {
    strategy: &'a str,
    budget_reached: bool,
    embedded_tokens: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: &'a Vec<String>,
    /// Halving: the winner against each setup eliminated in the last two screened rungs,
    /// on that rung's screen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    eliminated: Vec<Eliminated>,
}

#[derive(Serialize)]
struct Section<'a> {
    search: BestSearch<'a>,
}

/// The `[search]` section of best.toml (empty for a full grid).
pub fn best_toml_section(
    manifest: &Manifest,
    run: &Path,
    best: &BestSetup,
    grid: &Grid,
) -> anyhow::Result<String> {
    let Some(s) = &manifest.search else {
        return Ok(String::new());
    };
    let eliminated = if s.strategy == "halving" {
        against_eliminated(run, s, &best.config_id, grid.objective, grid.select.holdout)?
    } else {
        vec![]
    };
    let section = Section {
        search: BestSearch {
            strategy: &s.strategy,
            budget_reached: s.budget_reached,
            embedded_tokens: s.embedded_tokens,
            notes: &s.notes,
            eliminated,
        },
    };
    let text = toml::to_string_pretty(&section).context("serialising best.toml")?;
    Ok(format!(
        "\n# How the search reached this setup: for halving, the winner minus each setup\n# eliminated in the last two screened rungs, on that rung's questions (95% interval).\n{text}"
    ))
}

fn step_line(s: &StepRecord, questions_total: usize) -> String {
    let data = if s.screened {
        format!(
            "{} of {questions_total} questions, {:.1}% of the text",
            s.questions,
            100.0 * s.fraction
        )
    } else {
        format!("all {} questions", s.questions)
    };
    format!(
        "  {} {}: {} setups on {data}; kept {} ({:.1} s, {} tokens embedded)",
        if s.what == "rung" { "rung" } else { "stage" },
        if s.what == "rung" {
            s.index.to_string()
        } else {
            format!("{} ({})", s.index, s.what)
        },
        s.setups,
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
        "search: {} over {} setups: {} scored on all the data, {screened} only on screens{}; {} tokens embedded",
        s.strategy,
        manifest.n_points,
        records.len() - screened,
        if s.budget_reached {
            "; BUDGET REACHED"
        } else {
            ""
        },
        s.embedded_tokens
    )?;
    for step in &s.steps {
        writeln!(out, "{}", step_line(step, manifest.n_questions))?;
    }
    for note in &s.notes {
        writeln!(out, "  note: {note}")?;
    }
    Ok(())
}
