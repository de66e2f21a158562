//! Chunkers built on text-splitter. Every chunk keeps its document and its byte range
//! `[start, end)` in the source text, so that span labels stay valid whatever the chunking.
//!
//! | kind | splitter | size unit |
//! |---|---|---|
//! | `chars` | `TextSplitter` | characters (Unicode scalar values) |
//! | `tokens` | `TextSplitter` | tokens of a tokenizer.json, without [CLS]/[SEP] |
//! | `markdown` | `MarkdownSplitter` | characters |
//! | `markdown-tokens` | `MarkdownSplitter` | tokens |
//! | `window-tokens` | fixed token windows ([`windows`]) | tokens |
//! | `recursive` | recursive character splitter ([`Recursive`], LangChain's) | characters |
//! | `recursive-tokens` | the same, lengths counted in tokens | tokens |
//! | `none` | none: one chunk per document, title in front (BEIR convention) | – |
//!
//! Tokens are those of the chunk sizer ([`Sizer`]): a tokenizer.json or a tiktoken
//! encoding such as `cl100k_base`, without special tokens.
//!
//! Overlap is in the same unit as the size and must be smaller than it. What it means
//! differs by chunker, and [`overlap_stats`] measures what each one did:
//! - `chars`, `tokens`, `markdown`, `markdown-tokens` (text-splitter) overlap in whole
//!   semantic units that fit, **at most** the nominal value, often much less or none;
//!   they trim whitespace at chunk edges.
//! - `window-tokens` overlaps by exactly the nominal number of tokens.
//! - `recursive`, `recursive-tokens` carry whole trailing pieces of at most the nominal
//!   overlap into the next chunk: the real overlap, within one separator piece.
#![deny(missing_docs)]

use std::path::Path;

use ragtune_core::{Chunk, ChunkHeader, ChunkSet, Corpus, DocId};
pub use ragtune_core::{ChunkSpec, ChunkerKind};
use rayon::prelude::*;
use text_splitter::{Characters, ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};
use tokenizers::Tokenizer;

mod long;
mod overlap;
mod recursive;
mod sizer;
mod window;
mod wordcount;

pub use overlap::{OverlapStats, overlap_stats};
pub use recursive::{Recursive, SEPARATORS};
pub use sizer::{ENCODINGS, Sizer};
pub use window::windows;
use wordcount::{RangeCounter, WordCounter};

