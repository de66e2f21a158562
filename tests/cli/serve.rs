//! Serving: the real server on an ephemeral port must answer exactly what was evaluated.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::util::*;

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) fn start(run: &Path, config: &str, cache: &Path) -> Server {
        Self::start_with(run, config, cache, &[]).0
    }

    /// [`Server::start`] with more flags; also returns what the server wrote before it
    /// listened.
    pub(crate) fn start_with(
        run: &Path,
        config: &str,
        cache: &Path,
        flags: &[&str],
    ) -> (Server, Vec<String>) {
        let child = Command::new(env!("CARGO_BIN_EXE_ragtune"))
            .args([
                "serve",
                "--run",
                run.to_str().unwrap(),
                "--config",
                config,
                "--addr",
                "127.0.0.1:0",
                "--cache-dir",
                cache.to_str().unwrap(),
            ])
            .args(flags)
            .env("RAGTUNE_MODELS_DIR", root().join("models"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (child, base, before) = listening_after(child);
        (Server { child, base }, before)
    }

    /// SIGTERM, then the exit status must be success (graceful shutdown).
    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "server exited with {status}");
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    )
}

pub(crate) fn post(base: &str, body: &str) -> (u16, Value) {
    let mut r = agent()
        .post(format!("{base}/search"))
        .header("content-type", "application/json")
        .send(body)
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_json().unwrap())
}

pub(crate) fn get(base: &str, path: &str) -> (u16, String) {
    let mut r = agent().get(format!("{base}{path}")).call().unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// (doc_id, start, end) of a gold span.
type GoldSpan = (String, usize, usize);

/// Gold spans of the quickstart questions (ASCII text: code points are bytes).
pub(crate) fn quickstart_questions() -> Vec<(String, String, Vec<GoldSpan>)> {
    std::fs::read_to_string(root().join("corpora/quickstart/questions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let spans = v["spans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["doc_id"].as_str().unwrap().to_string(),
                        s["start"].as_u64().unwrap() as usize,
                        s["end"].as_u64().unwrap() as usize,
                    )
                })
                .collect();
            (
                v["id"].as_str().unwrap().to_string(),
                v["question"].as_str().unwrap().to_string(),
                spans,
            )
        })
        .collect()
}

pub(crate) fn quickstart_run(tmp: &Path) -> (PathBuf, PathBuf) {
    let tables = r#"
[grid]
chunker = ["markdown"]
chunk_size = [200]
chunk_overlap = [50]
retriever = ["bm25", "vector", "hybrid"]
model = ["all-minilm-l6-v2"]
index = ["exact", "hnsw"]
hnsw_ef_search = [16]
fusion = ["rrf", "weighted"]
alpha = [0.5]
top_k = [1, 3, 5]
[retrieval]
depth = 10
# A deliberately poor graph: its answers differ from exact search and from one build to
# the next, so serving must use the very graph the sweep scored.
hnsw_m = 2
hnsw_ef_construction = 4
[select]
objective = "span_recall@3"
"#;
    let g = quickstart_grid(tmp, "qs.toml", "qs-serve", tables);
    let run = tmp.join("run");
    let cache = tmp.join("cache");
    sweep_ok(tmp, &g, &run, &cache);
    (run, cache)
}

/// `ragtune query --json` for `query` at k = 5 answers what the server does.
fn assert_query_is_served(
    tmp: &Path,
    (run, cache): (&Path, &Path),
    id: &str,
    server: &Server,
    query: &str,
) {
    let (_, served) = post(&server.base, &json!({"query": query, "k": 5}).to_string());
    let cli = ragtune_ok(
        tmp,
        &[
            "query",
            "--run",
            run.to_str().unwrap(),
            "--config",
            id,
            "--cache-dir",
            cache.to_str().unwrap(),
            "-k",
            "5",
            "--json",
            query,
        ],
    );
    let cli: Value = serde_json::from_str(&cli.stdout).unwrap();
    assert_eq!(
        cli, served,
        "ragtune query and POST /search differ for {id}"
    );
}

