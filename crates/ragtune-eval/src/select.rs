//! The one `[select]` ranking: how setups are ordered when one of them is chosen. The
//! sweep's best.toml, the staged search's winner of each stage, the printed table and
//! the report all order setups by it.
//!
//! A setup is judged by its row at the objective's `k`: the `tune` row when questions
//! are held out, else the `all` row. Setups are ordered by
//! 1. whether that row fits `[select]`'s limits ([`Limits`]: mean context tokens, p99
//!    latency, index bytes; fitting setups first; only a fitting setup can be chosen);
//! 2. the objective's mean, higher first (a setup without it comes after every setup
//!    with it);
//! 3. fewer mean context tokens: of two setups equally good, the one that hands the model
//!    less text;
//! 4. the config id, so that the order never depends on the order of the input.
//!
//! Halving's rungs do not choose: they eliminate, on screens, by the lower bound of each
//! setup's interval (the search crate's `RankBy::LowerBound`); the survivors are then
//! chosen between by this rule.

use serde::{Deserialize, Serialize};

use crate::{Objective, PointRecord, ResultRow, Split};

/// One of `[select]`'s limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `max_context_tokens`: mean context tokens at the objective's k.
    ContextTokens,
    /// `max_p99_ms`: the 99th-percentile query latency.
    P99Ms,
    /// `max_index_bytes`: the bytes the index holds for search.
    IndexBytes,
}

impl Limit {
    /// Every limit, in the order tables list them.
    pub const ALL: [Limit; 3] = [Limit::ContextTokens, Limit::P99Ms, Limit::IndexBytes];
    /// Its key in `[select]`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::ContextTokens => "max_context_tokens",
            Limit::P99Ms => "max_p99_ms",
            Limit::IndexBytes => "max_index_bytes",
        }
    }
}

/// `[select]`'s limits: a setup whose judged row exceeds any of them never wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most mean context tokens at the objective's k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_context_tokens: Option<f64>,
    /// Most 99th-percentile query latency, ms (`query_ms_p99`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p99_ms: Option<f64>,
    /// Most bytes the index holds for search (`index_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_index_bytes: Option<u64>,
}

impl Limits {
    /// No limit at all.
    pub const NONE: Limits = Limits {
        max_context_tokens: None,
        max_p99_ms: None,
        max_index_bytes: None,
    };

    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        Limit::ALL.iter().any(|&l| self.is_set(l))
    }

    /// Whether `limit` is set.
    pub fn is_set(&self, limit: Limit) -> bool {
        match limit {
            Limit::ContextTokens => self.max_context_tokens.is_some(),
            Limit::P99Ms => self.max_p99_ms.is_some(),
            Limit::IndexBytes => self.max_index_bytes.is_some(),
        }
    }

    /// Whether `row` exceeds `limit` (never, when it is not set).
    pub fn exceeds(&self, row: &ResultRow, limit: Limit) -> bool {
        match limit {
            Limit::ContextTokens => self
                .max_context_tokens
                .is_some_and(|m| row.context_tokens > m),
            Limit::P99Ms => self.max_p99_ms.is_some_and(|m| row.costs.query_ms_p99 > m),
            Limit::IndexBytes => self
                .max_index_bytes
                .is_some_and(|m| row.costs.index_bytes > m),
        }
    }

    /// Whether `row` is within every limit.
    pub fn fits(&self, row: &ResultRow) -> bool {
        Limit::ALL.iter().all(|&l| !self.exceeds(row, l))
    }
}

/// One setup as `[select]` sees it.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'r> {
    /// The setup.
    pub record: &'r PointRecord,
    /// Its row at the objective's `k` (tune split when questions are held out).
    pub row: Option<&'r ResultRow>,
    /// The objective's mean on that row.
    pub value: Option<f64>,
    /// Whether that row fits every limit.
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
    limits: &Limits,
) -> Vec<Judged<'r>> {
    let mut out: Vec<Judged<'r>> = records
        .into_iter()
        .map(|record| {
            let row = judged_row(record, objective.k);
            let fits = row.is_none_or(|r| limits.fits(r));
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
