//! Turning code-point labels into checked byte spans.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ragtune_core::{CharToByte, Corpus, DocId, Document, Question, Span};

use crate::error::{CorpusError, Result};

/// How many mismatches an error lists.
const MAX_EXAMPLES: usize = 5;

/// Converts labels for one questions file, collecting mismatches instead of stopping at
/// the first, so that the error shows the pattern.
pub(crate) struct Labeler<'a> {
    docs: &'a [Document],
    index: HashMap<&'a str, DocId>,
    maps: Vec<Option<CharToByte<'a>>>,
    path: PathBuf,
    examples: Vec<String>,
    mismatches: usize,
    checked: usize,
}

impl<'a> Labeler<'a> {
    pub(crate) fn new(docs: &'a [Document], path: &Path) -> Self {
        Self {
            docs,
            index: docs
                .iter()
                .enumerate()
                .map(|(i, d)| (d.id.as_str(), i as DocId))
                .collect(),
            maps: (0..docs.len()).map(|_| None).collect(),
            path: path.to_path_buf(),
            examples: Vec::new(),
            mismatches: 0,
            checked: 0,
        }
    }

    /// The document with id `id`, or an error naming the line.
    pub(crate) fn doc(&self, id: &str, line: usize) -> Result<DocId> {
        self.index.get(id).copied().ok_or_else(|| {
            CorpusError::parse(&self.path, line, format!("unknown document id {id:?}"))
        })
    }

    /// Convert the code-point span `[start, end)` of `doc` to bytes, checking `expected`
    /// (when given) against the document text.
    pub(crate) fn span(
        &mut self,
        doc: DocId,
        start: usize,
        end: usize,
        expected: Option<&str>,
        line: usize,
        question: &str,
    ) -> Result<Span> {
        let d = doc as usize;
        let text = self.docs[d].text.as_str();
        let map = self.maps[d].get_or_insert_with(|| CharToByte::new(text));
        if start >= end {
            let why = if start == end {
                format!(
                    "span [{start}, {end}) is empty; a gold span must hold at least one character"
                )
            } else {
                format!(
                    "span start {start} is after its end {end}; a span must be [start, end) with start < end"
                )
            };
            return Err(CorpusError::parse(
                &self.path,
                line,
                format!("question {question:?}: {why}"),
            ));
        }
        let (Some(bs), Some(be)) = (map.byte(start), map.byte(end)) else {
            return Err(CorpusError::parse(
                &self.path,
                line,
                format!(
                    "question {question:?}: span [{start}, {end}) lies outside document {:?}, which has {} code points; offsets must count code points from 0, end exclusive",
                    self.docs[d].id,
                    map.n_chars()
                ),
            ));
        };
        if let Some(expected) = expected {
            self.checked += 1;
            let found = &text[bs..be];
            if found != expected {
                self.mismatches += 1;
                if self.examples.len() < MAX_EXAMPLES {
                    self.examples.push(format!(
                        "  line {line}, question {question:?}, document {:?} [{start}, {end}): expected {:?}, found {:?}",
                        self.docs[d].id,
                        preview(expected),
                        preview(found)
                    ));
                }
            }
        }
        Ok(Span {
            doc,
            start: bs,
            end: be,
        })
    }

    /// Fail if any label mismatched.
    pub(crate) fn finish(self) -> Result<()> {
        if self.mismatches == 0 {
            return Ok(());
        }
        Err(CorpusError::LabelMismatch {
            path: self.path,
            count: self.mismatches,
            total: self.checked,
            examples: self.examples,
        })
    }
}

pub(crate) fn preview(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// Build a question, deriving its relevant documents from its direct labels and spans.
pub(crate) fn question(
    id: String,
    text: String,
    mut docs: Vec<DocId>,
    spans: Vec<Span>,
) -> Question {
    docs.extend(spans.iter().map(|s| s.doc));
    docs.sort_unstable();
    docs.dedup();
    Question {
        id,
        text,
        relevant_docs: docs,
        spans,
        alternatives: Vec::new(),
        judged: None,
    }
}

/// Keep only the documents in `include`, and the questions whose labels all lie in them.
pub(crate) fn restrict(corpus: Corpus, include: &[String], path: &Path) -> Result<Corpus> {
    let index = corpus.doc_index();
    let mut keep = vec![None; corpus.docs.len()];
    let mut next: DocId = 0;
    let mut wanted: Vec<usize> = Vec::new();
    for id in include {
        let &d = index.get(id.as_str()).ok_or_else(|| CorpusError::Missing {
            path: path.to_path_buf(),
            what: format!("`include` names document {id:?}, which the corpus does not have"),
        })?;
        wanted.push(d as usize);
    }
    wanted.sort_unstable();
    wanted.dedup();
    for d in wanted {
        keep[d] = Some(next);
        next += 1;
    }
    let docs = corpus
        .docs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep[*i].is_some())
        .map(|(_, d)| d)
        .collect();
    let questions = corpus
        .questions
        .into_iter()
        .filter_map(|q| {
            let relevant_docs = q
                .relevant_docs
                .iter()
                .map(|&d| keep[d as usize])
                .collect::<Option<Vec<_>>>()?;
            let moved = |spans: &[Span]| {
                spans
                    .iter()
                    .map(|s| keep[s.doc as usize].map(|doc| Span { doc, ..*s }))
                    .collect::<Option<Vec<_>>>()
            };
            let spans = moved(&q.spans)?;
            let alternatives = q
                .alternatives
                .iter()
                .map(|a| moved(a))
                .collect::<Option<Vec<_>>>()?;
            // A judged region in a document left out goes with it.
            let judged = q.judged.as_ref().map(|j| {
                j.iter()
                    .filter_map(|s| keep[s.doc as usize].map(|doc| Span { doc, ..*s }))
                    .collect()
            });
            Some(Question {
                relevant_docs,
                spans,
                alternatives,
                judged,
                ..q
            })
        })
        .collect();
    Ok(Corpus { docs, questions })
}
