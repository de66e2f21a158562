//! Shards: one grid's sweep split over N processes — the array tasks of a Slurm job, the
//! pods of a Kubernetes Indexed Job, or plain processes — that share one stage store and
//! one run folder on a shared filesystem.
//!
//! - [`ShardPlan`] assigns the plan's costly work to shards, deterministically and
//!   balanced by estimated tokens: embedding (each chunk set and model, split further by
//!   document ranges), then scoring (the setups, grouped by the vectors or BM25 index
//!   they share, so that each graph and index is built by one shard).
//! - [`run_shard`] embeds the shard's document ranges into the store's embedding table,
//!   then scores its setups, writing each point as it goes and its record,
//!   `shards/shard-I-of-N.json`, at the start and the end. A setup whose vectors another
//!   shard has not finished embeds what is missing itself: entries are content-addressed
//!   and written by rename, so a duplicate costs time, never correctness. A killed shard,
//!   rerun, keeps its written points and the store's entries and redoes the rest.
//! - [`merge_shards`] refuses, listing what is missing, until every shard is complete;
//!   then it returns the points in the order one process would have scored them and one
//!   manifest with every shard's host and timings.

mod assign;
mod run;

pub use assign::{EmbedUnit, Piece, ShardPlan, estimated_doc_tokens, imbalance};
pub use run::{
    MergeLock, ShardRecord, ShardSummary, all_complete, merge_shards, read_records, run_shard,
};

use serde::{Deserialize, Serialize};

/// The run folder's subfolder of shard records.
pub const SHARDS_DIR: &str = "shards";

/// Shard `index` of `count` (`index` counts from 0, as Slurm array and Kubernetes
/// completion indexes do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardId {
    /// Which shard, from 0.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl std::fmt::Display for ShardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl ShardId {
    /// Shard `index` of `count`, refusing an index out of range.
    pub fn new(index: usize, count: usize) -> std::result::Result<Self, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range for {count} shards (indexes run from 0 to {})",
                count - 1
            ));
        }
        Ok(Self { index, count })
    }

    /// `I/N`, as `--shard` takes it.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let number = |part: &str, what: &str| {
            part.trim()
                .parse::<usize>()
                .map_err(|_| format!("{s:?}: the {what} {part:?} is not a whole number; expected I/N, such as 0/4, or auto"))
        };
        let (i, n) = s.split_once('/').ok_or_else(|| {
            format!("{s:?}: expected I/N (shard I of N, I from 0), such as 0/4, or auto")
        })?;
        Self::new(number(i, "index")?, number(n, "count")?)
    }

    /// The shard the scheduler started this process as: a Slurm array task
    /// (`SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`),
    /// else a Kubernetes Indexed Job's pod (`JOB_COMPLETION_INDEX`, of `shards`).
    pub fn from_env(
        var: &dyn Fn(&str) -> Option<String>,
        shards: Option<usize>,
    ) -> std::result::Result<Self, String> {
        let num = |name: &str| -> std::result::Result<Option<usize>, String> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("{name}={v:?} is not a whole number"))
                })
                .transpose()
        };
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let count = num("SLURM_ARRAY_TASK_COUNT")?
                .ok_or("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not")?;
            if let Some(n) = shards
                && n != count
            {
                return Err(format!(
                    "--shards {n} disagrees with the Slurm array's {count} tasks (SLURM_ARRAY_TASK_COUNT)"
                ));
            }
            return Self::new(id.saturating_sub(min), count);
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = shards.ok_or(
                "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give the job's completions as --shards N",
            )?;
            return Self::new(index, count);
        }
        Err("--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm array task) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; give --shard I/N".into())
    }

    /// The shard's record file name.
    pub fn file_name(self) -> String {
        format!("shard-{}-of-{}.json", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shard_ids_parse_and_refuse_what_is_out_of_range() {
        assert_eq!(
            ShardId::parse("2/3").unwrap(),
            ShardId { index: 2, count: 3 }
        );
        assert!(ShardId::parse("3/3").unwrap_err().contains("out of range"));
        assert!(ShardId::parse("0/0").unwrap_err().contains("at least 1"));
        assert!(
            ShardId::parse("a/3")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(ShardId::parse("3").unwrap_err().contains("expected I/N"));
    }

    #[test]
    fn slurm_and_kubernetes_environments_name_the_shard() {
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert_eq!(
            ShardId::from_env(&slurm, None).unwrap(),
            ShardId { index: 1, count: 3 }
        );
        assert!(
            ShardId::from_env(&slurm, Some(4))
                .unwrap_err()
                .contains("disagrees")
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "6")]);
        assert_eq!(
            ShardId::from_env(&k8s, Some(7)).unwrap(),
            ShardId { index: 6, count: 7 }
        );
        assert!(
            ShardId::from_env(&k8s, None)
                .unwrap_err()
                .contains("--shards")
        );
        assert!(
            ShardId::from_env(&k8s, Some(6))
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            ShardId::from_env(&env(&[]), Some(2))
                .unwrap_err()
                .contains("neither")
        );
    }
}
