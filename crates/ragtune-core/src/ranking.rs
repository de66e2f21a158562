use serde::{Deserialize, Serialize};

/// One retrieved chunk with its retriever score (higher is better).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Index into the [`crate::ChunkSet`].
    pub chunk: u32,
    /// Retriever score; its scale depends on the retriever.
    pub score: f32,
}

/// A ranked list of chunks, best first, for one query.
///
/// Invariant: scores are non-increasing, and ties are ordered by ascending chunk index,
/// so that a ranking is a deterministic function of its scores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// The hits, best first.
    pub hits: Vec<Hit>,
}

impl Ranking {
    /// Sort `hits` into canonical order: score descending, then chunk ascending.
    /// NaN scores sort last.
    pub fn from_unsorted(mut hits: Vec<Hit>) -> Self {
        hits.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or_else(|| a.score.is_nan().cmp(&b.score.is_nan()))
                .then(a.chunk.cmp(&b.chunk))
        });
        Self { hits }
    }

    /// Keep the first `k` hits.
    pub fn truncated(&self, k: usize) -> Ranking {
        Ranking {
            hits: self.hits.iter().take(k).copied().collect(),
        }
    }

    /// Chunk indices, best first.
    pub fn chunks(&self) -> impl Iterator<Item = u32> + '_ {
        self.hits.iter().map(|h| h.chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_break_by_chunk_index() {
        let r = Ranking::from_unsorted(vec![
            Hit {
                chunk: 5,
                score: 1.0,
            },
            Hit {
                chunk: 2,
                score: 1.0,
            },
            Hit {
                chunk: 9,
                score: 2.0,
            },
            Hit {
                chunk: 1,
                score: f32::NAN,
            },
        ]);
        assert_eq!(r.chunks().collect::<Vec<_>>(), vec![9, 2, 5, 1]);
    }
}
