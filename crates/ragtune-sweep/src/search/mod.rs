//! Searching a grid without running all of it: successive halving on screens of the
//! data ([`halving`]), one dimension group at a time ([`staged`]), and budgets that stop
//! either cleanly.

mod halving;
mod run;
mod staged;
mod verdict;

use ragtune_eval::{Objective, PointRecord, Split, StatsCache, StatsCounts, split_of};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::budget::Budget;
pub use crate::screen::{Region, Screen, ScreenParams, regions, screen};
pub use halving::{PlannedRung, Rung, halving, planned_rungs, schedule};
use ragtune_grid::{SearchSpec, Strategy};
pub(crate) use run::Runner;
pub use staged::{dimension_key, planned_stages, staged};
pub use verdict::against_eliminated;

/// Where a search keeps its intervals and paired differences ([`crate::StoreStats`]), and
/// the counts of those computed and read back.
#[derive(Clone, Copy)]
pub struct KeptStats<'a> {
    /// The store, or none (then every statistic is computed).
    pub cache: Option<&'a dyn StatsCache>,
    /// What was computed and read back.
    pub counts: &'a StatsCounts,
}

/// What a search did, for the manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchRecord {
    /// `halving` or `staged` (`full` for a budget on a full grid).
    pub strategy: Strategy,
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
    /// `rung 0` (a halving search's step), or `stage 1 (retriever+model+index)`.
    pub fn label(&self, strategy: Strategy) -> String {
        match strategy {
            Strategy::Halving => format!("rung {}", self.index),
            Strategy::Staged | Strategy::Full => format!("stage {} ({})", self.index, self.what),
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
        .filter(move |q| holdout.is_none_or(|h| split_of(&q.question_id, h) == Split::Tune))
        .filter_map(move |q| Some((q.question_id.as_str(), q.metrics.get(objective.metric)?)))
}

/// A setup's objective over its questions: (lower 95% bound, mean), the questions held
/// out by `[select] holdout` excluded; the interval read from `stats` where an earlier run
/// kept it. A setup without the objective's k ranks last.
pub(crate) fn lower_bound(
    rec: &PointRecord,
    (objective, holdout): (Objective, Option<f64>),
    stats: KeptStats,
) -> (f64, f64) {
    let values: Vec<f64> = objective_values(rec, objective, holdout)
        .map(|(_, v)| v)
        .collect();
    if values.is_empty() {
        return (f64::NEG_INFINITY, f64::NEG_INFINITY);
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let low =
        ragtune_eval::interval_kept(&values, stats.cache, stats.counts).map_or(mean, |(lo, _)| lo);
    (low, mean)
}

/// What a search ranks setups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    /// The lower bound of the objective's 95% interval, then its mean: how halving's
    /// rungs eliminate on a screen (a setup goes only when it is likely worse).
    LowerBound,
    /// The one `[select]` order ([`ragtune_eval::select_order`]): how a choice is made,
    /// by the staged search's stages as by the sweep's best.toml.
    Select,
}

/// `records` best first by `by`; setups over a `[select]` limit at the objective's k
/// go last.
pub fn rank<'r>(
    records: impl IntoIterator<Item = &'r PointRecord>,
    grid: &ragtune_grid::Grid,
    by: RankBy,
) -> Vec<&'r PointRecord> {
    let counts = StatsCounts::default();
    let stats = KeptStats {
        cache: None,
        counts: &counts,
    };
    rank_kept(records, grid, by, stats)
}

/// [`rank`], the lower bounds computed in parallel and read from `stats` where kept.
pub fn rank_kept<'r>(
    records: impl IntoIterator<Item = &'r PointRecord>,
    grid: &ragtune_grid::Grid,
    by: RankBy,
    stats: KeptStats,
) -> Vec<&'r PointRecord> {
    let goal = (grid.objective, grid.select.holdout);
    let judged = ragtune_eval::select_order(records, goal.0, &grid.select.limits());
    if by == RankBy::Select {
        return judged.into_iter().map(|j| j.record).collect();
    }
    let mut keyed: Vec<(bool, (f64, f64), &PointRecord)> = judged
        .into_par_iter()
        .map(|j| (j.fits, lower_bound(j.record, goal, stats), j.record))
        .collect();
    keyed.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.0.total_cmp(&a.1.0))
            .then(b.1.1.total_cmp(&a.1.1))
            .then(a.2.config_id.cmp(&b.2.config_id))
    });
    keyed.into_iter().map(|k| k.2).collect()
}
