//! Sentence embeddings from ONNX models through ort: the [`Embedder`] (defined in
//! ragtune-core, apart from any runtime) that the sweep and serving use with real models.
//!
//! - Runtime: ort with `load-dynamic`; the library is `ORT_DYLIB_PATH` or
//!   `<models>/onnxruntime/libonnxruntime.so` (`<models>/onnxruntime-cuda/` for CUDA).
//! - Tokenization: tokenizers, offline, truncated at the model's `max_tokens` (special
//!   tokens included); batches are sorted by length and padded only as far as they need.
//! - Pooling: mean over the attention mask (or [CLS]), then L2 normalisation.
//! - Device: CPU by default; CUDA with the `cuda` feature. A build without it refuses
//!   CUDA instead of falling back.
//! - Batches: a budget of padded tokens (256 by default on CPU), a fixed number of texts,
//!   or `auto`, the size past which throughput stops rising (the default on CUDA); on
//!   CPU, several sessions run batches side by side.
#![deny(missing_docs)]

mod batch;
mod cross;
mod error;
mod model;
mod onnx;

pub use batch::{
    AUTO_CANDIDATES, AUTO_GAIN, BatchSize, CPU_BATCH_TOKENS, pick_batch, token_batches,
};
pub use cross::OnnxCrossEncoder;
pub use error::{EmbedError, Result};
pub use model::{ModelIdentity, ModelKind, ModelSpec, Pooling, resolve_model};
pub use onnx::{EmbedOptions, OnnxEmbedder, runtime_library};
pub use ragtune_core::{Batching, EmbedFailure, EmbedOutput, Embedder};
use serde::{Deserialize, Serialize};

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// CPU execution provider.
    #[default]
    Cpu,
    /// CUDA execution provider (needs the `cuda` feature).
    Cuda,
}
