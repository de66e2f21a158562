//! Sharded sweeps on the generated corpus with the fake embedder: N shards, run one after
//! another or at once over one store and one run folder, merge to the points one process
//! scores, in its order; a shard rerun after a kill redoes only what is missing; an
//! incomplete run folder is refused with what is missing.

use std::path::{Path, PathBuf};

use ragtune_grid::Grid;
use ragtune_sweep::shard::{ShardId, merge_shards, read_records, run_shard};
use ragtune_sweep::testing::{self, grid_text, metrics_by_row};
use ragtune_sweep::{Manifest, PointRecord, RunStatus, Silent};

fn misses(m: &Manifest) -> u64 {
    m.embeddings.iter().map(|e| e.cache_misses).sum()
}

/// A folder with the corpus and the fixture grid.
fn setup(extra: &str) -> (tempfile::TempDir, Grid) {
    let dir = tempfile::tempdir().unwrap();
    testing::write_corpus(dir.path());
    let text = grid_text("[60, 120, 240]", "[0.3, 0.7]", "[1, 3]") + extra;
    let grid = testing::grid(dir.path(), "g.toml", &text).unwrap();
    (dir, grid)
}

fn shard(dir: &Path, grid: &Grid, run: &Path, i: usize, n: usize) -> ragtune_sweep::Result<()> {
    let opts = testing::options(dir);
    run_shard(
        grid,
        run,
        &opts,
        &testing::MODELS,
        &Silent,
        ShardId::new(i, n).unwrap(),
    )
    .map(|_| ())
}

/// Each row's metrics, HNSW setups included: graphs are built serially, so a graph built
/// by another process is the same graph, and every setup must match to the bit.
fn metrics(records: &[PointRecord]) -> std::collections::BTreeMap<(String, u32), String> {
    let hnsw = records.iter().filter(|r| r.label.contains("hnsw")).count();
    assert!(hnsw > 5, "the grid has HNSW setups");
    assert!(records.len() > hnsw + 10, "and other setups");
    metrics_by_row(records)
}

/// Assert equal metrics, naming only the rows that differ.
fn same(a: &[PointRecord], b: &[PointRecord], what: &str) {
    let (a, b) = (metrics(a), metrics(b));
    let differ: Vec<_> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    assert!(differ.is_empty(), "{what}: rows differ: {differ:?}");
}

fn ids(records: &[PointRecord]) -> Vec<String> {
    records.iter().map(|r| r.config_id.clone()).collect()
}

#[test]
fn n_shards_merge_to_the_points_of_one_process_in_its_order() {
    let (dir, grid) = setup("");
    let (single, sm) = testing::sweep(dir.path(), &grid, "single").unwrap();
    for n in [1, 2, 3, 7] {
        // A store of its own for each N, so that each embeds from nothing.
        let sub = dir.path().join(format!("n{n}"));
        testing::write_corpus(&sub);
        let g = testing::grid(&sub, "g.toml", &grid.text).unwrap();
        let run: PathBuf = sub.join("run");
        for i in 0..n {
            shard(&sub, &g, &run, i, n).unwrap();
        }
        let (_, merged, m) = merge_shards(&run).unwrap();
        assert_eq!(
            ids(&merged),
            ids(&single),
            "{n} shards: the same points in the same order"
        );
        same(&merged, &single, &format!("{n} shards"));
        // Run one after another, the shards embed each text once, as one process does.
        assert_eq!(misses(&m), misses(&sm), "{n} shards");
        assert_eq!(m.shards.len(), n);
        assert!(m.shards.iter().all(|s| !s.host.is_empty()));
    }
}

#[test]
fn shards_running_at_once_over_one_store_merge_to_the_same_points() {
    let (dir, grid) = setup("");
    let (single, _) = testing::sweep(dir.path(), &grid, "single").unwrap();
    let sub = dir.path().join("at-once");
    testing::write_corpus(&sub);
    let g = testing::grid(&sub, "g.toml", &grid.text).unwrap();
    let run = sub.join("run");
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                s.spawn({
                    let (sub, g, run) = (&sub, &g, &run);
                    move || shard(sub, g, run, i, 3)
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    });
    let (_, merged, _) = merge_shards(&run).unwrap();
    same(&merged, &single, "merged");
}

#[test]
fn an_incomplete_run_folder_is_refused_with_what_is_missing() {
    let (dir, grid) = setup("");
    let run = dir.path().join("run");
    shard(dir.path(), &grid, &run, 0, 3).unwrap();
    shard(dir.path(), &grid, &run, 2, 3).unwrap();
    let err = merge_shards(&run).unwrap_err().to_string();
    assert!(err.contains("shard 1/3: no record"), "{err}");
    assert!(!run.join("results.parquet").exists());
    // A shard of another count in the same folder is refused before it runs.
    let err = shard(dir.path(), &grid, &run, 0, 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another grid or shard count"), "{err}");
    // An empty folder has nothing to merge.
    let err = merge_shards(&dir.path().join("nothing"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no shard records"), "{err}");
}

#[test]
fn a_killed_shard_rerun_redoes_only_its_missing_points() {
    let (dir, grid) = setup("");
    let (single, _) = testing::sweep(dir.path(), &grid, "single").unwrap();
    let run = dir.path().join("run");
    for i in 0..2 {
        shard(dir.path(), &grid, &run, i, 2).unwrap();
    }
    // Shard 1 "killed": its record left running, one of its points never written.
    let recs = read_records(&run).unwrap();
    let mut rec = recs[1].clone();
    let lost = rec.written[0].clone();
    std::fs::remove_file(run.join("points").join(format!("{lost}.json"))).unwrap();
    rec.status = RunStatus::Running;
    let path = run.join("shards").join(rec.shard.file_name());
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    let err = merge_shards(&run).unwrap_err().to_string();
    assert!(err.contains("shard 1/2: running"), "{err}");
    shard(dir.path(), &grid, &run, 1, 2).unwrap();
    let again = &read_records(&run).unwrap()[1];
    assert_eq!(again.manifest.resumed_points, rec.written.len() - 1);
    assert_eq!(
        misses(&again.manifest),
        0,
        "everything was stored: nothing is embedded again"
    );
    let (_, merged, _) = merge_shards(&run).unwrap();
    same(&merged, &single, "merged");
}

#[test]
fn a_search_grid_is_refused_by_a_shard() {
    let (dir, grid) = setup("[search]\nstrategy = \"halving\"\n");
    let err = shard(dir.path(), &grid, &dir.path().join("run"), 0, 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("remove [search]"), "{err}");
}
