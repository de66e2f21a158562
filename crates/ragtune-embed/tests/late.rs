//! Token vectors for late chunking, with the real model (needs models/fetch.sh): offsets
//! point at the tokens' own bytes, windows change a token's vector only through its
//! context, and one window's mean is the standalone sentence vector up to the two special
//! tokens standalone pooling also averages.

use std::path::PathBuf;

use ragtune_embed::{BatchSize, Device, EmbedOptions, Embedder, OnnxEmbedder, resolve_model};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> OnnxEmbedder {
    let models_dir = root().join("models");
    let spec = resolve_model("all-minilm-l6-v2", &models_dir).expect("run models/fetch.sh first");
    OnnxEmbedder::load(
        &spec,
        &EmbedOptions {
            models_dir,
            threads: 2,
            sessions: 2,
            device: Device::Cpu,
            batch_size: BatchSize::Fixed(4),
        },
    )
    .unwrap()
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (n(a) * n(b))
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh; run scripts/test.sh"]
fn windows_keep_offsets_and_change_vectors_only_through_context() {
    let e = model();
    let dim = e.dim();
    let docs = root().join("corpora/quickstart/docs");
    let mut text = String::new();
    for f in [
        "00-about.md",
        "01-homeowners-eligibility.md",
        "02-homeowners-flood.md",
    ] {
        text.push_str(&std::fs::read_to_string(docs.join(f)).unwrap());
    }
    let whole = e.token_vectors(&text, 2048, 0).unwrap();
    let n = whole.offsets.len();
    assert!(n > 300, "{n} tokens: the text spans several small windows");
    // Offsets are in order, inside the text, and each holds its token's letters.
    assert!(whole.offsets.windows(2).all(|w| w[0].1 <= w[1].0));
    assert!(whole.offsets.iter().all(|&(s, e)| s < e && e <= text.len()));
    assert!(
        whole
            .offsets
            .iter()
            .all(|&(s, e)| text[s..e].chars().all(|c| !c.is_whitespace()))
    );
    // Windows of 128 overlapping by 32: the same tokens, at the same offsets; vectors
    // close to the one-window ones (context is shorter, never misaligned).
    let small = e.token_vectors(&text, 128, 32).unwrap();
    assert_eq!(small.offsets, whole.offsets);
    let sims: Vec<f32> = (0..n)
        .map(|t| {
            cos(
                &small.vectors[t * dim..(t + 1) * dim],
                &whole.vectors[t * dim..(t + 1) * dim],
            )
        })
        .collect();
    let mean = sims.iter().sum::<f32>() / n as f32;
    assert!(mean > 0.8, "mean cosine to the one-window vectors {mean}");
    assert!(
        sims.iter().any(|&s| s < 0.9999),
        "the windows made no difference at all"
    );
    // A misaligned window (token t read from row t+1) would be far off: check that the
    // alignment is what keeps the cosine high.
    let shifted: f32 = (0..n - 1)
        .map(|t| {
            cos(
                &small.vectors[t * dim..(t + 1) * dim],
                &whole.vectors[(t + 1) * dim..(t + 2) * dim],
            )
        })
        .sum::<f32>()
        / (n - 1) as f32;
    assert!(shifted < mean - 0.2, "shifted {shifted} vs aligned {mean}");
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh; run scripts/test.sh"]
fn one_window_pools_to_the_standalone_vector() {
    let e = model();
    let dim = e.dim();
    let text = "Flood cover excludes basements below the river line and needs a survey.";
    let tv = e.token_vectors(text, 512, 64).unwrap();
    let pooled = ragtune_core::pool_span(&tv, dim, 0, text.len());
    let standalone = e.embed(&[text], &|_| {}).unwrap().vectors;
    let c = cos(&pooled, &standalone);
    // Standalone pooling also averages [CLS] and [SEP]; nothing else differs.
    assert!(c > 0.97, "cosine {c}");
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh; run scripts/test.sh"]
fn token_rows_match_python_onnxruntime() {
    // Each token's byte offsets and output row, made independently by
    // scripts/make_reference_embeddings.py: a row read one place off (the [CLS] row, or a
    // neighbour's) would fail here, whichever session ran the window.
    let text =
        std::fs::read_to_string(root().join("tests/data/reference_embeddings.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let r = &reference["token_vectors"];
    let sentence = r["sentence"].as_str().unwrap();
    let want_offsets: Vec<(usize, usize)> = r["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o[0].as_u64().unwrap() as usize,
                o[1].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let e = model();
    let dim = e.dim();
    let tv = e.token_vectors(sentence, 512, 64).unwrap();
    assert_eq!(tv.offsets, want_offsets);
    for (t, row) in r["rows"].as_array().unwrap().iter().enumerate() {
        let want: Vec<f32> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let c = cos(&tv.vectors[t * dim..(t + 1) * dim], &want);
        assert!(c > 0.9999, "token {t}: cosine {c} to the reference row");
    }
}
