//! The second stage: a setup's first-stage ranking, its top `rerank_depth` chunks rescored
//! by a second embedding model ([`ragtune_retrieve::rerank_by_vectors`]) or a cross-encoder
//! ([`ragtune_retrieve::rerank_by_scores`]), the functions serving calls too; stored as a
//! rankings node keyed by the first stage, the reranker and the depth.
//!
//! The chunks an `embed:` reranker rescores are embedded through the embedding cache: a
//! text that model has embedded before (as a retriever's chunk, or for another setup) is
//! read, not embedded, and the manifest counts both. A reranker's latency is timed on the
//! latency sample, one query at a time, as it costs with nothing cached: for `embed:` the
//! query and the `rerank_depth` chunk texts embedded afresh, then rescored; for `cross:`
//! the query's pairs scored.

use std::collections::HashMap;
use std::sync::Arc;

use ragtune_core::{ChunkSet, Embedder, Ranking, Rerank, Reranker, prefixed};
use ragtune_eval::Costs;
use ragtune_retrieve::rerank_by_vectors;
use rayon::prelude::*;

use crate::error::{Result, SweepError};
use crate::plan::SetupNodes;
use ragtune_store::codec::StoredRankings;

use super::nodes::Role;
use super::{Executor, Group};

impl Executor<'_> {
    /// Every reranked ranking the group's setups need, read back or computed, into `have`.
    pub(super) fn rerank_group(
        &self,
        g: &Group,
        have: &mut HashMap<usize, Arc<StoredRankings>>,
    ) -> Result<()> {
        for s in &g.setups {
            let (Some(r), Some(node)) = (&s.setup.rerank, s.rerank) else {
                continue;
            };
            if have.contains_key(&node) {
                continue;
            }
            // A graph built in parallel anew can rank differently from the one that made a
            // stored reranking's first stage: rerank what this execution ranked.
            let regraphed = self.grid.hnsw_build() == ragtune_vector::HnswBuild::Parallel
                && s.vector.is_some_and(|v| {
                    v.hnsw.is_some() && self.lock(&self.fresh).contains(&v.rankings)
                });
            let stored = (!regraphed).then(|| self.stored_rankings(node)).flatten();
            let got = match stored {
                Some(x) => Arc::new(x),
                None => {
                    let first = self.first_stage(s, have);
                    let x = self.reranked(r, &first, &g.set)?;
                    self.computed_rankings(node, x)?
                }
            };
            have.insert(node, got);
        }
        Ok(())
    }

    /// A setup's first-stage rankings, fused from its retrievers' in `have`.
    fn first_stage(
        &self,
        s: &SetupNodes,
        have: &HashMap<usize, Arc<StoredRankings>>,
    ) -> Vec<Ranking> {
        let b = s.bm25.map(|(_, r)| &have[&r]);
        let v = s.vector.map(|v| &have[&v.rankings]);
        self.fuse_timed(b, v, s.setup.retriever.fusion()).0
    }

    /// `first` reranked by `r`, with the latency of each sampled question's reranking.
    fn reranked(&self, r: &Rerank, first: &[Ranking], set: &ChunkSet) -> Result<StoredRankings> {
        let (rankings, ms) = match &r.by {
            Reranker::Embed(m) => self.rerank_embed(m, r.depth, first, set)?,
            Reranker::Cross(m) => self.rerank_cross(m, r.depth, first, set)?,
        };
        Ok(StoredRankings {
            costs: Costs::default(),
            ms,
            rankings,
        })
    }

    /// Rerank by a second embedding model's cosine.
    fn rerank_embed(
        &self,
        model: &str,
        depth: usize,
        first: &[Ranking],
        set: &ChunkSet,
    ) -> Result<(Vec<Ranking>, Vec<f64>)> {
        let mut chunks: Vec<u32> = first
            .iter()
            .flat_map(|f| f.hits.iter().take(depth).map(|h| h.chunk))
            .collect();
        chunks.sort_unstable();
        chunks.dedup();
        let texts = texts_of(self, set, chunks.iter().copied());
        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        let data = self.embed(("rerank", Role::Passage), model, &refs)?;
        let e = self.embedder(model)?;
        let dim = e.dim();
        let row: HashMap<u32, usize> = chunks.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let vector_of = |c: u32| &data[row[&c] * dim..(row[&c] + 1) * dim];
        let qv = self.question_vectors(model)?;
        let rankings = (first.par_iter().enumerate())
            .map(|(qi, f)| rerank_by_vectors(f, depth, qv.row(qi), vector_of))
            .collect();
        let ms = self.time_rerank(e.as_ref(), model, depth, first, set)?;
        Ok((rankings, ms))
    }

    /// Rerank by a cross-encoder: each question's top `depth` (query, chunk) pairs scored
    /// in one batch, in first-stage order, as serving scores them. A question at a time:
    /// the session has every thread.
    fn rerank_cross(
        &self,
        model: &str,
        depth: usize,
        first: &[Ranking],
        set: &ChunkSet,
    ) -> Result<(Vec<Ranking>, Vec<f64>)> {
        let scorer = self.models.load_cross(model)?;
        let one = |qi: usize| -> Result<Ranking> {
            let texts = texts_of(self, set, first[qi].chunks().take(depth));
            let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
            let query = self.corpus.questions[qi].text.as_str();
            let scores = scorer
                .score(query, &refs)
                .map_err(|f| SweepError::embedding(model, f))?;
            Ok(ragtune_retrieve::rerank_by_scores(
                &first[qi], depth, &scores,
            ))
        };
        self.rep.add("rerank", first.len() as u64);
        let rankings = (0..first.len())
            .map(|qi| {
                let r = one(qi);
                self.rep.inc("rerank", 1);
                r
            })
            .collect::<Result<Vec<_>>>()?;
        let ms = self.time_each(one)?;
        Ok((rankings, ms))
    }

    /// Milliseconds per sampled question to rerank its first stage with nothing cached:
    /// the query and its top `depth` chunk texts embedded in one call each, then rescored.
    /// Three questions warm the path first, untimed.
    fn time_rerank(
        &self,
        e: &dyn Embedder,
        model: &str,
        depth: usize,
        first: &[Ranking],
        set: &ChunkSet,
    ) -> Result<Vec<f64>> {
        let fail = |f| SweepError::embedding(model, f);
        let dim = e.dim();
        self.time_each(|qi| {
            let question = &self.corpus.questions[qi].text;
            let q = e.embed_queries(&[&prefixed(e.query_prefix(), question)], usize::MAX);
            let q = q.map_err(fail)?;
            let top: Vec<u32> = first[qi].hits.iter().take(depth).map(|h| h.chunk).collect();
            let texts = texts_of(self, set, top.iter().copied());
            let texts: Vec<_> = (texts.iter())
                .map(|t| prefixed(e.passage_prefix(), t).into_owned())
                .collect();
            let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
            let data = e.embed(&refs, &|_| {}).map_err(fail)?.vectors;
            let at: HashMap<u32, usize> = top.iter().enumerate().map(|(i, &c)| (c, i)).collect();
            Ok(rerank_by_vectors(&first[qi], depth, &q, |c| {
                &data[at[&c] * dim..(at[&c] + 1) * dim]
            }))
        })
    }
}

/// The texts chunks `chunks` are indexed by, in order.
fn texts_of<'c>(
    ex: &Executor<'c>,
    set: &'c ChunkSet,
    chunks: impl Iterator<Item = u32>,
) -> Vec<std::borrow::Cow<'c, str>> {
    chunks
        .map(|c| set.index_text(ex.corpus, c as usize))
        .collect()
}
