//! Retrieval, one path for the sweep and for serving: a [`Component`] ranks a query
//! (BM25, exact vectors, or HNSW), and [`combine`] turns the component rankings of a
//! setup into its final list (fusing them for hybrids). The sweep stores each component
//! ranking and calls [`combine`] per fusion setting; `serve`, `query` and `explain` call
//! [`Retriever::trace`], which runs the very same two steps, so that what is served is
//! what was evaluated by construction.
//!
//! Fusion reads each retriever's stored ranking (taken to a fixed depth, at least the
//! largest `k`), so sweeping `alpha` or the RRF constant runs no new retrieval.
//!
//! - **RRF**: `score(c) = Σ_r 1 / (k_rrf + rank_r(c))`, ranks 1-based, summed over the
//!   retrievers whose list holds `c`.
//! - **Weighted**: `score(c) = α · norm_vec(c) + (1 − α) · norm_bm25(c)`, where each
//!   retriever's scores are normalised over its own list: min-max to [0, 1] (all equal → 1),
//!   or z-score (σ = 0 → 0). A chunk missing from one list gets that list's lowest
//!   normalised value.
//!
//! The fused list is sorted by score, then by ascending chunk index, so ties are
//! deterministic.
#![deny(missing_docs)]

use std::collections::HashMap;

pub use ragtune_core::{Fusion, Normalization};
use ragtune_core::{Hit, Ranking};
use ragtune_lexical::{Bm25Index, LexicalError};
use ragtune_vector::{
    BinaryVectors, HnswIndex, Int8Vectors, Rows, VectorError, Vectors, exact_search_one,
};
use serde::{Deserialize, Serialize};

