//! The HTTP request path of `ragtune serve`: any method, path, headers and body get an
//! answer below 500, and every error answer is a JSON body.
//!
//! Input: `METHOD URI\nheader: value\n...\n\nbody`. The router serves a real engine over
//! the fake-embedder fixture corpus, built once.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use ragtune_serve::{ConfigResponse, Engine, Limits, router};
use ragtune_sweep::RunDir;
use ragtune_sweep::testing::{self, MODELS};
use tower::ServiceExt;

struct App {
    router: axum::Router,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        testing::write_corpus(dir.path());
        let text = testing::grid_text("[120]", "[0.5]", "[1, 3]");
        let grid = testing::grid(dir.path(), "g.toml", &text).unwrap();
        let (records, _) = testing::sweep(dir.path(), &grid, "run").unwrap();
        let id = records[0].config_id.clone();
        let run = RunDir::open(&dir.path().join("run")).unwrap();
        let opts = testing::options(dir.path());
        let engine = Engine::open_with(run.path(), Some(&id), &opts, &MODELS).unwrap();
        let config = ConfigResponse::of(&engine, &records[0].rows, run.path()).unwrap();
        let limits = Limits {
            timeout: std::time::Duration::from_secs(2),
            ..Limits::default()
        };
        App {
            router: router(engine, config, limits),
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
            _dir: dir,
        }
    })
}

fn request(data: &[u8]) -> Option<Request<Body>> {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(data.len());
    let head = std::str::from_utf8(&data[..split]).ok()?;
    let body = data.get(split + 2..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let (method, uri) = lines.next()?.split_once(' ')?;
    let mut b = Request::builder().method(method).uri(uri);
    for line in lines {
        let (k, v) = line.split_once(':')?;
        b = b.header(k.trim(), v.trim());
    }
    b.body(Body::from(body)).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some(req) = request(data) else {
        return;
    };
    let app = app();
    let (status, bytes) = app.rt.block_on(async {
        let resp = app.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        (
            status,
            axum::body::to_bytes(resp.into_body(), 1 << 22)
                .await
                .unwrap(),
        )
    });
    assert!(status.as_u16() < 500, "{status}");
    if status.is_client_error() {
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("error bodies are JSON");
        assert!(v["error"].is_string(), "{v}");
    }
});
