//! Which shard does what: the plan's embedding split into document ranges, and its setups
//! grouped by the index they share, each assigned by longest-processing-time-first to the
//! least-loaded shard. Deterministic: every shard computes the same assignment.

use ragtune_core::ChunkSpec;
use serde::Serialize;

use crate::plan::Plan;
use crate::prepare::Prepared;

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

/// What a piece of embedding work embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Piece {
    /// A vectors node's chunks that lie in a range of documents.
    Chunks {
        /// The vectors node.
        vectors: usize,
        /// Its chunk set node.
        chunks: usize,
        /// First document.
        first_doc: usize,
        /// One past the last document.
        end_doc: usize,
    },
    /// Every question (each model embeds them once, whatever the chunking).
    Questions,
}

/// One piece of embedding work under one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbedUnit {
    /// The model, by the grid's name.
    pub model: String,
    /// What it embeds.
    pub piece: Piece,
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
    pub fn new(prep: &Prepared, count: usize) -> Self {
        let (plan, corpus) = (&prep.plan, &prep.corpus);
        let count = count.max(1);
        let docs: Vec<u64> = corpus
            .docs
            .iter()
            .map(|d| estimated_doc_tokens(&d.text))
            .collect();
        let questions: u64 = corpus
            .questions
            .iter()
            .map(|q| estimated_doc_tokens(&q.text))
            .sum();
        let max = |m: &str| {
            prep.infos
                .get(m)
                .map_or(usize::MAX, |i| i.record.max_tokens)
        };
        let units = embed_units(plan, &docs, questions, &max, count);
        let (embed, embed_tokens) = lpt(units, count, |u| u.tokens);
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

    /// Each shard's exact embedding tokens — the counting tokenizer's count of every text
    /// in its pieces, cut at the model's maximum as the model runs it — when every chunk
    /// set the pieces need is in `store`; else `None`.
    pub fn exact_tokens(
        &self,
        prep: &Prepared,
        store: &ragtune_store::StageStore,
    ) -> Option<Vec<u64>> {
        let (plan, corpus, tokenizer) = (&prep.plan, &prep.corpus, &prep.tokenizer);
        let max = |m: &str| {
            prep.infos
                .get(m)
                .map_or(u64::MAX, |i| i.record.max_tokens as u64)
        };
        let lens: Vec<usize> = corpus.docs.iter().map(|d| d.text.len()).collect();
        let mut per_doc: std::collections::HashMap<(usize, u64), Vec<u64>> = Default::default();
        let mut questions = None;
        let mut out = Vec::with_capacity(self.count);
        for pieces in &self.embed {
            let mut total = 0;
            for u in pieces {
                let cap = max(&u.model);
                let Piece::Chunks {
                    chunks,
                    first_doc,
                    end_doc,
                    ..
                } = u.piece
                else {
                    total += *questions.get_or_insert_with(|| {
                        corpus
                            .questions
                            .iter()
                            .map(|q| {
                                u64::from(ragtune_chunk::count_tokens(tokenizer, &q.text)).min(cap)
                            })
                            .sum::<u64>()
                    });
                    continue;
                };
                let docs = match per_doc.entry((chunks, cap)) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let key = &plan.nodes[chunks].key;
                        let bytes = store.get(ragtune_store::Stage::Chunks, key)?;
                        e.insert(stored_doc_tokens(&bytes, &lens, cap)?)
                    }
                };
                total += docs[first_doc..end_doc].iter().sum::<u64>();
            }
            out.push(total);
        }
        Some(out)
    }

    /// The largest shard's estimated embedding tokens over the mean (1 is perfect; 1 too
    /// when there is nothing to embed).
    pub fn imbalance(&self) -> f64 {
        imbalance(&self.embed_tokens)
    }
}

/// Per document, the stored chunk set's token counts, each cut at `cap`.
fn stored_doc_tokens(bytes: &[u8], lens: &[usize], cap: u64) -> Option<Vec<u64>> {
    let (set, counts) = ragtune_store::codec::decode_chunks(bytes, lens)?;
    let mut docs = vec![0u64; lens.len()];
    for (c, n) in set.chunks.iter().zip(&counts) {
        docs[c.doc as usize] += u64::from(*n).min(cap);
    }
    Some(docs)
}

/// The largest of `loads` over their mean (1 when all are 0).
pub fn imbalance(loads: &[u64]) -> f64 {
    let total: u64 = loads.iter().sum();
    let max = loads.iter().copied().max().unwrap_or(0);
    if total == 0 {
        1.0
    } else {
        max as f64 * loads.len() as f64 / total as f64
    }
}

/// A document's estimated tokens as one model runs them under one chunking: its tokens,
/// repeated by the overlap, and cut at the model's maximum per text (a whole article
/// truncated to 256 tokens costs 256, whatever its length).
fn doc_cost(doc: u64, spec: &ChunkSpec, max_tokens: usize) -> f64 {
    let max = max_tokens.max(1) as f64;
    if !spec.kind.is_sized() {
        return (doc as f64).min(max);
    }
    let chunk = if spec.kind.needs_tokenizer() {
        spec.size as f64
    } else {
        spec.size as f64 / 4.0
    };
    let cut = if chunk > max { max / chunk } else { 1.0 };
    doc as f64 * expansion(spec) * cut
}

