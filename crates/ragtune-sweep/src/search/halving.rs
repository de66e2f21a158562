//! Successive halving: every setup on a screen, the best 1/eta (by the objective's lower
//! 95% bound) on a screen eta times larger, and so on; the survivors on all the data.

use std::collections::HashMap;
use std::time::Instant;

use ragtune_core::{Corpus, Setup};
use ragtune_eval::{PointRecord, SearchStep, StatsCache, StatsCounts, Strategy};

use crate::StoreStats;
use crate::error::Result;
use crate::record::RunDir;
use crate::search::run::Runner;
use crate::search::verdict::diff;
use crate::search::{
    KeptStats, RankBy, Screen, ScreenParams, SearchRecord, SearchSpec, StepRecord, rank_kept,
    regions, screen,
};

/// One rung of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rung {
    /// 0-based; the last rung scores all the data.
    pub index: usize,
    /// Share of the questions and corpus (before `min_questions` and
    /// `min_docs_fraction` raise it); 1 on the last rung.
    pub fraction: f64,
    /// Setups scored.
    pub setups: usize,
    /// Setups kept for the next rung (the last rung keeps all it scores).
    pub keep: usize,
}

/// The rungs for `n` setups: each keeps ceil(n/eta), until at most eta remain for the
/// last rung, on all the data; rung r of R sees eta^(r-R) of the data.
pub fn schedule(n: usize, eta: usize) -> Vec<Rung> {
    let mut sizes = vec![n];
    while *sizes.last().unwrap_or(&0) > eta {
        let last = sizes[sizes.len() - 1];
        sizes.push(last.div_ceil(eta));
    }
    let last = sizes.len() - 1;
    sizes
        .iter()
        .enumerate()
        .map(|(i, &setups)| Rung {
            index: i,
            fraction: (eta as f64).powi(i as i32 - last as i32),
            setups,
            keep: sizes.get(i + 1).copied().unwrap_or(setups),
        })
        .collect()
}

/// Run a halving search into `run`: screened rungs under `run/rungs/<r>`, the last rung
/// into `run` itself. Returns every setup's last scoring (tagged with its rung; screened
/// ones marked) and what the search did.
pub fn halving(
    r: &Runner,
    spec: &SearchSpec,
    run: &RunDir,
    done: &HashMap<String, PointRecord>,
) -> Result<(Vec<PointRecord>, SearchRecord)> {
    let regs = regions(&r.prep.corpus, spec.region_chars());
    let rungs = schedule(r.grid.points.len(), spec.eta());
    let mut alive: Vec<Setup> = r.grid.points.clone();
    // Each setup's last scoring: a later rung replaces an earlier one.
    let mut latest: HashMap<String, PointRecord> = HashMap::new();
    let mut record = SearchRecord {
        strategy: Strategy::Halving,
        ..SearchRecord::default()
    };
    let mut kept_last = usize::MAX;
    for rung in &rungs {
        if r.budget.reached() {
            record.budget_reached = true;
            break;
        }
        // Once at most eta setups remain (identical chunk sets collapse, so fewer than
        // the schedule planned may be scored), the next rung is the last.
        let is_last = rung.index == rungs.len() - 1 || kept_last <= spec.eta();
        let screened = (!is_last).then(|| screen(&r.prep.corpus, &regs, &params(spec, rung)));
        let (recs, step) = score_rung(r, spec, run, done, &alive, rung.index, screened.as_ref())?;
        kept_last = step.kept.len();
        // A kept setup carries on the setups whose chunk sets were identical to its own
        // on this screen (they may differ on more data).
        let keep = &step.kept;
        let carried: Vec<&String> = recs
            .iter()
            .filter(|p| keep.contains(&p.config_id))
            .flat_map(|p| &p.equivalent)
            .collect();
        alive.retain(|s| keep.contains(&s.config_id()) || carried.contains(&&s.label()));
        latest.extend(recs.into_iter().map(|p| (p.config_id.clone(), p)));
        record.steps.push(step);
        if r.stopped() {
            record.budget_reached = true;
            break;
        }
        if is_last {
            break;
        }
    }
    record.embedded_tokens = r.budget.tokens();
    // In grid order.
    let out = r
        .grid
        .points
        .iter()
        .filter_map(|p| latest.remove(&p.config_id()))
        .collect();
    Ok((out, record))
}

/// A rung as `ragtune plan` shows it before the search runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlannedRung {
    /// The rung.
    pub rung: Rung,
    /// Questions it scores.
    pub questions: usize,
    /// Bytes of corpus text on its screen (all of it on the last rung).
    pub text_bytes: usize,
    /// Bytes of text in the corpus.
    pub total_bytes: usize,
}

