//! What token-sized chunkers count in: a Hugging Face tokenizer.json, or one of OpenAI's
//! BPE encodings (`cl100k_base`, `o200k_base`), which tiktoken-rs ships inside the crate,
//! so nothing is downloaded at run time.

use std::path::Path;
use std::sync::Arc;

use tiktoken_rs::CoreBPE;
use tokenizers::Tokenizer;

use crate::ChunkError;

/// A token counter with byte offsets.
#[derive(Clone)]
pub enum Sizer {
    /// A tokenizer.json (special tokens never added).
    Hf(Arc<Tokenizer>),
    /// A tiktoken encoding, by name.
    Tiktoken(&'static str, &'static CoreBPE),
}

impl std::fmt::Debug for Sizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sizer::Hf(_) => f.write_str("Sizer::Hf"),
            Sizer::Tiktoken(name, _) => write!(f, "Sizer::Tiktoken({name})"),
        }
    }
}

pub use ragtune_core::ENCODINGS;

impl Sizer {
    /// `name` is a tiktoken encoding ([`ENCODINGS`]) or a tokenizer.json path.
    pub fn load(name: &str) -> Result<Sizer, ChunkError> {
        match name {
            "cl100k_base" => Ok(Sizer::Tiktoken(
                "cl100k_base",
                tiktoken_rs::cl100k_base_singleton(),
            )),
            "o200k_base" => Ok(Sizer::Tiktoken(
                "o200k_base",
                tiktoken_rs::o200k_base_singleton(),
            )),
            path => Ok(Sizer::Hf(Arc::new(crate::load_plain_tokenizer(
                Path::new(path),
            )?))),
        }
    }

    /// Tokens in `text` (no special tokens).
    pub fn count(&self, text: &str) -> usize {
        match self {
            Sizer::Hf(t) => crate::count_tokens(t, text) as usize,
            Sizer::Tiktoken(_, bpe) => bpe.encode_ordinary(text).len(),
        }
    }

    /// Each token's byte range in `text`, in order. Byte-level BPE tokens can end inside
    /// a multi-byte character; such a range is widened to character boundaries.
    pub fn token_ranges(&self, text: &str) -> Vec<(usize, usize)> {
        let raw: Vec<(usize, usize)> = match self {
            Sizer::Hf(t) => t
                .encode(text, false)
                .map(|e| e.get_offsets().to_vec())
                .unwrap_or_default(),
            Sizer::Tiktoken(_, bpe) => {
                let mut at = 0;
                bpe._decode_native_and_split(bpe.encode_ordinary(text))
                    .map(|bytes| {
                        let r = (at, at + bytes.len());
                        at += bytes.len();
                        r
                    })
                    .collect()
            }
        };
        raw.into_iter()
            .map(|(s, e)| (floor_char(text, s), ceil_char(text, e)))
            .collect()
    }
}

/// The last character boundary at or before byte `i` (clamped to the text).
pub(crate) fn floor_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The first character boundary at or after byte `i` (clamped to the text).
pub(crate) fn ceil_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cl100k_counts_and_offsets_cover_the_text() {
        let s = Sizer::load("cl100k_base").unwrap();
        // "hello world" is two cl100k tokens: "hello", " world".
        assert_eq!(s.count("hello world"), 2);
        assert_eq!(s.token_ranges("hello world"), vec![(0, 5), (5, 11)]);
        let text = "naïve café — 東京";
        let r = s.token_ranges(text);
        assert_eq!(r.first().unwrap().0, 0);
        assert_eq!(r.last().unwrap().1, text.len());
        assert!(
            r.iter()
                .all(|&(a, b)| text.is_char_boundary(a) && text.is_char_boundary(b))
        );
        assert!(matches!(
            Sizer::load("/no/such/tokenizer.json"),
            Err(ChunkError::Tokenizer { .. })
        ));
    }
}
