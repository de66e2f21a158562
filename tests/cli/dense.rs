//! Dense and hybrid retrieval with the real model, and the embedding cache.

use crate::util::*;

fn dense_grid(dir: &std::path::Path) -> std::path::PathBuf {
    let tables = r#"
[grid]
chunker = ["tokens"]
chunk_size = [200]
chunk_overlap = [0, 100]
retriever = ["bm25", "vector", "hybrid"]
model = ["all-minilm-l6-v2"]
index = ["exact", "hnsw"]
hnsw_ef_search = [16, 64]
fusion = ["rrf", "weighted"]
alpha = [0.5]
normalization = ["minmax", "zscore"]
top_k = [1, 5, 10]
[retrieval]
depth = 30
[select]
objective = "span_recall@5"
"#;
    chroma_grid(dir, "dense.toml", "chroma-dense", &["chatlogs"], tables)
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn chroma_dense_and_hybrid_sweep_then_all_cache_hits() {
    let tmp = tempfile::tempdir().unwrap();
    let g = dense_grid(tmp.path());
    let cache = tmp.path().join("cache");
    let run1 = tmp.path().join("run1");
    let args = |out: &std::path::Path| {
        vec![
            "sweep".to_string(),
            g.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--cache-dir".into(),
            cache.display().to_string(),
        ]
    };
    let a1 = args(&run1);
    ragtune_ok(
        tmp.path(),
        &a1.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    python_ok(
        "check_results.py",
        &[
            run1.to_str().unwrap(),
            "--expect-retrievers",
            "bm25,hybrid,vector",
        ],
    );
    let m1 = read_json(&run1.join("manifest.json"));
    assert!(m1["cache_misses"].as_u64().unwrap() > 0);
    assert_eq!(m1["execution_provider"], "CPUExecutionProvider");
    assert_eq!(m1["models"][0]["dim"], 384);

    // Vector and hybrid rows carry span_recall@5, and HNSW rows report recall vs exact.
    let check = r#"
import sys, polars as pl
df = pl.read_parquet(sys.argv[1] + "/results.parquet")
at5 = df.filter(pl.col("top_k") == 5)
for r in ["vector", "hybrid"]:
    s = at5.filter(pl.col("retriever") == r)["span_recall"]
    assert s.len() > 0 and s.null_count() == 0, r
h = df.filter(pl.col("index") == "hnsw")["hnsw_recall_vs_exact"]
assert h.len() > 0 and h.null_count() == 0 and h.min() >= 0.9, h.min()
assert df.filter(pl.col("index") == "exact")["hnsw_recall_vs_exact"].null_count() == df.filter(pl.col("index") == "exact").height
# points: per chunking 1 bm25 + 3 vector (exact, hnsw16, hnsw64) + 3 × (rrf + 2 weighted) hybrid = 13
assert df["config_id"].n_unique() == 2 * 13, df["config_id"].n_unique()
print("ok")
"#;
    python_inline_ok(check, &[run1.to_str().unwrap()]);

    // A second identical run embeds nothing.
    let run2 = tmp.path().join("run2");
    let a2 = args(&run2);
    ragtune_ok(
        tmp.path(),
        &a2.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let m2 = read_json(&run2.join("manifest.json"));
    assert_eq!(m2["cache_misses"], 0, "second run must embed nothing");
    // Every ranking is read back from the stage store, so nothing is embedded, indexed
    // or even read from the embedding table.
    let stages = m2["stages"].as_array().unwrap();
    for s in stages {
        if ["chunks", "bm25", "vectors", "hnsw", "rankings"].contains(&s["kind"].as_str().unwrap())
        {
            assert_eq!(s["computed"], 0, "{s}");
        }
    }
    let rankings = stages.iter().find(|s| s["kind"] == "rankings").unwrap();
    assert_eq!(rankings["reused"], rankings["nodes"]);
    assert!(rankings["reused"].as_u64().unwrap() > 0);
    assert_eq!(m1["corpus_fingerprint"], m2["corpus_fingerprint"]);
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn whole_document_mode_truncates_and_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let g = grid(
        tmp.path(),
        "none.toml",
        &format!(
            r#"
name = "squad-whole"
[corpus]
format = "squad"
path = "{}"
include = ["Normans", "Southern_California", "Warsaw"]
[grid]
chunker = ["none"]
retriever = ["bm25", "vector"]
model = ["paraphrase-minilm-l3-v2"]
top_k = [1, 3]
[select]
objective = "recall@1"
"#,
            datasets().join("squad-v1.1-dev/dev-v1.1.json").display()
        ),
    );
    let run = tmp.path().join("run");
    sweep_ok(tmp.path(), &g, &run, &tmp.path().join("c"));
    python_ok(
        "check_results.py",
        &[run.to_str().unwrap(), "--expect-retrievers", "bm25,vector"],
    );
    let m = read_json(&run.join("manifest.json"));
    // The embedding record for whole documents.
    let docs = entry(&m["embeddings"], "what", "none");
    // Every article is far longer than the model's 128 tokens.
    assert_eq!(docs["texts"], 3);
    assert_eq!(docs["truncated"], 3);
    assert!(m["truncated"].as_u64().unwrap() >= 3);
    // One chunk per document: recall@3 is 1 for every question, for both retrievers.
    let check = r#"
import sys, polars as pl
df = pl.read_parquet(sys.argv[1] + "/results.parquet")
assert (df["n_chunks"] == 3).all()
assert (df.filter(pl.col("top_k") == 3)["recall"] == 1.0).all()
assert df["chunk_size"].null_count() == df.height
"#;
    python_inline_ok(check, &[run.to_str().unwrap()]);
}
