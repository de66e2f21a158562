//! all-minilm-l6-v2-q8, the int8 model models/fetch.sh derives: it loads by name, the
//! manifest pins the derived file, and it retrieves about as well as the fp32 model.

use crate::util::*;

#[test]
#[ignore = "end-to-end: needs models/fetch.sh and the test venv; run scripts/test.sh"]
fn the_derived_int8_model_runs_and_retrieves_like_the_fp32_one() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = r#"
[grid]
chunker = ["markdown"]
chunk_size = [300, 600]
retriever = ["vector"]
model = ["all-minilm-l6-v2", "all-minilm-l6-v2-q8"]
top_k = [5]
[select]
objective = "recall@5"
"#;
    let g = quickstart_grid(tmp.path(), "q8.toml", "q8", tables);
    let out = tmp.path().join("run");
    sweep_ok(tmp.path(), &g, &out, &tmp.path().join("cache"));
    let m = read_json(&out.join("manifest.json"));
    let declared: toml::Table = toml::from_str(
        &std::fs::read_to_string(root().join("models/all-minilm-l6-v2-q8/model.toml")).unwrap(),
    )
    .unwrap();
    // The manifest records the q8 model.
    let q8 = entry(&m["models"], "name", "all-minilm-l6-v2-q8");
    assert_eq!(q8["sha256"].as_str(), declared["sha256"].as_str());
    // Per chunk set, recall@5 of the two models within 0.05 over the 75 questions.
    let mut by: std::collections::BTreeMap<(String, String), f64> = Default::default();
    for e in std::fs::read_dir(out.join("points")).unwrap() {
        let p = read_json(&e.unwrap().path());
        let label = p["label"].as_str().unwrap().to_string();
        let chunk = label.split(' ').next().unwrap().to_string();
        let model = p["point"]["model"].as_str().unwrap().to_string();
        by.insert((chunk, model), p["rows"][0]["recall"].as_f64().unwrap());
    }
    assert_eq!(by.len(), 4, "{by:?}");
    for size in ["markdown/300/0", "markdown/600/0"] {
        let a = by[&(size.to_string(), "all-minilm-l6-v2".to_string())];
        let b = by[&(size.to_string(), "all-minilm-l6-v2-q8".to_string())];
        assert!((a - b).abs() <= 0.05, "{size}: fp32 {a}, q8 {b}");
    }
}
