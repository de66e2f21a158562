//! `ragtune judge`'s local page and the endpoints it (and any script) judges through.
//!
//! | route | |
//! |---|---|
//! | `GET /` | the page: one file, no network, no CDN |
//! | `GET /api/pool` | the run, the depth, and every question with its progress |
//! | `GET /api/questions/{i}` | question `i` (0-based, corpus order) with its pooled chunks, each with its file, pages, text and judgement |
//! | `POST /api/judge` | `{"question", "doc_id", "start", "end", "verdict": "relevant" \| "not_relevant" \| "selected" \| "clear", "selections"?: [{"start", "end"}]}`: saved before the answer is sent |
//!
//! Offsets are code points of the document. The server writes a file, so it answers
//! only its own page:
//! - on a loopback address, only requests whose `Host` is a loopback name (a page of
//!   another site that rebinds its name to 127.0.0.1 is refused);
//! - a `POST` must be JSON (`Content-Type: application/json`, which a page of another
//!   origin cannot send without the browser asking first, and this server never agrees)
//!   and, when the browser names its `Origin`, come from this server's own;
//! - the page may not be framed (`X-Frame-Options: DENY`), so no other page can overlay
//!   it and steer clicks or keys.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ragtune_judge::{Book, Pool, Progress, Region, Verdict};
use serde::{Deserialize, Serialize};

use crate::api::ErrorBody;

const PAGE: &str = include_str!("judge.html");

struct JudgeState {
    pool: Pool,
    judging: Mutex<Judging>,
    run: String,
    loopback: bool,
}

/// One pooled chunk as the page shows it.
#[derive(Debug, Serialize)]
struct ChunkView {
    doc_id: String,
    start: usize,
    end: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_page: Option<u32>,
    text: String,
    /// Judged: all its text lies in judged chunks (its own judgement or others').
    judged: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    judgement: Option<Verdict>,
}

#[derive(Debug, Serialize)]
struct QuestionSummary {
    index: usize,
    id: String,
    text: String,
    labelled: bool,
    #[serde(flatten)]
    progress: Progress,
}

#[derive(Debug, Serialize)]
struct PoolView {
    run: String,
    out: String,
    depth: usize,
    setups: usize,
    #[serde(flatten)]
    progress: Progress,
    questions: Vec<QuestionSummary>,
}

#[derive(Debug, Serialize)]
struct QuestionView {
    #[serde(flatten)]
    summary: QuestionSummary,
    chunks: Vec<ChunkView>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum VerdictArg {
    Relevant,
    NotRelevant,
    Selected,
    Clear,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    start: usize,
    end: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JudgeRequest {
    question: String,
    doc_id: String,
    start: usize,
    end: usize,
    verdict: VerdictArg,
    #[serde(default)]
    selections: Vec<Range>,
}

#[derive(Debug, Serialize)]
struct JudgeResponse {
    question: QuestionSummary,
    total: Progress,
    chunk: ChunkView,
}

/// The judgements and each question's progress, under one lock: a judgement changes its
/// own question's progress only, so a save recounts that one, not the whole pool.
struct Judging {
    book: Book,
    progress: Vec<Progress>,
}

impl Judging {
    fn new(book: Book, pool: &Pool) -> Self {
        let progress = (pool.questions.iter().enumerate())
            .map(|(q, pq)| book.progress(q, &pq.regions))
            .collect();
        Self { book, progress }
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: message.into(),
    };
    (status, Json(body)).into_response()
}

impl JudgeState {
    fn summary(&self, j: &Judging, q: usize) -> QuestionSummary {
        let question = &self.pool.corpus.questions[q];
        QuestionSummary {
            index: q,
            id: question.id.clone(),
            text: question.text.clone(),
            labelled: question.is_labelled(),
            progress: j.progress[q],
        }
    }

    fn total(&self, j: &Judging) -> Progress {
        j.progress
            .iter()
            .fold(Progress::default(), |acc, p| Progress {
                judged: acc.judged + p.judged,
                pooled: acc.pooled + p.pooled,
            })
    }

    fn chunk(&self, book: &Book, q: usize, i: usize) -> ChunkView {
        let (c, region) = (
            self.pool.questions[q].chunks[i],
            &self.pool.questions[q].regions[i],
        );
        let doc = &self.pool.corpus.docs[c.doc as usize];
        let pages = doc.page_range(c.start, c.end);
        ChunkView {
            doc_id: region.doc_id.clone(),
            start: region.start,
            end: region.end,
            first_page: pages.map(|p| p.0),
            last_page: pages.map(|p| p.1),
            text: doc.text[c.start..c.end].to_string(),
            judged: book.is_judged(q, region),
            judgement: book.verdict(q, region).cloned(),
        }
    }
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn pool_view(State(s): State<Arc<JudgeState>>) -> Response {
    let j = s.judging.lock().expect("judge lock");
    let view = PoolView {
        run: s.run.clone(),
        out: j.book.path().display().to_string(),
        depth: s.pool.depth,
        setups: s.pool.setups,
        progress: s.total(&j),
        questions: (0..s.pool.questions.len())
            .map(|q| s.summary(&j, q))
            .collect(),
    };
    Json(view).into_response()
}

async fn question_view(State(s): State<Arc<JudgeState>>, UrlPath(i): UrlPath<String>) -> Response {
    let n = s.pool.questions.len();
    let Some(q) = i.parse::<usize>().ok().filter(|&q| q < n) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no question {i:?}: questions are numbered 0 to {}", n - 1),
        );
    };
    let j = s.judging.lock().expect("judge lock");
    let chunks = (0..s.pool.questions[q].chunks.len())
        .map(|c| s.chunk(&j.book, q, c))
        .collect();
    Json(QuestionView {
        summary: s.summary(&j, q),
        chunks,
    })
    .into_response()
}

async fn judge(State(s): State<Arc<JudgeState>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = (headers.get(header::CONTENT_TYPE))
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json",
        );
    }
    let req: JudgeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "invalid JSON body: {e}; expected {{\"question\", \"doc_id\", \"start\", \"end\", \"verdict\", \"selections\"?}}"
                ),
            );
        }
    };
    // The file is written and synced before the answer: off the async workers.
    match tokio::task::spawn_blocking(move || apply(&s, req)).await {
        Ok(Ok(resp)) => Json(resp).into_response(),
        Ok(Err((status, message))) => error(status, message),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("judging failed: {e}"),
        ),
    }
}

