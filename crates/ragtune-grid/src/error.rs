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
    /// The grid expands to more setups than the limit (`--max-points`).
    #[error("{}: the grid has {} distinct setups ({factors}), more than the limit of {limit}; narrow its lists, or raise the limit with --max-points (a [search] then explores it without scoring every setup: docs/grid.md)", path.display(), count_text(*count))]
    TooLarge {
        /// Grid file.
        path: PathBuf,
        /// Distinct setups (saturating at `u64::MAX`).
        count: u64,
        /// The dimensions that multiply it, in words.
        factors: String,
        /// The limit.
        limit: u64,
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

/// `n` with thousands separated, or "more than 18 quintillion" when it saturated.
pub(crate) fn count_text(n: u64) -> String {
    if n == u64::MAX {
        return "more than 18 quintillion".into();
    }
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Result alias.
pub type Result<T, E = GridError> = std::result::Result<T, E>;
