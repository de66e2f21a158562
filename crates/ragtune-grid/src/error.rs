use std::path::PathBuf;

/// A grid file that cannot be used. Every variant names the file, and where there is
/// one, the line and column.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// The grid file is not valid TOML, or has unknown or ill-typed keys.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// Grid file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is impossible (checked before any work starts).
    #[error("{}:{line}:{column}: `{field}`: {message}", path.display())]
    Value {
        /// Grid file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The key.
        field: String,
        /// What was expected.
        message: String,
    },
    /// The grid file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Result alias.
pub type Result<T, E = GridError> = std::result::Result<T, E>;
