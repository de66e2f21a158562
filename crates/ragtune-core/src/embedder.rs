//! The embedder interface, apart from any runtime: retrieval and the sweep take an
//! [`Embedder`], ragtune-embed implements it with ONNX Runtime, and tests use the
//! deterministic [`FakeEmbedder`].

use crate::ContentHasher;

/// An embedding failure, as text: the implementation's own typed error is reported where
/// the model is loaded; failures while embedding are runtime failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EmbedFailure(pub String);

/// Vectors for a batch of texts.
#[derive(Debug, Clone, Default)]
pub struct EmbedOutput {
    /// Row-major, `texts.len() * dim`.
    pub vectors: Vec<f32>,
    /// How many texts were longer than the model's maximum and were truncated.
    pub truncated: usize,
}

/// Receives each finished batch of [`Embedder::embed_batches`]: the batch's indices into
/// the texts, and their vectors, row-major.
pub type BatchSink<'a> = dyn FnMut(&[usize], &[f32]) -> Result<(), EmbedFailure> + 'a;

/// Something that turns texts into unit vectors.
pub trait Embedder: Send + Sync {
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Cache namespace: changes whenever the vectors could change.
    fn namespace(&self) -> &str;
    /// The execution provider that runs the model.
    fn provider(&self) -> &str;
    /// Embed `texts`; `progress` is called with the number of texts finished.
    fn embed(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<EmbedOutput, EmbedFailure>;
    /// How many of `texts` exceed the model's maximum tokens (and so are truncated when
    /// embedded), whether or not their vectors are cached.
    fn count_truncated(&self, texts: &[&str]) -> Result<usize, EmbedFailure>;

    /// Embed `texts`, handing each finished batch to `sink` as soon as it is done: the
    /// batch's indices into `texts` and their vectors, row-major. A caller can so keep
    /// the work of every finished batch if the call is interrupted. Returns how many texts
    /// were truncated. The default embeds everything, then hands it over as one batch.
    fn embed_batches(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
        sink: &mut BatchSink<'_>,
    ) -> Result<usize, EmbedFailure> {
        let out = self.embed(texts, progress)?;
        let all: Vec<usize> = (0..texts.len()).collect();
        sink(&all, &out.vectors)?;
        Ok(out.truncated)
    }
}

/// A deterministic embedder for tests: each lowercased alphanumeric word adds ±1 to one
/// of `dim` buckets chosen by its hash, and the sum is L2-normalised. Texts that share
/// words get similar vectors, so vector retrieval has real signal, with no model.
#[derive(Debug, Clone)]
pub struct FakeEmbedder {
    dim: usize,
    namespace: String,
    /// Words beyond this count are ignored, and the text counts as truncated.
    pub max_words: usize,
}

impl FakeEmbedder {
    /// A fake embedder of dimension `dim`; `name` enters the namespace.
    pub fn new(name: &str, dim: usize) -> Self {
        let mut h = ContentHasher::new();
        h.field("ragtune-fake-embedder-v1")
            .field(name)
            .field(dim.to_le_bytes());
        Self {
            dim,
            namespace: h.finish_hex()[..32].to_string(),
            max_words: 256,
        }
    }

    fn words(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| w.to_lowercase())
    }

    fn one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dim];
        for w in Self::words(text).take(self.max_words) {
            let mut h = ContentHasher::new();
            h.field(w.as_bytes());
            let d = h.finish();
            let bucket =
                u64::from_le_bytes(d[..8].try_into().expect("8 bytes")) as usize % self.dim;
            v[bucket] += if d[8] & 1 == 0 { 1.0 } else { -1.0 };
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        } else {
            v[0] = 1.0;
        }
        v
    }
}

impl Embedder for FakeEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn provider(&self) -> &str {
        "fake"
    }
    fn embed(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<EmbedOutput, EmbedFailure> {
        let vectors = texts.iter().flat_map(|t| self.one(t)).collect();
        progress(texts.len());
        Ok(EmbedOutput {
            vectors,
            truncated: self.count_truncated(texts)?,
        })
    }
    fn count_truncated(&self, texts: &[&str]) -> Result<usize, EmbedFailure> {
        Ok(texts
            .iter()
            .filter(|t| Self::words(t).nth(self.max_words).is_some())
            .count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_vectors_are_unit_deterministic_and_similar_for_shared_words() {
        let e = FakeEmbedder::new("t", 64);
        let out = e
            .embed(
                &["the cat sat", "the cat sat", "stock market news"],
                &|_| {},
            )
            .unwrap();
        let v: Vec<&[f32]> = out.vectors.chunks(64).collect();
        assert_eq!(v[0], v[1]);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!((dot(v[0], v[0]) - 1.0).abs() < 1e-6);
        let near = e.embed(&["a cat sat down"], &|_| {}).unwrap().vectors;
        assert!(dot(v[0], &near) > dot(v[0], v[2]));
        assert_ne!(e.namespace(), FakeEmbedder::new("u", 64).namespace());
    }
}
