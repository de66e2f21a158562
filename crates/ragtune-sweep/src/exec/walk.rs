//! The walk: chunk sets one at a time, each group's rankings read or computed, fused and
//! scored, and each setup's point written as soon as it is scored.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Instant;

use ragtune_core::{ChunkSet, ChunkSpec, Ranking, Setup};
use ragtune_eval::{Costs, PointRecord};
use ragtune_retrieve::{Component, Rescore, as_ranking, combine};
use ragtune_vector::Vectors;
use rayon::prelude::*;

use crate::budget::Budget;
use crate::error::Result;
use crate::plan::{NodeKind, SetupNodes};
use crate::record::RunDir;
use crate::score::{ScoreCtx, Scored};
use ragtune_chunk::overlap_stats;
use ragtune_store::Stage;
use ragtune_store::codec::{self, StoredRankings};

use super::rows::QuantisedIndex;
use super::{Built, Executor, Group, hnsw_shape};

impl Executor<'_> {
    /// Run every setup of the plan whose id is not in `done`, writing each point into
    /// `run` as soon as it is scored. Returns the points of every setup, in plan order.
    pub fn execute(
        &self,
        done: &HashMap<String, PointRecord>,
        run: &RunDir,
    ) -> Result<Vec<PointRecord>> {
        let mut sets = self.all_chunk_sets()?;
        *self.lock(&self.equivalents) = self.collapse(&mut sets, run)?;
        self.build_graphs_ahead(&sets, done)?;
        let mut records = Vec::with_capacity(self.plan.setups.len());
        for chunk_node in self.chunk_nodes() {
            // A spent budget stops new work; what is already scored is still returned.
            let spent = self.budget.as_ref().is_some_and(Budget::reached);
            if spent {
                self.stopped
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let Some((set, counts)) = sets.remove(&chunk_node) else {
                continue;
            };
            let mine: Vec<&SetupNodes> = self
                .plan
                .setups
                .iter()
                .filter(|s| s.chunks == chunk_node)
                .filter(|s| self.only.as_ref().is_none_or(|o| o.contains(&s.config_id)))
                .collect();
            let (kept, todo): (Vec<&SetupNodes>, Vec<&SetupNodes>) = mine
                .into_iter()
                .partition(|s| done.contains_key(&s.config_id));
            records.extend(kept.iter().map(|s| {
                let mut r = done[&s.config_id].clone();
                r.equivalent = self.equivalent(&r.config_id);
                r
            }));
            if !todo.is_empty() && !spent {
                let group = Group {
                    node: chunk_node,
                    set,
                    counts,
                    setups: todo,
                };
                let rankings = self.group_rankings(&group, run)?;
                records.extend(self.score_group(&group, &rankings, run)?);
            }
        }
        self.rep.finish();
        // One canonical order, the plan's, whatever was kept from an earlier run: within a
        // chunk set, kept points would otherwise come before newly scored ones, and a
        // resumed run's tables would hold the uninterrupted run's rows in another order.
        let position: HashMap<&str, usize> = (self.plan.setups.iter().enumerate())
            .map(|(i, s)| (s.config_id.as_str(), i))
            .collect();
        records.sort_by_key(|r| position.get(r.config_id.as_str()).copied());
        Ok(records)
    }

    /// Every chunk set of the plan, with its effective overlap measured (and a warning
    /// where it is below half the nominal one).
    pub(super) fn all_chunk_sets(&self) -> Result<HashMap<usize, (ChunkSet, Vec<u32>)>> {
        let mut out = HashMap::new();
        for node in self.chunk_nodes() {
            let (set, counts) = self.chunk_set(node)?;
            let spec = self.spec_of(node);
            let stats = overlap_stats(&set, self.corpus, self.sizer);
            let effective = if spec.kind.needs_tokenizer() {
                stats.tokens_mean
            } else {
                stats.chars_mean
            };
            if spec.overlap > 0 && effective < spec.overlap as f64 / 2.0 {
                self.warn_overlap(&spec, effective, stats.share);
            }
            if set.len() < self.grid.depth {
                self.warn(format!(
                    "chunk set {spec}: {} chunks, fewer than depth {}: rankings are clamped to all {} chunks, and a k above that returns them all",
                    set.len(),
                    self.grid.depth,
                    set.len()
                ));
            }
            self.lock(&self.overlaps).insert(node, stats);
            out.insert(node, (set, counts));
        }
        Ok(out)
    }

    pub(super) fn warn_overlap(&self, spec: &ChunkSpec, effective: f64, share: f64) {
        let unit = if spec.kind.needs_tokenizer() {
            "tokens"
        } else {
            "characters"
        };
        let why = if spec.kind.real_overlap() {
            ""
        } else {
            " (this chunker overlaps only in whole semantic units that fit; window-tokens and recursive carry real overlap)"
        };
        self.warn(format!(
            "chunk set {spec}: effective overlap {effective:.1} {unit} (nominal {}); {:.0}% of neighbouring chunks overlap at all{why}",
            spec.overlap,
            share * 100.0
        ));
    }

    pub(super) fn equivalent(&self, config_id: &str) -> Vec<String> {
        self.lock(&self.equivalents)
            .get(config_id)
            .cloned()
            .unwrap_or_default()
    }

    pub(super) fn spec_of(&self, chunk_node: usize) -> ChunkSpec {
        self.plan
            .setups
            .iter()
            .find(|s| s.chunks == chunk_node)
            .map(|s| s.setup.chunk)
            .expect("a chunk node belongs to a setup")
    }

    /// Chunk sets that came out identical (same byte ranges) are one: the setups of every
    /// later one are dropped (and their points removed from `run`), and each is listed
    /// under the setup of the first that it equals. Returns, per kept config id, the
    /// labels of the grid setups it stands for.
    pub(super) fn collapse(
        &self,
        sets: &mut HashMap<usize, (ChunkSet, Vec<u32>)>,
        run: &RunDir,
    ) -> Result<HashMap<String, Vec<String>>> {
        let mut first: HashMap<String, usize> = HashMap::new();
        let mut same: HashMap<String, Vec<String>> = HashMap::new();
        for node in self.chunk_nodes() {
            let fp = codec::fingerprint(&sets[&node].0);
            let Some(&kept) = first.get(&fp) else {
                first.insert(fp, node);
                continue;
            };
            let kept_spec = self.spec_of(kept);
            self.warn(format!(
                "chunk set {} is identical to {kept_spec} (same byte ranges): its setups are listed once, under {kept_spec}",
                self.spec_of(node)
            ));
            for s in self.plan.setups.iter().filter(|s| s.chunks == node) {
                // The twin keeps its own header (chunk sets with other headers differ).
                let twin = Setup {
                    chunk: ChunkSpec {
                        header: s.setup.chunk.header,
                        ..kept_spec
                    },
                    ..s.setup.clone()
                };
                same.entry(twin.config_id())
                    .or_default()
                    .push(s.setup.label());
                run.remove_point(&s.config_id)?;
            }
            sets.remove(&node);
        }
        Ok(same)
    }

    pub(super) fn chunk_nodes(&self) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for s in &self.plan.setups {
            if !out.contains(&s.chunks) {
                out.push(s.chunks);
            }
        }
        out
    }

    /// Every rankings node the group's setups need: read back where stored, else computed.
    pub(super) fn group_rankings(
        &self,
        g: &Group,
        run: &RunDir,
    ) -> Result<HashMap<usize, Arc<StoredRankings>>> {
        let mut have: HashMap<usize, Arc<StoredRankings>> = HashMap::new();
        let mut built = Built::default();
        self.build_graphs_side_by_side(g, &mut built)?;
        for s in &g.setups {
            if let Some((index, r)) = s.bm25
                && !have.contains_key(&r)
            {
                let got = match self.stored_rankings(r) {
                    Some(x) => Arc::new(x),
                    None => self.bm25_rankings(index, r, &g.set, &mut built)?,
                };
                have.insert(r, got);
            }
            let Some(v) = s.vector else { continue };
            let model = s.setup.model().expect("vector setups name a model");
            let exact = s.exact_rankings.unwrap_or(v.rankings);
            if let Entry::Vacant(e) = have.entry(exact) {
                e.insert(match self.stored_rankings(exact) {
                    Some(x) => Arc::new(x),
                    None => self.exact_rankings(exact, v.vectors, model, &g.set, &mut built)?,
                });
            }
            if let Some(h) = v.hnsw
                && !have.contains_key(&v.rankings)
            {
                let got = self.hnsw_rankings(s, h, v.rankings, &g.set, &mut built)?;
                have.insert(v.rankings, got);
                self.keep_graph(h, run)?;
            } else if v.hnsw.is_none() && !have.contains_key(&v.rankings) {
                let got = match self.stored_rankings(v.rankings) {
                    Some(x) => Arc::new(x),
                    None => self.quantised_rankings(s, &g.set, &mut built)?,
                };
                have.insert(v.rankings, got);
            }
        }
        self.rerank_group(g, &mut have)?;
        Ok(have)
    }

    pub(super) fn exact_rankings(
        &self,
        r: usize,
        vectors: usize,
        model: &str,
        set: &ChunkSet,
        built: &mut Built,
    ) -> Result<Arc<StoredRankings>> {
        let vectors = self.built_vectors(vectors, model, set, built)?;
        let qv = self.question_vectors(model)?;
        // Exact search holds the vectors alone; on disk they are the vectors entry.
        let costs = Costs {
            vector_bytes: vectors.size_bytes(),
            ..super::nodes::index_costs(0.0, vectors.size_bytes(), self.disk_of(vectors))
        };
        let ranked = self.rank_all(Component::Exact(vectors), Some((&qv, model)), costs)?;
        self.computed_rankings(r, ranked)
    }

    /// An exact setup's rankings over int8 or binary vectors, quantised from the float32
    /// ones once per format (milliseconds) and rescored by float32 vectors read by ranges
    /// from the store when the setup says so.
    pub(super) fn quantised_rankings(
        &self,
        s: &SetupNodes,
        set: &ChunkSet,
        built: &mut Built,
    ) -> Result<Arc<StoredRankings>> {
        let v = s.vector.expect("quantised setups have a vector side");
        let spec = s
            .setup
            .retriever
            .vector()
            .expect("vector setups have a spec");
        let model = spec.model.as_str();
        self.built_vectors(v.vectors, model, set, built)?;
        let vectors = &built.vectors[&v.vectors];
        if let Entry::Vacant(e) = built.quantised.entry((v.vectors, spec.format)) {
            let t = Instant::now();
            let index = QuantisedIndex::new(vectors, spec.format)
                .expect("the plan ranks float32 exact setups by the exact rankings");
            e.insert((index, t.elapsed().as_secs_f64()));
        }
        let (index, seconds) = &built.quantised[&(v.vectors, spec.format)];
        let qv = self.question_vectors(model)?;
        let held = index.size_bytes();
        let costs = Costs {
            vector_bytes: held,
            ..super::nodes::index_costs(*seconds, held, self.disk_of(vectors))
        };
        let rows = self.rescore_rows(v.vectors, vectors);
        let rescore = (spec.rescore > 0).then_some(Rescore {
            by: spec.rescore,
            rows: &rows,
        });
        let ranked = self.rank_all_with(index.component(), rescore, Some((&qv, model)), costs)?;
        self.computed_rankings(v.rankings, ranked)
    }

    /// The float32 vectors' bytes on disk, with a store (rescoring reads them there).
    fn disk_of(&self, vectors: &Vectors) -> u64 {
        if self.store.is_some() {
            vectors.size_bytes()
        } else {
            0
        }
    }

    pub(super) fn bm25_rankings(
        &self,
        index: usize,
        r: usize,
        set: &ChunkSet,
        built: &mut Built,
    ) -> Result<Arc<StoredRankings>> {
        if let Entry::Vacant(e) = built.bm25.entry(index) {
            e.insert(self.bm25_index(index, set)?);
        }
        let (idx, costs) = &built.bm25[&index];
        let ranked = self.rank_all(Component::Bm25(idx), None, *costs)?;
        self.computed_rankings(r, ranked)
    }

    pub(super) fn built_vectors<'b>(
        &self,
        node: usize,
        model: &str,
        set: &ChunkSet,
        built: &'b mut Built,
    ) -> Result<&'b Vectors> {
        if let Entry::Vacant(e) = built.vectors.entry(node) {
            e.insert(self.vectors(node, model, set)?);
        }
        Ok(&built.vectors[&node])
    }

    /// An HNSW setup's rankings. Stored rankings are used only while the graph that made
    /// them is stored too: a graph rebuilt with `hnsw_build = "parallel"` could rank
    /// differently.
    pub(super) fn hnsw_rankings(
        &self,
        s: &SetupNodes,
        h: usize,
        r: usize,
        set: &ChunkSet,
        built: &mut Built,
    ) -> Result<Arc<StoredRankings>> {
        if self.stored(Stage::Hnsw, h)
            && !built.hnsw.contains_key(&h)
            && let Some(x) = self.stored_rankings(r)
        {
            return Ok(Arc::new(x));
        }
        let v = s.vector.expect("hnsw setups have a vector side");
        let model = s.setup.model().expect("vector setups name a model");
        let shape = hnsw_shape(&s.setup);
        if !built.hnsw.contains_key(&h) {
            self.built_vectors(v.vectors, model, set, built)?;
            let vectors = &built.vectors[&v.vectors];
            let graph = self.hnsw(h, vectors, shape.build())?;
            built.hnsw.insert(h, graph);
        }
        let by = s.setup.retriever.vector().map_or(0, |v| v.rescore);
        if by > 0 {
            self.built_vectors(v.vectors, model, set, built)?;
        }
        let qv = self.question_vectors(model)?;
        let (index, costs) = &built.hnsw[&h];
        let component = Component::Hnsw {
            index,
            ef: shape.ef_search,
        };
        let f32s = (by > 0).then(|| &built.vectors[&v.vectors]);
        let rows = f32s.map(|f| self.rescore_rows(v.vectors, f));
        let rescore = rows.as_ref().map(|rows| Rescore { by, rows });
        // Rescoring reads the float32 vectors' entry too.
        let costs = Costs {
            disk_bytes: costs.disk_bytes + f32s.map_or(0, |f| self.disk_of(f)),
            ..*costs
        };
        let ranked = self.rank_all_with(component, rescore, Some((&qv, model)), costs)?;
        self.computed_rankings(r, ranked)
    }

    /// A setup's final rankings from its retrievers' (fused for a hybrid), and each
    /// sampled query's latency: its retrievers' (embedding included), then the fusion.
    pub(super) fn fuse_timed(
        &self,
        b: Option<&Arc<StoredRankings>>,
        v: Option<&Arc<StoredRankings>>,
        fusion: Option<ragtune_core::Fusion>,
    ) -> (Vec<Ranking>, Vec<f64>) {
        let nq = self.corpus.questions.len();
        let mut fuse_ms = Vec::with_capacity(nq);
        let rankings: Vec<Ranking> = (0..nq)
            .map(|qi| {
                let t = Instant::now();
                let hits = combine(
                    b.map(|x| &x.rankings[qi]),
                    v.map(|x| &x.rankings[qi]),
                    fusion,
                    self.grid.depth,
                );
                fuse_ms.push(if fusion.is_some() {
                    t.elapsed().as_secs_f64() * 1e3
                } else {
                    0.0
                });
                as_ranking(&hits)
            })
            .collect();
        let ms = (self.sample.iter().enumerate())
            .map(|(j, &qi)| b.map_or(0.0, |x| x.ms[j]) + v.map_or(0.0, |x| x.ms[j]) + fuse_ms[qi])
            .collect();
        (rankings, ms)
    }

    /// Fuse and score every setup of the group, writing each point as it is done.
    pub(super) fn score_group(
        &self,
        g: &Group,
        have: &HashMap<usize, Arc<StoredRankings>>,
        run: &RunDir,
    ) -> Result<Vec<PointRecord>> {
        let spec = self.spec_of(g.node);
        let overlap = spec
            .kind
            .is_sized()
            .then(|| self.lock(&self.overlaps).get(&g.node).copied())
            .flatten();
        let ctx = ScoreCtx {
            corpus: self.corpus,
            set: &g.set,
            counts: &g.counts,
            ks: &self.grid.top_k,
            overlap,
            holdout: self.grid.select.holdout,
        };
        let depth = self.grid.depth;
        self.rep.add("score", g.setups.len() as u64);
        g.setups
            .par_iter()
            .map(|s| {
                let b = s.bm25.map(|(_, r)| &have[&r]);
                let v = s.vector.map(|v| &have[&v.rankings]);
                let fusion = s.setup.retriever.fusion();
                let (mut rankings, mut ms) = self.fuse_timed(b, v, fusion);
                let mut rerank_ms_p50 = None;
                // A reranked setup's list is its second stage's; a query costs both.
                if let Some(r) = s.rerank.map(|n| &have[&n]) {
                    rankings.clone_from(&r.rankings);
                    ms.iter_mut().zip(&r.ms).for_each(|(m, x)| *m += x);
                    rerank_ms_p50 = Some(ragtune_eval::percentile(&r.ms, 50.0).unwrap_or(0.0));
                }
                let costs = [b, v]
                    .into_iter()
                    .flatten()
                    .fold(Costs::default(), |c, x| Costs {
                        index_seconds: c.index_seconds + x.costs.index_seconds,
                        index_bytes: c.index_bytes + x.costs.index_bytes,
                        vector_bytes: c.vector_bytes + x.costs.vector_bytes,
                        graph_bytes: c.graph_bytes + x.costs.graph_bytes,
                        disk_bytes: c.disk_bytes + x.costs.disk_bytes,
                        ..c
                    });
                let costs = Costs {
                    rerank_ms_p50,
                    ..costs
                };
                let exact = s.exact_rankings.map(|e| have[&e].rankings.as_slice());
                let scored = Scored {
                    rankings: &rankings,
                    ms: &ms,
                    costs,
                    hnsw_vs_exact: exact.zip(v.map(|x| x.rankings.as_slice())),
                };
                let mut record = ctx.score(&s.setup, &scored);
                record.equivalent = self.equivalent(&record.config_id);
                let depth = s.setup.rerank.as_ref().map_or(depth, |r| r.depth);
                run.write_rankings(&ctx.rankings_record(&record.config_id, depth, &rankings))?;
                run.write_point(&record)?;
                if fusion.is_some() {
                    self.count(NodeKind::Fusion, false);
                }
                for _ in &s.scores {
                    self.count(NodeKind::Scores, false);
                }
                self.rep.inc("score", 1);
                Ok(record)
            })
            .collect()
    }
}
