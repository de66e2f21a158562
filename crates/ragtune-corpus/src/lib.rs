//! Read corpora and labelled questions into a [`ragtune_core::Corpus`].
//!
//! Formats ([`CorpusFormat`]):
//! - `dir`: a folder of `.txt`, `.md`, `.pdf`, `.html`/`.htm` and `.docx` files; a
//!   document's id is its relative path. PDF, HTML and Word files are read through an
//!   [`Extract`]or (ragtune-extract). The walk never opens anything but regular files and
//!   never enters a folder twice (symbolic-link loops); what it passes over is listed in
//!   [`Loaded::skipped`]. Questions come from a questions file (see below).
//! - `jsonl`: one `{"id", "title"?, "text"}` object per line; questions from a questions file.
//! - `beir`: `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`; queries without a
//!   positive qrel are dropped, as BEIR's evaluation does.
//! - `squad`: SQuAD v1.1 JSON. Each article is a document whose paragraphs are joined by
//!   [`SQUAD_SEPARATOR`]; each answer becomes a gold span in the article.
//! - `chroma`: Chroma's chunking-evaluation layout, `corpora/*.md` plus `questions_df.csv`.
//!
//! Questions files (`dir` and `jsonl` formats) are JSONL or CSV with a `question` and any
//! of `id`, `answer` (text quoted from the documents, located by [`locate`]), `source` (a
//! file name or document id), `doc_ids` and `spans`; rows that repeat a question add
//! labels to it (module `questions`). How each label resolved is in [`Loaded::labels`].
//!
//! Offsets in every external format count Unicode code points, end exclusive. They are
//! converted to byte offsets once, here, and every label that carries its text is checked
//! against the document: a mismatch is an error listing the first mismatches.
#![deny(missing_docs)]

mod documents;
mod error;
mod formats;
mod jsonl;
mod judgements;
mod labels;
pub mod locate;
mod questions;
mod resolve;

use std::path::{Path, PathBuf};

pub use documents::{
    DocKind, Extract, ExtractFailure, Extracted, NoExtract, OnError, SkipReason, Skipped,
};
pub use error::{CorpusError, Result};
pub use formats::SQUAD_SEPARATOR;
use ragtune_core::Corpus;
pub use resolve::{LabelReport, Resolution, Unresolved};
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
    /// `dir`: what to do with a file that cannot be read (`fail` or `skip`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub on_error: OnError,
    /// What to do with an answer not found in the documents (`fail` or `drop`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub unresolved: Unresolved,
    /// How the labels were made: `complete` (every relevant text is labelled) or `pooled`
    /// (only what a person judged is known). Default: per question, `pooled` where it has
    /// judged regions (a judgements file, or `judged` in the questions file), else
    /// `complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelsKind>,
    /// A judgements file (`ragtune judge` writes one): rows of labels a person added,
    /// merged into the questions by `id` (module `judgements`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgements: Option<PathBuf>,
}

/// How a corpus's labels were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelsKind {
    /// Every relevant text is labelled: whatever is not labelled is not relevant, and every
    /// retrieved chunk counts as judged.
    Complete,
    /// Labels from judging pooled results: a chunk outside the judged regions is unknown,
    /// and judged@k says how much of a ranking was judged.
    Pooled,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// How to load: the extractor for PDF, HTML and Word files, and the spec's policies.
pub struct LoadOptions<'a> {
    /// Reads PDF, HTML and Word files.
    pub extract: &'a dyn Extract,
    /// From the spec.
    pub on_error: OnError,
    /// From the spec.
    pub unresolved: Unresolved,
}

/// A loaded corpus with what loading passed over and how its labels resolved.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The documents and questions.
    pub corpus: Corpus,
    /// Files of a `dir` corpus that were not read.
    pub skipped: Vec<Skipped>,
    /// How each label of a questions file resolved (empty for the research formats).
    pub labels: Vec<LabelReport>,
}

impl CorpusSpec {
    /// A spec of `format` at `path`, everything else at its default.
    pub fn new(format: CorpusFormat, path: impl Into<PathBuf>) -> Self {
        CorpusSpec {
            format,
            path: path.into(),
            questions: None,
            split: None,
            include: None,
            max_questions: None,
            on_error: OnError::default(),
            unresolved: Unresolved::default(),
            labels: None,
            judgements: None,
        }
    }

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
            judgements: self.judgements.as_deref().map(abs),
            ..self.clone()
        }
    }
}

/// Load the corpus and its questions, without a document extractor (PDF, HTML and Word
/// files are errors).
pub fn load(spec: &CorpusSpec) -> Result<Corpus> {
    Ok(load_with(spec, &NoExtract)?.corpus)
}

/// Load the corpus and its questions, reading PDF, HTML and Word files with `extract`.
pub fn load_with(spec: &CorpusSpec, extract: &dyn Extract) -> Result<Loaded> {
    let opts = LoadOptions {
        extract,
        on_error: spec.on_error,
        unresolved: spec.unresolved,
    };
    let plain = |corpus| Loaded {
        corpus,
        ..Loaded::default()
    };
    let mut loaded = match spec.format {
        CorpusFormat::Dir => formats::load_dir(&spec.path, require_questions(spec)?, &opts)?,
        CorpusFormat::Jsonl => formats::load_jsonl(&spec.path, require_questions(spec)?, &opts)?,
        CorpusFormat::Beir => plain(formats::load_beir(
            &spec.path,
            spec.split.as_deref().unwrap_or("test"),
        )?),
        CorpusFormat::Squad => plain(formats::load_squad(&spec.path)?),
        CorpusFormat::Chroma => plain(formats::load_chroma(&spec.path)?),
    };
    if let Some(path) = &spec.judgements {
        judgements::merge(&mut loaded, path, spec.unresolved)?;
    }
    loaded.corpus = finish(std::mem::take(&mut loaded.corpus), spec)?;
    apply_labels_kind(&mut loaded.corpus, spec.labels);
    Ok(loaded)
}

/// Complete labels judge everything (`judged: None`); pooled labels judge their regions
/// and every gold span. Unless the spec says which, a question's labels are pooled when it
/// has judged regions (a judgements file, or `judged` in the questions file) and complete
/// otherwise: judging some questions leaves the others' labels as they were.
fn apply_labels_kind(corpus: &mut Corpus, kind: Option<LabelsKind>) {
    for q in &mut corpus.questions {
        let pooled = match kind {
            Some(LabelsKind::Complete) => false,
            Some(LabelsKind::Pooled) => true,
            None => q.judged.is_some(),
        };
        q.judged = if pooled {
            let mut regions = q.judged.take().unwrap_or_default();
            regions.extend(q.all_spans().copied());
            regions.sort_unstable();
            regions.dedup();
            Some(regions)
        } else {
            None
        };
    }
}

/// How the loaded corpus's labels were made.
pub fn labels_kind(corpus: &Corpus) -> LabelsKind {
    if corpus.questions.iter().any(|q| q.judged.is_some()) {
        LabelsKind::Pooled
    } else {
        LabelsKind::Complete
    }
}

fn finish(mut corpus: Corpus, spec: &CorpusSpec) -> Result<Corpus> {
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
            what: "no questions were found".into(),
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
