//! One loader per format.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use ragtune_core::{Corpus, DocId, Document};
use serde::Deserialize;

use crate::error::{CorpusError, Result};
use crate::labels::{Labeler, question};
use crate::{LoadOptions, Loaded};

/// The text placed between the paragraphs of a SQuAD article.
pub const SQUAD_SEPARATOR: &str = "\n\n";

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| CorpusError::io(path, e))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonlDoc {
    id: String,
    #[serde(default)]
    title: Option<String>,
    text: String,
}

/// Every document id once. `lines` gives each document's line in `path` (line-based
/// formats), so the error can name where the repeat is.
fn check_unique_doc_ids(docs: &[Document], lines: Option<&[usize]>, path: &Path) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, d) in docs.iter().enumerate() {
        if let Some(first) = seen.insert(d.id.as_str(), i) {
            return Err(match lines {
                Some(l) => CorpusError::parse(
                    path,
                    l[i],
                    format!(
                        "document id {:?} appears twice (first on line {})",
                        d.id, l[first]
                    ),
                ),
                None => CorpusError::Invalid {
                    path: path.to_path_buf(),
                    message: format!(
                        "document id {:?} appears twice (documents {} and {})",
                        d.id,
                        first + 1,
                        i + 1
                    ),
                },
            });
        }
    }
    Ok(())
}

/// A questions file (JSONL or CSV) resolved against `docs`.
fn load_questions(docs: &[Document], path: &Path, opts: &LoadOptions) -> Result<Loaded> {
    let raw = crate::questions::read(path)?;
    let (questions, labels) = crate::resolve::resolve(docs, raw, path, opts.unresolved)?;
    Ok(Loaded {
        corpus: Corpus {
            docs: Vec::new(),
            questions,
        },
        skipped: Vec::new(),
        labels,
    })
}

/// A folder of documents plus a questions file.
pub(crate) fn load_dir(root: &Path, questions: &Path, opts: &LoadOptions) -> Result<Loaded> {
    let (docs, skipped) = crate::documents::read_dir_docs(root, opts.extract, opts.on_error)?;
    let mut loaded = load_questions(&docs, questions, opts)?;
    loaded.corpus.docs = docs;
    loaded.skipped = skipped;
    Ok(loaded)
}

/// JSONL documents plus a questions file.
pub(crate) fn load_jsonl(path: &Path, questions: &Path, opts: &LoadOptions) -> Result<Loaded> {
    let (lines, docs): (Vec<usize>, Vec<Document>) = crate::jsonl::read::<JsonlDoc>(path)?
        .into_iter()
        .map(|(line, d)| {
            let doc = Document {
                id: d.id,
                title: d.title.filter(|t| !t.is_empty()),
                text: d.text,
                pages: Vec::new(),
            };
            (line, doc)
        })
        .unzip();
    check_unique_doc_ids(&docs, Some(&lines), path)?;
    let mut loaded = load_questions(&docs, questions, opts)?;
    loaded.corpus.docs = docs;
    Ok(loaded)
}

#[derive(Deserialize)]
struct BeirDoc {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: Option<String>,
    text: String,
}

#[derive(Deserialize)]
struct BeirQuery {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

/// BEIR: corpus.jsonl, queries.jsonl, qrels/<split>.tsv. Relevance > 0 counts as relevant.
pub(crate) fn load_beir(root: &Path, split: &str) -> Result<Corpus> {
    let corpus_path = root.join("corpus.jsonl");
    let docs: Vec<Document> = crate::jsonl::read::<BeirDoc>(&corpus_path)?
        .into_iter()
        .map(|(_, d)| Document {
            id: d.id,
            title: d.title.filter(|t| !t.is_empty()),
            text: d.text,
            pages: Vec::new(),
        })
        .collect();
    check_unique_doc_ids(&docs, None, &corpus_path)?;
    let queries_path = root.join("queries.jsonl");
    let queries: Vec<(usize, BeirQuery)> = crate::jsonl::read(&queries_path)?;
    // A repeated query id would otherwise take the labels once and vanish the second time.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (line, q) in &queries {
        if let Some(first) = seen.insert(q.id.as_str(), *line) {
            return Err(CorpusError::parse(
                &queries_path,
                *line,
                format!(
                    "query id {:?} appears twice (first on line {first}); ids must be unique",
                    q.id
                ),
            ));
        }
    }
    let qrels_path = root.join("qrels").join(format!("{split}.tsv"));
    let qrels_text = read(&qrels_path)?;
    let labeler = Labeler::new(&docs, &qrels_path);
    let mut rel: HashMap<String, Vec<DocId>> = HashMap::new();
    for (i, line) in qrels_text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        if i == 0 && fields.first().is_some_and(|f| f.contains("query")) || line.trim().is_empty() {
            continue;
        }
        let [qid, did, score] = fields[..] else {
            return Err(CorpusError::parse(
                &qrels_path,
                i + 1,
                format!(
                    "expected 3 tab-separated fields (query-id, corpus-id, score), found {}",
                    fields.len()
                ),
            ));
        };
        let score: i64 = score.trim().parse().map_err(|_| {
            CorpusError::parse(
                &qrels_path,
                i + 1,
                format!("score {score:?} is not an integer"),
            )
        })?;
        if score > 0 {
            rel.entry(qid.to_string())
                .or_default()
                .push(labeler.doc(did, i + 1)?);
        }
    }
    let questions = queries
        .into_iter()
        .filter_map(|(_, q)| {
            rel.remove(&q.id)
                .map(|docs| question(q.id, q.text, docs, Vec::new()))
        })
        .collect();
    Ok(Corpus { docs, questions })
}

