//! Which shard does what: the plan's embedding split into document ranges, and its setups
//! grouped by the index they share, each assigned by longest-processing-time-first to the
//! least-loaded shard. Deterministic: every shard computes the same assignment.

use ragtune_core::{ChunkSpec, Corpus};
use serde::Serialize;

use crate::plan::Plan;

/// Pieces per shard the embedding is cut into: enough for the greedy assignment to even
/// the shards out, few enough that each piece is a worthwhile batch.
const PIECES_PER_SHARD: u64 = 8;

/// A document's estimated tokens: its bytes over 4 (English text runs at about 4 bytes
/// per WordPiece token). Only ratios between shards matter, so the constant is harmless.
pub fn estimated_doc_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// How many times a chunking embeds each token: `size / (size - overlap)` when chunks
/// overlap, else 1.
fn expansion(spec: &ChunkSpec) -> f64 {
    if spec.kind.is_sized() && spec.overlap > 0 && spec.overlap < spec.size {
        spec.size as f64 / (spec.size - spec.overlap) as f64
    } else {
        1.0
    }
}

/// One piece of embedding work: a vectors node's chunks that lie in a range of documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbedUnit {
    /// The vectors node.
    pub vectors: usize,
    /// Its chunk set node.
    pub chunks: usize,
    /// The model, by the grid's name.
    pub model: String,
    /// First document.
    pub first_doc: usize,
    /// One past the last document.
    pub end_doc: usize,
    /// Estimated tokens to embed.
    pub tokens: u64,
}

/// Setups that share their costliest node (vectors, else the BM25 index).
#[derive(Debug, Clone)]
struct SetupGroup {
    config_ids: Vec<String>,
    tokens: u64,
}

/// Every shard's share of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct ShardPlan {
    /// How many shards.
    pub count: usize,
    /// Per shard, its embedding pieces.
    pub embed: Vec<Vec<EmbedUnit>>,
    /// Per shard, the config ids of the setups it scores.
    pub setups: Vec<Vec<String>>,
    /// Per shard, the estimated tokens it embeds.
    pub embed_tokens: Vec<u64>,
    /// Per shard, the estimated tokens its setups index (a proxy for index and ranking
    /// work, balanced on its own).
    pub score_tokens: Vec<u64>,
}

impl ShardPlan {
    /// Assign `plan` over `corpus` to `count` shards.
    pub fn new(plan: &Plan, corpus: &Corpus, count: usize) -> Self {
        let count = count.max(1);
        let docs: Vec<u64> = corpus
            .docs
            .iter()
            .map(|d| estimated_doc_tokens(&d.text))
            .collect();
        let (embed, embed_tokens) = lpt(embed_units(plan, &docs, count), count, |u| u.tokens);
        let (groups, score_tokens) = lpt(setup_groups(plan, &docs), count, |g| g.tokens);
        let setups = groups
            .into_iter()
            .map(|gs| gs.into_iter().flat_map(|g| g.config_ids).collect())
            .collect();
        Self {
            count,
            embed,
            setups,
            embed_tokens,
            score_tokens,
        }
    }

    /// The largest shard's estimated embedding tokens over the mean (1 is perfect; 1 too
    /// when there is nothing to embed).
    pub fn imbalance(&self) -> f64 {
        let total: u64 = self.embed_tokens.iter().sum();
        let max = self.embed_tokens.iter().copied().max().unwrap_or(0);
        if total == 0 {
            1.0
        } else {
            max as f64 * self.count as f64 / total as f64
        }
    }
}

/// Every vectors node, cut into runs of whole documents of about an even share of
/// `count × PIECES_PER_SHARD` pieces of the total.
fn embed_units(plan: &Plan, docs: &[u64], count: usize) -> Vec<EmbedUnit> {
    let mut nodes: Vec<(usize, usize, String, f64)> = Vec::new();
    for s in &plan.setups {
        if let (Some(v), Some(spec)) = (s.vector, s.setup.retriever.vector())
            && !nodes.iter().any(|n| n.0 == v.vectors)
        {
            nodes.push((
                v.vectors,
                s.chunks,
                spec.model.clone(),
                expansion(&s.setup.chunk),
            ));
        }
    }
    let corpus: u64 = docs.iter().sum();
    let total: f64 = nodes.iter().map(|n| corpus as f64 * n.3).sum();
    let target = (total / (count as u64 * PIECES_PER_SHARD) as f64).max(1.0);
    let mut units = Vec::new();
    for (vectors, chunks, model, factor) in nodes {
        let mut start = 0;
        let mut acc = 0.0;
        for (d, &t) in docs.iter().enumerate() {
            acc += t as f64 * factor;
            if acc >= target || d + 1 == docs.len() {
                units.push(EmbedUnit {
                    vectors,
                    chunks,
                    model: model.clone(),
                    first_doc: start,
                    end_doc: d + 1,
                    tokens: acc.round() as u64,
                });
                start = d + 1;
                acc = 0.0;
            }
        }
    }
    units
}

