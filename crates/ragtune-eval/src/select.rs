//! The one `[select]` ranking: how setups are ordered when one of them is chosen. The
//! sweep's best.toml, the staged search's winner of each stage, the printed table and
//! the report all order setups by it.
//!
//! A setup is judged by its row at the objective's `k`: the `tune` row when questions
//! are held out, else the `all` row. Setups are ordered by
//! 1. whether that row fits `[select] max_context_tokens` (fitting setups first; only a
//!    fitting setup can be chosen);
//! 2. the objective's mean, higher first (a setup without it comes after every setup
//!    with it);
//! 3. fewer mean context tokens: of two setups equally good, the one that hands the model
//!    less text;
//! 4. the config id, so that the order never depends on the order of the input.
//!
//! Halving's rungs do not choose: they eliminate, on screens, by the lower bound of each
//! setup's interval (the search crate's `RankBy::LowerBound`); the survivors are then
//! chosen between by this rule.

use crate::{Objective, PointRecord, ResultRow, Split};

/// One setup as `[select]` sees it.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'r> {
    /// The setup.
    pub record: &'r PointRecord,
    /// Its row at the objective's `k` (tune split when questions are held out).
    pub row: Option<&'r ResultRow>,
    /// The objective's mean on that row.
    pub value: Option<f64>,
    /// Whether that row fits the context limit.
    pub fits: bool,
}

/// The row a setup is judged by at `k`: with held-out questions the choice is made on the
/// tuning part alone, else on all questions.
pub fn judged_row(rec: &PointRecord, k: usize) -> Option<&ResultRow> {
    let split = if rec.rows.iter().any(|r| r.split == Split::Tune) {
        Split::Tune
    } else {
        Split::All
    };
    rec.rows
        .iter()
        .find(|r| r.top_k as usize == k && r.split == split)
}

/// Every setup of `records`, in the `[select]` order (see the module's documentation).
pub fn select_order<'r>(
    records: impl IntoIterator<Item = &'r PointRecord>,
    objective: Objective,
    max_context_tokens: Option<f64>,
) -> Vec<Judged<'r>> {
    let mut out: Vec<Judged<'r>> = records
        .into_iter()
        .map(|record| {
            let row = judged_row(record, objective.k);
            let fits = row.is_none_or(|r| max_context_tokens.is_none_or(|m| r.context_tokens <= m));
            let value = row.and_then(|r| r.metrics.get(objective.metric));
            Judged {
                record,
                row,
                value,
                fits,
            }
        })
        .collect();
    let tokens = |j: &Judged| j.row.map_or(f64::INFINITY, |r| r.context_tokens);
    out.sort_by(|a, b| {
        b.fits
            .cmp(&a.fits)
            .then(b.value.is_some().cmp(&a.value.is_some()))
            .then(b.value.unwrap_or(0.0).total_cmp(&a.value.unwrap_or(0.0)))
            .then(tokens(a).total_cmp(&tokens(b)))
            .then(a.record.config_id.cmp(&b.record.config_id))
    });
    out
}
