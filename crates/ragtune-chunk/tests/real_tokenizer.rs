//! `tokens` chunks of real text with the models' real tokenizer, sized and counted by
//! words from one tokenisation per document, against text-splitter sizing every candidate
//! with the tokenizer itself and each chunk tokenised on its own. Both reference corpora
//! are read by the same loaders as a sweep's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ragtune_chunk::{
    ChunkSpec, ChunkerKind, Sizer, chunk_corpus_counted, count_tokens, load_plain_tokenizer,
};
use ragtune_core::Corpus;
use ragtune_corpus::{CorpusFormat, CorpusSpec};
use text_splitter::{ChunkConfig, TextSplitter};
use tokenizers::Tokenizer;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus(format: CorpusFormat, path: &str) -> Corpus {
    let spec = CorpusSpec::new(format, root().join("../shared/datasets").join(path));
    ragtune_corpus::load(&spec).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every chunk and count of `corpus` at each (size, overlap), both ways.
fn check(corpus: &Corpus, specs: &[(usize, usize)]) {
    let tokenizer = load_plain_tokenizer(&root().join("models/all-minilm-l6-v2/tokenizer.json"))
        .expect("models/fetch.sh has been run");
    let shared = Arc::new(tokenizer.clone());
    let sizer = Sizer::Hf(shared.clone());
    for &(size, overlap) in specs {
        let spec = ChunkSpec {
            kind: ChunkerKind::Tokens,
            size,
            overlap,
            header: None,
        };
        // One tokenisation per document sizes the chunks and counts them.
        let (set, counts) =
            chunk_corpus_counted(corpus, &spec, Some(&sizer), &shared, &|_| {}).unwrap();
        for (i, &n) in counts.iter().enumerate() {
            let text = set.index_text(corpus, i);
            assert_eq!(
                n,
                count_tokens(&tokenizer, &text),
                "{size}/{overlap}: chunk {i}"
            );
        }
        let ours: Vec<_> = set.chunks.iter().map(|c| (c.doc, c.start, c.end)).collect();
        assert!(ours.len() > 100, "{size}/{overlap}: {} chunks", ours.len());
        assert_eq!(
            ours,
            direct(corpus, &tokenizer, size, overlap),
            "{size}/{overlap}"
        );
    }
}

/// text-splitter with the tokenizer as its sizer, document by document.
fn direct(
    corpus: &Corpus,
    tokenizer: &Tokenizer,
    size: usize,
    overlap: usize,
) -> Vec<(u32, usize, usize)> {
    let cfg = ChunkConfig::new(size)
        .with_sizer(tokenizer)
        .with_overlap(overlap);
    let splitter = TextSplitter::new(cfg.unwrap());
    let mut out = Vec::new();
    for (i, d) in corpus.docs.iter().enumerate() {
        out.extend(
            splitter
                .chunk_indices(&d.text)
                .map(|(s, c)| (i as u32, s, s + c.len())),
        );
    }
    out
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and ../shared/datasets; run scripts/test.sh"]
fn chroma_token_chunks_equal_text_splitters_own_sizing() {
    let c = corpus(CorpusFormat::Chroma, "chroma-chunking");
    assert_eq!(c.docs.len(), 5);
    check(&c, &[(50, 10), (200, 0), (800, 400)]);
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and ../shared/datasets; run scripts/test.sh"]
fn squad_token_chunks_equal_text_splitters_own_sizing() {
    let c = corpus(CorpusFormat::Squad, "squad-v1.1-dev/dev-v1.1.json");
    assert_eq!(c.docs.len(), 48);
    check(&c, &[(128, 0), (256, 0), (50, 10)]);
}

/// Counts of chunks that are not sized in tokens (by the word counter) against tokenising
/// every chunk, on both corpora, whole documents included (`none`, title in front).
#[test]
#[ignore = "end-to-end: needs models/fetch.sh and ../shared/datasets; run scripts/test.sh"]
fn counts_of_chunks_sized_in_characters_are_the_tokenizers() {
    let tokenizer = load_plain_tokenizer(&root().join("models/all-minilm-l6-v2/tokenizer.json"))
        .expect("models/fetch.sh has been run");
    let shared = Arc::new(tokenizer.clone());
    let corpora = [
        corpus(CorpusFormat::Chroma, "chroma-chunking"),
        corpus(CorpusFormat::Squad, "squad-v1.1-dev/dev-v1.1.json"),
    ];
    let specs = [
        (ChunkerKind::Recursive, 800, 200),
        (ChunkerKind::Chars, 300, 0),
        (ChunkerKind::None, 0, 0),
    ];
    let mut ascii = 0;
    for c in &corpora {
        for &(kind, size, overlap) in &specs {
            let spec = ChunkSpec {
                kind,
                size,
                overlap,
                header: None,
            };
            let (set, counts) = chunk_corpus_counted(c, &spec, None, &shared, &|_| {}).unwrap();
            assert_eq!(counts.len(), set.len());
            for (i, &n) in counts.iter().enumerate() {
                let text = set.index_text(c, i);
                ascii += usize::from(text.is_ascii());
                assert_eq!(n, count_tokens(&tokenizer, &text), "{kind:?}: chunk {i}");
            }
        }
    }
    assert!(
        ascii > 1000,
        "only {ascii} ASCII chunks: the fast path was hardly tried"
    );
}
