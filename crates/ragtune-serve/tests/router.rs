//! The HTTP router over a real engine (fake embedder, generated corpus): routes, status
//! codes, JSON errors, and that `/search` answers what the sweep evaluated.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ragtune_serve::Engine;
use ragtune_serve::{ConfigResponse, Limits, openapi_spec, router};
use ragtune_sweep::RunDir;
use ragtune_sweep::testing::{self, MODELS};
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
    let rows = &records.iter().find(|r| r.config_id == hybrid).unwrap().rows;
    let config = ConfigResponse::of(&engine, rows, run.path()).unwrap();
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

/// A validator for the document's component `name` (its `$ref`s resolve inside `spec`).
fn validator(spec: &serde_json::Value, name: &str) -> jsonschema::Validator {
    let schema = serde_json::json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": spec["components"],
    });
    jsonschema::validator_for(&schema).unwrap()
}

/// The component a documented JSON response of `path`'s `method` at `status` refers to.
fn documented(spec: &serde_json::Value, path: &str, method: &str, status: u16) -> String {
    let r = &spec["paths"][path][method]["responses"][status.to_string()];
    let reference = r["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path} {status} is not documented as JSON: {r}"));
    reference.rsplit('/').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_matches_the_schema_derived_from_its_type() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _run, _id) = app(tmp.path());
    let spec = openapi_spec(&Limits::default());
    let (_, served) = call(&app, "GET", "/openapi.json", "").await;
    assert_eq!(served, spec, "/openapi.json serves the derived document");
    let big = "x".repeat(70 * 1024);
    // (method sent, path, body, status, the operation that documents the answer): a
    // wrong method is answered as the route's own operation documents it.
    let cases: [(&str, &str, String, u16, &str); 6] = [
        (
            "post",
            "/search",
            r#"{"query": "theft cover", "k": 3}"#.into(),
            200,
            "post",
        ),
        (
            "post",
            "/search",
            r#"{"query": "", "k": 3}"#.into(),
            400,
            "post",
        ),
        (
            "post",
            "/search",
            r#"{"query": "x", "k": 1000}"#.into(),
            400,
            "post",
        ),
        ("get", "/search", String::new(), 405, "post"),
        (
            "post",
            "/search",
            format!(r#"{{"query": "{big}"}}"#),
            413,
            "post",
        ),
        ("get", "/config", String::new(), 200, "get"),
    ];
    for (method, path, body, status, operation) in cases {
        let (got, json) = call(&app, &method.to_uppercase(), path, &body).await;
        assert_eq!(got.as_u16(), status, "{method} {path}: {json}");
        let name = documented(&spec, path, operation, status);
        let v = validator(&spec, &name);
        let errors: Vec<String> = v.iter_errors(&json).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status} against {name}: {errors:?}\n{json}"
        );
        // The schema is strict: an extra field, or a missing required one, fails it.
        let mut extra = json.clone();
        extra["unexpected"] = 1.into();
        assert!(!v.is_valid(&extra), "{name} lets an extra property pass");
        let required = spec["components"]["schemas"][&name]["required"]
            .as_array()
            .unwrap();
        let mut missing = json.clone();
        missing
            .as_object_mut()
            .unwrap()
            .remove(required[0].as_str().unwrap());
        assert!(
            !v.is_valid(&missing),
            "{name} lets a body without {} pass",
            required[0]
        );
    }
    // An unknown route is not in the document, and still answers with an error body.
    let (got, json) = call(&app, "GET", "/nope", "").await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    assert!(validator(&spec, "ErrorBody").is_valid(&json), "{json}");
    // Nested results are closed too: a hit with an extra field fails the response.
    let (_, mut json) = call(&app, "POST", "/search", r#"{"query": "theft", "k": 2}"#).await;
    json["results"][0]["unexpected"] = 1.into();
    assert!(!validator(&spec, "SearchResponse").is_valid(&json));
}
