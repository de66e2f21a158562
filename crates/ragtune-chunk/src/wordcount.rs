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

/// Where [`WordCounter::count`] is within a text: the piece (between spaces, tabs and
/// line breaks) that started at `start`, whether it is plain ASCII so far, the word
/// inside it that is open, and the tokens of its words that have ended.
struct Piece {
    start: usize,
    plain: bool,
    word: Option<usize>,
    counted: u32,
}

impl Default for Piece {
    fn default() -> Self {
        Self {
            start: 0,
            plain: true,
            word: None,
            counted: 0,
        }
    }
}

/// Exact token counts for BERT's pipeline, running the tokenizer once per distinct word.
///
/// On ASCII text that pipeline is simple enough to follow by hand: the normaliser maps
/// tab, newline and carriage return to spaces and lowercases when it is asked to (accents
/// and CJK characters do not occur); the pre-tokeniser splits at whitespace and isolates
/// every ASCII punctuation character (the Unicode punctuation categories add none inside
/// ASCII). So a text's count is the sum of its words' WordPiece counts, and the counter
/// asks the tokenizer's own WordPiece model once per distinct word, then remembers the
/// answer. The full pipeline spends most of its time on per-character Unicode category
/// lookups and on building offsets nobody reads (docs/performance.md, "Counting tokens").
///
/// Spaces, tabs and line breaks end a word whatever the rest of the pipeline does, so a
/// text's count is the sum of its pieces between them. A piece that is not plain ASCII
/// (accents, other scripts, control characters, which the normaliser drops or the
/// pre-tokeniser may split at) is counted by the tokenizer itself, and that count is
/// remembered too. It answers `None`, and the caller tokenises, for a text that may hold
/// an added token (`[CLS]`, …), which the tokenizer matches before normalising; and there
/// is no counter for a tokenizer with added tokens matched after normalising.
pub struct WordCounter<'t> {
    tokenizer: &'t Tokenizer,
    lowercase: bool,
    /// Added tokens, lowercased, and the bytes they can start with.
    added: Vec<Vec<u8>>,
    added_first: Vec<u8>,
    /// Counts of ASCII words (normalised) and of other pieces (as written).
    words: std::collections::HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    word: String,
}