/// Each model's questions as one piece, and every vectors node cut into runs of whole
/// documents of about an even share of `count × PIECES_PER_SHARD` pieces of the total.
fn embed_units(
    plan: &Plan,
    docs: &[u64],
    questions: u64,
    max_tokens: &dyn Fn(&str) -> usize,
    count: usize,
) -> Vec<EmbedUnit> {
    let mut nodes: Vec<(usize, usize, String, Vec<f64>)> = Vec::new();
    for s in &plan.setups {
        if let (Some(v), Some(spec)) = (s.vector, s.setup.retriever.vector())
            && !nodes.iter().any(|n| n.0 == v.vectors)
        {
            let max = max_tokens(&spec.model);
            let costs = docs
                .iter()
                .map(|&d| doc_cost(d, &s.setup.chunk, max))
                .collect();
            nodes.push((v.vectors, s.chunks, spec.model.clone(), costs));
        }
    }
    let total: f64 = nodes.iter().map(|n| n.3.iter().sum::<f64>()).sum();
    let target = (total / (count as u64 * PIECES_PER_SHARD) as f64).max(1.0);
    let mut units: Vec<EmbedUnit> = Vec::new();
    for (_, _, model, _) in &nodes {
        if !units.iter().any(|u| &u.model == model) {
            units.push(EmbedUnit {
                model: model.clone(),
                piece: Piece::Questions,
                tokens: questions,
            });
        }
    }
    for (vectors, chunks, model, costs) in nodes {
        let mut start = 0;
        let mut acc = 0.0;
        for (d, &t) in costs.iter().enumerate() {
            acc += t;
            if acc >= target || d + 1 == costs.len() {
                units.push(EmbedUnit {
                    model: model.clone(),
                    piece: Piece::Chunks {
                        vectors,
                        chunks,
                        first_doc: start,
                        end_doc: d + 1,
                    },
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

    fn prepared(sizes: &str) -> Prepared {
        let dir = tempfile::tempdir().unwrap();
        testing::write_corpus(dir.path());
        let text = testing::grid_text(sizes, "[0.5]", "[1, 3]");
        let grid = testing::grid(dir.path(), "g.toml", &text).unwrap();
        crate::prepare(
            &grid,
            &testing::MODELS,
            dir.path(),
            None,
            &ragtune_corpus::NoExtract,
        )
        .unwrap()
    }

    #[test]
    fn every_piece_and_setup_goes_to_exactly_one_shard() {
        let prep = prepared("[40, 80, 120]");
        let (plan, corpus) = (&prep.plan, &prep.corpus);
        for count in [1, 2, 3, 7] {
            let sp = ShardPlan::new(&prep, count);
            let mut ids: Vec<String> = sp.setups.concat();
            ids.sort();
            let mut want: Vec<String> = plan.setups.iter().map(|s| s.config_id.clone()).collect();
            want.sort();
            assert_eq!(ids, want, "{count} shards");
            // Each vectors node's pieces tile its documents exactly once.
            let all: Vec<EmbedUnit> = sp.embed.concat();
            let questions = all.iter().filter(|u| u.piece == Piece::Questions).count();
            assert_eq!(questions, 1, "one model: its questions are one piece");
            let mut ranges: Vec<(usize, usize, usize)> = all
                .iter()
                .filter_map(|u| match u.piece {
                    Piece::Chunks {
                        vectors,
                        first_doc,
                        end_doc,
                        ..
                    } => Some((vectors, first_doc, end_doc)),
                    Piece::Questions => None,
                })
                .collect();
            ranges.sort();
            for v in ranges
                .iter()
                .map(|r| r.0)
                .collect::<std::collections::BTreeSet<_>>()
            {
                let mine: Vec<_> = ranges.iter().filter(|r| r.0 == v).collect();
                assert_eq!(mine[0].1, 0);
                assert_eq!(mine.last().unwrap().2, corpus.docs.len());
                assert!(mine.windows(2).all(|w| w[0].2 == w[1].1));
            }
            assert_eq!(
                sp.embed_tokens.iter().sum::<u64>(),
                all.iter().map(|u| u.tokens).sum::<u64>()
            );
            // The same inputs always give the same assignment.
            assert_eq!(ShardPlan::new(&prep, count).setups, sp.setups);
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
            header: None,
        };
        assert_eq!(expansion(&spec(200, 0)), 1.0);
        assert_eq!(expansion(&spec(200, 100)), 2.0);
        // Characters count a quarter token each; past the model's maximum a text is cut.
        assert_eq!(doc_cost(1000, &spec(200, 100), 256), 2000.0);
        assert_eq!(doc_cost(1000, &spec(2048, 0), 256), 500.0);
        let whole = ChunkSpec {
            kind: ragtune_core::ChunkerKind::None,
            size: 0,
            overlap: 0,
            header: None,
        };
        assert_eq!(doc_cost(1000, &whole, 256), 256.0);
        assert_eq!(estimated_doc_tokens("abcdefghi"), 3);
    }
}
