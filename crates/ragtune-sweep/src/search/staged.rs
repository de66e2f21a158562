//! Staged search: optimise one dimension group at a time, in a declared order, freezing
//! each winner; then re-check the final setup with the first stage's runner-ups.
//!
//! Each stage scores, for every value the group takes among the setups that match the
//! frozen winners, the first such setup in grid order: the dimensions of later groups sit
//! at the first values the grid lists for them. Every setup is scored on all the data,
//! so all of them compare directly.

use std::collections::HashMap;
use std::time::Instant;

use ragtune_core::Setup;
use ragtune_eval::{PointRecord, SearchStep, Strategy};

use crate::error::Result;
use crate::record::RunDir;
use crate::search::run::Runner;
use crate::search::{RankBy, SearchRecord, SearchSpec, StepRecord, rank};

/// The value a setup takes on one dimension (`-` where the dimension does not apply).
pub fn dimension_key(setup: &Setup, dimension: &str) -> String {
    let r = &setup.retriever;
    match dimension {
        "chunking" => setup.chunk.to_string(),
        "retriever" => r.name().to_string(),
        "model" => setup.model().unwrap_or("-").to_string(),
        "embedding" => r
            .vector()
            .map_or("-".into(), |v| v.embedding.name().to_string()),
        "index" => r.vector().map_or("-".into(), |v| {
            serde_json::to_string(&v.index).unwrap_or_default()
        }),
        "vectors" => r
            .vector()
            .map_or("-".into(), |v| format!("{}×{}", v.format.name(), v.rescore)),
        "fusion" => r.fusion().map_or("-".into(), |f| {
            serde_json::to_string(&f).unwrap_or_default()
        }),
        "expand" => setup.expand.to_string(),
        "rerank" => (setup.rerank.as_ref()).map_or("none".into(), |x| {
            format!("{}@{}", x.by.spelling(), x.depth)
        }),
        _ => String::new(),
    }
}

fn group_key(setup: &Setup, group: &[String]) -> Vec<String> {
    group.iter().map(|d| dimension_key(setup, d)).collect()
}

/// One stage's candidates: per distinct value of `group` among the setups matching
/// `frozen`, the first such setup in grid order.
fn candidates(
    grid: &[Setup],
    frozen: &[(Vec<String>, Vec<String>)],
    group: &[String],
) -> Vec<Setup> {
    let mut seen: Vec<Vec<String>> = Vec::new();
    let mut out = Vec::new();
    for s in grid {
        if !frozen.iter().all(|(g, v)| &group_key(s, g) == v) {
            continue;
        }
        let k = group_key(s, group);
        if !seen.contains(&k) {
            seen.push(k);
            out.push(s.clone());
        }
    }
    out
}

/// Per stage group, how many distinct values the grid's setups take on it: the most
/// setups that stage can score.
pub fn planned_stages(points: &[Setup], spec: &SearchSpec) -> Vec<(String, usize)> {
    spec.stages()
        .iter()
        .map(|g| {
            let mut keys: Vec<Vec<String>> = points.iter().map(|p| group_key(p, g)).collect();
            keys.sort();
            keys.dedup();
            (g.join("+"), keys.len())
        })
        .collect()
}