#[derive(Deserialize)]
struct Squad {
    data: Vec<SquadArticle>,
}
#[derive(Deserialize)]
struct SquadArticle {
    title: String,
    paragraphs: Vec<SquadParagraph>,
}
#[derive(Deserialize)]
struct SquadParagraph {
    context: String,
    qas: Vec<SquadQa>,
}
#[derive(Deserialize)]
struct SquadQa {
    id: String,
    question: String,
    answers: Vec<SquadAnswer>,
}
#[derive(Deserialize)]
struct SquadAnswer {
    answer_start: usize,
    text: String,
}

/// SQuAD v1.1: articles become documents (paragraphs joined by [`SQUAD_SEPARATOR`]);
/// answers become spans, offset by their paragraph's start in the article.
pub(crate) fn load_squad(path: &Path) -> Result<Corpus> {
    let text = read(path)?;
    let squad: Squad = serde_json::from_str(&text)
        .map_err(|e| CorpusError::parse(path, e.line(), e.to_string()))?;
    let sep_chars = SQUAD_SEPARATOR.chars().count();
    let mut docs = Vec::with_capacity(squad.data.len());
    // (article, paragraph start in code points, qa) per question, resolved after the docs exist.
    let mut pending = Vec::new();
    for article in squad.data {
        let mut text = String::new();
        let mut chars = 0usize;
        for (i, p) in article.paragraphs.into_iter().enumerate() {
            if i > 0 {
                text.push_str(SQUAD_SEPARATOR);
                chars += sep_chars;
            }
            let start = chars;
            text.push_str(&p.context);
            chars += p.context.chars().count();
            for qa in p.qas {
                pending.push((docs.len() as DocId, start, qa));
            }
        }
        docs.push(Document {
            id: article.title.clone(),
            title: Some(article.title.replace('_', " ")),
            text,
            pages: Vec::new(),
        });
    }
    check_unique_doc_ids(&docs, None, path)?;
    let mut labeler = Labeler::new(&docs, path);
    let mut questions = Vec::with_capacity(pending.len());
    for (doc, para_start, qa) in pending {
        let mut spans = Vec::with_capacity(qa.answers.len());
        for a in &qa.answers {
            let start = para_start + a.answer_start;
            let end = start + a.text.chars().count();
            spans.push(labeler.span(doc, start, end, Some(&a.text), 0, &qa.id)?);
        }
        if spans.is_empty() {
            continue;
        }
        questions.push(question(qa.id, qa.question, Vec::new(), spans));
    }
    labeler.finish()?;
    Ok(Corpus { docs, questions })
}

#[derive(Deserialize)]
struct ChromaReference {
    content: String,
    start_index: usize,
    end_index: usize,
}

