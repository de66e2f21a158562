//! Late chunking: each document run through the model once, in windows; every chunk's
//! vector pooled from the output vectors of the tokens it covers.
//!
//! A document's token vectors are stored once per (model, window, overlap, document text)
//! in the store's `tokens` table, so every chunking of the corpus — any size, any overlap —
//! pools from the same single pass. Chunk boundaries are byte ranges and tokens carry
//! their byte offsets, so a late chunk is exactly the standalone chunk's bytes.

use ragtune_core::{ChunkSet, ContentHasher, Embedder, TokenVectors, pool_span};

use crate::error::{Result, StoreError};
use crate::store::{Stage, StageStore};

/// The `tokens` entry key of one document under a model and window.
fn key(namespace: &str, window: usize, overlap: usize, text: &str) -> String {
    let mut h = ContentHasher::new();
    h.field("late-tokens-v1")
        .field(namespace)
        .field(window.to_le_bytes())
        .field(overlap.to_le_bytes())
        .field(text);
    h.finish_hex()
}

/// `n`, the offsets as u32 pairs, then the vectors as little-endian f32.
fn encode(tv: &TokenVectors) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + tv.offsets.len() * 8 + tv.vectors.len() * 4);
    out.extend_from_slice(&(tv.offsets.len() as u64).to_le_bytes());
    for &(s, e) in &tv.offsets {
        out.extend_from_slice(&(s as u32).to_le_bytes());
        out.extend_from_slice(&(e as u32).to_le_bytes());
    }
    out.extend_from_slice(&ragtune_core::f32s_to_le_bytes(&tv.vectors));
    out
}

fn decode(bytes: &[u8], dim: usize) -> Option<TokenVectors> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let offsets_end = 8usize.checked_add(n.checked_mul(8)?)?;
    let rest = bytes.get(offsets_end..)?;
    if rest.len() != n.checked_mul(dim)?.checked_mul(4)? {
        return None;
    }
    let u = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize;
    let offsets = bytes[8..offsets_end]
        .chunks_exact(8)
        .map(|p| (u(&p[..4]), u(&p[4..])))
        .collect();
    Some(TokenVectors {
        offsets,
        vectors: ragtune_core::f32s_from_le_bytes(rest)?,
    })
}

/// What embedding the documents of one chunk set cost: documents read back, and
/// documents run now with their tokens (a token in two windows counts once).
#[derive(Debug, Clone, Copy, Default)]
pub struct LateStats {
    /// Documents whose token vectors were read back.
    pub hits: u64,
    /// Documents run through the model now.
    pub misses: u64,
    /// Tokens of the documents run now.
    pub tokens: u64,
}

/// One document's token vectors: read back, or run and stored.
fn document(
    e: &dyn Embedder,
    store: Option<&StageStore>,
    text: &str,
    (window, overlap): (usize, usize),
    stats: &mut LateStats,
) -> Result<TokenVectors> {
    // The model's passage prefix runs in front of the document, as context: its tokens'
    // offsets end up before the document and so in no chunk.
    let prefix = e.passage_prefix();
    let run = ragtune_core::prefixed(prefix, text);
    let k = key(e.namespace(), window, overlap, &run);
    if let Some(tv) = store
        .and_then(|s| s.get(Stage::Tokens, &k))
        .and_then(|b| decode(&b, e.dim()))
    {
        stats.hits += 1;
        return Ok(unprefixed(tv, prefix.len()));
    }
    let tv = e
        .token_vectors(&run, window, overlap)
        .map_err(|f| StoreError::embedding(e.namespace(), f))?;
    if let Some(s) = store {
        s.put(Stage::Tokens, &k, &encode(&tv))?;
    }
    stats.misses += 1;
    stats.tokens += tv.offsets.len() as u64;
    Ok(unprefixed(tv, prefix.len()))
}

