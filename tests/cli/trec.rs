//! ragtune's document metrics against pytrec_eval, on Chroma's data and on SQuAD.

use std::path::Path;

use crate::util::*;

fn agree(tmp: &Path, corpus_toml: &str) {
    let g = grid(
        tmp,
        "g.toml",
        &format!(
            r#"
name = "agreement"
{corpus_toml}
[grid]
chunker = ["tokens"]
chunk_size = [128]
retriever = ["bm25", "vector", "hybrid"]
model = ["paraphrase-minilm-l3-v2"]
fusion = ["rrf"]
top_k = [1, 3, 5, 10]
[retrieval]
depth = 20
[select]
objective = "ndcg@5"
"#
        ),
    );
    let run = tmp.join("run");
    sweep_ok(tmp, &g, &run, &tmp.join("cache"));
    let root = tmp.join("trec");
    let mut n_exports = 0;
    for entry in std::fs::read_dir(run.join("points")).unwrap() {
        let id = entry
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for k in ["1", "3", "5", "10"] {
            let out = root.join(&id).join(format!("k{k}"));
            ragtune_ok(
                tmp,
                &[
                    "export-trec",
                    "--run",
                    run.to_str().unwrap(),
                    "--config",
                    &id,
                    "--k",
                    k,
                    "--out",
                    out.to_str().unwrap(),
                ],
            );
            n_exports += 1;
        }
    }
    assert_eq!(n_exports, 12, "3 grid points × 4 k");
    let summary = python_ok(
        "trec_agree.py",
        &[run.to_str().unwrap(), root.to_str().unwrap()],
    );
    assert!(
        summary.contains("\"retrievers\": [\"bm25\", \"hybrid\", \"vector\"]"),
        "{summary}"
    );
    let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert!(
        v["comparisons"].as_u64().unwrap() >= 12 * 4 * 100,
        "{summary}"
    );
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn chroma_metrics_agree_with_pytrec_eval() {
    let tmp = tempfile::tempdir().unwrap();
    agree(
        tmp.path(),
        &format!(
            "[corpus]\nformat = \"chroma\"\npath = \"{}\"\ninclude = [\"chatlogs\", \"state_of_the_union\"]",
            datasets().join("chroma-chunking").display()
        ),
    );
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn squad_metrics_agree_with_pytrec_eval() {
    let tmp = tempfile::tempdir().unwrap();
    agree(
        tmp.path(),
        &format!(
            "[corpus]\nformat = \"squad\"\npath = \"{}\"\ninclude = [\"Warsaw\", \"Normans\", \"Computational_complexity_theory\", \"Southern_California\"]",
            datasets().join("squad-v1.1-dev/dev-v1.1.json").display()
        ),
    );
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn export_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let r = ragtune(
        tmp.path(),
        &[
            "export-trec",
            "--run",
            tmp.path().to_str().unwrap(),
            "--config",
            "x",
            "--k",
            "1",
            "--out",
            "o",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a run folder"), "{}", r.stderr);
}
