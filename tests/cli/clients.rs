//! The Python retrievers (clients/python) for LangChain and LlamaIndex, with the real
//! packages, against the real server: the same ranked chunks as `POST /search`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::serve::Server;
use crate::util::*;

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and the test venv (langchain-core, llama-index-core); run scripts/test.sh"]
fn langchain_and_llama_index_retrievers_return_what_the_server_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let (server, _run, _cache) = served_hybrid_quickstart(tmp, "clients");
    let questions = root().join("corpora/quickstart/questions.jsonl");
    let out = python_ok(
        "retrievers.py",
        &[&server.base, questions.to_str().unwrap(), "5"],
    );
    server.stop();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["questions"], 50, "{v}");
    assert_eq!(v["hits_compared"], 250, "{v}");
    assert!(
        v["refused"].as_str().unwrap().contains("must not be empty"),
        "{v}"
    );
}

/// A sweep of one hybrid setup over the quickstart in `tmp`, and the server of its best
/// setup: what the application-facing tests (retrievers, MCP) talk to. Also the run and
/// stage-store folders.
pub(crate) fn served_hybrid_quickstart(tmp: &Path, name: &str) -> (Server, PathBuf, PathBuf) {
    let grid = quickstart_grid(
        tmp,
        "g.toml",
        name,
        "[grid]\nchunker = [\"markdown\"]\nchunk_size = [300]\nretriever = [\"hybrid\"]\nmodel = [\"all-minilm-l6-v2\"]\nfusion = [\"rrf\"]\ntop_k = [5]\n[select]\nobjective = \"span_recall@5\"\n",
    );
    let (run, cache) = (tmp.join("run"), tmp.join("cache"));
    sweep_ok(tmp, &grid, &run, &cache);
    let server = Server::start(&run, run.join("best.toml").to_str().unwrap(), &cache);
    (server, run, cache)
}
