//! MCP: the official Python SDK against the real binary, over streamable HTTP (`serve`'s
//! /mcp) and stdio (`ragtune mcp`), with the schemas of the OpenAPI document.

use serde_json::Value;

use crate::clients::served_hybrid_quickstart;
use crate::util::*;

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and the test venv (mcp); run scripts/test.sh"]
fn mcp_tools_over_http_and_stdio_answer_what_the_http_api_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let (server, run, cache) = served_hybrid_quickstart(tmp, "mcp");
    let questions = root().join("corpora/quickstart/questions.jsonl");
    let out = std::process::Command::new(python())
        .arg(root().join("tests/cli/mcp_client.py"))
        .args([
            server.base.as_str(),
            questions.to_str().unwrap(),
            env!("CARGO_BIN_EXE_ragtune"),
            run.to_str().unwrap(),
            cache.to_str().unwrap(),
        ])
        .env("RAGTUNE_MODELS_DIR", root().join("models"))
        .output()
        .expect("python runs");
    server.stop();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mcp_client.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["http_questions"], 10, "{v}");
    assert_eq!(v["stdio_questions"], 10, "{v}");
}
