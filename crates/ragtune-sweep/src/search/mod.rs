//! Searching a grid without running all of it: successive halving on screens of the
//! data ([`halving`]), one dimension group at a time ([`staged`]), and budgets that stop
//! either cleanly.

mod halving;
mod run;
mod screen;
mod spec;
mod staged;
mod verdict;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ragtune_eval::{Objective, PointRecord, split_of};
use serde::{Deserialize, Serialize};

pub use halving::{PlannedRung, Rung, halving, planned_rungs, schedule};
pub(crate) use run::Runner;
pub use screen::{Region, Screen, ScreenParams, regions, screen};
pub use spec::{DIMENSIONS, SearchSpec, Strategy};
pub use staged::{dimension_key, planned_stages, staged};
pub use verdict::against_eliminated;

/// When a search stops: a wall-clock limit and a limit on tokens embedded, shared by
/// every execution of one sweep.
#[derive(Debug, Clone)]
pub struct Budget {
    inner: Arc<BudgetInner>,
}

#[derive(Debug)]
struct BudgetInner {
    started: Instant,
    max_seconds: Option<f64>,
    max_tokens: Option<u64>,
    tokens: AtomicU64,
}

impl Budget {
    /// A budget starting now.
    pub fn new(max_seconds: Option<f64>, max_tokens: Option<u64>) -> Self {
        Self {
            inner: Arc::new(BudgetInner {
                started: Instant::now(),
                max_seconds,
                max_tokens,
                tokens: AtomicU64::new(0),
            }),
        }
    }

    /// Count `n` more tokens embedded.
    pub fn add_tokens(&self, n: u64) {
        self.inner.tokens.fetch_add(n, Ordering::Relaxed);
    }

    /// Tokens embedded so far.
    pub fn tokens(&self) -> u64 {
        self.inner.tokens.load(Ordering::Relaxed)
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    /// Whether it sets any limit.
    pub fn is_limited(&self) -> bool {
        self.inner.max_seconds.is_some() || self.inner.max_tokens.is_some()
    }

    /// Whether either limit is reached.
    pub fn reached(&self) -> bool {
        self.inner.max_seconds.is_some_and(|m| self.seconds() >= m)
            || self.inner.max_tokens.is_some_and(|m| self.tokens() >= m)
    }
}

/// What a search did, for the manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchRecord {
    /// `halving` or `staged`.
    pub strategy: String,
    /// Each rung (halving) or stage (staged), in order.
    pub steps: Vec<StepRecord>,
    /// Whether a budget stopped the search.
    pub budget_reached: bool,
    /// Tokens embedded over the whole search.
    pub embedded_tokens: u64,
    /// Warnings about what the search could not see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One rung or stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// 0-based.
    pub index: usize,
    /// What it varied (staged) or `rung` (halving).
    pub what: String,
    /// Whether it scored on a screen rather than on all the data.
    pub screened: bool,
    /// Share of the corpus text it scored on (1 for all the data).
    pub fraction: f64,
    /// Questions scored.
    pub questions: usize,
    /// Bytes of corpus text the screen kept (the whole corpus for a full step).
    pub text_bytes: usize,
    /// Setups scored.
    pub setups: usize,
    /// Setups passed on to the next step (config ids), best first.
    pub kept: Vec<String>,
    /// Wall seconds.
    pub seconds: f64,
    /// Tokens embedded during the step.
    pub embedded_tokens: u64,
}

impl StepRecord {
    /// `rung 0`, or `stage 1 (retriever+model+index)`.
    pub fn label(&self) -> String {
        if self.what == "rung" {
            format!("rung {}", self.index)
        } else {
            format!("stage {} ({})", self.index, self.what)
        }
    }

    /// What it scored on, in words: `50 questions, 12.4% of the text`, or
    /// `all 472 questions`.
    pub fn data(&self) -> String {
        if self.screened {
            format!(
                "{} questions, {:.1}% of the text",
                self.questions,
                100.0 * self.fraction
            )
        } else {
            format!("all {} questions", self.questions)
        }
    }
}

/// A setup's objective per question at the objective's k, the questions held out by
/// `[select] holdout` excluded: what every search decision is made on.
pub(crate) fn objective_values(
    rec: &PointRecord,
    objective: Objective,
    holdout: Option<f64>,
) -> impl Iterator<Item = (&str, f64)> {
    rec.questions
        .iter()
        .filter(move |q| q.top_k as usize == objective.k)
        .filter(move |q| holdout.is_none_or(|h| split_of(&q.question_id, h) == "tune"))
        .filter_map(move |q| Some((q.question_id.as_str(), q.metrics.get(objective.metric)?)))
}

/// A setup's objective over its questions: (lower 95% bound, mean), the questions held
/// out by `[select] holdout` excluded. A setup without the objective's k ranks last.
pub fn lower_bound(rec: &PointRecord, objective: Objective, holdout: Option<f64>) -> (f64, f64) {
    let values: Vec<f64> = objective_values(rec, objective, holdout)
        .map(|(_, v)| v)
        .collect();
    if values.is_empty() {
        return (f64::NEG_INFINITY, f64::NEG_INFINITY);
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let low = ragtune_eval::bootstrap_ci(&values).map_or(mean, |(lo, _)| lo);
    (low, mean)
}

/// What a search ranks setups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    /// The lower bound of the objective's 95% interval, then its mean (halving's rungs).
    LowerBound,
    /// The objective's mean, then its lower bound (staged search, as `[select]` chooses).
    Mean,
}

/// `records` best first by `by` (ties broken by the other key, then the id); setups over
/// `max_context_tokens` at the objective's k go last.
pub fn rank<'r>(
    records: impl IntoIterator<Item = &'r PointRecord>,
    grid: &crate::grid::Grid,
    by: RankBy,
) -> Vec<&'r PointRecord> {
    let (objective, holdout) = (grid.objective, grid.select.holdout);
    let fits = |r: &PointRecord| {
        grid.select.max_context_tokens.is_none_or(|m| {
            r.rows
                .iter()
                .find(|row| row.top_k as usize == objective.k && row.split == "all")
                .is_none_or(|row| row.context_tokens <= m)
        })
    };
    let mut keyed: Vec<(bool, (f64, f64), &PointRecord)> = records
        .into_iter()
        .map(|r| {
            let (lo, mean) = lower_bound(r, objective, holdout);
            let key = match by {
                RankBy::LowerBound => (lo, mean),
                RankBy::Mean => (mean, lo),
            };
            (fits(r), key, r)
        })
        .collect();
    keyed.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.0.total_cmp(&a.1.0))
            .then(b.1.1.total_cmp(&a.1.1))
            .then(a.2.config_id.cmp(&b.2.config_id))
    });
    keyed.into_iter().map(|k| k.2).collect()
}
