//! The sweep spine: BM25 sweeps on the bundled corpus and on Chroma's data.

use crate::util::*;

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn quickstart_bm25_sweep_writes_valid_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = r#"
[grid]
chunker = ["chars", "markdown", "tokens"]
chunk_size = [120, 400]
chunk_overlap = [0, 30]
retriever = ["bm25"]
top_k = [1, 2, 5, 10]
[select]
objective = "span_recall@5"
"#;
    let g = quickstart_grid(tmp.path(), "qs.toml", "qs-bm25", tables);
    let out = tmp.path().join("run");
    let r = ragtune_ok(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    // The top table goes to stdout, progress and notes to stderr.
    assert!(
        r.stdout.lines().next().unwrap().contains("span_recall@5"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.lines().count() >= 2);
    // 12 chunk specs, but text-splitter's overlap is often a no-op: a chunk set that
    // comes out identical to another (tokens/400/30 equals tokens/400/0 here) is one
    // setup, listed once with both labels.
    let m = read_json(&out.join("manifest.json"));
    let identical = m["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w.as_str().unwrap().contains("is identical to"))
        .count();
    assert!(identical >= 1, "{}", m["warnings"]);
    assert!(
        r.stdout
            .contains("tokens/400/0 bm25 (= tokens/400/30 bm25)"),
        "{}",
        r.stdout
    );
    let distinct = 12 - identical;
    let spread = format!("spread over {distinct} setups: span_recall@5 from ");
    assert!(r.stdout.contains(&spread), "{}", r.stdout);
    let summary = python_ok(
        "check_results.py",
        &[out.to_str().unwrap(), "--expect-retrievers", "bm25"],
    );
    assert!(
        summary.contains(&format!("\"configs\": {distinct}")),
        "{summary}"
    );
    let best = std::fs::read_to_string(out.join("best.toml")).unwrap();
    assert!(
        best.contains("objective = \"span_recall@5\"") && best.contains("[point.chunk]"),
        "{best}"
    );
    assert_quickstart_manifest(&out, distinct);
    collapsed_setup_is_served_as_its_twin(tmp.path(), &g, &out);
}

/// A setup whose chunk set came out identical to another's is scored once, under the
/// other; asking for it by id gets that setup, with a warning that says so.
fn collapsed_setup_is_served_as_its_twin(
    dir: &std::path::Path,
    grid: &std::path::Path,
    out: &std::path::Path,
) {
    let r = ragtune_ok(dir, &["plan", grid.to_str().unwrap(), "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let id = |label: &str| {
        entry(&plan["setups"], "label", label)["config_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (collapsed, twin) = (id("tokens/400/30 bm25"), id("tokens/400/0 bm25"));
    assert!(
        !out.join("points")
            .join(format!("{collapsed}.json"))
            .exists()
    );
    let run = out.to_str().unwrap();
    let r = ragtune_ok(
        dir,
        &[
            "query",
            "--run",
            run,
            "--config",
            &collapsed,
            "flood zone",
            "--json",
        ],
    );
    let hits: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(hits["config_id"], twin.as_str(), "{}", r.stdout);
    assert!(
        r.stderr.contains("made the same chunk set as"),
        "{}",
        r.stderr
    );
    let trec = dir.join("trec");
    ragtune_ok(
        dir,
        &[
            "export-trec",
            "--k",
            "5",
            "--run",
            run,
            "--config",
            &collapsed,
            "--out",
            trec.to_str().unwrap(),
        ],
    );
    assert!(
        std::fs::read_to_string(trec.join("run.trec"))
            .unwrap()
            .contains(&twin)
    );
}

/// The quickstart run's manifest: corpus counts, the grid's text, the build's commit, and
/// one point file per distinct setup.
fn assert_quickstart_manifest(out: &std::path::Path, distinct: usize) {
    let m = read_json(&out.join("manifest.json"));
    assert_eq!(m["n_documents"], 25);
    assert_eq!(m["n_questions"], 75);
    assert!(m["grid_text"].as_str().unwrap().contains("qs-bm25"));
    // The build's commit, 12 hex digits ("unknown" would mean the build lost it).
    let commit = m["git_commit"].as_str().unwrap();
    assert!(
        commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{commit}"
    );
    // Each distinct setup was recorded on its own as it finished.
    let points = std::fs::read_dir(out.join("points")).unwrap().count();
    assert_eq!(points, distinct);
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn chroma_bm25_sweep_on_two_corpora() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = r#"
[grid]
chunker = ["chars", "tokens"]
chunk_size = [200, 800]
chunk_overlap = [0, "50%"]
retriever = ["bm25"]
top_k = [1, 3, 5, 10]
[select]
objective = "recall@5"
"#;
    let include = &["chatlogs", "state_of_the_union"];
    let g = chroma_grid(tmp.path(), "chroma.toml", "chroma-subset", include, tables);
    let out = tmp.path().join("run");
    ragtune_ok(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    python_ok(
        "check_results.py",
        &[out.to_str().unwrap(), "--expect-retrievers", "bm25"],
    );
    let m = read_json(&out.join("manifest.json"));
    assert_eq!(m["n_documents"], 2);
    // 56 chatlogs + 76 state_of_the_union questions, per SOURCE.md.
    assert_eq!(m["n_questions"], 132);
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn an_interrupted_sweep_resumes_from_its_stored_points() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = r#"
[grid]
chunker = ["chars", "markdown"]
chunk_size = [150, 300, 600]
retriever = ["bm25"]
top_k = [1, 3]
[retrieval]
depth = 10
[select]
objective = "span_recall@3"
"#;
    let g = quickstart_grid(tmp.path(), "g.toml", "qs-resume", tables);
    let out = tmp.path().join("run");
    let o = out.to_str().unwrap();
    ragtune_ok(tmp.path(), &["sweep", g.to_str().unwrap(), "--out", o]);
    let original = sorted_points(&out);
    assert_eq!(original.len(), 6);
    // A crash after two points: tables never written, four points missing.
    for f in ["results.parquet", "per_question.parquet", "best.toml"] {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    for p in &original[2..] {
        std::fs::remove_file(
            out.join("points")
                .join(format!("{}.json", p["config_id"].as_str().unwrap())),
        )
        .unwrap();
    }
    ragtune_ok(
        tmp.path(),
        &["sweep", g.to_str().unwrap(), "--out", o, "--resume"],
    );
    let m = read_json(&out.join("manifest.json"));
    assert_eq!(m["resumed_points"], 2);
    assert_eq!(m["status"], "complete");
    python_ok("check_results.py", &[o, "--expect-retrievers", "bm25"]);
    assert_points_unchanged(&original, &out);
    resume_with_a_changed_grid(tmp.path(), tables, &out);
}

/// A run's point files, sorted by config id.
fn sorted_points(out: &std::path::Path) -> Vec<serde_json::Value> {
    let mut v: Vec<_> = std::fs::read_dir(out.join("points"))
        .unwrap()
        .map(|e| read_json(&e.unwrap().path()))
        .collect();
    v.sort_by_key(|p| p["config_id"].as_str().unwrap().to_string());
    v
}

/// Recomputed points carry the same metrics as the first run's `original` points.
fn assert_points_unchanged(original: &[serde_json::Value], out: &std::path::Path) {
    for p in original {
        let again = read_json(
            &out.join("points")
                .join(format!("{}.json", p["config_id"].as_str().unwrap())),
        );
        for (a, b) in p["rows"]
            .as_array()
            .unwrap()
            .iter()
            .zip(again["rows"].as_array().unwrap())
        {
            for metric in [
                "recall",
                "precision",
                "mrr",
                "ndcg",
                "span_recall",
                "span_iou",
                "context_tokens",
            ] {
                assert_eq!(a[metric], b[metric], "{metric} of {}", p["config_id"]);
            }
        }
    }
}

/// Resuming with a changed grid keeps what applies and computes the rest from the stage
/// store: one chunk size fewer, one k more.
fn resume_with_a_changed_grid(dir: &std::path::Path, tables: &str, out: &std::path::Path) {
    let o = out.to_str().unwrap();
    let changed = tables
        .replace("top_k = [1, 3]", "top_k = [1, 3, 5]")
        .replace("chunk_size = [150, 300, 600]", "chunk_size = [150, 300]");
    let g = quickstart_grid(dir, "g.toml", "qs-resume", &changed);
    ragtune_ok(dir, &["sweep", g.to_str().unwrap(), "--out", o, "--resume"]);
    let m = read_json(&out.join("manifest.json"));
    assert_eq!(m["status"], "complete");
    assert_eq!(
        m["resumed_points"], 0,
        "points scored at other ks are rescored"
    );
    let ids = std::fs::read_dir(out.join("points")).unwrap().count();
    assert_eq!(ids, 4, "the 600-character setups are gone");
    let rankings = entry(&m["stages"], "kind", "rankings");
    assert_eq!(rankings["computed"], 0, "{rankings}");
    python_ok("check_results.py", &[o, "--expect-retrievers", "bm25"]);
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn plan_sweep_cache_stats_and_gc_on_the_quickstart() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = root().join("grids/quickstart.toml");
    let (g, cache) = (grid.to_str().unwrap(), tmp.path().join("cache"));
    let c = cache.to_str().unwrap();
    // Before anything ran: every node is still to run.
    let r = ragtune_ok(tmp.path(), &["plan", g, "--cache-dir", c, "--json"]);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(plan["points"], 108);
    let stage = |p: &serde_json::Value, kind: &str| entry(&p["stages"], "kind", kind).clone();
    // 12 chunk sets; rankings: bm25, exact and hnsw(ef=32) per chunk set.
    assert_eq!(stage(&plan, "chunks")["nodes"], 12);
    assert_eq!(stage(&plan, "rankings")["nodes"], 36);
    assert_eq!(stage(&plan, "rankings")["stored"], 0);
    assert!(
        !plan["collapsed"].as_array().unwrap().is_empty(),
        "bm25 ignores model and index"
    );
    let first = sweep_ok(tmp.path(), &grid, &tmp.path().join("run"), &cache);
    intervals_are_kept_and_read_back(tmp.path(), &grid, &cache, &first.stderr);
    let r = ragtune_ok(tmp.path(), &["plan", g, "--cache-dir", c, "--json"]);
    let after: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // markdown/150/37 and markdown/600/150 come out identical to their 0-overlap chunk
    // sets, so their 2 × 3 rankings are never needed.
    assert_eq!(stage(&after, "rankings")["stored"], 30);
    assert_eq!(stage(&after, "rankings")["collapsed"], 6, "and never run");
    assert_eq!(stage(&after, "scores")["collapsed"], 54);
    assert_eq!(
        stage(&plan, "scores")["collapsed"],
        0,
        "unknown before chunking"
    );
    // Now that the chunk sets are stored, the plan knows which ones are the same.
    let same = after["identical_chunk_sets"].to_string();
    assert!(
        same.contains("markdown/150/0") && same.contains("markdown/150/37"),
        "{same}"
    );
    assert!(plan["identical_chunk_sets"].as_array().unwrap().is_empty());
    let text = ragtune_ok(tmp.path(), &["plan", g, "--cache-dir", c]).stdout;
    assert!(
        text.contains("108 points") && text.contains("rankings"),
        "{text}"
    );
    cache_stats_and_gc(tmp.path(), &grid, &cache);
}

/// The first sweep computed the rows' intervals; an identical one reads them all back
/// from the store, and its tables are those of the first, intervals included; so does
/// `report`.
fn intervals_are_kept_and_read_back(
    dir: &std::path::Path,
    grid: &std::path::Path,
    cache: &std::path::Path,
    first: &str,
) {
    let counts = |stderr: &str| -> (u64, u64) {
        let at = stderr
            .find("intervals computed/reused ")
            .expect("the counts are printed");
        let rest = &stderr[at + "intervals computed/reused ".len()..];
        let pair = rest.split_whitespace().next().unwrap();
        let (c, r) = pair.split_once('/').unwrap();
        (c.parse().unwrap(), r.parse().unwrap())
    };
    // Rows with the same values (an HNSW setup ranking as exact does) share an entry
    // within the first sweep already.
    let (computed, reused) = counts(first);
    assert!(computed > 0, "{first}");
    let again = sweep_ok(dir, grid, &dir.join("run-again"), cache);
    assert_eq!(
        counts(&again.stderr),
        (0, computed + reused),
        "{}",
        again.stderr
    );
    let (a, b) = (dir.join("run"), dir.join("run-again"));
    python_ok(
        "same_tables.py",
        &[a.to_str().unwrap(), b.to_str().unwrap()],
    );
    // The report reads them from the store the manifest names. With the store gone it
    // computes them, and the two pages are the same.
    let report =
        |out: &str| ragtune_ok(dir, &["report", "--run", a.to_str().unwrap(), "--out", out]);
    let stored = report("stored.html");
    assert_eq!(
        counts(&stored.stderr),
        (0, computed + reused),
        "{}",
        stored.stderr
    );
    let away = dir.join("store-away");
    std::fs::rename(cache, &away).unwrap();
    let fresh = report("fresh.html");
    std::fs::rename(&away, cache).unwrap();
    assert_eq!(
        counts(&fresh.stderr),
        (computed + reused, 0),
        "{}",
        fresh.stderr
    );
    assert_eq!(
        std::fs::read(dir.join("stored.html")).unwrap(),
        std::fs::read(dir.join("fresh.html")).unwrap(),
        "intervals read back are those computed"
    );
}

/// The bytes the stage store holds, by `cache stats --json`.
fn stored_bytes(dir: &std::path::Path, c: &str) -> (serde_json::Value, u64) {
    let r = ragtune_ok(dir, &["cache", "stats", "--cache-dir", c, "--json"]);
    let stats: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let bytes = stats["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["bytes"].as_u64().unwrap())
        .sum();
    (stats, bytes)
}

/// `cache stats` after the quickstart sweep into `cache`, then `cache gc` down to a third:
/// the least recently used entries go, and a sweep recomputes them.
fn cache_stats_and_gc(dir: &std::path::Path, grid: &std::path::Path, cache: &std::path::Path) {
    let c = cache.to_str().unwrap();
    let (stats, bytes) = stored_bytes(dir, c);
    assert!(bytes > 0);
    assert_eq!(stats["since_created"]["rankings"]["writes"], 30);
    let r = ragtune_ok(
        dir,
        &[
            "cache",
            "gc",
            "--cache-dir",
            c,
            "--max-size",
            &format!("{}", bytes / 3),
        ],
    );
    assert!(r.stdout.starts_with("removed "), "{}", r.stdout);
    let (_, left) = stored_bytes(dir, c);
    assert!(left <= bytes / 3, "{left} > {}", bytes / 3);
    let bad = ragtune(
        dir,
        &["cache", "gc", "--cache-dir", c, "--max-size", "lots"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--max-size"), "{}", bad.stderr);
    sweep_ok(dir, grid, &dir.join("run2"), cache);
    gc_on_a_read_only_store(dir, cache);
}

/// Unmounts its folder when dropped, however the test ends.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A store that cannot be written (bind-mounted read-only: file modes do not stop root,
/// who runs these tests) cannot be collected: gc names each entry it could not remove and
/// exits 2, never "removed 0 entries" with exit 0.
fn gc_on_a_read_only_store(dir: &std::path::Path, cache: &std::path::Path) {
    let ro = dir.join("cache-read-only");
    std::fs::create_dir(&ro).unwrap();
    let mount = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new("mount")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    };
    let bound = mount(&["--bind".as_ref(), cache.as_os_str(), ro.as_os_str()]);
    let _unmount = Unmount(ro.clone());
    let read_only = bound && mount(&["-o".as_ref(), "remount,bind,ro".as_ref(), ro.as_os_str()]);
    assert!(
        read_only,
        "could not bind-mount the store read-only (mount needs root): the read-only gc case did NOT run"
    );
    let r = ragtune(
        dir,
        &[
            "cache",
            "gc",
            "--cache-dir",
            ro.to_str().unwrap(),
            "--max-size",
            "0",
        ],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("could not remove") && r.stderr.contains("removed less than asked"),
        "{}",
        r.stderr
    );
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn killed_sweeps_resume_to_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = root().join("grids/quickstart.toml");
    let reference = tmp.path().join("reference");
    sweep_ok(tmp.path(), &grid, &reference, &tmp.path().join("cache-ref"));
    // SIGKILL at moments spread over a cold sweep of about 2.5 s on two cores: loading,
    // chunking, embedding, indexing, ranking, scoring and writing.
    let moments_ms = [30, 120, 250, 400, 600, 850, 1100, 1400, 1700, 2000, 2300];
    let mut killed = 0;
    for (i, ms) in moments_ms.iter().enumerate() {
        let out = tmp.path().join(format!("run{i}"));
        let cache = tmp.path().join(format!("cache{i}"));
        let args = sweep_args(&grid, &out, &cache);
        let mut child = command(tmp.path())
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(*ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        let mut resume: Vec<&str> = args.iter().map(String::as_str).collect();
        resume.push("--resume");
        ragtune_ok(tmp.path(), &resume);
        python_ok(
            "same_tables.py",
            &[reference.to_str().unwrap(), out.to_str().unwrap()],
        );
    }
    assert!(
        killed >= 8,
        "only {killed} of {} runs were still going when killed",
        moments_ms.len()
    );
}
