//! HNSW build scheduling: the graphs a sweep still needs, built ahead of scoring and side
//! by side (one thread each, in waves bounded by memory), and kept in the run folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ragtune_core::ChunkSet;
use ragtune_eval::{Costs, PointRecord};
use ragtune_vector::{HnswBuild, HnswIndex};
use rayon::prelude::*;

use crate::budget::Budget;
use crate::error::{Result, SweepError};
use crate::plan::SetupNodes;
use crate::record::RunDir;
use ragtune_store::Stage;
use ragtune_store::entry::{Verdict, reseal, verify_dir};

use super::{Built, Executor, Group, hnsw_shape};

impl Executor<'_> {
    /// The HNSW graphs `setups` need that the store does not hold, once each; none when
    /// the grid builds graphs in parallel (each build already uses every core).
    pub(super) fn graphs_to_build<'s>(
        &self,
        setups: impl Iterator<Item = &'s SetupNodes>,
    ) -> Vec<GraphTask<'s>> {
        if self.grid.hnsw_build() != HnswBuild::Serial {
            return Vec::new();
        }
        let mut todo: Vec<GraphTask> = Vec::new();
        for s in setups {
            if let Some(v) = s.vector
                && let Some(h) = v.hnsw
                && !todo.iter().any(|t| t.graph == h)
                && !self.stored(Stage::Hnsw, h)
            {
                todo.push(GraphTask {
                    graph: h,
                    vectors: v.vectors,
                    chunks: s.chunks,
                    model: s.setup.model().expect("vector setups name a model"),
                    params: hnsw_shape(&s.setup).build(),
                });
            }
        }
        todo
    }

    /// Build the group's missing HNSW graphs (one per model) at the same time, one thread
    /// each: each graph is the one a build on its own makes, and a group with several
    /// models keeps more than one core busy. (With a store, [`Self::build_graphs_ahead`]
    /// has built them already.)
    pub(super) fn build_graphs_side_by_side(&self, g: &Group, built: &mut Built) -> Result<()> {
        let todo = self.graphs_to_build(g.setups.iter().copied());
        if todo.len() < 2 {
            return Ok(());
        }
        for t in &todo {
            self.built_vectors(t.vectors, t.model, &g.set, built)?;
        }
        let vectors = &built.vectors;
        let graphs: Vec<(usize, (HnswIndex, Costs))> = todo
            .par_iter()
            .map(|t| Ok((t.graph, self.hnsw(t.graph, &vectors[&t.vectors], t.params)?)))
            .collect::<Result<_>>()?;
        built.hnsw.extend(graphs);
        Ok(())
    }

    /// Before any chunk set is scored, build and store every HNSW graph the run still
    /// needs, side by side, one thread each (serial builds: each graph is the one a build
    /// on its own makes). Vectors the store lacks are embedded first, one chunk set at a
    /// time (embedding uses every core itself). Without this, a grid of one model and
    /// several chunk sets builds its graphs one after another with the other cores idle.
    /// The chunk sets are then scored as always and load their graphs from the store.
    /// Only with a store, and without a limited budget (checked between chunk sets).
    pub(super) fn build_graphs_ahead(
        &self,
        sets: &HashMap<usize, (ChunkSet, Vec<u32>)>,
        done: &HashMap<String, PointRecord>,
    ) -> Result<()> {
        if self.store.is_none() || self.budget.as_ref().is_some_and(Budget::is_limited) {
            return Ok(());
        }
        let setups = self.plan.setups.iter().filter(|s| {
            sets.contains_key(&s.chunks)
                && !done.contains_key(&s.config_id)
                && self.only.as_ref().is_none_or(|o| o.contains(&s.config_id))
        });
        let todo = self.graphs_to_build(setups);
        if todo.len() < 2 {
            return Ok(());
        }
        for t in todo
            .iter()
            .filter(|t| !self.stored(Stage::Vectors, t.vectors))
        {
            self.vectors(t.vectors, t.model, &sets[&t.chunks].0)?;
            self.counted_ahead(t.vectors);
        }
        for wave in graph_waves(&todo, |t| self.graph_bytes(t, &sets[&t.chunks].0)) {
            wave.par_iter()
                .map(|t| {
                    let vectors = self.vectors(t.vectors, t.model, &sets[&t.chunks].0)?;
                    self.counted_ahead(t.vectors);
                    self.hnsw(t.graph, &vectors, t.params)?;
                    self.counted_ahead(t.graph);
                    Ok(())
                })
                .collect::<Result<()>>()?;
        }
        Ok(())
    }

    /// Memory a graph build holds: its vectors and the graph's own copy of them.
    pub(super) fn graph_bytes(&self, t: &GraphTask, set: &ChunkSet) -> u64 {
        let dim = self
            .infos
            .get(t.model)
            .and_then(|i| i.record.dim)
            .unwrap_or(1024);
        2 * 4 * (set.len() * dim) as u64
    }

    /// Keep a copy of graph `h` in the run folder (hard links where the filesystem
    /// allows), so that the run can be served from the scored graph even after the store
    /// is collected.
    pub(super) fn keep_graph(&self, h: usize, run: &RunDir) -> Result<()> {
        if self.lock(&self.kept).contains(&h) {
            return Ok(());
        }
        let key = &self.plan.nodes[h].key;
        let dst = run.path().join("index").join("hnsw").join(key);
        let good = dst.is_dir() && matches!(verify_dir(&dst, Stage::Hnsw, key), Verdict::Good(()));
        if !good {
            let Some(src) = self.store.and_then(|s| s.get_dir(Stage::Hnsw, key)) else {
                return Ok(());
            };
            self.link_graph(&src, &dst, key)?;
        }
        self.lock(&self.kept).insert(h);
        Ok(())
    }

    /// Copy store folder `src` (hard links where the filesystem allows) to run-folder
    /// folder `dst`, replacing a damaged one; a writer that loses the rename to another
    /// (two processes on one shard) keeps the winner's copy once it verifies.
    fn link_graph(&self, src: &Path, dst: &Path, key: &str) -> Result<()> {
        let parent = dst.parent().expect("graph folders have a parent");
        let tmp = parent.join(format!(".{key}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| SweepError::io(&tmp, e))?;
        for f in std::fs::read_dir(src).map_err(|e| SweepError::io(src, e))? {
            let f = f.map_err(|e| SweepError::io(src, e))?.path();
            let to = tmp.join(f.file_name().expect("files have names"));
            if std::fs::hard_link(&f, &to).is_err() {
                std::fs::copy(&f, &to).map_err(|e| SweepError::io(&to, e))?;
            }
        }
        Ok(ragtune_store::place_dir(&tmp, dst, Stage::Hnsw, key)?)
    }

    /// The run folder's copy of graph `h`, verified once here: when it is damaged (one
    /// flipped bit can make hnsw_rs allocate terabytes) it is repaired from the store's
    /// copy, and when that is damaged or gone too (hard links share their bytes), the
    /// error names the folder and what rebuilds it. `None`: the run folder has no copy.
    pub fn verified_graph(&self, h: usize, run: &RunDir) -> Result<Option<PathBuf>> {
        let key = &self.plan.nodes[h].key;
        let kept = run.path().join("index").join("hnsw").join(key);
        if !kept.is_dir() {
            return Ok(None);
        }
        let why = match verify_dir(&kept, Stage::Hnsw, key) {
            Verdict::Good(()) => return Ok(Some(kept)),
            Verdict::Outdated => {
                // Intact, sealed by an older ragtune: the scored graph, bound to its key
                // (its folder's name) from now on.
                reseal(&kept, Stage::Hnsw, key).map_err(|e| SweepError::io(&kept, e))?;
                return Ok(Some(kept));
            }
            Verdict::Damaged(why) => why,
        };
        if let Some(src) = self.store.and_then(|s| s.get_dir(Stage::Hnsw, key)) {
            tracing::warn!("{}: {why}; repaired from the stage store", kept.display());
            self.link_graph(&src, &kept, key)?;
            return Ok(Some(kept));
        }
        let rebuild = match self.grid.hnsw_build() {
            HnswBuild::Serial => {
                "remove the folder: the graph is then rebuilt from the stored vectors, the same graph (hnsw_build = \"serial\")"
            }
            HnswBuild::Parallel => {
                "re-run the sweep into a new run folder: a parallel build does not give the scored graph again"
            }
        };
        Err(SweepError::Run {
            path: kept,
            message: format!(
                "the scored HNSW graph is damaged ({why}) and the stage store holds no good copy; {rebuild}"
            ),
        })
    }
}

/// One HNSW graph to build: its node, its vectors' node and chunk set, the model, and
/// `M` and `ef_construction`.
pub(super) struct GraphTask<'s> {
    graph: usize,
    vectors: usize,
    chunks: usize,
    model: &'s str,
    params: (usize, usize),
}

