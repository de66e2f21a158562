//! `ragtune compare RUN_A RUN_B [--metric M@K] [--json]`: is B better than A, or only
//! noisier? Setups are matched by config id (else by label), and each pair's paired
//! difference over the questions both runs share is printed with its 95% interval.

use std::io::Write;

use serde_json::json;

use super::loop_stats::{Run, compare};
use crate::UserError;
use crate::cli::CompareArgs;

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let (a, b) = (Run::open(&args.run_a)?, Run::open(&args.run_b)?);
    a.same_corpus_as(&b)?;
    let o = match &args.metric {
        Some(m) => m.parse().map_err(UserError)?,
        None => a.objective()?,
    };
    let (points_a, points_b) = (a.points()?, b.points()?);
    let mut rows = Vec::new();
    let (mut paired, mut without_metric) = (std::collections::HashSet::new(), 0);
    for pa in &points_a {
        let pb = points_b
            .iter()
            .find(|p| p.config_id == pa.config_id)
            .or_else(|| points_b.iter().find(|p| p.label == pa.label));
        let Some(pb) = pb else { continue };
        paired.insert(pb.config_id.as_str());
        let Some(d) = compare(pb, pa, o) else {
            without_metric += 1;
            continue;
        };
        let verdict = match (d.significant(), d.mean > 0.0) {
            (false, _) => Verdict::Same,
            (true, true) => Verdict::Better,
            (true, false) => Verdict::Worse,
        };
        rows.push((pa.label.clone(), pa.config_id.clone(), d, verdict));
    }
    if rows.is_empty() {
        return Err(UserError(format!(
            "no setup of {} is in {} at {o}",
            args.run_a.display(),
            args.run_b.display()
        ))
        .into());
    }
    rows.sort_by(|x, y| x.2.mean.total_cmp(&y.2.mean).reverse().then(x.0.cmp(&y.0)));
    let only_a = points_a.len() - rows.len() - without_metric;
    let only_b = points_b.len() - paired.len();
    let mut out = std::io::stdout().lock();
    if args.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(l, id, d, verdict)| json!({"setup": l, "config_id": id, "metric": o.to_string(), "diff": d.mean, "ci_low": d.low, "ci_high": d.high, "questions": d.n, "verdict": verdict.name()}))
            .collect();
        super::print_json(&mut out, &v)?;
        return Ok(());
    }
    writeln!(
        out,
        "{o}: B − A over shared questions, 95% interval (paired bootstrap)"
    )?;
    for (label, _, d, verdict) in &rows {
        writeln!(
            out,
            "{:>+8.4} [{:+.4}, {:+.4}]  n={:<6} {:<6}  {label}",
            d.mean,
            d.low,
            d.high,
            d.n,
            verdict.name()
        )?;
    }
    let (better, worse) = (
        rows.iter().filter(|r| r.3 == Verdict::Better).count(),
        rows.iter().filter(|r| r.3 == Verdict::Worse).count(),
    );
    writeln!(
        out,
        "{} compared: {better} significantly better, {worse} significantly worse",
        crate::count_of(rows.len(), "setup")
    )?;
    if only_a + only_b + without_metric > 0 {
        writeln!(
            out,
            "not compared: {only_a} only in A, {only_b} only in B, {without_metric} without {o} in one run"
        )?;
    }
    Ok(())
}

/// How setup B compares with setup A on the objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The paired interval holds 0.
    Same,
    /// Significantly higher in B.
    Better,
    /// Significantly lower in B.
    Worse,
}

impl Verdict {
    fn name(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Better => "better",
            Verdict::Worse => "worse",
        }
    }
}
