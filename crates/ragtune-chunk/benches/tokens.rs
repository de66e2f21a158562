//! `tokens` chunking of real text: text-splitter sizing every candidate chunk with the
//! tokenizer and each chunk counted on its own (what ragtune did before `wordcount`),
//! against `chunk_corpus_counted`, which tokenises each document once.
//! benches/bench_chunk.sh runs it and prints the ratio.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ragtune_chunk::{
    ChunkSpec, ChunkerKind, Sizer, chunk_corpus_counted, count_tokens, load_plain_tokenizer,
};
use ragtune_core::{Corpus, Document};
use rayon::prelude::*;
use text_splitter::{ChunkConfig, TextSplitter};
use tokenizers::Tokenizer;

/// Chroma's corpora but finance (1.0 MB of its 1.4 MB), and the models' tokenizer.
fn inputs() -> (Corpus, Tokenizer) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tokenizer = load_plain_tokenizer(&root.join("models/all-minilm-l6-v2/tokenizer.json"))
        .expect("run models/fetch.sh first");
    let dir = root.join("../shared/datasets/chroma-chunking/corpora");
    let docs = ["chatlogs", "state_of_the_union", "wikitexts", "pubmed"]
        .iter()
        .map(|name| {
            let path = dir.join(format!("{name}.md"));
            Document {
                id: (*name).into(),
                title: None,
                text: std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
                pages: Vec::new(),
            }
        })
        .collect();
    let corpus = Corpus {
        docs,
        questions: vec![],
    };
    (corpus, tokenizer)
}

/// The previous path: text-splitter with the tokenizer as its sizer, then every chunk
/// tokenised for its count; in parallel over documents, as ragtune chunks.
fn per_candidate(corpus: &Corpus, tokenizer: &Tokenizer, size: usize) -> usize {
    let splitter = TextSplitter::new(ChunkConfig::new(size).with_sizer(tokenizer));
    corpus
        .docs
        .par_iter()
        .map(|d| {
            splitter
                .chunks(&d.text)
                .map(|c| count_tokens(tokenizer, c) as usize)
                .sum::<usize>()
        })
        .sum()
}

fn tokens_chunking(c: &mut Criterion) {
    let (corpus, tokenizer) = inputs();
    let shared = Arc::new(tokenizer.clone());
    let sizer = Sizer::Hf(shared.clone());
    let mut group = c.benchmark_group("tokens-200");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("per-candidate", |b| {
        b.iter(|| per_candidate(&corpus, &tokenizer, 200))
    });
    let spec = ChunkSpec {
        kind: ChunkerKind::Tokens,
        size: 200,
        overlap: 0,
        header: None,
    };
    group.bench_function("by-words", |b| {
        b.iter(|| {
            let (_, counts) =
                chunk_corpus_counted(&corpus, &spec, Some(&sizer), &shared, &|_| {}).unwrap();
            counts.iter().map(|&n| n as usize).sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, tokens_chunking);
criterion_main!(benches);
