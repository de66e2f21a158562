//! How the model is driven: the CPU default batches by a budget of padded tokens,
//! `--batch-size auto` finds a size, the manifest records both, `--sessions` is recorded,
//! and none of them changes what is retrieved.

use crate::util::*;

fn quickstart_vector_grid(dir: &std::path::Path) -> std::path::PathBuf {
    let tables = r#"
[grid]
chunker = ["markdown"]
chunk_size = [300]
retriever = ["vector"]
model = ["all-minilm-l6-v2"]
top_k = [5]
[select]
objective = "recall@5"
"#;
    quickstart_grid(dir, "g.toml", "batching", tables)
}

/// recall@5 of the run's one point, and its manifest.
fn run(
    dir: &std::path::Path,
    g: &std::path::Path,
    name: &str,
    flags: &[&str],
) -> (f64, serde_json::Value) {
    let out = dir.join(name);
    let cache = dir.join(format!("{name}-cache"));
    let mut args = vec!["sweep", g.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend(["--cache-dir", cache.to_str().unwrap(), "--threads", "2"]);
    args.extend(flags);
    ragtune_ok(dir, &args);
    let points: Vec<_> = std::fs::read_dir(out.join("points")).unwrap().collect();
    assert_eq!(points.len(), 1);
    let p = read_json(&points[0].as_ref().unwrap().path());
    let recall = p["rows"][0]["recall"].as_f64().unwrap();
    (recall, read_json(&out.join("manifest.json")))
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and the test venv; run scripts/test.sh"]
fn batch_sizes_and_sessions_are_recorded_and_change_no_result() {
    let tmp = tempfile::tempdir().unwrap();
    let g = quickstart_vector_grid(tmp.path());
    let (fixed, m8) = run(tmp.path(), &g, "fixed", &["--batch-size", "8"]);
    let (budget, mt) = run(tmp.path(), &g, "default", &[]);
    let (auto, ma) = run(
        tmp.path(),
        &g,
        "auto",
        &["--batch-size", "auto", "--sessions", "1"],
    );
    assert_eq!(
        m8["sessions"], 2,
        "one session per thread on CPU by default"
    );
    assert_eq!(ma["sessions"], 1);
    let sizes = |m: &serde_json::Value| -> Vec<Option<u64>> {
        m["embeddings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["batch_size"].as_u64())
            .collect()
    };
    assert!(sizes(&m8).iter().all(|s| *s == Some(8)), "{:?}", sizes(&m8));
    // The CPU default: 256 padded tokens per call, so no one number of texts.
    for e in mt["embeddings"].as_array().unwrap() {
        assert_eq!(e["batch_tokens"], 256, "{e}");
        assert!(e.get("batch_size").is_none(), "{e}");
    }
    assert!(m8["embeddings"][0].get("batch_tokens").is_none());
    // The 75 questions are enough to try sizes on; the size found is one of those tried.
    let questions = entry(&ma["embeddings"], "what", "questions");
    let size = questions["batch_size"]
        .as_u64()
        .expect("auto recorded its size");
    assert!(
        ragtune_embed::AUTO_CANDIDATES.contains(&(size as usize)),
        "{size}"
    );
    // Batching moves vectors in their last bits at most: the same recall (within one
    // question of the 75 should a near tie flip).
    for other in [auto, budget] {
        assert!(
            (fixed - other).abs() <= 1.0 / 75.0 + 1e-9,
            "recall@5 {fixed} vs {other}"
        );
    }
}
