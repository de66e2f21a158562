//! Sessions side by side: batches and late-chunking windows spread over two ONNX Runtime
//! sessions give the vectors one session gives, each in its place. Needs models/fetch.sh.

use std::path::PathBuf;

use ragtune_embed::{
    BatchSize, Batching, Device, EmbedOptions, Embedder, OnnxEmbedder, resolve_model,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model(sessions: usize) -> OnnxEmbedder {
    model_with(sessions, BatchSize::Fixed(3))
}

fn model_with(sessions: usize, batch_size: BatchSize) -> OnnxEmbedder {
    let models_dir = root().join("models");
    let spec = resolve_model("all-minilm-l6-v2", &models_dir).expect("run models/fetch.sh first");
    let opts = EmbedOptions {
        models_dir,
        threads: 2,
        sessions,
        device: Device::Cpu,
        batch_size,
    };
    OnnxEmbedder::load(&spec, &opts).unwrap()
}

fn quickstart_text() -> String {
    let docs = root().join("corpora/quickstart/docs");
    [
        "00-about.md",
        "01-homeowners-eligibility.md",
        "02-homeowners-flood.md",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(docs.join(f)).unwrap())
    .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh; run scripts/test.sh"]
fn two_sessions_give_the_vectors_of_one() {
    let (one, two) = (model(1), model(2));
    let text = quickstart_text();
    // Lines of many lengths: batches of 3 sorted by length, finishing in any order.
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 20, "{} lines", lines.len());
    let a = one.embed(&lines, &|_| {}).unwrap();
    let b = two.embed(&lines, &|_| {}).unwrap();
    let d = max_diff(&a.vectors, &b.vectors);
    assert!(d < 1e-4, "standalone vectors differ by {d}");
    // Each row is its own text's vector, not a neighbour's.
    let dim = one.dim();
    for i in [0, lines.len() / 2, lines.len() - 1] {
        let alone = one.embed(&[lines[i]], &|_| {}).unwrap().vectors;
        let d = max_diff(&b.vectors[i * dim..(i + 1) * dim], &alone);
        assert!(
            d < 1e-4,
            "line {i} differs from itself embedded alone by {d}"
        );
    }
    // Late chunking's windows, spread over the sessions, land on their own tokens.
    let (ta, tb) = (
        one.token_vectors(&text, 128, 32).unwrap(),
        two.token_vectors(&text, 128, 32).unwrap(),
    );
    assert!(ta.offsets.len() > 300, "several windows");
    assert_eq!(ta.offsets, tb.offsets);
    let d = max_diff(&ta.vectors, &tb.vectors);
    assert!(d < 1e-4, "token vectors differ by {d}");
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh; run scripts/test.sh"]
fn a_request_longer_than_a_segment_keeps_every_text_in_its_row() {
    // Tokenisation runs one segment (2,048 texts at this batch size) ahead of inference:
    // 2,500 texts make two segments, and rows past the first must land in their places.
    let e = model(2);
    let text = quickstart_text();
    let words: Vec<&str> = text.split_whitespace().collect();
    assert!(words.len() > 300, "{} words", words.len());
    let texts: Vec<String> = (0..2500)
        .map(|i| {
            let s = i % (words.len() - 3);
            format!("{i} {}", words[s..s + 1 + i % 3].join(" "))
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let dim = e.dim();
    let progressed = std::sync::atomic::AtomicUsize::new(0);
    let progress = |n: usize| {
        progressed.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    let (mut vectors, mut times) = (vec![0f32; refs.len() * dim], vec![0usize; refs.len()]);
    let mut sink = |idx: &[usize], v: &[f32]| {
        for (j, &i) in idx.iter().enumerate() {
            times[i] += 1;
            vectors[i * dim..(i + 1) * dim].copy_from_slice(&v[j * dim..(j + 1) * dim]);
        }
        Ok(())
    };
    let totals = e.embed_batches(&refs, &progress, &mut sink).unwrap();
    assert!(
        times.iter().all(|&t| t == 1),
        "every text is handed over once"
    );
    // The segments' counts add up to those of the same texts in one segment each.
    let (a, b) = refs.split_at(2048);
    let whole = |t: &[&str]| e.embed(t, &|_| {}).unwrap().model_tokens;
    assert_eq!(totals.model_tokens, whole(a) + whole(b));
    assert!(totals.model_tokens > 2 * refs.len() as u64);
    assert_eq!(
        progressed.into_inner(),
        refs.len(),
        "progress counts every text once"
    );
    for i in [0, 2047, 2048, 2049, 2499] {
        let alone = e.embed(&[refs[i]], &|_| {}).unwrap().vectors;
        let d = max_diff(&vectors[i * dim..(i + 1) * dim], &alone);
        assert!(
            d < 1e-4,
            "text {i} differs from itself embedded alone by {d}"
        );
    }
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh; run scripts/test.sh"]
fn auto_batch_size_is_found_on_the_first_large_request() {
    let (auto, fixed) = (model_with(2, BatchSize::Auto), model(2));
    let text = quickstart_text();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // A request no larger than two of the smallest size runs as one call, untried.
    auto.embed(&lines[..5], &|_| {}).unwrap();
    assert_eq!(auto.batching(), None);
    let a = auto.embed(&lines, &|_| {}).unwrap();
    let size = match auto.batching() {
        Some(Batching::Texts(n)) => n,
        other => panic!("sizes were tried on the large request, yet batching is {other:?}"),
    };
    assert!(ragtune_embed::AUTO_CANDIDATES.contains(&size), "{size}");
    let b = fixed.embed(&lines, &|_| {}).unwrap();
    let d = max_diff(&a.vectors, &b.vectors);
    assert!(d < 1e-4, "auto-sized batches change the vectors by {d}");
    assert_eq!(fixed.batching(), Some(Batching::Texts(3)));
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh; run scripts/test.sh"]
fn token_budget_batches_give_the_vectors_of_fixed_ones() {
    // A budget of 32 padded tokens: short lines go many to a call, long ones alone (some
    // lines exceed the budget), and each row stays its own text's vector.
    let (budget, fixed) = (model_with(2, BatchSize::Tokens(32)), model(2));
    let text = quickstart_text();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.iter().any(|l| l.split_whitespace().count() > 32),
        "some line is longer than the budget"
    );
    let a = budget.embed(&lines, &|_| {}).unwrap();
    let b = fixed.embed(&lines, &|_| {}).unwrap();
    let d = max_diff(&a.vectors, &b.vectors);
    assert!(d < 1e-4, "token-budget batches change the vectors by {d}");
    assert_eq!(a.truncated, b.truncated);
    assert_eq!(budget.batching(), Some(Batching::Tokens(32)));
    assert_eq!(fixed.batching(), Some(Batching::Texts(3)));
}