/// Every quickstart question posted to `server` at k = 10 is answered with the very
/// chunks, in the very order, that the sweep scored for setup `id` (its rankings file);
/// the responses, in question order.
pub(crate) fn assert_serves_rankings(server: &Server, run: &Path, id: &str) -> Vec<Value> {
    let ranked = read_json(&run.join("rankings").join(format!("{id}.json")));
    (quickstart_questions().iter().enumerate())
        .map(|(i, (qid, text, _))| {
            let evaluated = &ranked["questions"][i];
            assert_eq!(evaluated["id"], qid.as_str());
            let (status, resp) = post(&server.base, &json!({"query": text, "k": 10}).to_string());
            assert_eq!(status, 200, "{resp}");
            let served: Vec<&Value> = (resp["results"].as_array().unwrap().iter())
                .map(|h| &h["chunk"])
                .collect();
            let want: Vec<&Value> = evaluated["chunks"].as_array().unwrap().iter().collect();
            assert_eq!(
                served, want,
                "config {id}, question {qid}: served order differs"
            );
            resp
        })
        .collect()
}

/// For every question, the rank of the first chunk that overlaps a gold span in the
/// served top 10 must equal the rank the sweep recorded for the same setup.
fn assert_served_ranks(server: &Server, p: &Value, questions: &[(String, String, Vec<GoldSpan>)]) {
    let id = p["config_id"].as_str().unwrap();
    // The sweep's rank of the first relevant chunk, per question.
    let evaluated: HashMap<&str, Option<u64>> = p["questions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["top_k"] == 1)
        .map(|r| {
            (
                r["question_id"].as_str().unwrap(),
                r["first_relevant_rank"].as_u64(),
            )
        })
        .collect();
    for (qid, text, spans) in questions {
        let (status, resp) = post(&server.base, &json!({"query": text, "k": 10}).to_string());
        assert_eq!(status, 200, "{resp}");
        assert_eq!(resp["config_id"], id);
        let served = resp["results"].as_array().unwrap().iter().position(|h| {
            let (d, s, e) = (
                h["doc_id"].as_str().unwrap(),
                h["start"].as_u64().unwrap() as usize,
                h["end"].as_u64().unwrap() as usize,
            );
            spans
                .iter()
                .any(|(sd, ss, se)| sd == d && *ss < e && s < *se)
        });
        assert_eq!(
            served.map(|r| r as u64 + 1),
            evaluated[qid.as_str()],
            "config {id}, question {qid}: served rank differs from the evaluated one"
        );
    }
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn served_answers_equal_evaluated_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, cache) = quickstart_run(tmp.path());
    let questions = quickstart_questions();
    let points = read_points(&run);
    // bm25; vector exact and HNSW; hybrid rrf and weighted over each index.
    assert_eq!(points.len(), 7);
    assert!(
        run.join("index/hnsw").read_dir().unwrap().count() == 1,
        "the sweep stores the HNSW graph it scored"
    );
    for p in &points {
        let id = p["config_id"].as_str().unwrap();
        let server = Server::start(&run, id, &cache);
        assert_served_ranks(&server, p, &questions);
        // The CLI gives the same answer as the server.
        assert_query_is_served(tmp.path(), (&run, &cache), id, &server, &questions[0].1);
        server.stop();
    }
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn http_surface_limits_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, cache) = quickstart_run(tmp.path());
    let best = std::fs::read_to_string(run.join("best.toml")).unwrap();
    let best_id = best
        .lines()
        .find_map(|l| l.strip_prefix("config_id = "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    let server = Server::start(&run, run.join("best.toml").to_str().unwrap(), &cache);
    let base = &server.base;
    assert_eq!(get(base, "/healthz"), (200, "ok".to_string()));
    let (status, cfg) = get(base, "/config");
    assert_eq!(status, 200);
    let cfg: Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(cfg["config_id"], best_id.as_str());
    assert_eq!(
        cfg["metrics"].as_array().unwrap().len(),
        3,
        "one metrics row per k"
    );
    let (status, spec) = get(base, "/openapi.json");
    assert_eq!(status, 200);
    let spec: Value = serde_json::from_str(&spec).unwrap();
    assert!(spec["paths"]["/search"]["post"].is_object());
    search_limits_and_metrics(base);
    raw_http_errors_are_json_and_slow_connections_close(base);
    server.stop();
    restart_reads_the_stored_indexes(tmp.path(), &run, &cache, &best_id);
}

/// Send `request` as raw bytes and read the whole response (the server closes after an
/// error it answers itself).
fn raw(addr: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    // The server may answer and close before the whole request is sent.
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// What the HTTP layer answers itself (414, 431, 400 for a bad header or request line)
/// has a JSON body; connections that send nothing, or stop mid-headers, are closed.
fn raw_http_errors_are_json_and_slow_connections_close(base: &str) {
    let addr = base.trim_start_matches("http://");
    let long_url = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..10_000 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let cases: [(&str, &[u8], u16); 4] = [
        ("a 100 KB URL", long_url.as_bytes(), 414),
        ("10,000 headers", many.as_bytes(), 431),
        (
            "Content-Length: abc",
            b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            400,
        ),
        ("a garbage request line", b"\x01\x02 nonsense\r\n\r\n", 400),
    ];
    for (what, request, want) in cases {
        let response = raw(addr, request);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        assert!(
            head.starts_with(&format!("HTTP/1.1 {want} ")),
            "{what}: {head}"
        );
        assert!(
            head.contains("content-type: application/json"),
            "{what}: {head}"
        );
        let v: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {body:?}"));
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {body}"
        );
    }
    // Idle, and stopped mid-headers: both closed by the server (the read ends) well before
    // the client's own 30 s limit.
    let waits: Vec<_> = [&b""[..], b"GET /healthz HTTP/1.1\r\nHost: x\r\n"]
        .into_iter()
        .map(|sent| {
            let addr = addr.to_string();
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut s = std::net::TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
                    .unwrap();
                s.write_all(sent).unwrap();
                let mut buf = Vec::new();
                match s.read_to_end(&mut buf) {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
                    Err(e) => Err(format!("{sent:?}: still open ({e})")),
                }
            })
        })
        .collect();
    for w in waits {
        w.join().unwrap().unwrap();
    }
}

