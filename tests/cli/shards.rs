//! Sharded sweeps as plain processes: the real binary, model and indexes on the bundled
//! quickstart corpus. N shards at once over one store and run folder merge to the tables
//! and best setup of one process; a shard killed mid-run and rerun does too; the balance
//! `ragtune plan --shards 4` promises holds on both reference grids.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::util::{python_ok, ragtune, ragtune_ok, root, sweep_ok};

fn shard_args(grid: &Path, i: usize, n: usize, out: &Path, cache: &Path) -> Vec<String> {
    [
        "sweep",
        grid.to_str().unwrap(),
        "--shard",
        &format!("{i}/{n}"),
        "--out",
        out.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--threads",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

fn spawn(cwd: &Path, args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ragtune"))
        .args(args)
        .current_dir(cwd)
        .env("RAGTUNE_MODELS_DIR", root().join("models"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn best_id(run: &Path) -> String {
    let text = std::fs::read_to_string(run.join("best.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v["config_id"].as_str().unwrap().to_string()
}

/// The quickstart swept in one process, as the reference.
fn reference(dir: &Path) -> (PathBuf, PathBuf) {
    let grid = root().join("grids/quickstart.toml");
    let single = dir.join("single");
    sweep_ok(dir, &grid, &single, &dir.join("cache-single"));
    (grid, single)
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and the test venv; run scripts/test.sh"]
fn shards_run_at_once_merge_to_the_tables_of_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let (grid, single) = reference(tmp.path());
    for n in [1, 2, 3, 7] {
        let out = tmp.path().join(format!("run{n}"));
        let cache = tmp.path().join(format!("cache{n}"));
        let children: Vec<Child> = (0..n)
            .map(|i| spawn(tmp.path(), &shard_args(&grid, i, n, &out, &cache)))
            .collect();
        let mut merged_by = 0;
        for c in children {
            let o = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{n} shards: {err}");
            merged_by += usize::from(err.contains("every shard is complete: merging"));
        }
        assert_eq!(
            merged_by, 1,
            "{n} shards: exactly one shard merges by itself"
        );
        python_ok(
            "same_tables.py",
            &[single.to_str().unwrap(), out.to_str().unwrap()],
        );
        assert_eq!(best_id(&out), best_id(&single), "{n} shards");
        let m = crate::util::read_json(&out.join("manifest.json"));
        assert_eq!(m["status"], "complete");
        assert_eq!(m["shards"].as_array().unwrap().len(), n);
        // `ragtune merge` again (the Slurm job's dependent step) writes the same tables.
        ragtune_ok(tmp.path(), &["merge", out.to_str().unwrap()]);
        python_ok(
            "same_tables.py",
            &[single.to_str().unwrap(), out.to_str().unwrap()],
        );
    }
}

/// Every file under `dir` whose name marks it temporary (`.NAME.tmp-PID-N`).
fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().contains(".tmp-") {
            out.push(p.clone());
        }
        if p.is_dir() {
            out.extend(temporary_files(&p));
        }
    }
    out
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and the test venv; run scripts/test.sh"]
fn the_same_shard_twice_at_once_both_finish_and_merge_to_one_process() {
    // Two processes on one shard race to place the same store entries and the same
    // run-folder HNSW graphs: a rename that loses must keep the winner's entry, not fail.
    let tmp = tempfile::tempdir().unwrap();
    let (grid, single) = reference(tmp.path());
    for trial in 0..2 {
        let out = tmp.path().join(format!("run{trial}"));
        let cache = tmp.path().join(format!("cache{trial}"));
        let twins: Vec<Child> = (0..2)
            .map(|_| spawn(tmp.path(), &shard_args(&grid, 1, 2, &out, &cache)))
            .collect();
        for c in twins {
            let o = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "trial {trial}: {err}");
        }
        let last = spawn(tmp.path(), &shard_args(&grid, 0, 2, &out, &cache));
        let o = last.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        python_ok(
            "same_tables.py",
            &[single.to_str().unwrap(), out.to_str().unwrap()],
        );
        assert_eq!(best_id(&out), best_id(&single), "trial {trial}");
        let left = [temporary_files(&out), temporary_files(&cache)].concat();
        assert!(left.is_empty(), "temporary files survive: {left:?}");
    }
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and the test venv; run scripts/test.sh"]
fn a_killed_shard_rerun_gives_the_same_merged_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let (grid, single) = reference(tmp.path());
    let out = tmp.path().join("run");
    let cache = tmp.path().join("cache");
    // Shard 1 alone, killed as soon as it has written its first point.
    let mut child = spawn(tmp.path(), &shard_args(&grid, 1, 3, &out, &cache));
    let points = out.join("points");
    let started = std::time::Instant::now();
    // A point is in place once renamed: its temporary file (".ID.json.tmp-…") is not one.
    let written = |dir: &Path| {
        std::fs::read_dir(dir).map_or(0, |d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.ends_with(".json") && !name.starts_with('.')
                })
                .count()
        })
    };
    while written(&points) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "shard 1 ended before it could be killed"
        );
        assert!(
            started.elapsed().as_secs() < 120,
            "shard 1 wrote no point in 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "shard 1 was killed, not finished");
    for i in [0, 2] {
        ragtune_ok(
            tmp.path(),
            &shard_args(&grid, i, 3, &out, &cache)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
    }
    // The merge refuses, naming the killed shard; nothing is written.
    let refused = ragtune(tmp.path(), &["merge", out.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("shard 1/3: running"),
        "{}",
        refused.stderr
    );
    assert!(!out.join("results.parquet").exists());
    let rerun = ragtune_ok(
        tmp.path(),
        &shard_args(&grid, 1, 3, &out, &cache)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        rerun.stderr.contains("every shard is complete: merging"),
        "{}",
        rerun.stderr
    );
    let rec = crate::util::read_json(&out.join("shards/shard-1-of-3.json"));
    let kept = rec["manifest"]["resumed_points"].as_u64().unwrap();
    assert!(
        kept >= 1,
        "the rerun keeps the killed shard's points: {}",
        rerun.stderr
    );
    python_ok(
        "same_tables.py",
        &[single.to_str().unwrap(), out.to_str().unwrap()],
    );
    assert_eq!(best_id(&out), best_id(&single));
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and ../shared/datasets; run scripts/test.sh"]
fn four_shards_of_the_reference_grids_are_balanced_within_15_percent() {
    crate::util::datasets();
    for g in ["reference-chroma", "reference-squad"] {
        let grid = root().join(format!("grids/{g}.toml"));
        let r = ragtune_ok(&root(), &["plan", grid.to_str().unwrap(), "--shards", "4"]);
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with("largest shard:"))
            .unwrap_or_else(|| panic!("{g}: no balance line in\n{}", r.stdout));
        let ratio: f64 = line
            .split_whitespace()
            .nth(2)
            .unwrap()
            .trim_end_matches('x')
            .parse()
            .unwrap();
        assert!((1.0..=1.15).contains(&ratio), "{g}: {line}");
    }
}

#[test]
fn bad_shard_flags_name_what_was_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = root().join("grids/quickstart.toml");
    let g = grid.to_str().unwrap();
    let out = tmp.path().join("run");
    let o = out.to_str().unwrap();
    let r = ragtune(tmp.path(), &["sweep", g, "--shard", "3/3", "--out", o]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("out of range"), "{}", r.stderr);
    let r = Command::new(env!("CARGO_BIN_EXE_ragtune"))
        .args(["sweep", g, "--shard", "auto", "--out", o])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("neither SLURM_ARRAY_TASK_ID"), "{err}");
    let r = ragtune(tmp.path(), &["sweep", g, "--shard", "0/2"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--out"), "{}", r.stderr);
    let r = ragtune(tmp.path(), &["merge", o]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no shard records"), "{}", r.stderr);
    assert!(!out.join("manifest.json").exists());
}
