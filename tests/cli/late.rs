//! Late chunking with the real model, index and binary on the bundled quickstart corpus:
//! small windows (64 tokens) so that every document runs in several; each document runs
//! once for all three chunkings; the tables carry the `embedding` column; the stored
//! vectors serve a query; a rerun reads everything back.

use crate::util::{
    chroma_grid, python_inline_ok, python_ok, quickstart_grid, ragtune_ok, read_json, sweep_ok,
};

/// The grid's tables, after the quickstart corpus.
const TABLES: &str = r#"
[grid]
chunker = ["chars"]
chunk_size = [150, 300, 600]
retriever = ["vector", "hybrid"]
model = ["all-minilm-l6-v2"]
embedding = ["standalone", "late"]
top_k = [1, 3, 5]
[retrieval]
late_window = 64
late_overlap = 16
[select]
objective = "span_recall@3"
"#;

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and the test venv; run scripts/test.sh"]
fn late_chunking_runs_each_document_once_and_serves_its_vectors() {
    let tmp = tempfile::tempdir().unwrap();
    let g = quickstart_grid(tmp.path(), "late.toml", "late", TABLES);
    let (run, cache) = (tmp.path().join("run"), tmp.path().join("cache"));
    sweep_ok(tmp.path(), &g, &run, &cache);
    assert_each_document_ran_once(&run);
    python_ok(
        "check_results.py",
        &[
            run.to_str().unwrap(),
            "--expect-retrievers",
            "hybrid,vector",
        ],
    );
    // Both embeddings are in the tables, and they rank differently.
    python_inline_ok(
        r#"
import sys, polars as pl
r = pl.read_parquet(sys.argv[1] + "/results.parquet")
assert sorted(r["embedding"].unique().to_list()) == ["late", "standalone"], r["embedding"].unique()
k = r.filter((pl.col("retriever") == "vector") & (pl.col("top_k") == 3))
wide = k.pivot(on="embedding", index="chunk_size", values="mrr")
assert wide.height == 3 and (wide["late"] != wide["standalone"]).any(), wide
"#,
        &[run.to_str().unwrap()],
    );
    a_late_setup_answers_a_query(tmp.path(), &run, &cache);
    // A rerun into a new folder reads every vector back: nothing is embedded.
    let again = tmp.path().join("again");
    sweep_ok(tmp.path(), &g, &again, &cache);
    let m2 = read_json(&again.join("manifest.json"));
    let embedded: u64 = m2["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["embedded_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(embedded, 0);
}

/// The manifest's late requests: one window per call, and each document run once for
/// the three chunkings (the first embeds, the others read its token vectors back).
fn assert_each_document_ran_once(run: &std::path::Path) {
    let m = read_json(&run.join("manifest.json"));
    let late: Vec<&serde_json::Value> = m["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"].as_str().unwrap().ends_with(" late"))
        .collect();
    assert_eq!(late.len(), 3, "{late:?}");
    assert!(
        late.iter().all(|e| e["batch_size"] == 1),
        "late chunking runs one window per call: {late:?}"
    );
    let docs = m["n_documents"].as_u64().unwrap();
    let misses: u64 = late
        .iter()
        .map(|e| e["cache_misses"].as_u64().unwrap())
        .sum();
    assert_eq!(
        misses, docs,
        "each document runs once for the three chunkings"
    );
    let tokens: Vec<u64> = late
        .iter()
        .map(|e| e["embedded_tokens"].as_u64().unwrap())
        .collect();
    assert!(
        tokens[0] > 0 && tokens[1..].iter().all(|&t| t == 0),
        "{tokens:?}"
    );
}

/// A late vector setup of the run answers a query from its stored vectors.
fn a_late_setup_answers_a_query(
    dir: &std::path::Path,
    run: &std::path::Path,
    cache: &std::path::Path,
) {
    let id = std::fs::read_dir(run.join("points"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find_map(|p| {
            let v = read_json(&p);
            let label = v["label"].as_str().unwrap();
            (label.starts_with("chars/300/0 vector") && label.ends_with(" late"))
                .then(|| v["config_id"].as_str().unwrap().to_string())
        })
        .expect("a late vector setup");
    let r = ragtune_ok(
        dir,
        &[
            "query",
            "--run",
            run.to_str().unwrap(),
            "--config",
            &id,
            "--cache-dir",
            cache.to_str().unwrap(),
            "--json",
            "which flood zones are excluded",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(!v["results"].as_array().unwrap().is_empty(), "{}", r.stdout);
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and ../shared/datasets; run scripts/test.sh"]
fn a_window_past_the_models_positions_is_refused_before_any_work() {
    // The bundled model.toml declares 512 positions: a window of 1024 is refused when the
    // plan is made, at its line, before ONNX Runtime loads (it used to fail mid-run).
    let tmp = tempfile::tempdir().unwrap();
    let tables = r#"
[grid]
chunker = ["tokens"]
chunk_size = [200]
retriever = ["vector"]
model = ["all-minilm-l6-v2"]
embedding = ["late"]
top_k = [5]
[retrieval]
late_window = 1024
[select]
objective = "recall@5"
"#;
    let include = &["state_of_the_union"];
    let g = chroma_grid(tmp.path(), "late.toml", "late-too-wide", include, tables);
    let r = crate::util::ragtune(
        tmp.path(),
        &[
            "sweep",
            g.to_str().unwrap(),
            "--out",
            "run",
            "--cache-dir",
            "cache",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("late.toml:14:1: `late_window`: a late-chunking window of 1024 tokens is more than model \"all-minilm-l6-v2\" takes (512 positions"),
        "{}",
        r.stderr
    );
    assert!(
        !tmp.path().join("cache/vectors").exists(),
        "nothing was embedded"
    );
}
