//! The chunkers against independent implementations and their own promises, on Chroma's
//! corpora: `recursive` equals LangChain's RecursiveCharacterTextSplitter chunk for chunk;
//! `window-tokens` overlaps by exactly the nominal tokens and `recursive-tokens` by at
//! most the nominal, measured by a real sweep with cl100k_base.

use ragtune_chunk::Recursive;

use crate::util::*;

fn corpora() -> Vec<std::path::PathBuf> {
    let dir = datasets().join("chroma-chunking/corpora");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 5, "Chroma's five corpora");
    v
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn recursive_equals_langchain_on_the_chroma_corpora() {
    let len = |s: &str| s.chars().count();
    let mut compared = 0;
    for path in corpora() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (size, overlap) in [(400, 200), (250, 125), (200, 0), (1000, 0)] {
            let p = path.to_str().unwrap();
            let (s, o) = (size.to_string(), overlap.to_string());
            let theirs: Vec<String> =
                serde_json::from_str(&python_ok("langchain_chunks.py", &[p, &s, &o])).unwrap();
            let r = Recursive {
                text: &text,
                size,
                overlap,
                len: &len,
            };
            let ours: Vec<&str> = r.chunks().into_iter().map(|(a, b)| &text[a..b]).collect();
            assert_eq!(
                ours.len(),
                theirs.len(),
                "{p} {size}/{overlap}: chunk counts"
            );
            for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                assert_eq!(a, b, "{p} {size}/{overlap}: chunk {i}");
            }
            compared += ours.len();
        }
    }
    assert!(compared > 1000, "{compared} chunks compared");
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn window_and_recursive_token_chunkers_carry_real_overlap() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = r#"
[grid]
chunker = ["window-tokens", "recursive-tokens", "tokens"]
chunk_size = [250]
chunk_overlap = [125]
retriever = ["bm25"]
top_k = [5]
[retrieval]
chunk_tokenizer = "cl100k_base"
[select]
objective = "span_recall@5"
"#;
    let include = &["chatlogs", "state_of_the_union"];
    let g = chroma_grid(tmp.path(), "g.toml", "overlap", include, tables);
    let out = tmp.path().join("run");
    let r = sweep_ok(tmp.path(), &g, &out, &tmp.path().join("cache"));
    let rows = std::process::Command::new(python())
        .arg("-c")
        .arg("import polars as pl, sys; print(pl.read_parquet(sys.argv[1]).select(['chunker','overlap_tokens_mean','overlap_share']).write_json())")
        .arg(out.join("results.parquet"))
        .output()
        .unwrap();
    assert!(
        rows.status.success(),
        "{}",
        String::from_utf8_lossy(&rows.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&rows.stdout).unwrap();
    let get = |chunker: &str| {
        let row = entry(&rows, "chunker", chunker);
        (
            row["overlap_tokens_mean"].as_f64().unwrap(),
            row["overlap_share"].as_f64().unwrap(),
        )
    };
    // Windows share exactly 125 tokens; re-tokenising the shared text can merge or split
    // a token at its edges, hence the 1-token margin.
    let (w, ws) = get("window-tokens");
    assert!(
        (w - 125.0).abs() < 1.0 && ws == 1.0,
        "window-tokens: {w} tokens, share {ws}"
    );
    // Recursive carries whole pieces of at most 125 tokens: real, and below nominal.
    let (rc, rs) = get("recursive-tokens");
    assert!(
        (62.5..=126.0).contains(&rc) && rs > 0.9,
        "recursive-tokens: {rc}, share {rs}"
    );
    // text-splitter overlaps in whole semantic units that fit: at most the nominal value
    // (on these corpora with cl100k_base, about 99 of 125 tokens).
    let (t, _) = get("tokens");
    assert!(t <= 125.0, "tokens: {t}");
    // No warning for chunkers whose overlap is real.
    assert!(
        !r.stderr
            .contains("chunk set window-tokens/250/125: effective"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr
            .contains("chunk set recursive-tokens/250/125: effective"),
        "{}",
        r.stderr
    );
}
