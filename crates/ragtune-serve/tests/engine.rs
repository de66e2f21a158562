//! The serving engine answers what the sweep evaluated: for every setup of a small
//! generated corpus (fake embedder), and for a late-chunking setup.

use ragtune_serve::Engine;
use ragtune_sweep::testing::{self, MODELS};
use ragtune_sweep::{Models, RunDir};

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
        assert_serves_what_was_scored(&engine, &run, &rec.config_id);
    }
}

/// Headers, prefixes and quantised vectors: every setup of a grid over `chunk_header`,
/// an e5-style model with query and passage prefixes, and float32, int8 and binary
/// vectors (rescored or not) serves the rankings the sweep stored; the texts embedded
/// carry the model's prefixes.
#[test]
fn headers_prefixes_and_quantised_vectors_serve_what_was_scored() {
    let dir = tempfile::tempdir().unwrap();
    testing::write_corpus(dir.path());
    let text = testing::grid_text("[120]", "[0.5]", "[1, 3]")
        .replace("model = [\"fake-a\"]", "model = [\"e5-fake\"]")
        .replace(
            "chunker = [\"chars\"]",
            "chunker = [\"chars\", \"none\"]\nchunk_header = [\"none\", \"title\", \"path\"]",
        )
        .replace(
            "hnsw_ef_search = [16]",
            "hnsw_ef_search = [16]\nvectors = [\"f32\", \"int8\", \"binary\"]\nrescore = [0, 2]\nexpand = [0, 1]",
        )
        .replace("fusion = [\"rrf\", \"weighted\"]", "fusion = [\"rrf\"]");
    let grid = testing::grid(dir.path(), "ctx.toml", &text).unwrap();
    let (records, _) = testing::sweep(dir.path(), &grid, "ctx").unwrap();
    // 2 chunkers × 3 headers × (bm25 + 2 × 2 indexes × 5 vector formats) × 2 expands.
    assert_eq!(records.len(), 2 * 3 * (1 + 2 * 2 * 5) * 2);
    let run = RunDir::open(&dir.path().join("ctx")).unwrap();
    let opts = testing::options(dir.path());
    for rec in &records {
        let engine = Engine::open_with(run.path(), Some(&rec.config_id), &opts, &MODELS).unwrap();
        assert!(engine.reloaded, "{}: served from the store", rec.label);
        assert_serves_what_was_scored(&engine, &run, &rec.config_id);
        assert_passages_were_scored(&engine, rec);
    }
    let store = ragtune_store::StageStore::open(&dir.path().join("store")).unwrap();
    let e = MODELS.load("e5-fake").unwrap();
    let q = "what does the policy say about flood cover";
    let cached = |t: &str| ragtune_store::cached_vector(e.as_ref(), &store, t).is_some();
    assert!(
        cached(&format!("query: {q}")) && !cached(q),
        "questions carry the query prefix"
    );
}

/// A setup with neighbours serves each hit with its passage, and the rank of the first
/// served passage that overlaps a gold span is the rank the sweep scored; the context
/// merges the passages and holds every served chunk.
fn assert_passages_were_scored(engine: &Engine, rec: &ragtune_sweep::PointRecord) {
    for row in rec.questions.iter().filter(|r| r.top_k == 3) {
        let q = engine.question(&row.question_id).unwrap();
        let served = engine.search(&q.text, 3).unwrap();
        let Some(context) = &served.context else {
            assert_eq!(rec.point.expand, 0, "{}", rec.label);
            assert!(served.results.iter().all(|h| h.passage.is_none()));
            continue;
        };
        let doc = |id: &str| engine.corpus.docs.iter().position(|d| d.id == id).unwrap() as u32;
        let first = served.results.iter().position(|h| {
            let p = h.passage.as_ref().unwrap();
            assert!(
                p.chunks.contains(&h.chunk) && p.chunks.len() <= 3,
                "{}",
                rec.label
            );
            let c = ragtune_core::Chunk {
                doc: doc(&p.doc_id),
                start: p.start,
                end: p.end,
            };
            ragtune_sweep::chunk_is_relevant(q, &c)
        });
        let want = row.first_relevant_rank.filter(|&r| r <= 3);
        assert_eq!(first.map(|i| i as u32 + 1), want, "{} {}", rec.label, q.id);
        let held: Vec<u32> = context.iter().flat_map(|p| p.chunks.clone()).collect();
        assert!(served.results.iter().all(|h| held.contains(&h.chunk)));
        assert!(context.len() <= served.results.len());
    }
}

