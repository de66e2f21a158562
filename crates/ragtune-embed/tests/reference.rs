//! The Rust embedder against vectors made independently with Python onnxruntime
//! (scripts/make_reference_embeddings.py → tests/data/reference_embeddings.json).
//! Needs the models provisioned by models/fetch.sh.

use std::path::PathBuf;

use ragtune_embed::{BatchSize, Device, EmbedOptions, Embedder, OnnxEmbedder, resolve_model};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn matches_python_onnxruntime() {
    let text =
        std::fs::read_to_string(root().join("tests/data/reference_embeddings.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sentences: Vec<String> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let models_dir = root().join("models");
    for (name, vectors) in reference["models"].as_object().unwrap() {
        let spec = resolve_model(name, &models_dir).expect("run models/fetch.sh first");
        // Batches of 4 mix lengths, so padding and masking are exercised; the reference
        // embedded each sentence alone, unpadded.
        let e = OnnxEmbedder::load(
            &spec,
            &EmbedOptions {
                models_dir: models_dir.clone(),
                threads: 2,
                sessions: 2,
                device: Device::Cpu,
                batch_size: BatchSize::Fixed(4),
            },
        )
        .unwrap();
        assert_eq!(e.provider(), "CPUExecutionProvider");
        let out = e.embed(&texts, &|_| {}).unwrap();
        assert_eq!(
            out.truncated, 1,
            "{name}: only the long sentence exceeds the limit"
        );
        // The tokens the model ran on: each sentence's tokens with [CLS] and [SEP], the
        // long one cut at the model's maximum, by the tokenizer alone.
        let mut tok = tokenizers::Tokenizer::from_file(spec.tokenizer_path()).unwrap();
        tok.with_truncation(None).unwrap();
        tok.with_padding(None);
        let lengths: Vec<usize> = (texts.iter())
            .map(|t| tok.encode(*t, true).unwrap().len())
            .collect();
        assert!(lengths.iter().any(|&n| n > spec.max_tokens), "{lengths:?}");
        let want: usize = lengths.iter().map(|&n| n.min(spec.max_tokens)).sum();
        assert_eq!(out.model_tokens, want as u64, "{name}: {lengths:?}");
        let want = vectors.as_array().unwrap();
        for (i, w) in want.iter().enumerate() {
            let w: Vec<f32> = w
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            let got = &out.vectors[i * e.dim()..(i + 1) * e.dim()];
            let cos: f32 = got.iter().zip(&w).map(|(a, b)| a * b).sum();
            let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!(
                (norm - 1.0).abs() < 1e-4,
                "{name}: vector {i} is not unit length ({norm})"
            );
            assert!(cos >= 0.9999, "{name}: sentence {i}: cosine {cos} < 0.9999");
        }
    }
}

#[test]
#[cfg(not(feature = "cuda"))]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn cuda_is_refused_without_the_feature() {
    let models_dir = root().join("models");
    let spec = resolve_model("all-minilm-l6-v2", &models_dir).expect("run models/fetch.sh first");
    let err = OnnxEmbedder::load(
        &spec,
        &EmbedOptions {
            models_dir,
            threads: 1,
            sessions: 1,
            device: Device::Cuda,
            batch_size: BatchSize::Fixed(1),
        },
    )
    .err()
    .expect("a CPU build must refuse CUDA");
    assert!(
        err.to_string().contains("built without CUDA support"),
        "{err}"
    );
}
