//! Every corpus and label loader. The first byte picks the format; the rest is split on
//! `\0\0` into that format's files. Any content gives a corpus or an error naming a file.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ragtune_corpus::{CorpusFormat, CorpusSpec};

/// One scratch folder for the whole run, on tmpfs where there is one.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        tempfile::tempdir_in(base).unwrap()
    })
    .path()
}

/// The files of each format, in the order the input's parts fill them.
fn layout(format: CorpusFormat) -> (&'static [&'static str], &'static str, Option<&'static str>) {
    match format {
        CorpusFormat::Dir => (
            &["docs/a.txt", "docs/b.md", "q.jsonl"],
            "docs",
            Some("q.jsonl"),
        ),
        CorpusFormat::Jsonl => (&["docs.jsonl", "q.jsonl"], "docs.jsonl", Some("q.jsonl")),
        CorpusFormat::Beir => (
            &[
                "beir/corpus.jsonl",
                "beir/queries.jsonl",
                "beir/qrels/test.tsv",
            ],
            "beir",
            None,
        ),
        CorpusFormat::Squad => (&["squad.json"], "squad.json", None),
        CorpusFormat::Chroma => (
            &["chroma/corpora/a.md", "chroma/questions_df.csv"],
            "chroma",
            None,
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let formats = [
        CorpusFormat::Dir,
        CorpusFormat::Jsonl,
        CorpusFormat::Beir,
        CorpusFormat::Squad,
        CorpusFormat::Chroma,
    ];
    let format = formats[pick as usize % formats.len()];
    let root: PathBuf = scratch().join(format!("{format:?}"));
    let _ = std::fs::remove_dir_all(&root);
    let (files, path, questions) = layout(format);
    let mut parts = rest.split(|&b| b == 0).filter(|p| !p.is_empty());
    for file in files {
        let p = root.join(file);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, parts.next().unwrap_or_default()).unwrap();
    }
    let spec = CorpusSpec {
        questions: questions.map(|q| root.join(q)),
        ..CorpusSpec::new(format, root.join(path))
    };
    match ragtune_corpus::load(&spec) {
        Ok(corpus) => {
            for q in &corpus.questions {
                for s in q.all_spans() {
                    let doc = &corpus.docs[s.doc as usize].text;
                    assert!(s.start < s.end && s.end <= doc.len(), "{s:?}");
                    assert!(doc.is_char_boundary(s.start) && doc.is_char_boundary(s.end));
                }
            }
        }
        Err(e) => assert!(e.to_string().contains(scratch().to_str().unwrap()), "{e}"),
    }
});