/// Chunking failures.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// Overlap must be smaller than size.
    #[error("chunk overlap {overlap} must be smaller than chunk size {size}")]
    Overlap {
        /// Size.
        size: usize,
        /// Overlap.
        overlap: usize,
    },
    /// A size of zero.
    #[error("chunk size must be at least 1")]
    ZeroSize,
    /// Token sizing without a tokenizer.
    #[error("chunker `{0}` sizes chunks in tokens and needs a tokenizer")]
    NoTokenizer(&'static str),
    /// The tokenizer file could not be loaded.
    #[error("{path}: cannot load tokenizer: {message}")]
    Tokenizer {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// Load a tokenizer.json with truncation and padding turned off, as chunk sizing and
/// token counting need.
pub fn load_plain_tokenizer(path: &Path) -> Result<Tokenizer, ChunkError> {
    let mut t = Tokenizer::from_file(path).map_err(|e| ChunkError::Tokenizer {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    t.with_truncation(None).map_err(|e| ChunkError::Tokenizer {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    t.with_padding(None);
    Ok(t)
}

/// Number of tokens in `text`, without special tokens.
pub fn count_tokens(tokenizer: &Tokenizer, text: &str) -> u32 {
    tokenizer
        .encode_fast(text, false)
        .map_or(0, |e| e.len() as u32)
}

/// Check a spec before any work starts.
pub fn validate(spec: &ChunkSpec, sizer: Option<&Sizer>) -> Result<(), ChunkError> {
    if !spec.kind.is_sized() {
        return Ok(());
    }
    if spec.size == 0 {
        return Err(ChunkError::ZeroSize);
    }
    if spec.overlap >= spec.size {
        return Err(ChunkError::Overlap {
            size: spec.size,
            overlap: spec.overlap,
        });
    }
    if spec.kind.needs_tokenizer() && sizer.is_none() {
        return Err(ChunkError::NoTokenizer(spec.kind.name()));
    }
    Ok(())
}

/// Chunk every document of `corpus` (in parallel over documents).
pub fn chunk_corpus(
    corpus: &Corpus,
    spec: &ChunkSpec,
    sizer: Option<&Sizer>,
) -> Result<ChunkSet, ChunkError> {
    chunk_corpus_with_progress(corpus, spec, sizer, &|_| {})
}

/// [`chunk_corpus`], calling `progress` with the number of documents finished.
pub fn chunk_corpus_with_progress(
    corpus: &Corpus,
    spec: &ChunkSpec,
    sizer: Option<&Sizer>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<ChunkSet, ChunkError> {
    chunk_docs(corpus, spec, sizer, None, progress).map(|(set, _)| set)
}

/// [`chunk_corpus_with_progress`], with each chunk's index text counted in `counting`'s
/// tokens (no special tokens). Each document is tokenised once for all its counts
/// ([`wordcount`]), and when `sizer` holds this same tokenizer (the same `Arc`), that one
/// tokenisation sizes its chunks as well.
pub fn chunk_corpus_counted(
    corpus: &Corpus,
    spec: &ChunkSpec,
    sizer: Option<&Sizer>,
    counting: &Tokenizer,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(ChunkSet, Vec<u32>), ChunkError> {
    chunk_docs(corpus, spec, sizer, Some(counting), progress)
}

fn chunk_docs(
    corpus: &Corpus,
    spec: &ChunkSpec,
    sizer: Option<&Sizer>,
    counting: Option<&Tokenizer>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(ChunkSet, Vec<u32>), ChunkError> {
    validate(spec, sizer)?;
    // Each rayon job keeps one word counter, so that a word's count is worked out once
    // per job rather than once per occurrence.
    let fast = || counting.and_then(WordCounter::new);
    if spec.kind == ChunkerKind::None {
        let set = whole_documents(corpus);
        let counts = counting.map_or_else(Vec::new, |t| {
            (0..set.len())
                .into_par_iter()
                .map_init(fast, |fast, c| {
                    let text = set.index_text(corpus, c);
                    counted(fast.as_mut(), t, &text)
                })
                .collect()
        });
        return Ok((set, counts));
    }
    let per_doc: Vec<(Vec<Chunk>, Vec<u32>)> = corpus
        .docs
        .par_iter()
        .enumerate()
        .map_init(fast, |fast, (i, d)| {
            let out = chunk_doc(i as DocId, &d.text, spec, sizer, counting, fast.as_mut());
            progress(1);
            out
        })
        .collect();
    let (mut chunks, mut counts) = (Vec::new(), Vec::new());
    for (c, n) in per_doc {
        chunks.extend(c);
        counts.extend(n);
    }
    let set = ChunkSet {
        chunks,
        ..ChunkSet::default()
    };
    Ok((set, counts))
}

/// One chunk per non-blank document, title in front.
fn whole_documents(corpus: &Corpus) -> ChunkSet {
    let chunks = corpus
        .docs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.text.trim().is_empty())
        .map(|(i, d)| Chunk {
            doc: i as DocId,
            start: 0,
            end: d.text.len(),
        })
        .collect();
    ChunkSet {
        chunks,
        header: ChunkHeader::Title,
        ..ChunkSet::default()
    }
}

/// `text`'s tokens in `t`: by `fast` where it applies, else by tokenising.
fn counted(fast: Option<&mut WordCounter>, t: &Tokenizer, text: &str) -> u32 {
    fast.and_then(|f| f.count(text))
        .unwrap_or_else(|| count_tokens(t, text))
}

/// One document's chunks and, with `counting`, their token counts: by `fast` (words
/// counted once per rayon job, [`WordCounter`]) where the tokenizer allows, else from one
/// tokenisation of the document ([`RangeCounter`]); and when the sizer counts in the same
/// tokenizer, that tokenisation sizes the chunks too.
fn chunk_doc(
    doc: DocId,
    text: &str,
    spec: &ChunkSpec,
    sizer: Option<&Sizer>,
    counting: Option<&Tokenizer>,
    mut fast: Option<&mut WordCounter>,
) -> (Vec<Chunk>, Vec<u32>) {
    let sizes_in_counting = match (sizer, counting) {
        (Some(Sizer::Hf(s)), Some(c)) => spec.kind.needs_tokenizer() && std::ptr::eq(s.as_ref(), c),
        _ => false,
    };
    let by_words = sizes_in_counting || fast.is_none();
    let counter = counting
        .filter(|_| by_words && text.len() <= long::DIRECT_LIMIT)
        .and_then(|t| RangeCounter::new(t, text));
    let shared = counter.as_ref().filter(|_| sizes_in_counting);
    let ranges = chunk_text(text, spec, sizer, shared);
    let counts = match (&counter, counting) {
        (Some(c), _) => ranges
            .iter()
            .map(|&(s, e)| c.count(&text[s..e]) as u32)
            .collect(),
        (None, Some(t)) => ranges
            .iter()
            .map(|&(s, e)| counted(fast.as_deref_mut(), t, &text[s..e]))
            .collect(),
        (None, None) => Vec::new(),
    };
    let chunks = ranges
        .into_iter()
        .map(|(start, end)| Chunk { doc, start, end })
        .collect();
    (chunks, counts)
}

/// Bytes a unit of chunk size is taken to span, for bounding the work on long texts: a
/// character is at most 4 bytes, and an English token about 4 on average. The window
/// keeps at least one chunk, so a longer unit costs exactness near window ends, never
/// progress.
const BYTES_PER_UNIT: usize = 4;

/// text-splitter's semantic splitters over one text, sized in characters or by `sizer`.
/// Long texts go through bounded windows ([`long`]), so that the work stays linear.
/// `words`, when given, counts `sizer`'s tokens over all of `text`; without it each window
/// gets a counter of its own where the sizer allows ([`window_counter`]).
fn semantic(
    text: &str,
    spec: &ChunkSpec,
    sizer: Option<&Sizer>,
    words: Option<&RangeCounter>,
) -> Vec<(usize, usize)> {
    let window = long::window_len(spec.size.saturating_mul(BYTES_PER_UNIT));
    long::windowed(text, window, &|t| {
        let own = words
            .is_none()
            .then(|| window_counter(spec.kind, sizer, t))
            .flatten();
        let sizer = WindowSizer::new(spec.kind, sizer, words.or(own.as_ref()));
        // Overlap < size was checked by `validate`, so `with_overlap` cannot fail here.
        let cfg = ChunkConfig::new(spec.size)
            .with_sizer(sizer)
            .with_overlap(spec.overlap)
            .expect("validated");
        split_window(spec.kind, t, cfg)
    })
}

/// One text (a whole document or a window of one) through text-splitter's plain or
/// markdown splitter, as byte ranges.
fn split_window<S: ChunkSizer>(
    kind: ChunkerKind,
    text: &str,
    cfg: ChunkConfig<S>,
) -> Vec<(usize, usize)> {
    let range = |(start, chunk): (usize, &str)| (start, start + chunk.len());
    match kind {
        ChunkerKind::Markdown | ChunkerKind::MarkdownTokens => MarkdownSplitter::new(cfg)
            .chunk_indices(text)
            .map(range)
            .collect(),
        _ => TextSplitter::new(cfg)
            .chunk_indices(text)
            .map(range)
            .collect(),
    }
}

/// A word counter over `text` for a `kind` sized in the tokens of `sizer`, where that
/// tokenizer allows counting by words ([`wordcount`]).
fn window_counter<'t>(
    kind: ChunkerKind,
    sizer: Option<&'t Sizer>,
    text: &'t str,
) -> Option<RangeCounter<'t>> {
    match sizer {
        Some(Sizer::Hf(t)) if kind.needs_tokenizer() => RangeCounter::new(t, text),
        _ => None,
    }
}

/// What text-splitter sizes one text's chunks with.
enum WindowSizer<'t> {
    Chars,
    /// A BERT tokenizer counting by words ([`wordcount`]), over this text or the whole
    /// document it is a slice of.
    Words(&'t RangeCounter<'t>),
    Hf(&'t Tokenizer),
    Tiktoken(&'t tiktoken_rs::CoreBPE),
}

impl<'t> WindowSizer<'t> {
    /// `words`, when given, counts `sizer`'s tokens and is used instead of it.
    fn new(
        kind: ChunkerKind,
        sizer: Option<&'t Sizer>,
        words: Option<&'t RangeCounter<'t>>,
    ) -> WindowSizer<'t> {
        match (kind, sizer, words) {
            (ChunkerKind::Chars | ChunkerKind::Markdown, _, _) | (_, None, _) => WindowSizer::Chars,
            (_, Some(_), Some(w)) => WindowSizer::Words(w),
            (_, Some(Sizer::Hf(t)), None) => WindowSizer::Hf(t),
            (_, Some(Sizer::Tiktoken(_, bpe)), None) => WindowSizer::Tiktoken(bpe),
        }
    }
}

impl ChunkSizer for WindowSizer<'_> {
    fn size(&self, chunk: &str) -> usize {
        match self {
            WindowSizer::Chars => Characters.size(chunk),
            WindowSizer::Words(counter) => counter.count(chunk),
            WindowSizer::Hf(t) => t.size(chunk),
            WindowSizer::Tiktoken(bpe) => bpe.size(chunk),
        }
    }
}

/// Byte ranges of the chunks of one text. `validate` must have passed. `words`, when
/// given, counts `sizer`'s tokens over all of `text`.
fn chunk_text(
    text: &str,
    spec: &ChunkSpec,
    sizer: Option<&Sizer>,
    words: Option<&RangeCounter>,
) -> Vec<(usize, usize)> {
    let chars = |s: &str| s.chars().count();
    match (spec.kind, sizer) {
        (ChunkerKind::Chars | ChunkerKind::Markdown, _)
        | (ChunkerKind::Tokens | ChunkerKind::MarkdownTokens, Some(_)) => {
            semantic(text, spec, sizer, words)
        }
        (ChunkerKind::WindowTokens, Some(sizer)) => {
            window::windows(text, sizer, spec.size, spec.overlap)
        }
        (ChunkerKind::Recursive, _) => Recursive {
            text,
            size: spec.size,
            overlap: spec.overlap,
            len: &chars,
        }
        .chunks(),
        (ChunkerKind::RecursiveTokens, Some(sizer)) => Recursive {
            text,
            size: spec.size,
            overlap: spec.overlap,
            len: &|s: &str| words.map_or_else(|| sizer.count(s), |w| w.count(s)),
        }
        .chunks(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use ragtune_core::Document;

    use super::*;

    fn corpus(texts: &[&str]) -> Corpus {
        Corpus {
            docs: texts
                .iter()
                .enumerate()
                .map(|(i, t)| Document {
                    id: format!("d{i}"),
                    title: Some(format!("Title {i}")),
                    text: t.to_string(),
                    pages: Vec::new(),
                })
                .collect(),
            questions: vec![],
        }
    }

    #[test]
    fn chars_chunks_are_byte_ranges_of_the_source() {
        let text = "été un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize";
        let c = corpus(&[text, "short"]);
        let spec = ChunkSpec {
            kind: ChunkerKind::Chars,
            size: 30,
            overlap: 15,
            header: None,
        };
        let set = chunk_corpus(&c, &spec, None).unwrap();
        assert!(set.chunks.len() >= 3);
        for (i, ch) in set.chunks.iter().enumerate() {
            let doc = &c.docs[ch.doc as usize].text;
            let t = set.text(&c, i);
            assert_eq!(t, &doc[ch.start..ch.end]);
            assert!(t.chars().count() <= 30, "{t:?}");
        }
        // Overlap: some neighbouring chunks of doc 0 share bytes.
        let d0: Vec<_> = set.chunks.iter().filter(|c| c.doc == 0).collect();
        assert!(d0.windows(2).any(|w| w[1].start < w[0].end));
        assert_eq!(set.chunks.last().unwrap().doc, 1);
    }

    /// Varied prose over several paragraphs, longer than `long::DIRECT_LIMIT`.
    fn long_prose() -> String {
        let words = [
            "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "théta",
        ];
        let mut text = String::new();
        let mut i = 0usize;
        while text.len() <= 3 * long::DIRECT_LIMIT / 2 {
            i += 1;
            text.push_str(words[i % 8]);
            text.push(if i.is_multiple_of(11) { '.' } else { ' ' });
            if i.is_multiple_of(11) {
                text.push(' ');
            }
            if i.is_multiple_of(97) {
                text.push_str("\n\n");
            }
        }
        text
    }

    #[test]
    fn windowed_semantic_chunks_equal_one_pass_on_prose() {
        let text = long_prose();
        for kind in [ChunkerKind::Chars, ChunkerKind::Markdown] {
            let spec = ChunkSpec {
                kind,
                size: 300,
                overlap: 60,
                header: None,
            };
            // text-splitter in one pass over the whole text: what the windows must reproduce.
            let one_pass =
                split_window(kind, &text, ChunkConfig::new(300).with_overlap(60).unwrap());
            assert_eq!(semantic(&text, &spec, None, None), one_pass, "{kind:?}");
        }
    }

    #[test]
    fn token_chunks_counted_by_words_equal_text_splitters_own_sizing() {
        let t = wordcount::tests::bert_like();
        let text = wordcount::tests::tricky_text();
        let sizer = Sizer::Hf(std::sync::Arc::new(t.clone()));
        for kind in [ChunkerKind::Tokens, ChunkerKind::MarkdownTokens] {
            for (size, overlap) in [(5, 0), (12, 4), (40, 0), (40, 20), (150, 30)] {
                let spec = ChunkSpec {
                    kind,
                    size,
                    overlap,
                    header: None,
                };
                let cfg = ChunkConfig::new(size).with_sizer(&t).with_overlap(overlap);
                // The tokenizer itself sizing every candidate: what word counts must reproduce.
                let want = split_window(kind, &text, cfg.unwrap());
                assert!(want.len() > 3, "{kind:?} {size}");
                let words = window_counter(kind, Some(&sizer), &text);
                assert!(words.is_some(), "counted by words");
                assert_eq!(
                    chunk_text(&text, &spec, Some(&sizer), None),
                    want,
                    "{kind:?} {size}/{overlap}"
                );
                let shared = RangeCounter::new(&t, &text).unwrap();
                assert_eq!(
                    chunk_text(&text, &spec, Some(&sizer), Some(&shared)),
                    want,
                    "{kind:?} {size}/{overlap}, one counter for the document"
                );
            }
        }
    }

    #[test]
    fn counted_chunks_count_each_index_text_and_share_the_sizers_tokenizer() {
        let t = std::sync::Arc::new(wordcount::tests::bert_like());
        let text = wordcount::tests::tricky_text();
        let c = corpus(&[&text, "the cafe", &text[..sizer::floor_char(&text, 300)]]);
        let sizer = Sizer::Hf(t.clone());
        let other = Sizer::Hf(std::sync::Arc::new(wordcount::tests::bert_like()));
        for kind in [
            ChunkerKind::Tokens,
            ChunkerKind::RecursiveTokens,
            ChunkerKind::None,
        ] {
            let spec = ChunkSpec {
                kind,
                size: 30,
                overlap: 10 * usize::from(kind != ChunkerKind::None),
                header: None,
            };
            let plain = chunk_corpus(&c, &spec, Some(&sizer)).unwrap();
            for s in [&sizer, &other] {
                let (set, counts) = chunk_corpus_counted(&c, &spec, Some(s), &t, &|_| {}).unwrap();
                assert_eq!(set.chunks, plain.chunks, "{kind:?}");
                let want: Vec<u32> = (0..set.len())
                    .map(|i| count_tokens(&t, &set.index_text(&c, i)))
                    .collect();
                assert!(want.len() >= c.docs.len(), "{kind:?}");
                assert_eq!(counts, want, "{kind:?}");
            }
        }
    }

    #[test]
    #[ignore = "slow in debug builds; scripts/test.sh runs it in release"]
    fn text_without_breaks_is_chunked_not_hung() {
        // 20 MB on one line: quadratic before windows (64 s at 2 MB), seconds now.
        let c = corpus(&[&"abcdefghij".repeat(2_000_000)]);
        let spec = ChunkSpec {
            kind: ChunkerKind::Chars,
            size: 500,
            overlap: 100,
            header: None,
        };
        let set = chunk_corpus(&c, &spec, None).unwrap();
        assert_eq!(set.len(), 50_000);
        assert!(set.chunks.windows(2).all(|w| w[0].end - w[1].start == 100));
    }

    #[test]
    fn markdown_respects_headings() {
        let text = "# One\n\nAlpha alpha alpha.\n\n# Two\n\nBeta beta beta.";
        let c = corpus(&[text]);
        let set = chunk_corpus(
            &c,
            &ChunkSpec {
                kind: ChunkerKind::Markdown,
                size: 30,
                overlap: 0,
                header: None,
            },
            None,
        )
        .unwrap();
        let texts: Vec<_> = (0..set.len()).map(|i| set.text(&c, i)).collect();
        assert_eq!(
            texts,
            vec!["# One\n\nAlpha alpha alpha.", "# Two\n\nBeta beta beta."]
        );
    }

    #[test]
    fn none_is_whole_documents_with_titles() {
        let c = corpus(&["abc", "  ", "def"]);
        let set = chunk_corpus(
            &c,
            &ChunkSpec {
                kind: ChunkerKind::None,
                size: 0,
                overlap: 0,
                header: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(set.len(), 2, "blank documents give no chunk");
        assert_eq!(set.index_text(&c, 1), "Title 2\ndef");
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let c = corpus(&["abc"]);
        let err = chunk_corpus(
            &c,
            &ChunkSpec {
                kind: ChunkerKind::Chars,
                size: 10,
                overlap: 10,
                header: None,
            },
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "chunk overlap 10 must be smaller than chunk size 10"
        );
        assert!(matches!(
            chunk_corpus(
                &c,
                &ChunkSpec {
                    kind: ChunkerKind::Tokens,
                    size: 10,
                    overlap: 0,
                    header: None,
                },
                None
            ),
            Err(ChunkError::NoTokenizer("tokens"))
        ));
    }
}