/// Chroma: every `corpora/<id>.md` is one document; `questions_df.csv` has columns
/// `question`, `references` (JSON list of {content, start_index, end_index}) and `corpus_id`.
/// A question's id is its 0-based row number.
/// Chroma's corpora: every `corpora/*.md` file is one document, named by its stem.
fn chroma_docs(root: &Path) -> Result<Vec<Document>> {
    let corpora = root.join("corpora");
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(&corpora).map_err(|e| CorpusError::io(&corpora, e))? {
        let path = entry.map_err(|e| CorpusError::io(&corpora, e))?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("md") {
            let id = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            files.insert(id, path);
        }
    }
    if files.is_empty() {
        return Err(CorpusError::Missing {
            path: corpora,
            what: "no .md corpora found".into(),
        });
    }
    files
        .into_iter()
        .map(|(id, path)| {
            Ok(Document {
                id,
                title: None,
                text: read(&path)?,
                pages: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>>>()
}

pub(crate) fn load_chroma(root: &Path) -> Result<Corpus> {
    let docs = chroma_docs(root)?;
    let csv_path = root.join("questions_df.csv");
    let mut reader = csv::Reader::from_path(&csv_path)
        .map_err(|e| CorpusError::parse(&csv_path, 0, e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| CorpusError::parse(&csv_path, 1, e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| CorpusError::Missing {
                path: csv_path.clone(),
                what: format!(
                    "column `{name}` (expected columns: question, references, corpus_id)"
                ),
            })
    };
    let (c_question, c_refs, c_corpus) = (col("question")?, col("references")?, col("corpus_id")?);
    let mut labeler = Labeler::new(&docs, &csv_path);
    let mut questions = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            CorpusError::parse(&csv_path, line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |c: usize| record.get(c).unwrap_or_default();
        let id = row.to_string();
        let doc = labeler.doc(field(c_corpus), line)?;
        let refs: Vec<ChromaReference> = serde_json::from_str(field(c_refs)).map_err(|e| {
            CorpusError::parse(&csv_path, line, format!("column `references`: {e}"))
        })?;
        let mut spans = Vec::with_capacity(refs.len());
        for r in &refs {
            spans.push(labeler.span(
                doc,
                r.start_index,
                r.end_index,
                Some(&r.content),
                line,
                &id,
            )?);
        }
        if spans.is_empty() {
            return Err(CorpusError::parse(
                &csv_path,
                line,
                format!("question {id} has no references"),
            ));
        }
        questions.push(question(
            id,
            field(c_question).to_string(),
            Vec::new(),
            spans,
        ));
    }
    labeler.finish()?;
    Ok(Corpus { docs, questions })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use std::path::PathBuf;

    use super::*;
    use crate::{CorpusFormat, CorpusSpec, load};

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::File::create(&p)
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        p
    }

    fn spec(format: CorpusFormat, path: PathBuf, questions: Option<PathBuf>) -> CorpusSpec {
        CorpusSpec {
            questions,
            ..CorpusSpec::new(format, path)
        }
    }

    #[test]
    fn jsonl_converts_code_points_to_bytes() {
        let d = tempfile::tempdir().unwrap();
        let docs = write(
            d.path(),
            "docs.jsonl",
            "{\"id\":\"a\",\"text\":\"Ünïcode café rules\"}\n",
        );
        let qs = write(
            d.path(),
            "q.jsonl",
            "{\"id\":\"q1\",\"question\":\"what?\",\"spans\":[{\"doc_id\":\"a\",\"start\":8,\"end\":12,\"text\":\"café\"}]}\n",
        );
        let c = load(&spec(CorpusFormat::Jsonl, docs, Some(qs))).unwrap();
        let s = c.questions[0].spans[0];
        assert_eq!(&c.docs[0].text[s.start..s.end], "café");
        assert_eq!(c.questions[0].relevant_docs, vec![0]);
    }

    #[test]
    fn mismatched_labels_are_listed() {
        let d = tempfile::tempdir().unwrap();
        let docs = write(
            d.path(),
            "docs.jsonl",
            "{\"id\":\"a\",\"text\":\"hello world\"}\n",
        );
        let qs = write(
            d.path(),
            "q.jsonl",
            "{\"id\":\"q1\",\"question\":\"?\",\"spans\":[{\"doc_id\":\"a\",\"start\":0,\"end\":5,\"text\":\"hello\"}]}\n\
             {\"id\":\"q2\",\"question\":\"?\",\"spans\":[{\"doc_id\":\"a\",\"start\":1,\"end\":6,\"text\":\"world\"}]}\n",
        );
        let err = load(&spec(CorpusFormat::Jsonl, docs, Some(qs)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 of 2 labels"), "{err}");
        assert!(err.contains("line 2") && err.contains("\"q2\""), "{err}");
    }

    #[test]
    fn unknown_doc_and_bad_json_name_the_line() {
        let d = tempfile::tempdir().unwrap();
        let docs = write(d.path(), "docs.jsonl", "{\"id\":\"a\",\"text\":\"x\"}\n");
        let qs = write(
            d.path(),
            "q.jsonl",
            "\n{\"id\":\"q1\",\"question\":\"?\",\"doc_ids\":[\"zz\"]}\n",
        );
        let err = load(&spec(CorpusFormat::Jsonl, docs.clone(), Some(qs)))
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("q.jsonl:2: unknown document id \"zz\""),
            "{err}"
        );
        let qs = write(
            d.path(),
            "q2.jsonl",
            "{\"id\":\"q1\",\"question\":\"?\",\"docs\":[]}\n",
        );
        let err = load(&spec(CorpusFormat::Jsonl, docs, Some(qs)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("q2.jsonl:1:") && err.contains("unknown field `docs`"),
            "{err}"
        );
    }

    #[test]
    fn span_past_the_end_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let docs = write(
            d.path(),
            "docs.jsonl",
            "{\"id\":\"a\",\"text\":\"héllo\"}\n",
        );
        let qs = write(
            d.path(),
            "q.jsonl",
            "{\"id\":\"q\",\"question\":\"?\",\"spans\":[{\"doc_id\":\"a\",\"start\":2,\"end\":6}]}\n",
        );
        let err = load(&spec(CorpusFormat::Jsonl, docs, Some(qs)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("has 5 code points"), "{err}");
    }

    #[test]
    fn judged_regions_make_labels_pooled_unless_the_spec_says_complete() {
        let d = tempfile::tempdir().unwrap();
        let docs = write(
            d.path(),
            "docs.jsonl",
            "{\"id\":\"a\",\"text\":\"alpha beta gamma\"}\n",
        );
        let qs = write(
            d.path(),
            "q.jsonl",
            "{\"id\":\"q1\",\"question\":\"?\",\"spans\":[{\"doc_id\":\"a\",\"start\":6,\"end\":10}],\"judged\":[{\"doc_id\":\"a\",\"start\":0,\"end\":5}]}\n\
             {\"id\":\"q2\",\"question\":\"unlabelled?\"}\n",
        );
        let mut s = spec(CorpusFormat::Jsonl, docs, Some(qs));
        let c = load(&s).unwrap();
        assert_eq!(crate::labels_kind(&c), crate::LabelsKind::Pooled);
        // The gold span is judged too; the question without judged regions keeps its
        // labels complete (it has none: it is ranked, not scored).
        let regions = c.questions[0].judged.clone().unwrap();
        assert_eq!(
            regions.iter().map(|r| (r.start, r.end)).collect::<Vec<_>>(),
            vec![(0, 5), (6, 10)]
        );
        assert_eq!(c.questions[1].judged, None);
        s.labels = Some(crate::LabelsKind::Pooled);
        assert_eq!(load(&s).unwrap().questions[1].judged, Some(vec![]));
        s.labels = Some(crate::LabelsKind::Complete);
        let c = load(&s).unwrap();
        assert!(c.questions.iter().all(|q| q.judged.is_none()));
    }

    #[test]
    fn judgements_merge_by_id_and_moved_spans_are_found_by_their_text() {
        let d = tempfile::tempdir().unwrap();
        let docs = write(
            d.path(),
            "docs.jsonl",
            "{\"id\":\"a\",\"text\":\"alpha beta gamma\"}\n{\"id\":\"b\",\"text\":\"delta\"}\n",
        );
        let qs = write(
            d.path(),
            "q.jsonl",
            "{\"id\":\"q1\",\"question\":\"?\"}\n{\"id\":\"q2\",\"question\":\"??\",\"doc_ids\":[\"b\"]}\n",
        );
        // q1: "gamma" quoted at [6, 11), where "beta " is now; a whole relevant chunk of
        // b; a region judged not relevant.
        let judged = write(
            d.path(),
            "j.jsonl",
            "{\"id\":\"q1\",\"question\":\"?\",\"spans\":[{\"doc_id\":\"a\",\"start\":6,\"end\":11,\"text\":\"gamma\"}],\"judged\":[{\"doc_id\":\"a\",\"start\":6,\"end\":16}]}\n\
             {\"id\":\"q1\",\"question\":\"?\",\"doc_ids\":[\"b\"],\"judged\":[{\"doc_id\":\"b\",\"start\":0,\"end\":5}]}\n",
        );
        let mut s = spec(CorpusFormat::Jsonl, docs, Some(qs));
        s.judgements = Some(judged);
        let c = load(&s).unwrap();
        let q1 = &c.questions[0];
        assert_eq!(q1.spans.len(), 1);
        assert_eq!((q1.spans[0].start, q1.spans[0].end), (11, 16));
        assert_eq!(q1.relevant_docs, vec![0, 1]);
        assert_eq!(crate::labels_kind(&c), crate::LabelsKind::Pooled);
        // The unjudged question keeps its own label, complete.
        assert_eq!(c.questions[1].relevant_docs, vec![1]);
        assert_eq!(c.questions[1].judged, None);
        // A row naming no question of the corpus is refused with its line.
        let bad = write(
            d.path(),
            "bad.jsonl",
            "{\"id\":\"q9\",\"question\":\"?\"}\n",
        );
        s.judgements = Some(bad);
        let err = load(&s).unwrap_err().to_string();
        assert!(
            err.contains("bad.jsonl:1:") && err.contains("\"q9\""),
            "{err}"
        );
    }

    #[test]
    fn dir_ids_are_relative_paths() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "corpus/sub/b.md", "# B\nbody");
        write(d.path(), "corpus/a.txt", "alpha");
        let qs = write(
            d.path(),
            "q.jsonl",
            "{\"id\":\"q\",\"question\":\"?\",\"doc_ids\":[\"sub/b.md\"]}\n",
        );
        let c = load(&spec(CorpusFormat::Dir, d.path().join("corpus"), Some(qs))).unwrap();
        assert_eq!(
            c.docs.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            vec!["a.txt", "sub/b.md"]
        );
        assert_eq!(c.questions[0].relevant_docs, vec![1]);
    }

    #[test]
    fn beir_keeps_queries_with_positive_qrels() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "corpus.jsonl",
            "{\"_id\":\"d1\",\"title\":\"T\",\"text\":\"x\"}\n{\"_id\":\"d2\",\"text\":\"y\"}\n",
        );
        write(
            d.path(),
            "queries.jsonl",
            "{\"_id\":\"q1\",\"text\":\"a\"}\n{\"_id\":\"q2\",\"text\":\"b\"}\n",
        );
        write(
            d.path(),
            "qrels/test.tsv",
            "query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td1\t0\n",
        );
        let c = load(&spec(CorpusFormat::Beir, d.path().to_path_buf(), None)).unwrap();
        assert_eq!(c.questions.len(), 1);
        assert_eq!(c.questions[0].relevant_docs, vec![1]);
        assert_eq!(c.docs[0].title.as_deref(), Some("T"));
    }

    #[test]
    fn squad_offsets_are_shifted_by_paragraph() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "s.json",
            r#"{"data":[{"title":"Caf_é","paragraphs":[
              {"context":"Ça va.","qas":[{"id":"1","question":"?","answers":[{"answer_start":0,"text":"Ça"}]}]},
              {"context":"Née à Paris.","qas":[{"id":"2","question":"?","answers":[{"answer_start":6,"text":"Paris"},{"answer_start":6,"text":"Paris"}]}]}]}],"version":"1.1"}"#,
        );
        let c = load(&spec(CorpusFormat::Squad, p, None)).unwrap();
        assert_eq!(c.docs[0].text, "Ça va.\n\nNée à Paris.");
        let s = c.questions[1].spans[0];
        assert_eq!(&c.docs[0].text[s.start..s.end], "Paris");
        assert_eq!(c.questions[1].spans.len(), 2);
        assert_eq!(c.docs[0].title.as_deref(), Some("Caf é"));
    }

    #[test]
    fn chroma_layout_and_include() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "corpora/one.md", "Alpha beta.");
        write(d.path(), "corpora/two.md", "Gämma delta.");
        write(
            d.path(),
            "questions_df.csv",
            "question,references,corpus_id\n\
             Q1?,\"[{\"\"content\"\": \"\"beta\"\", \"\"start_index\"\": 6, \"\"end_index\"\": 10}]\",one\n\
             Q2?,\"[{\"\"content\"\": \"\"delta\"\", \"\"start_index\"\": 6, \"\"end_index\"\": 11}]\",two\n",
        );
        let mut s = spec(CorpusFormat::Chroma, d.path().to_path_buf(), None);
        let c = load(&s).unwrap();
        assert_eq!(c.questions.len(), 2);
        let sp = c.questions[1].spans[0];
        assert_eq!(&c.docs[1].text[sp.start..sp.end], "delta");
        s.include = Some(vec!["two".into()]);
        let c = load(&s).unwrap();
        assert_eq!((c.docs.len(), c.questions.len()), (1, 1));
        assert_eq!(c.questions[0].id, "1");
        assert_eq!(c.questions[0].spans[0].doc, 0);
        s.include = Some(vec!["three".into()]);
        assert!(load(&s).unwrap_err().to_string().contains("\"three\""));
    }
}
