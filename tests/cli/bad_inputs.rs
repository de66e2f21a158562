//! The bad-input matrix: every user mistake, of every kind, exits 2 with one `error:` line
//! naming the file, line or field and what was expected; nothing panics or aborts, and no
//! results or half-written run folder is left behind.
//!
//! Each case starts from a valid BM25 sweep (`GRID` over `docs/` and `q.jsonl`) and breaks
//! one thing: the grid, a corpus or label file, a flag, or the run folder. The cases run
//! without models, so `cargo test --workspace` covers them everywhere. Beside each case's
//! own expected text, every error line is read mechanically ([`unclear`]): it must name
//! where (file, field or flag) and say what was expected or what to do.

use std::path::Path;

use crate::util::*;

const GRID: &str = r#"name = "bad"
[corpus]
format = "dir"
path = "docs"
questions = "q.jsonl"
[grid]
chunker = ["chars"]
chunk_size = [100]
chunk_overlap = [0]
retriever = ["bm25"]
top_k = [1, 5]
[retrieval]
depth = 10
[select]
objective = "recall@5"
"#;

const Q1: &str = r#"{"id":"q1","question":"beta?","spans":[{"doc_id":"a.txt","start":6,"end":10,"text":"beta"}]}"#;

/// One way of getting it wrong.
struct Case {
    name: &'static str,
    /// Replacements applied to `GRID`, in order.
    edits: &'static [(&'static str, &'static str)],
    /// Files written (over the valid ones) before the run, relative to the folder.
    files: &'static [(&'static str, &'static str)],
    /// The command; `None` is `sweep g.toml --out run`.
    args: Option<&'static [&'static str]>,
    /// What the single error line must contain.
    want: &'static str,
}

const fn grid(
    name: &'static str,
    edits: &'static [(&'static str, &'static str)],
    want: &'static str,
) -> Case {
    Case {
        name,
        edits,
        files: &[],
        args: None,
        want,
    }
}

const fn file(
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    want: &'static str,
) -> Case {
    Case {
        name,
        edits: &[],
        files,
        args: None,
        want,
    }
}

/// The grid reads `q.csv`, whose rows `files` gives.
const CSV: &[(&str, &str)] = &[("questions = \"q.jsonl\"", "questions = \"q.csv\"")];

