use std::path::PathBuf;

/// Store failures. A damaged entry is not one: it is counted, removed and recomputed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A new folder entry could not be moved into place, and no other writer's entry
    /// stands there.
    #[error("{}: could not move the new store entry into place", path.display())]
    Placement {
        /// The entry's folder.
        path: PathBuf,
    },
    /// Embedding failed while filling the cache.
    #[error("embedding with {model}: {failure}")]
    Embedding {
        /// The model (or its namespace).
        model: String,
        /// What failed.
        failure: ragtune_core::EmbedFailure,
    },
}

impl StoreError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn embedding(model: &str, failure: ragtune_core::EmbedFailure) -> Self {
        Self::Embedding {
            model: model.to_string(),
            failure,
        }
    }
    /// True where the environment or the user's input is at fault (a full disk, a
    /// read-only folder): exit code 2. Embedding failures are internal.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Self::Embedding { .. })
    }
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
