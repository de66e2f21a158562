//! How a halving winner compares with the setups eliminated in the last two screened
//! rungs: on each rung's own screen, where both were scored on the same questions.

use std::collections::HashMap;
use std::path::Path;

use ragtune_eval::{Eliminated, Objective, PairedDiff, PointRecord, paired_diff_kept};

use crate::error::{Result, SweepError};
use crate::search::{KeptStats, SearchRecord, objective_values};

fn read(path: &Path) -> Result<Option<PointRecord>> {
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| SweepError::io(path, e))?;
    Ok(serde_json::from_slice(&bytes).ok())
}

/// `a − b` on the objective over the questions both were scored on, paired; read from
/// `stats` where an earlier run kept the same pair's difference.
pub(crate) fn diff(
    a: &PointRecord,
    b: &PointRecord,
    (o, h): (Objective, Option<f64>),
    stats: KeptStats,
) -> Option<PairedDiff> {
    let values = |p| objective_values(p, o, h).collect::<HashMap<&str, f64>>();
    let (va, vb) = (values(a), values(b));
    let mut ids: Vec<&&str> = va.keys().filter(|k| vb.contains_key(**k)).collect();
    ids.sort();
    let x: Vec<f64> = ids.iter().map(|k| va[**k]).collect();
    let y: Vec<f64> = ids.iter().map(|k| vb[**k]).collect();
    paired_diff_kept(&x, &y, stats.cache, stats.counts)
}

/// The winner `best` of the halving run in `run` against every setup eliminated in the
/// last two screened rungs, read from `run/rungs/<r>/points`; the paired differences are
/// kept in `stats`, and read back by a re-run.
pub fn against_eliminated(
    run: &Path,
    search: &SearchRecord,
    best: &str,
    goal: (Objective, Option<f64>),
    stats: KeptStats,
) -> Result<Vec<Eliminated>> {
    let screened: Vec<usize> = search
        .steps
        .iter()
        .filter(|s| s.screened)
        .map(|s| s.index)
        .collect();
    let mut out = Vec::new();
    for &rung in screened.iter().rev().take(2).rev() {
        let dir = run.join("rungs").join(rung.to_string()).join("points");
        let Some(winner) = read(&dir.join(format!("{best}.json")))? else {
            continue;
        };
        let kept = &search.steps[rung].kept;
        let mut ids: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| SweepError::io(&dir, e))?
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(String::from)
            })
            .filter(|id| !kept.contains(id))
            .collect();
        ids.sort();
        for id in ids {
            let Some(other) = read(&dir.join(format!("{id}.json")))? else {
                continue;
            };
            if let Some(d) = diff(&winner, &other, goal, stats) {
                out.push(Eliminated {
                    config_id: id,
                    label: other.label,
                    rung,
                    winner_minus_it: d.mean,
                    low: d.low,
                    high: d.high,
                    questions: d.n,
                    significant: d.significant(),
                });
            }
        }
    }
    Ok(out)
}
