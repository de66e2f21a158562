//! `[search]` on the generated corpus with the fake embedder: halving and staged search
//! score their final setups exactly as the full grid does, embed no text twice, and
//! budgets stop cleanly.

use ragtune_sweep::testing::{self, grid_text, metrics_by_row as metrics};
use ragtune_sweep::{Manifest, PointRecord, RunStatus};

fn misses(m: &Manifest) -> u64 {
    m.embeddings.iter().map(|e| e.cache_misses).sum()
}

fn tokens(m: &Manifest) -> u64 {
    m.embeddings.iter().map(|e| e.embedded_tokens).sum()
}

struct Runs {
    dir: tempfile::TempDir,
}

impl Runs {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        testing::write_corpus(dir.path());
        Self { dir }
    }
    /// The fixture grid with `search` appended, swept with a store of its own.
    fn sweep(&self, name: &str, search: &str) -> (Vec<PointRecord>, Manifest) {
        self.sweep_into(name, search, "run")
    }
    /// [`Self::sweep`] into the run folder `out` of `name`'s folder (and its store).
    fn sweep_into(&self, name: &str, search: &str, out: &str) -> (Vec<PointRecord>, Manifest) {
        let sub = self.dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        testing::write_corpus(&sub);
        let text = grid_text("[60, 120, 240]", "[0.3, 0.7]", "[1, 3]") + search;
        let grid = testing::grid(&sub, "g.toml", &text).unwrap();
        testing::sweep(&sub, &grid, out).unwrap()
    }
}

#[test]
fn a_halving_rerun_reads_its_rungs_statistics_back() {
    let r = Runs::new();
    let search = "[search]\nstrategy = \"halving\"\nmin_questions = 2\nregion_chars = 200\n";
    let (first, first_m) = r.sweep_into("halving", search, "run");
    let store = r.dir.path().join("halving").join("store");
    // The store's running totals of `intervals/` reads and writes (the tables' intervals
    // are the caller's, so these are the rungs' alone).
    let intervals = || ragtune_store::history(&store)["intervals"];
    let before = intervals();
    assert!(
        before.writes > 0,
        "the rungs keep their statistics: {before:?}"
    );
    let (again, m) = r.sweep_into("halving", search, "again");
    let after = intervals();
    assert_eq!(after.writes, before.writes, "a re-run computes none again");
    assert_eq!(after.misses, before.misses, "and finds every one");
    assert!(after.hits >= before.writes, "{before:?} {after:?}");
    assert_eq!(metrics(&again), metrics(&first));
    let steps = |m: &Manifest| -> Vec<Vec<String>> {
        let s = m.search.as_ref().unwrap();
        s.steps.iter().map(|s| s.kept.clone()).collect()
    };
    assert_eq!(
        steps(&m),
        steps(&first_m),
        "the same setups survive each rung"
    );
}

#[test]
fn halving_scores_its_survivors_as_the_full_grid_does_and_embeds_nothing_twice() {
    let r = Runs::new();
    let (full, fm) = r.sweep("full", "");
    let (got, hm) = r.sweep(
        "halving",
        "[search]\nstrategy = \"halving\"\nmin_questions = 2\nregion_chars = 200\n",
    );
    let s = hm.search.as_ref().expect("the manifest records the search");
    assert_eq!(s.strategy, ragtune_grid::Strategy::Halving);
    assert!(s.steps.len() >= 2 && s.steps[0].screened && !s.steps.last().unwrap().screened);
    assert_eq!(got.len(), full.len(), "every setup has its last scoring");
    let on_all: Vec<PointRecord> = got.iter().filter(|p| p.on_all_data()).cloned().collect();
    assert!(!on_all.is_empty() && on_all.len() < full.len());
    // The last rung is the full grid's scoring of those setups, to the bit.
    let want = metrics(&full);
    for (key, v) in metrics(&on_all) {
        assert_eq!(want[&key], v, "{key:?}");
    }
    // A chunk scored on a screen is the full run's chunk: its embedding is reused, so the
    // search never embeds more distinct texts than the full grid.
    assert!(
        misses(&hm) <= misses(&fm),
        "{} > {}",
        misses(&hm),
        misses(&fm)
    );
    assert!(tokens(&hm) > 0 && tokens(&fm) > 0);
    // Scored, not finished: the tables are the caller's to write, then the status.
    assert_eq!(hm.status, RunStatus::Scored);
}

#[test]
fn staged_search_scores_a_subset_on_all_the_data() {
    let r = Runs::new();
    let (full, _) = r.sweep("full", "");
    let (got, sm) = r.sweep("staged", "[search]\nstrategy = \"staged\"\n");
    let s = sm.search.as_ref().unwrap();
    assert_eq!(s.strategy, ragtune_grid::Strategy::Staged);
    assert_eq!(s.steps[0].what, "chunking");
    assert!(s.notes.iter().any(|n| n.contains("may interact")));
    assert!(got.iter().all(PointRecord::on_all_data));
    assert!(got.len() < full.len());
    // Stage 0 tried each chunking once.
    assert_eq!(s.steps[0].setups, 3);
    let want = metrics(&full);
    for (key, v) in metrics(&got) {
        assert_eq!(want[&key], v, "{key:?}");
    }
}

#[test]
fn a_spent_budget_stops_cleanly_with_what_was_scored() {
    let r = Runs::new();
    let (got, m) = r.sweep(
        "budget",
        "[search]\nstrategy = \"halving\"\nmin_questions = 2\nregion_chars = 200\nmax_embedded_tokens = 1\n",
    );
    assert_eq!(m.status, RunStatus::Scored);
    assert!(m.search.as_ref().unwrap().budget_reached);
    let mut finished = m.clone();
    finished.finish();
    assert_eq!(finished.status, RunStatus::BudgetReached);
    // The first chunk set was scored before the budget was checked again.
    assert!(!got.is_empty());
    let (got, m) = r.sweep(
        "budget-full",
        "[search]\nstrategy = \"full\"\nmax_embedded_tokens = 1\n",
    );
    assert!(m.search.as_ref().unwrap().budget_reached);
    assert!(!got.is_empty() && got.iter().all(PointRecord::on_all_data));
}
