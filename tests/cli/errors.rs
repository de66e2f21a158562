//! User mistakes get one clear line on stderr, exit code 2, no panic, and no results.

use crate::util::*;

const GRID: &str = r#"name = "bad"
[corpus]
format = "dir"
path = "docs"
questions = "q.jsonl"
[grid]
chunker = ["chars"]
chunk_size = [100]
chunk_overlap = [0]
retriever = ["bm25"]
top_k = [1, 5]
[select]
objective = "recall@5"
"#;

fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("docs")).unwrap();
    std::fs::write(tmp.path().join("docs/a.txt"), "alpha beta gamma").unwrap();
    std::fs::write(
        tmp.path().join("q.jsonl"),
        "{\"id\":\"q1\",\"question\":\"beta?\",\"spans\":[{\"doc_id\":\"a.txt\",\"start\":6,\"end\":10,\"text\":\"beta\"}]}\n",
    )
    .unwrap();
    tmp
}

/// Run a sweep of `text`, expecting a user error whose single line contains `want`.
fn expect_error(text: &str, want: &str) {
    let tmp = setup();
    let g = grid(tmp.path(), "g.toml", text);
    let out = tmp.path().join("run");
    let r = ragtune(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    assert_eq!(
        r.code, 2,
        "expected exit 2 for {want:?}; stderr: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(want),
        "stderr lacks {want:?}:\n{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("backtrace"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr
            .trim()
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{}",
        r.stderr
    );
    assert!(!out.join("results.parquet").exists(), "no results on error");
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn the_valid_grid_runs() {
    let tmp = setup();
    let g = grid(tmp.path(), "g.toml", GRID);
    ragtune_ok(
        tmp.path(),
        &[
            "sweep",
            g.to_str().unwrap(),
            "--out",
            tmp.path().join("run").to_str().unwrap(),
        ],
    );
}

#[test]
fn unknown_key_names_file_line_and_column() {
    expect_error(
        &GRID.replace("top_k = [1, 5]", "top_k = [1, 5]\ntop-k = [3]"),
        "g.toml:12:1: unknown field `top-k`",
    );
}

#[test]
fn toml_syntax_error() {
    expect_error(
        &GRID.replace("chunk_size = [100]", "chunk_size = [100"),
        "g.toml:9:1: missing comma between array elements",
    );
}

#[test]
fn overlap_not_smaller_than_size() {
    expect_error(
        &GRID.replace("chunk_overlap = [0]", "chunk_overlap = [0, 100]"),
        "g.toml:9:17: `chunk_overlap`: overlap 100 is not smaller than chunk size 100",
    );
}

#[test]
fn k_below_one_and_empty_lists() {
    expect_error(
        &GRID.replace("top_k = [1, 5]", "top_k = [0, 5]"),
        "`top_k`: k must be at least 1",
    );
    expect_error(
        &GRID.replace("retriever = [\"bm25\"]", "retriever = []"),
        "g.toml:10:13: `retriever`: the list is empty",
    );
}

#[test]
fn wrong_value_type() {
    expect_error(
        &GRID.replace("chunk_size = [100]", "chunk_size = [\"big\"]"),
        "g.toml:8:",
    );
}

#[test]
fn missing_grid_file() {
    let tmp = setup();
    let r = ragtune(tmp.path(), &["sweep", "nope.toml"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("nope.toml") && r.stderr.contains("No such file"),
        "{}",
        r.stderr
    );
}

#[test]
fn label_mismatch_lists_the_question() {
    let tmp = setup();
    std::fs::write(
        tmp.path().join("q.jsonl"),
        "{\"id\":\"q1\",\"question\":\"beta?\",\"spans\":[{\"doc_id\":\"a.txt\",\"start\":5,\"end\":10,\"text\":\"beta\"}]}\n",
    )
    .unwrap();
    let g = grid(tmp.path(), "g.toml", GRID);
    let r = ragtune(
        tmp.path(),
        &[
            "sweep",
            g.to_str().unwrap(),
            "--out",
            tmp.path().join("run").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("q.jsonl: 1 of 1 labels do not match"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("line 1, question \"q1\""), "{}", r.stderr);
    // The run folder records the failure; no tables were written.
    let m = read_json(&tmp.path().join("run/manifest.json"));
    assert_eq!(m["status"], "failed");
    assert!(!tmp.path().join("run/results.parquet").exists());
}

#[test]
#[cfg(not(feature = "cuda"))]
fn cuda_on_a_cpu_build_is_refused() {
    let tmp = setup();
    let g = grid(tmp.path(), "g.toml", GRID);
    let r = ragtune(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--device", "cuda"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("built without CUDA support"),
        "{}",
        r.stderr
    );
    assert!(!tmp.path().join("runs").exists(), "nothing is written");
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn existing_run_folder_is_not_overwritten() {
    let tmp = setup();
    let g = grid(tmp.path(), "g.toml", GRID);
    let out = tmp.path().join("run");
    ragtune_ok(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    let before = std::fs::read(out.join("results.parquet")).unwrap();
    let r = ragtune(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already holds a run"), "{}", r.stderr);
    assert_eq!(std::fs::read(out.join("results.parquet")).unwrap(), before);
}

#[test]
fn zero_threads_or_batch_are_refused_not_coerced() {
    let tmp = setup();
    let g = grid(tmp.path(), "g.toml", GRID);
    for flag in ["--threads", "--batch-size", "--sessions"] {
        let r = ragtune(tmp.path(), &["sweep", g.to_str().unwrap(), flag, "0"]);
        assert_eq!(r.code, 2, "{flag}: {}", r.stderr);
        assert!(
            r.stderr.contains("must be at least 1"),
            "{flag}: {}",
            r.stderr
        );
        assert!(!tmp.path().join("runs").exists(), "nothing is written");
    }
    // More sessions than threads to split between them is refused, not clamped.
    let args = [
        "sweep",
        g.to_str().unwrap(),
        "--threads",
        "2",
        "--sessions",
        "3",
    ];
    let r = ragtune(tmp.path(), &args);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("--sessions 3 is more than the 2 threads"),
        "{}",
        r.stderr
    );
    assert!(!tmp.path().join("runs").exists(), "nothing is written");
}

#[test]
fn query_applies_the_server_limits() {
    let tmp = setup();
    let run = tmp.path().join("no-run");
    let run = run.to_str().unwrap();
    for (args, want) in [
        (vec!["query", "--run", run, "   "], "must not be empty"),
        (
            vec!["query", "--run", run, "-k", "1000000", "flood"],
            "between 1 and 100",
        ),
        (
            vec!["query", "--run", run, "-k", "0", "flood"],
            "between 1 and 100",
        ),
    ] {
        let r = ragtune(tmp.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn resume_into_a_folder_that_is_not_a_run_is_refused() {
    let tmp = setup();
    let g = grid(tmp.path(), "g.toml", GRID);
    let out = tmp.path().join("docs");
    let r = ragtune(
        tmp.path(),
        &[
            "sweep",
            g.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--resume",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a run folder"), "{}", r.stderr);
    assert!(
        !out.join("manifest.json").exists(),
        "nothing is written into it"
    );
}

#[test]
fn out_of_range_values_name_their_line() {
    expect_error(
        &GRID.replace("top_k = [1, 5]", "top_k = [1, 5, 1000000000]"),
        "g.toml:11:9: `top_k`: k must be at most 100000",
    );
    expect_error(
        &GRID.replace(
            "objective = \"recall@5\"",
            "objective = \"recall@5\"\nmax_context_tokens = -1",
        ),
        "`max_context_tokens`: -1 is not a token count",
    );
}

#[test]
fn a_zero_length_span_is_refused_with_its_line() {
    let tmp = setup();
    std::fs::write(
        tmp.path().join("q.jsonl"),
        "{\"id\":\"q1\",\"question\":\"beta?\",\"spans\":[{\"doc_id\":\"a.txt\",\"start\":6,\"end\":6}]}\n",
    )
    .unwrap();
    let g = grid(tmp.path(), "g.toml", GRID);
    let r = ragtune(tmp.path(), &["sweep", g.to_str().unwrap(), "--out", "run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("q.jsonl:1: question \"q1\": span [6, 6) is empty"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_repeated_document_id_names_both_lines() {
    let tmp = setup();
    let docs = "{\"id\":\"a\",\"text\":\"alpha beta\"}\n{\"id\":\"b\",\"text\":\"gamma\"}\n{\"id\":\"a\",\"text\":\"delta\"}\n";
    std::fs::write(tmp.path().join("docs.jsonl"), docs).unwrap();
    let text = GRID
        .replace("format = \"dir\"", "format = \"jsonl\"")
        .replace("path = \"docs\"", "path = \"docs.jsonl\"");
    let g = grid(tmp.path(), "g.toml", &text);
    let r = ragtune(tmp.path(), &["sweep", g.to_str().unwrap(), "--out", "run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("docs.jsonl:3: document id \"a\" appears twice (first on line 1)"),
        "{}",
        r.stderr
    );
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn k_and_depth_beyond_the_chunks_are_clamped_and_recorded() {
    let tmp = setup();
    let text = GRID.replace("top_k = [1, 5]", "top_k = [1, 5, 100000]");
    let g = grid(tmp.path(), "g.toml", &text);
    let out = tmp.path().join("run");
    let r = ragtune_ok(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    assert!(r.stderr.contains("fewer than depth 100000"), "{}", r.stderr);
    let m = read_json(&out.join("manifest.json"));
    let warnings = m["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("1 chunks, fewer than depth 100000")),
        "{warnings:?}"
    );
}