/// Record one judgement: the chunk must be pooled for the question; the file is written
/// before the answer says so.
fn apply(s: &JudgeState, req: JudgeRequest) -> Result<JudgeResponse, (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let q = (s.pool.question_index(&req.question)).ok_or_else(|| {
        bad(format!(
            "no question with id {:?} in this run",
            req.question
        ))
    })?;
    let region = Region {
        doc_id: req.doc_id,
        start: req.start,
        end: req.end,
    };
    let i = (s.pool.questions[q]
        .regions
        .iter()
        .position(|r| *r == region))
    .ok_or_else(|| {
        bad(format!(
            "{:?} [{}, {}) is not a pooled chunk of question {:?}",
            region.doc_id, region.start, region.end, req.question
        ))
    })?;
    let verdict = match req.verdict {
        VerdictArg::Relevant => Some(Verdict::Relevant),
        VerdictArg::NotRelevant => Some(Verdict::NotRelevant),
        VerdictArg::Clear => None,
        VerdictArg::Selected => Some(Verdict::Selected(
            (req.selections.iter())
                .map(|r| ragtune_judge::selection(&s.pool.corpus, &region, r.start, r.end))
                .collect::<Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?,
        )),
    };
    let mut j = s.judging.lock().expect("judge lock");
    j.book.set(q, region, verdict).map_err(|e| match e {
        ragtune_judge::JudgeError::Invalid(m) => bad(m),
        other => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    })?;
    j.progress[q] = j.book.progress(q, &s.pool.questions[q].regions);
    Ok(JudgeResponse {
        question: s.summary(&j, q),
        total: s.total(&j),
        chunk: s.chunk(&j.book, q, i),
    })
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}

/// The host part of a `Host` header or an origin's authority: `[::1]:80` → `[::1]`.
fn host_name(authority: &str) -> &str {
    match authority.strip_prefix('[') {
        Some(rest) => rest
            .split(']')
            .next()
            .map_or(authority, |h| &authority[..h.len() + 2]),
        None => authority.split(':').next().unwrap_or(authority),
    }
}

fn is_loopback_name(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// Why `req` is not this server's own page talking to it, if it is not (module docs).
fn refusal(s: &JudgeState, req: &Request) -> Option<String> {
    let header_str = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let host = header_str(header::HOST).unwrap_or("");
    if s.loopback && !is_loopback_name(host_name(host)) {
        return Some(format!(
            "Host {host:?} is not this machine; open the page as http://127.0.0.1:PORT/"
        ));
    }
    match header_str(header::ORIGIN) {
        Some(origin)
            if req.method() == axum::http::Method::POST
                && origin.split("://").nth(1) != Some(host) =>
        {
            Some(format!("a judgement from {origin:?} is not from this page"))
        }
        _ => None,
    }
}

/// Refuse what is not this server's own page talking to it (module docs).
async fn same_site(State(s): State<Arc<JudgeState>>, req: Request, next: Next) -> Response {
    if let Some(refusal) = refusal(&s, &req) {
        return error(StatusCode::FORBIDDEN, refusal);
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("frame-ancestors 'none'; connect-src 'self'"),
    );
    resp
}

/// The judging page and its endpoints over `pool`, keeping judgements in `book`;
/// `loopback`: the server listens on a loopback address, and answers loopback names only.
pub fn judge_router(pool: Pool, book: Book, run: String, loopback: bool) -> Router {
    let state = Arc::new(JudgeState {
        judging: Mutex::new(Judging::new(book, &pool)),
        pool,
        run,
        loopback,
    });
    Router::new()
        .route("/", get(page))
        .route("/api/pool", get(pool_view))
        .route("/api/questions/{i}", get(question_view))
        .route("/api/judge", post(judge))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(256 * 1024))
        .layer(middleware::from_fn_with_state(state.clone(), same_site))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_names_of_authorities() {
        use super::{host_name, is_loopback_name};
        assert_eq!(host_name("127.0.0.1:7879"), "127.0.0.1");
        assert_eq!(host_name("[::1]:7879"), "[::1]");
        assert_eq!(host_name("localhost"), "localhost");
        assert!(is_loopback_name(host_name("localhost:1")));
        assert!(!is_loopback_name(host_name("evil.example:7879")));
        assert!(!is_loopback_name(host_name("127.0.0.1.evil.example")));
    }
}
