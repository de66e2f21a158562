//! Retrieval metrics as pure functions, each with its written definition.
//!
//! A RAG system hands the model the top `k` **chunks** of a ranking. Every metric here is
//! computed from those `k` chunks.
//!
//! # Document level
//! The distinct documents among the `k` chunks form a list in first-chunk order: a document
//! takes the position of its first chunk, and its later chunks collapse into it
//! ([`docs_at_k`]). With `R` the relevant documents and `D_k` that list:
//! - `recall@k    = |D_k ∩ R| / |R|`
//! - `precision@k = |D_k ∩ R| / k` — the denominator is `k`, the number of chunk slots,
//!   as in trec_eval's `P_k`; a second chunk of the same document spends a slot.
//! - `mrr@k       = 1 / p`, `p` the 1-based position in `D_k` of the first relevant
//!   document, or 0 when there is none.
//! - `hit_rate@k  = 1` if `D_k ∩ R` is non-empty, else 0.
//! - `ndcg@k      = DCG / IDCG`, `DCG = Σ_{i} rel(D_k[i]) / log2(i + 1)` (1-based `i`,
//!   binary gain), `IDCG = Σ_{i=1}^{min(|R|, k)} 1 / log2(i + 1)`, as trec_eval's `ndcg_cut_k`.
//!
//! Exporting `D_k` per question with strictly decreasing scores lets trec_eval reproduce
//! every value above exactly.
//!
//! # Span level (Chroma's chunking evaluation)
//! With `G` the union of the gold spans' bytes, `C` the union of the `k` chunks' bytes
//! (both per document), and `Σ|c|` the summed lengths of the `k` chunks (overlapping
//! chunks count twice, as in Chroma's implementation):
//! - `span_recall    = |G ∩ C| / |G|`
//! - `span_precision = |G ∩ C| / Σ|c|` (0 when no chunk was retrieved)
//! - `span_iou       = |G ∩ C| / (Σ|c| + |G \ C|)`
//!
//! Overlapping gold spans (SQuAD's repeated answers) are counted once, through `G`.
//!
//! # Judged
//! `judged@k` is the share of the `k` chunks whose bytes all lie in regions a person
//! judged (pooled labels: the gold spans and the regions judged not relevant); with
//! complete labels every chunk counts as judged and it is 1 ([`judged_share`]). Like the
//! other metrics it is defined for labelled questions only. A low judged@k says the other
//! metrics count unjudged chunks as misses.
//!
//! A label located at several places (an answer text that occurs more than once) has
//! **alternatives**: it counts as found when any one is covered. Before `G` is formed, each
//! such label contributes the one alternative with the most bytes in `C` (the first on a
//! tie), so every span metric takes the best alternative ([`span_metrics_with`]).
//!
//! ```
//! use ragtune_core::{Chunk, Span};
//! use ragtune_eval::span_metrics;
//! let chunks = [Chunk { doc: 0, start: 0, end: 10 }];
//! let gold = [Span { doc: 0, start: 5, end: 15 }];
//! let m = span_metrics(&chunks, &gold).unwrap();
//! assert_eq!((m.recall, m.precision, m.iou), (0.5, 0.5, 5.0 / 15.0));
//! ```
#![deny(missing_docs)]

mod kept;
mod schema;
mod select;
mod stats;

pub use kept::{
    MemoryStats, STATS_VERSION, StatsCache, StatsCounts, interval_kept, metric_cis_kept,
    paired_diff_kept,
};
pub use select::{Judged, Limit, Limits, judged_row, select_order};
pub use stats::{PairedDiff, RESAMPLES, SEED, bootstrap_ci, bootstrap_cis, paired_diff};

pub use schema::{
    BestSetup, Costs, Eliminated, LATENCY_SAMPLE, Metric, MetricValues, Objective, PointRecord,
    QuestionRanking, QuestionRow, RankingsRecord, ResultRow, SearchStep, SearchVerdict, Split,
    Strategy, latency_sample, metric_names, question_metrics, split_of,
};

use ragtune_core::{Chunk, DocId, Question, Span};

/// Distinct documents among the chunk documents `chunk_docs` (already cut to `k`), in
/// first-chunk order.
pub fn docs_at_k(chunk_docs: &[DocId]) -> Vec<DocId> {
    let mut seen = Vec::with_capacity(chunk_docs.len());
    for &d in chunk_docs {
        if !seen.contains(&d) {
            seen.push(d);
        }
    }
    seen
}

