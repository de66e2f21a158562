//! Quantised vectors on the real binary, ONNX Runtime, indexes and server: int8 and binary
//! vectors, exact and HNSW, with and without rescoring, serve exactly the rankings the
//! sweep scored, hold the vector bytes their format says, and export float32 vectors.

use std::collections::HashMap;

use serde_json::Value;

use crate::serve::{Server, assert_serves_rankings};
use crate::util::*;

const TABLES: &str = r#"
[grid]
chunker = ["markdown"]
chunk_size = [200]
retriever = ["vector", "hybrid"]
model = ["all-minilm-l6-v2"]
index = ["exact", "hnsw"]
hnsw_ef_search = [16]
vectors = ["f32", "int8", "binary"]
rescore = [0, 4]
top_k = [1, 5]
[retrieval]
depth = 10
[select]
objective = "span_recall@5"
"#;

/// `(vectors, index, rescore, retriever)` of a point.
fn shape(p: &Value) -> (String, String, u64, String) {
    let s = &p["point"];
    (
        s["vectors"].as_str().unwrap_or("f32").to_string(),
        s["index"].as_str().unwrap().to_string(),
        s["rescore"].as_u64().unwrap_or(0),
        s["retriever"].as_str().unwrap().to_string(),
    )
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn quantised_setups_serve_what_was_evaluated_and_hold_less() {
    let tmp = tempfile::tempdir().unwrap();
    let g = quickstart_grid(tmp.path(), "q.toml", "qs-quantised", TABLES);
    let (run, cache) = (tmp.path().join("run"), tmp.path().join("cache"));
    sweep_ok(tmp.path(), &g, &run, &cache);
    let points = read_points(&run);
    // 2 retrievers × 2 indexes × (f32 + 2 formats × 2 multipliers).
    assert_eq!(points.len(), 20);
    let costs: HashMap<(String, String, u64, String), Value> = points
        .iter()
        .map(|p| (shape(p), p["rows"][0].clone()))
        .collect();
    let vector_bytes = |f: &str, i: &str| {
        costs[&(f.into(), i.into(), 0, "vector".into())]["vector_bytes"]
            .as_u64()
            .unwrap()
    };
    let (f32b, int8b, binb) = (
        vector_bytes("f32", "exact"),
        vector_bytes("int8", "exact"),
        vector_bytes("binary", "exact"),
    );
    let dim = 384;
    let n = f32b / (4 * dim);
    assert_eq!(f32b, n * dim * 4);
    assert_eq!(int8b, n * dim + 8 * dim, "codes and the calibration");
    assert_eq!(binb, n * dim / 8, "one bit per dimension");
    for f in ["f32", "int8", "binary"] {
        assert_eq!(vector_bytes(f, "hnsw"), vector_bytes(f, "exact"), "{f}");
        let c = &costs[&(f.into(), "hnsw".into(), 0, "vector".into())];
        let (graph, index) = (
            c["graph_bytes"].as_u64().unwrap(),
            c["index_bytes"].as_u64().unwrap(),
        );
        assert!(
            graph > 0 && index == graph + vector_bytes(f, "hnsw"),
            "{f}: {c}"
        );
        let e = &costs[&(f.into(), "exact".into(), 0, "vector".into())];
        assert_eq!(e["graph_bytes"], 0);
    }
    // Quantised setups report recall against exact float32 search; float32 exact does not.
    for p in &points {
        let (f, i, _, _) = shape(p);
        let recall = &p["rows"][0]["hnsw_recall_vs_exact"];
        assert_eq!(
            recall.is_null(),
            f == "f32" && i == "exact",
            "{f} {i}: {recall}"
        );
    }
    for p in points
        .iter()
        .filter(|p| shape(p).0 != "f32" || shape(p).1 == "hnsw")
    {
        let id = p["config_id"].as_str().unwrap();
        let server = Server::start(&run, id, &cache);
        assert_serves_rankings(&server, &run, id);
        server.stop();
    }
    // A quantised setup exports the float32 vectors, read back from the store.
    let binary = (points.iter())
        .find(|p| shape(p) == ("binary".into(), "exact".into(), 4, "vector".into()))
        .unwrap();
    let out = tmp.path().join("export");
    ragtune_ok(
        tmp.path(),
        &[
            "export",
            "index",
            run.to_str().unwrap(),
            "--config",
            binary["config_id"].as_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(out.join("chunks.parquet").is_file());
    // A rerun reads every ranking back: rescoring and quantising embed nothing.
    let again = sweep_ok(tmp.path(), &g, &tmp.path().join("run2"), &cache);
    let m = read_json(&tmp.path().join("run2/manifest.json"));
    let misses: u64 = (m["embeddings"].as_array().unwrap().iter())
        .map(|e| e["cache_misses"].as_u64().unwrap())
        .sum();
    assert_eq!(misses, 0, "{}", again.stderr);
}
