//! The sweep spine: BM25 sweeps on the bundled corpus and on Chroma's data.

use crate::util::*;

#[test]
fn quickstart_bm25_sweep_writes_valid_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let qs = root().join("corpora/quickstart");
    let g = grid(
        tmp.path(),
        "qs.toml",
        &format!(
            r#"
name = "qs-bm25"
[corpus]
format = "dir"
path = "{}"
questions = "{}"
[grid]
chunker = ["chars", "markdown", "tokens"]
chunk_size = [120, 400]
chunk_overlap = [0, 30]
retriever = ["bm25"]
top_k = [1, 2, 5, 10]
[select]
objective = "span_recall@5"
"#,
            qs.join("docs").display(),
            qs.join("questions.jsonl").display()
        ),
    );
    let out = tmp.path().join("run");
    let r = ragtune_ok(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    // The top table goes to stdout, progress and notes to stderr.
    assert!(
        r.stdout.lines().next().unwrap().contains("span_recall@5"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.lines().count() >= 2);
    let summary = python_ok(
        "check_results.py",
        &[out.to_str().unwrap(), "--expect-retrievers", "bm25"],
    );
    assert!(summary.contains("\"configs\": 12"), "{summary}");
    let best = std::fs::read_to_string(out.join("best.toml")).unwrap();
    assert!(
        best.contains("objective = \"span_recall@5\"") && best.contains("[point.chunk]"),
        "{best}"
    );
    let m = read_json(&out.join("manifest.json"));
    assert_eq!(m["n_documents"], 25);
    assert_eq!(m["n_questions"], 75);
    assert!(m["grid_text"].as_str().unwrap().contains("qs-bm25"));
    assert!(m["git_commit"].as_str().unwrap().len() >= 7);
    // Each point was recorded on its own as it finished.
    assert_eq!(std::fs::read_dir(out.join("points")).unwrap().count(), 12);
}

#[test]
fn chroma_bm25_sweep_on_two_corpora() {
    let tmp = tempfile::tempdir().unwrap();
    let g = grid(
        tmp.path(),
        "chroma.toml",
        &format!(
            r#"
name = "chroma-subset"
[corpus]
format = "chroma"
path = "{}"
include = ["chatlogs", "state_of_the_union"]
[grid]
chunker = ["chars", "tokens"]
chunk_size = [200, 800]
chunk_overlap = [0, "50%"]
retriever = ["bm25"]
top_k = [1, 3, 5, 10]
[select]
objective = "recall@5"
"#,
            datasets().join("chroma-chunking").display()
        ),
    );
    let out = tmp.path().join("run");
    ragtune_ok(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    python_ok(
        "check_results.py",
        &[out.to_str().unwrap(), "--expect-retrievers", "bm25"],
    );
    let m = read_json(&out.join("manifest.json"));
    assert_eq!(m["n_documents"], 2);
    // 56 chatlogs + 76 state_of_the_union questions, per SOURCE.md.
    assert_eq!(m["n_questions"], 132);
}