/// Every question's top 3 as `engine` serves them equal the rankings the sweep stored for
/// setup `id`.
fn assert_serves_what_was_scored(engine: &Engine, run: &RunDir, id: &str) {
    let stored = run.read_rankings(id).unwrap();
    for q in &stored.questions {
        let text = &engine.question(&q.id).unwrap().text;
        let got: Vec<u32> = engine
            .search(text, 3)
            .unwrap()
            .results
            .iter()
            .map(|h| h.chunk)
            .collect();
        assert_eq!(got, q.chunks[..3.min(q.chunks.len())], "{id} {}", q.id);
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

/// A swept run with HNSW setups, and one HNSW setup's id and its graph folder.
fn hnsw_run(dir: &std::path::Path) -> (RunDir, String, std::path::PathBuf) {
    testing::write_corpus(dir);
    let text = testing::grid_text("[120]", "[0.5]", "[1, 3]");
    let grid = testing::grid(dir, "g.toml", &text).unwrap();
    let (records, _) = testing::sweep(dir, &grid, "run").unwrap();
    let id = records
        .iter()
        .find(|r| r.label.contains("vector") && r.label.contains("hnsw"))
        .unwrap()
        .config_id
        .clone();
    let run = RunDir::open(&dir.join("run")).unwrap();
    let graphs = run.path().join("index").join("hnsw");
    let graph = std::fs::read_dir(&graphs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    (run, id, graph)
}

/// Flip one bit in the middle of every graph file of `folder`.
fn flip_graph_bits(folder: &std::path::Path) {
    for f in std::fs::read_dir(folder).unwrap() {
        let p = f.unwrap().path();
        if p.file_name().unwrap() == "CHECKSUMS" {
            continue;
        }
        let mut b = std::fs::read(&p).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0x08;
        // Write in place, so that a hard-linked store copy shares the damage.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &b))
            .unwrap();
    }
}

#[test]
fn a_damaged_run_folder_graph_is_repaired_from_the_store_and_serves_what_was_scored() {
    let dir = tempfile::tempdir().unwrap();
    let (run, id, graph) = hnsw_run(dir.path());
    // Give the run folder copies of its own (a copy, not hard links), then damage them.
    for f in std::fs::read_dir(&graph).unwrap() {
        let p = f.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    flip_graph_bits(&graph);
    let opts = testing::options(dir.path());
    let engine = Engine::open_with(run.path(), Some(&id), &opts, &MODELS).unwrap();
    assert_serves_what_was_scored(&engine, &run, &id);
    // The run folder holds a good copy again.
    let key = graph.file_name().unwrap().to_string_lossy().into_owned();
    let verdict = ragtune_store::entry::verify_dir(&graph, ragtune_store::Stage::Hnsw, &key);
    assert_eq!(verdict, ragtune_store::entry::Verdict::Good(()));
}

#[test]
fn a_graph_damaged_in_both_copies_is_refused_with_its_path_and_the_way_back() {
    let dir = tempfile::tempdir().unwrap();
    let (run, id, graph) = hnsw_run(dir.path());
    // Hard links: one flipped bit damages the run folder's copy and the store's.
    flip_graph_bits(&graph);
    let opts = testing::options(dir.path());
    let err = Engine::open_with(run.path(), Some(&id), &opts, &MODELS)
        .err()
        .expect("a damaged graph is never loaded");
    let msg = err.to_string();
    assert!(msg.contains(&graph.display().to_string()), "{msg}");
    assert!(
        msg.contains("no good copy") && msg.contains("remove the folder"),
        "{msg}"
    );
}