/// Retrieval failures.
#[derive(Debug, thiserror::Error)]
pub enum RetrieveError {
    /// BM25 failed.
    #[error(transparent)]
    Lexical(#[from] LexicalError),
    /// Vector search failed.
    #[error(transparent)]
    Vector(#[from] VectorError),
    /// A vector component was asked to rank a query without its vector.
    #[error("a vector retriever needs the query's embedding")]
    NoQueryVector,
}

/// A query as the components see it: its text (BM25) and its embedding (vectors).
#[derive(Debug, Clone, Copy)]
pub struct Query<'q> {
    /// The text.
    pub text: &'q str,
    /// The embedding, for vector components.
    pub vector: Option<&'q [f32]>,
}

/// One ranker over a chunk set.
#[derive(Clone, Copy)]
pub enum Component<'a> {
    /// BM25.
    Bm25(&'a Bm25Index),
    /// Exact search over the chunk vectors.
    Exact(&'a Vectors),
    /// Exact search over int8 codes (a float32 query against the read-back vectors).
    Int8(&'a Int8Vectors),
    /// Exact search over sign bits by Hamming distance.
    Binary(&'a BinaryVectors),
    /// An HNSW graph (of float32, int8 or binary vectors) searched with breadth `ef`.
    Hnsw {
        /// The graph.
        index: &'a HnswIndex,
        /// Search breadth.
        ef: usize,
    },
}

/// Rescoring of a quantised component: its top `by` × depth, ranked again by their
/// float32 vectors read from `rows`.
#[derive(Clone, Copy)]
pub struct Rescore<'a> {
    /// The multiplier.
    pub by: usize,
    /// Where the float32 vectors are read from.
    pub rows: &'a dyn Rows,
}

impl Component<'_> {
    /// Chunks this component ranks.
    pub fn len(&self) -> usize {
        match self {
            Self::Bm25(b) => b.len() as usize,
            Self::Exact(v) => v.len(),
            Self::Int8(v) => v.len(),
            Self::Binary(v) => v.len(),
            Self::Hnsw { index, .. } => index.len(),
        }
    }

    /// True when there is nothing to rank.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The top `depth` chunks for `q`, best first. A depth beyond the number of chunks is
    /// clamped to it: nothing is allocated for ranks that cannot exist.
    pub fn rank(&self, q: &Query, depth: usize) -> Result<Ranking, RetrieveError> {
        let depth = depth.min(self.len());
        match self {
            Self::Bm25(b) => Ok(b.search(q.text, depth)?),
            Self::Exact(v) => Ok(exact_search_one(
                v,
                q.vector.ok_or(RetrieveError::NoQueryVector)?,
                depth,
            )?),
            Self::Int8(v) => Ok(v.search(q.vector.ok_or(RetrieveError::NoQueryVector)?, depth)?),
            Self::Binary(v) => Ok(v.search(q.vector.ok_or(RetrieveError::NoQueryVector)?, depth)?),
            Self::Hnsw { index, ef } => {
                Ok(index.search(q.vector.ok_or(RetrieveError::NoQueryVector)?, depth, *ef)?)
            }
        }
    }

    /// [`Self::rank`], then, with `rescore`, the top `by` × `depth` ranked again by their
    /// float32 vectors and cut to `depth`.
    pub fn rank_with(
        &self,
        q: &Query,
        depth: usize,
        rescore: Option<Rescore>,
    ) -> Result<Ranking, RetrieveError> {
        match rescore {
            None => self.rank(q, depth),
            Some(Rescore { by, rows }) => {
                let pool = self.rank(q, depth.saturating_mul(by))?;
                let query = q.vector.ok_or(RetrieveError::NoQueryVector)?;
                Ok(ragtune_vector::rescore(&pool, query, rows, depth)?)
            }
        }
    }
}

/// A setup's retrieval over its stored indexes.
#[derive(Clone, Copy)]
pub struct Retriever<'a> {
    /// The BM25 side (BM25 and hybrid setups).
    pub bm25: Option<Component<'a>>,
    /// The vector side (vector and hybrid setups).
    pub vector: Option<Component<'a>>,
    /// The vector side's rescoring (quantised vectors with `rescore`).
    pub rescore: Option<Rescore<'a>>,
    /// The fusion (hybrid setups).
    pub fusion: Option<Fusion>,
    /// Depth of each component ranking, as the setup was evaluated.
    pub depth: usize,
}

/// A query's retrieval, step by step.
#[derive(Debug, Clone)]
pub struct Trace {
    /// BM25's ranking (when the setup uses BM25).
    pub bm25: Option<Ranking>,
    /// The vector ranking (when the setup uses vectors).
    pub vector: Option<Ranking>,
    /// The final list, with each component's rank and score.
    pub fused: Vec<FusedHit>,
    /// For a reranked setup, the first stage's list that [`rerank_trace`] rescored.
    pub first_stage: Option<Vec<FusedHit>>,
}

impl Retriever<'_> {
    /// Rank `q`: each component to the setup's depth (or `k`, if larger), then
    /// [`combine`].
    pub fn trace(&self, q: &Query, k: usize) -> Result<Trace, RetrieveError> {
        let depth = self.depth.max(k);
        let bm25 = self.bm25.map(|c| c.rank(q, depth)).transpose()?;
        let vector = (self.vector)
            .map(|c| c.rank_with(q, depth, self.rescore))
            .transpose()?;
        let fused = combine(bm25.as_ref(), vector.as_ref(), self.fusion, depth);
        Ok(Trace {
            bm25,
            vector,
            fused,
            first_stage: None,
        })
    }
}

