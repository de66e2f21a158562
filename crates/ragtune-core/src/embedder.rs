//! The embedder interface, apart from any runtime: retrieval and the sweep take an
//! [`Embedder`], ragtune-embed implements it with ONNX Runtime, and tests use the
//! deterministic [`FakeEmbedder`].

use crate::ContentHasher;

/// An embedding failure, as text: the implementation's own typed error is reported where
/// the model is loaded; failures while embedding are runtime failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EmbedFailure(pub String);

/// Vectors for a batch of texts. No `Default`: an embedder states what its model ran on.
#[derive(Debug, Clone)]
pub struct EmbedOutput {
    /// Row-major, `texts.len() * dim`.
    pub vectors: Vec<f32>,
    /// How many texts were longer than the model's maximum and were truncated.
    pub truncated: usize,
    /// Tokens the model ran on: each text's tokens after truncation, special tokens
    /// included, padding not.
    pub model_tokens: u64,
}

impl EmbedOutput {
    /// What this output's request ran.
    pub fn totals(&self) -> EmbedTotals {
        EmbedTotals {
            truncated: self.truncated,
            model_tokens: self.model_tokens,
        }
    }
}

/// What an embedding request ran: how many texts were truncated and how many tokens the
/// model ran on ([`EmbedOutput::model_tokens`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbedTotals {
    /// Texts cut at the model's maximum.
    pub truncated: usize,
    /// Tokens the model ran on.
    pub model_tokens: u64,
}

impl EmbedTotals {
    /// Both counts of `self` and `other`.
    pub fn plus(self, other: EmbedTotals) -> EmbedTotals {
        EmbedTotals {
            truncated: self.truncated + other.truncated,
            model_tokens: self.model_tokens + other.model_tokens,
        }
    }
}

/// How an embedder cuts a request into inference calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batching {
    /// This many texts a call (the last call of a request may hold fewer).
    Texts(usize),
    /// As many length-sorted texts a call as fit this many padded tokens.
    Tokens(usize),
}

/// Receives each finished batch of [`Embedder::embed_batches`]: the batch's indices into
/// the texts, and their vectors, row-major.
pub type BatchSink<'a> = dyn FnMut(&[usize], &[f32]) -> Result<(), EmbedFailure> + 'a;

/// A text's token-level output, for late chunking: each token's byte range in the text
/// and its output vector (row-major, `dim` per token, before any pooling).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenVectors {
    /// Byte range of each token in the text.
    pub offsets: Vec<(usize, usize)>,
    /// One row of `dim` values per token.
    pub vectors: Vec<f32>,
}

/// Scale `v` to unit length (left as it is when it is all zeros).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The late-chunked vector of bytes `start..end`: the mean of the vectors of the tokens
/// that overlap it, L2-normalised. A span no token overlaps (whitespace between tokens)
/// takes the token nearest its start (the earlier on a tie). The offsets are in text
/// order, as a tokenizer gives them, so the tokens a span overlaps are found by binary
/// search, not by reading every token of the document for every chunk.
pub fn pool_span(tv: &TokenVectors, dim: usize, start: usize, end: usize) -> Vec<f32> {
    let o = &tv.offsets;
    let first = o.partition_point(|t| t.1 <= start);
    let last = first + o[first..].partition_point(|t| t.0 < end);
    let picked = if first < last {
        first..last
    } else {
        // No overlap: the nearest start is just before or at the span's start.
        let at = o.partition_point(|t| t.0 < start);
        let before = at.checked_sub(1);
        let nearest = match (before, (at < o.len()).then_some(at)) {
            (Some(b), Some(a)) if o[a].0.abs_diff(start) < o[b].0.abs_diff(start) => Some(a),
            (Some(b), _) => Some(b),
            (None, a) => a,
        };
        nearest.map_or(0..0, |t| t..t + 1)
    };
    let mut v = vec![0f32; dim];
    for t in picked {
        for (x, y) in v.iter_mut().zip(&tv.vectors[t * dim..(t + 1) * dim]) {
            *x += y;
        }
    }
    l2_normalize(&mut v);
    v
}

