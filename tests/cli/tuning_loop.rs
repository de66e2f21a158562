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