/// Run a staged search into `run`. Returns every setup scored (tagged with its stage)
/// and what the search did.
pub fn staged(
    r: &Runner,
    spec: &SearchSpec,
    run: &RunDir,
    done: &HashMap<String, PointRecord>,
) -> Result<(Vec<PointRecord>, SearchRecord)> {
    let groups = spec.stages();
    let mut scored: HashMap<String, PointRecord> = done.clone();
    let mut order: Vec<String> = Vec::new();
    let mut frozen: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut record = SearchRecord {
        strategy: Strategy::Staged,
        ..SearchRecord::default()
    };
    let mut first_ranking: Vec<Setup> = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let cands = candidates(&r.grid.points, &frozen, group);
        let Some(recs) = step(r, run, &mut scored, &mut order, &cands, i, &mut record)? else {
            break;
        };
        let ranked = rank(&recs, r.grid, RankBy::Select);
        let Some(winner) = ranked.first() else { break };
        if i == 0 {
            first_ranking = ranked.iter().map(|p| p.point.clone()).collect();
        }
        record.steps.last_mut().expect("a step was recorded").what = group.join("+");
        frozen.push((group.clone(), group_key(&winner.point, group)));
    }
    if !record.budget_reached && groups.len() > 1 {
        recheck(
            r,
            spec,
            run,
            (&mut scored, &mut order),
            &first_ranking,
            &mut record,
        )?;
    }
    record.notes.push(format!(
        "staged search: one dimension group at a time ({}); dimensions may interact, so the full grid's best may lie outside the setups scored",
        groups.iter().map(|g| g.join("+")).collect::<Vec<_>>().join(", then ")
    ));
    record.embedded_tokens = r.budget.tokens();
    let out = order
        .into_iter()
        .filter_map(|id| scored.remove(&id))
        .collect();
    Ok((out, record))
}

/// Score `cands` as stage `index` (setups scored before are reused); `None` when the
/// budget stopped the search before or during it.
fn step(
    r: &Runner,
    run: &RunDir,
    scored: &mut HashMap<String, PointRecord>,
    order: &mut Vec<String>,
    cands: &[Setup],
    index: usize,
    record: &mut SearchRecord,
) -> Result<Option<Vec<PointRecord>>> {
    if r.budget.reached() {
        record.budget_reached = true;
        return Ok(None);
    }
    let t = Instant::now();
    let tokens = r.budget.tokens();
    let mut recs = r.run(cands, None, run, scored)?;
    for p in &mut recs {
        if p.search.is_none() {
            p.search = Some(SearchStep {
                rung: None,
                stage: Some(index as u32),
                screened: false,
            });
        }
        if !scored.contains_key(&p.config_id) {
            order.push(p.config_id.clone());
        }
        scored.insert(p.config_id.clone(), p.clone());
    }
    let ranked: Vec<String> = rank(&recs, r.grid, RankBy::Select)
        .iter()
        .map(|p| p.config_id.clone())
        .collect();
    record.steps.push(StepRecord {
        index,
        what: String::new(),
        screened: false,
        fraction: 1.0,
        questions: r.prep.corpus.questions.len(),
        text_bytes: r.prep.corpus.total_bytes(),
        setups: recs.len(),
        kept: ranked.into_iter().take(1).collect(),
        seconds: t.elapsed().as_secs_f64(),
        embedded_tokens: r.budget.tokens() - tokens,
    });
    let stopped = r.stopped();
    if stopped {
        record.budget_reached = true;
    }
    Ok(Some(recs))
}

/// The final setup with the first group's values of each of the first stage's best
/// `recheck` runner-ups, where the grid has that setup.
fn recheck(
    r: &Runner,
    spec: &SearchSpec,
    run: &RunDir,
    (scored, order): (&mut HashMap<String, PointRecord>, &mut Vec<String>),
    first_ranking: &[Setup],
    record: &mut SearchRecord,
) -> Result<()> {
    let groups = spec.stages();
    let Some(best) = rank(scored.values(), r.grid, RankBy::Select)
        .first()
        .map(|p| p.point.clone())
    else {
        return Ok(());
    };
    let first = &groups[0];
    let rest: Vec<String> = groups[1..].iter().flatten().cloned().collect();
    let cands: Vec<Setup> = first_ranking
        .iter()
        .skip(1)
        .take(spec.recheck())
        .filter_map(|runner_up| {
            r.grid.points.iter().find(|p| {
                group_key(p, first) == group_key(runner_up, first)
                    && group_key(p, &rest) == group_key(&best, &rest)
            })
        })
        .filter(|p| !scored.contains_key(&p.config_id()))
        .cloned()
        .collect();
    if cands.is_empty() {
        return Ok(());
    }
    let index = record.steps.len();
    if step(r, run, scored, order, &cands, index, record)?.is_some() {
        record.steps.last_mut().expect("a step was recorded").what = "recheck".into();
    }
    Ok(())
}
