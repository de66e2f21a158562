//! Questions files as people write them: JSONL or CSV, one row per question or per label.
//!
//! Columns (CSV) or fields (JSONL): `question` (required), and any of `id`, `answer` (text
//! quoted from the documents), `source` (a file name or document id), `doc_ids` and
//! `spans` (`[{"doc_id", "start", "end", "text"?}]`, code points). In JSONL, `answer` and
//! `source` may be lists. In CSV, `doc_ids` is a JSON list or `;`-separated and `spans` a
//! JSON list. `judged` (`[{"doc_id", "start", "end"}]`) lists regions a person judged, for
//! pooled labels. A question without labels is welcome: it is ranked, not scored. Rows with the same `id` (or, without one, the same question text) add labels
//! to one question. A question without an `id` is named `q-` and the first 8 hex digits of
//! its text's sha256, so that adding rows never renames it.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{CorpusError, Result};

/// One label as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawLabel {
    /// A document id.
    Doc(String),
    /// Code-point offsets in a document, with the text they should hold.
    Span {
        doc_id: String,
        start: usize,
        end: usize,
        text: Option<String>,
    },
    /// Text quoted from the documents, looked for in `sources` (every document if none).
    Answer { text: String, sources: Vec<String> },
    /// A file name or document id.
    Source(String),
    /// Code-point offsets of a region a person judged (pooled labels): looked at, and
    /// relevant only where a span or document label says so.
    Judged {
        doc_id: String,
        start: usize,
        end: usize,
    },
}

