//! Sentence embeddings from ONNX models through ort, and a content-addressed cache so
//! that each distinct text is embedded once per model, across grid points and runs.
//!
//! - Runtime: ort with `load-dynamic`; the library is `ORT_DYLIB_PATH` or
//!   `<models>/onnxruntime/libonnxruntime.so`.
//! - Tokenization: tokenizers, offline, truncated at the model's `max_tokens` (special
//!   tokens included); batches are sorted by length and padded only as far as they need.
//! - Pooling: mean over the attention mask (or [CLS]), then L2 normalisation.
//! - Device: CPU by default; CUDA with the `cuda` feature. A build without it refuses
//!   CUDA instead of falling back.
#![deny(missing_docs)]

mod cache;
mod error;
mod model;
mod onnx;

pub use cache::EmbeddingCache;
pub use error::{EmbedError, Result};
pub use model::{ModelSpec, Pooling, resolve_model};
pub use onnx::{EmbedOptions, OnnxEmbedder, runtime_library};
use serde::{Deserialize, Serialize};

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// CPU execution provider.
    #[default]
    Cpu,
    /// CUDA execution provider (needs the `cuda` feature).
    Cuda,
}

/// Vectors for a batch of texts.
#[derive(Debug, Clone, Default)]
pub struct EmbedOutput {
    /// Row-major, `texts.len() * dim`.
    pub vectors: Vec<f32>,
    /// How many texts were longer than the model's maximum and were truncated.
    pub truncated: usize,
}

/// Something that turns texts into unit vectors.
pub trait Embedder: Send + Sync {
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Cache namespace: changes whenever the vectors could change.
    fn namespace(&self) -> &str;
    /// The execution provider that runs the model.
    fn provider(&self) -> &str;
    /// Embed `texts`; `progress` is called with the number of texts finished.
    fn embed(&self, texts: &[&str], progress: &(dyn Fn(usize) + Sync)) -> Result<EmbedOutput>;
    /// How many of `texts` exceed the model's maximum tokens (and so are truncated when
    /// embedded), whether or not their vectors are cached.
    fn count_truncated(&self, texts: &[&str]) -> Result<usize>;
}

/// Cache accounting for one call of [`embed_cached`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Texts found in the cache.
    pub hits: u64,
    /// Distinct texts that had to be embedded.
    pub misses: u64,
    /// Of the embedded texts, how many were truncated.
    pub truncated: u64,
}

impl std::ops::AddAssign for CacheStats {
    fn add_assign(&mut self, o: Self) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.truncated += o.truncated;
    }
}

/// Embed `texts` through `cache`: cached texts are read back, and each distinct missing
/// text is embedded once and stored. Returns row-major vectors in input order.
pub fn embed_cached(
    embedder: &dyn Embedder,
    cache: Option<&EmbeddingCache>,
    texts: &[&str],
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(Vec<f32>, CacheStats)> {
    let dim = embedder.dim();
    let ns = embedder.namespace();
    let mut out = vec![0f32; texts.len() * dim];
    let mut stats = CacheStats::default();
    // Distinct missing texts, and every position each one fills.
    let mut missing: Vec<(String, Vec<usize>)> = Vec::new();
    let mut slot: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, t) in texts.iter().enumerate() {
        let key = EmbeddingCache::key(ns, t);
        if let Some(&m) = slot.get(&key) {
            missing[m].1.push(i);
            continue;
        }
        match cache.and_then(|c| c.get(ns, &key, dim)) {
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
    if !missing.is_empty() {
        let batch: Vec<&str> = missing.iter().map(|(_, pos)| texts[pos[0]]).collect();
        let embedded = embedder.embed(&batch, progress)?;
        stats.misses = missing.len() as u64;
        stats.truncated = embedded.truncated as u64;
        for (j, (key, positions)) in missing.iter().enumerate() {
            let v = &embedded.vectors[j * dim..(j + 1) * dim];
            if let Some(c) = cache {
                c.put(ns, key, v)?;
            }
            for &p in positions {
                out[p * dim..(p + 1) * dim].copy_from_slice(v);
            }
            // Duplicates within the call were served without embedding.
            stats.hits += positions.len() as u64 - 1;
            if positions.len() > 1 {
                progress(positions.len() - 1);
            }
        }
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts calls; vector = [len, 1] normalised-ish, enough to check plumbing.
    struct Counting(AtomicUsize);
    impl Embedder for Counting {
        fn dim(&self) -> usize {
            2
        }
        fn namespace(&self) -> &str {
            "counting"
        }
        fn provider(&self) -> &str {
            "test"
        }
        fn count_truncated(&self, _: &[&str]) -> Result<usize> {
            Ok(0)
        }
        fn embed(&self, texts: &[&str], _: &(dyn Fn(usize) + Sync)) -> Result<EmbedOutput> {
            self.0.fetch_add(texts.len(), Ordering::SeqCst);
            Ok(EmbedOutput {
                vectors: texts.iter().flat_map(|t| [t.len() as f32, 1.0]).collect(),
                truncated: 0,
            })
        }
    }

    #[test]
    fn each_distinct_text_is_embedded_once() {
        let d = tempfile::tempdir().unwrap();
        let cache = EmbeddingCache::open(d.path()).unwrap();
        let e = Counting(AtomicUsize::new(0));
        let (v, s) = embed_cached(&e, Some(&cache), &["a", "bb", "a", "ccc"], &|_| {}).unwrap();
        assert_eq!(v, vec![1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 3.0, 1.0]);
        assert_eq!((s.hits, s.misses), (1, 3));
        assert_eq!(e.0.load(Ordering::SeqCst), 3);
        let (v2, s2) = embed_cached(&e, Some(&cache), &["ccc", "a"], &|_| {}).unwrap();
        assert_eq!(v2, vec![3.0, 1.0, 1.0, 1.0]);
        assert_eq!((s2.hits, s2.misses), (2, 0));
        assert_eq!(e.0.load(Ordering::SeqCst), 3, "second call embeds nothing");
    }
}
