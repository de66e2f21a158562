//! Model folders: `model.onnx`, `tokenizer.json` and an optional `model.toml`.

use std::path::{Path, PathBuf};

use ragtune_core::{ContentHasher, sha256_hex};
use serde::{Deserialize, Serialize};

use crate::error::{EmbedError, Result};

/// How token vectors become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over the attention mask (sentence-transformers' default).
    Mean,
    /// The first ([CLS]) token.
    Cls,
}

/// What a model folder holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A sentence-embedding model: token vectors, pooled.
    #[default]
    Embedding,
    /// A cross-encoder: one relevance logit per (query, text) pair.
    CrossEncoder,
}

impl ModelKind {
    /// As model.toml spells it.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Embedding => "embedding",
            ModelKind::CrossEncoder => "cross-encoder",
        }
    }
}

/// `model.toml`: every field optional except where the model cannot be understood without it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelToml {
    #[serde(default)]
    kind: Option<ModelKind>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    dim: Option<usize>,
    #[serde(default)]
    max_tokens: Option<usize>,
    #[serde(default)]
    max_positions: Option<usize>,
    #[serde(default)]
    pooling: Option<Pooling>,
    #[serde(default)]
    normalize: Option<bool>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    query_prefix: Option<String>,
    #[serde(default)]
    passage_prefix: Option<String>,
}

/// What identifies a model's vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    /// sha256 of model.onnx.
    pub sha256: String,
    /// Cache namespace.
    pub namespace: String,
}

/// A resolved embedding model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    /// Name (registry name or folder name).
    pub name: String,
    /// An embedding model or a cross-encoder (`kind` in model.toml).
    pub kind: ModelKind,
    /// The folder.
    pub dir: PathBuf,
    /// Expected dimension, if declared (checked against the first output).
    pub dim: Option<usize>,
    /// Truncation limit, special tokens included.
    pub max_tokens: usize,
    /// The model's position slots (the longest input it can take at all), if declared:
    /// what bounds a late-chunking window.
    pub max_positions: Option<usize>,
    /// Pooling.
    pub pooling: Pooling,
    /// Whether vectors are L2-normalised (required for cosine by dot product).
    pub normalize: bool,
    /// Name of the token-level output; `None` picks the only float32 rank-3 output.
    pub output: Option<String>,
    /// Declared sha256 of model.onnx, if any (checked when the model loads).
    pub sha256: Option<String>,
    /// Put in front of every query before it is embedded (e5: `"query: "`).
    pub query_prefix: String,
    /// Put in front of every chunk or document before it is embedded (e5: `"passage: "`).
    pub passage_prefix: String,
}

impl ModelSpec {
    /// The model's identity from its files alone, without loading it: sha256 of
    /// model.onnx, and the cache namespace, which changes whenever the vectors could
    /// (weights, tokenizer, pooling, maximum tokens, normalisation, output).
    pub fn identity(&self) -> Result<ModelIdentity> {
        let onnx = self.onnx_path();
        let bytes = std::fs::read(&onnx).map_err(|e| EmbedError::Model {
            path: onnx.clone(),
            message: e.to_string(),
        })?;
        let sha256 = sha256_hex(&bytes);
        drop(bytes);
        if let Some(want) = &self.sha256
            && !want.eq_ignore_ascii_case(&sha256)
        {
            return Err(EmbedError::Model {
                path: onnx,
                message: format!(
                    "sha256 is {sha256}, but model.toml declares {want}; re-run models/fetch.sh"
                ),
            });
        }
        let tok = self.tokenizer_path();
        let tokenizer = std::fs::read(&tok).map_err(|e| EmbedError::Tokenizer {
            path: tok.clone(),
            message: e.to_string(),
        })?;
        let mut ns = ContentHasher::new();
        // v3: CPU sessions run without the SkipLayerNormalization fusion, which moves
        // vectors in their last bits.
        ns.field(b"ragtune-embedding-v3")
            .field(&sha256)
            .field(format!("{:?}", self.pooling))
            .field(self.max_tokens.to_le_bytes())
            .field([self.normalize as u8])
            .field(self.output.as_deref().unwrap_or(""))
            .field(tokenizer);
        // Prefixes change the texts embedded, so the vectors; namespaces without them are
        // what they were before prefixes existed.
        if !(self.query_prefix.is_empty() && self.passage_prefix.is_empty()) {
            ns.field(&self.query_prefix).field(&self.passage_prefix);
        }
        Ok(ModelIdentity {
            sha256,
            namespace: ns.finish_hex()[..32].to_string(),
        })
    }

