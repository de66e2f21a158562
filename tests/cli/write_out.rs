//! A sweep's write-out stopped at each of its fail points (compiled in with the
//! `failpoints` feature, which scripts/test.sh builds): the run never says it is complete
//! before its tables and best.toml are in place; `report`, `check`, `compare`, `serve` and
//! `query` refuse it, saying what is missing and that `--resume` finishes it; `runs` lists
//! it as it stands; `--resume` finishes it to the tables of an uninterrupted run. A
//! finished run whose table is cut short is refused and listed as damaged.

use std::path::Path;

use crate::util::*;

const FAIL_POINTS: [&str; 3] = ["after-tables", "after-best", "before-finish"];

/// Each command that reads a finished run, against run folder `run`.
fn readers(run: &str, other: &str) -> Vec<Vec<String>> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        v(&["report", "--run", run]),
        v(&["check", "--run", run, "--require", "span_recall@1>=0"]),
        v(&["compare", other, run]),
        v(&["serve", "--run", run, "--addr", "127.0.0.1:0"]),
        v(&["query", "--run", run, "flood excess"]),
    ]
}

fn assert_refused(cwd: &Path, run: &str, other: &str, want: &str) {
    for args in readers(run, other) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = ragtune(cwd, &args);
        assert_eq!(r.code, 2, "{args:?} on {run}:\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(want) && r.stderr.contains("--resume"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

fn listed_status(cwd: &Path, dir: &Path, run: &Path) -> String {
    let r = ragtune_ok(cwd, &["runs", "--dir", dir.to_str().unwrap(), "--json"]);
    let runs: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let me = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["run"] == run.to_str().unwrap());
    me.unwrap_or_else(|| panic!("{run:?} not listed: {runs}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv, ../shared/datasets and --features ragtune/failpoints; run scripts/test.sh"]
fn a_sweep_stopped_at_each_write_out_fail_point_is_refused_until_resumed() {
    if !cfg!(feature = "failpoints") {
        panic!(
            "built without the fail points: run with --features ragtune/failpoints (scripts/test.sh does)"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let grid = root().join("grids/quickstart.toml");
    let cache = tmp.path().join("cache");
    let reference = runs.join("reference");
    sweep_ok(tmp.path(), &grid, &reference, &cache);
    let reference_s = reference.to_str().unwrap();
    for point in FAIL_POINTS {
        let out = runs.join(point);
        let args = sweep_args(&grid, &out, &cache);
        let status = command(tmp.path())
            .args(&args)
            .env("RAGTUNE_FAILPOINT", point)
            .output()
            .unwrap()
            .status;
        assert!(
            !status.success(),
            "{point}: the fail point did not stop the sweep"
        );
        let m = read_json(&out.join("manifest.json"));
        assert_eq!(
            m["status"], "scored",
            "{point}: the manifest says {}",
            m["status"]
        );
        assert_refused(
            tmp.path(),
            out.to_str().unwrap(),
            reference_s,
            "the sweep is scored",
        );
        assert_eq!(listed_status(tmp.path(), &runs, &out), "scored", "{point}");
        let mut resume: Vec<&str> = args.iter().map(String::as_str).collect();
        resume.push("--resume");
        ragtune_ok(tmp.path(), &resume);
        assert_eq!(read_json(&out.join("manifest.json"))["status"], "complete");
        for table in ["per_question.parquet", "best.toml"] {
            let (a, b) = (
                std::fs::read(reference.join(table)).unwrap(),
                std::fs::read(out.join(table)).unwrap(),
            );
            if table == "best.toml" {
                // Its first comment line names the run folder.
                let body = |t: &[u8]| {
                    String::from_utf8_lossy(t)
                        .lines()
                        .skip(1)
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                assert_eq!(body(&a), body(&b), "{point}: {table}");
            } else {
                assert!(
                    a == b,
                    "{point}: {table} differs from an uninterrupted run's"
                );
            }
        }
        python_ok("same_tables.py", &[reference_s, out.to_str().unwrap()]);
    }
    // A finished run whose results table was cut short: refused, and listed as damaged.
    let results = reference.join("results.parquet");
    let bytes = std::fs::read(&results).unwrap();
    std::fs::write(&results, &bytes[..bytes.len() / 2]).unwrap();
    let other = runs.join(FAIL_POINTS[0]);
    assert_refused(
        tmp.path(),
        reference_s,
        other.to_str().unwrap(),
        "damaged or truncated",
    );
    assert_eq!(listed_status(tmp.path(), &runs, &reference), "damaged");
    // A point or a ranking changed after the run finished (one digit) is refused when it
    // is opened, not read as that setup's numbers.
    let best =
        toml::from_str::<toml::Value>(&std::fs::read_to_string(other.join("best.toml")).unwrap())
            .unwrap()["config_id"]
            .as_str()
            .unwrap()
            .to_string();
    for sub in ["rankings", "points"] {
        let file = other.join(sub).join(format!("{best}.json"));
        let text = std::fs::read_to_string(&file).unwrap();
        let at = text.find(|c: char| c.is_ascii_digit() && c != '9').unwrap();
        let mut edited = text.clone().into_bytes();
        edited[at] += 1;
        std::fs::write(&file, edited).unwrap();
        let o = other.to_str().unwrap();
        let trec = tmp.path().join(format!("trec-{sub}"));
        let r = match sub {
            "rankings" => ragtune(
                tmp.path(),
                &[
                    "export-trec",
                    "--run",
                    o,
                    "--config",
                    &best,
                    "--k",
                    "5",
                    "--out",
                    trec.to_str().unwrap(),
                ],
            ),
            _ => ragtune(tmp.path(), &["report", "--run", o]),
        };
        assert_eq!(r.code, 2, "{sub}: {}", r.stderr);
        assert!(
            r.stderr.contains("not the bytes the sweep wrote"),
            "{sub}: {}",
            r.stderr
        );
        std::fs::write(&file, text).unwrap();
    }
}
