//! `[search]` end to end on real data: a halving search and a budget on two of Chroma's
//! corpora with a real model, through the real binary.

use crate::util::*;

fn search_grid(dir: &std::path::Path, search: &str) -> std::path::PathBuf {
    let tables = r#"
[grid]
chunker = ["tokens"]
chunk_size = [100, 200, 400]
chunk_overlap = [0]
retriever = ["bm25", "vector", "hybrid"]
model = ["paraphrase-minilm-l3-v2"]
top_k = [1, 5]
[retrieval]
depth = 20
[select]
objective = "span_recall@5"
"#;
    let include = &["chatlogs", "state_of_the_union"];
    chroma_grid(
        dir,
        "g.toml",
        "chroma-search",
        include,
        &format!("{tables}{search}"),
    )
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn halving_screens_then_scores_the_survivors_on_all_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let g = search_grid(
        tmp.path(),
        "[search]\nstrategy = \"halving\"\nmin_questions = 30\nregion_chars = 3000\n",
    );
    // The plan shows the schedule with each screen measured.
    let plan = ragtune_ok(tmp.path(), &["plan", g.to_str().unwrap()]);
    assert!(
        plan.stdout.contains("search: successive halving, eta 3"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("rung  setups"), "{}", plan.stdout);
    let out = tmp.path().join("run");
    let r = sweep_ok(tmp.path(), &g, &out, &tmp.path().join("cache"));
    assert!(
        r.stdout.contains("search: halving over 9 setups"),
        "{}",
        r.stdout
    );
    // The tables open in every reader, screened rows never compete, and the rows on all
    // the data are the last rung's.
    python_ok("check_results.py", &[out.to_str().unwrap()]);
    let m = read_json(&out.join("manifest.json"));
    let steps = m["search"]["steps"].as_array().unwrap();
    assert_eq!(
        steps.len(),
        2,
        "9 setups: one screened rung, then all the data"
    );
    assert_eq!(steps[0]["screened"], true);
    assert_eq!(steps[0]["setups"], 9);
    // The best third, less any significantly worse than the rung's leader.
    let kept = steps[0]["kept"].as_array().unwrap().len();
    assert!((1..=3).contains(&kept), "{kept} kept");
    let q = steps[0]["questions"].as_u64().unwrap();
    assert!((30..132).contains(&q), "{q} questions on the screen");
    assert!(steps[0]["fraction"].as_f64().unwrap() < 0.9);
    assert_eq!(steps[1]["screened"], false);
    assert_eq!(steps[1]["questions"], 132);
    // best.toml compares the winner with every setup rung 0 eliminated, on its screen.
    let best: toml::Table =
        toml::from_str(&std::fs::read_to_string(out.join("best.toml")).unwrap()).unwrap();
    let gone = best["search"]["eliminated"].as_array().unwrap();
    assert_eq!(gone.len(), 9 - kept);
    for e in gone {
        assert_eq!(e["rung"].as_integer(), Some(0));
        assert_eq!(e["questions"].as_integer(), Some(q as i64));
        let (lo, d, hi) = (
            e["low"].as_float().unwrap(),
            e["winner_minus_it"].as_float().unwrap(),
            e["high"].as_float().unwrap(),
        );
        assert!(lo <= d && d <= hi);
    }
    // A search's best.toml loads where every best.toml does.
    let q = ragtune_ok(
        tmp.path(),
        &[
            "query",
            "--run",
            out.to_str().unwrap(),
            "--cache-dir",
            tmp.path().join("cache").to_str().unwrap(),
            "what did the president say about inflation",
        ],
    );
    assert!(!q.stdout.trim().is_empty());
    let kept: Vec<&str> = steps[0]["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(kept.contains(&best["config_id"].as_str().unwrap()));
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn a_spent_budget_ends_the_sweep_cleanly_with_its_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let g = search_grid(
        tmp.path(),
        "[search]\nstrategy = \"full\"\nmax_embedded_tokens = 1000\n",
    );
    let out = tmp.path().join("run");
    let r = sweep_ok(tmp.path(), &g, &out, &tmp.path().join("cache"));
    assert!(r.stderr.contains("budget was reached"), "{}", r.stderr);
    assert!(r.stdout.contains("BUDGET REACHED"), "{}", r.stdout);
    let m = read_json(&out.join("manifest.json"));
    assert_eq!(m["status"], "budget reached");
    assert_eq!(m["search"]["budget_reached"], true);
    // The first chunk set was scored before the budget was checked again; the other two
    // were not started.
    let points = std::fs::read_dir(out.join("points")).unwrap().count();
    assert_eq!(points, 3, "one chunk set's three setups");
    assert!(out.join("results.parquet").is_file() && out.join("best.toml").is_file());
}
