//! `tokens` chunks of real text with the models' real tokenizer, sized and counted by
//! words from one tokenisation per document, against text-splitter sizing every candidate
//! with the tokenizer itself and each chunk tokenised on its own.

use std::path::Path;
use std::sync::Arc;

use ragtune_chunk::{
    ChunkSpec, ChunkerKind, Sizer, chunk_corpus_counted, count_tokens, load_plain_tokenizer,
};
use ragtune_core::{Corpus, Document};
use text_splitter::{ChunkConfig, TextSplitter};

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and ../shared/datasets; run scripts/test.sh"]
fn chroma_token_chunks_equal_text_splitters_own_sizing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tokenizer = load_plain_tokenizer(&root.join("models/all-minilm-l6-v2/tokenizer.json"))
        .expect("models/fetch.sh has been run");
    let dir = root.join("../shared/datasets/chroma-chunking/corpora");
    let mut docs = Vec::new();
    for name in ["chatlogs", "state_of_the_union", "wikitexts", "pubmed"] {
        let path = dir.join(format!("{name}.md"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        docs.push(Document {
            id: name.into(),
            title: None,
            text,
        });
    }
    let corpus = Corpus {
        docs,
        questions: vec![],
    };
    let shared = Arc::new(tokenizer.clone());
    let sizer = Sizer::Hf(shared.clone());
    for (size, overlap) in [(50, 10), (200, 0), (800, 400)] {
        let spec = ChunkSpec {
            kind: ChunkerKind::Tokens,
            size,
            overlap,
        };
        // One tokenisation per document sizes the chunks and counts them.
        let (set, counts) =
            chunk_corpus_counted(&corpus, &spec, Some(&sizer), &shared, &|_| {}).unwrap();
        for (i, &n) in counts.iter().enumerate() {
            assert_eq!(
                n,
                count_tokens(&tokenizer, &set.index_text(&corpus, i)),
                "chunk {i}"
            );
        }
        let splitter = TextSplitter::new(
            ChunkConfig::new(size)
                .with_sizer(&tokenizer)
                .with_overlap(overlap)
                .unwrap(),
        );
        let mut direct = Vec::new();
        for (i, d) in corpus.docs.iter().enumerate() {
            direct.extend(
                splitter
                    .chunk_indices(&d.text)
                    .map(|(s, c)| (i as u32, s, s + c.len())),
            );
        }
        let ours: Vec<_> = set.chunks.iter().map(|c| (c.doc, c.start, c.end)).collect();
        assert!(ours.len() > 100, "{size}/{overlap}: {} chunks", ours.len());
        assert_eq!(ours, direct, "{size}/{overlap}");
    }
}
