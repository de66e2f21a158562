//! Own documents end to end: SQuAD articles as text, HTML, PDF (printed by headless
//! Chromium, header and footer on) and Word, made by scripts/make_documents.py; labels
//! as answer texts only. The real binary, PDFium and ONNX Runtime.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::util::*;

/// The documents, made once per test process (about 15 s: Chromium prints three PDFs).
fn documents() -> &'static Path {
    static DOCS: OnceLock<PathBuf> = OnceLock::new();
    DOCS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let out = std::process::Command::new(python())
            .arg(root().join("scripts/make_documents.py"))
            .args([dir.to_str().unwrap(), "--articles", "3", "--only", "squad"])
            .arg("--datasets")
            .arg(datasets())
            .output()
            .expect("python runs (set RAGTUNE_PYTHON, see scripts/test.sh)");
        assert!(
            out.status.success(),
            "make_documents.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

fn format_grid(tmp: &Path, format: &str, tables: &str) -> PathBuf {
    let docs = documents().join("squad");
    grid(
        tmp,
        &format!("g-{format}.toml"),
        &format!(
            r#"name = "squad-{format}"
[corpus]
format = "dir"
path = "{}"
questions = "{}"
{tables}"#,
            docs.join(format).display(),
            docs.join("questions.csv").display()
        ),
    )
}

const SWEEP: &str = r#"[grid]
chunker = ["chars", "markdown"]
chunk_size = [300, 600]
chunk_overlap = [0]
retriever = ["bm25", "vector", "hybrid"]
model = ["paraphrase-minilm-l3-v2"]
fusion = ["rrf"]
top_k = [1, 5]
[select]
objective = "span_recall@5"
"#;

/// span_recall@5 per setup label.
fn recalls(run: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(run.join("points")).unwrap() {
        let p = read_json(&e.unwrap().path());
        let row = p["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["top_k"] == 5 && r["split"] == "all")
            .unwrap();
        out.insert(
            p["label"].as_str().unwrap().to_string(),
            row["span_recall"].as_f64().unwrap(),
        );
    }
    out
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn every_format_locates_the_answers_and_scores_like_plain_text() {
    let tmp = tempfile::tempdir().unwrap();
    let (tmp, cache) = (tmp.path(), tmp.path().join("cache"));
    let g = format_grid(tmp, "txt", SWEEP);
    let check = ragtune_ok(tmp, &["labels", "check", g.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(report["summary"]["not_found"], 0, "{}", report["summary"]);
    assert_at_official_offsets(&report, &documents().join("squad/offsets.jsonl"));
    let mut by_format = BTreeMap::new();
    for format in ["txt", "html", "pdf", "docx"] {
        let g = format_grid(tmp, format, SWEEP);
        let run = tmp.join(format!("run-{format}"));
        let r = sweep_ok(tmp, &g, &run, &cache);
        if format != "txt" {
            assert!(
                r.stderr.contains("document texts: 3 extracted"),
                "{}",
                r.stderr
            );
        }
        by_format.insert(format, recalls(&run));
    }
    let plain = &by_format["txt"];
    assert_eq!(plain.len(), 12, "{plain:?}");
    for (format, setups) in &by_format {
        for (label, r) in setups {
            let d = (r - plain[label]).abs();
            assert!(
                d <= 0.02,
                "{format} {label}: span_recall@5 {r} against {} in plain text",
                plain[label]
            );
        }
    }
    // A re-run extracts nothing: the texts come from the store.
    let r = sweep_ok(
        tmp,
        &format_grid(tmp, "pdf", SWEEP),
        &tmp.join("again"),
        &cache,
    );
    assert!(
        r.stderr.contains("0 extracted, 3 from the store"),
        "{}",
        r.stderr
    );
    pages_survive_without_store_or_pdfium(tmp, &tmp.join("run-pdf"));
}

/// For at least 98% of questions, one official answer offset is among the places found.
fn assert_at_official_offsets(report: &serde_json::Value, offsets: &Path) {
    let mut found: HashSet<(String, String, u64, u64)> = HashSet::new();
    for l in report["labels"].as_array().unwrap() {
        for p in l["places"].as_array().unwrap() {
            found.insert((
                l["question"].as_str().unwrap().to_string(),
                p["document"].as_str().unwrap().to_string(),
                p["start"].as_u64().unwrap(),
                p["end"].as_u64().unwrap(),
            ));
        }
    }
    let text = std::fs::read_to_string(offsets).unwrap();
    let (mut hit, mut total) = (0, 0);
    for line in text.lines() {
        let q: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = q["id"].as_str().unwrap().to_string();
        let doc = q["doc"].as_str().unwrap().to_string();
        total += 1;
        hit += usize::from(q["answers"].as_array().unwrap().iter().any(|a| {
            found.contains(&(
                id.clone(),
                doc.clone(),
                a["start"].as_u64().unwrap(),
                a["end"].as_u64().unwrap(),
            ))
        }));
    }
    assert!(total > 1000, "{total} questions");
    assert!(
        hit as f64 >= 0.98 * total as f64,
        "{hit} of {total} at SQuAD's offsets"
    );
}

/// `query` and `explain` show pages, and work with the store gone and no libpdfium.
fn pages_survive_without_store_or_pdfium(tmp: &Path, run: &Path) {
    let fresh = tmp.join("fresh-cache");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "--run",
            run.to_str().unwrap(),
            "--cache-dir",
            fresh.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run_cmd = |a: Vec<String>| {
        let out = command(tmp)
            .args(&a)
            .env("RAGTUNE_PDFIUM", "/nonexistent/libpdfium.so")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{a:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut q = vec!["query".to_string()];
    q.extend(args(&[
        "--json",
        "Which NFL team represented the AFC at Super Bowl 50?",
    ]));
    let body: serde_json::Value = serde_json::from_str(&run_cmd(q)).unwrap();
    let hit = &body["results"][0];
    assert_eq!(hit["doc_id"], "Super_Bowl_50.pdf");
    assert!(hit["first_page"].as_u64().is_some_and(|p| p >= 1), "{hit}");
    let mut e = vec!["explain".to_string()];
    e.extend(args(&[
        "--question",
        "56be4db0acb8001400a502ec",
        "--top",
        "3",
    ]));
    let text = run_cmd(e);
    assert!(text.contains("Super_Bowl_50.pdf, p. 1 ["), "{text}");
    assert!(text.contains("answer \"Denver Broncos\" at "), "{text}");
    // The report lists missed questions with where their answers are.
    let page = tmp.join("report.html");
    run_cmd(vec![
        "report".into(),
        "--run".into(),
        run.display().to_string(),
        "--out".into(),
        page.display().to_string(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("Questions the best setup misses"),
        "no missed-questions table"
    );
    assert!(
        html.contains(".pdf, p. "),
        "no page in the missed-questions table"
    );
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn bad_files_are_named_or_skipped_and_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let docs = tmp.join("docs");
    std::fs::create_dir(&docs).unwrap();
    let squad = documents().join("squad");
    std::fs::copy(squad.join("pdf/Normans.pdf"), docs.join("Normans.pdf")).unwrap();
    std::fs::copy(squad.join("html/Warsaw.html"), docs.join("Warsaw.html")).unwrap();
    for f in std::fs::read_dir(documents().join("broken")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, docs.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(docs.join("notes.rtf"), "{\\rtf1}").unwrap();
    std::os::unix::fs::symlink(".", docs.join("loop")).unwrap();
    let fifo = docs.join("pipe.txt");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let tables = "[grid]\nchunker = [\"chars\"]\nchunk_size = [400]\nretriever = [\"bm25\"]\ntop_k = [5]\n[select]\nobjective = \"span_recall@5\"\n";
    let text = |policy: &str| {
        format!(
            "name = \"bad\"\n[corpus]\nformat = \"dir\"\npath = \"docs\"\nquestions = \"q.csv\"\n{policy}\n{tables}"
        )
    };
    std::fs::write(
        tmp.join("q.csv"),
        "question,answer,source\nWho gave Normandy its name?,the Normans,Normans.pdf\nWhat is Warsaw?,the capital,Warsaw.html\n",
    )
    .unwrap();
    let g = grid(tmp, "g.toml", &text(""));
    let r = ragtune(
        tmp,
        &sweep_args(&g, &tmp.join("r1"), &tmp.join("cache"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    for want in [
        "empty.pdf: the file is empty",
        "encrypted.pdf: the PDF is encrypted",
        "scanned.pdf: no text layer; OCR is not supported",
        "truncated.pdf: not a PDF, or a damaged one",
        "notzip.docx: not a Word (.docx) file",
        "on_error = \"skip\"",
    ] {
        assert!(r.stderr.contains(want), "{want:?} in:\n{}", r.stderr);
    }
    let g = grid(tmp, "g.toml", &text("on_error = \"skip\""));
    let r = sweep_ok(tmp, &g, &tmp.join("r2"), &tmp.join("cache"));
    assert!(
        r.stderr.contains("skipped 8 files (5 unreadable, 1 by extension, 1 not regular files, 1 symbolic-link loops, 0 hidden)"),
        "{}",
        r.stderr
    );
    let m = read_json(&tmp.join("r2/manifest.json"));
    let listed: Vec<(&str, &str)> = m["skipped_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["path"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    for want in [
        ("pipe.txt", "not_a_file"),
        ("loop", "symlink_loop"),
        ("notes.rtf", "extension"),
        ("scanned.pdf", "unreadable"),
    ] {
        assert!(listed.contains(&want), "{want:?} in {listed:?}");
    }
    assert_eq!(m["n_documents"], 2);
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn labels_check_names_how_each_label_resolved() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let txt = documents().join("squad/txt");
    // Exact; normalised (case, spaces); fuzzy (two letters missing in 54 characters);
    // ambiguous; a source by file name; and one not found.
    let csv = "id,question,answer,source\n\
        a,Who won?,Denver Broncos defeated the National Football Conference,\n\
        b,Which game?,SUPER BOWL 50 WAS  AN AMERICAN FOOTBALL GAME,Super_Bowl_50.txt\n\
        c,Who lost?,Denver Broncos defeated the Natonal Football Confrence,\n\
        d,Which team?,Panthers,\n\
        e,Where?,,Warsaw\n\
        f,What?,a sentence that no article of SQuAD has ever held,\n";
    std::fs::write(tmp.join("q.csv"), csv).unwrap();
    let g = grid(
        tmp,
        "g.toml",
        &format!(
            "name = \"l\"\n[corpus]\nformat = \"dir\"\npath = \"{}\"\nquestions = \"q.csv\"\n[grid]\nchunker = [\"chars\"]\nchunk_size = [400]\nretriever = [\"bm25\"]\ntop_k = [5]\n[select]\nobjective = \"span_recall@5\"\n",
            txt.display()
        ),
    );
    let r = ragtune(tmp, &["labels", "check", "g.toml"]);
    assert_eq!(r.code, 1, "an answer was not found: {}", r.stderr);
    for want in [
        "answer \"Denver Broncos defeated the National Football Conference\": exact at Super_Bowl_50.txt [",
        "normalised at Super_Bowl_50.txt [0, 43)",
        "fuzzy, similarity 0.96",
        "answer \"Panthers\": exact, ambiguous: ",
        "document \"Warsaw\"",
        "answer \"a sentence that no article of SQuAD has ever held\": NOT FOUND",
        "nearest: ",
        "7 labels of 6 questions: 2 exact, 1 normalised, 1 fuzzy (lowest similarity 0.96), 1 not found; 1 ambiguous",
    ] {
        assert!(r.stdout.contains(want), "{want:?} in:\n{}", r.stdout);
    }
    let json: serde_json::Value =
        serde_json::from_str(&ragtune(tmp, &["labels", "check", "g.toml", "--json"]).stdout)
            .unwrap();
    assert_eq!(json["summary"]["fuzzy"], 1);
    assert_eq!(json["labels"][1]["places"][0]["start"], 0);
    let sweep = |out: &str| {
        ragtune(
            tmp,
            &sweep_args(&g, &tmp.join(out), &tmp.join("cache"))
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
    };
    let r = sweep("r1");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("1 of 5 answers were not found"),
        "{}",
        r.stderr
    );
    let text = std::fs::read_to_string(&g).unwrap();
    std::fs::write(
        &g,
        text.replace(
            "questions = \"q.csv\"",
            "questions = \"q.csv\"\nunresolved = \"drop\"",
        ),
    )
    .unwrap();
    let r = sweep("r2");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("dropped 1 answer label not found"),
        "{}",
        r.stderr
    );
    let m = read_json(&tmp.join("r2/manifest.json"));
    assert_eq!(m["unresolved_labels"][0]["question"], "f");
    // Question f stays, unlabelled: ranked, not scored.
    assert_eq!(m["n_questions"], 6);
}

/// A grid of BM25 over the SQuAD articles as plain text with `questions` (JSONL).
fn jsonl_grid(tmp: &Path, questions: &str) -> PathBuf {
    std::fs::write(tmp.join("q.jsonl"), questions).unwrap();
    grid(
        tmp,
        "g.toml",
        &format!(
            "name = \"pooled\"\n[corpus]\nformat = \"dir\"\npath = \"{}\"\nquestions = \"q.jsonl\"\n[grid]\nchunker = [\"chars\"]\nchunk_size = [400]\nretriever = [\"bm25\"]\ntop_k = [1, 5]\n[select]\nobjective = \"span_recall@5\"\n",
            documents().join("squad/txt").display()
        ),
    )
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn pooled_labels_show_judged_at_k_and_unlabelled_questions_are_ranked() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    // One question judged over a small region only, one without labels.
    let g = jsonl_grid(
        tmp,
        concat!(
            r#"{"id":"p1","question":"Which NFL team represented the AFC at Super Bowl 50?","answer":"Denver Broncos","source":"Super_Bowl_50.txt","judged":[{"doc_id":"Super_Bowl_50.txt","start":0,"end":200}]}"#,
            "\n",
            r#"{"id":"u1","question":"Where is Warsaw?"}"#,
            "\n"
        ),
    );
    let r = sweep_ok(tmp, &g, &tmp.join("run"), &tmp.join("cache"));
    assert!(
        r.stdout.contains("judged@5"),
        "pooled labels print judged@k:\n{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("warning: only") && r.stderr.contains("were judged"),
        "{}",
        r.stderr
    );
    let m = read_json(&tmp.join("run/manifest.json"));
    assert_eq!(m["status"], "complete");
    let rankings = std::fs::read_dir(tmp.join("run/rankings"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let ids: Vec<String> = read_json(&rankings)["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["p1", "u1"], "the unlabelled question is ranked too");
    // No labels at all: rankings only, said so, no best setup.
    let g = jsonl_grid(tmp, "{\"id\":\"u1\",\"question\":\"Where is Warsaw?\"}\n");
    let r = sweep_ok(tmp, &g, &tmp.join("run2"), &tmp.join("cache"));
    assert!(
        r.stderr.contains("rankings only: no question has labels"),
        "{}",
        r.stderr
    );
    assert_eq!(
        read_json(&tmp.join("run2/manifest.json"))["status"],
        "rankings only"
    );
    assert!(!tmp.join("run2/best.toml").exists());
}
