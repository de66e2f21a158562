//! Resolving labels as written (document ids, spans, sources, quoted answers) against the
//! documents, with a report of how each label was resolved.

use std::collections::HashMap;
use std::path::Path;

use ragtune_core::{DocId, Document, Question, Span};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CorpusError, Result};
use crate::labels::{Labeler, preview};
use crate::locate::{Located, Locator, MatchKind, Place};
use crate::questions::{RawLabel, RawQuestion};

/// What a `[corpus]` does with an answer it cannot find in the documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unresolved {
    /// Refuse the labels, listing what was not found (the default).
    #[default]
    Fail,
    /// Drop those labels, listing them in the manifest (a question left with none is
    /// ranked, not scored).
    Drop,
    /// Keep going and find each one's nearest text: what `labels check` reports (not a
    /// grid setting).
    #[serde(skip)]
    Report,
}

/// How one label was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A document id, or a source naming a document.
    Document,
    /// Offsets, checked against the text where it was given.
    Span,
    /// An answer found byte for byte.
    Exact,
    /// An answer found after normalisation.
    Normalised,
    /// An answer found approximately.
    Fuzzy,
    /// An answer not found.
    NotFound,
}

/// One label's resolution, for `labels check` and the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelReport {
    /// The question's id.
    pub question: String,
    /// The 1-based line of the questions file.
    pub line: usize,
    /// The label as written: the answer text, source, document id or span's document.
    pub label: String,
    /// How it resolved.
    pub resolution: Resolution,
    /// Where: the places found (alternatives), or for an answer not found the nearest.
    pub places: Vec<Place>,
}

impl LabelReport {
    /// An answer found at more than one place.
    pub fn is_ambiguous(&self) -> bool {
        self.resolution != Resolution::NotFound && self.places.len() > 1
    }
}

/// Resolve every question's labels. Answers are located in parallel.
pub(crate) fn resolve(
    docs: &[Document],
    raw: Vec<RawQuestion>,
    path: &Path,
    unresolved: Unresolved,
) -> Result<(Vec<Question>, Vec<LabelReport>)> {
    let names = SourceNames::new(docs);
    // The nearest text of a miss is for people: `labels check` and a failing load's
    // examples. A sweep that drops misses skips the search.
    let locator = Locator::new(docs).with_nearest(unresolved != Unresolved::Drop);
    let mut labeler = Labeler::new(docs, path);
    let mut questions = Vec::with_capacity(raw.len());
    let mut reports = Vec::new();
    // Answers first, all at once: they are the slow part.
    let located: Vec<Vec<Option<Located>>> = raw
        .par_iter()
        .map(|q| {
            q.labels
                .iter()
                .map(|(line, l)| match l {
                    RawLabel::Answer { text, sources } => {
                        let scope = names.resolve_all(sources, *line, path).ok()?;
                        Some(locator.locate(text, scope.as_deref()))
                    }
                    _ => None,
                })
                .collect()
        })
        .collect();
    for (q, found) in raw.into_iter().zip(located) {
        let mut b = Built::default();
        for ((line, label), found) in q.labels.iter().zip(found) {
            if let Some(report) = b.add(&mut labeler, &names, &q.id, *line, label, found, path)? {
                reports.push(report);
            }
        }
        // A question without labels (written so, or left so by `unresolved = "drop"`) is
        // welcome: it is ranked, not scored.
        questions.push(b.finish(q.id, q.text));
    }
    labeler.finish()?;
    check_unresolved(&reports, path, unresolved)?;
    Ok((questions, reports))
}

/// One question's resolved labels.
#[derive(Default)]
struct Built {
    docs: Vec<DocId>,
    spans: Vec<Span>,
    alternatives: Vec<Vec<Span>>,
    judged: Vec<Span>,
}