/// The setups grouped by their vectors node, else their BM25 index, in plan order; each
/// group weighs the estimated tokens its chunk set holds.
fn setup_groups(plan: &Plan, docs: &[u64]) -> Vec<SetupGroup> {
    let corpus: u64 = docs.iter().sum();
    let mut keys: Vec<usize> = Vec::new();
    let mut groups: Vec<SetupGroup> = Vec::new();
    for s in &plan.setups {
        let key = s
            .vector
            .map(|v| v.vectors)
            .or(s.bm25.map(|(index, _)| index))
            .unwrap_or(s.chunks);
        match keys.iter().position(|&k| k == key) {
            Some(g) => groups[g].config_ids.push(s.config_id.clone()),
            None => {
                keys.push(key);
                groups.push(SetupGroup {
                    config_ids: vec![s.config_id.clone()],
                    tokens: (corpus as f64 * expansion(&s.setup.chunk)).round() as u64,
                });
            }
        }
    }
    groups
}

/// Longest processing time first: heaviest item to the least-loaded shard (ties: the
/// earlier item, the lower shard), which keeps the largest shard within 4/3 of optimal.
fn lpt<T>(mut items: Vec<T>, count: usize, weight: impl Fn(&T) -> u64) -> (Vec<Vec<T>>, Vec<u64>) {
    items.sort_by_key(|i| std::cmp::Reverse(weight(i)));
    let mut bins: Vec<Vec<T>> = (0..count).map(|_| Vec::new()).collect();
    let mut load = vec![0u64; count];
    for item in items {
        let s = (0..count).min_by_key(|&s| (load[s], s)).expect("count ≥ 1");
        load[s] += weight(&item);
        bins[s].push(item);
    }
    (bins, load)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn plan_of(sizes: &str) -> (Plan, Corpus) {
        let dir = tempfile::tempdir().unwrap();
        testing::write_corpus(dir.path());
        let text = testing::grid_text(sizes, "[0.5]", "[1, 3]");
        let grid = testing::grid(dir.path(), "g.toml", &text).unwrap();
        let prep = crate::prepare(&grid, &testing::MODELS, dir.path(), None).unwrap();
        (prep.plan, prep.corpus)
    }

    #[test]
    fn every_piece_and_setup_goes_to_exactly_one_shard() {
        let (plan, corpus) = plan_of("[40, 80, 120]");
        for count in [1, 2, 3, 7] {
            let sp = ShardPlan::new(&plan, &corpus, count);
            let mut ids: Vec<String> = sp.setups.concat();
            ids.sort();
            let mut want: Vec<String> = plan.setups.iter().map(|s| s.config_id.clone()).collect();
            want.sort();
            assert_eq!(ids, want, "{count} shards");
            // Each vectors node's pieces tile its documents exactly once.
            let mut pieces: Vec<EmbedUnit> = sp.embed.concat();
            pieces.sort_by_key(|u| (u.vectors, u.first_doc));
            for v in pieces
                .iter()
                .map(|u| u.vectors)
                .collect::<std::collections::BTreeSet<_>>()
            {
                let mine: Vec<&EmbedUnit> = pieces.iter().filter(|u| u.vectors == v).collect();
                assert_eq!(mine[0].first_doc, 0);
                assert_eq!(mine.last().unwrap().end_doc, corpus.docs.len());
                assert!(mine.windows(2).all(|w| w[0].end_doc == w[1].first_doc));
            }
            assert_eq!(
                sp.embed_tokens.iter().sum::<u64>(),
                pieces.iter().map(|u| u.tokens).sum::<u64>()
            );
            // The same inputs always give the same assignment.
            assert_eq!(ShardPlan::new(&plan, &corpus, count).setups, sp.setups);
            if count == 3 {
                assert!(sp.imbalance() <= 1.15, "imbalance {}", sp.imbalance());
            }
        }
    }

    #[test]
    fn greedy_assignment_fills_the_lightest_shard() {
        let (bins, load) = lpt(vec![5u64, 4, 3, 3, 2, 1], 2, |&w| w);
        assert_eq!(load, vec![9, 9]);
        assert_eq!(bins, vec![vec![5, 3, 1], vec![4, 3, 2]]);
    }

    #[test]
    fn overlapping_chunkings_weigh_more() {
        let spec = |size, overlap| ChunkSpec {
            kind: ragtune_core::ChunkerKind::Recursive,
            size,
            overlap,
        };
        assert_eq!(expansion(&spec(200, 0)), 1.0);
        assert_eq!(expansion(&spec(200, 100)), 2.0);
        assert_eq!(estimated_doc_tokens("abcdefghi"), 3);
    }
}
