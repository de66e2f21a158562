//! Micro-batching and the query-vector cache change no answer: 200 queries the run never
//! saw, sent alone to a server that embeds each query by itself, and sent in concurrent
//! waves of 2 to 16 to a server that batches them, get the same ranked chunks and scores;
//! sent again, they come from the cache with the same answers. A model whose vectors
//! depend on their batch-mates (the int8 one) is served unbatched, and says so.

use std::path::Path;
use std::sync::{Arc, Barrier};

use serde_json::{Value, json};

use crate::serve::{Server, get, post, quickstart_run};
use crate::util::*;

/// 200 SQuAD dev questions (no quickstart question is among them).
fn unseen_queries() -> Vec<String> {
    let d = read_json(&datasets().join("squad-v1.1-dev/dev-v1.1.json"));
    let all: Vec<String> = (d["data"].as_array().unwrap().iter())
        .flat_map(|a| a["paragraphs"].as_array().unwrap().iter())
        .flat_map(|p| p["qas"].as_array().unwrap().iter())
        .map(|q| q["question"].as_str().unwrap().to_string())
        .collect();
    all[5000..5200].to_vec()
}

fn search(base: &str, q: &str) -> Value {
    let (status, resp) = post(base, &json!({"query": q, "k": 10}).to_string());
    assert_eq!(status, 200, "{resp}");
    resp
}

/// Each query's answer, sent one at a time.
fn alone(base: &str, queries: &[String]) -> Vec<Value> {
    queries.iter().map(|q| search(base, q)).collect()
}

/// Each query's answer, sent in waves of 2, 3, …, 16 concurrent requests (then again from
/// 2) that leave together from a barrier.
fn in_waves(base: &str, queries: &[String]) -> Vec<Value> {
    let mut out = Vec::with_capacity(queries.len());
    let (mut at, mut size) = (0, 2);
    while at < queries.len() {
        let wave = &queries[at..(at + size).min(queries.len())];
        let barrier = Arc::new(Barrier::new(wave.len()));
        let handles: Vec<_> = (wave.iter().cloned())
            .map(|q| {
                let (base, barrier) = (base.to_string(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    search(&base, &q)
                })
            })
            .collect();
        out.extend(handles.into_iter().map(|h| h.join().unwrap()));
        at += wave.len();
        size = if size == 16 { 2 } else { size + 1 };
    }
    out
}

/// The value of an unlabelled Prometheus sample.
fn metric(base: &str, name: &str) -> f64 {
    let (status, text) = get(base, "/metrics");
    assert_eq!(status, 200);
    (text.lines())
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .parse()
        .unwrap()
}

fn assert_same(a: &[Value], b: &[Value], what: &str) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(
            x, y,
            "query {i}: {what} answers differ from those embedded alone"
        );
    }
    assert_eq!(a.len(), b.len());
}

/// The config id of the run's point with `retriever` and `index`.
fn point(run: &Path, retriever: &str, index: &str) -> String {
    (std::fs::read_dir(run.join("points")).unwrap())
        .map(|e| read_json(&e.unwrap().path()))
        .find(|p| p["point"]["retriever"] == retriever && p["point"]["index"] == index)
        .map(|p| p["config_id"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no {retriever} {index} point in {}", run.display()))
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and ../shared/datasets; run scripts/test.sh"]
fn batched_and_cached_queries_answer_as_queries_embedded_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, cache) = quickstart_run(tmp.path());
    let queries = unseen_queries();
    let id = point(&run, "hybrid", "hnsw");
    let plain = ["--max-batch", "1", "--query-cache", "0"];
    let (server, _) = Server::start_with(&run, &id, &cache, &plain);
    let expected = alone(&server.base, &queries);
    assert_eq!(metric(&server.base, "ragtune_query_cache_hits_total"), 0.0);
    server.stop();

    let batched = ["--batch-wait-ms", "20", "--max-batch", "16"];
    let (server, before) = Server::start_with(&run, &id, &cache, &batched);
    assert!(
        !before.iter().any(|l| l.contains("micro-batching is off")),
        "{before:?}"
    );
    let got = in_waves(&server.base, &queries);
    assert_same(&expected, &got, "batched");
    // The waves were batched: fewer requests to the model than queries.
    let calls = metric(&server.base, "ragtune_query_batch_size_count");
    let embedded = metric(&server.base, "ragtune_query_batch_size_sum");
    assert_eq!(embedded, 200.0);
    assert!(
        calls < 150.0,
        "{calls} requests to the model for 200 queries"
    );
    // Again: every vector from the cache, the same answers, nothing embedded.
    let again = in_waves(&server.base, &queries);
    assert_same(&expected, &again, "cached");
    assert_eq!(
        metric(&server.base, "ragtune_query_cache_hits_total"),
        200.0
    );
    assert_eq!(metric(&server.base, "ragtune_query_batch_size_sum"), 200.0);
    server.stop();
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and ../shared/datasets; run scripts/test.sh"]
fn a_model_whose_vectors_depend_on_batch_mates_is_served_unbatched() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = r#"
[grid]
chunker = ["markdown"]
chunk_size = [300]
retriever = ["vector"]
model = ["all-minilm-l6-v2-q8"]
top_k = [5]
[select]
objective = "recall@5"
"#;
    let g = quickstart_grid(tmp.path(), "q8.toml", "q8-serve", tables);
    let (run, cache) = (tmp.path().join("run"), tmp.path().join("cache"));
    sweep_ok(tmp.path(), &g, &run, &cache);
    let id = point(&run, "vector", "exact");
    let queries = &unseen_queries()[..60];
    let plain = ["--max-batch", "1", "--query-cache", "0"];
    let (server, _) = Server::start_with(&run, &id, &cache, &plain);
    let expected = alone(&server.base, queries);
    server.stop();
    let (server, before) = Server::start_with(&run, &id, &cache, &["--query-cache", "0"]);
    assert!(
        before
            .iter()
            .any(|l| l.contains("micro-batching is off") && l.contains("all-minilm-l6-v2-q8")),
        "the server must say why it does not batch: {before:?}"
    );
    assert_same(&expected, &in_waves(&server.base, queries), "concurrent");
    let calls = metric(&server.base, "ragtune_query_batch_size_count");
    assert_eq!(calls, 60.0, "one request to the model per query");
    server.stop();
}