/// Token offsets into the document: `len` bytes of prefix taken off, a prefix token's
/// span empty at 0 (it overlaps no chunk).
fn unprefixed(mut tv: TokenVectors, len: usize) -> TokenVectors {
    if len > 0 {
        for o in &mut tv.offsets {
            *o = (o.0.saturating_sub(len), o.1.saturating_sub(len));
        }
    }
    tv
}

/// The late-chunked vectors of every chunk of `set` (row-major), each document of the
/// corpus run once whatever the chunking, and `progress` told of each chunk pooled.
pub fn chunk_vectors(
    e: &dyn Embedder,
    store: Option<&StageStore>,
    corpus: &ragtune_core::Corpus,
    set: &ChunkSet,
    window: (usize, usize),
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(Vec<f32>, LateStats)> {
    let dim = e.dim();
    let mut out = vec![0f32; set.len() * dim];
    let mut stats = LateStats::default();
    let mut current: Option<(u32, TokenVectors)> = None;
    for (c, chunk) in set.chunks.iter().enumerate() {
        if current.as_ref().is_none_or(|(d, _)| *d != chunk.doc) {
            let text = &corpus.docs[chunk.doc as usize].text;
            current = Some((chunk.doc, document(e, store, text, window, &mut stats)?));
        }
        let (_, tv) = current.as_ref().expect("set above");
        out[c * dim..(c + 1) * dim].copy_from_slice(&pool_span(tv, dim, chunk.start, chunk.end));
        progress(1);
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ragtune_core::{Chunk, Corpus, Document, FakeEmbedder};

    fn corpus(texts: &[&str]) -> Corpus {
        Corpus {
            docs: texts
                .iter()
                .enumerate()
                .map(|(i, t)| Document {
                    id: format!("d{i}"),
                    title: None,
                    text: t.to_string(),
                    pages: Vec::new(),
                })
                .collect(),
            ..Corpus::default()
        }
    }

    fn set(chunks: &[(u32, usize, usize)]) -> ChunkSet {
        ChunkSet {
            chunks: chunks
                .iter()
                .map(|&(doc, start, end)| Chunk { doc, start, end })
                .collect(),
            ..ChunkSet::default()
        }
    }

    #[test]
    fn each_document_runs_once_for_every_chunking_and_is_read_back_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = StageStore::open(dir.path()).unwrap();
        let e = FakeEmbedder::new("m", 16);
        let c = corpus(&["flood cover needs a survey first", "roof damage is covered"]);
        let fine = set(&[(0, 0, 11), (0, 12, 32), (1, 0, 22)]);
        let coarse = set(&[(0, 0, 32), (1, 0, 22)]);
        let (a, s1) = chunk_vectors(&e, Some(&store), &c, &fine, (8, 2), &|_| {}).unwrap();
        assert_eq!((s1.misses, s1.hits, s1.tokens), (2, 0, 10));
        let (b, s2) = chunk_vectors(&e, Some(&store), &c, &coarse, (8, 2), &|_| {}).unwrap();
        assert_eq!(
            (s2.misses, s2.hits),
            (0, 2),
            "another chunking pools the stored tokens"
        );
        // The second document's one chunk is the same bytes in both sets.
        assert_eq!(a[2 * 16..], b[16..]);
        // Every vector is unit length.
        for v in a.chunks(16) {
            let n: f32 = v.iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
        // Another window is another entry.
        let (_, s3) = chunk_vectors(&e, Some(&store), &c, &coarse, (4, 1), &|_| {}).unwrap();
        assert_eq!(s3.misses, 2);
    }

    #[test]
    fn token_vectors_round_trip_and_damage_is_refused() {
        let tv = TokenVectors {
            offsets: vec![(0, 3), (4, 9)],
            vectors: vec![0.5, -1.0, 2.0, 0.25],
        };
        let b = encode(&tv);
        assert_eq!(decode(&b, 2), Some(tv));
        assert_eq!(decode(&b[..b.len() - 1], 2), None);
        assert_eq!(decode(&b, 3), None);
    }
}
