//! Chunk context on the real binary, ONNX Runtime and server: heading-path headers on the
//! quickstart's markdown, neighbours, and all-MiniLM-L6 given e5's prefixes through its
//! model.toml. Every setup serves the rankings the sweep scored, each hit's passage holds
//! its neighbours, and a path header changes what is embedded.

use crate::serve::{Server, assert_serves_rankings};
use crate::util::*;

/// all-MiniLM-L6's files under another name, with e5's prefixes declared.
fn prefixed_model(dir: &std::path::Path) -> std::path::PathBuf {
    let m = dir.join("minilm-e5");
    std::fs::create_dir_all(&m).unwrap();
    let src = root().join("models/all-minilm-l6-v2");
    for f in ["model.onnx", "tokenizer.json"] {
        std::os::unix::fs::symlink(src.join(f), m.join(f)).unwrap();
    }
    let toml = std::fs::read_to_string(src.join("model.toml")).unwrap();
    let toml = toml.replace("name = \"all-minilm-l6-v2\"", "name = \"minilm-e5\"");
    std::fs::write(
        m.join("model.toml"),
        format!("{toml}query_prefix = \"query: \"\npassage_prefix = \"passage: \"\n"),
    )
    .unwrap();
    m
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn headers_neighbours_and_prefixes_serve_what_was_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let model = prefixed_model(tmp.path());
    let tables = format!(
        r#"
[grid]
chunker = ["markdown"]
chunk_size = [200]
chunk_header = ["none", "path"]
retriever = ["bm25", "vector"]
model = ["all-minilm-l6-v2", "{}"]
expand = [0, 1]
top_k = [1, 5]
[retrieval]
depth = 10
[select]
objective = "span_recall@5"
"#,
        model.display()
    );
    let g = quickstart_grid(tmp.path(), "c.toml", "qs-context", &tables);
    let (run, cache) = (tmp.path().join("run"), tmp.path().join("cache"));
    sweep_ok(tmp.path(), &g, &run, &cache);
    let points = read_points(&run);
    // 2 headers × (bm25 + 2 models) × 2 expands.
    assert_eq!(points.len(), 12);
    // A path header changes what BM25 indexes: its rankings differ from no header's.
    let ranked = |header: &str, retriever: &str| {
        let p = points.iter().find(|p| {
            let s = &p["point"];
            s["retriever"] == retriever
                && s["chunk"]["header"].as_str().unwrap_or("none") == header
                && s["expand"].is_null()
                && s["model"].as_str().is_none_or(|m| m == "all-minilm-l6-v2")
        });
        read_json(&run.join("rankings").join(format!(
            "{}.json",
            p.unwrap()["config_id"].as_str().unwrap()
        )))
    };
    assert_ne!(
        ranked("none", "bm25")["questions"],
        ranked("path", "bm25")["questions"]
    );
    assert_ne!(
        ranked("none", "vector")["questions"],
        ranked("path", "vector")["questions"]
    );
    for p in &points {
        let id = p["config_id"].as_str().unwrap();
        let expand = p["point"]["expand"].as_u64().unwrap_or(0);
        let server = Server::start(&run, id, &cache);
        for resp in assert_serves_rankings(&server, &run, id) {
            let hits = resp["results"].as_array().unwrap();
            for h in hits {
                let passage = &h["passage"];
                assert_eq!(passage.is_null(), expand == 0, "{}", p["label"]);
                if expand > 0 {
                    let chunks = passage["chunks"].as_array().unwrap();
                    assert!(chunks.contains(&h["chunk"]) && chunks.len() <= 3);
                    assert!(passage["start"].as_u64() <= h["start"].as_u64());
                    assert!(passage["end"].as_u64() >= h["end"].as_u64());
                }
            }
            assert_eq!(resp["context"].is_null(), expand == 0);
        }
        server.stop();
    }
    // The export carries the text as it was indexed: the heading path, then the chunk.
    let path_bm25 = points.iter().find(|p| {
        p["point"]["retriever"] == "bm25"
            && p["point"]["chunk"]["header"] == "path"
            && p["point"]["expand"].is_null()
    });
    let out = tmp.path().join("export");
    let id = path_bm25.unwrap()["config_id"].as_str().unwrap();
    let args = ["export", "index", run.to_str().unwrap(), "--config", id];
    let mut args: Vec<&str> = args.to_vec();
    args.extend([
        "--out",
        out.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ]);
    ragtune_ok(tmp.path(), &args);
    let check = r#"
import sys, polars as pl
df = pl.read_parquet(sys.argv[1] + "/chunks.parquet")
headed = [r for r in df.iter_rows(named=True) if r["indexed_text"] != r["text"]]
assert len(headed) > len(df) // 2, (len(headed), len(df))
for r in headed:
    head, rest = r["indexed_text"].split("\n", 1)
    assert rest == r["text"] and head.strip(), r
assert any(" > " in r["indexed_text"].split("\n", 1)[0] for r in headed), "a nested heading path"
"#;
    python_inline_ok(check, &[out.to_str().unwrap()]);
}
