//! Cross-encoder reranking on the real binary, ONNX Runtime and server: a small ONNX
//! cross-encoder built by tests/cli/cross_encoder.py scores each pair by a known function,
//! and ragtune's served order must be that function's; rerankers naming the wrong kind of
//! model are refused.

use serde_json::{Value, json};

use crate::serve::{Server, post, quickstart_questions};
use crate::util::*;

/// The test cross-encoder, built in `dir/ce`, and the tokenizer it shares with MiniLM.
fn cross_encoder(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ce = dir.join("ce");
    let tokenizer = root().join("models/all-minilm-l6-v2/tokenizer.json");
    python_ok(
        "cross_encoder.py",
        &["make", ce.to_str().unwrap(), tokenizer.to_str().unwrap()],
    );
    (ce, tokenizer)
}

const TABLES: &str = r#"
[grid]
chunker = ["markdown"]
chunk_size = [200]
retriever = ["bm25", "hybrid"]
model = ["all-minilm-l6-v2"]
rerank = ["cross:CE"]
rerank_depth = [10]
top_k = [1, 5]
[select]
objective = "span_recall@1"
"#;

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn a_cross_encoder_reranks_by_its_scores_and_serves_what_was_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let (ce, tokenizer) = cross_encoder(tmp.path());
    let tables = TABLES.replace("CE", ce.to_str().unwrap());
    let g = quickstart_grid(tmp.path(), "ce.toml", "qs-cross", &tables);
    let (run, cache) = (tmp.path().join("run"), tmp.path().join("cache"));
    sweep_ok(tmp.path(), &g, &run, &cache);
    let manifest = read_json(&run.join("manifest.json"));
    assert!(
        manifest["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "cross-encoder"),
        "the manifest records the cross-encoder"
    );
    let questions = quickstart_questions();
    let mut answers = Vec::new();
    for p in std::fs::read_dir(run.join("points")).unwrap() {
        let id = p
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let ranked = read_json(&run.join("rankings").join(format!("{id}.json")));
        let server = Server::start(&run, &id, &cache);
        for (i, (_, text, _)) in questions.iter().enumerate() {
            let (status, resp) = post(&server.base, &json!({"query": text, "k": 10}).to_string());
            assert_eq!(status, 200, "{resp}");
            let hits = resp["results"].as_array().unwrap();
            let chunks: Vec<&Value> = hits.iter().map(|h| &h["chunk"]).collect();
            let want: Vec<&Value> = ranked["questions"][i]["chunks"]
                .as_array()
                .unwrap()
                .iter()
                .collect();
            assert_eq!(
                chunks, want,
                "config {id}: served order differs from the evaluated one"
            );
            let hits: Vec<Value> = hits
                .iter()
                .map(|h| json!({"chunk": h["chunk"], "text": h["text"], "score": h["score"]}))
                .collect();
            answers.push(json!({"query": text, "hits": hits}));
        }
        server.stop();
    }
    // Served texts are the chunks' own texts: the pairs the cross-encoder scored.
    let file = tmp.path().join("answers.json");
    std::fs::write(&file, serde_json::to_vec(&answers).unwrap()).unwrap();
    let out = python_ok(
        "cross_encoder.py",
        &[
            "check",
            file.to_str().unwrap(),
            tokenizer.to_str().unwrap(),
            "512",
        ],
    );
    // 75 questions × 2 setups × up to 10 hits (BM25 can find fewer than 10 chunks).
    let pairs: usize = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        pairs > 1400 && out.contains("pairs score as the function says"),
        "{out}"
    );
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn rerankers_naming_the_wrong_kind_of_model_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (ce, _) = cross_encoder(tmp.path());
    let ce = ce.to_str().unwrap();
    for (from, to, want) in [
        (
            "cross:CE",
            "cross:all-minilm-l6-v2".to_string(),
            "`all-minilm-l6-v2` is not a cross-encoder",
        ),
        (
            "cross:CE",
            format!("embed:{ce}"),
            "is a cross-encoder (its model.toml says kind",
        ),
        (
            "model = [\"all-minilm-l6-v2\"]",
            format!("model = [\"{ce}\"]"),
            "is a cross-encoder: it scores (query, text) pairs and cannot retrieve",
        ),
    ] {
        let tables = TABLES.replace(from, &to).replace("CE", ce);
        let g = quickstart_grid(tmp.path(), "bad.toml", "bad", &tables);
        let args = sweep_args(&g, &tmp.path().join("run"), &tmp.path().join("cache"));
        let r = ragtune(
            tmp.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(r.code, 2, "{to}: {}", r.stderr);
        assert!(
            r.stderr.contains(want) && r.stderr.contains("bad.toml:"),
            "{to}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}