/// Document-level metrics of one question at one `k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DocMetrics {
    /// `|D_k ∩ R| / |R|`.
    pub recall: f64,
    /// `|D_k ∩ R| / k`.
    pub precision: f64,
    /// Reciprocal position of the first relevant document in `D_k`.
    pub mrr: f64,
    /// Binary-gain nDCG with the ideal ranking cut at `k`.
    pub ndcg: f64,
    /// 1 if any relevant document is in `D_k`.
    pub hit_rate: f64,
}

/// Document metrics for the ranked chunk documents `chunk_docs` (best first; only the
/// first `k` are read) against the relevant set `relevant`.
///
/// Returns `None` when `relevant` is empty (the question has no document label) or `k == 0`.
pub fn doc_metrics(chunk_docs: &[DocId], k: usize, relevant: &[DocId]) -> Option<DocMetrics> {
    if relevant.is_empty() || k == 0 {
        return None;
    }
    let cut = &chunk_docs[..chunk_docs.len().min(k)];
    let docs = docs_at_k(cut);
    let is_rel = |d: &DocId| relevant.contains(d);
    let n_rel_found = docs.iter().filter(|d| is_rel(d)).count();
    let mrr = docs
        .iter()
        .position(is_rel)
        .map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
    let dcg: f64 = docs
        .iter()
        .enumerate()
        .filter(|(_, d)| is_rel(d))
        .map(|(i, _)| 1.0 / ((i as f64) + 2.0).log2())
        .sum();
    let n_ideal = relevant.len().min(k);
    let idcg: f64 = (0..n_ideal).map(|i| 1.0 / ((i as f64) + 2.0).log2()).sum();
    Some(DocMetrics {
        recall: n_rel_found as f64 / relevant.len() as f64,
        precision: n_rel_found as f64 / k as f64,
        mrr,
        ndcg: dcg / idcg,
        hit_rate: if n_rel_found > 0 { 1.0 } else { 0.0 },
    })
}

/// Span-level metrics of one question at one `k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpanMetrics {
    /// Covered gold bytes ÷ gold bytes.
    pub recall: f64,
    /// Covered gold bytes ÷ summed chunk bytes.
    pub precision: f64,
    /// Covered gold bytes ÷ (summed chunk bytes + uncovered gold bytes).
    pub iou: f64,
}

/// Merge `(doc, start, end)` intervals into a sorted, disjoint union.
fn union(mut iv: Vec<(DocId, usize, usize)>) -> Vec<(DocId, usize, usize)> {
    iv.retain(|&(_, s, e)| e > s);
    iv.sort_unstable();
    let mut out: Vec<(DocId, usize, usize)> = Vec::with_capacity(iv.len());
    for (d, s, e) in iv {
        match out.last_mut() {
            Some(last) if last.0 == d && s <= last.2 => last.2 = last.2.max(e),
            _ => out.push((d, s, e)),
        }
    }
    out
}

/// Total bytes in the intersection of two sorted, disjoint interval lists.
fn intersection_len(a: &[(DocId, usize, usize)], b: &[(DocId, usize, usize)]) -> usize {
    let (mut i, mut j, mut total) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let (da, sa, ea) = a[i];
        let (db, sb, eb) = b[j];
        if da != db {
            if da < db {
                i += 1
            } else {
                j += 1
            }
            continue;
        }
        let (s, e) = (sa.max(sb), ea.min(eb));
        if e > s {
            total += e - s;
        }
        if ea <= eb { i += 1 } else { j += 1 }
    }
    total
}

/// Span metrics of the retrieved `chunks` (already cut to `k`) against `gold`.
///
/// Returns `None` when the gold spans cover no bytes (the question has no span label).
pub fn span_metrics(chunks: &[Chunk], gold: &[Span]) -> Option<SpanMetrics> {
    let g = union(gold.iter().map(|s| (s.doc, s.start, s.end)).collect());
    let gold_bytes: usize = g.iter().map(|&(_, s, e)| e - s).sum();
    if gold_bytes == 0 {
        return None;
    }
    let c = union(chunks.iter().map(|c| (c.doc, c.start, c.end)).collect());
    let chunk_bytes: usize = chunks.iter().map(|c| c.end.saturating_sub(c.start)).sum();
    let covered = intersection_len(&g, &c);
    let uncovered = gold_bytes - covered;
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            0.0
        } else {
            num as f64 / den as f64
        }
    };
    Some(SpanMetrics {
        recall: ratio(covered, gold_bytes),
        precision: ratio(covered, chunk_bytes),
        iou: ratio(covered, chunk_bytes + uncovered),
    })
}

