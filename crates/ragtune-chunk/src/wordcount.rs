//! Token counts of many byte ranges of one text, from one tokenisation of the text.
//!
//! text-splitter sizes every candidate chunk by tokenising it, and tries many candidates
//! per chunk (a binary search over semantic levels), so a `tokens` chunking tokenised each
//! byte of the corpus dozens of times: 26 s of CPU time for eight chunkings of Chroma's
//! 1.4 MB, almost all of it in the tokenizer.
//!
//! For BERT's WordPiece pipeline the count of a range is a sum over words:
//! - BertNormalizer works character by character (cleaning, spacing CJK characters,
//!   lowercasing, dropping accents);
//! - BertPreTokenizer splits at whitespace and around each punctuation character, both
//!   decided by the character alone;
//! - WordPiece tokenises each word on its own.
//!
//! So a range's words are the text's words that lie inside it, plus at most one clipped
//! word at each end, and its count is the sum of the inner words' counts (prefix sums)
//! plus the counts of its two edge pieces, which are tokenised directly. The edge pieces
//! run from the range's ends to the nearest inner word, so characters the normaliser drops
//! are tokenised with them and count nothing, as they do in the whole range.
//!
//! Anything outside that pipeline is counted by tokenising the range, as before: other
//! normalisers, pre-tokenisers or models, a text holding an added token (`[CLS]`, ...),
//! which is matched before normalisation, and a range that is not a slice of the text.

use tokenizers::{ModelWrapper, NormalizerWrapper, PreTokenizerWrapper, Tokenizer};

/// Counts tokens of slices of one text (see the module docs).
pub struct RangeCounter<'t> {
    text: &'t str,
    tokenizer: &'t Tokenizer,
    /// Each word's first and last byte, from its tokens' offsets, in text order.
    starts: Vec<usize>,
    ends: Vec<usize>,
    /// `prefix[i]`: the tokens of words `0..i`.
    prefix: Vec<u32>,
}

impl<'t> RangeCounter<'t> {
    /// A counter over `text`, or `None` where counting by words would not be exact.
    pub fn new(tokenizer: &'t Tokenizer, text: &'t str) -> Option<RangeCounter<'t>> {
        if !word_local(tokenizer) || holds_added_token(tokenizer, text) {
            return None;
        }
        let enc = tokenizer.encode(text, false).ok()?;
        let mut c = RangeCounter {
            text,
            tokenizer,
            starts: Vec::new(),
            ends: Vec::new(),
            prefix: vec![0],
        };
        let mut last_word = None;
        for (&(s, e), &w) in enc.get_offsets().iter().zip(enc.get_word_ids()) {
            // Every token of this pipeline belongs to a word; refuse anything else.
            let w = w?;
            if last_word == Some(w) {
                *c.ends.last_mut()? = e.max(*c.ends.last()?);
                *c.prefix.last_mut()? += 1;
            } else {
                last_word = Some(w);
                c.starts.push(s);
                c.ends.push(e);
                c.prefix.push(c.prefix.last()? + 1);
            }
        }
        let ordered = c.starts.windows(2).all(|p| p[0] < p[1])
            && c.ends.windows(2).all(|p| p[0] <= p[1])
            && c.starts.iter().zip(&c.ends).all(|(s, e)| s <= e);
        ordered.then_some(c)
    }

    /// Tokens in `range` (no special tokens), tokenising only its edges.
    pub fn count(&self, range: &str) -> usize {
        let Some(s) = self.offset_of(range) else {
            return self.tokenize(range);
        };
        let e = s + range.len();
        let first = self.starts.partition_point(|&x| x < s);
        let past = self.ends.partition_point(|&x| x <= e);
        if first >= past {
            return self.tokenize(range);
        }
        let inner = (self.prefix[past] - self.prefix[first]) as usize;
        let left = &self.text[s..self.starts[first]];
        let right = &self.text[self.ends[past - 1]..e];
        inner + self.tokenize(left) + self.tokenize(right)
    }

    /// The tokenizer it counts in.
    pub fn tokenizer(&self) -> &'t Tokenizer {
        self.tokenizer
    }

    /// Where `range` starts in the text, when it is a slice of it.
    fn offset_of(&self, range: &str) -> Option<usize> {
        let base = self.text.as_ptr() as usize;
        let at = (range.as_ptr() as usize).checked_sub(base)?;
        (at + range.len() <= self.text.len()).then_some(at)
    }

    fn tokenize(&self, piece: &str) -> usize {
        if piece.trim().is_empty() {
            return 0;
        }
        crate::count_tokens(self.tokenizer, piece) as usize
    }
}

