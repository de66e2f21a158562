//! HTTP serving of one evaluated setup, with axum and tokio.
//!
//! | route | |
//! |---|---|
//! | `POST /search` | `{"query": "...", "k": 5}` → ranked chunks with doc id, byte range, text, final score and each retriever's own rank and score |
//! | `POST /explain` | `{"question": "ID", "k": 10}` → one of the run's questions: its ranked chunks and where each label is found |
//! | `POST /mcp` | MCP over streamable HTTP: tools `search` and `explain`, with the schemas of the two routes above ([`mcp`]) |
//! | `GET /config` | the setup and its measured metrics |
//! | `GET /healthz` | `ok` |
//! | `GET /metrics` | Prometheus text: request counts, a latency histogram, and the query path's cache hits and misses and queries per inference call ([`queries`]) |
//! | `GET /openapi.json` | the OpenAPI 3 description |
//!
//! Limits: request bodies up to [`Limits::max_body_bytes`], queries up to
//! [`Limits::max_query_chars`] characters, `k` from 1 to [`Limits::max_k`], and a
//! per-request timeout; connections that do not send their headers, or stay idle, are
//! closed after [`conn::HEADER_READ_TIMEOUT`]. Every error is a JSON body
//! `{"error": "..."}`, also those the HTTP layer answers itself (400, 414, 431: [`conn`]).
#![deny(missing_docs)]

mod api;
pub mod conn;
mod engine;
mod judge;
pub mod mcp;
mod metrics;
pub mod queries;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use api::{
    ConfigResponse, ErrorBody, ExplainRequest, ExplainResponse, GoldLabel, SearchRequest,
    openapi_spec,
};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use engine::{Component, Engine, Passage, SearchHit, SearchResponse};
pub use judge::judge_router;
pub use metrics::Metrics;
use utoipa::OpenApi;

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Longest accepted query.
    pub max_query_chars: usize,
    /// Largest `k`.
    pub max_k: usize,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_query_chars: 2000,
            max_k: 100,
            timeout: Duration::from_secs(10),
        }
    }
}

pub(crate) struct AppState {
    pub(crate) engine: Engine,
    config: ConfigResponse,
    metrics: Metrics,
    pub(crate) limits: Limits,
}

/// The OpenAPI document, derived from the handlers and the bodies they send
/// ([`openapi_spec`] writes the limits in).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ragtune",
        description = "Retrieval with the setup ragtune evaluated."
    ),
    paths(search, explain, config_handler, healthz, metrics_text, openapi),
    components(schemas(
        SearchRequest,
        SearchResponse,
        SearchHit,
        Passage,
        Component,
        ExplainRequest,
        ExplainResponse,
        GoldLabel,
        ErrorBody,
        ConfigResponse
    ))
)]
pub(crate) struct ApiDoc;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: message.into(),
    };
    (status, Json(body)).into_response()
}

/// A request body parsed as `T`, or why not: the body's own rejection (413 and the like)
/// or a 400 that says what was `expected`.
fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    expected: &str,
) -> Result<T, (StatusCode, String)> {
    let body = body.map_err(|rej| (rej.status(), rej.body_text()))?;
    serde_json::from_slice(&body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {e}; expected {expected}"),
        )
    })
}

/// Retrieve the top k chunks for a query.
#[utoipa::path(
    post,
    path = "/search",
    request_body = SearchRequest,
    responses(
        (status = 200, description = "Ranked chunks", body = SearchResponse),
        (status = 400, description = "Malformed JSON or a value out of range", body = ErrorBody),
        (status = 405, description = "Not a POST", body = ErrorBody),
        (status = 408, description = "The request took longer than the timeout", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 500, description = "Retrieval failed", body = ErrorBody)
    )
)]
async fn search(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let req: SearchRequest = match json_body(body, "{\"query\": string, \"k\": integer}") {
        Ok(r) => r,
        Err((status, why)) => return error(status, why),
    };
    if let Err(why) = check_search(&req, &state.limits) {
        return error(StatusCode::BAD_REQUEST, why);
    }
    let st = state.clone();
    match tokio::task::spawn_blocking(move || st.engine.search(&req.query, req.k)).await {
        Ok(Ok(resp)) => Json(resp).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("search task failed: {e}"),
        ),
    }
}

/// Why `req` is out of the limits, if it is: what `POST /search` and the MCP tool
/// `search` refuse alike.
pub(crate) fn check_search(req: &SearchRequest, limits: &Limits) -> Result<(), String> {
    if req.query.trim().is_empty() {
        return Err("`query` must not be empty".into());
    }
    if req.query.chars().count() > limits.max_query_chars {
        return Err(format!(
            "`query` is longer than {} characters",
            limits.max_query_chars
        ));
    }
    if !(1..=limits.max_k).contains(&req.k) {
        return Err(format!("`k` must be between 1 and {}", limits.max_k));
    }
    Ok(())
}