const fn cli(name: &'static str, args: &'static [&'static str], want: &'static str) -> Case {
    Case {
        name,
        edits: &[],
        files: &[],
        args: Some(args),
        want,
    }
}

const CASES: &[Case] = &[
    // The grid file: syntax, types, names.
    grid(
        "unknown top-level table",
        &[("[select]", "[selekt]")],
        "g.toml:14:2: unknown field `selekt`",
    ),
    grid(
        "unknown key in [grid]",
        &[("top_k = [1, 5]", "top_k = [1, 5]\ntopk = [3]")],
        "g.toml:12:1: unknown field `topk`",
    ),
    grid(
        "toml syntax",
        &[("chunk_size = [100]", "chunk_size = [100")],
        "g.toml:9:1:",
    ),
    grid(
        "string for a number",
        &[("chunk_size = [100]", "chunk_size = [\"big\"]")],
        "g.toml:8:",
    ),
    grid(
        "float for an integer",
        &[("chunk_size = [100]", "chunk_size = [100.5]")],
        "g.toml:8:",
    ),
    grid(
        "unknown chunker",
        &[("[\"chars\"]", "[\"sentences\"]")],
        "g.toml:7:",
    ),
    grid(
        "unknown retriever",
        &[("[\"bm25\"]", "[\"splade\"]")],
        "g.toml:10:",
    ),
    grid(
        "unknown fusion",
        &[(
            "retriever = [\"bm25\"]",
            "retriever = [\"bm25\"]\nfusion = [\"max\"]",
        )],
        "g.toml:11:",
    ),
    grid(
        "unknown index",
        &[(
            "retriever = [\"bm25\"]",
            "retriever = [\"bm25\"]\nindex = [\"faiss\"]",
        )],
        "g.toml:11:",
    ),
    grid(
        "missing [corpus]",
        &[(
            "[corpus]\nformat = \"dir\"\npath = \"docs\"\nquestions = \"q.jsonl\"\n",
            "",
        )],
        "missing field `corpus`",
    ),
    grid(
        "unknown corpus format",
        &[("format = \"dir\"", "format = \"pdf\"")],
        "g.toml:3:",
    ),
    grid(
        "empty list",
        &[("retriever = [\"bm25\"]", "retriever = []")],
        "g.toml:10:13: `retriever`: the list is empty",
    ),
    // The grid file: ranges.
    grid(
        "chunk size zero",
        &[("chunk_size = [100]", "chunk_size = [0]")],
        "g.toml:8:",
    ),
    grid(
        "chunk size too large",
        &[("chunk_size = [100]", "chunk_size = [100000000]")],
        "g.toml:8:",
    ),
    grid(
        "overlap not below size",
        &[("chunk_overlap = [0]", "chunk_overlap = [100]")],
        "overlap 100 is not smaller than chunk size 100",
    ),
    grid(
        "overlap percentage over 100",
        &[("chunk_overlap = [0]", "chunk_overlap = [\"150%\"]")],
        "g.toml:9:",
    ),
    grid(
        "negative overlap",
        &[("chunk_overlap = [0]", "chunk_overlap = [-5]")],
        "g.toml:9:",
    ),
    grid(
        "k zero",
        &[("top_k = [1, 5]", "top_k = [0, 5]")],
        "`top_k`: k must be at least 1",
    ),
    grid(
        "k beyond the bound",
        &[("top_k = [1, 5]", "top_k = [1, 5, 1000000000]")],
        "g.toml:11:9: `top_k`: k must be at most 100000",
    ),
    grid(
        "depth beyond the bound",
        &[("depth = 10", "depth = 1000000000")],
        "g.toml:13:",
    ),
    grid("depth zero", &[("depth = 10", "depth = 0")], "g.toml:13:"),
    grid(
        "ef_search zero",
        &[(
            "retriever = [\"bm25\"]",
            "retriever = [\"bm25\"]\nhnsw_ef_search = [0]",
        )],
        "g.toml:11:",
    ),
    grid(
        "ef_search beyond the bound",
        &[(
            "retriever = [\"bm25\"]",
            "retriever = [\"bm25\"]\nhnsw_ef_search = [1000000000]",
        )],
        "g.toml:11:",
    ),
    grid(
        "fractional chunk_overlap",
        &[("chunk_overlap = [0]", "chunk_overlap = [1.5]")],
        "g.toml:9:18: invalid type: floating point `1.5`, expected a whole number of the chunker's units",
    ),
    grid(
        "max_questions zero",
        &[(
            "questions = \"q.jsonl\"",
            "questions = \"q.jsonl\"\nmax_questions = 0",
        )],
        "g.toml:6:1: `max_questions`: must be at least 1",
    ),
    grid(
        "empty include",
        &[(
            "questions = \"q.jsonl\"",
            "questions = \"q.jsonl\"\ninclude = []",
        )],
        "g.toml:6:1: `include`: the list is empty",
    ),
    grid(
        "alpha above 1",
        &[(
            "retriever = [\"bm25\"]",
            "retriever = [\"bm25\"]\nalpha = [1.5]",
        )],
        "g.toml:11:",
    ),
    grid(
        "rrf_k zero",
        &[(
            "retriever = [\"bm25\"]",
            "retriever = [\"bm25\"]\nrrf_k = [0]",
        )],
        "g.toml:11:",
    ),
    grid(
        "negative max_context_tokens",
        &[(
            "objective = \"recall@5\"",
            "objective = \"recall@5\"\nmax_context_tokens = -1",
        )],
        "g.toml:16:22: `max_context_tokens`: -1 is not a token count",
    ),
    grid(
        "zero max_p99_ms",
        &[(
            "objective = \"recall@5\"",
            "objective = \"recall@5\"\nmax_p99_ms = 0",
        )],
        "g.toml:16:14: `max_p99_ms`: 0 is not a latency",
    ),
    grid(
        "negative max_index_bytes",
        &[(
            "objective = \"recall@5\"",
            "objective = \"recall@5\"\nmax_index_bytes = -5",
        )],
        "g.toml:16:19:",
    ),
    grid(
        "holdout of 1",
        &[(
            "objective = \"recall@5\"",
            "objective = \"recall@5\"\nholdout = 1.0",
        )],
        "g.toml:16:11: `holdout`",
    ),
    grid(
        "objective on an unknown metric",
        &[("\"recall@5\"", "\"recal@5\"")],
        "g.toml:15:13: `objective`",
    ),
    grid(
        "objective at a k not swept",
        &[("\"recall@5\"", "\"recall@7\"")],
        "g.toml:15:13: `objective`",
    ),
    grid(
        "objective without @k",
        &[("\"recall@5\"", "\"recall\"")],
        "g.toml:15:13: `objective`",
    ),
    grid(
        "unknown model",
        &[(
            "retriever = [\"bm25\"]",
            "retriever = [\"vector\"]\nmodel = [\"no-such-model\"]",
        )],
        "no-such-model",
    ),
    Case {
        name: "binary garbage grid",
        edits: &[],
        files: &[("g.toml", NOT_UTF8)],
        args: None,
        want: "g.toml:1:",
    },
    // Corpus and labels.
    file("missing corpus folder", &[], "g.toml: [corpus]: "),
    file(
        "questions: broken JSON",
        &[("q.jsonl", "{\"id\":\"q1\",\n")],
        "q.jsonl:1:",
    ),
    file(
        "questions: missing field",
        &[("q.jsonl", "{\"id\":\"q1\",\"spans\":[]}\n")],
        "q.jsonl:1:",
    ),
    file(
        "questions: none",
        &[("q.jsonl", "\n")],
        "no questions were found",
    ),
    file(
        "questions: span end before start",
        &[(
            "q.jsonl",
            r#"{"id":"q1","question":"b?","spans":[{"doc_id":"a.txt","start":10,"end":6}]}"#,
        )],
        "q.jsonl:1:",
    ),
    file(
        "questions: span past the document",
        &[(
            "q.jsonl",
            r#"{"id":"q1","question":"b?","spans":[{"doc_id":"a.txt","start":6,"end":999}]}"#,
        )],
        "q.jsonl",
    ),
    file(
        "questions: unknown document",
        &[(
            "q.jsonl",
            r#"{"id":"q1","question":"b?","spans":[{"doc_id":"zzz.txt","start":0,"end":3}]}"#,
        )],
        "zzz.txt",
    ),
    file(
        "questions: zero-length span",
        &[(
            "q.jsonl",
            r#"{"id":"q1","question":"b?","spans":[{"doc_id":"a.txt","start":6,"end":6}]}"#,
        )],
        "q.jsonl:1: question \"q1\": span [6, 6) is empty",
    ),
    file(
        "questions: span text differs",
        &[(
            "q.jsonl",
            r#"{"id":"q1","question":"b?","spans":[{"doc_id":"a.txt","start":5,"end":10,"text":"beta"}]}"#,
        )],
        "q.jsonl: 1 of 1 labels do not match",
    ),
    file(
        "questions: repeated id",
        &[(
            "q.jsonl",
            concat!(
                r#"{"id":"q1","question":"b?","spans":[{"doc_id":"a.txt","start":6,"end":10}]}"#,
                "\n",
                r#"{"id":"q1","question":"c?","spans":[{"doc_id":"a.txt","start":0,"end":5}]}"#
            ),
        )],
        "\"q1\" appears twice",
    ),
    file("documents: not UTF-8", &[("docs/b.txt", NOT_UTF8)], "b.txt"),
    file(
        "documents: a damaged PDF",
        &[("docs/b.pdf", "%PDF-1.4 not really")],
        "docs/b.pdf: ",
    ),
    file(
        "documents: a web page without text",
        &[("docs/b.html", "<html><script>var x;</script></html>")],
        "docs/b.html: the file holds no text",
    ),
    Case {
        name: "questions CSV: unknown column",
        edits: CSV,
        files: &[("q.csv", "question,answers\nbeta?,beta\n")],
        args: None,
        want: "q.csv:1: unknown column \"answers\"; expected some of id, question, answer",
    },
    Case {
        name: "questions CSV: an answer not in the documents",
        edits: CSV,
        files: &[("q.csv", "question,answer\nbeta?,delta epsilon\n")],
        args: None,
        want: "1 of 1 answers were not found in the documents",
    },
    Case {
        name: "questions CSV: an unknown source",
        edits: CSV,
        files: &[("q.csv", "question,source\nbeta?,b.txt\n")],
        args: None,
        want: "q.csv:2: source \"b.txt\" is no document of the corpus",
    },
    Case {
        name: "questions CSV: a judged region past the document",
        edits: CSV,
        files: &[(
            "q.csv",
            "question,judged\nbeta?,\"[{\"\"doc_id\"\": \"\"a.txt\"\", \"\"start\"\": 0, \"\"end\"\": 999}]\"\n",
        )],
        args: None,
        want: "q.csv:2: question \"q-",
    },
    Case {
        name: "BEIR: repeated query id",
        edits: &[(
            "format = \"dir\"\npath = \"docs\"\nquestions = \"q.jsonl\"",
            "format = \"beir\"\npath = \"beir\"",
        )],
        files: &[
            (
                "beir/corpus.jsonl",
                "{\"_id\":\"d1\",\"text\":\"alpha beta\"}\n",
            ),
            (
                "beir/queries.jsonl",
                "{\"_id\":\"q1\",\"text\":\"beta?\"}\n{\"_id\":\"q1\",\"text\":\"alpha?\"}\n",
            ),
            (
                "beir/qrels/test.tsv",
                "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
            ),
        ],
        args: None,
        want: "\"q1\" appears twice",
    },
    Case {
        name: "late_window past the model's positions",
        edits: &[
            (
                "retriever = [\"bm25\"]",
                "retriever = [\"vector\"]\nmodel = [\"tiny\"]\nembedding = [\"late\"]",
            ),
            ("depth = 10", "depth = 10\nlate_window = 600"),
        ],
        files: &[
            ("tiny/model.toml", "max_positions = 512\n"),
            (
                "tiny/model.onnx",
                "not run: the limit is checked before any model loads",
            ),
            ("tiny/tokenizer.json", "{}"),
        ],
        args: None,
        want: "g.toml:16:1: `late_window`: a late-chunking window of 600 tokens is more than model \"tiny\" takes (512 positions",
    },
    Case {
        name: "more setups than --max-points",
        edits: &[("chunk_size = [100]", "chunk_size = [100, 200]")],
        files: &[],
        args: Some(&["sweep", "g.toml", "--out", "run", "--max-points", "1"]),
        want: "g.toml: the grid has 2 distinct setups (2 chunkings × (1 retrievers",
    },
    Case {
        name: "plan: more setups than --max-points",
        edits: &[("chunk_size = [100]", "chunk_size = [100, 200]")],
        files: &[],
        args: Some(&["plan", "g.toml", "--max-points", "1"]),
        want: "more than the limit of 1; narrow its lists, or raise the limit with --max-points",
    },
    // Flags and commands.
    cli(
        "--max-points 0",
        &["sweep", "g.toml", "--max-points", "0"],
        "--max-points",
    ),
    cli(
        "--threads 0",
        &["sweep", "g.toml", "--threads", "0"],
        "must be at least 1",
    ),
    cli(
        "--batch-size 0",
        &["sweep", "g.toml", "--batch-size", "0"],
        "must be at least 1",
    ),
    cli(
        "--batch-size tokens:0",
        &["sweep", "g.toml", "--batch-size", "tokens:0"],
        "token budget must be at least 1",
    ),
    cli(
        "--batch-size not a size",
        &["sweep", "g.toml", "--batch-size", "big"],
        "expected a whole number, `tokens:N` or `auto`",
    ),
    cli(
        "--threads not a number",
        &["sweep", "g.toml", "--threads", "many"],
        "--threads",
    ),
    cli(
        "--device unknown",
        &["sweep", "g.toml", "--device", "tpu"],
        "tpu",
    ),
    cli("missing grid file", &["sweep", "nope.toml"], "nope.toml"),
    cli(
        "runs: missing folder",
        &["runs", "--dir", "nope"],
        "nope: no such folder",
    ),
    cli("grid is a folder", &["sweep", "docs"], "docs"),
    cli(
        "--resume into a folder that is not a run",
        &["sweep", "g.toml", "--out", "docs", "--resume"],
        "not a run folder",
    ),
    cli(
        "query: empty text",
        &["query", "--run", "run", "   "],
        "must not be empty",
    ),
    cli(
        "query: k over the server's limit",
        &["query", "--run", "run", "-k", "1000000", "flood"],
        "between 1 and 100",
    ),
    cli(
        "query: not a run",
        &["query", "--run", "docs", "flood"],
        "docs",
    ),
    cli(
        "explain: not a run",
        &["explain", "--run", "docs", "--question", "q1"],
        "docs",
    ),
    cli(
        "compare: missing run",
        &["compare", "nowhere-a", "nowhere-b"],
        "nowhere-a",
    ),
    cli(
        "check: malformed condition",
        &["check", "--run", "docs", "--require", "recall@5>>0.8"],
        "recall@5>>0.8",
    ),
    cli("serve: not a run", &["serve", "--run", "docs"], "docs"),
    cli(
        "export-trec: not a run",
        &[
            "export-trec",
            "--run",
            "docs",
            "--config",
            "x",
            "--k",
            "5",
            "--out",
            "t.trec",
        ],
        "docs",
    ),
    cli(
        "cache gc: store is a file",
        &["cache", "gc", "--max-size", "1GB", "--cache-dir", "q.jsonl"],
        "q.jsonl",
    ),
];

/// A file content that stands for bytes that are not UTF-8.
const NOT_UTF8: &str = "<not utf-8>";

fn prepare(dir: &Path, case: &Case) {
    std::fs::create_dir(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/a.txt"), "alpha beta gamma").unwrap();
    std::fs::write(dir.join("q.jsonl"), format!("{Q1}\n")).unwrap();
    let mut text = GRID.to_string();
    for (from, to) in case.edits {
        assert!(
            text.contains(from),
            "{}: the edit {from:?} matches nothing",
            case.name
        );
        text = text.replacen(from, to, 1);
    }
    std::fs::write(dir.join("g.toml"), text).unwrap();
    if case.name == "missing corpus folder" {
        std::fs::remove_dir_all(dir.join("docs")).unwrap();
    }
    for (path, content) in case.files {
        let bytes: &[u8] = if *content == NOT_UTF8 {
            b"\xff\xfe\x00garbage \x80\x81 [grid\n"
        } else {
            content.as_bytes()
        };
        std::fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
        std::fs::write(dir.join(path), bytes).unwrap();
    }
}

/// What an error line lacks, if anything, by a mechanical reading: it must name where
/// (a file, with its line where there is one, a `field`, or a --flag) and say what was
/// expected or what to do.
fn unclear(line: &str) -> Option<&'static str> {
    const FILES: [&str; 10] = [
        ".toml", ".jsonl", ".json", ".csv", ".tsv", ".txt", ".pdf", ".html", "docs", "run",
    ];
    let names_where =
        FILES.iter().any(|f| line.contains(f)) || line.contains('`') || line.contains("--");
    const SAYS: [&str; 29] = [
        "expected",
        "must",
        "give",
        "use ",
        "at least",
        "at most",
        "one of",
        "need",
        "choose",
        "raise",
        "lower",
        "only",
        "set ",
        "run ",
        "empty",
        "missing",
        "unknown",
        "twice",
        "does not",
        "not a",
        "no such",
        "cannot",
        "more than",
        "less than",
        "instead",
        "is not",
        "no ",
        "already",
        "possible values",
    ];
    let says_what = SAYS.iter().any(|w| line.to_lowercase().contains(w));
    match (names_where, says_what) {
        (false, _) => Some("names no file, field or flag"),
        (_, false) => Some("says neither what was expected nor what to do"),
        _ => None,
    }
}

#[test]
fn the_clarity_check_can_fail() {
    assert!(unclear("error: something went wrong").is_some());
    assert!(unclear("error: g.toml: `k`: bad").is_some());
    assert!(unclear("error: must be at least 1").is_some());
    assert!(unclear("error: g.toml:3:1: `k`: must be at least 1").is_none());
}

/// What is wrong with the outcome of `case`, if anything.
fn judge(dir: &Path, case: &Case, r: &Run) -> Option<String> {
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    // The error with its indented continuation lines (clap's possible values, say).
    let message: String = r
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("error:"))
        .take_while(|l| l.starts_with("error:") || l.starts_with(' '))
        .collect::<Vec<_>>()
        .join("\n");
    let run = dir.join("run");
    let half_written = run.exists()
        && !(run.join("manifest.json").is_file()
            && read_json(&run.join("manifest.json"))["status"] == "failed");
    let problem = if r.code != 2 {
        format!("exit {} (expected 2)", r.code)
    } else if r.stderr.contains("panicked") || r.stderr.contains("RUST_BACKTRACE") {
        "a panic".into()
    } else if errors.len() != 1 {
        format!("{} error lines (expected 1)", errors.len())
    } else if !errors[0].contains(case.want) {
        format!("the error line lacks {:?}", case.want)
    } else if let Some(lack) = unclear(&message) {
        format!("the error line {lack}")
    } else if run.join("results.parquet").exists() || run.join("best.toml").exists() {
        "results were written".into()
    } else if half_written {
        "a run folder that is neither absent nor marked failed".into()
    } else {
        return None;
    };
    Some(format!(
        "{}: {problem}\n  stderr: {}",
        case.name,
        r.stderr.trim().replace('\n', "\n          ")
    ))
}

#[test]
fn every_bad_input_gets_exit_2_and_one_clear_line() {
    assert!(CASES.len() >= 40, "the matrix holds {} cases", CASES.len());
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|case| {
            let tmp = tempfile::tempdir().unwrap();
            prepare(tmp.path(), case);
            let default: &[&str] = &["sweep", "g.toml", "--out", "run"];
            let r = ragtune(tmp.path(), case.args.unwrap_or(default));
            judge(tmp.path(), case, &r)
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}