/// Whether `tokenizer` normalises and splits character by character and tokenises words
/// on their own: BERT's pipeline.
fn word_local(tokenizer: &Tokenizer) -> bool {
    let normalizer = matches!(
        tokenizer.get_normalizer(),
        None | Some(NormalizerWrapper::BertNormalizer(_))
    );
    let pre = matches!(
        tokenizer.get_pre_tokenizer(),
        Some(PreTokenizerWrapper::BertPreTokenizer(_))
    );
    let model = matches!(tokenizer.get_model(), ModelWrapper::WordPiece(_));
    normalizer && pre && model
}

/// Whether `text` holds an added token's content, in any case.
fn holds_added_token(tokenizer: &Tokenizer, text: &str) -> bool {
    let lower = text.to_lowercase();
    tokenizer
        .get_added_tokens_decoder()
        .values()
        .map(|t| t.content.to_lowercase())
        .any(|c| !c.is_empty() && lower.contains(&c))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A BERT pipeline (BertNormalizer lowercasing and stripping accents, BertPreTokenizer,
    /// WordPiece) over a small vocabulary: letters, `##`-letters, a few whole words and
    /// pieces, digits and some punctuation. Anything else is `[UNK]`, and words longer
    /// than 12 characters are `[UNK]` too.
    pub(crate) fn bert_like() -> Tokenizer {
        let mut vocab = vec!["[UNK]".to_string(), "[CLS]".into(), "[SEP]".into()];
        for c in 'a'..='z' {
            vocab.push(c.to_string());
            vocab.push(format!("##{c}"));
        }
        for w in [
            "the", "play", "##ing", "##ed", "cafe", "東", "京", "0", "1", "##1", ".", ",", "!", "-",
        ] {
            vocab.push(w.to_string());
        }
        let vocab: serde_json::Map<String, serde_json::Value> = vocab
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t, serde_json::json!(i)))
            .collect();
        let json = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [
                {"id": 1, "content": "[CLS]", "single_word": false, "lstrip": false,
                 "rstrip": false, "normalized": false, "special": true},
            ],
            "normalizer": {"type": "BertNormalizer", "clean_text": true,
                "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordPiece", "unk_token": "[UNK]",
                "continuing_subword_prefix": "##", "max_input_chars_per_word": 12,
                "vocab": vocab},
        });
        Tokenizer::from_bytes(json.to_string()).expect("a valid tokenizer")
    }

    /// Prose with everything the pipeline treats specially: accents (composed and
    /// combining), CJK, control characters, tabs and newlines, emoji, punctuation runs,
    /// digits and a word past the WordPiece length limit.
    pub(crate) fn tricky_text() -> String {
        let parts = [
            "The café played, then e\u{301}te\u{301}!",
            " 東京\u{7}ok\t\tplaying\r\n",
            "x-1.1, 100 ... supercalifragilistic ",
            "🙂smile🙂 \u{200b}zero width ",
            "Ünïcödé played-ing?!\n\n",
            "a\u{0}b c\u{1f}d ",
        ];
        parts.iter().cycle().take(60).copied().collect()
    }

    /// A small deterministic generator (xorshift), so that failures reproduce.
    pub(crate) fn ranges(text: &str, n: usize) -> Vec<(usize, usize)> {
        let bounds: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as usize
        };
        (0..n)
            .map(|_| {
                let a = next() % bounds.len();
                let len = next() % 200;
                (bounds[a], bounds[(a + len).min(bounds.len() - 1)])
            })
            .collect()
    }

    #[test]
    fn counts_by_words_equal_tokenising_every_range() {
        let t = bert_like();
        let text = tricky_text();
        let counter = RangeCounter::new(&t, &text).expect("a BERT pipeline");
        for (s, e) in ranges(&text, 5_000) {
            let piece = &text[s..e];
            assert_eq!(
                counter.count(piece),
                crate::count_tokens(&t, piece) as usize,
                "{s}..{e}: {piece:?}"
            );
        }
        assert_eq!(
            counter.count(&text),
            crate::count_tokens(&t, &text) as usize
        );
    }

    #[test]
    fn a_range_from_another_text_is_tokenised() {
        let t = bert_like();
        let text = "the cafe played";
        let counter = RangeCounter::new(&t, text).unwrap();
        // Same words, different memory: the count must come from the words themselves.
        assert_eq!(counter.count(&String::from("play the")), 2);
        assert_eq!(counter.count("zz"), 2);
    }

    #[test]
    fn added_tokens_and_other_pipelines_are_not_counted_by_words() {
        let t = bert_like();
        assert!(RangeCounter::new(&t, "before [CLS] after").is_none());
        assert!(RangeCounter::new(&t, "before [cls] after").is_none());
        let plain = Tokenizer::from_bytes(
            r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#,
        )
        .unwrap();
        assert!(RangeCounter::new(&plain, "some words").is_none());
    }
}
