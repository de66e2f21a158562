//! `ragtune judge`: the judging page in real headless Chromium (Playwright, Debian's
//! chromium), judgements kept across a reload and a killed server, and a sweep on them.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use serde_json::{Value, json};

use crate::util::*;

/// Chromium from `RAGTUNE_CHROMIUM`, else Debian's (scripts/test.sh installs it).
fn chromium() -> String {
    std::env::var("RAGTUNE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Three SQuAD dev articles as a JSONL corpus, and two questions of each of their first
/// two paragraphs without labels.
fn squad_corpus(tmp: &Path) {
    let dev: Value = read_json(&datasets().join("squad-v1.1-dev/dev-v1.1.json"));
    let (mut docs, mut qs) = (String::new(), String::new());
    for a in dev["data"].as_array().unwrap().iter().take(3) {
        let paragraphs = a["paragraphs"].as_array().unwrap();
        let text: Vec<&str> = paragraphs
            .iter()
            .map(|p| p["context"].as_str().unwrap())
            .collect();
        docs += &format!("{}\n", json!({"id": a["title"], "text": text.join("\n\n")}));
        for p in paragraphs.iter().take(2) {
            for qa in p["qas"].as_array().unwrap().iter().take(2) {
                qs += &format!("{}\n", json!({"id": qa["id"], "question": qa["question"]}));
            }
        }
    }
    std::fs::write(tmp.join("docs.jsonl"), docs).unwrap();
    std::fs::write(tmp.join("q.jsonl"), qs).unwrap();
}

fn judge_grid(tmp: &Path, extra: &str) -> PathBuf {
    grid(
        tmp,
        "g.toml",
        &format!(
            "name = \"judge\"\n[corpus]\nformat = \"jsonl\"\npath = \"docs.jsonl\"\nquestions = \"q.jsonl\"\n{extra}[grid]\nchunker = [\"chars\"]\nchunk_size = [300, 600]\nretriever = [\"bm25\"]\ntop_k = [5]\n[select]\nobjective = \"recall@5\"\n"
        ),
    )
}

struct Judge {
    child: Child,
    base: String,
}

impl Judge {
    fn start(tmp: &Path, run: &str) -> Judge {
        let child = command(tmp)
            .args([
                "judge",
                run,
                "--addr",
                "127.0.0.1:0",
                "--out",
                "judged.jsonl",
            ])
            .args(["--cache-dir", "cache"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (child, base) = listening(child);
        Judge { child, base }
    }

    fn browser(&self, phase: &str) -> Value {
        let out = python_ok("judge_browser.py", &[&self.base, phase, &chromium()]);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["page_errors"], json!([]), "the page threw: {v}");
        v
    }
}

fn states(v: &Value) -> Vec<&str> {
    v["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn judged_lines(tmp: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(tmp.join("judged.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A raw request with `host` in its Host header: the status code.
fn status_for_host(base: &str, host: &str) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /api/pool HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_whitespace().nth(1).unwrap().to_string()
}

/// The endpoints refuse what is not a pooled chunk, what is not JSON, another origin and
/// another host name.
fn bad_requests(base: &str) {
    assert_eq!(status_for_host(base, "rebound.example:80"), "403");
    let port = base.rsplit(':').next().unwrap().trim_end_matches('/');
    assert_eq!(status_for_host(base, &format!("localhost:{port}")), "200");
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let q0 = &agent
        .get(format!("{base}api/pool"))
        .call()
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap()["questions"][0]["id"]
        .clone();
    let body =
        json!({"question": q0, "doc_id": "nope", "start": 0, "end": 5, "verdict": "relevant"});
    let mut r = agent
        .post(format!("{base}api/judge"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let e: Value = r.body_mut().read_json().unwrap();
    assert!(
        e["error"].as_str().unwrap().contains("not a pooled chunk"),
        "{e}"
    );
    let r = agent
        .post(format!("{base}api/judge"))
        .header("content-type", "text/plain")
        .send(body.to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let r = agent
        .post(format!("{base}api/judge"))
        .header("content-type", "application/json")
        .header("origin", "http://rebound.example")
        .send(body.to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

/// One judgement through the endpoint, as a script would make it.
fn judge_first_chunk(base: &str, question: usize) {
    let q: Value = ureq::get(format!("{base}api/questions/{question}"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let c = &q["chunks"][0];
    let body = json!({"question": q["id"], "doc_id": c["doc_id"], "start": c["start"], "end": c["end"], "verdict": "not_relevant"});
    ureq::post(format!("{base}api/judge"))
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap();
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv (Playwright), Chromium and ../shared/datasets; run scripts/test.sh"]
fn judging_in_chromium_survives_a_reload_and_a_killed_server_and_feeds_a_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    squad_corpus(tmp);
    let g = judge_grid(tmp, "");
    let r = sweep_ok(tmp, &g, &tmp.join("run"), &tmp.join("cache"));
    assert!(r.stderr.contains("ragtune judge"), "{}", r.stderr);

    let mut judge = Judge::start(tmp, "run");
    bad_requests(&judge.base);
    // One writer per file: a second judge on it is refused while the first runs.
    let second = ragtune(
        tmp,
        &[
            "judge",
            "run",
            "--out",
            "judged.jsonl",
            "--addr",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("another `ragtune judge`"),
        "{}",
        second.stderr
    );
    let first = judge.browser("first");
    let q1 = &first["q1_after_reload"];
    assert_eq!(
        states(&first["q1_before_reload"])[..3],
        ["relevant", "not_relevant", "selected"]
    );
    assert_eq!(
        states(q1)[..3],
        ["relevant", "not_relevant", "selected"],
        "kept across a reload"
    );
    let selected = first["selected"].as_str().unwrap();
    assert!(!selected.trim().is_empty(), "the mouse selected text");
    assert_eq!(
        q1["marks"],
        json!([selected]),
        "the selection is shown as kept"
    );
    assert_eq!(states(&first["q2_after_reload"])[0], "relevant");
    assert_eq!(judged_lines(tmp).len(), 4);

    // Killed (SIGKILL), not stopped: what was answered "saved" is on disk.
    judge.child.kill().unwrap();
    judge.child.wait().unwrap();
    let lines = judged_lines(tmp);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[2]["spans"][0]["text"], json!(selected), "{lines:?}");

    let mut judge = Judge::start(tmp, "run");
    let second = judge.browser("second");
    assert_eq!(
        states(&second["q1_after_restart"])[..3],
        ["relevant", "not_relevant", "selected"]
    );
    assert_eq!(states(&second["q2_after_restart"])[0], "relevant");
    assert_eq!(states(&second["q3"])[0], "not_relevant");
    assert_eq!(judged_lines(tmp).len(), 5);
    judge.child.kill().unwrap();
    judge.child.wait().unwrap();

    // The judgements feed a sweep: two questions are scored, with judged@k.
    let g = judge_grid(tmp, "judgements = \"judged.jsonl\"\n");
    let r = sweep_ok(tmp, &g, &tmp.join("run2"), &tmp.join("cache"));
    assert!(r.stdout.contains("judged@5"), "{}", r.stdout);
    assert_eq!(
        read_json(&tmp.join("run2/manifest.json"))["status"],
        "complete"
    );
    assert!(tmp.join("run2/best.toml").is_file());
    let best = read_json(&tmp.join("run2/points").join(format!(
        "{}.json",
        toml_config_id(&tmp.join("run2/best.toml"))
    )));
    let row = &best["rows"][0];
    assert!(row["recall"].as_f64().is_some(), "{row}");
    // Pooled labels: most of each top 5 was never judged.
    assert!(row["judged"].as_f64().unwrap() < 0.8, "{row}");

    // A second round on the judged run, whose grid reads the file being written: it
    // starts again after a judgement and a killed server.
    let mut judge = Judge::start(tmp, "run2");
    judge_first_chunk(&judge.base, 3);
    judge.child.kill().unwrap();
    judge.child.wait().unwrap();
    let mut judge = Judge::start(tmp, "run2");
    judge.child.kill().unwrap();
    judge.child.wait().unwrap();
    assert_eq!(judged_lines(tmp).len(), 6);
}

fn toml_config_id(best: &Path) -> String {
    let text = std::fs::read_to_string(best).unwrap();
    let line = text.lines().find(|l| l.starts_with("config_id")).unwrap();
    line.split('"').nth(1).unwrap().to_string()
}
