//! The uncertainty columns of `results.parquet`: every metric's 95% interval over
//! questions, and each setup's paired difference from the best one.
//!
//! - `<metric>_ci_low`, `<metric>_ci_high`: the seeded percentile bootstrap of the row's
//!   mean over its questions ([`ragtune_eval::bootstrap_ci`]; a row of the `tune` or
//!   `test` split resamples that split's questions). Null where the metric does not apply.
//! - `vs_best`, `vs_best_low`, `vs_best_high`: at the objective's k, the mean of
//!   `x_i − best_i` over the questions both setups have in the row's split, with its
//!   bootstrap interval ([`ragtune_eval::paired_diff`]). The best setup's own row is 0.
//! - `near_best`: the interval reaches 0, so the setup is not significantly worse than
//!   the best at the 95% level.
//!
//! A row's intervals depend only on its per-question values (and the bootstrap's seed and
//! resamples), and `vs_best` only on the two setups' paired values: [`row_stats_cached`]
//! keeps both under keys made of exactly those, so a re-run, a grown grid or a halving
//! rung computes none for rows whose values it has seen.

use std::collections::HashMap;

use ragtune_eval::{
    Metric, Objective, PairedDiff, PointRecord, QuestionRow, ResultRow, Split, StatsCache,
    StatsCounts, metric_cis_kept, paired_diff_kept,
};
use rayon::prelude::*;

/// What the columns are relative to.
#[derive(Debug, Clone, Copy)]
pub struct TableContext<'a> {
    /// The sweep's objective: `vs_best` is computed at its k, on its metric.
    pub objective: Objective,
    /// `[select] holdout`, which decides each question's split.
    pub holdout: Option<f64>,
    /// The best setup's config id, if one was chosen.
    pub best: Option<&'a str>,
}

/// The interval columns of one results row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowStats {
    /// Per metric, in [`Metric::ALL`] order.
    pub ci: Vec<Option<(f64, f64)>>,
    /// Paired difference from the best setup (objective's k only).
    pub vs_best: Option<PairedDiff>,
}

impl RowStats {
    /// The 95% interval of metric `m`.
    pub fn interval(&self, m: Metric) -> Option<(f64, f64)> {
        let i = Metric::ALL.iter().position(|&x| x == m)?;
        self.ci.get(i).copied().flatten()
    }

    /// Not significantly worse than the best: the paired interval reaches 0. `None` off
    /// the objective's k.
    pub fn near_best(&self) -> Option<bool> {
        self.vs_best.map(|d| d.high >= 0.0)
    }
}

/// Row statistics keyed by (config id, k, split).
pub type Stats = HashMap<(String, u32, Split), RowStats>;

/// The statistics of `rec`'s row `row`.
pub fn stats_of<'s>(stats: &'s Stats, rec: &PointRecord, row: &ResultRow) -> Option<&'s RowStats> {
    stats.get(&(rec.config_id.clone(), row.top_k, row.split))
}

/// The best setup's objective per question at the objective's k.
fn best_values<'a>(
    records: &'a [PointRecord],
    ctx: &TableContext,
) -> Option<HashMap<&'a str, f64>> {
    let best = records
        .iter()
        .find(|r| Some(r.config_id.as_str()) == ctx.best)?;
    Some(
        best.questions
            .iter()
            .filter(|q| q.top_k as usize == ctx.objective.k)
            .filter_map(|q| Some((q.question_id.as_str(), q.metrics.get(ctx.objective.metric)?)))
            .collect(),
    )
}

/// The statistics of every row of every record.
pub fn row_stats(records: &[PointRecord], ctx: &TableContext) -> Stats {
    row_stats_cached(records, ctx, None, &StatsCounts::default())
}

