//! Read corpora and labelled questions into a [`ragtune_core::Corpus`].
//!
//! Formats ([`CorpusFormat`]):
//! - `dir`: a folder of `.txt`/`.md` files; a document's id is its relative path.
//!   Questions come from a JSONL file (see below).
//! - `jsonl`: one `{"id", "title"?, "text"}` object per line; questions from a JSONL file.
//! - `beir`: `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`; queries without a
//!   positive qrel are dropped, as BEIR's evaluation does.
//! - `squad`: SQuAD v1.1 JSON. Each article is a document whose paragraphs are joined by
//!   [`SQUAD_SEPARATOR`]; each answer becomes a gold span in the article.
//! - `chroma`: Chroma's chunking-evaluation layout, `corpora/*.md` plus `questions_df.csv`.
//!
//! Question JSONL: `{"id", "question", "doc_ids": [...]?, "spans": [{"doc_id", "start", "end", "text"?}]?}`.
//!
//! Offsets in every external format count Unicode code points, end exclusive. They are
//! converted to byte offsets once, here, and every label that carries its text is checked
//! against the document: a mismatch is an error listing the first mismatches.
#![deny(missing_docs)]

mod error;
mod formats;
mod labels;

use std::path::{Path, PathBuf};

pub use error::{CorpusError, Result};
pub use formats::SQUAD_SEPARATOR;
use ragtune_core::Corpus;
use serde::{Deserialize, Serialize};

/// The on-disk layout of a corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CorpusFormat {
    /// A folder of `.txt`/`.md` files.
    Dir,
    /// One JSON document per line.
    Jsonl,
    /// BEIR's corpus/queries/qrels layout.
    Beir,
    /// SQuAD v1.1 JSON.
    Squad,
    /// Chroma's chunking-evaluation layout.
    Chroma,
}

/// Where a corpus is and how to read it: the `[corpus]` table of a grid file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusSpec {
    /// The format.
    pub format: CorpusFormat,
    /// The folder or file.
    pub path: PathBuf,
    /// Questions JSONL (`dir` and `jsonl` formats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<PathBuf>,
    /// BEIR split: which `qrels/<split>.tsv` to read (default `test`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Keep only these document ids, and the questions whose labels all lie in them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    /// Keep only the first N questions (after `include`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_questions: Option<usize>,
}

impl CorpusSpec {
    /// Resolve relative paths against `base` (the grid file's folder).
    pub fn resolved(&self, base: &Path) -> CorpusSpec {
        let abs = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        CorpusSpec {
            path: abs(&self.path),
            questions: self.questions.as_deref().map(abs),
            ..self.clone()
        }
    }
}

/// Load the corpus and its questions.
pub fn load(spec: &CorpusSpec) -> Result<Corpus> {
    let mut corpus = match spec.format {
        CorpusFormat::Dir => formats::load_dir(&spec.path, require_questions(spec)?)?,
        CorpusFormat::Jsonl => formats::load_jsonl(&spec.path, require_questions(spec)?)?,
        CorpusFormat::Beir => {
            formats::load_beir(&spec.path, spec.split.as_deref().unwrap_or("test"))?
        }
        CorpusFormat::Squad => formats::load_squad(&spec.path)?,
        CorpusFormat::Chroma => formats::load_chroma(&spec.path)?,
    };
    if let Some(include) = &spec.include {
        corpus = labels::restrict(corpus, include, &spec.path)?;
    }
    if let Some(n) = spec.max_questions {
        corpus.questions.truncate(n);
    }
    check_unique_question_ids(&corpus, spec)?;
    if corpus.questions.is_empty() {
        return Err(CorpusError::Missing {
            path: spec.path.clone(),
            what: "no labelled questions were found".into(),
        });
    }
    Ok(corpus)
}

/// Every question id once, whatever the format (BEIR queries, SQuAD ids, …).
fn check_unique_question_ids(corpus: &Corpus, spec: &CorpusSpec) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for q in &corpus.questions {
        if !seen.insert(q.id.as_str()) {
            return Err(CorpusError::Invalid {
                path: spec.questions.clone().unwrap_or_else(|| spec.path.clone()),
                message: format!("question id {:?} appears twice; ids must be unique", q.id),
            });
        }
    }
    Ok(())
}

fn require_questions(spec: &CorpusSpec) -> Result<&Path> {
    spec.questions
        .as_deref()
        .ok_or_else(|| CorpusError::Missing {
            path: spec.path.clone(),
            what: format!(
                "the {:?} format needs `questions = \"<file>.jsonl\"` in [corpus]",
                spec.format
            )
            .to_lowercase(),
        })
}
