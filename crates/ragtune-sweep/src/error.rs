use std::path::PathBuf;

/// Sweep failures. User mistakes (grid, corpus, model) carry the file and, where there is
/// one, the line and column.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The grid file cannot be used.
    #[error(transparent)]
    Grid(#[from] ragtune_grid::GridError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The stage store failed (not a damaged entry: those are recomputed).
    #[error(transparent)]
    Store(#[from] ragtune_store::StoreError),
    /// Loading the corpus failed.
    #[error(transparent)]
    Corpus(#[from] ragtune_corpus::CorpusError),
    /// Loading the corpus a grid file names failed.
    #[error("{}: [corpus]: {source}", grid.display())]
    GridCorpus {
        /// The grid file.
        grid: PathBuf,
        /// The cause, which names the corpus file.
        source: ragtune_corpus::CorpusError,
    },
    /// Chunking failed.
    #[error(transparent)]
    Chunk(#[from] ragtune_chunk::ChunkError),
    /// BM25 failed.
    #[error(transparent)]
    Lexical(#[from] ragtune_lexical::LexicalError),
    /// Vector search failed.
    #[error(transparent)]
    Vector(#[from] ragtune_vector::VectorError),
    /// A model could not be used.
    #[error(transparent)]
    Embed(#[from] ragtune_embed::EmbedError),
    /// Embedding failed while running.
    #[error("embedding with {model}: {failure}")]
    Embedding {
        /// The model (or its namespace).
        model: String,
        /// What failed.
        failure: ragtune_core::EmbedFailure,
    },
    /// Retrieval failed.
    #[error(transparent)]
    Retrieve(#[from] ragtune_retrieve::RetrieveError),
    /// A run folder is not what was expected.
    #[error("{}: {message}", path.display())]
    Run {
        /// The run folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl SweepError {
    pub(crate) fn embedding(model: &str, failure: ragtune_core::EmbedFailure) -> Self {
        Self::Embedding {
            model: model.to_string(),
            failure,
        }
    }
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    /// True for mistakes in the user's input (exit code 2), false for internal failures.
    pub fn is_user_error(&self) -> bool {
        // A full disk or a file-size limit is the environment, not a bug: exit 2.
        match self {
            Self::Lexical(e) => return e.is_io(),
            Self::Store(e) => return e.is_user_error(),
            _ => {}
        }
        !matches!(
            self,
            Self::Lexical(_) | Self::Vector(_) | Self::Retrieve(_) | Self::Embedding { .. }
        )
    }
}

/// Result alias.
pub type Result<T, E = SweepError> = std::result::Result<T, E>;