/// A setup's final list from its component rankings, cut at `depth`: the one component's
/// ranking, or for two components their fusion.
///
/// # Panics
/// When two components are given without a fusion, or none at all: a setup always has
/// one of the shapes above.
pub fn combine(
    bm25: Option<&Ranking>,
    vector: Option<&Ranking>,
    fusion: Option<Fusion>,
    depth: usize,
) -> Vec<FusedHit> {
    let single = |r: &Ranking, is_bm25: bool| -> Vec<FusedHit> {
        r.hits
            .iter()
            .take(depth)
            .enumerate()
            .map(|(i, h)| {
                let c = Some((i + 1, h.score));
                FusedHit {
                    chunk: h.chunk,
                    score: h.score as f64,
                    bm25: if is_bm25 { c } else { None },
                    vector: if is_bm25 { None } else { c },
                }
            })
            .collect()
    };
    match (bm25, vector, fusion) {
        (Some(b), Some(v), Some(f)) => {
            let mut hits = fuse(b, v, f);
            hits.truncate(depth);
            hits
        }
        (Some(b), None, _) => single(b, true),
        (None, Some(v), _) => single(v, false),
        _ => panic!("a setup has one component, or two and a fusion"),
    }
}

/// A second stage by vectors: the first `depth` chunks of `first`, each scored by the dot
/// product of `query` and its vector under the reranking model (`vector_of`, unit vectors:
/// the cosine), best first, ties by ascending chunk index. The sweep and serving both
/// rerank through this function.
pub fn rerank_by_vectors<'v>(
    first: &Ranking,
    depth: usize,
    query: &[f32],
    vector_of: impl Fn(u32) -> &'v [f32],
) -> Ranking {
    Ranking::from_unsorted(
        first
            .hits
            .iter()
            .take(depth)
            .map(|h| Hit {
                chunk: h.chunk,
                score: ragtune_vector::dot(query, vector_of(h.chunk)),
            })
            .collect(),
    )
}

/// A second stage by a cross-encoder: the first `depth` chunks of `first` with
/// `scores[i]` the score of the i-th, best first, ties by ascending chunk index.
pub fn rerank_by_scores(first: &Ranking, depth: usize, scores: &[f32]) -> Ranking {
    Ranking::from_unsorted(
        (first.hits.iter().take(depth).zip(scores))
            .map(|(h, &score)| Hit {
                chunk: h.chunk,
                score,
            })
            .collect(),
    )
}

/// Rerank a trace's final list with `rerank` ([`rerank_by_vectors`] or
/// [`rerank_by_scores`] over the list as a ranking): the hits in their new order, each
/// with the reranker's score and its components' ranks; the list before is kept as
/// [`Trace::first_stage`].
pub fn rerank_trace(trace: &mut Trace, rerank: impl FnOnce(&Ranking) -> Ranking) {
    let first = std::mem::take(&mut trace.fused);
    let order = rerank(&as_ranking(&first));
    let at: HashMap<u32, &FusedHit> = first.iter().map(|f| (f.chunk, f)).collect();
    trace.fused = order
        .hits
        .iter()
        .map(|h| FusedHit {
            score: h.score as f64,
            ..at[&h.chunk].clone()
        })
        .collect();
    trace.first_stage = Some(first);
}

/// The final list as a plain ranking (what is scored and exported).
pub fn as_ranking(hits: &[FusedHit]) -> Ranking {
    Ranking {
        hits: hits
            .iter()
            .map(|h| Hit {
                chunk: h.chunk,
                score: h.score as f32,
            })
            .collect(),
    }
}

/// A fused hit with each retriever's own rank (1-based) and score, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusedHit {
    /// Chunk index.
    pub chunk: u32,
    /// Fused score.
    pub score: f64,
    /// BM25 (rank, score) if the chunk is in the BM25 list.
    pub bm25: Option<(usize, f32)>,
    /// Vector (rank, score) if the chunk is in the vector list.
    pub vector: Option<(usize, f32)>,
}

