//! The serving engine answers what the sweep evaluated: for every setup of a small
//! generated corpus (fake embedder), and for a late-chunking setup.

use ragtune_serve::Engine;
use ragtune_sweep::RunDir;
use ragtune_sweep::testing::{self, MODELS};

#[test]
fn served_rankings_equal_evaluated_ones_for_every_setup() {
    let dir = tempfile::tempdir().unwrap();
    testing::write_corpus(dir.path());
    let text = testing::grid_text("[120]", "[0.5]", "[1, 3]");
    let grid = testing::grid(dir.path(), "g.toml", &text).unwrap();
    let (records, _) = testing::sweep(dir.path(), &grid, "a").unwrap();
    let run = RunDir::open(&dir.path().join("a")).unwrap();
    for rec in &records {
        let engine = Engine::open_with(
            run.path(),
            Some(&rec.config_id),
            &testing::options(dir.path()),
            &MODELS,
        )
        .unwrap();
        assert!(engine.reloaded, "{}: served from the store", rec.label);
        let stored = run.read_rankings(&rec.config_id).unwrap();
        for q in &stored.questions {
            let text = &engine.question(&q.id).unwrap().text;
            let got: Vec<u32> = engine
                .search(text, 3)
                .unwrap()
                .results
                .iter()
                .map(|h| h.chunk)
                .collect();
            assert_eq!(
                got,
                q.chunks[..3.min(q.chunks.len())],
                "{} {}",
                rec.label,
                q.id
            );
        }
    }
}

#[test]
fn a_late_chunking_setup_serves_the_vectors_it_was_scored_with() {
    let dir = tempfile::tempdir().unwrap();
    testing::write_corpus(dir.path());
    let text = testing::grid_text("[60, 120]", "[0.5]", "[1, 3]").replace(
        "model = [\"fake-a\"]",
        "model = [\"fake-a\"]\nembedding = [\"standalone\", \"late\"]",
    );
    let grid = testing::grid(dir.path(), "late.toml", &text).unwrap();
    let (records, _) = testing::sweep(dir.path(), &grid, "run").unwrap();
    let point = records
        .iter()
        .find(|r| r.label.ends_with("exact late"))
        .unwrap();
    let run = RunDir::open(&dir.path().join("run")).unwrap();
    let opts = testing::options(dir.path());
    let engine = Engine::open_with(run.path(), Some(&point.config_id), &opts, &MODELS).unwrap();
    let q = engine.question("q0").unwrap().text.clone();
    let hits = engine.search(&q, 3).unwrap().results;
    let want = run.read_rankings(&point.config_id).unwrap();
    let first = &want.questions.iter().find(|r| r.id == "q0").unwrap().chunks;
    assert_eq!(
        hits[0].chunk, first[0],
        "served rank 1 is the scored rank 1"
    );
}