/// A question with its labels as written, each with its 1-based line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawQuestion {
    pub id: String,
    pub text: String,
    pub line: usize,
    pub labels: Vec<(usize, RawLabel)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Row {
    #[serde(default)]
    id: Option<String>,
    question: String,
    #[serde(default)]
    doc_ids: Vec<String>,
    #[serde(default)]
    spans: Vec<RowSpan>,
    #[serde(default, deserialize_with = "one_or_many")]
    answer: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    source: Vec<String>,
    #[serde(default)]
    judged: Vec<RowRegion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowRegion {
    doc_id: String,
    start: usize,
    end: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowSpan {
    doc_id: String,
    start: usize,
    end: usize,
    #[serde(default)]
    text: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    let v = Option::<Either>::deserialize(d)
        .map_err(|_| serde::de::Error::custom("expected a string or a list of strings"))?;
    Ok(match v {
        None => Vec::new(),
        Some(Either::One(s)) => vec![s],
        Some(Either::Many(v)) => v,
    })
}

impl Row {
    fn labels(self) -> (Option<String>, String, Vec<RawLabel>) {
        let mut labels: Vec<RawLabel> = self.doc_ids.into_iter().map(RawLabel::Doc).collect();
        labels.extend(self.spans.into_iter().map(|s| RawLabel::Span {
            doc_id: s.doc_id,
            start: s.start,
            end: s.end,
            text: s.text,
        }));
        let answers = self.answer.into_iter().filter(|a| !a.trim().is_empty());
        labels.extend(answers.map(|text| RawLabel::Answer {
            text,
            sources: self.source.clone(),
        }));
        labels.extend(self.source.into_iter().map(RawLabel::Source));
        labels.extend(self.judged.into_iter().map(|r| RawLabel::Judged {
            doc_id: r.doc_id,
            start: r.start,
            end: r.end,
        }));
        (self.id.filter(|i| !i.is_empty()), self.question, labels)
    }
}

/// The columns a questions CSV may have.
const COLUMNS: [&str; 7] = [
    "id", "question", "answer", "source", "doc_ids", "spans", "judged",
];

/// Read a questions file: CSV when its name ends in `.csv`, else JSONL.
pub(crate) fn read(path: &Path) -> Result<Vec<RawQuestion>> {
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let rows = if is_csv {
        csv_rows(path)?
    } else {
        crate::jsonl::read(path)?
    };
    group(rows, path)
}

fn csv_rows(path: &Path) -> Result<Vec<(usize, Row)>> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| CorpusError::parse(path, 0, e.to_string()))?;
    // Excel's "CSV UTF-8" starts with a byte-order mark; spreadsheets pad names.
    let headers: csv::StringRecord = reader
        .headers()
        .map_err(|e| CorpusError::parse(path, 1, e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim())
        .collect();
    for h in &headers {
        if !COLUMNS.contains(&h) {
            return Err(CorpusError::parse(
                path,
                1,
                format!(
                    "unknown column {h:?}; expected some of {}",
                    COLUMNS.join(", ")
                ),
            ));
        }
    }
    if !headers.iter().any(|h| h == "question") {
        return Err(CorpusError::parse(
            path,
            1,
            format!(
                "no `question` column; expected some of {}",
                COLUMNS.join(", ")
            ),
        ));
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            CorpusError::parse(path, line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        out.push((
            line,
            csv_row(&headers, &record).map_err(|m| CorpusError::parse(path, line, m))?,
        ));
    }
    Ok(out)
}

fn csv_row(headers: &csv::StringRecord, record: &csv::StringRecord) -> Result<Row, String> {
    let cell = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .and_then(|i| record.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let doc_ids = match cell("doc_ids") {
        None => Vec::new(),
        Some(v) if v.starts_with('[') => serde_json::from_str(v)
            .map_err(|e| format!("column `doc_ids`: expected a JSON list of strings: {e}"))?,
        Some(v) => v
            .split(';')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    let spans = match cell("spans") {
        None => Vec::new(),
        Some(v) => serde_json::from_str(v).map_err(|e| {
            format!("column `spans`: expected a JSON list of {{\"doc_id\", \"start\", \"end\", \"text\"?}}: {e}")
        })?,
    };
    let judged = match cell("judged") {
        None => Vec::new(),
        Some(v) => serde_json::from_str(v).map_err(|e| {
            format!(
                "column `judged`: expected a JSON list of {{\"doc_id\", \"start\", \"end\"}}: {e}"
            )
        })?,
    };
    Ok(Row {
        judged,
        id: cell("id").map(str::to_string),
        question: cell("question").unwrap_or_default().to_string(),
        doc_ids,
        spans,
        answer: cell("answer").map(str::to_string).into_iter().collect(),
        source: cell("source").map(str::to_string).into_iter().collect(),
    })
}

/// The id a question without one gets: stable under edits to other rows (48 bits of
/// its text's sha256: a collision among a million questions has odds of about 1 in 500).
pub(crate) fn derived_id(text: &str) -> String {
    format!("q-{}", &ragtune_core::sha256_hex(text.as_bytes())[..12])
}

/// Merge rows that repeat a question (same id, or the same text where there is no id).
fn group(rows: Vec<(usize, Row)>, path: &Path) -> Result<Vec<RawQuestion>> {
    let mut out: Vec<RawQuestion> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (line, row) in rows {
        let (id, text, labels) = row.labels();
        if text.trim().is_empty() {
            return Err(CorpusError::parse(path, line, "the question text is empty"));
        }
        let id = id.unwrap_or_else(|| derived_id(&text));
        let labels = labels.into_iter().map(|l| (line, l));
        match by_key.get(&id) {
            Some(&i) if out[i].text != text => {
                return Err(CorpusError::parse(
                    path,
                    line,
                    format!(
                        "question id {id:?} appears twice with different questions (first on line {}); rows that repeat a question must repeat its text",
                        out[i].line
                    ),
                ));
            }
            Some(&i) => {
                // The same label again (three annotators quoting one answer) adds nothing.
                for l in labels {
                    if !out[i].labels.iter().any(|(_, have)| *have == l.1) {
                        out[i].labels.push(l);
                    }
                }
            }
            None => {
                by_key.insert(id.clone(), out.len());
                out.push(RawQuestion {
                    id,
                    text,
                    line,
                    labels: labels.collect(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        std::fs::write(&p, body).unwrap();
        (d, p)
    }

    #[test]
    fn csv_rows_that_repeat_a_question_add_labels() {
        let (_d, p) = write(
            "q.csv",
            "question,answer,source\n\
             Who?,\"Ada, Countess\",a.pdf\n\
             Who?,Lovelace,\n\
             Who?,Lovelace,\n\
             When?,,b.html\n",
        );
        let qs = read(&p).unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[0].id, derived_id("Who?"));
        assert_eq!(
            qs[0].labels,
            vec![
                (
                    2,
                    RawLabel::Answer {
                        text: "Ada, Countess".into(),
                        sources: vec!["a.pdf".into()]
                    }
                ),
                (2, RawLabel::Source("a.pdf".into())),
                (
                    3,
                    RawLabel::Answer {
                        text: "Lovelace".into(),
                        sources: vec![]
                    }
                ),
            ]
        );
        assert_eq!(qs[1].labels, vec![(5, RawLabel::Source("b.html".into()))]);
    }

    #[test]
    fn a_byte_order_mark_and_padded_headers_are_read() {
        let (_d, p) = write("q.csv", "\u{feff}question , answer\nWho?,Ada\n");
        let qs = read(&p).unwrap();
        assert_eq!(qs[0].labels.len(), 1);
    }

    #[test]
    fn jsonl_takes_lists_and_ids() {
        let (_d, p) = write(
            "q.jsonl",
            "{\"id\":\"1\",\"question\":\"Q\",\"answer\":[\"x\",\"y\"],\"doc_ids\":[\"d\"]}\n\
             {\"id\":\"1\",\"question\":\"Q\",\"spans\":[{\"doc_id\":\"d\",\"start\":0,\"end\":1}]}\n",
        );
        let qs = read(&p).unwrap();
        assert_eq!(qs.len(), 1);
        assert_eq!(qs[0].labels.len(), 4);
        assert_eq!(qs[0].labels[0], (1, RawLabel::Doc("d".into())));
    }

    #[test]
    fn bad_rows_name_the_line_and_what_was_expected() {
        let (_d, p) = write("q.csv", "question,answers\nQ,x\n");
        let e = read(&p).unwrap_err().to_string();
        assert!(
            e.contains("q.csv:1: unknown column \"answers\"; expected some of id, question"),
            "{e}"
        );
        let (_d, p) = write("q.csv", "question,spans\nQ,[1]\n");
        let e = read(&p).unwrap_err().to_string();
        assert!(
            e.contains("q.csv:2: column `spans`: expected a JSON list"),
            "{e}"
        );
        let (_d, p) = write(
            "q.jsonl",
            "{\"id\":\"q1\",\"question\":\"a\",\"doc_ids\":[\"d\"]}\n{\"id\":\"q1\",\"question\":\"b\",\"doc_ids\":[\"d\"]}\n",
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(
            e.contains("q.jsonl:2: question id \"q1\" appears twice"),
            "{e}"
        );
        let (_d, p) = write("q.jsonl", "{\"question\":\"a\",\"answer\":3}\n");
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("expected a string or a list of strings"), "{e}");
    }
}
