//! Scoring: a setup's final rankings, one per question, become its [`PointRecord`].

use std::collections::HashMap;

use ragtune_chunk::OverlapStats;
use ragtune_core::{Chunk, ChunkSet, Corpus, DocId, Question, Ranking, Setup, VectorFormat};
use ragtune_eval::{
    Costs, MetricValues, PointRecord, QuestionRanking, QuestionRow, RankingsRecord, ResultRow,
    Split, percentile, question_metrics,
};
use ragtune_vector::recall_vs_exact;

/// Whether `chunk` is relevant to `q`: it overlaps a gold span, or — for questions with
/// only document labels — it belongs to a relevant document.
pub fn chunk_is_relevant(q: &Question, chunk: &Chunk) -> bool {
    if !q.has_spans() {
        q.relevant_docs.contains(&chunk.doc)
    } else {
        q.all_spans()
            .any(|s| s.doc == chunk.doc && s.start < chunk.end && chunk.start < s.end)
    }
}

/// What scoring reads besides the rankings.
pub struct ScoreCtx<'a> {
    /// The corpus and its questions.
    pub corpus: &'a Corpus,
    /// The setup's chunks.
    pub set: &'a ChunkSet,
    /// Tokens per chunk.
    pub counts: &'a [u32],
    /// The cut-offs.
    pub ks: &'a [usize],
    /// The chunk set's effective overlap (sized chunkers).
    pub overlap: Option<OverlapStats>,
    /// `[select] holdout`: rows for the tuning and held-out parts beside `all`.
    pub holdout: Option<f64>,
}

/// The per-question inputs of one setup's score.
pub struct Scored<'a> {
    /// The final ranking per question.
    pub rankings: &'a [Ranking],
    /// Query milliseconds per question of the latency sample.
    pub ms: &'a [f64],
    /// Index costs.
    pub costs: Costs,
    /// For HNSW setups: exact and HNSW rankings over the same vectors.
    pub hnsw_vs_exact: Option<(&'a [Ranking], &'a [Ranking])>,
}

