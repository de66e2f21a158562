use std::path::PathBuf;

/// Why a corpus or its questions could not be loaded. Every variant names the file, and
/// where it makes sense the line (1-based) and the field.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line or value did not parse, or a field had the wrong shape.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when the format has no lines, like one JSON document).
        line: usize,
        /// What was expected.
        message: String,
    },
    /// The input breaks a rule that no single line shows (a repeated id, say).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Something the format needs is absent.
    #[error("{}: {what}", path.display())]
    Missing {
        /// Where it was expected.
        path: PathBuf,
        /// What is missing.
        what: String,
    },
    /// A document that could not be read: damaged, encrypted, empty, not UTF-8, or a
    /// format the loader cannot extract.
    #[error("{}: {message}", path.display())]
    Document {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Labels whose text does not match the document at their offsets.
    #[error("{}: {count} of {total} labels do not match the document text at their offsets (offsets count Unicode code points; a label's `text` must equal the document's text there); first mismatches:\n{}", path.display(), examples.join("\n"))]
    LabelMismatch {
        /// The labels file.
        path: PathBuf,
        /// How many mismatched.
        count: usize,
        /// How many labels were checked.
        total: usize,
        /// The first few mismatches, one line each.
        examples: Vec<String>,
    },
}

impl CorpusError {
    pub(crate) fn parse(path: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        Self::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A JSON line's parse error, saying what a line must be.
pub(crate) fn json_line_error(e: &serde_json::Error) -> String {
    if e.is_data() {
        e.to_string()
    } else {
        format!("{e}; expected one JSON object per line")
    }
}

/// Result alias for this crate.
pub type Result<T, E = CorpusError> = std::result::Result<T, E>;
