//! Sessions side by side: batches and late-chunking windows spread over two ONNX Runtime
//! sessions give the vectors one session gives, each in its place. Needs models/fetch.sh.

use std::path::PathBuf;

use ragtune_embed::{Device, EmbedOptions, Embedder, OnnxEmbedder, resolve_model};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model(sessions: usize) -> OnnxEmbedder {
    let models_dir = root().join("models");
    let spec = resolve_model("all-minilm-l6-v2", &models_dir).expect("run models/fetch.sh first");
    let opts = EmbedOptions {
        models_dir,
        threads: 2,
        sessions,
        device: Device::Cpu,
        batch_size: 3,
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
