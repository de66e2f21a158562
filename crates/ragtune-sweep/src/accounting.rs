//! What executions did, in one type: a full sweep, each search strategy and each shard
//! add their executions up with it and write it into the manifest the same way.

use std::collections::BTreeMap;

use ragtune_store::StageStore;

use crate::models::{ModelInfo, Models};
use crate::record::{EmbedRecord, Manifest, StageRecord};

/// Stage counts, embedding work and warnings of one or more executions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accounting {
    /// Per stage kind: nodes, computed, reused (kinds in the order first seen).
    pub stages: Vec<StageRecord>,
    /// Embedding work, per request.
    pub embeddings: Vec<EmbedRecord>,
    /// Warnings for the manifest, each once.
    pub warnings: Vec<String>,
    /// Whether a budget stopped an execution before every setup was scored.
    pub stopped: bool,
}

impl Accounting {
    /// Add another execution's accounting: stage counts summed by kind, embedding work
    /// appended, the stop kept, and its warnings unless `warnings` is false (a halving
    /// screen's warnings are about a sample of the corpus).
    pub fn add(&mut self, other: Accounting, warnings: bool) {
        for s in other.stages {
            match self.stages.iter_mut().find(|e| e.kind == s.kind) {
                Some(e) => {
                    e.nodes += s.nodes;
                    e.computed += s.computed;
                    e.reused += s.reused;
                }
                None => self.stages.push(s),
            }
        }
        self.embeddings.extend(other.embeddings);
        if warnings {
            for w in other.warnings {
                if !self.warnings.contains(&w) {
                    self.warnings.push(w);
                }
            }
        }
        self.stopped |= other.stopped;
    }

    /// Write it into `m`, with the totals derived from it: cache hits and misses,
    /// truncations, damaged store entries, and the execution provider of a model loaded.
    pub fn write_into(
        &self,
        m: &mut Manifest,
        infos: &BTreeMap<String, ModelInfo>,
        store: Option<&StageStore>,
        models: &dyn Models,
    ) {
        m.stages = self.stages.clone();
        m.embeddings = self.embeddings.clone();
        m.warnings = self.warnings.clone();
        m.cache_hits = m.embeddings.iter().map(|e| e.cache_hits).sum();
        m.cache_misses = m.embeddings.iter().map(|e| e.cache_misses).sum();
        m.truncated = m.embeddings.iter().map(|e| e.truncated).sum();
        m.corrupt_entries = store.map_or(0, |s| s.counts().values().map(|c| c.corrupt).sum());
        // The provider of a model this run loaded (none is loaded when all was stored).
        m.execution_provider = m
            .embeddings
            .first()
            .and_then(|e| {
                let name = infos.iter().find(|(_, i)| i.record.name == e.model)?.0;
                models.load(name).ok()
            })
            .map(|e| e.provider().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(kind: &str, nodes: usize, computed: usize, reused: usize) -> StageRecord {
        StageRecord {
            kind: kind.into(),
            nodes,
            computed,
            reused,
        }
    }

    #[test]
    fn adding_sums_stages_by_kind_and_keeps_warnings_once() {
        let mut a = Accounting {
            stages: vec![stage("chunks", 2, 2, 0), stage("bm25", 2, 1, 1)],
            warnings: vec!["w1".into()],
            ..Accounting::default()
        };
        let b = Accounting {
            stages: vec![stage("bm25", 1, 0, 1), stage("hnsw", 1, 1, 0)],
            warnings: vec!["w1".into(), "w2".into()],
            stopped: true,
            ..Accounting::default()
        };
        a.add(b.clone(), false);
        assert_eq!(
            a.stages,
            vec![
                stage("chunks", 2, 2, 0),
                stage("bm25", 3, 1, 2),
                stage("hnsw", 1, 1, 0)
            ]
        );
        assert_eq!(
            a.warnings,
            vec!["w1".to_string()],
            "a screen's warnings are left out"
        );
        assert!(a.stopped);
        a.add(b, true);
        assert_eq!(a.warnings, vec!["w1".to_string(), "w2".to_string()]);
    }
}