/// Something that turns texts into unit vectors.
pub trait Embedder: Send + Sync {
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Cache namespace: changes whenever the vectors could change.
    fn namespace(&self) -> &str;
    /// The execution provider that runs the model.
    fn provider(&self) -> &str;
    /// Text put in front of every query before it is embedded (model.toml's
    /// `query_prefix`, as e5 and bge models expect); empty by default.
    fn query_prefix(&self) -> &str {
        ""
    }
    /// Text put in front of every chunk or document before it is embedded (model.toml's
    /// `passage_prefix`); empty by default.
    fn passage_prefix(&self) -> &str {
        ""
    }
    /// How requests are cut into inference calls, where the embedder batches and that is
    /// known (an automatic size is known once found).
    fn batching(&self) -> Option<Batching> {
        None
    }
    /// Embed `texts`; `progress` is called with the number of texts finished.
    fn embed(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<EmbedOutput, EmbedFailure>;
    /// How many of `texts` exceed the model's maximum tokens (and so are truncated when
    /// embedded), whether or not their vectors are cached.
    fn count_truncated(&self, texts: &[&str]) -> Result<usize, EmbedFailure>;

    /// Embed a few short texts that arrived together (served queries), in inference calls
    /// of at most `budget` padded tokens where the embedder cuts requests by tokens, side
    /// by side where it can; vectors row-major. This leaves the embedder's own batching,
    /// which embeds the corpus, as it is. The default is [`Embedder::embed`].
    fn embed_queries(&self, texts: &[&str], budget: usize) -> Result<Vec<f32>, EmbedFailure> {
        let _ = budget;
        self.embed(texts, &|_| {}).map(|o| o.vectors)
    }

    /// Embed `texts`, handing each finished batch to `sink` as soon as it is done: the
    /// batch's indices into `texts` and their vectors, row-major. A caller can so keep
    /// the work of every finished batch if the call is interrupted. Returns how many texts
    /// were truncated and the tokens the model ran on. The default embeds everything, then
    /// hands it over as one batch.
    fn embed_batches(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
        sink: &mut BatchSink<'_>,
    ) -> Result<EmbedTotals, EmbedFailure> {
        let out = self.embed(texts, progress)?;
        let all: Vec<usize> = (0..texts.len()).collect();
        sink(&all, &out.vectors)?;
        Ok(out.totals())
    }

    /// `text`'s token vectors for late chunking, run in windows of `window` tokens
    /// (special tokens included) that overlap by `overlap`; a token in two windows takes
    /// its vector from the one where it sits farther from the edge.
    fn token_vectors(
        &self,
        text: &str,
        window: usize,
        overlap: usize,
    ) -> Result<TokenVectors, EmbedFailure> {
        let _ = (text, window, overlap);
        Err(EmbedFailure(
            "this embedder has no token-level output, which late chunking needs".into(),
        ))
    }
}

/// Something that scores (query, text) pairs together: a cross-encoder.
pub trait PairScorer: Send + Sync {
    /// Identity of its scores: changes whenever they could.
    fn namespace(&self) -> &str;
    /// One score per text for `query`, higher is more relevant. The texts of one call are
    /// one inference batch, so the same query and texts always give the same scores.
    fn score(&self, query: &str, texts: &[&str]) -> Result<Vec<f32>, EmbedFailure>;
}

/// A deterministic cross-encoder for tests: the share of the query's distinct lowercased
/// words that the text holds, minus a thousandth per text word (shorter wins ties).
#[derive(Debug, Clone)]
pub struct FakePairScorer {
    namespace: String,
}

impl FakePairScorer {
    /// A fake cross-encoder; `name` enters the namespace.
    pub fn new(name: &str) -> Self {
        let mut h = ContentHasher::new();
        h.field("ragtune-fake-cross-encoder-v1").field(name);
        Self {
            namespace: h.finish_hex()[..32].to_string(),
        }
    }
}

impl PairScorer for FakePairScorer {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn score(&self, query: &str, texts: &[&str]) -> Result<Vec<f32>, EmbedFailure> {
        let mut q: Vec<String> = FakeEmbedder::words(query).collect();
        q.sort();
        q.dedup();
        Ok(texts
            .iter()
            .map(|t| {
                let words: Vec<String> = FakeEmbedder::words(t).collect();
                let held = q.iter().filter(|w| words.contains(w)).count();
                held as f32 / q.len().max(1) as f32 - words.len() as f32 / 1000.0
            })
            .collect())
    }
}

/// `text` with `prefix` in front (borrowed when the prefix is empty).
pub fn prefixed<'a>(prefix: &str, text: &'a str) -> std::borrow::Cow<'a, str> {
    if prefix.is_empty() {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("{prefix}{text}"))
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
    /// `(query_prefix, passage_prefix)`.
    pub prefixes: (String, String),
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
            prefixes: Default::default(),
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
        if v.iter().all(|&x| x == 0.0) {
            v[0] = 1.0;
        }
        l2_normalize(&mut v);
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
    fn query_prefix(&self) -> &str {
        &self.prefixes.0
    }
    fn passage_prefix(&self) -> &str {
        &self.prefixes.1
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
            // Its tokens are words, as many as it keeps; it has no special tokens.
            model_tokens: (texts.iter())
                .map(|t| Self::words(t).take(self.max_words).count() as u64)
                .sum(),
        })
    }
    fn count_truncated(&self, texts: &[&str]) -> Result<usize, EmbedFailure> {
        Ok(texts
            .iter()
            .filter(|t| Self::words(t).nth(self.max_words).is_some())
            .count())
    }

    /// Each word is a token; its vector is its own bucket plus half of the word before it
    /// in the same window, so that context (and so the windowing) shows in the result.
    fn token_vectors(
        &self,
        text: &str,
        window: usize,
        overlap: usize,
    ) -> Result<TokenVectors, EmbedFailure> {
        let mut offsets = Vec::new();
        let mut start = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            match (c.is_alphanumeric(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    offsets.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        let owner = window_owners(offsets.len(), window.saturating_sub(2).max(1), overlap);
        let mut vectors = vec![0f32; offsets.len() * self.dim];
        for (t, &(s, e)) in offsets.iter().enumerate() {
            let row = &mut vectors[t * self.dim..(t + 1) * self.dim];
            row.copy_from_slice(&self.one(&text[s..e]));
            if t > 0 && owner[t].1 < t {
                let prev = self.one(&text[offsets[t - 1].0..offsets[t - 1].1]);
                row.iter_mut().zip(prev).for_each(|(x, p)| *x += 0.5 * p);
            }
        }
        Ok(TokenVectors { offsets, vectors })
    }
}

/// How far each window starts after the one before.
fn window_step(content: usize, overlap: usize) -> usize {
    content.saturating_sub(overlap).max(1)
}

/// How many windows of `content` tokens, each starting `content - overlap` after the one
/// before, cover `n` tokens (at least one).
fn window_count(n: usize, content: usize, overlap: usize) -> usize {
    if n <= content {
        1
    } else {
        1 + (n - content).div_ceil(window_step(content, overlap))
    }
}

/// The token range `[start, end)` of each window of `content` tokens that overlap by
/// `overlap`, covering `n` tokens (one empty window for no tokens).
pub fn window_ranges(n: usize, content: usize, overlap: usize) -> Vec<(usize, usize)> {
    let step = window_step(content, overlap);
    (0..window_count(n, content, overlap))
        .map(|w| (w * step, (w * step + content).min(n)))
        .collect()
}

/// For each of `n` tokens run in windows of `content` tokens that overlap by `overlap`:
/// the window it takes its vector from and that window's first token. In an overlap the
/// first half stays with the earlier window and the second goes to the later one, so each
/// token is read where it has the most context on both sides.
pub fn window_owners(n: usize, content: usize, overlap: usize) -> Vec<(usize, usize)> {
    let step = window_step(content, overlap);
    let last = window_count(n, content, overlap) - 1;
    (0..n)
        .map(|t| {
            let mut w = (t / step).min(last);
            if w > 0 && t < w * step + overlap / 2 {
                w -= 1;
            }
            (w, w * step)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_tokens_are_those_kept_after_truncation() {
        let mut e = FakeEmbedder::new("m", 4);
        e.max_words = 3;
        let texts = ["a b", "one two three four five", ""];
        let out = e.embed(&texts, &|_| {}).unwrap();
        assert_eq!((out.truncated, out.model_tokens), (1, 2 + 3));
        let mut sink = |_: &[usize], _: &[f32]| Ok(());
        let totals = e.embed_batches(&texts, &|_| {}, &mut sink).unwrap();
        assert_eq!(
            totals,
            EmbedTotals {
                truncated: 1,
                model_tokens: 5
            }
        );
        let sum = totals.plus(totals);
        assert_eq!((sum.truncated, sum.model_tokens), (2, 10));
    }

    #[test]
    fn windows_cover_every_token_once_and_split_overlaps_in_half() {
        // 10 tokens, windows of 4 overlapping by 2: starts 0, 2, 4, 6.
        assert_eq!(window_count(10, 4, 2), 4);
        assert_eq!(window_count(4, 4, 2), 1);
        assert_eq!(
            window_ranges(10, 4, 2),
            vec![(0, 4), (2, 6), (4, 8), (6, 10)]
        );
        assert_eq!(window_ranges(0, 4, 2), vec![(0, 0)]);
        let owners: Vec<usize> = window_owners(10, 4, 2).iter().map(|o| o.0).collect();
        assert_eq!(owners, vec![0, 0, 0, 1, 1, 2, 2, 3, 3, 3]);
        for (t, (w, start)) in window_owners(10, 4, 2).into_iter().enumerate() {
            assert!(
                start <= t && t < start + 4,
                "token {t} is inside window {w}"
            );
        }
        // No overlap: plain blocks; a short text is one window.
        let blocks: Vec<usize> = window_owners(7, 3, 0).iter().map(|o| o.0).collect();
        assert_eq!(blocks, vec![0, 0, 0, 1, 1, 1, 2]);
        assert!(window_owners(3, 8, 2).iter().all(|o| *o == (0, 0)));
    }

    /// Every token checked against the span: what the binary search must equal.
    fn pool_span_by_scan(tv: &TokenVectors, dim: usize, start: usize, end: usize) -> Vec<f32> {
        let n = tv.offsets.len();
        let inside: Vec<usize> = (0..n)
            .filter(|&t| tv.offsets[t].0 < end && tv.offsets[t].1 > start)
            .collect();
        let picked: Vec<usize> = if inside.is_empty() {
            (0..n)
                .min_by_key(|&t| tv.offsets[t].0.abs_diff(start))
                .into_iter()
                .collect()
        } else {
            inside
        };
        let mut v = vec![0f32; dim];
        for t in picked {
            for (x, y) in v.iter_mut().zip(&tv.vectors[t * dim..(t + 1) * dim]) {
                *x += y;
            }
        }
        l2_normalize(&mut v);
        v
    }

    #[test]
    fn pooling_by_binary_search_equals_a_scan_of_every_token() {
        // Tokens of 1 to 4 bytes with gaps of 0 to 2, and spans all over the text.
        let mut offsets = Vec::new();
        let mut at = 0;
        for i in 0..200usize {
            let (len, gap) = (1 + (i * 7) % 4, (i * 5) % 3);
            offsets.push((at, at + len));
            at += len + gap;
        }
        let vectors: Vec<f32> = (0..offsets.len() * 3)
            .map(|i| ((i * 37) % 11) as f32 - 5.0)
            .collect();
        let tv = TokenVectors { offsets, vectors };
        for start in 0..at {
            for end in [start + 1, start + 3, start + 17] {
                assert_eq!(
                    pool_span(&tv, 3, start, end),
                    pool_span_by_scan(&tv, 3, start, end),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn a_span_pools_the_tokens_it_overlaps() {
        let tv = TokenVectors {
            offsets: vec![(0, 3), (4, 7), (8, 11)],
            vectors: vec![1.0, 0.0, 0.0, 1.0, 3.0, 4.0],
        };
        // Tokens 0 and 1: mean (0.5, 0.5), normalised.
        let v = pool_span(&tv, 2, 0, 7);
        assert!((v[0] - 0.70710677).abs() < 1e-6 && (v[1] - 0.70710677).abs() < 1e-6);
        // A partial overlap counts; whitespace alone takes the nearest token.
        assert_eq!(pool_span(&tv, 2, 9, 10), vec![0.6, 0.8]);
        assert_eq!(pool_span(&tv, 2, 7, 8), vec![0.6, 0.8]);
        // Equally near both neighbours: the earlier one.
        let two = TokenVectors {
            offsets: vec![(0, 1), (4, 5)],
            vectors: vec![1.0, 0.0, 0.0, 1.0],
        };
        assert_eq!(pool_span(&two, 2, 2, 3), vec![1.0, 0.0]);
        assert_eq!(pool_span(&TokenVectors::default(), 2, 0, 1), vec![0.0, 0.0]);
    }

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