impl<'t> WordCounter<'t> {
    /// A counter for `tokenizer`, or `None` where it does not run BERT's pipeline.
    pub fn new(tokenizer: &'t Tokenizer) -> Option<WordCounter<'t>> {
        // An added token matched after normalisation could span what this counter
        // splits (a tab the normaliser turns into a space, an accent it strips).
        let normalized_added =
            (tokenizer.get_added_tokens_decoder().values()).any(|t| t.normalized);
        if !word_local(tokenizer) || normalized_added {
            return None;
        }
        let lowercase = match tokenizer.get_normalizer() {
            Some(NormalizerWrapper::BertNormalizer(n)) => n.lowercase,
            _ => false,
        };
        let added: Vec<Vec<u8>> = (tokenizer.get_added_tokens_decoder().values())
            .map(|t| t.content.to_ascii_lowercase().into_bytes())
            .filter(|c| !c.is_empty())
            .collect();
        let mut added_first: Vec<u8> = added.iter().map(|c| c[0]).collect();
        added_first.extend(added.iter().map(|c| c[0].to_ascii_uppercase()));
        added_first.sort_unstable();
        added_first.dedup();
        Some(WordCounter {
            tokenizer,
            lowercase,
            added,
            added_first,
            words: std::collections::HashMap::default(),
            word: String::new(),
        })
    }

    /// Tokens in `text` (no special tokens), or `None` where this counter does not apply.
    /// One pass over the bytes: words of plain ASCII pieces are counted as they end; a
    /// piece with any other byte is counted whole when it ends.
    pub fn count(&mut self, text: &str) -> Option<u32> {
        let bytes = text.as_bytes();
        if self.may_hold_added(bytes) {
            return None;
        }
        let mut total = 0;
        let mut piece = Piece::default();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {
                    total += self.end_piece(text, &mut piece, i)?;
                    piece = Piece {
                        start: i + 1,
                        ..Piece::default()
                    };
                }
                _ if piece.plain => {
                    if !(0x20..0x7f).contains(&b) {
                        piece.plain = false;
                    } else if b.is_ascii_punctuation() {
                        piece.counted += self.end_word(text, &mut piece.word, i)?;
                        piece.counted += self.word_count(&text[i..=i])?;
                    } else if piece.word.is_none() {
                        piece.word = Some(i);
                    }
                }
                _ => {}
            }
        }
        total += self.end_piece(text, &mut piece, bytes.len())?;
        Some(total)
    }

    /// The count of the piece that ends at `end`: its words, or the tokenizer's count of
    /// the whole piece (remembered) when it is not plain ASCII.
    fn end_piece(&mut self, text: &str, piece: &mut Piece, end: usize) -> Option<u32> {
        if piece.plain {
            return Some(piece.counted + self.end_word(text, &mut piece.word, end)?);
        }
        let whole = &text[piece.start..end];
        if let Some(&n) = self.words.get(whole) {
            return Some(n);
        }
        let n = crate::count_tokens(self.tokenizer, whole);
        self.words.insert(whole.into(), n);
        Some(n)
    }

    fn end_word(&mut self, text: &str, word: &mut Option<usize>, end: usize) -> Option<u32> {
        match word.take() {
            Some(s) => self.word_count(&text[s..end]),
            None => Some(0),
        }
    }

    /// Whether an added token's text may occur in `bytes`, in any case.
    fn may_hold_added(&self, bytes: &[u8]) -> bool {
        if !bytes
            .iter()
            .any(|b| self.added_first.binary_search(b).is_ok())
        {
            return false;
        }
        self.added
            .iter()
            .any(|t| bytes.windows(t.len()).any(|w| w.eq_ignore_ascii_case(t)))
    }

    /// WordPiece's count for one word, normalised as the pipeline would.
    fn word_count(&mut self, word: &str) -> Option<u32> {
        let cased = self.lowercase && word.bytes().any(|b| b.is_ascii_uppercase());
        if !cased && let Some(&n) = self.words.get(word) {
            return Some(n);
        }
        self.word.clear();
        self.word.push_str(word);
        if cased {
            self.word.make_ascii_lowercase();
            if let Some(&n) = self.words.get(self.word.as_str()) {
                return Some(n);
            }
        }
        let n = tokenizers::Model::tokenize(self.tokenizer.get_model(), &self.word)
            .ok()?
            .len() as u32;
        self.words.insert(self.word.as_str().into(), n);
        Some(n)
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

    /// ASCII prose with what the word counter must get right: case, punctuation runs and
    /// isolated marks, tabs, newlines and carriage returns, digits, words past WordPiece's
    /// length limit, characters outside the vocabulary, and an added token in lower case.
    fn ascii_text() -> String {
        let parts = [
            "The Cafe PLAYED, then --played!! ",
            "ok\t\tplaying\r\nx-1.1, 100 ... supercalifragilistic ",
            "$%^&* ~`{|}<=>?@ \"quoted\" (paren) [bracket] a_b ",
            "Tab\tNew\nline\r\n\n  spaces   ",
            "played-ing?! 0x1f 1,000.5; ",
        ];
        parts.iter().cycle().take(50).copied().collect()
    }

    #[test]
    fn the_word_counter_counts_what_the_tokenizer_counts() {
        let t = bert_like();
        let mut fast = WordCounter::new(&t).expect("a BERT pipeline");
        // Pieces that are not plain ASCII go to the tokenizer: accents, CJK, controls.
        let tricky = tricky_text().replace("[CLS]", "");
        for (s, e) in ranges(&tricky, 3_000) {
            let piece = &tricky[s..e];
            assert_eq!(
                fast.count(piece),
                Some(crate::count_tokens(&t, piece)),
                "{piece:?}"
            );
        }
        let text = ascii_text();
        for (s, e) in ranges(&text, 5_000) {
            let piece = &text[s..e];
            assert_eq!(
                fast.count(piece),
                Some(crate::count_tokens(&t, piece)),
                "{s}..{e}: {piece:?}"
            );
        }
        // Without lowercasing too.
        let json = t
            .to_string(false)
            .unwrap()
            .replace("\"lowercase\":true", "\"lowercase\":false");
        let cased = Tokenizer::from_bytes(json).unwrap();
        let mut fast = WordCounter::new(&cased).unwrap();
        for (s, e) in ranges(&text, 2_000) {
            let piece = &text[s..e];
            assert_eq!(
                fast.count(piece),
                Some(crate::count_tokens(&cased, piece)),
                "{piece:?}"
            );
        }
    }

    #[test]
    fn the_word_counter_declines_what_it_cannot_follow() {
        let t = bert_like();
        let mut fast = WordCounter::new(&t).unwrap();
        assert_eq!(fast.count("the cafe"), Some(2));
        assert_eq!(fast.count("before [cls] after"), None, "an added token");
        let bracket = "before [ after";
        assert_eq!(
            fast.count(bracket),
            Some(crate::count_tokens(&t, bracket)),
            "no added token"
        );
        let plain = Tokenizer::from_bytes(
            r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#,
        )
        .unwrap();
        assert!(WordCounter::new(&plain).is_none());
        let json =
            t.to_string(false)
                .unwrap()
                .replacen("\"normalized\":false", "\"normalized\":true", 1);
        let normalized = Tokenizer::from_bytes(json).unwrap();
        assert!(
            WordCounter::new(&normalized).is_none(),
            "an added token matched after normalising"
        );
    }
}