/// POST /search: the default k, 400 for malformed bodies and over-long queries, 413 for
/// huge ones, 404 elsewhere, and /metrics counting each by status.
fn search_limits_and_metrics(base: &str) {
    // Default k is 5, and each hit carries both retrievers' views.
    let (status, ok) = post(base, r#"{"query": "flood excess in zone F3"}"#);
    assert_eq!(status, 200);
    assert_eq!(ok["results"].as_array().unwrap().len(), 5);
    assert!(ok["results"][0]["text"].as_str().unwrap().contains("F3"));

    // Malformed input: 400 with a JSON error body.
    for body in [
        r#"{"query": "x""#,
        r#"{"q": "x"}"#,
        r#"{"query": "   "}"#,
        r#"{"query": "x", "k": 0}"#,
        r#"{"query": "x", "k": 101}"#,
        "not json",
    ] {
        let (status, err) = post(base, body);
        assert_eq!(status, 400, "{body}: {err}");
        assert!(
            err["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}: {err}"
        );
    }
    let long = "word ".repeat(500);
    let (status, _) = post(base, &json!({"query": long}).to_string());
    assert_eq!(status, 400, "queries over 2000 characters are refused");
    let huge = format!("{{\"query\": \"{}\"}}", "a".repeat(100_000));
    let (status, err) = post(base, &huge);
    assert_eq!(status, 413, "{err}");
    let (status, _) = get(base, "/nope");
    assert_eq!(status, 404);

    let (_, metrics) = get(base, "/metrics");
    assert!(
        metrics.contains("ragtune_http_requests_total{route=\"/search\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ragtune_http_requests_total{route=\"/search\",status=\"400\"} 7"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ragtune_http_request_duration_seconds_count{route=\"/search\"}"),
        "{metrics}"
    );
}

/// A restart reloads the stored indexes instead of rebuilding them; the control, with an
/// empty store, has to build.
fn restart_reads_the_stored_indexes(dir: &Path, run: &Path, cache: &Path, best_id: &str) {
    let query = |store: &Path| {
        let args = [
            "query",
            "--run",
            run.to_str().unwrap(),
            "--cache-dir",
            store.to_str().unwrap(),
            "flood",
        ];
        let r = ragtune_ok(dir, &args);
        assert!(r.stdout.contains(best_id), "{}", r.stdout);
        r.stderr
    };
    let warm = query(cache);
    assert!(warm.contains("indexes read from the stage store"), "{warm}");
    let cold = query(&dir.join("empty-store"));
    assert!(cold.contains("missing indexes built"), "{cold}");
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn explain_and_diff_on_a_quickstart_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, cache) = quickstart_run(tmp.path());
    let (r_, c_) = (run.to_str().unwrap(), cache.to_str().unwrap());
    let args = [
        "explain",
        "--run",
        r_,
        "--question",
        "hm-003",
        "--cache-dir",
        c_,
    ];
    let r = ragtune_ok(tmp.path(), &args);
    for want in [
        "question hm-003",
        "BM25 top",
        "vector top",
        "final list (hybrid)",
        "gold labels:",
        "00-about.md",
        "scores for this question:",
    ] {
        assert!(
            r.stdout.contains(want),
            "explain lacks {want:?}:\n{}",
            r.stdout
        );
    }
    // hm-003's gold span is bytes [531, 637) of 00-about.md; markdown/200/50 cuts that
    // section into chunk 5 = [531, 708), which holds it whole (checked by hand).
    assert!(
        r.stdout.contains("span 00-about.md [531, 637)")
            && r.stdout.contains("held whole by chunk 5 [531, 708)"),
        "{}",
        r.stdout
    );
    let ids: Vec<String> = std::fs::read_dir(run.join("points"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let d = ragtune_ok(
        tmp.path(),
        &["explain", "--run", r_, "--diff", &ids[0], &ids[1]],
    );
    assert!(
        d.stdout.contains("A finds, B misses:") && d.stdout.contains("B finds, A misses:"),
        "{}",
        d.stdout
    );
    let bad = ragtune(tmp.path(), &["explain", "--run", r_, "--question", "nope"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("no question with id \"nope\"") && bad.stderr.contains("(some ids: "),
        "{}",
        bad.stderr
    );
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn query_and_explain_on_a_chroma_run() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = r#"
[grid]
chunker = ["tokens"]
chunk_size = [250]
retriever = ["hybrid"]
model = ["all-minilm-l6-v2"]
top_k = [1, 5]
[select]
objective = "span_recall@5"
"#;
    let include = &["state_of_the_union"];
    let g = chroma_grid(tmp.path(), "c.toml", "chroma-serve", include, tables);
    let run = tmp.path().join("run");
    let cache = tmp.path().join("cache");
    sweep_ok(tmp.path(), &g, &run, &cache);
    let q = ragtune_ok(
        tmp.path(),
        &[
            "query",
            "--run",
            run.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
            "--json",
            "credit card late fees",
        ],
    );
    let v: Value = serde_json::from_str(&q.stdout).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 5);
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["text"].as_str().unwrap().contains("late fees")),
        "{v}"
    );
    // The first state_of_the_union question (row 0 of questions_df.csv) is about fees.
    let e = ragtune_ok(
        tmp.path(),
        &[
            "explain",
            "--run",
            run.to_str().unwrap(),
            "--question",
            "0",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    assert!(
        e.stdout.contains("gold labels:") && e.stdout.contains("state_of_the_union"),
        "{}",
        e.stdout
    );
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn served_chunks_use_the_tokenizer_the_sweep_used() {
    let tmp = tempfile::tempdir().unwrap();
    // A model folder whose tokenizer keeps case: its token counts, and so its `tokens`
    // chunks, differ from those of the bundled (lowercasing) tokenizer.
    let bundled = root().join("models/paraphrase-minilm-l3-v2");
    let model = tmp.path().join("cased-l3");
    std::fs::create_dir(&model).unwrap();
    std::os::unix::fs::symlink(bundled.join("model.onnx"), model.join("model.onnx")).unwrap();
    std::fs::copy(bundled.join("model.toml"), model.join("model.toml")).unwrap();
    let mut tok: Value = read_json(&bundled.join("tokenizer.json"));
    tok["normalizer"]["lowercase"] = json!(false);
    std::fs::write(model.join("tokenizer.json"), tok.to_string()).unwrap();
    let tables = format!(
        r#"
[grid]
chunker = ["tokens"]
chunk_size = [40]
retriever = ["bm25", "vector"]
model = ["{}"]
top_k = [1, 3]
[retrieval]
depth = 10
[select]
objective = "span_recall@3"
"#,
        model.display()
    );
    let g = quickstart_grid(tmp.path(), "g.toml", "cased", &tables);
    let run = tmp.path().join("run");
    let cache = tmp.path().join("cache");
    sweep_ok(tmp.path(), &g, &run, &cache);
    let m = read_json(&run.join("manifest.json"));
    assert!(
        m["tokenizer"].as_str().unwrap().contains("cased-l3"),
        "{}",
        m["tokenizer"]
    );
    let questions = quickstart_questions();
    for entry in std::fs::read_dir(run.join("points")).unwrap() {
        let p = read_json(&entry.unwrap().path());
        // The BM25 setup has no model of its own: it must still be chunked with the
        // tokenizer the sweep used.
        let server = Server::start(&run, p["config_id"].as_str().unwrap(), &cache);
        assert_served_ranks(&server, &p, &questions);
        server.stop();
    }
}

/// Reranked setups: for every quickstart question the server returns the very chunks, in
/// the very order, that the sweep scored (its rankings file), with each hit's first-stage
/// rank; `query` agrees with the server and `explain` names the second stage.
#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn reranked_answers_equal_evaluated_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = r#"
[grid]
chunker = ["markdown"]
chunk_size = [200]
chunk_overlap = [50]
retriever = ["bm25", "vector", "hybrid"]
model = ["paraphrase-minilm-l3-v2"]
rerank = ["embed:all-minilm-l6-v2"]
rerank_depth = [10]
top_k = [1, 5]
[select]
objective = "span_recall@1"
"#;
    let g = quickstart_grid(tmp.path(), "rr.toml", "qs-rerank", tables);
    let (run, cache) = (tmp.path().join("run"), tmp.path().join("cache"));
    sweep_ok(tmp.path(), &g, &run, &cache);
    let questions = quickstart_questions();
    let ids: Vec<String> = std::fs::read_dir(run.join("points"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 3, "bm25, vector and hybrid, each reranked");
    for id in &ids {
        let ranked = read_json(&run.join("rankings").join(format!("{id}.json")));
        assert_eq!(ranked["depth"], 10, "a reranked list is rerank_depth long");
        let server = Server::start(&run, id, &cache);
        for resp in assert_serves_rankings(&server, &run, id) {
            let hits = resp["results"].as_array().unwrap();
            assert!(
                hits.iter()
                    .all(|h| h["first_stage"]["rank"].as_u64().unwrap() <= 10)
            );
        }
        assert_query_is_served(tmp.path(), (&run, &cache), id, &server, &questions[0].1);
        server.stop();
    }
    let explain = ragtune_ok(
        tmp.path(),
        &[
            "explain",
            "--run",
            run.to_str().unwrap(),
            "--config",
            &ids[0],
            "--cache-dir",
            cache.to_str().unwrap(),
            "--question",
            &questions[0].0,
        ],
    );
    assert!(
        explain
            .stdout
            .contains("reranked by embed:all-minilm-l6-v2 over its top 10")
            && explain.stdout.contains("first stage #"),
        "{}",
        explain.stdout
    );
}
