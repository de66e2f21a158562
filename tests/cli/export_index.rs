//! `ragtune export index`: the chosen setup as Parquet that LanceDB loads; an exact setup's
//! rankings reproduced by LanceDB's flat search with ragtune's query vectors.

use serde_json::Value;

use crate::util::*;

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and the test venv (lancedb); run scripts/test.sh"]
fn an_exported_index_loads_into_lancedb_and_ranks_as_the_sweep_did() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let grid = quickstart_grid(
        tmp,
        "g.toml",
        "export",
        "[grid]\nchunker = [\"markdown\"]\nchunk_size = [300]\nretriever = [\"bm25\", \"vector\", \"hybrid\"]\nmodel = [\"all-minilm-l6-v2\"]\nindex = [\"exact\", \"hnsw\"]\nfusion = [\"rrf\"]\ntop_k = [5]\n[select]\nobjective = \"span_recall@5\"\n",
    );
    let (run, cache) = (tmp.join("run"), tmp.join("cache"));
    sweep_ok(tmp, &grid, &run, &cache);
    let points = read_points(&run);
    let id_of = |want: &str| -> String {
        let p = points
            .iter()
            .find(|p| p["label"].as_str().unwrap().contains(want));
        p.unwrap_or_else(|| panic!("no setup {want}"))["config_id"]
            .as_str()
            .unwrap()
            .into()
    };
    let export = |id: &str, out: &str| {
        let args = [
            "export",
            "index",
            "run",
            "--config",
            id,
            "--out",
            out,
            "--cache-dir",
            "cache",
        ];
        ragtune_ok(tmp, &args);
    };
    export(&id_of("vector all-minilm-l6-v2 exact"), "exact");
    export(&id_of("vector all-minilm-l6-v2 hnsw"), "hnsw");
    export(&id_of("hybrid"), "hybrid");
    export(&id_of("bm25"), "bm25");
    // An existing folder is refused unless --overwrite; with it, replaced whole.
    let again = ragtune(
        tmp,
        &[
            "export",
            "index",
            "run",
            "--out",
            "exact",
            "--cache-dir",
            "cache",
        ],
    );
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("--overwrite"), "{}", again.stderr);
    let setup = read_json(&tmp.join("bm25/setup.json"));
    assert_eq!(setup["bm25"]["k1"], 1.2, "{setup}");
    assert!(
        !tmp.join("bm25/questions.parquet").exists(),
        "BM25 has no query vectors"
    );
    let out = python_ok(
        "lancedb_check.py",
        &[
            run.to_str().unwrap(),
            "5",
            tmp.join("exact").to_str().unwrap(),
            tmp.join("hnsw").to_str().unwrap(),
            tmp.join("hybrid").to_str().unwrap(),
            tmp.join("bm25").to_str().unwrap(),
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    eprintln!("lancedb: {v}");
    let e = &v["exact"];
    assert_eq!(e["questions"], 75, "{v}");
    assert_eq!(e["dim"], 384, "{v}");
    let same = e["equal"].as_u64().unwrap() + e["equal_up_to_ties"].as_u64().unwrap();
    assert_eq!(same, 75, "{v}");
    for (name, o) in v["overlap_at_k"].as_object().unwrap() {
        if let Some(x) = o.as_f64() {
            assert!((0.0..=1.0).contains(&x), "{name}: {o}");
        }
    }
    ragtune_ok(
        tmp,
        &[
            "export",
            "index",
            "run",
            "--out",
            "exact",
            "--overwrite",
            "--cache-dir",
            "cache",
        ],
    );
    assert!(tmp.join("exact/chunks.parquet").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".exact."))
        .collect();
    assert!(leftovers.is_empty(), "no temporary folder is left behind");
}
