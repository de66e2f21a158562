//! The judgements of one judging session, kept in a judgements file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ragtune_core::{CharToByte, Corpus};
use serde::{Deserialize, Serialize};

use crate::error::{JudgeError, Result};

/// A judged chunk's place: a document and code points `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Document id.
    pub doc_id: String,
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
}

/// Relevant text selected inside a chunk: code points of the document, and the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// The text there.
    pub text: String,
}

/// What a person said of a pooled chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "selections")]
pub enum Verdict {
    /// The whole chunk is relevant.
    Relevant,
    /// Nothing in it is relevant.
    NotRelevant,
    /// Exactly this text in it is relevant.
    Selected(Vec<Selection>),
}

/// One judged chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    /// The chunk.
    pub region: Region,
    /// What was said of it.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// How far judging has got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Pooled chunks that are judged (all their text lies in judged chunks).
    pub judged: usize,
    /// Pooled chunks.
    pub pooled: usize,
}

/// One line of a judgements file: a questions-file row (module `questions` of
/// ragtune-corpus) holding one judged chunk.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: String,
    question: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    doc_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    spans: Vec<LineSpan>,
    judged: Vec<Region>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineSpan {
    doc_id: String,
    start: usize,
    end: usize,
    text: String,
}

/// The judgements, by question, and the file they are kept in.
#[derive(Debug)]
pub struct Book {
    path: PathBuf,
    questions: Vec<(String, String)>,
    order: HashMap<String, usize>,
    judged: Vec<BTreeMap<Region, Verdict>>,
    /// Lines naming questions this corpus lacks (judged on another run): kept as read.
    foreign: Vec<String>,
}

