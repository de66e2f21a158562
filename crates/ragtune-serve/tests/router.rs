//! The HTTP router over a real engine (fake embedder, generated corpus): routes, status
//! codes, JSON errors, and that `/search` answers what the sweep evaluated.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ragtune_serve::{Limits, router};
use ragtune_sweep::testing::{self, MODELS};
use ragtune_sweep::{Engine, RunDir};
use tower::ServiceExt;

fn app(dir: &std::path::Path) -> (axum::Router, RunDir, String) {
    testing::write_corpus(dir);
    let grid = testing::grid(
        dir,
        "g.toml",
        &testing::grid_text("[120]", "[0.5]", "[1, 3]"),
    )
    .unwrap();
    let (records, _) = testing::sweep(dir, &grid, "run").unwrap();
    let hybrid = records
        .iter()
        .find(|r| r.label.contains("hybrid rrf") && r.label.contains("exact"))
        .unwrap()
        .config_id
        .clone();
    let run = RunDir::open(&dir.join("run")).unwrap();
    let engine =
        Engine::open_with(run.path(), Some(&hybrid), &testing::options(dir), &MODELS).unwrap();
    let config = serde_json::json!({ "config_id": hybrid });
    (router(engine, config, Limits::default()), run, hybrid)
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_answers_the_evaluated_ranking_and_errors_are_json() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, run, id) = app(tmp.path());
    let stored = run.read_rankings(&id).unwrap();
    let q = &stored.questions[2];
    let text = "what does the policy say about theft cover";
    let (status, body) = call(
        &app,
        "POST",
        "/search",
        &serde_json::json!({"query": text, "k": 3}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(q.id, "q2");
    let got: Vec<u64> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["chunk"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = q.chunks[..3].iter().map(|&c| c as u64).collect();
    assert_eq!(got, want, "served = evaluated");
    assert_eq!(body["config_id"], id.as_str());

    for (body, want) in [
        (r#"{"query": "", "k": 3}"#, "must not be empty"),
        (r#"{"query": "x", "k": 0}"#, "`k` must be between 1 and 100"),
        (
            r#"{"query": "x", "k": 101}"#,
            "`k` must be between 1 and 100",
        ),
        (r#"{"query": 5}"#, "invalid JSON body"),
        (r#"{"query": "x", "extra": 1}"#, "invalid JSON body"),
    ] {
        let (status, err) = call(&app, "POST", "/search", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            err["error"].as_str().unwrap().contains(want),
            "{body}: {err}"
        );
    }
    let (status, err) = call(&app, "GET", "/nope", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(err["error"].is_string());
    let (status, cfg) = call(&app, "GET", "/config", "").await;
    assert_eq!(
        (status, cfg["config_id"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
    let (status, spec) = call(&app, "GET", "/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["paths"]["/search"].is_object());

    // A wrong method is a JSON 405, not an empty body.
    let (status, err) = call(&app, "GET", "/search", "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(err["error"], "method not allowed");
    // A declared body over the limit is refused at once, before any of it is read.
    let req = Request::builder()
        .method("POST")
        .uri("/search")
        .header("content-type", "application/json")
        .header("content-length", "100000000")
        .body(Body::from("{}"))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let err: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        err["error"].as_str().unwrap().contains("over the limit"),
        "{err}"
    );
}