/// [`row_stats`], reading and keeping each row's intervals and paired difference in
/// `cache`; `counts` says how many were computed and reused.
pub fn row_stats_cached(
    records: &[PointRecord],
    ctx: &TableContext,
    cache: Option<&dyn StatsCache>,
    counts: &StatsCounts,
) -> Stats {
    let best = best_values(records, ctx);
    records
        .par_iter()
        .flat_map_iter(|p| p.rows.iter().map(move |r| (p, r)))
        .map(|(p, r)| {
            let qs: Vec<&QuestionRow> = p
                .questions
                .iter()
                .filter(|q| q.top_k == r.top_k && r.split.holds(&q.question_id, ctx.holdout))
                .collect();
            let vs_best = best
                .as_ref()
                .filter(|_| r.top_k as usize == ctx.objective.k)
                .and_then(|b| {
                    let (x, y): (Vec<f64>, Vec<f64>) = qs
                        .iter()
                        .filter_map(|q| {
                            Some((
                                q.metrics.get(ctx.objective.metric)?,
                                *b.get(q.question_id.as_str())?,
                            ))
                        })
                        .unzip();
                    paired_diff_kept(&x, &y, cache, counts)
                });
            let key = (p.config_id.clone(), r.top_k, r.split);
            (
                key,
                RowStats {
                    ci: metric_cis_kept(&qs, cache, counts),
                    vs_best,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ragtune_core::{ChunkSpec, ChunkerKind, Retriever, Setup};
    use ragtune_eval::{Costs, MetricValues, ResultRow};

    use super::*;

    /// A BM25 setup with one row at k = 1 whose questions score `recall` each.
    pub(super) fn record(size: usize, recall: &[f64]) -> PointRecord {
        let point = Setup {
            chunk: ChunkSpec {
                kind: ChunkerKind::Chars,
                size,
                overlap: 0,
                header: None,
            },
            retriever: Retriever::Bm25,
            rerank: None,
            expand: 0,
        };
        let config_id = point.config_id();
        let questions = recall
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let mut metrics = MetricValues::default();
                metrics.set(Metric::Recall, Some(v));
                QuestionRow {
                    config_id: config_id.clone(),
                    top_k: 1,
                    question_id: format!("q{i}"),
                    metrics,
                    context_tokens: 10,
                    first_relevant_rank: None,
                }
            })
            .collect();
        let row = ResultRow {
            config_id: config_id.clone(),
            top_k: 1,
            split: Split::All,
            n_questions: recall.len() as u32,
            metrics: MetricValues::default(),
            context_tokens: 10.0,
            hnsw_recall_vs_exact: None,
            n_chunks: 1,
            mean_chunk_tokens: 10.0,
            overlap_chars_mean: None,
            overlap_tokens_mean: None,
            overlap_share: None,
            costs: Costs::default(),
        };
        PointRecord {
            equivalent: vec![],
            label: point.label(),
            config_id,
            point,
            rows: vec![row],
            questions,
            search: None,
        }
    }

    #[test]
    fn hand_worked_row_intervals_and_differences_from_the_best() {
        let best = record(100, &[1.0; 20]);
        let half = record(200, &[0.0, 1.0].repeat(10));
        let one_miss = record(300, &[&[0.0][..], &[1.0; 19]].concat());
        let records = [best.clone(), half.clone(), one_miss.clone()];
        let ctx = TableContext {
            objective: "recall@1".parse().unwrap(),
            holdout: None,
            best: Some(&best.config_id),
        };
        let stats = row_stats(&records, &ctx);
        let get = |r: &PointRecord| &stats[&(r.config_id.clone(), 1, Split::All)];

        // All 1: every resample's mean is 1. Metrics without values have no interval.
        assert_eq!(get(&best).interval(Metric::Recall), Some((1.0, 1.0)));
        assert_eq!(get(&best).ci.iter().flatten().count(), 1);
        // The best against itself: 0, not significant, so near the best.
        let d = get(&best).vs_best.unwrap();
        assert_eq!((d.mean, d.low, d.high), (0.0, 0.0, 0.0));
        // Half the questions lost: −0.5, and 20 questions bound it well away from 0.
        let d = get(&half).vs_best.unwrap();
        assert!(d.mean == -0.5 && d.high < 0.0, "{d:?}");
        // One question of 20 lost: −0.05, but a resample often misses that question.
        let d = get(&one_miss).vs_best.unwrap();
        assert!(d.mean == -0.05 && d.high == 0.0, "{d:?}");
        // The row interval is exactly the bootstrap of the row's questions.
        let v: Vec<f64> = [0.0, 1.0].repeat(10);
        assert_eq!(
            get(&half).interval(Metric::Recall),
            ragtune_eval::bootstrap_ci(&v)
        );
    }
}

#[cfg(test)]
mod cache_tests {
    use std::sync::atomic::Ordering;

    use ragtune_eval::MemoryStats;

    use super::*;

    #[test]
    fn kept_statistics_are_the_computed_ones_and_are_reused() {
        let a = super::tests::record(100, &[1.0, 0.0, 1.0, 1.0, 0.5]);
        let b = super::tests::record(200, &[0.0, 0.0, 1.0, 0.25, 0.5]);
        let records = [a.clone(), b];
        let ctx = TableContext {
            objective: "recall@1".parse().unwrap(),
            holdout: None,
            best: Some(&a.config_id),
        };
        let plain = row_stats(&records, &ctx);
        let memory = MemoryStats::default();
        let first = StatsCounts::default();
        assert_eq!(
            row_stats_cached(&records, &ctx, Some(&memory), &first),
            plain
        );
        // Two rows: each its intervals and its paired difference.
        assert_eq!(first.computed.load(Ordering::Relaxed), 4);
        let again = StatsCounts::default();
        assert_eq!(
            row_stats_cached(&records, &ctx, Some(&memory), &again),
            plain
        );
        assert_eq!(again.computed.load(Ordering::Relaxed), 0);
        assert_eq!(again.reused.load(Ordering::Relaxed), 4);
        // A damaged entry is computed again, not trusted.
        memory.edit_entries(|v| v.push(7));
        let damaged = StatsCounts::default();
        assert_eq!(
            row_stats_cached(&records, &ctx, Some(&memory), &damaged),
            plain
        );
        assert_eq!(damaged.computed.load(Ordering::Relaxed), 4);
    }
}