impl Book {
    /// The judgements in `path` (none when it does not exist yet) for `corpus`'s questions.
    pub fn open(path: &Path, corpus: &Corpus) -> Result<Book> {
        let questions: Vec<(String, String)> = (corpus.questions.iter())
            .map(|q| (q.id.clone(), q.text.clone()))
            .collect();
        let order = (questions.iter().enumerate())
            .map(|(i, (id, _))| (id.clone(), i))
            .collect();
        let mut book = Book {
            path: path.to_path_buf(),
            judged: vec![BTreeMap::new(); questions.len()],
            questions,
            order,
            foreign: Vec::new(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(book),
            Err(source) => return Err(book.io(source)),
        };
        for (i, raw) in text.lines().enumerate() {
            if !raw.trim().is_empty() {
                book.read_line(raw, i + 1)?;
            }
        }
        Ok(book)
    }

    fn read_line(&mut self, raw: &str, line: usize) -> Result<()> {
        let parse = |message: String| JudgeError::Parse {
            path: self.path.clone(),
            line,
            message,
        };
        let l: Line = serde_json::from_str(raw).map_err(|e| {
            parse(format!("{e}; expected a line written by `ragtune judge`: {{\"id\", \"question\", \"doc_ids\"?, \"spans\"?, \"judged\": [one region]}}"))
        })?;
        let [region] = <[Region; 1]>::try_from(l.judged).map_err(|j| {
            parse(format!(
                "`judged` lists {} regions; a line of `ragtune judge` judges one chunk",
                j.len()
            ))
        })?;
        let verdict = if !l.spans.is_empty() {
            Verdict::Selected(
                (l.spans.into_iter())
                    .map(|s| Selection {
                        start: s.start,
                        end: s.end,
                        text: s.text,
                    })
                    .collect(),
            )
        } else if l.doc_ids.is_empty() {
            Verdict::NotRelevant
        } else {
            Verdict::Relevant
        };
        match self.order.get(&l.id) {
            Some(&q) => {
                self.judged[q].insert(region, verdict);
            }
            None => self.foreign.push(raw.to_string()),
        }
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> JudgeError {
        JudgeError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The judgements file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Question `q`'s judgements.
    pub fn judgements(&self, q: usize) -> impl Iterator<Item = (&Region, &Verdict)> {
        self.judged[q].iter()
    }

    /// What was said of chunk `region` of question `q`.
    pub fn verdict(&self, q: usize, region: &Region) -> Option<&Verdict> {
        self.judged[q].get(region)
    }

    /// How many chunks are judged in all.
    pub fn len(&self) -> usize {
        self.judged.iter().map(BTreeMap::len).sum()
    }

    /// Whether nothing is judged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether all of `region` lies in chunks judged for question `q`.
    pub fn is_judged(&self, q: usize, region: &Region) -> bool {
        let mut spans: Vec<(usize, usize)> = (self.judged[q].keys())
            .filter(|r| r.doc_id == region.doc_id && r.end > region.start && r.start < region.end)
            .map(|r| (r.start, r.end))
            .collect();
        spans.sort_unstable();
        let mut covered = region.start;
        for (s, e) in spans {
            if s > covered {
                return false;
            }
            covered = covered.max(e);
        }
        covered >= region.end
    }

    /// Judged and pooled counts for question `q` over its pooled `regions`.
    pub fn progress(&self, q: usize, regions: &[Region]) -> Progress {
        Progress {
            judged: regions.iter().filter(|r| self.is_judged(q, r)).count(),
            pooled: regions.len(),
        }
    }

    /// Record `verdict` (or clear the judgement, with `None`) for chunk `region` of
    /// question `q`, and rewrite the file atomically. When the file cannot be written the
    /// judgement is not kept either, and the error says why.
    pub fn set(&mut self, q: usize, region: Region, verdict: Option<Verdict>) -> Result<()> {
        if let Some(Verdict::Selected(sel)) = &verdict {
            check_selections(&region, sel)?;
        }
        let before = match verdict {
            Some(v) => self.judged[q].insert(region.clone(), v),
            None => self.judged[q].remove(&region),
        };
        if let Err(e) = self.save() {
            match before {
                Some(v) => self.judged[q].insert(region, v),
                None => self.judged[q].remove(&region),
            };
            return Err(e);
        }
        Ok(())
    }

    /// Write every judgement, in question order, atomically.
    fn save(&self) -> Result<()> {
        let mut out = String::new();
        for (q, judged) in self.judged.iter().enumerate() {
            let (id, text) = &self.questions[q];
            for (region, verdict) in judged {
                let line = line(id, text, region, verdict);
                out.push_str(&serde_json::to_string(&line).expect("a line serialises"));
                out.push('\n');
            }
        }
        for raw in &self.foreign {
            out.push_str(raw);
            out.push('\n');
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        ragtune_core::write_atomic(&self.path, out.as_bytes()).map_err(|e| self.io(e))
    }
}

fn line(id: &str, text: &str, region: &Region, verdict: &Verdict) -> Line {
    let (doc_ids, spans) = match verdict {
        Verdict::Relevant => (vec![region.doc_id.clone()], Vec::new()),
        Verdict::NotRelevant => (Vec::new(), Vec::new()),
        Verdict::Selected(sel) => (
            Vec::new(),
            sel.iter()
                .map(|s| LineSpan {
                    doc_id: region.doc_id.clone(),
                    start: s.start,
                    end: s.end,
                    text: s.text.clone(),
                })
                .collect(),
        ),
    };
    Line {
        id: id.to_string(),
        question: text.to_string(),
        doc_ids,
        spans,
        judged: vec![region.clone()],
    }
}

fn check_selections(region: &Region, sel: &[Selection]) -> Result<()> {
    if sel.is_empty() {
        return Err(JudgeError::Invalid(
            "a selection verdict needs at least one selection".into(),
        ));
    }
    for s in sel {
        if !(region.start <= s.start && s.start < s.end && s.end <= region.end) {
            return Err(JudgeError::Invalid(format!(
                "selection [{}, {}) is empty or outside the chunk [{}, {}) of {:?}",
                s.start, s.end, region.start, region.end, region.doc_id
            )));
        }
    }
    Ok(())
}

/// The selection of code points `[start, end)` of `region`'s document, with its text.
pub fn selection(corpus: &Corpus, region: &Region, start: usize, end: usize) -> Result<Selection> {
    let doc = (corpus.docs.iter())
        .find(|d| d.id == region.doc_id)
        .ok_or_else(|| JudgeError::Invalid(format!("unknown document {:?}", region.doc_id)))?;
    let map = CharToByte::new(&doc.text);
    match (map.byte(start), map.byte(end)) {
        (Some(s), Some(e)) if s < e => Ok(Selection {
            start,
            end,
            text: doc.text[s..e].to_string(),
        }),
        _ => Err(JudgeError::Invalid(format!(
            "selection [{start}, {end}) is empty or outside document {:?}",
            region.doc_id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ragtune_core::{Document, Question};

    fn corpus() -> Corpus {
        let doc = |id: &str, text: &str| Document {
            id: id.into(),
            title: None,
            text: text.into(),
            pages: Vec::new(),
        };
        let q = |id: &str| Question {
            id: id.into(),
            text: format!("{id}?"),
            relevant_docs: vec![],
            spans: vec![],
            alternatives: vec![],
            judged: None,
        };
        Corpus {
            docs: vec![doc("a", "çà et là, ici"), doc("b", "beta")],
            questions: vec![q("q1"), q("q2")],
        }
    }

    fn r(doc: &str, start: usize, end: usize) -> Region {
        Region {
            doc_id: doc.into(),
            start,
            end,
        }
    }

    #[test]
    fn judgements_are_written_as_label_lines_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sub/j.jsonl");
        let c = corpus();
        let mut book = Book::open(&path, &c).unwrap();
        assert!(book.is_empty());
        book.set(1, r("b", 0, 4), Some(Verdict::Relevant)).unwrap();
        book.set(0, r("a", 0, 8), Some(Verdict::NotRelevant))
            .unwrap();
        // "là" is code points [6, 8) of "çà et là, ici".
        let sel = selection(&c, &r("a", 6, 13), 6, 8).unwrap();
        assert_eq!(sel.text, "là");
        book.set(0, r("a", 6, 13), Some(Verdict::Selected(vec![sel.clone()])))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"id":"q1","question":"q1?","judged":[{"doc_id":"a","start":0,"end":8}]}"#,
                r#"{"id":"q1","question":"q1?","spans":[{"doc_id":"a","start":6,"end":8,"text":"là"}],"judged":[{"doc_id":"a","start":6,"end":13}]}"#,
                r#"{"id":"q2","question":"q2?","doc_ids":["b"],"judged":[{"doc_id":"b","start":0,"end":4}]}"#,
            ]
        );
        let back = Book::open(&path, &c).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back.verdict(1, &r("b", 0, 4)), Some(&Verdict::Relevant));
        assert_eq!(
            back.verdict(0, &r("a", 6, 13)),
            Some(&Verdict::Selected(vec![sel]))
        );
        // [2, 10) lies in [0, 8) ∪ [6, 13); [2, 14) does not.
        assert!(back.is_judged(0, &r("a", 2, 10)));
        assert!(!back.is_judged(0, &r("a", 2, 14)));
        let p = back.progress(0, &[r("a", 0, 8), r("a", 2, 10), r("a", 9, 14)]);
        assert_eq!((p.judged, p.pooled), (2, 3));
    }

    #[test]
    fn clearing_and_bad_selections_and_foreign_lines() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("j.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"other\",\"question\":\"?\",\"judged\":[{\"doc_id\":\"x\",\"start\":0,\"end\":1}]}\n",
        )
        .unwrap();
        let c = corpus();
        let mut book = Book::open(&path, &c).unwrap();
        book.set(0, r("a", 0, 8), Some(Verdict::Relevant)).unwrap();
        book.set(0, r("a", 0, 8), None).unwrap();
        let outside = Selection {
            start: 7,
            end: 9,
            text: "x".into(),
        };
        let e = book.set(0, r("a", 0, 8), Some(Verdict::Selected(vec![outside])));
        assert!(e.unwrap_err().to_string().contains("outside the chunk"));
        // The other run's judgement is kept as it was.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("{\"id\":\"other\""));
        std::fs::write(&path, "{\"id\":\"q1\",\"question\":\"?\",\"judged\":[]}\n").unwrap();
        let e = Book::open(&path, &c).unwrap_err().to_string();
        assert!(
            e.contains("j.jsonl:1:") && e.contains("lists 0 regions"),
            "{e}"
        );
    }

    #[test]
    fn a_failed_write_keeps_nothing() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("j.jsonl");
        let c = corpus();
        let mut book = Book::open(&path, &c).unwrap();
        // A folder where the file should go: the rename onto it fails.
        std::fs::create_dir(&path).unwrap();
        assert!(book.set(0, r("a", 0, 8), Some(Verdict::Relevant)).is_err());
        assert!(book.is_empty());
    }
}