/// The schedule of a halving search over `corpus`, with each rung's screen measured.
/// (Identical chunk sets collapse while it runs, so it may end a rung or two earlier.)
pub fn planned_rungs(corpus: &Corpus, spec: &SearchSpec, setups: usize) -> Vec<PlannedRung> {
    let regs = regions(corpus, spec.region_chars());
    let rungs = schedule(setups, spec.eta());
    let total = corpus.total_bytes();
    rungs
        .iter()
        .map(|rung| match rung.index + 1 < rungs.len() {
            true => {
                let s = screen(corpus, &regs, &params(spec, rung));
                PlannedRung {
                    rung: *rung,
                    questions: s.questions.len(),
                    text_bytes: s.bytes,
                    total_bytes: s.total_bytes,
                }
            }
            false => PlannedRung {
                rung: *rung,
                questions: corpus.questions.len(),
                text_bytes: total,
                total_bytes: total,
            },
        })
        .collect()
}

fn params(spec: &SearchSpec, rung: &Rung) -> ScreenParams {
    ScreenParams {
        fraction: rung.fraction,
        min_questions: spec.min_questions(),
        min_docs_fraction: spec.min_docs_fraction(),
        region_chars: spec.region_chars(),
        seed: spec.seed(),
    }
}

/// Score `alive` on `screen` (into `run/rungs/<index>`) or, without one, on all the data
/// (into `run`), tagged with the rung; and the rung's record with the setups it keeps.
fn score_rung(
    r: &Runner,
    spec: &SearchSpec,
    run: &RunDir,
    done: &HashMap<String, PointRecord>,
    alive: &[Setup],
    index: usize,
    screen: Option<&Screen>,
) -> Result<(Vec<PointRecord>, StepRecord)> {
    let t = Instant::now();
    let tokens = r.budget.tokens();
    let mut recs = match screen {
        Some(_) => {
            let dir = RunDir::create(&run.path().join("rungs").join(index.to_string()))?;
            r.run(alive, screen, &dir, &HashMap::new())?
        }
        None => r.run(alive, None, run, done)?,
    };
    for rec in &mut recs {
        rec.search = Some(SearchStep {
            rung: Some(index as u32),
            stage: None,
            screened: screen.is_some(),
        });
    }
    // Intervals and differences are kept in the store: a re-run's rungs read them back.
    let g = r.grid;
    let (store, counts) = (r.store.map(StoreStats::new), StatsCounts::default());
    let stats = KeptStats {
        cache: store.as_ref().map(|s| s as &dyn StatsCache),
        counts: &counts,
    };
    let order = rank_kept(&recs, g, RankBy::LowerBound, stats);
    let n_keep = match screen {
        Some(_) => order.len().div_ceil(spec.eta()),
        None => order.len(),
    };
    // Of the best 1/eta, a setup significantly worse than the rung's leader on this
    // screen (paired 95% interval below 0) goes no further either.
    let leader = order.first().copied();
    let goal = (g.objective, g.select.holdout);
    let worse = |p: &PointRecord| {
        screen.is_some()
            && leader.is_some_and(|l| diff(p, l, goal, stats).is_some_and(|d| d.high < 0.0))
    };
    let kept: Vec<String> = order
        .iter()
        .take(n_keep)
        .filter(|p| !worse(p))
        .map(|p| p.config_id.clone())
        .collect();
    let corpus = &r.prep.corpus;
    let step = StepRecord {
        index,
        what: "rung".into(),
        screened: screen.is_some(),
        fraction: screen.map_or(1.0, |s| s.bytes as f64 / s.total_bytes.max(1) as f64),
        questions: screen.map_or(corpus.questions.len(), |s| s.questions.len()),
        text_bytes: screen.map_or(corpus.total_bytes(), |s| s.bytes),
        setups: recs.len(),
        kept,
        seconds: t.elapsed().as_secs_f64(),
        embedded_tokens: r.budget.tokens() - tokens,
    };
    Ok((recs, step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_keeps_a_third_until_at_most_eta_remain() {
        let s = schedule(56, 3);
        let sizes: Vec<(usize, usize)> = s.iter().map(|r| (r.setups, r.keep)).collect();
        assert_eq!(sizes, [(56, 19), (19, 7), (7, 3), (3, 3)]);
        let f: Vec<f64> = s.iter().map(|r| r.fraction).collect();
        assert_eq!(f, [1.0 / 27.0, 1.0 / 9.0, 1.0 / 3.0, 1.0]);
        let s = schedule(15, 3);
        assert_eq!(
            s.iter().map(|r| (r.setups, r.keep)).collect::<Vec<_>>(),
            [(15, 5), (5, 2), (2, 2)]
        );
        // Few setups: the grid runs whole.
        assert_eq!(schedule(3, 3).len(), 1);
        assert_eq!(schedule(1, 3)[0].fraction, 1.0);
    }
}
