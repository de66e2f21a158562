//! The comparison loop on real runs: compare two runs, gate one in CI, list the history.

use crate::util::*;

/// The grid's tables, after the quickstart corpus; SIZE is replaced.
const TABLES: &str = r#"
[grid]
chunker = ["markdown"]
chunk_size = [SIZE]
retriever = ["bm25"]
top_k = [1, 5]
[select]
objective = "span_recall@5"
"#;

fn sweep(tmp: &std::path::Path, name: &str, size: &str) -> std::path::PathBuf {
    let tables = TABLES.replace("SIZE", size);
    let g = quickstart_grid(tmp, &format!("{name}.toml"), name, &tables);
    let out = tmp.join("runs").join(name);
    sweep_ok(tmp, &g, &out, &tmp.join("cache"));
    out
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn compare_check_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let small = sweep(tmp.path(), "small", "100, 150");
    let large = sweep(tmp.path(), "large", "600, 150");
    let (s, l) = (small.to_str().unwrap(), large.to_str().unwrap());

    compare_runs(tmp.path(), s, l);
    check_gates(tmp.path(), l);

    let r = ragtune_ok(
        tmp.path(),
        &[
            "runs",
            "--dir",
            tmp.path().join("runs").to_str().unwrap(),
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["grid"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["large", "small"], "newest first");
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn holdout_chooses_on_the_tuning_part_and_reports_the_held_out_part() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = TABLES.replace("SIZE", "150, 300, 600").replace(
        "objective = \"span_recall@5\"",
        "objective = \"span_recall@1\"\nholdout = 0.3",
    );
    let g = quickstart_grid(tmp.path(), "held.toml", "held", &tables);
    let out = tmp.path().join("run");
    let r = sweep_ok(tmp.path(), &g, &out, &tmp.path().join("cache"));
    assert!(r.stdout.contains("held-out"), "{}", r.stdout);
    let code = r#"
import sys, polars as pl, tomllib
df = pl.read_parquet(sys.argv[1] + "/results.parquet")
assert sorted(df["split"].unique().to_list()) == ["all", "test", "tune"], df["split"].unique()
k1 = df.filter(pl.col("top_k") == 1)
for cid in k1["config_id"].unique():
    rows = {r["split"]: r for r in k1.filter(pl.col("config_id") == cid).iter_rows(named=True)}
    assert rows["tune"]["n_questions"] + rows["test"]["n_questions"] == rows["all"]["n_questions"] == 75, rows
    assert 10 <= rows["test"]["n_questions"] <= 35, rows["test"]["n_questions"]
best = tomllib.load(open(sys.argv[1] + "/best.toml", "rb"))
tune = k1.filter(pl.col("split") == "tune").sort("span_recall", descending=True)
assert best["value"] == tune["span_recall"][0], (best["value"], tune["span_recall"][0])
test = k1.filter((pl.col("split") == "test") & (pl.col("config_id") == best["config_id"]))
assert best["held_out"] == test["span_recall"][0], (best["held_out"], test["span_recall"][0])
print("ok")
"#;
    python_inline_ok(code, &[out.to_str().unwrap()]);
}

/// `compare`: a run against itself, then two runs that share one setup.
fn compare_runs(tmp: &std::path::Path, s: &str, l: &str) {
    // A run against itself: every setup the same, no interval away from 0.
    let r = ragtune_ok(tmp, &["compare", s, s, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r["verdict"] == "same" && r["diff"] == 0.0),
        "{v}"
    );
    // The shared setup (150) is matched by config id and unchanged; 600-character chunks
    // against 100 are not in both runs.
    let r = ragtune_ok(tmp, &["compare", s, l, "--metric", "span_recall@1"]);
    assert!(r.stdout.contains("1 setup compared"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("not compared: 1 only in A, 1 only in B, 0 without span_recall@1"),
        "{}",
        r.stdout
    );
}

/// `check`: requirements met and not, a baseline, and gates that cannot be judged.
fn check_gates(tmp: &std::path::Path, l: &str) {
    // The gate: a requirement the best setup meets by its lower bound, and one it cannot.
    let ok = ragtune(
        tmp,
        &["check", "--run", l, "--require", "span_recall@5>=0.5"],
    );
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.starts_with("PASS "), "{}", ok.stdout);
    let bad = ragtune(
        tmp,
        &[
            "check",
            "--run",
            l,
            "--require",
            "span_recall@5>=0.99",
            "--require",
            "recall@1>=0.999",
        ],
    );
    assert_eq!(bad.code, 1, "{}{}", bad.stdout, bad.stderr);
    assert_eq!(
        bad.stdout
            .lines()
            .filter(|l| l.starts_with("FAIL "))
            .count(),
        2,
        "{}",
        bad.stdout
    );
    // Against itself as the baseline nothing dropped (--max-drop defaults to 0), and the
    // passing gate says what it checked.
    let same = ragtune(tmp, &["check", "--run", l, "--baseline", l]);
    assert_eq!(same.code, 0, "{}{}", same.stdout, same.stderr);
    assert!(
        same.stdout
            .contains("  ok span_recall@5: best setup +0.0000"),
        "{}",
        same.stdout
    );
    // A baseline swept on another corpus does not compare: a copy of the run whose
    // manifest names another corpus fingerprint.
    let moved = tmp.join("other-corpus");
    copy_dir(std::path::Path::new(l), &moved);
    let manifest = moved.join("manifest.json");
    let mut m = read_json(&manifest);
    m["corpus_fingerprint"] = "0".repeat(64).into();
    std::fs::write(&manifest, m.to_string()).unwrap();
    let other = ragtune(
        tmp,
        &["check", "--run", l, "--baseline", moved.to_str().unwrap()],
    );
    assert_eq!(other.code, 2, "{}{}", other.stdout, other.stderr);
    assert!(
        other.stderr.contains("different corpora"),
        "{}",
        other.stderr
    );
    for (args, why) in [
        (
            &["check", "--run", l, "--require", "span_recall@5>0.5"][..],
            "expected metric@k>=threshold",
        ),
        (&["check", "--run", l][..], "nothing to check"),
    ] {
        let usage = ragtune(tmp, args);
        assert_eq!(usage.code, 2, "{}", usage.stderr);
        assert!(usage.stderr.contains(why), "{}", usage.stderr);
    }
}

/// The grid of the limits test: BM25, vectors and hybrids, exact and HNSW.
const PRICED: &str = r#"
[grid]
chunker = ["markdown"]
chunk_size = [300, 600]
retriever = ["bm25", "vector", "hybrid"]
model = ["all-minilm-l6-v2"]
index = ["exact", "hnsw"]
fusion = ["rrf"]
top_k = [1, 5]
[select]
objective = "span_recall@1"
"#;

/// The setups of a run's results.parquet at k = 1 as (config id, span_recall, p99, index
/// bytes), and best.toml.
const READ_RUN: &str = r#"
import sys, json, polars as pl, tomllib
df = pl.read_parquet(sys.argv[1] + "/results.parquet").filter(pl.col("top_k") == 1)
rows = [(r["config_id"], r["span_recall"], r["query_ms_p99"], r["index_bytes"], r["disk_bytes"]) for r in df.iter_rows(named=True)]
best = tomllib.load(open(sys.argv[1] + "/best.toml", "rb"))
print(json.dumps({"rows": rows, "best": best}))
"#;

fn read_run(out: &std::path::Path) -> serde_json::Value {
    let o = std::process::Command::new(python())
        .args(["-c", READ_RUN, out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `[select] max_p99_ms` and `max_index_bytes`: the best setup is the best one within
/// them, the table says how many each excluded, and best.toml records them.
#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn latency_and_memory_limits_choose_the_best_setup_that_fits() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let g = quickstart_grid(tmp.path(), "free.toml", "free", PRICED);
    let free = tmp.path().join("free");
    sweep_ok(tmp.path(), &g, &free, &cache);
    let v = read_run(&free);
    for r in v["rows"].as_array().unwrap() {
        assert!(
            r[2].as_f64().unwrap() > 0.0 && r[3].as_u64().unwrap() > 0,
            "{r}"
        );
        assert!(r[4].as_u64().unwrap() > 0, "on disk in the store: {r}");
    }
    // Half the unconstrained best's p99, and one byte less than the largest index.
    let best_p99 = (v["rows"].as_array().unwrap().iter())
        .find(|r| r[0] == v["best"]["config_id"])
        .map(|r| r[2].as_f64().unwrap())
        .unwrap();
    let p99 = best_p99 / 2.0;
    let vector_bytes = (v["rows"].as_array().unwrap().iter())
        .map(|r| r[3].as_u64().unwrap())
        .max()
        .unwrap()
        - 1;
    let tables = PRICED.replace(
        "objective = \"span_recall@1\"",
        &format!(
            "objective = \"span_recall@1\"\nmax_p99_ms = {p99}\nmax_index_bytes = {vector_bytes}"
        ),
    );
    let g = quickstart_grid(tmp.path(), "priced.toml", "priced", &tables);
    let priced = tmp.path().join("priced");
    let r = sweep_ok(tmp.path(), &g, &priced, &cache);
    let v = read_run(&priced);
    let rows = v["rows"].as_array().unwrap();
    let over = |i: usize, m: f64| rows.iter().filter(|r| r[i].as_f64().unwrap() > m).count();
    let (slow, big) = (over(2, p99), over(3, vector_bytes as f64));
    assert!(
        slow >= 1 && big >= 1,
        "the unconstrained best is over half its own p99"
    );
    let line = format!("max_p99_ms excluded {slow}, max_index_bytes excluded {big};");
    assert!(r.stdout.contains(&line), "{line:?} not in\n{}", r.stdout);
    let best = &v["best"];
    assert_eq!(best["max_p99_ms"].as_f64(), Some(p99));
    assert_eq!(best["max_index_bytes"].as_u64(), Some(vector_bytes));
    let row = rows.iter().find(|r| r[0] == best["config_id"]).unwrap();
    assert!(row[2].as_f64().unwrap() <= p99, "{row}");
    assert!(row[3].as_u64().unwrap() <= vector_bytes, "{row}");
    let fits = rows
        .iter()
        .filter(|r| r[2].as_f64().unwrap() <= p99 && r[3].as_u64().unwrap() <= vector_bytes);
    let top = fits
        .map(|r| r[1].as_f64().unwrap())
        .fold(f64::MIN, f64::max);
    assert_eq!(best["value"].as_f64(), Some(top), "{best}");
}
