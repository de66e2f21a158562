//! The embedding table of the stage store: one entry per (model namespace, text), so that
//! each distinct text is embedded once per model, across chunk sets, setups and runs.

use ragtune_core::{ContentHasher, Embedder, f32s_to_le_bytes};
use serde::{Deserialize, Serialize};

use crate::codec::decode_vectors;
use crate::error::{Result, StoreError};
use crate::store::{Stage, StageStore};

/// Cache accounting for one call of [`embed_cached`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Texts found in the cache (or repeated within the call).
    pub hits: u64,
    /// Distinct texts that had to be embedded.
    pub misses: u64,
    /// Tokens in the texts embedded now, as the caller's measure counts them.
    #[serde(default)]
    pub embedded_tokens: u64,
    /// Tokens the model ran on for them ([`ragtune_core::EmbedOutput::model_tokens`]);
    /// `None` where the caller cannot tell (late chunking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_tokens: Option<u64>,
}

/// The entry key of `text` under `namespace`.
pub fn text_key(namespace: &str, text: &str) -> String {
    let mut h = ContentHasher::new();
    h.field(namespace).field(text);
    h.finish_hex()
}

/// `text`'s cached vector under `embedder`, if stored (and intact).
pub fn cached_vector(embedder: &dyn Embedder, store: &StageStore, text: &str) -> Option<Vec<f32>> {
    let key = text_key(embedder.namespace(), text);
    store
        .get(Stage::Embed, &key)
        .and_then(|b| decode_vectors(&b, 1, embedder.dim()))
}

/// Embed `batch` (the distinct missing texts, `missing[m]` holding text m's key and the
/// positions it fills in `out`) and store each vector. A writer thread stores the vectors
/// while inference goes on, so the store's writes never hold the model up; it stores each
/// inference batch as it comes, so an interrupted sweep loses at most the batches in
/// flight. A refused write stops the embedding.
fn embed_and_store(
    embedder: &dyn Embedder,
    store: Option<&StageStore>,
    batch: &[&str],
    missing: &[(String, Vec<usize>)],
    out: &mut [f32],
    progress: &(dyn Fn(usize) + Sync),
) -> (
    std::result::Result<ragtune_core::EmbedTotals, ragtune_core::EmbedFailure>,
    Result<()>,
) {
    let dim = embedder.dim();
    std::thread::scope(|sc| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<usize>, Vec<f32>)>(16);
        let writer = store.map(|s| {
            sc.spawn(move || -> Result<()> {
                for (idx, vectors) in rx {
                    for (j, &m) in idx.iter().enumerate() {
                        let v = &vectors[j * dim..(j + 1) * dim];
                        s.put(Stage::Embed, &missing[m].0, &f32s_to_le_bytes(v))?;
                    }
                }
                Ok(())
            })
        });
        let tx = writer.is_some().then_some(tx);
        let mut sink = |idx: &[usize], vectors: &[f32]| {
            for (j, &m) in idx.iter().enumerate() {
                let v = &vectors[j * dim..(j + 1) * dim];
                for &p in &missing[m].1 {
                    out[p * dim..(p + 1) * dim].copy_from_slice(v);
                }
            }
            match &tx {
                Some(tx) if tx.send((idx.to_vec(), vectors.to_vec())).is_err() => Err(
                    ragtune_core::EmbedFailure("the store refused a write".into()),
                ),
                _ => Ok(()),
            }
        };
        let embedded = embedder.embed_batches(batch, progress, &mut sink);
        // The sink borrowed `tx` only; closing it lets the writer finish.
        drop(tx);
        let stored = writer.map_or(Ok(()), |w| {
            w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        });
        (embedded, stored)
    })
}

