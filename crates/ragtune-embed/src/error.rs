use std::path::PathBuf;

/// Embedding failures.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model folder or one of its files is missing or malformed.
    #[error("model {path}: {message}")]
    Model {
        /// The model folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// ONNX Runtime could not be loaded or failed.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The tokenizer failed.
    #[error("tokenizer {path}: {message}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Whoever received the vectors refused them (a store that could not write).
    #[error("{0}")]
    Refused(String),
    /// CUDA was asked of a build without it.
    #[error(
        "--device cuda: this ragtune was built without CUDA support; rebuild with `cargo build --release --features cuda` (no silent fallback to CPU)"
    )]
    CudaNotBuilt,
}

/// Result alias.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;

pub(crate) fn rt(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Runtime(e.to_string())
}