impl Built {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        labeler: &mut Labeler,
        names: &SourceNames,
        question: &str,
        line: usize,
        label: &RawLabel,
        found: Option<Located>,
        path: &Path,
    ) -> Result<Option<LabelReport>> {
        let report = |label: &str, resolution, places| LabelReport {
            question: question.to_string(),
            line,
            label: label.to_string(),
            resolution,
            places,
        };
        Ok(Some(match label {
            RawLabel::Judged { doc_id, start, end } => {
                let d = labeler.doc(doc_id, line)?;
                let region = labeler.span(d, *start, *end, None, line, question)?;
                self.judged.push(region);
                return Ok(None);
            }
            RawLabel::Doc(id) | RawLabel::Source(id) => {
                let d = match label {
                    RawLabel::Doc(_) => labeler.doc(id, line)?,
                    _ => names.resolve(id, line, path)?,
                };
                self.docs.push(d);
                report(id, Resolution::Document, Vec::new())
            }
            RawLabel::Span {
                doc_id,
                start,
                end,
                text,
            } => {
                let d = labeler.doc(doc_id, line)?;
                let s = labeler.span(d, *start, *end, text.as_deref(), line, question)?;
                self.spans.push(s);
                report(doc_id, Resolution::Span, Vec::new())
            }
            RawLabel::Answer { text, sources } => {
                // A source that does not resolve was skipped by the locator: say so here.
                names.resolve_all(sources, line, path)?;
                self.answer(found, |res, places| report(text, res, places))
            }
        }))
    }

    fn answer(
        &mut self,
        found: Option<Located>,
        report: impl Fn(Resolution, Vec<Place>) -> LabelReport,
    ) -> LabelReport {
        match found {
            Some(Located::Found { kind, places }) => {
                let spans: Vec<Span> = places
                    .iter()
                    .map(|p| Span {
                        doc: p.doc,
                        start: p.start,
                        end: p.end,
                    })
                    .collect();
                if let [one] = spans[..] {
                    self.spans.push(one);
                } else {
                    // Alternatives in one document make it relevant; across several, none is.
                    if spans.iter().all(|s| s.doc == spans[0].doc) {
                        self.docs.push(spans[0].doc);
                    }
                    self.alternatives.push(spans);
                }
                let res = match kind {
                    MatchKind::Exact => Resolution::Exact,
                    MatchKind::Normalised => Resolution::Normalised,
                    MatchKind::Fuzzy(_) => Resolution::Fuzzy,
                };
                report(res, places)
            }
            Some(Located::NotFound { nearest }) => report(Resolution::NotFound, nearest),
            None => report(Resolution::NotFound, Vec::new()),
        }
    }

    /// The question with its resolved labels (possibly none).
    fn finish(mut self, id: String, text: String) -> Question {
        self.docs.extend(self.spans.iter().map(|s| s.doc));
        self.docs.sort_unstable();
        self.docs.dedup();
        Question {
            id,
            text,
            relevant_docs: self.docs,
            spans: self.spans,
            alternatives: self.alternatives,
            judged: (!self.judged.is_empty()).then_some(self.judged),
        }
    }
}

/// How many unresolved answers an error lists.
const MAX_LISTED: usize = 5;

