//! Orchestration tests that run anywhere: a small generated corpus, a word-level tokenizer
//! written inline and the deterministic fake embedder. They check what the stage plan
//! promises: reuse across runs, incremental re-runs, resume with a changed grid, plan
//! counts and damaged entries. That serving answers what was evaluated is
//! ragtune-serve's test (tests/engine.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ragtune_grid::Grid;
use ragtune_store::StageStore;
use ragtune_sweep::{
    Manifest, NodeKind, PointRecord, RunDir, Silent, SweepOptions, prepare, run_sweep,
};

use ragtune_sweep::testing::{self, MODELS};

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        testing::write_corpus(dir.path());
        Self { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn grid(&self, name: &str, text: &str) -> Grid {
        testing::grid(self.path(), name, text).unwrap()
    }
    fn opts(&self) -> SweepOptions {
        testing::options(self.path())
    }
    fn sweep(&self, grid: &Grid, out: &str) -> (Vec<PointRecord>, Manifest) {
        testing::sweep(self.path(), grid, out).unwrap()
    }
}

fn stage(m: &Manifest, kind: &str) -> (usize, usize, usize) {
    let s = m.stages.iter().find(|s| s.kind == kind).unwrap();
    (s.nodes, s.computed, s.reused)
}

use ragtune_sweep::testing::metrics_by_row as metrics;

#[test]
fn an_identical_rerun_computes_nothing_and_gives_identical_results() {
    let f = Fixture::new();
    let grid = f.grid(
        "g.toml",
        &testing::grid_text("[120, 200]", "[0.5]", "[1, 3]"),
    );
    let (cold, m1) = f.sweep(&grid, "a");
    assert_eq!(cold.len(), grid.points.len());
    // 2 chunk sets; each: bm25, vectors, one hnsw graph; rankings: bm25, exact, hnsw.
    assert_eq!(stage(&m1, "chunks"), (2, 2, 0));
    assert_eq!(stage(&m1, "vectors"), (2, 2, 0));
    assert_eq!(stage(&m1, "hnsw"), (2, 2, 0));
    assert_eq!(stage(&m1, "rankings"), (6, 6, 0));
    assert!(m1.cache_misses > 0);

    let (warm, m2) = f.sweep(&grid, "b");
    for kind in ["chunks", "bm25", "vectors", "hnsw", "rankings"] {
        assert_eq!(stage(&m2, kind).1, 0, "{kind} computed again");
    }
    assert_eq!(stage(&m2, "rankings").2, 6);
    assert_eq!(
        (m2.cache_misses, m2.cache_hits),
        (0, 0),
        "nothing embedded, no model loaded"
    );
    assert_eq!(m2.execution_provider, None);
    assert_eq!(metrics(&cold), metrics(&warm));
}

#[test]
fn adding_an_alpha_and_a_k_embeds_nothing_and_builds_no_index() {
    let f = Fixture::new();
    let (before, _) = f.sweep(
        &f.grid(
            "g.toml",
            &testing::grid_text("[120, 200]", "[0.5]", "[1, 3]"),
        ),
        "a",
    );
    let grown = f.grid(
        "g2.toml",
        &testing::grid_text("[120, 200]", "[0.5, 0.8]", "[1, 3, 5]"),
    );
    let (after, m) = f.sweep(&grown, "b");
    assert_eq!(after.len(), grown.points.len());
    assert!(after.len() > before.len());
    for kind in ["chunks", "bm25", "vectors", "hnsw", "rankings"] {
        assert_eq!(stage(&m, kind).1, 0, "{kind} computed");
    }
    assert_eq!(m.cache_misses, 0);
    // Every hybrid setup is fused from stored rankings; every (setup, k) is scored.
    let hybrids = grown
        .points
        .iter()
        .filter(|p| p.retriever.fusion().is_some())
        .count();
    assert_eq!(stage(&m, "fusion").1, hybrids);
    assert_eq!(stage(&m, "scores").1, grown.points.len() * 3);
    // Setups both grids share score the same at the shared ks.
    let (old, new) = (metrics(&before), metrics(&after));
    for (k, v) in &old {
        assert_eq!(new.get(k), Some(v), "{k:?}");
    }
}