/// [`span_metrics`] where each entry of `alternatives` is one label located at several
/// places: the alternative with the most bytes covered by `chunks` (the first on a tie)
/// joins `gold` before the metrics are computed.
pub fn span_metrics_with(
    chunks: &[Chunk],
    gold: &[Span],
    alternatives: &[Vec<Span>],
) -> Option<SpanMetrics> {
    if alternatives.is_empty() {
        return span_metrics(chunks, gold);
    }
    let c = union(chunks.iter().map(|c| (c.doc, c.start, c.end)).collect());
    let mut all = gold.to_vec();
    for alts in alternatives {
        let covered = |s: &Span| intersection_len(&union(vec![(s.doc, s.start, s.end)]), &c);
        let mut best: Option<(&Span, usize)> = None;
        for a in alts {
            let n = covered(a);
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((a, n));
            }
        }
        all.extend(best.map(|(s, _)| *s));
    }
    span_metrics(chunks, &all)
}

/// judged@k: the share of the `k` chunks (already cut) whose bytes all lie in the
/// question's judged regions; 1 for complete labels (`judged: None`), where every chunk
/// counts as judged; `None` when no chunk was retrieved.
pub fn judged_share(q: &Question, cut: &[Chunk]) -> Option<f64> {
    if cut.is_empty() {
        return None;
    }
    let Some(regions) = &q.judged else {
        return Some(1.0);
    };
    let judged = union(regions.iter().map(|s| (s.doc, s.start, s.end)).collect());
    let n = cut
        .iter()
        .filter(|c| {
            let whole = [(c.doc, c.start, c.end)];
            intersection_len(&whole, &judged) == c.len()
        })
        .count();
    Some(n as f64 / cut.len() as f64)
}