fn check_unresolved(reports: &[LabelReport], path: &Path, policy: Unresolved) -> Result<()> {
    let missing: Vec<&LabelReport> = reports
        .iter()
        .filter(|r| r.resolution == Resolution::NotFound)
        .collect();
    if missing.is_empty() || policy != Unresolved::Fail {
        return Ok(());
    }
    let answers = reports.iter().filter(|r| {
        matches!(
            r.resolution,
            Resolution::Exact | Resolution::Normalised | Resolution::Fuzzy | Resolution::NotFound
        )
    });
    let examples = missing
        .iter()
        .take(MAX_LISTED)
        .map(|r| {
            let near = r.places.first().map_or(String::new(), |p| {
                format!(" (nearest: similarity {:.2})", p.score)
            });
            format!(
                "  line {}, question {:?}: {:?}{near}",
                r.line,
                r.question,
                preview(&r.label)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Err(CorpusError::Invalid {
        path: path.to_path_buf(),
        message: format!(
            "{} of {} answers were not found in the documents (an answer must be text quoted from them); first:\n{examples}\n`ragtune labels check GRID` shows every label and the nearest text; `unresolved = \"drop\"` in [corpus] sweeps without them (they are listed in the manifest)",
            missing.len(),
            answers.count()
        ),
    })
}

/// Documents by id, by file name and by file stem, for `source` labels.
struct SourceNames {
    by_id: HashMap<String, DocId>,
    by_name: HashMap<String, Vec<DocId>>,
    ids: Vec<String>,
}

impl SourceNames {
    fn new(docs: &[Document]) -> Self {
        let mut by_name: HashMap<String, Vec<DocId>> = HashMap::new();
        for (i, d) in docs.iter().enumerate() {
            let name = d.id.rsplit('/').next().unwrap_or(&d.id);
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            by_name
                .entry(name.to_string())
                .or_default()
                .push(i as DocId);
            if stem != name {
                by_name
                    .entry(stem.to_string())
                    .or_default()
                    .push(i as DocId);
            }
        }
        Self {
            by_id: docs
                .iter()
                .enumerate()
                .map(|(i, d)| (d.id.clone(), i as DocId))
                .collect(),
            by_name,
            ids: docs.iter().map(|d| d.id.clone()).collect(),
        }
    }

    fn resolve(&self, source: &str, line: usize, path: &Path) -> Result<DocId> {
        let source = source.trim();
        if let Some(&d) = self.by_id.get(source) {
            return Ok(d);
        }
        match self.by_name.get(source).map(Vec::as_slice) {
            Some([one]) => Ok(*one),
            Some(many) => Err(CorpusError::parse(
                path,
                line,
                format!(
                    "source {source:?} names {} documents ({}); give its path in the corpus folder",
                    many.len(),
                    many.iter()
                        .map(|&d| self.ids[d as usize].as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            None => Err(CorpusError::parse(
                path,
                line,
                format!(
                    "source {source:?} is no document of the corpus; expected a document id (its path in the corpus folder) or a file name"
                ),
            )),
        }
    }

    /// The documents `sources` name, or `None` (every document) when there are none.
    fn resolve_all(
        &self,
        sources: &[String],
        line: usize,
        path: &Path,
    ) -> Result<Option<Vec<DocId>>> {
        if sources.is_empty() {
            return Ok(None);
        }
        let mut out = sources
            .iter()
            .map(|s| self.resolve(s, line, path))
            .collect::<Result<Vec<_>>>()?;
        out.sort_unstable();
        out.dedup();
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Vec<Document> {
        let d = |id: &str, text: &str| Document {
            id: id.into(),
            text: text.into(),
            ..Document::default()
        };
        vec![
            d("a/guide.pdf", "Install the tool. Then run the tool."),
            d("b/notes.html", "The tool is fast."),
        ]
    }

    fn q(labels: Vec<RawLabel>) -> RawQuestion {
        RawQuestion {
            id: "q".into(),
            text: "?".into(),
            line: 2,
            labels: labels.into_iter().map(|l| (2, l)).collect(),
        }
    }

    fn answer(text: &str, sources: &[&str]) -> RawLabel {
        RawLabel::Answer {
            text: text.into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn answers_become_spans_or_alternatives() {
        let docs = docs();
        let p = Path::new("q.csv");
        let (qs, reports) = resolve(
            &docs,
            vec![q(vec![
                answer("Install the tool", &[]),
                answer("the tool", &[]),
            ])],
            p,
            Unresolved::Fail,
        )
        .unwrap();
        let q = &qs[0];
        assert_eq!(
            q.spans,
            vec![Span {
                doc: 0,
                start: 0,
                end: 16
            }]
        );
        // "the tool" is twice in the guide (the notes have "The tool"): one label, two
        // alternatives, both in the guide, which is relevant.
        assert_eq!(q.alternatives.len(), 1);
        assert_eq!(q.alternatives[0].len(), 2);
        assert_eq!(q.relevant_docs, vec![0]);
        assert_eq!(reports[1].resolution, Resolution::Exact);
        assert!(reports[1].is_ambiguous());
    }

    #[test]
    fn unlabelled_questions_stay_and_judged_regions_are_kept() {
        let docs = docs();
        let p = Path::new("q.jsonl");
        let unlabelled = RawQuestion {
            id: "u".into(),
            text: "?".into(),
            line: 1,
            labels: vec![],
        };
        let judged = RawLabel::Judged {
            doc_id: "b/notes.html".into(),
            start: 0,
            end: 4,
        };
        let (qs, reports) = resolve(
            &docs,
            vec![unlabelled, q(vec![judged])],
            p,
            Unresolved::Fail,
        )
        .unwrap();
        assert_eq!(qs.len(), 2);
        assert!(!qs[0].is_labelled() && qs[0].judged.is_none());
        // Judged and found nothing relevant: no label, one judged region.
        assert!(!qs[1].is_labelled());
        assert_eq!(
            qs[1].judged,
            Some(vec![Span {
                doc: 1,
                start: 0,
                end: 4
            }])
        );
        assert!(reports.is_empty());
    }

    #[test]
    fn sources_scope_answers_and_resolve_by_file_name() {
        let docs = docs();
        let p = Path::new("q.csv");
        let raw = vec![q(vec![
            answer("the tool", &["notes.html"]),
            RawLabel::Source("notes.html".into()),
        ])];
        let (qs, _) = resolve(&docs, raw, p, Unresolved::Fail).unwrap();
        assert_eq!(
            qs[0].spans,
            vec![Span {
                doc: 1,
                start: 0,
                end: 8
            }]
        );
        assert_eq!(qs[0].relevant_docs, vec![1]);
        let raw = vec![q(vec![RawLabel::Source("guide".into())])];
        assert_eq!(
            resolve(&docs, raw, p, Unresolved::Fail).unwrap().0[0].relevant_docs,
            vec![0]
        );
        let raw = vec![q(vec![RawLabel::Source("missing.pdf".into())])];
        let e = resolve(&docs, raw, p, Unresolved::Fail)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("q.csv:2: source \"missing.pdf\" is no document"),
            "{e}"
        );
    }

    #[test]
    fn unresolved_answers_fail_or_are_dropped_never_silently() {
        let docs = docs();
        let p = Path::new("q.csv");
        let raw = || vec![q(vec![answer("uninstall everything", &[])])];
        let e = resolve(&docs, raw(), p, Unresolved::Fail)
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 of 1 answers were not found"), "{e}");
        assert!(
            e.contains("line 2, question \"q\": \"uninstall everything\""),
            "{e}"
        );
        let (qs, reports) = resolve(&docs, raw(), p, Unresolved::Drop).unwrap();
        // The question stays, unlabelled: ranked, not scored.
        assert_eq!(qs.len(), 1);
        assert!(!qs[0].is_labelled());
        // Dropping needs no nearest text; reporting finds it.
        assert!(reports[0].places.is_empty());
        let (_, reported) = resolve(&docs, raw(), p, Unresolved::Report).unwrap();
        assert_eq!(reported[0].resolution, Resolution::NotFound);
        assert!(!reported[0].places.is_empty());
        assert_eq!(reports[0].resolution, Resolution::NotFound);
    }
}
