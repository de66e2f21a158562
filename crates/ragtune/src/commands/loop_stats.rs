//! What `compare` and `check` share: per-question values of one metric at one k, read
//! from a run folder's points, and their paired comparison.

use std::collections::BTreeMap;
use std::path::Path;

use ragtune_eval::{Objective, PairedDiff, PointRecord, paired_diff};
use ragtune_sweep::{Manifest, RunDir};

/// A run folder with its manifest; points are read when asked for.
pub struct Run {
    pub dir: RunDir,
    pub manifest: Manifest,
}

impl Run {
    pub fn open(dir: &Path) -> anyhow::Result<Run> {
        let dir = RunDir::open(dir)?;
        Ok(Run {
            manifest: dir.finished()?,
            dir,
        })
    }

    /// Refuse to compare with `other` unless both were swept on the same corpus.
    pub fn same_corpus_as(&self, other: &Run) -> anyhow::Result<()> {
        if self.manifest.corpus_fingerprint == other.manifest.corpus_fingerprint {
            return Ok(());
        }
        Err(crate::UserError(format!(
            "{} and {} were swept on different corpora (fingerprints differ); their scores do not compare",
            self.dir.path().display(),
            other.dir.path().display()
        ))
        .into())
    }

    /// Every scored point.
    pub fn points(&self) -> anyhow::Result<Vec<PointRecord>> {
        Ok(self.dir.read_points()?)
    }

    /// The objective this run was swept with.
    pub fn objective(&self) -> anyhow::Result<Objective> {
        self.manifest
            .objective
            .parse()
            .map_err(|e: String| crate::UserError(e).into())
    }

    /// The run's best setup (best.toml's config id, from the manifest); only its point
    /// is read.
    pub fn best(&self) -> anyhow::Result<Option<PointRecord>> {
        match self.manifest.best_config_id.as_deref() {
            Some(id) => Ok(Some(ragtune_sweep::read_point(&self.dir, id)?)),
            None => Ok(None),
        }
    }
}

/// Question id → value of `o` for `p` (questions where the metric applies).
pub fn per_question(p: &PointRecord, o: Objective) -> BTreeMap<&str, f64> {
    p.questions
        .iter()
        .filter(|q| q.top_k as usize == o.k)
        .filter_map(|q| Some((q.question_id.as_str(), q.metrics.get(o.metric)?)))
        .collect()
}

/// `a − b` over the questions both have.
pub fn compare(a: &PointRecord, b: &PointRecord, o: Objective) -> Option<PairedDiff> {
    let (qa, qb) = (per_question(a, o), per_question(b, o));
    let (x, y): (Vec<f64>, Vec<f64>) = qa
        .iter()
        .filter_map(|(q, v)| Some((*v, *qb.get(q)?)))
        .unzip();
    paired_diff(&x, &y)
}

/// The mean of `o` for `p`, with its 95% interval.
pub fn interval(p: &PointRecord, o: Objective) -> Option<(f64, f64, f64)> {
    let v: Vec<f64> = per_question(p, o).into_values().collect();
    let (lo, hi) = ragtune_eval::bootstrap_ci(&v)?;
    Some((v.iter().sum::<f64>() / v.len() as f64, lo, hi))
}
