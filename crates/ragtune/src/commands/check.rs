//! `ragtune check --run DIR [--require "M@K>=X"]… [--baseline RUN --max-drop D]`: a CI
//! gate. Requirements judge the best setup by the lower bound of its 95% interval; a
//! baseline fails the gate when the best setup is significantly worse than the
//! baseline's best by more than the drop. Exit 0 passes, 1 fails (one line per failed
//! condition), 2 is a usage error.

use std::io::Write;

use ragtune_eval::Objective;

use super::loop_stats::{Run, compare, interval};
use crate::UserError;
use crate::cli::CheckArgs;

/// `metric@k>=threshold`.
fn requirement(text: &str) -> Result<(Objective, f64), String> {
    let (o, x) = text.split_once(">=").ok_or_else(|| {
        format!("--require {text:?}: expected metric@k>=threshold, like span_recall@5>=0.85")
    })?;
    let x: f64 = x
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: the threshold is not a number"))?;
    Ok((o.trim().parse()?, x))
}

/// The gate's verdict: the failed conditions, one line each.
pub fn run(args: CheckArgs) -> anyhow::Result<std::process::ExitCode> {
    let reqs: Vec<(Objective, f64)> = args
        .require
        .iter()
        .map(|r| requirement(r))
        .collect::<Result<_, _>>()
        .map_err(UserError)?;
    if reqs.is_empty() && args.baseline.is_none() {
        return Err(UserError(
            "nothing to check: pass --require \"metric@k>=threshold\" (repeatable), --baseline RUN, or both".into(),
        )
        .into());
    }
    let now = Run::open(&args.run)?;
    let best = now.best()?.ok_or_else(|| {
        UserError(format!(
            "{}: the run chose no best setup",
            args.run.display()
        ))
    })?;
    let (mut failed, mut passed) = (Vec::new(), Vec::new());
    for (o, x) in &reqs {
        match interval(&best, *o) {
            Some((mean, lo, hi)) if lo >= *x => passed.push(format!(
                "{o}: {mean:.4} [{lo:.4}, {hi:.4}], lower bound at least {x}"
            )),
            Some((mean, lo, hi)) => failed.push(format!(
                "{o} of {}: {mean:.4} [{lo:.4}, {hi:.4}], lower bound below {x}",
                best.label
            )),
            None => failed.push(format!(
                "{o}: not measured for {} (is {} one of the run's top_k?)",
                best.label, o.k
            )),
        }
    }
    if let Some(base) = &args.baseline {
        let base_run = Run::open(base)?;
        now.same_corpus_as(&base_run)?;
        let o = now.objective()?;
        let base_best = base_run.best()?.ok_or_else(|| {
            UserError(format!(
                "{}: the baseline chose no best setup",
                base.display()
            ))
        })?;
        match compare(&best, &base_best, o) {
            Some(d) if d.high < -args.max_drop => failed.push(format!(
                "{o}: best setup {:+.4} [{:+.4}, {:+.4}] against the baseline's best ({}), worse by more than {}",
                d.mean, d.low, d.high, base_best.label, args.max_drop
            )),
            Some(d) => passed.push(format!(
                "{o}: best setup {:+.4} [{:+.4}, {:+.4}] against the baseline's best ({}), not worse by more than {}",
                d.mean, d.low, d.high, base_best.label, args.max_drop
            )),
            None => failed.push(format!(
                "{o}: no question is measured for both the best setup and the baseline's best ({})",
                base_best.label
            )),
        }
    }
    let mut out = std::io::stdout().lock();
    for f in &failed {
        writeln!(out, "FAIL {f}")?;
    }
    if failed.is_empty() {
        writeln!(out, "PASS {} ({})", best.label, best.config_id)?;
        for p in &passed {
            writeln!(out, "  ok {p}")?;
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    Ok(std::process::ExitCode::from(1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn requirements_parse() {
        let (o, x) = super::requirement("span_recall@5>=0.85").unwrap();
        assert_eq!((o.to_string(), x), ("span_recall@5".to_string(), 0.85));
        assert!(super::requirement("span_recall@5>0.85").is_err());
        assert!(
            super::requirement("acc@5>=0.8")
                .unwrap_err()
                .contains("not a metric")
        );
        assert!(super::requirement("recall@5>=high").is_err());
    }
}