    /// The model's tokenizer, truncating at `max_tokens`, without padding.
    pub fn tokenizer(&self) -> Result<tokenizers::Tokenizer> {
        let path = self.tokenizer_path();
        let err = |e: &dyn std::fmt::Display| EmbedError::Tokenizer {
            path: path.clone(),
            message: e.to_string(),
        };
        let mut tokenizer = tokenizers::Tokenizer::from_file(&path).map_err(|e| err(&e))?;
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: self.max_tokens,
                ..Default::default()
            }))
            .map_err(|e| err(&e))?;
        tokenizer.with_padding(None);
        Ok(tokenizer)
    }

    /// `model.onnx`.
    pub fn onnx_path(&self) -> PathBuf {
        self.dir.join("model.onnx")
    }
    /// `tokenizer.json`.
    pub fn tokenizer_path(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }
}

/// Resolve `name_or_path`: an existing folder is used as is; otherwise it names a folder in
/// `models_dir`.
pub fn resolve_model(name_or_path: &str, models_dir: &Path) -> Result<ModelSpec> {
    let direct = PathBuf::from(name_or_path);
    let dir = if direct.is_dir() {
        direct
    } else {
        models_dir.join(name_or_path)
    };
    if !dir.is_dir() {
        return Err(EmbedError::Model {
            path: dir,
            message: format!(
                "no such model folder; `{name_or_path}` is neither a folder nor a model in {} (run models/fetch.sh to provision the bundled models)",
                models_dir.display()
            ),
        });
    }
    for f in ["model.onnx", "tokenizer.json"] {
        if !dir.join(f).is_file() {
            return Err(EmbedError::Model {
                path: dir.join(f),
                message: "missing (run models/fetch.sh for the bundled models)".into(),
            });
        }
    }
    let toml_path = dir.join("model.toml");
    let meta: ModelToml = if toml_path.is_file() {
        let text = std::fs::read_to_string(&toml_path).map_err(|e| EmbedError::Model {
            path: toml_path.clone(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| EmbedError::Model {
            path: toml_path.clone(),
            message: e.to_string(),
        })?
    } else {
        ModelToml {
            kind: None,
            name: None,
            dim: None,
            max_tokens: None,
            max_positions: None,
            pooling: None,
            normalize: None,
            output: None,
            sha256: None,
            query_prefix: None,
            passage_prefix: None,
        }
    };
    let name = meta.name.unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name_or_path.into())
    });
    Ok(ModelSpec {
        name,
        kind: meta.kind.unwrap_or_default(),
        dir,
        dim: meta.dim,
        // Cross-encoders read a query and a passage together: sentence-transformers'
        // CrossEncoder truncates pairs at 512.
        max_tokens: meta
            .max_tokens
            .unwrap_or(match meta.kind.unwrap_or_default() {
                ModelKind::Embedding => 256,
                ModelKind::CrossEncoder => 512,
            }),
        max_positions: meta.max_positions,
        pooling: meta.pooling.unwrap_or(Pooling::Mean),
        normalize: meta.normalize.unwrap_or(true),
        output: meta.output,
        sha256: meta.sha256,
        query_prefix: meta.query_prefix.unwrap_or_default(),
        passage_prefix: meta.passage_prefix.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_with_defaults_and_errors() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("mine");
        std::fs::create_dir(&m).unwrap();
        let err = resolve_model(m.to_str().unwrap(), d.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("model.onnx") && err.contains("missing"),
            "{err}"
        );
        std::fs::write(m.join("model.onnx"), b"x").unwrap();
        std::fs::write(m.join("tokenizer.json"), b"{}").unwrap();
        let spec = resolve_model("mine", d.path()).unwrap();
        assert_eq!(
            (
                spec.name.as_str(),
                spec.max_tokens,
                spec.pooling,
                spec.normalize
            ),
            ("mine", 256, Pooling::Mean, true)
        );
        std::fs::write(m.join("model.toml"), "max_tokens = 128\npoolin = \"cls\"\n").unwrap();
        let err = resolve_model("mine", d.path()).unwrap_err().to_string();
        assert!(
            err.contains("unknown field `poolin`") && err.contains("line 2"),
            "{err}"
        );
        assert!(
            resolve_model("nope", d.path())
                .unwrap_err()
                .to_string()
                .contains("no such model")
        );
        // Prefixes are read, and enter the namespace only when declared.
        std::fs::remove_file(m.join("model.toml")).unwrap();
        let bare = resolve_model("mine", d.path()).unwrap();
        assert_eq!(
            (bare.query_prefix.as_str(), bare.passage_prefix.as_str()),
            ("", "")
        );
        std::fs::write(
            m.join("model.toml"),
            "query_prefix = \"query: \"\npassage_prefix = \"passage: \"\n",
        )
        .unwrap();
        let e5 = resolve_model("mine", d.path()).unwrap();
        assert_eq!(
            (e5.query_prefix.as_str(), e5.passage_prefix.as_str()),
            ("query: ", "passage: ")
        );
        let (a, b) = (bare.identity().unwrap(), e5.identity().unwrap());
        assert_eq!(a.sha256, b.sha256);
        assert_ne!(a.namespace, b.namespace, "prefixes change the vectors");
        let mut again = bare.clone();
        again.query_prefix = String::new();
        assert_eq!(again.identity().unwrap().namespace, a.namespace);
    }
}