#[test]
fn resume_with_a_changed_grid_keeps_what_applies_and_refuses_a_changed_corpus() {
    let f = Fixture::new();
    let first = f.grid(
        "g.toml",
        &testing::grid_text("[120, 200]", "[0.5]", "[1, 3]"),
    );
    f.sweep(&first, "run");
    let run = RunDir::open(&f.path().join("run")).unwrap();
    let changed = f.grid(
        "g.toml",
        &testing::grid_text("[120]", "[0.5, 0.8]", "[1, 3]"),
    );
    let (records, m) = run_sweep(&changed, &run, &f.opts(), &MODELS, &Silent, true).unwrap();
    let kept = first
        .points
        .iter()
        .filter(|p| changed.points.contains(p))
        .count();
    assert_eq!(m.resumed_points, kept);
    assert_eq!(records.len(), changed.points.len());
    assert_eq!(
        run.config_ids().unwrap().len(),
        changed.points.len(),
        "stale points removed"
    );
    assert_eq!(stage(&m, "rankings").1, 0);

    // A changed corpus is refused.
    let doc = f.path().join("docs/0-flood.md");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&doc, text.replace("handbook", "rulebook")).unwrap();
    let err = run_sweep(&changed, &run, &f.opts(), &MODELS, &Silent, true).unwrap_err();
    assert!(err.to_string().contains("the corpus changed"), "{err}");
}

#[test]
fn hnsw_build_mode_keys_the_graph_and_serial_graphs_reproduce_from_nothing() {
    let text = testing::grid_text("[120, 200]", "[0.5]", "[1, 3]");
    let f = Fixture::new();
    let (serial, _) = f.sweep(&f.grid("g.toml", &text), "serial");
    let parallel = text.replace("[retrieval]\n", "[retrieval]\nhnsw_build = \"parallel\"\n");
    assert_ne!(parallel, text);
    let (_, m) = f.sweep(&f.grid("p.toml", &parallel), "parallel");
    // Only the graphs (and their rankings) are new: chunks and vectors are reused.
    assert_eq!(stage(&m, "hnsw"), (2, 2, 0));
    assert_eq!(stage(&m, "vectors"), (2, 0, 2));
    assert_eq!(stage(&m, "chunks"), (2, 0, 2));
    let (_, m) = f.sweep(&f.grid("g.toml", &text), "serial-again");
    // The serial graphs are still stored, so their rankings are reused without them.
    assert_eq!(stage(&m, "hnsw").1, 0, "no graph built");
    assert_eq!(stage(&m, "rankings").1, 0, "no ranking computed");
    // Another folder and store: every graph is built again, and every row, HNSW
    // setups included, is the same to the bit.
    let g = Fixture::new();
    let (fresh, m) = g.sweep(&g.grid("g.toml", &text), "fresh");
    assert_eq!(stage(&m, "hnsw"), (2, 2, 0));
    assert!(serial.iter().any(|r| r.label.contains("hnsw")));
    assert_eq!(metrics(&serial), metrics(&fresh));
}

