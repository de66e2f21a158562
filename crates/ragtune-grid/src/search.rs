//! The `[search]` table: how much of the grid to run, and when to stop.

pub use ragtune_eval::Strategy;
use serde::{Deserialize, Serialize};

/// The dimension groups a staged search can vary: each names part of a setup.
/// Dimensions no group names join the last group.
pub const DIMENSIONS: [&str; 9] = [
    "chunking",
    "retriever",
    "model",
    "embedding",
    "index",
    "vectors",
    "fusion",
    "rerank",
    "expand",
];

/// `[search]`, as written (defaults filled by the accessors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    /// `full`, `halving` or `staged`.
    pub strategy: Strategy,
    /// Halving: the share kept at each rung is 1/eta, and the sample grows eta-fold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<usize>,
    /// Halving: the fewest questions a rung scores on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_questions: Option<usize>,
    /// Halving: the smallest share of the corpus a rung holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_docs_fraction: Option<f64>,
    /// Halving: the size of a text region, in bytes, for span-labelled corpora.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_chars: Option<usize>,
    /// Halving: the seed of every sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Staged: the dimension groups, in the order they are optimised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<Vec<String>>>,
    /// Staged: how many runner-up chunkings of the first stage are re-checked with the
    /// final setup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck: Option<usize>,
    /// Stop cleanly once this many seconds have passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seconds: Option<f64>,
    /// Stop cleanly once this many tokens have been embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_embedded_tokens: Option<u64>,
}

impl SearchSpec {
    /// eta (default 3).
    pub fn eta(&self) -> usize {
        self.eta.unwrap_or(3)
    }
    /// min_questions (default 50).
    pub fn min_questions(&self) -> usize {
        self.min_questions.unwrap_or(50)
    }
    /// min_docs_fraction (default 0.1).
    pub fn min_docs_fraction(&self) -> f64 {
        self.min_docs_fraction.unwrap_or(0.1)
    }
    /// region_chars (default 4000).
    pub fn region_chars(&self) -> usize {
        self.region_chars.unwrap_or(4000)
    }
    /// seed (default 0).
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }
    /// recheck (default 2).
    pub fn recheck(&self) -> usize {
        self.recheck.unwrap_or(2)
    }
    /// The staged search's groups (default: chunking; retriever, model, embedding,
    /// index and vectors; fusion). Dimensions no group names join the last group.
    pub fn stages(&self) -> Vec<Vec<String>> {
        let mut groups = self.stages.clone().unwrap_or_else(|| {
            vec![
                vec!["chunking".into()],
                vec![
                    "retriever".into(),
                    "model".into(),
                    "embedding".into(),
                    "index".into(),
                    "vectors".into(),
                ],
                vec!["fusion".into()],
            ]
        });
        for d in DIMENSIONS {
            if !groups.iter().flatten().any(|g| g == d)
                && let Some(last) = groups.last_mut()
            {
                last.push(d.to_string());
            }
        }
        groups
    }

    /// Every value checked: `Err((field, message))` names the first impossible one.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(e) = self.eta
            && !(2..=100).contains(&e)
        {
            return Err(("eta", format!("{e} must lie in [2, 100]")));
        }
        if self.min_questions == Some(0) {
            return Err(("min_questions", "must be at least 1".into()));
        }
        if let Some(f) = self.min_docs_fraction
            && !(f > 0.0 && f <= 1.0)
        {
            return Err((
                "min_docs_fraction",
                format!("{f} is not a share of the corpus in (0, 1]"),
            ));
        }
        if let Some(r) = self.region_chars
            && !(200..=10_000_000).contains(&r)
        {
            return Err(("region_chars", format!("{r} must lie in [200, 10000000]")));
        }
        if let Some(s) = self.max_seconds
            && !(s > 0.0 && s.is_finite())
        {
            return Err((
                "max_seconds",
                format!("{s} is not a positive number of seconds"),
            ));
        }
        if self.max_embedded_tokens == Some(0) {
            return Err(("max_embedded_tokens", "must be at least 1".into()));
        }
        self.check_stages()
    }

    fn check_stages(&self) -> Result<(), (&'static str, String)> {
        let Some(stages) = &self.stages else {
            return Ok(());
        };
        if stages.is_empty() || stages.iter().any(|g| g.is_empty()) {
            return Err((
                "stages",
                "give at least one group, each naming a dimension".into(),
            ));
        }
        let mut seen: Vec<&str> = Vec::new();
        for d in stages.iter().flatten() {
            if !DIMENSIONS.contains(&d.as_str()) {
                return Err((
                    "stages",
                    format!("unknown dimension {d:?}; expected one of {DIMENSIONS:?}"),
                ));
            }
            if seen.contains(&d.as_str()) {
                return Err(("stages", format!("dimension {d:?} is named twice")));
            }
            seen.push(d);
        }
        Ok(())
    }
}