/// Memory the graph builds of one wave may hold together.
const GRAPH_WAVE_BYTES: u64 = 4 << 30;

/// `tasks` in waves, in order, each holding at most [`GRAPH_WAVE_BYTES`] by `bytes` (a
/// larger task goes alone), so that building side by side cannot multiply the memory
/// of the largest graphs by the number of cores.
pub(super) fn graph_waves<'t, 's>(
    tasks: &'t [GraphTask<'s>],
    bytes: impl Fn(&GraphTask) -> u64,
) -> Vec<Vec<&'t GraphTask<'s>>> {
    let mut waves: Vec<Vec<&GraphTask>> = Vec::new();
    let mut held = 0;
    for t in tasks {
        let b = bytes(t);
        match waves.last_mut() {
            Some(w) if held + b <= GRAPH_WAVE_BYTES => {
                w.push(t);
                held += b;
            }
            _ => {
                waves.push(vec![t]);
                held = b;
            }
        }
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(graph: usize) -> GraphTask<'static> {
        GraphTask {
            graph,
            vectors: graph,
            chunks: 0,
            model: "m",
            params: (16, 200),
        }
    }

    #[test]
    fn graph_waves_hold_at_most_the_wave_bytes_in_order() {
        let tasks: Vec<GraphTask> = (0..6).map(task).collect();
        let gib = 1u64 << 30;
        // Bytes by graph: 1, 2, 1, 5 (over the cap: alone), 3, 1 GiB; the cap is 4 GiB.
        let sizes = [1, 2, 1, 5, 3, 1];
        let waves = graph_waves(&tasks, |t| sizes[t.graph] * gib);
        let ids: Vec<Vec<usize>> = waves
            .iter()
            .map(|w| w.iter().map(|t| t.graph).collect())
            .collect();
        assert_eq!(ids, vec![vec![0, 1, 2], vec![3], vec![4, 5]]);
        assert!(graph_waves(&[], |_| gib).is_empty());
    }
}
