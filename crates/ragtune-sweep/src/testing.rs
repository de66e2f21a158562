//! A small, generated corpus and a sweep over it with the fake embedder, for tests that
//! must run anywhere (no models, no datasets): this crate's orchestration tests and the
//! HTTP router tests of ragtune-serve share it.

use std::path::Path;

use crate::error::Result;
use crate::exec::Silent;
use crate::models::FakeModels;
use crate::prepare::SweepOptions;
use crate::record::{Manifest, RunDir};
use crate::sweep::run_sweep;
use ragtune_eval::PointRecord;
use ragtune_grid::Grid;

/// A word-level tokenizer: every whitespace-separated word is one token.
pub const TOKENIZER: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#;

/// The fake models the fixture sweeps with.
pub const MODELS: FakeModels = FakeModels { dim: 32 };

const TOPICS: [(&str, &str); 6] = [
    (
        "flood",
        "Flood cover excludes basements below the river line and needs a survey.",
    ),
    (
        "fire",
        "Fire claims above ten thousand euros need a loss adjuster on site.",
    ),
    (
        "theft",
        "Theft cover requires approved locks on every ground floor window.",
    ),
    (
        "roof",
        "Roof damage from storms is covered when the roof is under twenty years old.",
    ),
    (
        "glass",
        "Glass breakage is paid without excess for conservatories and skylights.",
    ),
    (
        "pets",
        "Pet injury to visitors falls under liability up to two million euros.",
    ),
];

/// Write six documents (filler around one fact each), one span-labelled question per fact
/// and the tokenizer into `dir` (`docs/`, `questions.jsonl`, `tokenizer.json`).
pub fn write_corpus(dir: &Path) {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).expect("a writable test folder");
    let mut questions = String::new();
    for (i, (name, fact)) in TOPICS.iter().enumerate() {
        let filler = format!("This section of the handbook is about {name} policies. ");
        let text = format!("{}{fact} {}", filler.repeat(3), filler.repeat(2));
        std::fs::write(docs.join(format!("{i}-{name}.md")), &text).expect("writable");
        let start = text.find(fact).expect("the fact is in the text");
        let q = serde_json::json!({
            "id": format!("q{i}"),
            "question": format!("what does the policy say about {name} cover"),
            "spans": [{"doc_id": format!("{i}-{name}.md"), "start": start, "end": start + fact.len(), "text": fact}],
        });
        questions.push_str(&format!("{q}\n"));
    }
    std::fs::write(dir.join("questions.jsonl"), questions).expect("writable");
    std::fs::write(dir.join("tokenizer.json"), TOKENIZER).expect("writable");
}

/// A grid over the corpus: chars chunks of `sizes`, every retriever, exact and HNSW,
/// both fusions with `alphas`, at `top_k` (each a TOML list).
pub fn grid_text(sizes: &str, alphas: &str, top_k: &str) -> String {
    format!(
        r#"name = "fake"
[corpus]
format = "dir"
path = "docs"
questions = "questions.jsonl"
[grid]
chunker = ["chars"]
chunk_size = {sizes}
retriever = ["bm25", "vector", "hybrid"]
model = ["fake-a"]
index = ["exact", "hnsw"]
hnsw_ef_search = [16]
fusion = ["rrf", "weighted"]
alpha = {alphas}
top_k = {top_k}
[retrieval]
depth = 8
tokenizer = "tokenizer.json"
[select]
objective = "span_recall@1"
"#
    )
}

/// Each row's metrics by (config id, k), as exact JSON text: equal strings are equal bits.
pub fn metrics_by_row(
    records: &[PointRecord],
) -> std::collections::BTreeMap<(String, u32), String> {
    records
        .iter()
        .flat_map(|r| r.rows.iter())
        .map(|row| {
            let v = serde_json::to_string(&row.metrics).expect("metrics serialise");
            ((row.config_id.clone(), row.top_k), v)
        })
        .collect()
}

/// Sweep options with the store at `dir/store` and no models folder.
pub fn options(dir: &Path) -> SweepOptions {
    SweepOptions {
        models_dir: dir.join("no-models"),
        cache_dir: Some(dir.join("store")),
        threads: 2,
        sessions: 2,
        device: ragtune_embed::Device::Cpu,
        batch_size: ragtune_embed::BatchSize::Fixed(8),
        version: "test".into(),
        git_commit: "test".into(),
    }
}

/// Write `text` as `dir/name` and load it.
pub fn grid(dir: &Path, name: &str, text: &str) -> Result<Grid> {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("writable");
    Ok(Grid::load(&p)?)
}

/// Sweep `grid` into the new run folder `dir/out` with the fake models.
pub fn sweep(dir: &Path, grid: &Grid, out: &str) -> Result<(Vec<PointRecord>, Manifest)> {
    let run = RunDir::create(&dir.join(out))?;
    let (records, mut m) = run_sweep(grid, &run, &options(dir), &MODELS, &Silent, false)?;
    // The caller writes its outputs and then finishes the run (the CLI writes the tables
    // first); these tests have no tables, so the run is finished as scored.
    let scored = m.clone();
    m.finish();
    run.write_manifest(&m)?;
    Ok((records, scored))
}