impl ScoreCtx<'_> {
    /// The rankings that were scored, for export.
    pub fn rankings_record(
        &self,
        config_id: &str,
        depth: usize,
        rankings: &[Ranking],
    ) -> RankingsRecord {
        let mut table: HashMap<DocId, u32> = HashMap::new();
        let mut doc_ids = Vec::new();
        let questions = self
            .corpus
            .questions
            .iter()
            .zip(rankings)
            .map(|(q, r)| {
                let docs = r
                    .hits
                    .iter()
                    .map(|h| {
                        let d = self.set.chunks[h.chunk as usize].doc;
                        *table.entry(d).or_insert_with(|| {
                            doc_ids.push(self.corpus.docs[d as usize].id.clone());
                            doc_ids.len() as u32 - 1
                        })
                    })
                    .collect();
                QuestionRanking {
                    id: q.id.clone(),
                    chunks: r.chunks().collect(),
                    docs,
                    scores: r.hits.iter().map(|h| h.score).collect(),
                }
            })
            .collect();
        RankingsRecord {
            config_id: config_id.to_string(),
            depth,
            doc_ids,
            questions,
        }
    }

    /// Each question's rows at every k. With `expand`, each retrieved chunk stands for the
    /// passage of its neighbours ([`ChunkSet::expanded`]): relevance and span metrics read
    /// the passages (span metrics their union), and context tokens count every distinct
    /// chunk handed over once.
    fn question_rows(&self, setup: &Setup, rankings: &[Ranking]) -> Vec<QuestionRow> {
        let config_id = setup.config_id();
        let e = setup.expand;
        let mut rows = Vec::with_capacity(rankings.len() * self.ks.len());
        for (q, r) in self.corpus.questions.iter().zip(rankings) {
            let chunks: Vec<Chunk> = (r.hits.iter())
                .map(|h| self.set.expanded(h.chunk as usize, e))
                .collect();
            let first_relevant_rank = chunks
                .iter()
                .position(|c| chunk_is_relevant(q, c))
                .map(|i| i as u32 + 1);
            for &k in self.ks {
                rows.push(QuestionRow {
                    config_id: config_id.to_string(),
                    top_k: k as u32,
                    question_id: q.id.clone(),
                    metrics: question_metrics(q, &chunks, k),
                    context_tokens: self.context_tokens(r, k, e),
                    first_relevant_rank,
                });
            }
        }
        rows
    }

    /// Tokens of the top `k` chunks of `r`, each with `e` neighbours a side, every
    /// distinct chunk counted once.
    fn context_tokens(&self, r: &Ranking, k: usize, e: usize) -> u32 {
        if e == 0 {
            return r
                .hits
                .iter()
                .take(k)
                .map(|h| self.counts[h.chunk as usize])
                .sum();
        }
        let handed: std::collections::BTreeSet<usize> = (r.hits.iter().take(k))
            .flat_map(|h| self.set.neighbours(h.chunk as usize, e))
            .collect();
        handed.into_iter().map(|c| self.counts[c]).sum()
    }

    /// Score one setup.
    pub fn score(&self, setup: &Setup, s: &Scored) -> PointRecord {
        let config_id = setup.config_id();
        let questions = self.question_rows(setup, s.rankings);
        let costs = Costs {
            query_ms_p50: percentile(s.ms, 50.0).unwrap_or(0.0),
            query_ms_p95: percentile(s.ms, 95.0).unwrap_or(0.0),
            query_ms_p99: percentile(s.ms, 99.0).unwrap_or(0.0),
            ..s.costs
        };
        let n = self.counts.len().max(1) as f64;
        let mean_chunk_tokens = self.counts.iter().map(|&c| c as f64).sum::<f64>() / n;
        // HNSW and quantised vectors are measured against exact float32 search.
        let is_hnsw = setup.retriever.hnsw().is_some()
            || (setup.retriever.vector()).is_some_and(|v| v.format != VectorFormat::F32);
        let splits: &[Split] = if self.holdout.is_some() {
            &[Split::All, Split::Tune, Split::Test]
        } else {
            &[Split::All]
        };
        let holdout = self.holdout;
        let in_split = |q: &QuestionRow, split: Split| split.holds(&q.question_id, holdout);
        let rows = self
            .ks
            .iter()
            .flat_map(|&k| splits.iter().map(move |&split| (k, split)))
            .map(|(k, split)| {
                let at_k = || {
                    questions
                        .iter()
                        .filter(move |r| r.top_k == k as u32 && in_split(r, split))
                };
                let hnsw_recall_vs_exact =
                    s.hnsw_vs_exact.filter(|_| is_hnsw).map(|(exact, approx)| {
                        exact
                            .iter()
                            .zip(approx)
                            .map(|(e, a)| recall_vs_exact(e, a, k))
                            .sum::<f64>()
                            / exact.len().max(1) as f64
                    });
                let n_q = at_k().count().max(1) as f64;
                ResultRow {
                    config_id: config_id.clone(),
                    top_k: k as u32,
                    split,
                    n_questions: at_k().count() as u32,
                    metrics: MetricValues::mean(at_k().map(|r| &r.metrics)),
                    context_tokens: at_k().map(|r| r.context_tokens as f64).sum::<f64>() / n_q,
                    hnsw_recall_vs_exact,
                    n_chunks: self.set.len() as u64,
                    mean_chunk_tokens,
                    overlap_chars_mean: self.overlap.map(|o| o.chars_mean),
                    overlap_tokens_mean: self.overlap.map(|o| o.tokens_mean),
                    overlap_share: self.overlap.map(|o| o.share),
                    costs,
                }
            })
            .collect();
        PointRecord {
            config_id,
            equivalent: Vec::new(),
            label: setup.label(),
            point: setup.clone(),
            rows,
            questions,
            search: None,
        }
    }
}
