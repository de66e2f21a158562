//! Invariants of the metrics on many seeded random rankings and labels.

use ragtune_core::{Chunk, DocId, Span};
use ragtune_eval::{doc_metrics, docs_at_k, span_metrics};

struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn metrics_hold_their_invariants() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..2000 {
        let n_docs = 1 + rng.next(6) as u32;
        let depth = 1 + rng.next(12) as usize;
        let chunks: Vec<Chunk> = (0..depth)
            .map(|_| {
                let start = rng.next(200) as usize;
                Chunk {
                    doc: rng.next(n_docs as u64) as DocId,
                    start,
                    end: start + 1 + rng.next(60) as usize,
                }
            })
            .collect();
        let mut relevant: Vec<DocId> = (0..n_docs).filter(|_| rng.next(3) == 0).collect();
        if relevant.is_empty() {
            relevant.push(0);
        }
        let gold: Vec<Span> = relevant
            .iter()
            .map(|&doc| {
                let start = rng.next(200) as usize;
                Span {
                    doc,
                    start,
                    end: start + 1 + rng.next(40) as usize,
                }
            })
            .collect();
        let docs: Vec<DocId> = chunks.iter().map(|c| c.doc).collect();
        let mut prev: Option<(f64, f64, f64)> = None;
        for k in 1..=depth + 2 {
            let d = doc_metrics(&docs, k, &relevant).unwrap();
            let s = span_metrics(&chunks[..k.min(depth)], &gold).unwrap();
            for v in [
                d.recall,
                d.precision,
                d.mrr,
                d.ndcg,
                d.hit_rate,
                s.recall,
                s.precision,
                s.iou,
            ] {
                assert!(
                    (0.0..=1.0 + 1e-12).contains(&v),
                    "case {case} k {k}: {d:?} {s:?}"
                );
            }
            let found = docs_at_k(&docs[..k.min(depth)])
                .iter()
                .filter(|x| relevant.contains(x))
                .count() as f64;
            assert!(
                (d.precision * k as f64 - found).abs() < 1e-9,
                "case {case}: precision·k = relevant found"
            );
            assert!(
                (d.recall * relevant.len() as f64 - found).abs() < 1e-9,
                "case {case}: recall·|R| = relevant found"
            );
            assert_eq!(d.hit_rate > 0.0, found > 0.0);
            assert_eq!(d.mrr > 0.0, found > 0.0);
            assert!(
                s.iou <= s.recall.min(s.precision) + 1e-12,
                "case {case}: IoU bounded by recall and precision"
            );
            if let Some((r, h, sr)) = prev {
                assert!(
                    d.recall >= r && d.hit_rate >= h && s.recall >= sr - 1e-12,
                    "case {case}: monotone in k"
                );
            }
            prev = Some((d.recall, d.hit_rate, s.recall));
        }
    }
}