/// Embed `texts` through the store: cached texts are read back, and each distinct missing
/// text is embedded once and stored. Returns row-major vectors in input order, and the
/// accounting, with the texts embedded now measured by `tokens`.
pub fn embed_cached(
    embedder: &dyn Embedder,
    store: Option<&StageStore>,
    texts: &[&str],
    progress: &(dyn Fn(usize) + Sync),
    tokens: &(dyn Fn(&str) -> u64 + Sync),
) -> Result<(Vec<f32>, CacheStats)> {
    let dim = embedder.dim();
    let ns = embedder.namespace();
    let mut out = vec![0f32; texts.len() * dim];
    let mut stats = CacheStats {
        model_tokens: Some(0),
        ..CacheStats::default()
    };
    // Distinct missing texts, and every position each one fills.
    let mut missing: Vec<(String, Vec<usize>)> = Vec::new();
    let mut slot: std::collections::HashMap<String, usize> = Default::default();
    for (i, t) in texts.iter().enumerate() {
        let key = text_key(ns, t);
        if let Some(&m) = slot.get(&key) {
            missing[m].1.push(i);
            continue;
        }
        let hit = store
            .and_then(|s| s.get(Stage::Embed, &key))
            .and_then(|b| decode_vectors(&b, 1, dim));
        match hit {
            Some(v) => {
                out[i * dim..(i + 1) * dim].copy_from_slice(&v);
                stats.hits += 1;
                progress(1);
            }
            None => {
                slot.insert(key.clone(), missing.len());
                missing.push((key, vec![i]));
            }
        }
    }
    if missing.is_empty() {
        return Ok((out, stats));
    }
    let batch: Vec<&str> = missing.iter().map(|(_, pos)| texts[pos[0]]).collect();
    let (embedded, stored) = embed_and_store(embedder, store, &batch, &missing, &mut out, progress);
    // A store error first: the embedding failure it caused is only its consequence.
    stored?;
    let totals = embedded.map_err(|f| StoreError::embedding(ns, f))?;
    stats.misses = missing.len() as u64;
    stats.model_tokens = Some(totals.model_tokens);
    stats.embedded_tokens = {
        use rayon::prelude::*;
        batch.par_iter().map(|t| tokens(t)).sum()
    };
    for (_, positions) in &missing {
        // Duplicates within the call were served without embedding.
        stats.hits += positions.len() as u64 - 1;
        if positions.len() > 1 {
            progress(positions.len() - 1);
        }
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ragtune_core::{EmbedFailure, EmbedOutput, FakeEmbedder};

    use super::*;

    /// A fake embedder that counts the texts it embeds, embeds in batches of two, and
    /// with `fail_at` fails on that batch, like a killed process.
    struct Probe {
        inner: FakeEmbedder,
        embedded: AtomicUsize,
        fail_at: Option<usize>,
    }

    impl Probe {
        fn new(fail_at: Option<usize>) -> Self {
            Self {
                inner: FakeEmbedder::new("m", 8),
                embedded: AtomicUsize::new(0),
                fail_at,
            }
        }
    }

    impl Embedder for Probe {
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn namespace(&self) -> &str {
            self.inner.namespace()
        }
        fn provider(&self) -> &str {
            "test"
        }
        fn count_truncated(&self, t: &[&str]) -> Result<usize, EmbedFailure> {
            self.inner.count_truncated(t)
        }
        fn embed(
            &self,
            t: &[&str],
            p: &(dyn Fn(usize) + Sync),
        ) -> Result<EmbedOutput, EmbedFailure> {
            self.embedded.fetch_add(t.len(), Ordering::SeqCst);
            self.inner.embed(t, p)
        }
        fn embed_batches(
            &self,
            texts: &[&str],
            p: &(dyn Fn(usize) + Sync),
            sink: &mut ragtune_core::BatchSink<'_>,
        ) -> Result<ragtune_core::EmbedTotals, EmbedFailure> {
            let idx: Vec<usize> = (0..texts.len()).collect();
            let mut sum = ragtune_core::EmbedTotals::default();
            for (b, batch) in idx.chunks(2).enumerate() {
                if Some(b) == self.fail_at {
                    return Err(EmbedFailure("killed".into()));
                }
                let t: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
                let out = self.embed(&t, p)?;
                sum = sum.plus(out.totals());
                sink(batch, &out.vectors)?;
            }
            Ok(sum)
        }
    }

    #[test]
    fn finished_batches_are_kept_when_embedding_is_interrupted() {
        let d = tempfile::tempdir().unwrap();
        let store = StageStore::open(d.path()).unwrap();
        let texts = ["a", "b", "c", "d", "e", "f"];
        let e = Probe::new(Some(2));
        assert!(embed_cached(&e, Some(&store), &texts, &|_| {}, &|t| t.len() as u64).is_err());
        // The two batches that finished (four texts) are stored; the rest are not.
        let kept: Vec<bool> = texts
            .iter()
            .map(|t| cached_vector(&e, &store, t).is_some())
            .collect();
        assert_eq!(kept, vec![true, true, true, true, false, false]);
    }

    #[test]
    fn each_distinct_text_is_embedded_once_across_calls() {
        let d = tempfile::tempdir().unwrap();
        let store = StageStore::open(d.path()).unwrap();
        let e = Probe::new(None);
        let (v, s) = embed_cached(&e, Some(&store), &["a", "bb", "a", "ccc"], &|_| {}, &|t| {
            t.len() as u64
        })
        .unwrap();
        assert_eq!(&v[..8], &v[16..24], "a repeated text gets the same vector");
        assert_eq!((s.hits, s.misses), (1, 3));
        // The measure counts each distinct text embedded once: "a", "bb", "ccc"; the
        // model (whose tokens are words) ran on one token each.
        assert_eq!(s.embedded_tokens, 6);
        assert_eq!(s.model_tokens, Some(3));
        let (v2, s2) = embed_cached(&e, Some(&store), &["ccc", "a"], &|_| {}, &|t| {
            t.len() as u64
        })
        .unwrap();
        assert_eq!(&v2[..8], &v[24..32]);
        assert_eq!((s2.hits, s2.misses, s2.embedded_tokens), (2, 0, 0));
        assert_eq!(s2.model_tokens, Some(0), "nothing embedded");
        assert_eq!(
            e.embedded.load(Ordering::SeqCst),
            3,
            "the second call embeds nothing"
        );
        assert_eq!(cached_vector(&e, &store, "bb").unwrap(), &v[8..16]);
    }
}
