use std::path::PathBuf;

/// Why judging could not start or a judgement could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// Opening the run or its rankings failed.
    #[error(transparent)]
    Sweep(#[from] ragtune_sweep::SweepError),
    /// The judgements file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A line of the judgements file is not one `ragtune judge` can read back.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What was expected.
        message: String,
    },
    /// A judgement that does not fit the pool (an unknown question, a chunk not pooled
    /// for it, a selection outside the chunk).
    #[error("{0}")]
    Invalid(String),
}

/// Shorthand.
pub type Result<T, E = JudgeError> = std::result::Result<T, E>;

impl JudgeError {
    /// Whether the user can fix it (a run, a file or a value), as opposed to a fault.
    pub fn is_user_error(&self) -> bool {
        match self {
            JudgeError::Sweep(s) => s.is_user_error(),
            JudgeError::Io { .. } | JudgeError::Parse { .. } | JudgeError::Invalid(_) => true,
        }
    }
}
