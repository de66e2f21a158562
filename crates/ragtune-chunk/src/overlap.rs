//! What a chunker did, measured: how much each chunk shares with the one before it in the
//! same document. Semantic splitters overlap only in whole units that fit, so their
//! effective overlap can be far below the nominal one; this makes that visible.

use ragtune_core::{ChunkSet, Corpus};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Sizer;

/// Overlap between neighbouring chunks of one chunk set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OverlapStats {
    /// Pairs of neighbouring chunks (same document).
    pub pairs: usize,
    /// Mean characters shared with the previous chunk (0 for pairs that share none).
    pub chars_mean: f64,
    /// Mean tokens shared with the previous chunk, counted by the chunk sizer.
    pub tokens_mean: f64,
    /// Share of neighbouring pairs that overlap at all.
    pub share: f64,
}

/// Measure `set` over `corpus`, counting tokens with `sizer` (in parallel over pairs).
pub fn overlap_stats(set: &ChunkSet, corpus: &Corpus, sizer: &Sizer) -> OverlapStats {
    let (pairs, chars, tokens, overlapping) = set
        .chunks
        .par_windows(2)
        .filter(|w| w[0].doc == w[1].doc)
        .map(|w| {
            let (prev, cur) = (w[0], w[1]);
            let end = prev.end.min(cur.end);
            if cur.start < end {
                let shared = &corpus.docs[cur.doc as usize].text[cur.start..end];
                (1, shared.chars().count(), sizer.count(shared), 1)
            } else {
                (1, 0, 0, 0)
            }
        })
        .reduce(
            || (0usize, 0usize, 0usize, 0usize),
            |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3),
        );
    let n = pairs.max(1) as f64;
    OverlapStats {
        pairs,
        chars_mean: chars as f64 / n,
        tokens_mean: tokens as f64 / n,
        share: overlapping as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use ragtune_core::{Chunk, Document};

    use super::*;

    #[test]
    fn hand_worked_pairs() {
        let corpus = Corpus {
            docs: vec![
                Document {
                    id: "a".into(),
                    title: None,
                    text: "hello world again".into(),
                    pages: Vec::new(),
                },
                Document {
                    id: "b".into(),
                    title: None,
                    text: "x".into(),
                    pages: Vec::new(),
                },
            ],
            questions: vec![],
        };
        // [0,11) "hello world" and [6,17) "world again" share "world" (5 chars, 1 token);
        // [6,17) and [12,17) share "again"; the pair across documents does not count.
        let set = ChunkSet {
            chunks: vec![
                Chunk {
                    doc: 0,
                    start: 0,
                    end: 11,
                },
                Chunk {
                    doc: 0,
                    start: 6,
                    end: 17,
                },
                Chunk {
                    doc: 0,
                    start: 12,
                    end: 17,
                },
                Chunk {
                    doc: 1,
                    start: 0,
                    end: 1,
                },
            ],
            ..ChunkSet::default()
        };
        let s = overlap_stats(&set, &corpus, &Sizer::load("cl100k_base").unwrap());
        assert_eq!(s.pairs, 2);
        assert_eq!((s.chars_mean, s.tokens_mean, s.share), (5.0, 1.0, 1.0));
    }
}