fn normalized(r: &Ranking, n: Normalization) -> (HashMap<u32, f64>, f64) {
    let scores: Vec<f64> = r.hits.iter().map(|h| h.score as f64).collect();
    if scores.is_empty() {
        return (HashMap::new(), 0.0);
    }
    let f: Box<dyn Fn(f64) -> f64> = match n {
        Normalization::Minmax => {
            let lo = scores.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if hi > lo {
                Box::new(move |s| (s - lo) / (hi - lo))
            } else {
                Box::new(|_| 1.0)
            }
        }
        Normalization::Zscore => {
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64;
            let sd = var.sqrt();
            if sd > 0.0 {
                Box::new(move |s| (s - mean) / sd)
            } else {
                Box::new(|_| 0.0)
            }
        }
    };
    let map: HashMap<u32, f64> = r
        .hits
        .iter()
        .map(|h| (h.chunk, f(h.score as f64)))
        .collect();
    let floor = map.values().copied().fold(f64::INFINITY, f64::min);
    (map, floor)
}

/// Fuse a BM25 and a vector ranking. Returns every chunk of either list, best first.
pub fn fuse(bm25: &Ranking, vector: &Ranking, fusion: Fusion) -> Vec<FusedHit> {
    let rank_of = |r: &Ranking| -> HashMap<u32, (usize, f32)> {
        r.hits
            .iter()
            .enumerate()
            .map(|(i, h)| (h.chunk, (i + 1, h.score)))
            .collect()
    };
    let (b, v) = (rank_of(bm25), rank_of(vector));
    let mut chunks: Vec<u32> = bm25.chunks().chain(vector.chunks()).collect();
    chunks.sort_unstable();
    chunks.dedup();
    let (br, vr) = (&b, &v);
    let score: Box<dyn Fn(u32) -> f64 + '_> = match fusion {
        Fusion::Rrf { k } => Box::new(move |c| {
            [br.get(&c), vr.get(&c)]
                .into_iter()
                .flatten()
                .map(|&(rank, _)| 1.0 / (k + rank as f64))
                .sum()
        }),
        Fusion::Weighted {
            alpha,
            normalization,
        } => {
            let (nb, fb) = normalized(bm25, normalization);
            let (nv, fv) = normalized(vector, normalization);
            Box::new(move |c| {
                alpha * nv.get(&c).copied().unwrap_or(fv)
                    + (1.0 - alpha) * nb.get(&c).copied().unwrap_or(fb)
            })
        }
    };
    let mut hits: Vec<FusedHit> = chunks
        .iter()
        .map(|&c| FusedHit {
            chunk: c,
            score: score(c),
            bm25: b.get(&c).copied(),
            vector: v.get(&c).copied(),
        })
        .collect();
    hits.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.chunk.cmp(&y.chunk)));
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reranking_rescores_only_the_top_depth_and_breaks_ties_by_chunk() {
        let first = Ranking {
            hits: [(4, 0.9), (1, 0.8), (7, 0.7), (2, 0.6)]
                .map(|(chunk, score)| Hit { chunk, score })
                .to_vec(),
        };
        // Chunk vectors on the query's axes: 7 points along the query, 4 and 1 tie.
        let vectors: std::collections::HashMap<u32, [f32; 2]> = [
            (4, [0.0, 1.0]),
            (1, [0.0, 1.0]),
            (7, [1.0, 0.0]),
            (2, [1.0, 0.0]),
        ]
        .into();
        let q = [1.0f32, 0.0];
        let r = rerank_by_vectors(&first, 3, &q, |c| &vectors[&c][..]);
        // 2 is past the depth: rescored chunks only, however well 2 would score.
        assert_eq!(r.chunks().collect::<Vec<_>>(), vec![7, 1, 4]);
        assert_eq!(r.hits[0].score, 1.0);
        assert_eq!(r.hits[1].score, 0.0);
    }

    fn r(pairs: &[(u32, f32)]) -> Ranking {
        Ranking {
            hits: pairs
                .iter()
                .map(|&(chunk, score)| Hit { chunk, score })
                .collect(),
        }
    }

    #[test]
    fn rrf_hand_worked() {
        // bm25: [1, 2, 3]; vector: [3, 1]. k = 60.
        // 1: 1/61 + 1/62;  3: 1/63 + 1/61;  2: 1/62.
        let f = fuse(
            &r(&[(1, 9.0), (2, 5.0), (3, 1.0)]),
            &r(&[(3, 0.9), (1, 0.8)]),
            Fusion::Rrf { k: 60.0 },
        );
        let order: Vec<u32> = f.iter().map(|h| h.chunk).collect();
        assert_eq!(order, vec![1, 3, 2]);
        assert!((f[0].score - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-12);
        assert!((f[1].score - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-12);
        assert_eq!(f[1].bm25, Some((3, 1.0)));
        assert_eq!(f[1].vector, Some((1, 0.9)));
        assert_eq!(f[2].vector, None);
    }

    #[test]
    fn rrf_ties_break_by_chunk_index() {
        // 7 is first in bm25, 4 first in vector: equal RRF scores, so chunk 4 comes first.
        let f = fuse(&r(&[(7, 3.0)]), &r(&[(4, 0.5)]), Fusion::Rrf { k: 60.0 });
        assert_eq!(f.iter().map(|h| h.chunk).collect::<Vec<_>>(), vec![4, 7]);
        // And the result does not depend on argument order of equal inputs.
        let g = fuse(&r(&[(4, 3.0)]), &r(&[(7, 0.5)]), Fusion::Rrf { k: 60.0 });
        assert_eq!(g.iter().map(|h| h.chunk).collect::<Vec<_>>(), vec![4, 7]);
    }

    #[test]
    fn weighted_minmax_hand_worked() {
        // bm25 [a=10, b=6, c=2] → [1, 0.5, 0]; vector [c=0.9, a=0.7, d=0.5] → [1, 0.5, 0].
        // alpha = 0.5: a = .5*.5 + .5*1 = .75; b = .5*0(missing) + .5*.5 = .25;
        // c = .5*1 + .5*0 = .5; d = .5*0 + .5*0(missing) = 0.
        let (a, b, c, d) = (1, 2, 3, 4);
        let f = fuse(
            &r(&[(a, 10.0), (b, 6.0), (c, 2.0)]),
            &r(&[(c, 0.9), (a, 0.7), (d, 0.5)]),
            Fusion::Weighted {
                alpha: 0.5,
                normalization: Normalization::Minmax,
            },
        );
        let got: Vec<(u32, f64)> = f.iter().map(|h| (h.chunk, h.score)).collect();
        let want = [(a, 0.75), (c, 0.5), (b, 0.25), (d, 0.0)];
        for ((gc, gs), (wc, ws)) in got.iter().zip(want) {
            assert_eq!(*gc, wc);
            assert!((gs - ws).abs() < 1e-6, "{got:?}");
        }
    }

    #[test]
    fn weighted_extremes_reproduce_single_retrievers() {
        let bm = r(&[(5, 3.0), (6, 2.0), (7, 1.0)]);
        let ve = r(&[(7, 0.9), (6, 0.8), (5, 0.1)]);
        let only = |alpha| {
            as_ranking(&combine(
                Some(&bm),
                Some(&ve),
                Some(Fusion::Weighted {
                    alpha,
                    normalization: Normalization::Zscore,
                }),
                3,
            ))
            .chunks()
            .collect::<Vec<_>>()
        };
        assert_eq!(only(0.0), vec![5, 6, 7]);
        assert_eq!(only(1.0), vec![7, 6, 5]);
    }

    #[test]
    fn constant_scores_normalise_safely() {
        let f = fuse(
            &r(&[(1, 2.0), (2, 2.0)]),
            &r(&[]),
            Fusion::Weighted {
                alpha: 0.3,
                normalization: Normalization::Zscore,
            },
        );
        assert!(f.iter().all(|h| h.score.is_finite()));
        assert_eq!(f.iter().map(|h| h.chunk).collect::<Vec<_>>(), vec![1, 2]);
    }
}
