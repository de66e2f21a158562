//! Every chunker on any text, size and overlap: chunks are ordered byte ranges of the
//! document on character boundaries, and nothing hangs (libFuzzer's -timeout catches that).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ragtune_chunk::{ChunkSpec, ChunkerKind, Sizer, chunk_corpus};
use ragtune_core::{Corpus, Document};

const KINDS: [ChunkerKind; 8] = [
    ChunkerKind::Chars,
    ChunkerKind::Tokens,
    ChunkerKind::Markdown,
    ChunkerKind::MarkdownTokens,
    ChunkerKind::WindowTokens,
    ChunkerKind::Recursive,
    ChunkerKind::RecursiveTokens,
    ChunkerKind::None,
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let kind = KINDS[data[0] as usize % KINDS.len()];
    let size = 1 + u16::from_le_bytes([data[1], data[2]]) as usize % 600;
    let overlap = u16::from_le_bytes([data[3], data[4]]) as usize % size;
    let text = String::from_utf8_lossy(&data[5..]).into_owned();
    let corpus = Corpus {
        docs: vec![Document {
            id: "d".into(),
            title: Some("t".into()),
            text,
            pages: vec![],
        }],
        questions: vec![],
    };
    let sizer = Sizer::load("cl100k_base").unwrap();
    let spec = ChunkSpec {
        kind,
        size,
        overlap,
        header: None,
    };
    let set = chunk_corpus(&corpus, &spec, Some(&sizer)).unwrap();
    let text = &corpus.docs[0].text;
    let mut last_start = 0;
    for c in &set.chunks {
        assert!(c.start < c.end && c.end <= text.len(), "{kind:?} {c:?}");
        assert!(text.is_char_boundary(c.start) && text.is_char_boundary(c.end));
        assert!(c.start >= last_start, "{kind:?}: chunks out of order");
        last_start = c.start;
    }
});