/// Why `req` is out of the limits, if it is.
pub(crate) fn check_explain(req: &ExplainRequest, limits: &Limits) -> Result<(), String> {
    if !(1..=limits.max_k).contains(&req.k) {
        return Err(format!("`k` must be between 1 and {}", limits.max_k));
    }
    Ok(())
}

/// Explain one of the run's questions: its top k chunks and where its labels are.
#[utoipa::path(
    post,
    path = "/explain",
    request_body = ExplainRequest,
    responses(
        (status = 200, description = "The question's ranked chunks and labels", body = ExplainResponse),
        (status = 400, description = "Malformed JSON or a value out of range", body = ErrorBody),
        (status = 404, description = "No such question in the run", body = ErrorBody),
        (status = 500, description = "Retrieval failed", body = ErrorBody)
    )
)]
async fn explain(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let req: ExplainRequest = match json_body(body, "{\"question\": string, \"k\": integer}") {
        Ok(r) => r,
        Err((status, why)) => return error(status, why),
    };
    if let Err(why) = check_explain(&req, &state.limits) {
        return error(StatusCode::BAD_REQUEST, why);
    }
    let st = state.clone();
    match tokio::task::spawn_blocking(move || st.engine.explain(&req.question, req.k)).await {
        Ok(Ok(Some(resp))) => Json(resp).into_response(),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            "no question with that id in this run",
        ),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("explain task failed: {e}"),
        ),
    }
}

/// The served setup and its measured metrics.
#[utoipa::path(get, path = "/config", responses(
    (status = 200, description = "The setup", body = ConfigResponse)
))]
async fn config_handler(State(state): State<Arc<AppState>>) -> Response {
    Json(state.config.clone()).into_response()
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", responses(
    (status = 200, description = "ok", body = String, content_type = "text/plain")
))]
async fn healthz() -> &'static str {
    "ok"
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses(
    (status = 200, description = "Text exposition format", body = String, content_type = "text/plain")
))]
async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render() + &state.engine.query_metrics().unwrap_or_default(),
    )
        .into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses(
    (status = 200, description = "OpenAPI 3.1", body = Object)
))]
async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    Json(openapi_spec(&state.limits)).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route; see /openapi.json")
}

/// Refuse a declared body over the limit at once (413), before anything waits for it.
async fn declared_length(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > state.limits.max_body_bytes as u64 => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body of {n} bytes is over the limit of {} bytes",
                state.limits.max_body_bytes
            ),
        ),
        _ => next.run(req).await,
    }
}

/// Every error response is JSON: the ones axum and tower-http make themselves (405, 408,
/// 413 from the body limit) come with an empty or plain-text body, which is rewrapped.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    error(status, if text.is_empty() { reason } else { text })
}

async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let t = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics
        .observe(&route, resp.status().as_u16(), t.elapsed().as_secs_f64());
    resp
}

/// What the routes and the MCP tools share.
pub(crate) fn app_state(engine: Engine, config: ConfigResponse, limits: Limits) -> Arc<AppState> {
    Arc::new(AppState {
        engine,
        config,
        metrics: Metrics::default(),
        limits,
    })
}

/// The router for `engine`; `config` is what `GET /config` returns.
pub fn router(engine: Engine, config: ConfigResponse, limits: Limits) -> Router {
    let state = app_state(engine, config, limits);
    let api = Router::new()
        .route("/search", post(search))
        .route("/explain", post(explain))
        .route("/config", get(config_handler))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            declared_length,
        ))
        .layer(middleware::from_fn(json_errors))
        .with_state(state.clone());
    // MCP streams stay open as long as the client keeps them: outside the request
    // timeout and the body limit (rmcp applies its own), beside the API.
    Router::new()
        .nest_service("/mcp", mcp::service(state))
        .merge(api)
}

/// Serve until SIGINT or SIGTERM, then finish in-flight requests and return.
/// `on_ready` receives the bound address (useful with port 0).
pub fn serve_blocking(
    app: Router,
    addr: &str,
    threads: usize,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        on_ready(listener.local_addr()?);
        accept_loop(listener, app).await;
        Ok(())
    })
}

/// Accept connections until a shutdown signal, each served by hyper's HTTP/1.1 with the
/// limits of [`conn`]; then wait for in-flight requests to finish.
async fn accept_loop(listener: tokio::net::TcpListener, app: Router) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(conn::HEADER_READ_TIMEOUT)
        .max_headers(conn::MAX_HEADERS);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: the listener stays.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
            });
        let io = hyper_util::rt::TokioIo::new(conn::JsonErrors::new(stream));
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    graceful.shutdown().await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
