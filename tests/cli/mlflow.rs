//! `ragtune export-mlflow` against a real MLflow tracking server (pip-installed into
//! `.venv-mlflow` and started by scripts/test.sh through scripts/mlflow_server.sh: SQLite
//! backend, loopback port), read back through MLflow's REST API.

use serde_json::{Value, json};

use crate::serve::quickstart_run;
use crate::util::*;

/// The tracking server scripts/test.sh started (scripts/mlflow_server.sh). Without it the
/// test fails loudly rather than passing.
fn server() -> String {
    std::env::var("RAGTUNE_MLFLOW_URI").unwrap_or_else(|_| {
        panic!(
            "RAGTUNE_MLFLOW_URI is not set: scripts/test.sh starts a real MLflow server \
             (scripts/mlflow_server.sh) and sets it"
        )
    })
}

fn api(base: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("{base}/api/2.0/{path}");
    let mut r = match body {
        Some(b) => ureq::post(&url).send_json(b),
        None => ureq::get(&url).call(),
    }
    .unwrap_or_else(|e| panic!("{url}: {e}"));
    r.body_mut().read_json().unwrap()
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the MLflow server scripts/test.sh starts and ../shared/datasets; run scripts/test.sh"]
fn a_sweep_exported_to_mlflow_reads_back_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, _) = quickstart_run(tmp.path());
    let base = server();
    // The server outlives one test run only within one scripts/test.sh; a unique
    // experiment keeps a rerun against the same server apart.
    let experiment = format!("ragtune-e2e-{}", std::process::id());
    let args = [
        "export-mlflow",
        "--run",
        run.to_str().unwrap(),
        "--tracking-uri",
        &base,
        "--experiment",
        &experiment,
    ];
    let parent = ragtune_ok(tmp.path(), &args).stdout.trim().to_string();
    let exp = api(
        &base,
        &format!("mlflow/experiments/get-by-name?experiment_name={experiment}"),
        None,
    );
    let exp_id = exp["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let found = api(
        &base,
        "mlflow/runs/search",
        Some(json!({"experiment_ids": [exp_id], "max_results": 1000})),
    );
    let runs = found["runs"].as_array().unwrap();
    let children: Vec<&Value> = runs
        .iter()
        .filter(|r| tag(r, "mlflow.parentRunId").as_deref() == Some(&parent))
        .collect();
    let points = read_points(&run);
    assert_eq!(
        runs.len(),
        points.len() + 1,
        "a parent and one child per setup"
    );
    assert_eq!(children.len(), points.len());
    assert_children_match_points(&children, &points);
    // The parent carries the manifest and the artefacts, byte for byte.
    let parent_run = runs
        .iter()
        .find(|r| r["info"]["run_id"] == parent.as_str())
        .unwrap();
    let manifest = read_json(&run.join("manifest.json"));
    assert_eq!(
        tag(parent_run, "ragtune.corpus_fingerprint").as_deref(),
        manifest["corpus_fingerprint"].as_str()
    );
    assert_artefacts_match(&base, &exp_id, &parent, &run);
}

/// Tag `k` of MLflow run `r`.
fn tag(r: &Value, k: &str) -> Option<String> {
    r["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == k)
        .map(|t| t["value"].as_str().unwrap().to_string())
}

/// Every child's parameters and metrics are its setup's, to the bit.
fn assert_children_match_points(children: &[&Value], points: &[Value]) {
    for p in points {
        let id = p["config_id"].as_str().unwrap();
        let child = children
            .iter()
            .find(|c| c["info"]["run_name"] == id)
            .unwrap_or_else(|| panic!("no child for {id}"));
        let params = child["data"]["params"].as_array().unwrap();
        assert!(
            params
                .iter()
                .any(|x| x["key"] == "config_id" && x["value"] == id)
        );
        assert!(params.iter().any(|x| x["key"] == "retriever"));
        for row in p["rows"].as_array().unwrap() {
            let key = format!("span_recall_at_{}", row["top_k"]);
            let logged = entry(&child["data"]["metrics"], "key", &key);
            assert_eq!(
                logged["value"].as_f64(),
                row["span_recall"].as_f64(),
                "{id} {key}"
            );
        }
    }
}

/// The parent run's artefacts are the run's files, byte for byte.
fn assert_artefacts_match(base: &str, exp_id: &str, parent: &str, run: &std::path::Path) {
    let listed = api(
        base,
        &format!("mlflow/artifacts/list?run_id={parent}"),
        None,
    );
    let names: Vec<&str> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for file in ["results.parquet", "per_question.parquet", "report.html"] {
        assert!(names.contains(&file), "{file} not among {names:?}");
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{parent}/artifacts/{file}",
            base
        );
        let got = ureq::get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_vec()
            .unwrap();
        assert_eq!(
            got,
            std::fs::read(run.join(file)).unwrap(),
            "{file} differs"
        );
    }
}