/// Value at percentile `p` (0–100) of `values` by linear interpolation between closest
/// ranks (numpy's default). `None` for an empty slice.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let pos = (p / 100.0).clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    fn ch(doc: DocId, start: usize, end: usize) -> Chunk {
        Chunk { doc, start, end }
    }
    fn sp(doc: DocId, start: usize, end: usize) -> Span {
        Span { doc, start, end }
    }

    // Gold: one direct span [0, 4) of doc 0 and one label found twice, at [20, 30) of
    // doc 0 and [0, 10) of doc 1. Chunks: doc 0 [0, 10) and doc 1 [5, 15).
    // Alternative [20, 30) has 0 bytes covered, [0, 10) of doc 1 has 5: the second wins.
    // G = {doc 0 [0, 4), doc 1 [0, 10)} = 14 bytes; covered 4 + 5 = 9; Σ|c| = 20.
    // recall 9/14, precision 9/20, iou 9 / (20 + 5).
    #[test]
    fn alternatives_take_the_best_covered() {
        let chunks = [ch(0, 0, 10), ch(1, 5, 15)];
        let alts = vec![vec![sp(0, 20, 30), sp(1, 0, 10)]];
        let m = span_metrics_with(&chunks, &[sp(0, 0, 4)], &alts).unwrap();
        close(m.recall, 9.0 / 14.0);
        close(m.precision, 9.0 / 20.0);
        close(m.iou, 9.0 / 25.0);
        // Nothing covered: the first alternative stands, as a plain span would.
        let m = span_metrics_with(&[ch(2, 0, 5)], &[], &alts).unwrap();
        assert_eq!(m, span_metrics(&[ch(2, 0, 5)], &[sp(0, 20, 30)]).unwrap());
        // A tie keeps the first.
        let tie = vec![vec![sp(0, 0, 10), sp(1, 5, 15)]];
        let m = span_metrics_with(&chunks, &[], &tie).unwrap();
        assert_eq!(m, span_metrics(&chunks, &[sp(0, 0, 10)]).unwrap());
        // Without alternatives it is span_metrics.
        assert_eq!(
            span_metrics_with(&chunks, &[sp(0, 2, 8)], &[]),
            span_metrics(&chunks, &[sp(0, 2, 8)])
        );
    }

    // Regions: doc 0 [0, 10) and [10, 20) (adjacent: one region [0, 20)), doc 1 [5, 8).
    // Chunks: doc 0 [2, 18) inside; doc 0 [15, 25) partly outside; doc 1 [5, 8) inside;
    // doc 2 [0, 1) outside. judged@4 = 2/4; judged@1 = 1.
    #[test]
    fn judged_share_counts_chunks_wholly_inside_judged_regions() {
        let mut q = Question {
            id: "q".into(),
            text: "?".into(),
            relevant_docs: vec![],
            spans: vec![],
            alternatives: vec![],
            judged: Some(vec![sp(0, 0, 10), sp(0, 10, 20), sp(1, 5, 8)]),
        };
        let cut = [ch(0, 2, 18), ch(0, 15, 25), ch(1, 5, 8), ch(2, 0, 1)];
        close(judged_share(&q, &cut).unwrap(), 0.5);
        close(judged_share(&q, &cut[..1]).unwrap(), 1.0);
        assert_eq!(judged_share(&q, &[]), None);
        q.judged = None;
        close(judged_share(&q, &cut).unwrap(), 1.0);
    }

    #[test]
    fn docs_collapse_in_first_chunk_order() {
        assert_eq!(docs_at_k(&[3, 1, 3, 2, 1]), vec![3, 1, 2]);
        assert!(docs_at_k(&[]).is_empty());
    }

    // Chunks from docs [A, A, B, C, B] = [0, 0, 1, 2, 1]; relevant {1, 2, 7}.
    // k=1: D=[0]        → recall 0, precision 0, mrr 0, hit 0, ndcg 0.
    // k=3: D=[0, 1]     → found {1}: recall 1/3, precision 1/3, mrr 1/2, hit 1,
    //                     dcg = 1/log2(3), idcg = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5.
    // k=5: D=[0, 1, 2]  → found {1, 2}: recall 2/3, precision 2/5, mrr 1/2,
    //                     dcg = 1/log2(3) + 1/log2(4); idcg over min(3, 5) = 3 positions.
    #[test]
    fn doc_metrics_hand_worked() {
        let ranked = [0, 0, 1, 2, 1];
        let rel = [1, 2, 7];
        let m1 = doc_metrics(&ranked, 1, &rel).unwrap();
        assert_eq!(
            (m1.recall, m1.precision, m1.mrr, m1.hit_rate, m1.ndcg),
            (0.0, 0.0, 0.0, 0.0, 0.0)
        );

        let l3 = 1.0 / 3f64.log2();
        let idcg3 = 1.0 + l3 + 0.5;
        let m3 = doc_metrics(&ranked, 3, &rel).unwrap();
        close(m3.recall, 1.0 / 3.0);
        close(m3.precision, 1.0 / 3.0);
        close(m3.mrr, 0.5);
        close(m3.hit_rate, 1.0);
        close(m3.ndcg, l3 / idcg3);

        let m5 = doc_metrics(&ranked, 5, &rel).unwrap();
        close(m5.recall, 2.0 / 3.0);
        close(m5.precision, 2.0 / 5.0);
        close(m5.mrr, 0.5);
        close(m5.ndcg, (l3 + 0.5) / idcg3);
    }

    #[test]
    fn ndcg_ideal_is_cut_at_k() {
        // One relevant doc at position 1, but 3 relevant overall: at k=1 the ideal holds only
        // one document, so nDCG@1 is 1.
        let m = doc_metrics(&[4, 5], 1, &[4, 8, 9]).unwrap();
        close(m.ndcg, 1.0);
        close(m.recall, 1.0 / 3.0);
    }

    #[test]
    fn k_beyond_ranking_length_still_divides_by_k() {
        let m = doc_metrics(&[1], 10, &[1]).unwrap();
        close(m.precision, 0.1);
        close(m.recall, 1.0);
        close(m.ndcg, 1.0);
    }

    #[test]
    fn no_labels_gives_none() {
        assert!(doc_metrics(&[1, 2], 2, &[]).is_none());
        assert!(span_metrics(&[ch(0, 0, 4)], &[]).is_none());
        assert!(span_metrics(&[ch(0, 0, 4)], &[sp(0, 3, 3)]).is_none());
    }

    #[test]
    fn chunk_equal_to_excerpt_is_perfect() {
        let m = span_metrics(&[ch(0, 10, 20)], &[sp(0, 10, 20)]).unwrap();
        assert_eq!((m.recall, m.precision, m.iou), (1.0, 1.0, 1.0));
    }

    #[test]
    fn overlapping_chunks_count_twice_in_denominator() {
        // Chunks [0,10) and [5,15) overlap on 5 bytes; gold [5,10).
        // covered = 5, Σ|c| = 20, uncovered = 0.
        let m = span_metrics(&[ch(0, 0, 10), ch(0, 5, 15)], &[sp(0, 5, 10)]).unwrap();
        close(m.recall, 1.0);
        close(m.precision, 5.0 / 20.0);
        close(m.iou, 5.0 / 20.0);
    }

    #[test]
    fn excerpt_spread_over_two_chunks() {
        // Gold [8,14) split by the chunk boundary at 10: 2 bytes in each chunk... [8,10)+[10,14).
        let m = span_metrics(&[ch(0, 0, 10), ch(0, 10, 20)], &[sp(0, 8, 14)]).unwrap();
        close(m.recall, 1.0);
        close(m.precision, 6.0 / 20.0);
        // Only the first chunk retrieved: 2 of 6 gold bytes covered; iou = 2 / (10 + 4).
        let m = span_metrics(&[ch(0, 0, 10)], &[sp(0, 8, 14)]).unwrap();
        close(m.recall, 2.0 / 6.0);
        close(m.precision, 2.0 / 10.0);
        close(m.iou, 2.0 / 14.0);
    }

    #[test]
    fn chunks_from_other_documents_cover_nothing() {
        // Same byte range, other document: zero coverage, full denominator.
        let m = span_metrics(&[ch(1, 0, 10), ch(0, 0, 4)], &[sp(0, 2, 8)]).unwrap();
        close(m.recall, 2.0 / 6.0);
        close(m.precision, 2.0 / 14.0);
        close(m.iou, 2.0 / (14.0 + 4.0));
    }

    #[test]
    fn several_excerpts_and_repeated_answers() {
        // Gold: [0,4) twice (a repeated SQuAD answer) and [10,12) in doc 0, [0,3) in doc 2.
        // G = 4 + 2 + 3 = 9 bytes. Chunks: doc0 [2,11), doc2 [0,1).
        // covered = [2,4)=2 + [10,11)=1 + [0,1)=1 = 4. Σ|c| = 9 + 1 = 10. uncovered = 5.
        let gold = [sp(0, 0, 4), sp(0, 0, 4), sp(0, 10, 12), sp(2, 0, 3)];
        let m = span_metrics(&[ch(0, 2, 11), ch(2, 0, 1)], &gold).unwrap();
        close(m.recall, 4.0 / 9.0);
        close(m.precision, 4.0 / 10.0);
        close(m.iou, 4.0 / 15.0);
    }

    #[test]
    fn non_ascii_offsets_are_bytes() {
        // "café au lait": 'é' is 2 bytes, so "café" is bytes [0,5).
        let text = "café au lait";
        assert_eq!(&text[0..5], "café");
        let m = span_metrics(&[ch(0, 0, 5)], &[sp(0, 0, 5)]).unwrap();
        close(m.iou, 1.0);
        // A chunk "au lait" [6,13) against gold "café": nothing covered.
        let m = span_metrics(&[ch(0, 6, 13)], &[sp(0, 0, 5)]).unwrap();
        close(m.recall, 0.0);
        close(m.iou, 0.0);
    }

    #[test]
    fn nothing_retrieved() {
        let m = span_metrics(&[], &[sp(0, 0, 5)]).unwrap();
        assert_eq!((m.recall, m.precision, m.iou), (0.0, 0.0, 0.0));
    }

    #[test]
    fn percentile_interpolates() {
        assert_eq!(percentile(&[], 50.0), None);
        close(percentile(&[3.0, 1.0, 2.0, 4.0], 50.0).unwrap(), 2.5);
        close(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 95.0).unwrap(), 4.8);
        close(percentile(&[7.0], 95.0).unwrap(), 7.0);
    }
}