#[test]
fn graphs_built_side_by_side_are_the_graphs_built_alone() {
    // Two models: their graphs are built at the same time, one thread each.
    let text = testing::grid_text("[120, 200]", "[0.5]", "[1, 3]");
    let both = text.replace(r#"model = ["fake-a"]"#, r#"model = ["fake-a", "fake-b"]"#);
    assert_ne!(both, text);
    let f = Fixture::new();
    let (together, m) = f.sweep(&f.grid("both.toml", &both), "both");
    assert_eq!(stage(&m, "hnsw"), (4, 4, 0));
    // Each model alone, from a store of its own: one graph per chunk set.
    let mut alone = Vec::new();
    for model in ["fake-a", "fake-b"] {
        let g = Fixture::new();
        let one = text.replace("fake-a", model);
        let (records, m) = g.sweep(&g.grid("one.toml", &one), "one");
        assert_eq!(stage(&m, "hnsw"), (2, 2, 0));
        alone.extend(records);
    }
    let hnsw_rows = |r: &[PointRecord]| {
        metrics(r)
            .into_iter()
            .filter(|((id, _), _)| {
                r.iter()
                    .any(|p| &p.config_id == id && p.label.contains("hnsw"))
            })
            .collect::<BTreeMap<_, _>>()
    };
    let alone = hnsw_rows(&alone);
    // Per model and chunk set: vector, hybrid rrf and hybrid weighted on HNSW; two k each.
    assert_eq!(alone.len(), 2 * 2 * 3 * 2);
    assert_eq!(hnsw_rows(&together), alone);
}

/// The progress events of a sweep, in order: "add score", "inc hnsw", ….
#[derive(Default)]
struct Events(std::sync::Mutex<Vec<String>>);

impl ragtune_sweep::Reporter for Events {
    fn add(&self, kind: &str, _total: u64) {
        self.0.lock().unwrap().push(format!("add {kind}"));
    }
    fn inc(&self, kind: &str, _n: u64) {
        self.0.lock().unwrap().push(format!("inc {kind}"));
    }
}

#[test]
fn graphs_built_ahead_of_scoring_are_the_graphs_built_in_turn() {
    // Two models, three chunk sets. With a store, all six graphs are built side by side
    // before any chunk set is scored; without one, each chunk set's two graphs are built
    // side by side as it is scored.
    let text = testing::grid_text("[90, 120, 200]", "[0.5]", "[1, 3]")
        .replace(r#"model = ["fake-a"]"#, r#"model = ["fake-a", "fake-b"]"#);
    assert!(text.contains("fake-b"));
    let f = Fixture::new();
    let events = Events::default();
    let run = RunDir::create(&f.path().join("ahead")).unwrap();
    let grid = f.grid("g.toml", &text);
    let (ahead, m) = run_sweep(&grid, &run, &f.opts(), &MODELS, &events, false).unwrap();
    // Every graph was built before the first setup was scored.
    let events = events.0.into_inner().unwrap();
    let first_score = events.iter().position(|e| e == "add score").unwrap();
    let graphs_built = events.iter().filter(|e| *e == "inc hnsw").count();
    assert_eq!(graphs_built, 6);
    assert!(
        events[..first_score]
            .iter()
            .filter(|e| *e == "inc hnsw")
            .count()
            == 6
    );
    // Each node counted once, although the graphs' vectors are read back to score.
    assert_eq!(stage(&m, "vectors"), (6, 6, 0));
    assert_eq!(stage(&m, "hnsw"), (6, 6, 0));
    let g = Fixture::new();
    let grid = g.grid("g.toml", &text);
    let opts = SweepOptions {
        cache_dir: None,
        ..g.opts()
    };
    let run = RunDir::create(&g.path().join("in-turn")).unwrap();
    let events = Events::default();
    let (in_turn, m) = run_sweep(&grid, &run, &opts, &MODELS, &events, false).unwrap();
    assert_eq!(stage(&m, "hnsw"), (6, 6, 0));
    // Here the first chunk set is scored before the others' graphs are built.
    let events = events.0.into_inner().unwrap();
    let first_score = events.iter().position(|e| e == "add score").unwrap();
    assert_eq!(
        events[..first_score]
            .iter()
            .filter(|e| *e == "inc hnsw")
            .count(),
        2
    );
    let hnsw_setups = ahead.iter().filter(|r| r.label.contains("hnsw")).count();
    assert_eq!(hnsw_setups, 2 * 3 * 3, "models x chunk sets x HNSW setups");
    assert_eq!(metrics(&ahead), metrics(&in_turn));
    // A rerun builds nothing ahead: its graphs are stored, and so are their rankings.
    let (again, m) = f.sweep(&f.grid("g.toml", &text), "again");
    assert_eq!(stage(&m, "hnsw"), (6, 0, 0));
    assert_eq!(metrics(&again), metrics(&ahead));
}

#[test]
fn the_plan_counts_distinct_nodes_and_what_is_stored() {
    let f = Fixture::new();
    let grid = f.grid(
        "g.toml",
        &testing::grid_text("[120, 200]", "[0.3, 0.7]", "[1, 3]"),
    );
    let opts = f.opts();
    let mut plan = prepare(
        &grid,
        &MODELS,
        &opts.models_dir,
        None,
        &ragtune_corpus::NoExtract,
    )
    .unwrap()
    .plan;
    let store = StageStore::open(opts.cache_dir.as_deref().unwrap()).unwrap();
    plan.check_store(&store);
    let counts: BTreeMap<NodeKind, (usize, usize)> = plan
        .counts()
        .iter()
        .map(|c| (c.kind, (c.nodes, c.stored)))
        .collect();
    // Per chunk set: 1 bm25 + 2 vector (exact, hnsw) + 2 × (rrf + 2 alphas) hybrids = 9.
    assert_eq!(grid.points.len(), 18);
    assert_eq!(counts[&NodeKind::Chunks], (2, 0));
    assert_eq!(counts[&NodeKind::Bm25], (2, 0));
    assert_eq!(
        counts[&NodeKind::Hnsw],
        (2, 0),
        "one graph serves every ef_search"
    );
    assert_eq!(counts[&NodeKind::Rankings], (6, 0));
    assert_eq!(counts[&NodeKind::Fusion], (12, 0));
    assert_eq!(counts[&NodeKind::Scores], (36, 0));
    // BM25 stands for 1 × 2 indexes × 2 fusions × 2 alphas combinations.
    assert_eq!(grid.combinations[0], 8);
    // Were chars/200 to come out identical to chars/120, everything past its chunks
    // would go unrun; were the order reversed, chars/120's would.
    for identical in [
        ["chars/120/0", "chars/200/0"],
        ["chars/200/0", "chars/120/0"],
    ] {
        let identical = vec![identical.map(String::from).to_vec()];
        let counts: BTreeMap<NodeKind, usize> = plan
            .counts_collapsing(&plan.collapsed_nodes(&identical))
            .iter()
            .map(|c| (c.kind, c.collapsed))
            .collect();
        let want = [
            (NodeKind::Chunks, 0),
            (NodeKind::Bm25, 1),
            (NodeKind::Vectors, 1),
        ];
        let want = want.into_iter().chain([
            (NodeKind::Hnsw, 1),
            (NodeKind::Rankings, 3),
            (NodeKind::Fusion, 6),
            (NodeKind::Rerank, 0),
            (NodeKind::Scores, 18),
        ]);
        assert_eq!(counts, want.collect::<BTreeMap<_, _>>());
    }
    assert!(plan.collapsed_nodes(&[]).is_empty());
    f.sweep(&grid, "a");
    plan.check_store(&store);
    let stored: usize = plan.counts().iter().map(|c| c.stored).sum();
    assert_eq!(stored, 2 + 2 + 2 + 2 + 6, "every kept node is stored");
}

#[test]
fn a_damaged_entry_is_recomputed_never_used() {
    let f = Fixture::new();
    let grid = f.grid("g.toml", &testing::grid_text("[120]", "[0.5]", "[1, 3]"));
    let (cold, _) = f.sweep(&grid, "a");
    // Flip a byte in the payload of every stored ranking.
    let mut damaged = 0;
    for shard in std::fs::read_dir(f.path().join("store/rankings")).unwrap() {
        for e in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let p: PathBuf = e.unwrap().path();
            let mut b = std::fs::read(&p).unwrap();
            let last = b.len() - 1;
            b[last] ^= 1;
            std::fs::write(&p, b).unwrap();
            damaged += 1;
        }
    }
    let (warm, m) = f.sweep(&grid, "b");
    assert_eq!(m.corrupt_entries, damaged);
    assert_eq!(stage(&m, "rankings").1, damaged as usize);
    assert_eq!(metrics(&cold), metrics(&warm));
}

#[test]
fn two_sweeps_sharing_one_store_at_once_never_corrupt_it() {
    let f = Fixture::new();
    let grid = f.grid(
        "g.toml",
        &testing::grid_text("[80, 120, 200]", "[0.3, 0.7]", "[1, 3]"),
    );
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| f.sweep(&grid, "a"));
        let b = s.spawn(|| f.sweep(&grid, "b"));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(metrics(&a.0), metrics(&b.0));
    // Whatever each wrote, every entry now reads back intact and a third sweep reuses it.
    let (c, m) = f.sweep(&grid, "c");
    assert_eq!(m.corrupt_entries, 0);
    for kind in ["chunks", "rankings"] {
        assert_eq!(stage(&m, kind).1, 0, "{kind} computed again");
    }
    // BM25 and exact setups are deterministic; HNSW graphs built twice at once may differ.
    let exact = |r: &BTreeMap<(String, u32), String>| -> BTreeMap<(String, u32), String> {
        r.iter()
            .filter(|((id, _), _)| {
                !c.iter()
                    .any(|p| &p.config_id == id && p.label.contains("hnsw"))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(exact(&metrics(&a.0)), exact(&metrics(&c)));
}

/// Fake models that, like a model folder without `dim` in model.toml, do not declare
/// their dimension.
struct Undeclared;

impl ragtune_sweep::Models for Undeclared {
    fn info(&self, name: &str) -> ragtune_sweep::Result<ragtune_sweep::ModelInfo> {
        let mut info = MODELS.info(name)?;
        info.record.dim = None;
        Ok(info)
    }
    fn load(
        &self,
        name: &str,
    ) -> ragtune_sweep::Result<std::sync::Arc<dyn ragtune_core::Embedder>> {
        MODELS.load(name)
    }
    fn load_cross(
        &self,
        name: &str,
    ) -> ragtune_sweep::Result<std::sync::Arc<dyn ragtune_core::PairScorer>> {
        MODELS.load_cross(name)
    }
}

#[test]
fn stored_vectors_are_reused_when_the_model_declares_no_dimension() {
    let f = Fixture::new();
    let exact = testing::grid_text("[120]", "[0.5]", "[1, 3]")
        .replace("index = [\"exact\", \"hnsw\"]", "index = [\"exact\"]");
    let both = testing::grid_text("[120]", "[0.5]", "[1, 3]");
    let sweep = |grid: &Grid, out: &str| {
        let run = RunDir::create(&f.path().join(out)).unwrap();
        run_sweep(grid, &run, &f.opts(), &Undeclared, &Silent, false)
            .unwrap()
            .1
    };
    sweep(&f.grid("a.toml", &exact), "a");
    // HNSW needs the chunk vectors again: they come from the store, not the embedder.
    let m = sweep(&f.grid("b.toml", &both), "b");
    assert_eq!(stage(&m, "vectors").1, 0, "vectors computed again");
    assert_eq!(stage(&m, "vectors").2, 1);
    // Only the questions' vectors are read back (from the embedding table).
    assert_eq!(m.cache_misses, 0, "nothing embedded");
}

#[test]
fn late_chunking_runs_each_document_once_for_every_chunking() {
    let f = Fixture::new();
    let text = testing::grid_text("[60, 120, 240]", "[0.5]", "[1, 3]").replace(
        "model = [\"fake-a\"]",
        "model = [\"fake-a\"]\nembedding = [\"standalone\", \"late\"]",
    );
    let grid = f.grid("late.toml", &text);
    let (records, m) = f.sweep(&grid, "run");
    let late: Vec<_> = m
        .embeddings
        .iter()
        .filter(|e| e.what.ends_with(" late"))
        .collect();
    assert_eq!(late.len(), 3, "one late embedding per chunk set");
    // The first chunk set runs the 6 documents; the others pool from the stored tokens.
    assert_eq!(late.iter().map(|e| e.cache_misses).sum::<u64>(), 6);
    assert_eq!(late.iter().map(|e| e.cache_hits).sum::<u64>(), 12);
    let tokens: u64 = late.iter().map(|e| e.embedded_tokens).sum();
    assert_eq!(
        tokens, late[0].embedded_tokens,
        "later chunkings embed nothing"
    );
    // Late and standalone setups are scored apart, and their metrics differ somewhere.
    let by = metrics(&records);
    let is_late = |id: &str| {
        records
            .iter()
            .any(|r| r.config_id == id && r.label.ends_with(" late"))
    };
    assert!(by.keys().any(|(id, _)| is_late(id)) && by.keys().any(|(id, _)| !is_late(id)));
    // An identical rerun reads every late vector back.
    let (again, m2) = f.sweep(&grid, "run2");
    assert_eq!(metrics(&again), by);
    assert_eq!(stage(&m2, "vectors").1, 0, "no vectors computed again");
}

/// Every entry of `stage` under `store` (files, or `.d` folders).
fn stage_entries(store: &Path, stage: ragtune_store::Stage) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(store.join(stage.name())) else {
        return out;
    };
    for shard in shards {
        for e in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            out.push(e.unwrap().path());
        }
    }
    out.sort();
    out
}

#[test]
fn store_entries_rotated_among_themselves_are_damage_and_the_tables_stay_the_same() {
    let f = Fixture::new();
    // Two web pages, so that extracted texts are stored too.
    for i in 1..=2 {
        let page = format!("<main><h1>Extra {i}</h1><p>Page {i} of the handbook.</p></main>");
        std::fs::write(f.path().join(format!("docs/extra-{i}.html")), page).unwrap();
    }
    // Late embedding too, so that every kind the store keeps has entries.
    let text = testing::grid_text("[80, 120]", "[0.5]", "[1, 3]").replace(
        "model = [\"fake-a\"]",
        "model = [\"fake-a\"]\nembedding = [\"standalone\", \"late\"]",
    );
    let grid = f.grid("g.toml", &text);
    let (clean, _) = f.sweep(&grid, "a");
    // A bad sync: each entry of a kind gets the bytes of the next entry of that kind,
    // every one of them a valid entry of its own.
    let store = f.path().join("store");
    let mut rotated = BTreeMap::new();
    for stage in ragtune_store::Stage::ALL {
        if stage == ragtune_store::Stage::Intervals {
            // Written by the command line's write-out and by halving's rungs, not by this
            // grid's sweep; entries of every kind are verified against their stage and key
            // alike.
            continue;
        }
        let entries = stage_entries(&store, stage);
        assert!(entries.len() >= 2, "{stage:?}: {} entries", entries.len());
        let tmp = store.join("rotating");
        std::fs::rename(&entries[0], &tmp).unwrap();
        for w in entries.windows(2) {
            std::fs::rename(&w[1], &w[0]).unwrap();
        }
        std::fs::rename(&tmp, entries.last().unwrap()).unwrap();
        rotated.insert(stage.name().to_string(), entries.len() as u64);
    }
    let (again, m) = f.sweep(&grid, "b");
    assert_eq!(
        metrics(&clean),
        metrics(&again),
        "no rotated entry was used"
    );
    let history = ragtune_store::history(&store);
    let mut damaged = 0;
    for (stage, n) in &rotated {
        let c = history.get(stage).map_or(0, |c| c.corrupt);
        assert!(
            (1..=*n).contains(&c),
            "{stage}: {c} of {n} rotated entries found damaged"
        );
        damaged += c;
    }
    assert_eq!(m.corrupt_entries, damaged);
    // The store is whole again: the same grid reads everything and computes nothing.
    let (third, m3) = f.sweep(&grid, "c");
    assert_eq!(metrics(&third), metrics(&clean));
    assert_eq!(m3.corrupt_entries, 0);
    // (Fusion and scores are not stored: they are always computed.)
    let stored = |kind: &str| ragtune_store::Stage::ALL.iter().any(|s| s.name() == kind);
    let recomputed: Vec<_> = m3
        .stages
        .iter()
        .filter(|s| stored(&s.kind) && s.computed > 0)
        .collect();
    assert!(recomputed.is_empty(), "{recomputed:?}");
}

/// The cost columns: latency percentiles in order, a hybrid's bytes the sum of its two
/// retrievers', HNSW holding its links beside the vectors, stored entries counted on disk,
/// and a rerun reporting the very costs it read back.
#[test]
fn cost_columns_add_up_and_are_read_back_with_the_rankings() {
    let f = Fixture::new();
    let grid = f.grid("g.toml", &testing::grid_text("[120]", "[0.5]", "[1]"));
    let (cold, _) = f.sweep(&grid, "a");
    let costs = |label: &str| {
        let r = cold.iter().find(|r| r.label.contains(label)).unwrap();
        r.rows[0].costs
    };
    let (bm25, exact, hnsw) = (
        costs("bm25"),
        costs("vector fake-a exact"),
        costs("vector fake-a hnsw"),
    );
    let hybrid = costs("hybrid rrf(k=60) fake-a exact");
    for c in [bm25, exact, hnsw, hybrid] {
        assert!(c.query_ms_p50 > 0.0, "{c:?}");
        assert!(
            c.query_ms_p50 <= c.query_ms_p95 && c.query_ms_p95 <= c.query_ms_p99,
            "{c:?}"
        );
        assert!(c.index_bytes > 0 && c.disk_bytes > 0, "{c:?}");
    }
    // 6 questions' chunks of 120 characters, 32-dimensional f32 vectors.
    let n_chunks = cold[0].rows[0].n_chunks;
    assert_eq!(exact.index_bytes, n_chunks * 32 * 4);
    assert_eq!(exact.disk_bytes, exact.index_bytes);
    assert!(hnsw.index_bytes >= exact.index_bytes + n_chunks * ragtune_vector::LINK_BYTES);
    assert_eq!(hybrid.index_bytes, bm25.index_bytes + exact.index_bytes);
    assert_eq!(hybrid.disk_bytes, bm25.disk_bytes + exact.disk_bytes);
    // A rerun reads each retriever's rankings with their costs; only a hybrid's fusion,
    // never stored, is timed again.
    let (warm, _) = f.sweep(&grid, "b");
    let all = |rs: &[PointRecord]| -> Vec<String> {
        rs.iter()
            .map(|r| {
                let c = r.rows[0].costs;
                match r.point.retriever.fusion() {
                    None => serde_json::to_string(&c).unwrap(),
                    Some(_) => format!("{} {} {}", c.index_seconds, c.index_bytes, c.disk_bytes),
                }
            })
            .collect()
    };
    assert_eq!(all(&cold), all(&warm));
}

/// A reranker embeds only texts its model has not embedded before (the manifest counts
/// them), a deeper reranker adds only the chunks it reaches, and a rerun reads every
/// reranked ranking back.
#[test]
fn rerankers_embed_only_new_texts_and_are_stored_rankings() {
    let f = Fixture::new();
    let base = testing::grid_text("[120]", "[0.5]", "[1, 3]")
        .replace(
            "retriever = [\"bm25\", \"vector\", \"hybrid\"]",
            "retriever = [\"bm25\", \"vector\"]",
        )
        .replace("index = [\"exact\", \"hnsw\"]", "index = [\"exact\"]");
    let with = |rerank: &str| base.replace("top_k = [1, 3]", &format!("top_k = [1, 3]\n{rerank}"));
    let rerank = |m: &Manifest| {
        let r: Vec<_> = m.embeddings.iter().filter(|e| e.what == "rerank").collect();
        (
            r.iter().map(|e| e.cache_hits).sum::<u64>(),
            r.iter().map(|e| e.cache_misses).sum::<u64>(),
        )
    };
    // fake-a retrieves: its chunk vectors are cached, so reranking by it embeds nothing.
    let grid = f.grid(
        "a.toml",
        &with("rerank = [\"none\", \"embed:fake-a\"]\nrerank_depth = [3]"),
    );
    let (records, m) = f.sweep(&grid, "a");
    assert_eq!(records.len(), 4);
    let (hits, misses) = rerank(&m);
    assert!(hits > 0 && misses == 0, "{hits} {misses}");
    assert_eq!(stage(&m, "rerank"), (2, 2, 0));
    // A second model embeds the chunks of every question's top 3, once for both setups.
    let grid = f.grid(
        "b.toml",
        &with("rerank = [\"embed:fake-b\"]\nrerank_depth = [3]"),
    );
    let (_, m) = f.sweep(&grid, "b");
    let first = rerank(&m);
    assert!(first.1 > 0, "{first:?}");
    // Deeper: only the chunks ranked 4 to 5 are new.
    let grid = f.grid(
        "c.toml",
        &with("rerank = [\"embed:fake-b\"]\nrerank_depth = [3, 5]"),
    );
    let (records, m) = f.sweep(&grid, "c");
    assert_eq!(stage(&m, "rerank"), (4, 2, 2));
    let (hits, misses) = rerank(&m);
    assert!(
        hits >= first.0 + first.1 && misses < first.1 * 2,
        "{hits} {misses} after {first:?}"
    );
    let reranked = records.iter().find(|r| r.label.ends_with("@5")).unwrap();
    assert!(
        reranked.rows[0]
            .costs
            .rerank_ms_p50
            .is_some_and(|ms| ms > 0.0)
    );
    let (_, m) = f.sweep(&grid, "d");
    assert_eq!(stage(&m, "rerank"), (4, 0, 4));
    assert_eq!(
        rerank(&m),
        (0, 0),
        "nothing embedded for a stored reranking"
    );
}

/// The fake models, counting the queries embedded one at a time (the latency sample's).
struct CountingModels(std::sync::Arc<std::sync::atomic::AtomicUsize>);

struct CountingEmbedder {
    inner: std::sync::Arc<dyn ragtune_core::Embedder>,
    alone: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl ragtune_core::Embedder for CountingEmbedder {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn namespace(&self) -> &str {
        self.inner.namespace()
    }
    fn provider(&self) -> &str {
        self.inner.provider()
    }
    fn embed(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<ragtune_core::EmbedOutput, ragtune_core::EmbedFailure> {
        self.inner.embed(texts, progress)
    }
    fn count_truncated(&self, texts: &[&str]) -> Result<usize, ragtune_core::EmbedFailure> {
        self.inner.count_truncated(texts)
    }
    fn query_prefix(&self) -> &str {
        self.inner.query_prefix()
    }
    fn passage_prefix(&self) -> &str {
        self.inner.passage_prefix()
    }
    fn batching(&self) -> Option<ragtune_core::Batching> {
        self.inner.batching()
    }
    fn embed_batches(
        &self,
        texts: &[&str],
        progress: &(dyn Fn(usize) + Sync),
        sink: &mut ragtune_core::BatchSink<'_>,
    ) -> Result<ragtune_core::EmbedTotals, ragtune_core::EmbedFailure> {
        self.inner.embed_batches(texts, progress, sink)
    }
    fn token_vectors(
        &self,
        text: &str,
        window: usize,
        overlap: usize,
    ) -> Result<ragtune_core::TokenVectors, ragtune_core::EmbedFailure> {
        self.inner.token_vectors(text, window, overlap)
    }
    fn embed_queries(
        &self,
        texts: &[&str],
        budget: usize,
    ) -> Result<Vec<f32>, ragtune_core::EmbedFailure> {
        if texts.len() == 1 {
            self.alone
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.inner.embed_queries(texts, budget)
    }
}

impl ragtune_sweep::Models for CountingModels {
    fn info(&self, name: &str) -> ragtune_sweep::Result<ragtune_sweep::ModelInfo> {
        MODELS.info(name)
    }
    fn load(
        &self,
        name: &str,
    ) -> ragtune_sweep::Result<std::sync::Arc<dyn ragtune_core::Embedder>> {
        Ok(std::sync::Arc::new(CountingEmbedder {
            inner: MODELS.load(name)?,
            alone: self.0.clone(),
        }))
    }
    fn load_cross(
        &self,
        name: &str,
    ) -> ragtune_sweep::Result<std::sync::Arc<dyn ragtune_core::PairScorer>> {
        MODELS.load_cross(name)
    }
}

/// Query latency adds the query's embedding, which depends on the model alone: it is
/// measured once per model and run (three warm-up queries, then the sample), not once per
/// vector rankings node.
#[test]
fn query_embedding_latency_is_measured_once_per_model() {
    let f = Fixture::new();
    let grid = f.grid("g.toml", &testing::grid_text("[120, 200]", "[0.5]", "[1]"));
    let alone = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let run = RunDir::create(&f.path().join("a")).unwrap();
    let models = CountingModels(alone.clone());
    let (_, m) = run_sweep(&grid, &run, &f.opts(), &models, &Silent, false).unwrap();
    // 2 chunk sets × (exact, hnsw): 4 vector rankings nodes, one model.
    assert_eq!(stage(&m, "rankings").1, 6);
    let sample = ragtune_eval::LATENCY_SAMPLE.min(m.n_questions);
    assert_eq!(alone.load(std::sync::atomic::Ordering::Relaxed), 3 + sample);
}
