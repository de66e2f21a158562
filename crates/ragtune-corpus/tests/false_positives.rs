//! Answers looked up where they are not: 500 SQuAD v1.1 dev answers of at least 20
//! characters, each in an article other than its own. Exact, normalised or fuzzy, at
//! most 1% may be "found".

use std::path::PathBuf;

use ragtune_corpus::locate::{FUZZY_MIN_CHARS, Located, Locator};
use ragtune_corpus::{CorpusFormat, CorpusSpec};

fn squad() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/datasets/squad-v1.1-dev/dev-v1.1.json");
    assert!(p.is_file(), "SQuAD v1.1 dev is expected at {}", p.display());
    p
}

#[test]
#[ignore = "needs ../shared/datasets; run scripts/test.sh"]
fn long_answers_are_not_found_in_the_wrong_article() {
    let spec = CorpusSpec::new(CorpusFormat::Squad, squad());
    let corpus = ragtune_corpus::load(&spec).unwrap();
    let locator = Locator::new(&corpus.docs);
    let n_docs = corpus.docs.len() as u32;
    let mut seen = std::collections::HashSet::new();
    let (mut tried, mut found) = (0, Vec::new());
    for q in &corpus.questions {
        let s = q.spans[0];
        let answer = &corpus.docs[s.doc as usize].text[s.start..s.end];
        if answer.chars().count() < FUZZY_MIN_CHARS || !seen.insert(answer) {
            continue;
        }
        // The article half the corpus away: never its own.
        let wrong = (s.doc + n_docs / 2) % n_docs;
        if let Located::Found { kind, .. } = locator.locate(answer, Some(&[wrong])) {
            found.push(format!(
                "{answer:?} in {}: {kind:?}",
                corpus.docs[wrong as usize].id
            ));
        }
        tried += 1;
        if tried == 500 {
            break;
        }
    }
    assert_eq!(tried, 500);
    eprintln!(
        "{} of {tried} found in the wrong article: {found:#?}",
        found.len()
    );
    assert!(
        found.len() <= 5,
        "{} of {tried} found: {found:#?}",
        found.len()
    );
}
