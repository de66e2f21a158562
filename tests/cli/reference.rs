//! Results equal the stored reference table: the quickstart grid, run with the real model,
//! against tests/data/reference/quickstart.csv (written by scripts/reference_table.py from
//! a run of the build before the stage plan). Exact and BM25 setups must match bit for bit;
//! HNSW setups (hnsw_rs does not seed its graph) within 0.05 (5% for context tokens).

use std::collections::BTreeMap;

use crate::util::*;

fn reference() -> BTreeMap<(String, u32), BTreeMap<String, Option<f64>>> {
    let path = root().join("tests/data/reference/quickstart.csv");
    let mut r = csv::Reader::from_path(&path).unwrap();
    let headers = r.headers().unwrap().clone();
    let mut out = BTreeMap::new();
    for row in r.records() {
        let row = row.unwrap();
        let mut metrics = BTreeMap::new();
        for (h, v) in headers.iter().zip(row.iter()).skip(3) {
            metrics.insert(
                h.to_string(),
                (!v.is_empty()).then(|| v.parse::<f64>().unwrap()),
            );
        }
        out.insert((row[0].to_string(), row[2].parse().unwrap()), metrics);
    }
    out
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn quickstart_results_equal_the_stored_reference_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let grid = root().join("grids/quickstart.toml");
    sweep_ok(tmp.path(), &grid, &out, &tmp.path().join("cache"));
    let want = reference();
    let mut got = BTreeMap::new();
    for e in std::fs::read_dir(out.join("points")).unwrap() {
        let p = read_json(&e.unwrap().path());
        let hnsw = p["label"].as_str().unwrap().contains("hnsw");
        for row in p["rows"].as_array().unwrap() {
            got.insert(
                (
                    p["config_id"].as_str().unwrap().to_string(),
                    row["top_k"].as_u64().unwrap() as u32,
                ),
                (hnsw, row.clone()),
            );
        }
    }
    assert_eq!(got.len(), want.len(), "same setups and ks");
    let mut exact_rows = 0;
    for (key, metrics) in &want {
        let (hnsw, row) = got.get(key).unwrap_or_else(|| panic!("{key:?} missing"));
        for (name, w) in metrics {
            let g = row[name.as_str()].as_f64();
            match (w, g, hnsw) {
                (None, None, _) => {}
                (Some(w), Some(g), false) => {
                    assert_eq!(w.to_bits(), g.to_bits(), "{key:?} {name}: {w} vs {g}")
                }
                // Metrics are fractions; context tokens are counts, compared relatively.
                (Some(w), Some(g), true) => {
                    let tol = if name == "context_tokens" {
                        0.05 * w
                    } else {
                        0.05
                    };
                    assert!((w - g).abs() <= tol, "{key:?} {name}: {w} vs {g}")
                }
                _ => panic!("{key:?} {name}: {w:?} vs {g:?}"),
            }
        }
        exact_rows += usize::from(!hnsw);
    }
    assert!(exact_rows >= 160, "{exact_rows} rows compared bit for bit");
}
