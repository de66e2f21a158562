//! Where a sweep gets its embedders: ONNX models from a models folder, or deterministic
//! fakes for tests. A model is identified (hashed) without being loaded, so that a plan
//! can be keyed and checked against the store before any session starts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ragtune_core::{Embedder, FakeEmbedder, FakePairScorer, PairScorer};
pub use ragtune_embed::ModelKind;
use ragtune_embed::{EmbedOptions, OnnxCrossEncoder, OnnxEmbedder, resolve_model};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A model as used by a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// Name in the grid.
    pub name: String,
    /// Folder.
    pub dir: PathBuf,
    /// sha256 of model.onnx.
    pub sha256: String,
    /// Dimension, when declared or once loaded.
    pub dim: Option<usize>,
    /// Truncation limit.
    pub max_tokens: usize,
    /// Position slots, where the model folder declares them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_positions: Option<usize>,
    /// An embedding model (absent) or a cross-encoder.
    #[serde(default, skip_serializing_if = "is_embedding")]
    pub kind: ModelKind,
}

fn is_embedding(k: &ModelKind) -> bool {
    *k == ModelKind::Embedding
}

/// What identifies a model, known without loading it.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// Cache namespace: changes whenever the vectors could.
    pub namespace: String,
    /// For the manifest.
    pub record: ModelRecord,
    /// The model's tokenizer.json, if it has one.
    pub tokenizer: Option<PathBuf>,
}

/// A source of embedders.
pub trait Models: Sync {
    /// Identify model `name` (as the grid spells it) without loading it.
    fn info(&self, name: &str) -> Result<ModelInfo>;
    /// Load model `name` for embedding (once; later calls share it).
    fn load(&self, name: &str) -> Result<Arc<dyn Embedder>>;
    /// Load cross-encoder `name` (once; later calls share it).
    fn load_cross(&self, name: &str) -> Result<Arc<dyn PairScorer>>;
}

/// ONNX models from a models folder (or model folders named by path).
pub struct OnnxModels {
    opts: EmbedOptions,
    loaded: Mutex<HashMap<String, Arc<dyn Embedder>>>,
    cross: Mutex<HashMap<String, Arc<dyn PairScorer>>>,
}

impl OnnxModels {
    /// Models under `opts.models_dir`, run as `opts` says.
    pub fn new(opts: EmbedOptions) -> Self {
        Self {
            opts,
            loaded: Mutex::new(HashMap::new()),
            cross: Mutex::new(HashMap::new()),
        }
    }
}

impl Models for OnnxModels {
    fn info(&self, name: &str) -> Result<ModelInfo> {
        let spec = resolve_model(name, &self.opts.models_dir)?;
        let id = spec.identity()?;
        Ok(ModelInfo {
            namespace: id.namespace,
            tokenizer: Some(spec.tokenizer_path()),
            record: ModelRecord {
                name: spec.name.clone(),
                dir: spec.dir.clone(),
                sha256: id.sha256,
                dim: spec.dim,
                max_tokens: spec.max_tokens,
                max_positions: spec.max_positions,
                kind: spec.kind,
            },
        })
    }

    fn load_cross(&self, name: &str) -> Result<Arc<dyn PairScorer>> {
        let mut loaded = self.cross.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = loaded.get(name) {
            return Ok(e.clone());
        }
        let spec = resolve_model(name, &self.opts.models_dir)?;
        let e: Arc<dyn PairScorer> = Arc::new(OnnxCrossEncoder::load(&spec, &self.opts)?);
        loaded.insert(name.to_string(), e.clone());
        Ok(e)
    }

    fn load(&self, name: &str) -> Result<Arc<dyn Embedder>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = loaded.get(name) {
            return Ok(e.clone());
        }
        let spec = resolve_model(name, &self.opts.models_dir)?;
        let e: Arc<dyn Embedder> = Arc::new(OnnxEmbedder::load(&spec, &self.opts)?);
        loaded.insert(name.to_string(), e.clone());
        Ok(e)
    }
}

/// Deterministic [`FakeEmbedder`]s of one dimension, any name, and [`FakePairScorer`]
/// cross-encoders for names starting `ce-`: for tests that must run without models.
/// Names starting `e5-` declare the prefixes `query: ` and `passage: `.
#[derive(Debug, Clone, Copy)]
pub struct FakeModels {
    /// Vector dimension.
    pub dim: usize,
}

impl Models for FakeModels {
    fn info(&self, name: &str) -> Result<ModelInfo> {
        let e = FakeEmbedder::new(name, self.dim);
        Ok(ModelInfo {
            namespace: e.namespace().to_string(),
            tokenizer: None,
            record: ModelRecord {
                name: name.to_string(),
                dir: PathBuf::new(),
                sha256: String::new(),
                dim: Some(self.dim),
                max_tokens: e.max_words,
                max_positions: None,
                kind: if name.starts_with("ce-") {
                    ModelKind::CrossEncoder
                } else {
                    ModelKind::Embedding
                },
            },
        })
    }

    fn load_cross(&self, name: &str) -> Result<Arc<dyn PairScorer>> {
        Ok(Arc::new(FakePairScorer::new(name)))
    }

    fn load(&self, name: &str) -> Result<Arc<dyn Embedder>> {
        let mut e = FakeEmbedder::new(name, self.dim);
        if name.starts_with("e5-") {
            e.prefixes = ("query: ".into(), "passage: ".into());
        }
        Ok(Arc::new(e))
    }
}
